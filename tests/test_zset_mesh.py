"""Zset meshes: .geof / .geo reading against independent parses, permutations, writer, meshio."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

import io_adapters  # noqa: F401  (registers the meshio format)
from io_adapters.errors import InputError
from io_adapters.zset import read, read_mesh, write_geof

DATA = Path(__file__).parent / "data" / "zset"

# --------------------------------------------------------------------------- independent parse
# Plain line-by-line reading and our own copy of the ZSET_FORMAT.md §1.2 table: shares no code with
# io_adapters.zset.

PERMUTATION = {
    "c2d3": ("triangle", [0, 1, 2]), "c2d4": ("quad", [0, 1, 2, 3]),
    "c2d6": ("triangle6", [0, 2, 4, 1, 3, 5]), "c2d8": ("quad8", [0, 2, 4, 6, 1, 3, 5, 7]),
    "c3d4": ("tetra", [0, 1, 2, 3]), "c3d10": ("tetra10", [0, 1, 2, 9, 3, 4, 5, 6, 7, 8]),
    "c3d6": ("wedge", [0, 1, 2, 3, 4, 5]), "c3d5": ("pyramid", [0, 1, 2, 3, 4]),
    "c3d15": ("wedge15", [0, 2, 4, 9, 11, 13, 1, 3, 5, 10, 12, 14, 6, 7, 8]),
    "c3d8": ("hexahedron", list(range(8))),
    "c3d20": ("hexahedron20", [0, 2, 4, 6, 12, 14, 16, 18, 1, 3, 5, 7, 13, 15, 17, 19, 8, 9, 10, 11]),
}
FACET = {"t3": ("triangle", [0, 1, 2]), "t6": ("triangle6", [0, 2, 4, 1, 3, 5]), "q4": ("quad", [0, 1, 2, 3]),
         "q8": ("quad8", [0, 2, 4, 6, 1, 3, 5, 7]), "line": ("line", [0, 1]), "quad": ("line3", [0, 2, 1])}


def plain_geof(path: Path) -> dict:
    """Nodes, elements and sets of a .geof, read line by line."""
    lines = [line.split("%")[0].strip() for line in path.read_text().splitlines()]
    out = {"node_ids": [], "coords": [], "elements": [], "nsets": {}, "elsets": {}, "facets": {}}
    i = lines.index("**node")
    n, dim = map(int, lines[i + 1].split())
    for line in lines[i + 2:i + 2 + n]:
        t = line.split()
        out["node_ids"].append(int(t[0]))
        out["coords"].append([float(x) for x in t[1:]] + [0.0] * (3 - dim))
    out["dim"] = dim
    j = lines.index("**element")
    for line in lines[j + 2:j + 2 + int(lines[j + 1])]:
        t = line.split()
        out["elements"].append((int(t[0]), t[1], [int(x) for x in t[2:]]))
    current = None
    for line in lines[j + 2:]:
        if line.startswith("**"):
            key, *name = line[2:].split()
            current = (key, name[0]) if key in ("nset", "elset", "faset", "liset") else None
            if current:
                out["facets" if key in ("faset", "liset") else key + "s"].setdefault(name[0], [])
        elif line.startswith("*"):
            current = None
        elif current and line:
            key, name = current
            if key in ("faset", "liset"):
                t = line.split()
                out["facets"][name].append((t[0], [int(x) for x in t[1:]]))
            else:
                out[key + "s"][name] += [int(x) for x in line.split()]
    out["coords"] = np.array(out["coords"])
    return out


# ---------------------------------------------------------------------- shape-function checks
EDGES = {
    "triangle6": [(0, 1), (1, 2), (2, 0)],
    "quad8": [(0, 1), (1, 2), (2, 3), (3, 0)],
    "tetra10": [(0, 1), (1, 2), (2, 0), (0, 3), (1, 3), (2, 3)],
    "wedge15": [(0, 1), (1, 2), (2, 0), (3, 4), (4, 5), (5, 3), (0, 3), (1, 4), (2, 5)],
    "hexahedron20": [(0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4),
                     (0, 4), (1, 5), (2, 6), (3, 7)],
    "line3": [(0, 1)],
}
CORNERS = {"triangle6": "triangle", "quad8": "quad", "tetra10": "tetra", "wedge15": "wedge",
           "hexahedron20": "hexahedron", "line3": "line"}
HEX_REF = np.array([[-1, -1, -1], [1, -1, -1], [1, 1, -1], [-1, 1, -1],
                    [-1, -1, 1], [1, -1, 1], [1, 1, 1], [-1, 1, 1]], float)


def centre_jacobian(cell_type: str, x: np.ndarray) -> np.ndarray:
    """det(dx/dxi) (3D) or the z of dx/dxi x dx/deta (2D) at the element centre, per cell.

    ``x``: (n_cells, n_corners, 3) corner coordinates in VTK order; derivatives of
    the linear shape functions in VTK's parametric coordinates.
    """
    if cell_type == "tetra":
        return np.linalg.det(np.stack([x[:, 1] - x[:, 0], x[:, 2] - x[:, 0], x[:, 3] - x[:, 0]], axis=1))
    if cell_type == "hexahedron":
        return np.linalg.det(np.einsum("ai,naj->nij", HEX_REF, x) / 8)
    if cell_type == "wedge":
        d_r = 0.5 * ((x[:, 1] - x[:, 0]) + (x[:, 4] - x[:, 3]))
        d_s = 0.5 * ((x[:, 2] - x[:, 0]) + (x[:, 5] - x[:, 3]))
        d_t = (x[:, 3:6].sum(axis=1) - x[:, 0:3].sum(axis=1)) / 3
        return np.linalg.det(np.stack([d_r, d_s, d_t], axis=1))
    if cell_type == "pyramid":
        base = x[:, :4]
        normal = np.cross(base[:, 2] - base[:, 0], base[:, 3] - base[:, 1])  # right-hand rule over 0-1-2-3
        return np.einsum("ni,ni->n", normal, x[:, 4] - base.mean(axis=1))
    if cell_type == "triangle":
        return np.cross(x[:, 1] - x[:, 0], x[:, 2] - x[:, 0])[:, 2]
    if cell_type == "quad":
        d_xi = 0.5 * ((x[:, 1] - x[:, 0]) + (x[:, 2] - x[:, 3]))
        d_eta = 0.5 * ((x[:, 3] - x[:, 0]) + (x[:, 2] - x[:, 1]))
        return np.cross(d_xi, d_eta)[:, 2]
    raise AssertionError(cell_type)


N_CORNERS = {"triangle": 3, "quad": 4, "tetra": 4, "wedge": 6, "hexahedron": 8, "pyramid": 5, "line": 2}


def check_cells(mesh) -> None:
    """Positive centre Jacobian of every cell; quadratic mid-nodes at their VTK edge's middle."""
    for cell_type, conn in mesh.cells.items():
        x = mesh.points[conn]
        linear = CORNERS.get(cell_type, cell_type)
        assert np.all(centre_jacobian(linear, x[:, :N_CORNERS[linear]]) > 0), cell_type
        if cell_type in EDGES:
            mids = np.array([(x[:, a] + x[:, b]) / 2 for a, b in EDGES[cell_type]]).transpose(1, 0, 2)
            np.testing.assert_allclose(x[:, N_CORNERS[linear]:], mids, atol=1e-12, err_msg=cell_type)


