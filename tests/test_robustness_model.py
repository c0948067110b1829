"""The model file as a test corpus (issue 12): every array is checked before use.

A small valid model is built at test time (the 2×2×2 cube of ``examples/cube``, an
imposed displacement so that it has a lifting strain); copies of it are damaged —
the indices that crashed ``nirom online`` (rc 139), the values that gave silently
wrong answers, NaN, truncations, random bytes, directories and symlink loops where
the file is expected — and hypothesis edits random arrays and attributes. A model
written by this nirom carries a SHA-256 checksum per dataset and group: every
altered array is refused — at load, but for the dual fields' full modes, which are
read lazily: their checksum is verified on their first use (a field rebuilt, an
enrichment, a save), so an alteration of them is refused then, never used. A model
without checksums (written before issue 12) gets the structural checks: no crash, a
NiromError naming the file and the dataset.

``write_small_case`` is shared with the other robustness tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from io_adapters.errors import InputError, NiromError

PROBLEM_TOML = """\
mesh = "cube2.geof"

[time]
end = [10.0, 20.0]
increments = [3, 3]

[materials.ALL_ELEMENT]
behavior = "gen_evp"
density = 8.2e-9
elasticity = { young = { temperature = [0.0, 1000.0], value = [1.6e5, 1.2e5] }, poisson = 0.3 }
thermal_strain = { alpha = 1.4e-5, ref_temperature = 20.0 }

[materials.ALL_ELEMENT.potential]
name = "evr"
criterion = "mises"
flow = { type = "norton", K = 500.0, n = 12.0 }
kinematic = [{ type = "nonlinear", C = 6.0e4, D = 400.0 }]
isotropic = { type = "constant", R0 = 80.0 }

[[dirichlet]]
node_set = "xmin"
component = 0
value = 0.0

[[dirichlet]]
node_set = "ymin"
component = 1
value = 0.0

[[dirichlet]]
node_set = "zmin"
component = 2
value = 0.0

[[dirichlet]]
node_set = "xmax"
component = 0
value = 0.01
table = "cycle"

[[pressure]]
face_set = "zmax"
value = -60.0
table = "cycle"

[temperature]
base = 20.0
max = { file = "hot.npy" }
table = "cycle"

[tables.cycle]
time = [0.0, 10.0, 20.0]
value = [0.0, 1.0, 0.0]
"""

OFFLINE_TOML = """\
training = ["train.h5"]
problem = "problem.toml"
output = "rom.h5"
plot = false

[pod.U]
tol = 1e-6
[pod.evrcum]
tol = 1e-6
[pod.sig]
tol = 1e-6
[ecm]
tol = 1e-5
[indicator]
field = "evrcum"
"""

CASE_TOML = """\
problem = "problem.toml"
output = "online.h5"
"""


def write_small_case(folder: Path, *, training: bool = True) -> Path:
    """The cube problem (TOML + mesh + temperature file), its HF training run, an offline
    configuration and a case file in ``folder`` (about 1 s)."""
    from examples.cube.cube import hot_field, make_cube_mesh
    from io_adapters.problem import read_problem
    from io_adapters.zset.geof import write_geof
    from rom.hifi import solve

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    mesh = make_cube_mesh(2)
    write_geof(mesh, folder / "cube2.geof")
    np.save(folder / "hot.npy", hot_field(mesh.points))
    (folder / "problem.toml").write_text(PROBLEM_TOML)
    (folder / "offline.toml").write_text(OFFLINE_TOML)
    (folder / "case.toml").write_text(CASE_TOML)
    if training:
        solve(read_problem(folder / "problem.toml"), output=folder / "train.h5", linear_solver="scipy")
    return folder


def nirom(*args, cwd=None, timeout=120, env=None):
    """The CLI in a fresh interpreter (a segfault shows as returncode -11)."""
    environment = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "mpi_drivers.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=timeout, env=environment)


def error_lines(done) -> list[str]:
    """What the CLI said on stderr besides its INFO log lines."""
    return [line for line in done.stderr.splitlines() if line.strip() and not line.startswith("INFO")]


def datasets(path: Path) -> dict[str, np.ndarray]:
    """Every dataset of an HDF5 file, by its path."""
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return out


def strip_checksums(path: Path) -> None:
    """Make a model look like one written before issue 12 (no checksum attributes)."""
    with h5py.File(path, "r+") as f:
        del f.attrs["checksum"]
        del f.attrs["sha256"]
        f.visititems(lambda _, obj: obj.attrs.__delitem__("sha256") if "sha256" in obj.attrs else None)


TALLY: Counter = Counter()


# ================================================================== fixtures
@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """The small case with its model ``rom.h5`` (checksums) and ``old.h5`` (the same, without)."""
    from rom.offline import build

    folder = write_small_case(tmp_path_factory.mktemp("robust-model"))
    model = build(folder / "offline.toml")
    model.save(folder / "rom.h5")
    shutil.copy(folder / "rom.h5", folder / "old.h5")
    strip_checksums(folder / "old.h5")
    return folder


def load(path):
    from rom.model import ReducedOrderModel

    return ReducedOrderModel.load(path)


def read_full_dual_modes(model) -> None:
    """The first use of every dual field's full modes (read lazily from a file with checksums)."""
    for sub in model.subdomains:
        for dual in sub.duals.values():
            dual.modes


