"""A dictionary of local reduced-order models, and ROM-net choosing among them, in one file.

A :class:`RomDictionary` holds one :class:`rom.model.ReducedOrderModel` per cluster of
the training simulations (each built by the offline stage on that cluster's runs), the
load features (:class:`clustering.features.TemperatureFeatures`) and the classifier
(:class:`clustering.romnet.RomNet`) that routes a load to a cluster from its description
alone, before any solve. :meth:`RomDictionary.solve` has the signature and the result of
:meth:`rom.model.ReducedOrderModel.solve`:

1. the load's features → the classifier's probabilities and its conformal prediction
   set (the plausible clusters at confidence ``1 − α``, most probable first; the most
   probable one is always in it);
2. when the set holds several clusters, each candidate solves the first
   ``probe_steps`` steps and the one whose error indicator is lowest goes first;
3. the chosen local model solves the whole loading, its indicator watched; when it
   exceeds the tolerance the next candidate is tried (the set's, then by probability,
   at most ``max_fallbacks`` of them); when every try leaves the indicator above
   tolerance, the best one solves again with the enrichment policy given (``adaptive``),
   else its result is returned with a warning. ``result.selection`` says what happened.

File (``nirom-rom-dictionary``, version 1): the mesh once, ``/models/<k>`` one model
per cluster (:func:`rom.model.write_model_group` without the mesh), ``/features``,
``/classifier`` (learned arrays only: loading a file never runs code), settings and
report as JSON attributes. A dictionary built on P subdomains loads on any number of
ranks ≤ P, like a model.

Loading reads the mesh, the features, the classifier and each local model's header
(its attributes and members, checksum verified); a local model's arrays are read and
verified at its first use (:class:`LocalModels`), so a solve reads the model ROM-net
chose — not the K of them. The file must not change between the load and that use: a
model group whose checksum differs from the one seen at load is refused, naming the
file.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from collections.abc import Sequence

import numpy as np

from io_adapters.atomic import atomic_path
from io_adapters.errors import InputError
from io_adapters.store.hdf5 import _read_mesh, _write_mesh, has_format

from rom.model import read_model_group, read_model_header, write_model_group

from clustering.features import TemperatureFeatures, problem_features
from clustering.romnet import RomNet

log = logging.getLogger(__name__)

__all__ = ["FORMAT_NAME", "LocalModels", "RomDictionary", "is_dictionary"]

FORMAT_NAME = "nirom-rom-dictionary"
FORMAT_VERSION = 1


class LocalModels(Sequence):
    """A dictionary file's local models, each read (and verified) at its first use.

    Parameters
    ----------
    path : path
        The dictionary file.
    mesh : Mesh
        Its mesh (read once, shared by the models).
    headers : list of (digest, settings)
        Per model: the checksum of its group seen at load (None in a file without
        checksums) and its ``settings`` attribute.
    rank, size : int
        This rank keeps the subdomains ``r ≡ rank (mod size)``.
    """

    def __init__(self, path: Path, mesh, headers: list, rank: int, size: int):
        self.path, self.mesh, self.rank, self.size = Path(path), mesh, rank, size
        self.headers = list(headers)
        self._models: dict[int, object] = {}

    def __len__(self) -> int:
        return len(self.headers)

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        k = int(k)
        if k < 0:
            k += len(self)
        if not 0 <= k < len(self):
            raise IndexError(f"local model {k} of {len(self)}")
        if k not in self._models:
            self._models[k] = self._read(k)
        return self._models[k]

    @property
    def loaded(self) -> list[int]:
        """The models read so far."""
        return sorted(self._models)

    def settings(self, k: int) -> dict:
        """Model ``k``'s settings (from its header: the model itself is not read)."""
        return self.headers[k][1]

    def _read(self, k: int):
        import h5py

        where = f"{self.path} model {k}"
        try:
            f = h5py.File(self.path, "r")
        except OSError as exc:
            raise InputError(f"{self.path}: cannot read local model {k} of the dictionary loaded from this file "
                             f"({exc})") from None
        with f:
            group = f.get(f"models/{k}")
            digest = None if group is None else read_model_header(group, where)[0]
            if group is None or digest != self.headers[k][0]:
                raise InputError(f"{where}: the file changed since the dictionary was loaded (the model's checksum "
                                 f"is {digest!r}, {self.headers[k][0]!r} at load): load it again")
            return read_model_group(group, self.rank, self.size, where, mesh=self.mesh)