# ------------------------------------------------------------------------------------ tests
@pytest.mark.parametrize("name", ["cube.geof", "cube2.geof", "multielements3D.geof", "multielements2D.geof",
                                  "UtParExample/cube-pmeshes/cube-002.geof"])
def test_geof_matches_independent_parse(name):
    ref = plain_geof(DATA / name)
    mesh = read_mesh(DATA / name)
    assert mesh.dim == ref["dim"]
    np.testing.assert_array_equal(mesh.point_ids, ref["node_ids"])
    np.testing.assert_array_equal(mesh.points, ref["coords"])
    position = {nid: k for k, nid in enumerate(ref["node_ids"])}
    # cells: blocks of one type in order of first appearance, file order inside a block
    types = list(dict.fromkeys(PERMUTATION[t][0] for _, t, _ in ref["elements"]))
    assert list(mesh.cells) == types
    expected_ids = []
    for cell_type in types:
        rows = [(eid, [position[n] for n in nodes]) for eid, t, nodes in ref["elements"]
                if PERMUTATION[t][0] == cell_type]
        perm = next(p for c, p in PERMUTATION.values() if c == cell_type)
        np.testing.assert_array_equal(mesh.cells[cell_type], np.array([r[1] for r in rows])[:, perm])
        expected_ids += [eid for eid, _ in rows]
    np.testing.assert_array_equal(mesh.cell_ids, expected_ids)
    assert set(mesh.node_sets) == set(ref["nsets"])
    for name_, ids in ref["nsets"].items():
        np.testing.assert_array_equal(mesh.point_ids[mesh.node_sets[name_]], ids)
    assert set(mesh.cell_sets) == set(ref["elsets"])
    for name_, ids in ref["elsets"].items():
        np.testing.assert_array_equal(mesh.cell_ids[mesh.cell_sets[name_]], ids)
    assert "ALL_ELEMENT" not in mesh.cell_sets
    assert set(mesh.face_sets) == set(ref["facets"])
    for name_, facets in ref["facets"].items():
        for zname, (cell_type, perm) in FACET.items():
            listed = [[position[n] for n in nodes] for t, nodes in facets if t == zname]
            if listed:
                np.testing.assert_array_equal(mesh.face_sets[name_][cell_type], np.array(listed)[:, perm])


