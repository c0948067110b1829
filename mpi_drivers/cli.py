"""The ``nirom`` command line.

::

    nirom convert SRC... -o OUT.h5 [--format F] [--dtype float32|float64] [--no-xdmf]
    nirom info FILE [--format F]                      (results, stores, meshes, models)
    mpiexec -n P nirom offline offline.toml           (build a reduced-order model)
    mpiexec -n P nirom online rom.h5 case.toml...     (solve new loadings with it)
    mpiexec -n P nirom cluster cluster.toml           (local models + ROM-net: a ROM dictionary)
    mpiexec -n P nirom online dictionary.h5 case.toml (ROM-net picks the local model)

Every expected error (a file, a configuration, a full disk) ends the command with
exit code 1 and a one-line reason on standard error naming the file; an unexpected
one (a bug) with exit code 2 and a one-line reason; an interruption with 130.
``--debug`` shows the traceback instead. Under ``mpiexec`` an error on any rank ends
every rank (:mod:`mpi_drivers.collective`).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Sequence

log = logging.getLogger("nirom")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nirom", description="Nonintrusive reduced-order modelling.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress (INFO level)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    convert = commands.add_parser(
        "convert", help="convert solver results to a nirom HDF5 store (+ XDMF sidecar)",
        description="Read results of Zset, Ansys, dolfinx or any meshio format and write one nirom "
                    "store. Several Zset subdomain .ut files (or the global stem.cut) are merged.")
    convert.add_argument("sources", nargs="+", type=Path, metavar="SRC")
    convert.add_argument("-o", "--output", required=True, type=Path, metavar="OUT.h5")
    convert.add_argument("--format", choices=["nirom", "zset", "ansys", "fenics", "meshio"])
    convert.add_argument("--dtype", choices=["float32", "float64"],
                         help="storage precision (default: the source's)")
    convert.add_argument("--no-xdmf", action="store_true", help="do not write the XDMF sidecar")
    convert.add_argument("--progress", action="store_true", help="show a progress bar even off a terminal")

    offline = commands.add_parser(
        "offline", help="build a reduced-order model (run under mpiexec -n P)",
        description="Build a reduced-order model from training results: POD, ECM, Gappy-POD. "
                    "Each MPI rank owns one subdomain.")
    offline.add_argument("config", type=Path, metavar="offline.toml")

    online = commands.add_parser(
        "online", help="solve a new loading with a reduced-order model (run under mpiexec -n P)",
        description="Hyper-reduced Newton solve of a new loading, error indicator at every step, "
                    "optional enrichment from one high-fidelity step.")
    online.add_argument("model", type=Path, metavar="rom.h5")
    online.add_argument("case", type=Path, nargs="+", metavar="case.toml",
                        help="one or more case files (a batch: the model is loaded once)")

    cluster = commands.add_parser(
        "cluster", help="cluster training runs into local models + ROM-net (run under mpiexec -n P)",
        description="Cluster the training runs (physics-informed dissimilarity), build one local "
                    "reduced-order model per cluster and the ROM-net classifier that picks one from "
                    "the load description; write the dictionary file and a report. Example: "
                    "mpiexec -n 2 nirom cluster cluster.toml")
    cluster.add_argument("config", type=Path, metavar="cluster.toml")

    info = commands.add_parser("info", help="summarise a result file, a store, a mesh, a model or a dictionary")
    info.add_argument("file", type=Path, nargs="+", metavar="FILE")
    info.add_argument("--format", choices=["nirom", "zset", "ansys", "fenics", "meshio"])
    return parser


def _convert(args) -> int:
    import io_adapters

    sources = [str(s) for s in args.sources]
    if args.output.suffix.lower() not in (".h5", ".hdf5", ".nirom"):
        raise io_adapters.InputError(f"{args.output}: the output must be a nirom store ending in .h5")
    source = sources[0] if len(sources) == 1 else sources
    simulation = io_adapters.read(source, format=args.format)
    with _progress(simulation.n_times, "steps", force=args.progress) as advance:
        path = io_adapters.save(simulation, args.output, xdmf=not args.no_xdmf, dtype=args.dtype,
                                on_step=advance)
    print(f"{path}: {len(simulation.fields)} fields, {simulation.n_times} time steps, "
          f"{simulation.mesh.n_nodes} nodes, {simulation.mesh.n_cells} cells")
    return 0


def _info(args) -> int:
    import io_adapters
    from rom.model import ReducedOrderModel, is_model

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


def _offline(args) -> int:
    from mpi_drivers.collective import run_collectively
    from mpi_drivers.offline import run_offline

    return run_collectively(lambda comm: run_offline(args.config, comm), "offline", debug=args.debug)


class _progress:
    """A tqdm bar on a terminal (or when forced); a no-op elsewhere."""

    def __init__(self, total: int, unit: str, force: bool = False):
        self.bar = None
        if total and (force or sys.stderr.isatty()):
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit=unit, file=sys.stderr)

    def __enter__(self):
        def advance(done: int, total: int) -> None:
            if self.bar is not None:
                self.bar.n = done
                self.bar.refresh()

        return advance

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()


def _cluster(args) -> int:
    from mpi_drivers.cluster import run_cluster
    from mpi_drivers.collective import run_collectively

    return run_collectively(lambda comm: run_cluster(args.config, comm), "cluster", debug=args.debug)


def _online(args) -> int:
    from mpi_drivers.collective import run_collectively
    from mpi_drivers.online import run_online

    return run_collectively(lambda comm: run_online(args.model, args.case, comm), "online", debug=args.debug)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``nirom`` console script."""
    args = _parser().parse_args(argv)
    staged = args.command in ("offline", "online", "cluster")   # stages log their phases by default
    logging.basicConfig(level=logging.INFO if args.verbose or staged else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    from mpi_drivers.collective import describe

    try:
        return {"convert": _convert, "info": _info, "offline": _offline, "online": _online,
                "cluster": _cluster}[args.command](args)
    except Exception as exc:                 # every error is one line (the traceback with --debug)
        if args.debug:
            raise
        message, code = describe(exc)
        print(f"nirom {args.command}: error: {message}", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        if args.debug:
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
