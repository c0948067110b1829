"""Lazy readers of Zset's headerless big-endian float32 result files (§2.2).

- ``.node`` / ``.ctnod``: per record, per variable, all nodes:
  ``off(r, v, n) = (r·Nv + v)·Nn + n``. A field (variables ``v0:v1``) reads only
  its own values: one positional read per step when all rows are wanted, one
  per step and variable otherwise.
- ``.integ``: per record, per element, per variable, the element's ``P_e``
  points: ``off(r, e, v, q) = r·Ni·P + Ni·S_e + v·P_e + q``. The variables of a
  field are interleaved with the others, so a read covers the contiguous range
  of elements that holds the wanted rows (for every variable) and keeps it, as
  read, as a one-block cache: the other fields of the same steps and rows are
  then served without touching the file, each converting its own share.

Reads go straight into numpy buffers (``os.preadv``; never ``numpy.memmap``, so the resident memory stays bounded by what
is asked) and return float64. An ``.integ`` step is read in pieces that fit a
core's cache, each decoded from big-endian in place, scaled (engineering shears)
and checked for non-finite values while it is there; each field's transposition
and widening is then one numpy copy per element range. Pieces and copies are
shared among :mod:`io_adapters.threads`' threads. The cache holds at most
``cache_bytes`` (the steps of a request are split into chunks that fit).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from io_adapters.errors import InputError
from io_adapters.formats import file_problem
from io_adapters.simulation import Index
from io_adapters.threads import run_parts

#: Default bound of the decoded block kept by an ``.integ`` reader (bytes).
DEFAULT_CACHE_BYTES = 256 * 2**20

#: Size of the pieces an ``.integ`` step is read and decoded in (fits a core's L2 cache).
PIECE_BYTES = 2**19


def check_size(path: Path, expected_values: int, layout: str, hint: str) -> None:
    """Refuse a missing, unreadable (directory, symbolic-link loop…), truncated or oversized result file.

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
    problem = file_problem(path)
    if problem == "no such file":
        raise InputError(f"{path}: missing result file ({layout} expected); {hint}")
    if problem is not None:
        raise InputError(f"{path}: {problem}; expected the result file ({layout} float32 values)")
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


def _open_fd(path: Path) -> int:
    """A read-only descriptor of a result file (InputError when it vanished or cannot be opened)."""
    try:
        return os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise InputError(f"{path}: cannot be opened for reading ({exc.strerror or exc}); "
                         "was it removed or changed since the run was opened?") from None


def _pread_exact(fd: int, buffer: np.ndarray, offset: int, path: Path) -> None:
    """Fill ``buffer`` with the bytes at ``offset`` (positional reads: threads share ``fd``)."""
    view = memoryview(buffer).cast("B")
    done = 0
    while done < len(view):
        try:
            got = os.preadv(fd, [view[done:]], offset + done)
        except OSError as exc:
            raise InputError(f"{path}: reading {len(view)} bytes at byte {offset} failed ({exc.strerror or exc})") \
                from None
        if got <= 0:
            raise InputError(f"{path}: expected {len(view)} bytes at byte {offset}, read {done} "
                             f"(file size {os.path.getsize(path)}; did the file change since it was opened?)")
        done += got


def _decode(buffer: np.ndarray) -> np.ndarray:
    """Big-endian float32 words (C-contiguous uint32 array) into native float32, in place.

    A one-dimensional cast copy onto the same memory: numpy's byte-swapping cast
    loop is several times faster than ``ndarray.byteswap`` and, for two 1-D views
    of the same words, works element by element in place.
    """
    flat = buffer.reshape(-1)
    np.copyto(flat.view(np.float32), flat.view(">f4"))
    return buffer.view(np.float32)


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
        fd = _open_fd(self.path)
        try:
            for i, step in enumerate(steps):
                base = (int(step) * self.n_variables + start) * self.n_nodes
                if hi - lo == self.n_nodes:
                    _pread_exact(fd, buffer, 4 * base, self.path)
                else:
                    for v in range(k):
                        _pread_exact(fd, buffer[v], 4 * (base + v * self.n_nodes + lo), self.path)
                values = _decode(buffer)
                out[i] = values.T if pick is None else values[:, pick].T
        finally:
            os.close(fd)
        return out


