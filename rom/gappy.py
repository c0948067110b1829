"""Gappy-POD reconstruction of dual quantities from their values at a few integration points.

The online ROM evaluates the constitutive law at the reduced points only. A dual
quantity ``y`` (stress, cumulated plastic strain, any internal variable) known on a
POD basis ``Φ`` is rebuilt everywhere from those values by least squares,
``a = argmin ‖Φ_S a − y_S‖``, ``y ≈ Φ a``; the relative residual of that fit at the
reduced points is the online error indicator (zero when ``y`` lies in the span, the
larger the further ``y`` leaves it).

Layout. A field of ``n_components`` at ``n_points`` integration points is stored
point-major, ``(n_points, n_components)`` flattened: row ``q * n_components + c`` is
component ``c`` of point ``q`` (the layout of the POD modes ``(n_modes, n_points *
n_components)`` and of ``B``'s rows).

Point selection (:func:`gappy_points`) is QDEIM (Drmač & Gugercin 2016): a QR
factorisation with column pivoting of the modes ``(n_modes, n_points * n_c)`` ranks
the *rows* of the field; the first ``n_modes`` pivots make an invertible, well
conditioned square restriction. A reduced point carries all its components, so the
pivots are GROUPED BY POINT: the selected points are those owning the first
``n_modes`` pivot rows (``point = row // n_components``), in pivot order. Their
restriction contains QDEIM's square one, hence is at least as well conditioned (adding
rows never lowers the smallest singular value) and overdetermined as soon as one
point contributes several pivots or ``n_components > 1``. More points (oversampling)
come from further QDEIM passes on the columns of the points not yet selected.

The reduced point set of the model is the union of the ECM points (with their
weights) and the QDEIM points (weight 0), see :func:`merge_points`.

Parallel use: a dual basis is distributed by rows over the subdomains; the
:class:`GappyReconstructor` of each rank holds its rows, and the fit is global (one
``allgather`` of small ``R`` factors when fitting, one ``Allreduce`` per evaluation).
With ``comm=None`` everything is serial. Results equal the serial ones to round-off.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as sla

from io_adapters.errors import ConfigError, InputError

from rom.parallel import allreduce_sum as _allreduce

log = logging.getLogger(__name__)

__all__ = ["DualBasis", "GappyReconstructor", "gappy_points", "merge_points"]

_ILL_CONDITIONED = 1e8     # a warning is logged above this condition number


# ============================================================ containers
@dataclass(frozen=True, eq=False)
class DualBasis:
    """POD basis of a dual quantity at integration points.

    Attributes
    ----------
    modes : (n_modes, n_points * n_components) array
        Rows point-major (component ``c`` of point ``q`` at column ``q * n_components + c``).
        A ``(n_modes, n_points, n_components)`` array is accepted and flattened.
    n_components : int
    singular_values : (n,) array, optional
        Of the POD that produced the modes (for truncation reports).
    name : str
        The field's name (``"sig"``, ``"evcum"``…), for messages.
    """

    modes: np.ndarray
    n_components: int
    singular_values: np.ndarray | None = None
    name: str = ""

    def __post_init__(self):
        modes = _as_modes(self.modes, self.n_components, self.name or "dual basis")
        object.__setattr__(self, "modes", modes)
        object.__setattr__(self, "n_components", int(self.n_components))
        if self.singular_values is not None:
            object.__setattr__(self, "singular_values", np.asarray(self.singular_values, dtype=np.float64))

    @property
    def n_modes(self) -> int:
        return self.modes.shape[0]

    @property
    def n_points(self) -> int:
        return self.modes.shape[1] // self.n_components

    def point_blocks(self) -> np.ndarray:
        """The modes as ``(n_modes, n_points, n_components)`` (a view)."""
        return self.modes.reshape(self.n_modes, self.n_points, self.n_components)


@dataclass(frozen=True, eq=False)
class GappyReconstructor:
    """Least-squares reconstruction of a dual field from its values at reduced points.

    Build it with :meth:`fit`. Values at the reduced points are given as
    ``(..., k, n_components)`` in the order of ``points`` (any leading axes, e.g. time
    steps; ``(..., k)`` is accepted when ``n_components == 1``).

    Attributes
    ----------
    modes : (n_modes, n_points * n_components) array
        This rank's rows of the dual basis.
    points : (k,) int array
        This rank's reduced points (indices into its integration points).
    n_components : int
    restricted : (k * n_components, n_modes) array
        ``Φ_S``: the modes' rows at the reduced points (point-major).
    operator : (n_modes, k * n_components) array
        This rank's columns of the pseudo-inverse ``Φ_S⁺`` (serial: the whole of it);
        the modal coordinates are the sum over ranks of ``operator @ y_S``.
    condition_number : float
        ``σ_max / σ_min`` of the global ``Φ_S``; a warning is logged above 1e8.
    amplification : float
        ``‖Φ_S⁺‖₂ = 1 / σ_min(Φ_S)``: for orthonormal modes the reconstruction error is
        at most ``(1 + amplification)`` times the part of the data outside the span
        (at the reduced points). Adding points never increases it.
    comm : mpi4py communicator or None
        The ranks sharing the basis (None: serial).
    """

    modes: np.ndarray
    points: np.ndarray
    n_components: int
    restricted: np.ndarray
    operator: np.ndarray
    condition_number: float
    amplification: float
    comm: object = field(default=None, repr=False)

    @classmethod
    def fit(cls, modes, points: np.ndarray, n_components: int | None = None, *, comm=None) -> GappyReconstructor:
        """Least-squares reconstruction operator from the values at ``points``.

        Parameters
        ----------
        modes : (n_modes, n_points * n_components) or (n_modes, n_points, n_components) array, or DualBasis
            This rank's rows of the dual basis.
        points : (k,) int array
            Reduced points, unique, in ``[0, n_points)`` (e.g. from :func:`merge_points`);
            the order fixes the order of the values given later.
        n_components : int, optional
            Components per point (taken from a ``DualBasis`` or a 3D ``modes``).
        comm : mpi4py communicator, optional
            Ranks holding the other rows; serial when omitted.

        Raises
        ------
        InputError
            Bad shapes or indices; the points do not determine the modes (``Φ_S``
            rank deficient, e.g. fewer values ``k n_c`` than modes) — use
            :func:`gappy_points`.
        """
        Phi, n_c = _modes_and_components(modes, n_components)
        n_modes, n_points = Phi.shape[0], Phi.shape[1] // n_c
        points = _check_points(points, n_points, "gappy reconstructor")
        if n_modes == 0:
            raise InputError("gappy reconstructor: the dual basis has no mode")
        restricted = np.ascontiguousarray(Phi.reshape(n_modes, n_points, n_c)[:, points].reshape(n_modes, -1).T)
        if comm is None or comm.size == 1:
            n_values = restricted.shape[0]
            if n_values < n_modes:
                raise InputError(f"gappy reconstructor: {len(points)} points × {n_c} components = {n_values} values "
                                 f"cannot determine {n_modes} modes")
            Q, R = np.linalg.qr(restricted)
            singular = _singular_values_of_full_rank(R, n_values, n_modes)
            operator = sla.solve_triangular(R, Q.T, check_finite=False)
        else:
            local_R = np.linalg.qr(restricted, mode="r") if restricted.size else np.zeros((0, n_modes))
            stacked = np.vstack(comm.allgather(local_R))
            n_values = int(comm.allreduce(restricted.shape[0]))
            if stacked.shape[0] < n_modes:
                raise InputError(f"gappy reconstructor: {n_values} values at the reduced points of all ranks "
                                 f"cannot determine {n_modes} modes")
            R = np.linalg.qr(stacked, mode="r")
            singular = _singular_values_of_full_rank(R, n_values, n_modes)
            # Q_local = Φ_S,local R⁻¹; operator = R⁻¹ Q_localᵀ
            Q_local_T = sla.solve_triangular(R, restricted.T, trans="T", check_finite=False)
            operator = sla.solve_triangular(R, Q_local_T, check_finite=False)
        condition = float(singular[0] / singular[-1])
        if condition > _ILL_CONDITIONED:
            log.warning("gappy reconstructor: restricted basis condition number %.2e (%d modes, %d points)",
                        condition, n_modes, len(points))
        return cls(modes=Phi, points=points, n_components=n_c, restricted=restricted, operator=operator,
                   condition_number=condition, amplification=float(1.0 / singular[-1]), comm=comm)

    @classmethod
    def fit_restricted(cls, rows, n_components: int | None = None, *, comm=None) -> GappyReconstructor:
        """The reconstructor from the basis's rows at the reduced points alone.

        The same fit as ``fit(modes, points)`` with ``rows = modes[:, points]`` — the same
        operator, coordinates and residuals, bit for bit — without the full modes; the
        reconstructor's "field" is then the reduced points (its ``modes`` are ``rows``,
        its ``points`` ``arange(k)``): :meth:`reconstruct` gives the values there, whole
        fields are rebuilt from :meth:`coordinates` and the full modes.

        Parameters
        ----------
        rows : (n_modes, k * n_components) or (n_modes, k, n_components) array
            This rank's rows of the dual basis at its reduced points, in their order.
        n_components : int, optional
            Components per point (taken from a 3D ``rows``).
        comm : mpi4py communicator, optional
            Ranks holding the other rows; serial when omitted.
        """
        Phi, n_c = _modes_and_components(rows, n_components)
        return cls.fit(Phi, np.arange(Phi.shape[1] // n_c), n_c, comm=comm)

    @property
    def n_modes(self) -> int:
        return self.modes.shape[0]

    @property
    def n_points(self) -> int:
        """Integration points of the full (local) field."""
        return self.modes.shape[1] // self.n_components

    def coordinates(self, values_at_points: np.ndarray) -> np.ndarray:
        """Modal coordinates of the least-squares fit.

        Parameters
        ----------
        values_at_points : (..., k, n_components) array

        Returns
        -------
        (..., n_modes) array
        """
        flat, lead = self._flatten(values_at_points)
        return _allreduce(flat @ self.operator.T, self.comm).reshape(*lead, self.n_modes)

    def reconstruct(self, values_at_points: np.ndarray) -> np.ndarray:
        """The field at every (local) integration point from its values at the reduced points.

        Parameters
        ----------
        values_at_points : (..., k, n_components) array

        Returns
        -------
        (..., n_points, n_components) array
        """
        coordinates = self.coordinates(values_at_points)
        return (coordinates @ self.modes).reshape(*coordinates.shape[:-1], self.n_points, self.n_components)

    def fit_residual(self, values_at_points: np.ndarray) -> np.ndarray:
        """Relative residual ``‖y_S − Φ_S a‖ / ‖y_S‖`` of the fit (0 for ``y_S = 0``).

        Norms over all reduced points and components (of every rank); zero for data in
        the span of the modes, positive otherwise as soon as the points give more values
        than there are modes.

        Parameters
        ----------
        values_at_points : (..., k, n_components) array

        Returns
        -------
        (...) array
            One residual per leading index (a 0-d value for a single field).
        """
        flat, lead = self._flatten(values_at_points)
        coordinates = _allreduce(flat @ self.operator.T, self.comm)
        error = flat - coordinates @ self.restricted.T
        sums = _allreduce(np.stack([np.einsum("ij,ij->i", error, error), np.einsum("ij,ij->i", flat, flat)]),
                          self.comm)
        numerator, denominator = np.maximum(sums[0], 0.0), sums[1]
        ratio = np.sqrt(np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0))
        return ratio.reshape(lead)[()]

    def fit_values(self, values_at_points: np.ndarray) -> tuple[np.ndarray, float, float]:
        """Coordinates of one field's fit and the absolute norms of its residual and data.

        Parameters
        ----------
        values_at_points : (k, n_components) array

        Returns
        -------
        coordinates : (n_modes,) array
        residual : float
            ``‖y_S − Φ_S a‖`` over the reduced points of every rank.
        norm : float
            ``‖y_S‖`` (the caller chooses the scale of the relative residual).
        """
        flat, lead = self._flatten(values_at_points)
        if lead != ():
            raise InputError(f"gappy reconstructor: fit_values takes one field ({len(self.points)}, "
                             f"{self.n_components}), found {np.shape(values_at_points)}")
        coordinates = _allreduce(flat @ self.operator.T, self.comm)
        error = flat - coordinates @ self.restricted.T
        sums = _allreduce(np.array([float(np.sum(error * error)), float(np.sum(flat * flat))]), self.comm)
        return coordinates[0], float(np.sqrt(max(sums[0], 0.0))), float(np.sqrt(sums[1]))

    def _flatten(self, values) -> tuple[np.ndarray, tuple[int, ...]]:
        y = np.asarray(values, dtype=np.float64)
        k, n_c = len(self.points), self.n_components
        if n_c == 1 and y.ndim >= 1 and y.shape[-1] == k and not (y.ndim >= 2 and y.shape[-2:] == (k, 1)):
            y = y[..., None]
        if y.ndim < 2 or y.shape[-2:] != (k, n_c):
            raise InputError(f"gappy reconstructor: values at the reduced points must have shape (..., {k}, {n_c}), "
                             f"found {np.shape(values)}")
        if not np.all(np.isfinite(y)):
            raise InputError("gappy reconstructor: values at the reduced points contain NaN or infinite values")
        lead = y.shape[:-2]
        return y.reshape(-1, k * n_c), lead


# ============================================================ functions
def gappy_points(modes, n_components: int | None = None, *, n_points: int | None = None) -> np.ndarray:
    """QDEIM points of a dual basis, grouped by integration point.

    Parameters
    ----------
    modes : (n_modes, n_points * n_components) or (n_modes, n_points, n_components) array, or DualBasis
        This subdomain's rows of the basis (point-major).
    n_components : int, optional
        Components per point (taken from a ``DualBasis`` or a 3D ``modes``).
    n_points : int, optional
        Number of points wanted. Default: the points owning the first ``n_modes``
        QDEIM pivots (at most ``n_modes``). Fewer keeps the first ones in pivot order
        (needs ``n_points * n_components ≥ n_modes``); more adds further QDEIM passes
        on the points not yet selected (oversampling).

    Returns
    -------
    (k,) int array
        Point indices, increasing.

    Raises
    ------
    ConfigError
        ``n_points`` not positive, or too few points for the modes.
    """
    Phi, n_c = _modes_and_components(modes, n_components)
    n_modes, total = Phi.shape[0], Phi.shape[1] // n_c
    if n_points is not None:
        if int(n_points) != n_points or n_points < 1:
            raise ConfigError(f"gappy_points: n_points must be a positive integer, found {n_points!r}")
        if n_points * n_c < n_modes:
            raise ConfigError(f"gappy_points: {n_points} points × {n_c} components cannot determine {n_modes} modes")
        n_points = min(int(n_points), total)
    if n_modes == 0 or total == 0:
        return np.zeros(0, dtype=np.int64)

    chosen: list[int] = []
    taken = np.zeros(total, dtype=bool)
    first = True
    while True:
        columns = np.flatnonzero(np.repeat(~taken, n_c))              # rows of the points still free
        if len(columns) == 0:
            break
        block = Phi.T[columns].T                                       # a Fortran-ordered copy, overwritten
        _, pivots = sla.qr(block, mode="r", pivoting=True, overwrite_a=True, check_finite=False)
        rows = columns[pivots[:min(n_modes, len(columns))]]
        order = rows // n_c
        _, first_seen = np.unique(order, return_index=True)
        new = order[np.sort(first_seen)]                               # distinct points, pivot order
        if first and n_points is None:
            chosen.extend(new.tolist())
            break
        first = False
        for q in new:
            if len(chosen) == n_points:
                break
            chosen.append(int(q))
            taken[q] = True
        if len(chosen) == n_points:
            break
    return np.sort(np.asarray(chosen, dtype=np.int64))


def merge_points(ecm_points: np.ndarray, qdeim_points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reduced point set: the union of the ECM points and the Gappy (QDEIM) points.

    Parameters
    ----------
    ecm_points : (k_ecm,) int array
        Points of the reduced quadrature (``ReducedQuadrature.points``).
    qdeim_points : (k_q,) int array, or a sequence of such arrays (one per dual field)
        Points selected by :func:`gappy_points`.

    Returns
    -------
    points : (k,) int array
        The union, increasing.
    is_ecm : (k,) bool array
        True at the ECM points; the others carry a zero weight. Since ``points`` is
        increasing, ``points[is_ecm]`` is ``np.unique(ecm_points)``, so the weights of
        the union are ``w = zeros(k); w[is_ecm] = quadrature.weights`` for a
        ``ReducedQuadrature`` (whose points are increasing).
    """
    ecm = np.asarray(ecm_points)
    if isinstance(qdeim_points, (list, tuple)):
        extra = [np.asarray(p) for p in qdeim_points]
        extra = np.concatenate(extra) if extra else np.zeros(0, dtype=np.int64)
    else:
        extra = np.asarray(qdeim_points)
    for name, array in (("ecm_points", ecm), ("qdeim_points", extra)):
        if array.ndim != 1 or (array.size and not np.issubdtype(array.dtype, np.integer)):
            raise InputError(f"merge_points: {name} must be a 1D integer array, found {array.dtype} {array.shape}")
        if array.size and array.min() < 0:
            raise InputError(f"merge_points: {name} holds a negative index {array.min()}")
    points = np.union1d(ecm.astype(np.int64), extra.astype(np.int64))
    return points, np.isin(points, ecm)


