"""rom.pod randomized range finder: leading singular values and modes of the exact POD."""

from __future__ import annotations

import numpy as np
import pytest

from io_adapters.errors import ConfigError, InputError
from rom.pod import pod
from test_pod import METRICS, N_FE, known_svd, metric_gram, projector_distance


@pytest.fixture(params=list(METRICS))
def fast_decay(request):
    """300 snapshots, σ_i = exp(−i/2): fast decay (σ_30 / σ_1 ≈ 5e-7)."""
    M = METRICS[request.param](N_FE)
    S, phi, sigma = known_svd(np.exp(-0.5 * np.arange(300)), N_FE, M, seed=9)
    return S, phi, sigma, M


def test_leading_singular_values_match_the_exact_ones(fast_decay):
    S, phi, sigma, M = fast_decay
    basis = pod(S, inner_product=M, n_modes=10, method="randomized", seed=3)
    exact = pod(S, inner_product=M, n_modes=10)
    assert basis.n_modes == 10 and basis.singular_values.shape == (20,)      # sketch of 10 + 10
    np.testing.assert_allclose(basis.singular_values[:10], exact.singular_values[:10], rtol=1e-8)
    np.testing.assert_allclose(basis.singular_values[:10], sigma[:10], rtol=1e-8)
    assert projector_distance(basis.modes, phi[:10], M) < 1e-8
    assert np.abs(metric_gram(basis.modes, M) - np.eye(10)).max() <= 1e-12
    assert basis.discarded_energy == pytest.approx((sigma[20:] ** 2).sum(), rel=1e-3, abs=1e-16 * sigma[0] ** 2)


@pytest.mark.parametrize("tol", [1e-2, 1e-4, 1e-6])
def test_tolerance_grows_the_sketch_until_it_is_met(tol):
    S, _, sigma = known_svd(np.exp(-0.15 * np.arange(250)), 900, seed=5)      # ~ 90 modes at 1e-6
    basis = pod(S, tol=tol, method="randomized")
    exact = pod(S, tol=tol)
    assert basis.projection_error(S) <= tol
    assert abs(basis.n_modes - exact.n_modes) <= 1
    assert basis.singular_values.size >= basis.n_modes + 10
    np.testing.assert_allclose(basis.singular_values[:5], sigma[:5], rtol=1e-10)


def test_seed_makes_it_deterministic_and_is_not_needed_for_accuracy():
    S, _, sigma = known_svd(np.exp(-0.5 * np.arange(80)), 400, seed=2)
    a = pod(S, n_modes=6, method="randomized", seed=1)
    b = pod(S, n_modes=6, method="randomized", seed=1)
    c = pod(S, n_modes=6, method="randomized", seed=2)
    np.testing.assert_array_equal(a.modes, b.modes)
    np.testing.assert_allclose(c.singular_values[:6], a.singular_values[:6], rtol=1e-10)
    assert projector_distance(a.modes, c.modes) < 1e-8


def test_sketch_as_large_as_the_snapshot_set_is_exact():
    S, _, sigma = known_svd(np.logspace(0, -2, 12), 100)
    basis = pod(S, n_modes=5, method="randomized", oversampling=20, power_iterations=0)
    np.testing.assert_allclose(basis.singular_values, sigma, rtol=1e-10)
    assert basis.discarded_energy == 0.0


def test_randomized_options_and_inputs():
    S, _, _ = known_svd(np.logspace(0, -2, 12), 100)
    for name in ("oversampling", "power_iterations"):
        with pytest.raises(ConfigError, match=f"{name} must be an integer ≥ 0"):
            pod(S, n_modes=2, method="randomized", **{name: -1})
    S[4, 2] = np.nan
    with pytest.raises(InputError, match="snapshot 4 holds NaN"):
        pod(S, n_modes=2, method="randomized")
    with pytest.raises(InputError, match="the snapshots are zero"):
        pod(np.zeros((5, 10)), tol=0.1, method="randomized")
    with pytest.raises(ConfigError, match="n_modes=13 exceeds the 12 singular values"):
        pod(np.ones((12, 10)) + np.eye(12, 10), n_modes=13, method="randomized")
