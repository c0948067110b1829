"""The online stage: hyper-reduced Newton solves of a new loading with a ReducedOrderModel.

Per time step, with the reduced coordinates ``q`` (``u ≈ u_D(t) + Φ q``, ``u_D`` the
imposed displacements, see :mod:`rom.lifting`):

- strains at the reduced points ``ε_l = Bᵣ_l q + Σ_c ε_lc g_c(t)`` (``Bᵣ`` and the
  strain ``ε_lc`` of each imposed dof precomputed offline);
- the laws are evaluated at the reduced points only;
- ``F = Σ_l w_l Bᵣ_lᵀ σ_l`` and ``K = Σ_l w_l Bᵣ_lᵀ D_l Bᵣ_l`` (einsum), summed over
  the subdomains with ONE ``Allreduce`` of the N-vector and N×N matrix;
- a dense solve; converged internal variables are committed at the reduced points.

The external load is ``Σ table(t)·p·Φᵀf_set`` (pressure, reduced offline per face set;
a pressure given per facet is reduced once when the operator is built)
plus ``(ω(t))²·Φᵀf_c`` (centrifugal, from moments valid for any axis); temperatures
are interpolated at the reduced points only (the thermal strains measured from the
temperature at the problem's first time, as the HF solver does). Nothing here touches the full mesh: a
step costs the same whatever the high-fidelity mesh size.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from io_adapters.errors import ConvergenceError, InputError

from rom.convergence import is_converged, reference_force
from rom.lifting import ImposedDisplacements
from rom.parallel import allreduce_sum as _allreduce

log = logging.getLogger(__name__)

#: The indicator's residual is relative to ``max(‖y_S‖, INDICATOR_FLOOR · σ₁ ‖φ₁|_S‖)``
#: (σ₁, φ₁: the first singular value and mode of the dual's training POD, at the
#: reduced points S): below that size a dual state is round-off, not a pattern.
INDICATOR_FLOOR = 1e-6


# ============================================================ local pieces
@dataclass
class _Group:
    """Reduced points of one subdomain governed by one law."""

    law: object
    points: np.ndarray        # indices into the subdomain's reduced points


@dataclass
class _Part:
    """One subdomain of the model, ready for the online loop."""

    sub: object                       # SubdomainModel
    groups: list
    temperature_fields: np.ndarray | None    # (n_j, k) the problem's T_j at the reduced points
    imposed: ImposedDisplacements | None = None   # the problem's values at the lifting dofs
    initial_temperature: np.ndarray | None = None  # (k,) T_0: the thermal strains are measured from it


@dataclass
class ReducedState:
    """Converged state at the reduced points of the held subdomains."""

    time: float
    q: np.ndarray
    strain: list                      # per part (k, 6)
    stress: list                      # per part (k, 6)
    internal: list                    # per part, per group: dict
    temperature: list                 # per part (k,)
    iterations: int = 0
    history: list = field(default_factory=list)
    imposed: bool = True              # constrained dofs at the problem's values (False: the initial u = 0)


@dataclass(frozen=True)
class OnlineSettings:
    """Newton settings of the reduced solve (same meaning as the high-fidelity ones:
    the criterion of :mod:`rom.convergence` on the reduced residual, force scale and
    coordinates; ``‖q‖`` is the mass norm of the displacement, the modes being
    M-orthonormal)."""

    rtol: float = 1e-8
    atol: float = 1e-14
    max_iterations: int = 25
    max_cuts: int = 6


class ReducedOperator:
    """The hyper-reduced operator of a model for one problem (loads, temperatures, laws).

    Parameters
    ----------
    model : ReducedOrderModel
    problem : io_adapters.Problem
        The new loading: same mesh, face sets the model reduced, imposed
        displacements (any values and tables) on the node sets and components the
        model was trained with.
    comm : communicator, optional
    """

    def __init__(self, model, problem, comm=None):
        from rom.materials import from_spec

        self.model, self.problem, self.comm = model, problem, comm
        check_problem(model, problem)
        laws = [from_spec(spec) for spec in model.materials.values()]
        self.laws = laws                  # every material of the model, in its order
        history = problem.temperature
        self.parts = []
        for sub in model.subdomains:
            groups = [_Group(laws[m], np.flatnonzero(sub.material == m)) for m in np.unique(sub.material)]
            fields = None
            if history is not None:
                fields = np.asarray(history.fields)[:, sub.nodes] @ sub.temperature_interpolation.T
                fields = np.asarray(fields)
            imposed = ImposedDisplacements(problem, sub.lifting_dofs) if sub.has_lifting else None
            part = _Part(sub, groups, fields, imposed)
            part.initial_temperature = self.temperature(part, float(problem.times[0]))
            self.parts.append(part)
        n = model.n_modes
        self.pressure = [(self._reduced_pressure(p), p.table) for p in problem.pressures]
        self.centrifugal = [(model.centrifugal_load(c.center, c.axis), float(c.omega), c.table)
                            for c in problem.centrifugal]
        self.n_modes = n
        self._scales: dict[str, float] = {}

    # ------------------------------------------------------------- loads
    def _reduced_pressure(self, pressure) -> np.ndarray:
        """``Φᵀ f`` of a pressure: the model's unit load × the value, or (one value per facet)
        computed once from the face set's surface load (collective)."""
        values = np.atleast_1d(np.asarray(pressure.values, dtype=np.float64))
        if np.ptp(values) == 0.0:
            return self.model.pressure_loads[pressure.face_set] * float(values[0])
        from rom.offline import reduced_pressure

        parts = [(p.sub.index, p.sub.cells, p.sub.nodes, p.sub.displacement_modes) for p in self.parts]
        return reduced_pressure(self.model.mesh, pressure.face_set, values, parts, self.comm)

    def external_load(self, t: float) -> np.ndarray:
        """Reduced external force at time t, (n_modes,)."""
        f = np.zeros(self.n_modes)
        for vector, table in self.pressure:
            f += self.problem.factor(table, t) * vector
        for vector, omega, table in self.centrifugal:
            f += (omega * self.problem.factor(table, t)) ** 2 * vector
        return f

    def lifting(self, t: float) -> list[np.ndarray]:
        """Strain of the imposed displacements at time t at each part's reduced points, (k, 6)."""
        out = []
        for part in self.parts:
            if part.imposed is None:
                out.append(np.zeros((len(part.sub.points), 6)))
            else:
                out.append((part.sub.lifting_strain @ part.imposed.at(t)).reshape(-1, 6))
        return out

    def temperature(self, part: _Part, t: float) -> np.ndarray:
        """Temperature at the part's reduced points at time t, (k,) (zero when the problem has none)."""
        if part.temperature_fields is None:
            return np.zeros(len(part.sub.points))
        return self.problem.temperature.coefficients(t) @ part.temperature_fields

    # ------------------------------------------------------------- state
    def initial_state(self, t0: float) -> ReducedState:
        n = self.n_modes
        return ReducedState(
            time=float(t0), q=np.zeros(n),
            strain=[np.zeros((len(p.sub.points), 6)) for p in self.parts],
            stress=[np.zeros((len(p.sub.points), 6)) for p in self.parts],
            internal=[[g.law.initial_state(len(g.points)) for g in p.groups] for p in self.parts],
            temperature=[self.temperature(p, t0) for p in self.parts], imposed=False,
        )

    def evaluate(self, state: ReducedState, q: np.ndarray, t_new: float, temperatures, lifting=None):
        """Laws at the reduced points for coordinates q: (F, K, (F_Δ, |F|), strain, stress, internal).

        ``F = Σ w Bᵣᵀ σ`` and ``K = Σ w Bᵣᵀ D Bᵣ`` (n_modes,), (n_modes, n_modes);
        ``F_Δ = Σ w Bᵣᵀ D (ε − ε_n)``, the force of the step's strain increment, and
        ``|F| = Σ |w| |Bᵣ|ᵀ |σ|``, the magnitude of the reduced internal forces (no
        cancellation: the reduced space holds no reaction, so ``F`` itself vanishes at
        an equilibrium under imposed displacements): the scales of the convergence
        test, :mod:`rom.convergence`. ``lifting``: the imposed
        displacements' strain at t_new per part (:meth:`lifting`; computed when omitted).
        """
        n = self.n_modes
        if lifting is None:
            lifting = self.lifting(t_new)
        F, K, F_increment, F_magnitude = np.zeros(n), np.zeros((n, n)), np.zeros(n), np.zeros(n)
        strains, stresses, internals = [], [], []
        dt = t_new - state.time
        for i, part in enumerate(self.parts):
            sub = part.sub
            strain = sub.strain_operator @ q + lifting[i]                             # (k, 6)
            stress = np.empty_like(strain)
            tangent = np.empty((len(strain), 6, 6))
            d_strain = strain - state.strain[i]
            T_old, T_new, T_initial = state.temperature[i], temperatures[i], part.initial_temperature
            new_internal = []
            for g, old in zip(part.groups, state.internal[i]):
                p = g.points
                s, D, st = g.law.update(state.strain[i][p], d_strain[p], old, T_old[p], T_new[p] - T_old[p], dt,
                                        T_initial=T_initial[p])
                stress[p], tangent[p] = s, D
                new_internal.append(st)
            wB = (sub.weights[:, None, None] * sub.strain_operator).reshape(-1, n)   # (6k, n)
            F += wB.T @ stress.ravel()
            K += wB.T @ np.matmul(tangent, sub.strain_operator).reshape(-1, n)        # Σ w Bᵀ D B
            F_increment += wB.T @ np.einsum("kij,kj->ki", tangent, d_strain).ravel()
            F_magnitude += np.abs(wB).T @ np.abs(stress).ravel()
            strains.append(strain)
            stresses.append(stress)
            internals.append(new_internal)
        FK = _allreduce(np.concatenate([F, K.ravel(), F_increment, F_magnitude]), self.comm)   # the only communication
        scales = (FK[n + n * n:2 * n + n * n], FK[2 * n + n * n:])
        return FK[:n], FK[n:n + n * n].reshape(n, n), scales, strains, stresses, internals

    def newton(self, state: ReducedState, t_new: float, settings: OnlineSettings) -> ReducedState:
        temperatures = [self.temperature(p, t_new) for p in self.parts]
        lifting = self.lifting(t_new)
        f_ext = self.external_load(t_new)
        q = state.q.copy()
        history = []
        correction = None
        f_ext_norm = float(np.linalg.norm(f_ext))
        for iteration in range(settings.max_iterations + 1):
            F, K, (F_increment, F_magnitude), strain, stress, internal = self.evaluate(
                state, q, t_new, temperatures, lifting)
            r = F - f_ext
            norm = float(np.linalg.norm(r))
            history.append(norm)
            if not np.isfinite(norm):
                break
            reference = reference_force(f_ext_norm, np.linalg.norm(F_magnitude), np.linalg.norm(F_increment))
            if is_converged(norm, reference, correction, float(np.linalg.norm(q - state.q)),
                            rtol=settings.rtol, atol=settings.atol):
                return ReducedState(t_new, q, strain, stress, internal, temperatures, iteration, history)
            if iteration == settings.max_iterations:
                break
            try:
                dq = np.linalg.solve(K, -r)
            except np.linalg.LinAlgError:
                break
            correction = float(np.linalg.norm(dq))
            q = q + dq
        raise ConvergenceError(f"reduced Newton did not converge from t={state.time:g} to t={t_new:g}; "
                               "residual history " + ", ".join(f"{h:.3e}" for h in history))

    def advance(self, state: ReducedState, t_new: float, settings: OnlineSettings, level: int = 0) -> ReducedState:
        """Reach t_new, halving the step when Newton fails (same decision on every rank)."""
        try:
            return self.newton(state, t_new, settings)
        except ConvergenceError as exc:
            if level >= settings.max_cuts:
                raise ConvergenceError(f"step to t={t_new:g} failed after {settings.max_cuts} halvings: {exc}") from None
            t_mid = 0.5 * (state.time + t_new)
            log.info("reduced step to t=%g cut at t=%g (level %d)", t_new, t_mid, level + 1)
            half = self.advance(state, t_mid, settings, level + 1)
            return self.advance(half, t_new, settings, level + 1)

    # ------------------------------------------------------------ duals
    def dual_values(self, state: ReducedState, name: str) -> list[np.ndarray]:
        """A dual quantity at the reduced points of each part, (k, n_components)."""
        out = []
        for i, part in enumerate(self.parts):
            k = len(part.sub.points)
            if name in ("sig",):
                out.append(state.stress[i])
                continue
            if name in ("eto",):
                out.append(state.strain[i])
                continue
            n_comp = len(part.sub.duals[name].components)
            values = np.zeros((k, n_comp))
            for g, internal in zip(part.groups, state.internal[i]):
                if name in internal:
                    values[g.points] = np.asarray(internal[name]).reshape(len(g.points), -1)
            out.append(values)
        return out

    def _scale_at_points(self, name: str) -> float:
        """``σ₁ ‖φ₁|_S‖``: the size of the dominant training pattern of a dual at the reduced points."""
        if name not in self._scales:
            local = 0.0
            for part in self.parts:
                dual = part.sub.duals[name]
                if len(dual.modes):
                    local += float(np.sum(dual.at(part.sub.points)[0] ** 2))
            first = next((float(p.sub.duals[name].singular_values[0]) for p in self.parts
                          if len(p.sub.duals[name].singular_values)), 0.0)
            self._scales[name] = first * float(np.sqrt(_allreduce(np.array([local]), self.comm)[0]))
        return self._scales[name]

    def gappy(self, state: ReducedState, name: str) -> tuple[np.ndarray, float]:
        """Gappy-POD coefficients of a dual quantity and the relative fit residual (the indicator).

        The residual is relative to ``max(‖y_S‖, INDICATOR_FLOOR · σ₁ ‖φ₁|_S‖)``: a
        state that is still (numerically) zero, at the onset of plastic flow, has
        no meaningful relative error.
        """
        floor = INDICATOR_FLOOR * self._scale_at_points(name)
        values = self.dual_values(state, name)
        n_d = len(self.parts[0].sub.duals[name].modes) if self.parts else 0
        normal = np.zeros((n_d, n_d))
        rhs = np.zeros(n_d)
        norm2 = 0.0
        for part, y in zip(self.parts, values):
            A = part.sub.duals[name].at(part.sub.points).reshape(n_d, -1)     # (n_d, k n_comp)
            normal += A @ A.T
            rhs += A @ y.ravel()
            norm2 += float(y.ravel() @ y.ravel())
        reduced = _allreduce(np.concatenate([normal.ravel(), rhs, [norm2]]), self.comm)
        normal, rhs, norm2 = reduced[: n_d * n_d].reshape(n_d, n_d), reduced[n_d * n_d: -1], reduced[-1]
        coefficients = np.linalg.lstsq(normal, rhs, rcond=None)[0]
        residual2 = 0.0
        for part, y in zip(self.parts, values):
            A = part.sub.duals[name].at(part.sub.points).reshape(n_d, -1)
            e = A.T @ coefficients - y.ravel()
            residual2 += float(e @ e)
        residual2 = float(_allreduce(np.array([residual2]), self.comm)[0])
        denominator = max(norm2, floor ** 2)
        indicator = np.sqrt(residual2 / denominator) if denominator > 0 else 0.0
        return coefficients, float(indicator)


