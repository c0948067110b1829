"""Typed settings: one frozen dataclass per TOML table, checked by one helper.

Each table of an input file (``[pod.<name>]``, ``[ecm]``, ``[indicator]`` of the
offline configuration; ``[indicator]``, ``[adaptive]``, ``[solver]`` of an online
case) is a frozen dataclass below; its defaults live on its fields and nowhere else.

One checker, :func:`settings_from`, turns a table (a TOML table or a dict a Python
caller wrote) into a dataclass. It reports

- unknown keys, listing the known ones;
- values of the wrong type, with their key path (``[ecm] seed must be an integer,
  found 'x'``). The types come from the dataclass fields: a TOML ``true`` is a bool,
  not an integer; an integer is accepted where a number is expected; a string is
  refused where ``true`` or ``false`` is expected;
- values out of range (the field's ``check``) and inconsistent combinations;

and collects every problem in the caller's list, so that the caller raises ONE
:class:`ConfigError` naming them all (:func:`problems_error`). Constructing a
dataclass in Python runs the same checks (``EcmSettings(tol=-1)`` raises
``ConfigError: EcmSettings.tol must be in (0, 1), found -1``), and
``EcmSettings.from_table({"tol": -1})`` gives the same message.

``to_dict()`` gives the JSON-able table (fields at ``None`` left out, as a TOML table
would), which :func:`settings_from` reads back.

Example::

    errors: list[str] = []
    ecm = settings_from(EcmSettings, data.get("ecm", {}), where="[ecm]", errors=errors)
    if errors:
        raise problems_error(errors, source=path)
"""

from __future__ import annotations

import dataclasses
import functools
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from io_adapters.errors import ConfigError

__all__ = ["AdaptiveSettings", "EcmSettings", "INVALID", "IndicatorSettings", "PodSettings", "Settings",
           "SolverSettings", "convert", "option", "plain", "problems_error", "settings_from"]


class _Invalid:
    """The marker :func:`convert` returns for a refused value (its problem already reported)."""

    def __repr__(self) -> str:
        return "INVALID"


#: What :func:`convert` returns for a value it refused (the problem is in ``errors``).
INVALID = _Invalid()


# ================================================================ field options
def option(default=dataclasses.MISSING, *, default_factory=dataclasses.MISSING, check=None,
           describe: str | None = None, what: str | None = None, key: bool = True):
    """A dataclass field with what the checker needs beside its type.

    Parameters
    ----------
    default, default_factory
        As for :func:`dataclasses.field`; neither: the key is required.
    check : callable, optional
        ``check(value) -> str | None``: the problem of a well-typed value (``"must be
        in (0, 1)"``), or None. Not called on None.
    describe : str, optional
        What the value must be, in place of the phrase derived from the type.
    what : str, optional
        What a required key is, for the message when it is missing.
    key : bool
        False for a field that is not a key of the table (set by the caller, e.g. the
        file a case was read from).
    """
    metadata = {"check": check, "describe": describe, "what": what, "key": key}
    return field(default=default, default_factory=default_factory, metadata=metadata)


def _open_unit(value) -> str | None:
    return None if 0 < value < 1 else "must be in (0, 1)"


def _unit_from_zero(value) -> str | None:
    return None if 0 <= value < 1 else "must be in [0, 1)"


def _positive(value) -> str | None:
    return None if value > 0 else "must be positive"


def _non_negative(value) -> str | None:
    return None if value >= 0 else "must be non-negative"


def _positive_integer(value) -> str | None:
    return None if value >= 1 else "must be a positive integer"


def _name(value) -> str | None:
    return None if value.strip() else "must be a non-empty name"


def _names(value) -> str | None:
    names = [value] if isinstance(value, str) else list(value)
    return None if all(n.strip() for n in names) else "must hold non-empty names"


_HF_STEP = '"in-house" or { command = "..." }'


def _hf_step(value) -> str | None:
    command = value.get("command") if isinstance(value, dict) else None
    ok = value == "in-house" or (isinstance(value, dict) and set(value) == {"command"}
                                 and isinstance(command, str) and command.strip() != "")
    return None if ok else f"must be {_HF_STEP}"


