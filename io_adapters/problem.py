"""What to solve: the description of a quasi-static problem, as plain data.

A :class:`Problem` holds a mesh, a material spec per cell set, Dirichlet
conditions (``value × table(t)``, uniform on a node set), imposed displacement
fields (:class:`ImposedField`: per-node vectors on a node set, as records × time
tables or as a space–time history), pressure and centrifugal loads scaled by time
tables, a nodal temperature history and the time steps to solve. It is read from a
TOML file (:mod:`io_adapters.problem_toml`), from a Zset ``.inp`` deck
(:mod:`io_adapters.zset.deck`) or built in Python, consumed alike by the full-order
solver and by the online reduced model, and written back to TOML + HDF5 by
:mod:`io_adapters.problem_writer`; :mod:`io_adapters.submodel` cuts a zone's problem
out of a global one.

>>> from io_adapters.problem import read_problem
>>> problem = read_problem("cube.inp")                 # or "cube.toml"
>>> problem.times                                       # (n_steps + 1,), initial time first
>>> problem.temperature.at(5.0)                         # (n_nodes,)
>>> problem.tables["ptab"](problem.times)               # vectorised
>>> boundary = ImposedField.from_history("cut", times, values)   # values (n_times, n_set_nodes, 3)
>>> boundary.at(2.5)                                    # (n_set_nodes, 3), linear in time
>>> problem = dataclasses.replace(problem, imposed_fields=(boundary,))

Conventions
-----------
- Components are 0-based (0, 1, 2 for x, y, z; Zset ``U1`` is 0).
- A pressure value is positive when it pushes along the right-hand-rule normal
  of the facet's listed corners (Zset's sign; fluid pressure on outward
  normals is negative).
- A centrifugal load is the body force ``ρ ω(t)² r⊥`` with
  ``ω(t) = omega × table(t)``.
- Time tables are piecewise linear and clamped outside their range.
- Imposed displacements are set in order: the Dirichlet conditions, then the
  imposed fields; on a dof several of them share, the last one wins (the
  high-fidelity solver and the reduced model's lifting apply the same rule).
- An imposed field's rows follow its node set's order
  (``mesh.node_sets[name][i]`` is row ``i``).

Material specs
--------------
Plain dicts, the input of ``rom.materials.from_spec``::

    {"behavior": "linear_elastic" | "j2_plasticity" | "gen_evp",
     "density": 8.2e-9,                                   # optional (needed by centrifugal loads)
     "elasticity": {"young": 1.6e5 | {"temperature": [0., 1000.], "value": [1.6e5, 1.2e5]},
                    "poisson": 0.3},
     "thermal_strain": {"alpha": 1.4e-5 | table, "ref_temperature": 20.},   # optional
     # gen_evp only:
     "potential": {"name": "evr", "criterion": "mises",
                   "flow": {"type": "norton", "K": 500., "n": 12.},
                   "kinematic": [{"type": "nonlinear", "C": 6e4, "D": 400.}],   # or {"type": "linear", "C"}
                   "isotropic": {"type": "constant", "R0": 80.}},   # or linear R0 H, nonlinear R0 Q b
     # j2_plasticity only (rate-independent):
     "yield_stress": 80.,
     "isotropic": {"type": "constant"} | {"type": "linear", "H": 1e3} | {"type": "nonlinear", "Q": .., "b": ..},
     "kinematic": [{"type": "armstrong_frederick", "C": 6e4, "D": 400.}],  # or {"type": "linear", "C"}
     "integration": {"theta": 1.0, "tol": 1e-9, "max_iterations": 200}}  # optional

Any coefficient may be a temperature table ``{"temperature": [...], "value": [...]}``.
"""

from __future__ import annotations

import copy
import math
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from io_adapters.errors import ConfigError, InputError
from io_adapters.mesh import Mesh

#: The implicit cell set holding every cell (Zset's name for it).
ALL_ELEMENT = "ALL_ELEMENT"

#: Behaviours a material spec may name.
BEHAVIORS = ("linear_elastic", "j2_plasticity", "gen_evp")

#: Keys a solver dict may hold.
SOLVER_KEYS = {
    "tolerance": "global convergence ratio of the Newton iterations (Zset *ratio)",
    "tolerance_mode": "how the ratio is measured (Zset *ratio qualifier, e.g. 'automatic')",
    "max_iterations": "Newton iterations allowed per increment (Zset *iteration)",
    "atol": "absolute residual tolerance (force units) added to tolerance x reference force",
    "max_cuts": "times a failing increment may be halved",
    "rule": "integration rule of the solution ('default', or 'zset' to line up with Zset's points)",
    "linear_solver": "'auto', 'scipy', 'mumps' or 'cg-gamg'",
}

def _real(test, phrase: str):
    def check(value) -> str | None:
        ok = (not isinstance(value, (bool, np.bool_)) and isinstance(value, (int, float, np.integer, np.floating))
              and math.isfinite(value) and test(value))
        return None if ok else f"must be {phrase}"
    return check


def _count(minimum: int):
    def check(value) -> str | None:
        ok = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)) and value >= minimum
        return None if ok else f"must be an integer ≥ {minimum}"
    return check


def _word(choices=None):
    def check(value) -> str | None:
        if not isinstance(value, str) or not value.strip():
            return "must be a non-empty string"
        if choices is not None and value not in choices:
            return f"must be one of {', '.join(choices)}"
        return None
    return check


def _flag(value) -> str | None:
    return None if isinstance(value, (bool, np.bool_)) else "must be true or false"


def _words(value) -> str | None:
    ok = isinstance(value, (list, tuple)) and all(isinstance(v, str) and v.strip() for v in value)
    return None if ok else "must be a list of names"


#: The check of each solver setting's value (None when it is fine, else what it must be).
_SOLVER_CHECKS = {
    "tolerance": _real(lambda v: v > 0, "a positive number"),
    "tolerance_mode": _word(),
    "max_iterations": _count(1),
    "atol": _real(lambda v: v >= 0, "a number ≥ 0"),
    "max_cuts": _count(0),
    "rule": _word(),
    "linear_solver": _word(("auto", "scipy", "mumps", "cg-gamg")),
}

#: Keys an output dict may hold.
OUTPUT_KEYS = {
    "output_first": "write the initial state (bool)",
    "components": "integration-point variables to write (list of names)",
    "save_all_variables": "write every variable (bool)",
}

_OUTPUT_CHECKS = {"output_first": _flag, "components": _words, "save_all_variables": _flag}


def check_settings(kind: str, table: Mapping) -> list[str]:
    """The problems of a problem's ``solver`` or ``output`` table (unknown keys, values of
    the wrong type or range), each naming its key."""
    known, checks = (SOLVER_KEYS, _SOLVER_CHECKS) if kind == "solver" else (OUTPUT_KEYS, _OUTPUT_CHECKS)
    errors = []
    for key, value in table.items():
        if key not in known:
            errors.append(f"{kind}: unknown setting '{key}' (known: {available(known)})")
        else:
            problem = checks[key](value)
            if problem:
                errors.append(f"{kind}: '{key}' {problem}, found {value!r}")
    return errors

