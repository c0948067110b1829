"""The ``.ut`` index of a Zset run (ZSET_FORMAT.md §2.1).

::

    **meshfile cube.geof            (the path may be on the next line)
    **node U1 U2 U3 RU1 RU2 RU3
    **integ eto11 ... sig31 evrcum
    **element
    1 1 1 0 0.000000000000000e+00   record, cycle, sequence, increment, time
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from io_adapters.errors import InputError
from io_adapters.formats import read_text_file

log = logging.getLogger(__name__)

_KEYWORD = re.compile(r"^\*\*(\w+)\s*(.*)$")


@dataclass(frozen=True, eq=False)
class UtIndex:
    """What a ``.ut`` file says.

    Attributes
    ----------
    path : Path
    mesh_path : Path
        The mesh file, resolved against the ``.ut``'s folder.
    node_variables : tuple[str, ...]
        ``**node`` variables in file order (``.node``).
    integ_variables : tuple[str, ...]
        ``**integ`` variables in file order (``.integ`` and ``.ctnod``).
    records : (n_records, 4) int array
        Record number (1-based), cycle, sequence, increment.
    times : (n_records,) float array
        Strictly increasing.
    """

    path: Path
    mesh_path: Path
    node_variables: tuple[str, ...]
    integ_variables: tuple[str, ...]
    records: np.ndarray
    times: np.ndarray

    @property
    def n_records(self) -> int:
        return len(self.times)

    def binary(self, suffix: str) -> Path:
        """The result file beside the ``.ut`` with this suffix (``.node``, ``.integ``, ``.ctnod``)."""
        return self.path.with_suffix(suffix)


def read_ut(path: str | os.PathLike) -> UtIndex:
    """Parse a ``.ut`` file.

    Raises
    ------
    InputError
        Unreadable lines, missing ``**meshfile``, record numbers that are not
        1, 2, 3..., or times that do not increase strictly (naming the line);
        a file that ends in the middle of a line (Zset ends every line, so the
        file was cut: its last time could read ``2.0`` for ``2.0e-01``).
    """
    path, text = read_text_file(path, "a Zset .ut file", nul="a .ut file is text (is this a binary file, "
                                "or was it overwritten by zeros?)")
    lines = text.splitlines()
    if text and not text.endswith(("\n", "\r")):
        raise InputError(
            f"{path}, line {len(lines)}: the file ends in the middle of this line ({lines[-1].strip()[:60]!r}): "
            "it was cut (Zset ends every line with a newline), so its last record cannot be trusted"
        )
    lists: dict[str, list[str]] = {}
    current = None
    record_lines: list[tuple[int, list[str]]] = []
    for number, raw in enumerate(lines, start=1):
        line = raw.split("%", 1)[0].strip()
        if not line:
            continue
        keyword = _KEYWORD.match(line)
        if keyword:
            current = keyword.group(1)
            if current in lists:
                raise InputError(f"{path}, line {number}: **{current} appears twice")
            lists[current] = keyword.group(2).split()
            continue
        tokens = line.split()
        if current == "element" and len(tokens) == 5 and _numeric(tokens):
            record_lines.append((number, tokens))
        elif current == "element" and record_lines:
            raise InputError(f"{path}, line {number}: expected a record line "
                             f"'record cycle sequence increment time', found '{line}'")
        elif current is not None:
            if current in ("node", "integ"):
                number_like = next((t for t in tokens if _numeric([t])), None)
                if number_like is not None:
                    raise InputError(f"{path}, line {number}: **{current} lists {number_like!r}, a number, not a "
                                     "variable name (a record line before **element, or a damaged list?)")
            lists[current].extend(tokens)
        else:
            raise InputError(f"{path}, line {number}: text before the first **keyword: '{line}'")
    if not lists.get("meshfile"):
        raise InputError(f"{path}: no **meshfile line naming the mesh (is this a Zset .ut file?)")
    if len(lists["meshfile"]) != 1:
        raise InputError(f"{path}: **meshfile must name one file, found {lists['meshfile']}")
    if lists.get("element"):
        log.warning("%s: element variables %s are not supported and are ignored", path, lists["element"])
    for key in lists:
        if key not in ("meshfile", "node", "integ", "element"):
            log.debug("%s: skipping **%s", path, key)

    numbers = np.array([[float(t) for t in tokens] for _, tokens in record_lines]).reshape(-1, 5)
    line_numbers = [n for n, _ in record_lines]
    counters = numbers[:, :4]
    odd = np.flatnonzero(~np.all(np.isfinite(counters) & (counters == np.round(counters)) & (counters >= 0)
                                 & (counters < 2**53), axis=1))
    if len(odd):
        k = int(odd[0])
        raise InputError(f"{path}, line {line_numbers[k]}: record, cycle, sequence and increment must be "
                         f"non-negative integers, found {' '.join(record_lines[k][1][:4])}")
    records = counters.astype(np.int64)
    expected = np.arange(1, len(records) + 1)
    wrong = np.flatnonzero(records[:, 0] != expected)
    if len(wrong):
        k = int(wrong[0])
        raise InputError(f"{path}, line {line_numbers[k]}: record number {records[k, 0]}, expected {k + 1} "
                         "(records must be numbered 1, 2, 3...)")
    times = numbers[:, 4]
    back = np.flatnonzero(np.diff(times) <= 0)
    if len(back):
        k = int(back[0]) + 1
        raise InputError(
            f"{path}, line {line_numbers[k]}: time {times[k]!r} of record {k + 1} does not increase "
            f"(record {k} has time {times[k - 1]!r}); times must increase strictly"
        )
    if not np.all(np.isfinite(times)):
        k = int(np.flatnonzero(~np.isfinite(times))[0])
        raise InputError(f"{path}, line {line_numbers[k]}: time {times[k]} is not finite")
    mesh_path = Path(lists["meshfile"][0])
    if not mesh_path.is_absolute():
        mesh_path = path.parent / mesh_path
    return UtIndex(
        path=path,
        mesh_path=mesh_path,
        node_variables=tuple(lists.get("node", ())),
        integ_variables=tuple(lists.get("integ", ())),
        records=records,
        times=times,
    )


def _numeric(tokens: list[str]) -> bool:
    try:
        [float(t) for t in tokens]
        return True
    except ValueError:
        return False
