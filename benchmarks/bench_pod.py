"""POD figures, measured side by side in one run.

(a) **Distributed POD** (method of snapshots, ``rom.pod.pod``) of a synthetic smooth
    snapshot set of ``--dofs`` (≥ 600 000) dofs × ``--snapshots`` (200) snapshots with
    a diagonal inner product (a lumped-mass-like weight per dof), on 1 rank and on
    ``--ranks`` (2) ranks (``mpiexec`` subprocesses, ``--rounds`` of each, interleaved,
    best counts). Each rank generates its own rows inside its process, deterministic
    by global dof index (so the ranks hold exactly the rows of the 1-rank set and the
    memory measures the algorithm, not a generator), then times ``pod`` between two
    barriers (best of ``--repeat``). Figures: wall time and speed-up (target ≥ 1.6),
    per-rank peak memory (``ru_maxrss``; target ≤ 0.6 × the 1-rank peak), and the
    1-rank vs 2-rank singular values.
(b) **Method of snapshots vs. a dense SVD** of the same tall matrix (1 process,
    identity inner product): ``pod(S, tol)`` against
    ``numpy.linalg.svd(Sᵀ, full_matrices=False)`` (``Sᵀ``: ``n_dofs × n_snapshots``):
    speed-up (target ≥ 5) and the relative difference of the leading singular values
    (target ≤ 1e-10; the method of snapshots resolves ``σ_i`` to about
    ``eps σ_1² / σ_i²``, so "leading" is ``σ_i ≥ 1e-3 σ_1``). The randomized
    variant (``method="randomized"``, same number of modes) is timed alongside.

BLAS threads: section (a) runs twice by default, first with the threads **as they
are** (no environment variable is changed; on a 2-core machine one process already
uses both cores through OpenBLAS, and 2 ranks run 4 BLAS threads on 2 cores), then
with **1 BLAS thread per process** (a threadpoolctl limit inside each child, again
no environment change): the MPI scaling proper. Every child reports
``threadpoolctl.threadpool_info()``; the load average is recorded (the machine may
be shared).

Run: ``python -m benchmarks.bench_pod [--quick] [--dofs 600000] [--snapshots 200]
[--ranks 2] [--rounds 2] [--repeat 2] [--tol 1e-6] [--no-svd] [--blas-threads as-is 1]``.
Prints a table and writes ``benchmarks/results/pod.json``. ``--quick``: 60 000 dofs ×
100 snapshots, one round (well under a minute).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"
ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ synthetic snapshots
def grid_dims(n_nodes: int) -> tuple[int, int, int]:
    """A box grid of at least ``n_nodes`` nodes, 4 times longer along x."""
    ny = max(2, int(round((n_nodes / 4) ** (1 / 3))))
    return -(-n_nodes // (ny * ny)), ny, ny


def snapshot_rows(lo: int, hi: int, n_dofs: int, n_snapshots: int, chunk: int = 4096) -> np.ndarray:
    """Rows ``lo:hi`` (global dof indices) of every snapshot of the synthetic set.

    A moving Gaussian pulse, a travelling wave and a growing field on a box grid of
    ``n_dofs / 3`` nodes (3 components, node-major): smooth, full rank, about 15 modes
    above ``1e-6 σ_1``. Entry ``(k, j)`` depends only on ``k`` and the global ``j``, so
    any partition of the rows holds the same numbers.

    Returns
    -------
    (n_snapshots, hi - lo) array
    """
    nx, ny, nz = grid_dims(n_dofs // 3)
    aspect = ny / nx
    t = np.linspace(0.0, 1.0, n_snapshots)[:, None]
    centre = 0.2 + 0.6 * t
    out = np.empty((n_snapshots, hi - lo))
    for start in range(lo, hi, chunk):
        j = np.arange(start, min(start + chunk, hi))
        node, component = j // 3, j % 3
        x0, x1, x2 = (node // (ny * nz)) / nx, (node // nz % ny) / nx, (node % nz) / nx
        block = out[:, start - lo:start - lo + len(j)]
        pulse = np.exp(-((x0 - centre) ** 2 + (x1 - 0.5 * aspect) ** 2 + (x2 - 0.5 * aspect) ** 2) / 0.04)
        block[:] = np.where(component == 0, pulse * (1 + 0.5 * t),
                            np.where(component == 1, 0.3 * np.sin(np.pi * x0 * (1 + t)) * np.cos(np.pi * x1 / aspect),
                                     0.2 * x2 * t**2 + 0.1 * pulse * np.sin(3 * np.pi * t)))
    return out


def diagonal_weights(lo: int, hi: int) -> np.ndarray:
    """A positive weight per dof (lumped-mass-like), by global index."""
    j = np.arange(lo, hi)
    return 1.0 + 0.5 * np.sin(0.001 * (j // 3))


# ------------------------------------------------------------------ children
_DISTRIBUTED_CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from mpi4py import MPI
import numpy as np
from benchmarks.bench_pod import diagonal_weights, snapshot_rows, blas_info, limit_blas, current_rss
from rom.pod import pod

n_dofs, n_snapshots, repeat = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
tol, inner, threads = float(sys.argv[5]), sys.argv[6], sys.argv[7]
limiter = limit_blas(threads)
comm = MPI.COMM_WORLD
lo, hi = (int(v) for v in np.linspace(0, n_dofs, comm.size + 1).astype(int)[[comm.rank, comm.rank + 1]])
baseline = current_rss()
S = snapshot_rows(lo, hi, n_dofs, n_snapshots)
weights = diagonal_weights(lo, hi) if inner == "diagonal" else None
after_snapshots = current_rss()
times, cpu = [], []
for _ in range(repeat + 1):
    comm.Barrier()
    start, cpu_start = time.perf_counter(), time.process_time()
    basis = pod(S, inner_product=weights, tol=tol, comm=comm)
    cpu_seconds = time.process_time() - cpu_start
    comm.Barrier()
    times.append(time.perf_counter() - start)
    cpu.append(cpu_seconds)
    if len(times) <= repeat:
        del basis
times, cpu = times[:repeat], cpu[:repeat]
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
ranks = comm.gather({"rank": comm.rank, "rows": hi - lo, "baseline_rss_bytes": baseline,
                     "rss_after_snapshots_bytes": after_snapshots, "peak_rss_bytes": peak,
                     "cpu_seconds": min(cpu)}, root=0)
if comm.rank == 0:
    print(json.dumps({"ranks": comm.size, "seconds": min(times), "seconds_of_each_repeat": times,
                      "max_cpu_seconds": max(r["cpu_seconds"] for r in ranks),
                      "n_modes": basis.n_modes, "singular_values": basis.singular_values.tolist(),
                      "per_rank": ranks, "max_peak_rss_bytes": max(r["peak_rss_bytes"] for r in ranks),
                      "blas": blas_info()}))
"""

