"""The dual fields' full modes are read lazily: an online solve reads their rows at the reduced points only.

A model file written since the lazy dual modes holds, beside each dual basis ``modes``
(every integration point of the subdomain, ~90 % of the file), ``modes_at_points``
(its rows at the subdomain's reduced points). Loading a file with checksums reads and
verifies the latter; the former are checked without reading them (dtype, shape, bytes
stored, checksum present) and read — their checksum verified against the one seen at
load — on the first use of ``DualField.modes`` (field reconstruction, enrichment,
saving). The case: the 2×2×2 cube of ``tests/test_robustness_model.py``.
"""

from __future__ import annotations

import pickle
import shutil

import h5py
import numpy as np
import pytest

from io_adapters.errors import InputError
from io_adapters.problem import read_problem
from rom.gappy import GappyReconstructor
from rom.model import DualField, ReducedOrderModel, StoredModes, _seal
from test_robustness_model import datasets, strip_checksums, write_small_case


# ================================================================== fixtures and helpers
@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """The small case, its model built in memory (full dual modes) and saved as ``rom.h5``."""
    from rom.offline import build

    folder = write_small_case(tmp_path_factory.mktemp("lazy-duals"))
    built = build(folder / "offline.toml")
    built.save(folder / "rom.h5")
    return folder, built


@pytest.fixture
def reads(monkeypatch):
    """The datasets read by ``StoredModes.read`` in this test, in order."""
    done = []
    original = StoredModes.read

    def spy(self):
        done.append(self.dataset)
        return original(self)

    monkeypatch.setattr(StoredModes, "read", spy)
    return done


def duals_of(model) -> list[DualField]:
    return [d for s in model.subdomains for d in s.duals.values()]


def copy(small, tmp_path, name: str = "rom.h5"):
    folder, _ = small
    path = tmp_path / name
    shutil.copy(folder / "rom.h5", path)
    return path


def problem_of(small):
    return read_problem(small[0] / "problem.toml")


def solution(result) -> dict:
    """Everything an online result says, full fields included."""
    out = {f"q{i}": np.asarray(q) for i, q in enumerate(result.reduced_coordinates)}
    out["indicator"] = np.asarray(result.indicator)
    out.update({f"watched {n}": np.asarray(v) for n, v in result.watched.items()})
    for name, (rows, values) in result.local_fields().items():
        out[f"{name} rows"], out[f"{name} values"] = rows, values
    return out


# ================================================================== the layout
def test_each_dual_group_holds_its_rows_at_the_reduced_points_with_a_checksum(small):
    folder, built = small
    sub = built.subdomains[0]
    with h5py.File(folder / "rom.h5") as f:
        for i, dual in enumerate(sub.duals.values()):
            group = f[f"subdomains/0/duals/{i}"]
            assert set(group) == {"modes", "modes_at_points", "singular_values"}
            assert np.array_equal(group["modes_at_points"][()], dual.modes[:, sub.points])
            assert isinstance(group["modes_at_points"].attrs["sha256"], str)


# ================================================================== (a) no full modes read
def test_loading_and_an_online_solve_read_no_full_dual_modes(small, reads):
    model = ReducedOrderModel.load(small[0] / "rom.h5")
    assert duals_of(model) and not any(d.loaded for d in duals_of(model))
    result = model.solve(problem_of(small))
    assert reads == [] and not any(d.loaded for d in duals_of(model))
    # rebuilding the fields reads each dual's full modes once, from its dataset
    result.local_fields()
    assert sorted(reads) == sorted(f"/subdomains/0/duals/{i}/modes" for i in range(len(duals_of(model))))
    assert all(d.loaded for d in duals_of(model))
    result.local_fields()
    assert len(reads) == len(duals_of(model))                       # cached


# ================================================================== (b) the same answer, bit for bit
def test_the_online_solve_is_bit_identical_to_the_fit_on_the_full_modes(small):
    folder, built = small
    loaded = ReducedOrderModel.load(folder / "rom.h5")
    # the fit of the rows at the reduced points is the former fit of the full modes at those points
    from rom.online.fits import DualFits
    from rom.online.operator import RestrictedOperator

    fits = DualFits(RestrictedOperator(loaded, problem_of(small)))
    sub = built.subdomains[0]
    for name, fitted in fits.reconstructors.items():
        former = GappyReconstructor.fit(sub.duals[name].modes, sub.points, len(sub.duals[name].components))
        for attribute in ("restricted", "operator", "condition_number", "amplification"):
            assert np.array_equal(getattr(fitted, attribute), getattr(former, attribute)), (name, attribute)
    # the lazily loaded model answers exactly as the model built in memory (full modes)
    expected, got = solution(built.solve(problem_of(small))), solution(loaded.solve(problem_of(small)))
    assert expected.keys() == got.keys()
    assert [k for k in expected if not np.array_equal(expected[k], got[k])] == []


