"""Parallel (domain-decomposition) Zset runs: one Simulation per subdomain, or merged.

Files (ZSET_FORMAT.md §5): ``stem-00k.ut`` (+ ``.node``/``.integ``/``.ctnod``)
per domain k = 1..N, its mesh ``stem-pmeshes/stem-00k.geof`` (global ids in
local order), its cut ``stem-pcuts/stem-00k.cut`` and the global ``stem.cut``.

Merging
-------
- nodes: global index = the cut's ``nodes_local_to_global``; nodal fields are
  scattered; nodes shared by several domains must carry the same values (to
  float32 round-off: ``|a - b| <= 1e-6 (|a| + |b|) + 1e-9 max|field|``),
  else :class:`MeshMismatchError` when the values are read;
- cells: in increasing global element index, grouped in blocks by type (types in
  order of first appearance); integration-point rows follow that order;
- ``point_ids``/``cell_ids`` of the merged mesh are the Zset ids (as for a
  serial run); node and cell sets are the unions of the domains' sets, sorted;
  face sets are concatenated in domain order, repeated facets dropped.

Each subdomain's values stay in its files: the merged fields read them on demand.

Split input data
----------------
Data files a mesher pre-step split per subdomain (``pressure-00k.node``,
``temperature1-00k.node``) hold each domain's values in its local order.
:func:`read_split_layout` reads the decomposition of a global mesh ``stem.geof``
(``stem.cut``, ``stem-pcuts/``, ``stem-pmeshes/``) and checks it against that
mesh; :func:`gather_nodal` and :func:`gather_facets` assemble the global arrays
(interface values compared with the tolerance above).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from io_adapters.errors import InputError, MeshMismatchError
from io_adapters.formats import file_problem
from io_adapters.mesh import Mesh
from io_adapters.quadrature_rules import points_per_cell
from io_adapters.simulation import Field, Index, Simulation, check_finite, normalize_index
from io_adapters.zset.cut import Decomposition, DomainCut, read_decomposition, read_domain_cut
from io_adapters.zset.meshfile import MeshFile, read_mesh_file
from io_adapters.zset.results import Run, find_domain_cut, open_run

_RTOL, _SCALE_TOL = 1e-6, 1e-9


def _domain_runs(source, options: dict) -> tuple[list[Run], Decomposition | None]:
    """Open every subdomain of a global ``.cut`` or of a list of ``.ut`` files."""
    if isinstance(source, (str, os.PathLike)) and Path(source).suffix.lower() == ".cut":
        decomposition = read_decomposition(source)
        problems = []
        for k in range(decomposition.n_domains):
            problem = file_problem(decomposition.domain_ut(k))
            if problem is not None:
                problems.append((decomposition.domain_ut(k), problem))
                if len(problems) == 5:
                    break
        if problems:
            described = ", ".join(f"{p} is missing" if why == "no such file" else f"{p} {why}" for p, why in problems)
            raise InputError(f"{decomposition.path}: lists {decomposition.n_domains} domains, but {described}")
        runs = []
        for k in range(decomposition.n_domains):
            cut_path = decomposition.domain_cut(k)
            problem = file_problem(cut_path)
            if problem is not None:
                raise InputError(f"{decomposition.path}: the cut of domain {k} ({cut_path}) "
                                 + ("is missing" if problem == "no such file" else problem))
            runs.append(open_run(decomposition.domain_ut(k), domain=read_domain_cut(cut_path), **options))
        return runs, decomposition

    paths = [Path(p) for p in ([source] if isinstance(source, (str, os.PathLike)) else source)]
    if not paths:
        raise InputError("no subdomain .ut file given")
    runs = []
    for p in paths:
        cut_path = find_domain_cut(p)
        if cut_path is None:
            raise InputError(f"{p}: not a subdomain result (expected stem-00k.ut with its "
                             "stem-pcuts/stem-00k.cut)")
        runs.append(open_run(p, domain=read_domain_cut(cut_path), **options))
    indices = [r.domain.index for r in runs]
    if len(set(indices)) != len(indices):
        raise InputError(f"subdomain given twice: {', '.join(str(p) for p in paths)}")
    stem = paths[0].stem.rsplit("-", 1)[0]
    global_cut = paths[0].parent / f"{stem}.cut"
    decomposition = read_decomposition(global_cut) if global_cut.is_file() else None
    if decomposition is not None:
        absent = sorted(set(range(decomposition.n_domains)) - set(indices))
        if absent:
            raise InputError(
                f"{decomposition.path} lists {decomposition.n_domains} domains, but the results of domain(s) "
                f"{', '.join(str(k) for k in absent)} are not given: missing "
                f"{', '.join(str(decomposition.domain_ut(k)) for k in absent)}"
            )
    return sorted(runs, key=lambda r: r.domain.index), decomposition


def read_subdomains(source, *, strain_fields: Iterable[str] | None = None,
                    cache_bytes: int | None = None) -> list[Simulation]:
    """One Simulation per subdomain of a parallel run, in domain order.

    Parameters
    ----------
    source : path or list of paths
        The global ``stem.cut``, or subdomain ``stem-00k.ut`` files.
    strain_fields, cache_bytes
        As for :func:`io_adapters.zset.read`.

    Returns
    -------
    list[Simulation]
        ``mesh.point_ids`` / ``mesh.cell_ids`` are global 0-based node / element
        indices (the cut's local-to-global maps, cells in each mesh's cell order);
        ``provenance["subdomain"]`` is the 0-based domain index.
    """
    runs, _ = _domain_runs(source, _options(strain_fields, cache_bytes))
    return [r.simulation for r in runs]


def _options(strain_fields, cache_bytes) -> dict:
    options = {"strain_fields": strain_fields}
    if cache_bytes is not None:
        options["cache_bytes"] = cache_bytes
    return options


def read_merged(source, *, strain_fields: Iterable[str] | None = None, cache_bytes: int | None = None,
                check_interfaces: bool = True) -> Simulation:
    """All subdomains of a parallel run as one global Simulation.

    Parameters
    ----------
    source : path or list of paths
        The global ``stem.cut``, or every subdomain ``stem-00k.ut``.
    check_interfaces : bool
        Compare the values of nodes shared by several domains when reading
        (MeshMismatchError when they differ); when False the lowest domain wins.

    Raises
    ------
    InputError
        A missing subdomain (file or results), global nodes or elements that no
        domain holds, or time lists that differ between domains.
    """
    runs, decomposition = _domain_runs(source, _options(strain_fields, cache_bytes))
    return merge_runs(runs, decomposition, check_interfaces=check_interfaces)


def _sizes(runs: Sequence[Run], decomposition: Decomposition | None) -> tuple[int, int]:
    n_nodes = {len(r.domain.nodes_global_to_local) for r in runs}
    n_elements = {len(r.domain.elements_global_to_local) for r in runs}
    if decomposition is not None:
        n_nodes.add(decomposition.n_nodes)
        n_elements.add(decomposition.n_elements)
    if len(n_nodes) != 1 or len(n_elements) != 1:
        raise MeshMismatchError(
            f"the domain cuts disagree on the global sizes: nodes {sorted(n_nodes)}, elements {sorted(n_elements)} "
            f"({', '.join(str(r.domain.path) for r in runs)})"
        )
    return n_nodes.pop(), n_elements.pop()


def merge_runs(runs: Sequence[Run], decomposition: Decomposition | None = None, *,
               check_interfaces: bool = True) -> Simulation:
    """Merge opened subdomain runs (see the module docstring)."""
    n_nodes, n_elements = _sizes(runs, decomposition)
    names = ", ".join(str(r.index.path) for r in runs)
    _check_times(runs)
    points, node_ids = _merge_nodes(runs, n_nodes, names)
    cells, cell_ids, global_to_merged = _merge_cells(runs, n_elements, names)
    sims = [r.simulation for r in runs]
    node_sets, cell_sets, face_sets = _merge_sets(sims, global_to_merged)
    mesh = Mesh(points=points, cells=cells, node_sets=node_sets, cell_sets=cell_sets, face_sets=face_sets,
                point_ids=node_ids, cell_ids=cell_ids, dim=sims[0].mesh.dim)
    fields = _merge_fields(runs, mesh, global_to_merged, names, check_interfaces)

    provenance = dict(sims[0].provenance)
    provenance.pop("subdomain", None)
    provenance.pop("cut", None)
    provenance["files"] = [p for sim in sims for p in sim.provenance["files"]]
    provenance["subdomains"] = len(sims)
    if decomposition is not None:
        provenance["cut"] = str(decomposition.path)
    return Simulation(mesh=mesh, times=sims[0].times, fields=fields, provenance=provenance)


def _merge_nodes(runs: Sequence[Run], n_nodes: int, names: str) -> tuple[np.ndarray, np.ndarray]:
    """Global coordinates (n_nodes, 3) and Zset ids (n_nodes,), checked where domains overlap."""
    points = np.zeros((n_nodes, 3))
    node_ids = np.zeros(n_nodes, np.int64)
    seen = np.zeros(n_nodes, bool)
    for run in runs:
        mesh, glob = run.simulation.mesh, run.simulation.mesh.point_ids
        again = seen[glob]
        if again.any() and not (
            np.allclose(points[glob[again]], mesh.points[again], rtol=1e-12,
                        atol=1e-12 * float(np.abs(mesh.points).max(initial=0.0)))
            and np.array_equal(node_ids[glob[again]], run.mesh_file.mesh.point_ids[again])
        ):
            raise MeshMismatchError(f"{run.index.path}: shared nodes have other ids or coordinates than in "
                                    "the other domains")
        points[glob] = mesh.points
        node_ids[glob] = run.mesh_file.mesh.point_ids
        seen[glob] = True
    if not seen.all():
        lost = np.flatnonzero(~seen)
        raise InputError(f"{len(lost)} of the {n_nodes} global nodes (e.g. index {lost[0]}) are in none of the "
                         f"given domains ({names}): is a subdomain missing?")
    return points, node_ids


def _merge_cells(runs: Sequence[Run], n_elements: int, names: str):
    """Global cells in increasing global index, in one block per type.

    Returns
    -------
    cells : dict[str, (n, k) int array]
        Connectivity with global node indices.
    cell_ids : (n_elements,) int array
        Zset element ids in the merged order.
    global_to_merged : (n_elements,) int array
        Merged cell index of each global element index.
    """
    sims = [r.simulation for r in runs]
    owner = np.full(n_elements, -1, np.int64)
    for k, sim in enumerate(sims):
        glob = sim.mesh.cell_ids
        taken = glob[owner[glob] >= 0]
        if len(taken):
            raise MeshMismatchError(f"{runs[k].index.path}: element index {taken[0]} also belongs to "
                                    f"{runs[int(owner[taken[0]])].index.path}")
        owner[glob] = k
    if np.any(owner < 0):
        lost = np.flatnonzero(owner < 0)
        raise InputError(f"{len(lost)} of the {n_elements} global elements (e.g. index {lost[0]}) are in none of "
                         f"the given domains ({names}): is a subdomain missing?")
    types = list(dict.fromkeys(t for sim in sims for t in sim.mesh.cells))
    type_code = np.zeros(n_elements, np.int64)
    for sim in sims:
        for t, start in sim.mesh.cell_offsets().items():
            type_code[sim.mesh.cell_ids[start:start + len(sim.mesh.cells[t])]] = types.index(t)
    present, first = np.unique(type_code, return_index=True)
    block_order = [int(c) for c in present[np.argsort(first)]]  # types by first global appearance
    block_of = np.empty(len(types), np.int64)
    block_of[block_order] = np.arange(len(block_order))
    merged_to_global = np.argsort(block_of[type_code], kind="stable")
    global_to_merged = np.empty(n_elements, np.int64)
    global_to_merged[merged_to_global] = np.arange(n_elements)

    cells, offsets, start = {}, {}, 0
    for c in block_order:
        t = types[c]
        count = int(np.count_nonzero(type_code == c))
        width = next(s.mesh.cells[t].shape[1] for s in sims if t in s.mesh.cells)
        cells[t], offsets[t] = np.zeros((count, width), np.int64), start
        start += count
    cell_ids = np.zeros(n_elements, np.int64)
    for run, sim in zip(runs, sims):
        merged = global_to_merged[sim.mesh.cell_ids]
        cell_ids[merged] = run.mesh_file.mesh.cell_ids
        for t, s in sim.mesh.cell_offsets().items():
            conn = sim.mesh.cells[t]
            cells[t][merged[s:s + len(conn)] - offsets[t]] = sim.mesh.point_ids[conn]
    return cells, cell_ids, global_to_merged


def _merge_sets(sims: Sequence[Simulation], global_to_merged: np.ndarray):
    """Unions of the domains' node and cell sets (sorted), and their face sets (repeats dropped)."""
    node_sets: dict[str, list] = {}
    cell_sets: dict[str, list] = {}
    face_sets: dict[str, dict[str, list]] = {}
    for sim in sims:
        for name, nodes in sim.mesh.node_sets.items():
            node_sets.setdefault(name, []).append(sim.mesh.point_ids[nodes])
        for name, ids in sim.mesh.cell_sets.items():
            cell_sets.setdefault(name, []).append(global_to_merged[sim.mesh.cell_ids[ids]])
        for name, blocks in sim.mesh.face_sets.items():
            target = face_sets.setdefault(name, {})
            for t, conn in blocks.items():
                target.setdefault(t, []).append(sim.mesh.point_ids[conn])
    return (
        {n: np.unique(np.concatenate(v)) for n, v in node_sets.items()},
        {n: np.unique(np.concatenate(v)) for n, v in cell_sets.items()},
        {n: {t: _unique_rows(np.concatenate(c)) for t, c in b.items()} for n, b in face_sets.items()},
    )


