"""Fitted classifiers as learned arrays only: export from scikit-learn, numpy prediction, HDF5.

ROM-net's classifier (:mod:`clustering.romnet`) is trained with scikit-learn and
MAPIE, but it is stored and evaluated online from its learned arrays alone, so
that loading a model file never runs code (no pickle, no joblib, no eval) and the
online stage does not depend on the training libraries' internals.

This module holds the array forms and their prediction path, one small frozen
dataclass per piece:

- :class:`ScalerArrays` — ``StandardScaler``: ``(x - mean) / scale``;
- :class:`LogisticArrays` — ``LogisticRegression``: ``x @ coef.T + intercept``,
  softmax (multinomial) or logistic (two classes, one row of ``coef``);
- :class:`MLPArrays` — ``MLPClassifier``: dense layers, hidden activation
  (``relu``, ``tanh``, ``logistic``, ``identity``), softmax or logistic output;
- :class:`VotingArrays` — soft ``VotingClassifier``: mean of its members' probabilities;
- :class:`StackingArrays` — ``StackingClassifier`` (``stack_method="predict_proba"``,
  no passthrough): its base learners' probabilities (first column dropped with two
  classes) concatenated, fed to a final :class:`LogisticArrays`;
- :class:`CalibrationArrays` — the maps of ``CalibratedClassifierCV(ensemble=False)``:
  ``temperature`` (one factor β: ``softmax(β · logits)``), ``sigmoid`` (Platt, one
  ``(a, b)`` per class, ``1 / (1 + exp(a f + b))``, then normalised) or ``isotonic``
  (one increasing piecewise-linear map per class, clipped, then normalised);
- :class:`ClassifierArrays` — scaler + model + optional calibration + the classes.

Each piece reproduces the scikit-learn object it came from to round-off (the same
operations in the same order; :func:`export` is checked against scikit-learn by
the caller on the training features). Each writes its arrays into an HDF5 group
(numeric datasets, strings as attributes) and reads them back with every shape,
dtype, finiteness and consistency check, raising :class:`InputError` naming the
file and the dataset.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from io_adapters.errors import InputError
from rom.hdf5_arrays import read_array, read_attr
from rom.hdf5_arrays import where as _where
from rom.hdf5_arrays import write_array as _write

__all__ = [
    "CalibrationArrays",
    "ClassifierArrays",
    "ConformalArrays",
    "LogisticArrays",
    "MLPArrays",
    "ScalerArrays",
    "StackingArrays",
    "VotingArrays",
    "conformal_quantile",
    "export",
]

HIDDEN_ACTIVATIONS = ("identity", "logistic", "tanh", "relu")
CALIBRATION_METHODS = ("temperature", "sigmoid", "isotonic")
RESPONSES = ("decision_function", "predict_proba")
CONFORMAL_EPSILON = 1e-8     # MAPIE's tolerance in its LAC sets (mapie._machine_precision.EPSILON)


# ================================================================ small numerics
def _softmax(z: np.ndarray) -> np.ndarray:
    """Row softmax, in scikit-learn's order of operations (max subtracted, exp, divided by the sum)."""
    z = z - z.max(axis=1)[:, np.newaxis]
    np.exp(z, out=z)
    z /= z.sum(axis=1)[:, np.newaxis]
    return z


def _activate(z: np.ndarray, name: str) -> np.ndarray:
    if name == "relu":
        np.maximum(z, 0, out=z)
    elif name == "tanh":
        np.tanh(z, out=z)
    elif name == "logistic":
        expit(z, out=z)
    elif name == "softmax":
        z = _softmax(z)
    return z


def _binary_columns(p: np.ndarray) -> np.ndarray:
    """``(n,)`` probability of the second class → ``(n, 2)``."""
    return np.vstack([1 - p, p]).T


