"""Dissimilarities between snapshots and between simulations, distributed by rows.

Every rank holds its rows (dofs) of the snapshots; the dissimilarities come from
inner products only, so each function forms a small *local* Gram matrix, sums it
over the ranks with ONE :func:`rom.parallel.allreduce_sum` and finishes on the small
matrix, the same on every rank. No snapshot or mode leaves its rank.

**Between snapshots** (every snapshot is an item): from the Gram matrix
``G = X M Xᵀ`` of the snapshots in the inner product ``M`` (identity, weights, or a
rank's local mass matrix: see :mod:`rom.pod.inner_product`),

- ``"angle"``: ``δ(u, v) = sin∠_M(u, v) = sqrt(1 − ⟨u,v⟩²_M / (‖u‖²_M ‖v‖²_M))`` in
  [0, 1], invariant to the scaling (and sign) of either snapshot: two snapshots of
  the same shape at different amplitudes are at distance 0. Undefined for a zero
  snapshot (:class:`~io_adapters.errors.InputError` naming it). From the Gram matrix
  the angle is resolved to about ``sqrt(eps) ≈ 1e-8``: nearly parallel snapshots
  show ``δ ≲ 1e-8`` rather than 0 (exact multiples by a power of two give 0).
- ``"euclidean"``: ``‖u − v‖_M = sqrt(G_uu + G_vv − 2 G_uv)``, the baseline.

**Between simulations** (every simulation is an item): the principal angles
``0 ≤ θ_1 ≤ … ≤ θ_m ≤ π/2`` between their truncated POD subspaces (cosines: the
singular values of ``A M Bᵀ`` for M-orthonormal bases ``A`` of ``p`` and ``B`` of
``q`` modes). For ``p ≠ q`` the ``|p − q|`` missing angles are ``π/2`` (the singular
values are padded with zeros: a direction of one subspace without a partner in the
other is orthogonal to it), so there are ``max(p, q)`` angles. Metrics:

==================  ==============================  ====================
``metric``           value                           range (``r`` angles)
==================  ==============================  ====================
``"grassmann"``      ``‖θ‖₂``                         ``[0, r^½ π/2]``
``"chordal"``        ``‖sin θ‖₂``                     ``[0, r^½]``
``"projection"``     ``sin θ_max``                    ``[0, 1]``
``"binet_cauchy"``   ``sqrt(1 − Π cos² θ)``           ``[0, 1]``
==================  ==============================  ====================

All pairs come from ONE cross-Gram matrix of the stacked bases ``V M Vᵀ`` (local,
one Allreduce); each basis is then orthonormalised on that matrix (Cholesky of its
diagonal block: bases need not be exactly orthonormal, only of full rank) and every
pair's block goes through a small SVD (batched). Same ``sqrt(eps)`` resolution of
small angles as above.

**Checks** (:func:`check_dissimilarity`): a dissimilarity matrix is square,
symmetric to round-off, finite, non-negative, with a zero diagonal.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from io_adapters.errors import ConfigError, InputError, NiromError
from rom.pod import ReducedBasis, pod
from rom.pod.inner_product import InnerProduct, agree, allreduce_sum, as_inner_product
from rom.pod.linalg import raise_on_nonfinite
from rom.pod.snapshots import snapshot_rows

__all__ = [
    "SNAPSHOT_METRICS",
    "SUBSPACE_METRICS",
    "angle_from_gram",
    "check_dissimilarity",
    "cross_snapshot_dissimilarity",
    "cross_subspace_dissimilarity",
    "euclidean_from_gram",
    "gram_coordinates",
    "principal_angles",
    "simulation_bases",
    "snapshot_dissimilarity",
    "snapshot_gram",
    "subspace_dissimilarity",
    "subspace_distance",
]

#: Dissimilarities between snapshots.
SNAPSHOT_METRICS = ("angle", "euclidean")
#: Dissimilarities between subspaces (simulations).
SUBSPACE_METRICS = ("grassmann", "chordal", "projection", "binet_cauchy")

#: Relative tolerance of :func:`check_dissimilarity` (asymmetry, negative values, diagonal).
CHECK_RTOL = 1e-10


# ================================================================ checks
def check_dissimilarity(D, *, name: str = "dissimilarity matrix", rtol: float = CHECK_RTOL) -> np.ndarray:
    """Validate a dissimilarity matrix and return it cleaned of round-off.

    Parameters
    ----------
    D : (n, n) array_like
        Dissimilarities between ``n ≥ 1`` items.
    name : str
        What ``D`` is, for the messages.
    rtol : float
        Asymmetry, negative values and diagonal entries up to ``rtol · max|D|`` are
        round-off.

    Returns
    -------
    (n, n) float64 array
        ``(D + Dᵀ) / 2`` clipped at 0 with an exact zero diagonal (a new array).

    Raises
    ------
    InputError
        Not numeric, not square, empty, NaN or infinite entries, asymmetric beyond
        round-off, negative entries, nonzero diagonal (the message names the first
        offending entry).
    """
    try:
        A = np.asarray(D, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{name}: expected a square array of numbers, found {type(D).__name__}") from None
    if A.ndim != 2 or A.shape[0] != A.shape[1] or A.shape[0] == 0:
        raise InputError(f"{name}: expected a non-empty square (n, n) array, found shape {A.shape}")
    if not np.isfinite(A.sum()) and not np.all(np.isfinite(A)):
        i, j = np.argwhere(~np.isfinite(A))[0]
        raise InputError(f"{name}: entry ({i}, {j}) is {float(A[i, j])!r}; dissimilarities must be finite")
    scale = float(np.abs(A).max())
    bound = rtol * scale
    asymmetry = np.abs(A - A.T)
    if asymmetry.max() > bound:
        i, j = np.unravel_index(int(np.argmax(asymmetry)), A.shape)
        raise InputError(f"{name}: not symmetric: entry ({i}, {j}) is {float(A[i, j])!r} but ({j}, {i}) is "
                         f"{float(A[j, i])!r} "
                         f"(tolerance {bound:.3g})")
    diagonal = np.abs(np.diagonal(A))
    if diagonal.max() > bound:
        i = int(np.argmax(diagonal))
        raise InputError(f"{name}: the diagonal must be zero (an item is at distance 0 from itself); "
                         f"entry ({i}, {i}) is {float(A[i, i])!r}")
    if A.min() < -bound:
        i, j = np.unravel_index(int(np.argmin(A)), A.shape)
        raise InputError(f"{name}: dissimilarities must be ≥ 0; entry ({i}, {j}) is {float(A[i, j])!r}")
    out = 0.5 * (A + A.T)
    np.maximum(out, 0.0, out=out)
    np.fill_diagonal(out, 0.0)
    return out


def _check_metric(metric: str, allowed: tuple[str, ...], where: str) -> str:
    if metric not in allowed:
        raise ConfigError(f"{where}: metric must be one of {allowed}, found {metric!r}")
    return metric


# ================================================================ between snapshots
def snapshot_gram(X, *, inner_product=None, comm=None, where: str = "snapshot_gram") -> np.ndarray:
    """Global Gram matrix ``G = X M Xᵀ`` of distributed snapshots (one Allreduce).

    Parameters
    ----------
    X : (n_snapshots, n_local_dofs) array
        This rank's rows of every snapshot (the same snapshots, in the same order, on
        every rank).
    inner_product : None, InnerProduct, (n_local_dofs,) weights or (n_local_dofs, n_local_dofs) matrix
        This rank's part of the inner product (:func:`rom.pod.as_inner_product`);
        identity when omitted.
    comm : mpi4py communicator, optional
        Ranks holding the other rows; serial when omitted.
    where : str
        Caller's name, for the messages.

    Returns
    -------
    (n_snapshots, n_snapshots) array
        Symmetric, the same on every rank.

    Raises
    ------
    InputError
        Snapshots not 2D or empty, inner product of the wrong shape, NaN/inf values
        (naming the snapshot), ranks holding different numbers of snapshots; under
        MPI on every rank.
    """
    error, rows, product = None, None, None
    try:
        rows = snapshot_rows(X, where=where)
        product = as_inner_product(inner_product, rows.shape[1], where=where)
    except NiromError as exc:
        error = exc
    agree(comm, error, count=None if rows is None else rows.shape[0], where=where)
    gram = allreduce_sum(product.gram(rows), comm)            # the one reduction
    raise_on_nonfinite(np.diag(gram), where=where)
    return gram


def _norms(squared: np.ndarray, where: str, label: str = "snapshot") -> np.ndarray:
    """Inner-product norms; InputError naming the first zero one (its angle is undefined)."""
    zero = np.flatnonzero(squared <= 0.0)
    if zero.size:
        more = f" (and {zero.size - 1} more)" if zero.size > 1 else ""
        raise InputError(f"{where}: {label} {zero[0]} is zero in the inner product{more}: its angle to the others "
                         "is undefined (drop it, or use metric='euclidean')")
    return np.sqrt(squared)


def _sine(cosines: np.ndarray) -> np.ndarray:
    """``sqrt(1 − c²)`` of cosines clipped to [−1, 1] (in place on the argument)."""
    np.clip(cosines, -1.0, 1.0, out=cosines)
    np.abs(cosines, out=cosines)
    return np.sqrt((1.0 - cosines) * (1.0 + cosines))


def angle_from_gram(G: np.ndarray, *, where: str = "angle dissimilarity") -> np.ndarray:
    """Angle dissimilarities ``sin∠(x_i, x_j)`` from a Gram matrix.

    Parameters
    ----------
    G : (n, n) array
        Gram matrix of the snapshots in the inner product (global, symmetric).
    where : str
        Caller's name, for the messages.

    Returns
    -------
    (n, n) array
        Symmetric, values in [0, 1], exact zeros on the diagonal.

    Raises
    ------
    InputError
        A zero snapshot (its index named).
    """
    norms = _norms(np.diag(G).copy(), where)
    inverse = 1.0 / norms
    D = _sine(G * inverse[:, None] * inverse[None, :])
    D = 0.5 * (D + D.T)
    np.fill_diagonal(D, 0.0)
    return D


def euclidean_from_gram(G: np.ndarray) -> np.ndarray:
    """Distances ``‖x_i − x_j‖_M`` from a Gram matrix.

    Parameters
    ----------
    G : (n, n) array
        Gram matrix of the snapshots in the inner product (global, symmetric).

    Returns
    -------
    (n, n) array
        Symmetric, ≥ 0, exact zeros on the diagonal.
    """
    d = np.diag(G)
    squared = d[:, None] + d[None, :] - 2.0 * G
    D = np.sqrt(np.maximum(squared, 0.0))
    D = 0.5 * (D + D.T)
    np.fill_diagonal(D, 0.0)
    return D


def gram_coordinates(G: np.ndarray) -> np.ndarray:
    """Coordinates of the snapshots in an orthonormal basis of their span, from their Gram matrix.

    ``Y Yᵀ = G`` (to round-off), so ``‖y_i − y_j‖₂ = ‖x_i − x_j‖_M``: Euclidean
    algorithms (k-means) run on ``Y`` exactly as on the distributed snapshots.

    Parameters
    ----------
    G : (n, n) array
        Gram matrix (global, symmetric positive semi-definite).

    Returns
    -------
    (n, r) array
        ``r``: eigenvalues above ``n · eps · λ_max`` (at least 1).
    """
    from rom.pod.linalg import symmetric_eigen

    values, vectors = symmetric_eigen(G)
    resolution = max(G.shape[0], 8) * np.finfo(float).eps * (values[0] if values.size else 0.0)
    r = max(1, int(np.count_nonzero(values > resolution)))
    return vectors[:, :r] * np.sqrt(values[:r])


def snapshot_dissimilarity(X, *, metric: str = "angle", inner_product=None, comm=None) -> np.ndarray:
    """Dissimilarity matrix between distributed snapshots.

    Parameters
    ----------
    X : (n_snapshots, n_local_dofs) array
        This rank's rows of every snapshot.
    metric : {"angle", "euclidean"}
        ``sin∠_M`` (scale-invariant, in [0, 1]) or ``‖u − v‖_M`` (see the module docstring).
    inner_product : None, InnerProduct, weights or matrix
        This rank's part of the inner product; identity when omitted.
    comm : mpi4py communicator, optional
        Ranks holding the other rows; serial when omitted.

    Returns
    -------
    (n_snapshots, n_snapshots) array
        Symmetric, ≥ 0, exact zero diagonal; the same on every rank.

    Raises
    ------
    ConfigError
        Unknown metric.
    InputError
        Bad snapshots or inner product (see :func:`snapshot_gram`); with ``"angle"``,
        a zero snapshot (its index named).
    """
    _check_metric(metric, SNAPSHOT_METRICS, "snapshot_dissimilarity")
    G = snapshot_gram(X, inner_product=inner_product, comm=comm, where="snapshot_dissimilarity")
    if metric == "angle":
        return angle_from_gram(G, where="snapshot_dissimilarity")
    return euclidean_from_gram(G)


def cross_snapshot_dissimilarity(X, Y, *, metric: str = "angle", inner_product=None, comm=None) -> np.ndarray:
    """Dissimilarities between two sets of distributed snapshots (one Allreduce).

    Parameters
    ----------
    X : (n_x, n_local_dofs) array
    Y : (n_y, n_local_dofs) array
        This rank's rows of the snapshots of each set.
    metric : {"angle", "euclidean"}
    inner_product : None, InnerProduct, weights or matrix
    comm : mpi4py communicator, optional

    Returns
    -------
    (n_x, n_y) array
        ``δ(x_i, y_j)``, the same on every rank.

    Raises
    ------
    ConfigError
        Unknown metric.
    InputError
        Bad snapshots, sets of different local sizes, a zero snapshot with ``"angle"``
        (naming the set and the index).
    """
    where = "cross_snapshot_dissimilarity"
    _check_metric(metric, SNAPSHOT_METRICS, where)
    error, A, B, product = None, None, None, None
    try:
        A = snapshot_rows(X, where=f"{where} (X)")
        B = snapshot_rows(Y, where=f"{where} (Y)")
        if A.shape[1] != B.shape[1]:
            raise InputError(f"{where}: X has {A.shape[1]} local dofs (columns), Y has {B.shape[1]}")
        product = as_inner_product(inner_product, A.shape[1], where=where)
    except NiromError as exc:
        error = exc
    agree(comm, error, count=None if A is None else (A.shape[0], B.shape[0]), where=where)
    nx, ny = A.shape[0], B.shape[0]
    local = np.concatenate([product.cross(A, B).ravel(), product.squared_norms(A), product.squared_norms(B)])
    total = allreduce_sum(local, comm)                        # the one reduction
    cross, sx, sy = total[:nx * ny].reshape(nx, ny), total[nx * ny:nx * ny + nx], total[nx * ny + nx:]
    raise_on_nonfinite(sx, where=where, label="snapshot of X")
    raise_on_nonfinite(sy, where=where, label="snapshot of Y")
    if metric == "euclidean":
        return np.sqrt(np.maximum(sx[:, None] + sy[None, :] - 2.0 * cross, 0.0))
    nx_norm = _norms(sx, where, "snapshot of X")
    ny_norm = _norms(sy, where, "snapshot of Y")
    return _sine(cross / nx_norm[:, None] / ny_norm[None, :])


# ================================================================ between subspaces
def subspace_distance(theta, *, metric: str = "grassmann") -> np.ndarray:
    """A subspace metric from principal angles.

    Parameters
    ----------
    theta : (..., r) array
        Principal angles in [0, π/2] along the last axis (the ``|p − q|`` missing
        angles of subspaces of unequal dimensions included as ``π/2``). Entries equal
        to 0 contribute nothing to any metric, so rows of different lengths can be
        padded with zeros.
    metric : {"grassmann", "chordal", "projection", "binet_cauchy"}

    Returns
    -------
    (...) array
        ``‖θ‖₂``, ``‖sin θ‖₂``, ``sin θ_max`` or ``sqrt(1 − Π cos² θ)``.
    """
    _check_metric(metric, SUBSPACE_METRICS, "subspace_distance")
    theta = np.asarray(theta, dtype=np.float64)
    if metric == "grassmann":
        return np.sqrt(np.sum(theta**2, axis=-1))
    if metric == "chordal":
        return np.sqrt(np.sum(np.sin(theta) ** 2, axis=-1))
    if metric == "projection":
        return np.sin(np.max(theta, axis=-1, initial=0.0))
    return np.sqrt(np.clip(1.0 - np.prod(np.cos(theta) ** 2, axis=-1), 0.0, 1.0))


def _modes_of(basis, index: int, where: str) -> np.ndarray:
    modes = basis.modes if isinstance(basis, ReducedBasis) else basis
    try:
        modes = np.asarray(modes, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{where}: basis {index} must be a ReducedBasis or a numeric (n_modes, n_local_dofs) "
                         f"array, found {type(basis).__name__}") from None
    if modes.ndim != 2 or modes.shape[0] == 0:
        raise InputError(f"{where}: basis {index} must be a (n_modes ≥ 1, n_local_dofs) array, found shape "
                         f"{modes.shape}")
    return modes


def _bases_product(bases: Sequence, inner_product, n_dofs: int, where: str) -> InnerProduct:
    """The explicit inner product, else the ReducedBases' own (one kind for all), else the identity."""
    if inner_product is not None:
        return as_inner_product(inner_product, n_dofs, where=where)
    reduced = [(i, b) for i, b in enumerate(bases) if isinstance(b, ReducedBasis)]
    kinds = {b.inner_product for _, b in reduced}
    if len(kinds) > 1:
        raise InputError(f"{where}: the bases use different inner products ({sorted(kinds)}); give inner_product=")
    if reduced and reduced[0][1].inner_product != "identity":
        i, first = reduced[0]
        if first.metric is None:
            raise InputError(f"{where}: basis {i} uses the {first.inner_product!r} inner product, which is not "
                             "attached (a basis read from a file?): give inner_product=")
        return as_inner_product(first.metric, n_dofs, where=where)
    return as_inner_product(None, n_dofs, where=where)


