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

Phases 3–5 are those of :class:`rom.reductor.Reductor`, the same object enrichment
uses (:mod:`rom.adaptive`): the model is reduced by one code path with one set of
settings.

Finished phases are checkpointed (per rank, atomically) in ``config.checkpoint``:
a killed run started again resumes after the last finished phase whose inputs did
not change (:class:`Checkpoint`: each phase is keyed by the contents of the training
files, the mesh and imposed-displacement sets, its settings, ``stress_field`` for the
ECM, the rank count and the partition, chained with the keys of the earlier phases).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from pathlib import Path

import numpy as np

from io_adapters.errors import ConfigError, InputError, MeshMismatchError

from rom import progress
from rom.ecm import ReducedQuadrature
from rom.lifting import without_constrained
from rom.model import DualField, ReducedOrderModel
from rom.offline_config import OfflineConfig
from rom.parallel import allreduce_sum as _allreduce
from rom.pod import GramAccumulator, ReducedBasis
from rom.reductor import Reductor

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


#: Version of the checkpoint files' layout (a file of another version is not reused).
CHECKPOINT_VERSION = 2

#: Why a phase input differs, for the log line.
_INPUT_NAMES = {
    "training": "the training data (file contents)", "mesh": "the problem's mesh", "partition": "the partition",
    "ranks": "the number of ranks", "rule": "the integration rule", "constrained":
    "the problem's imposed-displacement sets", "pod": "the POD settings", "blocks": "the POD's block layout",
    "ecm": "the [ecm] settings", "stress_field": "stress_field", "version": "the checkpoint format",
}


def _chain(inputs: dict[str, dict]) -> dict[str, str]:
    """Per phase, a key of its inputs and of every earlier phase's (the phases in order)."""
    keys, previous = {}, ""
    for phase, own in inputs.items():
        text = json.dumps({"after": previous, "inputs": own, "version": CHECKPOINT_VERSION}, sort_keys=True,
                          default=str)
        previous = keys[phase] = hashlib.sha256(text.encode()).hexdigest()
    return keys


def _why(phase: str, stored: dict | None, current: dict, earlier: str | None) -> str:
    if earlier is not None:
        return f"an earlier phase ({earlier}) is recomputed"
    if stored is None:
        return "it was written by another version of nirom"
    changed = []
    for key in sorted(set(stored) | set(current)):
        if stored.get(key) != current.get(key):
            old, new = stored.get(key), current.get(key)
            detail = f" ({old!r} → {new!r})" if all(isinstance(v, (int, str, type(None))) and len(repr(v)) < 40
                                                     for v in (old, new)) else ""
            changed.append(_INPUT_NAMES.get(key, key) + detail)
    return "changed: " + ", ".join(changed) if changed else "its inputs changed"


