"""ROM-net's classifier: which local reduced-order model, from the load description alone.

ROM-net (Daniel, Casenave, Akkari, Ketata, Ryckelynck) keeps a dictionary of local
reduced-order models, one per cluster of training simulations, and routes a new
load case to one of them *before any solve*, with a classifier fed by features of
the load description (:mod:`clustering.features`). :class:`RomNet` is that
classifier:

1. **Candidates**, each ``Pipeline(StandardScaler, model)``:

   - ``"logistic"`` — multinomial logistic regression (the baseline);
   - ``"mlp_ensemble"`` — ``mlp_members`` ``MLPClassifier`` (lbfgs, ReLU, seeds
     ``random_state + i``), soft voting;
   - ``"stacking"`` — ``StackingClassifier`` of those two on their probabilities,
     with a logistic final estimator (its own stratified, seeded inner folds).

2. **Selection** by stratified, shuffled, seeded ``cv``-fold cross-validation on all
   training samples: the highest accuracy wins, ties go to the candidate listed
   first (list them simplest first). The out-of-fold predictions of the chosen
   candidate give :attr:`RomNet.report_`: accuracy, top-2 accuracy, confusion matrix
   (rows: true cluster, columns: predicted), and — when the error of every local ROM
   on every training sample is given — the regret ``e(chosen ROM) / min_j e(ROM j)``
   (q50, q90), next to the regret of the labels themselves (the clustering's own).
   The report describes the candidate *before* calibration; temperature scaling (the
   default) does not change the argmax, so accuracy and confusion are those of the
   served classifier up to the training split below.

3. **Conformal split.** With ``conformal_alpha`` set, a stratified, seeded fraction
   ``conformal_size`` of the samples is held out; the served classifier is fitted on
   the rest and MAPIE's ``SplitConformalClassifier`` (LAC score ``1 − p̂(true)``,
   ``prefit=True``) is conformalised on the held-out part. Prediction sets
   ``{k : 1 − p̂_k ≤ q}`` then contain the true cluster with probability ≥ 1 − α for
   new loads drawn like the training ones (marginal guarantee). An empty set means no
   cluster reaches the conformal threshold: the classifier is less sure of its best
   cluster than on a fraction 1 − α of the conformalisation samples (treat it as
   ambiguous, like a set of several clusters; ``include_top=True`` adds the most
   probable cluster to every set, which keeps the guarantee).
   The price: the served classifier sees ``1 − conformal_size`` of the samples
   (``conformal_alpha=None`` uses them all and gives no sets).

4. **Calibration** (``calibrate``): ``CalibratedClassifierCV(method, ensemble=False)``
   — out-of-fold outputs of the chosen pipeline fit the maps, the pipeline is refit on
   all of its training samples. ``True`` means ``"temperature"`` (one factor on the
   logits, argmax unchanged, sound with ~10² samples); ``"sigmoid"`` (Platt per class,
   one-vs-rest, renormalised) and ``"isotonic"`` are accepted; ``False`` serves the
   pipeline's own probabilities.

5. **Arrays.** The fitted objects are turned into learned arrays
   (:mod:`clustering.classifier_arrays`); :meth:`predict_proba`, :meth:`predict` and
   :meth:`predict_set` always run the numpy path on those arrays (checked against
   scikit-learn on the training features at the end of :meth:`fit`), before and after
   :meth:`save`/:meth:`load`. The HDF5 group holds numeric datasets and string
   attributes only: loading never runs code.
"""

from __future__ import annotations

import logging
import math
import os
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from io_adapters.atomic import atomic_path
from io_adapters.errors import ConfigError, InputError, NiromError

from clustering.classifier_arrays import (
    CALIBRATION_METHODS,
    ClassifierArrays,
    ConformalArrays,
    _read_array,
    _read_int,
    _read_text,
    _where,
    conformal_quantile,
    export,
)

log = logging.getLogger(__name__)

__all__ = ["CANDIDATES", "RomNet"]

CANDIDATES = ("logistic", "mlp_ensemble", "stacking")
FORMAT_NAME = "nirom-romnet"
FORMAT_VERSION = 1
_EXPORT_TOLERANCE = 1e-10      # numpy path vs scikit-learn, checked at the end of fit


