"""Distributed enrichment: memory per rank and wall time of an adaptive run, 2 ranks vs 1 (issue 10).

The blade of ``examples/blade`` (``--size`` 1.5 mm: ~160 000 dofs, tet10, ``gen_evp``)
is trained on one HF run (seed-0 temperature field, one flight cycle of ``--steps``
steps, solved on 2 ranks), a model of 2 subdomains is built on 2 ranks, and an unseen
loading (another temperature field, ω = 1100 rad/s) is solved adaptively with the
same model file on 1 rank (which then holds both subdomains) and on 2 ranks. The
tolerance is tiny, so every step enriches until ``--enrichments`` are made: both runs
make the same number of HF steps.

Figures, side by side in one run (each solve in its own process, one BLAS thread):

- **HF steps per enrichment**: counted (calls of the HF Newton) on every rank;
  target: exactly one per enrichment, each rank on its own cells;
- **memory of the adaptive solve per rank**: the peak resident memory during the
  solve above the resident memory just before it (the kernel's peak mark is reset
  there, ``/proc/self/clear_refs``), largest rank on 2 ranks ÷ the 1-rank figure;
  target ≤ 0.6;
- **wall time of the adaptive solve**: 2 ranks ÷ 1 rank; target ≤ 0.7.

Run: ``python -m benchmarks.bench_enrichment [--quick] [--size 1.5] [--steps 4]
[--enrichments 2]``; writes ``benchmarks/results/enrichment.json``. ``--quick``
(size 3.5, ~20 000 dofs) takes about a minute; the full run 6–10 minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
ROOT = Path(__file__).resolve().parents[1]
_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

_CHILD = r"""
import json, sys, time
from dataclasses import replace
sys.path.insert(0, sys.argv[1])
import numpy as np
from mpi4py import MPI
comm = MPI.COMM_WORLD
task, folder, size, steps, enrichments = sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
from examples.blade import make_blade_problem
import io_adapters

def training():
    return make_blade_problem(size, seed=0, n_cycles=1, steps_per_cycle=steps, omega=1000.0)

if task == "train":
    from rom.hifi import solve
    problem = training()
    solve(problem, comm, output=f"{folder}/train.h5")
    if comm.rank == 0:
        print(json.dumps({"dofs": 3 * problem.mesh.n_nodes, "cells": problem.mesh.n_cells}))
elif task == "offline":
    from rom.offline import build
    mesh = io_adapters.read(f"{folder}/train.h5").mesh
    problem = make_blade_problem(size, seed=0, n_cycles=1, steps_per_cycle=steps, omega=1000.0, mesh=mesh)
    pod = {n: {"tol": 1e-6} for n in ("U", "evrcum", "evri", "al1", "sig")}
    model = build({"training": [f"{folder}/train.h5"], "problem": problem, "pod": pod, "ecm": {"tol": 1e-5},
                   "indicator": {"field": "evrcum", "tol": 1e-3}}, comm)
    model.save(f"{folder}/rom.h5", comm)
else:
    import rom.hifi.step
    from rom.adaptive import Enrichment
    from rom.model import ReducedOrderModel
    mesh = io_adapters.read(f"{folder}/train.h5").mesh
    test = make_blade_problem(size, seed=3, n_cycles=1, steps_per_cycle=steps, omega=1100.0, mesh=mesh)
    test = replace(test, times=test.times[:enrichments + 2])
    calls = []
    original = rom.hifi.step.advance
    def counting(disc, *args, **kwargs):
        calls.append(len(disc.cells))
        return original(disc, *args, **kwargs)
    rom.hifi.step.advance = counting
    model = ReducedOrderModel.load(f"{folder}/rom.h5", comm=comm)
    policy = Enrichment(tol=1e-12, max_enrichments=enrichments)
    model.solve(test, comm=comm)                             # warm-up: imports, first-call costs
    def status(key):
        for line in open("/proc/self/status"):
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")                                    # the peak mark starts here
        reset = True
    except OSError:
        reset = False
    before = status("VmRSS:")
    comm.Barrier()
    start = time.perf_counter()
    result = model.solve(test, comm=comm, adaptive=policy)
    comm.Barrier()
    seconds = time.perf_counter() - start
    peak = status("VmHWM:")
    figures = comm.gather({"rank": comm.rank, "seconds": seconds, "peak_above_start": peak - before,
                           "peak": peak, "before": before, "hf_solves": len(calls), "hf_cells": calls,
                           "peak_mark_reset": reset}, root=0)
    if comm.rank == 0:
        print(json.dumps({"ranks": comm.size, "per_rank": figures, "enrichments": len(result.enrichments),
                          "hf_seconds": result.hf_seconds, "cells": mesh.n_cells,
                          "events": [e.to_dict() for e in result.enrichments]}))