def _stacked_bases(bases: Sequence, inner_product, comm, where: str):
    """Validate, stack, ONE Allreduce of the cross-Gram, orthonormalise each block on it.

    Returns
    -------
    W : (N, N) array
        Cross-Gram of the orthonormalised bases (identity diagonal blocks).
    sizes : (n_bases,) int array
        Modes per basis.
    """
    error, stacked, product, sizes = None, None, None, None
    try:
        if isinstance(bases, (np.ndarray, ReducedBasis)) or not isinstance(bases, Sequence) or len(bases) == 0:
            raise InputError(f"{where}: expected a non-empty list of bases (ReducedBasis or (n_modes, n_local_dofs) "
                             f"arrays), found {type(bases).__name__}")
        modes = [_modes_of(b, i, where) for i, b in enumerate(bases)]
        widths = {m.shape[1] for m in modes}
        if len(widths) > 1:
            bad = next(i for i, m in enumerate(modes) if m.shape[1] != modes[0].shape[1])
            raise InputError(f"{where}: basis {bad} has {modes[bad].shape[1]} local dofs (columns), basis 0 has "
                             f"{modes[0].shape[1]}")
        product = _bases_product(bases, inner_product, modes[0].shape[1], where)
        sizes = np.array([m.shape[0] for m in modes])
        stacked = modes[0] if len(modes) == 1 else np.concatenate(modes, axis=0)
    except NiromError as exc:
        error = exc
    agree(comm, error, count=None if sizes is None else tuple(sizes.tolist()), what="modes per basis", where=where)
    W = allreduce_sum(product.gram(stacked), comm)           # the one reduction of the modes
    bad = np.flatnonzero(~np.isfinite(np.diag(W)))
    if bad.size:
        basis = int(np.searchsorted(np.cumsum(sizes), bad[0], side="right"))
        raise InputError(f"{where}: basis {basis} holds NaN or infinite values (on at least one rank)")
    return _orthonormalised(W, sizes, where), sizes