_SVD_CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
import numpy as np
from benchmarks.bench_pod import snapshot_rows, blas_info, limit_blas
from rom.pod import pod

n_dofs, n_snapshots, repeat = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
tol, threads = float(sys.argv[5]), sys.argv[6]
limiter = limit_blas(threads)
S = snapshot_rows(0, n_dofs, n_dofs, n_snapshots)
pod_times, pod_cpu = [], []
for _ in range(repeat):
    start, cpu_start = time.perf_counter(), time.process_time()
    basis = pod(S, tol=tol)
    pod_times.append(time.perf_counter() - start)
    pod_cpu.append(time.process_time() - cpu_start)
random_times = []
for _ in range(repeat):
    start = time.perf_counter()
    randomized = pod(S, n_modes=basis.n_modes, method="randomized")
    random_times.append(time.perf_counter() - start)
start, cpu_start = time.perf_counter(), time.process_time()
U, sigma, Vt = np.linalg.svd(S.T, full_matrices=False)
svd_seconds, svd_cpu = time.perf_counter() - start, time.process_time() - cpu_start
print(json.dumps({"pod_seconds": min(pod_times), "pod_seconds_of_each_repeat": pod_times,
                  "pod_cpu_seconds": min(pod_cpu), "svd_cpu_seconds": svd_cpu,
                  "randomized_seconds": min(random_times), "svd_seconds": svd_seconds,
                  "n_modes": basis.n_modes, "pod_singular_values": basis.singular_values.tolist(),
                  "randomized_singular_values": randomized.singular_values[:basis.n_modes].tolist(),
                  "svd_singular_values": sigma.tolist(),
                  "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "blas": blas_info()}))
"""


def current_rss() -> int:
    """Resident set size of this process now (bytes; Linux), 0 if unknown."""
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def blas_info() -> list[dict]:
    """``threadpoolctl.threadpool_info()`` (empty if threadpoolctl is missing)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keys = ("user_api", "internal_api", "num_threads", "version", "threading_layer", "architecture")
    return [{k: pool.get(k) for k in keys} for pool in threadpool_info()]


def limit_blas(threads: str):
    """A threadpoolctl limiter to keep alive, or None when ``threads`` is ``"as-is"``."""
    if threads == "as-is":
        return None
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=int(threads), user_api="blas")


def _child(args: list[str], *, timeout: float) -> dict:
    """Run a child, return the JSON of its last stdout line (environment unchanged but PYTHONPATH)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    out = subprocess.run(args, capture_output=True, text=True, env=env, timeout=timeout)
    if out.returncode != 0:
        tail = "\n".join((out.stderr or out.stdout).strip().splitlines()[-15:])
        raise RuntimeError(f"{' '.join(args[:4])}... failed (exit {out.returncode}):\n{tail}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _mpiexec() -> str:
    candidate = Path(sys.executable).with_name("mpiexec")
    return str(candidate) if candidate.exists() else "mpiexec"


# ------------------------------------------------------------------ sections
def distributed(n_dofs: int, n_snapshots: int, *, ranks: int = 2, rounds: int = 2, repeat: int = 2,
                tol: float = 1e-6, inner: str = "diagonal", threads: str = "as-is", timeout: float = 3600.0) -> dict:
    """Section (a): 1 rank vs ``ranks`` ranks, interleaved rounds, best of each."""
    out = {"n_dofs": n_dofs, "n_snapshots": n_snapshots, "inner_product": inner, "tol": tol, "blas_threads": threads,
           "load_average_before": os.getloadavg()[0]}
    runs: dict[int, list[dict]] = {1: [], ranks: []}
    for _ in range(rounds):
        for n in (1, ranks):
            runs[n].append(_child([_mpiexec(), "-n", str(n), sys.executable, "-c", _DISTRIBUTED_CHILD, str(ROOT),
                                   str(n_dofs), str(n_snapshots), str(repeat), repr(tol), inner, threads],
                                  timeout=timeout))
    for n, children in runs.items():
        best = dict(min(children, key=lambda c: c["seconds"]))
        best["seconds_of_each_round"] = [c["seconds"] for c in children]
        best["max_peak_rss_bytes"] = min(c["max_peak_rss_bytes"] for c in children)     # peak is deterministic-ish
        out[f"ranks_{n}"] = best
    one, many = out["ranks_1"], out[f"ranks_{ranks}"]
    out["load_average_after"] = os.getloadavg()[0]
    out["speedup"] = one["seconds"] / many["seconds"]
    # CPU seconds of the busiest rank: what the wall time would be with a core per rank (load-independent)
    out["cpu_speedup"] = one["max_cpu_seconds"] / many["max_cpu_seconds"]
    out["memory_ratio"] = many["max_peak_rss_bytes"] / one["max_peak_rss_bytes"]
    s1, s2 = np.array(one["singular_values"]), np.array(many["singular_values"])
    leading = s1 >= 1e-3 * s1[0]
    out["same_n_modes"] = one["n_modes"] == many["n_modes"]
    out["singular_values_max_rel_diff_leading"] = float(np.max(np.abs(s2[leading] - s1[leading]) / s1[leading]))
    out["targets"] = {"speedup": 1.6, "memory_ratio": 0.6}
    return out


def versus_svd(n_dofs: int, n_snapshots: int, *, repeat: int = 2, tol: float = 1e-6, threads: str = "as-is",
               timeout: float = 3600.0) -> dict:
    """Section (b): method of snapshots vs numpy.linalg.svd of the same tall matrix (one process)."""
    child = _child([sys.executable, "-c", _SVD_CHILD, str(ROOT), str(n_dofs), str(n_snapshots), str(repeat),
                    repr(tol), threads], timeout=timeout)
    pod_sigma, svd_sigma = np.array(child.pop("pod_singular_values")), np.array(child.pop("svd_singular_values"))
    random_sigma = np.array(child.pop("randomized_singular_values"))
    rel = np.abs(pod_sigma - svd_sigma) / svd_sigma
    leading = svd_sigma >= 1e-3 * svd_sigma[0]
    n = child["n_modes"]
    child.update({
        "n_dofs": n_dofs, "n_snapshots": n_snapshots, "tol": tol, "blas_threads": threads,
        "speedup": child["svd_seconds"] / child["pod_seconds"],
        "cpu_speedup": child["svd_cpu_seconds"] / child["pod_cpu_seconds"],
        "randomized_speedup": child["svd_seconds"] / child["randomized_seconds"],
        "leading_count": int(leading.sum()),
        "max_rel_diff_leading": float(rel[leading].max()),
        "max_rel_diff_first_10": float(rel[:10].max()),
        "max_rel_diff_kept_modes": float(rel[:n].max()),
        "randomized_max_rel_diff_first_10": float((np.abs(random_sigma - svd_sigma[:n]) / svd_sigma[:n])[:10].max()),
        "singular_values_svd_head": svd_sigma[:n + 2].tolist(),
        "targets": {"speedup": 5.0, "max_rel_diff_leading": 1e-10},
    })
    return child


def run(*, quick: bool = False, n_dofs: int | None = None, n_snapshots: int | None = None, ranks: int = 2,
        rounds: int | None = None, repeat: int = 2, tol: float = 1e-6, inner: str = "diagonal", svd: bool = True,
        threads: tuple[str, ...] = ("as-is", "1")) -> dict:
    """Measure sections (a) and (b); returns the figures (``main`` writes them to results/pod.json).

    Section (a) runs once per BLAS-thread setting of ``threads`` (``"as-is"``: the
    environment's; a number: threadpoolctl limit inside each process); section (b)
    with the first setting.
    """
    n_dofs = n_dofs or (60_000 if quick else 600_000)
    n_snapshots = n_snapshots or (100 if quick else 200)
    rounds = rounds or (1 if quick else 2)
    figures = {"distributed": {setting: distributed(n_dofs, n_snapshots, ranks=ranks, rounds=rounds, repeat=repeat,
                                                    tol=tol, inner=inner, threads=setting) for setting in threads}}
    if svd:
        figures["versus_svd"] = {setting: versus_svd(n_dofs, n_snapshots, repeat=repeat, tol=tol, threads=setting)
                                 for setting in threads}
    figures["environment"] = {
        "python": platform.python_version(), "numpy": np.__version__, "scipy": __import__("scipy").__version__,
        "cpus": os.cpu_count(), "machine": platform.machine(), "blas": blas_info(),
        "threads_env": {k: os.environ[k] for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
                        if k in os.environ},
    }
    return figures


def _mib(n: float) -> str:
    return f"{n / 2**20:8.1f} MiB"


def print_table(figures: dict) -> None:
    for setting, d in figures["distributed"].items():
        print(f"[a] distributed POD: {d['n_dofs']} dofs x {d['n_snapshots']} snapshots, {d['inner_product']} inner "
              f"product, tol {d['tol']:g}; BLAS threads per process: {setting} (load average "
              f"{d['load_average_before']:.1f} -> {d['load_average_after']:.1f})")
        print(f"  {'ranks':>5s} {'best s':>8s} {'rounds':>20s} {'cpu s/rank':>10s} {'peak RSS/rank':>14s} "
              f"{'snapshots/rank':>15s} modes")
        for key in (k for k in d if k.startswith("ranks_")):
            r = d[key]
            per = max(r["per_rank"], key=lambda p: p["peak_rss_bytes"])
            rounds = ", ".join(f"{t:.2f}" for t in r["seconds_of_each_round"])
            print(f"  {r['ranks']:5d} {r['seconds']:8.3f} {rounds:>20s} {r['max_cpu_seconds']:10.3f} "
                  f"{_mib(r['max_peak_rss_bytes']):>14s} "
                  f"{_mib(per['rss_after_snapshots_bytes'] - per['baseline_rss_bytes']):>15s} {r['n_modes']}")
        print(f"  speed-up {d['speedup']:.2f} (target >= 1.6; CPU time of the busiest rank: {d['cpu_speedup']:.2f}); "
              f"peak memory ratio {d['memory_ratio']:.2f} "
              f"(target <= 0.6); same number of modes {d['same_n_modes']}; σ 1 vs n ranks (σ >= 1e-3 σ1) max "
              f"rel diff {d['singular_values_max_rel_diff_leading']:.1e}\n")
    for setting, v in figures.get("versus_svd", {}).items():
        print(f"[b] method of snapshots vs numpy.linalg.svd of the {v['n_dofs']} x {v['n_snapshots']} matrix "
              f"(1 process, identity, tol {v['tol']:g}: {v['n_modes']} modes); BLAS threads: {setting}")
        print(f"  pod {v['pod_seconds']:.3f} s, randomized pod {v['randomized_seconds']:.3f} s, numpy svd "
              f"{v['svd_seconds']:.2f} s -> speed-up {v['speedup']:.1f} (target >= 5; CPU time "
              f"{v['cpu_speedup']:.1f}), randomized {v['randomized_speedup']:.1f}")
        print(f"  singular values, max rel diff to svd: leading ({v['leading_count']} with σ >= 1e-3 σ1) "
              f"{v['max_rel_diff_leading']:.1e} (target <= 1e-10), first 10 {v['max_rel_diff_first_10']:.1e}, "
              f"kept modes {v['max_rel_diff_kept_modes']:.1e}; randomized first 10 "
              f"{v['randomized_max_rel_diff_first_10']:.1e}\n")
    blas = figures["environment"]["blas"]
    pools = "; ".join(f"{b['internal_api']} {b['version']} {b['num_threads']} threads ({b['threading_layer']})"
                      for b in blas)
    print(f"BLAS (parent, as is): {pools}; {figures['environment']['cpus']} cpus")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="POD benchmark: distributed speed-up and memory, vs dense SVD")
    parser.add_argument("--quick", action="store_true", help="60 000 dofs x 100 snapshots, one round")
    parser.add_argument("--dofs", type=int)
    parser.add_argument("--snapshots", type=int)
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--rounds", type=int, help="runs of each configuration, interleaved (best counts)")
    parser.add_argument("--repeat", type=int, default=2, help="timed pod calls per run (best counts)")
    parser.add_argument("--tol", type=float, default=1e-6)
    parser.add_argument("--inner-product", choices=["diagonal", "identity"], default="diagonal")
    parser.add_argument("--no-svd", action="store_true", help="skip section (b)")
    parser.add_argument("--blas-threads", nargs="+", default=["as-is", "1"],
                        help="settings of section (a): 'as-is' (the environment's) and/or thread counts (threadpoolctl "
                             "limits inside each process); default: as-is, then 1")
    args = parser.parse_args(argv)
    figures = run(quick=args.quick, n_dofs=args.dofs, n_snapshots=args.snapshots, ranks=args.ranks,
                  rounds=args.rounds, repeat=args.repeat, tol=args.tol, inner=args.inner_product,
                  svd=not args.no_svd, threads=tuple(args.blas_threads))
    print_table(figures)
    RESULTS.mkdir(exist_ok=True)
    target = RESULTS / "pod.json"
    temporary = target.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(figures, indent=2) + "\n")
    os.replace(temporary, target)
    print(f"\nwrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
