"""ROM-net's classifier: selection, calibration, conformal sets, array persistence without pickle."""

from __future__ import annotations

import pickle

import h5py
import numpy as np
import pytest

from io_adapters.errors import ConfigError, InputError
from clustering.romnet import CANDIDATES, RomNet

K, D = 4, 6
ALPHA = 0.1


def blobs(n: int, seed: int, *, spread: float = 3.0, centers_seed: int = 0):
    """Gaussian blobs in feature space: the cluster is the blob."""
    centers = np.random.default_rng(centers_seed).normal(scale=spread, size=(K, D))
    rng = np.random.default_rng(seed)
    y = rng.integers(0, K, n)
    return centers[y] + rng.normal(size=(n, D)), y


@pytest.fixture(scope="module")
def separable():
    return blobs(200, 1), blobs(2000, 2)


@pytest.fixture(scope="module")
def net(separable):
    (X, y), _ = separable
    return RomNet().fit(X, y)            # every candidate, calibrated, conformal


@pytest.fixture(scope="module")
def overlapping():
    """Blobs close enough for ~85 % accuracy: conformal sets must do real work."""
    (X, y), (Xt, yt) = blobs(400, 3, spread=1.2), blobs(2000, 4, spread=1.2)
    return RomNet(candidates=("logistic", "mlp_ensemble"), conformal_alpha=ALPHA).fit(X, y), Xt, yt


# ------------------------------------------------------------------ selection and report
def test_accuracy_is_high_and_top2_is_at_least_top1(net, separable):
    _, (Xt, yt) = separable
    report = net.report_
    assert net.chosen_ in CANDIDATES
    assert set(report["candidates"]) == set(CANDIDATES)
    assert report["accuracy"] >= 0.95
    assert report["top2_accuracy"] >= report["accuracy"]
    assert np.mean(net.predict(Xt) == yt) >= 0.95
    assert report["holdout_accuracy"] >= 0.9
    confusion = report["confusion"]
    assert confusion.shape == (K, K) and confusion.sum() == 200
    assert np.trace(confusion) / confusion.sum() == pytest.approx(report["accuracy"])
    assert np.mean(report["cv_predicted"] == separable[0][1]) == pytest.approx(report["accuracy"])


def test_cross_validation_picks_the_candidate_that_separates_rings():
    """Concentric rings: no linear boundary; the CV must prefer the MLP ensemble."""
    rng = np.random.default_rng(5)
    y = rng.integers(0, 3, 300)
    angle = rng.uniform(0, 2 * np.pi, 300)
    radius = 1.0 + 1.5 * y + rng.normal(scale=0.15, size=300)
    X = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])
    net = RomNet(candidates=("logistic", "mlp_ensemble"), conformal_alpha=None).fit(X, y)
    scores = net.report_["candidates"]
    assert scores["logistic"]["accuracy"] < 0.8
    assert net.chosen_ == "mlp_ensemble"
    assert net.report_["accuracy"] >= 0.9
    assert net.report_["accuracy"] == scores["mlp_ensemble"]["accuracy"]


def test_ties_go_to_the_first_candidate(separable):
    (X, y), _ = separable
    centers = np.random.default_rng(0).normal(size=(K, D)) * 100       # trivially separable
    Xw = centers[y] + np.random.default_rng(9).normal(size=(len(y), D))
    net = RomNet(candidates=("mlp_ensemble", "logistic"), conformal_alpha=None).fit(Xw, y)
    assert net.report_["candidates"]["mlp_ensemble"]["accuracy"] == 1.0
    assert net.report_["candidates"]["logistic"]["accuracy"] == 1.0
    assert net.chosen_ == "mlp_ensemble"