def _orthonormalised(W: np.ndarray, sizes: np.ndarray, where: str) -> np.ndarray:
    """``T W Tᵀ`` with ``T`` block-diagonal, ``T_b = L_b⁻¹`` (``L_b L_bᵀ`` = diagonal block ``b``)."""
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    inverses = []
    for b in range(sizes.size):
        block = W[offsets[b]:offsets[b + 1], offsets[b]:offsets[b + 1]]
        try:
            L = np.linalg.cholesky(block)
            pivots = np.diag(L) ** 2
            if pivots.min() <= 1e-12 * max(np.diag(block).max(), np.finfo(float).tiny):
                raise np.linalg.LinAlgError
        except np.linalg.LinAlgError:
            raise InputError(f"{where}: basis {b} is not of full rank in the inner product (its {sizes[b]} modes are "
                             "linearly dependent, or zero)") from None
        inverses.append(np.linalg.inv(L))
    out = np.empty_like(W)
    for b in range(sizes.size):                               # rows: L_b⁻¹ W[b, :]
        rows = slice(offsets[b], offsets[b + 1])
        out[rows] = inverses[b] @ W[rows]
    for b in range(sizes.size):                               # columns: (…) L_b⁻ᵀ
        cols = slice(offsets[b], offsets[b + 1])
        out[:, cols] = out[:, cols] @ inverses[b].T
    return out


