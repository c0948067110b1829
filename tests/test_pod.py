"""rom.pod: the method of snapshots against snapshot sets of known SVD, truncation, inputs."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp

from io_adapters.errors import ConfigError, InputError
from rom import fem
from rom.pod import ReducedBasis, pod, truncation_rank
from rom.pod.inner_product import as_inner_product


# ---------------------------------------------------------------- snapshot sets of known SVD
def orthonormal_rows(n: int, n_dofs: int, metric=None, seed: int = 0) -> np.ndarray:
    """(n, n_dofs) rows orthonormal in ``metric`` (None, weights or matrix), random."""
    rng = np.random.default_rng(seed)
    rows = rng.standard_normal((n, n_dofs))
    product = as_inner_product(metric, n_dofs)
    for _ in range(2):
        L = np.linalg.cholesky(product.gram(rows))
        rows = np.linalg.solve(L, rows)
    return rows


def known_svd(sigma, n_dofs: int, metric=None, seed: int = 0):
    """Snapshots ``S = V diag(σ) Φ`` (n_snapshots = len(σ)) with Φ orthonormal in ``metric``.

    Returns S (n, n_dofs), Φ (n, n_dofs), σ.
    """
    sigma = np.asarray(sigma, dtype=float)
    n = len(sigma)
    phi = orthonormal_rows(n, n_dofs, metric, seed)
    V, _ = np.linalg.qr(np.random.default_rng(seed + 1).standard_normal((n, n)))
    return (V * sigma) @ phi, phi, sigma


def fe_mass(divisions=(3, 2, 2)) -> sp.csr_matrix:
    mesh = fem.box_mesh("hexahedron20", divisions)
    return fem.mass_matrix(mesh, rule="high", n_components=3)


def random_spd(n: int, seed: int = 3) -> np.ndarray:
    A = np.random.default_rng(seed).standard_normal((n, n))
    return A @ A.T / n + np.eye(n)


def metric_gram(modes, metric):
    return as_inner_product(metric, modes.shape[1]).gram(modes)


def projector_distance(a, b, metric=None) -> float:
    """max |P_a − P_b| of the M-orthogonal projectors onto the spans of rows a and b (both orthonormal)."""
    product = as_inner_product(metric, a.shape[1])
    probe = np.random.default_rng(7).standard_normal((5, a.shape[1]))
    pa = product.cross(probe, a) @ a
    pb = product.cross(probe, b) @ b
    return float(np.abs(pa - pb).max() / np.abs(probe).max())


METRICS = {
    "identity": lambda n: None,
    "weights": lambda n: np.random.default_rng(5).uniform(0.2, 3.0, n),
    "spd": lambda n: random_spd(n),
    "fe_mass": lambda n: fe_mass(),
}
N_FE = 3 * fem.box_mesh("hexahedron20", (3, 2, 2)).n_nodes


@pytest.fixture(params=list(METRICS))
def metric(request):
    return request.param, METRICS[request.param](N_FE)


# ---------------------------------------------------------------- recovery
def test_singular_values_and_modes_are_recovered(metric):
    name, M = metric
    S, phi, sigma = known_svd(np.logspace(0, -3, 12), N_FE, M)
    basis = pod(S, inner_product=M, n_modes=12)
    assert basis.inner_product == {"identity": "identity", "weights": "weighted"}.get(name, "mass")
    assert basis.n_modes == 12 and basis.n_snapshots == 12 and basis.tolerance is None
    np.testing.assert_allclose(basis.singular_values, sigma, rtol=1e-10)
    # each mode up to sign (singular values well separated)
    signs = np.sign(np.sum(basis.modes * phi, axis=1))
    assert np.abs(basis.modes - signs[:, None] * phi).max() < 1e-8 * np.abs(phi).max()
    # spanned subspaces of the leading modes
    for k in (1, 4, 8):
        assert projector_distance(basis.modes[:k], phi[:k], M) < 1e-10


def test_modes_are_orthonormal_in_the_inner_product_to_round_off(metric):
    _, M = metric
    S, _, _ = known_svd(np.logspace(0, -6, 20), N_FE, M, seed=11)     # λ spans 12 decades
    basis = pod(S, inner_product=M, tol=1e-7)
    assert basis.n_modes >= 18
    assert np.abs(metric_gram(basis.modes, M) - np.eye(basis.n_modes)).max() <= 1e-12


def test_all_singular_values_are_kept_sorted_and_the_modes_truncated():
    S, _, sigma = known_svd([3.0, 2.0, 1.0, 0.5, 0.1, 0.01], 200)
    basis = pod(S, n_modes=2)
    assert basis.n_modes == 2 and basis.singular_values.shape == (6,)
    # from the Gram eigenvalues: |δσ_i| ≈ eps σ_1² / σ_i
    np.testing.assert_allclose(basis.singular_values, sigma, rtol=1e-14, atol=1e-12)
    assert np.all(np.diff(basis.singular_values) <= 0)


def test_rank_deficient_snapshots_give_zero_trailing_singular_values():
    S, phi, _ = known_svd([2.0, 1.0, 0.5], 300)
    S = np.vstack([S, S[:2] + S[2], 0.5 * S[1]])             # 5 snapshots, rank 3
    basis = pod(S, tol=1e-12)
    assert basis.n_modes == 3
    assert basis.singular_values[3:].max() < 1e-7 * basis.singular_values[0]
    assert projector_distance(basis.modes, phi) < 1e-12
    assert basis.projection_error(S) < 1e-13


def test_fe_mass_and_dense_copy_agree():
    M = fe_mass()
    S, _, _ = known_svd(np.logspace(0, -2, 8), N_FE, M)
    a = pod(S, inner_product=M, tol=1e-3)
    b = pod(S, inner_product=M.toarray(), tol=1e-3)
    np.testing.assert_allclose(a.singular_values, b.singular_values, rtol=1e-14, atol=1e-13)
    np.testing.assert_allclose(a.modes, b.modes, atol=1e-11 * np.abs(a.modes).max())


def test_results_are_deterministic_with_a_sign_convention():
    S, _, _ = known_svd(np.logspace(0, -2, 8), 100)
    a, b = pod(S, n_modes=5), pod(S.copy(), n_modes=5)
    np.testing.assert_array_equal(a.modes, b.modes)
    # the sign convention is on the snapshot coefficients: flipping every snapshot flips every mode
    c = pod(-S, n_modes=5)
    np.testing.assert_allclose(c.modes, -a.modes, atol=1e-14)


# ---------------------------------------------------------------- truncation by tol
@pytest.mark.parametrize("tol", [0.3, 1e-1, 1e-2, 1e-3, 1e-4, 1e-6])
def test_projection_error_of_the_training_snapshots_is_below_tol(metric, tol):
    _, M = metric
    S, _, sigma = known_svd(np.exp(-0.4 * np.arange(40)), N_FE, M, seed=2)
    basis = pod(S, inner_product=M, tol=tol)
    error = basis.projection_error(S)
    assert error <= tol
    assert error == pytest.approx(basis.truncation_error, rel=1e-4, abs=1e-9)   # λ to eps λ_1
    # smallest such n (the λ-ratio rule keeps fewer modes on this fast decay): n − 1 modes fail
    energies = sigma**2
    by_ratio = np.count_nonzero(energies > tol**2 * energies[0])
    if basis.n_modes > max(by_ratio, 1):
        assert basis.truncate(basis.n_modes - 1).projection_error(S) > tol


def test_ratio_rule_keeps_modes_the_energy_criterion_would_drop():
    # energy: 1 mode leaves 0.0961 + ... ≤ tol² × total; ratio: λ_2 = 0.0961 > tol² λ_1 = 0.09
    sigma = np.array([1.0, 0.31, 1e-3, 1e-4, 1e-5])
    S, _, _ = known_svd(sigma, 120)
    energies = sigma**2
    assert np.sqrt(energies[1:].sum() / energies.sum()) <= 0.3
    basis = pod(S, tol=0.3)
    assert basis.n_modes == 2
    assert basis.projection_error(S) <= 0.3


def test_energy_criterion_keeps_modes_the_ratio_rule_would_drop():
    # a flat tail of 50 values, each below tol σ_1, carries more than tol² of the energy
    sigma = np.concatenate([[1.0], np.full(50, 0.05)]) * (1 - 1e-9 * np.arange(51))
    S, _, _ = known_svd(sigma, 400)
    basis = pod(S, tol=0.1)
    energies = np.sort(sigma)[::-1] ** 2
    tail = np.concatenate([np.cumsum(energies[::-1])[::-1], [0]])
    expected = int(np.flatnonzero(tail <= 0.01 * energies.sum())[0])
    assert basis.n_modes == expected > 1
    assert basis.projection_error(S) <= 0.1


def test_truncation_rank_rules():
    energies = np.array([1.0, 0.25, 0.001, 0.001, 0.001, 0.001])
    total = energies.sum()
    assert truncation_rank(energies, n_modes=3) == 3
    # energy: the smallest n with tail ≤ tol² total (tail after 2 modes: 0.004)
    assert truncation_rank(energies, tol=np.sqrt(0.004 / total) * (1 + 1e-12)) == 2
    assert truncation_rank(energies, tol=np.sqrt(0.004 / total) * (1 - 1e-12)) == 3
    # ratio: tol = 0.03, the energy rule gives 5, but λ_6 = 0.001 > tol² λ_1 = 0.0009
    assert np.flatnonzero(np.concatenate([np.cumsum(energies[::-1])[::-1], [0]]) <= 0.03**2 * total)[0] == 5
    assert truncation_rank(energies, tol=0.03) == 6
    # discarded energy that the tolerance cannot absorb: keep every resolved mode
    assert truncation_rank(energies, tol=0.01, discarded=1.0) == 6
    assert truncation_rank(energies, tol=0.8, discarded=1.0) == 1
    # the numerical rank caps tol, never n_modes silently
    assert truncation_rank(energies, tol=1e-9, resolution=0.01) == 2
    with pytest.raises(InputError, match=r"n_modes=3 but the snapshots span only 2 numerically independent"):
        truncation_rank(energies, n_modes=3, resolution=0.01)
    with pytest.raises(ConfigError, match=r"n_modes=7 exceeds the 6 singular values"):
        truncation_rank(energies, n_modes=7)
    with pytest.raises(InputError, match="no mode can be built"):
        truncation_rank(np.zeros(4), tol=0.1)


def test_truncation_edge_cases():
    S, _, sigma = known_svd(np.logspace(0, -2, 6), 90)
    assert pod(S, n_modes=6).n_modes == 6                     # every snapshot
    assert pod(S, n_modes=1).n_modes == 1
    assert pod(S, tol=1 - 1e-12).n_modes == 1                 # tolerance just below 1: one mode
    one = pod(S[:1], tol=1e-6)                                 # a single snapshot
    assert one.n_modes == 1 and one.singular_values.shape == (1,)
    np.testing.assert_allclose(one.modes[0] * np.sign(one.modes[0] @ S[0]), S[0] / np.linalg.norm(S[0]),
                               atol=1e-15)
    twice = pod(np.vstack([S, S]), tol=1e-12)                 # duplicates: same modes, σ·√2
    assert twice.n_modes == 6
    np.testing.assert_allclose(twice.singular_values[:6], np.sqrt(2) * sigma, rtol=1e-10)
    np.testing.assert_allclose(twice.singular_values[6:], 0, atol=1e-7)
    with pytest.raises(InputError, match="span only 6 numerically independent"):
        pod(np.vstack([S, S]), n_modes=7)
    with pytest.raises(ConfigError, match="exceeds the 6 singular values"):
        pod(S, n_modes=7)


# ---------------------------------------------------------------- bad input
def test_criteria_both_or_neither_or_out_of_range():
    S, _, _ = known_svd([1.0, 0.5], 20)
    with pytest.raises(ConfigError, match="either tol=0.1 or n_modes=2, not both"):
        pod(S, tol=0.1, n_modes=2)
    with pytest.raises(ConfigError, match="give a truncation criterion: tol .* or n_modes"):
        pod(S)
    for tol in (0.0, -0.1, 1.0, 2.0, float("nan")):
        with pytest.raises(ConfigError, match="tol must be in \\(0, 1\\)"):
            pod(S, tol=tol)
    with pytest.raises(ConfigError, match="keeps no mode"):
        pod(S, tol=1.0)
    with pytest.raises(ConfigError, match="tol must be a number"):
        pod(S, tol="small")
    for n in (0, -1, 2.5, True):
        with pytest.raises(ConfigError, match="n_modes must be a positive integer"):
            pod(S, n_modes=n)
    with pytest.raises(ConfigError, match="method must be one of"):
        pod(S, n_modes=1, method="svd")


@pytest.mark.parametrize("metric_name", ["identity", "weights", "fe_mass"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_nan_snapshot_is_named(metric_name, bad):
    M = METRICS[metric_name](N_FE)
    S, _, _ = known_svd(np.logspace(0, -2, 6), N_FE, M)
    S[3, 17] = bad
    with pytest.raises(InputError, match="pod: snapshot 3 holds NaN or infinite values"):
        pod(S, inner_product=M, tol=1e-3)
    S[5, 0] = np.nan
    with pytest.raises(InputError, match=r"snapshot 3 holds NaN or infinite values \(and 1 more: \[5\]\)"):
        pod(S, inner_product=M, tol=1e-3)


def test_a_nan_where_the_mass_matrix_has_an_empty_row_is_still_caught():
    M = fe_mass().tolil()
    M[10, :] = 0
    M[:, 10] = 0
    S, _, _ = known_svd([1.0, 0.5, 0.1], N_FE)
    S[1, 10] = np.nan
    with pytest.raises(InputError, match="snapshot 1 holds NaN"):
        pod(S, inner_product=M.tocsr(), tol=1e-3)


def test_zero_and_malformed_snapshots():
    with pytest.raises(InputError, match=r"no snapshots \(array of shape \(0, 10\)\)"):
        pod(np.zeros((0, 10)), tol=0.1)
    with pytest.raises(InputError, match="the snapshots are zero .* no mode can be built"):
        pod(np.zeros((4, 10)), tol=0.1)
    with pytest.raises(InputError, match="the snapshots are zero"):
        pod(np.zeros((4, 10)), n_modes=1)
    with pytest.raises(InputError, match=r"one snapshot per row\), found shape \(10,\)"):
        pod(np.ones(10), tol=0.1)
    with pytest.raises(InputError, match="numeric"):
        pod([["a", "b"]], tol=0.1)


def test_inner_product_shape_mismatch_is_explained():
    S = np.random.default_rng(0).standard_normal((4, 30))
    with pytest.raises(InputError, match=r"inner_product has shape \(29, 29\) but the snapshots have 30 local dofs"):
        pod(S, inner_product=sp.eye(29, format="csr"), tol=0.1)
    with pytest.raises(InputError, match=r"inner_product has shape \(30, 31\)"):
        pod(S, inner_product=np.ones((30, 31)), tol=0.1)
    with pytest.raises(InputError, match=r"weights have shape \(31,\) but the snapshots have 30"):
        pod(S, inner_product=np.ones(31), tol=0.1)
    weights = np.ones(30)
    weights[4] = -1.0
    with pytest.raises(InputError, match="weights must be finite and ≥ 0; dof 4"):
        pod(S, inner_product=weights, tol=0.1)
    with pytest.raises(InputError, match="found an array of shape"):
        pod(S, inner_product=np.ones((30, 30, 1)), tol=0.1)


def test_ownership_weights_equal_the_identity_on_the_owned_rows():
    # rows duplicated (an interface held twice) and weighted 1/2 give the plain POD
    S, _, _ = known_svd(np.logspace(0, -2, 7), 80)
    doubled = np.hstack([S, S[:, :20]])
    weights = np.concatenate([np.full(20, 0.5), np.ones(60), np.full(20, 0.5)])
    a, b = pod(S, tol=1e-3), pod(doubled, inner_product=weights, tol=1e-3)
    assert a.n_modes == b.n_modes
    np.testing.assert_allclose(b.singular_values, a.singular_values, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(b.modes[:, :80], a.modes, atol=1e-13)
    np.testing.assert_allclose(b.modes[:, 80:], a.modes[:, :20], atol=1e-13)


# ---------------------------------------------------------------- ReducedBasis
def test_project_reconstruct_and_errors(metric):
    _, M = metric
    S, phi, _ = known_svd(np.logspace(0, -3, 10), N_FE, M)
    basis = pod(S, inner_product=M, tol=1e-2)
    a = basis.project(S)
    assert a.shape == (10, basis.n_modes)
    np.testing.assert_allclose(basis.project(S[2]), a[2], atol=1e-14)
    # coordinates of a combination of the modes are recovered exactly
    c = np.random.default_rng(1).standard_normal((3, basis.n_modes))
    np.testing.assert_allclose(basis.project(basis.reconstruct(c)), c, atol=1e-12)
    assert basis.reconstruct(c[0]).shape == (N_FE,)
    per = basis.projection_error(S, per_snapshot=True)
    assert per.shape == (10,) and np.all(per <= 1) and np.all(per >= 0)
    assert basis.projection_error(basis.reconstruct(c)) < 1e-13
    assert basis.projection_error(np.zeros((2, N_FE))) == 0.0
    np.testing.assert_array_equal(basis.projection_error(np.zeros((2, N_FE)), per_snapshot=True), 0.0)
    with pytest.raises(InputError, match=rf"expected snapshots of shape \(n_snapshots, {N_FE}\)"):
        basis.project(S[:, :-1])
    with pytest.raises(InputError, match="expected coordinates of shape"):
        basis.reconstruct(np.ones((2, basis.n_modes + 1)))


def test_truncate():
    S, _, _ = known_svd(np.logspace(0, -3, 10), 150)
    basis = pod(S, tol=1e-3)
    small = basis.truncate(3)
    assert small.n_modes == 3 and small.tolerance is None and small.inner_product == basis.inner_product
    np.testing.assert_array_equal(small.modes, basis.modes[:3])
    np.testing.assert_array_equal(small.singular_values, basis.singular_values)
    assert small.projection_error(S) > basis.projection_error(S)
    assert small.projection_error(S) == pytest.approx(small.truncation_error, rel=1e-8)
    for n in (0, basis.n_modes + 1, 1.5):
        with pytest.raises(ConfigError, match="n_modes must be an integer in"):
            basis.truncate(n)


def test_basis_read_back_without_its_inner_product():
    M = fe_mass()
    S, _, _ = known_svd(np.logspace(0, -2, 6), N_FE, M)
    basis = pod(S, inner_product=M, tol=1e-2)
    stored = ReducedBasis(modes=basis.modes, singular_values=basis.singular_values, inner_product="mass")
    assert stored.n_snapshots == 6 and stored.metric is None
    with pytest.raises(ConfigError, match="'mass' inner product, which is not attached"):
        stored.project(S)
    attached = dataclasses.replace(stored, metric=M)
    np.testing.assert_allclose(attached.project(S), basis.project(S), atol=1e-14)
    with pytest.raises(ConfigError, match="inner_product is 'identity' but the attached metric is a 'mass'"):
        ReducedBasis(modes=basis.modes, singular_values=basis.singular_values, metric=M)


def test_reduced_basis_validation():
    modes = np.eye(3, 5)
    with pytest.raises(InputError, match="sorted in decreasing order"):
        ReducedBasis(modes=modes, singular_values=[1.0, 2.0, 0.5])
    with pytest.raises(InputError, match="3 modes but only 2 singular values"):
        ReducedBasis(modes=modes, singular_values=[2.0, 1.0])
    with pytest.raises(InputError, match="modes must be"):
        ReducedBasis(modes=np.ones(5), singular_values=[1.0])
    with pytest.raises(ConfigError, match="inner_product must be one of"):
        ReducedBasis(modes=modes, singular_values=[3.0, 2.0, 1.0], inner_product="L2")
    basis = ReducedBasis(modes=modes, singular_values=[3.0, 2.0, 1.0, 0.5])
    assert basis.n_modes == 3 and basis.n_snapshots == 4 and basis.n_local_dofs == 5
    assert basis.truncation_error == pytest.approx(0.5 / np.sqrt(9 + 4 + 1 + 0.25))
    assert "modes" in repr(basis) and "metric" not in repr(basis)
    with pytest.raises(dataclasses.FrozenInstanceError):
        basis.tolerance = 0.1


def test_importing_rom_pod_does_not_import_mpi4py():
    code = "import sys, rom.pod; assert 'mpi4py' not in sys.modules, 'mpi4py imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
