"""The offline stage's configuration: the same keys in a TOML file and in a dict.

Example (``offline.toml``)::

    training = ["run_a.h5", "run_b/cube.ut"]     # any format nirom reads
    problem = "problem.toml"                     # laws, loads to pre-reduce (TOML or Zset .inp)
    output = "rom.h5"
    partition = 2                                # subdomains (default: the number of ranks),
                                                 # or "from-solver" (Zset parallel output)
    rule = "default"                             # integration rule of the training fields
    checkpoint = "rom.ckpt"                      # folder; default: <output>.ckpt
    plot = "rom_singular_values.png"             # default: <output stem>_singular_values.png; false: none
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
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from io_adapters.errors import ConfigError
from io_adapters.toml_file import path_exists, read_toml

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
        """A hash of the settings that shape the model (``pod``, ``ecm``, ``stress_field``,
        ``rule``, ``partition``).

        The checkpoint does not reuse a phase on this alone: :meth:`phase_inputs` adds
        what the files hold (training data and problem by content), the rank count and
        the partition, phase by phase.
        """
        content = {"pod": {name: options.to_dict() for name, options in self.pod.items()},
                   "ecm": self.ecm.to_dict(), "stress_field": self.stress_field, "rule": self.rule,
                   "partition": self.partition}
        return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def phase_inputs(self, *, training: list[str], mesh, constrained: dict, partition, ranks: int, rule: str,
                     blocks: dict[str, list]) -> dict[str, dict]:
        """What shapes each checkpointed phase of the offline build, in phase order.

        Parameters
        ----------
        training : list of str
            Content digests of the training runs, in order (:func:`training_digests`).
        mesh : io_adapters.Mesh
            The problem's mesh (hashed: points, cells, sets).
        constrained : dict[str, list[int]]
            Node set → imposed components of the problem (hashed with the node sets' nodes).
        partition : (n_cells,) int array
            The subdomain of each cell.
        ranks : int
        rule : str
            Integration rule of the training fields.
        blocks : dict[str, list]
            Per field, the (run, first step, last step) blocks of the streamed POD on this rank.

        Returns
        -------
        dict[str, dict]
            ``pod_U``, ``pod_<dual>`` …, ``ecm`` → their inputs (JSON-able: digests, settings,
            numbers). :class:`rom.offline.Checkpoint` chains them (a phase is reused only
            when its inputs and those of every earlier phase match). The problem's laws,
            loads and temperature shape only the reduced operators, which are never
            checkpointed.
        """
        common = {"training": list(training), "mesh": content_digest(mesh), "partition": content_digest(partition),
                  "ranks": int(ranks), "rule": rule}
        sets = {name: [list(components), content_digest(np.asarray(mesh.node_sets[name]))]
                for name, components in sorted(constrained.items())}
        phases = {"pod_U": {**common, "constrained": sets, "pod": self.pod["U"].to_dict(), "blocks": blocks.get("U")}}
        for name in self.duals:
            phases[f"pod_{name}"] = {**common, "pod": self.pod[name].to_dict(), "blocks": blocks.get(name)}
        phases["ecm"] = {**common, "ecm": self.ecm.to_dict(), "stress_field": self.stress_field}
        return phases

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
            if not path_exists(t):
                errors.append(f"training file {t} does not exist")

        problem = data.get("problem")
        if problem is None:
            errors.append("'problem' is required (a TOML or Zset problem file: laws and loads)")
        elif not hasattr(problem, "mesh"):            # an io_adapters.Problem is taken as is
            problem = value("problem", Path, describe="a path (a TOML or Zset problem file) or an io_adapters.Problem")
            if problem is not None and not path_exists(problem):
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
        if data.get("plot") is False:
            plot = None                                    # plot = false: no picture
        else:
            plot = value("plot", Path | None, describe="a path or false") or (
                output.with_name(output.stem + "_singular_values.png") if output else None)
        rule = value("rule")
        stress_field = value("stress_field", default="sig")
        if errors:
            raise problems_error(errors, source)
        raw = {k: (str(v) if isinstance(v, Path) else v) for k, v in data.items()
               if k != "problem" or not hasattr(v, "mesh")}
        return cls(training=training, problem=problem, output=output, partition=partition, rule=rule,
                   checkpoint=checkpoint, plot=plot, pod=pod, ecm=ecm, indicator=indicator,
                   stress_field=stress_field, source=source, raw=raw)


# ================================================================ content digests
def content_digest(value) -> str:
    """SHA-256 of a value's content: arrays (dtype, shape, bytes), dataclasses (their fields,
    e.g. a Mesh or a Problem), mappings (sorted keys), sequences, numbers, strings, paths."""
    h = hashlib.sha256()
    _feed(h, value)
    return h.hexdigest()


def _feed(h, value) -> None:
    if value is None or isinstance(value, (bool, int, float, str, np.generic)):
        h.update(f"{type(value).__name__}:{value!r};".encode("utf-8", "surrogatepass"))
    elif isinstance(value, os.PathLike):
        h.update(f"path:{os.fspath(value)!r};".encode("utf-8", "surrogatepass"))
    elif isinstance(value, bytes):
        h.update(b"bytes:%d;" % len(value) + value)
    elif isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value)
        h.update(f"array:{array.dtype.str}{array.shape};".encode())
        if array.dtype.kind in "OUS":
            _feed(h, array.tolist())
        else:
            h.update(array.reshape(-1).view(np.uint8))
    elif isinstance(value, dict) or hasattr(value, "items"):
        items = list(value.items())              # in order: a mesh's cell blocks are its cell order
        h.update(f"map:{len(items)};".encode())
        for key, item in items:
            _feed(h, str(key))
            _feed(h, item)
    elif isinstance(value, (list, tuple)):
        h.update(f"seq:{len(value)};".encode())
        for item in value:
            _feed(h, item)
    elif dataclasses.is_dataclass(value):
        h.update(f"{type(value).__name__}{{".encode())
        for f in dataclasses.fields(value):
            if f.name not in ("source", "labels"):          # names for messages, not content
                _feed(h, f.name)
                _feed(h, getattr(value, f.name))
        h.update(b"}")
    else:
        raise TypeError(f"content_digest: cannot hash a {type(value).__name__}")


#: Bytes read at a time when hashing a file.
_CHUNK = 8 * 2**20


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 of a file's content, or of every file under a folder (relative names included)."""
    path = Path(path)
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            _feed(h, str(file.relative_to(path)))
        with open(file, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                h.update(chunk)
    return h.hexdigest()


def _stat_key(path: Path) -> list:
    """What changes whenever a file's content may have changed (ctime cannot be set by users)."""
    if path.is_dir():
        return [[str(p.relative_to(path)), *_stat_key(p)] for p in sorted(path.rglob("*")) if p.is_file()]
    st = path.stat()
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def training_digests(files: list[list[str]], cache: Path | None = None, comm=None) -> list[str]:
    """One content digest per training run (the files it was read from, hashed together).

    Parameters
    ----------
    files : list of lists of paths
        Per run, the files it is made of (a store; a Zset ``.ut`` and its data files).
    cache : path, optional
        A JSON file of earlier digests keyed by path and ``stat`` (device, inode, size,
        mtime and ctime in ns): a file whose stat did not change is not read again.
    comm : communicator, optional
        The runs are hashed by the ranks in turn, the digests shared (one allgather).

    Returns
    -------
    list of str, the same on every rank.
    """
    rank, size = (0, 1) if comm is None else (comm.rank, comm.size)
    known: dict = {}
    if cache is not None and cache.is_file():
        try:
            known = json.loads(cache.read_text())
        except (OSError, ValueError):
            known = {}
        known = known if isinstance(known, dict) else {}
    digests, seen = {}, {}
    for i, run in enumerate(files):
        if i % size != rank:
            continue
        parts = []
        for file in run:
            path = Path(file).resolve()
            stat = _stat_key(path)
            entry = known.get(str(path))
            if isinstance(entry, dict) and entry.get("stat") == stat and isinstance(entry.get("sha256"), str):
                digest = entry["sha256"]
            else:
                digest = file_digest(path)
            seen[str(path)] = {"stat": stat, "sha256": digest}
            parts.append(digest)
        digests[i] = content_digest(parts)
    if comm is not None and size > 1:
        gathered = comm.allgather((digests, seen))
        digests = {i: d for part, _ in gathered for i, d in part.items()}
        seen = {p: e for _, part in gathered for p, e in part.items()}
    if cache is not None and rank == 0 and any(known.get(p) != e for p, e in seen.items()):
        from io_adapters.atomic import write_text_atomic

        try:
            write_text_atomic(cache, json.dumps({**known, **seen}, indent=0, sort_keys=True))
        except OSError:
            pass                       # a cache: the next run hashes again
    return [digests[i] for i in range(len(files))]
