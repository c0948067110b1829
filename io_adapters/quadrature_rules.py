"""Names of integration rules and how many points they put in each cell type.

An integration-point field stores one row per integration point: cells in the
mesh's cell order, each cell's points in the rule's order. The rule's name is
stored with the field so that consumers (``rom.fem``) use the same points; this
module only knows the *counts*, which are enough to lay out and validate rows.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

import numpy as np

from io_adapters.errors import InputError

#: Points per cell type for each named rule.
#: ``zset``: Zset's default (full) integration, in Zset's point order.
#: ``zset-reduced``: Zset's ``r``-suffixed elements (c3d20r, c3d8r, ...).
#: ``default``: nirom's own Gauss rules (``rom.fem``).
POINTS_PER_CELL: Mapping[str, Mapping[str, int]] = MappingProxyType(
    {
        "zset": MappingProxyType({
            "triangle": 3, "triangle6": 6, "quad": 4, "quad8": 9,
            "tetra": 4, "tetra10": 5, "wedge": 6, "wedge15": 18,
            "hexahedron": 8, "hexahedron20": 27,
        }),
        "zset-reduced": MappingProxyType({
            "triangle": 1, "triangle6": 3, "quad": 1, "quad8": 4,
            "tetra": 1, "tetra10": 1, "wedge": 2, "wedge15": 6,
            "hexahedron": 1, "hexahedron20": 8,
        }),
        "default": MappingProxyType({
            "triangle": 3, "triangle6": 6, "quad": 4, "quad8": 9,
            "tetra": 4, "tetra10": 4, "wedge": 6, "wedge15": 18,
            "hexahedron": 8, "hexahedron20": 27,
        }),
    }
)


def points_per_cell(rule: str, cell_type: str) -> int:
    """Number of integration points the rule puts in one cell of this type."""
    try:
        table = POINTS_PER_CELL[rule]
    except KeyError:
        raise InputError(f"unknown integration rule '{rule}' (known: {', '.join(POINTS_PER_CELL)})") from None
    try:
        return table[cell_type]
    except KeyError:
        raise InputError(f"integration rule '{rule}' has no points for cell type '{cell_type}'") from None


def count_points(cells: Mapping[str, np.ndarray], rule: str) -> int:
    """Total number of integration points of a mesh's cells under a rule."""
    return sum(len(conn) * points_per_cell(rule, t) for t, conn in cells.items())


def point_rows_of_cells(cells: Mapping[str, np.ndarray], rule: str, selected: np.ndarray) -> np.ndarray:
    """Rows of an integration-point field that belong to some cells.

    Parameters
    ----------
    cells : dict[str, (n, k) array]
        The mesh's cell blocks (their order is the cell order).
    rule : str
        Rule of the field.
    selected : (m,) int array
        Cell indices in the mesh's cell order, increasing.

    Returns
    -------
    (sum of the selected cells' point counts,) int array
        Row indices, cell by cell, each cell's points in rule order.
    """
    selected = np.asarray(selected, dtype=np.int64)
    counts = np.concatenate([np.full(len(c), points_per_cell(rule, t), dtype=np.int64) for t, c in cells.items()])
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    n = counts[selected]
    first = np.repeat(starts[selected], n)
    within = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    return first + within
