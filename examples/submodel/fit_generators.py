"""Fit the boundary-condition generators on the training traces of ``generate.py``.

    .venv/bin/python examples/submodel/fit_generators.py examples/submodel/data/traces.h5 --iterations 5000

Writes, beside the traces file, ``gaussian.h5``, ``bootstrap.h5`` and ``wgan.h5``
(:mod:`rom.bc_generator`; one space–time POD at 99.9 % of the training energy shared by
the three), each carrying the layout of the traces (the global ids of the submodel's
boundary nodes and the times), which ``nirom submodel mc`` checks against the submodel.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def fit(traces_path: Path, *, iterations: int, kinds=("gaussian", "bootstrap", "wgan"), seed: int = 0,
        learning_rate: float | None = None) -> dict:
    """Fit and save the generators; returns their fit times (s)."""
    from rom.bc_generator import BootstrapGenerator, GaussianGenerator, SpaceTimePOD, WGANConfig, WGANGenerator
    from rom.submodel_mc import read_traces

    data = read_traces(traces_path)
    train = data.traces[data.training]
    pod = SpaceTimePOD(energy=0.999).fit(train)
    seconds = {}
    for kind in kinds:
        if kind == "wgan":
            config = WGANConfig(n_iterations=iterations, checkpoint_every=max(iterations // 4, 1),
                                **({"learning_rate": learning_rate} if learning_rate else {}))
            generator = WGANGenerator(config, compression=pod)
        else:
            generator = {"gaussian": GaussianGenerator, "bootstrap": BootstrapGenerator}[kind](compression=pod)
        start = time.perf_counter()
        generator.fit(train, node_ids=data.node_ids, times=data.times, seed=seed)
        seconds[kind] = time.perf_counter() - start
        generator.save(traces_path.with_name(f"{kind}.h5"))
    return {"seconds": seconds, "n_modes": pod.n_modes, "n_train": len(train)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="fit the generators of the submodel's boundary traces")
    parser.add_argument("traces", type=Path)
    parser.add_argument("--iterations", type=int, default=5000, help="WGAN-GP generator iterations (default 5000)")
    parser.add_argument("--kinds", nargs="+", default=["gaussian", "bootstrap", "wgan"])
    parser.add_argument("--learning-rate", type=float, help="Adam's (default 1e-4, Gulrajani's)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out = fit(args.traces, iterations=args.iterations, kinds=args.kinds, seed=args.seed,
              learning_rate=args.learning_rate)
    print(f"{out['n_train']} training traces, {out['n_modes']} POD coefficients; fitted "
          + ", ".join(f"{k} in {v:.1f} s" for k, v in out["seconds"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
