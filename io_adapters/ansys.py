"""Read Ansys Mechanical APDL results (``.rst``, ``.rth``) and archives (``.cdb``).

Uses ``ansys-mapdl-reader`` (the ``ansys`` extra), imported only when a file is
read. An ``.rst``/``.rth`` file gives a mesh and nodal fields over its result
sets; a ``.cdb`` archive gives a mesh-only Simulation (no times).

Conventions (what the reader converts)
--------------------------------------
- **Mesh.** Elements are converted by the library to VTK cells (SOLID186 and
  its degenerate wedge/pyramid/tetrahedron forms → ``hexahedron20``,
  ``wedge15``, ``pyramid13``, ``tetra10``; SOLID187 → ``tetra10``; SOLID185 →
  ``hexahedron``/``wedge``/…), whose node order is meshio's. Elements of the
  highest dimension are the cells; surface elements one dimension lower
  (SURF15x, CONTA/TARGE, MESH200…) become face sets named
  ``<NAME><routine>_<type id>`` (e.g. ``SURF154_2``). Shell elements in a
  solid model, and lower-dimensional structural elements (beams, springs,
  masses), are refused with an :class:`InputError` unless
  ``ignore_unsupported=True`` (then skipped with a warning). ``point_ids`` are
  the Ansys node numbers, ``cell_ids`` the element numbers. Nodes used by no
  kept element are dropped. Node components → ``node_sets``; element
  components → ``cell_sets`` (their surface elements → face sets of that name).
- **Missing midside nodes.** Ansys lets quadratic elements drop midside nodes
  (the edge is then straight and interpolated linearly). Such nodes are created
  at the edge midpoint, with point id ``-1``, and get the mean of the edge's
  corner values in every nodal field: exact for displacements.
- **Row order.** Field rows follow the mesh's node order, matched to the
  library's results by Ansys node number (never by position).
- **Fields** (only those the file has; values in the file's units):

  ``U`` (UX UY UZ, or UX UY in 2D)
      nodal displacements in the global Cartesian system.
  ``S`` (SX SY SZ SXY SYZ SXZ)
      nodal stresses averaged over the elements sharing each node
      (``rst.nodal_stress``). Ansys' order is already nirom's Voigt order
      [11, 22, 33, 12, 23, 31] (SXZ = σ31): no permutation.
  ``EPEL`` (EPELX EPELY EPELZ EPELXY EPELYZ EPELXZ)
      averaged nodal elastic strains. Ansys shear strains are *engineering*
      shears (γ12 = 2ε12), nirom's convention: no factor. (The equivalent
      strain EPELEQV is dropped.)
  ``TEMP`` (TEMP)
      nodal temperatures: the solution of a thermal analysis, else the
      structural body-load temperatures.
  ``RF`` (FX FY FZ)
      nodal reaction forces as Ansys reports them, zero at free nodes; left
      out when some node has a rotated nodal coordinate system.

  Averaged element results (S, EPEL, body temperatures) exist only at corner
  nodes; their midside-node values are the mean of the two corner values of
  the edge, as Ansys itself displays them. A node left without a value (e.g.
  a node of surface elements only) makes reading that field fail with an
  InputError naming the node: values are never invented.
- **Times.** Static and transient analyses: ``rst.time_values``. Modal and
  buckling analyses: the mode numbers 1…n, the frequencies (or load factors)
  in ``parameters``. Harmonic (complex) and cyclic-symmetry results are
  refused.
- Values are read from the file when asked (``field.read``), one result set at
  a time.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from io_adapters.errors import InputError, require
from io_adapters.mesh import CELL_DIMENSION, Mesh
from io_adapters.simulation import Field, Index, Simulation

log = logging.getLogger(__name__)

#: VTK cell type number -> meshio cell type (the types the library produces).
VTK_TO_MESHIO = {
    1: "vertex", 3: "line", 21: "line3", 5: "triangle", 22: "triangle6", 9: "quad", 23: "quad8",
    28: "quad9", 10: "tetra", 24: "tetra10", 12: "hexahedron", 25: "hexahedron20", 13: "wedge",
    26: "wedge15", 14: "pyramid", 27: "pyramid13",
}

#: Corner pairs of the midside nodes of each quadratic type, in meshio/VTK node order.
MIDSIDE_EDGES = {
    "line3": [(0, 1)],
    "triangle6": [(0, 1), (1, 2), (2, 0)],
    "quad8": [(0, 1), (1, 2), (2, 3), (3, 0)],
    "tetra10": [(0, 1), (1, 2), (2, 0), (0, 3), (1, 3), (2, 3)],
    "pyramid13": [(0, 1), (1, 2), (2, 3), (3, 0), (0, 4), (1, 4), (2, 4), (3, 4)],
    "wedge15": [(0, 1), (1, 2), (2, 0), (3, 4), (4, 5), (5, 3), (0, 3), (1, 4), (2, 5)],
    "hexahedron20": [(0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4),
                     (0, 4), (1, 5), (2, 6), (3, 7)],
}

#: Ansys element routines that are structural shells (refused in solid models).
SHELL_ROUTINES = frozenset({28, 41, 43, 51, 57, 61, 63, 91, 93, 99, 131, 132, 143, 150, 157, 163,
                            181, 208, 209, 281})
#: Ansys element routines that carry no stiffness of their own on a boundary.
SURFACE_ROUTINES = frozenset({19, 22, 151, 152, 153, 154, 155, 156, 159, 169, 170, 171, 172, 173,
                              174, 175, 176, 177, 178, 200, 251, 252})

#: Analysis types (``kan`` of the result header).
ANALYSES = {0: "static", 1: "buckling", 2: "modal", 3: "harmonic", 4: "transient",
            7: "substructure", 8: "spectrum"}

#: Field name -> component names.
COMPONENTS = {
    "S": ("SX", "SY", "SZ", "SXY", "SYZ", "SXZ"),
    "EPEL": ("EPELX", "EPELY", "EPELZ", "EPELXY", "EPELYZ", "EPELXZ"),
    "TEMP": ("TEMP",),
    "RF": ("FX", "FY", "FZ"),
}


def read(path: str | os.PathLike, *, ignore_unsupported: bool = False) -> Simulation:
    """Read an Ansys result file (``.rst``, ``.rth``) or archive (``.cdb``).

    Parameters
    ----------
    path : path
    ignore_unsupported : bool
        Skip (with a warning) elements nirom cannot represent (beams, springs,
        masses, shells in a solid model) instead of refusing the file.

    Returns
    -------
    Simulation
        Nodal fields of shape (n_times, n_nodes, n_components), read from the
        file when asked; no times nor fields for an archive.

    Raises
    ------
    InputError
        Missing, truncated or unreadable file; unsupported elements or analysis.
    MissingDependencyError
        ``ansys-mapdl-reader`` is not installed.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.suffix.lower() == ".cdb":
        return read_archive(path, ignore_unsupported=ignore_unsupported)
    return read_result(path, ignore_unsupported=ignore_unsupported)


