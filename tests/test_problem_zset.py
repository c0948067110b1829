"""Zset decks (.inp) and Z-mat material files read into a Problem.

tests/data/problems/cube.inp exercises every supported keyword over the c3d20
cube of the Zset examples (cube.geof, BSD-3, see LICENSE); mat, elas and
calcul1.inp are real Zset input files.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from io_adapters.errors import ConfigError
from io_adapters.zset.deck import read_problem
from io_adapters.zset.material_file import read_material

FILES = ("cube.geof", "cube.inp", "evp.mat", "plasticity.mat", "elas", "mat", "tables.inc", "pressure.node",
         "tcold.node", "thot.node")


@pytest.fixture(scope="module")
def folder(data_dir) -> Path:
    return data_dir / "problems"


@pytest.fixture(scope="module")
def cube(folder):
    return read_problem(folder / "cube.inp")


@pytest.fixture
def variant(tmp_path, folder):
    """Write a modified copy of cube.inp (and its files) and read it."""
    for name in FILES:
        shutil.copy(folder / name, tmp_path / name)

    def make(*replacements: tuple[str, str], file: str = "cube.inp", read: bool = True):
        text = (tmp_path / file).read_text()
        for old, new in replacements:
            assert old in text, old
            text = text.replace(old, new)
        (tmp_path / file).write_text(text)
        return read_problem(tmp_path / "cube.inp") if read else tmp_path

    make.path = tmp_path
    return make


# ------------------------------------------------------------ every keyword
def test_time_steps_solver_and_output(cube):
    one_cycle = np.concatenate([[0.25, 0.5, 0.75, 1.0], np.arange(2.0, 11.0)])
    np.testing.assert_allclose(cube.times, np.concatenate([[0.0], one_cycle, one_cycle + 10.0]))
    assert cube.n_steps == 26
    assert cube.solver == {"tolerance": 1e-3, "tolerance_mode": "automatic", "max_iterations": 30}
    assert cube.output == {"output_first": True, "components": ["sig", "eto", "evrcum"], "save_all_variables": True}
    assert cube.source.endswith("cube.inp")


def test_tables_including_a_cycle(cube):
    assert set(cube.tables) == {"ramp", "spin", "ptab"}          # from the @include file
    ptab = cube.tables["ptab"]
    assert (ptab.period, ptab.start, ptab.end) == (10.0, 0.0, 20.0)   # period = last *time
    np.testing.assert_allclose(ptab([0.05, 5.0, 10.0, 10.05, 12.0, 20.0, 30.0]),
                               [-25.0, -50.0, -50.0, -25.0, -50.0, -50.0, -50.0])
    np.testing.assert_allclose(cube.tables["spin"]([0.5, 1.0, 30.0]), [0.5, 1.0, 1.0])


def test_imposed_displacements(cube):
    assert [(d.node_set, d.component, d.value, d.table) for d in cube.dirichlet] == [
        ("x0", 0, 0.0, None), ("y0", 1, 0.0, None), ("z0", 2, 0.0, None), ("x1", 0, 1e-3, "ramp")]


def test_pressures_per_facet_file_and_constant(cube, folder):
    per_facet, constant = cube.pressures
    assert per_facet.face_set == "x1" and per_facet.table == "ptab"
    assert per_facet.values.shape == (36,) == (len(cube.mesh.face_sets["x1"]["quad8"]),)
    np.testing.assert_array_equal(per_facet.values, np.fromfile(folder / "pressure.node", ">f4"))
    assert per_facet.values[0] == -10.0 and per_facet.values[-1] == -45.0
    assert (constant.face_set, constant.values, constant.table) == ("x0", -20.0, "ptab")


def test_centrifugal(cube, variant):
    (load,) = cube.centrifugal
    assert load.cell_set is None and load.omega == 2000.0 and load.table == "spin"
    np.testing.assert_array_equal(load.center, [0.0, 0.5, 0.0])
    np.testing.assert_array_equal(load.axis, [0.0, 0.0, 1.0])
    other = variant(("ALL_ELEMENT (0. 0.5 0.) d3 2.0e3 spin", "domain001 (1. 0. 0.)d1 50.\n"
                                                            "   domain002 (0 0 0) (1. 1. 0.) 3."))
    first, second = other.centrifugal
    assert first.cell_set == "domain001" and first.table is None and first.omega == 50.0
    np.testing.assert_array_equal(first.axis, [1.0, 0.0, 0.0])
    np.testing.assert_allclose(second.axis, [2 ** -0.5, 2 ** -0.5, 0.0])


def test_temperature_key_times(cube, folder):
    temperature = cube.temperature
    cold = np.fromfile(folder / "tcold.node", ">f4").astype(float)
    hot = np.fromfile(folder / "thot.node", ">f4").astype(float)
    np.testing.assert_array_equal(temperature.fields, [cold, hot])   # tcold.node read once
    # at key times, between them, in the second cycle and after the end (20)
    t = np.array([0.0, 5.0, 10.0, 2.5, 7.5, 15.0, 17.5, 20.0, 35.0])
    np.testing.assert_allclose(temperature.coefficients(t),
                               [[1, 0], [0, 1], [1, 0], [0.5, 0.5], [0.5, 0.5], [0, 1], [0.5, 0.5], [1, 0], [1, 0]])
    np.testing.assert_allclose(temperature.at(2.5), (cold + hot) / 2, rtol=1e-12)


def test_plain_key_times_clamp_after_the_last(variant):
    temperature = variant((
        "   function 0.0+cycle*10.; file tcold.node 1\n"
        "   function 5.0+cycle*10.; file thot.node 1\n"
        "   function 10.0+cycle*10.; file tcold.node 1\n",
        "   1. file tcold.node\n   3. file thot.node 1\n")).temperature
    np.testing.assert_allclose(temperature.coefficients([0.0, 1.0, 2.0, 3.0, 50.0]),
                               [[1, 0], [1, 0], [0.5, 0.5], [0, 1], [0, 1]])
    assert temperature.tables[0].period is None


def test_base_max_temperature_form(variant):
    p = variant((
        "   function 0.0+cycle*10.; file tcold.node 1\n"
        "   function 5.0+cycle*10.; file thot.node 1\n"
        "   function 10.0+cycle*10.; file tcold.node 1\n",
        "   *base_temperature constant 20.\n   *max_temperature file thot.node 1\n   *table ramp\n"))
    hot = np.fromfile(variant.path / "thot.node", ">f4").astype(float)
    np.testing.assert_allclose(p.temperature.at(0.0), 20.0)
    np.testing.assert_allclose(p.temperature.at(0.25), 20.0 + 0.25 * (hot - 20.0))
    np.testing.assert_allclose(p.temperature.at(5.0), hot)


def test_parallel_rec_size_is_taken_from_the_file(variant):
    # a subdomain deck declares the global record size; the file holds the mesh's nodes
    p = variant(("*rec_size 1225", "*rec_size 2450"))
    assert p.temperature.fields.shape == (2, 1225)


def test_materials_per_elset_with_integration_override(cube):
    assert list(cube.materials) == ["domain000", "domain001", "domain002", "domain003"]
    assert cube.materials["domain000"]["integration"] == {"theta": 1.0, "tol": 1e-9, "max_iterations": 200}
    assert cube.materials["domain001"]["integration"] == {"theta": 0.5, "tol": 1e-8, "max_iterations": 50}
    assert cube.materials["domain002"] == cube.materials["domain003"] == {
        "behavior": "linear_elastic", "density": 1e-8, "elasticity": {"young": 3e5, "poisson": 0.3}}
    names, index = cube.material_of_cells()
    assert np.bincount(index).tolist() == [54, 55, 53, 54]


def test_resolution_variants(variant):
    p = variant(("   *time 1. 10.          # two intervals per cycle: 0 -> 1 and 1 -> 10\n   *increment 4 9",
                 "   *dtime 0.5\n   *increment 2 4\n  **sequence\n   *time 5. 6.\n   *dtime 1. 0.5"),
                ("**cycles 2", "**cycles 1"))
    np.testing.assert_allclose(p.times, [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 5.5, 6.0])


def test_syntax_tolerance(variant):
    # several commands on one line, parentheses stuck to numbers, '#' comments, one *file for all
    p = variant(("  **elset domain000\n   *file evp.mat\n  **elset domain001\n   *file plasticity.mat\n"
                 "   *integration theta_method_a 0.5 1.e-8 50\n  **elset domain002\n   *file elas\n"
                 "  **elset domain003\n   *file elas\n", "  *file elas  # every cell\n"),
                ("(0. 0.5 0.) d3", "(0.  0.5  0.)d3"))
    assert list(p.materials) == ["ALL_ELEMENT"]
    np.testing.assert_array_equal(p.centrifugal[0].center, [0.0, 0.5, 0.0])


# --------------------------------------------------------------- bad input
@pytest.mark.parametrize("replacements, message", [
    ((("   x0 U1 0.", "   x9 U1 0."),), r"cube.inp line 15: node set 'x9' is not in the mesh \(node sets: center, "),
    ((("   x0 -20. ptab", "   top -20. ptab"),), r"face set 'top' is not in the mesh \(face sets: x0, x1\)"),
    ((("  **elset domain003", "  **elset domain004"),), "cell set 'domain004' is not in the mesh"),
    ((("file thot.node 1", "file twarm.node 1"),), r"cube.inp line 31: temperature: file .*twarm.node not found"),
    ((("*time 1. 10.", "*time 10. 1."),), r"cube.inp line 5: \*\*\*resolution: times must increase"),
    ((("  **centrifugal", "  **impose_nodal_reaction\n   x0 U1 0.\n  **centrifugal"),),
     r"unsupported keyword '\*\*impose_nodal_reaction' in .*cube.inp line 22"),
    ((("****calcul", "****calcul thermal_transient"),), "unsupported calculation type 'thermal_transient'"),
    ((("***linear_solver mumps", "***init_dof_value"),), r"unsupported keyword '\*\*\*init_dof_value'"),
    ((("   x0 U1 0.", "   x0 TP 0."),), "unsupported degree of freedom 'TP'"),
    ((("x1 U1 1.e-3 ramp", "x1 U1 1.e-3 rampe"),),
     r"cube.inp line 18: table 'rampe' is not defined \(tables: ptab, ramp, spin\)"),
    ((("file cube.geof", "file cube2.geof"),), r"line 4: mesh file .*cube2.geof not found"),
    ((("@include tables.inc", "@include tables2.inc"),), "included file 'tables2.inc' not found"),
    ((("*rec_size 1225", "*rec_size 1225\n   *integ"),), r"unsupported keyword '\*integ'"),
    ((("function 5.0+cycle*10.;", "function 5.0+cycle*cycle;"),), "not linear in cycle"),
    ((("   *increment 4 9", "   *increment 4 9 3"),), r"3 \*increment values for 2 interval"),
])
def test_bad_decks_are_refused_with_file_and_line(variant, replacements, message):
    with pytest.raises(ConfigError, match=message):
        variant(*replacements)


def test_wrong_per_facet_pressure_file_size(variant):
    np.zeros(35, ">f4").tofile(variant.path / "pressure.node")
    with pytest.raises(ConfigError, match=r"pressure file .*pressure.node holds 140 bytes = 35 big-endian float32 "
                                          r"values, but face set 'x1' has 36 facets"):
        variant()


def test_wrong_temperature_file_size(variant):
    np.zeros(1000, ">f4").tofile(variant.path / "thot.node")
    with pytest.raises(ConfigError, match="not a whole number of records of 1225 values"):
        variant()


def test_material_without_a_required_coefficient(variant):
    with pytest.raises(ConfigError, match=r"evp.mat line 8: \*\*elasticity isotropic in .* has no 'poisson'"):
        variant(("   poisson 0.3\n", ""), file="evp.mat", read=False)
        read_problem(variant.path / "cube.inp")


def test_real_material_point_deck_is_refused(folder):
    with pytest.raises(ConfigError, match=r"material-point simulation \(\*\*\*\*simulate\), not a \*\*\*\*calcul"):
        read_problem(folder / "calcul1.inp")


# ------------------------------------------------------------ material files
def test_real_files_elas_and_mat(folder):
    assert read_material(folder / "elas") == {
        "behavior": "linear_elastic", "density": 1e-8, "elasticity": {"young": 300000.0, "poisson": 0.3}}
    with pytest.raises(ConfigError, match=r"unsupported behaviour 'thermal' in .*mat \(line 1\); "
                                          r"supported: gen_evp, linear_elastic"):
        read_material(folder / "mat")


def test_gen_evp_with_temperature_tables(folder):
    assert read_material(folder / "evp.mat") == {
        "behavior": "gen_evp",
        "density": 8.2e-9,
        "elasticity": {"young": {"temperature": [0.0, 1000.0], "value": [1.6e5, 1.2e5]}, "poisson": 0.3},
        "thermal_strain": {"alpha": {"temperature": [0.0, 1000.0], "value": [1.2e-5, 1.6e-5]},
                           "ref_temperature": 20.0},
        "potential": {"name": "evr", "criterion": "mises", "flow": {"type": "norton", "K": 500.0, "n": 12.0},
                      "kinematic": [{"type": "nonlinear", "C": 6e4, "D": 400.0}],
                      "isotropic": {"type": "constant", "R0": 80.0}},
        "integration": {"theta": 1.0, "tol": 1e-9, "max_iterations": 200},
    }


def test_rate_independent_plasticity_maps_to_j2(folder):
    assert read_material(folder / "plasticity.mat") == {
        "behavior": "j2_plasticity",
        "density": 7.8e-9,
        "elasticity": {"young": 2.1e5, "poisson": 0.29},
        "thermal_strain": {"alpha": 1.1e-5, "ref_temperature": 20.0},
        "yield_stress": 250.0,
        "isotropic": {"type": "linear", "H": 1000.0},
        "kinematic": [{"type": "armstrong_frederick", "C": 5e4, "D": 300.0}],
    }


EVP = """***material
 *integration runge_kutta 1.e-3 max 10000
