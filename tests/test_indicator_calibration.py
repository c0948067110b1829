"""rom.indicator: calibration of the online error indicator against true errors.

Synthetic data check the statistics against their definitions; one small real
study (the n = 2 cube: one training run, nine test loadings moving away from it)
checks that the indicator of the online stage grows with the true error. The
≥ 20-case figure (target Spearman ≥ 0.9) is ``examples/indicator_study`` and
``benchmarks/bench_online.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from io_adapters import InputError
from io_adapters.mesh import Mesh
from io_adapters.simulation import Field, Simulation
from rom.indicator import Calibration, calibrate, case_indicator, true_error


# ------------------------------------------------------------ synthetic data
def test_monotone_power_law_is_recovered_exactly():
    eta = np.geomspace(1e-5, 1e-1, 12)
    error = 3.0 * eta**1.5
    c = calibrate(eta, error)
    assert isinstance(c, Calibration) and c.n_cases == 12 and c.n_fitted == 12
    assert c.spearman == pytest.approx(1.0)
    assert c.pearson_log == pytest.approx(1.0)
    assert c.a == pytest.approx(3.0, rel=1e-10) and c.b == pytest.approx(1.5, rel=1e-10)
    assert c.predict(1e-3) == pytest.approx(3.0 * 1e-3**1.5)
    assert c.log_residual_max == pytest.approx(0.0, abs=1e-10)
    # the tolerance that keeps the error below 1e-4 under the fitted law
    assert c.indicator_for(1e-4) == pytest.approx((1e-4 / 3.0) ** (1 / 1.5), rel=1e-8)
    # a decreasing relation: Spearman -1, and no usable tolerance
    d = calibrate(eta, 1.0 / eta)
    assert d.spearman == pytest.approx(-1.0) and d.b == pytest.approx(-1.0)
    assert np.isnan(d.indicator_for(1e-3))


def test_noisy_data_match_scipy_and_the_envelope_bounds_every_case():
    rng = np.random.default_rng(3)
    eta = 10.0 ** rng.uniform(-5, -1, 30)
    error = 2.0 * eta**0.8 * 10.0 ** rng.normal(0.0, 0.15, 30)
    c = calibrate(eta, error, labels=[f"case{i}" for i in range(30)], groups=["a", "b"] * 15)
    assert c.spearman == pytest.approx(stats.spearmanr(eta, error).statistic)
    assert c.spearman_pvalue == pytest.approx(stats.spearmanr(eta, error).pvalue)
    assert c.pearson == pytest.approx(stats.pearsonr(eta, error).statistic)
    assert c.pearson_log == pytest.approx(stats.pearsonr(np.log10(eta), np.log10(error)).statistic)
    assert 0.9 < c.spearman < 1.0
    assert c.b == pytest.approx(0.8, abs=0.1)
    # the upper envelope lies above every case; the conservative tolerance is the smaller one
    assert np.all(error <= c.predict(eta) * 10.0**c.log_residual_max * (1 + 1e-12))
    assert c.indicator_for(1e-3) < c.indicator_for(1e-3, conservative=False)
    # pure noise: no correlation to speak of
    noise = calibrate(rng.uniform(size=40), rng.uniform(size=40))
    assert abs(noise.spearman) < 0.4
    summary = c.to_dict()
    assert summary["n_cases"] == 30 and summary["cases"][1] == {
        "label": "case1", "group": "b", "indicator": float(eta[1]), "error": float(error[1])}


def test_zero_values_are_ranked_but_left_out_of_the_log_fit():
    eta = np.array([0.0, 1e-4, 1e-3, 1e-2, 1e-1])
    error = np.array([1e-6, 1e-5, 1e-4, 1e-3, 1e-2])
    c = calibrate(eta, error)
    assert c.spearman == pytest.approx(1.0)
    assert c.n_fitted == 4 and c.b == pytest.approx(1.0)
    constant = calibrate([1.0, 1.0, 1.0], [1e-3, 2e-3, 3e-3])
    assert np.isnan(constant.spearman) and np.isnan(constant.b)


def test_bad_input_is_refused():
    with pytest.raises(InputError, match="3 indicator values for 2 errors"):
        calibrate([1, 2, 3], [1, 2])
    with pytest.raises(InputError, match="at least 3 cases"):
        calibrate([1, 2], [1, 2])
    with pytest.raises(InputError, match="negative error value at case 1"):
        calibrate([1, 2, 3], [1, -2, 3])
    with pytest.raises(InputError, match="non-finite indicator value at case 2"):
        calibrate([1, 2, np.nan], [1, 2, 3])
    with pytest.raises(InputError, match="one entry per case"):
        calibrate([1, 2, 3], [1, 2, 3], labels=["a"])


def test_plot_writes_a_png_atomically(tmp_path):
    rng = np.random.default_rng(0)
    eta = np.concatenate([[0.0], 10.0 ** rng.uniform(-4, -1, 20)])
    c = calibrate(eta, 0.5 * eta + 1e-7, groups=["zero"] + ["train-like", "extrapolated"] * 10)
    path = c.plot(tmp_path / "out" / "calibration.png", title="synthetic")
    assert path == tmp_path / "out" / "calibration.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
    assert [p.name for p in path.parent.iterdir()] == ["calibration.png"]   # no temporary left behind


# ---------------------------------------------------------------- true error
def _mesh():
    from examples.cube.cube import make_cube_mesh

    return make_cube_mesh(1, cell_type="hexahedron")


def _sim(mesh: Mesh, U: np.ndarray, times=(0.0, 1.0, 2.0), **extra) -> Simulation:
    fields = {"U": Field("node", ("U1", "U2", "U3"), U)}
    fields.update({k: Field("node", ("a",), v) for k, v in extra.items()})
    return Simulation(mesh, np.asarray(times), fields)


def test_true_error_per_step_and_overall(tmp_path):
    import io_adapters

    mesh = _mesh()
    rng = np.random.default_rng(1)
    ref = rng.normal(size=(3, mesh.n_nodes, 3))
    ref[0] = 0.0
    rom = ref.copy()
    rom[1] *= 1.01                     # 1 % at step 1
    rom[2] += 1e-3 * np.linalg.norm(ref[2]) / np.sqrt(ref[2].size)   # a uniform shift
    e = true_error(_sim(mesh, ref), _sim(mesh, rom))
    assert e.field == "U"
    assert e.per_step[0] == 0.0                       # both zero at t0
    assert e.per_step[1] == pytest.approx(0.01)
    assert e.per_step[2] == pytest.approx(1e-3, rel=1e-10)
    expected = np.linalg.norm(rom - ref) / np.linalg.norm(ref)
    assert e.overall == pytest.approx(expected)
    assert e.max_step == pytest.approx(0.01)
    assert e.to_dict()["overall"] == e.overall
    # a reference of zero with a non-zero reduced value: infinite per-step error, finite overall
    rom0 = rom.copy()
    rom0[0] = 1e-9
    e0 = true_error(_sim(mesh, ref), _sim(mesh, rom0))
    assert np.isinf(e0.per_step[0]) and np.isfinite(e0.overall) and e0.max_step == pytest.approx(0.01)
    # from files, another field, some steps
    io_adapters.save(_sim(mesh, ref, a=np.ones((3, mesh.n_nodes, 1))), tmp_path / "ref.h5")
    io_adapters.save(_sim(mesh, rom, a=np.full((3, mesh.n_nodes, 1), 1.1)), tmp_path / "rom.h5")
    assert true_error(tmp_path / "ref.h5", tmp_path / "rom.h5").overall == pytest.approx(expected)
    assert true_error(tmp_path / "ref.h5", tmp_path / "rom.h5", "a").overall == pytest.approx(0.1)
    assert true_error(tmp_path / "ref.h5", tmp_path / "rom.h5", steps=[1]).overall == pytest.approx(0.01)


def test_true_error_refuses_other_problems():
    mesh = _mesh()
    U = np.zeros((3, mesh.n_nodes, 3))
    with pytest.raises(InputError, match="has no field 'evrcum'"):
        true_error(_sim(mesh, U), _sim(mesh, U), "evrcum")
    with pytest.raises(InputError, match="same problem"):
        true_error(_sim(mesh, U), _sim(mesh, U, times=(0.0, 1.0, 3.0)))
    with pytest.raises(InputError, match="must be a Simulation"):
        true_error(U, _sim(mesh, U))


def test_case_indicator_aggregates():
    sim = Simulation(_mesh(), np.array([0.0, 1.0, 2.0]), {}, {"indicator": [0.0, 3e-3, 1e-3]})
    assert case_indicator(sim) == 3e-3
    assert case_indicator(sim, "final") == 1e-3
    assert case_indicator(sim, "mean") == pytest.approx(2e-3)
    with pytest.raises(InputError, match="aggregate"):
        case_indicator(sim, "median")
    with pytest.raises(InputError, match="no parameters"):
        case_indicator(Simulation(_mesh(), np.array([0.0]), {}))


# ---------------------------------------------------------- one real study
def test_indicator_grows_with_the_true_error_on_the_cube(tmp_path):
    """Train on one run of the n = 2 cube; nine loadings move away from it.

    Pressure, peak temperature and rotation raised step by step, a second cycle
    (extrapolated in time) and a harder combined case. The indicator (max over
    steps) orders them like the true error of the plastic field it measures and,
    here, like the displacement error too (measured 0.97 and 0.93).
    """
    from examples.cube.cube import make_cube_problem
    from rom.hifi import solve
    from rom.offline import build

    pod = {name: {"tol": 1e-6} for name in ("U", "evrcum", "evri", "al1", "sig")}
    training = make_cube_problem(2, n_cycles=1, steps_per_cycle=10)
    solve(training, output=tmp_path / "train.h5", linear_solver="scipy")
    model = build({"training": [str(tmp_path / "train.h5")], "problem": training, "pod": pod,
                   "ecm": {"tol": 1e-5}, "indicator": {"field": "evrcum", "tol": 1e-3}})
    loadings = [{"pressure": 62.0}, {"pressure": 66.0}, {"pressure": 75.0}, {"hot": 905.0}, {"hot": 930.0},
                {"hot": 1000.0}, {"omega": 2200.0}, {"n_cycles": 2}, {"hot": 1100.0, "pressure": 90.0}]
    indicators, u_errors, p_errors = [], [], []
    for loading in loadings:
        problem = make_cube_problem(2, **{"n_cycles": 1, "steps_per_cycle": 10, **loading})
        reference = solve(problem, linear_solver="scipy")
        reduced = model.solve(problem)
        indicators.append(case_indicator(reduced))
        u_errors.append(true_error(reference, reduced).overall)
        p_errors.append(true_error(reference, reduced, "evrcum").overall)
    plastic = calibrate(indicators, p_errors)
    displacement = calibrate(indicators, u_errors)
    assert plastic.spearman > 0.8 and plastic.spearman_pvalue < 0.01
    assert displacement.spearman > 0.7 and displacement.spearman_pvalue < 0.05
    assert plastic.b > 0 and displacement.b > 0          # the fitted relations increase
    assert max(indicators) > 10 * min(indicators)          # the cases span a real range
    displacement.plot(tmp_path / "cube.png")
    assert (tmp_path / "cube.png").stat().st_size > 0
