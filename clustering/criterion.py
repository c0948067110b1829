"""A-priori efficiency criterion of a ROM-net dictionary, from training data only.

Is a dictionary of K local reduced-order models of N modes each, routed by a
classifier, worth building instead of one global ROM of N modes (the same reduced
size, hence the same online cost)? This module answers before any online run, with
nirom's definition (the seed paper's formula is not available to us; the derivation
and its assumptions are in ``docs/clustering.md``, "A-priori efficiency criterion"):

    E_local(K, N) = Σ_i π_i Σ_j C_ij e_ij          (:func:`expected_error`)
    E_global(N)   = Σ_i π_i g_i
    ratio         = E_local / E_global             (:func:`efficiency_ratio`)

with ``π_i`` the probability of cluster ``i`` (training frequencies), ``C_ij`` the
probability that a load of cluster ``i`` is routed to local ROM ``j`` (the
cross-validated confusion matrix of :class:`clustering.romnet.RomNet`, rows
normalised), ``e_ij`` the relative projection error of cluster ``i``'s snapshots onto
local basis ``j`` and ``g_i`` that onto the global basis of N modes. A ratio below
one says ROM-net is expected to be more accurate at the same online cost.

:func:`choose_k_n` calibrates K and N under a budget of training simulations with
held-out (cross-validated over simulations) projection errors. Projection errors are
plain numpy here (:func:`pod_modes`, :func:`projection_errors`), optionally in an
inner product ``M`` (the mass matrix for displacements).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from io_adapters.errors import InputError

log = logging.getLogger(__name__)

__all__ = [
    "KNChoice",
    "choose_k_n",
    "efficiency_ratio",
    "expected_error",
    "pod_modes",
    "projection_errors",
    "row_normalised",
    "symmetric_confusion",
]


# ================================================================ projection errors
def _inner(A: np.ndarray, M) -> np.ndarray:
    """``A M`` (rows of A in the inner product M), or A itself when M is None."""
    return A if M is None else np.asarray((M @ A.T).T)


def _snapshots(values, what: str, n_dofs: int | None = None) -> np.ndarray:
    try:
        S = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{what}: expected numbers, found {type(values).__name__}") from None
    if S.ndim == 1:
        S = S[np.newaxis, :]
    if S.ndim != 2:
        raise InputError(f"{what}: expected shape (n_snapshots, n_dofs), found {S.shape}")
    if n_dofs is not None and S.shape[1] != n_dofs:
        raise InputError(f"{what}: {S.shape[1]} dofs per snapshot, {n_dofs} expected")
    if not np.all(np.isfinite(S)):
        row, col = np.argwhere(~np.isfinite(S))[0]
        raise InputError(f"{what}: non-finite value at snapshot {row}, dof {col}")
    return S


def pod_modes(snapshots: np.ndarray, n_modes: int, *, inner_product=None) -> np.ndarray:
    """The first POD modes of some snapshots (method of snapshots), orthonormal in ``inner_product``.

    Parameters
    ----------
    snapshots : (n_snapshots, n_dofs) array
    n_modes : int
        Modes wanted; fewer are returned when the snapshots span less (eigenvalues
        below 1e-12 × the largest are dropped).
    inner_product : (n_dofs, n_dofs) matrix, optional
        Identity when omitted.

    Returns
    -------
    (n, n_dofs) array, n ≤ n_modes
    """
    S = np.asarray(snapshots, dtype=np.float64)
    if S.shape[0] == 0 or n_modes < 1:
        return np.zeros((0, S.shape[1]))
    gram = S @ _inner(S, inner_product).T
    eigenvalues, vectors = np.linalg.eigh((gram + gram.T) / 2)
    order = np.argsort(eigenvalues)[::-1]
    eigenvalues, vectors = eigenvalues[order], vectors[:, order]
    keep = eigenvalues > 1e-12 * max(eigenvalues[0], 0.0) if eigenvalues[0] > 0 else np.zeros(len(eigenvalues), bool)
    n = min(int(n_modes), int(np.count_nonzero(keep)))
    return (vectors[:, :n] / np.sqrt(eigenvalues[:n])).T @ S


def _orthonormal(modes: np.ndarray, inner_product) -> np.ndarray:
    """The same span, orthonormal in ``inner_product`` (rank-revealing: tiny directions dropped)."""
    if modes.shape[0] == 0:
        return modes
    gram = modes @ _inner(modes, inner_product).T
    if np.allclose(gram, np.eye(len(gram)), atol=1e-10):
        return modes
    eigenvalues, vectors = np.linalg.eigh((gram + gram.T) / 2)
    keep = eigenvalues > 1e-12 * max(eigenvalues.max(), 0.0)
    return (vectors[:, keep] / np.sqrt(eigenvalues[keep])).T @ modes


def _squared_residuals(S: np.ndarray, modes: np.ndarray, inner_product, n_values: Sequence[int]) -> np.ndarray:
    """Σ_snapshots ‖s − Π_n s‖² for the first n modes, each n of ``n_values``, shape (len(n_values),)."""
    coefficients = _inner(S, inner_product) @ modes.T          # (n_s, n_modes)
    out = np.empty(len(n_values))
    for k, n in enumerate(n_values):
        n = min(int(n), modes.shape[0])
        residual = S - coefficients[:, :n] @ modes[:n]
        out[k] = np.sum(residual * _inner(residual, inner_product))
    return out


def _relative_errors(simulations: Sequence[np.ndarray], modes: np.ndarray, inner_product,
                     n_values: Sequence[int]) -> np.ndarray:
    """Mean over simulations of sqrt(Σ_t ‖r_t‖² / Σ_t ‖s_t‖²), per n of ``n_values``."""
    errors = np.zeros(len(n_values))
    for S in simulations:
        energy = np.sum(S * _inner(S, inner_product))
        residual = _squared_residuals(S, modes, inner_product, n_values)
        errors += np.sqrt(np.clip(residual, 0.0, None) / energy) if energy > 0 else 0.0
    return errors / len(simulations)


def _cluster_list(cluster, what: str, n_dofs: int | None) -> list[np.ndarray]:
    """A cluster's snapshots: one array (one block) or a sequence of per-simulation arrays."""
    if isinstance(cluster, np.ndarray) or (isinstance(cluster, Sequence) and len(cluster) and
                                           np.ndim(cluster[0]) <= 1):
        return [_snapshots(cluster, what, n_dofs)]
    blocks = [_snapshots(block, f"{what}, simulation {s}", n_dofs) for s, block in enumerate(cluster)]
    if not blocks:
        raise InputError(f"{what}: no snapshot")
    return blocks


