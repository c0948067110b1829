"""Z-mat material files read into nirom material spec dicts.

>>> from io_adapters.zset.material_file import read_material
>>> spec = read_material("steel.mat")      # {"behavior": "gen_evp", "elasticity": {...}, ...}

The spec schema is described in :mod:`io_adapters.problem`.

Supported subset (``ZSET_FORMAT.md`` §7)
-----------------------------------------
- ``***material`` with ``*integration theta_method_a θ tol maxit`` →
  ``{"theta": θ, "tol": tol, "max_iterations": maxit}``, or
  ``*integration runge_kutta tol …`` → ``{"method": "runge_kutta", "theta": 1.0,
  "tol": tol}``: nirom's laws integrate implicitly, so the explicit scheme is
  recorded but an implicit (θ = 1) update is what runs. Optional (linear elastic
  files have no ``***material`` header).
- ``***behavior linear_elastic`` and ``***behavior gen_evp`` with
  ``**coefficient masvol`` → ``density``; ``**elasticity [isotropic]`` ``young``,
  ``poisson``; ``**thermal_strain [isotropic]`` ``alpha``, ``ref_temperature``;
  and (gen_evp) one ``**potential gen_evp [NAME]`` (name ``ev`` by default) with
  ``*criterion mises``, ``*flow norton`` (K, n) or ``*flow plasticity``,
  ``*kinematic nonlinear`` (C, D) or ``*kinematic linear`` (C), and one of
  ``*isotropic constant`` (R0), ``linear`` (R0, H), ``nonlinear`` (R0, Q, b).
- Coefficients are ``name value`` or ``name temperature`` followed by lines
  ``value T`` (value first), which become ``{"temperature": [...], "value": [...]}``.
- ``***return`` / ``****return`` end the file.

Mapping choices
---------------
- ``*flow norton`` → ``behavior "gen_evp"`` with ``potential = {"name", "criterion",
  "flow": {"type": "norton", "K", "n"}, "kinematic": [{"type": "nonlinear", "C", "D"}],
  "isotropic": {"type": "constant"|"linear"|"nonlinear", "R0", …}}``.
- ``*flow plasticity`` (rate-independent) → ``behavior "j2_plasticity"`` with
  ``yield_stress = R0``, ``isotropic = {"type": "constant"}``, ``{"type": "linear",
  "H"}`` or ``{"type": "nonlinear", "Q", "b"}``, and ``kinematic`` items
  ``{"type": "armstrong_frederick", "C", "D"}`` (from ``*kinematic nonlinear``) or
  ``{"type": "linear", "C"}``; the potential's name is dropped.
- A ``gen_evp`` behaviour without potential is elastic → ``"linear_elastic"``.

Anything else (other behaviours such as ``thermal`` or crystal plasticity,
anisotropic elasticity, other flows, criteria, several potentials, coefficients
given by functions) is refused with a ConfigError naming it and the file.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from io_adapters.errors import ConfigError
from io_adapters.zset.deck import Block, Line, as_int, as_number, is_number, number, parse_blocks, unsupported

SUPPORTED_BEHAVIORS = ("gen_evp", "linear_elastic")


def read_material(path: str | os.PathLike) -> dict:
    """Read a Z-mat material file.

    Parameters
    ----------
    path : path

    Returns
    -------
    dict
        A material spec (schema in :mod:`io_adapters.problem`).

    Raises
    ------
    ConfigError
        For an unsupported behaviour or keyword, or a missing coefficient,
        naming it and the file (and line).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"material file {path} not found")
    root = parse_blocks(path)
    if root.data:
        raise ConfigError(f"{root.data[0].where}: unexpected '{' '.join(root.data[0].tokens)}' outside any command")
    integration = None
    behaviors = []
    for block in root.children:
        if block.level == 3 and block.keyword == "material":
            integration = _material_block(block)
        elif block.level == 3 and block.keyword == "behavior":
            behaviors.append(block)
        else:
            raise unsupported(block)
    if not behaviors:
        raise ConfigError(f"{path}: no ***behavior in the material file")
    if len(behaviors) > 1:
        raise ConfigError(f"{behaviors[1].where}: a second ***behavior (one per material file is supported)")
    behavior = behaviors[0]
    name = behavior.args[0] if behavior.args else ""
    if name not in SUPPORTED_BEHAVIORS:
        raise ConfigError(f"unsupported behaviour '{name}' in {path} (line {behavior.line.lineno}); "
                          f"supported: {', '.join(SUPPORTED_BEHAVIORS)}")
    if len(behavior.args) > 1:
        raise ConfigError(f"{behavior.where}: unexpected '{' '.join(behavior.args[1:])}' after ***behavior {name}")
    spec = _behavior(behavior, name)
    if integration is not None:
        spec["integration"] = integration
    return spec


