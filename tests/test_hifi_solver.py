"""The high-fidelity solver: linear solvers agree, one-step hooks, failures, decks, MPI."""

from __future__ import annotations

import dataclasses
import sys

import numpy as np
import pytest

import io_adapters
from io_adapters import ConvergenceError, Dirichlet, Pressure, Problem, TimeTable, read_problem
from rom import fem
from rom.hifi import ExternalCommandStep, InHouseStep, MechanicalState, NewtonSettings, solve

J2 = {"behavior": "j2_plasticity", "elasticity": {"young": 2e5, "poisson": 0.3},
      "yield_stress": 200.0, "isotropic": {"type": "linear", "H": 1e4}}


def bar_problem(material=J2, pressure=-20.0, n_steps=8) -> Problem:
    """A clamped bar pulled, pushed and bent cyclically (yields in both directions)."""
    mesh = fem.box_mesh("hexahedron", (6, 2, 2), (6.0, 1.0, 1.0))
    return Problem(
        mesh=mesh,
        materials={"ALL_ELEMENT": material},
        dirichlet=[Dirichlet("xmin", c, 0.0, None) for c in range(3)] + [Dirichlet("xmax", 0, 0.012, "cycle")],
        pressures=[Pressure("ymax", pressure, "cycle")],
        tables={"cycle": TimeTable([0.0, 1.0, 2.0], [0.0, 1.0, -1.0])},
        times=np.linspace(0.0, 2.0, n_steps + 1),
    )


def test_scipy_and_petsc_solutions_agree():
    problem = bar_problem()
    reference = solve(problem, linear_solver="scipy")
    assert reference.fields["epcum"].values.max() > 1e-3          # it did yield
    for solver in ("mumps", "cg-gamg"):
        other = solve(problem, linear_solver=solver)
        u, v = reference.fields["U"].values, other.fields["U"].values
        assert np.abs(u - v).max() <= 1e-7 * np.abs(u).max(), solver
        np.testing.assert_allclose(other.fields["epcum"].values, reference.fields["epcum"].values, atol=1e-9)


def test_results_are_in_equilibrium_with_the_loads():
    problem = bar_problem(n_steps=4)
    sim = solve(problem, linear_solver="scipy")
    B, w = fem.strain_operator(problem.mesh)
    f_int = fem.internal_forces(B, w, sim.fields["sig"].values[-1])
    f_ext = fem.pressure_load(problem.mesh, "ymax", -20.0) * problem.tables["cycle"](sim.times[-1])
    constrained = np.zeros(3 * problem.mesh.n_nodes, bool)
    for bc in problem.dirichlet:
        constrained[3 * problem.mesh.node_sets[bc.node_set] + bc.component] = True
    residual = (f_int - f_ext)[~constrained]
    assert np.linalg.norm(residual) <= 1e-8 * np.linalg.norm(f_int)
    # the imposed displacement is met exactly
    xmax = problem.mesh.node_sets["xmax"]
    np.testing.assert_allclose(sim.fields["U"].values[-1, xmax, 0], 0.012 * problem.tables["cycle"](2.0))


def test_in_house_step_continues_a_solution():
    problem = bar_problem()
    sim = solve(problem, linear_solver="scipy")
    state = MechanicalState.from_simulation(sim, step=4)
    assert state.time == pytest.approx(sim.times[4])
    step = InHouseStep(problem, linear_solver="scipy")
    new = step(state, sim.times[5])
    np.testing.assert_allclose(new.displacement, sim.fields["U"].values[5], atol=1e-12)
    np.testing.assert_allclose(new.internal["epcum"], sim.fields["epcum"].values[5, :, 0], atol=1e-12)
    np.testing.assert_allclose(new.stress, sim.fields["sig"].values[5], atol=1e-6)


