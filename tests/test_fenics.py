"""io_adapters.fenics on time series written by dolfinx 0.11 itself, on 1 and 2 ranks.

The files come from ``tests/helpers/dolfinx_write_series.py`` (a real elasticity
solve), run once per session under ``mpiexec -n 1`` and ``-n 2``; the script
also saves dolfinx's own arrays (``reference.npz``), against which the reader's
values are compared by coordinates.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from scipy.spatial import cKDTree

import io_adapters
from io_adapters import fenics
from io_adapters.errors import InputError, MissingDependencyError

HELPER = Path(__file__).parent / "helpers" / "dolfinx_write_series.py"
CASES = ("p1", "p2", "p2_2d")

#: VTK edges (corner pairs) of the midside nodes, in node order.
MIDSIDE_EDGES = {
    "tetra10": [(0, 1), (1, 2), (0, 2), (0, 3), (1, 3), (2, 3)],
    "triangle6": [(0, 1), (1, 2), (0, 2)],
}

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("dolfinx") is None, reason="dolfinx (nirom[fenics]) is not installed"
)


def _write(outdir: Path, ranks: int) -> Path:
    outdir.mkdir(parents=True, exist_ok=True)
    mpiexec = Path(sys.executable).parent / "mpiexec"
    command = [str(mpiexec) if mpiexec.exists() else "mpiexec", "-n", str(ranks), sys.executable, str(HELPER), str(outdir)]
    # a clean MPI environment even when pytest itself runs under mpiexec
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "PMIX_", "HYDRA_", "MPIR_", "OMPI_"))}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}"
    return outdir


@pytest.fixture(scope="module")
def series(tmp_path_factory) -> dict[int, Path]:
    """Folders holding the files written on 1 and on 2 ranks."""
    root = tmp_path_factory.mktemp("dolfinx")
    return {ranks: _write(root / f"ranks{ranks}", ranks) for ranks in (1, 2)}


@pytest.fixture(scope="module")
def sims(series) -> dict[tuple[int, str], io_adapters.Simulation]:
    return {(ranks, case): fenics.read(folder / f"{case}.xdmf") for ranks, folder in series.items() for case in CASES}


def _match_rows(reader_coords: np.ndarray, reference_coords: np.ndarray) -> np.ndarray:
    """Reader row of each reference point (same coordinates)."""
    distance, rows = cKDTree(reader_coords).query(reference_coords)
    scale = np.ptp(reader_coords, axis=0).max()
    assert distance.max() < 1e-12 * scale
    assert len(np.unique(rows)) == len(rows)
    return rows


@pytest.mark.parametrize("ranks", [1, 2])
@pytest.mark.parametrize("case", CASES)
def test_values_equal_dolfinx_arrays(sims, series, ranks, case):
    sim = sims[ranks, case]
    reference = np.load(series[ranks] / "reference.npz")
    np.testing.assert_array_equal(sim.times, reference["times"])
    assert int(reference["ranks"]) == ranks
    names = sorted({key.split("/")[1] for key in reference.files if key.startswith(f"{case}/")})
    assert sorted(sim.fields) == names
    for name in names:
        field = sim.fields[name]
        coords = reference[f"{case}/{name}/coords"]
        expected = reference[f"{case}/{name}/values"]
        if field.support == "node":
            rows = _match_rows(sim.mesh.points, coords)
        else:
            centroids = np.concatenate([sim.mesh.points[c[:, :4]].mean(axis=1) for c in sim.mesh.cells.values()])
            rows = _match_rows(centroids, coords)
        assert field.shape == (3, len(rows), expected.shape[2])
        np.testing.assert_allclose(field.values[:, rows], expected, rtol=0, atol=1e-14 * np.abs(expected).max())


def test_field_layout(sims):
    p1 = sims[1, "p1"]
    assert p1.fields["u"].support == "node" and p1.fields["u"].components == ("u1", "u2", "u3")
    assert p1.fields["T"].components == ("T",)
    assert p1.fields["von_mises"].support == "cell" and p1.fields["von_mises"].shape == (3, p1.mesh.n_cells, 1)
    assert list(p1.mesh.cells) == ["tetra"] and p1.mesh.dim == 3
    two_d = sims[1, "p2_2d"]
    assert list(two_d.mesh.cells) == ["triangle6"] and two_d.mesh.dim == 2
    # dolfinx pads 2D vectors to 3 components; the padding is dropped
    assert two_d.fields["u"].components == ("u1", "u2")
    assert np.all(two_d.mesh.points[:, 2] == 0)


@pytest.mark.parametrize("case", CASES)
def test_one_and_two_ranks_read_the_same(sims, case):
    one, two = sims[1, case], sims[2, case]
    np.testing.assert_array_equal(one.mesh.points, two.mesh.points)
    assert list(one.mesh.cells) == list(two.mesh.cells)
    for cell_type in one.mesh.cells:
        np.testing.assert_array_equal(one.mesh.cells[cell_type], two.mesh.cells[cell_type])
    np.testing.assert_array_equal(one.times, two.times)
    assert one.fields.keys() == two.fields.keys()
    for name in one.fields:
        a, b = one.fields[name].values, two.fields[name].values
        # the mesh is bit-identical; the values differ only by the round-off of the serial and
        # parallel MUMPS solves (measured up to 1.6e-12 of max|u| for P2), not by the reader,
        # which reproduces each run's own arrays to 1e-14 (test_values_equal_dolfinx_arrays)
        assert np.abs(a - b).max() <= 1e-11 * np.abs(a).max(), name


def test_dolfinx_did_renumber(sims):
    """The 2-rank file is ordered differently: the canonical order is doing the work."""
    one, two = sims[1, "p1"].mesh, sims[2, "p1"].mesh
    assert not np.array_equal(one.point_ids, two.point_ids)
    assert not np.array_equal(one.cell_ids, two.cell_ids)


@pytest.mark.parametrize("case", CASES)
def test_canonical_order(sims, case):
    mesh = sims[2, case].mesh
    # nodes sorted by (x, y, z) rounded to 1e-9 of the bounding-box diagonal
    x = np.rint((mesh.points - mesh.points.min(0)) / (1e-9 * np.linalg.norm(np.ptp(mesh.points, axis=0))))
    assert np.all(np.lexsort(x.T[::-1]) == np.arange(len(x)))
    conn = next(iter(mesh.cells.values()))
    keys = np.sort(conn, axis=1)
    assert np.all(np.lexsort(keys.T[::-1]) == np.arange(len(conn)))  # cells sorted by sorted nodes


@pytest.mark.parametrize("case", ["p2", "p2_2d"])
def test_quadratic_node_order_is_vtk(sims, case):
    """Straight-edged second-order Gmsh meshes: midside nodes sit at their VTK edge's midpoint."""
    mesh = sims[1, case].mesh
    (cell_type, conn), = mesh.cells.items()
    n_corners = conn.shape[1] - len(MIDSIDE_EDGES[cell_type])
    edges = np.array(MIDSIDE_EDGES[cell_type])
    midpoints = 0.5 * (mesh.points[conn[:, edges[:, 0]]] + mesh.points[conn[:, edges[:, 1]]])
    np.testing.assert_allclose(mesh.points[conn[:, n_corners:]], midpoints, atol=1e-12)