# ================================================================ HDF5 helpers
def _read_array(group, name: str, *, ndim: int, shape: tuple | None = None, integer: bool = False,
                positive: bool = False) -> np.ndarray:
    """A numeric dataset of a classifier (float64 or int64), checked (:func:`rom.hdf5_arrays.read_array`)."""
    return read_array(group, name, ndim=ndim, file_kind="a ROM-net classifier", shape=shape, integer=integer,
                      dtype=None if integer else np.float64, kinds="fiu", positive=positive)


def _read_text(group, name: str, allowed: tuple[str, ...] | None = None) -> str:
    return read_attr(group, name, str, allowed=allowed)


def _read_int(group, name: str, *, minimum: int = 0) -> int:
    where = _where(group)
    if name not in group.attrs:
        raise InputError(f"{where}: attribute '{name}' missing")
    value = np.asarray(group.attrs[name])
    if value.shape != () or value.dtype.kind not in "iu" or int(value) < minimum:
        raise InputError(f"{where}: attribute '{name}' should be an integer ≥ {minimum}, found {value!r}")
    return int(value)


def _subgroup(group, name: str):
    if name not in group or hasattr(group[name], "dtype"):
        raise InputError(f"{_where(group, name)}: group missing")
    return group[name]


def _n_outputs(n_classes: int) -> int:
    """Rows of a logistic ``coef`` / width of an MLP output: one with two classes."""
    return 1 if n_classes == 2 else n_classes


# ================================================================ pieces
@dataclass(frozen=True, eq=False)
class ScalerArrays:
    """``StandardScaler``: ``(x - mean) / scale``; ``mean``, ``scale`` of shape (n_features,)."""

    mean: np.ndarray
    scale: np.ndarray

    def __call__(self, X: np.ndarray) -> np.ndarray:
        X = np.array(X, dtype=np.float64)
        X -= self.mean
        X /= self.scale
        return X

    def write(self, group) -> None:
        _write(group, "mean", self.mean)
        _write(group, "scale", self.scale)

    @classmethod
    def read(cls, group, n_features: int) -> "ScalerArrays":
        return cls(_read_array(group, "mean", ndim=1, shape=(n_features,)),
                   _read_array(group, "scale", ndim=1, shape=(n_features,), positive=True))


@dataclass(frozen=True, eq=False)
class LogisticArrays:
    """``LogisticRegression``: ``coef (m, n_in)``, ``intercept (m,)``; m = 1 for two classes, else n_classes."""

    coef: np.ndarray
    intercept: np.ndarray

    kind = "logistic"

    def decision(self, X: np.ndarray) -> np.ndarray:
        """Decision values, (n,) with two classes, else (n, n_classes)."""
        scores = X @ self.coef.T + self.intercept
        return scores.reshape(-1) if scores.shape[1] == 1 else scores

    def proba(self, X: np.ndarray) -> np.ndarray:
        scores = self.decision(X)
        if scores.ndim == 1:
            return _binary_columns(expit(scores))
        return _softmax(scores)

    @classmethod
    def from_sklearn(cls, model) -> "LogisticArrays":
        return cls(np.array(model.coef_, dtype=np.float64), np.array(model.intercept_, dtype=np.float64))

    def write(self, group) -> None:
        group.attrs["kind"] = self.kind
        _write(group, "coef", self.coef)
        _write(group, "intercept", self.intercept)

    @classmethod
    def read(cls, group, n_inputs: int, n_classes: int) -> "LogisticArrays":
        m = _n_outputs(n_classes)
        return cls(_read_array(group, "coef", ndim=2, shape=(m, n_inputs)),
                   _read_array(group, "intercept", ndim=1, shape=(m,)))


