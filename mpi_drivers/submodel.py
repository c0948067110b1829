"""``mpiexec -n P nirom submodel offline|mc submodel.toml``: the stochastic submodel's ROM and Monte Carlo.

``offline`` solves the submodel with the HF dynamic solver for the first ``n_train``
training traces of a traces file (the global model's boundary traces, transferred on
the submodel boundary; each rank its share), builds the submodel's reduced model from
these runs (:func:`rom.submodel_mc.train_submodel_rom`, collective) and saves it.

``mc`` draws ``[samples] n`` boundary traces from a generator file (WGAN-GP, Gaussian or
bootstrap, :func:`rom.bc_generator.load_generator`, checked against the submodel's
boundary nodes and times), in batches of ``batch`` samples; batch ``b`` is drawn with
the seed ``SeedSequence([seed, b])`` by rank ``b mod P``, so the samples — and the
results — do not depend on the rank count. Each sample is solved by the submodel ROM
(``[solver] kind = "rom"``: one reduced dynamic solve) or the HF dynamic solver
(``"hf"``); its QoI is the peak von Mises stress of the submodel. Rank 0 gathers the
QoI and writes, only once everything is solved (nothing is half-written):

- ``output`` (HDF5, ``nirom-submodel-mc``): the QoI of each sample, its solve time, the
  statistics (JSON attribute);
- ``<output>.run.json``: the run record (configuration, inputs' checksums);
- ``<output stem>_convergence.png``: running mean, standard deviation and quantiles with
  their confidence bands, the held-out global FE statistics beside them when
  ``[reference]`` is given;
- ``<output stem>_report.md``: the statistics table, the comparison with the reference,
  the timings.

Configuration (``submodel.toml``; relative paths from its folder)::

    problem = "data/submodel.toml"        # the submodel problem (zone mesh, boundary set, material, times)
    boundary = "submodel_boundary"        # its node set the generator drives
    generator = "data/wgan.h5"            # any generator file of rom.bc_generator
    output = "results/mc.h5"              # the Monte Carlo results (QoI per sample, statistics)
    report = "results/mc_report.md"       # default: <output stem>_report.md

    [samples]
    n = 200
    seed = 1
    batch = 10

    [solver]
    kind = "rom"                          # or "hf"
    model = "data/submodel_rom.h5"        # kind = "rom" (written by `nirom submodel offline`)

    [dynamics]
    scheme = "newmark"                    # or "generalized_alpha" (rho_inf)
    beta = 0.25
    gamma = 0.5

    [statistics]
    confidence = 0.95
    quantiles = [0.5, 0.95]
    method = "exact"                      # or "bootstrap"

    [reference]                           # optional: the global FE QoI of held-out samples
    traces = "data/traces.h5"
    selection = "held_out"

    [offline]                             # `nirom submodel offline`
    traces = "data/traces.h5"
    n_train = 12
    runs = "data/submodel_runs"
    pod_tol = 1e-4
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from io_adapters.errors import ConfigError, InputError
from io_adapters.toml_file import read_toml

from rom.settings import Settings, option, problems_error, settings_from

log = logging.getLogger("nirom")

__all__ = ["SubmodelConfig", "effective_configuration", "run_mc", "run_offline"]

FORMAT_NAME = "nirom-submodel-mc"
FORMAT_VERSION = 1


def _one_of(choices):
    def check(value) -> str | None:
        return None if value in choices else f"must be one of {', '.join(choices)}"
    return check


def _positive_integer(value) -> str | None:
    return None if value >= 1 else "must be a positive integer"


def _non_negative(value) -> str | None:
    return None if value >= 0 else "must be non-negative"


def _open_unit(value) -> str | None:
    return None if 0 < value < 1 else "must be in (0, 1)"


def _unit_from_zero(value) -> str | None:
    return None if 0 <= value < 1 else "must be in [0, 1)"


def _probabilities(value) -> str | None:
    return None if value and all(0 < p < 1 for p in value) else "must be a non-empty list of numbers in (0, 1)"


@dataclass(frozen=True)
class SampleSettings(Settings):
    """``[samples]``: how many traces are drawn, and how.

    Attributes
    ----------
    n : int
        Monte Carlo samples (≥ 2).
    seed : int
        Batch ``b`` is drawn with ``SeedSequence([seed, b])``.
    batch : int
        Samples per batch (the unit of work of a rank).
    """

    n: int = option(200, check=lambda v: None if v >= 2 else "must be at least 2")
    seed: int = option(0, check=_non_negative)
    batch: int = option(10, check=_positive_integer)


@dataclass(frozen=True)
class SolverChoice(Settings):
    """``[solver]``: ``kind = "rom"`` (the submodel ROM in ``model``) or ``"hf"`` (the HF dynamic solver).

    Attributes
    ----------
    kind : str
        ``"rom"``: each sample is one reduced dynamic solve (a linear elastic submodel takes
        the linear path: constant reduced matrices, milliseconds per sample); ``"hf"``: the
        HF dynamic solver on the submodel mesh.
    model : path
        The submodel's reduced model (read by ``mc`` with ``kind = "rom"``, written by
        ``offline``).
    """

    kind: str = option("rom", check=_one_of(("rom", "hf")))
    model: Path | None = option(None)


@dataclass(frozen=True)
class DynamicsSettings(Settings):
    """``[dynamics]``: the time scheme (the training runs' and the global model's).

    ``scheme = "newmark"`` with ``beta``, ``gamma`` (average acceleration by default) or
    ``"generalized_alpha"`` with ``rho_inf`` in [0, 1].

    Attributes
    ----------
    scheme : str
        ``"newmark"`` or ``"generalized_alpha"``.
    beta, gamma : float
        Newmark's parameters (``2β ≥ γ ≥ 1/2``: unconditionally stable).
    rho_inf : float
        Generalized-α's spectral radius at infinity, in [0, 1].
    """

    scheme: str = option("newmark", check=_one_of(("newmark", "generalized_alpha")))
    beta: float = option(0.25)
    gamma: float = option(0.5)
    rho_inf: float = option(1.0)

    def build(self):
        """The :mod:`rom.hifi.dynamics` scheme object (its own checks: ConfigError)."""
        from rom.hifi.dynamics import GeneralizedAlphaSettings, NewmarkSettings

        if self.scheme == "newmark":
            return NewmarkSettings(beta=self.beta, gamma=self.gamma)
        return GeneralizedAlphaSettings(rho_inf=self.rho_inf)


@dataclass(frozen=True)
class StatisticsSettings(Settings):
    """``[statistics]``: intervals of :func:`rom.mc_statistics.summary`.

    Attributes
    ----------
    confidence : float
        Level of every interval, in (0, 1).
    quantiles : list of float
        Quantiles estimated, each in (0, 1).
    method : str
        ``"exact"`` (Student, χ², order statistics) or ``"bootstrap"`` (BCa for the standard
        deviation and the quantiles).
    n_resamples : int
        Bootstrap resamples.
    """

    confidence: float = option(0.95, check=_open_unit)
    quantiles: tuple[float, ...] = option((0.5, 0.95), check=_probabilities)
    method: str = option("exact", check=_one_of(("exact", "bootstrap")))
    n_resamples: int = option(2000, check=_positive_integer)


@dataclass(frozen=True)
class ReferenceSettings(Settings):
    """``[reference]``: global FE QoI to compare with (a traces file and which of its samples).

    Attributes
    ----------
    traces : path
        The traces file holding the global model's QoI.
    selection : str
        ``"held_out"``, ``"training"`` or ``"all"`` of its samples.
    """

    traces: Path = option(what="the traces file holding the global model's QoI")
    selection: str = option("held_out", check=_one_of(("held_out", "training", "all")))


@dataclass(frozen=True)
class OfflineSettings(Settings):
    """``[offline]``: the submodel ROM (``nirom submodel offline``), written to ``[solver] model``.

    Attributes
    ----------
    traces : path
        The traces file of the global FE samples.
    n_train : int
        HF submodel runs, driven by its first ``n_train`` training traces.
    runs : path
        Folder of those runs' stores.
    pod_tol : float
        POD tolerance of ``U`` and ``sig``.
    ecm_tol : float
        ECM tolerance.
    stress_tol : float
        Truncation of the stress POD whose integrands the ECM fits.
    """

    traces: Path = option(what="the traces file of the global FE samples")
    n_train: int = option(12, check=_positive_integer)
    runs: Path = option(Path("submodel_runs"))
    pod_tol: float = option(1e-4, check=_open_unit)
    ecm_tol: float = option(1e-4, check=_open_unit)
    stress_tol: float = option(1e-4, check=_unit_from_zero)


_TABLES = {"samples": SampleSettings, "solver": SolverChoice, "dynamics": DynamicsSettings,
           "statistics": StatisticsSettings, "reference": ReferenceSettings, "offline": OfflineSettings}


@dataclass(frozen=True)
class SubmodelConfig:
    """A validated ``submodel.toml`` (paths resolved from its folder)."""

    problem: Path
    boundary: str
    generator: Path | None
    output: Path | None
    report: Path | None
    samples: SampleSettings
    solver: SolverChoice
    dynamics: DynamicsSettings
    statistics: StatisticsSettings
    reference: ReferenceSettings | None
    offline: OfflineSettings | None
    source: str = "<dict>"

    @classmethod
    def load(cls, source) -> "SubmodelConfig":
        """From a TOML path, a dict (``base_dir`` key for relative paths) or a SubmodelConfig."""
        if isinstance(source, SubmodelConfig):
            return source
        if isinstance(source, (str, os.PathLike)):
            path = Path(source)
            return cls.from_dict(read_toml(path, "submodel configuration"), base_dir=path.parent, source=str(path))
        if isinstance(source, dict):
            return cls.from_dict(source, base_dir=Path(source.get("base_dir", ".")), source="<dict>")
        raise ConfigError(f"a submodel configuration is a TOML path or a dict, found {type(source).__name__}")

    @classmethod
    def from_dict(cls, data: dict, *, base_dir: Path, source: str) -> "SubmodelConfig":
        errors: list[str] = []
        known = {"problem", "boundary", "generator", "output", "report", "base_dir", *_TABLES}
        errors += [f"unknown key '{k}' (known: {', '.join(sorted(known - {'base_dir'}))})" for k in data
                   if k not in known]

        def resolve(value):
            p = Path(value)
            return p if p.is_absolute() else Path(base_dir) / p

        paths = {}
        for key, required in (("problem", True), ("generator", False), ("output", False), ("report", False)):
            value = data.get(key)
            if value is None:
                if required:
                    errors.append(f"'{key}' is required (the submodel problem file)")
                paths[key] = None
            elif not isinstance(value, (str, os.PathLike)) or not os.fspath(value):
                errors.append(f"'{key}' must be a file path, found {value!r}")
                paths[key] = None
            else:
                paths[key] = resolve(value)
        if paths["problem"] is not None and not paths["problem"].is_file():
            errors.append(f"problem file {paths['problem']} does not exist")
        boundary = data.get("boundary", "submodel_boundary")
        if not isinstance(boundary, str) or not boundary.strip():
            errors.append(f"'boundary' must be the name of a node set, found {boundary!r}")
        tables = {}
        for key, kind in _TABLES.items():
            optional = key in ("reference", "offline")
            if optional and key not in data:
                tables[key] = None
                continue
            tables[key] = settings_from(kind, data.get(key, {}), where=f"[{key}]", errors=errors, base_dir=base_dir)
        if errors:
            raise problems_error(errors, source=source)
        output = paths["output"]
        report = paths["report"] or (output.with_name(output.stem + "_report.md") if output else None)
        return cls(problem=paths["problem"], boundary=boundary, generator=paths["generator"], output=output,
                   report=report, source=source, **tables)

    def require(self, action: str) -> None:
        """Refuse a configuration lacking what ``action`` (``"mc"`` or ``"offline"``) needs (every problem at once)."""
        errors = []
        if action == "mc":
            if self.generator is None:
                errors.append("'generator' (the generator file) is required")
            elif not self.generator.is_file():
                errors.append(f"generator file {self.generator} does not exist")
            if self.output is None:
                errors.append("'output' (the Monte Carlo results file) is required")
            if self.solver.kind == "rom":
                if self.solver.model is None:
                    errors.append("[solver] model is required with kind = \"rom\" (build it: nirom submodel offline)")
                elif not self.solver.model.is_file():
                    errors.append(f"[solver] model {self.solver.model} does not exist (build it: nirom submodel "
                                  "offline)")
            if self.reference is not None and not self.reference.traces.is_file():
                errors.append(f"[reference] traces {self.reference.traces} does not exist")
        else:
            if self.offline is None:
                errors.append("[offline] is required (traces, n_train, runs, tolerances)")
            elif not self.offline.traces.is_file():
                errors.append(f"[offline] traces {self.offline.traces} does not exist")
            if self.solver.model is None:
                errors.append("[solver] model (where the reduced model is written) is required")
        if errors:
            raise problems_error(errors, source=self.source)


def effective_configuration(config: SubmodelConfig | None) -> dict:
    """Every key with the value used (None: not set)."""
    from mpi_drivers.report import settings_table

    if config is None:
        return {"problem": None, "boundary": "submodel_boundary", "generator": None, "output": None, "report": None,
                "samples": settings_table(SampleSettings()), "solver": settings_table(SolverChoice()),
                "dynamics": settings_table(DynamicsSettings()), "statistics": settings_table(StatisticsSettings()),
                "reference": {"traces": None, "selection": "held_out"},
                "offline": {"traces": None, "n_train": 12, "runs": "submodel_runs", "pod_tol": 1e-4,
                            "ecm_tol": 1e-4, "stress_tol": 1e-4}}
    out = {k: (None if getattr(config, k) is None else str(getattr(config, k)))
           for k in ("problem", "generator", "output", "report")}
    out["boundary"] = config.boundary
    for key in _TABLES:
        value = getattr(config, key)
        out[key] = None if value is None else settings_table(value)
    return out


# ================================================================ shared pieces
def _template(config: SubmodelConfig):
    from io_adapters.problem import read_problem

    from rom.submodel_mc import boundary_layout, check_times

    template = read_problem(config.problem)
    check_times(template)
    boundary_layout(template, config.boundary)            # the node set exists
    return template


def _check_traces(path: Path, template, boundary: str):
    """Traces whose nodes and times are the submodel boundary's (else InputError naming the file)."""
    from rom.submodel_mc import boundary_layout, read_traces

    data = read_traces(path)
    difference = data.layout.difference(boundary_layout(template, boundary))
    if difference is not None:
        raise InputError(f"{path}: its boundary data do not match the submodel boundary '{boundary}' of "
                         f"{template.source}: {difference} (traces file vs submodel)")
    return data