def test_external_command_step_round_trips_through_files(tmp_path):
    problem = bar_problem()
    mesh_file = io_adapters.save(io_adapters.Simulation(problem.mesh, np.zeros(0)), tmp_path / "bar_mesh.h5",
                                 xdmf=False)
    deck = tmp_path / "bar.toml"
    deck.write_text(f'''mesh = "{mesh_file.name}"
[time]
steps = [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0]
[materials.ALL_ELEMENT]
behavior = "j2_plasticity"
elasticity = {{ young = 2e5, poisson = 0.3 }}
yield_stress = 200.0
isotropic = {{ type = "linear", H = 1e4 }}
[[dirichlet]]
node_set = "xmin"
component = 0
value = 0.0
[[dirichlet]]
node_set = "xmin"
component = 1
value = 0.0
[[dirichlet]]
node_set = "xmin"
component = 2
value = 0.0
[[dirichlet]]
node_set = "xmax"
component = 0
value = 0.012
table = "cycle"
[[pressure]]
face_set = "ymax"
value = -20.0
table = "cycle"
[tables.cycle]
time = [0.0, 1.0, 2.0]
value = [0.0, 1.0, -1.0]
''')
    from_file = read_problem(deck)
    assert from_file == dataclasses.replace(problem, source=str(deck))
    sim = solve(problem, linear_solver="scipy")
    state = MechanicalState.from_simulation(sim, step=3)
    step = ExternalCommandStep([sys.executable, "-m", "rom.hifi.step", str(deck), "{state}", "{result}", "{t_new}"],
                               problem.mesh, workdir=tmp_path / "work")
    new = step(state, sim.times[4])
    np.testing.assert_allclose(new.displacement, sim.fields["U"].values[4], atol=1e-10)
    np.testing.assert_allclose(new.internal["epcum"], sim.fields["epcum"].values[4, :, 0], atol=1e-10)

    failing = ExternalCommandStep([sys.executable, "-c", "import sys; sys.exit('solver licence expired')"],
                                  problem.mesh, workdir=tmp_path / "fail")
    with pytest.raises(ConvergenceError, match="licence expired"):
        failing(state, sim.times[4])


def test_failure_after_all_cuts_names_the_step_and_keeps_the_steps_before(tmp_path):
    perfectly_plastic = {**J2, "isotropic": {"type": "constant"}}
    problem = bar_problem(perfectly_plastic, pressure=-400.0, n_steps=4)   # far above the limit load
    output = tmp_path / "run.h5"
    with pytest.raises(ConvergenceError) as failure:
        solve(problem, output=output, linear_solver="scipy", settings=NewtonSettings(max_iterations=8, max_cuts=2))
    message = str(failure.value)
    assert "time step" in message and "failed after 2 halvings" in message and "residual history" in message
    kept = io_adapters.read(output)
    assert 1 <= kept.n_times < problem.n_steps + 1
    np.testing.assert_array_equal(kept.times, problem.times[: kept.n_times])
    assert np.all(np.isfinite(kept.fields["U"].values))


def test_zset_deck_and_its_toml_twin_solve_alike(data_dir):
    deck = read_problem(data_dir / "problems/cube.inp")
    twin = read_problem(data_dir / "problems/cube.toml")
    short = {"times": deck.times[:4]}
    a = solve(dataclasses.replace(deck, **short), rule="zset", linear_solver="scipy")
    b = solve(dataclasses.replace(twin, **short), rule="zset", linear_solver="scipy")
    assert set(a.fields) >= {"U", "eto", "sig", "evrcum", "evri", "epcum"}
    assert a.fields["sig"].rule == "zset"
    np.testing.assert_allclose(a.fields["U"].values, b.fields["U"].values, rtol=0, atol=1e-14)
    assert np.abs(a.fields["U"].values[-1]).max() > 0


@pytest.mark.mpi
def test_two_ranks_give_the_serial_solution(comm, shared_tmp_path):
    problem = bar_problem()
    output = shared_tmp_path / "parallel.h5"
    parallel = solve(problem, comm=comm, output=output, linear_solver="mumps")
    serial = solve(problem, linear_solver="scipy")
    u, v = serial.fields["U"].values, parallel.fields["U"].values
    assert np.abs(u - v).max() <= 1e-7 * np.abs(u).max()
    np.testing.assert_allclose(parallel.fields["epcum"].values, serial.fields["epcum"].values, atol=1e-9)
    np.testing.assert_allclose(parallel.fields["sig"].values, serial.fields["sig"].values, atol=1e-5)
