"""Small mesh builders for the high-fidelity validation tests.

Independent of ``rom.fem`` on purpose (the tests check it): orientation,
boundary facets and their normals are computed here from coordinates only.
Node order is meshio/VTK's: tetra10 edges (0,1) (1,2) (0,2) (0,3) (1,3) (2,3);
hexahedron20 edges (0,1) (1,2) (2,3) (3,0) (4,5) (5,6) (6,7) (7,4) (0,4) (1,5) (2,6) (3,7).
"""

from __future__ import annotations

import numpy as np

from io_adapters.mesh import Mesh

#: Corner triples of the faces of a tetrahedron, and for tetra10 the midside node
#: of each face edge (a,b), (b,c), (c,a).
_TET_FACES = ((0, 1, 2), (0, 1, 3), (1, 2, 3), (0, 2, 3))
_TET10_EDGE_NODE = {frozenset(e): 4 + k for k, e in enumerate(((0, 1), (1, 2), (0, 2), (0, 3), (1, 3), (2, 3)))}
_HEX_FACES = ((0, 3, 2, 1), (4, 5, 6, 7), (0, 1, 5, 4), (1, 2, 6, 5), (2, 3, 7, 6), (3, 0, 4, 7))
_HEX20_EDGE_NODE = {frozenset(e): 8 + k for k, e in enumerate(
    ((0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4), (0, 4), (1, 5), (2, 6), (3, 7)))}
_FACET_TYPE = {"tetra": "triangle", "tetra10": "triangle6", "hexahedron": "quad", "hexahedron20": "quad8"}


def tet_volumes(points: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Signed volumes of tetrahedra from their first four nodes."""
    x = points[cells[:, :4]]
    return np.einsum("ij,ij->i", np.cross(x[:, 1] - x[:, 0], x[:, 2] - x[:, 0]), x[:, 3] - x[:, 0]) / 6.0


def orient_tets(points: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Tetra/tetra10 connectivity with every cell positively oriented (swap nodes 1 and 2)."""
    cells = np.array(cells, copy=True)
    bad = tet_volumes(points, cells) < 0
    swap = [0, 2, 1, 3] if cells.shape[1] == 4 else [0, 2, 1, 3, 6, 5, 4, 7, 9, 8]
    cells[bad] = cells[bad][:, swap]
    assert np.all(tet_volumes(points, cells) > 0)
    return cells


def _faces(cell_type: str, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All faces (corner + midside nodes, meshio facet order) and the cell of each."""
    corners = _TET_FACES if cell_type.startswith("tetra") else _HEX_FACES
    mids = _TET10_EDGE_NODE if cell_type == "tetra10" else _HEX20_EDGE_NODE
    local = []
    for face in corners:
        nodes = list(face)
        if cell_type in ("tetra10", "hexahedron20"):
            nodes += [mids[frozenset((face[i], face[(i + 1) % len(face)]))] for i in range(len(face))]
        local.append(nodes)
    local = np.array(local)
    faces = cells[:, local].reshape(-1, local.shape[1])
    owner = np.repeat(np.arange(len(cells)), len(local))
    return faces, owner


def _reverse(face: np.ndarray, n_corners: int) -> np.ndarray:
    """The same facet listed the other way round (normal flipped), midside nodes following."""
    corners = face[..., :n_corners]
    rev = np.concatenate([corners[..., :1], corners[..., 1:][..., ::-1]], axis=-1)
    if face.shape[-1] == n_corners:
        return rev
    mids = face[..., n_corners:]
    # edge k of the reversed facet joins rev[k], rev[k+1]: edges (0,n-1), (n-1,n-2), ..., (1,0)
    rmids = np.concatenate([mids[..., -1:], mids[..., :-1][..., ::-1]], axis=-1)
    return np.concatenate([rev, rmids], axis=-1)


def boundary_faces(points: np.ndarray, cell_type: str, cells: np.ndarray, where, *, outward: bool = True):
    """Boundary facets whose nodes all satisfy ``where(x) -> bool array``, normals outward.

    The right-hand-rule normal of the listed corners is made to point away from
    the owning cell's centroid (or towards it with ``outward=False``).

    Returns
    -------
    (n_f, k) int array
        Facets in meshio order (``triangle``/``triangle6``/``quad``/``quad8``).
    """
    faces, owner = _faces(cell_type, cells)
    n_corners = 3 if cell_type.startswith("tetra") else 4
    key = np.sort(faces[:, :n_corners], axis=1)
    _, inverse, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    on_boundary = counts[inverse.ravel()] == 1
    inside = np.all(where(points[faces]), axis=1)
    keep = on_boundary & inside
    faces, owner = faces[keep], owner[keep]
    x = points[faces[:, :n_corners]]
    normal = np.cross(x[:, 1] - x[:, 0], x[:, 2] - x[:, 0])
    cell_corners = 4 if cell_type.startswith("tetra") else 8
    away = x.mean(axis=1) - points[cells[owner, :cell_corners]].mean(axis=1)
    flip = (np.einsum("ij,ij->i", normal, away) < 0) == outward
    faces[flip] = _reverse(faces[flip], n_corners)
    return faces


def facet_type(cell_type: str) -> str:
    return _FACET_TYPE[cell_type]


def facet_normals(points: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Unit right-hand-rule normals of flat facets from their first three corners."""
    x = points[faces[:, :3]]
    n = np.cross(x[:, 1] - x[:, 0], x[:, 2] - x[:, 0])
    return n / np.linalg.norm(n, axis=1, keepdims=True)


def nodes_where(points: np.ndarray, where) -> np.ndarray:
    """Indices of the nodes satisfying ``where(x) -> bool array``."""
    return np.flatnonzero(where(points))


def structured_hex20(size, divisions, origin=(0.0, 0.0, 0.0), mapping=None):
    """A structured hexahedron20 box mesh, optionally mapped by ``mapping(points) -> points``.

    Nodes are those of a (2n+1)-grid without the face and cell centres; the
    connectivity follows meshio's hexahedron20 order.

    Returns
    -------
    points : (n, 3), cells : (m, 20)
    """
    nx, ny, nz = divisions
    grid = np.stack(np.meshgrid(*[np.linspace(o, o + s, 2 * n + 1) for o, s, n in zip(origin, size, divisions)],
                                indexing="ij"), axis=-1)
    index = np.full((2 * nx + 1, 2 * ny + 1, 2 * nz + 1), -1, dtype=np.int64)
    i, j, k = np.indices(index.shape)
    keep = ((i % 2) + (j % 2) + (k % 2)) <= 1          # corners and edge midpoints only
    index[keep] = np.arange(keep.sum())
    points = grid[keep]
    corner = np.array([(0, 0, 0), (2, 0, 0), (2, 2, 0), (0, 2, 0), (0, 0, 2), (2, 0, 2), (2, 2, 2), (0, 2, 2)])
    edges = ((0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4), (0, 4), (1, 5), (2, 6), (3, 7))
    local = np.concatenate([corner, [(corner[a] + corner[b]) // 2 for a, b in edges]])
    base = np.stack(np.meshgrid(2 * np.arange(nx), 2 * np.arange(ny), 2 * np.arange(nz), indexing="ij"),
                    axis=-1).reshape(-1, 3)
    ijk = base[:, None, :] + local[None]
    cells = index[ijk[..., 0], ijk[..., 1], ijk[..., 2]]
    assert np.all(cells >= 0)
    if mapping is not None:
        points = mapping(points)
    return points, cells


def mesh_with_sets(points, cell_type, cells, *, node_sets=None, face_sets=None) -> Mesh:
    """A Mesh with node sets and face sets given by coordinate predicates.

    ``node_sets``: name -> where(x); ``face_sets``: name -> where(x) (outward facets).
    """
    face_blocks = {name: {facet_type(cell_type): boundary_faces(points, cell_type, cells, where)}
                   for name, where in (face_sets or {}).items()}
    return Mesh(points=points, cells={cell_type: cells},
                node_sets={name: nodes_where(points, where) for name, where in (node_sets or {}).items()},
                face_sets=face_blocks)


# ---------------------------------------------------------------------- gmsh
#: Reference coordinates of meshio/VTK node orders (same reference cells as Gmsh's).
_VTK_REFERENCE = {
    "tetra10": np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [.5, 0, 0], [.5, .5, 0], [0, .5, 0],
                         [0, 0, .5], [.5, 0, .5], [0, .5, .5]]),
    "tetra": np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]]),
}
_GMSH_TYPE = {"tetra": 4, "tetra10": 11}


