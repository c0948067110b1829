"""rom.pod under MPI (``make test-mpi``: 2 ranks): a mesh split in subdomains equals one rank.

Each rank takes its cells of a box mesh (``Mesh.submesh``), assembles the mass matrix
on them only, and holds the rows of the global snapshots at its nodes (interface
nodes on both ranks). The distributed POD must give the serial POD's singular values
and, on each rank's rows, its modes.
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from io_adapters.errors import InputError
from rom import fem
from rom.pod import GramAccumulator, pod, pod_streaming, update

pytestmark = pytest.mark.mpi

N_SNAPSHOTS = 12


@pytest.fixture(scope="module")
def split():
    """The global problem and this rank's part of it (every rank builds both)."""
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    mesh = fem.box_mesh("hexahedron20", (6, 2, 2), size=(3.0, 1.0, 1.0))
    parts = np.array_split(np.arange(mesh.n_cells), comm.size)
    nodes_of = [mesh.submesh(cells)[1] for cells in parts]
    local, nodes = mesh.submesh(parts[comm.rank])
    dofs = (3 * nodes[:, None] + np.arange(3)).ravel()
    multiplicity = np.zeros(mesh.n_nodes)
    owner = np.full(mesh.n_nodes, -1)
    for rank, rank_nodes in enumerate(nodes_of):
        multiplicity[rank_nodes] += 1
        owner[rank_nodes[owner[rank_nodes] < 0]] = rank
    assert multiplicity.max() >= 2                                  # there is an interface
    # smooth snapshots with a moderate spectrum (σ_12 / σ_1 ≈ 0.05): u_k = Σ_m c_km f_m(x)
    x = mesh.points
    rng = np.random.default_rng(0)
    fields = []
    for m in range(N_SNAPSHOTS):
        a, phase = rng.uniform(0.5, 2.0, 3), rng.uniform(0, np.pi, 3)
        fields.append(np.stack([np.sin(a[c] * (m + 1) * x[:, 0] / 3 + x[:, c] + phase[c]) for c in range(3)], axis=1))
    F = np.array(fields).reshape(N_SNAPSHOTS, -1)
    C = np.linalg.qr(rng.standard_normal((N_SNAPSHOTS, N_SNAPSHOTS)))[0] * np.logspace(0, -1.3, N_SNAPSHOTS)
    S = C @ F
    return {
        "mesh": mesh, "S": S, "M": fem.mass_matrix(mesh, rule="high", n_components=3),
        "rows": S[:, dofs], "dofs": dofs, "M_local": fem.mass_matrix(local, rule="high", n_components=3),
        "ownership": np.repeat((owner[nodes] == comm.rank).astype(float), 3),
        "one_over_multiplicity": np.repeat(1.0 / multiplicity[nodes], 3),
    }


def assert_same_modes(local, serial, dofs, rtol=1e-10):
    """Local modes equal the serial modes' rows, up to sign."""
    reference = serial[:, dofs]
    signs = np.sign(np.sum(local * reference, axis=1))
    assert np.all(signs != 0)
    assert np.abs(local - signs[:, None] * reference).max() <= rtol * np.abs(serial).max()


def test_mass_inner_product_on_subdomains_equals_one_rank(comm, split):
    for criterion in ({"tol": 1e-2}, {"n_modes": N_SNAPSHOTS}):
        serial = pod(split["S"], inner_product=split["M"], **criterion)
        parallel = pod(split["rows"], inner_product=split["M_local"], comm=comm, **criterion)
        assert parallel.n_modes == serial.n_modes and parallel.inner_product == "mass"
        np.testing.assert_allclose(parallel.singular_values, serial.singular_values, rtol=1e-12)
        assert_same_modes(parallel.modes, serial.modes, split["dofs"])
        # orthonormal over the ranks
        local_gram = parallel.modes @ split["M_local"] @ parallel.modes.T
        gram = comm.allreduce(local_gram)
        assert np.abs(gram - np.eye(parallel.n_modes)).max() <= 1e-12


@pytest.mark.parametrize("weights", ["ownership", "one_over_multiplicity"])
def test_identity_with_ownership_weights_equals_one_rank(comm, split, weights):
    serial = pod(split["S"], tol=1e-2)
    parallel = pod(split["rows"], inner_product=split[weights], tol=1e-2, comm=comm)
    assert parallel.n_modes == serial.n_modes and parallel.inner_product == "weighted"
    np.testing.assert_allclose(parallel.singular_values, serial.singular_values, rtol=1e-12)
    assert_same_modes(parallel.modes, serial.modes, split["dofs"])


