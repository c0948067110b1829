"""rom.gappy: QDEIM points grouped by integration point, Gappy-POD reconstruction and its fit residual."""

from __future__ import annotations

import numpy as np
import pytest

import io_adapters
from io_adapters.errors import ConfigError, InputError
from rom import fem
from rom.gappy import DualBasis, GappyReconstructor, gappy_points, merge_points


@pytest.fixture(scope="module")
def cloud():
    mesh = fem.distort_mesh(fem.box_mesh("hexahedron", (6, 6, 6)), 0.25, seed=3)
    return fem.integration_points(mesh)                   # (1728, 3)


def _smooth_modes(X: np.ndarray, n_modes: int, n_components: int, seed: int = 0) -> np.ndarray:
    """Orthonormal smooth fields, (n_modes, n_points * n_components) point-major."""
    rng = np.random.default_rng(seed)
    waves = rng.normal(size=(40, 3)) * np.linspace(0.5, 4.0, 40)[:, None]
    basis = np.cos(X @ waves.T + rng.uniform(0, 2 * np.pi, 40))                 # (n, 40)
    amplitudes = np.exp(-np.linalg.norm(waves, axis=1) / 2)
    fields = np.einsum("mcl,nl->mnc", rng.normal(size=(n_modes, n_components, 40)) * amplitudes, basis)
    Q, _ = np.linalg.qr(fields.reshape(n_modes, -1).T)
    return Q.T


