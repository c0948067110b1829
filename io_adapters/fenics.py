"""Read dolfinx (FEniCSx 0.11) time series written by ``dolfinx.io.XDMFFile``.

dolfinx writes one XDMF file (XML) beside one HDF5 file: a ``Uniform`` grid with
the mesh (``file.h5:/Mesh/<name>/topology`` and ``geometry``) and, for each
function written with ``write_function(u, t)``, a ``Temporal`` collection of grids
that ``xi:include`` the mesh and hold one ``Attribute`` per time, pointing to
``file.h5:/Function/<name>/<t>``. This reader parses the XML with
:mod:`xml.etree` and reads the arrays with h5py; it never imports dolfinx (and
never calls ``meshio.read`` on such a file, which ends the process).

Conventions (what the reader converts)
--------------------------------------
- **Canonical order.** dolfinx renumbers nodes and cells with the number of MPI
  ranks that wrote the file. To make a 1-rank and a P-rank run of the same
  problem the *same* :class:`~io_adapters.simulation.Simulation`, nodes are
  sorted lexicographically by their coordinates (x, then y, then z), each
  coordinate rounded to ``1e-9`` times the bounding-box diagonal so that
  round-off cannot swap two nodes; nodes closer than that are refused
  (:class:`~io_adapters.errors.InputError`). Cells are then sorted
  lexicographically by their *sorted* canonical node indices; each cell keeps
  its own node order (meshio/VTK order, which is what dolfinx writes). The same
  permutations are applied to the rows of every field. ``Mesh.point_ids`` and
  ``Mesh.cell_ids`` hold the node and cell indices in the file, which depend on
  the rank count.
- **Node order in a cell**: dolfinx writes VTK order (``Tetrahedron_10``,
  ``Triangle_6``… are meshio's ``tetra10``, ``triangle6``…); no permutation.
- **Fields**: one per function, named by the function's name. Nodal (``Center
  ="Node"``; P1/P2 functions interpolated on the geometry nodes) → support
  ``"node"``; cell-wise constant (DG0, ``Center="Cell"``) → support ``"cell"``.
  Components: a scalar has one component named like the function; a vector
  ``u`` has ``u1, u2, u3``; a tensor ``s`` has ``s11, s12, …, s33`` (row-major).
  dolfinx pads vectors of a 2D mesh (geometry ``XY``) to three components: the
  third (always zero) is dropped, so such a vector has ``u1, u2``.
- **Times**: the ``Time`` values; every function must have been written at the
  same times (else InputError naming them). Values are not converted (units and
  strain conventions are the user's UFL expressions).
- Values stay in the HDF5 file until read (:class:`Field` with a FieldSource).

VTX output (``.bp`` folders, ``dolfinx.io.VTXWriter``) is read by
:mod:`io_adapters.vtx` (through ``adios2``, extra ``fenics``), in the same canonical
order.
"""

from __future__ import annotations

import logging
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from io_adapters.errors import InputError
from io_adapters.formats import check_file
from io_adapters.mesh import CELL_DIMENSION, NODES_PER_CELL, Mesh
from io_adapters.simulation import Field, Index, Simulation

log = logging.getLogger(__name__)

#: XDMF topology types (as dolfinx writes them) -> meshio cell types.
XDMF_TO_MESHIO = {
    "Polyvertex": "vertex",
    "Polyline": "line",
    "Edge_3": "line3",
    "Triangle": "triangle",
    "Triangle_6": "triangle6",
    "Quadrilateral": "quad",
    "Quadrilateral_8": "quad8",
    "Quadrilateral_9": "quad9",
    "Tetrahedron": "tetra",
    "Tetrahedron_10": "tetra10",
    "Pyramid": "pyramid",
    "Pyramid_13": "pyramid13",
    "Wedge": "wedge",
    "Wedge_15": "wedge15",
    "Hexahedron": "hexahedron",
    "Hexahedron_20": "hexahedron20",
    "Hexahedron_27": "hexahedron27",
}

#: Relative rounding of coordinates before sorting nodes (times the bounding-box diagonal).
COORDINATE_RESOLUTION = 1e-9

_XPOINTER = re.compile(r"xpointer\(\s*/Xdmf/Domain/Grid((?:\[[^\]]*\])*)/\*")
_PREDICATE = re.compile(r"\[([^\]]*)\]")
_ATTRIBUTE_TEST = re.compile(r"@(\w+)\s*=\s*['\"]([^'\"]*)['\"]")


