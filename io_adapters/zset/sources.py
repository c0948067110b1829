"""Lazy readers of Zset's headerless big-endian float32 result files (§2.2).

- ``.node`` / ``.ctnod``: per record, per variable, all nodes:
  ``off(r, v, n) = (r·Nv + v)·Nn + n``. A field (variables ``v0:v1``) reads only
  its own values: one ``readinto`` per step when all rows are wanted, one per
  step and variable otherwise.
- ``.integ``: per record, per element, per variable, the element's ``P_e``
  points: ``off(r, e, v, q) = r·Ni·P + Ni·S_e + v·P_e + q``. The variables of a
  field are interleaved with the others, so a read covers the contiguous range
  of elements that holds the wanted rows (for every variable), decodes it once
  into one array per field and keeps those arrays as a one-block cache: the
  other fields of the same steps and rows are then served without touching the
  file. A field's array leaves the cache once it has been handed out whole,
  which keeps memory at about one step of the file while streaming.

Reads use ``seek`` + ``readinto`` in pieces of about 1 MiB (never ``numpy.memmap``,
so the resident memory stays bounded by what is asked), decode big-endian into
native floats and return float64. The cache holds at most ``cache_bytes`` (the
steps of a request are split into chunks that fit).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from io_adapters.errors import InputError
from io_adapters.simulation import Index

#: Default bound of the decoded block kept by an ``.integ`` reader (bytes).
DEFAULT_CACHE_BYTES = 256 * 2**20

_PIECE_BYTES = 2**21


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


class _Block:
    """The cached part of an ``.integ`` file: some steps, a range of elements, one array per field."""

    def __init__(self, steps: np.ndarray, first: int, stop: int, arrays: dict):
        self.steps, self.first, self.stop, self.arrays = steps, first, stop, arrays

    def positions(self, steps: np.ndarray, first: int, stop: int):
        """Where some steps are in this block (slice or array), or None when not all are held."""
        if first < self.first or stop > self.stop or not len(steps):
            return None
        slot = np.searchsorted(self.steps, steps)
        if slot.max() >= len(self.steps) or not np.array_equal(self.steps[slot], steps):
            return None
        if slot[-1] - slot[0] + 1 == len(slot):
            return slice(int(slot[0]), int(slot[-1]) + 1)
        return slot


class IntegFile:
    """A ``.integ`` file read by element ranges, with a one-block cache.

    Parameters
    ----------
    path : Path
    n_records, n_variables : int
    counts : (n_elements,) int array
        Integration points of each element, in file order.
    groups : list of (start, stop)
        Variable ranges of the fields defined on this file (the cache keeps one
        array per range).
    cache_bytes : int
        Bound of the decoded block.
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
        self._block: _Block | None = None

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
    def read(self, group: tuple[int, int], steps: Index, rows: Index) -> np.ndarray:
        """Variables ``group`` at some steps and file rows.

        Parameters
        ----------
        group : (start, stop)
            One of the ranges given at construction.
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
        k = group[1] - group[0]
        out = np.empty((len(steps), n_rows, k))
        if not len(steps) or not n_rows:
            return out
        per_step = 4 * self.n_variables * span
        chunk = max(1, self.cache_bytes // max(per_step, 1))
        for c in range(0, len(steps), chunk):
            part = steps[c:c + chunk]
            target = out[c:c + chunk]
            block = self._block
            where = block.positions(part, first, stop) if block is not None else None
            if where is not None and group in block.arrays:
                shift = lo - int(self.offsets[block.first])
                cached = block.arrays[group]
                rows_in_block = (slice(pick.start + shift, pick.stop + shift) if isinstance(pick, slice)
                                 else pick + shift)
                target[...] = cached[where][:, rows_in_block]
                if whole and shift == 0 and span == cached.shape[1] and len(part) == len(block.steps):
                    del block.arrays[group]  # handed out whole: free it
                continue
            self._load(part, first, stop, group, target if whole else None)
            if not whole:
                target[...] = self._block.arrays[group][:, pick]
        return out

    def _load(self, steps: np.ndarray, first: int, stop: int, wanted, direct: np.ndarray | None) -> None:
        """Read elements ``first:stop`` at ``steps``; decode every field, ``wanted`` into ``direct``."""
        self._block = None  # free the previous block before allocating
        lo = int(self.offsets[first])
        span = int(self.offsets[stop]) - lo
        groups = self.groups if wanted in self.groups else self.groups + [wanted]
        arrays = {g: np.empty((len(steps), span, g[1] - g[0]), np.float32)
                  for g in groups if not (direct is not None and g == wanted)}
        targets = dict(arrays)
        if direct is not None:
            targets[wanted] = direct
        pieces = self._pieces(first, stop)
        largest = max((int(self.offsets[q] - self.offsets[p]) for p, q in pieces), default=0)
        buffer = np.empty(self.n_variables * largest, np.uint32)
        record = self.n_variables * self.n_points
        with open(self.path, "rb") as f:
            for i, step in enumerate(steps):
                for p, q in pieces:
                    a, b = int(self.offsets[p]), int(self.offsets[q])
                    raw = buffer[: self.n_variables * (b - a)]
                    _read_exact(f, 4 * (int(step) * record + self.n_variables * a), raw, self.path)
                    values = _decode(raw)
                    self._scatter(values, p, q, a - lo, i, targets)
        self._block = _Block(steps, first, stop, arrays)

    def _pieces(self, first: int, stop: int) -> list[tuple[int, int]]:
        """Element ranges of about ``_PIECE_BYTES`` covering ``first:stop``."""
        if self.uniform:
            size = max(1, _PIECE_BYTES // (4 * self.n_variables * self.uniform))
            return [(a, min(a + size, stop)) for a in range(first, stop, size)]
        bounds = [first]
        points = max(1, _PIECE_BYTES // (4 * self.n_variables))
        while bounds[-1] < stop:
            nxt = int(np.searchsorted(self.offsets, self.offsets[bounds[-1]] + points, side="right") - 1)
            bounds.append(min(stop, max(nxt, bounds[-1] + 1)))
        return list(zip(bounds[:-1], bounds[1:]))

    def _scatter(self, values: np.ndarray, p: int, q: int, row0: int, i: int, targets: dict) -> None:
        """Put one decoded piece (elements ``p:q``) into each field's array at step ``i``."""
        n_rows = int(self.offsets[q] - self.offsets[p])
        if self.uniform:
            per_element = values.reshape(q - p, self.n_variables, self.uniform)
            for (v0, v1), target in targets.items():
                rows = target[i, row0:row0 + n_rows].reshape((q - p, self.uniform, v1 - v0), copy=False)
                rows[...] = per_element[:, v0:v1, :].transpose(0, 2, 1)
            return
        counts = self.counts[p:q]
        element = np.repeat(np.arange(q - p), counts)
        point = np.arange(n_rows) - np.repeat(self.offsets[p:q] - self.offsets[p], counts)
        base = self.n_variables * (self.offsets[p:q] - self.offsets[p])[element] + point
        per_point = counts[element]
        for (v0, v1), target in targets.items():
            index = base[:, None] + np.arange(v0, v1)[None, :] * per_point[:, None]
            target[i, row0:row0 + n_rows] = values[index]


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

    def __init__(self, file: IntegFile, start: int, stop: int, file_rows: np.ndarray | None,
                 scale: np.ndarray | None, origin: str):
        self.file, self.group, self.file_rows = file, (start, stop), file_rows
        self.scale, self.origin = scale, origin
        self.shape = (file.n_records, file.n_points, stop - start)

    def read(self, steps: Index, rows: Index) -> np.ndarray:
        """Values, shape (n_steps, n_rows, n_components), float64."""
        if self.file_rows is not None:
            rows = self.file_rows[rows]
        return _scaled(self.file.read(self.group, steps, rows), self.scale)
