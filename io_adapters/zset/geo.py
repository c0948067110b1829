"""Binary Zset meshes (``.geo``, ZSET_FORMAT.md §1.3).

Big-endian: int32 integers, float64 coordinates. Sections ``node``, ``element``,
``nset``, ``elset``, ``bset``, ``ipset``, ``return``, each after the 13-byte magic
``Z7BINARYGEOF\\0`` and a length-prefixed name. Connectivity and sets hold
0-based *ranks* (list positions), not ids; an element's rank is its position.
Fixed-size records are read with one ``numpy.frombuffer`` per group (facets:
one per run of facets with the same node count).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from io_adapters.errors import InputError
from io_adapters.formats import check_file
from io_adapters.zset.elements import ELEMENTS, FACETS, ElementType
from io_adapters.zset.meshfile import MeshFile, build_mesh_file

log = logging.getLogger(__name__)

MAGIC = b"Z7BINARYGEOF\0"
#: Most nodes a boundary facet can have (q8; a margin for unknown types, refused by name).
MAX_FACET_NODES = 9


class _Cursor:
    """Sequential big-endian reads over the file's bytes, with located errors."""

    def __init__(self, data: bytes, path: Path):
        self.data, self.path, self.pos = data, path, 0

    def fail(self, what: str):
        raise InputError(f"{self.path}: byte {self.pos}: {what} (truncated or not a Zset binary .geo?)")

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            self.fail(f"expected {n} more bytes, the file has {len(self.data) - self.pos}")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def int32(self) -> int:
        return int(np.frombuffer(self.take(4), ">i4")[0])

    def string(self) -> str:
        length = self.int32()
        return self.take(length).split(b"\0", 1)[0].decode("latin-1")

    def array(self, dtype, count: int) -> np.ndarray:
        dtype = np.dtype(dtype)
        return np.frombuffer(self.take(dtype.itemsize * count), dtype=dtype, count=count)

    def section(self, expected: str) -> None:
        if self.take(len(MAGIC)) != MAGIC:
            self.pos -= len(MAGIC)
            self.fail(f"expected the section marker {MAGIC!r} before '{expected}'")
        name = self.string()
        if name != expected:
            self.fail(f"expected section '{expected}', found '{name}'")


def read_geo(path: str | os.PathLike) -> MeshFile:
    """Read a binary ``.geo`` mesh.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    MeshFile
        Same content as :func:`io_adapters.zset.geof.read_geof` gives for the
        equivalent ``.geof``.
    """
    path = check_file(path, "a Zset .geo mesh")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    c = _Cursor(data, path)

    c.section("node")
    n_nodes, dim = c.int32(), c.int32()
    if dim not in (1, 2, 3) or n_nodes < 0:
        c.fail(f"node header says {n_nodes} nodes of dimension {dim}")
    records = c.array(np.dtype([("id", ">i4"), ("x", ">f8", (dim,))]), n_nodes)
    coords = np.zeros((n_nodes, 3))
    coords[:, :dim] = records["x"]
    node_ids = records["id"].astype(np.int64)
    bad = np.flatnonzero(~np.isfinite(coords).all(axis=1))
    if len(bad):
        k = int(bad[0])
        kind = "NaN" if np.isnan(coords[k]).any() else "an infinite value"
        c.fail(f"node {node_ids[k]} (rank {k}) has {kind} among its coordinates {coords[k, :dim].tolist()}")

    c.section("element")
    n_elements, n_groups = c.int32(), c.int32()
    room = (len(c.data) - c.pos) // 12     # an element takes at least 12 bytes (id, rank, one node)
    if not 0 <= n_elements <= room or n_groups < 0:
        c.fail(f"element header announces {n_elements} elements in {n_groups} groups; the rest of the file "
               f"({len(c.data) - c.pos} bytes) holds at most {room}")
    element_ids = np.zeros(n_elements, np.int64)
    type_codes = np.full(n_elements, -1, np.int64)
    kinds: list[ElementType] = []
    connectivity: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
    for _ in range(n_groups):
        count, name, n_per = c.int32(), c.string(), c.int32()
        if count < 0:
            c.fail(f"element group '{name}' announces {count} elements")
        kind = ELEMENTS.get(name)
        if kind is None:
            c.fail(f"unknown element type '{name}'")
        if kind.n_nodes != n_per:
            c.fail(f"element type {name} has {kind.n_nodes} nodes, the file says {n_per}")
        table = c.array(">i4", count * (2 + n_per)).reshape(count, 2 + n_per).astype(np.int64)
        ranks = table[:, 1]
        if count and (ranks.min() < 0 or ranks.max() >= n_elements):
            bad = ranks[(ranks < 0) | (ranks >= n_elements)][0]
            c.fail(f"element rank {bad} out of range (there are {n_elements} elements)")
        listed = type_codes[ranks] >= 0
        if listed.any() or len(np.unique(ranks)) != len(ranks):
            again = ranks[listed][0] if listed.any() else np.flatnonzero(np.bincount(ranks) > 1)[0]
            c.fail(f"element rank {again} is listed twice")
        if kind not in kinds:
            kinds.append(kind)
        code = kinds.index(kind)
        element_ids[ranks] = table[:, 0]
        type_codes[ranks] = code
        connectivity.setdefault(code, []).append((ranks, table[:, 2:]))
    if np.any(type_codes < 0):
        c.fail(f"element section lists fewer elements than the {n_elements} announced")
    # file order is rank order; put each type's rows in increasing rank
    conn = {}
    for code, parts in connectivity.items():
        ranks = np.concatenate([r for r, _ in parts])
        rows = np.concatenate([t for _, t in parts])
        conn[code] = rows[np.argsort(ranks, kind="stable")]
    _check_ranks(c, np.concatenate(list(conn.values()), axis=None) if conn else np.zeros(0, np.int64),
                 n_nodes, "element connectivity", "node")

    # the mesh's cells take the order of first appearance in rank order
    order = _renumber_codes(type_codes)
    kinds = [kinds[k] for k in order]
    remap = np.empty(len(order), np.int64)
    remap[order] = np.arange(len(order))
    type_codes = remap[type_codes] if n_elements else type_codes
    conn = {int(remap[k]): v for k, v in conn.items()}

    c.section("nset")
    node_sets = _sets(c, n_nodes, "node")
    c.section("elset")
    element_sets = _sets(c, n_elements, "element")
    c.section("bset")
    facet_sets = _bsets(c, n_nodes)
    c.section("ipset")
    n_ipsets = c.int32()
    if n_ipsets:
        log.warning("%s: %d ipsets ignored (their layout is not documented)", path, n_ipsets)
    else:
        c.section("return")
        if c.data[c.pos:c.pos + len(MAGIC)] != MAGIC:
            c.fail(f"the closing section marker {MAGIC!r} is missing or damaged (the file was cut?)")

    return build_mesh_file(
        path,
        node_ids=node_ids,
        coords=coords,
        dim=dim,
        element_ids=element_ids,
        kinds=kinds,
        type_codes=type_codes,
        connectivity=conn,
        node_sets=node_sets,
        element_sets=element_sets,
        facet_sets=facet_sets,
    )


