"""Every configuration as a test corpus (issue 12): an error names the file and the problem.

The inputs — the offline TOML, an online case TOML, a problem TOML and a Zset deck
(``tests/data/problems/cube.inp`` with its material, table and data files) — are
damaged in every way a user or a disk manages: truncated, emptied, random bytes,
non-UTF-8, lines deleted (missing keys) or repeated, unknown keys added, values
replaced by values of other types and out of range, limits exceeded (``cycles =
100000000000``, a 100 000-deep expression), directories and symlink loops where a
file is expected, non-ASCII paths. Each case ends in success (the damage kept a
valid input) or a :class:`NiromError` naming the file — never another exception,
never a hang (each case is timed). Hand-written cases pin the messages (error class,
file, key path); a sample goes through the ``nirom`` command: exit code 2, one line.
"""

from __future__ import annotations

import re
import shutil
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from io_adapters.errors import ConfigError, InputError, NiromError
from test_robustness_model import error_lines, nirom, write_small_case

#: Longest time a damaged input may take to be read or refused (the unbounded ones took minutes).
BOUND = 5.0

TALLY: Counter = Counter()


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """The small case (problem, training, offline and case files) with its model ``rom.h5``."""
    from rom.offline import build

    folder = write_small_case(tmp_path_factory.mktemp("robust-configs"))
    build(folder / "offline.toml").save(folder / "rom.h5")
    return folder


@pytest.fixture(scope="module")
def deck(tmp_path_factory, data_dir):
    """A copy of the Zset deck of tests/data/problems and its files."""
    folder = tmp_path_factory.mktemp("robust-deck") / "problems"
    shutil.copytree(data_dir / "problems", folder)
    return folder


# ================================================================ the damages
_WRONG_VALUES = ['"x"', "5", "-1", "0", "-1e-3", "1e400", "nan", "-inf", "true", "[]", "{}", '[1, "a"]',
                 "100000000000", '"nope/nowhere.toml"', '"données/é.h5"', '"' + "a" * 5000 + '"', "{ a = 1 }"]


