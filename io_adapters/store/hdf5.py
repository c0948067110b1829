"""Write and read a Simulation in the nirom HDF5 store (layout in :mod:`.layout`)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from io_adapters.atomic import atomic_path
from io_adapters.errors import InputError
from io_adapters.mesh import Mesh
from io_adapters.quadrature_rules import point_rows_of_cells
from io_adapters.simulation import Field, Index, Simulation, index_length, normalize_index
from io_adapters.store.layout import CHUNK_BYTES, FORMAT_NAME, FORMAT_VERSION

log = logging.getLogger(__name__)


# ====================================================================== write
def write(
    simulation: Simulation,
    path: str | os.PathLike,
    *,
    xdmf: bool = True,
    dtype: str | None = None,
    on_step: Callable[[int, int], None] | None = None,
) -> Path:
    """Write a simulation to an HDF5 store, time step by time step, atomically.

    Field values are streamed: one time step and one block of rows of one field
    at a time, so a conversion never holds more than the mesh and a few blocks.

    Parameters
    ----------
    simulation : Simulation
        Fields may be in memory or in their source files.
    path : path
        The ``.h5`` file; the XDMF sidecar goes beside it as ``<stem>.xdmf``.
    xdmf : bool
        Also write the XDMF sidecar (nodal and cell fields, for ParaView and
        ``meshio.xdmf.TimeSeriesReader``).
    dtype : {"float32", "float64"}, optional
        Storage precision of every field; each field keeps its source precision
        when omitted.
    on_step : callable(done, total), optional
        Called after each time step (progress display).

    Returns
    -------
    Path
        The store's path.
    """
    import h5py

    path = Path(path)
    sim = simulation
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w", libver=("v110", "latest")) as f:
            f.attrs["format"] = FORMAT_NAME
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["complete"] = 0
            f.attrs["writer"] = "nirom"
            _write_mesh(f.create_group("mesh"), sim.mesh)
            f.create_dataset("times", data=sim.times)
            f.create_group("parameters").attrs["json"] = json.dumps(sim.parameters)
            f.create_group("provenance").attrs["json"] = json.dumps(sim.provenance)
            datasets = _create_field_datasets(f.create_group("fields"), sim.fields, dtype)
            _stream_fields(sim, datasets, on_step)
            if xdmf:
                from io_adapters.store.xdmf import add_virtual_steps

                add_virtual_steps(f, sim)
            stored_dtypes = {name: d.dtype for name, d in datasets.items()}
            f.attrs["complete"] = 1
    if xdmf:
        from io_adapters.store.xdmf import write_sidecar

        write_sidecar(sim, path, stored_dtypes)
    log.info("wrote %s (%d fields, %d steps)", path, len(sim.fields), sim.n_times)
    return path


def _write_mesh(group, mesh: Mesh) -> None:
    group.attrs["dim"] = mesh.dim
    group.attrs["cell_types"] = json.dumps(list(mesh.cells))
    group.create_dataset("points", data=mesh.points)
    cells = group.create_group("cells")
    for i, conn in enumerate(mesh.cells.values()):
        cells.create_dataset(str(i), data=conn)
    if mesh.point_ids is not None:
        group.create_dataset("point_ids", data=mesh.point_ids)
    if mesh.cell_ids is not None:
        group.create_dataset("cell_ids", data=mesh.cell_ids)
    for kind in ("node_sets", "cell_sets"):
        sets = group.create_group(kind)
        for i, (name, ids) in enumerate(getattr(mesh, kind).items()):
            sets.create_dataset(str(i), data=ids).attrs["name"] = name
    faces = group.create_group("face_sets")
    for i, (name, blocks) in enumerate(mesh.face_sets.items()):
        g = faces.create_group(str(i))
        g.attrs["name"] = name
        g.attrs["types"] = json.dumps(list(blocks))
        for j, conn in enumerate(blocks.values()):
            g.create_dataset(str(j), data=conn)


def _rows_per_chunk(n_rows: int, n_components: int, itemsize: int) -> int:
    return int(max(1, min(n_rows, CHUNK_BYTES // max(1, n_components * itemsize))))


def _create_field_datasets(group, fields: dict[str, Field], dtype: str | None) -> dict:
    datasets = {}
    for i, (name, fld) in enumerate(fields.items()):
        stored = np.dtype(dtype) if dtype else fld.stored_dtype
        if stored not in (np.dtype("float32"), np.dtype("float64")):
            raise InputError(f"field '{name}': storage precision must be float32 or float64, found {stored}")
        n_t, n_rows, n_comp = fld.shape
        chunks = (1, _rows_per_chunk(n_rows, n_comp, stored.itemsize), n_comp) if n_t and n_rows else None
        dset = group.create_dataset(str(i), shape=fld.shape, dtype=stored, chunks=chunks)
        dset.attrs["name"] = name
        dset.attrs["support"] = fld.support
        dset.attrs["components"] = json.dumps(list(fld.components))
        dset.attrs["rule"] = fld.rule or ""
        datasets[name] = dset
    return datasets


def _stream_fields(sim: Simulation, datasets: dict, on_step) -> None:
    """Copy every field into its dataset, step by step and block of rows by block.

    Fields of the same rows are visited together for each block, so that a
    source reading several fields from one record (Zset ``.integ``) reads it once.
    """
    groups: dict[tuple, list[str]] = {}
    for name, fld in sim.fields.items():
        groups.setdefault((fld.support, fld.rule, fld.shape[1]), []).append(name)
    for step in range(sim.n_times):
        for (_, _, n_rows), names in groups.items():
            block = min(datasets[n].chunks[1] for n in names) if n_rows else 0
            for start in range(0, n_rows, max(block, 1)):
                rows = slice(start, min(start + block, n_rows))
                for name in names:
                    datasets[name][step, rows] = sim.fields[name].read(slice(step, step + 1), rows)[0]
        if on_step is not None:
            on_step(step + 1, sim.n_times)


# ======================================================================= read
def has_format(path: str | os.PathLike, name: str) -> bool:
    """True when ``path`` is an HDF5 file whose ``format`` attribute is ``name``."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return f.attrs.get("format") == name
    except OSError:
        return False


