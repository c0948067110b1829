"""One high-fidelity time step on demand — the hook of the adaptive ROM.

The adaptive online stage reconstructs a state (displacement, strain, stress and the
laws' internal variables at the integration points), asks a step to advance it by one
time step, and learns from the result. Two kinds of states:

- :class:`MechanicalState`: the whole mesh (global numbering), as a serial step or an
  external solver sees it.
- :class:`PartitionedState`: one rank's rows of such a state (global node indices and
  integration-point rows, each increasing); interface nodes are held by several ranks
  with equal values, integration points by one.

Two protocols:

- :class:`HighFidelityStep`: ``step(MechanicalState, t_new) -> MechanicalState``.
  Serial: what a user-written step implements.
- :class:`DistributedStep`: ``step(PartitionedState, t_new) -> PartitionedState``,
  *collective*: every rank of the step's communicator calls it with its rows and the
  same ``t_new``, and gets its rows of the state at ``t_new``; the result's ``nodes``
  and ``point_rows`` say which (together they cover the mesh). The step is taken once
  for all ranks. An error raises on every rank (the same type and message), never on
  one rank while the others wait.

Implementations:

- :class:`InHouseStep`: nirom's own solver, distributed over the ranks' cells (one
  Newton solve, PETSc under MPI).
- :class:`ExternalCommandStep`: the user's solver, kept nonintrusive — the state is
  written to a nirom store, a command is run, and its result store is read back
  (under MPI on rank 0 only, once).
- :func:`on_rank_zero`: any :class:`HighFidelityStep` made a :class:`DistributedStep`
  (state gathered to rank 0, the step run there once, each rank given its rows back);
  :func:`distributed` picks what a given step needs.

Every distributed step also accepts a global :class:`MechanicalState` that is the same on
every rank, and then returns the global state at ``t_new`` on every rank.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pickle
import shlex
import subprocess
import tempfile
import time as _time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from io_adapters.errors import ConfigError, ConvergenceError, InputError
from io_adapters.quadrature_rules import count_points
from io_adapters.simulation import Field, Simulation

from rom.hifi.discretization import _assign_laws, build
from rom.hifi.linear import make_system
from rom.hifi.newton import LocalState, NewtonSettings, advance

log = logging.getLogger(__name__)

VOIGT = ("11", "22", "33", "12", "23", "31")

#: Relative difference (to the field's largest value) above which two ranks' copies of
#: an interface node are said to disagree.
INTERFACE_RTOL = 1e-8


# ===================================================================== states
@dataclass(frozen=True)
class MechanicalState:
    """The full state of the model at one time (global numbering).

    Attributes
    ----------
    time : float
    displacement : (n_nodes, 3)
    strain : (n_points, 6)
        Total strain at the integration points, engineering shear.
    stress : (n_points, 6)
    internal : dict[str, (n_points, ...) array]
        The laws' internal variables (``evrcum``, ``evri``, back-strains…); points
        of laws without a variable hold zeros.
    rule : str
        Integration rule of the point arrays.
    """

    time: float
    displacement: np.ndarray
    strain: np.ndarray
    stress: np.ndarray
    internal: dict
    rule: str = "default"

    def restrict(self, nodes: np.ndarray, point_rows: np.ndarray) -> "PartitionedState":
        """The rows of this state at some nodes and integration points.

        Parameters
        ----------
        nodes : (n,) int array
            Global node indices (any order; duplicates are ignored).
        point_rows : (m,) int array
            Global integration-point rows (any order; duplicates are ignored).

        Returns
        -------
        PartitionedState
            Rows in increasing global order.
        """
        nodes = _indices(nodes, len(self.displacement), "node", self.time)
        point_rows = _indices(point_rows, len(self.strain), "integration-point row", self.time)
        internal = {}
        for name, values in self.internal.items():
            values = np.asarray(values)
            if values.ndim == 0 or len(values) != len(self.strain):
                raise InputError(f"state at t={self.time!r}: internal variable '{name}' has shape {values.shape}, "
                                 f"expected one row per integration point ({len(self.strain)})")
            internal[name] = values[point_rows]
        return PartitionedState(self.time, nodes, np.asarray(self.displacement)[nodes], point_rows,
                                np.asarray(self.strain)[point_rows], np.asarray(self.stress)[point_rows],
                                internal, self.rule)

    def to_simulation(self, mesh) -> Simulation:
        """This state as a one-step Simulation (fields U, eto, sig + internal)."""
        fields = {
            "U": Field("node", ("U1", "U2", "U3"), self.displacement[None]),
            "eto": Field("integration_point", tuple("eto" + c for c in VOIGT), self.strain[None], self.rule),
            "sig": Field("integration_point", tuple("sig" + c for c in VOIGT), self.stress[None], self.rule),
        }
        for name, values in self.internal.items():
            flat = np.asarray(values).reshape(len(values), -1)
            comps = (tuple(name + c for c in VOIGT) if flat.shape[1] == 6
                     else (name,) if flat.shape[1] == 1 else tuple(f"{name}{i + 1}" for i in range(flat.shape[1])))
            fields[name] = Field("integration_point", comps, flat[None], self.rule)
        return Simulation(mesh, [self.time], fields, provenance={"format": "nirom-state"})

    @classmethod
    def from_simulation(cls, simulation: Simulation, step: int = -1) -> "MechanicalState":
        """The state stored at one step of a Simulation with fields U, eto, sig (+ internal)."""
        missing = [n for n in ("U", "eto", "sig") if n not in simulation.fields]
        if missing:
            raise InputError(f"state needs fields U, eto and sig; missing {', '.join(missing)} "
                             f"({simulation.provenance.get('files', '')})")
        step = step % simulation.n_times
        rule = simulation.fields["eto"].rule
        internal = {n: f.read(steps=[step])[0] for n, f in simulation.fields.items()
                    if n not in ("U", "eto", "sig") and f.support == "integration_point"}
        internal = {n: v[:, 0] if v.shape[1] == 1 else v for n, v in internal.items()}
        return cls(float(simulation.times[step]), simulation.fields["U"].read(steps=[step])[0],
                   simulation.fields["eto"].read(steps=[step])[0], simulation.fields["sig"].read(steps=[step])[0],
                   internal, rule)


@dataclass(frozen=True, eq=False)
class PartitionedState:
    """One rank's rows of a :class:`MechanicalState` (validated at construction).

    Attributes
    ----------
    time : float
    nodes : (n,) int array
        Global node indices, increasing and unique.
    displacement : (n, 3)
    point_rows : (m,) int array
        Global integration-point rows, increasing and unique.
    strain : (m, 6)
        Total strain, engineering shear.
    stress : (m, 6)
    internal : dict[str, (m, ...) array]
    rule : str
        Integration rule of the point rows.
    """

    time: float
    nodes: np.ndarray
    displacement: np.ndarray
    point_rows: np.ndarray
    strain: np.ndarray
    stress: np.ndarray
    internal: dict
    rule: str = "default"

    def __post_init__(self):
        where = f"partitioned state at t={self.time!r}"
        if not np.isfinite(self.time):
            raise InputError(f"{where}: the time is not finite")
        nodes = _increasing(self.nodes, f"{where}: nodes")
        rows = _increasing(self.point_rows, f"{where}: point_rows")
        point = "integration-point row"
        checked = {
            "time": float(self.time), "nodes": nodes, "point_rows": rows,
            "displacement": _rows(self.displacement, nodes, (3,), "node", f"{where}: displacement"),
            "strain": _rows(self.strain, rows, (6,), point, f"{where}: strain"),
            "stress": _rows(self.stress, rows, (6,), point, f"{where}: stress"),
            "internal": {str(name): _rows(values, rows, None, point, f"{where}: internal '{name}'")
                         for name, values in dict(self.internal).items()},
        }
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    def gather(self, comm, mesh_n_nodes: int, n_points: int, *, root: int = 0) -> MechanicalState | None:
        """The global state on ``root`` from every rank's rows (collective).

        Parameters
        ----------
        comm : mpi4py communicator or None
            Serial when None (this state must then hold every row).
        mesh_n_nodes, n_points : int
            Sizes of the global state (nodes of the mesh, integration points of the rule).
        root : int

        Returns
        -------
        MechanicalState or None
            On ``root``; None on the other ranks. Internal variables held by some ranks
            only are zero at the other ranks' points.

        Raises
        ------
        InputError
            On every rank, when the ranks' rows do not cover the mesh, fall outside it,
            disagree on an interface node, or the ranks' times or rules differ.
        """
        if comm is None or comm.size == 1:
            return _assemble(self.time, self.rule, self.nodes, self.displacement, np.zeros(len(self.nodes), int),
                             self.point_rows, self.strain, self.stress, self.internal,
                             np.zeros(len(self.point_rows), int), mesh_n_nodes, n_points)
        metas = comm.gather((self.time, self.rule, len(self.nodes), len(self.point_rows),
                             _layout(self.internal)), root=root)
        layout = error = None
        if comm.rank == root:
            try:
                layout = _common_layout(metas)
            except Exception as exc:      # raised on every rank by _settle
                error = exc
        layout = _settle(comm, error, root, layout)
        node_counts, point_counts, internal_layout = layout
        nodes = _gather_rows(comm, self.nodes, node_counts, root)
        displacement = _gather_rows(comm, self.displacement, node_counts, root)
        rows = _gather_rows(comm, self.point_rows, point_counts, root)
        strain = _gather_rows(comm, self.strain, point_counts, root)
        stress = _gather_rows(comm, self.stress, point_counts, root)
        internal = {}
        for name, trailing in internal_layout.items():
            mine = self.internal.get(name)
            if mine is None:              # a variable of laws this rank does not hold: zeros
                mine = np.zeros((len(self.point_rows),) + tuple(trailing))
            internal[name] = _gather_rows(comm, mine, point_counts, root)
        state = error = None
        if comm.rank == root:
            try:
                ranks = np.arange(comm.size)
                state = _assemble(self.time, self.rule, nodes, displacement, np.repeat(ranks, node_counts),
                                  rows, strain, stress, internal, np.repeat(ranks, point_counts),
                                  mesh_n_nodes, n_points)
            except Exception as exc:
                error = exc
        _settle(comm, error, root)
        return state

    @classmethod
    def scatter(cls, state: MechanicalState | None, comm, nodes: np.ndarray, point_rows: np.ndarray, *,
                root: int = 0) -> "PartitionedState":
        """Each rank's rows of a global state held on ``root`` (collective).

        Parameters
        ----------
        state : MechanicalState or None
            Read on ``root`` only (None elsewhere).
        comm : mpi4py communicator or None
            Serial when None (``state.restrict(nodes, point_rows)``).
        nodes, point_rows : int arrays
            The global nodes and integration-point rows this rank wants (any order).

        Raises
        ------
        InputError
            On every rank, when root has no state or a rank asks for rows outside it.
        """
        if comm is None or comm.size == 1:
            if state is None:
                raise InputError("scatter: no state to take rows from")
            return state.restrict(nodes, point_rows)
        nodes = np.unique(np.asarray(nodes, dtype=np.int64).ravel())
        point_rows = np.unique(np.asarray(point_rows, dtype=np.int64).ravel())
        counts = comm.gather((len(nodes), len(point_rows)), root=root)
        node_counts, point_counts = (None, None) if counts is None else map(list, zip(*counts))
        all_nodes = _gather_rows(comm, nodes, node_counts, root)
        all_rows = _gather_rows(comm, point_rows, point_counts, root)
        layout = error = None
        if comm.rank == root:
            try:
                layout = _scatter_layout(state, all_nodes, node_counts, all_rows, point_counts)
            except Exception as exc:
                error = exc
        time, rule, internal_layout = _settle(comm, error, root, layout)
        mine = comm.rank == root

        def rows_of(values, index, counts, shape):
            stacked = np.asarray(values)[index] if mine else None
            return _scatter_rows(comm, stacked, counts, shape, root)

        n, m = len(nodes), len(point_rows)
        displacement = rows_of(state.displacement if mine else None, all_nodes, node_counts, (n, 3))
        strain = rows_of(state.strain if mine else None, all_rows, point_counts, (m, 6))
        stress = rows_of(state.stress if mine else None, all_rows, point_counts, (m, 6))
        internal = {name: rows_of(state.internal[name] if mine else None, all_rows, point_counts,
                                  (m,) + tuple(trailing))
                    for name, trailing in internal_layout.items()}
        return cls(time, nodes, displacement, point_rows, strain, stress, internal, rule)


def _indices(index, size: int, kind: str, time: float) -> np.ndarray:
    """Sorted unique indices in [0, size), or an InputError naming the first outside."""
    index = np.unique(np.asarray(index, dtype=np.int64).ravel())
    if len(index) and (index[0] < 0 or index[-1] >= size):
        bad = index[(index < 0) | (index >= size)]
        raise InputError(f"state at t={time!r} has {size} {kind}s; asked for {len(bad)} outside "
                         f"(first: {bad[:5].tolist()})")
    return index


def _increasing(index, what: str) -> np.ndarray:
    index = np.asarray(index)
    if index.ndim != 1 or (index.size and not np.issubdtype(index.dtype, np.integer)):
        raise InputError(f"{what} must be a 1-D array of integer global indices, found {index.dtype} {index.shape}")
    index = index.astype(np.int64)
    if len(index) and index[0] < 0:
        raise InputError(f"{what}: negative global index {int(index[0])}")
    step = np.diff(index)
    if np.any(step <= 0):
        i = int(np.flatnonzero(step <= 0)[0])
        raise InputError(f"{what} must be increasing and unique: {int(index[i + 1])} follows {int(index[i])} "
                         f"at position {i + 1}")
    return index


def _rows(values, index: np.ndarray, width: tuple | None, kind: str, what: str) -> np.ndarray:
    """``values`` as float64 with one row per index (and ``width`` columns), all finite."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 0 or values.shape[0] != len(index) or (width is not None and values.shape[1:] != width):
        expected = f"({len(index)}, {', '.join(map(str, width))})" if width else f"({len(index)}, ...)"
        raise InputError(f"{what} has shape {values.shape}, expected {expected} (one row per {kind})")
    finite = np.isfinite(values).reshape(len(index), -1).all(axis=1)
    if not finite.all():
        i = int(np.flatnonzero(~finite)[0])
        raise InputError(f"{what} is not finite at global {kind} {int(index[i])} ({(~finite).sum()} rows)")
    return values


