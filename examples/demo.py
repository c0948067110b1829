"""What nirom is for, on a bundled case, in a few minutes (``make demo``).

1. A real Zset result (``tests/data/zset``) read into a nirom store: nirom reads your
   solver's results as they are.
2. Training: the turbine-blade-like part of ``examples/blade`` (tet10, the Zset
   ``gen_evp`` elastoviscoplastic law, centrifugal + pressure + thermal loads over a
   flight cycle) solved by the high-fidelity solver for two loadings, concurrently.
3. ``mpiexec -n 2 nirom offline``: POD, ECM hyper-reduction and Gappy-POD on 2 subdomains.
4. **A new loading inside the trained range**: the reduced model (loaded, solved, every
   field rebuilt on the whole mesh) against the high-fidelity solver on the same
   loading: the speed-up, all set-up included, and the error.
5. **A loading outside the trained range** (faster rotation, higher pressure): the
   reduced model's error indicator fires; with adaptivity on, one high-fidelity step
   per alarm enriches the model and the error drops back; the enriched model, saved,
   then answers a nearby loading on its own.

Run: ``make demo`` or ``.venv/bin/python examples/demo.py [--out DIR] [--ranks 2]
[--size 2.5]`` (43 000 dofs, about 80 s on 2 cores); ``--size 1.5`` is the large blade (~160 000 dofs, about 10 minutes).
Everything is written under ``--out`` (ParaView: the ``.xdmf`` files).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "zset"

#: Loadings of the blade (rotation speed rad/s, pressure MPa): two for training, one
#: between them, one beyond them.
TRAINING = ({"omega": 950.0, "pressure": 0.5}, {"omega": 1100.0, "pressure": 0.8})
INSIDE = {"omega": 1040.0, "pressure": 0.7}
OUTSIDE = {"omega": 1200.0, "pressure": 1.0}
#: A later loading near the one the model was enriched for: the enriched model answers it alone.
NEAR = {"omega": 1180.0, "pressure": 0.95}
STEPS = 5
LOCAL = {"pod": {name: {"tol": 1e-6} for name in ("U", "evrcum", "evri", "al1", "sig")}, "ecm": {"tol": 1e-5},
         "indicator": {"field": "evrcum", "tol": 1e-3}}


def blade_problem(mesh, loading: dict):
    from examples.blade import make_blade_problem

    return make_blade_problem(0.0, mesh=mesh, seed=0, n_cycles=1, steps_per_cycle=STEPS, **loading)


def convert_zset(out: Path) -> None:
    import io_adapters

    source = DATA / "UtExample" / "cube.ut"
    sim = io_adapters.read(source)
    path = io_adapters.save(sim, out / "zset_cube.h5")
    print(f"1. Zset result {source.relative_to(ROOT)}: {sim.mesh.n_nodes} nodes, {sim.n_times} steps, "
          f"{len(sim.fields)} fields -> {path.name} (+ .xdmf for ParaView)", flush=True)


_TRAIN = r"""
import sys, json
sys.path.insert(0, sys.argv[1])
import io_adapters
from examples.demo import blade_problem
from rom.hifi import solve
mesh = io_adapters.read(sys.argv[2]).mesh
solve(blade_problem(mesh, json.loads(sys.argv[3])), output=sys.argv[4])
"""


def train(out: Path, size: float):
    """The mesh, and the two training runs solved concurrently (one process each)."""
    import io_adapters
    from examples.blade import make_blade_mesh
    from io_adapters.simulation import Simulation

    mesh = make_blade_mesh(size)
    io_adapters.save(Simulation(mesh, np.zeros(0), {}), out / "blade_mesh.h5", xdmf=False)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    start = time.perf_counter()
    runs = [subprocess.Popen([sys.executable, "-c", _TRAIN, str(ROOT), str(out / "blade_mesh.h5"), json.dumps(load),
                              str(out / f"train{i}.h5")], env=env, stderr=subprocess.PIPE, text=True)
            for i, load in enumerate(TRAINING)]
    for run in runs:
        _, stderr = run.communicate()
        if run.returncode != 0:
            raise SystemExit(f"demo: a training run failed:\n{stderr}")
    print(f"2. training: the blade, {3 * mesh.n_nodes} dofs ({mesh.n_cells} tet10), {STEPS} steps of a flight "
          f"cycle, 2 loadings solved concurrently in {time.perf_counter() - start:.1f} s", flush=True)
    return mesh, [out / f"train{i}.h5" for i in range(len(TRAINING))]


def offline(out: Path, ranks: int) -> float:
    """``nirom offline`` on the training runs (the problem given as the blade's first loading)."""
    config = {"training": ["train0.h5", "train1.h5"], "output": "rom.h5", **LOCAL}
    (out / "offline_config.json").write_text(json.dumps(config))
    script = (f"import sys, json; sys.path.insert(0, {str(ROOT)!r})\n"
              "import io_adapters\nfrom examples.demo import blade_problem, TRAINING\n"
              "from mpi_drivers.collective import run_collectively\nfrom rom.offline import build\n"
              "config = json.load(open('offline_config.json'))\n"
              "config['problem'] = blade_problem(io_adapters.read('blade_mesh.h5').mesh, TRAINING[0])\n"
              "def stage(comm):\n    build(config, comm).save('rom.h5', comm)\n    return 0\n"
              "raise SystemExit(run_collectively(stage, 'offline'))\n")
    exe = Path(sys.executable).parent
    command = [sys.executable, "-c", script]
    if ranks > 1:
        command = [str(exe / "mpiexec"), "-n", str(ranks)] + command
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    start = time.perf_counter()
    done = subprocess.run(command, cwd=out, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"demo: the offline stage failed:\n{done.stderr or done.stdout}")
    seconds = time.perf_counter() - start
    info = subprocess.run([str(exe / "nirom"), "info", "rom.h5"], cwd=out, capture_output=True, text=True)
    first = info.stdout.splitlines()[1] if info.returncode == 0 else ""
    print(f"3. offline on {ranks} ranks in {seconds:.1f} s: {first}", flush=True)
    return seconds


def relative(a, b) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def inside(out: Path, mesh) -> dict:
    """The ROM and the HF solver on a loading between the trained ones."""
    from rom.hifi import solve
    from rom.model import ReducedOrderModel

    import rom.online  # noqa: F401  (the library's imports, done before timing as the HF solver's were)

    problem = blade_problem(mesh, INSIDE)
    start = time.perf_counter()
    reference = solve(problem)
    hf_seconds = time.perf_counter() - start
    start = time.perf_counter()
    model = ReducedOrderModel.load(out / "rom.h5")          # set-up ...
    result = model.solve(problem)                           # ... the reduced solve ...
    predicted = result.to_simulation()                      # ... every field on the whole mesh
    rom_seconds = time.perf_counter() - start
    result.write(out / "inside_rom.h5")                     # for ParaView (not timed)
    error = relative(predicted.fields["U"].values, reference.fields["U"].values)
    print(f"4. inside the trained range (ω {INSIDE['omega']:g} rad/s, {INSIDE['pressure']:g} MPa): HF "
          f"{hf_seconds:.2f} s, ROM {rom_seconds:.3f} s with set-up and reconstruction -> speed-up "
          f"x{hf_seconds / rom_seconds:.0f}, displacement error {error:.1e}", flush=True)
    return {"hf": hf_seconds, "rom": rom_seconds, "error": error, "indicator": float(max(result.indicator)),
            "steps": int(problem.n_steps)}


def outside(out: Path, mesh) -> dict:
    """A loading beyond the trained ones: plain ROM, then ROM with enrichment, against HF."""
    from rom.adaptive import Enrichment
    from rom.hifi import solve
    from rom.model import ReducedOrderModel

    problem = blade_problem(mesh, OUTSIDE)
    start = time.perf_counter()
    reference = solve(problem, output=out / "outside_hifi.h5")
    hf_seconds = time.perf_counter() - start
    model = ReducedOrderModel.load(out / "rom.h5")
    start = time.perf_counter()
    plain = model.solve(problem)
    plain_fields = plain.to_simulation()
    plain_seconds = time.perf_counter() - start
    start = time.perf_counter()
    adapted = model.solve(problem, adaptive=Enrichment(tol=1e-3))
    adapted_fields = adapted.to_simulation()
    adaptive_seconds = time.perf_counter() - start
    adapted.write(out / "outside_rom.h5")
    adapted.model.save(out / "rom_enriched.h5")
    near = blade_problem(mesh, NEAR)
    start = time.perf_counter()
    near_reference = solve(near)
    near_hf = time.perf_counter() - start
    start = time.perf_counter()
    enriched = ReducedOrderModel.load(out / "rom_enriched.h5")
    again = enriched.solve(near)
    again_fields = again.to_simulation()
    near_seconds = time.perf_counter() - start
    U = reference.fields["U"].values
    figures = {"hf": hf_seconds, "plain": plain_seconds, "adaptive": adaptive_seconds,
               "near_hf": near_hf, "near_rom": near_seconds,
               "error_near": relative(again_fields.fields["U"].values, near_reference.fields["U"].values),
               "indicator_near": float(max(again.indicator)),
               "error_plain": relative(plain_fields.fields["U"].values, U),
               "error_adaptive": relative(adapted_fields.fields["U"].values, U),
               "indicator_plain": float(max(plain.indicator)), "indicator_adaptive": float(max(adapted.indicator)),
               "enrichments": len(adapted.enrichments), "hf_steps_seconds": adapted.hf_seconds,
               "steps": int(problem.n_steps)}
    print(f"5. outside the trained range (ω {OUTSIDE['omega']:g} rad/s, {OUTSIDE['pressure']:g} MPa): the plain ROM's "
          f"indicator reaches {figures['indicator_plain']:.1e} (error {figures['error_plain']:.1e}); with "
          f"adaptivity {figures['enrichments']} enrichment(s) bring the error to {figures['error_adaptive']:.1e} "
          f"in {adaptive_seconds:.2f} s (HF {hf_seconds:.2f} s); the enriched model then answers a nearby loading "
          f"(ω {NEAR['omega']:g} rad/s, {NEAR['pressure']:g} MPa) alone: x{near_hf / near_seconds:.0f}, error "
          f"{figures['error_near']:.1e}", flush=True)
    return figures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "demo_output")
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--size", type=float, default=2.5, help="blade element size in mm (2.5: 43 000 dofs; 1.5: ~160 000 dofs)")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(ROOT))
    total = time.perf_counter()

    convert_zset(out)
    mesh, _ = train(out, args.size)
    offline(out, args.ranks)
    a = inside(out, mesh)
    b = outside(out, mesh)

    dofs = 3 * mesh.n_nodes
    print("\nsummary (blade, %d dofs, %d steps)" % (dofs, a["steps"]))
    print("  case                          HF time   ROM time   speed-up   displacement error   enrichments")
    print(f"  inside the trained range     {a['hf']:7.2f} s  {a['rom']:7.3f} s  {a['hf'] / a['rom']:8.0f}x"
          f"   {a['error']:18.1e}   {0:11d}")
    print(f"  outside, plain ROM           {b['hf']:7.2f} s  {b['plain']:7.3f} s  {b['hf'] / b['plain']:8.0f}x"
          f"   {b['error_plain']:18.1e}   {0:11d}   (indicator {b['indicator_plain']:.1e}: flagged)")
    print(f"  outside, ROM + enrichment    {b['hf']:7.2f} s  {b['adaptive']:7.3f} s  "
          f"{b['hf'] / b['adaptive']:8.1f}x   {b['error_adaptive']:18.1e}   {b['enrichments']:11d}"
          "   (each enrichment is one HF step)")
    print(f"  nearby, the enriched model   {b['near_hf']:7.2f} s  {b['near_rom']:7.3f} s  "
          f"{b['near_hf'] / b['near_rom']:8.0f}x   {b['error_near']:18.1e}   {0:11d}")
    print("  ROM time: model loading, reduced solves and every field rebuilt on the whole mesh; one process.")
    print(f"  ParaView: {out / 'inside_rom.xdmf'}, {out / 'outside_rom.xdmf'}, {out / 'outside_hifi.xdmf'}")
    (out / "summary.json").write_text(json.dumps({"dofs": dofs, "inside": a, "outside": b}, indent=2))
    print(f"done in {time.perf_counter() - total:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
