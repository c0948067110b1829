"""Offline and online stages on 2 ranks (``make test-mpi``): same results as 1 rank."""

from __future__ import annotations

import numpy as np
import pytest

from examples.cube.cube import make_cube_problem
from rom.hifi import solve
from rom.model import ReducedOrderModel
from rom.offline import build

pytestmark = pytest.mark.mpi


def test_two_subdomains_match_one_rank(comm, shared_tmp_path):
    problem = make_cube_problem(3, n_cycles=1, steps_per_cycle=6)
    if comm.rank == 0:
        solve(problem, output=shared_tmp_path / "train.h5", linear_solver="scipy")
    comm.Barrier()
    config = {"training": [str(shared_tmp_path / "train.h5")], "problem": problem,
              "pod": {"U": {"tol": 1e-6}, "evrcum": {"tol": 1e-6}}, "ecm": {"tol": 1e-5}}
    parallel = build(config, comm=comm)
    parallel.save(shared_tmp_path / "rom2.h5", comm=comm)
    serial = build(config) if comm.rank == 0 else None
    if comm.rank == 0:
        # the distributed POD equals the serial one (same Gram matrix, one Allreduce)
        n = serial.n_modes
        assert parallel.n_modes == n
        sigma = serial.singular_values
        # round-off of the Gram matrix: absolute on the eigenvalues, so relative to sigma_1
        np.testing.assert_allclose(parallel.singular_values[:n], sigma[:n], rtol=0, atol=1e-10 * sigma[0])
        sub = parallel.subdomains[0]
        rows = (3 * sub.nodes[:, None] + np.arange(3)).ravel()
        for k in np.flatnonzero(sigma[:n] > 1e-3 * sigma[0]):   # well-separated modes: equal up to sign
            a, b = sub.displacement_modes[k], serial.subdomains[0].displacement_modes[k, rows]
            assert min(np.abs(a - b).max(), np.abs(a + b).max()) <= 1e-8 * np.abs(b).max()

    # the same 2-subdomain model, online on 2 ranks and on 1 rank
    model = ReducedOrderModel.load(shared_tmp_path / "rom2.h5", comm=comm)
    assert [s.index for s in model.subdomains] == [comm.rank]
    result = model.solve(problem, comm=comm, output=shared_tmp_path / "online2.h5")   # each rank writes its rows
    gathered = result.to_simulation()                                                     # collective, on rank 0
    q2 = np.array(result.parameters["reduced_coordinates"])                               # the same on every rank
    assert np.array_equal(q2, np.array(comm.bcast(q2, root=0)))
    if comm.rank == 0:
        alone = ReducedOrderModel.load(shared_tmp_path / "rom2.h5")
        assert len(alone.subdomains) == 2
        single = alone.solve(problem)
        q1 = np.array(single.parameters["reduced_coordinates"])
        np.testing.assert_allclose(q2, q1, rtol=0, atol=1e-10 * np.abs(q1).max())
        for name in ("U", "evrcum"):
            np.testing.assert_allclose(gathered.fields[name].values, single.fields[name].values,
                                       atol=1e-12 * np.abs(single.fields[name].values).max())
        # the store written by both ranks holds the same fields
        import io_adapters

        written = io_adapters.read(shared_tmp_path / "online2.h5")
        for name in ("U", "evrcum"):
            np.testing.assert_allclose(written.fields[name].read(), single.fields[name].values,
                                       atol=1e-12 * np.abs(single.fields[name].values).max())
        assert (shared_tmp_path / "online2.xdmf").exists()
        checked = io_adapters.store.verify(shared_tmp_path / "online2.h5")    # checksums written by rank 0
        assert checked["checksums"] and checked["datasets"] >= 3, checked
    else:
        assert gathered is None
    # each rank rebuilds its own rows only
    mine = result.local_fields(["evrcum"])
    assert len(mine["U"][0]) < problem.mesh.n_nodes
    comm.Barrier()