def projection_errors(snapshots_by_cluster: Sequence, bases: Sequence[np.ndarray], *,
                      inner_product=None) -> np.ndarray:
    """Relative projection error of each cluster's snapshots onto each basis.

    Parameters
    ----------
    snapshots_by_cluster : sequence of K items
        Cluster ``i``'s snapshots: a (n_snapshots, n_dofs) array — the error is
        ``sqrt(Σ ‖s − Π_j s‖² / Σ ‖s‖²)`` over them — or a sequence of such arrays,
        one per simulation — the error is the mean of the simulations' errors.
    bases : sequence of K' (n_modes_j, n_dofs) arrays
        Local bases (orthonormalised here in ``inner_product`` if they are not).
        Pass ``[global_modes]`` for the errors onto a global basis, shape (K, 1).
    inner_product : (n_dofs, n_dofs) matrix, optional

    Returns
    -------
    (K, K') array
        ``e[i, j]``, the error of cluster ``i``'s snapshots projected on basis ``j``.
    """
    if not len(bases):
        raise InputError("projection_errors: no basis given")
    modes = [_orthonormal(_snapshots(b, f"basis {j}"), inner_product) for j, b in enumerate(bases)]
    n_dofs = modes[0].shape[1]
    for j, m in enumerate(modes):
        if m.shape[1] != n_dofs:
            raise InputError(f"basis {j}: {m.shape[1]} dofs, basis 0 has {n_dofs}")
    clusters = [_cluster_list(c, f"cluster {i}", n_dofs) for i, c in enumerate(snapshots_by_cluster)]
    return np.array([[_relative_errors(sims, m, inner_product, [m.shape[0]])[0] for m in modes]
                     for sims in clusters])


