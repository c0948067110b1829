"""Every reader attacked with malformed inputs (issue 12): a clear NiromError, never anything else.

The corpus is generated here from the bundled data (``tests/data/zset``,
``tests/data/ansys``) and from stores / XDMF files the tests write: truncations at
several offsets, empty, random and byte-swapped files, wrong counts, NaN/Inf, wrong
types, non-ASCII paths, directories and symbolic-link loops where files are
expected, duplicate datasets, corrupt indices. Each case is read to the end (every
field, every step) and classified:

- ``clear``: a :class:`NiromError` whose message names the file and the problem;
- ``misleading``: a NiromError that does not;
- ``raw``: any other exception (a raw traceback for a user);
- ``hang``: no answer within :data:`CASE_SECONDS`;
- ``silently wrong``: read without error although the file is corrupt;
- ``unchanged``: read, and the data are the intact file's (the damage did not
  touch the meaning: a trailing newline, an unused set, an unused page).

A segfault would end the test run (so none happened if it finished); the Ansys
library's crashes are contained in its child process and counted in ``contained``.
The tally per reader is printed (``pytest -s``) and written to
``benchmarks/results/robustness_readers.json``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sys
import time
from collections import defaultdict
from pathlib import Path

import h5py
import numpy as np
import pytest

import io_adapters
from io_adapters.errors import InputError, NiromError
from test_store import box_mesh, simulation

DATA = Path(__file__).parent / "data"
RESULTS = Path(__file__).parents[1] / "benchmarks" / "results" / "robustness_readers.json"
CASE_SECONDS = 20
OUTCOMES = ("clear", "misleading", "raw", "segfault", "hang", "silently wrong", "unchanged")

TALLY: dict[str, dict[str, int]] = defaultdict(lambda: {k: 0 for k in ("tried", *OUTCOMES, "contained")})
FAILURES: dict[str, list[str]] = defaultdict(list)
UNCHANGED: dict[str, list[str]] = defaultdict(list)


# ------------------------------------------------------------------ machinery
class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang()


def snapshot(sim) -> dict:
    """Everything a Simulation holds, every field read in full."""
    mesh = sim.mesh
    return {
        "points": mesh.points.copy(), "cells": {t: c.copy() for t, c in mesh.cells.items()},
        "node_sets": {k: v.copy() for k, v in mesh.node_sets.items()},
        "cell_sets": {k: v.copy() for k, v in mesh.cell_sets.items()},
        "face_sets": {k: {t: c.copy() for t, c in v.items()} for k, v in mesh.face_sets.items()},
        "times": sim.times.copy(), "parameters": sim.parameters,
        "fields": {n: (f.support, f.components, f.rule, f.values) for n, f in sim.fields.items()},
    }


def same(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and np.array_equal(a, b)
    return a == b


def attempt(reader: str, case: str, path, *, problem: str, names=None, read=None, may_read: bool = False,
            reference: dict | None = None) -> str:
    """Read ``path`` to the end, classify the outcome, tally it."""
    read = read or io_adapters.read
    names = [names] if isinstance(names, str) else list(names or [Path(path).name])
    tally = TALLY[reader]
    tally["tried"] += 1
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, CASE_SECONDS)
    detail = ""
    try:
        data = snapshot(read(path))
        if (reference is not None and same(data, reference)) or (may_read and reference is None):
            outcome = "unchanged"       # the damage did not touch what the file means (a trailing newline…)
        else:
            outcome = "silently wrong"
            detail = "read without error, data differ from the intact file's" if reference else "read"
    except _Hang:
        outcome, detail = "hang", f"no answer in {CASE_SECONDS} s"
    except NiromError as exc:
        message = str(exc)
        named = any(n in message for n in names)
        explained = re.search(problem, message, re.IGNORECASE) is not None
        outcome = "clear" if named and explained else "misleading"
        detail = message
        if "library crashed" in message:
            tally["contained"] += 1
    except Exception as exc:  # noqa: BLE001  what this test hunts
        outcome, detail = "raw", f"{type(exc).__name__}: {exc}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    tally[outcome] += 1
    if outcome == "unchanged":
        UNCHANGED[reader].append(case)
    if outcome not in ("clear", "unchanged"):
        FAILURES[reader].append(f"[{case}] {outcome}: {detail[:400]} (expected /{problem}/ naming {names})")
    return outcome


def check(reader: str) -> None:
    failures = FAILURES[reader]
    assert not failures, f"{len(failures)} of {TALLY[reader]['tried']} {reader} cases:\n" + "\n".join(failures)


@pytest.fixture(scope="module", autouse=True)
def report():
    yield
    table = {reader: dict(counts) for reader, counts in TALLY.items()}
    lines = ["", "reader        tried  clear  misleading  raw  segfault  hang  silently-wrong  unchanged  contained"]
    for reader, c in table.items():
        lines.append(f"{reader:12s} {c['tried']:6d} {c['clear']:6d} {c['misleading']:11d} {c['raw']:4d} "
                     f"{c['segfault']:9d} {c['hang']:5d} {c['silently wrong']:15d} {c['unchanged']:10d} "
                     f"{c['contained']:10d}")
    print("\n".join(lines))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"suite": "tests/test_robustness_readers.py", "readers": table,
                                   "read_unchanged": UNCHANGED}, indent=2) + "\n")


_SERIAL = iter(range(10**9))


def slot(parent: Path, name: str) -> Path:
    """A fresh path under ``parent`` named after a case."""
    return parent / f"{next(_SERIAL):03d}_{re.sub(r'[^A-Za-z0-9]+', '_', name)[:60]}"


def clone(source: Path, target: Path) -> Path:
    """A copy of a folder whose files are hard links (replace a file before changing it)."""
    target.mkdir(parents=True)
    for item in source.iterdir():
        if item.is_dir():
            clone(item, target / item.name)
        else:
            try:
                os.link(item, target / item.name)
            except OSError:
                shutil.copy(item, target / item.name)
    return target


def replace(path: Path, data: bytes | str) -> Path:
    """Give ``path`` new contents (a new file: hard-linked originals stay intact)."""
    path.unlink(missing_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="latin-1")
    else:
        path.write_bytes(data)
    return path


def loop(path: Path) -> None:
    """Make ``path`` a loop of symbolic links."""
    path.unlink(missing_ok=True)
    other = path.with_name(path.name + ".loop")
    os.symlink(other.name, path)
    os.symlink(path.name, other)


def directory(path: Path) -> None:
    path.unlink(missing_ok=True)
    path.mkdir()


def dangling(path: Path) -> None:
    path.unlink(missing_ok=True)
    os.symlink("nowhere-at-all", path)


#: What a file can be instead of a file, and how the message must say it.
NOT_A_FILE = {
    "directory": (directory, r"directory"),
    "symlink loop": (loop, r"loop of symbolic links"),
    "dangling symlink": (dangling, r"symbolic link to a missing file"),
}


def truncations(size: int) -> list[int]:
    return sorted({0, 1, 7, size // 10, size // 3, size // 2, (9 * size) // 10, size - 1} - {size})


def random_bytes(n: int, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def byteswapped(data: bytes) -> bytes:
    whole = len(data) // 4 * 4
    return np.frombuffer(data[:whole], ">u4").astype("<u4").tobytes() + data[whole:]


# ------------------------------------------------------------------------ Zset
@pytest.fixture(scope="module")
def zset_reference():
    return snapshot(io_adapters.read(DATA / "zset" / "UtExample" / "cube.ut"))


def _run(tmp_path: Path, name: str) -> Path:
    return clone(DATA / "zset" / "UtExample", slot(tmp_path, name))


def test_zset_readers(tmp_path, zset_reference):
    reader = "zset"
    source = DATA / "zset" / "UtExample"
    ut_text = (source / "cube.ut").read_text()
    geof_text = (source / "cube.geof").read_text()

    def run_case(name, mutate, problem, names, may_read=False):
        folder = _run(tmp_path, name)
        mutate(folder)
        attempt(reader, name, folder / "cube.ut", problem=problem, names=names, may_read=may_read,
                reference=zset_reference)

    # --- .ut
    cut_time = ut_text[: ut_text.rindex("e-01")]         # "4 1 2 2 2.000000000000000" (0.2 would read 2.0)
    run_case("ut cut inside the last time", lambda f: replace(f / "cube.ut", cut_time), r"middle of this line",
             "cube.ut")
    for size in truncations(len(ut_text)):
        run_case(f"ut truncated at {size}", lambda f, s=size: replace(f / "cube.ut", ut_text[:s]),
                 r"middle of this line|meshfile|truncated|expected|records|oversized", "cube.ut")
    run_case("ut random bytes", lambda f: replace(f / "cube.ut", random_bytes(700)),
             r"NUL|before the first|meshfile|keyword|line", "cube.ut")
    run_case("ut NUL bytes", lambda f: replace(f / "cube.ut", b"\0" * 644), r"NUL", "cube.ut")
    run_case("ut record numbers", lambda f: replace(f / "cube.ut", ut_text.replace("\n3 1 2 1", "\n5 1 2 1")),
             r"record number 5, expected 3", "cube.ut")
    run_case("ut decreasing times", lambda f: replace(f / "cube.ut", ut_text.replace("1.500000000000000e-01",
                                                                                       "0.500000000000000e-01")),
             r"does not increase", "cube.ut")
    run_case("ut NaN time", lambda f: replace(f / "cube.ut", ut_text.replace("1.500000000000000e-01", "nan")),
             r"not finite|does not increase", "cube.ut")
    run_case("ut fractional counter", lambda f: replace(f / "cube.ut", ut_text.replace("\n3 1 2 1", "\n3 1 2.5 1")),
             r"integers", "cube.ut")
    run_case("ut record of 4 columns", lambda f: replace(f / "cube.ut", ut_text.replace("\n3 1 2 1 ", "\n3 1 2 ")),
             r"expected a record line|number, not a variable", "cube.ut")
    run_case("ut variable listed twice", lambda f: replace(f / "cube.ut", ut_text.replace("RU3", "RU2")),
             r"listed twice", "cube.ut")
    run_case("ut one variable too many", lambda f: replace(f / "cube.ut", ut_text.replace("RU3", "RU3 RU4")),
             r"truncated|expected \d+ bytes", "cube.node")
    run_case("ut no meshfile", lambda f: replace(f / "cube.ut", ut_text.replace("**meshfile cube.geof\n", "")),
             r"meshfile", "cube.ut")
    run_case("ut meshfile missing", lambda f: replace(f / "cube.ut", ut_text.replace("cube.geof", "absent.geof")),
             r"missing", "absent.geof")
    for kind, (make, said) in NOT_A_FILE.items():
        run_case(f"ut is a {kind}", lambda f, m=make: m(f / "cube.ut"), said, "cube.ut")
        run_case(f"mesh is a {kind}", lambda f, m=make: m(f / "cube.geof"), said, "cube.geof")
        for suffix in (".node", ".integ", ".ctnod"):
            run_case(f"{suffix} is a {kind}", lambda f, m=make, s=suffix: m(f / f"cube{s}"), said, f"cube{suffix}")

    # --- .node / .integ / .ctnod (headerless float32: sizes and values)
    for suffix in (".node", ".integ", ".ctnod"):
        data = (source / f"cube{suffix}").read_bytes()
        for size in (0, 4, len(data) // 2, len(data) - 4):
            run_case(f"{suffix} truncated at {size}", lambda f, s=suffix, n=size, d=data: replace(f / f"cube{s}", d[:n]),
                     r"truncated: expected \d+ bytes", f"cube{suffix}")
        run_case(f"{suffix} oversized", lambda f, s=suffix, d=data: replace(f / f"cube{s}", d + b"\0" * 4),
                 r"oversized", f"cube{suffix}")
        for value, said in ((np.nan, "nan"), (np.inf, "inf"), (-np.inf, "-inf")):
            def poison(f, s=suffix, d=data, v=value):
                values = np.frombuffer(d, ">f4").copy()
                values[len(values) // 2 + 3] = v
                replace(f / f"cube{s}", values.tobytes())
            run_case(f"{suffix} holds {said}", poison, rf"non-finite value {re.escape(said)}", f"cube{suffix}")
    run_case("node file of the wrong run", lambda f: replace(f / "cube.node", (source / "cube.integ").read_bytes()),
             r"oversized", "cube.node")

    # --- .geof
    def geof(name, text, problem, names="cube.geof"):
        run_case(name, lambda f: replace(f / "cube.geof", text), problem, names)

    for size in truncations(len(geof_text)):
        geof(f"geof truncated at {size}", geof_text[:size],
             r"announces|no \*\*node|cannot read|without a set name|refers to|needs a header|nodes of dimension"
             r"|line|elements|expected")
    geof("geof random bytes", random_bytes(5000).decode("latin-1"), r"NUL|no \*\*node|cannot read|line")
    geof("geof NUL bytes", "\0" * 4000, r"NUL")
    geof("geof binary .geo named .geof", (DATA / "zset" / "cube.geo").read_bytes().decode("latin-1"), r"NUL")
    header = geof_text[geof_text.index("**node"):].split("\n")[1]          # "343 3"
    n_nodes = int(header.split()[0])
    geof("geof claims 1e12 nodes", geof_text.replace(f"\n{header}\n", "\n1000000000000 3\n", 1),
         r"announces 1000000000000 nodes")
    geof("geof claims one node more", geof_text.replace(f"\n{header}\n", f"\n{n_nodes + 1} 3\n", 1),
         rf"announces {n_nodes + 1} nodes")
    geof("geof fractional header", geof_text.replace(f"\n{header}\n", f"\n{n_nodes}.5 3\n", 1), r"integers")
    lines = geof_text.split("\n")
    first_node = next(i for i, line in enumerate(lines) if line.startswith("1 "))
    for value in ("nan", "inf"):
        bad = list(lines)
        bad[first_node] = f"1 {value} 0.0 0.0"
        geof(f"geof {value} coordinate", "\n".join(bad), "NaN" if value == "nan" else "infinite")
    bad = list(lines)
    bad[first_node] = "1.5 0.0 0.0 0.0"
    geof("geof fractional node id", "\n".join(bad), r"integers")
    bad = list(lines)
    bad[first_node + 1] = "1" + bad[first_node + 1][1:]              # node 2 renamed 1
    geof("geof duplicate node id", "\n".join(bad), r"node id 1 is defined more than once")
    first_element = next(i for i, line in enumerate(lines) if " c3d" in line)
    parts = lines[first_element].split()
    geof("geof element on an undefined node", geof_text.replace(lines[first_element],
         " ".join(parts[:-1] + ["99999"]), 1), r"node id 99999")
    geof("geof negative node id in an element", geof_text.replace(lines[first_element],
         " ".join(parts[:-1] + ["-5"]), 1), r"negative")
    geof("geof element with a node missing", geof_text.replace(lines[first_element], " ".join(parts[:-1]), 1),
         r"has \d+ nodes, expected|announces")
    geof("geof unknown element type", geof_text.replace(f" {parts[1]} ", " c3d99 ", 1), r"unknown element type")
    geof("geof cut after its elements", geof_text[:geof_text.index("***group")], r"not closed by \*\*\*return")
    geof("geof wrong element count", geof_text.replace("**element\n216", "**element\n215", 1),
         r"announces 215 elements")
    geof("geof set on an unknown node", geof_text.replace("**nset x0\n", "**nset x0\n 777777 ", 1),
         r"777777")
    geof("geof number that is not", geof_text.replace("**nset x0\n", "**nset x0\n 1x2 ", 1),
         r"cannot read '1x2'")

    # --- a non-ASCII path
    folder = tmp_path / "résultats ü ß"
    clone(source, folder)
    replace(folder / "cube.node", (source / "cube.node").read_bytes()[:100])
    attempt(reader, "non-ASCII folder", folder / "cube.ut", problem=r"truncated", names="résultats ü ß")
    attempt(reader, "non-ASCII folder, valid", clone(source, tmp_path / "données") / "cube.ut", problem="",
            may_read=True, reference=zset_reference)
    check(reader)


def test_zset_binary_meshes(tmp_path):
    reader = "zset-geo"
    source = DATA / "zset" / "cube.geo"
    data = source.read_bytes()
    reference = snapshot(io_adapters.read(source))

    def case(name, content, problem):
        path = slot(tmp_path, name).with_suffix(".geo")
        path.write_bytes(content)
        attempt(reader, name, path, problem=problem, names=path.name, may_read=False, reference=reference)

    for size in truncations(len(data)):
        case(f"geo truncated at {size}", data[:size], r"byte \d+|expected")
    case("geo random", random_bytes(len(data)), r"section marker|byte")
    case("geo byte-swapped", byteswapped(data), r"byte|section|announces|expected")
    magic = b"Z7BINARYGEOF\0"
    start = data.index(magic) + len(magic) + 4 + len(b"node\0")
    for value, problem in ((2**31 - 1, r"expected \d+ more bytes"), (-1, r"nodes of dimension"),
                           (0, r"byte|section|refers")):
        case(f"geo node count {value}", data[:start] + np.array([value], ">i4").tobytes() + data[start + 4:],
             problem)
    n_nodes = int(np.frombuffer(data, ">i4", 1, start)[0])
    dim = int(np.frombuffer(data, ">i4", 1, start + 4)[0])
    coordinate = start + 8 + 4
    case("geo NaN coordinate", data[:coordinate] + np.array([np.nan], ">f8").tobytes() + data[coordinate + 8:],
         r"NaN")
    element = data.index(magic, start) + len(magic) + 4 + len(b"element\0")
    for value, problem in ((2**31 - 1, r"holds at most"), (-3, r"announces -3 elements")):
        case(f"geo element count {value}", data[:element] + np.array([value], ">i4").tobytes() + data[element + 4:],
             problem)
    # the first element's first node rank
    group = element + 8
    name_length = int(np.frombuffer(data, ">i4", 1, group + 4)[0])
    first = group + 4 + 4 + name_length + 4          # count | string | nodes per element
    for value, problem in ((n_nodes + 5, r"refers to node rank"), (-1, r"refers to node rank -1")):
        offset = first + 8
        case(f"geo connectivity rank {value}", data[:offset] + np.array([value], ">i4").tobytes()
             + data[offset + 4:], problem)
    per_element = int(np.frombuffer(data, ">i4", 1, first - 4)[0])      # nodes per element (c3d20: 20)
    second = first + 4 * (2 + per_element)
    case("geo element rank listed twice", data[:second + 4] + data[first + 4:first + 8] + data[second + 8:],
         r"listed twice")
    assert dim == 3
    check(reader)


def test_zset_parallel_cut(tmp_path):
    reader = "zset-cut"
    source = DATA / "zset" / "UtParExample"
    reference = snapshot(io_adapters.read(source / "cube.cut"))
    global_text = (source / "cube.cut").read_text()
    domain_text = (source / "cube-pcuts" / "cube-001.cut").read_text()

    def case(name, mutate, problem, names):
        folder = clone(source, slot(tmp_path, name))
        mutate(folder)
        attempt(reader, name, folder / "cube.cut", problem=problem, names=names, reference=reference)

    for size in truncations(len(global_text)):
        case(f"global cut truncated at {size}", lambda f, s=size: replace(f / "cube.cut", global_text[:s]),
             r"missing|not a global|needs|global nodes|elements|expected|domains", "cube.cut")
    case("global cut random", lambda f: replace(f / "cube.cut", random_bytes(3000)), r"not a global|needs|expected",
         "cube.cut")
    case("global cut claims 1e9 domains",
         lambda f: replace(f / "cube.cut", global_text.replace("**domains 2", "**domains 1000000000")),
         r"expected 1 to 100000 subdomains", "cube.cut")
    case("global cut claims 3 domains", lambda f: replace(f / "cube.cut", global_text.replace("**domains 2",
                                                                                             "**domains 3")),
         r"cube-003\.ut is missing", "cube-003.ut")
    case("global cut negative node count", lambda f: replace(f / "cube.cut", global_text.replace(
        "**global_node_nb 343", "**global_node_nb -343")), r"expected 0 to", "cube.cut")
    for size in truncations(len(domain_text)):
        case(f"domain cut truncated at {size}",
             lambda f, s=size: replace(f / "cube-pcuts" / "cube-001.cut", domain_text[:s]),
             r"missing|announces|block|disagree|not a Zset domain|expected|needs", "cube-001.cut")
    case("domain cut random", lambda f: replace(f / "cube-pcuts" / "cube-001.cut", random_bytes(4000)),
         r"not a Zset domain|expected|needs|announces", "cube-001.cut")
    case("domain cut claims 1e12 globals", lambda f: replace(f / "cube-pcuts" / "cube-001.cut", domain_text.replace(
        "**nodes_global_to_local 343 -1 1", "**nodes_global_to_local 1000000000000 -1 1")),
         r"expected 0 to 2147483647 globals", "cube-001.cut")
    case("domain cut block out of range", lambda f: replace(f / "cube-pcuts" / "cube-001.cut", domain_text.replace(
        "**nodes_global_to_local 343 -1 1\n    340 3", "**nodes_global_to_local 343 -1 1\n    340 30")),
         r"does not fit", "cube-001.cut")
    l2g = domain_text.index("**nodes_local_to_global")
    body = domain_text[l2g:].split("\n", 2)
    numbers = body[1].split()
    numbers[0], numbers[1] = numbers[1], numbers[0]
    swapped = domain_text[:l2g] + body[0] + "\n    " + " ".join(numbers) + "\n" + body[2]
    case("domain cut maps disagree", lambda f: replace(f / "cube-pcuts" / "cube-001.cut", swapped),
         r"disagree", "cube-001.cut")
    for kind, (make, said) in NOT_A_FILE.items():
        case(f"domain cut is a {kind}", lambda f, m=make: m(f / "cube-pcuts" / "cube-001.cut"),
             said + "|is missing", "cube-001.cut")
        case(f"domain result is a {kind}", lambda f, m=make: m(f / "cube-001.ut"), said + "|is missing", "cube-001.ut")
    check(reader)


# ----------------------------------------------------------------------- Ansys
@pytest.fixture(scope="module")
def ansys_library():
    return pytest.importorskip("ansys.mapdl.reader")


def _frame_positions(path: Path, library):
    """Word positions of the records worth damaging (headers, tables, mesh, solution, element results)."""
    result = library.read_binary(str(path))
    header = result._resultheader
    set_start = int(header["rpointers"][0])
    solution = result._result_solution_header(0)
    geometry = result._geometry_header
    positions = {
        "standard header": 0, "result header": 103, "data-set index": int(header["ptrDSI"]),
        "time table": int(header["ptrTIM"]), "geometry header": int(header["ptrGEO"]),
        "node equivalence": int(header["ptrNOD"]), "element types": int(geometry["ptrETY"]),
        "node records": int(geometry["ptrLOC"]), "element index": int(geometry["ptrEID"]),
        "solution header": set_start, "displacements": set_start + int(solution["ptrNSL"]),
        "element solution index": set_start + int(solution["ptrESL"]),
        "reactions": set_start + int(solution["ptrRF"]),
    }
    esl = positions["element solution index"]
    table = np.asarray(result.read_record(esl)).view(np.int64)
    index = esl + int(table[3])
    positions["an element's index record"] = index
    positions["an element's stresses"] = index + int(np.asarray(result.read_record(index))[2])
    return positions


def test_ansys_readers(tmp_path, ansys_library):
    reader = "ansys"
    source = DATA / "ansys" / "file.rst"
    data = source.read_bytes()
    reference = snapshot(io_adapters.read(source))

    archive = DATA / "ansys" / "exemple.cdb"
    references = {".rst": reference, ".cdb": snapshot(io_adapters.read(archive))}

    def case(name, content, problem, suffix=".rst", may_read=False):
        path = slot(tmp_path, name).with_suffix(suffix)
        path.write_bytes(content)
        attempt(reader, name, path, problem=problem, names=path.name, may_read=may_read,
                reference=references[suffix])

    for size in truncations(len(data)) + [4096, 100_000, 300_000]:
        case(f"rst truncated at {size}", data[:size], r"truncated|not an Ansys")
    case("rst random", random_bytes(len(data)), r"not an Ansys")
    case("rst byte-swapped", byteswapped(data), r"big-endian Ansys file")
    case("rst all zeros", bytes(len(data)), r"not an Ansys")
    words = np.frombuffer(data, "<i4")
    for what, at in _frame_positions(source, ansys_library).items():
        for span in (3, 64):
            damaged = bytearray(data)
            damaged[4 * at:4 * (at + span)] = bytes(4 * span)
            case(f"rst zero-filled {span} words at the {what}", bytes(damaged),
                 r"damaged|zero-filled|not an Ansys|empty|crashed|cannot|truncated")
    for offset in range(0, len(data), 32768):         # a zero-filled page anywhere: refused or unchanged
        damaged = bytearray(data)
        damaged[offset:offset + 4096] = bytes(4096)
        case(f"rst zero-filled page at byte {offset}", bytes(damaged),
             r"damaged|zero-filled|not an Ansys|empty|crashed|cannot|truncated|NaN|non-finite", may_read=True)
    # NaN and Inf in the displacements (a plain record of doubles)
    at = _frame_positions(source, ansys_library)["displacements"]
    assert words[at + 1] == 0                           # uncompressed doubles
    for value, said in ((np.nan, "nan"), (np.inf, "inf")):
        damaged = bytearray(data)
        first = 4 * (at + 2) + 8 * 3                     # node 2, UX
        damaged[first:first + 8] = np.array([value], "<f8").tobytes()
        case(f"rst {said} displacement", bytes(damaged), rf"non-finite value {said}")
    at = _frame_positions(source, ansys_library)["an element's stresses"]
    assert (int(words[at + 1]) >> 24) & 0xFF == 0x40          # uncompressed float32
    damaged = bytearray(data)
    damaged[4 * (at + 2):4 * (at + 3)] = np.array([np.nan], "<f4").tobytes()
    case("rst NaN in an element's stresses", bytes(damaged), r"S: result set 0 holds the non-finite value nan")
    case("rst empty", b"", r"not an Ansys|truncated")
    for kind, (make, said) in NOT_A_FILE.items():
        path = tmp_path / f"{kind.replace(' ', '_')}.rst"
        path.write_bytes(b"")
        make(path)
        attempt(reader, f"rst is a {kind}", path, problem=said, names=path.name)

    cdb = archive.read_text()
    for size in (0, 100, len(cdb) // 3, len(cdb) // 2, len(cdb) - 40):
        case(f"cdb truncated at {size}", cdb[:size].encode(), r"archive|no nodes|elements|cannot|not closed by -1",
             suffix=".cdb")
    case("cdb random", random_bytes(2000), r"archive|no nodes|elements|cannot", suffix=".cdb")
    undefined = cdb.replace("        9       10\n-1", "        9       99\n-1")
    case("cdb element on an undefined node", undefined.encode(), r"undefined|node|archive|cannot|elements",
         suffix=".cdb")
    nan_node = cdb.replace("1.480360121E+00", "            NaN", 1)
    case("cdb NaN coordinate", nan_node.encode(), r"NaN|archive|cannot", suffix=".cdb")
    check(reader)


# ------------------------------------------------------------------ dolfinx XDMF
def write_dolfinx_like(folder: Path, *, name="series") -> Path:
    """An XDMF + HDF5 pair laid out as ``dolfinx.io.XDMFFile`` writes it (hexahedra, 2 times, 3 functions)."""
    mesh = box_mesh()
    folder.mkdir(parents=True, exist_ok=True)
    h5 = folder / f"{name}.h5"
    points, cells = mesh.points, mesh.cells["hexahedron"]
    rng = np.random.default_rng(3)
    times = (0.5, 1.0)
    with h5py.File(h5, "w") as f:
        f["Mesh/mesh/geometry"] = points
        f["Mesh/mesh/topology"] = cells
        for k, _ in enumerate(times):
            f[f"Function/u/{k}"] = rng.normal(size=(len(points), 3))
            f[f"Function/T/{k}"] = rng.normal(size=(len(points), 1))
            f[f"Function/s/{k}"] = rng.normal(size=(len(cells), 1))
    include = "xpointer(/Xdmf/Domain/Grid[@GridType='Uniform'][1]/*[self::Topology or self::Geometry])"
    grids = []
    for function, kind, center, n, cols in (("u", "Vector", "Node", len(points), 3),
                                            ("T", "Scalar", "Node", len(points), 1),
                                            ("s", "Scalar", "Cell", len(cells), 1)):
        steps = "".join(
            f'<Grid Name="{function}" GridType="Uniform"><xi:include xpointer="{include}"/>'
            f'<Time Value="{t}"/><Attribute Name="{function}" AttributeType="{kind}" Center="{center}">'
            f'<DataItem Dimensions="{n} {cols}" Format="HDF">{h5.name}:/Function/{function}/{k}</DataItem>'
            "</Attribute></Grid>" for k, t in enumerate(times))
        grids.append(f'<Grid Name="{function}" GridType="Collection" CollectionType="Temporal">{steps}</Grid>')
    xml = (
        '<?xml version="1.0"?>\n<Xdmf Version="3.0" xmlns:xi="http://www.w3.org/2001/XInclude"><Domain>'
        f'<Grid Name="mesh" GridType="Uniform"><Topology TopologyType="Hexahedron" NumberOfElements="{len(cells)}" '
        f'NodesPerElement="8"><DataItem Dimensions="{len(cells)} 8" NumberType="Int" Format="HDF">'
        f'{h5.name}:/Mesh/mesh/topology</DataItem></Topology><Geometry GeometryType="XYZ">'
        f'<DataItem Dimensions="{len(points)} 3" Format="HDF">{h5.name}:/Mesh/mesh/geometry</DataItem></Geometry>'
        "</Grid>" + "".join(grids) + "</Domain></Xdmf>\n"
    )
    path = folder / f"{name}.xdmf"
    path.write_text(xml)
    return path


def _edit_h5(path: Path, dataset: str, values) -> None:
    with h5py.File(path, "a") as f:
        del f[dataset]
        f[dataset] = values


def test_xdmf_readers(tmp_path):
    reader = "xdmf"
    good = write_dolfinx_like(tmp_path / "good")
    assert io_adapters.detect_format(good) == "fenics"
    reference = snapshot(io_adapters.read(good))
    xml = good.read_text()
    h5_bytes = (tmp_path / "good" / "series.h5").read_bytes()

    def case(name, mutate, problem, names, may_read=False):
        folder = slot(tmp_path, name)
        path = write_dolfinx_like(folder)
        mutate(folder)
        attempt(reader, name, path, problem=problem, names=names, may_read=may_read, reference=reference)

    h5 = "series.h5"
    for size in truncations(len(xml)):
        case(f"xml truncated at {size}", lambda f, s=size: replace(f / "series.xdmf", xml[:s]),
             r"not a valid XDMF|cannot be read|no mesh|not an XDMF|unbound prefix", "series.xdmf")
    case("xml random", lambda f: replace(f / "series.xdmf", random_bytes(3000)),
         r"not a valid XDMF|cannot be read|XML", "series.xdmf")
    for size in truncations(len(h5_bytes)):
        case(f"h5 truncated at {size}", lambda f, s=size: replace(f / h5, h5_bytes[:s]),
             r"empty|truncated|not an HDF5|corrupt", h5)
    case("h5 random", lambda f: replace(f / h5, random_bytes(len(h5_bytes))), r"not an HDF5", h5)
    case("h5 byte-swapped", lambda f: replace(f / h5, byteswapped(h5_bytes)), r"not an HDF5|corrupt", h5)
    case("h5 empty", lambda f: replace(f / h5, b""), r"empty", h5)
    for kind, (make, said) in NOT_A_FILE.items():
        case(f"h5 is a {kind}", lambda f, m=make: m(f / h5), said + "|does not exist", h5)
        case(f"xdmf is a {kind}", lambda f, m=make: m(f / "series.xdmf"), said, "series.xdmf")
    mesh = box_mesh()

    def geometry_with(value):
        points = mesh.points.copy()
        points[4, 1] = value
        return points

    case("NaN in the geometry", lambda f: _edit_h5(f / h5, "Mesh/mesh/geometry", geometry_with(np.nan)),
         r"node 4 has NaN", "series.xdmf")
    case("Inf in the geometry", lambda f: _edit_h5(f / h5, "Mesh/mesh/geometry", geometry_with(np.inf)),
         r"infinite", "series.xdmf")

    def topology_with(value):
        cells = mesh.cells["hexahedron"].copy()
        cells[2, 3] = value
        return cells

    case("topology index -1", lambda f: _edit_h5(f / h5, "Mesh/mesh/topology", topology_with(-1)),
         r"negative node index -1", "series.xdmf")
    case("topology index past the nodes", lambda f: _edit_h5(f / h5, "Mesh/mesh/topology", topology_with(143)),
         r"refers to node 143 \(cell 2\), but there are 27 nodes", "series.xdmf")
    case("topology of floats", lambda f: _edit_h5(f / h5, "Mesh/mesh/topology", topology_with(1).astype(float) + 0.5),
         r"holds float64, expected integers", h5)
    case("geometry of text", lambda f: _edit_h5(f / h5, "Mesh/mesh/geometry", np.array(["a"] * 81, "S1").reshape(27, 3)),
         r"expected numbers", h5)
    case("geometry shape", lambda f: _edit_h5(f / h5, "Mesh/mesh/geometry", mesh.points[:, :2]),
         r"has shape \(27, 2\)", h5)
    case("function dataset of the wrong shape", lambda f: _edit_h5(f / h5, "Function/u/1", np.zeros((3, 3))),
         r"shape \(3, 3\)", h5)

    def drop(f):
        with h5py.File(f / h5, "a") as g:
            del g["Function/T/0"]
    case("function dataset missing", drop, r"Function/T/0", h5)
    case("NaN in a function", lambda f: _edit_h5(f / h5, "Function/u/1", np.full((27, 3), np.nan)),
         r"non-finite value nan", "series.xdmf")
    case("NaN time", lambda f: replace(f / "series.xdmf", xml.replace('Time Value="1.0"', 'Time Value="nan"', 1)),
         r"bad time value 'nan'", "series.xdmf")
    case("decreasing times", lambda f: replace(f / "series.xdmf", xml.replace('Value="0.5"', 'Value="2.5"')),
         r"increase strictly", "series.xdmf")
    case("functions at different times", lambda f: replace(f / "series.xdmf", xml.replace('Value="0.5"', 'Value="0.25"', 1)),
         r"different times", "series.xdmf")
    case("bad dimensions", lambda f: replace(f / "series.xdmf", xml.replace('Dimensions="27 3"', 'Dimensions="27 x"', 1)),
         r"bad Dimensions", "series.xdmf")
    case("negative dimensions", lambda f: replace(f / "series.xdmf", xml.replace('Dimensions="8 8"', 'Dimensions="-8 8"', 1)),
         r"bad Dimensions", "series.xdmf")
    case("unknown topology", lambda f: replace(f / "series.xdmf", xml.replace('"Hexahedron"', '"Hexagon"')),
         r"topology type 'Hexagon'", "series.xdmf")
    folder = tmp_path / "dossier été"
    write_dolfinx_like(folder)
    _edit_h5(folder / h5, "Mesh/mesh/topology", topology_with(-1))
    attempt(reader, "non-ASCII folder", folder / "series.xdmf", problem=r"negative", names="dossier été")

    # meshio's XDMF time series (the generic reader)
    import meshio

    series_dir = tmp_path / "meshio"
    series_dir.mkdir()
    cwd = os.getcwd()
    os.chdir(series_dir)                      # meshio writes the .h5 in the working folder
    try:
        with meshio.xdmf.TimeSeriesWriter("ts.xdmf") as writer:
            writer.write_points_cells(mesh.points, [("hexahedron", mesh.cells["hexahedron"])])
            for t in (0.0, 1.0):
                writer.write_data(t, point_data={"a": np.arange(27.0)})
    finally:
        os.chdir(cwd)
    ts_h5 = next(p for p in series_dir.iterdir() if p.suffix == ".h5")
    ts_bytes = ts_h5.read_bytes()
    for size in (0, len(ts_bytes) // 2):
        replace(ts_h5, ts_bytes[:size])
        attempt(reader, f"meshio series h5 truncated at {size}", series_dir / "ts.xdmf",
                problem=r"cannot read the XDMF time series", names="ts.xdmf")
    replace(ts_h5, ts_bytes)
    ts_xml = (series_dir / "ts.xdmf").read_text()
    replace(series_dir / "ts.xdmf", ts_xml[: len(ts_xml) // 2])
    attempt(reader, "meshio series xml truncated", series_dir / "ts.xdmf", problem=r"not a valid XDMF",
            names="ts.xdmf")
    check(reader)


# ------------------------------------------------------------------------ store
@pytest.fixture(scope="module")
def store_simulation():
    return simulation()


def _store_edit(path: Path, edit) -> None:
    with h5py.File(path, "r+") as f:
        edit(f)


def test_store_reader(tmp_path, store_simulation):
    from io_adapters.store import write

    reader = "store"
    good = write(store_simulation, tmp_path / "good" / "run.h5")
    reference = snapshot(io_adapters.read(good))
    data = good.read_bytes()

    def case(name, mutate, problem, may_read=False, reference_=reference, names=None):
        folder = slot(tmp_path, name)
        path = write(store_simulation, folder / "run.h5")
        mutate(path)
        attempt(reader, name, path, problem=problem, names=names or path.name, may_read=may_read,
                reference=reference_)

    def edit(function):
        return lambda path: _store_edit(path, function)

    # what the file really is
    for size in truncations(len(data)):
        case(f"truncated at {size}", lambda p, s=size: replace(p, data[:s]),
             r"empty file|truncated HDF5|not an HDF5 file|corrupt HDF5")
    case("empty", lambda p: replace(p, b""), r"empty file \(0 bytes\)")
    case("random", lambda p: replace(p, random_bytes(len(data))), r"not an HDF5 file")
    case("byte-swapped", lambda p: replace(p, byteswapped(data)), r"not an HDF5 file")
    case("text with an .h5 name", lambda p: replace(p, "just text\n"), r"not an HDF5 file")
    case("another HDF5 file", lambda p: (p.unlink(), h5py.File(p, "w").create_dataset("x", data=1)),
         r"not a nirom store: an HDF5 file without the 'format' attribute")
    for kind, (make, said) in NOT_A_FILE.items():
        case(f"a {kind}", lambda p, m=make: m(p), said)

    # duplicate names
    def rename(group, member, name):
        def change(f):
            f[group][member].attrs["name"] = name
        return change

    case("two fields named U", edit(rename("fields", "3", "U")), r"two fields are named 'U'")
    case("two node sets named z0", edit(rename("mesh/node_sets", "1", "z0")), r"two node sets are named 'z0'")

    def second_face_set(f):
        f["mesh/face_sets"].copy("0", "1")
    case("two face sets named bottom", edit(second_face_set), r"two face sets are named 'bottom'")

    # shapes, types and indices
    def points(shape_columns):
        def change(f):
            values = f["mesh/points"][()][:, :shape_columns]
            del f["mesh/points"]
            f["mesh/points"] = values
        return change

    case("points of 2 columns in a 3D mesh", edit(points(2)), r"have shape \(27, 2\).*dim 3")

    def attribute(where, name, value):
        def change(f):
            f[where].attrs[name] = value
        return change

    for where, name, value, problem in (
        ("/", "format_version", "1", r"'format_version'.*expected an integer"),
        ("/", "complete", "yes", r"'complete'.*expected an integer"),
        ("/", "format_version", 1.0, r"'format_version'.*expected an integer"),
        ("mesh", "cell_types", "[hexahedron", r"'cell_types'.*not valid JSON"),
        ("mesh", "cell_types", '{"a": 1}', r"'cell_types'.*expected a list"),
        ("mesh", "cell_types", '["hexahedron", "hexahedron"]', r"lists 'hexahedron' twice"),
        ("mesh", "cell_types", '["hexagon"]', r"unknown cell type 'hexagon'"),
        ("mesh", "dim", 2.5, r"'dim'.*expected an integer"),
        ("mesh", "dim", 7, r"'dim'.*expected 1, 2 or 3"),
        ("fields/0", "components", '{"U1": 1}', r"'components'.*expected a list"),
        ("fields/0", "components", '["a", "b"]', r"3 components but names 2"),
        ("fields/0", "support", 5, r"'support'.*expected text"),
        ("fields/0", "support", "edge", r"support 'edge'"),
        ("fields/0", "name", np.arange(3), r"'name'.*expected text"),
        ("fields/1", "rule", "gauss9", r"rule|gauss9"),
        ("parameters", "json", "[1, 2]", r"'json'.*expected a dict"),
    ):
        case(f"attribute {where}@{name} = {value!r}", edit(attribute(where, name, value)), problem)

    def dataset(where, values):
        def change(f):
            attrs = dict(f[where].attrs)
            del f[where]
            f[where] = values
            f[where].attrs.update(attrs)
        return change

    cells = store_simulation.mesh.cells["hexahedron"]
    for value, problem in ((-1, r"negative node index -1"), (27, r"refers to node index 27, but there are 27")):
        bad = cells.copy()
        bad[3, 5] = value
        case(f"connectivity index {value}", edit(dataset("mesh/cells/0", bad)), problem)
    case("connectivity of floats", edit(dataset("mesh/cells/0", cells.astype(float))), r"holds float64, expected integers")
    case("field of integers", edit(dataset("fields/0", np.zeros((4, 27, 3), np.int64))), r"expected float32 or float64")
    case("field of 2 dimensions", edit(dataset("fields/3", np.zeros((4, 8)))), r"has shape \(4, 8\)")
    case("field of the wrong rows", edit(dataset("fields/0", np.zeros((4, 26, 3)))), r"shape \(4, 26, 3\)")
    case("node set out of range", edit(dataset("mesh/node_sets/0", np.array([0, 99]))), r"node index 99")
    nan_points = store_simulation.mesh.points.copy()
    nan_points[5, 2] = np.nan
    case("NaN coordinate", edit(dataset("mesh/points", nan_points)), r"NaN")
    case("times decreasing", edit(dataset("times", np.array([0.0, 2.0, 1.0, 3.0]))), r"increase strictly")

    def missing(where):
        def change(f):
            del f[where]
        return change

    for where in ("mesh/points", "mesh/cells", "times", "fields", "mesh/node_sets"):
        case(f"missing {where}", edit(missing(where)), rf"missing '/?{where}'")

    def renumber(f):
        f["fields"].move("1", "7")
    case("fields numbered with a gap", edit(renumber), r"numbered 0 to 3, found '7'")

    def external(f):
        del f["fields/2"]
        f["fields/2"] = h5py.ExternalLink("elsewhere.h5", "/x")
    case("external link", edit(external), r"ExternalLink|cannot be opened|a store holds its own data")

    # values changed after writing: refused by the checksums (field values on a full read)
    def poke(where, index, value):
        def change(f):
            d = f[where]
            values = d[()]
            values[index] = value
            d[...] = values
        return change

    case("a field value changed", edit(poke("fields/0", (1, 5, 2), 0.123)),
         r"values of '/fields/0' are not those its writer recorded")
    case("a coordinate changed", edit(poke("mesh/points", (3, 0), 0.5)),
         r"values of '/mesh/points' are not those its writer recorded")
    case("a time changed", edit(poke("times", 1, 0.3)), r"values of '/times' are not those its writer recorded")
    case("a set member changed", edit(poke("mesh/node_sets/0", 1, 3)),
         r"values of '/mesh/node_sets/0' are not those")
    case("a field renamed", edit(rename("fields", "0", "V")), r"structure or attributes .* are not those")
    case("parameters changed", edit(attribute("parameters", "json", '{"pressure": -60.0, "run": "a"}')),
         r"structure or attributes .* are not those")
    case("checksum removed", edit(lambda f: f["fields/0"].attrs.__delitem__("checksum")),
         r"lacks its 'checksum' attribute")
    case("checksum of another algorithm", edit(attribute("/", "checksums", "sha1")), r"checksums use 'sha1'")
    case("NaN in a field", edit(poke("fields/0", (2, 4, 1), np.nan)), r"non-finite value nan at time step 2, row 4")

    # allowed: a store without checksums (written before them), a dim-2 store of (n, 2) points
    def legacy(f):
        for key in ("checksums", "metadata_checksum", "uuid"):
            del f.attrs[key]
        for d in ("mesh/points", "fields/0"):
            del f[d].attrs["checksum"]
    case("a store without checksums (format 1 as written before)", edit(legacy), "", may_read=True)
    check(reader)


# -------------------------------------------------------- other engineering fixes
def test_thread_count_variables_are_clear(monkeypatch):
    from io_adapters import threads

    threads.set_io_threads(None)
    monkeypatch.delenv("NIROM_IO_THREADS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "2,1")          # OpenMP nesting syntax: the first level
    assert threads.io_threads() == 2
    for name, value in (("NIROM_IO_THREADS", "abc"), ("OMP_NUM_THREADS", "x,2"), ("NIROM_IO_THREADS", "1.5")):
        monkeypatch.setenv(name, value)
        with pytest.raises(NiromError, match=rf"{name}={re.escape(repr(value))}: expected a positive integer"):
            threads.io_threads()
        monkeypatch.delenv(name)
    with pytest.raises(NiromError, match="at least 1"):
        threads.set_io_threads("two")


def test_a_cut_time_is_refused_not_read_as_another_time(tmp_path):
    folder = clone(DATA / "zset" / "UtExample", tmp_path / "run")
    text = (folder / "cube.ut").read_text()
    replace(folder / "cube.ut", text[: text.rindex("e-01")])   # the last time would read 2.0 instead of 0.2
    with pytest.raises(InputError, match=r"cube\.ut, line 8: the file ends in the middle of this line"):
        io_adapters.read(folder / "cube.ut")


def test_an_unreadable_ctnod_is_refused_not_skipped(tmp_path):
    folder = clone(DATA / "zset" / "UtExample", tmp_path / "run")
    assert len(io_adapters.read(folder / "cube.ut").fields) > 14
    directory(folder / "cube.ctnod")
    with pytest.raises(InputError, match=r"cube\.ctnod: is a directory"):
        io_adapters.read(folder / "cube.ut")
    shutil.rmtree(folder / "cube.ctnod")
    loop(folder / "cube.ctnod")
    with pytest.raises(InputError, match=r"cube\.ctnod: is a loop of symbolic links"):
        io_adapters.read(folder / "cube.ut")
    (folder / "cube.ctnod").unlink()
    (folder / "cube.ctnod.loop").unlink()
    assert not any(name.endswith("_nodal") for name in io_adapters.read(folder / "cube.ut").fields)  # absent: fine


def test_non_ascii_paths_of_stores_and_ansys_files(tmp_path, store_simulation, ansys_library):
    from io_adapters.store import write

    folder = tmp_path / "mesures à Zürich"
    path = write(store_simulation, folder / "résultat.h5")
    assert same(snapshot(io_adapters.read(path)), snapshot(store_simulation))
    replace(path, path.read_bytes()[:2000])
    attempt("store", "non-ASCII path, truncated", path, problem=r"truncated|not a readable HDF5",
            names="résultat.h5")
    rst = folder / "calcul é.rst"
    rst.write_bytes((DATA / "ansys" / "file.rst").read_bytes())
    assert io_adapters.read(rst).fields["U"].values.shape == (1, 93, 3)
    replace(rst, rst.read_bytes()[:5000])
    attempt("ansys", "non-ASCII path, truncated", rst, problem=r"truncated", names="calcul é.rst")
    check("store")
    check("ansys")


# ---------------------------------------------------- store: temporaries, sidecar, checksums
def _dead_pid() -> int:
    import subprocess

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temporaries_of_gone_writers_are_removed_at_the_next_write(tmp_path, store_simulation):
    from io_adapters.store import write
    from io_adapters.store.files import _host

    from io_adapters.store import files

    host = _host()
    old = files._STARTED - 3600            # before this process started (the next run of convert)
    names = {
        "dead": f".run.h5.tmp-{_dead_pid()}@{host}-abcd1234",
        "alive": f".run.h5.tmp-1@{host}-abcd1234",                 # init never ends
        "other host": f".run.h5.tmp-{_dead_pid()}@elsewhere.example-abcd1234",
        "earlier nirom": ".run.h5.tmp-abcd1234",
        "dead sidecar": f".run.xdmf.tmp-{_dead_pid()}@{host}-abcd1234",
        "other output": f".other.h5.tmp-{_dead_pid()}@{host}-abcd1234",
    }
    for name in names.values():
        (tmp_path / name).write_bytes(b"x" * 100)
        os.utime(tmp_path / name, (old, old))
    write(store_simulation, tmp_path / "run.h5")
    left = {p.name for p in tmp_path.iterdir()}
    assert names["dead"] not in left and names["dead sidecar"] not in left
    for kept in ("alive", "other host", "earlier nirom", "other output"):
        assert names[kept] in left, kept
    assert {"run.h5", "run.xdmf"} <= left


def test_a_killed_convert_leaves_a_temporary_that_the_next_run_removes(tmp_path, store_simulation):
    import subprocess

    from io_adapters.store import write

    script = f"""