def _layout(internal: dict) -> dict[str, tuple[int, ...]]:
    return {name: tuple(np.shape(values)[1:]) for name, values in internal.items()}


def _common_layout(metas: list) -> tuple[list[int], list[int], dict]:
    """(node counts, point counts, internal layout) of the ranks' states, or an InputError."""
    times = {m[0] for m in metas}
    if len(times) > 1:
        raise InputError("ranks hold states at different times: "
                         + ", ".join(f"rank {r}: t={m[0]!r}" for r, m in enumerate(metas)))
    rules = {m[1] for m in metas}
    if len(rules) > 1:
        raise InputError("ranks hold states of different integration rules: "
                         + ", ".join(f"rank {r}: '{m[1]}'" for r, m in enumerate(metas)))
    internal: dict = {}
    for rank, meta in enumerate(metas):
        for name, trailing in meta[4].items():
            if internal.setdefault(name, (trailing, rank))[0] != trailing:
                first, where = internal[name]
                raise InputError(f"internal variable '{name}' has shape (n,)+{trailing} on rank {rank} "
                                 f"but (n,)+{first} on rank {where}")
    return [m[2] for m in metas], [m[3] for m in metas], {n: internal[n][0] for n in sorted(internal)}


def _assemble(time, rule, nodes, displacement, node_owner, rows, strain, stress, internal, point_owner,
              n_nodes: int, n_points: int) -> MechanicalState:
    """The global state from every rank's rows, stacked (checked: in range, covering, interfaces agree).

    ``node_owner`` and ``point_owner`` give the rank of each stacked row (for the messages).
    """
    where = f"state at t={time!r}"
    for index, owner, size, kind in ((nodes, node_owner, n_nodes, "node"),
                                     (rows, point_owner, n_points, "integration-point row")):
        outside = np.flatnonzero(index >= size)
        if len(outside):
            i = outside[0]
            raise InputError(f"{where}: rank {owner[i]} holds {kind} {index[i]}, but the mesh has {size} {kind}s "
                             f"({len(outside)} rows outside)")
        covered = np.zeros(size, dtype=bool)
        covered[index] = True
        if not covered.all():
            missing = np.flatnonzero(~covered)
            raise InputError(f"{where}: no rank holds {len(missing)} of the {size} {kind}s "
                             f"(first: {missing[:5].tolist()}); the ranks' rows must cover the mesh")
    point = "integration-point row"
    node_twice = len(nodes) > n_nodes or len(np.unique(nodes)) < len(nodes)     # interface nodes
    point_twice = len(rows) > n_points or len(np.unique(rows)) < len(rows)
    return MechanicalState(
        time,
        _place(nodes, displacement, n_nodes, node_owner, node_twice, f"{where}: displacement", "node"),
        _place(rows, strain, n_points, point_owner, point_twice, f"{where}: strain", point),
        _place(rows, stress, n_points, point_owner, point_twice, f"{where}: stress", point),
        {name: _place(rows, values, n_points, point_owner, point_twice, f"{where}: internal '{name}'", point)
         for name, values in internal.items()},
        rule)


