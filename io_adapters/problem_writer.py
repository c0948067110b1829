"""Write a :class:`~io_adapters.problem.Problem` as a TOML problem file and its data file.

>>> from io_adapters.problem_writer import write_problem
>>> toml = write_problem(problem, "cases/case_007.toml")     # + cases/case_007.h5
>>> read_problem(toml) == problem                             # True: read back identically

Any problem — materials, Dirichlet conditions, imposed fields, pressures (one
value or one per facet), centrifugal loads, temperatures, tables, time steps,
solver and output settings — is written in the schema of
:mod:`io_adapters.problem_toml`, so the file feeds ``nirom online`` case files,
:func:`io_adapters.problem.read_problem` and any external tool that reads TOML
and HDF5. Numbers are written exactly (shortest round-trip decimal form), so the
problem read back equals the one written (``==``; its ``source`` is the file).

Files
-----
``<name>.toml``
    The problem; arrays are referenced by path relative to it:
    ``{ file = "<name>.h5", dataset = "temperature/fields" }``. Its key
    ``data = { file = "<name>.h5", uuid = "…" }`` names the data file it was
    written with: a reader refuses a data file of another write.
``<name>.h5`` — the *data file*, HDF5 layout ``nirom-problem``, version 1::

    /                       attrs: format="nirom-problem", format_version=1, writer="nirom",
                                   complete=1 (set last), uuid, checksums="crc32",
                                   metadata_checksum (see io_adapters.store.integrity)
    /mesh                   the mesh, in the store's layout (io_adapters.store.layout);
                            absent when the mesh is written as a .geof
    /time/steps             (n_steps + 1,) float64, only for long time lists
    /pressures/<i>/values   (n_facets,) float64: pressure i given per facet
    /temperature/fields     (n_j, n_nodes) float64: the fields T_j
    /imposed_fields/<i>/values  (n_records, n_set_nodes, 3) float64
    /imposed_fields/<i>/times   (n_times,) float64 (space–time form)
    /imposed_fields/<i>/nodes   (n_set_nodes,) int64: the mesh node of each row

    Every dataset carries the CRC-32 of its values (``checksum``), verified when read.
    Without arrays and with a ``.geof`` mesh, no data file is written.
``<name>.geof``
    With ``mesh_format="geof"``: the mesh as a Zset ASCII ``.geof`` (coordinates
    written with 17 significant digits; set names must be single words), for
    external solvers.

Each file is written under a temporary name and renamed into place (the data file
and mesh first, the TOML last); a reader that finds a TOML beside a data file of
another write says so (the ``uuid``) rather than mixing them.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from io_adapters.atomic import atomic_path
from io_adapters.errors import ConfigError, InputError
from io_adapters.problem import ImposedField, Problem, TimeTable

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "read_dataset", "write_problem"]

#: The ``format`` attribute of a problem's data file.
FORMAT_NAME = "nirom-problem"
FORMAT_VERSION = 1
#: Time lists longer than this go to the data file rather than the TOML.
INLINE_STEPS = 2000

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


# =================================================================== writing
def write_problem(problem: Problem, path: str | os.PathLike, *, mesh_format: str = "h5") -> Path:
    """Write a problem as ``<path>`` (TOML) and ``<path stem>.h5`` (data) beside it, atomically.

    Parameters
    ----------
    problem : Problem
    path : path
        The TOML file (``.toml`` is added when it has another suffix).
    mesh_format : {"h5", "geof"}
        The mesh in the data file (the store's mesh layout), or as ``<stem>.geof``
        beside it (a Zset mesh: ids are the mesh's ``point_ids``/``cell_ids`` when
        they are positive and unique; set names must be single words).

    Returns
    -------
    Path
        The TOML file; :func:`io_adapters.problem.read_problem` reads it back into a
        problem equal to ``problem``.
    """
    if not isinstance(problem, Problem):
        raise ConfigError(f"write_problem needs a Problem, found {type(problem).__name__}")
    if mesh_format not in ("h5", "geof"):
        raise ConfigError(f"write_problem: mesh_format must be 'h5' or 'geof', found {mesh_format!r}")
    if mesh_format == "geof":
        _check_geof_names(problem.mesh)
    path = Path(path)
    if path.suffix.lower() != ".toml":
        path = path.with_name(path.name + ".toml")
    data_path = path.with_suffix(".h5")
    layout = _Layout(problem, data_path.name)
    text = layout.toml(mesh_format)
    if layout.arrays or mesh_format == "h5":
        identifier = _write_data(data_path, problem.mesh if mesh_format == "h5" else None, layout.arrays)
        text = text.replace(_UUID_PLACEHOLDER, identifier)
    if mesh_format == "geof":
        from io_adapters.zset.geof import write_geof

        write_geof(problem.mesh, path.with_suffix(".geof"))
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


_UUID_PLACEHOLDER = "@@nirom-data-uuid@@"
#: Set names a .geof holds (Zset reads a name up to the next blank; % and # start comments).
_GEOF_NAME = re.compile(r"^[^\s%#*]+$")


def _check_geof_names(mesh) -> None:
    for kind in ("node_sets", "cell_sets", "face_sets"):
        for name in getattr(mesh, kind):
            if not _GEOF_NAME.match(name):
                raise ConfigError(f"write_problem: a .geof cannot hold the {kind[:-1].replace('_', ' ')} name "
                                  f"{name!r} (Zset names are single words without %, # or *): write the mesh in "
                                  "the data file (mesh_format='h5')")


class _Layout:
    """The TOML text of a problem and the arrays it references (dataset → values)."""

    def __init__(self, problem: Problem, data_name: str):
        self.problem = problem
        self.data_name = data_name
        self.arrays: dict[str, np.ndarray] = {}

    def ref(self, dataset: str, values: np.ndarray, **extra) -> dict:
        self.arrays[dataset] = np.ascontiguousarray(values)
        return {"file": self.data_name, "dataset": dataset, **extra}

    def table_ref(self, table: TimeTable):
        """A named table of the problem equal to ``table``, else the table inline."""
        for name, named in self.problem.tables.items():
            if named == table:
                return name
        return _table_dict(table)

    def toml(self, mesh_format: str) -> str:
        p = self.problem
        mesh_name = self.data_name if mesh_format == "h5" else str(Path(self.data_name).with_suffix(".geof"))
        top: dict[str, Any] = {"mesh": mesh_name}
        steps = np.asarray(p.times)
        time = {"steps": self.ref("time/steps", steps) if len(steps) > INLINE_STEPS else steps}
        sections: list[tuple[str, Any]] = [("time", time)]
        if p.solver:
            sections.append(("solver", p.solver))
        if p.output:
            sections.append(("output", p.output))
        sections.append(("materials", {name: spec for name, spec in p.materials.items()}))
        arrays: list[tuple[str, list]] = []
        if p.dirichlet:
            arrays.append(("dirichlet", [_without_none({"node_set": bc.node_set, "component": bc.component,
                                                        "value": bc.value, "table": bc.table})
                                         for bc in p.dirichlet]))
        if p.imposed_fields:
            arrays.append(("imposed_field", [self.imposed(i, f) for i, f in enumerate(p.imposed_fields)]))
        if p.pressures:
            items = []
            for i, load in enumerate(p.pressures):
                item: dict[str, Any] = {"face_set": load.face_set}
                if isinstance(load.values, np.ndarray):
                    item.update(self.ref(f"pressures/{i}/values", load.values))
                else:
                    item["value"] = load.values
                item["table"] = load.table
                items.append(_without_none(item))
            arrays.append(("pressure", items))
        if p.centrifugal:
            arrays.append(("centrifugal", [_without_none({"cell_set": c.cell_set, "center": c.center,
                                                          "axis": c.axis, "omega": c.omega, "table": c.table})
                                           for c in p.centrifugal]))
        if p.temperature is not None:
            T = p.temperature
            fields = [self.ref("temperature/fields", T.fields, record=j + 1, table=self.table_ref(table))
                      for j, table in enumerate(T.tables)]
            sections.append(("temperature", {"fields": fields}))
        if p.tables:
            sections.append(("tables", {name: _table_dict(t) for name, t in p.tables.items()}))
        if self.arrays or mesh_format == "h5":
            top["data"] = {"file": self.data_name, "uuid": _UUID_PLACEHOLDER}

        lines = [f"# A nirom problem (io_adapters.problem_writer, data format {FORMAT_NAME} {FORMAT_VERSION}).",
                 f"# Written from: {_one_line(p.source)}", ""]
        lines += [_entry(k, v) for k, v in top.items()]
        for name, body in sections:
            if name in ("materials", "tables"):
                for key, table in body.items():
                    lines += ["", f"[{name}.{_key(key)}]"]
                    lines += [_entry(k, v) for k, v in table.items()]
            else:
                lines += ["", f"[{name}]"]
                lines += [_entry(k, v) for k, v in body.items()]
        for name, items in arrays:
            for item in items:
                lines += ["", f"[[{name}]]"]
                lines += [_entry(k, v) for k, v in item.items()]
        return "\n".join(lines) + "\n"

    def imposed(self, i: int, imposed: ImposedField) -> dict:
        where = f"imposed_fields/{i}"
        item: dict[str, Any] = {"node_set": imposed.node_set, "components": list(imposed.components)}
        nodes = self.ref(f"{where}/nodes", self.problem.mesh.node_sets[imposed.node_set])
        if imposed.is_history:
            item.update(self.ref(f"{where}/values", imposed.values))
            item["times"] = self.ref(f"{where}/times", imposed.times)
        else:
            item["fields"] = [self.ref(f"{where}/values", imposed.values, record=j + 1, table=self.table_ref(t))
                              for j, t in enumerate(imposed.tables)]
        item["nodes"] = nodes
        return item


def _table_dict(table: TimeTable) -> dict:
    return _without_none({"time": table.times, "value": table.values, "period": table.period,
                          "start": table.start, "end": table.end})


def _without_none(item: dict) -> dict:
    return {k: v for k, v in item.items() if v is not None}


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


# -------------------------------------------------------------- TOML values
def _entry(key, value) -> str:
    """``key = value``; an array of tables one table per line."""
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, Mapping) for v in value):
        return f"{_key(key)} = [\n" + "".join(f"  {_value(v)},\n" for v in value) + "]"
    return f"{_key(key)} = {_value(value)}"


def _key(key) -> str:
    key = str(key)
    return key if _BARE_KEY.match(key) else _string(key)


def _string(text: str) -> str:
    out = json.dumps(text, ensure_ascii=False)          # a TOML basic string, but for DEL
    return out.replace("\x7f", "\\u007f")


def _value(value) -> str:
    """One TOML value: numbers exactly (``repr`` of a float is its shortest round-trip form)."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(f"a problem file cannot hold the non-finite number {value}")
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, np.ndarray):
        return _value(value.tolist())
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }" if value else "{}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, os.PathLike):
        return _string(os.fspath(value))
    raise ConfigError(f"a problem file cannot hold {value!r} ({type(value).__name__})")


