"""``mpiexec -n P nirom offline offline.toml``: build and save a reduced-order model."""

from __future__ import annotations

import logging
import time
from pathlib import Path

log = logging.getLogger("nirom")


def run_offline(config_path: str | Path, comm) -> int:
    """Validate the configuration, build the model on every rank, save it, report on rank 0."""
    from rom.model import ReducedOrderModel  # noqa: F401  (import errors surface before any work)
    from rom.offline import build
    from rom.offline_config import OfflineConfig
    from io_adapters.errors import ConfigError

    if comm.rank != 0:
        logging.getLogger().setLevel(logging.ERROR)    # logs and progress on rank 0
    config = OfflineConfig.load(config_path)           # every problem reported at once, on every rank
    if config.output is None:
        raise ConfigError(f"{config_path}: 'output' (the model file) is required")
    start = time.perf_counter()
    model = build(config, comm=comm)
    model.save(config.output, comm=comm)
    if comm.rank == 0:
        timing = model.provenance.get("timing_seconds", {})
        print(model.summary())
        print("timing: " + ", ".join(f"{k} {v:.2f} s" for k, v in timing.items()))
        print(f"model written to {config.output} in {time.perf_counter() - start:.2f} s"
              + (f"; singular values plotted in {config.plot}" if config.plot else ""))
    return 0