def damages(text: bytes, seed: int, n_random: int = 12):
    """(description, new content) pairs: the generic damages of a text input file."""
    rng = np.random.default_rng(seed)
    lines = text.split(b"\n")
    out = [("empty", b""), ("one newline", b"\n"), ("random bytes", rng.bytes(300)),
           ("random bytes (long)", rng.bytes(20000)), ("NUL bytes", b"\0" * 64),
           ("not UTF-8", text[:len(text) // 2] + b"\xff\xfe" + text[len(text) // 2:]),
           ("a BOM and latin-1", b"\xef\xbb\xbf" + text.decode().encode("latin-1", "replace")),
           ("deep dotted key", b"a" + b".a" * 100000 + b" = 1\n" + text),
           ("deep array", b"z = " + b"[" * 50000 + b"]" * 50000 + b"\n" + text)]
    for offset in sorted(set(rng.integers(1, len(text), n_random).tolist())):
        out.append((f"truncated at byte {offset}", text[:offset]))
    for i, line in enumerate(lines):
        if line.strip():
            out.append((f"line {i + 1} deleted", b"\n".join(lines[:i] + lines[i + 1:])))
            out.append((f"line {i + 1} repeated", b"\n".join(lines[:i + 1] + lines[i:])))
    out.append(("an unknown key first", b"unknown_key = 1\n" + text))
    out.append(("an unknown key last", text + b"\nunknown_key = 1\n"))
    for i, line in enumerate(lines):
        match = re.match(rb"^(\s*[A-Za-z_][\w.]*\s*=\s*)(.+)$", line)
        if match:
            for value in _WRONG_VALUES:
                changed = match.group(1) + value.encode()
                out.append((f"line {i + 1}: {line.decode()[:40]!r} set to {value[:20]}",
                            b"\n".join(lines[:i] + [changed] + lines[i + 1:])))
    return out


FAILURES: list[str] = []


def check(path: Path, read, what: str, folder: Path) -> str:
    """Read ``path``: 'ok', or 'refused' when a NiromError names a file of the case. Anything
    else — another exception (a raw traceback on the command line), a message naming no
    file, more than BOUND seconds — is 'failed' and recorded in FAILURES."""
    start = time.perf_counter()
    try:
        read(path)
        outcome = "ok"
    except NiromError as exc:
        message = str(exc)
        outcome = "refused"
        if not (str(folder) in message or path.name in message):
            FAILURES.append(f"{what}: the message names no file: {message}")
            outcome = "failed"
        elif len(message) < len(str(path)) + 10:
            FAILURES.append(f"{what}: the message says nothing: {message}")
            outcome = "failed"
    except Exception as exc:                        # noqa: BLE001 — what the corpus hunts for
        FAILURES.append(f"{what}: {type(exc).__name__} (not a NiromError): {str(exc)[:300]}")
        outcome = "failed"
    seconds = time.perf_counter() - start
    if seconds > BOUND:
        FAILURES.append(f"{what}: {seconds:.1f} s")
        outcome = "failed"
    return outcome


def no_failures(kind: str) -> None:
    found = [f for f in FAILURES if f.startswith(kind)]
    TALLY[f"{kind}: failed"] += len(found)
    assert found == [], f"{len(found)} failures:\n" + "\n".join(found[:40])


def run_corpus(kind: str, original: Path, read, seed: int) -> Counter:
    counts = Counter()
    text = original.read_bytes()
    damaged = original.with_name("damaged" + original.suffix)
    for description, content in damages(text, seed):
        damaged.write_bytes(content)
        counts[check(damaged, read, f"{kind}, {description}", original.parent)] += 1
    for description, make in _NOT_FILES.items():
        stem = f"not_a_file_{kind}_{description}".replace(" ", "_")
        target = make(original.parent / f"{stem}{original.suffix}")
        counts[check(target, read, f"{kind}, {description}", original.parent)] += 1
    TALLY.update({f"{kind}: {k}": v for k, v in counts.items()})
    return counts


def _directory(path: Path) -> Path:
    path.mkdir(exist_ok=True)
    return path


def _loop(path: Path) -> Path:
    other = path.with_name(path.name + ".loop")
    if not path.is_symlink():
        path.symlink_to(other)
        other.symlink_to(path)
    return path


def _dangling(path: Path) -> Path:
    link = path.with_name("dangling_" + path.name)
    if not link.is_symlink():
        link.symlink_to(path.with_name("nowhere"))
    return link


_NOT_FILES = {"a directory": _directory, "a symlink loop": _loop, "a dangling symlink": _dangling,
              "missing": lambda p: p.with_name("missing_" + p.name)}


# ================================================================ the corpus
def test_offline_configuration_corpus(case):
    from rom.offline_config import OfflineConfig

    counts = run_corpus("offline TOML", case / "offline.toml", OfflineConfig.load, seed=1)
    no_failures("offline TOML")
    assert counts["refused"] > 100 and counts["ok"] >= 1


def test_case_file_corpus(case):
    from io_adapters.problem import read_problem
    from mpi_drivers.online import check_case, load_case
    from rom.model import ReducedOrderModel
    from rom.settings import problems_error

    model = ReducedOrderModel.load(case / "rom.h5")

    def read(path):
        loaded = load_case(path)
        problems = check_case(loaded, model)
        if problems:
            raise problems_error(problems, path)
        read_problem(loaded.problem)

    counts = run_corpus("case TOML", case / "case.toml", read, seed=2)
    no_failures("case TOML")
    assert counts["refused"] > 30 and counts["ok"] >= 1


def test_problem_toml_corpus(case):
    from io_adapters.problem import read_problem

    counts = run_corpus("problem TOML", case / "problem.toml", read_problem, seed=3)
    no_failures("problem TOML")
    assert counts["refused"] > 500 and counts["ok"] >= 1


KEY = "function 5.0+cycle*10."          # a key-time line of cube.inp


def test_zset_deck_corpus(deck):
    from io_adapters.problem import read_problem

    text = (deck / "cube.inp").read_text()
    rng = np.random.default_rng(4)
    lines = text.splitlines()
    variants = [("empty", ""), ("random bytes", rng.bytes(500).decode("latin-1")),
                ("**cycles 100000000000", text.replace("**cycles 2", "**cycles 100000000000")),
                ("*increment 1e12", text.replace("*increment 4 9", "*increment 4 1000000000000")),
                ("**cycles 2.5", text.replace("**cycles 2", "**cycles 2.5")),
                ("a 100 000-deep expression", text.replace(KEY, "function " + "(" * 100000 + KEY[9:] + ")" * 100000)),
                ("a 100 000-term expression", text.replace(KEY, "function " + "0.0+" * 100000 + KEY[9:])),
                ("an expression 150 operations deep", text.replace(KEY, "function " + "0.0+" * 150 + KEY[9:])),
                ("an include loop", text.replace("@include tables.inc", "@include damaged.inp")),
                ("an include of a directory", text.replace("@include tables.inc", "@include mat")),
                ("an unknown keyword", text.replace("***output", "***output\n  **nonsense 3")),
                ("a tiny *dtime", text.replace("*increment 4 9", "*dtime 1e-300"))]
    for offset in sorted(set(rng.integers(1, len(text), 15).tolist())):
        variants.append((f"truncated at {offset}", text[:offset]))
    for i, line in enumerate(lines):
        tokens = line.split()
        if not tokens or line.lstrip().startswith("%"):
            continue
        variants.append((f"line {i + 1} deleted", "\n".join(lines[:i] + lines[i + 1:])))
        for j, token in enumerate(tokens):
            for value in ("x", "-1", "1e400", "(", "1e11"):
                changed = " ".join(tokens[:j] + [value] + tokens[j + 1:])
                variants.append((f"line {i + 1} token {j + 1} {token!r} → {value!r}",
                                 "\n".join(lines[:i] + [changed] + lines[i + 1:])))
    counts = Counter()
    damaged = deck / "damaged.inp"
    for description, content in variants:
        damaged.write_text(content, encoding="utf-8", errors="surrogateescape")
        counts[check(damaged, read_problem, f"deck, {description}", deck)] += 1
    for description, make in _NOT_FILES.items():
        target = make(deck / f"not_a_deck_{description.replace(' ', '_')}.inp")
        counts[check(target, read_problem, f"deck, {description}", deck)] += 1
    # the included files are configuration too: the table file and a material file
    for name in ("tables.inc", "evp.mat"):
        original = (deck / name).read_text()
        for i, line in enumerate(original.splitlines()):
            for value in ("x", "-1", ""):
                if line.split():
                    changed = original.splitlines()
                    changed[i] = " ".join(line.split()[:-1] + [value])
                    (deck / name).write_text("\n".join(changed))
                    what = f"deck, {name} line {i + 1} → {value!r}"
                    counts[check(deck / "cube.inp", read_problem, what, deck)] += 1
        (deck / name).write_text(original)
    TALLY.update({f"Zset deck: {k}": v for k, v in counts.items()})
    no_failures("deck")
    assert counts["refused"] > 300 and counts["ok"] >= 1


# ============================================================ pinned messages
PINNED_OFFLINE = [
    ('problem = "problem.toml"', "problem = 5", "'problem' must be a path"),
    ("[ecm]\n", '[ecm]\nseed = "x"\n', "[ecm] seed must be an integer, found 'x'"),
    ("tol = 1e-5", "tol = -1.0", "[ecm] tol must be in (0, 1), found -1.0"),
    ('training = ["train.h5"]', "training = []", "'training' must list at least one result file"),
    ("plot = false", "plot = 3", "'plot' must be a path or false, found 3"),
    ('output = "rom.h5"', 'output = "rom.h5"\npartition = 0', "'partition' must be a positive number"),
    ('output = "rom.h5"', 'output = "rom.h5"\nstress_field = 3', "'stress_field' must be a string, found 3"),
    ('output = "rom.h5"', 'output = "rom.h5"\ntolerance = 1', "unknown key 'tolerance'"),
]


@pytest.mark.parametrize("old,new,message", PINNED_OFFLINE, ids=[p[2][:30] for p in PINNED_OFFLINE])
def test_offline_messages(case, old, new, message):
    from rom.offline_config import OfflineConfig

    path = case / "pinned_offline.toml"
    path.write_text((case / "offline.toml").read_text().replace(old, new, 1))
    with pytest.raises(ConfigError) as error:
        OfflineConfig.load(path)
    assert str(error.value).startswith(f"{path}: ") and message in str(error.value)


PINNED_CASE = [
    ("solver = 3\n", "[solver] must be a table, found 3"),
    ("[solver]\nrtol = -1.0\n", "[solver] rtol must be positive, found -1.0"),
    ("[solver]\nmax_iterations = 0\n", "[solver] max_iterations must be a positive integer, found 0"),
    ('[adaptive]\nenabled = "false"\n', "[adaptive] enabled must be true or false, found 'false'"),
    ('fields = "evrcum"\n', "'fields' must be a list of strings, found 'evrcum'"),
    ("[indicator]\nfield = 3\n", "[indicator] field must be a string, found 3"),
    ('[adaptive]\nhf_step = "dolfinx"\n', "[adaptive] hf_step must be \"in-house\" or { command = \"...\" }"),
]


@pytest.mark.parametrize("extra,message", PINNED_CASE, ids=[p[1][:30] for p in PINNED_CASE])
def test_case_messages(case, extra, message):
    from mpi_drivers.online import load_case

    path = case / "pinned_case.toml"
    path.write_text('problem = "problem.toml"\n' + extra)
    with pytest.raises(ConfigError) as error:
        load_case(path)
    assert str(error.value).startswith(f"{path}: ") and message in str(error.value)


def test_unknown_fields_are_refused_before_any_solve(case):
    """``fields = ["nope"]`` used to be refused only after the whole solve."""
    from mpi_drivers.online import check_case, load_case
    from rom.model import ReducedOrderModel

    path = case / "fields.toml"
    path.write_text('problem = "problem.toml"\nfields = ["nope", "sig"]\n[indicator]\nfield = "ein"\n'
                    '[adaptive]\nenabled = true\nwatch = ["al1"]\n')
    problems = check_case(load_case(path), ReducedOrderModel.load(case / "rom.h5"))
    assert problems == ["fields ['nope']: the model has no such dual quantity (it has: evrcum, sig)",
                        "[indicator] field 'ein': the model has no such dual quantity (it has: evrcum, sig)",
                        "[adaptive] watch ['al1']: the model has no such dual quantity (it has: evrcum, sig)"]


PINNED_PROBLEM = [
    ("increments = [3, 3]", "increments = [3, 3]\ncycles = 100000000000",
     "600000000000 time steps (6 per cycle × 100000000000 cycle(s)): at most 1000000 (set NIROM_MAX_TIME_STEPS"),
    ("increments = [3, 3]", "increments = [3, 1000000000000]", "at most 1000000"),
    ("increments = [3, 3]", "increments = [3, 3]\ncycles = 2.5", "cycles must be a positive integer, found 2.5"),
    ("[materials.ALL_ELEMENT]\n", "[solver]\ntolerance = -1.0\nmax_iterations = 0\n[materials.ALL_ELEMENT]\n",
     "solver: 'tolerance' must be a positive number, found -1.0"),
    ("[materials.ALL_ELEMENT]\n", '[solver]\nlinear_solver = "fast"\n[materials.ALL_ELEMENT]\n',
     "solver: 'linear_solver' must be one of auto, scipy, mumps, cg-gamg, found 'fast'"),
    ("[materials.ALL_ELEMENT]\n", '[output]\noutput_first = "yes"\n[materials.ALL_ELEMENT]\n',
     "output: 'output_first' must be true or false, found 'yes'"),
    ("value = -60.0", 'value = "x"', "[[pressure]] 1 'value' must be a number, found 'x'"),
    ('mesh = "cube2.geof"', "mesh = 5", "'mesh' must be a file name, found 5"),
    ("component = 2", "component = 7", "component must be 0, 1 or 2, found 7"),
]


@pytest.mark.parametrize("old,new,message", PINNED_PROBLEM, ids=[p[2][:30] for p in PINNED_PROBLEM])
def test_problem_messages(case, old, new, message):
    from io_adapters.problem import read_problem

    path = case / "pinned_problem.toml"
    path.write_text((case / "problem.toml").read_text().replace(old, new, 1))
    start = time.perf_counter()
    with pytest.raises(ConfigError) as error:
        read_problem(path)
    assert time.perf_counter() - start < 1.0
    assert str(error.value).startswith(f"{path}: ") and message in str(error.value)


def test_a_problem_file_lists_every_problem_at_once(case):
    from io_adapters.problem import read_problem

    path = case / "many_problems.toml"
    path.write_text((case / "problem.toml").read_text()
                    .replace("increments = [3, 3]", 'increments = [3, "x"]')
                    .replace("component = 2", "component = 7")
                    .replace("value = -60.0", 'value = "a"')
                    .replace("[materials.ALL_ELEMENT]\n", "[solver]\ntolerance = -1\nmax_iter = 3\n"
                                                            "[materials.ALL_ELEMENT]\n", 1))
    with pytest.raises(ConfigError) as error:
        read_problem(path)
    assert str(error.value) == (
        f"{path}: 5 problems:\n"
        "  - unknown key 'max_iter' in [solver] (known: atol, linear_solver, max_cuts, max_iterations, rule, "
        "tolerance, tolerance_mode)\n"
        "  - solver: 'tolerance' must be a positive number, found -1\n"
        "  - [time]: increments must be positive integers, found 'x'\n"
        "  - [[dirichlet]] 3: imposed displacement on 'zmin': component must be 0, 1 or 2, found 7\n"
        "  - [[pressure]] 1 'value' must be a number, found 'a'")


def test_the_time_step_limit_can_be_raised(case, monkeypatch):
    from io_adapters.problem import read_problem

    path = case / "many_steps.toml"
    path.write_text((case / "problem.toml").read_text().replace("increments = [3, 3]", "increments = [3, 3]\n"
                                                                 "cycles = 200000"))
    with pytest.raises(ConfigError, match="1200000 time steps"):
        read_problem(path)
    monkeypatch.setenv("NIROM_MAX_TIME_STEPS", "2000000")
    assert read_problem(path).n_steps == 1_200_000
    monkeypatch.setenv("NIROM_MAX_TIME_STEPS", "many")
    with pytest.raises(ConfigError, match="NIROM_MAX_TIME_STEPS must be a positive integer, found 'many'"):
        read_problem(path)


PINNED_DECK = [
    ("**cycles 2", "**cycles 100000000000", "cube.inp line 5: ***resolution: 1300000000000 time steps"),
    ("function 5.0+cycle*10.", "function " + "(" * 100000 + "5.0+cycle*10." + ")" * 100000,
     "cube.inp line 31: the expression '(((((((((((((((((((((((((((((((((((((((((((((((((((((((((...' has 200013 "
     "characters (at most 1000)"),
    ("function 5.0+cycle*10.", "function " + "(" * 150 + "5.0+cycle*10." + ")" * 150,
     "nests 150 parentheses (at most 100)"),
    ("function 5.0+cycle*10.", "function " + "+".join(["0.0"] * 120) + "+5.0+cycle*10.",
     "is nested 123 operations deep (at most 100)"),
    ("*increment 4 9", "*dtime 1e-300", "*dtime 1e-300 cuts [0.0, 1.0] into 1e+300 steps: at most 1000000"),
    ("@include tables.inc", "@include pinned.inp", "'pinned.inp' includes itself"),
]


@pytest.mark.parametrize("old,new,message", PINNED_DECK, ids=[p[2][-30:] for p in PINNED_DECK])
def test_deck_limits(deck, old, new, message):
    from io_adapters.problem import read_problem

    path = deck / "pinned.inp"
    path.write_text((deck / "cube.inp").read_text().replace(old, new, 1))
    start = time.perf_counter()
    with pytest.raises(ConfigError) as error:
        read_problem(path)
    assert time.perf_counter() - start < 1.0
    assert message.replace("cube.inp", "pinned.inp") in str(error.value)


def test_non_ascii_paths_work(case, tmp_path):
    from io_adapters.problem import read_problem
    from mpi_drivers.online import load_case
    from rom.offline_config import OfflineConfig

    folder = tmp_path / "études — 研究"
    shutil.copytree(case, folder, ignore=shutil.ignore_patterns("*.h5", "damaged*", "not_a_file*", "dangling*",
                                                                  "*.loop"))
    shutil.copy(case / "train.h5", folder / "entraînement.h5")
    text = (folder / "offline.toml").read_text().replace("train.h5", "entraînement.h5")
    (folder / "hors ligne.toml").write_text(text)
    config = OfflineConfig.load(folder / "hors ligne.toml")
    assert config.training == (folder / "entraînement.h5",)
    assert read_problem(folder / "problem.toml").n_steps == 6
    assert load_case(folder / "case.toml").problem == folder / "problem.toml"
    (folder / "problème.toml").write_bytes(b'mesh = "\xe9"\n')
    with pytest.raises(ConfigError, match="problème.toml: not UTF-8 text \\(byte 0xe9 on line 1\\)"):
        read_problem(folder / "problème.toml")


# ================================================================ the CLI
CLI_CASES = [
    ("offline", "problem = 5\n", "'problem' must be a path"),
    ("offline", b"training = [\"\xff\"]\n", "not UTF-8 text (byte 0xff on line 1)"),
    ("online", 'problem = "problem.toml"\nfields = ["nope"]\n', "fields ['nope']: the model has no such dual"),
    ("online", 'problem = "problem.toml"\n[adaptive]\nenabled = "false"\n', "[adaptive] enabled must be true or"),
    ("online", 'problem = "problem.toml"\nsolver = 3\n', "[solver] must be a table, found 3"),
    ("online", 'problem = "cycles.toml"\n', "at most 1000000 (set NIROM_MAX_TIME_STEPS"),
]


@pytest.mark.parametrize("command,content,message", CLI_CASES, ids=[c[2][:25] for c in CLI_CASES])
def test_the_cli_says_it_in_one_line(case, command, content, message):
    (case / "cycles.toml").write_text((case / "problem.toml").read_text().replace(
        "increments = [3, 3]", "increments = [3, 3]\ncycles = 100000000000"))
    path = case / f"cli_{command}.toml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    start = time.perf_counter()
    done = nirom(command, path) if command == "offline" else nirom(command, case / "rom.h5", path)
    assert time.perf_counter() - start < 30
    lines = error_lines(done)
    assert done.returncode == 2, done.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith(f"nirom {command}: error: ") and message in lines[0], lines
    assert str(case) in lines[0]
    TALLY["CLI runs: one line, exit code 2"] += 1


def test_report_the_tallies(capsys):
    with capsys.disabled():
        print("\nconfiguration robustness tallies:", dict(sorted(TALLY.items())))