@dataclass(frozen=True, eq=False)
class MLPArrays:
    """``MLPClassifier``: layer weights ``coefs[i] (n_i, n_{i+1})``, ``intercepts[i] (n_{i+1},)``."""

    coefs: tuple
    intercepts: tuple
    activation: str
    out_activation: str

    kind = "mlp"

    def proba(self, X: np.ndarray) -> np.ndarray:
        a = X
        last = len(self.coefs) - 1
        for i, (W, b) in enumerate(zip(self.coefs, self.intercepts)):
            a = a @ W
            a += b
            if i != last:
                a = _activate(a, self.activation)
        a = _activate(a, self.out_activation)
        if a.shape[1] == 1:
            return _binary_columns(a.ravel())
        return a

    @classmethod
    def from_sklearn(cls, model) -> "MLPArrays":
        return cls(tuple(np.array(W, dtype=np.float64) for W in model.coefs_),
                   tuple(np.array(b, dtype=np.float64) for b in model.intercepts_),
                   str(model.activation), str(model.out_activation_))

    def write(self, group) -> None:
        group.attrs["kind"] = self.kind
        group.attrs["activation"] = self.activation
        group.attrs["out_activation"] = self.out_activation
        group.attrs["n_layers"] = len(self.coefs)
        for i, (W, b) in enumerate(zip(self.coefs, self.intercepts)):
            _write(group, f"coef_{i}", W)
            _write(group, f"intercept_{i}", b)

    @classmethod
    def read(cls, group, n_inputs: int, n_classes: int) -> "MLPArrays":
        activation = _read_text(group, "activation", HIDDEN_ACTIVATIONS)
        out = "logistic" if n_classes == 2 else "softmax"
        _read_text(group, "out_activation", (out,))
        n_layers = _read_int(group, "n_layers", minimum=1)
        coefs, intercepts, width = [], [], n_inputs
        for i in range(n_layers):
            W = _read_array(group, f"coef_{i}", ndim=2, shape=(width, None))
            width = W.shape[1]
            coefs.append(W)
            intercepts.append(_read_array(group, f"intercept_{i}", ndim=1, shape=(width,)))
        if width != _n_outputs(n_classes):
            raise InputError(f"{_where(group, f'coef_{n_layers - 1}')}: the last layer has {width} outputs, "
                             f"{_n_outputs(n_classes)} expected for {n_classes} classes")
        return cls(tuple(coefs), tuple(intercepts), activation, out)


@dataclass(frozen=True, eq=False)
class VotingArrays:
    """Soft ``VotingClassifier`` with equal weights: the mean of its members' probabilities."""

    members: tuple

    kind = "voting"

    def proba(self, X: np.ndarray) -> np.ndarray:
        return np.asarray([member.proba(X) for member in self.members]).mean(axis=0)

    @classmethod
    def from_sklearn(cls, model) -> "VotingArrays":
        if model.voting != "soft" or model.weights is not None:
            raise ValueError("only soft voting with equal weights is exported")
        return cls(tuple(_piece_from_sklearn(m) for m in model.estimators_))

    def write(self, group) -> None:
        group.attrs["kind"] = self.kind
        group.attrs["n_members"] = len(self.members)
        for i, member in enumerate(self.members):
            member.write(group.create_group(f"member_{i}"))

    @classmethod
    def read(cls, group, n_inputs: int, n_classes: int) -> "VotingArrays":
        n = _read_int(group, "n_members", minimum=1)
        return cls(tuple(_read_piece(_subgroup(group, f"member_{i}"), n_inputs, n_classes) for i in range(n)))


