"""The MPI test harness: a test failing on one rank fails the run and never hangs."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

FAILING_ON_RANK_1 = '''
import pytest

pytestmark = pytest.mark.mpi


def test_fails_on_rank_1_while_rank_0_waits(comm):
    if comm.rank == 1:
        assert False, "rank 1 disagrees"
    comm.Barrier()   # rank 0 would wait here forever without the abort
'''


def test_failure_on_one_rank_aborts_every_rank(tmp_path):
    tests = tmp_path / "tests"
    tests.mkdir()
    shutil.copy(Path(__file__).parent / "conftest.py", tests / "conftest.py")
    (tests / "test_fail.py").write_text(FAILING_ON_RANK_1)
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    mpi: mpi\n")
    mpiexec = Path(sys.executable).parent / "mpiexec"
    start = time.perf_counter()
    done = subprocess.run([str(mpiexec), "-n", "2", sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-m", "mpi", "tests"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "rank 1 disagrees" in done.stdout + done.stderr
    assert time.perf_counter() - start < 60
