"""The ``nirom`` command line.

::

    nirom --version
    nirom convert SRC... -o OUT.h5 [--format F] [--dtype float32|float64] [--no-xdmf]
    nirom info FILE...                                   (results, stores, meshes, models, dictionaries)
    mpiexec -n P nirom hifi problem.toml -o results.h5   (the high-fidelity solver on a problem file)
    mpiexec -n P nirom offline offline.toml              (build a reduced-order model)
    mpiexec -n P nirom online rom.h5 case.toml...        (solve new loadings with it)
    mpiexec -n P nirom cluster cluster.toml              (local models + ROM-net: a ROM dictionary)
    mpiexec -n P nirom online dictionary.h5 case.toml    (ROM-net picks the local model)
    mpiexec -n P nirom submodel offline|mc submodel.toml (stochastic submodel: its ROM, its Monte Carlo)

Every subcommand takes ``--help`` (with an example), ``--print-config`` (the effective
configuration, defaults included, as TOML; then exit), ``-q/--quiet``, ``-v/--verbose``,
``--progress`` (progress bars on rank 0 even off a terminal) and ``--debug`` (the
traceback of an error).

Exit codes (:mod:`mpi_drivers.collective`): 0 done; 1 a failed case (a solve that did
not converge, a batch with a diverging case); 2 bad input (a configuration, a missing,
corrupt or unwritable file, a missing optional package; also argparse's usage
errors); 3 an internal error (a bug of nirom); 130 interrupted. Every error is one
line on standard error naming the file. Under ``mpiexec`` an error on any rank ends
every rank.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from pathlib import Path
from typing import Sequence

log = logging.getLogger("nirom")

#: Loggers of nirom's packages (``--verbose`` shows their debug messages).
PACKAGES = ("nirom", "rom", "io_adapters", "clustering", "mpi_drivers")

FORMATS = ["nirom", "zset", "ansys", "fenics", "meshio"]

EXAMPLES = {
    "convert": """example:
  nirom convert tests/data/zset/UtExample/cube.ut -o cube.h5
  nirom convert run-001.ut run-002.ut -o merged.h5       (Zset subdomains merged; or the global run.cut)

writes cube.h5 (+ cube.xdmf for ParaView) and cube.h5.run.json (the run record)""",
    "info": """example:
  nirom info cube.h5 rom.h5 tests/data/zset/UtExample/cube.ut""",
    "hifi": """example:
  mpiexec -n 2 nirom hifi examples/cube/problem.toml -o train.h5
  nirom hifi deck.inp -o results.h5 --linear-solver scipy

writes train.h5 (+ .xdmf), train.h5.run.json and train_report.md (+ train_history.png);
a step that fails after every halving: exit code 1, the store keeps the converged steps""",
    "offline": """example:
  mpiexec -n 2 nirom offline offline.toml
  nirom offline --print-config > offline.toml            (every key with its default)

offline.toml (keys: docs/configuration.md):
  training = ["train.h5"]
  problem = "examples/cube/problem.toml"
  output = "rom.h5"
  [pod.U]
  tol = 1e-6
  [pod.evrcum]
  tol = 1e-6

