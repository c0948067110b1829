"""Generative models of submodel boundary conditions (rom.bc_generator, issue 13).

Compression (space–time POD), the Gaussian and bootstrap baselines, the WGAN-GP
(learns a multimodal distribution better than the Gaussian model, bitwise resume,
non-finite losses, checks of checkpoints), the validation metrics, the files (no
pickle, layouts checked) and bad inputs. The WGAN tests use small networks and a few
hundred to a few thousand iterations; the full-size comparison on impact-like traces
is ``benchmarks/bench_gan.py``.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

from io_adapters.errors import ConfigError, ConvergenceError, InputError, MissingDependencyError
from rom.bc_generator import (BootstrapGenerator, BoundaryGenerator, GaussianGenerator, SpaceTimePOD, TraceLayout,
                              WGANConfig, WGANGenerator, compare, energy_distance, load_generator,
                              nearest_neighbour_ratio, sliced_wasserstein)
from rom.bc_generator.metrics import two_point_errors
from rom.bc_generator.synthetic import impact_traces, ring_traces


@pytest.fixture(scope="module")
def ring():
    return ring_traces(1000, 0), ring_traces(1000, 1)


@pytest.fixture(scope="module")
def small_ring():
    """The training set of the small-network tests (one shape: one compiled training program)."""
    return ring_traces(300, 2)


@pytest.fixture(scope="module")
def impacts():
    train, ids, times = impact_traces(300, n_nodes=16, n_times=12, seed=0)
    held, _, _ = impact_traces(200, n_nodes=16, n_times=12, seed=1)
    return train, held, ids, times


SMALL = WGANConfig(generator_widths=(32, 32), critic_widths=(32, 32), n_iterations=120, checkpoint_every=60)


# ================================================================ compression
def test_compression_round_trip_and_energy(impacts):
    train, held, _, _ = impacts
    pod = SpaceTimePOD(energy=0.999).fit(train)
    fraction = np.cumsum(pod.eigenvalues) / pod.eigenvalues.sum()
    assert pod.captured_energy >= 0.999 > fraction[pod.n_modes - 2]          # the fewest modes that hold 99.9 %
    assert np.allclose(pod.modes @ pod.modes.T, np.eye(pod.n_modes), atol=1e-10)
    a = pod.transform(train)
    assert a.shape == (len(train), pod.n_modes)
    assert np.allclose(a.mean(axis=0), 0, atol=1e-10)
    assert np.allclose(np.cov(a, rowvar=False, ddof=0), np.diag(pod.eigenvalues[:pod.n_modes] / len(train)),
                       atol=1e-10 * pod.eigenvalues[0])
    assert pod.projection_error(train) ** 2 == pytest.approx(1 - pod.captured_energy, rel=1e-6)
    rebuilt = pod.inverse_transform(a)
    assert rebuilt.shape == train.shape
    assert np.allclose(pod.transform(rebuilt), a, atol=1e-10)               # a projection: idempotent
    full = SpaceTimePOD(n_modes=len(train)).fit(train)                       # capped at the numerical rank
    assert full.n_modes < len(train)
    assert full.projection_error(train) < 1e-6
    assert pod.projection_error(held) < 0.1                                  # held-out traces too, roughly


def test_compression_save_load(tmp_path, impacts):
    train, _, _, _ = impacts
    pod = SpaceTimePOD(n_modes=5).fit(train)
    pod.save(tmp_path / "pod.h5")
    back = SpaceTimePOD.load(tmp_path / "pod.h5")
    assert back.n_modes == 5 and back.trace_shape == pod.trace_shape and back.n_modes_requested == 5
    assert np.array_equal(back.transform(train), pod.transform(train))
    with pytest.raises(InputError, match="shape"):
        pod.transform(train[:, :, :-1])
    with pytest.raises(ConfigError, match="energy"):
        SpaceTimePOD(energy=1.5)


# ================================================================ baselines
def test_gaussian_reproduces_mean_and_covariance(impacts):
    train, _, ids, times = impacts
    gauss = GaussianGenerator().fit(train, node_ids=ids, times=times)
    a = gauss.compression.transform(train)
    assert np.allclose(gauss.mean, a.mean(axis=0))
    assert np.allclose(gauss.covariance, np.cov(a, rowvar=False))
    drawn = gauss.sample_coefficients(40000, seed=3)
    std = np.sqrt(np.diag(gauss.covariance))
    assert np.all(np.abs(drawn.mean(axis=0) - gauss.mean) < 0.05 * std)
    assert np.allclose(np.cov(drawn, rowvar=False), gauss.covariance, atol=0.05 * std.max() ** 2)
    traces = gauss.sample(3000, seed=4)
    assert traces.shape == (3000,) + train.shape[1:]
    assert np.abs(traces.mean(axis=0) - train.mean(axis=0)).max() < 0.1 * train.std(axis=0).max()
    assert np.array_equal(gauss.sample(5, seed=1), gauss.sample(5, seed=1))
    assert not np.array_equal(gauss.sample(5, seed=1), gauss.sample(5, seed=2))
    assert np.array_equal(gauss.layout.node_ids, ids) and np.array_equal(gauss.layout.times, times)


def test_bootstrap_resamples_training_traces(impacts):
    train, _, _, _ = impacts
    boot = BootstrapGenerator().fit(train)
    drawn = boot.sample_coefficients(500, seed=0)
    training = boot.compression.transform(train)
    distance = np.min(np.linalg.norm(drawn[:, None] - training[None], axis=2), axis=1)
    assert distance.max() < 1e-9                                             # every sample is a training trace
    projected = boot.compression.inverse_transform(training)
    assert np.abs(boot.sample(4000, seed=1).mean(axis=0) - projected.mean(axis=0)).max() \
        < 0.15 * train.std(axis=0).max()


def test_generators_follow_the_protocol(small_ring):
    train = small_ring
    for generator in (GaussianGenerator(n_modes=2), BootstrapGenerator(n_modes=2), WGANGenerator(n_modes=2)):
        assert isinstance(generator, BoundaryGenerator)


# ================================================================ WGAN-GP
def test_wgan_learns_a_ring_better_than_a_gaussian(ring):
    train, held = ring
    # Gulrajani's settings but a learning rate of 1e-3 (default 1e-4) and 3 × 64 units, so that 5000
    # iterations suffice (seconds); at the defaults (1e-4, 3 × 128) 20 000 iterations reach 0.26
    # (benchmarks/bench_gan.py). Measured with seeds 0–4: 0.12–0.26 against 0.47 for the Gaussian model.
    config = WGANConfig(generator_widths=(64, 64, 64), critic_widths=(64, 64, 64), learning_rate=1e-3,
                        n_iterations=5000)
    wgan = WGANGenerator(config, n_modes=2).fit(train, seed=0)
    gauss = GaussianGenerator(compression=wgan.compression).fit(train)
    target = wgan.compression.transform(held)
    sw_wgan = sliced_wasserstein(wgan.sample_coefficients(2000, seed=1), target, seed=0)
    sw_gauss = sliced_wasserstein(gauss.sample_coefficients(2000, seed=1), target, seed=0)
    assert sw_wgan < 0.7 * sw_gauss, (sw_wgan, sw_gauss)            # seed 0: 0.18 vs 0.47
    assert set(wgan.history) == {"critic_loss", "generator_loss", "wasserstein", "gradient_penalty"}
    assert all(len(v) == 5000 and np.all(np.isfinite(v)) for v in wgan.history.values())
    assert wgan.training_seconds > 0


def _leaves(state):
    import jax

    return [np.asarray(x) for x in jax.tree_util.tree_leaves(state)]


def test_resume_from_checkpoint_is_bitwise(tmp_path, small_ring):
    train = small_ring
    whole = WGANGenerator(SMALL, n_modes=2).fit(train, seed=7)
    path = tmp_path / "ck.h5"
    # interrupted at 70 (not a multiple of the compiled block nor of checkpoint_every)
    first = WGANGenerator(dataclasses.replace(SMALL, n_iterations=70), n_modes=2)
    first.fit(train, seed=7, checkpoint=path)
    with h5py.File(path) as h5:
        assert h5["model"].attrs["iteration"] == 70
    resumed = WGANGenerator(SMALL, n_modes=2).fit(train, seed=7, checkpoint=path)
    assert resumed.iteration == whole.iteration == 120
    for a, b in zip(_leaves(resumed.state), _leaves(whole.state), strict=True):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    for name in whole.history:
        assert np.array_equal(resumed.history[name], whole.history[name])
    assert np.array_equal(resumed.sample(3, seed=2), whole.sample(3, seed=2))
    # the checkpoint now holds the end of the training; fitting again has nothing to do
    again = WGANGenerator(SMALL, n_modes=2).fit(train, seed=7, checkpoint=path)
    assert again.iteration == 120


def test_checkpoint_of_another_training_is_refused(tmp_path, small_ring):
    train = small_ring
    path = tmp_path / "ck.h5"
    WGANGenerator(SMALL, n_modes=2).fit(train, seed=1, checkpoint=path)
    other = dataclasses.replace(SMALL, critic_widths=(16, 16))
    with pytest.raises(InputError, match=r"ck\.h5.*critic_widths \[32, 32\] in the file, \[16, 16\] requested"):
        WGANGenerator(other, n_modes=2).fit(train, seed=1, checkpoint=path)
    with pytest.raises(InputError, match="seed 1 in the file, 2 requested"):
        WGANGenerator(SMALL, n_modes=2).fit(train, seed=2, checkpoint=path)
    with pytest.raises(InputError, match="training traces differ"):
        WGANGenerator(SMALL, n_modes=2).fit(ring_traces(300, 3), seed=1, checkpoint=path)
    with pytest.raises(InputError, match="300 training traces in the file, 200 given"):
        WGANGenerator(SMALL, n_modes=2).fit(train[:200], seed=1, checkpoint=path)
    with pytest.raises(InputError, match="5 nodes vs 4"):
        WGANGenerator(SMALL, n_modes=2).fit(train[:, :, :4], seed=1, checkpoint=path)
    with pytest.raises(InputError, match="POD settings"):
        WGANGenerator(SMALL, n_modes=1).fit(train, seed=1, checkpoint=path)
    # a longer training of the same configuration is a resumption, not another training
    longer = dataclasses.replace(SMALL, n_iterations=150, checkpoint_every=50)
    assert WGANGenerator(longer, n_modes=2).fit(train, seed=1, checkpoint=path).iteration == 150


@pytest.fixture
def faulty_adam(monkeypatch):
    """Adam whose updates turn NaN once its step count passes 150: the critic's (5 steps per iteration)
    at the first critic step of iteration 31, so the losses of iteration 31 are the first non-finite ones."""
    import jax
    import optax

    from rom.bc_generator import wgan

    class FaultyOptax:
        apply_updates = staticmethod(optax.apply_updates)

        @staticmethod
        def adam(learning_rate, b1, b2):
            base = optax.adam(learning_rate, b1=b1, b2=b2)

            def update(grads, state, params=None):
                updates, state = base.update(grads, state, params)
                broken = state[0].count > 150
                return jax.tree_util.tree_map(lambda u: jax.numpy.where(broken, jax.numpy.nan, u), updates), state

            return optax.GradientTransformation(base.init, update)

    wgan._programs.cache_clear()
    monkeypatch.setattr(wgan, "_jax", lambda: (jax, jax.numpy, FaultyOptax))
    yield
    wgan._programs.cache_clear()


def test_nonfinite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, small_ring, faulty_adam):
    train = small_ring
    path = tmp_path / "ck.h5"
    config = dataclasses.replace(SMALL, n_iterations=100, checkpoint_every=10)
    wgan = WGANGenerator(config, n_modes=2)
    with pytest.raises(ConvergenceError, match=r"non-finite critic_loss, generator_loss, wasserstein, "
                                               r"gradient_penalty at iteration 31;") as info:
        wgan.fit(train, seed=0, checkpoint=path)
    assert f"the last good checkpoint, {path}, holds iteration 30" in str(info.value)
    assert "keeps the parameters of iteration 30" in str(info.value)
    kept = WGANGenerator.load(path)
    assert kept.iteration == wgan.iteration == 30
    for state in (kept.state, wgan.state):
        assert all(np.all(np.isfinite(x)) for x in _leaves(state))
    assert len(wgan.history["critic_loss"]) == 30 and np.all(np.isfinite(wgan.history["critic_loss"]))
    assert np.all(np.isfinite(kept.sample(10, seed=0)))


def test_wgan_save_load_and_progress(tmp_path, small_ring, capsys):
    train = small_ring
    wgan = WGANGenerator(SMALL, n_modes=2).fit(train, seed=0, progress=False)
    assert capsys.readouterr().err == ""                                     # no bar unless asked (or a TTY)
    wgan.save(tmp_path / "g.h5")
    back = load_generator(tmp_path / "g.h5")
    assert isinstance(back, WGANGenerator) and back.config == SMALL and back.iteration == 120
    assert np.array_equal(back.sample(7, seed=3), wgan.sample(7, seed=3))
    longer = dataclasses.replace(SMALL, n_iterations=150)
    WGANGenerator(longer, n_modes=2).fit(train, seed=0, checkpoint=tmp_path / "g.h5", progress=True)
    err = capsys.readouterr().err
    assert "WGAN-GP" in err and "150/150" in err
    with pytest.raises(ConfigError, match="learning_rate"):
        WGANConfig(learning_rate=-1.0)


def test_package_imports_without_jax():
    script = textwrap.dedent("""
        import sys
        for name in ("jax", "optax", "ot"):
            sys.modules[name] = None                      # as if not installed
        import numpy as np
        import rom.bc_generator as bc
        assert not any(m.startswith(("jax", "optax", "matplotlib")) and sys.modules[m] is not None
                       for m in sys.modules), "heavy modules imported"
        from io_adapters.errors import MissingDependencyError
        x = np.random.default_rng(0).standard_normal((20, 2, 3, 3))
        bc.GaussianGenerator().fit(x).sample(2)           # the baselines need no jax
        try:
            bc.WGANGenerator().fit(x)
        except MissingDependencyError as exc:
            assert "nirom[gan]" in str(exc), exc
            print("refused")
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "refused"