def is_full_dual_modes(name: str | None) -> bool:
    """True for a dataset of full dual modes (``subdomains/<r>/duals/<i>/modes``): read on first use."""
    parts = (name or "").split("/")
    return len(parts) == 5 and parts[0] == "subdomains" and parts[2] == "duals" and parts[4] == "modes"


def same_model(a, b) -> bool:
    sa, sb = a.subdomains[0], b.subdomains[0]
    arrays = ("cells", "nodes", "point_rows", "points", "weights", "strain_operator", "material",
              "displacement_modes")
    return (a.n_modes == b.n_modes and np.array_equal(a.singular_values, b.singular_values)
            and all(np.array_equal(getattr(sa, n), getattr(sb, n)) for n in arrays)
            and (sa.temperature_interpolation != sb.temperature_interpolation).nnz == 0
            and (sa.lifting_strain != sb.lifting_strain).nnz == 0
            and all(np.array_equal(sa.duals[n].modes, sb.duals[n].modes) for n in sa.duals)
            and a.materials == b.materials and a.constrained == b.constrained)


# ======================================================= the reproduced defects
def _set(index, value):
    def edit(a):
        a = a.copy()
        a[index] = value
        return a
    return edit


def _negate_first_positive(a):
    a = a.copy()
    i = np.flatnonzero(a > 0)[0]
    a[i] = -a[i]
    return a


DEFECTS = {
    # dataset edited → (edit, what the message names)
    "temperature-interpolation index": ("subdomains/0/temperature_interpolation/indices", _set(3, 10**6),
                                        "temperature_interpolation indices"),
    "temperature-interpolation pointer": ("subdomains/0/temperature_interpolation/indptr", _set(5, 10**6),
                                          "temperature_interpolation indptr"),
    "lifting-strain index": ("subdomains/0/lifting_strain/indices", _set(3, 10**6), "lifting_strain indices"),
    "lifting-strain pointer": ("subdomains/0/lifting_strain/indptr", _set(7, 3), "lifting_strain indptr"),
    "negative sparse index": ("subdomains/0/temperature_interpolation/indices", _set(3, -2),
                              "temperature_interpolation indices"),
    "negative ECM weight": ("subdomains/0/weights", _negate_first_positive, "weights"),
    "point index -1": ("subdomains/0/points", _set(0, -1), "points"),
    "NaN in the modes": ("subdomains/0/displacement_modes", _set((0, 5), np.nan), "displacement_modes"),
    "NaN in a dual basis": ("subdomains/0/duals/0/modes", _set((0, 3, 0), np.nan), "modes"),
    "NaN in a dual basis at the reduced points": ("subdomains/0/duals/0/modes_at_points", _set((0, 0, 0), np.nan),
                                                  "modes_at_points"),
    "lifting dof out of range": ("subdomains/0/lifting_dofs", _set(0, 10**9), "lifting_dofs"),
    "material index": ("subdomains/0/material", _set(0, 7), "material"),
    "node index": ("subdomains/0/nodes", _set(0, -5), "nodes"),
    "Inf in a pressure load": ("pressure_loads/0", _set(0, np.inf), "pressure load 0"),
}