# ================================================================ input checks
def check_features(features, *, n_features: int | None = None, what: str = "features") -> np.ndarray:
    """Features as a finite float (n_samples, n_features) array, or InputError saying what is wrong."""
    try:
        X = np.asarray(features, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{what}: expected numbers, found {type(features).__name__}") from None
    if X.ndim == 1 and n_features is not None and X.shape[0] == n_features:
        X = X[np.newaxis, :]
    if X.ndim != 2:
        raise InputError(f"{what}: expected shape (n_samples, n_features), found {X.shape}")
    if n_features is not None and X.shape[1] != n_features:
        raise InputError(f"{what}: {X.shape[1]} feature(s) per sample, but the classifier was trained on "
                         f"{n_features} (same TemperatureFeatures and load parameters as in training?)")
    if not np.all(np.isfinite(X)):
        row, col = np.argwhere(~np.isfinite(X))[0]
        raise InputError(f"{what}: non-finite value {X[row, col]} at sample {row}, feature {col}")
    return X


def _labels(labels, n_samples: int) -> np.ndarray:
    y = np.asarray(labels)
    if y.ndim != 1 or y.shape[0] != n_samples:
        raise InputError(f"labels: expected shape ({n_samples},) (one cluster per sample), found {y.shape}")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise InputError("labels: expected integer cluster indices, found non-integer values")
    elif y.dtype.kind not in "iub":
        raise InputError(f"labels: expected integer cluster indices, found dtype {y.dtype}")
    y = y.astype(np.int64)
    if np.any(y < 0):
        raise InputError(f"labels: cluster indices must be ≥ 0, found {y.min()}")
    return y


def _errors(errors, y: np.ndarray) -> np.ndarray:
    E = np.asarray(errors, dtype=np.float64)
    if E.ndim != 2 or E.shape[0] != len(y) or E.shape[1] <= y.max():
        raise InputError(f"errors: expected shape ({len(y)}, n_clusters ≥ {y.max() + 1}) — the error of each "
                         f"local ROM on each training sample — found {E.shape}")
    if not np.all(np.isfinite(E)) or np.any(E < 0):
        row, col = np.argwhere(~(np.isfinite(E) & (E >= 0)))[0]
        raise InputError(f"errors: expected finite non-negative values, found {E[row, col]} at sample {row}, "
                         f"local ROM {col}")
    return E


# ================================================================ candidates
def _inner_folds(min_count: int, cv: int) -> int:
    """Folds for a CV nested in a fit whose smallest class has ``min_count`` samples."""
    return max(2, min(cv, min_count))


def _logistic():
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=1.0, max_iter=5000)


def _mlp_ensemble(random_state: int, members: int, hidden_layers: tuple[int, ...]):
    from sklearn.ensemble import VotingClassifier
    from sklearn.neural_network import MLPClassifier

    mlps = [(f"mlp_{i}", MLPClassifier(hidden_layer_sizes=hidden_layers, activation="relu", solver="lbfgs",
                                       alpha=1e-3, max_iter=2000, random_state=random_state + i))
            for i in range(members)]
    return VotingClassifier(mlps, voting="soft")


def _candidate(name: str, *, random_state: int, inner_folds: int, members: int, hidden_layers: tuple[int, ...]):
    """``Pipeline(StandardScaler, model)`` of a candidate."""
    from sklearn.ensemble import StackingClassifier
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if name == "logistic":
        model = _logistic()
    elif name == "mlp_ensemble":
        model = _mlp_ensemble(random_state, members, hidden_layers)
    else:
        model = StackingClassifier(
            [("logistic", _logistic()), ("mlp_ensemble", _mlp_ensemble(random_state, members, hidden_layers))],
            final_estimator=_logistic(), stack_method="predict_proba",
            cv=StratifiedKFold(inner_folds, shuffle=True, random_state=random_state))
    return Pipeline([("scale", StandardScaler()), ("model", model)])


def _scores(proba: np.ndarray, y_index: np.ndarray) -> dict:
    """Accuracy, top-2 accuracy, log loss and confusion (counts, rows true) of probabilities."""
    n_classes = proba.shape[1]
    predicted = np.argmax(proba, axis=1)
    top2 = np.argsort(-proba, axis=1, kind="stable")[:, :2]
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(confusion, (y_index, predicted), 1)
    p_true = np.clip(proba[np.arange(len(y_index)), y_index], 1e-15, 1.0)
    return {"accuracy": float(np.mean(predicted == y_index)),
            "top2_accuracy": float(np.mean(np.any(top2 == y_index[:, None], axis=1))),
            "log_loss": float(-np.mean(np.log(p_true))),
            "confusion": confusion, "predicted": predicted}