def read_archive(path: str | os.PathLike, *, ignore_unsupported: bool = False) -> Simulation:
    """The mesh, node components and element components of a ``.cdb`` archive.

    Returns
    -------
    Simulation
        Mesh only (no times, no fields).
    """
    path = Path(path)
    reader = require("ansys.mapdl.reader", "ansys", "reading Ansys archives (.cdb)")
    try:
        archive = reader.Archive(str(path), parse_vtk=False)
    except Exception as exc:  # noqa: BLE001  the library raises anything on bad input
        raise InputError(f"{path}: not a readable Ansys archive: {type(exc).__name__}: {exc}") from None
    mesh, _ = _convert_mesh(archive, path, ignore_unsupported)
    return Simulation(mesh=mesh, times=[], provenance={"format": "ansys", "files": [str(path)],
                                                       "solver": "Ansys Mechanical APDL"})


def read_result(path: str | os.PathLike, *, ignore_unsupported: bool = False) -> Simulation:
    """The mesh and nodal fields of a ``.rst``/``.rth`` result file (see the module docstring)."""
    path = Path(path)
    reader = require("ansys.mapdl.reader", "ansys", "reading Ansys result files (.rst)")
    _check_result_header(path)
    result = _open_result(reader, path)
    header = result._resultheader
    if getattr(result, "_is_cyclic", False):
        raise InputError(f"{path}: cyclic-symmetry results are not supported (expand them in Ansys first)")
    analysis = ANALYSES.get(int(header["kan"]), f"type {int(header['kan'])}")
    if int(header.get("cpxrst", 0)) or analysis not in ("static", "transient", "modal", "buckling"):
        raise InputError(f"{path}: {analysis} analysis results are not supported "
                         "(nirom reads static, transient, modal and buckling results)")

    mesh, layout = _convert_mesh(result.mesh, path, ignore_unsupported)
    values = np.asarray(result.time_values, dtype=np.float64)
    parameters = {}
    if analysis in ("modal", "buckling"):
        times = np.arange(1.0, len(values) + 1)
        parameters["frequencies" if analysis == "modal" else "load_factors"] = values.tolist()
    else:
        times = values

    shared = _ResultFile(path, result)
    available = result.available_results
    wanted = {}  # field name -> (library record, columns kept, component names)
    dofs = list(result.result_dof(0)) if len(times) else []
    if result._is_thermal:
        if "TEMP" in dofs:
            wanted["TEMP"] = ("NSL", (dofs.index("TEMP"),), COMPONENTS["TEMP"])
    else:
        displacement = [d for d in ("UX", "UY", "UZ") if d in dofs]
        if available["NSL"] and displacement:
            wanted["U"] = ("NSL", tuple(dofs.index(d) for d in displacement), tuple(displacement))
        if available["ENS"]:
            wanted["S"] = ("ENS", tuple(range(6)), COMPONENTS["S"])
        if available["EEL"]:
            wanted["EPEL"] = ("EEL", tuple(range(6)), COMPONENTS["EPEL"])
        if available["EPT"]:
            wanted["TEMP"] = ("EPT", (0,), COMPONENTS["TEMP"])
        if available["RF"] and displacement:
            angles = result.mesh.node_angles
            if angles is not None and np.any(angles):
                log.warning("%s: reaction forces left out: some nodes have rotated coordinate systems", path)
            else:
                wanted["RF"] = ("RF", (0, 1, 2), COMPONENTS["RF"])

    sources = {
        name: Field("node", components, AnsysNodalResult(
            file=shared, record=record, columns=columns, layout=layout,
            shape=(len(times), mesh.n_nodes, len(components)), dtype=np.dtype(np.float64),
            origin=f"{path}: {name}"))
        for name, (record, columns, components) in wanted.items()
    }
    try:
        return Simulation(
            mesh=mesh, times=times, fields=sources, parameters=parameters,
            provenance={"format": "ansys", "files": [str(path)], "solver": "Ansys Mechanical APDL",
                        "solver_version": str(header.get("verstring", "")), "analysis": analysis,
                        "title": str(header.get("title", "")).strip(), "units": str(header.get("units", ""))},
        )
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None