def _damaged(small, tmp_path, base: str, dataset: str, edit) -> Path:
    path = tmp_path / f"damaged_{base}"
    shutil.copy(small / base, path)
    with h5py.File(path, "r+") as f:
        f[dataset][...] = edit(f[dataset][()])
    return path


@pytest.mark.parametrize("base", ["rom.h5", "old.h5"], ids=["checksums", "structural"])
@pytest.mark.parametrize("defect", list(DEFECTS))
def test_a_damaged_array_is_refused_naming_the_file_and_the_dataset(small, tmp_path, defect, base):
    dataset, edit, named = DEFECTS[defect]
    path = _damaged(small, tmp_path, base, dataset, edit)
    if base == "rom.h5" and is_full_dual_modes(dataset):
        model = load(path)                 # read lazily: only their rows at the reduced points at load
        with pytest.raises(InputError) as error:
            read_full_dual_modes(model)
    else:
        with pytest.raises(InputError) as error:
            load(path)
    message = str(error.value)
    assert message.startswith(f"{path}: ") and named in message
    if base == "rom.h5":
        assert "does not match its checksum" in message
    TALLY["model: damaged arrays refused"] += 1


@pytest.mark.parametrize("defect", ["temperature-interpolation index", "temperature-interpolation pointer",
                                    "lifting-strain index"])
def test_the_former_segfaults_end_in_one_line_through_the_cli(small, tmp_path, defect):
    """These three crashed ``nirom online`` with rc 139 before issue 12 (scipy trusted the indices)."""
    dataset, edit, named = DEFECTS[defect]
    path = _damaged(small, tmp_path, "old.h5", dataset, edit)
    done = nirom("online", path, small / "case.toml")
    lines = error_lines(done)
    assert done.returncode == 2, done.stderr[-2000:]                    # bad input
    assert len(lines) == 1 and lines[0].startswith(f"nirom online: error: {path}: ") and named in lines[0]
    TALLY["model: CLI runs"] += 1


@pytest.mark.parametrize("base", ["rom.h5", "old.h5"], ids=["checksums", "structural"])
def test_n_subdomains_must_match_the_groups_present(small, tmp_path, base):
    """A changed n_subdomains ran and exited 0 with U wrong by 100 %."""
    path = tmp_path / "n.h5"
    shutil.copy(small / base, path)
    with h5py.File(path, "r+") as f:
        f.attrs["n_subdomains"] = 2
    with pytest.raises(InputError, match="n_subdomains|the model's attributes"):
        load(path)
    # a second subdomain group holding the same cells: not a cover of the mesh exactly once
    shutil.copy(small / "old.h5", path)
    with h5py.File(path, "r+") as f:
        f.attrs["n_subdomains"] = 2
        f.copy(f["subdomains/0"], f["subdomains"], name="1")
    with pytest.raises(InputError, match="cover the mesh's 8 cells exactly once"):
        load(path)


def test_a_model_without_checksums_still_loads_and_answers(small, data_dir):
    old = load(small / "old.h5")
    assert same_model(old, load(small / "rom.h5"))
    compatible = load(data_dir / "models" / "cube2_format1.h5")      # written by nirom before issue 12
    assert compatible.n_modes == 4
    with h5py.File(data_dir / "models" / "cube2_format1.h5") as f:
        assert "checksum" not in f.attrs


def test_every_dataset_and_group_carries_a_checksum(small):
    with h5py.File(small / "rom.h5") as f:
        assert f.attrs["checksum"] == "sha256"
        missing = []
        f.visititems(lambda name, obj: missing.append(name) if "sha256" not in obj.attrs else None)
        assert missing == []