def test_regret_is_one_for_a_perfect_classifier_and_exceeds_one_otherwise(separable):
    (X, y), _ = separable
    centers = np.random.default_rng(0).normal(size=(K, D)) * 100
    Xw = centers[y] + np.random.default_rng(9).normal(size=(len(y), D))
    rng = np.random.default_rng(3)
    errors = rng.uniform(0.5, 1.0, size=(len(y), K))
    errors[np.arange(len(y)), y] = 0.01                     # the label's ROM is the best one
    net = RomNet(candidates=("logistic",), conformal_alpha=None).fit(Xw, y, errors=errors)
    assert net.report_["accuracy"] == 1.0
    assert net.report_["regret_q50"] == 1.0 and net.report_["regret_q90"] == 1.0
    assert net.report_["label_regret_q90"] == 1.0
    # labels that are not the best local ROM for 30 % of the samples: the regret sees it
    swapped = errors.copy()
    wrong = rng.choice(len(y), 60, replace=False)
    swapped[wrong, (y[wrong] + 1) % K] = 0.001
    net = RomNet(candidates=("logistic",), conformal_alpha=None).fit(Xw, y, errors=swapped)
    assert net.report_["regret_q90"] == pytest.approx(10.0)
    assert net.report_["label_regret_q50"] == 1.0


# ------------------------------------------------------------------ probabilities and sets
@pytest.mark.parametrize("candidate", CANDIDATES)
@pytest.mark.parametrize("calibrate", [True, "sigmoid", "isotonic", False])
def test_array_path_reproduces_sklearn_and_mapie(separable, candidate, calibrate):
    (X, y), (Xt, _) = separable
    net = RomNet(candidates=(candidate,), calibrate=calibrate).fit(X, y)
    proba = net.predict_proba(X)
    assert np.max(np.abs(proba - net.estimator_.predict_proba(X))) <= 1e-12
    assert np.max(np.abs(net.predict_proba(Xt) - net.estimator_.predict_proba(Xt))) <= 1e-12
    assert np.allclose(proba.sum(axis=1), 1.0, atol=1e-12) and proba.min() >= 0
    assert np.array_equal(net.predict(X), net.estimator_.predict(X))
    labels, sets = net.conformal_.predict_set(X)
    assert np.array_equal(net.predict_set(X, as_mask=True), sets[:, :, 0])
    assert np.array_equal(net.predict(X), labels)


@pytest.mark.parametrize("candidate", CANDIDATES)
def test_two_clusters(separable, candidate):
    (X, y), _ = separable
    yb = (y >= 2).astype(int)
    net = RomNet(candidates=(candidate,), calibrate=True).fit(X, yb)
    assert np.max(np.abs(net.predict_proba(X) - net.estimator_.predict_proba(X))) <= 1e-12
    assert net.report_["top2_accuracy"] == 1.0


def test_temperature_calibration_keeps_the_argmax(overlapping):
    net, Xt, _ = overlapping
    pipeline = net.estimator_.calibrated_classifiers_[0].estimator
    assert np.array_equal(net.predict(Xt), pipeline.predict(Xt))
    assert not np.allclose(net.predict_proba(Xt), pipeline.predict_proba(Xt))


def test_conformal_sets_reach_their_coverage_on_held_out_data(overlapping):
    net, Xt, yt = overlapping
    assert 0.7 <= np.mean(net.predict(Xt) == yt) <= 0.97          # a case where sets matter
    mask = net.predict_set(Xt, as_mask=True)
    coverage = np.mean(mask[np.arange(len(yt)), yt])
    assert coverage >= 1 - ALPHA - 0.05
    assert mask.sum(axis=1).mean() < 2.0                             # not the trivial all-cluster set
    loose = net.predict_set(Xt, alpha=0.3, as_mask=True)
    tight = net.predict_set(Xt, alpha=0.02, as_mask=True)
    assert loose.sum() <= mask.sum() <= tight.sum()
    assert np.mean(tight[np.arange(len(yt)), yt]) >= 0.98 - 0.03


