"""Adaptive enrichment: repair the reduced model from one high-fidelity step.

When the error indicator exceeds its tolerance at step n (time t_n):

1. reconstruct the full state at t_{n-1}: displacement from the basis plus the
   imposed values, internal variables from their Gappy-POD bases, strain from the
   displacement;
2. take ONE high-fidelity step to t_n from it (a :class:`rom.hifi.HighFidelityStep`:
   nirom's solver, or the user's through a command);
3. add the new displacement snapshot to the basis by incremental POD;
4. re-run the ECM warm-started from the current points (integrands from the
   stored stress basis enriched with the new stress snapshot);
5. add the new snapshot of every dual quantity to its Gappy basis, re-select the
   QDEIM points, rebuild the reduced operators at the new point set;
6. re-solve step n with the enriched model, and go on.

What triggers it: the solve's indicator (the Gappy-POD fit residual of ``evrcum``
by default) or the fit residual of a watched quantity (``Enrichment.watch``;
``sig`` by default, which also sees errors of the elastic and thermal response),
whichever is larger. Each event is recorded (step, time, that trigger value before
and after, new sizes, HF time) and returned with the results; the enriched model can
be saved.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from io_adapters.errors import ConfigError
from io_adapters.quadrature_rules import points_per_cell

log = logging.getLogger(__name__)


@dataclass
class Enrichment:
    """Enrichment policy of an online solve.

    Attributes
    ----------
    tol : float
        Indicator level that triggers an enrichment.
    hf_step : HighFidelityStep, optional
        One high-fidelity step; nirom's own solver on the online problem when omitted, at a
        convergence ratio no looser than the online solve's (nor than the HF default).
    pod_tol : float
        Truncation of the incremental POD updates (relative).
    ecm_tol : float
        Tolerance of the re-run ECM (default: the model's).
    max_enrichments : int
    watch : "auto" or tuple of str
        Dual quantities whose Gappy-POD fit residual also triggers an enrichment
        (against the same ``tol``), beside the solve's indicator. The plastic
        indicator (``evrcum``) is blind to an error of the elastic and thermal
        response; the stress fit is not. ``"auto"``: ``sig`` when the model has a
        basis of it.
    """

    tol: float
    hf_step: object = None
    pod_tol: float = 1e-10
    ecm_tol: float | None = None
    max_enrichments: int = 10
    watch: object = "auto"
    events: list = dataclasses.field(default_factory=list)
    hf_seconds: float = 0.0
    model: object = None          # the enriched model after a solve (``model.save(path)``)
    _in_house: tuple | None = dataclasses.field(default=None, repr=False)   # (problem, rule, settings, InHouseStep)

    def watched(self, model, indicator: str | None) -> list[str]:
        """The dual quantities checked at every step besides ``indicator``."""
        available = {n for sub in model.subdomains for n in sub.duals}
        if self.watch == "auto":
            names = ["sig"] if "sig" in available else []
        else:
            names = [self.watch] if isinstance(self.watch, str) else list(self.watch)
            missing = [n for n in names if n not in available]
            if missing:
                raise ConfigError(f"enrichment watches {missing}, but the model has Gappy-POD bases of "
                                  f"{sorted(available)} only (add [pod.<name>] to the offline configuration)")
        return [n for n in names if n != indicator]

    def _in_house_step(self, problem, rule: str, online):
        """nirom's solver on the problem, built once per problem (discretisation, stiffness pattern).

        Its convergence ratio is never looser than the online solve's (``online``, the
        OnlineSettings), nor than the HF default: an enrichment snapshot must be at
        least as converged as the reduced solution it repairs.
        """
        from rom.hifi import InHouseStep, NewtonSettings

        default = NewtonSettings()
        settings = NewtonSettings(rtol=min(default.rtol, online.rtol), atol=min(default.atol, online.atol))
        key = (problem, rule, settings)
        if self._in_house is None or self._in_house[0] is not problem or self._in_house[1:3] != key[1:]:
            self._in_house = (problem, rule, settings, InHouseStep(problem, rule=rule, settings=settings))
        return self._in_house[3]

    def reset(self) -> None:
        """Start a new solve: no enrichment yet (``max_enrichments`` counts per solve)."""
        self.events = []
        self.hf_seconds = 0.0

    @property
    def exhausted(self) -> bool:
        """True once ``max_enrichments`` enrichments were done in this solve."""
        return len(self.events) >= self.max_enrichments

    def enrich(self, operator, state, t_new: float, step: int, indicator: float, settings):
        """Enrich the model between ``state`` (t_{n-1}) and ``t_new``; re-solve the step.

        Returns
        -------
        (operator, new_state, indicator, event)
        """
        from rom.reduced import ReducedOperator

        started = time.perf_counter()
        model, problem, comm = operator.model, operator.problem, operator.comm
        full = reconstruct_state(operator, state)   # the same full state on every rank
        hf = self.hf_step or self._in_house_step(problem, model.rule, settings)
        t0 = time.perf_counter()
        result = hf(full, t_new)
        hf_seconds = time.perf_counter() - t0
        self.hf_seconds += hf_seconds
        model = enrich_model(model, problem, result, pod_tol=self.pod_tol,
                             ecm_tol=self.ecm_tol or model.settings.get("ecm", {}).get("tol", 1e-5), comm=comm)
        operator = ReducedOperator(model, problem, comm)
        restart = restrict_state(operator, full, imposed=state.imposed)
        new = operator.advance(restart, t_new, settings)
        name = model.settings.get("indicator", {}).get("field")
        after = max([operator.gappy(new, n)[1] for n in ([name] if name else []) + self.watched(model, name)],
                    default=0.0)
        event = {"step": step, "time": t_new, "indicator_before": indicator, "indicator_after": after,
                 "n_modes": model.n_modes, "reduced_points": int(sum(s.n_reduced_points for s in model.subdomains)),
                 "hf_seconds": hf_seconds, "seconds": time.perf_counter() - started}
        self.events.append(event)
        log.info("enrichment at step %d (t=%g): indicator %.3e -> %.3e, %d modes, %d reduced points",
                 step, t_new, indicator, after, model.n_modes, event["reduced_points"])
        return operator, new, after, event


# ================================================================== states
_OPERATORS: dict = {}


def _local_operators(model, sub):
    """(local mesh, B, weights, mass matrix) of a subdomain, computed once per mesh and subdomain.

    The subdomains keep their cells through enrichments, so these full-resolution
    operators are built at the first enrichment only.
    """
    from rom import fem

    key = (id(model.mesh), sub.index, len(sub.cells), model.rule)
    if key not in _OPERATORS:
        local, _ = model.mesh.submesh(sub.cells)
        B, weights = fem.strain_operator(local, rule=model.rule)
        _OPERATORS[key] = (local, B, weights, fem.mass_matrix(local, rule="high", n_components=3))
        while len(_OPERATORS) > 64:
            _OPERATORS.pop(next(iter(_OPERATORS)))
    return _OPERATORS[key]


def _global_strain_operator(model):
    from rom import fem

    key = (id(model.mesh), "global", model.rule)
    if key not in _OPERATORS:
        _OPERATORS[key] = fem.strain_operator(model.mesh, rule=model.rule)[0]
    return _OPERATORS[key]


def reconstruct_state(operator, state):
    """The full MechanicalState (global numbering) at the reduced state's time."""
    from rom.hifi import MechanicalState
    from rom.parallel import allreduce_sum as _allreduce

    model, comm = operator.model, operator.comm
    mesh = model.mesh
    U = np.zeros((mesh.n_nodes, 3))
    count = np.zeros(mesh.n_nodes)
    for part in operator.parts:
        U[part.sub.nodes] += (state.q @ part.sub.displacement_modes).reshape(-1, 3)
        count[part.sub.nodes] += 1
    U, count = _allreduce(U, comm), _allreduce(count, comm)   # interface nodes are held twice
    U /= np.maximum(count, 1)[:, None]
    if state.imposed and operator.problem.dirichlet:          # the modes vanish there
        from rom.lifting import ImposedDisplacements

        U += ImposedDisplacements.everywhere(operator.problem).at(state.time).reshape(-1, 3)
    strain = (_global_strain_operator(model) @ U.ravel()).reshape(-1, 6)
    internal = {}
    # the internal variables of every material of the model, not only those of the subdomains
    # held here, in one sorted order: every rank visits the same names (collective calls inside)
    templates: dict = {}
    for law in operator.laws:
        for n, v in law.initial_state(1).items():
            templates.setdefault(n, v)
    for name in sorted(templates):
        sub0 = operator.parts[0].sub
        if name not in sub0.duals:
            raise ConfigError(f"enrichment needs a Gappy-POD basis of the internal variable '{name}': "
                              f"add [pod.{name}] to the offline configuration")
        coefficients, _ = operator.gappy(state, name)
        width = len(sub0.duals[name].components)
        values = np.zeros((strain.shape[0], width))
        for part in operator.parts:
            values[part.sub.point_rows] = np.einsum("n,npc->pc", coefficients, part.sub.duals[name].modes)
        values = _allreduce(values, comm)                      # integration points: disjoint rows
        internal[name] = values[:, 0] if width == 1 and np.ndim(templates[name]) == 1 else values
    stress = np.zeros_like(strain)
    if "sig" in operator.parts[0].sub.duals:
        coefficients, _ = operator.gappy(state, "sig")
        for part in operator.parts:
            stress[part.sub.point_rows] = np.einsum("n,npc->pc", coefficients, part.sub.duals["sig"].modes)
        stress = _allreduce(stress, comm)
    return MechanicalState(state.time, U, strain, stress, internal, model.rule)


