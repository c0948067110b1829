"""Empirical Cubature Method (ECM): a reduced integration rule for the internal virtual work.

Hernández, Caicedo & Ferrer (2017), *Dimensional hyper-reduction of nonlinear finite
element models via empirical cubature*, CMAME 313. Given the values ``G (m, n)`` of
``m`` integrands at the ``n`` integration points of a subdomain and the FE weights
``w (n,)``, find a few points ``S`` and positive weights ``ω`` such that
``G[:, S] @ ω ≈ G @ w`` for every integrand of the span.

What ``tol`` guarantees
-----------------------
For the integrands as given (the rows of ``G``; with :func:`ecm_integrands` that is
after its stress compression, ``stress_tol``) and the returned rule ``(S, ω)``::

    ‖G w − G[:, S] ω‖₂ ≤ tol ‖G w‖₂

— the Euclidean norm of the vector of the ``m`` integrals, relative to the exact
one. It is checked on ``G`` itself before :func:`ecm` returns (the returned
``residual`` is that ratio), never inferred from the compressed problem. Hence,
for any combination ``g = cᵀ G`` of the integrands, ``|∫g − Σ_S ω g| ≤ tol ‖c‖ ‖G w‖``.
Rows of ``G`` are weighed as given: a row ten times larger counts ten times more,
and a constant row (the volume, integrated exactly) counts in ``‖G w‖``; leave it
out (``ecm_integrands(..., include_volume=False)``) to bound the other rows alone.
The constant is integrated exactly in any case. A set whose integrals all vanish
(``‖G w‖`` at round-off) is refused: there is nothing to be relative to.

Steps of :func:`ecm`
--------------------
1. **Compression** (``compress=True``). The integrands are centred (their
   ``|w|``-weighted mean ``ḡ`` removed) and ``(G − ḡ 1ᵀ) √|w|`` is factorised by a
   tall-skinny QR (blocks of points, so memory stays at one block) and the SVD of the
   small ``R``: ``(G − ḡ 1ᵀ) √|w| = Z Σ Vᵀ``. The rows of the least-squares problem
   are the constant ``1/√M`` (``M = Σ|w|``) followed by the ``L²(|w|)``-orthonormal
   functions ``Σ_r⁻¹ Z_rᵀ (G − ḡ 1ᵀ)``, the leading ``r`` kept while the discarded
   energy exceeds ``svd_tol² ‖G √|w|‖²_F``: the constant is always in the span, and
   the greedy bounds every function of the span relative to its own ``L²`` norm,
   whatever the scale of the caller's rows (the rules the ROM needs: each mode's
   internal force, large or small, integrated alike). Since the volume is made exact
   (step 4), the residual in the centred directions is the caller's error ``e = G w −
   G_S ω`` seen in them: ``‖Z_rᵀ e‖ = ‖Σ_r ⊙ r_J‖``. A reduced rule has larger weights
   than the FE rule and can amplify the discarded part of ``e``, which is why the
   bound is checked on ``G`` (step 4) rather than assumed. Without compression the
   rows are the constant ``α 1`` (``α = ‖G w‖ / V``) and ``G`` itself.
2. **Exact integrals** ``b = J w`` with the signed FE weights (Zset's tet10 rule has
   negative ones; ``|w|`` is used for the compression).
3. **Greedy + non-negative least squares** — Lawson–Hanson's active-set NNLS with an
   early stop, which is exactly the ECM loop: pick the admissible point (positive FE
   weight, not selected) whose column of ``J`` is most positively correlated
   (cosine) with the residual ``b − J_S ω_S``; solve the least-squares problem on the
   selected set with an incrementally updated QR (one Gram–Schmidt step, twice,
   per added point); when a weight would become non-positive, step back to the
   feasible boundary and drop the point(s) whose weight reached zero (Givens
   downdates of the QR), as Lawson–Hanson does. Ties between equally
   correlated points (symmetric meshes) are broken by the seeded random generator.
4. **Exact volume and the check**: before each stopping test the weights are scaled
   by ``V / Σω`` (``V = Σ w``), which makes the constant exact to round-off. Once the
   residual on the rows ``‖b − J_S ω‖`` is within ``tol ‖b‖`` and the part of the
   caller's error they see within ``tol ‖G w‖``, the error on ``G`` itself is computed
   (``m × k``, cheap) and the greedy stops only when it is within ``tol ‖G w‖`` too. If not, and the
   discarded directions carry more than half of that budget
   (``‖Z_⊥ᵀ e‖ = (‖e‖² − ‖Z_rᵀ e‖²)^½ > tol ‖G w‖ / 2``), ``r`` grows to where the
   discarded energy is expected to bring that share below a quarter (it scales
   with ``(Σ_{i≥r} s_i²)^½``), the QR of the selected points is refactorised with
   the new rows, and the greedy goes on from the current points and weights;
   otherwise the greedy simply goes on. With the default ``svd_tol`` the growth is
   rare (none in 300 random sets of the tests' kind; the tests force it with a coarse
   ``svd_tol``); with every direction kept the check can only fail by round-off
   (``ConvergenceError``).

Why check rather than pick the truncation once: the amplification of the discarded
part depends on the weights the greedy will find, which are not known beforehand; a
truncation safe for any rule would keep the numerical rank and cost the compression
its speed. The check costs one ``m × k`` product per stopping test.

:func:`ecm_integrands` builds the integrands of the reduced internal virtual work
``σ : ε(ψ_k)`` from stress snapshots and displacement modes. ECM needs no
communication: each rank runs it on its own subdomain.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.optimize as sopt
import scipy.sparse as sp

from io_adapters.errors import ConfigError, ConvergenceError, InputError

log = logging.getLogger(__name__)

__all__ = ["ReducedQuadrature", "ecm", "ecm_integrands"]

_BLOCK = 16384          # points per block of the tall-skinny QR
_DEPENDENT = 1e-10      # a column whose part orthogonal to the selected ones is below this (relative) is dependent
_TIE = 1e-12            # scores within this relative distance of the best are tied
_trtrs = sla.get_lapack_funcs("trtrs", dtype=np.float64)


# ============================================================ the container
@dataclass(frozen=True, eq=False)
class ReducedQuadrature:
    """Reduced integration rule: a subset of integration points with positive weights.

    Attributes
    ----------
    points : (k,) int array
        Distinct indices into this subdomain's integration points (increasing when
        built by :func:`ecm`).
    weights : (k,) float array
        Positive reduced weights.
    residual : float
        Relative integration error achieved on the integrands given to :func:`ecm`,
        ``‖G w − G[:, points] weights‖₂ / ‖G w‖₂`` (≤ ``tol`` unless stopped by
        ``max_points``).
    n_integrand_modes : int
        Number of rows of the least-squares problem the greedy solved (the constant
        included): ``1 + r`` compressed, ``1 + n_integrands`` without compression.
    """

    points: np.ndarray
    weights: np.ndarray
    residual: float = 0.0
    n_integrand_modes: int = 0

    def __post_init__(self):
        points = np.asarray(self.points)
        weights = np.asarray(self.weights, dtype=np.float64)
        if points.ndim != 1 or weights.ndim != 1 or points.shape != weights.shape:
            raise InputError(f"reduced quadrature: points {points.shape} and weights {weights.shape} "
                             "must be two 1D arrays of the same length")
        if points.size and not np.issubdtype(points.dtype, np.integer):
            raise InputError(f"reduced quadrature: points must be integer indices, found dtype {points.dtype}")
        points = points.astype(np.int64)
        if np.any(points < 0):
            raise InputError(f"reduced quadrature: negative point index {points.min()}")
        if len(np.unique(points)) != len(points):
            raise InputError("reduced quadrature: points are repeated")
        if not np.all(np.isfinite(weights)) or np.any(weights <= 0):
            bad = np.flatnonzero(~(weights > 0))
            raise InputError(f"reduced quadrature: weights must be positive and finite, found {weights[bad[:3]]} "
                             f"at points {points[bad[:3]]}")
        if not (np.isfinite(self.residual) and self.residual >= 0):
            raise InputError(f"reduced quadrature: residual must be a non-negative number, found {self.residual!r}")
        object.__setattr__(self, "points", points)
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "residual", float(self.residual))
        object.__setattr__(self, "n_integrand_modes", int(self.n_integrand_modes))

    @property
    def n_points(self) -> int:
        """Number of reduced points ``k``."""
        return len(self.points)

    def integrate(self, values: np.ndarray) -> np.ndarray:
        """Reduced integral of fields given at every integration point.

        Parameters
        ----------
        values : (..., n_points) array
            Values at all the subdomain's integration points (last axis).

        Returns
        -------
        (...) array
            ``values[..., points] @ weights``.
        """
        return np.asarray(values)[..., self.points] @ self.weights


# ============================================================ the algorithm
def ecm(integrands: np.ndarray, weights: np.ndarray, *, tol: float, seed: int = 0,
        initial: np.ndarray | None = None, compress: bool = True, max_points: int | None = None,
        svd_tol: float | None = None) -> ReducedQuadrature:
    """Empirical Cubature: few points with positive weights that integrate ``integrands`` to ``tol``.

    Parameters
    ----------
    integrands : (n_integrands, n_points) array
        Value of each integrand at each integration point of this subdomain.
    weights : (n_points,) array
        FE integration weights ``w_q det J``; negative ones (Zset tet10) are used for the
        exact integrals but such points are never selected.
    tol : float
        Relative integration error to reach, ``0 < tol < 1``: on return
        ``‖G w − G[:, points] ω‖₂ ≤ tol ‖G w‖₂`` for ``G = integrands`` (the Euclidean
        norm of the vector of integrals; see the module docstring).
    seed : int
        Seed of the generator that breaks ties between equally correlated points; the
        result is a deterministic function of the inputs and the seed.
    initial : (k0,) int array, optional
        A previous point set (warm start, e.g. after enrichment): the NNLS fit on those
        points starts the greedy; those that keep a positive weight stay selected as long
        as they are useful.
    compress : bool
        Solve the least-squares problems on the orthonormal functions of the centred
        integrands' POD (truncated at ``svd_tol``, the constant first: recommended, and
        much faster for many correlated integrands), on ``G`` itself otherwise. ``tol``
        holds on ``G`` either way.
    max_points : int, optional
        At most this many points; if reached first, the rule is returned with its
        achieved ``residual`` (> ``tol``) and a warning is logged.
    svd_tol : float, optional
        First truncation of the compression: relative Frobenius norm of the discarded
        part of ``G √|w|``; ``tol`` when omitted. More directions are added if the check
        on ``G`` needs them, so this sets the speed, not the accuracy.

    Returns
    -------
    ReducedQuadrature
        Points (increasing) and positive weights; ``weights.sum()`` equals ``weights``'s
        sum (the volume) to round-off; ``residual`` is the achieved relative error on
        ``integrands``.

    Raises
    ------
    InputError
        Shapes differ, non-finite values, no point with a positive weight, or a
        non-positive volume; integrals that all vanish (``‖G w‖`` at round-off); bad
        ``initial`` indices.
    ConfigError
        ``tol`` (or ``svd_tol``) not in (0, 1), ``max_points`` < 1.
    ConvergenceError
        ``tol`` cannot be reached (no admissible point improves the fit: ``tol`` below
        round-off, or the FE weights' negative part cannot be matched).
    """
    G, w = _check_inputs(integrands, weights)
    tol = _check_tol(tol, "tol")
    svd_tol = tol if svd_tol is None else _check_tol(svd_tol, "svd_tol")
    if max_points is not None and (int(max_points) != max_points or max_points < 1):
        raise ConfigError(f"ecm: max_points must be a positive integer, found {max_points!r}")
    candidates = w > 0
    if not candidates.any():
        raise InputError("ecm: no integration point has a positive weight")
    volume = float(w.sum())
    if volume <= 0:
        raise InputError(f"ecm: the weights sum to {volume:g}; the volume must be positive")
    start = _check_initial(initial, w)

    basis = _IntegrandBasis(G, w, svd_tol=svd_tol if compress else None)
    rng = np.random.default_rng(seed)
    points, omega, residual = _greedy(basis, candidates=candidates, tol=tol, rng=rng, initial=start,
                                      max_points=None if max_points is None else int(max_points))
    order = np.argsort(points)
    return ReducedQuadrature(points=points[order], weights=omega[order], residual=residual,
                             n_integrand_modes=basis.n_rows)


def ecm_integrands(B: sp.spmatrix, weights: np.ndarray, stress_snapshots: np.ndarray, modes: np.ndarray, *,
                   stress_tol: float = 1e-8, include_volume: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Integrands ``σ : ε(ψ_k)`` of the reduced internal virtual work at every point.

    The reduced internal forces are ``f_k = Σ_q w_q σ(x_q) : ε(ψ_k)(x_q)``; ECM must
    integrate these products for every stress the model will meet. The stress
    snapshots are first compressed by a POD in ``L²(|w|)`` (tall-skinny QR + SVD):
    the stress *principal components* ``σ̃_i = s_i v_i`` (orthogonal combinations of
    the snapshots, scaled by their singular values, so that the set keeps the energy
    of the snapshots) replace the snapshots, truncated when the discarded energy is
    below ``stress_tol²`` of the total. The integrands are then the
    ``n_stress_modes × n_modes`` products instead of ``n_snapshots × n_modes``; they
    span the same space as the snapshot products up to ``stress_tol``.

    Parameters
    ----------
    B : (6 * n_points, n_dofs) sparse matrix
        Strain operator (``rom.fem.strain_operator``): rows point-major, Voigt
        ``[11, 22, 33, 12, 23, 31]`` with engineering shear.
    weights : (n_points,) array
        FE integration weights (returned as a float copy).
    stress_snapshots : (n_snapshots, n_points, 6) array
        Voigt stresses (shear stresses as they are), so that
        ``σ : ε = Σ_c σ_c ε_c`` with the engineering shear strains of ``B``.
    modes : (n_modes, n_dofs) array
        Displacement basis ``ψ_k``, dofs node-major.
    stress_tol : float
        Relative truncation of the stress POD (Frobenius, ``L²(|w|)``); 0 keeps the
        numerical rank.
    include_volume : bool
        Put the constant integrand (ones) first. :func:`ecm` includes the constant in
        any case; this matters when the integrands serve another purpose (checks).

    Returns
    -------
    integrands : (n_integrands, n_points) array
        Row ``i * n_modes + k`` (after the optional row of ones) is
        ``σ̃_i : ε(ψ_k)`` at every point.
    weights : (n_points,) array
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or not np.all(np.isfinite(w)):
        raise InputError(f"ecm_integrands: weights must be a finite (n_points,) array, found shape {w.shape}")
    n_points = len(w)
    if not sp.issparse(B) and not isinstance(B, np.ndarray):
        raise InputError(f"ecm_integrands: B must be a sparse matrix, found {type(B).__name__}")
    if B.shape[0] != 6 * n_points:
        raise InputError(f"ecm_integrands: B has {B.shape[0]} rows, expected 6 × {n_points} points "
                         "(does the rule of B match the weights?)")
    sigma = np.asarray(stress_snapshots, dtype=np.float64)
    if sigma.ndim == 2:
        sigma = sigma[None]
    if sigma.ndim != 3 or sigma.shape[1:] != (n_points, 6):
        raise InputError(f"ecm_integrands: stress snapshots must have shape (n_snapshots, {n_points}, 6), "
                         f"found {np.shape(stress_snapshots)}")
    if not np.all(np.isfinite(sigma)):
        raise InputError("ecm_integrands: stress snapshots contain NaN or infinite values")
    psi = np.asarray(modes, dtype=np.float64)
    if psi.ndim == 1:
        psi = psi[None]
    if psi.ndim != 2 or psi.shape[1] != B.shape[1]:
        raise InputError(f"ecm_integrands: modes must have shape (n_modes, {B.shape[1]}) like B's columns, "
                         f"found {np.shape(modes)}")
    if not np.all(np.isfinite(psi)):
        raise InputError("ecm_integrands: modes contain NaN or infinite values")
    if not (np.isfinite(stress_tol) and 0 <= stress_tol < 1):
        raise ConfigError(f"ecm_integrands: stress_tol must be in [0, 1), found {stress_tol!r}")

    principal = _stress_principal_components(sigma.reshape(len(sigma), -1), np.sqrt(np.abs(w)), stress_tol)
    principal = principal.reshape(-1, n_points, 6)                       # (n_s, n_points, 6)
    strains = np.asarray(B @ psi.T).reshape(n_points, 6, len(psi))       # (n_points, 6, n_modes)
    n_s, n_m = len(principal), len(psi)
    out = np.empty((int(include_volume) + n_s * n_m, n_points))
    if include_volume:
        out[0] = 1.0
    products = out[int(include_volume):].reshape(n_s, n_m, n_points)
    products[:] = 0.0
    for c in range(6):                                                   # six components, not points
        products += principal[:, None, :, c] * strains[:, c, :].T[None]
    return out, w


# ============================================================ internals
def _check_inputs(integrands, weights) -> tuple[np.ndarray, np.ndarray]:
    G = np.asarray(integrands, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if G.ndim == 1:
        G = G[None]
    if G.ndim != 2:
        raise InputError(f"ecm: integrands must be an (n_integrands, n_points) array, "
                         f"found shape {np.shape(integrands)}")
    if w.ndim != 1 or len(w) != G.shape[1]:
        raise InputError(f"ecm: weights must have shape ({G.shape[1]},) like the integrands' columns, "
                         f"found {np.shape(weights)}")
    if G.shape[1] == 0:
        raise InputError("ecm: there are no integration points")
    if not np.all(np.isfinite(w)):
        raise InputError(f"ecm: weights contain NaN or infinite values (first at point "
                         f"{np.flatnonzero(~np.isfinite(w))[0]})")
    finite = np.isfinite(G)
    if not finite.all():
        row, col = np.argwhere(~finite)[0]
        raise InputError(f"ecm: integrands contain NaN or infinite values ({(~finite).sum()} entries; "
                         f"first: integrand {row} at point {col})")
    return np.ascontiguousarray(G), w


def _check_tol(value, name: str) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"ecm: {name} must be a number in (0, 1), found {value!r}") from None
    if not (0 < value < 1):
        raise ConfigError(f"ecm: {name} must be in (0, 1), found {value!r}")
    return value


def _check_initial(initial, w: np.ndarray) -> np.ndarray:
    if initial is None:
        return np.zeros(0, dtype=np.int64)
    points = np.asarray(initial)
    if points.size == 0:
        return np.zeros(0, dtype=np.int64)
    if points.ndim != 1 or not np.issubdtype(points.dtype, np.integer):
        raise InputError(f"ecm: initial must be a 1D array of point indices, found {points.dtype} {points.shape}")
    if points.min() < 0 or points.max() >= len(w):
        raise InputError(f"ecm: initial points must lie in [0, {len(w)}), found {points.min()}..{points.max()}")
    points = np.unique(points.astype(np.int64))
    if np.any(w[points] <= 0):
        raise InputError(f"ecm: initial points {points[w[points] <= 0][:5]} have non-positive FE weights")
    return points


def _tsqr_r(blocks, n_columns: int) -> np.ndarray:
    """R factor of the tall matrix made of ``blocks`` stacked (each (c, n_columns))."""
    R = np.zeros((0, n_columns))
    for block in blocks:
        R = np.linalg.qr(np.vstack([R, block]), mode="r")
    return R


def _truncation_rank(s: np.ndarray, total_energy: float, tol: float) -> int:
    """Smallest r such that Σ_{i≥r} s_i² ≤ tol² · total_energy (and s_{r-1} is above round-off)."""
    if len(s) == 0 or s[0] == 0:
        return 0
    tail = np.concatenate([np.cumsum((s ** 2)[::-1])[::-1], [0.0]])   # tail[r] = Σ_{i≥r} s_i²
    r = int(np.argmax(tail <= tol ** 2 * total_energy))
    return min(r, int(np.count_nonzero(s > 1e-14 * s[0])))


class _IntegrandBasis:
    """Rows ``J`` of the greedy's least-squares problem, and the caller's integrands for the check.

    Without compression the rows are the constant ``α 1`` (``α = ‖G w‖ / V``) and ``G``
    itself. With compression they are the constant ``1/√M`` and the ``L²(|w|)``-orthonormal
    functions ``Σ_r⁻¹ Z_rᵀ G`` (``G √|w| = Z Σ Vᵀ``), leading ``r`` first, more of them on
    demand (:meth:`extend`): the greedy then bounds every function of the span relative
    to its own ``L²`` norm, whatever the scale of the caller's rows, and the check on
    ``G`` (:meth:`error`) adds the caller's bound.
    """

    def __init__(self, G: np.ndarray, w: np.ndarray, *, svd_tol: float | None):
        m, n = G.shape
        self.G, self._w = G, w
        self.integrals = G @ w                                           # the caller's exact integrals
        self.scale = float(np.linalg.norm(self.integrals))
        abs_w = np.abs(w)
        measure = float(abs_w.sum())
        self.Zt, self.tail, self.sigma, self.r = None, None, None, m
        if svd_tol is None:
            energy = float(np.einsum("ij,ij,j->", G, G, abs_w))          # ‖G √|w|‖²_F
        else:
            # POD of the centred integrands in L²(|w|) (tall-skinny QR + SVD): the constant and
            # the centred directions are orthogonal, so the basis is the constant first, then
            # the orthonormal functions Σ⁻¹ Zᵀ (G − ḡ 1ᵀ)
            self.mean = (G @ abs_w) / measure
            root = np.sqrt(abs_w)
            blocks = (((G[:, i:i + _BLOCK] - self.mean[:, None]) * root[i:i + _BLOCK]).T for i in range(0, n, _BLOCK))
            _, sigma, Zt = np.linalg.svd(_tsqr_r(blocks, m), full_matrices=False)
            energy = float(np.sum(sigma ** 2) + measure * self.mean @ self.mean)
            rank = int(np.count_nonzero(sigma > 1e-14 * max(float(sigma[0]) if len(sigma) else 0.0, 1e-300)))
            tail = np.concatenate([np.cumsum((sigma[:rank] ** 2)[::-1])[::-1], [0.0]])   # Σ_{i≥r} s_i²
            r = int(np.argmax(tail <= svd_tol ** 2 * energy))
            self.Zt, self.tail, self.sigma, self.r = Zt[:rank], tail, sigma[:rank], r
        if not self.scale > 1e-14 * np.sqrt(measure * energy):
            raise InputError(f"ecm: the integrals of the integrands vanish (‖G w‖ = {self.scale:.3e} for "
                             f"‖G √|w|‖ √Σ|w| = {np.sqrt(measure * energy):.3e}); a relative tolerance on "
                             "them cannot be met: include the constant integrand (ecm_integrands does by default)")
        self.J = np.empty((1 + self.r, n))
        if self.Zt is None:
            self.J[0] = self.scale / float(w.sum())
            self.J[1:] = G
        else:
            self.J[0] = 1.0 / np.sqrt(measure)
            self.J[1:] = self._functions(0, self.r)
        self.b = self.J @ w
        self.target_scale = float(np.linalg.norm(self.b)) if self.Zt is not None else self.scale

    @property
    def n_rows(self) -> int:
        return self.J.shape[0]

    @property
    def complete(self) -> bool:
        """True when no direction of the integrands is left out."""
        return self.Zt is None or self.r >= len(self.Zt)

    def rank_for(self, discarded: float) -> int:
        """Smallest ``r`` whose discarded energy ``Σ_{i≥r} s_i²`` is at most ``discarded``."""
        return int(np.argmax(self.tail <= discarded))

    def error(self, points: list[int], omega: np.ndarray) -> float:
        """The caller's error ``‖G w − G[:, points] ω‖``."""
        return float(np.linalg.norm(self.integrals - self.G[:, points] @ omega))

    def seen(self, residual: np.ndarray) -> float:
        """``‖Z_rᵀ e‖``: the part of the caller's error in the rows' directions, from their residual."""
        if self.Zt is None:
            return float(np.linalg.norm(residual))
        return float(np.linalg.norm(self.sigma[:self.r] * residual[1:]))

    def _functions(self, start: int, stop: int) -> np.ndarray:
        """The orthonormal functions ``start … stop − 1``: ``Σ⁻¹ Zᵀ (G − ḡ 1ᵀ)``."""
        Zt = self.Zt[start:stop]
        return (Zt @ self.G - (Zt @ self.mean)[:, None]) / self.sigma[start:stop, None]

    def extend(self, r: int) -> None:
        """Add the functions ``r_old … r − 1`` to the rows."""
        r = min(max(r, self.r + 1), len(self.Zt))
        rows = self._functions(self.r, r)
        self.J = np.vstack([self.J, rows])
        self.b = np.concatenate([self.b, rows @ self._w])
        self.r = r


def _stress_principal_components(S: np.ndarray, root_w: np.ndarray, tol: float) -> np.ndarray:
    """``Zᵀ_r S`` for the L²(|w|) POD of the rows of ``S (n_snapshots, 6 n_points)``."""
    n_snap, N = S.shape
    scale = np.repeat(root_w, 6)
    step = 6 * _BLOCK
    R = _tsqr_r(((S[:, i:i + step] * scale[i:i + step]).T for i in range(0, N, step)), n_snap)
    _, s, Zt = np.linalg.svd(R, full_matrices=False)
    r = _truncation_rank(s, float(np.sum(s ** 2)), tol)
    return Zt[:r] @ S


class _SelectedSet:
    """Selected columns of ``J`` with an incrementally updated thin QR factorisation."""

    def __init__(self, J: np.ndarray, b: np.ndarray):
        p = J.shape[0]
        self.J, self.b = J, b
        self.Q = np.zeros((p, p))
        self.R = np.zeros((p, p))
        self.qb = np.zeros(p)
        self.index: list[int] = []

    @property
    def k(self) -> int:
        return len(self.index)

    def append(self, j: int) -> bool:
        """Add column j; False (and nothing changes) if it is numerically dependent."""
        k, p = self.k, self.Q.shape[0]
        if k >= p:
            return False
        a = self.J[:, j]
        Qk = self.Q[:, :k]
        h = Qk.T @ a
        v = a - Qk @ h
        h2 = Qk.T @ v                                  # re-orthogonalise (CGS2)
        v -= Qk @ h2
        rho = float(np.linalg.norm(v))
        if not rho > _DEPENDENT * float(np.linalg.norm(a)):
            return False
        self.Q[:, k] = v / rho
        self.R[:k, k] = h + h2
        self.R[k, k] = rho
        self.qb[k] = self.Q[:, k] @ self.b
        self.index.append(int(j))
        return True

    def rebuild(self, keep: np.ndarray) -> np.ndarray:
        """Keep the positions ``keep`` (bool mask); returns the mask of those kept for good.

        One Householder QR of the kept columns (LAPACK) when they are independent,
        which is the rule; column by column (dropping the dependent ones) otherwise.
        """
        old = np.asarray(self.index, dtype=np.int64)[keep]
        self.index = []
        k = len(old)
        if k == 0:
            return np.zeros(0, dtype=bool)
        columns = self.J[:, old]
        Q, R = np.linalg.qr(columns)
        if np.all(np.abs(np.diag(R)) > _DEPENDENT * np.linalg.norm(columns, axis=0)):
            self.Q[:, :k], self.R[:k, :k] = Q, R
            self.qb[:k] = Q.T @ self.b
            self.index = old.tolist()
            return np.ones(k, dtype=bool)
        return np.array([self.append(j) for j in old], dtype=bool)

    def remove(self, keep: np.ndarray) -> None:
        """Keep the positions ``keep`` (bool mask) only: Givens downdates of the QR (``qr_delete``).

        A subset of independent columns stays independent, so nothing else can drop out.
        """
        k = int(np.count_nonzero(keep))
        Q, R = self.Q[:, :self.k], self.R[:self.k, :self.k]
        for position in np.flatnonzero(~keep)[::-1]:
            Q, R = sla.qr_delete(Q, R, position, 1, which="col", check_finite=False)
        self.index = np.asarray(self.index, dtype=np.int64)[keep].tolist()
        if k:                                            # (from a square Q, qr_delete returns the full factors)
            self.Q[:, :k], self.R[:k, :k] = Q[:, :k], R[:k, :k]
            self.qb[:k] = self.Q[:, :k].T @ self.b

    def reset(self, J: np.ndarray, b: np.ndarray) -> np.ndarray:
        """The same columns of a taller ``J`` (the basis grew): refactorise; the mask of those kept."""
        p = J.shape[0]
        self.J, self.b = J, b
        self.Q, self.R, self.qb = np.zeros((p, p)), np.zeros((p, p)), np.zeros(p)
        return self.rebuild(np.ones(self.k, dtype=bool))

    def solve(self) -> np.ndarray:
        """Unconstrained least-squares weights on the selected columns."""
        k = self.k
        z, _ = _trtrs(self.R[:k, :k], self.qb[:k])            # LAPACK directly: solve_triangular's checks cost more
        return z

    def fitted(self) -> np.ndarray:
        """``J_S z`` for the least-squares solution ``z`` (``Q Qᵀ b``)."""
        k = self.k
        return self.Q[:, :k] @ self.qb[:k]


def _lawson_hanson(selected: _SelectedSet, x: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """Inner loop of Lawson–Hanson from a feasible ``x ≥ 0``: weights all positive on the final set."""
    removed: list[int] = []
    while selected.k:
        z = selected.solve()
        if np.all(z > 0):
            return z, removed
        negative = z <= 0
        step = x[negative] - z[negative]                              # ≥ 0
        ratios = np.divide(x[negative], step, out=np.zeros_like(step), where=step > 0)
        position = np.flatnonzero(negative)[np.argmin(ratios)]
        x = x + ratios.min() * (z - x)
        x[position] = 0.0
        drop = x <= 1e-14 * max(float(x.max()), 0.0)
        drop[position] = True
        removed.extend(np.asarray(selected.index)[drop].tolist())
        selected.remove(~drop)
        x = x[~drop]
    return np.zeros(0), removed


def _scaled(basis: _IntegrandBasis, selected: _SelectedSet, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weights scaled to the exact volume (row 0 is the constant) and the residual vector in ``J``."""
    if selected.k == 0:
        return x, basis.b.copy()
    factor = basis.b[0] / (basis.J[0, selected.index] @ x)
    return x * factor, basis.b - factor * selected.fitted()


def _grow(basis: _IntegrandBasis, selected: _SelectedSet, x: np.ndarray, r: int) -> np.ndarray:
    """Rows up to ``r``; the selected points refitted (Lawson–Hanson from their current weights)."""
    before = basis.n_rows
    basis.extend(r)
    log.debug("ecm: %d points; the check on the integrands asked for more directions: %d → %d rows",
              selected.k, before, basis.n_rows)
    kept = selected.reset(basis.J, basis.b)
    x, _ = _lawson_hanson(selected, x[kept])
    return x


def _greedy(basis: _IntegrandBasis, *, candidates: np.ndarray, tol: float, rng: np.random.Generator,
            initial: np.ndarray, max_points: int | None) -> tuple[np.ndarray, np.ndarray, float]:
    """Points and volume-exact weights with ``‖G w − G_S ω‖ ≤ tol ‖G w‖`` (module docstring, 3–4)."""
    target = tol * basis.scale
    admissible = np.where(candidates, 0.0, -np.inf)              # 0 where a point may be picked
    selected = _SelectedSet(basis.J, basis.b)
    x = np.zeros(0)

    if len(initial):
        x0, _ = sopt.nnls(basis.J[:, initial], basis.b, maxiter=50 * max(len(initial), basis.n_rows))
        for j in initial[x0 > 0]:
            if selected.append(j):
                x = np.append(x, x0[initial == j])
        x, _ = _lawson_hanson(selected, x)

    inverse_norm = 1.0 / np.sqrt(np.einsum("ij,ij->j", basis.J, basis.J))
    blocked = np.zeros(basis.J.shape[1], dtype=bool)
    budget, iterations = 4 * basis.n_rows + 2 * len(initial) + 50, 0
    rows_target = tol * basis.target_scale
    while True:
        iterations += 1
        omega, residual_vector = _scaled(basis, selected, x)
        residual = float(np.linalg.norm(residual_vector))
        if iterations > budget:
            raise ConvergenceError(f"ecm: no convergence after {budget} iterations (relative error "
                                   f"{basis.error(selected.index, omega) / basis.scale:.3e}, tol {tol:.1e})")
        grow_to = None
        seen = basis.seen(residual_vector)               # ‖Z_rᵀ e‖ ≤ ‖e‖
        if residual <= rows_target and seen <= target:   # the rows' bound; only now can the check pass
            error = basis.error(selected.index, omega)
            if error <= target:
                break
            discarded = np.sqrt(max(error ** 2 - seen ** 2, 0.0))           # ‖Z_⊥ᵀ e‖
            if discarded > target / 2 and not basis.complete:
                grow_to = basis.rank_for(basis.tail[basis.r] * (target / (4 * discarded)) ** 2)
        if grow_to is None:
            if max_points is not None and selected.k >= max_points:
                log.warning("ecm: stopped at max_points=%d with relative error %.3e > tol %.1e", max_points,
                            basis.error(selected.index, omega) / basis.scale, tol)
                break
            j = _pick(basis, selected, inverse_norm, admissible, blocked, rng)
            if j < 0 and basis.complete:
                error = basis.error(selected.index, omega) / basis.scale
                raise ConvergenceError(f"ecm: no admissible point improves the fit; relative error {error:.3e} "
                                       f"with {selected.k} points on {basis.n_rows} rows, above tol {tol:.1e} "
                                       "(tol below round-off?)")
            if j < 0:                                            # nothing left to add on these rows
                grow_to = len(basis.Zt)
        if grow_to is not None:
            rows = basis.n_rows
            x = _grow(basis, selected, x, grow_to)
            inverse_norm = 1.0 / np.sqrt(np.einsum("ij,ij->j", basis.J, basis.J))
            blocked[:] = False
            budget += 4 * (basis.n_rows - rows) + 2 * selected.k
            continue
        if not selected.append(j):
            blocked[j] = True
            continue
        x, removed = _lawson_hanson(selected, np.append(x, 0.0))
        if removed:
            blocked[:] = False
            if j in removed:
                blocked[j] = True
    points = np.asarray(selected.index, dtype=np.int64)
    omega, _ = _scaled(basis, selected, x)
    return points, omega, basis.error(selected.index, omega) / basis.scale


def _pick(basis: _IntegrandBasis, selected: _SelectedSet, inverse_norm: np.ndarray, admissible: np.ndarray,
          blocked: np.ndarray, rng: np.random.Generator) -> int:
    """The admissible point whose column is most correlated (cosine) with the residual; −1 if none improves it.

    ``admissible`` is 0 where a point may be picked, ``−∞`` elsewhere. Ties are broken by ``rng``.
    """
    if selected.k >= basis.n_rows:
        return -1
    r = basis.b - selected.fitted() if selected.k else basis.b
    scores = (r @ basis.J) * inverse_norm + admissible
    if selected.k:
        scores[selected.index] = -np.inf
    scores[blocked] = -np.inf
    j = int(np.argmax(scores))
    best = scores[j]
    if not best > 1e-13 * float(np.linalg.norm(r)):
        return -1
    tied = np.flatnonzero(scores >= best - _TIE * abs(best))
    return int(rng.choice(tied)) if len(tied) > 1 else j
