"""Implicit dynamics: the HF solver (``rom.hifi.dynamics``) and the reduced one (``rom.online.dynamics``).

High fidelity
-------------
- **dolfinx** (``tests/helpers/dolfinx_reference_dynamics.py``, run once per module): the
  same discrete problems (P2 cantilever under a pressure pulse and a step, Newmark; P1
  bar whose end is moved, Rayleigh damping, non-uniform steps; P1 cantilever,
  generalized-α ρ∞ = 0.5), the reference's own displacement-form time stepping on
  dolfinx's matrices: U at every step ≤ 1e-8 relative (scipy and PETSc MUMPS).
- **analytic**, on nirom's own matrices (``rom.fem``): the average-acceleration rule
  keeps the energy ``½vᵀMv + ½uᵀKu`` of a free vibration to 1e-10; the first mode
  ``(ω, φ)`` of ``(K, M)`` (scipy) vibrates as ``cos(ω̄t) φ`` with Newmark's period
  elongation ``tan(ω̄Δt/2) = ωΔt/2``; any mode under generalized-α / Rayleigh damping
  follows the scheme's scalar recurrence; ρ∞ < 1 kills a high mode and keeps the first.
- a J2 and a gen_evp dynamic run converge (plastic flow, permanent deflection).
- clear errors: no density, singular mass rule, scheme out of range, Δt ≤ 0.

Reduced
-------
- ROMs built with ``rom.offline.build`` from HF dynamic runs reproduce a training loading
  to ≤ 1e-3 (linear elastic; an imposed end displacement with Rayleigh damping: the
  lifting's inertia; J2 plasticity with generalized-α) and answer a new amplitude and
  pulse duration; ``Φᵀ M Φ = ρ I`` for the POD's M-orthonormal modes.
- ``mpi``-marked: HF and ROM on 2 ranks equal 1 rank to round-off.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
from scipy.spatial import cKDTree

from helpers import meshes
from io_adapters import ConfigError, InputError
from io_adapters.problem import Dirichlet, Pressure, Problem, TimeTable
from rom import fem
from rom.hifi import NewtonSettings, solve
from rom.hifi.dynamics import GeneralizedAlphaSettings, NewmarkSettings, Rayleigh, solve_dynamic
from rom.offline import build
from rom.online.dynamics import DynamicResult, ReducedMass
from rom.online.dynamics import solve_dynamic as reduced_dynamic

HELPERS = Path(__file__).parent / "helpers"
TIGHT = NewtonSettings(rtol=1e-11, atol=1e-14)
E, NU, RHO = 1000.0, 0.3, 1.0
ELASTIC = {"behavior": "linear_elastic", "elasticity": {"young": E, "poisson": NU}, "density": RHO}
J2 = {"behavior": "j2_plasticity", "elasticity": {"young": E, "poisson": NU}, "density": RHO, "yield_stress": 5.0,
      "isotropic": {"type": "linear", "H": 100.0}}
EVP = {"behavior": "gen_evp", "elasticity": {"young": E, "poisson": NU}, "density": RHO,
       "potential": {"flow": {"type": "norton", "K": 20.0, "n": 3.0},
                     "kinematic": [{"type": "nonlinear", "C": 500.0, "D": 20.0}],
                     "isotropic": {"type": "constant", "R0": 4.0}}}
TABLES = {"pulse": TimeTable([0.0, 0.1, 0.2, 1e3], [0.0, 1.0, 0.0, 0.0]),
          "step": TimeTable([0.0, 0.02, 1e3], [0.0, 1.0, 1.0]),
          "ramp": TimeTable([0.0, 0.2, 1e3], [0.0, 1.0, 1.0])}


def relative(a, b) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def clamped(mesh, material, times, *, pressures=(), dirichlet=(), tables=None, source="cantilever") -> Problem:
    return Problem(mesh=mesh, materials={"ALL_ELEMENT": material}, times=np.asarray(times, dtype=float),
                   dirichlet=tuple(Dirichlet("xmin", c, 0.0) for c in range(3)) + tuple(dirichlet),
                   pressures=tuple(pressures), tables=dict(TABLES if tables is None else tables), source=source)


def cantilever(material=ELASTIC, *, p_top=0.2, p_end=2.0, width=0.1, n_steps=30, duration=0.6,
               divisions=(8, 2, 2), cell_type="tetra") -> Problem:
    """Clamped at x = 0; a pressure pulse of some width on z = H, a step pressure on x = L."""
    mesh = fem.box_mesh(cell_type, divisions, size=(1.0, 0.2, 0.2))
    tables = {**TABLES, "pulse": TimeTable([0.0, width, 2 * width, 1e3], [0.0, 1.0, 0.0, 0.0])}
    return clamped(mesh, material, np.linspace(0.0, duration, n_steps + 1), tables=tables,
                   pressures=(Pressure("zmax", -p_top, "pulse"), Pressure("xmax", -p_end, "step")))


def elastic_matrices(mesh, constrained_nodes):
    """nirom's own K and M (mass rule "high") on the free dofs, and the free-dof mask."""
    B, w = fem.strain_operator(mesh)
    lam, mu = E * NU / ((1 + NU) * (1 - 2 * NU)), E / (2 * (1 + NU))
    D = lam * np.outer([1, 1, 1, 0, 0, 0], [1, 1, 1, 0, 0, 0]) + mu * np.diag([2, 2, 2, 1, 1, 1])
    K = fem.stiffness(B, w, np.broadcast_to(D, (len(w), 6, 6)))
    M = fem.mass_matrix(mesh, rule="high", density=RHO, n_components=3)
    free = np.ones(3 * mesh.n_nodes, dtype=bool)
    free[(3 * np.asarray(constrained_nodes)[:, None] + np.arange(3)).ravel()] = False
    return K.toarray()[np.ix_(free, free)], M.toarray()[np.ix_(free, free)], free


