"""The main job on an embedded default case (``make demo``).

1. A real Zset run (bundled in ``tests/data/zset``) converted to a nirom store.
2. High-fidelity training runs of the elastoviscoplastic cube (``examples/cube``):
   two temperature fields, one thermo-mechanical cycle each.
3. ``mpiexec -n 2 nirom offline``: POD, ECM, Gappy-POD on 2 subdomains.
4. ``mpiexec -n 2 nirom online`` on an unseen (hotter) temperature field, with the
   error indicator and adaptive enrichment on.
5. The same loading with the high-fidelity solver, for the errors and the speed-up.

Run: ``make demo`` or ``.venv/bin/python examples/demo.py [--out DIR] [--ranks 2]``.
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
CUBE = ROOT / "examples" / "cube"


def convert_zset(out: Path) -> None:
    import io_adapters

    source = DATA / "UtExample" / "cube.ut"
    sim = io_adapters.read(source)
    path = io_adapters.save(sim, out / "zset_cube.h5")
    merged = io_adapters.read(DATA / "UtParExample" / "cube.cut")
    print(f"1. Zset run {source.relative_to(ROOT)}: {sim.mesh.n_nodes} nodes, {sim.mesh.n_cells} c3d8, "
          f"{sim.n_times} steps, {len(sim.fields)} fields -> {path.name} (+ .xdmf); "
          f"the same run on 2 subdomains merges into {merged.mesh.n_nodes} nodes")


def train(out: Path, size: int) -> list[Path]:
    from examples.cube.cube import make_cube_problem
    from rom.hifi import solve

    paths, seconds = [], 0.0
    for case in ("hotspot", "gradient"):
        problem = make_cube_problem(size, temperature_case=case, n_cycles=1, steps_per_cycle=10)
        start = time.perf_counter()
        solve(problem, output=out / f"train_{case}.h5")
        seconds += time.perf_counter() - start
        paths.append(out / f"train_{case}.h5")
    print(f"2. high-fidelity training: 2 runs of the cube ({3 * problem.mesh.n_nodes} dofs, 10 steps each) "
          f"in {seconds:.1f} s -> {', '.join(p.name for p in paths)}")
    return paths


def problem_files(out: Path, size: int) -> tuple[Path, Path]:
    """examples/cube/problem.toml on a cube of this size: the trained loading, and one
    with a hotter peak temperature field (not trained on)."""
    from examples.cube.cube import hot_field, make_cube_mesh
    from io_adapters.zset import write_geof

    mesh = make_cube_mesh(size)
    write_geof(mesh, out / f"cube{size}.geof")
    np.save(out / "trained_hot.npy", hot_field(mesh.points, "hotspot"))
    np.save(out / "unseen_hot.npy", hot_field(mesh.points, "hotspot", hot=1000.0, warm=550.0))
    template = (CUBE / "problem.toml").read_text().replace('mesh = "cube4.geof"', f'mesh = "cube{size}.geof"')
    template = template.replace("cycles = 2", "cycles = 1")
    paths = []
    for name, field in (("trained", "trained_hot.npy"), ("unseen", "unseen_hot.npy")):
        path = out / f"{name}.toml"
        path.write_text(template.replace('max = { file = "cube4_hot.npy" }', f'max = {{ file = "{field}" }}'))
        paths.append(path)
    return paths[0], paths[1]


def nirom(ranks: int, *args: str, cwd: Path) -> str:
    exe = Path(sys.executable).parent
    command = [str(exe / "nirom"), *args]
    if ranks > 1:
        command = [str(exe / "mpiexec"), "-n", str(ranks)] + command
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"demo: '{' '.join(args)}' failed:\n{done.stderr or done.stdout}")
    return done.stdout


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "demo_output")
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--size", type=int, default=6, help="cube elements per edge (hexahedron20)")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(ROOT))
    total = time.perf_counter()

    convert_zset(out)
    training = train(out, args.size)
    trained_path, problem_path = problem_files(out, args.size)

    (out / "offline.toml").write_text("\n".join([
        f"training = {json.dumps([p.name for p in training])}",
        f'problem = "{trained_path.name}"',
        'output = "rom.h5"',
        *[f"[pod.{name}]\ntol = 1e-6" for name in ("U", "evrcum", "evri", "al1", "sig")],
        "[ecm]\ntol = 1e-5",
        '[indicator]\nfield = "evrcum"\ntol = 1e-3', ""]))
    start = time.perf_counter()
    report = nirom(args.ranks, "offline", "offline.toml", cwd=out)
    offline_seconds = time.perf_counter() - start
    first = report.splitlines()[0]
    points = next((line for line in report.splitlines() if line.startswith("reduced integration points")), "")
    print(f"3. offline on {args.ranks} ranks in {offline_seconds:.1f} s: {first}; {points.split(':')[-1].strip()} "
          "reduced integration points")

    (out / "case.toml").write_text(f'problem = "{problem_path.name}"\noutput = "online.h5"\n'
                                   '[indicator]\ntol = 1e-3\n[adaptive]\nenabled = true\n'
                                   'save_model = "rom_enriched.h5"\n')
    start = time.perf_counter()
    report = nirom(args.ranks, "online", "rom.h5", "case.toml", cwd=out)
    online_wall = time.perf_counter() - start

    import io_adapters
    from io_adapters import read_problem
    from rom.hifi import solve

    online = io_adapters.read(out / "online.h5")
    start = time.perf_counter()
    reference = solve(read_problem(problem_path), output=out / "unseen_hifi.h5")
    hifi_seconds = time.perf_counter() - start
    p = online.parameters
    error_u = np.linalg.norm(online.fields["U"].values - reference.fields["U"].values) / np.linalg.norm(
        reference.fields["U"].values)
    error_p = np.linalg.norm(online.fields["evrcum"].values - reference.fields["evrcum"].values) / max(
        np.linalg.norm(reference.fields["evrcum"].values), 1e-300)
    enrichments = p["enrichments"]
    hf_in_online = sum(e["hf_seconds"] for e in enrichments)
    enrich_seconds = sum(e["seconds"] for e in enrichments)
    print(f"4. online on {args.ranks} ranks, unseen hotter field, adaptivity on: {len(online.times) - 1} steps, "
          f"{len(enrichments)} enrichments, max indicator {max(p['indicator']):.2e}, "
          f"reduced solves {p['online_seconds']:.2f} s (HF steps inside: {hf_in_online:.2f} s), "
          f"wall {online_wall:.1f} s with start-up")
    print(f"5. high-fidelity reference of the unseen loading: {hifi_seconds:.2f} s")
    reduced = max(p["online_seconds"] - enrich_seconds, 1e-9)
    print("\nsummary")
    print(f"  HF time {hifi_seconds:.2f} s; ROM time {p['online_seconds']:.2f} s = reduced solves {reduced:.3f} s "
          f"+ {len(enrichments)} enrichments {enrich_seconds:.2f} s (HF steps {hf_in_online:.2f} s)")
    print(f"  speed-up x{hifi_seconds / p['online_seconds']:.1f} with the enrichments, "
          f"x{hifi_seconds / reduced:.0f} for the reduced solves alone (a small demo mesh: "
          "benchmarks/ measures the large case)")
    print(f"  errors vs HF: displacement {error_u:.2e}, cumulated plasticity {error_p:.2e}")
    print("  run report of the online stage:\n    " + report.strip().replace("\n", "\n    "))
    print(f"  ParaView: {out / 'online.xdmf'}, {out / 'unseen_hifi.xdmf'}, {out / 'zset_cube.xdmf'}")
    print(f"  plot: {out / 'rom_singular_values.png'}; enriched model: {out / 'rom_enriched.h5'}")
    print(f"done in {time.perf_counter() - total:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
