"""io_adapters.meshio_generic on files written by Gmsh and by meshio's writers."""

from __future__ import annotations

import meshio
import numpy as np
import pytest

import io_adapters
from io_adapters import meshio_generic
from io_adapters.errors import InputError, MeshMismatchError

#: VTK edges (corner pairs) of the midside nodes of a tetra10.
TETRA10_EDGES = np.array([(0, 1), (1, 2), (0, 2), (0, 3), (1, 3), (2, 3)])


def _gmsh_two_boxes(path, order: int) -> dict:
    """Mesh two glued unit boxes with Gmsh; return what Gmsh's API says about the physical groups."""
    gmsh = pytest.importorskip("gmsh")
    gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.add(f"two_boxes_{order}")
        left = gmsh.model.occ.addBox(0, 0, 0, 1, 1, 1)
        right = gmsh.model.occ.addBox(1, 0, 0, 1, 1, 1)
        gmsh.model.occ.fragment([(3, left)], [(3, right)])
        gmsh.model.occ.synchronize()
        gmsh.model.addPhysicalGroup(3, [left], name="left")
        gmsh.model.addPhysicalGroup(3, [right], name="right")
        for name, x in (("clamp", 0.0), ("load", 2.0)):
            faces = gmsh.model.getEntitiesInBoundingBox(x - 0.1, -0.1, -0.1, x + 0.1, 1.1, 1.1, 2)
            gmsh.model.addPhysicalGroup(2, [tag for _, tag in faces], name=name)
        gmsh.option.setNumber("Mesh.MeshSizeMax", 0.5)
        gmsh.model.mesh.generate(3)
        gmsh.model.mesh.setOrder(order)
        gmsh.write(str(path))
        counts = {}
        for dim, tag in gmsh.model.getPhysicalGroups():
            entities = gmsh.model.getEntitiesForPhysicalGroup(dim, tag)
            counts[gmsh.model.getPhysicalName(dim, tag)] = sum(
                len(gmsh.model.mesh.getElements(dim, e)[1][0]) for e in entities)
        node_tags, _, _ = gmsh.model.mesh.getNodes()
        counts["nodes"] = len(node_tags)
        return counts
    finally:
        gmsh.finalize()


@pytest.fixture(scope="module")
def gmsh_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gmsh")
    return {order: (folder / f"two_boxes_{order}.msh", _gmsh_two_boxes(folder / f"two_boxes_{order}.msh", order))
            for order in (1, 2)}


def _centroids(mesh: io_adapters.Mesh) -> np.ndarray:
    return np.concatenate([mesh.points[conn].mean(axis=1) for conn in mesh.cells.values()])


def _tetra_volumes(points, conn):
    a, b, c, d = (points[conn[:, i]] for i in range(4))
    return np.einsum("ij,ij->i", np.cross(b - a, c - a), d - a) / 6


# ----------------------------------------------------------------------- Gmsh
def test_gmsh_physical_groups(gmsh_files):
    path, counts = gmsh_files[1]
    sim = meshio_generic.read(path)
    mesh = sim.mesh
    assert sim.n_times == 0 and sim.fields == {}  # a mesh without data
    assert list(mesh.cells) == ["tetra"] and mesh.dim == 3
    assert mesh.n_cells == counts["left"] + counts["right"]
    assert mesh.n_nodes == counts["nodes"]
    assert {k: len(v) for k, v in mesh.cell_sets.items()} == {"left": counts["left"], "right": counts["right"]}
    assert {k: len(v["triangle"]) for k, v in mesh.face_sets.items()} == {"clamp": counts["clamp"], "load": counts["load"]}
    centroids = _centroids(mesh)
    assert np.all(centroids[mesh.cell_sets["left"], 0] < 1) and np.all(centroids[mesh.cell_sets["right"], 0] > 1)
    np.testing.assert_allclose(mesh.points[mesh.face_sets["clamp"]["triangle"], 0], 0.0)
    np.testing.assert_allclose(mesh.points[mesh.face_sets["load"]["triangle"], 0], 2.0)
    volumes = _tetra_volumes(mesh.points, mesh.cells["tetra"])
    assert np.all(volumes > 0)
    assert volumes.sum() == pytest.approx(2.0)
    assert io_adapters.detect_format(path) == "meshio"
    assert io_adapters.read(path).mesh.n_cells == mesh.n_cells


