"""Topology tables, outward facets and the structured meshes of ``rom.fem``."""

from __future__ import annotations

import numpy as np
import pytest

from io_adapters.errors import InputError
from rom import fem
from rom.fem.loads import facet_normals
from rom.fem.topology import boundary_facets, facet_connectivity

TYPES_3D = ["tetra", "tetra10", "wedge", "wedge15", "hexahedron", "hexahedron20"]
TYPES_2D = ["triangle", "triangle6", "quad", "quad8"]
CENTRES = {"line": [0.0], "line3": [0.0], "triangle": [1 / 3, 1 / 3], "triangle6": [1 / 3, 1 / 3],
           "quad": [0.0, 0.0], "quad8": [0.0, 0.0]}


@pytest.mark.parametrize("cell_type", TYPES_3D + TYPES_2D)
def test_every_local_facet_points_out_of_its_cell(cell_type):
    mesh = fem.distort_mesh(fem.box_mesh(cell_type, (2, 2, 2)[: 3 if cell_type in TYPES_3D else 2]), 0.2, seed=4)
    conn = mesh.cells[cell_type]
    centroids = mesh.points[conn].mean(axis=1)
    d = mesh.dim
    for facet_type, facets in facet_connectivity(cell_type, conn).items():
        per_cell = len(facets) // len(conn)
        normals = facet_normals(mesh.points, facet_type, facets, np.array([CENTRES[facet_type]]), d)[:, 0]
        outward = mesh.points[facets].mean(axis=1)[:, :d] - np.repeat(centroids, per_cell, axis=0)[:, :d]
        assert np.all(np.einsum("fa,fa->f", normals, outward) > 0), facet_type


@pytest.mark.parametrize("cell_type", TYPES_3D + TYPES_2D)
def test_box_boundary_and_named_sets(cell_type):
    divisions = (2, 3, 4) if cell_type in TYPES_3D else (2, 3)
    mesh = fem.box_mesh(cell_type, divisions, size=(1.0, 2.0, 3.0)[: len(divisions)])
    per_square = 2 if cell_type.startswith(("tetra", "triangle")) else 1
    boundary = mesh.face_sets["boundary"]
    n_boundary = sum(len(f) for f in boundary.values())
    if cell_type in TYPES_3D:
        nx, ny, nz = divisions
        if cell_type.startswith("wedge"):  # triangles on z faces, quads on the sides
            assert n_boundary == 2 * 2 * nx * ny + 2 * (nx * nz + ny * nz)
        else:
            assert n_boundary == per_square * 2 * (nx * ny + ny * nz + nx * nz)
    else:
        assert n_boundary == 2 * sum(divisions)
    d = mesh.dim
    for axis, name in enumerate("xyz"[:d]):
        for side, value in (("min", 0.0), ("max", (1.0, 2.0, 3.0)[axis])):
            nodes = mesh.node_sets[f"{name}{side}"]
            np.testing.assert_allclose(mesh.points[nodes, axis], value)
            for facets in mesh.face_sets[f"{name}{side}"].values():
                np.testing.assert_allclose(mesh.points[facets, axis], value)


def test_quadratic_meshes_share_mid_edge_nodes():
    nx, ny, nz = 2, 3, 4
    hex20 = fem.box_mesh("hexahedron20", (nx, ny, nz))
    corners = (nx + 1) * (ny + 1) * (nz + 1)
    edges = nx * (ny + 1) * (nz + 1) + (nx + 1) * ny * (nz + 1) + (nx + 1) * (ny + 1) * nz
    assert hex20.n_nodes == corners + edges
    assert len(np.unique(hex20.cells["hexahedron20"])) == hex20.n_nodes
    tet10 = fem.box_mesh("tetra10", (1, 1, 1))
    assert tet10.n_nodes == 8 + 19  # 12 cube edges + 6 face diagonals + 1 body diagonal


def test_boundary_of_a_mixed_mesh_and_distortion_keeps_the_boundary():
    mesh = fem.box_mesh("wedge15", (2, 2, 2))
    moved = fem.distort_mesh(mesh, 0.3, curved=0.1, seed=1)
    on_boundary = np.unique(np.concatenate([f.ravel() for f in mesh.face_sets["boundary"].values()]))
    np.testing.assert_array_equal(moved.points[on_boundary], mesh.points[on_boundary])
    assert np.abs(moved.points - mesh.points).max() > 0
    split = {"wedge15": mesh.cells["wedge15"][:4], "hexahedron20": fem.box_mesh("hexahedron20", (1, 1, 1)).cells[
        "hexahedron20"] + mesh.n_nodes}
    facets = boundary_facets(split)
    assert set(facets) == {"triangle6", "quad8"} and len(facets["quad8"]) >= 6


def test_box_mesh_refuses_unknown_combinations():
    with pytest.raises(InputError, match="cannot mesh"):
        fem.box_mesh("triangle", (1, 1, 1))
    with pytest.raises(InputError, match="cannot mesh"):
        fem.box_mesh("pyramid", (1, 1, 1))