"""


def _run(command: list[str], env: dict) -> dict:
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])} … failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--size", type=float, default=None, help="blade mesh size (1.5: ~160 000 dofs)")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--enrichments", type=int, default=2)
    args = parser.parse_args(argv)
    size = args.size or (3.5 if args.quick else 1.5)
    mpiexec = Path(sys.executable).parent / "mpiexec"
    launcher = [str(mpiexec) if mpiexec.exists() else "mpiexec"]
    env = {**os.environ, **_ENV}
    with tempfile.TemporaryDirectory(prefix="nirom-bench-enrichment-") as folder:
        child = Path(folder) / "child.py"
        child.write_text(_CHILD)
        common = [str(ROOT), folder, str(size), str(args.steps), str(args.enrichments)]
        print(f"training the blade (size {size}) on 2 ranks …", flush=True)
        mesh = _run(launcher + ["-n", "2", sys.executable, str(child), common[0], "train", *common[1:]], env)
        print(f"  {mesh['dofs']} dofs; offline on 2 ranks …", flush=True)
        _run(launcher + ["-n", "2", sys.executable, str(child), common[0], "offline", *common[1:]], env)
        runs = {}
        for ranks in (1, 2):
            print(f"adaptive solve on {ranks} rank(s) …", flush=True)
            runs[ranks] = _run(launcher + ["-n", str(ranks), sys.executable, str(child), common[0], "online",
                                           *common[1:]], env)
    one, two = runs[1], runs[2]
    memory_1 = one["per_rank"][0]["peak_above_start"]
    memory_2 = max(r["peak_above_start"] for r in two["per_rank"])
    time_1, time_2 = one["per_rank"][0]["seconds"], max(r["seconds"] for r in two["per_rank"])
    figures = {
        "size": size, "dofs": mesh["dofs"], "cells": mesh["cells"], "enrichments": [one["enrichments"],
                                                                                    two["enrichments"]],
        "hf_solves_per_rank": {1: [r["hf_solves"] for r in one["per_rank"]],
                               2: [r["hf_solves"] for r in two["per_rank"]]},
        "hf_cells_per_rank_2": [r["hf_cells"] for r in two["per_rank"]],
        "memory_MiB": {1: memory_1 / 2**20, 2: [r["peak_above_start"] / 2**20 for r in two["per_rank"]]},
        "memory_ratio_2_vs_1": memory_2 / memory_1,
        "seconds": {1: time_1, 2: time_2}, "time_ratio_2_vs_1": time_2 / time_1,
        "hf_seconds": {1: one["hf_seconds"], 2: two["hf_seconds"]},
        "peak_mark_reset": one["per_rank"][0]["peak_mark_reset"],
        "load_average": os.getloadavg(),
    }
    print(f"blade {mesh['dofs']} dofs, {one['enrichments']} / {two['enrichments']} enrichments on 1 / 2 ranks")
    print(f"  HF solves per rank: 1 rank {figures['hf_solves_per_rank'][1]}, 2 ranks {figures['hf_solves_per_rank'][2]}"
          f" (cells per rank {figures['hf_cells_per_rank_2']} of {mesh['cells']})")
    print(f"  memory of the adaptive solve: {memory_1 / 2**20:.0f} MiB on 1 rank, "
          f"{', '.join(f'{m:.0f}' for m in figures['memory_MiB'][2])} MiB per rank on 2 → ratio "
          f"{figures['memory_ratio_2_vs_1']:.2f} (target ≤ 0.6)")
    print(f"  wall time: {time_1:.1f} s on 1 rank, {time_2:.1f} s on 2 → ratio {figures['time_ratio_2_vs_1']:.2f} "
          f"(target ≤ 0.7); HF steps {one['hf_seconds']:.1f} s / {two['hf_seconds']:.1f} s")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / ("enrichment_quick.json" if args.quick else "enrichment.json")).write_text(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