def check_problem(model, problem) -> None:
    """Refuse, with a clear message, a loading the model was not built for."""
    errors = []
    mesh = model.mesh
    if problem.mesh.n_nodes != mesh.n_nodes or problem.mesh.n_cells != mesh.n_cells or not np.allclose(
            problem.mesh.points, mesh.points, rtol=1e-6, atol=1e-9):
        errors.append(f"the problem's mesh ({problem.mesh.n_nodes} nodes, {problem.mesh.n_cells} cells) is not "
                      f"the model's ({mesh.n_nodes} nodes, {mesh.n_cells} cells)")
    for p in problem.pressures:
        if p.face_set not in model.pressure_loads:
            errors.append(f"pressure on face set '{p.face_set}': the model has no reduced load for it "
                          f"(face sets: {', '.join(model.pressure_loads) or 'none'})")
    for c in problem.centrifugal:
        if c.cell_set is not None and len(problem.cells(c.cell_set)) != mesh.n_cells:
            errors.append(f"centrifugal load on cell set '{c.cell_set}': the model reduced it for every cell only")
    imposed = set()
    for bc in problem.dirichlet:
        imposed.add((bc.node_set, int(bc.component)))
        if int(bc.component) not in model.constrained.get(bc.node_set, []):
            errors.append(f"imposed displacement on node set '{bc.node_set}' component {bc.component} was not "
                          "in the training problem (the basis does not vanish there)")
    for name, components in model.constrained.items():
        for c in components:
            if (name, int(c)) not in imposed:
                errors.append(f"the model was trained with node set '{name}' component {c} imposed, the problem "
                              "leaves it free (impose it, with its value, or train a model without it)")
    if set(problem.materials) != set(model.materials):
        errors.append(f"materials {sorted(problem.materials)} differ from the model's {sorted(model.materials)}")
    if errors:
        raise InputError(f"{problem.source}: " + "; ".join(errors))


