"""The problem containers: time tables, time steps, temperature histories, Problem validation."""

from __future__ import annotations

import numpy as np
import pytest

from io_adapters.errors import ConfigError
from io_adapters.mesh import Mesh
from io_adapters.problem import (
    Centrifugal,
    Dirichlet,
    Pressure,
    Problem,
    Temperature,
    TimeTable,
    check_material_spec,
    read_nodal_values,
    read_problem,
    time_steps,
)
from io_adapters.zset.deck import linear_in_cycle

ELASTIC = {"behavior": "linear_elastic", "density": 1e-8, "elasticity": {"young": 2e5, "poisson": 0.3}}


def two_hexes() -> Mesh:
    """Two unit hexahedra side by side along x (12 nodes), with sets."""
    x, y, z = np.meshgrid([0.0, 1.0, 2.0], [0.0, 1.0], [0.0, 1.0], indexing="ij")
    points = np.column_stack([x.ravel(), y.ravel(), z.ravel()])

    def node(i, j, k):
        return i * 4 + j * 2 + k

    hexes = [[node(i, 0, 0), node(i + 1, 0, 0), node(i + 1, 1, 0), node(i, 1, 0),
              node(i, 0, 1), node(i + 1, 0, 1), node(i + 1, 1, 1), node(i, 1, 1)] for i in range(2)]
    return Mesh(
        points=points,
        cells={"hexahedron": np.array(hexes)},
        node_sets={"left": np.array([0, 1, 2, 3]), "right": np.array([8, 9, 10, 11])},
        cell_sets={"first": np.array([0]), "second": np.array([1])},
        face_sets={"end": {"quad": np.array([[8, 10, 11, 9]])},
                   "top": {"quad": np.array([[1, 5, 7, 3], [5, 9, 11, 7]])}},
    )


def problem(**changes) -> Problem:
    args = dict(mesh=two_hexes(), materials={"ALL_ELEMENT": ELASTIC},
                dirichlet=(Dirichlet("left", 0, 0.0), Dirichlet("right", 0, 0.1, "ramp")),
                pressures=(Pressure("top", -5.0, "ramp"),),
                centrifugal=(Centrifugal(None, [0, 0, 0], [0, 0, 2], 10.0),),
                tables={"ramp": TimeTable([0.0, 1.0], [0.0, 1.0])},
                times=np.linspace(0.0, 1.0, 5), source="test.toml")
    args.update(changes)
    return Problem(**args)


# ----------------------------------------------------------------- TimeTable
def test_table_is_piecewise_linear_clamped_and_vectorised():
    table = TimeTable([0.0, 1.0, 3.0], [0.0, 2.0, -2.0])
    t = np.array([-1.0, 0.0, 0.5, 1.0, 2.0, 3.0, 10.0])
    np.testing.assert_allclose(table(t), [0.0, 0.0, 1.0, 2.0, 0.0, -2.0, -2.0])
    assert table(0.25) == pytest.approx(0.5) and isinstance(table(0.25), float)
    assert TimeTable.constant(3.0)(np.array([-5.0, 7.0])).tolist() == [3.0, 3.0]


def test_periodic_table_repeats_between_start_and_end():
    # Zset **cycle ptab 0. 20. with *time 0. 0.1 10. *value 0. -50. -50.
    table = TimeTable([0.0, 0.1, 10.0], [0.0, -50.0, -50.0], period=10.0, start=0.0, end=20.0)
    t = np.array([0.0, 0.05, 5.0, 10.0, 10.05, 15.0, 20.0, 20.05, 100.0])
    np.testing.assert_allclose(table(t), [0.0, -25.0, -50.0, -50.0, -25.0, -50.0, -50.0, -50.0, -50.0])
    # a start later than 0: before it, the value at the start
    late = TimeTable([0.0, 1.0], [0.0, 1.0], period=1.0, start=2.0)
    np.testing.assert_allclose(late([0.0, 2.0, 2.5, 3.0, 3.25, 1e3 + 2.5]), [0.0, 0.0, 0.5, 1.0, 0.25, 0.5])


