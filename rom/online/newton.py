"""The reduced Newton solver: one time step of a restricted operator, halved when it fails.

The iterations solve ``F(q) = f_ext`` in the reduced space (a dense ``n × n`` solve per
iteration); convergence is :mod:`rom.convergence`'s test on the reduced residual,
force scale and coordinates (the HF solver's criterion). A step that does not
converge is halved, at most ``settings.max_cuts`` times; every rank takes the same
decision (the reduced system is the same on every rank after the operator's
``Allreduce``).
"""

from __future__ import annotations

import logging

import numpy as np

from io_adapters.errors import ConvergenceError

from rom.convergence import is_converged, reference_force
from rom.online.operator import ReducedState, RestrictedOperator
from rom.settings import SolverSettings

log = logging.getLogger(__name__)

__all__ = ["advance", "advance_halving", "newton", "solve_balance"]


def newton(operator: RestrictedOperator, state: ReducedState, t_new: float, settings: SolverSettings) -> ReducedState:
    """Solve the reduced equilibrium at ``t_new`` from the converged ``state``.

    Raises
    ------
    ConvergenceError
        With the residual history.
    """
    temperatures = [operator.temperature(p, t_new) for p in operator.parts]
    new, _, _ = solve_balance(operator, state, t_new, temperatures, operator.lifting(t_new),
                              operator.external_load(t_new), settings)
    return new


def solve_balance(operator: RestrictedOperator, state: ReducedState, t_new: float, temperatures, lifting,
                  f_ext: np.ndarray, settings: SolverSettings, *, inertia=None, label: str = "reduced Newton"):
    """The iterations of :func:`newton`, with an optional inertia term (dynamics).

    Parameters
    ----------
    temperatures, lifting : the operator's temperatures and lifting at ``t_new``
    f_ext : (n_modes,) reduced external forces at ``t_new``
    inertia : object, optional
        ``inertia.force(q) -> (g, extra)``: the reduced inertia, damping and start-of-step
        forces at trial coordinates (counted in the force scale) and what the caller
        keeps of the converged trial; ``inertia.tangent``: ``(n_modes, n_modes)``, added
        to the tangent of ``F``. None: quasi-static.
    label : str
        The solver's name in the error message.

    Returns
    -------
    (ReducedState, extra, F)
        The converged state, ``extra`` of the converged trial (None when quasi-static) and
        its reduced internal forces ``(n_modes,)``.
    """
    q = state.q.copy()
    history = []
    correction = None
    f_ext_norm = float(np.linalg.norm(f_ext))
    for iteration in range(settings.max_iterations + 1):
        F, K, (F_increment, F_magnitude), strain, stress, internal = operator.evaluate(
            state, q, t_new, temperatures, lifting)
        scale, extra = f_ext_norm, None
        if inertia is None:
            r = F - f_ext
        else:
            g, extra = inertia.force(q)
            r = F + g - f_ext
            K = K + inertia.tangent
        norm = float(np.linalg.norm(r))
        history.append(norm)
        if not np.isfinite(norm):
            break
        if inertia is not None:
            scale = max(f_ext_norm, float(np.linalg.norm(g)))     # inertia and damping: forces too
        reference = reference_force(scale, np.linalg.norm(F_magnitude), np.linalg.norm(F_increment))
        if is_converged(norm, reference, correction, float(np.linalg.norm(q - state.q)),
                        rtol=settings.rtol, atol=settings.atol):
            return ReducedState(t_new, q, strain, stress, internal, temperatures, iteration, history), extra, F
        if iteration == settings.max_iterations:
            break
        try:
            dq = np.linalg.solve(K, -r)
        except np.linalg.LinAlgError:
            break
        correction = float(np.linalg.norm(dq))
        q = q + dq
    raise ConvergenceError(f"{label} did not converge from t={state.time:g} to t={t_new:g}; "
                           "residual history " + ", ".join(f"{h:.3e}" for h in history))


def advance(operator: RestrictedOperator, state: ReducedState, t_new: float, settings: SolverSettings,
            level: int = 0) -> ReducedState:
    """Reach ``t_new``, halving the step when Newton fails (the same decision on every rank)."""
    return advance_halving(lambda start, t: newton(operator, start, t, settings), state, t_new, settings, level)


def advance_halving(step, state, t_new: float, settings: SolverSettings, level: int = 0, what: str = "reduced step"):
    """Reach ``t_new`` with ``step(state, t) -> state``, halving the step when it fails.

    At most ``settings.max_cuts`` halvings; the reduced system is the same on every rank,
    so every rank takes the same decision. ``what`` names the step in the log.
    """
    try:
        return step(state, t_new)
    except ConvergenceError as exc:
        if level >= settings.max_cuts:
            raise ConvergenceError(f"step to t={t_new:g} failed after {settings.max_cuts} halvings: {exc}") from None
        t_mid = 0.5 * (state.time + t_new)
        log.info("%s to t=%g cut at t=%g (level %d)", what, t_new, t_mid, level + 1)
        half = advance_halving(step, state, t_mid, settings, level + 1, what)
        return advance_halving(step, half, t_new, settings, level + 1, what)
