"""Rate-independent J2 (von Mises) plasticity with isotropic and kinematic hardening.

Equations (see :mod:`rom.materials._mises` for the integration and the tangent)::

    σ = λ tr(εᵉ) I + 2μ εᵉ,          εᵉ = ε − εᵗʰ − εᵖ
    f = J(σ − X) − R(p) ≤ 0,         R(p) = R0 + H p + Q (1 − exp(−b p))
    ε̇ᵖ = ṗ (3/2) dev(σ − X)/J(σ − X),  ṗ ≥ 0,  ṗ f = 0
    X = Σ_k (2/3) C_k α_k,            α̇_k = ε̇ᵖ − D_k α_k ṗ   (linear: D_k = 0)

Integrated by the radial return (backward Euler, θ = 1 by default) with a scalar
Newton in Δp when the hardening is nonlinear, and the consistent tangent. In uniaxial
tension with linear hardening ``σ = R0 + (H + C) εᵖ``; with one Armstrong–Frederick term
``σ = R0 + (C/D)(1 − exp(−D εᵖ))``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from io_adapters.errors import ConfigError
from rom.materials._mises import MisesLaw
from rom.materials.elastic import IsotropicElasticity, ThermalStrain
from rom.materials.hardening import Integration, IsotropicHardening, KinematicHardening, PlasticFlow


@dataclass(frozen=True)
class J2Plasticity(MisesLaw):
    """Mises plasticity with isotropic (linear / Voce) and several kinematic terms.

    Attributes
    ----------
    elasticity : IsotropicElasticity
    isotropic : IsotropicHardening
        ``R0`` is the initial yield stress.
    kinematic : tuple of KinematicHardening
        Back-stresses, summed (may be empty).
    thermal_strain : ThermalStrain, optional
    density : float, optional
        ``masvol``.
    name : str
        Name of the potential, giving the state names ``NAMEcum`` (p) and ``NAMEi`` (εᵖ);
        ``"ep"`` by default (Zset ``epcum``, ``epi``).
    integration : Integration
        Local Newton settings (θ = 1: radial return).

    Notes
    -----
    State variables: ``epcum`` (n,) cumulated plastic strain p; ``epi`` (n, 6) plastic
    strain (engineering shears); ``al1``, ``al2``… (n, 6) kinematic variables α_k
    (engineering shears), with back-stress ``X_k = (2/3) C_k α_k``. The consistent
    tangent is symmetric without Armstrong–Frederick terms (D_k = 0), not in general
    otherwise.
    """

    elasticity: IsotropicElasticity
    isotropic: IsotropicHardening
    kinematic: tuple[KinematicHardening, ...] = ()
    thermal_strain: ThermalStrain | None = None
    density: float | None = None
    name: str = "ep"
    integration: Integration = field(default_factory=Integration)

    behavior: ClassVar[str] = "j2_plasticity"
    flow: ClassVar[PlasticFlow] = PlasticFlow()

    def __post_init__(self):
        object.__setattr__(self, "kinematic", tuple(self.kinematic))
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ConfigError(f"j2_plasticity: potential name must be an identifier, found {self.name!r}")
