"""Consistent pressure, body-force and centrifugal loads of ``rom.fem``."""

from __future__ import annotations

import numpy as np
import pytest

from io_adapters.errors import InputError
from io_adapters.mesh import Mesh
from rom import fem

TYPES_3D = ["tetra", "tetra10", "wedge", "wedge15", "hexahedron", "hexahedron20"]
TYPES_2D = ["triangle", "triangle6", "quad", "quad8"]


def _mesh(cell_type: str, distort: float = 0.2) -> Mesh:
    divisions = (2, 3, 2) if cell_type in TYPES_3D else (3, 2)
    mesh = fem.box_mesh(cell_type, divisions, size=(1.0, 2.0, 1.5)[: len(divisions)])
    return fem.distort_mesh(mesh, distort, curved=0.05, seed=3)


@pytest.mark.parametrize("cell_type", TYPES_3D + TYPES_2D)
def test_uniform_pressure_on_a_closed_surface_sums_to_zero(cell_type):
    mesh = _mesh(cell_type)
    d = fem.dofs_per_node(mesh)
    force = fem.pressure_load(mesh, "boundary", 3.0).reshape(-1, d)
    assert np.abs(force.sum(axis=0)).max() < 1e-12
    assert np.abs(force).max() > 0.1


@pytest.mark.parametrize("cell_type", TYPES_3D + TYPES_2D)
def test_pressure_on_a_flat_face_is_p_area_normal(cell_type):
    """Positive pressure pushes along the (outward) right-hand-rule normal, Zset's convention."""
    mesh = _mesh(cell_type)
    d = fem.dofs_per_node(mesh)
    area = 2.0 * 1.5 if d == 3 else 2.0
    for rule in ("default", "zset"):
        total = fem.pressure_load(mesh, "xmax", -5.0, rule=rule).reshape(-1, d).sum(axis=0)
        np.testing.assert_allclose(total, [-5.0 * area] + [0.0] * (d - 1), atol=1e-12)
    total = fem.pressure_load(mesh, "ymin", 2.0).reshape(-1, d).sum(axis=0)
    area_y = 1.5 if d == 3 else 1.0
    np.testing.assert_allclose(total, [0.0, -2.0 * area_y] + [0.0] * (d - 2), atol=1e-12)


@pytest.mark.parametrize("cell_type", ["hexahedron20", "tetra10", "wedge", "quad8"])
def test_nodal_and_per_facet_pressure(cell_type):
    mesh = _mesh(cell_type)
    d = fem.dofs_per_node(mesh)
    n_facets = sum(len(c) for c in mesh.face_sets["xmax"].values())
    constant = fem.pressure_load(mesh, "xmax", 4.0)
    np.testing.assert_allclose(fem.pressure_load(mesh, "xmax", np.full(n_facets, 4.0), on="facet"), constant,
                               atol=1e-14)
    np.testing.assert_allclose(fem.pressure_load(mesh, "xmax", np.full(mesh.n_nodes, 4.0), on="node"), constant,
                               atol=1e-14)
    # linear pressure p = 1 + y on the face x = 1: force = ∫ p dA, moment about z = ∫ p y dA
    p = 1.0 + mesh.points[:, 1]
    force = fem.pressure_load(mesh, "xmax", p, on="node").reshape(-1, d)
    depth = 1.5 if d == 3 else 1.0
    assert force[:, 0].sum() == pytest.approx(depth * (2.0 + 2.0), rel=1e-12)  # ∫0^2 (1 + y) dy = 4
    assert force[:, 0] @ mesh.points[:, 1] == pytest.approx(depth * (2.0 + 8.0 / 3.0), rel=1e-12)


def test_consistent_loads_of_quadratic_facets():
    """Uniform pressure on flat quad8 / triangle6 facets: classical nodal fractions."""
    points = np.array([[0, 0, 0], [2, 0, 0], [2, 1, 0], [0, 1, 0], [1, 0, 0], [2, .5, 0], [1, 1, 0], [0, .5, 0]], float)
    mesh = Mesh(points=points, cells={})
    f = fem.pressure_load(mesh, {"quad8": np.arange(8)[None]}, 1.0).reshape(-1, 3)
    np.testing.assert_allclose(f[:, 2], 2.0 * np.array([-1 / 12] * 4 + [1 / 3] * 4), atol=1e-14)
    tri_points = np.array([[0, 0, 0], [2, 0, 0], [0, 1, 0], [1, 0, 0], [1, .5, 0], [0, .5, 0]], float)
    f = fem.pressure_load(Mesh(points=tri_points, cells={}), {"triangle6": np.arange(6)[None]}, 1.0).reshape(-1, 3)
    np.testing.assert_allclose(f[:, 2], 1.0 * np.array([0, 0, 0, 1 / 3, 1 / 3, 1 / 3]), atol=1e-14)
    # reversing the listing order reverses the normal (and the force)
    f_rev = fem.pressure_load(Mesh(points=tri_points, cells={}), {"triangle6": np.array([[0, 2, 1, 5, 4, 3]])}, 1.0)
    np.testing.assert_allclose(f_rev.reshape(-1, 3)[:, 2], -f[:, 2], atol=1e-14)


