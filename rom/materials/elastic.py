"""Isotropic linear elasticity with thermal strain, vectorised over integration points.

Equations (small strain, Voigt conventions of :mod:`rom.materials.voigt`)::

    ε^th = [α(T) (T − T_ref) − α(T_0) (T_0 − T_ref)] I      (secant α, as Zset)
    σ    = λ tr(ε − ε^th) I + 2μ (ε − ε^th)     λ = Eν/((1+ν)(1−2ν)),  μ = E/(2(1+ν))

with E(T), ν(T), α(T) evaluated at the end-of-increment temperature and T_0 the
temperature of the point at the start of the computation (the thermal strain is
measured from the initial state, so a body at its initial temperature is unstrained;
Zset, Abaqus and Code_Aster use the same convention, see ``docs/zset.md``). In Voigt form
``D = λ 1⊗1 + 2μ diag(1, 1, 1, ½, ½, ½)`` (engineering shears on the strain side).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from io_adapters.errors import ConfigError
from rom.materials._common import check_inputs, initial_temperature, temperatures
from rom.materials.tables import Coefficient, as_coefficient


@dataclass(frozen=True)
class IsotropicElasticity:
    """Young's modulus and Poisson's ratio, possibly tabulated in temperature."""

    young: Coefficient
    poisson: Coefficient

    def __post_init__(self):
        object.__setattr__(self, "young", as_coefficient(self.young, "elasticity 'young'"))
        object.__setattr__(self, "poisson", as_coefficient(self.poisson, "elasticity 'poisson'"))
        if min(self.young.values) <= 0.0:
            raise ConfigError(f"elasticity 'young' must be positive, found {self.young.to_spec()}")
        if not all(-1.0 < v < 0.5 for v in self.poisson.values):
            raise ConfigError(f"elasticity 'poisson' must lie in (-1, 0.5), found {self.poisson.to_spec()}")

    @property
    def is_constant(self) -> bool:
        return self.young.is_constant and self.poisson.is_constant

    def lame(self, temperature: np.ndarray) -> tuple[float | np.ndarray, float | np.ndarray]:
        """Lamé coefficients ``(λ, μ)`` at temperatures (n,): floats when constant, else (n,) arrays."""
        e = self.young.at(temperature)
        nu = self.poisson.at(temperature)
        mu = e / (2.0 * (1.0 + nu))
        lam = e * nu / ((1.0 + nu) * (1.0 - 2.0 * nu))
        return lam, mu


@dataclass(frozen=True)
class ThermalStrain:
    """Isotropic thermal strain ``[α(T)(T − T_ref) − α(T_0)(T_0 − T_ref)] I`` (secant α).

    ``T_ref`` is the material's reference temperature (of the secant coefficient α)
    and ``T_0`` the point's temperature at the start of the computation: the strain
    vanishes while ``T = T_0`` (Zset's convention, verified on Zset runs; Abaqus and
    Code_Aster do the same). Without ``T_0`` (``initial=None``) the strain is measured
    from ``T_ref``, which is the same thing when ``T_0 = T_ref``.
    """

    alpha: Coefficient
    ref_temperature: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "alpha", as_coefficient(self.alpha, "thermal_strain 'alpha'"))
        object.__setattr__(self, "ref_temperature", float(self.ref_temperature))

    def __call__(self, temperature: np.ndarray, initial: np.ndarray | float | None = None) -> np.ndarray:
        """Scalar thermal strain (the same on 11, 22, 33), shape (n,).

        Parameters
        ----------
        temperature : (n,) array
            Current temperature T.
        initial : (n,) array or float, optional
            Temperature T_0 at the start of the computation; the strain is
            ``α(T)(T − T_ref) − α(T_0)(T_0 − T_ref)``. Omitted: ``α(T)(T − T_ref)``.
        """
        strain = self.alpha.at(temperature) * (temperature - self.ref_temperature)
        if initial is not None:
            strain = strain - self.alpha.at(initial) * (initial - self.ref_temperature)
        return strain


def elastic_tangent(lam, mu, n: int, out: np.ndarray | None = None) -> np.ndarray:
    """Isotropic elastic tangents ``λ 1⊗1 + 2μ diag(1,1,1,½,½,½)``.

    Parameters
    ----------
    lam, mu : float or (n,) array
    n : int
    out : (n, 6, 6) array, optional

    Returns
    -------
    (n, 6, 6) array
    """
    d = np.zeros((n, 6, 6)) if out is None else out
    if out is not None:
        d.fill(0.0)
    lam = np.asarray(lam, dtype=float)
    mu = np.asarray(mu, dtype=float)
    d[:, :3, :3] = lam[..., None, None] if lam.ndim else lam
    flat = d.reshape(n, 36)
    two_mu = 2.0 * mu
    flat[:, 0:21:7] += two_mu[:, None] if two_mu.ndim else two_mu
    flat[:, 21::7] = mu[:, None] if mu.ndim else mu
    return d


def elastic_stress(elastic_strain: np.ndarray, lam, mu) -> np.ndarray:
    """Stress ``λ tr(ε^e) I + 2μ ε^e`` of elastic strains (n, 6) (engineering shears), shape (n, 6)."""
    lam = np.asarray(lam, dtype=float)
    mu = np.asarray(mu, dtype=float)
    lam_ = lam[:, None] if lam.ndim else lam
    mu_ = mu[:, None] if mu.ndim else mu
    stress = elastic_strain * mu_
    stress[:, :3] *= 2.0
    stress[:, :3] += lam_ * elastic_strain[:, :3].sum(axis=1, keepdims=True)
    return stress


@dataclass(frozen=True)
class LinearElastic:
    """Isotropic linear elasticity, optionally with thermal strain (Zset ``linear_elastic``).

    Attributes
    ----------
    elasticity : IsotropicElasticity
    thermal_strain : ThermalStrain, optional
    density : float, optional
        ``masvol``, for centrifugal loads.
    """

    elasticity: IsotropicElasticity
    thermal_strain: ThermalStrain | None = None
    density: float | None = None

    behavior: ClassVar[str] = "linear_elastic"
    state_names: ClassVar[tuple[str, ...]] = ()
    state_shapes: ClassVar[dict[str, tuple[int, ...]]] = {}

    @property
    def uses_temperature(self) -> bool:
        """True when a coefficient or the thermal strain depends on temperature."""
        return self.thermal_strain is not None or not self.elasticity.is_constant

    def initial_state(self, n: int) -> dict[str, np.ndarray]:
        """No internal variables: an empty dict."""
        return {}

    def update(
        self,
        strain_old: np.ndarray,
        d_strain: np.ndarray,
        state_old: dict[str, np.ndarray],
        T_old: np.ndarray | float | None,
        d_T: np.ndarray | float | None,
        dt: float,
        *,
        T_initial: np.ndarray | float | None = None,
    ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """Stress and tangent at the end of an increment.

        Parameters
        ----------
        strain_old, d_strain : (n, 6) arrays
            Total strain at the start of the increment and its increment (engineering shears).
        state_old : dict
            Unused (empty).
        T_old, d_T : (n,) arrays or floats, or None for a temperature-independent law
            Temperature at the start and its increment.
        dt : float
            Time increment (unused).
        T_initial : (n,) array or float, optional
            Temperature at the start of the computation, from which the thermal
            strain is measured (``T_ref`` when omitted).

        Returns
        -------
        stress : (n, 6) array
            ``σ = λ tr(ε − ε^th) I + 2μ (ε − ε^th)`` at ``T = T_old + d_T``.
        tangent : (n, 6, 6) array
            ``dσ/dε``, the elastic matrix.
        state : dict
            Empty.
        """
        n = check_inputs(self, strain_old, d_strain, state_old, dt)
        temperature_old, d_temperature = temperatures(self, T_old, d_T, n)
        temperature = temperature_old + d_temperature
        lam, mu = self.elasticity.lame(temperature)
        strain = np.add(strain_old, d_strain)
        if self.thermal_strain is not None:
            initial = initial_temperature(self, T_initial, n)
            strain[:, :3] -= self.thermal_strain(temperature, initial)[:, None]
        stress = elastic_stress(strain, lam, mu)
        return stress, elastic_tangent(lam, mu, n), {}