def test_project_reconstruct_and_error_match_one_rank(comm, split):
    serial = pod(split["S"], inner_product=split["M"], tol=1e-2)
    parallel = pod(split["rows"], inner_product=split["M_local"], tol=1e-2, comm=comm)
    signs = np.sign(np.sum(parallel.modes * serial.modes[:, split["dofs"]], axis=1))
    probe = split["S"][:3] + 0.1
    a = parallel.project(probe[:, split["dofs"]])
    np.testing.assert_allclose(a, serial.project(probe) * signs, atol=1e-12 * np.abs(a).max())
    np.testing.assert_allclose(parallel.reconstruct(a), serial.reconstruct(serial.project(probe))[:, split["dofs"]],
                               atol=1e-12 * np.abs(probe).max())
    assert parallel.projection_error(probe[:, split["dofs"]]) == pytest.approx(serial.projection_error(probe),
                                                                              rel=1e-10)
    per = parallel.projection_error(split["rows"], per_snapshot=True)
    np.testing.assert_allclose(per, serial.projection_error(split["S"], per_snapshot=True), rtol=1e-8, atol=1e-14)


def test_streaming_with_a_checkpoint_equals_one_rank(comm, split, shared_tmp_path):
    rows, sizes = split["rows"], (5, 4, 3)
    edges = np.cumsum((0,) + sizes)
    read = [rows[a:b] for a, b in zip(edges[:-1], edges[1:])].__getitem__
    accumulator = GramAccumulator(inner_product=split["M_local"], comm=comm)
    for b in range(2):
        accumulator.add_block(read(b), read)
    path = shared_tmp_path / "gram.h5"
    if comm.rank == 0:                                   # the state is global: one writer
        with h5py.File(path, "w") as f:
            for name, array in accumulator.state().items():
                f[name] = array
    comm.Barrier()
    with h5py.File(path, "r") as f:
        resumed = GramAccumulator.from_state(f, inner_product=split["M_local"], comm=comm)
    basis = pod_streaming(read, 3, inner_product=split["M_local"], tol=1e-2, comm=comm, accumulator=resumed)
    serial = pod(split["S"], inner_product=split["M"], tol=1e-2)
    np.testing.assert_allclose(basis.singular_values, serial.singular_values, rtol=1e-12)
    assert_same_modes(basis.modes, serial.modes, split["dofs"])


def test_update_on_subdomains_equals_one_rank(comm, split):
    rows, S = split["rows"], split["S"]
    parallel = update(pod(rows[:7], inner_product=split["M_local"], n_modes=7, comm=comm), rows[7:], n_modes=12)
    serial = pod(S, inner_product=split["M"], n_modes=12)
    np.testing.assert_allclose(parallel.singular_values, serial.singular_values, rtol=1e-12)
    assert_same_modes(parallel.modes, serial.modes, split["dofs"])
    truncated = update(pod(rows[:7], inner_product=split["M_local"], tol=1e-2, comm=comm), rows[7:])
    assert truncated.projection_error(rows) <= 1e-2


def test_randomized_on_subdomains_equals_one_rank(comm, split):
    serial = pod(split["S"], inner_product=split["M"], n_modes=4, method="randomized", seed=5)
    parallel = pod(split["rows"], inner_product=split["M_local"], n_modes=4, method="randomized", seed=5, comm=comm)
    np.testing.assert_allclose(parallel.singular_values, serial.singular_values, rtol=1e-12)
    assert_same_modes(parallel.modes, serial.modes, split["dofs"])


def test_bad_input_on_one_rank_raises_on_every_rank(comm, split):
    rows = split["rows"].copy()
    if comm.rank == 1:
        rows[2, 0] = np.nan
    with pytest.raises(InputError, match="pod: snapshot 2 holds NaN or infinite values"):
        pod(rows, inner_product=split["M_local"], tol=1e-2, comm=comm)
    M = split["M_local"] if comm.rank != 1 else split["M_local"][:-3, :-3]
    with pytest.raises(InputError, match=r"(\[rank 1\] )?pod: inner_product has shape"):
        pod(split["rows"], inner_product=M, tol=1e-2, comm=comm)
    fewer = split["rows"] if comm.rank != 1 else split["rows"][:-1]
    with pytest.raises(InputError, match="the ranks hold different numbers of snapshots: rank 0: 12, rank 1: 11"):
        pod(fewer, tol=1e-2, comm=comm)
    comm.Barrier()
