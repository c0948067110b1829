"""Imposed displacements in the reduced model (rom.lifting): offline, online, enrichment.

The reference is nirom's high-fidelity solver on the strain-controlled cube
(``examples.cube.make_cube_strain_problem``: base clamped, top face moved in
tension and shear through a reversed cycle, gen_evp law), and on the Zset deck
``tests/data/problems/cube.inp`` (imposed displacement, per-facet pressure…) taken
through the whole chain.
"""

from __future__ import annotations

import numpy as np
import pytest

import io_adapters
from examples.cube.cube import make_cube_strain_problem
from io_adapters import InputError
from io_adapters.problem import Dirichlet
from rom.adaptive import Enrichment
from rom.hifi import solve
from rom.model import ReducedOrderModel
from rom.offline import build

POD = {"U": {"tol": 1e-6}, "evrcum": {"tol": 1e-6}, "evri": {"tol": 1e-6}, "al1": {"tol": 1e-6},
       "sig": {"tol": 1e-6}}
#: (tension, shear) peaks (mm): two training loadings, then two unseen combinations
TRAINING = [(0.02, 0.0), (0.0, 0.03)]
UNSEEN = [(0.015, 0.015), (0.025, 0.01)]


def relative(a, b) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("imposed")
    paths = {}
    for case in TRAINING + UNSEEN:
        paths[case] = folder / f"hf_{case[0]}_{case[1]}.h5"
        solve(make_cube_strain_problem(3, *case), output=paths[case], linear_solver="scipy")
    return folder, paths


@pytest.fixture(scope="module")
def model(runs):
    folder, paths = runs
    config = {"training": [str(paths[c]) for c in TRAINING], "problem": make_cube_strain_problem(3, *TRAINING[0]),
              "pod": POD, "ecm": {"tol": 1e-5}, "indicator": {"field": "evrcum", "tol": 1e-3}}
    build(config).save(folder / "rom.h5")
    return ReducedOrderModel.load(folder / "rom.h5")


def test_the_modes_vanish_where_displacements_are_imposed(model):
    sub = model.subdomains[0]
    mesh = model.mesh
    assert model.constrained == {"zmax": [0, 2], "zmin": [0, 1, 2]}
    psi = sub.displacement_modes.reshape(model.n_modes, -1, 3)
    assert np.abs(psi[:, mesh.node_sets["zmin"]]).max() == 0.0
    assert np.abs(psi[:, mesh.node_sets["zmax"]][:, :, [0, 2]]).max() == 0.0
    assert np.abs(psi[:, mesh.node_sets["zmax"], 1]).max() > 0.0         # uy on top stays free
    # the lifting: constrained dofs next to reduced points, with their strains
    assert sub.has_lifting and sub.lifting_strain.shape == (6 * sub.n_reduced_points, len(sub.lifting_dofs))
    assert np.diff(sub.lifting_strain.indptr).max() <= 3 * 20     # at most one hex20's dofs per strain row
    nodes, components = np.divmod(sub.lifting_dofs, 3)
    top = np.isin(nodes, mesh.node_sets["zmax"]) & np.isin(components, [0, 2])
    bottom = np.isin(nodes, mesh.node_sets["zmin"])
    assert np.all(top | bottom) and top.any()
    assert f"zmin: [0, 1, 2], zmax: [0, 2]; {len(sub.lifting_dofs)} of their dofs strain" in model.summary()


@pytest.mark.parametrize("case", TRAINING)
def test_reproduction_of_strain_controlled_training_runs(model, runs, case):
    _, paths = runs
    problem = make_cube_strain_problem(3, *case)
    reference = io_adapters.read(paths[case])
    result = model.solve(problem)
    U, U_hf = result.fields["U"].values, reference.fields["U"].values
    assert relative(U, U_hf) <= 1e-4
    assert relative(result.fields["evrcum"].values, reference.fields["evrcum"].values) <= 1e-3
    assert reference.fields["evrcum"].values.max() > 1e-4            # the run is plastic
    # no alarm on a replay, also at the onset of plastic flow (evrcum ~1e-21 there: the floor)
    assert max(result.parameters["indicator"]) < 2e-2
    # the imposed values hold exactly at every step; the initial state is at rest
    top = problem.mesh.node_sets["zmax"]
    for k, t in enumerate(result.times[1:], start=1):
        factor = problem.factor("cycle", t)
        np.testing.assert_allclose(U[k, top, 2], case[0] * factor, rtol=0, atol=1e-15)
        np.testing.assert_allclose(U[k, top, 0], case[1] * factor, rtol=0, atol=1e-15)
    assert np.abs(U[0]).max() == 0.0