@pytest.mark.parametrize("kwargs, message", [
    (dict(times=[0.0, 1.0, 1.0], values=[0, 1, 2]), "increase strictly"),
    (dict(times=[0.0, 1.0], values=[0.0]), "differ in length"),
    (dict(times=[0.0, 2.0], values=[0, 1], period=1.0), "within one period"),
    (dict(times=[0.0, 1.0], values=[0, 1], start=1.0), "only make sense with a period"),
    (dict(times=[0.0, 1.0], values=[0, np.nan]), "non-finite"),
])
def test_bad_tables_are_refused(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        TimeTable(**kwargs)


def test_time_steps_chain_intervals_and_repeat_cycles():
    np.testing.assert_allclose(time_steps([2.0], [10]), np.linspace(0, 2, 11))
    np.testing.assert_allclose(time_steps([1.0, 3.0], [2, 1], cycles=2),
                               [0.0, 0.5, 1.0, 3.0, 3.5, 4.0, 6.0])
    with pytest.raises(ConfigError, match="times must increase"):
        time_steps([2.0, 1.0], [1, 1])
    with pytest.raises(ConfigError, match="positive integers"):
        time_steps([2.0], [0])


# --------------------------------------------------------------- Temperature
def test_key_time_temperature_is_hat_functions():
    cold, hot = np.full(4, 20.0), np.array([100.0, 200.0, 300.0, 400.0])
    temperature = Temperature.from_key_times([0.0, 5.0, 10.0], [cold, hot], [0, 1, 0])
    np.testing.assert_allclose(temperature.coefficients(5.0), [0.0, 1.0])          # at a key time
    np.testing.assert_allclose(temperature.coefficients(2.5), [0.5, 0.5])          # between
    np.testing.assert_allclose(temperature.coefficients(50.0), [1.0, 0.0])         # clamped after
    np.testing.assert_allclose(temperature.at(7.5), (cold + hot) / 2)
    times = np.linspace(-1.0, 12.0, 27)
    assert temperature.at(times).shape == (27, 4)
    np.testing.assert_allclose(temperature.coefficients(times).sum(axis=1), 1.0)  # partition of unity


def test_periodic_key_times_repeat_until_the_end():
    cold, hot = np.zeros(3), np.ones(3)
    # keys 0 (cold) and 5 (hot), period 10: hot -> cold again over [5, 10]
    temperature = Temperature.from_key_times([0.0, 5.0], [cold, hot], [0, 1], period=10.0, end=25.0)
    t = np.array([0.0, 2.5, 5.0, 7.5, 10.0, 15.0, 17.5, 25.0, 30.0])
    np.testing.assert_allclose(temperature.at(t)[:, 0], [0.0, 0.5, 1.0, 0.5, 0.0, 1.0, 0.5, 1.0, 1.0])
    with pytest.raises(ConfigError, match="more than the period"):
        Temperature.from_key_times([0.0, 12.0], [cold, hot], [0, 1], period=10.0)


def test_base_max_and_uniform_temperatures():
    base, top = np.full(2, 20.0), np.array([120.0, 220.0])
    coef = TimeTable([0.0, 1.0], [0.0, 1.0], period=1.0)
    temperature = Temperature.from_base_max(base, top, coef)
    np.testing.assert_allclose(temperature.at(0.5), [70.0, 120.0])
    np.testing.assert_allclose(temperature.at(1.5), [70.0, 120.0])
    uniform = Temperature.uniform(20.0, 5)
    np.testing.assert_allclose(uniform.at([0.0, 3.0]), np.full((2, 5), 20.0))


def test_linear_in_cycle_expressions():
    assert linear_in_cycle("5.0+cycle*10.") == (5.0, 10.0)
    assert linear_in_cycle(" (cycle - 1) * 2 ") == (-2.0, 2.0)
    with pytest.raises(ConfigError, match="not linear"):
        linear_in_cycle("cycle*cycle")
    with pytest.raises(ConfigError, match="may only use"):
        linear_in_cycle("__import__('os')")


# ------------------------------------------------------------------- Problem
def test_valid_problem_and_queries():
    p = problem()
    assert p.n_steps == 4 and p.times.flags.writeable is False
    names, index = p.material_of_cells()
    assert names == ("ALL_ELEMENT",) and index.tolist() == [0, 0]
    assert p.factor(None, 0.3) == 1.0 and p.factor("ramp", 0.3) == pytest.approx(0.3)
    np.testing.assert_allclose(p.centrifugal[0].axis, [0, 0, 1])
    assert p == problem(source="other.inp")                  # the source is not part of equality
    assert p != problem(times=np.linspace(0.0, 1.0, 6))


def test_unknown_set_names_are_listed_with_the_available_ones():
    with pytest.raises(ConfigError) as info:
        problem(dirichlet=(Dirichlet("lefft", 0, 0.0),), pressures=(Pressure("bottom", 1.0),),
                centrifugal=(Centrifugal("third", [0, 0, 0], [0, 0, 1], 1.0),),
                materials={"first": ELASTIC, "secnd": ELASTIC})
    message = str(info.value)
    assert message.startswith("test.toml: ")
    assert "node set 'lefft' is not in the mesh (node sets: left, right)" in message
    assert "face set 'bottom' is not in the mesh (face sets: end, top)" in message
    assert "cell set 'third' is not in the mesh (cell sets: ALL_ELEMENT, first, second)" in message
    assert "cell set 'secnd'" in message


@pytest.mark.parametrize("changes, message", [
    (dict(times=[0.0, 0.5, 0.5, 1.0]), r"times must increase strictly: times\[1\] = 0.5"),
    (dict(times=[0.0]), "at least the initial time"),
    (dict(dirichlet=(Dirichlet("left", 0, 0.0, "missing"),)), "table 'missing' is not defined"),
    (dict(materials={"first": ELASTIC}), "1 cell\\(s\\) have no material"),
    (dict(materials={"ALL_ELEMENT": ELASTIC, "first": ELASTIC}), "several materials"),
    (dict(materials={"ALL_ELEMENT": {"elasticity": {"young": 1.0, "poisson": 0.3}}}), "has no 'behavior'"),
    (dict(materials={"ALL_ELEMENT": {"behavior": "linear_elastic", "density": 1.0,
                                     "elasticity": {"young": 1.0}}}), "'elasticity' has no 'poisson'"),
    (dict(materials={"ALL_ELEMENT": {"behavior": "linear_elastic", "elasticity": {"young": 1.0, "poisson": 0.3}}}),
     "has no density"),
    (dict(temperature=Temperature.uniform(20.0, 11)), "temperature fields have 11 values, the mesh has 12"),
    (dict(pressures=(Pressure("top", [1.0, 2.0, 3.0]),)), "3 per-facet values for 2 facets"),
    (dict(solver={"tolerence": 1e-3}), "unknown setting 'tolerence'"),
])
def test_inconsistent_problems_are_refused(changes, message):
    with pytest.raises(ConfigError, match=message):
        problem(**changes)


def test_temperature_dependent_material_needs_a_temperature():
    spec = dict(ELASTIC, thermal_strain={"alpha": 1e-5, "ref_temperature": 20.0})
    with pytest.raises(ConfigError, match="depends on temperature"):
        problem(materials={"ALL_ELEMENT": spec})
    assert problem(materials={"ALL_ELEMENT": spec}, temperature=Temperature.uniform(20.0, 12)).temperature


def test_material_spec_schema_check():
    evp = {"behavior": "gen_evp", "elasticity": {"young": {"temperature": [0.0, 1.0], "value": [2.0, 1.0]},
                                                 "poisson": 0.3},
           "potential": {"name": "ev", "criterion": "mises", "flow": {"type": "norton", "K": 1.0, "n": 2.0},
                         "kinematic": [{"type": "nonlinear", "C": 1.0, "D": 1.0}],
                         "isotropic": {"type": "constant", "R0": 1.0}},
           "integration": {"theta": 1.0, "tol": 1e-9, "max_iterations": 20}}
    assert check_material_spec(evp) == []
    bad = dict(evp, potential=dict(evp["potential"], flow={"type": "norton", "K": 1.0}), colour="red")
    errors = check_material_spec(bad)
    assert any("unknown key 'colour'" in e for e in errors)
    assert any("'potential.flow' has no 'n'" in e for e in errors)
    assert check_material_spec({"behavior": "crystal"})[0].startswith("unsupported behavior 'crystal'")


def test_read_nodal_values_checks_sizes(tmp_path):
    np.arange(6, dtype=">f4").tofile(tmp_path / "two.node")
    np.testing.assert_allclose(read_nodal_values(tmp_path / "two.node", 3, record=2), [3, 4, 5])
    with pytest.raises(ConfigError, match="not a whole number of records of 4 values"):
        read_nodal_values(tmp_path / "two.node", 4)
    with pytest.raises(ConfigError, match="has 2 record"):
        read_nodal_values(tmp_path / "two.node", 3, record=3)
    with pytest.raises(ConfigError, match="not found"):
        read_nodal_values(tmp_path / "none.node", 3)
    np.save(tmp_path / "t.npy", np.ones((2, 3)))
    np.testing.assert_allclose(read_nodal_values(tmp_path / "t.npy", 3, record=2), 1.0)


def test_read_problem_detects_the_format(tmp_path, data_dir):
    folder = data_dir / "problems"
    deck = read_problem(folder / "cube.inp")
    (tmp_path / "deck.txt").write_text((folder / "cube.inp").read_text())
    for name in ("cube.geof", "evp.mat", "plasticity.mat", "elas", "tables.inc", "pressure.node",
                 "tcold.node", "thot.node"):
        (tmp_path / name).write_bytes((folder / name).read_bytes())
    assert read_problem(tmp_path / "deck.txt") == deck
    assert read_problem(folder / "cube.toml") == deck
    with pytest.raises(ConfigError, match="no such file"):
        read_problem(tmp_path / "nothing.inp")