@dataclass(frozen=True, eq=False)
class StackingArrays:
    """``StackingClassifier`` on probabilities: base learners → concatenated probabilities → final logistic."""

    bases: tuple
    final: LogisticArrays
    n_classes: int

    kind = "stacking"

    def meta(self, X: np.ndarray) -> np.ndarray:
        blocks = [base.proba(X) for base in self.bases]
        if self.n_classes == 2:
            blocks = [p[:, 1:] for p in blocks]
        return np.hstack(blocks)

    def decision(self, X: np.ndarray) -> np.ndarray:
        return self.final.decision(self.meta(X))

    def proba(self, X: np.ndarray) -> np.ndarray:
        return self.final.proba(self.meta(X))

    @classmethod
    def from_sklearn(cls, model) -> "StackingArrays":
        if model.passthrough or any(m != "predict_proba" for m in model.stack_method_):
            raise ValueError("only stacking of probabilities without passthrough is exported")
        from sklearn.linear_model import LogisticRegression

        if not isinstance(model.final_estimator_, LogisticRegression):
            raise ValueError("only a logistic final estimator is exported")
        return cls(tuple(_piece_from_sklearn(m) for m in model.estimators_),
                   LogisticArrays.from_sklearn(model.final_estimator_), len(model.classes_))

    def write(self, group) -> None:
        group.attrs["kind"] = self.kind
        group.attrs["n_bases"] = len(self.bases)
        for i, base in enumerate(self.bases):
            base.write(group.create_group(f"base_{i}"))
        self.final.write(group.create_group("final"))

    @classmethod
    def read(cls, group, n_inputs: int, n_classes: int) -> "StackingArrays":
        n = _read_int(group, "n_bases", minimum=1)
        bases = tuple(_read_piece(_subgroup(group, f"base_{i}"), n_inputs, n_classes) for i in range(n))
        final_group = _subgroup(group, "final")
        _read_text(final_group, "kind", ("logistic",))
        final = LogisticArrays.read(final_group, n * _n_outputs(n_classes), n_classes)
        return cls(bases, final, n_classes)


_PIECES = {"logistic": LogisticArrays, "mlp": MLPArrays, "voting": VotingArrays, "stacking": StackingArrays}


def _piece_from_sklearn(model):
    from sklearn.ensemble import StackingClassifier, VotingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    for sk, piece in ((LogisticRegression, LogisticArrays), (MLPClassifier, MLPArrays),
                      (VotingClassifier, VotingArrays), (StackingClassifier, StackingArrays)):
        if isinstance(model, sk):
            return piece.from_sklearn(model)
    raise ValueError(f"no array form for {type(model).__name__}")


def _read_piece(group, n_inputs: int, n_classes: int):
    kind = _read_text(group, "kind", tuple(_PIECES))
    return _PIECES[kind].read(group, n_inputs, n_classes)


