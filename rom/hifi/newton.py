"""One time step of the quasi-static problem: Newton with the consistent tangent,
and automatic substepping when it fails.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

import numpy as np

from io_adapters.errors import ConvergenceError
from rom import fem
from rom.convergence import is_converged, reference_force

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NewtonSettings:
    """Tolerances and limits of the global Newton loop.

    Attributes
    ----------
    rtol : float
        Convergence ratio (a Zset deck's ``*ratio``). An iterate is converged when
        ``‖r_free‖ ≤ rtol · F_ref + atol`` with ``F_ref = max(‖f_ext‖, ‖F_int‖,
        ‖Bᵀ w D Δε‖)`` taken at that iterate only, and the correction that produced it
        is below ``rtol`` times the step's displacement increment (or the residual is
        already below ``rtol²``): see :mod:`rom.convergence`.
    atol : float
    max_iterations : int
    max_cuts : int
        Times a failing step may be halved (``2**max_cuts`` substeps at most).
    line_search : int
        Halvings of a Newton correction allowed when the law cannot follow it
        (non-finite stresses); a growing residual is normal in the first plastic
        iterations and is not cut.
    """

    rtol: float = 1e-9
    atol: float = 1e-12
    max_iterations: int = 25
    max_cuts: int = 6
    line_search: int = 3


@dataclass
class LocalState:
    """Converged state of one rank at one time.

    Attributes
    ----------
    time : float
    u : (3 n_local_nodes,) displacement
    strain, stress : (n_local_points, 6)
    internal : list[dict[str, array]]
        Law state per region (arrays over the region's points).
    temperature : (n_local_points,) or None
    """

    time: float
    u: np.ndarray
    strain: np.ndarray
    stress: np.ndarray
    internal: list
    temperature: np.ndarray | None
    history: list = field(default_factory=list)


def initial_state(disc, time: float) -> LocalState:
    """Zero displacement, strain and stress; the laws' initial internal variables."""
    n = disc.n_points
    return LocalState(
        time=float(time),
        u=np.zeros(disc.n_dofs),
        strain=np.zeros((n, 6)),
        stress=np.zeros((n, 6)),
        internal=[r.law.initial_state(len(r.points)) for r in disc.regions],
        temperature=_temperature(disc, time),
    )


def _temperature(disc, t: float) -> np.ndarray:
    """Temperature at the local points (zero where the problem has none)."""
    return disc.point_temperature(t)


def constitutive_update(disc, state: LocalState, strain: np.ndarray, T_new: np.ndarray, dt: float):
    """Stress, tangent and internal variables at the local points for a trial strain.

    Returns
    -------
    stress : (n_points, 6)
    tangent : (n_points, 6, 6)
    internal : list[dict]
    """
    n = disc.n_points
    stress = np.empty((n, 6))
    tangent = np.empty((n, 6, 6))
    internal = []
    d_strain = strain - state.strain
    T_initial = disc.initial_temperature          # thermal strains are measured from T_0
    for region, old in zip(disc.regions, state.internal):
        p = region.points
        s, D, new = region.law.update(state.strain[p], d_strain[p], old, state.temperature[p],
                                      T_new[p] - state.temperature[p], dt, T_initial=T_initial[p])
        stress[p], tangent[p] = s, D
        internal.append(new)
    return stress, tangent, internal


def newton_step(disc, system, state: LocalState, t_new: float, settings: NewtonSettings) -> LocalState:
    """Solve the equilibrium at ``t_new`` starting from the converged ``state``.

    The imposed-displacement increments enter through a tangent predictor (the
    linearised response at the converged state spreads them over the free dofs),
    so that a boundary layer of elements is not forced far into plasticity by the
    first trial. Iterations use the consistent tangent at the current trial; a
    correction the law cannot follow (non-finite stresses) is shortened.

    Raises
    ------
    ConvergenceError
        With the residual history when the iterations do not converge (or a law fails).
    """
    dt = t_new - state.time
    new, _, _ = solve_balance(disc, system, state, t_new, _temperature(disc, t_new), dt, disc.external_load(t_new),
                              settings)
    return new


def solve_balance(disc, system, state: LocalState, t_new: float, T_new: np.ndarray, dt: float, f_ext,
                  settings: NewtonSettings, *, inertia=None, label: str = "Newton"):
    """The Newton solve of :func:`newton_step`, with an optional inertia term (dynamics).

    Parameters
    ----------
    state : LocalState
        The converged state at the start of the step.
    T_new : (n_points,) temperature at the points at ``t_new``
    f_ext : (n_local_dofs,) external forces at ``t_new``
    inertia : object, optional
        ``inertia.force(u) -> (g, extra)``: the inertia, damping and start-of-step forces
        ``g`` at a trial displacement (a force like ``f_int``, counted in the force scale)
        and what the caller keeps of the converged trial (e.g. its velocity and
        acceleration); ``inertia.effective(K)``: the tangent of ``f_int + g`` from the
        tangent of ``f_int``. None: quasi-static.
    label : str
        The solver's name in the error message.

    Returns
    -------
    (LocalState, extra, f_int)
        The converged state, ``extra`` of the converged trial (None when quasi-static) and
        its internal forces ``(n_local_dofs,)``.
    """
    def tangent_of(stiffness):
        return stiffness if inertia is None else inertia.effective(stiffness)

    u = state.u.copy()
    imposed = np.zeros_like(u)
    imposed[disc.constrained] = disc.dirichlet_values(t_new)[disc.constrained] - u[disc.constrained]
    if system.any(np.any(imposed)):   # decided by all ranks together
        stress, tangent, _ = constitutive_update(disc, state, state.strain, T_new, dt)
        K = tangent_of(disc.stiffness(tangent))
        f_int = fem.internal_forces(disc.B, disc.weights, stress)
        if inertia is not None:
            f_int = f_int + inertia.force(u)[0]
        predictor = system.assemble(f_int - f_ext + K @ imposed)
        u = u + imposed + system.solve(K, _negate(system, predictor))
    history = []
    previous = None
    correction = None      # the predictor is the whole increment: no correction test before a Newton step
    f_ext_norm = _total_norm(system, system.assemble(f_ext))
    for iteration in range(settings.max_iterations + 1):
        strain = (disc.B @ u).reshape(-1, 6)
        stress, tangent, internal = constitutive_update(disc, state, strain, T_new, dt)
        f_int = fem.internal_forces(disc.B, disc.weights, stress)
        f_increment = fem.internal_forces(disc.B, disc.weights, np.einsum("pij,pj->pi", tangent, strain - state.strain))
        scale, extra = f_ext_norm, None
        if inertia is not None:
            g, extra = inertia.force(u)
            scale = max(f_ext_norm, _total_norm(system, system.assemble(g)))   # inertia and damping: forces too
        reference = reference_force(scale, _total_norm(system, system.assemble(f_int)),
                                    _total_norm(system, system.assemble(f_increment)))
        # assembled last: PETSc reuses one vector
        residual = system.assemble(f_int - f_ext if inertia is None else f_int + g - f_ext)
        free_norm, _ = system.norms(residual)
        history.append(free_norm)
        if not np.isfinite(free_norm):
            if previous is not None and previous[3] < settings.line_search:
                # the law could not follow the full correction: take a shorter one
                u_prev, norm_prev, du_prev, cuts = previous
                u = u_prev + 0.5 ** (cuts + 1) * du_prev
                previous = (u_prev, norm_prev, du_prev, cuts + 1)
                correction = None if correction is None else 0.5 * correction
                continue
            break
        increment = system.local_norms(u - state.u)[0] if correction is not None else 0.0
        if is_converged(free_norm, reference, correction, increment, rtol=settings.rtol, atol=settings.atol):
            return LocalState(t_new, u, strain, stress, internal, T_new, history), extra, f_int
        if iteration == settings.max_iterations:
            break
        K = tangent_of(disc.stiffness(tangent))
        du = system.solve(K, _negate(system, residual))
        previous = (u, free_norm, du, 0)
        correction = system.local_norms(du)[0]
        u = u + du
    raise ConvergenceError(
        f"{label} did not converge from t={state.time:g} to t={t_new:g} "
        f"in {settings.max_iterations} iterations; residual history "
        + ", ".join(f"{r:.3e}" for r in history)
    )


def _negate(system, vector):
    if isinstance(vector, np.ndarray):
        return -vector
    vector.scale(-1.0)
    return vector


def _total_norm(system, vector) -> float:
    free, fixed = system.norms(vector)
    return float(np.hypot(free, fixed))


def advance(disc, system, state: LocalState, t_new: float, settings: NewtonSettings,
            comm=None, level: int = 0) -> LocalState:
    """Reach ``t_new`` from ``state``, halving the step when Newton or a law fails.

    The failure decision is taken collectively (every rank cuts together).
    """
    return advance_halving(lambda start, t: newton_step(disc, system, start, t, settings), state, t_new, settings,
                           comm, level)


def advance_halving(step, state, t_new: float, settings: NewtonSettings, comm=None, level: int = 0,
                    what: str = "step"):
    """Reach ``t_new`` with ``step(state, t) -> state``, halving the step when it fails.

    The failure decision is taken collectively (every rank cuts together); at most
    ``settings.max_cuts`` halvings. ``what`` names the step in the log.
    """
    error = None
    try:
        new = step(state, t_new)
    except ConvergenceError as exc:
        new, error = None, exc
    failed = error is not None
    if comm is not None and comm.size > 1:
        failed = comm.allreduce(failed, op=_lor())
        if failed and error is None:
            error = ConvergenceError("another rank failed to converge")
    if not failed:
        return new
    if level >= settings.max_cuts:
        raise ConvergenceError(
            f"step to t={t_new:g} failed after {settings.max_cuts} halvings "
            f"(last substep from t={state.time:g}): {error}"
        ) from None
    t_mid = 0.5 * (state.time + t_new)
    log.info("cutting the %s to t=%g at t=%g (level %d): %s", what, t_new, t_mid, level + 1, error)
    half = advance_halving(step, state, t_mid, settings, comm, level + 1, what)
    return advance_halving(step, half, t_new, settings, comm, level + 1, what)


def _lor():
    from mpi4py import MPI

    return MPI.LOR


def with_time(state: LocalState, time: float) -> LocalState:
    return replace(state, time=time)