# ================================================================ the base class
class Settings:
    """Base of the settings dataclasses: checked construction, ``to_dict``, mapping-style reads.

    Subclasses are ``@dataclass(frozen=True)``; their fields' types (and
    :func:`option` metadata) are the schema. ``__post_init__`` runs the checks of
    :func:`settings_from` on the given values and stores them converted (an integer
    where a number is expected becomes a float, a list of names a tuple, a string
    path a ``Path``).
    """

    __iter__ = None           # not a mapping: ``for key in settings`` is an error, not KeyError(0)

    def __post_init__(self):
        errors: list[str] = []
        cls = type(self)
        values = _check_fields(cls, {f.name: getattr(self, f.name) for f in dataclasses.fields(cls)},
                               where=cls.__name__, errors=errors, base_dir=None)
        if errors:
            raise problems_error(errors)
        for name, value in values.items():
            object.__setattr__(self, name, value)

    @classmethod
    def _consistency(cls, values: dict) -> list[str]:
        """Problems of the combination of (well-typed) values; none by default."""
        return []

    @classmethod
    def from_table(cls, table, *, where: str | None = None, base_dir: Path | None = None, **given):
        """The settings of a table (TOML table or dict); every problem in one ConfigError.

        Parameters
        ----------
        table : dict
        where : str, optional
            Key path of the table in messages (``"[ecm]"``); the class name when omitted,
            so that the messages match those of the constructor.
        base_dir : path, optional
            Folder of relative paths (the input file's); the current folder when omitted.
        **given
            Fields that are not table keys (``option(key=False)``).
        """
        errors: list[str] = []
        out = settings_from(cls, table, where=cls.__name__ if where is None else where, errors=errors,
                            base_dir=base_dir, **given)
        if errors:
            raise problems_error(errors)
        return out

    #: Same as :meth:`from_table` (a dict read back from a model file, say).
    from_mapping = from_table

    def to_dict(self) -> dict:
        """The JSON-able table: its keys (not the ``option(key=False)`` fields), paths as
        strings, tuples as lists, fields at None left out (TOML has no null)."""
        return {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)
                if getattr(self, f.name) is not None and f.metadata.get("key", True)}

    as_dict = to_dict

    # Transition aid: consumers written for the former plain dicts (``config.ecm["tol"]``,
    # ``options.get("n_modes")``) keep working; new code reads the attributes.
    def __getitem__(self, key: str):
        """The value of field ``key`` (transition aid for code written for plain dicts)."""
        if key not in _field_names(type(self)):
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default=None):
        """The value of field ``key``, ``default`` when it is None or not a field (as ``to_dict().get``).

        Transition aid for code written for plain dicts.
        """
        value = getattr(self, key) if key in _field_names(type(self)) else None
        return default if value is None else value


@functools.cache
def _field_names(cls) -> frozenset:
    return frozenset(f.name for f in dataclasses.fields(cls))


@functools.cache
def _hints(cls) -> dict:
    return typing.get_type_hints(cls)


# ================================================================ the tables
@dataclass(frozen=True)
class PodSettings(Settings):
    """Truncation of one POD basis (``[pod.U]``, ``[pod.<dual>]`` of the offline configuration).

    Exactly one of the two keys.

    Parameters
    ----------
    tol : float, optional
        Bound on the relative projection error of the snapshots (dimensionless, in
        (0, 1)): the kept modes carry all but ``tol²`` of the snapshots' energy.
    n_modes : int, optional
        Number of modes kept (≥ 1).
    """

    tol: float | None = option(None, check=_open_unit)
    n_modes: int | None = option(None, check=_positive_integer)

    @classmethod
    def _consistency(cls, values: dict) -> list[str]:
        if (values.get("tol") is None) == (values.get("n_modes") is None):
            return ["needs exactly one of 'tol' and 'n_modes'"]
        return []