def _merge_fields(runs: Sequence[Run], mesh: Mesh, global_to_merged: np.ndarray, names: str,
                  check_interfaces: bool) -> dict[str, Field]:
    """Merged fields reading every domain's sources on demand."""
    sims = [r.simulation for r in runs]
    reference = {n: (f.support, f.components, f.rule) for n, f in sims[0].fields.items()}
    for run in runs[1:]:
        if {n: (f.support, f.components, f.rule) for n, f in run.simulation.fields.items()} != reference:
            raise MeshMismatchError(f"{run.index.path}: its fields differ from those of {runs[0].index.path}")
    fields = {}
    for name, f in sims[0].fields.items():
        if f.support == "node":
            parts = [(sim.fields[name].data, _global_to_local(sim.mesh.point_ids, mesh.n_nodes)) for sim in sims]
            source = MergedNodeSource(parts, mesh.n_nodes, f"merged {name} of {names}", check=check_interfaces)
        else:
            rows = _global_point_rows(mesh, f.rule, [global_to_merged[sim.mesh.cell_ids] for sim in sims])
            source = MergedPointSource([sim.fields[name].data for sim in sims], rows, f"merged {name} of {names}")
        fields[name] = Field(f.support, f.components, source, rule=f.rule)
    return fields


def _unique_rows(conn: np.ndarray) -> np.ndarray:
    """Facets without repeats (same node set), first occurrence kept, order kept."""
    if not len(conn):
        return conn
    _, first = np.unique(np.sort(conn, axis=1), axis=0, return_index=True)
    return conn[np.sort(first)]