@dataclass(frozen=True, eq=False)
class RomDictionary:
    """Local reduced-order models and the classifier that chooses among them.

    Attributes
    ----------
    models : tuple of ReducedOrderModel, or LocalModels
        One per cluster (the subdomains this rank holds); a loaded dictionary reads each
        at its first use.
    features : TemperatureFeatures
        The load features the classifier was trained on.
    classifier : RomNet
    settings : dict
        How the dictionary was built (clustering, local ROMs, classifier).
    report : dict
        Training figures (cluster sizes, classifier accuracy, criterion…).
    provenance : dict
    """

    models: tuple
    features: TemperatureFeatures
    classifier: RomNet
    settings: dict = field(default_factory=dict)
    report: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)

    def __post_init__(self):
        lazy = isinstance(self.models, LocalModels)
        models = self.models if lazy else tuple(self.models)
        if not len(models):
            raise InputError("ROM dictionary: no local model")
        mesh = models.mesh if lazy else models[0].mesh
        for k, model in enumerate(() if lazy else models[1:], start=1):
            if model.mesh is not mesh and (model.mesh.n_nodes != mesh.n_nodes or model.mesh.n_cells != mesh.n_cells):
                raise InputError(f"ROM dictionary: local model {k} is on another mesh ({model.mesh.n_nodes} nodes) "
                                 f"than model 0 ({mesh.n_nodes} nodes)")
        classes = np.asarray(self.classifier.classes_)
        if not np.array_equal(np.sort(classes), np.arange(len(models))):
            raise InputError(f"ROM dictionary: the classifier knows clusters {classes.tolist()}, the dictionary "
                             f"holds {len(models)} models")
        object.__setattr__(self, "models", models)

    @property
    def n_clusters(self) -> int:
        return len(self.models)

    @property
    def mesh(self):
        return self.models.mesh if isinstance(self.models, LocalModels) else self.models[0].mesh

    def model_settings(self, k: int = 0) -> dict:
        """Local model ``k``'s settings (without reading a lazily loaded model)."""
        return self.models.settings(k) if isinstance(self.models, LocalModels) else self.models[k].settings

    # ---------------------------------------------------------------- choose
    def classify(self, problem) -> dict:
        """The classifier's view of a loading: probabilities, conformal set, candidates in order.

        Returns
        -------
        dict
            ``probabilities`` (K,), ``conformal_set`` (clusters, most probable first,
            never empty), ``order`` (every cluster: the set first, then by probability).
        """
        features = self.features.transform_loads([problem_features(problem)])
        probabilities = self.classifier.predict_proba(features)[0]
        if self.classifier.conformal_arrays_ is None:        # trained without conformal sets: the top cluster
            conformal = [int(np.argmax(probabilities))]
        else:
            conformal = [int(c) for c in self.classifier.predict_set(features, include_top=True)[0]]
        rest = [int(c) for c in np.argsort(-probabilities, kind="stable") if int(c) not in conformal]
        return {"probabilities": [float(p) for p in probabilities], "conformal_set": conformal,
                "order": conformal + rest}

    def solve(self, problem, comm=None, *, probe_steps: int = 1, max_fallbacks: int = 2, **options):
        """Solve a loading with the local model ROM-net picks (see the module docstring).

        Parameters
        ----------
        problem : io_adapters.Problem
        comm : communicator, optional
        probe_steps : int
            Steps each candidate of a several-cluster conformal set solves to compare
            their indicators (0: no probing, the most probable first).
        max_fallbacks : int
            Further candidates tried when the chosen one's indicator exceeds the
            tolerance.
        **options
            As :meth:`rom.model.ReducedOrderModel.solve` (``fields``, ``output``,
            ``settings``, ``indicator``, ``adaptive``).

        Returns
        -------
        rom.online.OnlineResult
            With ``selection``: ``cluster`` (the model used), ``probabilities``,
            ``conformal_set``, ``probes`` (indicator of each probed candidate),
            ``tried`` (cluster → largest indicator of its full solve), ``enriched``.
        """
        output = options.pop("output", None)
        adaptive = options.pop("adaptive", None)
        view = self.classify(problem)
        order = list(view["order"])
        probes = {}
        if probe_steps > 0 and len(view["conformal_set"]) > 1:
            short = dataclasses.replace(problem, times=np.asarray(problem.times)[:probe_steps + 1])
            for cluster in view["conformal_set"]:
                result = self.models[cluster].solve(short, comm=comm, **options)
                probes[cluster] = float(np.max(result.indicator))
            ranked = sorted(view["conformal_set"], key=lambda c: probes[c])
            order = ranked + [c for c in order if c not in ranked]
        tol = self._tolerance(adaptive, options.get("indicator"))
        tried, best = {}, None
        for cluster in order[:1 + max(0, int(max_fallbacks))]:
            result = self.models[cluster].solve(problem, comm=comm, **options)
            tried[cluster] = float(np.max(result.indicator))
            if best is None or tried[cluster] < tried[best[0]]:
                best = (cluster, result)
            if tried[cluster] <= tol:
                break
            log.info("dictionary: cluster %d's indicator %.3e above %.1e: next candidate", cluster, tried[cluster], tol)
        cluster, result = best
        enriched = False
        if tried[cluster] > tol:
            if adaptive is not None:
                result = self.models[cluster].solve(problem, comm=comm, adaptive=adaptive, **options)
                enriched = True
            else:
                log.warning("dictionary: every candidate's indicator is above %.1e (best: cluster %d, %.3e); "
                            "pass adaptive=Enrichment(...) to repair it", tol, cluster, tried[cluster])
        selection = {"cluster": int(cluster), **view, "probes": {str(k): v for k, v in probes.items()},
                     "tried": {str(k): v for k, v in tried.items()}, "tolerance": tol, "enriched": enriched}
        result = dataclasses.replace(result, selection=selection)
        if output is not None:
            result.write(output)
        return result

    def _tolerance(self, adaptive, indicator) -> float:
        if adaptive is not None:
            return float(adaptive.tol)
        settings = self.model_settings(0).get("indicator", {})
        return float(settings.get("tol", 1e-3))

    # ----------------------------------------------------------------- files
    def save(self, path, comm=None) -> Path:
        """Write the dictionary (atomically); under MPI every rank calls it, rank 0 writes."""
        import h5py

        parts = [list(m.subdomains) for m in self.models]
        if comm is not None and comm.size > 1:
            gathered = comm.gather(parts, root=0)
            if comm.rank != 0:
                comm.Barrier()
                return Path(path)
            parts = [sorted((s for rank in gathered for s in rank[k]), key=lambda s: s.index)
                     for k in range(len(self.models))]
        path = Path(path)
        try:
            with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
                f.attrs["format"] = FORMAT_NAME
                f.attrs["format_version"] = FORMAT_VERSION
                f.attrs["complete"] = 0
                f.attrs["n_clusters"] = self.n_clusters
                f.attrs["settings"] = json.dumps(self.settings)
                f.attrs["report"] = json.dumps(self.report)
                f.attrs["provenance"] = json.dumps(self.provenance)
                _write_mesh(f.create_group("mesh"), self.mesh)
                models = f.create_group("models")
                for k, (model, subdomains) in enumerate(zip(self.models, parts)):
                    write_model_group(models.create_group(str(k)), model, subdomains, mesh=False)
                self.features.save(f.create_group("features"))
                self.classifier.save(f.create_group("classifier"))
                f.attrs["complete"] = 1
        finally:
            if comm is not None and comm.size > 1:
                comm.Barrier()
        return path

    @classmethod
    def load(cls, path, comm=None) -> "RomDictionary":
        """Read a dictionary; each rank keeps the subdomains ``r ≡ rank (mod size)`` of every model."""
        import h5py

        path = Path(path)
        rank, size = (0, 1) if comm is None else (comm.rank, comm.size)
        if not path.is_file():
            raise InputError(f"{path}: no such ROM dictionary file")
        try:
            f = h5py.File(path, "r")
        except OSError as exc:
            raise InputError(f"{path}: not a readable HDF5 file ({exc})") from None
        with f:
            if f.attrs.get("format") != FORMAT_NAME:
                raise InputError(f"{path}: not a nirom ROM dictionary (format {f.attrs.get('format')!r})")
            if int(f.attrs.get("format_version", -1)) != FORMAT_VERSION:
                raise InputError(f"{path}: dictionary format version {f.attrs.get('format_version')!r}, this nirom "
                                 f"reads version {FORMAT_VERSION}")
            if int(f.attrs.get("complete", 0)) != 1:
                raise InputError(f"{path}: the dictionary file is incomplete (its writer did not finish)")
            mesh = _read_mesh(f["mesh"], path)
            n = int(f.attrs["n_clusters"])
            if "models" not in f or sorted(f["models"], key=int) != [str(k) for k in range(n)]:
                raise InputError(f"{path}: expected models 0…{n - 1} under /models")
            headers = [read_model_header(f["models"][str(k)], f"{path} model {k}") for k in range(n)]
            models = LocalModels(path.resolve(), mesh, headers, rank, size)
            try:
                return cls(models=models, features=TemperatureFeatures.load(f["features"]),
                           classifier=RomNet.load(f["classifier"]), settings=json.loads(f.attrs["settings"]),
                           report=json.loads(f.attrs["report"]), provenance=json.loads(f.attrs["provenance"]))
            except KeyError as exc:
                raise InputError(f"{path}: missing {exc} in the dictionary file") from None

    def summary(self) -> str:
        """A few lines describing the dictionary."""
        report = self.report
        lines = [f"ROM dictionary: {self.n_clusters} local models on {self.mesh.n_nodes} nodes, "
                 f"{self.mesh.n_cells} cells",
                 "local models: " + ", ".join(f"{k}: {m.n_modes} modes, "
                                              f"{sum(s.n_reduced_points for s in m.subdomains)} points"
                                              for k, m in enumerate(self.models)),
                 f"classifier: {self.classifier.chosen_} (cross-validated accuracy "
                 f"{self.classifier.report_.get('accuracy', float('nan')):.3f}, top-2 "
                 f"{self.classifier.report_.get('top2_accuracy', float('nan')):.3f})"]
        if "cluster_sizes" in report:
            lines.append(f"training runs per cluster: {report['cluster_sizes']}")
        if "efficiency_ratio" in report:
            lines.append(f"a-priori efficiency ratio (dictionary / global basis of the same size): "
                         f"{report['efficiency_ratio']:.3f}")
        return "\n".join(lines)


def is_dictionary(path: str | os.PathLike) -> bool:
    """True when ``path`` is a nirom ROM dictionary file."""
    return has_format(path, FORMAT_NAME)
