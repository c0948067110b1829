"""The offline stage: training results → :class:`~rom.model.ReducedOrderModel`.

``build(config, comm=None)`` runs on every rank of ``comm`` (serial without one).
Each rank owns one subdomain of the mesh (METIS, or the solver's own partition)
and reads only its rows of every training snapshot. Phases:

1. ``pod_U``: displacement POD in the L2 (mass) inner product — local Gram
   contributions, one ``Allreduce``, the same small eigenproblem everywhere — of
   the snapshots without their imposed values (:mod:`rom.lifting`).
2. ``pod_<dual>``: POD of each dual quantity (identity inner product; the rows of
   integration points are disjoint between subdomains).
3. ``ecm``: Empirical Cubature of the internal virtual work, per subdomain.
4. ``gappy``: QDEIM points of the dual bases; the reduced point set is the union.
5. ``operators``: reduced strain operator, laws and temperature interpolation at
   the reduced points; reduced loads (pressure on every face set, centrifugal
   moments for any axis).

Finished phases are checkpointed (per rank, atomically) in ``config.checkpoint``:
a killed run started again with the same configuration resumes after the last
finished phase.
"""

from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from io_adapters.errors import ConfigError, InputError, MeshMismatchError
from io_adapters.quadrature_rules import point_rows_of_cells, points_per_cell

from rom.lifting import constrained_mask, lifting_strain, without_constrained
from rom.offline_config import OfflineConfig
from rom.parallel import allreduce_sum as _allreduce

log = logging.getLogger(__name__)


# ================================================================= helpers
def _rank_size(comm) -> tuple[int, int]:
    return (0, 1) if comm is None else (comm.rank, comm.size)


class _Timer:
    def __init__(self):
        self.phases: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, name: str):
        start = time.perf_counter()
        yield
        self.phases[name] = self.phases.get(name, 0.0) + time.perf_counter() - start


class Checkpoint:
    """Finished phases of one rank, kept in ``<folder>/rank<r>.h5`` (atomic writes).

    Phases are reused only when the configuration's fingerprint matches.
    """

    def __init__(self, folder: Path | None, rank: int, fingerprint: str):
        self.path = None if folder is None else Path(folder) / f"rank{rank}.h5"
        self.fingerprint = fingerprint
        self.data: dict[str, dict[str, np.ndarray]] = {}
        if self.path is not None and self.path.exists():
            import h5py

            try:
                with h5py.File(self.path, "r") as f:
                    if f.attrs.get("fingerprint") == fingerprint:
                        self.data = {p: {k: v[()] for k, v in g.items()} for p, g in f.items()}
            except OSError:
                self.data = {}

    def get(self, phase: str) -> dict | None:
        return self.data.get(phase)

    def put(self, phase: str, arrays: dict[str, np.ndarray]) -> None:
        self.data[phase] = {k: np.asarray(v) for k, v in arrays.items()}
        if self.path is None:
            return
        import h5py

        from io_adapters.atomic import atomic_path

        with atomic_path(self.path) as tmp:
            with h5py.File(tmp, "w") as f:
                f.attrs["fingerprint"] = self.fingerprint
                for p, arrays_ in self.data.items():
                    g = f.create_group(p)
                    for k, v in arrays_.items():
                        g.create_dataset(k, data=v)

    def phases(self) -> list[str]:
        return list(self.data)


def _collective_phase(checkpoint: Checkpoint, phase: str, comm) -> dict | None:
    """The checkpointed result of a phase if EVERY rank has it (else None everywhere)."""
    have = checkpoint.get(phase) is not None
    if comm is not None and comm.size > 1:
        have = bool(comm.allreduce(int(have), op=_min()))
    return checkpoint.get(phase) if have else None


def _min():
    from mpi4py import MPI

    return MPI.MIN