# ================================================================ calibration
@dataclass(frozen=True, eq=False)
class CalibrationArrays:
    """The calibration maps of ``CalibratedClassifierCV(ensemble=False)``.

    Attributes
    ----------
    method : {"temperature", "sigmoid", "isotonic"}
    response : {"decision_function", "predict_proba"}
        What the calibrated model's output is (its ``decision_function`` when it
        has one, else the probabilities — of the second class only with two classes).
    beta : float
        Temperature method: inverse temperature.
    a, b : (m,) arrays
        Sigmoid method: Platt's slope and offset per calibrated column
        (m = 1 with two classes, else n_classes).
    x, y : tuple of m (n_k,) arrays
        Isotonic method: the increasing thresholds and values per column.
    bounds : (m, 2) array
        Isotonic method: the range the inputs are clipped to.
    """

    method: str
    response: str
    beta: float = 1.0
    a: np.ndarray | None = None
    b: np.ndarray | None = None
    x: tuple = ()
    y: tuple = ()
    bounds: np.ndarray | None = None

    def __call__(self, raw: np.ndarray, n_classes: int) -> np.ndarray:
        """Calibrated probabilities (n, n_classes) from the model's raw output."""
        if self.method == "temperature":
            if raw.ndim == 1 and self.response == "predict_proba":
                raw = np.column_stack([1 - raw, raw])
            proba = _softmax(self.beta * self._logits(raw))
        else:
            columns = raw.reshape(-1, 1) if raw.ndim == 1 else raw
            proba = np.zeros((columns.shape[0], n_classes))
            for k in range(columns.shape[1]):
                k_out = k + 1 if n_classes == 2 else k
                proba[:, k_out] = self._map(k, columns[:, k])
            if n_classes == 2:
                proba[:, 0] = 1.0 - proba[:, 1]
            else:
                denominator = np.sum(proba, axis=1)[:, np.newaxis]
                uniform = np.full_like(proba, 1 / n_classes)
                proba = np.divide(proba, denominator, out=uniform, where=denominator != 0)
        proba[(1.0 < proba) & (proba <= 1.0 + 1e-5)] = 1.0
        return proba

    def _map(self, k: int, values: np.ndarray) -> np.ndarray:
        if self.method == "sigmoid":
            return expit(-(self.a[k] * values + self.b[k]))
        x, y = self.x[k], self.y[k]
        values = np.clip(values, self.bounds[k, 0], self.bounds[k, 1])
        if len(y) == 1:
            return np.repeat(y, values.shape)
        return np.interp(values, x, y)

    def _logits(self, raw: np.ndarray) -> np.ndarray:
        """scikit-learn's ``_convert_to_logits``: (-x, x) for binary decisions, log p for probabilities."""
        if raw.ndim == 2 and raw.shape[1] > 1:
            looks_like_proba = (np.all((raw >= 0) & (raw <= 1))
                                and np.all(np.isclose(np.sum(raw, axis=1), 1.0)))
            return np.log(raw + 1e-12) if looks_like_proba else raw
        raw = raw.reshape(-1, 1)
        return np.concatenate([-raw, raw], axis=1)

    @classmethod
    def from_sklearn(cls, calibrated, response: str) -> "CalibrationArrays":
        method = calibrated.method
        calibrators = calibrated.calibrators
        if method == "temperature":
            return cls(method, response, beta=float(np.asarray(calibrators[0].beta_).reshape(())))
        if method == "sigmoid":
            return cls(method, response, a=np.array([c.a_ for c in calibrators], dtype=np.float64),
                       b=np.array([c.b_ for c in calibrators], dtype=np.float64))
        if method == "isotonic":
            return cls(method, response,
                       x=tuple(np.array(c.X_thresholds_, dtype=np.float64) for c in calibrators),
                       y=tuple(np.array(c.y_thresholds_, dtype=np.float64) for c in calibrators),
                       bounds=np.array([[c.X_min_, c.X_max_] for c in calibrators], dtype=np.float64))
        raise ValueError(f"no array form for calibration method {method!r}")

    def write(self, group) -> None:
        group.attrs["method"] = self.method
        group.attrs["response"] = self.response
        if self.method == "temperature":
            _write(group, "beta", np.array([self.beta]))
        elif self.method == "sigmoid":
            _write(group, "a", self.a)
            _write(group, "b", self.b)
        else:
            group.attrs["n_maps"] = len(self.x)
            _write(group, "bounds", self.bounds)
            for k, (x, y) in enumerate(zip(self.x, self.y)):
                _write(group, f"x_{k}", x)
                _write(group, f"y_{k}", y)

    @classmethod
    def read(cls, group, n_classes: int) -> "CalibrationArrays":
        method = _read_text(group, "method", CALIBRATION_METHODS)
        response = _read_text(group, "response", RESPONSES)
        m = _n_outputs(n_classes)
        if method == "temperature":
            beta = _read_array(group, "beta", ndim=1, shape=(1,), positive=True)
            return cls(method, response, beta=float(beta[0]))
        if method == "sigmoid":
            return cls(method, response, a=_read_array(group, "a", ndim=1, shape=(m,)),
                       b=_read_array(group, "b", ndim=1, shape=(m,)))
        n_maps = _read_int(group, "n_maps", minimum=1)
        if n_maps != m:
            raise InputError(f"{_where(group)}: {n_maps} isotonic maps, {m} expected for {n_classes} classes")
        bounds = _read_array(group, "bounds", ndim=2, shape=(m, 2))
        xs, ys = [], []
        for k in range(m):
            x = _read_array(group, f"x_{k}", ndim=1)
            y = _read_array(group, f"y_{k}", ndim=1, shape=(len(x),))
            if len(x) == 0 or np.any(np.diff(x) <= 0):
                raise InputError(f"{_where(group, f'x_{k}')}: isotonic thresholds must be non-empty and "
                                 "strictly increasing")
            if np.any(np.diff(y) < 0) or np.any(y < 0) or np.any(y > 1):
                raise InputError(f"{_where(group, f'y_{k}')}: isotonic values must be non-decreasing in [0, 1]")
            xs.append(x)
            ys.append(y)
        return cls(method, response, x=tuple(xs), y=tuple(ys), bounds=bounds)