def test_partial_reads(sims):
    field = sims[2, "p1"].fields["u"]
    rows = np.array([3, 40, 41, 143])
    np.testing.assert_array_equal(field.read(steps=[0, 2], rows=rows), field.values[[0, 2]][:, rows])
    np.testing.assert_array_equal(field.read(steps=slice(1, 2), rows=slice(10, 20)), field.values[1:2, 10:20])


def test_detection_and_dispatch(series, tmp_path, monkeypatch):
    path = series[1] / "p1.xdmf"
    assert fenics.is_dolfinx_xdmf(path)
    assert io_adapters.detect_format(path) == "fenics"
    sim = io_adapters.read(path)
    assert sim.provenance["format"] == "fenics" and set(sim.fields) == {"u", "T", "von_mises"}
    # the generic reader hands dolfinx files over instead of letting meshio end the process
    from io_adapters import meshio_generic

    assert meshio_generic.read(path).provenance["format"] == "fenics"

    import meshio

    monkeypatch.chdir(tmp_path)  # meshio's TimeSeriesWriter puts its .h5 in the working directory
    other = tmp_path / "meshio_series.xdmf"
    with meshio.xdmf.TimeSeriesWriter(other) as writer:
        writer.write_points_cells(np.eye(3, 3), [("triangle", np.array([[0, 1, 2]]))])
        writer.write_data(0.0, point_data={"a": np.zeros(3)})
    assert not fenics.is_dolfinx_xdmf(other)
    (tmp_path / "garbage.xdmf").write_text("not xml at all <")
    assert not fenics.is_dolfinx_xdmf(tmp_path / "garbage.xdmf")


def _copy(series, tmp_path, case="p1") -> Path:
    for suffix in (".xdmf", ".h5"):
        shutil.copy(series[1] / f"{case}{suffix}", tmp_path / f"{case}{suffix}")
    return tmp_path / f"{case}.xdmf"


def test_missing_hdf5_file(series, tmp_path):
    path = _copy(series, tmp_path)
    (tmp_path / "p1.h5").unlink()
    with pytest.raises(InputError, match=r"p1\.h5"):
        fenics.read(path)


