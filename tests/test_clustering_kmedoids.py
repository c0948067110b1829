"""clustering.kmedoids (BSD k-medoids, optional GPL backend, k-means) and clustering.quality."""

from __future__ import annotations

import itertools
import sys

import numpy as np
import pytest
from sklearn.metrics import silhouette_samples

import clustering.kmedoids as kmedoids_module
from clustering.kmedoids import assign, build_medoids, kmeans, kmedoids, swap_medoids
from clustering.quality import kolmogorov_width, silhouette
from io_adapters.errors import ConfigError, InputError, MissingDependencyError


def euclidean(points: np.ndarray) -> np.ndarray:
    return np.sqrt(((points[:, None, :] - points[None, :, :]) ** 2).sum(axis=2))


def blobs(seed: int, n: int | None = None, k: int | None = None):
    """Dissimilarities of Gaussian blobs: K, n, d drawn from the seed."""
    rng = np.random.default_rng(seed)
    n = n or int(rng.integers(30, 200))
    k = k or int(rng.integers(2, 6))
    centres = 4.0 * rng.normal(size=(k, int(rng.integers(2, 6))))
    points = centres[rng.integers(0, k, n)] + rng.normal(size=(n, centres.shape[1]))
    return euclidean(points), k


def uniform(seed: int, n: int) -> np.ndarray:
    A = np.random.default_rng(seed).random((n, n))
    D = A + A.T
    np.fill_diagonal(D, 0.0)
    return D


def brute_force(D: np.ndarray, k: int) -> float:
    return min(D[list(m)].min(axis=0).sum() for m in itertools.combinations(range(D.shape[0]), k))


# ================================================================ k-medoids
@pytest.mark.parametrize("seed", range(12))
def test_same_as_the_kmedoids_package(seed):
    package = pytest.importorskip("kmedoids")
    D, k = blobs(seed)
    ours = kmedoids(D, k, random_state=seed)
    theirs = kmedoids(D, k, random_state=seed, backend="kmedoids")      # FasterPAM from the same starts
    assert ours.backend == "nirom" and theirs.backend == "kmedoids"
    assert ours.cost == pytest.approx(theirs.cost, rel=1e-12)
    direct = min((package.fasterpam(D, k, random_state=s, n_cpu=1) for s in range(10)), key=lambda r: r.loss)
    assert ours.cost == pytest.approx(float(direct.loss), rel=1e-12)
    assert np.array_equal(ours.medoids, np.sort(np.asarray(direct.medoids, dtype=np.int64)))
    direct_labels = np.searchsorted(ours.medoids, np.asarray(direct.medoids, dtype=np.int64))[direct.labels]
    differ = np.flatnonzero(ours.labels != direct_labels)             # only ties may differ
    assert np.allclose(D[differ, ours.medoids[ours.labels[differ]]],
                       D[differ, ours.medoids[direct_labels[differ]]], rtol=0, atol=0)


@pytest.mark.parametrize("seed", range(40))
def test_optimum_of_small_problems(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(4, 11))
    k = int(rng.integers(1, min(4, n) + 1))
    D = uniform(seed, n) if seed % 2 else euclidean(rng.normal(size=(n, 2)))
    result = kmedoids(D, k, random_state=seed)
    assert result.cost == pytest.approx(brute_force(D, k), rel=1e-12)
    assert result.cost == pytest.approx(D[result.medoids[result.labels], np.arange(n)].sum(), rel=1e-14)


def test_swap_phase_ends_at_a_local_optimum():
    D = uniform(7, 40)
    medoids, _ = swap_medoids(D, np.array([0, 1, 2, 3]))
    cost = D[medoids].min(axis=0).sum()
    for i, x in itertools.product(range(4), range(40)):
        if x not in medoids:
            trial = medoids.copy()
            trial[i] = x
            assert D[trial].min(axis=0).sum() >= cost - 1e-12


def test_labels_are_canonical_and_the_result_reproducible():
    D, k = blobs(3, n=120, k=4)
    a, b = kmedoids(D, k, random_state=5), kmedoids(D, k, random_state=5)
    assert np.array_equal(a.labels, b.labels) and np.array_equal(a.medoids, b.medoids) and a.cost == b.cost
    assert np.all(np.diff(a.medoids) > 0)
    assert np.array_equal(a.labels[a.medoids], np.arange(k))
    assert np.array_equal(a.sizes, np.bincount(a.labels, minlength=k))
    labels, cost = assign(D, a.medoids)
    assert np.array_equal(labels, a.labels) and cost == a.cost
    assert build_medoids(D, k).shape == (k,)
    # the random starts follow the seed
    starts = []
    original = kmedoids_module.swap_medoids

    def spy(D, medoids, **options):
        starts.append(np.array(medoids))
        return original(D, medoids, **options)

    for seed in (5, 5, 6):
        kmedoids_module.swap_medoids = spy
        try:
            kmedoids(D, k, random_state=seed, n_init=4)
        finally:
            kmedoids_module.swap_medoids = original
    assert all(np.array_equal(x, y) for x, y in zip(starts[:4], starts[4:8]))
    assert not all(np.array_equal(x, y) for x, y in zip(starts[5:8], starts[9:12]))
    assert np.array_equal(starts[0], starts[8])                          # BUILD first, deterministic


def test_one_cluster_and_one_item_per_cluster():
    D = uniform(1, 9)
    one = kmedoids(D, 1)
    assert one.medoids.tolist() == [int(np.argmin(D.sum(axis=1)))] and one.cost == pytest.approx(D.sum(1).min())
    every = kmedoids(D, 9)
    assert np.array_equal(every.medoids, np.arange(9)) and every.cost == 0.0


