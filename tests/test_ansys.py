"""io_adapters.ansys on files written by Ansys (tests/data/ansys, the library's examples).

Values are checked against independent paths: the library's own arrays matched
by Ansys node number, the node coordinates by number, and, for the strain
convention, strains differentiated from the displacements with the tet10 shape
functions.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import io_adapters
from io_adapters import ansys
from io_adapters.errors import InputError, MissingDependencyError

reader = pytest.importorskip("ansys.mapdl.reader")
# the library's own calls in these tests use a pyvista API that pyvista deprecates
pytestmark = pytest.mark.filterwarnings("ignore:.*is deprecated")
EXAMPLES = Path(reader.examples.__file__).parent


@pytest.fixture(scope="module")
def muscat_path(data_dir) -> Path:
    """Static analysis, 30 SOLID187 + 4 SURF154, 93 nodes (Ansys 25.2)."""
    return data_dir / "ansys" / "file.rst"


@pytest.fixture(scope="module")
def muscat(muscat_path):
    return ansys.read(muscat_path)


@pytest.fixture(scope="module")
def library(muscat_path):
    return reader.read_binary(str(muscat_path))


def _by_number(numbers, wanted):
    """Rows of ``numbers`` holding each of ``wanted`` (plain dictionary lookup)."""
    where = {int(n): i for i, n in enumerate(numbers)}
    return np.array([where[int(n)] for n in wanted])


def _tetra_volumes(points, conn):
    a, b, c, d = (points[conn[:, i]] for i in range(4))
    return np.einsum("ij,ij->i", np.cross(b - a, c - a), d - a) / 6


# ----------------------------------------------------------------------- mesh
def test_mesh_of_a_result_file(muscat, library):
    mesh = muscat.mesh
    assert list(mesh.cells) == ["tetra10"] and mesh.n_cells == 30 and mesh.n_nodes == 93
    assert mesh.dim == 3
    # the four SURF154 (type 2) elements are a face set of quadratic triangles
    assert list(mesh.face_sets) == ["SURF154_2"]
    assert mesh.face_sets["SURF154_2"]["triangle6"].shape == (4, 6)
    solid = library.mesh.etype == 187
    np.testing.assert_array_equal(mesh.cell_ids, library.mesh.enum[solid])
    # coordinates and node sets by Ansys node number
    rows = _by_number(library.mesh.nnum, mesh.point_ids)
    np.testing.assert_array_equal(mesh.points, library.mesh.nodes[rows])
    fixed = library.mesh.node_components["_FIXEDSU"]
    np.testing.assert_array_equal(np.sort(mesh.point_ids[mesh.node_sets["_FIXEDSU"]]), np.sort(fixed))


def test_tet10_node_order(muscat):
    """Straight-edged tet10: midside nodes at their VTK edge's midpoint; corner volumes positive."""
    mesh = muscat.mesh
    conn = mesh.cells["tetra10"]
    edges = np.array(ansys.MIDSIDE_EDGES["tetra10"])
    assert edges.tolist() == [[0, 1], [1, 2], [2, 0], [0, 3], [1, 3], [2, 3]]  # VTK_QUADRATIC_TETRA
    midpoints = 0.5 * (mesh.points[conn[:, edges[:, 0]]] + mesh.points[conn[:, edges[:, 1]]])
    np.testing.assert_allclose(mesh.points[conn[:, 4:]], midpoints, atol=1e-9 * np.ptp(mesh.points))
    assert np.all(_tetra_volumes(mesh.points, conn) > 0)
    triangles = mesh.face_sets["SURF154_2"]["triangle6"]
    midpoints = 0.5 * (mesh.points[triangles[:, [0, 1, 2]]] + mesh.points[triangles[:, [1, 2, 0]]])
    np.testing.assert_allclose(mesh.points[triangles[:, 3:]], midpoints, atol=1e-9 * np.ptp(mesh.points))


