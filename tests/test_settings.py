"""Typed settings (rom.settings): one checker for TOML tables, dicts and Python constructors."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from io_adapters import ConfigError
from mpi_drivers.online import Case, enrichment_tol, load_case
from rom.offline_config import OfflineConfig
from rom.settings import (AdaptiveSettings, EcmSettings, IndicatorSettings, PodSettings, SolverSettings,
                          settings_from)


def problems(exc: pytest.ExceptionInfo) -> list[str]:
    """The problems listed by a ConfigError, without the source prefix."""
    text = str(exc.value)
    text = re.sub(r"^[^:\n]*: ", "", text, count=1) if not text.startswith(("[", "'", "unknown")) else text
    lines = text.splitlines()
    if re.fullmatch(r"\d+ problems:", lines[0]):
        return [line.removeprefix("  - ") for line in lines[1:]]
    return [text]


@pytest.fixture
def files(tmp_path):
    """A folder with a problem file and a training file (only their existence is checked)."""
    (tmp_path / "problem.toml").write_text("")
    (tmp_path / "train.h5").write_text("")
    return tmp_path


# ------------------------------------------------------------------ defaults
def test_defaults_are_the_documented_ones():
    assert EcmSettings() == EcmSettings(tol=1e-5, seed=0, stress_tol=1e-8)
    assert IndicatorSettings() == IndicatorSettings(field=None, tol=1e-3)
    assert SolverSettings() == SolverSettings(rtol=1e-8, atol=1e-14, max_iterations=25, max_cuts=6)
    a = AdaptiveSettings()
    assert (a.enabled, a.tol, a.max_enrichments, a.pod_tol, a.ecm_tol, a.watch, a.hf_step, a.save_model) == (
        False, None, 10, 1e-10, None, "auto", "in-house", None)
    assert PodSettings(tol=1e-6).n_modes is None and PodSettings(n_modes=4).tol is None


def test_offline_and_case_defaults_come_from_the_dataclasses(files):
    config = OfflineConfig.load({"training": ["train.h5"], "problem": "problem.toml", "base_dir": str(files)})
    assert config.pod == {"U": PodSettings(tol=1e-6)}
    assert config.ecm == EcmSettings() and config.indicator == IndicatorSettings()
    (files / "case.toml").write_text('problem = "problem.toml"\n')
    case = load_case(files / "case.toml")
    assert isinstance(case, Case)
    assert (case.problem, case.output, case.fields, case.source) == (files / "problem.toml", None, None,
                                                                     files / "case.toml")
    assert case.indicator == IndicatorSettings() and case.solver == SolverSettings()
    assert case.adaptive == AdaptiveSettings()


def test_values_are_converted_to_the_field_types():
    s = SolverSettings(rtol=1, atol=0)                  # an integer is accepted where a number is expected
    assert isinstance(s.rtol, float) and isinstance(s.atol, float)
    assert AdaptiveSettings(watch=["sig", "evrcum"]).watch == ("sig", "evrcum")
    assert AdaptiveSettings(save_model="x.h5").save_model == Path("x.h5")


# ------------------------------------------------------------------ bad values
@pytest.mark.parametrize("cls, table, message", [
    (EcmSettings, {"seed": "x"}, "[ecm] seed must be an integer, found 'x'"),
    (EcmSettings, {"seed": True}, "[ecm] seed must be an integer, found True"),
    (EcmSettings, {"seed": 1.5}, "[ecm] seed must be an integer, found 1.5"),
    (EcmSettings, {"seed": -1}, "[ecm] seed must be non-negative, found -1"),
    (EcmSettings, {"tol": "1e-5"}, "[ecm] tol must be a number, found '1e-5'"),
    (EcmSettings, {"tol": True}, "[ecm] tol must be a number, found True"),
    (EcmSettings, {"tol": 0}, "[ecm] tol must be in (0, 1), found 0"),
    (EcmSettings, {"stress_tol": 1.0}, "[ecm] stress_tol must be in [0, 1), found 1.0"),
    (PodSettings, {"tol": 1e-6, "n_modes": 3}, "[ecm] needs exactly one of 'tol' and 'n_modes'"),
    (PodSettings, {}, "[ecm] needs exactly one of 'tol' and 'n_modes'"),
    (PodSettings, {"n_modes": 0}, "[ecm] n_modes must be a positive integer, found 0"),
    (PodSettings, {"n_modes": 2.0}, "[ecm] n_modes must be an integer, found 2.0"),
    (PodSettings, {"tol": 1.5}, "[ecm] tol must be in (0, 1), found 1.5"),
    (IndicatorSettings, {"field": 3}, "[ecm] field must be a string, found 3"),
    (IndicatorSettings, {"tol": -1e-3}, "[ecm] tol must be non-negative, found -0.001"),
    (AdaptiveSettings, {"tol": float("nan")}, "[ecm] tol must be non-negative, found nan"),
    (SolverSettings, {"rtol": 0}, "[ecm] rtol must be positive, found 0"),
    (SolverSettings, {"atol": -1e-14}, "[ecm] atol must be non-negative, found -1e-14"),
    (SolverSettings, {"max_iterations": 0}, "[ecm] max_iterations must be a positive integer, found 0"),
    (SolverSettings, {"max_cuts": -1}, "[ecm] max_cuts must be non-negative, found -1"),
    (SolverSettings, {"max_cuts": "6"}, "[ecm] max_cuts must be an integer, found '6'"),
    (AdaptiveSettings, {"enabled": "false"}, "[ecm] enabled must be true or false, found 'false'"),
    (AdaptiveSettings, {"enabled": 1}, "[ecm] enabled must be true or false, found 1"),
    (AdaptiveSettings, {"pod_tol": 0}, "[ecm] pod_tol must be in (0, 1), found 0"),
    (AdaptiveSettings, {"max_enrichments": -1}, "[ecm] max_enrichments must be non-negative, found -1"),
    (AdaptiveSettings, {"watch": ["sig", 3]}, "[ecm] watch must be a string or a list of strings, found ['sig', 3]"),
    (AdaptiveSettings, {"hf_step": "magic"},
     "[ecm] hf_step must be \"in-house\" or { command = \"...\" }, found 'magic'"),
    (AdaptiveSettings, {"hf_step": {"cmd": "x"}},
     "[ecm] hf_step must be \"in-house\" or { command = \"...\" }, found {'cmd': 'x'}"),
    (AdaptiveSettings, {"save_model": 3}, "[ecm] save_model must be a path, found 3"),
])
def test_each_kind_of_bad_value_is_refused_with_its_key_path(cls, table, message):
    errors = []
    assert settings_from(cls, table, where="[ecm]", errors=errors) is None
    assert errors == [message]
    # the Python constructor and a dict run the same checks, naming the class
    python = re.sub(r"^\[ecm\] (needs)?", lambda m: f"{cls.__name__} needs" if m[1] else f"{cls.__name__}.",
                    message)
    with pytest.raises(ConfigError) as constructor:
        cls(**table)
    with pytest.raises(ConfigError) as from_table:
        cls.from_table(table)
    assert str(constructor.value) == str(from_table.value) == python


def test_unknown_keys_list_the_known_ones():
    errors = []
    settings_from(SolverSettings, {"rtol": 1e-6, "tolerance": 1}, where="[solver]", errors=errors)
    assert errors == ["unknown key 'tolerance' in [solver] (known: atol, max_cuts, max_iterations, rtol)"]
    with pytest.raises(ConfigError, match=r"unknown key 'speed' in \[adaptive\] \(known: ecm_tol, enabled, "
                                          r"hf_step, max_enrichments, pod_tol, save_model, tol, watch\)"):
        AdaptiveSettings.from_table({"speed": 1}, where="[adaptive]")
    with pytest.raises(TypeError):                         # a Python keyword is a TypeError, as for any class
        EcmSettings(tolerance=1)


def test_a_table_that_is_not_a_table():
    errors = []
    assert settings_from(EcmSettings, 3, where="[ecm]", errors=errors) is None
    assert errors == ["[ecm] must be a table, found 3"]


def test_round_trip_to_dict_from_table():
    cases = [PodSettings(tol=1e-6), PodSettings(n_modes=12), EcmSettings(tol=1e-6, seed=3, stress_tol=0.0),
             IndicatorSettings(field="evrcum", tol=1e-2), SolverSettings(rtol=1e-6, atol=0.0, max_cuts=0),
             AdaptiveSettings(enabled=True, tol=1e-2, watch=("sig",), hf_step={"command": "run {state}"},
                              save_model=Path("/tmp/x.h5"), ecm_tol=1e-6),
             AdaptiveSettings()]
    for settings in cases:
        table = settings.to_dict()
        assert json.loads(json.dumps(table)) == table                      # JSON-able (model files)
        assert type(settings).from_table(table) == settings
        assert None not in table.values()                                  # TOML has no null: left out


def test_mapping_reads_are_a_transition_aid():
    ecm = EcmSettings(tol=1e-6)
    assert ecm["tol"] == 1e-6 and ecm["seed"] == 0 and ecm.get("stress_tol", 1.0) == 1e-8
    pod = PodSettings(n_modes=4)
    assert pod.get("tol") is None and pod.get("n_modes") == 4 and pod.get("nope", 7) == 7
    with pytest.raises(KeyError):
        ecm["nope"]
    with pytest.raises(TypeError):
        list(ecm)


# ------------------------------------------------------------------ offline configuration
BAD_OFFLINE = {
    "training": 5,
    "problem": 5,
    "partition": "x",
    "rule": 3,
    "stress_field": 1,
    "output": 3,
    "speed": "fast",
    "pod": {"U": {"tol": 1e-6, "n_modes": 3}, "sig": {"tol": "a"}, "ein": 3},
    "ecm": {"seed": "x", "tol": True, "budget": 1},
    "indicator": {"field": "evrcum", "tol": "1e-3"},
}
BAD_OFFLINE_TOML = """\
training = 5
problem = 5
partition = "x"
rule = 3
stress_field = 1
output = 3
speed = "fast"
pod = { U = { tol = 1e-6, n_modes = 3 }, sig = { tol = "a" }, ein = 3 }
[ecm]
seed = "x"
tol = true
budget = 1
[indicator]
field = "evrcum"
tol = "1e-3"
"""
BAD_OFFLINE_PROBLEMS = [
    "unknown key 'speed' (known: base_dir, checkpoint, ecm, indicator, output, partition, plot, pod, problem, "
    "rule, stress_field, training)",
    "'training' must be a list of paths, found 5",
    "'problem' must be a path (a TOML or Zset problem file) or an io_adapters.Problem, found 5",
    "'partition' must be a positive number of subdomains or \"from-solver\", found 'x'",
    "[pod.U] needs exactly one of 'tol' and 'n_modes'",
    "[pod.sig] tol must be a number, found 'a'",
    "[pod.ein] must be a table, found 3",
    "unknown key 'budget' in [ecm] (known: seed, stress_tol, tol)",
    "[ecm] tol must be a number, found True",
    "[ecm] seed must be an integer, found 'x'",
    "[indicator] tol must be a number, found '1e-3'",
    "[indicator] field 'evrcum' has no [pod.evrcum] (the indicator needs its Gappy-POD basis)",
    "'output' must be a path, found 3",
    "'rule' must be a string, found 3",
    "'stress_field' must be a string, found 1",
]


def test_offline_configuration_reports_every_problem_at_once(tmp_path):
    with pytest.raises(ConfigError) as exc:
        OfflineConfig.load(BAD_OFFLINE)
    assert str(exc.value).startswith(f"<dict>: {len(BAD_OFFLINE_PROBLEMS)} problems:\n")
    assert sorted(problems(exc)) == sorted(BAD_OFFLINE_PROBLEMS)


def test_offline_toml_and_dict_give_the_same_errors(tmp_path):
    path = tmp_path / "offline.toml"
    path.write_text(BAD_OFFLINE_TOML)
    with pytest.raises(ConfigError) as from_toml:
        OfflineConfig.load(path)
    with pytest.raises(ConfigError) as from_dict:
        OfflineConfig.load({**BAD_OFFLINE, "base_dir": str(tmp_path)})
    assert str(from_toml.value).startswith(f"{path}: ")
    assert problems(from_toml) == problems(from_dict)


@pytest.mark.parametrize("key, value, message", [
    ("problem", 5, "'problem' must be a path (a TOML or Zset problem file) or an io_adapters.Problem, found 5"),
    ("partition", True, "'partition' must be a positive number of subdomains or \"from-solver\", found True"),
    ("rule", 3, "'rule' must be a string, found 3"),
    ("stress_field", 1, "'stress_field' must be a string, found 1"),
    ("training", 5, "'training' must be a list of paths, found 5"),
    ("checkpoint", ["a"], "'checkpoint' must be a path, found ['a']"),
    ("ecm", {"seed": "x"}, "[ecm] seed must be an integer, found 'x'"),
    ("ecm", {"seed": True}, "[ecm] seed must be an integer, found True"),
    ("indicator", {"tol": "x"}, "[indicator] tol must be a number, found 'x'"),
])
def test_offline_values_are_type_checked(files, key, value, message):
    data = {"training": ["train.h5"], "problem": "problem.toml", "base_dir": str(files), key: value}
    with pytest.raises(ConfigError) as exc:
        OfflineConfig.load(data)
    assert problems(exc) == [message]


def test_offline_tables_are_typed_and_read_like_the_former_dicts(files):
    config = OfflineConfig.load({"training": "train.h5", "problem": "problem.toml", "base_dir": str(files),
                                 "pod": {"U": {"n_modes": 3}, "evrcum": {"tol": 1e-4}},
                                 "ecm": {"tol": 1e-6, "seed": 2}, "indicator": {"field": "evrcum", "tol": 1e-2}})
    assert config.pod == {"U": PodSettings(n_modes=3), "evrcum": PodSettings(tol=1e-4)}
    assert config.ecm == EcmSettings(tol=1e-6, seed=2) and config.indicator == IndicatorSettings("evrcum", 1e-2)
    assert config.duals == ["evrcum"] and config.training == (files / "train.h5",)
    # the consumers written for dicts (rom/offline.py) keep working
    assert config.pod["U"].get("tol") is None and config.pod["U"].get("n_modes") == 3
    assert (config.ecm["tol"], config.ecm["seed"], config.ecm.get("stress_tol", 1.0)) == (1e-6, 2, 1e-8)
    # the fingerprint hashes the tables' values: explicit defaults are the same configuration
    same = OfflineConfig.load({"training": "train.h5", "problem": "problem.toml", "base_dir": str(files),
                               "pod": {"U": {"n_modes": 3}, "evrcum": {"tol": 1e-4}},
                               "ecm": {"tol": 1e-6, "seed": 2, "stress_tol": 1e-8}, "indicator": {"field": "evrcum"}})
    other = OfflineConfig.load({"training": "train.h5", "problem": "problem.toml", "base_dir": str(files),
                                "pod": {"U": {"n_modes": 3}, "evrcum": {"tol": 1e-4}}, "ecm": {"tol": 1e-7}})
    assert config.fingerprint() == same.fingerprint() != other.fingerprint()


def test_offline_accepts_settings_objects_in_a_dict(files):
    config = OfflineConfig.load({"training": ["train.h5"], "problem": "problem.toml", "base_dir": str(files),
                                 "pod": {"U": PodSettings(tol=1e-5)}, "ecm": EcmSettings(seed=4)})
    assert config.pod["U"] == PodSettings(tol=1e-5) and config.ecm.seed == 4
    assert len(config.fingerprint()) == 16


# ------------------------------------------------------------------ online case files
def test_adaptive_enabled_as_a_string_is_refused(files):
    """``enabled = "false"`` used to switch adaptivity ON (a non-empty string is truthy)."""
    (files / "case.toml").write_text('problem = "problem.toml"\n[adaptive]\nenabled = "false"\n')
    with pytest.raises(ConfigError, match=r"case.toml: \[adaptive\] enabled must be true or false, found 'false'"):
        load_case(files / "case.toml")


def test_case_file_reports_every_problem_at_once(files):
    (files / "case.toml").write_text(
        'problem = 5\noutput = 3\nfields = "evrcum"\nspeed = "fast"\n'
        '[indicator]\ntol = "x"\n'
        '[adaptive]\nenabled = "yes"\nmax_enrichments = 2.5\nhf_step = "magic"\nwatch = 3\n'
        '[solver]\nrtol = -1\nmax_cuts = true\nfoo = 1\n')
    with pytest.raises(ConfigError) as exc:
        load_case(files / "case.toml")
    assert sorted(problems(exc)) == sorted([
        "unknown key 'speed' (known: adaptive, fields, indicator, output, problem, reference, solver)",
        "'problem' must be a path, found 5",
        "'output' must be a path, found 3",
        "'fields' must be a list of strings, found 'evrcum'",
        "[indicator] tol must be a number, found 'x'",
        "[adaptive] enabled must be true or false, found 'yes'",
        "[adaptive] max_enrichments must be an integer, found 2.5",
        "[adaptive] hf_step must be \"in-house\" or { command = \"...\" }, found 'magic'",
        "[adaptive] watch must be a string or a list of strings, found 3",
        "unknown key 'foo' in [solver] (known: atol, max_cuts, max_iterations, rtol)",
        "[solver] rtol must be positive, found -1",
        "[solver] max_cuts must be an integer, found True",
    ])


def test_case_file_missing_problem_and_tables_that_are_not_tables(files):
    (files / "case.toml").write_text('solver = 3\n')
    with pytest.raises(ConfigError) as exc:
        load_case(files / "case.toml")
    assert problems(exc) == ["'problem' (the new loading: a TOML problem or a Zset .inp) is required",
                             "[solver] must be a table, found 3"]
    (files / "case.toml").write_text('problem = "nothere.toml"\n')
    with pytest.raises(ConfigError, match="problem file .*nothere.toml does not exist"):
        load_case(files / "case.toml")


def test_case_toml_and_dict_give_the_same_errors(files):
    text = 'problem = "problem.toml"\nfields = "sig"\n[adaptive]\nenabled = "false"\npod_tol = 2\n'
    (files / "case.toml").write_text(text)
    with pytest.raises(ConfigError) as from_toml:
        load_case(files / "case.toml")
    with pytest.raises(ConfigError) as from_dict:
        Case.from_table({"problem": "problem.toml", "fields": "sig", "adaptive": {"enabled": "false", "pod_tol": 2}},
                        where="", base_dir=files)
    assert problems(from_toml) == problems(from_dict) == [
        "'fields' must be a list of strings, found 'sig'",
        "[adaptive] enabled must be true or false, found 'false'",
        "[adaptive] pod_tol must be in (0, 1), found 2",
    ]


def test_case_paths_are_relative_to_the_case_file(files):
    (files / "sub").mkdir()
    (files / "sub" / "loading.toml").write_text("")
    (files / "sub" / "case.toml").write_text(
        'problem = "loading.toml"\noutput = "out/online.h5"\nfields = ["sig"]\n'
        '[adaptive]\nenabled = true\nsave_model = "enriched.h5"\nhf_step = { command = "run {state}" }\n'
        'watch = ["sig"]\n[solver]\nrtol = 1e-6\nmax_cuts = 0\n')
    case = load_case(files / "sub" / "case.toml")
    assert case.problem == files / "sub" / "loading.toml" and case.output == files / "sub" / "out" / "online.h5"
    assert case.adaptive.save_model == files / "sub" / "enriched.h5"
    assert case.fields == ("sig",) and case.adaptive.watch == ("sig",)
    assert case.adaptive.hf_step == {"command": "run {state}"} and case.adaptive.enabled is True
    assert case.solver == SolverSettings(rtol=1e-6, max_cuts=0)
    assert Case.from_table(case.to_dict(), where="", source=case.source) == case   # round trip (absolute paths)


def test_enrichment_level_falls_back_from_the_case_to_the_model(files):
    model = SimpleNamespace(settings={"indicator": {"tol": 1e-2}})
    bare = SimpleNamespace(settings={})
    write = (files / "case.toml").write_text
    write('problem = "problem.toml"\n[adaptive]\nenabled = true\ntol = 1e-4\n[indicator]\ntol = 1e-3\n')
    assert enrichment_tol(load_case(files / "case.toml"), model) == 1e-4
    write('problem = "problem.toml"\n[adaptive]\nenabled = true\n[indicator]\ntol = 5e-3\n')
    assert enrichment_tol(load_case(files / "case.toml"), model) == 5e-3
    write('problem = "problem.toml"\n[adaptive]\nenabled = true\n[indicator]\nfield = "sig"\n')
    assert enrichment_tol(load_case(files / "case.toml"), model) == 1e-2          # the model's calibrated level
    assert enrichment_tol(load_case(files / "case.toml"), bare) == IndicatorSettings().tol
