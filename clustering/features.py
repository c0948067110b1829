"""Features of the load description for ROM-net's classifier — the same code offline and online.

ROM-net routes a load case to a local reduced-order model before any solve, so its
classifier sees only what describes the load: the temperature field, the rotation
speeds, the pressure levels. This module turns a :class:`io_adapters.problem.Problem`
into those numbers (:func:`problem_features` → :class:`LoadDescription`,
:func:`stack_loads`), and the temperature fields into a few features
(:class:`TemperatureFeatures`, fit on the training loads, applied unchanged online):

- ``sampling="pod"``: the coordinates of the centred fields on the first
  ``n_components`` POD modes of the training fields (Euclidean nodal inner product);
- ``sampling="qdeim"``: the centred fields' values at the ``n_components`` QDEIM
  points of that POD basis (:func:`rom.gappy.gappy_points`, pivoted QR) — a few
  "sensors" a user can read on the mesh.

Either block is divided by one number, the standard deviation of the training
fields' first POD coordinate, so that the leading direction has unit spread and the
others keep their relative weight (a per-feature standardisation would inflate
the noise of the trailing modes). The optional scalar load parameters are appended,
each standardised over the training loads (a constant one keeps scale 1).
:class:`clustering.romnet.RomNet` standardises its inputs again; the scaling here
makes the features usable by distance-based methods as well.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from io_adapters.errors import ConfigError, InputError
from io_adapters.problem import Problem

from clustering.classifier_arrays import _read_array, _read_int, _read_text, _where

log = logging.getLogger(__name__)

__all__ = ["LoadDescription", "TemperatureFeatures", "problem_features", "stack_loads"]

SAMPLINGS = ("pod", "qdeim")
FORMAT_NAME = "nirom-load-features"
FORMAT_VERSION = 1


# ================================================================ raw load description
@dataclass(frozen=True, eq=False)
class LoadDescription:
    """What describes one load case, before any solve.

    Attributes
    ----------
    times : (n_times,) array
        The times the description is taken at.
    temperature : (n_times, n_nodes) array or None
        Nodal temperatures at those times (None when the problem has none).
    scalars : (n_scalars,) array
        Rotation speeds and mean pressures at those times, named by ``scalar_names``.
    scalar_names : tuple of str
        ``"omega:<cell set>@<i>"`` (ω × table at time ``i``) per centrifugal load,
        ``"pressure:<face set>@<i>"`` (mean of the values × table) per pressure;
        ``#k`` is appended to the second and later loads on the same set.
    source : str
        The problem's file, for messages.
    """

    times: np.ndarray
    temperature: np.ndarray | None
    scalars: np.ndarray
    scalar_names: tuple[str, ...]
    source: str = "<python>"


def peak_temperature_time(problem: Problem) -> float:
    """The time of ``problem.times`` with the largest Euclidean norm of the nodal temperature."""
    if problem.temperature is None:
        raise InputError(f"{problem.source}: the problem has no temperature")
    norms = np.linalg.norm(problem.temperature.at(problem.times), axis=1)
    return float(problem.times[int(np.argmax(norms))])


def problem_features(problem: Problem, *, times=None) -> LoadDescription:
    """The raw load description of a problem (the same call for training and online).

    Parameters
    ----------
    problem : Problem
    times : float or (n_times,) array, optional
        When to read the loads. Default: the time of the largest temperature norm
        (:func:`peak_temperature_time`), or the last time without temperature.

    Returns
    -------
    LoadDescription
    """
    if times is None:
        times = peak_temperature_time(problem) if problem.temperature is not None else problem.times[-1]
    times = np.atleast_1d(np.asarray(times, dtype=np.float64))
    if times.ndim != 1 or times.size == 0 or not np.all(np.isfinite(times)):
        raise InputError(f"{problem.source}: load times must be a non-empty list of finite numbers, found {times}")
    temperature = None if problem.temperature is None else np.atleast_2d(problem.temperature.at(times))
    names, values = [], []
    seen: dict[str, int] = {}

    def name_of(kind: str, where: str) -> str:
        key = f"{kind}:{where}"
        seen[key] = seen.get(key, 0) + 1
        return key if seen[key] == 1 else f"{key}#{seen[key]}"

    for load in problem.centrifugal:
        base = name_of("omega", load.cell_set or "ALL_ELEMENT")
        factor = np.atleast_1d(problem.factor(load.table, times))
        names += [f"{base}@{i}" for i in range(len(times))]
        values.append(load.omega * factor)
    for load in problem.pressures:
        base = name_of("pressure", load.face_set)
        factor = np.atleast_1d(problem.factor(load.table, times))
        names += [f"{base}@{i}" for i in range(len(times))]
        values.append(float(np.mean(load.values)) * factor)
    scalars = np.concatenate(values) if values else np.zeros(0)
    return LoadDescription(times, temperature, scalars.astype(np.float64), tuple(names), problem.source)


def stack_loads(descriptions: Sequence[LoadDescription]) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """The training (or online) matrices of several load descriptions.

    Returns
    -------
    temperatures : (n_samples, n_times * n_nodes) array
        Each description's temperature fields, time-major.
    scalars : (n_samples, n_scalars) array
    scalar_names : tuple of str
        The same for every description (checked).
    """
    descriptions = list(descriptions)
    if not descriptions:
        raise InputError("stack_loads: no load description given")
    first = descriptions[0]
    for d in descriptions:
        if d.temperature is None:
            raise InputError(f"{d.source}: the problem has no temperature, the features need one")
        if d.temperature.shape != first.temperature.shape:
            raise InputError(f"{d.source}: temperature of shape (n_times, n_nodes) = {d.temperature.shape}, "
                             f"but {first.source} has {first.temperature.shape} (same mesh and number of times?)")
        if d.scalar_names != first.scalar_names:
            raise InputError(f"{d.source}: load parameters {list(d.scalar_names)} differ from those of "
                             f"{first.source}: {list(first.scalar_names)}")
    temperatures = np.stack([d.temperature.reshape(-1) for d in descriptions])
    scalars = np.stack([d.scalars for d in descriptions])
    return temperatures, scalars, first.scalar_names


# ================================================================ features
def _matrix(values, what: str, *, width: int | None = None, trained: str = "") -> np.ndarray:
    try:
        A = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{what}: expected numbers, found {type(values).__name__}") from None
    if A.ndim == 1 and width is not None and A.shape[0] == width:
        A = A[np.newaxis, :]
    if A.ndim != 2:
        raise InputError(f"{what}: expected shape (n_samples, n_values), found {A.shape}")
    if width is not None and A.shape[1] != width:
        raise InputError(f"{what}: {A.shape[1]} value(s) per sample, but the features were trained on {width}"
                         f"{trained}")
    if not np.all(np.isfinite(A)):
        row, col = np.argwhere(~np.isfinite(A))[0]
        raise InputError(f"{what}: non-finite value {A[row, col]} in sample {row}, column {col}")
    return A


class TemperatureFeatures:
    """Load features from nodal temperature fields (+ standardised scalar load parameters).

    Parameters
    ----------
    n_components : int
        POD modes (``"pod"``) or QDEIM points (``"qdeim"``) kept; at most
        ``min(n_samples - 1, n_values)`` of the training fields.
    sampling : {"pod", "qdeim"}

    Attributes
    ----------
    mean_ : (n_values,) array
        Mean training field (n_values = n_times × n_nodes).
    modes_ : (n_components, n_values) array
        Orthonormal POD modes of the centred training fields.
    singular_values_ : (min(n_samples, n_values),) array
    points_ : (n_components,) int array
        QDEIM points (``"qdeim"`` only; else empty).
    temperature_scale_ : float
        Spread of the first POD coordinate the temperature block is divided by.
    scalar_mean_, scalar_scale_ : (n_scalars,) arrays
    scalar_names_ : tuple of str
    n_features_ : int
        ``n_components + n_scalars``.
    """

    def __init__(self, n_components: int = 5, *, sampling: str = "pod"):
        if int(n_components) != n_components or n_components < 1:
            raise ConfigError(f"TemperatureFeatures: n_components must be a positive integer, found {n_components!r}")
        if sampling not in SAMPLINGS:
            raise ConfigError(f"TemperatureFeatures: sampling must be one of {list(SAMPLINGS)}, found {sampling!r}")
        self.n_components = int(n_components)
        self.sampling = sampling
        self.mean_: np.ndarray | None = None

    # ------------------------------------------------------------ fit / transform
    def fit(self, temperatures, scalars=None, *, scalar_names: Sequence[str] | None = None) -> "TemperatureFeatures":
        """Learn the mean field, the POD modes (and QDEIM points) and the scalar scaling.

        Parameters
        ----------
        temperatures : (n_samples, n_values) array
            One nodal field (or several times, concatenated) per training load.
        scalars : (n_samples, n_scalars) array, optional
            Scalar load parameters (rotation speeds, pressures…).
        scalar_names : sequence of str, optional
            Their names (checked by :meth:`transform_loads`).
        """
        T = _matrix(temperatures, "temperatures")
        n_samples, n_values = T.shape
        limit = min(n_samples - 1, n_values)
        if self.n_components > limit:
            raise InputError(f"temperatures: {n_samples} training fields of {n_values} values give at most {limit} "
                             f"centred POD modes, {self.n_components} requested (lower n_components)")
        S = self._scalars_for_fit(scalars, n_samples)
        self.mean_ = T.mean(axis=0)
        _, sigma, Vt = np.linalg.svd(T - self.mean_, full_matrices=False)
        self.singular_values_ = sigma
        self.modes_ = Vt[:self.n_components].copy()
        if sigma[self.n_components - 1] <= 1e-12 * max(sigma[0], np.finfo(float).tiny):
            log.warning("TemperatureFeatures: POD mode %d of the training temperatures carries no variance "
                        "(singular value %.2e vs %.2e); fewer components would do",
                        self.n_components, sigma[self.n_components - 1], sigma[0])
        if self.sampling == "qdeim":
            from rom.gappy import gappy_points

            self.points_ = np.asarray(gappy_points(self.modes_, n_components=1), dtype=np.int64)
            if len(self.points_) != self.n_components:
                raise InputError(f"temperatures: QDEIM found {len(self.points_)} points for {self.n_components} "
                                 "POD modes (modes without variance? lower n_components)")
        else:
            self.points_ = np.zeros(0, dtype=np.int64)
        spread = sigma[0] / np.sqrt(max(n_samples - 1, 1))
        self.temperature_scale_ = float(spread) if spread > 0 else 1.0
        self.scalar_mean_ = S.mean(axis=0)
        std = S.std(axis=0)
        self.scalar_scale_ = np.where(std > 0, std, 1.0)
        names = tuple(scalar_names) if scalar_names is not None else tuple(f"scalar_{j}" for j in range(S.shape[1]))
        if len(names) != S.shape[1]:
            raise InputError(f"scalar_names: {len(names)} name(s) for {S.shape[1]} scalar column(s)")
        self.scalar_names_ = names
        self.n_values_ = n_values
        return self

    def _scalars_for_fit(self, scalars, n_samples: int) -> np.ndarray:
        if scalars is None:
            return np.zeros((n_samples, 0))
        S = _matrix(scalars, "scalars")
        if S.shape[0] != n_samples:
            raise InputError(f"scalars: {S.shape[0]} rows for {n_samples} temperature fields")
        return S

    @property
    def n_features_(self) -> int:
        self._fitted()
        return self.n_components + len(self.scalar_names_)

    def _fitted(self) -> None:
        if self.mean_ is None:
            raise InputError("TemperatureFeatures: not fitted (call fit or load first)")

    def transform(self, temperatures, scalars=None) -> np.ndarray:
        """Features of some loads, (n_samples, n_features): the temperature block, then the scalars.

        Raises
        ------
        InputError
            Fields of another size than in training, missing or extra scalars, NaN.
        """
        self._fitted()
        T = _matrix(temperatures, "temperatures", width=self.n_values_,
                    trained=" (same mesh and load times as in training?)")
        n_scalars = len(self.scalar_names_)
        if n_scalars and scalars is None:
            raise InputError(f"scalars: the features were trained with {n_scalars} scalar load parameter(s) "
                             f"{list(self.scalar_names_)}, none given")
        if scalars is None:
            S = np.zeros((T.shape[0], 0))
        else:
            S = _matrix(scalars, "scalars", width=n_scalars, trained=f" ({list(self.scalar_names_)})")
            if S.shape[0] != T.shape[0]:
                raise InputError(f"scalars: {S.shape[0]} rows for {T.shape[0]} temperature fields")
        if self.sampling == "pod":
            block = (T - self.mean_) @ self.modes_.T
        else:
            block = T[:, self.points_] - self.mean_[self.points_]
        return np.hstack([block / self.temperature_scale_, (S - self.scalar_mean_) / self.scalar_scale_])

    def fit_transform(self, temperatures, scalars=None, *, scalar_names=None) -> np.ndarray:
        return self.fit(temperatures, scalars, scalar_names=scalar_names).transform(temperatures, scalars)

    def fit_loads(self, descriptions: Sequence[LoadDescription]) -> "TemperatureFeatures":
        """:meth:`fit` on :func:`problem_features` of the training problems."""
        temperatures, scalars, names = stack_loads(descriptions)
        return self.fit(temperatures, scalars, scalar_names=names)

    def transform_loads(self, descriptions: Sequence[LoadDescription]) -> np.ndarray:
        """:meth:`transform` of :func:`problem_features` of some problems (the training parameters, checked)."""
        self._fitted()
        temperatures, scalars, names = stack_loads(descriptions)
        if names != self.scalar_names_:
            raise InputError(f"{descriptions[0].source}: load parameters {list(names)}, the features were trained "
                             f"on {list(self.scalar_names_)}")
        return self.transform(temperatures, scalars if names else None)

    # ------------------------------------------------------------ persistence
    def save(self, group) -> None:
        """Write the learned arrays into an HDF5 group (numeric datasets, string attributes)."""
        self._fitted()
        group.attrs["format"] = FORMAT_NAME
        group.attrs["format_version"] = FORMAT_VERSION
        group.attrs["sampling"] = self.sampling
        group.attrs["n_components"] = self.n_components
        group.attrs["scalar_names"] = list(self.scalar_names_) if self.scalar_names_ else []
        group.attrs["n_scalars"] = len(self.scalar_names_)
        group.create_dataset("mean", data=self.mean_)
        group.create_dataset("modes", data=self.modes_)
        group.create_dataset("singular_values", data=self.singular_values_)
        group.create_dataset("points", data=self.points_)
        group.create_dataset("temperature_scale", data=np.array([self.temperature_scale_]))
        group.create_dataset("scalar_mean", data=self.scalar_mean_)
        group.create_dataset("scalar_scale", data=self.scalar_scale_)

    @classmethod
    def load(cls, group) -> "TemperatureFeatures":
        """The features :meth:`save` wrote, every array checked (InputError naming the dataset)."""
        where = _where(group)
        if group.attrs.get("format") != FORMAT_NAME:
            raise InputError(f"{where}: not load features written by nirom (format {group.attrs.get('format')!r})")
        if _read_int(group, "format_version", minimum=1) > FORMAT_VERSION:
            raise InputError(f"{where}: load-features format version newer than {FORMAT_VERSION}")
        sampling = _read_text(group, "sampling", SAMPLINGS)
        n_components = _read_int(group, "n_components", minimum=1)
        n_scalars = _read_int(group, "n_scalars", minimum=0)
        stored = np.atleast_1d(group.attrs.get("scalar_names", []))
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in stored]
        if len(names) != n_scalars:
            raise InputError(f"{where}: {len(names)} scalar name(s) for {n_scalars} scalar(s)")
        features = cls(n_components, sampling=sampling)
        features.mean_ = _read_array(group, "mean", ndim=1)
        n_values = features.mean_.shape[0]
        features.modes_ = _read_array(group, "modes", ndim=2, shape=(n_components, n_values))
        features.singular_values_ = _read_array(group, "singular_values", ndim=1)
        n_points = n_components if sampling == "qdeim" else 0
        features.points_ = _read_array(group, "points", ndim=1, shape=(n_points,), integer=True)
        if np.any(features.points_ < 0) or np.any(features.points_ >= n_values):
            raise InputError(f"{_where(group, 'points')}: point indices outside [0, {n_values})")
        features.temperature_scale_ = float(_read_array(group, "temperature_scale", ndim=1, shape=(1,),
                                                        positive=True)[0])
        features.scalar_mean_ = _read_array(group, "scalar_mean", ndim=1, shape=(n_scalars,))
        features.scalar_scale_ = _read_array(group, "scalar_scale", ndim=1, shape=(n_scalars,), positive=True)
        features.scalar_names_ = tuple(names)
        features.n_values_ = n_values
        return features