def restrict_state(operator, full, imposed: bool = True):
    """A reduced state from a full one: coordinates by projection, internal variables at the reduced points.

    ``imposed``: the full state's constrained dofs hold the problem's values at its
    time (False for the initial state); they are not projected on the modes (which
    vanish there) but enter the strain through the lifting.
    """
    from rom.lifting import constrained_mask, without_constrained
    from rom.reduced import ReducedState

    from rom.parallel import allreduce_sum as _allreduce

    model = operator.model
    free = without_constrained(np.array(full.displacement, dtype=np.float64)[None],
                               constrained_mask(model.mesh, model.constrained, np.arange(model.mesh.n_nodes)))[0]
    q = np.zeros(model.n_modes)
    for part in operator.parts:
        q += part.sub.displacement_modes @ _mass_weighted(model, part.sub, free)
    q = _allreduce(q, operator.comm)
    lifting = operator.lifting(full.time) if imposed else [np.zeros((len(p.sub.points), 6)) for p in operator.parts]
    strain, stress, internal, temperature = [], [], [], []
    for part, lifted in zip(operator.parts, lifting):
        rows = part.sub.point_rows[part.sub.points]
        strain.append(np.einsum("kcn,n->kc", part.sub.strain_operator, q) + lifted)
        stress.append(full.stress[rows])
        groups = []
        for g in part.groups:
            template = g.law.initial_state(len(g.points))
            groups.append({n: np.asarray(full.internal[n])[rows[g.points]].reshape(np.shape(v))
                           for n, v in template.items()})
        internal.append(groups)
        temperature.append(operator.temperature(part, full.time))
    return ReducedState(full.time, q, strain, stress, internal, temperature, imposed=imposed)


