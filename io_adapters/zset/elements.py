"""Zset element and facet types, and their node order relative to meshio/VTK.

Every permutation ``p`` below is applied as ``vtk_conn[k] = zset_conn[p[k]]``
(ZSET_FORMAT.md §1.2); :func:`to_zset_order` applies the inverse.

Wedge orientation
-----------------
ZSET_FORMAT.md §1.2 leaves open whether Zset's wedges must be reversed for VTK
(an older reader used ``[0,2,1,3,5,4]``). Decision: **no reversal**; ``c3d6`` is
the identity and ``c3d15`` only moves its mid-edge nodes. The c3d6 reference
element (nodes 1-3 at (0,0,-1), (1,0,-1), (0,1,-1), 4-6 above) is the
parametric layout of VTK's wedge, and on the wedges of ``multielements3D.geof``
(c3d15 elements 3, 4 and c3d6 elements 10, 11, unit-height prisms):

- ``det(dx/dxi)`` at the centre, with VTK's parametric coordinates (node 0 at
  (0,0,0), 1 at (1,0,0), 2 at (0,1,0), 3-5 one unit higher), is positive for the
  identity order and negative for the reversed one;
- VTK 9.7.2's ``vtkCellValidator`` finds the cells valid in the identity order
  and flags "faces oriented incorrectly" in the reversed order, and
  ``vtkCellSizeFilter`` gives a volume of +0.5 per cell (identity) against -0.5
  (reversed), for ``VTK_WEDGE`` and ``VTK_QUADRATIC_WEDGE`` alike.

The tests repeat the Jacobian check on every element family of the
multi-element meshes, and the VTK check when ``vtk`` is installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

import numpy as np


@dataclass(frozen=True)
class ElementType:
    """One Zset element (or facet) type.

    Attributes
    ----------
    name : str
        Zset name (``c3d20r``, ``q8``...).
    cell_type : str
        meshio cell type.
    permutation : (n_nodes,) int tuple
        ``vtk_conn[k] = zset_conn[permutation[k]]``.
    reduced : bool
        Reduced integration (``r`` suffix).
    """

    name: str
    cell_type: str
    permutation: tuple[int, ...]
    reduced: bool = False

    @property
    def n_nodes(self) -> int:
        return len(self.permutation)

    @property
    def rule(self) -> str:
        """Name of the integration rule of its integration-point fields."""
        return "zset-reduced" if self.reduced else "zset"


def _identity(n: int) -> tuple[int, ...]:
    return tuple(range(n))


_VOLUME_BASE = {
    "c2d3": ("triangle", _identity(3)),
    "c2d4": ("quad", _identity(4)),
    "c2d6": ("triangle6", (0, 2, 4, 1, 3, 5)),
    "c2d8": ("quad8", (0, 2, 4, 6, 1, 3, 5, 7)),
    "c3d4": ("tetra", _identity(4)),
    "c3d10": ("tetra10", (0, 1, 2, 9, 3, 4, 5, 6, 7, 8)),
    "c3d6": ("wedge", _identity(6)),
    "c3d15": ("wedge15", (0, 2, 4, 9, 11, 13, 1, 3, 5, 10, 12, 14, 6, 7, 8)),
    "c3d8": ("hexahedron", _identity(8)),
    "c3d20": ("hexahedron20", (0, 2, 4, 6, 12, 14, 16, 18, 1, 3, 5, 7, 13, 15, 17, 19, 8, 9, 10, 11)),
}

#: Volume (and 2D) element types, with their ``r`` (reduced integration) variants,
#: plus ``c3d5`` (pyramid, identity order): meshes only, its integration points
#: are not documented, so results on it are refused.
ELEMENTS: Mapping[str, ElementType] = MappingProxyType(
    {
        **{name: ElementType(name, cell, perm) for name, (cell, perm) in _VOLUME_BASE.items()},
        **{name + "r": ElementType(name + "r", cell, perm, reduced=True)
           for name, (cell, perm) in _VOLUME_BASE.items()},
        "c3d5": ElementType("c3d5", "pyramid", _identity(5)),
    }
)

#: Facet types of ``**faset`` (faces) and ``**liset`` (edges), by (name, node count).
FACETS: Mapping[tuple[str, int], ElementType] = MappingProxyType(
    {
        ("t3", 3): ElementType("t3", "triangle", _identity(3)),
        ("t6", 6): ElementType("t6", "triangle6", (0, 2, 4, 1, 3, 5)),
        ("q4", 4): ElementType("q4", "quad", _identity(4)),
        ("quad4", 4): ElementType("q4", "quad", _identity(4)),
        ("q8", 8): ElementType("q8", "quad8", (0, 2, 4, 6, 1, 3, 5, 7)),
        ("line", 2): ElementType("line", "line", _identity(2)),
        ("l2d2", 2): ElementType("line", "line", _identity(2)),
        ("quad", 3): ElementType("quad", "line3", (0, 2, 1)),
    }
)

#: Zset name written for each meshio type (full integration).
ZSET_NAME: Mapping[str, str] = MappingProxyType(
    {e.cell_type: e.name for e in ELEMENTS.values() if not e.reduced}
)

#: Zset facet name written for each meshio facet type.
FACET_NAME: Mapping[str, str] = MappingProxyType(
    {"triangle": "t3", "triangle6": "t6", "quad": "q4", "quad8": "q8", "line": "line", "line3": "quad"}
)

#: Facet types by name only, for error messages.
FACET_NAMES = tuple(sorted({name for name, _ in FACETS}))


def to_vtk_order(zset_conn: np.ndarray, kind: ElementType) -> np.ndarray:
    """Connectivity in meshio/VTK order, shape (n, n_nodes)."""
    return np.asarray(zset_conn)[:, list(kind.permutation)]


def to_zset_order(vtk_conn: np.ndarray, cell_type: str, *, facet: bool = False) -> np.ndarray:
    """Connectivity in Zset order (inverse permutation), shape (n, n_nodes)."""
    if facet:
        kind = next(e for (name, _), e in FACETS.items() if e.cell_type == cell_type)
    else:
        kind = ELEMENTS[ZSET_NAME[cell_type]]
    inverse = np.argsort(kind.permutation)
    return np.asarray(vtk_conn)[:, inverse]
