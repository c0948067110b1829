"""Linear reduced dynamics: constant reduced matrices, one factorisation, many loadings.

When every law of a model is isotropic linear elasticity with no temperature
dependence, the hyper-reduced operator of :mod:`rom.online.operator` is affine in the
reduced coordinates and in the imposed values: at the reduced points
``ε = Bᵣ q + L g(t)`` (``g``: the imposed displacements at the lifting dofs, ``L``:
their strain, :attr:`SubdomainModel.lifting_strain`) and ``σ = D ε``, so ::

    F_r(q, t) = K_r q + P_K g(t),   K_r = Σ w Bᵣᵀ D Bᵣ,   P_K = Σ w Bᵣᵀ D L

(the same sums as the Newton path, at the same reduced points and weights). The
reduced equation of motion of :mod:`rom.online.dynamics` then has constant matrices;
each step of the scheme (Newmark, generalized-α) is one solve with the effective
matrix ``J = K_r + c_m M_r + c_c C_r``, factorised once per distinct step size:
exactly the converged answer of :func:`rom.online.dynamics.solve_dynamic` (its residual
is affine, so one Newton correction from any trial lands on it) without evaluating
the laws. The dual quantities are linear too: their Gappy-POD coordinates are
``A_q q + A_g g`` (``A = Φ_S⁺ D [Bᵣ | L]``), for every time in one product.

Cost of one loading: the imposed values at the ``m`` lifting dofs (given, or read from
a problem), ``(n_t × m) @ (m × 3n)`` for the lifting terms, and ``n_t`` steps of
``n × n`` algebra; nothing scales with the high-fidelity mesh. This is the path a
Monte Carlo over boundary conditions takes (:class:`rom.submodel_mc.ReducedSubmodel`).

Under MPI each rank holds its subdomains: the matrices are summed once when built
(one ``Allreduce``), and each solve sums the ranks' lifting and dual terms of every
time in one ``Allreduce``; the recurrence itself is the same small computation on
every rank.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as sla

from io_adapters.errors import ConvergenceError, InputError

from rom.hifi.dynamics import NewmarkSettings, Rayleigh, Scheme, checked_step
from rom.lifting import ImposedDisplacements
from rom.online.fits import DualFits
from rom.online.operator import ReducedState, RestrictedOperator
from rom.parallel import allreduce_sum as _allreduce

__all__ = ["LinearReducedDynamics", "LinearSolution", "is_linear", "solve_linear_dynamic"]

#: The dual quantities the linear path rebuilds (a linear elastic law has no other).
LINEAR_DUALS = ("sig", "eto")


def is_linear(model, problem=None) -> tuple[bool, str]:
    """Whether the linear path applies to a model (and a problem), and why not.

    Returns
    -------
    (bool, str)
        ``True, ""`` when every material is ``linear_elastic`` without temperature
        dependence (or the problem has no temperature history) and every dual is
        ``sig`` or ``eto``; else ``False`` and the reason.
    """
    from rom.materials import from_spec

    has_temperature = problem is not None and problem.temperature is not None
    for name, spec in model.materials.items():
        law = from_spec(spec)
        if law.behavior != "linear_elastic":
            return False, f"material '{name}' is {law.behavior!r}, not linear_elastic"
        if law.uses_temperature and (problem is None or has_temperature):
            return False, f"material '{name}' depends on temperature"
    extra = sorted({d for s in model.subdomains for d in s.duals} - set(LINEAR_DUALS))
    if extra:
        return False, f"dual quantities {extra} are not linear in the displacement"
    return True, ""


@dataclass(frozen=True, eq=False)
class LinearSolution:
    """Reduced coordinates of one loading, every time.

    Attributes
    ----------
    times : (n_t,)
    q : (n_t, n_modes)
        Coordinates of the free part ``Φ q``.
    imposed : (n_t, m)
        The imposed values at this rank's lifting dofs (:attr:`LinearReducedDynamics.dofs`).
    seconds : float
        Wall time of the solve.
    modal_rates : ((n_t, n_modes), (n_t, n_modes), (n_modes, n_modes))
        Velocities and accelerations in the decoupling basis, and that basis:
        :attr:`v` and :attr:`a` are computed from them when asked (a Monte Carlo
        sample needs ``q`` only).
    """

    times: np.ndarray
    q: np.ndarray
    imposed: np.ndarray
    seconds: float
    modal_rates: tuple = field(repr=False)

    @functools.cached_property
    def v(self) -> np.ndarray:
        """Velocities of the free part, (n_t, n_modes)."""
        velocities, _, basis = self.modal_rates
        return velocities @ basis.T

    @functools.cached_property
    def a(self) -> np.ndarray:
        """Accelerations of the free part, (n_t, n_modes)."""
        _, accelerations, basis = self.modal_rates
        return accelerations @ basis.T


class LinearReducedDynamics:
    """The constant reduced operators of a linear model for one problem template (collective to build).

    Parameters
    ----------
    model : ReducedOrderModel
        Linear (:func:`is_linear`), with the dynamic training of
        :func:`rom.online.dynamics.solve_dynamic`.
    problem : io_adapters.Problem
        The template: mesh, materials (with ``density``), times, external loads and the
        imposed conditions whose values :meth:`solve` may replace.
    comm : communicator, optional
    scheme : NewmarkSettings or GeneralizedAlphaSettings, optional
        Average acceleration by default.
    damping : Rayleigh, optional
    mass : ReducedMass, optional
        Computed when omitted (collective).
    mass_rule : str
    fields : list of str, optional
        Dual quantities whose coordinates :meth:`dual_coordinates` gives (default: every
        one of the model's).

    Attributes
    ----------
    dofs : (m,) int array
        This rank's lifting dofs (``3·node + component``): where the imposed values enter.
    M, C, K : (n_modes, n_modes)
        Reduced mass, damping and stiffness (the same on every rank).
    loads : (n_t, n_modes)
        The template's reduced external forces at its times.
    """

    def __init__(self, model, problem, comm=None, *, scheme: Scheme | None = None, damping: Rayleigh | None = None,
                 mass=None, mass_rule: str = "high", fields=None):
        from rom.online.dynamics import InitialStiffness, ReducedMass

        linear, why = is_linear(model, problem)
        if not linear:
            raise InputError(f"{problem.source}: the linear reduced dynamics does not apply: {why}; "
                             "use rom.online.dynamics.solve_dynamic")
        started = time.perf_counter()
        self.model, self.problem, self.comm = model, problem, comm
        self.scheme = NewmarkSettings() if scheme is None else scheme
        self.damping = Rayleigh() if damping is None else damping
        self.times = np.asarray(problem.times, dtype=np.float64)
        for dt in np.diff(self.times):
            checked_step(dt)
        operator = self.operator = RestrictedOperator(model, problem, comm)
        self.mass = mass if mass is not None else ReducedMass.of(model, problem, comm, rule=mass_rule)
        n = self.n = model.n_modes
        if self.mass.matrix.shape != (n, n):
            raise InputError(f"reduced mass {self.mass.matrix.shape} does not match the model's {n} modes")
        # this rank's lifting dofs: the constrained dofs of the mass coupling ∪ those straining the reduced points
        pieces = [d for d, _ in self.mass.lifting] + [p.sub.lifting_dofs for p in operator.parts if p.sub.has_lifting]
        self.dofs = np.unique(np.concatenate(pieces)).astype(np.int64) if pieces else np.zeros(0, np.int64)
        m = len(self.dofs)
        # K_r and the laws' tangents at the reduced points: the dynamic Newton path's own (Rayleigh's K₀ᵣ)
        stiffness = InitialStiffness(operator, float(self.times[0]), comm)
        coupling_mass, coupling_stiffness = np.zeros((n, m)), np.zeros((n, m))
        self._lifting_maps = []       # per part: (D (k, 6, 6), strain of the lifting dofs (k, 6, m))
        for (dofs, coupling), part, D in zip(self.mass.lifting, operator.parts, stiffness.tangents):
            np.add.at(coupling_mass.T, np.searchsorted(self.dofs, dofs), coupling.T)
            k = len(part.sub.points)
            strain_g = np.zeros((6 * k, m))
            if part.sub.has_lifting:
                strain_g[:, np.searchsorted(self.dofs, part.sub.lifting_dofs)] = part.sub.lifting_strain.toarray()
            strain_g = strain_g.reshape(k, 6, m)
            wBT, _ = part.weighted_operator()                                     # (n, 6k)
            coupling_stiffness += wBT @ np.matmul(D, strain_g).reshape(-1, m)
            self._lifting_maps.append((D, strain_g))
        self.K = 0.5 * (stiffness.matrix + stiffness.matrix.T)
        self.coupling_mass, self.coupling_stiffness = coupling_mass, coupling_stiffness
        self.M = self.mass.matrix
        self.C = self.damping.mass * self.M + self.damping.stiffness * self.K
        self.loads = np.stack([operator.external_load(float(t)) for t in self.times])
        self.fits = DualFits(operator)
        names = tuple(sorted(fields)) if fields is not None else tuple(self.fits.names)
        unknown = sorted(set(names) - set(self.fits.names))
        if unknown:
            raise InputError(f"{problem.source}: the model has no Gappy-POD basis of {unknown} "
                             f"(its duals: {', '.join(self.fits.names) or 'none'})")
        self.fields = names
        self._dual_maps = {name: self._dual_map(name) for name in names}
        self._modes_of_matrices()
        self._effective_cache: dict[float, np.ndarray] = {}
        self._transitions: dict[float, np.ndarray] = {}
        self.setup_seconds = time.perf_counter() - started

    # ------------------------------------------------------------- set-up pieces
    def _modes_of_matrices(self) -> None:
        """``K φ = λ M φ`` (``φᵀ M φ = I``): the reduced system decouples (Rayleigh damping too)."""
        try:
            lam, modes = sla.eigh(self.K, self.M)
        except (sla.LinAlgError, ValueError):
            raise ConvergenceError("the reduced mass matrix is not positive definite (or the matrices are not "
                                   "finite): the linear reduced dynamics cannot decouple them") from None
        if lam.min() <= -1e-9 * max(abs(lam.max()), 1e-300):
            raise ConvergenceError(f"the reduced stiffness has a negative eigenvalue ({lam.min():.3e}): not a "
                                   "stable linear elastic model")
        self.eigenvalues, self.modes = lam, modes                                  # (n,), (n, n)
        self.modal_damping = self.damping.mass + self.damping.stiffness * lam
        self._modal_coupling = np.vstack([modes.T @ self.coupling_mass, modes.T @ self.coupling_stiffness])

    def _dual_map(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(A_q (n_dual, n), A_g (n_dual, m))``: this rank's part of a dual's Gappy coordinates."""
        n, m = self.n, len(self.dofs)
        rows_q, rows_g = [], []
        for part, (D, strain_g) in zip(self.operator.parts, self._lifting_maps):
            strain_q = part.sub.strain_operator                                   # (k, 6, n)
            if name == "sig":
                strain_q, strain_g = np.matmul(D, strain_q), np.matmul(D, strain_g)
            rows_q.append(strain_q.reshape(-1, n))
            rows_g.append(strain_g.reshape(-1, m))
        operator = self.fits.reconstructors[name].operator          # (n_dual, 6 Σk) this rank's columns
        S_q = np.concatenate(rows_q) if rows_q else np.zeros((0, n))
        S_g = np.concatenate(rows_g) if rows_g else np.zeros((0, m))
        return operator @ S_q, operator @ S_g

    def _effective(self, dt: float) -> np.ndarray:
        """``λ + c_m + c_c c`` (n,): the modal effective stiffness of a step size (checked once per size)."""
        key = float(dt)
        if key not in self._effective_cache:
            value = self.eigenvalues + self.scheme.mass_factor(dt) + self.scheme.damping_factor(dt) * self.modal_damping
            if not np.all(np.isfinite(value)) or np.any(value <= 0):
                raise ConvergenceError(f"the reduced effective matrix at Δt = {dt:g} is singular or not finite")
            self._effective_cache[key] = value
        return self._effective_cache[key]

    # ------------------------------------------------------------- loadings
    def imposed_values(self, problem=None) -> np.ndarray:
        """A problem's imposed displacements at this rank's lifting dofs, every time, ``(n_t, m)``.

        ``problem``: the template when omitted; another problem must have the
        template's times (its mesh and conditions are checked by the caller, e.g.
        :func:`rom.online.check_problem`).
        """
        problem = self.problem if problem is None else problem
        if not np.array_equal(np.asarray(problem.times, dtype=np.float64), self.times):
            raise InputError(f"{problem.source}: its times are not those of the linear operator's template "
                             f"({len(problem.times)} vs {len(self.times)} times)")
        imposed = ImposedDisplacements(problem, self.dofs)
        return np.stack([imposed.at(float(t)) for t in self.times]) if len(self.dofs) else np.zeros(
            (len(self.times), 0))

    def solve(self, imposed: np.ndarray | None = None, initial=None, loads: np.ndarray | None = None) -> LinearSolution:
        """The reduced coordinates of one loading (collective: one ``Allreduce``).

        Parameters
        ----------
        imposed : (n_t, m) array, optional
            Imposed values at :attr:`dofs` at every time (the template's when omitted).
        initial : ((n,), (n,)), optional
            Initial coordinates and velocity (zero by default).
        loads : (n_t, n_modes) array, optional
            Reduced external forces (the template's :attr:`loads` when omitted).

        Returns
        -------
        LinearSolution
        """
        started = time.perf_counter()
        n, times, scheme = self.n, self.times, self.scheme
        g = self.imposed_values() if imposed is None else np.asarray(imposed, dtype=np.float64)
        if g.shape != (len(times), len(self.dofs)):
            raise InputError(f"imposed values have shape {g.shape}, expected ({len(times)}, {len(self.dofs)}) "
                             "(times × lifting dofs)")
        if not np.all(np.isfinite(g)):
            raise InputError("imposed values contain NaN or infinite values")
        f = self.loads if loads is None else np.asarray(loads, dtype=np.float64)
        if f.shape != self.loads.shape:
            raise InputError(f"reduced loads have shape {f.shape}, expected {self.loads.shape}")
        q0, v0 = (np.zeros(n), np.zeros(n)) if initial is None else (np.asarray(initial[0], float),
                                                                      np.asarray(initial[1], float))
        if q0.shape != (n,) or v0.shape != (n,):
            raise InputError(f"initial reduced coordinates and velocity must have shape ({n},), "
                             f"found {q0.shape} and {v0.shape}")
        # modal forces of every time: the loads and the lifting's mass and stiffness terms (one Allreduce)
        lift = _allreduce(g @ self._modal_coupling.T, self.comm)                    # (n_t, 2n)
        forces = f @ self.modes                                                     # (n_t, n)
        eta, eta_v, eta_a = self._recurrence(forces, lift, self.modes.T @ (self.M @ q0), self.modes.T @ (self.M @ v0))
        Q = eta @ self.modes.T
        if not np.all(np.isfinite(Q)):
            raise ConvergenceError(f"{self.problem.source}: the linear reduced dynamics diverged (non-finite "
                                   "coordinates)")
        return LinearSolution(times, Q, g, time.perf_counter() - started, (eta_v, eta_a, self.modes))

    def _recurrence(self, forces, lift, q0, v0):
        """The scheme on the decoupled modal equations, every mode at once, ``(q, v, a)`` each ``(n_t, n)``.

        Per mode the step is affine: ``z_{k+1} = T z_k + B u_{k+1}`` with the state ``z`` (9
        numbers: η, η̇, η̈ and the lifting terms ``ℓ_M, ℓ_K`` with their rates) and the
        inputs ``u`` (the new lifting terms, the start- and end-of-step forces); ``T`` and
        ``B`` come from :meth:`_step` applied to unit vectors, once per step size.
        """
        n, times = self.n, self.times
        lam, c = self.eigenvalues, self.modal_damping
        z = np.zeros((n, 9))
        z[:, 0], z[:, 1] = q0, v0
        z[:, 2] = forces[0] - lam * q0 - lift[0, n:] - c * v0                    # M η̈ = f − F − C η̇, M = I
        z[:, 3], z[:, 4] = lift[0, :n], lift[0, n:]
        zu = np.empty((len(times), n, 13))                       # [state | inputs of the step ending there]
        zu[1:, :, 9:] = np.stack([lift[1:, :n], lift[1:, n:], forces[:-1], forces[1:]], axis=-1)
        out = np.empty((len(times), n, 3))
        out[0] = z[:, :3]
        for k, dt in enumerate(np.diff(times)):
            zu[k + 1, :, :9] = z
            z = np.einsum("nij,nj->ni", self._transition(float(dt)), zu[k + 1])
            out[k + 1] = z[:, :3]
        return out[..., 0], out[..., 1], out[..., 2]

    def _transition(self, dt: float) -> np.ndarray:
        """``[T | B]`` of one step size, ``(n, 9, 13)`` (cached)."""
        key = float(dt)
        if key not in self._transitions:
            effective = self._effective(dt)
            probes = np.zeros((13, self.n, 13))
            probes[np.arange(13), :, np.arange(13)] = 1.0
            columns = self._step(probes[..., :9], probes[..., 9:], dt, effective)    # (13, n, 9)
            self._transitions[key] = np.ascontiguousarray(np.moveaxis(columns, 0, -1))   # (n, 9, 13): [T | B]
        return self._transitions[key]

    def _step(self, z: np.ndarray, u: np.ndarray, dt: float, effective: np.ndarray) -> np.ndarray:
        """One step of the modal balance of :func:`rom.online.dynamics.dynamic_newton` (``M = I``,
        ``C = diag(c)``, ``K = diag(λ)``), elementwise; affine in ``(z, u)`` (..., n, 9), (..., n, 4).

        The balance is affine in the end coordinates, so one correction from ``η_n`` is its solution.
        """
        scheme, lam, c = self.scheme, self.eigenvalues, self.modal_damping
        alpha, beta_k = self.damping.mass, self.damping.stiffness
        w_new, w_old = scheme.inertia_weights
        q, v, a, l_m, l_k, lv_m, lv_k, la_m, la_k = np.moveaxis(z, -1, 0)
        new_m, new_k, f_old, f_new = np.moveaxis(u, -1, 0)
        new_v_m, new_a_m = scheme.update(new_m, l_m, lv_m, la_m, dt)
        new_v_k, new_a_k = scheme.update(new_k, l_k, lv_k, la_k, dt)
        constant = (w_new * new_a_m + alpha * new_v_m + beta_k * new_v_k + w_old * (a + la_m)
                    + scheme.history_weight * (c * v + alpha * lv_m + beta_k * lv_k + lam * q + l_k - f_old))
        v_trial, a_trial = scheme.update(q, q, v, a, dt)
        residual = lam * q + new_k + w_new * a_trial + c * v_trial + constant - f_new
        q_new = q - residual / effective
        v_new, a_new = scheme.update(q_new, q, v, a, dt)
        return np.stack([q_new, v_new, a_new, new_m, new_k, new_v_m, new_v_k, new_a_m, new_a_k], axis=-1)

    def dual_coordinates(self, solution: LinearSolution, name: str = "sig") -> np.ndarray:
        """Gappy-POD coordinates of a dual quantity at every time, ``(n_t, n_dual_modes)`` (collective)."""
        if name not in self._dual_maps:
            raise InputError(f"no dual quantity '{name}' in the linear operator (it has "
                             f"{', '.join(self._dual_maps) or 'none'})")
        A_q, A_g = self._dual_maps[name]
        return _allreduce(solution.q @ A_q.T + solution.imposed @ A_g.T, self.comm)

    def reduced_states(self, solution: LinearSolution) -> list[ReducedState]:
        """The :class:`ReducedState` of every time (strain and stress at the reduced points)."""
        states = []
        temperatures = [self.operator.temperature(p, float(self.times[0])) for p in self.operator.parts]
        for k, t in enumerate(self.times):
            strains, stresses = [], []
            for part, (D, strain_g) in zip(self.operator.parts, self._lifting_maps):
                strain = part.sub.strain_operator @ solution.q[k] + strain_g @ solution.imposed[k]     # (k, 6)
                strains.append(strain)
                stresses.append(np.einsum("kij,kj->ki", D, strain))
            internal = [[{} for _ in p.groups] for p in self.operator.parts]
            states.append(ReducedState(float(t), solution.q[k].copy(), strains, stresses, internal, temperatures,
                                       iterations=1 if k else 0, imposed=True))
        return states


def solve_linear_dynamic(model, problem, comm=None, *, linear: LinearReducedDynamics | None = None, **options):
    """:func:`rom.online.dynamics.solve_dynamic` through the linear path: the same :class:`DynamicResult`.

    Parameters
    ----------
    model, problem, comm : as for :func:`rom.online.dynamics.solve_dynamic`
    linear : LinearReducedDynamics, optional
        Built once for a template with the problem's times and conditions (the imposed
        values are read from ``problem``); built here when omitted.
    **options
        ``scheme``, ``damping``, ``mass``, ``mass_rule``, ``fields``, ``initial``,
        ``output``, ``indicator``.
    """
    from rom.online.dynamics import DynamicResult

    output, indicator, initial = options.pop("output", None), options.pop("indicator", None), options.pop("initial",
                                                                                                          None)
    started = time.perf_counter()
    if linear is None:
        linear = LinearReducedDynamics(model, problem, comm, **options)
    if linear.model is not model:
        raise InputError(f"{problem.source}: the linear operator was built for another model")
    operator = linear.operator
    if problem is not linear.problem:
        operator = RestrictedOperator(model, problem, comm)          # checks the problem against the model
        ok, why = is_linear(model, problem)
        if not ok:
            raise InputError(f"{problem.source}: the linear reduced dynamics does not apply: {why}")
    loads = np.stack([operator.external_load(float(t)) for t in linear.times])
    solution = linear.solve(linear.imposed_values(problem), initial=initial, loads=loads)
    fits = linear.fits
    if indicator is None:
        indicator = model.settings.get("indicator", {}).get("field") or (fits.names[0] if fits.names else None)
    states = linear.reduced_states(solution)
    indicators = np.array([fits.indicator(s, indicator) for s in states])
    result = DynamicResult(
        problem=problem, times=linear.times.copy(), reduced_coordinates=tuple(solution.q),
        indicator=indicators, watched={}, newton_iterations=np.array([s.iterations for s in states]),
        enrichments=(), online_seconds=time.perf_counter() - started, hf_seconds=0.0, model=model,
        fields_names=linear.fields, comm=comm, _steps=tuple((operator, fits, s) for s in states),
        velocities=tuple(solution.v), accelerations=tuple(solution.a),
        dynamics={**linear.scheme.describe(), "rayleigh_mass": linear.damping.mass,
                  "rayleigh_stiffness": linear.damping.stiffness, "mass_rule": linear.mass.rule,
                  "setup_seconds": linear.setup_seconds, "path": "linear"})
    if output is not None:
        result.write(output)
    return result
