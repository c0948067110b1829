"""Run a stage on every rank so that an error on one rank ends all of them.

A stage that raises on one rank while the others wait in a collective call would
hang forever. :func:`run_collectively` catches the error, prints it once (with
the rank that raised it) and calls ``MPI_Abort``: every rank ends, the exit code
is not zero, the message names the cause.
"""

from __future__ import annotations

import logging
import sys
from typing import Callable

log = logging.getLogger("nirom")


def world():
    """``MPI.COMM_WORLD`` (imported here, never at module import)."""
    from mpi4py import MPI

    return MPI.COMM_WORLD


def _one_blas_thread_per_rank() -> None:
    """Ranks share the cores: several BLAS threads per rank oversubscribe them (measured
    several times slower). Limit BLAS to one thread per rank for the whole run."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(limits=1, user_api="blas")


def _share_the_io_threads(comm) -> None:
    """Give each rank its share of the node's cores for the readers' threads
    (unless ``NIROM_IO_THREADS`` fixes the count)."""
    import os

    from mpi4py import MPI

    from io_adapters.threads import set_io_threads

    if os.environ.get("NIROM_IO_THREADS", "").strip():
        return
    node = comm.Split_type(MPI.COMM_TYPE_SHARED)
    try:
        ranks_on_node = node.size
    finally:
        node.Free()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    set_io_threads(max(1, cores // ranks_on_node))


def run_collectively(stage: Callable[[object], int], command: str, *, debug: bool = False) -> int:
    """Call ``stage(comm)`` on every rank; any error ends every rank with its message.

    Returns the stage's exit code (0) when every rank succeeded; in a serial run an
    expected error returns 1 after a one-line message.
    """
    from io_adapters.errors import NiromError

    comm = world()
    if comm.size > 1:
        _one_blas_thread_per_rank()
        _share_the_io_threads(comm)
    try:
        return stage(comm)
    except (NiromError, OSError) as exc:
        if debug:
            raise
        prefix = f"nirom {command}: error" + (f" (rank {comm.rank})" if comm.size > 1 else "")
        print(f"{prefix}: {str(exc).replace(chr(10), ' ')}", file=sys.stderr, flush=True)
        if comm.size > 1:
            comm.Abort(1)
        return 1
    except BaseException:
        if comm.size > 1:
            import traceback

            traceback.print_exc()
            sys.stderr.flush()
            comm.Abort(2)
        raise