#: The material schema, the one table both checks read: ``Problem`` (all problems of a
#: problem file at once, before any work) and ``rom.materials.from_spec`` (which builds
#: the law and checks the values). Per behaviour: (required keys, optional keys).
MATERIAL_KEYS: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "linear_elastic": (("behavior", "elasticity"), ("density", "thermal_strain", "integration")),
    "gen_evp": (("behavior", "elasticity", "potential"), ("density", "thermal_strain", "integration")),
    "j2_plasticity": (("behavior", "elasticity", "yield_stress"),
                      ("density", "thermal_strain", "isotropic", "kinematic", "name", "integration")),
}
#: Sub-tables: (required keys, optional keys).
MATERIAL_TABLES: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "elasticity": (("young", "poisson"), ("type",)),
    "thermal_strain": (("alpha", "ref_temperature"), ("type",)),
    "integration": ((), ("theta", "tol", "max_iterations", "max_subdivisions", "method")),
    "potential": (("flow", "isotropic"), ("name", "criterion", "kinematic")),
}
#: Typed tables (``{type = ..., ...}``): type → its coefficients; and the accepted aliases.
MATERIAL_KINDS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "gen_evp.flow": {"norton": ("K", "n"), "plasticity": ()},
    "gen_evp.isotropic": {"constant": ("R0",), "linear": ("R0", "H"), "nonlinear": ("R0", "Q", "b")},
    "j2_plasticity.isotropic": {"constant": (), "linear": ("H",), "voce": ("Q", "b")},
    "kinematic": {"linear": ("C",), "nonlinear": ("C", "D")},
}
MATERIAL_ALIASES: Mapping[str, Mapping[str, str]] = {
    "gen_evp.isotropic": {"voce": "nonlinear"},
    "j2_plasticity.isotropic": {"nonlinear": "voce"},
    "kinematic": {"armstrong_frederick": "nonlinear", "prager": "linear"},
}


def _kinds_with_aliases(name: str) -> dict[str, set[str]]:
    kinds = {k: set(v) for k, v in MATERIAL_KINDS[name].items()}
    kinds.update({alias: kinds[target] for alias, target in MATERIAL_ALIASES.get(name, {}).items()})
    return kinds


# ---------------------------------------------------------------------- helpers
def _vector(values, name: str, *, length: int | None = None) -> np.ndarray:
    """A read-only 1-D float64 array of finite values, or ConfigError."""
    try:
        array = np.array(values, dtype=np.float64).reshape(-1) if np.ndim(values) else np.array([values], float)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be numbers, found {values!r}") from None
    if np.ndim(values) > 1:
        raise ConfigError(f"{name} must be one-dimensional, found shape {np.shape(values)}")
    if length is not None and array.size != length:
        raise ConfigError(f"{name} must have {length} values, found {array.size}")
    if not np.all(np.isfinite(array)):
        raise ConfigError(f"{name} holds a non-finite value: {array[~np.isfinite(array)][0]}")
    array.setflags(write=False)
    return array


def _number(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"{name} must be a number, found {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be finite, found {value}")
    return value


def _same(a, b) -> bool:
    """Structural equality that understands numpy arrays, meshes and nested containers."""
    if a is b:
        return True
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return a.shape == b.shape and bool(np.array_equal(a, b))
    if isinstance(a, Mesh) or isinstance(b, Mesh):
        return isinstance(a, Mesh) and isinstance(b, Mesh) and _same_mesh(a, b)
    if isinstance(a, Mapping) or isinstance(b, Mapping):
        return (isinstance(a, Mapping) and isinstance(b, Mapping) and a.keys() == b.keys()
                and all(_same(a[k], b[k]) for k in a))
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b)
                and all(_same(x, y) for x, y in zip(a, b)))
    return bool(a == b)


def _same_mesh(a: Mesh, b: Mesh) -> bool:
    return (
        a.dim == b.dim
        and _same(a.points, b.points)
        and _same(a.cells, b.cells)
        and _same(a.node_sets, b.node_sets)
        and _same(a.cell_sets, b.cell_sets)
        and _same(a.face_sets, b.face_sets)
    )


def _dataclass_eq(self, other, skip: tuple[str, ...] = ()) -> bool:
    if type(other) is not type(self):
        return NotImplemented
    return all(_same(getattr(self, f.name), getattr(other, f.name)) for f in fields(self) if f.name not in skip)


def available(names) -> str:
    """``'a, b, c'`` (or ``'none'``), for messages listing what a name could have been."""
    names = sorted(names)
    return ", ".join(names) if names else "none"


# ------------------------------------------------------------------ time tables
@dataclass(frozen=True, eq=False)
class TimeTable:
    """A piecewise-linear function of time, clamped outside its points, possibly periodic.

    Attributes
    ----------
    times : (k,) float array
        Strictly increasing times (a single point makes a constant).
    values : (k,) float array
        Values at ``times``.
    period : float, optional
        When given the table repeats: ``times`` are local times of one period
        (within ``[0, period]``; Zset's ``**cycle`` tables take the last time as
        the period) and the table is evaluated at the local time
        ``τ = t - start - c·period``, chosen in ``(0, period]`` for ``t > start``
        (so the end of a period belongs to the period it closes).
    start, end : float, optional
        Periodic tables only: repetition starts at ``start`` (default 0) and
        stops at ``end`` (default never); before ``start`` the table holds its
        value at ``start``, after ``end`` its value at ``end``.
    """

    times: np.ndarray
    values: np.ndarray
    period: float | None = None
    start: float | None = None
    end: float | None = None

    def __post_init__(self):
        times = _vector(self.times, "table times")
        values = _vector(self.values, "table values")
        if times.size == 0:
            raise ConfigError("a time table needs at least one point")
        if times.size != values.size:
            raise ConfigError(f"table times ({times.size}) and values ({values.size}) differ in length")
        if np.any(np.diff(times) <= 0):
            i = int(np.flatnonzero(np.diff(times) <= 0)[0])
            raise ConfigError(f"table times must increase strictly: {times[i]} is followed by {times[i + 1]}")
        object.__setattr__(self, "times", times)
        object.__setattr__(self, "values", values)
        if self.period is None:
            if self.start is not None or self.end is not None:
                raise ConfigError("a table's start and end only make sense with a period")
            return
        period = _number(self.period, "table period")
        if period <= 0:
            raise ConfigError(f"table period must be positive, found {period}")
        tol = 1e-12 * max(1.0, period)
        if times[0] < -tol or times[-1] > period + tol:
            raise ConfigError(
                f"a periodic table's times must lie within one period [0, {period}], "
                f"found {times[0]} … {times[-1]}"
            )
        start = 0.0 if self.start is None else _number(self.start, "table start")
        end = None if self.end is None else _number(self.end, "table end")
        if end is not None and end < start:
            raise ConfigError(f"table end {end} is before its start {start}")
        object.__setattr__(self, "period", period)
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)

    @classmethod
    def constant(cls, value: float = 1.0) -> "TimeTable":
        """The table equal to ``value`` at all times."""
        return cls(times=[0.0], values=[value])

    def local_time(self, t) -> np.ndarray:
        """Time at which :attr:`times` are looked up: ``t`` itself, or the phase of a periodic table.

        Parameters
        ----------
        t : float or (n,) array

        Returns
        -------
        float array, shape of ``t``
        """
        t = np.asarray(t, dtype=np.float64)
        if self.period is None:
            return t
        end = np.inf if self.end is None else self.end
        elapsed = np.clip(t, self.start, end) - self.start
        cycles = np.floor(elapsed / self.period)
        phase = elapsed - cycles * self.period
        closes = (phase <= 1e-9 * self.period) & (cycles > 0)   # end of the previous period
        return np.where(closes, phase + self.period, phase)

    def __call__(self, t):
        """Values at times ``t``.

        Parameters
        ----------
        t : float or (n,) array

        Returns
        -------
        float, or (n,) array
        """
        out = np.interp(self.local_time(t), self.times, self.values)
        return float(out) if np.ndim(out) == 0 else out

    def __eq__(self, other):
        return _dataclass_eq(self, other)

    __hash__ = None