@pytest.mark.parametrize("name", ["multielements3D.geof", "multielements2D.geof", "cube.geof", "cube2.geof",
                                  "cube.geo"])
def test_every_element_family_has_positive_jacobian(name):
    mesh = read_mesh(DATA / name)
    check_cells(mesh)
    if name.startswith("multielements3D"):
        assert set(mesh.cells) == {"tetra", "tetra10", "wedge", "wedge15", "hexahedron", "hexahedron20", "pyramid"}
    if name.startswith("multielements2D"):
        assert set(mesh.cells) == {"triangle", "triangle6", "quad", "quad8"}
        assert mesh.dim == 2 and np.all(mesh.points[:, 2] == 0)


def test_reversed_wedge_would_be_inverted():
    """The evidence of the wedge docstring: the reversed order gives a negative Jacobian."""
    mesh = read_mesh(DATA / "multielements3D.geof")
    x = mesh.points[mesh.cells["wedge"]]
    assert np.all(centre_jacobian("wedge", x) > 0)
    assert np.all(centre_jacobian("wedge", x[:, [0, 2, 1, 3, 5, 4]]) < 0)
    x15 = mesh.points[mesh.cells["wedge15"]][:, :6]
    assert np.all(centre_jacobian("wedge", x15) > 0)


def test_vtk_agrees_on_cell_validity():
    vtk = pytest.importorskip("vtk")
    pv = pytest.importorskip("pyvista")
    vtk_type = {"tetra": vtk.VTK_TETRA, "tetra10": vtk.VTK_QUADRATIC_TETRA, "wedge": vtk.VTK_WEDGE,
                "wedge15": vtk.VTK_QUADRATIC_WEDGE, "hexahedron": vtk.VTK_HEXAHEDRON,
                "hexahedron20": vtk.VTK_QUADRATIC_HEXAHEDRON, "pyramid": vtk.VTK_PYRAMID}
    mesh = read_mesh(DATA / "multielements3D.geof")
    for cell_type, conn in mesh.cells.items():
        grid = pv.UnstructuredGrid({vtk_type[cell_type]: conn}, mesh.points)
        validator = vtk.vtkCellValidator()
        validator.SetInputData(grid)
        validator.Update()
        state = validator.GetOutput().GetCellData().GetArray("ValidityState")
        assert [state.GetTuple1(i) for i in range(len(conn))] == [0.0] * len(conn), cell_type
        assert np.all(grid.compute_cell_sizes()["Volume"] > 0), cell_type