# ================================================================ offline
def run_offline(config_path, comm, *, quiet: bool = False) -> int:
    """Solve the training traces on the submodel (HF) and build its ROM (every rank calls it)."""
    from rom.submodel_mc import train_submodel_rom

    from mpi_drivers import report

    if comm.rank != 0:
        logging.getLogger().setLevel(logging.ERROR)
    config = SubmodelConfig.load(config_path)
    config.require("offline")
    template = _template(config)
    data = _check_traces(config.offline.traces, template, config.boundary)
    training = data.training
    if len(training) < config.offline.n_train:
        raise ConfigError(f"{config.source}: [offline] n_train = {config.offline.n_train}, but "
                          f"{config.offline.traces} holds {len(training)} training samples")
    start = time.perf_counter()
    model = train_submodel_rom(template, config.boundary, data.traces[training[:config.offline.n_train]],
                               config.offline.runs, scheme=config.dynamics.build(), pod_tol=config.offline.pod_tol,
                               ecm_tol=config.offline.ecm_tol, stress_tol=config.offline.stress_tol, comm=comm)
    model.save(config.solver.model, comm=comm)
    seconds = time.perf_counter() - start
    report.write_run_record(config.solver.model, command="submodel offline",
                            configuration=effective_configuration(config),
                            inputs=[config_path, config.problem, config.offline.traces], comm=comm, seconds=seconds,
                            extra={"n_modes": int(model.n_modes), "n_train": int(config.offline.n_train)})
    if comm.rank == 0 and not quiet:
        print(f"submodel ROM: {model.n_modes} modes from {config.offline.n_train} HF dynamic runs, written to "
              f"{config.solver.model} in {seconds:.1f} s")
    return 0


