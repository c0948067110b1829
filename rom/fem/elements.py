"""Reference elements in meshio/VTK node order: nodes, shape functions, gradients.

Every element is defined by its reference nodes and a polynomial space (a list of
monomials); the shape functions are the Lagrange basis of that space on those
nodes, ``N(ξ) = P(ξ) V⁻¹`` with ``V[i, j] = p_j(ξ_i)``. This one construction gives
the classical linear, quadratic and serendipity functions (they are unique for a
unisolvent node set) and makes the Kronecker property hold by design.

Reference domains (those of Zset's catalogue, so that Zset's integration points
can be used as they are):

=============================  ====================================================
line, line3                    ``[-1, 1]``
triangle, triangle6            unit triangle ``(0,0), (1,0), (0,1)``
quad, quad8                    ``[-1, 1]²``
tetra, tetra10                 unit tetrahedron ``(0,0,0), (1,0,0), (0,1,0), (0,0,1)``
wedge, wedge15                 unit triangle × ``[-1, 1]`` (nodes 0-2 at ζ = -1)
hexahedron, hexahedron20       ``[-1, 1]³``
=============================  ====================================================

Node orders are VTK's: mid-edge nodes of ``tetra10`` on edges 0-1, 1-2, 2-0, 0-3,
1-3, 2-3; of ``wedge15`` on 0-1, 1-2, 2-0, then 3-4, 4-5, 5-3, then the vertical
edges 0-3, 1-4, 2-5; of ``hexahedron20`` on the bottom edges 0-1, 1-2, 2-3, 3-0,
the top edges 4-5, 5-6, 6-7, 7-4, then the vertical edges 0-4, 1-5, 2-6, 3-7.

The wedge's bottom triangle 0-1-2 is counter-clockwise seen from the top face, as
in Gmsh and Zset (c3d6/c3d15), which gives a positive Jacobian; meshes written
with VTK's opposite face convention are caught by the Jacobian check of
:mod:`rom.fem.geometry`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from itertools import product

import numpy as np

from io_adapters.errors import InputError

__all__ = ["ReferenceElement", "reference_element", "ELEMENT_TYPES"]


@dataclass(frozen=True, eq=False)
class ReferenceElement:
    """A Lagrange reference element.

    Attributes
    ----------
    cell_type : str
        meshio cell type name (``"hexahedron20"``, ...).
    nodes : (n_nodes, dim) float array
        Reference coordinates of the nodes, in meshio/VTK order.
    exponents : (n_nodes, dim) int array
        Monomials ``Π ξ_d ** e_d`` spanning the element's polynomial space.
    measure : float
        Length, area or volume of the reference domain.
    degree : int
        Highest total degree of a monomial of the space.
    """

    cell_type: str
    nodes: np.ndarray
    exponents: np.ndarray
    measure: float
    coefficients: np.ndarray = field(init=False, repr=False)  # (n_nodes, n_nodes) = V⁻¹

    def __post_init__(self):
        nodes = np.ascontiguousarray(self.nodes, dtype=np.float64)
        exponents = np.ascontiguousarray(self.exponents, dtype=np.int64)
        if nodes.shape != exponents.shape:
            raise ValueError(f"{self.cell_type}: {nodes.shape} nodes but {exponents.shape} monomials")
        vandermonde = _monomials(nodes, exponents)
        coefficients = np.linalg.solve(vandermonde, np.eye(len(nodes)))
        for array in (nodes, exponents, coefficients):
            array.setflags(write=False)
        object.__setattr__(self, "nodes", nodes)
        object.__setattr__(self, "exponents", exponents)
        object.__setattr__(self, "coefficients", coefficients)

    @property
    def dim(self) -> int:
        """Dimension of the reference domain (1, 2 or 3)."""
        return self.nodes.shape[1]

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return self.nodes.shape[0]

    @property
    def degree(self) -> int:
        """Highest total degree of the monomials of the space."""
        return int(self.exponents.sum(axis=1).max())

    def shape_functions(self, xi: np.ndarray) -> np.ndarray:
        """Shape functions at reference points.

        Parameters
        ----------
        xi : (n_points, dim) array
            Reference coordinates.

        Returns
        -------
        (n_points, n_nodes) array
            ``N[q, i] = N_i(ξ_q)``.
        """
        xi = self._check_points(xi)
        return _monomials(xi, self.exponents) @ self.coefficients

    def shape_gradients(self, xi: np.ndarray) -> np.ndarray:
        """Gradients of the shape functions with respect to the reference coordinates.

        Parameters
        ----------
        xi : (n_points, dim) array
            Reference coordinates.

        Returns
        -------
        (n_points, n_nodes, dim) array
            ``dN[q, i, d] = ∂N_i/∂ξ_d (ξ_q)``.
        """
        xi = self._check_points(xi)
        grads = _monomial_gradients(xi, self.exponents)  # (n_points, n_monomials, dim)
        return np.einsum("qmd,mi->qid", grads, self.coefficients)

    def _check_points(self, xi) -> np.ndarray:
        xi = np.asarray(xi, dtype=np.float64)
        if xi.ndim == 1 and self.dim == 1:
            xi = xi[:, None]
        if xi.ndim != 2 or xi.shape[1] != self.dim:
            raise InputError(f"{self.cell_type}: reference points must have shape (n, {self.dim}), found {xi.shape}")
        return xi


def _monomials(xi: np.ndarray, exponents: np.ndarray) -> np.ndarray:
    """``P[q, m] = Π_d xi[q, d] ** exponents[m, d]``, shape (n_points, n_monomials)."""
    return np.prod(xi[:, None, :] ** exponents[None, :, :], axis=2)


def _monomial_gradients(xi: np.ndarray, exponents: np.ndarray) -> np.ndarray:
    """``dP[q, m, d] = ∂/∂ξ_d Π ξ ** e``, shape (n_points, n_monomials, dim)."""
    powers = xi[:, None, :] ** exponents[None, :, :]  # (q, m, d)
    lowered = np.where(exponents > 0, exponents * xi[:, None, :] ** np.maximum(exponents - 1, 0), 0.0)
    dim = xi.shape[1]
    out = np.empty(powers.shape, dtype=np.float64)
    for d in range(dim):
        others = np.prod(np.delete(powers, d, axis=2), axis=2) if dim > 1 else 1.0
        out[:, :, d] = lowered[:, :, d] * others
    return out


# ---------------------------------------------------------------- definitions
def _total_degree(dim: int, degree: int) -> list[tuple[int, ...]]:
    """Monomials of total degree ≤ degree, ordered by degree."""
    monomials = (e for e in product(range(degree + 1), repeat=dim) if sum(e) <= degree)
    return sorted(monomials, key=lambda e: (sum(e), e[::-1]))


def _tensor(dim: int, degree: int) -> list[tuple[int, ...]]:
    return sorted(product(range(degree + 1), repeat=dim), key=lambda e: (sum(e), e[::-1]))


def _serendipity(dim: int) -> list[tuple[int, ...]]:
    """Quadratic serendipity space (8 monomials in 2D, 20 in 3D).

    The monomials whose *superlinear degree* (total degree ignoring the variables
    that appear linearly) is at most 2: products of distinct variables, times at
    most one squared variable.
    """
    return [e for e in _tensor(dim, 2) if sum(x for x in e if x >= 2) <= 2]


def _corners_hex() -> list[tuple[float, float, float]]:
    return [(-1, -1, -1), (1, -1, -1), (1, 1, -1), (-1, 1, -1), (-1, -1, 1), (1, -1, 1), (1, 1, 1), (-1, 1, 1)]


def _midpoints(nodes: list, edges: list[tuple[int, int]]) -> list:
    return [tuple((np.asarray(nodes[a], float) + np.asarray(nodes[b], float)) / 2) for a, b in edges]


def _definitions() -> dict[str, tuple[list, list, float]]:
    tri = [(0, 0), (1, 0), (0, 1)]
    quad = [(-1, -1), (1, -1), (1, 1), (-1, 1)]
    tet = [(0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1)]
    wedge = [(0, 0, -1), (1, 0, -1), (0, 1, -1), (0, 0, 1), (1, 0, 1), (0, 1, 1)]
    hexa = _corners_hex()

    p1_tri = _total_degree(2, 1)
    p2_tri = _total_degree(2, 2)
    wedge_linear = [e + (k,) for k in (0, 1) for e in p1_tri]
    wedge_quadratic = [e + (k,) for k in (0, 1) for e in p2_tri] + [e + (2,) for e in p1_tri]
    return {
        "line": ([(-1,), (1,)], [(0,), (1,)], 2.0),
        "line3": ([(-1,), (1,), (0,)], [(0,), (1,), (2,)], 2.0),
        "triangle": (tri, p1_tri, 0.5),
        "triangle6": (tri + _midpoints(tri, [(0, 1), (1, 2), (2, 0)]), p2_tri, 0.5),
        "quad": (quad, _tensor(2, 1), 4.0),
        "quad8": (quad + _midpoints(quad, [(0, 1), (1, 2), (2, 3), (3, 0)]), _serendipity(2), 4.0),
        "tetra": (tet, _total_degree(3, 1), 1.0 / 6.0),
        "tetra10": (
            tet + _midpoints(tet, [(0, 1), (1, 2), (2, 0), (0, 3), (1, 3), (2, 3)]),
            _total_degree(3, 2),
            1.0 / 6.0,
        ),
        "wedge": (wedge, wedge_linear, 1.0),
        "wedge15": (
            wedge + _midpoints(wedge, [(0, 1), (1, 2), (2, 0), (3, 4), (4, 5), (5, 3), (0, 3), (1, 4), (2, 5)]),
            wedge_quadratic,
            1.0,
        ),
        "hexahedron": (hexa, _tensor(3, 1), 8.0),
        "hexahedron20": (
            hexa + _midpoints(hexa, [(0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4),
                                     (0, 4), (1, 5), (2, 6), (3, 7)]),
            _serendipity(3),
            8.0,
        ),
    }


_DEFINITIONS = _definitions()

#: meshio cell types that have a reference element.
ELEMENT_TYPES: tuple[str, ...] = tuple(_DEFINITIONS)


@lru_cache(maxsize=None)
def reference_element(cell_type: str) -> ReferenceElement:
    """The reference element of a meshio cell type.

    Parameters
    ----------
    cell_type : str
        One of :data:`ELEMENT_TYPES`.

    Returns
    -------
    ReferenceElement
    """
    try:
        nodes, exponents, measure = _DEFINITIONS[cell_type]
    except KeyError:
        raise InputError(
            f"no reference element for cell type '{cell_type}' (rom.fem knows: {', '.join(ELEMENT_TYPES)})"
        ) from None
    return ReferenceElement(cell_type=cell_type, nodes=np.array(nodes, dtype=float),
                            exponents=np.array(exponents, dtype=np.int64), measure=measure)
