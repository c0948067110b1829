"""The high-fidelity step of an enrichment, taken once for all ranks (issue 10).

Serial: a state's rows and back, the in-house step on rows, the rank-0 adapter. Under
``mpiexec -n 2`` (``mpi`` marker): the in-house step distributed over a METIS partition
(one Newton solve, each rank its cells) matches the serial step; an external command runs
once for the two ranks; its failure raises the same error on both.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest

from examples.cube.cube import make_cube_problem
from io_adapters import ConvergenceError, InputError
from io_adapters.errors import ConfigError
from io_adapters.problem import read_problem
from io_adapters.quadrature_rules import count_points
from rom.hifi import (ExternalCommandStep, InHouseStep, MechanicalState, NewtonSettings, PartitionedState,
                      on_rank_zero, solve)
from rom.hifi import step as step_module
from rom.partition import partition_cells

TIGHT = NewtonSettings(rtol=1e-11, atol=1e-13)
CUBE_TOML = Path(__file__).parents[1] / "examples" / "cube" / "problem.toml"


@pytest.fixture(scope="module")
def cube():
    """A small cyclic thermo-viscoplastic cube and its serial HF solution (plastic flow
    starts between steps 2 and 3)."""
    problem = make_cube_problem(3, n_cycles=1, steps_per_cycle=6)
    return problem, solve(problem, settings=TIGHT)


def n_points(problem, rule="default"):
    return count_points(problem.mesh.cells, rule)


def assert_rows_close(got: PartitionedState, expected: PartitionedState, rtol=1e-8):
    """Same rows, every field within ``rtol`` of its largest value."""
    np.testing.assert_array_equal(got.nodes, expected.nodes)
    np.testing.assert_array_equal(got.point_rows, expected.point_rows)
    assert got.time == pytest.approx(expected.time, abs=0)
    pairs = {"U": (got.displacement, expected.displacement), "eto": (got.strain, expected.strain),
             "sig": (got.stress, expected.stress)}
    pairs.update({n: (got.internal[n], expected.internal[n]) for n in expected.internal})
    assert set(got.internal) == set(expected.internal)
    for name, (a, b) in pairs.items():
        scale = max(np.abs(b).max(), 1e-300)
        assert np.abs(a - b).max() <= rtol * scale, (name, np.abs(a - b).max() / scale)


# =================================================================== serial
def test_restrict_and_gather_round_trip_on_one_rank(cube):
    problem, sim = cube
    state = MechanicalState.from_simulation(sim, step=3)
    everything = state.restrict(np.arange(problem.mesh.n_nodes)[::-1], np.arange(n_points(problem)))
    np.testing.assert_array_equal(everything.nodes, np.arange(problem.mesh.n_nodes))   # sorted
    back = everything.gather(None, problem.mesh.n_nodes, n_points(problem))
    for name in ("displacement", "strain", "stress"):
        np.testing.assert_array_equal(getattr(back, name), getattr(state, name))
    assert set(back.internal) == set(state.internal)
    for name, values in state.internal.items():
        np.testing.assert_array_equal(back.internal[name], values)
    assert back.time == state.time and back.rule == state.rule
    again = PartitionedState.scatter(back, None, [5, 1, 3], [7, 2])
    np.testing.assert_array_equal(again.displacement, state.displacement[[1, 3, 5]])
    np.testing.assert_array_equal(again.internal["evrcum"], state.internal["evrcum"][[2, 7]])


def test_gather_names_the_rows_no_rank_holds(cube):
    problem, sim = cube
    state = MechanicalState.from_simulation(sim, step=3)
    part = state.restrict(np.arange(10, problem.mesh.n_nodes), np.arange(n_points(problem)))
    with pytest.raises(InputError, match=r"no rank holds 10 of the 208 nodes \(first: \[0, 1, 2, 3, 4\]\)"):
        part.gather(None, problem.mesh.n_nodes, n_points(problem))
    with pytest.raises(InputError, match=r"rank 0 holds node 100, but the mesh has 100 nodes \(108 rows outside\)"):
        part.gather(None, 100, n_points(problem))
    with pytest.raises(InputError, match=r"asked for 1 outside \(first: \[208\]\)"):
        state.restrict([0, 208], [0])


def test_partitioned_state_is_validated_at_construction():
    good = dict(time=1.0, nodes=np.array([0, 3]), displacement=np.zeros((2, 3)), point_rows=np.array([4]),
                strain=np.zeros((1, 6)), stress=np.zeros((1, 6)), internal={"p": np.zeros(1)})
    PartitionedState(**good)
    cases = {
        "nodes must be increasing and unique: 0 follows 3": dict(nodes=np.array([3, 0])),
        r"displacement has shape \(2, 2\), expected \(2, 3\)": dict(displacement=np.zeros((2, 2))),
        r"internal 'p' has shape \(2,\), expected \(1, ...\)": dict(internal={"p": np.zeros(2)}),
        "stress is not finite at global integration-point row 4": dict(stress=np.full((1, 6), np.nan)),
        "point_rows: negative global index -1": dict(point_rows=np.array([-1])),
        "must be a 1-D array of integer global indices": dict(nodes=np.array([0.0, 3.0])),
    }
    for message, change in cases.items():
        with pytest.raises(InputError, match=message):
            PartitionedState(**{**good, **change})


def test_in_house_step_on_all_rows_equals_the_global_call(cube):
    problem, sim = cube
    start = MechanicalState.from_simulation(sim, step=2)
    step = InHouseStep(problem, settings=TIGHT)
    assert step.comm is None and step.settings is TIGHT and len(step.disc.cells) == problem.mesh.n_cells
    glob = step(start, sim.times[3])
    assert isinstance(glob, MechanicalState)
    rows = step(start.restrict(step.disc.local.point_ids, step.disc.point_rows), sim.times[3])
    assert isinstance(rows, PartitionedState)
    assert_rows_close(rows, glob.restrict(rows.nodes, rows.point_rows), rtol=0.0)
    # and the step continues the solution it was taken from
    np.testing.assert_allclose(glob.displacement, sim.fields["U"].values[3], rtol=0,
                               atol=1e-8 * np.abs(sim.fields["U"].values[3]).max())
    assert glob.internal["evrcum"].shape == (n_points(problem),)       # the laws' own shapes


def test_in_house_step_refuses_a_state_without_its_rows(cube):
    problem, sim = cube
    start = MechanicalState.from_simulation(sim, step=2)
    step = InHouseStep(problem, settings=TIGHT)
    short = start.restrict(np.arange(3, problem.mesh.n_nodes), np.arange(n_points(problem)))
    with pytest.raises(InputError, match=r"state lacks 3 of the 208 nodes and 0 of the 729 integration points "
                                         r"of this rank's cells \(first nodes: \[0, 1, 2\]"):
        step(short, sim.times[3])
    no_evri = dataclasses.replace(start, internal={k: v for k, v in start.internal.items() if k != "evri"})
    with pytest.raises(InputError, match="state lacks internal variable 'evri' of material 'ALL_ELEMENT'"):
        step(no_evri.restrict(np.arange(208), np.arange(729)), sim.times[3])
    with pytest.raises(InputError, match="the new time 3.0 is not after the state's time 6.66"):
        step(start, 3.0)


def test_on_rank_zero_checks_what_a_user_step_returns(cube):
    problem, sim = cube
    start = MechanicalState.from_simulation(sim, step=2)
    in_house = InHouseStep(problem, settings=TIGHT)
    wrapped = on_rank_zero(in_house, problem.mesh)
    part = start.restrict(np.arange(208), np.arange(729))
    assert_rows_close(wrapped(part, sim.times[3]), in_house(part, sim.times[3]), rtol=0.0)

    def late(state, t_new):
        return dataclasses.replace(in_house(state, t_new), time=t_new + 1.0)

    with pytest.raises(InputError, match=r"late: result is at t=11.0, expected t=10.0"):
        on_rank_zero(late, problem.mesh)(part, sim.times[3])


def test_a_node_of_no_cell_needs_no_rank(cube):
    """A mesh node that no cell uses has no displacement to solve for: no state need hold
    it, every global result holds it (zero). (scipy: the PETSc numbering gives such a node
    dofs without equations, a singular matrix — a limit of the HF solver itself.)"""
    from examples.cube.cube import make_cube_mesh
    from io_adapters.mesh import Mesh

    base = make_cube_mesh(2, cell_type="hexahedron")
    mesh = Mesh(np.vstack([base.points, [[50.0, 50.0, 50.0]]]), base.cells, node_sets=base.node_sets,
                face_sets=base.face_sets)
    problem = make_cube_problem(2, n_cycles=1, steps_per_cycle=4, mesh=mesh)
    sim = solve(problem, settings=TIGHT, linear_solver="scipy")
    start = MechanicalState.from_simulation(sim, step=1)
    step = InHouseStep(problem, settings=TIGHT, linear_solver="scipy")
    assert mesh.n_nodes - 1 in step.nodes and mesh.n_nodes - 1 not in step.disc.local.point_ids
    glob = step(start, sim.times[2])
    np.testing.assert_array_equal(glob.displacement[-1], 0.0)
    cells_only = start.restrict(np.arange(mesh.n_nodes - 1), np.arange(n_points(problem)))
    wrapped = on_rank_zero(step, mesh)(cells_only, sim.times[2])
    np.testing.assert_array_equal(wrapped.nodes, cells_only.nodes)
    np.testing.assert_allclose(wrapped.displacement, glob.displacement[:-1], rtol=0, atol=0)


def test_distributed_gives_each_kind_of_step_what_it_needs(cube, tmp_path):
    problem, _ = cube
    in_house = InHouseStep(problem, settings=TIGHT)
    assert step_module.distributed(in_house, None, problem.mesh) is in_house
    external = ExternalCommandStep("solver {state} {result}", problem.mesh, workdir=tmp_path, timeout=5.0)
    assert step_module.distributed(external, None, problem.mesh) is external

    class FakeComm:                      # only compared by identity here
        size = 2

    rebuilt = step_module.distributed(external, FakeComm, problem.mesh)
    assert isinstance(rebuilt, ExternalCommandStep) and rebuilt.comm is FakeComm
    assert (rebuilt.command, rebuilt.workdir, rebuilt.timeout) == (["solver", "{state}", "{result}"], tmp_path, 5.0)
    wrapped = step_module.distributed(lambda state, t: state, FakeComm, problem.mesh)
    assert isinstance(wrapped, step_module.RankZeroStep) and wrapped.comm is FakeComm
    with pytest.raises(ConfigError, match=r"InHouseStep was built for 1 rank\(s\) and is used on 2"):
        step_module.distributed(in_house, FakeComm, problem.mesh)


# ====================================================================== MPI
def rank_rows(comm, problem, settings=TIGHT):
    """The distributed step on a METIS partition computed on rank 0, and that partition."""
    parts = comm.bcast(partition_cells(problem.mesh, comm.size) if comm.rank == 0 else None, root=0)
    step = InHouseStep(problem, comm=comm, cell_parts=parts, settings=settings)
    return step, parts


@pytest.mark.mpi
def test_distributed_in_house_step_is_one_solve_on_each_ranks_cells(comm, cube, monkeypatch):
    problem, sim = cube
    mesh = problem.mesh
    start = MechanicalState.from_simulation(sim, step=2)
    t_new = float(sim.times[3])
    serial = InHouseStep(problem, settings=TIGHT)(start, t_new)
    assert serial.internal["evrcum"].max() > start.internal["evrcum"].max() + 1e-6     # it flows

    step, parts = rank_rows(comm, problem)
    assert len(step.disc.cells) < mesh.n_cells
    assert comm.allreduce(len(step.disc.cells)) == mesh.n_cells
    np.testing.assert_array_equal(step.disc.cells, np.flatnonzero(parts == comm.rank))

    calls = []
    real = step_module.advance

    def counted(*args, **kwargs):
        calls.append(args[3])
        return real(*args, **kwargs)

    monkeypatch.setattr(step_module, "advance", counted)
    mine = start.restrict(step.disc.local.point_ids, step.disc.point_rows)
    new = step(mine, t_new)
    assert calls == [t_new]                                         # ONE Newton solve on this rank
    assert isinstance(new, PartitionedState) and new.time == t_new
    np.testing.assert_array_equal(new.nodes, np.unique(step.disc.local.point_ids))
    np.testing.assert_array_equal(new.point_rows, step.disc.point_rows)
    assert_rows_close(new, serial.restrict(new.nodes, new.point_rows))

    # the ranks' rows make the serial result again on rank 0
    full = new.gather(comm, mesh.n_nodes, n_points(problem))
    if comm.rank == 0:
        assert_rows_close(full.restrict(np.arange(mesh.n_nodes), np.arange(n_points(problem))),
                          serial.restrict(np.arange(mesh.n_nodes), np.arange(n_points(problem))))
    else:
        assert full is None
    # given the global state (the same on every rank), it returns the global result on every rank
    glob = step(start, t_new)
    assert len(calls) == 2
    assert_rows_close(glob.restrict(np.arange(mesh.n_nodes), np.arange(729)),
                      serial.restrict(np.arange(mesh.n_nodes), np.arange(729)))


@pytest.mark.mpi
def test_scatter_gives_each_rank_its_rows_and_gather_checks_the_interfaces(comm, cube):
    problem, sim = cube
    state = MechanicalState.from_simulation(sim, step=4)
    step, _ = rank_rows(comm, problem)
    nodes, rows = step.disc.local.point_ids, step.disc.point_rows
    mine = PartitionedState.scatter(state if comm.rank == 0 else None, comm, nodes, rows)
    assert_rows_close(mine, state.restrict(nodes, rows), rtol=0.0)
    back = mine.gather(comm, problem.mesh.n_nodes, n_points(problem))
    if comm.rank == 0:
        np.testing.assert_array_equal(back.displacement, state.displacement)
        np.testing.assert_array_equal(back.internal["evri"], state.internal["evri"])

    # an interface node with two different values, on every rank the same error
    shared = np.intersect1d(*comm.allgather(nodes))
    assert len(shared)
    moved = mine.displacement.copy()
    if comm.rank == 1:
        moved[np.searchsorted(mine.nodes, shared[0])] += 1.0
    wrong = dataclasses.replace(mine, displacement=moved)
    with pytest.raises(InputError, match=rf"displacement: ranks \[0, 1\] hold different values at node {shared[0]}"):
        wrong.gather(comm, problem.mesh.n_nodes, n_points(problem))

    # a rank that lacks some of its cells' rows: every rank refuses, naming that rank
    short = mine if comm.rank == 0 else state.restrict(nodes[1:], rows)
    n_rank1 = comm.bcast(len(nodes), root=1)
    with pytest.raises(InputError, match=rf"from t=13.3+\d* to t=16.6+\d*: rank 1: state lacks 1 of the "
                                         rf"{n_rank1} nodes and 0 of the"):
        step(short, float(sim.times[5]))


def _counting_command(tmp: Path, counter: Path, exit_code: int | None = None) -> list[str]:
    """A command that notes each run in ``counter``, then runs ``python -m rom.hifi.step``
    (or exits with ``exit_code``)."""
    script = tmp / "counting_step.py"
    script.write_text(
        "import sys\n"
        "with open(sys.argv[1], 'a') as f:\n"
        "    f.write(' '.join(sys.argv[2:]) + '\\n')\n"
        + (f"sys.exit('the solver licence expired ({exit_code})' if {exit_code} else {exit_code})\n"
           if exit_code is not None else "")
        + "from rom.hifi.step import main\n"
        "raise SystemExit(main(sys.argv[2:]))\n")
    return [sys.executable, str(script), str(counter), str(CUBE_TOML), "{state}", "{result}", "{t_new}"]


@pytest.fixture(scope="module")
def cube4():
    """The TOML cube (what the external command reads) solved over its first three steps."""
    problem = read_problem(CUBE_TOML)
    short = dataclasses.replace(problem, times=problem.times[:4])
    return problem, solve(short, settings=NewtonSettings())


@pytest.mark.mpi
def test_external_command_runs_once_for_all_ranks(comm, cube4, shared_tmp_path):
    problem, sim = cube4
    mesh = problem.mesh
    start = MechanicalState.from_simulation(sim, step=2)
    t_new = float(sim.times[3])
    step, _ = rank_rows(comm, problem, settings=NewtonSettings())
    counter = shared_tmp_path / "runs.txt"
    external = ExternalCommandStep(_counting_command(shared_tmp_path, counter), mesh, comm=comm,
                                   workdir=shared_tmp_path / "work")
    mine = start.restrict(step.disc.local.point_ids, step.disc.point_rows)
    new = external(mine, t_new)
    comm.Barrier()
    runs = counter.read_text().splitlines()
    assert len(runs) == 1, runs                                   # once, for both ranks
    assert runs[0].endswith(repr(t_new))
    np.testing.assert_array_equal(new.nodes, mine.nodes)         # each rank its rows back
    np.testing.assert_array_equal(new.point_rows, mine.point_rows)
    expected = step(mine, t_new)                                  # the same solver, distributed
    assert_rows_close(new, expected, rtol=1e-7)


@pytest.mark.mpi
def test_a_failing_command_raises_the_same_error_on_every_rank(comm, cube, shared_tmp_path):
    problem, sim = cube
    start = MechanicalState.from_simulation(sim, step=2)
    step, _ = rank_rows(comm, problem)
    mine = start.restrict(step.disc.local.point_ids, step.disc.point_rows)
    counter = shared_tmp_path / "runs.txt"
    failing = ExternalCommandStep(_counting_command(shared_tmp_path, counter, exit_code=1), problem.mesh,
                                  comm=comm, timeout=60.0)
    with pytest.raises(ConvergenceError, match=r"failed \(exit 1\)") as failure:
        failing(mine, float(sim.times[3]))
    messages = comm.allgather(str(failure.value))
    assert messages[0] == messages[1] and "licence expired" in messages[0]
    comm.Barrier()
    assert len(counter.read_text().splitlines()) == 1

    silent = ExternalCommandStep([sys.executable, "-c", "pass"], problem.mesh, comm=comm)
    with pytest.raises(InputError, match="external step command wrote no result at") as failure:
        silent(mine, float(sim.times[3]))
    messages = comm.allgather((type(failure.value), str(failure.value)))
    assert messages[0] == messages[1]


@pytest.mark.mpi
def test_a_users_serial_step_runs_on_rank_zero_only(comm, cube):
    problem, sim = cube
    start = MechanicalState.from_simulation(sim, step=2)
    t_new = float(sim.times[3])
    serial = InHouseStep(problem, settings=TIGHT)
    step, _ = rank_rows(comm, problem)
    mine = start.restrict(step.disc.local.point_ids, step.disc.point_rows)
    calls = []

    def users_step(state, t):
        calls.append(t)
        return serial(state, t)

    wrapped = on_rank_zero(users_step, problem.mesh, comm)
    new = wrapped(mine, t_new)
    assert comm.allgather(len(calls)) == [1, 0]
    assert_rows_close(new, serial(start, t_new).restrict(mine.nodes, mine.point_rows), rtol=0.0)
    glob = wrapped(start, t_new)                       # a global state in: the global result on every rank
    assert comm.allgather(len(calls)) == [2, 0]
    np.testing.assert_array_equal(glob.displacement, serial(start, t_new).displacement)

    def broken(state, t):
        raise ValueError(f"licence server unreachable at t={t}")

    with pytest.raises(ValueError, match="licence server unreachable at t=10.0"):
        on_rank_zero(broken, problem.mesh, comm)(mine, t_new)


@pytest.mark.mpi
def test_a_distributed_step_that_does_not_converge_fails_alike_on_every_rank(comm, cube):
    problem, sim = cube
    start = MechanicalState.from_simulation(sim, step=2)
    step, _ = rank_rows(comm, problem, settings=NewtonSettings(rtol=1e-14, atol=0.0, max_iterations=1, max_cuts=0))
    mine = start.restrict(step.disc.local.point_ids, step.disc.point_rows)
    with pytest.raises(ConvergenceError, match="failed after 0 halvings") as failure:
        step(mine, float(sim.times[3]))
    messages = comm.allgather(str(failure.value))
    assert messages[0] == messages[1] and "another rank" not in messages[0]