def test_faset_normals_point_outward():
    """cube2.geof's mesher-written fasets point outward (§1.2): the listing order survives."""
    mesh = read_mesh(DATA / "cube2.geof")
    centre = mesh.points.mean(axis=0)
    for name in ("x0", "x1", "y0", "y1", "z0", "z1"):
        if name not in mesh.face_sets:
            continue
        x = mesh.points[mesh.face_sets[name]["quad"]]
        normal = np.cross(x[:, 1] - x[:, 0], x[:, 3] - x[:, 0])
        assert np.all(np.einsum("ni,ni->n", normal, x.mean(axis=1) - centre) > 0), name
    quad8 = read_mesh(DATA / "cube.geof").face_sets["x1"]["quad8"]
    x = read_mesh(DATA / "cube.geof").points[quad8]
    assert np.all(np.cross(x[:, 1] - x[:, 0], x[:, 3] - x[:, 0])[:, 0] > 0)
    np.testing.assert_allclose(x[:, 4:], (x[:, :4] + np.roll(x[:, :4], -1, axis=1)) / 2, atol=1e-12)


# ----------------------------------------------------------------------------------- binary .geo
def plain_geo(path: Path) -> dict:
    """Independent struct-based reading of a .geo (§1.3)."""
    b = path.read_bytes()
    pos = 0

    def i4():
        nonlocal pos
        pos += 4
        return struct.unpack(">i", b[pos - 4:pos])[0]

    def string():
        nonlocal pos
        n = i4()
        pos += n
        return b[pos - n:pos].split(b"\0")[0].decode()

    def magic(name):
        nonlocal pos
        assert b[pos:pos + 13] == b"Z7BINARYGEOF\0"
        pos += 13
        assert string() == name

    magic("node")
    n, dim = i4(), i4()
    ids, coords = [], []
    for _ in range(n):
        ids.append(i4())
        coords.append(list(struct.unpack(f">{dim}d", b[pos:pos + 8 * dim])) + [0.0] * (3 - dim))
        pos += 8 * dim
    magic("element")
    n_el, n_groups = i4(), i4()
    elements = [None] * n_el
    for _ in range(n_groups):
        count, name, k = i4(), string(), i4()
        for _ in range(count):
            eid, rank = i4(), i4()
            elements[rank] = (eid, name, [i4() for _ in range(k)])
    magic("nset")
    nsets = {}
    for _ in range(i4()):
        name = string()
        nsets[name] = [i4() for _ in range(i4())]
    return {"node_ids": ids, "coords": np.array(coords), "elements": elements, "nsets": nsets}


def test_geo_matches_independent_parse():
    ref = plain_geo(DATA / "cube.geo")
    mesh = read_mesh(DATA / "cube.geo")
    np.testing.assert_array_equal(mesh.point_ids, ref["node_ids"])
    np.testing.assert_array_equal(mesh.points, ref["coords"])
    assert list(mesh.cells) == ["hexahedron20"]
    perm = PERMUTATION["c3d20"][1]
    np.testing.assert_array_equal(mesh.cells["hexahedron20"], np.array([e[2] for e in ref["elements"]])[:, perm])
    np.testing.assert_array_equal(mesh.cell_ids, [e[0] for e in ref["elements"]])
    assert mesh.node_sets.keys() == ref["nsets"].keys()
    for name, ranks in ref["nsets"].items():
        np.testing.assert_array_equal(mesh.node_sets[name], ranks)
    assert np.all(mesh.points[mesh.node_sets["x1"], 0] == 1.0)