def _place(index: np.ndarray, values: np.ndarray, size: int, owner: np.ndarray, twice: bool, what: str,
           kind: str) -> np.ndarray:
    """Rows put at their global index; rows held ``twice`` (interface nodes) must agree."""
    out = np.zeros((size,) + values.shape[1:])
    out[index] = values
    if twice:
        gap = np.abs(out[index] - values).reshape(len(index), -1).max(axis=1)
        scale = float(np.abs(values).max()) if values.size else 0.0
        bad = np.flatnonzero(gap > INTERFACE_RTOL * scale)
        if len(bad):
            i = bad[0]
            other = owner[np.flatnonzero((index == index[i]) & (owner != owner[i]))]
            raise InputError(f"{what}: ranks {sorted({int(owner[i]), *other.tolist()})} hold different values "
                             f"at {kind} {index[i]} ({values[i].tolist()} on rank {owner[i]}; "
                             f"{len(bad)} rows differ by more than {INTERFACE_RTOL:g} of the largest value)")
    return out


def _scatter_layout(state, all_nodes, node_counts, all_rows, point_counts):
    """(time, rule, internal layout) of root's state, after checking every rank's request against it."""
    if not isinstance(state, MechanicalState):
        raise InputError(f"scatter: the root rank has no global state to take rows from (found {type(state).__name__})")
    n_nodes, n_points = len(state.displacement), len(state.strain)
    sizes = {"displacement": (np.shape(state.displacement), (n_nodes, 3)),
             "strain": (np.shape(state.strain), (n_points, 6)), "stress": (np.shape(state.stress), (n_points, 6))}
    sizes.update({f"internal '{n}'": (np.shape(v)[:1], (n_points,)) for n, v in state.internal.items()})
    wrong = [f"{name} has shape {found}" for name, (found, expected) in sizes.items()
             if tuple(found) != expected[:len(found)] or len(found) != len(expected)]
    if wrong:
        raise InputError(f"scatter: the state at t={state.time!r} is not one of {n_nodes} nodes and {n_points} "
                         f"integration points: " + "; ".join(wrong))
    for index, counts, size, kind in ((all_nodes, node_counts, len(state.displacement), "node"),
                                      (all_rows, point_counts, len(state.strain), "integration-point row")):
        outside = np.flatnonzero((index < 0) | (index >= size))
        if len(outside):
            rank = int(np.searchsorted(np.cumsum(counts), outside[0], side="right"))
            raise InputError(f"scatter: rank {rank} asks for {kind} {index[outside[0]]} of a state at "
                             f"t={state.time!r} with {size} {kind}s")
    return float(state.time), state.rule, {n: tuple(np.shape(v)[1:]) for n, v in sorted(state.internal.items())}