# ============================================================== the solve
def solve(model, problem, comm=None, *, fields=None, output=None, settings: OnlineSettings | None = None,
          indicator: str | None = None, adaptive=None):
    """Solve a new loading with a reduced-order model.

    Parameters
    ----------
    model : ReducedOrderModel
    problem : io_adapters.Problem
    comm : communicator, optional
    fields : list of str, optional
        Dual quantities to reconstruct on the whole mesh (default: all of the model's).
    output : path, optional
        Also write the reconstructed results to a store (+ XDMF).
    settings : OnlineSettings, optional
    indicator : str, optional
        Dual quantity whose Gappy-POD fit residual is the error indicator (default:
        the model's ``settings["indicator"]["field"]``, else the first dual).
    adaptive : rom.adaptive.Enrichment, optional
        Enrich the model from one high-fidelity step when the indicator, or the fit
        residual of a quantity the policy watches (``sig`` by default), exceeds its
        tolerance (see :mod:`rom.adaptive`).

    Returns
    -------
    Simulation
        ``U`` and the dual fields reconstructed at every time of ``problem.times``;
        ``parameters["indicator"]`` (per step), ``parameters["reduced_coordinates"]``,
        ``parameters["newton_iterations"]``, ``parameters["enrichments"]``,
        ``parameters["watched"]`` (per step fit residual of each quantity the
        enrichment policy watches; after an enrichment, the repaired value).
    """
    settings = settings or OnlineSettings()
    operator = ReducedOperator(model, problem, comm)
    duals = list(fields) if fields is not None else sorted({n for s in model.subdomains for n in s.duals})
    if indicator is None:
        indicator = model.settings.get("indicator", {}).get("field") or (duals[0] if duals else None)
    times = np.asarray(problem.times, dtype=np.float64)
    watched = []
    if adaptive is not None:
        adaptive.reset()
        watched = adaptive.watched(model, indicator)
    state = operator.initial_state(times[0])
    states, indicators, iterations, enrichments = [(operator, state)], [0.0], [0], []
    watched_values = {name: [0.0] for name in watched}   # fit residuals of the watched quantities, per step
    started = time.perf_counter()
    for k in range(1, len(times)):
        try:
            new = operator.advance(state, float(times[k]), settings)
        except ConvergenceError as exc:
            raise ConvergenceError(f"{problem.source}: time step {k} (t={times[k]:g}): {exc}") from None
        value = operator.gappy(new, indicator)[1] if indicator else 0.0
        others = [operator.gappy(new, name)[1] for name in watched]
        trigger = max([value] + others)
        if adaptive is not None and trigger > adaptive.tol:
            if adaptive.exhausted:
                log.warning("step %d: indicator %.3e above %.1e, but %d enrichments were already made",
                            k, trigger, adaptive.tol, adaptive.max_enrichments)
            else:
                operator, new, _, event = adaptive.enrich(operator, state, float(times[k]), k, trigger, settings)
                value = operator.gappy(new, indicator)[1] if indicator else 0.0
                others = [operator.gappy(new, name)[1] for name in watched]
                enrichments.append(event)
        for name, v in zip(watched, others):
            watched_values[name].append(v)
        states.append((operator, new))
        indicators.append(value)
        iterations.append(new.iterations)
        state = new
        log.info("online step %d/%d t=%g: %d Newton iterations, indicator %.3e", k, len(times) - 1, times[k],
                 new.iterations, value)
    seconds = time.perf_counter() - started
    result = reconstruct(states, duals, problem, indicators, iterations, enrichments, seconds, output, comm,
                         watched=watched_values)
    if adaptive is not None:
        adaptive.model = operator.model      # the enriched model, to save if wanted
    return result


