"""Implicit dynamics of the high-fidelity solver: Newmark and generalized-α.

The equation of motion on the free dofs is ::

    M a + C v + F_int(u) = f_ext(t)

with the consistent mass matrix ``M = ∫ ρ Nᵀ N`` (each material's ``density``, Zset's
``masvol``; integrated with ``mass_rule``, ``"high"`` by default: exact for every element
type, and the rule of the POD's inner product), the laws' internal forces at the
integration points (updated from the converged state of the step, as in the
quasi-static solver) and optional Rayleigh damping ``C = α M + β K₀`` (:class:`Rayleigh`;
``K₀`` is the tangent stiffness of the initial state — the elastic stiffness — kept
fixed, so that the damping force ``C v`` stays linear in the velocity).

Schemes
-------
Both update the velocity and acceleration from the displacement of the step
(``Δt = t_{n+1} − t_n``, any positive step, steps need not be uniform)::

    a_{n+1} = (u_{n+1} − u_n − Δt v_n − Δt² (1/2 − β) a_n) / (β Δt²)
    v_{n+1} = v_n + Δt ((1 − γ) a_n + γ a_{n+1})

- :class:`NewmarkSettings` — Newmark (β, γ); the default is the average acceleration
  (trapezoidal) rule β = 1/4, γ = 1/2: unconditionally stable, second order, and it
  conserves the energy ``½ vᵀ M v + ½ uᵀ K u`` of a linear undamped free vibration
  exactly (its only error is a period elongation, ``tan(ω̄Δt/2) = ωΔt/2``).
- :class:`GeneralizedAlphaSettings` — Chung & Hulbert (1993) with the spectral radius
  at infinity ``ρ∞ ∈ [0, 1]``: ``α_m = (2ρ∞ − 1)/(ρ∞ + 1)``, ``α_f = ρ∞/(ρ∞ + 1)``,
  ``γ = 1/2 − α_m + α_f``, ``β = (1 − α_m + α_f)²/4``. Balance at the intermediate
  instants::

      (1 − α_m) M a_{n+1} + α_m M a_n
        + (1 − α_f) (C v_{n+1} + F_int(u_{n+1}) − f_{n+1}) + α_f (C v_n + F_int(u_n) − f_n) = 0

  The internal and external forces are *interpolated* between the ends of the step
  (not evaluated at an interpolated displacement): the laws always integrate from the
  converged state ``n`` to ``n + 1``, which path-dependent laws need; for a linear
  problem both forms are the same. ρ∞ = 1 is the average-acceleration rule; ρ∞ < 1
  damps the high frequencies, second order accuracy kept.

Newton's tangent is ``K_t + c_m M + c_c C`` with ``c_m = (1 − α_m)/((1 − α_f) β Δt²)``,
``c_c = γ/(β Δt)`` (the balance divided by ``1 − α_f``); the convergence test is
:mod:`rom.convergence`'s, with the inertia and damping forces added to the force
scale (a free vibration has no external load). A failing step is halved, as in the
quasi-static solver (a halved step is just a non-uniform step for the schemes).

Imposed displacements
---------------------
The constrained dofs follow the imposed displacements ``u_D(t)``; their velocity and
acceleration are *computed from them with the scheme's update* (the same formulas as
the free dofs), starting from the initial velocity given there (zero by default) and a
zero initial acceleration. The inertia of the free dofs then includes the coupling
``M_fc a_c`` with the constrained ones; the reactions are never needed (the constrained
rows are eliminated, as in the quasi-static solver).

Initial state
-------------
Displacement ``u₀`` and velocity ``v₀`` (zero by default; on the constrained dofs ``u₀``
takes the imposed values at the first time). The laws are loaded from their virgin
state to the strain of ``u₀`` in one increment of zero duration (no viscous flow).
The initial acceleration solves ``M a₀ = f(t₀) − F_int(u₀) − C v₀`` on the free dofs.

>>> from rom.hifi.dynamics import GeneralizedAlphaSettings, NewmarkSettings, Rayleigh, solve_dynamic
>>> sim = solve_dynamic(problem, scheme=NewmarkSettings())          # U, V, A and the IP fields
>>> sim = solve_dynamic(problem, scheme=GeneralizedAlphaSettings(rho_inf=0.8), damping=Rayleigh(mass=2.0))
"""

from __future__ import annotations

import logging
import math
import time as _time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import scipy.sparse as sp

