"""Structured box meshes of every element type, for tests, benchmarks and examples."""

from __future__ import annotations

import numpy as np

from io_adapters.errors import InputError
from io_adapters.mesh import Mesh
from rom.fem.topology import EDGES, LINEAR, QUADRATIC, boundary_facets

__all__ = ["box_mesh", "add_midside_nodes", "distort_mesh", "map_mesh"]

# Hexahedron split into 6 tetrahedra around the diagonal 0-6 (positive volumes,
# conforming across the structured grid), and into 2 wedges along z.
_HEX_TO_TETS = np.array([[0, 1, 2, 6], [0, 2, 3, 6], [0, 3, 7, 6], [0, 7, 4, 6], [0, 4, 5, 6], [0, 5, 1, 6]])
_HEX_TO_WEDGES = np.array([[0, 1, 2, 4, 5, 6], [0, 2, 3, 4, 6, 7]])
_QUAD_TO_TRIANGLES = np.array([[0, 1, 2], [0, 2, 3]])


def add_midside_nodes(points: np.ndarray, cell_type: str,
                      connectivity: np.ndarray) -> tuple[np.ndarray, str, np.ndarray]:
    """Turn linear cells into their quadratic (mid-edge) counterparts.

    Parameters
    ----------
    points : (n_nodes, 3) array
    cell_type : str
        A linear type (``tetra``, ``hexahedron``, ...).
    connectivity : (n_cells, k) int array

    Returns
    -------
    points : (n_nodes + n_edges, 3) array
        New nodes at the edge midpoints, appended.
    cell_type : str
        The quadratic type (``tetra10``, ``hexahedron20``, ...).
    connectivity : (n_cells, k + n_edges_per_cell) int array
    """
    edges = np.array(EDGES[cell_type])
    pairs = connectivity[:, edges]  # (n_c, n_e, 2)
    key = np.sort(pairs, axis=2).reshape(-1, 2)
    unique, inverse = np.unique(key, axis=0, return_inverse=True)
    mid = len(points) + inverse.reshape(len(connectivity), len(edges))
    new_points = np.concatenate([points, points[unique].mean(axis=1)])
    return new_points, QUADRATIC[cell_type], np.concatenate([connectivity, mid], axis=1)


def box_mesh(cell_type: str, divisions: tuple[int, ...], size: tuple[float, ...] | None = None,
             origin: tuple[float, ...] | None = None) -> Mesh:
    """A structured mesh of a box (3D) or rectangle (2D).

    Parameters
    ----------
    cell_type : str
        Any type of :data:`rom.fem.elements.ELEMENT_TYPES` of dimension 2 or 3
        (tetrahedra: 6 per grid cell; wedges: 2; triangles: 2).
    divisions : (3,) or (2,) ints
        Grid cells along x, y (and z).
    size, origin : tuples of floats, optional
        Box lengths (default 1) and lower corner (default 0).

    Returns
    -------
    Mesh
        With face sets ``xmin``, ``xmax``, ``ymin``, ``ymax`` (, ``zmin``, ``zmax``)
        and ``boundary`` (outward facets), node sets of the same names.
    """
    linear = LINEAR.get(cell_type, cell_type)
    dim = len(divisions)
    if linear not in EDGES or (dim == 3) != (linear in ("tetra", "wedge", "hexahedron")) or dim not in (2, 3):
        raise InputError(f"box_mesh: cannot mesh a {dim}D box with '{cell_type}' cells")
    size = np.ones(dim) if size is None else np.asarray(size, float)
    origin = np.zeros(dim) if origin is None else np.asarray(origin, float)
    n = np.asarray(divisions, dtype=np.int64)
    axes = [np.linspace(o, o + s, k + 1) for o, s, k in zip(origin, size, n)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, dim)
    index = np.arange(np.prod(n + 1)).reshape(tuple(n + 1))
    if dim == 3:
        i, j, k = (a.ravel() for a in np.meshgrid(*(np.arange(m) for m in n), indexing="ij"))
        hexa = np.stack([index[i, j, k], index[i + 1, j, k], index[i + 1, j + 1, k], index[i, j + 1, k],
                         index[i, j, k + 1], index[i + 1, j, k + 1], index[i + 1, j + 1, k + 1],
                         index[i, j + 1, k + 1]], axis=1)
        conn = {"hexahedron": hexa, "tetra": hexa[:, _HEX_TO_TETS].reshape(-1, 4),
                "wedge": hexa[:, _HEX_TO_WEDGES].reshape(-1, 6)}[linear]
        points = grid
    else:
        i, j = (a.ravel() for a in np.meshgrid(*(np.arange(m) for m in n), indexing="ij"))
        quad = np.stack([index[i, j], index[i + 1, j], index[i + 1, j + 1], index[i, j + 1]], axis=1)
        conn = {"quad": quad, "triangle": quad[:, _QUAD_TO_TRIANGLES].reshape(-1, 3)}[linear]
        points = np.column_stack([grid, np.zeros(len(grid))])
    if cell_type != linear:
        points, _, conn = add_midside_nodes(points, linear, conn)
    boundary = boundary_facets({cell_type: conn})
    face_sets = {"boundary": boundary}
    node_sets = {}
    tol = 1e-9 * float(size.max())
    for axis, name in enumerate("xyz"[:dim]):
        for side, value in (("min", origin[axis]), ("max", origin[axis] + size[axis])):
            on = np.abs(points[:, axis] - value) < tol
            node_sets[f"{name}{side}"] = np.flatnonzero(on)
            face_sets[f"{name}{side}"] = {t: f[np.all(on[f], axis=1)] for t, f in boundary.items()
                                          if np.all(on[f], axis=1).any()}
    return Mesh(points=points, cells={cell_type: conn}, node_sets=node_sets, face_sets=face_sets, dim=dim)


