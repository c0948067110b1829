"""clustering under MPI (``make test-mpi``: 2 ranks): a mesh split in subdomains equals one rank.

Each rank takes its cells of a box mesh, assembles the mass matrix on them only and
holds the rows of every snapshot at its nodes (interface nodes on both ranks). The
dissimilarity matrices must equal the serial ones (≤ 1e-12), the labels too, and
every rank must hold the same results.
"""

from __future__ import annotations

import numpy as np
import pytest

from clustering.dissimilarity import (SUBSPACE_METRICS, cross_snapshot_dissimilarity, simulation_bases,
                                      snapshot_dissimilarity, subspace_dissimilarity)
from clustering.local_bases import LocalBases
from io_adapters.errors import InputError, MeshMismatchError
from rom import fem

pytestmark = pytest.mark.mpi

N_SNAPSHOTS = 6


@pytest.fixture(scope="module")
def split():
    """The global problem and this rank's part of it (every rank builds both)."""
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    mesh = fem.box_mesh("hexahedron", (6, 2, 2), size=(3.0, 1.0, 1.0))
    parts = np.array_split(np.arange(mesh.n_cells), comm.size)
    local, nodes = mesh.submesh(parts[comm.rank])
    dofs = (3 * nodes[:, None] + np.arange(3)).ravel()
    multiplicity = np.zeros(mesh.n_nodes)
    for cells in parts:
        multiplicity[mesh.submesh(cells)[1]] += 1
    assert multiplicity.max() >= 2                                    # there is an interface
    x = mesh.points
    rng = np.random.default_rng(0)

    def field(a, phase):
        return np.stack([np.sin(a[c] * x[:, 0] + x[:, (c + 1) % 3] + phase[c]) for c in range(3)], axis=1).ravel()

    planes = [np.stack([field(rng.uniform(0.5, 3.0, 3), rng.uniform(0, np.pi, 3)) for _ in range(2)])
              for _ in range(2)]                                       # two families, 2 fields each
    sims, families = [], []
    for s in range(10):
        family = s % 2
        tilt = 0.05 * np.stack([field(rng.uniform(0.5, 3.0, 3), rng.uniform(0, np.pi, 3)) for _ in range(2)])
        plane = planes[family] + tilt                                  # each simulation slightly off its family
        phi = rng.uniform(0.0, 0.6, N_SNAPSHOTS)
        amplitude = (1.0 if s % 4 < 2 else 50.0) * np.linspace(0.5, 1.0, N_SNAPSHOTS)
        sims.append((amplitude * np.cos(phi))[:, None] * plane[0] + (amplitude * np.sin(phi))[:, None] * plane[1])
        families.append(family)
    return {
        "comm": comm, "sims": sims, "rows": [S[:, dofs] for S in sims], "families": np.array(families),
        "M": fem.mass_matrix(mesh, rule="high", n_components=3),
        "M_local": fem.mass_matrix(local, rule="high", n_components=3),
        "weights": np.repeat(1.0 / multiplicity[nodes], 3),
    }


def same_on_every_rank(comm, array):
    gathered = comm.allgather(np.asarray(array))
    assert all(np.array_equal(gathered[0], other) for other in gathered[1:])


@pytest.mark.parametrize("metric", ["angle", "euclidean"])
def test_snapshot_dissimilarity_equals_one_rank(comm, split, metric):
    X, rows = np.concatenate(split["sims"]), np.concatenate(split["rows"])
    serial = snapshot_dissimilarity(X, metric=metric, inner_product=split["M"])
    D = snapshot_dissimilarity(rows, metric=metric, inner_product=split["M_local"], comm=comm)
    assert np.abs(D - serial).max() <= 1e-12 * max(1.0, np.abs(serial).max())
    same_on_every_rank(comm, D)
    weighted = snapshot_dissimilarity(rows, metric=metric, inner_product=split["weights"], comm=comm)
    identity = snapshot_dissimilarity(X, metric=metric)
    assert np.abs(weighted - identity).max() <= 1e-12 * max(1.0, np.abs(identity).max())
    cross = cross_snapshot_dissimilarity(rows[:5], rows[5:], metric=metric, inner_product=split["M_local"], comm=comm)
    assert np.abs(cross - serial[:5, 5:]).max() <= 1e-12 * max(1.0, np.abs(serial).max())


