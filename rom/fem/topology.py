"""Element topology in meshio/VTK order: edges, outward faces, boundary facets.

The tables and the per-cell facets are :mod:`io_adapters.cell_topology`'s (the
submodel cut uses them too); this module adds the boundary facets of a mesh.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from io_adapters.cell_topology import (EDGES, FACETS, LINEAR, QUADRATIC, facet_connectivity, facet_keys,
                                       local_facets)

__all__ = ["EDGES", "FACETS", "LINEAR", "QUADRATIC", "boundary_facets", "facet_connectivity", "local_facets"]


def boundary_facets(cells: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Facets that belong to exactly one cell, outward, grouped by facet type.

    Parameters
    ----------
    cells : dict[str, (n, k) int array]
        Cell blocks of a conforming mesh.

    Returns
    -------
    dict[str, (n_f, m) int array]
    """
    facets: dict[str, list[np.ndarray]] = {}
    for cell_type, conn in cells.items():
        for facet_type, fconn in facet_connectivity(cell_type, conn).items():
            facets.setdefault(facet_type, []).append(fconn)
    merged = {t: np.concatenate(parts) for t, parts in facets.items()}
    # identify facets by their sorted corner nodes (first 2, 3 or 4 entries)
    keys, owners = [], []
    for t, conn in merged.items():
        keys.append(facet_keys(t, conn))
        owners.append(np.stack([np.full(len(conn), list(merged).index(t)), np.arange(len(conn))], axis=1))
    if not keys:
        return {}
    keys = np.concatenate(keys)
    owners = np.concatenate(owners)
    _, inverse, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    single = counts[inverse.ravel()] == 1
    out = {}
    for i, t in enumerate(merged):
        rows = owners[single & (owners[:, 0] == i), 1]
        if len(rows):
            out[t] = merged[t][rows]
    return out
