"""The thermal strain is measured from the initial temperature, everywhere a law is evaluated.

    ε_th(t) = α(T(t)) (T(t) − T_ref) − α(T_0) (T_0 − T_ref),   T_0 = T at the start of the computation

(Zset's convention, also Abaqus's and Code_Aster's for a secant α; see docs/zset.md).
Each test has T_0 far from T_ref and a temperature-dependent α, so the reading
``α(T)(T − T_ref)`` alone fails it:

- the laws and the material-point driver (closed form at a point);
- the HF solver on a free body (3-2-1 supports): u = ε_th x, no stress, and no
  displacement at all while T = T_0;
- one in-house HF step from a state at t > t_0 (the enrichment's step);
- the online reduced solver against the HF solver on a clamped box, with a step
  held at T_0 (no displacement, no stress);
- a Zset-style deck whose temperature is given by ``function t; file X.node 1`` lines.
(dolfinx solving the same thermo-elastic problem: tests/test_hifi_dolfinx.py.)
"""

from __future__ import annotations

import numpy as np
import pytest

from io_adapters.problem import Dirichlet, Problem, Temperature
from rom.fem.meshes import box_mesh
from rom.hifi import NewtonSettings, solve
from rom.materials import GenEVP, IsotropicElasticity, LinearElastic, NortonFlow, ThermalStrain, from_spec
from rom.materials.hardening import IsotropicHardening
from rom.materials.driver import drive

E, NU, T_REF, T_0 = 2.0e5, 0.3, 20.0, 100.0
ALPHA_TABLE = {"temperature": [0.0, 1000.0], "value": [1.2e-5, 1.6e-5]}
YOUNG_TABLE = {"temperature": [0.0, 1000.0], "value": [2.0e5, 1.2e5]}
TIGHT = NewtonSettings(rtol=1e-11, atol=1e-13)


def alpha(T):
    return 1.2e-5 + 4e-9 * np.asarray(T, float)


def thermal_strain(T, T0=T_0):
    """The closed form, written here independently of rom.materials."""
    return alpha(T) * (T - T_REF) - alpha(T0) * (T0 - T_REF)


def elastic_spec(**extra) -> dict:
    return {"behavior": "linear_elastic", "elasticity": {"young": YOUNG_TABLE, "poisson": NU},
            "thermal_strain": {"alpha": ALPHA_TABLE, "ref_temperature": T_REF}, **extra}


def evp_spec() -> dict:
    return {"behavior": "gen_evp", "elasticity": {"young": YOUNG_TABLE, "poisson": NU},
            "thermal_strain": {"alpha": ALPHA_TABLE, "ref_temperature": T_REF},
            "potential": {"flow": {"type": "norton", "K": 500.0, "n": 12.0},
                          "isotropic": {"type": "constant", "R0": 80.0}}}


# ------------------------------------------------------------------ at a point
def test_thermal_strain_closed_form():
    law = ThermalStrain(from_spec(elastic_spec()).thermal_strain.alpha, T_REF)
    T = np.array([T_0, 250.0, 600.0, 20.0])
    np.testing.assert_allclose(law(T, T_0), thermal_strain(T), rtol=1e-13, atol=1e-18)
    np.testing.assert_allclose(law(T, np.full(4, T_0)), thermal_strain(T), rtol=1e-13, atol=1e-18)
    assert law(np.array([T_0]), T_0)[0] == 0.0
    np.testing.assert_allclose(law(T), alpha(T) * (T - T_REF), rtol=1e-13)       # from T_ref when T_0 is not given


