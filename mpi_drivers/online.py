"""``mpiexec -n P nirom online rom.h5 case.toml [case2.toml ...]``: solve new loadings with a model.

Several case files make a batch (Monte Carlo draws, a design study): the model is
loaded once, every case file is checked before the first solve, a diverging case is
reported and the others still run (exit code 1 then), and a summary closes the run.

``case.toml`` (every key but ``problem`` optional; the defaults shown)::

    problem = "new_loading.toml"     # the new loading: TOML problem or Zset .inp (same file drives the HF solver)
    output = "online.h5"             # reconstructed U and dual fields (+ XDMF); default: none written
    fields = ["evrcum"]              # dual fields to reconstruct (default: all of the model's)

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
    case = settings_from(Case, data, where="", errors=errors, base_dir=path.parent, source=path)
    if errors:
        raise problems_error(errors, path)
    given = (data.get("indicator") or {}).get("tol")
    if case.adaptive.tol is None and given is not None:
        case = dataclasses.replace(case, adaptive=dataclasses.replace(case.adaptive, tol=case.indicator.tol))
    return case


def run_online(model_path: str | Path, case_paths, comm) -> int:
    """Load the model once on every rank, solve each case, write its results, report on rank 0.

    Parameters
    ----------
    model_path : path
    case_paths : path or list of paths
        Every case file is checked before the first solve. Each case starts from the
        model file (an enrichment of one case does not carry over to the next).
    comm : communicator

    Returns
    -------
    int
        0 when every case was solved; 1 when some diverged (``ConvergenceError``:
        reported, the other cases still solved). Any other error ends the run.
    """
    from io_adapters.errors import ConvergenceError
    from rom.model import ReducedOrderModel

    if comm.rank != 0:
        logging.getLogger().setLevel(logging.ERROR)
    paths = [Path(case_paths)] if isinstance(case_paths, (str, Path)) else [Path(p) for p in case_paths]
    cases = [load_case(path) for path in paths]          # a typo in the last case stops the run before the first solve
    model = _load_model(model_path, comm)
    problems = [f"{path}: {problem} (model {model_path})" for path, case in zip(paths, cases)
                for problem in check_case(case, model)]
    if problems:                                          # before the first solve, every case at once
        raise problems_error(problems)
    summary, failed = [], []
    for k, (path, case) in enumerate(zip(paths, cases), start=1):
        if comm.rank == 0 and len(cases) > 1:
            print(f"== case {k}/{len(cases)}: {path}", flush=True)
        start = time.perf_counter()
        try:
            result = _solve_case(model, case, comm)
        except ConvergenceError as exc:
            failed.append(path)
            summary.append((path, None, time.perf_counter() - start, str(exc).splitlines()[0]))
            if comm.rank == 0:
                print(f"case {path}: diverged: {str(exc).splitlines()[0]}", flush=True)
            continue
        seconds = time.perf_counter() - start
        summary.append((path, result, seconds, None))
        if comm.rank == 0:
            print(report(result, seconds))
            if case.output is not None:
                print(f"results: {case.output} (+ {case.output.with_suffix('.xdmf').name} for ParaView)")
    if comm.rank == 0 and len(cases) > 1:
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
    """One case: the OnlineResult (every rank); the enriched model saved if asked."""
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
    result = model.solve(problem, comm=comm, fields=case.fields, output=case.output, settings=case.solver,
                         indicator=case.indicator.field, adaptive=adaptive)
    if options.save_model is not None and result.enrichments:
        result.model.save(options.save_model, comm=comm)
    return result


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
