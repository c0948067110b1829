"""``mpiexec -n P nirom cluster cluster.toml``: a dictionary of local models and ROM-net.

Validates the configuration (every problem at once), clusters the training runs, builds
a local reduced-order model per cluster (each rank its subdomain), fits ROM-net, writes
the dictionary file and, on rank 0, the report (Markdown + figures,
:func:`clustering.build.write_report`, with a "Run" section added here) and a summary.
Beside the dictionary: the run record ``dictionary.h5.run.json``. Keys:
:mod:`clustering.config`.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

log = logging.getLogger("nirom")


def effective_configuration(config) -> dict:
    """Every key of a clustering configuration with the value used (None: not set or required).

    ``config`` is a :class:`clustering.config.ClusterConfig`, or None for the defaults.
    """
    import dataclasses

    from clustering.config import ClassifierSettings, ClusteringSettings, FeatureSettings

    from mpi_drivers.offline import effective_configuration as offline_tables
    from mpi_drivers.report import settings_table

    def defaults(cls) -> dict:
        return {f.name: (f.default if f.default is not dataclasses.MISSING else None)
                for f in dataclasses.fields(cls)}

    def path(value):
        return None if value is None else str(getattr(value, "source", value)) if hasattr(value, "mesh") \
            else str(value)

    tables = ("pod", "ecm", "indicator", "rule", "stress_field")
    if config is None:
        local = offline_tables(None)
        return {"problem": None, "output": None, "report": None,
                "clustering": {k: list(v) if isinstance(v, tuple) else v for k, v in defaults(ClusteringSettings).items()},
                "features": settings_table(FeatureSettings()), "classifier": settings_table(ClassifierSettings()),
                **{k: local[k] for k in tables}, "training": [{"store": None, "problem": None}]}
    from rom.offline_config import OfflineConfig

    offline = OfflineConfig.from_dict({"training": [str(r.store) for r in config.training], "problem": config.problem,
                                       **config.offline}, base_dir=Path("."), source=config.source)
    local = offline_tables(offline)
    return {"problem": path(config.problem), "output": path(config.output), "report": path(config.report),
            "clustering": settings_table(config.clustering), "features": settings_table(config.features),
            "classifier": settings_table(config.classifier), **{k: local[k] for k in tables},
            "training": [{"store": str(r.store), "problem": path(r.problem)} for r in config.training]}


def run_cluster(config_path: str | Path, comm, *, quiet: bool = False) -> int:
    """Build, save, record and report a ROM dictionary (every rank calls it)."""
    from io_adapters.errors import ConfigError

    from clustering.build import build_dictionary, write_report
    from clustering.config import ClusterConfig

    from mpi_drivers import report
    from mpi_drivers.offline import training_files

    if comm.rank != 0:
        logging.getLogger().setLevel(logging.ERROR)
    config = ClusterConfig.load(config_path)
    if config.output is None:
        raise ConfigError(f"{config_path}: 'output' (the dictionary file) is required")
    start = time.perf_counter()
    dictionary = build_dictionary(config, comm=comm)
    dictionary.save(config.output, comm=comm)
    seconds = time.perf_counter() - start
    problems = [r.problem for r in config.training if not hasattr(r.problem, "mesh")]
    inputs = [config_path, None if hasattr(config.problem, "mesh") else config.problem, *problems,
              *training_files(r.store for r in config.training)]
    record = report.write_run_record(config.output, command="cluster", configuration=effective_configuration(config),
                                     inputs=inputs, comm=comm, seconds=seconds, problem=config.problem,
                                     extra={"dictionary": {k: dictionary.report.get(k) for k in (
                                         "cluster_sizes", "silhouette", "efficiency_ratio")}})
    if comm.rank == 0:
        page = None
        if config.report:
            page = write_report(dictionary, config.report)
            _add_run_section(page, record)
        if not quiet:
            print(dictionary.summary())
            print(f"dictionary written to {config.output} in {seconds:.2f} s" + (f"; report {page}" if page else ""))
    return 0


def _add_run_section(page: Path, record: Path) -> None:
    """Append the run's essentials (version, ranks, time, record link, input checksums) to the report."""
    import json
    import os

    from io_adapters.atomic import write_text_atomic

    data = json.loads(record.read_text())
    link = os.path.relpath(record.resolve(), page.resolve().parent)
    lines = ["", "## Run", "",
             f"nirom {data.get('nirom_version')} · `{' '.join(data.get('argv', []))}` · {data.get('ranks')} rank(s) "
             f"on {data.get('host')} · {data.get('seconds')} s · {data.get('finished')}", "",
             f"Run record (effective configuration, input checksums): [{record.name}]({link})", "",
             "| input | SHA-256 |", "|---|---|"]
    lines += [f"| `{name}` | `{entry['sha256'][:16]}…` |" for name, entry in data.get("inputs", {}).items()]
    write_text_atomic(page, page.read_text().rstrip() + "\n" + "\n".join(lines) + "\n")
