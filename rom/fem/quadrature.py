"""Integration rules on the reference elements of :mod:`rom.fem.elements`.

Rule names are those of :mod:`io_adapters.quadrature_rules`, whose point counts are
the one table of them (the rows of integration-point fields follow it):
:func:`quadrature_rule` refuses a rule that would disagree. Plus one rule for
operators only:

``"default"``
    nirom's Gauss rules: tensor Gauss–Legendre on quadrilaterals and hexahedra
    (2×2, 3×3, 2×2×2, 3×3×3, ξ fastest), the 3- and 6-point triangle rules
    (degrees 2 and 4), the 4-point tetrahedron rule (degree 2) for both ``tetra``
    and ``tetra10``, and triangle × Gauss products on wedges (3×2, 6×3 points).
``"zset"``
    Zset's full integration, points *in Zset's order* with Zset's weights
    (ZSET_FORMAT.md §3): ξ fastest on hexahedra, **η fastest** on quadrilaterals,
    c3d10's 5 points with the negative centroid weight, ... Zset's reference
    frames coincide with VTK's once the reader has permuted the nodes (for c3d10
    the apex, Zset node 10, becomes VTK node 3 on the ζ axis), so the points are
    used as they are.
``"zset-reduced"``
    The rules of Zset's ``r`` elements (c3d20r, c3d8r, ...). Those of c2d6r and
    c2d8r are not documented: the c2d3 and c2d4 rules are assumed.
``"high"``
    Rules of degree ≥ 4 with positive weights (Gauss products, the 6-point
    triangle rule, Stroud's 27-point conical product on tetrahedra), for exact
    consistent mass matrices and loads on any element.
    Not a rule of integration-point fields.

Facet types used by surface loads (``line``, ``line3``) have Gauss rules under
every name (2 and 3 points; 1 and 2 for ``"zset-reduced"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from io_adapters.errors import InputError
from io_adapters.quadrature_rules import POINTS_PER_CELL

__all__ = ["QuadratureRule", "quadrature_rule", "RULES"]

#: Rule names known to :func:`quadrature_rule`.
RULES: tuple[str, ...] = ("default", "zset", "zset-reduced", "high")

_G = 1.0 / np.sqrt(3.0)
_A = np.sqrt(0.6)


@dataclass(frozen=True, eq=False)
class QuadratureRule:
    """Points and weights of an integration rule on a reference element.

    Attributes
    ----------
    cell_type : str
        meshio cell type.
    name : str
        Rule name (see :data:`RULES`).
    points : (n_points, dim) float array
        Reference coordinates, in the rule's order.
    weights : (n_points,) float array
        Reference weights (they sum to the reference measure; some may be negative).
    """

    cell_type: str
    name: str
    points: np.ndarray
    weights: np.ndarray

    def __post_init__(self):
        points = np.ascontiguousarray(self.points, dtype=np.float64)
        weights = np.ascontiguousarray(self.weights, dtype=np.float64)
        if points.ndim != 2 or weights.shape != (len(points),):
            raise ValueError(f"{self.cell_type}/{self.name}: points {points.shape} and weights {weights.shape}")
        points.setflags(write=False)
        weights.setflags(write=False)
        object.__setattr__(self, "points", points)
        object.__setattr__(self, "weights", weights)

    @property
    def n_points(self) -> int:
        """Number of points."""
        return len(self.weights)


# ---------------------------------------------------------------- building blocks
def _gauss(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss–Legendre points and weights on [-1, 1]."""
    if n == 2:
        return np.array([-_G, _G]), np.array([1.0, 1.0])
    if n == 3:
        return np.array([-_A, 0.0, _A]), np.array([5.0, 8.0, 5.0]) / 9.0
    return np.polynomial.legendre.leggauss(n)