# --------------------------------------------------------------------- values
def test_fields_and_times(muscat):
    assert set(muscat.fields) == {"U", "S", "EPEL", "TEMP", "RF"}
    np.testing.assert_array_equal(muscat.times, [1.0])
    assert muscat.fields["U"].components == ("UX", "UY", "UZ")
    assert muscat.fields["S"].components == ("SX", "SY", "SZ", "SXY", "SYZ", "SXZ")
    assert all(f.support == "node" and f.shape[:2] == (1, 93) for f in muscat.fields.values())
    assert muscat.provenance["solver_version"] == "25.2" and muscat.provenance["analysis"] == "static"
    np.testing.assert_array_equal(muscat.fields["TEMP"].values, 22.0)  # uniform body temperature


def test_displacement_by_node_number(muscat, library):
    numbers, expected = library.nodal_displacement(0)
    rows = _by_number(numbers, muscat.mesh.point_ids)
    np.testing.assert_array_equal(muscat.fields["U"].values[0], expected[rows])


def test_rows_follow_the_mesh_not_the_library(muscat_path, muscat, monkeypatch):
    """The library's arrays are matched by node number: reversing them changes nothing."""
    original = reader.rst.Result.nodal_solution

    def reversed_solution(self, *args, **kwargs):
        numbers, values = original(self, *args, **kwargs)
        return numbers[::-1], values[::-1]

    monkeypatch.setattr(reader.rst.Result, "nodal_solution", reversed_solution)
    again = ansys.read(muscat_path)
    np.testing.assert_array_equal(again.fields["U"].values, muscat.fields["U"].values)


def test_rows_by_number():
    found, rows = ansys.rows_by_number(np.array([30, 10, 20]), np.array([20, 40, 30, 10]))
    np.testing.assert_array_equal(found, [True, False, True, True])
    np.testing.assert_array_equal(rows[found], [2, 0, 1])


def test_stress_corners_from_library_midside_averaged(muscat, library):
    numbers, expected = library.nodal_stress(0)
    expected = expected[_by_number(numbers, muscat.mesh.point_ids)]
    stress = muscat.fields["S"].values[0]
    corners = np.isfinite(expected).all(axis=1)
    assert corners.sum() == 22 and not np.isfinite(expected[~corners]).any()  # NaN at the 71 midside nodes
    np.testing.assert_array_equal(stress[corners], expected[corners])
    conn = muscat.mesh.cells["tetra10"]
    edges = np.array(ansys.MIDSIDE_EDGES["tetra10"])
    midside = conn[:, 4:].ravel()
    mean = 0.5 * (stress[conn[:, edges[:, 0]]] + stress[conn[:, edges[:, 1]]]).reshape(-1, 6)
    np.testing.assert_allclose(stress[midside], mean, rtol=1e-12)
    assert np.isfinite(stress).all()


def test_strain_is_engineering_shear_in_voigt_order(muscat):
    """EPEL equals the strain differentiated from U, with [11, 22, 33, 12, 23, 31] and 2*eps_ij shears.

    SOLID187's strain is linear in each element, so Ansys' nodal values (4 Gauss
    points extrapolated, then averaged) are the average over the node's elements
    of the strain at the node.
    """
    mesh, u = muscat.mesh, muscat.fields["U"].values[0]
    conn = mesh.cells["tetra10"]
    x = mesh.points[conn[:, :4]]
    # gradients of the barycentric coordinates, (n_cells, 4, 3)
    affine = np.concatenate([np.ones((len(conn), 4, 1)), x], axis=2)
    grad_l = np.linalg.inv(affine)[:, 1:, :].transpose(0, 2, 1)
    edges = np.array(ansys.MIDSIDE_EDGES["tetra10"])
    strain = np.zeros((mesh.n_nodes, 6))
    count = np.zeros(mesh.n_nodes)
    for k in range(4):  # at corner k: L = e_k
        lam = np.eye(4)[k]
        d_shape = np.concatenate([
            (4 * lam - 1)[None, :, None] * grad_l,
            4 * (lam[edges[:, 1]][None, :, None] * grad_l[:, edges[:, 0]]
                 + lam[edges[:, 0]][None, :, None] * grad_l[:, edges[:, 1]]),
        ], axis=1)  # (n_cells, 10, 3)
        grad_u = np.einsum("cni,cnj->cij", u[conn], d_shape)
        eps = 0.5 * (grad_u + grad_u.transpose(0, 2, 1))
        voigt = np.stack([eps[:, 0, 0], eps[:, 1, 1], eps[:, 2, 2],
                          2 * eps[:, 0, 1], 2 * eps[:, 1, 2], 2 * eps[:, 2, 0]], axis=1)
        np.add.at(strain, conn[:, k], voigt)
        np.add.at(count, conn[:, k], 1)
    corners = count > 0
    strain = strain[corners] / count[corners, None]
    epel = muscat.fields["EPEL"].values[0][corners]
    np.testing.assert_allclose(epel, strain, rtol=0, atol=1e-6 * np.abs(epel).max())  # float32 in the file
    assert muscat.fields["EPEL"].components == ("EPELX", "EPELY", "EPELZ", "EPELXY", "EPELYZ", "EPELXZ")


