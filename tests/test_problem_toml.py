"""Problems described in TOML (tests/data/problems/cube.toml is cube.inp in TOML)."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import numpy as np
import pytest

from io_adapters.errors import ConfigError
from io_adapters.problem import Temperature
from io_adapters.problem_toml import problem_from_dict, read_problem_toml
from io_adapters.zset.deck import read_problem as read_deck

FILES = ("cube.geof", "cube.toml", "evp.mat", "plasticity.mat", "elas", "pressure.node", "tcold.node", "thot.node")


@pytest.fixture(scope="module")
def folder(data_dir) -> Path:
    return data_dir / "problems"


@pytest.fixture(scope="module")
def cube_dict(folder) -> dict:
    with open(folder / "cube.toml", "rb") as f:
        return tomllib.load(f)


def build(cube_dict, folder, **changes):
    """cube.toml with some top-level entries replaced (None removes one)."""
    d = {**cube_dict, **changes}
    return problem_from_dict({k: v for k, v in d.items() if v is not None}, folder, source="cube.toml")


def test_toml_and_zset_give_the_same_problem(folder):
    from_toml = read_problem_toml(folder / "cube.toml")
    from_deck = read_deck(folder / "cube.inp")
    assert from_toml == from_deck
    assert from_toml.source.endswith("cube.toml") and from_deck.source.endswith("cube.inp")
    np.testing.assert_array_equal(from_toml.temperature.at(from_toml.times), from_deck.temperature.at(from_deck.times))


def test_explicit_steps_inline_specs_and_per_facet_values(cube_dict, folder):
    young = {"temperature": [0.0, 500.0], "value": [2e5, 1.5e5]}
    p = build(cube_dict, folder,
              time={"steps": [0.0, 0.5, 2.0]},
              materials={"ALL_ELEMENT": {"behavior": "linear_elastic", "density": 1e-8,
                                         "elasticity": {"young": young, "poisson": 0.3}}},
              pressure=[{"face_set": "x1", "values": list(range(36)), "table": "ptab"}],
              centrifugal=[{"center": [0, 0, 0], "axis": [0, 2, 0], "omega": 5}])
    np.testing.assert_array_equal(p.times, [0.0, 0.5, 2.0])
    assert p.materials["ALL_ELEMENT"]["elasticity"]["young"] == young
    np.testing.assert_array_equal(p.pressures[0].values, np.arange(36.0))
    assert p.centrifugal[0].cell_set is None and p.centrifugal[0].axis.tolist() == [0.0, 1.0, 0.0]


def test_time_from_intervals(cube_dict, folder):
    p = build(cube_dict, folder, time={"start": 1.0, "end": 3.0, "increments": 4, "cycles": 2})
    np.testing.assert_allclose(p.times, np.linspace(1.0, 5.0, 9))


def test_temperature_forms(cube_dict, folder, tmp_path):
    n = 1225
    np.save(tmp_path / "fields.npy", np.stack([np.full(n, 20.0), np.full(n, 100.0)]))
    cold = {"file": str(tmp_path / "fields.npy"), "record": 1}
    hot = {"file": str(tmp_path / "fields.npy"), "record": 2}
    tables = {**cube_dict["tables"], "c1": {"time": [0.0, 1.0], "value": [1.0, 0.0]},
              "c2": {"time": [0.0, 1.0], "value": [0.0, 1.0]}}
    linear = build(cube_dict, folder, tables=tables,
                   temperature={"fields": [dict(cold, table="c1"), dict(hot, table="c2")]}).temperature
    np.testing.assert_allclose(linear.at(0.25), 40.0)
    base_max = build(cube_dict, folder, tables=tables,
                     temperature={"base": 20.0, "max": hot, "table": "c2"}).temperature
    np.testing.assert_allclose(base_max.at([0.0, 0.5, 3.0]), np.repeat([[20.0], [60.0], [100.0]], n, axis=1))
    uniform = build(cube_dict, folder, temperature={"uniform": 350.0}).temperature
    assert uniform == Temperature.uniform(350.0, n)
    keys = build(cube_dict, folder, temperature={"keys": [dict(cold, time=0.0), dict(hot, time=2.0)]}).temperature
    np.testing.assert_allclose(keys.at([1.0, 9.0])[:, 0], [60.0, 100.0])     # clamped after the last key


@pytest.mark.parametrize("changes, message", [
    (dict(colour="red"), r"cube.toml: unknown key 'colour' in the top level"),
    (dict(time={"end": 1.0, "increments": 2, "cycle": 2}), r"unknown key 'cycle' in \[time\]"),
    (dict(solver={"tolerance": 1e-3, "max_iter": 3}), r"unknown key 'max_iter' in \[solver\]"),
    (dict(dirichlet=[{"node_set": "x0", "component": 0, "value": 0.0, "tabel": "ramp"}]),
     r"unknown key 'tabel' in \[\[dirichlet\]\] 1"),
    (dict(tables={"ramp": {"time": [0, 1], "values": [0, 1]}}), r"unknown key 'values' in \[tables.ramp\]"),
    (dict(materials={"ALL_ELEMENT": {"file": "elas", "density": 1.0}}),
     r"unknown key 'density' in \[materials.ALL_ELEMENT\]"),
    (dict(materials={"ALL_ELEMENT": {"behavior": "linear_elastic", "density": 1.0,
                                     "elasticity": {"young": 1.0, "poisson": 0.3, "shear": 1.0}}}),
     r"unknown key 'shear' in 'elasticity'"),
    (dict(temperature={"keys": [{"time": 0.0, "file": "tcold.node", "rec": 1}]}),
     r"unknown key 'rec' in \[temperature\] keys\[0\]"),
])
def test_unknown_keys_name_the_key_and_its_table(cube_dict, folder, changes, message):
    with pytest.raises(ConfigError, match=message):
        build(cube_dict, folder, **changes)


@pytest.mark.parametrize("changes, message", [
    (dict(dirichlet=[{"node_set": "x7", "component": "U2", "value": 0.0}]),
     r"cube.toml: dirichlet\[0\] \(node set 'x7', component 1\): node set 'x7' is not in the mesh "
     r"\(node sets: center, px0, "),
    (dict(temperature={"keys": [{"time": 0.0, "file": "tnone.node"}]}),
     r"\[temperature\] keys\[0\] temperature: file .*tnone.node not found"),
    (dict(time={"steps": [0.0, 1.0, 0.5]}), r"times must increase strictly: times\[1\] = 1.0"),
    (dict(time={"end": [2.0, 1.0], "increments": [1, 1]}), r"\[time\]: times must increase"),
    (dict(pressure=[{"face_set": "x1", "file": "tcold.node"}]),
     r"pressure file .*tcold.node holds 1225 big-endian float32 values, but face set 'x1' has 36 facets"),
    (dict(pressure=[{"face_set": "x1", "value": 1.0, "values": [1.0]}]), "exactly one of 'value', 'values'"),
    (dict(centrifugal=[{"center": [0, 0, 0], "axis": "w", "omega": 1.0}]), "axis must be 'x', 'y', 'z'"),
    (dict(materials={"domain000": {"file": "nothing.mat"}}), "material file .*nothing.mat not found"),
    (dict(temperature={"uniform": 20.0, "base": 20.0}), "exactly one of 'keys'"),
    (dict(mesh="none.geof"), "mesh file .*none.geof not found"),
    (dict(time=None), "the top level has no 'time'"),
])
def test_bad_problems_are_refused(cube_dict, folder, changes, message):
    with pytest.raises(ConfigError, match=message):
        build(cube_dict, folder, **changes)


def test_material_file_without_a_required_coefficient(cube_dict, folder, tmp_path):
    for name in FILES:
        shutil.copy(folder / name, tmp_path / name)
    text = (tmp_path / "evp.mat").read_text().replace("     1.2e5   1000.\n", "").replace(
        "   young temperature\n     1.6e5   0.\n", "")
    (tmp_path / "evp.mat").write_text(text)
    with pytest.raises(ConfigError, match=r"evp.mat line 8: \*\*elasticity isotropic in .* has no 'young'"):
        read_problem_toml(tmp_path / "cube.toml")


def test_invalid_toml_is_reported(tmp_path):
    (tmp_path / "bad.toml").write_text("mesh = [unclosed\n")
    with pytest.raises(ConfigError, match="bad.toml: not valid TOML"):
        read_problem_toml(tmp_path / "bad.toml")


def test_the_documented_example_is_accepted(cube_dict, folder):
    import io_adapters.problem_toml as module

    text = module.__doc__.split("Example (every section; alternatives in comments)::\n")[1]
    example = tomllib.loads("\n".join(line[4:] for line in text.splitlines()))
    assert set(example) == {"mesh", "time", "solver", "output", "materials", "dirichlet", "pressure",
                            "centrifugal", "temperature", "tables"}
    p = build(example, folder, materials=cube_dict["materials"])     # the example covers two cell sets only
    assert p.n_steps == 15 and p.temperature.fields.shape == (2, 1225)
