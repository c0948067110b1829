"""Reading TOML input files (problems, offline and online configurations).

Whatever the file holds, :func:`read_toml` returns its tables or raises ONE
:class:`ConfigError` naming the file and what is wrong: missing, a directory, a
dangling or looping symbolic link, unreadable, larger than :data:`MAX_BYTES`, not
UTF-8 (the line and byte), not TOML (tomllib's line and column), keys dotted or
nested deeper than :data:`MAX_DEPTH` (tomllib's time and memory grow faster than
linearly with a key's depth: a 200 kB file of one 100 000-part dotted key would
exhaust the memory).
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

from io_adapters.errors import ConfigError

#: Largest input file read (input files are small; bulk data goes in data files).
MAX_BYTES = 64 * 2**20
#: Deepest key accepted: parts of a dotted key or table header, or nested arrays and tables.
MAX_DEPTH = 100

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'')


def read_toml(path: str | os.PathLike, what: str = "file") -> dict:
    """The tables of a TOML file; ConfigError naming the file when it is missing or invalid.

    Parameters
    ----------
    path : path
    what : str
        What the file is, for the message (``"configuration file"``, ``"case file"``…).
    """
    path = Path(path)
    try:
        if path.is_dir():
            raise ConfigError(f"{path}: is a directory, not a {what}")
        if not path.is_file():
            if path.is_symlink():
                raise ConfigError(f"{path}: a symbolic link to nothing (or in a loop), not a {what}")
            raise ConfigError(f"{path}: no such {what}")
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ConfigError(f"{path}: {size} bytes, more than the {MAX_BYTES} a {what} may hold (put bulk "
                              "values in data files)")
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}: not UTF-8 text (byte {raw[exc.start]:#04x} on line {line}); a TOML {what} "
                          "must be UTF-8") from None
    _check_depth(text, path)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    except (RecursionError, MemoryError):
        raise ConfigError(f"{path}: arrays or tables nested too deeply (at most {MAX_DEPTH} levels)") from None


def _check_depth(text: str, path: Path) -> None:
    """Refuse keys of more than MAX_DEPTH parts before tomllib sees them.

    The key of a line is what comes before its first ``=`` (or a ``[table]`` header),
    strings removed; its parts are counted by its dots. Values are not looked at
    (numbers hold dots too); nested arrays and inline tables are bounded by the
    recursion limit, caught as RecursionError.
    """
    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("["):
            key = stripped.split("#", 1)[0]
        elif "=" in stripped:
            key = stripped.split("=", 1)[0]
        else:
            continue
        parts = _STRING.sub("s", key).count(".") + 1
        if parts > MAX_DEPTH:
            raise ConfigError(f"{path} line {lineno}: a key of {parts} dotted parts (at most {MAX_DEPTH})")


def path_exists(path: str | os.PathLike) -> bool:
    """``Path(path).exists()``, False (not an exception) for a name the system refuses
    (too long, a loop of symbolic links …)."""
    try:
        return Path(path).exists()
    except (OSError, ValueError):
        return False


def path_is_file(path: str | os.PathLike) -> bool:
    """``Path(path).is_file()``, False (not an exception) for a name the system refuses."""
    try:
        return Path(path).is_file()
    except (OSError, ValueError):
        return False
