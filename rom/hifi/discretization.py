"""What one rank of the high-fidelity solver needs to know of a Problem.

A :class:`Discretization` holds this rank's cells and their operators (strain
operator, integration weights, nodal→integration-point interpolation), the laws
and the integration points each one governs, the Dirichlet dofs and the load
vectors, all in this rank's *local* node numbering, plus the map from local dofs
to the global (PETSc) dof numbering.

Imposed displacements come from the problem's :class:`~io_adapters.problem.Dirichlet`
conditions (``value × table(t)`` on a node set) and its
:class:`~io_adapters.problem.ImposedField` s (per-node values on a node set);
:meth:`Discretization.dirichlet_values` sets them in that order, a later condition
winning on a dof several share (the rule of :class:`~io_adapters.problem.Problem`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from io_adapters.errors import ConfigError
from io_adapters.mesh import Mesh
from io_adapters.quadrature_rules import point_rows_of_cells

from rom import fem
from rom.materials import from_spec
from rom.partition import contiguous_node_numbering, node_owners, partition_cells


@dataclass
class Region:
    """Integration points governed by one law.

    Attributes
    ----------
    name : str
        Cell set (or ``ALL_ELEMENT``) the law was given for.
    law : object
        A ``rom.materials`` law.
    points : (k,) int array
        Local integration-point indices.
    """

    name: str
    law: object
    points: np.ndarray


@dataclass
class Discretization:
    """This rank's share of the discretised problem.

    Attributes
    ----------
    problem : Problem
    rule : str
        Integration rule of the operators.
    cells : (n_local_cells,) int array
        Global indices of this rank's cells, increasing.
    local : Mesh
        Submesh of those cells; ``local.point_ids`` are global node indices.
    point_rows : (n_local_points,) int array
        Global integration-point rows of the local points.
    B : sparse (6 n_local_points, 3 n_local_nodes)
    weights : (n_local_points,)
    interpolation : sparse (n_local_points, n_local_nodes)
    regions : list[Region]
    dof_global : (3 n_local_nodes,) int array
        Global dof index of each local dof (contiguous per owning rank).
    owned : (3 n_local_nodes,) bool array
        Local dofs this rank owns.
    n_global_dofs, owned_range : int, (start, stop)
    dirichlet : list of (local dofs, value, table name)
    constrained : (3 n_local_nodes,) bool
        Every dof with an imposed value (Dirichlet conditions and imposed fields).
    pressure : list of ((3 n_local_nodes,) unit-value load, table name)
        Restricted to owned dofs (so that the assembled sum counts each once).
    centrifugal : list of ((3 n_local_nodes,) load for ω = 1, omega, table name)
    imposed : list of (local dofs (m,), rows (k,), ImposedField)
        The imposed fields on this rank's nodes: ``rows`` are the positions in the
        field's node set of the local nodes it covers, ``dofs`` their constrained
        local dofs, node-major (``k × len(components)``).
    """

    problem: object
    rule: str
    cells: np.ndarray
    local: Mesh
    point_rows: np.ndarray
    B: sp.csr_matrix
    weights: np.ndarray
    interpolation: sp.csr_matrix
    regions: list
    dof_global: np.ndarray
    owned: np.ndarray
    n_global_dofs: int
    owned_range: tuple[int, int]
    dirichlet: list
    constrained: np.ndarray
    pressure: list
    centrifugal: list
    imposed: list = field(default_factory=list)
    _assembler: object = field(default=None, repr=False, compare=False)
    _initial_temperature: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def n_points(self) -> int:
        return len(self.weights)

    @property
    def n_dofs(self) -> int:
        return 3 * self.local.n_nodes

    def stiffness(self, tangent: np.ndarray) -> sp.csr_matrix:
        """Tangent stiffness ``Bᵀ diag(w D) B`` of this rank's cells, (3 n_local_nodes,)².

        The sparsity pattern is found on the first call and kept
        (:class:`rom.fem.StiffnessAssembler`); later calls only compute values.
        """
        if self._assembler is None:
            self._assembler = fem.StiffnessAssembler.of(self.B) or False
        if self._assembler is False:
            return fem.stiffness(self.B, self.weights, tangent)
        return self._assembler(self.weights, tangent)

    # ------------------------------------------------------------ time data
    def table(self, name: str | None, t: float) -> float:
        return float(self.problem.factor(name, t))

    def dirichlet_values(self, t: float) -> np.ndarray:
        """Imposed displacement at every constrained local dof, (3 n_local_nodes,) (0 elsewhere).

        The Dirichlet conditions in order, then the imposed fields in order; a later
        one wins on a shared dof.
        """
        values = np.zeros(self.n_dofs)
        for dofs, value, table in self.dirichlet:
            values[dofs] = value * self.table(table, t)
        for dofs, rows, imposed in self.imposed:
            if len(dofs):
                values[dofs] = imposed.at(t, rows)[:, list(imposed.components)].ravel()
        return values

    def external_load(self, t: float) -> np.ndarray:
        """This rank's part of the external nodal forces at time t, (3 n_local_nodes,)."""
        f = np.zeros(self.n_dofs)
        for vector, table in self.pressure:
            f += self.table(table, t) * vector
        for vector, omega, table in self.centrifugal:
            f += (omega * self.table(table, t)) ** 2 * vector
        return f

    def temperature(self, t: float) -> np.ndarray | None:
        """Temperature at the local integration points, (n_local_points,), or None."""
        history = self.problem.temperature
        if history is None:
            return None
        nodal = np.asarray(history.at(t), dtype=np.float64)[self.local.point_ids]
        return self.interpolation @ nodal

    def point_temperature(self, t: float) -> np.ndarray:
        """Temperature at the local integration points, (n_local_points,); zero when the
        problem has none (no law then depends on it: the Problem checks that)."""
        T = self.temperature(t)
        return np.zeros(self.n_points) if T is None else T

    @property
    def initial_temperature(self) -> np.ndarray:
        """Temperature ``T_0`` at the local points at the problem's first time, (n_local_points,).

        The laws measure the thermal strain from it (``α(T)(T − T_ref) − α(T_0)(T_0 − T_ref)``,
        Zset's convention): a step that starts elsewhere (an enrichment) still uses it.
        """
        if self._initial_temperature is None:
            self._initial_temperature = self.point_temperature(float(self.problem.times[0]))
        return self._initial_temperature