# ================================================================ the criterion
def row_normalised(confusion) -> np.ndarray:
    """A confusion matrix (counts or probabilities, rows = true cluster) as routing probabilities ``C_ij``."""
    C = np.asarray(confusion, dtype=np.float64)
    if C.ndim != 2 or C.shape[0] != C.shape[1]:
        raise InputError(f"confusion: expected a square (K, K) matrix, found shape {C.shape}")
    if not np.all(np.isfinite(C)) or np.any(C < 0):
        raise InputError("confusion: expected finite non-negative entries")
    rows = C.sum(axis=1)
    if np.any(rows <= 0):
        raise InputError(f"confusion: row(s) {np.flatnonzero(rows <= 0).tolist()} are empty "
                         "(a cluster without any cross-validated sample)")
    return C / rows[:, np.newaxis]


def symmetric_confusion(n_clusters: int, accuracy: float) -> np.ndarray:
    """``C_ii = accuracy``, the rest spread evenly over the other clusters (a model of the classifier)."""
    if not 0 <= accuracy <= 1:
        raise InputError(f"accuracy must be in [0, 1], found {accuracy}")
    if n_clusters == 1:
        return np.ones((1, 1))
    C = np.full((n_clusters, n_clusters), (1 - accuracy) / (n_clusters - 1))
    np.fill_diagonal(C, accuracy)
    return C


def _probabilities(cluster_probabilities, K: int) -> np.ndarray:
    p = np.asarray(cluster_probabilities, dtype=np.float64)
    if p.shape != (K,) or not np.all(np.isfinite(p)) or np.any(p < 0) or p.sum() <= 0:
        raise InputError(f"cluster_probabilities: expected ({K},) non-negative weights, found {p}")
    return p / p.sum()


def expected_error(projection_errors, cluster_probabilities, confusion) -> float:
    """Expected online error of a ROM-net dictionary: ``Σ_i π_i Σ_j C_ij e_ij``.

    Parameters
    ----------
    projection_errors : (K, K) array
        ``e_ij``: error of a load of cluster ``i`` solved with local ROM ``j``,
        measured, or estimated by the relative projection error of cluster ``i``'s
        snapshots onto basis ``j`` (:func:`projection_errors`); the diagonal is the
        error of correct routing.
    cluster_probabilities : (K,) array
        ``π_i``, probability that an online load belongs to cluster ``i`` (training
        frequencies); normalised here.
    confusion : (K, K) array
        Cross-validated confusion matrix, rows = true cluster (counts or
        probabilities; rows normalised here to ``C_ij = P(routed to j | cluster i)``).

    Returns
    -------
    float
        With a perfect classifier (``C = I``) the ``π``-weighted cluster errors
        ``Σ_i π_i e_ii``; with uniform routing (``C_ij = 1/K``) the ``π``-weighted
        average over all local ROMs.
    """
    e = np.asarray(projection_errors, dtype=np.float64)
    if e.ndim != 2 or e.shape[0] != e.shape[1]:
        raise InputError(f"projection_errors: expected a square (K, K) matrix, found shape {e.shape}")
    if not np.all(np.isfinite(e)) or np.any(e < 0):
        raise InputError("projection_errors: expected finite non-negative errors")
    K = e.shape[0]
    C = row_normalised(confusion)
    if C.shape != (K, K):
        raise InputError(f"confusion: shape {C.shape} for {K} clusters")
    return float(_probabilities(cluster_probabilities, K) @ np.sum(C * e, axis=1))