# ================================================================== (c) files of before
def test_a_file_without_modes_at_points_loads_its_dual_modes_at_load(small, tmp_path, data_dir):
    path = copy(small, tmp_path, "before_lazy.h5")
    with h5py.File(path, "r+") as f:
        for group in f["subdomains/0/duals"].values():
            del group["modes_at_points"]
        _seal(f)                                                   # as written before the lazy dual modes
    old = ReducedOrderModel.load(path)
    assert all(d.loaded for d in duals_of(old))                     # read at load, as before
    lazy = ReducedOrderModel.load(small[0] / "rom.h5")
    assert [k for k, v in solution(old.solve(problem_of(small))).items()
            if not np.array_equal(v, solution(lazy.solve(problem_of(small)))[k])] == []
    # written before the checksums (tests/data/models): the same eager path
    compatible = ReducedOrderModel.load(data_dir / "models" / "cube2_format1.h5")
    assert all(d.loaded for d in duals_of(compatible))
    # without checksums the full modes are read at load (nothing would tie a later read to the file
    # checked at load), and modes_at_points must be their rows at the reduced points
    stripped = copy(small, tmp_path, "stripped.h5")
    strip_checksums(stripped)
    assert all(d.loaded for d in duals_of(ReducedOrderModel.load(stripped)))
    with h5py.File(stripped, "r+") as f:
        f["subdomains/0/duals/0/modes_at_points"][0, 0, 0] += 1.0
    with pytest.raises(InputError, match="modes_at_points: not the rows of modes at the reduced points") as error:
        ReducedOrderModel.load(stripped)
    assert str(error.value).startswith(f"{stripped}: ")


# ================================================================== (d) damaged full modes
def _alter_modes(path, value=np.nan, *, reseal: bool = False) -> None:
    with h5py.File(path, "r+") as f:
        modes = f["subdomains/0/duals/0/modes"]
        points = f["subdomains/0/points"][()]
        outside = int(np.setdiff1d(np.arange(modes.shape[1]), points)[0])     # not one of the reduced rows
        modes[0, outside, 0] = value
        if reseal:
            _seal(f)


def test_damaged_full_modes_are_refused_at_first_use_naming_the_file(small, tmp_path):
    path = copy(small, tmp_path)
    _alter_modes(path)
    model = ReducedOrderModel.load(path)                             # only the reduced rows are read
    result = model.solve(problem_of(small))                          # which the solve uses: unaffected
    with pytest.raises(InputError) as error:
        result.local_fields()                                        # a field rebuilt: its modes read
    message = str(error.value)
    assert message.startswith(f"{path}: ") and "subdomain 0 dual 0" in message
    assert "/subdomains/0/duals/0/modes" in message and "does not match its checksum" in message
    with pytest.raises(InputError, match="does not match its checksum"):
        model.subdomains[0].duals[next(iter(model.subdomains[0].duals))].modes   # again: never cached
    with pytest.raises(InputError, match="does not match its checksum"):
        model.save(tmp_path / "copy.h5")                             # nor written into another file
    assert not (tmp_path / "copy.h5").exists()


def test_a_file_changed_or_removed_after_load_is_refused_at_first_use(small, tmp_path):
    path = copy(small, tmp_path)
    model = ReducedOrderModel.load(path)
    _alter_modes(path, 0.5, reseal=True)                             # another valid file under the same name
    dual = model.subdomains[0].duals[next(iter(model.subdomains[0].duals))]
    with pytest.raises(InputError, match="not the one read when the model was loaded") as error:
        dual.modes
    assert str(error.value).startswith(f"{path}: ")
    path.unlink()
    with pytest.raises(InputError, match="cannot reopen") as error:
        dual.modes
    assert str(error.value).startswith(f"{path}: ") and str(path) in str(error.value)


# ================================================================== (e) inconsistent reduced rows
def test_modes_at_points_inconsistent_with_modes_are_refused(small, tmp_path):
    path = copy(small, tmp_path)
    with h5py.File(path, "r+") as f:                              # one reduced point short, resealed
        group = f["subdomains/0/duals/0"]
        rows = group["modes_at_points"][()]
        del group["modes_at_points"]
        group["modes_at_points"] = rows[:, 1:]
        _seal(f)
    with pytest.raises(InputError, match=r"modes_at_points: shape .* expected") as error:
        ReducedOrderModel.load(path)
    assert str(error.value).startswith(f"{path}: ") and "subdomain 0 dual 0" in str(error.value)
    # one more mode than the full modes
    path = copy(small, tmp_path, "more.h5")
    with h5py.File(path, "r+") as f:
        group = f["subdomains/0/duals/0"]
        rows = group["modes_at_points"][()]
        del group["modes_at_points"]
        group["modes_at_points"] = np.concatenate([rows, rows[:1]])
        _seal(f)
    with pytest.raises(InputError, match="modes_at_points: shape"):
        ReducedOrderModel.load(path)
    # the right shape, other values (resealed): refused when the full modes are read
    path = copy(small, tmp_path, "values.h5")
    with h5py.File(path, "r+") as f:
        f["subdomains/0/duals/0/modes_at_points"][0, 0, 0] += 1.0
        _seal(f)
    model = ReducedOrderModel.load(path)
    with pytest.raises(InputError, match="differ from modes_at_points") as error:
        duals_of(model)[0].modes
    assert str(error.value).startswith(f"{path}: ")


