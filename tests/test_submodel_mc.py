"""The submodel Monte Carlo (issue 13): statistics with intervals, QoI, sample problems, the CLI end to end.

- The intervals of ``rom.mc_statistics`` against closed forms (Student, χ², binomial
  order statistics) and their coverage on normal samples.
- Von Mises of closed-form stress states.
- A tiny dolfinx example (``examples/submodel/generate.py``: coarse plate, 10 samples,
  8 steps) → the HF submodel driven by the transferred trace reproduces the global
  model's QoI; ``nirom submodel offline`` then ``nirom submodel mc`` (ROM and HF) end to end.
- Bad input: traces whose nodes are not the submodel boundary's, a generator file of
  another layout, a trace of the wrong shape or with NaN, a time step the scheme
  cannot take, a scheme out of range — each a clear error naming the file, nothing written.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from io_adapters import ConfigError, InputError
from rom import mc_statistics as mcs
from rom.submodel_mc import (HighFidelitySubmodel, TraceSet, boundary_layout, check_times, peak_von_mises,
                             read_traces, sample_problem, von_mises, write_traces)

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


# ===================================================================== statistics
def test_intervals_equal_the_closed_forms():
    x = np.random.default_rng(0).normal(3.0, 2.0, 40)
    mean = mcs.mean_interval(x, 0.9)
    low, high = stats.t.interval(0.9, 39, loc=x.mean(), scale=stats.sem(x))
    assert mean["estimate"] == pytest.approx(x.mean()) and (mean["low"], mean["high"]) == pytest.approx((low, high))
    var = mcs.variance_interval(x, 0.9)
    s2 = x.var(ddof=1)
    assert (var["low"], var["high"]) == pytest.approx((39 * s2 / stats.chi2.ppf(0.95, 39),
                                                       39 * s2 / stats.chi2.ppf(0.05, 39)))
    std = mcs.std_interval(x, 0.9)
    assert std["low"] ** 2 == pytest.approx(var["low"]) and std["estimate"] == pytest.approx(np.sqrt(s2))
    q = mcs.quantile_interval(x, 0.5, 0.95)
    xs = np.sort(x)
    # the median's order-statistic interval for n = 40 at 95 %: ranks 14 and 27 (binomial)
    assert (q["low"], q["high"]) == (xs[13], xs[26]) and q["coverage"] >= 0.95
    few = mcs.quantile_interval(x[:20], 0.95, 0.95)
    assert few["high"] == np.inf and np.isfinite(few["low"])          # 20 samples cannot bound ξ_0.95 from above


def test_coverage_on_normal_samples():
    rng = np.random.default_rng(1)
    n, reps, mu, sigma = 30, 1500, 1.0, 0.5
    q95 = mu + sigma * stats.norm.ppf(0.95)
    hits = {"mean": 0, "std": 0, "q50": 0}
    for _ in range(reps):
        x = rng.normal(mu, sigma, n)
        hits["mean"] += mcs.within(mu, mcs.mean_interval(x))
        hits["std"] += mcs.within(sigma, mcs.std_interval(x))
        hits["q50"] += mcs.within(mu, mcs.quantile_interval(x, 0.5))
    assert 0.935 <= hits["mean"] / reps <= 0.965
    assert 0.935 <= hits["std"] / reps <= 0.965
    assert hits["q50"] / reps >= 0.94                       # conservative: coverage ≥ 95 % by construction
    x = rng.normal(mu, sigma, 4000)
    s = mcs.summary(x, quantiles=(0.95,), method="bootstrap", n_resamples=500)
    assert mcs.within(sigma, s["std"]) and mcs.within(q95, s["quantiles"]["0.95"])
    curves = mcs.running(x, quantiles=(0.95,))
    assert curves["n"][-1] == 4000 and curves["mean"][-1, 0] == pytest.approx(x.mean())
    assert curves["q0.95"].shape == (len(curves["n"]), 3)


def test_statistics_refuse_bad_samples():
    with pytest.raises(InputError, match="non-finite sample nan at position 2"):
        mcs.summary([1.0, 2.0, np.nan])
    with pytest.raises(InputError, match="at least 2"):
        mcs.mean_interval([1.0])
    with pytest.raises(InputError, match="confidence"):
        mcs.mean_interval([1.0, 2.0], 1.5)


def test_von_mises_closed_forms():
    uniaxial = np.array([7.0, 0, 0, 0, 0, 0])
    shear = np.array([0, 0, 0, 2.0, 0, 0])
    hydrostatic = np.array([5.0, 5.0, 5.0, 0, 0, 0])
    assert von_mises(uniaxial) == pytest.approx(7.0)
    assert von_mises(shear) == pytest.approx(2.0 * np.sqrt(3))
    assert von_mises(hydrostatic) == pytest.approx(0.0, abs=1e-12)
    assert peak_von_mises(np.stack([[uniaxial, shear], [hydrostatic, 3 * shear]])) == pytest.approx(6 * np.sqrt(3))


# ===================================================================== the tiny example
def run(*args, cwd=None, mpi: int | None = None):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    command = [PYTHON, *args] if mpi is None else [str(Path(PYTHON).with_name("mpiexec")), "-n", str(mpi), PYTHON,
                                                   *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def nirom(*args, cwd):
    return run("-m", "mpi_drivers.cli", *args, cwd=cwd)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    if importlib.util.find_spec("dolfinx") is None or importlib.util.find_spec("gmsh") is None:
        pytest.skip("dolfinx and gmsh are needed to generate the example data")
    folder = tmp_path_factory.mktemp("submodel")
    done = run(str(ROOT / "examples/submodel/generate.py"), "--samples", "10", "--steps", "8", "--size", "0.4",
               "--duration", "0.08", "--held-out", "0.4", "--keep", "1", "--out", str(folder / "data"))
    assert done.returncode == 0, done.stderr[-3000:]
    sys.path.insert(0, str(ROOT / "examples/submodel"))
    try:
        from fit_generators import fit
    finally:
        sys.path.pop(0)
    fit(folder / "data/traces.h5", iterations=0, kinds=("gaussian", "bootstrap"))
    config = (ROOT / "examples/submodel/submodel.toml").read_text()
    config = config.replace('"data/wgan.h5"', '"data/gaussian.h5"').replace("n = 200", "n = 6").replace(
        "batch = 10", "batch = 4").replace("n_train = 12", "n_train = 3")
    (folder / "submodel.toml").write_text(config)
    return folder


def test_hf_submodel_reproduces_the_global_qoi(tiny):
    from io_adapters.problem import read_problem

    data = read_traces(tiny / "data/traces.h5")
    template = read_problem(tiny / "data/submodel.toml")
    assert boundary_layout(template, "submodel_boundary").difference(data.layout) is None
    solver = HighFidelitySubmodel(template, "submodel_boundary")
    for i in (0, 5):
        assert solver(data.traces[i]) == pytest.approx(data.qoi[i], rel=1e-9)     # same mesh, scheme, steps
    assert (tiny / "data/global/sample_0000.xdmf").is_file() and not (tiny / "data/global/sample_0003.xdmf").exists()


def test_cli_offline_then_mc(tiny):
    done = nirom("submodel", "offline", "submodel.toml", "-q", cwd=tiny)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tiny / "data/submodel_rom.h5").is_file() and (tiny / "data/submodel_rom.h5.run.json").is_file()
    done = nirom("submodel", "mc", "submodel.toml", cwd=tiny)
    assert done.returncode == 0, done.stderr[-3000:]
    import h5py

    with h5py.File(tiny / "results/mc_wgan.h5") as h5:
        rom_qoi = h5["qoi"][()]
        figures = json.loads(h5.attrs["statistics"])
    assert rom_qoi.shape == (6,) and np.all(rom_qoi > 0)
    assert figures["statistics"]["mean"]["estimate"] == pytest.approx(rom_qoi.mean())
    assert figures["reference"]["n"] == 4                                 # the held-out global FE samples
    report = (tiny / "results/mc_wgan_report.md").read_text()
    assert "| mean |" in report and "mc_wgan_convergence.png" in report
    assert (tiny / "results/mc_wgan_convergence.png").stat().st_size > 1000
    # the same samples with the HF submodel: a ROM of 3 training runs generalises within 10 % …
    hf = (tiny / "submodel.toml").read_text().replace('kind = "rom"', 'kind = "hf"').replace("mc_wgan", "mc_hf")
    (tiny / "hf.toml").write_text(hf)
    done = nirom("submodel", "mc", "hf.toml", "-q", cwd=tiny)
    assert done.returncode == 0, done.stderr[-3000:]
    with h5py.File(tiny / "results/mc_hf.h5") as h5:
        np.testing.assert_allclose(rom_qoi, h5["qoi"][()], rtol=0.1)
    # … and reproduces its training traces (the global model's QoI) to 1e-3
    from io_adapters.problem import read_problem
    from rom.model import ReducedOrderModel
    from rom.submodel_mc import ReducedSubmodel

    data = read_traces(tiny / "data/traces.h5")
    rom = ReducedSubmodel(ReducedOrderModel.load(tiny / "data/submodel_rom.h5"),
                          read_problem(tiny / "data/submodel.toml"), "submodel_boundary")
    for i in data.training[:3]:
        assert rom(data.traces[i]) == pytest.approx(data.qoi[i], rel=1e-3)


def test_linear_path_gives_the_newton_path(tiny, tmp_path):
    """The submodel's linear reduced dynamics (modal recurrence, stress at one point per linear
    tetrahedron) is the Newton path's answer to round-off: the QoI, U and the stress."""
    from io_adapters.problem import read_problem
    from rom.submodel_mc import ReducedSubmodel, qoi_points, train_submodel_rom

    data = read_traces(tiny / "data/traces.h5")
    template = read_problem(tiny / "data/submodel.toml")
    model = train_submodel_rom(template, "submodel_boundary", data.traces[data.training[:3]], tmp_path / "runs")
    fast = ReducedSubmodel(model, template, "submodel_boundary")
    newton = ReducedSubmodel(model, template, "submodel_boundary", linear=False)
    assert (fast.path, newton.path) == ("linear", "newton")
    sub = model.subdomains[0]
    points = qoi_points(model, sub)
    assert len(points) == len(sub.cells) < len(sub.point_rows)            # one point per linear tetrahedron
    for i in (*data.training[:2], data.held_out_indices[0]):
        q_fast, q_newton = fast(data.traces[i]), newton(data.traces[i])
        assert q_fast == pytest.approx(q_newton, rel=1e-9)
        a, b = fast.result(data.traces[i]), newton.result(data.traces[i])
        assert relative(a.fields["U"].values, b.fields["U"].values) <= 1e-9
        stress = b.fields["sig"].values                                    # (n_t, every point, 6)
        np.testing.assert_allclose(fast.stress_history(data.traces[i]), stress[:, points], rtol=0,
                                   atol=1e-9 * np.abs(stress).max())
        assert peak_von_mises(stress[:, points]) == pytest.approx(peak_von_mises(stress), rel=1e-12)
    with pytest.raises(InputError, match="non-finite value nan at sample 0, time index 0"):
        fast(np.full(fast.layout.shape, np.nan))