def gmsh_volume_mesh(build, *, order: int, size: float) -> tuple[np.ndarray, str, np.ndarray]:
    """Mesh the geometry made by ``build()`` (gmsh OCC calls) with tetrahedra of some order.

    The node order of Gmsh's elements is turned into meshio's by matching the
    reference coordinates of the two numberings (no table copied from either).

    Returns
    -------
    points : (n, 3), cell_type : "tetra" or "tetra10", cells : (m, k)
        Only the nodes used by the volume cells, renumbered from 0.
    """
    import gmsh

    cell_type = {1: "tetra", 2: "tetra10"}[order]
    gmsh.initialize(["-noenv"], readConfigFiles=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.option.setNumber("General.NumThreads", 1)
        gmsh.model.add("nirom_test")
        build()
        gmsh.model.occ.synchronize()
        gmsh.option.setNumber("Mesh.MeshSizeMin", size)
        gmsh.option.setNumber("Mesh.MeshSizeMax", size)
        gmsh.model.mesh.generate(3)
        if order == 2:
            gmsh.model.mesh.setOrder(2)
        _, _, _, n_nodes, local, _ = gmsh.model.mesh.getElementProperties(_GMSH_TYPE[cell_type])
        local = np.asarray(local).reshape(n_nodes, 3)
        reference = _VTK_REFERENCE[cell_type]
        perm = np.array([int(np.argmin(np.linalg.norm(local - r, axis=1))) for r in reference])
        assert np.allclose(local[perm], reference) and len(set(perm)) == n_nodes
        tags, coords, _ = gmsh.model.mesh.getNodes()
        _, node_tags = gmsh.model.mesh.getElementsByType(_GMSH_TYPE[cell_type])
    finally:
        gmsh.finalize()
    coords = np.asarray(coords).reshape(-1, 3)
    index = np.full(int(np.max(tags)) + 1, -1, dtype=np.int64)
    index[np.asarray(tags, dtype=np.int64)] = np.arange(len(tags))
    cells = index[np.asarray(node_tags, dtype=np.int64).reshape(-1, n_nodes)][:, perm]
    used, cells = np.unique(cells, return_inverse=True)
    return coords[used], cell_type, cells.reshape(-1, n_nodes)