# ============================================================= communication
def _gather_rows(comm, rows: np.ndarray, counts: list[int] | None, root: int) -> np.ndarray | None:
    """Every rank's rows stacked in rank order on ``root`` (None elsewhere); numpy buffers."""
    rows = np.ascontiguousarray(rows)
    width = int(np.prod(rows.shape[1:], dtype=np.int64))
    if comm.rank != root:
        comm.Gatherv(rows, None, root=root)
        return None
    out = np.empty((int(sum(counts)),) + rows.shape[1:], dtype=rows.dtype)
    comm.Gatherv(rows, (out, [c * width for c in counts]), root=root)
    return out


def _scatter_rows(comm, stacked: np.ndarray | None, counts: list[int] | None, shape: tuple, root: int) -> np.ndarray:
    """This rank's block of ``stacked`` (rows of every rank in rank order, on root)."""
    out = np.empty(shape, dtype=np.float64)
    width = int(np.prod(shape[1:], dtype=np.int64))
    if comm.rank == root:
        send = np.ascontiguousarray(stacked, dtype=np.float64)
        comm.Scatterv((send, [c * width for c in counts]), out, root=root)
    else:
        comm.Scatterv(None, out, root=root)
    return out


def _bcast_state(state: MechanicalState | None, comm, root: int) -> MechanicalState:
    """Root's global state on every rank (numpy buffers for the arrays)."""
    if comm is None or comm.size == 1:
        return state
    mine = comm.rank == root
    arrays = {"displacement": state.displacement, "strain": state.strain, "stress": state.stress,
              **{"internal:" + n: v for n, v in state.internal.items()}} if mine else None
    meta = comm.bcast((state.time, state.rule, {k: np.shape(v) for k, v in arrays.items()}) if mine else None,
                      root=root)
    time, rule, shapes = meta
    out = {}
    for key, shape in shapes.items():
        buffer = np.ascontiguousarray(arrays[key], dtype=np.float64) if mine else np.empty(shape)
        comm.Bcast(buffer, root=root)
        out[key] = buffer
    internal = {k.split(":", 1)[1]: v for k, v in out.items() if k.startswith("internal:")}
    return MechanicalState(time, out["displacement"], out["strain"], out["stress"], internal, rule)


def _portable(error: BaseException) -> BaseException:
    """The error itself when it can be sent to the other ranks, else a ConvergenceError naming it."""
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:
        return ConvergenceError(f"{type(error).__name__}: {error}")


