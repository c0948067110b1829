"""Material specifications: plain data (TOML, JSON, the Zset material reader) → law objects.

Schema
------
A spec is a dict. Every coefficient marked *coef* is a number or a temperature table
``{"temperature": [T0, T1, ...], "value": [v0, v1, ...]}`` (increasing T, linear
interpolation, clamped outside). Keys not listed here are refused, as are missing
required ones: the :class:`~io_adapters.errors.ConfigError` names the behaviour, the
place and the key, e.g. ``gen_evp: potential 'evr' flow norton is missing 'K'``.

Common keys::

    behavior        = "linear_elastic" | "j2_plasticity" | "gen_evp"      (required)
    density         = 8.2e-9                                              (optional, Zset masvol)
    [elasticity]                                                          (required)
    type            = "isotropic"                                         (optional)
    young           = coef
    poisson         = coef
    [thermal_strain]                                                      (optional)
    type            = "isotropic"                                         (optional)
    alpha           = coef          # secant: ε_th = alpha(T) (T − ref_temperature) I
    ref_temperature = 20.0
    [integration]                   # all optional (a linear_elastic law ignores it)
    theta           = 1.0           # θ-method, (0, 1]
    tol             = 1e-9          # local residual / trial equivalent stress
    max_iterations  = 200           # local Newton iterations
    max_subdivisions = 8            # local halvings of a failing increment
    method          = "theta_method"  # or "runge_kutta" (Zset files): recorded, integrated by θ

``j2_plasticity`` (rate-independent Mises)::

    yield_stress = coef                                                   (required, R0)
    name         = "ep"             # potential name → state "epcum", "epi"   (optional)
    isotropic    = {type = "constant"}                                    (default)
                 | {type = "linear", H = coef}                  # R = R0 + H p
                 | {type = "voce", Q = coef, b = coef}          # R = R0 + Q (1 − e^{−b p})
                   ("nonlinear" is accepted for "voce")
    kinematic    = [{type = "linear", C = coef},                # X = (2/3) C α, α = εᵖ
                    {type = "armstrong_frederick", C = coef, D = coef}, ...]   (optional)
                   ("nonlinear" is accepted for "armstrong_frederick")

``gen_evp`` (Zset, one potential)::

    [potential]                                                           (required)
    name      = "evr"               # → state "evrcum", "evri"            (optional)
    criterion = "mises"                                                   (optional)
    flow      = {type = "norton", K = coef, n = coef}      # ṗ = <f/K>^n
              | {type = "plasticity"}                       # rate-independent
    isotropic = {type = "constant", R0 = coef}
              | {type = "linear", R0 = coef, H = coef}
              | {type = "nonlinear", R0 = coef, Q = coef, b = coef}
    kinematic = [{type = "nonlinear", C = coef, D = coef}, {type = "linear", C = coef}, ...]  (optional)

A one-element list is also accepted for ``potential``. Example (the Zset file of
ZSET_FORMAT §7) in TOML::

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

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from io_adapters.errors import ConfigError
from io_adapters.problem import BEHAVIORS, MATERIAL_ALIASES, MATERIAL_KEYS, MATERIAL_KINDS, MATERIAL_TABLES
from rom.materials.elastic import IsotropicElasticity, LinearElastic, ThermalStrain
from rom.materials.hardening import (
    Integration,
    IsotropicHardening,
    KinematicHardening,
    NortonFlow,
    PlasticFlow,
)
from rom.materials.plasticity import J2Plasticity
from rom.materials.tables import Coefficient
from rom.materials.viscoplasticity import GenEVP

def _keys(behavior: str) -> dict:
    """``required`` and ``optional`` keys of a behaviour (the schema of :mod:`io_adapters.problem`)."""
    required, optional = MATERIAL_KEYS[behavior]
    return {"required": required, "optional": optional}


def _sub(name: str) -> dict:
    required, optional = MATERIAL_TABLES[name]
    return {"required": required, "optional": optional}


def _kinds(name: str) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    return {kind: (coefficients, ()) for kind, coefficients in MATERIAL_KINDS[name].items()}


def _table(value: Any, where: str, *, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict:
    """Check that ``value`` is a dict with the required keys and nothing unknown."""
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a table (dict), found {type(value).__name__} {value!r}")
    allowed = required + optional
    unknown = [k for k in value if k not in allowed]
    missing = [k for k in required if k not in value]
    problems = []
    if missing:
        problems.append(f"{where} is missing " + ", ".join(f"'{k}'" for k in missing))
    if unknown:
        problems.append(
            f"{where}: unknown key " + ", ".join(f"'{k}'" for k in unknown)
            + f" (allowed: {', '.join(allowed)})"
        )
    if problems:
        raise ConfigError("; ".join(problems))
    return value


def _coef(table: dict, key: str, where: str) -> Coefficient:
    return Coefficient.from_spec(table[key], f"{where} '{key}'")


def _number(value: Any, where: str) -> float:
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ConfigError(f"{where}: expected a finite number, found {value!r}")
    return float(value)


def _typed(value: Any, where: str, kinds: dict[str, tuple[tuple[str, ...], tuple[str, ...]]],
           aliases: dict[str, str] | None = None, default: str | None = None) -> tuple[str, dict, str]:
    """A ``{type = ..., ...}`` table: its canonical type, the table and the place for messages."""
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a table (dict), found {type(value).__name__} {value!r}")
    kind = value.get("type", default)
    if kind is None:
        raise ConfigError(f"{where} is missing 'type' (one of {', '.join(kinds)})")
    kind = (aliases or {}).get(kind, kind)
    if kind not in kinds:
        raise ConfigError(f"{where}: unknown type {value.get('type')!r} (known: {', '.join(kinds)})")
    required, optional = kinds[kind]
    place = f"{where} {kind}"
    _table(value, place, required=required, optional=optional + ("type",))
    return kind, value, place


def _elasticity(spec: dict, behavior: str) -> IsotropicElasticity:
    where = f"{behavior}: elasticity"
    table = _table(spec["elasticity"], where, **_sub("elasticity"))
    if table.get("type", "isotropic") != "isotropic":
        raise ConfigError(f"{where}: only type 'isotropic' is supported, found {table['type']!r}")
    young, poisson = _coef(table, "young", where), _coef(table, "poisson", where)
    try:
        return IsotropicElasticity(young, poisson)
    except ConfigError as exc:
        raise ConfigError(f"{behavior}: {exc}") from exc


def _thermal(spec: dict, behavior: str) -> ThermalStrain | None:
    if spec.get("thermal_strain") is None:
        return None
    where = f"{behavior}: thermal_strain"
    table = _table(spec["thermal_strain"], where, **_sub("thermal_strain"))
    if table.get("type", "isotropic") != "isotropic":
        raise ConfigError(f"{where}: only type 'isotropic' is supported, found {table['type']!r}")
    return ThermalStrain(_coef(table, "alpha", where), _number(table["ref_temperature"], f"{where} 'ref_temperature'"))


def _density(spec: dict, behavior: str) -> float | None:
    if spec.get("density") is None:
        return None
    density = _number(spec["density"], f"{behavior}: 'density'")
    if density <= 0.0:
        raise ConfigError(f"{behavior}: 'density' must be positive, found {density}")
    return density


def _integration(spec: dict, behavior: str) -> Integration:
    if spec.get("integration") is None:
        return Integration()
    where = f"{behavior}: integration"
    table = _table(spec["integration"], where, **_sub("integration"))
    values = {k: (v if k == "method" else _number(v, f"{where} '{k}'")) for k, v in table.items()}
    try:
        return Integration(**values)
    except ConfigError as exc:
        raise ConfigError(f"{behavior}: {exc}") from exc


_KINEMATIC = _kinds("kinematic")
_KINEMATIC_ALIASES = dict(MATERIAL_ALIASES["kinematic"])


def _kinematic(value: Any, where: str) -> tuple[KinematicHardening, ...]:
    if value is None:
        return ()
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"{where}: expected a list of tables, found {value!r}")
    terms = []
    for i, item in enumerate(value):
        kind, table, place = _typed(item, f"{where}[{i}]", _KINEMATIC, _KINEMATIC_ALIASES)
        c = _coef(table, "C", place)
        d = _coef(table, "D", place) if kind == "nonlinear" else Coefficient.constant(0.0)
        try:
            terms.append(KinematicHardening(C=c, D=d))
        except ConfigError as exc:
            raise ConfigError(f"{place}: {exc}") from exc
    return tuple(terms)


def _j2(spec: dict) -> J2Plasticity:
    b = "j2_plasticity"
    _table(spec, b, **_keys(b))
    r0 = Coefficient.from_spec(spec["yield_stress"], f"{b}: 'yield_stress'")
    kinds = _kinds("j2_plasticity.isotropic")
    kind, table, place = _typed(spec.get("isotropic", {"type": "constant"}), f"{b}: isotropic", kinds,
                                dict(MATERIAL_ALIASES["j2_plasticity.isotropic"]))
    coefs = {k: _coef(table, k, place) for k in kinds[kind][0]}
    try:
        isotropic = IsotropicHardening(R0=r0, **coefs)
    except ConfigError as exc:
        raise ConfigError(f"{b}: {exc}") from exc
    return J2Plasticity(
        elasticity=_elasticity(spec, b), isotropic=isotropic,
        kinematic=_kinematic(spec.get("kinematic"), f"{b}: kinematic"),
        thermal_strain=_thermal(spec, b), density=_density(spec, b),
        name=spec.get("name", "ep"), integration=_integration(spec, b),
    )


def _gen_evp(spec: dict) -> GenEVP:
    b = "gen_evp"
    _table(spec, b, **_keys(b))
    potential = spec["potential"]
    if isinstance(potential, (list, tuple)):
        if len(potential) != 1:
            raise ConfigError(f"{b}: exactly one potential is supported, found {len(potential)}")
        potential = potential[0]
    if not isinstance(potential, dict):
        raise ConfigError(f"{b}: potential must be a table (dict), found {potential!r}")
    name = potential.get("name", "evr")
    where = f"{b}: potential '{name}'"
    _table(potential, where, **_sub("potential"))
    if potential.get("criterion", "mises") != "mises":
        raise ConfigError(f"{where}: only criterion 'mises' is supported, found {potential['criterion']!r}")

    kind, table, place = _typed(potential["flow"], f"{where} flow", _kinds("gen_evp.flow"))
    try:
        flow = NortonFlow(_coef(table, "K", place), _coef(table, "n", place)) if kind == "norton" else PlasticFlow()
    except ConfigError as exc:
        raise ConfigError(f"{place}: {exc}") from exc

    kinds = _kinds("gen_evp.isotropic")
    kind, table, place = _typed(potential["isotropic"], f"{where} isotropic", kinds,
                                dict(MATERIAL_ALIASES["gen_evp.isotropic"]))
    try:
        isotropic = IsotropicHardening(**{k: _coef(table, k, place) for k in kinds[kind][0]})
    except ConfigError as exc:
        raise ConfigError(f"{place}: {exc}") from exc

    return GenEVP(
        elasticity=_elasticity(spec, b), flow=flow, isotropic=isotropic,
        kinematic=_kinematic(potential.get("kinematic"), f"{where} kinematic"),
        thermal_strain=_thermal(spec, b), density=_density(spec, b), name=name,
        integration=_integration(spec, b),
    )


def _linear_elastic(spec: dict) -> LinearElastic:
    b = "linear_elastic"
    _table(spec, b, **_keys(b))
    _integration(spec, b)                                   # checked, nothing to integrate
    return LinearElastic(elasticity=_elasticity(spec, b), thermal_strain=_thermal(spec, b),
                         density=_density(spec, b))


_BUILDERS = {"linear_elastic": _linear_elastic, "j2_plasticity": _j2, "gen_evp": _gen_evp}


def from_spec(spec: dict) -> LinearElastic | J2Plasticity | GenEVP:
    """Build a constitutive law from its plain-data specification (schema in the module docstring).

    Parameters
    ----------
    spec : dict
        As read from TOML / JSON or produced by the Zset material reader.

    Returns
    -------
    LinearElastic, J2Plasticity or GenEVP

    Raises
    ------
    ConfigError
        Unknown behaviour or key, missing or invalid coefficient; the message names the
        behaviour, the place and the key.
    """
    if not isinstance(spec, dict):
        raise ConfigError(f"a material spec is a table (dict), found {type(spec).__name__}")
    if "behavior" not in spec:
        raise ConfigError(f"material spec is missing 'behavior' (one of {', '.join(BEHAVIORS)})")
    behavior = spec["behavior"]
    if behavior not in _BUILDERS:
        raise ConfigError(f"unknown material behavior {behavior!r} (known: {', '.join(BEHAVIORS)})")
    return _BUILDERS[behavior](spec)


def _common_spec(law) -> dict:
    spec = {"behavior": law.behavior,
            "elasticity": {"young": law.elasticity.young.to_spec(), "poisson": law.elasticity.poisson.to_spec()}}
    if law.density is not None:
        spec["density"] = law.density
    if law.thermal_strain is not None:
        spec["thermal_strain"] = {"alpha": law.thermal_strain.alpha.to_spec(),
                                  "ref_temperature": law.thermal_strain.ref_temperature}
    return spec


def _kinematic_spec(terms, linear: str, nonlinear: str) -> list[dict]:
    return [{"type": linear, "C": k.C.to_spec()} if k.is_linear
            else {"type": nonlinear, "C": k.C.to_spec(), "D": k.D.to_spec()} for k in terms]


def _integration_spec(integ: Integration) -> dict:
    """The settings that differ from the defaults."""
    default = Integration()
    return {k: getattr(integ, k) for k in ("theta", "tol", "max_iterations", "max_subdivisions", "method")
            if getattr(integ, k) != getattr(default, k)}


def to_spec(law) -> dict:
    """Plain-data specification of a law, such that ``from_spec(to_spec(law)) == law``.

    Raises
    ------
    ConfigError
        When the isotropic hardening combines a linear and a saturating term, which the
        schema cannot express.
    """
    spec = _common_spec(law)
    if isinstance(law, LinearElastic):
        return spec
    iso = law.isotropic
    zero = Coefficient.constant(0.0)
    has_h = iso.H != zero
    has_voce = iso.Q != zero or iso.b != zero
    if has_h and has_voce:
        raise ConfigError(f"{law.behavior}: isotropic hardening with both H and (Q, b) has no spec form")
    if isinstance(law, J2Plasticity):
        spec["yield_stress"] = iso.R0.to_spec()
        if has_h:
            spec["isotropic"] = {"type": "linear", "H": iso.H.to_spec()}
        elif has_voce:
            spec["isotropic"] = {"type": "voce", "Q": iso.Q.to_spec(), "b": iso.b.to_spec()}
        else:
            spec["isotropic"] = {"type": "constant"}
        spec["kinematic"] = _kinematic_spec(law.kinematic, "linear", "armstrong_frederick")
        if law.name != "ep":
            spec["name"] = law.name
    else:
        if has_h:
            isotropic = {"type": "linear", "R0": iso.R0.to_spec(), "H": iso.H.to_spec()}
        elif has_voce:
            isotropic = {"type": "nonlinear", "R0": iso.R0.to_spec(), "Q": iso.Q.to_spec(), "b": iso.b.to_spec()}
        else:
            isotropic = {"type": "constant", "R0": iso.R0.to_spec()}
        flow = ({"type": "norton", "K": law.flow.K.to_spec(), "n": law.flow.n.to_spec()}
                if isinstance(law.flow, NortonFlow) else {"type": "plasticity"})
        spec["potential"] = {"name": law.name, "criterion": "mises", "flow": flow,
                             "kinematic": _kinematic_spec(law.kinematic, "linear", "nonlinear"),
                             "isotropic": isotropic}
    integration = _integration_spec(law.integration)
    if integration:
        spec["integration"] = integration
    return spec