# ---------------------------------------------------------------- detection
def is_dolfinx_xdmf(path: str | os.PathLike) -> bool:
    """Whether an XDMF file was written by ``dolfinx.io.XDMFFile``.

    Cheap: the XML is parsed incrementally and only up to its first HDF5
    ``DataItem``; dolfinx's start with ``/Mesh/`` (``write_mesh``) or
    ``/Function/`` (``write_function``). Files that cannot be parsed are not
    dolfinx files.
    """
    try:
        for _, element in ET.iterparse(os.fspath(path), events=("end",)):
            if _local(element.tag) == "DataItem" and element.get("Format", "XML").upper() == "HDF":
                dataset = (element.text or "").strip().rpartition(":")[2]
                return dataset.startswith(("/Mesh/", "/Function/"))
    except Exception:  # noqa: BLE001  not XML, unreadable, not text: not a dolfinx file
        return False
    return False


# ------------------------------------------------------------------ reading
def read(path: str | os.PathLike, *, check_datasets: bool = True) -> Simulation:
    """Read a dolfinx XDMF time series (or a VTX ``.bp`` folder, see :mod:`io_adapters.vtx`).

    Parameters
    ----------
    path : path
        The ``.xdmf`` file written by ``dolfinx.io.XDMFFile`` (its HDF5 file
        is found from the XML, relative to the XDMF file's folder).
    check_datasets : bool
        Check at once that every HDF5 dataset the XML names exists with the
        shape it announces (metadata only, no values are read).

    Returns
    -------
    Simulation
        Mesh and fields in the canonical order described in the module
        docstring; fields of shape (n_times, n_nodes or n_cells, n_components)
        read lazily from the HDF5 file.

    Raises
    ------
    InputError
        Missing or malformed file, functions written at different times,
        coincident nodes, an unsupported cell type or attribute centre.
    MissingDependencyError
        A ``.bp`` (VTX) path without the ``adios2`` package.
    """
    path = Path(path)
    if path.suffix.lower() == ".bp":
        return _read_vtx(path)
    path = check_file(path, "a dolfinx XDMF file")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise InputError(f"{path}: not a valid XDMF (XML) file: {exc}") from None
    except (OSError, UnicodeError, ValueError) as exc:
        raise InputError(f"{path}: cannot be read as XML ({exc})") from None
    domain = root.find("Domain")
    if _local(root.tag) != "Xdmf" or domain is None:
        raise InputError(f"{path}: not an XDMF file (no <Xdmf><Domain>)")

    grids = domain.findall("Grid")
    series = [g for g in grids if g.get("GridType") == "Collection"]
    mesh_grid = _mesh_grid(path, grids, series)
    cell_type, connectivity, points, gdim = _read_mesh_grid(path, mesh_grid)

    node_order = canonical_node_order(points, source=str(path))
    new_index = np.empty_like(node_order)
    new_index[node_order] = np.arange(len(node_order))
    connectivity = new_index[connectivity]
    cell_order = canonical_cell_order(connectivity, source=str(path))
    tdim = CELL_DIMENSION[cell_type]
    dim = gdim if gdim < 3 else (3 if tdim == 3 or np.ptp(points[:, 2]) > 0 else 2)
    try:
        mesh = Mesh(
            points=points[node_order],
            cells={cell_type: connectivity[cell_order]},
            point_ids=node_order,
            cell_ids=cell_order,
            dim=dim,
        )
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None

    times, fields, h5_files = _read_series(path, series, mesh, node_order, cell_order, gdim, check_datasets)
    h5_files.add(_split_hdf_path(path, mesh_grid.find("Geometry/DataItem"))[0])
    return _in_file(path, lambda: Simulation(
        mesh=mesh,
        times=times,
        fields=fields,
        provenance={
            "format": "fenics",
            "files": [str(path)] + sorted(str(p) for p in h5_files),
            "solver": "dolfinx",
            "mesh_grid": mesh_grid.get("Name", ""),
        },
    ))


def _in_file(path: Path, build):
    """``build()``, its InputError (same class) prefixed with the file."""
    try:
        return build()
    except InputError as exc:
        raise type(exc)(f"{path}: {exc}") from None


