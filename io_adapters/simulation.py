"""Results of one simulation: a mesh, a list of times and fields over them.

Field values may live in memory (a numpy array) or stay in their file behind a
:class:`FieldSource`, so that a converter streams time steps and a rank reads only
its rows. Either way :meth:`Field.read` returns float64 arrays of shape
``(n_steps, n_rows, n_components)`` and refuses non-finite values.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from io_adapters.errors import InputError, MeshMismatchError
from io_adapters.mesh import Mesh
from io_adapters.quadrature_rules import count_points

SUPPORTS = ("node", "integration_point", "cell")

Index = slice | np.ndarray


@runtime_checkable
class FieldSource(Protocol):
    """Values of a field that stay in a file until read.

    Attributes
    ----------
    shape : (n_times, n_support, n_components)
    dtype : numpy dtype of the stored values (float32 or float64)
    origin : str
        Where the values are, for messages (file and variable names).
    finite_checked : bool, optional
        True when the source itself refuses non-finite values as it reads (then
        :meth:`Field.read` does not check them again).
    """

    shape: tuple[int, int, int]
    dtype: np.dtype
    origin: str

    def read(self, steps: Index, rows: Index) -> np.ndarray:
        """Values at some steps and rows, shape (n_steps, n_rows, n_components).

        ``steps`` and ``rows`` are slices with step 1 or increasing int arrays.
        """


def normalize_index(index, size: int, what: str) -> Index:
    """A slice with unit step, or an increasing unique int array within ``[0, size)``."""
    if index is None:
        return slice(0, size)
    if isinstance(index, slice):
        start, stop, step = index.indices(size)
        if step == 1:
            return slice(start, max(start, stop))
        index = np.arange(start, stop, step)
    array = np.asarray(index)
    if array.dtype == bool:
        if array.shape != (size,):
            raise InputError(f"boolean {what} mask must have shape ({size},), found {array.shape}")
        array = np.flatnonzero(array)
    array = np.atleast_1d(array).astype(np.int64, copy=False)
    if array.ndim != 1:
        raise InputError(f"{what} must be one-dimensional, found shape {array.shape}")
    array = np.where(array < 0, array + size, array)
    if array.size and (array.min() < 0 or array.max() >= size):
        raise InputError(f"{what} out of range: there are {size}, asked for index {array.max() if array.max() >= size else array.min()}")
    if array.size > 1 and np.any(np.diff(array) <= 0):
        array = np.unique(array)
    if array.size and array[-1] - array[0] + 1 == array.size:
        return slice(int(array[0]), int(array[-1]) + 1)
    return array


def index_length(index: Index) -> int:
    return index.stop - index.start if isinstance(index, slice) else len(index)


def check_finite(values: np.ndarray, origin: str, steps: Index, rows: Index) -> None:
    """Raise InputError naming the first NaN/Inf of a block read from ``origin``."""
    if np.isfinite(np.add.reduce(values, axis=None)):   # one pass, no temporary: NaN/Inf propagate
        return
    finite = np.isfinite(values)
    if finite.all():   # the sum overflowed: every value is finite all the same
        return
    s, r, c = (int(i[0]) for i in np.nonzero(~finite))
    step = steps.start + s if isinstance(steps, slice) else int(steps[s])
    row = rows.start + r if isinstance(rows, slice) else int(rows[r])
    raise InputError(
        f"{origin}: non-finite value {values[s, r, c]} at time step {step}, row {row}, component {c}"
    )


@dataclass(frozen=True, eq=False)
class Field:
    """One field over all time steps.

    Attributes
    ----------
    support : {"node", "integration_point", "cell"}
        Where the values live: rows are nodes, integration points (cells in the
        mesh's cell order, each cell's points in the rule's order) or cells.
    components : tuple[str, ...]
        Component names (e.g. ``("U1", "U2", "U3")``; a scalar has one).
    data : (n_times, n_support, n_components) array or FieldSource
    rule : str, optional
        Integration rule of an integration-point field (see
        :mod:`io_adapters.quadrature_rules`); required for that support only.
    """

    support: str
    components: tuple[str, ...]
    data: Any
    rule: str | None = None

    def __post_init__(self):
        if self.support not in SUPPORTS:
            raise InputError(f"field support must be one of {SUPPORTS}, found '{self.support}'")
        object.__setattr__(self, "components", tuple(str(c) for c in self.components))
        if (self.support == "integration_point") != (self.rule is not None):
            raise InputError(
                "an integration-point field needs its integration rule, and only such a field has one "
                f"(support '{self.support}', rule {self.rule!r})"
            )
        if not isinstance(self.data, FieldSource):
            values = np.asarray(self.data, dtype=np.float64)
            if values.ndim == 2:
                values = values[:, :, None]
            if values.ndim != 3:
                raise InputError(f"field values must have shape (n_times, n_support, n_components), found {values.shape}")
            check_finite(values, "field values", slice(0, values.shape[0]), slice(0, values.shape[1]))
            values = np.ascontiguousarray(values)
            values.setflags(write=False)
            object.__setattr__(self, "data", values)
        if self.shape[2] != len(self.components):
            raise InputError(
                f"field has {self.shape[2]} components but {len(self.components)} names {self.components}"
            )

    @property
    def shape(self) -> tuple[int, int, int]:
        """(n_times, n_support, n_components)."""
        return tuple(int(n) for n in self.data.shape)

    @property
    def n_components(self) -> int:
        return self.shape[2]

    @property
    def stored_dtype(self) -> np.dtype:
        """Precision the values are stored in (float32 from Zset, float64 otherwise)."""
        return np.dtype(getattr(self.data, "dtype", np.float64))

    @property
    def values(self) -> np.ndarray:
        """All values, shape (n_times, n_support, n_components), float64 (reads everything)."""
        return self.read()

    def read(self, steps=None, rows=None) -> np.ndarray:
        """Values at some time steps and rows.

        Parameters
        ----------
        steps : slice, int array or None
            Time-step indices (all when None).
        rows : slice, int array, bool mask or None
            Row indices (nodes, integration points or cells; all when None).

        Returns
        -------
        (n_steps, n_rows, n_components) float64 array
        """
        n_t, n_rows, _ = self.shape
        steps = normalize_index(steps, n_t, "time steps")
        rows = normalize_index(rows, n_rows, "rows")
        if isinstance(self.data, FieldSource):
            values = np.asarray(self.data.read(steps, rows), dtype=np.float64)
            expected = (index_length(steps), index_length(rows), self.shape[2])
            if values.shape != expected:
                raise InputError(f"{self.data.origin}: read {values.shape}, expected {expected}")
            if not getattr(self.data, "finite_checked", False):
                check_finite(values, self.data.origin, steps, rows)
            return values
        return self.data[steps][:, rows]

    def load(self) -> "Field":
        """This field with its values in memory."""
        if isinstance(self.data, FieldSource):
            return Field(self.support, self.components, self.read(), self.rule)
        return self


def support_size(mesh: Mesh, support: str, rule: str | None) -> int:
    """Number of rows a field of this support has on the mesh."""
    if support == "node":
        return mesh.n_nodes
    if support == "cell":
        return mesh.n_cells
    return count_points(mesh.cells, rule)


def _jsonable(mapping: dict, what: str) -> dict:
    try:
        return json.loads(json.dumps(mapping))
    except (TypeError, ValueError) as exc:
        raise InputError(f"simulation {what} must be JSON-serialisable (str, numbers, lists, dicts): {exc}") from None


@dataclass(frozen=True, eq=False)
class Simulation:
    """Results of one run.

    Attributes
    ----------
    mesh : Mesh
    times : (n_times,) float array, strictly increasing
    fields : dict[str, Field]
        Each of shape (n_times, n_support, n_components).
    parameters : dict
        What distinguishes this run (load levels, temperature-field parameters…);
        JSON-serialisable.
    provenance : dict
        Where the results came from: ``format``, ``files``, ``solver``,
        ``solver_version``…; JSON-serialisable.
    """

    mesh: Mesh
    times: np.ndarray
    fields: dict[str, Field] = field(default_factory=dict)
    parameters: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)

    def __post_init__(self):
        times = np.atleast_1d(np.asarray(self.times, dtype=np.float64))
        if times.ndim != 1:
            raise InputError(f"times must be one-dimensional, found shape {times.shape}")
        if not np.all(np.isfinite(times)):
            raise InputError(f"times must be finite, found {times}")
        if times.size > 1 and np.any(np.diff(times) <= 0):
            k = int(np.flatnonzero(np.diff(times) <= 0)[0])
            raise InputError(
                f"times must increase strictly: time {k + 1} is {float(times[k + 1])!r} after {float(times[k])!r}"
            )
        times = times.copy()
        times.setflags(write=False)
        object.__setattr__(self, "times", times)
        fields = dict(self.fields)
        for name, f in fields.items():
            if not isinstance(f, Field):
                raise InputError(f"field '{name}' must be a Field, found {type(f).__name__}")
            expected = (len(times), support_size(self.mesh, f.support, f.rule), f.n_components)
            if f.shape != expected:
                raise MeshMismatchError(
                    f"field '{name}' ({f.support}) has shape {f.shape}, but the mesh and times imply {expected}"
                )
        object.__setattr__(self, "fields", fields)
        object.__setattr__(self, "parameters", _jsonable(dict(self.parameters), "parameters"))
        object.__setattr__(self, "provenance", _jsonable(dict(self.provenance), "provenance"))

    @property
    def n_times(self) -> int:
        return len(self.times)

    def load(self) -> "Simulation":
        """This simulation with every field in memory."""
        return Simulation(self.mesh, self.times, {k: f.load() for k, f in self.fields.items()},
                          self.parameters, self.provenance)

    def summary(self) -> str:
        """A few lines describing the mesh, the sets, the fields and the times."""
        m = self.mesh
        lines = [
            f"source: {self.provenance.get('format', '?')} {self.provenance.get('files', '')}".rstrip(),
            f"mesh: {m.n_nodes} nodes, {m.n_cells} cells "
            + ", ".join(f"{len(c)} {t}" for t, c in m.cells.items())
            + f" (dim {m.dim})",
        ]
        if m.node_sets:
            lines.append("node sets: " + ", ".join(f"{k} ({len(v)})" for k, v in m.node_sets.items()))
        if m.cell_sets:
            lines.append("cell sets: " + ", ".join(f"{k} ({len(v)})" for k, v in m.cell_sets.items()))
        if m.face_sets:
            lines.append("face sets: " + ", ".join(
                f"{k} ({sum(len(c) for c in v.values())} {'+'.join(v)})" for k, v in m.face_sets.items()))
        if len(self.times):
            lines.append(f"times: {len(self.times)} from {self.times[0]:g} to {self.times[-1]:g}")
        else:
            lines.append("times: none (mesh only)")
        for name, f in self.fields.items():
            rule = f", rule {f.rule}" if f.rule else ""
            comps = " ".join(f.components) if len(f.components) <= 9 else f"{len(f.components)} components"
            lines.append(f"field {name}: {f.support}{rule}, shape {f.shape} [{comps}]")
        if self.parameters:
            lines.append(f"parameters: {json.dumps(self.parameters)}")
        return "\n".join(lines)
