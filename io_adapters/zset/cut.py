"""Zset domain-decomposition files (``.cut``, ZSET_FORMAT.md §5).

- the global ``stem.cut``: ``***decomposition`` (global mesh, number of domains,
  global node and element counts) and ``***splitted <dir>`` (the folder of the
  per-domain cuts, and the global node sets);
- one ``<dir>/stem-00k.cut`` per domain (k = 1..N): local-to-global maps of
  nodes and elements (0-based global indices, local = list order of the
  domain's mesh), the same maps the other way in a block scheme, and the
  nodes shared with each neighbour.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from io_adapters.errors import InputError
from io_adapters.formats import read_text_file

_KEYWORD = re.compile(r"\*(\**)([A-Za-z_]\w*)[ \t]*([^\n]*)")  # literal prefix: fast scan


@dataclass(frozen=True)
class _Entry:
    stars: int
    keyword: str
    args: list[str]
    body: str
    line: int


#: Largest global node or element count a cut may announce (Zset numbers them with int32).
MAX_GLOBAL = 2**31 - 1
#: Largest number of subdomains a global cut may announce.
MAX_DOMAINS = 100_000


def _entries(path: Path) -> list[_Entry]:
    path, text = read_text_file(path, "a Zset .cut file")
    if "%" in text:
        text = re.sub(r"%[^\n]*", "", text)
    matches = [m for m in _KEYWORD.finditer(text) if not text[text.rfind("\n", 0, m.start()) + 1:m.start()].strip()]
    out, line, previous = [], 1, 0
    for i, m in enumerate(matches):
        line += text.count("\n", previous, m.start())
        previous = m.start()
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        out.append(_Entry(1 + len(m.group(1)), m.group(2), m.group(3).split(), text[m.end():end], line))
    return out


def _ints(path: Path, entry: _Entry, text: str) -> np.ndarray:
    if not text.strip():
        return np.zeros(0, np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        try:
            return np.fromstring(text, dtype=np.int64, sep=" ")
        except (ValueError, DeprecationWarning):
            raise InputError(f"{path}, line {entry.line}: **{entry.keyword}: expected integers") from None


def _header(path: Path, entry: _Entry, n: int) -> list[int]:
    try:
        values = [int(a) for a in entry.args[:n]]
    except ValueError:
        values = []
    if len(values) != n:
        raise InputError(f"{path}, line {entry.line}: **{entry.keyword} needs {n} integer(s) on its line, "
                         f"found {entry.args}")
    return values


def _counted(path: Path, entry: _Entry) -> np.ndarray:
    """``**keyword n`` followed by n integers."""
    (n,) = _header(path, entry, 1)
    values = _ints(path, entry, entry.body)
    if len(values) != n:
        raise InputError(f"{path}, line {entry.line}: **{entry.keyword} announces {n} values, found {len(values)}")
    return values


def _blocks(path: Path, entry: _Entry) -> np.ndarray:
    """``**x_global_to_local G default n_blocks``: fill G with default, then blocks ``count start values``."""
    size, default, n_blocks = _header(path, entry, 3)
    if not 0 <= size <= MAX_GLOBAL or n_blocks < 0:
        raise InputError(f"{path}, line {entry.line}: **{entry.keyword} announces {size} globals in {n_blocks} "
                         f"blocks (expected 0 to {MAX_GLOBAL} globals, Zset's int32 limit)")
    values = _ints(path, entry, entry.body)
    if n_blocks > len(values) // 2 + 1:
        raise InputError(f"{path}, line {entry.line}: **{entry.keyword} announces {n_blocks} blocks, but lists only "
                         f"{len(values)} values (each block takes at least 2)")
    out = np.full(size, default, dtype=np.int64)
    pos = 0
    for b in range(n_blocks):
        if pos + 2 > len(values):
            raise InputError(f"{path}, line {entry.line}: **{entry.keyword}: block {b + 1} of {n_blocks} is missing")
        count, start = int(values[pos]), int(values[pos + 1])
        if count < 0 or start < 0 or start + count > size or pos + 2 + count > len(values):
            raise InputError(f"{path}, line {entry.line}: **{entry.keyword}: block {b + 1} ({count} values from "
                             f"global index {start}) does not fit {size} globals / the values listed")
        out[start:start + count] = values[pos + 2:pos + 2 + count]
        pos += 2 + count
    if pos != len(values):
        raise InputError(f"{path}, line {entry.line}: **{entry.keyword}: {len(values) - pos} values after the "
                         f"{n_blocks} blocks")
    return out


@dataclass(frozen=True, eq=False)
class DomainCut:
    """One domain's ``.cut``.

    Attributes
    ----------
    path : Path
    index : int
        0-based domain index (its files are numbered ``index + 1``).
    mesh : Path
        The domain's mesh, resolved against the cut folder's parent.
    node_ids, element_ids : (n_local,) int arrays
        Global ids (1-based labels) in local order.
    nodes_local_to_global, elements_local_to_global : (n_local,) int arrays
        0-based global indices of the local nodes / elements (local = list order).
    nodes_global_to_local, elements_global_to_local : (n_global,) int arrays
        Local index of each global node / element, -1 when not in this domain.
    interfaces : dict[int, (k,) int array]
        Neighbour domain (0-based) -> global ids of the shared nodes.
    """

    path: Path
    index: int
    mesh: Path
    node_ids: np.ndarray
    element_ids: np.ndarray
    nodes_local_to_global: np.ndarray
    nodes_global_to_local: np.ndarray
    elements_local_to_global: np.ndarray
    elements_global_to_local: np.ndarray
    interfaces: dict[int, np.ndarray] = field(default_factory=dict)


def read_domain_cut(path: str | Path) -> DomainCut:
    """Parse one domain's ``.cut`` and check that its maps agree."""
    path = Path(path)
    found: dict[str, object] = {}
    interfaces: dict[int, np.ndarray] = {}
    index = mesh = None
    for entry in _entries(path):
        key = entry.keyword
        if key == "domain":
            (index,) = _header(path, entry, 1)
        elif key == "mesh":
            if not entry.args:
                raise InputError(f"{path}, line {entry.line}: **mesh without a file name")
            mesh = entry.args[0]
        elif key in ("elements", "nodes", "nodes_local_to_global", "elements_local_to_global"):
            found[key] = _counted(path, entry)
        elif key in ("nodes_global_to_local", "elements_global_to_local"):
            found[key] = _blocks(path, entry)
        elif key == "inter":
            neighbour, count = _header(path, entry, 2)
            ids = _ints(path, entry, entry.body)
            if len(ids) != count:
                raise InputError(f"{path}, line {entry.line}: *inter {neighbour} announces {count} nodes, "
                                 f"found {len(ids)}")
            interfaces[neighbour] = ids
    missing = [k for k in ("nodes_local_to_global", "elements_local_to_global", "nodes_global_to_local",
                           "elements_global_to_local") if k not in found]
    if index is None or missing:
        raise InputError(f"{path}: not a Zset domain .cut (missing {', '.join(missing) or '***domain'})")
    cut = DomainCut(
        path=path,
        index=index,
        mesh=path.parent.parent / mesh if mesh else Path(),
        node_ids=found.get("nodes", found["nodes_local_to_global"] + 1),
        element_ids=found.get("elements", found["elements_local_to_global"] + 1),
        nodes_local_to_global=found["nodes_local_to_global"],
        nodes_global_to_local=found["nodes_global_to_local"],
        elements_local_to_global=found["elements_local_to_global"],
        elements_global_to_local=found["elements_global_to_local"],
        interfaces=interfaces,
    )
    for what in ("nodes", "elements"):
        l2g = getattr(cut, f"{what}_local_to_global")
        g2l = getattr(cut, f"{what}_global_to_local")
        ids = getattr(cut, "node_ids" if what == "nodes" else "element_ids")
        if len(ids) != len(l2g):
            raise InputError(f"{path}: **{what} lists {len(ids)} ids but **{what}_local_to_global {len(l2g)}")
        inside = l2g[(l2g >= 0) & (l2g < len(g2l))]
        if len(inside) != len(l2g) or not np.array_equal(g2l[l2g], np.arange(len(l2g))) \
                or np.count_nonzero(g2l >= 0) != len(l2g):
            raise InputError(f"{path}: **{what}_global_to_local and **{what}_local_to_global disagree")
    return cut


