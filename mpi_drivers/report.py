"""What a command leaves beside its outputs: a run record, pictures and a short report.

Every ``nirom`` command that writes an output (a store, a model, a dictionary, online
results) writes next to it

- ``<output>.run.json`` — the **run record** (:func:`write_run_record`): the command
  line, the nirom version (package metadata), the effective configuration with its
  defaults, the SHA-256 of every input file (and of the problem's content: mesh,
  loads, temperature fields, whichever files they came from), the ranks, the host,
  the time taken. Written atomically by rank 0 after the output;
- for the stages (``hifi``, ``offline``, ``online``, ``cluster``), ``<output stem>_report.md``:
  a short Markdown page that links the pictures of the run (PNG beside it) and the
  record.

The pictures: singular values per field and the ECM points on the mesh (offline),
indicator and watched fit residuals against time with the enrichments marked, and
the error against time when a reference is given (online), the largest displacement
and internal variables against time (hifi). Rank 0 draws them (matplotlib, Agg).

Also here: :func:`to_toml` and :func:`settings_table`, which print an effective
configuration (``--print-config``).
"""

from __future__ import annotations

import datetime as _datetime
import json
import os
import platform
import socket
import sys
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

__all__ = ["checksums", "nirom_version", "record_path", "report_path", "settings_table", "to_toml",
           "write_run_record"]

#: Format of the run records.
RECORD_FORMAT = "nirom-run"
RECORD_VERSION = 1