def test_gmsh_second_order_node_order(gmsh_files):
    path, counts = gmsh_files[2]
    mesh = meshio_generic.read(path).mesh
    conn = mesh.cells["tetra10"]
    assert len(conn) == counts["left"] + counts["right"]
    midpoints = 0.5 * (mesh.points[conn[:, TETRA10_EDGES[:, 0]]] + mesh.points[conn[:, TETRA10_EDGES[:, 1]]])
    np.testing.assert_allclose(mesh.points[conn[:, 4:]], midpoints, atol=1e-12)
    assert np.all(_tetra_volumes(mesh.points, conn) > 0)
    assert {k: len(v["triangle6"]) for k, v in mesh.face_sets.items()} == {"clamp": counts["clamp"], "load": counts["load"]}


# ------------------------------------------------------------- MED and Abaqus
def _merged_meshio(path):
    """The Gmsh mesh with one block per cell type (as MED requires) and its sets."""
    m = meshio.read(path)
    blocks, sets = {}, {}
    for i, block in enumerate(m.cells):
        start = sum(len(b) for b in blocks.get(block.type, []))
        blocks.setdefault(block.type, []).append(block.data)
        for name, per_block in m.cell_sets.items():
            if not name.startswith("gmsh:") and len(per_block[i]):
                sets.setdefault(name, (block.type, []))[1].append(start + np.asarray(per_block[i]))
    cells = [(t, np.concatenate(parts)) for t, parts in blocks.items()]
    cell_sets = {name: [np.concatenate(ids) if t == ct else np.zeros(0, int) for ct, _ in cells]
                 for name, (t, ids) in sets.items()}
    return m.points, cells, cell_sets


def test_med_written_by_meshio(gmsh_files, tmp_path):
    path, counts = gmsh_files[1]
    reference = meshio_generic.read(path)
    points, cells, cell_sets = _merged_meshio(path)
    # MED groups are families: tag per cell + names of each tag
    cell_tags, families = [], {}
    for k, (cell_type, conn) in enumerate(cells):
        tags = np.zeros(len(conn), dtype=np.int64)
        for j, (name, ids) in enumerate(cell_sets.items()):
            tags[ids[k]] = -(j + 1)
            families[-(j + 1)] = [name]
        cell_tags.append(tags)
    rng = np.random.default_rng(0)
    u = rng.normal(size=(len(points), 3))
    stress = [rng.normal(size=(len(conn), 6)) for _, conn in cells]
    med = meshio.Mesh(points, cells, point_data={"u": u}, cell_data={"cell_tags": cell_tags, "stress": stress})
    med.cell_tags = families
    meshio.write(tmp_path / "two_boxes.med", med)

    sim = io_adapters.read(tmp_path / "two_boxes.med")
    mesh = sim.mesh
    np.testing.assert_array_equal(mesh.points, reference.mesh.points)
    np.testing.assert_array_equal(mesh.cells["tetra"], reference.mesh.cells["tetra"])
    assert {k: len(v) for k, v in mesh.cell_sets.items()} == {"left": counts["left"], "right": counts["right"]}
    for name in ("left", "right"):
        np.testing.assert_array_equal(np.sort(mesh.cell_sets[name]), np.sort(reference.mesh.cell_sets[name]))
    assert {k: len(v["triangle"]) for k, v in mesh.face_sets.items()} == {"clamp": counts["clamp"], "load": counts["load"]}
    np.testing.assert_array_equal(sim.times, [0.0])
    assert sim.fields["u"].support == "node" and sim.fields["u"].components == ("u1", "u2", "u3")
    np.testing.assert_array_equal(sim.fields["u"].values[0], u)
    tetra_block = [t for t, _ in cells].index("tetra")
    assert sim.fields["stress"].support == "cell"
    np.testing.assert_array_equal(sim.fields["stress"].values[0], stress[tetra_block])
    assert "cell_tags" not in sim.fields