# --------------------------------------------------------------- file checks
def _check_result_header(path: Path) -> None:
    """Refuse a file that is not an Ansys binary file or is shorter than its header says.

    The library's compiled readers abort the process on truncated files; these
    checks read only the two header records.
    """
    size = path.stat().st_size
    words = np.fromfile(path, dtype="<i4", count=105 + 40)
    endian = "<"
    if len(words) and words[0] != 100:
        words = words.byteswap()
        endian = ">"
    if len(words) < 105 + 40 or words[0] != 100 or words[103] <= 0:
        raise InputError(f"{path}: not an Ansys binary result file, or truncated "
                         f"({size} bytes; the headers need {4 * (105 + 40)})")
    result_header = words[105:]
    end_words = int(result_header[9])  # ptrend: the file's length in 4-byte words
    end8 = int(result_header[22]) + (int(result_header[23]) << 32)  # 64-bit pointer of large files
    end_words = max(end_words, end8)
    if size < 4 * end_words:
        raise InputError(f"{path}: truncated Ansys result file: {size} bytes, its header says "
                         f"{4 * end_words} ({endian}-endian)")


def _open_result(reader, path: Path):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pyvista deprecation chatter
            return reader.read_binary(str(path))
    except Exception as exc:  # noqa: BLE001  the library raises anything on bad input
        raise InputError(f"{path}: not a readable Ansys result file: {type(exc).__name__}: {exc}") from None


# ---------------------------------------------------------------------- mesh
@dataclass(frozen=True, eq=False)
class NodeLayout:
    """How the rows of a nodal field relate to Ansys nodes.

    Attributes
    ----------
    numbers : (n_nodes,) int array
        Ansys node number of each mesh node; -1 for a created midside node.
    midside : (k, 3) int array
        ``(node, corner_a, corner_b)`` for every midside node of the mesh.
    """

    numbers: np.ndarray
    midside: np.ndarray


