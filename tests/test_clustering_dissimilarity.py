"""clustering.dissimilarity: angles between snapshots, principal angles between subspaces, checks."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from clustering.dissimilarity import (SUBSPACE_METRICS, check_dissimilarity, cross_snapshot_dissimilarity,
                                      cross_subspace_dissimilarity, gram_coordinates, principal_angles,
                                      simulation_bases, snapshot_dissimilarity, snapshot_gram,
                                      subspace_dissimilarity, subspace_distance)
from io_adapters.errors import ConfigError, InputError
from rom.pod import InnerProduct, ReducedBasis, as_inner_product, pod

# ================================================================ between snapshots


def test_angle_of_known_vectors():
    u = np.array([1.0, 2.0, -1.0, 0.5])
    w = np.array([2.0, -1.0, 0.0, 0.0])                    # orthogonal to u
    X = np.stack([u, 3.7 * u, -0.01 * u, 2.0 * u, w, u + np.linalg.norm(u) / np.linalg.norm(w) * w])
    D = snapshot_dissimilarity(X)
    assert np.abs(D[0, 1:4]).max() <= 1e-7                # scaled copies (any sign): angle 0
    assert D[0, 3] == 0.0                                  # a power of two scales exactly
    assert D[0, 4] == pytest.approx(1.0, abs=1e-15)        # orthogonal
    assert D[0, 5] == pytest.approx(np.sin(np.pi / 4), abs=1e-14)   # 45°
    assert D[4, 5] == pytest.approx(np.sin(np.pi / 4), abs=1e-14)
    assert np.array_equal(np.diag(D), np.zeros(6))
    assert np.array_equal(D, D.T)
    assert D.min() >= 0.0 and D.max() <= 1.0


def test_mass_inner_product_against_a_hand_computation():
    M = np.array([[2.0, 1.0, 0.0], [1.0, 2.0, 0.0], [0.0, 0.0, 1.0]])
    X = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 4.0]])
    # <e1, e2>_M = 1, |e1|² = |e2|² = 2: cos = 1/2, sin = √3/2; e3 is M-orthogonal to both
    expected = np.array([[0.0, np.sqrt(3) / 2, 1.0], [np.sqrt(3) / 2, 0.0, 1.0], [1.0, 1.0, 0.0]])
    for product in (M, sp.csr_matrix(M), as_inner_product(M, 3)):
        assert np.allclose(snapshot_dissimilarity(X, inner_product=product), expected, rtol=0, atol=1e-15)
    # Euclidean in M: |e1 - e2|²_M = 2 + 2 - 2, |e1 - 4 e3|²_M = 2 + 16
    E = snapshot_dissimilarity(X, metric="euclidean", inner_product=sp.csr_matrix(M))
    assert E[0, 1] == pytest.approx(np.sqrt(2.0), rel=1e-15)
    assert E[0, 2] == pytest.approx(np.sqrt(18.0), rel=1e-15)
    # weights: (x, y) = Σ w_i x_i y_i
    w = np.array([1.0, 4.0, 0.25])
    Y = np.array([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    cos = 1.0 / np.sqrt(5.0)                                # <y0, y1>_w = 1, |y0|² = 5, |y1|² = 1
    assert snapshot_dissimilarity(Y, inner_product=w)[0, 1] == pytest.approx(np.sqrt(1 - cos**2), rel=1e-14)


def test_euclidean_is_the_baseline_and_not_scale_invariant():
    X = np.array([[3.0, 4.0], [6.0, 8.0], [0.0, 0.0]])
    E = snapshot_dissimilarity(X, metric="euclidean")
    assert np.allclose(E, [[0, 5, 5], [5, 0, 10], [5, 10, 0]], atol=1e-14)


def test_cross_dissimilarity_matches_the_full_matrix():
    rng = np.random.default_rng(1)
    X, M = rng.normal(size=(9, 20)), np.diag(rng.uniform(0.5, 2.0, 20))
    for metric in ("angle", "euclidean"):
        full = snapshot_dissimilarity(X, metric=metric, inner_product=M)
        cross = cross_snapshot_dissimilarity(X[:4], X[4:], metric=metric, inner_product=M)
        assert np.allclose(cross, full[:4, 4:], rtol=0, atol=1e-13)


def test_gram_coordinates_reproduce_the_gram_matrix():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(3, 30))
    X = np.concatenate([X, X[:1] + X[1:2], 2 * X[2:]])      # rank 3, five snapshots
    M = sp.diags(rng.uniform(1.0, 2.0, 30))
    G = snapshot_gram(X, inner_product=M)
    Y = gram_coordinates(G)
    assert Y.shape == (5, 3)
    assert np.allclose(Y @ Y.T, G, atol=1e-12 * np.abs(G).max())


def test_zero_snapshot_is_named():
    X = np.ones((4, 5))
    X[2] = 0.0
    with pytest.raises(InputError, match="snapshot 2 is zero in the inner product"):
        snapshot_dissimilarity(X)
    # M-zero (a zero weight on its only nonzero dof): zero in the inner product too
    Y = np.eye(3)
    with pytest.raises(InputError, match="snapshot 1 is zero in the inner product"):
        snapshot_dissimilarity(Y, inner_product=np.array([1.0, 0.0, 1.0]))
    assert snapshot_dissimilarity(X, metric="euclidean")[2, 0] == pytest.approx(np.sqrt(5))   # fine there
    with pytest.raises(InputError, match="snapshot of Y 0 is zero"):
        cross_snapshot_dissimilarity(np.ones((2, 5)), np.zeros((1, 5)))


def test_bad_snapshot_inputs():
    X = np.ones((3, 4))
    X[1, 2] = np.nan
    with pytest.raises(InputError, match="snapshot 1 holds NaN or infinite values"):
        snapshot_dissimilarity(X)
    with pytest.raises(InputError, match=r"found shape \(4,\)"):
        snapshot_dissimilarity(np.ones(4))
    with pytest.raises(InputError, match=r"inner_product has shape \(3, 3\) but the snapshots have 4 local dofs"):
        snapshot_dissimilarity(np.ones((2, 4)), inner_product=sp.eye(3))
    with pytest.raises(ConfigError, match="metric must be one of"):
        snapshot_dissimilarity(np.ones((2, 4)), metric="cosine")
    with pytest.raises(InputError, match="X has 4 local dofs"):
        cross_snapshot_dissimilarity(np.ones((2, 4)), np.ones((2, 5)))


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(2, 7), st.integers(1, 6)),
              elements=st.floats(-10, 10, allow_nan=False, width=64)),
       st.lists(st.floats(1e-3, 1e3).flatmap(lambda a: st.sampled_from([a, -a])), min_size=7, max_size=7))
def test_angle_properties(X, scales):
    X = X[np.linalg.norm(X, axis=1) > 1e-3]
    if X.shape[0] < 2:
        return
    D = snapshot_dissimilarity(X)
    assert np.array_equal(D, D.T)
    assert np.all(D >= 0.0) and np.all(D <= 1.0)
    assert np.all(np.diag(D) == 0.0)
    scaled = snapshot_dissimilarity(X * np.array(scales[:X.shape[0]])[:, None])
    assert np.abs(scaled - D).max() <= 1e-6                # resolution sqrt(eps) near parallel pairs


# ================================================================ between subspaces
def planes(alpha: float, beta: float):
    """Two planes of R^4 at principal angles alpha ≤ beta."""
    A = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])
    B = np.array([[np.cos(alpha), 0.0, np.sin(alpha), 0.0], [0.0, np.cos(beta), 0.0, np.sin(beta)]])
    return A, B


EXPECTED = {
    "grassmann": lambda t: np.sqrt(np.sum(t**2)),
    "chordal": lambda t: np.sqrt(np.sum(np.sin(t) ** 2)),
    "projection": lambda t: np.sin(np.max(t)),
    "binet_cauchy": lambda t: np.sqrt(1 - np.prod(np.cos(t) ** 2)),
}


@pytest.mark.parametrize("metric", SUBSPACE_METRICS)
def test_planes_at_known_angles(metric):
    alpha, beta = 0.3, 1.1
    A, B = planes(alpha, beta)
    theta = np.array([alpha, beta])
    assert np.allclose(principal_angles(A, B), theta, atol=1e-14)
    # any basis of the same planes: a mixed, scaled A and B
    R = np.array([[2.0, 1.0], [-0.5, 3.0]])
    assert np.allclose(principal_angles(R @ A, R.T @ B), theta, atol=1e-13)
    D = subspace_dissimilarity([A, B, R @ A], metric=metric)
    assert D[0, 1] == pytest.approx(EXPECTED[metric](theta), abs=1e-13)
    assert D[0, 2] <= 1e-7                                 # the same plane
    assert np.array_equal(D, D.T) and np.all(np.diag(D) == 0.0)
    assert subspace_distance(theta, metric=metric) == pytest.approx(EXPECTED[metric](theta), abs=1e-15)


@pytest.mark.parametrize("metric", SUBSPACE_METRICS)
def test_unequal_ranks_count_the_missing_angles_as_right_angles(metric):
    alpha, beta = 0.3, 1.1
    A, B = planes(alpha, beta)
    line = B[:1]                                           # at angle alpha to the plane A
    assert np.allclose(principal_angles(A, line), [alpha, np.pi / 2], atol=1e-14)
    assert np.allclose(principal_angles(line, A), [alpha, np.pi / 2], atol=1e-14)
    D = subspace_dissimilarity([A, line, B], metric=metric)
    assert D[0, 1] == pytest.approx(EXPECTED[metric](np.array([alpha, np.pi / 2])), abs=1e-13)
    assert D[1, 2] == pytest.approx(EXPECTED[metric](np.array([0.0, np.pi / 2])), abs=1e-7)
    # a subspace inside a larger one: still at π/2 for the extra direction
    assert principal_angles(A, A[:1]) == pytest.approx([0.0, np.pi / 2], abs=1e-7)


def test_principal_angles_in_the_mass_inner_product():
    rng = np.random.default_rng(3)
    n = 12
    L = np.tril(rng.normal(size=(n, n))) + 4 * np.eye(n)
    M = L @ L.T                                            # SPD; x ↦ Lᵀx is an isometry to the identity
    A_hat, B_hat = np.linalg.qr(rng.normal(size=(n, 3)))[0].T, np.linalg.qr(rng.normal(size=(n, 2)))[0].T
    A, B = np.linalg.solve(L.T, A_hat.T).T, np.linalg.solve(L.T, B_hat.T).T
    expected = np.arccos(np.clip(np.linalg.svd(A_hat @ B_hat.T, compute_uv=False), 0, 1))
    theta = principal_angles(A, B, inner_product=sp.csr_matrix(M))
    assert np.allclose(theta, np.concatenate([expected, [np.pi / 2]]), atol=1e-12)
    # bases from the POD carry their inner product
    a, b = pod(A, inner_product=M, n_modes=3), pod(B, inner_product=M, n_modes=2)
    assert np.allclose(principal_angles(a, b), theta, atol=1e-12)
    assert np.allclose(subspace_dissimilarity([a, b], metric="grassmann")[0, 1], np.linalg.norm(theta), atol=1e-12)


def test_subspace_matrix_equals_pairwise_angles_and_cross():
    rng = np.random.default_rng(4)
    bases = [rng.normal(size=(r, 15)) for r in (2, 3, 3, 1, 2)]
    for metric in SUBSPACE_METRICS:
        D = subspace_dissimilarity(bases, metric=metric)
        for a in range(5):
            for b in range(5):
                if a != b:
                    assert D[a, b] == pytest.approx(subspace_distance(principal_angles(bases[a], bases[b]),
                                                                      metric=metric), abs=1e-12)
        assert np.allclose(cross_subspace_dissimilarity(bases[:2], bases[2:], metric=metric), D[:2, 2:], atol=1e-12)


def test_simulation_bases_by_rank_and_by_tolerance():
    rng = np.random.default_rng(5)
    n = 40
    w = rng.uniform(0.5, 2.0, n)
    M = sp.diags(w)
    modes = np.linalg.qr(rng.normal(size=(n, 6)))[0].T / np.sqrt(w)     # M-orthonormal
    sims = [rng.normal(size=(8, 2)) * [1.0, 1e-1] @ modes[:2] + 1e-9 * rng.normal(size=(8, n)),
            rng.normal(size=(10, 3)) * [1.0, 0.5, 0.2] @ modes[2:5]]
    by_rank = simulation_bases(sims, rank=2, inner_product=M)
    assert all(isinstance(b, ReducedBasis) and b.n_modes == 2 for b in by_rank)
    for b in by_rank:
        assert np.allclose(b.modes @ (M @ b.modes.T), np.eye(2), atol=1e-12)
        assert isinstance(b.metric, InnerProduct) and b.inner_product == "mass"
    by_tol = simulation_bases(sims, tol=1e-4, inner_product=M)
    assert [b.n_modes for b in by_tol] == [2, 3]
    D = subspace_dissimilarity(by_tol, metric="grassmann")
    assert D[0, 1] == pytest.approx(np.sqrt(2 * (np.pi / 2) ** 2 + (np.pi / 2) ** 2), abs=1e-6)   # orthogonal
    with pytest.raises(ConfigError, match="simulation 0: pod: n_modes=9 exceeds the 8 singular values"):
        simulation_bases(sims, rank=9)
    with pytest.raises(ConfigError, match="give either tol"):
        simulation_bases(sims, rank=2, tol=1e-3)
    with pytest.raises(InputError, match="non-empty list"):
        simulation_bases(np.ones((3, 4)), rank=1)


def test_bad_bases():
    A, B = planes(0.2, 0.4)
    with pytest.raises(InputError, match="basis 1 has 3 local dofs"):
        subspace_dissimilarity([A, B[:, :3]])
    with pytest.raises(InputError, match="basis 1 is not of full rank"):
        subspace_dissimilarity([A, np.stack([B[0], 2 * B[0]])])
    with pytest.raises(InputError, match="basis 0 is not of full rank"):
        principal_angles(np.zeros((1, 4)), B)
    with pytest.raises(InputError, match="basis 1 holds NaN or infinite values"):
        subspace_dissimilarity([A, np.array([[0.0, 1.0, 0.0, np.nan]])])
    with pytest.raises(ConfigError, match="metric must be one of"):
        subspace_dissimilarity([A, B], metric="geodesic")
    with pytest.raises(InputError, match="non-empty list of bases"):
        subspace_dissimilarity([])
    with pytest.raises(InputError, match=r"basis 0 must be a \(n_modes ≥ 1, n_local_dofs\) array"):
        subspace_dissimilarity([np.ones(4), B])


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(2, 5), st.integers(1, 3))
def test_subspace_properties(seed, n_bases, max_rank):
    rng = np.random.default_rng(seed)
    bases = [rng.normal(size=(int(rng.integers(1, max_rank + 1)), 8)) for _ in range(n_bases)]
    mixed = [rng.normal(size=(b.shape[0], b.shape[0])) + 3 * np.eye(b.shape[0]) for b in bases]   # invertible
    for metric in SUBSPACE_METRICS:
        D = subspace_dissimilarity(bases, metric=metric)
        assert np.array_equal(D, D.T) and np.all(np.diag(D) == 0.0) and np.all(D >= 0.0)
        if metric in ("projection", "binet_cauchy"):
            assert np.all(D <= 1.0)
        # a change of basis of each subspace changes nothing
        other = subspace_dissimilarity([R @ b for R, b in zip(mixed, bases)], metric=metric)
        assert np.abs(other - D).max() <= 1e-6


# ================================================================ checks
def test_check_dissimilarity_cleans_round_off_and_refuses_bad_matrices():
    D = np.array([[0.0, 1.0, 2.0], [1.0 + 1e-14, 0.0, 3.0], [2.0, 3.0, 1e-15]])
    clean = check_dissimilarity(D)
    assert np.array_equal(clean, clean.T) and np.all(np.diag(clean) == 0.0)
    bad = D.copy()
    bad[0, 2] = 2.5
    with pytest.raises(InputError, match=r"not symmetric: entry \(0, 2\) is 2.5 but \(2, 0\) is 2.0"):
        check_dissimilarity(bad)
    bad = D.copy()
    bad[1, 2] = np.nan
    with pytest.raises(InputError, match=r"entry \(1, 2\) is nan; dissimilarities must be finite"):
        check_dissimilarity(bad)
    with pytest.raises(InputError, match=r"entry \(1, 1\) is 0.5"):
        check_dissimilarity(np.array([[0.0, 1.0], [1.0, 0.5]]))
    with pytest.raises(InputError, match=r"must be ≥ 0; entry \(0, 1\) is -1.0"):
        check_dissimilarity(np.array([[0.0, -1.0], [-1.0, 0.0]]))
    with pytest.raises(InputError, match=r"square \(n, n\) array, found shape \(2, 3\)"):
        check_dissimilarity(np.zeros((2, 3)))
    with pytest.raises(InputError, match="my matrix: expected a square array of numbers"):
        check_dissimilarity("abc", name="my matrix")