def write_geo_from_plain(ref: dict, path: Path) -> None:
    """A .geo of a parsed .geof, written from the §1.3 description (ranks, groups, bsets)."""
    position = {nid: k for k, nid in enumerate(ref["node_ids"])}
    magic = b"Z7BINARYGEOF\0"

    def string(s):
        raw = s.encode() + b"\0"
        return struct.pack(">i", len(raw)) + raw

    out = [magic, string("node"), struct.pack(">ii", len(ref["node_ids"]), ref["dim"])]
    for nid, x in zip(ref["node_ids"], ref["coords"]):
        out.append(struct.pack(f">i{ref['dim']}d", nid, *x[:ref["dim"]]))
    out += [magic, string("element")]
    types = list(dict.fromkeys(t for _, t, _ in ref["elements"]))
    out.append(struct.pack(">ii", len(ref["elements"]), len(types)))
    for t in reversed(types):  # groups need not follow rank order
        group = [(rank, e) for rank, e in enumerate(ref["elements"]) if e[1] == t]
        out += [struct.pack(">i", len(group)), string(t), struct.pack(">i", len(group[0][1][2]))]
        for rank, (eid, _, nodes) in group:
            out.append(struct.pack(f">ii{len(nodes)}i", eid, rank, *[position[n] for n in nodes]))
    element_rank = {e[0]: r for r, e in enumerate(ref["elements"])}
    for section, sets, index in (("nset", ref["nsets"], position), ("elset", ref["elsets"], element_rank)):
        out += [magic, string(section), struct.pack(">i", len(sets))]
        for name, ids in sets.items():
            out += [string(name), struct.pack(f">i{len(ids)}i", len(ids), *[index[i] for i in ids])]
    out += [magic, string("bset"), struct.pack(">i", len(ref["facets"]))]
    for name, facets in ref["facets"].items():
        out += [string(name), string("faset"), struct.pack(">i", len(facets))]
        for t, nodes in facets:
            type_field = (t.encode() + b"\0" + b"\xab\xcd\xef\x01")[:5]  # garbage after the NUL
            out.append(struct.pack(f">i{len(nodes)}i", len(nodes), *[position[n] for n in nodes]) + type_field)
    out += [magic, string("ipset"), struct.pack(">i", 0), magic, string("return"), magic]
    path.write_bytes(b"".join(out))


@pytest.mark.parametrize("name", ["cube.geof", "cube2.geof", "multielements3D.geof"])
def test_geo_and_geof_of_the_same_mesh_agree(tmp_path, name):
    """cube.geo and cube.geof of tests/data are different meshes (27 vs 216 c3d20), so the
    .geo twin of each .geof is written here from the format description."""
    ref = plain_geof(DATA / name)
    write_geo_from_plain(ref, tmp_path / "twin.geo")
    a, b = read_mesh(DATA / name), read_mesh(tmp_path / "twin.geo")
    assert_same_mesh(a, b)


def assert_same_mesh(a, b, *, ids=True) -> None:
    np.testing.assert_array_equal(a.points, b.points)
    assert list(a.cells) == list(b.cells)
    for t in a.cells:
        np.testing.assert_array_equal(a.cells[t], b.cells[t])
    if ids:
        np.testing.assert_array_equal(a.point_ids, b.point_ids)
        np.testing.assert_array_equal(a.cell_ids, b.cell_ids)
    assert a.dim == b.dim
    assert a.node_sets.keys() == b.node_sets.keys() and a.cell_sets.keys() == b.cell_sets.keys()
    for k in a.node_sets:
        np.testing.assert_array_equal(a.node_sets[k], b.node_sets[k])
    for k in a.cell_sets:
        np.testing.assert_array_equal(a.cell_sets[k], b.cell_sets[k])
    assert a.face_sets.keys() == b.face_sets.keys()
    for k in a.face_sets:
        assert a.face_sets[k].keys() == b.face_sets[k].keys()
        for t in a.face_sets[k]:
            np.testing.assert_array_equal(a.face_sets[k][t], b.face_sets[k][t])


# -------------------------------------------------------------------------------- writer, meshio
@pytest.mark.parametrize("name", ["cube.geof", "multielements3D.geof", "multielements2D.geof", "cube.geo",
                                  "UtParExample/cube-pmeshes/cube-001.geof"])
def test_write_geof_round_trip(tmp_path, name):
    mesh = read_mesh(DATA / name)
    out = write_geof(mesh, tmp_path / "copy.geof")
    assert_same_mesh(mesh, read_mesh(out))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_write_geof_writes_zset_order(tmp_path):
    """The writer applies the inverse permutation: the text matches the original element lines."""
    src = DATA / "multielements3D.geof"
    write_geof(read_mesh(src), tmp_path / "copy.geof")
    original = {e[0]: (e[1], e[2]) for e in plain_geof(src)["elements"]}
    for eid, t, nodes in plain_geof(tmp_path / "copy.geof")["elements"]:
        assert (t, nodes) == original[eid]


