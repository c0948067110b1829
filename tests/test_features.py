"""Load-description features for ROM-net: the same code for training and online."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from io_adapters.errors import ConfigError, InputError
from io_adapters.problem import Centrifugal, Pressure, Problem, Temperature, TimeTable
from rom.fem.meshes import box_mesh
from rom.gappy import gappy_points

from clustering.features import LoadDescription, TemperatureFeatures, problem_features, stack_loads
from clustering.romnet import RomNet

MESH = box_mesh("hexahedron", (12, 6, 2), size=(12.0, 6.0, 2.0))
SPOTS = np.array([[2.0, 1.5, 1.0], [10.0, 1.5, 1.0], [2.0, 4.5, 1.0], [10.0, 4.5, 1.0]])
ELASTIC = {"behavior": "linear_elastic", "density": 1e-8, "elasticity": {"young": 2e5, "poisson": 0.3}}


def hot_spot_problem(spot: int, rng, *, peak_time: float = 1.0, with_loads: bool = True) -> Problem:
    """A hot spot near one of four places (the cluster), hottest at ``peak_time``; ω and p ramp."""
    center = SPOTS[spot] + rng.normal(scale=0.5, size=3)
    amplitude = rng.uniform(200.0, 400.0)
    hot = 20.0 + amplitude * np.exp(-np.sum((MESH.points - center) ** 2, axis=1) / (2 * 1.5 ** 2))
    cold = np.full(MESH.points.shape[0], 20.0)
    temperature = Temperature.from_key_times([0.0, peak_time, 2.0], np.stack([cold, hot]), [0, 1, 0])
    loads = {}
    if with_loads:
        loads = dict(centrifugal=(Centrifugal(None, [0, 0, 0], [0, 0, 1], rng.uniform(500, 1500), "ramp"),),
                     pressures=(Pressure("zmax", rng.uniform(1.0, 5.0), "ramp"),))
    return Problem(mesh=MESH, materials={"ALL_ELEMENT": ELASTIC}, temperature=temperature,
                   tables={"ramp": TimeTable([0.0, 2.0], [0.0, 1.0])}, times=np.linspace(0.0, 2.0, 9),
                   source=f"spot{spot}.toml", **loads)


@pytest.fixture(scope="module")
def loads():
    rng = np.random.default_rng(0)
    train_spots, test_spots = rng.integers(0, 4, 120), rng.integers(0, 4, 200)
    train = [problem_features(hot_spot_problem(s, rng)) for s in train_spots]
    test = [problem_features(hot_spot_problem(s, rng)) for s in test_spots]
    return train, train_spots, test, test_spots


# ------------------------------------------------------------------ the raw description
def test_problem_features_reads_the_peak_field_and_the_load_levels():
    rng = np.random.default_rng(1)
    problem = hot_spot_problem(2, rng, peak_time=1.5)
    description = problem_features(problem)
    assert description.times.tolist() == [1.5]
    assert np.allclose(description.temperature[0], problem.temperature.at(1.5))
    assert description.temperature.max() > 200
    assert description.scalar_names == ("omega:ALL_ELEMENT@0", "pressure:zmax@0")
    omega, pressure = problem.centrifugal[0].omega, problem.pressures[0].values
    assert np.allclose(description.scalars, [omega * 0.75, pressure * 0.75])     # ramp(1.5) = 0.75
    several = problem_features(problem, times=[0.5, 2.0])
    assert several.temperature.shape == (2, MESH.points.shape[0])
    assert several.scalar_names == ("omega:ALL_ELEMENT@0", "omega:ALL_ELEMENT@1",
                                    "pressure:zmax@0", "pressure:zmax@1")
    assert np.allclose(several.scalars, [omega * 0.25, omega, pressure * 0.25, pressure])


def test_stack_loads_refuses_inconsistent_descriptions():
    rng = np.random.default_rng(2)
    a = problem_features(hot_spot_problem(0, rng))
    b = problem_features(hot_spot_problem(1, rng, with_loads=False))
    with pytest.raises(InputError, match="spot1.toml: load parameters"):
        stack_loads([a, b])
    c = problem_features(hot_spot_problem(1, rng), times=[0.5, 1.0])
    with pytest.raises(InputError, match="spot1.toml: temperature of shape"):
        stack_loads([a, c])
    no_temperature = LoadDescription(np.array([1.0]), None, np.zeros(0), (), "cold.toml")
    with pytest.raises(InputError, match="cold.toml: the problem has no temperature"):
        stack_loads([no_temperature])


# ------------------------------------------------------------------ features
@pytest.mark.parametrize("sampling", ["pod", "qdeim"])
def test_features_separate_hot_spot_locations(loads, sampling):
    train, train_spots, test, test_spots = loads
    features = TemperatureFeatures(4, sampling=sampling).fit_loads(train)
    X = features.transform_loads(train)
    assert X.shape == (120, 4 + 2)
    net = RomNet(candidates=("logistic",), conformal_alpha=None).fit(X, train_spots)
    assert net.report_["accuracy"] >= 0.95
    online = np.array([net.predict(features.transform_loads([d]))[0] for d in test])   # one problem at a time
    assert np.mean(online == test_spots) >= 0.95


def test_pod_features_are_the_scaled_coordinates_and_the_scalars_are_standardised(loads):
    train, _, _, _ = loads
    T, S, _ = stack_loads(train)
    features = TemperatureFeatures(3).fit(T, S)
    X = features.transform(T, S)
    assert np.allclose(features.modes_ @ features.modes_.T, np.eye(3), atol=1e-12)
    assert np.allclose(X[:, :3] * features.temperature_scale_, (T - T.mean(axis=0)) @ features.modes_.T)
    assert X[:, 0].std(ddof=1) == pytest.approx(1.0)                 # leading direction: unit spread
    assert np.all(X[:, 1].std() < X[:, 0].std())                     # the others keep their weight
    assert np.allclose(X[:, 3:].mean(axis=0), 0, atol=1e-12) and np.allclose(X[:, 3:].std(axis=0), 1)
    assert np.array_equal(features.fit_transform(T, S), X)


def test_qdeim_features_are_values_at_the_qdeim_points(loads):
    train, _, _, _ = loads
    T, S, names = stack_loads(train)
    features = TemperatureFeatures(4, sampling="qdeim").fit(T, S, scalar_names=names)
    assert np.array_equal(features.points_, gappy_points(features.modes_, n_components=1))
    X = features.transform(T, S)
    expected = (T[:, features.points_] - T[:, features.points_].mean(axis=0)) / features.temperature_scale_
    assert np.allclose(X[:, :4], expected)


def test_save_load_gives_the_same_transform(tmp_path, loads):
    train, _, test, _ = loads
    for sampling in ("pod", "qdeim"):
        features = TemperatureFeatures(3, sampling=sampling).fit_loads(train)
        with h5py.File(tmp_path / f"{sampling}.h5", "w") as f:
            features.save(f.create_group("features"))
        with h5py.File(tmp_path / f"{sampling}.h5", "r") as f:
            for name, item in f["features"].items():
                assert item.dtype.kind in "fiu", name
            loaded = TemperatureFeatures.load(f["features"])
        assert np.array_equal(loaded.transform_loads(test), features.transform_loads(test))
    with h5py.File(tmp_path / "pod.h5", "a") as f:
        f["features/modes"][0, 0] = np.nan
    with h5py.File(tmp_path / "pod.h5", "r") as f, pytest.raises(InputError, match="features/modes: non-finite"):
        TemperatureFeatures.load(f["features"])


# ------------------------------------------------------------------ bad inputs
def test_bad_inputs_are_named(loads):
    train, _, _, _ = loads
    T, S, names = stack_loads(train)
    features = TemperatureFeatures(3).fit(T, S, scalar_names=names)
    n_nodes = T.shape[1]
    with pytest.raises(InputError, match=rf"temperatures: {n_nodes - 1} value\(s\) per sample.*trained on {n_nodes}"):
        features.transform(T[:, :-1], S)
    bad = T[:4].copy()
    bad[2, 7] = np.nan
    with pytest.raises(InputError, match="temperatures: non-finite value nan in sample 2, column 7"):
        features.transform(bad, S[:4])
    with pytest.raises(InputError, match="scalars: the features were trained with 2"):
        features.transform(T)
    with pytest.raises(InputError, match=r"scalars: 1 value\(s\) per sample"):
        features.transform(T, S[:, :1])
    rng = np.random.default_rng(4)
    other = problem_features(hot_spot_problem(0, rng, with_loads=False))
    with pytest.raises(InputError, match="load parameters"):
        features.transform_loads([other])
    with pytest.raises(InputError, match="at most 3 centred POD modes"):
        TemperatureFeatures(5).fit(T[:4])
    with pytest.raises(ConfigError, match="sampling"):
        TemperatureFeatures(3, sampling="random")
    with pytest.raises(InputError, match="not fitted"):
        TemperatureFeatures(3).transform(T)
