"""The files around a store: what a path holds, temporaries, publication.

- :func:`hdf5_problem` says what a file that should be a store really is (empty,
  not HDF5, a truncated or corrupt HDF5 file, with h5py's reason), naming it.
- Writers build a store under a hidden temporary name beside it,
  ``.<name>.tmp-<pid>@<host>-<random>``, and rename it when it is complete
  (:func:`publish`). A killed writer leaves its temporary behind; the next
  writer of the same output removes the temporaries whose writer is gone
  (:func:`remove_stale_temporaries`: same host, process no longer alive, file
  older than the current process). Temporaries of another host, or of a
  process that is still running, are left alone; so are those named by an
  earlier nirom (no process id in the name), which are only reported.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import struct
import tempfile
import time
from pathlib import Path

from io_adapters.formats import file_problem

log = logging.getLogger(__name__)

#: The 8 bytes that start an HDF5 file (at byte 0, or 512, 1024, 2048… after a user block).
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"

_STARTED = time.time()          # temporaries older than this are not this process's
_TEMPORARY = re.compile(r"^(?P<pid>\d+)@(?P<host>.+)-[A-Za-z0-9_]+$")


# ------------------------------------------------------------------ what a file is
def hdf5_problem(path: str | os.PathLike) -> str | None:
    """Why ``path`` is not a readable HDF5 file, or None when h5py opens it.

    The answer does not start with the path; callers prefix it.
    """
    import h5py

    problem = file_problem(path)
    if problem is not None:
        return problem
    size = os.path.getsize(path)
    if size == 0:
        return "empty file (0 bytes), not an HDF5 file (was its writer killed before it wrote anything?)"
    with open(path, "rb") as fh:
        base = _signature_offset(fh, size)
        if base is None:
            fh.seek(0)
            head = fh.read(16)
            return (f"not an HDF5 file ({size} bytes without the HDF5 signature at byte 0, 512, 1024…; "
                    f"it starts with {head!r})")
        declared = _declared_size(fh, base)
    if declared is not None and declared > size:
        return (f"truncated HDF5 file: its superblock says {declared} bytes, the file has {size} "
                "(was the copy or the write interrupted?)")
    try:
        h5py.File(path, "r").close()
    except Exception as exc:  # noqa: BLE001  h5py raises OSError, RuntimeError, ValueError… on corrupt files
        return f"corrupt HDF5 file (h5py: {_reason(exc)})"
    return None


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _signature_offset(fh, size: int) -> int | None:
    offset = 0
    while offset + len(HDF5_SIGNATURE) <= size:
        fh.seek(offset)
        if fh.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE:
            return offset
        offset = 512 if offset == 0 else 2 * offset
    return None


def _declared_size(fh, base: int) -> int | None:
    """End-of-file address recorded in the superblock (absolute), None if unreadable."""
    fh.seek(base + 8)
    head = fh.read(24)
    if len(head) < 4:
        return None
    version = head[0]
    if version in (0, 1):
        if len(head) < 7:
            return None
        width = head[5]
        start = base + (24 if version == 0 else 28)
    elif version in (2, 3):
        width = head[1]
        start = base + 12
    else:
        return None
    if width not in (2, 4, 8):
        return None
    fh.seek(start)
    raw = fh.read(4 * width)
    if len(raw) < 3 * width:
        return None
    fmt = {2: "<H", 4: "<I", 8: "<Q"}[width]
    base_address = struct.unpack(fmt, raw[:width])[0]
    eof = struct.unpack(fmt, raw[2 * width:3 * width])[0]
    undefined = (1 << (8 * width)) - 1
    if eof == undefined or base_address == undefined:
        return None
    return base_address + eof


# -------------------------------------------------------------------- temporaries
def _host() -> str:
    return socket.gethostname().replace(os.sep, "_") or "localhost"


def temporary_beside(final: str | os.PathLike) -> Path:
    """Create an empty temporary file beside ``final``, its writer's pid and host in its name."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{final.name}.tmp-{os.getpid()}@{_host()}-", dir=final.parent)
    os.close(fd)
    return Path(name)


def _alive(pid: int, modified: float) -> bool:
    if pid == os.getpid():
        return modified >= _STARTED      # older: a former process that had our pid
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:              # another user's process
        return True
    except OSError:
        return True
    return True


def remove_stale_temporaries(final: str | os.PathLike) -> list[Path]:
    """Remove the temporaries of ``final`` left by writers that are gone (see the module docstring).

    Returns
    -------
    list[Path]
        The temporaries removed.
    """
    final = Path(final)
    prefix = f".{final.name}.tmp-"
    removed: list[Path] = []
    try:
        entries = list(os.scandir(final.parent))
    except OSError:
        return removed
    host = _host()
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        match = _TEMPORARY.match(entry.name[len(prefix):])
        try:
            modified = entry.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        if match is None:
            log.warning("%s: left by an interrupted writer of an earlier nirom (no process id in its name); "
                        "remove it by hand if no conversion is running", entry.path)
            continue
        if match.group("host") != host or modified >= _STARTED or _alive(int(match.group("pid")), modified):
            continue
        with contextlib.suppress(FileNotFoundError):
            os.unlink(entry.path)
            removed.append(Path(entry.path))
            log.info("%s: removed (left by writer process %s, which is gone)", entry.path, match.group("pid"))
    return removed


def publish(temporary: Path, final: Path) -> None:
    """Give the temporary the usual permissions and rename it to ``final`` (atomic)."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(temporary, 0o666 & ~mask)   # what open() would have given (mkstemp makes 0600)
    os.replace(temporary, final)


@contextlib.contextmanager
def building(final: str | os.PathLike):
    """Yield a fresh temporary beside ``final``, removed if the block fails.

    Stale temporaries of ``final`` are removed first. The caller publishes the
    temporary (:func:`publish`) when it is complete.
    """
    final = Path(final)
    remove_stale_temporaries(final)
    temporary = temporary_beside(final)
    try:
        yield temporary
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
