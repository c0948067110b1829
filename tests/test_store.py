"""The in-house HDF5 store: round trips, partial reads, atomicity, validation, XDMF."""

from __future__ import annotations

import os

import h5py
import meshio
import numpy as np
import pytest

import io_adapters
from io_adapters import Field, InputError, Mesh, MeshMismatchError, Simulation
from io_adapters.store import read, read_field, sidecar_path, write
from io_adapters.simulation import FieldSource

VOIGT = ("11", "22", "33", "12", "23", "31")


def box_mesh(n: int = 3, with_wedges: bool = False) -> Mesh:
    """A unit cube of (n-1)^3 hexahedra (optionally the last layer as wedges)."""
    xs = np.linspace(0.0, 1.0, n)
    z, y, x = np.meshgrid(xs, xs, xs, indexing="ij")
    points = np.column_stack([x.ravel(), y.ravel(), z.ravel()])
    i, j, k = np.meshgrid(np.arange(n - 1), np.arange(n - 1), np.arange(n - 1), indexing="ij")
    i, j, k = i.ravel(), j.ravel(), k.ravel()

    def node(a, b, c):
        return a + n * b + n * n * c

    hexes = np.column_stack([
        node(i, j, k), node(i + 1, j, k), node(i + 1, j + 1, k), node(i, j + 1, k),
        node(i, j, k + 1), node(i + 1, j, k + 1), node(i + 1, j + 1, k + 1), node(i, j + 1, k + 1),
    ])
    cells = {"hexahedron": hexes}
    if with_wedges:
        h = hexes[-1]
        cells = {"hexahedron": hexes[:-1],
                 "wedge": np.array([[h[0], h[1], h[3], h[4], h[5], h[7]], [h[1], h[2], h[3], h[5], h[6], h[7]]])}
    bottom = np.flatnonzero(points[:, 2] == 0.0)
    return Mesh(
        points=points,
        cells=cells,
        node_sets={"z0": bottom, "name with/slash": bottom[:2]},
        cell_sets={"first": np.array([0, 1])},
        face_sets={"bottom": {"quad": hexes[k == 0][:, [0, 3, 2, 1]]}},
        point_ids=np.arange(len(points)) + 1,
    )


def simulation(mesh: Mesh | None = None, n_times: int = 4, seed: int = 0) -> Simulation:
    mesh = mesh or box_mesh()
    rng = np.random.default_rng(seed)
    n_ip = sum(len(c) * (8 if t == "hexahedron" else 6) for t, c in mesh.cells.items())
    return Simulation(
        mesh=mesh,
        times=np.linspace(0.0, 1.0, n_times),
        fields={
            "U": Field("node", ("U1", "U2", "U3"), rng.normal(size=(n_times, mesh.n_nodes, 3))),
            "sig": Field("integration_point", tuple("sig" + c for c in VOIGT),
                         rng.normal(size=(n_times, n_ip, 6)), rule="zset"),
            "evrcum": Field("integration_point", ("evrcum",), rng.random((n_times, n_ip, 1)), rule="zset"),
            "damage": Field("cell", ("damage",), rng.random((n_times, mesh.n_cells, 1))),
        },
        parameters={"pressure": -50.0, "run": "a"},
        provenance={"format": "test", "files": ["memory"]},
    )


def test_round_trip_keeps_everything(tmp_path):
    sim = simulation()
    path = io_adapters.save(sim, tmp_path / "run.h5")
    back = io_adapters.read(path)
    assert io_adapters.detect_format(path) == "nirom"
    np.testing.assert_array_equal(back.mesh.points, sim.mesh.points)
    np.testing.assert_array_equal(back.mesh.cells["hexahedron"], sim.mesh.cells["hexahedron"])
    np.testing.assert_array_equal(back.mesh.point_ids, sim.mesh.point_ids)
    assert set(back.mesh.node_sets) == {"z0", "name with/slash"}
    np.testing.assert_array_equal(back.mesh.face_sets["bottom"]["quad"], sim.mesh.face_sets["bottom"]["quad"])
    np.testing.assert_array_equal(back.times, sim.times)
    assert back.parameters == sim.parameters and back.provenance == sim.provenance
    for name, fld in sim.fields.items():
        assert back.fields[name].support == fld.support
        assert back.fields[name].components == fld.components
        assert back.fields[name].rule == fld.rule
        np.testing.assert_array_equal(back.fields[name].values, fld.values)