def map_mesh(mesh: Mesh, mapping) -> Mesh:
    """The same mesh with its nodes moved by ``mapping``.

    Parameters
    ----------
    mesh : Mesh
    mapping : callable ``(n_nodes, 3) array -> (n_nodes, 3) array``, or a (3, 3) matrix
        (applied as ``x ↦ A x``).
    """
    points = mesh.points @ np.asarray(mapping, float).T if not callable(mapping) else mapping(mesh.points.copy())
    return Mesh(points=points, cells=mesh.cells, node_sets=mesh.node_sets, cell_sets=mesh.cell_sets,
                face_sets=mesh.face_sets, point_ids=mesh.point_ids, cell_ids=mesh.cell_ids, dim=mesh.dim)


def distort_mesh(mesh: Mesh, amplitude: float = 0.2, *, curved: float = 0.0, seed: int = 0) -> Mesh:
    """Randomly move the interior nodes of a single-block mesh (boundary kept in place).

    Corner nodes move by up to ``amplitude`` × the smallest edge length in each
    direction; mid-edge nodes go to the midpoint of their (moved) edge, plus a
    random offset of up to ``curved`` × that edge length (curved edges) when
    both ends are interior.

    Parameters
    ----------
    mesh : Mesh
        One cell block, linear or quadratic (as from :func:`box_mesh`).
    amplitude, curved : float
    seed : int

    Returns
    -------
    Mesh
    """
    (cell_type, conn), = mesh.cells.items()
    linear = LINEAR.get(cell_type, cell_type)
    edges = np.array(EDGES[linear])
    n_corners = int(edges.max()) + 1
    rng = np.random.default_rng(seed)
    dim = mesh.dim
    points = mesh.points.copy()
    corners = conn[:, :n_corners]
    lengths = np.linalg.norm(points[corners[:, edges[:, 0]]] - points[corners[:, edges[:, 1]]], axis=-1)
    h = float(lengths.min())
    boundary = np.zeros(len(points), dtype=bool)
    for facets in mesh.face_sets.get("boundary", {}).values():
        boundary[facets.ravel()] = True
    if "boundary" not in mesh.face_sets:
        boundary[np.unique(np.concatenate([f.ravel() for t, f in boundary_facets(mesh.cells).items()]))] = True
    moving = np.zeros(len(points), dtype=bool)
    moving[np.unique(corners)] = True
    moving &= ~boundary
    points[moving, :dim] += amplitude * h * rng.uniform(-1, 1, size=(moving.sum(), dim))
    if cell_type != linear:
        mids = conn[:, n_corners:]
        a, b = corners[:, edges[:, 0]], corners[:, edges[:, 1]]
        points[mids] = (points[a] + points[b]) / 2
        inner = ~(boundary[a] | boundary[b])
        unique_mids, first = np.unique(mids[inner], return_index=True)
        offset = np.zeros((len(unique_mids), 3))
        offset[:, :dim] = curved * h * rng.uniform(-1, 1, size=(len(unique_mids), dim))
        points[unique_mids] += offset
    return map_mesh(mesh, lambda _: points)