class _RawBlock:
    """The cached part of an ``.integ`` file: some steps of a range of elements.

    ``raw[i]`` holds step ``steps[i]`` of elements ``first:stop``, all variables,
    in file order (native float32, engineering shears already doubled): each field
    takes its own share (transposition and widening to float64 in one numpy copy)
    when it is asked for.
    """

    def __init__(self, steps: np.ndarray, first: int, stop: int, raw: np.ndarray):
        self.steps, self.first, self.stop, self.raw = steps, first, stop, raw

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
    factors : (n_variables,) array, optional
        Factor of each variable, applied as it is read (2 on the shear components
        of a strain, to engineering shear); None when all are 1.
    cache_bytes : int
        Bound of the block kept between reads (the steps of a request are read in
        chunks that fit).

    A time step is read in pieces of about :data:`PIECE_BYTES`, each decoded,
    checked for non-finite values and scaled while it is in the processor's
    cache; the pieces are shared among :func:`io_adapters.threads.run_parts`'s
    threads, and so is each field's conversion.
    """

    def __init__(self, path: Path, n_records: int, n_variables: int, counts: np.ndarray,
                 factors: np.ndarray | None = None, cache_bytes: int = DEFAULT_CACHE_BYTES):
        self.path = Path(path)
        self.n_records, self.n_variables = n_records, n_variables
        counts = np.asarray(counts, dtype=np.int64)
        self.counts = counts
        self.offsets = np.concatenate([[0], np.cumsum(counts)])  # S_e, (n_elements + 1,)
        self.n_points = int(self.offsets[-1])
        self.uniform = int(counts[0]) if len(counts) and np.all(counts == counts[0]) else None
        if factors is not None:
            factors = np.asarray(factors, dtype=np.float64)
            if factors.shape != (n_variables,):
                raise InputError(f"{self.path}: {factors.shape[0]} factors for {n_variables} variables")
            if np.all(factors == 1.0):
                factors = None
        self.factors = factors
        self._factor_runs = [] if factors is None else [r for r in _runs(factors) if r[2] != 1.0]
        self.cache_bytes = int(cache_bytes)
        self._block: _RawBlock | None = None
        self._lock = threading.Lock()   # reads from several threads take turns (one block, reused memory)

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

    def _elements_per_piece(self) -> int:
        mean_points = self.n_points / max(len(self.counts), 1)
        return max(1, int(PIECE_BYTES / (4 * self.n_variables * max(mean_points, 1.0))))

    # ---------------------------------------------------------------- read
    def read(self, group: tuple[int, int], steps: Index, rows: Index) -> np.ndarray:
        """Variables ``group`` at some steps and file rows.

        Parameters
        ----------
        group : (start, stop)
            Variable range of the field.
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
        with self._lock:
            self._fill(out, group, steps, first, stop, span, None if whole else pick)
        return out

    def _fill(self, out: np.ndarray, group: tuple[int, int], steps: np.ndarray, first: int, stop: int,
              span: int, pick) -> None:
        """Steps of one field into ``out``, block by block through the cache."""
        per_step = 4 * self.n_variables * span
        chunk = max(1, self.cache_bytes // max(per_step, 1))
        for c in range(0, len(steps), chunk):
            part = steps[c:c + chunk]
            block = self._block
            if block is None or not block.holds(part, first, stop):
                self._block = None   # the next block reuses the memory of the previous one
                spare = block.raw if block is not None else None
                block = self._block = _RawBlock(part, first, stop, self._read_raw(part, first, stop, spare))
            for i in range(len(part)):
                self._convert(block.raw[i], first, stop, group, out[c + i], pick)

    def _read_raw(self, steps: np.ndarray, first: int, stop: int, spare: np.ndarray | None = None) -> np.ndarray:
        """Elements ``first:stop`` at ``steps``, all variables, native float32: (n_steps, n_values).

        ``spare`` is the previous block's array, reused when it has the same shape
        (no fresh pages to fault in at every step of a step-by-step read).
        """
        lo = int(self.offsets[first])
        n_values = self.n_variables * (int(self.offsets[stop]) - lo)
        if spare is not None and spare.shape == (len(steps), n_values):
            raw = spare.view(np.uint32)
        else:
            raw = np.empty((len(steps), n_values), np.uint32)
        record = self.n_variables * self.n_points
        per_piece = self._elements_per_piece()
        fd = _open_fd(self.path)
        try:
            for i, step in enumerate(steps):
                start = 4 * (int(step) * record + self.n_variables * lo)

                def load(a: int, b: int, values=raw[i], start=start, step=int(step)) -> None:
                    for e0 in range(first + a, first + b, per_piece):
                        self._load_piece(fd, start, values, lo, e0, min(e0 + per_piece, first + b), step)

                run_parts(load, stop - first, min_part=per_piece)
        finally:
            os.close(fd)
        if self.factors is not None and not self.uniform:
            self._scale_mixed(raw.view(np.float32), first, stop)
        return raw.view(np.float32)

    def _load_piece(self, fd: int, start: int, values: np.ndarray, lo: int, e0: int, e1: int, step: int) -> None:
        """Read, decode, scale and check elements ``e0:e1`` of one step into ``values`` (in place)."""
        a = self.n_variables * (int(self.offsets[e0]) - lo)
        b = self.n_variables * (int(self.offsets[e1]) - lo)
        _pread_exact(fd, values[a:b], start + 4 * a, self.path)
        piece = _decode(values[a:b])
        if self.factors is not None and self.uniform:
            per_element = piece.reshape(e1 - e0, self.n_variables, self.uniform)
            for v0, v1, factor in self._factor_runs:
                per_element[:, v0:v1] *= factor
        if not np.isfinite(np.add.reduce(piece)):   # one pass; NaN and Inf propagate
            self._raise_non_finite(piece, step, e0)

    def _raise_non_finite(self, values: np.ndarray, step: int, e0: int) -> None:
        """Name the first non-finite value of a piece starting at element ``e0``."""
        bad = np.flatnonzero(~np.isfinite(values))
        if not len(bad):          # the float32 sum overflowed: every value is finite
            return
        position = int(bad[0])
        starts = self.n_variables * (self.offsets[e0:] - self.offsets[e0])   # value offset of each element
        element = e0 + int(np.searchsorted(starts, position, side="right") - 1)
        variable, point = divmod(position - int(starts[element - e0]), int(self.counts[element]))
        raise InputError(f"{self.path}: non-finite value {values[position]} at time step {step}, element {element} "
                         f"(file order), integration point {point}, variable {variable} "
                         f"(row {int(self.offsets[element]) + point} of the file's integration points)")

    def _scale_mixed(self, raw: np.ndarray, first: int, stop: int) -> None:
        """Multiply the variables whose factor is not 1, in a block of elements of mixed types."""
        lo = self.offsets[first]
        counts = self.counts[first:stop]
        element = np.repeat(np.arange(stop - first), counts)
        point = np.arange(int(self.offsets[stop] - lo)) - np.repeat(self.offsets[first:stop] - lo, counts)
        base = self.n_variables * (self.offsets[first:stop] - lo)[element] + point
        for v in np.flatnonzero(self.factors != 1.0):
            raw[:, base + v * counts[element]] *= self.factors[v]

    def _convert(self, raw: np.ndarray, first: int, stop: int, group: tuple[int, int],
                 target: np.ndarray, pick) -> None:
        """One step of one field from a raw block into ``target`` (n_rows, k), float64."""
        v0, v1 = group
        n_elements = stop - first
        if self.uniform:
            per_element = raw.reshape(n_elements, self.n_variables, self.uniform)[:, v0:v1, :]
            if pick is None:   # strided passes over element ranges: transpose + widen
                source = per_element.transpose(0, 2, 1)
                destination = target.reshape(n_elements, self.uniform, v1 - v0)
                run_parts(lambda a, b: np.copyto(destination[a:b], source[a:b]), n_elements,
                          min_part=self._elements_per_piece())
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


def _runs(scale: np.ndarray) -> list[tuple[int, int, float]]:
    """Runs ``(a, b, factor)`` of consecutive components sharing a factor."""
    edges = [0, *(np.flatnonzero(np.diff(scale)) + 1).tolist(), len(scale)]
    return [(a, b, float(scale[a])) for a, b in zip(edges[:-1], edges[1:])]


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
    origin : str

    The file applies the variables' factors (engineering shears) as it reads.
    """

    dtype = np.dtype(np.float32)
    finite_checked = True    # the file checks each block it reads, once

    def __init__(self, file: IntegFile, start: int, stop: int, file_rows: np.ndarray | None, origin: str):
        self.file, self.group, self.file_rows = file, (start, stop), file_rows
        self.origin = origin
        self.shape = (file.n_records, file.n_points, stop - start)

    def read(self, steps: Index, rows: Index) -> np.ndarray:
        """Values, shape (n_steps, n_rows, n_components), float64."""
        if self.file_rows is not None:
            rows = self.file_rows[rows]
        return self.file.read(self.group, steps, rows)