# ================================================================ version, records
def nirom_version() -> str:
    """The installed nirom's version (package metadata), ``"unknown"`` when not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("nirom")
    except PackageNotFoundError:
        return "unknown"


def record_path(output: str | os.PathLike) -> Path:
    """``<output>.run.json``: the run record beside an output."""
    output = Path(output)
    return output.with_name(output.name + ".run.json")


def report_path(output: str | os.PathLike) -> Path:
    """``<output stem>_report.md``: the run report beside an output."""
    output = Path(output)
    return output.with_name(output.stem + "_report.md")


def _stat_key(path: Path) -> list:
    st = path.stat()
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


#: Digests computed in this process, by resolved path and ``stat`` (a batch hashes its model once).
_MEMO: dict[tuple, str] = {}


def _cached(path: Path, cache: dict) -> str | None:
    try:
        if not path.is_file():
            return None
        resolved = path.resolve()
        stat = _stat_key(resolved)
    except OSError:
        return None
    entry = cache.get(str(resolved))
    if isinstance(entry, dict) and entry.get("stat") == stat and isinstance(entry.get("sha256"), str):
        return entry["sha256"]
    return _MEMO.get((str(resolved), *stat))


def _digest(path: Path, cache: dict) -> str:
    from rom.offline_config import file_digest

    known = _cached(path, cache)
    if known is not None:
        return known
    digest = file_digest(path)
    if path.is_file():
        resolved = path.resolve()
        _MEMO[(str(resolved), *_stat_key(resolved))] = digest
    return digest


def checksums(paths: Iterable, *, comm=None, cache: str | os.PathLike | None = None) -> dict[str, str]:
    """SHA-256 of files (of every file under a folder, names included), as ``{path: hexdigest}``.

    Parameters
    ----------
    paths : iterable of paths
        Duplicates are hashed once; the order is kept.
    comm : communicator, optional
        The files are hashed by the ranks in turn and the digests shared (collective:
        every rank calls it with the same list and gets the same dict).
    cache : path, optional
        A JSON file of digests keyed by resolved path and ``stat`` (the offline
        checkpoint's ``training_digests.json``): a file whose ``stat`` did not change
        is not read again. Read only.
    """
    files = list(dict.fromkeys(str(p) for p in paths if p is not None))
    known: dict = {}
    if cache is not None and Path(cache).is_file():
        try:
            known = json.loads(Path(cache).read_text())
        except (OSError, ValueError):
            known = {}
        known = known if isinstance(known, dict) else {}
    rank, size = (0, 1) if comm is None else (comm.rank, comm.size)
    mine = {}
    for i, name in enumerate(files):
        if i % size != rank:
            continue
        path = Path(name)
        try:
            mine[name] = _digest(path, known)
        except OSError as exc:
            mine[name] = f"unreadable: {exc.strerror or exc}"
    if comm is not None and size > 1:
        mine = {k: v for part in comm.allgather(mine) for k, v in part.items()}
    return {name: mine[name] for name in files}


def write_run_record(output, *, command: str, configuration: Mapping, inputs: Iterable = (), comm=None,
                     seconds: float | None = None, cache=None, problem=None, status: str = "ok",
                     extra: Mapping | None = None, digests: Mapping[str, str] | None = None) -> Path:
    """Write ``<output>.run.json`` (collective when ``comm`` is given; rank 0 writes).

    Parameters
    ----------
    output : path
        The output the record describes.
    command : str
        ``"offline"``, ``"online"``, …
    configuration : dict
        The effective configuration (JSON-able after :func:`rom.settings.plain`).
    inputs : iterable of paths
        Files whose SHA-256 is recorded (hashed by the ranks in turn, see :func:`checksums`).
    seconds : float, optional
    cache : path, optional
        Digest cache (:func:`checksums`).
    problem : io_adapters.Problem or path, optional
        Its content digest is recorded (mesh, materials, loads, temperature, times:
        what the problem holds, whichever files it was read from).
    status : str
        ``"ok"``, or what went wrong (a failed solve still leaves its converged steps).
    extra : dict, optional
        More entries (figures of the run).
    digests : dict, optional
        Checksums already computed (:func:`checksums`): ``inputs`` is not hashed again.

    Returns
    -------
    Path
        The record's path (on every rank).
    """
    from io_adapters.atomic import write_text_atomic

    from rom.settings import plain

    path = record_path(output)
    digests = dict(digests) if digests is not None else checksums(inputs, comm=comm, cache=cache)
    content = None
    if problem is not None and (comm is None or comm.rank == 0):
        from rom.offline_config import content_digest

        if isinstance(problem, (str, os.PathLike)):
            from io_adapters.problem import read_problem

            try:
                problem = read_problem(problem)
            except Exception:         # read by the stage already; the file's own checksum is recorded
                problem = None
        content = None if problem is None else content_digest(problem)
    if comm is not None and comm.rank != 0:
        return path
    record = {
        "format": RECORD_FORMAT, "format_version": RECORD_VERSION, "command": command,
        "argv": _argv(), "nirom_version": nirom_version(),
        "status": status, "output": str(output),
        "finished": _datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "seconds": None if seconds is None else round(float(seconds), 3),
        "ranks": 1 if comm is None else comm.size, "host": socket.gethostname(),
        "python": platform.python_version(), "configuration": plain(dict(configuration)),
        "inputs": {name: {"sha256": digest} for name, digest in digests.items()},
    }
    if content is not None:
        record["problem_content_sha256"] = content
    if extra:
        record.update(plain(dict(extra)))
    write_text_atomic(path, json.dumps(record, indent=2, default=str) + "\n")
    return path


def _argv() -> list[str]:
    """The command line, ``nirom …`` also when run as ``python -m mpi_drivers.cli …``."""
    program = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    return ["nirom" if program in ("cli.py", "__main__.py") else program, *sys.argv[1:]]


# ================================================================ configuration printing
def settings_table(settings) -> dict:
    """Every key of a :class:`rom.settings.Settings` table, None for those not set (``to_dict`` leaves them out)."""
    import dataclasses

    from rom.settings import Settings, plain

    def value(v):
        return settings_table(v) if isinstance(v, Settings) else plain(v)

    return {f.name: value(getattr(settings, f.name)) for f in dataclasses.fields(settings)
            if f.metadata.get("key", True)}


def _toml_key(key: str) -> str:
    import re

    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, (str, os.PathLike)):
        return json.dumps(os.fspath(value), ensure_ascii=False)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items() if v is not None) + " }"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))


def to_toml(data: Mapping, *, unset: str = "not set") -> str:
    """A configuration as TOML text; keys at None become comments (``# key: not set``).

    Nested dicts become tables (``[pod.U]``), lists of dicts arrays of tables
    (``[[training]]``).
    """
    lines: list[str] = []

    def emit(table: Mapping, prefix: tuple[str, ...]) -> None:
        scalars = [(k, v) for k, v in table.items()
                   if not isinstance(v, dict) and not (isinstance(v, (list, tuple)) and v and
                                                       all(isinstance(i, dict) for i in v))]
        for key, value in scalars:
            lines.append(f"# {key}: {unset}" if value is None else f"{_toml_key(key)} = {_toml_value(value)}")
        for key, value in table.items():
            if isinstance(value, dict):
                name = ".".join(_toml_key(p) for p in (*prefix, key))
                if not value or not all(isinstance(v, dict) for v in value.values()):
                    lines.extend(["", f"[{name}]"])           # a table of tables only: its header is implied
                emit(value, (*prefix, key))
            elif isinstance(value, (list, tuple)) and value and all(isinstance(i, dict) for i in value):
                name = ".".join(_toml_key(p) for p in (*prefix, key))
                for item in value:
                    lines.extend(["", f"[[{name}]]"])
                    emit(item, (*prefix, key))

    emit(data, ())
    return "\n".join(lines).lstrip("\n") + "\n"


# ================================================================ pictures
def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    from io_adapters.atomic import atomic_path

    plt = _pyplot()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


#: At most this many boundary facets are drawn as the outline of the mesh.
MAX_OUTLINE_FACETS = 20000


def plot_reduced_points(mesh, ecm_points: np.ndarray, ecm_weights: np.ndarray, gappy_points: np.ndarray,
                        path: str | os.PathLike, *, n_points: int | None = None) -> Path:
    """PNG: the ECM points (size ∝ weight) and the Gappy-POD points over the mesh's outline.

    Parameters
    ----------
    mesh : io_adapters.Mesh
    ecm_points : (k, 3) coordinates of the ECM points
    ecm_weights : (k,) their weights
    gappy_points : (m, 3) coordinates of the other reduced points (Gappy-POD sensors)
    path : path
    n_points : int, optional
        Integration points of the whole mesh (for the title).
    """
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection

    from rom.fem.topology import boundary_facets

    plt = _pyplot()
    fig = plt.figure(figsize=(6.5, 5.5))
    ax = fig.add_subplot(projection="3d")
    corners = {"triangle": 3, "triangle6": 3, "quad": 4, "quad8": 4, "quad9": 4}
    polygons = [mesh.points[facets[:, :corners[kind]]] for kind, facets in boundary_facets(mesh.cells).items()
                if kind in corners]
    if polygons:
        count = sum(len(p) for p in polygons)
        step = max(1, int(np.ceil(count / MAX_OUTLINE_FACETS)))
        outline = [poly for block in polygons for poly in block[::step]]
        ax.add_collection3d(Poly3DCollection(outline, facecolor=(0.55, 0.6, 0.7, 0.08),
                                             edgecolor=(0.35, 0.35, 0.4, 0.45), linewidth=0.3))
    ecm_points, gappy_points = np.asarray(ecm_points).reshape(-1, 3), np.asarray(gappy_points).reshape(-1, 3)
    if len(gappy_points):
        ax.scatter(*gappy_points.T, marker="x", color="tab:blue", s=18, label=f"Gappy-POD points ({len(gappy_points)})",
                   depthshade=False)
    if len(ecm_points):
        w = np.asarray(ecm_weights, dtype=float)
        size = 12 + 80 * w / w.max() if len(w) and w.max() > 0 else 20
        ax.scatter(*ecm_points.T, s=size, color="tab:red", edgecolor="k", linewidth=0.3,
                   label=f"ECM points ({len(ecm_points)}), size ∝ weight", depthshade=False)
    low, high = mesh.points.min(axis=0), mesh.points.max(axis=0)
    ax.set_xlim(low[0], high[0])
    ax.set_ylim(low[1], high[1])
    ax.set_zlim(low[2], high[2])
    ax.set_box_aspect(np.maximum(high - low, 1e-9 * max(np.ptp(mesh.points), 1.0)))
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_zlabel("z")
    ax.grid(False)
    for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
        axis.pane.fill = False
        axis.pane.set_edgecolor((1, 1, 1, 0))
    of = f" of {n_points} integration points" if n_points else ""
    ax.set_title(f"reduced points: {len(ecm_points)} ECM + {len(gappy_points)} Gappy-POD{of}")
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, Path(path))


def _positive(values) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return np.where(values > 0, values, np.nan)


def _mark_enrichments(ax, enrichments) -> None:
    for i, event in enumerate(enrichments):
        ax.axvline(event.time, color="tab:green", lw=1.0, ls="--", label="enrichment" if i == 0 else None)


def plot_indicator(result, path: str | os.PathLike, *, tol: float | None = None) -> Path:
    """PNG: the indicator and the watched fit residuals per step, the tolerance, the enrichments."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    times = np.asarray(result.times)
    ax.semilogy(times, _positive(result.indicator), marker="o", ms=3, label="indicator")
    for name, values in result.watched.items():
        ax.semilogy(times, _positive(values), marker=".", ls=":", label=f"{name} fit residual")
    for event in result.enrichments:
        ax.semilogy([event.time, event.time], [event.indicator_before, event.indicator_after], color="tab:green",
                    marker="v", ms=5, lw=0.8)
    _mark_enrichments(ax, result.enrichments)
    if tol is not None and tol > 0:
        ax.axhline(tol, color="tab:red", lw=0.8, label=f"tolerance {tol:g}")
    ax.set_xlabel("time")
    ax.set_ylabel("relative fit residual")
    ax.set_title(f"error indicator ({len(result.enrichments)} enrichments)")
    ax.grid(True, which="both", lw=0.3)
    ax.legend(fontsize=8)
    return _save(fig, Path(path))


def plot_errors(times, errors: Mapping[str, np.ndarray], path: str | os.PathLike, *, enrichments=()) -> Path:
    """PNG: the relative error of each field against the reference, per step."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, values in errors.items():
        ax.semilogy(times, _positive(values), marker="o", ms=3, label=name)
    _mark_enrichments(ax, enrichments)
    ax.set_xlabel("time")
    ax.set_ylabel("‖ROM − reference‖ / max over time ‖reference‖")
    ax.set_title("error against the reference")
    ax.grid(True, which="both", lw=0.3)
    ax.legend(fontsize=8)
    return _save(fig, Path(path))


def plot_history(times, curves: Mapping[str, np.ndarray], path: str | os.PathLike, *, title: str) -> Path:
    """PNG: one panel per curve against time (largest |U|, largest internal variables)."""
    plt = _pyplot()
    n = max(len(curves), 1)
    fig, axes = plt.subplots(n, 1, figsize=(6.5, 2.2 * n + 0.6), sharex=True, squeeze=False)
    for ax, (name, values) in zip(axes[:, 0], curves.items()):
        ax.plot(times, values, marker="o", ms=3)
        ax.set_ylabel(name)
        ax.grid(True, lw=0.3)
    axes[-1, 0].set_xlabel("time")
    axes[0, 0].set_title(title)
    return _save(fig, Path(path))


# ================================================================ Markdown
def markdown_report(path: str | os.PathLike, *, title: str, record: Path | None, sections: list[tuple[str, str]],
                    pictures: Mapping[str, Path] = {}) -> Path:
    """Write a short Markdown report: a title, the record's essentials, sections, pictures (relative links)."""
    from io_adapters.atomic import write_text_atomic

    path = Path(path)
    lines = [f"# {title}", ""]
    if record is not None and record.is_file():
        data = json.loads(record.read_text())
        lines += [f"nirom {data.get('nirom_version')} · `{' '.join(data.get('argv', []))}` · {data.get('ranks')} "
                  f"rank(s) on {data.get('host')} · {data.get('seconds')} s · {data.get('finished')} · "
                  f"status **{data.get('status')}**", "",
                  f"Run record (effective configuration, input checksums): [{record.name}]({_relative(record, path)})",
                  ""]
    for heading, body in sections:
        lines += [f"## {heading}", "", body.rstrip(), ""]
    if pictures:
        lines += ["## Pictures", ""]
        for caption, picture in pictures.items():
            lines += [f"**{caption}**", "", f"![{caption}]({_relative(Path(picture), path)})", ""]
    if record is not None and record.is_file():
        data = json.loads(record.read_text())
        rows = ["| input | SHA-256 |", "|---|---|"]
        rows += [f"| `{name}` | `{entry['sha256'][:16]}…` |" for name, entry in data.get("inputs", {}).items()]
        lines += ["## Inputs", "", *rows, ""]
    write_text_atomic(path, "\n".join(lines).rstrip() + "\n")
    return path


def _relative(target: Path, report: Path) -> str:
    try:
        return os.path.relpath(Path(target).resolve(), Path(report).resolve().parent)
    except ValueError:                       # another drive
        return str(target)


def text_block(text: str) -> str:
    """A fenced ``text`` block (reports quote the command's printed summary)."""
    return "```text\n" + text.rstrip() + "\n```"
