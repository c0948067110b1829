"""Write and read a Simulation in the nirom HDF5 store (layout in :mod:`.layout`)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from io_adapters.errors import InputError
from io_adapters.formats import file_problem
from io_adapters.mesh import NODES_PER_CELL, Mesh
from io_adapters.quadrature_rules import point_rows_of_cells
from io_adapters.simulation import SUPPORTS, Field, Index, Simulation, check_finite, index_length, normalize_index
import io_adapters.store.integrity as integrity
from io_adapters.store.files import building, hdf5_problem
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
    The checksums of every dataset are computed as it is written and recorded
    last (:mod:`io_adapters.store.integrity`).

    Parameters
    ----------
    simulation : Simulation
        Fields may be in memory or in their source files.
    path : path
        The ``.h5`` file; the XDMF sidecar goes beside it as ``<stem>.xdmf``.
        Temporaries of this path left by killed writers are removed first.
    xdmf : bool
        Also write the XDMF sidecar (nodal and cell fields, for ParaView and
        ``meshio.xdmf.TimeSeriesReader``). Without it, an old sidecar of the
        path is removed (it would describe the old store).
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

    from io_adapters.store.xdmf import add_virtual_steps, publish_pair, sidecar_path, sidecar_temporary, sidecar_text

    path = Path(path)
    if sidecar_path(path) == path:
        raise InputError(f"{path}: a store cannot end in .xdmf (its sidecar takes that name)")
    sim = simulation
    with building(path) as tmp:
        with h5py.File(tmp, "w", libver=("v110", "latest")) as f:
            write_header(f, sim.mesh, sim.parameters, sim.provenance)
            f.create_dataset("times", data=sim.times)
            datasets = _create_field_datasets(f.create_group("fields"), sim.fields, dtype, path)
            sums = _stream_fields(sim, datasets, on_step)
            if xdmf:
                add_virtual_steps(f, sim)
            stored_dtypes = {name: d.dtype for name, d in datasets.items()}
            uuid = integrity.seal(f, path, sums)
            f.attrs["complete"] = 1
        sidecar = sidecar_temporary(path, sidecar_text(sim, path, stored_dtypes, uuid)) if xdmf else None
        publish_pair(tmp, path, sidecar)
    log.info("wrote %s (%d fields, %d steps)", path, len(sim.fields), sim.n_times)
    return path


def set_text(attrs, name: str, text: str) -> None:
    """Store a text attribute as a fixed-length UTF-8 string.

    Fixed-length strings live in the object's header, which HDF5 protects with a
    checksum; variable-length ones live in the file's global heap, which it does
    not, and whose corruption can make HDF5 loop forever or crash when the
    attribute is read. Readers get bytes back (:func:`_text` decodes them).
    """
    import h5py

    data = text.encode("utf-8")
    attrs.create(name, data=np.array(data, dtype=h5py.string_dtype("utf-8", max(len(data), 1))))


def write_header(f, mesh: Mesh, parameters: dict, provenance: dict) -> None:
    """Root attributes (``complete`` = 0), mesh, parameters and provenance of a store being written."""
    set_text(f.attrs, "format", FORMAT_NAME)
    f.attrs["format_version"] = FORMAT_VERSION
    f.attrs["complete"] = 0
    set_text(f.attrs, "writer", "nirom")
    _write_mesh(f.create_group("mesh"), mesh, fixed_strings=True)
    set_text(f.create_group("parameters").attrs, "json", json.dumps(parameters or {}))
    set_text(f.create_group("provenance").attrs, "json", json.dumps(provenance or {}))


def field_attributes(dset, name: str, support: str, components, rule: str | None) -> None:
    """The attributes naming a field's dataset."""
    set_text(dset.attrs, "name", name)
    set_text(dset.attrs, "support", support)
    set_text(dset.attrs, "components", json.dumps(list(components)))
    set_text(dset.attrs, "rule", rule or "")


