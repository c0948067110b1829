"""rom.ecm: Empirical Cubature (reduced quadrature) and the internal-virtual-work integrands."""

from __future__ import annotations

import logging

import numpy as np
import pytest

import io_adapters
from io_adapters.errors import ConfigError, InputError
from rom import fem
from rom.ecm import ReducedQuadrature, ecm, ecm_integrands


def _monomials(X: np.ndarray, degree: int) -> tuple[np.ndarray, np.ndarray]:
    """Monomials x^a y^b z^c of total degree ≤ degree at X, and their integrals over the unit cube."""
    powers = [(a, b, c) for a in range(degree + 1) for b in range(degree + 1) for c in range(degree + 1)
              if a + b + c <= degree]
    values = np.array([X[:, 0] ** a * X[:, 1] ** b * X[:, 2] ** c for a, b, c in powers])
    exact = np.array([1.0 / ((a + 1) * (b + 1) * (c + 1)) for a, b, c in powers])
    return values, exact


def _smooth_integrands(X: np.ndarray, n_left: int, n_right: int, seed: int = 0) -> np.ndarray:
    """Products of smooth random fields (like σ_i : ε(ψ_k)), shape (n_left * n_right, n_points)."""
    rng = np.random.default_rng(seed)

    def fields(count):
        waves = rng.normal(size=(12, 3)) * np.linspace(0.5, 3.0, 12)[:, None]
        phases = rng.uniform(0, 2 * np.pi, 12)
        amplitudes = np.exp(-np.linalg.norm(waves, axis=1))
        return (rng.normal(size=(count, 12)) * amplitudes) @ np.cos(X @ waves.T + phases).T

    left, right = fields(n_left), fields(n_right)
    return (left[:, None] * right[None]).reshape(n_left * n_right, -1) + 0.3


@pytest.fixture(scope="module")
def distorted():
    mesh = fem.distort_mesh(fem.box_mesh("hexahedron", (6, 6, 6)), 0.25, seed=3)
    return fem.integration_points(mesh), fem.integration_weights(mesh)


# ------------------------------------------------------------ polynomial exactness
@pytest.mark.parametrize("compress", [True, False])
def test_monomials_on_a_hex_mesh_are_integrated_exactly(compress):
    mesh = fem.box_mesh("hexahedron", (4, 4, 4))
    X, w = fem.integration_points(mesh), fem.integration_weights(mesh)
    G, exact = _monomials(X, 3)                       # the 2×2×2 Gauss rule is exact for these
    np.testing.assert_allclose(G @ w, exact, rtol=1e-13)
    q = ecm(G, w, tol=1e-10, compress=compress)
    assert 1 <= q.n_points <= q.n_integrand_modes <= len(G) + 1
    assert q.n_points < len(w) / 10
    assert np.all(q.weights > 0) and q.residual <= 1e-10
    np.testing.assert_allclose(q.integrate(G), exact, rtol=0, atol=1e-10)
    assert abs(q.weights.sum() - 1.0) < 1e-13            # the volume, to round-off
    assert np.all(np.diff(q.points) > 0)


def test_tet10_zset_rule_with_negative_weights():
    mesh = fem.box_mesh("tetra10", (3, 3, 3))
    X, w = fem.integration_points(mesh, "zset"), fem.integration_weights(mesh, "zset")
    assert np.any(w < 0)                                  # Zset's c3d10 rule
    G, exact = _monomials(X, 2)
    q = ecm(G, w, tol=1e-10)
    assert np.all(w[q.points] > 0) and np.all(q.weights > 0)
    np.testing.assert_allclose(q.integrate(G), exact, rtol=0, atol=1e-10)
    assert abs(q.weights.sum() - w.sum()) < 1e-13


# ------------------------------------------------------------ training integrands
@pytest.mark.parametrize("tol", [1e-3, 1e-6])
def test_training_integrands_are_integrated_to_tol(distorted, tol):
    X, w = distorted
    G = _smooth_integrands(X, 10, 12)
    volume = w.sum()
    exact = G @ w
    q = ecm(G, w, tol=tol)
    assert q.residual <= tol and np.all(q.weights > 0)
    assert 1 <= q.n_points <= q.n_integrand_modes
    assert abs(q.weights.sum() - volume) < 1e-13 * volume
    # the vector of the integrals, relative, truncation of the compression included
    error = np.linalg.norm(q.integrate(G) - exact)
    assert error <= (1 + 1e-6) * tol * np.linalg.norm(exact)
    assert q.residual == pytest.approx(error / np.linalg.norm(exact), rel=1e-6)
    # the same bound without truncation (every direction of the integrands kept from the start)
    exact_span = ecm(G, w, tol=tol, svd_tol=1e-13)
    assert exact_span.n_integrand_modes >= q.n_integrand_modes
    assert np.linalg.norm(exact_span.integrate(G) - exact) <= (1 + 1e-6) * tol * np.linalg.norm(exact)


