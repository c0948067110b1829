"""rom.hifi.solve against closed-form solutions of linear thermo-elasticity.

- Lamé's thick-walled cylinder under internal pressure, plane strain: a quarter
  ring slab with symmetry planes and u_z = 0 on both faces, meshed with
  structured hexahedron20 (nodes on the exact arcs) and with Gmsh tetra10;
  u_r(r) = p a² ((1-2ν)(1+ν) r + (1+ν) b²/r) / (E (b²-a²)).
- Free thermal expansion (3-2-1 supports, statically determinate): a uniform
  temperature rise gives u = α ΔT x and no stress, on a Gmsh plate with a hole;
  a temperature linear in x is stress-free too, with the quadratic displacement
  u = α g ((x²-y²-z²)/2, x y, x z), exact for quadratic elements.
- A thin free disc spinning about its axis (half thickness, symmetry plane z = 0),
  against plane stress: u(r) = ρω²r ((3+ν)(1-ν)R² - (1-ν²) r²) / (8E).

Meshes are built here (``tests/helpers/meshes.py``), their sets from coordinates.
Units: mm, MPa, tonne/mm³, s.
"""

from __future__ import annotations

import numpy as np
import pytest

from helpers import meshes
from io_adapters.mesh import Mesh
from io_adapters.problem import Centrifugal, Dirichlet, Pressure, Problem, Temperature, TimeTable
from rom.fem import integration_points
from rom.hifi import NewtonSettings, solve

E, NU = 200.0e3, 0.3
ELASTIC = {"behavior": "linear_elastic", "elasticity": {"young": E, "poisson": NU}}
TOL = 1e-7     # coordinate tolerance for node and face selection (mm)

pytest.importorskip("gmsh")


def _radius(x):
    return np.hypot(x[..., 0], x[..., 1])


def _radial(points: np.ndarray, U: np.ndarray) -> np.ndarray:
    r = _radius(points)
    return (U[:, 0] * points[:, 0] + U[:, 1] * points[:, 1]) / np.where(r > 0, r, 1.0)


def _tangential(points: np.ndarray, U: np.ndarray) -> np.ndarray:
    r = _radius(points)
    return (-U[:, 0] * points[:, 1] + U[:, 1] * points[:, 0]) / np.where(r > 0, r, 1.0)


# ------------------------------------------------------------ Lamé cylinder
A_IN, B_OUT, SLAB, P_IN = 10.0, 20.0, 2.5, 100.0


def lame_u_r(r):
    return P_IN * A_IN**2 / (B_OUT**2 - A_IN**2) * ((1 - 2 * NU) * (1 + NU) * r + (1 + NU) * B_OUT**2 / r) / E


def lame_stresses(r):
    a = P_IN * A_IN**2 / (B_OUT**2 - A_IN**2)
    b = a * B_OUT**2
    return a - b / r**2, a + b / r**2, 2 * NU * a          # σrr, σθθ, σzz (plane strain)


def _polar(q):
    r, theta, z = q.T
    return np.column_stack([r * np.cos(theta), r * np.sin(theta), z])


def _ring_hex20(divisions):
    return meshes.structured_hex20((B_OUT - A_IN, np.pi / 2, SLAB), divisions, origin=(A_IN, 0.0, 0.0),
                                   mapping=_polar)


def _ring_tetra10(size):
    def build():
        import gmsh

        occ = gmsh.model.occ
        outer = occ.addCylinder(0, 0, 0, 0, 0, SLAB, B_OUT, angle=np.pi / 2)
        inner = occ.addCylinder(0, 0, 0, 0, 0, SLAB, A_IN, angle=np.pi / 2)
        occ.cut([(3, outer)], [(3, inner)])

    points, cell_type, cells = meshes.gmsh_volume_mesh(build, order=2, size=size)
    return points, meshes.orient_tets(points, cells)


def lame_problem(points, cell_type, cells) -> Problem:
    mesh = meshes.mesh_with_sets(
        points, cell_type, cells,
        node_sets={"x0": lambda x: np.abs(x[..., 0]) < TOL, "y0": lambda x: np.abs(x[..., 1]) < TOL,
                   "faces_z": lambda x: (np.abs(x[..., 2]) < TOL) | (np.abs(x[..., 2] - SLAB) < TOL)},
        face_sets={"bore": lambda x: np.abs(_radius(x) - A_IN) < TOL},
    )
    (bore,) = mesh.face_sets["bore"].values()
    centres = mesh.points[bore].mean(axis=1)
    inward = -centres[:, :2] / _radius(centres)[:, None]
    assert np.all(np.einsum("ij,ij->i", meshes.facet_normals(mesh.points, bore)[:, :2], inward) > 0.95)
    return Problem(
        mesh=mesh, materials={"ALL_ELEMENT": ELASTIC},
        dirichlet=(Dirichlet("x0", 0, 0.0), Dirichlet("y0", 1, 0.0), Dirichlet("faces_z", 2, 0.0)),
        # the bore's facets are outward (towards the axis): a pressure pushing into the wall is negative
        pressures=(Pressure("bore", -P_IN),), times=[0.0, 1.0], source="Lamé cylinder",
    )