def _check_times(runs: Sequence[Run]) -> None:
    ref = runs[0].index
    for run in runs[1:]:
        t = run.index.times
        if len(t) != len(ref.times) or not np.allclose(t, ref.times, rtol=1e-12, atol=1e-300):
            n = min(len(t), len(ref.times))
            k = int(np.flatnonzero(~np.isclose(t[:n], ref.times[:n], rtol=1e-12, atol=1e-300))[0]) \
                if not np.allclose(t[:n], ref.times[:n], rtol=1e-12, atol=1e-300) else n
            raise InputError(
                f"{run.index.path} has {len(t)} records and {ref.path} {len(ref.times)}; their times differ from "
                f"record {k + 1} on ({t[k] if k < len(t) else 'none'} vs "
                f"{ref.times[k] if k < len(ref.times) else 'none'}): the subdomains are not of one run"
            )


def _disagree(a: np.ndarray, b: np.ndarray, scale: float) -> np.ndarray:
    """Where two copies of shared values differ by more than float32 round-off (see the module docstring)."""
    return np.abs(a - b) > _RTOL * (np.abs(a) + np.abs(b)) + _SCALE_TOL * scale


def _global_to_local(global_index: np.ndarray, size: int) -> np.ndarray:
    out = np.full(size, -1, np.int64)
    out[global_index] = np.arange(len(global_index))
    return out


