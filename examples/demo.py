"""The main job on an embedded default case (``make demo``).

Today: read a real Zset run (an elastoviscoplastic cube, bundled in
``tests/data/zset``), convert it to a nirom store with its ParaView sidecar, read
one subdomain back as a rank of the offline stage would, merge the same run
computed by Zset on 2 subdomains, and solve a small elastoviscoplastic cube with
nirom's own high-fidelity solver. Each later stage of nirom adds its step here.

Run: ``make demo`` or ``.venv/bin/python examples/demo.py [--out DIR]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "zset"


def convert_zset(out: Path) -> Path:
    import io_adapters
    from io_adapters import store

    source = DATA / "UtExample" / "cube.ut"
    start = time.perf_counter()
    sim = io_adapters.read(source)
    path = io_adapters.save(sim, out / "cube.h5")
    print(f"1. Zset run {source.relative_to(ROOT)} -> {path} ({time.perf_counter() - start:.2f} s)")
    print("   " + sim.summary().replace("\n", "\n   "))

    half = np.arange(sim.mesh.n_cells // 2)
    part = store.read(path, cells=half, fields=["U", "sig"], steps=[sim.n_times - 1])
    print(f"2. one subdomain read back (cells 0..{half[-1]}): {part.mesh.n_nodes} nodes, "
          f"sig {part.fields['sig'].shape}, U {part.fields['U'].shape}; "
          f"max |U| = {np.abs(part.fields['U'].values).max():.4e}")

    merged = io_adapters.read(DATA / "UtParExample" / "cube.cut")
    whole = io_adapters.read(DATA / "UtParExample" / "cube.ut")
    order = np.argsort(merged.mesh.point_ids)
    reference = np.argsort(whole.mesh.point_ids)
    diff = np.abs(merged.fields["U"].values[:, order] - whole.fields["U"].values[:, reference]).max()
    print(f"3. Zset run on 2 subdomains merged: {merged.mesh.n_nodes} nodes, {merged.mesh.n_cells} cells; "
          f"max |U(merged) - U(global run)| = {diff:.1e}")
    print(f"   ParaView: {store.sidecar_path(path)}")
    return path


def solve_cube(out: Path) -> None:
    try:
        from examples.cube.problem import make_cube_problem
    except ImportError:
        return
    from rom.hifi import solve

    problem = make_cube_problem(4, n_cycles=1)
    start = time.perf_counter()
    sim = solve(problem, output=out / "cube_hifi.h5")
    seconds = time.perf_counter() - start
    p = sim.fields["evrcum"].values if "evrcum" in sim.fields else np.zeros(1)
    print(f"4. nirom high-fidelity solve of an elastoviscoplastic cube ({3 * problem.mesh.n_nodes} dofs, "
          f"{problem.n_steps} steps): {seconds:.1f} s, max |U| = {np.abs(sim.fields['U'].values).max():.3e}, "
          f"max p = {p.max():.3e}")
    print(f"   results: {out / 'cube_hifi.h5'} (+ .xdmf)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "demo_output")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(ROOT))
    convert_zset(args.out)
    solve_cube(args.out)
    print(f"done: outputs in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
