"""ASCII Zset meshes (``.geof``): reader and writer (ZSET_FORMAT.md §1.1).

Parsing is vectorised: each section is turned into numbers by ``numpy`` in one
call (element and facet type names are first replaced by negative markers), so
a mesh of millions of elements reads without a Python loop over its lines.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from pathlib import Path

import numpy as np

from io_adapters.atomic import atomic_path
from io_adapters.errors import InputError
from io_adapters.formats import read_text_file
from io_adapters.mesh import CELL_DIMENSION, Mesh
from io_adapters.zset.elements import ELEMENTS, FACET_NAME, FACET_NAMES, FACETS, ZSET_NAME, to_zset_order
from io_adapters.zset.meshfile import IdIndex, MeshFile, build_mesh_file

log = logging.getLogger(__name__)

_KEYWORD = re.compile(r"\*\*(\**)([A-Za-z_]\w*)[ \t]*([^\n]*)")  # a literal prefix: fast scan
_COMMENT = re.compile(r"[%#][^\n]*")
_NAME_TOKEN = re.compile(r"(?<!\S)[A-Za-z_][^\s]*")
_WORD = re.compile(r"[A-Za-z_]\S*")  # type names (element and facet sections hold integers otherwise)


class _Section:
    """One ``**keyword`` and the text up to the next keyword."""

    def __init__(self, text: str, match: re.Match, end: int, line: int):
        self.stars = 2 + len(match.group(1))
        self.keyword = match.group(2)
        self.args = match.group(3).split()
        self.body = text[match.end():end]
        self.line = line  # 1-based line of the keyword

    def body_line(self, offset: int) -> int:
        """1-based file line of a character offset inside the body."""
        return self.line + self.body.count("\n", 0, offset)


def _sections(text: str) -> list[_Section]:
    matches = [m for m in _KEYWORD.finditer(text) if _starts_line(text, m.start())]
    sections, line, previous = [], 1, 0
    for i, m in enumerate(matches):
        line += text.count("\n", previous, m.start())
        previous = m.start()
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        sections.append(_Section(text, m, end, line))
    return sections


def _starts_line(text: str, position: int) -> bool:
    """Whether only blanks precede ``position`` on its line."""
    start = text.rfind("\n", 0, position) + 1
    return not text[start:position].strip()


def _numbers(text: str, dtype, path: Path, section: _Section) -> np.ndarray:
    """All whitespace-separated numbers of ``text`` (one numpy call)."""
    if not text.strip():
        return np.zeros(0, dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        try:
            return np.fromstring(text, dtype=dtype, sep=" ")
        except (ValueError, DeprecationWarning):
            bad = next((t for t in text.split() if not _parses(t, dtype)), "?")
            offset = text.find(bad)
            raise InputError(
                f"{path}, line {section.body_line(offset)}: cannot read '{bad}' as a number in "
                f"**{section.keyword} (started line {section.line})"
            ) from None


def _parses(token: str, dtype) -> bool:
    try:
        (int if np.dtype(dtype).kind == "i" else float)(token)
        return True
    except ValueError:
        return False


def _typed_records(section: _Section, path: Path, known, what: str):
    """Records ``[prefix] type n1 ... nk`` of a section, vectorised.

    Returns
    -------
    names : list[str]
        The distinct type names, in order of first use.
    codes : (n_records,) int array
        Index into ``names`` of each record.
    starts : (n_records,) int array
        Position of each record's type marker in ``values``.
    values : (n_values,) int array
        Every number of the section, type names replaced by ``-(code + 1)``.
    """
    body = section.body
    names = list(dict.fromkeys(_WORD.findall(body)))
    for name in names:
        if not known(name):
            exact = re.search(rf"(?<!\S){re.escape(name)}(?!\S)", body)
            offset = exact.start() if exact else body.find(name)
            raise InputError(
                f"{path}, line {section.body_line(offset)}: unknown {what} type '{name}' in **{section.keyword}"
            )
    coded = body
    for code, name in enumerate(names):  # the usual spacing first: plain replacements are fast
        coded = coded.replace(f" {name} ", f" {-(code + 1)} ").replace(f"\n{name} ", f"\n{-(code + 1)} ")
    if _WORD.search(coded):  # other whitespace (tabs...): exact token matches
        coded = body
        for code, name in enumerate(names):
            coded = re.sub(rf"(?<!\S){re.escape(name)}(?!\S)", f" {-(code + 1)} ", coded)
    values = _numbers(coded, np.int64, path, section)
    starts = np.flatnonzero(values < 0)
    codes = -values[starts] - 1
    stray = np.flatnonzero(codes >= len(names))
    if len(stray):
        k = int(starts[stray[0]])
        raise InputError(f"{path}, line {section.line}: **{section.keyword} holds the negative number {values[k]}; "
                         f"{what} records hold positive ids (and one type name)")
    return names, codes, starts, values


def _record_nodes(starts: np.ndarray, values: np.ndarray, prefix: int) -> np.ndarray:
    """Node count of each record: the values between its type marker and the next record,
    which starts ``prefix`` values before its own marker (1 for an element id, 0 for a facet)."""
    ends = np.append(starts[1:] - prefix, len(values))
    return ends - starts - 1


def read_geof(path: str | os.PathLike) -> MeshFile:
    """Read an ASCII ``.geof`` mesh.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    MeshFile
        The :class:`Mesh` (meshio node order, cells in type blocks, ``point_ids``
        and ``cell_ids`` = Zset ids, sets by position) and the file order.

    Raises
    ------
    InputError
        Naming the file and line: counts that disagree with the content,
        unknown types, undefined ids, NaN or infinite coordinates, NUL bytes, a
        file without its closing ``***return`` (a file cut at a line boundary
        would otherwise lose its last sets without a word). Text after
        ``***return`` is ignored, as Zset does.
    """
    path, text = read_text_file(path, "a Zset .geof mesh", nul="a .geof mesh is text (a binary .geo named .geof, "
                                "or a file overwritten by zeros?)")
    if "%" in text or "#" in text:
        text = _COMMENT.sub("", text)
    node_ids = coords = None
    dim = 3
    elements = None
    node_sets: dict[str, list[tuple[np.ndarray, _Section]]] = {}
    element_sets: dict[str, list[tuple[np.ndarray, _Section]]] = {}
    facet_sets: dict[str, list] = {}
    sections = _sections(text)
    closing = next((k for k, s in enumerate(sections) if s.stars == 3 and s.keyword == "return"), None)
    if closing is None:
        line = text.count("\n") + 1
        raise InputError(f"{path}, line {line}: the mesh is not closed by ***return (Zset ends every .geof with it): "
                         "the file was cut, and its last sets or elements may be missing")
    for section in sections[:closing]:
        key = section.keyword
        if section.stars == 3:
            continue
        if key == "node":
            node_ids, coords, dim = _parse_nodes(section, path)
        elif key == "element":
            elements = section
        elif key in ("nset", "elset", "faset", "liset"):
            if not section.args:
                raise InputError(f"{path}, line {section.line}: **{key} without a set name")
            name = section.args[0]
            if key in ("faset", "liset"):
                facet_sets.setdefault(name, []).append(section)
            elif key == "nset":
                node_sets.setdefault(name, []).append((_numbers(section.body, np.int64, path, section), section))
            else:
                element_sets.setdefault(name, []).append((_numbers(section.body, np.int64, path, section), section))
        else:
            log.debug("%s, line %d: skipping **%s", path, section.line, key)
    if node_ids is None:
        raise InputError(f"{path}: no **node section (is this a Zset .geof mesh?)")
    nodes = IdIndex(node_ids, "node", path)
    element_ids, kinds, type_codes, connectivity = _parse_elements(elements, path, nodes)
    element_index = IdIndex(element_ids, "element", path)

    def positions(index: IdIndex, name: str, parts, kind: str) -> np.ndarray:
        out = [index.positions(ids, f"**{kind} {name} (line {sec.line})") for ids, sec in parts]
        return _unique_in_order(np.concatenate(out)) if len(out) > 1 else out[0]

    return build_mesh_file(
        path,
        node_ids=node_ids,
        coords=coords,
        dim=dim,
        element_ids=element_ids,
        kinds=kinds,
        type_codes=type_codes,
        connectivity=connectivity,
        node_sets={name: positions(nodes, name, parts, "nset") for name, parts in node_sets.items()},
        element_sets={name: positions(element_index, name, parts, "elset") for name, parts in element_sets.items()},
        facet_sets={name: [p for s in sections for p in _parse_facets(s, path, nodes)]
                    for name, sections in facet_sets.items()},
    )


def _unique_in_order(values: np.ndarray) -> np.ndarray:
    _, first = np.unique(values, return_index=True)
    return values[np.sort(first)]


def _parse_nodes(section: _Section, path: Path):
    values = _numbers(section.body, np.float64, path, section)
    if len(values) < 2:
        raise InputError(f"{path}, line {section.line}: **node needs a header line 'n_nodes dim'")
    if not (np.isfinite(values[:2]).all() and np.all(values[:2] == np.round(values[:2]))):
        raise InputError(f"{path}, line {section.line}: **node header '{values[0]:g} {values[1]:g}' must be two "
                         "integers 'n_nodes dim'")
    n, dim = int(values[0]), int(values[1])
    if dim not in (1, 2, 3) or n < 0:
        raise InputError(f"{path}, line {section.line}: **node header says {n} nodes of dimension {dim}")
    data = values[2:]
    if len(data) != n * (1 + dim):
        raise InputError(
            f"{path}, line {section.line}: **node announces {n} nodes of dimension {dim} "
            f"({n * (1 + dim)} numbers), found {len(data)} numbers"
        )
    data = data.reshape(n, 1 + dim)
    if not np.isfinite(data[:, 0]).all() or np.abs(data[:, 0]).max(initial=0) >= 2**63:
        raise InputError(f"{path}, line {section.line}: node ids must be integers")
    ids = data[:, 0].astype(np.int64)
    if not np.array_equal(ids, data[:, 0]):
        raise InputError(f"{path}, line {section.line}: node ids must be integers")
    bad = np.flatnonzero(~np.isfinite(data[:, 1:]).all(axis=1))
    if len(bad):
        k = int(bad[0])
        kind = "NaN" if np.isnan(data[k, 1:]).any() else "an infinite value"
        raise InputError(f"{path}, line {section.line + 1 + k}: node {ids[k]} has {kind} among its coordinates "
                         f"{' '.join(f'{x:g}' for x in data[k, 1:])}")
    coords = np.zeros((n, 3))
    coords[:, :dim] = data[:, 1:]
    return ids, coords, dim


def _parse_elements(section: _Section | None, path: Path, nodes: IdIndex):
    if section is None:
        return np.zeros(0, np.int64), [], np.zeros(0, np.int64), {}
    names, codes, starts, values = _typed_records(section, path, lambda name: name in ELEMENTS, "element")
    count = int(values[0]) if len(values) else -1
    if len(starts) != count or (count and starts[0] != 2):
        raise InputError(
            f"{path}, line {section.line}: **element announces {max(count, 0)} elements, found {len(starts)} "
            "element lines ('id type node ids...')"
        )
    kinds = [ELEMENTS[name] for name in names]
    n_nodes = _record_nodes(starts, values, 1)
    expected = np.array([k.n_nodes for k in kinds], dtype=np.int64)[codes] if count else n_nodes
    wrong = np.flatnonzero(n_nodes != expected)
    if len(wrong):
        k = int(wrong[0])
        raise InputError(
            f"{path}, line {_line_of_record(section, k)}: element {values[starts[k] - 1]} of type "
            f"{kinds[codes[k]].name} has {n_nodes[k]} nodes, expected {expected[k]}"
        )
    element_ids = values[starts - 1]
    connectivity = {}
    for code, kind in enumerate(kinds):
        records = np.flatnonzero(codes == code)
        ids = values[starts[records][:, None] + 1 + np.arange(kind.n_nodes)[None, :]]
        try:
            connectivity[code] = nodes.positions(ids, "**element").reshape(ids.shape)
        except InputError:
            unknown = ~np.isin(ids, nodes.ids)
            k = int(records[np.flatnonzero(unknown.any(axis=1))[0]])
            raise InputError(
                f"{path}, line {_line_of_record(section, k)}: element {values[starts[k] - 1]} refers to node "
                f"id {ids[unknown].flat[0]}, which **node does not define"
            ) from None
    return element_ids, kinds, codes, connectivity


def _line_of_record(section: _Section, k: int) -> int:
    """1-based file line of the k-th record line of a section (error path only)."""
    lines = section.body.split("\n")
    seen = -1
    for i, line in enumerate(lines[1:], start=1):
        if _NAME_TOKEN.search(line):
            seen += 1
            if seen == k:
                return section.line + i
    return section.line


def _parse_facets(section: _Section, path: Path, nodes: IdIndex):
    """Facets of a **faset / **liset in listing order, grouped by type."""
    names, codes, starts, values = _typed_records(section, path, lambda name: name in FACET_NAMES, "facet")
    if len(values) and (not len(starts) or starts[0] != 0):
        raise InputError(f"{path}, line {section.line}: **{section.keyword} {section.args[0]} must list one "
                         "facet per line: type then node ids")
    n_nodes = _record_nodes(starts, values, 0)
    parts = []
    pairs = np.stack([codes, n_nodes], axis=1) if len(codes) else np.zeros((0, 2), np.int64)
    for code, count in np.unique(pairs, axis=0):
        kind = FACETS.get((names[code], int(count)))
        if kind is None:
            raise InputError(
                f"{path}, line {section.line}: **{section.keyword} {section.args[0]} has a '{names[code]}' facet "
                f"with {count} nodes (known: t3, t6, q4, q8, line/l2d2 with 2 nodes, quad with 3)"
            )
    # keep the listing order inside each type; types in order of first use
    keys = codes * (n_nodes.max() + 1 if len(n_nodes) else 1) + n_nodes
    _, first = np.unique(keys, return_index=True)
    for k in np.sort(first):
        code, count = int(codes[k]), int(n_nodes[k])
        records = starts[(codes == code) & (n_nodes == count)]
        ids = values[records[:, None] + 1 + np.arange(count)[None, :]]
        where = f"**{section.keyword} {section.args[0]} (line {section.line})"
        parts.append((FACETS[(names[code], count)], nodes.positions(ids, where).reshape(ids.shape)))
    return parts


# ---------------------------------------------------------------- writer


def _valid_ids(ids: np.ndarray | None, n: int) -> np.ndarray:
    """The mesh's ids when they can be Zset labels (positive, unique), else 1..n."""
    if ids is not None and len(ids) == n and (n == 0 or (ids.min() >= 1 and len(np.unique(ids)) == n)):
        return np.asarray(ids, dtype=np.int64)
    return np.arange(1, n + 1, dtype=np.int64)