def _settle(comm, error: BaseException | None, root: int, payload=None):
    """Root's outcome on every rank: its error raised everywhere (same type and message),
    or its ``payload`` returned everywhere."""
    if comm is None or comm.size == 1:
        if error is not None:
            raise error
        return payload
    sent = None
    if comm.rank == root:
        sent = (None if error is None else _portable(error), payload)
    shared, payload = comm.bcast(sent, root=root)
    if shared is not None:
        if comm.rank == root:
            if sent[0] is error:
                raise error
            raise sent[0] from error
        raise shared
    return payload


def _agree(comm, problem: str | None, times: tuple[float, float], what: str) -> None:
    """Raise the same InputError on every rank when some rank found a problem with its
    state, or the ranks step different times (one collective)."""
    reports = [(problem, times)] if comm is None or comm.size == 1 else comm.allgather((problem, times))
    found = [(r, p) for r, (p, _) in enumerate(reports) if p is not None]
    where = f"{what} from t={times[0]!r} to t={times[1]!r}"
    if len(reports) == 1 and found:
        raise InputError(f"{where}: {found[0][1]}")
    if found:
        raise InputError(f"{where}: " + "; ".join(f"rank {r}: {p}" for r, p in found))
    if len({t for _, t in reports}) > 1:
        raise InputError(f"{what}: the ranks step different times: "
                         + ", ".join(f"rank {r}: {a!r} -> {b!r}" for r, (_, (a, b)) in enumerate(reports)))


def _wait_for(comm, root: int, poll: float = 0.01) -> None:
    """Wait until ``root`` arrives here, sleeping rather than spinning (the other ranks
    would otherwise take the cores an external solver runs on)."""
    if comm is None or comm.size == 1:
        return
    request = comm.Ibarrier()
    if comm.rank == root:
        request.Wait()
        return
    while not request.Test():
        _time.sleep(poll)


# ================================================================== protocols
@runtime_checkable
class HighFidelityStep(Protocol):
    """Advance a full state by one time step (serial; what a user-written step implements).

    Make it a :class:`DistributedStep` with :func:`on_rank_zero`.
    """

    def __call__(self, state: MechanicalState, t_new: float) -> MechanicalState:
        """The converged state at ``t_new``, starting from ``state``."""


@runtime_checkable
class DistributedStep(Protocol):
    """Advance a state held in rows by the ranks of a communicator by one time step.

    Collective: every rank calls it with its :class:`PartitionedState` and the same
    ``t_new``; the step is taken once for all ranks; each rank gets its rows of the
    state at ``t_new`` (:func:`on_rank_zero` and :class:`ExternalCommandStep`: the rows
    it gave; :class:`InHouseStep`: its cells' nodes and points). An error raises on
    every rank, with the same type and message.
    """

    def __call__(self, state: PartitionedState, t_new: float) -> PartitionedState:
        """This rank's rows of the converged state at ``t_new``, starting from ``state``."""


