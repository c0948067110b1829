"""Read any meshio format (meshes and nodal/cell fields), XDMF time series and ParaView ``.pvd``.

Three kinds of input:

- **One file** that meshio reads (VTU, Gmsh ``.msh``, MED, Abaqus ``.inp``,
  …): its ``point_data`` become node fields and the ``cell_data`` of its volume
  blocks become cell fields, all at a single time (``time``, 0.0 unless given).
  A file without data is a mesh-only Simulation (no times, no fields).
- **An XDMF time series** written by ``meshio.xdmf.TimeSeriesWriter`` (or any
  XDMF with a ``Temporal`` collection over one mesh), read with
  ``meshio.xdmf.TimeSeriesReader``. An XDMF written by dolfinx is handed to
  :mod:`io_adapters.fenics` (meshio cannot read those).
- **A ParaView collection** ``.pvd``: the ``DataSet`` entries (``timestep``,
  ``file``) in increasing time, each file read with meshio; every step must
  have the same mesh (else :class:`MeshMismatchError` naming the step's file)
  and the same data names.

Conventions (what the reader converts)
--------------------------------------
- Mesh through :meth:`Mesh.from_meshio`: meshio/VTK node order is nirom's; the
  cells of the highest dimension are the mesh, lower-dimensional blocks become
  face sets (Gmsh physical surfaces keep their names); Gmsh physical volumes and
  Abaqus element sets become cell sets, Abaqus node sets node sets. MED
  families (``cell_tags``/``point_tags``) are turned into cell/face/node sets
  named by their groups.
- Field names are the data names. Components: a scalar has one component named
  like the field; a vector ``u`` of k values per row has ``u1 … uk``; a
  tensor ``s`` of shape (3, 3) per row has ``s11, s12, …, s33`` (row-major).
  Values are not converted (Voigt order, shear factor and units are whatever
  the writer used: this reader cannot know them).
- Data that only describe sets (``gmsh:physical``, ``gmsh:geometrical``,
  ``gmsh:dim_tags``, ``cell_tags``, ``point_tags``, ``medit:ref``) are not fields.
"""

from __future__ import annotations

import logging
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from io_adapters.errors import InputError, MeshMismatchError
from io_adapters.formats import check_file, file_problem
from io_adapters.mesh import CELL_DIMENSION, Mesh
from io_adapters.simulation import Field, Simulation

log = logging.getLogger(__name__)

#: Data names that describe sets or entities, not fields.
TAG_DATA = frozenset({"gmsh:physical", "gmsh:geometrical", "gmsh:dim_tags", "cell_tags", "point_tags", "medit:ref"})


def supported_suffixes() -> list[str]:
    """File suffixes this reader accepts: meshio's plus ``.pvd``."""
    import meshio

    return sorted(set(meshio.extension_to_filetypes) | {".pvd"})


def read(path: str | os.PathLike, *, time: float = 0.0) -> Simulation:
    """Read a mesh with fields, an XDMF time series or a ``.pvd`` collection.

    Parameters
    ----------
    path : path
        Any file meshio reads, an XDMF time series or a ParaView ``.pvd``.
    time : float
        Time given to the data of a single (non-series) file.

    Returns
    -------
    Simulation
        Node fields of shape (n_times, n_nodes, n_components), cell fields of
        shape (n_times, n_cells, n_components) in the mesh's cell order; a
        single file with data has one time, a file without data none.

    Raises
    ------
    InputError
        A missing or unreadable file, an unknown suffix (the message lists the
        supported ones), steps with different data.
    MeshMismatchError
        Steps of a series on different meshes.
    """
    path = check_file(path)
    suffix = path.suffix.lower()
    if suffix == ".pvd":
        return _read_pvd(path)
    if suffix in (".xdmf", ".xmf"):
        from io_adapters import fenics

        if fenics.is_dolfinx_xdmf(path):
            log.info("%s was written by dolfinx: reading it with io_adapters.fenics", path)
            return fenics.read(path)
        if _is_time_series(path):
            return _read_xdmf_series(path)
    mesh = read_meshio(path)
    point_data, cell_data = _data_of(mesh)
    steps = [(point_data, cell_data)] if point_data or cell_data else []  # no data: mesh only
    return _simulation(path, _nirom_mesh(mesh, path), [time] * len(steps), steps, mesh,
                       {"format": "meshio", "files": [str(path)]})


