"""``mpiexec -n P nirom cluster cluster.toml``: a dictionary of local models and ROM-net.

Validates the configuration (every problem at once), clusters the training runs, builds
a local reduced-order model per cluster (each rank its subdomain), fits ROM-net, writes
the dictionary file and, on rank 0, the report (Markdown + figures) and a summary.
Keys: :mod:`clustering.config`.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

log = logging.getLogger("nirom")


def run_cluster(config_path: str | Path, comm) -> int:
    """Build, save and report a ROM dictionary (every rank calls it)."""
    from io_adapters.errors import ConfigError

    from clustering.build import build_dictionary, write_report
    from clustering.config import ClusterConfig

    if comm.rank != 0:
        logging.getLogger().setLevel(logging.ERROR)
    config = ClusterConfig.load(config_path)
    if config.output is None:
        raise ConfigError(f"{config_path}: 'output' (the dictionary file) is required")
    start = time.perf_counter()
    dictionary = build_dictionary(config, comm=comm)
    dictionary.save(config.output, comm=comm)
    if comm.rank == 0:
        report = write_report(dictionary, config.report) if config.report else None
        print(dictionary.summary())
        print(f"dictionary written to {config.output} in {time.perf_counter() - start:.2f} s"
              + (f"; report {report}" if report else ""))
    return 0