def relative(a, b) -> float:
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(b))


# ===================================================================== bad input
def test_traces_of_another_boundary_are_refused(tiny):
    data = read_traces(tiny / "data/traces.h5")
    shifted = dataclasses.replace(data, node_ids=data.node_ids + 1)
    write_traces(tiny / "data/shifted.h5", shifted)
    config = (tiny / "submodel.toml").read_text().replace('traces = "data/traces.h5"\nn_train',
                                                           'traces = "data/shifted.h5"\nn_train')
    config = config.replace("data/submodel_rom.h5", "data/never.h5")
    (tiny / "shifted.toml").write_text(config)
    done = nirom("submodel", "offline", "shifted.toml", cwd=tiny)
    assert done.returncode == 2
    assert "shifted.h5: its boundary data do not match the submodel boundary" in done.stderr
    assert "node ids differ" in done.stderr and not (tiny / "data/never.h5").exists()


def test_generator_of_another_layout_is_refused(tiny):
    from rom.bc_generator import GaussianGenerator

    data = read_traces(tiny / "data/traces.h5")
    GaussianGenerator().fit(data.traces, node_ids=data.node_ids, times=2 * data.times).save(tiny / "data/other.h5")
    config = (tiny / "submodel.toml").read_text().replace("data/gaussian.h5", "data/other.h5").replace(
        "mc_wgan", "mc_other").replace('kind = "rom"', 'kind = "hf"')     # needs no model: runs alone too
    (tiny / "other.toml").write_text(config)
    done = nirom("submodel", "mc", "other.toml", cwd=tiny)
    assert done.returncode == 2
    assert "other.h5: generator fitted for another boundary layout: times differ" in done.stderr
    assert not list((tiny / "results").glob("mc_other*"))


