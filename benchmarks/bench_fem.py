"""FE-kernel figures: strain operator and stiffness assembly on a hex20 mesh.

1. Build ``B`` (``rom.fem.strain_operator``) for a structured hexahedron20 mesh of
   at least 150 000 dofs (23³ cells: 160 704 dofs, 328 509 points, 59 M entries).
2. Assemble ``K = Bᵀ diag(w D) B`` both ways, side by side in one run: the
   element-by-element path ``rom.fem.stiffness`` uses for a ``B`` from
   ``strain_operator``, and the sparse triple product ``Bᵀ (W B)`` (6 × 6 BSR W)
   it falls back to for any other ``B``; the results are compared. Also the
   element path with its pattern kept (``rom.fem.StiffnessAssembler``, what the HF
   solver does): the pattern's cost once, then per call; peak memory of a call
   (tracemalloc) both ways.
3. ``B @ u``, ``Bᵀ (w σ)`` and the consistent mass matrix, for scale.
4. A naive per-element Python loop (B and K) on a small mesh versus the
   vectorised kernel on the same mesh, for the ratio.

Run: ``python -m benchmarks.bench_fem [--n 23] [--repeat 2] [--skip-triple]``.
Prints a table and writes ``benchmarks/results/fem.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from rom import fem
from rom.fem.assembly import stiffness_triple_product
from rom.materials.elastic import elastic_tangent

RESULTS = Path(__file__).parent / "results"


def _elastic_tangent(young: float = 200e3, poisson: float = 0.3) -> np.ndarray:
    """(6, 6) isotropic tangent (rom.materials' own)."""
    lam = young * poisson / ((1 + poisson) * (1 - 2 * poisson))
    return elastic_tangent(lam, young / (2 * (1 + poisson)), 1)[0]


def _best(function, repeat: int):
    """(best wall time over ``repeat`` calls, last result)."""
    best, result = np.inf, None
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def _naive(mesh, D) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Per-element loops (the kind of code rom.fem replaces), for the ratio only."""
    (cell_type, conn), = mesh.cells.items()
    element = fem.reference_element(cell_type)
    rule = fem.quadrature_rule(cell_type, "default")
    dN = element.shape_gradients(rule.points)
    k = conn.shape[1]
    b_rows, b_cols, b_vals, k_rows, k_cols, k_vals = [], [], [], [], [], []
    point = 0
    for cell in conn:
        x = mesh.points[cell]
        dofs = (3 * cell[:, None] + np.arange(3)).ravel()
        Ke = np.zeros((3 * k, 3 * k))
        for q in range(rule.n_points):
            J = x.T @ dN[q]
            G = dN[q] @ np.linalg.inv(J)
            Bq = np.zeros((6, 3 * k))
            for a in range(k):
                gx, gy, gz = G[a]
                Bq[:, 3 * a:3 * a + 3] = [[gx, 0, 0], [0, gy, 0], [0, 0, gz], [gy, gx, 0], [0, gz, gy], [gz, 0, gx]]
            w = rule.weights[q] * np.linalg.det(J)
            Ke += w * Bq.T @ D @ Bq
            rows = np.repeat(6 * point + np.arange(6), 3 * k)
            b_rows.append(rows)
            b_cols.append(np.tile(dofs, 6))
            b_vals.append(Bq.ravel())
            point += 1
        k_rows.append(np.repeat(dofs, 3 * k))
        k_cols.append(np.tile(dofs, 3 * k))
        k_vals.append(Ke.ravel())
    n_dofs = 3 * mesh.n_nodes
    B = sp.coo_matrix((np.concatenate(b_vals), (np.concatenate(b_rows), np.concatenate(b_cols))),
                      shape=(6 * point, n_dofs)).tocsr()
    K = sp.coo_matrix((np.concatenate(k_vals), (np.concatenate(k_rows), np.concatenate(k_cols))),
                      shape=(n_dofs, n_dofs)).tocsr()
    return B, K


def run(n: int = 23, repeat: int = 2, triple: bool = True, naive_n: int = 4) -> dict:
    """Measure the figures; returns them as a dict (also written to results/fem.json)."""
    D = _elastic_tangent()
    start = time.perf_counter()
    mesh = fem.box_mesh("hexahedron20", (n, n, n))
    mesh_seconds = time.perf_counter() - start
    b_seconds, (B, w) = _best(lambda: fem.strain_operator(mesh), repeat)
    n_points = len(w)
    k_seconds, K = _best(lambda: fem.stiffness(B, w, D), repeat)
    pattern_seconds, assemble = _best(lambda: fem.StiffnessAssembler.of(B), 1)
    kept_seconds, K_kept = _best(lambda: assemble(w, D), repeat)
    memory = {"one_call": _traced_peak(lambda: fem.stiffness(B, w, D)),
              "kept_pattern_call": _traced_peak(lambda: assemble(w, D)),
              "pattern": int(assemble.scatter.nbytes + assemble.indices.nbytes + assemble.indptr.nbytes
                             + sum(r.slot.nbytes for r in assemble.runs)),
              "K": int(K.data.nbytes + K.indices.nbytes + K.indptr.nbytes)}
    same_kept = bool(abs(K_kept - K).max() == 0.0)
    del assemble, K_kept
    figures = {
        "case": {
            "cell_type": "hexahedron20", "cells": mesh.n_cells, "nodes": mesh.n_nodes, "dofs": 3 * mesh.n_nodes,
            "integration_points": n_points, "B_nnz": int(B.nnz), "K_nnz": int(K.nnz),
            "B_bytes": int(B.data.nbytes + B.indices.nbytes + B.indptr.nbytes), "mesh_seconds": mesh_seconds,
        },
        "timings_seconds": {"strain_operator": b_seconds, "stiffness_element_path": k_seconds,
                            "stiffness_pattern_once": pattern_seconds, "stiffness_kept_pattern": kept_seconds},
        "stiffness_memory_bytes": memory,
        "kept_pattern_equals_one_call": same_kept,
    }
    u = np.random.default_rng(0).normal(size=B.shape[1])
    figures["timings_seconds"]["B_matvec"], strain = _best(lambda: B @ u, repeat + 1)
    stress = strain.reshape(-1, 6) @ D
    figures["timings_seconds"]["internal_forces"], _ = _best(lambda: fem.internal_forces(B, w, stress), repeat + 1)
    figures["timings_seconds"]["mass_matrix"], _ = _best(lambda: fem.mass_matrix(mesh), 1)
    if triple:
        t_seconds, K_triple = _best(lambda: stiffness_triple_product(B, w, D), 1)
        figures["timings_seconds"]["stiffness_triple_product"] = t_seconds
        figures["comparison"] = {
            "triple_over_element_path": t_seconds / k_seconds,
            "max_abs_difference_over_max_abs_K": float(abs(K - K_triple).max() / abs(K).max()),
        }
        del K_triple
    del B, K
    small = fem.box_mesh("hexahedron20", (naive_n,) * 3)
    naive_seconds, (B_naive, K_naive) = _best(lambda: _naive(small, D), 1)

    def vectorised():
        B_small, w_small = fem.strain_operator(small)
        return B_small, fem.stiffness(B_small, w_small, D)

    vector_seconds, (B_small, K_small) = _best(vectorised, repeat + 1)
    figures["naive_loop"] = {
        "cells": small.n_cells, "naive_seconds": naive_seconds, "vectorised_seconds": vector_seconds,
        "naive_over_vectorised": naive_seconds / vector_seconds,
        "same_B": bool(abs(B_naive - B_small).max() < 1e-12 * abs(B_small).max()),
        "same_K": bool(abs(K_naive - K_small).max() < 1e-10 * abs(K_small).max()),
    }
    figures["environment"] = {
        "python": platform.python_version(), "numpy": np.__version__, "scipy": __import__("scipy").__version__,
        "cpus": os.cpu_count(), "machine": platform.machine(),
        "threads": {k: os.environ[k] for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS") if k in os.environ},
    }
    RESULTS.mkdir(exist_ok=True)
    target = RESULTS / "fem.json"
    temporary = target.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(figures, indent=2))
    os.replace(temporary, target)
    return figures


def _traced_peak(call) -> int:
    """Peak bytes numpy allocates during ``call()`` (tracemalloc), the result included."""
    import tracemalloc

    tracemalloc.start()
    try:
        result = call()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    del result
    return int(peak)


def _print(figures: dict) -> None:
    case = figures["case"]
    print(f"hexahedron20 box: {case['cells']} cells, {case['dofs']} dofs, {case['integration_points']} points, "
          f"B {case['B_nnz'] / 1e6:.1f} M entries ({case['B_bytes'] / 2**20:.0f} MiB), K {case['K_nnz'] / 1e6:.1f} M")
    for name, seconds in figures["timings_seconds"].items():
        print(f"  {name:<28s} {seconds:8.3f} s")
    m = figures["stiffness_memory_bytes"]
    print(f"  stiffness peak memory: one call {m['one_call'] / 2**20:.0f} MiB; with the kept pattern "
          f"{m['kept_pattern_call'] / 2**20:.0f} MiB per call (pattern {m['pattern'] / 2**20:.0f} MiB, K "
          f"{m['K'] / 2**20:.0f} MiB); same K: {figures['kept_pattern_equals_one_call']}")
    if "comparison" in figures:
        c = figures["comparison"]
        print(f"  triple product / element path: {c['triple_over_element_path']:.1f}x "
              f"(max |ΔK| / max |K| = {c['max_abs_difference_over_max_abs_K']:.1e})")
    nv = figures["naive_loop"]
    print(f"  naive per-element loop, {nv['cells']} cells: {nv['naive_seconds']:.2f} s vs "
          f"{nv['vectorised_seconds']:.3f} s vectorised ({nv['naive_over_vectorised']:.0f}x; same B {nv['same_B']}, same K {nv['same_K']})")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=23, help="cells per cube edge (23 → 160 704 dofs)")
    parser.add_argument("--repeat", type=int, default=2, help="repetitions (best time kept)")
    parser.add_argument("--skip-triple", action="store_true", help="skip the slow triple-product comparison")
    parser.add_argument("--naive-n", type=int, default=4, help="cells per edge of the naive-loop mesh")
    args = parser.parse_args(argv)
    _print(run(n=args.n, repeat=args.repeat, triple=not args.skip_triple, naive_n=args.naive_n))
    print(f"written: {RESULTS / 'fem.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