def _element_name(routine: int) -> str:
    if 151 <= routine <= 159 or routine in (19, 22, 251, 252):
        return f"SURF{routine}"
    if routine in (169, 170):
        return f"TARGE{routine}"
    if 171 <= routine <= 178:
        return f"CONTA{routine}"
    if routine == 200:
        return "MESH200"
    if routine in SHELL_ROUTINES:
        return f"SHELL{routine}"
    return f"ETYPE{routine}"


def _vtk_grid(ansys_mesh, path: Path):
    """The library's VTK conversion, keeping every element and creating missing midside nodes."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            grid = ansys_mesh._parse_vtk(null_unallowed=True, fix_midside=True)
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"{path}: cannot convert the Ansys elements: {type(exc).__name__}: {exc}") from None
    if grid is None or grid.n_cells == 0:
        raise InputError(f"{path}: no nodes or no elements")
    return grid


def _convert_mesh(ansys_mesh, path: Path, ignore_unsupported: bool) -> tuple[Mesh, NodeLayout]:
    """The nirom Mesh of a library ``Mesh`` (result or archive), and how its nodes map to Ansys nodes."""
    grid = _vtk_grid(ansys_mesh, path)
    vtk_types = np.asarray(grid.celltypes, dtype=np.int64)
    offsets = np.asarray(grid.cell_offsets, dtype=np.int64)
    connectivity = np.asarray(grid.cell_connectivity, dtype=np.int64)
    elements = np.asarray(grid.cell_data["ansys_elem_num"], dtype=np.int64)
    routines = np.asarray(grid.cell_data["ansys_elem_type_num"], dtype=np.int64)
    type_ids = np.asarray(grid.cell_data["ansys_etype"], dtype=np.int64)
    numbers = np.asarray(grid.point_data["ansys_node_num"]).astype(np.int64)
    points = np.asarray(grid.points, dtype=np.float64)

    type_table = np.full(max(VTK_TO_MESHIO) + 1, "", dtype=object)
    type_table[list(VTK_TO_MESHIO)] = list(VTK_TO_MESHIO.values())
    dim_table = np.full(len(type_table), -1)
    dim_table[list(VTK_TO_MESHIO)] = [CELL_DIMENSION[t] for t in VTK_TO_MESHIO.values()]
    known = vtk_types < len(type_table)  # VTK_EMPTY_CELL (0) and exotic types map to "" / -1
    meshio_types = np.where(known, type_table[np.where(known, vtk_types, 0)], "")
    dims = np.where(known, dim_table[np.where(known, vtk_types, 0)], -1)
    top = int(dims.max())
    if top < 2:
        raise InputError(f"{path}: no solid or plane elements (found only {_describe(routines, dims >= 0)})")
    volume = dims == top
    shells = volume & np.isin(routines, list(SHELL_ROUTINES))
    if shells.any() and not ignore_unsupported:
        raise InputError(f"{path}: shell elements are not supported ({_describe(routines, shells)})")
    volume &= ~shells
    surface = (dims == top - 1) & np.isin(routines, list(SURFACE_ROUTINES))
    meshing_only = (routines == 200) & ~volume & ~surface
    unsupported = ~volume & ~surface & ~meshing_only
    if unsupported.any():
        message = f"{path}: elements nirom cannot represent: {_describe(routines, unsupported)}"
        if not ignore_unsupported:
            raise InputError(message + " (ignore_unsupported=True skips them)")
        log.warning("%s; skipped", message)
    if not volume.any():
        raise InputError(f"{path}: no solid elements left")

    def conn_of(mask: np.ndarray, cell_type: str) -> np.ndarray:
        rows = np.flatnonzero(mask & (meshio_types == cell_type))
        width = offsets[rows[0] + 1] - offsets[rows[0]]
        return connectivity[offsets[rows][:, None] + np.arange(width)]

    volume_types = list(dict.fromkeys(meshio_types[volume]))
    cell_rows = np.concatenate([np.flatnonzero(volume & (meshio_types == t)) for t in volume_types])
    blocks = {t: conn_of(volume, t) for t in volume_types}

    face_groups = {}  # name -> {meshio type: grid-level conn}
    for routine, type_id in sorted(set(zip(routines[surface].tolist(), type_ids[surface].tolist()))):
        mask = surface & (routines == routine) & (type_ids == type_id)
        face_groups[f"{_element_name(routine)}_{type_id}"] = {
            t: conn_of(mask, t) for t in dict.fromkeys(meshio_types[mask])}
    components = {str(k).strip(): np.asarray(v, dtype=np.int64) for k, v in ansys_mesh.element_components.items()}
    for name, members in components.items():
        mask = surface & np.isin(elements, members)
        if mask.any():
            face_groups[name] = {t: conn_of(mask, t) for t in dict.fromkeys(meshio_types[mask])}

    used = np.unique(np.concatenate([c.ravel() for c in blocks.values()]
                                    + [c.ravel() for g in face_groups.values() for c in g.values()]))
    if len(used) < len(points):
        log.info("%s: %d node(s) used by no kept element are left out", path, len(points) - len(used))
    new_index = np.full(len(points), -1, dtype=np.int64)
    new_index[used] = np.arange(len(used))
    numbers = numbers[used]

    cell_order = np.full(len(elements), -1, dtype=np.int64)
    cell_order[cell_rows] = np.arange(len(cell_rows))
    cell_sets = {}
    for name, members in components.items():
        ids = cell_order[volume & np.isin(elements, members)]
        if len(ids):
            cell_sets[name] = np.sort(ids)
    node_sets = {}
    for name, members in ansys_mesh.node_components.items():
        found, rows = rows_by_number(numbers, np.asarray(members, dtype=np.int64))
        node_sets[str(name).strip()] = np.sort(rows[found])

    cells = {t: new_index[c] for t, c in blocks.items()}
    faces = {name: {t: new_index[c] for t, c in group.items()} for name, group in face_groups.items()}
    blocks_and_faces = [*cells.items(), *(item for group in faces.values() for item in group.items())]
    midside = midside_nodes(blocks_and_faces)
    if (numbers < 0).any():
        log.info("%s: %d missing midside node(s) created at edge midpoints", path, int((numbers < 0).sum()))

    dim = top if top == 3 or np.ptp(points[used, 2]) == 0 else 3
    try:
        mesh = Mesh(points=points[used], cells=cells, node_sets=node_sets, cell_sets=cell_sets,
                    face_sets=faces, point_ids=numbers, cell_ids=elements[cell_rows], dim=dim)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None
    return mesh, NodeLayout(numbers=numbers, midside=midside)


def midside_nodes(blocks) -> np.ndarray:
    """Every midside node with the two corners of its edge.

    Parameters
    ----------
    blocks : iterable of (meshio type, (n, k) int array)

    Returns
    -------
    (m, 3) int array
        ``(midside node, corner a, corner b)``, one row per distinct midside node.
    """
    parts = []
    for cell_type, conn in blocks:
        if cell_type not in MIDSIDE_EDGES:
            continue
        edges = np.array(MIDSIDE_EDGES[cell_type])
        first = conn.shape[1] - len(edges)
        parts.append(np.stack([conn[:, first:].ravel(), conn[:, edges[:, 0]].ravel(),
                               conn[:, edges[:, 1]].ravel()], axis=1))
    if not parts:
        return np.zeros((0, 3), dtype=np.int64)
    triplets = np.concatenate(parts)
    return triplets[np.unique(triplets[:, 0], return_index=True)[1]]


def rows_by_number(numbers: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each wanted Ansys number is in ``numbers``.

    Parameters
    ----------
    numbers : (n,) int array
        Numbers in any order (distinct).
    wanted : (m,) int array

    Returns
    -------
    found : (m,) bool array
    rows : (m,) int array
        ``numbers[rows[found]] == wanted[found]``; meaningless where not found.
    """
    if len(numbers) == 0:
        return np.zeros(len(wanted), dtype=bool), np.zeros(len(wanted), dtype=np.int64)
    order = np.argsort(numbers, kind="stable")
    at = np.clip(np.searchsorted(numbers[order], wanted), 0, len(numbers) - 1)
    rows = order[at]
    return numbers[rows] == wanted, rows


