"""Online-stage figures of the reduced-order model, measured side by side in one run.

1. **Speed-up over the high-fidelity solver** on the blade of ``examples/blade``
   (``--size`` 1.5 mm: ~160 000 dofs, tet10, ``gen_evp``): two HF training runs
   (seed-0 temperature field, one flight cycle of ``--steps`` steps, ω = 950 rad/s /
   0.5 MPa and 1100 rad/s / 0.8 MPa; run concurrently, one process each), the offline
   build, then the test loading (same field, ω = 1040 rad/s, 0.7 MPa: inside the
   trained range, not on the line between the two runs) solved by the HF solver and
   by the ROM, one after the other with nothing else of the benchmark running.
   Figures: HF wall and CPU time of ``rom.hifi.solve`` (setup + every step, results
   written); online time of the
   ROM (the reduced Newton loop, ``parameters["online_seconds"]``, best of
   ``--repeat``) and its total (operator set-up + loop + reconstruction of U and of
   every dual field on the whole mesh at every step); the speed-ups HF / online and
   HF / total; the relative displacement error over the whole history against the HF
   reference (target: speed-up ≥ 100, goal 500, at error ≤ 1e-3), and per step (the
   unloaded end of the cycle, where only the small residual displacement is left,
   has the largest relative error of a step).
2. **Online cost vs. HF mesh size**: the cube of ``examples/cube`` with ``n`` and
   ``2n`` elements per edge (8× the elements), trained on the same two loadings (hot
   spot, gradient) with the same basis sizes (``pod.<field>.n_modes``: 8 displacement
   modes, 6–8 per dual), solved online on another loading;
   online time per step (best of ``max(--repeat, 7)`` rounds, the two meshes
   interleaved), ratio fine / coarse (target ≤ 1.3),
   with the reduced-point counts and the HF time per step for scale.
3. **Adaptive enrichment**: the cube (``--adaptive-n``, default 6) trained on one
   run, solved on a harder unseen loading (+200 °C, 90 MPa) plainly and with
   ``rom.adaptive.Enrichment(tol=1e-3)``: enrichment count, fraction of the adaptive
   solve spent in HF steps and in the model updates, errors with and without
   adaptivity, and the HF time of the whole loading for scale.
4. **Indicator calibration**: ``examples/indicator_study`` on the cube (24 test
   cases; 12 with ``--quick``): Spearman/Pearson of the max-over-steps indicator
   against the true displacement error and against the true ``evrcum`` error; the
   same for the ``sig`` fit and for the enrichment trigger (the larger of the two).
5. **Imposed displacements**: the strain-controlled cube
   (``examples.cube.make_cube_strain_problem``, n = 4; 3 with ``--quick``) trained on
   pure tension and pure shear; the two training loadings replayed and two unseen
   combinations solved plainly and with ``Enrichment(tol=0.05)``: errors against
   the HF solver, indicator, enrichments, times.

Threads: the subprocesses of section 1 (HF training, HF test, offline, ROM) run with
``OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=MKL_NUM_THREADS=1`` (set in their environment
only): the HF and the ROM are compared on one core each. Sections 2–4 run in this
process with the environment as it is. The machine may be shared: the load average
is recorded around every section.

Run: ``python -m benchmarks.bench_online [--quick] [--size 1.5] [--steps 5] [--repeat 3]
[--refine-n 4] [--adaptive-n 6] [--sections speedup refinement adaptive indicator]``.
Prints a table and writes ``benchmarks/results/online.json`` (``online_quick.json``
with ``--quick``, ``*_partial.json`` when some sections are left out, so that a quick
run never overwrites the full figures). The full run takes 7–10 minutes on 2 cores
(the three HF blade runs dominate); ``--quick`` (blade of ~27 000 dofs, cubes n = 3/6
and 3, 12 indicator cases) about 30 seconds.
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

RESULTS = Path(__file__).parent / "results"
ROOT = Path(__file__).resolve().parents[1]

_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

POD = {name: {"tol": 1e-6} for name in ("U", "evrcum", "evri", "al1", "sig")}
ECM = {"tol": 1e-5}
INDICATOR = {"field": "evrcum", "tol": 1e-3}

#: Section 1 loadings (keywords of ``make_blade_problem`` besides the mesh and the steps).
BLADE_TRAINING = ({"seed": 0, "omega": 950.0, "pressure": 0.5}, {"seed": 0, "omega": 1100.0, "pressure": 0.8})
BLADE_TEST = {"seed": 0, "omega": 1040.0, "pressure": 0.7}


def _load() -> float:
    return float(os.getloadavg()[0])


def library_version() -> dict:
    """The commit the figures were measured on (and whether the tracked files differ from it)."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT,
                                timeout=30).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, cwd=ROOT, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {"commit": None}
    return {"commit": commit or None, "modified_tracked_files": bool(dirty)}


