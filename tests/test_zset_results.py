"""Zset results (.ut/.node/.integ/.ctnod): values against independent reads of the same bytes."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from io_adapters.errors import InputError
from io_adapters.simulation import Field, FieldSource
from io_adapters.zset import read, read_mesh, sources

DATA = Path(__file__).parent / "data" / "zset"
RUN = DATA / "UtExample" / "cube.ut"

# Expected grouping of UtExample's 69 **integ variables: name -> (first, stop, strain-like)
INTEG_FIELDS = {
    "eto": (0, 6, True), "sig": (6, 12, False), "ein": (12, 18, True), "evi": (18, 24, True),
    "gamev": (24, 36, False), "evcum": (36, 48, False), "evgeq": (48, 49, False), "lambda": (49, 50, False),
    "cui": (50, 56, True), "gamcu": (56, 62, False), "cucum": (62, 68, False), "cugeq": (68, 69, False),
}
SHEAR = np.array([1, 1, 1, 2, 2, 2], float)


def plain_ut(path: Path) -> dict:
    """The .ut read by hand (independent of io_adapters.zset.ut)."""
    out = {"records": []}
    key = None
    for line in path.read_text().splitlines():
        tokens = line.split()
        if not tokens:
            continue
        if tokens[0].startswith("**"):
            key = tokens[0][2:]
            out[key] = tokens[1:]
        elif key == "element":
            out["records"].append([float(t) for t in tokens])
        else:
            out[key] += tokens
    out["records"] = np.array(out["records"])
    return out


@pytest.fixture(scope="module")
def sim():
    return read(RUN)


@pytest.fixture(scope="module")
def raw():
    ut = plain_ut(RUN)
    n_t, n_v, n_i = len(ut["records"]), len(ut["node"]), len(ut["integ"])
    n_nodes, n_elements, n_ip = 343, 216, 8
    return {
        "ut": ut,
        "node": np.fromfile(RUN.with_suffix(".node"), ">f4").reshape(n_t, n_v, n_nodes),
        "integ": np.fromfile(RUN.with_suffix(".integ"), ">f4").reshape(n_t, n_elements, n_i, n_ip),
        "ctnod": np.fromfile(RUN.with_suffix(".ctnod"), ">f4").reshape(n_t, n_i, n_nodes),
    }


def test_times_fields_and_provenance(sim, raw):
    np.testing.assert_array_equal(sim.times, raw["ut"]["records"][:, 4])
    assert sim.mesh.n_nodes == 343 and sim.mesh.n_cells == 216
    node = {"U": ("U1", "U2", "U3"), "RU": ("RU1", "RU2", "RU3")}
    expected = set(node) | set(INTEG_FIELDS) | {f"{n}_nodal" for n in INTEG_FIELDS}
    assert set(sim.fields) == expected
    for name, (a, b, _) in INTEG_FIELDS.items():
        f = sim.fields[name]
        assert f.support == "integration_point" and f.rule == "zset"
        assert f.components == tuple(raw["ut"]["integ"][a:b])
        assert isinstance(f.data, FieldSource) and f.stored_dtype == np.float32
        assert sim.fields[name + "_nodal"].support == "node"
    for name, comps in node.items():
        assert sim.fields[name].components == comps and sim.fields[name].support == "node"
    strains = [n for n, (_, _, s) in INTEG_FIELDS.items() if s]
    assert sorted(sim.provenance["engineering_shear"]) == sorted(strains + [s + "_nodal" for s in strains])
    assert sim.provenance["format"] == "zset"
    assert sim.provenance["records"]["increment"] == [0, 1, 1, 2]


def test_node_fields_equal_the_file(sim, raw):
    np.testing.assert_array_equal(sim.fields["U"].read(), raw["node"][:, 0:3].transpose(0, 2, 1))
    np.testing.assert_array_equal(sim.fields["RU"].read(), raw["node"][:, 3:6].transpose(0, 2, 1))


def test_integ_fields_equal_the_file_with_engineering_shear(sim, raw):
    for name, (a, b, strain) in INTEG_FIELDS.items():
        expected = raw["integ"][:, :, a:b, :].transpose(0, 1, 3, 2).reshape(4, 216 * 8, b - a).astype(float)
        if strain:
            expected = expected * SHEAR
        np.testing.assert_array_equal(sim.fields[name].read(), expected, err_msg=name)
    # the stress is not touched, the strain shears are exactly twice the stored tensor shears
    sig12 = raw["integ"][:, :, 9, :].transpose(0, 1, 2).reshape(4, -1)
    np.testing.assert_array_equal(sim.fields["sig"].read()[:, :, 3], sig12)
    eto12 = raw["integ"][:, :, 3, :].reshape(4, -1)
    np.testing.assert_array_equal(sim.fields["eto"].read()[:, :, 3], 2.0 * eto12)


def test_integ_offsets_formula_spot_checks(sim):
    """off(r, e, v, q) = r*Ni*P + Ni*S_e + v*P_e + q (ZSET_FORMAT.md §2.2), read value by value."""
    rng = np.random.default_rng(0)
    n_i, p_e, n_p = 69, 8, 216 * 8
    names = list(INTEG_FIELDS)
    for _ in range(60):
        r, e, q = int(rng.integers(4)), int(rng.integers(216)), int(rng.integers(8))
        name = names[int(rng.integers(len(names)))]
        a, b, strain = INTEG_FIELDS[name]
        c = int(rng.integers(b - a))
        offset = r * n_i * n_p + n_i * (e * p_e) + (a + c) * p_e + q
        value = np.fromfile(RUN.with_suffix(".integ"), ">f4", count=1, offset=4 * offset)[0]
        factor = SHEAR[c] if strain else 1.0
        got = sim.fields[name].read(steps=[r], rows=[e * p_e + q])[0, 0, c]
        assert got == value * factor


def test_ctnod_fields_are_nodal_with_suffix(sim, raw):
    for name, (a, b, strain) in INTEG_FIELDS.items():
        expected = raw["ctnod"][:, a:b].transpose(0, 2, 1).astype(float)
        if strain:
            expected = expected * SHEAR
        np.testing.assert_array_equal(sim.fields[name + "_nodal"].read(), expected, err_msg=name)


def test_partial_reads_equal_full_reads(sim):
    full = {n: sim.fields[n].read() for n in ("U", "eto", "sig", "gamev", "evgeq", "sig_nodal")}
    rng = np.random.default_rng(1)
    for name, values in full.items():
        n_rows = values.shape[1]
        for rows in (slice(5, 40), slice(n_rows - 17, n_rows), np.sort(rng.choice(n_rows, 25, replace=False)),
                     np.array([3]), slice(0, n_rows // 4)):
            for steps in (slice(1, 3), [0, 3], [2]):
                got = sim.fields[name].read(steps=steps, rows=rows)
                np.testing.assert_array_equal(got, values[steps][:, rows], err_msg=f"{name} {rows} {steps}")
    # the fields of one step read in any order, repeated or not, give the same values (cache)
    for name in ("sig", "eto", "sig", "gamev", "eto", "evgeq"):
        np.testing.assert_array_equal(sim.fields[name].read(steps=[1]), full[name][1:2], err_msg=name)


class _Counting:
    """Counts the files io_adapters.zset.sources opens and the bytes it reads from each."""

    def __init__(self, monkeypatch):
        self.opens, self.bytes = {}, {}
        opened = {}
        os_open, pread = sources.os.open, sources._pread_exact

        def counted_open(path, flags, *args):
            fd = os_open(path, flags, *args)
            opened[fd] = Path(path).name
            self.opens[opened[fd]] = self.opens.get(opened[fd], 0) + 1
            return fd

        def counted_pread(fd, buffer, offset, path):
            pread(fd, buffer, offset, path)
            self.bytes[path.name] = self.bytes.get(path.name, 0) + buffer.nbytes

        monkeypatch.setattr(sources.os, "open", counted_open)
        monkeypatch.setattr(sources, "_pread_exact", counted_pread)


def test_opening_reads_no_values_and_one_step_is_read_once(monkeypatch):
    counting = _Counting(monkeypatch)
    sim = read(RUN)
    assert counting.opens == {} and counting.bytes == {}
    step_bytes = 69 * 216 * 8 * 4
    for name, f in sim.fields.items():
        if f.support == "integration_point":
            f.read(steps=[2])
    assert counting.bytes["cube.integ"] == step_bytes  # one read of the step for the 12 fields
    for name, f in sim.fields.items():
        if f.support == "integration_point":
            f.read(steps=[3], rows=slice(0, 216 * 8 // 4))
    assert counting.bytes["cube.integ"] == step_bytes + step_bytes // 4  # only the quarter's elements
    sim.fields["U"].read(steps=[0], rows=slice(10, 20))
    assert counting.bytes["cube.node"] == 3 * 10 * 4  # three variables, ten nodes


def test_small_cache_splits_steps_and_gives_the_same_values(raw):
    sim = read(RUN, cache_bytes=1000)
    expected = raw["integ"][:, :, 6:12, :].transpose(0, 1, 3, 2).reshape(4, -1, 6)
    np.testing.assert_array_equal(sim.fields["sig"].read(), expected)
    np.testing.assert_array_equal(sim.fields["sig"].read(rows=slice(8, 24)), expected[:, 8:24])


@pytest.fixture(params=[1, 3], ids=["1-thread", "3-threads"])
def small_pieces(request, monkeypatch):
    """Read .integ steps in pieces of a few elements, on one or three threads."""
    from io_adapters import threads

    monkeypatch.setattr(sources, "PIECE_BYTES", 3 * 69 * 8 * 4)    # three UtExample elements
    threads.set_io_threads(request.param)
    yield request.param
    threads.set_io_threads(None)


def test_pieces_and_threads_give_the_same_values(raw, small_pieces):
    sim = read(RUN)
    integ = raw["integ"]
    for name, (a, b, strain) in INTEG_FIELDS.items():
        expected = integ[:, :, a:b, :].transpose(0, 1, 3, 2).reshape(4, -1, b - a)
        if strain:
            expected = expected * SHEAR
        np.testing.assert_array_equal(sim.fields[name].read(), expected, err_msg=name)
        np.testing.assert_array_equal(sim.fields[name].read(steps=[1, 3], rows=slice(37, 1500)),
                                      expected[[1, 3], 37:1500], err_msg=name)


def test_reads_from_several_python_threads_take_turns(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from benchmarks.synthetic_zset import INTEG_VARIABLES, write_result

    ut = write_result(tmp_path, n=16, n_steps=6)          # 4096 c3d8, 1.7 MB per step
    sim = read(ut)
    n_var = len(INTEG_VARIABLES)
    integ = np.fromfile(ut.with_suffix(".integ"), ">f4").reshape(6, 16**3, n_var, 8).astype(float)
    expected = {"eto": integ[:, :, 0:6].transpose(0, 1, 3, 2).reshape(6, -1, 6) * SHEAR,
                "sig": integ[:, :, 6:12].transpose(0, 1, 3, 2).reshape(6, -1, 6),
                "evrcum": integ[:, :, 12:13].transpose(0, 1, 3, 2).reshape(6, -1, 1)}

    def read_one(job):
        name, step, rows = job
        return job, sim.fields[name].read(steps=[step], rows=rows)

    jobs = [(name, step, rows) for name in expected for rows in (None, slice(800, 20000)) for step in range(6)]
    with ThreadPoolExecutor(3) as pool:
        for (name, step, rows), values in pool.map(read_one, jobs * 3):
            want = expected[name][step:step + 1]
            np.testing.assert_array_equal(values, want if rows is None else want[:, rows], err_msg=f"{name} {step}")


def test_strain_fields_option_overrides_the_rule(raw):
    sim = read(RUN, strain_fields=())
    assert sim.provenance["engineering_shear"] == []
    np.testing.assert_array_equal(sim.fields["eto"].read()[:, :, 3], raw["integ"][:, :, 3, :].reshape(4, -1))
    with pytest.raises(InputError, match="gamev.*not a symmetric tensor"):
        read(RUN, strain_fields=["gamev"])


# ------------------------------------------------------------------------ synthetic layouts
def write_run(folder: Path, geof: str, elements_ids_types: list[tuple[int, int]], node_vars, integ_vars,
              times, rng, stem="run") -> dict:
    """Write .ut/.node/.integ for a mesh; return the values element by element (file order)."""
    (folder / f"{stem}.geof").write_text(geof)
    n_nodes = int(geof.split("**node")[1].split()[0])
    values_node = rng.normal(size=(len(times), len(node_vars), n_nodes)).astype(">f4")
    values_node.tofile(folder / f"{stem}.node")
    per_element = []
    with open(folder / f"{stem}.integ", "wb") as f:
        for _ in times:
            step = {}
            for eid, n_ip in elements_ids_types:
                block = rng.normal(size=(len(integ_vars), n_ip)).astype(">f4")
                block.tofile(f)
                step[eid] = block.astype(float)
            per_element.append(step)
    lines = [f"**meshfile\n {stem}.geof", "**node " + " ".join(node_vars), "**integ " + " ".join(integ_vars),
             "**element"]
    lines += [f"{k + 1} 1 1 {k} {t:.15e}" for k, t in enumerate(times)]
    (folder / f"{stem}.ut").write_text("\n".join(lines) + "\n")
    return {"node": values_node, "integ": per_element}


IPS = {"c3d4": 4, "c3d10": 5, "c3d6": 6, "c3d15": 18, "c3d8": 8, "c3d20": 27,
       "c2d3": 3, "c2d4": 4, "c2d6": 6, "c2d8": 9, "c3d5": 5,
       "c3d4r": 1, "c3d10r": 1, "c3d6r": 2, "c3d15r": 6, "c3d8r": 1, "c3d20r": 8}


def interleaved_geof(source: Path, order: list[int], rename=None) -> tuple[str, list[tuple[int, int]]]:
    """The .geof with its elements listed in ``order`` (ids), types renamed by ``rename``."""
    text = source.read_text()
    head, rest = text.split("**element\n")
    lines = rest.splitlines()
    body = {int(line.split()[0]): line.split() for line in lines[1:1 + int(lines[0])]}
    chosen = []
    for eid in order:
        t = body[eid]
        if rename:
            t[1] = rename.get(t[1], t[1])
        chosen.append(t)
    tail = "\n".join(lines[1 + int(lines[0]):])
    geof = head + "**element\n" + f"{len(chosen)}\n" + "\n".join(" ".join(t) for t in chosen) + "\n" + tail + "\n"
    return geof, [(int(t[0]), IPS[t[1]]) for t in chosen]


@pytest.mark.parametrize("pieces", [False, True], ids=["whole-steps", "pieces-on-threads"])
@pytest.mark.parametrize("case", ["3d-interleaved", "2d", "reduced"])
def test_heterogeneous_and_interleaved_integ_layouts(tmp_path, case, pieces, monkeypatch):
    if pieces:   # a few elements per piece, three threads
        from io_adapters import threads

        monkeypatch.setattr(sources, "PIECE_BYTES", 100)
        monkeypatch.setattr(threads, "_limit", 3)
    rng = np.random.default_rng(7)
    if case == "2d":
        geof, elements = interleaved_geof(DATA / "multielements2D.geof", [8, 1, 3, 5, 2, 7, 4, 6])
    elif case == "reduced":
        geof, elements = interleaved_geof(DATA / "multielements3D.geof", [12, 1, 5, 3, 7, 10],
                                          rename={t: t + "r" for t in ("c3d4", "c3d10", "c3d6", "c3d15", "c3d8",
                                                                       "c3d20")})
    else:  # every 3D family but the pyramid, types interleaved in the file
        geof, elements = interleaved_geof(DATA / "multielements3D.geof", [12, 1, 5, 3, 7, 13, 10, 2, 6, 4, 8, 11])
    integ_vars = ["eto11", "eto22", "eto33", "eto12", "eto23", "eto31", "p"]
    times = [0.0, 0.5, 1.0]
    written = write_run(tmp_path, geof, elements, ["U1", "U2"], integ_vars, times, rng)
    sim = read(tmp_path / "run.ut")
    mesh = sim.mesh
    assert sim.fields["eto"].rule == ("zset-reduced" if case == "reduced" else "zset")
    # expected rows: cells in the MESH's order (blocks), each with its points in file order
    for name, (a, b, factor) in {"eto": (0, 6, SHEAR), "p": (6, 7, np.ones(1))}.items():
        expected = np.stack([np.concatenate([step[eid][a:b].T for eid in mesh.cell_ids]) for step in written["integ"]])
        np.testing.assert_array_equal(sim.fields[name].read(), expected * factor, err_msg=name)
        rows = slice(3, expected.shape[1] - 2)
        np.testing.assert_array_equal(sim.fields[name].read(steps=[2], rows=rows), expected[2:3, rows] * factor)
        pick = np.array([0, 7, expected.shape[1] - 1])
        np.testing.assert_array_equal(sim.fields[name].read(steps=[0, 1], rows=pick), expected[:2][:, pick] * factor)
    np.testing.assert_array_equal(sim.fields["U"].read(), written["node"].transpose(0, 2, 1))


def test_non_finite_value_in_a_mixed_layout_names_its_element_point_and_variable(tmp_path):
    geof, elements = interleaved_geof(DATA / "multielements3D.geof", [12, 1, 5, 3, 7, 13, 10, 2, 6, 4, 8, 11])
    integ_vars = ["p", "q", "r"]
    write_run(tmp_path, geof, elements, ["U1"], integ_vars, [0.0, 1.0], np.random.default_rng(3))
    values = np.fromfile(tmp_path / "run.integ", dtype=">f4")
    per_element = [3 * n_ip for _, n_ip in elements]
    k = 3                                            # 4th element of the file (a c3d15: 18 points)
    position = sum(per_element) + sum(per_element[:k]) + 2 * elements[k][1] + 11    # step 1, variable r, point 11
    values[position] = np.inf
    values.tofile(tmp_path / "run.integ")
    sim = read(tmp_path / "run.ut")
    row = sum(n_ip for _, n_ip in elements[:k]) + 11
    with pytest.raises(InputError, match=rf"non-finite value inf at time step 1, element {k} \(file order\), "
                                         rf"integration point 11, variable 2 \(row {row} of"):
        sim.fields["q"].read(steps=[1])


def test_mixed_full_and_reduced_integration_is_refused(tmp_path):
    geof, elements = interleaved_geof(DATA / "multielements3D.geof", [12, 13], rename={})
    geof = geof.replace("13 c3d8", "13 c3d8r")
    elements = [(12, 8), (13, 1)]
    write_run(tmp_path, geof, elements, ["U1"], ["p"], [0.0], np.random.default_rng(0))
    with pytest.raises(InputError, match=r"run.ut: .*mixes full \(c3d8\) and reduced \(c3d8r\)"):
        read(tmp_path / "run.ut")
    assert read_mesh(tmp_path / "run.geof").n_cells == 2  # the mesh alone is fine


def test_integration_points_on_a_pyramid_are_refused(tmp_path):
    geof, _ = interleaved_geof(DATA / "multielements3D.geof", [9, 12])
    write_run(tmp_path, geof, [(9, 5), (12, 8)], ["U1"], ["p"], [0.0], np.random.default_rng(0))
    with pytest.raises(InputError, match="c3d5"):
        read(tmp_path / "run.ut")


# ------------------------------------------------------------------------------ bad input
@pytest.fixture
def run_copy(tmp_path):
    for f in (DATA / "UtExample").iterdir():
        shutil.copy(f, tmp_path / f.name)
    return tmp_path / "cube.ut"


def test_truncated_integ_is_refused(run_copy):
    integ = run_copy.with_suffix(".integ")
    data = integ.read_bytes()
    integ.write_bytes(data[:-1000])
    with pytest.raises(InputError) as err:
        read(run_copy)
    message = str(err.value)
    assert "cube.integ" in message and "truncated" in message
    assert str(len(data)) in message and str(len(data) - 1000) in message
    assert "4 records x 69 variables x 1728 integration points" in message


def test_oversized_node_is_refused(run_copy):
    node = run_copy.with_suffix(".node")
    size = node.stat().st_size
    with open(node, "ab") as f:
        f.write(b"\0" * 8)
    with pytest.raises(InputError) as err:
        read(run_copy)
    message = str(err.value)
    assert "cube.node" in message and "oversized" in message
    assert f"expected {size} bytes" in message and f"found {size + 8} bytes" in message


def test_missing_node_file_is_refused(run_copy):
    run_copy.with_suffix(".node").unlink()
    with pytest.raises(InputError, match=r"cube.node: missing result file"):
        read(run_copy)


def test_missing_mesh_file_names_both_files(run_copy):
    run_copy.with_suffix(".geof").unlink()
    with pytest.raises(InputError) as err:
        read(run_copy)
    assert "cube.ut" in str(err.value) and "cube.geof" in str(err.value)


def test_nan_in_node_is_reported_when_read(run_copy):
    node = run_copy.with_suffix(".node")
    values = np.fromfile(node, ">f4")
    values[2 * 6 * 343 + 1 * 343 + 100] = np.nan  # record 2, U2, node 100
    values.tofile(node)
    sim = read(run_copy)  # opening does not read values
    sim.fields["RU"].read()
    with pytest.raises(InputError) as err:
        sim.fields["U"].read()
    message = str(err.value)
    assert "cube.node" in message and "U1, U2, U3" in message
    assert "time step 2, row 100, component 1" in message


def test_non_increasing_times_are_refused(run_copy):
    text = run_copy.read_text().replace("3 1 2 1 1.500000000000000e-01", "3 1 2 1 1.000000000000000e-01")
    run_copy.write_text(text)
    line = next(i for i, t in enumerate(text.splitlines(), start=1) if t.startswith("3 1 2 1"))
    with pytest.raises(InputError) as err:
        read(run_copy)
    message = str(err.value)
    assert "cube.ut" in message and f"line {line}" in message and "record 3" in message


def test_meshfile_on_the_next_line_and_comments(run_copy):
    text = run_copy.read_text().replace("**meshfile cube.geof", "% written by a test\n**meshfile\n   cube.geof")
    run_copy.write_text(text)
    assert read(run_copy).mesh.n_cells == 216


def test_field_metadata_passes_simulation_checks(sim):
    for name, f in sim.fields.items():
        assert isinstance(f, Field)
        assert f.shape[0] == 4
        loaded = f.load()
        assert loaded.shape == f.shape


def test_io_adapters_entry_point_dispatches_to_zset(sim):
    import io_adapters

    assert io_adapters.detect_format(RUN) == "zset"
    again = io_adapters.read(RUN)
    assert again.fields.keys() == sim.fields.keys()
    np.testing.assert_array_equal(again.fields["sig"].read(steps=[3]), sim.fields["sig"].read(steps=[3]))
    par = DATA / "UtParExample"
    assert io_adapters.read(par / "cube.cut").mesh.n_cells == 216
    assert io_adapters.read([par / "cube-001.ut", par / "cube-002.ut"]).mesh.n_nodes == 343
    assert io_adapters.read(DATA / "cube.geo").n_times == 0


def test_non_finite_integ_value_is_refused_with_its_place(tmp_path):
    import shutil

    import numpy as np
    import pytest

    from io_adapters import InputError
    from io_adapters.zset import read

    source = Path(__file__).parent / "data" / "zset" / "UtExample"
    run = tmp_path / "run"
    shutil.copytree(source, run)
    values = np.fromfile(run / "cube.integ", dtype=">f4")
    per_step = values.size // 4
    values[2 * per_step + 69 * 8 * 3 + 7 * 8 + 5] = np.nan   # step 2, element 3, variable 7 (sig22), point 5
    values[3 * per_step + 69 * 8 * 200 + 4 * 8 + 1] = -np.inf  # step 3, element 200, variable 4 (eto23), point 1
    values.tofile(run / "cube.integ")
    sim = read(run / "cube.ut")
    sim.fields["sig"].read(steps=[1])                      # other steps stay readable
    with pytest.raises(InputError, match=r"cube\.integ: non-finite value nan at time step 2, element 3 \(file order\), "
                                         r"integration point 5, variable 7 \(row 29 of"):
        sim.fields["sig"].read(steps=[2])
    with pytest.raises(InputError, match=r"non-finite value -inf at time step 3, element 200 .*point 1, variable 4 "
                                         r"\(row 1601 of"):
        sim.fields["evgeq"].read(steps=[3], rows=slice(1500, 1700))
