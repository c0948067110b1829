"""``mpiexec -n P nirom online rom.h5 case.toml [case2.toml ...]``: solve new loadings with a model.

Several case files make a batch (Monte Carlo draws, a design study): the model is
loaded once, every case file is checked before the first solve, a diverging case is
reported and the others still run (exit code 1 then), and a summary closes the run.

``case.toml``::

    problem = "new_loading.toml"     # the new loading: TOML problem or Zset .inp (same file drives the HF solver)
    output = "online.h5"             # reconstructed U and dual fields (+ XDMF); optional
    fields = ["evrcum"]              # dual fields to reconstruct (default: all of the model's)

    [indicator]
    field = "evrcum"                 # default: the model's
    tol = 1e-3                       # level that triggers an enrichment

    [adaptive]
    enabled = true
    max_enrichments = 10
    pod_tol = 1e-10
    watch = ["sig"]                  # fit residuals that also trigger (default: sig if the model has it)
    hf_step = "in-house"             # or { command = "my_solver {state} {result} {t_new}" }
    save_model = "rom_enriched.h5"   # optional

    [solver]
    rtol = 1e-8
    max_iterations = 25
    max_cuts = 6

Relative paths are relative to the case file. Rank 0 prints the run report:
per-step Newton iterations, indicator, enrichments and times.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from io_adapters.errors import ConfigError
from io_adapters.toml_file import read_toml

log = logging.getLogger("nirom")

_KEYS = {"problem", "output", "fields", "indicator", "adaptive", "solver"}
_ADAPTIVE = {"enabled", "max_enrichments", "pod_tol", "ecm_tol", "hf_step", "save_model", "tol", "watch"}
_SOLVER = {"rtol", "atol", "max_iterations", "max_cuts"}
_INDICATOR = {"field", "tol"}


def load_case(path: str | Path) -> dict:
    """Read and check a case file; every problem reported at once (ConfigError)."""
    path = Path(path)
    data = read_toml(path, "case file")
    errors = [f"unknown key '{k}' (known: {', '.join(sorted(_KEYS))})" for k in data if k not in _KEYS]
    for table, known in (("adaptive", _ADAPTIVE), ("solver", _SOLVER), ("indicator", _INDICATOR)):
        errors += [f"unknown key '{k}' in [{table}] (known: {', '.join(sorted(known))})"
                   for k in data.get(table, {}) if k not in known]
    if "problem" not in data:
        errors.append("'problem' (the new loading: a TOML problem or a Zset .inp) is required")
    else:
        data["problem"] = path.parent / data["problem"]
        if not data["problem"].exists():
            errors.append(f"problem file {data['problem']} does not exist")
    for key in ("output",):
        if key in data:
            data[key] = path.parent / data[key]
    if "save_model" in data.get("adaptive", {}):
        data["adaptive"]["save_model"] = path.parent / data["adaptive"]["save_model"]
    hf = data.get("adaptive", {}).get("hf_step", "in-house")
    if not (hf == "in-house" or (isinstance(hf, dict) and set(hf) == {"command"})):
        errors.append(f"[adaptive] hf_step must be \"in-house\" or {{ command = \"...\" }}, found {hf!r}")
    if errors:
        raise ConfigError(f"{path}: " + (errors[0] if len(errors) == 1 else
                                         f"{len(errors)} problems:\n  - " + "\n  - ".join(errors)))
    return data


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
    model = ReducedOrderModel.load(model_path, comm=comm)
    summary, failed = [], []
    for k, (path, case) in enumerate(zip(paths, cases), start=1):
        if comm.rank == 0 and len(cases) > 1:
            print(f"== case {k}/{len(cases)}: {path}", flush=True)
        start = time.perf_counter()
        try:
            result, adaptive = _solve_case(model, case, comm)
        except ConvergenceError as exc:
            failed.append(path)
            summary.append((path, None, time.perf_counter() - start, str(exc).splitlines()[0]))
            if comm.rank == 0:
                print(f"case {path}: diverged: {str(exc).splitlines()[0]}", flush=True)
            continue
        seconds = time.perf_counter() - start
        summary.append((path, result, seconds, None))
        if comm.rank == 0:
            print(report(result, seconds, adaptive))
            if case.get("output"):
                print(f"results: {case['output']} (+ {Path(case['output']).with_suffix('.xdmf').name} for ParaView)")
    if comm.rank == 0 and len(cases) > 1:
        print(batch_summary(summary))
    return 1 if failed else 0


def _solve_case(model, case: dict, comm):
    """One case: (result, enrichment policy or None); the enriched model saved if asked."""
    from io_adapters.problem import read_problem
    from rom.adaptive import Enrichment
    from rom.hifi import ExternalCommandStep
    from rom.reduced import OnlineSettings

    problem = read_problem(case["problem"])
    settings = OnlineSettings(**case.get("solver", {}))
    indicator = case.get("indicator", {})
    adaptive = None
    options = case.get("adaptive", {})
    if options.get("enabled", False):
        hf = options.get("hf_step", "in-house")
        hf_step = None if hf == "in-house" else ExternalCommandStep(hf["command"], problem.mesh)
        tol = options.get("tol", indicator.get("tol", model.settings.get("indicator", {}).get("tol", 1e-3)))
        adaptive = Enrichment(tol=float(tol), hf_step=hf_step, pod_tol=options.get("pod_tol", 1e-10),
                              ecm_tol=options.get("ecm_tol"), max_enrichments=options.get("max_enrichments", 10),
                              watch=tuple(options["watch"]) if "watch" in options else "auto")
    result = model.solve(problem, comm=comm, fields=case.get("fields"), output=case.get("output"),
                         settings=settings, indicator=indicator.get("field"), adaptive=adaptive)
    if adaptive is not None and options.get("save_model") and adaptive.model is not None:
        adaptive.model.save(options["save_model"], comm=comm)
    return result, adaptive


def batch_summary(rows) -> str:
    """One line per case of a batch: steps, time, largest indicator, enrichments, or why it diverged."""
    lines = ["batch summary:", "  case                              steps    time (s)   max indicator  enrichments"]
    for path, result, seconds, error in rows:
        name = str(Path(path).name)
        if result is None:
            lines.append(f"  {name:32s}  diverged after {seconds:.2f} s: {error}")
            continue
        p = result.parameters
        lines.append(f"  {name:32s} {len(result.times) - 1:6d} {seconds:11.3f} {max(p['indicator']):15.3e} "
                     f"{len(p.get('enrichments', [])):12d}")
    solved = sum(1 for row in rows if row[1] is not None)
    lines.append(f"  {solved} of {len(rows)} cases solved")
    return "\n".join(lines)


def report(result, seconds: float, adaptive=None) -> str:
    """The run report: one line per step, then totals."""
    p = result.parameters
    enriched = {e["step"] for e in p.get("enrichments", [])}
    watched = p.get("watched", {})
    lines = ["step      time   newton   indicator" + "".join(f" {name + ' fit':>11s}" for name in watched)
             + "  enriched"]
    for k, t in enumerate(result.times):
        lines.append(f"{k:4d} {t:9.4g} {p['newton_iterations'][k]:8d} {p['indicator'][k]:11.3e}"
                     + "".join(f" {values[k]:11.3e}" for values in watched.values())
                     + f"  {'yes' if k in enriched else ''}")
    lines.append(f"online time {seconds:.3f} s ({p['online_seconds']:.3f} s in the reduced solves), "
                 f"{len(enriched)} enrichments")
    if adaptive is not None and adaptive.hf_seconds:
        lines.append(f"high-fidelity steps: {adaptive.hf_seconds:.3f} s ({100 * adaptive.hf_seconds / seconds:.0f} %)")
    return "\n".join(lines)