# ===================================================== files that are not models
def _file_cases(small, tmp_path):
    good = (small / "rom.h5").read_bytes()
    rng = np.random.default_rng(12)
    cases = {"zero-length": b"", "random bytes": rng.bytes(4096), "text": b"not a model\n"}
    for fraction in (0.05, 0.3, 0.6, 0.9, 0.999):
        cases[f"truncated at {fraction:.0%}"] = good[:int(len(good) * fraction)]
    flipped = bytearray(good)
    for offset in rng.integers(0, len(good), 40):
        flipped[offset] ^= 0xFF
    cases["40 flipped bytes"] = bytes(flipped)
    paths = {}
    for name, content in cases.items():
        path = tmp_path / f"{name.replace(' ', '_').replace('%', 'pc')}.h5"
        path.write_bytes(content)
        paths[name] = path
    paths["a directory"] = tmp_path / "folder.h5"
    paths["a directory"].mkdir()
    loop = tmp_path / "loop.h5"
    loop.symlink_to(tmp_path / "loop2.h5")
    (tmp_path / "loop2.h5").symlink_to(loop)
    paths["a symlink loop"] = loop
    paths["missing"] = tmp_path / "missing.h5"
    return paths


def test_files_that_are_not_models_are_refused_naming_them(small, tmp_path):
    for what, path in _file_cases(small, tmp_path).items():
        with pytest.raises(NiromError) as error:
            load(path)
        assert str(error.value).startswith(f"{path}: "), (what, str(error.value))
        TALLY["model: damaged files refused"] += 1


def test_a_model_under_a_non_ascii_path_loads(small, tmp_path):
    folder = tmp_path / "modèles ünïcode — 模型"
    folder.mkdir()
    shutil.copy(small / "rom.h5", folder / "röm.h5")
    assert same_model(load(folder / "röm.h5"), load(small / "rom.h5"))
    (folder / "röm.h5").write_bytes(b"\x89HDF\r\n")
    with pytest.raises(InputError, match="röm.h5: not a readable HDF5 file"):
        load(folder / "röm.h5")


# ======================================================= hypothesis: random edits
def _dataset_names(path) -> list[str]:
    return sorted(datasets(path))


_VALUES = st.one_of(st.integers(-2**40, 2**40), st.sampled_from([0, -1, 1, 2, 7, 10**6, -10**6]),
                    st.floats(allow_nan=True, allow_infinity=True, width=64),
                    st.sampled_from(["same", "negate", "bitflip", "next"]))


def _apply(f, name: str, index: int, value) -> bool:
    """Write ``value`` at flat ``index`` of dataset ``name``; True when the bytes changed."""
    dataset = f[name]
    old = dataset[()]
    if old.size == 0:
        return False
    new = np.array(old, copy=True)
    flat = new.reshape(-1)
    i = index % flat.size
    if value == "same":
        pass
    elif value == "negate":
        flat[i] = -flat[i]
    elif value == "next":
        flat[i] = flat[i] + 1 if flat.dtype.kind in "iu" else np.nextafter(flat[i], np.inf)
    elif value == "bitflip":
        flat.view(np.uint8)[i * flat.itemsize] ^= 0x01
    else:
        try:
            with np.errstate(all="ignore"):
                flat[i] = value
        except (OverflowError, ValueError):
            return False
    dataset[...] = new
    return new.tobytes() != np.asarray(old).tobytes()


_ATTRIBUTE_EDITS = st.sampled_from([
    ("/", "n_subdomains", 2), ("/", "n_subdomains", 0), ("/", "n_modes", 3), ("/", "n_modes", 60),
    ("/", "rule", "zset"), ("/", "rule", "nope"), ("/", "materials", "{}"), ("/", "materials", "{not json"),
    ("/", "constrained", '{"xmax": [0, 5]}'), ("/", "constrained", '{"nowhere": [0]}'),
    ("/", "settings", "[]"), ("/", "provenance", '{"created_by": "someone"}'),
    ("subdomains/0", "ecm_residual", -1.0), ("subdomains/0", "ecm_residual", np.nan),
    ("subdomains/0/duals/0", "name", "sig"), ("subdomains/0/duals/0", "components", '["a", "b"]'),
    ("subdomains/0/temperature_interpolation", "shape", np.array([42, 80])),
    ("pressure_loads/0", "face_set", "nowhere"), ("subdomains/0/weights", "sha256", "0" * 64),
])