def test_more_integrand_modes_need_more_points(distorted):
    X, w = distorted
    G = _smooth_integrands(X, 6, 8)
    coarse, fine = ecm(G, w, tol=1e-2), ecm(G, w, tol=1e-7)
    assert coarse.n_integrand_modes < fine.n_integrand_modes
    assert coarse.n_points < fine.n_points


def test_deterministic_for_a_seed():
    mesh = fem.box_mesh("hexahedron", (4, 4, 4))          # symmetric: many exactly tied points
    X, w = fem.integration_points(mesh), fem.integration_weights(mesh)
    G, exact = _monomials(X, 3)
    runs = [ecm(G, w, tol=1e-10, seed=s) for s in (0, 0, 1)]
    assert np.array_equal(runs[0].points, runs[1].points)
    assert np.array_equal(runs[0].weights, runs[1].weights)
    for q in runs:                                         # another seed: maybe other points, same accuracy
        np.testing.assert_allclose(q.integrate(G), exact, atol=1e-10)


def test_warm_start_keeps_useful_points(distorted):
    X, w = distorted
    G = _smooth_integrands(X, 4, 4, seed=1)
    first = ecm(G, w, tol=1e-6)
    # the same integrands: the previous rule is already good, nothing changes
    again = ecm(G, w, tol=1e-6, initial=first.points)
    assert np.array_equal(again.points, first.points)
    np.testing.assert_allclose(again.weights, first.weights, rtol=1e-10)
    # enrichment: more integrands; start from the previous points and go on
    enriched = np.vstack([G, _smooth_integrands(X, 3, 3, seed=2)])
    warm = ecm(enriched, w, tol=1e-6, initial=first.points)
    assert warm.residual <= 1e-6
    assert np.isin(first.points, warm.points).mean() >= 0.6
    assert warm.n_points <= warm.n_integrand_modes
    exact = enriched @ w
    assert np.linalg.norm(warm.integrate(enriched) - exact) <= (1 + 1e-6) * 1e-6 * np.linalg.norm(exact)
    assert abs(warm.weights.sum() - w.sum()) < 1e-13


def test_max_points_returns_the_best_rule_found_and_warns(distorted, caplog):
    X, w = distorted
    G = _smooth_integrands(X, 6, 8)
    with caplog.at_level(logging.WARNING, logger="rom.ecm"):
        q = ecm(G, w, tol=1e-8, max_points=5)
    assert q.n_points <= 5 and q.residual > 1e-8
    assert abs(q.weights.sum() - w.sum()) < 1e-13        # the volume stays exact
    assert "max_points" in caplog.text


# ------------------------------------------------------------ bad input
def test_bad_input_is_refused_with_clear_errors(distorted):
    X, w = distorted
    G = _smooth_integrands(X, 2, 2)
    bad = G.copy()
    bad[1, 7] = np.nan
    with pytest.raises(InputError, match="integrand 1 at point 7"):
        ecm(bad, w, tol=1e-4)
    with pytest.raises(InputError, match="weights must have shape"):
        ecm(G, w[:-1], tol=1e-4)
    for tol in (0.0, -1e-3, 1.0, float("nan")):
        with pytest.raises(ConfigError, match="tol"):
            ecm(G, w, tol=tol)
    with pytest.raises(ConfigError, match="max_points"):
        ecm(G, w, tol=1e-4, max_points=0)
    with pytest.raises(InputError, match="initial points"):
        ecm(G, w, tol=1e-4, initial=np.array([0, len(w)]))
    with pytest.raises(InputError, match="positive weight"):
        ecm(G, -w, tol=1e-4)
    with pytest.raises(InputError, match="positive"):
        ReducedQuadrature(points=np.array([0, 3]), weights=np.array([1.0, 0.0]))
    with pytest.raises(InputError, match="same length"):
        ReducedQuadrature(points=np.array([0, 3]), weights=np.array([1.0]))
    with pytest.raises(InputError, match="repeated"):
        ReducedQuadrature(points=np.array([2, 2]), weights=np.array([1.0, 1.0]))


