"""Zset decks of parallel runs whose data files are split per subdomain (ZSET_FORMAT.md §5).

The shared parallel example (tests/data/zset/UtParExample: cube.geof, c3d8, 343
nodes, split in two along x) is copied, a face set ``y0`` spanning both
subdomains is added to its meshes (the subdomain copies list their facets in
their own order with rotated corners), global data files are written, then
split the way the mesher does: per-facet values through each subdomain's
listing of the face set, nodal values through ``nodes_local_to_global``. The
splitting here reads the files' text, independently of io_adapters.zset.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from io_adapters import read_problem
from io_adapters.errors import ConfigError

PAR = Path(__file__).parent / "data" / "zset" / "UtParExample"
ELAS = Path(__file__).parent / "data" / "problems" / "elas"
DOMAINS = (1, 2)
HEX_FACES = ((0, 1, 5, 4), (1, 2, 6, 5), (2, 3, 7, 6), (3, 0, 4, 7), (0, 3, 2, 1), (4, 5, 6, 7))

DECK = """\
****calcul
 ***mesh **file cube.geof
 ***resolution newton
   *time 10.
   *increment 2
 ***bc
  **impose_nodal_dof
   x0 U1 0.
  **pressure
   x1 file pressure.node
   y0 file side.node
   x0 -5.
 ***parameter
  **file temperature
   *node
   *rec_size 343
   *cycle_conversion 0. 20. 2.
   function 0.0+cycle*10.; file temperature1.node 1
   function 5.0+cycle*10.; file temperature1.node 2
   function 10.0+cycle*10.; file temperature2.node 1
 ***material
  *file elas
****return
"""


# ------------------------------------------------------- the files, as text
def geof_nodes(text: str) -> tuple[np.ndarray, np.ndarray]:
    """Node ids and coordinates of a ``.geof``, in listing order."""
    lines = text.splitlines()
    start = lines.index("**node")
    n = int(lines[start + 1].split()[0])
    rows = np.array([line.split() for line in lines[start + 2:start + 2 + n]], dtype=float)
    return rows[:, 0].astype(np.int64), rows[:, 1:]


def geof_elements(text: str) -> list[list[int]]:
    lines = text.splitlines()
    start = lines.index("**element")
    n = int(lines[start + 1])
    return [[int(v) for v in line.split()[2:]] for line in lines[start + 2:start + 2 + n]]


def geof_facets(text: str, name: str) -> list[tuple[int, ...]]:
    """Facets (node ids) of a ``**faset``, in listing order."""
    lines = text.splitlines()
    out = []
    for line in lines[lines.index(f"**faset {name}") + 1:]:
        if line.strip().startswith("*"):
            break
        if line.strip():
            out.append(tuple(int(v) for v in line.split()[1:]))
    return out


def cut_values(path: Path, key: str) -> np.ndarray:
    """``**key n`` and its n integers."""
    tokens = path.read_text().split()
    i = tokens.index(key)
    return np.array(tokens[i + 2:i + 2 + int(tokens[i + 1])], dtype=np.int64)


def y0_facets(text: str) -> list[tuple[int, ...]]:
    """The faces at y = 0 of a mesh's c3d8 elements, in element order."""
    ids, xyz = geof_nodes(text)
    on_plane = dict(zip(ids.tolist(), xyz[:, 1] == 0.0))
    out = []
    for element in geof_elements(text):
        for face in HEX_FACES:
            nodes = tuple(element[i] for i in face)
            if all(on_plane[n] for n in nodes):
                out.append(nodes)
    return out


def add_faset(path: Path, name: str, facets) -> None:
    text = path.read_text()
    head, tail = text.rsplit("***return", 1)
    lines = "".join("q4  " + " ".join(map(str, f)) + "\n" for f in facets)
    path.write_text(f"{head}**faset {name}\n{lines}\n***return{tail}")


def split_facets(folder: Path, name: str, global_file: str) -> None:
    """Write ``stem-00k.node``: each subdomain's facets of ``name``, in its listing order."""
    global_facets = [frozenset(f) for f in geof_facets((folder / "cube.geof").read_text(), name)]
    values = np.fromfile(folder / global_file, ">f4")
    stem = Path(global_file).stem
    for k in DOMAINS:
        local = geof_facets((folder / f"cube-pmeshes/cube-{k:03d}.geof").read_text(), name)
        values[[global_facets.index(frozenset(f)) for f in local]].astype(">f4").tofile(folder / f"{stem}-{k:03d}.node")


def split_nodes(folder: Path, global_file: str) -> None:
    """Write ``stem-00k.node``: every record restricted to the subdomain's nodes, in local order."""
    values = np.fromfile(folder / global_file, ">f4").reshape(-1, 343)
    stem = Path(global_file).stem
    for k in DOMAINS:
        local_to_global = cut_values(folder / f"cube-pcuts/cube-{k:03d}.cut", "**nodes_local_to_global")
        values[:, local_to_global].astype(">f4").tofile(folder / f"{stem}-{k:03d}.node")