def _angles_to(W: np.ndarray, sizes: np.ndarray, a: int, targets: np.ndarray) -> np.ndarray:
    """Principal angles between basis ``a`` and each basis of ``targets`` (a contiguous range).

    Returns
    -------
    (len(targets), r_max) array
        Angles ascending, ``π/2`` for the missing ones of unequal dimensions, 0 after
        the ``max(p_a, p_b)`` angles of each pair (neutral in every metric).
    """
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    r_max = int(sizes.max())
    first, last = int(targets[0]), int(targets[-1]) + 1
    cols = np.arange(offsets[first], offsets[last])
    owner = np.repeat(np.arange(first, last), sizes[first:last]) - first
    position = cols - offsets[first + owner]
    blocks = np.zeros((last - first, r_max, r_max))
    p = int(sizes[a])
    blocks[owner, :p, position] = W[offsets[a]:offsets[a] + p, cols].T
    sigma = np.linalg.svd(blocks, compute_uv=False)          # (n, r_max), decreasing; padded zeros → π/2
    theta = np.arccos(np.clip(sigma, 0.0, 1.0))
    counts = np.maximum(p, sizes[first:last])
    theta[np.arange(r_max)[None, :] >= counts[:, None]] = 0.0
    return theta


def subspace_dissimilarity(bases: Sequence, *, metric: str = "grassmann", inner_product=None,
                           comm=None) -> np.ndarray:
    """Dissimilarity matrix between subspaces (one per simulation) from their principal angles.

    Parameters
    ----------
    bases : list of ReducedBasis or (n_modes_s, n_local_dofs) arrays
        This rank's rows of each basis (full rank in the inner product; M-orthonormal
        bases such as :func:`rom.pod.pod`'s need no correction, others are
        orthonormalised on the cross-Gram matrix). Ranks may differ between bases.
    metric : {"grassmann", "chordal", "projection", "binet_cauchy"}
        See the module docstring.
    inner_product : None, InnerProduct, weights or matrix
        This rank's part of the inner product; when omitted, the ReducedBases' own
        (:attr:`ReducedBasis.metric`), or the identity for arrays.
    comm : mpi4py communicator, optional
        Ranks holding the other rows; serial when omitted.

    Returns
    -------
    (n_bases, n_bases) array
        Symmetric, ≥ 0, exact zero diagonal; the same on every rank.

    Raises
    ------
    ConfigError
        Unknown metric.
    InputError
        Empty list, bases of different local sizes, a rank-deficient or non-finite
        basis (named), inner product of the wrong shape; under MPI on every rank.
    """
    where = "subspace_dissimilarity"
    _check_metric(metric, SUBSPACE_METRICS, where)
    W, sizes = _stacked_bases(bases, inner_product, comm, where)
    n = sizes.size
    D = np.zeros((n, n))
    for a in range(n - 1):
        theta = _angles_to(W, sizes, a, np.arange(a + 1, n))
        D[a, a + 1:] = subspace_distance(theta, metric=metric)
    return D + D.T


