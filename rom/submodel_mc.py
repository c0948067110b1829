"""Submodel Monte Carlo: boundary traces → submodel problems → dynamic solves → quantity of interest.

The pieces between :mod:`rom.bc_generator` (traces on the submodel boundary) and the
statistics (:mod:`rom.mc_statistics`); the driver is :mod:`mpi_drivers.submodel`
(``nirom submodel offline|mc submodel.toml``).

>>> data = read_traces("traces.h5")                          # FE traces + the global model's QoI
>>> template = read_problem("submodel.toml")                  # the zone, its boundary node set, material
>>> layout = boundary_layout(template, "submodel_boundary")   # what a generator must produce
>>> model = train_submodel_rom(template, "submodel_boundary", data.traces[data.training][:20], "runs/")
>>> solve = ReducedSubmodel(model, template, "submodel_boundary")
>>> qoi = solve(generator.sample(1, seed=3)[0])               # peak von Mises stress in the zone

Traces file (``traces.h5``, HDF5 layout ``nirom-submodel-traces``, version 1)::

    /             attrs: format, format_version, complete=1 (set last), parameter_names (JSON),
                         anything else the writer records (JSON-able scalars and strings)
    /traces       (n_samples, n_times, n_nodes, 3) float64: displacements of the boundary nodes
    /node_ids     (n_nodes,) int64: their ids in the global mesh (the generator layout's)
    /points       (n_nodes, 3) float64: their coordinates
    /times        (n_times,) float64, strictly increasing
    /qoi          (n_samples,) float64: the global model's quantity of interest
    /parameters   (n_samples, k) float64: what each sample drew (location, amplitude, …)
    /held_out     (n_samples,) uint8: 1 for a held-out sample (never used for training)
    /seconds      (n_samples,) float64: the global model's solve time of each sample

Quantity of interest: the peak von Mises stress over the submodel's integration points
and times, ``max_{t, p} σ_vM`` with ``σ_vM = sqrt(3/2 s:s)`` from the Voigt stress
``[11, 22, 33, 12, 23, 31]`` (field ``sig``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from io_adapters.errors import InputError, MeshMismatchError

from rom.bc_generator.layout import TraceLayout, check_samples

log = logging.getLogger(__name__)

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "HighFidelitySubmodel", "ReducedSubmodel", "TraceSet",
           "boundary_layout", "peak_von_mises", "qoi_points", "read_traces", "sample_problem", "train_submodel_rom",
           "von_mises", "write_traces"]

FORMAT_NAME = "nirom-submodel-traces"
FORMAT_VERSION = 1
_ARRAYS = ("traces", "node_ids", "points", "times", "qoi", "parameters", "held_out", "seconds")


# ==================================================================== traces file
@dataclass(frozen=True, eq=False)
class TraceSet:
    """Boundary traces of global FE samples with their QoI (see the module docstring for the axes)."""

    traces: np.ndarray            # (n, n_times, n_nodes, 3)
    node_ids: np.ndarray          # (n_nodes,)
    times: np.ndarray             # (n_times,)
    points: np.ndarray            # (n_nodes, 3)
    qoi: np.ndarray               # (n,)
    parameters: np.ndarray        # (n, k)
    parameter_names: tuple = ()
    held_out: np.ndarray | None = None    # (n,) bool
    seconds: np.ndarray | None = None     # (n,)
    attributes: dict = field(default_factory=dict)
    source: str = "<traces>"

    def __post_init__(self):
        where = self.source
        traces = check_samples(self.traces, where=f"{where}: traces", min_samples=1)
        n, n_t, n_b, _ = traces.shape
        layout = TraceLayout(np.asarray(self.node_ids), np.asarray(self.times, dtype=np.float64))  # checks
        expected = {"node_ids": (n_b,), "times": (n_t,), "points": (n_b, 3), "qoi": (n,)}
        for name, shape in expected.items():
            value = np.asarray(getattr(self, name))
            if value.shape != shape:
                raise InputError(f"{where}: '{name}' has shape {value.shape}, expected {shape} (traces {traces.shape})")
        parameters = np.asarray(self.parameters, dtype=np.float64).reshape(n, -1)
        held = np.zeros(n, bool) if self.held_out is None else np.asarray(self.held_out).astype(bool)
        seconds = np.full(n, np.nan) if self.seconds is None else np.asarray(self.seconds, dtype=np.float64)
        if held.shape != (n,) or seconds.shape != (n,):
            raise InputError(f"{where}: 'held_out' and 'seconds' must have shape ({n},), found {held.shape} and "
                             f"{seconds.shape}")
        qoi = np.asarray(self.qoi, dtype=np.float64)
        if not np.all(np.isfinite(qoi)):
            raise InputError(f"{where}: non-finite QoI at sample {int(np.flatnonzero(~np.isfinite(qoi))[0])}")
        for name, value in (("traces", traces), ("node_ids", layout.node_ids), ("times", layout.times),
                            ("points", np.asarray(self.points, dtype=np.float64)), ("qoi", qoi),
                            ("parameters", parameters), ("held_out", held), ("seconds", seconds)):
            object.__setattr__(self, name, value)
        object.__setattr__(self, "parameter_names", tuple(self.parameter_names))

    @property
    def layout(self) -> TraceLayout:
        """The axes of the traces (what a generator fitted on them carries)."""
        return TraceLayout(self.node_ids, self.times)

    @property
    def training(self) -> np.ndarray:
        """Indices of the training samples, (n_train,)."""
        return np.flatnonzero(~self.held_out)

    @property
    def held_out_indices(self) -> np.ndarray:
        """Indices of the held-out samples, (n_held,)."""
        return np.flatnonzero(self.held_out)


def write_traces(path: str | os.PathLike, data: TraceSet) -> Path:
    """Write a :class:`TraceSet` atomically (``complete`` set last)."""
    import h5py

    from io_adapters.atomic import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as h5:
        h5.attrs["format"] = FORMAT_NAME
        h5.attrs["format_version"] = FORMAT_VERSION
        h5.attrs["parameter_names"] = json.dumps(list(data.parameter_names))
        for key, value in data.attributes.items():
            h5.attrs[key] = value
        for name in _ARRAYS:
            value = getattr(data, name)
            h5.create_dataset(name, data=value.astype(np.uint8) if name == "held_out" else value)
        h5.attrs["complete"] = 1
    return path


def read_traces(path: str | os.PathLike) -> TraceSet:
    """Read a traces file (every array checked; :class:`InputError` naming the file and the dataset)."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such traces file")
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise InputError(f"{path}: cannot be read as HDF5 ({exc})") from None
    with h5:
        if h5.attrs.get("format") != FORMAT_NAME:
            raise InputError(f"{path}: not a traces file (format {h5.attrs.get('format')!r}, expected "
                             f"'{FORMAT_NAME}')")
        if int(h5.attrs.get("format_version", 0)) > FORMAT_VERSION:
            raise InputError(f"{path}: traces format version {h5.attrs['format_version']} is newer than this "
                             f"nirom's ({FORMAT_VERSION})")
        if int(h5.attrs.get("complete", 0)) != 1:
            raise InputError(f"{path}: incomplete traces file (its writer did not finish)")
        missing = [n for n in _ARRAYS if n not in h5]
        if missing:
            raise InputError(f"{path}: missing dataset(s) {', '.join(missing)}")
        arrays = {n: h5[n][()] for n in _ARRAYS}
        attributes = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in h5.attrs.items()
                      if k not in ("format", "format_version", "complete", "parameter_names")}
        names = tuple(json.loads(h5.attrs.get("parameter_names", "[]")))
    return TraceSet(**arrays, parameter_names=names, attributes=attributes, source=str(path))