def energy(sim, K, M, free) -> np.ndarray:
    U = sim.fields["U"].values.reshape(len(sim.times), -1)[:, free]
    V = sim.fields["V"].values.reshape(len(sim.times), -1)[:, free]
    return 0.5 * np.einsum("ti,ij,tj->t", V, M, V) + 0.5 * np.einsum("ti,ij,tj->t", U, K, U)


def scalar_response(scheme, omega, times, *, x0=1.0, c=0.0) -> np.ndarray:
    """The scheme on ``ẍ + c ẋ + ω² x = 0`` (one mode), written out in scalar form."""
    am, af, beta, gamma = scheme.alpha_m, scheme.alpha_f, scheme.beta, scheme.gamma
    x, v = x0, 0.0
    a = -(c * v + omega ** 2 * x)
    out = [x]
    for dt in np.diff(times):
        # x1 from: (1-am) a1 + am a + (1-af)(c v1 + ω² x1) + af (c v + ω² x) = 0
        a_of = lambda y: (y - x - dt * v - dt * dt * (0.5 - beta) * a) / (beta * dt * dt)  # noqa: E731
        v_of = lambda y: v + dt * ((1 - gamma) * a + gamma * a_of(y))  # noqa: E731
        f = lambda y: (1 - am) * a_of(y) + am * a + (1 - af) * (c * v_of(y) + omega ** 2 * y) \
            + af * (c * v + omega ** 2 * x)  # noqa: E731
        x1 = -f(0.0) / (f(1.0) - f(0.0))                  # f is affine in y
        x, v, a = x1, v_of(x1), a_of(x1)
        out.append(x)
    return np.array(out)