def _lame_error(points, cell_type, cells):
    problem = lame_problem(points, cell_type, cells)
    sim = solve(problem, settings=NewtonSettings(rtol=1e-12))
    U = sim.fields["U"].values[-1]
    exact = lame_u_r(_radius(points))
    return sim, U, float(np.abs(_radial(points, U) - exact).max() / exact.max())


def test_lame_cylinder_hexahedron20_converges_to_closed_form():
    points, cells = _ring_hex20((2, 4, 1))
    _, _, coarse = _lame_error(points, "hexahedron20", cells)
    points, cells = _ring_hex20((4, 8, 1))
    sim, U, fine = _lame_error(points, "hexahedron20", cells)
    assert fine <= 1e-3, fine
    assert fine <= coarse / 4, (coarse, fine)               # quadratic elements: at least O(h²)
    scale = lame_u_r(A_IN)
    assert np.abs(_tangential(points, U)).max() <= 1e-10 * scale   # axisymmetric
    assert np.abs(U[:, 2]).max() <= 1e-10 * scale                   # ε_zz = 0 through the slab

    X = integration_points(sim.mesh, "default")
    r = _radius(X)
    c, s = X[:, 0] / r, X[:, 1] / r
    sig = sim.fields["sig"].values[-1]                              # [11, 22, 33, 12, 23, 31]
    s_rr = c * c * sig[:, 0] + s * s * sig[:, 1] + 2 * c * s * sig[:, 3]
    s_tt = s * s * sig[:, 0] + c * c * sig[:, 1] - 2 * c * s * sig[:, 3]
    e_rr, e_tt, e_zz = lame_stresses(r)
    for computed, exact in ((s_rr, e_rr), (s_tt, e_tt), (sig[:, 2], e_zz)):
        assert np.abs(computed - exact).max() <= 5e-2 * P_IN


def test_lame_cylinder_gmsh_tetra10_matches_closed_form():
    points, cells = _ring_tetra10(size=1.5)
    assert cells.shape[1] == 10
    _, U, error = _lame_error(points, "tetra10", cells)
    assert error <= 1e-3, error
    assert np.abs(_tangential(points, U)).max() <= 1e-3 * lame_u_r(A_IN)


# ------------------------------------------------------- thermal expansion
ALPHA, T_REF, DT = 1.2e-5, 20.0, 100.0
PLATE = (40.0, 20.0, 10.0)


def _plate_with_hole():
    L, W, H = PLATE

    def build():
        import gmsh

        occ = gmsh.model.occ
        box = occ.addBox(0, 0, 0, L, W, H)
        hole = occ.addCylinder(L / 2, W / 2, 0, 0, 0, H, 5.0)
        occ.cut([(3, box)], [(3, hole)])

    points, cell_type, cells = meshes.gmsh_volume_mesh(build, order=2, size=4.0)
    return points, cell_type, meshes.orient_tets(points, cells)


def _at(point):
    return lambda x: np.linalg.norm(x - np.asarray(point), axis=-1) < TOL


def _three_two_one(points, cell_type, cells) -> Mesh:
    """Nodes A = origin (u = 0), B = (L, 0, 0) (u_y = u_z = 0), C = (0, W, 0) (u_z = 0)."""
    L, W, _ = PLATE
    mesh = meshes.mesh_with_sets(points, cell_type, cells,
                                 node_sets={"A": _at((0, 0, 0)), "B": _at((L, 0, 0)), "C": _at((0, W, 0))})
    assert all(len(mesh.node_sets[n]) == 1 for n in "ABC")
    return mesh


THREE_TWO_ONE = (Dirichlet("A", 0, 0.0), Dirichlet("A", 1, 0.0), Dirichlet("A", 2, 0.0),
                 Dirichlet("B", 1, 0.0), Dirichlet("B", 2, 0.0), Dirichlet("C", 2, 0.0))


def _thermal_material(behavior: str) -> dict:
    spec = {"behavior": behavior, "elasticity": {"young": E, "poisson": NU},
            "thermal_strain": {"alpha": ALPHA, "ref_temperature": T_REF}}
    if behavior == "j2_plasticity":   # a low yield stress: any spurious stress would show as plasticity
        spec.update(yield_stress=20.0, isotropic={"type": "linear", "H": 1.0e3})
    return spec