#: Most time steps a problem may have unless :data:`MAX_TIME_STEPS_VARIABLE` says otherwise
#: (``cycles = 100000000000`` is a typo, not a computation: it would fill the memory first).
MAX_TIME_STEPS = 10**6
#: Environment variable that raises (or lowers) :data:`MAX_TIME_STEPS`: ``NIROM_MAX_TIME_STEPS=5000000``.
MAX_TIME_STEPS_VARIABLE = "NIROM_MAX_TIME_STEPS"


def max_time_steps() -> int:
    """The limit on a problem's time steps: ``NIROM_MAX_TIME_STEPS`` when set, else :data:`MAX_TIME_STEPS`."""
    given = os.environ.get(MAX_TIME_STEPS_VARIABLE, "").strip()
    if not given:
        return MAX_TIME_STEPS
    try:
        value = int(given)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"{MAX_TIME_STEPS_VARIABLE} must be a positive integer, found {given!r}")
    return value


def _whole(value) -> bool:
    """A whole number (an int, or a float like 3.0), not a bool, NaN or infinity."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        return False
    return bool(np.isfinite(value)) and int(value) == value


def time_steps(ends: Sequence[float], increments: Sequence[int], *, cycles: int = 1,
               start: float = 0.0) -> np.ndarray:
    """The times to solve for a list of intervals, each cut into equal increments.

    Interval ``k`` runs from the previous end (``start`` first) to ``ends[k]`` in
    ``increments[k]`` equal steps, ``t = t_prev + j·(ends[k] - t_prev)/n`` for
    ``j = 1..n`` (Zset's ``*time``/``*increment`` lists). ``cycles`` repeats the
    whole list shifted by ``c·(ends[-1] - start)``. At most :func:`max_time_steps`
    steps (10⁶ unless ``NIROM_MAX_TIME_STEPS`` says otherwise), checked before any
    array is made.

    Returns
    -------
    (n_steps + 1,) float array
        ``start`` first.
    """
    if len(ends) != len(increments) or not len(ends):
        raise ConfigError(f"{len(ends)} interval end(s) for {len(increments)} increment count(s)")
    if not _whole(cycles) or cycles < 1:
        raise ConfigError(f"the number of cycles must be a positive integer, found {cycles!r}")
    for n in increments:
        if not _whole(n) or n < 1:
            raise ConfigError(f"increments must be positive integers, found {n!r}")
    limit = max_time_steps()
    total = sum(int(n) for n in increments) * int(cycles)
    if total > limit:
        raise ConfigError(f"{total} time steps ({sum(int(n) for n in increments)} per cycle × {int(cycles)} "
                          f"cycle(s)): at most {limit} (set {MAX_TIME_STEPS_VARIABLE} to raise the limit)")
    steps, previous = [], float(start)
    for end, n in zip(ends, increments):
        end = _number(end, "interval end")
        if end <= previous:
            raise ConfigError(f"times must increase: interval end {end} is not after {previous}")
        dt = (end - previous) / int(n)
        steps.append(previous + dt * np.arange(1, int(n) + 1))
        steps[-1][-1] = end
        previous = end
    one = np.concatenate(steps)
    period = previous - start
    return np.concatenate([[float(start)]] + [one + c * period for c in range(int(cycles))])


# ------------------------------------------------------------------------ loads
@dataclass(frozen=True)
class Dirichlet:
    """An imposed displacement component on a node set: ``value × table(t)``.

    Attributes
    ----------
    node_set : str
    component : int
        0, 1 or 2 (x, y, z; Zset ``U1``, ``U2``, ``U3``).
    value : float
    table : str, optional
        Name of a time table of the problem; constant when omitted.
    """

    node_set: str
    component: int
    value: float
    table: str | None = None

    def __post_init__(self):
        if isinstance(self.component, bool) or self.component not in (0, 1, 2):
            raise ConfigError(f"imposed displacement on '{self.node_set}': component must be 0, 1 or 2, "
                              f"found {self.component!r}")
        object.__setattr__(self, "component", int(self.component))
        object.__setattr__(self, "value", _number(self.value, f"imposed displacement on '{self.node_set}'"))


@dataclass(frozen=True, eq=False)
class ImposedField:
    """Imposed displacements that vary from node to node of a node set, with a time history.

    Two forms, told apart by ``times``:

    - *records × tables* (``times`` is None): ``u(x_i, t) = Σ_j c_j(t) · values[j, i]``
      with ``c_j = tables[j]`` (like :class:`Temperature`);
    - *space–time* (``times`` given): ``values[k]`` is the field at ``times[k]``,
      linear in time in between, clamped before the first and after the last time.

    Only the ``components`` are imposed; the other columns of ``values`` are not
    used (they are kept as given, and must be finite too). Row ``i`` is node ``mesh.node_sets[node_set][i]``.
    Where it shares a dof with a :class:`Dirichlet` condition or an earlier imposed
    field, the problem's later condition wins (see :class:`Problem`).

    Attributes
    ----------
    node_set : str
    values : (n_records, n_set_nodes, 3) float array
        The fields ``U_j`` (records form) or the snapshots at ``times`` (space–time form).
        A (n_set_nodes, 3) array is one record.
    tables : tuple of n_records TimeTable
        Records form only: the coefficient ``c_j(t)`` of each field.
    times : (n_records,) float array, optional
        Space–time form only: strictly increasing times of the snapshots.
    components : tuple of int
        Imposed components, among 0, 1, 2 (x, y, z), increasing; all three by default.
    source : str
        Where the values came from (file and dataset), for messages; not part of equality.
    """

    node_set: str
    values: np.ndarray
    tables: tuple[TimeTable, ...] = ()
    times: np.ndarray | None = None
    components: tuple[int, ...] = (0, 1, 2)
    source: str = ""

    def __post_init__(self):
        where = f"imposed field on '{self.node_set}'" + (f" ({self.source})" if self.source else "")
        if not isinstance(self.node_set, str) or not self.node_set:
            raise ConfigError(f"{where}: the node set must be a non-empty name, found {self.node_set!r}")
        components = self.components
        if isinstance(components, (int, np.integer)) and not isinstance(components, (bool, np.bool_)):
            components = (components,)
        try:
            listed = list(components)
        except TypeError:
            raise ConfigError(f"{where}: components must be a list of 0, 1, 2, found {components!r}") from None
        if (not listed or any(isinstance(c, (bool, np.bool_)) or not isinstance(c, (int, np.integer))
                              or c not in (0, 1, 2) for c in listed) or len(set(listed)) != len(listed)):
            raise ConfigError(f"{where}: components must be distinct values among 0, 1, 2 (x, y, z), "
                              f"found {components!r}")
        object.__setattr__(self, "components", tuple(sorted(int(c) for c in listed)))
        try:
            values = np.array(self.values, dtype=np.float64)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: values must be numbers") from None
        if values.ndim == 2:
            values = values[None]
        if values.ndim != 3 or values.shape[2] != 3 or values.shape[0] == 0:
            raise ConfigError(f"{where}: values must have shape (n_records, n_set_nodes, 3) (or (n_set_nodes, 3) "
                              f"for one record), found {np.shape(self.values)}")
        if not np.all(np.isfinite(values)):
            j, i, c = (int(k[0]) for k in np.nonzero(~np.isfinite(values)))
            kind = "NaN" if np.isnan(values[j, i, c]) else "an infinite value"
            record = "time" if self.times is not None else "record"
            raise ConfigError(f"{where}: {kind} at {record} {j}, node row {i}, component {c}")
        values.setflags(write=False)
        object.__setattr__(self, "values", values)
        if self.times is None:
            tables = tuple(self.tables)
            if len(tables) != len(values) or not all(isinstance(t, TimeTable) for t in tables):
                raise ConfigError(f"{where}: {len(values)} record(s) need as many TimeTable (or give the times "
                                  f"of a space–time history), found {len(tables)}")
            object.__setattr__(self, "tables", tables)
        else:
            if tuple(self.tables):
                raise ConfigError(f"{where}: give tables (records form) or times (space–time form), not both")
            times = _vector(self.times, f"{where}: times")
            if times.size != len(values):
                raise ConfigError(f"{where}: {times.size} time(s) for {len(values)} snapshot(s) of the values")
            if np.any(np.diff(times) <= 0):
                k = int(np.flatnonzero(np.diff(times) <= 0)[0])
                raise ConfigError(f"{where}: times must increase strictly: {times[k]} is followed by {times[k + 1]}")
            object.__setattr__(self, "tables", ())
            object.__setattr__(self, "times", times)
        object.__setattr__(self, "source", str(self.source))

    # ---------------------------------------------------------- constructors
    @classmethod
    def from_records(cls, node_set: str, fields, tables: Sequence[TimeTable], *,
                     components: Sequence[int] = (0, 1, 2), source: str = "") -> "ImposedField":
        """``u(x, t) = Σ_j c_j(t) U_j(x)`` on a node set.

        Parameters
        ----------
        fields : (n_j, n_set_nodes, 3) float array
        tables : n_j TimeTable
        """
        return cls(node_set, fields, tuple(tables), None, tuple(components), source)

    @classmethod
    def from_history(cls, node_set: str, times, values, *, components: Sequence[int] = (0, 1, 2),
                     source: str = "") -> "ImposedField":
        """Snapshots ``values[k]`` at ``times[k]``, linear in time in between.

        Parameters
        ----------
        times : (n_times,) float array
        values : (n_times, n_set_nodes, 3) float array
        """
        return cls(node_set, values, (), times, tuple(components), source)

    # ------------------------------------------------------------ queries
    @property
    def n_nodes(self) -> int:
        """Rows of the field (nodes of its set)."""
        return self.values.shape[1]

    @property
    def is_history(self) -> bool:
        """True for the space–time form."""
        return self.times is not None

    def coefficients(self, t: float) -> np.ndarray:
        """Weight of each record at time t, (n_records,): the tables' values, or the two
        non-zero linear-interpolation weights of the space–time form."""
        t = float(t)
        if self.times is None:
            return np.array([float(table(t)) for table in self.tables])
        weights = np.zeros(len(self.times))
        if len(self.times) == 1 or t <= self.times[0]:
            weights[0] = 1.0
        elif t >= self.times[-1]:
            weights[-1] = 1.0
        else:
            k = int(np.searchsorted(self.times, t, side="right")) - 1
            w = (t - self.times[k]) / (self.times[k + 1] - self.times[k])
            weights[k], weights[k + 1] = 1.0 - w, w
        return weights

    def at(self, t: float, rows: np.ndarray | None = None) -> np.ndarray:
        """Imposed displacements at time t, (n_rows, 3) (every component; only ``components`` are imposed).

        Parameters
        ----------
        t : float
        rows : (n_rows,) int array, optional
            Rows (positions in the node set) wanted; all of them when omitted.
        """
        weights = self.coefficients(t)
        used = np.flatnonzero(weights)
        values = self.values[used] if rows is None else self.values[used][:, np.asarray(rows, dtype=np.int64)]
        if len(used) == 1 and weights[used[0]] == 1.0:
            return np.array(values[0])
        return np.tensordot(weights[used], values, axes=1)

    def __eq__(self, other):
        return _dataclass_eq(self, other, skip=("source",))

    __hash__ = None


@dataclass(frozen=True, eq=False)
class Pressure:
    """A pressure on a face set: ``values × table(t)``.

    Attributes
    ----------
    face_set : str
    values : float or (n_facets,) float array
        One value, or one per facet in the face set's order (its blocks in
        order, facets in listing order within each). Positive values push
        along the right-hand-rule normal of the facet.
    table : str, optional
        Name of a time table of the problem; constant when omitted.
    """

    face_set: str
    values: Any
    table: str | None = None

    def __post_init__(self):
        where = f"pressure on '{self.face_set}'"
        if np.ndim(self.values) == 0:
            object.__setattr__(self, "values", _number(self.values, where))
        else:
            object.__setattr__(self, "values", _vector(self.values, f"{where}: values"))

    def __eq__(self, other):
        return _dataclass_eq(self, other)

    __hash__ = None


@dataclass(frozen=True, eq=False)
class Centrifugal:
    """A centrifugal body force ``ρ ω(t)² r⊥`` with ``ω(t) = omega × table(t)``.

    ``r⊥ = (x - center) - ((x - center)·axis) axis`` and ρ is the ``density`` of
    each cell's material.

    Attributes
    ----------
    cell_set : str or None
        Cells loaded; None for all of them.
    center : (3,) float array
        A point of the axis.
    axis : (3,) float array
        Unit direction of the axis (normalised on construction).
    omega : float
        Angular velocity (rad per time unit) at table value 1.
    table : str, optional
        Name of a time table of the problem; constant when omitted.
    """

    cell_set: str | None
    center: np.ndarray
    axis: np.ndarray
    omega: float
    table: str | None = None

    def __post_init__(self):
        where = f"centrifugal load on '{self.cell_set or ALL_ELEMENT}'"
        center = _vector(self.center, f"{where}: center", length=3)
        axis = np.array(_vector(self.axis, f"{where}: axis", length=3))
        norm = np.linalg.norm(axis)
        if norm == 0:
            raise ConfigError(f"{where}: the axis is the zero vector")
        if abs(norm - 1.0) > 4 * np.finfo(np.float64).eps:   # a unit axis is kept as given: writing and
            axis /= norm                                      # reading a problem gives it back bit for bit
        axis.setflags(write=False)
        object.__setattr__(self, "center", center)
        object.__setattr__(self, "axis", axis)
        object.__setattr__(self, "omega", _number(self.omega, f"{where}: omega"))

    def __eq__(self, other):
        return _dataclass_eq(self, other)

    __hash__ = None


# ------------------------------------------------------------------ temperature
@dataclass(frozen=True, eq=False)
class Temperature:
    """A nodal temperature history ``T(x, t) = Σ_j c_j(t) · T_j(x)``.

    Attributes
    ----------
    fields : (n_j, n_nodes) float array
        The nodal fields ``T_j``.
    tables : tuple of n_j TimeTable
        The coefficient ``c_j(t)`` of each field.
    labels : tuple of n_j str
        Where each field came from (file and record), for messages; not part
        of equality.
    """

    fields: np.ndarray
    tables: tuple[TimeTable, ...]
    labels: tuple[str, ...] = ()

    def __post_init__(self):
        try:
            values = np.array(self.fields, dtype=np.float64)
        except (TypeError, ValueError):
            raise ConfigError("temperature fields must be numbers") from None
        if values.ndim == 1:
            values = values[None, :]
        if values.ndim != 2 or values.shape[0] == 0:
            raise ConfigError(f"temperature fields must have shape (n_fields, n_nodes), found {values.shape}")
        if not np.all(np.isfinite(values)):
            j = int(np.flatnonzero(~np.all(np.isfinite(values), axis=1))[0])
            raise ConfigError(f"temperature field {j} holds a non-finite value")
        values.setflags(write=False)
        object.__setattr__(self, "fields", values)
        tables = tuple(self.tables)
        if len(tables) != len(values) or not all(isinstance(t, TimeTable) for t in tables):
            raise ConfigError(f"temperature: {len(values)} field(s) need as many TimeTable, found {len(tables)}")
        object.__setattr__(self, "tables", tables)
        labels = tuple(str(s) for s in self.labels) or tuple(f"field {j}" for j in range(len(values)))
        if len(labels) != len(values):
            raise ConfigError(f"temperature: {len(values)} field(s) but {len(labels)} label(s)")
        object.__setattr__(self, "labels", labels)

    @property
    def n_nodes(self) -> int:
        return self.fields.shape[1]

    # ---------------------------------------------------------- constructors
    @classmethod
    def uniform(cls, value: float, n_nodes: int) -> "Temperature":
        """A constant, uniform temperature (e.g. a reference temperature)."""
        value = _number(value, "uniform temperature")
        return cls(fields=np.full((1, n_nodes), value), tables=(TimeTable.constant(),),
                   labels=(f"uniform {value:g}",))

    @classmethod
    def from_key_times(cls, times, fields, which, *, period: float | None = None,
                       end: float | None = None, labels: Sequence[str] = ()) -> "Temperature":
        """Fields given at key times, linear in between, clamped before the first and after the last.

        Parameters
        ----------
        times : (m,) float array
            Strictly increasing key times (of cycle 0 when periodic).
        fields : (n_j, n_nodes) float array
            The distinct nodal fields.
        which : (m,) int array
            Index into ``fields`` of the field at each key time; every field is used.
        period : float, optional
            The key times repeat every ``period`` (keys ``times + c·period``), from
            ``times[0]`` on; ``times[-1] - times[0]`` must not exceed it. When the
            last key is before ``times[0] + period``, the field goes linearly from
            the last key's to the first key's over the gap.
        end : float, optional
            Periodic case: the repetition stops at ``end``; the temperature holds
            its value at ``end`` afterwards.

        Returns
        -------
        Temperature
            Field ``j``'s coefficient is the sum of the hat functions of its key
            times (1 at its keys, 0 at the others), so the coefficients sum to one.
        """
        key_times = _vector(times, "temperature key times")
        which = np.asarray(which, dtype=np.int64).reshape(-1)
        fields = np.asarray(fields, dtype=np.float64)
        if fields.ndim == 1:
            fields = fields[None, :]
        if which.shape != key_times.shape or key_times.size == 0:
            raise ConfigError(f"temperature: {key_times.size} key time(s) for {which.size} field index(es)")
        if which.min() < 0 or which.max() >= len(fields):
            raise ConfigError(f"temperature: field index out of range (there are {len(fields)} fields)")
        unused = sorted(set(range(len(fields))) - set(which.tolist()))
        if unused:
            raise ConfigError(f"temperature: field(s) {unused} are used at no key time")
        if np.any(np.diff(key_times) <= 0):
            i = int(np.flatnonzero(np.diff(key_times) <= 0)[0])
            raise ConfigError(f"temperature key times must increase strictly: {key_times[i]} is followed "
                              f"by {key_times[i + 1]}")
        if period is None:
            if end is not None:
                raise ConfigError("temperature: an end of the repetition needs a period")
            tables = [TimeTable(key_times, (which == j).astype(float)) for j in range(len(fields))]
            return cls(fields=fields, tables=tuple(tables), labels=tuple(labels))
        period = _number(period, "temperature period")
        local = key_times - key_times[0]
        if period <= 0 or local[-1] > period * (1 + 1e-12):
            raise ConfigError(f"temperature: the key times of one cycle span {local[-1]}, more than "
                              f"the period {period}")
        if local[-1] < period * (1 - 1e-12):   # the next cycle's first key closes the period
            local = np.append(local, period)
            which = np.append(which, which[0])
        tables = [TimeTable(local, (which == j).astype(float), period=period, start=float(key_times[0]), end=end)
                  for j in range(len(fields))]
        return cls(fields=fields, tables=tuple(tables), labels=tuple(labels))

    @classmethod
    def from_base_max(cls, base, maximum, coefficient: TimeTable, *,
                      labels: Sequence[str] = ("base", "max")) -> "Temperature":
        """``T = T_base + c(t)·(T_max - T_base)`` (Zset ``*base_temperature``/``*max_temperature``/``*table``).

        Parameters
        ----------
        base, maximum : (n_nodes,) float arrays
        coefficient : TimeTable
            ``c(t)``.

        Returns
        -------
        Temperature
            Fields ``[T_base, T_max]`` with coefficients ``1 - c(t)`` and ``c(t)``.
        """
        complement = TimeTable(coefficient.times, 1.0 - coefficient.values, period=coefficient.period,
                               start=coefficient.start, end=coefficient.end)
        return cls(fields=np.stack([np.asarray(base, float), np.asarray(maximum, float)]),
                   tables=(complement, coefficient), labels=tuple(labels))

    # ------------------------------------------------------------ evaluation
    def coefficients(self, t) -> np.ndarray:
        """The coefficients ``c_j(t)``.

        Parameters
        ----------
        t : float or (n_t,) array

        Returns
        -------
        (n_j,) array, or (n_t, n_j) for an array of times
        """
        t = np.asarray(t, dtype=np.float64)
        return np.stack([np.asarray(table(t), dtype=np.float64) for table in self.tables], axis=-1)

    def at(self, t) -> np.ndarray:
        """Nodal temperatures at time(s) ``t``.

        Parameters
        ----------
        t : float or (n_t,) array

        Returns
        -------
        (n_nodes,) array, or (n_t, n_nodes) for an array of times
        """
        return self.coefficients(t) @ self.fields

    def __eq__(self, other):
        return _dataclass_eq(self, other, skip=("labels",))

    __hash__ = None


# ---------------------------------------------------------------------- problem
@dataclass(frozen=True, eq=False, kw_only=True)
class Problem:
    """What to solve: a quasi-static mechanical problem on a mesh.

    Construction validates everything and raises :class:`ConfigError` listing
    every inconsistency, each naming the item (and ``source``, the file).

    Attributes
    ----------
    mesh : Mesh
    materials : dict[str, dict]
        Material spec (see the module docstring) per cell set name, or
        ``"ALL_ELEMENT"`` for every cell. Each cell gets exactly one material.
    dirichlet : tuple of Dirichlet
    imposed_fields : tuple of ImposedField
        Imposed displacements varying over their node sets. The imposed values are
        set condition by condition: the Dirichlet conditions in order, then the
        imposed fields in order; where two share a dof, the later one wins.
    pressures : tuple of Pressure
    centrifugal : tuple of Centrifugal
    temperature : Temperature, optional
    tables : dict[str, TimeTable]
        Time tables referenced by name from the loads.
    times : (n_steps + 1,) float array
        Strictly increasing; the initial time first, then the end of each step.
    solver : dict
        Newton settings (keys in :data:`SOLVER_KEYS`).
    output : dict
        What the source asked to write (keys in :data:`OUTPUT_KEYS`); informative.
    source : str
        The file the problem came from, for messages; not part of equality.
    """

    mesh: Mesh
    materials: dict[str, dict]
    dirichlet: tuple[Dirichlet, ...] = ()
    imposed_fields: tuple[ImposedField, ...] = ()
    pressures: tuple[Pressure, ...] = ()
    centrifugal: tuple[Centrifugal, ...] = ()
    temperature: Temperature | None = None
    tables: dict[str, TimeTable] = field(default_factory=dict)
    times: np.ndarray
    solver: dict = field(default_factory=dict)
    output: dict = field(default_factory=dict)
    source: str = "<python>"

    def __post_init__(self):
        object.__setattr__(self, "source", str(self.source))
        for name in ("dirichlet", "imposed_fields", "pressures", "centrifugal"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "materials", copy.deepcopy(dict(self.materials)))
        object.__setattr__(self, "tables", dict(self.tables))
        object.__setattr__(self, "solver", copy.deepcopy(dict(self.solver)))
        object.__setattr__(self, "output", copy.deepcopy(dict(self.output)))
        self.validate()

    # ------------------------------------------------------------ validation
    def validate(self) -> None:
        """Check the problem's consistency; raise ConfigError listing every problem found."""
        errors: list[str] = []
        if not isinstance(self.mesh, Mesh):
            raise ConfigError(f"{self.source}: the problem's mesh must be an io_adapters.Mesh, "
                              f"found {type(self.mesh).__name__}")
        mesh = self.mesh
        try:
            times = _vector(self.times, "times")
            if times.size < 2:
                errors.append(f"times: at least the initial time and one step are needed, found {times.size}")
            elif np.any(np.diff(times) <= 0):
                i = int(np.flatnonzero(np.diff(times) <= 0)[0])
                errors.append(f"times must increase strictly: times[{i}] = {times[i]} is followed by "
                              f"times[{i + 1}] = {times[i + 1]}")
            elif times.size - 1 > max_time_steps():
                errors.append(f"{times.size - 1} time steps: at most {max_time_steps()} (set "
                              f"{MAX_TIME_STEPS_VARIABLE} to raise the limit)")
            object.__setattr__(self, "times", times)
        except ConfigError as exc:
            errors.append(str(exc))

        for name, table in self.tables.items():
            if not isinstance(table, TimeTable):
                errors.append(f"table '{name}' must be a TimeTable, found {type(table).__name__}")

        def check_table(item: str, table: str | None) -> None:
            if table is not None and not isinstance(table, str):
                errors.append(f"{item}: a table is given by its name, found {table!r}")
            elif table is not None and table not in self.tables:
                errors.append(f"{item}: table '{table}' is not defined (tables: {available(self.tables)})")

        # materials: known sets, valid specs, each cell exactly once
        if not self.materials:
            errors.append("no material is defined")
        owners = np.zeros(mesh.n_cells, dtype=np.int64)
        for set_name, spec in self.materials.items():
            item = f"material of cell set '{set_name}'"
            cells = self._cells_or_none(set_name)
            if cells is None:
                errors.append(f"{item}: cell set '{set_name}' is not in the mesh "
                              f"(cell sets: {available([*mesh.cell_sets, ALL_ELEMENT])})")
            else:
                np.add.at(owners, cells, 1)
            errors.extend(f"{item}: {e}" for e in check_material_spec(spec))
        if self.materials and not errors:
            if np.any(owners == 0):
                errors.append(f"{int(np.sum(owners == 0))} cell(s) have no material (first: cell "
                              f"{int(np.flatnonzero(owners == 0)[0])}); the material cell sets must cover the mesh")
            if np.any(owners > 1):
                errors.append(f"{int(np.sum(owners > 1))} cell(s) get several materials (first: cell "
                              f"{int(np.flatnonzero(owners > 1)[0])}); the material cell sets must not overlap")

        for i, bc in enumerate(self.dirichlet):
            if not isinstance(bc, Dirichlet):
                errors.append(f"dirichlet[{i}] must be a Dirichlet, found {type(bc).__name__}")
                continue
            item = f"dirichlet[{i}] (node set '{bc.node_set}', component {bc.component})"
            if bc.node_set not in mesh.node_sets:
                errors.append(f"{item}: node set '{bc.node_set}' is not in the mesh "
                              f"(node sets: {available(mesh.node_sets)})")
            check_table(item, bc.table)

        for i, imposed in enumerate(self.imposed_fields):
            if not isinstance(imposed, ImposedField):
                errors.append(f"imposed_fields[{i}] must be an ImposedField, found {type(imposed).__name__}")
                continue
            item = (f"imposed_fields[{i}] (node set '{imposed.node_set}'"
                    + (f", from {imposed.source}" if imposed.source else "") + ")")
            if imposed.node_set not in mesh.node_sets:
                errors.append(f"{item}: node set '{imposed.node_set}' is not in the mesh "
                              f"(node sets: {available(mesh.node_sets)})")
            elif imposed.n_nodes != len(mesh.node_sets[imposed.node_set]):
                errors.append(f"{item}: the values have {imposed.n_nodes} node rows, the node set has "
                              f"{len(mesh.node_sets[imposed.node_set])} nodes (one row per node, in the set's order)")

        for i, load in enumerate(self.pressures):
            if not isinstance(load, Pressure):
                errors.append(f"pressures[{i}] must be a Pressure, found {type(load).__name__}")
                continue
            item = f"pressures[{i}] (face set '{load.face_set}')"
            if load.face_set not in mesh.face_sets:
                errors.append(f"{item}: face set '{load.face_set}' is not in the mesh "
                              f"(face sets: {available(mesh.face_sets)})")
            elif isinstance(load.values, np.ndarray):
                n_facets = facet_count(mesh, load.face_set)
                if load.values.size != n_facets:
                    errors.append(f"{item}: {load.values.size} per-facet values for {n_facets} facets")
                if len(mesh.face_sets[load.face_set]) > 1:
                    errors.append(f"{item}: per-facet values on a face set of several facet types "
                                  f"({', '.join(mesh.face_sets[load.face_set])}) are ambiguous: the mesh "
                                  "groups facets by type, which loses the listing order")
            check_table(item, load.table)

        for i, load in enumerate(self.centrifugal):
            if not isinstance(load, Centrifugal):
                errors.append(f"centrifugal[{i}] must be a Centrifugal, found {type(load).__name__}")
                continue
            item = f"centrifugal[{i}] (cell set '{load.cell_set or ALL_ELEMENT}')"
            cells = self._cells_or_none(load.cell_set)
            if cells is None:
                errors.append(f"{item}: cell set '{load.cell_set}' is not in the mesh "
                              f"(cell sets: {available([*mesh.cell_sets, ALL_ELEMENT])})")
            else:
                for set_name, spec in self.materials.items():
                    own = self._cells_or_none(set_name)
                    if (isinstance(spec, Mapping) and "density" not in spec and own is not None
                            and np.intersect1d(own, cells).size):
                        errors.append(f"{item}: the material of cell set '{set_name}' has no density")
            check_table(item, load.table)

        if self.temperature is not None:
            if not isinstance(self.temperature, Temperature):
                errors.append(f"temperature must be a Temperature, found {type(self.temperature).__name__}")
            elif self.temperature.n_nodes != mesh.n_nodes:
                errors.append(f"temperature fields have {self.temperature.n_nodes} values, the mesh has "
                              f"{mesh.n_nodes} nodes")
        else:
            for set_name, spec in self.materials.items():
                if isinstance(spec, Mapping) and _depends_on_temperature(spec):
                    errors.append(f"material of cell set '{set_name}' depends on temperature (thermal strain "
                                  "or temperature tables) but the problem defines no temperature")

        errors.extend(check_settings("solver", self.solver))
        errors.extend(check_settings("output", self.output))

        if errors:
            if len(errors) == 1:
                raise ConfigError(f"{self.source}: {errors[0]}")
            raise ConfigError(f"{self.source}: {len(errors)} problems:\n  - " + "\n  - ".join(errors))

    def _cells_or_none(self, name: str | None) -> np.ndarray | None:
        if name is None or (name == ALL_ELEMENT and name not in self.mesh.cell_sets):
            return np.arange(self.mesh.n_cells)
        return self.mesh.cell_sets.get(name)

    # --------------------------------------------------------------- queries
    @property
    def n_steps(self) -> int:
        """Number of time steps (``len(times) - 1``)."""
        return len(self.times) - 1

    def cells(self, cell_set: str | None) -> np.ndarray:
        """Indices of the cells of a set (``None`` or ``"ALL_ELEMENT"``: every cell), shape (k,)."""
        cells = self._cells_or_none(cell_set)
        if cells is None:
            raise ConfigError(f"{self.source}: cell set '{cell_set}' is not in the mesh "
                              f"(cell sets: {available([*self.mesh.cell_sets, ALL_ELEMENT])})")
        return cells

    def material_of_cells(self) -> tuple[tuple[str, ...], np.ndarray]:
        """The material keys and, for each cell, the index of its material.

        Returns
        -------
        names : tuple[str, ...]
            Keys of :attr:`materials`, in order.
        index : (n_cells,) int array
            ``names[index[c]]`` is the material of cell ``c``.
        """
        names = tuple(self.materials)
        index = np.empty(self.mesh.n_cells, dtype=np.int64)
        for i, name in enumerate(names):
            index[self.cells(name)] = i
        return names, index

    def factor(self, table: str | None, t):
        """``tables[table](t)``, or ones when ``table`` is None.

        Parameters
        ----------
        t : float or (n,) array
        """
        if table is None:
            return 1.0 if np.ndim(t) == 0 else np.ones(np.shape(t))
        return self.tables[table](t)

    def __eq__(self, other):
        return _dataclass_eq(self, other, skip=("source",))

    __hash__ = None


