"""Checked numeric datasets and scalar attributes in HDF5 (files that must never hold a pickle).

The learned arrays of nirom's small model files (ROM-net classifiers, boundary-condition
generators) are numeric datasets and scalar attributes only; reading one checks its
dtype, rank, shape and finiteness and raises :class:`InputError` naming
``file:/group/name`` and what was expected. ``file_kind`` (e.g. ``"a ROM-net
classifier"``) completes the message of a missing dataset.
"""

from __future__ import annotations

import numpy as np

from io_adapters.errors import InputError

__all__ = ["read_array", "read_attr", "where", "write_array"]


def where(group, name: str = "") -> str:
    """``file:/group/name`` for messages."""
    try:
        filename = group.file.filename
    except (AttributeError, ValueError):
        filename = "<hdf5>"
    path = group.name.rstrip("/") + "/" + name if name else group.name
    return f"{filename}:{path}"


def write_array(group, name: str, values) -> None:
    """A numeric dataset (refuses anything else: no object or opaque data ever reaches a file)."""
    array = np.asarray(values)
    if array.dtype.kind not in "fiub":
        raise TypeError(f"{name}: only numeric arrays are written, found dtype {array.dtype}")
    group.create_dataset(name, data=array)


def _shape_text(shape: tuple) -> str:
    return "(" + ", ".join("·" if s is None else str(s) for s in shape) + ")"


def read_array(group, name: str, *, ndim: int, file_kind: str, shape: tuple | None = None, integer: bool = False,
               dtype=None, kinds: str = "fiub", positive: bool = False) -> np.ndarray:
    """A numeric dataset of rank ``ndim`` and (partial, ``None`` = any) ``shape``, finite; else InputError.

    Parameters
    ----------
    group : h5py.Group
    name : str
    ndim : int
    file_kind : str
        What the file should be, for the message of a missing dataset.
    shape : tuple of int or None, optional
    integer : bool
        Integers only (returned as int64).
    dtype : numpy dtype, optional
        Cast to it; otherwise reals keep their precision and other numbers become float64.
    kinds : str
        The dtype kinds accepted when ``integer`` is False.
    positive : bool
        Refuse values ≤ 0.
    """
    at = where(group, name)
    if name not in group:
        raise InputError(f"{at}: dataset missing (is this {file_kind} written by nirom?)")
    item = group[name]
    if not hasattr(item, "dtype"):
        raise InputError(f"{at}: expected a dataset, found a group")
    if item.dtype.kind not in ("iu" if integer else kinds):
        raise InputError(f"{at}: expected {'integers' if integer else 'numbers'}, found dtype {item.dtype}")
    values = np.asarray(item[()])
    if dtype is not None:
        values = values.astype(dtype)
    elif integer:
        values = values.astype(np.int64)
    elif values.dtype.kind != "f":
        values = values.astype(np.float64)
    if values.ndim != ndim:
        raise InputError(f"{at}: expected {ndim} dimension(s), found shape {values.shape}")
    if shape is not None:
        for axis, (want, have) in enumerate(zip(shape, values.shape)):
            if want is not None and want != have:
                raise InputError(f"{at}: expected shape {_shape_text(shape)}, found {values.shape} (axis {axis})")
    if values.dtype.kind == "f" and not np.all(np.isfinite(values)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(values))[0])
        raise InputError(f"{at}: non-finite value at index {bad}")
    if positive and np.any(values <= 0):
        raise InputError(f"{at}: expected positive values, found {values.min()}")
    return values


def read_attr(group, name: str, kind: type, *, allowed: tuple | None = None):
    """A scalar attribute of ``kind`` (``str``, ``int``, ``float``); else InputError."""
    at = where(group)
    if name not in group.attrs:
        raise InputError(f"{at}: attribute '{name}' missing")
    value = group.attrs[name]
    if kind is str:
        if isinstance(value, bytes):
            value = value.decode()
        if not isinstance(value, str):
            raise InputError(f"{at}: attribute '{name}' should be a string, found {type(value).__name__}")
    else:
        array = np.asarray(value)
        ok = array.shape == () and array.dtype.kind in ("iu" if kind is int else "fiu")
        if not ok:
            raise InputError(f"{at}: attribute '{name}' should be a{'n integer' if kind is int else ' number'}, "
                             f"found {value!r}")
        value = kind(array)
    if allowed is not None and value not in allowed:
        raise InputError(f"{at}: attribute '{name}' is {value!r}, expected one of {list(allowed)}")
    return value