def test_the_full_modes_header_is_checked_at_load(small, tmp_path):
    """What can be checked without the values is: dtype, dimensions, shape, bytes stored."""
    for edit, expected in ((lambda g: g.create_dataset("modes", data=np.zeros((2, 3))), "2 dimension"),
                           (lambda g: g.create_dataset("modes", data=np.zeros((2, 3, 1), dtype=np.int64)),
                            "expected real numbers"),
                           (lambda g: g.create_dataset("modes", shape=(2, 10**7, 1), dtype=np.float64),
                            "needs")):
        path = copy(small, tmp_path, "header.h5")
        with h5py.File(path, "r+") as f:
            group = f["subdomains/0/duals/0"]
            del group["modes"]
            edit(group)
            _seal(f)
        with pytest.raises(InputError, match=expected) as error:
            ReducedOrderModel.load(path)
        assert str(error.value).startswith(f"{path}: ")


# ================================================================== what needs the full modes
def test_a_lazily_loaded_model_saves_pickles_and_copies_whole(small, tmp_path):
    folder, _ = small
    model = ReducedOrderModel.load(folder / "rom.h5")
    model.save(tmp_path / "again.h5")                               # reads the full modes through the property
    original, again = datasets(folder / "rom.h5"), datasets(tmp_path / "again.h5")
    assert original.keys() == again.keys()
    assert [k for k in original if not np.array_equal(original[k], again[k])] == []
    # pickled as MPI gathers it: where the modes are while unread, the modes once read
    fresh = ReducedOrderModel.load(folder / "rom.h5")
    dual = duals_of(fresh)[0]
    clone = pickle.loads(pickle.dumps(dual))
    assert not clone.loaded and np.array_equal(clone.at_points, dual.at_points)
    assert np.array_equal(clone.modes, dual.modes)
    assert pickle.loads(pickle.dumps(dual)).loaded
    # overwriting the file it was loaded from: the modes are read before the new file replaces it
    path = copy(small, tmp_path, "overwritten.h5")
    ReducedOrderModel.load(path).save(path)
    assert [k for k in original if not np.array_equal(original[k], datasets(path)[k])] == []


def test_a_dual_field_is_immutable_and_built_in_memory_as_before():
    modes = np.arange(24.0).reshape(2, 4, 3)
    dual = DualField("sig", ("a", "b", "c"), modes, np.array([2.0, 1.0]))
    assert dual.loaded and dual.shape == (2, 4, 3) and dual.n_modes == 2
    assert np.array_equal(dual.at(np.array([1, 3])), modes[:, [1, 3]])
    with pytest.raises(AttributeError, match="immutable"):
        dual.name = "eto"
    with pytest.raises(ValueError, match="its modes or where they are stored, one of the two"):
        DualField("sig", ("a",), None, np.ones(1))
    with pytest.raises(ValueError, match="differ from the modes there"):
        DualField("sig", ("a", "b", "c"), modes, np.ones(2), points=np.array([0]), at_points=modes[:, [1]])


# ================================================================== MPI
@pytest.mark.mpi
def test_lazy_dual_modes_on_two_ranks(comm, shared_tmp_path):
    """Each rank reads its subdomains' full modes itself; a loaded model saved under MPI is the same file."""
    from rom.offline import build

    if comm.rank == 0:
        write_small_case(shared_tmp_path)
    comm.Barrier()
    problem = read_problem(shared_tmp_path / "problem.toml")
    built = build(shared_tmp_path / "offline.toml", comm=comm)
    built.save(shared_tmp_path / "rom2.h5", comm)
    model = ReducedOrderModel.load(shared_tmp_path / "rom2.h5", comm)
    assert [s.index for s in model.subdomains] == [comm.rank]
    expected = solution(built.solve(problem, comm=comm))
    result = model.solve(problem, comm=comm)
    assert not any(d.loaded for d in duals_of(model))              # the solve read no full modes
    got = solution(result)                                           # each rank reads its own
    assert all(d.loaded for d in duals_of(model))
    assert [k for k in expected if not np.array_equal(expected[k], got[k])] == []
    # gathered unread on rank 0, which reads the other rank's modes from the file
    ReducedOrderModel.load(shared_tmp_path / "rom2.h5", comm).save(shared_tmp_path / "again.h5", comm)
    if comm.rank == 0:
        original, again = datasets(shared_tmp_path / "rom2.h5"), datasets(shared_tmp_path / "again.h5")
        assert [k for k in original if not np.array_equal(original[k], again[k])] == []
    comm.Barrier()