def facet_count(mesh: Mesh, face_set: str) -> int:
    """Number of facets of a face set (all facet types)."""
    return int(sum(len(conn) for conn in mesh.face_sets[face_set].values()))


# --------------------------------------------------------------- material specs
def _is_table(value) -> bool:
    return isinstance(value, Mapping) and set(value) == {"temperature", "value"}


def _check_coefficient(value, name: str, errors: list[str]) -> None:
    if _is_table(value):
        t, v = value["temperature"], value["value"]
        try:
            t, v = np.asarray(t, dtype=float), np.asarray(v, dtype=float)
        except (TypeError, ValueError):
            errors.append(f"'{name}' temperature table must hold numbers")
            return
        if t.ndim != 1 or t.shape != v.shape or t.size == 0:
            errors.append(f"'{name}' temperature table: {np.size(t)} temperatures for {np.size(v)} values")
        elif np.any(np.diff(t) <= 0):
            errors.append(f"'{name}' temperature table: temperatures must increase strictly, found {t.tolist()}")
        elif not (np.all(np.isfinite(t)) and np.all(np.isfinite(v))):
            errors.append(f"'{name}' temperature table holds a non-finite value")
    elif isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        errors.append(f"'{name}' must be a number or a temperature table "
                      f"{{'temperature': [...], 'value': [...]}}, found {value!r}")


