"""Progress (``rom.progress``: context-local, no-op by default, tqdm only in the CLI) and the
run records, pictures and TOML printing of ``mpi_drivers.report``."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import threading
import tomllib
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from rom import progress

ROOT = Path(__file__).resolve().parents[1]


def cube_problem(n_steps: int = 4):
    from examples.cube import make_cube_problem

    return make_cube_problem(2, n_cycles=1, steps_per_cycle=n_steps)


# ================================================================ rom.progress
def test_without_a_reporter_advance_does_nothing():
    assert not progress.active()
    progress.advance("nobody listens", 1, 2)                       # no error, nothing to see


def test_reporting_installs_a_reporter_for_a_block_and_restores_the_previous():
    outer, inner = [], []
    with progress.reporting(lambda *event: outer.append(event)):
        progress.advance("a", 1, 3, detail="first")
        with progress.reporting(lambda *event: inner.append(event)):
            progress.advance("b", 2, None)
        with progress.reporting(None):                            # silenced
            progress.advance("c", 1, 1)
        progress.advance("a", 2, 3)
    progress.advance("a", 3, 3)
    assert outer == [("a", 1, 3, "first"), ("a", 2, 3, None)] and inner == [("b", 2, None, None)]


def test_a_failing_reporter_is_removed_and_the_work_goes_on(caplog):
    calls = []

    def broken(*event):
        calls.append(event)
        raise RuntimeError("terminal gone")

    with progress.reporting(broken):
        progress.advance("x", 1, 2)
        progress.advance("x", 2, 2)                                # not called again
    assert len(calls) == 1 and "progress display disabled" in caplog.text


def test_the_reporter_is_local_to_its_context():
    seen = []
    with progress.reporting(lambda *event: seen.append(event)):
        thread = threading.Thread(target=progress.advance, args=("other thread", 1, 1))
        thread.start()
        thread.join()
        progress.advance("this thread", 1, 1)
    assert [event[0] for event in seen] == ["this thread"]


def test_task_counts_its_steps():
    seen = []
    with progress.reporting(lambda *event: seen.append(event)), progress.task("models", 3) as step:
        step()
        step(detail="second")
        step(3)
    assert seen == [("models", 1, 3, None), ("models", 2, 3, "second"), ("models", 3, 3, None)]


def test_the_stages_report_their_progress(tmp_path):
    """HF steps, offline phases and POD blocks, online steps, enrichments."""
    from rom.adaptive import Enrichment
    from rom.hifi import solve
    from rom.offline import build

    problem = cube_problem()
    seen = []
    with progress.reporting(lambda task, done, total, detail: seen.append((task, done, total, detail))):
        solve(problem, output=tmp_path / "train.h5", linear_solver="scipy")
        model = build({"training": [str(tmp_path / "train.h5")], "problem": problem,
                       "pod": {n: {"tol": 1e-6} for n in ("U", "evrcum", "evri", "al1", "sig")}})
        import dataclasses

        from io_adapters.problem import Pressure

        harder = dataclasses.replace(problem, pressures=(Pressure("zmax", -90.0, "cycle"),))
        result = model.solve(harder, adaptive=Enrichment(tol=1e-6))
    tasks = {}
    for task, done, total, detail in seen:
        tasks.setdefault(task, []).append((done, total, detail))
    assert [d for d, _, _ in tasks["HF steps"]] == [1, 2, 3, 4] and {t for _, t, _ in tasks["HF steps"]} == {4}
    assert tasks["online steps"][-1][:2] == (4, 4)
    phases = tasks["offline phases"]
    assert [d for d, _, _ in phases] == list(range(1, 8)) and phases[-1][1] == 7
    assert [detail for _, _, detail in phases] == ["POD U", "evrcum", "evri", "al1", "sig", "ECM", "operators"]
    assert tasks["POD U: Gram blocks"][-1][0] == tasks["POD U: Gram blocks"][-1][1]
    assert len(result.enrichments) >= 1 and len(tasks["enrichments"]) == len(result.enrichments)
    assert tasks["enrichments"][0][1] is None                                 # a count, no total


# ================================================================ the CLI's display
def test_the_tqdm_reporter_draws_restarts_and_closes_bars():
    from mpi_drivers.cli import TqdmReporter

    stream = io.StringIO()
    reporter = TqdmReporter(stream)
    reporter("HF steps", 1, 3, None)
    reporter("HF steps", 2, 3, "t=2")
    assert "HF steps" in stream.getvalue() and "2/3" in stream.getvalue()
    reporter("HF steps", 1, 3, None)                                       # a second solve: a new bar
    assert reporter.bars["HF steps"].n == 1
    reporter("HF steps", 3, 3, None)                                       # done: closed
    reporter("enrichments", 2, None, "step 4")
    assert "HF steps" not in reporter.bars and "enrichments" in reporter.bars
    reporter.close()
    assert not reporter.bars


def test_progress_bars_show_off_a_terminal_only_when_asked(tmp_path):
    (tmp_path / "problem.toml").write_text((ROOT / "examples" / "cube" / "problem.toml").read_text()
                                           .replace('"cube4', f'"{ROOT}/examples/cube/cube4')
                                           .replace("cycles = 2", "cycles = 1").replace("[5, 5]", "[2, 2]"))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "mpi_drivers.cli", "hifi", "problem.toml", "-o", "run.h5"]
    plain = subprocess.run(command + ["-q"], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
    shown = subprocess.run(command + ["-q", "--progress"], cwd=tmp_path, capture_output=True, text=True, env=env,
                           timeout=300)
    assert plain.returncode == shown.returncode == 0, plain.stderr + shown.stderr
    assert "HF steps" not in plain.stderr and plain.stdout == ""
    assert "HF steps" in shown.stderr and "4/4" in shown.stderr


# ================================================================ records
def test_checksums_hash_files_and_folders_and_use_a_stat_cache(tmp_path):
    from mpi_drivers.report import _stat_key, checksums

    a = tmp_path / "a.bin"
    a.write_bytes(b"nirom" * 1000)
    folder = tmp_path / "run.bp"
    folder.mkdir()
    (folder / "data.0").write_bytes(b"x")
    digests = checksums([a, folder, a, None])
    assert list(digests) == [str(a), str(folder)]
    assert digests[str(a)] == hashlib.sha256(a.read_bytes()).hexdigest() and len(digests[str(folder)]) == 64
    cache = tmp_path / "cache.json"
    cache.write_text(json.dumps({str(a.resolve()): {"stat": _stat_key(a.resolve()), "sha256": "from-the-cache"}}))
    assert checksums([a], cache=cache)[str(a)] == "from-the-cache"
    a.write_bytes(b"changed")                                      # its stat changes: hashed again
    assert checksums([a], cache=cache)[str(a)] == hashlib.sha256(b"changed").hexdigest()
    assert checksums([tmp_path / "missing"])[str(tmp_path / "missing")].startswith("unreadable")


def test_the_run_record_is_written_atomically_beside_the_output(tmp_path):
    from mpi_drivers.report import record_path, write_run_record

    output = tmp_path / "rom.h5"
    output.write_bytes(b"model")
    (tmp_path / "c.toml").write_text("x = 1\n")
    path = write_run_record(output, command="offline", configuration={"ecm": {"tol": 1e-5}, "plot": Path("p.png")},
                            inputs=[tmp_path / "c.toml"], seconds=1.23456, problem=cube_problem(),
                            extra={"model": {"n_modes": np.int64(3)}})
    assert path == record_path(output) == tmp_path / "rom.h5.run.json"
    record = json.loads(path.read_text())
    assert record["configuration"] == {"ecm": {"tol": 1e-5}, "plot": "p.png"} and record["seconds"] == 1.235
    assert record["model"] == {"n_modes": 3} and len(record["problem_content_sha256"]) == 64
    assert record["inputs"][str(tmp_path / "c.toml")]["sha256"] == hashlib.sha256(b"x = 1\n").hexdigest()
    assert [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name] == []


def test_to_toml_prints_tables_arrays_of_tables_and_unset_keys():
    from mpi_drivers.report import to_toml

    data = {"output": "rom.h5", "partition": None, "plot": False, "list": [1, 2.5, "x"], "weird key": 1,
            "pod": {"U": {"tol": 1e-6, "n_modes": None}, "sig": {"tol": 1e-4}},
            "ecm": {"tol": 1e-5, "seed": 0}, "empty": {},
            "training": [{"store": "a.h5", "problem": "a.toml"}, {"store": "b.h5", "problem": None}]}
    text = to_toml(data)
    assert "# partition: not set" in text and "[pod]" not in text and "[pod.U]" in text and "[[training]]" in text
    parsed = tomllib.loads(text)
    assert parsed == {"output": "rom.h5", "plot": False, "list": [1, 2.5, "x"], "weird key": 1,
                      "pod": {"U": {"tol": 1e-6}, "sig": {"tol": 1e-4}}, "ecm": {"tol": 1e-5, "seed": 0}, "empty": {},
                      "training": [{"store": "a.h5", "problem": "a.toml"}, {"store": "b.h5"}]}


# ================================================================ pictures and reports
def test_the_pictures_are_drawn(tmp_path):
    from examples.cube import make_cube_mesh
    from mpi_drivers.report import markdown_report, plot_errors, plot_history, plot_indicator, plot_reduced_points

    mesh = make_cube_mesh(2)
    points = mesh.points[:5]
    ecm = plot_reduced_points(mesh, points, np.arange(1.0, 6.0), mesh.points[5:7], tmp_path / "ecm.png", n_points=216)
    events = [SimpleNamespace(time=2.0, indicator_before=1e-2, indicator_after=1e-5)]
    result = SimpleNamespace(times=np.arange(5.0), indicator=np.array([0, 1e-4, 1e-2, 1e-5, 1e-4]),
                             watched={"sig": np.array([0, 1e-3, 1e-3, 1e-4, 1e-3])}, enrichments=events)
    indicator = plot_indicator(result, tmp_path / "indicator.png", tol=1e-3)
    errors = plot_errors(result.times, {"U": np.array([0, 1e-5, 1e-3, 1e-6, 1e-6])}, tmp_path / "error.png",
                         enrichments=events)
    history = plot_history(result.times, {"max |U|": np.arange(5.0)}, tmp_path / "history.png", title="t")
    for png in (ecm, indicator, errors, history):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000
    (tmp_path / "out").mkdir()
    page = markdown_report(tmp_path / "out" / "r_report.md", title="t", record=None, sections=[("S", "body")],
                           pictures={"ECM": ecm})
    assert "![ECM](../ecm.png)" in page.read_text() and "## S\n\nbody" in page.read_text()


def test_the_reduced_points_are_gathered_in_global_rows():
    from mpi_drivers.offline import reduced_points
    from rom.ecm import ReducedQuadrature

    subs = [SimpleNamespace(point_rows=np.array([10, 11, 12, 13]), points=np.array([0, 2, 3]),
                            quadrature=ReducedQuadrature(np.array([0, 3]), np.array([1.0, 2.0])))]
    ecm, weights, gappy = reduced_points(SimpleNamespace(subdomains=subs), None)
    assert ecm.tolist() == [10, 13] and weights.tolist() == [1.0, 2.0] and gappy.tolist() == [12]
