"""Build a ROM dictionary from training runs: cluster, one local model per cluster, ROM-net.

:func:`build_dictionary` runs on every rank of ``comm`` (serial without one):

1. **Cluster** the training runs (:class:`clustering.local_bases.LocalBases` on their
   displacement histories, each rank its rows of the METIS partition the offline stage
   uses, the mass inner product): labels, medoids, silhouette, per-cluster n-widths.
2. **Local models**: the offline stage (:func:`rom.offline.build`) on each cluster's
   runs (plus the overlap), with the configuration's POD, ECM and indicator tables.
3. **ROM-net**: the load features of every training run (:mod:`clustering.features`,
   from the run's problem), the classifier fitted on the cluster labels
   (:class:`clustering.romnet.RomNet`), its regret measured with the projection error
   of each run on each cluster's basis.
4. **The a-priori criterion** (:mod:`clustering.criterion`): the expected error of the
   dictionary (cluster errors weighted by the cluster probabilities, misclassification
   through the cross-validated confusion matrix) against a global basis of the same
   size: the ``efficiency_ratio`` of the report (below 1: the dictionary is worth it).

The dictionary is returned on every rank (its models hold the rank's subdomains);
:meth:`RomDictionary.save` writes it, :func:`write_report` the Markdown report with its
figures (rank 0).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from io_adapters.errors import InputError, MeshMismatchError

from rom import progress
from rom.parallel import allreduce_sum as _allreduce

from clustering.config import ClusterConfig
from clustering.dictionary import RomDictionary

log = logging.getLogger(__name__)

__all__ = ["build_dictionary", "write_report"]


def _rank_size(comm) -> tuple[int, int]:
    return (0, 1) if comm is None else (comm.rank, comm.size)


def build_dictionary(config_or_dict, comm=None) -> RomDictionary:
    """Cluster the training runs, build a local model per cluster and ROM-net (every rank calls it).

    Parameters
    ----------
    config_or_dict : path to a TOML file, dict, or ClusterConfig
        See :mod:`clustering.config`.
    comm : mpi4py communicator, optional

    Returns
    -------
    RomDictionary
    """
    import io_adapters
    from io_adapters.problem import Problem, read_problem
    from rom import fem
    from rom.offline import build
    from rom.partition import partition_cells

    from clustering import criterion
    from clustering.features import TemperatureFeatures, problem_features
    from clustering.local_bases import LocalBases
    from clustering.romnet import RomNet

    started = time.perf_counter()
    config = ClusterConfig.load(config_or_dict)
    rank, size = _rank_size(comm)
    problem = config.problem if isinstance(config.problem, Problem) else read_problem(config.problem)
    mesh = problem.mesh
    runs = [io_adapters.read(str(r.store)) for r in config.training]
    for run, entry in zip(runs, config.training):
        if run.mesh.n_nodes != mesh.n_nodes or run.mesh.n_cells != mesh.n_cells or not np.allclose(
                run.mesh.points, mesh.points, rtol=1e-6, atol=1e-9):
            raise MeshMismatchError(f"{config.source}: training run {entry.store} is on another mesh "
                                    f"({run.mesh.n_nodes} nodes) than the problem's ({mesh.n_nodes})")
        if "U" not in run.fields:
            raise InputError(f"{entry.store}: no displacement field 'U' (has: {', '.join(run.fields)})")

    # 1. clustering, on this rank's rows (the offline stage's partition)
    cell_parts = partition_cells(mesh, size) if rank == 0 else None
    if comm is not None and size > 1:
        cell_parts = comm.bcast(cell_parts, root=0)
    elif cell_parts is None:
        cell_parts = np.zeros(mesh.n_cells, dtype=np.int64)
    local, nodes = mesh.submesh(np.flatnonzero(cell_parts == rank))
    mass = fem.mass_matrix(local, rule="high", n_components=3)
    histories = [run.fields["U"].read(rows=nodes).reshape(run.n_times, -1) for run in runs]
    settings = config.clustering
    n_modes, tol = _local_size(config)
    clusters = LocalBases(settings.n_clusters, dissimilarity=settings.dissimilarity, rank=settings.rank,
                          n_modes=n_modes, tol=tol, overlap=settings.overlap, random_state=settings.random_state,
                          inner_product=mass, comm=comm).fit(histories)
    labels, members = _run_clusters(clusters, len(runs), settings.n_clusters)
    progress.advance("runs clustered", len(runs), len(runs))
    if rank == 0:
        log.info("clustering: %d runs in %d clusters (sizes %s, with overlap %s)", len(runs), settings.n_clusters,
                 np.bincount(labels, minlength=settings.n_clusters).tolist(), [len(m) for m in members])

    # 2. one local model per cluster
    models = []
    for k, chosen in enumerate(members):
        offline = {"training": [str(config.training[i].store) for i in chosen], "problem": problem,
                   **config.offline}
        models.append(build(offline, comm))
        progress.advance("local models", k + 1, len(members))

    # 3. ROM-net: features of the loads, classifier, regret from the projection errors
    features = TemperatureFeatures(config.features.n_components, sampling=config.features.sampling)
    descriptions = [problem_features(r.problem if isinstance(r.problem, Problem) else read_problem(r.problem))
                    for r in config.training]
    X = features.fit_loads(descriptions).transform_loads(descriptions)
    errors = np.array([[clusters.projection_error(h, cluster=j) for j in range(settings.n_clusters)]
                       for h in histories])
    c = config.classifier
    smallest = int(np.bincount(labels, minlength=settings.n_clusters).min())
    if smallest < 2:
        raise InputError(f"{config.source}: a cluster holds {smallest} training run; ROM-net's cross-validation "
                         "needs at least 2 per cluster (fewer clusters or more runs)")
    alpha = c.conformal_alpha
    needed = int(np.ceil(max(1 / alpha, 1 / (1 - alpha))))
    if np.ceil(0.25 * len(labels)) < needed:        # RomNet keeps a quarter of the runs to calibrate the sets
        log.warning("ROM-net: %d training runs are too few for conformal sets at alpha %.2f (%d needed in the "
                    "calibration quarter): the dictionary uses the most probable cluster, then the fallbacks",
                    len(labels), alpha, needed)
        alpha = None
    classifier = RomNet(candidates=c.candidates, cv=min(c.cv, smallest), random_state=c.random_state,
                        conformal_alpha=alpha).fit(X, labels, errors=errors)

    # 4. the a-priori efficiency criterion
    probabilities = np.bincount(labels, minlength=settings.n_clusters) / len(labels)
    cluster_errors = np.array([[errors[labels == i, j].mean() for j in range(settings.n_clusters)]
                               for i in range(settings.n_clusters)])
    global_size = n_modes or max(int(np.median([b.n_modes for b in clusters.bases_])), 1)   # the same online cost
    global_errors = _global_errors(histories, labels, mass, global_size, settings.n_clusters, comm)
    confusion = np.asarray(classifier.report_["confusion"], dtype=float)
    expected = criterion.expected_error(cluster_errors, probabilities, confusion)
    expected_global = float(probabilities @ global_errors)
    report = {
        "n_runs": len(runs), "cluster_sizes": np.bincount(labels, minlength=settings.n_clusters).tolist(),
        "members": [m.tolist() for m in members], "labels": labels.tolist(),
        "medoids": np.asarray(clusters.medoid_indices_).tolist(), "silhouette": float(clusters.silhouette_),
        "n_widths": [float(v) for v in clusters.n_widths_], "projection_errors": errors.tolist(),
        "classifier": {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in classifier.report_.items()
                       if k in ("chosen", "accuracy", "top2_accuracy", "regret_q50", "regret_q90", "confusion",
                                "holdout_accuracy")},
        "expected_error": float(expected), "expected_error_global": expected_global,
        "efficiency_ratio": float(expected / expected_global) if expected_global > 0 else float("inf"),
        "seconds": time.perf_counter() - started,
    }
    report["classifier"]["confusion"] = np.asarray(confusion).astype(int).tolist()
    dictionary = RomDictionary(
        models=tuple(models), features=features, classifier=classifier,
        settings={"clustering": settings.to_dict(), "features": config.features.to_dict(),
                  "classifier": config.classifier.to_dict(),
                  "offline": {k: v for k, v in config.offline.items()}},
        report=report,
        provenance={"training": [{"store": str(r.store), "problem": str(getattr(r.problem, "source", r.problem))}
                                 for r in config.training],
                    "config": config.source, "created_by": "nirom cluster"})
    if rank == 0:
        log.info("dictionary: %s", dictionary.summary().replace("\n", "; "))
    return dictionary


def _local_size(config: ClusterConfig) -> tuple[int | None, float | None]:
    """(n_modes, tol) of the local bases: the configuration's ``[pod.U]`` (default tol 1e-6)."""
    pod = config.offline.get("pod", {}).get("U", {})
    if isinstance(pod, dict) and "n_modes" in pod:
        return int(pod["n_modes"]), None
    return None, float(pod.get("tol", 1e-6)) if isinstance(pod, dict) else 1e-6


