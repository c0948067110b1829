"""Clustering kernels, measured side by side in one run (issue 11).

(a) **Snapshot-angle dissimilarity matrix** (``clustering.dissimilarity.snapshot_dissimilarity``,
    ``metric="angle"``) of ``--snapshots`` (1000) snapshots of ``--dofs`` (10⁵) dofs with
    a diagonal inner product (a lumped-mass-like weight per dof): the Gram matrix
    dominates. 1 rank vs ``--ranks`` (2) ranks: ``mpiexec`` children, one BLAS thread
    per process (a threadpoolctl limit inside each, no environment change),
    ``--rounds`` interleaved rounds, best counts. Each rank generates its own rows,
    deterministic by global dof index (the ranks hold exactly the rows of the 1-rank
    set), then times the call between two barriers (best of ``--repeat``). Figures:
    wall time, speed-up (target ≥ 1.6), largest difference of the matrices (the
    children write them to a temporary folder).
(b) **Grassmann dissimilarity between simulations**: ``--simulations`` (200)
    simulations of ``--snapshots-per-simulation`` (8) snapshots of the same dofs, POD
    subspace of rank ``--rank`` (5) each (``simulation_bases``: one POD and one
    Allreduce per simulation), then ``subspace_dissimilarity`` (one cross-Gram of the
    1000 stacked modes, one Allreduce, 19 900 small SVDs). Same protocol as (a); both
    steps timed, speed-up on their sum.
(c) **k-medoids on a 1000 × 1000 matrix** (one process, one BLAS thread):
    ``clustering.kmedoids.kmedoids`` with its defaults (``n_init=10``: BUILD + 9 random
    starts) with nirom's BSD swap phase vs the GPL ``kmedoids`` package's FasterPAM
    from the same starts (``backend="kmedoids"``) vs the package alone (10 random
    starts, ``n_cpu=1``); on Gaussian blobs (K = 10 in 5-D) and on a uniform random
    symmetric matrix. Target: nirom ≤ 1 s. Costs are reported next to the times.

Run: ``python -m benchmarks.bench_clustering_kernels [--quick] [--dofs 100000]
[--snapshots 1000] [--simulations 200] [--rank 5] [--ranks 2] [--rounds 2]
[--repeat 2]``. Prints a table and writes ``benchmarks/results/clustering_kernels.json``
(``--quick``: 20 000 dofs, 300 snapshots, 60 simulations, one round, the same
k-medoids section; ``clustering_kernels_quick.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.bench_pod import _child, _mpiexec, blas_info

RESULTS = Path(__file__).parent / "results"
ROOT = Path(__file__).resolve().parents[1]

CHUNK = 4096


# ------------------------------------------------------------------ synthetic data
def random_rows(lo: int, hi: int, n_rows: int, seed: int) -> np.ndarray:
    """Columns ``lo:hi`` (global dof indices) of a ``(n_rows, ·)`` matrix, uniform in [−0.5, 0.5).

    Column chunk ``c`` of :data:`CHUNK` dofs is drawn from ``default_rng((seed, c))``,
    so any partition of the dofs holds the same numbers.
    """
    out = np.empty((n_rows, hi - lo))
    for chunk in range(lo // CHUNK, (hi - 1) // CHUNK + 1):
        start, stop = chunk * CHUNK, (chunk + 1) * CHUNK
        block = np.random.default_rng((seed, chunk)).random((n_rows, CHUNK)) - 0.5
        a, b = max(start, lo), min(stop, hi)
        out[:, a - lo:b - lo] = block[:, a - start:b - start]
    return out


def weights(lo: int, hi: int) -> np.ndarray:
    """A positive weight per dof (lumped-mass-like), by global index."""
    j = np.arange(lo, hi)
    return 1.0 + 0.5 * np.sin(0.001 * (j // 3))


def simulation_rows(lo: int, hi: int, n_simulations: int, n_snapshots: int, rank: int) -> list[np.ndarray]:
    """Each simulation: ``n_snapshots`` combinations of ``rank`` random fields (its subspace) plus a faint tail."""
    fields = random_rows(lo, hi, n_simulations * rank, seed=1)
    tail = random_rows(lo, hi, n_simulations * n_snapshots, seed=2)
    rng = np.random.default_rng(3)
    out = []
    for s in range(n_simulations):
        coefficients = rng.standard_normal((n_snapshots, rank)) * np.logspace(0, -1, rank)
        rows = coefficients @ fields[s * rank:(s + 1) * rank]
        rows += 1e-3 * tail[s * n_snapshots:(s + 1) * n_snapshots]
        out.append(rows)
    return out


# ------------------------------------------------------------------ children
_DISTRIBUTED_CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from mpi4py import MPI
import numpy as np
from benchmarks.bench_clustering_kernels import random_rows, simulation_rows, weights
from benchmarks.bench_pod import blas_info, limit_blas
from clustering.dissimilarity import simulation_bases, snapshot_dissimilarity, subspace_dissimilarity

task, n_dofs, count, repeat, folder = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
per_simulation, rank = int(sys.argv[7]), int(sys.argv[8])
limiter = limit_blas("1")
comm = MPI.COMM_WORLD
lo, hi = (int(v) for v in np.linspace(0, n_dofs, comm.size + 1).astype(int)[[comm.rank, comm.rank + 1]])
w = weights(lo, hi)
if task == "angle":
    rows = random_rows(lo, hi, count, seed=0)
else:
    sims = simulation_rows(lo, hi, count, per_simulation, rank)
times, split, cpu = [], [], []
for _ in range(repeat):
    comm.Barrier()
    start, cpu_start = time.perf_counter(), time.process_time()
    if task == "angle":
        D = snapshot_dissimilarity(rows, metric="angle", inner_product=w, comm=comm)
        cpu_seconds = time.process_time() - cpu_start
        comm.Barrier()
        times.append(time.perf_counter() - start)
    else:
        bases = simulation_bases(sims, rank=rank, inner_product=w, comm=comm)
        comm.Barrier()
        middle = time.perf_counter()
        D = subspace_dissimilarity(bases, metric="grassmann", comm=comm)
        cpu_seconds = time.process_time() - cpu_start
        comm.Barrier()
        times.append(time.perf_counter() - start)
        split.append((middle - start, time.perf_counter() - middle))
    cpu.append(cpu_seconds)
busiest = comm.allreduce(min(cpu), op=MPI.MAX)
if comm.rank == 0:
    np.save(f"{folder}/{task}_{comm.size}.npy", D)
    best = int(np.argmin(times))
    out = {"ranks": comm.size, "seconds": times[best], "seconds_of_each_repeat": times, "max_cpu_seconds": busiest,
           "blas": blas_info()}
    if split:
        out["bases_seconds"], out["dissimilarity_seconds"] = split[best]
    print(json.dumps(out))
"""