def _random_condition(Phi, n_c, k, rng, tries=20):
    values = []
    for _ in range(tries):
        try:
            values.append(GappyReconstructor.fit(Phi, rng.choice(Phi.shape[1] // n_c, k, replace=False),
                                                 n_c).condition_number)
        except InputError:
            values.append(np.inf)
    return np.median(values)


# ------------------------------------------------------------ QDEIM
@pytest.mark.parametrize("n_modes, n_c", [(12, 1), (30, 1), (12, 6), (30, 6)])
def test_qdeim_points_give_a_well_conditioned_restriction(cloud, n_modes, n_c):
    Phi = _smooth_modes(cloud, n_modes, n_c)
    points = gappy_points(Phi, n_c)
    assert points.dtype == np.int64 and np.all(np.diff(points) > 0)
    assert len(points) * n_c >= n_modes and len(points) <= n_modes
    g = GappyReconstructor.fit(Phi, points, n_c)
    assert g.condition_number < 50 and g.amplification < 50
    if n_c == 1:                                          # square and invertible
        assert len(points) == n_modes
        restricted = Phi[:, points].T
        assert np.linalg.matrix_rank(restricted) == n_modes
        # much better than random points of the same count
        assert g.condition_number < _random_condition(Phi, 1, n_modes, np.random.default_rng(0)) / 3


def test_points_are_grouped_by_integration_point(cloud):
    n_c = 6
    Phi = _smooth_modes(cloud, 12, n_c)
    import scipy.linalg as sla

    _, pivots = sla.qr(Phi, mode="r", pivoting=True)
    expected = np.unique(pivots[:12] // n_c)              # the points owning QDEIM's pivot rows
    np.testing.assert_array_equal(gappy_points(Phi, n_c), expected)
    # 3D modes and DualBasis give the same
    blocks = Phi.reshape(12, -1, n_c)
    np.testing.assert_array_equal(gappy_points(blocks), expected)
    np.testing.assert_array_equal(gappy_points(DualBasis(blocks, n_c, name="sig")), expected)


def test_oversampling_adds_points_and_never_amplifies_more(cloud):
    Phi = _smooth_modes(cloud, 20, 1)
    base = gappy_points(Phi, 1)
    more = gappy_points(Phi, 1, n_points=45)
    fewer = gappy_points(Phi, 1, n_points=20)
    assert len(more) == 45 and np.all(np.isin(base, more))
    np.testing.assert_array_equal(fewer, base)
    assert GappyReconstructor.fit(Phi, more, 1).amplification <= GappyReconstructor.fit(Phi, base, 1).amplification
    with pytest.raises(ConfigError, match="cannot determine"):
        gappy_points(Phi, 1, n_points=10)
    with pytest.raises(ConfigError, match="positive"):
        gappy_points(Phi, 1, n_points=0)


# ------------------------------------------------------------ reconstruction
@pytest.mark.parametrize("n_c", [1, 6])
def test_fields_in_the_span_are_reconstructed_exactly(cloud, n_c):
    rng = np.random.default_rng(1)
    Phi = _smooth_modes(cloud, 15, n_c)
    points = gappy_points(Phi, n_c)
    g = GappyReconstructor.fit(Phi, points, n_c)
    coefficients = rng.normal(size=(5, 15))
    fields = (coefficients @ Phi).reshape(5, -1, n_c)                           # 5 time steps
    values = fields[:, points]
    np.testing.assert_allclose(g.coordinates(values), coefficients, atol=1e-12 * np.abs(coefficients).max())
    rebuilt = g.reconstruct(values)
    assert rebuilt.shape == fields.shape
    assert np.linalg.norm(rebuilt - fields) <= 1e-12 * np.linalg.norm(fields)
    residuals = g.fit_residual(values)
    assert residuals.shape == (5,) and np.all(residuals <= 1e-12)


def test_fit_residual_is_positive_out_of_span_and_is_the_least_squares_residual(cloud):
    rng = np.random.default_rng(2)
    Phi = _smooth_modes(cloud, 10, 6)
    outside = _smooth_modes(cloud, 12, 6, seed=5)[10:]                          # other smooth fields
    points, is_ecm = merge_points(np.array([3, 50, 700, 1200]), gappy_points(Phi, 6))
    g = GappyReconstructor.fit(Phi, points, 6)
    fields = (rng.normal(size=(3, 10)) @ Phi + rng.normal(size=(3, 2)) @ outside).reshape(3, -1, 6)
    values = fields[:, points]
    residual = g.fit_residual(values)
    assert np.all(residual > 1e-3)
    # the reference: a plain least-squares fit at the reduced points
    A = Phi.reshape(10, -1, 6)[:, points].reshape(10, -1).T
    for y, r in zip(values.reshape(3, -1), residual):
        a, *_ = np.linalg.lstsq(A, y, rcond=None)
        assert r == pytest.approx(np.linalg.norm(y - A @ a) / np.linalg.norm(y), rel=1e-10)
    # leading axes: one field, or several of them
    assert np.ndim(g.fit_residual(values[0])) == 0
    assert g.fit_residual(np.stack([values, values])).shape == (2, 3)
    assert g.reconstruct(values[0]).shape == (len(cloud), 6)
    assert g.fit_residual(np.zeros_like(values[0])) == 0.0


@pytest.mark.parametrize("n_c", [1, 6])
def test_the_fit_of_the_rows_at_the_points_is_the_fit_of_the_full_modes(cloud, n_c):
    """``fit_restricted(modes[:, points])`` equals ``fit(modes, points)`` bit for bit (the online fits
    use it: a model loaded from a file keeps only those rows of its dual bases)."""
    rng = np.random.default_rng(4)
    Phi = _smooth_modes(cloud, 12, n_c)
    points = np.sort(rng.choice(len(cloud), size=40, replace=False))
    full = GappyReconstructor.fit(Phi, points, n_c)
    rows = Phi.reshape(12, -1, n_c)[:, points]
    for given in (rows, rows.reshape(12, -1)):
        reduced = GappyReconstructor.fit_restricted(given, n_c)
        for name in ("restricted", "operator", "condition_number", "amplification"):
            assert np.array_equal(getattr(reduced, name), getattr(full, name)), name
        assert np.array_equal(reduced.points, np.arange(len(points))) and reduced.n_points == len(points)
    values = (rng.normal(size=(3, 12)) @ Phi).reshape(3, -1, n_c)[:, points]
    assert np.array_equal(reduced.coordinates(values), full.coordinates(values))
    # its "field" is the reduced points: in the span, the values there come back
    np.testing.assert_allclose(reduced.reconstruct(values), values, atol=1e-12 * np.abs(values).max())
    with pytest.raises(InputError, match="n_components is needed"):
        GappyReconstructor.fit_restricted(rows.reshape(12, -1))


def test_scalar_values_may_omit_the_component_axis(cloud):
    Phi = _smooth_modes(cloud, 8, 1)
    points = gappy_points(Phi, 1, n_points=16)
    g = GappyReconstructor.fit(DualBasis(Phi, 1), points)
    field = np.arange(1, 9) @ Phi
    np.testing.assert_allclose(g.reconstruct(field[points])[:, 0], field, atol=1e-12 * np.abs(field).max())
    np.testing.assert_allclose(g.reconstruct(field[points, None]), field[:, None], atol=1e-12 * np.abs(field).max())


def test_merge_points_union_and_weights():
    ecm_points = np.array([40, 2, 17])
    points, is_ecm = merge_points(ecm_points, [np.array([17, 5]), np.array([99])])
    np.testing.assert_array_equal(points, [2, 5, 17, 40, 99])
    np.testing.assert_array_equal(is_ecm, [True, False, True, True, False])
    weights = np.zeros(len(points))
    weights[is_ecm] = np.array([0.2, 0.3, 0.5])          # a ReducedQuadrature's (increasing) points 2, 17, 40
    assert weights[points == 17][0] == 0.3 and weights[points == 5][0] == 0.0


def test_bad_input_is_refused(cloud):
    Phi = _smooth_modes(cloud, 10, 6)
    with pytest.raises(InputError, match="rank"):
        GappyReconstructor.fit(np.vstack([Phi, Phi[:1]]), gappy_points(Phi, 6), 6)   # dependent modes
    with pytest.raises(InputError, match="cannot determine"):
        GappyReconstructor.fit(Phi, np.array([0]), 6)
    with pytest.raises(InputError, match=r"\[0, 1728\)"):
        GappyReconstructor.fit(Phi, np.array([0, 5000]), 6)
    with pytest.raises(InputError, match="repeated"):
        GappyReconstructor.fit(Phi, np.array([4, 4, 9]), 6)
    with pytest.raises(InputError, match="n_points \\* 4"):
        gappy_points(Phi[:, :-2], 4)
    with pytest.raises(InputError, match="components"):
        DualBasis(Phi.reshape(10, -1, 6), 3)
    g = GappyReconstructor.fit(Phi, gappy_points(Phi, 6, n_points=8), 6)
    with pytest.raises(InputError, match=r"\(\.\.\., 8, 6\)"):
        g.reconstruct(np.zeros((8, 5)))
    with pytest.raises(InputError, match="NaN"):
        g.fit_residual(np.full((8, 6), np.nan))


# ------------------------------------------------------------ real Zset stresses
@pytest.fixture(scope="module")
def ut_example(data_dir):
    return io_adapters.read(data_dir / "zset/UtExample/cube.ut")


def _pod(snapshots: np.ndarray, tol: float) -> np.ndarray:
    """Local SVD (in place of rom.pod): modes whose discarded energy is ≤ tol² of the total."""
    _, s, Vt = np.linalg.svd(snapshots, full_matrices=False)
    tail = np.concatenate([np.cumsum((s ** 2)[::-1])[::-1], [0.0]])
    return Vt[: int(np.argmax(tail <= tol ** 2 * tail[0]))]


@pytest.mark.parametrize("name, tol", [("sig", 1e-1), ("sig", 1e-2), ("sig", 1e-8), ("cugeq", 1e-8)])
def test_ut_example_training_snapshots_are_rebuilt_to_the_pod_tolerance(ut_example, name, tol):
    field = ut_example.fields[name].values                                       # (4, 1728, n_c)
    n_t, n_points, n_c = field.shape
    snapshots = field.reshape(n_t, -1)
    modes = _pod(snapshots, tol)
    projection_error = np.linalg.norm(snapshots - (snapshots @ modes.T) @ modes) / np.linalg.norm(snapshots)
    assert projection_error <= tol
    points = gappy_points(modes, n_c)
    g = GappyReconstructor.fit(modes, points, n_c)
    assert g.condition_number < 20
    rebuilt = g.reconstruct(field[:, points])
    error = np.linalg.norm(rebuilt - field) / np.linalg.norm(field)
    assert error <= (1 + g.amplification) * max(projection_error, 1e-13)
    assert error <= 10 * tol
    # with the ECM-like extra points the fit residual flags what the modes miss
    more, _ = merge_points(np.arange(0, n_points, 97), points)
    g_more = GappyReconstructor.fit(modes, more, n_c)
    residual = g_more.fit_residual(field[:, more])
    if projection_error > 1e-10:
        assert residual.max() > 0.1 * projection_error
    else:
        assert residual.max() <= 1e-10


# ------------------------------------------------------------ MPI: rows of the basis on two ranks
@pytest.mark.mpi
def test_distributed_fit_equals_the_serial_one(comm, cloud):
    n_c, size, rank = 6, comm.size, comm.rank
    Phi = _smooth_modes(cloud, 10, n_c)                   # the same global basis on every rank
    n_points = len(cloud)
    bounds = np.linspace(0, n_points, size + 1).astype(int)
    mine = slice(bounds[rank], bounds[rank + 1])
    blocks = Phi.reshape(10, n_points, n_c)
    local = blocks[:, mine].reshape(10, -1)
    local_points = gappy_points(local, n_c)               # QDEIM on this rank's rows
    g = GappyReconstructor.fit(local, local_points, n_c, comm=comm)
    # serial reference on the whole basis with every rank's points
    every = np.concatenate([p + b for p, b in zip(comm.allgather(local_points), bounds[:-1])])
    serial = GappyReconstructor.fit(Phi, every, n_c)
    assert g.condition_number == pytest.approx(serial.condition_number, rel=1e-10)
    rng = np.random.default_rng(7)
    fields = (rng.normal(size=(3, 10)) @ Phi + 0.01 * rng.normal(size=(3, Phi.shape[1]))).reshape(3, -1, n_c)
    np.testing.assert_allclose(g.coordinates(fields[:, mine][:, local_points]),
                               serial.coordinates(fields[:, every]), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(g.fit_residual(fields[:, mine][:, local_points]),
                               serial.fit_residual(fields[:, every]), rtol=1e-10)
    np.testing.assert_allclose(g.reconstruct(fields[:, mine][:, local_points]),
                               serial.reconstruct(fields[:, every])[:, mine], rtol=1e-9, atol=1e-12)