@pytest.mark.parametrize("spec", [elastic_spec(), evp_spec()], ids=["linear_elastic", "gen_evp"])
def test_free_point_is_unstrained_at_initial_temperature(spec):
    """A point held at zero total strain: no stress while T = T_0, −C ε_th afterwards."""
    law = from_spec(spec)
    n = 3
    state = law.initial_state(n)
    zero = np.zeros((n, 6))
    stress, _, _ = law.update(zero, zero, state, T_0, 0.0, 1.0, T_initial=T_0)
    assert np.abs(stress).max() == 0.0
    T1 = np.array([T_0, 150.0, 300.0])
    stress, _, _ = law.update(zero, zero, state, T_0, T1 - T_0, 1e-9, T_initial=T_0)   # no time to flow
    young = 2.0e5 - 80.0 * T1
    bulk_term = -young / (1.0 - 2.0 * NU) * thermal_strain(T1)     # σ_ii = −E/(1−2ν) ε_th when ε = 0
    np.testing.assert_allclose(stress[:, :3], np.repeat(bulk_term[:, None], 3, axis=1), rtol=1e-10, atol=1e-10)
    # without T_initial the law measures from T_ref (the old reading): different here
    old, _, _ = law.update(zero, zero, state, T_0, 0.0, 1e-9)
    assert np.abs(old).max() > 1.0


@pytest.mark.parametrize("spec", [elastic_spec(), evp_spec()], ids=["linear_elastic", "gen_evp"])
def test_driver_measures_from_the_first_temperature(spec):
    """Stress-free heating: the strain follows ε_th(T) − ε_th(T_0), zero at the first time."""
    law = from_spec(spec)
    times = np.linspace(0.0, 1.0, 5)
    T = np.array([T_0, 150.0, 400.0, 700.0, T_0])
    run = drive(law, times, controlled=np.zeros(6, bool), temperature=T)
    np.testing.assert_allclose(run.strain[:, 0, :3], np.repeat(thermal_strain(T)[:, None], 3, axis=1),
                               rtol=1e-9, atol=1e-15)
    assert np.abs(run.strain[0]).max() < 1e-15 and np.abs(run.strain[-1]).max() < 1e-12
    # the old reading on request: measured from T_ref
    run = drive(law, times, controlled=np.zeros(6, bool), temperature=T, initial_temperature=T_REF)
    np.testing.assert_allclose(run.strain[:, 0, 0], alpha(T) * (T - T_REF), rtol=1e-9)


def test_elastic_and_evp_laws_agree_below_the_threshold():
    """The same elastic answer through both update machineries (thermal strain offset included)."""
    elasticity = IsotropicElasticity(from_spec(elastic_spec()).elasticity.young, NU)
    thermal = ThermalStrain(from_spec(elastic_spec()).thermal_strain.alpha, T_REF)
    elastic = LinearElastic(elasticity, thermal)
    evp = GenEVP(elasticity, NortonFlow(500.0, 12.0), IsotropicHardening(1e9), thermal_strain=thermal)
    rng = np.random.default_rng(3)
    n = 20
    e0, de = 1e-4 * rng.standard_normal((n, 6)), 1e-4 * rng.standard_normal((n, 6))
    T0, T_old, dT = rng.uniform(50, 300, n), rng.uniform(50, 300, n), rng.uniform(-50, 50, n)
    a = elastic.update(e0, de, {}, T_old, dT, 1.0, T_initial=T0)[0]
    b = evp.update(e0, de, evp.initial_state(n), T_old, dT, 1.0, T_initial=T0)[0]
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-9)


# ------------------------------------------------------------ the HF solver
SIZE = (4.0, 2.0, 1.0)


def _free_box(cell_type="hexahedron20", divisions=(2, 1, 1)):
    """Box with 3-2-1 supports at three corners (statically determinate)."""
    mesh = box_mesh(cell_type, divisions, SIZE)
    x = mesh.points
    corner = lambda p: np.flatnonzero(np.linalg.norm(x - np.asarray(p), axis=1) < 1e-9)  # noqa: E731
    sets = dict(mesh.node_sets, A=corner((0, 0, 0)), B=corner((SIZE[0], 0, 0)), C=corner((0, SIZE[1], 0)))
    mesh = type(mesh)(points=mesh.points, cells=mesh.cells, node_sets=sets, face_sets=mesh.face_sets)
    dirichlet = (Dirichlet("A", 0, 0.0), Dirichlet("A", 1, 0.0), Dirichlet("A", 2, 0.0),
                 Dirichlet("B", 1, 0.0), Dirichlet("B", 2, 0.0), Dirichlet("C", 2, 0.0))
    return mesh, dirichlet


