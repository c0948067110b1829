"""Shared fixtures; MPI plumbing for the ``mpi``-marked tests.

``make test`` runs the serial tests with ``-m "not mpi"`` and the MPI tests with
``mpiexec -n 2 python -m pytest -m mpi``. Under MPI a failing test on one rank
aborts every rank (``MPI_Abort``), so a failure never turns into a hang.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import os

import pytest
from hypothesis import settings as hypothesis_settings

DATA = Path(__file__).parent / "data"

# Property tests draw the same examples on every run (CI is reproducible); set
# NIROM_HYPOTHESIS=explore to draw new ones (and keep failures in .hypothesis/).
hypothesis_settings.register_profile("reproducible", derandomize=True, database=None)
hypothesis_settings.register_profile("explore")
hypothesis_settings.load_profile("explore" if os.environ.get("NIROM_HYPOTHESIS") == "explore" else "reproducible")


def _world():
    from mpi4py import MPI

    return MPI.COMM_WORLD


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """``tests/data`` (real files written by Zset, Ansys, …; BSD-3, see their LICENSE)."""
    return DATA


@pytest.fixture
def comm():
    """The world communicator (MPI tests only)."""
    return _world()


@pytest.fixture
def shared_tmp_path(comm):
    """A temporary folder that every rank sees (rank 0 creates it and removes it)."""
    path = Path(tempfile.mkdtemp(prefix="nirom-mpi-")) if comm.rank == 0 else None
    path = comm.bcast(path, root=0)
    yield path
    comm.Barrier()
    if comm.rank == 0:
        shutil.rmtree(path, ignore_errors=True)


def pytest_collection_modifyitems(config, items):
    size = _world().size if "mpi4py.MPI" in sys.modules or _under_mpiexec() else 1
    for item in items:
        if "mpi" in item.keywords and size < 2:
            item.add_marker(pytest.mark.skip(reason="MPI test: run by 'make test' under mpiexec -n 2"))


def _under_mpiexec() -> bool:
    import os

    return any(k in os.environ for k in ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "HYDRA_CONTROL_FD"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and "mpi" in item.keywords and _under_mpiexec():
        world = _world()
        if world.size > 1:
            sys.stderr.write(f"\n[rank {world.rank}] {item.nodeid} failed:\n{report.longreprtext}\n")
            sys.stderr.flush()
            world.Abort(1)