# ---------------------------------------------------------------- data file
def _write_data(path: Path, mesh, arrays: Mapping[str, np.ndarray]) -> str:
    """The data file, atomically; returns its uuid."""
    import h5py

    from io_adapters.store import integrity
    from io_adapters.store.hdf5 import _write_mesh, set_text

    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            set_text(f.attrs, "format", FORMAT_NAME)
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["complete"] = 0
            set_text(f.attrs, "writer", "nirom")
            if mesh is not None:
                _write_mesh(f.create_group("mesh"), mesh, fixed_strings=True)
            for name, values in arrays.items():
                f.create_dataset(name, data=values)
            identifier = integrity.seal(f, path)
            f.attrs["complete"] = 1
    return identifier


# ================================================================== reading
def is_data_file(path: str | os.PathLike) -> bool:
    """True when ``path`` is an HDF5 file of the ``nirom-problem`` layout."""
    from io_adapters.store.hdf5 import has_format

    return has_format(path, FORMAT_NAME)


def _open(path: Path, what: str):
    """An open HDF5 file; a data file of nirom's layout is checked (version, completeness, metadata)."""
    import h5py

    from io_adapters.formats import file_problem

    problem = file_problem(path)
    if problem is not None:
        raise ConfigError(f"{what}: {path}: {problem}")
    try:
        f = h5py.File(path, "r")
    except Exception as exc:  # noqa: BLE001  h5py raises OSError and others on corrupt files
        raise ConfigError(f"{what}: {path} is not a readable HDF5 file ({exc})") from None
    try:
        fmt = f.attrs.get("format")
        fmt = fmt.decode("utf-8", "replace") if isinstance(fmt, bytes) else fmt
        if fmt == FORMAT_NAME:
            from io_adapters.store import integrity

            version = f.attrs.get("format_version")
            if version != FORMAT_VERSION:
                raise ConfigError(f"{what}: {path} is a problem data file of format version {version!r}, this "
                                  f"nirom reads version {FORMAT_VERSION}")
            if f.attrs.get("complete") != 1:
                raise ConfigError(f"{what}: {path} is incomplete (its writer did not finish)")
            if integrity.carries_checksums(f, path):
                integrity.check_metadata(f, path)
    except InputError as exc:
        f.close()
        raise ConfigError(f"{what}: {exc}") from None
    except BaseException:
        f.close()
        raise
    return f


