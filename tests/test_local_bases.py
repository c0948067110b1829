"""clustering.local_bases.LocalBases: clusters of simulations / snapshots and their local bases.

The training set: two families of displacement fields on a small hexahedral box,
each family in its own 2D subspace (M-orthogonal to the other's), at amplitudes 1 or
100. Angle and subspace dissimilarities must find the families; Euclidean k-means
finds the amplitudes instead.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

import io_adapters
from clustering.dissimilarity import SUBSPACE_METRICS
from clustering.local_bases import LocalBases, simulation_rows
from io_adapters import Field, Simulation
from io_adapters.errors import ConfigError, InputError, MeshMismatchError
from rom import fem

N_SNAPSHOTS = 8


@pytest.fixture(scope="module")
def case():
    mesh = fem.box_mesh("hexahedron", (3, 2, 2))
    M = fem.mass_matrix(mesh, rule="high", n_components=3)
    n = M.shape[0]
    rng = np.random.default_rng(0)
    L = np.linalg.cholesky(M.toarray())
    Q = np.linalg.qr(rng.normal(size=(n, 4)))[0]
    modes = np.linalg.solve(L.T, Q).T                        # 4 M-orthonormal fields: 2 per family

    def simulation(family: int, amplitude: float, seed: int) -> np.ndarray:
        r = np.random.default_rng(seed)
        phi = r.uniform(0.0, 0.5, N_SNAPSHOTS)               # directions within a cone of the family's plane
        growth = np.linspace(0.5, 1.0, N_SNAPSHOTS) * amplitude * r.uniform(0.8, 1.2)
        plane = modes[2 * family:2 * family + 2]
        return (growth * np.cos(phi))[:, None] * plane[0] + (growth * np.sin(phi))[:, None] * plane[1]

    families = np.array([0, 1] * 6)
    amplitudes = np.array([1.0, 1.0, 100.0, 100.0] * 3)
    sims = [simulation(f, a, s) for s, (f, a) in enumerate(zip(families, amplitudes))]
    new = [simulation(f, a, 100 + s) for s, (f, a) in enumerate([(0, 5.0), (1, 50.0), (1, 0.5)])]
    return {"mesh": mesh, "M": M, "sims": sims, "families": families, "amplitudes": amplitudes, "new": new,
            "new_families": np.array([0, 1, 1]), "modes": modes}


def as_simulation(mesh, rows: np.ndarray) -> Simulation:
    values = rows.reshape(rows.shape[0], mesh.n_nodes, 3)
    return Simulation(mesh, np.arange(1.0, rows.shape[0] + 1), {"U": Field("node", ("U1", "U2", "U3"), values)})


@pytest.mark.parametrize("metric", SUBSPACE_METRICS)
def test_subspace_dissimilarities_recover_the_families(case, metric):
    model = LocalBases(2, dissimilarity=metric, rank=2, n_modes=2, inner_product=case["M"]).fit(case["sims"])
    assert adjusted_rand_score(case["families"], model.labels_) == 1.0
    assert model.labels_.shape == (12,) and model.dissimilarity_matrix_.shape == (12, 12)
    assert sorted(case["families"][model.medoid_indices_]) == [0, 1]
    assert np.array_equal(model.labels_[model.medoid_indices_], [0, 1])
    assert np.array_equal(model.item_simulation_, np.arange(12))
    M = case["M"]
    for basis in model.bases_:
        assert basis.n_modes == 2 and basis.inner_product == "mass"
        assert np.allclose(basis.modes @ (M @ basis.modes.T), np.eye(2), atol=1e-12)
    assert np.all(model.n_widths_ <= 1e-6)                  # each family is exactly 2-dimensional
    assert model.silhouette_ > 0.99
    assert np.allclose(model.dissimilarity_matrix_, model.dissimilarity_matrix_.T)


def test_angle_recovers_the_families_where_euclidean_kmeans_fails(case):
    per_snapshot = np.repeat(case["families"], N_SNAPSHOTS)
    angle = LocalBases(2, dissimilarity="angle", n_modes=2, inner_product=case["M"]).fit(case["sims"])
    assert angle.labels_.shape == (12 * N_SNAPSHOTS,)
    assert adjusted_rand_score(per_snapshot, angle.labels_) == 1.0
    assert np.array_equal(angle.item_simulation_, np.repeat(np.arange(12), N_SNAPSHOTS))
    assert np.all(angle.dissimilarity_matrix_ <= 1.0)
    euclid = LocalBases(2, dissimilarity="euclidean", n_modes=2, inner_product=case["M"]).fit(case["sims"])
    assert adjusted_rand_score(per_snapshot, euclid.labels_) < 0.5      # amplitudes decide, not shapes
    assert np.max(euclid.n_widths_) > 1e-3                  # a cluster mixes both planes: 2 modes are not enough
    assert np.all(angle.n_widths_ <= 1e-6)


@pytest.mark.parametrize("metric", ["grassmann", "angle", "euclidean"])
def test_predict_and_projection_error(case, metric):
    model = LocalBases(2, dissimilarity=metric, rank=2, n_modes=2, inner_product=case["M"]).fit(case["sims"])
    family_cluster = {f: model.labels_[model.item_simulation_ == s][0] for s, f in enumerate(case["families"][:2])}
    predicted = model.predict(case["new"])
    expected = np.array([family_cluster[f] for f in case["new_families"]])
    if metric == "grassmann":
        assert np.array_equal(predicted, expected)
    elif metric == "angle":
        assert np.array_equal(predicted, np.repeat(expected, N_SNAPSHOTS))
    new = case["new"][0]
    own, other = family_cluster[0], family_cluster[1]
    if metric != "euclidean":
        assert model.projection_error(new) <= 1e-6
        assert model.projection_error(new, cluster=own) <= 1e-6
        assert model.projection_error(new, cluster=other) == pytest.approx(1.0, abs=1e-6)   # M-orthogonal planes
    else:   # a small snapshot of family 1 goes to the cluster of the small ones, whose basis the large family 0 made
        assert model.projection_error(case["new"][2]) > 0.5


def test_overlap_adds_the_nearest_outside_items(case):
    plain = LocalBases(2, dissimilarity="angle", n_modes=2, inner_product=case["M"]).fit(case["sims"])
    model = LocalBases(2, dissimilarity="angle", n_modes=3, overlap=0.1, inner_product=case["M"]).fit(case["sims"])
    assert np.array_equal(model.labels_, plain.labels_) and np.array_equal(model.medoid_indices_,
                                                                            plain.medoid_indices_)
    D = model.dissimilarity_matrix_
    for k, items in enumerate(model.cluster_items_):
        members = np.flatnonzero(model.labels_ == k)
        extra = np.setdiff1d(items, members)
        assert extra.size == math.ceil(0.1 * members.size)
        outside = np.setdiff1d(np.arange(D.shape[0]), members)
        nearest = np.sort(D[model.medoid_indices_[k], outside])[:extra.size]
        assert np.allclose(np.sort(D[model.medoid_indices_[k], extra]), nearest)
        assert model.bases_[k].n_snapshots == items.size
    assert all(np.array_equal(items, np.flatnonzero(plain.labels_ == k)) for k, items in
               enumerate(plain.cluster_items_))


def test_simulations_and_store_paths_give_the_same_clusters(case, tmp_path):
    mesh = case["mesh"]
    arrays = LocalBases(2, rank=2, n_modes=2, inner_product=case["M"]).fit(case["sims"])
    sims = [as_simulation(mesh, rows) for rows in case["sims"]]
    paths = [io_adapters.save(s, tmp_path / f"run{i}.h5") for i, s in enumerate(sims[:6])]
    mixed = sims[6:] + paths
    model = LocalBases(2, rank=2, n_modes=2, inner_product=case["M"]).fit(mixed)
    order = list(range(6, 12)) + list(range(6))
    # (equal subspaces are at ~1e-8, not 0: the Gram-based sine resolves sqrt(eps))
    assert np.allclose(model.dissimilarity_matrix_, arrays.dissimilarity_matrix_[np.ix_(order, order)], atol=1e-7)
    assert adjusted_rand_score(arrays.labels_[order], model.labels_) == 1.0
    (by_model,), (by_arrays,) = model.predict([as_simulation(mesh, case["new"][1])]), arrays.predict([case["new"][1]])
    assert case["families"][order][model.labels_ == by_model][0] == case["new_families"][1]
    assert case["families"][arrays.labels_ == by_arrays][0] == case["new_families"][1]
    rows, found_mesh = simulation_rows(paths[:1])
    assert np.allclose(rows[0], case["sims"][0], atol=1e-12) and found_mesh.n_nodes == mesh.n_nodes


def test_mismatched_simulations_are_named(case, tmp_path):
    mesh = case["mesh"]
    other = fem.box_mesh("hexahedron", (3, 2, 2), size=(2.0, 1.0, 1.0))        # same sizes, other coordinates
    sims = [as_simulation(mesh, rows) for rows in case["sims"][:3]]
    sims.append(as_simulation(other, case["sims"][3]))
    with pytest.raises(MeshMismatchError, match=r"simulation 3 and simulation 0 are on different meshes "
                                                r"\(different node coordinates\)"):
        LocalBases(2, rank=2, n_modes=2).fit(sims)
    smaller = fem.box_mesh("hexahedron", (2, 2, 2))
    sims[3] = Simulation(smaller, np.arange(2.0), {"U": Field("node", ("U1", "U2", "U3"),
                                                                np.ones((2, smaller.n_nodes, 3)))})
    with pytest.raises(MeshMismatchError, match=r"simulation 3 and simulation 0 are on different meshes \(36 vs 27"):
        LocalBases(2, rank=2, n_modes=2).fit(sims)
    arrays = list(case["sims"][:3]) + [case["sims"][3][:, :100]]
    with pytest.raises(MeshMismatchError, match="simulation 3 has 100 local dofs per snapshot but simulation 0 has "
                                                "108"):
        LocalBases(2, rank=2, n_modes=2).fit(arrays)
    path = io_adapters.save(as_simulation(smaller, np.ones((2, 3 * smaller.n_nodes))), tmp_path / "small.h5")
    with pytest.raises(MeshMismatchError, match=r"simulation 1 \(.*small.h5\) and simulation 0 are on different"):
        LocalBases(2, rank=2, n_modes=2).fit([sims[0], path])
    with pytest.raises(InputError, match=r"simulation 0: no field 'T' \(fields: U\)"):
        LocalBases(2, rank=2, n_modes=2, field="T").fit(sims)
    model = LocalBases(2, rank=2, n_modes=2).fit(case["sims"])
    with pytest.raises(MeshMismatchError, match="the simulations have 100 local dofs per snapshot, the training ones "
                                                "108"):
        model.predict([case["sims"][0][:, :100]])
    trained = LocalBases(2, rank=2, n_modes=2).fit([as_simulation(mesh, r) for r in case["sims"]])
    with pytest.raises(MeshMismatchError, match=r"not on the training mesh \(different node coordinates\)"):
        trained.predict([as_simulation(other, case["new"][0])])


def test_bad_parameters_and_inputs(case):
    sims = case["sims"]
    with pytest.raises(ConfigError, match="dissimilarity must be one of"):
        LocalBases(2, dissimilarity="cosine", n_modes=2).fit(sims)
    with pytest.raises(ConfigError, match=r"compares the simulations' POD subspaces: give their rank \(rank=\)"):
        LocalBases(2, n_modes=2).fit(sims)
    with pytest.raises(ConfigError, match="give either tol=0.01 or n_modes=2, not both"):
        LocalBases(2, rank=2, n_modes=2, tol=0.01).fit(sims)
    with pytest.raises(ConfigError, match="give a truncation criterion"):
        LocalBases(2, rank=2).fit(sims)
    with pytest.raises(ConfigError, match=r"overlap must be a fraction in \[0, 1\), found 1.0"):
        LocalBases(2, rank=2, n_modes=2, overlap=1.0).fit(sims)
    with pytest.raises(InputError, match=r"n_clusters=13 is larger than the number of items \(12\)"):
        LocalBases(13, rank=2, n_modes=2).fit(sims)
    with pytest.raises(InputError, match="n_clusters must be ≥ 1, found 0"):
        LocalBases(0, dissimilarity="angle", n_modes=2).fit(sims)
    with pytest.raises(InputError, match="cluster 0 .*n_modes=3 but the snapshots span only 2"):
        LocalBases(2, rank=2, n_modes=3).fit(sims)
    with pytest.raises(InputError, match=r"inner_product has shape \(3, 3\)"):
        LocalBases(2, rank=2, n_modes=2, inner_product=np.eye(3)).fit(sims)
    with pytest.raises(InputError, match="non-empty list of simulations"):
        LocalBases(2, rank=2, n_modes=2).fit(sims[0])
    with pytest.raises(InputError, match="not fitted yet"):
        LocalBases(2, rank=2, n_modes=2).predict(sims)
    model = LocalBases(2, rank=2, n_modes=2).fit(sims)
    with pytest.raises(ConfigError, match=r"cluster must be an integer in \[0, 2\), found 2"):
        model.projection_error(sims[0], cluster=2)
    with pytest.raises(InputError, match="min_cluster_size=7"):
        LocalBases(2, rank=2, n_modes=2, min_cluster_size=7).fit(sims)
    with pytest.raises(InputError, match="snapshot 3 is zero in the inner product"):
        LocalBases(2, dissimilarity="angle", n_modes=2).fit([np.eye(4, 108) * [[1.0], [2.0], [3.0], [0.0]]])


def test_one_cluster_has_no_silhouette(case):
    model = LocalBases(1, rank=2, tol=1e-6).fit(case["sims"])
    assert np.isnan(model.silhouette_)
    assert model.bases_[0].n_modes == 4
    assert np.all(model.labels_ == 0)
