"""Progress of long work, told to whoever listens — by default nobody.

Library code says how far a task has come; it never draws anything::

    from rom import progress

    for k in range(1, n_steps + 1):
        ...
        progress.advance("HF steps", k, n_steps)

A *reporter* receives these calls. None is installed by default, so :func:`advance`
costs one context-variable lookup and does nothing. The ``nirom`` command line
installs one that draws tqdm bars on rank 0 (:mod:`mpi_drivers.cli`); a script or a
test can install its own for a block of code::

    seen = []
    with progress.reporting(lambda task, done, total, detail: seen.append((task, done))):
        rom.hifi.solve(problem)

The reporter lives in a :mod:`contextvars` variable: it is local to the context
(thread or task) that installed it, nothing is global, and no MPI is involved — each
rank calls :func:`advance` and each rank's own reporter (or none) hears it.

A reporter is a callable ``reporter(task, done, total, detail)``:

task : str
    What advances (``"HF steps"``, ``"POD U: Gram blocks"``); the same name again
    with a smaller ``done`` starts the task over (a second solve).
done : int
    Units finished so far.
total : int or None
    Units in all (None when unknown).
detail : str or None
    What is being done now (``"ECM"``), for display.

A reporter that raises is removed for the rest of the block (progress display must
never stop a computation); the error is logged once.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from typing import Callable, Iterator, Optional

__all__ = ["Reporter", "active", "advance", "reporting", "task"]

log = logging.getLogger(__name__)

#: ``reporter(task, done, total, detail)``.
Reporter = Callable[[str, int, Optional[int], Optional[str]], None]

_reporter: contextvars.ContextVar[Reporter | None] = contextvars.ContextVar("nirom_progress", default=None)


def advance(task: str, done: int, total: int | None = None, *, detail: str | None = None) -> None:
    """Tell the current reporter (if any) that ``done`` of ``total`` units of ``task`` are finished."""
    reporter = _reporter.get()
    if reporter is None:
        return
    try:
        reporter(task, int(done), None if total is None else int(total), detail)
    except Exception as exc:              # a display problem never stops the computation
        log.warning("progress display disabled: %s: %s", type(exc).__name__, exc)
        _reporter.set(None)


@contextlib.contextmanager
def reporting(reporter: Reporter | None) -> Iterator[None]:
    """Install ``reporter`` for the block (None: silence it); the previous one comes back after."""
    token = _reporter.set(reporter)
    try:
        yield
    finally:
        _reporter.reset(token)


@contextlib.contextmanager
def task(name: str, total: int | None = None) -> Iterator[Callable[..., None]]:
    """A task advanced by calling the yielded function with the units done (or nothing: one more).

    ::

        with progress.task("local models", len(clusters)) as step:
            for cluster in clusters:
                build(cluster)
                step()
    """
    count = [0]

    def step(done: int | None = None, *, detail: str | None = None) -> None:
        count[0] = count[0] + 1 if done is None else int(done)
        advance(name, count[0], total, detail=detail)

    yield step


def active() -> bool:
    """Whether a reporter listens (to skip work that only feeds the display)."""
    return _reporter.get() is not None