# ----------------------------------------------------------------- fixtures
@pytest.fixture
def case(tmp_path):
    """The parallel example with a face set y0, global data files and the deck; returns the folder."""
    for name in ("cube.geof", "cube.cut"):
        shutil.copy(PAR / name, tmp_path / name)
    for name in ("cube-pmeshes", "cube-pcuts"):
        shutil.copytree(PAR / name, tmp_path / name)
    shutil.copy(ELAS, tmp_path / "elas")
    add_faset(tmp_path / "cube.geof", "y0", y0_facets((tmp_path / "cube.geof").read_text()))
    for k in DOMAINS:
        pmesh = tmp_path / f"cube-pmeshes/cube-{k:03d}.geof"
        facets = [f[1:] + f[:1] for f in y0_facets(pmesh.read_text())]     # corners rotated
        add_faset(pmesh, "y0", facets[::-1] if k == 2 else facets)          # and another order
    (tmp_path / "cube.inp").write_text(DECK)

    ids, xyz = geof_nodes((tmp_path / "cube.geof").read_text())
    assert np.array_equal(ids, np.arange(1, 344))
    x, y, z = xyz.T
    np.stack([20.0 + 10.0 * x + 3.0 * y, 600.0 + 200.0 * z - 7.0 * x]).astype(">f4").tofile(
        tmp_path / "temperature1.node")
    (100.0 + np.sin(7.0 * x + 5.0 * y * z)).astype(">f4").tofile(tmp_path / "temperature2.node")
    (-10.0 - np.arange(36)).astype(">f4").tofile(tmp_path / "pressure.node")
    (-1.0 - np.sqrt(np.arange(36))).astype(">f4").tofile(tmp_path / "side.node")
    return tmp_path


def make_split(folder: Path) -> None:
    """Split every global data file and delete it."""
    split_facets(folder, "x1", "pressure.node")
    split_facets(folder, "y0", "side.node")
    split_nodes(folder, "temperature1.node")
    split_nodes(folder, "temperature2.node")
    for name in ("pressure.node", "side.node", "temperature1.node", "temperature2.node"):
        (folder / name).unlink()


@pytest.fixture
def split(case):
    make_split(case)
    return case


# -------------------------------------------------------------------- tests
def test_split_files_give_the_global_problem(case):
    # the face sets: x1 wholly in subdomain 1 (subdomain 2's copy is empty), y0 across both
    geofs = [(case / f"cube-pmeshes/cube-{k:03d}.geof").read_text() for k in DOMAINS]
    assert [len(geof_facets(g, "x1")) for g in geofs] == [36, 0]
    assert [len(geof_facets(g, "y0")) for g in geofs] == [18, 18]
    reference = read_problem(case / "cube.inp")
    make_split(case)
    assert not (case / "pressure.node").exists() and (case / "temperature1-002.node").exists()
    problem = read_problem(case / "cube.inp")
    assert [p.face_set for p in problem.pressures] == ["x1", "y0", "x0"]
    for got, want in zip(problem.pressures, reference.pressures):
        np.testing.assert_array_equal(got.values, want.values)
    np.testing.assert_array_equal(problem.temperature.fields, reference.temperature.fields)
    assert problem.temperature.fields.shape == (3, 343)
    assert problem.temperature == reference.temperature


def test_an_absent_empty_copy_may_lack_its_file(split):
    """Subdomain 2 has no facet of x1: its pressure-002.node (empty) may be absent."""
    assert (split / "pressure-002.node").stat().st_size == 0
    (split / "pressure-002.node").unlink()
    assert len(read_problem(split / "cube.inp").pressures[0].values) == 36


@pytest.mark.parametrize("old, new", [
    ("x1 file pressure.node", "x1 file nothere.node"),
    ("file temperature2.node 1", "file nothere.node 1"),
])
def test_neither_global_nor_split_file(split, old, new):
    deck = split / "cube.inp"
    deck.write_text(deck.read_text().replace(old, new))
    with pytest.raises(ConfigError, match=r"cube.inp line \d+: .* file .*nothere.node not found \(looked for "
                                          r"nothere.node, and for the split files nothere-001.node, "
                                          r"nothere-002.node of the 2 subdomains of cube.cut"):
        read_problem(deck)


def test_split_files_without_a_decomposition(split):
    (split / "cube.cut").unlink()
    with pytest.raises(ConfigError, match=r"pressure file .*pressure.node not found; the split file "
                                          r".*pressure-001.node exists, but there is no decomposition .*cube.cut"):
        read_problem(split / "cube.inp")


