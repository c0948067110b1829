"""Format detection and the two public entry points, :func:`read` and :func:`save`."""

from __future__ import annotations

import errno
import importlib
import os
import stat
from pathlib import Path
from typing import Sequence

from io_adapters.errors import InputError
from io_adapters.simulation import Simulation

#: Format name -> module whose ``read(path)`` returns a Simulation.
FORMATS = {
    "nirom": "io_adapters.store",
    "zset": "io_adapters.zset",
    "ansys": "io_adapters.ansys",
    "fenics": "io_adapters.fenics",
    "meshio": "io_adapters.meshio_generic",
}

_BY_SUFFIX = {
    ".ut": "zset", ".cut": "zset", ".geof": "zset", ".geo": "zset",
    ".rst": "ansys", ".rth": "ansys", ".cdb": "ansys",
    ".bp": "fenics",
}


def file_problem(path: str | os.PathLike) -> str | None:
    """Why ``path`` cannot be read as a regular file, or None when it can.

    Tells apart a missing file, a dangling symbolic link, a loop of symbolic
    links, a directory, a special file (FIFO, device, socket) and a file this
    process may not read, so that a reader never reports "missing" for a file that
    is there, nor skips one it cannot open.
    """
    path = Path(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return "is a symbolic link to a missing file" if os.path.islink(path) else "no such file"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a loop of symbolic links"
        if exc.errno == errno.ENAMETOOLONG:
            return "has a name too long for the file system"
        if exc.errno == errno.EACCES:
            return "cannot be reached (permission denied on a folder of its path)"
        if exc.errno == errno.ENOTDIR:
            return "no such file (a part of its path is a file, not a folder)"
        return f"cannot be examined ({exc.strerror or exc})"
    except ValueError as exc:   # an embedded NUL byte
        return f"is not a valid path ({exc})"
    if stat.S_ISDIR(info.st_mode):
        return "is a directory, not a file"
    if not stat.S_ISREG(info.st_mode):
        return "is not a regular file (a FIFO, device or socket)"
    if not os.access(path, os.R_OK):
        return "is not readable (permission denied)"
    return None


def check_file(path: str | os.PathLike, what: str = "file") -> Path:
    """``path`` as a Path, or InputError naming it and saying why it cannot be read.

    Parameters
    ----------
    path : path
    what : str
        What the file is, for the message (``"Zset .ut file"``).
    """
    problem = file_problem(path)
    if problem is not None:
        raise InputError(f"{path}: {problem}" + ("" if what == "file" else f" (expected {what})"))
    return Path(path)


def read_text_file(path: str | os.PathLike, what: str, *, nul: str | None = None) -> tuple[Path, str]:
    """A text file (Latin-1: every byte decodes), checked by :func:`check_file`.

    Parameters
    ----------
    path : path
    what : str
        What the file is, for the messages (``"a Zset .ut file"``).
    nul : str, optional
        When given, a NUL byte is refused: ``"<path>, line <n>: a NUL byte; <nul>"``.

    Returns
    -------
    (Path, str)

    Raises
    ------
    InputError
        Naming the file: cannot be read (and why), or a NUL byte with its line.
    """
    path = check_file(path, what)
    try:
        text = path.read_text(encoding="latin-1")
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if nul is not None and "\0" in text:
        line = text.count("\n", 0, text.index("\0")) + 1
        raise InputError(f"{path}, line {line}: a NUL byte; {nul}")
    return path, text


def detect_format(path: str | os.PathLike | Sequence[str | os.PathLike]) -> str:
    """Name of the format of a file (or of a list of Zset subdomain files).

    Detection uses the suffix, and the content where a suffix is shared
    (``.h5`` stores, dolfinx ``.xdmf`` versus other XDMF files).
    """
    if isinstance(path, (list, tuple)):
        suffixes = {Path(p).suffix.lower() for p in path}
        if suffixes == {".ut"}:
            return "zset"
        raise InputError(f"several files can only be Zset subdomain results (.ut), found {sorted(suffixes)}")
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in _BY_SUFFIX:
        return _BY_SUFFIX[suffix]
    if suffix in (".h5", ".hdf5", ".nirom"):
        from io_adapters.store import store_problem

        problem = store_problem(p)
        if problem is None:
            return "nirom"
        raise InputError(problem)
    if suffix == ".xdmf":
        from io_adapters.fenics import is_dolfinx_xdmf

        return "fenics" if is_dolfinx_xdmf(p) else "meshio"
    return "meshio"


def read(path, format: str | None = None, **options) -> Simulation:
    """Read the results of a simulation, whatever solver wrote them.

    Parameters
    ----------
    path : path or list of paths
        A result file (Zset ``.ut`` or ``.cut``, Ansys ``.rst``, dolfinx ``.xdmf``,
        a nirom ``.h5`` store, any meshio format or ``.pvd`` series), a mesh file,
        or several Zset subdomain ``.ut`` files to merge.
    format : {"nirom", "zset", "ansys", "fenics", "meshio"}, optional
        Skip detection.
    **options
        Passed to the format's reader.

    Returns
    -------
    Simulation
        Field values stay in their files until read (``field.read(...)``).
    """
    if not isinstance(path, (list, tuple)):
        problem = file_problem(path)
        if problem is not None and not (problem == "is a directory, not a file" and Path(path).suffix.lower() == ".bp"):
            raise InputError(f"{path}: {problem}")
    name = format or detect_format(path)
    if name not in FORMATS:
        raise InputError(f"unknown format '{name}' (known: {', '.join(FORMATS)})")
    module = importlib.import_module(FORMATS[name])
    return module.read(path, **options)


def save(simulation: Simulation, path: str | os.PathLike, **options) -> Path:
    """Write a simulation to a nirom HDF5 store (plus its XDMF sidecar), atomically.

    See :func:`io_adapters.store.write` for the options.
    """
    from io_adapters.store import write

    return write(simulation, path, **options)