@dataclass(frozen=True)
class EcmSettings(Settings):
    """Empirical cubature (``[ecm]`` of the offline configuration; also the enrichment's).

    Parameters
    ----------
    tol : float
        Relative integration error of the reduced internal forces, in (0, 1):
        ``‖G w − G_S w_S‖ ≤ tol ‖G w‖`` for the integrands ``G`` (see :func:`rom.ecm.ecm`).
        Default 1e-5.
    seed : int
        Seed (≥ 0) of the generator that breaks ties between equally good points; the
        rule is a deterministic function of the data and the seed. Default 0.
    stress_tol : float
        Relative truncation, in [0, 1), of the POD that compresses the stress
        snapshots before the integrands are formed (0 keeps their numerical rank; see
        :func:`rom.ecm.ecm_integrands`). Default 1e-8.
    """

    tol: float = option(1e-5, check=_open_unit)
    seed: int = option(0, check=_non_negative)
    stress_tol: float = option(1e-8, check=_unit_from_zero)


@dataclass(frozen=True)
class IndicatorSettings(Settings):
    """The error indicator (``[indicator]`` of the offline configuration and of a case).

    Parameters
    ----------
    field : str, optional
        Dual quantity whose Gappy-POD fit residual at the reduced points is the
        indicator (it needs a ``[pod.<field>]`` basis). Default: the model's, else its
        first dual quantity.
    tol : float
        Indicator level (dimensionless, relative fit residual; ≥ 0, 0 enriching at any
        nonzero residual) above which the online solve enriches the model when
        adaptivity is on. Default 1e-3.
    """

    field: str | None = option(None, check=_name)
    tol: float = option(1e-3, check=_non_negative)


@dataclass(frozen=True)
class SolverSettings(Settings):
    """The online reduced Newton (``[solver]`` of a case); same meaning as the HF solver's.

    An iterate is converged when ``‖r‖ ≤ rtol · F_ref + atol`` (``r`` the reduced
    residual, ``F_ref`` the force scale of that iterate) and its last correction is
    below ``rtol`` times the step's increment (see :mod:`rom.convergence`).

    Parameters
    ----------
    rtol : float
        Convergence ratio (> 0, dimensionless; a Zset deck's ``*ratio``). Default 1e-8.
    atol : float
        Absolute floor of the residual norm (≥ 0), in the model's force units.
        Default 1e-14.
    max_iterations : int
        Newton iterations per attempt of a step (≥ 1). Default 25.
    max_cuts : int
        Times a failing step may be halved (≥ 0; ``2**max_cuts`` substeps at most).
        Default 6.
    """

    rtol: float = option(1e-8, check=_positive)
    atol: float = option(1e-14, check=_non_negative)
    max_iterations: int = option(25, check=_positive_integer)
    max_cuts: int = option(6, check=_non_negative)


@dataclass(frozen=True)
class AdaptiveSettings(Settings):
    """Enrichment of the model during an online solve (``[adaptive]`` of a case).

    Parameters
    ----------
    enabled : bool
        Enrich at all (TOML ``true``/``false``; a string is refused). Default false.
    tol : float, optional
        Indicator (or watched fit residual) level above which a step is enriched (≥ 0).
        Default: the case's ``[indicator] tol``, else the model's, else
        ``IndicatorSettings().tol``.
    max_enrichments : int
        Enrichments allowed per solve (≥ 0). Default 10.
    pod_tol : float
        Relative truncation of the incremental POD updates, in (0, 1). Default 1e-10.
    ecm_tol : float, optional
        Tolerance of the re-run ECM, in (0, 1). Default: the model's ``[ecm] tol``.
    watch : str or tuple of str
        Dual quantities whose Gappy-POD fit residual also triggers an enrichment
        (against the same ``tol``); ``"auto"``: ``sig`` when the model has a basis of
        it. Default ``"auto"``.
    hf_step : "in-house" or dict
        The high-fidelity step: nirom's own solver (``"in-house"``, default), or an
        external command ``{ command = "my_solver {state} {result} {t_new}" }``.
    save_model : Path, optional
        Where to save the enriched model (relative to the case file).
    """

    enabled: bool = option(False)
    tol: float | None = option(None, check=_non_negative)
    max_enrichments: int = option(10, check=_non_negative)
    pod_tol: float = option(1e-10, check=_open_unit)
    ecm_tol: float | None = option(None, check=_open_unit)
    watch: str | tuple[str, ...] = option("auto", check=_names)
    hf_step: str | dict = option("in-house", check=_hf_step, describe=_HF_STEP)
    save_model: Path | None = option(None)