def canonical_node_order(points: np.ndarray, *, source: str) -> np.ndarray:
    """Permutation sorting nodes lexicographically by rounded coordinates.

    Parameters
    ----------
    points : (n_nodes, 3) float array
    source : str
        Name used in error messages.

    Returns
    -------
    (n_nodes,) int array
        ``points[order]`` is sorted by x, then y, then z, each rounded to
        :data:`COORDINATE_RESOLUTION` times the bounding-box diagonal.

    Raises
    ------
    InputError
        Two nodes round to the same coordinates.
    """
    if len(points) == 0:
        return np.zeros(0, dtype=np.int64)
    bad = np.flatnonzero(~np.isfinite(points).all(axis=1))
    if len(bad):
        k = int(bad[0])
        kind = "NaN" if np.isnan(points[k]).any() else "an infinite value"
        raise InputError(f"{source}: node {k} has {kind} among its coordinates {points[k].tolist()} "
                         f"({len(bad)} such node(s))")
    keys = coordinate_keys(points)
    order = np.lexsort(keys.T[::-1])
    same = np.all(keys[order[1:]] == keys[order[:-1]], axis=1)
    if same.any():
        k = int(np.flatnonzero(same)[0])
        a, b = order[k], order[k + 1]
        raise InputError(
            f"{source}: nodes {a} and {b} coincide (within {COORDINATE_RESOLUTION:g} of the mesh size) "
            f"at {points[a]}: cannot order the nodes canonically"
        )
    return order.astype(np.int64)


def coordinate_keys(points: np.ndarray) -> np.ndarray:
    """Integer keys of the coordinates, rounded to :data:`COORDINATE_RESOLUTION` of the bounding-box diagonal.

    Parameters
    ----------
    points : (n, 3) float array

    Returns
    -------
    (n, 3) int64 array
        Equal for points closer than the resolution (almost always); their
        lexicographic order is the canonical node order.
    """
    low = points.min(axis=0)
    diagonal = float(np.linalg.norm(np.ptp(points, axis=0))) or 1.0
    return np.rint((points - low) / (COORDINATE_RESOLUTION * diagonal)).astype(np.int64)


def canonical_cell_order(connectivity: np.ndarray, *, source: str) -> np.ndarray:
    """Permutation sorting cells lexicographically by their sorted node indices.

    Parameters
    ----------
    connectivity : (n_cells, nodes_per_cell) int array
        In canonical node indices.
    source : str
        Name used in error messages.

    Returns
    -------
    (n_cells,) int array

    Raises
    ------
    InputError
        Two cells have the same nodes.
    """
    keys = np.sort(connectivity, axis=1)
    order = np.lexsort(keys.T[::-1])
    same = np.all(keys[order[1:]] == keys[order[:-1]], axis=1)
    if same.any():
        k = int(np.flatnonzero(same)[0])
        raise InputError(f"{source}: cells {order[k]} and {order[k + 1]} have the same nodes")
    return order.astype(np.int64)


# ------------------------------------------------------------------ helpers
def _local(tag: str) -> str:
    """Tag name without its XML namespace."""
    return tag.rpartition("}")[2]


def _mesh_grid(path: Path, grids: list[ET.Element], series: list[ET.Element]) -> ET.Element:
    """The Uniform grid holding the mesh the functions refer to."""
    referenced = {}
    for collection in series:
        for step in collection.findall("Grid"):
            for child in step:
                if _local(child.tag) == "include":
                    referenced.setdefault(child.get("xpointer", ""), []).append(collection.get("Name", "?"))
    if len(referenced) > 1:
        raise InputError(
            f"{path}: functions refer to different meshes ({'; '.join(f'{k}: {sorted(set(v))}' for k, v in referenced.items())}); "
            "nirom reads one mesh per file"
        )
    if not referenced:
        if series and any(s.find("Grid/Topology") is not None for s in series):
            raise InputError(f"{path}: a time series with its own mesh per step is not a dolfinx XDMFFile; "
                             "read it with the meshio reader")
        candidates = [g for g in grids if g.get("GridType", "Uniform") == "Uniform"
                      and g.find("Topology") is not None and g.find("Geometry") is not None]
        if not candidates:
            raise InputError(f"{path}: no mesh (a Uniform Grid with Topology and Geometry)")
        return candidates[0]
    xpointer = next(iter(referenced))
    match = _XPOINTER.search(xpointer)
    if not match:
        raise InputError(f"{path}: cannot resolve xi:include xpointer '{xpointer}' "
                         "(expected /Xdmf/Domain/Grid[...]/*[...] as dolfinx writes)")
    selected = grids
    for predicate in _PREDICATE.findall(match.group(1)):
        predicate = predicate.strip()
        if predicate.isdigit():
            k = int(predicate)
            selected = selected[k - 1 : k]
        elif m := _ATTRIBUTE_TEST.fullmatch(predicate):
            name, value = m.groups()
            default = "Uniform" if name == "GridType" else None
            selected = [g for g in selected if g.get(name, default) == value]
        else:
            raise InputError(f"{path}: unsupported predicate [{predicate}] in xpointer '{xpointer}'")
    if len(selected) != 1:
        raise InputError(f"{path}: xpointer '{xpointer}' selects {len(selected)} grids, expected 1")
    grid = selected[0]
    if grid.find("Topology") is None or grid.find("Geometry") is None:
        raise InputError(f"{path}: the mesh grid '{grid.get('Name')}' has no Topology or Geometry")
    return grid


