"""Ingredients of Mises plasticity and viscoplasticity: hardening, flow rules, integration.

Every coefficient is a :class:`~rom.materials.tables.Coefficient` (constant or a table
in temperature). Numbers and ``{"temperature": [...], "value": [...]}`` dicts are
accepted and converted.

Equations (p cumulated plastic strain, α strain-like kinematic variable)::

    isotropic   R(p) = R0 + H p + Q (1 − exp(−b p))          (constant: H = Q = 0)
    kinematic   X = (2/3) C α,   α̇ = ε̇ᵖ − D α ṗ            (linear / Prager: D = 0)
    Norton      ṗ = ⟨f / K⟩ⁿ,    f = J(σ − X) − R
    plasticity  f = J(σ − X) − R ≤ 0,  ṗ ≥ 0,  ṗ f = 0       (rate-independent)
"""

from __future__ import annotations

from dataclasses import dataclass

from io_adapters.errors import ConfigError
from rom.materials.tables import Coefficient, as_coefficient


def _nonnegative(coef: Coefficient, what: str) -> None:
    if min(coef.values) < 0.0:
        raise ConfigError(f"{what} must be >= 0, found {coef.to_spec()}")


@dataclass(frozen=True)
class IsotropicHardening:
    """Yield threshold ``R(p) = R0 + H p + Q (1 − exp(−b p))``.

    Attributes
    ----------
    R0 : Coefficient
        Initial threshold (yield stress), > 0.
    H : Coefficient
        Linear hardening modulus (0 by default).
    Q, b : Coefficient
        Saturating (Voce / Zset ``nonlinear``) hardening: saturation Q (may be negative
        for cyclic softening) and rate b >= 0 (0 by default).
    """

    R0: Coefficient
    H: Coefficient = Coefficient.constant(0.0)
    Q: Coefficient = Coefficient.constant(0.0)
    b: Coefficient = Coefficient.constant(0.0)

    def __post_init__(self):
        for name in ("R0", "H", "Q", "b"):
            object.__setattr__(self, name, as_coefficient(getattr(self, name), f"isotropic '{name}'"))
        if min(self.R0.values) <= 0.0:
            raise ConfigError(f"isotropic 'R0' (yield stress) must be positive, found {self.R0.to_spec()}")
        _nonnegative(self.b, "isotropic 'b'")

    @property
    def is_constant(self) -> bool:
        return all(c.is_constant for c in (self.R0, self.H, self.Q, self.b))

    @property
    def is_linear(self) -> bool:
        """True when R is affine in p (no saturating term)."""
        return self.Q.values == (0.0,) or self.b.values == (0.0,)


@dataclass(frozen=True)
class KinematicHardening:
    """One back-stress ``X = (2/3) C α`` with ``α̇ = ε̇ᵖ − D α ṗ`` (Armstrong–Frederick; linear if D = 0).

    In uniaxial tension the back-stress saturates at ``(3/2) X11 = C / D``.
    """

    C: Coefficient
    D: Coefficient = Coefficient.constant(0.0)

    def __post_init__(self):
        object.__setattr__(self, "C", as_coefficient(self.C, "kinematic 'C'"))
        object.__setattr__(self, "D", as_coefficient(self.D, "kinematic 'D'"))
        _nonnegative(self.C, "kinematic 'C'")
        _nonnegative(self.D, "kinematic 'D'")

    @property
    def is_linear(self) -> bool:
        return self.D.values == (0.0,)

    @property
    def is_constant(self) -> bool:
        return self.C.is_constant and self.D.is_constant


@dataclass(frozen=True)
class NortonFlow:
    """Norton viscous flow ``ṗ = ⟨f/K⟩ⁿ`` (K > 0 in stress units, n >= 1)."""

    K: Coefficient
    n: Coefficient

    def __post_init__(self):
        object.__setattr__(self, "K", as_coefficient(self.K, "norton 'K'"))
        object.__setattr__(self, "n", as_coefficient(self.n, "norton 'n'"))
        if min(self.K.values) <= 0.0:
            raise ConfigError(f"norton 'K' must be positive, found {self.K.to_spec()}")
        if min(self.n.values) < 1.0:
            raise ConfigError(f"norton 'n' must be >= 1, found {self.n.to_spec()}")

    @property
    def is_constant(self) -> bool:
        return self.K.is_constant and self.n.is_constant


@dataclass(frozen=True)
class PlasticFlow:
    """Rate-independent flow (Zset ``*flow plasticity``): ``f ≤ 0``, consistency during flow."""

    is_constant = True


#: Integration methods accepted in specs (all integrated by the implicit θ-method).
METHODS = ("theta_method", "runge_kutta")


@dataclass(frozen=True)
class Integration:
    """Settings of the local (per integration point) implicit integration.

    Attributes
    ----------
    theta : float
        θ of the θ-method, in (0, 1]; 1 is backward Euler (Zset ``theta_method_a 1.``).
    tol : float
        Convergence bound on the local residual, relative to the trial equivalent stress.
    max_iterations : int
        Newton iterations per attempt (each point).
    max_subdivisions : int
        How many times an increment may be halved, locally, at the points that did not
        converge (``2**max_subdivisions`` sub-increments at most).
    method : str
        ``"theta_method"`` (Zset ``theta_method_a``), or ``"runge_kutta"``, accepted for Zset
        files that ask for explicit integration: it is recorded, but the update is the
        implicit θ-method all the same (its consistent tangent is what a Newton solver needs).
    """

    theta: float = 1.0
    tol: float = 1e-9
    max_iterations: int = 200
    max_subdivisions: int = 8
    method: str = "theta_method"

    def __post_init__(self):
        if self.method not in METHODS:
            raise ConfigError(f"integration 'method' must be one of {', '.join(METHODS)}, found {self.method!r}")
        if not 0.0 < self.theta <= 1.0:
            raise ConfigError(f"integration 'theta' must lie in (0, 1], found {self.theta}")
        if not 0.0 < self.tol < 1.0:
            raise ConfigError(f"integration 'tol' must lie in (0, 1), found {self.tol}")
        if int(self.max_iterations) != self.max_iterations or self.max_iterations < 1:
            raise ConfigError(f"integration 'max_iterations' must be a positive integer, found {self.max_iterations}")
        if int(self.max_subdivisions) != self.max_subdivisions or self.max_subdivisions < 0:
            raise ConfigError(
                f"integration 'max_subdivisions' must be a non-negative integer, found {self.max_subdivisions}"
            )
        object.__setattr__(self, "theta", float(self.theta))
        object.__setattr__(self, "tol", float(self.tol))
        object.__setattr__(self, "max_iterations", int(self.max_iterations))
        object.__setattr__(self, "max_subdivisions", int(self.max_subdivisions))
