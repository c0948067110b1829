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
    stress_field = "sig"                         # stresses whose virtual work ECM integrates

    [pod.U]                                      # default: tol = 1e-6
    tol = 1e-6                                   # or n_modes = 12
    [pod.evrcum]                                 # dual quantities for Gappy-POD
    tol = 1e-6
    [ecm]
    tol = 1e-5                                   # defaults: tol 1e-5, seed 0, stress_tol 1e-8
    seed = 0
    [indicator]
    field = "evrcum"                             # dual quantity whose Gappy fit residual is watched
    tol = 1e-2                                   # default 1e-3

The tables are the dataclasses of :mod:`rom.settings` (``PodSettings``, ``EcmSettings``,
``IndicatorSettings``: their fields are the keys, with their meaning and defaults), and
every value is type-checked (a string where a number is expected is refused with its
key path). Relative paths are relative to the TOML file's folder (or ``base_dir`` for a
dict). Every problem is reported at once, in a :class:`ConfigError`.
"""

from __future__ import annotations

import hashlib
import json
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path

from io_adapters.errors import ConfigError
from io_adapters.toml_file import read_toml

from rom.settings import INVALID, EcmSettings, IndicatorSettings, PodSettings, convert, problems_error

_TOP_KEYS = {"training", "problem", "output", "partition", "rule", "checkpoint", "plot", "pod", "ecm",
             "indicator", "base_dir", "stress_field"}
_DEFAULT_POD = {"U": {"tol": 1e-6}}


@dataclass(frozen=True)
class OfflineConfig:
    """A validated offline configuration (paths resolved).

    ``pod``, ``ecm`` and ``indicator`` are the typed tables of :mod:`rom.settings`
    (which also read like the former dicts, ``config.ecm["tol"]``, during the transition).
    """

    training: tuple[Path, ...]
    problem: object                   # Path, or an io_adapters.Problem given in a dict
    output: Path | None
    partition: int | str | None
    rule: str | None
    checkpoint: Path | None
    plot: Path | None
    pod: dict[str, PodSettings]
    ecm: EcmSettings
    indicator: IndicatorSettings
    stress_field: str = "sig"
    source: str = "<dict>"
    raw: dict = field(default_factory=dict, compare=False)

    @property
    def duals(self) -> list[str]:
        """Dual quantities (every ``pod`` entry but ``U``)."""
        return [name for name in self.pod if name != "U"]

    def fingerprint(self) -> str:
        """A hash of what the results depend on (checkpoints are reused only if it matches)."""
        content = {k: self.raw.get(k) for k in ("training", "problem", "partition", "rule")}
        content["pod"] = {name: options.to_dict() for name, options in self.pod.items()}
        content["ecm"] = self.ecm.to_dict()
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
            base_dir = source.get("base_dir", ".")
            base_dir = Path(base_dir) if isinstance(base_dir, (str, os.PathLike)) else Path(".")   # else reported
            return cls.from_dict(source, base_dir=base_dir, source="<dict>")
        raise ConfigError(f"an offline configuration is a TOML path or a dict, found {type(source).__name__}")

    @classmethod
    def from_dict(cls, data: dict, *, base_dir: Path, source: str) -> "OfflineConfig":
        """Check every key (types, ranges, files) and report every problem at once."""
        errors: list[str] = []
        for key in data:
            if key not in _TOP_KEYS:
                errors.append(f"unknown key '{key}' (known: {', '.join(sorted(_TOP_KEYS))})")
        hints = typing.get_type_hints(cls)

        def value(key: str, hint=None, default=None, describe: str | None = None):
            """data[key] checked against the field's type; ``default`` when absent or refused."""
            if data.get(key) is None:
                return default
            out = convert(data[key], hint or hints[key], key=key, errors=errors, base_dir=base_dir,
                          describe=describe)
            return default if out is INVALID else out

        value("base_dir", Path)
        training = data.get("training")
        if isinstance(training, (str, os.PathLike)):
            training = [training]
        if training is None or (isinstance(training, (list, tuple)) and len(training) == 0):
            errors.append("'training' must list at least one result file")
            training = ()
        else:
            training = convert(training, hints["training"], key="training", errors=errors, base_dir=base_dir)
            training = () if training is INVALID else training
        for t in training:
            if not t.exists():
                errors.append(f"training file {t} does not exist")

        problem = data.get("problem")
        if problem is None:
            errors.append("'problem' is required (a TOML or Zset problem file: laws and loads)")
        elif not hasattr(problem, "mesh"):            # an io_adapters.Problem is taken as is
            problem = value("problem", Path, describe="a path (a TOML or Zset problem file) or an io_adapters.Problem")
            if problem is not None and not problem.exists():
                errors.append(f"problem file {problem} does not exist")

        partition = data.get("partition")
        if partition is not None and partition != "from-solver" and not (
                isinstance(partition, int) and not isinstance(partition, bool) and partition > 0):
            errors.append("'partition' must be a positive number of subdomains or \"from-solver\", "
                          f"found {partition!r}")

        pod_table = data.get("pod", _DEFAULT_POD)
        if not isinstance(pod_table, dict) or "U" not in pod_table:
            errors.append("'pod' must have a [pod.U] table (tol or n_modes of the displacement basis)")
            pod_table, pod = {}, {}
        else:
            pod = convert(pod_table, hints["pod"], key="pod", errors=errors, base_dir=base_dir)
            pod = {} if pod is INVALID else pod
        ecm = value("ecm", default=EcmSettings())
        indicator = value("indicator", default=IndicatorSettings())
        table = data.get("indicator")
        wanted = table.get("field") if isinstance(table, (dict, IndicatorSettings)) else None
        if isinstance(wanted, str) and wanted not in pod_table:      # reported beside other [indicator] problems
            errors.append(f"[indicator] field '{wanted}' has no [pod.{wanted}] "
                          "(the indicator needs its Gappy-POD basis)")

        output = value("output")
        checkpoint = value("checkpoint") or (output.with_name(output.name + ".ckpt") if output else None)
        plot = value("plot") or (output.with_name(output.stem + "_singular_values.png") if output else None)
        rule = value("rule")
        stress_field = value("stress_field", default="sig")
        if errors:
            raise problems_error(errors, source)
        raw = {k: (str(v) if isinstance(v, Path) else v) for k, v in data.items()
               if k != "problem" or not hasattr(v, "mesh")}
        return cls(training=training, problem=problem, output=output, partition=partition, rule=rule,
                   checkpoint=checkpoint, plot=plot, pod=pod, ecm=ecm, indicator=indicator,
                   stress_field=stress_field, source=source, raw=raw)