def _global_point_rows(mesh: Mesh, rule: str, merged_cells_per_domain) -> list[np.ndarray]:
    """Merged row of each local integration-point row, for every domain.

    Parameters
    ----------
    mesh : Mesh
        The merged mesh.
    rule : str
    merged_cells_per_domain : list of (n_local_cells,) int arrays
        Merged index of each local cell (local mesh order).
    """
    counts = np.concatenate([np.full(len(c), points_per_cell(rule, t), np.int64) for t, c in mesh.cells.items()])
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rows = []
    for merged_cells in merged_cells_per_domain:
        local_counts = counts[merged_cells]
        local_starts = np.concatenate([[0], np.cumsum(local_counts)[:-1]])
        rows.append(np.repeat(starts[merged_cells] - local_starts, local_counts) + np.arange(int(local_counts.sum())))
    return rows


def _as_index(local: np.ndarray, size: int) -> Index:
    return normalize_index(local, size, "rows")


class MergedNodeSource:
    """A nodal field scattered from several domains (a FieldSource).

    Parameters
    ----------
    parts : list of (FieldSource, (n_global,) int array)
        Each domain's source and the local index of every global node (-1 when absent).
    n_global : int
    origin : str
    check : bool
        Compare values of shared nodes.
    """

    def __init__(self, parts, n_global: int, origin: str, *, check: bool = True):
        self.parts, self.origin, self.check = parts, origin, check
        first = parts[0][0]
        self.shape = (first.shape[0], n_global, first.shape[2])
        self.dtype = np.dtype(first.dtype)

    def read(self, steps: Index, rows: Index) -> np.ndarray:
        """Values, shape (n_steps, n_rows, n_components), float64."""
        wanted = np.arange(rows.start, rows.stop) if isinstance(rows, slice) else np.asarray(rows)
        n_steps = steps.stop - steps.start if isinstance(steps, slice) else len(steps)
        out = np.empty((n_steps, len(wanted), self.shape[2]))
        filled = np.zeros(len(wanted), bool)
        for source, global_to_local in self.parts:
            local = global_to_local[wanted]
            inside = np.flatnonzero(local >= 0)
            if not len(inside):
                continue
            order = np.argsort(local[inside], kind="stable")
            where, local_rows = inside[order], local[inside][order]
            index = _as_index(local_rows, source.shape[1])
            values = np.asarray(source.read(steps, index), dtype=np.float64)
            check_finite(values, source.origin, steps, index)
            again = filled[where]
            if again.any():
                if self.check:
                    self._compare(out[:, where[again]], values[:, again], source, local_rows[again])
                values, where = values[:, ~again], where[~again]
            out[:, where] = values
            filled[where] = True
        return out

    def _compare(self, kept: np.ndarray, other: np.ndarray, source, local_rows: np.ndarray) -> None:
        scale = max(float(np.abs(kept).max(initial=0.0)), float(np.abs(other).max(initial=0.0)))
        bad = _disagree(kept, other, scale)
        if bad.any():
            s, r, c = (int(i[0]) for i in np.nonzero(bad))
            raise MeshMismatchError(
                f"{self.origin}: shared node (local row {local_rows[r]} of {source.origin}) has value "
                f"{other[s, r, c]!r} there but {kept[s, r, c]!r} in a lower domain (component {c}, step {s} of "
                "the request); pass check_interfaces=False to keep the lowest domain's values"
            )