def cross_subspace_dissimilarity(bases_a: Sequence, bases_b: Sequence, *, metric: str = "grassmann",
                                 inner_product=None, comm=None) -> np.ndarray:
    """Dissimilarities between two lists of subspaces (one Allreduce).

    Parameters
    ----------
    bases_a, bases_b : lists of ReducedBasis or (n_modes, n_local_dofs) arrays
        See :func:`subspace_dissimilarity`.
    metric : {"grassmann", "chordal", "projection", "binet_cauchy"}
    inner_product : None, InnerProduct, weights or matrix
    comm : mpi4py communicator, optional

    Returns
    -------
    (len(bases_a), len(bases_b)) array
        The same on every rank.
    """
    where = "cross_subspace_dissimilarity"
    _check_metric(metric, SUBSPACE_METRICS, where)
    if not isinstance(bases_a, Sequence) or not isinstance(bases_b, Sequence) or not bases_a or not bases_b:
        raise InputError(f"{where}: expected two non-empty lists of bases")
    W, sizes = _stacked_bases(list(bases_a) + list(bases_b), inner_product, comm, where)
    na = len(bases_a)
    targets = np.arange(na, sizes.size)
    return np.stack([subspace_distance(_angles_to(W, sizes, a, targets), metric=metric) for a in range(na)])


