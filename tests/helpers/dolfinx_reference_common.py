"""Shared pieces of the dolfinx reference solvers run by ``tests/test_hifi_dolfinx.py``.

Imported by the ``dolfinx_reference_*.py`` scripts (Python puts the script's folder
on ``sys.path``). Nothing here imports nirom: these are independent references.
``import dolfinx_solver`` must come before ``import dolfinx`` (it orders MPI).
"""

from __future__ import annotations

import dolfinx_solver  # noqa: F401  (first: orders MPI)

import numpy as np
import ufl
from mpi4py import MPI
from dolfinx import fem, mesh

#: VTK/meshio tetra10 node i is basix P2 dof VTK_TO_BASIX_TET10[i] (vertices, then the
#: edges (0,1) (1,2) (0,2) (0,3) (1,3) (2,3); basix numbers its edges (2,3) (1,3)
#: (1,2) (0,3) (0,2) (0,1)). Checked at run time against the edge midpoints.
VTK_TO_BASIX_TET10 = np.array([0, 1, 2, 3, 9, 6, 8, 7, 5, 4])
_VTK_TET10_EDGES = ((0, 1), (1, 2), (0, 2), (0, 3), (1, 3), (2, 3))


def box(size, divisions):
    """Tetrahedral box [0, Lx] x [0, Ly] x [0, Lz] (serial, COMM_SELF)."""
    return mesh.create_box(MPI.COMM_SELF, [[0.0, 0.0, 0.0], list(size)], list(divisions),
                           mesh.CellType.tetrahedron)


def nodal_layout(domain, V):
    """Nodes of a vector Lagrange space as a meshio-style tetra/tetra10 mesh.

    Returns
    -------
    points : (n_nodes, 3)
        Vertices first, in the mesh's ORIGINAL input order
        (``geometry.input_global_indices``), then the P2 edge nodes by dof index.
    cells : (n_cells, 4 or 10)
        Node indices in VTK/meshio order, cells in the original input order
        (``topology.original_cell_index``).
    dof_of_node : (n_nodes,)
        Block dof of V holding each node's displacement.
    """
    degree = V.ufl_element().embedded_superdegree
    cell_dofs = np.asarray(V.dofmap.list)                      # (n_cells, 4|10), basix order
    geo = np.asarray(domain.geometry.dofmap)                   # (n_cells, 4), basix order
    x_dofs = V.tabulate_dof_coordinates()
    n_dofs = len(x_dofs)
    # vertex dofs -> original vertex index
    original = np.asarray(domain.geometry.input_global_indices)
    vertex_original = np.full(n_dofs, -1, dtype=np.int64)
    vertex_original[cell_dofs[:, :4].ravel()] = original[geo.ravel()]
    is_vertex = vertex_original >= 0
    n_vertices = int(is_vertex.sum())
    assert sorted(vertex_original[is_vertex]) == list(range(n_vertices))
    node_of_dof = np.full(n_dofs, -1, dtype=np.int64)
    node_of_dof[is_vertex] = vertex_original[is_vertex]
    others = np.flatnonzero(~is_vertex)
    node_of_dof[others] = n_vertices + np.arange(len(others))
    dof_of_node = np.empty(n_dofs, dtype=np.int64)
    dof_of_node[node_of_dof] = np.arange(n_dofs)
    points = x_dofs[dof_of_node]
    # vertices' coordinates must be the input coordinates
    assert np.allclose(points[:n_vertices][original[geo.ravel()]], domain.geometry.x[geo.ravel()])

    perm = np.arange(4) if degree == 1 else VTK_TO_BASIX_TET10
    cells = node_of_dof[cell_dofs[:, perm]]
    order = np.argsort(np.asarray(domain.topology.original_cell_index))
    cells = cells[order]
    if degree == 2:   # the edge nodes are the midpoints of the VTK edges
        for k, (a, b) in enumerate(_VTK_TET10_EDGES):
            mid = 0.5 * (points[cells[:, a]] + points[cells[:, b]])
            assert np.allclose(points[cells[:, 4 + k]], mid, atol=1e-12), f"tetra10 edge {k} mismatch"
    return points, cells, dof_of_node


def facets_where(domain, predicate):
    """Boundary facets (tdim-1 entities) whose midpoints satisfy a predicate."""
    fdim = domain.topology.dim - 1
    return mesh.locate_entities_boundary(domain, fdim, predicate)


def facet_tags(domain, groups: dict[int, np.ndarray]):
    """A MeshTags object for facets, one tag per group."""
    fdim = domain.topology.dim - 1
    indices = np.concatenate(list(groups.values())).astype(np.int32)
    values = np.concatenate([np.full(len(v), k, dtype=np.int32) for k, v in groups.items()])
    order = np.argsort(indices)
    return mesh.meshtags(domain, fdim, indices[order], values[order])


def component_bc(V, facets, component: int, value):
    """Dirichlet condition on one displacement component over some facets.

    ``value`` is a ``fem.Constant`` (scalar) whose value may change in time.
    Returns (bc, dofs of V's flat array it constrains).
    """
    fdim = V.mesh.topology.dim - 1
    Vi = V.sub(component)
    dofs = fem.locate_dofs_topological(Vi, fdim, facets)
    bc = fem.dirichletbc(value, dofs, Vi)
    return bc


def eps_mandel(u):
    """Small strain as a Mandel 6-vector [11, 22, 33, √2·12, √2·23, √2·13]."""
    e = ufl.sym(ufl.grad(u))
    r = np.sqrt(2.0)
    return ufl.as_vector([e[0, 0], e[1, 1], e[2, 2], r * e[0, 1], r * e[1, 2], r * e[0, 2]])


def lame(E, nu):
    return E * nu / ((1 + nu) * (1 - 2 * nu)), E / (2 * (1 + nu))


def run_cases(out_dir: str, cases: dict, solve) -> None:
    """Solve each case (``solve(*arguments)``) and save its arrays as ``OUT_DIR/<name>.npz``."""
    import time
    from pathlib import Path

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, arguments in cases.items():
        started = time.perf_counter()
        result = solve(*arguments)
        np.savez(out / f"{name}.npz", **result)
        print(f"{name}: {len(result['points'])} nodes, {len(result['cells'])} cells, "
              f"max|U| = {np.abs(result['U']).max():.6e}, {time.perf_counter() - started:.1f} s", flush=True)