def _dimensions(path: Path, item: ET.Element | None) -> tuple[int, ...]:
    if item is None:
        raise InputError(f"{path}: missing DataItem")
    try:
        dims = tuple(int(d) for d in item.get("Dimensions", "").split())
    except ValueError:
        dims = (-1,)
    if not dims or min(dims) < 0:
        raise InputError(f"{path}: DataItem '{(item.text or '').strip()}' has bad Dimensions "
                         f"'{item.get('Dimensions')}' (expected non-negative integers)")
    return dims


def _split_hdf_path(path: Path, item: ET.Element | None) -> tuple[Path, str]:
    """HDF5 file and dataset of a DataItem."""
    if item is None:
        raise InputError(f"{path}: missing DataItem")
    text = (item.text or "").strip()
    if item.get("Format", "XML").upper() != "HDF":
        raise InputError(
            f"{path}: DataItem '{text[:40]}' has Format '{item.get('Format', 'XML')}'; only HDF5-encoded "
            "XDMF (dolfinx's default, XDMFFile.Encoding.HDF5) is supported"
        )
    filename, sep, dataset = text.rpartition(":")
    if not sep or not filename or not dataset.startswith("/"):
        raise InputError(f"{path}: DataItem '{text}' is not 'file.h5:/dataset'")
    return (path.parent / filename), dataset


def _open_hdf5(path: Path, h5_path: Path):
    """The HDF5 file an XDMF file names, or InputError saying what it really is."""
    from io_adapters.store.files import hdf5_problem

    problem = hdf5_problem(h5_path)
    if problem == "no such file":
        raise InputError(f"{path}: its HDF5 file {h5_path} does not exist")
    if problem is not None:
        raise InputError(f"{h5_path} (named by {path}): {problem}")
    try:
        return h5py.File(h5_path, "r")
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"{h5_path} (named by {path}): cannot be opened (h5py: {exc})") from None


def _dataset(f, h5_path: Path, dataset: str, path: Path):
    try:
        item = f[dataset]
    except Exception as exc:  # noqa: BLE001  KeyError, or h5py's errors on a corrupt file
        raise InputError(f"{h5_path}: no readable dataset {dataset} (named by {path}): {exc}") from None
    if not isinstance(item, h5py.Dataset):
        raise InputError(f"{h5_path}:{dataset} (named by {path}) is a {type(item).__name__.lower()}, not a dataset")
    return item


def _read_dataset(path: Path, item: ET.Element, kind: str) -> np.ndarray:
    """A dataset of the mesh: ``kind`` "i" (integers, the topology) or "f" (numbers, the geometry)."""
    h5_path, dataset = _split_hdf_path(path, item)
    expected = _dimensions(path, item)
    with _open_hdf5(path, h5_path) as f:
        dset = _dataset(f, h5_path, dataset, path)
        if tuple(dset.shape) != expected:
            raise InputError(f"{h5_path}:{dataset} has shape {tuple(dset.shape)}, {path} announces {expected}")
        allowed = "iu" if kind == "i" else "fiu"
        if dset.dtype.kind not in allowed:
            raise InputError(f"{h5_path}:{dataset} holds {dset.dtype}, expected "
                             + ("integers (node indices)" if kind == "i" else "numbers (coordinates)"))
        try:
            values = dset[()]
        except Exception as exc:  # noqa: BLE001
            raise InputError(f"{h5_path}:{dataset} cannot be read (h5py: {exc})") from None
    return np.asarray(values, dtype=np.int64 if kind == "i" else np.float64)


