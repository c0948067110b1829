"""Solve the elastoviscoplastic cube with nirom's high-fidelity solver and write a store.

Usage (from the repository root)::

    python examples/cube/run.py                          # n = 4, hot spot, 2 cycles -> cube.h5
    python examples/cube/run.py --n 8 --case gradient -o cube8.h5
    python examples/cube/run.py --toml                   # the same case read from problem.toml
    mpiexec -n 2 python examples/cube/run.py --n 8       # PETSc, one METIS part per rank

Prints the size of the problem, the solve time and where the cumulated viscoplastic
strain is largest; the store (``.h5`` + ``.xdmf`` for ParaView) holds U, eto, sig
and the law's internal variables at every step.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):   # run as a file: make ``examples`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402

from examples.cube import TEMPERATURE_CASES, make_cube_problem  # noqa: E402

HERE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=4, help="elements per edge (default 4)")
    parser.add_argument("--case", choices=TEMPERATURE_CASES, default="hotspot", help="hot temperature field")
    parser.add_argument("--cycles", type=int, default=2, help="load cycles (default 2)")
    parser.add_argument("--steps", type=int, default=10, help="time steps per cycle, even (default 10)")
    parser.add_argument("--toml", action="store_true", help="read examples/cube/problem.toml instead")
    parser.add_argument("--linear-solver", default="auto", choices=("auto", "scipy", "mumps", "cg-gamg"))
    parser.add_argument("-o", "--output", type=Path, default=Path("cube.h5"), help="store to write (cube.h5)")
    args = parser.parse_args(argv)

    import rom.hifi
    from rom import fem

    comm = None
    if any(k in os.environ for k in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE")):   # under mpiexec
        from mpi4py import MPI

        comm = MPI.COMM_WORLD if MPI.COMM_WORLD.size > 1 else None
    rank = 0 if comm is None else comm.rank

    if args.toml:
        from io_adapters.problem import read_problem

        problem = read_problem(HERE / "problem.toml")
    else:
        problem = make_cube_problem(args.n, temperature_case=args.case, n_cycles=args.cycles,
                                    steps_per_cycle=args.steps)
    if rank == 0:
        print(f"{problem.source}: {problem.mesh.n_cells} {problem.mesh.cell_types[0]} cells, "
              f"{3 * problem.mesh.n_nodes} dofs, {problem.n_steps} steps")
    start = time.perf_counter()
    simulation = rom.hifi.solve(problem, comm, output=args.output, linear_solver=args.linear_solver)
    seconds = time.perf_counter() - start
    if rank == 0:
        cumulated = simulation.fields["evrcum"].read(steps=[len(problem.times) - 1])[0, :, 0]
        where = fem.integration_points(problem.mesh)[int(np.argmax(cumulated))]
        peak = np.abs(simulation.fields["U"].read()).max()
        print(f"solved in {seconds:.1f} s; max |U| {peak:.4f} mm; max evrcum {cumulated.max():.3e} "
              f"at ({where[0]:.2f}, {where[1]:.2f}, {where[2]:.2f}); plastic points: "
              f"{np.count_nonzero(cumulated > 1e-6)} / {len(cumulated)}")
        print(f"wrote {args.output} (+ {args.output.with_suffix('.xdmf').name} for ParaView)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