# ================================================================ files
def _all_plain(h5) -> list[str]:
    """Names of anything in the file that is not a numeric dataset or a number/string attribute."""
    bad = []

    def attrs_ok(obj):
        for key, value in obj.attrs.items():
            if not isinstance(value, (str, bytes, int, float, np.integer, np.floating)):
                bad.append(f"{obj.name}@{key}")

    def visit(name, obj):
        attrs_ok(obj)
        if isinstance(obj, h5py.Dataset) and obj.dtype.kind not in "fiub":
            bad.append(name)

    attrs_ok(h5)
    h5.visititems(visit)
    return bad


def test_files_hold_only_numbers_and_stsmall_rings(tmp_path, small_ring):
    train = small_ring
    generators = {"gaussian": GaussianGenerator(n_modes=2), "bootstrap": BootstrapGenerator(n_modes=2),
                  "wgan-gp": WGANGenerator(SMALL, n_modes=2)}
    for kind, generator in generators.items():
        generator.fit(train, seed=0)
        path = tmp_path / f"{kind}.h5"
        generator.save(path)
        with h5py.File(path) as h5:
            assert h5.attrs["kind"] == kind
            assert _all_plain(h5) == []
        back = load_generator(path, expected=generator.layout)
        assert type(back) is type(generator)
        assert np.array_equal(back.sample(5, seed=1), generator.sample(5, seed=1))
    with pytest.raises(InputError, match="holds a 'wgan-gp' generator, not a 'gaussian' one"):
        GaussianGenerator.load(tmp_path / "wgan-gp.h5")