# ================================================================= in-house
class InHouseStep:
    """One step of nirom's own solver, distributed over the ranks' cells.

    The problem is discretised once, on this rank's cells; each call is one Newton
    solve over all ranks (:func:`rom.hifi.newton.advance`, halving the step if it
    fails). No rank solves the whole problem. Thermal strains are measured from the
    temperature at the problem's first time, wherever the step starts.

    Parameters
    ----------
    problem : io_adapters.Problem
        Loads, laws and boundary conditions (its time list is not used, except its
        first time: the initial temperature).
    comm : mpi4py communicator, optional
        Serial when omitted (scipy or PETSc); PETSc over the ranks otherwise.
    cell_parts : (n_cells,) int array, optional
        Rank of every cell, the same on every rank (a METIS partition by default).
    rule : str
        Integration rule of the states exchanged.
    linear_solver : str
    settings : NewtonSettings

    Attributes
    ----------
    disc : Discretization
        This rank's cells and operators.
    settings : NewtonSettings
    comm : communicator or None
    nodes, point_rows : int arrays
        The global nodes and integration-point rows of this rank's results
        (increasing): its cells' nodes and points, plus on rank 0 the nodes of no cell.

    Calls
    -----
    ``step(PartitionedState, t_new) -> PartitionedState`` (collective): the state must
    hold at least this rank's cells' nodes (``disc.local.point_ids``) and points
    (``disc.point_rows``), matched by global index; the result holds :attr:`nodes` and
    :attr:`point_rows`.

    ``step(MechanicalState, t_new) -> MechanicalState``: a global state (the same on
    every rank); each rank takes its rows, and the global result is returned on every
    rank (gathered to rank 0, then broadcast). Serial steps take this form.
    """

    def __init__(self, problem, *, comm=None, cell_parts: np.ndarray | None = None, rule: str = "default",
                 linear_solver: str = "auto", settings: NewtonSettings | None = None):
        self.problem = problem
        self.rule = rule
        self.comm = comm
        self.disc = build(problem, rule=rule, comm=comm, cell_parts=cell_parts)
        self.system = make_system(self.disc, comm, linear_solver)
        self.settings = settings or NewtonSettings()
        mesh = problem.mesh
        self.n_nodes, self.n_points = mesh.n_nodes, count_points(mesh.cells, rule)
        # the laws' variables over the whole problem: every rank returns the same names
        self.templates = {}
        for _, law, _ in _assign_laws(problem):
            for name, values in law.initial_state(1).items():
                self.templates.setdefault(name, tuple(np.shape(values)[1:]))
        disc_nodes = np.asarray(self.disc.local.point_ids, dtype=np.int64)
        extra = np.zeros(0, dtype=np.int64)
        if comm is None or comm.rank == 0:           # nodes of no cell (zero displacement, as in solve)
            extra = _nodes_of_no_cell(mesh)
        self.nodes = np.union1d(disc_nodes, extra)
        self.point_rows = np.sort(np.asarray(self.disc.point_rows, dtype=np.int64))
        self._node_slot = np.searchsorted(self.nodes, disc_nodes)              # disc node -> result row
        self._point_slot = np.searchsorted(self.point_rows, self.disc.point_rows)

    # ---------------------------------------------------------------- calls
    def __call__(self, state, t_new: float):
        if isinstance(state, MechanicalState):
            return self._global(state, float(t_new))
        if not isinstance(state, PartitionedState):
            raise InputError(f"InHouseStep takes a PartitionedState or a MechanicalState, "
                             f"found {type(state).__name__}")
        return self._step(state, float(t_new))

    def _global(self, state: MechanicalState, t_new: float) -> MechanicalState:
        shapes = np.shape(state.displacement), np.shape(state.strain)
        if shapes != ((self.n_nodes, 3), (self.n_points, 6)):
            raise InputError(f"state at t={state.time!r} has {shapes[0][0]} nodes and {shapes[1][0]} integration "
                             f"points, the model {self.n_nodes} and {self.n_points} (rule '{self.rule}')")
        new = self._step(state.restrict(self.disc.local.point_ids, self.disc.point_rows), t_new)
        full = new.gather(self.comm, self.n_nodes, self.n_points)
        return _bcast_state(full, self.comm, 0)

    def _step(self, state: PartitionedState, t_new: float) -> PartitionedState:
        try:
            local, problem = self._local(state, t_new)
        except Exception as exc:              # told to every rank below, not raised here alone
            local, problem = None, f"{type(exc).__name__}: {exc}"
        _agree(self.comm, problem, (state.time, t_new), "in-house step")
        try:
            new = advance(self.disc, self.system, local, t_new, self.settings, self.comm)
        except ConvergenceError as exc:       # every rank raises (the cuts are decided together) ...
            raise ConvergenceError(_first_cause(self.comm, str(exc))) from None   # ... the same message
        return self._partitioned(new)

    def _local(self, state: PartitionedState, t_new: float) -> tuple[LocalState | None, str | None]:
        """This rank's Newton state from its rows of ``state`` (or what is wrong with them)."""
        disc = self.disc
        if state.rule != self.rule:
            return None, f"state integration rule '{state.rule}' differs from the solver's '{self.rule}'"
        if not (np.isfinite(t_new) and t_new > state.time):
            return None, f"the new time {t_new!r} is not after the state's time {state.time!r}"
        node_at, missing_nodes = _positions(state.nodes, disc.local.point_ids)
        point_at, missing_points = _positions(state.point_rows, disc.point_rows)
        if len(missing_nodes) or len(missing_points):
            return None, (f"state lacks {len(missing_nodes)} of the {len(node_at)} nodes and {len(missing_points)} "
                          f"of the {len(point_at)} integration points of this rank's cells (first nodes: "
                          f"{missing_nodes[:5].tolist()}, first points: {missing_points[:5].tolist()})")
        internal = []
        for region in disc.regions:
            rows = point_at[region.points]
            values = {}
            for name, initial in region.law.initial_state(len(region.points)).items():
                if name not in state.internal:
                    return None, (f"state lacks internal variable '{name}' of material '{region.name}' "
                                  f"(it has {sorted(state.internal)})")
                values[name] = state.internal[name][rows].reshape(np.shape(initial))
            internal.append(values)
        return LocalState(state.time, state.displacement[node_at].reshape(-1), state.strain[point_at],
                          state.stress[point_at], internal, disc.point_temperature(state.time)), None

    def _partitioned(self, local: LocalState) -> PartitionedState:
        """A Newton state as this rank's rows in increasing global order."""
        displacement = np.zeros((len(self.nodes), 3))
        displacement[self._node_slot] = local.u.reshape(-1, 3)
        strain, stress = np.empty((len(self.point_rows), 6)), np.empty((len(self.point_rows), 6))
        strain[self._point_slot], stress[self._point_slot] = local.strain, local.stress
        internal = {name: np.zeros((len(self.point_rows),) + trailing) for name, trailing in self.templates.items()}
        for region, values in zip(self.disc.regions, local.internal):
            for name, v in values.items():
                internal[name][self._point_slot[region.points]] = np.asarray(v).reshape(
                    (len(region.points),) + internal[name].shape[1:])
        return PartitionedState(local.time, self.nodes, displacement, self.point_rows, strain, stress, internal,
                                self.rule)


def _first_cause(comm, message: str) -> str:
    """The message of the lowest rank that failed itself (not because "another rank failed")."""
    if comm is None or comm.size == 1:
        return message
    messages = comm.allgather(message)
    return next((m for m in messages if "another rank failed" not in m), messages[0])


def _nodes_of_no_cell(mesh) -> np.ndarray:
    """Nodes of the mesh that no cell uses, increasing."""
    in_cells = np.zeros(mesh.n_nodes, dtype=bool)
    for conn in mesh.cells.values():
        in_cells[conn.ravel()] = True
    return np.flatnonzero(~in_cells)


def _with_nodes(state: PartitionedState, nodes: np.ndarray) -> PartitionedState:
    """``state`` also holding ``nodes`` (zero displacement where it had none)."""
    extra = np.setdiff1d(nodes, state.nodes)
    if not len(extra):
        return state
    all_nodes = np.union1d(state.nodes, extra)
    displacement = np.zeros((len(all_nodes), 3))
    displacement[np.searchsorted(all_nodes, state.nodes)] = state.displacement
    return dataclasses.replace(state, nodes=all_nodes, displacement=displacement)


