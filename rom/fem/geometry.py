"""Geometry of a mesh's cells at integration points: Jacobians, weights, gradients.

Everything is computed per cell *type* (one vectorised pass over all cells of a
block); no Python loop runs over cells or points.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from io_adapters.errors import InputError
from io_adapters.mesh import CELL_DIMENSION, Mesh
from rom.fem.elements import ReferenceElement, reference_element
from rom.fem.quadrature import QuadratureRule, quadrature_rule

__all__ = ["BlockGeometry", "cell_blocks", "dofs_per_node", "jacobians"]


@dataclass(frozen=True, eq=False)
class BlockGeometry:
    """One cell block of a mesh evaluated at the points of a rule.

    Attributes
    ----------
    cell_type : str
    first_cell : int
        Index of the block's first cell in the mesh's cell order.
    first_point : int
        Row of the block's first integration point (cells in order, each cell's
        points in rule order).
    connectivity : (n_cells, k) int array
    element : ReferenceElement
    rule : QuadratureRule
    shape : (n_q, k) array
        Shape functions at the rule's points.
    det : (n_cells, n_q) array
        Jacobian determinants (positive).
    gradients : (n_cells, n_q, k, dim) array or None
        Physical gradients ``∂N_i/∂x_a`` (``dim`` = mesh dimension), if asked for.
    coordinates : (n_cells, n_q, 3) array
        Physical coordinates of the points.
    """

    cell_type: str
    first_cell: int
    first_point: int
    connectivity: np.ndarray
    element: ReferenceElement
    rule: QuadratureRule
    shape: np.ndarray
    det: np.ndarray
    gradients: np.ndarray | None
    coordinates: np.ndarray

    @property
    def n_cells(self) -> int:
        return self.connectivity.shape[0]

    @property
    def n_q(self) -> int:
        return self.rule.n_points

    @property
    def n_points(self) -> int:
        return self.n_cells * self.n_q

    @property
    def weights(self) -> np.ndarray:
        """Physical integration weights ``w_q · det J``, shape (n_cells, n_q)."""
        return self.det * self.rule.weights


def dofs_per_node(mesh: Mesh) -> int:
    """Displacement dofs per node: 3 for a 3D mesh, 2 for a 2D (plane strain) mesh."""
    if mesh.dim not in (2, 3):
        raise InputError(f"rom.fem handles 2D and 3D meshes, found a mesh of dimension {mesh.dim}")
    return mesh.dim


def jacobians(coordinates: np.ndarray, dshape: np.ndarray) -> np.ndarray:
    """Jacobian matrices ``J[c, q, a, b] = ∂x_a/∂ξ_b``.

    Parameters
    ----------
    coordinates : (n_cells, k, dim) array
        Node coordinates of each cell.
    dshape : (n_q, k, dim_ref) array
        Reference gradients of the shape functions.

    Returns
    -------
    (n_cells, n_q, dim, dim_ref) array
    """
    return np.einsum("cna,qnb->cqab", coordinates, dshape, optimize=True)


def _det_inv(jac: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Determinants and inverses of square Jacobians (..., d, d), d = 2 or 3, in closed form."""
    d = jac.shape[-1]
    if d == 2:
        a, b, c, e = jac[..., 0, 0], jac[..., 0, 1], jac[..., 1, 0], jac[..., 1, 1]
        det = a * e - b * c
        adj = np.stack([np.stack([e, -b], -1), np.stack([-c, a], -1)], -2)
    else:
        j = jac
        c00 = j[..., 1, 1] * j[..., 2, 2] - j[..., 1, 2] * j[..., 2, 1]
        c01 = j[..., 1, 2] * j[..., 2, 0] - j[..., 1, 0] * j[..., 2, 2]
        c02 = j[..., 1, 0] * j[..., 2, 1] - j[..., 1, 1] * j[..., 2, 0]
        det = j[..., 0, 0] * c00 + j[..., 0, 1] * c01 + j[..., 0, 2] * c02
        adj = np.empty_like(j)
        adj[..., 0, 0] = c00
        adj[..., 1, 0] = c01
        adj[..., 2, 0] = c02
        adj[..., 0, 1] = j[..., 0, 2] * j[..., 2, 1] - j[..., 0, 1] * j[..., 2, 2]
        adj[..., 1, 1] = j[..., 0, 0] * j[..., 2, 2] - j[..., 0, 2] * j[..., 2, 0]
        adj[..., 2, 1] = j[..., 0, 1] * j[..., 2, 0] - j[..., 0, 0] * j[..., 2, 1]
        adj[..., 0, 2] = j[..., 0, 1] * j[..., 1, 2] - j[..., 0, 2] * j[..., 1, 1]
        adj[..., 1, 2] = j[..., 0, 2] * j[..., 1, 0] - j[..., 0, 0] * j[..., 1, 2]
        adj[..., 2, 2] = j[..., 0, 0] * j[..., 1, 1] - j[..., 0, 1] * j[..., 1, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = adj / det[..., None, None]
    return det, inv


def _check_positive(det: np.ndarray, cell_type: str, first_cell: int, rule: str) -> None:
    bad = ~(det > 0)
    if not bad.any():
        return
    c, q = (int(i[0]) for i in np.nonzero(bad))
    hint = ""
    if cell_type.startswith("wedge"):
        hint = (" (a wedge whose bottom triangle 0-1-2 is clockwise seen from its top face: VTK's face "
                "convention, reversed with respect to rom.fem's, Gmsh's and Zset's)")
    raise InputError(
        f"cell {first_cell + c} ({cell_type}) has a non-positive Jacobian determinant {det[c, q]:.6g} "
        f"at point {q} of rule '{rule}': the element is inverted or degenerate; check its node order"
        f"{hint} ({int(bad.any(axis=1).sum())} cell(s) of this type are affected)"
    )


def cell_blocks(mesh: Mesh, rule: str = "default", *, gradients: bool = True) -> Iterator[BlockGeometry]:
    """Evaluate every cell block of a mesh at the points of a rule.

    Parameters
    ----------
    mesh : Mesh
        A 2D or 3D mesh whose cells all have the mesh's dimension.
    rule : str
        Integration rule name (:data:`rom.fem.quadrature.RULES`).
    gradients : bool
        Compute the physical shape-function gradients (needs the inverse Jacobians).

    Yields
    ------
    BlockGeometry
        One per cell type, in the mesh's cell order.

    Raises
    ------
    InputError
        For a cell type of the wrong dimension or unknown to :mod:`rom.fem`, or a
        non-positive Jacobian determinant (naming the cell index and type).
    """
    dim = dofs_per_node(mesh)
    first_cell = first_point = 0
    for cell_type, conn in mesh.cells.items():
        if CELL_DIMENSION.get(cell_type) != dim:
            raise InputError(
                f"cell type '{cell_type}' has dimension {CELL_DIMENSION.get(cell_type)} in a {dim}D mesh: "
                "rom.fem integrates over cells of the mesh's dimension only"
            )
        element = reference_element(cell_type)
        quadrature = quadrature_rule(cell_type, rule)
        shape = element.shape_functions(quadrature.points)
        dshape = element.shape_gradients(quadrature.points)
        nodes = mesh.points[conn]  # (n_c, k, 3)
        jac = jacobians(nodes[:, :, :dim], dshape)
        det, inv = _det_inv(jac)
        _check_positive(det, cell_type, first_cell, rule)
        grads = np.matmul(dshape[None], inv) if gradients else None  # (c, q, k, dim)
        coords = np.einsum("qn,cna->cqa", shape, nodes, optimize=True)
        yield BlockGeometry(
            cell_type=cell_type, first_cell=first_cell, first_point=first_point, connectivity=conn,
            element=element, rule=quadrature, shape=shape, det=det, gradients=grads, coordinates=coords,
        )
        first_cell += len(conn)
        first_point += len(conn) * quadrature.n_points