def data_file_uuid(path: str | os.PathLike, what: str) -> str | None:
    """The ``uuid`` of a data file (None when it has none)."""
    with _open(Path(path), what) as f:
        value = f.attrs.get("uuid")
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def read_mesh(path: str | os.PathLike, what: str = "mesh"):
    """The mesh of a data file (``/mesh``), every array checked."""
    from io_adapters.store.hdf5 import _read_mesh

    path = Path(path)
    with _open(path, what) as f:
        if "mesh" not in f:
            raise ConfigError(f"{what}: {path} holds no mesh (no '/mesh' group)")
        points = f["mesh"].get("points")
        try:
            return _read_mesh(f["mesh"], path, checked=points is not None and "checksum" in points.attrs)
        except InputError as exc:
            raise ConfigError(f"{what}: {exc}") from None


def read_dataset(path: str | os.PathLike, dataset: str, what: str) -> np.ndarray:
    """All values of one dataset of an HDF5 file, as float64 or int64.

    The dataset must hold numbers; when it carries a ``checksum`` (a data file
    written by :func:`write_problem`), the values are verified against it.

    Parameters
    ----------
    path : path
    dataset : str
        Path inside the file (``"temperature/fields"``).
    what : str
        What the values are, for messages (the problem file and its entry).
    """
    import h5py

    path = Path(path)
    with _open(path, what) as f:
        if not isinstance(dataset, str) or not dataset.strip("/"):
            raise ConfigError(f"{what}: the dataset must be a path inside {path}, found {dataset!r}")
        try:
            item = f.get(dataset)
        except Exception:  # noqa: BLE001
            item = None
        if not isinstance(item, h5py.Dataset):
            found = []
            f.visititems(lambda name, obj: found.append(name) if isinstance(obj, h5py.Dataset) else None)
            shown = ", ".join(found[:12]) + (" …" if len(found) > 12 else "")
            raise ConfigError(f"{what}: {path} has no dataset '{dataset}' (datasets: {shown or 'none'})")
        if item.dtype.kind not in "fiu":
            raise ConfigError(f"{what}: {path}:{dataset} holds {item.dtype}, expected numbers")
        try:
            values = item[()]
        except Exception as exc:  # noqa: BLE001
            raise ConfigError(f"{what}: {path}:{dataset} cannot be read ({exc})") from None
        recorded = item.attrs.get("checksum")
        if recorded is not None:
            from io_adapters.store import integrity

            recorded = recorded.decode("utf-8", "replace") if isinstance(recorded, bytes) else str(recorded)
            try:
                integrity.check_values(item.name, values, path, recorded)
            except InputError as exc:
                raise ConfigError(f"{what}: {exc}") from None
    values = np.asarray(values)
    return values.astype(np.float64) if values.dtype.kind == "f" else values.astype(np.int64)
