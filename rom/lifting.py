"""Imposed displacements in the reduced model: a discrete lifting.

The displacement is written ``u = u_D(t) + Φ q``: ``u_D`` holds the imposed values
on the constrained dofs and zero elsewhere, and the POD modes ``Φ`` vanish on the
constrained dofs. Offline, the training snapshots lose their constrained values
before the POD (:func:`without_constrained`); the strain that a unit value of each
constrained dof produces at the reduced points is kept (:func:`lifting_strain`).
Online, ``ε_l = Bᵣ_l q + Σ_c ε_lc g_c(t)`` with ``g`` the problem's imposed values
(:class:`ImposedDisplacements`, the same rule as the high-fidelity solver: the
Dirichlet conditions in order, then the imposed fields
(:class:`~io_adapters.problem.ImposedField`, per-node values) in order, a later one
winning on a shared dof). The lifting works dof by dof, so any values on the
trained node sets and components are reproduced: a new amplitude, table, or a
whole new imposed field. The Galerkin
equations are those of the free dofs only (the modes vanish on the others), so the
reaction forces never enter.

Only the constrained dofs of the elements holding reduced points enter the online
loop: its cost does not grow with the mesh.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def constrained_mask(mesh, constrained: dict, nodes: np.ndarray) -> np.ndarray:
    """Constrained dofs among some nodes, (len(nodes), 3) bool.

    Parameters
    ----------
    mesh : Mesh
        Holds the node sets.
    constrained : dict[str, list[int]]
        Node set → constrained components (``ReducedOrderModel.constrained``).
    nodes : (n,) int array
        Global node indices.
    """
    mask = np.zeros((len(nodes), 3), dtype=bool)
    for name, components in constrained.items():
        inside = np.isin(nodes, np.asarray(mesh.node_sets[name]))
        for c in components:
            mask[inside, int(c)] = True
    return mask


def without_constrained(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Displacement snapshots with the constrained dofs set to zero (in place).

    Parameters
    ----------
    values : (n_snapshots, n_nodes, 3) array
    mask : (n_nodes, 3) bool array
    """
    values[:, mask] = 0.0
    return values


def lifting_strain(B_rows: sp.spmatrix, mask: np.ndarray, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Strain at the reduced points of a unit value of each constrained dof they see.

    Parameters
    ----------
    B_rows : sparse (6 k, 3 n_local_nodes)
        The strain operator's rows of the reduced points.
    mask : (n_local_nodes, 3) bool
        Constrained local dofs.
    nodes : (n_local_nodes,) int array
        Global index of each local node.

    Returns
    -------
    dofs : (m,) int array
        Global dofs (``3·node + component``) whose value strains a reduced point.
    strain : sparse CSR (6 k, m)
        Row ``6 l + c`` is strain component ``c`` at reduced point ``l``; at most
        the dofs of one element per row, so it stays small however many there are.
    """
    local = np.flatnonzero(mask.ravel())
    columns = sp.csc_matrix(B_rows)[:, local]
    seen = np.flatnonzero(np.diff(columns.indptr) > 0)
    strain = sp.csr_matrix(columns[:, seen])
    strain.eliminate_zeros()
    dofs = 3 * nodes[local[seen] // 3] + local[seen] % 3
    return dofs.astype(np.int64), strain


class ImposedDisplacements:
    """The problem's imposed values at some global dofs, as the high-fidelity solver sets them.

    Parameters
    ----------
    problem : io_adapters.Problem
    dofs : (m,) int array
        Global dofs (``3·node + component``).
    """

    def __init__(self, problem, dofs: np.ndarray):
        self.problem = problem
        dofs = np.asarray(dofs, dtype=np.int64)
        nodes, components = np.divmod(dofs, 3)
        self.conditions = []
        for bc in problem.dirichlet:
            covered = (components == bc.component) & np.isin(nodes, np.asarray(problem.mesh.node_sets[bc.node_set]))
            if covered.any():
                self.conditions.append((covered, float(bc.value), bc.table))
        # per imposed field: (covered dofs (m,) bool, the rows they need, each covered dof's position among
        # those rows and its component, the field)
        self.fields = []
        for imposed in problem.imposed_fields:
            set_nodes = np.asarray(problem.mesh.node_sets[imposed.node_set])
            row_of_node = np.full(problem.mesh.n_nodes, -1, dtype=np.int64)
            row_of_node[set_nodes] = np.arange(len(set_nodes))
            covered = np.isin(components, imposed.components) & (row_of_node[nodes] >= 0)
            if covered.any():
                rows, position = np.unique(row_of_node[nodes[covered]], return_inverse=True)
                self.fields.append((covered, rows, position.ravel(), components[covered], imposed))
        self.n = len(dofs)

    @classmethod
    def everywhere(cls, problem) -> "ImposedDisplacements":
        """At every dof of the mesh: ``at(t).reshape(-1, 3)`` is ``u_D(t)`` (0 on free dofs)."""
        return cls(problem, np.arange(3 * problem.mesh.n_nodes))

    def at(self, t: float) -> np.ndarray:
        """Imposed values at time t, (m,) (0 where no condition applies)."""
        values = np.zeros(self.n)
        for covered, value, table in self.conditions:
            values[covered] = value * float(self.problem.factor(table, t))
        for covered, rows, position, components, imposed in self.fields:
            values[covered] = imposed.at(t, rows)[position, components]
        return values