writes rom.h5, rom.h5.run.json, rom_report.md (+ rom_singular_values.png, rom_ecm_points.png)""",
    "online": """example:
  mpiexec -n 2 nirom online rom.h5 case.toml
  mpiexec -n 2 nirom online rom.h5 draws/*.toml          (a batch: the model is loaded once)
  nirom online rom.h5 case.toml --print-config           (the case with the model's defaults)

case.toml (keys: docs/configuration.md):
  problem = "loading.toml"
  output = "online.h5"
  reference = "hf.h5"              # optional: U_reference and U_error written, error plotted
  [adaptive]
  enabled = true

writes online.h5 (+ .xdmf), online.h5.run.json, online_report.md (+ online_indicator.png,
online_error.png); exit code 1 when a case diverged (the others are solved)""",
    "cluster": """example:
  mpiexec -n 2 nirom cluster cluster.toml
  nirom cluster --print-config                           (every key with its default)

writes dictionary.h5, dictionary.h5.run.json and dictionary_report.md (+ figures)""",
    "submodel": """example:
  mpiexec -n 2 nirom submodel offline examples/submodel/submodel.toml   (HF runs on training traces -> submodel ROM)
  mpiexec -n 2 nirom submodel mc examples/submodel/submodel.toml        (generated traces -> ROM -> QoI statistics)
  nirom submodel mc --print-config                                      (every key with its default)

submodel.toml (keys: docs/submodel.md):
  problem = "data/submodel.toml"
  generator = "data/wgan.h5"
  output = "results/mc.h5"
  [solver]
  kind = "rom"
  model = "data/submodel_rom.h5"

mc writes mc.h5, mc.h5.run.json, mc_report.md (+ mc_convergence.png); offline writes the model (+ .run.json)""",
}


def nirom_version() -> str:
    from mpi_drivers.report import nirom_version as version

    return version()


def _common() -> argparse.ArgumentParser:
    """The options of every subcommand (SUPPRESS: accepted before or after the subcommand)."""
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("output and diagnostics")
    group.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                       help="print only warnings and errors (no summary, no progress bars)")
    group.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                       help="also the debug messages of nirom's modules")
    group.add_argument("--progress", action="store_true", default=argparse.SUPPRESS,
                       help="progress bars on rank 0 even when standard error is not a terminal")
    group.add_argument("--print-config", action="store_true", default=argparse.SUPPRESS,
                       help="print the effective configuration (defaults included) as TOML and exit")
    group.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show the traceback of an error")
    return common


def _parser() -> argparse.ArgumentParser:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="nirom", parents=[_common()], formatter_class=raw,
        description="Nonintrusive reduced-order modelling of nonlinear structural mechanics.",
        epilog="exit codes: 0 done, 1 a failed case (no convergence), 2 bad input, 3 internal error (a bug), "
               "130 interrupted.\nthe user guide: docs/guide/index.md")
    parser.add_argument("--version", action="version", version=f"nirom {nirom_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    parser.subcommands = {}

    def command(name: str, help: str, description: str) -> argparse.ArgumentParser:
        parser.subcommands[name] = commands.add_parser(name, help=help, description=description,
                                                       epilog=EXAMPLES[name], parents=[_common()],
                                                       formatter_class=raw)
        return parser.subcommands[name]

    convert = command("convert", "convert solver results to a nirom HDF5 store (+ XDMF sidecar)",
                      "Read results of Zset, Ansys, dolfinx or any meshio format and write one nirom store. "
                      "Several Zset subdomain .ut files (or the global stem.cut) are merged.")
    convert.add_argument("sources", nargs="+", type=Path, metavar="SRC")
    convert.add_argument("-o", "--output", required=True, type=Path, metavar="OUT.h5")
    convert.add_argument("--format", choices=FORMATS, help="the source's format (default: detected)")
    convert.add_argument("--dtype", choices=["float32", "float64"], help="storage precision (default: the source's)")
    convert.add_argument("--no-xdmf", action="store_true", help="do not write the XDMF sidecar")

    info = command("info", "summarise a result file, a store, a mesh, a model or a dictionary",
                   "Print what a file holds: mesh, sets, fields and times of results and stores; the sizes, "
                   "settings and training of a model or a dictionary.")
    info.add_argument("file", type=Path, nargs="+", metavar="FILE")
    info.add_argument("--format", choices=FORMATS, help="the file's format (default: detected)")

    from mpi_drivers.hifi import LINEAR_SOLVERS

    hifi = command("hifi", "solve a problem file with the high-fidelity solver (run under mpiexec -n P)",
                   "Quasi-static small-strain Newton solve of a TOML problem or a Zset .inp deck over its time "
                   "steps (scipy in serial, PETSc under MPI); results written step by step to one store.")
    hifi.add_argument("problem", type=Path, nargs="?", metavar="problem.toml|deck.inp")
    hifi.add_argument("-o", "--output", type=Path, metavar="results.h5", help="the store to write (required)")
    hifi.add_argument("--rule", help="integration rule: default, zset (Zset's points), zset-reduced, high "
                                     "(default: the problem's [solver] rule, else default)")
    hifi.add_argument("--linear-solver", choices=LINEAR_SOLVERS,
                      help="default: the problem's [solver] linear_solver, else auto")

    offline = command("offline", "build a reduced-order model (run under mpiexec -n P)",
                      "Build a reduced-order model from training results: POD, ECM, Gappy-POD. Each MPI rank "
                      "owns one subdomain; finished phases are checkpointed.")
    offline.add_argument("config", type=Path, nargs="?", metavar="offline.toml")

    online = command("online", "solve new loadings with a reduced-order model (run under mpiexec -n P)",
                     "Hyper-reduced Newton solve of new loadings, error indicator at every step, optional "
                     "enrichment from one high-fidelity step; several case files make a batch.")
    online.add_argument("model", type=Path, nargs="?", metavar="rom.h5")
    online.add_argument("case", type=Path, nargs="*", metavar="case.toml",
                        help="one or more case files (a batch: the model is loaded once)")

    cluster = command("cluster", "cluster training runs into local models + ROM-net (run under mpiexec -n P)",
                      "Cluster the training runs (physics-informed dissimilarity), build one local reduced-order "
                      "model per cluster and the ROM-net classifier that picks one from the load description; "
                      "write the dictionary file and a report.")
    cluster.add_argument("config", type=Path, nargs="?", metavar="cluster.toml")

    submodel = command("submodel", "stochastic submodel: its ROM (offline), its Monte Carlo (mc) (mpiexec -n P)",
                       "offline: solve the submodel (HF dynamics) for training boundary traces and build its "
                       "reduced model. mc: draw boundary traces from a generator file (WGAN-GP, Gaussian, "
                       "bootstrap), solve each with the submodel ROM or the HF solver (samples distributed over "
                       "the ranks), QoI statistics with confidence intervals, convergence plot and report.")
    submodel.add_argument("action", choices=["offline", "mc"])
    submodel.add_argument("config", type=Path, nargs="?", metavar="submodel.toml")
    return parser


def _flag(args, name: str) -> bool:
    return bool(getattr(args, name, False))


def _require(parser, args) -> None:
    """The positional arguments ``--print-config`` may go without."""
    missing = []
    if args.command == "hifi":
        missing = [n for n, v in (("problem.toml|deck.inp", args.problem), ("-o/--output", args.output)) if v is None]
    elif args.command in ("offline", "cluster", "submodel") and args.config is None:
        missing = [f"{args.command}.toml"]
    elif args.command == "online" and (args.model is None or not args.case):
        missing = [n for n, v in (("rom.h5", args.model), ("case.toml", args.case)) if not v]
    if missing:                                           # argparse's usage error: exit code 2
        parser.subcommands[args.command].error(f"the following arguments are required: {', '.join(missing)}")


# ================================================================ progress display
class TqdmReporter:
    """Draws the :mod:`rom.progress` tasks as tqdm bars (one per task, removed when done)."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.bars: dict = {}

    def __call__(self, task: str, done: int, total: int | None, detail: str | None) -> None:
        from tqdm import tqdm

        bar = self.bars.get(task)
        if bar is not None and (done < bar.n or bar.total != total):
            bar.close()                                       # the task starts over (another solve)
            bar = None
        if bar is None:
            form = ("{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]"
                    if total is not None else "{desc}: {n_fmt} [{elapsed}{postfix}]")
            bar = self.bars[task] = tqdm(total=total, desc=task, file=self.stream, leave=False, dynamic_ncols=True,
                                         bar_format=form)
        bar.n = done
        if detail:
            bar.set_postfix_str(detail, refresh=False)
        bar.refresh()
        if total is not None and done >= total:
            bar.close()
            del self.bars[task]

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()
        self.bars.clear()


@contextlib.contextmanager
def _progress_display(args, rank: int = 0):
    """Install the tqdm reporter on rank 0 when asked (``--progress``) or on a terminal (not ``--quiet``)."""
    from rom import progress

    show = rank == 0 and (_flag(args, "progress") or (not _flag(args, "quiet") and sys.stderr.isatty()))
    if not show:
        yield
        return
    from tqdm.contrib.logging import logging_redirect_tqdm

    reporter = TqdmReporter()
    try:
        with logging_redirect_tqdm(), progress.reporting(reporter):
            yield
    finally:
        reporter.close()


def _collectively(args, command: str, stage) -> int:
    """Run ``stage(comm)`` on every rank (:func:`mpi_drivers.collective.run_collectively`), progress on rank 0."""
    from mpi_drivers.collective import run_collectively

    def with_progress(comm) -> int:
        with _progress_display(args, comm.rank):
            return stage(comm)

    return run_collectively(with_progress, command, debug=_flag(args, "debug"))


# ================================================================ subcommands
def _print_toml(data: dict, header: str) -> None:
    from mpi_drivers.report import to_toml

    print(f"# {header}\n" + to_toml(data), end="")


def _convert(args) -> int:
    import io_adapters
    from rom import progress

    from mpi_drivers import report

    configuration = {"sources": [str(s) for s in args.sources], "output": str(args.output),
                     "format": args.format, "dtype": args.dtype, "xdmf": not args.no_xdmf}
    if _flag(args, "print_config"):
        _print_toml(configuration, "nirom convert: the effective options (format not set: detected; dtype not set: the "
                                   "source's)")
        return 0
    sources = [str(s) for s in args.sources]
    if args.output.suffix.lower() not in (".h5", ".hdf5", ".nirom"):
        raise io_adapters.InputError(f"{args.output}: the output must be a nirom store ending in .h5")
    import time

    start = time.perf_counter()
    source = sources[0] if len(sources) == 1 else sources
    simulation = io_adapters.read(source, format=args.format)
    with _progress_display(args):
        path = io_adapters.save(simulation, args.output, xdmf=not args.no_xdmf, dtype=args.dtype,
                                on_step=lambda done, total: progress.advance("steps written", done, total))
    files = [*sources, *(simulation.provenance or {}).get("files", [])]
    report.write_run_record(path, command="convert", configuration=configuration,
                            inputs=[f for f in files if Path(f).exists()], seconds=time.perf_counter() - start)
    if not _flag(args, "quiet"):
        print(f"{path}: {len(simulation.fields)} fields, {simulation.n_times} time steps, "
              f"{simulation.mesh.n_nodes} nodes, {simulation.mesh.n_cells} cells")
    return 0


def _info(args) -> int:
    import io_adapters
    from rom.model import ReducedOrderModel, is_model

    if _flag(args, "print_config"):
        _print_toml({"files": [str(f) for f in args.file], "format": args.format},
                    "nirom info: the effective options (format not set: detected)")
        return 0
    for i, file in enumerate(args.file):
        if i:
            print()
        print(f"{file}")
        if file.suffix.lower() in (".h5", ".hdf5") and is_model(file):
            print(ReducedOrderModel.load(file).summary())
            continue
        if file.suffix.lower() in (".h5", ".hdf5"):
            from clustering.dictionary import RomDictionary, is_dictionary

            if is_dictionary(file):
                print(RomDictionary.load(file).summary())
                continue
        print(io_adapters.read(str(file), format=args.format).summary())
    return 0


def _hifi(args) -> int:
    from mpi_drivers.hifi import effective_configuration, run_hifi

    if _flag(args, "print_config"):
        problem = None
        if args.problem is not None:
            from io_adapters.problem import read_problem

            problem = read_problem(args.problem)
        _print_toml(effective_configuration(args.problem, args.output, problem=problem, rule=args.rule,
                                            linear_solver=args.linear_solver),
                    "nirom hifi: the files and the [solver] table used (the problem's, the defaults, the "
                    "command line's)")
        return 0
    return _collectively(args, "hifi", lambda comm: run_hifi(args.problem, args.output, comm, rule=args.rule,
                                                             linear_solver=args.linear_solver,
                                                             quiet=_flag(args, "quiet")))


def _offline(args) -> int:
    from mpi_drivers.offline import effective_configuration, run_offline

    if _flag(args, "print_config"):
        config = None
        if args.config is not None:
            from rom.offline_config import OfflineConfig

            config = OfflineConfig.load(args.config)
        _print_toml(effective_configuration(config), "nirom offline: the effective configuration"
                    + (f" of {args.config}" if args.config else " (the defaults)"))
        return 0
    return _collectively(args, "offline", lambda comm: run_offline(args.config, comm, quiet=_flag(args, "quiet")))


def _online(args) -> int:
    from mpi_drivers.online import effective_case, load_case, run_online

    if _flag(args, "print_config"):
        model = None
        if args.model is not None and args.model.is_file():
            from mpi_drivers.online import _load_model

            model = _load_model(args.model, None)
        if not args.case:
            _print_toml(effective_case(None), "nirom online: a case file's keys with their defaults")
        for i, path in enumerate(args.case):
            if i:
                print()
            _print_toml(effective_case(load_case(path), model), f"nirom online: the effective case {path}"
                        + (f" with the defaults of {args.model}" if model is not None else ""))
        return 0
    return _collectively(args, "online", lambda comm: run_online(args.model, args.case, comm,
                                                                 quiet=_flag(args, "quiet")))


def _cluster(args) -> int:
    from mpi_drivers.cluster import effective_configuration, run_cluster

    if _flag(args, "print_config"):
        config = None
        if args.config is not None:
            from clustering.config import ClusterConfig

            config = ClusterConfig.load(args.config)
        _print_toml(effective_configuration(config), "nirom cluster: the effective configuration"
                    + (f" of {args.config}" if args.config else " (the defaults; n_clusters is required)"))
        return 0
    return _collectively(args, "cluster", lambda comm: run_cluster(args.config, comm, quiet=_flag(args, "quiet")))


def _submodel(args) -> int:
    from mpi_drivers.submodel import SubmodelConfig, effective_configuration, run_mc, run_offline

    if _flag(args, "print_config"):
        config = SubmodelConfig.load(args.config) if args.config is not None else None
        _print_toml(effective_configuration(config), f"nirom submodel {args.action}: the effective configuration"
                    + (f" of {args.config}" if args.config else " (the defaults)"))
        return 0
    run = run_mc if args.action == "mc" else run_offline
    return _collectively(args, f"submodel {args.action}", lambda comm: run(args.config, comm,
                                                                          quiet=_flag(args, "quiet")))


def _logging(args) -> None:
    staged = args.command in ("hifi", "offline", "online", "cluster", "submodel")   # stages log their phases by default
    if _flag(args, "quiet"):
        level = logging.WARNING
    else:
        level = logging.INFO if staged or _flag(args, "verbose") else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if _flag(args, "verbose") and not _flag(args, "quiet"):
        for name in PACKAGES:
            logging.getLogger(name).setLevel(logging.DEBUG)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``nirom`` console script; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not _flag(args, "print_config"):
        _require(parser, args)
    _logging(args)
    from mpi_drivers.collective import describe

    try:
        return {"convert": _convert, "info": _info, "hifi": _hifi, "offline": _offline, "online": _online,
                "cluster": _cluster, "submodel": _submodel}[args.command](args)
    except Exception as exc:                 # every error is one line (the traceback with --debug)
        if _flag(args, "debug"):
            raise
        message, code = describe(exc)
        print(f"nirom {args.command}: error: {message}", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        if _flag(args, "debug"):
            raise
        print(f"nirom {args.command}: interrupted", file=sys.stderr, flush=True)
        code = 130
    if argv is None:                     # this process is the command: it ends here
        _end_now(code)
    return code


def _end_now(code: int) -> None:
    """End the process at once after a failed command (streams flushed), without the
    interpreter's teardown: an HDF5 file whose write failed (a full disk) crashes the
    final garbage collection (a segfault after the message, exit code 139)."""
    import os

    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