def _product(rules: list[tuple[np.ndarray, np.ndarray]], fastest: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Tensor product of rules; ``fastest`` is the rule whose index varies fastest.

    Each rule is ``(points (n,) or (n, d), weights (n,))``; the product's
    coordinates are the factors' coordinates concatenated in the given order.
    """
    rules = [(np.asarray(p, float).reshape(len(w), -1), np.asarray(w, float)) for p, w in rules]
    varying = [fastest] + [i for i in range(len(rules)) if i != fastest]  # fastest → slowest
    loop_order = varying[::-1]  # slowest → fastest, the C order of np.indices
    index = np.indices([len(rules[i][1]) for i in loop_order]).reshape(len(rules), -1).T
    order = range(len(rules))
    points, weights = [], []
    for combo in index:
        per_rule = dict(zip(loop_order, combo))
        points.append(np.concatenate([rules[i][0][per_rule[i]] for i in order]))
        weights.append(np.prod([rules[i][1][per_rule[i]] for i in order]))
    return np.array(points), np.array(weights)


def _triangle3() -> tuple[np.ndarray, np.ndarray]:
    return np.array([[1 / 6, 1 / 6], [2 / 3, 1 / 6], [1 / 6, 2 / 3]]), np.full(3, 1 / 6)


def _triangle6() -> tuple[np.ndarray, np.ndarray]:
    """Degree-4 rule (Strang–Fix / Dunavant), Zset's c2d6 order."""
    root = np.sqrt(38.0 - 44.0 * np.sqrt(0.4))
    a = (8.0 - np.sqrt(10.0) + root) / 18.0  # 0.4459484909...
    c = (8.0 - np.sqrt(10.0) - root) / 18.0  # 0.0915762135...
    b, d = 1.0 - 2.0 * a, 1.0 - 2.0 * c
    spread = np.sqrt(213125.0 - 53320.0 * np.sqrt(10.0))
    wa = (620.0 + spread) / 3720.0 / 2.0  # 0.1116907948...
    wc = (620.0 - spread) / 3720.0 / 2.0  # 0.0549758718...
    points = np.array([[a, a], [b, a], [a, b], [c, c], [d, c], [c, d]])
    return points, np.array([wa, wa, wa, wc, wc, wc])


def _triangle1() -> tuple[np.ndarray, np.ndarray]:
    return np.array([[1 / 3, 1 / 3]]), np.array([0.5])


def _tetra4() -> tuple[np.ndarray, np.ndarray]:
    a = (5.0 - np.sqrt(5.0)) / 20.0
    b = (5.0 + 3.0 * np.sqrt(5.0)) / 20.0
    return np.array([[a, a, a], [b, a, a], [a, b, a], [a, a, b]]), np.full(4, 1 / 24)


def _tetra5() -> tuple[np.ndarray, np.ndarray]:
    """Zset's c3d10 rule (degree 3, negative centroid weight)."""
    s, h = 1 / 6, 1 / 2
    points = np.array([[s, s, s], [h, s, s], [s, h, s], [s, s, h], [0.25, 0.25, 0.25]])
    return points, np.array([3 / 40, 3 / 40, 3 / 40, 3 / 40, -2 / 15])


def _tetra1() -> tuple[np.ndarray, np.ndarray]:
    return np.array([[0.25, 0.25, 0.25]]), np.array([1 / 6])


def _collapsed_tetra(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Conical product rule on the unit tetrahedron (Stroud): Gauss–Jacobi in the
    collapsed directions, n³ positive-weight points, exact to degree 2n − 1."""
    from scipy.special import roots_jacobi

    def on_unit_interval(power: int) -> tuple[np.ndarray, np.ndarray]:
        # ∫_0^1 (1 - u)^power f(u) du
        x, w = roots_jacobi(n, power, 0)
        return (x + 1) / 2, w / 2 ** (power + 1)

    (u, wu), (v, wv), (s, ws) = on_unit_interval(0), on_unit_interval(1), on_unit_interval(2)
    U, V, S = (a.ravel() for a in np.meshgrid(u, v, s, indexing="ij"))
    weights = np.prod([a.ravel() for a in np.meshgrid(wu, wv, ws, indexing="ij")], axis=0)
    points = np.column_stack([U * (1 - V) * (1 - S), V * (1 - S), S])
    return points, weights


def _wedge(triangle: tuple[np.ndarray, np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Triangle rule at each Gauss level of ζ (triangle fastest)."""
    return _product([triangle, _gauss(n)], fastest=0)


def _gauss_product(dim: int, n: int, fastest: int = 0) -> tuple[np.ndarray, np.ndarray]:
    return _product([_gauss(n)] * dim, fastest=fastest)


def _table() -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    line = {"line": _gauss(2), "line3": _gauss(3)}
    default = {
        **line,
        "triangle": _triangle3(), "triangle6": _triangle6(),
        "quad": _gauss_product(2, 2), "quad8": _gauss_product(2, 3),
        "tetra": _tetra4(), "tetra10": _tetra4(),
        "wedge": _wedge(_triangle3(), 2), "wedge15": _wedge(_triangle6(), 3),
        "hexahedron": _gauss_product(3, 2), "hexahedron20": _gauss_product(3, 3),
    }
    zset = {
        **line,
        "triangle": _triangle3(), "triangle6": _triangle6(),
        "quad": _gauss_product(2, 2, fastest=1), "quad8": _gauss_product(2, 3, fastest=1),
        "tetra": _tetra4(), "tetra10": _tetra5(),
        "wedge": _wedge(_triangle3(), 2), "wedge15": _wedge(_triangle6(), 3),
        "hexahedron": _gauss_product(3, 2), "hexahedron20": _gauss_product(3, 3),
    }
    reduced = {
        "line": _gauss(1), "line3": _gauss(2),
        "triangle": _triangle1(), "triangle6": _triangle3(),
        "quad": _gauss_product(2, 1), "quad8": _gauss_product(2, 2, fastest=1),
        "tetra": _tetra1(), "tetra10": _tetra1(),
        "wedge": _wedge(_triangle1(), 2), "wedge15": _wedge(_triangle3(), 2),
        "hexahedron": _gauss_product(3, 1), "hexahedron20": _gauss_product(3, 2),
    }
    high = {
        "line": _gauss(3), "line3": _gauss(3),
        "triangle": _triangle6(), "triangle6": _triangle6(),
        "quad": _gauss_product(2, 3), "quad8": _gauss_product(2, 3),
        "tetra": _collapsed_tetra(3), "tetra10": _collapsed_tetra(3),
        "wedge": _wedge(_triangle6(), 3), "wedge15": _wedge(_triangle6(), 3),
        "hexahedron": _gauss_product(3, 3), "hexahedron20": _gauss_product(3, 3),
    }
    return {"default": default, "zset": zset, "zset-reduced": reduced, "high": high}


_TABLE = _table()


@lru_cache(maxsize=None)
def quadrature_rule(cell_type: str, rule: str = "default") -> QuadratureRule:
    """The integration rule of a name on a cell type's reference element.

    Parameters
    ----------
    cell_type : str
        meshio cell type (see :data:`rom.fem.elements.ELEMENT_TYPES`).
    rule : str
        One of :data:`RULES`.

    Returns
    -------
    QuadratureRule
        Points in the rule's order (the row order of integration-point fields).
    """
    try:
        table = _TABLE[rule]
    except KeyError:
        raise InputError(f"unknown integration rule '{rule}' (known: {', '.join(RULES)})") from None
    try:
        points, weights = table[cell_type]
    except KeyError:
        raise InputError(f"integration rule '{rule}' has no points for cell type '{cell_type}'") from None
    points = np.asarray(points, dtype=np.float64).reshape(len(weights), -1)
    counts = POINTS_PER_CELL.get(rule, {})     # the data model's table: the one the fields' rows follow
    if cell_type in counts and counts[cell_type] != len(weights):
        raise InputError(f"integration rule '{rule}' on '{cell_type}': {len(weights)} points here, "
                         f"{counts[cell_type]} in io_adapters.quadrature_rules")
    return QuadratureRule(cell_type=cell_type, name=rule, points=points, weights=weights)
