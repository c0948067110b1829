"""The reductor: bases and stresses → a hyper-reduced model, one code path for every use.

In the manner of pyMOR's reductors, one object holds what a subdomain's reduction
needs at full resolution (its strain operator ``B``, integration weights, mass
matrix, constrained dofs, interpolation) and offers:

- :meth:`Reductor.cubature` — the ECM rule of a subdomain for a displacement basis and
  stress snapshots (the model's ECM settings: ``tol``, ``seed``, ``stress_tol``);
- :meth:`Reductor.reduce` — the :class:`~rom.model.SubdomainModel` of each subdomain
  (reduced point set = ECM ∪ Gappy points, strain operator, laws, temperature
  interpolation and lifting at those points) and the reduced loads (collective);
- :meth:`Reductor.extend_basis` — one more snapshot in every basis (incremental POD,
  distributed), then the same cubature (warm-started) and :meth:`reduce`;
- :meth:`Reductor.reconstruct` — this rank's rows of the full state of a reduced
  solution (displacement, strain, stress and internal variables).

:func:`rom.offline.build` (training results) and :mod:`rom.adaptive` (enrichment) both
go through it, with the same settings. Each rank holds the subdomains it was given;
the only communication is in the POD updates and the reduced loads.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from io_adapters.errors import ConfigError, InputError
from io_adapters.quadrature_rules import point_rows_of_cells, points_per_cell

from rom import fem
from rom.ecm import ReducedQuadrature, ecm, ecm_integrands
from rom.gappy import gappy_points
from rom.hifi.step import PartitionedState
from rom.lifting import ImposedDisplacements, constrained_mask, lifting_strain, without_constrained
from rom.loads import reduced_loads
from rom.model import DualField, ReducedOrderModel, SubdomainModel
from rom.pod import ReducedBasis, update
from rom.settings import EcmSettings

__all__ = ["Part", "Reductor", "dual_rows", "displacement_rows", "constrained_sets"]


def constrained_sets(problem) -> dict[str, list[int]]:
    """Node set → imposed components of a problem (the model's ``constrained``): its
    Dirichlet conditions' and its imposed fields' (:class:`~io_adapters.problem.ImposedField`)."""
    out: dict[str, list[int]] = {}
    for bc in problem.dirichlet:
        out.setdefault(bc.node_set, []).append(int(bc.component))
    for imposed in problem.imposed_fields:
        out.setdefault(imposed.node_set, []).extend(int(c) for c in imposed.components)
    return {k: sorted(set(v)) for k, v in out.items()}


# ================================================================ a subdomain
@dataclass(eq=False)
class Part:
    """One subdomain at full resolution, as the reductor needs it (operators built on first use).

    Attributes
    ----------
    index : int
        Subdomain index.
    cells : (n_local_cells,) int array
        Global cells, increasing.
    nodes : (n_local_nodes,) int array
        Global nodes of those cells (the submesh's order).
    point_rows : (n_local_points,) int array
        Global integration-point rows of those cells.
    local : Mesh
        The submesh.
    mask : (n_local_nodes, 3) bool
        Constrained dofs.
    """

    index: int
    cells: np.ndarray
    nodes: np.ndarray
    point_rows: np.ndarray
    local: object
    mask: np.ndarray
    rule: str
    _operators: dict = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, problem, index: int, cells: np.ndarray, rule: str, constrained: dict) -> "Part":
        cells = np.asarray(cells, dtype=np.int64)
        local, nodes = problem.mesh.submesh(cells)
        return cls(index, cells, nodes, point_rows_of_cells(problem.mesh.cells, rule, cells), local,
                   constrained_mask(problem.mesh, constrained, nodes), rule)

    def _get(self, name: str, make):
        if name not in self._operators:
            self._operators[name] = make()
        return self._operators[name]

    @property
    def B(self) -> sp.csr_matrix:
        """Strain operator ``(6 n_local_points, 3 n_local_nodes)``."""
        return self._get("B", lambda: self._strain()[0])

    @property
    def weights(self) -> np.ndarray:
        """Integration weights ``(n_local_points,)``."""
        return self._get("weights", lambda: self._strain()[1])

    def _strain(self):
        B, weights = fem.strain_operator(self.local, rule=self.rule)
        self._operators["B"], self._operators["weights"] = sp.csr_matrix(B), np.asarray(weights)
        return self._operators["B"], self._operators["weights"]

    @property
    def mass(self) -> sp.csr_matrix:
        """Mass matrix of the displacement dofs ``(3 n, 3 n)`` (the POD's inner product)."""
        return self._get("mass", lambda: sp.csr_matrix(fem.mass_matrix(self.local, rule="high", n_components=3)))

    @property
    def cell_of_point(self) -> np.ndarray:
        """Local cell of each local integration point, ``(n_local_points,)``."""
        def make():
            counts = [np.full(len(c), points_per_cell(self.rule, t)) for t, c in self.local.cells.items()]
            return np.repeat(np.arange(self.local.n_cells), np.concatenate(counts))
        return self._get("cell_of_point", make)

    def interpolation_at(self, points: np.ndarray) -> sp.csr_matrix:
        """Nodal → integration-point interpolation at some local points, ``(k, n_local_nodes)``."""
        full = self._get("interpolation", lambda: sp.csr_matrix(fem.interpolation_operator(self.local, rule=self.rule)))
        return full[points]

    def free_rows(self, displacement: np.ndarray) -> np.ndarray:
        """Displacement rows ``(n_local_nodes, 3)`` → ``(3 n_local_nodes,)`` with the constrained dofs at 0."""
        return without_constrained(np.array(displacement, dtype=np.float64)[None], self.mask)[0].ravel()


# ============================================================ reconstruction
def displacement_rows(sub: SubdomainModel, q: np.ndarray, imposed: ImposedDisplacements | None, t: float):
    """The displacement at a subdomain's nodes, ``(n_local_nodes, 3)``: ``u_D(t) + Φ q``.

    ``imposed``: the problem's imposed values at the subdomain's dofs (None: the modes
    alone, e.g. the initial state before any condition is applied).
    """
    u = (np.asarray(q) @ sub.displacement_modes).reshape(-1, 3)
    if imposed is not None:
        u = u + imposed.at(t).reshape(-1, 3)
    return u


def dual_rows(sub: SubdomainModel, name: str, coefficients: np.ndarray) -> np.ndarray:
    """A dual quantity at a subdomain's integration points from its Gappy-POD coefficients, ``(n_points, n_c)``."""
    return np.einsum("n,npc->pc", np.asarray(coefficients), sub.duals[name].modes)


def imposed_at_nodes(problem, nodes: np.ndarray) -> ImposedDisplacements | None:
    """The problem's imposed displacements at some nodes' dofs (None without imposed displacements)."""
    if not problem.dirichlet and not problem.imposed_fields:
        return None
    return ImposedDisplacements(problem, (3 * np.asarray(nodes)[:, None] + np.arange(3)).ravel())


# ================================================================ the reductor
class Reductor:
    """Builds and extends the hyper-reduced model of a problem on this rank's subdomains.

    Parameters
    ----------
    problem : io_adapters.Problem
        Mesh, laws, loads and imposed displacements (their node sets and components).
    rule : str
        Integration rule of the training fields.
    subdomains : list of (index, cells)
        The subdomains this rank holds.
    ecm : EcmSettings
        ``tol``, ``seed``, ``stress_tol`` of every cubature.
    comm : communicator, optional
    """

    def __init__(self, problem, rule: str, subdomains, *, ecm: EcmSettings | None = None, comm=None):
        self.problem, self.rule, self.comm = problem, rule, comm
        self.ecm = ecm if ecm is not None else EcmSettings()
        self.constrained = constrained_sets(problem)
        self.parts = [Part.of(problem, int(i), cells, rule, self.constrained) for i, cells in subdomains]
        self.names, self.material_of_cell = problem.material_of_cells()

    @classmethod
    def for_model(cls, model: ReducedOrderModel, problem, *, ecm: EcmSettings | None = None, comm=None) -> "Reductor":
        """The reductor of a model's held subdomains, with its ECM settings (``ecm`` overrides them)."""
        if ecm is None:
            ecm = EcmSettings.from_mapping(model.settings.get("ecm", {}), where="model settings [ecm]")
        return cls(problem, model.rule, [(s.index, s.cells) for s in model.subdomains], ecm=ecm, comm=comm)

    # ------------------------------------------------------------------ ECM
    def cubature(self, i: int, modes: np.ndarray, stresses: np.ndarray, *,
                 initial: np.ndarray | None = None) -> ReducedQuadrature:
        """The ECM rule of part ``i`` for the displacement modes' rows and stress snapshots.

        Parameters
        ----------
        i : int
            Position of the part in :attr:`parts`.
        modes : (n_modes, 3 n_local_nodes)
        stresses : (n_snapshots, n_local_points, 6)
        initial : (k0,) int array, optional
            Warm start (the current rule's points after an enrichment).
        """
        part = self.parts[i]
        integrands, w = ecm_integrands(part.B, part.weights, stresses, modes, stress_tol=self.ecm.stress_tol)
        return ecm(integrands, w, tol=self.ecm.tol, seed=self.ecm.seed, initial=initial)

    # --------------------------------------------------------------- reduce
    def reduce(self, bases: list[ReducedBasis], duals: list[dict], quadratures: list[ReducedQuadrature]):
        """The subdomain models of this rank and the reduced loads (collective).

        Parameters
        ----------
        bases : list of ReducedBasis, one per part
            The displacement modes' rows of each part (global singular values).
        duals : list of dict[str, DualField], one per part
        quadratures : list of ReducedQuadrature, one per part

        Returns
        -------
        subdomains : list of SubdomainModel
        pressure_loads : dict[str, (n_modes,)]
        centrifugal_moments : (m0, m1)
        """
        if not (len(bases) == len(duals) == len(quadratures) == len(self.parts)):
            raise InputError(f"reductor: {len(self.parts)} subdomains held, given {len(bases)} bases, "
                             f"{len(duals)} dual sets and {len(quadratures)} rules")
        subdomains = [self._subdomain(part, basis, dual, quadrature)
                      for part, basis, dual, quadrature in zip(self.parts, bases, duals, quadratures)]
        pressure_loads, moments = reduced_loads(
            self.problem, [(s.index, s.cells, s.nodes, s.displacement_modes) for s in subdomains], self.rule, self.comm)
        return subdomains, pressure_loads, moments

    def _subdomain(self, part: Part, basis: ReducedBasis, duals: dict, quadrature: ReducedQuadrature) -> SubdomainModel:
        extra = [gappy_points(d.modes.reshape(len(d.modes), -1), len(d.components)) for d in duals.values()]
        points = np.unique(np.concatenate([quadrature.points, *extra])) if extra else np.sort(quadrature.points)
        rows = (6 * points[:, None] + np.arange(6)).ravel()
        B_rows = part.B[rows]
        modes = basis.modes
        lifting_dofs, lifting = lifting_strain(B_rows, part.mask, part.nodes)
        return SubdomainModel(
            index=part.index, cells=part.cells, nodes=part.nodes, point_rows=part.point_rows, basis=basis,
            quadrature=quadrature, points=points,
            strain_operator=np.asarray(B_rows @ modes.T).reshape(len(points), 6, len(modes)),
            material=self.material_of_cell[part.cells[part.cell_of_point[points]]],
            temperature_interpolation=part.interpolation_at(points), duals=duals,
            lifting_dofs=lifting_dofs, lifting_strain=lifting)

    # -------------------------------------------------------- extend the bases
    def extend_basis(self, model: ReducedOrderModel, snapshot, *, pod_tol: float) -> ReducedOrderModel:
        """The model with one more snapshot in every basis, re-reduced (collective).

        Parameters
        ----------
        model : ReducedOrderModel
            Holding the same subdomains as this reductor.
        snapshot : rom.hifi.PartitionedState
            This rank's rows of a full state (every node and point of its subdomains).
        pod_tol : float
            Truncation of the incremental POD updates (relative).

        Returns
        -------
        ReducedOrderModel
            Bases updated (distributed incremental POD: the displacement in the mass
            inner product, of the snapshot without its imposed values; each dual), ECM
            warm-started from the current points with the dual stress basis and the new
            stress, Gappy points re-selected, operators and loads rebuilt.
        """
        subs = model.subdomains
        if [s.index for s in subs] != [p.index for p in self.parts]:
            raise InputError(f"reductor: the model holds subdomains {[s.index for s in subs]}, the reductor "
                             f"{[p.index for p in self.parts]}")
        node_position = _positions(snapshot.nodes, "nodes")
        point_position = _positions(snapshot.point_rows, "integration points")
        node_rows = [_rows_of(node_position, p.nodes, snapshot.nodes, "node", p.index) for p in self.parts]
        point_rows = [_rows_of(point_position, p.point_rows, snapshot.point_rows, "integration point", p.index)
                      for p in self.parts]

        # displacement: one incremental POD over the held parts (block-diagonal mass), summed over the ranks
        free = np.concatenate([p.free_rows(snapshot.displacement[rows]) for p, rows in zip(self.parts, node_rows)])
        current = ReducedBasis(np.concatenate([s.displacement_modes for s in subs], axis=1), model.singular_values,
                               inner_product="mass")
        basis = update(current, free[None], inner_product=sp.block_diag([p.mass for p in self.parts]).tocsr(),
                       tol=pod_tol, comm=self.comm)
        offsets = np.cumsum([0] + [3 * len(p.nodes) for p in self.parts])
        bases = [ReducedBasis(basis.modes[:, offsets[i]:offsets[i + 1]], basis.singular_values, inner_product="mass")
                 for i in range(len(self.parts))]

        # every dual basis the same way (identity inner product: the rows are disjoint)
        duals = [dict() for _ in self.parts]
        for name in (subs[0].duals if subs else {}):
            values = [_dual_snapshot(snapshot, name, rows) for rows in point_rows]
            flat = np.concatenate([s.duals[name].modes.reshape(len(s.duals[name].modes), -1) for s in subs], axis=1)
            updated = update(ReducedBasis(flat, subs[0].duals[name].singular_values),
                             np.concatenate([v.ravel() for v in values])[None], tol=pod_tol, comm=self.comm)
            widths = np.cumsum([0] + [s.duals[name].modes[0].size for s in subs])
            for i, s in enumerate(subs):
                rows = updated.modes[:, widths[i]:widths[i + 1]]
                duals[i][name] = DualField(name, s.duals[name].components,
                                           rows.reshape(len(rows), len(s.point_rows), -1), updated.singular_values)

        # the cubature, warm-started, with the stress basis (scaled) and the new stress
        quadratures = []
        for i, (s, rows) in enumerate(zip(subs, point_rows)):
            stresses = snapshot.stress[rows][None]
            if "sig" in duals[i]:
                sig = duals[i]["sig"]
                stresses = np.concatenate([sig.modes * sig.singular_values[:len(sig.modes), None, None], stresses])
            quadratures.append(self.cubature(i, bases[i].modes, stresses, initial=s.quadrature.points))
        new_subs, pressure_loads, moments = self.reduce(bases, duals, quadratures)
        return dataclasses.replace(
            model, n_modes=basis.n_modes, singular_values=basis.singular_values, subdomains=new_subs,
            pressure_loads=pressure_loads, centrifugal_moments=moments,
            provenance={**model.provenance, "enriched": model.provenance.get("enriched", 0) + 1})

    # ------------------------------------------------------------ reconstruct
    def reconstruct(self, model: ReducedOrderModel, q: np.ndarray, t: float, coefficients: dict, *,
                    imposed: bool = True):
        """This rank's rows of the full state of a reduced solution.

        Parameters
        ----------
        model : ReducedOrderModel
        q : (n_modes,) reduced coordinates
        t : float
        coefficients : dict[str, (n_dual_modes,)]
            Gappy-POD coefficients of the dual quantities to rebuild (``sig`` for the
            stress, the laws' internal variables); computed by the caller (collective).
        imposed : bool
            Add the problem's imposed values (False for the initial state).

        Returns
        -------
        rom.hifi.PartitionedState
            On every node and integration point of the held subdomains: displacement
            ``u_D + Φq``, strain ``B u``, stress and internal variables from their
            Gappy-POD fits (zero stress when the model has no ``sig`` basis).
        """
        nodes = np.unique(np.concatenate([p.nodes for p in self.parts]))
        rows = np.concatenate([p.point_rows for p in self.parts])
        order = np.argsort(rows)
        displacement = np.zeros((len(nodes), 3))
        strain, stress = [], []
        internal: dict[str, list] = {n: [] for n in coefficients if n not in ("sig", "eto")}
        for part, sub in zip(self.parts, model.subdomains):
            u = displacement_rows(sub, q, imposed_at_nodes(self.problem, sub.nodes) if imposed else None, t)
            displacement[np.searchsorted(nodes, sub.nodes)] = u
            strain.append((part.B @ u.ravel()).reshape(-1, 6))
            stress.append(dual_rows(sub, "sig", coefficients["sig"]) if "sig" in coefficients
                          else np.zeros((len(sub.point_rows), 6)))
            for name in internal:
                internal[name].append(dual_rows(sub, name, coefficients[name]))
        squeeze = lambda v: v[:, 0] if v.shape[1] == 1 else v  # noqa: E731  (scalars as (m,))
        return PartitionedState(
            time=float(t), nodes=nodes, displacement=displacement, point_rows=rows[order],
            strain=np.concatenate(strain)[order], stress=np.concatenate(stress)[order],
            internal={n: squeeze(np.concatenate(v)[order]) for n, v in internal.items()}, rule=self.rule)

    def cell_parts(self) -> np.ndarray:
        """The rank holding each cell of the mesh, (n_cells,) (collective): the HF step's partition."""
        mine = [(p.cells, self.comm.rank if self.comm is not None else 0) for p in self.parts]
        everyone = mine if self.comm is None or self.comm.size == 1 else \
            [item for chunk in self.comm.allgather(mine) for item in chunk]
        owner = np.full(self.problem.mesh.n_cells, -1, dtype=np.int64)
        for cells, rank in everyone:
            owner[cells] = rank
        if np.any(owner < 0):
            raise ConfigError(f"reductor: the subdomains do not cover the mesh ({int(np.sum(owner < 0))} cells left)")
        return owner


# ================================================================= internals
def _positions(ids: np.ndarray, what: str) -> np.ndarray:
    ids = np.asarray(ids)
    if np.any(np.diff(ids) <= 0):
        raise InputError(f"reductor: the snapshot's {what} must be increasing and distinct")
    return ids


def _rows_of(sorted_ids: np.ndarray, wanted: np.ndarray, ids: np.ndarray, what: str, index: int) -> np.ndarray:
    """Positions of ``wanted`` in the increasing ``ids``; refuses ids that are missing."""
    position = np.searchsorted(sorted_ids, wanted)
    inside = position < len(ids)
    if not inside.all() or not np.array_equal(ids[position], wanted):
        raise InputError(f"reductor: the snapshot lacks some {what}s of subdomain {index}")
    return position


def _dual_snapshot(snapshot, name: str, rows: np.ndarray) -> np.ndarray:
    if name == "sig":
        return snapshot.stress[rows]
    if name == "eto":
        return snapshot.strain[rows]
    if name not in snapshot.internal:
        raise InputError(f"enrichment: the high-fidelity state has no '{name}' (has: {', '.join(snapshot.internal)})")
    values = np.asarray(snapshot.internal[name])[rows]
    return values.reshape(len(rows), -1)
