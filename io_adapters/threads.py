"""Worker threads for the readers' array work.

Decoding and transposing a time step of a result file are numpy copies, casts
and reductions, which release the GIL: split over element ranges, they run on
several cores at once. The readers call :func:`run_parts`; how many threads it
uses is, in order of precedence:

1. :func:`set_io_threads` (the MPI drivers give each rank its share of the cores);
2. the environment variable ``NIROM_IO_THREADS`` (a positive integer);
3. ``OMP_NUM_THREADS`` (a job script that limits threads limits these too); its
   OpenMP list form ``2,1`` (threads per nesting level) counts its first number;
4. the cores this process may run on, divided by the MPI ranks the launcher put on
   this node (``MPI_LOCALNRANKS`` of MPICH, ``OMPI_COMM_WORLD_LOCAL_SIZE`` of Open
   MPI, ``SLURM_NTASKS_PER_NODE``), at most :data:`MAX_DEFAULT_THREADS`.

The pool is created on first use, never at import; a process forked after that
(``multiprocessing`` with the fork start method) starts its own.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from io_adapters.errors import ConfigError

#: Upper bound of the default thread count (more rarely helps memory-bound copies).
MAX_DEFAULT_THREADS = 4

_limit: int | None = None
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_pool_lock = threading.Lock()
_fork_hook = False


class ThreadCountError(ConfigError, ValueError):
    """A thread count (argument or environment variable) that is not a positive integer."""


def _from_environment(name: str) -> int | None:
    """The thread count an environment variable asks for, None when it is unset or empty.

    ``OMP_NUM_THREADS`` may be an OpenMP list (``"4,2"``: threads per nesting level);
    the readers' threads are the outer level, its first number.
    """
    raw = os.environ.get(name, "")
    value = raw.strip()
    if not value:
        return None
    first = value.split(",", 1)[0].strip() if name == "OMP_NUM_THREADS" else value
    try:
        n = int(first)
    except ValueError:
        n = 0
    if n < 1:
        form = " or an OpenMP list such as '4,2'" if name == "OMP_NUM_THREADS" else ""
        raise ThreadCountError(
            f"environment variable {name}={raw!r}: expected a positive integer{form} "
            f"(the number of threads nirom's readers use); unset it or fix it"
        )
    return n


def io_threads() -> int:
    """Number of threads the readers use (see the module docstring)."""
    if _limit is not None:
        return _limit
    for name in ("NIROM_IO_THREADS", "OMP_NUM_THREADS"):
        n = _from_environment(name)
        if n is not None:
            return n
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:   # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(MAX_DEFAULT_THREADS, cores // local_ranks()))


def local_ranks() -> int:
    """MPI ranks on this node according to the launcher's environment (1 outside MPI)."""
    for name in ("MPI_LOCALNRANKS", "OMPI_COMM_WORLD_LOCAL_SIZE", "SLURM_NTASKS_PER_NODE"):
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return 1


def set_io_threads(n: int | None) -> None:
    """Fix the readers' thread count (``None``: back to the default)."""
    global _limit
    if n is not None:
        try:
            valid = int(n) == n and int(n) >= 1
        except (TypeError, ValueError):
            valid = False
        if not valid:
            raise ThreadCountError(f"thread count must be an integer of at least 1, got {n!r}")
    _limit = None if n is None else int(n)


def _forget_pool() -> None:
    """In a forked child: the pool's threads did not survive the fork; start a new pool when needed."""
    global _pool, _pool_size, _pool_lock
    _pool, _pool_size, _pool_lock = None, 0, threading.Lock()


def _executor(workers: int) -> ThreadPoolExecutor:
    global _pool, _pool_size, _fork_hook
    with _pool_lock:
        if _pool is None or _pool_size < workers:
            if _pool is not None:
                _pool.shutdown(wait=True)
            if not _fork_hook and hasattr(os, "register_at_fork"):
                os.register_at_fork(after_in_child=_forget_pool)
                _fork_hook = True
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="nirom-io")
            _pool_size = workers
        return _pool


def split(n: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` contiguous ranges ``(a, b)`` covering ``range(n)``, sizes differing by at most 1."""
    parts = max(1, min(parts, n)) if n else 1
    q, r = divmod(n, parts)
    bounds = [0]
    for i in range(parts):
        bounds.append(bounds[-1] + q + (i < r))
    return list(zip(bounds[:-1], bounds[1:]))


def run_parts(work: Callable[[int, int], None], n: int, min_part: int = 1) -> None:
    """Call ``work(a, b)`` on contiguous ranges covering ``range(n)``, in parallel.

    Parameters
    ----------
    work : callable (a, b) -> None
        Processes items ``a:b``; different ranges must touch different memory.
    n : int
        Number of items.
    min_part : int
        Smallest range worth a thread of its own.

    The calling thread takes the first range. Every range is finished before this
    returns, also when one raises; the first error is then raised again.
    """
    threads = min(io_threads(), max(1, n // max(1, min_part)))
    if threads <= 1 or threading.current_thread().name.startswith("nirom-io"):   # never nested
        work(0, n)
        return
    ranges = split(n, threads)
    futures = [_executor(threads - 1).submit(work, a, b) for a, b in ranges[1:]]
    error: BaseException | None = None
    try:
        work(*ranges[0])
    except BaseException as exc:   # wait for the others before raising
        error = exc
    for future in futures:
        try:
            future.result()
        except BaseException as exc:
            error = error or exc
    if error is not None:
        raise error