def test_write_geof_is_atomic(tmp_path):
    mesh = read_mesh(DATA / "cube2.geof")
    target = tmp_path / "mesh.geof"
    target.write_text("old")
    bad = type(mesh)(points=mesh.points, cells={"quad9": np.zeros((1, 9), int)}, dim=2)
    with pytest.raises(InputError, match="quad9"):
        write_geof(bad, target)
    assert target.read_text() == "old"


def test_meshio_reads_geof_after_import():
    import meshio

    m = meshio.read(DATA / "cube2.geof")
    ours = read_mesh(DATA / "cube2.geof")
    np.testing.assert_array_equal(m.points, ours.points)
    assert m.cells[0].type == "hexahedron"
    np.testing.assert_array_equal(m.cells[0].data, ours.cells["hexahedron"])
    np.testing.assert_array_equal(m.point_sets["x0"], ours.node_sets["x0"])


def test_meshio_cli_converts_geof_to_vtu(tmp_path):
    import meshio
    from meshio._cli import main

    main(["convert", str(DATA / "multielements3D.geof"), str(tmp_path / "out.vtu")])
    vtu = meshio.read(tmp_path / "out.vtu")
    ours = read_mesh(DATA / "multielements3D.geof")
    np.testing.assert_allclose(vtu.points, ours.points)
    volume = {b.type: b.data for b in vtu.cells if b.type in ours.cells}
    for t, conn in ours.cells.items():
        np.testing.assert_array_equal(volume[t], conn)


def test_meshio_write_geof_round_trip(tmp_path):
    import meshio

    m = meshio.read(DATA / "multielements2D.geof")
    meshio.write(tmp_path / "again.geof", m)
    assert_same_mesh(read_mesh(DATA / "multielements2D.geof"), read_mesh(tmp_path / "again.geof"), ids=False)


def test_read_of_a_mesh_gives_an_empty_simulation():
    sim = read(DATA / "cube2.geof")
    assert sim.n_times == 0 and sim.fields == {}
    assert sim.mesh.n_cells == 216


# ---------------------------------------------------------------------------------- bad meshes
def test_unknown_element_type_names_file_line_and_type(tmp_path):
    text = (DATA / "cube2.geof").read_text().splitlines()
    k = next(i for i, line in enumerate(text) if line.startswith("17 c3d8"))
    text[k] = text[k].replace("c3d8", "c3d27x")
    bad = tmp_path / "bad.geof"
    bad.write_text("\n".join(text) + "\n")
    with pytest.raises(InputError) as err:
        read_mesh(bad)
    message = str(err.value)
    assert "bad.geof" in message and f"line {k + 1}" in message and "c3d27x" in message


def test_unknown_node_id_names_the_element_line(tmp_path):
    text = (DATA / "cube2.geof").read_text().splitlines()
    k = next(i for i, line in enumerate(text) if line.startswith("5 c3d8"))
    text[k] = "5 c3d8 5 6 13 99999 54 55 62 61"
    bad = tmp_path / "bad.geof"
    bad.write_text("\n".join(text) + "\n")
    with pytest.raises(InputError, match=rf"bad.geof, line {k + 1}: element 5 refers to node id 99999"):
        read_mesh(bad)


def test_wrong_node_count_is_refused(tmp_path):
    text = (DATA / "cube2.geof").read_text().replace("**node\n343 3", "**node\n344 3")
    (tmp_path / "bad.geof").write_text(text)
    with pytest.raises(InputError, match=r"announces 344 nodes .* found 1372 numbers"):
        read_mesh(tmp_path / "bad.geof")


def test_truncated_geo_is_refused(tmp_path):
    (tmp_path / "cut.geo").write_bytes((DATA / "cube.geo").read_bytes()[:5000])
    with pytest.raises(InputError, match="cut.geo"):
        read_mesh(tmp_path / "cut.geo")


def test_comments_and_empty_sets_are_accepted(tmp_path):
    text = (DATA / "cube2.geof").read_text()
    text = text.replace("**element", "% a comment line\n**element", 1).replace(
        "***return", "**elset empty\n**nset also_empty % nothing\n***return")
    (tmp_path / "c.geof").write_text(text)
    mesh = read_mesh(tmp_path / "c.geof")
    assert len(mesh.cell_sets["empty"]) == 0 and len(mesh.node_sets["also_empty"]) == 0
