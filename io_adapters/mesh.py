"""The in-house mesh container and its conversion to and from ``meshio.Mesh``."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

import numpy as np

from io_adapters.errors import InputError

#: Topological dimension of the meshio cell types nirom knows.
CELL_DIMENSION: Mapping[str, int] = MappingProxyType(
    {
        "vertex": 0,
        "line": 1,
        "line3": 1,
        "triangle": 2,
        "triangle6": 2,
        "quad": 2,
        "quad8": 2,
        "quad9": 2,
        "tetra": 3,
        "tetra10": 3,
        "wedge": 3,
        "wedge15": 3,
        "pyramid": 3,
        "pyramid13": 3,
        "hexahedron": 3,
        "hexahedron20": 3,
        "hexahedron27": 3,
    }
)

#: Nodes per cell of the meshio cell types nirom knows.
NODES_PER_CELL: Mapping[str, int] = MappingProxyType(
    {
        "vertex": 1,
        "line": 2,
        "line3": 3,
        "triangle": 3,
        "triangle6": 6,
        "quad": 4,
        "quad8": 8,
        "quad9": 9,
        "tetra": 4,
        "tetra10": 10,
        "wedge": 6,
        "wedge15": 15,
        "pyramid": 5,
        "pyramid13": 13,
        "hexahedron": 8,
        "hexahedron20": 20,
        "hexahedron27": 27,
    }
)

_FACE_SET_TAG = "nirom:face_set"


def _frozen_int_dict(mapping, *, where: str) -> dict[str, np.ndarray]:
    out = {}
    for name, values in mapping.items():
        array = np.ascontiguousarray(values, dtype=np.int64)
        array.setflags(write=False)
        out[str(name)] = array
    return out


@dataclass(frozen=True, eq=False)
class Mesh:
    """An unstructured mesh in meshio/VTK node order.

    Attributes
    ----------
    points : (n_nodes, 3) float array
        Node coordinates (z = 0 for planar meshes).
    cells : dict[str, (n_cells_of_type, nodes_per_cell) int array]
        Connectivity per meshio cell type, 0-based node indices. The order of the
        dict is the mesh's cell order: cell ``i`` of the mesh is found by walking
        the blocks in order (see :meth:`cell_offsets`).
    node_sets : dict[str, (k,) int array]
        Named sets of node indices.
    cell_sets : dict[str, (k,) int array]
        Named sets of cell indices in the mesh's cell order.
    face_sets : dict[str, dict[str, (n_facets, nodes_per_facet) int array]]
        Named sets of boundary facets (faces in 3D, edges in 2D) given by their
        node indices in meshio order; the listing order fixes the facet normal
        (right-hand rule).
    point_ids : (n_nodes,) int array, optional
        Identifiers of the nodes in the source (solver ids or global indices of a
        subdomain's nodes).
    cell_ids : (n_cells,) int array, optional
        Identifiers of the cells in the source, in the mesh's cell order.
    dim : int
        Geometric dimension of the model (2 or 3).
    """

    points: np.ndarray
    cells: dict[str, np.ndarray]
    node_sets: dict[str, np.ndarray] = field(default_factory=dict)
    cell_sets: dict[str, np.ndarray] = field(default_factory=dict)
    face_sets: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    point_ids: np.ndarray | None = None
    cell_ids: np.ndarray | None = None
    dim: int = 3

    def __post_init__(self):
        points = np.asarray(self.points, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] not in (2, 3):
            raise InputError(f"mesh points must have shape (n_nodes, 3), found {points.shape}")
        if points.shape[1] == 2:
            points = np.column_stack([points, np.zeros(len(points))])
        if not np.all(np.isfinite(points)):
            bad = int(np.flatnonzero(~np.all(np.isfinite(points), axis=1))[0])
            kind = "NaN" if np.isnan(points[bad]).any() else "an infinite value"
            raise InputError(f"mesh point {bad} has {kind} among its coordinates {points[bad].tolist()}")
        points = np.ascontiguousarray(points)
        points.setflags(write=False)
        object.__setattr__(self, "points", points)
        n_nodes = len(points)

        cells = {}
        for cell_type, connectivity in self.cells.items():
            if cell_type not in NODES_PER_CELL:
                raise InputError(f"unknown cell type '{cell_type}' (known: {', '.join(NODES_PER_CELL)})")
            conn = np.ascontiguousarray(connectivity, dtype=np.int64)
            if conn.ndim == 1 and conn.size == 0:
                conn = conn.reshape(0, NODES_PER_CELL[cell_type])
            if conn.ndim != 2 or conn.shape[1] != NODES_PER_CELL[cell_type]:
                raise InputError(
                    f"cells of type '{cell_type}' must have shape (n, {NODES_PER_CELL[cell_type]}), "
                    f"found {conn.shape}"
                )
            _check_range(conn, n_nodes, f"connectivity of '{cell_type}' cells", "node")
            conn.setflags(write=False)
            cells[cell_type] = conn
        object.__setattr__(self, "cells", cells)
        n_cells = sum(len(c) for c in cells.values())

        node_sets = _frozen_int_dict(self.node_sets, where="node set")
        for name, nodes in node_sets.items():
            _check_range(nodes, n_nodes, f"node set '{name}'", "node")
        object.__setattr__(self, "node_sets", node_sets)

        cell_sets = _frozen_int_dict(self.cell_sets, where="cell set")
        for name, ids in cell_sets.items():
            _check_range(ids, n_cells, f"cell set '{name}'", "cell")
        object.__setattr__(self, "cell_sets", cell_sets)

        face_sets = {}
        for name, blocks in self.face_sets.items():
            frozen = {}
            for facet_type, conn in blocks.items():
                if facet_type not in NODES_PER_CELL:
                    raise InputError(f"face set '{name}': unknown facet type '{facet_type}'")
                conn = np.ascontiguousarray(conn, dtype=np.int64).reshape(-1, NODES_PER_CELL[facet_type])
                _check_range(conn, n_nodes, f"face set '{name}'", "node")
                conn.setflags(write=False)
                frozen[facet_type] = conn
            face_sets[str(name)] = frozen
        object.__setattr__(self, "face_sets", face_sets)

        for attr, expected in (("point_ids", n_nodes), ("cell_ids", n_cells)):
            ids = getattr(self, attr)
            if ids is not None:
                ids = np.ascontiguousarray(ids, dtype=np.int64)
                if ids.shape != (expected,):
                    raise InputError(f"mesh {attr} must have shape ({expected},), found {ids.shape}")
                ids.setflags(write=False)
                object.__setattr__(self, attr, ids)
        if self.dim not in (1, 2, 3):
            raise InputError(f"mesh dim must be 1, 2 or 3, found {self.dim}")

    # ------------------------------------------------------------------ sizes
    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.points)

    @property
    def n_cells(self) -> int:
        """Number of cells (all blocks)."""
        return sum(len(c) for c in self.cells.values())

    @property
    def cell_types(self) -> tuple[str, ...]:
        """Cell types in the mesh's cell order."""
        return tuple(self.cells)

    def cell_offsets(self) -> dict[str, int]:
        """Index of each block's first cell in the mesh's cell order."""
        offsets, start = {}, 0
        for cell_type, conn in self.cells.items():
            offsets[cell_type] = start
            start += len(conn)
        return offsets

    def cell_type_of(self) -> np.ndarray:
        """Cell type name of every cell, shape (n_cells,), in the mesh's cell order."""
        return np.concatenate(
            [np.full(len(c), t, dtype=object) for t, c in self.cells.items()]
        ) if self.cells else np.zeros(0, dtype=object)

    # --------------------------------------------------------------- subsets
    def cell_blocks_of(self, cells: np.ndarray) -> dict[str, np.ndarray]:
        """The connectivity of some cells, block by block (the mesh's block order).

        Parameters
        ----------
        cells : (k,) int array
            Cell indices in this mesh's cell order, increasing, distinct and in range
            (the caller checks them): the blocks then hold the cells in that order.

        Returns
        -------
        dict[str, (k_type, n_nodes_per_cell) int array]
            Only the types that hold some of the cells.
        """
        blocks = {}
        for cell_type, start in self.cell_offsets().items():
            conn = self.cells[cell_type]
            local = cells[(cells >= start) & (cells < start + len(conn))] - start
            if len(local):
                blocks[cell_type] = conn[local]
        return blocks

    def nodes_of_blocks(self, blocks: dict[str, np.ndarray]) -> np.ndarray:
        """The nodes of some cells' connectivity (:meth:`cell_blocks_of`), increasing, (m,).

        A mask, not a sort: linear in the cells.
        """
        used = np.zeros(self.n_nodes, dtype=bool)
        for conn in blocks.values():
            used[conn.ravel()] = True
        return np.flatnonzero(used).astype(np.int64)

    def submesh(self, cells: np.ndarray) -> tuple["Mesh", np.ndarray]:
        """The mesh made of some cells, with the node and cell indices it came from.

        Parameters
        ----------
        cells : (k,) int array
            Cell indices in this mesh's cell order (duplicates are ignored; the
            submesh keeps them in increasing order).

        Returns
        -------
        submesh : Mesh
            ``point_ids`` and ``cell_ids`` hold the parent's *indices* of the kept
            nodes and cells; sets are restricted to what is kept.
        nodes : (m,) int array
            Parent indices of the submesh's nodes, increasing.
        """
        cells = np.asarray(cells, dtype=np.int64).ravel()
        if len(cells) > 1 and not np.all(cells[1:] > cells[:-1]):
            cells = np.unique(cells)                         # already increasing and distinct: kept as given
        _check_range(cells, self.n_cells, "submesh cells", "cell")
        kept_blocks = self.cell_blocks_of(cells)
        nodes = self.nodes_of_blocks(kept_blocks)
        node_map = np.full(self.n_nodes, -1, dtype=np.int64)
        node_map[nodes] = np.arange(len(nodes))
        cell_map = np.full(self.n_cells, -1, dtype=np.int64)
        cell_map[cells] = np.arange(len(cells))

        def keep(ids, mapping):
            mapped = mapping[ids]
            return mapped[mapped >= 0]

        face_sets = {}
        for name, blocks in self.face_sets.items():
            kept = {}
            for facet_type, conn in blocks.items():
                inside = np.all(node_map[conn] >= 0, axis=1)
                if inside.any():
                    kept[facet_type] = node_map[conn[inside]]
            face_sets[name] = kept
        sub = Mesh(
            points=self.points[nodes],
            cells={t: node_map[c] for t, c in kept_blocks.items()},
            node_sets={n: keep(s, node_map) for n, s in self.node_sets.items()},
            cell_sets={n: keep(s, cell_map) for n, s in self.cell_sets.items()},
            face_sets=face_sets,
            point_ids=nodes,
            cell_ids=cells,
            dim=self.dim,
        )
        return sub, nodes

    # ---------------------------------------------------------------- meshio
    def to_meshio(self, point_data=None, cell_data=None):
        """This mesh as a ``meshio.Mesh``.

        Volume cells come first (one block per type, in the mesh's cell order),
        then one block per face set and facet type. Node sets become ``point_sets``
        (meshio ≥ 5); cell sets and face sets become ``cell_sets``.

        Parameters
        ----------
        point_data : dict[str, (n_nodes, ...) array], optional
        cell_data : dict[str, (n_cells, ...) array], optional
            Values per cell in the mesh's cell order (face-set blocks get NaN).
        """
        import meshio

        from io_adapters.meshio_compat import ensure_meshio_cell_dimensions

        ensure_meshio_cell_dimensions(list(self.cells) + [t for f in self.face_sets.values() for t in f])
        blocks = [meshio.CellBlock(t, np.asarray(c)) for t, c in self.cells.items()]
        n_volume_blocks = len(blocks)
        cell_sets = {}
        offsets = self.cell_offsets()
        for name, ids in self.cell_sets.items():
            cell_sets[name] = [
                ids[(ids >= offsets[t]) & (ids < offsets[t] + len(c))] - offsets[t]
                for t, c in self.cells.items()
            ]
        face_block_sets = {}
        for name, facets in self.face_sets.items():
            for facet_type, conn in facets.items():
                face_block_sets.setdefault(name, []).append(len(blocks))
                blocks.append(meshio.CellBlock(facet_type, np.asarray(conn)))
        empty = np.zeros(0, dtype=np.int64)
        for name, ids in cell_sets.items():
            ids.extend([empty] * (len(blocks) - n_volume_blocks))
        for name, block_ids in face_block_sets.items():
            cell_sets[f"{_FACE_SET_TAG}:{name}"] = [
                np.arange(len(blocks[i].data)) if i in block_ids else empty for i in range(len(blocks))
            ]
        converted_cell_data = {}
        for key, values in (cell_data or {}).items():
            values = np.asarray(values)
            parts = np.split(values, np.cumsum([len(c) for c in self.cells.values()])[:-1])
            parts += [np.full((len(b.data),) + values.shape[1:], np.nan) for b in blocks[n_volume_blocks:]]
            converted_cell_data[key] = parts
        return meshio.Mesh(
            self.points[:, : max(self.dim, 2)] if self.dim == 2 else self.points,
            blocks,
            point_data=dict(point_data or {}),
            cell_data=converted_cell_data,
            point_sets={k: np.asarray(v) for k, v in self.node_sets.items()},
            cell_sets=cell_sets,
        )

    @classmethod
    def from_meshio(cls, mesh, *, source: str = "meshio mesh") -> "Mesh":
        """Build a Mesh from a ``meshio.Mesh``.

        The cells of the highest topological dimension make the mesh; blocks of
        lower dimension become face sets: the sets written by :meth:`to_meshio`,
        else meshio ``cell_sets`` (Gmsh physical groups, MED families) that hold
        them, else one face set per facet type named ``boundary_<type>``.
        Several blocks of one type are merged in order.

        Parameters
        ----------
        mesh : meshio.Mesh
        source : str
            Name used in error messages (the file it came from).
        """
        unknown = sorted({b.type for b in mesh.cells if b.type not in CELL_DIMENSION})
        if unknown:
            raise InputError(f"{source}: unsupported cell type(s) {', '.join(unknown)}")
        if not mesh.cells:
            raise InputError(f"{source}: the mesh has no cells")
        top = max(CELL_DIMENSION[b.type] for b in mesh.cells)
        volume = [i for i, b in enumerate(mesh.cells) if CELL_DIMENSION[b.type] == top]
        lower = [i for i, b in enumerate(mesh.cells) if CELL_DIMENSION[b.type] == top - 1]

        cells: dict[str, list[np.ndarray]] = {}
        global_index = {}  # (block, local) -> position inside merged type blocks
        for i in volume:
            block = mesh.cells[i]
            cells.setdefault(block.type, [])
            start = sum(len(a) for a in cells[block.type])
            global_index[i] = (block.type, start)
            cells[block.type].append(np.asarray(block.data))
        merged = {t: np.concatenate(parts) for t, parts in cells.items()}
        offsets, start = {}, 0
        for t, conn in merged.items():
            offsets[t] = start
            start += len(conn)

        cell_sets, face_sets = {}, {}
        for name, per_block in (mesh.cell_sets or {}).items():
            if name.startswith("gmsh:"):
                continue
            if name.startswith(_FACE_SET_TAG + ":"):
                face_name = name[len(_FACE_SET_TAG) + 1 :]
                for i, ids in enumerate(per_block):
                    if len(ids) and i in lower:
                        b = mesh.cells[i]
                        face_sets.setdefault(face_name, {})
                        prev = face_sets[face_name].get(b.type)
                        new = np.asarray(b.data)[np.asarray(ids, dtype=np.int64)]
                        face_sets[face_name][b.type] = new if prev is None else np.concatenate([prev, new])
                continue
            volume_ids = []
            for i, ids in enumerate(per_block):
                ids = np.asarray(ids, dtype=np.int64)
                if not len(ids):
                    continue
                if i in global_index:
                    t, s = global_index[i]
                    volume_ids.append(offsets[t] + s + ids)
                elif i in lower:
                    b = mesh.cells[i]
                    face_sets.setdefault(name, {})
                    prev = face_sets[name].get(b.type)
                    new = np.asarray(b.data)[ids]
                    face_sets[name][b.type] = new if prev is None else np.concatenate([prev, new])
            if volume_ids:
                cell_sets[name] = np.concatenate(volume_ids)
        claimed = set()
        for name, per_block in (mesh.cell_sets or {}).items():
            for i, ids in enumerate(per_block):
                if len(ids) and i in lower:
                    claimed.add(i)
        # Gmsh physical tags of lower-dimensional blocks without named sets
        physical = mesh.cell_data.get("gmsh:physical") if mesh.cell_data else None
        names_by_tag = {}
        for fname, data in (mesh.field_data or {}).items():
            data = np.asarray(data).ravel()
            if len(data) >= 2 and int(data[1]) == top - 1:
                names_by_tag[int(data[0])] = fname
        for i in lower:
            if i in claimed:
                continue
            b = mesh.cells[i]
            if physical is not None:
                tags = np.asarray(physical[i]).ravel()
                for tag in np.unique(tags):
                    name = names_by_tag.get(int(tag), f"physical_{int(tag)}")
                    new = np.asarray(b.data)[tags == tag]
                    prev = face_sets.setdefault(name, {}).get(b.type)
                    face_sets[name][b.type] = new if prev is None else np.concatenate([prev, new])
            else:
                name = f"boundary_{b.type}"
                prev = face_sets.setdefault(name, {}).get(b.type)
                face_sets[name][b.type] = np.asarray(b.data) if prev is None else np.concatenate([prev, b.data])

        points = np.asarray(mesh.points, dtype=np.float64)
        dim = 3 if top == 3 else (3 if points.shape[1] == 3 and np.ptp(points[:, 2]) > 0 else max(top, 2))
        node_sets = {k: np.asarray(v) for k, v in (getattr(mesh, "point_sets", None) or {}).items()}
        try:
            return cls(points=points, cells=merged, node_sets=node_sets, cell_sets=cell_sets,
                       face_sets=face_sets, dim=dim)
        except InputError as exc:
            raise InputError(f"{source}: {exc}") from None


def _check_range(indices: np.ndarray, size: int, what: str, kind: str) -> None:
    if indices.size and (indices.min() < 0 or indices.max() >= size):
        bad = indices[(indices < 0) | (indices >= size)].ravel()[0]
        if bad < 0:
            raise InputError(f"{what} holds the negative {kind} index {bad} (indices run from 0 to {size - 1})")
        raise InputError(f"{what} refers to {kind} index {bad}, but there are {size} {kind}s")