def _coefficients(block, where: str, known: set[str], required: set[str], errors: list[str],
                  numeric: bool = True) -> None:
    if not isinstance(block, Mapping):
        errors.append(f"'{where}' must be a table of coefficients, found {block!r}")
        return
    for key in block:
        if key not in known:
            errors.append(f"unknown key '{key}' in '{where}' (known: {available(known)})")
        elif numeric and not (key == "type" and block[key] == "isotropic"):
            _check_coefficient(block[key], f"{where}.{key}", errors)
    for key in sorted(required - set(block)):
        errors.append(f"'{where}' has no '{key}'")


def _items(value, where: str, errors: list[str]) -> list:
    """A list of tables as given, or [] after reporting that it is not one."""
    if isinstance(value, (list, tuple)):
        return list(value)
    errors.append(f"'{where}' must be a list of tables, found {value!r}")
    return []


def _check_hardening(items, where: str, kinds: dict[str, set[str]], errors: list[str]) -> None:
    if not isinstance(items, Mapping) or "type" not in items:
        errors.append(f"'{where}' must be a table with a 'type' (one of {available(kinds)}), found {items!r}")
        return
    kind = items["type"]
    if kind not in kinds:
        errors.append(f"'{where}': unsupported type '{kind}' (supported: {available(kinds)})")
        return
    rest = {k: v for k, v in items.items() if k != "type"}
    _coefficients(rest, where, kinds[kind], kinds[kind], errors)


