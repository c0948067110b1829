"""A Zset run (``.ut`` + mesh + ``.node``/``.integ``/``.ctnod``) as a :class:`Simulation`.

Fields (see :mod:`io_adapters.zset.fields` for the grouping of variables):

- ``**node`` variables (``.node``): support ``"node"``;
- ``**integ`` variables (``.integ``): support ``"integration_point"``, rule
  ``"zset"`` or ``"zset-reduced"``; rows are the mesh's cells in its cell order,
  each cell's points in Zset's order (the file's element order is permuted when
  it interleaves cell types);
- the same variables extrapolated to the nodes (``.ctnod``, when written):
  support ``"node"``, named ``<field>_nodal`` (``sig_nodal``, ``eto_nodal``).

Strain-like tensors (``eto``, ``evi``, ``ein``, ``cui``...; their ``_nodal``
versions too) get engineering shears (12, 23, 31 doubled); ``sig`` does not.
``provenance["engineering_shear"]`` lists the converted fields.

Every binary is checked against the sizes the ``.ut`` and the mesh imply when
the run is opened; values are read on demand.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from pathlib import Path
from typing import Iterable

import numpy as np

from io_adapters.errors import InputError, MeshMismatchError
from io_adapters.formats import file_problem
from io_adapters.simulation import Field, Simulation
from io_adapters.zset.cut import DomainCut, read_decomposition, read_domain_cut
from io_adapters.zset.fields import NODAL_SUFFIX, group_variables
from io_adapters.zset.meshfile import MeshFile, read_mesh_file
from io_adapters.zset.sources import (
    DEFAULT_CACHE_BYTES,
    IntegFieldSource,
    IntegFile,
    NodeFieldSource,
    NodeFile,
    check_size,
)
from io_adapters.zset.ut import UtIndex, read_ut

log = logging.getLogger(__name__)

_SUBDOMAIN = re.compile(r"^(?P<stem>.+)-(?P<k>\d{3,})$")


@dataclasses.dataclass(frozen=True, eq=False)
class Run:
    """One opened ``.ut``: the Simulation plus what merging subdomains needs.

    Attributes
    ----------
    simulation : Simulation
    index : UtIndex
    mesh_file : MeshFile
        The mesh as read (``mesh_file.mesh.point_ids`` = Zset node ids).
    domain : DomainCut or None
        Set for a subdomain of a parallel run.
    """

    simulation: Simulation
    index: UtIndex
    mesh_file: MeshFile
    domain: DomainCut | None


def find_domain_cut(ut_path: Path) -> Path | None:
    """The ``.cut`` of a subdomain result ``stem-00k.ut``, or None for a plain result."""
    m = _SUBDOMAIN.match(ut_path.stem)
    if m is None:
        return None
    stem, number = m.group("stem"), m.group("k")
    folder = ut_path.parent
    split = folder / f"{stem}-pcuts"
    global_cut = folder / f"{stem}.cut"
    if os.path.lexists(global_cut):
        problem = file_problem(global_cut)
        if problem is not None:
            raise InputError(f"{global_cut}: {problem} (the decomposition of {ut_path.name}'s parallel run)")
        try:
            split = read_decomposition(global_cut).split_dir
        except InputError:
            log.debug("%s: not a global cut, looking for %s", global_cut, split)
    candidate = split / f"{stem}-{number}.cut"
    return candidate if os.path.lexists(candidate) else None


def open_run(path: str | os.PathLike, *, strain_fields: Iterable[str] | None = None,
             cache_bytes: int = DEFAULT_CACHE_BYTES, domain: DomainCut | None | bool = True) -> Run:
    """Open a ``.ut`` result.

    Parameters
    ----------
    path : path-like
        The ``.ut`` file.
    strain_fields : iterable of str, optional
        Fields whose shears are doubled (default: the strain-like rule).
    cache_bytes : int
        Bound of the ``.integ`` reader's cache.
    domain : DomainCut, bool
        A subdomain's cut; True looks for it (``stem-pcuts/stem-00k.cut``),
        False treats the file as a plain result.

    Returns
    -------
    Run
        For a subdomain, ``mesh.point_ids``/``cell_ids`` are the global 0-based
        node/element indices of the decomposition; otherwise the Zset ids.
    """
    index = read_ut(path)
    problem = file_problem(index.mesh_path)
    if problem == "no such file":
        raise InputError(f"{index.path}: its mesh file {index.mesh_path} (**meshfile) is missing")
    if problem is not None:
        raise InputError(f"{index.path}: its mesh file {index.mesh_path} (**meshfile) {problem}")
    mesh_file = read_mesh_file(index.mesh_path)
    if domain is True:
        cut_path = find_domain_cut(index.path)
        domain = read_domain_cut(cut_path) if cut_path is not None else None
    elif domain is False:
        domain = None
    number = _SUBDOMAIN.match(index.path.stem)
    if domain is not None and number and domain.index != int(number.group("k")) - 1:
        raise MeshMismatchError(f"{index.path}: {domain.path} describes domain {domain.index}, "
                                f"whose results are numbered {domain.index + 1:03d}")
    mesh = mesh_file.mesh
    provenance: dict = {
        "format": "zset",
        "solver": "Zset",
        "files": [str(index.path), str(index.mesh_path)],
        "records": {
            "cycle": index.records[:, 1].tolist(),
            "sequence": index.records[:, 2].tolist(),
            "increment": index.records[:, 3].tolist(),
        },
        "nodal_suffix": NODAL_SUFFIX,
    }
    if domain is not None:
        mesh = _global_numbering(mesh_file, domain, index.path)
        provenance.update({"subdomain": domain.index, "cut": str(domain.path)})

    fields: dict[str, Field] = {}
    converted: list[str] = []
    n_records, n_nodes = index.n_records, mesh.n_nodes
    hint_mesh = f"check that {index.mesh_path.name} is the mesh of this run and that the .ut lists every record"

    if index.node_variables:
        node_path = index.binary(".node")
        n_var = len(index.node_variables)
        check_size(node_path, n_records * n_var * n_nodes,
                   f"{n_records} records x {n_var} variables x {n_nodes} nodes", hint_mesh)
        provenance["files"].append(str(node_path))
        node_file = NodeFile(node_path, n_records, n_var, n_nodes)
        for g in group_variables(index.node_variables, strain_fields=strain_fields, where=str(index.path)):
            origin = f"{node_path} [{', '.join(g.components)}]"
            fields[g.name] = Field("node", g.components, NodeFieldSource(node_file, g.start, g.stop, g.scale, origin))
            if g.shears:
                converted.append(g.name)

    rule = None
    if index.integ_variables:
        rule, counts = mesh_file.integration_layout(index.path)
        integ_path = index.binary(".integ")
        n_var, n_points = len(index.integ_variables), int(counts.sum())
        check_size(integ_path, n_records * n_var * n_points,
                   f"{n_records} records x {n_var} variables x {n_points} integration points", hint_mesh)
        provenance["files"].append(str(integ_path))
        groups = group_variables(index.integ_variables, strain_fields=strain_fields, where=str(index.path))
        factors = np.ones(n_var)
        for g in groups:
            if g.scale is not None:
                factors[g.start:g.stop] = g.scale
        integ_file = IntegFile(integ_path, n_records, n_var, counts, factors, cache_bytes=cache_bytes)
        file_rows = None if mesh_file.file_order_is_mesh_order else _file_rows(mesh_file, counts)
        for g in groups:
            name = g.name if g.name not in fields else f"{g.name}_ip"
            origin = f"{integ_path} [{', '.join(g.components)}]"
            source = IntegFieldSource(integ_file, g.start, g.stop, file_rows, origin)
            fields[name] = Field("integration_point", g.components, source, rule=rule)
            if g.shears:
                converted.append(name)

        ctnod_path = index.binary(".ctnod")
        if os.path.lexists(ctnod_path):   # optional, but when present it must be readable (never skipped)
            check_size(ctnod_path, n_records * n_var * n_nodes,
                       f"{n_records} records x {n_var} variables x {n_nodes} nodes", hint_mesh)
            provenance["files"].append(str(ctnod_path))
            ctnod_file = NodeFile(ctnod_path, n_records, n_var, n_nodes)
            for g in groups:
                name = g.name + NODAL_SUFFIX
                origin = f"{ctnod_path} [{', '.join(g.components)}]"
                source = NodeFieldSource(ctnod_file, g.start, g.stop, g.scale, origin)
                fields[name] = Field("node", g.components, source)
                if g.shears:
                    converted.append(name)

    provenance["engineering_shear"] = converted
    if rule:
        provenance["integration_rule"] = rule
    simulation = Simulation(mesh=mesh, times=index.times, fields=fields, provenance=provenance)
    return Run(simulation=simulation, index=index, mesh_file=mesh_file, domain=domain)


def _file_rows(mesh_file: MeshFile, counts: np.ndarray) -> np.ndarray:
    """File row of each mesh row (integration point), shape (n_points,)."""
    file_start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    mesh_counts = counts[mesh_file.mesh_to_file]
    mesh_start = np.concatenate([[0], np.cumsum(mesh_counts)[:-1]])
    shift = np.repeat(file_start[mesh_file.mesh_to_file] - mesh_start, mesh_counts)
    return np.arange(int(counts.sum())) + shift


def _global_numbering(mesh_file: MeshFile, domain: DomainCut, ut_path: Path):
    """The subdomain mesh with global 0-based indices as ``point_ids``/``cell_ids``."""
    mesh = mesh_file.mesh
    if len(domain.nodes_local_to_global) != mesh.n_nodes or len(domain.elements_local_to_global) != mesh.n_cells:
        raise MeshMismatchError(
            f"{ut_path}: {domain.path} maps {len(domain.nodes_local_to_global)} nodes and "
            f"{len(domain.elements_local_to_global)} elements, but {mesh_file.path} has {mesh.n_nodes} nodes "
            f"and {mesh.n_cells} elements"
        )
    if not np.array_equal(domain.node_ids, mesh.point_ids):
        raise MeshMismatchError(f"{ut_path}: the node ids of {mesh_file.path} differ from **nodes of {domain.path}")
    element_ids = mesh.cell_ids[mesh_file.file_to_mesh]  # file order
    if not np.array_equal(domain.element_ids, element_ids):
        raise MeshMismatchError(f"{ut_path}: the element ids of {mesh_file.path} differ from **elements of "
                                f"{domain.path}")
    return dataclasses.replace(
        mesh,
        point_ids=domain.nodes_local_to_global,
        cell_ids=domain.elements_local_to_global[mesh_file.mesh_to_file],
    )


def mesh_simulation(path: str | os.PathLike) -> Simulation:
    """A Simulation holding only the mesh of a ``.geof``/``.geo`` (no times, no fields)."""
    mesh_file = read_mesh_file(path)
    return Simulation(mesh=mesh_file.mesh, times=np.zeros(0),
                      provenance={"format": "zset", "solver": "Zset", "files": [str(mesh_file.path)]})