def parse_integration(args: list[str], where: str) -> dict:
    """The integration dict of ``*integration METHOD …`` arguments.

    ``theta_method_a θ [tol [maxit]]`` → ``{"theta", "tol", "max_iterations"}``;
    ``runge_kutta tol …`` → ``{"method": "runge_kutta", "theta": 1.0, "tol": tol}``
    (recorded; nirom integrates implicitly).
    """
    if not args:
        raise ConfigError(f"{where}: *integration needs a method (theta_method_a or runge_kutta)")
    method, rest = args[0], args[1:]
    if method == "theta_method_a":
        if not 1 <= len(rest) <= 3:
            raise ConfigError(f"{where}: expected '*integration theta_method_a theta [tol [max_iterations]]', "
                              f"found {' '.join(args)}")
        out = {"theta": as_number(rest[0], where, "theta")}
        if len(rest) > 1:
            out["tol"] = as_number(rest[1], where, "the tolerance")
        if len(rest) > 2:
            out["max_iterations"] = as_int(rest[2], where, "the maximum number of iterations")
        if not 0.0 <= out["theta"] <= 1.0:
            raise ConfigError(f"{where}: theta must be within [0, 1], found {out['theta']}")
        return out
    if method == "runge_kutta":
        if not rest:
            raise ConfigError(f"{where}: expected '*integration runge_kutta tol …'")
        return {"method": "runge_kutta", "theta": 1.0, "tol": as_number(rest[0], where, "the tolerance")}
    raise ConfigError(f"{where}: unsupported integration method '{method}' (supported: theta_method_a, "
                      "runge_kutta)")


# ------------------------------------------------------------------ internals
def _material_block(block: Block) -> dict | None:
    integration = None
    for child in block.children:
        if child.level == 1 and child.keyword == "integration":
            if child.data:
                raise ConfigError(f"{child.data[0].where}: unexpected data after *integration")
            integration = parse_integration(child.args, child.where)
        else:
            raise unsupported(child)
    if block.data or block.args:
        where = block.data[0].where if block.data else block.where
        raise ConfigError(f"{where}: unexpected data under ***material")
    return integration