def test_a_missing_split_file(split):
    (split / "temperature1-002.node").unlink()
    with pytest.raises(ConfigError, match=r"temperature: file .*temperature1.node is split over the 2 subdomains "
                                          r"of .*cube.cut, but temperature1-002.node is missing"):
        read_problem(split / "cube.inp")


def test_interface_values_must_agree(split):
    cut = split / "cube-pcuts/cube-002.cut"
    tokens = cut.read_text().split()
    node_id = int(tokens[tokens.index("*inter") + 3])   # *inter NEIGHBOUR COUNT, then the shared ids
    local = int(np.flatnonzero(cut_values(cut, "**nodes") == node_id)[0])
    path = split / "temperature1-002.node"
    values = np.fromfile(path, ">f4")
    before = float(values[local])
    values[local] += 0.5
    values.tofile(path)
    with pytest.raises(ConfigError, match=rf"interface node {node_id} has value {before:.9g} in "
                                          rf".*temperature1-001.node but {before + 0.5:.9g} in "
                                          r".*temperature1-002.node"):
        read_problem(split / "cube.inp")


@pytest.mark.parametrize("name, message", [
    ("temperature1-002.node", r"temperature \(subdomain 2 of cube.cut, 196 nodes\): .*temperature1-002.node holds "
                              r"1564 bytes = 391 big-endian float32 values, not a whole number of records of 196 "
                              r"values; the deck declares \*rec_size 343"),
    ("side-001.node", r"pressure file .*side-001.node holds 68 bytes = 17 big-endian float32 values, but face set "
                      r"'y0' in .*cube-001.geof has 18 facets"),
])
def test_a_short_split_file(split, name, message):
    path = split / name
    path.write_bytes(path.read_bytes()[:-4])
    with pytest.raises(ConfigError, match=message):
        read_problem(split / "cube.inp")


def test_a_non_finite_split_value(split):
    values = np.fromfile(split / "side-002.node", ">f4")
    values[3] = np.nan
    values.tofile(split / "side-002.node")
    with pytest.raises(ConfigError, match=r"side-002.node record 1 holds a non-finite value at position 3"):
        read_problem(split / "cube.inp")


def _edit_y0_copy(folder: Path, k: int, edit) -> None:
    """Apply ``edit(facets, values)`` to subdomain k's copy of y0 and its split file."""
    pmesh = folder / f"cube-pmeshes/cube-{k:03d}.geof"
    text = pmesh.read_text()
    facets = geof_facets(text, "y0")
    values = list(np.fromfile(folder / f"side-{k:03d}.node", ">f4"))
    facets, values = edit(facets, values)
    head = text.split("**faset y0")[0]
    pmesh.write_text(head + "***return\n")
    add_faset(pmesh, "y0", facets)
    np.array(values, ">f4").tofile(folder / f"side-{k:03d}.node")


def test_a_facet_in_no_subdomain(split):
    _edit_y0_copy(split, 2, lambda f, v: (f[1:], v[1:]))
    with pytest.raises(ConfigError, match=r"facet \d+ of face set 'y0' in .*cube.geof \(nodes [\d ]+\) is in no "
                                          r"subdomain's copy of it"):
        read_problem(split / "cube.inp")


def test_a_facet_listed_twice(split):
    same = read_problem(split / "cube.inp").pressures[1].values
    _edit_y0_copy(split, 2, lambda f, v: (f + [f[0][::-1]], v + [v[0]]))      # repeated, same value: accepted
    np.testing.assert_array_equal(read_problem(split / "cube.inp").pressures[1].values, same)
    _edit_y0_copy(split, 2, lambda f, v: (f[:-1] + [f[0]], v[:-1] + [v[0] + 1.0]))
    with pytest.raises(ConfigError, match=r"facet of face set 'y0' with nodes [\d ]+ is listed twice with different "
                                          r"values: .* in .*side-002.node \(facet 1\) and .* in .*side-002.node "
                                          r"\(facet 19\)"):
        read_problem(split / "cube.inp")


def test_a_facet_not_in_the_global_face_set(split):
    _edit_y0_copy(split, 1, lambda f, v: (f[:-1] + [(7, 14, 63, 56)], v))     # a facet of x1
    with pytest.raises(ConfigError, match=r"side-001.node: facet 18 of face set 'y0' in .*cube-001.geof \(nodes "
                                          r"7 14 56 63\) is not a facet of 'y0' in .*cube.geof"):
        read_problem(split / "cube.inp")


def test_a_decomposition_of_another_mesh(split):
    cut = split / "cube.cut"
    cut.write_text(cut.read_text().replace("**global_node_nb 343", "**global_node_nb 342"))
    with pytest.raises(ConfigError, match=r"split data files need the decomposition of .*cube.geof: .*cube.cut "
                                          r"decomposes a mesh of 342 nodes and 216 elements, but .*cube.geof has "
                                          r"343 nodes and 216 elements"):
        read_problem(split / "cube.inp")