def efficiency_ratio(projection_errors, cluster_probabilities, confusion, global_errors) -> float:
    """``expected_error(...) / Σ_i π_i g_i``: below one, ROM-net beats the global ROM of the same size.

    Parameters
    ----------
    projection_errors, cluster_probabilities, confusion
        As in :func:`expected_error`, for K local bases of N modes.
    global_errors : float or (K,) array
        ``g_i``: error of cluster ``i``'s loads with the global ROM of N modes (the
        same reduced size, hence online cost), e.g. ``projection_errors(clusters,
        [global_modes])[:, 0]``; one number is used for every cluster.

    Returns
    -------
    float
        ``inf`` when the global error is zero and the local one is not; 1 when both are.
    """
    local = expected_error(projection_errors, cluster_probabilities, confusion)
    K = np.asarray(projection_errors).shape[0]
    g = np.broadcast_to(np.asarray(global_errors, dtype=np.float64), (K,))
    if not np.all(np.isfinite(g)) or np.any(g < 0):
        raise InputError("global_errors: expected finite non-negative errors")
    reference = float(_probabilities(cluster_probabilities, K) @ g)
    if reference == 0:
        return 1.0 if local == 0 else float("inf")
    return local / reference


# ================================================================ choosing K and N
@dataclass(frozen=True, eq=False)
class KNChoice:
    """The outcome of :func:`choose_k_n`.

    Attributes
    ----------
    K, N : int
        The chosen number of clusters and of modes per local basis.
    candidate_K, candidate_N : tuples of int
    expected : (len(candidate_K), len(candidate_N)) array
        Expected online error of each dictionary (held-out projection errors).
    global_error : (len(candidate_N),) array
        That of the global basis of N modes.
    ratio : (len(candidate_K), len(candidate_N)) array
        ``expected / global_error``.
    feasible : (len(candidate_K),) bool array
        Whether the budget gives every cluster ``min_per_cluster`` simulations.
    reason : str
        One line saying why.
    """

    K: int
    N: int
    candidate_K: tuple
    candidate_N: tuple
    expected: np.ndarray
    global_error: np.ndarray
    ratio: np.ndarray
    feasible: np.ndarray
    reason: str

    @property
    def worth_it(self) -> bool:
        """Whether the chosen dictionary beats the global basis of the same size."""
        i, j = self.candidate_K.index(self.K), self.candidate_N.index(self.N)
        return self.K > 1 and self.ratio[i, j] < 1


def _labels_for(clusters, K: int, n: int) -> np.ndarray:
    labels = clusters(K) if callable(clusters) else clusters[K] if K in clusters else None
    if labels is None:
        raise InputError(f"clusters: no labels for K={K}")
    labels = np.asarray(labels)
    if labels.shape != (n,) or labels.dtype.kind not in "iu":
        raise InputError(f"clusters: labels for K={K} must be ({n},) integers (one per simulation), "
                         f"found shape {labels.shape}, dtype {labels.dtype}")
    distinct = np.unique(labels)
    if len(distinct) != K:
        raise InputError(f"clusters: the labels for K={K} hold {len(distinct)} distinct clusters")
    return np.searchsorted(distinct, labels)


def _confusion_for(confusion, K: int, accuracy: float) -> np.ndarray:
    if confusion is None:
        return symmetric_confusion(K, accuracy)
    C = confusion(K) if callable(confusion) else confusion.get(K)
    if C is None:
        return symmetric_confusion(K, accuracy)
    C = row_normalised(C)
    if C.shape != (K, K):
        raise InputError(f"confusion for K={K}: shape {C.shape}")
    return C


