"""Problems written to TOML + HDF5 (io_adapters.problem_writer) and read back identically."""

from __future__ import annotations

import dataclasses
import os
import tomllib

import h5py
import numpy as np
import pytest

from examples.cube.cube import make_cube_problem, make_cube_strain_problem
from io_adapters import (
    Centrifugal,
    ConfigError,
    Dirichlet,
    ImposedField,
    Pressure,
    Problem,
    Temperature,
    TimeTable,
    read_problem,
)
from io_adapters.problem import facet_count
from io_adapters.problem_writer import FORMAT_NAME, INLINE_STEPS, write_problem
from rom import fem


def imposed_problem() -> Problem:
    """Every kind of load at once: imposed fields of both forms beside Dirichlet conditions, a
    per-facet pressure, a centrifugal load on a cell set, a temperature whose tables are inline,
    odd set and material names, solver and output settings."""
    mesh = fem.box_mesh("hexahedron20", (3, 2, 2), (3.0, 1.0, 1.0))
    half = np.flatnonzero(np.arange(mesh.n_cells) % 2 == 0)
    mesh = dataclasses.replace(mesh, cell_sets={"even cells": half,
                                                'odd "cells".1': np.setdiff1d(np.arange(mesh.n_cells), half)})
    rng = np.random.default_rng(3)
    n_top, n_side = len(mesh.node_sets["xmax"]), len(mesh.node_sets["ymax"])
    cycle = TimeTable([0.0, 0.5, 1.0], [0.0, 1.0, 0.0], period=1.0, start=0.0, end=3.0)
    elastic = {"behavior": "linear_elastic", "density": 8.2e-9,
               "elasticity": {"young": {"temperature": [0.0, 1000.0], "value": [2e5, 1.6e5]}, "poisson": 0.3},
               "thermal_strain": {"alpha": 1.2e-5, "ref_temperature": 20.0}}
    plastic = {"behavior": "j2_plasticity", "density": 7.8e-9, "elasticity": {"young": 2.1e5, "poisson": 0.29},
               "yield_stress": 250.0, "isotropic": {"type": "linear", "H": 1e3},
               "kinematic": [{"type": "armstrong_frederick", "C": 5e4, "D": 300.0}],
               "thermal_strain": {"alpha": 1.1e-5, "ref_temperature": 20.0},
               "integration": {"theta": 0.5, "tol": 1e-8, "max_iterations": 50}}
    return Problem(
        mesh=mesh,
        materials={"even cells": elastic, 'odd "cells".1': plastic},
        dirichlet=(Dirichlet("xmin", 0, 0.0), Dirichlet("xmin", 1, 0.0), Dirichlet("xmin", 2, 0.0),
                   Dirichlet("xmax", 1, 1e-3, "cycle")),
        imposed_fields=(
            ImposedField.from_history("xmax", [0.0, 0.3, 1.0 / 3.0, 2.0], rng.normal(size=(4, n_top, 3)) * 1e-3,
                                      components=(0, 2)),
            ImposedField.from_records("ymax", rng.normal(size=(2, n_side, 3)) * 1e-4,
                                      (cycle, TimeTable([0.0, 3.0], [0.1, np.pi])), components=(1,)),
        ),
        pressures=(Pressure("zmax", rng.normal(size=facet_count(mesh, "zmax")) * 10.0, "cycle"),
                   Pressure("ymin", -20.0)),
        centrifugal=(Centrifugal("even cells", (0.0, 0.1, -100.0), (1.0, 1.0, 0.0), 2000.0, "cycle"),),
        temperature=Temperature.from_key_times([0.0, 1.5, 3.0], 20.0 + 500.0 * rng.random((2, mesh.n_nodes)),
                                               [0, 1, 0]),
        tables={"cycle": cycle},
        times=np.concatenate([[0.0], np.cumsum(np.full(12, 0.25))]),
        solver={"tolerance": 1e-6, "max_iterations": 20, "linear_solver": "scipy", "rule": "default"},
        output={"output_first": True, "components": ["sig", "eto"], "save_all_variables": False},
        source="test_problem_writer: every load",
    )


def example_problems(data_dir):
    return {
        "cube": make_cube_problem(2, n_cycles=1, steps_per_cycle=4),
        "cube_strain": make_cube_strain_problem(2, 0.02, 0.01),
        "zset_deck": read_problem(data_dir / "problems" / "cube.inp"),
        "imposed": imposed_problem(),
    }