def _positions(have: np.ndarray, want: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of ``want`` in the increasing ``have``, and the entries of ``want`` not there."""
    want = np.asarray(want, dtype=np.int64)
    if len(have) == 0:
        return np.zeros(len(want), dtype=np.int64), want
    at = np.minimum(np.searchsorted(have, want), len(have) - 1)
    return at, want[have[at] != want]


# ======================================================== run once on rank 0
class RankZeroStep:
    """A :class:`HighFidelityStep` run once, on one rank, for all ranks (see :func:`on_rank_zero`)."""

    def __init__(self, step, mesh, comm=None, *, root: int = 0, name: str | None = None):
        self.step = step
        self.mesh = mesh
        self.comm = comm
        self.root = root
        self.name = name or getattr(step, "__name__", type(step).__name__)
        self._no_cell = _nodes_of_no_cell(mesh)

    def __call__(self, state, t_new: float):
        comm, root, t_new = self.comm, self.root, float(t_new)
        serial = comm is None or comm.size == 1
        if isinstance(state, MechanicalState):
            if serial:
                return self._run(state, t_new)
            result, error = None, None
            if comm.rank == root:
                try:
                    result = self._run(state, t_new)
                except Exception as exc:
                    error = exc
            _wait_for(comm, root)
            _settle(comm, error, root)
            return _bcast_state(result, comm, root)
        if not isinstance(state, PartitionedState):
            raise InputError(f"{self.name}: takes a PartitionedState or a MechanicalState, "
                             f"found {type(state).__name__}")
        given = state
        if serial or comm.rank == root:      # the mesh's nodes of no cell: no rank need hold them
            state = _with_nodes(state, self._no_cell)
        full = state.gather(comm, self.mesh.n_nodes, count_points(self.mesh.cells, state.rule), root=root)
        result, error = None, None
        if serial or comm.rank == root:
            try:
                result = self._run(full, t_new)
            except Exception as exc:
                if serial:
                    raise
                error = exc
        if not serial:
            _wait_for(comm, root)
            _settle(comm, error, root)
        return PartitionedState.scatter(result, comm, given.nodes, given.point_rows, root=root)

    def _run(self, state: MechanicalState, t_new: float) -> MechanicalState:
        result = self.step(state, t_new)
        return _checked_result(result, t_new, self.mesh, state.rule, self.name)


def on_rank_zero(step, mesh, comm=None, *, root: int = 0) -> RankZeroStep:
    """A serial :class:`HighFidelityStep` made a :class:`DistributedStep`.

    Each call (collective) gathers the ranks' rows to ``root``, runs ``step`` there
    once on the global state, checks its result (a MechanicalState at ``t_new`` on
    the mesh), and gives each rank its rows of it back. An error of ``step`` (or of its
    result) raises on every rank, with the same type and message. The other ranks sleep
    while ``step`` runs.

    Parameters
    ----------
    step : HighFidelityStep
        ``step(MechanicalState, t_new) -> MechanicalState``.
    mesh : Mesh
        The mesh of the states (its sizes check the gathered state and the result).
    comm : mpi4py communicator, optional
        Serial when omitted (the step then also accepts a PartitionedState of every row).
    root : int
        The rank that runs ``step``.
    """
    return RankZeroStep(step, mesh, comm, root=root)


def distributed(step, comm, mesh):
    """``step`` as a :class:`DistributedStep` over ``comm`` (what the adaptive ROM calls).

    - nirom's steps built for ``comm`` (and any step whose ``comm`` attribute is
      ``comm``: a user's own distributed step) are returned as they are;
    - an :class:`ExternalCommandStep` or a :func:`on_rank_zero` step built for another
      communicator (e.g. serially, from a case file) is rebuilt for ``comm``;
    - any other callable is a serial :class:`HighFidelityStep`: :func:`on_rank_zero`.

    Raises
    ------
    ConfigError
        For an :class:`InHouseStep` built for another communicator (its cells are those
        of that communicator's ranks: build it with ``comm=``).
    """
    if getattr(step, "comm", None) is comm:
        return step
    if isinstance(step, InHouseStep):
        sizes = [1 if c is None else c.size for c in (step.comm, comm)]
        raise ConfigError(f"InHouseStep was built for {sizes[0]} rank(s) and is used on {sizes[1]}: "
                          f"build it with comm= the communicator of the online solve")
    if isinstance(step, ExternalCommandStep):
        return ExternalCommandStep(step.command, step.mesh, comm=comm, workdir=step.workdir, timeout=step.timeout)
    if isinstance(step, RankZeroStep):
        return RankZeroStep(step.step, step.mesh, comm, root=step.root, name=step.name)
    if not callable(step):
        raise InputError(f"a high-fidelity step must be callable, found {type(step).__name__}")
    return on_rank_zero(step, mesh, comm)


def _checked_result(result, t_new: float, mesh, rule: str, source: str) -> MechanicalState:
    """``result`` when it is a state at ``t_new`` on ``mesh`` with the integration rule ``rule``."""
    if not isinstance(result, MechanicalState):
        raise InputError(f"{source}: returned {type(result).__name__}, not a MechanicalState")
    if abs(result.time - t_new) > 1e-9 * max(1.0, abs(t_new)):
        raise InputError(f"{source}: result is at t={result.time}, expected t={t_new}")
    if result.rule is not None and result.rule != rule:
        raise InputError(f"{source}: result has integration rule '{result.rule}', the state '{rule}'")
    n_points = count_points(mesh.cells, rule)
    shapes = {"displacement": (np.shape(result.displacement), (mesh.n_nodes, 3)),
              "strain": (np.shape(result.strain), (n_points, 6)), "stress": (np.shape(result.stress), (n_points, 6))}
    for name, values in result.internal.items():
        shapes[f"internal '{name}'"] = (np.shape(values)[:1], (n_points,))
    wrong = [f"{name} has shape {found}, expected {expected}" for name, (found, expected) in shapes.items()
             if tuple(found) != expected]
    if wrong:
        raise InputError(f"{source}: result does not fit the mesh ({mesh.n_nodes} nodes, {n_points} points of "
                         f"rule '{rule}'): " + "; ".join(wrong))
    return result


# ================================================================= external
class ExternalCommandStep:
    """One step of an external solver, run as a command.

    The state at ``t_old`` is written to ``<workdir>/state.h5`` (a nirom store with
    one step: ``U``, ``eto``, ``sig`` and the internal variables at the integration
    points), then ``command`` runs with these placeholders replaced:
    ``{state}``, ``{result}`` (where the command must write its nirom store — or any
    format ``io_adapters.read`` knows — with the same fields at ``t_new``),
    ``{t_old}``, ``{t_new}``, ``{workdir}``.

    Under MPI (``comm`` with several ranks) the external solver needs the whole state
    file: each call (collective) gathers the ranks' rows of the state to rank 0, the
    command runs once there (the other ranks sleep), its result is read on rank 0 and
    each rank gets its rows back. A failure on rank 0 (the command failed or timed out,
    wrote no result, or a result at the wrong time or size) raises the same error on
    every rank. The command runs outside the MPI job: the launcher's variables
    (``PMI_*``, ``PMIX_*``, ``HYDI_*``, Open MPI's job variables) are removed from its
    environment, so that it may use MPI itself (``mpiexec -n 8 solver …``).

    Parameters
    ----------
    command : str or list of str
    mesh : Mesh
        The mesh the states live on.
    comm : mpi4py communicator, optional
        Serial when omitted: ``step(MechanicalState, t_new) -> MechanicalState``.
        Otherwise ``step(PartitionedState, t_new) -> PartitionedState`` (or a global
        MechanicalState, the same on every rank, in and out).
    workdir : path, optional
        A fresh temporary folder per call when omitted (on rank 0).
    timeout : float
        Seconds before the command is killed (ConvergenceError).
    """

    def __init__(self, command: str | Sequence[str], mesh, *, comm=None, workdir: str | Path | None = None,
                 timeout: float = 3600.0):
        self.command = shlex.split(command) if isinstance(command, str) else list(command)
        self.mesh = mesh
        self.comm = comm
        self.workdir = Path(workdir) if workdir else None
        self.timeout = timeout
        self._once = RankZeroStep(self._run, mesh, comm, name="external step command")

    def __call__(self, state, t_new: float):
        if isinstance(state, MechanicalState) and (self.comm is None or self.comm.size == 1):
            return self._run(state, float(t_new))
        return self._once(state, t_new)

    def _run(self, state: MechanicalState, t_new: float) -> MechanicalState:
        """Write the state, run the command, read its result (on one rank)."""
        from io_adapters import read, save

        workdir = self.workdir or Path(tempfile.mkdtemp(prefix="nirom-hfstep-"))
        workdir.mkdir(parents=True, exist_ok=True)
        state_path, result_path = workdir / "state.h5", workdir / "result.h5"
        if result_path.exists():
            result_path.unlink()   # a result left by an earlier call is not this call's
        save(state.to_simulation(self.mesh), state_path, xdmf=False)
        values = {"state": str(state_path), "result": str(result_path), "t_old": repr(state.time),
                  "t_new": repr(float(t_new)), "workdir": str(workdir)}
        argv = [a.format(**values) for a in self.command]
        log.info("high-fidelity step %g -> %g: %s", state.time, t_new, " ".join(argv))
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout,
                                  env=_outside_the_mpi_job(os.environ))
        except subprocess.TimeoutExpired:
            raise ConvergenceError(f"external step command timed out after {self.timeout} s: {' '.join(argv)}") from None
        except OSError as exc:
            raise ConvergenceError(f"external step command could not start ({exc}): {' '.join(argv)}") from None
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
            raise ConvergenceError(f"external step command failed (exit {done.returncode}): {' '.join(argv)}\n"
                                   + "\n".join(tail))
        if not result_path.exists():
            raise InputError(f"external step command wrote no result at {result_path}: {' '.join(argv)}")
        result = MechanicalState.from_simulation(read(str(result_path)))
        return _checked_result(result, float(t_new), self.mesh, state.rule, str(result_path))


#: Variables by which an MPI launcher tells its processes about the job (MPICH/Hydra,
#: PMI, PMIx, Open MPI). A command started by a rank that inherits them believes it is
#: part of the job and fails to start MPI (``PMI_Init failed``).
_MPI_JOB_VARIABLES = ("PMI_", "PMIX_", "HYDI_", "HYDRA_", "MPI_LOCALNRANKS", "MPI_LOCALRANKID", "OMPI_COMM_WORLD_",
                      "OMPI_UNIVERSE_SIZE", "OMPI_FILE_LOCATION", "OMPI_MCA_ess", "OMPI_MCA_orte", "OMPI_MCA_pmix",
                      "PRTE_")


def _outside_the_mpi_job(environ) -> dict[str, str]:
    """The environment without the launcher's job variables: the command may start MPI itself
    (as a singleton, or with its own ``mpiexec``)."""
    return {k: v for k, v in environ.items() if not k.startswith(_MPI_JOB_VARIABLES)}


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m rom.hifi.step PROBLEM STATE.h5 RESULT.h5 T_NEW``: one in-house step.

    The command an :class:`ExternalCommandStep` can call to use nirom's solver as
    if it were an external one (and a template for wrapping another solver).
    """
    import argparse

    from io_adapters import read, save
    from io_adapters.problem import read_problem

    parser = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    parser.add_argument("problem")
    parser.add_argument("state")
    parser.add_argument("result")
    parser.add_argument("t_new", type=float)
    parser.add_argument("--rule", default=None)
    args = parser.parse_args(argv)
    state = MechanicalState.from_simulation(read(args.state))
    step = InHouseStep(read_problem(args.problem), rule=args.rule or state.rule)
    save(step(state, args.t_new).to_simulation(step.problem.mesh), args.result, xdmf=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