***behavior gen_evp
 **elasticity isotropic
   young 2.e5
   poisson 0.3
 **potential gen_evp
   *flow norton
     K 100.
     n 5.
   *kinematic linear
     C 1000.
   *isotropic nonlinear
     R0 50.
     Q 20.
     b 10.
***return
"""


def test_other_hardening_forms_and_runge_kutta(tmp_path):
    (tmp_path / "m").write_text(EVP)
    spec = read_material(tmp_path / "m")
    assert spec["integration"] == {"method": "runge_kutta", "theta": 1.0, "tol": 1e-3}
    assert spec["potential"] == {"name": "ev", "criterion": "mises", "flow": {"type": "norton", "K": 100.0, "n": 5.0},
                                 "kinematic": [{"type": "linear", "C": 1000.0}],
                                 "isotropic": {"type": "nonlinear", "R0": 50.0, "Q": 20.0, "b": 10.0}}
    (tmp_path / "e").write_text("***behavior gen_evp\n **elasticity isotropic\n young 1. poisson 0.2\n***return\n")
    assert read_material(tmp_path / "e")["behavior"] == "linear_elastic"     # no potential: elastic


@pytest.mark.parametrize("old, new, message", [
    ("*flow norton", "*flow norton_hyperbolic", r"unsupported \*flow 'norton_hyperbolic'"),
    ("*isotropic nonlinear", "*isotropic constant", r"unsupported coefficient 'Q' in \*isotropic constant"),
    ("     b 10.\n", "", r"\*isotropic nonlinear in .* has no 'b'"),
    ("**elasticity isotropic", "**elasticity cubic", r"unsupported \*\*elasticity 'cubic'"),
    ("**potential gen_evp", "**potential gen_evp ev\n   *criterion tresca", "unsupported criterion 'tresca'"),
    ("young 2.e5", "young function 2.*temperature;", "unsupported value 'function'"),
    ("young 2.e5", "young temperature\n  2.e5 100.\n  1.e5 50.", "temperatures of 'young' must increase"),
    ("***behavior gen_evp", "***behavior gen_evp\n **damage", r"unsupported keyword '\*\*damage'"),
    ("runge_kutta 1.e-3 max 10000", "euler", "unsupported integration method 'euler'"),
    ("***behavior gen_evp", "***behavior single_crystal", "unsupported behaviour 'single_crystal'"),
])
def test_bad_material_files(tmp_path, old, new, message):
    assert old in EVP
    (tmp_path / "m").write_text(EVP.replace(old, new))
    with pytest.raises(ConfigError, match=message):
        read_material(tmp_path / "m")
