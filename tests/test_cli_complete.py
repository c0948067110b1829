"""The complete ``nirom`` command line (issue 14): one style for every subcommand.

``--version``; ``--help`` with an example; ``--print-config`` (the effective
configuration with its defaults, itself a valid configuration); ``--quiet``; exit codes
0 / 1 (a failed case) / 2 (bad input) / 3 (a bug) / 130; ``nirom hifi``; the run record
(``<output>.run.json``: effective configuration, version, SHA-256 of the inputs) and the
report with its pictures beside every output; the online ``reference`` (``U_reference``,
``U_error`` in the results, the error per step); the PBS twin of the SLURM job script.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest

import io_adapters
from io_adapters.errors import ConfigError, ConvergenceError, InputError, MeshMismatchError, MissingDependencyError

ROOT = Path(__file__).resolve().parents[1]
CUBE = ROOT / "examples" / "cube"
VENV_BIN = Path(sys.executable).parent
COMMANDS = ("convert", "info", "hifi", "offline", "online", "cluster")

OFFLINE_TOML = """\
training = ["train.h5"]
problem = "problem.toml"
output = "rom.h5"
[pod.U]
tol = 1e-6
[pod.evrcum]
tol = 1e-6
[pod.evri]
tol = 1e-6
[pod.al1]
tol = 1e-6
[pod.sig]
tol = 1e-6
[indicator]
field = "evrcum"
"""


def nirom(*args, cwd=None, timeout=300, env=None):
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "PMIX_", "HYDRA_", "MPIR_"))}
    environment.update(OMP_NUM_THREADS="1", **(env or {}))
    return subprocess.run([sys.executable, "-m", "mpi_drivers.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, env=environment)


def write_cube(folder: Path, *, pressure: float = -60.0, solver: str = "") -> Path:
    """examples/cube/problem.toml on a 3³ mesh, one cycle of 6 steps (about 0.5 s to solve)."""
    from examples.cube.cube import hot_field, make_cube_mesh
    from io_adapters.zset.geof import write_geof

    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "cube3.geof").exists():
        mesh = make_cube_mesh(3)
        write_geof(mesh, folder / "cube3.geof")
        np.save(folder / "hot.npy", hot_field(mesh.points, "hotspot"))
    text = (CUBE / "problem.toml").read_text()
    for old, new in (('mesh = "cube4.geof"', 'mesh = "cube3.geof"'), ('"cube4_hot.npy"', '"hot.npy"'),
                     ("increments = [5, 5]", "increments = [3, 3]"), ("cycles = 2", "cycles = 1"),
                     ("value = -60.0", f"value = {pressure}")):
        assert old in text, old
        text = text.replace(old, new)
    return text + solver


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """A folder with the 3³ cube problem, its HF run (``nirom hifi``), a model (``nirom offline``),
    a harder loading and its HF reference."""
    folder = tmp_path_factory.mktemp("cli-complete")
    (folder / "problem.toml").write_text(write_cube(folder))
    (folder / "loading.toml").write_text(write_cube(folder, pressure=-80.0))
    done = nirom("hifi", "problem.toml", "-o", "train.h5", cwd=folder)
    assert done.returncode == 0, done.stderr
    (folder / "offline.toml").write_text(OFFLINE_TOML)
    done = nirom("offline", "offline.toml", cwd=folder)
    assert done.returncode == 0, done.stderr
    from rom.hifi import solve

    solve(io_adapters.read_problem(folder / "loading.toml"), output=folder / "reference.h5", linear_solver="scipy")
    return folder


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ================================================================ one style
def test_version_comes_from_the_package_metadata():
    done = nirom("--version")
    assert done.returncode == 0 and done.stdout.strip() == f"nirom {version('nirom')}"


@pytest.mark.parametrize("command", COMMANDS)
def test_every_subcommand_has_help_with_an_example_and_the_common_options(command):
    done = nirom(command, "--help")
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert "example:" in text and f"nirom {command} " in text.split("example:")[1]
    for option in ("--quiet", "--verbose", "--progress", "--print-config", "--debug"):
        assert option in text, option


def test_the_common_options_go_before_or_after_the_subcommand(case):
    after = nirom("info", "train.h5", "--quiet", cwd=case)
    before = nirom("--quiet", "info", "train.h5", cwd=case)
    assert after.returncode == before.returncode == 0 and after.stdout == before.stdout


def test_print_config_without_a_file_gives_every_default_as_valid_toml():
    from clustering.config import ClassifierSettings, FeatureSettings
    from rom.settings import AdaptiveSettings, EcmSettings, IndicatorSettings, SolverSettings

    offline = tomllib.loads(nirom("offline", "--print-config").stdout)
    assert offline["ecm"] == EcmSettings().to_dict() and offline["pod"] == {"U": {"tol": 1e-6}}
    assert offline["indicator"] == IndicatorSettings().to_dict() and offline["stress_field"] == "sig"
    online = tomllib.loads(nirom("online", "--print-config").stdout)
    assert online["adaptive"] == AdaptiveSettings().to_dict() and online["solver"] == SolverSettings().to_dict()
    cluster = tomllib.loads(nirom("cluster", "--print-config").stdout)
    assert cluster["features"] == FeatureSettings().to_dict()
    assert cluster["classifier"] == {**ClassifierSettings().to_dict(), "candidates": list(ClassifierSettings().candidates)}
    assert "n_clusters" not in cluster["clustering"] and cluster["clustering"]["dissimilarity"] == "grassmann"
    text = nirom("offline", "--print-config").stdout
    assert "# n_modes: not set" in text and "# training: not set" in text


def test_print_config_of_a_file_is_the_effective_configuration_and_loads_back(case):
    from mpi_drivers.online import load_case
    from rom.offline_config import OfflineConfig

    done = nirom("offline", case / "offline.toml", "--print-config")
    assert done.returncode == 0, done.stderr
    printed = tomllib.loads(done.stdout)
    assert printed["ecm"] == {"tol": 1e-5, "seed": 0, "stress_tol": 1e-8}            # defaults filled in
    assert printed["checkpoint"] == str(case / "rom.h5.ckpt") and printed["plot"] == str(case / "rom_singular_values.png")
    again = OfflineConfig.from_dict(printed, base_dir=Path("/"), source="printed")
    original = OfflineConfig.load(case / "offline.toml")
    assert again.fingerprint() == original.fingerprint() and again.training == original.training

    (case / "case.toml").write_text('problem = "loading.toml"\n[adaptive]\nenabled = true\n')
    done = nirom("online", case / "rom.h5", case / "case.toml", "--print-config")
    assert done.returncode == 0, done.stderr
    printed = tomllib.loads(done.stdout)
    assert printed["fields"] == ["al1", "evrcum", "evri", "sig"]                       # the model's defaults resolved
    assert printed["indicator"]["field"] == "evrcum" and printed["adaptive"]["tol"] == 1e-3
    assert printed["adaptive"]["ecm_tol"] == 1e-5 and printed["solver"]["max_iterations"] == 25
    (case / "printed_case.toml").write_text(done.stdout)
    assert load_case(case / "printed_case.toml").adaptive.enabled

    (case / "strict.toml").write_text(write_cube(case, solver="\n[solver]\nmax_iterations = 7\n"))
    done = nirom("hifi", case / "strict.toml", "--print-config", "--linear-solver", "scipy")
    printed = tomllib.loads(done.stdout)
    assert printed["solver"] == {"tolerance": 1e-9, "atol": 1e-12, "max_iterations": 7, "max_cuts": 6,
                                 "rule": "default", "linear_solver": "scipy"}


# ================================================================ exit codes
def test_exit_codes_follow_the_convention(case, tmp_path):
    assert nirom("offline").returncode == 2                                       # usage: argparse's code
    assert nirom("nonsense").returncode == 2
    assert nirom("info", tmp_path / "missing.ut").returncode == 2                 # a missing file
    (tmp_path / "bad.toml").write_text('training = []\nproblem = "nothere.toml"\n[ecm]\ntol = 2.0\n')
    done = nirom("offline", tmp_path / "bad.toml")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "[ecm] tol must be in (0, 1)" in done.stderr
    done = nirom("hifi", case / "problem.toml", "-o", tmp_path / "out.vtu")
    assert done.returncode == 2 and "must be a nirom store ending in .h5" in done.stderr


def test_a_solve_that_does_not_converge_is_exit_code_1_and_keeps_its_steps(case):
    (case / "strict.toml").write_text(write_cube(case, solver="\n[solver]\nmax_iterations = 1\nmax_cuts = 0\n"))
    done = nirom("hifi", "strict.toml", "-o", "strict.h5", cwd=case)
    assert done.returncode == 1, done.stderr
    last = done.stderr.splitlines()[-1]                                  # after the INFO lines of the steps
    assert last.startswith("nirom hifi: error: strict.toml: time step") and "Newton did not converge" in last
    kept = io_adapters.read(case / "strict.h5")
    assert 1 <= kept.n_times < 7
    record = json.loads((case / "strict.h5.run.json").read_text())
    assert record["status"].startswith("failed: strict.toml: time step")


WRAPPER = """
import sys
import mpi_drivers.offline
def failing(*args, **kwargs):
    raise {error}