def _regret(errors: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """Per sample ``errors[i, chosen_i] / min_j errors[i, j]`` (1 when both are 0)."""
    picked = errors[np.arange(len(chosen)), chosen]
    best = errors.min(axis=1)
    regret = np.full(len(chosen), np.inf)
    np.divide(picked, best, out=regret, where=best > 0)
    regret[(best == 0) & (picked == 0)] = 1.0
    return regret


# ================================================================ the classifier
class RomNet:
    """ROM-net's classifier: features of the load description → local ROM (cluster).

    Parameters
    ----------
    candidates : sequence of {"logistic", "mlp_ensemble", "stacking"}
        Tried in this order; ties in cross-validated accuracy go to the first.
    cv : int
        Folds of the stratified, shuffled, seeded cross-validation (selection, the
        calibration's out-of-fold outputs, stacking's inner folds). Every cluster
        needs at least ``cv`` training samples.
    random_state : int
        Seed of every split and of the MLPs.
    calibrate : bool or {"temperature", "sigmoid", "isotonic"}
        Probability calibration (``True`` = ``"temperature"``), see the module docstring.
    conformal_alpha : float or None
        Miscoverage of the conformal prediction sets; None: no sets, all samples train.
    conformal_size : float
        Fraction of the samples held out to conformalise (stratified).
    mlp_members : int
        MLPs in the ensemble.
    hidden_layers : tuple of int
        Hidden layer sizes of each MLP.

    Attributes
    ----------
    classes_ : (n_classes,) int array
        The clusters, sorted; column ``k`` of :meth:`predict_proba` is ``classes_[k]``.
    n_features_in_ : int
    chosen_ : str
        The selected candidate.
    report_ : dict
        ``accuracy``, ``top2_accuracy``, ``log_loss``, ``confusion`` (n_classes,
        n_classes) counts (rows: true, columns: predicted, out-of-fold), ``cv_predicted``
        (n_samples,) out-of-fold predicted clusters, ``candidates`` (per candidate:
        accuracy, top-2 accuracy, log loss, seconds), ``holdout_accuracy`` (served
        classifier on the conformalisation samples), ``regret_q50``/``regret_q90`` and
        ``label_regret_q50``/``label_regret_q90`` when ``errors`` were given,
        ``fit_seconds``.
    estimator_ : sklearn estimator or None
        The served scikit-learn classifier (None after :meth:`load`).
    conformal_ : mapie.classification.SplitConformalClassifier or None
        (None after :meth:`load` or without ``conformal_alpha``.)
    arrays_ : ClassifierArrays
        The learned arrays the predictions use.
    """

    def __init__(self, candidates: Sequence[str] = CANDIDATES, cv: int = 5, random_state: int = 0,
                 calibrate: bool | str = True, conformal_alpha: float | None = 0.1, *,
                 conformal_size: float = 0.25, mlp_members: int = 3, hidden_layers: tuple[int, ...] = (32,)):
        candidates = tuple(candidates)
        unknown = [c for c in candidates if c not in CANDIDATES]
        if not candidates or unknown or len(set(candidates)) != len(candidates):
            raise ConfigError(f"RomNet: candidates must be distinct names among {list(CANDIDATES)}, "
                              f"found {list(candidates)}")
        if int(cv) != cv or cv < 2:
            raise ConfigError(f"RomNet: cv must be an integer ≥ 2, found {cv!r}")
        if calibrate is True:
            calibrate = "temperature"
        if calibrate is not False and calibrate not in CALIBRATION_METHODS:
            raise ConfigError(f"RomNet: calibrate must be True, False or one of {list(CALIBRATION_METHODS)}, "
                              f"found {calibrate!r}")
        if conformal_alpha is not None and not 0 < conformal_alpha < 1:
            raise ConfigError(f"RomNet: conformal_alpha must be in (0, 1) or None, found {conformal_alpha!r}")
        if not 0 < conformal_size < 1:
            raise ConfigError(f"RomNet: conformal_size must be in (0, 1), found {conformal_size!r}")
        if int(mlp_members) != mlp_members or mlp_members < 1:
            raise ConfigError(f"RomNet: mlp_members must be a positive integer, found {mlp_members!r}")
        self.candidates = candidates
        self.cv = int(cv)
        self.random_state = int(random_state)
        self.calibrate = calibrate
        self.conformal_alpha = None if conformal_alpha is None else float(conformal_alpha)
        self.conformal_size = float(conformal_size)
        self.mlp_members = int(mlp_members)
        self.hidden_layers = tuple(int(h) for h in hidden_layers)
        self.estimator_ = None
        self.conformal_ = None
        self.arrays_: ClassifierArrays | None = None
        self.conformal_arrays_: ConformalArrays | None = None
        self.report_: dict = {}
        self.chosen_: str | None = None

    # ------------------------------------------------------------ fitting
    def fit(self, features, labels, *, errors=None) -> "RomNet":
        """Select, fit, calibrate and conformalise.

        Parameters
        ----------
        features : (n_samples, n_features) array
            Load-description features of the training simulations.
        labels : (n_samples,) int array
            Cluster of each training simulation.
        errors : (n_samples, n_clusters) array, optional
            Error of local ROM ``j`` on training sample ``i`` (for the regret).

        Returns
        -------
        self
        """
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):   # tiny matrices: threads only cost
            return self._fit(features, labels, errors)

    def _fit(self, features, labels, errors) -> "RomNet":
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.model_selection import StratifiedKFold, cross_val_predict

        start = time.perf_counter()
        X = check_features(features)
        y = _labels(labels, X.shape[0])
        E = None if errors is None else _errors(errors, y)
        classes, y_index, counts = np.unique(y, return_inverse=True, return_counts=True)
        if len(classes) < 2:
            raise InputError(f"labels: a classifier needs at least two clusters, found {classes.tolist()}")
        if counts.min() < self.cv:
            k = int(np.argmin(counts))
            raise InputError(f"labels: cluster {classes[k]} has {counts[k]} training sample(s); stratified "
                             f"cv={self.cv} needs at least {self.cv} per cluster (lower cv or merge the cluster)")
        n_conf = 0
        if self.conformal_alpha is not None:
            n_conf = math.ceil(self.conformal_size * len(y))
            needed = math.ceil(max(1 / self.conformal_alpha, 1 / (1 - self.conformal_alpha)))
            if n_conf < needed:
                raise InputError(f"conformal_alpha={self.conformal_alpha} needs at least {needed} conformalisation "
                                 f"samples; conformal_size={self.conformal_size} of {len(y)} gives {n_conf} "
                                 "(raise conformal_size or alpha, or add training samples)")

        folds = StratifiedKFold(self.cv, shuffle=True, random_state=self.random_state)
        min_train = int(counts.min() - math.ceil(counts.min() / self.cv))
        results = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for name in self.candidates:
                t0 = time.perf_counter()
                proba = cross_val_predict(self._make(name, min_train), X, y, cv=folds, method="predict_proba")
                results[name] = _scores(proba, y_index)
                results[name]["seconds"] = time.perf_counter() - t0
                log.info("ROM-net candidate %s: cv accuracy %.3f, top-2 %.3f (%.1f s)", name,
                         results[name]["accuracy"], results[name]["top2_accuracy"], results[name]["seconds"])
            best = max(results[name]["accuracy"] for name in self.candidates)
            chosen = next(name for name in self.candidates if results[name]["accuracy"] == best)

            if self.conformal_alpha is not None:
                from sklearn.model_selection import train_test_split

                X_fit, X_conf, y_fit, y_conf = train_test_split(
                    X, y, test_size=n_conf, stratify=y, random_state=self.random_state)
            else:
                X_fit, y_fit, X_conf, y_conf = X, y, None, None
            estimator = self._fit_served(chosen, X_fit, y_fit)

        conformal = None
        if self.conformal_alpha is not None:
            from mapie.classification import SplitConformalClassifier

            conformal = SplitConformalClassifier(estimator=estimator, confidence_level=1 - self.conformal_alpha,
                                                 conformity_score="lac", prefit=True,
                                                 random_state=self.random_state)
            conformal.conformalize(X_conf, y_conf)
            scores = np.asarray(conformal.conformity_scores, dtype=np.float64).reshape(-1)
            self.conformal_arrays_ = ConformalArrays(self.conformal_alpha, scores,
                                                     conformal_quantile(scores, self.conformal_alpha))
        else:
            self.conformal_arrays_ = None

        self.arrays_ = export(estimator)
        gap = float(np.max(np.abs(self.arrays_.predict_proba(X) - estimator.predict_proba(X))))
        if not gap <= _EXPORT_TOLERANCE:
            raise NiromError(f"RomNet: the array form of the '{chosen}' classifier differs from scikit-learn by "
                             f"{gap:.2e} on the training features (scikit-learn version not supported?)")
        self.estimator_, self.conformal_, self.chosen_ = estimator, conformal, chosen
        self.classes_, self.n_features_in_ = classes, X.shape[1]

        chosen_scores = results[chosen]
        report = {
            "chosen": chosen, "n_samples": len(y), "classes": classes,
            "accuracy": chosen_scores["accuracy"], "top2_accuracy": chosen_scores["top2_accuracy"],
            "log_loss": chosen_scores["log_loss"], "confusion": chosen_scores["confusion"],
            "cv_predicted": classes[chosen_scores["predicted"]],
            "candidates": {name: {k: results[name][k] for k in ("accuracy", "top2_accuracy", "log_loss", "seconds")}
                           for name in self.candidates},
        }
        if conformal is not None:
            report["holdout_accuracy"] = float(np.mean(self.predict(X_conf) == y_conf))
            report["n_conformal"] = len(y_conf)
        if E is not None:
            regret = _regret(E, classes[chosen_scores["predicted"]])
            label_regret = _regret(E, y)
            report.update(regret_q50=float(np.quantile(regret, 0.5)), regret_q90=float(np.quantile(regret, 0.9)),
                          label_regret_q50=float(np.quantile(label_regret, 0.5)),
                          label_regret_q90=float(np.quantile(label_regret, 0.9)))
        report["fit_seconds"] = time.perf_counter() - start
        self.report_ = report
        log.info("ROM-net: chose %s (cv accuracy %.3f) in %.1f s", chosen, report["accuracy"], report["fit_seconds"])
        return self

    def _make(self, name: str, min_count: int):
        return _candidate(name, random_state=self.random_state, inner_folds=_inner_folds(min_count, self.cv),
                          members=self.mlp_members, hidden_layers=self.hidden_layers)

    def _fit_served(self, name: str, X: np.ndarray, y: np.ndarray):
        """The served classifier: the chosen pipeline, calibrated on out-of-fold outputs."""
        from sklearn.model_selection import StratifiedKFold

        min_count = int(np.unique(y, return_counts=True)[1].min())
        if not self.calibrate:
            return self._make(name, min_count).fit(X, y)
        from sklearn.calibration import CalibratedClassifierCV

        folds = _inner_folds(min_count, self.cv)
        pipeline = self._make(name, min_count - math.ceil(min_count / folds))
        calibrated = CalibratedClassifierCV(pipeline, method=self.calibrate, ensemble=False,
                                            cv=StratifiedKFold(folds, shuffle=True, random_state=self.random_state))
        return calibrated.fit(X, y)

    # ------------------------------------------------------------ prediction
    def _check(self, features) -> np.ndarray:
        if self.arrays_ is None:
            raise NiromError("RomNet: not fitted (call fit or load first)")
        return check_features(features, n_features=self.n_features_in_)

    def predict_proba(self, features) -> np.ndarray:
        """Calibrated probabilities of each cluster, (n_samples, n_classes), rows summing to 1."""
        return self.arrays_.predict_proba(self._check(features))

    def predict(self, features) -> np.ndarray:
        """The most probable cluster of each sample, (n_samples,)."""
        return self.arrays_.predict(self._check(features))

    def predict_set(self, features, *, alpha: float | None = None, include_top: bool = False,
                    as_mask: bool = False):
        """Conformal prediction sets: the plausible clusters at confidence ``1 − alpha``.

        Parameters
        ----------
        features : (n_samples, n_features) array
        alpha : float, optional
            Miscoverage; default the fitted ``conformal_alpha`` (another value recomputes
            the quantile from the stored conformalisation scores).
        include_top : bool
            Add the most probable cluster to every set (no empty set; coverage can
            only grow). False gives MAPIE's LAC sets exactly.
        as_mask : bool
            Return the boolean membership (n_samples, n_classes) instead of lists.

        Returns
        -------
        list of n_samples int arrays
            Each sample's clusters, most probable first. Without ``include_top`` a
            set may be empty: the classifier is less sure of its best cluster than on
            a fraction 1 − α of the conformalisation samples (an ambiguous load).
        """
        if self.arrays_ is not None and self.conformal_arrays_ is None:
            raise NiromError("RomNet: fitted with conformal_alpha=None, no prediction sets")
        proba = self.predict_proba(features)
        mask = self.conformal_arrays_.sets(proba, alpha)
        if include_top:
            mask[np.arange(len(mask)), np.argmax(proba, axis=1)] = True
        if as_mask:
            return mask
        order = np.argsort(-proba, axis=1, kind="stable")
        return [self.classes_[row_order[row_mask[row_order]]] for row_order, row_mask in zip(order, mask)]

    # ------------------------------------------------------------ persistence
    def save(self, target) -> None:
        """Write the learned arrays into an HDF5 group (or a new file, atomically).

        Parameters
        ----------
        target : h5py.Group or path
            A group (the caller's file) or the path of a file to create.
        """
        if self.arrays_ is None:
            raise NiromError("RomNet: nothing to save (not fitted)")
        if isinstance(target, (str, os.PathLike)):
            import h5py

            with atomic_path(target) as tmp, h5py.File(tmp, "w") as f:
                f.attrs["complete"] = 0
                self._write(f)
                f.attrs["complete"] = 1
            return
        self._write(target)

    def _write(self, group) -> None:
        import sklearn

        group.attrs["format"] = FORMAT_NAME
        group.attrs["format_version"] = FORMAT_VERSION
        group.attrs["chosen"] = self.chosen_
        group.attrs["n_features"] = int(self.n_features_in_)
        group.attrs["trained_with"] = f"scikit-learn {sklearn.__version__}"
        self.arrays_.write(group.create_group("classifier"))
        if self.conformal_arrays_ is not None:
            self.conformal_arrays_.write(group.create_group("conformal"))
        report = group.create_group("report")
        for key in ("accuracy", "top2_accuracy", "log_loss", "holdout_accuracy", "regret_q50", "regret_q90",
                    "label_regret_q50", "label_regret_q90", "fit_seconds"):
            if key in self.report_:
                report.attrs[key] = float(self.report_[key])
        if "confusion" in self.report_:
            report.create_dataset("confusion", data=np.asarray(self.report_["confusion"], dtype=np.int64))

    @classmethod
    def load(cls, source) -> "RomNet":
        """A RomNet from the arrays :meth:`save` wrote; every array checked, no code run.

        Parameters
        ----------
        source : h5py.Group or path

        Raises
        ------
        InputError
            Not a ROM-net group, unsupported version, a missing or misshapen dataset,
            a non-finite value — the message names the file and the dataset.
        """
        if isinstance(source, (str, os.PathLike)):
            import h5py

            path = Path(source)
            try:
                f = h5py.File(path, "r")
            except OSError as exc:
                raise InputError(f"{path}: cannot be opened as HDF5 ({exc})") from None
            with f:
                if "complete" in f.attrs and int(f.attrs["complete"]) != 1:
                    raise InputError(f"{path}: incomplete ROM-net file (its writer did not finish)")
                return cls._read(f)
        return cls._read(source)

    @classmethod
    def _read(cls, group) -> "RomNet":
        where = _where(group)
        if group.attrs.get("format") != FORMAT_NAME:
            raise InputError(f"{where}: not a ROM-net classifier (format attribute "
                             f"{group.attrs.get('format')!r}, expected {FORMAT_NAME!r})")
        version = _read_int(group, "format_version", minimum=1)
        if version > FORMAT_VERSION:
            raise InputError(f"{where}: ROM-net format version {version}, this nirom reads ≤ {FORMAT_VERSION}")
        chosen = _read_text(group, "chosen", CANDIDATES)
        n_features = _read_int(group, "n_features", minimum=1)
        if "classifier" not in group:
            raise InputError(f"{where}/classifier: group missing")
        arrays = ClassifierArrays.read(group["classifier"], n_features)
        conformal = ConformalArrays.read(group["conformal"]) if "conformal" in group else None
        net = cls(candidates=(chosen,), conformal_alpha=None if conformal is None else conformal.alpha,
                  calibrate=False if arrays.calibration is None else arrays.calibration.method)
        net.arrays_, net.conformal_arrays_, net.chosen_ = arrays, conformal, chosen
        net.classes_, net.n_features_in_ = arrays.classes, n_features
        report = {"chosen": chosen}
        if "report" in group:
            for key, value in group["report"].attrs.items():
                report[key] = float(value)
            if "confusion" in group["report"]:
                k = len(arrays.classes)
                report["confusion"] = _read_array(group["report"], "confusion", ndim=2, shape=(k, k),
                                                  integer=True)
        net.report_ = report
        return net
