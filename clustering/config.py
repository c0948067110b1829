"""The clustering stage's configuration: ``nirom cluster cluster.toml`` (the same keys in a dict).

Example (``cluster.toml``)::

    problem = "problem.toml"          # laws and loads the local models pre-reduce (as offline)
    output = "dictionary.h5"
    report = "dictionary_report.md"   # default: <output stem>_report.md (+ PNG figures)

    [[training]]                      # one table per training run: its results and its loading
    store = "runs/run_000.h5"
    problem = "runs/run_000.toml"
    [[training]]
    store = "runs/run_001.h5"
    problem = "runs/run_001.toml"

    [clustering]
    n_clusters = 3
    dissimilarity = "grassmann"       # chordal, projection, binet_cauchy, angle, euclidean
    rank = 5                          # POD rank of each run's subspace (subspace dissimilarities)
    overlap = 0.1                     # share of nearest outside runs added to each cluster
    random_state = 0

    [features]
    n_components = 5                  # POD coefficients (or QDEIM values) of the temperature
    sampling = "pod"                  # or "qdeim"

    [classifier]
    candidates = ["logistic", "mlp_ensemble", "stacking"]
    cv = 5
    conformal_alpha = 0.1

    # the local models: the offline stage's tables
    [pod.U]
    tol = 1e-6
    [pod.evrcum]
    tol = 1e-6
    [ecm]
    tol = 1e-5
    [indicator]
    field = "evrcum"
    tol = 1e-3

Relative paths are relative to the TOML file's folder (or ``base_dir`` for a dict).
Every problem is reported at once, in one :class:`ConfigError` with its key path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from io_adapters.errors import ConfigError
from io_adapters.toml_file import read_toml

from rom.settings import Settings, option, problems_error, settings_from

__all__ = ["ClassifierSettings", "ClusterConfig", "ClusteringSettings", "FeatureSettings", "TrainingRun"]

DISSIMILARITIES = ("grassmann", "chordal", "projection", "binet_cauchy", "angle", "euclidean")
CANDIDATES = ("logistic", "mlp_ensemble", "stacking")


def _one_of(choices):
    def check(value) -> str | None:
        return None if value in choices else f"must be one of {', '.join(choices)}"
    return check


def _candidates(value) -> str | None:
    unknown = [c for c in value if c not in CANDIDATES]
    if not value:
        return "must name at least one classifier"
    return f"names unknown classifiers {unknown} (known: {', '.join(CANDIDATES)})" if unknown else None


def _positive_integer(value) -> str | None:
    return None if value >= 1 else "must be a positive integer"


def _share(value) -> str | None:
    return None if 0 <= value < 1 else "must be in [0, 1)"


def _open_unit(value) -> str | None:
    return None if 0 < value < 1 else "must be in (0, 1)"


@dataclass(frozen=True)
class ClusteringSettings(Settings):
    """``[clustering]``: how the training runs are grouped.

    Attributes
    ----------
    n_clusters : int
        K, the number of local models.
    dissimilarity : str
        Between runs: ``grassmann``, ``chordal``, ``projection``, ``binet_cauchy``
        (principal angles of their POD subspaces of rank ``rank``); ``angle`` (sine of
        the angle between snapshots, in the mass inner product) and ``euclidean``
        (k-means on snapshots, the classic baseline) cluster the snapshots and give each
        run the cluster of most of its snapshots.
    rank : int
        POD rank of each run's subspace (subspace dissimilarities).
    overlap : float
        Share of each cluster's size added from its nearest outside runs.
    random_state : int
    """

    n_clusters: int = option(what="the number of local models", check=_positive_integer)
    dissimilarity: str = option("grassmann", check=_one_of(DISSIMILARITIES))
    rank: int = option(5, check=_positive_integer)
    overlap: float = option(0.0, check=_share)
    random_state: int = option(0)


@dataclass(frozen=True)
class FeatureSettings(Settings):
    """``[features]``: the load features the classifier reads (:class:`clustering.features.TemperatureFeatures`)."""

    n_components: int = option(5, check=_positive_integer)
    sampling: str = option("pod", check=_one_of(("pod", "qdeim")))


@dataclass(frozen=True)
class ClassifierSettings(Settings):
    """``[classifier]``: ROM-net's candidates and their selection (:class:`clustering.romnet.RomNet`)."""

    candidates: tuple[str, ...] = option(CANDIDATES, check=_candidates)
    cv: int = option(5, check=_positive_integer)
    conformal_alpha: float = option(0.1, check=_open_unit)
    random_state: int = option(0)


@dataclass(frozen=True)
class TrainingRun:
    """``[[training]]``: one training run: its results and the loading it solved.

    Attributes
    ----------
    store : Path
        The run's results (a store or any format nirom reads).
    problem : Path or io_adapters.Problem
        The loading the run solved (TOML problem or Zset deck; a Problem from Python).
    """

    store: Path
    problem: object