_KMEDOIDS_CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
import numpy as np
from benchmarks.bench_pod import blas_info, limit_blas
from clustering.kmedoids import kmedoids

n, k, repeat = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
limiter = limit_blas("1")
rng = np.random.default_rng(0)
centres = 4.0 * rng.standard_normal((k, 5))
points = centres[rng.integers(0, k, n)] + rng.standard_normal((n, 5))
matrices = {"blobs": np.sqrt(((points[:, None] - points[None]) ** 2).sum(axis=2))}
A = rng.random((n, n))
matrices["uniform"] = A + A.T
np.fill_diagonal(matrices["uniform"], 0.0)

def timed(f):
    best, value = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        value = f()
        best = min(best, time.perf_counter() - start)
    return best, value

try:
    import kmedoids as package
    from importlib.metadata import version
    package_version = version("kmedoids")
except ImportError:
    package, package_version = None, None
out = {"n": n, "k": k, "blas": blas_info(), "package": package_version}
for name, D in matrices.items():
    row = {}
    seconds, result = timed(lambda: kmedoids(D, k))
    row["nirom"] = {"seconds": seconds, "cost": result.cost, "n_swaps": result.n_swaps}
    one, single = timed(lambda: kmedoids(D, k, n_init=1))
    row["nirom_build_only"] = {"seconds": one, "cost": single.cost}
    if package is not None:
        seconds, other = timed(lambda: kmedoids(D, k, backend="kmedoids"))
        row["kmedoids_backend_same_starts"] = {"seconds": seconds, "cost": other.cost}
        seconds, direct = timed(lambda: min((package.fasterpam(D, k, random_state=s, n_cpu=1) for s in range(10)),
                                            key=lambda r: r.loss))
        row["kmedoids_package_10_random_starts"] = {"seconds": seconds, "cost": float(direct.loss)}
    out[name] = row