def test_bad_configuration_is_refused_at_once(tiny):
    (tiny / "bad.toml").write_text('problem = "data/submodel.toml"\ngenerator = "data/gaussian.h5"\n'
                                   'output = "results/bad.h5"\n[samples]\nn = 1\n[solver]\nkind = "fast"\n'
                                   '[dynamics]\nscheme = "newmark"\nbeta = 0.0\n')
    done = nirom("submodel", "mc", "bad.toml", cwd=tiny)
    assert done.returncode == 2
    assert "bad.toml: 2 problems" in done.stderr and "[samples] n must be at least 2" in done.stderr
    assert "[solver] kind must be one of rom, hf" in done.stderr
    (tiny / "bad.toml").write_text('problem = "data/submodel.toml"\ngenerator = "data/gaussian.h5"\n'
                                   'output = "results/bad.h5"\n[solver]\nkind = "hf"\n[dynamics]\nbeta = 0.0\n')
    done = nirom("submodel", "mc", "bad.toml", cwd=tiny)
    assert done.returncode == 2 and "beta" in done.stderr and not (tiny / "results/bad.h5").exists()


def test_trace_of_wrong_shape_or_nan_and_bad_time_steps(tiny):
    from io_adapters.problem import read_problem

    template = read_problem(tiny / "data/submodel.toml")
    layout = boundary_layout(template, "submodel_boundary")
    good = np.zeros(layout.shape)
    with pytest.raises(InputError, match=r"gen.h5: sample 3: expected traces of shape \(n_samples, 9, "):
        sample_problem(template, "submodel_boundary", good[:, :-1], where="gen.h5: sample 3")
    nan = good.copy()
    nan[2, 1, 0] = np.nan
    with pytest.raises(InputError, match="gen.h5: sample 4: non-finite value nan at sample 0, time index 2, node "
                                         "index 1, component 0"):
        sample_problem(template, "submodel_boundary", nan, where="gen.h5: sample 4")
    with pytest.raises(InputError, match="no node set 'cut'"):
        sample_problem(template, "cut", good)
    assert template.imposed_fields[0].values.shape == good.shape            # the template is left as it was
    squeezed = template.times.copy()
    squeezed[1] = squeezed[0] + 1e-16
    with pytest.raises(InputError, match="time step 1 .* below 1e-12 of the time span"):
        check_times(dataclasses.replace(template, times=squeezed, imposed_fields=()))
    with pytest.raises((InputError, ConfigError), match="at least"):
        check_times(dataclasses.replace(template, times=template.times[:1], imposed_fields=()))