def test_float32_storage_is_exact_for_float32_values(tmp_path):
    sim = simulation()
    path = write(sim, tmp_path / "run.h5", dtype="float32")
    with h5py.File(path) as f:
        assert f["fields/0"].dtype == np.float32
        assert f["fields/0"].chunks[0] == 1          # chunked by time step
    expected = sim.fields["U"].values.astype(np.float32).astype(np.float64)
    np.testing.assert_array_equal(read(path).fields["U"].values, expected)


def test_partial_reads_return_the_requested_rows_and_steps(tmp_path):
    sim = simulation()
    path = write(sim, tmp_path / "run.h5")
    rows = np.array([3, 4, 5, 17, 40, 63])
    got = read_field(path, "sig", steps=[0, 2, 3], rows=rows)
    np.testing.assert_array_equal(got, sim.fields["sig"].values[[0, 2, 3]][:, rows])
    got = read_field(path, "U", steps=slice(1, 3), rows=slice(5, 9))
    np.testing.assert_array_equal(got, sim.fields["U"].values[1:3, 5:9])
    mask = np.zeros(sim.mesh.n_nodes, bool)
    mask[[0, 26]] = True
    np.testing.assert_array_equal(read_field(path, "U", rows=mask), sim.fields["U"].values[:, [0, 26]])


def test_reading_a_subdomain_gives_its_submesh_and_rows(tmp_path):
    sim = simulation(box_mesh(with_wedges=True))
    path = write(sim, tmp_path / "run.h5")
    cells = np.array([2, 6, 8])   # a hexahedron, the last hexahedron, the second wedge
    sub = read(path, cells=cells, steps=[1, 3])
    np.testing.assert_array_equal(sub.times, sim.times[[1, 3]])
    assert {t: len(c) for t, c in sub.mesh.cells.items()} == {"hexahedron": 2, "wedge": 1}
    nodes = sub.mesh.point_ids
    np.testing.assert_array_equal(sub.mesh.points, sim.mesh.points[nodes])
    np.testing.assert_array_equal(sub.fields["U"].values, sim.fields["U"].values[[1, 3]][:, nodes])
    # integration points: hexahedron 2 -> rows 16..23, hexahedron 6 -> 48..55, wedge 8 -> 62..67
    ip_rows = np.r_[16:24, 48:56, 62:68]
    np.testing.assert_array_equal(sub.fields["sig"].values, sim.fields["sig"].values[[1, 3]][:, ip_rows])
    np.testing.assert_array_equal(sub.fields["damage"].values, sim.fields["damage"].values[[1, 3]][:, cells])
    # the submesh's connectivity refers to its own nodes
    back = sim.mesh.points[nodes[sub.mesh.cells["wedge"]]]
    np.testing.assert_array_equal(back, sim.mesh.points[sim.mesh.cells["wedge"][[1]]])


def test_xdmf_sidecar_opens_with_meshio_time_series_reader(tmp_path):
    sim = simulation(box_mesh(with_wedges=True))
    path = write(sim, tmp_path / "run.h5")
    side = sidecar_path(path)
    assert side.exists()
    with meshio.xdmf.TimeSeriesReader(side) as reader:
        points, cells = reader.read_points_cells()
        np.testing.assert_allclose(points, sim.mesh.points)
        assert [c.type for c in cells] == ["hexahedron", "wedge"]
        np.testing.assert_array_equal(cells[1].data, sim.mesh.cells["wedge"])
        assert reader.num_steps == sim.n_times
        for k in range(reader.num_steps):
            t, point_data, cell_data = reader.read_data(k)
            assert t == sim.times[k]
            np.testing.assert_array_equal(point_data["U"], sim.fields["U"].values[k])
            damage = np.concatenate([np.ravel(c) for c in cell_data["damage"]])
            np.testing.assert_array_equal(damage, sim.fields["damage"].values[k, :, 0])
            assert "sig" not in point_data   # integration-point fields are not in XDMF


class _CountingSource:
    """A field source that fails after some reads (a conversion killed midway)."""

    def __init__(self, values, fail_after=None):
        self.values, self.fail_after, self.calls = values, fail_after, 0
        self.shape, self.dtype, self.origin = values.shape, np.dtype("float64"), "counting source"

    def read(self, steps, rows):
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise KeyboardInterrupt("killed")
        return self.values[steps][:, rows]