# ==================================================================== problems
def boundary_layout(problem, node_set: str) -> TraceLayout:
    """The trace layout a submodel problem's boundary needs: global ids of the set's nodes, the problem's times.

    The ids are ``problem.mesh.point_ids`` (the global mesh's indices, kept by
    :func:`io_adapters.submodel.extract` and the problem files), else the submodel's own.
    """
    mesh = problem.mesh
    if node_set not in mesh.node_sets:
        raise InputError(f"{problem.source}: no node set '{node_set}' in the submodel mesh (node sets: "
                         f"{', '.join(sorted(mesh.node_sets)) or 'none'})")
    ids = np.arange(mesh.n_nodes) if mesh.point_ids is None else np.asarray(mesh.point_ids)
    return TraceLayout(ids[np.asarray(mesh.node_sets[node_set])].astype(np.int64), np.asarray(problem.times))


def sample_problem(template, node_set: str, trace, *, where: str = "trace"):
    """The template with its imposed field on ``node_set`` replaced by a trace.

    Parameters
    ----------
    template : io_adapters.Problem
        The submodel problem (mesh, materials with density, times, other conditions).
    node_set : str
        The driven boundary.
    trace : (n_times, n_nodes, 3) array
        Displacements at ``template.times`` of the set's nodes (the set's order).
    where : str
        Names the trace in messages (the generator file and the sample index).

    Returns
    -------
    io_adapters.Problem
    """
    from io_adapters.problem import ImposedField

    layout = boundary_layout(template, node_set)
    trace = check_samples(np.asarray(trace)[None], layout=layout, where=where)[0]
    imposed = ImposedField.from_history(node_set, layout.times, trace, source=where)
    kept = tuple(f for f in template.imposed_fields if f.node_set != node_set)
    return dataclasses.replace(template, imposed_fields=kept + (imposed,), source=f"{template.source} [{where}]")


