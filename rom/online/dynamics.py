"""Reduced implicit dynamics: a hyper-reduced model answers a dynamic loading.

With ``u = u_D(t) + Φ q`` (:mod:`rom.lifting`: the modes vanish on the constrained dofs),
the Galerkin projection of the equation of motion of :mod:`rom.hifi.dynamics` is ::

    M_r q̈ + C_r q̇ + F_r(q) = f_r(t) − Φᵀ M ü_D − Φᵀ C u̇_D

- ``M_r = Φᵀ M Φ`` with the high-fidelity solver's mass (each material's density, the
  same ``mass_rule``). The POD of nirom is orthonormal in the mass inner product (density
  1, rule ``"high"``), so with one density ρ and the rule ``"high"`` ``M_r = ρ I`` up to
  round-off (:attr:`ReducedMass.orthonormality_defect` says how close); it is computed
  anyway, so that several densities, another mass rule or a basis that is not exactly
  orthonormal stay exact.
- ``F_r(q)`` and its tangent: the hyper-reduced internal forces of
  :meth:`rom.online.operator.RestrictedOperator.evaluate` (laws at the reduced points,
  one ``Allreduce`` per iteration), as in the quasi-static online solve.
- ``C_r = α M_r + β K₀ᵣ``: Rayleigh damping (:class:`rom.hifi.dynamics.Rayleigh`), ``K₀ᵣ``
  the hyper-reduced stiffness of the initial state (the laws' elastic tangent at the
  reduced points, the HF solver's ``K₀``).
- The lifting's inertia and damping: ``ℓ_M(t) = Φᵀ M u_D(t)`` and ``ℓ_K(t) = Φᵀ K₀ u_D(t)``
  (the latter hyper-reduced: ``Σ w Bᵣᵀ D₀ ε_D`` at the reduced points). Both are linear in
  ``u_D``, so their velocities and accelerations follow from their values with the
  scheme's update — exactly the reduced image of the HF solver's constrained-dof
  kinematics. ``Φᵀ M`` restricted to the constrained dofs is computed once per subdomain
  (:class:`ReducedMass`: the columns of the mass matrix at the subdomain's constrained
  dofs, ``n_modes × m`` numbers).

The schemes are :mod:`rom.hifi.dynamics`'s (Newmark, generalized-α with interpolated
forces), in reduced coordinates; the convergence test is :mod:`rom.convergence`'s with
the inertia and damping forces in the force scale; a failing step is halved (the same
decision on every rank: the reduced system is the same everywhere).

Cost. Once per solve (:meth:`ReducedMass.of`, collective, or passed in ``mass`` to reuse
it): the mass matrix of each held subdomain and ``n_modes`` sparse products with it
(the price of one HF mass assembly), one ``Allreduce`` of ``n × n``; the lifting terms
at every time of the problem in one more ``Allreduce`` (a halved step asks for its
intermediate time: one small ``Allreduce``). Per iteration nothing more than the
quasi-static online step (dense ``n × n`` algebra). Enrichment is not offered in
dynamics.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np

from io_adapters.errors import ConvergenceError, InputError

from rom.hifi.dynamics import NewmarkSettings, Rayleigh, Scheme, checked_step, local_mass
from rom.lifting import ImposedDisplacements, constrained_mask
from rom.online.fits import DualFits
from rom.online.newton import advance_halving, solve_balance
from rom.online.operator import ReducedState, RestrictedOperator
from rom.online.result import OnlineResult
from rom.parallel import allreduce_sum as _allreduce
from rom.settings import SolverSettings

log = logging.getLogger(__name__)

__all__ = ["DynamicResult", "ReducedDynamicState", "ReducedMass", "solve_dynamic"]


# ================================================================ reduced mass
@dataclass(frozen=True, eq=False)
class ReducedMass:
    """``Φᵀ M Φ`` of a model and ``Φᵀ M`` at the constrained dofs of its held subdomains.

    Attributes
    ----------
    matrix : (n_modes, n_modes)
        Summed over every subdomain (the same on every rank).
    lifting : tuple of (dofs (m,), coupling (n_modes, m))
        Per held subdomain: its constrained global dofs (``3·node + component``) and
        ``Φ_pᵀ M_p`` at them (the subdomain's part of the mass coupling).
    rule : str
        Integration rule of the mass matrix.
    """

    matrix: np.ndarray
    lifting: tuple
    rule: str

    @classmethod
    def of(cls, model, problem, comm=None, *, rule: str = "high") -> "ReducedMass":
        """Assemble it from the held subdomains' mass matrices (collective, once).

        Parameters
        ----------
        model : ReducedOrderModel
        problem : io_adapters.Problem
            Gives the density of each cell's material (``density``).
        comm : communicator, optional
        rule : str
            The HF solver's ``mass_rule``.
        """
        n = model.n_modes
        matrix = np.zeros((n, n))
        lifting = []
        for sub in model.subdomains:
            local, nodes = model.mesh.submesh(sub.cells)
            if not np.array_equal(nodes, sub.nodes):
                raise InputError(f"subdomain {sub.index}: its nodes are not those of its cells' submesh")
            modes = sub.displacement_modes                                   # (n, 3 n_l)
            mass_modes = local_mass(problem, local, sub.cells, rule) @ modes.T   # (3 n_l, n)
            matrix += modes @ mass_modes
            constrained = np.flatnonzero(constrained_mask(model.mesh, model.constrained, sub.nodes).ravel())
            dofs = 3 * sub.nodes[constrained // 3] + constrained % 3
            lifting.append((dofs.astype(np.int64), np.ascontiguousarray(mass_modes[constrained].T)))
        matrix = _allreduce(matrix, comm)
        return cls(0.5 * (matrix + matrix.T), tuple(lifting), rule)

    def orthonormality_defect(self, density: float) -> float:
        """``‖M_r − ρ I‖_max / ρ``: how far the modes are from M-orthonormal (for one density)."""
        return float(np.abs(self.matrix - density * np.eye(len(self.matrix))).max() / density)


class _Lifting:
    """``ℓ(t) = [Φᵀ M u_D(t), Φᵀ K₀ u_D(t)]`` (2 n_modes,), the same on every rank (cached per time)."""

    def __init__(self, operator: RestrictedOperator, mass: ReducedMass, stiffness: "InitialStiffness | None",
                 comm, times: np.ndarray):
        self.operator, self.mass, self.stiffness, self.comm = operator, mass, stiffness, comm
        self.n = operator.n_modes
        self.active = bool(operator.model.constrained)        # global: every rank decides alike
        self.imposed = [ImposedDisplacements(operator.problem, dofs) for dofs, _ in mass.lifting]
        self.cache: dict[float, np.ndarray] = {}
        if self.active:
            values = _allreduce(np.stack([self._local(float(t)) for t in times]), comm)   # one Allreduce
            self.cache = {float(t): v for t, v in zip(times, values)}

    def _local(self, t: float) -> np.ndarray:
        out = np.zeros(2 * self.n)
        for (_, coupling), imposed in zip(self.mass.lifting, self.imposed):
            out[:self.n] += coupling @ imposed.at(t)
        if self.stiffness is not None:
            out[self.n:] = self.stiffness.force(self.operator.lifting(t))
        return out

    def __call__(self, t: float) -> np.ndarray:
        if not self.active:
            return np.zeros(2 * self.n)
        t = float(t)
        if t not in self.cache:                                 # a halved step: collective
            self.cache[t] = _allreduce(self._local(t), self.comm)
        return self.cache[t]


class InitialStiffness:
    """The laws' tangent of the initial state at the reduced points: ``K₀ᵣ`` and ``Σ w Bᵣᵀ D₀ ε``."""

    def __init__(self, operator: RestrictedOperator, t0: float, comm):
        self.operator = operator
        n = operator.n_modes
        self.tangents = []
        K = np.zeros((n, n))
        for part in operator.parts:
            k = len(part.sub.points)
            T0 = part.initial_temperature
            D = np.zeros((k, 6, 6))
            for g in part.groups:
                p = g.points
                _, D[p], _ = g.law.update(np.zeros((len(p), 6)), np.zeros((len(p), 6)),
                                          g.law.initial_state(len(p)), T0[p], np.zeros(len(p)), 0.0,
                                          T_initial=T0[p])
            self.tangents.append(D)
            wBT, _ = part.weighted_operator()
            K += wBT @ np.matmul(D, part.sub.strain_operator).reshape(-1, n)
        self.matrix = _allreduce(K, comm)

    def force(self, strains: list) -> np.ndarray:
        """``Σ w Bᵣᵀ D₀ ε`` of strains at each part's reduced points (this rank's part), (n_modes,)."""
        out = np.zeros(self.operator.n_modes)
        for part, D, strain in zip(self.operator.parts, self.tangents, strains):
            wBT, _ = part.weighted_operator()
            out += wBT @ np.einsum("kij,kj->ki", D, strain).ravel()
        return out


# ===================================================================== state
@dataclass
class ReducedDynamicState:
    """Converged reduced state at one time.

    Attributes
    ----------
    base : ReducedState
        Coordinates, and the laws' state at the reduced points.
    v, a : (n_modes,)
        Reduced velocity and acceleration.
    F, f : (n_modes,)
        Reduced internal and external forces at this time.
    lift : (3, 2 n_modes)
        The lifting terms ``ℓ`` and their velocity and acceleration.
    """

    base: ReducedState
    v: np.ndarray
    a: np.ndarray
    F: np.ndarray
    f: np.ndarray
    lift: np.ndarray

    @property
    def time(self) -> float:
        return self.base.time

    @property
    def q(self) -> np.ndarray:
        return self.base.q


class _Dynamics:
    """What a reduced dynamic step needs besides the restricted operator."""

    def __init__(self, operator, mass: ReducedMass, damping: Rayleigh, scheme: Scheme, comm, times):
        n = operator.n_modes
        if mass.matrix.shape != (n, n):
            raise InputError(f"reduced mass {mass.matrix.shape} does not match the model's {n} modes")
        self.operator, self.scheme, self.damping = operator, scheme, damping
        self.M = mass.matrix
        stiffness = InitialStiffness(operator, float(times[0]), comm) if damping.stiffness > 0 else None
        self.C = damping.mass * self.M + (damping.stiffness * stiffness.matrix if stiffness is not None else 0.0)
        self.lifting = _Lifting(operator, mass, stiffness, comm, times)
        self.n = n

    def damping_of_lifting(self, lift_velocity: np.ndarray) -> np.ndarray:
        """``Φᵀ C u̇_D`` from ``ℓ̇``."""
        return self.damping.mass * lift_velocity[:self.n] + self.damping.stiffness * lift_velocity[self.n:]


# ==================================================================== a step
def _initial_state(dyn: _Dynamics, t0: float, q0: np.ndarray, v0: np.ndarray) -> ReducedDynamicState:
    operator = dyn.operator
    start = operator.initial_state(t0)
    temperatures = [operator.temperature(p, t0) for p in operator.parts]
    F, _, _, strain, stress, internal = operator.evaluate(start, q0, t0, temperatures)
    base = ReducedState(t0, q0.copy(), strain, stress, internal, temperatures, imposed=True)
    f = operator.external_load(t0)
    try:
        a = np.linalg.solve(dyn.M, f - F - dyn.C @ v0)
    except np.linalg.LinAlgError:
        raise ConvergenceError("the reduced mass matrix is singular") from None
    lift = np.stack([dyn.lifting(t0), np.zeros(2 * dyn.n), np.zeros(2 * dyn.n)])
    return ReducedDynamicState(base, v0.copy(), a, F, f, lift)


def dynamic_newton(dyn: _Dynamics, state: ReducedDynamicState, t_new: float,
                   settings: SolverSettings) -> ReducedDynamicState:
    """Solve the reduced balance of the scheme at ``t_new`` from the converged ``state``.

    Raises
    ------
    ConvergenceError
        With the residual history.
    """
    operator, scheme, M, C = dyn.operator, dyn.scheme, dyn.M, dyn.C
    dt = checked_step(t_new - state.time)
    temperatures = [operator.temperature(p, t_new) for p in operator.parts]
    lifting = operator.lifting(t_new)
    f = operator.external_load(t_new)
    lift = dyn.lifting(t_new)
    lift_v, lift_a = scheme.update(lift, state.lift[0], state.lift[1], state.lift[2], dt)
    w_new, w_old = scheme.inertia_weights
    n = dyn.n
    constant = (w_new * lift_a[:n] + dyn.damping_of_lifting(lift_v)
                + w_old * (M @ state.a + state.lift[2][:n])
                + scheme.history_weight * (C @ state.v + dyn.damping_of_lifting(state.lift[1]) + state.F - state.f))
    K_dynamic = scheme.mass_factor(dt) * M + scheme.damping_factor(dt) * C

    def force(q):
        """Inertia + damping + start-of-step forces at trial coordinates, and (q̇, q̈)."""
        v, a = scheme.update(q, state.q, state.v, state.a, dt)
        return w_new * (M @ a) + C @ v + constant, (v, a)

    inertia = SimpleNamespace(force=force, tangent=K_dynamic)
    base, (v, a), F = solve_balance(operator, state.base, t_new, temperatures, lifting, f, settings, inertia=inertia,
                                    label="reduced Newton (dynamics)")
    return ReducedDynamicState(base, v, a, F, f, np.stack([lift, lift_v, lift_a]))


def advance_dynamic(dyn: _Dynamics, state: ReducedDynamicState, t_new: float, settings: SolverSettings,
                    level: int = 0) -> ReducedDynamicState:
    """Reach ``t_new``, halving the step when Newton fails (the same decision on every rank)."""
    return advance_halving(lambda start, t: dynamic_newton(dyn, start, t, settings), state, t_new, settings, level,
                           what="reduced dynamic step")


# ==================================================================== result
@dataclass(frozen=True, eq=False)
class DynamicResult(OnlineResult):
    """An :class:`~rom.online.OnlineResult` with the reduced velocities and accelerations.

    Attributes
    ----------
    velocities, accelerations : tuple of (n_modes,) arrays
        ``q̇`` and ``q̈`` at each time (of the free part ``Φ q``; the constrained dofs
        follow the imposed displacements).
    dynamics : dict
        The scheme, the damping and the mass rule.
    """

    velocities: tuple = ()
    accelerations: tuple = ()
    dynamics: dict = field(default_factory=dict)

    @property
    def parameters(self) -> dict:
        return {**super().parameters, "velocities": [np.asarray(v).tolist() for v in self.velocities],
                "accelerations": [np.asarray(a).tolist() for a in self.accelerations], "dynamics": self.dynamics}


# ===================================================================== solve
def solve_dynamic(model, problem, comm=None, *, scheme: Scheme | None = None, settings: SolverSettings | None = None,
                  fields=None, output=None, damping: Rayleigh | None = None, mass: ReducedMass | None = None,
                  mass_rule: str = "high", indicator: str | None = None, initial=None) -> DynamicResult:
    """Solve a dynamic loading with a reduced-order model (every rank calls it).

    Parameters
    ----------
    model : ReducedOrderModel
        Built (:func:`rom.offline.build`) from dynamic training runs of
        :func:`rom.hifi.dynamics.solve_dynamic` (their displacements span the
        accelerations too).
    problem : io_adapters.Problem
        As for :func:`rom.online.solve`; every material needs a ``density``.
    comm : communicator, optional
    scheme : NewmarkSettings or GeneralizedAlphaSettings, optional
        Average acceleration by default; use the training runs' scheme.
    settings : SolverSettings, optional
        The reduced Newton's.
    fields : list of str, optional
        Dual quantities the result rebuilds (default: all of the model's).
    output : path, optional
        Write ``U`` and those fields to one store (+ XDMF), each rank its rows.
    damping : Rayleigh, optional
        The HF run's damping (none by default).
    mass : ReducedMass, optional
        Computed when omitted (collective; reuse it across solves of one model).
    mass_rule : str
        The HF run's mass rule (when ``mass`` is computed).
    indicator : str, optional
        Dual quantity whose Gappy-POD fit residual is the indicator (as :func:`rom.online.solve`).
    initial : ((n_modes,), (n_modes,)), optional
        Initial reduced coordinates and velocity (zero by default).

    Returns
    -------
    DynamicResult
        On every rank: the :class:`~rom.online.OnlineResult` of the solve (reduced
        coordinates, indicator, Newton iterations, timings; full fields on demand) with
        the reduced velocities and accelerations.
    """
    scheme = NewmarkSettings() if scheme is None else scheme
    damping = Rayleigh() if damping is None else damping
    settings = settings or SolverSettings()
    operator = RestrictedOperator(model, problem, comm)
    times = np.asarray(problem.times, dtype=np.float64)
    started = time.perf_counter()
    mass = mass if mass is not None else ReducedMass.of(model, problem, comm, rule=mass_rule)
    dyn = _Dynamics(operator, mass, damping, scheme, comm, times)
    fits = DualFits(operator)
    duals = tuple(sorted(fields)) if fields is not None else tuple(fits.names)
    if indicator is None:
        indicator = model.settings.get("indicator", {}).get("field") or (fits.names[0] if fits.names else None)
    n = model.n_modes
    q0, v0 = (np.zeros(n), np.zeros(n)) if initial is None else (np.asarray(initial[0], float),
                                                                  np.asarray(initial[1], float))
    if q0.shape != (n,) or v0.shape != (n,):
        raise InputError(f"initial reduced coordinates and velocity must have shape ({n},), "
                         f"found {q0.shape} and {v0.shape}")
    state = _initial_state(dyn, float(times[0]), q0, v0)
    setup = time.perf_counter() - started
    states, indicators, iterations = [state], [fits.indicator(state.base, indicator)], [0]
    for k in range(1, len(times)):
        try:
            state = advance_dynamic(dyn, state, float(times[k]), settings)
        except ConvergenceError as exc:
            raise ConvergenceError(f"{problem.source}: time step {k} (t={times[k]:g}): {exc}") from None
        states.append(state)
        indicators.append(fits.indicator(state.base, indicator))
        iterations.append(state.base.iterations)
        log.info("reduced dynamic step %d/%d t=%g: %d Newton iterations, indicator %.3e", k, len(times) - 1,
                 times[k], state.base.iterations, indicators[-1])
    result = DynamicResult(
        problem=problem, times=np.array([s.time for s in states]),
        reduced_coordinates=tuple(np.array(s.q) for s in states), indicator=np.array(indicators), watched={},
        newton_iterations=np.array(iterations), enrichments=(), online_seconds=time.perf_counter() - started,
        hf_seconds=0.0, model=model, fields_names=duals, comm=comm,
        _steps=tuple((operator, fits, s.base) for s in states),
        velocities=tuple(np.array(s.v) for s in states), accelerations=tuple(np.array(s.a) for s in states),
        dynamics={**scheme.describe(), "rayleigh_mass": damping.mass, "rayleigh_stiffness": damping.stiffness,
                  "mass_rule": mass.rule, "setup_seconds": setup})
    if output is not None:
        result.write(output)
    return result