# ================================================================== children
def _blade_problem(store: str, params: dict, steps: int):
    import io_adapters
    from examples.blade import make_blade_problem

    mesh = io_adapters.read(store).mesh
    return make_blade_problem(0.0, mesh=mesh, n_cycles=1, steps_per_cycle=steps, **params)


def _child_hf(args: dict) -> dict:
    """One HF blade run written to a store; wall time of ``rom.hifi.solve``."""
    import rom.hifi

    problem = _blade_problem(args["mesh"], args["params"], args["steps"])
    cpu, start = time.process_time(), time.perf_counter()
    simulation = rom.hifi.solve(problem, output=args["output"])
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"seconds": seconds, "cpu_seconds": cpu, "dofs": 3 * problem.mesh.n_nodes, "n_steps": int(problem.n_steps),
            "times": [float(t) for t in problem.times], "max_evrcum": float(simulation.fields["evrcum"].values.max())}


def _child_offline(args: dict) -> dict:
    from rom.offline import build

    problem = _blade_problem(args["mesh"], BLADE_TRAINING[0], args["steps"])
    start = time.perf_counter()
    model = build({"training": args["training"], "problem": problem, "pod": POD, "ecm": ECM,
                   "indicator": INDICATOR})
    model.save(args["output"])
    return {"seconds": time.perf_counter() - start, "n_modes": model.n_modes,
            "reduced_points": model.settings["reduced_points"], "ecm_points": model.settings["ecm_points"],
            "dual_modes": model.settings["dual_modes"], "phases": model.provenance["timing_seconds"]}


def _child_rom(args: dict) -> dict:
    """Online solves of the test loading (best of ``repeat``) and the errors against the HF store."""
    import io_adapters
    from rom.indicator import case_indicator, true_error
    from rom.model import ReducedOrderModel

    start = time.perf_counter()
    model = ReducedOrderModel.load(args["model"])
    load_seconds = time.perf_counter() - start
    problem = _blade_problem(args["mesh"], args["params"], args["steps"])
    online, total, cpu, result = [], [], [], None
    for _ in range(args["repeat"]):
        cpu0, start = time.process_time(), time.perf_counter()
        result = model.solve(problem)
        simulation = result.to_simulation()          # U and every dual on the whole mesh, at every step
        total.append(time.perf_counter() - start)
        cpu.append(time.process_time() - cpu0)
        online.append(float(result.parameters["online_seconds"]))
    reference = io_adapters.read(args["reference"])
    u = true_error(reference, simulation, "U")
    p = true_error(reference, simulation, "evrcum")
    return {"load_seconds": load_seconds, "online_seconds": min(online), "online_seconds_each": online,
            "total_seconds": min(total), "total_seconds_each": total, "total_cpu_seconds": min(cpu),
            "newton_iterations": result.parameters["newton_iterations"],
            "indicator_max": case_indicator(result), "error_U": u.overall, "error_U_max_step": u.max_step,
            "error_U_per_step": [float(v) for v in u.per_step],
            "norm_U_hf_per_step": [float(np.linalg.norm(x)) for x in reference.fields["U"].values],
            "error_evrcum": p.overall, "n_modes": model.n_modes}


_CHILDREN = {"hf": _child_hf, "offline": _child_offline, "rom": _child_rom}


def _command(name: str, args: dict) -> list[str]:
    return [sys.executable, "-m", "benchmarks.bench_online", "--child", name, json.dumps(args)]


def _env() -> dict:
    env = dict(os.environ, **_ENV)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def _result(out: subprocess.CompletedProcess | tuple, what: str) -> dict:
    returncode, stdout, stderr = out if isinstance(out, tuple) else (out.returncode, out.stdout, out.stderr)
    if returncode != 0:
        tail = "\n".join((stderr or stdout).strip().splitlines()[-15:])
        raise RuntimeError(f"{what} failed (exit {returncode}):\n{tail}")
    return json.loads(stdout.strip().splitlines()[-1])