# ================================================================ Monte Carlo
def batch_seed(seed: int, batch: int) -> int:
    """The seed of batch ``batch`` (independent of the rank count)."""
    return int(np.random.SeedSequence([seed, batch]).generate_state(1)[0])


def _draw(generator, config: SubmodelConfig, layout, batches) -> dict:
    """This rank's traces, every one checked before any solve: {batch: (first index, traces)}."""
    from rom.bc_generator.layout import check_samples

    n, size = config.samples.n, config.samples.batch
    drawn = {}
    for b in batches:
        count = min(size, n - b * size)
        traces = generator.sample(count, seed=batch_seed(config.samples.seed, b))
        drawn[b] = (b * size, check_samples(traces, layout=layout, where=f"{config.generator}: samples of batch {b}"))
    return drawn


def run_mc(config_path, comm, *, quiet: bool = False) -> int:
    """The Monte Carlo of the submodel QoI (every rank calls it); outputs written by rank 0 at the end."""
    from rom.bc_generator import load_generator
    from rom.mc_statistics import summary
    from rom.submodel_mc import HighFidelitySubmodel, ReducedSubmodel, boundary_layout

    from mpi_drivers import report

    if comm.rank != 0:
        logging.getLogger().setLevel(logging.ERROR)
    config = SubmodelConfig.load(config_path)
    config.require("mc")
    template = _template(config)
    layout = boundary_layout(template, config.boundary)
    scheme = config.dynamics.build()
    generator = load_generator(config.generator, expected=layout)
    reference = None
    if config.reference is not None:
        data = _check_traces(config.reference.traces, template, config.boundary)
        chosen = {"held_out": data.held_out_indices, "training": data.training,
                  "all": np.arange(len(data.qoi))}[config.reference.selection]
        if len(chosen) < 2:
            raise InputError(f"{config.reference.traces}: {len(chosen)} {config.reference.selection} sample(s): the "
                             "reference statistics need at least 2")
        reference = data.qoi[chosen]
    start = time.perf_counter()
    if config.solver.kind == "rom":
        from rom.model import ReducedOrderModel

        model = ReducedOrderModel.load(config.solver.model)
        solve = ReducedSubmodel(model, template, config.boundary, scheme=scheme)
    else:
        solve = HighFidelitySubmodel(template, config.boundary, scheme=scheme)
    setup = time.perf_counter() - start
    n_batches = -(-config.samples.n // config.samples.batch)
    mine = range(comm.rank, n_batches, comm.size)
    drawn = _draw(generator, config, layout, mine)
    results: dict[int, tuple[float, float]] = {}
    from rom import progress

    total_mine = sum(len(t) for _, t in drawn.values())
    for b, (first, traces) in drawn.items():
        for j, trace in enumerate(traces):
            t0 = time.perf_counter()
            qoi = solve(trace, where=f"{config.generator}: sample {first + j}")
            results[first + j] = (qoi, time.perf_counter() - t0)
            progress.advance("Monte Carlo samples (rank 0)", len(results), total_mine)
    gathered = comm.gather(results, root=0)
    seconds = time.perf_counter() - start
    record = None
    if comm.rank == 0:
        merged = {k: v for part in gathered for k, v in part.items()}
        qoi = np.array([merged[i][0] for i in range(config.samples.n)])
        sample_seconds = np.array([merged[i][1] for i in range(config.samples.n)])
        st = config.statistics
        stats = summary(qoi, confidence=st.confidence, quantiles=st.quantiles, method=st.method,
                        n_resamples=st.n_resamples, seed=config.samples.seed)
        ref_stats = None if reference is None else summary(reference, confidence=st.confidence,
                                                           quantiles=st.quantiles, method=st.method,
                                                           n_resamples=st.n_resamples, seed=config.samples.seed)
        figures = {"statistics": stats, "reference": ref_stats, "seconds_per_sample": float(sample_seconds.mean()),
                   "setup_seconds": setup, "solver": config.solver.kind, "generator": type(generator).__name__}
        _write_results(config.output, qoi, sample_seconds, figures)
    comm.Barrier()
    record = report.write_run_record(config.output, command="submodel mc",
                                     configuration=effective_configuration(config),
                                     inputs=[config_path, config.problem, config.generator,
                                             *([config.solver.model] if config.solver.kind == "rom" else []),
                                             *([config.reference.traces] if config.reference else [])],
                                     comm=comm, seconds=seconds,
                                     extra={"qoi": figures["statistics"]} if comm.rank == 0 else None)
    if comm.rank == 0:
        page = _report(config, qoi, figures, record)
        if not quiet:
            m = stats["mean"]
            print(f"{config.samples.n} samples ({config.solver.kind}, {type(generator).__name__}) on {comm.size} "
                  f"rank(s) in {seconds:.1f} s ({figures['seconds_per_sample']:.3g} s per sample): QoI mean "
                  f"{m['estimate']:.4g} [{m['low']:.4g}, {m['high']:.4g}], std {stats['std']['estimate']:.4g}; "
                  f"written {config.output}, report {page}")
    return 0


def _write_results(path: Path, qoi: np.ndarray, seconds: np.ndarray, figures: dict) -> Path:
    import h5py

    from io_adapters.atomic import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as h5:
        h5.attrs["format"] = FORMAT_NAME
        h5.attrs["format_version"] = FORMAT_VERSION
        h5.attrs["statistics"] = json.dumps(figures)
        h5.create_dataset("qoi", data=qoi)
        h5.create_dataset("seconds", data=seconds)
        h5.attrs["complete"] = 1
    return path


def plot_convergence(qoi: np.ndarray, path: Path, *, confidence: float, quantiles, reference: dict | None,
                     title: str) -> Path:
    """PNG: running mean, standard deviation and quantiles with their confidence bands."""
    from rom.mc_statistics import running

    from mpi_drivers.report import _pyplot, _save

    plt = _pyplot()
    curves = running(qoi, confidence=confidence, quantiles=quantiles)
    names = ["mean", "std", *[f"q{p:g}" for p in quantiles]]
    fig, axes = plt.subplots(len(names), 1, figsize=(6.5, 2.1 * len(names) + 0.6), sharex=True, squeeze=False)
    for ax, name in zip(axes[:, 0], names):
        values = curves[name]
        finite = np.isfinite(values)
        ax.plot(curves["n"], values[:, 0], marker="o", ms=3, label="Monte Carlo")
        ax.fill_between(curves["n"], np.where(finite[:, 1], values[:, 1], np.nan),
                        np.where(finite[:, 2], values[:, 2], np.nan), alpha=0.25, label=f"{confidence:.0%} interval")
        if reference is not None:
            ref = reference["mean"] if name == "mean" else reference["std"] if name == "std" \
                else reference["quantiles"][name[1:]]
            ax.axhspan(ref["low"], ref["high"], color="tab:green", alpha=0.15, label="global FE (held-out) interval")
            ax.axhline(ref["estimate"], color="tab:green", lw=1)
        ax.set_ylabel(name)
        ax.grid(True, lw=0.3)
    axes[0, 0].legend(fontsize=7)
    axes[0, 0].set_title(title)
    axes[-1, 0].set_xscale("log")
    axes[-1, 0].set_xlabel("samples")
    return _save(fig, path)


def _row(name: str, value: dict, reference: dict | None) -> str:
    from rom.mc_statistics import within

    line = f"| {name} | {value['estimate']:.5g} | [{value['low']:.5g}, {value['high']:.5g}] |"
    if reference is None:
        return line
    inside = "yes" if within(value["estimate"], reference) else "**no**"
    return line + f" {reference['estimate']:.5g} | [{reference['low']:.5g}, {reference['high']:.5g}] | {inside} |"


def _report(config: SubmodelConfig, qoi: np.ndarray, figures: dict, record: Path) -> Path:
    from mpi_drivers.report import markdown_report

    stats, ref = figures["statistics"], figures["reference"]
    picture = config.output.with_name(config.output.stem + "_convergence.png")
    plot_convergence(qoi, picture, confidence=config.statistics.confidence, quantiles=config.statistics.quantiles,
                     reference=ref, title=f"Submodel QoI: {figures['generator']} + {config.solver.kind}")
    head = "| statistic | Monte Carlo | interval |" + (" global FE | global FE interval | MC in FE interval |"
                                                     if ref else "")
    rule = "|---|---|---|" + ("---|---|---|" if ref else "")
    rows = [head, rule, _row("mean", stats["mean"], ref and ref["mean"]), _row("std", stats["std"], ref and ref["std"])]
    rows += [_row(f"quantile {p}", v, ref and ref["quantiles"][p]) for p, v in stats["quantiles"].items()]
    sections = [
        ("Setting", f"{stats['n']} samples of `{config.generator.name}` ({figures['generator']}), solved by the "
                    f"{'submodel ROM' if config.solver.kind == 'rom' else 'HF dynamic solver'}; QoI: peak von Mises "
                    f"stress in the submodel; {stats['confidence']:.0%} intervals ({stats['method']})."),
        ("Statistics", "\n".join(rows)),
        ("Timings", f"{figures['seconds_per_sample']:.4g} s per sample (solve + QoI), setup "
                    f"{figures['setup_seconds']:.3g} s per rank."),
    ]
    return markdown_report(config.report, title="Submodel Monte Carlo", record=record, sections=sections,
                           pictures={"Convergence of the statistics": picture})
