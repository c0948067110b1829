"""A ROM dictionary end to end: clustering → local models → ROM-net → online choice and fallback.

The family: the cube of ``examples/cube`` (problem.toml on a 3³ hexahedron20 mesh), one cycle of
6 steps, the hot field either a hot spot at the loaded corner or a gradient along z,
at three peak temperatures each: two regimes whose displacement histories span
different subspaces. The Grassmann dissimilarity must find them; ROM-net must route
unseen loadings of each regime to its local model, whose answer matches the HF solver.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import io_adapters
from examples.cube.cube import hot_field
from io_adapters import ConfigError, InputError
from io_adapters.problem import read_problem
from rom.hifi import solve

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "cube"
CASES = [("hotspot", 850.0), ("hotspot", 950.0), ("hotspot", 1050.0),
         ("gradient", 850.0), ("gradient", 950.0), ("gradient", 1050.0)]
LOCAL = {"pod": {"U": {"tol": 1e-6}, "evrcum": {"tol": 1e-6}, "evri": {"tol": 1e-6}, "al1": {"tol": 1e-6},
                 "sig": {"tol": 1e-6}},
         "ecm": {"tol": 1e-5}, "indicator": {"field": "evrcum", "tol": 5e-2}}


def write_problem(folder: Path, case: str, hot: float) -> Path:
    """examples/cube/problem.toml with another hot field, one cycle of 6 steps."""
    mesh = folder / "cube3.geof"
    if not mesh.exists():                                    # 3³ hexahedron20: a fast family
        from examples.cube.cube import make_cube_mesh
        from io_adapters.zset.geof import write_geof

        write_geof(make_cube_mesh(3), mesh)
    name = f"{case}_{int(hot)}"
    points = io_adapters.zset.read_mesh(mesh).points
    np.save(folder / f"{name}_hot.npy", hot_field(points, case, hot=hot))
    text = (EXAMPLE / "problem.toml").read_text()
    for old, new in (('max = { file = "cube4_hot.npy" }', f'max = {{ file = "{name}_hot.npy" }}'),
                     ('mesh = "cube4.geof"', 'mesh = "cube3.geof"'),
                     ("increments = [5, 5]", "increments = [3, 3]"), ("cycles = 2", "cycles = 1")):
        assert old in text, old
        text = text.replace(old, new)
    path = folder / f"{name}.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def family(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dictionary")
    runs = []
    for case, hot in CASES:
        problem_path = write_problem(folder, case, hot)
        store = folder / f"{problem_path.stem}.h5"
        solve(read_problem(problem_path), output=store, linear_solver="scipy")
        runs.append({"store": str(store), "problem": str(problem_path)})
    return folder, runs


def config(folder: Path, runs, **changes) -> dict:
    data = {"training": runs, "problem": runs[0]["problem"], "output": str(folder / "dictionary.h5"),
            "clustering": {"n_clusters": 2, "dissimilarity": "grassmann", "rank": 3},
            "features": {"n_components": 2}, "classifier": {"candidates": ["logistic"], "cv": 3},
            **LOCAL}
    data.update(changes)
    return data


@pytest.fixture(scope="module")
def dictionary(family):
    from clustering.build import build_dictionary, write_report

    folder, runs = family
    built = build_dictionary(config(folder, runs))
    built.save(folder / "dictionary.h5")
    write_report(built, folder / "dictionary_report.md")
    return built


def test_clustering_finds_the_two_regimes(dictionary):
    labels = np.array(dictionary.report["labels"])
    assert len(set(labels[:3])) == 1 and len(set(labels[3:])) == 1 and labels[0] != labels[3]
    assert dictionary.report["classifier"]["accuracy"] == 1.0
    assert dictionary.report["efficiency_ratio"] < 1.0           # local bases beat a global one of their size
    assert len(dictionary.models) == 2 and all(m.n_modes >= 1 for m in dictionary.models)


def test_report_and_file_round_trip(dictionary, family):
    from clustering.dictionary import RomDictionary, is_dictionary

    folder, _ = family
    path = folder / "dictionary.h5"
    assert is_dictionary(path)
    loaded = RomDictionary.load(path)
    assert loaded.n_clusters == 2 and loaded.report["labels"] == dictionary.report["labels"]
    report = (folder / "dictionary_report.md").read_text()
    assert "ROM-net" in report and (folder / "dictionary_report_confusion.png").exists()
    done = subprocess.run([sys.executable, "-m", "mpi_drivers.cli", "info", str(path)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and "2 local models" in done.stdout, done.stderr


def test_loading_a_dictionary_reads_no_full_dual_modes(dictionary, family, monkeypatch):
    """Each local model's duals keep their rows at the reduced points; the full modes are read from
    their dataset in that model's group on first use (a field rebuilt, a save)."""
    from clustering.dictionary import RomDictionary
    from rom.model import StoredModes

    folder, _ = family
    reads = []
    original = StoredModes.read
    monkeypatch.setattr(StoredModes, "read", lambda self: reads.append(self) or original(self))
    loaded = RomDictionary.load(folder / "dictionary.h5")
    duals = [(k, d) for k, m in enumerate(loaded.models) for s in m.subdomains for d in s.duals.values()]
    assert duals and not any(d.loaded for _, d in duals)
    problem = read_problem(write_problem(folder, "hotspot", 1000.0))
    result = loaded.solve(problem)
    assert reads == [] and not any(d.loaded for _, d in duals)
    result.local_fields(["evrcum"])                                  # one dual of the chosen model
    cluster = result.selection["cluster"]
    assert [r.dataset.split("/duals/")[0] for r in reads] == [f"/models/{cluster}/subdomains/0"]
    assert all(r.where == f"{folder / 'dictionary.h5'} model {cluster}" for r in reads)
    for k, dual in duals:                                            # every one equals the model built in memory
        built = dictionary.models[k].subdomains[0].duals[dual.name]
        assert np.array_equal(dual.modes, built.modes)


