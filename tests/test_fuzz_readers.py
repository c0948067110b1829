"""Property-based fuzzing of the Zset readers and the store (issue 12).

Random byte edits and truncations of valid files (bundled Zset data, a store the
test writes) must give either the intact file's data or a NiromError: never
another exception, never a hang (a per-example alarm), and for the store never
different data — its checksums refuse every altered array. For the Zset text and
binary meshes, whose format carries no checksum, an edit may also give other valid
data (a digit of a coordinate changed reads as another coordinate); a truncation
must not.

Bounded to about 30 s (``max_examples``; examples are derandomized so that a run
is reproducible). The tally is printed (``pytest -s``) and written to
``benchmarks/results/fuzz_readers.json``.
"""

from __future__ import annotations

import json
import signal
from collections import defaultdict
from pathlib import Path

import h5py
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import io_adapters
from io_adapters.errors import NiromError
from test_robustness_readers import same, snapshot
from test_store import simulation

DATA = Path(__file__).parent / "data"
RESULTS = Path(__file__).parents[1] / "benchmarks" / "results" / "fuzz_readers.json"
SETTINGS = dict(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
EXAMPLE_SECONDS = 20

TALLY: dict[str, dict[str, int]] = defaultdict(lambda: {"tried": 0, "same data": 0, "other valid data": 0,
                                                       "refused (NiromError)": 0, "raw exception": 0,
                                                       "hang": 0, "silently different": 0})


class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang()


def outcome(reader: str, path: Path, reference: dict, *, may_differ: bool) -> None:
    """Read ``path`` in full; tally; fail on anything but the same data, a NiromError, or (``may_differ``) other data."""
    tally = TALLY[reader]
    tally["tried"] += 1
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, EXAMPLE_SECONDS)
    try:
        data = snapshot(io_adapters.read(path))
    except _Hang:
        tally["hang"] += 1
        raise AssertionError(f"{reader}: {path} hangs") from None
    except NiromError:
        tally["refused (NiromError)"] += 1
        return
    except Exception as exc:  # noqa: BLE001  what this test hunts
        tally["raw exception"] += 1
        raise AssertionError(f"{reader}: {type(exc).__name__}: {exc}") from exc
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    if same(data, reference):
        tally["same data"] += 1
    elif may_differ:
        tally["other valid data"] += 1
    else:
        tally["silently different"] += 1
        raise AssertionError(f"{reader}: {path} reads without error as other data")


@pytest.fixture(scope="module", autouse=True)
def report():
    yield
    lines = ["", f"{'fuzzed':14s} " + "  ".join(f"{k:>20s}" for k in next(iter(TALLY.values()), {}))]
    for reader, counts in TALLY.items():
        lines.append(f"{reader:14s} " + "  ".join(f"{v:20d}" for v in counts.values()))
    print("\n".join(lines))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"suite": "tests/test_fuzz_readers.py", "readers": dict(TALLY)}, indent=2) + "\n")


def edits(size: int):
    """1 to 8 (position, byte) replacements within ``size`` bytes."""
    return st.lists(st.tuples(st.integers(0, size - 1), st.integers(0, 255)), min_size=1, max_size=8)


def edited(data: bytes, changes) -> bytes:
    out = bytearray(data)
    for position, value in changes:
        out[position] = value
    return bytes(out)


# ------------------------------------------------------------------------- Zset
@pytest.fixture(scope="module")
def zset_run(tmp_path_factory):
    """A copy of the bundled run (hard links) and its data."""
    folder = tmp_path_factory.mktemp("zset")
    for item in (DATA / "zset" / "UtExample").iterdir():
        (folder / item.name).write_bytes(item.read_bytes())
    return folder, snapshot(io_adapters.read(folder / "cube.ut"))


