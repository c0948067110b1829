"""Small dense linear algebra shared by the POD variants (identical on every rank).

Every rank factorises the same reduced matrices (after an ``Allreduce`` they are
bit-identical), so every rank builds the same coefficients; a fixed sign convention
(the largest entry of each eigen/singular vector is positive) keeps the modes of the
ranks consistent even if the matrices differed by round-off.
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.linalg as sla

from io_adapters.errors import InputError
from rom.pod.inner_product import InnerProduct, allreduce_sum

__all__ = ["cholesky_inverse", "fix_signs", "orthonormalize", "raise_on_nonfinite", "symmetric_eigen"]

log = logging.getLogger(__name__)

#: Smallest squared Cholesky pivot of a mode accepted by :func:`orthonormalize`: a mode
#: with less of its norm outside the span of the previous ones is numerically dependent.
MIN_PIVOT = 1e-2


def fix_signs(vectors: np.ndarray) -> np.ndarray:
    """Flip columns so that the entry of largest magnitude of each is positive.

    Parameters
    ----------
    vectors : (m, k) array

    Returns
    -------
    (m, k) array
        A new array (or the input when ``m == 0``).
    """
    if vectors.size == 0:
        return vectors
    pivot = np.argmax(np.abs(vectors), axis=0)
    signs = np.where(vectors[pivot, np.arange(vectors.shape[1])] < 0, -1.0, 1.0)
    return vectors * signs


def symmetric_eigen(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenpairs of a symmetric positive semi-definite matrix, decreasing, clipped at 0.

    Parameters
    ----------
    matrix : (n, n) array
        Finite, symmetric (the lower triangle is used).

    Returns
    -------
    eigenvalues : (n,) array
        Decreasing, ≥ 0.
    eigenvectors : (n, n) array
        Columns, orthonormal, signs fixed by :func:`fix_signs`.
    """
    values, vectors = sla.eigh(matrix, check_finite=False)
    return np.clip(values[::-1], 0.0, None), fix_signs(vectors[:, ::-1])


def raise_on_nonfinite(squared_norms: np.ndarray, *, where: str, offset: int = 0, label: str = "snapshot") -> None:
    """InputError naming the snapshots whose squared norm (summed over ranks) is not finite.

    Parameters
    ----------
    squared_norms : (k,) array
        Global ``(x_i, x_i)``; NaN/inf entries come from NaN/inf snapshot values.
    where : str
        Caller's name.
    offset : int
        Index of the first of these snapshots (blocks of a stream).
    label : str
        What the rows are, for the message.
    """
    bad = np.flatnonzero(~np.isfinite(squared_norms))
    if bad.size:
        more = f" (and {bad.size - 1} more: {(bad[1:6] + offset).tolist()}{'…' if bad.size > 6 else ''})" \
            if bad.size > 1 else ""
        raise InputError(f"{where}: {label} {bad[0] + offset} holds NaN or infinite values{more} "
                         "(on at least one rank)")


def cholesky_inverse(gram: np.ndarray, *, where: str = "pod") -> np.ndarray:
    """``L⁻¹`` of the Cholesky factor ``L Lᵀ = G`` of nearly orthonormal vectors' Gram matrix.

    A vector whose squared pivot falls below :data:`MIN_PIVOT` is numerically in the
    span of the previous ones: the factor stops before it (logged), so the vectors
    after it are dropped too.

    Parameters
    ----------
    gram : (n, n) array
        Symmetric, close to the identity.

    Returns
    -------
    (k, k) array
        Lower triangular, positive diagonal; ``k ≤ n`` vectors kept (``k = 0`` when
        ``n = 0``).

    Raises
    ------
    InputError
        The first vector is numerically zero.
    """
    n = gram.shape[0]
    if n == 0:
        return np.zeros((0, 0))
    factor, info = sla.lapack.dpotrf(gram, lower=1, clean=1)
    kept = n if info == 0 else info - 1
    weak = np.flatnonzero(np.diag(factor)[:kept] ** 2 < MIN_PIVOT)
    if weak.size:
        kept = int(weak[0])
    if kept == 0:
        raise InputError(f"{where}: the modes are numerically zero in the inner product (squared norm of the first: "
                         f"{gram[0, 0]!r})")
    if kept < n:
        log.info("%s: %d of %d modes are numerically dependent after round-off; keeping %d", where, n - kept, n, kept)
    return sla.solve_triangular(factor[:kept, :kept], np.eye(kept), lower=True, check_finite=False)


def orthonormalize(modes: np.ndarray, product: InnerProduct, comm=None, *, where: str = "pod") -> np.ndarray:
    """One Cholesky (Gram–Schmidt) pass in the global inner product: ``Φ ← L⁻¹ Φ``, ``L Lᵀ = Φ M Φᵀ``.

    The modes keep their order and direction up to the round-off this pass removes
    (``L`` is lower triangular with a positive diagonal); numerically dependent modes
    are dropped (:func:`cholesky_inverse`), never returned unnormalised.

    Parameters
    ----------
    modes : (n_modes, n_local_dofs) array
        Nearly orthonormal modes (this rank's rows).
    product : InnerProduct
    comm : mpi4py communicator, optional

    Returns
    -------
    (n_kept, n_local_dofs) array
        Orthonormal to round-off in the global inner product.
    """
    if modes.shape[0] == 0:
        return modes
    inverse = cholesky_inverse(allreduce_sum(product.gram(modes), comm), where=where)
    return inverse @ modes[:inverse.shape[0]]
