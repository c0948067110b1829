"""How good a clustering is: silhouette of a partition, Kolmogorov n-width of a cluster.

- :func:`silhouette`: mean silhouette ``s_i = (b_i − a_i) / max(a_i, b_i)`` of the
  items on a precomputed dissimilarity matrix (``a_i``: mean dissimilarity to the
  other items of its cluster, ``b_i``: smallest mean dissimilarity to another
  cluster; ``s_i = 0`` in a cluster of one item). In [−1, 1], higher is better;
  scikit-learn's ``silhouette_score(metric="precomputed")``.
- :func:`kolmogorov_width`: the estimate ``sqrt(Σ_{k>N} σ_k² / Σ_k σ_k²)`` of the
  relative Kolmogorov N-width of a cluster from the singular values of its snapshots
  (in the inner product): the relative projection error of those snapshots on
  their best N-dimensional subspace (the POD one). A cluster whose width falls fast
  with N is well approximated by a small local basis.
"""

from __future__ import annotations

import numpy as np

from clustering.dissimilarity import check_dissimilarity
from io_adapters.errors import ConfigError, InputError

__all__ = ["kolmogorov_width", "silhouette"]


def silhouette(D, labels) -> float:
    """Mean silhouette of a partition, on precomputed dissimilarities.

    Parameters
    ----------
    D : (n_items, n_items) array_like
        Dissimilarity matrix (checked by :func:`clustering.dissimilarity.check_dissimilarity`).
    labels : (n_items,) int array_like
        Cluster of each item.

    Returns
    -------
    float
        In [−1, 1].

    Raises
    ------
    InputError
        Bad matrix, labels of the wrong length, fewer than 2 clusters or as many
        clusters as items (the silhouette is undefined there).
    """
    from sklearn.metrics import silhouette_score

    D = check_dissimilarity(D, name="silhouette: the dissimilarity matrix")
    labels = np.asarray(labels)
    if labels.shape != (D.shape[0],):
        raise InputError(f"silhouette: labels must have shape ({D.shape[0]},) like the matrix, found {labels.shape}")
    n_clusters = np.unique(labels).size
    if not 2 <= n_clusters <= D.shape[0] - 1:
        raise InputError(f"silhouette: undefined for {n_clusters} cluster(s) of {D.shape[0]} items (needs 2 to "
                         f"{D.shape[0] - 1} clusters)")
    return float(silhouette_score(D, labels, metric="precomputed"))


def kolmogorov_width(singular_values, n_modes):
    """Relative Kolmogorov n-width estimate ``sqrt(Σ_{k>N} σ_k² / Σ_k σ_k²)``.

    Parameters
    ----------
    singular_values : (n,) array_like
        All singular values of a cluster's snapshots (e.g.
        ``rom.pod.ReducedBasis.singular_values`` of the method of snapshots), ≥ 0.
    n_modes : int or (m,) int array_like
        ``N`` in ``[0, n]``.

    Returns
    -------
    float or (m,) array
        In [0, 1]; 0 when every singular value is 0.

    Raises
    ------
    InputError
        Singular values not 1D, negative or non-finite.
    ConfigError
        ``N`` not an integer in ``[0, n]``.
    """
    sigma = np.asarray(singular_values, dtype=np.float64)
    if sigma.ndim != 1 or not np.all(np.isfinite(sigma)) or np.any(sigma < 0):
        raise InputError(f"kolmogorov_width: singular_values must be a 1D array of finite values ≥ 0, found shape "
                         f"{sigma.shape}")
    N = np.asarray(n_modes)
    if N.dtype.kind not in "iu" or np.any(N < 0) or np.any(N > sigma.size):
        raise ConfigError(f"kolmogorov_width: n_modes must be integers in [0, {sigma.size}], found {n_modes!r}")
    energy = np.sort(sigma)[::-1] ** 2
    tail = np.concatenate([np.cumsum(energy[::-1])[::-1], [0.0]])     # tail[N] = Σ_{k>N} σ_k²
    total = tail[0]
    width = np.sqrt(tail[N] / total) if total > 0 else np.zeros(N.shape)
    return float(width) if N.ndim == 0 else width