# ------------------------------------------------------------ integrands σ : ε(ψ_k)
@pytest.fixture(scope="module")
def ut_example(data_dir):
    sim = io_adapters.read(data_dir / "zset/UtExample/cube.ut")
    B, w = fem.strain_operator(sim.mesh, rule="zset")
    U = sim.fields["U"].values.reshape(len(sim.times), -1)
    _, s, Vt = np.linalg.svd(U, full_matrices=False)
    modes = Vt[: np.count_nonzero(s > 1e-10 * s[0])]      # local SVD in place of rom.pod
    return B, w, sim.fields["sig"].values, modes


def test_integrands_are_the_virtual_work_of_each_stress_and_mode(ut_example):
    B, w, sigma, modes = ut_example
    one = sigma[2:3]                                      # a single snapshot: its principal component is ±σ
    G, w_out = ecm_integrands(B, w, one, modes, include_volume=False)
    assert G.shape == (len(modes), len(w)) and np.array_equal(w_out, w)
    forces = modes @ fem.internal_forces(B, w, one[0])    # Φᵀ Bᵀ W σ (engineering shear in B)
    np.testing.assert_allclose(np.abs(G @ w), np.abs(forces), rtol=1e-10)
    G_vol, _ = ecm_integrands(B, w, one, modes)
    assert np.all(G_vol[0] == 1.0) and np.array_equal(G_vol[1:], G)


def test_stresses_are_compressed_before_the_products(ut_example):
    B, w, sigma, modes = ut_example
    G, _ = ecm_integrands(B, w, sigma, modes, include_volume=False)
    n_m, n_q = len(modes), len(w)
    assert G.shape == (3 * n_m, n_q)                      # 4 snapshots (one zero) → 3 stress modes
    # reference: the principal components s_i v_i of the L²(w) POD of the stresses, by a plain SVD
    root = np.repeat(np.sqrt(w), 6)
    _, s, Vt = np.linalg.svd(sigma.reshape(len(sigma), -1) * root, full_matrices=False)
    principal = (s[:3, None] * Vt[:3] / root).reshape(3, n_q, 6)
    strains = (B @ modes.T).reshape(n_q, 6, n_m)
    expected = np.einsum("iqc,qck->ikq", principal, strains).reshape(3 * n_m, n_q)
    signs = np.sign(np.sum(G * expected, axis=1))                                # each mode up to its sign
    np.testing.assert_allclose(signs[:, None] * G, expected, atol=1e-9 * np.abs(expected).max())


def test_ut_example_reduced_internal_forces(ut_example):
    B, w, sigma, modes = ut_example
    G, _ = ecm_integrands(B, w, sigma, modes)
    tol = 1e-5
    q = ecm(G, w, tol=tol)
    assert 1 <= q.n_points <= q.n_integrand_modes + 2
    assert q.n_integrand_modes <= len(G) + 1              # the constant row comes first, even when G has one
    reference = np.stack([modes @ fem.internal_forces(B, w, s) for s in sigma])   # Φᵀ Bᵀ W σ
    strains = (B @ modes.T).reshape(len(w), 6, len(modes))
    reduced = np.einsum("q,sqc,qck->sk", q.weights, sigma[:, q.points], strains[q.points])
    assert np.linalg.norm(reduced - reference) <= 10 * tol * np.linalg.norm(reference)
    assert abs(q.weights.sum() - w.sum()) < 1e-13


def test_integrand_input_errors(ut_example):
    B, w, sigma, modes = ut_example
    with pytest.raises(InputError, match="rows"):
        ecm_integrands(B, w[:-8], sigma[:, :-8], modes)
    with pytest.raises(InputError, match="stress snapshots"):
        ecm_integrands(B, w, sigma[..., :3], modes)
    with pytest.raises(InputError, match="modes"):
        ecm_integrands(B, w, sigma, modes[:, :-3])
    with pytest.raises(ConfigError, match="stress_tol"):
        ecm_integrands(B, w, sigma, modes, stress_tol=-1.0)