def is_store(path: str | os.PathLike) -> bool:
    """True when ``path`` is an HDF5 file carrying the nirom store's format name."""
    return has_format(path, FORMAT_NAME)


def _open(path: Path):
    import h5py

    if not path.exists():
        raise InputError(f"{path}: no such file")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise InputError(f"{path}: not a readable HDF5 file ({exc}); was the write interrupted?") from None


def _validate_header(f, path: Path) -> None:
    fmt = f.attrs.get("format")
    if fmt != FORMAT_NAME:
        raise InputError(f"{path}: not a nirom store (format attribute {fmt!r}, expected {FORMAT_NAME!r})")
    version = int(f.attrs.get("format_version", -1))
    if version != FORMAT_VERSION:
        raise InputError(
            f"{path}: store format version {version}, this nirom reads version {FORMAT_VERSION}"
            + (" (written by a newer nirom: upgrade)" if version > FORMAT_VERSION else "")
        )
    if int(f.attrs.get("complete", 0)) != 1:
        raise InputError(f"{path}: the store is incomplete (its writer did not finish)")
    for required in ("mesh/points", "mesh/cells", "times", "fields"):
        if required not in f:
            raise InputError(f"{path}: missing '/{required}' (corrupt store)")


def _read_mesh(group, path: Path) -> Mesh:
    try:
        cell_types = json.loads(group.attrs["cell_types"])
        cells = {t: group["cells"][str(i)][()] for i, t in enumerate(cell_types)}
        node_sets = {d.attrs["name"]: d[()] for d in _numbered(group["node_sets"])}
        cell_sets = {d.attrs["name"]: d[()] for d in _numbered(group["cell_sets"])}
        face_sets = {}
        for g in _numbered(group["face_sets"]):
            types = json.loads(g.attrs["types"])
            face_sets[g.attrs["name"]] = {t: g[str(j)][()] for j, t in enumerate(types)}
        return Mesh(
            points=group["points"][()],
            cells=cells,
            node_sets=node_sets,
            cell_sets=cell_sets,
            face_sets=face_sets,
            point_ids=group["point_ids"][()] if "point_ids" in group else None,
            cell_ids=group["cell_ids"][()] if "cell_ids" in group else None,
            dim=int(group.attrs["dim"]),
        )
    except (KeyError, ValueError) as exc:
        raise InputError(f"{path}: corrupt mesh group ({exc})") from None
    except InputError as exc:
        raise InputError(f"{path}: invalid mesh: {exc}") from None


def _numbered(group) -> list:
    return [group[str(i)] for i in range(len(group))]


class StoredFieldSource:
    """A field of a store, read on demand (optionally a subset of its steps and rows).

    Parameters
    ----------
    path : Path
    dataset : str
        HDF5 path of the field's dataset.
    shape : (n_times, n_rows, n_components) of the dataset
    dtype : stored precision
    step_map, row_map : int arrays, optional
        Dataset steps / rows this source exposes (all when None).
    """

    def __init__(self, path: Path, dataset: str, name: str, shape, dtype, chunk_rows: int,
                 step_map: np.ndarray | None = None, row_map: np.ndarray | None = None):
        self.path = path
        self.dataset = dataset
        self.name = name
        self.dtype = np.dtype(dtype)
        self.chunk_rows = chunk_rows
        self.step_map = step_map
        self.row_map = row_map
        n_t = shape[0] if step_map is None else len(step_map)
        n_rows = shape[1] if row_map is None else len(row_map)
        self.shape = (int(n_t), int(n_rows), int(shape[2]))
        self.origin = f"{path}: field '{name}'"

    def read(self, steps: Index, rows: Index) -> np.ndarray:
        steps = _compose(self.step_map, steps)
        rows = _compose(self.row_map, rows)
        with _open(self.path) as f:
            dset = f[self.dataset]
            return _read_rows(dset, steps, rows, self.chunk_rows)