def test_zset_subdomains_give_the_merged_basis(comm, data_dir):
    from io_adapters import zset
    from rom import fem
    from rom.pod import pod

    cut = data_dir / "zset/UtParExample/cube.cut"
    mine = zset.read_subdomains(cut)[comm.rank]
    mass = fem.mass_matrix(mine.mesh, rule="high", n_components=3)
    snapshots = mine.fields["U"].values.reshape(mine.n_times, -1)
    distributed = pod(snapshots, inner_product=mass, n_modes=3, comm=comm)
    merged = zset.read(cut)
    serial = pod(merged.fields["U"].values.reshape(merged.n_times, -1),
                 inner_product=fem.mass_matrix(merged.mesh, rule="high", n_components=3), n_modes=3)
    sigma = serial.singular_values
    np.testing.assert_allclose(distributed.singular_values[:3], sigma[:3], rtol=0, atol=1e-10 * sigma[0])
    position = {int(g): i for i, g in enumerate(merged.mesh.point_ids)}     # Zset ids
    nodes = np.array([position[int(g) + 1] for g in mine.mesh.point_ids])   # subdomain: global 0-based
    rows = (3 * nodes[:, None] + np.arange(3)).ravel()
    for k in np.flatnonzero(sigma[:3] > 1e-3 * sigma[0]):
        a, b = distributed.modes[k], serial.modes[k, rows]
        assert min(np.abs(a - b).max(), np.abs(a + b).max()) <= 1e-8 * np.abs(b).max()


def test_adaptive_online_on_two_ranks_is_as_accurate_as_one_rank(comm, shared_tmp_path):
    from rom.adaptive import Enrichment

    problem = make_cube_problem(3, n_cycles=1, steps_per_cycle=6)
    if comm.rank == 0:
        solve(problem, output=shared_tmp_path / "train.h5", linear_solver="scipy")
    comm.Barrier()
    pod = {name: {"tol": 1e-6} for name in ("U", "evrcum", "evri", "al1", "sig")}
    model = build({"training": [str(shared_tmp_path / "train.h5")], "problem": problem, "pod": pod,
                   "ecm": {"tol": 1e-5}, "indicator": {"field": "evrcum", "tol": 1e-3}}, comm=comm)
    model.save(shared_tmp_path / "rom.h5", comm=comm)
    harder = make_cube_problem(3, n_cycles=1, steps_per_cycle=6, hot=1100.0, pressure=90.0)
    parallel = ReducedOrderModel.load(shared_tmp_path / "rom.h5", comm=comm).solve(
        harder, comm=comm, adaptive=Enrichment(tol=1e-3))
    gathered = parallel.to_simulation()
    if comm.rank == 0:
        single = ReducedOrderModel.load(shared_tmp_path / "rom.h5").solve(harder, adaptive=Enrichment(tol=1e-3))
        # enrichment decisions compare the indicator with a threshold: round-off may add or
        # remove one event, so both runs are held to the accuracy, not to each other's path
        assert len(parallel.parameters["enrichments"]) >= 1 and len(single.parameters["enrichments"]) >= 1
        reference = solve(harder, linear_solver="scipy").fields["U"].values
        for run, sim in ((parallel, gathered), (single, single.to_simulation())):
            u = sim.fields["U"].values
            assert np.linalg.norm(u - reference) <= 1e-3 * np.linalg.norm(reference)
            assert max(run.parameters["indicator"]) <= 1e-3
    comm.Barrier()