# ================================================================ the whole classifier
@dataclass(frozen=True, eq=False)
class ClassifierArrays:
    """A fitted classifier as arrays: scaler → model → optional calibration.

    Attributes
    ----------
    classes : (n_classes,) int array
        Sorted labels; column ``k`` of the probabilities is ``classes[k]``.
    scaler : ScalerArrays
    model : LogisticArrays, VotingArrays or StackingArrays
    calibration : CalibrationArrays, optional
    """

    classes: np.ndarray
    scaler: ScalerArrays
    model: object
    calibration: CalibrationArrays | None = None

    @property
    def n_features(self) -> int:
        return self.scaler.mean.shape[0]

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probabilities (n, n_classes); X (n, n_features), already checked by the caller."""
        Z = self.scaler(X)
        if self.calibration is None:
            return self.model.proba(Z)
        if self.calibration.response == "decision_function":
            raw = self.model.decision(Z)
        else:
            raw = self.model.proba(Z)
            if len(self.classes) == 2:
                raw = raw[:, 1]
        return self.calibration(raw, len(self.classes))

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes[np.argmax(self.predict_proba(X), axis=1)]

    def write(self, group) -> None:
        _write(group, "classes", self.classes)
        self.scaler.write(group.create_group("scaler"))
        self.model.write(group.create_group("model"))
        if self.calibration is not None:
            self.calibration.write(group.create_group("calibration"))

    @classmethod
    def read(cls, group, n_features: int) -> "ClassifierArrays":
        classes = _read_array(group, "classes", ndim=1, integer=True)
        if len(classes) < 2 or np.any(np.diff(classes) <= 0):
            raise InputError(f"{_where(group, 'classes')}: expected at least two increasing labels, "
                             f"found {classes.tolist()}")
        scaler = ScalerArrays.read(_subgroup(group, "scaler"), n_features)
        model_group = _subgroup(group, "model")
        kind = _read_text(model_group, "kind", ("logistic", "voting", "stacking"))
        model = _PIECES[kind].read(model_group, n_features, len(classes))
        calibration = None
        if "calibration" in group:
            calibration = CalibrationArrays.read(_subgroup(group, "calibration"), len(classes))
            if calibration.response == "decision_function" and not hasattr(model, "decision"):
                raise InputError(f"{_where(group, 'calibration')}: calibrated on a decision function the "
                                 f"'{kind}' model does not have")
        return cls(classes, scaler, model, calibration)


def export(estimator) -> ClassifierArrays:
    """The array form of a fitted ``Pipeline(StandardScaler, model)``, calibrated or not.

    Parameters
    ----------
    estimator : Pipeline or CalibratedClassifierCV
        ``Pipeline([("scale", StandardScaler()), ("model", clf)])`` with ``clf`` a
        ``LogisticRegression``, a soft ``VotingClassifier`` of ``MLPClassifier``s or
        a ``StackingClassifier`` of those; or a ``CalibratedClassifierCV`` of such a
        pipeline fitted with ``ensemble=False`` (one classifier, one set of maps).

    Returns
    -------
    ClassifierArrays
    """
    from sklearn.calibration import CalibratedClassifierCV

    calibration = None
    pipeline = estimator
    if isinstance(estimator, CalibratedClassifierCV):
        if len(estimator.calibrated_classifiers_) != 1:
            raise ValueError("only CalibratedClassifierCV(ensemble=False) is exported")
        calibrated = estimator.calibrated_classifiers_[0]
        pipeline = calibrated.estimator
        response = "decision_function" if hasattr(pipeline, "decision_function") else "predict_proba"
        calibration = CalibrationArrays.from_sklearn(calibrated, response)
    scaler, model = pipeline.named_steps["scale"], pipeline.named_steps["model"]
    return ClassifierArrays(
        classes=np.asarray(estimator.classes_).astype(np.int64),
        scaler=ScalerArrays(np.array(scaler.mean_, dtype=np.float64), np.array(scaler.scale_, dtype=np.float64)),
        model=_piece_from_sklearn(model),
        calibration=calibration,
    )


# ================================================================ conformal sets
def conformal_quantile(scores: np.ndarray, alpha: float) -> float:
    """Split-conformal threshold: the ⌈(n + 1)(1 − α)⌉-th smallest score (MAPIE's rule).

    Parameters
    ----------
    scores : (n,) array
        Non-conformity scores ``1 − p̂(true class)`` of the conformalisation samples.
    alpha : float
        Miscoverage, in (0, 1); needs ``n ≥ max(1/α, 1/(1 − α))`` (MAPIE's condition).
    """
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    n = len(scores)
    if not 0 < alpha < 1:
        raise InputError(f"conformal alpha must be in (0, 1), found {alpha}")
    if n < max(1 / alpha, 1 / (1 - alpha)):
        raise InputError(f"conformal alpha {alpha} needs at least {int(np.ceil(max(1 / alpha, 1 / (1 - alpha))))} "
                         f"conformalisation samples, found {n}")
    return float(np.quantile(scores, np.ceil((n + 1) * (1 - alpha)) / n, method="lower"))


@dataclass(frozen=True, eq=False)
class ConformalArrays:
    """LAC conformal sets: class ``k`` is in the set when ``1 − p_k ≤ quantile`` (+ MAPIE's 1e-8).

    Attributes
    ----------
    alpha : float
        Miscoverage the quantile was computed for.
    scores : (n,) array
        Non-conformity scores of the conformalisation samples (to recompute the
        quantile for another alpha).
    quantile : float
    """

    alpha: float
    scores: np.ndarray
    quantile: float

    def threshold(self, alpha: float | None) -> float:
        return self.quantile if alpha is None or alpha == self.alpha else conformal_quantile(self.scores, alpha)

    def sets(self, proba: np.ndarray, alpha: float | None = None) -> np.ndarray:
        """Boolean membership (n, n_classes)."""
        return np.less_equal((1 - proba) - self.threshold(alpha), CONFORMAL_EPSILON)

    def write(self, group) -> None:
        group.attrs["alpha"] = float(self.alpha)
        _write(group, "scores", self.scores)
        _write(group, "quantile", np.array([self.quantile]))

    @classmethod
    def read(cls, group) -> "ConformalArrays":
        where = _where(group)
        alpha = np.asarray(group.attrs.get("alpha", np.nan))
        if alpha.shape != () or alpha.dtype.kind != "f" or not 0 < float(alpha) < 1:
            raise InputError(f"{where}: attribute 'alpha' should be a number in (0, 1), found {alpha!r}")
        scores = _read_array(group, "scores", ndim=1)
        quantile = _read_array(group, "quantile", ndim=1, shape=(1,))
        if np.any(scores < -1e-12) or np.any(scores > 1 + 1e-12):
            raise InputError(f"{_where(group, 'scores')}: non-conformity scores 1 - p must lie in [0, 1]")
        expected = conformal_quantile(scores, float(alpha))
        if quantile[0] != expected:
            raise InputError(f"{_where(group, 'quantile')}: {quantile[0]} is not the conformal quantile "
                             f"{expected} of the stored scores at alpha {float(alpha)}")
        return cls(float(alpha), scores, float(quantile[0]))