mpi_drivers.offline.run_offline = failing
from mpi_drivers.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("error,code", [("RuntimeError('injected bug')", 3), ("KeyboardInterrupt()", 130),
                                        ("MemoryError('big')", 2)])
def test_a_bug_is_exit_code_3_an_interruption_130(case, tmp_path, error, code):
    script = tmp_path / "wrapper.py"
    script.write_text(WRAPPER.format(error=error))
    done = subprocess.run([sys.executable, str(script), "offline", str(case / "offline.toml")], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == code, done.stderr
    assert done.stderr.count("\n") == 1
    if code == 3:
        assert "internal error RuntimeError: injected bug (a bug of nirom: run with --debug" in done.stderr


def test_describe_maps_each_error_to_its_code():
    from mpi_drivers.collective import describe

    codes = {ConvergenceError("x"): 1, ConfigError("x"): 2, InputError("x"): 2, MeshMismatchError("x"): 2,
             MissingDependencyError("x"): 2, FileNotFoundError("x"): 2, MemoryError("x"): 2, KeyError("x"): 3,
             ValueError("x"): 3, KeyboardInterrupt(): 130}
    for error, code in codes.items():
        assert describe(error)[1] == code, error


# ================================================================ records and reports
def test_convert_writes_a_run_record_with_the_input_checksums(tmp_path, data_dir):
    source = data_dir / "zset" / "UtExample" / "cube.ut"
    done = nirom("convert", source, "-o", tmp_path / "cube.h5", "--quiet")
    assert done.returncode == 0 and done.stdout == "", done.stderr
    record = json.loads((tmp_path / "cube.h5.run.json").read_text())
    assert record["format"] == "nirom-run" and record["command"] == "convert"
    assert record["nirom_version"] == version("nirom") and record["status"] == "ok"
    assert record["configuration"]["output"] == str(tmp_path / "cube.h5")
    inputs = record["inputs"]
    for suffix in (".ut", ".node", ".integ", ".geof"):                      # the companions of the .ut too
        path = next(p for p in inputs if p.endswith(suffix))
        assert inputs[path]["sha256"] == sha256(Path(path)), path


def test_hifi_writes_the_store_its_record_and_its_report(case):
    store = io_adapters.read(case / "train.h5")
    assert store.n_times == 7 and {"U", "sig", "evrcum"} <= set(store.fields)
    record = json.loads((case / "train.h5.run.json").read_text())
    assert record["command"] == "hifi" and record["configuration"]["solver"]["tolerance"] == 1e-9
    assert record["inputs"] == {"problem.toml": {"sha256": sha256(case / "problem.toml")}}
    from rom.offline_config import content_digest

    assert record["problem_content_sha256"] == content_digest(io_adapters.read_problem(case / "problem.toml"))
    report = (case / "train_report.md").read_text()
    assert "(train_history.png)" in report and "(train.h5.run.json)" in report
    assert (case / "train_history.png").stat().st_size > 1000


def test_hifi_options_reach_the_solver(case):
    done = nirom("hifi", "problem.toml", "-o", "zset_rule.h5", "--rule", "zset", "--linear-solver", "scipy", "-q",
                 cwd=case)
    assert done.returncode == 0 and done.stdout == "", done.stderr
    assert io_adapters.read(case / "zset_rule.h5").fields["sig"].rule == "zset"
    record = json.loads((case / "zset_rule.h5.run.json").read_text())
    assert record["configuration"]["solver"]["rule"] == "zset"
    assert record["configuration"]["solver"]["linear_solver"] == "scipy"


def test_offline_writes_its_record_report_and_pictures(case):
    record = json.loads((case / "rom.h5.run.json").read_text())
    assert record["command"] == "offline" and record["configuration"]["pod"]["evrcum"] == {"tol": 1e-6, "n_modes": None}
    assert set(record["inputs"]) == {"offline.toml", "problem.toml", "train.h5"}        # as the command named them
    assert record["inputs"]["train.h5"]["sha256"] == sha256(case / "train.h5")
    assert record["model"]["ecm_points"] > 0
    report = (case / "rom_report.md").read_text()
    for picture in ("rom_singular_values.png", "rom_ecm_points.png"):
        assert f"({picture})" in report and (case / picture).stat().st_size > 1000


def test_online_with_a_reference_writes_the_error_fields_and_plots(case):
    (case / "ref_case.toml").write_text('problem = "loading.toml"\noutput = "online.h5"\nreference = "reference.h5"\n'
                                        "[adaptive]\nenabled = true\n")
    done = nirom("online", "rom.h5", "ref_case.toml", cwd=case)
    assert done.returncode == 0, done.stderr
    assert "error of U against the reference: max" in done.stdout
    online, reference = io_adapters.read(case / "online.h5"), io_adapters.read(case / "reference.h5")
    assert {"U_reference", "U_error", "sig_reference", "sig_error"} <= set(online.fields)
    U, ref = online.fields["U"].read(), reference.fields["U"].read()
    np.testing.assert_array_equal(online.fields["U_reference"].read(), ref)
    np.testing.assert_allclose(online.fields["U_error"].read(), U - ref, atol=1e-15)
    record = json.loads((case / "online.h5.run.json").read_text())
    expected = np.max(np.linalg.norm((U - ref).reshape(len(U), -1), axis=1)) / np.linalg.norm(ref.reshape(len(ref), -1),
                                                                                              axis=1).max()
    assert record["result"]["max_relative_error"]["U"] == pytest.approx(expected, rel=1e-9)
    assert record["inputs"]["reference.h5"]["sha256"] == sha256(case / "reference.h5")
    assert set(record["inputs"]) == {"rom.h5", "ref_case.toml", "loading.toml", "reference.h5"}
    assert record["configuration"]["reference"] == "reference.h5"
    report = (case / "online_report.md").read_text()
    for picture in ("online_indicator.png", "online_error.png"):
        assert f"({picture})" in report and (case / picture).stat().st_size > 1000


def test_a_reference_is_checked_before_the_first_solve(case):
    (case / "no_output.toml").write_text('problem = "loading.toml"\nreference = "reference.h5"\n')
    (case / "missing_ref.toml").write_text('problem = "loading.toml"\noutput = "x.h5"\nreference = "nothere.h5"\n')
    (case / "wrong_times.toml").write_text('problem = "problem.toml"\noutput = "y.h5"\nreference = "strict.h5"\n')
    if not (case / "strict.h5").exists():
        (case / "strict.toml").write_text(write_cube(case, solver="\n[solver]\nmax_iterations = 1\nmax_cuts = 0\n"))
        nirom("hifi", "strict.toml", "-o", "strict.h5", cwd=case)
    done = nirom("online", "rom.h5", "missing_ref.toml", cwd=case)
    assert done.returncode == 2 and "reference" in done.stderr and "nothere.h5 does not exist" in done.stderr
    done = nirom("online", "rom.h5", "no_output.toml", "wrong_times.toml", cwd=case)
    assert done.returncode == 2 and "step" not in done.stdout
    assert "reference: the errors are written beside the results: give 'output' too" in done.stderr
    assert "the reference has no result at time(s)" in done.stderr


# ================================================================ the PBS twin of the SLURM job
def test_the_pbs_job_script_runs_the_chain_resumes_and_fails_like_the_slurm_one(tmp_path):
    """examples/hpc/cube.pbs without a scheduler, its ranks from $PBS_NODEFILE, its folder from $PBS_O_WORKDIR."""
    nodefile = tmp_path / "nodes"
    nodefile.write_text(f"{socket.gethostname()}\n" * 2)           # mpiexec (hydra) reads it too: this host
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "PMIX_", "HYDRA_", "MPIR_", "SLURM_",
                                                                     "PBS_"))}
    env.update(NIROM_HOME=str(ROOT), PBS_O_WORKDIR=str(tmp_path), PBS_NODEFILE=str(nodefile), PYTHON=sys.executable,
               OMP_NUM_THREADS="1")
    script = ["bash", str(ROOT / "examples" / "hpc" / "cube.pbs")]
    first = subprocess.run(script, env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "nirom batch job (PBS): 2 ranks" in first.stdout and "1. training: high-fidelity solve on 2 ranks" in first.stdout
    assert "step      time   newton   indicator" in first.stdout and "done: " in first.stdout
    work = tmp_path / "nirom-cube-work"
    assert (work / "online.h5").exists() and (work / "rom_enriched.h5").exists() and (work / "rom_report.md").exists()
    again = subprocess.run(script, env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "1. training: train.h5 is complete, kept" in again.stdout and "resuming after" in again.stderr
    failed = subprocess.run(script, env={**env, "LAUNCH": "false"}, capture_output=True, text=True, timeout=120,
                            cwd=tmp_path)
    assert failed.returncode != 0 and "2. offline" in failed.stdout and "3. online" not in failed.stdout


def test_the_pbs_and_slurm_scripts_differ_only_in_the_scheduler_lines():
    slurm = (ROOT / "examples" / "hpc" / "cube.sbatch").read_text().splitlines()
    pbs = (ROOT / "examples" / "hpc" / "cube.pbs").read_text().splitlines()
    body = lambda lines: [line for line in lines[lines.index("nirom() { $LAUNCH \"$PYTHON\" -m mpi_drivers.cli \"$@\"; }"):]
                          if not line.startswith("echo \"nirom batch job")]
    assert body(slurm) == body(pbs)
    assert any(line.startswith("#PBS -l") for line in pbs) and not any("SBATCH" in line for line in pbs)


# ================================================================ under MPI
@pytest.mark.mpi
def test_offline_and_online_drivers_on_two_ranks_record_and_compare(comm, shared_tmp_path):
    """Run records under MPI (ranks = 2, inputs hashed by the ranks in turn) and the error
    against a reference, with the interface nodes counted once, equal to the serial measure."""
    from mpi_drivers.offline import run_offline
    from mpi_drivers.online import run_online
    from rom.hifi import solve

    folder = shared_tmp_path
    if comm.rank == 0:
        (folder / "problem.toml").write_text(write_cube(folder))
        (folder / "loading.toml").write_text(write_cube(folder, pressure=-80.0))
        (folder / "offline.toml").write_text(OFFLINE_TOML)
        (folder / "case.toml").write_text('problem = "loading.toml"\noutput = "online.h5"\nreference = "ref.h5"\n')
    comm.Barrier()
    solve(io_adapters.read_problem(folder / "problem.toml"), comm, output=folder / "train.h5")
    solve(io_adapters.read_problem(folder / "loading.toml"), comm, output=folder / "ref.h5")
    assert run_offline(folder / "offline.toml", comm, quiet=True) == 0
    assert run_online(folder / "rom.h5", [folder / "case.toml"], comm, quiet=True) == 0
    comm.Barrier()
    if comm.rank == 0:
        record = json.loads((folder / "online.h5.run.json").read_text())
        assert record["ranks"] == 2 and record["command"] == "online"
        assert record["inputs"][str(folder / "ref.h5")]["sha256"] == sha256(folder / "ref.h5")
        online, reference = io_adapters.read(folder / "online.h5"), io_adapters.read(folder / "ref.h5")
        U, ref = online.fields["U"].read(), reference.fields["U"].read()
        np.testing.assert_allclose(online.fields["U_error"].read(), U - ref, atol=1e-15)
        expected = np.max(np.linalg.norm((U - ref).reshape(len(U), -1), axis=1)) / np.linalg.norm(
            ref.reshape(len(ref), -1), axis=1).max()
        assert record["result"]["max_relative_error"]["U"] == pytest.approx(expected, rel=1e-9)
        offline = json.loads((folder / "rom.h5.run.json").read_text())
        assert offline["ranks"] == 2 and (folder / "rom_ecm_points.png").exists()
    comm.Barrier()
