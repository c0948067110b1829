"""``mpiexec -n P nirom offline offline.toml``: build and save a reduced-order model.

Beside the model (``output``): the run record ``rom.h5.run.json`` (effective
configuration, nirom version, SHA-256 of the configuration, the problem and every
training file), the singular values (``plot``, default ``rom_singular_values.png``),
the ECM points on the mesh (``rom_ecm_points.png``) and the report ``rom_report.md``
linking them. ``plot = false`` draws no picture.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

log = logging.getLogger("nirom")


def effective_configuration(config) -> dict:
    """Every key of an offline configuration with the value the build uses (None: not set).

    ``config`` is an :class:`rom.offline_config.OfflineConfig`, or None for the defaults.
    """
    from rom.offline_config import _DEFAULT_POD   # the one default basis: [pod.U] tol
    from rom.settings import EcmSettings, IndicatorSettings, PodSettings

    from mpi_drivers.report import settings_table

    if config is None:
        return {"training": None, "problem": None, "output": None, "partition": None, "rule": None,
                "checkpoint": None, "plot": None, "stress_field": "sig",
                "pod": {name: settings_table(PodSettings(**table)) for name, table in _DEFAULT_POD.items()},
                "ecm": settings_table(EcmSettings()), "indicator": settings_table(IndicatorSettings())}
    problem = config.problem
    return {"training": [str(p) for p in config.training],
            "problem": str(problem) if isinstance(problem, (str, Path)) else str(getattr(problem, "source", problem)),
            "output": None if config.output is None else str(config.output),
            "partition": config.partition, "rule": config.rule,
            "checkpoint": None if config.checkpoint is None else str(config.checkpoint),
            "plot": False if config.plot is None else str(config.plot), "stress_field": config.stress_field,
            "pod": {name: settings_table(table) for name, table in config.pod.items()},
            "ecm": settings_table(config.ecm), "indicator": settings_table(config.indicator)}


def training_files(paths) -> list[Path]:
    """The files the training runs are made of (a store; a Zset ``.ut`` and its data files)."""
    import io_adapters

    files: list[Path] = []
    for path in paths:
        files.append(Path(path))
        try:
            listed = io_adapters.read(str(path)).provenance.get("files", []) or []
        except Exception:                # already read by the build: only the companions are looked for
            listed = []
        files.extend(Path(f) for f in listed if Path(f).exists())
    return list(dict.fromkeys(files))


def reduced_points(model, comm) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Global integration-point rows of the ECM points, their weights and the other
    (Gappy-POD) reduced points, gathered on rank 0 (None elsewhere; collective)."""
    ecm_rows, weights, gappy_rows = [], [], []
    for sub in model.subdomains:
        ecm = sub.point_rows[np.asarray(sub.quadrature.points, dtype=np.int64)]
        ecm_rows.append(ecm)
        weights.append(np.asarray(sub.quadrature.weights, dtype=float))
        gappy_rows.append(np.setdiff1d(sub.point_rows[np.asarray(sub.points, dtype=np.int64)], ecm))
    mine = (np.concatenate(ecm_rows), np.concatenate(weights), np.concatenate(gappy_rows))
    parts = [mine] if comm is None or comm.size == 1 else comm.gather(mine, root=0)
    if parts is None:
        return None
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))


def run_offline(config_path: str | Path, comm, *, quiet: bool = False) -> int:
    """Validate the configuration, build the model on every rank, save it, record and report on rank 0."""
    from rom.model import ReducedOrderModel  # noqa: F401  (import errors surface before any work)
    from rom.offline import build
    from rom.offline_config import OfflineConfig
    from io_adapters.errors import ConfigError

    from mpi_drivers import report

    if comm.rank != 0:
        logging.getLogger().setLevel(logging.ERROR)    # logs and progress on rank 0
    config = OfflineConfig.load(config_path)           # every problem reported at once, on every rank
    if config.output is None:
        raise ConfigError(f"{config_path}: 'output' (the model file) is required")
    start = time.perf_counter()
    model = build(config, comm=comm)
    model.save(config.output, comm=comm)
    seconds = time.perf_counter() - start
    points = reduced_points(model, comm)
    given = hasattr(config.problem, "mesh")              # a Problem from Python: its content is recorded
    inputs = [config_path, None if given else config.problem, *training_files(config.training)]
    cache = None if config.checkpoint is None else Path(config.checkpoint) / "training_digests.json"
    record = report.write_run_record(config.output, command="offline", configuration=effective_configuration(config),
                                     inputs=inputs, comm=comm, seconds=seconds, cache=cache,
                                     problem=config.problem,
                                     extra={"model": {"n_modes": model.n_modes, **{k: model.settings.get(k) for k in (
                                         "reduced_points", "ecm_points", "dual_modes")}}})
    if comm.rank == 0:
        page = _report(config, model, points, record)
        if not quiet:
            timing = model.provenance.get("timing_seconds", {})
            print(model.summary())
            print("timing: " + ", ".join(f"{k} {v:.2f} s" for k, v in timing.items()))
            print(f"model written to {config.output} in {seconds:.2f} s"
                  + (f"; singular values plotted in {config.plot}" if config.plot else "") + f"; report: {page}")
    return 0


def _report(config, model, points, record: Path) -> Path:
    """The ECM picture and ``<stem>_report.md`` (rank 0)."""
    from rom import fem

    from mpi_drivers import report

    output = Path(config.output)
    pictures = {}
    if config.plot is not None:
        pictures["POD singular values per field"] = Path(config.plot).with_suffix(".png")
        coordinates = fem.integration_points(model.mesh, model.rule)
        ecm_rows, weights, gappy_rows = points
        pictures["reduced integration points on the mesh"] = report.plot_reduced_points(
            model.mesh, coordinates[ecm_rows], weights, coordinates[gappy_rows],
            output.with_name(output.stem + "_ecm_points.png"), n_points=len(coordinates))
    timing = model.provenance.get("timing_seconds", {})
    rows = ["| phase | seconds |", "|---|---|"] + [f"| {k} | {v:.2f} |" for k, v in timing.items()]
    return report.markdown_report(
        report.report_path(output), title=f"nirom offline — {output.name}", record=record,
        sections=[("Model", report.text_block(model.summary())), ("Timing", "\n".join(rows))], pictures=pictures)
