"""Problems described in TOML files.

>>> from io_adapters.problem_toml import read_problem_toml
>>> problem = read_problem_toml("cube.toml")

The schema mirrors :class:`~io_adapters.problem.Problem`. Paths are relative to
the TOML file. Every table accepts only the keys listed here: an unknown key is a
:class:`~io_adapters.errors.ConfigError` naming the key and its table.

Data files (``file = …``) are relative to the TOML file: ``.npy`` arrays, HDF5 files
(``.h5``/``.hdf5``, with ``dataset``; a problem data file written by
:func:`io_adapters.problem_writer.write_problem` has its checksums verified), or,
for temperatures and pressures, Zset's headerless big-endian float32 records. A
value of the wrong shape, a NaN or a set that does not match is a
:class:`~io_adapters.errors.ConfigError` naming the entry and the file.

Imposed displacement fields (:class:`~io_adapters.problem.ImposedField`) and the
data file a written problem names (both optional; the example below has the rest)::

    data = { file = "case.h5", uuid = "…" }   # optional: the data file this file was written with
                                    # (problem_writer); another file of that name is refused

    [[imposed_field]]               # per-node imposed displacements on a node set
    node_set = "cut"
    components = [0, 1, 2]          # optional (default all three); or "U1", "U2", "U3"
    # (1) space–time: snapshots at times, linear in between, clamped outside
    file = "cut.h5"                 # (n_times, n_set_nodes, 3) array: .npy, or .h5 with …
    dataset = "cut/values"          # … the dataset's path in the file
    times = [0.0, 1.0, 2.0]         # or { file = "cut.h5", dataset = "cut/times" }
    nodes = { file = "cut.h5", dataset = "cut/nodes" }   # optional: the mesh node (0-based index)
                                    # of each row; checked against the set, rows reordered to its order
    # (2) records × tables: u = Σ c_j(t) U_j
    # fields = [ { file = "modes.npy", record = 1, table = "c1" },     # (n_set_nodes, 3) or
    #            { file = "modes.npy", record = 2, table = { time = [0.0, 1.0], value = [0.0, 2.0] } } ]
    #                               # (n_records, n_set_nodes, 3) arrays; a table by name or inline

Example (every section; alternatives in comments)::

    mesh = "cube.geof"              # any mesh nirom reads (.geof, .geo, .msh, .vtu, .xdmf, …),
                                    # or a problem data file (.h5, io_adapters.problem_writer)
                                    # (imposed fields and 'data': see above)

    [time]                          # either the intervals …
    start = 0.0                     # optional, default 0
    end = [1.0, 2.0]                # ends of the intervals (absolute times), or one number
    increments = [10, 5]            # equal steps per interval, or one number for all
    cycles = 1                      # optional: repeat the list shifted by c·(end[-1] - start)
    # steps = [0.0, 0.5, 1.0]       # … or the explicit times, initial time first
    # steps = { file = "case.h5", dataset = "time/steps" }   # (explicit times from an array)

    [solver]                        # optional
    tolerance = 1e-3                # global convergence ratio
    tolerance_mode = "automatic"    # optional qualifier (Zset *ratio automatic)
    max_iterations = 30

    [output]                        # optional, informative
    output_first = true
    components = ["sig", "eto"]
    save_all_variables = false

    [materials.domain000]           # key: a cell set, or ALL_ELEMENT; each cell gets exactly one
    file = "evp.mat"                # a Zset material file …
    integration = { theta = 1.0, tol = 1e-9, max_iterations = 200 }   # optional override
    [materials.domain001]           # … or an inline spec (schema: io_adapters.problem)
    behavior = "linear_elastic"
    density = 8.2e-9
    elasticity = { young = 2.0e5, poisson = 0.3 }
    # temperature-dependent coefficient: young = { temperature = [0.0, 1000.0], value = [1.6e5, 1.2e5] }

    [[dirichlet]]
    node_set = "x0"
    component = 0                   # 0, 1, 2 or "U1", "U2", "U3"
    value = 0.0
    table = "ramp"                  # optional: value × ramp(t)

    [[pressure]]
    face_set = "x1"
    value = -20.0                   # one value; or values = [...] per facet;
    # file = "pressure.node"        # or per-facet values: big-endian float32 (Zset), .npy,
    # dataset = "pressures/0/values"  # or .h5 (with the dataset)
    table = "ptab"                  # optional

    [[centrifugal]]
    cell_set = "ALL_ELEMENT"        # optional (default: every cell)
    center = [0.0, 0.0, 0.0]
    axis = [0.0, 0.0, 1.0]          # or "x", "y", "z"
    omega = 2.0e3
    table = "spin"                  # optional: ω(t) = omega × spin(t)

    [temperature]                   # one of four forms:
    keys = [                        # (1) nodal fields at key times, linear in between
      { time = 0.0, file = "tcold.node" },            # record = 1 by default
      { time = 5.0, file = "thot.node", record = 1 },
      { time = 10.0, file = "tcold.node" },
    ]
    period = 10.0                   # optional: the keys repeat every period …
    end = 20.0                      # … until end (optional)
    # (2) base = 20.0 (or { file = "tbase.node" }), max = { file = "tmax.node" }, table = "coef":
    #     T = base + coef(t)·(max - base)
    # (3) [[temperature.fields]] file = "t1.npy", record = 1, table = "c1"   (T = Σ c_j(t) T_j;
    #     the table by name or inline: table = { time = [...], value = [...] })
    # (4) uniform = 20.0
    # Files: .npy ((n_nodes,) or (n_records, n_nodes)), Zset big-endian float32 records, or
    # .h5 with dataset = "…" (same shapes).

    [tables.ramp]
    time = [0.0, 1.0]
    value = [0.0, 1.0]
    [tables.spin]
    time = [0.0, 1.0]
    value = [0.0, 1.0]
    [tables.ptab]                   # a periodic table (Zset **cycle)
    time = [0.0, 0.1, 2.0]
    value = [0.0, -50.0, -50.0]
    period = 2.0                    # optional; then start (default 0) and end (default never)
    start = 0.0
    end = 10.0
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from io_adapters.errors import ConfigError
from io_adapters.toml_file import path_is_file, read_toml
from io_adapters.problem import (
    ALL_ELEMENT,
    OUTPUT_KEYS,
    SOLVER_KEYS,
    Centrifugal,
    Dirichlet,
    ImposedField,
    Pressure,
    Problem,
    Temperature,
    TimeTable,
    available,
    check_settings,
    facet_count,
    read_nodal_values,
    time_steps,
)

_TOP = {"mesh", "data", "time", "solver", "output", "materials", "dirichlet", "imposed_field", "pressure",
        "centrifugal", "temperature", "tables"}
_HDF5 = (".h5", ".hdf5")
_COMPONENTS = {"U1": 0, "U2": 1, "U3": 2}
_AXES = {"x": (1.0, 0.0, 0.0), "y": (0.0, 1.0, 0.0), "z": (0.0, 0.0, 1.0)}


def read_problem_toml(path: str | os.PathLike) -> Problem:
    """Read a problem from a TOML file (schema in the module docstring).

    Parameters
    ----------
    path : path

    Returns
    -------
    Problem
        ``source`` is the file's path.
    """
    path = Path(path)
    data = read_toml(path, "file")
    return problem_from_dict(data, path.parent, source=str(path))


def problem_from_dict(d: Mapping[str, Any], base_dir: str | os.PathLike, *, source: str | None = None) -> Problem:
    """Build a problem from a dict with the TOML schema.

    Parameters
    ----------
    d : mapping
        The parsed TOML (schema in the module docstring).
    base_dir : path
        Folder the relative paths are relative to.
    source : str, optional
        Name used in messages (default: ``base_dir``).
    """
    base = Path(base_dir)
    src = source or str(base)
    reader = _Reader(base, src)
    return reader.problem(d)


class _Reader:
    def __init__(self, base: Path, source: str):
        self.base = base
        self.source = source

    # -------------------------------------------------------------- helpers
    def error(self, message: str) -> ConfigError:
        return ConfigError(f"{self.source}: {message}")

    def keys(self, table: Mapping, where: str, known: set[str], required: set[str] = frozenset()) -> None:
        if not isinstance(table, Mapping):
            raise self.error(f"{where} must be a table, found {type(table).__name__}")
        for key in table:
            if key not in known:
                raise self.error(f"unknown key '{key}' in {where} (known: {available(known)})")
        for key in sorted(required - set(table)):
            raise self.error(f"{where} has no '{key}'")

    def path(self, value, where: str) -> Path:
        if not isinstance(value, str):
            raise self.error(f"{where} must be a file name, found {value!r}")
        return self.base / value

    def number(self, value, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(f"{where} must be a number, found {value!r}")
        return float(value)

    def name(self, value, where: str) -> str:
        if not isinstance(value, str):
            raise self.error(f"{where} must be a name (string), found {value!r}")
        return value

    # -------------------------------------------------------------- problem
    def problem(self, d: Mapping) -> Problem:
        """The problem of a parsed file; every section is checked, its problems listed in one ConfigError."""
        self.keys(d, "the top level", _TOP, {"mesh", "time", "materials"})
        errors: list[str] = []

        def attempt(make, default=None):
            try:
                return make()
            except ConfigError as exc:
                message = str(exc)
                errors.append(message[len(self.source) + 2:] if message.startswith(f"{self.source}: ") else message)
                return default

        if "data" in d:
            attempt(lambda: self.data_file(d["data"]))
        mesh = attempt(lambda: self.mesh(d["mesh"]))
        tables = {}
        tables_in = d.get("tables", {})
        if not isinstance(tables_in, Mapping):
            errors.append("[tables] must hold one table per name ([tables.NAME])")
            tables_in = {}
        for name, table in tables_in.items():
            made = attempt(lambda name=name, table=table: self.table(table, f"[tables.{name}]"))
            if made is not None:
                tables[name] = made
        solver = self.settings(d, "solver", errors)
        output = self.settings(d, "output", errors)
        materials = attempt(lambda: self.materials(d["materials"]), {})
        times = attempt(lambda: self.times(d["time"]))

        def items(key: str, read, needs_mesh: bool = False) -> tuple:
            listed = attempt(lambda: self.array(d, key), [])
            if needs_mesh and mesh is None:
                return ()
            made = [attempt(lambda i=i, item=item: read(item, f"[[{key}]] {i + 1}")) for i, item in enumerate(listed)]
            return tuple(m for m in made if m is not None)

        dirichlet = items("dirichlet", self.dirichlet)
        imposed_fields = items("imposed_field", lambda item, where: self.imposed_field(item, where, mesh, tables),
                               needs_mesh=True)
        pressures = items("pressure", lambda item, where: self.pressure(item, where, mesh), needs_mesh=True)
        centrifugal = items("centrifugal", lambda item, where: self.centrifugal(item, where, mesh), needs_mesh=True)
        temperature = None
        if "temperature" in d and mesh is not None:
            temperature = attempt(lambda: self.temperature(d["temperature"], mesh, tables))
        if errors:
            if len(errors) == 1:
                raise self.error(errors[0])
            raise self.error(f"{len(errors)} problems:\n  - " + "\n  - ".join(errors))
        return Problem(mesh=mesh, materials=materials, dirichlet=dirichlet, imposed_fields=imposed_fields,
                       pressures=pressures,
                       centrifugal=centrifugal, temperature=temperature, tables=tables, times=times, solver=solver,
                       output=output, source=self.source)

    def settings(self, d: Mapping, key: str, errors: list[str]) -> dict:
        """The [solver] or [output] table; its problems (unknown keys, values) appended to ``errors``."""
        table = d.get(key, {})
        if not isinstance(table, Mapping):
            errors.append(f"[{key}] must be a table, found {table!r}")
            return {}
        known = SOLVER_KEYS if key == "solver" else OUTPUT_KEYS
        problems = [f"unknown key '{k}' in [{key}] (known: {available(known)})" for k in table if k not in known]
        problems += check_settings(key, {k: v for k, v in table.items() if k in known})
        errors.extend(problems)
        return {} if problems else dict(table)

    def array(self, d: Mapping, key: str) -> list:
        items = d.get(key, [])
        if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
            raise self.error(f"'{key}' must be an array of tables ([[{key}]])")
        return items

    def mesh(self, value):
        path = self.path(value, "'mesh'")
        if not path_is_file(path):
            raise self.error(f"mesh file {path} not found")
        if path.suffix.lower() in (".geof", ".geo"):
            from io_adapters.zset import read_mesh

            return read_mesh(path)
        if path.suffix.lower() in _HDF5:
            from io_adapters.problem_writer import is_data_file, read_mesh

            if is_data_file(path):
                return read_mesh(path, f"{self.source}: 'mesh'")
        from io_adapters import read

        return read(path).mesh

    def times(self, t: Mapping) -> np.ndarray:
        self.keys(t, "[time]", {"steps", "start", "end", "increments", "cycles"})
        if "steps" in t:
            extra = sorted(set(t) - {"steps"})
            if extra:
                raise self.error(f"[time]: give 'steps' or 'end'/'increments', not both (found {extra})")
            steps = t["steps"]
            if isinstance(steps, Mapping):
                steps = self.data(steps, "[time] 'steps'")[0]
                if steps.ndim != 1:
                    raise self.error(f"[time] 'steps': expected a list of times, found an array of shape "
                                     f"{steps.shape}")
                return steps.astype(np.float64)
            if not isinstance(steps, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                      for v in steps):
                raise self.error(f"[time] 'steps' must be a list of numbers, found {steps!r}")
            return np.asarray(steps, dtype=np.float64)
        if "end" not in t or "increments" not in t:
            raise self.error("[time] needs 'steps', or 'end' and 'increments'")
        ends = t["end"] if isinstance(t["end"], list) else [t["end"]]
        ends = [self.number(v, "[time] 'end'") for v in ends]
        incs = t["increments"] if isinstance(t["increments"], list) else [t["increments"]]
        if len(incs) == 1:
            incs = incs * len(ends)
        try:
            return time_steps(ends, incs, cycles=t.get("cycles", 1),
                              start=self.number(t.get("start", 0.0), "[time] 'start'"))
        except ConfigError as exc:
            raise self.error(f"[time]: {exc}") from None

    def table(self, t: Mapping, where: str) -> TimeTable:
        self.keys(t, where, {"time", "value", "period", "start", "end"}, {"time", "value"})
        try:
            return TimeTable(t["time"], t["value"], period=t.get("period"), start=t.get("start"), end=t.get("end"))
        except ConfigError as exc:
            raise self.error(f"{where}: {exc}") from None

    # ------------------------------------------------------------ materials
    def materials(self, m: Mapping) -> dict:
        if not isinstance(m, Mapping) or not m:
            raise self.error("[materials] must hold one table per cell set ([materials.NAME])")
        out = {}
        for set_name, spec in m.items():
            where = f"[materials.{set_name}]"
            if not isinstance(spec, Mapping):
                raise self.error(f"{where} must be a table")
            if "file" in spec:
                self.keys(spec, where + " (with 'file', only 'integration' may be added)", {"file", "integration"})
                path = self.path(spec["file"], f"{where} 'file'")
                if not path_is_file(path):
                    raise self.error(f"{where}: material file {path} not found")
                from io_adapters.zset.material_file import read_material

                material = read_material(path)
                if "integration" in spec:
                    material["integration"] = self.plain(spec["integration"])
                out[set_name] = material
            else:
                out[set_name] = self.plain(spec)
        return out

    def plain(self, value):
        """TOML tables as plain dicts and lists (specs are validated by Problem)."""
        if isinstance(value, Mapping):
            return {k: self.plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.plain(v) for v in value]
        return value

    # ---------------------------------------------------------------- loads
    def dirichlet(self, item: Mapping, where: str) -> Dirichlet:
        self.keys(item, where, {"node_set", "component", "value", "table"}, {"node_set", "component", "value"})
        component = item["component"]
        if isinstance(component, str):
            if component not in _COMPONENTS:
                raise self.error(f"{where}: component must be 0, 1, 2 or U1, U2, U3, found '{component}'")
            component = _COMPONENTS[component]
        try:
            return Dirichlet(self.name(item["node_set"], f"{where} 'node_set'"), component,
                             self.number(item["value"], f"{where} 'value'"), item.get("table"))
        except ConfigError as exc:
            raise self.error(f"{where}: {exc}") from None

    def pressure(self, item: Mapping, where: str, mesh) -> Pressure:
        self.keys(item, where, {"face_set", "value", "values", "file", "dataset", "table"}, {"face_set"})
        given = [k for k in ("value", "values", "file") if k in item]
        if len(given) != 1:
            raise self.error(f"{where} needs exactly one of 'value', 'values' or 'file', found {given or 'none'}")
        face_set = self.name(item["face_set"], f"{where} 'face_set'")
        if "value" in item:
            values = self.number(item["value"], f"{where} 'value'")
        elif "values" in item:
            values = item["values"]
        else:
            path = self.path(item["file"], f"{where} 'file'")
            if not path_is_file(path):
                raise self.error(f"{where}: pressure file {path} not found")
            if face_set not in mesh.face_sets:
                raise self.error(f"{where}: face set '{face_set}' is not in the mesh "
                                 f"(face sets: {available(mesh.face_sets)})")
            n_facets = facet_count(mesh, face_set)
            if path.suffix.lower() in _HDF5 or "dataset" in item:
                values, label = self.data(item, where, extra={"face_set", "table"})
                if values.shape != (n_facets,):
                    raise self.error(f"{where}: {label} holds an array of shape {values.shape}, but face set "
                                     f"'{face_set}' has {n_facets} facets (one value per facet is expected)")
                try:
                    return Pressure(face_set, values, item.get("table"))
                except ConfigError as exc:
                    raise self.error(f"{where}: {label}: {exc}") from None
            if path.suffix.lower() != ".npy" and path.stat().st_size != 4 * n_facets:
                raise self.error(f"{where}: pressure file {path} holds {path.stat().st_size / 4:g} big-endian "
                                 f"float32 values, but face set '{face_set}' has {n_facets} facets "
                                 "(one value per facet is expected)")
            values = read_nodal_values(path, n_facets, what=f"{self.source}: {where}")
        try:
            return Pressure(face_set, values, item.get("table"))
        except ConfigError as exc:
            raise self.error(f"{where}: {exc}") from None

    def centrifugal(self, item: Mapping, where: str, mesh) -> Centrifugal:
        self.keys(item, where, {"cell_set", "center", "axis", "omega", "table"}, {"center", "axis", "omega"})
        cell_set = item.get("cell_set")
        if cell_set == ALL_ELEMENT and ALL_ELEMENT not in mesh.cell_sets:
            cell_set = None
        axis = item["axis"]
        if isinstance(axis, str):
            if axis not in _AXES:
                raise self.error(f"{where}: axis must be 'x', 'y', 'z' or three numbers, found '{axis}'")
            axis = _AXES[axis]
        try:
            return Centrifugal(cell_set, item["center"], axis, self.number(item["omega"], f"{where} 'omega'"),
                               item.get("table"))
        except ConfigError as exc:
            raise self.error(f"{where}: {exc}") from None

    # ---------------------------------------------------------- temperature
    def temperature(self, t: Mapping, mesh, tables: dict[str, TimeTable]) -> Temperature:
        where = "[temperature]"
        self.keys(t, where, {"keys", "period", "end", "base", "max", "table", "fields", "uniform"})
        forms = [f for f, keys in (("keys", {"keys"}), ("base/max", {"base", "max"}), ("fields", {"fields"}),
                                   ("uniform", {"uniform"})) if keys & set(t)]
        if len(forms) != 1:
            raise self.error(f"{where} needs exactly one of 'keys', 'base'+'max'+'table', 'fields' or 'uniform', "
                             f"found {forms or 'none'}")
        form = forms[0]
        if form == "base/max" and not {"base", "max"} <= set(t):
            given = "base" if "base" in t else "max"
            raise self.error(f"{where}: 'base' and 'max' go together (found only '{given}')")
        allowed = {"keys": {"keys", "period", "end"}, "base/max": {"base", "max", "table"}, "fields": {"fields"},
                   "uniform": {"uniform"}}[form]
        extra = sorted(set(t) - allowed)
        if extra:
            raise self.error(f"{where}: key(s) {extra} do not go with '{form}'")
        n_nodes = mesh.n_nodes
        fields: list[np.ndarray] = []
        labels: list[str] = []
        index: dict[tuple[Path, int], int] = {}

        def record(spec, what: str) -> int:
            if isinstance(spec, (int, float)) and not isinstance(spec, bool):
                fields.append(np.full(n_nodes, float(spec)))
                labels.append(f"constant {spec:g}")
                return len(fields) - 1
            self.keys(spec, what, {"file", "dataset", "record", "time", "table"}, {"file"})
            path = self.path(spec["file"], f"{what} 'file'")
            k = spec.get("record", 1)
            dataset = spec.get("dataset")
            key = (path.resolve(), dataset, k)
            if key not in index:
                if dataset is not None or path.suffix.lower() in _HDF5:
                    values, label = self.data({n: spec[n] for n in ("file", "dataset") if n in spec}, what)
                    fields.append(self.record(values, k, (n_nodes,), label, f"{what} temperature"))
                    labels.append(f"{label}:{k}")
                else:
                    fields.append(read_nodal_values(path, n_nodes, record=k,
                                                    what=f"{self.source}: {what} temperature"))
                    labels.append(f"{spec['file']}:{k}")
                index[key] = len(fields) - 1
            return index[key]

        try:
            if form == "uniform":
                return Temperature.uniform(self.number(t["uniform"], f"{where} 'uniform'"), n_nodes)
            if form == "base/max":
                if "table" not in t:
                    raise self.error(f"{where}: 'base' and 'max' need a 'table' (the coefficient)")
                name = self.name(t["table"], f"{where} 'table'")
                if name not in tables:
                    raise self.error(f"{where}: table '{name}' is not defined (tables: {available(tables)})")
                base = fields[record(t["base"], f"{where} 'base'")]
                top = fields[record(t["max"], f"{where} 'max'")]
                return Temperature.from_base_max(base, top, tables[name], labels=(f"base {labels[0]}",
                                                                                   f"max {labels[-1]}"))
            if form == "fields":
                items = t["fields"]
                if not isinstance(items, list) or not items:
                    raise self.error(f"{where} 'fields' must be an array of tables ([[temperature.fields]])")
                coefficient_tables = []
                for i, item in enumerate(items):
                    what = f"[[temperature.fields]] {i + 1}"
                    self.keys(item, what, {"file", "dataset", "record", "table"}, {"file", "table"})
                    coefficient = self.time_table(item["table"], f"{what} 'table'", tables)
                    before = len(fields)
                    record(item, what)
                    if len(fields) == before:
                        raise self.error(f"{what}: the same file and record as an earlier field")
                    coefficient_tables.append(coefficient)
                return Temperature(fields=np.array(fields), tables=tuple(coefficient_tables), labels=tuple(labels))
            keys = t["keys"]
            if not isinstance(keys, list) or not keys:
                raise self.error(f"{where} 'keys' must be a list of {{time = …, file = …}} tables")
            times, which = [], []
            for i, item in enumerate(keys):
                what = f"{where} keys[{i}]"
                self.keys(item, what, {"time", "file", "record"}, {"time", "file"})
                times.append(self.number(item["time"], f"{what} 'time'"))
                which.append(record(item, what))
            period = None if "period" not in t else self.number(t["period"], f"{where} 'period'")
            end = None if "end" not in t else self.number(t["end"], f"{where} 'end'")
            return Temperature.from_key_times(times, np.array(fields), which, period=period, end=end,
                                              labels=labels)
        except ConfigError as exc:
            if str(exc).startswith(self.source):
                raise
            raise self.error(f"{where}: {exc}") from None

    # ------------------------------------------------------------ data files
    def data_file(self, spec) -> None:
        """The ``data`` entry: the data file this problem file was written with (same uuid)."""
        where = "'data'"
        self.keys(spec, where, {"file", "uuid"}, {"file", "uuid"})
        path = self.path(spec["file"], f"{where} 'file'")
        if not path_is_file(path):
            raise self.error(f"{where}: data file {path} not found")
        from io_adapters.problem_writer import data_file_uuid

        found = data_file_uuid(path, f"{self.source}: {where}")
        if found != spec["uuid"]:
            raise self.error(f"{where}: {path} is not the data file this problem was written with (uuid {found!r}, "
                             f"expected {spec['uuid']!r}): it was replaced by another write; write the problem again")

    def data(self, spec, where: str, *, extra=frozenset()) -> tuple[np.ndarray, str]:
        """An array from a data file and a label naming it: ``"x.npy"``, ``{ file = "x.npy" }`` or
        ``{ file = "x.h5", dataset = "…" }`` (``extra``: other keys the entry may hold).

        Returns
        -------
        values : float64 (or int64) array
        label : str
            The file (and dataset), for messages.
        """
        if isinstance(spec, str):
            spec = {"file": spec}
        self.keys(spec, where, {"file", "dataset"} | set(extra), {"file"})
        path = self.path(spec["file"], f"{where} 'file'")
        if not path_is_file(path):
            raise self.error(f"{where}: file {path} not found")
        suffix = path.suffix.lower()
        if suffix in _HDF5:
            if "dataset" not in spec:
                raise self.error(f"{where}: {path} is an HDF5 file: give the 'dataset' to read in it")
            dataset = self.name(spec["dataset"], f"{where} 'dataset'")
            from io_adapters.problem_writer import read_dataset

            return read_dataset(path, dataset, f"{self.source}: {where}"), f"{path}:{dataset}"
        if "dataset" in spec:
            raise self.error(f"{where}: 'dataset' goes with HDF5 files (.h5, .hdf5), {path} is not one")
        if suffix != ".npy":
            raise self.error(f"{where}: {path}: expected a .npy array or an HDF5 file (.h5 with a 'dataset')")
        try:
            values = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise self.error(f"{where}: {path} is not a readable .npy array ({exc})") from None
        if values.dtype.kind not in "fiu":
            raise self.error(f"{where}: {path} holds {values.dtype} values, expected numbers")
        return (values.astype(np.float64) if values.dtype.kind == "f" else values.astype(np.int64)), str(path)

    def record(self, values: np.ndarray, k, shape: tuple[int, ...], label: str, where: str) -> np.ndarray:
        """Record ``k`` (1-based) of an array of one record (``shape``) or several (``(n_records, *shape)``)."""
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise self.error(f"{where}: record numbers start at 1, found {k!r}")
        many = values if values.shape[1:] == shape and values.ndim == len(shape) + 1 else None
        if values.shape == shape:
            many = values[None]
        if many is None:
            expected = ", ".join(map(str, shape))
            raise self.error(f"{where}: {label} holds an array of shape {values.shape}, expected ({expected}) or "
                             f"(n_records, {expected})")
        if k > len(many):
            raise self.error(f"{where}: {label} has {len(many)} record(s), record {k} was asked for")
        return np.asarray(many[k - 1], dtype=np.float64)

    def time_table(self, value, where: str, tables: Mapping[str, TimeTable]) -> TimeTable:
        """A table given by its name in [tables], or inline ``{ time = [...], value = [...] }``."""
        if isinstance(value, Mapping):
            return self.table(value, where)
        name = self.name(value, where)
        if name not in tables:
            raise self.error(f"{where}: table '{name}' is not defined (tables: {available(tables)})")
        return tables[name]

    # --------------------------------------------------------- imposed fields
    def imposed_field(self, item: Mapping, where: str, mesh, tables: Mapping[str, TimeTable]) -> ImposedField:
        self.keys(item, where, {"node_set", "components", "file", "dataset", "times", "nodes", "fields"},
                  {"node_set"})
        node_set = self.name(item["node_set"], f"{where} 'node_set'")
        where = f"{where} (node set '{node_set}')"
        if node_set not in mesh.node_sets:
            raise self.error(f"{where}: node set '{node_set}' is not in the mesh "
                             f"(node sets: {available(mesh.node_sets)})")
        set_nodes = mesh.node_sets[node_set]
        n = len(set_nodes)
        components = self.components(item.get("components", [0, 1, 2]), f"{where} 'components'")
        forms = [k for k in ("file", "fields") if k in item]
        if len(forms) != 1:
            raise self.error(f"{where} needs 'file' (+ 'times': a space–time history) or 'fields' (records × "
                             f"tables), found {forms or 'neither'}")
        order = None
        if "nodes" in item:
            nodes = item["nodes"]
            if isinstance(nodes, list):
                nodes, label = np.asarray(nodes), f"{where} 'nodes'"
            else:
                nodes, label = self.data(nodes, f"{where} 'nodes'")
            order = self.row_order(nodes, set_nodes, label, where, node_set)
        if "file" in item:
            if "times" not in item:
                raise self.error(f"{where}: a space–time history ('file') needs its 'times'")
            if "dataset" in item:
                values, source = self.data({"file": item["file"], "dataset": item["dataset"]}, where)
            else:
                values, source = self.data(item["file"], where)
            times = item["times"]
            if isinstance(times, list):
                if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in times):
                    raise self.error(f"{where} 'times' must be a list of numbers, found {times!r}")
                times = np.asarray(times, dtype=np.float64)
            else:
                times = self.data(times, f"{where} 'times'")[0]
            if values.ndim != 3 or values.shape[1:] != (n, 3):
                raise self.error(f"{where}: {source} holds an array of shape {values.shape}, expected "
                                 f"(n_times, {n}, 3): one row per node of the set ({n} nodes), three components")
            if times.ndim != 1 or times.size != len(values):
                raise self.error(f"{where}: {times.size} time(s) for the {len(values)} snapshot(s) of {source}")
            if order is not None:
                values = values[:, order]
            try:
                return ImposedField.from_history(node_set, times, values, components=components, source=source)
            except ConfigError as exc:
                raise self.error(f"{where}: {exc}") from None
        items = item["fields"]
        if not isinstance(items, list) or not items or not all(isinstance(i, Mapping) for i in items):
            raise self.error(f"{where} 'fields' must be an array of tables {{ file = …, record = …, table = … }}")
        records, coefficients, sources = [], [], []
        for j, spec in enumerate(items):
            what = f"{where} fields[{j}]"
            self.keys(spec, what, {"file", "dataset", "record", "table"}, {"file", "table"})
            values, source = self.data({k: spec[k] for k in ("file", "dataset") if k in spec}, what)
            k = spec.get("record", 1)
            record = self.record(values, k, (n, 3), source, what)
            records.append(record if order is None else record[order])
            coefficients.append(self.time_table(spec["table"], f"{what} 'table'", tables))
            sources.append(f"{source}:{k}")
        try:
            return ImposedField.from_records(node_set, np.stack(records), coefficients, components=components,
                                             source=", ".join(dict.fromkeys(s.rsplit(":", 1)[0] for s in sources)))
        except ConfigError as exc:
            raise self.error(f"{where}: {exc}") from None

    def components(self, value, where: str) -> tuple[int, ...]:
        listed = value if isinstance(value, list) else [value]
        out = []
        for c in listed:
            if isinstance(c, str) and c in _COMPONENTS:
                c = _COMPONENTS[c]
            if isinstance(c, bool) or c not in (0, 1, 2):
                raise self.error(f"{where}: components are 0, 1, 2 or U1, U2, U3, found {c!r}")
            out.append(int(c))
        if not out or len(set(out)) != len(out):
            raise self.error(f"{where}: give distinct components, found {value!r}")
        return tuple(out)

    def row_order(self, nodes: np.ndarray, set_nodes: np.ndarray, label: str, where: str,
                  node_set: str) -> np.ndarray | None:
        """Rows to take so that row i is the set's node i (None: already in order), or ConfigError."""
        if nodes.dtype.kind not in "iu" or nodes.ndim != 1:
            raise self.error(f"{where}: {label} must list node indices (integers), found {nodes.dtype} of shape "
                             f"{nodes.shape}")
        if np.array_equal(nodes, set_nodes):
            return None
        missing = np.setdiff1d(set_nodes, nodes)
        extra = np.setdiff1d(nodes, set_nodes)
        if len(missing) or len(extra):
            said = []
            if len(extra):
                said.append(f"{len(extra)} node(s) outside node set '{node_set}' (first: node {int(extra[0])})")
            if len(missing):
                said.append(f"{len(missing)} node(s) of the set missing (first: node {int(missing[0])})")
            raise self.error(f"{where}: the nodes of {label} do not match node set '{node_set}': "
                             + "; ".join(said) + " (0-based mesh node indices)")
        if len(np.unique(nodes)) != len(nodes) or len(nodes) != len(set_nodes) or \
                len(np.unique(set_nodes)) != len(set_nodes):
            raise self.error(f"{where}: {label} lists {len(nodes)} node(s) with repeats for the {len(set_nodes)} "
                             f"of node set '{node_set}': give one row per node of the set, in its order")
        position = np.empty(int(max(nodes.max(), set_nodes.max())) + 1, dtype=np.int64)
        position[nodes] = np.arange(len(nodes))
        return position[set_nodes]
