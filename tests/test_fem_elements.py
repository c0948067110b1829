"""Reference elements and integration rules of ``rom.fem``."""

from __future__ import annotations

from itertools import product
from math import factorial

import numpy as np
import pytest

from io_adapters.errors import InputError
from io_adapters.quadrature_rules import POINTS_PER_CELL
from rom.fem import ELEMENT_TYPES, quadrature_rule, reference_element
from rom.fem.topology import EDGES, LINEAR

VOLUME_TYPES = [t for t in ELEMENT_TYPES if t not in ("line", "line3")]
FAMILY = {
    "line": "cube", "line3": "cube", "quad": "cube", "quad8": "cube", "hexahedron": "cube", "hexahedron20": "cube",
    "triangle": "simplex", "triangle6": "simplex", "tetra": "simplex", "tetra10": "simplex",
    "wedge": "wedge", "wedge15": "wedge",
}
QUADRATIC_TYPES = {"line3", "triangle6", "quad8", "tetra10", "wedge15", "hexahedron20"}


def _random_points(cell_type: str, n: int, rng) -> np.ndarray:
    """Points inside the reference domain."""
    dim = reference_element(cell_type).dim
    family = FAMILY[cell_type]
    if family == "cube":
        return rng.uniform(-1, 1, (n, dim))
    if family == "simplex":
        x = rng.dirichlet(np.ones(dim + 1), n)[:, :dim]
        return x
    tri = rng.dirichlet(np.ones(3), n)[:, :2]
    return np.column_stack([tri, rng.uniform(-1, 1, n)])


# ------------------------------------------------------------------ elements
@pytest.mark.parametrize("cell_type", ELEMENT_TYPES)
def test_kronecker_and_partition_of_unity(cell_type):
    element = reference_element(cell_type)
    np.testing.assert_allclose(element.shape_functions(element.nodes), np.eye(element.n_nodes), atol=1e-13)
    xi = _random_points(cell_type, 50, np.random.default_rng(0))
    np.testing.assert_allclose(element.shape_functions(xi).sum(axis=1), 1.0, atol=1e-13)
    np.testing.assert_allclose(element.shape_gradients(xi).sum(axis=1), 0.0, atol=1e-12)


@pytest.mark.parametrize("cell_type", ELEMENT_TYPES)
def test_reproduces_linear_and_quadratic_fields(cell_type):
    element = reference_element(cell_type)
    rng = np.random.default_rng(1)
    xi = _random_points(cell_type, 40, rng)
    degree = 2 if cell_type in QUADRATIC_TYPES else 1
    for exponents in product(range(degree + 1), repeat=element.dim):
        if sum(exponents) > degree:
            continue
        field = lambda x: np.prod(x ** np.array(exponents), axis=1)  # noqa: E731
        interpolated = element.shape_functions(xi) @ field(element.nodes)
        np.testing.assert_allclose(interpolated, field(xi), atol=1e-12, err_msg=str(exponents))


@pytest.mark.parametrize("cell_type", ELEMENT_TYPES)
def test_gradients_match_finite_differences(cell_type):
    element = reference_element(cell_type)
    xi = _random_points(cell_type, 10, np.random.default_rng(2)) * 0.9
    h = 1e-6
    numeric = np.stack(
        [(element.shape_functions(xi + h * e) - element.shape_functions(xi - h * e)) / (2 * h)
         for e in np.eye(element.dim)], axis=-1)
    np.testing.assert_allclose(element.shape_gradients(xi), numeric, atol=1e-8)


@pytest.mark.parametrize("cell_type", [t for t in ELEMENT_TYPES if t in QUADRATIC_TYPES])
def test_vtk_mid_edge_layout(cell_type):
    """Mid-edge node i of the quadratic type sits on edge i of the VTK table."""
    element = reference_element(cell_type)
    edges = EDGES[LINEAR[cell_type]]
    n_corners = element.n_nodes - len(edges)
    for i, (a, b) in enumerate(edges):
        np.testing.assert_allclose(element.nodes[n_corners + i], (element.nodes[a] + element.nodes[b]) / 2)