def test_sets_are_sorted_by_probability_and_include_top_fills_empty_sets(overlapping):
    net, Xt, _ = overlapping
    proba = net.predict_proba(Xt)
    sets = net.predict_set(Xt)
    index = {c: k for k, c in enumerate(net.classes_)}
    for row, members in zip(proba, sets):
        p = [row[index[c]] for c in members]
        assert p == sorted(p, reverse=True)
    filled = net.predict_set(Xt, include_top=True)
    assert all(len(s) >= 1 and s[0] == top for s, top in zip(filled, net.predict(Xt)))
    assert all(set(a) <= set(b) for a, b in zip(sets, filled))


# ------------------------------------------------------------------ persistence
def _assert_plain(group):
    """Every dataset numeric (or string), every attribute a string or number: nothing opaque."""
    def visit(name, item):
        if isinstance(item, h5py.Dataset):
            assert item.dtype.kind in "fiub" or h5py.check_string_dtype(item.dtype), (name, item.dtype)
        for key, value in item.attrs.items():
            array = np.asarray(value)
            assert isinstance(value, (str, bytes)) or array.dtype.kind in "fiubU" or (
                array.dtype.kind == "O" and all(isinstance(v, (str, bytes)) for v in array.ravel())), (name, key)

    group.visititems(visit)
    for value in group.attrs.values():
        assert isinstance(value, (str, bytes)) or np.asarray(value).dtype.kind in "fiub"


@pytest.mark.parametrize("candidate", CANDIDATES)
def test_save_load_round_trip_reproduces_predictions(tmp_path, separable, candidate, monkeypatch):
    (X, y), (Xt, _) = separable
    net = RomNet(candidates=(candidate,), calibrate="sigmoid" if candidate == "stacking" else True).fit(X, y)
    path = tmp_path / "romnet.h5"
    net.save(path)
    with h5py.File(path, "r") as f:
        _assert_plain(f)

    def refuse(*args, **kwargs):
        raise AssertionError("loading unpickled something")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    loaded = RomNet.load(path)
    assert loaded.chosen_ == candidate and loaded.estimator_ is None
    assert np.array_equal(loaded.classes_, net.classes_)
    assert np.max(np.abs(loaded.predict_proba(Xt) - net.estimator_.predict_proba(Xt))) <= 1e-12
    assert np.array_equal(loaded.predict(Xt), net.predict(Xt))
    _, sets = net.conformal_.predict_set(Xt)
    assert np.array_equal(loaded.predict_set(Xt, as_mask=True), sets[:, :, 0])
    assert loaded.report_["accuracy"] == net.report_["accuracy"]
    assert np.array_equal(loaded.report_["confusion"], net.report_["confusion"])


def test_save_into_a_group_of_a_larger_file(tmp_path, net, separable):
    _, (Xt, _) = separable
    with h5py.File(tmp_path / "dictionary.h5", "w") as f:
        f.create_dataset("other", data=np.arange(3))
        net.save(f.create_group("romnet"))
    with h5py.File(tmp_path / "dictionary.h5", "r") as f:
        _assert_plain(f)
        loaded = RomNet.load(f["romnet"])
    assert np.array_equal(loaded.predict_set(Xt, as_mask=True), net.predict_set(Xt, as_mask=True))


def _corrupt(path, change):
    with h5py.File(path, "a") as f:
        change(f)


def _replace(name, values):
    def change(f):
        del f[name]
        f.create_dataset(name, data=values)
    return change


