"""Material specifications: valid specs build the right laws, every mistake is named."""

from __future__ import annotations

import copy
import tomllib

import numpy as np
import pytest

from io_adapters.errors import ConfigError
from rom.materials import (
    Coefficient,
    GenEVP,
    J2Plasticity,
    LinearElastic,
    NortonFlow,
    PlasticFlow,
    from_spec,
    to_spec,
)

ZSET_EXAMPLE = {   # the material file of ZSET_FORMAT §7
    "behavior": "gen_evp",
    "density": 8.2e-9,
    "elasticity": {"young": {"temperature": [0.0, 1000.0], "value": [1.6e5, 1.2e5]}, "poisson": 0.3},
    "thermal_strain": {"alpha": 1.4e-5, "ref_temperature": 20.0},
    "potential": {"name": "evr", "criterion": "mises", "flow": {"type": "norton", "K": 500.0, "n": 12.0},
                  "kinematic": [{"type": "nonlinear", "C": 6.0e4, "D": 400.0}],
                  "isotropic": {"type": "constant", "R0": 80.0}},
    "integration": {"theta": 1.0, "tol": 1e-9, "max_iterations": 200},
}

J2_FULL = {
    "behavior": "j2_plasticity",
    "density": 7.8e-9,
    "elasticity": {"type": "isotropic", "young": 2.1e5, "poisson": 0.3},
    "thermal_strain": {"type": "isotropic", "alpha": {"temperature": [20.0, 600.0], "value": [1.1e-5, 1.4e-5]},
                       "ref_temperature": 20.0},
    "yield_stress": {"temperature": [20.0, 600.0], "value": [300.0, 150.0]},
    "isotropic": {"type": "voce", "Q": 80.0, "b": 15.0},
    "kinematic": [{"type": "armstrong_frederick", "C": 1.0e5, "D": 800.0}, {"type": "linear", "C": 2.0e3}],
    "name": "ep",
    "integration": {"tol": 1e-10, "max_iterations": 50, "max_subdivisions": 4},
}

ELASTIC = {"behavior": "linear_elastic", "elasticity": {"young": 2.1e5, "poisson": 0.3}}


def test_zset_example_builds_gen_evp():
    law = from_spec(ZSET_EXAMPLE)
    assert isinstance(law, GenEVP) and isinstance(law.flow, NortonFlow)
    assert law.density == 8.2e-9 and law.name == "evr"
    assert law.state_names == ("evrcum", "evri", "al1")
    assert law.elasticity.young(np.array([500.0]))[0] == pytest.approx(1.4e5)
    assert law.flow.K == Coefficient.constant(500.0) and law.flow.n == Coefficient.constant(12.0)
    assert law.kinematic[0].C.values == (6.0e4,) and law.kinematic[0].D.values == (400.0,)
    assert law.isotropic.R0.values == (80.0,) and law.isotropic.is_linear
    assert law.thermal_strain.ref_temperature == 20.0
    assert law.integration.max_iterations == 200 and law.integration.theta == 1.0


def test_zset_example_reads_from_toml():
    text = """
behavior = "gen_evp"
density = 8.2e-9
elasticity = {young = {temperature = [0.0, 1000.0], value = [1.6e5, 1.2e5]}, poisson = 0.3}
thermal_strain = {alpha = 1.4e-5, ref_temperature = 20.0}
integration = {theta = 1.0, tol = 1e-9, max_iterations = 200}
[potential]
name = "evr"
flow = {type = "norton", K = 500.0, n = 12.0}
kinematic = [{type = "nonlinear", C = 6.0e4, D = 400.0}]
isotropic = {type = "constant", R0 = 80.0}
"""
    assert from_spec(tomllib.loads(text)) == from_spec(ZSET_EXAMPLE)


def test_j2_and_elastic_specs_build():
    law = from_spec(J2_FULL)
    assert isinstance(law, J2Plasticity) and law.state_names == ("epcum", "epi", "al1", "al2")
    assert not law.isotropic.R0.is_constant and law.isotropic.Q.values == (80.0,)
    assert law.kinematic[1].is_linear and not law.kinematic[0].is_linear
    assert law.integration.max_subdivisions == 4
    elastic = from_spec(ELASTIC)
    assert isinstance(elastic, LinearElastic) and elastic.density is None and elastic.thermal_strain is None
    minimal = from_spec({"behavior": "j2_plasticity", "elasticity": {"young": 2e5, "poisson": 0.3},
                         "yield_stress": 250})
    assert minimal.kinematic == () and minimal.isotropic.is_linear


@pytest.mark.parametrize("spec", [ZSET_EXAMPLE, J2_FULL, ELASTIC], ids=["gen_evp", "j2", "elastic"])
def test_to_spec_round_trips(spec):
    law = from_spec(spec)
    assert from_spec(to_spec(law)) == law


