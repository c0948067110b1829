"""``mpiexec -n P nirom hifi problem.toml -o results.h5``: the high-fidelity solver on a problem file.

The problem is a TOML file or a Zset ``.inp`` deck (:func:`io_adapters.read_problem`);
its ``[solver]`` table (a deck's ``*ratio``, ``*iteration``…) sets Newton's
tolerances, the command line may override the integration rule and the linear
solver. Under ``mpiexec`` every rank assembles its METIS part (PETSc); the results
are written step by step to one store (+ XDMF): if a step fails, the store keeps
every converged step and the command exits with code 1.

Beside the store: the run record ``results.h5.run.json`` and the report
``results_report.md`` (with ``results_history.png``: the largest displacement and
internal variables against time).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

log = logging.getLogger("nirom")

#: The linear solvers ``--linear-solver`` accepts (``auto``: scipy in serial without PETSc, else MUMPS below
#: 60 000 dofs and CG + GAMG above; see :func:`rom.hifi.linear.make_system`).
LINEAR_SOLVERS = ("auto", "scipy", "mumps", "cg-gamg")


def effective_solver(problem, *, rule: str | None = None, linear_solver: str | None = None) -> dict:
    """The solver settings a run uses: the problem's ``[solver]`` over the defaults, then the command line's.

    Returns
    -------
    dict
        ``tolerance`` (Newton's convergence ratio), ``atol``, ``max_iterations``,
        ``max_cuts``, ``rule``, ``linear_solver`` (+ ``tolerance_mode`` when the problem
        gives one) — the keys of a problem's ``[solver]`` table.
    """
    from rom.hifi.newton import NewtonSettings

    defaults = NewtonSettings()
    given = dict(getattr(problem, "solver", {}) or {})
    out = {"tolerance": float(given.get("tolerance", defaults.rtol)), "atol": float(given.get("atol", defaults.atol)),
           "max_iterations": int(given.get("max_iterations", defaults.max_iterations)),
           "max_cuts": int(given.get("max_cuts", defaults.max_cuts)),
           "rule": rule or given.get("rule", "default"),
           "linear_solver": linear_solver or given.get("linear_solver", "auto")}
    if "tolerance_mode" in given:
        out["tolerance_mode"] = given["tolerance_mode"]
    return out


def effective_configuration(problem_path, output, *, problem=None, rule=None, linear_solver=None) -> dict:
    """What ``--print-config`` shows and the run record keeps: the files and the ``[solver]`` table."""
    table = effective_solver(problem, rule=rule, linear_solver=linear_solver) if problem is not None else \
        {"tolerance": None, "atol": None, "max_iterations": None, "max_cuts": None, "rule": rule,
         "linear_solver": linear_solver}
    return {"problem": None if problem_path is None else str(problem_path),
            "output": None if output is None else str(output), "solver": table}


def _check_output(output) -> Path:
    from io_adapters.errors import InputError

    output = Path(output)
    if output.suffix.lower() not in (".h5", ".hdf5"):
        raise InputError(f"{output}: the output must be a nirom store ending in .h5")
    if output.is_dir():
        raise InputError(f"{output} is a directory (a file name is expected)")
    return output


def run_hifi(problem_path, output, comm, *, rule: str | None = None, linear_solver: str | None = None,
             quiet: bool = False) -> int:
    """Solve a problem file with the in-house solver on every rank; record and report on rank 0.

    Returns
    -------
    int
        0; a step that fails after every halving raises ``ConvergenceError`` (exit code
        1) after the record of the converged steps is written.
    """
    from io_adapters.errors import ConvergenceError
    from io_adapters.problem import read_problem
    from rom.hifi import NewtonSettings, solve

    from mpi_drivers import report

    if comm.rank != 0:
        logging.getLogger().setLevel(logging.ERROR)
    output = _check_output(output)
    problem = read_problem(problem_path)
    solver = effective_solver(problem, rule=rule, linear_solver=linear_solver)
    settings = NewtonSettings(rtol=solver["tolerance"], atol=solver["atol"], max_iterations=solver["max_iterations"],
                              max_cuts=solver["max_cuts"])
    mesh = problem.mesh
    if comm.rank == 0 and not quiet:
        print(f"{problem.source}: {mesh.n_cells} cells, {3 * mesh.n_nodes} dofs, {problem.n_steps} steps, "
              f"{comm.size} rank(s), linear solver {solver['linear_solver']}", flush=True)
    start = time.perf_counter()
    status, failure = "ok", None
    try:
        solve(problem, comm if comm.size > 1 else None, output=output, rule=solver["rule"],
              linear_solver=solver["linear_solver"], settings=settings)
    except ConvergenceError as exc:
        status, failure = f"failed: {str(exc).splitlines()[0]}", exc
    seconds = time.perf_counter() - start
    configuration = {"problem": str(problem_path), "output": str(output), "solver": solver}
    record = report.write_run_record(output, command="hifi", configuration=configuration, inputs=[problem_path],
                                     comm=comm, seconds=seconds, problem=problem, status=status)
    if comm.rank == 0 and output.is_file():
        page = _report(output, problem, record, seconds)
        if not quiet and failure is None:
            print(f"solved {problem.n_steps} steps in {seconds:.2f} s; results: {output} "
                  f"(+ {output.with_suffix('.xdmf').name} for ParaView); report: {page}")
    if failure is not None:
        raise failure
    return 0


def _report(output: Path, problem, record: Path, seconds: float) -> Path:
    """``<stem>_report.md`` and ``<stem>_history.png`` from the store just written (rank 0)."""
    import io_adapters

    from mpi_drivers import report

    simulation = io_adapters.read(output)
    times = np.asarray(simulation.times)
    curves = {}
    if "U" in simulation.fields and len(times):
        curves["max |U|"] = np.array([np.linalg.norm(simulation.fields["U"].read(steps=[k])[0], axis=1).max()
                                      for k in range(len(times))])
    for name, field in simulation.fields.items():
        if field.support == "integration_point" and field.n_components == 1 and len(times):
            curves[f"max {name}"] = np.array([field.read(steps=[k])[0].max() for k in range(len(times))])
    pictures = {}
    if curves:
        picture = output.with_name(output.stem + "_history.png")
        pictures["largest displacement and internal variables"] = report.plot_history(
            times, curves, picture, title=f"{Path(str(problem.source)).name}: {len(times) - 1} steps")
    body = report.text_block(simulation.summary())
    return report.markdown_report(report.report_path(output), title=f"nirom hifi — {output.name}", record=record,
                                  sections=[("Results", body + f"\n\nParaView: `{output.with_suffix('.xdmf').name}`")],
                                  pictures=pictures)