@pytest.mark.parametrize("change, words", [
    (lambda f: f["classifier/model/coef"].__setitem__((0, 0), np.nan), "non-finite"),
    (_replace("classifier/scaler/mean", np.zeros(D + 1)), "expected shape"),
    (_replace("classifier/scaler/scale", -np.ones(D)), "positive"),
    (_replace("classifier/model/coef", np.zeros((K, D + 2))), "expected shape"),
    (_replace("classifier/model/intercept", np.zeros(K - 1)), "expected shape"),
    (lambda f: f.__delitem__("classifier/model/coef"), "dataset missing"),
    (_replace("classifier/model/coef", np.void(b"\x80\x04opaque")), "expected numbers"),
    (lambda f: f["classifier/model"].attrs.__setitem__("kind", "pickle"), "kind"),
    (lambda f: f["classifier/calibration"].attrs.__setitem__("method", "eval"), "method"),
    (_replace("classifier/calibration/beta", np.array([-1.0])), "positive"),
    (_replace("conformal/quantile", np.array([0.5])), "conformal quantile"),
    (_replace("conformal/scores", np.full(50, 2.0)), "[0, 1]"),
    (_replace("classifier/classes", np.array([3, 1, 2, 0])), "increasing"),
    (lambda f: f.attrs.__setitem__("format", "something-else"), "not a ROM-net"),
    (lambda f: f.attrs.__setitem__("format_version", 99), "version"),
    (lambda f: f.attrs.__setitem__("n_features", D + 1), "expected shape"),
    (lambda f: f.attrs.__setitem__("complete", 0), "incomplete"),
])
def test_corrupt_files_are_refused(tmp_path, change, words):
    (X, y) = blobs(120, 7)
    path = tmp_path / "romnet.h5"
    RomNet(candidates=("logistic",)).fit(X, y).save(path)
    RomNet.load(path)                                                    # intact: loads
    _corrupt(path, change)
    with pytest.raises(InputError, match="romnet.h5") as info:
        RomNet.load(path)
    assert words in str(info.value)


def test_mlp_layers_must_chain(tmp_path, separable):
    (X, y), _ = separable
    path = tmp_path / "mlp.h5"
    RomNet(candidates=("mlp_ensemble",), conformal_alpha=None).fit(X, y).save(path)
    _corrupt(path, _replace("classifier/model/member_1/coef_1", np.zeros((7, K))))
    with pytest.raises(InputError, match="member_1/coef_1"):
        RomNet.load(path)


def test_a_file_that_is_not_hdf5_is_refused(tmp_path):
    path = tmp_path / "romnet.h5"
    path.write_bytes(pickle.dumps({"coef": 1}))
    with pytest.raises(InputError, match="cannot be opened as HDF5"):
        RomNet.load(path)


# ------------------------------------------------------------------ bad inputs
def test_features_of_another_width_or_with_nan_are_refused(tmp_path, net, separable):
    _, (Xt, _) = separable
    with pytest.raises(InputError, match=rf"7 feature\(s\) per sample.*trained on {D}"):
        net.predict(np.hstack([Xt, Xt[:, :1]]))
    bad = Xt[:5].copy()
    bad[3, 2] = np.nan
    with pytest.raises(InputError, match="sample 3, feature 2"):
        net.predict_proba(bad)
    net.save(tmp_path / "n.h5")
    with pytest.raises(InputError, match=rf"trained on {D}"):
        RomNet.load(tmp_path / "n.h5").predict_set(Xt[:, :4])
    assert net.predict(Xt[0]).shape == (1,)                           # one sample as a vector


def test_fit_input_errors():
    X, y = blobs(100, 8)
    small = y.copy()
    small[np.flatnonzero(y == 2)[3:]] = 1                              # cluster 2 keeps 3 samples
    with pytest.raises(InputError, match="cluster 2 has 3 training sample"):
        RomNet(candidates=("logistic",)).fit(X, small)
    with pytest.raises(InputError, match="at least two clusters"):
        RomNet(candidates=("logistic",)).fit(X, np.zeros(100, int))
    with pytest.raises(InputError, match="conformalisation samples"):
        RomNet(candidates=("logistic",), conformal_alpha=0.01).fit(X, y)
    with pytest.raises(InputError, match="labels: expected shape"):
        RomNet(candidates=("logistic",)).fit(X, y[:-1])
    with pytest.raises(InputError, match="errors: expected shape"):
        RomNet(candidates=("logistic",)).fit(X, y, errors=np.ones((100, 2)))
    with pytest.raises(InputError, match="non-finite"):
        RomNet(candidates=("logistic",)).fit(np.where(X > 3, np.inf, X), y)
    with pytest.raises(ConfigError, match="candidates"):
        RomNet(candidates=("svm",))
    with pytest.raises(ConfigError, match="calibrate"):
        RomNet(calibrate="beta")