def test_min_cluster_size_is_refused_not_repaired(monkeypatch):
    x = np.concatenate([np.linspace(0, 1, 10), 10 + np.linspace(0, 1, 10), [30.0]])
    D = np.abs(x[:, None] - x[None, :])
    assert kmedoids(D, 3).sizes.tolist() == [10, 10, 1]                  # the outlier alone
    with pytest.raises(InputError, match=r"every one of the 10 runs has a cluster of fewer than "
                                         r"min_cluster_size=2 items \(best run: cluster sizes \[10, 10, 1\]\)"):
        kmedoids(D, 3, min_cluster_size=2)
    assert kmedoids(D, 2, min_cluster_size=10).sizes.tolist() == [10, 11]
    with pytest.raises(InputError, match="3 clusters of at least min_cluster_size=8 items need 24 items, there are 21"):
        kmedoids(D, 3, min_cluster_size=8)
    # the best run that meets the size wins, even if a refused run costs less
    runs = iter([np.array([0, 10, 20]), np.array([0, 5, 15])])
    monkeypatch.setattr(kmedoids_module, "swap_medoids", lambda D, medoids, **_: (next(runs), 0))
    result = kmedoids(D, 3, n_init=2, min_cluster_size=2)
    assert result.medoids.tolist() == [0, 5, 15] and result.sizes.min() >= 2


def test_bad_inputs_are_named():
    D = uniform(0, 5)
    with pytest.raises(InputError, match=r"n_clusters=6 is larger than the number of items \(5\)"):
        kmedoids(D, 6)
    with pytest.raises(InputError, match="n_clusters must be ≥ 1, found 0"):
        kmedoids(D, 0)
    with pytest.raises(ConfigError, match="n_clusters must be an integer, found 2.0"):
        kmedoids(D, 2.0)
    bad = D.copy()
    bad[0, 1] += 1.0
    with pytest.raises(InputError, match=r"kmedoids: the dissimilarity matrix: not symmetric: entry \(0, 1\)"):
        kmedoids(bad, 2)
    bad = D.copy()
    bad[3, 2] = bad[2, 3] = np.nan
    with pytest.raises(InputError, match=r"entry \(2, 3\) is nan"):
        kmedoids(bad, 2)
    with pytest.raises(InputError, match=r"square \(n, n\) array, found shape \(5, 4\)"):
        kmedoids(D[:, :4], 2)
    with pytest.raises(ConfigError, match="backend must be one of"):
        kmedoids(D, 2, backend="sklearn")
    with pytest.raises(ConfigError, match="n_init must be ≥ 1, found 0"):
        kmedoids(D, 2, n_init=0)


def test_missing_gpl_package_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "kmedoids", None)                  # import kmedoids → ImportError
    with pytest.raises(MissingDependencyError, match=r"needs the optional package 'kmedoids'.*nirom\[kmedoids\]"):
        kmedoids(uniform(0, 6), 2, backend="kmedoids")
    assert kmedoids(uniform(0, 6), 2).backend == "nirom"                 # never required


def test_kmedoids_is_never_imported_by_default():
    import subprocess

    code = ("import sys; import numpy as np; import clustering.local_bases, clustering.quality; "
            "from clustering.kmedoids import kmedoids; "
            "D = np.abs(np.arange(6.)[:, None] - np.arange(6.)); kmedoids(D, 2); "
            "assert 'kmedoids' not in sys.modules and 'mpi4py' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


# ================================================================ k-means
def test_kmeans_baseline():
    rng = np.random.default_rng(0)
    points = np.concatenate([rng.normal(size=(20, 2)), 10 + rng.normal(size=(15, 2))])
    result = kmeans(points, 2, random_state=0)
    assert sorted(result.sizes.tolist()) == [15, 20]
    assert len(set(result.labels[:20])) == 1 and len(set(result.labels[20:])) == 1
    assert result.centers.shape == (2, 2)
    with pytest.raises(InputError, match=r"n_clusters=36 is larger than the number of items \(35\)"):
        kmeans(points, 36)
    with pytest.raises(InputError, match="point 3 holds NaN"):
        kmeans(np.where(np.arange(35)[:, None] == 3, np.nan, points), 2)


# ================================================================ quality
def test_silhouette_on_a_hand_example():
    x = np.array([0.0, 1.0, 10.0, 12.0, 30.0])
    D = np.abs(x[:, None] - x[None, :])
    labels = np.array([0, 0, 1, 1, 2])
    # item 0: a = 1, b = min(mean(10, 12), 30) = 11 → 10/11; item 4 alone → 0
    expected = silhouette_samples(D, labels, metric="precomputed")
    assert expected[0] == pytest.approx(10 / 11)
    assert silhouette(D, labels) == pytest.approx(expected.mean(), rel=1e-14)
    with pytest.raises(InputError, match="undefined for 1 cluster"):
        silhouette(D, np.zeros(5, dtype=int))
    with pytest.raises(InputError, match=r"labels must have shape \(5,\)"):
        silhouette(D, labels[:4])


def test_kolmogorov_width():
    sigma = np.array([3.0, 2.0, 1.0])
    assert kolmogorov_width(sigma, 1) == pytest.approx(np.sqrt(5 / 14))
    assert np.allclose(kolmogorov_width(sigma, [0, 1, 2, 3]), np.sqrt([1.0, 5 / 14, 1 / 14, 0.0]))
    assert kolmogorov_width(np.zeros(3), 1) == 0.0
    with pytest.raises(ConfigError, match=r"n_modes must be integers in \[0, 3\]"):
        kolmogorov_width(sigma, 4)
    with pytest.raises(InputError, match="finite values ≥ 0"):
        kolmogorov_width([1.0, -1.0], 1)
