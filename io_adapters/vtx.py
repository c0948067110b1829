"""Read dolfinx VTX time series: the ``.bp`` folders ``dolfinx.io.VTXWriter`` writes (ADIOS2).

What dolfinx 0.11 writes (one ADIOS2 step per ``writer.write(t)``, one block per rank)::

    step                    the time (one value)
    geometry                (n_points_block, 3) coordinates of the function's dofs
    connectivity            (n_cells_block, 1 + k): k, then the cell's points (VTK order)
    types                   one VTK cell type for the block
    vtkGhostType            (n_points_block, 1) ghost flags
    vtkOriginalPointIds     (n_points_block, 1) global dof numbers (they depend on the ranks)
    <function name>         (n_points_block, block size) values at the points
    attribute vtk.xml       the VTK layout, naming the functions under <PointData>

Every rank writes its owned and ghost points and cells, so blocks overlap. The
reader merges them by coordinates and orders the result canonically, as
:mod:`io_adapters.fenics` does for XDMF (nodes sorted by rounded coordinates,
cells by their sorted nodes): a series written on 1 and on P ranks reads as the
same :class:`~io_adapters.simulation.Simulation`, and the same as its XDMF twin.
Cell types: linear and second-order simplices (VTK 5/10/22/24, Lagrange 69/71 of
3, 4, 6, 10 points), linear quadrilaterals, hexahedra and wedges; the 9- and
27-point Lagrange quadrilateral and hexahedron are refused (no such nirom cell).

Values stay in the ``.bp`` folder until read (one ADIOS2 read per block and step).
Needs the ``adios2`` package (extra ``fenics``).
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from io_adapters.errors import InputError, MissingDependencyError
from io_adapters.fenics import COORDINATE_RESOLUTION, component_names, coordinate_keys
from io_adapters.mesh import CELL_DIMENSION, Mesh
from io_adapters.simulation import Field, Index, Simulation

#: (VTK cell type, points per cell) -> meshio cell type.
VTK_TYPES = {
    (5, 3): "triangle", (69, 3): "triangle", (22, 6): "triangle6", (69, 6): "triangle6",
    (10, 4): "tetra", (71, 4): "tetra", (24, 10): "tetra10", (71, 10): "tetra10",
    (9, 4): "quad", (70, 4): "quad", (12, 8): "hexahedron", (72, 8): "hexahedron",
    (13, 6): "wedge", (73, 6): "wedge",
}

#: Point-data arrays that are not functions.
_NOT_FUNCTIONS = {"TIME", "vtkOriginalPointIds", "vtkGhostType"}


def is_vtx(path: str | os.PathLike) -> bool:
    """True for an ADIOS2 folder (``*.bp`` holding ``md.idx``)."""
    path = Path(path)
    return path.suffix.lower() == ".bp" and (path / "md.idx").is_file()


def _adios2(path: Path):
    try:
        import adios2
    except ImportError:
        raise MissingDependencyError(
            f"{path}: reading dolfinx VTX output (.bp) needs the 'adios2' package: "
            "pip install 'nirom[fenics]' (or pip install adios2)"
        ) from None
    return adios2


def _open(path: Path):
    adios2 = _adios2(path)
    if not path.is_dir() or not (path / "md.idx").is_file():
        raise InputError(f"{path}: not an ADIOS2 .bp folder (no md.idx); expected the folder dolfinx.io.VTXWriter writes")
    try:
        return adios2.FileReader(str(path))
    except Exception as exc:   # adios2 raises plain RuntimeError/ValueError on a corrupt folder
        raise InputError(f"{path}: ADIOS2 cannot open it ({exc})") from None


def _function_names(path: Path, reader) -> list[str]:
    try:
        text = reader.read_attribute_string("vtk.xml")
        text = text[0] if isinstance(text, (list, tuple)) else text
        root = ET.fromstring(text)
    except Exception as exc:
        raise InputError(f"{path}: no readable 'vtk.xml' attribute ({exc}); not a dolfinx VTX file") from None
    names = [a.get("Name") for a in root.iter("DataArray") if a.get("Name")]
    point_data = root.find(".//PointData")
    if point_data is None:
        raise InputError(f"{path}: vtk.xml has no <PointData>: not a dolfinx VTX function file")
    functions = [a.get("Name") for a in point_data.iter("DataArray") if a.get("Name") not in _NOT_FUNCTIONS]
    return [n for n in functions if n in names]


def _read(path: Path, reader, name: str, step: int, block: int | None = None) -> np.ndarray:
    """One step of a variable: one writer's block, or (None) the per-block values of a local value."""
    try:
        return np.asarray(reader.read(name, step_selection=[step, 1], block_id=block))
    except Exception as exc:
        where = "" if block is None else f", block {block}"
        raise InputError(f"{path}: cannot read '{name}' at step {step}{where} ({exc})") from None