@pytest.mark.parametrize("metric", SUBSPACE_METRICS)
def test_subspace_dissimilarity_equals_one_rank(comm, split, metric):
    serial = subspace_dissimilarity(simulation_bases(split["sims"], rank=2, inner_product=split["M"]), metric=metric)
    bases = simulation_bases(split["rows"], rank=2, inner_product=split["M_local"], comm=comm)
    D = subspace_dissimilarity(bases, metric=metric, comm=comm)      # the bases carry the inner product
    assert np.abs(D - serial).max() <= 1e-12
    same_on_every_rank(comm, D)


@pytest.mark.parametrize("metric", ["grassmann", "angle", "euclidean"])
def test_local_bases_equal_one_rank(comm, split, metric):
    options = dict(dissimilarity=metric, rank=2, n_modes=2, overlap=0.1)
    serial = LocalBases(2, inner_product=split["M"], **options).fit(split["sims"])
    model = LocalBases(2, inner_product=split["M_local"], comm=comm, **options).fit(split["rows"])
    assert np.abs(model.dissimilarity_matrix_ - serial.dissimilarity_matrix_).max() <= (
        1e-12 * max(1.0, np.abs(serial.dissimilarity_matrix_).max()))
    assert np.array_equal(model.labels_, serial.labels_)
    assert np.array_equal(model.medoid_indices_, serial.medoid_indices_)
    assert all(np.array_equal(a, b) for a, b in zip(model.cluster_items_, serial.cluster_items_))
    assert np.allclose(model.n_widths_, serial.n_widths_, rtol=1e-8, atol=1e-12)
    assert model.silhouette_ == pytest.approx(serial.silhouette_, rel=1e-10)
    for name in ("dissimilarity_matrix_", "labels_", "medoid_indices_", "n_widths_"):
        same_on_every_rank(comm, getattr(model, name))
    if metric != "euclidean":
        per_item = np.repeat(split["families"], N_SNAPSHOTS) if metric == "angle" else split["families"]
        assert len({tuple(per_item[model.labels_ == k]) for k in range(2)}) == 2
        assert all(len(set(per_item[model.labels_ == k])) == 1 for k in range(2))   # the families
    new = split["sims"][3] * 2.0
    new_rows = split["rows"][3] * 2.0
    assert np.array_equal(model.predict([new_rows]), serial.predict([new]))
    for cluster in (None, 0, 1):
        assert model.projection_error(new_rows, cluster=cluster) == pytest.approx(
            serial.projection_error(new, cluster=cluster), rel=1e-8, abs=1e-13)
    same_on_every_rank(comm, model.projection_error(new_rows))


def test_bad_input_on_one_rank_raises_on_every_rank(comm, split):
    rows = [r.copy() for r in split["rows"]]
    if comm.rank == 1:
        rows[1][2, 0] = np.nan
    with pytest.raises(InputError, match="snapshot 8 holds NaN or infinite values"):
        snapshot_dissimilarity(np.concatenate(rows), inner_product=split["M_local"], comm=comm)
    with pytest.raises(InputError, match="simulation 1: pod: snapshot 2 holds NaN"):
        simulation_bases(rows, rank=2, inner_product=split["M_local"], comm=comm)
    shorter = [r[:, :-3] if comm.rank == 1 and i == 4 else r for i, r in enumerate(split["rows"])]
    with pytest.raises(MeshMismatchError, match="simulation 4 has .* local dofs per snapshot but simulation 0 has"):
        LocalBases(2, rank=2, n_modes=2, comm=comm).fit(shorter)
    M = split["M_local"] if comm.rank == 0 else split["M_local"][:-3, :-3]
    with pytest.raises(InputError, match=r"inner_product has shape"):
        LocalBases(2, dissimilarity="angle", n_modes=2, inner_product=M, comm=comm).fit(split["rows"])
    fewer = [r[:-1] if comm.rank == 1 and i == 0 else r for i, r in enumerate(split["rows"])]
    with pytest.raises(InputError, match="the ranks hold different numbers of snapshots per simulation"):
        LocalBases(2, rank=2, n_modes=2, comm=comm).fit(fewer)
    comm.Barrier()