def check_material_spec(spec) -> list[str]:
    """What is wrong with a material spec dict (empty when nothing is).

    Checks the keys (unknown ones are errors), the behaviour, the required
    coefficients and their types, before any computation; the schema is the one
    :func:`rom.materials.from_spec` documents (a test keeps the two in step).
    """
    errors: list[str] = []
    if not isinstance(spec, Mapping):
        return [f"a material spec must be a dict, found {type(spec).__name__}"]
    behavior = spec.get("behavior")
    if behavior is None:
        return ["the material spec has no 'behavior'"]
    if behavior not in BEHAVIORS:
        return [f"unsupported behavior '{behavior}' (supported: {', '.join(BEHAVIORS)})"]
    required, optional = MATERIAL_KEYS[behavior]
    known = set(required) | set(optional)
    for key in spec:
        if key not in known:
            errors.append(f"unknown key '{key}' for behavior '{behavior}' (known: {available(known)})")
    if "density" in spec:
        _check_coefficient(spec["density"], "density", errors)

    def table(name: str, block, numeric: bool = True) -> None:
        needed, allowed = MATERIAL_TABLES[name]
        _coefficients(block, name, set(needed) | set(allowed), set(needed), errors, numeric=numeric)

    if "elasticity" not in spec:
        errors.append("the material spec has no 'elasticity'")
    else:
        table("elasticity", spec["elasticity"])
    if "thermal_strain" in spec:
        table("thermal_strain", spec["thermal_strain"])
    if "integration" in spec:
        table("integration", spec["integration"], numeric=False)
    if behavior == "gen_evp":
        potential = spec.get("potential")
        if potential is None:
            errors.append("a gen_evp material needs a 'potential'")
        else:
            table("potential", potential, numeric=False)
            if isinstance(potential, Mapping):
                if potential.get("criterion", "mises") != "mises":
                    errors.append(f"potential: unsupported criterion '{potential['criterion']}' (supported: mises)")
                if "flow" in potential:
                    _check_hardening(potential["flow"], "potential.flow", _kinds_with_aliases("gen_evp.flow"), errors)
                if "isotropic" in potential:
                    _check_hardening(potential["isotropic"], "potential.isotropic",
                                     _kinds_with_aliases("gen_evp.isotropic"), errors)
                for k, item in enumerate(_items(potential.get("kinematic", []), "potential.kinematic", errors)):
                    _check_hardening(item, f"potential.kinematic[{k}]", _kinds_with_aliases("kinematic"), errors)
    if behavior == "j2_plasticity":
        if "yield_stress" not in spec:
            errors.append("a j2_plasticity material needs a 'yield_stress'")
        else:
            _check_coefficient(spec["yield_stress"], "yield_stress", errors)
        if "isotropic" in spec:
            _check_hardening(spec["isotropic"], "isotropic", _kinds_with_aliases("j2_plasticity.isotropic"), errors)
        for k, item in enumerate(_items(spec.get("kinematic", []), "kinematic", errors)):
            _check_hardening(item, f"kinematic[{k}]", _kinds_with_aliases("kinematic"), errors)
    return errors


