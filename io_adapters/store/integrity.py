"""Checksums of a store: what its writer recorded, checked by its readers.

A store written by this nirom carries (format version 1, optional attributes,
so that older stores still load):

- on every dataset outside ``/xdmf``: ``checksum = "crc32:<8 hex digits>"``, the
  CRC-32 of the dataset's values in C order, as stored (dtype and precision of
  the file, little-endian bytes);
- on the root: ``checksums = "crc32"`` (the store carries them), ``uuid`` (a
  random identifier, repeated in the XDMF sidecar) and ``metadata_checksum``,
  the CRC-32 of a canonical description of the file: every group and dataset
  outside ``/xdmf`` (path, shape, dtype) and every attribute (names, supports,
  components, parameters...), except the checksums themselves and ``complete``.

What is verified, and when (the cost of a check is one CRC pass, ~4 GB/s):

- at every open: the metadata checksum, and the values of the mesh, the sets
  and the times (read whole at open anyway);
- a field: whenever its values are read in full, in one request or in
  consecutive requests in file order (a conversion streams it so), the last
  request checks the sum; partial reads (a subdomain's rows, some steps) are not
  checked;
- everything: :func:`verify` (``io_adapters.store.verify``).

A store whose root says ``checksums`` but whose dataset lacks its checksum, or
whose sums differ, is refused with an InputError naming the file and the dataset.
"""

from __future__ import annotations

import json
import sys
import threading
import uuid
import zlib
from pathlib import Path

import numpy as np

from io_adapters.errors import InputError

ALGORITHM = "crc32"
#: Groups of the root that are views of other datasets (virtual datasets), not data.
VIEW_GROUPS = ("xdmf",)
_ROOT_UNCHECKED = frozenset({"complete", "metadata_checksum"})
_DATASET_UNCHECKED = frozenset({"checksum"})
_BLOCK_BYTES = 64 << 20


def _words(array: np.ndarray) -> memoryview:
    """The bytes of ``array`` in C order, little-endian (no copy when already so)."""
    a = np.ascontiguousarray(array)
    if a.dtype.byteorder == ">" or (a.dtype.byteorder == "=" and sys.byteorder == "big"):
        a = a.astype(a.dtype.newbyteorder("<"))
    return memoryview(a.reshape(-1).view(np.uint8))


class Checksum:
    """A CRC-32 fed with arrays in order."""

    def __init__(self):
        self.value = 0

    def update(self, array: np.ndarray) -> "Checksum":
        self.value = zlib.crc32(_words(array), self.value)
        return self

    def __str__(self) -> str:
        return f"{ALGORITHM}:{self.value:08x}"


def checksum_of(array: np.ndarray) -> str:
    """``"crc32:<hex>"`` of an array's values as stored."""
    return str(Checksum().update(array))


