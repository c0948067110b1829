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
import time
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


#: Exit codes of the ``nirom`` commands (``docs/guide/troubleshooting.md``).
#: Seconds a failing rank waits between printing its error and ``MPI_Abort``: time for the
#: launcher to forward the line before it tears the job down (the test bound is 1 s).
ABORT_GRACE = 0.2

EXIT_OK = 0
EXIT_FAILED_CASE = 1          # a solve that did not converge; a batch with a diverging case
EXIT_BAD_INPUT = 2            # configuration, missing/corrupt/unwritable files, a missing package, no memory
EXIT_INTERNAL = 3             # a bug of nirom
EXIT_INTERRUPTED = 130


def describe(exc: BaseException) -> tuple[str, int]:
    """The one-line message and the exit code of an error that ends a command.

    - :class:`ConvergenceError` (a solve that did not converge): its message, code 1;
    - the other expected errors — :class:`ConfigError`, :class:`InputError`,
      :class:`MeshMismatchError`, :class:`MissingDependencyError`, ``OSError`` (a missing
      file, a full disk), HDF5's write failures, ``MemoryError`` — are bad input or an
      environment to fix: their message, code 2 (as argparse's usage errors);
    - an interruption: code 130;
    - anything else is a bug of nirom: its type and message, a pointer to ``--debug``
      for the traceback, code 3.
    """
    from io_adapters.errors import ConvergenceError, NiromError

    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, ConvergenceError):
        return text, EXIT_FAILED_CASE
    if isinstance(exc, (NiromError, OSError)):
        return text, EXIT_BAD_INPUT
    failed_write = _hdf5_write_failure(text) if isinstance(exc, RuntimeError) else None
    if failed_write is not None:
        return failed_write, EXIT_BAD_INPUT
    if isinstance(exc, MemoryError):
        return (f"out of memory ({text}); a smaller problem, more nodes or fewer ranks per node may help",
                EXIT_BAD_INPUT)
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", EXIT_INTERRUPTED
    return (f"internal error {type(exc).__name__}: {text} (a bug of nirom: run with --debug for the traceback "
            "and report it)", EXIT_INTERNAL)


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
        # the line is in the pipe to the launcher; MPICH's launcher may tear the job down on the
        # abort before it has forwarded it (seen in CI: the message lost, ranks ended in 2 ms)
        time.sleep(ABORT_GRACE)
        comm.Abort(code)
        os._exit(code)                          # MPICH's MPI_Abort may return before the launcher kills us