def test_stress_is_hooke_of_elastic_strain(muscat, library):
    """sigma_12 = G * gamma_12: the engineering-shear strain and the stress share the Voigt order."""
    material = library.materials[1]
    young, poisson = material["EX"], material["NUXY"]
    lam, mu = young * poisson / (1 + poisson) / (1 - 2 * poisson), young / 2 / (1 + poisson)
    eps = muscat.fields["EPEL"].values[0]
    trace = eps[:, :3].sum(axis=1, keepdims=True)
    sigma = np.concatenate([lam * trace + 2 * mu * eps[:, :3], mu * eps[:, 3:]], axis=1)
    stress = muscat.fields["S"].values[0]
    np.testing.assert_allclose(sigma, stress, rtol=0, atol=1e-6 * np.abs(stress).max())


def test_reaction_forces(muscat, library):
    forces, numbers, dofs = library.nodal_reaction_forces(0)
    rf = muscat.fields["RF"].values[0]
    rows = _by_number(muscat.mesh.point_ids, numbers)
    np.testing.assert_array_equal(rf[rows, dofs - 1], forces)
    free = np.setdiff1d(np.arange(muscat.mesh.n_nodes), rows)
    assert np.all(rf[free] == 0)
    assert set(muscat.mesh.point_ids[rows]) <= set(muscat.mesh.point_ids[muscat.mesh.node_sets["_FIXEDSU"]])


def test_partial_reads(muscat):
    field = muscat.fields["S"]
    rows = np.array([0, 5, 50, 92])
    np.testing.assert_array_equal(field.read(rows=rows), field.values[:, rows])


def test_modal_result_of_the_library_example():
    """SOLID186 hex20, six modes: times are mode numbers, frequencies are parameters."""
    sim = io_adapters.read(EXAMPLES / "file.rst")
    result = reader.read_binary(str(EXAMPLES / "file.rst"))
    assert sim.provenance["analysis"] == "modal"
    np.testing.assert_array_equal(sim.times, np.arange(1, 7))
    np.testing.assert_array_equal(sim.parameters["frequencies"], result.time_values)
    mesh = sim.mesh
    assert list(mesh.cells) == ["hexahedron20"] and mesh.n_cells == 40
    for step in range(6):
        numbers, expected = result.nodal_displacement(step)
        np.testing.assert_array_equal(sim.fields["U"].values[step], expected[_by_number(numbers, mesh.point_ids)])
    conn = mesh.cells["hexahedron20"]
    edges = np.array(ansys.MIDSIDE_EDGES["hexahedron20"])
    midpoints = 0.5 * (mesh.points[conn[:, edges[:, 0]]] + mesh.points[conn[:, edges[:, 1]]])
    np.testing.assert_allclose(mesh.points[conn[:, 8:]], midpoints, atol=1e-9 * np.ptp(mesh.points))
    assert np.isfinite(sim.fields["S"].values).all()


