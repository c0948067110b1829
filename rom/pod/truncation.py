"""How many modes to keep: the energy criterion, the eigenvalue-ratio rule, ``n_modes``.

With the Gram eigenvalues ``λ_1 ≥ λ_2 ≥ … ≥ 0`` (squared singular values) of the
snapshots in the inner product, keeping ``n`` modes leaves the training snapshots a
relative projection error

    e(n) = sqrt( (D + Σ_{i>n} λ_i) / (D + Σ_i λ_i) )

in the inner-product norm (Frobenius over the snapshots), where ``D`` is the energy
the eigenvalues do not describe (0 for the method of snapshots; the energy dropped by
earlier truncations after an incremental update; the energy outside the sketch of the
randomized method). With a tolerance ``tol`` the rank is the **larger** of

1. the smallest ``n`` with ``e(n) ≤ tol`` (so the bound on the training error holds),
2. the number of eigenvalues with ``λ_n > tol² λ_1`` (every mode whose own singular
   value exceeds ``tol σ_1`` is kept, even when the energy criterion is already met:
   on a slowly decaying spectrum the energy rule alone may drop modes that are
   individually as large as the tolerated error),

capped at the numerical rank (eigenvalues above ``resolution``): below it the
eigenvalues are round-off and their modes are not directions of the snapshots.
"""

from __future__ import annotations

import logging

import numpy as np

from io_adapters.errors import ConfigError, InputError

__all__ = ["check_criteria", "truncation_rank"]

log = logging.getLogger(__name__)


def check_criteria(tol, n_modes, *, where: str = "pod") -> tuple[float | None, int | None]:
    """Validate the truncation criteria: exactly one of ``tol`` in (0, 1) and ``n_modes`` ≥ 1.

    Returns
    -------
    tol : float or None
    n_modes : int or None

    Raises
    ------
    ConfigError
        Both or neither given, ``tol`` outside (0, 1), ``n_modes`` not a positive integer.
    """
    if tol is not None and n_modes is not None:
        raise ConfigError(f"{where}: give either tol={tol!r} or n_modes={n_modes!r}, not both")
    if tol is None and n_modes is None:
        raise ConfigError(f"{where}: give a truncation criterion: tol (bound on the relative projection error of "
                          "the snapshots, in (0, 1)) or n_modes")
    if tol is not None:
        if isinstance(tol, bool) or not isinstance(tol, (int, float, np.floating, np.integer)):
            raise ConfigError(f"{where}: tol must be a number in (0, 1), found {tol!r}")
        if not 0.0 < float(tol) < 1.0:
            hint = " (a tolerance ≥ 1 keeps no mode)" if float(tol) >= 1.0 else ""
            raise ConfigError(f"{where}: tol must be in (0, 1), found {tol!r}{hint}")
        return float(tol), None
    if isinstance(n_modes, bool) or not isinstance(n_modes, (int, np.integer)) or n_modes < 1:
        raise ConfigError(f"{where}: n_modes must be a positive integer, found {n_modes!r}")
    return None, int(n_modes)


def truncation_rank(energies: np.ndarray, *, tol: float | None = None, n_modes: int | None = None,
                    discarded: float = 0.0, resolution: float = 0.0, where: str = "pod") -> int:
    """Number of modes to keep (see the module docstring).

    Parameters
    ----------
    energies : (n,) array
        ``λ_i = σ_i²``, decreasing, ≥ 0.
    tol : float, optional
        Bound on the relative projection error of the training snapshots.
    n_modes : int, optional
        Fixed number of modes (exactly one of ``tol`` and ``n_modes``).
    discarded : float
        Energy not described by ``energies`` (see the module docstring).
    resolution : float
        Eigenvalues ``≤ resolution`` are round-off (absolute, same units as ``energies``).
    where : str
        Caller's name, for the messages.

    Returns
    -------
    int
        ≥ 1.

    Raises
    ------
    InputError
        The snapshots are zero in the inner product (no mode can be built), or
        ``n_modes`` exceeds the numerical rank.
    ConfigError
        ``n_modes`` exceeds the number of eigenvalues.
    """
    energies = np.asarray(energies, dtype=np.float64)
    rank = int(np.count_nonzero(energies > max(resolution, 0.0)))
    if rank == 0:
        raise InputError(f"{where}: the snapshots are zero (or round-off) in the inner product "
                         f"(largest squared singular value {energies[0] if energies.size else 0.0!r}): "
                         "no mode can be built")
    if n_modes is not None:
        if n_modes > energies.size:
            raise ConfigError(f"{where}: n_modes={n_modes} exceeds the {energies.size} singular values available "
                              "(one per snapshot)")
        if n_modes > rank:
            raise InputError(f"{where}: n_modes={n_modes} but the snapshots span only {rank} numerically independent "
                             f"directions (singular values above {np.sqrt(resolution):.3g}); ask for at most {rank}")
        return n_modes
    total = discarded + energies.sum()
    # tail[n] = energy left when n modes are kept (a reversed cumulative sum: no cancellation)
    tail = discarded + np.concatenate([np.cumsum(energies[::-1])[::-1], [0.0]])
    meets = np.flatnonzero(tail <= tol**2 * total)
    by_energy = int(meets[0]) if meets.size else energies.size
    by_ratio = int(np.count_nonzero(energies > tol**2 * energies[0]))
    n = max(by_energy, by_ratio, 1)
    if n > rank:
        log.info("%s: tol=%g asks for %d modes, the numerical rank is %d: keeping %d "
                 "(the training error is then at round-off level)", where, tol, n, rank, rank)
        n = rank
    return n
