"""rom.pod.update: Brand's incremental SVD in the inner product, against the POD of all snapshots."""

from __future__ import annotations

import numpy as np
import pytest

from io_adapters.errors import ConfigError, InputError
from rom.pod import ReducedBasis, pod, update
from test_pod import METRICS, N_FE, fe_mass, known_svd, metric_gram, projector_distance


@pytest.fixture(params=list(METRICS))
def case(request):
    M = METRICS[request.param](N_FE)
    S, _, _ = known_svd(np.logspace(0, -2, 16), N_FE, M, seed=8)
    return S, M


def test_update_without_truncation_equals_the_pod_of_all_snapshots(case):
    S, M = case
    old = pod(S[:9], inner_product=M, n_modes=9)
    new = update(old, S[9:], inner_product=M, n_modes=16)
    reference = pod(S, inner_product=M, n_modes=16)
    assert new.n_modes == 16 and new.n_snapshots == 16 and new.inner_product == reference.inner_product
    np.testing.assert_allclose(new.singular_values, reference.singular_values, rtol=1e-10)
    for k in (1, 5, 10, 16):
        assert projector_distance(new.modes[:k], reference.modes[:k], M) < 1e-10
    signs = np.sign(np.sum(new.modes * reference.modes, axis=1))
    assert np.abs(new.modes - signs[:, None] * reference.modes).max() < 1e-9 * np.abs(reference.modes).max()
    assert np.abs(metric_gram(new.modes, M) - np.eye(16)).max() <= 1e-12
    assert new.discarded_energy == 0.0 and new.projection_error(S) < 1e-12


def test_one_snapshot_at_a_time(case):
    S, M = case
    basis = pod(S[:1], inner_product=M, n_modes=1)
    for k in range(1, 16):
        basis = update(basis, S[k:k + 1], inner_product=M, n_modes=k + 1)
    reference = pod(S, inner_product=M, n_modes=16)
    np.testing.assert_allclose(basis.singular_values, reference.singular_values, rtol=1e-10)
    for k in (3, 8, 16):
        assert projector_distance(basis.modes[:k], reference.modes[:k], M) < 1e-10


@pytest.mark.parametrize("tol", [0.3, 0.1, 1e-2, 1e-3])
def test_truncated_updates_stay_within_the_tolerance(case, tol):
    S, M = case
    basis = pod(S[:6], inner_product=M, tol=tol)
    for start in (6, 9, 10, 14):                   # blocks of 3, 1, 4, 2 snapshots
        stop = {6: 9, 9: 10, 10: 14, 14: 16}[start]
        basis = update(basis, S[start:stop])      # the basis's inner product and tolerance
        seen = S[:stop]
        error = basis.projection_error(seen)
        assert error <= tol
        assert error <= basis.truncation_error * (1 + 1e-8) + 1e-14     # the bound holds
        assert basis.tolerance == tol and basis.n_snapshots == stop
    # no more modes than the POD of everything needs with the same budget spent twice
    assert basis.n_modes <= pod(S, inner_product=M, tol=tol / 2).n_modes


def test_snapshot_in_the_span_adds_no_direction():
    S, _, _ = known_svd(np.logspace(0, -2, 5), 120)
    basis = pod(S, n_modes=5)
    combination = np.array([[0.3, -1.0, 2.0, 0.5, 0.1]]) @ S
    new = update(basis, combination, n_modes=5)
    assert new.singular_values.shape == (5,)      # q = 0: the core is 5 × 6
    assert projector_distance(new.modes, basis.modes) < 1e-12
    np.testing.assert_allclose(np.sort(new.singular_values**2).sum(),
                               (basis.singular_values**2).sum() + (combination**2).sum(), rtol=1e-12)
    zero = update(basis, np.zeros((2, 120)), n_modes=5)
    np.testing.assert_allclose(zero.singular_values, basis.singular_values, rtol=1e-12)
    assert zero.n_snapshots == 7


def test_update_of_a_truncated_basis_carries_the_dropped_energy():
    S, _, sigma = known_svd(np.logspace(0, -3, 12), 200)
    basis = pod(S[:8], n_modes=3)
    new = update(basis, S[8:], tol=0.5)
    assert new.discarded_energy == pytest.approx((basis.singular_values[3:] ** 2).sum(), rel=1e-12)
    assert new.projection_error(S) <= new.truncation_error * (1 + 1e-10)
    assert new.projection_error(S) <= 0.5


def test_update_of_a_stored_basis_like_the_adaptive_loop_builds_it():
    M = fe_mass()
    S, _, _ = known_svd(np.logspace(0, -3, 10), N_FE, M)
    basis = pod(S[:9], inner_product=M, tol=1e-4)
    stored = ReducedBasis(modes=basis.modes, singular_values=basis.singular_values, inner_product="mass")
    new = update(stored, S[9:], inner_product=M, tol=1e-10)
    assert new.projection_error(S) < 1e-4
    with pytest.raises(ConfigError, match="'mass' inner product, which is not attached"):
        update(stored, S[9:], tol=1e-3)
    identity = ReducedBasis(modes=basis.modes, singular_values=basis.singular_values)
    with pytest.raises(ConfigError, match="orthonormal in the 'identity' inner product, got a 'mass' one"):
        update(identity, S[9:], inner_product=M, tol=1e-3)


def test_update_errors():
    S, _, _ = known_svd(np.logspace(0, -2, 6), 40)
    basis = pod(S[:4], n_modes=3)
    with pytest.raises(ConfigError, match="give tol or n_modes"):
        update(basis, S[4:])
    with pytest.raises(ConfigError, match="not both"):
        update(basis, S[4:], tol=0.1, n_modes=2)
    with pytest.raises(InputError, match="the new snapshots have 39 local dofs"):
        update(basis, S[4:, :39], n_modes=3)
    with pytest.raises(ConfigError, match="got a 'weighted' one"):
        update(basis, S[4:], inner_product=np.ones(40), n_modes=3)
    bad = S[4:].copy()
    bad[1, 3] = np.inf
    with pytest.raises(InputError, match="update: new snapshot 1 holds NaN or infinite values"):
        update(basis, bad, n_modes=3)
    with pytest.raises(ConfigError, match="n_modes=9 exceeds the 5 singular values"):
        update(basis, S[4:], n_modes=9)
    with pytest.raises(InputError, match="no snapshots"):
        update(basis, np.zeros((0, 40)), n_modes=3)


def test_update_from_a_randomized_basis():
    S, _, _ = known_svd(np.exp(-0.5 * np.arange(60)), 300)
    basis = pod(S[:50], n_modes=8, method="randomized")
    assert basis.discarded_energy > 0
    new = update(basis, S[50:], tol=1e-2)
    assert new.projection_error(S) <= 1e-2
