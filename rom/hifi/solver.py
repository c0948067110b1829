"""The quasi-static small-strain high-fidelity solver: ``solve(problem) -> Simulation``."""

from __future__ import annotations

import logging
import time as _time
from pathlib import Path

import numpy as np

from io_adapters.errors import ConvergenceError
from io_adapters.simulation import Field, Simulation

from rom import progress
from rom.hifi.discretization import build
from rom.hifi.linear import make_system
from rom.hifi.newton import LocalState, NewtonSettings, advance, initial_state

log = logging.getLogger(__name__)

VOIGT = ("11", "22", "33", "12", "23", "31")


def solve(problem, comm=None, *, output: str | Path | None = None, rule: str | None = None,
          linear_solver: str | None = None, settings: NewtonSettings | None = None,
          cell_parts: np.ndarray | None = None) -> Simulation | None:
    """Solve a problem over its time steps with the in-house finite-element solver.

    Small strains, quasi-static equilibrium, Newton with the consistent tangent of
    each law, automatic substepping (halving) when a step fails.

    Parameters
    ----------
    problem : io_adapters.Problem
    comm : mpi4py communicator, optional
        Serial (scipy or PETSc) when omitted; under MPI every rank assembles its
        METIS part of the cells into a PETSc matrix.
    output : path, optional
        Write the results to this store as they are computed (``.h5`` + XDMF). If a
        step fails, the store still holds every converged step.
    rule : str, optional
        Integration rule (``problem.solver["rule"]`` or ``"default"``; ``"zset"`` lines
        the integration-point fields up with a Zset run).
    linear_solver : {"auto", "scipy", "mumps", "cg-gamg"}, optional
    settings : NewtonSettings, optional
        Defaults from ``problem.solver`` (``tolerance`` → rtol, ``atol``,
        ``max_iterations``, ``max_cuts``): a Zset deck's ``*ratio`` is the ratio of
        :mod:`rom.convergence`, which makes nirom at least as converged as Zset at the
        same ratio. The settings used are recorded in the result's
        ``provenance["newton"]``.
    cell_parts : (n_cells,) int array, optional
        Rank of each cell (METIS when omitted).

    Returns
    -------
    Simulation or None
        Fields ``U`` (nodes), ``eto`` (total strain, engineering shear), ``sig`` and
        the laws' internal variables (e.g. ``evrcum``, ``evri``) at the integration
        points, at every time of ``problem.times`` (the first is the initial state).
        Under MPI, rank 0 gets it (read from ``output`` when given) and the other
        ranks get None unless ``output`` is given.

    Raises
    ------
    ConvergenceError
        A step failed after the maximum number of halvings: the message names the
        step, the time and the residual history; ``output`` keeps the steps before.
    """
    rule, settings, linear_solver = solver_choices(problem, rule, settings, linear_solver)
    rank = 0 if comm is None else comm.rank
    started = _time.perf_counter()

    disc = build(problem, rule=rule, comm=comm, cell_parts=cell_parts)
    system = make_system(disc, comm, linear_solver)
    times = np.asarray(problem.times, dtype=np.float64)
    state = initial_state(disc, times[0])
    names = _output_layout(disc, state)
    sink = _Sink(problem, names, rule, output, rank, settings)
    newton_iterations = 0
    try:
        sink.add(_gather(disc, state, names, comm), times[0])
        for k in range(1, len(times)):
            try:
                state = advance(disc, system, state, float(times[k]), settings, comm)
            except ConvergenceError as exc:
                raise ConvergenceError(f"{problem.source}: time step {k} (t={times[k]:g}): {exc}") from None
            newton_iterations += len(state.history) - 1
            log.info("step %d/%d t=%g: %d Newton iterations, residuals %s", k, len(times) - 1, times[k],
                     len(state.history) - 1, " ".join(f"{r:.2e}" for r in state.history))
            sink.add(_gather(disc, state, names, comm), times[k])
            progress.advance("HF steps", k, len(times) - 1)
    finally:
        result = sink.close()
    log.info("solved %d steps in %.2f s (%d Newton iterations)", len(times) - 1,
             _time.perf_counter() - started, newton_iterations)
    return _result_on_every_rank(result, output, comm)


def solver_choices(problem, rule: str | None, settings: NewtonSettings | None,
                   linear_solver: str | None) -> tuple[str, NewtonSettings, str]:
    """The integration rule, Newton settings and linear solver of a solve: the caller's where
    given, else the problem's ``[solver]`` table (``rule``, ``tolerance`` → rtol, ``atol``,
    ``max_iterations``, ``max_cuts``, ``linear_solver``), else the defaults."""
    options = dict(getattr(problem, "solver", {}) or {})
    if settings is None:
        chosen = {k: options[k] for k in ("atol", "max_iterations", "max_cuts") if k in options}
        if "tolerance" in options:
            chosen["rtol"] = float(options["tolerance"])
        settings = NewtonSettings(**chosen)
    return rule or options.get("rule", "default"), settings, linear_solver or options.get("linear_solver", "auto")


