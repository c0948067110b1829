"""What a convergence ratio buys: displacement error and Newton iterations per ratio, one run.

For each thermo-mechanical Zset deck, the HF solver runs at the deck-style ratios
1e-2 and 1e-3 and at 1e-10 (the reference), and the figures are the largest relative
displacement error over the steps, ``max_k ‖U_k − U_k^ref‖ / ‖U_k^ref‖``, the Newton
iterations and the time relative to the reference run (side by side, same process).
The reduced solver of a model trained on the reference does the same at online ratios
1e-2 and 1e-8 (the default) against 1e-12.

Decks: the bi-material tet10 bar of :mod:`benchmarks.thermal_decks` (uniform 100 °C at
t = 0, ``ref_temperature 20``), and ``tests/data/problems/cube.inp`` (c3d20, four
materials, per-facet pressure, centrifugal load, temperature files; one cycle).
Target (issue 9): ratio 1e-2 within 1e-4 of the converged solution.

Run: ``python -m benchmarks.bench_convergence [--quick]``; writes
``benchmarks/results/convergence.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"
DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "problems"


def _count_iterations(sim) -> int:
    return int(sum(sim.parameters.get("newton_iterations", [])))


def _errors(U, U_ref) -> float:
    return float(max(np.linalg.norm(U[k] - U_ref[k]) / np.linalg.norm(U_ref[k]) for k in range(1, len(U))
                     if np.linalg.norm(U_ref[k]) > 0))


def hf_figures(problem, ratios=(1e-2, 1e-3)) -> dict:
    """Error, iterations and time of the HF solver per ratio against 1e-10."""
    import rom.hifi.newton as newton
    from rom.hifi import NewtonSettings, solve

    counted = []
    original = newton.newton_step

    def counting(*args, **kwargs):
        state = original(*args, **kwargs)
        counted.append(len(state.history) - 1)
        return state

    solve(problem, settings=NewtonSettings(rtol=1e-2))        # warm-up (imports, first-call costs): not timed
    newton.newton_step = counting
    try:
        runs = {}
        for rtol in (*ratios, 1e-10):
            counted.clear()
            started = time.perf_counter()
            sim = solve(problem, settings=NewtonSettings(rtol=rtol, atol=1e-14))
            runs[rtol] = (sim, sum(counted), time.perf_counter() - started)
    finally:
        newton.newton_step = original
    reference, ref_iterations, ref_seconds = runs[1e-10]
    U_ref = reference.fields["U"].values
    out = {"reference": {"ratio": 1e-10, "newton_iterations": ref_iterations, "seconds": ref_seconds}}
    for rtol in ratios:
        sim, iterations, seconds = runs[rtol]
        out[f"{rtol:g}"] = {"max_relative_U_error": _errors(sim.fields["U"].values, U_ref),
                            "newton_iterations": iterations, "time_vs_reference": seconds / ref_seconds}
    return out, reference


def rom_figures(problem, folder: Path) -> dict:
    """The reduced solver at online ratios 1e-2 and 1e-8 against 1e-12 (model trained on the reference)."""
    from rom.hifi import NewtonSettings, solve
    from rom.offline import build
    from rom.reduced import OnlineSettings

    solve(problem, output=folder / "train.h5", settings=NewtonSettings(rtol=1e-10, atol=1e-14))
    model = build({"training": [str(folder / "train.h5")], "problem": problem,
                   "pod": {"U": {"tol": 1e-8}, "evrcum": {"tol": 1e-8}, "sig": {"tol": 1e-8}}, "ecm": {"tol": 1e-6}})
    model.solve(problem)                                         # warm-up: not timed
    runs = {}
    for rtol, atol in ((1e-2, 1e-14), (1e-8, 1e-14), (1e-12, 0.0)):
        started = time.perf_counter()
        sim = model.solve(problem, settings=OnlineSettings(rtol=rtol, atol=atol))
        runs[rtol] = (sim, time.perf_counter() - started)
    U_ref = runs[1e-12][0].fields["U"].values
    out = {"n_modes": model.n_modes,
           "reference": {"ratio": 1e-12, "newton_iterations": _count_iterations(runs[1e-12][0])}}
    for rtol in (1e-2, 1e-8):
        sim, seconds = runs[rtol]
        out[f"{rtol:g}"] = {"max_relative_U_error": _errors(sim.fields["U"].values, U_ref),
                            "newton_iterations": _count_iterations(sim),
                            "time_vs_reference": seconds / runs[1e-12][1]}
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a coarser bar, the cube deck skipped")
    args = parser.parse_args(argv)
    from benchmarks.thermal_decks import write_bimaterial_deck
    from io_adapters import read_problem

    figures = {}
    with tempfile.TemporaryDirectory(prefix="nirom-bench-convergence-") as tmp:
        tmp = Path(tmp)
        bar = tmp / "bar"
        bar.mkdir()
        deck = write_bimaterial_deck(bar, divisions=(4, 2, 2) if args.quick else (8, 3, 3), increments=10)
        problem = read_problem(deck)
        figures["bimaterial_bar"], _ = hf_figures(problem)
        figures["bimaterial_bar"]["n_dofs"] = 3 * problem.mesh.n_nodes
        figures["bimaterial_bar_rom"] = rom_figures(problem, bar)
        if not args.quick:
            cube = tmp / "cube"
            cube.mkdir()
            for name in ("cube.geof", "evp.mat", "plasticity.mat", "elas", "tables.inc", "pressure.node",
                         "tcold.node", "thot.node"):
                shutil.copy(DATA / name, cube / name)
            (cube / "cube.inp").write_text((DATA / "cube.inp").read_text().replace("**cycles 2", "**cycles 1"))
            problem = read_problem(cube / "cube.inp")
            figures["cube_deck"], _ = hf_figures(problem)
            figures["cube_deck"]["n_dofs"] = 3 * problem.mesh.n_nodes
    print(f"{'case':22s} {'ratio':>7s} {'max U error':>12s} {'iterations':>11s} {'time/ref':>9s}")
    for case, values in figures.items():
        ref = values["reference"]
        print(f"{case:22s} {ref['ratio']:7.0e} {'(reference)':>12s} {ref['newton_iterations']:11d}")
        for key, row in values.items():
            if isinstance(row, dict) and "max_relative_U_error" in row:
                print(f"{case:22s} {float(key):7.0e} {row['max_relative_U_error']:12.2e} "
                      f"{row['newton_iterations']:11d} {row['time_vs_reference']:9.2f}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "convergence.json").write_text(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