class MergedPointSource:
    """An integration-point field gathered from several domains (a FieldSource).

    Parameters
    ----------
    sources : list of FieldSource
        Each domain's field (rows in its mesh order).
    rows : list of (n_local_rows,) int arrays
        Merged row of each local row, per domain.
    origin : str
    """

    def __init__(self, sources, rows, origin: str):
        self.sources, self.origin = sources, origin
        n_rows = int(sum(len(r) for r in rows))
        self.domain_of_row = np.empty(n_rows, np.int64)
        self.local_row = np.empty(n_rows, np.int64)
        for k, r in enumerate(rows):
            self.domain_of_row[r] = k
            self.local_row[r] = np.arange(len(r))
        first = sources[0]
        self.shape = (first.shape[0], n_rows, first.shape[2])
        self.dtype = np.dtype(first.dtype)

    def read(self, steps: Index, rows: Index) -> np.ndarray:
        """Values, shape (n_steps, n_rows, n_components), float64."""
        domain, local = self.domain_of_row[rows], self.local_row[rows]
        n_steps = steps.stop - steps.start if isinstance(steps, slice) else len(steps)
        out = np.empty((n_steps, len(domain), self.shape[2]))
        for k, source in enumerate(self.sources):
            where = np.flatnonzero(domain == k)
            if not len(where):
                continue
            order = np.argsort(local[where], kind="stable")
            where = where[order]
            index = _as_index(local[where], source.shape[1])
            values = np.asarray(source.read(steps, index), dtype=np.float64)
            check_finite(values, source.origin, steps, index)
            out[:, where] = values
        return out