def test_loading_against_another_layout_is_refused(tmp_path, impacts):
    train, _, ids, times = impacts
    path = tmp_path / "g.h5"
    GaussianGenerator().fit(train, node_ids=ids, times=times).save(path)
    good = TraceLayout(ids, times)
    assert load_generator(path, expected=good).layout.difference(good) is None
    cases = {"16 nodes vs 15": TraceLayout(ids[:-1], times),
             "node ids differ": TraceLayout(ids + 1, times),
             "12 times vs 13": TraceLayout(ids, np.linspace(0, 1, 13)),
             "times differ": TraceLayout(ids, times * 2),
             "components": TraceLayout(ids, times, ("x", "y"))}
    for expected_text, layout in cases.items():
        with pytest.raises(InputError, match=rf"g\.h5: generator fitted for another boundary layout: {expected_text}"):
            load_generator(path, expected=layout)


def test_broken_files_are_refused(tmp_path, impacts):
    train, _, _, _ = impacts
    path = tmp_path / "g.h5"
    GaussianGenerator().fit(train).save(path)
    with h5py.File(path, "a") as h5:
        del h5["model/covariance"]
        h5["model/covariance"] = np.full((2, 2), np.nan)
    with pytest.raises(InputError, match=r"g\.h5:/model/covariance: expected shape"):
        load_generator(path)
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(InputError, match=r"text\.h5: cannot be read as HDF5"):
        load_generator(tmp_path / "text.h5")
    with h5py.File(tmp_path / "other.h5", "w") as h5:
        h5.attrs["format"] = "nirom-rom"
    with pytest.raises(InputError, match="not a boundary-condition generator file"):
        load_generator(tmp_path / "other.h5")