def _result_on_every_rank(result, output, comm):
    """The sink's result; under MPI with an output file, that file read back once every rank has written."""
    if output is not None and comm is not None and comm.size > 1:
        comm.Barrier()
        from io_adapters.store import read

        return read(output)
    return result


def _output_layout(disc, state: LocalState) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Output field name -> (support, components), internal variables included."""
    layout = {"U": ("node", ("U1", "U2", "U3")),
              "eto": ("integration_point", tuple("eto" + c for c in VOIGT)),
              "sig": ("integration_point", tuple("sig" + c for c in VOIGT))}
    for internal in state.internal:
        for name, values in internal.items():
            width = int(np.prod(np.shape(values)[1:]))
            if width == 6:
                comps = tuple(name + c for c in VOIGT)
            elif width == 1:
                comps = (name,)
            else:
                comps = tuple(f"{name}{i + 1}" for i in range(width))
            layout.setdefault(name, ("integration_point", comps))
    return layout


def _gather(disc, state: LocalState, names, comm, nodal: dict | None = None) -> dict[str, np.ndarray] | None:
    """Global arrays of the output fields on rank 0 (None elsewhere); ``nodal``: more node
    fields, name → (n_local_nodes, 3) (the dynamic solver's ``V`` and ``A``)."""
    local = {"U": state.u.reshape(-1, 3), "eto": state.strain, "sig": state.stress, **(nodal or {})}
    for name, (support, comps) in names.items():
        if name in local:
            continue
        values = np.zeros((disc.n_points, len(comps)))
        for region, internal in zip(disc.regions, state.internal):
            if name in internal:
                values[region.points] = np.asarray(internal[name]).reshape(len(region.points), -1)
        local[name] = values
    pieces = (disc.local.point_ids, disc.point_rows, local)
    if comm is None or comm.size == 1:
        gathered = [pieces]
    else:
        gathered = comm.gather(pieces, root=0)
        if comm.rank != 0:
            return None
    mesh = disc.problem.mesh
    n_points = int(max(p[1].max() + 1 if len(p[1]) else 0 for p in gathered))
    out = {}
    for name, (support, comps) in names.items():
        n_rows = mesh.n_nodes if support == "node" else n_points
        array = np.zeros((n_rows, len(comps)))
        for nodes, rows, values in gathered:
            array[nodes if support == "node" else rows] = values[name]
        out[name] = array
    return out


class _Sink:
    """Where the steps go: a store being appended (rank 0), or memory."""

    def __init__(self, problem, names, rule, output, rank, settings, extra_provenance: dict | None = None):
        self.problem, self.names, self.rule, self.rank = problem, names, rule, rank
        self.settings = settings
        self.extra = extra_provenance
        self.times, self.steps = [], []
        self.appender = None
        if output is not None and rank == 0:
            from io_adapters.store import StoreAppender

            specs = {n: (s, c, rule if s == "integration_point" else None) for n, (s, c) in names.items()}
            self.appender = StoreAppender(output, problem.mesh, specs, parameters=_parameters(problem),
                                          provenance=_provenance(problem, rule, settings, self.extra))

    def add(self, values, t: float) -> None:
        if values is None:
            return
        if self.appender is not None:
            self.appender.append(t, values)
        else:
            self.times.append(t)
            self.steps.append(values)

    def close(self) -> Simulation | None:
        if self.rank != 0:
            return None
        if self.appender is not None:
            from io_adapters.store import read

            return read(self.appender.close())
        fields = {}
        for name, (support, comps) in self.names.items():
            values = np.stack([s[name] for s in self.steps]) if self.steps else np.zeros((0, 0, len(comps)))
            fields[name] = Field(support, comps, values, self.rule if support == "integration_point" else None)
        return Simulation(self.problem.mesh, np.asarray(self.times), fields, _parameters(self.problem),
                          _provenance(self.problem, self.rule, self.settings, self.extra))


def _parameters(problem) -> dict:
    return dict(getattr(problem, "parameters", {}) or {})


def _provenance(problem, rule, settings: NewtonSettings, extra: dict | None = None) -> dict:
    """Where the results come from, with the convergence ratio they were solved to (``extra``
    added last: the dynamic solver's name and scheme)."""
    return {"format": "nirom-hifi", "solver": "nirom.rom.hifi", "problem": str(problem.source),
            "integration_rule": rule, "engineering_shear": ["eto"],
            "newton": {"rtol": settings.rtol, "atol": settings.atol, "criterion": "rom.convergence"},
            **(extra or {})}