def uniform_history(n_nodes, levels, times):
    fields = np.array([np.full(n_nodes, v) for v in dict.fromkeys(levels)])
    index = {v: k for k, v in enumerate(dict.fromkeys(levels))}
    return Temperature.from_key_times(times, fields, [index[v] for v in levels])


FREE_TIMES = [0.0, 1.0, 2.0, 3.0]
FREE_LEVELS = [T_0, 400.0, 700.0, T_0]


@pytest.fixture(scope="module")
def free_expansion():
    mesh, dirichlet = _free_box()
    problem = Problem(mesh=mesh, materials={"ALL_ELEMENT": evp_spec()}, dirichlet=dirichlet,
                      temperature=uniform_history(mesh.n_nodes, FREE_LEVELS, FREE_TIMES), times=FREE_TIMES,
                      source="free expansion from T_0 = 100")
    return problem, solve(problem, settings=TIGHT)


def test_hf_free_expansion_from_initial_temperature(free_expansion):
    problem, sim = free_expansion
    x = problem.mesh.points
    for k, T in enumerate(FREE_LEVELS):
        exact = thermal_strain(T) * x
        U = sim.fields["U"].values[k]
        assert np.abs(U - exact).max() <= 1e-9 * np.abs(thermal_strain(700.0)) * SIZE[0], k
        assert np.abs(sim.fields["sig"].values[k]).max() <= 1e-6, k
    assert np.abs(sim.fields["U"].values[-1]).max() < 1e-14        # back at T_0: undeformed
    assert np.all(sim.fields["evrcum"].values == 0.0)                # the (low) threshold never reached


def test_in_house_step_from_a_later_state_measures_from_the_problems_first_time(free_expansion):
    """The enrichment's HF step starts at t_n > t_0 and still measures from T(t_0)."""
    from rom.hifi import InHouseStep, MechanicalState

    problem, sim = free_expansion
    start = MechanicalState.from_simulation(sim, step=1)
    result = InHouseStep(problem, settings=TIGHT)(start, 2.0)
    exact = thermal_strain(700.0) * problem.mesh.points
    assert np.abs(result.displacement - exact).max() <= 1e-9 * np.abs(exact).max()
    assert np.abs(result.stress).max() <= 1e-6


# ------------------------------------------------------------- the reduced solver
#: constant coefficients: the response is linear in T − T_0, so a basis of the training
#: responses holds the online one exactly and the ROM must match the HF to round-off
CONSTANT = {"behavior": "linear_elastic", "elasticity": {"young": E, "poisson": NU},
            "thermal_strain": {"alpha": 1.4e-5, "ref_temperature": T_REF}}


def _clamped_box_problem(fields, which, times, source):
    mesh = box_mesh("hexahedron20", (3, 1, 1), SIZE)
    return Problem(mesh=mesh, materials={"ALL_ELEMENT": CONSTANT},
                   dirichlet=tuple(Dirichlet("xmin", c, 0.0) for c in range(3)),
                   temperature=Temperature.from_key_times(times, fields, which), times=times, source=source)


def _fields(mesh, *shapes):
    X, Y, Z = (mesh.points / np.asarray(SIZE)).T
    return np.array([shape(X, Y, Z) for shape in shapes])