def check_times(problem) -> None:
    """Refuse times the dynamic schemes cannot step (not finite, not strictly increasing, fewer than 2)."""
    times = np.asarray(problem.times, dtype=np.float64)
    if times.ndim != 1 or len(times) < 2:
        raise InputError(f"{problem.source}: a dynamic solve needs at least 2 times, found {times.size}")
    if not np.all(np.isfinite(times)):
        raise InputError(f"{problem.source}: non-finite time at position {int(np.flatnonzero(~np.isfinite(times))[0])}")
    steps = np.diff(times)
    if np.any(steps <= 0):
        k = int(np.flatnonzero(steps <= 0)[0])
        raise InputError(f"{problem.source}: time step {k + 1} (t = {times[k]:g} → {times[k + 1]:g}) is not > 0: "
                         "the dynamic scheme cannot take it")
    span = times[-1] - times[0]
    if np.any(steps < 1e-12 * span):
        k = int(np.argmin(steps))
        raise InputError(f"{problem.source}: time step {k + 1} ({steps[k]:.3g}) is below 1e-12 of the time span: "
                         "the dynamic scheme's 1/(β Δt²) overflows the round-off")


# ==================================================================== QoI
def von_mises(stress: np.ndarray) -> np.ndarray:
    """Von Mises stress of Voigt stresses ``(..., 6)`` ``[11, 22, 33, 12, 23, 31]`` → ``(...)``."""
    s = np.asarray(stress, dtype=np.float64)
    d = s[..., :3] - s[..., :3].mean(axis=-1, keepdims=True)
    return np.sqrt(1.5 * (np.sum(d * d, axis=-1) + 2 * np.sum(s[..., 3:] ** 2, axis=-1)))


def peak_von_mises(stress: np.ndarray) -> float:
    """``max`` over times and integration points of :func:`von_mises`; stress ``(n_t, n_points, 6)``."""
    return float(von_mises(stress).max())


# ==================================================================== solvers
def _scheme(scheme):
    from rom.hifi.dynamics import NewmarkSettings

    return NewmarkSettings() if scheme is None else scheme


class HighFidelitySubmodel:
    """The submodel solved by :func:`rom.hifi.dynamics.solve_dynamic` for a trace; returns the QoI.

    Parameters
    ----------
    template : Problem
    node_set : str
    scheme : NewmarkSettings or GeneralizedAlphaSettings, optional
    settings : rom.hifi.NewtonSettings, optional
    """

    def __init__(self, template, node_set: str, *, scheme=None, settings=None):
        check_times(template)
        self.template, self.node_set, self.scheme, self.settings = template, node_set, _scheme(scheme), settings
        self.layout = boundary_layout(template, node_set)

    def simulation(self, trace, *, where: str = "trace", output=None):
        """The full :class:`~io_adapters.Simulation` of one trace (``output``: also a store)."""
        from rom.hifi.dynamics import solve_dynamic

        problem = sample_problem(self.template, self.node_set, trace, where=where)
        return solve_dynamic(problem, scheme=self.scheme, settings=self.settings, output=output)

    def __call__(self, trace, *, where: str = "trace") -> float:
        simulation = self.simulation(trace, where=where)
        return peak_von_mises(simulation.fields["sig"].values)


#: Cells whose strain, hence stress, is the same at every integration point.
CONSTANT_STRAIN_CELLS = ("tetra", "triangle")