@pytest.mark.parametrize("name", ["cube", "cube_strain", "zset_deck", "imposed"])
@pytest.mark.parametrize("mesh_format", ["h5", "geof"])
def test_every_example_problem_reads_back_identically(data_dir, tmp_path, name, mesh_format):
    problem = example_problems(data_dir)[name]
    if mesh_format == "geof" and name == "imposed":          # Zset set names are single words
        with pytest.raises(ConfigError, match=r"a .geof cannot hold the cell set name 'even cells'"):
            write_problem(problem, tmp_path / "case.toml", mesh_format=mesh_format)
        assert not any(tmp_path.iterdir())
        renamed = {"even cells": "even", 'odd "cells".1': "odd"}
        mesh = dataclasses.replace(problem.mesh, cell_sets={renamed[k]: v for k, v in problem.mesh.cell_sets.items()})
        problem = dataclasses.replace(
            problem, mesh=mesh, materials={renamed[k]: v for k, v in problem.materials.items()},
            centrifugal=tuple(dataclasses.replace(c, cell_set=renamed[c.cell_set]) for c in problem.centrifugal))
    path = write_problem(problem, tmp_path / "case.toml", mesh_format=mesh_format)
    assert path == tmp_path / "case.toml"
    back = read_problem(path)
    assert back == problem
    assert back.source == str(path)
    with open(path, "rb") as f:
        parsed = tomllib.load(f)
    assert parsed["mesh"] == ("case.h5" if mesh_format == "h5" else "case.geof")
    expected = {"case.toml"} | ({"case.h5"} if "data" in parsed else set()) | {parsed["mesh"]}
    assert {p.name for p in tmp_path.iterdir()} == expected                 # no temporaries left
    if "data" in parsed:
        with h5py.File(tmp_path / "case.h5") as f:
            assert f.attrs["format"] == FORMAT_NAME.encode() and f.attrs["complete"] == 1
            assert ("mesh" in f) == (mesh_format == "h5")
            assert f.attrs["uuid"].decode() == parsed["data"]["uuid"]
    # what matters downstream: the same loads at every time
    for t in problem.times[:3]:
        if problem.temperature is not None:
            np.testing.assert_array_equal(back.temperature.at(t), problem.temperature.at(t))
        for a, b in zip(back.imposed_fields, problem.imposed_fields):
            np.testing.assert_array_equal(a.at(t), b.at(t))


def test_the_toml_is_readable_and_arrays_go_to_the_data_file(tmp_path):
    problem = imposed_problem()
    path = write_problem(problem, tmp_path / "case")                 # .toml added
    assert path.name == "case.toml"
    text = path.read_text()
    assert '[materials."odd \\"cells\\".1"]' in text and '[materials."even cells"]' in text
    parsed = tomllib.loads(text)
    first, second = parsed["imposed_field"]
    assert first["dataset"] == "imposed_fields/0/values" and first["components"] == [0, 2]
    assert first["times"] == {"file": "case.h5", "dataset": "imposed_fields/0/times"}
    assert [f["table"] for f in second["fields"]] == ["cycle", {"time": [0.0, 3.0], "value": [0.1, np.pi]}]
    assert parsed["pressure"][0]["dataset"] == "pressures/0/values" and parsed["pressure"][1]["value"] == -20.0
    with h5py.File(tmp_path / "case.h5") as f:
        np.testing.assert_array_equal(f["imposed_fields/0/nodes"], problem.mesh.node_sets["xmax"])
        np.testing.assert_array_equal(f["temperature/fields"], problem.temperature.fields)
        assert all("checksum" in f[name].attrs for name in ("temperature/fields", "mesh/points"))


def test_a_long_time_list_goes_to_the_data_file(tmp_path):
    problem = make_cube_strain_problem(1, 0.02, 0.0)
    long = dataclasses.replace(problem, times=np.linspace(0.0, 20.0, INLINE_STEPS + 2))
    path = write_problem(long, tmp_path / "long.toml")
    assert tomllib.loads(path.read_text())["time"]["steps"] == {"file": "long.h5", "dataset": "time/steps"}
    assert read_problem(path) == long


def test_a_rewrite_replaces_the_pair_and_an_old_toml_is_refused(tmp_path):
    first = make_cube_strain_problem(1, 0.02, 0.0)
    path = write_problem(first, tmp_path / "case.toml")
    old_text = path.read_text()
    second = make_cube_strain_problem(1, 0.03, 0.0)
    write_problem(second, path)
    assert read_problem(path) == second
    path.write_text(old_text)                     # a TOML of the first write beside the data of the second
    with pytest.raises(ConfigError, match=r"case.toml: 'data': .*case.h5 is not the data file this problem was "
                                          r"written with"):
        read_problem(path)


def test_a_corrupt_data_file_is_refused_naming_the_dataset(tmp_path):
    path = write_problem(imposed_problem(), tmp_path / "case.toml")
    with h5py.File(tmp_path / "case.h5", "r+") as f:
        f["imposed_fields/0/values"][1, 2, 0] += 1e-3
    with pytest.raises(ConfigError, match=r"case.toml: \[\[imposed_field\]\] 1 \(node set 'xmax'\): .*the values of "
                                          r"'/imposed_fields/0/values' are not those its writer recorded"):
        read_problem(path)


def test_an_interrupted_write_leaves_the_previous_files(tmp_path, monkeypatch):
    problem = make_cube_strain_problem(1, 0.02, 0.0)
    path = write_problem(problem, tmp_path / "case.toml")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    import io_adapters.problem_writer as writer

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(writer, "_write_data", fail)
    with pytest.raises(OSError, match="disk full"):
        write_problem(make_cube_strain_problem(1, 0.05, 0.0), path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert read_problem(path) == problem


def test_what_cannot_be_written_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="write_problem needs a Problem"):
        write_problem({"mesh": "x"}, tmp_path / "x.toml")
    with pytest.raises(ConfigError, match="mesh_format must be 'h5' or 'geof'"):
        write_problem(make_cube_strain_problem(1, 0.02, 0.0), tmp_path / "x.toml", mesh_format="vtu")
    assert not any(tmp_path.iterdir())


def test_a_written_case_runs_as_an_online_case_file(tmp_path):
    """The written problem is what ``nirom online`` case files name."""
    from mpi_drivers.online import load_case

    write_problem(make_cube_strain_problem(1, 0.02, 0.0), tmp_path / "loading.toml")
    (tmp_path / "case.toml").write_text('problem = "loading.toml"\n')
    case = load_case(tmp_path / "case.toml")
    assert read_problem(case.problem) == make_cube_strain_problem(1, 0.02, 0.0)
    assert os.path.samefile(case.problem, tmp_path / "loading.toml")