def test_vtk_tables_spelled_out():
    """The layouts the brief names, written out once (guards against table edits)."""
    assert EDGES["tetra"] == ((0, 1), (1, 2), (2, 0), (0, 3), (1, 3), (2, 3))
    hex20 = reference_element("hexahedron20").nodes
    np.testing.assert_allclose(hex20[8], [0, -1, -1])    # 0-1
    np.testing.assert_allclose(hex20[11], [-1, 0, -1])   # 3-0
    np.testing.assert_allclose(hex20[12], [0, -1, 1])    # 4-5
    np.testing.assert_allclose(hex20[16], [-1, -1, 0])   # 0-4
    np.testing.assert_allclose(hex20[19], [-1, 1, 0])    # 3-7
    wedge15 = reference_element("wedge15").nodes
    np.testing.assert_allclose(wedge15[8], [0, 0.5, -1])   # 2-0
    np.testing.assert_allclose(wedge15[9], [0.5, 0, 1])    # 3-4
    np.testing.assert_allclose(wedge15[14], [0, 1, 0])     # 2-5
    np.testing.assert_allclose(reference_element("line3").nodes[:, 0], [-1, 1, 0])


def test_unknown_type_is_refused():
    with pytest.raises(InputError, match="pyramid"):
        reference_element("pyramid")
    with pytest.raises(InputError, match="unknown integration rule"):
        quadrature_rule("tetra", "gauss")


# ------------------------------------------------------------------ quadrature
def _exact_monomial(cell_type: str, exponents) -> float:
    family = FAMILY[cell_type]
    line = lambda e: 2.0 / (e + 1) if e % 2 == 0 else 0.0  # noqa: E731
    if family == "cube":
        return float(np.prod([line(e) for e in exponents]))
    if family == "simplex":
        dim = len(exponents)
        return float(np.prod([factorial(e) for e in exponents]) / factorial(sum(exponents) + dim))
    a, b, c = exponents
    return factorial(a) * factorial(b) / factorial(a + b + 2) * line(c)


#: Polynomial degree integrated exactly: total degree on simplices, degree per
#: variable on cubes, (triangle, ζ) degrees on wedges.
DEGREES = {
    "default": {"line": 3, "line3": 5, "triangle": 2, "triangle6": 4, "quad": 3, "quad8": 5, "tetra": 2,
                "tetra10": 2, "wedge": (2, 3), "wedge15": (4, 5), "hexahedron": 3, "hexahedron20": 5},
    "zset": {"line": 3, "line3": 5, "triangle": 2, "triangle6": 4, "quad": 3, "quad8": 5, "tetra": 2,
             "tetra10": 3, "wedge": (2, 3), "wedge15": (4, 5), "hexahedron": 3, "hexahedron20": 5},
    "zset-reduced": {"line": 1, "line3": 3, "triangle": 1, "triangle6": 2, "quad": 1, "quad8": 3, "tetra": 1,
                     "tetra10": 1, "wedge": (1, 3), "wedge15": (2, 3), "hexahedron": 1, "hexahedron20": 3},
    "high": {"line": 5, "line3": 5, "triangle": 4, "triangle6": 4, "quad": 5, "quad8": 5, "tetra": 4,
             "tetra10": 4, "wedge": (4, 5), "wedge15": (4, 5), "hexahedron": 5, "hexahedron20": 5},
}


def _monomials(cell_type: str, degree):
    dim = reference_element(cell_type).dim
    family = FAMILY[cell_type]
    top = max(np.atleast_1d(degree))
    for e in product(range(top + 1), repeat=dim):
        if family == "simplex" and sum(e) <= degree:
            yield e
        elif family == "cube" and max(e) <= degree:
            yield e
        elif family == "wedge" and e[0] + e[1] <= degree[0] and e[2] <= degree[1]:
            yield e


@pytest.mark.parametrize("rule", ["default", "zset", "zset-reduced", "high"])
def test_rules_integrate_their_degree_on_the_reference(rule):
    for cell_type in ELEMENT_TYPES:
        q = quadrature_rule(cell_type, rule)
        np.testing.assert_allclose(q.weights.sum(), reference_element(cell_type).measure, rtol=1e-13)
        for e in _monomials(cell_type, DEGREES[rule][cell_type]):
            value = q.weights @ np.prod(q.points ** np.array(e), axis=1)
            assert value == pytest.approx(_exact_monomial(cell_type, e), abs=1e-13), (cell_type, rule, e)