def dataset_checksum(dset) -> str:
    """Checksum of an HDF5 dataset, read in blocks along its first axis."""
    total = Checksum()
    if dset.ndim == 0:
        return str(total.update(np.asarray(dset[()])))
    n = dset.shape[0]
    row_bytes = max(1, int(np.prod(dset.shape[1:], dtype=np.int64)) * dset.dtype.itemsize)
    step = max(1, _BLOCK_BYTES // row_bytes)
    for start in range(0, n, step):
        total.update(dset[start:start + step])
    return str(total)


# ------------------------------------------------------------------ the description
def _canonical(value) -> str:
    if isinstance(value, bytes):
        return "b:" + value.hex()
    if isinstance(value, str):
        return "s:" + json.dumps(value)
    array = np.asarray(value)
    return f"{array.dtype.str}{list(array.shape)}:" + json.dumps(array.tolist(), default=repr)


def describe(f, path: Path) -> str:
    """Canonical text of the store's structure and attributes (see the module docstring)."""
    import h5py

    lines: list[str] = []

    def attributes(obj, skipped) -> None:
        for name in sorted(obj.attrs):
            if name not in skipped:
                lines.append(f"  @{name}={_canonical(obj.attrs[name])}")

    def walk(group) -> None:
        lines.append(f"G {group.name}")
        attributes(group, _ROOT_UNCHECKED if group.name == "/" else ())
        for name in sorted(group):
            if group.name == "/" and name in VIEW_GROUPS:
                continue
            link = group.get(name, getlink=True)
            where = f"{group.name.rstrip('/')}/{name}"
            if not isinstance(link, h5py.HardLink):
                raise InputError(f"{path}: '{where}' is a {type(link).__name__} (to another place or file); "
                                 "a store holds its own data")
            item = group[name]
            if isinstance(item, h5py.Group):
                walk(item)
            else:
                if item.is_virtual:
                    raise InputError(f"{path}: dataset '{where}' is virtual (maps other datasets); "
                                     "a store holds its own data")
                lines.append(f"D {item.name} {list(item.shape)} {item.dtype.str}")
                attributes(item, _DATASET_UNCHECKED)

    walk(f)
    return "\n".join(lines) + "\n"


def metadata_checksum(f, path: Path) -> str:
    return str(Checksum().update(np.frombuffer(describe(f, path).encode("utf-8"), np.uint8)))


# ------------------------------------------------------------------------ writing
def data_datasets(f) -> list:
    """Every dataset outside the view groups, in a fixed order."""
    import h5py

    found = []

    def walk(group) -> None:
        for name in sorted(group):
            if group.name == "/" and name in VIEW_GROUPS:
                continue
            item = group[name]
            if isinstance(item, h5py.Group):
                walk(item)
            else:
                found.append(item)

    walk(f)
    return found


def seal(f, path: Path, checksums: dict[str, str] | None = None) -> str:
    """Record the store's checksums, uuid and metadata checksum (the writer's last step before ``complete``).

    Parameters
    ----------
    f : h5py.File open for writing
    path : Path
        The final store, for messages.
    checksums : dict[str, str], optional
        Checksums the writer computed as it streamed (HDF5 path → ``"crc32:…"``);
        the other datasets are read back and summed here.

    Returns
    -------
    str
        The store's uuid.
    """
    from io_adapters.store.hdf5 import set_text

    checksums = checksums or {}
    for dset in data_datasets(f):
        set_text(dset.attrs, "checksum", checksums.get(dset.name) or dataset_checksum(dset))
    identifier = uuid.uuid4().hex
    set_text(f.attrs, "uuid", identifier)
    set_text(f.attrs, "checksums", ALGORITHM)
    set_text(f.attrs, "metadata_checksum", metadata_checksum(f, path))
    return identifier


# ---------------------------------------------------------------------- reading
def carries_checksums(f, path: Path) -> bool:
    """Whether the store records checksums (refusing an algorithm this nirom does not know)."""
    if "checksums" not in f.attrs:
        return False
    algorithm = f.attrs["checksums"]
    if isinstance(algorithm, bytes):
        algorithm = algorithm.decode("utf-8", "replace")
    if algorithm != ALGORITHM:
        raise InputError(f"{path}: the store's checksums use {algorithm!r}, this nirom knows {ALGORITHM!r} "
                         "(written by a newer nirom, or corrupt)")
    return True


def check_metadata(f, path: Path) -> None:
    """Compare the description of the file with the one its writer recorded."""
    compare_metadata(recorded_metadata(f, path), path)


def recorded_metadata(f, path: Path) -> tuple[str, str]:
    """(found, recorded) metadata checksums of an open store, for :func:`compare_metadata`."""
    try:
        found = metadata_checksum(f, path)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001  h5py on a damaged object header or attribute
        raise InputError(f"{path}: the store's structure cannot be read in full (h5py: {exc}): the file is "
                         "corrupt") from None
    return found, _text_attribute(f.attrs, "metadata_checksum", path, "/")


def compare_metadata(sums: tuple[str, str], path: Path) -> None:
    found, recorded = sums
    if found != recorded:
        raise InputError(
            f"{path}: the store's structure or attributes (names, components, parameters…) are not those its "
            f"writer recorded (metadata checksum {found}, recorded {recorded}): the file was modified or "
            "corrupted after it was written"
        )


def recorded_checksum(dset, path: Path) -> str:
    """The checksum a dataset carries (InputError when a store with checksums lacks it)."""
    return _text_attribute(dset.attrs, "checksum", path, dset.name)


def check_values(dataset: str, values: np.ndarray, path: Path, expected: str) -> None:
    """Refuse values (a whole dataset, as stored) whose checksum differs from the recorded one."""
    found = checksum_of(values)
    if found != expected:
        raise InputError(
            f"{path}: the values of '{dataset}' are not those its writer recorded (checksum {found}, "
            f"recorded {expected}): the file is corrupt"
        )


def _text_attribute(attrs, name: str, path: Path, where: str) -> str:
    if name not in attrs:
        raise InputError(f"{path}: '{where}' lacks its '{name}' attribute although the store records checksums "
                         "(the file was modified or corrupted after it was written)")
    value = attrs[name]
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str) or not value.startswith(f"{ALGORITHM}:"):
        raise InputError(f"{path}: attribute '{name}' of '{where}' is {value!r}, expected '{ALGORITHM}:<hex>'")
    return value


class StreamCheck:
    """Verifies a dataset read in consecutive pieces in C order (a conversion's pattern).

    Each read of a contiguous block ``(steps, rows)`` is offered with :meth:`offer`:
    a block that continues exactly where the previous one ended extends the
    running sum; any other read restarts from scratch (only a read starting at
    the beginning can begin a sum). When the sum reaches the end of the
    dataset it is compared with the recorded checksum.
    """

    def __init__(self, shape: tuple[int, int, int], expected: str, path: Path, dataset: str):
        self.shape, self.expected, self.path, self.dataset = shape, expected, path, dataset
        self.lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self.sum, self.step, self.row = None, 0, 0

    def offer(self, steps: slice, rows: slice, values: np.ndarray) -> None:
        n_t, n_rows, _ = self.shape
        with self.lock:
            whole_steps = rows.start == 0 and rows.stop == n_rows
            if self.sum is None or (steps.start, rows.start) != (self.step, self.row) or \
                    (steps.stop - steps.start > 1 and not whole_steps):
                self._reset()
                if steps.start != 0 or rows.start != 0 or (steps.stop - steps.start > 1 and not whole_steps):
                    return
                self.sum = Checksum()
            self.sum.update(values)
            if rows.stop == n_rows:
                self.step, self.row = steps.stop, 0
            else:
                self.step, self.row = steps.start, rows.stop
            if self.step >= n_t:
                found, self.sum = str(self.sum), None
                self.step = self.row = 0
                if found != self.expected:
                    raise InputError(
                        f"{self.path}: the values of '{self.dataset}' are not those its writer recorded "
                        f"(checksum {found}, recorded {self.expected}): the file is corrupt"
                    )
