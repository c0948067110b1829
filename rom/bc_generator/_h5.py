"""HDF5 plumbing of generator files: numeric datasets and string attributes only, checked on read.

A generator file (format ``nirom-bc-generator``, version :data:`VERSION`) holds

- root attributes ``format``, ``version``, ``kind`` (``gaussian``, ``bootstrap``,
  ``wgan-gp``);
- ``layout/``: ``node_ids (n_nodes,)``, ``times (n_times,)``, attribute
  ``components`` (names joined by spaces);
- ``compression/``: the space–time POD (:mod:`rom.bc_generator.compression`);
- ``model/``: what the kind needs (see each generator).

Nothing is pickled: every dataset is a numeric array, every attribute a number or a
string; reading checks the format, the version, the kind, every shape and finiteness,
and raises :class:`InputError` naming the file and the dataset.
"""

from __future__ import annotations

import numpy as np

from io_adapters.errors import InputError
from rom import hdf5_arrays
from rom.bc_generator.layout import TraceLayout
from rom.hdf5_arrays import read_attr, where, write_array

FORMAT = "nirom-bc-generator"
VERSION = 1
KINDS = ("gaussian", "bootstrap", "wgan-gp")


def read_array(group, name: str, *, ndim: int, shape: tuple | None = None, integer: bool = False,
               dtype=None) -> np.ndarray:
    """A numeric dataset of a generator file, checked (:func:`rom.hdf5_arrays.read_array`)."""
    return hdf5_arrays.read_array(group, name, ndim=ndim, file_kind="a boundary-condition generator", shape=shape,
                                  integer=integer, dtype=dtype)


def subgroup(group, name: str):
    """An existing subgroup, or InputError."""
    if name not in group or hasattr(group[name], "dtype"):
        raise InputError(f"{where(group, name)}: group missing (is this a boundary-condition generator written "
                         "by nirom?)")
    return group[name]


# ------------------------------------------------------------------ the file header and the layout
def write_header(h5, kind: str, layout: TraceLayout) -> None:
    """Root attributes and the ``layout`` group."""
    h5.attrs["format"] = FORMAT
    h5.attrs["version"] = VERSION
    h5.attrs["kind"] = kind
    group = h5.create_group("layout")
    write_array(group, "node_ids", layout.node_ids)
    write_array(group, "times", layout.times)
    group.attrs["components"] = " ".join(layout.components)


def read_header(h5, *, kind: str | None = None) -> tuple[str, TraceLayout]:
    """``(kind, layout)`` of a generator file; refuses another format, a newer version, another kind."""
    at = where(h5)
    found = h5.attrs.get("format")
    if isinstance(found, bytes):
        found = found.decode()
    if found != FORMAT:
        raise InputError(f"{at}: not a boundary-condition generator file (format attribute {found!r}, expected "
                         f"{FORMAT!r})")
    version = read_attr(h5, "version", int)
    if version > VERSION:
        raise InputError(f"{at}: generator file version {version} is newer than this nirom reads ({VERSION})")
    found_kind = read_attr(h5, "kind", str, allowed=KINDS)
    if kind is not None and found_kind != kind:
        raise InputError(f"{at}: holds a {found_kind!r} generator, not a {kind!r} one "
                         "(rom.bc_generator.load_generator reads any kind)")
    group = subgroup(h5, "layout")
    node_ids = read_array(group, "node_ids", ndim=1, integer=True)
    times = read_array(group, "times", ndim=1, dtype=np.float64)
    components = tuple(read_attr(group, "components", str).split())
    try:
        layout = TraceLayout(node_ids, times, components)
    except InputError as exc:
        raise InputError(f"{where(group)}: {exc}") from exc
    return found_kind, layout


def check_expected(path, layout: TraceLayout, expected: TraceLayout | None) -> None:
    """Refuse a file whose layout is not the ``expected`` one, naming the file and the difference."""
    if expected is None:
        return
    difference = layout.difference(expected)
    if difference is not None:
        raise InputError(f"{path}: generator fitted for another boundary layout: {difference} "
                         "(file vs expected)")


# ------------------------------------------------------------------ pytrees as named datasets
def _key_name(key) -> str:
    for attribute in ("key", "idx", "name"):
        if hasattr(key, attribute):
            return str(getattr(key, attribute))
    return str(key)


def write_tree(group, tree, tree_util) -> None:
    """Every leaf of a pytree as a dataset named by its path (``0/mu/layer_1/w``)."""
    for path, leaf in tree_util.tree_flatten_with_path(tree)[0]:
        write_array(group, "/".join(_key_name(k) for k in path) or "leaf", np.asarray(leaf))


def read_tree(group, template, tree_util):
    """A pytree of the structure, shapes and dtypes of ``template``, read by leaf path; else InputError."""
    leaves, _ = tree_util.tree_flatten_with_path(template)
    values = []
    for path, leaf in leaves:
        name = "/".join(_key_name(k) for k in path) or "leaf"
        leaf = np.asarray(leaf)
        integer = leaf.dtype.kind in "iu"
        values.append(read_array(group, name, ndim=leaf.ndim, shape=leaf.shape, integer=integer,
                                 dtype=leaf.dtype))
    return tree_util.tree_unflatten(tree_util.tree_structure(template), values)