def test_trace_set_validates_its_arrays(tmp_path):
    traces = np.zeros((3, 4, 2, 3))
    with pytest.raises(InputError, match="'points' has shape"):
        TraceSet(traces=traces, node_ids=np.arange(2), times=np.arange(4.0), points=np.zeros((3, 3)),
                 qoi=np.ones(3), parameters=np.zeros((3, 1)))
    data = TraceSet(traces=traces, node_ids=np.arange(2), times=np.arange(4.0), points=np.zeros((2, 3)),
                    qoi=np.ones(3), parameters=np.zeros((3, 1)), held_out=[0, 1, 0])
    path = write_traces(tmp_path / "t.h5", data)
    back = read_traces(path)
    assert np.array_equal(back.held_out_indices, [1]) and back.layout.difference(data.layout) is None
    import h5py

    with h5py.File(path, "r+") as h5:
        h5.attrs["complete"] = 0
    with pytest.raises(InputError, match="incomplete traces file"):
        read_traces(path)


def test_two_ranks_give_the_serial_monte_carlo(tiny):
    """mpiexec -n 2: batches drawn and solved by both ranks; the QoI (sample by sample) equal the 1-rank run's."""
    import h5py

    config = (tiny / "submodel.toml").read_text().replace('kind = "rom"', 'kind = "hf"').replace("batch = 4",
                                                                                                  "batch = 2")
    (tiny / "serial.toml").write_text(config.replace("mc_wgan", "mc_serial"))
    (tiny / "parallel.toml").write_text(config.replace("mc_wgan", "mc_parallel"))
    done = nirom("submodel", "mc", "serial.toml", "-q", cwd=tiny)
    assert done.returncode == 0, done.stderr[-3000:]
    done = run("-m", "mpi_drivers.cli", "submodel", "mc", "parallel.toml", "-q", cwd=tiny, mpi=2)
    assert done.returncode == 0, done.stderr[-3000:]
    with h5py.File(tiny / "results/mc_serial.h5") as one, h5py.File(tiny / "results/mc_parallel.h5") as two:
        np.testing.assert_allclose(two["qoi"][()], one["qoi"][()], rtol=1e-12)
    record = json.loads((tiny / "results/mc_parallel.h5.run.json").read_text())
    assert record["ranks"] == 2 and record["command"] == "submodel mc"