def _structure_edit(f, choice: int, name: str) -> bool:
    """Delete, retype or shorten one dataset; whether the file changed."""
    if choice == 0:
        del f[name]
        return True
    data, attrs = f[name][()], dict(f[name].attrs)
    if choice == 1:                                       # the same values, another dtype
        kind = np.float32 if np.asarray(data).dtype.kind == "f" else np.int32
        if np.asarray(data).dtype == kind:                # already that dtype: nothing changes
            return False
        new = np.asarray(data).astype(kind)
    else:                                                 # one value less
        if not np.size(data):
            return False
        new = np.asarray(data).reshape(-1)[:-1]
    del f[name]
    f[name] = new
    f[name].attrs.update(attrs)
    return True


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["value", "value", "value", "attribute", "structure"]), pick=st.integers(0, 10**6),
       index=st.integers(0, 10**6), value=_VALUES, attribute=_ATTRIBUTE_EDITS, choice=st.integers(0, 2))
def test_fuzz_every_altered_model_is_refused(small, tmp_path_factory, kind, pick, index, value, attribute, choice):
    """Random edits of a model with checksums: the same model, or an InputError naming the file —
    at load, or for the full dual modes (read lazily) at their first use, never a silent answer."""
    names = _dataset_names(small / "rom.h5")
    path = tmp_path_factory.mktemp("fuzz") / "rom.h5"
    shutil.copy(small / "rom.h5", path)
    target = names[pick % len(names)] if kind != "attribute" else None
    with h5py.File(path, "r+") as f:
        if kind == "value":
            altered = _apply(f, target, index, value)
        elif kind == "attribute":
            where, name, new = attribute
            old = f[where].attrs.get(name)
            f[where].attrs[name] = new
            altered = not (isinstance(old, type(new)) and np.array_equal(np.asarray(old), np.asarray(new)))
        else:
            altered = _structure_edit(f, choice, target)
    TALLY["fuzz (checksums): edits"] += 1
    if altered:
        TALLY["fuzz (checksums): altered"] += 1
        try:
            model = load(path)
        except InputError as error:
            refused = error
        else:                              # only the full dual modes may pass the load: refused at first use
            assert is_full_dual_modes(target), f"an alteration of {target or attribute} passed the load"
            with pytest.raises(InputError) as error:
                read_full_dual_modes(model)
            refused = error.value
            TALLY["fuzz (checksums): altered full dual modes, refused at first use"] += 1
        assert str(refused).startswith(f"{path}: ")
        TALLY["fuzz (checksums): altered and refused"] += 1
    else:
        assert same_model(load(path), load(small / "rom.h5"))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pick=st.integers(0, 10**6), index=st.integers(0, 10**6), value=_VALUES)
def test_fuzz_a_model_without_checksums_never_crashes(small, tmp_path_factory, pick, index, value):
    """Random edits of a model without checksums: an InputError naming the file, or a model
    whose online solve runs (an edit that keeps every structural invariant cannot be told
    from a genuine model without its checksums). Never a crash."""
    from io_adapters.problem import read_problem

    names = [n for n in _dataset_names(small / "old.h5") if not n.startswith("mesh/")]
    name = names[pick % len(names)]
    path = tmp_path_factory.mktemp("fuzz-old") / "old.h5"
    shutil.copy(small / "old.h5", path)
    with h5py.File(path, "r+") as f:
        altered = _apply(f, name, index, value)
    TALLY["fuzz (structural): edits"] += 1
    try:
        model = load(path)
    except InputError as exc:
        assert str(exc).startswith(f"{path}: ")
        TALLY["fuzz (structural): refused"] += 1
        return
    TALLY["fuzz (structural): accepted" + (" (altered)" if altered else "")] += 1
    if altered and np.asarray(datasets(path)[name]).dtype.kind in "iu":      # an accepted index edit: it must run
        try:
            model.solve(read_problem(small / "problem.toml"))
        except NiromError:
            pass


def test_report_the_tallies(capsys):
    """Printed with ``pytest -s`` (the figures of the issue's report)."""
    with capsys.disabled():
        print("\nmodel robustness tallies:", dict(sorted(TALLY.items())))
    assert TALLY["fuzz (checksums): altered"] == TALLY["fuzz (checksums): altered and refused"]