class Checkpoint:
    """Finished phases of one rank, kept in ``<folder>/rank<r>.h5`` (atomic writes).

    Each phase is stored with a key of what shaped it — its own inputs
    (:meth:`rom.offline_config.OfflineConfig.phase_inputs`: training data and mesh by
    content, imposed-displacement sets, settings, rank count, partition) chained with
    the keys of the phases before it — and with a checksum of its arrays. A phase is
    reused only when its key matches: the first phase whose inputs changed, and every
    later one, start afresh, each with a log line saying why. A checkpoint that cannot
    be read is ignored (logged); one that cannot be written is reported once and the
    run goes on without it.

    Parameters
    ----------
    folder : path or None
        None: nothing is kept on disk.
    rank : int
    inputs : dict[str, dict] or str
        Per phase in order (``pod_U``, ``pod_<dual>``…, ``ecm``), its inputs; the
        partial phase ``gram_<name>`` shares the key of ``pod_<name>``. A string: one
        key for every phase.
    """

    def __init__(self, folder: Path | None, rank: int, inputs):
        self.path = None if folder is None else Path(folder) / f"rank{rank}.h5"
        self.rank = rank
        if isinstance(inputs, str):
            self.inputs, self.keys, self.fingerprint = {}, {}, inputs
        else:
            self.inputs = json.loads(json.dumps(inputs, default=str))      # as stored: tuples become lists
            self.keys = _chain(self.inputs)
            self.fingerprint = hashlib.sha256(json.dumps(self.keys, sort_keys=True).encode()).hexdigest()[:16]
        self.data: dict[str, dict[str, np.ndarray]] = {}
        self._digests: dict[str, str] = {}            # of each phase's arrays (computed once)
        self._warned = False
        if self.path is not None and self.path.exists():
            self._load()

    def key(self, phase: str) -> str:
        """The key a stored phase must carry to be reused."""
        base = "pod_" + phase[len("gram_"):] if phase.startswith("gram_") else phase
        return self.keys.get(base, self.fingerprint)

    def _load(self) -> None:
        import h5py

        try:
            with h5py.File(self.path, "r") as f:
                stored = {name: (dict(g.attrs), {k: v[()] for k, v in g.items()}) for name, g in f.items()
                          if isinstance(g, h5py.Group)}
        except Exception as exc:                  # a damaged file: h5py raises OSError, KeyError, RuntimeError…
            log.warning("offline: checkpoint %s unreadable (%s: %s); starting afresh", self.path,
                        type(exc).__name__, exc)
            return
        recomputed = None             # the first phase not reused: the later ones are recomputed too
        order = list(self.inputs) or list(dict.fromkeys("pod_" + n[len("gram_"):] if n.startswith("gram_") else n
                                                         for n in sorted(stored)))
        for phase in order:
            names = (f"gram_{phase[len('pod_'):]}", phase) if phase.startswith("pod_") else (phase,)
            for name in (n for n in names if n in stored):
                attrs, arrays = stored[name]
                same_key = attrs.get("key") == self.key(name)
                intact = attrs.get("sha256") == _arrays_digest(arrays)
                if recomputed is None and same_key and intact:
                    self.data[name], self._digests[name] = arrays, attrs["sha256"]
                    continue
                if recomputed is None and same_key:
                    reason = "its arrays do not match their checksum"
                else:
                    reason = _why(phase, _json(attrs.get("inputs")), self.inputs.get(phase, {}), recomputed)
                if self.rank == 0:
                    log.info("offline: checkpoint phase %s not reused: %s", name, reason)
            if phase not in self.data and recomputed is None:
                recomputed = phase

    def get(self, phase: str) -> dict | None:
        return self.data.get(phase)

    def put(self, phase: str, arrays: dict[str, np.ndarray]) -> None:
        self.data[phase] = {k: np.asarray(v) for k, v in arrays.items()}
        self._digests[phase] = _arrays_digest(self.data[phase])
        if self.path is None:
            return
        import io

        import h5py

        from rom.model import write_file_atomically

        buffer = io.BytesIO()
        with h5py.File(buffer, "w") as f:
            f.attrs["version"] = CHECKPOINT_VERSION
            for p, arrays_ in self.data.items():
                g = f.create_group(p)
                for k, v in arrays_.items():
                    g.create_dataset(k, data=v)
                g.attrs["key"] = self.key(p)
                g.attrs["sha256"] = self._digests[p]
                base = "pod_" + p[len("gram_"):] if p.startswith("gram_") else p
                g.attrs["inputs"] = json.dumps(self.inputs.get(base, {}), sort_keys=True, default=str)
        try:
            with buffer.getbuffer() as image:
                write_file_atomically(self.path, image, what="offline checkpoint")
        except OSError as exc:
            if not self._warned:
                log.warning("offline: %s; going on without checkpoints", exc)
                self._warned = True
            self.path = None

    def phases(self) -> list[str]:
        return list(self.data)


def _arrays_digest(arrays: dict) -> str:
    from rom.offline_config import content_digest

    return content_digest({k: np.asarray(arrays[k]) for k in sorted(arrays)})


def _json(text) -> dict | None:
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


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


def _blocks(runs, name: str, n_rows: int, comm=None) -> list[tuple[int, slice]]:
    """(run, steps) blocks of at most BLOCK_BYTES of a rank's rows of a field.

    The block size follows the largest rank's row count, so that every rank cuts the
    snapshots into the same blocks (the Gram accumulation is collective per block).
    """
    if comm is not None and comm.size > 1:
        from mpi4py import MPI

        n_rows = comm.allreduce(int(n_rows), op=MPI.MAX)
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
    done = _collective_phase(checkpoint, f"pod_{name}", comm)
    if done is not None:
        return done
    blocks = _blocks(runs, name, len(rows), comm)

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
        progress.advance(f"POD {name}: Gram blocks", b + 1, len(blocks))
        checkpoint.put(f"gram_{name}", accumulator.state())
    basis = accumulator.finish(read_block, tol=options.get("tol"), n_modes=options.get("n_modes"))
    done = {"modes": basis.modes, "singular_values": basis.singular_values}
    checkpoint.put(f"pod_{name}", done)
    return done


def _read_rows(runs, name: str, rows: np.ndarray) -> np.ndarray:
    """Every training snapshot of a field at some rows: (n_snapshots, n_rows, n_components)."""
    return np.concatenate([run.fields[name].read(rows=rows) for run in runs], axis=0)