# ------------------------------------------------------------------- archives
def test_archive_is_mesh_only(data_dir):
    sim = io_adapters.read(data_dir / "ansys" / "exemple.cdb")
    assert sim.n_times == 0 and sim.fields == {}
    assert list(sim.mesh.cells) == ["tetra10"] and sim.mesh.n_nodes == 10
    archive = reader.Archive(str(data_dir / "ansys" / "exemple.cdb"))
    np.testing.assert_array_equal(np.sort(sim.mesh.point_ids[sim.mesh.node_sets["FACE_BLOCKED"]]),
                                  np.sort(archive.node_components["FACE_BLOCKED"]))


def test_archive_components():
    sim = ansys.read(EXAMPLES / "HexBeam.cdb")
    archive = reader.Archive(str(EXAMPLES / "HexBeam.cdb"))
    mesh = sim.mesh
    assert set(mesh.node_sets) == {"NCOMP2", "NODE_SELECTION"} and set(mesh.cell_sets) == {"ECOMP1", "ECOMP2"}
    for name, members in archive.node_components.items():
        np.testing.assert_array_equal(np.sort(mesh.point_ids[mesh.node_sets[name]]), np.sort(members))
    for name, members in archive.element_components.items():
        np.testing.assert_array_equal(np.sort(mesh.cell_ids[mesh.cell_sets[name]]), np.sort(members))
    rows = _by_number(archive.nnum, mesh.point_ids)
    np.testing.assert_array_equal(mesh.points, archive.nodes[rows])


@pytest.mark.parametrize("name, cells", [("TetBeam.cdb", {"tetra": 3913}),
                                         ("sector.cdb", {"hexahedron": 101, "wedge": 4})])
def test_library_example_archives(name, cells):
    mesh = ansys.read(EXAMPLES / name).mesh
    assert {t: len(c) for t, c in mesh.cells.items()} == cells
    if "tetra" in mesh.cells:
        assert np.all(_tetra_volumes(mesh.points, mesh.cells["tetra"]) > 0)


def _quadratic_grid():
    """One hex20, one wedge15, one pyramid13 and one tetra10 in VTK order, made by VTK."""
    pv = pytest.importorskip("pyvista")
    vtk = pytest.importorskip("vtk")
    shapes = [
        (pv.CellType.HEXAHEDRON, [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]]),
        (pv.CellType.WEDGE, [[2, 0, 0], [3, 0, 0], [2, 1, 0], [2, 0, 1], [3, 0, 1], [2, 1, 1]]),
        (pv.CellType.PYRAMID, [[4, 0, 0], [5, 0, 0], [5, 1, 0], [4, 1, 0], [4.5, 0.5, 1]]),
        (pv.CellType.TETRA, [[6, 0, 0], [7, 0, 0], [6, 1, 0], [6, 0, 1]]),
    ]
    points, cells, start = [], [], 0
    for _, corners in shapes:
        points += corners
        cells += [len(corners)] + list(range(start, start + len(corners)))
        start += len(corners)
    linear = pv.UnstructuredGrid(np.array(cells), np.array([t for t, _ in shapes], np.uint8), np.array(points, float))
    to_quadratic = vtk.vtkLinearToQuadraticCellsFilter()
    to_quadratic.SetInputData(linear)
    to_quadratic.Update()
    return pv.wrap(to_quadratic.GetOutput())


def test_degenerate_solid186_forms(tmp_path):
    """The library's archive writer stores wedge15 and pyramid13 as degenerate SOLID186 bricks."""
    grid = _quadratic_grid()
    reader.save_as_archive(str(tmp_path / "shapes.cdb"), grid)
    text = (tmp_path / "shapes.cdb").read_text()
    assert "ET,1,186" in text and "ET,2,187" in text
    mesh = ansys.read(tmp_path / "shapes.cdb").mesh
    assert list(mesh.cells) == ["hexahedron20", "wedge15", "pyramid13", "tetra10"]
    offsets = grid.cell_offsets
    for k, (cell_type, conn) in enumerate(mesh.cells.items()):
        expected = grid.points[grid.cell_connectivity[offsets[k]:offsets[k + 1]]]
        np.testing.assert_allclose(mesh.points[conn[0]], expected)  # same nodes in the same (VTK) order