def test_abaqus_written_by_meshio(gmsh_files, tmp_path):
    path, counts = gmsh_files[2]
    reference = meshio_generic.read(path)
    points, cells, cell_sets = _merged_meshio(path)
    meshio.write(tmp_path / "two_boxes.inp", meshio.Mesh(points, cells, cell_sets=cell_sets))
    sim = io_adapters.read(tmp_path / "two_boxes.inp")
    mesh = sim.mesh
    assert sim.n_times == 0
    np.testing.assert_array_equal(mesh.points, reference.mesh.points)
    np.testing.assert_array_equal(mesh.cells["tetra10"], reference.mesh.cells["tetra10"])
    for name in ("left", "right"):
        np.testing.assert_array_equal(np.sort(mesh.cell_sets[name]), np.sort(reference.mesh.cell_sets[name]))
    for name in ("clamp", "load"):
        np.testing.assert_array_equal(mesh.face_sets[name]["triangle6"], reference.mesh.face_sets[name]["triangle6"])


# ------------------------------------------------------------ VTU, one time
def _mixed_mesh():
    """Two hexahedra and six tetrahedra in three blocks (tetra, hexahedron, tetra), plus a boundary quad."""
    x = np.array([[i, j, k] for k in (0, 1) for j in (0, 1) for i in (0, 1, 2)], dtype=float)
    hexes = np.array([[0, 1, 4, 3, 6, 7, 10, 9], [1, 2, 5, 4, 7, 8, 11, 10]])
    # split the second hexahedron into tetrahedra for the tetra blocks
    tets = np.array([[1, 2, 5, 11], [1, 5, 4, 11], [1, 4, 10, 11], [1, 10, 7, 11], [1, 7, 8, 11], [1, 8, 2, 11]])
    blocks = [("tetra", tets[:3]), ("hexahedron", hexes[:1]), ("tetra", tets[3:]), ("quad", np.array([[0, 3, 9, 6]]))]
    return x, blocks


def test_vtu_point_and_cell_data(tmp_path):
    points, blocks = _mixed_mesh()
    centroid_x = [points[conn].mean(axis=1)[:, 0] for _, conn in blocks]
    stress = [np.arange(len(conn) * 6, dtype=float).reshape(-1, 6) + 100 * k for k, (_, conn) in enumerate(blocks)]
    displacement = points * [1.0, 2.0, 3.0]
    meshio.write(tmp_path / "mixed.vtu", meshio.Mesh(
        points, blocks, point_data={"u": displacement, "T": points[:, 2] + 20.0},
        cell_data={"cx": centroid_x, "stress": stress}))

    sim = meshio_generic.read(tmp_path / "mixed.vtu", time=2.5)
    mesh = sim.mesh
    np.testing.assert_array_equal(sim.times, [2.5])
    assert list(mesh.cells) == ["tetra", "hexahedron"] and mesh.n_cells == 7
    assert set(mesh.face_sets) == {"boundary_quad"}
    u, temperature = sim.fields["u"], sim.fields["T"]
    assert u.components == ("u1", "u2", "u3") and temperature.components == ("T",)
    np.testing.assert_array_equal(u.values[0], displacement)
    np.testing.assert_array_equal(temperature.values[0, :, 0], points[:, 2] + 20.0)
    # cell values follow the mesh's cell order (blocks merged by type), whatever the file's block order
    cx = sim.fields["cx"]
    assert cx.support == "cell" and cx.shape == (1, 7, 1)
    np.testing.assert_allclose(cx.values[0, :, 0], _centroids(mesh)[:, 0])
    assert sim.fields["stress"].components == tuple(f"stress{i}" for i in range(1, 7))
    np.testing.assert_array_equal(sim.fields["stress"].values[0], np.concatenate([stress[0], stress[2], stress[1]]))


# ---------------------------------------------------------------- time series
def _step_values(points, t):
    return {"u": points * t, "T": 20.0 + t * points[:, 0]}