def _describe(routines: np.ndarray, mask: np.ndarray) -> str:
    found, counts = np.unique(routines[mask], return_counts=True)
    return ", ".join(f"{n} {_element_name(int(r))}" for r, n in zip(found, counts))


# -------------------------------------------------------------------- values
@dataclass(eq=False)
class _ResultFile:
    """An open ``Result`` shared by the fields of one file (reopened when needed)."""

    path: Path
    result: object = field(default=None, repr=False)

    def get(self):
        if self.result is None:
            reader = require("ansys.mapdl.reader", "ansys", "reading Ansys result files (.rst)")
            _check_result_header(self.path)
            self.result = _open_result(reader, self.path)
        return self.result


@dataclass(frozen=True, eq=False)
class AnsysNodalResult:
    """A nodal result of an Ansys file, read one result set at a time.

    Attributes
    ----------
    file : _ResultFile
    record : {"NSL", "ENS", "EEL", "EPT", "RF"}
        Which library result: DOF solution, stresses, elastic strains, body
        temperatures, reaction forces.
    columns : tuple[int, ...]
        Columns of the library's array kept, in the field's component order.
    layout : NodeLayout
    shape : (n_times, n_nodes, n_components)
    dtype : numpy dtype
    origin : str
    """

    file: _ResultFile
    record: str
    columns: tuple[int, ...]
    layout: NodeLayout
    shape: tuple[int, int, int]
    dtype: np.dtype
    origin: str

    def read(self, steps: Index, rows: Index) -> np.ndarray:
        """Values at some result sets and mesh nodes, shape (n_steps, n_rows, n_components)."""
        step_ids = np.arange(self.shape[0])[steps]
        node_rows = np.arange(self.shape[1])[rows]
        out = np.empty((len(step_ids), len(node_rows), self.shape[2]))
        for i, step in enumerate(step_ids):
            out[i] = self._step(int(step))[node_rows]
        return out

    def _step(self, step: int) -> np.ndarray:
        """All mesh nodes at one result set, (n_nodes, n_components), midside nodes filled."""
        result = self.file.get()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                numbers, values = self._fetch(result, step)
        except Exception as exc:  # noqa: BLE001  the library raises anything on bad records
            raise InputError(f"{self.origin}: cannot read result set {step}: {type(exc).__name__}: {exc}") from None
        values = np.asarray(values, dtype=np.float64).reshape(len(numbers), -1)[:, list(self.columns)]
        # rows of the library's arrays, by Ansys node number (created midside nodes have -1)
        found, at = rows_by_number(np.asarray(numbers, dtype=np.int64), self.layout.numbers)
        found &= self.layout.numbers >= 0
        full = np.full((len(self.layout.numbers), len(self.columns)), np.nan)
        full[found] = values[at[found]]
        node, a, b = self.layout.midside.T
        fill = np.isnan(full[node]).any(axis=1)
        full[node[fill]] = 0.5 * (full[a[fill]] + full[b[fill]])
        missing = np.isnan(full).any(axis=1)
        if missing.any():
            first = int(np.flatnonzero(missing)[0])
            raise InputError(
                f"{self.origin}: no value at {int(missing.sum())} node(s) at result set {step} "
                f"(first: Ansys node {int(self.layout.numbers[first])}); is it attached only to "
                "elements without this result?"
            )
        return full

    def _fetch(self, result, step: int) -> tuple[np.ndarray, np.ndarray]:
        """Node numbers and the library's array for one result set."""
        if self.record == "NSL":
            return result.nodal_solution(step)
        if self.record == "ENS":
            return result.nodal_stress(step)
        if self.record == "EEL":
            return result.nodal_elastic_strain(step)
        if self.record == "EPT":
            return result.nodal_temperature(step)
        if self.record == "RF":
            forces, nodes, dofs = result.nodal_reaction_forces(step)
            numbers = np.unique(nodes)
            values = np.zeros((len(numbers), 3))
            keep = (dofs >= 1) & (dofs <= 3)
            np.add.at(values, (np.searchsorted(numbers, nodes[keep]), dofs[keep] - 1), forces[keep])
            others = np.setdiff1d(self.layout.numbers[self.layout.numbers >= 0], numbers)
            return (np.concatenate([numbers, others]),
                    np.concatenate([values, np.zeros((len(others), 3))]))
        raise InputError(f"{self.origin}: unknown record {self.record}")