def coefficients(lines: list[Line], where: str, known: set[str], required: set[str], what: str) -> dict:
    """``name value`` / ``name temperature`` + ``value T`` lines as a dict.

    Parameters
    ----------
    lines : list of Line
        The data lines of the command.
    where : str
        The command's location, for messages.
    known, required : set of str
        Coefficient names allowed and needed.
    what : str
        The command, for messages (``"**elasticity isotropic"``).
    """
    out: dict = {}
    i = 0
    while i < len(lines):
        line, tokens, j = lines[i], lines[i].tokens, 0
        while j < len(tokens):
            name = tokens[j]
            if is_number(name):
                raise ConfigError(f"{line.where}: expected a coefficient name of {what}, found the number {name}")
            if name not in known:
                raise ConfigError(f"{line.where}: unsupported coefficient '{name}' in {what} "
                                  f"(supported: {', '.join(sorted(known))})")
            if name in out:
                raise ConfigError(f"{line.where}: coefficient '{name}' of {what} is given twice")
            if j + 1 >= len(tokens):
                raise ConfigError(f"{line.where}: coefficient '{name}' of {what} has no value")
            value = tokens[j + 1]
            if value == "temperature":
                if j + 2 != len(tokens):
                    raise ConfigError(f"{line.where}: the table of '{name}' starts on the next line "
                                      "('value temperature' pairs)")
                pairs = []
                while i + 1 < len(lines) and len(lines[i + 1].tokens) == 2 and all(map(is_number, lines[i + 1].tokens)):
                    i += 1
                    pairs.append([number(t) for t in lines[i].tokens])
                if not pairs:
                    raise ConfigError(f"{line.where}: '{name} temperature' is followed by no 'value temperature' "
                                      "line")
                table = np.array(pairs)
                if np.any(np.diff(table[:, 1]) <= 0):
                    raise ConfigError(f"{line.where}: the temperatures of '{name}' must increase strictly, found "
                                      f"{table[:, 1].tolist()}")
                out[name] = {"temperature": table[:, 1].tolist(), "value": table[:, 0].tolist()}
                j = len(tokens)
            elif is_number(value):
                out[name] = number(value)
                j += 2
            else:
                raise ConfigError(f"{line.where}: coefficient '{name}' of {what}: unsupported value '{value}' "
                                  "(a number, or 'temperature' followed by 'value temperature' lines)")
        i += 1
    missing = sorted(required - set(out))
    if missing:
        raise ConfigError(f"{where}: {what} has no {' and no '.join(repr(m) for m in missing)} "
                          "(required coefficient)")
    return out


def _inline(block: Block, skip: int) -> list[Line]:
    """The command's arguments after the first ``skip`` as a data line (coefficients on the command line)."""
    if len(block.args) <= skip:
        return []
    return [Line(block.args[skip:], "", block.line.path, block.line.lineno, block.line.index)]


def _isotropic_type(block: Block, allowed: tuple[str, ...] = ("isotropic",)) -> None:
    if block.args and block.args[0] not in allowed:
        raise ConfigError(f"{block.where}: unsupported {block.name} '{' '.join(block.args)}' "
                          f"(supported: {', '.join(allowed)})")
    if len(block.args) > 1:
        raise ConfigError(f"{block.where}: unexpected '{' '.join(block.args[1:])}' after {block.name} "
                          f"{block.args[0]}")


def _behavior(block: Block, name: str) -> dict:
    path = block.line.path
    allowed = {"coefficient", "elasticity", "thermal_strain"} | ({"potential"} if name == "gen_evp" else set())
    seen: dict[str, Block] = {}
    potentials = []
    for child in block.children:
        if child.level != 2 or child.keyword not in allowed:
            raise unsupported(child, f" (***behavior {name})")
        if child.keyword == "potential":
            potentials.append(child)
            continue
        if child.keyword in seen:
            first = seen[child.keyword].line.lineno
            raise ConfigError(f"{child.where}: {child.name} given twice (first at line {first})")
        seen[child.keyword] = child
    if block.data:
        raise ConfigError(f"{block.data[0].where}: unexpected '{' '.join(block.data[0].tokens)}' under "
                          f"***behavior {name}")
    if "elasticity" not in seen:
        raise ConfigError(f"{block.where}: ***behavior {name} in {path} has no **elasticity")
    spec: dict = {"behavior": "linear_elastic"}
    if "coefficient" in seen:
        coef = seen["coefficient"]
        _no_options(coef)
        values = coefficients(_inline(coef, 0) + coef.data, coef.where, {"masvol"}, set(), "**coefficient")
        if "masvol" in values:
            spec["density"] = values["masvol"]
    elastic = seen["elasticity"]
    _isotropic_type(elastic)
    _no_options(elastic)
    spec["elasticity"] = coefficients(elastic.data, elastic.where, {"young", "poisson"}, {"young", "poisson"},
                                      f"**elasticity isotropic in {path}")
    if "thermal_strain" in seen:
        thermal = seen["thermal_strain"]
        _isotropic_type(thermal)
        _no_options(thermal)
        spec["thermal_strain"] = coefficients(thermal.data, thermal.where, {"alpha", "ref_temperature"},
                                              {"alpha", "ref_temperature"}, f"**thermal_strain isotropic in {path}")
    if len(potentials) > 1:
        raise ConfigError(f"{potentials[1].where}: a second **potential (one is supported)")
    if potentials:
        spec.update(_potential(potentials[0]))
    return spec