def qoi_points(model, sub) -> np.ndarray:
    """A subdomain's local integration points that carry every distinct stress value.

    In a constant-strain cell (linear tetrahedron) all points hold the same stress
    (the training snapshots, hence the Gappy-POD modes, agree there to round-off),
    so its first point stands for the cell; other cells keep every point. The peak
    von Mises over these points is the peak over all of them.

    Returns
    -------
    (n_qoi,) int array, increasing
    """
    from io_adapters.quadrature_rules import points_per_cell

    types = model.mesh.cell_type_of()[np.asarray(sub.cells)]
    counts = np.array([points_per_cell(model.rule, t) for t in types], dtype=np.int64)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    kept = np.where(np.isin(types, CONSTANT_STRAIN_CELLS), 1, counts)               # points kept per cell
    within = np.arange(kept.sum()) - np.repeat(np.cumsum(kept) - kept, kept)
    return np.repeat(first, kept) + within


class ReducedSubmodel:
    """The submodel solved by a reduced dynamic solver; returns the QoI.

    A linear model (:func:`rom.online.linear_dynamics.is_linear`: linear elastic laws,
    as the submodel of an elastodynamic global model) takes the linear path: the
    reduced matrices, the lifting couplings and the stress's Gappy-POD map are built
    once (:class:`~rom.online.linear_dynamics.LinearReducedDynamics`), a trace is
    scattered onto the lifting dofs, and one sample costs ``n_t`` small dense steps
    plus the stress history ``(n_t × n_sig) @ (n_sig × 6 n_points)`` for the peak —
    the answer of the Newton path to round-off. Other models take
    :func:`rom.online.dynamics.solve_dynamic` (laws at the reduced points, Newton).
    The reduced mass (and its lifting columns) is computed once: every trace imposes
    the same dofs. Serial (each Monte Carlo rank holds the whole reduced model).

    Parameters
    ----------
    model : ReducedOrderModel
        Built from HF dynamic runs of the submodel (:func:`train_submodel_rom`), with a
        Gappy-POD basis of ``sig``.
    template : Problem
    node_set : str
    scheme : NewmarkSettings or GeneralizedAlphaSettings, optional
        The training runs' scheme.
    settings : SolverSettings, optional
        The Newton path's.
    linear : bool, optional
        Force (True) or forbid (False) the linear path; by default taken when it applies.
    """

    def __init__(self, model, template, node_set: str, *, scheme=None, settings=None, linear: bool | None = None):
        from rom.online.dynamics import ReducedMass
        from rom.online.linear_dynamics import LinearReducedDynamics, is_linear

        check_times(template)
        if model.mesh.n_nodes != template.mesh.n_nodes or model.mesh.n_cells != template.mesh.n_cells:
            raise MeshMismatchError(f"{template.source}: the submodel mesh ({template.mesh.n_nodes} nodes, "
                                    f"{template.mesh.n_cells} cells) is not the reduced model's "
                                    f"({model.mesh.n_nodes} nodes, {model.mesh.n_cells} cells)")
        if "sig" not in model.subdomains[0].duals:
            raise InputError(f"{template.source}: the reduced model has no Gappy-POD basis of 'sig' (its duals: "
                             f"{', '.join(model.subdomains[0].duals) or 'none'}): the QoI needs the stress")
        self.model, self.template, self.node_set = model, template, node_set
        self.scheme, self.settings = _scheme(scheme), settings
        self.layout = boundary_layout(template, node_set)
        first = sample_problem(template, node_set, np.zeros(self.layout.shape), where="zero trace")
        self.mass = ReducedMass.of(model, first)
        applies, why = is_linear(model, first)
        if linear and not applies:
            raise InputError(f"{template.source}: the linear reduced dynamics does not apply: {why}")
        self.linear = None
        if applies and linear is not False:
            self.linear = LinearReducedDynamics(model, first, scheme=self.scheme, mass=self.mass, fields=["sig"])
            self._base = self.linear.imposed_values()                    # (n_t, m): the template's other values
            self._driven, self._from_trace = self._scatter(first)
            self._sig_modes = np.ascontiguousarray(np.concatenate(
                [s.duals["sig"].modes[:, qoi_points(model, s)].reshape(len(s.duals["sig"].modes), -1)
                 for s in model.subdomains], axis=1))

    @property
    def path(self) -> str:
        """``"linear"`` or ``"newton"``: how a sample is solved."""
        return "newton" if self.linear is None else "linear"

    def _scatter(self, problem) -> tuple[np.ndarray, np.ndarray]:
        """Which lifting dofs the trace drives and where their values sit in ``trace.reshape(n_t, -1)``
        (as :class:`rom.lifting.ImposedDisplacements` reads the boundary's imposed field)."""
        from rom.lifting import ImposedDisplacements

        fields = ImposedDisplacements(problem, self.linear.dofs).fields
        covered, rows, position, components, _ = next(f for f in fields if f[4].node_set == self.node_set)
        return np.flatnonzero(covered), 3 * rows[position] + components

    def imposed_values(self, trace, *, where: str = "trace") -> np.ndarray:
        """A trace on the linear path's lifting dofs, ``(n_t, m)`` (checked as :func:`sample_problem` does)."""
        trace = check_samples(np.asarray(trace)[None], layout=self.layout, where=where)[0]
        values = self._base.copy()
        values[:, self._driven] = trace.reshape(len(trace), -1)[:, self._from_trace]
        return values

    def stress_history(self, trace, *, where: str = "trace") -> np.ndarray:
        """The rebuilt stress at every time, ``(n_t, n_points, 6)``: on the linear path at the
        :func:`qoi_points` only (one point per constant-strain cell), else at every point."""
        if self.linear is None:
            _, stress = self.result(trace, where=where).local_fields(["sig"])["sig"]
            return stress
        solution = self.linear.solve(self.imposed_values(trace, where=where))
        coordinates = self.linear.dual_coordinates(solution, "sig")                  # (n_t, n_sig)
        return (coordinates @ self._sig_modes).reshape(len(coordinates), -1, 6)   # at the QoI points

    def result(self, trace, *, where: str = "trace"):
        """The :class:`~rom.online.dynamics.DynamicResult` of one trace."""
        problem = sample_problem(self.template, self.node_set, trace, where=where)
        if self.linear is not None:
            from rom.online.linear_dynamics import solve_linear_dynamic

            return solve_linear_dynamic(self.model, problem, linear=self.linear)
        from rom.online.dynamics import solve_dynamic

        return solve_dynamic(self.model, problem, scheme=self.scheme, settings=self.settings, mass=self.mass,
                             fields=["sig"])

    def __call__(self, trace, *, where: str = "trace") -> float:
        return peak_von_mises(self.stress_history(trace, where=where))