# ================================================================ the checker
def settings_from(cls, table, *, where: str, errors: list[str], base_dir: Path | None = None, **given):
    """Check a table against a settings dataclass; every problem appended to ``errors``.

    Parameters
    ----------
    cls : type
        A :class:`Settings` dataclass.
    table : dict or cls
        The keys as written (TOML table or dict); an instance of ``cls`` is returned as is.
    where : str
        Key path of the table in the messages: ``"[ecm]"``, ``"[pod.U]"``, ``""`` for the
        top level of a file, a class name for Python callers.
    errors : list of str
        Every problem found is appended (unknown keys, missing keys, wrong types, values
        out of range, inconsistent combinations).
    base_dir : path, optional
        Folder of relative paths (the input file's).
    **given
        Fields that are not table keys (``option(key=False)``), e.g. the source file.

    Returns
    -------
    cls or None
        None when this table has a problem (then listed in ``errors``).
    """
    if isinstance(table, cls):
        return table
    if not isinstance(table, dict):
        errors.append(f"{where or 'the file'} must be a table, found {table!r}")
        return None
    before = len(errors)
    keys = [f for f in dataclasses.fields(cls) if f.metadata.get("key", True)]
    known = sorted(f.name for f in keys)
    in_where = f" in {where}" if where else ""
    errors.extend(f"unknown key '{k}'{in_where} (known: {', '.join(known)})" for k in table if k not in known)
    for f in keys:
        if f.name not in table and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            what = f.metadata.get("what")
            errors.append(f"{_key_path(where, f.name)}{f' ({what})' if what else ''} is required")
    values = _check_fields(cls, {k: v for k, v in table.items() if k in known}, where=where, errors=errors,
                           base_dir=base_dir)
    if len(errors) > before:
        return None
    return cls(**values, **given)


def _check_fields(cls, values: dict, *, where: str, errors: list[str], base_dir) -> dict:
    """The given fields of ``cls`` converted; their problems appended to ``errors``."""
    hints = _hints(cls)
    before = len(errors)
    out = {}
    for f in dataclasses.fields(cls):
        if f.name in values:
            value = convert(values[f.name], hints[f.name], key=f.name, where=where, errors=errors,
                            base_dir=base_dir, check=f.metadata.get("check"), describe=f.metadata.get("describe"))
            if value is not INVALID:
                out[f.name] = value
    if len(errors) == before:
        merged = {f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING}
        merged.update(out)
        errors.extend(f"{where} {problem}" if where else problem for problem in cls._consistency(merged))
    return out


def convert(value, hint, *, key: str, where: str = "", errors: list[str], base_dir: Path | None = None,
            check=None, describe: str | None = None):
    """One value checked against a type (as written in a dataclass field) and converted.

    Parameters
    ----------
    value
        As written in the file or dict.
    hint : type
        ``bool``, ``int``, ``float``, ``str``, ``Path``, ``dict``, ``tuple[X, ...]``,
        a :class:`Settings` dataclass (a nested table), ``dict[str, <Settings>]`` (a table
        of tables, e.g. ``[pod.*]``), or a union of these with ``None``.
    key, where : str
        The key and the key path of its table, for the messages.
    errors : list of str
        Where the problem is appended.
    base_dir : path, optional
        Folder of relative paths.
    check : callable, optional
        ``check(value) -> str | None`` on the converted value (see :func:`option`).
    describe : str, optional
        What the value must be, in place of the phrase derived from ``hint``.

    Returns
    -------
    The converted value, or :data:`INVALID` (the problem then in ``errors``).
    """
    out = _coerce(value, hint, table=_child(where, key), errors=errors, base_dir=base_dir)
    if out is _REPORTED:
        return INVALID
    name = _child(where, key) if _is_table(hint) else _key_path(where, key)
    if out is INVALID:
        errors.append(f"{name} must be {describe or _describe(hint)}, found {value!r}")
        return INVALID
    if check is not None and out is not None:
        problem = check(out)
        if problem:
            errors.append(f"{name} {problem}, found {value!r}")
            return INVALID
    return out


_REPORTED = _Invalid()       # a nested table whose problems are already in ``errors``