def principal_angles(A, B, *, inner_product=None, comm=None) -> np.ndarray:
    """Principal angles between two subspaces.

    Parameters
    ----------
    A : ReducedBasis or (p, n_local_dofs) array
    B : ReducedBasis or (q, n_local_dofs) array
        This rank's rows of a basis of each subspace (full rank in the inner product;
        orthonormalised here).
    inner_product : None, InnerProduct, weights or matrix
        As in :func:`subspace_dissimilarity`.
    comm : mpi4py communicator, optional

    Returns
    -------
    (max(p, q),) array
        ``θ_1 ≤ … ≤ θ_max(p,q)`` in [0, π/2]; the ``|p − q|`` last ones are ``π/2``.
        The same on every rank.
    """
    W, sizes = _stacked_bases([A, B], inner_product, comm, "principal_angles")
    return _angles_to(W, sizes, 0, np.array([1]))[0, :int(sizes.max())]


def simulation_bases(simulations: Sequence, *, rank: int | None = None, tol: float | None = None,
                     inner_product=None, comm=None) -> list[ReducedBasis]:
    """The truncated POD subspace of each simulation.

    Parameters
    ----------
    simulations : list of (n_snapshots_s, n_local_dofs) arrays
        This rank's rows of each simulation's snapshots.
    rank : int, optional
        Modes per simulation.
    tol : float, optional
        Energy tolerance instead (each simulation's rank from :func:`rom.pod.pod`'s
        criterion: ranks may differ). Exactly one of ``rank`` and ``tol``.
    inner_product : None, InnerProduct, weights or matrix
        This rank's part of the inner product (the same for every simulation: one
        mesh); identity when omitted.
    comm : mpi4py communicator, optional

    Returns
    -------
    list of ReducedBasis
        One per simulation, M-orthonormal (one Allreduce each).

    Raises
    ------
    ConfigError, InputError
        As :func:`rom.pod.pod`, the message prefixed with the simulation's index
        (e.g. ``rank`` above its snapshot count or numerical rank).
    """
    from rom.pod.truncation import check_criteria

    check_criteria(tol, rank, where="simulation_bases (tol or rank)")
    if isinstance(simulations, np.ndarray) or not isinstance(simulations, Sequence) or len(simulations) == 0:
        raise InputError("simulation_bases: expected a non-empty list of (n_snapshots, n_local_dofs) arrays")
    bases: list[ReducedBasis] = []
    for index, rows in enumerate(simulations):
        product = inner_product if not bases else bases[0].metric     # validated once, by pod (on every rank)
        try:
            bases.append(pod(rows, inner_product=product, tol=tol, n_modes=rank, comm=comm))
        except NiromError as exc:
            raise type(exc)(f"simulation {index}: {exc}") from exc
    return bases