# ============================================================ internals
def _as_modes(modes, n_components, what: str) -> np.ndarray:
    Phi = np.asarray(modes, dtype=np.float64)
    if int(n_components) != n_components or n_components < 1:
        raise InputError(f"{what}: n_components must be a positive integer, found {n_components!r}")
    if Phi.ndim == 3:
        if Phi.shape[2] != n_components:
            raise InputError(f"{what}: modes of shape {Phi.shape} have {Phi.shape[2]} components, "
                             f"expected {n_components}")
        Phi = Phi.reshape(Phi.shape[0], -1)
    if Phi.ndim != 2 or Phi.shape[1] % n_components:
        raise InputError(f"{what}: modes must have shape (n_modes, n_points * {n_components}), found {Phi.shape}")
    if not np.all(np.isfinite(Phi)):
        raise InputError(f"{what}: modes contain NaN or infinite values")
    return np.ascontiguousarray(Phi)


def _modes_and_components(modes, n_components) -> tuple[np.ndarray, int]:
    if isinstance(modes, DualBasis):
        if n_components is not None and n_components != modes.n_components:
            raise InputError(f"{modes.name or 'dual basis'}: has {modes.n_components} components, "
                             f"{n_components} given")
        return modes.modes, modes.n_components
    if n_components is None:
        if np.ndim(modes) != 3:
            raise InputError("n_components is needed for 2D modes (n_modes, n_points * n_components)")
        n_components = np.shape(modes)[2]
    return _as_modes(modes, n_components, "dual basis"), int(n_components)