@dataclass(frozen=True, eq=False)
class Decomposition:
    """The global ``stem.cut``.

    Attributes
    ----------
    path : Path
    global_mesh : Path
    n_domains, n_nodes, n_elements : int
    split_dir : Path
        Folder of the per-domain cuts.
    node_sets : dict[str, (k,) int array]
        Global node sets (ids).
    """

    path: Path
    global_mesh: Path
    n_domains: int
    n_nodes: int
    n_elements: int
    split_dir: Path
    node_sets: dict[str, np.ndarray]

    @property
    def stem(self) -> str:
        return self.path.stem

    def domain_ut(self, index: int) -> Path:
        """Result index of a domain (0-based ``index``): ``stem-00k.ut``."""
        return self.path.parent / f"{self.stem}-{index + 1:03d}.ut"

    def domain_cut(self, index: int) -> Path:
        return self.split_dir / f"{self.stem}-{index + 1:03d}.cut"


def read_decomposition(path: str | Path) -> Decomposition:
    """Parse a global ``stem.cut``."""
    path = Path(path)
    values: dict[str, object] = {}
    node_sets: dict[str, np.ndarray] = {}
    split = None
    for entry in _entries(path):
        key = entry.keyword
        if key in ("domains", "global_node_nb", "global_elem_nb"):
            (values[key],) = _header(path, entry, 1)
        elif key == "global_mesh" and entry.args:
            values[key] = entry.args[0]
        elif key == "splitted" and entry.args:
            split = entry.args[0]
        elif key == "nset" and entry.stars == 1 and entry.args:
            node_sets[entry.args[0]] = _ints(path, entry, " ".join(entry.args[1:]) + " " + entry.body)
        elif key == "domain":
            raise InputError(f"{path}: this is one domain's cut; give the global stem.cut or the .ut files")
    missing = [k for k in ("domains", "global_node_nb", "global_elem_nb") if k not in values]
    if missing:
        raise InputError(f"{path}: not a global Zset .cut (missing **{', **'.join(missing)})")
    if not 1 <= values["domains"] <= MAX_DOMAINS:
        raise InputError(f"{path}: **domains {values['domains']}: expected 1 to {MAX_DOMAINS} subdomains")
    for key in ("global_node_nb", "global_elem_nb"):
        if not 0 <= values[key] <= MAX_GLOBAL:
            raise InputError(f"{path}: **{key} {values[key]}: expected 0 to {MAX_GLOBAL} (Zset's int32 limit)")
    return Decomposition(
        path=path,
        global_mesh=path.parent / str(values.get("global_mesh", "")),
        n_domains=int(values["domains"]),
        n_nodes=int(values["global_node_nb"]),
        n_elements=int(values["global_elem_nb"]),
        split_dir=path.parent / (split or f"{path.stem}-pcuts"),
        node_sets=node_sets,
    )
