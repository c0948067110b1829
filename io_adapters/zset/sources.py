"""Lazy readers of Zset's headerless big-endian float32 result files (§2.2).

- ``.node`` / ``.ctnod``: per record, per variable, all nodes:
  ``off(r, v, n) = (r·Nv + v)·Nn + n``. A field (variables ``v0:v1``) reads only
  its own values: one ``readinto`` per step when all rows are wanted, one per
  step and variable otherwise.
- ``.integ``: per record, per element, per variable, the element's ``P_e``
  points: ``off(r, e, v, q) = r·Ni·P + Ni·S_e + v·P_e + q``. The variables of a
  field are interleaved with the others, so a read covers the contiguous range
  of elements that holds the wanted rows (for every variable) and keeps it, as
  read, as a one-block cache: the other fields of the same steps and rows are
  then served without touching the file, each converting its own share.

Reads use ``seek`` + ``readinto`` (never ``numpy.memmap``, so the resident memory
stays bounded by what is asked) and return float64; a block is decoded from
big-endian in place once, then each field's transposition and widening is one
numpy copy. The cache holds
at most ``cache_bytes`` (the steps of a request are split into chunks that fit).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from io_adapters.errors import InputError
from io_adapters.simulation import Index

#: Default bound of the decoded block kept by an ``.integ`` reader (bytes).
DEFAULT_CACHE_BYTES = 256 * 2**20


def check_size(path: Path, expected_values: int, layout: str, hint: str) -> None:
    """Refuse a missing, truncated or oversized result file.

    Parameters
    ----------
    path : Path
    expected_values : int
        Number of float32 values the ``.ut`` and the mesh imply.
    layout : str
        How that number comes about, e.g. ``"4 records x 6 variables x 343 nodes"``.
    hint : str
        What to check, appended to the message.
    """
    if not path.is_file():
        raise InputError(f"{path}: missing result file ({layout} expected); {hint}")
    found = path.stat().st_size
    expected = 4 * expected_values
    if found != expected:
        state = "truncated" if found < expected else "oversized"
        raise InputError(
            f"{path}: {state}: expected {expected} bytes ({layout} float32 values), found {found} bytes "
            f"({found / 4:g} values); {hint}"
        )


def _step_array(steps: Index) -> np.ndarray:
    return np.arange(steps.start, steps.stop) if isinstance(steps, slice) else np.asarray(steps, np.int64)


def _read_exact(f, offset: int, buffer: np.ndarray, path: Path) -> None:
    f.seek(offset)
    view = memoryview(buffer).cast("B")
    got = f.readinto(view)
    if got != len(view):
        raise InputError(f"{path}: expected {len(view)} bytes at byte {offset}, read {got} "
                         f"(file size {os.path.getsize(path)}; did the file change since it was opened?)")


def _decode(buffer: np.ndarray) -> np.ndarray:
    """Big-endian float32 words (uint32 array) into native float32, in place."""
    return buffer.byteswap(inplace=True).view(np.float32)


class NodeFile:
    """A ``.node`` or ``.ctnod`` file: ``n_records`` x ``n_variables`` x ``n_nodes`` values.

    Parameters
    ----------
    path : Path
    n_records, n_variables, n_nodes : int
    """

    def __init__(self, path: Path, n_records: int, n_variables: int, n_nodes: int):
        self.path = Path(path)
        self.n_records, self.n_variables, self.n_nodes = n_records, n_variables, n_nodes

    def read(self, start: int, stop: int, steps: Index, rows: Index) -> np.ndarray:
        """Variables ``start:stop`` at some steps and nodes.

        Returns
        -------
        (n_steps, n_rows, stop - start) float64 array
        """
        steps = _step_array(steps)
        k = stop - start
        if isinstance(rows, slice):
            lo, hi, pick = rows.start, rows.stop, None
        else:
            lo, hi = (int(rows.min()), int(rows.max()) + 1) if len(rows) else (0, 0)
            pick = rows - lo
        n_rows = hi - lo if pick is None else len(pick)
        out = np.empty((len(steps), n_rows, k))
        buffer = np.empty((k, hi - lo), np.uint32)
        with open(self.path, "rb") as f:
            for i, step in enumerate(steps):
                base = (int(step) * self.n_variables + start) * self.n_nodes
                if hi - lo == self.n_nodes:
                    _read_exact(f, 4 * base, buffer, self.path)
                else:
                    for v in range(k):
                        _read_exact(f, 4 * (base + v * self.n_nodes + lo), buffer[v], self.path)
                values = _decode(buffer)
                out[i] = values.T if pick is None else values[:, pick].T
        return out


class _RawBlock:
    """The cached part of an ``.integ`` file: some steps of a range of elements.

    ``raw[i]`` holds step ``steps[i]`` of elements ``first:stop``, all variables,
    in file order (native float32): each field takes its own share (transposition
    and widening to float64 in one numpy copy) when it is asked for.
    """

    def __init__(self, steps: np.ndarray, first: int, stop: int, raw: np.ndarray):
        self.steps, self.first, self.stop, self.raw = steps, first, stop, raw
        self.scaled: set = set()      # variable groups already multiplied by their factors

    def holds(self, steps: np.ndarray, first: int, stop: int) -> bool:
        return (self.first == first and self.stop == stop and len(steps) == len(self.steps)
                and np.array_equal(steps, self.steps))


class IntegFile:
    """A ``.integ`` file read by element ranges, with a one-block cache.

    Parameters
    ----------
    path : Path
    n_records, n_variables : int
    counts : (n_elements,) int array
        Integration points of each element, in file order.
    groups : list of (start, stop)
        Variable ranges of the fields defined on this file.
    cache_bytes : int
        Bound of the block kept between reads (the steps of a request are read in
        chunks that fit).
    """

    def __init__(self, path: Path, n_records: int, n_variables: int, counts: np.ndarray,
                 groups: list[tuple[int, int]], cache_bytes: int = DEFAULT_CACHE_BYTES):
        self.path = Path(path)
        self.n_records, self.n_variables = n_records, n_variables
        counts = np.asarray(counts, dtype=np.int64)
        self.counts = counts
        self.offsets = np.concatenate([[0], np.cumsum(counts)])  # S_e, (n_elements + 1,)
        self.n_points = int(self.offsets[-1])
        self.uniform = int(counts[0]) if len(counts) and np.all(counts == counts[0]) else None
        self.groups = list(groups)
        self.cache_bytes = int(cache_bytes)
        self._block: _RawBlock | None = None

    # ------------------------------------------------------------ geometry
    def element_range(self, rows: Index) -> tuple[int, int]:
        """Elements ``first:stop`` holding some file rows (integration points)."""
        if isinstance(rows, slice):
            lo, hi = rows.start, rows.stop
        elif len(rows):
            lo, hi = int(rows.min()), int(rows.max()) + 1
        else:
            return 0, 0
        if hi <= lo:
            return 0, 0
        if self.uniform:
            return lo // self.uniform, -(-hi // self.uniform)
        first = int(np.searchsorted(self.offsets, lo, side="right") - 1)
        stop = int(np.searchsorted(self.offsets, hi, side="left"))
        return first, stop

    # ---------------------------------------------------------------- read
    def read(self, group: tuple[int, int], steps: Index, rows: Index,
             scale: np.ndarray | None = None) -> np.ndarray:
        """Variables ``group`` at some steps and file rows.

        Parameters
        ----------
        group : (start, stop)
            Variable range of the field.
        scale : (stop - start,) array, optional
            Factor per component (engineering shears), applied in the same copy.
        steps : slice or increasing int array
        rows : slice or int array
            File rows (integration points in file order); an array may be unsorted.

        Returns
        -------
        (n_steps, n_rows, stop - start) float64 array
        """
        steps = _step_array(steps)
        first, stop = self.element_range(rows)
        lo = int(self.offsets[first])
        span = int(self.offsets[stop]) - lo
        if isinstance(rows, slice):
            pick = slice(rows.start - lo, rows.stop - lo)
            whole = rows.start == lo and rows.stop - lo == span
            n_rows = rows.stop - rows.start
        else:
            pick = np.asarray(rows) - lo
            whole = False
            n_rows = len(pick)
        out = np.empty((len(steps), n_rows, group[1] - group[0]))
        if not len(steps) or not n_rows:
            return out
        per_step = 4 * self.n_variables * span
        chunk = max(1, self.cache_bytes // max(per_step, 1))
        for c in range(0, len(steps), chunk):
            part = steps[c:c + chunk]
            block = self._block
            if block is None or not block.holds(part, first, stop):
                self._block = None   # free the previous block before reading the next
                block = self._block = _RawBlock(part, first, stop, self._read_raw(part, first, stop))
            if scale is not None and group not in block.scaled:
                self._scale(block, group, scale)
            for i in range(len(part)):
                self._convert(block.raw[i], first, stop, group, out[c + i], None if whole else pick)
        return out

    def _read_raw(self, steps: np.ndarray, first: int, stop: int) -> np.ndarray:
        """Elements ``first:stop`` at ``steps``, all variables, native float32: (n_steps, n_values)."""
        lo = int(self.offsets[first])
        n_values = self.n_variables * (int(self.offsets[stop]) - lo)
        raw = np.empty((len(steps), n_values), np.uint32)
        record = self.n_variables * self.n_points
        with open(self.path, "rb") as f:
            for i, step in enumerate(steps):
                _read_exact(f, 4 * (int(step) * record + self.n_variables * lo), raw[i], self.path)
                values = _decode(raw[i])   # to native float32 while the step is in cache
                if not np.isfinite(np.add.reduce(values)):   # one pass; NaN/Inf propagate
                    self._raise_non_finite(values, int(step), lo)
        return raw.view(np.float32)

    def _raise_non_finite(self, values: np.ndarray, step: int, lo: int) -> None:
        bad = np.flatnonzero(~np.isfinite(values))
        if not len(bad):          # the float32 sum overflowed: every value is finite
            return
        position = int(bad[0])
        if self.uniform:
            element, rest = divmod(position, self.n_variables * self.uniform)
            variable, point = divmod(rest, self.uniform)
            row = lo + element * self.uniform + point
        else:
            row = variable = -1
        raise InputError(f"{self.path}: non-finite value {values[position]} at time step {step}, "
                         f"integration point row {row} (file order), variable {variable}")

    def _scale(self, block: "_RawBlock", group: tuple[int, int], scale: np.ndarray) -> None:
        """Multiply a variable group's components by their factors, in the cached block (once)."""
        v0, _ = group
        n_elements = block.stop - block.first
        for c in np.flatnonzero(scale != 1.0):
            if self.uniform:
                block.raw.reshape(len(block.steps), n_elements, self.n_variables, self.uniform)[:, :, v0 + c] *= scale[c]
            else:
                lo = self.offsets[block.first]
                counts = self.counts[block.first:block.stop]
                element = np.repeat(np.arange(n_elements), counts)
                point = np.arange(int(self.offsets[block.stop] - lo)) - np.repeat(self.offsets[block.first:block.stop] - lo, counts)
                index = self.n_variables * (self.offsets[block.first:block.stop] - lo)[element] + point + (v0 + c) * counts[element]
                block.raw[:, index] *= scale[c]
        block.scaled.add(group)

    def _convert(self, raw: np.ndarray, first: int, stop: int, group: tuple[int, int],
                 target: np.ndarray, pick) -> None:
        """One step of one field from a raw block into ``target`` (n_rows, k), float64."""
        v0, v1 = group
        n_elements = stop - first
        if self.uniform:
            per_element = raw.reshape(n_elements, self.n_variables, self.uniform)[:, v0:v1, :]
            if pick is None:   # one strided pass: transpose + widen
                np.copyto(target.reshape(n_elements, self.uniform, v1 - v0), per_element.transpose(0, 2, 1))
                return
            target[...] = per_element.transpose(0, 2, 1).reshape(-1, v1 - v0)[pick]
            return
        lo = self.offsets[first]
        counts = self.counts[first:stop]
        n_rows = int(self.offsets[stop] - lo)
        element = np.repeat(np.arange(n_elements), counts)
        point = np.arange(n_rows) - np.repeat(self.offsets[first:stop] - lo, counts)
        base = self.n_variables * (self.offsets[first:stop] - lo)[element] + point
        index = base[:, None] + np.arange(v0, v1)[None, :] * counts[element][:, None]
        target[...] = raw[index] if pick is None else raw[index[pick]]


