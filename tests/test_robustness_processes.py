"""Processes under stress (issue 12): full disks, SIGKILL, stale checkpoints, rank failures.

- A full disk (a 1 MB tmpfs, else a file-size limit) under ``nirom offline`` and
  ``nirom online`` outputs: one line naming the file, exit code 2, no file under the
  final name, no temporary file left — never a segfault.
- ``nirom offline`` killed (SIGKILL) at moments spread over its phases: never a partial
  file under a final name; the next run resumes or restarts and gives a model bitwise
  equal to an uninterrupted run; two uninterrupted runs are bitwise equal.
- The checkpoint's phases are keyed by what shapes them: new training contents (same
  name and mtime), a new imposed-displacement set, another ``stress_field``, another
  rank count start the phase afresh, with a log line saying why.
- Under ``mpiexec -n 2`` an error on rank 1 in the middle of ``nirom offline`` or
  ``nirom online`` ends both ranks within a second (measured), exit code non-zero.
"""

from __future__ import annotations

import contextlib
import logging
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from io_adapters.errors import InputError
from test_robustness_model import datasets, error_lines, nirom, write_small_case

ROOT = Path(__file__).resolve().parents[1]
MPIEXEC = Path(sys.executable).parent / "mpiexec"

#: Longest time from an error on one rank to the end of every rank.
ABORT_BOUND = 1.0


def same_arrays(a: Path, b: Path) -> bool:
    """Every dataset of two model files bitwise equal (attributes hold the provenance: not compared)."""
    x, y = datasets(a), datasets(b)
    return x.keys() == y.keys() and all(np.asarray(x[k]).dtype == np.asarray(y[k]).dtype
                                        and np.asarray(x[k]).tobytes() == np.asarray(y[k]).tobytes() for k in x)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """The small case in a folder with a non-ASCII name, and an uninterrupted model ``reference.h5``."""
    folder = write_small_case(tmp_path_factory.mktemp("robust-processes") / "données é")
    text = (folder / "offline.toml").read_text()
    (folder / "reference.toml").write_text(text.replace('output = "rom.h5"', 'output = "reference.h5"'))
    done = nirom("offline", folder / "reference.toml")
    assert done.returncode == 0, done.stderr[-3000:]
    return folder