def _no_options(block: Block) -> None:
    if block.children:
        raise unsupported(block.children[0], f" (under {block.name})")


def _potential(block: Block) -> dict:
    path = block.line.path
    if not block.args or block.args[0] != "gen_evp":
        raise ConfigError(f"{block.where}: unsupported potential '{' '.join(block.args)}' (supported: gen_evp)")
    if len(block.args) > 2:
        raise ConfigError(f"{block.where}: unexpected '{' '.join(block.args[2:])}' after **potential gen_evp")
    if block.data:
        raise ConfigError(f"{block.data[0].where}: unexpected '{' '.join(block.data[0].tokens)}' under **potential")
    name = block.args[1] if len(block.args) > 1 else "ev"
    criterion, flow, isotropic, kinematic = "mises", None, None, []
    flow_kinds = {"norton": {"K", "n"}, "plasticity": set()}
    isotropic_kinds = {"constant": {"R0"}, "linear": {"R0", "H"}, "nonlinear": {"R0", "Q", "b"}}
    kinematic_kinds = {"nonlinear": {"C", "D"}, "linear": {"C"}}
    for opt in block.children:
        kind = opt.args[0] if opt.args else ""
        if opt.keyword == "criterion":
            if opt.args != ["mises"]:
                raise ConfigError(f"{opt.where}: unsupported criterion '{' '.join(opt.args)}' (supported: mises)")
            continue
        kinds = {"flow": flow_kinds, "isotropic": isotropic_kinds, "kinematic": kinematic_kinds}.get(opt.keyword)
        if kinds is None or opt.level != 1:
            raise unsupported(opt, " (under **potential gen_evp)")
        if kind not in kinds:
            raise ConfigError(f"{opt.where}: unsupported {opt.name} '{kind}' in {path} "
                              f"(supported: {', '.join(kinds)})")
        values = {"type": kind, **coefficients(_inline(opt, 1) + opt.data, opt.where, kinds[kind], kinds[kind],
                                               f"{opt.name} {kind} in {path}")}
        if opt.keyword == "kinematic":
            kinematic.append(values)
        elif opt.keyword == "flow":
            if flow is not None:
                raise ConfigError(f"{opt.where}: a second *flow")
            flow = values
        else:
            if isotropic is not None:
                raise ConfigError(f"{opt.where}: a second *isotropic")
            isotropic = values
    if flow is None:
        raise ConfigError(f"{block.where}: **potential gen_evp {name} in {path} has no *flow")
    if isotropic is None:
        raise ConfigError(f"{block.where}: **potential gen_evp {name} in {path} has no *isotropic "
                          "(the yield stress R0)")
    if flow["type"] == "norton":
        return {"behavior": "gen_evp",
                "potential": {"name": name, "criterion": criterion, "flow": flow, "kinematic": kinematic,
                              "isotropic": isotropic}}
    hardening = {k: v for k, v in isotropic.items() if k != "R0"}
    return {"behavior": "j2_plasticity", "yield_stress": isotropic["R0"], "isotropic": hardening,
            "kinematic": [{**k, "type": "armstrong_frederick"} if k["type"] == "nonlinear" else k
                          for k in kinematic]}