def _compose(mapping: np.ndarray | None, index: Index) -> Index:
    if mapping is None:
        return index
    return normalize_index(mapping[index], int(mapping.max()) + 1 if len(mapping) else 0, "rows")


def _read_rows(dset, steps: Index, rows: Index, chunk_rows: int) -> np.ndarray:
    """Read (steps, rows) touching only the chunks that hold the rows."""
    n_steps, n_rows = index_length(steps), index_length(rows)
    step_sel = steps if isinstance(steps, slice) else list(steps)
    if n_steps == 0 or n_rows == 0:
        return np.zeros((n_steps, n_rows, dset.shape[2]), dtype=np.float64)
    if isinstance(rows, slice):
        return dset[step_sel, rows].astype(np.float64, copy=False)
    out = np.empty((n_steps, n_rows, dset.shape[2]), dtype=np.float64)
    chunk_of = rows // chunk_rows
    bounds = np.flatnonzero(np.diff(chunk_of)) + 1
    for part in np.split(np.arange(n_rows), bounds):
        first, last = int(rows[part[0]]), int(rows[part[-1]])
        block = dset[step_sel, first : last + 1]
        out[:, part] = block[:, rows[part] - first]
    return out


def read(
    path: str | os.PathLike,
    *,
    fields: Sequence[str] | None = None,
    steps: Iterable[int] | slice | None = None,
    cells: np.ndarray | None = None,
) -> Simulation:
    """Open a store as a Simulation whose fields are read on demand.

    Parameters
    ----------
    path : path
    fields : list of str, optional
        Only these fields (all when omitted).
    steps : slice or int array, optional
        Only these time steps.
    cells : (k,) int array, optional
        Only these cells (a rank's subdomain): the Simulation's mesh is the
        submesh of these cells (``point_ids``/``cell_ids`` hold the parent's
        indices) and every field exposes only its rows — nodes of these cells,
        their integration points, or the cells themselves. Reading then costs in
        proportion to the rows read.

    Returns
    -------
    Simulation
    """
    path = Path(path)
    with _open(path) as f:
        _validate_header(f, path)
        mesh = _read_mesh(f["mesh"], path)
        times = f["times"][()]
        parameters = json.loads(f["parameters"].attrs["json"]) if "parameters" in f else {}
        provenance = json.loads(f["provenance"].attrs["json"]) if "provenance" in f else {}
        stored = {}
        for dset in _numbered(f["fields"]):
            try:
                stored[dset.attrs["name"]] = (
                    dset.name, dset.shape, dset.dtype, dset.chunks[1] if dset.chunks else max(dset.shape[1], 1),
                    dset.attrs["support"], tuple(json.loads(dset.attrs["components"])), dset.attrs["rule"] or None,
                )
            except KeyError as exc:
                raise InputError(f"{path}: field dataset {dset.name} lacks attribute {exc}") from None
    if fields is not None:
        missing = [n for n in fields if n not in stored]
        if missing:
            raise InputError(f"{path}: no field {', '.join(missing)} (has: {', '.join(stored) or 'none'})")
        stored = {n: stored[n] for n in fields}

    step_map = None
    if steps is not None:
        selected = normalize_index(steps, len(times), "time steps")
        step_map = np.arange(len(times))[selected]
        times = times[step_map]
    row_maps: dict[tuple, np.ndarray | None] = {}
    if cells is not None:
        parent = mesh
        mesh, nodes = parent.submesh(cells)
        kept = mesh.cell_ids
        row_maps[("node", None)] = nodes
        row_maps[("cell", None)] = kept
        for *_, support, _, rule in stored.values():
            if support == "integration_point":
                row_maps[(support, rule)] = point_rows_of_cells(parent.cells, rule, kept)

    result = {}
    for name, (dataset, shape, dtype, chunk_rows, support, components, rule) in stored.items():
        source = StoredFieldSource(path, dataset, name, shape, dtype, chunk_rows,
                                   step_map=step_map, row_map=row_maps.get((support, rule)))
        result[name] = Field(support, components, source, rule)
    try:
        return Simulation(mesh, times, result, parameters, provenance)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None


def read_field(path: str | os.PathLike, name: str, *, steps=None, rows=None) -> np.ndarray:
    """Values of one field of a store at some steps and rows.

    Returns
    -------
    (n_steps, n_rows, n_components) float64 array
    """
    return read(path, fields=[name]).fields[name].read(steps, rows)