# ================================================================ full disk
@contextlib.contextmanager
def full_disk(folder: Path):
    """A folder on a 1 MB tmpfs filled to ~100 kB free; else (not root, no mount) a child
    limit on file sizes (RLIMIT_FSIZE, 64 kB). Yields (folder, preexec_fn, expected reason)."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)],
                             capture_output=True).returncode == 0 if shutil.which("mount") else False
    try:
        if mounted:
            (folder / "filler").write_bytes(b"\0" * 1_010_000)       # about 36 kB left
            yield folder, None, "No space left on device"
        else:
            def limit():
                resource.setrlimit(resource.RLIMIT_FSIZE, (64_000, 64_000))
            yield folder, limit, "File too large"
    finally:
        if mounted:
            subprocess.run(["umount", str(folder)], capture_output=True)


def _run_limited(args, preexec, cwd=None):
    return subprocess.run([sys.executable, "-m", "mpi_drivers.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=120, preexec_fn=preexec, cwd=cwd,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


@pytest.mark.parametrize("stage", ["offline", "online"])
def test_a_full_disk_is_one_clear_message(small, tmp_path, stage):
    with full_disk(tmp_path / "disk") as (disk, preexec, reason):
        output = disk / ("rom.h5" if stage == "offline" else "online.h5")
        if stage == "offline":
            config = tmp_path / "offline.toml"
            config.write_text((small / "offline.toml").read_text()
                              .replace('output = "rom.h5"', f'output = "{output}"\ncheckpoint = "{tmp_path / "ck"}"')
                              .replace('"train.h5"', f'"{small / "train.h5"}"')
                              .replace('"problem.toml"', f'"{small / "problem.toml"}"'))
            done = _run_limited(["offline", config], preexec)
        else:
            case = tmp_path / "case.toml"
            case.write_text(f'problem = "{small / "problem.toml"}"\noutput = "{output}"\n')
            done = _run_limited(["online", small / "reference.h5", case], preexec)
        lines = error_lines(done)
        assert done.returncode == 2, (done.returncode, done.stderr[-3000:])     # -11: a segfault
        assert len(lines) == 1 and lines[0].startswith(f"nirom {stage}: error: {output}: cannot write")
        assert reason in lines[0]
        left = sorted(p.name for p in disk.iterdir() if p.name != "filler")
        assert left == [], left                       # nothing under the final name, no temporary file


# ================================================================ SIGKILL
class _Lines:
    """The stderr lines of a running process, read by a thread."""

    def __init__(self, process):
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(process.stderr,), daemon=True)
        self.thread.start()

    def _read(self, stream):
        for line in stream:
            self.lines.append(line)

    def wait_for(self, text: str, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if any(text in line for line in self.lines):
                return True
            time.sleep(0.002)
        return False


#: (log line awaited, then delay): during the POD phases, during the save, at a random time.
KILL_MOMENTS = [("pod U:", 0.0), ("offline done", 0.005), (None, float(np.random.default_rng().uniform(0.3, 1.5)))]


@pytest.mark.parametrize("trigger,delay", KILL_MOMENTS, ids=["pod U", "saving", "random time"])
def test_sigkill_then_resume_gives_the_uninterrupted_model(small, tmp_path, trigger, delay):
    folder = tmp_path / "run"
    folder.mkdir()
    for name in ("cube2.geof", "hot.npy", "problem.toml", "train.h5", "offline.toml"):
        (folder / name).symlink_to(small / name)
    command = [sys.executable, "-m", "mpi_drivers.cli", "offline", str(folder / "offline.toml")]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
    lines = _Lines(process)
    try:
        if trigger is not None:
            lines.wait_for(trigger, timeout=60)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    # nothing partial under a final name: the model is absent or whole, the checkpoint readable
    if (folder / "rom.h5").exists():
        assert same_arrays(folder / "rom.h5", small / "reference.h5")
    for checkpoint in (folder / "rom.h5.ckpt").glob("rank*.h5"):
        with h5py.File(checkpoint, "r") as f:
            assert all(isinstance(f[name], h5py.Group) for name in f)
    again = nirom("offline", folder / "offline.toml")
    assert again.returncode == 0, again.stderr[-3000:]
    assert same_arrays(folder / "rom.h5", small / "reference.h5")


def test_offline_twice_gives_bitwise_identical_models(small, tmp_path):
    folder = tmp_path / "twice"
    folder.mkdir()
    for name in ("cube2.geof", "hot.npy", "problem.toml", "train.h5", "offline.toml"):
        (folder / name).symlink_to(small / name)
    done = nirom("offline", folder / "offline.toml")
    assert done.returncode == 0, done.stderr[-3000:]
    assert same_arrays(folder / "rom.h5", small / "reference.h5")


# ============================================================ stale checkpoints
def _config(small, checkpoint, **changes):
    from io_adapters.problem import read_problem

    config = {"training": [str(small / "train.h5")], "problem": read_problem(small / "problem.toml"),
              "pod": {"U": {"tol": 1e-6}, "evrcum": {"tol": 1e-6}, "sig": {"tol": 1e-6}}, "ecm": {"tol": 1e-5},
              "checkpoint": str(checkpoint) if checkpoint else None}
    config.update(changes)
    return config


def _same_model(a, b) -> bool:
    sa, sb = a.subdomains[0], b.subdomains[0]
    return (a.n_modes == b.n_modes and np.array_equal(sa.displacement_modes, sb.displacement_modes)
            and np.array_equal(sa.points, sb.points) and np.array_equal(sa.weights, sb.weights))


def _reused(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "not reused" in r.getMessage()]


def test_another_stress_field_recomputes_the_ecm(small, tmp_path, caplog):
    """``stress_field = "eto"`` reused the ECM of ``sig``."""
    from rom.offline import build

    caplog.set_level(logging.INFO, logger="rom.offline")
    build(_config(small, tmp_path / "ck"))
    caplog.clear()
    resumed = build(_config(small, tmp_path / "ck", stress_field="eto"))
    assert _reused(caplog) == ["offline: checkpoint phase ecm not reused: changed: stress_field ('sig' → 'eto')"]
    assert _same_model(resumed, build(_config(small, None, stress_field="eto")))


def test_new_imposed_displacements_recompute_the_pod(small, tmp_path, caplog):
    """A new imposed-displacement set (a Problem given in the dict) resumed from the old POD."""
    import dataclasses

    from io_adapters.problem import Dirichlet
    from rom.offline import build

    caplog.set_level(logging.INFO, logger="rom.offline")
    config = _config(small, tmp_path / "ck")
    build(config)
    problem = config["problem"]
    more = dataclasses.replace(problem, dirichlet=problem.dirichlet + (Dirichlet("ymax", 1, 0.0),))
    caplog.clear()
    resumed = build({**config, "problem": more})
    messages = _reused(caplog)
    assert messages[:2] == ["offline: checkpoint phase gram_U not reused: changed: the problem's imposed-displacement "
                            "sets", "offline: checkpoint phase pod_U not reused: changed: the problem's "
                            "imposed-displacement sets"]
    assert all("an earlier phase (pod_U) is recomputed" in m for m in messages[2:]) and len(messages) == 7
    assert _same_model(resumed, build({**config, "problem": more, "checkpoint": None}))


def test_new_training_contents_under_the_same_name_and_mtime_recompute_everything(small, tmp_path, caplog):
    from io_adapters.problem import read_problem
    from rom.hifi import solve
    from rom.offline import build

    caplog.set_level(logging.INFO, logger="rom.offline")
    shutil.copy(small / "train.h5", tmp_path / "train.h5")
    config = _config(small, tmp_path / "ck", training=[str(tmp_path / "train.h5")])
    build(config)
    stat = os.stat(tmp_path / "train.h5")
    other = read_problem(small / "problem.toml")
    import dataclasses

    hotter = dataclasses.replace(other, pressures=(dataclasses.replace(other.pressures[0], values=-90.0),))
    solve(hotter, output=tmp_path / "other.h5", linear_solver="scipy")
    shutil.copy(tmp_path / "other.h5", tmp_path / "train.h5")
    os.utime(tmp_path / "train.h5", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    caplog.clear()
    resumed = build(config)
    assert _reused(caplog)[0] == ("offline: checkpoint phase gram_U not reused: changed: the training data "
                                  "(file contents)")
    assert _same_model(resumed, build({**config, "checkpoint": None}))


def test_a_damaged_checkpoint_is_ignored_with_a_log_line(small, tmp_path, caplog):
    from rom.offline import build

    caplog.set_level(logging.INFO, logger="rom.offline")
    config = _config(small, tmp_path / "ck")
    reference = build(config)
    (tmp_path / "ck" / "rank0.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + os.urandom(3000))
    caplog.clear()
    assert _same_model(build(config), reference)
    assert any("unreadable" in r.getMessage() for r in caplog.records)
    with h5py.File(tmp_path / "ck" / "rank0.h5", "r+") as f:                # arrays altered in place
        f["pod_U/modes"][0, 0] += 1.0
    caplog.clear()
    assert _same_model(build(config), reference)
    assert "offline: checkpoint phase pod_U not reused: its arrays do not match their checksum" in _reused(caplog)


# ============================================================ MPI: rank failures
WRAPPER = '''
import os, signal, sys, time
sys.path.insert(0, {root!r})
from mpi4py import MPI
rank = MPI.COMM_WORLD.rank
scenario, folder = sys.argv[1], sys.argv[2]
open(os.path.join(folder, f"pid{{rank}}"), "w").write(str(os.getpid()))

def failed():
    open(os.path.join(folder, "failed"), "w").write(repr(time.time()))

if rank == 1 and scenario == "offline":                 # an expected error in the middle of the ECM phase
    from io_adapters.errors import InputError
    import rom.reductor
    def cubature(self, *args, **kwargs):
        failed()
        raise InputError("injected failure on rank 1 (test)")
    rom.reductor.Reductor.cubature = cubature
if rank == 1 and scenario in ("online", "killed"):      # a bug, or a crash, at the third Newton iterate
    import rom.online.operator
    evaluate, calls = rom.online.operator.RestrictedOperator.evaluate, []
    def failing(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            failed()
            if scenario == "killed":
                os.kill(os.getpid(), signal.SIGKILL)
            raise RuntimeError("injected bug on rank 1 (test)")
        return evaluate(self, *args, **kwargs)
    rom.online.operator.RestrictedOperator.evaluate = failing
from mpi_drivers.cli import main
sys.exit(main(sys.argv[3:]))
'''


def _mpirun(folder: Path, scenario: str, *args) -> tuple[subprocess.CompletedProcess, float]:
    script = folder / "wrapper.py"
    script.write_text(WRAPPER.format(root=str(ROOT)))
    for stale in folder.glob("pid*"):
        stale.unlink()
    (folder / "failed").unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "HYDRA_", "MPI_"))}
    command = [str(MPIEXEC), "-n", "2", sys.executable, str(script), scenario, str(folder), *map(str, args)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=folder,
                          env={**env, "OMP_NUM_THREADS": "1"})
    return done, time.time()


def _alive(pid: int) -> bool:
    """The process runs (a zombie waiting for its parent to reap it has ended)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):
        if "State:\tZ" in Path(f"/proc/{pid}/status").read_text():
            return False
    return True