def read_meshio(path: str | os.PathLike):
    """``meshio.read`` that raises InputError instead of ending the process.

    ``meshio.read`` prints and calls ``sys.exit`` when a reader fails; this calls
    meshio's readers for the formats of the file's suffix one after the other.

    Returns
    -------
    meshio.Mesh
    """
    import meshio
    from meshio._helpers import reader_map  # meshio.read's table, without its sys.exit

    path = Path(path)
    formats = []
    suffix = ""
    for part in reversed(path.suffixes):
        suffix = (part + suffix).lower()
        formats += meshio.extension_to_filetypes.get(suffix, [])
    if not formats:
        raise InputError(f"{path}: unknown file type '{path.suffix}'; supported: {', '.join(supported_suffixes())}")
    errors = []
    for file_format in formats:
        try:
            return reader_map[file_format](str(path))
        except Exception as exc:  # noqa: BLE001  meshio readers raise anything on bad input
            errors.append(f"as {file_format}: {type(exc).__name__}: {exc}")
    raise InputError(f"{path}: cannot be read ({'; '.join(errors)})")


# -------------------------------------------------------------------- series
def _is_time_series(path: Path) -> bool:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise InputError(f"{path}: not a valid XDMF (XML) file: {exc}") from None
    except (OSError, UnicodeError, ValueError) as exc:
        raise InputError(f"{path}: cannot be read as XML ({exc})") from None
    return any(g.get("CollectionType") == "Temporal" for g in root.iter("Grid"))


def _read_xdmf_series(path: Path) -> Simulation:
    import meshio

    try:
        with meshio.xdmf.TimeSeriesReader(path) as reader:
            points, cells = reader.read_points_cells()
            steps = [reader.read_data(k) for k in range(reader.num_steps)]
    except Exception as exc:  # noqa: BLE001  meshio raises ReadError, KeyError, AssertionError...
        raise InputError(f"{path}: cannot read the XDMF time series: {type(exc).__name__}: {exc}") from None
    mesh = meshio.Mesh(points, cells)
    data = [(dict(point_data), dict(cell_data)) for _, point_data, cell_data in steps]
    origins = [f"{path} (step {k}, time {t})" for k, (t, _, _) in enumerate(steps)]
    return _simulation(path, _nirom_mesh(mesh, path), [t for t, _, _ in steps], data, mesh,
                       {"format": "meshio-xdmf-series", "files": [str(path)]}, origins)


def _read_pvd(path: Path) -> Simulation:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise InputError(f"{path}: not a valid .pvd (XML) file: {exc}") from None
    except (OSError, UnicodeError, ValueError) as exc:
        raise InputError(f"{path}: cannot be read as XML ({exc})") from None
    collection = root.find("Collection")
    if root.tag != "VTKFile" or collection is None:
        raise InputError(f"{path}: not a ParaView collection (<VTKFile type='Collection'><Collection>)")
    entries = []
    for dataset in collection.findall("DataSet"):
        if dataset.get("file") is None:
            raise InputError(f"{path}: a DataSet has no 'file' attribute")
        try:
            t = float(dataset.get("timestep", "0"))
        except ValueError:
            raise InputError(f"{path}: bad timestep '{dataset.get('timestep')}' for {dataset.get('file')}") from None
        entries.append((t, path.parent / dataset.get("file")))
    if not entries:
        raise InputError(f"{path}: the collection lists no DataSet")
    entries.sort(key=lambda e: e[0])
    times = [t for t, _ in entries]
    if len(set(times)) != len(times):
        t = next(t for t in times if times.count(t) > 1)
        files = [str(f) for s, f in entries if s == t]
        raise InputError(f"{path}: timestep {t} lists several files ({', '.join(files)}); "
                         "partitioned (multi-part) collections are not supported")
    for _, file in entries:
        problem = file_problem(file)
        if problem is not None:
            raise InputError(f"{path}: step file {file} " + ("does not exist" if problem == "no such file" else problem))

    first = read_meshio(entries[0][1])
    data = [_data_of(first)]
    for _, file in entries[1:]:
        step = read_meshio(file)
        _check_same_mesh(first, step, entries[0][1], file)
        data.append(_data_of(step))
    return _simulation(path, _nirom_mesh(first, path), times, data, first,
                       {"format": "meshio-pvd", "files": [str(path)] + [str(f) for _, f in entries]},
                       [str(f) for _, f in entries])


def _check_same_mesh(reference, other, reference_file: Path, file: Path) -> None:
    problem = None
    if reference.points.shape != other.points.shape:
        problem = f"{len(other.points)} points instead of {len(reference.points)}"
    elif not np.array_equal(reference.points, other.points):
        problem = "different point coordinates"
    elif [b.type for b in reference.cells] != [b.type for b in other.cells]:
        problem = f"cell blocks {[b.type for b in other.cells]} instead of {[b.type for b in reference.cells]}"
    elif not all(np.array_equal(a.data, b.data) for a, b in zip(reference.cells, other.cells)):
        problem = "different connectivity"
    if problem:
        raise MeshMismatchError(f"{file}: the mesh differs from the first step's ({reference_file}): {problem}")