def test_pressure_argument_checks():
    mesh = _mesh("hexahedron")
    with pytest.raises(InputError, match="no face set 'top'"):
        fem.pressure_load(mesh, "top", 1.0)
    with pytest.raises(InputError, match="match neither"):
        fem.pressure_load(mesh, "xmax", np.ones(5))
    with pytest.raises(InputError, match="cannot bound"):
        fem.pressure_load(mesh, {"line": np.array([[0, 1]])}, 1.0)
    ambiguous = sum(len(c) for c in mesh.face_sets["boundary"].values())
    square = Mesh(points=np.zeros((ambiguous, 3)), cells={})
    with pytest.raises(InputError, match="say on="):
        fem.pressure_load(square, {"quad": mesh.face_sets["boundary"]["quad"] % ambiguous}, np.ones(ambiguous))


@pytest.mark.parametrize("cell_type", TYPES_3D + TYPES_2D)
def test_body_force_total(cell_type):
    mesh = _mesh(cell_type)
    d = fem.dofs_per_node(mesh)
    volume = 3.0 if d == 3 else 2.0
    gravity = np.array([0.0, -9.81, 1.0])[:d]
    np.testing.assert_allclose(fem.body_force(mesh, gravity).reshape(-1, d).sum(axis=0), volume * gravity, rtol=1e-12)


def _quarter_ring(cell_type: str, r_in=1.0, r_out=2.0, height=0.5, n=(3, 12, 1)) -> Mesh:
    box = fem.box_mesh(cell_type, n, size=(r_out - r_in, np.pi / 2, height), origin=(r_in, 0.0, 0.0))

    def polar(x):
        r, theta, z = x.T
        return np.column_stack([r * np.cos(theta), r * np.sin(theta), z])

    return fem.map_mesh(box, polar)


@pytest.mark.parametrize("cell_type", ["hexahedron20", "wedge15", "tetra10", "hexahedron"])
def test_centrifugal_load_on_a_quarter_ring(cell_type):
    """∫ ρ ω² r⊥ dV over r ∈ [1, 2], θ ∈ [0, π/2], z ∈ [0, h]: (ρ ω² h (R³ − r³)/3) (1, 1, 0)."""
    mesh = _quarter_ring(cell_type)
    rho, omega, h = 8.2e-9, 2.0e3, 0.5
    force = fem.centrifugal_load(mesh, rho, omega, (0.0, 0.0, -3.0), (0.0, 0.0, 2.0)).reshape(-1, 3).sum(axis=0)
    exact = rho * omega ** 2 * h * (2.0 ** 3 - 1.0) / 3
    tolerance = 6e-3 if cell_type == "hexahedron" else 2e-5  # straight chords (π/24 each) vs quadratic arcs
    np.testing.assert_allclose(force, [exact, exact, 0.0], rtol=tolerance, atol=tolerance * exact)


def test_centrifugal_density_per_cell_and_axis_offset():
    mesh = fem.box_mesh("hexahedron20", (2, 1, 1), size=(2.0, 1.0, 1.0))
    density = np.array([1.0, 3.0])  # x in [0, 1] and [1, 2]
    force = fem.centrifugal_load(mesh, density, 2.0, (0.0, 0.5, 0.0), (0.0, 0.0, 1.0)).reshape(-1, 3).sum(axis=0)
    # x-force: ω² Σ ρ_c ∫ x dV_c = 4 (1·0.5 + 3·1.5); y-force: the axis passes through the centroid's y
    np.testing.assert_allclose(force, [4.0 * (0.5 + 4.5), 0.0, 0.0], atol=1e-12)
    per_point = np.repeat(density, 27)
    np.testing.assert_allclose(fem.centrifugal_load(mesh, per_point, 2.0, (0.0, 0.5, 0.0), (0.0, 0.0, 1.0)),
                               fem.centrifugal_load(mesh, density, 2.0, (0.0, 0.5, 0.0), (0.0, 0.0, 1.0)))
    with pytest.raises(InputError, match="density"):
        fem.centrifugal_load(mesh, np.ones(3), 1.0, (0, 0, 0), (0, 0, 1))
    with pytest.raises(InputError, match="axis_direction"):
        fem.centrifugal_load(mesh, 1.0, 1.0, (0, 0, 0), (0, 0, 0))