def test_reduced_solver_measures_from_initial_temperature(tmp_path):
    """ROM trained on HF results; online, a step held at T_0 has no displacement and no stress
    (measured from T_ref, the constant α (T_0 − T_ref) would strain it), and a new field matches HF."""
    from rom.model import ReducedOrderModel
    from rom.offline import build

    mesh = box_mesh("hexahedron20", (3, 1, 1), SIZE)
    initial = lambda X, Y, Z: T_0 + 50.0 * X                       # noqa: E731
    hot = lambda X, Y, Z: T_0 + 50.0 * X + 400.0 * Z * Z           # noqa: E731
    warm = lambda X, Y, Z: T_0 + 50.0 * X + 150.0 * Y + 200.0 * X * Z   # noqa: E731
    training = _clamped_box_problem(_fields(mesh, initial, hot, warm), [0, 1, 2], [0.0, 1.0, 2.0], "training")
    solve(training, output=tmp_path / "train.h5", settings=TIGHT)
    model = build({"training": [str(tmp_path / "train.h5")], "problem": training,
                   "pod": {"U": {"tol": 1e-10}, "sig": {"tol": 1e-10}}, "ecm": {"tol": 1e-8}})
    model.save(tmp_path / "rom.h5")
    model = ReducedOrderModel.load(tmp_path / "rom.h5")

    # online: held at T_0, then a mix of the training fields, then back to T_0
    mix = lambda X, Y, Z: T_0 + 50.0 * X + 240.0 * Z * Z + 60.0 * Y + 80.0 * X * Z   # noqa: E731
    online = _clamped_box_problem(_fields(mesh, initial, mix), [0, 0, 1, 0], [0.0, 1.0, 2.0, 3.0], "online")
    reference = solve(online, settings=TIGHT)
    result = model.solve(online)
    U, U_hf = result.fields["U"].values, reference.fields["U"].values
    assert np.abs(U_hf[2]).max() > 1e-3
    assert np.abs(U[1]).max() < 1e-12 and np.abs(U[3]).max() < 1e-12
    assert np.abs(result.fields["sig"].values[[1, 3]]).max() < 1e-6
    assert np.linalg.norm(U[2] - U_hf[2]) <= 1e-6 * np.linalg.norm(U_hf[2])


# ------------------------------------------------------------------ a Zset deck
DECK = """\
****calcul
 ***mesh **file cube.geof
 ***resolution newton
   *ratio 1.e-8
   *time 2.
   *increment 2
 ***bc
  **impose_nodal_dof
   x0 U1 0.
   y0 U2 0.
   z0 U3 0.
 ***parameter
  **file temperature
   *node
   *rec_size {n}
   *cycle_conversion 0. 2. 2.
   function 0.0+cycle*2.; file t100.node 1
   function 1.0+cycle*2.; file t400.node 1
   function 2.0+cycle*2.; file t700.node 1
 ***material
   *file steel.mat
****return
"""

MATERIAL = """\
***behavior linear_elastic
 **elasticity isotropic
   young temperature
     2.0e5  0.
     1.2e5  1000.
   poisson 0.3
 **thermal_strain isotropic
   alpha temperature
     1.2e-5  0.
     1.6e-5  1000.
   ref_temperature 20.
***return
"""


def test_zset_deck_with_function_file_temperatures(tmp_path, data_dir):
    """Uniform 100 °C at t = 0 from a `function …; file …` line, ref_temperature 20: free expansion
    on roller supports (x0, y0, z0 planes) from T_0, as Zset computes it."""
    import shutil

    from io_adapters import read_problem
    from io_adapters.zset import read_mesh

    shutil.copy(data_dir / "problems" / "cube.geof", tmp_path / "cube.geof")
    mesh = read_mesh(tmp_path / "cube.geof")
    for value in (100, 400, 700):
        np.full(mesh.n_nodes, float(value)).astype(">f4").tofile(tmp_path / f"t{value}.node")
    (tmp_path / "steel.mat").write_text(MATERIAL)
    (tmp_path / "free.inp").write_text(DECK.format(n=mesh.n_nodes))
    problem = read_problem(tmp_path / "free.inp")
    np.testing.assert_allclose(problem.temperature.at(0.0), T_0)
    sim = solve(problem, settings=TIGHT)
    x = problem.mesh.points - problem.mesh.points.min(axis=0)        # the roller planes
    for k, T in enumerate([T_0, 400.0, 700.0]):
        exact = thermal_strain(T) * x
        assert np.abs(sim.fields["U"].values[k] - exact).max() <= 1e-9 * max(np.abs(exact).max(), 1e-12), k
        assert np.abs(sim.fields["sig"].values[k]).max() <= 1e-6, k