def test_unseen_combinations_are_flagged_and_repaired_by_enrichment(model, runs):
    _, paths = runs
    for case in UNSEEN:
        problem = make_cube_strain_problem(3, *case)
        reference = io_adapters.read(paths[case])
        plain = model.solve(problem)
        error = relative(plain.fields["U"].values, reference.fields["U"].values)
        assert error > 5e-3                                   # outside what two pure loadings span
        assert max(plain.parameters["indicator"]) > 0.05      # and the indicator says so
        enrichment = Enrichment(tol=0.05, max_enrichments=6)
        adapted = model.solve(problem, adaptive=enrichment)
        repaired = relative(adapted.fields["U"].values, reference.fields["U"].values)
        assert 1 <= len(adapted.parameters["enrichments"]) <= 6
        assert repaired < 0.2 * error and repaired < 2e-3
        assert relative(adapted.fields["evrcum"].values, reference.fields["evrcum"].values) < 0.05
        assert adapted.model.subdomains[0].has_lifting          # rebuilt at the new reduced points


def test_other_amplitudes_and_tables_of_the_same_conditions(model, runs):
    """The lifting takes any values and tables on the trained sets: half the tension, ramped only."""
    from io_adapters.problem import TimeTable

    base = make_cube_strain_problem(3, 0.01, 0.0)
    ramp = TimeTable(times=[0.0, 20.0], values=[0.0, 1.0])
    dirichlet = tuple(Dirichlet(bc.node_set, bc.component, bc.value, "ramp" if bc.table else None)
                      for bc in base.dirichlet)
    problem = type(base)(mesh=base.mesh, materials=base.materials, dirichlet=dirichlet,
                         tables={"ramp": ramp}, times=np.linspace(0.0, 20.0, 5), source="ramp")
    reference = solve(problem, linear_solver="scipy")
    result = model.solve(problem)
    assert relative(result.fields["U"].values, reference.fields["U"].values) <= 1e-4


def test_a_problem_that_frees_or_adds_imposed_dofs_is_refused(model):
    problem = make_cube_strain_problem(3, 0.02, 0.0)
    kept = tuple(bc for bc in problem.dirichlet if not (bc.node_set == "zmax" and bc.component == 0))
    freed = type(problem)(mesh=problem.mesh, materials=problem.materials, dirichlet=kept, tables=problem.tables,
                          times=problem.times, source="freed")
    with pytest.raises(InputError, match=r"freed: .*node set 'zmax' component 0 imposed, the problem leaves it free"):
        model.solve(freed)
    added = type(problem)(mesh=problem.mesh, materials=problem.materials,
                          dirichlet=problem.dirichlet + (Dirichlet("zmax", 1, 0.0),), tables=problem.tables,
                          times=problem.times, source="added")
    with pytest.raises(InputError, match=r"added: imposed displacement on node set 'zmax' component 1 was not in "
                                         r"the training problem"):
        model.solve(added)


def test_a_zset_deck_runs_through_the_whole_chain(tmp_path):
    """tests/data/problems/cube.inp (c3d20, four materials, an imposed displacement on a ramp,
    a per-facet pressure from a file, centrifugal load, temperatures from node files) read
    by read_problem, solved by the HF solver, reduced offline and replayed online."""
    from pathlib import Path

    from rom import fem
    from rom.reduced import ReducedOperator

    problem = io_adapters.read_problem(Path(__file__).parent / "data" / "problems" / "cube.inp")
    assert any(bc.value != 0.0 for bc in problem.dirichlet)
    assert any(np.ndim(p.values) == 1 and np.ptp(p.values) > 0 for p in problem.pressures)
    reference = solve(problem, output=tmp_path / "deck.h5", linear_solver="scipy")
    pod = {name: {"tol": 1e-6} for name in ("U", "evrcum", "sig", "evri", "al1", "epcum", "epi")}
    model = build({"training": [str(tmp_path / "deck.h5")], "problem": problem, "pod": pod, "ecm": {"tol": 1e-5},
                   "indicator": {"field": "evrcum", "tol": 1e-3}})
    # a pressure given per facet is reduced when the operator is built: Φᵀ f of that distribution
    operator = ReducedOperator(model, problem)
    per_facet = next(i for i, p in enumerate(problem.pressures) if np.ndim(p.values) == 1)
    pressure = problem.pressures[per_facet]
    modes = model.subdomains[0].displacement_modes
    np.testing.assert_allclose(operator.pressure[per_facet][0],
                               modes @ fem.pressure_load(problem.mesh, pressure.face_set, pressure.values),
                               rtol=1e-12, atol=1e-12 * np.abs(operator.pressure[per_facet][0]).max())
    result = model.solve(problem)
    assert relative(result.fields["U"].values, reference.fields["U"].values) <= 1e-4
    assert relative(result.fields["evrcum"].values, reference.fields["evrcum"].values) <= 1e-3
    # an enrichment of a model of several laws (gen_evp and J2: evrcum/evri/al1 and epcum/epi)
    enriched = model.solve(problem, adaptive=Enrichment(tol=0.0, max_enrichments=1))
    assert [e["step"] for e in enriched.parameters["enrichments"]] == [1]
    assert relative(enriched.fields["U"].values, reference.fields["U"].values) <= 1e-4