def _write_mesh(group, mesh: Mesh, *, fixed_strings: bool = False) -> None:
    """Write a mesh into ``group`` (stores; models share the layout).

    ``fixed_strings``: text attributes as fixed-length strings (:func:`set_text`),
    as stores write them; variable-length strings otherwise (earlier layout).
    """
    def text(attrs, name, value):
        if fixed_strings:
            set_text(attrs, name, value)
        else:
            attrs[name] = value

    group.attrs["dim"] = mesh.dim
    text(group.attrs, "cell_types", json.dumps(list(mesh.cells)))
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
            text(sets.create_dataset(str(i), data=ids).attrs, "name", name)
    faces = group.create_group("face_sets")
    for i, (name, blocks) in enumerate(mesh.face_sets.items()):
        g = faces.create_group(str(i))
        text(g.attrs, "name", name)
        text(g.attrs, "types", json.dumps(list(blocks)))
        for j, conn in enumerate(blocks.values()):
            g.create_dataset(str(j), data=conn)


def _rows_per_chunk(n_rows: int, n_components: int, itemsize: int) -> int:
    return int(max(1, min(n_rows, CHUNK_BYTES // max(1, n_components * itemsize))))


def _create_field_datasets(group, fields: dict[str, Field], dtype: str | None, path: Path | None = None) -> dict:
    datasets = {}
    for i, (name, fld) in enumerate(fields.items()):
        stored = np.dtype(dtype) if dtype else fld.stored_dtype
        if stored not in (np.dtype("float32"), np.dtype("float64")):
            raise InputError(f"{path}: field '{name}': storage precision must be float32 or float64, found {stored}")
        n_t, n_rows, n_comp = fld.shape
        chunks = (1, _rows_per_chunk(n_rows, n_comp, stored.itemsize), n_comp) if n_t and n_rows else None
        dset = group.create_dataset(str(i), shape=fld.shape, dtype=stored, chunks=chunks)
        field_attributes(dset, name, fld.support, fld.components, fld.rule)
        datasets[name] = dset
    return datasets


def _stream_fields(sim: Simulation, datasets: dict, on_step) -> dict[str, str]:
    """Copy every field into its dataset, step by step and block of rows by block.

    Fields of the same rows are visited together for each block, so that a
    source reading several fields from one record (Zset ``.integ``) reads it once.
    Each field's blocks are visited in C order, so its checksum is summed as it
    goes (values converted to the stored precision first: what is summed is what
    is written).

    Returns
    -------
    dict[str, str]
        Checksum of each field's dataset, by HDF5 path.
    """
    sums = {name: integrity.Checksum() for name in datasets}
    groups: dict[tuple, list[str]] = {}
    for name, fld in sim.fields.items():
        groups.setdefault((fld.support, fld.rule, fld.shape[1]), []).append(name)
    for step in range(sim.n_times):
        for (_, _, n_rows), names in groups.items():
            block = min(datasets[n].chunks[1] for n in names) if n_rows else 0
            for start in range(0, n_rows, max(block, 1)):
                rows = slice(start, min(start + block, n_rows))
                for name in names:
                    d = datasets[name]
                    values = np.asarray(sim.fields[name].read(slice(step, step + 1), rows)[0], dtype=d.dtype)
                    d[step, rows] = values
                    sums[name].update(values)
        if on_step is not None:
            on_step(step + 1, sim.n_times)
    return {datasets[name].name: str(total) for name, total in sums.items()}


# ======================================================================= read
def has_format(path: str | os.PathLike, name: str) -> bool:
    """True when ``path`` is an HDF5 file whose ``format`` attribute is ``name``."""
    import h5py

    if file_problem(path) is not None:
        return False
    try:
        with h5py.File(path, "r") as f:
            value = f.attrs.get("format")
    except Exception:  # noqa: BLE001  not HDF5, truncated, corrupt: not of this format
        return False
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return isinstance(value, str) and value == name


def is_store(path: str | os.PathLike) -> bool:
    """True when ``path`` is an HDF5 file carrying the nirom store's format name."""
    return has_format(path, FORMAT_NAME)


def store_problem(path: str | os.PathLike) -> str | None:
    """What keeps ``path`` from being a store (None when it is one), for messages.

    The answer names the file: a missing path, a directory, an empty file, a
    file that is not HDF5, a truncated or corrupt HDF5 file (with h5py's reason),
    or an HDF5 file that is not a nirom store (its ``format`` attribute).
    """
    import h5py

    problem = hdf5_problem(path)
    if problem is not None:
        if file_problem(path) is not None:
            return f"{path}: {problem}"
        return f"{path}: not a readable HDF5 file: {problem}"
    try:
        with h5py.File(path, "r") as f:
            fmt = f.attrs.get("format")
            members = sorted(f)[:6]
    except Exception as exc:  # noqa: BLE001
        return f"{path}: not a readable HDF5 file: corrupt HDF5 file (h5py: {exc})"
    if isinstance(fmt, bytes):
        fmt = fmt.decode("utf-8", "replace")
    if fmt == FORMAT_NAME:
        return None
    holds = f"; it holds {', '.join(repr(m) for m in members) or 'nothing'}"
    if fmt is None:
        return (f"{path}: not a nirom store: an HDF5 file without the 'format' attribute{holds} "
                "(HDF5 files of other tools are read through their .xdmf/.med file)")
    return f"{path}: not a nirom store: an HDF5 file of format {fmt!r}, expected {FORMAT_NAME!r}{holds}"


def _open(path: Path):
    import h5py

    problem = file_problem(path)
    if problem is not None:
        raise InputError(f"{path}: {problem}")
    try:
        return h5py.File(path, "r")
    except Exception:  # noqa: BLE001  h5py raises OSError and others on corrupt files
        pass
    raise InputError(store_problem(path) or f"{path}: not a readable HDF5 file")


def _text(value) -> str | None:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return None
    if isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind in "US":
        return _text(value[()])
    return str(value) if isinstance(value, str) else None


def _attribute(obj, name: str, path: Path, kind: str, *, required: bool = True, default=None):
    """An attribute of ``obj`` checked against ``kind`` (``"text"``, ``"int"``, ``"json-list"``, ``"json-dict"``)."""
    where = obj.name
    try:
        present = name in obj.attrs
        value = obj.attrs[name] if present else None
    except Exception as exc:  # noqa: BLE001  h5py cannot decode it (corrupt, unknown type)
        raise InputError(f"{path}: attribute '{name}' of '{where}' cannot be read (h5py: {exc})") from None
    if not present:
        if required:
            raise InputError(f"{path}: '{where}' lacks its '{name}' attribute (corrupt or not a nirom store)")
        return default
    if kind == "int":
        array = np.asarray(value)
        if array.shape != () or array.dtype.kind not in "iu":
            raise InputError(f"{path}: attribute '{name}' of '{where}' is {value!r} ({array.dtype}), expected an integer")
        return int(array)
    text = _text(value)
    if text is None:
        raise InputError(f"{path}: attribute '{name}' of '{where}' is {value!r} "
                         f"({type(value).__name__}), expected text")
    if kind == "text":
        return text
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: attribute '{name}' of '{where}' is not valid JSON ({exc}): {text[:80]!r}") from None
    expected = list if kind == "json-list" else dict
    if not isinstance(parsed, expected):
        raise InputError(f"{path}: attribute '{name}' of '{where}' holds a JSON {type(parsed).__name__}, "
                         f"expected a {expected.__name__}")
    return parsed


def _text_list(values: list, path: Path, where: str) -> list[str]:
    if not all(isinstance(v, str) for v in values):
        raise InputError(f"{path}: {where} must list text, found {values!r}")
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise InputError(f"{path}: {where} lists {repeated[0]!r} twice")
    return values


def _member(group, name: str, path: Path, kind: str):
    """``group[name]``, which must be a Dataset or a Group (``kind``)."""
    import h5py

    where = f"{group.name.rstrip('/')}/{name}"
    try:
        if name not in group:
            raise InputError(f"{path}: missing '{where}' (corrupt store)")
        item = group[name]
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"{path}: '{where}' cannot be opened (h5py: {exc})") from None
    wanted = h5py.Dataset if kind == "dataset" else h5py.Group
    if not isinstance(item, wanted):
        raise InputError(f"{path}: '{where}' is a {type(item).__name__.lower()}, expected a {kind}")
    return item


def _numbered(group, path: Path | None = None, kind: str | None = None) -> list:
    """Members ``0 … n-1`` of a group, in order (every other name is refused)."""
    path = path if path is not None else Path(group.file.filename)
    try:
        names = list(group)
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"{path}: the members of '{group.name}' cannot be listed (h5py: {exc})") from None
    expected = [str(i) for i in range(len(names))]
    if sorted(names) != sorted(expected):
        odd = sorted(set(names) - set(expected))
        raise InputError(f"{path}: '{group.name}' must hold members numbered 0 to {len(names) - 1}, "
                         f"found {odd[0]!r}")
    if kind is None:
        return [group[name] for name in expected]
    return [_member(group, name, path, kind) for name in expected]


def _values(dset, path: Path, kinds: str, ndim: int, checked, what: str) -> np.ndarray:
    """All values of a small dataset, its type and rank checked.

    ``checked``: False, or a list that receives ``(dataset, values)`` for the
    checksum verification the caller does once the values made sense (a
    semantic problem is reported in its own words before "checksum differs").
    """
    if dset.dtype.kind not in kinds:
        expected = {"f": "floating-point numbers", "iu": "integers", "fiu": "numbers"}[kinds]
        raise InputError(f"{path}: {what} ('{dset.name}') holds {dset.dtype}, expected {expected}")
    if dset.ndim != ndim:
        raise InputError(f"{path}: {what} ('{dset.name}') has shape {dset.shape}, expected {ndim} dimension(s)")
    try:
        values = dset[()]
    except Exception as exc:  # noqa: BLE001  h5py: corrupt chunk, bad filter…
        raise InputError(f"{path}: {what} ('{dset.name}') cannot be read (h5py: {exc})") from None
    if checked is not False:
        try:
            recorded = dset.attrs.get("checksum")
        except Exception:  # noqa: BLE001  an unreadable attribute: reported as missing, after the semantics
            recorded = None
        checked.append((dset.name, recorded, values))
    return values


def _verify(pending: list, path: Path) -> None:
    """Compare values read with the checksums recorded beside them (see :func:`_values`)."""
    for name, recorded, values in pending:
        expected = integrity.recorded_checksum(_Recorded(name, recorded), path)
        integrity.check_values(name, values, path, expected)


class _Recorded:
    """A dataset's name and recorded checksum, as :func:`integrity.recorded_checksum` reads them."""

    def __init__(self, name: str, checksum):
        self.name = name
        self.attrs = {} if checksum is None else {"checksum": checksum}


def _validate_header(f, path: Path) -> None:
    fmt = _attribute(f, "format", path, "text", required=False)
    if fmt != FORMAT_NAME:
        raise InputError(store_problem(path) or f"{path}: not a nirom store (format attribute {fmt!r})")
    version = _attribute(f, "format_version", path, "int")
    if version != FORMAT_VERSION:
        raise InputError(
            f"{path}: store format version {version}, this nirom reads version {FORMAT_VERSION}"
            + (" (written by a newer nirom: upgrade)" if version > FORMAT_VERSION else "")
        )
    if _attribute(f, "complete", path, "int", required=False, default=0) != 1:
        raise InputError(f"{path}: the store is incomplete (its writer did not finish)")
    for required in ("mesh/points", "mesh/cells", "times", "fields"):
        try:
            present = required in f
        except Exception:  # noqa: BLE001
            present = False
        if not present:
            raise InputError(f"{path}: missing '/{required}' (corrupt store)")


def _read_mesh(group, path: Path, checked: bool = False) -> Mesh:
    """The mesh of a store (or of a model) group, every array checked (see :func:`read`).

    ``checked``: verify each dataset's recorded checksum (stores that carry them).
    """
    path = Path(path)
    pending: list | bool = [] if checked else False
    dim = _attribute(group, "dim", path, "int")
    if dim not in (1, 2, 3):
        raise InputError(f"{path}: attribute 'dim' of '{group.name}' is {dim}, expected 1, 2 or 3")
    cell_types = _text_list(_attribute(group, "cell_types", path, "json-list"), path,
                            f"attribute 'cell_types' of '{group.name}'")
    unknown = [t for t in cell_types if t not in NODES_PER_CELL]
    if unknown:
        raise InputError(f"{path}: attribute 'cell_types' of '{group.name}' names unknown cell type {unknown[0]!r}")
    blocks = _numbered(_member(group, "cells", path, "group"), path, "dataset")
    if len(blocks) != len(cell_types):
        raise InputError(f"{path}: '{group.name}/cells' holds {len(blocks)} blocks, 'cell_types' names "
                         f"{len(cell_types)}")
    cells = {t: _values(d, path, "iu", 2, pending, f"the connectivity of the '{t}' cells")
             for t, d in zip(cell_types, blocks)}
    points = _values(_member(group, "points", path, "dataset"), path, "f", 2, pending, "the node coordinates")
    if points.shape[1] != 3 and not (points.shape[1] == 2 and dim == 2):
        raise InputError(f"{path}: the node coordinates ('{group.name}/points') have shape {points.shape}; "
                         f"expected (n_nodes, 3) (or (n_nodes, 2) in a mesh of dim 2, this one has dim {dim})")
    ids = {}
    for name in ("point_ids", "cell_ids"):
        if name in group:
            ids[name] = _values(_member(group, name, path, "dataset"), path, "iu", 1, pending, f"the {name}")
    sets = {}
    for kind, what in (("node_sets", "node set"), ("cell_sets", "cell set")):
        found: dict[str, np.ndarray] = {}
        for d in _numbered(_member(group, kind, path, "group"), path, "dataset"):
            name = _attribute(d, "name", path, "text")
            if name in found:
                raise InputError(f"{path}: two {what}s are named {name!r} (in '{group.name}/{kind}'); "
                                 "set names must be unique")
            found[name] = _values(d, path, "iu", 1, pending, f"{what} {name!r}")
        sets[kind] = found
    face_sets: dict[str, dict[str, np.ndarray]] = {}
    for g in _numbered(_member(group, "face_sets", path, "group"), path, "group"):
        name = _attribute(g, "name", path, "text")
        if name in face_sets:
            raise InputError(f"{path}: two face sets are named {name!r} (in '{group.name}/face_sets'); "
                             "set names must be unique")
        types = _text_list(_attribute(g, "types", path, "json-list"), path, f"attribute 'types' of '{g.name}'")
        members = _numbered(g, path, "dataset")
        if len(members) != len(types):
            raise InputError(f"{path}: face set {name!r} ('{g.name}') holds {len(members)} blocks, "
                             f"'types' names {len(types)}")
        face_sets[name] = {t: _values(d, path, "iu", 2, pending, f"face set {name!r}") for t, d in zip(types, members)}
    try:
        mesh = Mesh(points=points, cells=cells, node_sets=sets["node_sets"], cell_sets=sets["cell_sets"],
                    face_sets=face_sets, point_ids=ids.get("point_ids"), cell_ids=ids.get("cell_ids"), dim=dim)
    except InputError as exc:
        raise InputError(f"{path}: invalid mesh: {exc}") from None
    if pending:
        _verify(pending, path)
    return mesh


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
    checksum : str, optional
        The dataset's recorded checksum: reads that cover the whole dataset, at
        once or piece by piece in file order, are verified against it.
    """

    def __init__(self, path: Path, dataset: str, name: str, shape, dtype, chunk_rows: int,
                 step_map: np.ndarray | None = None, row_map: np.ndarray | None = None,
                 checksum: str | None = None):
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
        # without maps, dataset indices are the field's: finiteness is checked here, once, named by them
        self.finite_checked = step_map is None and row_map is None
        self.check = None
        if checksum is not None and self.finite_checked:
            self.check = integrity.StreamCheck(self.shape, checksum, path, dataset)

    def read(self, steps: Index, rows: Index) -> np.ndarray:
        steps = _compose(self.step_map, steps)
        rows = _compose(self.row_map, rows)
        with _open(self.path) as f:
            try:
                dset = f[self.dataset]
                if self.check is not None and isinstance(steps, slice) and isinstance(rows, slice) \
                        and index_length(steps) and index_length(rows):
                    raw = dset[steps, rows]
                    values = raw.astype(np.float64, copy=False)
                    check_finite(values, self.origin, steps, rows)   # a NaN is reported as such first
                    self.check.offer(steps, rows, raw)
                    return values
                values = _read_rows(dset, steps, rows, self.chunk_rows)
                if self.finite_checked:
                    check_finite(values, self.origin, steps, rows)
                return values
            except InputError:
                raise
            except Exception as exc:  # noqa: BLE001  h5py: corrupt chunk, bad filter…
                raise InputError(f"{self.origin}: cannot read time steps {_describe(steps)}, rows "
                                 f"{_describe(rows)} (h5py: {exc})") from None


def _describe(index: Index) -> str:
    if isinstance(index, slice):
        return f"{index.start}:{index.stop}"
    return f"{int(index[0])}…{int(index[-1])}" if len(index) else "none"


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


def _field_entries(f, path: Path, checked: bool) -> dict[str, tuple]:
    """Name → (dataset, shape, dtype, chunk rows, support, components, rule, checksum) of every field."""
    stored: dict[str, tuple] = {}
    for dset in _numbered(_member(f, "fields", path, "group"), path, "dataset"):
        name = _attribute(dset, "name", path, "text")
        if name in stored:
            raise InputError(f"{path}: two fields are named {name!r} (datasets '{stored[name][0]}' and "
                             f"'{dset.name}'); field names must be unique")
        where = f"field {name!r} ('{dset.name}')"
        if dset.ndim != 3:
            raise InputError(f"{path}: {where} has shape {dset.shape}, expected (n_times, n_rows, n_components)")
        if dset.dtype not in (np.dtype("<f4"), np.dtype("<f8"), np.dtype(">f4"), np.dtype(">f8")):
            raise InputError(f"{path}: {where} holds {dset.dtype}, expected float32 or float64 values")
        support = _attribute(dset, "support", path, "text")
        if support not in SUPPORTS:
            raise InputError(f"{path}: {where} has support {support!r}, expected one of {', '.join(SUPPORTS)}")
        components = _attribute(dset, "components", path, "json-list")
        _text_list(components, path, f"the components of {where}")
        if len(components) != dset.shape[2]:
            raise InputError(f"{path}: {where} has {dset.shape[2]} components but names {len(components)}")
        rule = _attribute(dset, "rule", path, "text") or None
        chunks = dset.chunks
        chunk_rows = chunks[1] if chunks else max(dset.shape[1], 1)
        checksum = integrity.recorded_checksum(dset, path) if checked else None
        stored[name] = (dset.name, dset.shape, dset.dtype, chunk_rows, support, tuple(components), rule, checksum)
    return stored


def read(
    path: str | os.PathLike,
    *,
    fields: Sequence[str] | None = None,
    steps: Iterable[int] | slice | None = None,
    cells: np.ndarray | None = None,
) -> Simulation:
    """Open a store as a Simulation whose fields are read on demand.

    Everything read at open is checked: attribute types, shapes and dtypes,
    unique field and set names, index ranges (:class:`Mesh`), times; when the
    store records checksums, its metadata and the mesh, sets and times are
    verified (after those checks, so that a problem is named in its own words
    first); fields are verified when read in full (:mod:`io_adapters.store.integrity`).
    A stale XDMF sidecar beside the store (naming another store's uuid) is rewritten.

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

    Raises
    ------
    InputError
        Naming the file and what is wrong in it.
    """
    return _read(Path(path), fields, steps, cells, refresh_sidecar=True)


def _read(path: Path, fields, steps, cells, *, refresh_sidecar: bool) -> Simulation:
    with _open(path) as f:
        _validate_header(f, path)
        checked = integrity.carries_checksums(f, path)
        mesh = _read_mesh(_member(f, "mesh", path, "group"), path, checked)
        pending: list | bool = [] if checked else False
        times = _values(_member(f, "times", path, "dataset"), path, "fiu", 1, pending, "the times")
        parameters = (_attribute(_member(f, "parameters", path, "group"), "json", path, "json-dict")
                      if "parameters" in f else {})
        provenance = (_attribute(_member(f, "provenance", path, "group"), "json", path, "json-dict")
                      if "provenance" in f else {})
        stored = _field_entries(f, path, checked)
        uuid = _attribute(f, "uuid", path, "text", required=False)
        has_views = "xdmf" in f
        recorded = integrity.recorded_metadata(f, path) if checked else None
    if fields is not None:
        missing = [n for n in fields if n not in stored]
        if missing:
            raise InputError(f"{path}: no field {', '.join(missing)} (has: {', '.join(stored) or 'none'})")
        stored = {n: stored[n] for n in fields}

    step_map = None
    if steps is not None:
        selected = _prefixed(path, lambda: normalize_index(steps, len(times), "time steps"))
        step_map = np.arange(len(times))[selected]
        times = times[step_map]
    row_maps: dict[tuple, np.ndarray | None] = {}
    if cells is not None:
        parent = mesh
        mesh, nodes = _prefixed(path, lambda: parent.submesh(cells))
        kept = mesh.cell_ids
        row_maps[("node", None)] = nodes
        row_maps[("cell", None)] = kept
        for *_, support, _, rule, _ in stored.values():
            if support == "integration_point":
                row_maps[(support, rule)] = _prefixed(path, lambda: point_rows_of_cells(parent.cells, rule, kept))

    result = {}
    for name, (dataset, shape, dtype, chunk_rows, support, components, rule, checksum) in stored.items():
        source = StoredFieldSource(path, dataset, name, shape, dtype, chunk_rows, step_map=step_map,
                                   row_map=row_maps.get((support, rule)), checksum=checksum)
        result[name] = _prefixed(path, lambda: Field(support, components, source, rule), f"field {name!r}: ")
    simulation = _prefixed(path, lambda: Simulation(mesh, times, result, parameters, provenance))
    if checked:   # after the checks above, so that a problem they find is named in its own words
        _verify(pending, path)
        integrity.compare_metadata(recorded, path)
    if refresh_sidecar:
        _refresh_sidecar(path, uuid, has_views)
    return simulation


def _prefixed(path: Path, build: Callable, what: str = ""):
    """``build()``, its InputError (same class) prefixed with the file."""
    try:
        return build()
    except InputError as exc:
        raise type(exc)(f"{path}: {what}{exc}") from None


def _refresh_sidecar(path: Path, uuid: str | None, has_views: bool) -> None:
    """Rewrite (or remove) a sidecar that names another store's uuid (see :mod:`.xdmf`)."""
    from io_adapters.store.xdmf import sidecar_path, stale_sidecar, write_sidecar

    if not stale_sidecar(path, uuid):
        return
    sidecar = sidecar_path(path)
    try:
        if has_views:
            write_sidecar(_read(path, None, None, None, refresh_sidecar=False), path, uuid=uuid)
            log.warning("%s described another store than %s (a store copied over another, or an interrupted "
                        "writer): rewritten", sidecar, path)
        else:
            sidecar.unlink(missing_ok=True)
            log.warning("%s described another store than %s, which has no XDMF views: removed", sidecar, path)
    except OSError as exc:
        log.warning("%s describes another store than %s and cannot be rewritten (%s): do not open it", sidecar,
                    path, exc)


def read_field(path: str | os.PathLike, name: str, *, steps=None, rows=None) -> np.ndarray:
    """Values of one field of a store at some steps and rows.

    Returns
    -------
    (n_steps, n_rows, n_components) float64 array
    """
    return read(path, fields=[name]).fields[name].read(steps, rows)


def verify(path: str | os.PathLike) -> dict:
    """Check every checksum of a store, field values included (reads the whole file).

    Returns
    -------
    dict
        ``{"path", "checksums": bool, "datasets": n, "bytes": n}``; a store
        without checksums (written before they existed) is only checked for
        structure and readability.

    Raises
    ------
    InputError
        The first dataset (or the metadata) whose checksum differs, or any
        structural problem :func:`read` finds.
    """
    path = Path(path)
    sim = read(path)
    checked, n, size = False, 0, 0
    with _open(path) as f:
        checked = integrity.carries_checksums(f, path)
        for dset in integrity.data_datasets(f):
            n += 1
            size += dset.size * dset.dtype.itemsize
            try:
                found = integrity.dataset_checksum(dset)
            except Exception as exc:  # noqa: BLE001
                raise InputError(f"{path}: '{dset.name}' cannot be read (h5py: {exc})") from None
            if checked:
                expected = integrity.recorded_checksum(dset, path)
                if found != expected:
                    raise InputError(f"{path}: the values of '{dset.name}' are not those its writer recorded "
                                     f"(checksum {found}, recorded {expected}): the file is corrupt")
    for fld in sim.fields.values():   # finiteness, step by step
        for step in range(fld.shape[0]):
            fld.read(slice(step, step + 1))
    return {"path": str(path), "checksums": checked, "datasets": n, "bytes": size}
