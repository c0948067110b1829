"""Run a stage on every rank so that an error on one rank ends all of them.

A stage that raises on one rank while the others wait in a collective call would
hang forever. :func:`run_collectively` catches the error, prints it once (with
the rank that raised it) and calls ``MPI_Abort``: every rank ends, the exit code
is not zero, the message names the cause.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from pathlib import Path
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


def describe(exc: BaseException) -> tuple[str, int]:
    """The one-line message and the exit code of an error that ends a command.

    Expected errors (:class:`NiromError`, ``OSError``: a file, a configuration, a
    full disk) give their own message and code 1; ``MemoryError`` says so (code 1);
    an interruption gives 130; anything else is a bug of nirom: its type and message,
    a pointer to ``--debug`` for the traceback, and code 2.
    """
    from io_adapters.errors import NiromError

    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, (NiromError, OSError)):
        return text, 1
    failed_write = _hdf5_write_failure(text) if isinstance(exc, RuntimeError) else None
    if failed_write is not None:
        return failed_write, 1
    if isinstance(exc, MemoryError):
        return f"out of memory ({text}); a smaller problem, more nodes or fewer ranks per node may help", 1
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", 130
    return (f"internal error {type(exc).__name__}: {text} (a bug of nirom: run with --debug for the traceback "
            "and report it)", 2)


_HDF5_WRITE = re.compile(r"filename = '(?P<file>[^']*)'.*?errno = (?P<errno>\d+), error message = '(?P<why>[^']*)'")


def _hdf5_write_failure(text: str) -> str | None:
    """The message of an operating-system write failure that h5py reports as a RuntimeError
    (a full disk while HDF5 flushes a file), naming the file and the cause; else None."""
    match = _HDF5_WRITE.search(text)
    if match is None or "write failed" not in text:
        return None
    file = Path(match["file"])
    final = re.fullmatch(r"\.(?P<name>.+)\.tmp-[^.]*", file.name)       # io_adapters.atomic's temporary name
    name = file.with_name(final["name"]) if final else file
    return f"{name}: cannot write the file: {match['why']} (errno {match['errno']})"


def run_collectively(stage: Callable[[object], int], command: str, *, debug: bool = False) -> int:
    """Call ``stage(comm)`` on every rank; any error ends every rank with its message.

    Under ``mpiexec`` an error on one rank — expected or not, ``KeyboardInterrupt``
    included — prints one line naming the rank and the cause, then ``MPI_Abort``
    ends every rank at once (the others may be waiting in a collective call: without
    the abort they would wait forever). ``tests/test_robustness_processes.py``
    measures the time from the error to the end of every rank.

    Returns the stage's exit code when every rank succeeded; in a serial run an
    error is raised to the caller (the CLI prints it on one line).
    """
    comm = world()
    if comm.size == 1:
        return stage(comm)
    _one_blas_thread_per_rank()
    _share_the_io_threads(comm)
    try:
        return stage(comm)
    except BaseException as exc:
        if debug:
            import traceback

            traceback.print_exc()
        message, code = describe(exc)
        print(f"nirom {command}: error (rank {comm.rank}): {message}", file=sys.stderr, flush=True)
        sys.stdout.flush()
        comm.Abort(code)
        os._exit(code)                          # MPICH's MPI_Abort may return before the launcher kills us