def choose_k_n(snapshots_per_simulation: Sequence[np.ndarray], candidate_K: Sequence[int],
               candidate_N: Sequence[int], *, budget: int | None = None,
               clusters: Mapping[int, np.ndarray] | Callable[[int], np.ndarray],
               confusion: Mapping[int, np.ndarray] | Callable[[int], np.ndarray] | None = None,
               accuracy: float = 1.0, min_per_cluster: int = 5, n_folds: int = 5, tol: float | None = None,
               rtol: float = 0.05, inner_product=None, random_state: int = 0) -> KNChoice:
    """Pick the number of clusters K and of modes N under a budget of training simulations.

    The rule (nirom's; see ``docs/clustering.md``):

    1. **Errors held out.** The simulations (a seeded subset of ``budget`` of them
       when fewer are affordable than given) are split into ``n_folds`` folds. For
       each fold, each cluster's local POD basis and the global POD basis are built
       from the *other* folds' simulations, and each held-out simulation is projected
       on every basis: its relative error (over its time steps) for every N. ``e_ij``
       is the mean over cluster ``i``'s simulations of their error on basis ``j``;
       ``g`` that on the global basis. Bases trained on too few simulations therefore
       show up as large errors — the price of many small clusters.
    2. **Expected error** of each feasible (K, N): :func:`expected_error` with ``π``
       the cluster frequencies among all the simulations given, and the confusion ``confusion[K]`` (e.g. from
       ``RomNet.report_["confusion"]``) or, when missing, the symmetric model of a
       classifier of the given ``accuracy``.
    3. **Feasibility**: K is feasible when ``budget × min_k π_k ≥ min_per_cluster``
       (every cluster gets enough simulations for its basis and for the classifier's
       stratified cross-validation) and every cluster has a simulation in the budget's
       subset; an infeasible K gets no error (``inf``).
    4. **Choice**: the threshold is ``tol`` when some feasible pair reaches it, else
       ``(1 + rtol) ×`` the smallest expected error. N is the smallest candidate for
       which a feasible K reaches the threshold (online cost grows with N); K is the
       smallest feasible K whose error is within ``(1 + rtol)`` of the best at that N
       (fewer clusters: fewer bases, more simulations each, an easier classifier).

    Parameters
    ----------
    snapshots_per_simulation : sequence of (n_steps_s, n_dofs) arrays
        Each training simulation's snapshots.
    candidate_K, candidate_N : sequences of int
    budget : int, optional
        Training simulations the dictionary will be built from; default all given.
    clusters : mapping K → labels, or callable K → labels
        ``(n_simulations,)`` integer cluster of each given simulation for each K
        (e.g. k-medoids on a dissimilarity between simulations).
    confusion : mapping or callable K → (K, K) array, optional
    accuracy : float
        Accuracy of the symmetric confusion model used where ``confusion`` has none.
    min_per_cluster : int
    n_folds : int
        Folds over simulations (at most one simulation per fold: leave-one-out).
    tol : float, optional
        Target expected error.
    rtol : float
        Relative tolerance of the ties in favour of smaller N and K.
    inner_product : (n_dofs, n_dofs) matrix, optional
    random_state : int

    Returns
    -------
    KNChoice
    """
    sims = list(snapshots_per_simulation)
    if not sims:
        raise InputError("choose_k_n: no simulation given")
    sims = [_snapshots(s, f"simulation {i}") for i, s in enumerate(sims)]
    n_dofs = sims[0].shape[1]
    for i, s in enumerate(sims):
        if s.shape[1] != n_dofs:
            raise InputError(f"simulation {i}: {s.shape[1]} dofs per snapshot, simulation 0 has {n_dofs}")
    Ks = tuple(int(k) for k in candidate_K)
    Ns = tuple(sorted(int(n) for n in candidate_N))
    if not Ks or not Ns or min(Ks) < 1 or min(Ns) < 1:
        raise InputError(f"choose_k_n: candidates must be positive integers, found K={Ks}, N={Ns}")
    n_given = len(sims)
    budget = n_given if budget is None else int(budget)
    if budget < 2:
        raise InputError(f"choose_k_n: budget {budget} — at least two simulations are needed")
    rng = np.random.default_rng(random_state)
    used = np.arange(n_given) if budget >= n_given else np.sort(rng.choice(n_given, budget, replace=False))
    if budget > n_given:
        log.info("choose_k_n: budget %d > %d simulations given; errors estimated with the %d", budget, n_given,
                 n_given)
    n_used = len(used)
    folds = min(int(n_folds), n_used)
    if folds < 2:
        raise InputError(f"choose_k_n: n_folds must be ≥ 2, found {n_folds}")
    fold_of = np.empty(n_used, dtype=np.int64)
    fold_of[rng.permutation(n_used)] = np.arange(n_used) % folds
    used_sims = [sims[i] for i in used]
    n_max = max(Ns)

    global_sum = np.zeros(len(Ns))
    for f in range(folds):
        train = [s for s, k in zip(used_sims, fold_of) if k != f]
        modes = pod_modes(np.vstack(train), n_max, inner_product=inner_product)
        for s, k in zip(used_sims, fold_of):
            if k == f:
                global_sum += _relative_errors([s], modes, inner_product, Ns)
    global_error = global_sum / n_used

    expected = np.full((len(Ks), len(Ns)), np.inf)
    feasible = np.zeros(len(Ks), dtype=bool)
    for a, K in enumerate(Ks):
        all_labels = _labels_for(clusters, K, n_given)
        pi = np.bincount(all_labels, minlength=K) / n_given
        labels = all_labels[used]
        counts = np.bincount(labels, minlength=K)
        feasible[a] = budget * pi.min() >= min_per_cluster and counts.min() > 0
        if not feasible[a]:
            continue
        C = _confusion_for(confusion, K, accuracy)
        error_sum = np.zeros((K, K, len(Ns)))
        for f in range(folds):
            bases = []
            for j in range(K):
                block = [s for s, k, c in zip(used_sims, fold_of, labels) if k != f and c == j]
                snapshots = np.vstack(block) if block else np.zeros((0, n_dofs))   # empty basis: error 1
                bases.append(pod_modes(snapshots, n_max, inner_product=inner_product))
            for s, k, i in zip(used_sims, fold_of, labels):
                if k == f:
                    for j in range(K):
                        error_sum[i, j] += _relative_errors([s], bases[j], inner_product, Ns)
        e = error_sum / counts[:, None, None]
        for b in range(len(Ns)):
            expected[a, b] = expected_error(e[:, :, b], pi, C)
    if not feasible.any():
        raise InputError(f"choose_k_n: no candidate K gives every cluster {min_per_cluster} simulations "
                         f"out of a budget of {budget} (K candidates {list(Ks)})")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(global_error > 0, expected / global_error, np.where(expected > 0, np.inf, 1.0))

    E = np.where(feasible[:, None], expected, np.inf)
    best = float(E.min())
    if tol is not None and best <= tol:
        threshold, why = float(tol), f"smallest N reaching tol={tol:g}"
    else:
        threshold = (1 + rtol) * best
        why = ("tol not reachable: " if tol is not None else "") + \
            f"smallest N within {rtol:.0%} of the best expected error {best:.3g}"
    b = next(b for b in range(len(Ns)) if E[:, b].min() <= threshold)
    at_n = float(E[:, b].min())
    a = min((a for a in range(len(Ks)) if E[a, b] <= (1 + rtol) * at_n), key=lambda a: Ks[a])
    reason = (f"{why}; K={Ks[a]}: smallest feasible K within {rtol:.0%} of the best at N={Ns[b]} "
              f"(expected error {E[a, b]:.3g}, global basis {global_error[b]:.3g}, ratio {ratio[a, b]:.3g})")
    log.info("choose_k_n: %s", reason)
    return KNChoice(Ks[a], Ns[b], Ks, Ns, expected, global_error, ratio, feasible, reason)