def _assign_laws(problem) -> list[tuple[str, object, np.ndarray]]:
    """(material key, law, global cell indices) per material (the Problem checked the cover)."""
    names, index = problem.material_of_cells()
    laws = []
    for k, name in enumerate(names):
        cells = np.flatnonzero(index == k)
        if len(cells):
            laws.append((name, from_spec(problem.materials[name]), cells))
    return laws


def build(problem, *, rule: str = "default", comm=None, cell_parts: np.ndarray | None = None) -> Discretization:
    """Discretise a problem on this rank.

    Parameters
    ----------
    problem : io_adapters.Problem
    rule : str
        Integration rule (``"default"``, or ``"zset"`` to line up with Zset's points).
    comm : mpi4py communicator, optional
        Serial when omitted.
    cell_parts : (n_cells,) int array, optional
        Rank of every cell (METIS partition when omitted).
    """
    mesh = problem.mesh
    rank, size = (comm.rank, comm.size) if comm is not None else (0, 1)
    if cell_parts is None:
        cell_parts = partition_cells(mesh, size) if size > 1 else np.zeros(mesh.n_cells, dtype=np.int64)
        if comm is not None and size > 1:
            cell_parts = comm.bcast(cell_parts, root=0)   # one partition for all ranks
    cells = np.flatnonzero(cell_parts == rank)
    local, nodes = mesh.submesh(cells)

    owner = node_owners(mesh, cell_parts)
    new_index, starts = contiguous_node_numbering(owner, size)
    dof_global = (3 * new_index[nodes][:, None] + np.arange(3)).ravel()
    owned = np.repeat(owner[nodes] == rank, 3)

    B, weights = fem.strain_operator(local, rule=rule)
    interpolation = fem.interpolation_operator(local, rule=rule)
    point_rows = point_rows_of_cells(mesh.cells, rule, cells)

    regions = []
    cell_position = np.full(mesh.n_cells, -1)
    cell_position[cells] = np.arange(len(cells))
    for name, law, law_cells in _assign_laws(problem):
        mine = cell_position[law_cells]
        mine = np.sort(mine[mine >= 0])
        points = point_rows_of_cells(local.cells, rule, mine)
        regions.append(Region(name, law, points))

    node_map = np.full(mesh.n_nodes, -1)
    node_map[nodes] = np.arange(len(nodes))
    dirichlet, constrained = [], np.zeros(3 * len(nodes), dtype=bool)
    for condition in problem.dirichlet:
        global_nodes = mesh.node_sets[condition.node_set]
        local_nodes = node_map[global_nodes]
        local_nodes = local_nodes[local_nodes >= 0]
        dofs = 3 * local_nodes + int(condition.component)
        constrained[dofs] = True
        dirichlet.append((dofs, float(condition.value), condition.table))
    imposed = []
    for condition in problem.imposed_fields:
        local_nodes = node_map[mesh.node_sets[condition.node_set]]
        rows = np.flatnonzero(local_nodes >= 0)
        dofs = (3 * local_nodes[rows][:, None] + np.asarray(condition.components)).ravel()
        constrained[dofs] = True
        imposed.append((dofs, rows, condition))

    pressure = []
    local_dofs_of_global = (3 * nodes[:, None] + np.arange(3)).ravel()
    for load in problem.pressures:
        vector = fem.pressure_load(mesh, load.face_set, load.values)[local_dofs_of_global]
        pressure.append((np.where(owned, vector, 0.0), load.table))
    centrifugal = []
    for load in problem.centrifugal:
        spinning = np.zeros(len(weights), dtype=bool)   # only the set's cells spin
        inside = np.zeros(mesh.n_cells, dtype=bool)
        inside[problem.cells(load.cell_set)] = True
        spinning[point_rows_of_cells(local.cells, rule, np.flatnonzero(inside[cells]))] = True
        density = _density_per_point(regions, spinning)
        vector = fem.centrifugal_load(local, density, 1.0, load.center, load.axis, rule=rule)
        centrifugal.append((vector, float(load.omega), load.table))

    return Discretization(
        problem=problem, rule=rule, cells=cells, local=local, point_rows=point_rows, B=B.tocsr(),
        weights=np.asarray(weights), interpolation=sp.csr_matrix(interpolation), regions=regions,
        dof_global=dof_global, owned=owned, n_global_dofs=3 * mesh.n_nodes,
        owned_range=(3 * int(starts[rank]), 3 * int(starts[rank + 1])), dirichlet=dirichlet,
        constrained=constrained, pressure=pressure, centrifugal=centrifugal, imposed=imposed,
    )


def _density_per_point(regions: list[Region], spinning: np.ndarray) -> np.ndarray:
    """Density at the local points that carry a centrifugal load (0 elsewhere)."""
    density = np.zeros(len(spinning))
    for region in regions:
        if not spinning[region.points].any():
            continue
        rho = getattr(region.law, "density", None)
        if rho is None:
            raise ConfigError(f"centrifugal load needs the density (masvol) of material '{region.name}'")
        density[region.points] = np.where(spinning[region.points], rho, 0.0)
    return density