# ------------------------------------------------------------ split input data
@dataclass(frozen=True, eq=False)
class SplitLayout:
    """The decomposition of a global mesh, as data files split per subdomain need it.

    Attributes
    ----------
    cut : Path
        The global ``stem.cut``.
    mesh_path : Path
    mesh : Mesh
        The global mesh (``point_ids`` = Zset ids).
    domains : tuple[DomainCut, ...]
        Each domain's cut, in domain order; ``nodes_local_to_global`` index
        ``mesh``'s nodes (checked against the ids).
    meshes : tuple[MeshFile, ...]
        Each domain's mesh as read (``mesh.point_ids`` = global Zset ids in
        local order; face sets are the domain's copies of the global ones).
    """

    cut: Path
    mesh_path: Path
    mesh: Mesh
    domains: tuple[DomainCut, ...]
    meshes: tuple[MeshFile, ...]

    @property
    def n_domains(self) -> int:
        return len(self.domains)


def decomposition_path(mesh_path: str | os.PathLike) -> Path:
    """The global ``stem.cut`` of a mesh ``stem.geof``/``stem.geo`` (it may not exist)."""
    return Path(mesh_path).with_suffix(".cut")


def split_names(path: str | os.PathLike, n_domains: int) -> list[Path]:
    """Names of a data file split per subdomain: ``pressure.node`` → ``pressure-001.node`` … ``-00N``."""
    path = Path(path)
    return [path.with_name(f"{path.stem}-{k:03d}{path.suffix}") for k in range(1, n_domains + 1)]


def read_split_layout(mesh_path: str | os.PathLike, mesh: Mesh) -> SplitLayout:
    """Read the decomposition of a global mesh and check it against that mesh.

    Parameters
    ----------
    mesh_path : path
        The global mesh ``stem.geof`` (or ``.geo``); its decomposition is
        ``stem.cut`` next to it, the cuts ``stem-pcuts/stem-00k.cut`` (the
        folder named by ``***splitted``) and the meshes their ``**mesh``
        (``stem-pmeshes/stem-00k.geof`` when a cut names none).
    mesh : Mesh
        That mesh as read.

    Raises
    ------
    InputError
        A missing or malformed file; MeshMismatchError when the decomposition
        is not one of ``mesh`` (sizes, node ids, global nodes in no domain).
    """
    mesh_path = Path(mesh_path)
    decomposition = read_decomposition(decomposition_path(mesh_path))
    cut = decomposition.path
    if decomposition.n_domains < 1:
        raise InputError(f"{cut}: **domains {decomposition.n_domains}; at least one subdomain is expected")
    if (decomposition.n_nodes, decomposition.n_elements) != (mesh.n_nodes, mesh.n_cells):
        raise MeshMismatchError(f"{cut} decomposes a mesh of {decomposition.n_nodes} nodes and "
                                f"{decomposition.n_elements} elements, but {mesh_path} has {mesh.n_nodes} nodes and "
                                f"{mesh.n_cells} elements")
    domains, meshes = [], []
    covered = np.zeros(mesh.n_nodes, bool)
    for k in range(decomposition.n_domains):
        domain_path = decomposition.domain_cut(k)
        if not domain_path.is_file():
            raise InputError(f"{cut}: lists {decomposition.n_domains} domains, but the cut of domain {k} "
                             f"({domain_path}) is missing")
        domain = read_domain_cut(domain_path)
        if domain.index != k:
            raise MeshMismatchError(f"{domain_path} describes domain {domain.index}, expected {k} "
                                    f"(its files are numbered {k + 1:03d})")
        if len(domain.nodes_global_to_local) != mesh.n_nodes:
            raise MeshMismatchError(f"{domain_path}: **nodes_global_to_local covers "
                                    f"{len(domain.nodes_global_to_local)} global nodes, but {mesh_path} has "
                                    f"{mesh.n_nodes}")
        local_path = domain.mesh if domain.mesh != Path() else \
            mesh_path.parent / f"{mesh_path.stem}-pmeshes" / f"{mesh_path.stem}-{k + 1:03d}{mesh_path.suffix}"
        if not local_path.is_file():
            raise InputError(f"{domain_path}: the mesh of domain {k} ({local_path}) is missing")
        local = read_mesh_file(local_path)
        _check_local_nodes(domain, local, mesh, mesh_path)
        covered[domain.nodes_local_to_global] = True
        domains.append(domain)
        meshes.append(local)
    if not covered.all():
        lost = int(np.flatnonzero(~covered)[0])
        raise MeshMismatchError(f"{cut}: {np.count_nonzero(~covered)} nodes of {mesh_path} (e.g. id "
                                f"{mesh.point_ids[lost]}) are in none of its {decomposition.n_domains} domains")
    return SplitLayout(cut=cut, mesh_path=mesh_path, mesh=mesh, domains=tuple(domains), meshes=tuple(meshes))


