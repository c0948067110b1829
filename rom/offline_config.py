"""The offline stage's configuration: the same keys in a TOML file and in a dict.

Example (``offline.toml``)::

    training = ["run_a.h5", "run_b/cube.ut"]     # any format nirom reads
    problem = "problem.toml"                     # laws, loads to pre-reduce (TOML or Zset .inp)
    output = "rom.h5"
    partition = 2                                # subdomains (default: the number of ranks),
                                                 # or "from-solver" (Zset parallel output)
    rule = "default"                             # integration rule of the training fields
    checkpoint = "rom.ckpt"                      # folder; default: <output>.ckpt
    plot = "rom_singular_values.png"             # default: <output stem>_singular_values.png

    [pod.U]
    tol = 1e-6                                   # or n_modes = 12
    [pod.evrcum]                                 # dual quantities for Gappy-POD
    tol = 1e-6
    [ecm]
    tol = 1e-5
    seed = 0
    [indicator]
    field = "evrcum"                             # dual quantity whose Gappy fit residual is watched
    tol = 1e-2

Relative paths are relative to the TOML file's folder (or ``base_dir`` for a dict).
Every problem is reported at once, in a :class:`ConfigError`.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from io_adapters.errors import ConfigError
from io_adapters.toml_file import read_toml

_TOP_KEYS = {"training", "problem", "output", "partition", "rule", "checkpoint", "plot", "pod", "ecm",
             "indicator", "base_dir", "stress_field"}
_POD_KEYS = {"tol", "n_modes"}
_ECM_KEYS = {"tol", "seed", "stress_tol"}
_INDICATOR_KEYS = {"field", "tol"}


@dataclass(frozen=True)
class OfflineConfig:
    """A validated offline configuration (paths resolved)."""

    training: tuple[Path, ...]
    problem: object                   # Path, or an io_adapters.Problem given in a dict
    output: Path | None
    partition: int | str | None
    rule: str | None
    checkpoint: Path | None
    plot: Path | None
    pod: dict
    ecm: dict
    indicator: dict
    stress_field: str = "sig"
    source: str = "<dict>"
    raw: dict = field(default_factory=dict, compare=False)

    @property
    def duals(self) -> list[str]:
        """Dual quantities (every ``pod`` entry but ``U``)."""
        return [name for name in self.pod if name != "U"]

    def fingerprint(self) -> str:
        """A hash of what the results depend on (checkpoints are reused only if it matches)."""
        content = {k: self.raw.get(k) for k in ("training", "problem", "partition", "rule", "pod", "ecm")}
        content["mtimes"] = [os.path.getmtime(p) if Path(p).exists() else None for p in self.training]
        return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()[:16]

    @classmethod
    def load(cls, source) -> "OfflineConfig":
        """From a TOML path, a dict, or an OfflineConfig."""
        if isinstance(source, OfflineConfig):
            return source
        if isinstance(source, (str, os.PathLike)):
            path = Path(source)
            data = read_toml(path, "configuration file")
            return cls.from_dict(data, base_dir=path.parent, source=str(path))
        if isinstance(source, dict):
            return cls.from_dict(source, base_dir=Path(source.get("base_dir", ".")), source="<dict>")
        raise ConfigError(f"an offline configuration is a TOML path or a dict, found {type(source).__name__}")

    @classmethod
    def from_dict(cls, data: dict, *, base_dir: Path, source: str) -> "OfflineConfig":
        errors: list[str] = []
        for key in data:
            if key not in _TOP_KEYS:
                errors.append(f"unknown key '{key}' (known: {', '.join(sorted(_TOP_KEYS))})")

        def resolve(value) -> Path:
            p = Path(value)
            return p if p.is_absolute() else base_dir / p

        training = data.get("training")
        if isinstance(training, (str, os.PathLike)):
            training = [training]
        if not training:
            errors.append("'training' must list at least one result file")
            training = []
        training = tuple(resolve(t) for t in training)
        for t in training:
            if not t.exists():
                errors.append(f"training file {t} does not exist")

        problem = data.get("problem")
        if problem is None:
            errors.append("'problem' is required (a TOML or Zset problem file: laws and loads)")
        elif isinstance(problem, (str, os.PathLike)):
            problem = resolve(problem)
            if not problem.exists():
                errors.append(f"problem file {problem} does not exist")

        partition = data.get("partition")
        if partition is not None and partition != "from-solver" and not (isinstance(partition, int) and partition > 0):
            errors.append(f"'partition' must be a positive number of subdomains or \"from-solver\", found {partition!r}")

        pod = data.get("pod", {"U": {"tol": 1e-6}})
        if not isinstance(pod, dict) or "U" not in pod:
            errors.append("'pod' must have a [pod.U] table (tol or n_modes of the displacement basis)")
            pod = {}
        for name, options in pod.items():
            if not isinstance(options, dict):
                errors.append(f"[pod.{name}] must be a table, found {options!r}")
                continue
            for key in options:
                if key not in _POD_KEYS:
                    errors.append(f"unknown key '{key}' in [pod.{name}] (known: {', '.join(sorted(_POD_KEYS))})")
            if ("tol" in options) == ("n_modes" in options):
                errors.append(f"[pod.{name}] needs exactly one of 'tol' and 'n_modes'")
            if "tol" in options and not (isinstance(options["tol"], (int, float)) and 0 < options["tol"] < 1):
                errors.append(f"[pod.{name}] tol must be in (0, 1), found {options['tol']!r}")
            if "n_modes" in options and not (isinstance(options["n_modes"], int) and options["n_modes"] > 0):
                errors.append(f"[pod.{name}] n_modes must be a positive integer, found {options['n_modes']!r}")

        ecm = dict(data.get("ecm", {}))
        for key in ecm:
            if key not in _ECM_KEYS:
                errors.append(f"unknown key '{key}' in [ecm] (known: {', '.join(sorted(_ECM_KEYS))})")
        ecm.setdefault("tol", 1e-5)
        ecm.setdefault("seed", 0)
        if not (isinstance(ecm["tol"], (int, float)) and 0 < ecm["tol"] < 1):
            errors.append(f"[ecm] tol must be in (0, 1), found {ecm['tol']!r}")

        indicator = dict(data.get("indicator", {}))
        for key in indicator:
            if key not in _INDICATOR_KEYS:
                errors.append(f"unknown key '{key}' in [indicator] (known: {', '.join(sorted(_INDICATOR_KEYS))})")
        if "field" in indicator and indicator["field"] not in pod:
            errors.append(f"[indicator] field '{indicator['field']}' has no [pod.{indicator['field']}] "
                          "(the indicator needs its Gappy-POD basis)")

        output = resolve(data["output"]) if data.get("output") else None
        checkpoint = resolve(data["checkpoint"]) if data.get("checkpoint") else (
            output.with_name(output.name + ".ckpt") if output else None)
        plot = resolve(data["plot"]) if data.get("plot") else (
            output.with_name(output.stem + "_singular_values.png") if output else None)
        if errors:
            raise ConfigError(f"{source}: " + (errors[0] if len(errors) == 1 else
                                               f"{len(errors)} problems:\n  - " + "\n  - ".join(errors)))
        raw = {k: (str(v) if isinstance(v, Path) else v) for k, v in data.items()
               if k != "problem" or not hasattr(v, "mesh")}
        return cls(training=training, problem=problem, output=output, partition=partition,
                   rule=data.get("rule"), checkpoint=checkpoint, plot=plot, pod=pod, ecm=ecm,
                   indicator=indicator, stress_field=data.get("stress_field", "sig"), source=source, raw=raw)
