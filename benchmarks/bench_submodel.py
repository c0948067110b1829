"""Stochastic submodel (issue 13): the dolfinx plate, the submodel ROM, the generators, the Monte Carlo.

One run, side by side:

(a) **Data**: ``examples/submodel/generate.py`` under ``mpiexec -n 2`` (``--samples``
    global dolfinx samples of the plate with a hole under random impacts; 30 % held out),
    or the traces of ``--data DIR`` when they exist. The global plate is
    ``[0, --length] × [−--depth, 1]`` (default 6 × 3: a structure about 30 times the
    zone's cells around the same hole, zone and impacts, the setting of a submodel; the
    example's default 2 × 1 plate is ``--length 2 --depth 0``). Global FE cost per
    sample: the Newmark time stepping with the rank's LU factorisation reused
    (``traces.h5``'s ``seconds``), and the same plus the rank's setup (assembly +
    factorisation) — a standalone global run.
(b) **Submodel ROM** (:func:`rom.submodel_mc.train_submodel_rom`: ``--train`` HF dynamic
    runs of the submodel driven by the transferred training traces, POD/ECM at 1e-4):
    relative error of ``U`` (all times, all nodes) and of the QoI against the HF
    submodel on the training samples (target ≤ 1e-3) and on held-out samples.
(c) **Generators** on the training traces (one space–time POD at 99.9 %): Gaussian,
    bootstrap, WGAN-GP (Gulrajani's defaults, ``--iterations``; the fit's wall time,
    target ≤ 10 min on 2 cores).
(d) **Monte Carlo**: ``--mc`` samples of each generator solved by the submodel ROM (the
    linear path of :class:`rom.submodel_mc.ReducedSubmodel`: the submodel is linear
    elastic), QoI = peak von Mises stress in the zone; mean, std, 95 % quantile against
    the 95 % intervals of the held-out global FE samples. The first ``--check`` of them
    (all by default) are also solved by the HF submodel: QoI error of the ROM, and the
    HF-driven statistics beside.
(e) **Cost per sample** (one BLAS thread, as each rank of ``nirom submodel mc``; the
    global solve is serial too): the ROM's mean over the WGAN Monte Carlo vs the global
    FE (target ≥ 100×), the HF submodel beside.

Run: ``python -m benchmarks.bench_submodel [--quick] [--data DIR] [--samples 300]
[--train 12] [--iterations 60000] [--mc 200] [--check 200] [--length 6] [--depth 2]
[--seed 0]``. Writes ``benchmarks/results/submodel.json`` (``submodel_quick.json``) and
the convergence figure ``submodel_convergence.png`` (``submodel_quick_convergence.png``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"
BOUNDARY = "submodel_boundary"


def relative(a, b) -> float:
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(b))


def make_data(folder: Path, samples: int, seed: int, length: float, depth: float) -> float:
    if (folder / "traces.h5").is_file() and (folder / "submodel.toml").is_file():
        print(f"  reusing {folder / 'traces.h5'}", flush=True)
        return 0.0
    start = time.perf_counter()
    mpiexec = str(Path(sys.executable).with_name("mpiexec"))
    done = subprocess.run([mpiexec, "-n", "2", sys.executable, str(ROOT / "examples/submodel/generate.py"),
                           "--samples", str(samples), "--seed", str(seed), "--out", str(folder),
                           "--length", str(length), "--depth", str(depth)],
                          capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    if done.returncode:
        raise RuntimeError(f"generate.py failed:\n{done.stderr[-3000:]}")
    print("  " + done.stdout.strip().splitlines()[-1], flush=True)
    return time.perf_counter() - start


def rom_case(data, template, folder: Path, n_train: int) -> tuple[dict, object]:
    from rom.submodel_mc import HighFidelitySubmodel, ReducedSubmodel, peak_von_mises, train_submodel_rom

    train = data.training[:n_train]
    start = time.perf_counter()
    model = train_submodel_rom(template, BOUNDARY, data.traces[train], folder / "runs", pod_tol=1e-4, ecm_tol=1e-4,
                               stress_tol=1e-4)
    build = time.perf_counter() - start
    rom = ReducedSubmodel(model, template, BOUNDARY)
    hf = HighFidelitySubmodel(template, BOUNDARY)
    rows = []
    for kind, indices in (("training", train), ("held_out", data.held_out_indices[:3])):
        for i in indices:
            t0 = time.perf_counter()
            sim = hf.simulation(data.traces[i])
            q_hf = peak_von_mises(sim.fields["sig"].values)
            t_hf = time.perf_counter() - t0
            t0 = time.perf_counter()
            result = rom.result(data.traces[i])
            _, stress = result.local_fields(["sig"])["sig"]
            q_rom = peak_von_mises(stress)
            t_rom = time.perf_counter() - t0
            rows.append({"sample": int(i), "kind": kind, "u_error": relative(result.fields["U"].values,
                                                                          sim.fields["U"].values),
                         "qoi_error_vs_hf": abs(q_rom - q_hf) / q_hf, "qoi_hf_vs_global": abs(q_hf - data.qoi[i]) /
                         data.qoi[i], "seconds_rom": t_rom, "seconds_hf": t_hf})
            print(f"  {kind} sample {i}: U error {rows[-1]['u_error']:.2e}, QoI error {rows[-1]['qoi_error_vs_hf']:.2e}"
                  f" (HF vs global {rows[-1]['qoi_hf_vs_global']:.1e}); ROM {t_rom:.2f} s, HF {t_hf:.2f} s",
                  flush=True)
    training = [r for r in rows if r["kind"] == "training"]
    out = {"n_train": int(n_train), "n_modes": int(model.n_modes), "build_seconds": build, "samples": rows,
           "max_training_u_error": max(r["u_error"] for r in training),
           "max_training_qoi_error": max(r["qoi_error_vs_hf"] for r in training),
           "max_held_out_u_error": max((r["u_error"] for r in rows if r["kind"] == "held_out"), default=None),
           "seconds_rom": float(np.mean([r["seconds_rom"] for r in rows])),
           "seconds_hf_submodel": float(np.mean([r["seconds_hf"] for r in rows]))}
    out["target_1e-3_met_on_training"] = bool(out["max_training_u_error"] <= 1e-3)
    return out, rom


def generators_case(data, iterations: int, seed: int) -> tuple[dict, dict]:
    from rom.bc_generator import BootstrapGenerator, GaussianGenerator, SpaceTimePOD, WGANConfig, WGANGenerator

    train = data.traces[data.training]
    start = time.perf_counter()
    pod = SpaceTimePOD(energy=0.999).fit(train)
    out = {"n_train": int(len(train)), "pod_modes": int(pod.n_modes), "pod_seconds": time.perf_counter() - start,
           "held_out_projection_error": float(pod.projection_error(data.traces[data.held_out_indices])),
           "fit_seconds": {}}
    generators = {"gaussian": GaussianGenerator(compression=pod), "bootstrap": BootstrapGenerator(compression=pod),
                  "wgan": WGANGenerator(WGANConfig(n_iterations=iterations, checkpoint_every=max(iterations, 1)),
                                        compression=pod)}
    for name, generator in generators.items():
        start = time.perf_counter()
        generator.fit(train, node_ids=data.node_ids, times=data.times, seed=seed)
        out["fit_seconds"][name] = time.perf_counter() - start
        print(f"  {name}: fit {out['fit_seconds'][name]:.1f} s", flush=True)
    out["wgan_iterations"] = iterations
    out["wgan_target_10_min_met"] = bool(out["fit_seconds"]["wgan"] <= 600)
    return out, generators


def one_blas_thread():
    """BLAS limited to one thread (as ``nirom submodel mc`` runs each rank): a sample is a
    serial computation, compared with the serial global solve."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def mc_case(data, template, generators: dict, rom, *, n_mc: int, n_check: int, seed: int, plots: str) -> dict:
    from rom.bc_generator import compare
    from rom.mc_statistics import summary, within
    from rom.submodel_mc import HighFidelitySubmodel

    from mpi_drivers.submodel import plot_convergence

    hf = HighFidelitySubmodel(template, BOUNDARY)
    reference = summary(data.qoi[data.held_out_indices], quantiles=(0.95,))
    out = {"reference_held_out_global_fe": reference, "n_mc": n_mc, "rom_path": rom.path, "generators": {}}
    held = data.traces[data.held_out_indices]
    train = data.traces[data.training]

    def inside(stats):
        return {"mean": within(stats["mean"]["estimate"], reference["mean"]),
                "std": within(stats["std"]["estimate"], reference["std"]),
                "q0.95": within(stats["quantiles"]["0.95"]["estimate"], reference["quantiles"]["0.95"])}

    for name, generator in generators.items():
        traces = generator.sample(n_mc, seed=seed + 7)
        with one_blas_thread():
            rom(traces[0])                                        # first call: caches warmed, not timed
            start = time.perf_counter()
            qoi_rom = np.array([rom(t) for t in traces])
            seconds_rom = (time.perf_counter() - start) / n_mc
            start = time.perf_counter()
            qoi_hf = np.array([hf(t) for t in traces[:n_check]])
            seconds_hf = (time.perf_counter() - start) / max(n_check, 1)
        stats_rom = summary(qoi_rom, quantiles=(0.95,))
        errors = np.abs(qoi_rom[:n_check] - qoi_hf) / qoi_hf
        metrics = compare(traces, held, train, compression=generator.compression, seed=seed)
        out["generators"][name] = {
            "statistics": stats_rom, "within_reference_interval": inside(stats_rom),
            "seconds_per_sample_rom": seconds_rom, "seconds_per_sample_hf_submodel": seconds_hf,
            "rom_vs_hf_qoi": {"n": int(n_check), "max_relative_error": float(errors.max(initial=0.0)),
                              "mean_relative_error": float(errors.mean()) if n_check else None},
            "trace_metrics": {k: metrics[k] for k in ("sliced_wasserstein", "energy_distance", "memorisation_ratio")
                              if k in metrics}}
        if n_check == n_mc:
            stats_hf = summary(qoi_hf, quantiles=(0.95,))
            out["generators"][name].update(statistics_hf_submodel=stats_hf, within_reference_interval_hf=inside(
                stats_hf))
        print(f"  {name}: ROM Monte Carlo mean {stats_rom['mean']['estimate']:.4f}, std "
              f"{stats_rom['std']['estimate']:.4f}, q95 {stats_rom['quantiles']['0.95']['estimate']:.4f}; in the "
              f"global FE interval: {inside(stats_rom)}; {seconds_rom * 1e3:.2f} ms per sample (HF submodel "
              f"{seconds_hf:.3f} s); QoI vs HF on {n_check}: max {errors.max(initial=0.0):.2e}", flush=True)
        if name == "wgan":
            RESULTS.mkdir(exist_ok=True)
            figure = plot_convergence(qoi_rom, RESULTS / f"{plots}_convergence.png", confidence=0.95,
                                      quantiles=(0.95,), reference=reference,
                                      title="Submodel QoI: WGAN-GP traces, submodel ROM")
            out["figure"] = os.path.relpath(figure, ROOT)
    return out