def test_missing_midside_nodes_are_created(tmp_path):
    """A SOLID186 with dropped midside nodes (0 in the EBLOCK): nodes created at edge midpoints, id -1."""
    lines = (EXAMPLES / "HexBeam.cdb").read_text().splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith("EBLOCK")) + 2
    width = int(lines[start - 1].strip().strip("()").split("i")[1])  # (19i10): 10 characters a field
    # the first element's second line holds its 12 midside nodes: drop the first two
    lines[start + 1] = f"{0:{width}d}" * 2 + lines[start + 1][2 * width:]
    (tmp_path / "dropped.cdb").write_text("".join(lines))
    mesh = ansys.read(tmp_path / "dropped.cdb").mesh
    created = np.flatnonzero(mesh.point_ids == -1)
    assert len(created) == 2
    conn = mesh.cells["hexahedron20"]
    edges = np.array(ansys.MIDSIDE_EDGES["hexahedron20"])
    midpoints = 0.5 * (mesh.points[conn[:, edges[:, 0]]] + mesh.points[conn[:, edges[:, 1]]])
    np.testing.assert_allclose(mesh.points[conn[:, 8:]], midpoints, atol=1e-9 * np.ptp(mesh.points))
    assert np.isin(created, conn[:, 8:]).all()


def test_shell_elements_are_refused(tmp_path):
    pv = pytest.importorskip("pyvista")
    grid = _quadratic_grid()
    quad = pv.UnstructuredGrid(np.array([4, 0, 1, 2, 3]), np.array([pv.CellType.QUAD], np.uint8), grid.points)
    reader.save_as_archive(str(tmp_path / "with_shell.cdb"), grid.merge(quad, merge_points=False))
    with pytest.raises(InputError, match=r"with_shell\.cdb.*SHELL181"):
        ansys.read(tmp_path / "with_shell.cdb")
    mesh = ansys.read(tmp_path / "with_shell.cdb", ignore_unsupported=True).mesh
    assert mesh.n_cells == 4 and not mesh.face_sets


# --------------------------------------------------------------------- errors
def test_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"absent\.rst"):
        io_adapters.read(tmp_path / "absent.rst")
    with pytest.raises(InputError, match=r"absent\.rst"):
        ansys.read(tmp_path / "absent.rst")


@pytest.mark.parametrize("size", [0, 100, 4096, 100_000, 200_000, 300_000])
def test_truncated_result_file(muscat_path, tmp_path, size):
    """Some of these sizes make the library's compiled reader abort the process."""
    path = tmp_path / "cut.rst"
    path.write_bytes(muscat_path.read_bytes()[:size])
    with pytest.raises(InputError, match=r"cut\.rst"):
        ansys.read(path)


def test_not_a_result_file(tmp_path):
    path = tmp_path / "text.rst"
    path.write_text("this is not an Ansys file\n" * 200)
    with pytest.raises(InputError, match=r"text\.rst"):
        ansys.read(path)


def test_unreadable_archive(tmp_path):
    path = tmp_path / "empty.cdb"
    path.write_text("/PREP7\nFINISH\n")
    with pytest.raises(InputError, match=r"empty\.cdb"):
        ansys.read(path)


def test_missing_library(muscat_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ansys.mapdl.reader", None)  # `import` now fails
    with pytest.raises(MissingDependencyError, match=r"nirom\[ansys\]"):
        ansys.read(muscat_path)
    with pytest.raises(MissingDependencyError, match=r"nirom\[ansys\]"):
        ansys.read(muscat_path.with_name("exemple.cdb"))