print(json.dumps(out))
"""


# ------------------------------------------------------------------ sections
def distributed(task: str, n_dofs: int, count: int, *, ranks: int = 2, rounds: int = 2, repeat: int = 2,
                per_simulation: int = 8, rank: int = 5, timeout: float = 3600.0) -> dict:
    """Sections (a) and (b): 1 rank vs ``ranks`` ranks, interleaved rounds, best of each."""
    out = {"task": task, "n_dofs": n_dofs, "count": count, "blas_threads": 1,
           "load_average_before": os.getloadavg()[0]}
    if task == "grassmann":
        out.update(snapshots_per_simulation=per_simulation, rank=rank)
    runs: dict[int, list[dict]] = {1: [], ranks: []}
    with tempfile.TemporaryDirectory(prefix="nirom-bench-clustering-") as folder:
        for _ in range(rounds):
            for n in (1, ranks):
                runs[n].append(_child([_mpiexec(), "-n", str(n), sys.executable, "-c", _DISTRIBUTED_CHILD, str(ROOT),
                                       task, str(n_dofs), str(count), str(repeat), folder, str(per_simulation),
                                       str(rank)], timeout=timeout))
        D1, Dn = np.load(f"{folder}/{task}_1.npy"), np.load(f"{folder}/{task}_{ranks}.npy")
    for n, children in runs.items():
        best = dict(min(children, key=lambda c: c["seconds"]))
        best["seconds_of_each_round"] = [c["seconds"] for c in children]
        best["max_cpu_seconds"] = min(c["max_cpu_seconds"] for c in children)
        out[f"ranks_{n}"] = best
    out["load_average_after"] = os.getloadavg()[0]
    out["speedup"] = out["ranks_1"]["seconds"] / out[f"ranks_{ranks}"]["seconds"]
    # CPU seconds of the busiest rank: what the wall time would be with a core per rank (load-independent)
    out["cpu_speedup"] = out["ranks_1"]["max_cpu_seconds"] / out[f"ranks_{ranks}"]["max_cpu_seconds"]
    out["max_abs_difference"] = float(np.abs(D1 - Dn).max())
    out["matrix_shape"] = list(D1.shape)
    out["targets"] = {"speedup": 1.6}
    return out


def kmedoids_section(n: int = 1000, k: int = 10, repeat: int = 3, timeout: float = 600.0) -> dict:
    """Section (c): one process, one BLAS thread."""
    out = _child([sys.executable, "-c", _KMEDOIDS_CHILD, str(ROOT), str(n), str(k), str(repeat)], timeout=timeout)
    out["targets"] = {"nirom_seconds": 1.0}
    return out


def run(*, quick: bool = False, n_dofs: int | None = None, n_snapshots: int | None = None,
        n_simulations: int | None = None, rank: int = 5, per_simulation: int = 8, ranks: int = 2,
        rounds: int | None = None, repeat: int = 2) -> dict:
    """Measure (a), (b), (c); ``main`` writes the figures to results/clustering_kernels[_quick].json."""
    n_dofs = n_dofs or (20_000 if quick else 100_000)
    n_snapshots = n_snapshots or (300 if quick else 1000)
    n_simulations = n_simulations or (60 if quick else 200)
    rounds = rounds or (1 if quick else 2)
    start = time.perf_counter()
    figures = {
        "angle": distributed("angle", n_dofs, n_snapshots, ranks=ranks, rounds=rounds, repeat=repeat),
        "grassmann": distributed("grassmann", n_dofs, n_simulations, ranks=ranks, rounds=rounds, repeat=repeat,
                                 per_simulation=per_simulation, rank=rank),
        "kmedoids": kmedoids_section(),
    }
    figures["environment"] = {
        "python": platform.python_version(), "numpy": np.__version__, "cpus": os.cpu_count(),
        "machine": platform.machine(), "blas": blas_info(), "quick": quick,
        "total_seconds": time.perf_counter() - start,
    }
    return figures


def print_table(figures: dict) -> None:
    for key, title in (("angle", "snapshot-angle dissimilarity"), ("grassmann", "Grassmann dissimilarity")):
        d = figures[key]
        what = (f"{d['count']} snapshots x {d['n_dofs']} dofs" if key == "angle" else
                f"{d['count']} simulations x {d['snapshots_per_simulation']} snapshots x {d['n_dofs']} dofs, "
                f"rank {d['rank']}")
        print(f"[{'a' if key == 'angle' else 'b'}] {title}: {what}; 1 BLAS thread per process (load average "
              f"{d['load_average_before']:.1f} -> {d['load_average_after']:.1f})")
        for name in (k for k in d if k.startswith("ranks_")):
            r = d[name]
            rounds = ", ".join(f"{t:.2f}" for t in r["seconds_of_each_round"])
            extra = (f" (bases {r['bases_seconds']:.2f} s + dissimilarity {r['dissimilarity_seconds']:.2f} s)"
                     if "bases_seconds" in r else "")
            print(f"  {r['ranks']} rank(s): best {r['seconds']:.3f} s, rounds [{rounds}]{extra}, CPU of the busiest "
                  f"rank {r['max_cpu_seconds']:.2f} s")
        print(f"  speed-up {d['speedup']:.2f} (target >= 1.6; CPU time of the busiest rank: "
              f"{d['cpu_speedup']:.2f}); matrix {d['matrix_shape']}, 1 vs n ranks max abs difference "
              f"{d['max_abs_difference']:.1e}\n")
    km = figures["kmedoids"]
    print(f"[c] k-medoids, {km['n']} x {km['n']} matrix, K = {km['k']}, 1 process, 1 BLAS thread "
          f"(kmedoids package {km['package']})")
    for name in ("blobs", "uniform"):
        row = km[name]
        parts = [f"{label} {v['seconds']:.3f} s (cost {v['cost']:.6g})" for label, v in row.items()]
        print(f"  {name}: " + "; ".join(parts))
    print("  target: nirom (n_init=10) <= 1 s\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Clustering kernels: distributed dissimilarities, k-medoids")
    parser.add_argument("--quick", action="store_true", help="20 000 dofs, 300 snapshots, 60 simulations, one round")
    parser.add_argument("--dofs", type=int)
    parser.add_argument("--snapshots", type=int)
    parser.add_argument("--simulations", type=int)
    parser.add_argument("--snapshots-per-simulation", type=int, default=8)
    parser.add_argument("--rank", type=int, default=5)
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--rounds", type=int, help="runs of each configuration, interleaved (best counts)")
    parser.add_argument("--repeat", type=int, default=2, help="timed calls per run (best counts)")
    args = parser.parse_args(argv)
    figures = run(quick=args.quick, n_dofs=args.dofs, n_snapshots=args.snapshots, n_simulations=args.simulations,
                  rank=args.rank, per_simulation=args.snapshots_per_simulation, ranks=args.ranks,
                  rounds=args.rounds, repeat=args.repeat)
    print_table(figures)
    RESULTS.mkdir(exist_ok=True)
    target = RESULTS / ("clustering_kernels_quick.json" if args.quick else "clustering_kernels.json")
    temporary = target.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(figures, indent=2) + "\n")
    os.replace(temporary, target)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