def uniform_heating_problem(behavior: str = "linear_elastic") -> Problem:
    points, cell_type, cells = _plate_with_hole()
    n = len(points)
    temperature = Temperature.from_base_max(np.full(n, T_REF), np.full(n, T_REF + DT),
                                            TimeTable([0.0, 2.0], [0.0, 1.0]))
    return Problem(mesh=_three_two_one(points, cell_type, cells), materials={"ALL_ELEMENT": _thermal_material(behavior)},
                   dirichlet=THREE_TWO_ONE, temperature=temperature, times=[0.0, 1.0, 2.0],
                   source="free thermal expansion")


#: Newton tolerances for stress-free states: the internal forces vanish at the
#: solution, so the residual is measured against the thermal force scale E α ΔT L².
STRESS_FREE = NewtonSettings(rtol=1e-10, atol=1e-14 * E * ALPHA * DT * PLATE[0] ** 2)


@pytest.mark.parametrize("behavior", ["linear_elastic", "j2_plasticity"])
def test_free_thermal_expansion_is_stress_free(behavior):
    problem = uniform_heating_problem(behavior)
    sim = solve(problem, settings=STRESS_FREE)
    points = problem.mesh.points
    for k, fraction in enumerate([0.0, 0.5, 1.0]):
        U = sim.fields["U"].values[k]
        exact = ALPHA * DT * fraction * points                    # u = α ΔT(t) (x - x_A), x_A = 0
        assert np.abs(U - exact).max() <= 1e-10 * ALPHA * DT * PLATE[0]
        assert np.abs(sim.fields["sig"].values[k]).max() <= 1e-10 * E * ALPHA * DT
        eto = sim.fields["eto"].values[k]
        assert np.allclose(eto[:, :3], ALPHA * DT * fraction, rtol=0, atol=1e-12)
        assert np.abs(eto[:, 3:]).max() <= 1e-12
    if behavior == "j2_plasticity":
        assert np.all(sim.fields["epcum"].values == 0.0)


def test_free_thermal_expansion_converges_with_default_settings():
    """No external force and no reaction: Newton's convergence test needs a scale all the same."""
    points, cells = meshes.structured_hex20(PLATE, (2, 1, 1))
    temperature = Temperature.from_base_max(np.full(len(points), T_REF), np.full(len(points), T_REF + DT),
                                            TimeTable([0.0, 1.0], [0.0, 1.0]))
    problem = Problem(mesh=_three_two_one(points, "hexahedron20", cells),
                      materials={"ALL_ELEMENT": _thermal_material("linear_elastic")},
                      dirichlet=THREE_TWO_ONE, temperature=temperature, times=[0.0, 1.0])
    sim = solve(problem)
    U = sim.fields["U"].values[-1]
    assert np.abs(U - ALPHA * DT * points).max() <= 1e-8 * ALPHA * DT * PLATE[0]


def test_linear_temperature_field_is_stress_free():
    L, W, H = PLATE
    points, cells = meshes.structured_hex20(PLATE, (4, 2, 2))
    gradient = DT / L
    temperature = Temperature.from_base_max(np.full(len(points), T_REF), T_REF + gradient * points[:, 0],
                                            TimeTable([0.0, 1.0], [0.0, 1.0]))
    problem = Problem(mesh=_three_two_one(points, "hexahedron20", cells),
                      materials={"ALL_ELEMENT": _thermal_material("linear_elastic")},
                      dirichlet=THREE_TWO_ONE, temperature=temperature, times=[0.0, 1.0])
    sim = solve(problem, settings=STRESS_FREE)
    x, y, z = points.T
    exact = ALPHA * gradient * np.column_stack([(x * x - y * y - z * z) / 2, x * y, x * z])
    assert np.abs(sim.fields["U"].values[-1] - exact).max() <= 1e-10 * np.abs(exact).max()
    assert np.abs(sim.fields["sig"].values[-1]).max() <= 1e-10 * E * ALPHA * DT
    X = integration_points(problem.mesh, "default")
    eto = sim.fields["eto"].values[-1]
    assert np.abs(eto[:, :3] - ALPHA * gradient * X[:, :1]).max() <= 1e-10 * ALPHA * DT


# ----------------------------------------------------------- rotating disc
R_DISC, HALF_THICKNESS, RHO, OMEGA = 100.0, 4.0, 7.8e-9, 1000.0
DISC_MATERIAL = dict(ELASTIC, density=RHO)


