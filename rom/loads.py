"""Reduced loads: what the external forces become in the reduced space.

Used offline (the model stores the reduced unit pressure of every face set and the
centrifugal moments) and online (a pressure given per facet is reduced once per
problem). Every function is collective over ``comm`` when given: each rank projects
the loads on the rows of the subdomains it holds, one ``Allreduce`` sums them.

A subdomain is given as ``(index, cells, nodes, modes)``: its index, its global
cells and nodes, and the displacement modes' rows on those nodes
``(n_modes, 3 n_local_nodes)``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from io_adapters.quadrature_rules import points_per_cell

from rom import fem
from rom.parallel import allreduce_sum as _allreduce


def reduced_loads(problem, parts, rule: str, comm=None):
    """Reduced unit pressure on every face set and centrifugal moments, summed over all subdomains.

    Parameters
    ----------
    problem : io_adapters.Problem
        Mesh, face sets and material densities.
    parts : list of (index, cells, nodes, modes)
        The subdomains this rank holds: subdomain index, global cells and nodes, and
        the displacement modes' rows on those nodes (n_modes, 3 n_local_nodes).
    rule : str
    comm : communicator, optional

    Returns
    -------
    pressure_loads : dict[str, (n_modes,)]
    moments : (m0 (n_modes, 3), m1 (n_modes, 3, 3))
        See :attr:`rom.model.ReducedOrderModel.centrifugal_moments`.

    Notes
    -----
    A node shared by subdomains contributes its (global) pressure load once, from the
    lowest subdomain index holding it; volume moments are split by cells, hence exact.
    """
    mesh = problem.mesh
    owner = _node_owners(mesh, parts, comm)
    names_m, material_of_cell = problem.material_of_cells()
    density_of_material = np.array([float(problem.materials[n].get("density", 0.0) or 0.0)
                                    if not isinstance(problem.materials[n].get("density"), dict) else np.nan
                                    for n in names_m])
    n_modes = len(parts[0][3])
    names = list(mesh.face_sets)
    unit_pressures = [fem.pressure_load(mesh, name, 1.0) for name in names]   # surface only: cheap
    loads = np.array([_project_owned(f, parts, owner) for f in unit_pressures]).reshape(len(names), n_modes)
    r0, r1 = np.zeros((n_modes, 3)), np.zeros((n_modes, 3, 3))
    for index, cells, nodes, modes in parts:
        local, _ = mesh.submesh(cells)
        counts = np.concatenate([np.full(len(c), points_per_cell(rule, t)) for t, c in local.cells.items()])
        rho = np.repeat(density_of_material[material_of_cell[cells]], counts)
        weights = fem.integration_weights(local, rule=rule)   # no strain operator needed
        x = fem.integration_points(local, rule=rule)
        N = sp.csr_matrix(fem.interpolation_operator(local, rule=rule))
        psi = modes.reshape(n_modes, -1, 3)                     # (n_modes, n_local_nodes, 3)
        r0 += np.einsum("kia,i->ka", psi, N.T @ (rho * weights))
        r1 += np.einsum("kia,ib->kab", psi, N.T @ ((rho * weights)[:, None] * x))
    loads, r0, r1 = _allreduce(loads, comm), _allreduce(r0, comm), _allreduce(r1, comm)
    return {name: loads[i] for i, name in enumerate(names)}, (r0, r1)


def _project_owned(f: np.ndarray, parts, owner: np.ndarray) -> np.ndarray:
    """``Σ_parts modes · f`` over the nodes each held part owns (this rank's share), (n_modes,).

    ``f`` is a nodal force on the whole mesh, (3 n_nodes,); a node shared by
    subdomains counts once, in the lowest one (``owner``).
    """
    load = np.zeros(len(parts[0][3]))
    for index, _, nodes, modes in parts:
        dofs = (3 * nodes[:, None] + np.arange(3)).ravel()
        load += modes @ np.where(np.repeat(owner[nodes] == index, 3), f[dofs], 0.0)
    return load


def _node_owners(mesh, parts, comm) -> np.ndarray:
    """Lowest subdomain index holding each node, (n_nodes,) (collective)."""
    held = [(index, nodes) for index, _, nodes, _ in parts]
    everyone = [h for part in comm.allgather(held) for h in part] if comm is not None and comm.size > 1 else held
    owner = np.full(mesh.n_nodes, np.iinfo(np.int64).max)
    for index, nodes in everyone:
        owner[nodes] = np.minimum(owner[nodes], index)
    return owner


def reduced_pressure(mesh, face_set: str, values, parts, comm=None) -> np.ndarray:
    """Reduced nodal force ``Φᵀ f`` of a pressure distribution on a face set, summed over all subdomains.

    Parameters
    ----------
    mesh : Mesh
    face_set : str
    values : float or (n_facets,) array
        As :class:`io_adapters.Pressure` (one value per facet of the face set).
    parts : list of (index, cells, nodes, modes)
        As :func:`reduced_loads`.
    comm : communicator, optional

    Returns
    -------
    (n_modes,) array

    The cost is that of one surface load on the face set (no volume operator): an
    online solve calls it once per non-uniform pressure of its problem.
    """
    owner = _node_owners(mesh, parts, comm)
    return _allreduce(_project_owned(fem.pressure_load(mesh, face_set, values), parts, owner), comm)