def test_missing_dataset(series, tmp_path):
    path = _copy(series, tmp_path)
    with h5py.File(tmp_path / "p1.h5", "a") as f:
        del f["Function/u/1"]
    with pytest.raises(InputError, match=r"Function/u/1"):
        fenics.read(path)


def test_functions_at_different_times(series, tmp_path):
    path = _copy(series, tmp_path)
    text = path.read_text()
    head, sep, tail = text.partition('<Grid Name="T" GridType="Collection"')
    path.write_text(head + sep + tail.replace('<Time Value="1" />', '<Time Value="2" />', 1))
    with pytest.raises(InputError, match=r"'u' and 'T'.*different times"):
        fenics.read(path)


def test_coincident_nodes(series, tmp_path):
    path = _copy(series, tmp_path)
    with h5py.File(tmp_path / "p1.h5", "a") as f:
        geometry = f["Mesh/mesh/geometry"]
        geometry[5] = geometry[7]
    with pytest.raises(InputError, match="coincide"):
        fenics.read(path)


@pytest.fixture(scope="module")
def vtx(series) -> dict[tuple[int, str], io_adapters.Simulation]:
    return {(ranks, case): io_adapters.read(folder / f"{case}.bp") for ranks, folder in series.items()
            for case in CASES}


@pytest.mark.parametrize("ranks", [1, 2])
@pytest.mark.parametrize("case", CASES)
def test_vtx_reads_as_its_xdmf_twin(vtx, sims, ranks, case):
    """Two files dolfinx wrote from the same arrays, two readers: one simulation."""
    a, b = vtx[ranks, case], sims[ranks, case]
    assert a.provenance["writer"] == "VTX" and a.provenance["blocks"] == ranks
    scale = np.abs(b.mesh.points).max()
    np.testing.assert_allclose(a.mesh.points, b.mesh.points, rtol=0, atol=1e-14 * scale)
    assert list(a.mesh.cells) == list(b.mesh.cells) and a.mesh.dim == b.mesh.dim
    for cell_type in a.mesh.cells:
        np.testing.assert_array_equal(a.mesh.cells[cell_type], b.mesh.cells[cell_type])
    np.testing.assert_array_equal(a.times, b.times)
    assert set(a.fields) == {n for n, f in b.fields.items() if f.support == "node"}
    for name, field in a.fields.items():
        assert field.components == b.fields[name].components
        expected = b.fields[name].values
        np.testing.assert_allclose(field.values, expected, rtol=0, atol=1e-14 * np.abs(expected).max())
        np.testing.assert_array_equal(field.read(steps=[2], rows=slice(3, 40)), field.values[2:3, 3:40])


@pytest.mark.parametrize("case", CASES)
def test_vtx_one_and_two_ranks_read_the_same(vtx, case):
    one, two = vtx[1, case], vtx[2, case]
    # VTX writes the dofs' coordinates, tabulated on each rank: equal to round-off (XDMF's are bit-equal)
    np.testing.assert_allclose(one.mesh.points, two.mesh.points, rtol=0, atol=1e-14 * np.abs(one.mesh.points).max())
    for cell_type in one.mesh.cells:
        np.testing.assert_array_equal(one.mesh.cells[cell_type], two.mesh.cells[cell_type])
        if cell_type in MIDSIDE_EDGES:   # each midside node at the middle of its VTK edge
            x, conn = two.mesh.points, two.mesh.cells[cell_type]
            n_corners = conn.shape[1] - len(MIDSIDE_EDGES[cell_type])
            for k, (i, j) in enumerate(MIDSIDE_EDGES[cell_type]):
                middle = 0.5 * (x[conn[:, i]] + x[conn[:, j]])
                np.testing.assert_allclose(x[conn[:, n_corners + k]], middle, atol=1e-12)
    for name in one.fields:
        a, b = one.fields[name].values, two.fields[name].values
        assert np.abs(a - b).max() <= 1e-11 * np.abs(a).max(), name   # serial vs parallel MUMPS round-off


def test_vtx_bad_folders_are_refused(series, tmp_path):
    empty = tmp_path / "empty.bp"
    empty.mkdir()
    with pytest.raises(InputError, match=r"empty\.bp: not an ADIOS2 \.bp folder \(no md\.idx\)"):
        io_adapters.read(empty)
    broken = tmp_path / "broken.bp"
    shutil.copytree(series[2] / "p1.bp", broken)
    (broken / "md.idx").write_bytes(b"not an index")
    with pytest.raises(InputError, match=r"broken\.bp: "):
        io_adapters.read(broken).fields["u"].values


def test_vtx_needs_adios2(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "adios2", None)  # makes `import adios2` fail
    bp = tmp_path / "u.bp"
    bp.mkdir()
    with pytest.raises(MissingDependencyError, match="adios2"):
        fenics.read(bp)
    with pytest.raises(MissingDependencyError, match="adios2"):
        io_adapters.read(bp)