def _run_clusters(clusters, n_runs: int, n_clusters: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """The cluster of each run and the runs of each local model (overlap included).

    Subspace dissimilarities cluster the runs themselves; snapshot ones give a run the
    cluster of most of its snapshots, and a local model every run one of whose
    snapshots it was trained on.
    """
    owner = np.asarray(clusters.item_simulation_)
    item_labels = np.asarray(clusters.labels_, dtype=np.int64)
    labels = np.array([np.bincount(item_labels[owner == r], minlength=n_clusters).argmax() for r in range(n_runs)])
    members = [np.unique(owner[np.asarray(items, dtype=np.int64)]) for items in clusters.cluster_items_]
    empty = [k for k in range(n_clusters) if not np.any(labels == k)]
    if empty:
        raise InputError(f"clustering: no run has most of its snapshots in cluster(s) {empty}; use fewer clusters "
                         "or a subspace dissimilarity (grassmann, chordal, …)")
    return labels, members


def _global_errors(histories, labels, mass, n_modes: int, n_clusters: int, comm) -> np.ndarray:
    """Mean projection error of each cluster's runs on ONE global basis of ``n_modes`` modes, (K,)."""
    from rom.pod import pod

    basis = pod(np.concatenate(histories), inner_product=mass, n_modes=n_modes, comm=comm)
    out = np.zeros(n_clusters)
    for k in range(n_clusters):
        errors = [basis.projection_error(h, comm=comm) for h, label in zip(histories, labels) if label == k]
        out[k] = float(np.mean(errors)) if errors else 0.0
    return out


def write_report(dictionary: RomDictionary, path: str | Path) -> Path:
    """The Markdown report of a dictionary's training, with its figures (PNG beside it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from io_adapters.atomic import atomic_path, write_text_atomic

    path = Path(path)
    report = dictionary.report
    K = dictionary.n_clusters
    figures = {}

    def save(fig, name: str) -> str:
        target = path.with_name(f"{path.stem}_{name}.png")
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
        plt.close(fig)
        figures[name] = target.name
        return target.name

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.bar(range(K), report["cluster_sizes"], color="tab:blue")
    ax.set_xlabel("cluster")
    ax.set_ylabel("training runs")
    ax.set_title(f"cluster sizes (silhouette {report['silhouette']:.2f})")
    save(fig, "clusters")

    confusion = np.asarray(report["classifier"]["confusion"])
    fig, ax = plt.subplots(figsize=(4.5, 4))
    ax.imshow(confusion, cmap="Blues")
    for (i, j), v in np.ndenumerate(confusion):
        ax.text(j, i, str(v), ha="center", va="center")
    ax.set_xlabel("predicted cluster")
    ax.set_ylabel("true cluster")
    ax.set_title(f"ROM-net ({report['classifier']['chosen']}), accuracy {report['classifier']['accuracy']:.2f}")
    save(fig, "confusion")

    errors = np.asarray(report["projection_errors"])
    labels = np.asarray(report["labels"])
    own = errors[np.arange(len(labels)), labels]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.semilogy(np.sort(own), marker=".", label="own cluster's basis")
    ax.semilogy(np.sort(errors.min(axis=1)), marker=".", label="best cluster's basis")
    ax.set_xlabel("training run (sorted)")
    ax.set_ylabel("projection error")
    ax.legend()
    ax.set_title("projection error of the training runs")
    save(fig, "projection_errors")

    lines = [f"# ROM dictionary report", "", dictionary.summary(), "",
             "| cluster | runs | medoid | n-width |", "|---|---|---|---|"]
    for k in range(K):
        lines.append(f"| {k} | {report['cluster_sizes'][k]} | {report['medoids'][k]} | {report['n_widths'][k]:.2e} |")
    c = report["classifier"]
    lines += ["", f"ROM-net classifier: **{c['chosen']}**, cross-validated accuracy {c['accuracy']:.3f}, "
              f"top-2 {c['top2_accuracy']:.3f}"
              + (f", regret q50 {c['regret_q50']:.2f} / q90 {c['regret_q90']:.2f}" if "regret_q50" in c else ""),
              "", f"A-priori criterion: expected error of the dictionary {report['expected_error']:.3e}, of a global "
              f"basis of the same size {report['expected_error_global']:.3e}: ratio "
              f"**{report['efficiency_ratio']:.3f}** ({'worth building' if report['efficiency_ratio'] < 1 else 'not better than a global basis'}).",
              ""]
    lines += [f"![{name}]({file})" for name, file in figures.items()]
    write_text_atomic(path, "\n".join(lines) + "\n")
    return path