def _ended(pids: list[int], returned: float) -> float:
    """When the last rank ended: the return of mpiexec, or later if one outlived it (polled, 5 s at most)."""
    if not any(_alive(pid) for pid in pids):
        return returned
    while any(_alive(pid) for pid in pids) and time.time() < returned + 5:
        time.sleep(0.001)
    return time.time()


@pytest.fixture(scope="module")
def two_ranks(small, tmp_path_factory):
    """The small case with a model of 2 subdomains (``rom.h5``), built by ``mpiexec -n 2``."""
    if not MPIEXEC.exists():
        pytest.skip("no mpiexec beside the interpreter")
    folder = tmp_path_factory.mktemp("robust-mpi")
    for name in ("cube2.geof", "hot.npy", "problem.toml", "train.h5", "offline.toml", "case.toml"):
        shutil.copy(small / name, folder / name)
    done, _ = _mpirun(folder, "none", "offline", "offline.toml")
    assert done.returncode == 0, done.stderr[-3000:]
    return folder


@pytest.mark.parametrize("scenario,command", [("offline", ["offline", "offline.toml"]),
                                              ("online", ["online", "rom.h5", "case.toml"]),
                                              ("killed", ["online", "rom.h5", "case.toml"])])
def test_an_error_on_one_rank_ends_every_rank_within_a_second(two_ranks, scenario, command, capsys):
    shutil.rmtree(two_ranks / "rom.h5.ckpt", ignore_errors=True)      # the ECM phase must run
    done, returned = _mpirun(two_ranks, scenario, *command)
    assert done.returncode != 0
    failed = float((two_ranks / "failed").read_text())
    pids = [int((two_ranks / f"pid{r}").read_text()) for r in (0, 1)]
    ended = _ended(pids, returned)
    assert not any(_alive(pid) for pid in pids)
    elapsed = ended - failed
    with capsys.disabled():
        print(f"\n{scenario}: rank 1 failed, every rank ended {elapsed:.3f} s later (exit code {done.returncode})")
    assert elapsed <= ABORT_BOUND
    if scenario != "killed":
        message = {"offline": "nirom offline: error (rank 1): injected failure on rank 1 (test)",
                   "online": "nirom online: error (rank 1): internal error RuntimeError: injected bug on rank 1"}
        assert message[scenario] in done.stderr and "Traceback" not in done.stderr