def _check_points(points, n_points: int, what: str) -> np.ndarray:
    points = np.asarray(points)
    if points.ndim != 1 or (points.size and not np.issubdtype(points.dtype, np.integer)):
        raise InputError(f"{what}: points must be a 1D integer array, found {points.dtype} {points.shape}")
    points = points.astype(np.int64)
    if points.size and (points.min() < 0 or points.max() >= n_points):
        raise InputError(f"{what}: points must lie in [0, {n_points}), found {points.min()}..{points.max()}")
    if len(np.unique(points)) != len(points):
        raise InputError(f"{what}: points are repeated")
    return points


def _singular_values_of_full_rank(R: np.ndarray, n_values: int, n_modes: int) -> np.ndarray:
    """Singular values of ``Φ_S`` (those of its ``R``), checking that it has full column rank."""
    singular = np.linalg.svd(R, compute_uv=False)
    threshold = max(n_values, n_modes) * np.finfo(float).eps * singular[0]
    if not singular[-1] > threshold:
        raise InputError(f"gappy reconstructor: the modes restricted to the reduced points have rank "
                         f"{int(np.count_nonzero(singular > threshold))} < {n_modes} modes "
                         f"(σ_min/σ_max = {singular[-1] / singular[0]:.1e}); "
                         "add the points of gappy_points(modes, n_components)")
    return singular