# ========================================================= dolfinx references
@pytest.fixture(scope="module")
def references(tmp_path_factory) -> dict[str, dict]:
    if importlib.util.find_spec("dolfinx") is None:
        pytest.skip("dolfinx (nirom[fenics]) is not installed")
    out = tmp_path_factory.mktemp("dolfinx_dynamics")
    mpiexec = Path(sys.executable).parent / "mpiexec"
    launcher = [str(mpiexec) if mpiexec.exists() else "mpiexec", "-n", "1"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "PMIX_", "HYDRA_", "MPIR_", "OMPI_"))}
    run = subprocess.run(launcher + [sys.executable, str(HELPERS / "dolfinx_reference_dynamics.py"), str(out)],
                         cwd=HELPERS, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, f"dolfinx_reference_dynamics.py failed:\n{run.stdout}\n{run.stderr}"
    return {path.stem: dict(np.load(path)) for path in sorted(out.glob("*.npz"))}


def reference_problem(ref) -> Problem:
    """The reference's nodes and cells renumbered at random, sets found from coordinates."""
    rng = np.random.default_rng(3)
    n = len(ref["points"])
    order = rng.permutation(n)
    new_of_old = np.empty(n, dtype=np.int64)
    new_of_old[order] = np.arange(n)
    points = ref["points"][order]
    cells = meshes.orient_tets(points, new_of_old[ref["cells"]][rng.permutation(len(ref["cells"]))])
    L, W, H = ref["size"]
    mesh = meshes.mesh_with_sets(
        points, "tetra" if cells.shape[1] == 4 else "tetra10", cells,
        node_sets={"xmin": lambda x: np.isclose(x[..., 0], 0.0), "xmax": lambda x: np.isclose(x[..., 0], L)},
        face_sets={"zmax": lambda x: np.isclose(x[..., 2], H), "xmax": lambda x: np.isclose(x[..., 0], L)})
    material = {"behavior": "linear_elastic", "density": float(ref["density"]),
                "elasticity": {"young": float(ref["young"]), "poisson": float(ref["poisson"])}}
    if str(ref["load"]) == "pressure":
        return clamped(mesh, material, ref["times"], source="dolfinx dynamic pressure",
                       pressures=(Pressure("zmax", -float(ref["p_top"]), "pulse"),
                                  Pressure("xmax", -float(ref["p_end"]), "step")))
    return clamped(mesh, material, ref["times"], dirichlet=(Dirichlet("xmax", 2, float(ref["uz"]), "ramp"),),
                   source="dolfinx dynamic displacement")


def reference_scheme(ref):
    rho_inf = float(ref["rho_inf"])
    return NewmarkSettings() if rho_inf < 0 else GeneralizedAlphaSettings(rho_inf=rho_inf)


def match(points, reference_points) -> np.ndarray:
    distance, rows = cKDTree(points).query(reference_points)
    assert distance.max() < 1e-12 and len(np.unique(rows)) == len(rows)
    return rows


@pytest.mark.parametrize("case, linear_solver", [("dynamic_pressure_p2", "scipy"), ("dynamic_pressure_p2", "mumps"),
                                                 ("dynamic_disp_p1", "scipy"), ("dynamic_genalpha_p1", "scipy")])
def test_dynamics_matches_dolfinx(references, case, linear_solver):
    ref = references[case]
    problem = reference_problem(ref)
    sim = solve_dynamic(problem, scheme=reference_scheme(ref), damping=Rayleigh(*map(float, ref["rayleigh"])),
                        settings=TIGHT, linear_solver=linear_solver)
    rows = match(problem.mesh.points, ref["points"])
    U = sim.fields["U"].values[:, rows]
    np.testing.assert_array_equal(sim.times, ref["times"])
    differences = [np.abs(U[k] - ref["U"][k]).max() / np.abs(ref["U"][k]).max() for k in range(1, len(U))]
    assert max(differences) <= 1e-8, differences
    assert set(sim.fields) >= {"U", "V", "A", "sig", "eto"}
    assert sim.provenance["dynamics"]["beta"] == reference_scheme(ref).beta
    # the inertia matters: the quasi-static answer is far away
    static = solve(problem, settings=TIGHT, linear_solver="scipy").fields["U"].values[:, rows]
    assert relative(static, ref["U"]) > 0.05


# =================================================================== analytic
@pytest.fixture(scope="module")
def modes():
    """A small cantilever, its (K, M) on the free dofs (nirom's operators) and their eigenpairs."""
    problem = cantilever(p_top=0.0, p_end=0.0, divisions=(6, 2, 2))
    K, M, free = elastic_matrices(problem.mesh, problem.mesh.node_sets["xmin"])
    omega2, phi = scipy.linalg.eigh(K, M)                      # φᵀ M φ = I
    return problem, K, M, free, np.sqrt(omega2), phi


def nodal(free, vector) -> np.ndarray:
    out = np.zeros(len(free))
    out[free] = vector
    return out.reshape(-1, 3)


def test_average_acceleration_keeps_the_energy(modes):
    problem, K, M, free, omega, phi = modes
    x = problem.mesh.points
    velocity = np.column_stack([0.1 * x[:, 0], np.sin(3 * x[:, 0]), x[:, 0] ** 2])     # smooth, many modes
    velocity[problem.mesh.node_sets["xmin"]] = 0.0
    sim = solve_dynamic(problem, initial_velocity=velocity, settings=TIGHT, linear_solver="scipy")
    E_n = energy(sim, K, M, free)
    assert E_n[0] > 0 and np.abs(sim.fields["U"].values).max() > 1e-3
    assert np.abs(E_n - E_n[0]).max() <= 1e-10 * E_n[0], np.abs(E_n - E_n[0]).max() / E_n[0]


def test_first_mode_period_follows_newmark_elongation(modes):
    """u₀ = φ₁, v₀ = 0 → u_n = cos(ω̄ t_n) φ₁ with tan(ω̄Δt/2) = ω₁Δt/2 (T_num/T = ω₁/ω̄)."""
    problem, K, M, free, omega, phi = modes
    w1 = omega[0]
    T1 = 2 * np.pi / w1
    dt = T1 / 12
    problem = dataclasses.replace(problem, times=np.arange(31) * dt)
    sim = solve_dynamic(problem, initial_displacement=nodal(free, phi[:, 0]), settings=TIGHT, linear_solver="scipy")
    w_bar = 2 / dt * np.arctan(w1 * dt / 2)
    assert w1 / w_bar == pytest.approx(1.0 + (w1 * dt) ** 2 / 12, rel=0.01)       # period elongation ~2.7 %
    U = sim.fields["U"].values.reshape(len(sim.times), -1)[:, free]
    expected = np.cos(w_bar * sim.times)[:, None] * phi[:, 0]
    assert np.abs(U - expected).max() <= 1e-8 * np.abs(phi[:, 0]).max()


@pytest.mark.parametrize("scheme, damping", [(GeneralizedAlphaSettings(rho_inf=0.5), Rayleigh()),
                                             (NewmarkSettings(beta=0.3025, gamma=0.6), Rayleigh()),
                                             (NewmarkSettings(), Rayleigh(mass=0.8, stiffness=2e-3)),
                                             (GeneralizedAlphaSettings(rho_inf=0.8), Rayleigh(mass=0.5))])
def test_modes_follow_the_scalar_recurrence(modes, scheme, damping):
    """A mode of (K, M) stays one (C = αM + βK is modal): its amplitude is the scheme's scalar response."""
    problem, K, M, free, omega, phi = modes
    dt = 2 * np.pi / omega[0] / 10
    times = np.concatenate([[0.0], np.cumsum(np.tile([dt, 0.6 * dt], 10))])          # non-uniform steps
    problem = dataclasses.replace(problem, times=times)
    for k in (0, len(omega) // 2):
        sim = solve_dynamic(problem, scheme=scheme, damping=damping, initial_displacement=nodal(free, phi[:, k]),
                            settings=TIGHT, linear_solver="scipy")
        U = sim.fields["U"].values.reshape(len(times), -1)[:, free]
        x = scalar_response(scheme, omega[k], times, c=damping.mass + damping.stiffness * omega[k] ** 2)
        assert np.abs(U - x[:, None] * phi[:, k]).max() <= 1e-8 * np.abs(phi[:, k]).max()


def test_generalized_alpha_damps_high_frequencies(modes):
    """ρ∞ = 0.5: the highest mode (ωΔt ≫ 1) loses its energy, the first keeps it; Newmark keeps both."""
    problem, K, M, free, omega, phi = modes
    dt = 2 * np.pi / omega[0] / 20
    problem = dataclasses.replace(problem, times=np.arange(21) * dt)
    assert omega[-1] * dt > 50
    initial = nodal(free, phi[:, 0] + phi[:, -1])
    E = {}
    for name, scheme in (("newmark", NewmarkSettings()), ("alpha", GeneralizedAlphaSettings(rho_inf=0.5))):
        sim = solve_dynamic(problem, scheme=scheme, initial_displacement=initial, settings=TIGHT, linear_solver="scipy")
        U = sim.fields["U"].values.reshape(len(sim.times), -1)[:, free]
        V = sim.fields["V"].values.reshape(len(sim.times), -1)[:, free]
        # modal energies (φᵀ M φ = I): ½ (ẋ² + ω² x²)
        x, v = (U @ M @ phi[:, [0, -1]]), (V @ M @ phi[:, [0, -1]])
        E[name] = 0.5 * (v ** 2 + omega[[0, -1]] ** 2 * x ** 2)
        total = energy(sim, K, M, free)
        if name == "alpha":
            assert np.all(np.diff(total[1:]) <= 1e-12 * total[0])                 # never gains energy
    np.testing.assert_allclose(E["newmark"], np.broadcast_to(E["newmark"][0], E["newmark"].shape), rtol=1e-9)
    assert E["alpha"][-1, 1] <= 1e-6 * E["alpha"][0, 1]                           # the high mode is gone
    assert E["alpha"][-1, 0] >= 0.99 * E["alpha"][0, 0]                           # the first one stays


def test_generalized_alpha_with_rho_one_is_average_acceleration(modes):
    problem = cantilever(divisions=(6, 2, 2), n_steps=10)
    a = solve_dynamic(problem, scheme=GeneralizedAlphaSettings(rho_inf=1.0), settings=TIGHT, linear_solver="scipy")
    b = solve_dynamic(problem, scheme=NewmarkSettings(), settings=TIGHT, linear_solver="scipy")
    for name in ("U", "V", "A"):
        assert relative(a.fields[name].values, b.fields[name].values) <= 1e-9


# ================================================================= nonlinear
@pytest.fixture(scope="module")
def plastic_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dynamics_j2")
    problem = cantilever(J2, p_top=0.25, p_end=1.0, n_steps=40, duration=0.8, divisions=(10, 2, 2))
    scheme = GeneralizedAlphaSettings(rho_inf=0.8)
    sim = solve_dynamic(problem, scheme=scheme, output=folder / "j2.h5", settings=NewtonSettings(rtol=1e-10))
    return folder, problem, scheme, sim


def test_nonlinear_dynamic_runs_converge(plastic_run):
    folder, problem, scheme, sim = plastic_run
    p = sim.fields["epcum"].values[..., 0]
    assert p.max() > 1e-3                                      # the pulse yields the root
    elastic = solve_dynamic(dataclasses.replace(problem, materials={"ALL_ELEMENT": ELASTIC}), scheme=scheme)
    U, U_elastic = sim.fields["U"].values, elastic.fields["U"].values
    assert relative(U[-10:], U_elastic[-10:]) > 0.05            # a permanent deflection after the pulse
    np.testing.assert_allclose(U[:3], U_elastic[:3], atol=1e-12)          # elastic before yielding
    evp = solve_dynamic(dataclasses.replace(problem, materials={"ALL_ELEMENT": EVP}),
                        scheme=NewmarkSettings(), settings=NewtonSettings(rtol=1e-10))
    assert evp.fields["evrcum"].values.max() > 1e-4


def test_clear_errors():
    problem = cantilever(n_steps=2)
    no_density = {k: v for k, v in ELASTIC.items() if k != "density"}
    without = dataclasses.replace(problem, materials={"ALL_ELEMENT": no_density})
    with pytest.raises(ConfigError, match="density"):
        solve_dynamic(without)
    with pytest.raises(ConfigError, match="singular element masses for tetra10"):
        solve_dynamic(cantilever(n_steps=2, divisions=(2, 1, 1), cell_type="tetra10"), mass_rule="default")
    with pytest.raises(ConfigError, match="rho_inf"):
        GeneralizedAlphaSettings(rho_inf=1.5)
    with pytest.raises(ConfigError, match="beta"):
        NewmarkSettings(beta=0.0)
    with pytest.raises(ConfigError, match="Rayleigh"):
        Rayleigh(mass=-1.0)
    with pytest.raises(InputError, match="time step must be finite and > 0"):
        NewmarkSettings().update(np.zeros(3), np.zeros(3), np.zeros(3), np.zeros(3), 0.0)
    with pytest.raises(InputError, match="initial displacement"):
        solve_dynamic(problem, initial_displacement=np.zeros((3, 3)))


# ===================================================================== reduced
@pytest.fixture(scope="module")
def linear_training(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dynamics_rom")
    problems = [cantilever(width=0.08, n_steps=40, duration=0.8, divisions=(10, 2, 2)),
                cantilever(width=0.16, p_end=-1.0, n_steps=40, duration=0.8, divisions=(10, 2, 2))]
    sims = [solve_dynamic(p, output=folder / f"train{i}.h5", settings=NewtonSettings(rtol=1e-10))
            for i, p in enumerate(problems)]
    model = build({"training": [str(folder / f"train{i}.h5") for i in range(2)], "problem": problems[0],
                   "pod": {"U": {"tol": 1e-6}, "sig": {"tol": 1e-6}}, "ecm": {"tol": 1e-6}})
    return problems, sims, model


def test_reduced_dynamics_reproduces_training_and_new_loadings(linear_training):
    problems, sims, model = linear_training
    mass = ReducedMass.of(model, problems[0])
    assert mass.orthonormality_defect(RHO) <= 1e-10                 # the POD's modes are M-orthonormal
    result = reduced_dynamic(model, problems[0], mass=mass)
    assert isinstance(result, DynamicResult) and len(result.velocities) == len(problems[0].times)
    assert relative(result.fields["U"].values, sims[0].fields["U"].values) <= 1e-3
    # q̈ is consistent with the reduced coordinates: the HF acceleration projected
    A = sims[0].fields["A"].values.reshape(len(result.times), -1)
    modes = model.subdomains[0].displacement_modes
    M = fem.mass_matrix(problems[0].mesh, rule="high", density=RHO, n_components=3)
    assert relative(np.array(result.accelerations), A @ M @ modes.T) <= 1e-2
    for change in ({"p_top": 0.35, "p_end": 1.0, "width": 0.08}, {"p_top": 0.3, "p_end": 0.5, "width": 0.12}):
        problem = cantilever(**change, n_steps=40, duration=0.8, divisions=(10, 2, 2))
        reference = solve_dynamic(problem).fields["U"].values
        assert relative(reduced_dynamic(model, problem, mass=mass).fields["U"].values, reference) <= 1e-2


def test_reduced_dynamics_with_imposed_displacement_and_damping(tmp_path):
    """The end moved transversally: the lifting's inertia Φᵀ M ü_D and damping Φᵀ C u̇_D drive the modes."""
    mesh = fem.box_mesh("tetra", (10, 2, 2), size=(1.0, 0.2, 0.2))
    times = np.cumsum(np.r_[0.0, np.tile([0.02, 0.035], 15)])
    damping = Rayleigh(mass=0.5, stiffness=2e-3)

    def problem(uz, table="ramp"):
        return clamped(mesh, ELASTIC, times, dirichlet=(Dirichlet("xmax", 2, uz, table),))

    train = problem(0.02)
    hf = solve_dynamic(train, damping=damping, output=tmp_path / "train.h5", settings=NewtonSettings(rtol=1e-10))
    model = build({"training": [str(tmp_path / "train.h5")], "problem": train,
                   "pod": {"U": {"tol": 1e-6}, "sig": {"tol": 1e-6}}, "ecm": {"tol": 1e-6}})
    mass = ReducedMass.of(model, train)
    result = reduced_dynamic(model, train, damping=damping, mass=mass)
    error = relative(result.fields["U"].values, hf.fields["U"].values)
    assert error <= 1e-3
    # without the lifting's inertia the modes would not be driven right
    no_coupling = ReducedMass(mass.matrix, tuple((d, 0 * c) for d, c in mass.lifting), mass.rule)
    wrong = reduced_dynamic(model, train, damping=damping, mass=no_coupling)
    assert relative(wrong.fields["U"].values, hf.fields["U"].values) > 100 * error
    # another amplitude: a linear problem, the same answer scaled
    other = reduced_dynamic(model, problem(-0.03), damping=damping, mass=mass)
    assert relative(other.fields["U"].values, -1.5 * hf.fields["U"].values) <= 1e-3


@pytest.mark.parametrize("scheme", [NewmarkSettings(), GeneralizedAlphaSettings(rho_inf=0.7)],
                         ids=["newmark", "generalized_alpha"])
def test_linear_path_is_the_newton_path(tmp_path, scheme):
    """Constant reduced matrices, one factorisation: the Newton path's answer to round-off
    (coordinates, accelerations, stress coordinates, indicator), imposed field, pressure and damping."""
    from rom.online.linear_dynamics import LinearReducedDynamics, is_linear, solve_linear_dynamic
    from rom.settings import SolverSettings

    mesh = fem.box_mesh("tetra", (10, 2, 2), size=(1.0, 0.2, 0.2))
    times = np.cumsum(np.r_[0.0, np.tile([0.02, 0.035], 12)])
    damping = Rayleigh(mass=0.5, stiffness=2e-3)

    def problem(uz, p=0.0):
        return clamped(mesh, ELASTIC, times, dirichlet=(Dirichlet("xmax", 2, uz, "ramp"),),
                       pressures=(Pressure("zmax", -p, "ramp"),) if p else ())

    train = problem(0.02, p=0.3)
    solve_dynamic(train, damping=damping, scheme=scheme, output=tmp_path / "train.h5", settings=TIGHT)
    solve_dynamic(problem(-0.01, p=0.5), damping=damping, scheme=scheme, output=tmp_path / "train2.h5",
                  settings=TIGHT)
    model = build({"training": [str(tmp_path / "train.h5"), str(tmp_path / "train2.h5")], "problem": train,
                   "pod": {"U": {"tol": 1e-6}, "sig": {"tol": 1e-6}}, "ecm": {"tol": 1e-6}})
    assert is_linear(model, train) == (True, "")
    mass = ReducedMass.of(model, train)
    linear = LinearReducedDynamics(model, train, damping=damping, mass=mass, scheme=scheme)
    tight = SolverSettings(rtol=1e-12, atol=1e-16)
    answers = []
    for case in (train, problem(-0.03, p=0.1)):
        newton = reduced_dynamic(model, case, damping=damping, mass=mass, scheme=scheme, settings=tight)
        fast = solve_linear_dynamic(model, case, linear=linear)
        q = np.array(newton.reduced_coordinates)
        np.testing.assert_allclose(np.array(fast.reduced_coordinates), q, rtol=0, atol=1e-11 * np.abs(q).max())
        a = np.array(newton.accelerations)
        np.testing.assert_allclose(np.array(fast.accelerations), a, rtol=0, atol=1e-10 * np.abs(a).max())
        np.testing.assert_allclose(fast.indicator, newton.indicator, rtol=0, atol=1e-12)
        assert relative(fast.fields["sig"].values, newton.fields["sig"].values) <= 1e-11
        assert fast.parameters["dynamics"]["path"] == "linear"
        answers.append(newton)
    # the Gappy coordinates of every time at once: those of each state
    solution = linear.solve(linear.imposed_values())
    c_ref = np.array([d["sig"] for d in answers[0]._coefficients(["sig"])])
    c = linear.dual_coordinates(solution, "sig")
    np.testing.assert_allclose(c, c_ref, rtol=0, atol=1e-10 * np.abs(c_ref).max())
    # bad input
    with pytest.raises(InputError, match="imposed values have shape"):
        linear.solve(np.zeros((3, 2)))
    with pytest.raises(InputError, match="NaN"):
        linear.solve(np.full_like(linear.imposed_values(), np.nan))


def test_linear_path_refuses_nonlinear_laws(plastic_run):
    from rom.online.linear_dynamics import LinearReducedDynamics, is_linear

    folder, problem, _, _ = plastic_run
    model = build({"training": [str(folder / "j2.h5")], "problem": problem,
                   "pod": {"U": {"tol": 1e-4}, "sig": {"tol": 1e-4}}, "ecm": {"tol": 1e-4}})
    applies, why = is_linear(model, problem)
    assert not applies and "not linear_elastic" in why
    with pytest.raises(InputError, match="linear reduced dynamics does not apply"):
        LinearReducedDynamics(model, problem)


def test_reduced_dynamics_nonlinear(plastic_run):
    folder, problem, scheme, sim = plastic_run
    model = build({"training": [str(folder / "j2.h5")], "problem": problem,
                   "pod": {"U": {"tol": 1e-6}, "sig": {"tol": 1e-6}, "epcum": {"tol": 1e-6}}, "ecm": {"tol": 1e-6},
                   "indicator": {"field": "epcum"}})
    result = reduced_dynamic(model, problem, scheme=scheme)
    assert relative(result.fields["U"].values, sim.fields["U"].values) <= 1e-3
    assert relative(result.fields["epcum"].values, sim.fields["epcum"].values) <= 1e-2
    assert result.parameters["dynamics"]["rho_inf"] == 0.8


# ========================================================================= MPI
@pytest.mark.mpi
def test_two_ranks_equal_one_rank(comm, shared_tmp_path):
    from rom.model import ReducedOrderModel

    problem = cantilever(J2, p_top=0.25, p_end=1.0, n_steps=20, duration=0.4, divisions=(10, 2, 2))
    scheme = GeneralizedAlphaSettings(rho_inf=0.8)
    settings = NewtonSettings(rtol=1e-11, atol=1e-14, max_cuts=0)
    parallel = solve_dynamic(problem, comm, scheme=scheme, settings=settings, output=shared_tmp_path / "hf2.h5")
    serial = solve_dynamic(problem, scheme=scheme, settings=settings, linear_solver="mumps") if comm.rank == 0 else None
    if comm.rank == 0:
        assert parallel.fields["epcum"].values.max() > 1e-4
        for name in ("U", "V", "A", "epcum"):
            assert relative(parallel.fields[name].read(), serial.fields[name].values) <= 1e-9, name
    comm.Barrier()
    # a ROM on 2 subdomains: solved on 2 ranks, and on 1 rank
    config = {"training": [str(shared_tmp_path / "hf2.h5")], "problem": problem,
              "pod": {"U": {"tol": 1e-6}, "sig": {"tol": 1e-6}, "epcum": {"tol": 1e-6}}, "ecm": {"tol": 1e-6}}
    build(config, comm=comm).save(shared_tmp_path / "rom2.h5", comm=comm)
    model = ReducedOrderModel.load(shared_tmp_path / "rom2.h5", comm=comm)
    result = reduced_dynamic(model, problem, comm, scheme=scheme)
    gathered = result.to_simulation()
    q2 = np.array(result.reduced_coordinates)
    assert np.array_equal(q2, comm.bcast(q2, root=0))
    if comm.rank == 0:
        alone = reduced_dynamic(ReducedOrderModel.load(shared_tmp_path / "rom2.h5"), problem, scheme=scheme)
        q1 = np.array(alone.reduced_coordinates)
        np.testing.assert_allclose(q2, q1, rtol=0, atol=1e-9 * np.abs(q1).max())
        np.testing.assert_allclose(np.array(result.accelerations), np.array(alone.accelerations), rtol=0,
                                   atol=1e-9 * np.abs(np.array(alone.accelerations)).max())
        reference = parallel.fields["U"].read()
        assert relative(gathered.fields["U"].values, reference) <= 1e-3
    comm.Barrier()
