"""``mpiexec -n P nirom online rom.h5 case.toml [case2.toml ...]``: solve new loadings with a model.

Several case files make a batch (Monte Carlo draws, a design study): the model is
loaded once, every case file is checked before the first solve, a diverging case is
reported and the others still run (exit code 1 then), and a summary closes the run.

``case.toml`` (every key but ``problem`` optional; the defaults shown)::

    problem = "new_loading.toml"     # the new loading: TOML problem or Zset .inp (same file drives the HF solver)
    output = "online.h5"             # reconstructed U and dual fields (+ XDMF); default: none written
    fields = ["evrcum"]              # dual fields to reconstruct (default: all of the model's)
    reference = "hf_results.h5"      # HF results of the same loading: <field>_reference and <field>_error
                                     # written beside each field (needs output), error plotted in the report

    [indicator]
    field = "evrcum"                 # default: the model's
    tol = 1e-3                       # level that triggers an enrichment (default: the model's, else 1e-3)

    [adaptive]
    enabled = false                  # true or false (a string is refused)
    tol = 1e-3                       # default: [indicator] tol
    max_enrichments = 10
    pod_tol = 1e-10
    ecm_tol = 1e-5                   # default: the model's [ecm] tol
    watch = ["sig"]                  # fit residuals that also trigger (default "auto": sig if the model has it)
    hf_step = "in-house"             # or { command = "my_solver {state} {result} {t_new}" }
    save_model = "rom_enriched.h5"   # default: the enriched model is not saved

    [solver]
    rtol = 1e-8
    atol = 1e-14
    max_iterations = 25
    max_cuts = 6

The tables are :class:`rom.settings.IndicatorSettings`, :class:`~rom.settings.AdaptiveSettings`
and :class:`~rom.settings.SolverSettings` (their fields document the keys); a case is
a :class:`Case`. Relative paths are relative to the case file. Every problem of a case
file (unknown keys, types, ranges) is reported at once. Rank 0 prints the run report:
per-step Newton iterations, indicator, enrichments and times.

Beside each case's ``output``: the run record ``online.h5.run.json`` (the effective
case, the nirom version, the SHA-256 of the model, case, problem and reference files),
the indicator against time (``online_indicator.png``), the error against time when a
reference is given (``online_error.png``) and the report ``online_report.md``.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from io_adapters.toml_file import path_exists, read_toml

from rom.settings import AdaptiveSettings, IndicatorSettings, Settings, SolverSettings, option, problems_error, \
    settings_from

log = logging.getLogger("nirom")


@dataclass(frozen=True)
class Case(Settings):
    """One online case: a new loading and how to solve it (the keys of a case file).

    Parameters
    ----------
    problem : Path
        The new loading: a TOML problem or a Zset ``.inp`` (required).
    output : Path, optional
        Store of the reconstructed ``U`` and dual fields (+ XDMF); none when omitted.
    fields : tuple of str, optional
        Dual fields to reconstruct (default: all of the model's).
    reference : Path, optional
        High-fidelity results of the same loading (a store, or any format nirom reads,
        holding ``U`` at the problem's times on the model's mesh). The output store then
        holds ``<field>_reference`` and ``<field>_error`` (ROM − reference) beside ``U``
        and each reconstructed field the reference also has, for ParaView; the report
        plots the relative error against time. Needs ``output``.
    indicator : IndicatorSettings
        ``field``: the indicator's dual quantity (default: the model's).
    adaptive : AdaptiveSettings
        Enrichment. :func:`load_case` sets its ``tol`` from ``[indicator] tol`` when
        ``[adaptive]`` gives none (the case's enrichment level is written in either
        table); still None, the model's indicator tolerance applies.
    solver : SolverSettings
        The reduced Newton.
    source : Path, optional
        The case file (None for a case built in Python).
    """

    problem: Path = option(what="the new loading: a TOML problem or a Zset .inp")
    output: Path | None = None
    fields: tuple[str, ...] | None = None
    reference: Path | None = None
    indicator: IndicatorSettings = option(default_factory=IndicatorSettings)
    adaptive: AdaptiveSettings = option(default_factory=AdaptiveSettings)
    solver: SolverSettings = option(default_factory=SolverSettings)
    source: Path | None = option(None, key=False)


def load_case(path: str | Path) -> Case:
    """Read and check a case file; every problem reported at once (ConfigError)."""
    path = Path(path)
    data = read_toml(path, "case file")
    errors: list[str] = []
    problem = data.get("problem")
    if isinstance(problem, str) and problem and not path_exists(path.parent / problem):
        errors.append(f"problem file {path.parent / problem} does not exist")
    reference = data.get("reference")
    if isinstance(reference, str) and reference and not path_exists(path.parent / reference):
        errors.append(f"reference {path.parent / reference} does not exist")
    case = settings_from(Case, data, where="", errors=errors, base_dir=path.parent, source=path)
    if errors:
        raise problems_error(errors, path)
    given = (data.get("indicator") or {}).get("tol")
    if case.adaptive.tol is None and given is not None:
        case = dataclasses.replace(case, adaptive=dataclasses.replace(case.adaptive, tol=case.indicator.tol))
    return case


def run_online(model_path: str | Path, case_paths, comm, *, quiet: bool = False) -> int:
    """Load the model once on every rank, solve each case, write its results, report on rank 0.

    Parameters
    ----------
    model_path : path
    case_paths : path or list of paths
        Every case file is checked before the first solve. Each case starts from the
        model file (an enrichment of one case does not carry over to the next).
    comm : communicator
    quiet : bool
        Print nothing on standard output (the files are written all the same).

    Returns
    -------
    int
        0 when every case was solved; 1 when some diverged (``ConvergenceError``:
        reported, the other cases still solved). Any other error ends the run.
    """
    from io_adapters.errors import ConvergenceError

    if comm.rank != 0:
        logging.getLogger().setLevel(logging.ERROR)
    speak = comm.rank == 0 and not quiet
    paths = [Path(case_paths)] if isinstance(case_paths, (str, Path)) else [Path(p) for p in case_paths]
    cases = [load_case(path) for path in paths]          # a typo in the last case stops the run before the first solve
    model = _load_model(model_path, comm)
    problems = [f"{path}: {problem} (model {model_path})" for path, case in zip(paths, cases)
                for problem in check_case(case, model) + check_reference(case, model)]
    if problems:                                          # before the first solve, every case at once
        raise problems_error(problems)
    summary, failed = [], []
    for k, (path, case) in enumerate(zip(paths, cases), start=1):
        if speak and len(cases) > 1:
            print(f"== case {k}/{len(cases)}: {path}", flush=True)
        start = time.perf_counter()
        try:
            result, errors = _solve_case(model, case, comm)
        except ConvergenceError as exc:
            failed.append(path)
            summary.append((path, None, time.perf_counter() - start, str(exc).splitlines()[0]))
            if speak:
                print(f"case {path}: diverged: {str(exc).splitlines()[0]}", flush=True)
            continue
        seconds = time.perf_counter() - start
        summary.append((path, result, seconds, None))
        page = _record_and_report(model_path, model, case, result, errors, seconds, comm)
        if speak:
            print(report(result, seconds))
            for name, values in errors.items():
                print(f"error of {name} against the reference: max {np.nanmax(values):.3e} over time "
                      f"(relative to the reference's largest norm)")
            if case.output is not None:
                print(f"results: {case.output} (+ {case.output.with_suffix('.xdmf').name} for ParaView)"
                      + (f"; report: {page}" if page else ""))
    if speak and len(cases) > 1:
        print(batch_summary(summary))
    return 1 if failed else 0


def check_case(case: Case, model) -> list[str]:
    """What a case asks that the model cannot give (unknown dual fields for ``fields``, the
    indicator or the enrichment's ``watch``; outputs that are folders), checked before any solve.

    ``model`` is a :class:`rom.model.ReducedOrderModel` or a ROM dictionary (its local
    models' dual quantities).
    """
    local = model.models if hasattr(model, "models") else [model]
    duals = sorted(set.intersection(*(set(n for s in m.subdomains for n in s.duals) for m in local)))
    known = ", ".join(duals) or "none"
    problems = []
    unknown = [name for name in (case.fields or ()) if name not in duals]
    if unknown:
        problems.append(f"fields {unknown}: the model has no such dual quantity (it has: {known})")
    if case.indicator.field is not None and case.indicator.field not in duals:
        problems.append(f"[indicator] field '{case.indicator.field}': the model has no such dual quantity "
                        f"(it has: {known})")
    watch = case.adaptive.watch
    if case.adaptive.enabled and watch != "auto":
        unknown = [name for name in ([watch] if isinstance(watch, str) else watch) if name not in duals]
        if unknown:
            problems.append(f"[adaptive] watch {unknown}: the model has no such dual quantity (it has: {known})")
    if case.reference is not None and case.output is None:
        problems.append("reference: the errors are written beside the results: give 'output' too")
    for key, target in (("output", case.output), ("[adaptive] save_model", case.adaptive.save_model)):
        if target is not None and path_exists(target) and Path(target).is_dir():
            problems.append(f"{key} {target} is a directory (a file name is expected)")
    return problems


def _load_model(path, comm):
    """A reduced-order model or a ROM dictionary (ROM-net then picks the local model of each case)."""
    from rom.model import ReducedOrderModel

    from clustering.dictionary import RomDictionary, is_dictionary

    return RomDictionary.load(path, comm=comm) if is_dictionary(path) else ReducedOrderModel.load(path, comm=comm)


def _solve_case(model, case: Case, comm):
    """One case: the OnlineResult (every rank) and, with a reference, the relative error of each
    compared field per step; the results written, the enriched model saved if asked."""
    from io_adapters.problem import read_problem
    from rom.adaptive import Enrichment
    from rom.hifi import ExternalCommandStep

    problem = read_problem(case.problem)
    options = case.adaptive
    adaptive = None
    if options.enabled:
        hf_step = (None if options.hf_step == "in-house"
                   else ExternalCommandStep(options.hf_step["command"], problem.mesh, comm=comm))
        adaptive = Enrichment(tol=enrichment_tol(case, model), hf_step=hf_step, pod_tol=options.pod_tol,
                              ecm_tol=options.ecm_tol, max_enrichments=options.max_enrichments, watch=options.watch)
    result = model.solve(problem, comm=comm, fields=case.fields, settings=case.solver,
                         indicator=case.indicator.field, adaptive=adaptive)
    errors = {}
    if case.output is not None:
        if case.reference is not None:
            comparison = Comparison(case.reference, result, comm)
            result.write(case.output, extra_fields=comparison.extra_fields())
            errors = comparison.finish()
        else:
            result.write(case.output)
    if options.save_model is not None and result.enrichments:
        result.model.save(options.save_model, comm=comm)
    return result, errors


class Comparison:
    """The ROM's fields against a reference store, written alongside and measured (every rank).

    For ``U`` and each reconstructed field the reference also has (same support, number
    of components and integration rule), :meth:`extra_fields` gives the
    ``<name>_reference`` and ``<name>_error`` (ROM − reference) fields of
    :meth:`rom.online.OnlineResult.write`; while they are written, the squared norms are
    summed on each rank (interface nodes weighted by 1 / the number of ranks holding
    them), and :meth:`finish` (collective) returns, per field and step,
    ``‖ROM − reference‖ / max over steps ‖reference‖``.
    """

    def __init__(self, path, result, comm):
        import io_adapters
        from io_adapters.errors import InputError

        self.path = Path(path)
        self.comm = comm
        reference = io_adapters.read(str(path))
        mesh = result.model.mesh
        self.steps = _matching_steps(np.asarray(reference.times), np.asarray(result.times), self.path)
        names = ["U", *sorted(result.fields_names)]
        self.fields = {}
        for name in names:
            field = reference.fields.get(name)
            if field is None:
                if name == "U":
                    raise InputError(f"{path}: no displacement field 'U' to compare with")
                continue
            ours = "node" if name == "U" else "integration_point"
            if field.support != ours or (ours == "integration_point" and field.rule != result.model.rule):
                log.warning("reference %s: field %s is not comparable (%s%s; the model's is %s%s): not compared",
                            path, name, field.support, f", rule {field.rule}" if field.rule else "", ours,
                            f", rule {result.model.rule}" if ours != "node" else "")
                continue
            self.fields[name] = field
        if reference.mesh.n_nodes != mesh.n_nodes:
            raise InputError(f"{path}: the reference has {reference.mesh.n_nodes} nodes, the model's mesh "
                             f"{mesh.n_nodes}")
        nodes = np.unique(np.concatenate([np.asarray(s.nodes) for s in result.model.subdomains])) \
            if result.model.subdomains else np.zeros(0, np.int64)
        counts = np.bincount(nodes, minlength=mesh.n_nodes).astype(np.int64)
        if comm is not None and comm.size > 1:
            from rom.parallel import allreduce_sum

            counts = allreduce_sum(counts, comm)
        self.multiplicity = counts
        self.squares = {name: np.zeros((2, len(self.steps))) for name in self.fields}   # error², reference²

    def _reference_rows(self, name: str, step: int, rows: np.ndarray) -> np.ndarray:
        order = np.argsort(rows)
        values = np.empty((len(rows), self.fields[name].n_components))
        if len(rows):
            values[order] = self.fields[name].read(steps=[int(self.steps[step])], rows=rows[order])[0]
        return values

    def _reference(self, name: str, step: int, rows: np.ndarray, values: np.ndarray) -> np.ndarray:
        from io_adapters.errors import InputError

        ref = self._reference_rows(name, step, rows)
        if ref.shape != values.shape:
            raise InputError(f"{self.path}: field '{name}' has {ref.shape[1]} components, the ROM's "
                             f"{values.shape[1]}")
        return ref

    def _error(self, name: str, step: int, rows: np.ndarray, values: np.ndarray) -> np.ndarray:
        ref = self._reference(name, step, rows, values)
        difference = values - ref
        weight = 1.0 / self.multiplicity[rows] if name == "U" else 1.0
        self.squares[name][0, step] += float(np.sum(weight * np.sum(difference ** 2, axis=1)))
        self.squares[name][1, step] += float(np.sum(weight * np.sum(ref ** 2, axis=1)))
        return difference

    def extra_fields(self) -> dict:
        """``<name>_reference`` and ``<name>_error`` of every compared field (see :meth:`OnlineResult.write`)."""
        import functools

        out = {}
        for name in self.fields:
            out[f"{name}_reference"] = (name, functools.partial(self._reference, name))
            out[f"{name}_error"] = (name, functools.partial(self._error, name))
        return out

    def finish(self) -> dict[str, np.ndarray]:
        """Per compared field, the relative error at each step (collective)."""
        from rom.parallel import allreduce_sum

        out = {}
        for name, squares in self.squares.items():
            total = allreduce_sum(squares, self.comm) if self.comm is not None and self.comm.size > 1 else squares
            scale = np.sqrt(total[1].max()) if total[1].size else 0.0
            out[name] = np.sqrt(total[0]) / scale if scale > 0 else np.sqrt(total[0])
        return out


def _matching_steps(reference_times: np.ndarray, times: np.ndarray, path) -> np.ndarray:
    """Index in the reference of each of the ROM's times (InputError naming those missing)."""
    from io_adapters.errors import InputError

    scale = max(float(np.max(np.abs(times))) if len(times) else 1.0, 1e-300)
    found = np.full(len(times), -1, dtype=np.int64)
    for k, t in enumerate(times):
        close = np.flatnonzero(np.abs(reference_times - t) <= 1e-9 * scale)
        if len(close):
            found[k] = close[0]
    missing = times[found < 0]
    if len(missing) and not len(reference_times):
        raise InputError(f"{path}: the reference has no time step")
    if len(missing):
        listed = ", ".join(f"{t:g}" for t in missing[:5]) + (" …" if len(missing) > 5 else "")
        raise InputError(f"{path}: the reference has no result at time(s) {listed} of the problem (it has "
                         f"{len(reference_times)} times from {reference_times.min():g} to {reference_times.max():g})")
    return found


def check_reference(case: Case, model) -> list[str]:
    """What is wrong with a case's reference (readable, ``U``, the model's mesh, the problem's times)."""
    if case.reference is None:
        return []
    import io_adapters
    from io_adapters.errors import NiromError
    from io_adapters.problem import read_problem

    try:
        reference = io_adapters.read(str(case.reference))
        problem = read_problem(case.problem)
    except (NiromError, OSError) as exc:
        return [f"reference: {exc}"]
    mesh = (model.models[0] if hasattr(model, "models") else model).mesh
    problems = []
    if "U" not in reference.fields:
        problems.append(f"reference {case.reference}: no displacement field 'U' (has: {', '.join(reference.fields)})")
    if reference.mesh.n_nodes != mesh.n_nodes:
        problems.append(f"reference {case.reference}: {reference.mesh.n_nodes} nodes, the model's mesh has "
                        f"{mesh.n_nodes}")
    try:
        _matching_steps(np.asarray(reference.times), np.asarray(problem.times), case.reference)
    except NiromError as exc:
        problems.append(f"reference: {exc}")
    return problems


def effective_case(case: Case | None, model=None) -> dict:
    """Every key of a case with the value the solve uses; the model's defaults resolved when it is given.

    ``case`` None gives the defaults of a case file.
    """
    from mpi_drivers.report import settings_table

    if case is None:
        return {"problem": None, "output": None, "fields": None, "reference": None,
                "indicator": settings_table(IndicatorSettings()), "adaptive": settings_table(AdaptiveSettings()),
                "solver": settings_table(SolverSettings())}
    table = {name: value for name, value in settings_table(case).items()}
    indicator, adaptive = dict(table["indicator"]), dict(table["adaptive"])
    if model is not None:
        local = model.models[0] if hasattr(model, "models") else model
        duals = sorted({n for s in local.subdomains for n in s.duals})
        if table.get("fields") is None:
            table["fields"] = duals
        if indicator.get("field") is None:
            indicator["field"] = local.settings.get("indicator", {}).get("field") or (duals[0] if duals else None)
        adaptive["tol"] = enrichment_tol(case, model)
        if adaptive.get("ecm_tol") is None:
            adaptive["ecm_tol"] = local.settings.get("ecm", {}).get("tol")
    table["indicator"], table["adaptive"] = indicator, adaptive
    return table


def _record_and_report(model_path, model, case: Case, result, errors: dict, seconds: float, comm) -> Path | None:
    """The run record beside the case's outputs (results, enriched model) and the report (collective)."""
    from mpi_drivers import report as reports

    outputs = [p for p in (case.output, case.adaptive.save_model if result.enrichments else None) if p is not None]
    if not outputs:
        return None
    inputs = [model_path, case.source, case.problem, case.reference]
    digests = reports.checksums(inputs, comm=comm)
    configuration = effective_case(case, model)
    figures = {"steps": int(result.n_times - 1), "enrichments": [e.to_dict() for e in result.enrichments],
               "max_indicator": float(np.max(result.indicator)), "online_seconds": float(result.online_seconds),
               "hf_seconds": float(result.hf_seconds), "seconds": seconds}
    if errors:
        figures["max_relative_error"] = {name: float(np.nanmax(values)) for name, values in errors.items()}
    records = [reports.write_run_record(path, command="online", configuration=configuration, comm=comm,
                                        seconds=seconds, problem=case.problem, digests=digests,
                                        extra={"result": figures}) for path in outputs]
    if comm.rank != 0 or case.output is None:
        return None
    output = Path(case.output)
    pictures = {"indicator and watched fit residuals per step": reports.plot_indicator(
        result, output.with_name(output.stem + "_indicator.png"), tol=configuration["adaptive"].get("tol"))}
    if errors:
        pictures["error against the reference"] = reports.plot_errors(
            result.times, errors, output.with_name(output.stem + "_error.png"), enrichments=result.enrichments)
    fields = ["U", *sorted(result.fields_names)]
    fields += [f"{name}_{kind}" for name in errors for kind in ("reference", "error")]
    sections = [("Steps", reports.text_block(report(result, seconds))),
                ("Results", f"`{output.name}` (ParaView: `{output.with_suffix('.xdmf').name}`), fields "
                 + ", ".join(f"`{f}`" for f in fields))]
    if errors:
        rows = ["| field | largest relative error over time |", "|---|---|"]
        rows += [f"| {name} | {np.nanmax(values):.3e} |" for name, values in errors.items()]
        sections.append((f"Against the reference `{Path(case.reference).name}`", "\n".join(rows)
                         + "\n\nError at a step: ‖ROM − reference‖ / max over steps ‖reference‖ (all nodes or "
                         "integration points)."))
    return reports.markdown_report(reports.report_path(output), title=f"nirom online — {output.name}",
                                   record=records[0], sections=sections, pictures=pictures)


def enrichment_tol(case: Case, model) -> float:
    """The level that triggers an enrichment: the case's (``[adaptive] tol``, else its
    ``[indicator] tol``, see :func:`load_case`), else the model's indicator tolerance,
    else ``IndicatorSettings().tol``."""
    if case.adaptive.tol is not None:
        return case.adaptive.tol
    local = model.models[0] if hasattr(model, "models") else model      # a dictionary's local models share it
    return float(local.settings.get("indicator", {}).get("tol", IndicatorSettings().tol))


def batch_summary(rows) -> str:
    """One line per case of a batch: steps, time, largest indicator, enrichments, or why it diverged."""
    lines = ["batch summary:", "  case                              steps    time (s)   max indicator  enrichments"]
    for path, result, seconds, error in rows:
        name = str(Path(path).name)
        if result is None:
            lines.append(f"  {name:32s}  diverged after {seconds:.2f} s: {error}")
            continue
        lines.append(f"  {name:32s} {result.n_times - 1:6d} {seconds:11.3f} {float(np.max(result.indicator)):15.3e} "
                     f"{len(result.enrichments):12d}")
    solved = sum(1 for row in rows if row[1] is not None)
    lines.append(f"  {solved} of {len(rows)} cases solved")
    return "\n".join(lines)


def report(result, seconds: float) -> str:
    """The run report of an :class:`rom.online.OnlineResult`: one line per step, then totals."""
    enriched = {e.step for e in result.enrichments}
    watched = result.watched
    lines = ["step      time   newton   indicator" + "".join(f" {name + ' fit':>11s}" for name in watched)
             + "  enriched"]
    for k, t in enumerate(result.times):
        lines.append(f"{k:4d} {t:9.4g} {int(result.newton_iterations[k]):8d} {result.indicator[k]:11.3e}"
                     + "".join(f" {values[k]:11.3e}" for values in watched.values())
                     + f"  {'yes' if k in enriched else ''}")
    lines.append(f"online time {seconds:.3f} s ({result.online_seconds:.3f} s in the reduced solves), "
                 f"{len(enriched)} enrichments")
    if result.hf_seconds:
        lines.append(f"high-fidelity steps: {result.hf_seconds:.3f} s ({100 * result.hf_seconds / seconds:.0f} %)")
    if result.selection:
        chosen = result.selection
        p = chosen["probabilities"][chosen["cluster"]]
        lines.append(f"ROM-net: local model {chosen['cluster']} (probability {p:.2f}; conformal set "
                     f"{chosen['conformal_set']}; tried {chosen['tried']}"
                     + ("; enriched" if chosen.get("enriched") else "") + ")")
    return "\n".join(lines)
