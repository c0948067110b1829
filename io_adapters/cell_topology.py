"""Cell topology in meshio/VTK order: edges, outward facets, facet keys.

The one table of nirom's cell types, shared by :mod:`io_adapters.submodel` (the cut of a
zone) and :mod:`rom.fem.topology` (boundary facets, surface loads). Facets are listed
so that their right-hand-rule normal ``∂x/∂ξ × ∂x/∂η`` (3D) or ``t × e_z`` (2D edges)
points out of the cell, the orientation surface loads use.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

import numpy as np

from io_adapters.errors import InputError

__all__ = ["EDGES", "FACETS", "FACET_CORNERS", "LINEAR", "QUADRATIC", "facet_connectivity", "facet_keys",
           "local_facets"]

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

#: Corner nodes of each facet type (the first entries of its connectivity).
FACET_CORNERS: Mapping[str, int] = MappingProxyType(
    {"line": 2, "line3": 2, "triangle": 3, "triangle6": 3, "quad": 4, "quad8": 4})

_FACET_TYPE = MappingProxyType({2: "line", 3: "triangle", 4: "quad"})


def local_facets(cell_type: str) -> list[tuple[str, tuple[int, ...]]]:
    """Outward facets of a cell type: (facet type, local node indices in VTK facet order).

    Raises
    ------
    InputError
        A cell type without facets here (the supported ones are named).
    """
    linear = LINEAR.get(cell_type, cell_type)
    if linear not in FACETS:
        supported = sorted({*FACETS, *(QUADRATIC[t] for t in FACETS)})
        raise InputError(f"cells of type '{cell_type}' are not supported (supported: {', '.join(supported)})")
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
    for facet_type, local in local_facets(cell_type):
        grouped.setdefault(facet_type, []).append(list(local))
    return {t: connectivity[:, np.array(locals_)].reshape(-1, len(locals_[0])) for t, locals_ in grouped.items()}


def facet_keys(facet_type: str, connectivity: np.ndarray) -> np.ndarray:
    """Keys that identify facets whatever their cell: sorted corners padded with -1, (n, 4)."""
    n_corners = FACET_CORNERS[facet_type]
    return np.pad(np.sort(connectivity[:, :n_corners], axis=1), ((0, 0), (0, 4 - n_corners)), constant_values=-1)