# ======================================================= MPI-marked (mpiexec -n 2)
@pytest.mark.mpi
def test_a_checkpoint_of_two_ranks_resumed_on_one_restarts_cleanly(comm, shared_tmp_path, caplog):
    """Resuming with another rank count failed with a raw ``ValueError: cannot reshape``."""
    from rom.offline import build

    caplog.set_level(logging.INFO, logger="rom.offline")
    if comm.rank == 0:
        write_small_case(shared_tmp_path)
    comm.Barrier()
    config = _config(shared_tmp_path, shared_tmp_path / "ck")
    first = build(config, comm=comm)
    again = build(config, comm=comm)                                  # resumed: the same subdomain
    assert np.array_equal(first.subdomains[0].displacement_modes, again.subdomains[0].displacement_modes)
    first.save(shared_tmp_path / "a.h5", comm=comm)
    again.save(shared_tmp_path / "b.h5", comm=comm)
    alone = comm.Split(0 if comm.rank == 0 else 1, comm.rank)
    if comm.rank == 0:
        assert same_arrays(shared_tmp_path / "a.h5", shared_tmp_path / "b.h5")
        caplog.clear()
        resumed = build(config, comm=alone)                           # rank0.h5 of a 2-rank run
        assert any("the number of ranks (2 → 1)" in m for m in _reused(caplog))
        assert _same_model(resumed, build({**config, "checkpoint": None}))
    alone.Free()
    comm.Barrier()