# ------------------------------------------------------------------ assembly
def _data_of(mesh) -> tuple[dict, dict]:
    """Point data and cell data that are fields (not set tags)."""
    point_data = {k: v for k, v in mesh.point_data.items() if k not in TAG_DATA}
    cell_data = {k: v for k, v in mesh.cell_data.items() if k not in TAG_DATA}
    return point_data, cell_data


def _nirom_mesh(mesh, path: Path) -> Mesh:
    _families_to_sets(mesh)
    return Mesh.from_meshio(mesh, source=str(path))


def _families_to_sets(mesh) -> None:
    """Turn MED families (``cell_tags``/``point_tags`` + group names) into meshio sets, in place."""
    cell_families = getattr(mesh, "cell_tags", None) or {}
    if cell_families and "cell_tags" in mesh.cell_data:
        tags = [np.asarray(t).ravel() for t in mesh.cell_data["cell_tags"]]
        for family, groups in cell_families.items():
            per_block = [np.flatnonzero(t == family) for t in tags]
            for group in groups:
                previous = mesh.cell_sets.get(group)
                mesh.cell_sets[group] = per_block if previous is None else [
                    np.union1d(p, q) for p, q in zip(previous, per_block)]
    point_families = getattr(mesh, "point_tags", None) or {}
    if point_families and "point_tags" in mesh.point_data:
        tags = np.asarray(mesh.point_data["point_tags"]).ravel()
        for family, groups in point_families.items():
            nodes = np.flatnonzero(tags == family)
            for group in groups:
                mesh.point_sets[group] = np.union1d(mesh.point_sets.get(group, []), nodes).astype(np.int64)


def _volume_blocks(mesh) -> list[int]:
    """Indices of meshio's volume blocks in the cell order of :meth:`Mesh.from_meshio`."""
    top = max(CELL_DIMENSION[b.type] for b in mesh.cells)
    volume = [i for i, b in enumerate(mesh.cells) if CELL_DIMENSION[b.type] == top]
    types = list(dict.fromkeys(mesh.cells[i].type for i in volume))
    return [i for t in types for i in volume if mesh.cells[i].type == t]


def _component_names(name: str, trailing: tuple[int, ...]) -> tuple[str, ...]:
    if not trailing or int(np.prod(trailing)) == 1:
        return (name,)
    return tuple(name + "".join(str(i + 1) for i in index) for index in np.ndindex(*trailing))


def _simulation(path, mesh, times, data, meshio_mesh, provenance, origins=None) -> Simulation:
    """Stack each step's point and cell data into fields."""
    origins = origins or [str(path)] * len(data)
    fields = {}
    if data:
        names = (list(data[0][0]), list(data[0][1]))
        for (point_data, cell_data), origin in zip(data, origins):
            found = (list(point_data), list(cell_data))
            if sorted(found[0]) != sorted(names[0]) or sorted(found[1]) != sorted(names[1]):
                raise InputError(f"{origin}: has point data {sorted(found[0])} and cell data {sorted(found[1])}, "
                                 f"the first step {sorted(names[0])} and {sorted(names[1])}")
        blocks = _volume_blocks(meshio_mesh)
        for name in names[0]:
            steps = [np.asarray(point_data[name]) for point_data, _ in data]
            fields[name] = _field("node", name, steps, mesh.n_nodes, origins)
        for name in names[1]:
            if name in fields:
                raise InputError(f"{path}: '{name}' is both point data and cell data")
            try:
                steps = [np.concatenate([np.asarray(cell_data[name][i]) for i in blocks]) for _, cell_data in data]
            except (IndexError, ValueError) as exc:
                raise InputError(f"{path}: cell data '{name}' does not match the cell blocks ({exc})") from None
            fields[name] = _field("cell", name, steps, mesh.n_cells, origins)
    try:
        return Simulation(mesh=mesh, times=times, fields=fields, provenance=provenance)
    except InputError as exc:
        raise type(exc)(f"{path}: {exc}") from None


def _field(support: str, name: str, steps: list[np.ndarray], n_rows: int, origins: list[str]) -> Field:
    for values, origin in zip(steps, origins):
        if values.shape[:1] != (n_rows,) or values.shape[1:] != steps[0].shape[1:]:
            raise InputError(f"{origin}: {support} data '{name}' has shape {values.shape}, expected "
                             f"({n_rows}, …) like {steps[0].shape}")
        if values.dtype.kind not in "biuf":
            raise InputError(f"{origin}: {support} data '{name}' is not real numbers ({values.dtype})")
    trailing = steps[0].shape[1:]
    values = np.stack(steps).reshape(len(steps), n_rows, -1).astype(np.float64)
    try:
        return Field(support, _component_names(name, trailing), values)
    except InputError as exc:
        raise InputError(f"{origins[0]}: {support} data '{name}': {exc}") from None