def run(*, quick: bool, data_dir: Path | None, samples: int | None, n_train: int | None, iterations: int | None,
        n_mc: int | None, n_check: int | None, seed: int, length: float, depth: float) -> dict:
    from io_adapters.problem import read_problem
    from rom.submodel_mc import read_traces

    start = time.perf_counter()
    defaults = (120, 6, 3000, 60, 10) if quick else (300, 12, 60000, 200, 200)
    samples, n_train, iterations, n_mc, n_check = (g if g is not None else d for g, d in zip(
        (samples, n_train, iterations, n_mc, n_check), defaults))
    n_check = min(n_check, n_mc)
    figures = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                           "platform": platform.platform()}, "quick": quick}
    with tempfile.TemporaryDirectory(prefix="nirom-bench-submodel-") as scratch:
        folder = Path(data_dir) if data_dir else Path(scratch) / "data"
        print("(a) global dolfinx samples", flush=True)
        generation = make_data(folder, samples, seed, length, depth)
        data = read_traces(folder / "traces.h5")
        template = read_problem(folder / "submodel.toml")
        global_solve = float(np.mean(data.seconds))
        setup = float(data.attributes.get("setup_seconds", np.nan))
        figures["data"] = {"samples": int(len(data.qoi)), "held_out": int(data.held_out.sum()),
                           "generation_seconds": generation, "global_nodes": data.attributes.get("global_nodes"),
                           "global_cells": data.attributes.get("global_cells"),
                           "plate": json.loads(data.attributes.get("plate", "null")),
                           "submodel_nodes": int(template.mesh.n_nodes), "submodel_cells": int(template.mesh.n_cells),
                           "boundary_nodes": int(len(data.node_ids)), "times": int(len(data.times)),
                           "global_seconds_per_sample_lu_reused": global_solve,
                           "global_setup_seconds_per_rank": setup}
        print("(b) submodel ROM vs HF submodel", flush=True)
        figures["rom"], rom = rom_case(data, template, Path(scratch), n_train)
        print("(c) generators", flush=True)
        figures["generators"], generators = generators_case(data, iterations, seed)
        print("(d) Monte Carlo", flush=True)
        figures["mc"] = mc_case(data, template, generators, rom, n_mc=n_mc, n_check=n_check, seed=seed,
                                plots="submodel_quick" if quick else "submodel")
    wgan = figures["mc"]["generators"]["wgan"]
    rom_seconds = wgan["seconds_per_sample_rom"]
    figures["cost"] = {"rom_seconds_per_sample": rom_seconds, "rom_path": figures["mc"]["rom_path"],
                       "hf_submodel_seconds_per_sample": wgan["seconds_per_sample_hf_submodel"],
                       "global_fe_seconds_per_sample_lu_reused": global_solve,
                       "global_fe_seconds_standalone": global_solve + setup,
                       "speedup_vs_global_lu_reused": global_solve / rom_seconds,
                       "speedup_vs_global_standalone": (global_solve + setup) / rom_seconds}
    figures["cost"]["target_100x_met"] = bool(figures["cost"]["speedup_vs_global_standalone"] >= 100)
    figures["wall_seconds"] = time.perf_counter() - start
    return figures


