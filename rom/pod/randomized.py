"""Randomized POD: a Gaussian range finder with power iterations, distributed.

For many snapshots and few modes, the Gram matrix ``C = S M Sᵀ`` (``n_snapshots²``
entries, ``O(n_snapshots² n_dofs)`` flops) is never formed; only its action on ``l``
vectors is, ``C Z = S M (Zᵀ S)ᵀ``, one ``Allreduce`` of an ``(n_snapshots, l)`` block
each (Halko, Martinsson & Tropp 2011, algorithm 4.4, on the M-weighted snapshot
matrix):

1. ``Z = qr(Ω)``, ``Ω`` an ``(n_snapshots, l)`` Gaussian sketch, ``l = n_modes +
   oversampling``; the same on every rank (the ``seed`` is shared).
2. ``power_iterations`` times: ``Z = qr(C Z)`` (subspace iteration; the QR of the
   small block keeps the sketch well conditioned).
3. Rayleigh–Ritz: ``H = Zᵀ C Z = Y M Yᵀ`` with ``Y = Zᵀ S``; ``H = U Λ Uᵀ``; the
   Ritz values ``sqrt(Λ)`` approximate the leading singular values and the modes are
   ``Φ = Λ^{-1/2} (Z U)ᵀ S``, re-orthonormalised as in the method of snapshots.

Cost ``(2 q + 2) n_snapshots l n_dofs`` flops for ``q`` power iterations, against
``n_snapshots² n_dofs`` for the Gram matrix. The error of ``σ_i`` decays like
``(σ_{l+1} / σ_i)^{2(2q+1)}``: on a fast-decaying spectrum the leading values match
the exact ones to round-off.

With ``tol`` the sketch grows (doubling, restarted from the seed) until the truncation
rank plus the oversampling fits in it; the energy outside the sketch, ``trace(C) −
Σ Λ`` (the trace is exact: the snapshots' norms), enters the criterion as
``discarded_energy``.
"""

from __future__ import annotations

import numpy as np

from io_adapters.errors import ConfigError
from rom.pod.basis import ReducedBasis
from rom.pod.inner_product import InnerProduct, allreduce_sum
from rom.pod.linalg import orthonormalize, raise_on_nonfinite, symmetric_eigen
from rom.pod.truncation import truncation_rank

__all__ = ["randomized_pod", "ritz_pairs"]

#: First sketch size with ``tol`` (besides ``oversampling``).
INITIAL_SKETCH = 32


def ritz_pairs(X: np.ndarray, product: InnerProduct, comm, sketch: int, *, seed: int,
               power_iterations: int) -> tuple[np.ndarray, np.ndarray]:
    """Ritz values and snapshot-space coefficients of a randomized subspace iteration.

    Parameters
    ----------
    X : (n_snapshots, n_local_dofs) array
    product : InnerProduct
    comm : mpi4py communicator or None
    sketch : int
        ``l ≤ n_snapshots``.
    seed, power_iterations : int

    Returns
    -------
    energies : (l,) array
        Ritz values of ``C`` (squared singular values), decreasing, ≥ 0.
    vectors : (n_snapshots, l) array
        ``Z U``: the modes are ``(vectors / sqrt(energies))ᵀ X``.
    """
    Z, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((X.shape[0], sketch)))
    for _ in range(power_iterations):
        Z, _ = np.linalg.qr(allreduce_sum(product.cross(X, Z.T @ X), comm))
    Y = Z.T @ X
    energies, U = symmetric_eigen(allreduce_sum(product.gram(Y), comm))
    return energies, Z @ U


def randomized_pod(X: np.ndarray, product: InnerProduct, comm=None, *, tol: float | None = None,
                   n_modes: int | None = None, seed: int = 0, oversampling: int = 10,
                   power_iterations: int = 2) -> ReducedBasis:
    """POD by the randomized range finder (see the module docstring).

    Called by :func:`rom.pod.pod` with ``method="randomized"`` (which validates the
    snapshots, the inner product and the criteria).

    Parameters
    ----------
    X : (n_snapshots, n_local_dofs) array
        This rank's rows.
    product : InnerProduct
    comm : mpi4py communicator, optional
    tol, n_modes : float or int
        Exactly one (see :func:`rom.pod.pod`).
    seed : int
        Seed of the Gaussian sketch (the same on every rank).
    oversampling : int
        Sketch columns beyond the modes kept (≥ 0; 10 is customary).
    power_iterations : int
        Subspace iterations (≥ 0).

    Returns
    -------
    ReducedBasis
        ``singular_values`` are the ``l`` Ritz values; ``discarded_energy`` the energy
        outside the sketch.
    """
    for name, value in (("oversampling", oversampling), ("power_iterations", power_iterations)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ConfigError(f"pod: {name} must be an integer ≥ 0, found {value!r}")
    n_snapshots = X.shape[0]
    norms = allreduce_sum(product.squared_norms(X), comm)
    raise_on_nonfinite(norms, where="pod")
    total = float(norms.sum())
    sketch = n_modes + oversampling if n_modes is not None else INITIAL_SKETCH + oversampling
    while True:
        sketch = min(sketch, n_snapshots)
        energies, vectors = ritz_pairs(X, product, comm, sketch, seed=seed, power_iterations=power_iterations)
        discarded = 0.0 if sketch == n_snapshots else max(total - float(energies.sum()), 0.0)
        n = truncation_rank(energies, tol=tol, n_modes=n_modes, discarded=discarded,
                            resolution=energies[0] * max(sketch, 8) * np.finfo(float).eps, where="pod")
        if n_modes is not None or sketch == n_snapshots or n + oversampling <= sketch:
            break
        sketch *= 2
    coefficients = (vectors[:, :n] / np.sqrt(energies[:n])).T
    modes = orthonormalize(coefficients @ X, product, comm, where="pod")
    return ReducedBasis(modes=modes, singular_values=np.sqrt(energies), inner_product=product.kind, tolerance=tol,
                        n_snapshots=n_snapshots, discarded_energy=discarded, metric=product, comm=comm)