def test_plastic_flow_and_other_isotropic_types():
    spec = copy.deepcopy(ZSET_EXAMPLE)
    spec["potential"]["flow"] = {"type": "plasticity"}
    spec["potential"]["isotropic"] = {"type": "linear", "R0": 80.0, "H": 500.0}
    law = from_spec(spec)
    assert isinstance(law.flow, PlasticFlow) and law.isotropic.H.values == (500.0,)
    spec["potential"]["isotropic"] = {"type": "nonlinear", "R0": 80.0, "Q": 50.0, "b": 10.0}
    assert not from_spec(spec).isotropic.is_linear
    assert from_spec(to_spec(from_spec(spec))) == from_spec(spec)


def _without(spec, path):
    spec = copy.deepcopy(spec)
    target = spec
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return spec


@pytest.mark.parametrize("spec, path, message", [
    (ZSET_EXAMPLE, ("potential", "flow", "K"), "gen_evp: potential 'evr' flow norton is missing 'K'"),
    (ZSET_EXAMPLE, ("potential", "flow", "n"), "gen_evp: potential 'evr' flow norton is missing 'n'"),
    (ZSET_EXAMPLE, ("potential", "flow", "type"), "gen_evp: potential 'evr' flow is missing 'type'"),
    (ZSET_EXAMPLE, ("potential", "kinematic", 0, "D"), "gen_evp: potential 'evr' kinematic[0] nonlinear is missing 'D'"),
    (ZSET_EXAMPLE, ("potential", "kinematic", 0, "C"), "gen_evp: potential 'evr' kinematic[0] nonlinear is missing 'C'"),
    (ZSET_EXAMPLE, ("potential", "isotropic", "R0"), "gen_evp: potential 'evr' isotropic constant is missing 'R0'"),
    (ZSET_EXAMPLE, ("potential", "isotropic"), "gen_evp: potential 'evr' is missing 'isotropic'"),
    (ZSET_EXAMPLE, ("potential", "flow"), "gen_evp: potential 'evr' is missing 'flow'"),
    (ZSET_EXAMPLE, ("potential",), "gen_evp is missing 'potential'"),
    (ZSET_EXAMPLE, ("elasticity",), "gen_evp is missing 'elasticity'"),
    (ZSET_EXAMPLE, ("elasticity", "young"), "gen_evp: elasticity is missing 'young'"),
    (ZSET_EXAMPLE, ("elasticity", "poisson"), "gen_evp: elasticity is missing 'poisson'"),
    (ZSET_EXAMPLE, ("thermal_strain", "alpha"), "gen_evp: thermal_strain is missing 'alpha'"),
    (ZSET_EXAMPLE, ("thermal_strain", "ref_temperature"), "gen_evp: thermal_strain is missing 'ref_temperature'"),
    (ZSET_EXAMPLE, ("behavior",), "material spec is missing 'behavior'"),
    (J2_FULL, ("yield_stress",), "j2_plasticity is missing 'yield_stress'"),
    (J2_FULL, ("isotropic", "Q"), "j2_plasticity: isotropic voce is missing 'Q'"),
    (J2_FULL, ("isotropic", "b"), "j2_plasticity: isotropic voce is missing 'b'"),
    (J2_FULL, ("kinematic", 0, "D"), "j2_plasticity: kinematic[0] nonlinear is missing 'D'"),
    (J2_FULL, ("kinematic", 1, "C"), "j2_plasticity: kinematic[1] linear is missing 'C'"),
    (ELASTIC, ("elasticity", "young"), "linear_elastic: elasticity is missing 'young'"),
])
def test_each_missing_item_is_named(spec, path, message):
    with pytest.raises(ConfigError) as err:
        from_spec(_without(spec, path))
    assert message in str(err.value)


def _with(spec, path, value):
    spec = copy.deepcopy(spec)
    target = spec
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return spec