def print_table(figures: dict) -> None:
    d, r, g, mc, c = (figures[k] for k in ("data", "rom", "generators", "mc", "cost"))
    print(f"\n  global model {d['global_nodes']} nodes, submodel {d['submodel_nodes']} nodes ({d['boundary_nodes']} on "
          f"its boundary), {d['times']} times; {d['samples']} samples, {d['held_out']} held out")
    print(f"  ROM: {r['n_modes']} modes from {r['n_train']} runs (build {r['build_seconds']:.0f} s); max U error on "
          f"training {r['max_training_u_error']:.2e} (target 1e-3: "
          f"{'met' if r['target_1e-3_met_on_training'] else 'MISSED'}),"
          f" held-out {r['max_held_out_u_error']:.2e}")
    print(f"  WGAN fit {g['fit_seconds']['wgan']:.0f} s for {g['wgan_iterations']} iterations (target 600 s: "
          f"{'met' if g['wgan_target_10_min_met'] else 'MISSED'}); POD {g['pod_modes']} coefficients")
    ref = mc["reference_held_out_global_fe"]
    print(f"  {'':12s}{'mean':>24s}{'std':>24s}{'q95':>24s}")

    def cell(s):
        return f"{s['estimate']:.4f} [{s['low']:.3f},{s['high']:.3f}]"
    print(f"  {'global FE':12s}{cell(ref['mean']):>24s}{cell(ref['std']):>24s}{cell(ref['quantiles']['0.95']):>24s}")
    for name, v in mc["generators"].items():
        s = v["statistics"]
        print(f"  {name + ' ROM':12s}{cell(s['mean']):>24s}{cell(s['std']):>24s}{cell(s['quantiles']['0.95']):>24s}  "
              f"in FE interval: {v['within_reference_interval']}")
        if "statistics_hf_submodel" in v:
            s = v["statistics_hf_submodel"]
            print(f"  {name + ' HF':12s}{cell(s['mean']):>24s}{cell(s['std']):>24s}"
                  f"{cell(s['quantiles']['0.95']):>24s}  in FE interval: {v['within_reference_interval_hf']}")
    print(f"  cost per sample: ROM {c['rom_seconds_per_sample'] * 1e3:.2f} ms ({c['rom_path']} path), HF submodel "
          f"{c['hf_submodel_seconds_per_sample']:.3f}"
          f" s, global FE {c['global_fe_seconds_per_sample_lu_reused']:.3f} s (LU reused) / "
          f"{c['global_fe_seconds_standalone']:.3f} s (standalone); speed-up {c['speedup_vs_global_standalone']:.2g}x "
          f"(target 100x: {'met' if c['target_100x_met'] else 'MISSED'})")
    print(f"\n  total wall time {figures['wall_seconds']:.0f} s")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="stochastic submodel: ROM, generators, Monte Carlo")
    parser.add_argument("--quick", action="store_true", help="120 samples, 4 training runs, 3000 WGAN iterations, "
                                                             "60 MC samples")
    parser.add_argument("--data", type=Path, help="folder of generate.py's outputs (reused when present)")
    parser.add_argument("--samples", type=int)
    parser.add_argument("--train", type=int)
    parser.add_argument("--iterations", type=int)
    parser.add_argument("--mc", type=int)
    parser.add_argument("--check", type=int, help="MC samples also solved by the HF submodel (all by default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--length", type=float, default=6.0, help="global plate length (default 6)")
    parser.add_argument("--depth", type=float, default=2.0, help="global plate extends to y = -DEPTH (default 2)")
    args = parser.parse_args(argv)
    figures = run(quick=args.quick, data_dir=args.data, samples=args.samples, n_train=args.train,
                  iterations=args.iterations, n_mc=args.mc, n_check=args.check, seed=args.seed, length=args.length,
                  depth=args.depth)
    print_table(figures)
    RESULTS.mkdir(exist_ok=True)
    target = RESULTS / ("submodel_quick.json" if args.quick else "submodel.json")
    temporary = target.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(figures, indent=2, default=float) + "\n")
    os.replace(temporary, target)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