def _check_local_nodes(domain: DomainCut, local: MeshFile, mesh: Mesh, mesh_path: Path) -> None:
    """The domain's mesh lists the cut's nodes, and the cut's global indices point at the same ids."""
    ids, l2g = local.mesh.point_ids, domain.nodes_local_to_global
    if len(ids) != len(l2g) or not np.array_equal(ids, domain.node_ids):
        raise MeshMismatchError(f"{local.path}: its {len(ids)} node ids differ from the {len(domain.node_ids)} "
                                f"of **nodes in {domain.path}")
    if np.any(l2g >= mesh.n_nodes) or not np.array_equal(mesh.point_ids[l2g], ids):
        i = int(np.flatnonzero((l2g >= mesh.n_nodes) | (mesh.point_ids[np.minimum(l2g, mesh.n_nodes - 1)] != ids))[0])
        raise MeshMismatchError(f"{domain.path}: local node {i} (id {ids[i]}) maps to global index {l2g[i]}, "
                                f"which is not node id {ids[i]} in {mesh_path}")


def local_facet_count(layout: SplitLayout, k: int, face_set: str) -> int:
    """Facets of domain ``k``'s copy of a face set (0 when its mesh has no such set)."""
    return int(sum(len(c) for c in layout.meshes[k].mesh.face_sets.get(face_set, {}).values()))


def gather_nodal(layout: SplitLayout, files: Sequence[Path], values: Sequence[np.ndarray]) -> np.ndarray:
    """One global nodal array from per-domain arrays in local node order.

    Parameters
    ----------
    layout : SplitLayout
    files : sequence of Path
        Each domain's file, for messages.
    values : sequence of (n_local_nodes,) arrays
        Each domain's values, in its mesh's node order.

    Returns
    -------
    (n_nodes,) float64 array
        In the global mesh's node order. A node shared by several domains must
        carry the same value in each (to float32 round-off), else
        MeshMismatchError naming both files, the node id and both values.
    """
    values = [np.asarray(v, dtype=np.float64) for v in values]
    scale = max((float(np.abs(v).max(initial=0.0)) for v in values), default=0.0)
    out = np.zeros(layout.mesh.n_nodes)
    owner = np.full(layout.mesh.n_nodes, -1, np.int64)
    for k, (domain, file, v) in enumerate(zip(layout.domains, files, values)):
        glob = domain.nodes_local_to_global
        if v.shape != glob.shape:
            raise InputError(f"{file}: {v.size} values for the {len(glob)} nodes of subdomain {k + 1} "
                             f"({layout.meshes[k].path})")
        again = owner[glob] >= 0
        bad = np.flatnonzero(again)[_disagree(out[glob[again]], v[again], scale)]
        if len(bad):
            i = int(bad[0])
            node = int(glob[i])
            raise MeshMismatchError(
                f"interface node {layout.mesh.point_ids[node]} has value {out[node]:.9g} in {files[owner[node]]} "
                f"but {v[i]:.9g} in {file} (subdomains {owner[node] + 1} and {k + 1} share it; their values "
                "must be equal)"
            )
        fresh = ~again
        out[glob[fresh]] = v[fresh]
        owner[glob[fresh]] = k
    return out