def test_xdmf_time_series(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # meshio's TimeSeriesWriter puts its .h5 in the working directory
    points, blocks = _mixed_mesh()
    times = [0.0, 0.5, 1.5]
    path = tmp_path / "series.xdmf"
    with meshio.xdmf.TimeSeriesWriter(path) as writer:
        writer.write_points_cells(points, blocks[:2])
        for t in times:
            writer.write_data(t, point_data=_step_values(points, t),
                              cell_data={"c": [np.full(3, t), np.full(1, 10 * t)]})
    assert io_adapters.detect_format(path) == "meshio"
    sim = io_adapters.read(path)
    np.testing.assert_array_equal(sim.times, times)
    for k, t in enumerate(times):
        expected = _step_values(points, t)
        np.testing.assert_array_equal(sim.fields["u"].values[k], expected["u"])
        np.testing.assert_array_equal(sim.fields["T"].values[k, :, 0], expected["T"])
        np.testing.assert_array_equal(sim.fields["c"].values[k, :, 0], [t, t, t, 10 * t])


def _write_pvd(folder, entries):
    lines = ['<?xml version="1.0"?>', '<VTKFile type="Collection" version="0.1">', "  <Collection>"]
    lines += [f'    <DataSet timestep="{t}" group="" part="0" file="{name}"/>' for t, name in entries]
    lines += ["  </Collection>", "</VTKFile>"]
    (folder / "series.pvd").write_text("\n".join(lines))
    return folder / "series.pvd"


def test_pvd_collection(tmp_path):
    points, blocks = _mixed_mesh()
    times = [0.0, 0.5, 1.5]
    for k, t in enumerate(times):
        meshio.write(tmp_path / f"step_{k}.vtu", meshio.Mesh(points, blocks, point_data=_step_values(points, t)))
    path = _write_pvd(tmp_path, [(times[k], f"step_{k}.vtu") for k in (2, 0, 1)])  # any order in the file
    sim = io_adapters.read(path)
    np.testing.assert_array_equal(sim.times, times)
    assert sim.provenance["files"][1:] == [str(tmp_path / f"step_{k}.vtu") for k in range(3)]
    for k, t in enumerate(times):
        expected = _step_values(points, t)
        np.testing.assert_array_equal(sim.fields["u"].values[k], expected["u"])
        np.testing.assert_array_equal(sim.fields["T"].values[k, :, 0], expected["T"])


def test_pvd_missing_step_file(tmp_path):
    points, blocks = _mixed_mesh()
    meshio.write(tmp_path / "step_0.vtu", meshio.Mesh(points, blocks, point_data=_step_values(points, 0.0)))
    path = _write_pvd(tmp_path, [(0.0, "step_0.vtu"), (1.0, "step_1.vtu")])
    with pytest.raises(InputError, match=r"step_1\.vtu"):
        meshio_generic.read(path)


def test_pvd_steps_on_different_meshes(tmp_path):
    points, blocks = _mixed_mesh()
    moved = points.copy()
    moved[0, 0] -= 0.1
    meshio.write(tmp_path / "step_0.vtu", meshio.Mesh(points, blocks, point_data=_step_values(points, 0.0)))
    meshio.write(tmp_path / "step_1.vtu", meshio.Mesh(moved, blocks, point_data=_step_values(points, 1.0)))
    path = _write_pvd(tmp_path, [(0.0, "step_0.vtu"), (1.0, "step_1.vtu")])
    with pytest.raises(MeshMismatchError, match=r"step_1\.vtu"):
        meshio_generic.read(path)


def test_pvd_steps_with_different_data(tmp_path):
    points, blocks = _mixed_mesh()
    meshio.write(tmp_path / "step_0.vtu", meshio.Mesh(points, blocks, point_data=_step_values(points, 0.0)))
    meshio.write(tmp_path / "step_1.vtu", meshio.Mesh(points, blocks, point_data={"u": points}))
    path = _write_pvd(tmp_path, [(0.0, "step_0.vtu"), (1.0, "step_1.vtu")])
    with pytest.raises(InputError, match=r"step_1\.vtu"):
        meshio_generic.read(path)


# --------------------------------------------------------------------- errors
def test_unknown_extension_lists_supported(tmp_path):
    path = tmp_path / "model.foo"
    path.write_text("nothing")
    with pytest.raises(InputError, match=r"model\.foo") as info:
        meshio_generic.read(path)
    for suffix in (".vtu", ".msh", ".med", ".inp", ".xdmf", ".pvd"):
        assert suffix in str(info.value)


def test_corrupt_file_is_an_input_error(tmp_path):
    """meshio.read would print and sys.exit on this file; the reader raises InputError naming it."""
    path = tmp_path / "broken.vtu"
    path.write_text("<VTKFile type='UnstructuredGrid'><UnstructuredGrid>")
    with pytest.raises(InputError, match=r"broken\.vtu"):
        meshio_generic.read(path)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"absent\.vtu"):
        meshio_generic.read(tmp_path / "absent.vtu")