@pytest.mark.parametrize("spec, path, value, message", [
    (ZSET_EXAMPLE, ("colour",), "red", "gen_evp: unknown key 'colour'"),
    (ZSET_EXAMPLE, ("potential", "viscosity"), 1.0, "gen_evp: potential 'evr': unknown key 'viscosity'"),
    (ZSET_EXAMPLE, ("potential", "flow", "m"), 1.0, "gen_evp: potential 'evr' flow norton: unknown key 'm'"),
    (ZSET_EXAMPLE, ("potential", "kinematic", 0, "E"), 1.0, "kinematic[0] nonlinear: unknown key 'E'"),
    (ZSET_EXAMPLE, ("potential", "isotropic", "Q"), 1.0, "isotropic constant: unknown key 'Q'"),
    (ZSET_EXAMPLE, ("elasticity", "shear"), 1.0, "gen_evp: elasticity: unknown key 'shear'"),
    (ZSET_EXAMPLE, ("integration", "scheme"), "rk", "gen_evp: integration: unknown key 'scheme'"),
    (ZSET_EXAMPLE, ("integration", "method"), "euler", "integration 'method' must be one of"),
    (ZSET_EXAMPLE, ("potential", "flow", "type"), "hyperbolic", "flow: unknown type 'hyperbolic'"),
    (ZSET_EXAMPLE, ("potential", "isotropic", "type"), "exotic", "isotropic: unknown type 'exotic'"),
    (ZSET_EXAMPLE, ("potential", "criterion"), "tresca", "only criterion 'mises'"),
    (ZSET_EXAMPLE, ("behavior",), "crystal", "unknown material behavior 'crystal'"),
    (ZSET_EXAMPLE, ("elasticity", "young"), "stiff", "gen_evp: elasticity 'young': expected a number"),
    (ZSET_EXAMPLE, ("elasticity", "young"), -1.0, "gen_evp: elasticity 'young' must be positive"),
    (ZSET_EXAMPLE, ("elasticity", "poisson"), 0.5, "gen_evp: elasticity 'poisson' must lie in (-1, 0.5)"),
    (ZSET_EXAMPLE, ("elasticity", "young", "temperature"), [1000.0, 0.0], "must increase strictly"),
    (ZSET_EXAMPLE, ("potential", "flow", "K"), 0.0, "norton 'K' must be positive"),
    (ZSET_EXAMPLE, ("potential", "kinematic", 0, "D"), -1.0, "kinematic 'D' must be >= 0"),
    (ZSET_EXAMPLE, ("integration", "theta"), 0.0, "gen_evp: integration 'theta' must lie in (0, 1]"),
    (ZSET_EXAMPLE, ("integration", "max_iterations"), 2.5, "'max_iterations' must be a positive integer"),
    (ZSET_EXAMPLE, ("density",), -1.0, "gen_evp: 'density' must be positive"),
    (ZSET_EXAMPLE, ("potential",), [ZSET_EXAMPLE["potential"]] * 2, "exactly one potential"),
    (J2_FULL, ("isotropic", "type"), "linear", "j2_plasticity: isotropic linear is missing 'H'"),
    (J2_FULL, ("kinematic", 0, "type"), "chaboche", "kinematic[0]: unknown type 'chaboche'"),
    (J2_FULL, ("yield_stress",), 0.0, "j2_plasticity: isotropic 'R0' (yield stress) must be positive"),
    (J2_FULL, ("name",), "e p", "potential name must be an identifier"),
    (ELASTIC, ("yield_stress",), 200.0, "linear_elastic: unknown key 'yield_stress'"),
])
def test_each_wrong_item_is_named(spec, path, value, message):
    with pytest.raises(ConfigError) as err:
        from_spec(_with(spec, path, value))
    assert message in str(err.value)


def test_a_list_of_one_potential_is_accepted():
    spec = _with(ZSET_EXAMPLE, ("potential",), [ZSET_EXAMPLE["potential"]])
    assert from_spec(spec) == from_spec(ZSET_EXAMPLE)


def test_zset_reader_forms_are_accepted():
    # runge_kutta files (recorded, integrated implicitly) and j2 "nonlinear" isotropic hardening
    spec = _with(ZSET_EXAMPLE, ("integration",), {"method": "runge_kutta", "theta": 1.0, "tol": 1e-6})
    assert from_spec(spec).integration.method == "runge_kutta"
    j2 = _with(J2_FULL, ("isotropic",), {"type": "nonlinear", "Q": 80.0, "b": 15.0})
    assert from_spec(j2) == from_spec(J2_FULL)
    assert "integration" not in to_spec(from_spec(ZSET_EXAMPLE))          # defaults are not written
    assert "name" not in to_spec(from_spec(J2_FULL))


@pytest.mark.parametrize("spec", [
    {"behavior": "j2_plasticity", "name": "ep", "elasticity": {"type": "isotropic", "young": 2e5, "poisson": 0.3},
     "yield_stress": 200.0, "isotropic": {"type": "voce", "Q": 50.0, "b": 10.0},
     "kinematic": [{"type": "nonlinear", "C": 1e4, "D": 100.0}, {"type": "linear", "C": 1e3}],
     "integration": {"max_subdivisions": 4}},
    {"behavior": "gen_evp", "elasticity": {"young": 2e5, "poisson": 0.3},
     "potential": {"name": "ev", "flow": {"type": "plasticity"}, "isotropic": {"type": "constant", "R0": 100.0}}},
])
def test_problem_validation_accepts_what_from_spec_accepts(spec):
    from io_adapters.problem import check_material_spec
    from rom.materials import from_spec

    from_spec(spec)
    assert check_material_spec(spec) == []