def test_interrupted_write_leaves_no_file_and_keeps_the_old_one(tmp_path):
    sim = simulation()
    path = write(sim, tmp_path / "run.h5")
    before = path.read_bytes()
    source = _CountingSource(sim.fields["U"].values, fail_after=2)
    assert isinstance(source, FieldSource)
    broken = Simulation(sim.mesh, sim.times, {"U": Field("node", ("a", "b", "c"), source)})
    with pytest.raises(KeyboardInterrupt):
        write(broken, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.h5", "run.xdmf"]
    with pytest.raises(KeyboardInterrupt):
        write(broken, tmp_path / "new.h5")
    assert not (tmp_path / "new.h5").exists() and not (tmp_path / "new.xdmf").exists()


def test_non_finite_source_values_abort_the_conversion(tmp_path):
    values = np.zeros((3, 27, 3))
    values[2, 11, 1] = np.nan
    sim = Simulation(box_mesh(), [0.0, 1.0, 2.0],
                     {"U": Field("node", ("a", "b", "c"), _CountingSource(values))})
    with pytest.raises(InputError, match=r"counting source: non-finite value nan at time step 2, row 11, component 1"):
        write(sim, tmp_path / "nan.h5")
    assert list(tmp_path.iterdir()) == []


def test_streaming_reads_one_step_and_one_block_at_a_time(tmp_path):
    sim = simulation()
    source = _CountingSource(sim.fields["U"].values)
    lazy = Simulation(sim.mesh, sim.times, {"U": Field("node", ("a", "b", "c"), source)})
    write(lazy, tmp_path / "lazy.h5")
    assert source.calls == sim.n_times   # 27 nodes fit one block: one read per step


def test_truncated_store_is_refused(tmp_path):
    path = write(simulation(), tmp_path / "run.h5")
    data = path.read_bytes()
    (tmp_path / "cut.h5").write_bytes(data[: len(data) // 3])
    with pytest.raises(InputError, match=r"cut\.h5: not a readable HDF5 file"):
        read(tmp_path / "cut.h5")


def test_store_checks_format_version_and_completeness(tmp_path):
    path = write(simulation(), tmp_path / "run.h5")
    with h5py.File(path, "r+") as f:
        f.attrs["format_version"] = 99
    with pytest.raises(InputError, match=r"run\.h5: store format version 99, this nirom reads version 1"):
        read(path)
    with h5py.File(path, "r+") as f:
        f.attrs["format_version"] = 1
        f.attrs["complete"] = 0
    with pytest.raises(InputError, match="incomplete"):
        read(path)
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = 1
    with pytest.raises(InputError, match=r"other\.h5: not a nirom store"):
        io_adapters.read(tmp_path / "other.h5")


def test_store_with_wrong_field_shape_is_refused(tmp_path):
    path = write(simulation(), tmp_path / "run.h5")
    with h5py.File(path, "r+") as f:
        attrs = dict(f["fields/0"].attrs)
        del f["fields/0"]
        d = f["fields"].create_dataset("0", data=np.zeros((4, 26, 3)))
        d.attrs.update(attrs)
    with pytest.raises(InputError, match=r"run\.h5: field 'U' \(node\) has shape \(4, 26, 3\), but the mesh and times imply \(4, 27, 3\)"):
        read(path)


def test_non_finite_values_in_a_store_are_refused_on_read(tmp_path):
    path = write(simulation(), tmp_path / "run.h5")
    with h5py.File(path, "r+") as f:
        f["fields/0"][1, 5, 2] = np.inf
    sim = read(path)
    with pytest.raises(InputError, match=r"field 'U': non-finite value inf at time step 1, row 5, component 2"):
        sim.fields["U"].values
    np.testing.assert_array_equal(sim.fields["U"].read(steps=[0]).shape, (1, 27, 3))


def test_mesh_only_simulation(tmp_path):
    sim = Simulation(box_mesh(), np.zeros(0))
    back = read(write(sim, tmp_path / "mesh.h5"))
    assert back.n_times == 0 and back.fields == {}
    assert back.mesh.n_cells == 8


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda m: Simulation(m, [0.0, 1.0, 1.0]), r"times must increase strictly: time 2 is 1.0 after 1.0"),
        (lambda m: Simulation(m, [0.0], {"U": Field("node", ("a",), np.zeros((1, 5, 1)))}),
         r"field 'U' \(node\) has shape \(1, 5, 1\), but the mesh and times imply \(1, 27, 1\)"),
        (lambda m: Field("integration_point", ("a",), np.zeros((1, 5, 1))), "needs its integration rule"),
        (lambda m: Field("node", ("a", "b"), np.zeros((1, 5, 1))), "1 components but 2 names"),
        (lambda m: Mesh(m.points, {"hexahedron": m.cells["hexahedron"] + 20}),
         r"connectivity of 'hexahedron' cells refers to node index 29, but there are 27 nodes"),
        (lambda m: Mesh(m.points, {"c3d8": m.cells["hexahedron"]}), "unknown cell type 'c3d8'"),
    ],
)
def test_containers_refuse_inconsistent_data(build, message):
    with pytest.raises(InputError, match=message):
        build(box_mesh())


