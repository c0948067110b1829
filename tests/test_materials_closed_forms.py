"""Uniaxial closed forms, driven in a uniaxial stress state by rom.materials.driver."""

from __future__ import annotations

import numpy as np
import pytest

from io_adapters.errors import ConvergenceError, InputError
from rom.materials import (
    Coefficient,
    GenEVP,
    IsotropicElasticity,
    IsotropicHardening,
    J2Plasticity,
    KinematicHardening,
    LinearElastic,
    NortonFlow,
    ThermalStrain,
    drive,
    uniaxial,
)

E, NU = 2.0e5, 0.3
ELASTICITY = IsotropicElasticity(E, NU)
R0 = 200.0


def test_linear_elastic_uniaxial_stress():
    young = Coefficient.table([0.0, 1000.0], [2.0e5, 1.0e5])
    law = LinearElastic(IsotropicElasticity(young, NU))
    times = np.linspace(0.0, 1.0, 5)
    eps = 2e-3 * times
    tr = uniaxial(law, times, strain=eps, temperature=500.0)
    np.testing.assert_allclose(tr.stress[:, 0, 0], 1.5e5 * eps, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(tr.strain[:, 0, 1], -NU * eps, rtol=1e-10, atol=1e-16)
    np.testing.assert_allclose(tr.stress[:, 0, 1:], 0.0, atol=1e-8)


def test_j2_linear_isotropic_hardening():
    h = 1.0e4
    law = J2Plasticity(ELASTICITY, IsotropicHardening(R0=R0, H=h))
    times = np.linspace(0.0, 1.0, 41)
    eps = 1e-2 * times
    tr = uniaxial(law, times, strain=eps)
    sigma = tr.stress[:, 0, 0]
    plastic = eps > R0 / E
    # σ = R0 + H εp with εp = ε − σ/E  ⇔  σ = R0 + E H/(E + H) (ε − R0/E)
    expected = np.where(plastic, R0 + E * h / (E + h) * (eps - R0 / E), E * eps)
    np.testing.assert_allclose(sigma, expected, rtol=1e-10)
    np.testing.assert_allclose(tr.state["epcum"][:, 0], np.maximum(eps - sigma / E, 0.0), atol=1e-14)
    np.testing.assert_allclose(tr.state["epi"][:, 0, 0], tr.state["epcum"][:, 0], atol=1e-14)
    np.testing.assert_allclose(tr.state["epi"][:, 0, 1], -0.5 * tr.state["epcum"][:, 0], atol=1e-14)


def test_j2_linear_kinematic_hardening_and_bauschinger():
    c = 2.0e4
    law = J2Plasticity(ELASTICITY, IsotropicHardening(R0=R0), (KinematicHardening(C=c),))
    times = np.linspace(0.0, 2.0, 81)
    eps = np.where(times <= 1.0, 1e-2 * times, 1e-2 * (2.0 - times))      # load, then unload to 0
    tr = uniaxial(law, times, strain=eps)
    sigma = tr.stress[:, 0, 0]
    eps_max, slope = 1e-2, E * c / (E + c)
    sigma_max = R0 + slope * (eps_max - R0 / E)                              # σ = R0 + C εp
    np.testing.assert_allclose(sigma[40], sigma_max, rtol=1e-10)
    # reverse yield at σ_max − 2 R0, then σ = X − R0 with X = C εp
    unload = times > 1.0
    elastic_back = sigma_max - E * (eps_max - eps)
    ep_max = eps_max - sigma_max / E
    reverse = (sigma_max - 2 * R0) + slope * (eps - (eps_max - 2 * R0 / E))
    expected = np.where(elastic_back > sigma_max - 2 * R0, elastic_back, reverse)
    np.testing.assert_allclose(sigma[unload], expected[unload], rtol=1e-10, atol=1e-8)
    x11 = (2.0 / 3.0) * c * tr.state["al1"][:, 0, 0]
    np.testing.assert_allclose(1.5 * x11[40], c * ep_max, rtol=1e-10)


def test_armstrong_frederick_monotonic_saturation():
    c, d = 2.0e4, 100.0
    law = J2Plasticity(ELASTICITY, IsotropicHardening(R0=R0), (KinematicHardening(C=c, D=d),))
    times = np.linspace(0.0, 1.0, 501)
    eps = 5e-2 * times
    tr = uniaxial(law, times, strain=eps)
    sigma = tr.stress[:, 0, 0]
    ep = tr.state["epcum"][:, 0]
    flowing = ep > 0
    # X11_eff = (3/2) X11 = (C/D)(1 − exp(−D εp)): backward Euler converges at first order in D Δεp
    np.testing.assert_allclose(sigma[flowing], R0 + c / d * (1 - np.exp(-d * ep[flowing])), rtol=2e-3)
    # exactly, the backward-Euler recursion X_{k+1} = (X_k + C Δp) / (1 + D Δp)
    x = np.zeros_like(ep)
    for k in range(1, ep.size):
        dp = ep[k] - ep[k - 1]
        x[k] = (x[k - 1] + c * dp) / (1 + d * dp)
    np.testing.assert_allclose(sigma[flowing], R0 + x[flowing], rtol=1e-11)
    assert abs(sigma[-1] - (R0 + c / d)) < 0.01 * c / d                     # saturated: D εp > 4.6


def norton_law(r0=100.0, k=500.0, n=5.0, kinematic=()):
    return GenEVP(ELASTICITY, NortonFlow(K=k, n=n), IsotropicHardening(R0=r0), kinematic)


def test_norton_creep_at_constant_stress():
    law = norton_law()
    sigma = 300.0
    times = np.linspace(0.0, 100.0, 11)
    tr = uniaxial(law, times, stress=np.full(times.size, sigma))
    rate = ((sigma - 100.0) / 500.0) ** 5.0                                 # (<σ − R0>/K)^n
    np.testing.assert_allclose(tr.state["evri"][:, 0, 0], rate * times, rtol=1e-9)
    np.testing.assert_allclose(tr.state["evri"][:, 0, 1], -0.5 * rate * times, rtol=1e-9)
    np.testing.assert_allclose(tr.strain[:, 0, 0], sigma / E + rate * times, rtol=1e-9)
    np.testing.assert_allclose(tr.stress[:, 0, 0], sigma, rtol=1e-10)


def test_norton_relaxation_at_constant_strain():
    r0, k, n = 100.0, 500.0, 5.0
    law = norton_law(r0, k, n)
    eps0 = 2e-3
    times = np.concatenate([[0.0], np.geomspace(1e-6, 10.0, 400)])
    tr = uniaxial(law, times, strain=np.full(times.size, eps0))
    y0 = E * eps0 - r0
    # dσ/dt = −E ((σ − R0)/K)^n  ⇒  σ − R0 = [y0^(1−n) + (n−1) E t / K^n]^(−1/(n−1))
    exact = r0 + (y0 ** (1 - n) + (n - 1) * E * times / k**n) ** (-1 / (n - 1))
    np.testing.assert_allclose(tr.stress[:, 0, 0], exact, rtol=4e-3)     # backward Euler, dt/t = 4 %
    assert tr.stress[0, 0, 0] == pytest.approx(E * eps0)                     # dt = 0: elastic


def test_steady_viscous_overstress_at_constant_strain_rate():
    r0, k, n = 100.0, 500.0, 5.0
    law = norton_law(r0, k, n)
    rate = 1e-3
    times = np.linspace(0.0, 50.0, 501)
    tr = uniaxial(law, times, strain=rate * times)
    # σ → R0 + K ε̇^(1/n) once the viscoplastic rate equals the total rate
    np.testing.assert_allclose(tr.stress[-1, 0, 0], r0 + k * rate ** (1 / n), rtol=1e-6)


def test_free_thermal_expansion_under_stress_control():
    alpha = Coefficient.table([0.0, 1000.0], [1.0e-5, 2.0e-5])
    law = GenEVP(ELASTICITY, NortonFlow(K=500.0, n=5.0), IsotropicHardening(R0=100.0),
                 (KinematicHardening(C=1e4, D=50.0),), thermal_strain=ThermalStrain(alpha, 20.0))
    times = np.linspace(0.0, 10.0, 6)
    temperature = np.linspace(20.0, 1020.0, 6)
    tr = drive(law, times, controlled=np.zeros(6, bool), temperature=temperature)
    np.testing.assert_allclose(tr.stress, 0.0, atol=1e-7)
    th = alpha(temperature) * (temperature - 20.0)
    np.testing.assert_allclose(tr.strain[:, 0, :3], np.repeat(th[:, None], 3, axis=1), rtol=1e-10)
    np.testing.assert_allclose(tr.state["evrcum"], 0.0)


def test_driver_batches_points_with_their_own_histories():
    law = J2Plasticity(ELASTICITY, IsotropicHardening(R0=R0, H=1.0e4))
    times = np.linspace(0.0, 1.0, 11)
    strain = np.zeros((times.size, 3, 6))
    strain[:, :, 0] = np.outer(times, [1e-3, 5e-3, 1e-2])
    controlled = np.array([True, False, False, False, False, False])
    tr = drive(law, times, controlled=controlled, strain=strain)
    for i, eps in enumerate([1e-3, 5e-3, 1e-2]):
        single = drive(law, times, controlled=controlled, strain=strain[:, i])
        np.testing.assert_allclose(tr.stress[:, i], single.stress[:, 0], rtol=1e-12, atol=1e-9)


def test_driver_reports_impossible_stress_control():
    law = J2Plasticity(ELASTICITY, IsotropicHardening(R0=R0))                # perfectly plastic
    times = np.linspace(0.0, 1.0, 3)
    with pytest.raises(ConvergenceError, match="stress control did not converge at step"):
        uniaxial(law, times, stress=[0.0, 150.0, 300.0])                    # above the limit load
    with pytest.raises(InputError, match="exactly one of strain"):
        uniaxial(law, times)