def _training_run(table, i: int, resolve, errors: list[str]) -> TrainingRun | None:
    where = f"[[training]] {i}"
    if not isinstance(table, dict):
        errors.append(f"{where} must be a table with 'store' and 'problem', found {table!r}")
        return None
    problems = [f"{where}: unknown key '{k}' (known: problem, store)" for k in table if k not in ("store", "problem")]
    store, problem = table.get("store"), table.get("problem")
    if not isinstance(store, (str, os.PathLike)):
        problems.append(f"{where}: 'store' must be the path of the run's results, found {store!r}")
    elif not resolve(store).exists():
        problems.append(f"{where}: store {resolve(store)} does not exist")
    if isinstance(problem, (str, os.PathLike)):
        if not resolve(problem).exists():
            problems.append(f"{where}: problem {resolve(problem)} does not exist")
        else:
            problem = resolve(problem)
    elif not hasattr(problem, "mesh"):
        problems.append(f"{where}: 'problem' must be the path of the loading the run solved, found {problem!r}")
    errors += problems
    return None if problems else TrainingRun(resolve(store), problem)


@dataclass(frozen=True)
class ClusterConfig:
    """A validated clustering configuration (paths resolved).

    Attributes
    ----------
    training : tuple of TrainingRun
    problem : Path or Problem
        Laws and loads of the local models (the offline stage's ``problem``).
    output, report : Path or None
    clustering : ClusteringSettings
    features : FeatureSettings
    classifier : ClassifierSettings
    offline : dict
        The offline stage's tables of the local models (``pod``, ``ecm``, ``indicator``,
        ``rule``, ``stress_field``), checked by :class:`rom.offline_config.OfflineConfig`.
    source : str
    """

    training: tuple
    problem: object
    output: Path | None
    report: Path | None
    clustering: ClusteringSettings
    features: FeatureSettings
    classifier: ClassifierSettings
    offline: dict
    source: str = "<dict>"

    @classmethod
    def load(cls, source) -> "ClusterConfig":
        """From a TOML path, a dict, or a ClusterConfig."""
        if isinstance(source, ClusterConfig):
            return source
        if isinstance(source, (str, os.PathLike)):
            path = Path(source)
            return cls.from_dict(read_toml(path, "clustering configuration"), base_dir=path.parent,
                                 source=str(path))
        if isinstance(source, dict):
            return cls.from_dict(source, base_dir=Path(source.get("base_dir", ".")), source="<dict>")
        raise ConfigError(f"a clustering configuration is a TOML path or a dict, found {type(source).__name__}")

    @classmethod
    def from_dict(cls, data: dict, *, base_dir: Path, source: str) -> "ClusterConfig":
        from rom.offline_config import OfflineConfig

        errors: list[str] = []
        known = {"training", "problem", "output", "report", "clustering", "features", "classifier", "pod", "ecm",
                 "indicator", "rule", "stress_field", "base_dir"}
        errors += [f"unknown key '{k}' (known: {', '.join(sorted(known))})" for k in data if k not in known]

        def resolve(value):
            p = Path(value)
            return p if p.is_absolute() else base_dir / p

        training = data.get("training")
        runs = []
        if not isinstance(training, list) or not training:
            errors.append("'training' must be a list of tables [[training]] with 'store' and 'problem'")
        else:
            for i, table in enumerate(training):
                run = _training_run(table, i, resolve, errors)
                if run is not None:
                    runs.append(run)
        problem = data.get("problem")
        if problem is None:
            errors.append("'problem' is required (the laws and loads of the local models)")
        elif isinstance(problem, (str, os.PathLike)):
            problem = resolve(problem)
            if not problem.exists():
                errors.append(f"problem file {problem} does not exist")
        elif not hasattr(problem, "mesh"):
            errors.append(f"'problem' must be a file path (or a Problem), found {problem!r}")
        clustering = settings_from(ClusteringSettings, data.get("clustering", {}), where="[clustering]",
                                   errors=errors)
        features = settings_from(FeatureSettings, data.get("features", {}), where="[features]", errors=errors)
        classifier = settings_from(ClassifierSettings, data.get("classifier", {}), where="[classifier]",
                                   errors=errors)
        if clustering is not None and runs and clustering.n_clusters > len(runs):
            errors.append(f"[clustering] n_clusters = {clustering.n_clusters} is larger than the number of training "
                          f"runs ({len(runs)})")
        for key in ("output", "report"):
            if key in data and not isinstance(data[key], (str, os.PathLike)):
                errors.append(f"'{key}' must be a file path, found {data[key]!r}")
        offline = {k: data[k] for k in ("pod", "ecm", "indicator", "rule", "stress_field") if k in data}
        if runs and problem is not None and not errors:
            try:      # the local models' tables, checked by the offline stage's own reader
                OfflineConfig.from_dict({"training": [str(r.store) for r in runs], "problem": problem, **offline},
                                        base_dir=base_dir, source=source)
            except ConfigError as exc:
                errors.append(str(exc).replace(f"{source}: ", ""))
        if errors:
            raise problems_error(errors, source=source)
        output = resolve(data["output"]) if data.get("output") else None
        report = resolve(data["report"]) if data.get("report") else (
            output.with_name(output.stem + "_report.md") if output else None)
        return cls(training=tuple(runs), problem=problem, output=output, report=report, clustering=clustering,
                   features=features, classifier=classifier, offline=offline, source=source)
