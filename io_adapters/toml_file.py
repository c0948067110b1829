"""Reading TOML input files (problems, offline and online configurations)."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from io_adapters.errors import ConfigError


def read_toml(path: str | os.PathLike, what: str = "file") -> dict:
    """The tables of a TOML file; ConfigError naming the file when it is missing or invalid.

    Parameters
    ----------
    path : path
    what : str
        What the file is, for the message (``"configuration file"``, ``"case file"``…).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such {what}")
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