def _phase_inputs(config: OfflineConfig, runs, problem, rule: str, cell_parts: np.ndarray, part, constrained: dict,
                  comm) -> dict[str, dict] | str:
    """What shapes each checkpointed phase (see :meth:`OfflineConfig.phase_inputs`); the
    training files are hashed by content only when there is a checkpoint to compare with."""
    if config.checkpoint is None:
        return config.fingerprint()
    from rom.offline_config import training_digests

    files = []
    for path, run in zip(config.training, runs):
        listed = [Path(f) for f in (run.provenance or {}).get("files", []) if Path(f).exists()]
        files.append(list(dict.fromkeys([Path(path).resolve(), *(f.resolve() for f in listed)])))
    cache = Path(config.checkpoint) / "training_digests.json"
    digests = training_digests(files, cache=cache, comm=comm)
    fields = ["U", *config.duals]
    blocks = {name: [(r, s.start, s.stop) for r, s in _blocks(runs, name, len(part.nodes if name == "U"
                                                                                 else part.point_rows), comm)]
              for name in fields}
    return config.phase_inputs(training=digests, mesh=problem.mesh, constrained=constrained, partition=cell_parts,
                               ranks=_rank_size(comm)[1], rule=rule, blocks=blocks)


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

    started = time.perf_counter()
    timer = _Timer()
    config = OfflineConfig.load(config_or_dict)
    rank, size = _rank_size(comm)
    with timer("read"):
        problem = config.problem if isinstance(config.problem, Problem) else read_problem(config.problem)
        runs, rule = _open_training(config, problem, config.rule)
        cell_parts = _cell_partition(config, problem, comm)
    mesh = problem.mesh
    reductor = Reductor(problem, rule, [(rank, np.flatnonzero(cell_parts == rank))], ecm=config.ecm, comm=comm)
    part = reductor.parts[0]
    n_snapshots = sum(run.n_times for run in runs)
    checkpoint = Checkpoint(config.checkpoint, rank, _phase_inputs(config, runs, problem, rule, cell_parts, part,
                                                                    reductor.constrained, comm))
    resumed = [p for p in checkpoint.phases()]
    if rank == 0:
        log.info("offline: %d training runs, %d snapshots, %d subdomains; mesh %d nodes, %d cells, rule %s%s",
                 len(runs), n_snapshots, size, mesh.n_nodes, mesh.n_cells, rule,
                 f"; resuming after {', '.join(resumed)}" if resumed else "")

    # 1. displacement POD (streamed by blocks of time steps; the Gram matrix is checkpointed),
    #    of the snapshots without their imposed values: the modes vanish on the constrained dofs
    with timer("pod_U"):
        done = _pod_phase("U", runs, part.nodes, part.mass, config.pod["U"], checkpoint, comm,
                          transform=lambda values: without_constrained(values, part.mask))
    basis = ReducedBasis(done["modes"], done["singular_values"], inner_product="mass")
    if rank == 0:
        log.info("pod U: %d modes (of %d snapshots)", basis.n_modes, n_snapshots)
    progress.advance("offline phases", 1, 3 + len(config.duals), detail="POD U")

    # 2. dual PODs ---------------------------------------------------------
    duals = {}
    for name in config.duals:
        with timer(f"pod_{name}"):
            done = _pod_phase(name, runs, part.point_rows, None, config.pod[name], checkpoint, comm)
        components = runs[0].fields[name].components
        dual_modes = done["modes"].reshape(len(done["modes"]), len(part.point_rows), len(components))
        duals[name] = DualField(name, components, dual_modes, done["singular_values"])
        if rank == 0:
            log.info("pod %s: %d modes", name, len(dual_modes))
        progress.advance("offline phases", 2 + config.duals.index(name), 3 + len(config.duals), detail=name)

    # 3. ECM (checkpointed) ------------------------------------------------
    done = checkpoint.get("ecm")
    with timer("ecm"):
        if done is None:
            quadrature = reductor.cubature(0, basis.modes, _read_rows(runs, config.stress_field, part.point_rows))
            done = {"points": quadrature.points, "weights": quadrature.weights,
                    "residual": np.asarray(quadrature.residual)}
            checkpoint.put("ecm", done)
        quadrature = ReducedQuadrature(done["points"].astype(np.int64), done["weights"],
                                       residual=float(done["residual"]))
    progress.advance("offline phases", 2 + len(config.duals), 3 + len(config.duals), detail="ECM")

    # 4.-5. Gappy points, operators at the reduced points, reduced loads -------
    with timer("operators"):
        subdomains, pressure_loads, moments = reductor.reduce([basis], [duals], [quadrature])
    progress.advance("offline phases", 3 + len(config.duals), 3 + len(config.duals), detail="operators")
    total_points = _allreduce(np.array([subdomains[0].n_reduced_points, quadrature.n_points], dtype=np.int64), comm)
    settings = {"pod": {n: o.to_dict() for n, o in config.pod.items()}, "ecm": config.ecm.to_dict(),
                "indicator": config.indicator.to_dict(), "stress_field": config.stress_field,
                "reduced_points": int(total_points[0]), "ecm_points": int(total_points[1]),
                "dual_modes": {n: len(d.modes) for n, d in duals.items()}}
    model = ReducedOrderModel(
        mesh=mesh, rule=rule, materials={n: problem.materials[n] for n in reductor.names}, n_modes=basis.n_modes,
        singular_values=basis.singular_values, pressure_loads=pressure_loads, centrifugal_moments=moments,
        constrained=reductor.constrained, settings=settings,
        provenance={"training": [str(p) for p in config.training], "problem": str(getattr(problem, "source", "")),
                    "config": config.source, "n_snapshots": int(n_snapshots), "created_by": "nirom offline",
                    "timing_seconds": {**timer.phases, "total": time.perf_counter() - started}},
        subdomains=subdomains, n_subdomains=size,
    )
    if rank == 0:
        log.info("offline done in %.2f s: %s", time.perf_counter() - started,
                 ", ".join(f"{k} {v:.2f} s" for k, v in timer.phases.items()))
        if config.plot is not None:
            plot_singular_values(model, duals, config.plot)
    return model


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
