"""Submodels: a zone of interest cut from a global mesh, driven by the global solution on its cut.

>>> from io_adapters.submodel import extract, transfer, submodel_problem
>>> sub = extract(global_problem.mesh, box=([2.0, 0.0, 0.0], [4.0, 1.0, 1.0]))
>>> sub.mesh.node_sets[sub.boundary]           # the cut: nodes on faces shared with the rest
>>> imposed = transfer(io_adapters.read("global.h5"), sub)       # ImposedField: U(t) on the cut
>>> problem = submodel_problem(global_problem, sub, imposed)      # solve it, reduce it, write it …

:func:`extract` takes the zone as a cell set, a list of cells or a box (the cells
whose nodes all lie in it) and returns a :class:`Submodel`: the zone's mesh (node,
cell and face sets restricted to it, as :meth:`~io_adapters.mesh.Mesh.submesh` does),
the global index of each of its nodes and cells, and its *boundary*: a node set
(and a face set, facets oriented out of the zone) named ``boundary`` holding the
nodes of the zone's faces shared with the rest of the mesh — optionally also the
zone's outer surface (its faces on the free surface of the global mesh).

:func:`transfer` reads a global :class:`~io_adapters.simulation.Simulation`'s
displacement at the boundary nodes (only those rows are read) and returns an
:class:`~io_adapters.problem.ImposedField` in its space–time form (linear in time
between the global steps); :func:`submodel_problem` restricts a global
:class:`~io_adapters.problem.Problem` to the zone (materials, Dirichlet conditions
and imposed fields on the sets that keep nodes, pressures on the facets that stay,
centrifugal loads, temperatures at the zone's nodes, tables, solver settings) and
adds the imposed field last (it wins on the dofs it shares with the global
conditions).

Faces are found from the cells' outward facets (meshio/VTK order,
:mod:`io_adapters.cell_topology`, the table :mod:`rom.fem.topology` uses too): a facet
is shared when a cell outside the zone has the same corner nodes. Supported cells: tetra, wedge, hexahedron,
triangle, quad and their quadratic (serendipity) versions.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from io_adapters.cell_topology import facet_keys, local_facets
from io_adapters.errors import ConfigError, InputError, MeshMismatchError
from io_adapters.mesh import Mesh
from io_adapters.problem import ALL_ELEMENT, ImposedField, Pressure, Problem, Temperature, available

__all__ = ["BOUNDARY", "Submodel", "extract", "submodel_problem", "transfer"]

#: Default name of the submodel's boundary node set and face set.
BOUNDARY = "submodel_boundary"

@dataclass(frozen=True)
class _Facets:
    """Facets of some cells: type, nodes, key (sorted corners, padded with -1)."""

    types: tuple[str, ...]            # facet type of each block
    blocks: tuple[np.ndarray, ...]    # (n_b, k_b) node indices, VTK facet order
    keys: np.ndarray                  # (n, 4): every block's facets in order


def _facets(mesh: Mesh, cells: np.ndarray) -> _Facets:
    """The outward facets of some cells (global cell indices), grouped by facet type."""
    grouped: dict[str, list[np.ndarray]] = {}
    offsets = mesh.cell_offsets()
    for cell_type, conn in mesh.cells.items():
        start = offsets[cell_type]
        mine = cells[(cells >= start) & (cells < start + len(conn))] - start
        if not len(mine):
            continue
        for facet_type, local in local_facets(cell_type):
            grouped.setdefault(facet_type, []).append(conn[mine][:, list(local)])
    types = tuple(grouped)
    blocks = tuple(np.concatenate(grouped[t]) for t in types)
    keys = [facet_keys(t, block) for t, block in zip(types, blocks)]
    return _Facets(types, blocks, np.concatenate(keys) if keys else np.zeros((0, 4), np.int64))


# ==================================================================== the submodel
@dataclass(frozen=True, eq=False)
class Submodel:
    """A zone of interest of a global mesh.

    Attributes
    ----------
    mesh : Mesh
        The zone: its cells (in the global cell order), its nodes (increasing global
        index), the global sets restricted to them, plus the node set and face set
        ``boundary``; ``point_ids`` and ``cell_ids`` are the global indices.
    nodes : (n_sub_nodes,) int array
        Global index of each submodel node.
    cells : (n_sub_cells,) int array
        Global index of each submodel cell.
    boundary : str
        Name of the driven boundary's node set (and face set) in :attr:`mesh`.
    n_global_nodes, n_global_cells : int
        Sizes of the global mesh.
    """

    mesh: Mesh
    nodes: np.ndarray
    cells: np.ndarray
    boundary: str
    n_global_nodes: int
    n_global_cells: int

    @property
    def boundary_nodes(self) -> np.ndarray:
        """Submodel indices of the boundary nodes, (n_boundary,) (the node set's order)."""
        return self.mesh.node_sets[self.boundary]

    @property
    def boundary_global_nodes(self) -> np.ndarray:
        """Global indices of the boundary nodes, (n_boundary,)."""
        return self.nodes[self.boundary_nodes]

    @property
    def node_map(self) -> np.ndarray:
        """Submodel index of every global node, (n_global_nodes,) (-1 outside the zone)."""
        out = np.full(self.n_global_nodes, -1, dtype=np.int64)
        out[self.nodes] = np.arange(len(self.nodes))
        return out

    @property
    def cell_map(self) -> np.ndarray:
        """Submodel index of every global cell, (n_global_cells,) (-1 outside the zone)."""
        out = np.full(self.n_global_cells, -1, dtype=np.int64)
        out[self.cells] = np.arange(len(self.cells))
        return out

    def restrict(self, values: np.ndarray) -> np.ndarray:
        """Global nodal values restricted to the submodel's nodes: ``(..., n_global_nodes, c)`` →
        ``(..., n_sub_nodes, c)``."""
        values = np.asarray(values)
        if values.shape[-2] != self.n_global_nodes:
            raise MeshMismatchError(f"submodel: values for {values.shape[-2]} nodes, the global mesh has "
                                    f"{self.n_global_nodes}")
        return values[..., self.nodes, :]


def _zone(mesh: Mesh, cell_set, cells, box, tol) -> tuple[np.ndarray, str]:
    given = [k for k, v in (("cell_set", cell_set), ("cells", cells), ("box", box)) if v is not None]
    if len(given) != 1:
        raise ConfigError(f"submodel: give exactly one of cell_set, cells or box, found {given or 'none'}")
    if cell_set is not None:
        if cell_set == ALL_ELEMENT and ALL_ELEMENT not in mesh.cell_sets:
            raise ConfigError("submodel: the zone is every cell of the mesh: there is nothing to cut")
        if cell_set not in mesh.cell_sets:
            raise ConfigError(f"submodel: cell set '{cell_set}' is not in the mesh "
                              f"(cell sets: {available(mesh.cell_sets)})")
        return np.unique(mesh.cell_sets[cell_set]), f"cell set '{cell_set}'"
    if cells is not None:
        chosen = np.unique(np.asarray(cells, dtype=np.int64).ravel())
        if chosen.size and (chosen[0] < 0 or chosen[-1] >= mesh.n_cells):
            raise ConfigError(f"submodel: cell indices must lie in [0, {mesh.n_cells}), found "
                              f"{chosen[0] if chosen[0] < 0 else chosen[-1]}")
        return chosen, f"{len(chosen)} cells"
    try:
        lower, upper = (np.asarray(b, dtype=np.float64).reshape(3) for b in box)
    except (TypeError, ValueError):
        raise ConfigError(f"submodel: box must be (lower corner, upper corner), 3 numbers each, "
                          f"found {box!r}") from None
    if not (np.all(np.isfinite(lower)) and np.all(np.isfinite(upper)) and np.all(lower <= upper)):
        raise ConfigError(f"submodel: box corners must be finite with lower ≤ upper, found {lower} and {upper}")
    if tol is None:
        tol = 1e-9 * max(float(np.ptp(mesh.points, axis=0).max()), 1e-300)
    inside = np.all((mesh.points >= lower - tol) & (mesh.points <= upper + tol), axis=1)
    chosen = np.concatenate([np.flatnonzero(np.all(inside[conn], axis=1)) + start
                             for (_, conn), start in zip(mesh.cells.items(), mesh.cell_offsets().values())])
    return chosen, f"box {lower.tolist()} – {upper.tolist()}"


def extract(mesh: Mesh, *, cell_set: str | None = None, cells=None, box=None, boundary: str = BOUNDARY,
            outer_surface: bool = False, tol: float | None = None) -> Submodel:
    """Cut a zone of interest out of a global mesh.

    Parameters
    ----------
    mesh : Mesh
        The global mesh (conforming).
    cell_set : str, optional
        The zone is this cell set …
    cells : (k,) int array, optional
        … or these cells (global indices) …
    box : ((3,), (3,)) float arrays, optional
        … or the cells whose nodes all lie in the box ``[lower, upper]`` (closed,
        widened by ``tol``).
    boundary : str
        Name of the boundary's node set and face set in the submodel mesh (must not
        be a set of the mesh already).
    outer_surface : bool
        Also put the zone's faces on the global mesh's free surface in the boundary
        (a submodel driven on its whole surface).
    tol : float, optional
        Box tolerance (default 1e-9 × the mesh's largest extent).

    Returns
    -------
    Submodel
    """
    chosen, described = _zone(mesh, cell_set, cells, box, tol)
    if not chosen.size:
        raise ConfigError(f"submodel: the zone ({described}) holds no cell")
    if chosen.size == mesh.n_cells and not outer_surface:
        raise ConfigError(f"submodel: the zone ({described}) holds every cell of the mesh: it has no cut "
                          "(set outer_surface=True to drive it on its surface)")
    if boundary in mesh.node_sets or boundary in mesh.face_sets:
        raise ConfigError(f"submodel: the mesh already has a set named '{boundary}': choose another boundary name")
    sub, nodes = mesh.submesh(chosen)

    inside = np.zeros(mesh.n_cells, dtype=bool)
    inside[chosen] = True
    zone_node = np.zeros(mesh.n_nodes, dtype=bool)
    zone_node[nodes] = True
    # the cells outside the zone that touch it are the only ones that can share a facet with it
    touching = []
    for (cell_type, conn), start in zip(mesh.cells.items(), mesh.cell_offsets().values()):
        rows = np.flatnonzero(np.any(zone_node[conn], axis=1) & ~inside[start:start + len(conn)])
        touching.append(rows + start)
    touching = np.concatenate(touching)
    zone = _facets(mesh, chosen)
    rest = _facets(mesh, touching)
    keys = np.concatenate([zone.keys, rest.keys])
    _, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    n_zone = len(zone.keys)
    in_rest = np.zeros(inverse.max() + 1 if len(inverse) else 0, dtype=bool)
    in_rest[inverse[n_zone:]] = True
    count_zone = np.bincount(inverse[:n_zone], minlength=len(in_rest))
    shared = in_rest[inverse[:n_zone]]
    picked = shared | (outer_surface & ~shared & (count_zone[inverse[:n_zone]] == 1))
    if not picked.any():
        raise ConfigError(f"submodel: the zone ({described}) shares no face with the rest of the mesh "
                          "(a zone touching it only along edges or at points cannot be driven by it)")

    node_map = np.full(mesh.n_nodes, -1, dtype=np.int64)
    node_map[nodes] = np.arange(len(nodes))
    faces, boundary_nodes, start = {}, [], 0
    for facet_type, block in zip(zone.types, zone.blocks):
        mine = block[picked[start:start + len(block)]]
        start += len(block)
        if len(mine):
            faces[facet_type] = node_map[mine]
            boundary_nodes.append(mine.ravel())
    boundary_global = np.unique(np.concatenate(boundary_nodes))
    sub = dataclasses.replace(sub, node_sets={**sub.node_sets, boundary: node_map[boundary_global]},
                              face_sets={**sub.face_sets, boundary: faces})
    return Submodel(mesh=sub, nodes=nodes, cells=np.asarray(sub.cell_ids, dtype=np.int64), boundary=boundary,
                    n_global_nodes=mesh.n_nodes, n_global_cells=mesh.n_cells)


# ====================================================================== transfer
def transfer(simulation, submodel: Submodel, *, field: str = "U", steps=None, components: Sequence[int] = (0, 1, 2),
             node_set: str | None = None) -> ImposedField:
    """A global solution's displacements on the submodel's boundary, as an imposed field.

    Parameters
    ----------
    simulation : Simulation
        The global results, on the mesh the submodel was cut from (checked: node
        count and the coordinates of the zone's nodes).
    submodel : Submodel
    field : str
        The nodal displacement field (3 components).
    steps : slice or int array, optional
        Time steps to take (all when omitted).
    components : sequence of int
        Components to impose.
    node_set : str, optional
        A node set of the submodel mesh to drive instead of its boundary.

    Returns
    -------
    ImposedField
        Space–time form: the values at the simulation's times (rows in the node
        set's order), linear in between.
    """
    origin = simulation.provenance.get("file") or simulation.provenance.get("source") or "the simulation"
    mesh = simulation.mesh
    if mesh.n_nodes != submodel.n_global_nodes or mesh.n_cells != submodel.n_global_cells:
        raise MeshMismatchError(f"{origin}: its mesh ({mesh.n_nodes} nodes, {mesh.n_cells} cells) is not the one the "
                                f"submodel was cut from ({submodel.n_global_nodes} nodes, "
                                f"{submodel.n_global_cells} cells)")
    if not np.allclose(mesh.points[submodel.nodes], submodel.mesh.points, rtol=0.0,
                       atol=1e-9 * max(float(np.abs(mesh.points).max()), 1.0)):
        raise MeshMismatchError(f"{origin}: the coordinates of the submodel's nodes differ from the simulation "
                                "mesh's: not the mesh the submodel was cut from")
    if field not in simulation.fields:
        raise InputError(f"{origin}: no field '{field}' (fields: {available(simulation.fields)})")
    source = simulation.fields[field]
    if source.support != "node" or source.n_components != 3:
        raise InputError(f"{origin}: field '{field}' is a {source.support} field of {source.n_components} "
                         "components; the displacement is a nodal field of 3")
    name = node_set or submodel.boundary
    if name not in submodel.mesh.node_sets:
        raise ConfigError(f"submodel: node set '{name}' is not in the submodel mesh "
                          f"(node sets: {available(submodel.mesh.node_sets)})")
    wanted = submodel.nodes[submodel.mesh.node_sets[name]]
    rows, position = np.unique(wanted, return_inverse=True)
    times = np.asarray(simulation.times, dtype=np.float64)
    step_index = np.arange(len(times))[steps] if steps is not None else np.arange(len(times))
    values = source.read(steps=step_index, rows=rows)[:, position.ravel()]
    return ImposedField.from_history(name, times[step_index], values, components=tuple(components),
                                     source=f"{origin}: field '{field}'")


def submodel_problem(problem: Problem, submodel: Submodel, imposed: ImposedField | Sequence[ImposedField] = (), *,
                     times=None, source: str | None = None) -> Problem:
    """The global problem restricted to the submodel, driven by imposed fields.

    Materials keep their cell sets (restricted; a material with no cell left is
    dropped); Dirichlet conditions and imposed fields are kept on the node sets
    that keep nodes (an imposed field keeps its rows of those nodes); pressures on
    the facets whose nodes all stay (per-facet values restricted alike);
    centrifugal loads on their cell sets; temperatures at the zone's nodes; tables,
    solver and output settings as they are. ``imposed`` is appended last, so on a
    shared dof it wins over the global conditions.

    Parameters
    ----------
    problem : Problem
        The global problem, on the mesh the submodel was cut from.
    submodel : Submodel
    imposed : ImposedField or sequence of them
        On node sets of the submodel mesh (its boundary: :func:`transfer`).
    times : (n_steps + 1,) float array, optional
        Times to solve (the global problem's by default).
    source : str, optional
        For messages (default: the global problem's source and "submodel").
    """
    if problem.mesh.n_nodes != submodel.n_global_nodes or problem.mesh.n_cells != submodel.n_global_cells:
        raise MeshMismatchError(f"{problem.source}: the problem's mesh ({problem.mesh.n_nodes} nodes, "
                                f"{problem.mesh.n_cells} cells) is not the one the submodel was cut from")
    mesh = submodel.mesh
    node_map = submodel.node_map
    materials = {name: spec for name, spec in problem.materials.items()
                 if (name == ALL_ELEMENT and name not in mesh.cell_sets) or len(mesh.cell_sets.get(name, ()))}
    dirichlet = tuple(bc for bc in problem.dirichlet if len(mesh.node_sets[bc.node_set]))
    fields = []
    for kept in problem.imposed_fields:
        rows = np.flatnonzero(node_map[problem.mesh.node_sets[kept.node_set]] >= 0)
        if len(rows):
            fields.append(dataclasses.replace(kept, values=kept.values[:, rows]))
    pressures = []
    for load in problem.pressures:
        blocks = problem.mesh.face_sets[load.face_set]
        if not any(np.any(np.all(node_map[conn] >= 0, axis=1)) for conn in blocks.values()):
            continue
        values = load.values
        if isinstance(values, np.ndarray):
            (conn,) = blocks.values()            # per-facet values: one facet type (Problem checks it)
            values = values[np.all(node_map[conn] >= 0, axis=1)]
        pressures.append(Pressure(load.face_set, values, load.table))
    centrifugal = tuple(c for c in problem.centrifugal
                        if c.cell_set is None or len(mesh.cell_sets.get(c.cell_set, np.arange(1))))
    temperature = problem.temperature
    if temperature is not None:
        temperature = Temperature(fields=temperature.fields[:, submodel.nodes], tables=temperature.tables,
                                  labels=temperature.labels)
    imposed = (imposed,) if isinstance(imposed, ImposedField) else tuple(imposed)
    return Problem(mesh=mesh, materials=materials, dirichlet=dirichlet, imposed_fields=tuple(fields) + imposed,
                   pressures=tuple(pressures), centrifugal=centrifugal, temperature=temperature,
                   tables=problem.tables, times=problem.times if times is None else times, solver=problem.solver,
                   output=problem.output, source=source or f"{problem.source} (submodel)")