def _depends_on_temperature(spec: Mapping) -> bool:
    if "thermal_strain" in spec:
        return True

    def walk(value) -> bool:
        if _is_table(value):
            return True
        if isinstance(value, Mapping):
            return any(walk(v) for v in value.values())
        if isinstance(value, list):
            return any(walk(v) for v in value)
        return False

    return walk(spec)


# ------------------------------------------------------------ nodal data files
def read_nodal_values(path: str | os.PathLike, n_values: int, *, record: int = 1,
                      rec_size: int | None = None, what: str = "values") -> np.ndarray:
    """One record of nodal (or per-facet) values from a file.

    Parameters
    ----------
    path : path
        ``.npy`` (shape ``(n_values,)`` or ``(n_records, n_values)``), else a
        headerless big-endian float32 file (Zset ``.node`` data), records of
        ``n_values`` one after the other.
    n_values : int
        Values per record: the mesh's node count (parallel Zset runs declare the
        global ``*rec_size`` while each local file holds its own nodes, so the
        record size is taken from the mesh and the file, not from ``rec_size``).
    record : int
        1-based record number.
    rec_size : int, optional
        The size the source declared, quoted in messages only.
    what : str
        What the values are, for messages.

    Returns
    -------
    (n_values,) float64 array
    """
    path = Path(path)
    declared = "" if rec_size is None or rec_size == n_values else f"; the deck declares *rec_size {rec_size}"
    if not path.is_file():
        raise ConfigError(f"{what}: file {path} not found")
    if isinstance(record, bool) or int(record) != record or record < 1:
        raise ConfigError(f"{what}: record numbers start at 1, found {record!r}")
    record = int(record)
    if path.suffix.lower() == ".npy":
        data = np.load(path, allow_pickle=False)
        data = data.reshape(1, -1) if data.ndim == 1 else data
        if data.ndim != 2 or data.shape[1] != n_values:
            raise ConfigError(f"{what}: {path} holds an array of shape {np.shape(data)}, expected "
                              f"({n_values},) or (n_records, {n_values}){declared}")
        if record > len(data):
            raise ConfigError(f"{what}: {path} has {len(data)} record(s), record {record} was asked for")
        values = np.asarray(data[record - 1], dtype=np.float64)
    else:
        size = path.stat().st_size
        count = size // 4
        if size % 4 or count % max(n_values, 1) or count == 0:
            raise ConfigError(
                f"{what}: {path} holds {size} bytes = {size / 4:g} big-endian float32 values, not a whole "
                f"number of records of {n_values} values{declared}"
            )
        if record > count // n_values:
            raise ConfigError(f"{what}: {path} has {count // n_values} record(s) of {n_values} values, "
                              f"record {record} was asked for")
        values = np.fromfile(path, dtype=">f4", count=n_values, offset=(record - 1) * n_values * 4)
        values = values.astype(np.float64)
    if not np.all(np.isfinite(values)):
        i = int(np.flatnonzero(~np.isfinite(values))[0])
        raise ConfigError(f"{what}: {path} record {record} holds a non-finite value at position {i}")
    return values


# ------------------------------------------------------------------- entry point
def read_problem(path: str | os.PathLike) -> Problem:
    """Read a problem from a TOML file or a Zset ``.inp`` deck.

    Detection: the suffix (``.toml``; ``.inp``), else the content (a deck holds
    ``****calcul``).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".toml":
        kind = "toml"
    elif suffix == ".inp":
        kind = "zset"
    else:
        head = path.read_bytes()[:1_000_000].decode("latin-1")
        kind = "zset" if "****calcul" in head else "toml"
    try:
        if kind == "zset":
            from io_adapters.zset.deck import read_problem as read_deck

            return read_deck(path)
        from io_adapters.problem_toml import read_problem_toml

        return read_problem_toml(path)
    except (ConfigError, InputError) as exc:
        if str(path) in str(exc) or str(path.parent) in str(exc):
            raise
        raise type(exc)(f"{path}: {exc}") from None
    except OSError as exc:                       # a path too long, a folder that cannot be read …
        raise ConfigError(f"{path}: {exc.strerror or exc}"
                          + (f": {exc.filename}" if exc.filename else "")) from None