# ================================================================ bad inputs
def test_bad_samples_are_refused(impacts):
    train, _, ids, _ = impacts
    with pytest.raises(InputError, match=r"samples: expected traces of shape .* found 3 dimension\(s\)"):
        GaussianGenerator().fit(train[:, :, :, 0])
    broken = train.copy()
    broken[3, 2, 5, 1] = np.nan
    with pytest.raises(InputError, match="non-finite value nan at sample 3, time index 2, node index 5, component 1"):
        GaussianGenerator().fit(broken)
    with pytest.raises(InputError, match="non-finite"):
        WGANGenerator(SMALL).fit(broken)
    with pytest.raises(InputError, match="node ids were given"):
        GaussianGenerator().fit(train, node_ids=ids[:-1])
    with pytest.raises(InputError, match="all equal"):
        GaussianGenerator().fit(np.ones((5,) + train.shape[1:]))
    with pytest.raises(InputError, match="at least 2"):
        BootstrapGenerator().fit(train[:1])
    with pytest.raises(InputError, match="fit or load"):
        GaussianGenerator().sample(3)


# ================================================================ metrics
def test_metrics_on_known_distributions(impacts):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((800, 3)), rng.standard_normal((800, 3))
    assert sliced_wasserstein(x, x) == pytest.approx(0, abs=1e-12)
    assert energy_distance(x, x) == pytest.approx(0, abs=1e-6)
    same, shifted = energy_distance(x, y), energy_distance(x, y + [1.0, 0, 0])
    assert shifted > 4 * same
    assert sliced_wasserstein(x, y + 1.0) > 4 * sliced_wasserstein(x, y)
    from scipy.stats import energy_distance as scipy_energy

    assert energy_distance(x[:, 0], y[:, 0]) == pytest.approx(scipy_energy(x[:, 0], y[:, 0]), rel=1e-10)
    training = rng.standard_normal((500, 3))
    assert nearest_neighbour_ratio(training[:200], y, training)["ratio"] == 0.0
    assert 0.8 < nearest_neighbour_ratio(x, y, training)["ratio"] < 1.25

    train, held, _, _ = impacts
    assert two_point_errors(held, held) == {"space": 0.0, "time": 0.0}
    assert two_point_errors(1.1 * held, held)["space"] == pytest.approx(0.21, rel=1e-6)
    peak = lambda traces: np.linalg.norm(traces, axis=-1).max(axis=(1, 2))   # noqa: E731
    identical = compare(held, held, train, qoi=peak)
    for key in ("sliced_wasserstein", "energy_distance", "ks_max", "qoi_wasserstein", "two_point_space",
                "two_point_time"):
        assert identical[key] == pytest.approx(0, abs=1e-9), key
    pod = SpaceTimePOD().fit(train)
    a1 = pod.transform(held)[:, 0]
    moved = held + a1.std() * pod.modes[0].reshape(held.shape[1:])            # first coefficient + 1 std
    moved = compare(moved, held, train, qoi=peak, compression=pod)
    assert moved["ks_leading"][0] == pytest.approx(0.38, abs=0.08)          # 2 Φ(1/2) - 1 for a Gaussian
    for key in ("sliced_wasserstein", "energy_distance", "qoi_wasserstein"):
        assert moved[key] > 0.01, key
    boot = BootstrapGenerator().fit(train)
    gauss = GaussianGenerator(compression=boot.compression).fit(train)
    memorised = compare(boot.sample(200, seed=0), held, train, compression=boot.compression)
    fresh = compare(impact_traces(200, n_nodes=16, n_times=12, seed=5)[0], held, train, compression=boot.compression)
    assert memorised["memorisation_ratio"] < 1e-6 < 0.7 < fresh["memorisation_ratio"] < 1.4
    report = compare(gauss.sample(300, seed=0), held, train, qoi=peak, compression=boot.compression)
    json.dumps(report)                                                       # JSON-ready
    assert report["n_coefficients"] == boot.compression.n_modes and len(report["ks_leading"]) == 4


def test_plots_are_written(tmp_path, ring):
    from rom.bc_generator.plots import plot_losses, plot_marginals, plot_pairs

    train, held = ring
    gauss = GaussianGenerator(n_modes=2).fit(train)
    history = {name: np.abs(np.random.default_rng(0).standard_normal(300)) for name in
               ("critic_loss", "generator_loss", "wasserstein", "gradient_penalty")}
    target = gauss.compression.transform(held)
    coefficients = {"gaussian": gauss.sample_coefficients(500)}
    for path in (plot_losses(history, tmp_path / "losses.png"),
                 plot_marginals(coefficients, target, tmp_path / "marginals.png"),
                 plot_pairs(coefficients, target, tmp_path / "pairs.png")):
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_missing_dependency_error_is_an_import_error():
    assert issubclass(MissingDependencyError, ImportError)
