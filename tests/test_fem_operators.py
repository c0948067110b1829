"""Strain operator, weights, interpolation, mass and stiffness of ``rom.fem``."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from io_adapters.errors import InputError
from io_adapters.mesh import Mesh
from rom import fem
from rom.fem.assembly import stiffness_triple_product

TYPES_3D = ["tetra", "tetra10", "wedge", "wedge15", "hexahedron", "hexahedron20"]
TYPES_2D = ["triangle", "triangle6", "quad", "quad8"]
RULES = ["default", "zset", "zset-reduced"]
SKEW = np.array([[1.0, 0.3, -0.2], [0.1, 1.2, 0.25], [-0.15, 0.2, 0.9]])


def _mesh(cell_type: str, *, distort: float = 0.25, curved: float = 0.0, seed: int = 0) -> Mesh:
    divisions = (2, 2, 2) if cell_type in TYPES_3D else (3, 2)
    mesh = fem.box_mesh(cell_type, divisions, size=(1.0, 2.0, 1.5)[: len(divisions)])
    if distort or curved:
        mesh = fem.distort_mesh(mesh, distort, curved=curved, seed=seed)
    return mesh


def _voigt(gradient: np.ndarray) -> np.ndarray:
    """Engineering-shear Voigt strain of a displacement gradient ∂u_i/∂x_j."""
    g = gradient
    return np.array([g[0, 0], g[1, 1], g[2, 2], g[0, 1] + g[1, 0], g[1, 2] + g[2, 1], g[0, 2] + g[2, 0]])


def _linear_field(mesh: Mesh, gradient: np.ndarray, shift=(0.1, -0.2, 0.3)) -> np.ndarray:
    d = fem.dofs_per_node(mesh)
    return (mesh.points @ gradient.T + shift)[:, :d].ravel()


@pytest.mark.parametrize("cell_type", TYPES_3D + TYPES_2D)
def test_patch_test_linear_displacement_gives_exact_constant_strain(cell_type):
    rng = np.random.default_rng(5)
    mesh = _mesh(cell_type, curved=0.1)
    gradient = rng.uniform(-1, 1, (3, 3))
    if mesh.dim == 2:
        gradient[2, :] = gradient[:, 2] = 0.0
    u = _linear_field(mesh, gradient)
    for rule in RULES:
        B, w = fem.strain_operator(mesh, rule)
        n_points = len(w)
        assert B.shape == (6 * n_points, fem.dofs_per_node(mesh) * mesh.n_nodes)
        strain = (B @ u).reshape(n_points, 6)
        np.testing.assert_allclose(strain, np.broadcast_to(_voigt(gradient), strain.shape), atol=1e-11)


@pytest.mark.parametrize("cell_type", TYPES_3D + TYPES_2D)
def test_small_rigid_rotation_gives_zero_strain(cell_type):
    mesh = fem.map_mesh(_mesh(cell_type, distort=0.2), SKEW if cell_type in TYPES_3D else np.eye(3))
    omega = np.array([0.3, -0.2, 0.5]) if mesh.dim == 3 else np.array([0.0, 0.0, 0.5])
    skew = np.cross(np.eye(3), omega)  # W x = omega × x ... up to sign: skew-symmetric either way
    B, _ = fem.strain_operator(mesh, "zset")
    np.testing.assert_allclose(B @ _linear_field(mesh, skew), 0.0, atol=1e-12)


@pytest.mark.parametrize("cell_type", TYPES_3D + TYPES_2D)
def test_weights_sum_to_volume(cell_type):
    straight = _mesh(cell_type, distort=0.25)  # straight edges: every full rule is exact
    affine = fem.map_mesh(_mesh(cell_type, distort=0.0), SKEW if cell_type in TYPES_3D else np.diag([1.3, 0.7, 1]))
    volume = 3.0 if cell_type in TYPES_3D else 2.0
    for rule in RULES:
        np.testing.assert_allclose(fem.integration_weights(affine, rule).sum(),
                                   volume * np.linalg.det(SKEW if cell_type in TYPES_3D else np.diag([1.3, 0.7, 1])),
                                   rtol=1e-12)
        if rule != "zset-reduced":
            np.testing.assert_allclose(fem.strain_operator(straight, rule)[1].sum(), volume, rtol=1e-12)


def test_integration_points_follow_cell_and_rule_order():
    mesh = _mesh("hexahedron20", curved=0.1)
    x = fem.integration_points(mesh, "zset")
    N = fem.interpolation_operator(mesh, "zset")
    assert x.shape == (27 * mesh.n_cells, 3) and N.shape == (len(x), mesh.n_nodes)
    np.testing.assert_allclose(N @ mesh.points, x, atol=1e-14)
    first_cell = mesh.points[mesh.cells["hexahedron20"][0]]
    q = fem.quadrature_rule("hexahedron20", "zset")
    shape = fem.reference_element("hexahedron20").shape_functions(q.points)
    np.testing.assert_allclose(x[:27], shape @ first_cell)


@pytest.mark.parametrize("cell_type", TYPES_3D + TYPES_2D)
def test_interpolation_of_a_linear_field_is_exact(cell_type):
    mesh = _mesh(cell_type, curved=0.1)
    temperature = 20.0 + mesh.points @ np.array([3.0, -1.0, 2.0])
    for rule in RULES:
        x = fem.integration_points(mesh, rule)
        np.testing.assert_allclose(fem.interpolation_operator(mesh, rule) @ temperature,
                                   20.0 + x @ np.array([3.0, -1.0, 2.0]), atol=1e-12)


def test_jacobian_check_names_the_cell():
    mesh = _mesh("hexahedron", distort=0.0)
    conn = mesh.cells["hexahedron"].copy()
    conn[5] = conn[5][[4, 5, 6, 7, 0, 1, 2, 3]]  # upside down
    bad = Mesh(points=mesh.points, cells={"hexahedron": conn})
    with pytest.raises(InputError, match=r"cell 5 \(hexahedron\)"):
        fem.strain_operator(bad)
    tets = _mesh("tetra", distort=0.0)
    flat = tets.points.copy()
    flat[tets.cells["tetra"][0, 3]] = flat[tets.cells["tetra"][0, 0]]  # collapsed
    with pytest.raises(InputError, match=r"cell 0 \(tetra\)"):
        fem.integration_weights(Mesh(points=flat, cells=tets.cells), "zset")


def test_wedge_with_vtk_face_convention_is_refused_with_a_hint():
    mesh = _mesh("wedge", distort=0.0)
    flipped = mesh.cells["wedge"][:, [0, 2, 1, 3, 5, 4]]
    with pytest.raises(InputError, match="clockwise"):
        fem.strain_operator(Mesh(points=mesh.points, cells={"wedge": flipped}))


def test_mixed_blocks_keep_the_cell_order():
    a = _mesh("hexahedron", distort=0.0)
    b = fem.box_mesh("wedge15", (1, 1, 1), origin=(2.0, 0.0, 0.0))
    points = np.concatenate([a.points, b.points])
    mesh = Mesh(points=points, cells={"wedge15": b.cells["wedge15"] + a.n_nodes, "hexahedron": a.cells["hexahedron"]})
    B, w = fem.strain_operator(mesh, "zset")
    assert len(w) == 2 * 18 + 8 * 8
    np.testing.assert_allclose(w[:36].sum(), 1.0)  # the wedges come first, as in mesh.cells
    gradient = np.random.default_rng(1).uniform(-1, 1, (3, 3))
    np.testing.assert_allclose((B @ _linear_field(mesh, gradient)).reshape(-1, 6), np.tile(_voigt(gradient), (100, 1)),
                               atol=1e-12)


def test_2d_meshes_are_plane_strain_with_two_dofs_per_node():
    mesh = _mesh("quad8")
    B, w = fem.strain_operator(mesh)
    assert fem.dofs_per_node(mesh) == 2 and B.shape == (6 * len(w), 2 * mesh.n_nodes)
    rows = np.diff(B.indptr).reshape(-1, 6)
    assert np.all(rows[:, [2, 4, 5]] == 0) and np.all(rows[:, [0, 1, 3]] > 0)


@pytest.mark.parametrize("cell_type", TYPES_3D + TYPES_2D)
def test_mass_matrix_total_mass_and_second_moment(cell_type):
    mesh = _mesh(cell_type, distort=0.2)
    volume = 3.0 if cell_type in TYPES_3D else 2.0
    d = fem.dofs_per_node(mesh)
    M = fem.mass_matrix(mesh, density=7.8)
    assert M.shape == (d * mesh.n_nodes,) * 2
    for a in range(d):
        ones = np.zeros((mesh.n_nodes, d))
        ones[:, a] = 1.0
        assert ones.ravel() @ M @ ones.ravel() == pytest.approx(7.8 * volume, rel=1e-12)
    scalar = fem.mass_matrix(mesh, rule="high", n_components=1)
    x = mesh.points[:, 0]  # ∫ x² dV on the box (x in [0, 1]) = V / 3, exact for straight-edged cells
    assert x @ scalar @ x == pytest.approx(volume / 3, rel=1e-12)
    assert abs(scalar - scalar.T).max() < 1e-15


def test_mass_matrix_density_per_point_and_tetra10_rank():
    mesh = _mesh("tetra10", distort=0.0)
    n_points = len(fem.integration_weights(mesh))
    M = fem.mass_matrix(mesh, density=np.full(n_points, 2.0), n_components=1)
    np.testing.assert_allclose(M.sum(), 6.0, rtol=1e-12)
    single = fem.box_mesh("tetra10", (1, 1, 1))
    single = Mesh(points=single.points, cells={"tetra10": single.cells["tetra10"][:1]})
    used = np.unique(single.cells["tetra10"])
    default = fem.mass_matrix(single, n_components=1).toarray()[np.ix_(used, used)]
    high = fem.mass_matrix(single, rule="high", n_components=1).toarray()[np.ix_(used, used)]
    assert np.linalg.matrix_rank(default) == 4  # 4 points: under-integrated element mass
    assert np.linalg.eigvalsh(high).min() > 0
    with pytest.raises(InputError, match="density"):
        fem.mass_matrix(mesh, density=np.ones(3))


def _elastic_tangent(young=200e3, poisson=0.3) -> np.ndarray:
    lam = young * poisson / ((1 + poisson) * (1 - 2 * poisson))
    mu = young / (2 * (1 + poisson))
    D = np.zeros((6, 6))
    D[:3, :3] = lam
    D += np.diag([2 * mu] * 3 + [mu] * 3)
    return D


@pytest.mark.parametrize("cell_type", ["hexahedron20", "tetra10", "wedge", "quad8", "triangle"])
def test_stiffness_element_path_equals_triple_product(cell_type):
    mesh = _mesh(cell_type, curved=0.05)
    B, w = fem.strain_operator(mesh, "zset")
    tangent = _elastic_tangent() + np.random.default_rng(0).uniform(0, 1e3, (len(w), 6, 6))  # unsymmetric too
    K = fem.stiffness(B, w, tangent)
    reference = stiffness_triple_product(B, w, tangent)
    assert K.has_canonical_format
    assert abs(K - reference).max() <= 1e-12 * abs(reference).max()
    u = np.random.default_rng(1).normal(size=B.shape[1])
    stress = np.einsum("pij,pj->pi", tangent, (B @ u).reshape(-1, 6))
    np.testing.assert_allclose(K @ u, fem.internal_forces(B, w, stress), rtol=1e-10, atol=1e-8 * abs(K @ u).max())


def test_stiffness_of_other_operators_falls_back_to_the_triple_product():
    mesh = _mesh("hexahedron", distort=0.2)
    B, w = fem.strain_operator(mesh)
    D = _elastic_tangent()
    rows = np.arange(0, len(w), 3)
    sub = B[(6 * rows[:, None] + np.arange(6)).ravel()]
    dense = sub.toarray()
    expected = dense.T @ np.kron(np.diag(w[rows]), np.eye(6)) @ np.kron(np.eye(len(rows)), D) @ dense
    np.testing.assert_allclose(fem.stiffness(sub, w[rows], D).toarray(), expected, atol=1e-9 * abs(expected).max())
    tampered = B.copy()
    tampered.data[7] += 1.0  # same layout, different values: must not be misread
    np.testing.assert_allclose(fem.stiffness(tampered, w, D).toarray(),
                               stiffness_triple_product(tampered, w, D).toarray(), atol=1e-9)


def test_stiffness_has_the_rigid_modes_as_null_space():
    mesh = _mesh("wedge15", curved=0.1)
    B, w = fem.strain_operator(mesh)
    K = fem.stiffness(B, w, _elastic_tangent())
    x = mesh.points
    modes = [np.tile(e, (mesh.n_nodes, 1)).ravel() for e in np.eye(3)]
    modes += [np.cross(axis, x).ravel() for axis in np.eye(3)]
    scale = abs(K).max()
    for mode in modes:
        assert np.abs(K @ mode).max() < 1e-9 * scale
    assert abs(K - K.T).max() < 1e-9 * scale


def test_internal_forces_batch_and_shape_checks():
    mesh = _mesh("tetra")
    B, w = fem.strain_operator(mesh)
    stress = np.random.default_rng(2).normal(size=(4, len(w), 6))
    batch = fem.internal_forces(B, w, stress)
    assert batch.shape == (4, B.shape[1])
    np.testing.assert_allclose(batch[2], B.T @ (w[:, None] * stress[2]).ravel())
    # a constant stress is self-equilibrated: the forces sum to zero per direction
    assert np.abs(fem.internal_forces(B, w, np.tile(stress[0, 0], (len(w), 1))).reshape(-1, 3).sum(0)).max() < 1e-12
    with pytest.raises(InputError):
        fem.internal_forces(B, w, stress[0, :-1])
    with pytest.raises(InputError):
        fem.stiffness(B, w, np.eye(3))
    assert isinstance(B, sp.csr_matrix)


@pytest.mark.parametrize("chunk_bytes", [64 * 2**20, 4096], ids=["one-chunk", "many-chunks"])
def test_stiffness_assembler_keeps_the_pattern_and_recomputes_the_values(monkeypatch, chunk_bytes):
    from pathlib import Path

    import io_adapters
    from rom.fem import assembly

    monkeypatch.setattr(assembly, "_CHUNK_BYTES", chunk_bytes)
    mesh = io_adapters.read(Path(__file__).parent / "data" / "zset" / "multielements3D.geof").mesh
    volumes = [i for i, t in enumerate(c for block, conn in mesh.cells.items() for c in [block] * len(conn))
               if t != "pyramid"]
    mesh, _ = mesh.submesh(np.array(volumes))            # every 3D family but the pyramid, in one B
    B, w = fem.strain_operator(mesh)
    assert len({k for k in np.diff(B.indptr)[::6]}) > 2  # several runs of nodes per cell
    assemble = fem.StiffnessAssembler.of(B)
    assert assemble is not None
    rng = np.random.default_rng(5)
    for _ in range(3):
        tangent = _elastic_tangent() + rng.uniform(-1e3, 1e3, (len(w), 6, 6))
        K = assemble(w, tangent)
        reference = stiffness_triple_product(B, w, tangent)
        assert K.has_canonical_format
        assert abs(K - reference).max() <= 1e-12 * abs(reference).max()
        K.data[:] = 0.0          # a caller changing its matrix does not change the next one
        K.indices[:] = 0
    with pytest.raises(InputError, match="tangent must have shape"):
        assemble(w, np.eye(3))
    with pytest.raises(InputError, match="weights"):
        assemble(w[:-1], _elastic_tangent())
    tampered = B.copy()
    tampered.indices[12] += 3
    assert fem.StiffnessAssembler.of(tampered) is None
