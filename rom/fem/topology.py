"""Element topology in meshio/VTK order: edges, outward faces, boundary facets.

Facets are listed so that their right-hand-rule normal ``∂x/∂ξ × ∂x/∂η`` (3D) or
``t × e_z`` (2D edges) points out of the cell, the orientation surface loads use.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

import numpy as np

__all__ = ["EDGES", "FACETS", "QUADRATIC", "boundary_facets", "facet_connectivity"]

#: Edges of the linear cell types (pairs of corner indices), in the order of the
#: mid-edge nodes of their quadratic counterparts.
EDGES: Mapping[str, tuple[tuple[int, int], ...]] = MappingProxyType({
    "line": ((0, 1),),
    "triangle": ((0, 1), (1, 2), (2, 0)),
    "quad": ((0, 1), (1, 2), (2, 3), (3, 0)),
    "tetra": ((0, 1), (1, 2), (2, 0), (0, 3), (1, 3), (2, 3)),
    "wedge": ((0, 1), (1, 2), (2, 0), (3, 4), (4, 5), (5, 3), (0, 3), (1, 4), (2, 5)),
    "hexahedron": ((0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4),
                   (0, 4), (1, 5), (2, 6), (3, 7)),
})

#: Quadratic (mid-edge) counterpart of each linear type, and back.
QUADRATIC: Mapping[str, str] = MappingProxyType({
    "line": "line3", "triangle": "triangle6", "quad": "quad8", "tetra": "tetra10",
    "wedge": "wedge15", "hexahedron": "hexahedron20",
})
LINEAR: Mapping[str, str] = MappingProxyType({v: k for k, v in QUADRATIC.items()})

#: Outward facets of the linear types, as corner lists.
FACETS: Mapping[str, tuple[tuple[int, ...], ...]] = MappingProxyType({
    "triangle": ((0, 1), (1, 2), (2, 0)),
    "quad": ((0, 1), (1, 2), (2, 3), (3, 0)),
    "tetra": ((0, 2, 1), (0, 1, 3), (0, 3, 2), (1, 2, 3)),
    "wedge": ((0, 2, 1), (3, 4, 5), (0, 1, 4, 3), (1, 2, 5, 4), (2, 0, 3, 5)),
    "hexahedron": ((0, 3, 2, 1), (4, 5, 6, 7), (0, 1, 5, 4), (1, 2, 6, 5), (2, 3, 7, 6), (3, 0, 4, 7)),
})

_FACET_TYPE = {2: "line", 3: "triangle", 4: "quad"}


def _local_facets(cell_type: str) -> list[tuple[str, tuple[int, ...]]]:
    """Outward facets of a cell type as (facet type, local node indices in VTK facet order)."""
    linear = LINEAR.get(cell_type, cell_type)
    corners = FACETS[linear]
    if cell_type == linear:
        return [(_FACET_TYPE[len(f)], f) for f in corners]
    n_corners = {"triangle": 3, "quad": 4, "tetra": 4, "wedge": 6, "hexahedron": 8}[linear]
    mid = {frozenset(e): n_corners + i for i, e in enumerate(EDGES[linear])}
    out = []
    for f in corners:
        linear_facet = _FACET_TYPE[len(f)]
        if linear_facet == "line":
            out.append(("line3", f + (mid[frozenset(f)],)))  # VTK line3: ends, then middle
        else:
            mids = tuple(mid[frozenset((f[i], f[(i + 1) % len(f)]))] for i in range(len(f)))
            out.append((QUADRATIC[linear_facet], f + mids))
    return out


def facet_connectivity(cell_type: str, connectivity: np.ndarray) -> dict[str, np.ndarray]:
    """All outward facets of cells, grouped by facet type.

    Parameters
    ----------
    cell_type : str
    connectivity : (n_cells, k) int array

    Returns
    -------
    dict[str, (n_cells * n_facets_of_type, m) int array]
        Facets cell-major (cell 0's facets of that type, then cell 1's, ...).
    """
    grouped: dict[str, list] = {}
    for facet_type, local in _local_facets(cell_type):
        grouped.setdefault(facet_type, []).append(list(local))
    return {t: connectivity[:, np.array(locals_)].reshape(-1, len(locals_[0])) for t, locals_ in grouped.items()}


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
        n_corners = {"line": 2, "line3": 2, "triangle": 3, "triangle6": 3, "quad": 4, "quad8": 4}[t]
        key = np.sort(conn[:, :n_corners], axis=1)
        key = np.pad(key, ((0, 0), (0, 4 - n_corners)), constant_values=-1)
        keys.append(key)
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