def _read_mesh_grid(path: Path, grid: ET.Element) -> tuple[str, np.ndarray, np.ndarray, int]:
    """Cell type, connectivity (file order), points (n, 3) and geometric dimension."""
    topology, geometry = grid.find("Topology"), grid.find("Geometry")
    xdmf_type = topology.get("TopologyType", topology.get("Type", ""))
    if xdmf_type not in XDMF_TO_MESHIO:
        raise InputError(f"{path}: topology type '{xdmf_type}' is not supported "
                         f"(supported: {', '.join(XDMF_TO_MESHIO)}; dolfinx mixed meshes are not)")
    cell_type = XDMF_TO_MESHIO[xdmf_type]
    connectivity = _read_dataset(path, topology.find("DataItem"), "i")
    if connectivity.ndim != 2 or connectivity.shape[1] != NODES_PER_CELL[cell_type]:
        raise InputError(f"{path}: topology {xdmf_type} should have {NODES_PER_CELL[cell_type]} nodes per cell, "
                         f"found shape {connectivity.shape}")
    geometry_type = geometry.get("GeometryType", "XYZ")
    if geometry_type not in ("XY", "XYZ"):
        raise InputError(f"{path}: geometry type '{geometry_type}' is not supported (XY or XYZ)")
    points = _read_dataset(path, geometry.find("DataItem"), "f")
    gdim = len(geometry_type)
    if points.ndim != 2 or points.shape[1] != gdim:
        raise InputError(f"{path}: geometry {geometry_type} has shape {points.shape}")
    if gdim == 2:
        points = np.column_stack([points, np.zeros(len(points))])
    if connectivity.size and connectivity.min() < 0:
        cell = int(np.flatnonzero((connectivity < 0).any(axis=1))[0])
        raise InputError(f"{path}: topology holds the negative node index {int(connectivity.min())} "
                         f"(cell {cell}: {connectivity[cell].tolist()}); indices run from 0 to {len(points) - 1}")
    if connectivity.size and connectivity.max() >= len(points):
        cell = int(np.flatnonzero((connectivity >= len(points)).any(axis=1))[0])
        raise InputError(f"{path}: topology refers to node {int(connectivity.max())} (cell {cell}), but there are "
                         f"{len(points)} nodes")
    return cell_type, connectivity, points, gdim


def component_names(name: str, attribute_type: str, n_columns: int, gdim: int) -> tuple[str, ...]:
    """Component names of a dolfinx function: ``u`` → ``u1, u2, u3``; ``s`` (tensor) → ``s11 … s33``.

    A 2D vector padded to 3 columns (as dolfinx writes it) keeps ``u1, u2``.
    """
    if n_columns == 1:
        return (name,)
    if attribute_type == "Vector" and gdim == 2 and n_columns == 3:
        return (f"{name}1", f"{name}2")  # the padding third component is dropped
    if attribute_type == "Tensor" and n_columns == 9:
        return tuple(f"{name}{i}{j}" for i in range(1, 4) for j in range(1, 4))
    return tuple(f"{name}{i}" for i in range(1, n_columns + 1))


def _read_series(path, series, mesh, node_order, cell_order, gdim, check_datasets):
    """Times, fields and HDF5 files of the Temporal collections."""
    steps: dict[str, list] = {}  # field name -> [(time, attribute element)]
    for collection in series:
        if collection.get("CollectionType") != "Temporal":
            log.debug("%s: skipping non-temporal collection '%s'", path, collection.get("Name"))
            continue
        for grid in collection.findall("Grid"):
            time = grid.find("Time")
            if time is None or time.get("Value") is None:
                raise InputError(f"{path}: a grid of '{collection.get('Name')}' has no <Time Value=...>")
            try:
                t = float(time.get("Value"))
            except ValueError:
                t = float("nan")
            if not np.isfinite(t):
                raise InputError(f"{path}: bad time value '{time.get('Value')}' in '{collection.get('Name')}' "
                                 "(expected a finite number)")
            for attribute in grid.findall("Attribute"):
                steps.setdefault(attribute.get("Name", collection.get("Name", "?")), []).append((t, attribute))
    if not steps:
        return np.zeros(0), {}, set()

    time_lists = {name: np.array([t for t, _ in entries]) for name, entries in steps.items()}
    first_name, times = next(iter(time_lists.items()))
    for name, other in time_lists.items():
        if other.shape != times.shape or np.any(other != times):
            raise InputError(f"{path}: functions '{first_name}' and '{name}' were written at different times "
                             f"({times.tolist()} and {other.tolist()}); nirom needs one time list per file")

    fields, h5_files = {}, set()
    for name, entries in steps.items():
        attributes = [a for _, a in entries]
        center = attributes[0].get("Center", "Node")
        if center == "Node":
            support, order, n_rows = "node", node_order, mesh.n_nodes
        elif center == "Cell":
            support, order, n_rows = "cell", cell_order, mesh.n_cells
        else:
            raise InputError(f"{path}: function '{name}' has Center='{center}'; only Node (P1/P2 "
                             "interpolated on the geometry) and Cell (DG0) are supported")
        items = [a.find("DataItem") for a in attributes]
        locations = [_split_hdf_path(path, item) for item in items]
        shapes = {_dimensions(path, item) for item in items}
        if len(shapes) != 1:
            raise InputError(f"{path}: function '{name}' changes shape between time steps: {sorted(shapes)}")
        shape = shapes.pop()
        if len(shape) == 1:
            shape = (shape[0], 1)
        if len(shape) != 2 or shape[0] != n_rows:
            raise InputError(f"{path}: function '{name}' ({center}) has Dimensions {shape}, "
                             f"expected ({n_rows}, k) for the mesh")
        components = component_names(name, attributes[0].get("AttributeType", ""), shape[1], gdim)
        source = HDF5Steps(
            locations=tuple(locations),
            file_rows=order,
            n_columns=shape[1],
            shape=(len(times), n_rows, len(components)),
            dtype=np.dtype(np.float64),
            origin=f"{path}: function '{name}'",
            xdmf=path,
        )
        if check_datasets:
            source.check()
        h5_files.update(p for p, _ in locations)
        fields[name] = Field(support, components, source)
    return times, fields, h5_files