def _put(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


GEOF = (DATA / "zset" / "multielements3D.geof").read_bytes()
UT = (DATA / "zset" / "UtExample" / "cube.ut").read_bytes()
GEO = (DATA / "zset" / "cube.geo").read_bytes()


@pytest.fixture(scope="module")
def meshes():
    return {"geof": snapshot(io_adapters.read(DATA / "zset" / "multielements3D.geof")),
            "geo": snapshot(io_adapters.read(DATA / "zset" / "cube.geo"))}


@settings(max_examples=150, **SETTINGS)
@given(changes=edits(len(GEOF)))
def test_geof_byte_edits(tmp_path, meshes, changes):
    outcome("geof edits", _put(tmp_path / "mesh.geof", edited(GEOF, changes)), meshes["geof"], may_differ=True)


@settings(max_examples=60, **SETTINGS)
@given(size=st.integers(0, len(GEOF) - 1))
def test_geof_truncations(tmp_path, meshes, size):
    text = GEOF[:size]
    outcome("geof truncated", _put(tmp_path / "mesh.geof", text), meshes["geof"],
            may_differ=False)


@settings(max_examples=60, **SETTINGS)
@given(line=st.integers(0, GEOF.count(b"\n") - 1), twice=st.booleans())
def test_geof_lines_dropped_or_doubled(tmp_path, meshes, line, twice):
    lines = GEOF.split(b"\n")
    lines[line:line + 1] = [lines[line]] * 2 if twice else []
    outcome("geof lines", _put(tmp_path / "mesh.geof", b"\n".join(lines)), meshes["geof"], may_differ=True)


@settings(max_examples=120, **SETTINGS)
@given(changes=edits(len(GEO)))
def test_geo_byte_edits(tmp_path, meshes, changes):
    outcome("geo edits", _put(tmp_path / "mesh.geo", edited(GEO, changes)), meshes["geo"], may_differ=True)


@settings(max_examples=60, **SETTINGS)
@given(size=st.integers(0, len(GEO) - 1))
def test_geo_truncations(tmp_path, meshes, size):
    outcome("geo truncated", _put(tmp_path / "mesh.geo", GEO[:size]), meshes["geo"], may_differ=False)


@settings(max_examples=100, **SETTINGS)
@given(changes=edits(len(UT)))
def test_ut_byte_edits(zset_run, changes):
    folder, reference = zset_run
    try:
        outcome("ut edits", _put(folder / "cube.ut", edited(UT, changes)), reference, may_differ=True)
    finally:
        _put(folder / "cube.ut", UT)


@settings(max_examples=60, **SETTINGS)
@given(size=st.integers(0, len(UT) - 1))
def test_ut_truncations(zset_run, size):
    folder, reference = zset_run
    try:
        outcome("ut truncated", _put(folder / "cube.ut", UT[:size]), reference, may_differ=False)
    finally:
        _put(folder / "cube.ut", UT)


@settings(max_examples=60, **SETTINGS)
@given(suffix=st.sampled_from([".node", ".integ", ".ctnod"]), size=st.integers(0, 2_000_000))
def test_result_file_sizes(zset_run, suffix, size):
    """A result file of another size than the .ut and the mesh imply is always refused."""
    folder, reference = zset_run
    original = (DATA / "zset" / "UtExample" / f"cube{suffix}").read_bytes()
    assume(size != len(original))
    try:
        grown = (original * (size // max(len(original), 1) + 1))[:size]
        outcome("result sizes", _put(folder / f"cube{suffix}", grown), reference, may_differ=False)
    finally:
        _put(folder / f"cube{suffix}", original)


# ------------------------------------------------------------------------ store
@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A store (bytes), its data, and where its arrays' values lie in the file."""
    from io_adapters.store import write

    folder = tmp_path_factory.mktemp("store")
    path = write(simulation(), folder / "run.h5")
    data = path.read_bytes()
    spans = []
    with h5py.File(path, "r") as f:
        def collect(name, item):
            if isinstance(item, h5py.Dataset) and not name.startswith("xdmf") and item.size:
                if item.chunks is None:
                    spans.append((item.id.get_offset(), item.id.get_storage_size()))
                else:
                    for k in range(item.id.get_num_chunks()):
                        info = item.id.get_chunk_info(k)
                        spans.append((info.byte_offset, info.size))
        f.visititems(collect)
    return data, snapshot(io_adapters.read(path)), [s for s in spans if s[0] is not None]


@settings(max_examples=150, **SETTINGS)
@given(data=st.data())
def test_store_byte_edits(tmp_path, store, data):
    raw, reference, _ = store
    changes = data.draw(edits(len(raw)))
    outcome("store edits", _put(tmp_path / "run.h5", edited(raw, changes)), reference, may_differ=False)


@settings(max_examples=60, **SETTINGS)
@given(size=st.integers(0, 40_000))
def test_store_truncations(tmp_path, store, size):
    raw, reference, _ = store
    assume(size < len(raw))
    outcome("store truncated", _put(tmp_path / "run.h5", raw[:size]), reference, may_differ=False)


@settings(max_examples=100, **SETTINGS)
@given(data=st.data())
def test_store_array_edits_are_always_refused(tmp_path, store, data):
    """An edit inside the values of any array (mesh, sets, times, fields) is refused, every time."""
    raw, _, spans = store
    offset, size = data.draw(st.sampled_from(spans))
    position = data.draw(st.integers(offset, offset + size - 1))
    value = data.draw(st.integers(0, 255).filter(lambda v: v != raw[position]))
    path = _put(tmp_path / "run.h5", edited(raw, [(position, value)]))
    TALLY["store arrays"]["tried"] += 1
    with pytest.raises(NiromError):
        snapshot(io_adapters.read(path))
    TALLY["store arrays"]["refused (NiromError)"] += 1