def gather_facets(layout: SplitLayout, face_set: str, files: Sequence[Path],
                  values: Sequence[np.ndarray]) -> np.ndarray:
    """Per-facet values of a global face set from its per-domain copies.

    Parameters
    ----------
    layout : SplitLayout
    face_set : str
        A face set of the global mesh.
    files : sequence of Path
        Each domain's file, for messages.
    values : sequence of (n_local_facets,) arrays
        Each domain's values, one per facet of its copy of the face set, in that
        copy's order (as ``Mesh.face_sets``: blocks in order, listing order within).

    Returns
    -------
    (n_facets,) float64 array
        In the global face set's order. Each local facet is matched to the
        global facet of the same type with the same node ids, taken as a set
        (the corner order may rotate). InputError when a local facet is not in
        the global face set or a global facet is in no domain's copy;
        MeshMismatchError when a facet listed more than once carries
        different values.
    """
    values = [np.asarray(v, dtype=np.float64) for v in values]
    scale = max((float(np.abs(v).max(initial=0.0)) for v in values), default=0.0)
    local_blocks = []
    for k, (local, file, v) in enumerate(zip(layout.meshes, files, values)):
        blocks = local.mesh.face_sets.get(face_set, {})
        n_local = local_facet_count(layout, k, face_set)
        if v.shape != (n_local,):
            raise InputError(f"{file}: {v.size} values for the {n_local} facets of face set '{face_set}' in "
                             f"{local.path}")
        starts = np.cumsum([0] + [len(c) for c in blocks.values()])
        local_blocks.append({t: (np.sort(local.mesh.point_ids[c], axis=1), v[s:s + len(c)], s)
                             for (t, c), s in zip(blocks.items(), starts)})
    for k, blocks in enumerate(local_blocks):
        stray = [t for t, block in blocks.items() if t not in layout.mesh.face_sets[face_set] and len(block[0])]
        if stray:
            raise InputError(f"{layout.meshes[k].path}: face set '{face_set}' holds {stray[0]} facets, which "
                             f"'{face_set}' of {layout.mesh_path} does not have")
    out, start = [], 0
    for t, conn in layout.mesh.face_sets[face_set].items():
        out.append(_gather_block(layout, face_set, np.sort(layout.mesh.point_ids[conn], axis=1), start,
                                 [b.get(t) for b in local_blocks], files, scale))
        start += len(conn)
    return np.concatenate(out) if out else np.zeros(0)


def _gather_block(layout: SplitLayout, face_set: str, glob: np.ndarray, start: int, parts,
                  files: Sequence[Path], scale: float) -> np.ndarray:
    """Values of one facet type of a global face set.

    ``glob`` holds the sorted node ids of its facets (block starting at facet
    ``start``); ``parts`` each domain's (sorted ids, values, first position) of
    that type, or None.
    """
    rows, vals, domain, position = [], [], [], []
    for k, part in enumerate(parts):
        if part is not None:
            rows.append(part[0])
            vals.append(part[1])
            domain.append(np.full(len(part[0]), k))
            position.append(part[2] + np.arange(len(part[0])))
    width = glob.shape[1]
    rows = np.concatenate(rows) if rows else np.zeros((0, width), np.int64)
    vals = np.concatenate(vals) if vals else np.zeros(0)
    domain, position = (np.concatenate(a) if a else np.zeros(0, np.int64) for a in (domain, position))
    keys, inverse = np.unique(np.concatenate([glob, rows]), axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    global_key, local_key = inverse[:len(glob)], inverse[len(glob):]
    in_global = np.zeros(len(keys), bool)
    in_global[global_key] = True
    stray = np.flatnonzero(~in_global[local_key])
    if len(stray):
        i = int(stray[0])
        raise InputError(f"{files[domain[i]]}: facet {position[i] + 1} of face set '{face_set}' in "
                         f"{layout.meshes[domain[i]].path} (nodes {' '.join(map(str, rows[i]))}) is not a facet of "
                         f"'{face_set}' in {layout.mesh_path}")
    first = np.full(len(keys), -1, np.int64)
    first[local_key[::-1]] = np.arange(len(local_key))[::-1]   # first listing of each facet
    lost = np.flatnonzero(first[global_key] < 0)
    if len(lost):
        j = int(lost[0])
        meshes = ", ".join(str(m.path) for m in layout.meshes)
        raise InputError(f"facet {start + j + 1} of face set '{face_set}' in {layout.mesh_path} (nodes "
                         f"{' '.join(map(str, glob[j]))}) is in no subdomain's copy of it ({meshes}), so none of "
                         f"{', '.join(str(f) for f in files)} gives its value")
    reference = first[local_key]
    bad = np.flatnonzero(_disagree(vals[reference], vals, scale))
    if len(bad):
        i = int(bad[0])
        r = int(reference[i])
        raise MeshMismatchError(
            f"facet of face set '{face_set}' with nodes {' '.join(map(str, rows[i]))} is listed twice with different "
            f"values: {vals[r]:.9g} in {files[domain[r]]} (facet {position[r] + 1}) and {vals[i]:.9g} in "
            f"{files[domain[i]]} (facet {position[i] + 1})"
        )
    return vals[first[global_key]]