def test_loading_a_dictionary_reads_only_the_model_it_uses(dictionary, family, tmp_path):
    """Load: the mesh, the classifier and each model's verified header; a solve reads the model
    ROM-net chose (bit-identical to the one built in memory); a file changed after the load is
    refused when a model is first read, naming the file."""
    import shutil

    import h5py

    from clustering.dictionary import RomDictionary
    from io_adapters import InputError

    folder, _ = family
    loaded = RomDictionary.load(folder / "dictionary.h5")
    assert loaded.models.loaded == [] and len(loaded.models) == 2
    assert loaded.model_settings(1) == dictionary.models[1].settings and loaded.models.loaded == []
    problem = read_problem(write_problem(folder, "hotspot", 1000.0))
    result = loaded.solve(problem, max_fallbacks=0)
    cluster = result.selection["cluster"]
    assert loaded.models.loaded == [cluster]
    reference = dictionary.models[cluster].solve(problem)
    assert np.array_equal(np.array(result.reduced_coordinates), np.array(reference.reduced_coordinates))
    # the file changes under a loaded dictionary: the next model read is refused
    copy = tmp_path / "dictionary.h5"
    shutil.copy(folder / "dictionary.h5", copy)
    again = RomDictionary.load(copy)
    with h5py.File(copy, "r+") as f:
        f["models/0"].attrs["provenance"] = "{}"
    with pytest.raises(InputError, match=r"dictionary.h5 model 0: .*(changed since the dictionary was loaded|"
                                         r"does not match its checksum)"):
        again.models[0]
    copy.unlink()
    with pytest.raises(InputError, match="cannot read local model 1"):
        again.models[1]


@pytest.mark.parametrize("case", ["hotspot", "gradient"])
def test_rom_net_routes_an_unseen_loading_to_its_regime(dictionary, family, case):
    from clustering.dictionary import RomDictionary

    folder, _ = family
    problem = read_problem(write_problem(folder, case, 1000.0))
    labels = np.array(dictionary.report["labels"])
    expected = labels[0] if case == "hotspot" else labels[3]
    result = RomDictionary.load(folder / "dictionary.h5").solve(problem)
    assert result.selection["cluster"] == expected
    reference = solve(problem, linear_solver="scipy").fields["U"].values
    U = result.fields["U"].values
    assert np.linalg.norm(U - reference) <= 5e-3 * np.linalg.norm(reference)
    # the other regime's model is worse on it: the choice matters
    other = dictionary.models[1 - expected].solve(problem).fields["U"].values
    assert np.linalg.norm(other - reference) > 2 * np.linalg.norm(U - reference)


def test_fallback_to_the_next_candidate_when_the_indicator_says_so(dictionary, family, monkeypatch):
    """A classifier that points to the wrong regime: the indicator rejects it and the other model answers."""
    import dataclasses

    folder, _ = family
    problem = read_problem(write_problem(folder, "gradient", 1000.0))
    labels = np.array(dictionary.report["labels"])
    wrong = int(labels[0])
    fooled = dataclasses.replace(dictionary)
    monkeypatch.setattr(type(fooled), "classify", lambda self, p: {"probabilities": [0.5, 0.5],
                                                                   "conformal_set": [wrong],
                                                                   "order": [wrong, 1 - wrong]})
    result = fooled.solve(problem)
    assert list(result.selection["tried"]) == [str(wrong), str(1 - wrong)]
    assert result.selection["cluster"] == 1 - wrong


def test_online_driver_accepts_a_dictionary(dictionary, family):
    folder, _ = family
    problem = write_problem(folder, "hotspot", 1000.0)
    (folder / "case.toml").write_text(f'problem = "{problem.name}"\noutput = "online.h5"\n')
    done = subprocess.run([sys.executable, "-m", "mpi_drivers.cli", "online", str(folder / "dictionary.h5"),
                           str(folder / "case.toml")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "ROM-net: local model" in done.stdout
    assert io_adapters.read(folder / "online.h5").n_times == 7


def test_bad_inputs_are_refused(family, dictionary):
    from clustering.build import build_dictionary
    from clustering.config import ClusterConfig
    from examples.cube.cube import make_cube_problem

    folder, runs = family
    with pytest.raises(ConfigError, match=r"n_clusters = 9 is larger than the number of training runs \(6\)"):
        ClusterConfig.load(config(folder, runs, clustering={"n_clusters": 9}))
    with pytest.raises(ConfigError, match=r"dissimilarity must be one of"):
        ClusterConfig.load(config(folder, runs, clustering={"n_clusters": 2, "dissimilarity": "cosine"}))
    with pytest.raises(ConfigError, match=r"store .*missing.h5 does not exist"):
        ClusterConfig.load(config(folder, runs + [{"store": str(folder / "missing.h5"), "problem": runs[0]["problem"]}]))
    other_mesh = make_cube_problem(2, n_cycles=1, steps_per_cycle=6)
    with pytest.raises(InputError, match=r"mesh"):
        dictionary.solve(other_mesh)
    assert callable(build_dictionary)
