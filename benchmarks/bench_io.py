"""I/O figures of the foundation issue, measured side by side in one run.

1. Streaming conversion of a synthetic Zset result of >= 1 GB to the store:
   peak RSS during the conversion above the RSS just before it (interpreter,
   libraries and mesh; the kernel's peak mark is reset there), compared with the
   size of one time step of the largest field (target: <= 2 steps).
2. Read throughput of Zset ``.integ`` data through nirom (every integration-point
   field, step by step; default reader threads, and one thread) versus a raw
   ``numpy.fromfile`` of the same bytes (target: >= 50 %).
3. A partial read of 1/4 of the rows versus a full read (target: <= 35 %).

Run: ``python -m benchmarks.bench_io [--gigabytes 1.0] [--n 40] [--keep DIR]``.
Prints a table and writes ``benchmarks/results/io.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.synthetic_zset import INTEG_VARIABLES, steps_for_size, write_result

RESULTS = Path(__file__).parent / "results"

_CHILD = r"""
import gc, sys, time, h5py, numpy as np, io_adapters
ut, out, init = sys.argv[1], sys.argv[2], sys.argv[3]

def status_bytes(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024

sim = io_adapters.read(ut)
mesh_bytes = sim.mesh.points.nbytes + sum(c.nbytes for c in sim.mesh.cells.values())
with h5py.File(init, "w") as f:   # initialise HDF5 before the measured part
    f["x"] = np.zeros(10)
gc.collect()
with open("/proc/self/clear_refs", "w") as f:   # reset the peak (VmHWM) to the current RSS
    f.write("5")
before = status_bytes("VmRSS")
start = time.perf_counter()
io_adapters.save(sim, out)
seconds = time.perf_counter() - start
peak = status_bytes("VmHWM")
import tracemalloc   # the same conversion again, counting the arrays alive at once
tracemalloc.start()
io_adapters.save(sim, out)
print(peak, before, mesh_bytes, tracemalloc.get_traced_memory()[1], seconds)
"""


def conversion_memory(ut: Path, workdir: Path) -> dict:
    """Peak RSS during the conversion (``io_adapters.save``) above the RSS just before it.

    The child process opens the result (mesh in memory, fields still in their
    files) and initialises HDF5, then resets the kernel's peak-RSS mark and
    converts: the peak above the RSS at the reset is what the conversion holds,
    including freed memory the C allocator keeps. A second conversion under
    ``tracemalloc`` gives the peak of the arrays alive at once.
    """
    done = subprocess.run([sys.executable, "-c", _CHILD, str(ut), str(workdir / "converted.h5"),
                           str(workdir / "init.h5")], check=True, capture_output=True, text=True)
    *integers, seconds = done.stdout.split()
    peak, before, mesh_bytes, traced = (int(x) for x in integers)
    seconds = float(seconds)
    import io_adapters

    sim = io_adapters.read(ut)
    step_bytes = max(f.shape[1] * f.shape[2] * 8 for f in sim.fields.values())   # float64 in memory
    overhead = peak - before
    return {
        "integ_bytes": os.path.getsize(ut.with_suffix(".integ")),
        "store_bytes": os.path.getsize(workdir / "converted.h5"),
        "conversion_seconds": seconds,
        "baseline_rss_bytes": before,
        "mesh_bytes": mesh_bytes,
        "conversion_peak_rss_bytes": peak,
        "overhead_bytes": overhead,
        "one_step_of_largest_field_bytes": step_bytes,
        "overhead_in_steps_of_one_field": overhead / step_bytes,
        "traced_peak_bytes": traced,
        "traced_peak_in_steps_of_one_field": traced / step_bytes,
    }


def _read_all(fields, n_steps: int, rows) -> int:
    total = 0
    for k in range(n_steps):
        for f in fields:
            total += f.read(steps=slice(k, k + 1), rows=rows).size
    return total


def read_throughput(ut: Path, repeats: int = 5) -> dict:
    """Times of raw fromfile, nirom full read and nirom quarter read (best of ``repeats``).

    Two raw references: ``np.fromfile`` of the whole file (the target's), and a
    step-by-step ``np.fromfile`` of the same bytes from the page cache, which costs
    no more than a memory copy (a stricter reference, reported beside it). nirom
    reads every integration-point field, step by step, as float64 in the mesh's
    row order (transposition and widening included), with the readers' default
    thread count and with one thread, interleaved in the same repetitions.
    """
    import io_adapters
    from io_adapters import threads

    sim = io_adapters.read(ut)
    fields = [f for f in sim.fields.values() if f.support == "integration_point"]
    n_rows = fields[0].shape[1]
    integ = ut.with_suffix(".integ")
    n_bytes = os.path.getsize(integ)
    default_threads = threads.io_threads()
    whole, stepwise, full, one_thread, quarter = [], [], [], [], []
    step_values = n_bytes // 4 // sim.n_times
    for _ in range(repeats):
        t = time.perf_counter()
        data = np.fromfile(integ, dtype=">f4")
        whole.append(time.perf_counter() - t)
        del data
        t = time.perf_counter()
        with open(integ, "rb") as f:   # the same bytes, one time step at a time
            for _ in range(sim.n_times):
                data = np.fromfile(f, dtype=">f4", count=step_values)
        stepwise.append(time.perf_counter() - t)
        del data
        t = time.perf_counter()
        _read_all(fields, sim.n_times, None)
        full.append(time.perf_counter() - t)
        t = time.perf_counter()
        _read_all(fields, sim.n_times, slice(0, n_rows // 4))
        quarter.append(time.perf_counter() - t)
        threads.set_io_threads(1)
        try:
            t = time.perf_counter()
            _read_all(fields, sim.n_times, None)
            one_thread.append(time.perf_counter() - t)
        finally:
            threads.set_io_threads(None)
    return {
        "integ_bytes": n_bytes,
        "reader_threads": default_threads,
        "fromfile_whole_seconds": min(whole),
        "fromfile_stepwise_seconds": min(stepwise),
        "nirom_full_read_seconds": min(full),
        "nirom_full_read_one_thread_seconds": min(one_thread),
        "nirom_quarter_rows_seconds": min(quarter),
        "throughput_vs_fromfile": min(whole) / min(full),
        "throughput_one_thread_vs_fromfile": min(whole) / min(one_thread),
        "throughput_vs_stepwise_fromfile": min(stepwise) / min(full),
        "quarter_over_full": min(quarter) / min(full),
        "fromfile_GB_per_s": n_bytes / min(whole) / 1e9,
        "stepwise_fromfile_GB_per_s": n_bytes / min(stepwise) / 1e9,
        "nirom_GB_per_s": n_bytes / min(full) / 1e9,
        "nirom_one_thread_GB_per_s": n_bytes / min(one_thread) / 1e9,
    }


def run(gigabytes: float = 1.0, n: int = 40, keep: Path | None = None) -> dict:
    """Write the synthetic result, measure, print and save the figures."""
    workdir = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="nirom-bench-io-"))
    try:
        n_steps = steps_for_size(n, gigabytes)
        t = time.perf_counter()
        ut = write_result(workdir, n=n, n_steps=n_steps)
        written = time.perf_counter() - t
        figures = {
            "case": {"elements": n**3, "integration_points": 8 * n**3, "steps": n_steps,
                     "integ_variables": len(INTEG_VARIABLES), "write_seconds": written},
            "memory": conversion_memory(ut, workdir),
            "read": read_throughput(ut),
        }
    finally:
        if keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    figures["targets"] = {
        "memory_overhead_at_most_2_steps": figures["memory"]["overhead_in_steps_of_one_field"] <= 2.0,
        "throughput_at_least_0.5": figures["read"]["throughput_vs_fromfile"] >= 0.5,
        "quarter_read_at_most_0.35": figures["read"]["quarter_over_full"] <= 0.35,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "io.json").write_text(json.dumps(figures, indent=2))
    _print(figures)
    return figures


def _print(fig: dict) -> None:
    m, r, c = fig["memory"], fig["read"], fig["case"]
    mb = 1 / 2**20
    print(f"synthetic Zset result: {c['elements']} c3d8, {c['integration_points']} IPs, {c['steps']} steps, "
          f".integ {m['integ_bytes'] / 1e9:.2f} GB")
    print(f"conversion: {m['conversion_seconds']:.1f} s, store {m['store_bytes'] / 1e9:.2f} GB")
    print(f"  peak RSS {m['conversion_peak_rss_bytes'] * mb:.0f} MiB, RSS before (libraries + mesh) "
          f"{m['baseline_rss_bytes'] * mb:.0f} MiB, overhead {m['overhead_bytes'] * mb:.1f} MiB "
          f"= {m['overhead_in_steps_of_one_field']:.2f} x one step of one field "
          f"({m['one_step_of_largest_field_bytes'] * mb:.1f} MiB)   target <= 2")
    print(f"  arrays alive at once (tracemalloc peak) {m['traced_peak_bytes'] * mb:.1f} MiB "
          f"= {m['traced_peak_in_steps_of_one_field']:.2f} x one step of one field")
    print(f"read .integ: np.fromfile {r['fromfile_GB_per_s']:.2f} GB/s, nirom ({r['reader_threads']} threads) "
          f"{r['nirom_GB_per_s']:.2f} GB/s -> ratio {r['throughput_vs_fromfile']:.2f}   target >= 0.5")
    print(f"  (nirom on one thread {r['nirom_one_thread_GB_per_s']:.2f} GB/s "
          f"-> ratio {r['throughput_one_thread_vs_fromfile']:.2f})")
    print(f"  (step-by-step np.fromfile from the page cache {r['stepwise_fromfile_GB_per_s']:.2f} GB/s "
          f"-> ratio {r['throughput_vs_stepwise_fromfile']:.2f})")
    print(f"quarter of the rows / full read: {r['quarter_over_full']:.2f}   target <= 0.35")
    print("targets met: " + ", ".join(f"{k}={v}" for k, v in fig["targets"].items()))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gigabytes", type=float, default=1.0)
    parser.add_argument("--n", type=int, default=40, help="elements per cube edge")
    parser.add_argument("--keep", type=Path, help="write the synthetic files here and keep them")
    args = parser.parse_args(argv)
    run(args.gigabytes, args.n, args.keep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
