"""Mesh the blade example and write it, with one temperature field of the family.

Usage (from the repository root)::

    python examples/blade/generate.py --size 3 -o blade.vtu          # ParaView
    python examples/blade/generate.py --size 1.4 --seed 7 -o blade.h5  # nirom store
    python examples/blade/generate.py --table 6 4 3 2 1.5 1.4          # size -> dofs table only

Formats: a nirom store (``.h5``: mesh, every set, the temperature as a node field
``T`` at t = 0 — ``io_adapters.read`` gets it all back), or any meshio format
(``.vtu``, ``.xdmf``, ``.msh``, …: the mesh, the face sets as facet blocks and the
temperature as point data ``T``; node sets travel only in formats that keep them).
Prints the number of nodes, cells and dofs (3 per node).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if __package__ in (None, ""):   # run as a file: make ``examples`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402

from examples.blade import make_blade_mesh, temperature_field  # noqa: E402


def write(mesh, temperature: np.ndarray, path: Path, seed: int) -> None:
    """Write the mesh and one temperature field (store for ``.h5``, meshio otherwise)."""
    if path.suffix.lower() in (".h5", ".hdf5", ".nirom"):
        import io_adapters
        from io_adapters import Field, Simulation

        simulation = Simulation(mesh, np.array([0.0]), {"T": Field("node", ("T",), temperature[None, :, None])},
                                parameters={"seed": seed}, provenance={"format": "nirom-example",
                                                                       "solver": "examples/blade/generate.py"})
        io_adapters.save(simulation, path)
    else:
        import meshio

        meshio.write(path, mesh.to_meshio(point_data={"T": temperature}))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=float, default=3.0, help="element size in mm (default 3)")
    parser.add_argument("--order", type=int, choices=(1, 2), default=2, help="element order (default 2: tet10)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the temperature field (default 0)")
    parser.add_argument("-o", "--output", type=Path, help="file to write (.h5 store or any meshio format)")
    parser.add_argument("--table", type=float, nargs="+", metavar="SIZE",
                        help="print the size -> dofs table for these sizes and stop")
    args = parser.parse_args(argv)

    if args.table:
        print(f"{'size (mm)':>10} {'nodes':>8} {'cells':>8} {'dofs':>8} {'seconds':>8}")
        for size in args.table:
            start = time.perf_counter()
            mesh = make_blade_mesh(size, order=args.order)
            print(f"{size:10g} {mesh.n_nodes:8d} {mesh.n_cells:8d} {3 * mesh.n_nodes:8d} "
                  f"{time.perf_counter() - start:8.2f}")
        return 0

    start = time.perf_counter()
    mesh = make_blade_mesh(args.size, order=args.order)
    seconds = time.perf_counter() - start
    temperature = temperature_field(mesh, args.seed)
    print(f"blade: size {args.size:g} mm, {mesh.n_nodes} nodes, {mesh.n_cells} {mesh.cell_types[0]} cells, "
          f"{3 * mesh.n_nodes} dofs (meshed in {seconds:.1f} s)")
    print(f"temperature (seed {args.seed}): {temperature.min():.0f} ... {temperature.max():.0f} °C")
    if args.output:
        write(mesh, temperature, args.output, args.seed)
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
