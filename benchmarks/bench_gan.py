"""Stochastic boundary conditions: WGAN-GP vs Gaussian vs bootstrap, side by side in one run (issue 13).

(a) **Impact-like boundary traces** (``rom.bc_generator.synthetic.impact_traces``: one
    or two random impacts from two zones, amplitude–position coupling, wave-like
    response; ``--nodes`` (64) boundary nodes × ``--times`` (48) times × 3 components):
    ``--train`` (1000) training traces, ``--held-out`` (500) held-out traces, and a
    third independent set of real traces (the *oracle*: what a perfect generator would
    score, i.e. the sampling-noise floor of every figure). One space–time POD (99.9 %)
    fitted on the training traces is shared by the three generators:
    ``GaussianGenerator``, ``BootstrapGenerator`` and ``WGANGenerator`` (Gulrajani's
    defaults: 3 × 128 units, λ = 10, n_critic = 5, Adam(1e-4, 0, 0.9), batch 64;
    ``--iterations`` (20 000) generator iterations, a checkpoint every 5000 to a
    temporary file). Each draws ``--generated`` (1000) traces, compared with the
    held-out set by ``rom.bc_generator.compare``: sliced-Wasserstein and energy
    distances of the standardised coefficients, KS of the 4 leading marginals, the
    same on the QoI "peak displacement norm" (max over nodes and times of ``‖u‖``),
    two-point statistics (node-pair and time-pair covariances, relative Frobenius
    error), the nearest-training-neighbour ratio (memorisation). Wall times: POD,
    each fit (the WGAN's with its compilation), sampling.
(b) **Ring of 8 Gaussians** (the test's 2-D multimodal law, 1000 + 1000 samples): the
    WGAN-GP at Gulrajani's defaults (full run) or at the test's learning rate 1e-3,
    3 × 64 units, 5000 iterations (``--quick``) vs the Gaussian model, sliced
    Wasserstein on the coefficients.

Run: ``python -m benchmarks.bench_gan [--quick] [--train 1000] [--held-out 500]
[--generated 1000] [--nodes 64] [--times 48] [--iterations 20000] [--seed 0]``. Prints
a table, writes ``benchmarks/results/gan.json`` and the figures ``gan_losses.png``,
``gan_marginals.png``, ``gan_pairs.png`` (``--quick``: 500 / 200 / 500 traces of
32 nodes × 24 times, 3000 iterations; ``gan_quick*``). Target: the full run within
10 minutes on 2 cores.
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

RESULTS = Path(__file__).parent / "results"

FIGURES = ("sliced_wasserstein", "energy_distance", "ks_max", "qoi_wasserstein_relative", "qoi_energy_distance",
           "qoi_ks", "two_point_space", "two_point_time", "memorisation_ratio")


def peak_displacement(traces: np.ndarray) -> np.ndarray:
    """QoI: ``max_{t, node} ‖u(t, node)‖`` per trace, ``(n,)``."""
    return np.linalg.norm(traces, axis=-1).max(axis=(1, 2))


def impact_case(*, n_train: int, n_held: int, n_generated: int, n_nodes: int, n_times: int, iterations: int,
                seed: int, plots: str) -> dict:
    from rom.bc_generator import (BootstrapGenerator, GaussianGenerator, SpaceTimePOD, WGANConfig, WGANGenerator,
                                  compare)
    from rom.bc_generator.plots import plot_losses, plot_marginals, plot_pairs
    from rom.bc_generator.synthetic import impact_traces

    train, node_ids, times = impact_traces(n_train, n_nodes=n_nodes, n_times=n_times, seed=seed)
    held, _, _ = impact_traces(n_held, n_nodes=n_nodes, n_times=n_times, seed=seed + 1)
    oracle, _, _ = impact_traces(n_generated, n_nodes=n_nodes, n_times=n_times, seed=seed + 2)

    out: dict = {"n_train": n_train, "n_held_out": n_held, "n_generated": n_generated, "n_nodes": n_nodes,
                 "n_times": n_times, "seconds": {}}
    start = time.perf_counter()
    pod = SpaceTimePOD(energy=0.999).fit(train)
    out["seconds"]["pod"] = time.perf_counter() - start
    out["pod"] = {"n_modes": pod.n_modes, "captured_energy": pod.captured_energy,
                  "held_out_projection_error": pod.projection_error(held)}
    print(f"  POD: {pod.n_modes} coefficients hold {100 * pod.captured_energy:.2f} % of the training energy; "
          f"held-out projection error {out['pod']['held_out_projection_error']:.3g}", flush=True)

    generators = {"gaussian": GaussianGenerator(compression=pod), "bootstrap": BootstrapGenerator(compression=pod),
                  "wgan": WGANGenerator(WGANConfig(n_iterations=iterations, checkpoint_every=5000), compression=pod)}
    samples, reports = {}, {}
    with tempfile.TemporaryDirectory(prefix="nirom-bench-gan-") as folder:
        for name, generator in generators.items():
            start = time.perf_counter()
            if name == "wgan":
                generator.fit(train, node_ids=node_ids, times=times, seed=seed,
                              checkpoint=os.path.join(folder, "wgan.h5"))
            else:
                generator.fit(train, node_ids=node_ids, times=times, seed=seed)
            out["seconds"][f"fit_{name}"] = time.perf_counter() - start
            start = time.perf_counter()
            samples[name] = generator.sample(n_generated, seed=seed + 10)
            out["seconds"][f"sample_{name}"] = time.perf_counter() - start
            print(f"  {name}: fit {out['seconds'][f'fit_{name}']:.1f} s, {n_generated} samples "
                  f"{out['seconds'][f'sample_{name}']:.2f} s", flush=True)
    wgan = generators["wgan"]
    out["wgan"] = {"iterations": wgan.iteration, "training_seconds": wgan.training_seconds,
                   "config": json.loads(wgan.config.to_json()), "latent_dim": wgan.latent_dim,
                   "final_wasserstein_estimate": float(np.mean(wgan.history["wasserstein"][-500:])),
                   "final_gradient_penalty": float(np.mean(wgan.history["gradient_penalty"][-500:]))}
    samples["oracle"] = oracle
    for name, traces in samples.items():
        reports[name] = compare(traces, held, train, qoi=peak_displacement, compression=pod, seed=seed)
    out["metrics"] = reports
    out["wgan_better_than_gaussian"] = {k: bool(reports["wgan"][k] < reports["gaussian"][k]) for k in FIGURES
                                        if k != "memorisation_ratio"}
    distance_to_1 = {name: abs(np.log(reports[name]["memorisation_ratio"])) for name in ("wgan", "gaussian")}
    out["wgan_better_than_gaussian"]["memorisation_ratio (closer to 1)"] = \
        bool(distance_to_1["wgan"] < distance_to_1["gaussian"])

    coefficients = {name: pod.transform(samples[name]) for name in ("wgan", "gaussian", "bootstrap")}
    target = pod.transform(held)
    RESULTS.mkdir(exist_ok=True)
    out["figures"] = [
        plot_losses(wgan.history, RESULTS / f"{plots}_losses.png",
                    title=f"WGAN-GP on impact traces ({pod.n_modes} POD coefficients)"),
        plot_marginals(coefficients, target, RESULTS / f"{plots}_marginals.png",
                       title="Leading POD coefficients: generated vs held-out"),
        plot_pairs({"WGAN-GP": coefficients["wgan"], "Gaussian": coefficients["gaussian"]}, target,
                   RESULTS / f"{plots}_pairs.png", title="Coefficients 1 and 2"),
    ]
    out["figures"] = [os.path.relpath(p, Path(__file__).resolve().parents[1]) for p in out["figures"]]
    return out


def ring_case(*, quick: bool, seed: int) -> dict:
    from rom.bc_generator import GaussianGenerator, WGANConfig, WGANGenerator, sliced_wasserstein
    from rom.bc_generator.synthetic import ring_traces

    train, held = ring_traces(1000, 0), ring_traces(1000, 1)
    if quick:
        config = WGANConfig(generator_widths=(64, 64, 64), critic_widths=(64, 64, 64), learning_rate=1e-3,
                            n_iterations=5000)
    else:
        config = WGANConfig(n_iterations=20000)
    start = time.perf_counter()
    wgan = WGANGenerator(config, n_modes=2).fit(train, seed=seed)
    seconds = time.perf_counter() - start
    gauss = GaussianGenerator(compression=wgan.compression).fit(train)
    target = wgan.compression.transform(held)
    return {"config": json.loads(config.to_json()), "fit_seconds": seconds,
            "sliced_wasserstein_wgan": sliced_wasserstein(wgan.sample_coefficients(2000, seed=1), target, seed=0),
            "sliced_wasserstein_gaussian": sliced_wasserstein(gauss.sample_coefficients(2000, seed=1), target,
                                                              seed=0),
            "sliced_wasserstein_held_out_vs_training": sliced_wasserstein(wgan.compression.transform(train), target,
                                                                          seed=0)}


def print_table(figures: dict) -> None:
    impact = figures["impact"]
    names = ("wgan", "gaussian", "bootstrap", "oracle")
    print(f"\n  impact traces: {impact['n_train']} training, {impact['n_held_out']} held-out, "
          f"{impact['n_generated']} generated; {impact['pod']['n_modes']} POD coefficients")
    print("  " + f"{'figure':28s}" + "".join(f"{n:>12s}" for n in names))
    for key in FIGURES:
        print("  " + f"{key:28s}" + "".join(f"{impact['metrics'][n][key]:12.4f}" for n in names))
    print("  " + f"{'fit wall time [s]':28s}" + "".join(
        f"{impact['seconds'].get('fit_' + n, float('nan')):12.1f}" for n in names))
    better = [k for k, v in impact["wgan_better_than_gaussian"].items() if v]
    worse = [k for k, v in impact["wgan_better_than_gaussian"].items() if not v]
    print(f"  WGAN better than the Gaussian model on: {', '.join(better) or 'nothing'}")
    print(f"  WGAN not better on: {', '.join(worse) or 'nothing'}")
    ring = figures["ring"]
    print(f"\n  ring of 8 Gaussians: sliced Wasserstein WGAN {ring['sliced_wasserstein_wgan']:.3f}, Gaussian "
          f"{ring['sliced_wasserstein_gaussian']:.3f}, training vs held-out "
          f"{ring['sliced_wasserstein_held_out_vs_training']:.3f} (fit {ring['fit_seconds']:.1f} s)")
    print(f"\n  total wall time {figures['wall_seconds']:.0f} s")


def run(*, quick: bool, n_train: int | None, n_held: int | None, n_generated: int | None, n_nodes: int | None,
        n_times: int | None, iterations: int | None, seed: int) -> dict:
    start = time.perf_counter()
    defaults = (500, 200, 500, 32, 24, 3000) if quick else (1000, 500, 1000, 64, 48, 20000)
    n_train, n_held, n_generated, n_nodes, n_times, iterations = (
        given if given is not None else default
        for given, default in zip((n_train, n_held, n_generated, n_nodes, n_times, iterations), defaults))
    import jax

    figures = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "jax": jax.__version__,
                           "platform": platform.platform()},
               "quick": quick}
    print("(a) impact-like boundary traces", flush=True)
    figures["impact"] = impact_case(n_train=n_train, n_held=n_held, n_generated=n_generated, n_nodes=n_nodes,
                                    n_times=n_times, iterations=iterations, seed=seed,
                                    plots="gan_quick" if quick else "gan")
    print("(b) ring of 8 Gaussians", flush=True)
    figures["ring"] = ring_case(quick=quick, seed=seed)
    figures["wall_seconds"] = time.perf_counter() - start
    return figures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Stochastic boundary conditions: WGAN-GP vs Gaussian vs bootstrap")
    parser.add_argument("--quick", action="store_true",
                        help="500/200/500 traces of 32 nodes × 24 times, 3000 iterations")
    parser.add_argument("--train", type=int)
    parser.add_argument("--held-out", type=int)
    parser.add_argument("--generated", type=int)
    parser.add_argument("--nodes", type=int)
    parser.add_argument("--times", type=int)
    parser.add_argument("--iterations", type=int)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    figures = run(quick=args.quick, n_train=args.train, n_held=args.held_out, n_generated=args.generated,
                  n_nodes=args.nodes, n_times=args.times, iterations=args.iterations, seed=args.seed)
    print_table(figures)
    RESULTS.mkdir(exist_ok=True)
    target = RESULTS / ("gan_quick.json" if args.quick else "gan.json")
    temporary = target.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(figures, indent=2) + "\n")
    os.replace(temporary, target)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
