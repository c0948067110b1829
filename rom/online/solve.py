"""The online time loop: a reduced model answers a new loading, watched and repaired step by step."""

from __future__ import annotations

import logging
import time

import numpy as np

from io_adapters.errors import ConvergenceError

from rom import progress
from rom.online.fits import DualFits
from rom.online.newton import advance
from rom.online.operator import RestrictedOperator
from rom.online.result import OnlineResult
from rom.settings import SolverSettings

log = logging.getLogger(__name__)

__all__ = ["solve"]


def solve(model, problem, comm=None, *, fields=None, output=None, settings: SolverSettings | None = None,
          indicator: str | None = None, adaptive=None) -> OnlineResult:
    """Solve a new loading with a reduced-order model (every rank calls it).

    Parameters
    ----------
    model : ReducedOrderModel
    problem : io_adapters.Problem
        Same mesh, face sets the model reduced, imposed displacements on the node sets
        and components it was trained with (any values and tables).
    comm : communicator, optional
        The ranks holding the model's subdomains (as loaded with the same ``comm``).
    fields : list of str, optional
        Dual quantities the result rebuilds (default: all of the model's).
    output : path, optional
        Write ``U`` and those fields to one store (+ XDMF), each rank its rows.
    settings : SolverSettings, optional
        The reduced Newton's (``rom.settings.SolverSettings()`` by default).
    indicator : str, optional
        Dual quantity whose Gappy-POD fit residual is the error indicator (default:
        the model's ``settings["indicator"]["field"]``, else the first dual).
    adaptive : rom.adaptive.Enrichment, optional
        The enrichment policy: one high-fidelity step when the indicator, or the fit
        residual of a watched quantity, exceeds its tolerance (see :mod:`rom.adaptive`).

    Returns
    -------
    OnlineResult
        On every rank: times, reduced coordinates, indicator, watched residuals,
        Newton iterations, enrichment events, timings and the final model; the full
        fields on demand (``write``, ``local_fields``, ``to_simulation``).
    """
    settings = settings or SolverSettings()
    operator = RestrictedOperator(model, problem, comm)
    fits = DualFits(operator)
    duals = tuple(sorted(fields)) if fields is not None else tuple(fits.names)
    if indicator is None:
        indicator = model.settings.get("indicator", {}).get("field") or (fits.names[0] if fits.names else None)
    enricher = adaptive.start(operator, indicator) if adaptive is not None else None
    watched = enricher.watched if enricher is not None else []
    times = np.asarray(problem.times, dtype=np.float64)
    state = operator.initial_state(times[0])
    steps = [(operator, fits, state)]
    indicators, iterations = [0.0], [0]
    watched_values = {name: [0.0] for name in watched}
    started = time.perf_counter()
    for k in range(1, len(times)):
        try:
            new = advance(operator, state, float(times[k]), settings)
        except ConvergenceError as exc:
            raise ConvergenceError(f"{problem.source}: time step {k} (t={times[k]:g}): {exc}") from None
        value = fits.indicator(new, indicator)
        others = [fits.indicator(new, name) for name in watched]
        trigger = max([value] + others)
        if enricher is not None and trigger > enricher.policy.tol:
            if enricher.exhausted:
                log.warning("step %d: indicator %.3e above %.1e, but %d enrichments were already made",
                            k, trigger, enricher.policy.tol, enricher.policy.max_enrichments)
            else:
                operator, fits, new = enricher.enrich(operator, fits, state, float(times[k]), k, trigger, settings)
                value = fits.indicator(new, indicator)
                others = [fits.indicator(new, name) for name in watched]
        for name, v in zip(watched, others):
            watched_values[name].append(v)
        steps.append((operator, fits, new))
        indicators.append(value)
        iterations.append(new.iterations)
        state = new
        log.info("online step %d/%d t=%g: %d Newton iterations, indicator %.3e", k, len(times) - 1, times[k],
                 new.iterations, value)
        progress.advance("online steps", k, len(times) - 1)
    result = OnlineResult(
        problem=problem, times=np.array([s.time for _, _, s in steps]),
        reduced_coordinates=tuple(np.array(s.q) for _, _, s in steps), indicator=np.array(indicators),
        watched={n: np.array(v) for n, v in watched_values.items()}, newton_iterations=np.array(iterations),
        enrichments=tuple(enricher.events) if enricher is not None else (),
        online_seconds=time.perf_counter() - started, hf_seconds=enricher.hf_seconds if enricher else 0.0,
        model=operator.model, fields_names=duals, comm=comm, _steps=tuple(steps))
    if output is not None:
        result.write(output)
    return result
