"""Elastoviscoplasticity of Zset's ``gen_evp`` (Chaboche family), one Mises potential.

Equations (small strain; Zset ``gen_evp``, see ZSET_FORMAT §7)::

    ε = εᵉ + εᵗʰ + εᵛᵖ,   σ = λ tr(εᵉ) I + 2μ εᵉ,   εᵗʰ = [α(T)(T − T_ref) − α(T_0)(T_0 − T_ref)] I
    f = J(σ − X) − R,     J(a) = sqrt(3/2 dev a : dev a)
    ṗ = ⟨f/K⟩ⁿ (Norton)   [or f ≤ 0 with consistency: ``*flow plasticity``]
    ε̇ᵛᵖ = ṗ (3/2) dev(σ − X)/J(σ − X)
    X = Σ_k (2/3) C_k α_k,   α̇_k = ε̇ᵛᵖ − D_k α_k ṗ        (``*kinematic nonlinear``)
    R = R0 (``constant``), R0 + H p (``linear``) or R0 + Q(1 − exp(−b p)) (``nonlinear``)

integrated by the θ-method (θ = 1 by default) with a vectorised scalar Newton and the
consistent tangent, see :mod:`rom.materials._mises`. Every coefficient may be a table in
temperature (evaluated at ``T_n + θ ΔT``; elasticity and thermal strain at ``T_{n+1}``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from io_adapters.errors import ConfigError
from rom.materials._mises import MisesLaw
from rom.materials.elastic import IsotropicElasticity, ThermalStrain
from rom.materials.hardening import Integration, IsotropicHardening, KinematicHardening, NortonFlow, PlasticFlow


@dataclass(frozen=True)
class GenEVP(MisesLaw):
    """Zset ``gen_evp`` with one potential: Mises criterion, Norton (or plastic) flow.

    Attributes
    ----------
    elasticity : IsotropicElasticity
    flow : NortonFlow or PlasticFlow
    isotropic : IsotropicHardening
        Threshold R(p).
    kinematic : tuple of KinematicHardening
        Nonlinear kinematic terms (may be empty).
    thermal_strain : ThermalStrain, optional
    density : float, optional
        ``masvol``.
    name : str
        Potential name; state ``NAMEcum`` (p, (n,)) and ``NAMEi`` (εᵛᵖ, (n, 6), engineering
        shears), ``"evr"`` by default (Zset ``evrcum``, ``evri``), plus ``al1``… (n, 6).
    integration : Integration
    """

    elasticity: IsotropicElasticity
    flow: NortonFlow | PlasticFlow
    isotropic: IsotropicHardening
    kinematic: tuple[KinematicHardening, ...] = ()
    thermal_strain: ThermalStrain | None = None
    density: float | None = None
    name: str = "evr"
    integration: Integration = field(default_factory=Integration)

    behavior: ClassVar[str] = "gen_evp"

    def __post_init__(self):
        object.__setattr__(self, "kinematic", tuple(self.kinematic))
        if not isinstance(self.flow, (NortonFlow, PlasticFlow)):
            raise ConfigError(f"gen_evp: flow must be NortonFlow or PlasticFlow, found {type(self.flow).__name__}")
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ConfigError(f"gen_evp: potential name must be an identifier, found {self.name!r}")