def read(path: str | os.PathLike) -> Simulation:
    """Read a dolfinx VTX time series.

    Parameters
    ----------
    path : path
        The ``.bp`` folder.

    Returns
    -------
    Simulation
        Mesh and node fields in canonical order (see the module docstring), the
        values read lazily.

    Raises
    ------
    MissingDependencyError
        Without the ``adios2`` package.
    InputError
        Not a VTX folder, a variable missing, a moving mesh, an unsupported cell
        type, coincident points in one block.
    """
    path = Path(path)
    with _open(path) as reader:
        variables = reader.available_variables()
        missing = [v for v in ("step", "geometry", "connectivity", "types", "NumberOfNodes") if v not in variables]
        if missing:
            raise InputError(f"{path}: variables {missing} missing: not a dolfinx VTX file "
                             f"(found {sorted(variables)})")
        n_steps = int(variables["step"]["AvailableStepsCount"])
        n_blocks = len(np.atleast_1d(_read(path, reader, "NumberOfNodes", 0)))   # one per writing rank
        functions = _function_names(path, reader)
        absent = [f for f in functions if f not in variables]
        if absent:
            raise InputError(f"{path}: vtk.xml names functions {absent} that the file does not hold")
        times = np.array([float(_read(path, reader, "step", s).ravel()[0]) for s in range(n_steps)])
        geometry = [_read(path, reader, "geometry", 0, b).reshape(-1, 3) for b in range(n_blocks)]
        widths = {name: _read(path, reader, name, 0, 0).reshape(len(geometry[0]), -1).shape[1] for name in functions}
        connectivity = [_read(path, reader, "connectivity", 0, b) for b in range(n_blocks)]
        types = [int(np.asarray(_read(path, reader, "types", 0, b)).ravel()[0]) for b in range(n_blocks)]
        if n_steps > 1 and int(variables["geometry"]["AvailableStepsCount"]) > 1:
            last = [_read(path, reader, "geometry", n_steps - 1, b).reshape(-1, 3) for b in range(n_blocks)]
            if any(a.shape != b.shape or not np.array_equal(a, b) for a, b in zip(geometry, last)):
                raise InputError(f"{path}: the mesh moves between the first and the last step; "
                                 "only a fixed mesh is read")

    mesh, block_rows = _merge(path, geometry, connectivity, types)
    fields = {}
    for name, width in widths.items():
        kind = {3: "Vector", 9: "Tensor"}.get(width, "Scalar")   # dolfinx pads 2D vectors to 3: dropped
        components = component_names(name, kind, width, mesh.dim)
        source = VTXSteps(path, name, block_rows, (n_steps, mesh.n_nodes, len(components)), width)
        fields[name] = Field("node", components, source)
    return Simulation(mesh=mesh, times=times, fields=fields,
                      provenance={"format": "fenics", "files": [str(path)], "solver": "dolfinx", "writer": "VTX",
                                  "blocks": n_blocks})