# ============================================================ the training
def _open_training(config: OfflineConfig, problem, rule: str | None):
    """Open every training run (lazily) and check them against the problem's mesh."""
    import io_adapters

    runs, errors = [], []
    mesh = problem.mesh
    for path in config.training:
        try:
            sim = io_adapters.read(str(path))
        except InputError as exc:
            errors.append(str(exc))
            continue
        m = sim.mesh
        if m.n_nodes != mesh.n_nodes or m.n_cells != mesh.n_cells or not np.allclose(m.points, mesh.points,
                                                                                    rtol=1e-6, atol=1e-9):
            errors.append(f"{path}: mesh differs from the problem's ({m.n_nodes} nodes/{m.n_cells} cells vs "
                          f"{mesh.n_nodes}/{mesh.n_cells}, or other coordinates)")
            continue
        needed = ["U", config.stress_field, *config.duals]
        missing = [n for n in needed if n not in sim.fields]
        if missing:
            errors.append(f"{path}: missing field(s) {', '.join(missing)} (has: {', '.join(sim.fields)})")
            continue
        for name in [config.stress_field, *config.duals]:
            f = sim.fields[name]
            if f.support != "integration_point":
                errors.append(f"{path}: field '{name}' must be at integration points, found '{f.support}'")
            elif rule is not None and f.rule != rule:
                errors.append(f"{path}: field '{name}' uses integration rule '{f.rule}', expected '{rule}'")
        if sim.fields[config.stress_field].n_components != 6:
            errors.append(f"{path}: stress field '{config.stress_field}' must have 6 components")
        runs.append(sim)
    if errors:
        raise (MeshMismatchError if any("mesh differs" in e for e in errors) else InputError)(
            f"{config.source}: training data: " + ("; ".join(errors)))
    rules = {r.fields[config.stress_field].rule for r in runs}
    if len(rules) != 1:
        raise InputError(f"{config.source}: training runs use different integration rules {sorted(rules)}")
    return runs, rules.pop()


def _cell_partition(config: OfflineConfig, problem, comm) -> np.ndarray:
    from rom.partition import partition_cells

    rank, size = _rank_size(comm)
    mesh = problem.mesh
    if config.partition == "from-solver":
        from io_adapters import zset

        sources = [p for p in config.training if Path(p).suffix == ".cut"]
        if not sources:
            raise ConfigError(f"{config.source}: partition = \"from-solver\" needs a Zset parallel run "
                              "(a stem.cut file) among the training files")
        parts = zset.read_subdomains(sources[0])
        if len(parts) != size:
            raise ConfigError(f"{config.source}: the solver's partition has {len(parts)} subdomains; "
                              f"run with mpiexec -n {len(parts)} (running on {size})")
        if mesh.cell_ids is None:
            raise ConfigError(f"{config.source}: the problem mesh has no element ids to match the solver's partition")
        position = {int(c): i for i, c in enumerate(mesh.cell_ids)}
        cell_parts = np.full(mesh.n_cells, -1)
        for r, sub in enumerate(parts):
            cell_parts[[position[int(g) + 1] for g in sub.mesh.cell_ids]] = r
        if np.any(cell_parts < 0):
            raise ConfigError(f"{config.source}: the solver's subdomains do not cover the problem mesh")
        return cell_parts
    n_parts = config.partition or size
    if n_parts != size:
        raise ConfigError(f"{config.source}: partition = {n_parts} subdomains, but running on {size} ranks "
                          f"(run with mpiexec -n {n_parts})")
    if size > mesh.n_cells:
        raise ConfigError(f"{config.source}: {size} ranks for {mesh.n_cells} cells (more ranks than elements)")
    cell_parts = partition_cells(mesh, size) if rank == 0 else None
    return comm.bcast(cell_parts, root=0) if comm is not None and size > 1 else cell_parts


#: Memory bound of one block of snapshots read for the streamed POD (this rank's rows).
BLOCK_BYTES = 256 * 2**20