@dataclass(frozen=True, eq=False)
class HDF5Steps:
    """A field stored as one HDF5 dataset per time step, rows permuted.

    Attributes
    ----------
    locations : tuple of (Path, str)
        HDF5 file and dataset of each time step.
    file_rows : (n_rows,) int array
        Row of the dataset holding each row of the field (canonical order).
    n_columns : int
        Columns of each dataset; the field keeps the first ``shape[2]``.
    shape : (n_times, n_rows, n_components)
    dtype : numpy dtype
    origin : str
    """

    locations: tuple
    file_rows: np.ndarray
    n_columns: int
    shape: tuple[int, int, int]
    dtype: np.dtype
    origin: str
    xdmf: Path | None = None   # the XDMF file naming the datasets, for messages

    def check(self) -> None:
        """Raise InputError unless every dataset exists with shape (n_rows, n_columns)."""
        expected = (self.shape[1], self.n_columns)
        origin = self.xdmf or Path(self.origin)
        for h5_path, dataset in self.locations:
            with _open_hdf5(origin, h5_path) as f:
                dset = _dataset(f, h5_path, dataset, origin)
                found, kind = dset.shape, dset.dtype.kind
            if len(found) == 1:
                found = (found[0], 1)
            if tuple(found) != expected:
                raise InputError(f"{self.origin}: {h5_path}:{dataset} has shape {found}, expected {expected}")
            if kind not in "fiu":
                raise InputError(f"{self.origin}: {h5_path}:{dataset} holds non-numeric values ({kind})")

    def read(self, steps: Index, rows: Index) -> np.ndarray:
        """Values at some steps and rows, shape (n_steps, n_rows, n_components)."""
        step_ids = np.arange(self.shape[0])[steps]
        file_rows = self.file_rows[rows]
        out = np.empty((len(step_ids), len(file_rows), self.shape[2]), dtype=np.float64)
        if not len(file_rows):
            return out
        low, high = int(file_rows.min()), int(file_rows.max()) + 1
        for i, step in enumerate(step_ids):
            h5_path, dataset = self.locations[step]
            try:
                with h5py.File(h5_path, "r") as f:
                    block = np.asarray(f[dataset][low:high], dtype=np.float64)
            except Exception as exc:  # noqa: BLE001  missing, corrupt, wrong type
                raise InputError(f"{self.origin}: cannot read {h5_path}:{dataset} at time step {int(step)} "
                                 f"({type(exc).__name__}: {exc})") from None
            if block.size != (high - low) * self.n_columns:
                raise InputError(f"{self.origin}: {h5_path}:{dataset} holds {block.size} values for rows "
                                 f"{low}:{high}, expected {(high - low) * self.n_columns}")
            block = block.reshape(high - low, -1)
            out[i] = block[file_rows - low, : self.shape[2]]
        return out


def _read_vtx(path: Path) -> Simulation:
    from io_adapters.vtx import read as read_vtx

    return read_vtx(path)