def _coerce(value, hint, *, table: str, errors: list[str], base_dir):
    """``value`` as ``hint``, INVALID if it is not one, _REPORTED for a nested table with problems."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        for member in args:
            out = _coerce(value, member, table=table, errors=errors, base_dir=base_dir)
            if out is not INVALID:
                return out
        return INVALID
    if hint is type(None):
        return None if value is None else INVALID
    if hint is bool:
        return bool(value) if isinstance(value, (bool, np.bool_)) else INVALID
    if hint is int:
        ok = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
        return int(value) if ok else INVALID
    if hint is float:
        ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
        return float(value) if ok else INVALID
    if hint is str:
        return str(value) if isinstance(value, str) else INVALID
    if hint is Path:
        if not isinstance(value, (str, os.PathLike)) or not isinstance(os.fspath(value), str) or not os.fspath(value):
            return INVALID
        path = Path(value)
        return path if path.is_absolute() or base_dir is None else Path(base_dir) / path
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            return INVALID
        items = [_coerce(v, args[0], table=table, errors=errors, base_dir=base_dir) for v in value]
        return INVALID if any(item is INVALID for item in items) else tuple(items)
    if hint is dict or origin is dict:
        if not isinstance(value, dict):
            return INVALID
        if not args:
            return dict(value)
        out, reported = {}, False
        for name, item in value.items():
            child = _child(table, str(name))
            converted = _coerce(item, args[1], table=child, errors=errors, base_dir=base_dir)
            if converted is INVALID:
                errors.append(f"{child} must be {_describe(args[1])}, found {item!r}")
            if converted is INVALID or converted is _REPORTED:
                reported = True
            else:
                out[str(name)] = converted
        return _REPORTED if reported else out
    if isinstance(hint, type) and issubclass(hint, Settings):
        if isinstance(value, hint):
            return value
        if not isinstance(value, dict):
            return INVALID
        out = settings_from(hint, value, where=table, errors=errors, base_dir=base_dir)
        return _REPORTED if out is None else out
    raise TypeError(f"rom.settings: unsupported field type {hint!r}")


def _is_table(hint) -> bool:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(_is_table(m) for m in typing.get_args(hint))
    return (isinstance(hint, type) and issubclass(hint, Settings)) or typing.get_origin(hint) is dict


_PHRASES = {bool: "true or false", int: "an integer", float: "a number", str: "a string", Path: "a path",
            dict: "a table"}
_PLURALS = {bool: "booleans", int: "integers", float: "numbers", str: "strings", Path: "paths"}


def _describe(hint) -> str:
    """What a value of ``hint`` is, for the messages (``"an integer"``, ``"a list of strings"``)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        phrases = [_describe(m) for m in args if m is not type(None)]
        return " or ".join(dict.fromkeys(phrases))
    if origin is tuple:
        return f"a list of {_PLURALS.get(args[0], 'values')}"
    if origin is dict:
        return "a table of tables"
    if isinstance(hint, type) and issubclass(hint, Settings):
        return "a table"
    return _PHRASES.get(hint, getattr(hint, "__name__", str(hint)))


def _key_path(where: str, key: str) -> str:
    """``'key'`` at the top level, ``[table] key`` in a table, ``Class.key`` for Python callers."""
    if not where:
        return f"'{key}'"
    return f"{where} {key}" if where.endswith("]") else f"{where}.{key}"


def _child(where: str, key: str) -> str:
    """The key path of a nested table: ``[key]``, ``[table.key]``, ``Class.key``."""
    if not where:
        return f"[{key}]"
    return f"{where[:-1]}.{key}]" if where.endswith("]") else f"{where}.{key}"


# ================================================================ helpers
def problems_error(errors: list[str], source=None) -> ConfigError:
    """One ConfigError listing every problem (``source:`` first when given)."""
    head = f"{source}: " if source is not None else ""
    body = errors[0] if len(errors) == 1 else f"{len(errors)} problems:\n  - " + "\n  - ".join(errors)
    return ConfigError(head + body)


def plain(value):
    """``value`` with settings as dicts, paths as strings, tuples as lists (JSON-able if its leaves are)."""
    if isinstance(value, Settings):
        return value.to_dict()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, np.generic):
        return value.item()
    return value