def _merge(path: Path, geometry: list, connectivity: list, types: list) -> tuple[Mesh, list[np.ndarray]]:
    """One mesh from the blocks: points merged by coordinates, duplicate (ghost) cells dropped."""
    points = np.concatenate(geometry)
    _, first, inverse = np.unique(coordinate_keys(points), axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    offsets = np.cumsum([0] + [len(g) for g in geometry])
    block_rows = [inverse[offsets[b]:offsets[b + 1]] for b in range(len(geometry))]
    for b, rows in enumerate(block_rows):   # a block's own points are distinct
        if len(np.unique(rows)) != len(rows):
            position = np.flatnonzero(np.bincount(rows) > 1)[0]
            raise InputError(f"{path}: two points of block {b} coincide at {points[first[position]]} "
                             f"(within {COORDINATE_RESOLUTION:g} of the mesh size): cannot merge the blocks")
    cell_type = None
    cells = []
    for b, (conn, vtk_type) in enumerate(zip(connectivity, types)):
        conn = np.asarray(conn, dtype=np.int64)
        conn = conn.reshape(len(conn), -1) if conn.ndim == 2 else conn.reshape(-1, int(conn[0]) + 1)
        k = int(conn[0, 0]) if len(conn) else 0
        if len(conn) and np.any(conn[:, 0] != k):
            raise InputError(f"{path}: block {b} mixes cells of different sizes (only one cell type is read)")
        kind = VTK_TYPES.get((vtk_type, k))
        if kind is None and len(conn):
            raise InputError(f"{path}: VTK cell type {vtk_type} with {k} points is not supported "
                             f"(supported: {sorted(set(VTK_TYPES.values()))})")
        if cell_type is not None and kind is not None and kind != cell_type:
            raise InputError(f"{path}: blocks hold different cell types ({cell_type}, {kind})")
        cell_type = cell_type or kind
        cells.append(block_rows[b][conn[:, 1:]])
    connectivity_all = np.concatenate(cells)
    _, keep = np.unique(np.sort(connectivity_all, axis=1), axis=0, return_index=True)
    connectivity_all = connectivity_all[keep]       # ghost cells of several blocks kept once; sorted by sorted nodes
    merged = points[first]
    tdim = CELL_DIMENSION[cell_type]
    dim = 3 if tdim == 3 or np.ptp(merged[:, 2]) > 0 else 2
    # the file's point numbers depend on the rank count: the ids are the canonical indices
    mesh = Mesh(points=merged, cells={cell_type: connectivity_all}, point_ids=np.arange(len(merged)),
                cell_ids=np.arange(len(connectivity_all)), dim=dim)
    return mesh, block_rows


class VTXSteps:
    """A function of a VTX folder (a :class:`~io_adapters.simulation.FieldSource`).

    Parameters
    ----------
    path : Path
    name : str
    block_rows : list of (n_points_block,) int arrays
        Mesh row of each point of each block.
    shape : (n_times, n_nodes, n_components)
    width : int
        Values per point in the file (the block size; a padded 2D vector has 3).
    """

    dtype = np.dtype(np.float64)

    def __init__(self, path: Path, name: str, block_rows: list, shape: tuple, width: int):
        self.path, self.name, self.block_rows = path, name, block_rows
        self.shape, self.width = tuple(shape), width
        self.origin = f"{path} [{name}]"

    def read(self, steps: Index, rows: Index) -> np.ndarray:
        """Values, shape (n_steps, n_rows, n_components), float64."""
        steps = np.arange(steps.start, steps.stop) if isinstance(steps, slice) else np.asarray(steps)
        n_components = self.shape[2]
        out = np.empty((len(steps), self.shape[1], n_components))
        with _open(self.path) as reader:
            for i, step in enumerate(steps):
                for b, block in enumerate(self.block_rows):
                    values = _read(self.path, reader, self.name, int(step), b).reshape(len(block), self.width)
                    out[i, block] = values[:, :n_components]
        return out[:, rows]
