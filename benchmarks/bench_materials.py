"""Constitutive-law throughput, measured side by side in one run.

For a batch of ``n_points`` integration points (1e6 by default), the time of one
``law.update`` call of

1. J2 plasticity (linear isotropic + one Armstrong–Frederick back-stress), every point
   in the plastic regime (target: >= 1 million points per second);
2. isotropic linear elasticity (the floor: stress + (n, 6, 6) tangent written);
3. Zset ``gen_evp`` (Norton flow, one nonlinear kinematic term, temperature table,
   thermal strain), every point flowing.

Each law is called once untimed (warm-up: first touch of the output memory), then
``repeats`` times; the best and the median wall-clock rates are reported in integration
points per second, with the best rate in CPU time of the process (less sensitive to other
jobs on the machine) and the load average (the figures mean little when it exceeds 1).

Run: ``python -m benchmarks.bench_materials [--points 1000000] [--repeats 5]``.
Prints a table and writes ``benchmarks/results/materials.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from rom.materials import from_spec

RESULTS = Path(__file__).parent / "results"
TARGET_J2 = 1.0e6

ELASTICITY = {"young": 2.0e5, "poisson": 0.3}
J2_SPEC = {
    "behavior": "j2_plasticity",
    "elasticity": ELASTICITY,
    "yield_stress": 200.0,
    "isotropic": {"type": "linear", "H": 1000.0},
    "kinematic": [{"type": "armstrong_frederick", "C": 2.0e4, "D": 100.0}],
}
ELASTIC_SPEC = {"behavior": "linear_elastic", "elasticity": ELASTICITY}
GEN_EVP_SPEC = {   # the material of ZSET_FORMAT §7
    "behavior": "gen_evp",
    "density": 8.2e-9,
    "elasticity": {"young": {"temperature": [0.0, 1000.0], "value": [1.6e5, 1.2e5]}, "poisson": 0.3},
    "thermal_strain": {"alpha": 1.4e-5, "ref_temperature": 20.0},
    "potential": {"name": "evr", "criterion": "mises", "flow": {"type": "norton", "K": 500.0, "n": 12.0},
                  "kinematic": [{"type": "nonlinear", "C": 6.0e4, "D": 400.0}],
                  "isotropic": {"type": "constant", "R0": 80.0}},
    "integration": {"theta": 1.0, "tol": 1e-9, "max_iterations": 200},
}


def _case(law, n: int, rng, magnitude: float, temperature: float | None, dt: float):
    """A pre-strained state (one update from zero) and a second increment from it."""
    t_old = None if temperature is None else np.full(n, temperature)
    d_t = None if temperature is None else np.full(n, 5.0)
    strain_old = rng.normal(size=(n, 6)) * magnitude
    _, _, state = law.update(np.zeros((n, 6)), strain_old, law.initial_state(n), t_old,
                             None if d_t is None else np.zeros(n), dt)
    d_strain = rng.normal(size=(n, 6)) * magnitude
    return (strain_old, d_strain, state, t_old, d_t, dt)


def _time(law, args, repeats: int) -> dict:
    stress, tangent, state = law.update(*args)          # warm-up, not timed
    del stress, tangent
    name = law.state_names[0] if law.state_names else None
    flowing = float(np.mean(state[name] > args[2][name])) if name else 0.0
    seconds, cpu_seconds = [], []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        out = law.update(*args)
        seconds.append(time.perf_counter() - start)
        cpu_seconds.append(time.process_time() - cpu)
        del out
    n = args[0].shape[0]
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "points_per_second": n / min(seconds),
        "median_points_per_second": n / float(np.median(seconds)),
        "cpu_points_per_second": n / min(cpu_seconds),
        "flowing_fraction": flowing,
    }


def run(n_points: int = 1_000_000, repeats: int = 5, seed: int = 0) -> dict:
    """Measure the three laws on the same batch size, one after the other.

    Parameters
    ----------
    n_points : int
        Integration points per ``update`` call.
    repeats : int
        Timed calls per law (after one warm-up call).
    seed : int
        Seed of the random strain states.

    Returns
    -------
    dict
        Per law: seconds of each call, best and median points per second, fraction of
        points that flowed; ratios to the elastic law; the J2 target and whether it is met.
    """
    rng = np.random.default_rng(seed)
    laws = {"j2": from_spec(J2_SPEC), "elastic": from_spec(ELASTIC_SPEC), "gen_evp": from_spec(GEN_EVP_SPEC)}
    cases = {
        "j2": _case(laws["j2"], n_points, rng, 3e-3, None, 1.0),
        "elastic": _case(laws["elastic"], n_points, rng, 3e-3, None, 1.0),
        "gen_evp": _case(laws["gen_evp"], n_points, rng, 3e-3, 500.0, 1.0),
    }
    results = {}
    for name, law in laws.items():
        results[name] = _time(law, cases[name], repeats)
        del cases[name]
    elastic = results["elastic"]["points_per_second"]
    return {
        "n_points": n_points,
        "repeats": repeats,
        "laws": results,
        "ratio_to_elastic": {k: v["points_per_second"] / elastic for k, v in results.items()},
        "target_j2_points_per_second": TARGET_J2,
        "j2_meets_target": results["j2"]["points_per_second"] >= TARGET_J2,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
                    "load_average": list(os.getloadavg())},
    }


def _write(result: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(result, indent=2))
    os.replace(tmp, path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000, help="integration points per update call")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per law")
    parser.add_argument("--output", type=Path, default=RESULTS / "materials.json")
    args = parser.parse_args(argv)
    result = run(n_points=args.points, repeats=args.repeats)
    print(f"constitutive update, {result['n_points']:,} points, best (median) of {result['repeats']}")
    print(f"{'law':10s} {'Mpoints/s':>10s} {'median':>8s} {'cpu-time':>9s} {'flowing':>8s} {'vs elastic':>10s}")
    for name, r in result["laws"].items():
        print(f"{name:10s} {r['points_per_second'] / 1e6:10.2f} {r['median_points_per_second'] / 1e6:8.2f} "
              f"{r['cpu_points_per_second'] / 1e6:9.2f} {r['flowing_fraction']:8.1%} "
              f"{result['ratio_to_elastic'][name]:10.2f}")
    print(f"load average during the run: {', '.join(f'{x:.2f}' for x in result['machine']['load_average'])}")
    verdict = "meets" if result["j2_meets_target"] else "MISSES"
    print(f"J2 {verdict} the target of {TARGET_J2 / 1e6:.0f} Mpoints/s; written to {args.output}")
    _write(result, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