def _mass_weighted(model, sub, displacement):
    """M_local u_local for the projection on M-orthonormal modes (this subdomain's cells)."""
    M = _local_operators(model, sub)[3]
    return M @ displacement[sub.nodes].ravel()


# ================================================================= the model
def enrich_model(model, problem, result, *, pod_tol: float, ecm_tol: float, comm=None):
    """The model with one more snapshot (``result``, a MechanicalState) in every basis.

    Every rank calls it with the same ``result``; each updates the subdomains it holds
    (the POD updates and the reduced loads are summed over ``comm``).
    """
    from rom import fem
    from rom.ecm import ecm, ecm_integrands
    from rom.gappy import gappy_points
    from rom.model import DualField
    from rom.pod import update

    from rom.lifting import constrained_mask, lifting_strain, without_constrained

    subs = model.subdomains
    # displacement basis: incremental POD with the mass inner product, over all subdomains at once
    # (interface nodes appear in two subdomains; the element-assembled mass counts them once),
    # of the snapshot without its imposed values (the modes vanish on the constrained dofs)
    local = [_local_operators(model, s)[:3] for s in subs]
    masses = [_local_operators(model, s)[3] for s in subs]
    masks = [constrained_mask(model.mesh, model.constrained, s.nodes) for s in subs]
    snapshot_rows = [without_constrained(np.array(result.displacement[s.nodes], dtype=np.float64)[None], m)[0].ravel()
                     for s, m in zip(subs, masks)]
    modes = np.concatenate([s.displacement_modes for s in subs], axis=1)
    mass = sp.block_diag(masses).tocsr()
    basis = update(_basis(modes, model.singular_values, model.n_modes, "mass"),
                   np.concatenate(snapshot_rows)[None], inner_product=mass, tol=pod_tol, comm=comm)
    new_modes = basis.modes
    offsets = np.cumsum([0] + [3 * len(s.nodes) for s in subs])
    names, material_of_cell = problem.material_of_cells()
    new_subs = []
    for i, (s, (mesh_local, B, weights)) in enumerate(zip(subs, local)):
        modes_i = new_modes[:, offsets[i]:offsets[i + 1]]
        stress = result.stress[s.point_rows][None]
        duals = {}
        extra = []
        for name, dual in s.duals.items():
            flat = np.concatenate([d.duals[name].modes.reshape(len(dual.modes), -1) for d in subs], axis=1)
            rows_all = np.concatenate([_dual_of(result, name, d.point_rows).ravel() for d in subs])
            updated = update(_basis(flat, dual.singular_values, len(dual.modes), "identity"),
                             rows_all[None], tol=pod_tol, comm=comm)
            widths = np.cumsum([0] + [d.duals[name].modes[0].size for d in subs])
            updated_modes = updated.modes[:, widths[i]:widths[i + 1]]
            duals[name] = DualField(name, dual.components,
                                    updated_modes.reshape(len(updated_modes), len(s.point_rows), -1),
                                    updated.singular_values)
            extra.append(gappy_points(updated_modes, len(dual.components)))
        stresses = stress
        if "sig" in duals:
            stresses = np.concatenate([duals["sig"].modes * duals["sig"].singular_values[:len(duals["sig"].modes), None, None],
                                       stress], axis=0)
        integrands, w = ecm_integrands(B, weights, stresses, modes_i)
        ecm_points = s.points[s.weights > 0]
        quadrature = ecm(integrands, w, tol=ecm_tol, initial=ecm_points)
        points = np.unique(np.concatenate([quadrature.points, *extra]))
        reduced_weights = np.zeros(len(points))
        reduced_weights[np.searchsorted(points, quadrature.points)] = quadrature.weights
        rows = (6 * points[:, None] + np.arange(6)).ravel()
        counts = np.concatenate([np.full(len(c), points_per_cell(model.rule, t)) for t, c in mesh_local.cells.items()])
        cell_of_point = np.repeat(np.arange(mesh_local.n_cells), counts)
        interpolation = sp.csr_matrix(fem.interpolation_operator(mesh_local, rule=model.rule))[points]
        lifting_dofs, lifting = lifting_strain(B[rows], masks[i], s.nodes)
        new_subs.append(dataclasses.replace(
            s, displacement_modes=modes_i, points=points, weights=reduced_weights,
            strain_operator=(B[rows] @ modes_i.T).reshape(len(points), 6, len(modes_i)),
            material=material_of_cell[s.cells[cell_of_point[points]]], temperature_interpolation=interpolation,
            duals=duals, ecm_residual=float(getattr(quadrature, "residual", 0.0)),
            lifting_dofs=lifting_dofs, lifting_strain=lifting))
    from rom.offline import reduced_loads

    pressure_loads, moments = reduced_loads(
        problem, [(x.index, x.cells, x.nodes, x.displacement_modes) for x in new_subs], model.rule, comm)
    return dataclasses.replace(model, n_modes=len(new_modes), singular_values=basis.singular_values,
                               subdomains=new_subs, pressure_loads=pressure_loads, centrifugal_moments=moments,
                               provenance={**model.provenance, "enriched": model.provenance.get("enriched", 0) + 1})


def _dual_of(result, name, rows):
    if name == "sig":
        return result.stress[rows]
    if name == "eto":
        return result.strain[rows]
    values = np.asarray(result.internal[name])[rows]
    return values.reshape(len(rows), -1)


def _basis(modes, singular_values, n, inner):
    """The stored basis as a ReducedBasis (``singular_values[:n]`` weight the modes in the update)."""
    from rom.pod import ReducedBasis

    return ReducedBasis(modes=modes, singular_values=singular_values, inner_product=inner)