def _reference_integral(cell_type: str, func, n: int = 8) -> float:
    """Independent Gauss product (collapsed on simplices) of high order."""
    x, w = np.polynomial.legendre.leggauss(n)
    dim = reference_element(cell_type).dim
    grids = np.stack(np.meshgrid(*([x] * dim), indexing="ij"), -1).reshape(-1, dim)
    weights = np.prod(np.stack(np.meshgrid(*([w] * dim), indexing="ij"), -1).reshape(-1, dim), axis=1)
    family = FAMILY[cell_type]
    if family == "cube":
        return float(weights @ func(grids))
    u = (grids + 1) / 2
    weights = weights / 2 ** dim
    if family == "simplex" and dim == 2:
        pts = np.column_stack([u[:, 0] * (1 - u[:, 1]), u[:, 1]])
        return float((weights * (1 - u[:, 1])) @ func(pts))
    if family == "simplex":
        pts = np.column_stack([u[:, 0] * (1 - u[:, 1]) * (1 - u[:, 2]), u[:, 1] * (1 - u[:, 2]), u[:, 2]])
        return float((weights * (1 - u[:, 1]) * (1 - u[:, 2]) ** 2) @ func(pts))
    pts = np.column_stack([u[:, 0] * (1 - u[:, 1]), u[:, 1], grids[:, 2]])
    return float((weights * 2 * (1 - u[:, 1])) @ func(pts))


@pytest.mark.parametrize("rule", ["default", "zset", "zset-reduced"])
def test_rules_are_exact_on_affinely_distorted_elements(rule):
    """∫ f dV over a skewed, stretched element for f of the rule's total degree."""
    rng = np.random.default_rng(3)
    for cell_type in VOLUME_TYPES:
        element = reference_element(cell_type)
        dim = element.dim
        A = np.eye(dim) + 0.3 * rng.uniform(-1, 1, (dim, dim))
        A *= np.sign(np.linalg.det(A))
        shift = rng.uniform(-1, 1, dim)
        degree = int(min(np.atleast_1d(DEGREES[rule][cell_type])))
        coefficients = {e: rng.uniform(-1, 1) for e in product(range(degree + 1), repeat=dim) if sum(e) <= degree}
        f = lambda x: sum(c * np.prod(x ** np.array(e), axis=1) for e, c in coefficients.items())  # noqa: E731
        q = quadrature_rule(cell_type, rule)
        det = abs(np.linalg.det(A))
        approx = det * q.weights @ f(q.points @ A.T + shift)
        exact = det * _reference_integral(cell_type, lambda xi: f(xi @ A.T + shift))
        assert approx == pytest.approx(exact, rel=1e-11, abs=1e-12), (cell_type, rule)


@pytest.mark.parametrize("rule", ["default", "zset", "zset-reduced"])
def test_point_counts_match_io_adapters(rule):
    for cell_type, count in POINTS_PER_CELL[rule].items():
        assert quadrature_rule(cell_type, rule).n_points == count, (cell_type, rule)


def test_zset_point_order_and_weights():
    g, a = 1 / np.sqrt(3), np.sqrt(0.6)
    hexa = quadrature_rule("hexahedron", "zset").points
    np.testing.assert_allclose(hexa[:3], [[-g, -g, -g], [g, -g, -g], [-g, g, -g]])  # ξ fastest
    np.testing.assert_allclose(hexa[4], [-g, -g, g])
    quad = quadrature_rule("quad", "zset").points
    np.testing.assert_allclose(quad, [[-g, -g], [-g, g], [g, -g], [g, g]])  # η fastest
    quad8 = quadrature_rule("quad8", "zset").points
    np.testing.assert_allclose(quad8[:4], [[-a, -a], [-a, 0], [-a, a], [0, -a]])
    hex20 = quadrature_rule("hexahedron20", "zset")
    np.testing.assert_allclose(hex20.points[1], [0, -a, -a])
    assert hex20.weights[0] == pytest.approx((5 / 9) ** 3) and hex20.weights[13] == pytest.approx((8 / 9) ** 3)
    tet10 = quadrature_rule("tetra10", "zset")
    np.testing.assert_allclose(tet10.weights, [3 / 40] * 4 + [-2 / 15])
    np.testing.assert_allclose(tet10.points[1], [0.5, 1 / 6, 1 / 6])
    tet4 = quadrature_rule("tetra", "zset")
    nodes = reference_element("tetra").nodes
    nearest = np.argmin(np.linalg.norm(tet4.points[:, None] - nodes[None], axis=2), axis=1)
    np.testing.assert_array_equal(nearest, np.arange(4))  # IP q lies nearest node q
    wedge15 = quadrature_rule("wedge15", "zset")
    np.testing.assert_allclose(wedge15.weights[[0, 3, 6]], [0.0620504416, 0.0305421510, 0.0992807065], atol=1e-10)
    np.testing.assert_allclose(quadrature_rule("triangle6", "zset").points[0], [0.4459484909, 0.4459484909], atol=1e-10)
    reduced = quadrature_rule("wedge", "zset-reduced")
    np.testing.assert_allclose(reduced.points, [[1 / 3, 1 / 3, -g], [1 / 3, 1 / 3, g]])
    np.testing.assert_allclose(reduced.weights, [0.5, 0.5])