def _child(name: str, args: dict, timeout: float = 7200.0) -> dict:
    out = subprocess.run(_command(name, args), capture_output=True, text=True, env=_env(), cwd=ROOT,
                         timeout=timeout)
    return _result(out, f"bench_online child '{name}'")


def _children_concurrently(jobs: list[tuple[str, dict]], timeout: float = 7200.0) -> list[dict]:
    processes = [subprocess.Popen(_command(name, args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=_env(), cwd=ROOT) for name, args in jobs]
    results = []
    for (name, _), process in zip(jobs, processes):
        stdout, stderr = process.communicate(timeout=timeout)
        results.append(_result((process.returncode, stdout, stderr), f"bench_online child '{name}'"))
    return results


# ================================================================== sections
def speedup(size: float, steps: int, repeat: int, workdir: Path, log=print) -> dict:
    """Section 1: the blade, HF vs ROM on the same test loading."""
    import io_adapters
    from examples.blade import make_blade_mesh

    out = {"load_average_before": _load(), "size_mm": size, "steps_per_cycle": steps,
           "training_loadings": list(BLADE_TRAINING), "test_loading": BLADE_TEST,
           "threads": dict(_ENV), "pod": POD, "ecm": ECM}
    start = time.perf_counter()
    mesh = make_blade_mesh(size)
    out["meshing_seconds"] = time.perf_counter() - start
    out["dofs"] = 3 * mesh.n_nodes
    out["cells"] = mesh.n_cells
    store = workdir / "blade_mesh.h5"
    io_adapters.save(io_adapters.Simulation(mesh, np.array([0.0]), {}), store)
    del mesh
    log(f"[1] blade {out['dofs']} dofs: 2 HF training runs ({steps} steps each, concurrently)...")
    training = [str(workdir / f"train{i}.h5") for i in range(len(BLADE_TRAINING))]
    start = time.perf_counter()
    runs = _children_concurrently([("hf", {"mesh": str(store), "params": p, "steps": steps, "output": t})
                                   for p, t in zip(BLADE_TRAINING, training)])
    out["training"] = {"wall_seconds": time.perf_counter() - start, "runs": runs}
    log("    offline build...")
    model_path = str(workdir / "rom.h5")
    out["offline"] = _child("offline", {"mesh": str(store), "steps": steps, "training": training,
                                        "output": model_path})
    log(f"    HF test run ({steps} steps, alone)...")
    reference = str(workdir / "test_hf.h5")
    out["load_average_before_hf"] = _load()
    out["hf"] = _child("hf", {"mesh": str(store), "params": BLADE_TEST, "steps": steps, "output": reference})
    log("    ROM test run...")
    out["load_average_before_rom"] = _load()
    out["rom"] = _child("rom", {"mesh": str(store), "params": BLADE_TEST, "steps": steps, "model": model_path,
                                "reference": reference, "repeat": repeat})
    hf, rom = out["hf"]["seconds"], out["rom"]
    out["speedup_online"] = hf / rom["online_seconds"]
    out["speedup_total"] = hf / rom["total_seconds"]
    out["speedup_total_cpu"] = out["hf"]["cpu_seconds"] / rom["total_cpu_seconds"]
    out["error_U"] = rom["error_U"]
    out["meets_error_target"] = rom["error_U"] <= 1e-3
    out["load_average_after"] = _load()
    return out


def refinement(n: int, repeat: int, workdir: Path, modes: dict | None = None, log=print) -> dict:
    """Section 2: online time per step on the cube n and 2n with the same basis sizes."""
    import rom.hifi
    from examples.cube.cube import make_cube_problem
    from rom.offline import build

    modes = modes or {"U": 8, "evrcum": 6, "evri": 6, "al1": 6, "sig": 8}
    pod = {name: {"n_modes": k} for name, k in modes.items()}
    out = {"load_average_before": _load(), "pod": pod, "ecm": ECM, "meshes": []}
    cases = []
    for m in (n, 2 * n):
        log(f"[2] cube n={m}: training (2 HF runs), offline...")
        paths, hf_seconds = [], 0.0
        for case in ("hotspot", "gradient"):
            training = make_cube_problem(m, temperature_case=case, n_cycles=1, steps_per_cycle=10)
            paths.append(str(workdir / f"cube{m}_{case}.h5"))
            start = time.perf_counter()
            rom.hifi.solve(training, output=paths[-1])
            hf_seconds += time.perf_counter() - start
        model = build({"training": paths, "problem": training, "pod": pod, "ecm": ECM, "indicator": INDICATOR})
        test = make_cube_problem(m, n_cycles=1, steps_per_cycle=10, hot=950.0, pressure=70.0)
        cases.append((m, model, test, hf_seconds / (2 * training.n_steps)))
    log(f"[2] online solves, {repeat} rounds interleaved...")
    seconds = {m: [] for m, *_ in cases}
    results = {}
    for _ in range(repeat):            # interleaved: a busy spell of the machine hits both meshes
        for m, model, test, _ in cases:
            results[m] = model.solve(test, fields=[])
            seconds[m].append(results[m].parameters["online_seconds"] / test.n_steps)
    for m, model, test, hf_per_step in cases:
        out["meshes"].append({"n": m, "dofs": 3 * test.mesh.n_nodes, "cells": test.mesh.n_cells,
                              "n_modes": model.n_modes, "reduced_points": model.settings["reduced_points"],
                              "ecm_points": model.settings["ecm_points"], "dual_modes": model.settings["dual_modes"],
                              "newton_iterations": int(sum(results[m].parameters["newton_iterations"])),
                              "online_seconds_per_step": min(seconds[m]), "online_seconds_per_step_each": seconds[m],
                              "hf_seconds_per_step": hf_per_step})
    coarse, fine = out["meshes"]
    out["ratio_fine_over_coarse"] = fine["online_seconds_per_step"] / coarse["online_seconds_per_step"]
    out["hf_ratio_fine_over_coarse"] = fine["hf_seconds_per_step"] / coarse["hf_seconds_per_step"]
    out["load_average_after"] = _load()
    return out


def adaptive(n: int, workdir: Path, log=print) -> dict:
    """Section 3: plain vs adaptive online solve of an unseen, harder loading."""
    import rom.hifi
    from examples.cube.cube import make_cube_problem
    from rom.adaptive import Enrichment
    from rom.indicator import case_indicator, true_error
    from rom.offline import build

    log(f"[3] cube n={n}: adaptive enrichment...")
    out = {"load_average_before": _load(), "n": n, "training_loading": "hotspot 900 °C, 60 MPa, 2000 rad/s",
           "test_loading": "hotspot 1100 °C, 90 MPa, 2000 rad/s", "tol": 1e-3}
    training = make_cube_problem(n, n_cycles=1, steps_per_cycle=10)
    path = workdir / f"adaptive{n}.h5"
    rom.hifi.solve(training, output=path)
    model = build({"training": [str(path)], "problem": training, "pod": POD, "ecm": ECM, "indicator": INDICATOR})
    test = make_cube_problem(n, n_cycles=1, steps_per_cycle=10, hot=1100.0, pressure=90.0)
    start = time.perf_counter()
    reference = rom.hifi.solve(test)
    out["hf_seconds"] = time.perf_counter() - start
    out["dofs"] = 3 * test.mesh.n_nodes
    plain = model.solve(test)
    policy = Enrichment(tol=out["tol"])
    start = time.perf_counter()
    adapted = model.solve(test, adaptive=policy)
    out["adaptive_total_seconds"] = time.perf_counter() - start
    events = adapted.parameters["enrichments"]
    skipped = 0   # steps above the tolerance once max_enrichments is reached are logged, not listed
    loop = adapted.parameters["online_seconds"]
    enrich_seconds = float(sum(e["seconds"] for e in events))
    out.update({
        "n_steps": int(test.n_steps), "enrichments": len(events), "enriched_steps": [e["step"] for e in events],
        "skipped_enrichments": skipped,
        "n_modes_before": model.n_modes, "n_modes_after": adapted.model.n_modes,
        "plain_online_seconds": plain.parameters["online_seconds"], "adaptive_online_seconds": loop,
        "hf_step_seconds": adapted.hf_seconds, "model_update_seconds": enrich_seconds - adapted.hf_seconds,
        "fraction_in_hf_steps": adapted.hf_seconds / loop,
        "fraction_in_model_updates": (enrich_seconds - adapted.hf_seconds) / loop,
        "indicator_max_plain": case_indicator(plain), "indicator_max_adaptive": case_indicator(adapted),
        "error_U_plain": true_error(reference, plain).overall,
        "error_U_adaptive": true_error(reference, adapted).overall,
        "error_evrcum_plain": true_error(reference, plain, "evrcum").overall,
        "error_evrcum_adaptive": true_error(reference, adapted, "evrcum").overall,
        "speedup_adaptive_vs_hf": out["hf_seconds"] / loop,
    })
    out["load_average_after"] = _load()
    return out


def indicator(quick: bool, log=print) -> dict:
    """Section 4: the indicator study on the cube (``examples/indicator_study``)."""
    from examples.indicator_study.study import run as study

    log(f"[4] indicator study (cube, {'12' if quick else '24'} cases)...")
    figures = study("cube", quick=quick, indicator_fields=("sig",), output=None, log=lambda *a: None)
    out = {"load_average_before": figures["machine"]["load_average"], "description": figures["description"],
           "model": {k: figures["model"][k] for k in ("n_modes", "reduced_points", "dual_modes")},
           "seconds": figures["seconds"], "failed": figures["failed"],
           "other_indicators": figures["other_indicators"]}
    for name, c in figures["calibration"].items():
        out[name] = {k: c[k] for k in ("n_cases", "spearman", "spearman_pvalue", "pearson", "pearson_log", "fit",
                                        "per_group", "excluded")}
    return out


def imposed(n: int, workdir: Path, log=print) -> dict:
    """Section 5: strain-controlled loadings (imposed displacements through the lifting)."""
    import rom.hifi
    from examples.cube.cube import make_cube_strain_problem
    from rom.adaptive import Enrichment
    from rom.indicator import case_indicator, true_error
    from rom.offline import build

    log(f"[5] cube n={n}: imposed displacements (tension, shear)...")
    training, unseen = [(0.02, 0.0), (0.0, 0.03)], [(0.015, 0.015), (0.025, 0.01)]
    out = {"load_average_before": _load(), "n": n, "training": training, "cases": []}
    paths, references = [], {}
    for case in training + unseen:
        problem = make_cube_strain_problem(n, *case)
        start = time.perf_counter()
        path = workdir / f"strain{n}_{case[0]}_{case[1]}.h5"
        references[case] = rom.hifi.solve(problem, output=path)
        references[case] = (references[case], time.perf_counter() - start)
        if case in training:
            paths.append(str(path))
    model = build({"training": paths, "problem": make_cube_strain_problem(n, *training[0]), "pod": POD,
                   "ecm": ECM, "indicator": INDICATOR})
    out.update({"dofs": 3 * model.mesh.n_nodes, "n_modes": model.n_modes,
                "reduced_points": int(sum(s.n_reduced_points for s in model.subdomains)),
                "lifting_dofs": int(sum(len(s.lifting_dofs) for s in model.subdomains if s.has_lifting))})
    for case in training + unseen:
        reference, hf_seconds = references[case]
        problem = make_cube_strain_problem(n, *case)
        plain = model.solve(problem)
        row = {"tension": case[0], "shear": case[1], "trained": case in training, "hf_seconds": hf_seconds,
               "online_seconds": plain.parameters["online_seconds"],
               "error_U": true_error(reference, plain).overall,
               "error_evrcum": true_error(reference, plain, "evrcum").overall,
               "indicator_max": case_indicator(plain)}
        if case not in training:
            policy = Enrichment(tol=0.05, max_enrichments=6)
            adapted = model.solve(problem, adaptive=policy)
            row.update({"enrichments": len(adapted.parameters["enrichments"]),
                        "adaptive_online_seconds": adapted.parameters["online_seconds"],
                        "error_U_adaptive": true_error(reference, adapted).overall,
                        "error_evrcum_adaptive": true_error(reference, adapted, "evrcum").overall})
        out["cases"].append(row)
    out["load_average_after"] = _load()
    return out


SECTIONS = ("speedup", "refinement", "adaptive", "indicator", "imposed")


def run(*, quick: bool = False, size: float | None = None, steps: int = 5, repeat: int = 3,
        refine_n: int | None = None, adaptive_n: int | None = None, sections=SECTIONS,
        workdir: Path | None = None, log=print) -> dict:
    """Measure the figures of the module docstring; returns a JSON-ready dict.

    Parameters
    ----------
    quick : bool
        Blade size 3 mm (~27 000 dofs), cube n = 3 → 6 (refinement) and n = 3
        (adaptive), 12 indicator cases.
    size : float
        Blade element size (mm) of section 1 (default 1.5: ~160 000 dofs).
    steps : int
        Time steps of the flight cycle of every blade run (section 1).
    repeat : int
        Online solves timed per measurement (the best counts).
    refine_n, adaptive_n : int
        Cube sizes of sections 2 (n and 2n; default 4) and 3 (default 6).
    sections : sequence of str
        Which of ``speedup``, ``refinement``, ``adaptive``, ``indicator`` to run.
    """
    size = size if size is not None else (3.0 if quick else 1.5)
    refine_n = refine_n or (3 if quick else 4)
    adaptive_n = adaptive_n or (3 if quick else 6)
    started = time.perf_counter()
    figures = {"machine": {"python": platform.python_version(), "processor": platform.processor(),
                           "cpus": os.cpu_count()}, "quick": quick, "library": library_version()}
    with tempfile.TemporaryDirectory(prefix="nirom-bench-online-", dir=workdir) as tmp:
        tmp = Path(tmp)
        if "speedup" in sections:
            figures["speedup"] = speedup(size, steps, repeat, tmp, log)
        if "refinement" in sections:
            figures["refinement"] = refinement(refine_n, max(repeat, 7), tmp, log=log)
        if "adaptive" in sections:
            figures["adaptive"] = adaptive(adaptive_n, tmp, log)
        if "indicator" in sections:
            figures["indicator"] = indicator(quick, log)
        if "imposed" in sections:
            figures["imposed"] = imposed(3 if quick else 4, tmp, log)
    figures["seconds"] = time.perf_counter() - started
    return figures


def print_table(figures: dict) -> None:
    """The figures as a readable table."""
    if "speedup" in figures:
        s = figures["speedup"]
        rom, hf = s["rom"], s["hf"]
        print(f"\n[1] speed-up, blade {s['dofs']} dofs ({s['cells']} tet10), {hf['n_steps']} steps of one flight "
              f"cycle, 1 thread per process (load average {s['load_average_before_hf']:.1f} before the HF run)")
        print(f"  training: 2 HF runs, {s['training']['wall_seconds']:.0f} s (concurrent); offline "
              f"{s['offline']['seconds']:.1f} s -> {s['offline']['n_modes']} modes, "
              f"{s['offline']['reduced_points']} reduced points")
        print(f"  HF   rom.hifi.solve                      {hf['seconds']:10.2f} s")
        print(f"  ROM  online (reduced Newton loop)        {rom['online_seconds']:10.4f} s   speed-up "
              f"{s['speedup_online']:8.0f}x  (target >= 100, goal 500)")
        print(f"  ROM  + set-up + full-field reconstruction {rom['total_seconds']:9.4f} s   speed-up "
              f"{s['speedup_total']:8.0f}x")
        print(f"  (CPU time: HF {hf['cpu_seconds']:.2f} s, ROM total {rom['total_cpu_seconds']:.4f} s, speed-up "
              f"{s['speedup_total_cpu']:.0f}x)")
        steps = np.asarray(rom["error_U_per_step"])
        norms = np.asarray(rom["norm_U_hf_per_step"])
        worst = int(np.nanargmax(np.where(np.isfinite(steps), steps, np.nan)))
        print(f"  relative error U {rom['error_U']:.2e} over the history (target <= 1e-3); per step "
              + " ".join(f"{v:.1e}" for v in steps[1:])
              + f" (worst at step {worst}, where |U| is {100 * norms[worst] / norms.max():.1f} % of its peak)")
        print(f"  evrcum error {rom['error_evrcum']:.2e}, indicator max {rom['indicator_max']:.2e}")
    if "refinement" in figures:
        r = figures["refinement"]
        print(f"\n[2] online time per step vs HF mesh (same basis sizes; load average {r['load_average_before']:.1f})")
        for m in r["meshes"]:
            print(f"  cube n={m['n']:2d} {m['dofs']:6d} dofs: {1e3 * m['online_seconds_per_step']:7.3f} ms/step "
                  f"({m['n_modes']} modes, {m['reduced_points']} reduced points); HF "
                  f"{m['hf_seconds_per_step']:.3f} s/step")
        print(f"  ratio fine/coarse: online {r['ratio_fine_over_coarse']:.2f} (target <= 1.3), "
              f"HF {r['hf_ratio_fine_over_coarse']:.1f}")
    if "adaptive" in figures:
        a = figures["adaptive"]
        print(f"\n[3] adaptive enrichment, cube n={a['n']} ({a['dofs']} dofs), {a['test_loading']} "
              f"(trained on {a['training_loading']}), tol {a['tol']:g}")
        print(f"  {a['enrichments']} enrichments in {a['n_steps']} steps (steps {a['enriched_steps']}), modes "
              f"{a['n_modes_before']} -> {a['n_modes_after']}")
        print(f"  adaptive solve {a['adaptive_online_seconds']:.2f} s: HF steps {a['hf_step_seconds']:.2f} s "
              f"({100 * a['fraction_in_hf_steps']:.0f} %), model updates {a['model_update_seconds']:.2f} s "
              f"({100 * a['fraction_in_model_updates']:.0f} %); plain ROM {a['plain_online_seconds']:.3f} s; "
              f"HF whole loading {a['hf_seconds']:.2f} s")
        print(f"  error U     plain {a['error_U_plain']:.2e}  adaptive {a['error_U_adaptive']:.2e}")
        print(f"  error evrcum plain {a['error_evrcum_plain']:.2e}  adaptive {a['error_evrcum_adaptive']:.2e}")
    if "indicator" in figures:
        i = figures["indicator"]
        print(f"\n[4] indicator calibration, {i['description']}")
        for name in ("U", "evrcum"):
            c = i[name]
            print(f"  max indicator vs {name:6s} error: Spearman {c['spearman']:.3f} over {c['n_cases']} cases "
                  f"(target >= 0.9), Pearson(log) {c['pearson_log']:.3f}; error ~ {c['fit']['a']:.3g} "
                  f"indicator^{c['fit']['b']:.2f}" + (f"; not calibrated: {', '.join(c['excluded'])}"
                                                      if c["excluded"] else ""))
        for name, errors in i.get("other_indicators", {}).items():
            print(f"  {name} as the indicator: Spearman "
                  + ", ".join(f"vs {e} error {c['spearman']:.3f}" for e, c in errors.items()))
    if "imposed" in figures:
        m = figures["imposed"]
        print(f"\n[5] imposed displacements, cube n={m['n']} ({m['dofs']} dofs) clamped at the base, top face moved "
              f"(tension, shear) through a reversed cycle; trained on {m['training']}: {m['n_modes']} modes, "
              f"{m['reduced_points']} reduced points, {m['lifting_dofs']} lifting dofs")
        for c in m["cases"]:
            line = (f"  ({c['tension']:.3f}, {c['shear']:.3f}) {'trained' if c['trained'] else 'unseen '}: "
                    f"U {c['error_U']:.1e}, evrcum {c['error_evrcum']:.1e}, indicator {c['indicator_max']:.1e}; "
                    f"HF {c['hf_seconds']:.2f} s, ROM {c['online_seconds']:.3f} s")
            if not c["trained"]:
                line += (f"; adaptive ({c['enrichments']} enrichments, {c['adaptive_online_seconds']:.2f} s): "
                         f"U {c['error_U_adaptive']:.1e}, evrcum {c['error_evrcum_adaptive']:.1e}")
            print(line)
    print(f"\ntotal {figures['seconds']:.0f} s")


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--child"]:
        print(json.dumps(_CHILDREN[argv[1]](json.loads(argv[2]))))
        return 0
    parser = argparse.ArgumentParser(description="Online-stage benchmark (speed-up, mesh independence, "
                                                 "adaptivity, indicator)")
    parser.add_argument("--quick", action="store_true", help="small blade and cubes: about two minutes")
    parser.add_argument("--size", type=float, help="blade element size in mm (default 1.5: ~160 000 dofs)")
    parser.add_argument("--steps", type=int, default=5, help="time steps of the flight cycle (default 5)")
    parser.add_argument("--repeat", type=int, default=3, help="timed online solves (best counts)")
    parser.add_argument("--refine-n", type=int, help="cube n of the refinement section (n and 2n)")
    parser.add_argument("--adaptive-n", type=int, help="cube n of the adaptive section")
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    args = parser.parse_args(argv)
    figures = run(quick=args.quick, size=args.size, steps=args.steps, repeat=args.repeat, refine_n=args.refine_n,
                  adaptive_n=args.adaptive_n, sections=tuple(args.sections))
    print_table(figures)
    from io_adapters.atomic import write_text_atomic

    name = "online_quick.json" if args.quick else "online.json"
    if set(args.sections) != set(SECTIONS):
        name = name.replace(".json", "_partial.json")
    write_text_atomic(RESULTS / name, json.dumps(figures, indent=2) + "\n")
    print(f"wrote {RESULTS / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