# ==================================================================== offline
def train_submodel_rom(template, node_set: str, traces, folder: str | os.PathLike, *, scheme=None, settings=None,
                       pod_tol: float = 1e-4, ecm_tol: float = 1e-4, stress_tol: float = 1e-4, comm=None):
    """Build the submodel's ROM from HF dynamic runs driven by training traces.

    Each rank solves its share of the traces (round robin) with
    :func:`rom.hifi.dynamics.solve_dynamic` into ``folder/train_XXXX.h5``, then
    :func:`rom.offline.build` (collective) reduces ``U`` and ``sig`` (POD ``pod_tol``,
    ECM ``ecm_tol`` on the integrands of the stress POD truncated at ``stress_tol``):
    the dynamic runs' displacements span the accelerations too.

    Parameters
    ----------
    template : Problem
    node_set : str
    traces : (n_train, n_times, n_nodes, 3) array
    folder : path
        Where the training stores go (created).
    pod_tol, ecm_tol, stress_tol : float
        The offline stage's ``[pod.U] tol`` and ``[pod.sig] tol``, ``[ecm] tol`` and ``stress_tol``.
    comm : communicator, optional

    Returns
    -------
    ReducedOrderModel
    """
    from rom.offline import build

    layout = boundary_layout(template, node_set)
    traces = check_samples(traces, layout=layout, where="training traces")
    check_times(template)
    folder = Path(folder)
    rank, size = (0, 1) if comm is None else (comm.rank, comm.size)
    if rank == 0:
        folder.mkdir(parents=True, exist_ok=True)
    if comm is not None:
        comm.Barrier()
    solver = HighFidelitySubmodel(template, node_set, scheme=scheme, settings=settings)
    paths = [folder / f"train_{i:04d}.h5" for i in range(len(traces))]
    for i in range(rank, len(traces), size):
        solver.simulation(traces[i], where=f"training trace {i}", output=paths[i])
        log.info("submodel training run %d/%d written to %s", i + 1, len(traces), paths[i])
    if comm is not None:
        comm.Barrier()
    first = sample_problem(template, node_set, traces[0], where="training trace 0")
    config = {"training": [str(p) for p in paths], "problem": first,
              "pod": {"U": {"tol": pod_tol}, "sig": {"tol": pod_tol}},
              "ecm": {"tol": ecm_tol, "stress_tol": stress_tol}}
    return build(config, comm)
