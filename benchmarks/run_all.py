"""Run every benchmark of the suite: ``make bench`` (``python -m benchmarks.run_all``).

Each benchmark measures its figures as ratios side by side in one run and writes
``benchmarks/results/<name>.json``. ``--quick`` runs the small variants.
"""

from __future__ import annotations

import importlib
import sys

#: (title, module, arguments, arguments of the small variant)
BENCHMARKS = [
    ("I/O: conversion memory, .integ read throughput, partial reads", "bench_io", ["--gigabytes", "1.0"],
     ["--gigabytes", "0.1"]),
    ("FE kernel: strain operator and stiffness assembly", "bench_fem", [], ["--n", "10", "--skip-triple"]),
    ("Constitutive updates: points per second", "bench_materials", [], ["--points", "100000", "--repeats", "2"]),
    ("High-fidelity solver: vs dolfinx, memory, 2 ranks vs 1", "bench_hifi", [], ["--quick"]),
    ("Convergence ratio: error and iterations per ratio (HF and reduced)", "bench_convergence", [], ["--quick"]),
    ("POD: distributed, vs numpy SVD", "bench_pod", [], ["--quick"]),
    ("ECM: large integrand sets", "bench_ecm", [], ["--quick"]),
    ("Stochastic boundary conditions: WGAN-GP vs baselines", "bench_gan", [], ["--quick"]),
    ("Online stage: speed-up, mesh independence, adaptivity, indicator, imposed displacements", "bench_online", [],
     ["--quick"]),
    ("Clustering kernels: distributed dissimilarities, k-medoids", "bench_clustering_kernels", [], ["--quick"]),
    ("Clustering study: local bases, ROM-net, dictionary speed-up (40 min)", "bench_clustering", [], ["--quick"]),
    ("Submodel Monte Carlo: FEniCS data, WGAN, ROM vs HF vs global FE", "bench_submodel", [], ["--quick"]),
]


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    quick = "--quick" in argv
    for title, name, args, small in BENCHMARKS:
        try:
            module = importlib.import_module(f"benchmarks.{name}")
        except ImportError:
            continue
        print(f"\n== {title} ({name})", flush=True)
        module.main(small if quick else args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