from io_adapters.errors import ConfigError, ConvergenceError, InputError
from io_adapters.simulation import Simulation

from rom import fem
from rom.hifi.discretization import build
from rom.hifi.linear import make_system
from rom.hifi.newton import (LocalState, NewtonSettings, advance_halving, constitutive_update, initial_state,
                             solve_balance)
from rom.hifi.solver import _gather, _output_layout, _result_on_every_rank, _Sink, solver_choices

log = logging.getLogger(__name__)

__all__ = ["DynamicState", "GeneralizedAlphaSettings", "NewmarkSettings", "Rayleigh", "Scheme", "solve_dynamic"]


# ====================================================================== schemes
@dataclass(frozen=True)
class Rayleigh:
    """Rayleigh damping ``C = mass · M + stiffness · K₀``.

    Attributes
    ----------
    mass : float
        α (1/time), ≥ 0.
    stiffness : float
        β (time), ≥ 0. ``K₀`` is the stiffness of the initial state (the laws' elastic
        tangent), fixed during the computation.
    """

    mass: float = 0.0
    stiffness: float = 0.0

    def __post_init__(self):
        for name in ("mass", "stiffness"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                    or not math.isfinite(value) or value < 0:
                raise ConfigError(f"Rayleigh damping: '{name}' must be a finite number ≥ 0, found {value!r}")
            object.__setattr__(self, name, float(value))

    @property
    def active(self) -> bool:
        return self.mass > 0 or self.stiffness > 0


class Scheme:
    """The update shared by Newmark and generalized-α (``alpha_m``, ``alpha_f``, ``beta``, ``gamma``)."""

    alpha_m: float
    alpha_f: float
    beta: float
    gamma: float

    def update(self, u_new, u, v, a, dt: float):
        """Velocity and acceleration at the end of a step from its end displacement.

        Works on any arrays (dof vectors, reduced coordinates) or floats.

        Returns
        -------
        v_new, a_new
        """
        dt = checked_step(dt)
        a_new = (u_new - u - dt * v - dt * dt * (0.5 - self.beta) * a) / (self.beta * dt * dt)
        v_new = v + dt * ((1.0 - self.gamma) * a + self.gamma * a_new)
        return v_new, a_new

    def mass_factor(self, dt: float) -> float:
        """``c_m = (1 − α_m)/((1 − α_f) β Δt²)``: ∂(inertia)/∂u of the balance over ``1 − α_f``."""
        return (1.0 - self.alpha_m) / ((1.0 - self.alpha_f) * self.beta * dt * dt)

    def damping_factor(self, dt: float) -> float:
        """``c_c = γ/(β Δt)``: ∂v_{n+1}/∂u_{n+1}."""
        return self.gamma / (self.beta * dt)

    @property
    def inertia_weights(self) -> tuple[float, float]:
        """Weights of ``M a_{n+1}`` and ``M a_n`` in the balance divided by ``1 − α_f``."""
        return (1.0 - self.alpha_m) / (1.0 - self.alpha_f), self.alpha_m / (1.0 - self.alpha_f)

    @property
    def history_weight(self) -> float:
        """Weight ``α_f/(1 − α_f)`` of the forces at the start of the step."""
        return self.alpha_f / (1.0 - self.alpha_f)

    def describe(self) -> dict:
        """The scheme as plain data (for the results' provenance)."""
        return {"scheme": type(self).__name__, "alpha_m": self.alpha_m, "alpha_f": self.alpha_f,
                "beta": self.beta, "gamma": self.gamma}


def checked_step(dt: float) -> float:
    """A time step the schemes can take (finite and > 0), else an InputError."""
    dt = float(dt)
    if not (math.isfinite(dt) and dt > 0.0):
        raise InputError(f"implicit dynamics: the time step must be finite and > 0, found Δt = {dt!r} "
                         "(the times must increase strictly)")
    return dt


def _real(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value):
        raise ConfigError(f"{what} must be a finite number, found {value!r}")
    return float(value)


@dataclass(frozen=True)
class NewmarkSettings(Scheme):
    """Newmark's scheme; the default (β = 1/4, γ = 1/2) is the average-acceleration rule.

    Attributes
    ----------
    beta : float
        > 0. Unconditionally stable for ``2β ≥ γ ≥ 1/2``.
    gamma : float
        > 0. ``γ > 1/2`` adds numerical damping (first order then).
    """

    beta: float = 0.25
    gamma: float = 0.5

    def __post_init__(self):
        beta, gamma = _real(self.beta, "Newmark: beta"), _real(self.gamma, "Newmark: gamma")
        if beta <= 0 or gamma <= 0:
            raise ConfigError(f"Newmark: beta and gamma must be > 0, found beta={beta}, gamma={gamma} "
                              "(beta = 0 is an explicit scheme, not offered)")
        object.__setattr__(self, "beta", beta)
        object.__setattr__(self, "gamma", gamma)

    @property
    def alpha_m(self) -> float:
        return 0.0

    @property
    def alpha_f(self) -> float:
        return 0.0


@dataclass(frozen=True)
class GeneralizedAlphaSettings(Scheme):
    """Chung–Hulbert generalized-α with the spectral radius at infinity ``rho_inf``.

    Attributes
    ----------
    rho_inf : float
        In [0, 1]: 1 keeps every frequency (average acceleration), 0 annihilates the
        highest ones in one step. Default 0.8.
    """

    rho_inf: float = 0.8

    def __post_init__(self):
        rho = _real(self.rho_inf, "generalized-α: rho_inf")
        if not 0.0 <= rho <= 1.0:
            raise ConfigError(f"generalized-α: rho_inf must be in [0, 1], found {rho}")
        object.__setattr__(self, "rho_inf", rho)

    @property
    def alpha_m(self) -> float:
        return (2.0 * self.rho_inf - 1.0) / (self.rho_inf + 1.0)

    @property
    def alpha_f(self) -> float:
        return self.rho_inf / (self.rho_inf + 1.0)

    @property
    def gamma(self) -> float:
        return 0.5 - self.alpha_m + self.alpha_f

    @property
    def beta(self) -> float:
        return 0.25 * (1.0 - self.alpha_m + self.alpha_f) ** 2

    def describe(self) -> dict:
        return {**super().describe(), "rho_inf": self.rho_inf}


# ==================================================================== operators
def check_mass_rule(cell_types, rule: str) -> None:
    """Refuse a mass rule that gives singular element masses (e.g. ``"default"`` on tetra10).

    Every element mass ``Σ_q w_q N(ξ_q)ᵀ N(ξ_q)`` must be positive definite on the
    reference element; the assembled mass is then positive definite.
    """
    bad = []
    for cell_type in cell_types:
        quadrature = fem.quadrature_rule(cell_type, rule)
        N = fem.reference_element(cell_type).shape_functions(quadrature.points)
        mass = N.T @ (quadrature.weights[:, None] * N)
        eigenvalues = np.linalg.eigvalsh(mass)
        if eigenvalues[0] <= 1e-10 * eigenvalues[-1]:
            bad.append(f"{cell_type} ({quadrature.n_points} points for {N.shape[1]} nodes)")
    if bad:
        raise ConfigError(f"implicit dynamics: the mass rule '{rule}' gives singular element masses for "
                          f"{', '.join(bad)}: use mass_rule='high'")


def cell_densities(problem, cells: np.ndarray | None = None) -> np.ndarray:
    """Density of each cell (or of some cells), from its material's ``density`` (``masvol``).

    Raises
    ------
    ConfigError
        Naming the materials that have no density: every material of the problem that
        governs some cell is checked, whatever ``cells`` (every rank decides alike).
    """
    from rom.materials import from_spec

    names, index = problem.material_of_cells()
    rho = np.zeros(len(names))
    missing = []
    for m in np.unique(index):
        density = from_spec(problem.materials[names[m]]).density
        if density is None:
            missing.append(names[m])
        else:
            rho[m] = float(density)
    if missing:
        raise ConfigError(f"{problem.source}: implicit dynamics needs the density (masvol) of material(s) "
                          f"{', '.join(repr(n) for n in missing)}")
    return rho[index if cells is None else index[np.asarray(cells, dtype=np.int64)]]


def local_mass(problem, mesh, cells: np.ndarray, rule: str) -> sp.csr_matrix:
    """Consistent mass ``(3 n_nodes, 3 n_nodes)`` of a submesh whose cells are the global ``cells``.

    The rule and the densities are checked on the whole problem (every rank decides alike).
    """
    check_mass_rule(problem.mesh.cells, rule)
    density = np.repeat(cell_densities(problem, cells), fem.point_counts(mesh, rule))
    return sp.csr_matrix(fem.mass_matrix(mesh, rule=rule, density=density, n_components=3))


def on_pattern(pattern: sp.csr_matrix, matrix: sp.csr_matrix) -> sp.csr_matrix | None:
    """``matrix`` stored on the sparsity pattern of ``pattern`` (None when it does not fit in it).

    Keeps the pattern of the effective tangent fixed: the PETSc system then keeps its
    preallocation, and ``K + c M`` is a sum of data arrays.
    """
    pattern = sp.csr_matrix(pattern)
    if not pattern.has_sorted_indices:
        return None
    n = pattern.shape[0]
    keys = np.repeat(np.arange(n, dtype=np.int64), np.diff(pattern.indptr)) * n + pattern.indices
    coo = sp.coo_matrix(matrix)
    coo.sum_duplicates()
    wanted = coo.row.astype(np.int64) * n + coo.col
    position = np.searchsorted(keys, wanted)
    if np.any(position >= len(keys)) or not np.array_equal(keys[np.minimum(position, len(keys) - 1)], wanted):
        return None
    data = np.zeros(pattern.nnz)
    data[position] = coo.data
    return sp.csr_matrix((data, pattern.indices.copy(), pattern.indptr.copy()), shape=pattern.shape)


class DynamicOperators:
    """This rank's mass and damping matrices (local numbering, the rank's element contributions).

    Parameters
    ----------
    disc : Discretization
    mass_rule : str
    damping : Rayleigh
    """

    def __init__(self, disc, mass_rule: str, damping: Rayleigh):
        self.damping = damping
        state = initial_state(disc, float(disc.problem.times[0]))
        _, tangent, _ = constitutive_update(disc, state, state.strain, state.temperature, 0.0)
        K0 = disc.stiffness(tangent)                              # elastic stiffness, the tangent's pattern
        mass = local_mass(disc.problem, disc.local, disc.cells, mass_rule)
        self.pattern = (K0.indptr, K0.indices)
        aligned = on_pattern(K0, mass)
        self.mass = aligned if aligned is not None else mass
        self.aligned = aligned is not None
        self.stiffness0 = K0 if damping.stiffness > 0 else None

    def damping_force(self, v: np.ndarray) -> np.ndarray:
        """``C v`` (the rank's contributions), (n_dofs,)."""
        out = np.zeros_like(v)
        if self.damping.mass > 0:
            out += self.damping.mass * (self.mass @ v)
        if self.stiffness0 is not None:
            out += self.damping.stiffness * (self.stiffness0 @ v)
        return out

    def effective(self, K: sp.csr_matrix, c_m: float, c_c: float) -> sp.csr_matrix:
        """``K + c_m M + c_c C`` (on K's pattern when it is the assembler's)."""
        m = c_m + c_c * self.damping.mass
        k = c_c * self.damping.stiffness
        if self.aligned and np.array_equal(K.indptr, self.pattern[0]) and np.array_equal(K.indices, self.pattern[1]):
            data = K.data + m * self.mass.data
            if k:
                data = data + k * self.stiffness0.data
            return sp.csr_matrix((data, K.indices, K.indptr), shape=K.shape)
        out = K + m * self.mass
        return out + k * self.stiffness0 if k else out


# ======================================================================== state
@dataclass
class DynamicState:
    """Converged state of one rank at one time.

    Attributes
    ----------
    static : LocalState
        Displacement, strains, stresses, internal variables, temperature.
    v, a : (3 n_local_nodes,)
        Velocity and acceleration.
    f_int, f_ext : (3 n_local_nodes,)
        The rank's internal force contributions and external load at this time
        (generalized-α interpolates the forces between the ends of a step).
    """

    static: LocalState
    v: np.ndarray
    a: np.ndarray
    f_int: np.ndarray
    f_ext: np.ndarray

    @property
    def time(self) -> float:
        return self.static.time

    @property
    def u(self) -> np.ndarray:
        return self.static.u


def _global_rows(values, disc, what: str) -> np.ndarray:
    """A global nodal field (n_nodes, 3) (or flat) → this rank's dofs (3 n_local_nodes,)."""
    values = np.asarray(values, dtype=np.float64)
    n = disc.problem.mesh.n_nodes
    if values.size != 3 * n:
        raise InputError(f"{disc.problem.source}: {what} must have shape ({n}, 3), found {values.shape}")
    if not np.all(np.isfinite(values)):
        raise InputError(f"{disc.problem.source}: {what} holds NaN or Inf")
    return values.reshape(n, 3)[disc.local.point_ids].ravel()


def initial_dynamic_state(disc, system, ops: DynamicOperators, t0: float, u0=None, v0=None) -> DynamicState:
    """The state at the first time: ``u₀``, ``v₀`` and the acceleration of the equation of motion."""
    state = initial_state(disc, t0)
    u = np.zeros(disc.n_dofs) if u0 is None else _global_rows(u0, disc, "the initial displacement")
    v = np.zeros(disc.n_dofs) if v0 is None else _global_rows(v0, disc, "the initial velocity")
    u[disc.constrained] = disc.dirichlet_values(t0)[disc.constrained]
    if system.any(np.any(u)):
        strain = (disc.B @ u).reshape(-1, 6)
        stress, _, internal = constitutive_update(disc, state, strain, state.temperature, 0.0)
        state = LocalState(t0, u, strain, stress, internal, state.temperature)
    f_int = fem.internal_forces(disc.B, disc.weights, state.stress)
    f_ext = disc.external_load(t0)
    rhs = system.assemble(f_ext - f_int - ops.damping_force(v))
    try:
        a = system.solve(ops.mass, rhs)
    except ConvergenceError as exc:
        raise ConvergenceError(f"{disc.problem.source}: the mass matrix is singular ({exc})") from None
    a[disc.constrained] = 0.0
    return DynamicState(state, v, a, f_int, f_ext)


# ===================================================================== a step
def dynamic_step(disc, system, ops: DynamicOperators, scheme: Scheme, state: DynamicState, t_new: float,
                 settings: NewtonSettings) -> DynamicState:
    """Solve the balance of the scheme at ``t_new`` from the converged ``state``.

    As in the quasi-static :func:`rom.hifi.newton.newton_step`: the imposed-displacement
    increment enters through a predictor with the tangent of the converged state, then
    Newton iterations with the consistent tangent, a correction the laws cannot follow
    is shortened.

    Raises
    ------
    ConvergenceError
        With the residual history.
    """
    old = state.static
    dt = checked_step(t_new - old.time)
    T_new = disc.point_temperature(t_new)
    f_ext = disc.external_load(t_new)
    w_new, w_old = scheme.inertia_weights
    history_force = (w_old * (ops.mass @ state.a)
                     + scheme.history_weight * (ops.damping_force(state.v) + state.f_int - state.f_ext))
    c_m, c_c = scheme.mass_factor(dt), scheme.damping_factor(dt)

    def force(u):
        """Inertia + damping + start-of-step forces at a trial displacement, and (v, a)."""
        v, a = scheme.update(u, old.u, state.v, state.a, dt)
        return w_new * (ops.mass @ a) + ops.damping_force(v) + history_force, (v, a)

    inertia = SimpleNamespace(force=force, effective=lambda K: ops.effective(K, c_m, c_c))
    static, (v, a), f_int = solve_balance(disc, system, old, t_new, T_new, dt, f_ext, settings, inertia=inertia,
                                          label="Newton (dynamics)")
    return DynamicState(static, v, a, f_int, f_ext)


def advance_dynamic(disc, system, ops: DynamicOperators, scheme: Scheme, state: DynamicState, t_new: float,
                    settings: NewtonSettings, comm=None, level: int = 0) -> DynamicState:
    """Reach ``t_new``, halving the step when Newton or a law fails (collective decision)."""
    return advance_halving(lambda start, t: dynamic_step(disc, system, ops, scheme, start, t, settings), state, t_new,
                           settings, comm, level, what="dynamic step")


# ====================================================================== solve
def solve_dynamic(problem, comm=None, *, scheme: Scheme | None = None, output: str | Path | None = None,
                  settings: NewtonSettings | None = None, rule: str | None = None, linear_solver: str | None = None,
                  damping: Rayleigh | None = None, initial_displacement=None, initial_velocity=None,
                  mass_rule: str = "high", cell_parts: np.ndarray | None = None) -> Simulation | None:
    """Solve a problem's equation of motion over its time steps (implicit dynamics).

    The quasi-static solver's machinery (:func:`rom.hifi.solve`: each rank its METIS
    part, scipy in serial or PETSc, the laws at the integration points, Newton with the
    consistent tangent, halving) with inertia: see the module docstring.

    Parameters
    ----------
    problem : io_adapters.Problem
        Every material needs a ``density``.
    comm : mpi4py communicator, optional
    scheme : NewmarkSettings or GeneralizedAlphaSettings, optional
        Average acceleration (``NewmarkSettings()``) by default.
    output : path, optional
        Write the results to this store as they are computed (``.h5`` + XDMF).
    settings : NewtonSettings, optional
        Defaults from ``problem.solver`` (as :func:`rom.hifi.solve`).
    rule : str, optional
        Integration rule of the stiffness and the integration-point fields.
    linear_solver : {"auto", "scipy", "mumps", "cg-gamg"}, optional
    damping : Rayleigh, optional
        No damping by default.
    initial_displacement, initial_velocity : (n_nodes, 3) arrays, optional
        Zero by default (the constrained dofs' displacement is the imposed one).
    mass_rule : str
        Integration rule of the mass matrix (``"high"``: exact for every element type;
        a rule giving singular element masses is refused).
    cell_parts : (n_cells,) int array, optional

    Returns
    -------
    Simulation or None
        Node fields ``U``, ``V``, ``A`` (displacement, velocity, acceleration) and the
        integration-point fields of :func:`rom.hifi.solve`, at every time of
        ``problem.times``; rank 0 gets it under MPI (the others None unless ``output``).
        The scheme is recorded in ``provenance["dynamics"]``.

    Raises
    ------
    ConfigError
        A material without density, a scheme's parameters out of range, a singular mass rule.
    ConvergenceError
        A step failed after the maximum number of halvings (``output`` keeps the steps before).
    """
    scheme = NewmarkSettings() if scheme is None else scheme
    if not isinstance(scheme, Scheme):
        raise ConfigError(f"implicit dynamics: scheme must be NewmarkSettings or GeneralizedAlphaSettings, "
                          f"found {type(scheme).__name__}")
    damping = Rayleigh() if damping is None else damping
    rule, settings, linear_solver = solver_choices(problem, rule, settings, linear_solver)
    rank = 0 if comm is None else comm.rank
    started = _time.perf_counter()

    disc = build(problem, rule=rule, comm=comm, cell_parts=cell_parts)
    ops = DynamicOperators(disc, mass_rule, damping)
    system = make_system(disc, comm, linear_solver)
    times = np.asarray(problem.times, dtype=np.float64)
    state = initial_dynamic_state(disc, system, ops, float(times[0]), initial_displacement, initial_velocity)
    names = _layout(disc, state.static)
    provenance = {"solver": "nirom.rom.hifi.dynamics",
                  "dynamics": {**scheme.describe(), "rayleigh_mass": damping.mass,
                               "rayleigh_stiffness": damping.stiffness, "mass_rule": mass_rule}}
    sink = _Sink(problem, names, rule, output, rank, settings, extra_provenance=provenance)
    iterations = 0
    try:
        sink.add(_gather(disc, state.static, names, comm, nodal=_kinematics(state)), times[0])
        for k in range(1, len(times)):
            try:
                state = advance_dynamic(disc, system, ops, scheme, state, float(times[k]), settings, comm)
            except ConvergenceError as exc:
                raise ConvergenceError(f"{problem.source}: time step {k} (t={times[k]:g}): {exc}") from None
            iterations += len(state.static.history) - 1
            log.info("dynamic step %d/%d t=%g: %d Newton iterations, residuals %s", k, len(times) - 1, times[k],
                     len(state.static.history) - 1, " ".join(f"{r:.2e}" for r in state.static.history))
            sink.add(_gather(disc, state.static, names, comm, nodal=_kinematics(state)), times[k])
    finally:
        result = sink.close()
    log.info("solved %d dynamic steps in %.2f s (%d Newton iterations)", len(times) - 1,
             _time.perf_counter() - started, iterations)
    return _result_on_every_rank(result, output, comm)


def _layout(disc, state: LocalState) -> dict:
    """The quasi-static solver's output fields with ``V`` and ``A`` after ``U``."""
    layout = _output_layout(disc, state)
    nodal = {"U": layout.pop("U"), "V": ("node", ("V1", "V2", "V3")), "A": ("node", ("A1", "A2", "A3"))}
    return {**nodal, **layout}


def _kinematics(state: DynamicState) -> dict:
    return {"V": state.v.reshape(-1, 3), "A": state.a.reshape(-1, 3)}