def _renumber_codes(codes: np.ndarray) -> list[int]:
    if not len(codes):
        return []
    present, first = np.unique(codes, return_index=True)
    return [int(k) for k in present[np.argsort(first)]]


def _check_ranks(c: _Cursor, ranks: np.ndarray, size: int, what: str, kind: str) -> None:
    if ranks.size and (ranks.min() < 0 or ranks.max() >= size):
        bad = ranks[(ranks < 0) | (ranks >= size)].flat[0]
        c.fail(f"{what} refers to {kind} rank {bad}, but there are {size} {kind}s")


def _sets(c: _Cursor, size: int, kind: str) -> dict[str, np.ndarray]:
    sets = {}
    for _ in range(c.int32()):
        name = c.string()
        ranks = c.array(">i4", c.int32()).astype(np.int64)
        _check_ranks(c, ranks, size, f"set '{name}'", kind)
        sets[name] = ranks if name not in sets else np.concatenate([sets[name], ranks])
    return sets


def _bsets(c: _Cursor, n_nodes: int) -> dict[str, list[tuple[ElementType, np.ndarray]]]:
    """Boundary sets: per facet ``int32 nn | nn int32 ranks | 5-byte type``, in runs of equal nn."""
    sets: dict[str, list[tuple[ElementType, np.ndarray]]] = {}
    for _ in range(c.int32()):
        name, kind_name, n_facets = c.string(), c.string(), c.int32()
        if kind_name not in ("faset", "liset"):
            log.debug("%s: bset %s of kind %s", c.path, name, kind_name)
        parts = sets.setdefault(name, [])
        done = 0
        while done < n_facets:
            nn = int(np.frombuffer(c.data, ">i4", count=1, offset=c.pos)[0]) if c.pos + 4 <= len(c.data) else -1
            if not 0 < nn <= MAX_FACET_NODES:
                c.fail(f"bset '{name}': facet {done} announces {nn} nodes (facets have 2 to {MAX_FACET_NODES})")
            record = np.dtype([("nn", ">i4"), ("nodes", ">i4", (nn,)), ("type", "u1", (5,))])
            available = min(n_facets - done, (len(c.data) - c.pos) // record.itemsize)
            if available <= 0:
                c.fail(f"bset '{name}': facet {done} is cut short")
            run = np.frombuffer(c.data, record, count=available, offset=c.pos)
            same = np.flatnonzero(run["nn"] != nn)
            run = run[: same[0]] if len(same) else run
            c.pos += len(run) * record.itemsize
            done += len(run)
            types = _type_names(run["type"])
            for facet_type in _in_order(types):
                kind = FACETS.get((facet_type.decode("latin-1"), nn))
                if kind is None:
                    c.fail(f"bset '{name}': unknown facet type '{facet_type.decode('latin-1')}' with {nn} nodes")
                ranks = run["nodes"][types == facet_type].astype(np.int64)
                _check_ranks(c, ranks, n_nodes, f"bset '{name}'", "node")
                parts.append((kind, ranks))
    return sets


def _type_names(field: np.ndarray) -> np.ndarray:
    """NUL-terminated names of a (n, 5) byte field, garbage after the NUL removed, as bytes."""
    chars = np.array(field, dtype=np.uint8)
    after_nul = np.cumsum(chars == 0, axis=1) > 0
    chars[after_nul] = 0
    return np.ascontiguousarray(chars).view("S5").ravel()


def _in_order(values: np.ndarray) -> list:
    _, first = np.unique(values, return_index=True)
    return [values[i] for i in np.sort(first)]