def _blocks(runs, name: str, n_rows: int) -> list[tuple[int, slice]]:
    """(run, steps) blocks of at most BLOCK_BYTES of this rank's rows of a field."""
    width = n_rows * runs[0].fields[name].n_components * 8
    per_block = max(1, BLOCK_BYTES // max(width, 1))
    return [(r, slice(start, min(start + per_block, run.n_times)))
            for r, run in enumerate(runs) for start in range(0, run.n_times, per_block)]


def _pod_phase(name: str, runs, rows: np.ndarray, inner_product, options: dict, checkpoint, comm,
               transform=None) -> dict:
    """POD of a field's snapshots at some rows, streamed by blocks, resumable.

    The Gram matrix is accumulated block against block (never more than two blocks
    of snapshots in memory) and checkpointed after each block; a finished phase is
    checkpointed whole. ``transform`` maps each block (n_steps, n_rows, n_components)
    before use (the displacement loses its imposed values).
    """
    from rom.pod import GramAccumulator

    done = _collective_phase(checkpoint, f"pod_{name}", comm)
    if done is not None:
        return done
    blocks = _blocks(runs, name, len(rows))

    def read_block(b: int) -> np.ndarray:
        r, steps = blocks[b]
        values = runs[r].fields[name].read(steps=steps, rows=rows)
        if transform is not None:
            values = transform(values)
        return values.reshape(len(values), -1)

    saved = _collective_phase(checkpoint, f"gram_{name}", comm)
    accumulator = (GramAccumulator.from_state(saved, inner_product=inner_product, comm=comm) if saved is not None
                   else GramAccumulator(inner_product=inner_product, comm=comm))
    for b in range(accumulator.n_blocks, len(blocks)):
        accumulator.add_block(read_block(b), read_block)
        checkpoint.put(f"gram_{name}", accumulator.state())
    basis = accumulator.finish(read_block, tol=options.get("tol"), n_modes=options.get("n_modes"))
    done = {"modes": basis.modes, "singular_values": basis.singular_values}
    checkpoint.put(f"pod_{name}", done)
    return done


def _read_rows(runs, name: str, rows: np.ndarray) -> np.ndarray:
    """Every training snapshot of a field at some rows: (n_snapshots, n_rows, n_components)."""
    return np.concatenate([run.fields[name].read(rows=rows) for run in runs], axis=0)


# ==================================================================== build
def build(config_or_dict, comm=None):
    """Build a reduced-order model from training results (every rank calls it).

    Parameters
    ----------
    config_or_dict : path to a TOML file, dict, or OfflineConfig
        See :mod:`rom.offline_config` for the keys.
    comm : mpi4py communicator, optional
        One subdomain per rank; serial when omitted.

    Returns
    -------
    ReducedOrderModel
        Holding this rank's subdomain (``model.save(path, comm)`` gathers them).
    """
    from io_adapters.problem import Problem, read_problem
    from rom import fem
    from rom.ecm import ecm, ecm_integrands
    from rom.gappy import gappy_points
    from rom.model import DualField, ReducedOrderModel, SubdomainModel
    started = time.perf_counter()
    timer = _Timer()
    config = OfflineConfig.load(config_or_dict)
    rank, size = _rank_size(comm)
    with timer("read"):
        problem = config.problem if isinstance(config.problem, Problem) else read_problem(config.problem)
        runs, rule = _open_training(config, problem, config.rule)
        cell_parts = _cell_partition(config, problem, comm)
    mesh = problem.mesh
    cells = np.flatnonzero(cell_parts == rank)
    local, nodes = mesh.submesh(cells)
    point_rows = point_rows_of_cells(mesh.cells, rule, cells)
    n_snapshots = sum(run.n_times for run in runs)
    checkpoint = Checkpoint(config.checkpoint, rank, config.fingerprint())
    resumed = [p for p in checkpoint.phases()]
    if rank == 0:
        log.info("offline: %d training runs, %d snapshots, %d subdomains; mesh %d nodes, %d cells, rule %s%s",
                 len(runs), n_snapshots, size, mesh.n_nodes, mesh.n_cells, rule,
                 f"; resuming after {', '.join(resumed)}" if resumed else "")

    # 1. displacement POD (streamed by blocks of time steps; the Gram matrix is checkpointed),
    #    of the snapshots without their imposed values: the modes vanish on the constrained dofs
    mass = fem.mass_matrix(local, rule="high", n_components=3)
    constrained = _constrained(problem)
    mask = constrained_mask(mesh, constrained, nodes)
    with timer("pod_U"):
        done = _pod_phase("U", runs, nodes, mass, config.pod["U"], checkpoint, comm,
                          transform=lambda values: without_constrained(values, mask))
    modes = done["modes"]
    singular_values = done["singular_values"]
    n_modes = len(modes)
    if rank == 0:
        log.info("pod U: %d modes (of %d snapshots)", n_modes, n_snapshots)

    # 2. dual PODs ---------------------------------------------------------
    duals = {}
    for name in config.duals:
        with timer(f"pod_{name}"):
            done = _pod_phase(name, runs, point_rows, None, config.pod[name], checkpoint, comm)
        components = runs[0].fields[name].components
        dual_modes = done["modes"].reshape(len(done["modes"]), len(point_rows), len(components))
        duals[name] = DualField(name, components, dual_modes, done["singular_values"])
        if rank == 0:
            log.info("pod %s: %d modes", name, len(dual_modes))

    # 3. ECM ---------------------------------------------------------------
    B, weights = fem.strain_operator(local, rule=rule)
    done = checkpoint.get("ecm")
    with timer("ecm"):
        if done is None:
            stress = _read_rows(runs, config.stress_field, point_rows)
            integrands, w = ecm_integrands(B, weights, stress, modes,
                                           stress_tol=config.ecm.get("stress_tol", 1e-8))
            quadrature = ecm(integrands, w, tol=config.ecm["tol"], seed=config.ecm["seed"])
            done = {"points": quadrature.points, "weights": quadrature.weights,
                    "residual": np.asarray(getattr(quadrature, "residual", 0.0))}
            checkpoint.put("ecm", done)
    ecm_points, ecm_weights = done["points"].astype(np.int64), done["weights"]

    # 4. Gappy points ------------------------------------------------------
    extra = [gappy_points(d.modes.reshape(len(d.modes), -1), len(d.components)) for d in duals.values()]
    points = np.unique(np.concatenate([ecm_points, *extra])) if extra else np.sort(ecm_points)
    reduced_weights = np.zeros(len(points))
    reduced_weights[np.searchsorted(points, ecm_points)] = ecm_weights

    # 5. operators at the reduced points -----------------------------------
    with timer("operators"):
        rows = (6 * points[:, None] + np.arange(6)).ravel()
        strain_operator = (B[rows] @ modes.T).reshape(len(points), 6, n_modes)
        lifting_dofs, lifting = lifting_strain(B[rows], mask, nodes)
        names, material_of_cell = problem.material_of_cells()
        counts = np.concatenate([np.full(len(c), points_per_cell(rule, t)) for t, c in local.cells.items()])
        cell_of_point = np.repeat(np.arange(local.n_cells), counts)
        material = material_of_cell[cells[cell_of_point[points]]]
        interpolation = sp.csr_matrix(fem.interpolation_operator(local, rule=rule))[points]
        pressure_loads, moments = reduced_loads(problem, [(rank, cells, nodes, modes)], rule, comm)
    subdomain = SubdomainModel(
        index=rank, cells=cells, nodes=nodes, point_rows=point_rows, displacement_modes=modes, points=points,
        weights=reduced_weights, strain_operator=strain_operator, material=material,
        temperature_interpolation=interpolation, duals=duals, ecm_residual=float(done["residual"]),
        lifting_dofs=lifting_dofs, lifting_strain=lifting,
    )
    total_points = _allreduce(np.array([len(points), len(ecm_points)], dtype=np.int64), comm)
    settings = {"pod": config.pod, "ecm": config.ecm, "indicator": config.indicator,
                "reduced_points": int(total_points[0]), "ecm_points": int(total_points[1]),
                "dual_modes": {n: len(d.modes) for n, d in duals.items()}}
    model = ReducedOrderModel(
        mesh=mesh, rule=rule, materials={n: problem.materials[n] for n in names}, n_modes=n_modes,
        singular_values=singular_values, pressure_loads=pressure_loads, centrifugal_moments=moments,
        constrained=constrained, settings=settings,
        provenance={"training": [str(p) for p in config.training], "problem": str(getattr(problem, "source", "")),
                    "config": config.source, "n_snapshots": int(n_snapshots), "created_by": "nirom offline",
                    "timing_seconds": {**timer.phases, "total": time.perf_counter() - started}},
        subdomains=[subdomain], n_subdomains=size,
    )
    if rank == 0:
        log.info("offline done in %.2f s: %s", time.perf_counter() - started,
                 ", ".join(f"{k} {v:.2f} s" for k, v in timer.phases.items()))
        if config.plot is not None:
            plot_singular_values(model, duals, config.plot)
    return model


def _constrained(problem) -> dict:
    out: dict[str, list[int]] = {}
    for bc in problem.dirichlet:
        out.setdefault(bc.node_set, []).append(int(bc.component))
    return {k: sorted(set(v)) for k, v in out.items()}


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
    from rom import fem

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
    from rom import fem

    owner = _node_owners(mesh, parts, comm)
    return _allreduce(_project_owned(fem.pressure_load(mesh, face_set, values), parts, owner), comm)


def plot_singular_values(model, duals: dict, path: Path) -> Path:
    """PNG of the normalised singular-value decay of every basis (rank 0)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from io_adapters.atomic import atomic_path

    fig, ax = plt.subplots(figsize=(6, 4))
    series = {"U": model.singular_values, **{n: d.singular_values for n, d in duals.items()}}
    for name, values in series.items():
        values = np.asarray(values)
        if len(values) and values[0] > 0:
            ax.semilogy(np.arange(1, len(values) + 1), values / values[0], marker=".", label=name)
    ax.axvline(model.n_modes, color="grey", lw=0.8, ls="--", label=f"U modes kept ({model.n_modes})")
    ax.set_xlabel("index")
    ax.set_ylabel("singular value / largest")
    ax.set_title("POD singular values")
    ax.grid(True, which="both", lw=0.3)
    ax.legend()
    path = Path(path)
    with atomic_path(path.with_suffix(".png")) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
