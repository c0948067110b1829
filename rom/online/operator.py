"""The restricted operator: a reduced model applied to one problem, at the reduced points only.

Per time step, with the reduced coordinates ``q`` (``u ≈ u_D(t) + Φ q``, ``u_D`` the
imposed displacements, see :mod:`rom.lifting`):

- strains at the reduced points ``ε_l = Bᵣ_l q + Σ_c ε_lc g_c(t)`` (``Bᵣ`` and the
  strain ``ε_lc`` of each imposed dof precomputed offline);
- the laws are evaluated at the reduced points only;
- ``F = Σ_l w_l Bᵣ_lᵀ σ_l`` and ``K = Σ_l w_l Bᵣ_lᵀ D_l Bᵣ_l`` (einsum), summed over
  the subdomains with ONE ``Allreduce`` of the N-vector and N×N matrix.

The external load is ``Σ table(t)·p·Φᵀf_set`` (pressure, reduced offline per face set;
a pressure given per facet is reduced once when the operator is built) plus
``(ω(t))²·Φᵀf_c`` (centrifugal, from moments valid for any axis); temperatures are
interpolated at the reduced points only (the thermal strains measured from the
temperature at the problem's first time, as the HF solver does). Nothing here
touches the full mesh: a step costs the same whatever the high-fidelity mesh size.
The Newton iterations are :mod:`rom.online.newton`'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from io_adapters.errors import InputError

from rom.lifting import ImposedDisplacements
from rom.loads import reduced_pressure
from rom.materials import from_spec
from rom.parallel import allreduce_sum as _allreduce

__all__ = ["ReducedState", "RestrictedOperator", "check_problem"]


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
    _weighted: tuple | None = None

    def weighted_operator(self) -> tuple[np.ndarray, np.ndarray]:
        """``(w Bᵣ)ᵀ`` and ``|w Bᵣ|ᵀ``, (n_modes, 6k) each, computed once."""
        if self._weighted is None:
            n = self.sub.strain_operator.shape[2]
            wB = (self.sub.weights[:, None, None] * self.sub.strain_operator).reshape(-1, n)
            self._weighted = (np.ascontiguousarray(wB.T), np.ascontiguousarray(np.abs(wB).T))
        return self._weighted


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


class RestrictedOperator:
    """The hyper-reduced operator of a model for one problem: loads, temperatures, laws at the reduced points.

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
        self.n_modes = n
        self.pressure = [(self._reduced_pressure(p), p.table) for p in problem.pressures]
        self.centrifugal = [(model.centrifugal_load(c.center, c.axis), float(c.omega), c.table)
                            for c in problem.centrifugal]

    # ------------------------------------------------------------- loads
    def _reduced_pressure(self, pressure) -> np.ndarray:
        """``Φᵀ f`` of a pressure: the model's unit load × the value, or (one value per facet)
        computed once from the face set's surface load (collective)."""
        values = np.atleast_1d(np.asarray(pressure.values, dtype=np.float64))
        if np.ptp(values) == 0.0:
            return self.model.pressure_loads[pressure.face_set] * float(values[0])
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
        """Zero coordinates, strains and stresses; the laws' initial internal variables."""
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
            wBT, abs_wBT = part.weighted_operator()                                   # (n, 6k) each
            forces = wBT @ np.stack([stress.ravel(), np.einsum("kij,kj->ki", tangent, d_strain).ravel()], axis=1)
            F += forces[:, 0]
            F_increment += forces[:, 1]                                              # Σ w Bᵀ D Δε
            K += wBT @ np.matmul(tangent, sub.strain_operator).reshape(-1, n)        # Σ w Bᵀ D B
            F_magnitude += abs_wBT @ np.abs(stress).ravel()
            strains.append(strain)
            stresses.append(stress)
            internals.append(new_internal)
        FK = _allreduce(np.concatenate([F, K.ravel(), F_increment, F_magnitude]), self.comm)   # the only communication
        scales = (FK[n + n * n:2 * n + n * n], FK[2 * n + n * n:])
        return FK[:n], FK[n:n + n * n].reshape(n, n), scales, strains, stresses, internals


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
    conditions = [(bc.node_set, int(bc.component), "imposed displacement") for bc in problem.dirichlet]
    conditions += [(f.node_set, c, "imposed field") for f in problem.imposed_fields for c in f.components]
    for node_set, component, what in conditions:
        if (node_set, component) not in imposed and component not in model.constrained.get(node_set, []):
            errors.append(f"{what} on node set '{node_set}' component {component} was not "
                          "in the training problem (the basis does not vanish there)")
        imposed.add((node_set, component))
    for name, components in model.constrained.items():
        for c in components:
            if (name, int(c)) not in imposed:
                errors.append(f"the model was trained with node set '{name}' component {c} imposed, the problem "
                              "leaves it free (impose it, with its value, or train a model without it)")
    if set(problem.materials) != set(model.materials):
        errors.append(f"materials {sorted(problem.materials)} differ from the model's {sorted(model.materials)}")
    if errors:
        raise InputError(f"{problem.source}: " + "; ".join(errors))
