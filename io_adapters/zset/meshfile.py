"""A Zset mesh as read from its file: the :class:`Mesh` plus what results need.

Result files follow the mesh file's element order, while a :class:`Mesh` keeps
one block per cell type. :class:`MeshFile` remembers the permutation between
the two orders and each element's Zset type (hence its integration points).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from io_adapters.errors import InputError
from io_adapters.mesh import Mesh
from io_adapters.quadrature_rules import POINTS_PER_CELL
from io_adapters.zset.elements import ElementType, to_vtk_order


@dataclass(frozen=True, eq=False)
class MeshFile:
    """A mesh and its file order.

    Attributes
    ----------
    path : Path
    mesh : Mesh
        Cells in blocks (types in order of first appearance); ``point_ids`` and
        ``cell_ids`` hold the Zset node and element ids.
    kinds : tuple[ElementType, ...]
        The element types present; ``type_codes`` index it.
    type_codes : (n_elements,) int array
        Type of each element, in file order.
    mesh_to_file : (n_elements,) int array
        File position of each mesh cell.
    file_to_mesh : (n_elements,) int array
        Mesh cell index of each element in file order.
    """

    path: Path
    mesh: Mesh
    kinds: tuple[ElementType, ...]
    type_codes: np.ndarray
    mesh_to_file: np.ndarray
    file_to_mesh: np.ndarray

    @property
    def file_order_is_mesh_order(self) -> bool:
        return bool(np.array_equal(self.mesh_to_file, np.arange(len(self.mesh_to_file))))

    def integration_layout(self, results: Path) -> tuple[str, np.ndarray]:
        """Integration rule and points per element (file order) for results on this mesh.

        Parameters
        ----------
        results : Path
            The result file, for messages.

        Returns
        -------
        rule : {"zset", "zset-reduced"}
        counts : (n_elements,) int array
            Integration points of each element, in file order.
        """
        used = self.kinds
        reduced = {k.reduced for k in used}
        if len(reduced) > 1:
            full = sorted({k.name for k in used if not k.reduced})
            red = sorted({k.name for k in used if k.reduced})
            raise InputError(
                f"{results}: mesh {self.path.name} mixes full ({', '.join(full)}) and reduced "
                f"({', '.join(red)}) integration; integration-point fields of such a mesh are not "
                "supported (one rule per field)"
            )
        rule = "zset-reduced" if reduced == {True} else "zset"
        table = POINTS_PER_CELL[rule]
        unknown = sorted({k.name for k in used if k.cell_type not in table})
        if unknown:
            raise InputError(
                f"{results}: mesh {self.path.name} has elements of type {', '.join(unknown)}, whose "
                "integration points Zset does not document; integration-point fields cannot be mapped"
            )
        per_code = np.array([table[k.cell_type] for k in self.kinds], dtype=np.int64)
        return rule, per_code[self.type_codes]


def build_mesh_file(
    path: Path,
    *,
    node_ids: np.ndarray,
    coords: np.ndarray,
    dim: int,
    element_ids: np.ndarray,
    kinds: list[ElementType],
    type_codes: np.ndarray,
    connectivity: dict[int, np.ndarray],
    node_sets: dict[str, np.ndarray],
    element_sets: dict[str, np.ndarray],
    facet_sets: dict[str, list[tuple[ElementType, np.ndarray]]],
) -> MeshFile:
    """Assemble a :class:`MeshFile` from file-order arrays.

    Parameters
    ----------
    node_ids : (n_nodes,) int array
    coords : (n_nodes, dim) float array
    element_ids : (n_elements,) int array
        In file order.
    kinds : list[ElementType]
    type_codes : (n_elements,) int array
        Index into ``kinds`` of each element.
    connectivity : dict[int, (n_of_code, n_nodes) int array]
        Node positions per type code, Zset node order, elements in file order.
    node_sets : dict[str, (k,) int array]
        Node positions.
    element_sets : dict[str, (k,) int array]
        Element positions in file order.
    facet_sets : dict[str, list[(ElementType, (n, k) int array)]]
        Facets by node positions in Zset order, in listing order.
    """
    n_elements = len(element_ids)
    block_types: list[str] = []
    for code in _first_appearance(type_codes, len(kinds)):
        if kinds[code].cell_type not in block_types:
            block_types.append(kinds[code].cell_type)
    block_of_code = np.array([block_types.index(k.cell_type) for k in kinds] or [0], dtype=np.int64)
    block_of_element = block_of_code[type_codes] if n_elements else np.zeros(0, np.int64)
    mesh_to_file = np.argsort(block_of_element, kind="stable")
    file_to_mesh = np.empty(n_elements, dtype=np.int64)
    file_to_mesh[mesh_to_file] = np.arange(n_elements)

    cells = {}
    for b, cell_type in enumerate(block_types):
        positions = np.flatnonzero(block_of_element == b)  # file positions, increasing
        n_nodes = len(next(k for k in kinds if k.cell_type == cell_type).permutation)
        conn = np.empty((len(positions), n_nodes), dtype=np.int64)
        for code, kind in enumerate(kinds):
            if kind.cell_type != cell_type or code not in connectivity:
                continue
            where = np.searchsorted(positions, np.flatnonzero(type_codes == code))
            conn[where] = to_vtk_order(connectivity[code], kind)
        cells[cell_type] = conn

    face_sets = {}
    for name, parts in facet_sets.items():
        blocks: dict[str, list[np.ndarray]] = {}
        for kind, conn in parts:
            blocks.setdefault(kind.cell_type, []).append(to_vtk_order(conn, kind))
        face_sets[name] = {t: np.concatenate(c) for t, c in blocks.items()}

    try:
        mesh = Mesh(
            points=np.asarray(coords, dtype=np.float64),
            cells=cells,
            node_sets=node_sets,
            cell_sets={name: file_to_mesh[pos] for name, pos in element_sets.items()},
            face_sets=face_sets,
            point_ids=node_ids,
            cell_ids=np.asarray(element_ids)[mesh_to_file],
            dim=dim,
        )
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None
    return MeshFile(path=Path(path), mesh=mesh, kinds=tuple(kinds), type_codes=np.asarray(type_codes),
                    mesh_to_file=mesh_to_file, file_to_mesh=file_to_mesh)


def _first_appearance(codes: np.ndarray, n_codes: int) -> list[int]:
    """Codes in the order of their first occurrence."""
    if not len(codes):
        return []
    present, first = np.unique(codes, return_index=True)
    return [int(c) for c in present[np.argsort(first)]]


class IdIndex:
    """Positions of ids (node or element labels) in their list.

    Parameters
    ----------
    ids : (n,) int array
        Unique labels in list order.
    what : str
        ``"node"`` or ``"element"``, for messages.
    path : Path
        The file, for messages.
    """

    def __init__(self, ids: np.ndarray, what: str, path: Path):
        self.ids = np.asarray(ids, dtype=np.int64)
        self.what, self.path = what, path
        self.order = np.argsort(self.ids, kind="stable")
        self.sorted = self.ids[self.order]
        duplicated = self.sorted[1:][self.sorted[1:] == self.sorted[:-1]]
        if len(duplicated):
            raise InputError(f"{path}: {what} id {duplicated[0]} is defined more than once")

    def positions(self, query: np.ndarray, where: str) -> np.ndarray:
        """Positions of ``query`` ids; InputError naming ``where`` for an unknown id."""
        query = np.asarray(query, dtype=np.int64)
        if not self.ids.size:
            if query.size:
                raise InputError(f"{self.path}: {where} refers to {self.what} id {query.flat[0]}, "
                                 f"but the file defines no {self.what}s")
            return query.copy()
        slot = np.clip(np.searchsorted(self.sorted, query), 0, len(self.sorted) - 1)
        found = self.sorted[slot] == query
        if not found.all():
            bad = query[~found].flat[0]
            raise InputError(f"{self.path}: {where} refers to {self.what} id {bad}, which the mesh does not define")
        return self.order[slot]


def read_mesh_file(path: str | Path) -> MeshFile:
    """Read a ``.geof`` (ASCII) or ``.geo`` (binary) mesh, chosen by suffix."""
    from io_adapters.zset.geo import read_geo
    from io_adapters.zset.geof import read_geof
    from io_adapters.meshio_compat import ensure_meshio_cell_dimensions

    from io_adapters.formats import file_problem

    path = Path(path)
    problem = file_problem(path)
    if problem is not None:
        raise InputError(f"{path}: " + ("no such mesh file" if problem == "no such file" else problem))
    suffix = path.suffix.lower()
    if suffix not in (".geo", ".geof"):
        raise InputError(f"{path}: a Zset mesh must be a .geof (ASCII) or .geo (binary) file")
    mesh_file = read_geo(path) if suffix == ".geo" else read_geof(path)
    ensure_meshio_cell_dimensions(mesh_file.mesh.cells)
    return mesh_file