import sys, time
sys.path[:0] = {[str(Path(__file__).parents[1]), str(Path(__file__).parent)]!r}
import numpy as np
from io_adapters.store import StoreAppender
from test_store import simulation
sim = simulation()
specs = {{n: (f.support, f.components, f.rule) for n, f in sim.fields.items()}}
out = StoreAppender({str(tmp_path / 'run.h5')!r}, sim.mesh, specs)
out.append(0.0, {{n: f.values[0] for n, f in sim.fields.items()}})
print("writing", flush=True)
time.sleep(60)
"""
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "writing"
    child.kill()
    child.wait()
    from io_adapters.store import files

    left = [p for p in tmp_path.iterdir() if p.name.startswith(".run.h5.tmp-")]
    assert len(left) == 1 and f"-{child.pid}@" in left[0].name
    before = files._STARTED - 60           # as seen by the next run of convert: a process started after the kill
    os.utime(left[0], (before, before))
    write(store_simulation, tmp_path / "run.h5")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.h5", "run.xdmf"]


def test_the_sidecar_never_describes_another_store(tmp_path, store_simulation, monkeypatch):
    import meshio

    from io_adapters.store import read, write
    from io_adapters.store import xdmf as sidecar
    from io_adapters.store.xdmf import sidecar_uuid, store_uuid

    path = write(store_simulation, tmp_path / "run.h5")
    assert sidecar_uuid(path) == store_uuid(path) and len(store_uuid(path)) == 32
    # a kill between the renames: the old sidecar went first, the new store is in place, its sidecar is not
    calls = []
    real = sidecar.publish

    def killed_after_the_store(temporary, final):
        calls.append(final.name)
        if final.suffix == ".xdmf":
            raise KeyboardInterrupt("killed")
        real(temporary, final)

    monkeypatch.setattr(sidecar, "publish", killed_after_the_store)
    second = simulation(seed=7)
    with pytest.raises(KeyboardInterrupt):
        write(second, path)
    monkeypatch.undo()
    assert calls == ["run.h5", "run.xdmf"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.h5"]      # no sidecar rather than a wrong one
    np.testing.assert_array_equal(read(path).fields["U"].values, second.fields["U"].values)
    # a store copied over another one: its old sidecar names another uuid and is rewritten at the next read
    write(store_simulation, path)
    other = write(second, tmp_path / "other" / "run.h5")
    shutil.copy(other, path)
    assert sidecar_uuid(path) != store_uuid(path)
    read(path)
    assert sidecar_uuid(path) == store_uuid(path)
    with meshio.xdmf.TimeSeriesReader(sidecar.sidecar_path(path)) as reader_:
        reader_.read_points_cells()
        np.testing.assert_array_equal(reader_.read_data(1)[1]["U"], second.fields["U"].values[1])
    # a store written without a sidecar removes the old one (it described the previous store)
    write(store_simulation, path, xdmf=False)
    assert not sidecar.sidecar_path(path).exists()


def test_checksums_refuse_changed_values_on_full_reads(tmp_path, store_simulation):
    from io_adapters.store import StoreAppender, read, verify, write

    path = write(store_simulation, tmp_path / "run.h5")
    assert verify(path) == {"path": str(path), "checksums": True, "datasets": 12, "bytes": verify(path)["bytes"]}
    with h5py.File(path, "r+") as f:
        f["fields/1"][2, 7, 4] = 123.0                                     # sig, one value
    sim = read(path)                                                       # mesh and times are intact
    part = sim.fields["sig"].read(steps=[2], rows=np.arange(5, 30))        # partial reads are not verified
    assert part[0, 2, 4] == 123.0
    with pytest.raises(InputError, match=r"run\.h5: the values of '/fields/1' are not those its writer recorded"):
        sim.fields["sig"].values
    piecewise = read(path).fields["sig"]
    for step in range(3):                                                  # in file order, step by step
        piecewise.read(steps=[step])
    with pytest.raises(InputError, match=r"'/fields/1' are not those"):
        piecewise.read(steps=[3])
    with pytest.raises(InputError, match=r"'/fields/1' are not those"):   # a conversion publishes nothing
        write(read(path), tmp_path / "copy.h5")
    assert not (tmp_path / "copy.h5").exists()
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]
    with pytest.raises(InputError, match=r"'/fields/1' are not those"):
        verify(path)
    # a store grown step by step carries its checksums too
    specs = {n: (f.support, f.components, f.rule) for n, f in store_simulation.fields.items()}
    with StoreAppender(tmp_path / "grown.h5", store_simulation.mesh, specs, dtype="float32") as out:
        for k in range(store_simulation.n_times):
            out.append(store_simulation.times[k], {n: f.values[k] for n, f in store_simulation.fields.items()})
    assert verify(tmp_path / "grown.h5")["checksums"]


def test_points_of_two_columns_only_in_a_mesh_of_dim_2(tmp_path, store_simulation):
    from io_adapters.store import integrity, read, write

    path = write(store_simulation, tmp_path / "run.h5")
    with h5py.File(path, "r+") as f:
        points = f["mesh/points"][()]
        del f["mesh/points"]
        f["mesh/points"] = points[:, :2]
        f["mesh"].attrs["dim"] = 2
        integrity.seal(f, path)                # as a writer of a 2D store would have recorded it
    sim = read(path)
    assert sim.mesh.dim == 2 and np.all(sim.mesh.points[:, 2] == 0)
    np.testing.assert_array_equal(sim.mesh.points[:, :2], points[:, :2])


def test_a_crash_of_the_ansys_library_is_contained(ansys_library, monkeypatch, tmp_path):
    from io_adapters import ansys

    def crash(result, record, step):
        os.kill(os.getpid(), signal.SIGSEGV)

    path = tmp_path / "file.rst"
    path.write_bytes((DATA / "ansys" / "file.rst").read_bytes())
    monkeypatch.setitem(ansys._OPERATIONS, "fetch", crash)      # the forked reader inherits it
    sim = io_adapters.read(path)
    with pytest.raises(InputError, match=r"file\.rst: the Ansys library crashed \(signal SIGSEGV\) while reading "
                                         r"result set 0"):
        sim.fields["S"].values
    monkeypatch.undo()
    assert np.isfinite(io_adapters.read(path).fields["S"].values).all()                        # still here
    assert path.read_bytes() == (DATA / "ansys" / "file.rst").read_bytes()   # the crash wrote nothing anywhere