def _scaled(values: np.ndarray, scale: np.ndarray | None) -> np.ndarray:
    """Multiply, in place, the components whose factor is not 1 (engineering shears)."""
    if scale is not None:
        for c in np.flatnonzero(scale != 1.0):
            values[:, :, c] *= scale[c]
    return values


class NodeFieldSource:
    """A field of a ``.node``/``.ctnod`` file (a :class:`~io_adapters.simulation.FieldSource`).

    Parameters
    ----------
    file : NodeFile
    start, stop : int
        Its variables in the file.
    scale : (n_components,) array, optional
        Factor applied per component (engineering shear).
    origin : str
        File and variables, for messages.
    """

    dtype = np.dtype(np.float32)

    def __init__(self, file: NodeFile, start: int, stop: int, scale: np.ndarray | None, origin: str):
        self.file, self.start, self.stop, self.scale, self.origin = file, start, stop, scale, origin
        self.shape = (file.n_records, file.n_nodes, stop - start)

    def read(self, steps: Index, rows: Index) -> np.ndarray:
        """Values, shape (n_steps, n_rows, n_components), float64."""
        return _scaled(self.file.read(self.start, self.stop, steps, rows), self.scale)


class IntegFieldSource:
    """A field of a ``.integ`` file, rows in the mesh's cell order.

    Parameters
    ----------
    file : IntegFile
    start, stop : int
        Its variables in the file.
    file_rows : (n_points,) int array, optional
        File row of each mesh row, when the mesh's cell order differs from the
        file's (types interleaved in the file); None when they agree.
    scale : (n_components,) array, optional
    origin : str
    """

    dtype = np.dtype(np.float32)
    finite_checked = True    # the file checks each block it reads, once

    def __init__(self, file: IntegFile, start: int, stop: int, file_rows: np.ndarray | None,
                 scale: np.ndarray | None, origin: str):
        self.file, self.group, self.file_rows = file, (start, stop), file_rows
        self.scale, self.origin = scale, origin
        self.shape = (file.n_records, file.n_points, stop - start)

    def read(self, steps: Index, rows: Index) -> np.ndarray:
        """Values, shape (n_steps, n_rows, n_components), float64."""
        if self.file_rows is not None:
            rows = self.file_rows[rows]
        return self.file.read(self.group, steps, rows, self.scale)
