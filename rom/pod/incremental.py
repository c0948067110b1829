"""Incremental POD: add snapshots to a basis without its old snapshots (Brand's SVD update).

With the basis ``Φ`` (``n`` modes, M-orthonormal) and its singular values ``σ``, the
old snapshots are represented by ``Φᵀ diag(σ) Vᵀ`` (``V`` is never needed). For new
snapshots ``X`` (``p`` rows), in the inner product ``M`` (Brand 2006, generalised to
``M``):

1. ``A = Φ M Xᵀ`` (projection) and the residual ``R = X − Aᵀ Φ``, orthogonalised
   against ``Φ`` twice (classical Gram–Schmidt, re-orthogonalised);
2. an M-orthonormal basis ``Q`` of the residual from its ``p × p`` Gram matrix;
   directions below round-off are dropped (their energy is accounted for), ``Q`` is
   cleaned once more against ``Φ`` and itself (one Cholesky pass);
3. the core matrix ``K = [[diag(σ), A], [0, Q M Xᵀ]]`` (``(n + q) × (n + p)``) and its
   SVD ``K = U diag(s) Wᵀ``;
4. the new modes ``Φ' = U[:, :n']ᵀ [Φ; Q]`` (a rotation), singular values ``s``.

When nothing is truncated this equals the POD of all the snapshots; the energy of
every mode dropped so far (the old basis's singular values beyond its modes, its
``discarded_energy``, residual round-off) is carried in ``discarded_energy`` so that
``tol`` still bounds the relative projection error of *all* the snapshots, old and
new: the dropped parts have orthogonal right singular vectors, so their energies add.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla

from io_adapters.errors import ConfigError, InputError, NiromError
from rom.pod.basis import ReducedBasis
from rom.pod.inner_product import agree, allreduce_sum, as_inner_product
from rom.pod.linalg import cholesky_inverse, fix_signs, orthonormalize, raise_on_nonfinite, symmetric_eigen
from rom.pod.snapshots import snapshot_rows
from rom.pod.truncation import check_criteria, truncation_rank

__all__ = ["update"]

_EPS = np.finfo(float).eps

#: A residual direction is kept when its norm exceeds this many ``eps ‖X‖_F``.
RESIDUAL_FLOOR = 1e3


def update(basis: ReducedBasis, new_snapshots: np.ndarray, *, inner_product=None, tol: float | None = None,
           n_modes: int | None = None, comm=None) -> ReducedBasis:
    """The basis of the old and the new snapshots, from the basis and the new snapshots only.

    Parameters
    ----------
    basis : ReducedBasis
        The current basis (its ``singular_values[:n_modes]`` weight its modes).
    new_snapshots : (p, n_local_dofs) array
        This rank's rows of the new snapshots.
    inner_product : None, (n_local_dofs,) array or (n_local_dofs, n_local_dofs) matrix, optional
        The basis's inner product (of the same kind); the one attached to the basis
        when omitted.
    tol : float, optional
        Bound on the relative projection error of all the snapshots (old and new);
        the basis's ``tolerance`` when neither ``tol`` nor ``n_modes`` is given.
    n_modes : int, optional
        Number of modes instead (≤ ``basis.n_modes + p``).
    comm : mpi4py communicator, optional
        The basis's ``comm`` when omitted.

    Returns
    -------
    ReducedBasis
        ``singular_values`` those of the core matrix (``n + q`` of them, ``q ≤ p``
        new directions), ``n_snapshots`` old + new, ``discarded_energy`` everything
        dropped so far.

    Raises
    ------
    ConfigError
        No criterion (and the basis has no ``tolerance``), both criteria, an inner
        product of another kind than the basis's, or none attached.
    InputError
        Shapes, NaN/inf values (naming the new snapshot), ranks disagreeing.
    """
    where = "update"
    if tol is None and n_modes is None:
        if basis.tolerance is None:
            raise ConfigError("update: give tol or n_modes (the basis was built with a fixed number of modes, it "
                              "carries no tolerance to reuse)")
        tol = basis.tolerance
    tol, n_modes = check_criteria(tol, n_modes, where=where)
    comm = basis.comm if comm is None else comm
    error, X, product = None, None, None
    try:
        X = snapshot_rows(new_snapshots, where=where)
        if X.shape[1] != basis.n_local_dofs:
            raise InputError(f"update: the new snapshots have {X.shape[1]} local dofs (columns), the basis "
                             f"{basis.n_local_dofs}")
        if inner_product is None:
            product = basis._product()
        else:
            product = as_inner_product(inner_product, X.shape[1], where=where)
            if product.kind != basis.inner_product:
                raise ConfigError(f"update: the basis is orthonormal in the '{basis.inner_product}' inner product, "
                                  f"got a '{product.kind}' one")
    except NiromError as exc:
        error = exc
    agree(comm, error, count=None if X is None else X.shape[0], what="new snapshots", where=where)

    Phi, n, p = basis.modes, basis.n_modes, X.shape[0]
    sigma = basis.singular_values[:n]

    # 1. projection on the modes and the new snapshots' norms: one reduction
    first = np.empty((n + 1, p))
    first[:n] = product.cross(Phi, X)
    first[n] = product.squared_norms(X)
    first = allreduce_sum(first, comm)
    raise_on_nonfinite(first[n], where=where, label="new snapshot")
    A, energy = first[:n], float(first[n].sum())
    residual = X - A.T @ Phi
    correction = allreduce_sum(product.cross(Phi, residual), comm)      # Gram–Schmidt, twice
    residual -= correction.T @ Phi
    A += correction

    # 2. M-orthonormal basis of the residual; directions under round-off dropped
    mu, U = symmetric_eigen(allreduce_sum(product.gram(residual), comm))
    floor = max(mu[0] * max(p, 8) * _EPS, (RESIDUAL_FLOOR * _EPS) ** 2 * energy)
    q = int(np.count_nonzero(mu > floor))
    dropped = float(mu[q:].sum())
    Q = (U[:, :q] / np.sqrt(mu[:q])).T @ residual
    del residual
    if q:                                   # Q against Φ and itself once more, and Q M Xᵀ: one reduction
        stacked = np.empty((q, n + q + p))
        stacked[:, :n] = product.cross(Q, Phi)
        stacked[:, n:n + q] = product.gram(Q)
        stacked[:, n + q:] = product.cross(Q, X)
        stacked = allreduce_sum(stacked, comm)
        C = stacked[:, :n]
        inverse = cholesky_inverse(stacked[:, n:n + q] - C @ C.T, where=where)
        Q = inverse @ (Q - C @ Phi)[:inverse.shape[0]]
        QX = inverse @ (stacked[:, n + q:] - C @ A)[:inverse.shape[0]]
        q = Q.shape[0]
    else:
        QX = np.zeros((0, p))

    # 3. core matrix and its SVD (the same on every rank)
    core = np.zeros((n + q, n + p))
    core[:n, :n] = np.diag(sigma)
    core[:n, n:] = A
    core[n:, n:] = QX
    left, s, _ = sla.svd(core, full_matrices=False, check_finite=False)
    left = fix_signs(left)
    discarded = basis.discarded_energy + float(np.sum(basis.singular_values[n:] ** 2)) + dropped
    kept = truncation_rank(s**2, tol=tol, n_modes=n_modes, discarded=discarded, where=where,
                           resolution=(max(core.shape) * _EPS * s[0]) ** 2)

    # 4. rotate
    modes = left[:n, :kept].T @ Phi + left[n:, :kept].T @ Q
    modes = orthonormalize(modes, product, comm, where=where)
    return ReducedBasis(modes=modes, singular_values=s, inner_product=product.kind, tolerance=tol,
                        n_snapshots=basis.n_snapshots + p, discarded_energy=discarded, metric=product, comm=comm)