def disc_u_r(r):
    return RHO * OMEGA**2 * r / (8 * E) * ((3 + NU) * (1 - NU) * R_DISC**2 - (1 - NU**2) * r**2)


def _quarter_disc():
    def build():
        import gmsh

        gmsh.model.occ.addCylinder(0, 0, 0, 0, 0, HALF_THICKNESS, R_DISC, angle=np.pi / 2)

    points, cell_type, cells = meshes.gmsh_volume_mesh(build, order=2, size=10.0)
    return points, cell_type, meshes.orient_tets(points, cells)


DISC_SETS = {"x0": lambda x: np.abs(x[..., 0]) < TOL, "y0": lambda x: np.abs(x[..., 1]) < TOL,
             "z0": lambda x: np.abs(x[..., 2]) < TOL}
DISC_SUPPORTS = (Dirichlet("x0", 0, 0.0), Dirichlet("y0", 1, 0.0), Dirichlet("z0", 2, 0.0))


def _check_disc(points, U):
    r = _radius(points)
    exact = disc_u_r(r)
    rim = np.abs(r - R_DISC) < TOL
    assert rim.sum() > 10
    error = np.abs(_radial(points, U) - exact).max() / exact.max()
    rim_error = np.abs(_radial(points, U)[rim] - exact[rim]).max() / exact[rim].max()
    # measured 1.1e-3: the 3D thin disc (thickness/R = 0.08) against plane stress
    assert error <= 3e-3 and rim_error <= 3e-3, (error, rim_error)


def test_rotating_thin_disc_matches_plane_stress():
    points, cell_type, cells = _quarter_disc()
    mesh = meshes.mesh_with_sets(points, cell_type, cells, node_sets=DISC_SETS)
    problem = Problem(mesh=mesh, materials={"ALL_ELEMENT": DISC_MATERIAL}, dirichlet=DISC_SUPPORTS,
                      centrifugal=(Centrifugal(None, [0.0, 0.0, 0.0], [0.0, 0.0, 1.0], OMEGA, "spin"),),
                      tables={"spin": TimeTable([0.0, 1.0], [0.0, 1.0])}, times=[0.0, 0.5, 1.0])
    sim = solve(problem, settings=NewtonSettings(rtol=1e-12))
    U = sim.fields["U"].values
    _check_disc(points, U[-1])
    # ω(t) = OMEGA · table(t): half the speed, a quarter of the load
    assert np.abs(U[1] - U[-1] / 4).max() <= 1e-10 * np.abs(U[-1]).max()
    # plane stress thickness change: u_z = ε_zz z, ε_zz = -ν/(1-ν) (ε_rr + ε_θθ) = -ν/(1-ν) (r u)'/r
    r = _radius(points)
    k, c1, c2 = RHO * OMEGA**2 / (8 * E), (3 + NU) * (1 - NU) * R_DISC**2, 1 - NU**2
    u_z = -NU / (1 - NU) * k * (2 * c1 - 4 * c2 * r**2) * points[:, 2]
    assert np.abs(U[-1][:, 2] - u_z).max() <= 1e-2 * np.abs(u_z).max()     # measured 1.7e-3


def test_centrifugal_load_on_a_cell_set_spins_only_that_set():
    """A clamped block beside the disc, in the same mesh, not spinning and without a density."""
    points, _, cells = _quarter_disc()
    block_points, block_cells = meshes.structured_hex20((20.0, 20.0, 4.0), (2, 2, 1), origin=(200.0, 0.0, 0.0))
    n_disc = len(points)
    all_points = np.concatenate([points, block_points])
    sets = dict(DISC_SETS, block_root=lambda x: np.abs(x[..., 0] - 200.0) < TOL)
    mesh = Mesh(points=all_points, cells={"tetra10": cells, "hexahedron20": block_cells + n_disc},
                node_sets={name: np.flatnonzero(where(all_points)) for name, where in sets.items()},
                cell_sets={"disc": np.arange(len(cells)), "block": len(cells) + np.arange(len(block_cells))})
    problem = Problem(mesh=mesh, materials={"disc": DISC_MATERIAL, "block": ELASTIC},
                      dirichlet=DISC_SUPPORTS + tuple(Dirichlet("block_root", c, 0.0) for c in range(3)),
                      centrifugal=(Centrifugal("disc", [0.0, 0.0, 0.0], [0.0, 0.0, 1.0], OMEGA),),
                      times=[0.0, 1.0])
    sim = solve(problem, settings=NewtonSettings(rtol=1e-12))
    U = sim.fields["U"].values[-1]
    assert np.abs(U[n_disc:]).max() <= 1e-12 * disc_u_r(R_DISC)         # the block stays at rest
    _check_disc(points, U[:n_disc])