def test_field_shape_mismatch_is_a_mesh_mismatch():
    with pytest.raises(MeshMismatchError):
        Simulation(box_mesh(), [0.0], {"U": Field("node", ("a",), np.zeros((1, 5, 1)))})


def test_mesh_meshio_round_trip_keeps_sets():
    mesh = box_mesh(with_wedges=True)
    back = Mesh.from_meshio(mesh.to_meshio(), source="test")
    assert list(back.cells) == ["hexahedron", "wedge"]
    for t in mesh.cells:
        np.testing.assert_array_equal(back.cells[t], mesh.cells[t])
    np.testing.assert_array_equal(back.cell_sets["first"], mesh.cell_sets["first"])
    np.testing.assert_array_equal(back.face_sets["bottom"]["quad"], mesh.face_sets["bottom"]["quad"])
    np.testing.assert_array_equal(back.node_sets["z0"], mesh.node_sets["z0"])


def test_read_of_missing_file_names_it(tmp_path):
    with pytest.raises(InputError, match=r"nothere\.h5: no such file"):
        io_adapters.read(tmp_path / "nothere.h5")


def test_atomic_write_does_not_follow_the_old_file(tmp_path):
    first = write(simulation(seed=1), tmp_path / "run.h5")
    inode = os.stat(first).st_ino
    write(simulation(seed=2), tmp_path / "run.h5")
    assert os.stat(first).st_ino != inode   # replaced by rename, never rewritten in place
    np.testing.assert_array_equal(read(first).fields["U"].values, simulation(seed=2).fields["U"].values)


def test_appender_publishes_the_steps_written_even_when_the_producer_fails(tmp_path):
    from io_adapters.store import StoreAppender

    sim = simulation()
    specs = {n: (f.support, f.components, f.rule) for n, f in sim.fields.items()}
    with pytest.raises(RuntimeError, match="diverged"):
        with StoreAppender(tmp_path / "run.h5", sim.mesh, specs, parameters={"p": 1}) as out:
            for k in range(2):
                out.append(sim.times[k], {n: f.values[k] for n, f in sim.fields.items()})
            assert not (tmp_path / "run.h5").exists()        # nothing visible before close
            raise RuntimeError("diverged at step 2")
    back = read(tmp_path / "run.h5")
    assert back.n_times == 2 and back.parameters == {"p": 1}
    for name, fld in sim.fields.items():
        np.testing.assert_array_equal(back.fields[name].values, fld.values[:2])
    with meshio.xdmf.TimeSeriesReader(tmp_path / "run.xdmf") as reader:
        reader.read_points_cells()
        assert reader.num_steps == 2
        np.testing.assert_array_equal(reader.read_data(1)[1]["U"], sim.fields["U"].values[1])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.h5", "run.xdmf"]


def test_appender_refuses_steps_going_back_in_time(tmp_path):
    from io_adapters.store import StoreAppender

    sim = simulation()
    out = StoreAppender(tmp_path / "run.h5", sim.mesh, {"damage": ("cell", ("d",), None)})
    out.append(1.0, {"damage": np.zeros((8, 1))})
    with pytest.raises(InputError, match="time 0.5 does not follow 1.0"):
        out.append(0.5, {"damage": np.zeros((8, 1))})
    out.discard()
    assert list(tmp_path.iterdir()) == []


def test_written_files_get_the_usual_permissions(tmp_path):
    import stat

    mask = os.umask(0o022)
    try:
        path = write(simulation(), tmp_path / "run.h5")
    finally:
        os.umask(mask)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert stat.S_IMODE(os.stat(sidecar_path(path)).st_mode) == 0o644
