"""Parallel Zset runs: subdomains, merging, against the serial run of the same case."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from io_adapters.errors import InputError, MeshMismatchError
from io_adapters.zset import read, read_subdomains

PAR = Path(__file__).parent / "data" / "zset" / "UtParExample"


def cut_values(path: Path, key: str) -> np.ndarray:
    """``**key n`` and its n integers, read from the tokens (independent of io_adapters.zset.cut)."""
    tokens = path.read_text().split()
    i = tokens.index(key)
    n = int(tokens[i + 1])
    return np.array(tokens[i + 2:i + 2 + n], dtype=np.int64)


def interface_ids(path: Path) -> np.ndarray:
    tokens = path.read_text().split()
    i = tokens.index("*inter")
    return np.array(tokens[i + 3:i + 3 + int(tokens[i + 2])], dtype=np.int64)


@pytest.fixture(scope="module")
def serial():
    return read(PAR / "cube.ut")


@pytest.fixture(scope="module")
def merged():
    return read(PAR / "cube.cut")


def _by_id(ids):
    return np.argsort(ids)


def test_merged_mesh_equals_the_serial_mesh(serial, merged):
    a, b = serial.mesh, merged.mesh
    assert a.n_nodes == b.n_nodes == 343 and a.n_cells == b.n_cells == 216
    pa, pb = _by_id(a.point_ids), _by_id(b.point_ids)
    np.testing.assert_array_equal(a.point_ids[pa], b.point_ids[pb])
    np.testing.assert_array_equal(a.points[pa], b.points[pb])
    ca, cb = _by_id(a.cell_ids), _by_id(b.cell_ids)
    np.testing.assert_array_equal(a.cell_ids[ca], b.cell_ids[cb])
    conn_a = a.point_ids[a.cells["hexahedron"]][ca]
    conn_b = b.point_ids[b.cells["hexahedron"]][cb]
    np.testing.assert_array_equal(conn_a, conn_b)
    assert a.node_sets.keys() == b.node_sets.keys()
    for name in a.node_sets:
        np.testing.assert_array_equal(np.sort(a.point_ids[a.node_sets[name]]), np.sort(b.point_ids[b.node_sets[name]]))
    assert a.cell_sets.keys() == b.cell_sets.keys() == {"domain000", "domain001"}
    for name in a.cell_sets:
        np.testing.assert_array_equal(np.sort(a.cell_ids[a.cell_sets[name]]), np.sort(b.cell_ids[b.cell_sets[name]]))
    assert a.face_sets.keys() == b.face_sets.keys()
    for name in a.face_sets:
        facets_a = {tuple(r) for r in a.point_ids[a.face_sets[name].get("quad", np.zeros((0, 4), int))]}
        facets_b = {tuple(r) for r in b.point_ids[b.face_sets[name].get("quad", np.zeros((0, 4), int))]}
        assert facets_a == facets_b, name  # same facets, same orientation (node order kept)
    # merged cells are in increasing global element index
    assert np.all(np.diff(b.cell_ids) > 0)


def test_merged_fields_equal_the_serial_run(serial, merged):
    assert serial.fields.keys() == merged.fields.keys()
    np.testing.assert_array_equal(serial.times, merged.times)
    pa, pb = _by_id(serial.mesh.point_ids), _by_id(merged.mesh.point_ids)
    ca, cb = _by_id(serial.mesh.cell_ids), _by_id(merged.mesh.cell_ids)
    for name, f in serial.fields.items():
        g = merged.fields[name]
        assert (g.support, g.components, g.rule) == (f.support, f.components, f.rule)
        a, b = f.read(), g.read()
        if f.support == "node":
            np.testing.assert_array_equal(a[:, pa], b[:, pb], err_msg=name)
        else:
            k = a.shape[2]
            np.testing.assert_array_equal(a.reshape(4, 216, 8, k)[:, ca], b.reshape(4, 216, 8, k)[:, cb], err_msg=name)
    assert merged.provenance["engineering_shear"] == serial.provenance["engineering_shear"]
    assert merged.provenance["subdomains"] == 2


def test_merged_partial_reads(merged):
    u = merged.fields["U"].read()
    rows = np.array([0, 3, 100, 171, 342])
    np.testing.assert_array_equal(merged.fields["U"].read(steps=[1, 3], rows=rows), u[[1, 3]][:, rows])
    sig = merged.fields["sig"].read()
    np.testing.assert_array_equal(merged.fields["sig"].read(steps=slice(2, 4), rows=slice(100, 900)),
                                  sig[2:4, 100:900])


def test_list_of_ut_files_merges_like_the_cut(merged):
    again = read([PAR / "cube-002.ut", PAR / "cube-001.ut"])
    np.testing.assert_array_equal(again.mesh.point_ids, merged.mesh.point_ids)
    np.testing.assert_array_equal(again.fields["eto"].read(), merged.fields["eto"].read())


def test_subdomains_carry_the_global_indices_of_the_cuts(serial):
    parts = read_subdomains(PAR / "cube.cut")
    assert [p.provenance["subdomain"] for p in parts] == [0, 1]
    shared = []
    for k, part in enumerate(parts, start=1):
        cut = PAR / "cube-pcuts" / f"cube-00{k}.cut"
        nodes = cut_values(cut, "**nodes_local_to_global")
        elements = cut_values(cut, "**elements_local_to_global")
        np.testing.assert_array_equal(part.mesh.point_ids, nodes)
        np.testing.assert_array_equal(part.mesh.cell_ids, elements)
        np.testing.assert_array_equal(cut_values(cut, "**nodes"), nodes + 1)  # ids = index + 1 here
        # serial mesh: ids 1..343 in order, so global index = position
        np.testing.assert_array_equal(part.mesh.points, serial.mesh.points[nodes])
        np.testing.assert_array_equal(part.fields["U"].read(), serial.fields["U"].read()[:, nodes])
        rows = (elements[:, None] * 8 + np.arange(8)).ravel()
        np.testing.assert_array_equal(part.fields["evcum"].read(), serial.fields["evcum"].read()[:, rows])
        shared.append(set(nodes.tolist()))
    interface = shared[0] & shared[1]  # the nodes both domains hold are the cuts' *inter lists
    for k in (1, 2):
        assert sorted(interface) == sorted((interface_ids(PAR / "cube-pcuts" / f"cube-00{k}.cut") - 1).tolist())


def test_one_subdomain_ut_reads_that_subdomain():
    part = read(PAR / "cube-002.ut")
    cut = PAR / "cube-pcuts" / "cube-002.cut"
    np.testing.assert_array_equal(part.mesh.point_ids, cut_values(cut, "**nodes_local_to_global"))
    assert part.mesh.n_cells == 108 and part.provenance["subdomain"] == 1


# ------------------------------------------------------------------------------ bad input
@pytest.fixture
def par_copy(tmp_path):
    shutil.copytree(PAR, tmp_path / "par")
    return tmp_path / "par"


def test_missing_subdomain_ut_is_named(par_copy):
    (par_copy / "cube-002.ut").unlink()
    with pytest.raises(InputError, match=r"cube.cut: lists 2 domains, but .*cube-002.ut is missing"):
        read(par_copy / "cube.cut")


def test_missing_subdomain_results_are_named(par_copy):
    (par_copy / "cube-002.node").unlink()
    with pytest.raises(InputError, match=r"cube-002.node: missing result file"):
        read(par_copy / "cube.cut")


def test_missing_subdomain_in_a_list_is_named(par_copy):
    with pytest.raises(InputError) as err:
        read([par_copy / "cube-001.ut"])
    assert "cube.cut lists 2 domains" in str(err.value) and "cube-002.ut" in str(err.value)
    (par_copy / "cube.cut").unlink()  # without the global cut: uncovered nodes are reported
    with pytest.raises(InputError, match=r"global nodes .* in none of the given domains"):
        read([par_copy / "cube-001.ut"])


def test_inconsistent_times_are_refused(par_copy):
    ut = par_copy / "cube-002.ut"
    ut.write_text(ut.read_text().replace("2.000000000000000e-01", "2.500000000000000e-01"))
    with pytest.raises(InputError) as err:
        read(par_copy / "cube.cut")
    assert "cube-002.ut" in str(err.value) and "record 4" in str(err.value)


def test_interface_values_must_agree(par_copy):
    cut = par_copy / "cube-pcuts" / "cube-002.cut"
    nodes = cut_values(cut, "**nodes_local_to_global")
    shared = np.flatnonzero(np.isin(nodes + 1, interface_ids(cut)))[0]
    node = par_copy / "cube-002.node"
    values = np.fromfile(node, ">f4").reshape(4, 6, len(nodes))
    values[3, 0, shared] += 1.0  # U1 at the last record
    values.tofile(node)
    sim = read(par_copy / "cube.cut")
    sim.fields["RU"].read()
    with pytest.raises(MeshMismatchError, match=r"shared node .*cube-002.node"):
        sim.fields["U"].read()
    relaxed = read(par_copy / "cube.cut", check_interfaces=False)
    assert relaxed.fields["U"].read().shape == (4, 343, 3)