def test_imposed_displacements_on_two_ranks_match_one_rank_and_enrich(comm, shared_tmp_path):
    from examples.cube.cube import make_cube_strain_problem
    from rom.adaptive import Enrichment

    training = [make_cube_strain_problem(3, 0.02, 0.0), make_cube_strain_problem(3, 0.0, 0.03)]
    if comm.rank == 0:
        for i, problem in enumerate(training):
            solve(problem, output=shared_tmp_path / f"strain{i}.h5", linear_solver="scipy")
    comm.Barrier()
    pod = {name: {"tol": 1e-6} for name in ("U", "evrcum", "evri", "al1", "sig")}
    config = {"training": [str(shared_tmp_path / f"strain{i}.h5") for i in range(2)], "problem": training[0],
              "pod": pod, "ecm": {"tol": 1e-5}, "indicator": {"field": "evrcum", "tol": 1e-3}}
    build(config, comm=comm).save(shared_tmp_path / "strain_rom.h5", comm=comm)
    model = ReducedOrderModel.load(shared_tmp_path / "strain_rom.h5", comm=comm)
    assert model.subdomains[0].has_lifting                      # each subdomain touches the top or the base
    replay = model.solve(training[1], comm=comm).to_simulation()
    unseen = make_cube_strain_problem(3, 0.015, 0.015)
    adapted = model.solve(unseen, comm=comm, adaptive=Enrichment(tol=0.05, max_enrichments=6))
    adapted_fields = adapted.to_simulation()
    if comm.rank == 0:
        alone = ReducedOrderModel.load(shared_tmp_path / "strain_rom.h5")
        single = alone.solve(training[1])
        q2 = np.array(replay.parameters["reduced_coordinates"])
        q1 = np.array(single.parameters["reduced_coordinates"])
        np.testing.assert_allclose(q2, q1, rtol=0, atol=1e-10 * np.abs(q1).max())
        np.testing.assert_allclose(replay.fields["U"].values, single.fields["U"].values, atol=1e-12)
        reference = solve(unseen, linear_solver="scipy").fields["U"].values
        assert len(adapted.parameters["enrichments"]) >= 1
        assert np.linalg.norm(adapted_fields.fields["U"].values - reference) <= 2e-3 * np.linalg.norm(reference)
    # a pressure given per facet is reduced over both subdomains (each shared node once)
    import dataclasses

    from io_adapters.problem import Pressure
    from rom.reduced import ReducedOperator

    n_facets = sum(len(c) for c in unseen.mesh.face_sets["ymax"].values())
    varying = dataclasses.replace(unseen, pressures=(Pressure("ymax", np.linspace(-5.0, 20.0, n_facets)),))
    vector = ReducedOperator(model, varying, comm).pressure[0][0]
    if comm.rank == 0:
        single = ReducedOperator(ReducedOrderModel.load(shared_tmp_path / "strain_rom.h5"), varying).pressure[0][0]
        np.testing.assert_allclose(vector, single, rtol=1e-12, atol=1e-12 * np.abs(single).max())
        assert np.abs(single).max() > 0
    comm.Barrier()


def test_each_enrichment_takes_exactly_one_distributed_hf_step(comm, shared_tmp_path, monkeypatch):
    """On 2 ranks an enrichment makes ONE high-fidelity step: one Newton solve per rank, each on its own cells."""
    import rom.hifi.step
    from rom.adaptive import Enrichment

    problem = make_cube_problem(3, n_cycles=1, steps_per_cycle=6)
    if comm.rank == 0:
        solve(problem, output=shared_tmp_path / "train.h5", linear_solver="scipy")
    comm.Barrier()
    pod = {name: {"tol": 1e-6} for name in ("U", "evrcum", "evri", "al1", "sig")}
    build({"training": [str(shared_tmp_path / "train.h5")], "problem": problem, "pod": pod, "ecm": {"tol": 1e-5},
           "indicator": {"field": "evrcum", "tol": 1e-3}}, comm=comm).save(shared_tmp_path / "rom.h5", comm=comm)
    calls = []
    original = rom.hifi.step.advance

    def counting(disc, system, state, t_new, settings, comm_=None, *args, **kwargs):
        calls.append(len(disc.cells))
        return original(disc, system, state, t_new, settings, comm_, *args, **kwargs)

    monkeypatch.setattr(rom.hifi.step, "advance", counting)
    harder = make_cube_problem(3, n_cycles=1, steps_per_cycle=6, hot=1100.0, pressure=90.0)
    result = ReducedOrderModel.load(shared_tmp_path / "rom.h5", comm=comm).solve(
        harder, comm=comm, adaptive=Enrichment(tol=1e-3))
    n_enrichments = len(result.enrichments)
    assert n_enrichments >= 1
    assert len(calls) == n_enrichments                          # one HF solve per enrichment on this rank …
    counts = comm.allgather(calls[0])
    assert sum(counts) == problem.mesh.n_cells and min(counts) > 0   # … on this rank's cells only
    assert comm.allgather(n_enrichments) == [n_enrichments] * comm.size
    comm.Barrier()