def reconstruct(steps, duals, problem, indicators, iterations, enrichments, seconds, output, comm, watched=None):
    """The full fields of every step (U from the basis, duals by Gappy-POD) as a Simulation.

    ``steps`` is a list of (operator, state): after an enrichment the later steps
    come from another (enriched) operator, each step is rebuilt with its own.
    """
    from io_adapters.quadrature_rules import count_points
    from io_adapters.simulation import Field, Simulation

    operator = steps[-1][0]
    model = operator.model
    mesh = model.mesh
    n_t = len(steps)
    U_local, dual_local = [], {name: [] for name in duals}
    for op, state in steps:
        U_local.append([(part.sub.nodes, (state.q @ part.sub.displacement_modes).reshape(-1, 3))
                        for part in op.parts])
        for name in duals:
            c = op.gappy(state, name)[0]
            dual_local[name].append([(part.sub.point_rows, np.einsum("n,npc->pc", c, part.sub.duals[name].modes))
                                     for part in op.parts])
    pieces = (U_local, dual_local)
    gathered = [pieces] if comm is None or comm.size == 1 else comm.gather(pieces, root=0)
    if comm is not None and comm.size > 1 and comm.rank != 0:
        comm.bcast(None, root=0)
        return None
    U = np.zeros((n_t, mesh.n_nodes, 3))
    for U_rank, _ in gathered:
        for k, parts in enumerate(U_rank):
            for nodes, values in parts:
                U[k, nodes] = values
    imposed = ImposedDisplacements.everywhere(problem) if problem.dirichlet else None
    for k, (_, state) in enumerate(steps):
        if state.imposed and imposed is not None:   # the modes vanish there: add the imposed values
            U[k] += imposed.at(state.time).reshape(-1, 3)
    fields = {"U": Field("node", ("U1", "U2", "U3"), U)}
    n_points = count_points(mesh.cells, model.rule)
    for name in duals:
        comps = operator.parts[0].sub.duals[name].components
        values = np.zeros((n_t, n_points, len(comps)))
        for _, dual_rank in gathered:
            for k, parts in enumerate(dual_rank[name]):
                for rows, v in parts:
                    values[k, rows] = v
        fields[name] = Field("integration_point", comps, values, model.rule)
    q = [state.q.tolist() for _, state in steps]
    parameters = {"indicator": [float(v) for v in indicators], "newton_iterations": [int(i) for i in iterations],
                  "reduced_coordinates": q, "enrichments": enrichments, "online_seconds": seconds,
                  "watched": {name: [float(v) for v in values] for name, values in (watched or {}).items()},
                  "problem": str(problem.source)}
    simulation = Simulation(mesh, np.array([s.time for _, s in steps]), fields, parameters,
                            {"format": "nirom-rom", "solver": "nirom.rom.reduced",
                             "model": model.provenance.get("config", "")})
    if output is not None:
        import io_adapters

        io_adapters.save(simulation, output)
    if comm is not None and comm.size > 1:
        comm.bcast(None, root=0)
    return simulation
