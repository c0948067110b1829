"""Format detection and the two public entry points, :func:`read` and :func:`save`."""

from __future__ import annotations

import importlib
import os
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
        from io_adapters.store import is_store

        if is_store(p):
            return "nirom"
        raise InputError(f"{p}: not a nirom store (no 'nirom-simulation' format attribute); "
                         "HDF5 files of other tools are read through their .xdmf/.med file")
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
    if not isinstance(path, (list, tuple)) and not Path(path).exists():
        raise InputError(f"{path}: no such file")
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
