"""Partitions of items into K clusters: k-medoids on a dissimilarity matrix, k-means baseline.

**k-medoids** (:func:`kmedoids`) minimises the total deviation
``TD = Σ_i D[i, m(i)]`` over sets of ``K`` medoids (items), each item assigned to
its nearest medoid. nirom's own implementation (BSD-3, the default) is a local
search in the spirit of PAM's SWAP phase with the ideas of FasterPAM (Schubert &
Rousseeuw, *Fast and eager k-medoids clustering*, Information Systems 101, 2021):

- each item keeps its nearest and second-nearest medoid distances ``d₁, d₂``; the
  loss of removing medoid ``i`` is ``Σ_{o: m(o)=i} (d₂(o) − d₁(o))``;
- the change of ``TD`` for *every* medoid ``i`` when a candidate ``x`` enters is
  found in one pass over the items (the ``O(k)`` improvement): a term shared by all
  medoids, ``Σ_o min(D[x, o] − d₁(o), 0)``, plus, for the medoid ``i = m(o)`` of
  each item, ``clip(D[x, o], d₁(o), d₂(o)) − d₂(o)``; nirom evaluates a block of
  candidates at once with numpy (rows of ``D``: it is symmetric), the per-medoid
  sums by one matrix product with the one-hot assignment;
- the best improving swap of a block is made at once (eager), the same block is
  evaluated again, and the search goes on block after block, cyclically, until a
  full cycle of blocks finds no improving swap: the result is a local optimum for
  every single swap (PAM's criterion). A swap is kept only if the recomputed ``TD``
  decreases, so the search always ends. The phase runs with one BLAS thread
  (threadpoolctl): its products are small, threads only cost (1000 × 1000, K = 10,
  ten runs: ~0.1–0.2 s, ``benchmarks/bench_clustering_kernels.py``).

Initial medoids: PAM's BUILD (greedy, deterministic) for the first of the
``n_init`` runs, uniformly random distinct items (seeded by ``random_state``) for the
others; the run of lowest ``TD`` is returned (ties: the earliest). ``K = 1`` is
solved exactly (the item of smallest row sum).

``backend="kmedoids"`` runs the swap phase of the ``kmedoids`` package (FasterPAM,
GPL-3.0-or-later, an optional accelerator: never required, imported only then) from
the same initial medoids; the rest (initialisation, restarts, labels, cost,
minimum cluster size) is nirom's. ``"auto"`` is nirom's implementation.

**Minimum cluster size: refused, not repaired.** A run whose smallest cluster has
fewer than ``min_cluster_size`` items is discarded; the best of the remaining runs is
returned, and an :class:`~io_adapters.errors.InputError` (with the cluster sizes
found) when every run is discarded. Moving items into small clusters would break
the nearest-medoid rule that :meth:`predict`-like routing relies on.

**Labels** are canonical: medoids sorted by index, ``labels[medoids[k]] == k``,
every other item assigned to its nearest medoid (ties: the lowest ``k``), so both
backends give comparable outputs.

**k-means** (:func:`kmeans`, scikit-learn, Euclidean) is the classic baseline on
coordinates (e.g. :func:`clustering.dissimilarity.gram_coordinates`).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

import numpy as np

from clustering.dissimilarity import check_dissimilarity
from io_adapters.errors import ConfigError, InputError, require

__all__ = ["BACKENDS", "KMeansResult", "KMedoidsResult", "assign", "build_medoids", "kmeans", "kmedoids",
           "swap_medoids"]

log = logging.getLogger(__name__)

#: Implementations of the swap phase.
BACKENDS = ("auto", "nirom", "kmedoids")

#: Candidates evaluated together by the swap phase.
BLOCK = 64

#: Bound on the temporaries of one block (float64 entries).
BLOCK_ENTRIES = 2**21


@dataclass(frozen=True, eq=False)
class KMedoidsResult:
    """A k-medoids partition.

    Attributes
    ----------
    labels : (n_items,) int array
        Cluster of each item, in ``[0, K)``.
    medoids : (K,) int array
        Item index of each cluster's medoid, increasing; ``labels[medoids[k]] == k``.
    cost : float
        Total deviation ``Σ_i D[i, medoids[labels[i]]]``.
    sizes : (K,) int array
        Items per cluster.
    n_swaps : int
        Swaps made by the retained run.
    backend : str
        ``"nirom"`` or ``"kmedoids"``.
    """

    labels: np.ndarray
    medoids: np.ndarray
    cost: float
    sizes: np.ndarray
    n_swaps: int
    backend: str


@dataclass(frozen=True, eq=False)
class KMeansResult:
    """A k-means partition.

    Attributes
    ----------
    labels : (n_items,) int array
    centers : (K, n_features) array
    inertia : float
        ``Σ_i ‖x_i − c_{labels[i]}‖²``.
    sizes : (K,) int array
    """

    labels: np.ndarray
    centers: np.ndarray
    inertia: float
    sizes: np.ndarray


# ================================================================ checks
def _check_int(value, name: str, low: int, high: int | None = None, where: str = "kmedoids") -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ConfigError(f"{where}: {name} must be an integer, found {value!r}")
    if value < low or (high is not None and value > high):
        span = f"in [{low}, {high}]" if high is not None else f"≥ {low}"
        raise ConfigError(f"{where}: {name} must be {span}, found {value}")
    return int(value)


def _check_clusters(n_clusters, n_items: int, where: str) -> int:
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, (int, np.integer)):
        raise ConfigError(f"{where}: n_clusters must be an integer, found {n_clusters!r}")
    if n_clusters < 1:
        raise InputError(f"{where}: n_clusters must be ≥ 1, found {n_clusters}")
    if n_clusters > n_items:
        raise InputError(f"{where}: n_clusters={n_clusters} is larger than the number of items ({n_items})")
    return int(n_clusters)


# ================================================================ building blocks
def assign(D: np.ndarray, medoids: np.ndarray) -> tuple[np.ndarray, float]:
    """Canonical labels and total deviation of a set of medoids.

    Parameters
    ----------
    D : (n, n) array
        Symmetric dissimilarities.
    medoids : (K,) int array
        Distinct, increasing item indices.

    Returns
    -------
    labels : (n,) int array
        Nearest medoid of each item (ties: the lowest cluster); each medoid in its own.
    cost : float
    """
    labels = np.argmin(D[medoids], axis=0)
    labels[medoids] = np.arange(medoids.size)
    return labels, float(D[medoids[labels], np.arange(D.shape[0])].sum())


def _row_blocks(n: int, block: int):
    step = max(1, min(block, BLOCK_ENTRIES // max(n, 1)))
    for start in range(0, n, step):
        yield start, min(start + step, n)


def build_medoids(D: np.ndarray, n_clusters: int) -> np.ndarray:
    """PAM's BUILD: greedy initial medoids (deterministic).

    The first medoid has the smallest row sum; each next one is the item that
    lowers the total deviation most (``Σ_o max(d₁(o) − D[x, o], 0)``).

    Parameters
    ----------
    D : (n, n) array
        Symmetric dissimilarities.
    n_clusters : int
        ``K`` in ``[1, n]``.

    Returns
    -------
    (K,) int array
        In the order chosen.
    """
    n = D.shape[0]
    medoids = [int(np.argmin(D.sum(axis=1)))]
    nearest = D[medoids[0]].copy()
    kept = np.empty(n)                                   # Σ_o min(D[x, o], d₁(o)): the cost with x added
    for _ in range(n_clusters - 1):
        for start, stop in _row_blocks(n, 256):
            kept[start:stop] = np.minimum(D[start:stop], nearest).sum(axis=1)
        kept[medoids] = np.inf
        x = int(np.argmin(kept))
        medoids.append(x)
        np.minimum(nearest, D[x], out=nearest)
    return np.array(medoids, dtype=np.int64)


def _nearest_two(D: np.ndarray, medoids: np.ndarray):
    """Position of the nearest medoid, its distance and the second-nearest distance, per item."""
    rows = D[medoids]                                   # (K, n): D symmetric
    nearest = np.argmin(rows, axis=0)
    columns = np.arange(D.shape[0])
    first = rows[nearest, columns]
    rows[nearest, columns] = np.inf
    return nearest, first, rows.min(axis=0)


def swap_medoids(D: np.ndarray, medoids: np.ndarray, *, max_iter: int = 100,
                 block: int = BLOCK) -> tuple[np.ndarray, int]:
    """nirom's swap phase: eager best swaps, block of candidates by block (see the module docstring).

    Parameters
    ----------
    D : (n, n) array
        Symmetric dissimilarities, zero diagonal.
    medoids : (K,) int array
        Distinct initial medoids, ``2 ≤ K < n``.
    max_iter : int
        Bound on the cycles over all candidates (a warning is logged when reached).
    block : int
        Candidates evaluated together.

    Returns
    -------
    medoids : (K,) int array
        A local optimum for single swaps (unsorted).
    n_swaps : int
    """
    n, k = D.shape[0], medoids.size
    medoids = np.array(medoids, dtype=np.int64)
    is_medoid = np.zeros(n, dtype=bool)
    is_medoid[medoids] = True
    onehot = np.zeros((n, k))

    def state(nearest, first, second):
        onehot[:] = 0.0
        onehot[np.arange(n), nearest] = 1.0
        # per medoid i: removal loss Σ_{m(o)=i} (d₂ − d₁), minus the Σ d₂ the block formula adds back
        constant = np.bincount(nearest, weights=-first, minlength=k)
        return nearest, first, second, float(first.sum()), constant

    nearest, first, second, cost, constant = state(*_nearest_two(D, medoids))
    blocks = list(_row_blocks(n, block))
    buffer = np.empty((blocks[0][1] - blocks[0][0], n))
    b, quiet, swaps, evaluations = 0, 0, 0, 0
    with _one_blas_thread():                                          # small products: threads only cost
        while quiet < len(blocks):
            if evaluations >= max_iter * len(blocks):
                log.warning("k-medoids: no local optimum after %d cycles over the candidates (max_iter); "
                            "keeping the current medoids", max_iter)
                break
            evaluations += 1
            start, stop = blocks[b]
            rows = D[start:stop]                                      # candidates x: D[x, o] (D symmetric)
            work = buffer[:stop - start]
            # Σ_o min(D[x,o] − d₁(o), 0): items that move to x whichever medoid leaves
            shared = np.minimum(rows, first, out=work).sum(axis=1) - cost
            # per medoid i: Σ_{m(o)=i} clip(D[x,o], d₁, d₂) − d₂, plus the removal loss Σ_{m(o)=i} d₂ − d₁
            np.maximum(rows, first, out=work)
            delta = np.minimum(work, second, out=work) @ onehot
            delta += constant
            delta += shared[:, None]
            delta[is_medoid[start:stop]] = np.inf
            best = int(np.argmin(delta))
            x, i = start + best // k, best % k
            if delta.flat[best] < -1e-12 * cost:
                trial = medoids.copy()
                trial[i] = x
                trial_state = _nearest_two(D, trial)
                if float(trial_state[1].sum()) < cost:                # a swap must lower the recomputed cost
                    is_medoid[medoids[i]] = False
                    is_medoid[x] = True
                    medoids = trial
                    nearest, first, second, cost, constant = state(*trial_state)
                    swaps += 1
                    quiet = 0
                    continue                                          # the same block again
            quiet += 1
            b = (b + 1) % len(blocks)
    return medoids, swaps


def _one_blas_thread():
    """A context limiting BLAS to one thread (no-op without threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _kmedoids_package_swap(package, D: np.ndarray, medoids: np.ndarray, max_iter: int) -> tuple[np.ndarray, int]:
    result = package.fasterpam(D, np.asarray(medoids, dtype=np.uintp), max_iter=max_iter, n_cpu=1)
    return np.asarray(result.medoids, dtype=np.int64), int(result.n_swap)


# ================================================================ k-medoids
def kmedoids(D, n_clusters: int, *, n_init: int = 10, random_state=0, min_cluster_size: int = 1,
             backend: str = "auto", max_iter: int = 100) -> KMedoidsResult:
    """k-medoids partition of items given their dissimilarities.

    Parameters
    ----------
    D : (n_items, n_items) array_like
        Dissimilarity matrix (checked by
        :func:`clustering.dissimilarity.check_dissimilarity`).
    n_clusters : int
        ``K`` in ``[1, n_items]``.
    n_init : int
        Runs: BUILD, then ``n_init − 1`` random initialisations; the lowest cost wins.
    random_state : int, numpy Generator or None
        Seed of the random initialisations (``None``: fresh entropy).
    min_cluster_size : int
        Runs with a smaller cluster are refused (see the module docstring).
    backend : {"auto", "nirom", "kmedoids"}
        Swap phase: nirom's (BSD, ``"auto"``) or the GPL ``kmedoids`` package's
        FasterPAM (optional; :class:`~io_adapters.errors.MissingDependencyError`
        when it is not installed).
    max_iter : int
        Bound on the cycles of the swap phase of each run.

    Returns
    -------
    KMedoidsResult

    Raises
    ------
    InputError
        Bad matrix (see ``check_dissimilarity``), ``n_clusters`` < 1 or larger than the
        number of items, ``n_clusters · min_cluster_size`` above the number of items,
        every run with a cluster below ``min_cluster_size``.
    ConfigError
        Unknown backend, non-integer options.
    MissingDependencyError
        ``backend="kmedoids"`` without the package.
    """
    where = "kmedoids"
    if backend not in BACKENDS:
        raise ConfigError(f"{where}: backend must be one of {BACKENDS}, found {backend!r}")
    D = check_dissimilarity(D, name=f"{where}: the dissimilarity matrix")
    n = D.shape[0]
    k = _check_clusters(n_clusters, n, where)
    n_init = _check_int(n_init, "n_init", 1, where=where)
    max_iter = _check_int(max_iter, "max_iter", 1, where=where)
    min_size = _check_int(min_cluster_size, "min_cluster_size", 1, where=where)
    if k * min_size > n:
        raise InputError(f"{where}: {k} clusters of at least min_cluster_size={min_size} items need {k * min_size} "
                         f"items, there are {n}")
    package = require("kmedoids", "kmedoids", "k-medoids with backend='kmedoids'") if backend == "kmedoids" else None
    used = "kmedoids" if package is not None else "nirom"
    rng = np.random.default_rng(random_state)
    if k == 1 or k == n:
        inits = [build_medoids(D, k) if k == 1 else np.arange(n)]
    else:
        inits = [build_medoids(D, k)] + [rng.choice(n, size=k, replace=False) for _ in range(n_init - 1)]
    best, smallest = None, None
    for init in inits:
        if k in (1, n):
            medoids, swaps = init, 0
        elif package is not None:
            medoids, swaps = _kmedoids_package_swap(package, D, init, max_iter)
        else:
            medoids, swaps = swap_medoids(D, init, max_iter=max_iter)
        medoids = np.sort(medoids)
        labels, cost = assign(D, medoids)
        sizes = np.bincount(labels, minlength=k)
        if sizes.min() < min_size:
            if smallest is None or cost < smallest[0]:
                smallest = (cost, sizes)
            continue
        if best is None or cost < best.cost:
            best = KMedoidsResult(labels=labels, medoids=medoids, cost=cost, sizes=sizes, n_swaps=swaps, backend=used)
    if best is None:
        raise InputError(f"{where}: every one of the {len(inits)} runs has a cluster of fewer than "
                         f"min_cluster_size={min_size} items (best run: cluster sizes {smallest[1].tolist()}); "
                         "ask for fewer clusters, a smaller min_cluster_size or more runs (n_init)")
    return best


# ================================================================ k-means baseline
def kmeans(points, n_clusters: int, *, n_init: int = 10, random_state=0) -> KMeansResult:
    """k-means (Lloyd, k-means++ initialisation; scikit-learn) on points, the Euclidean baseline.

    Parameters
    ----------
    points : (n_items, n_features) array_like
        E.g. :func:`clustering.dissimilarity.gram_coordinates` of distributed
        snapshots (the same on every rank).
    n_clusters : int
        ``K`` in ``[1, n_items]``.
    n_init : int
        Initialisations; the lowest inertia wins.
    random_state : int or None

    Returns
    -------
    KMeansResult

    Raises
    ------
    InputError
        Points not 2D, empty or non-finite; ``n_clusters`` < 1 or above the number of items.
    """
    from sklearn.cluster import KMeans

    where = "kmeans"
    try:
        X = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{where}: points must be a numeric (n_items, n_features) array, found "
                         f"{type(points).__name__}") from None
    if X.ndim != 2 or X.shape[0] == 0:
        raise InputError(f"{where}: points must be a non-empty (n_items, n_features) array, found shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise InputError(f"{where}: point {int(np.argwhere(~np.isfinite(X))[0, 0])} holds NaN or infinite values")
    k = _check_clusters(n_clusters, X.shape[0], where)
    n_init = _check_int(n_init, "n_init", 1, where=where)
    model = KMeans(n_clusters=k, n_init=n_init, random_state=random_state).fit(X)
    labels = model.labels_.astype(np.int64)
    return KMeansResult(labels=labels, centers=model.cluster_centers_, inertia=float(model.inertia_),
                        sizes=np.bincount(labels, minlength=k))