def _rows(fmt: str, array: np.ndarray, chunk: int = 100_000):
    """Yield ``fmt % row`` for each row of a 2D array, formatted in large chunks."""
    for start in range(0, len(array), chunk):
        block = array[start:start + chunk]
        yield (fmt * len(block)) % tuple(block.ravel().tolist())


def _id_lines(ids: np.ndarray, per_line: int = 10):
    full = len(ids) // per_line * per_line
    yield from _rows(" %d" * per_line + "\n", ids[:full].reshape(-1, per_line))
    if full < len(ids):
        yield " " + " ".join(str(i) for i in ids[full:].tolist()) + "\n"


def write_geof(mesh: Mesh, path: str | os.PathLike) -> Path:
    """Write a mesh as an ASCII Zset ``.geof``, atomically.

    Node and element ids are the mesh's ``point_ids``/``cell_ids`` when they are
    positive and unique, else 1..n. Cells are written in the mesh's cell order,
    in Zset node order (inverse of the reader's permutation), with the full
    integration element names (``c3d20``, not ``c3d20r``). Node sets become
    ``**nset``, cell sets ``**elset``, face sets ``**faset`` (faces) or
    ``**liset`` (edges), listing order kept.

    Parameters
    ----------
    mesh : Mesh
    path : path-like

    Returns
    -------
    Path
        The written file.
    """
    path = Path(path)
    unknown = [t for t in mesh.cells if t not in ZSET_NAME]
    if unknown:
        raise InputError(f"{path}: Zset has no element for meshio cell type(s) {', '.join(unknown)}")
    node_ids = _valid_ids(mesh.point_ids, mesh.n_nodes)
    cell_ids = _valid_ids(mesh.cell_ids, mesh.n_cells)
    dim = mesh.dim if mesh.dim in (2, 3) else 3
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        f.write(f"***geometry\n**node\n{mesh.n_nodes} {dim}\n")
        table = np.column_stack([node_ids.astype(np.float64), mesh.points[:, :dim]])
        for text in _rows("%d" + " %.16e" * dim + "\n", table):
            f.write(text)
        f.write(f"**element\n{mesh.n_cells}\n")
        start = 0
        for cell_type, conn in mesh.cells.items():
            ids = node_ids[to_zset_order(conn, cell_type)]
            rows = np.column_stack([cell_ids[start:start + len(conn)], ids])
            for text in _rows(f"%d {ZSET_NAME[cell_type]}" + " %d" * conn.shape[1] + "\n", rows):
                f.write(text)
            start += len(conn)
        f.write("***group\n")
        for name, nodes in mesh.node_sets.items():
            f.write(f"**nset {name}\n")
            f.writelines(_id_lines(node_ids[nodes]))
        for name, cells in mesh.cell_sets.items():
            f.write(f"**elset {name}\n")
            f.writelines(_id_lines(cell_ids[cells]))
        for name, facets in mesh.face_sets.items():
            if not facets:  # an empty set stays, as Zset writes it
                f.write(f"**{'faset' if dim == 3 else 'liset'} {name}\n")
            for keyword, wanted in (("faset", 2), ("liset", 1)):
                blocks = {t: c for t, c in facets.items() if CELL_DIMENSION[t] == wanted}
                if not blocks:
                    continue
                f.write(f"**{keyword} {name}\n")
                for facet_type, conn in blocks.items():
                    if facet_type not in FACET_NAME:
                        raise InputError(f"{path}: face set '{name}' has '{facet_type}' facets, which Zset cannot list")
                    ids = node_ids[to_zset_order(conn, facet_type, facet=True)]
                    f.writelines(_rows(f"{FACET_NAME[facet_type]}" + " %d" * conn.shape[1] + "\n", ids))
        f.write("***return\n")
    return path
