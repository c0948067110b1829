"""Write one store from the rows each rank holds (a distributed result, never gathered).

:func:`write_partitioned` is collective over ``comm``: rank 0 creates the store under a
temporary name (mesh, times, empty datasets), then the ranks write their rows in turn
(HDF5 without MPI-IO takes one writer at a time), each step by step, so no rank ever
holds more than its own rows of one step of one field; rank 0 adds the XDMF views,
records the checksums (one read-back pass), marks the file complete and
renames it. Rows held by several ranks (interface nodes)
are written by each with the same values. An error on any rank ends every rank with
that rank's message (nothing is published; the temporary file is removed).
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from io_adapters.errors import ConfigError, ConvergenceError, InputError, MeshMismatchError, NiromError
from io_adapters.mesh import Mesh
from io_adapters.simulation import support_size
from io_adapters.store import integrity
from io_adapters.store.files import publish
from io_adapters.store.hdf5 import _rows_per_chunk, _write_mesh
from io_adapters.store.layout import FORMAT_NAME, FORMAT_VERSION

__all__ = ["write_partitioned"]


def write_partitioned(path, mesh: Mesh, times, fields: Mapping[str, tuple], rows: Mapping[str, np.ndarray],
                      values: Callable[[str, int], np.ndarray], *, comm=None, parameters=None, provenance=None,
                      xdmf: bool = True) -> Path:
    """Write a store whose rows are spread over the ranks (collective).

    Parameters
    ----------
    path : path
        The ``.h5`` store (and its ``.xdmf`` sidecar), written atomically.
    mesh : Mesh
    times : (n_t,) array
    fields : dict[str, (support, components, rule)]
    rows : dict[str, (r,) int array]
        The rows of each field this rank writes (distinct).
    values : callable(name, step) -> (r, n_components) array
        This rank's values of a field at a step, in the order of ``rows[name]``.
    comm : communicator, optional
    parameters, provenance : dict
    xdmf : bool

    Returns
    -------
    Path
    """
    import h5py

    path = Path(path)
    rank, size = (0, 1) if comm is None else (comm.rank, comm.size)
    times = np.asarray(times, dtype=np.float64)
    tmp = None
    if rank == 0:
        tmp = _share(comm, lambda: _create(path, mesh, times, fields, parameters, provenance))
    else:
        _share(comm, lambda: None)
    tmp = Path(comm.bcast(str(tmp), root=0)) if comm is not None and size > 1 else tmp
    try:
        for turn in range(size):
            def write_mine():
                with h5py.File(tmp, "r+") as f:
                    datasets = {f["fields"][k].attrs["name"]: f["fields"][k] for k in f["fields"]}
                    for name in fields:
                        mine = np.asarray(rows[name], dtype=np.int64)
                        order = np.argsort(mine)
                        if len(mine) and np.any(np.diff(mine[order]) == 0):
                            raise InputError(f"{path}: rank {rank} gives some rows of '{name}' twice")
                        d = datasets[name]
                        if len(mine) and (mine[order[0]] < 0 or mine[order[-1]] >= d.shape[1]):
                            raise InputError(f"{path}: rows of '{name}' out of [0, {d.shape[1]})")
                        for step in range(len(times)):
                            v = np.asarray(values(name, step), dtype=np.float64).reshape(len(mine), d.shape[2])
                            if not np.all(np.isfinite(v)):
                                raise InputError(f"{path}: field '{name}' has non-finite values at step {step}")
                            if len(mine):
                                d[step, mine[order]] = v[order]
            _share(comm, write_mine if turn == rank else (lambda: None))
        if rank == 0:
            _share(comm, lambda: _finish(tmp, path, mesh, times, fields, xdmf))
        else:
            _share(comm, lambda: None)
    except BaseException:
        if rank == 0:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        raise
    return path


def _create(path: Path, mesh, times, fields, parameters, provenance) -> Path:
    import h5py

    from io_adapters.store.files import remove_stale_temporaries, temporary_beside

    remove_stale_temporaries(path)
    tmp = temporary_beside(path)
    try:
        with h5py.File(tmp, "w", libver=("v110", "latest")) as f:
            f.attrs["format"] = FORMAT_NAME
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["complete"] = 0
            f.attrs["writer"] = "nirom"
            _write_mesh(f.create_group("mesh"), mesh)
            f.create_dataset("times", data=times)
            f.create_group("parameters").attrs["json"] = json.dumps(parameters or {})
            f.create_group("provenance").attrs["json"] = json.dumps(provenance or {})
            group = f.create_group("fields")
            for i, (field_name, (support, components, rule)) in enumerate(fields.items()):
                n_rows, n_comp = support_size(mesh, support, rule), len(components)
                d = group.create_dataset(str(i), shape=(len(times), n_rows, n_comp), dtype=np.float64,
                                         chunks=(1, _rows_per_chunk(n_rows, n_comp, 8), n_comp) if n_rows else None)
                d.attrs["name"] = field_name
                d.attrs["support"] = support
                d.attrs["components"] = json.dumps(list(components))
                d.attrs["rule"] = rule or ""
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


class _Shape:
    """What :func:`add_virtual_steps` reads of a simulation: mesh, fields' support and shape, steps."""

    def __init__(self, mesh, times, fields):
        self.mesh, self.n_times = mesh, len(times)
        self.fields = {n: _FieldShape(s, (len(times), support_size(mesh, s, r), len(c)))
                       for n, (s, c, r) in fields.items()}


class _FieldShape:
    def __init__(self, support, shape):
        self.support, self.shape = support, shape


def _finish(tmp: Path, path: Path, mesh, times, fields, xdmf: bool) -> None:
    import h5py

    with h5py.File(tmp, "r+") as f:
        if xdmf:
            from io_adapters.store.xdmf import add_virtual_steps

            add_virtual_steps(f, _Shape(mesh, times, fields))
        integrity.seal(f, path)                  # reads every rank's rows back once: the checksums
        f.attrs["complete"] = 1
    publish(tmp, path)
    if xdmf:
        from io_adapters.store.hdf5 import read
        from io_adapters.store.xdmf import write_sidecar

        write_sidecar(read(path), path)


def _share(comm, work: Callable):
    """Run ``work`` here; if it failed on any rank, raise that rank's error on every rank."""
    error, result = None, None
    try:
        result = work()
    except Exception as exc:              # noqa: BLE001  (re-raised below, on every rank)
        error = exc
    if comm is None or comm.size == 1:
        if error is not None:
            raise error
        return result
    report = None if error is None else (type(error).__name__, str(error), comm.rank)
    reports = [r for r in comm.allgather(report) if r is not None]
    if reports:
        kind, message, where = reports[0]
        if error is not None and where == comm.rank:
            raise error
        kinds = {c.__name__: c for c in (InputError, MeshMismatchError, ConvergenceError, ConfigError)}
        raise kinds.get(kind, NiromError)(f"rank {where}: {message}")
    return result
