"""Local reduced bases: cluster the training data, one POD basis per cluster.

:class:`LocalBases` groups training simulations (or their snapshots) by a
physics-informed dissimilarity, then builds one :class:`rom.pod.ReducedBasis` per
cluster from the cluster's snapshots; a new simulation is routed to the cluster of
its nearest medoid by the same dissimilarity.

==================  ===============  ======================================================
``dissimilarity``   items            clustering
==================  ===============  ======================================================
``"grassmann"``,    simulations      k-medoids on principal-angle metrics between the
``"chordal"``,                       simulations' POD subspaces of rank ``rank``
``"projection"``,                    (:func:`clustering.dissimilarity.subspace_dissimilarity`)
``"binet_cauchy"``
``"angle"``         snapshots        k-medoids on ``sin∠_M`` between snapshots (scale-invariant)
``"euclidean"``     snapshots        k-means on ``‖u − v‖_M`` (the classic baseline)
==================  ===============  ======================================================

The subspace and angle dissimilarities ignore amplitudes: two runs that differ by
the load level but deform the same way fall in the same cluster, where Euclidean
k-means separates small from large amplitudes instead.

**Overlap.** With ``overlap = f > 0`` each cluster's basis is also trained on the
``ceil(f · size)`` items outside it nearest to its medoid (k-means: its centroid) by
the same dissimilarity (10 % is the usual choice in Kratos/AERO-F; default 0). The
labels and the routing are unchanged; :attr:`LocalBases.cluster_items_` lists the
items of each basis.

**Distribution.** Every rank passes its rows (dofs) of every simulation and its part
of the inner product (e.g. the mass matrix of its cells); dissimilarities come from
one Allreduce of a Gram matrix, the bases from :func:`rom.pod.pod`: labels, medoids,
dissimilarities, widths and silhouette are the same on every rank, each rank keeps
its rows of the bases.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np

import io_adapters
from clustering.dissimilarity import (SNAPSHOT_METRICS, SUBSPACE_METRICS, angle_from_gram,
                                      cross_snapshot_dissimilarity, cross_subspace_dissimilarity,
                                      euclidean_from_gram, gram_coordinates, simulation_bases, snapshot_gram,
                                      subspace_dissimilarity)
from clustering.kmedoids import kmeans, kmedoids
from clustering.quality import kolmogorov_width, silhouette
from io_adapters.errors import ConfigError, InputError, MeshMismatchError, NiromError
from io_adapters.mesh import Mesh
from io_adapters.simulation import Simulation
from rom.pod import pod
from rom.pod.inner_product import agree, allreduce_sum, as_inner_product
from rom.pod.snapshots import snapshot_rows
from rom.pod.truncation import check_criteria

__all__ = ["DISSIMILARITIES", "LocalBases", "simulation_rows"]

#: Accepted ``dissimilarity`` values.
DISSIMILARITIES = SUBSPACE_METRICS + SNAPSHOT_METRICS


# ================================================================ inputs
def _mesh_difference(a: Mesh, b: Mesh) -> str | None:
    """Why two meshes differ, or None when they are the same."""
    if a is b:
        return None
    if a.n_nodes != b.n_nodes:
        return f"{a.n_nodes} vs {b.n_nodes} nodes"
    if tuple(a.cells) != tuple(b.cells) or any(a.cells[t].shape != b.cells[t].shape for t in a.cells):
        return (f"cells {', '.join(f'{len(c)} {t}' for t, c in a.cells.items())} vs "
                f"{', '.join(f'{len(c)} {t}' for t, c in b.cells.items())}")
    if any(not np.array_equal(a.cells[t], b.cells[t]) for t in a.cells):
        return "different connectivity"
    scale = max(float(np.abs(a.points).max(initial=0.0)), 1.0)
    if not np.allclose(a.points, b.points, rtol=0.0, atol=1e-10 * scale):
        return "different node coordinates"
    return None


def _read_one(item, index: int, field: str) -> tuple[np.ndarray, Mesh | None, str]:
    """Rows of one simulation, its mesh (None for an array) and a name for messages."""
    name = f"simulation {index}"
    if isinstance(item, (str, os.PathLike)):
        name = f"simulation {index} ({os.fspath(item)})"
        item = io_adapters.read(item)
    if isinstance(item, Simulation):
        if field not in item.fields:
            raise InputError(f"{name}: no field {field!r} (fields: {', '.join(item.fields) or 'none'})")
        values = item.fields[field].read()                   # (n_t, n_rows, n_components)
        return values.reshape(values.shape[0], -1), item.mesh, name
    return snapshot_rows(item, where=name), None, name


def simulation_rows(simulations: Sequence, *, field: str = "U", comm=None) -> tuple[list[np.ndarray], Mesh | None]:
    """Snapshot rows of training simulations given as arrays, Simulations or store paths.

    Parameters
    ----------
    simulations : list of (n_snapshots_s, n_local_dofs) arrays, Simulation or paths
        This rank's rows of each simulation: an array (one snapshot per row), an
        :class:`io_adapters.Simulation` (read on this rank's rows, e.g. with
        ``io_adapters.read(path, cells=...)``), or a path read with
        :func:`io_adapters.read`.
    field : str
        Field of Simulations and paths; its ``(n_t, n_rows, n_components)`` values
        become ``(n_t, n_rows · n_components)`` rows (node-major dofs).
    comm : mpi4py communicator, optional
        An error on one rank is raised on every rank.

    Returns
    -------
    rows : list of (n_snapshots_s, n_local_dofs) arrays
    mesh : Mesh or None
        The mesh of the Simulations (None when every input is an array).

    Raises
    ------
    InputError
        Empty list, missing field, non-numeric or non-2D arrays, ranks holding
        different numbers of snapshots.
    MeshMismatchError
        Simulations on different meshes, or of different sizes (naming both).
    """
    error, rows, mesh = None, [], None
    try:
        if isinstance(simulations, (np.ndarray, str, os.PathLike, Simulation)) or not isinstance(
                simulations, Sequence) or len(simulations) == 0:
            raise InputError("expected a non-empty list of simulations (arrays, Simulations or store paths), found "
                             f"{type(simulations).__name__}")
        names, first_mesh = [], None
        for index, item in enumerate(simulations):
            values, item_mesh, name = _read_one(item, index, field)
            if item_mesh is not None:
                if first_mesh is None:
                    first_mesh = (item_mesh, name)
                elif (why := _mesh_difference(first_mesh[0], item_mesh)) is not None:
                    raise MeshMismatchError(f"{name} and {first_mesh[1]} are on different meshes ({why})")
            if rows and values.shape[1] != rows[0].shape[1]:
                raise MeshMismatchError(f"{name} has {values.shape[1]} local dofs per snapshot but {names[0]} has "
                                        f"{rows[0].shape[1]}: simulations on different meshes or fields?")
            rows.append(values)
            names.append(name)
        mesh = None if first_mesh is None else first_mesh[0]
    except NiromError as exc:
        error = exc
    agree(comm, error, count=tuple(r.shape[0] for r in rows) if error is None else None,
          what="snapshots per simulation", where="LocalBases")
    return rows, mesh


# ================================================================ the estimator
class LocalBases:
    """Clustered local POD bases (scikit-learn style: parameters at construction, ``fit``, ``predict``).

    Parameters
    ----------
    n_clusters : int
        Number of clusters ``K``.
    dissimilarity : {"grassmann", "chordal", "projection", "binet_cauchy", "angle", "euclidean"}
        See the module docstring: subspace metrics cluster simulations, ``"angle"``
        and ``"euclidean"`` cluster snapshots.
    rank : int, optional
        Rank of each simulation's POD subspace (subspace metrics only; required there).
    n_modes : int, optional
        Modes of each cluster's basis.
    tol : float, optional
        Energy tolerance of each cluster's basis instead (exactly one of ``n_modes`` and ``tol``).
    overlap : float
        In [0, 1): fraction of a cluster's size added to its basis's training items
        (the nearest outside its cluster).
    random_state : int or None
        Seed of the k-medoids / k-means initialisations.
    field : str
        Field read from Simulations and store paths.
    inner_product : None, InnerProduct, (n_local_dofs,) weights or (n_local_dofs, n_local_dofs) matrix
        This rank's part of the inner product (the mass matrix for displacements);
        identity when omitted.
    n_init : int
        k-medoids / k-means restarts.
    min_cluster_size : int
        Smallest accepted cluster (items); clusterings with a smaller one are refused
        (see :mod:`clustering.kmedoids`).
    comm : mpi4py communicator, optional
        Ranks holding the other rows; serial when omitted.

    Attributes
    ----------
    labels_ : (n_items,) int array
        Cluster of each item (simulation, or snapshot in the order of the simulations).
    medoid_indices_ : (K,) int array
        Item of each cluster's medoid (k-means: the item nearest to the centroid).
    cluster_items_ : list of (n_k,) int arrays
        Items each basis was trained on (the cluster, plus its overlap).
    bases_ : list of ReducedBasis
        One per cluster (this rank's rows), orthonormal in the inner product.
    dissimilarity_matrix_ : (n_items, n_items) array
    n_widths_ : (K,) array
        Kolmogorov n-width estimate of each cluster's training items at its basis size
        (:func:`clustering.quality.kolmogorov_width`).
    silhouette_ : float
        Mean silhouette of the labels (NaN for 1 cluster or one item per cluster).
    item_simulation_ : (n_items,) int array
        Simulation each item comes from.
    n_local_dofs_ : int
        Columns of this rank's rows.
    """

    def __init__(self, n_clusters: int, dissimilarity: str = "grassmann", rank: int | None = None,
                 n_modes: int | None = None, tol: float | None = None, overlap: float = 0.0, random_state=0,
                 field: str = "U", inner_product=None, n_init: int = 10, min_cluster_size: int = 1, comm=None):
        self.n_clusters = n_clusters
        self.dissimilarity = dissimilarity
        self.rank = rank
        self.n_modes = n_modes
        self.tol = tol
        self.overlap = overlap
        self.random_state = random_state
        self.field = field
        self.inner_product = inner_product
        self.n_init = n_init
        self.min_cluster_size = min_cluster_size
        self.comm = comm

    def __repr__(self) -> str:
        return (f"LocalBases(n_clusters={self.n_clusters!r}, dissimilarity={self.dissimilarity!r}, rank={self.rank!r}, "
                f"n_modes={self.n_modes!r}, tol={self.tol!r}, overlap={self.overlap!r})")

    # ------------------------------------------------------------------ checks
    @property
    def _by_simulation(self) -> bool:
        return self.dissimilarity in SUBSPACE_METRICS

    def _check_parameters(self) -> None:
        where = "LocalBases"
        if self.dissimilarity not in DISSIMILARITIES:
            raise ConfigError(f"{where}: dissimilarity must be one of {DISSIMILARITIES}, found {self.dissimilarity!r}")
        if isinstance(self.n_clusters, bool) or not isinstance(self.n_clusters, (int, np.integer)):
            raise ConfigError(f"{where}: n_clusters must be an integer, found {self.n_clusters!r}")
        if self._by_simulation:
            if self.rank is None:
                raise ConfigError(f"{where}: dissimilarity={self.dissimilarity!r} compares the simulations' POD "
                                  "subspaces: give their rank (rank=)")
            check_criteria(None, self.rank, where=f"{where} (rank)")
        check_criteria(self.tol, self.n_modes, where=f"{where} (cluster bases: n_modes or tol)")
        if isinstance(self.overlap, bool) or not isinstance(self.overlap, (int, float, np.floating)) or not (
                0.0 <= self.overlap < 1.0):
            raise ConfigError(f"{where}: overlap must be a fraction in [0, 1), found {self.overlap!r}")
        if not isinstance(self.field, str):
            raise ConfigError(f"{where}: field must be a field name, found {self.field!r}")

    def _check_fitted(self, where: str) -> None:
        if not hasattr(self, "bases_"):
            raise InputError(f"LocalBases.{where}: not fitted yet: call fit(simulations) first")

    # ------------------------------------------------------------------ fit
    def fit(self, simulations: Sequence) -> "LocalBases":
        """Cluster the training data and build one basis per cluster.

        Parameters
        ----------
        simulations : list of (n_snapshots_s, n_local_dofs) arrays, Simulations or store paths
            This rank's rows of every training simulation (see :func:`simulation_rows`).

        Returns
        -------
        LocalBases
            ``self``, fitted.

        Raises
        ------
        ConfigError
            Inconsistent parameters.
        InputError
            Bad inputs; fewer items than clusters; no clustering meeting
            ``min_cluster_size``; a cluster basis that cannot have ``n_modes`` modes
            (named).
        MeshMismatchError
            Simulations on different meshes or of different sizes.
        """
        self._check_parameters()
        comm = self.comm
        rows, mesh = simulation_rows(simulations, field=self.field, comm=comm)
        error, product = None, None
        try:
            product = as_inner_product(self.inner_product, rows[0].shape[1], where="LocalBases")
        except NiromError as exc:
            error = exc
        agree(comm, error, where="LocalBases")
        if self._by_simulation:
            items, item_simulation = rows, np.arange(len(rows))
            training_bases = simulation_bases(rows, rank=self.rank, inner_product=product, comm=comm)
            D = subspace_dissimilarity(training_bases, metric=self.dissimilarity, inner_product=product, comm=comm)
            part = kmedoids(D, self.n_clusters, n_init=self.n_init, random_state=self.random_state,
                            min_cluster_size=self.min_cluster_size)
            labels, medoids = part.labels, part.medoids
            reference = [training_bases[m] for m in medoids]
            to_medoid = D[medoids]
        else:
            items = np.concatenate(rows, axis=0)
            item_simulation = np.concatenate([np.full(r.shape[0], s) for s, r in enumerate(rows)])
            G = snapshot_gram(items, inner_product=product, comm=comm, where="LocalBases")
            if self.dissimilarity == "angle":
                D = angle_from_gram(G, where="LocalBases (angle)")
                part = kmedoids(D, self.n_clusters, n_init=self.n_init, random_state=self.random_state,
                                min_cluster_size=self.min_cluster_size)
                labels, medoids = part.labels, part.medoids
                reference = items[medoids].copy()
                to_medoid = D[medoids]
            else:
                labels, medoids, reference, to_medoid = self._kmeans(items, G)
                D = euclidean_from_gram(G)
        cluster_items = _with_overlap(labels, to_medoid, self.overlap)
        bases = []
        for k, members in enumerate(cluster_items):
            snapshots = np.concatenate([items[i] for i in members]) if self._by_simulation else items[members]
            try:
                bases.append(pod(snapshots, inner_product=product, n_modes=self.n_modes, tol=self.tol, comm=comm))
            except NiromError as exc:
                raise type(exc)(f"LocalBases: cluster {k} ({members.size} items, {snapshots.shape[0]} snapshots): "
                                f"{exc}") from exc
        n_labels = np.unique(labels).size
        self.labels_ = labels
        self.medoid_indices_ = medoids
        self.item_simulation_ = item_simulation
        self.dissimilarity_matrix_ = D
        self.cluster_items_ = cluster_items
        self.bases_ = bases
        self.n_widths_ = np.array([kolmogorov_width(b.singular_values, b.n_modes) for b in bases])
        self.silhouette_ = silhouette(D, labels) if 2 <= n_labels <= D.shape[0] - 1 else float("nan")
        self.n_local_dofs_ = rows[0].shape[1]
        self._reference, self._product, self._mesh = reference, product, mesh
        return self

    def _kmeans(self, X: np.ndarray, G: np.ndarray):
        """k-means on the Gram coordinates (exact M-distances), the same labels on every rank."""
        coordinates = gram_coordinates(G)
        result = kmeans(coordinates, self.n_clusters, n_init=self.n_init, random_state=self.random_state)
        labels = result.labels
        if self.comm is not None and self.comm.size > 1:
            labels = self.comm.bcast(labels, root=0)           # sklearn's threads: decide once
        k = self.n_clusters
        sizes = np.bincount(labels, minlength=k)
        if sizes.min() < self.min_cluster_size:
            raise InputError(f"LocalBases: k-means found clusters of sizes {sizes.tolist()}, below "
                             f"min_cluster_size={self.min_cluster_size}; ask for fewer clusters")
        weights = np.zeros((k, labels.size))
        weights[labels, np.arange(labels.size)] = 1.0
        weights /= sizes[:, None]
        centres = weights @ coordinates                          # (K, r)
        to_centre = np.sqrt(((coordinates[None, :, :] - centres[:, None, :]) ** 2).sum(axis=2))   # (K, n)
        member_distance = np.where(labels[None, :] == np.arange(k)[:, None], to_centre, np.inf)
        medoids = np.argmin(member_distance, axis=1)
        return labels, medoids, weights @ X, to_centre

    # ------------------------------------------------------------------ use
    def _rows(self, simulations, where: str) -> list[np.ndarray]:
        rows, mesh = simulation_rows(simulations, field=self.field, comm=self.comm)
        error = None
        if rows[0].shape[1] != self.n_local_dofs_:
            error = MeshMismatchError(f"LocalBases.{where}: the simulations have {rows[0].shape[1]} local dofs per "
                                      f"snapshot, the training ones {self.n_local_dofs_}")
        elif mesh is not None and self._mesh is not None and (why := _mesh_difference(self._mesh, mesh)):
            error = MeshMismatchError(f"LocalBases.{where}: the simulations are not on the training mesh ({why})")
        agree(self.comm, error, where=f"LocalBases.{where}")
        return rows

    def _assign(self, rows: list[np.ndarray]) -> np.ndarray:
        comm, product = self.comm, self._product
        if self._by_simulation:
            bases = simulation_bases(rows, rank=self.rank, inner_product=product, comm=comm)
            D = cross_subspace_dissimilarity(bases, self._reference, metric=self.dissimilarity,
                                             inner_product=product, comm=comm)
        else:
            D = cross_snapshot_dissimilarity(np.concatenate(rows, axis=0), self._reference, metric=self.dissimilarity,
                                             inner_product=product, comm=comm)
        return np.argmin(D, axis=1)

    def predict(self, simulations: Sequence) -> np.ndarray:
        """Cluster of new items: nearest medoid (k-means: centroid) by the same dissimilarity.

        Parameters
        ----------
        simulations : list of arrays, Simulations or store paths
            This rank's rows of each new simulation (same mesh and field as in ``fit``).

        Returns
        -------
        (n_simulations,) or (n_snapshots,) int array
            One label per simulation (subspace metrics) or per snapshot, in order
            (``"angle"``, ``"euclidean"``); the same on every rank.
        """
        self._check_fitted("predict")
        return self._assign(self._rows(simulations, "predict"))

    def projection_error(self, simulation_or_snapshots, *, cluster: int | None = None) -> float:
        """Relative projection error of one simulation on the local bases.

        ``sqrt(Σ_t ‖x_t − P x_t‖²_M / Σ_t ‖x_t‖²_M)`` with ``P`` the projection on the
        basis of ``cluster``, or, when omitted, of the predicted cluster: the
        simulation's (subspace metrics) or each snapshot's own (``"angle"``,
        ``"euclidean"``).

        Parameters
        ----------
        simulation_or_snapshots : (n_snapshots, n_local_dofs) array, Simulation or store path
            This rank's rows of one simulation.
        cluster : int, optional
            Basis to project on.

        Returns
        -------
        float
            The same on every rank (0 for zero snapshots).
        """
        self._check_fitted("projection_error")
        if isinstance(cluster, bool) or (cluster is not None and (
                not isinstance(cluster, (int, np.integer)) or not 0 <= cluster < len(self.bases_))):
            raise ConfigError(f"LocalBases.projection_error: cluster must be an integer in [0, {len(self.bases_)}), "
                              f"found {cluster!r}")
        X = self._rows([simulation_or_snapshots], "projection_error")[0]
        if cluster is not None:
            labels = np.full(X.shape[0], cluster)
        elif self._by_simulation:
            labels = np.full(X.shape[0], self._assign([X])[0])
        else:
            labels = self._assign([X])
        product = self._product
        residual = np.zeros(X.shape[0])
        for k in np.unique(labels):
            rows = labels == k
            basis = self.bases_[k]
            coordinates = basis.project(X[rows], comm=self.comm)
            residual[rows] = product.squared_norms(X[rows] - coordinates @ basis.modes)
        errors, norms = allreduce_sum(np.array([residual.sum(), product.squared_norms(X).sum()]), self.comm)
        return float(math.sqrt(errors / norms)) if norms > 0 else 0.0


def _with_overlap(labels: np.ndarray, to_medoid: np.ndarray, overlap: float) -> list[np.ndarray]:
    """Items of each cluster plus the ``ceil(overlap · size)`` outside ones nearest to its medoid.

    Parameters
    ----------
    labels : (n,) int array
    to_medoid : (K, n) array
        Dissimilarity of every item to each cluster's medoid (or centroid).
    overlap : float

    Returns
    -------
    list of (n_k,) increasing int arrays
    """
    out = []
    for k in range(to_medoid.shape[0]):
        members = np.flatnonzero(labels == k)
        extra = math.ceil(overlap * members.size - 1e-9) if overlap > 0 else 0
        if extra:
            outside = np.flatnonzero(labels != k)
            nearest = outside[np.argsort(to_medoid[k, outside], kind="stable")[:extra]]
            members = np.union1d(members, nearest)
        out.append(members)
    return out

