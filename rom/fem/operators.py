"""Sparse operators at integration points: strain (B), interpolation, mass, stiffness.

Conventions (nirom's, DESIGN.md §5):

- integration points are numbered cell by cell in the mesh's cell order, each
  cell's points in the rule's order (:func:`rom.fem.quadrature.quadrature_rule`);
- strains are Voigt vectors ``[11, 22, 33, 12, 23, 31]`` with **engineering**
  shear (``γ12 = ∂u1/∂x2 + ∂u2/∂x1``); the rows of ``B`` are point-major (the six
  components of point 0, then of point 1, ...);
- displacement dofs are node-major ``[u1x, u1y, u1z, u2x, ...]``.

**2D meshes** (``mesh.dim == 2``) are plane strain with **2 dofs per node**
(``[u1x, u1y, u2x, ...]``) and the *same 6-row strain layout*: the rows of ε33, γ23
and γ31 are empty (ε33 = 0), so 3D constitutive laws, stresses with six components
and ``internal_forces``/``stiffness`` work unchanged, and the assembled stiffness has
no zero out-of-plane dofs to constrain. Thickness is 1.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from io_adapters.errors import InputError
from io_adapters.mesh import Mesh
from rom.fem.assembly import row_nnz, write_point_rows
from rom.fem.assembly import stiffness as _assembled_stiffness
from rom.fem.geometry import cell_blocks, dofs_per_node
from rom.fem.quadrature import quadrature_rule

__all__ = [
    "integration_points", "integration_weights", "strain_operator", "interpolation_operator",
    "mass_matrix", "internal_forces", "stiffness", "point_counts",
]


def _index_dtype(*sizes: int) -> type:
    return np.int32 if max(sizes) < np.iinfo(np.int32).max else np.int64


def point_counts(mesh: Mesh, rule: str = "default") -> np.ndarray:
    """Integration points of each cell, shape (n_cells,), in the mesh's cell order."""
    return np.concatenate(
        [np.full(len(conn), quadrature_rule(t, rule).n_points, dtype=np.int64) for t, conn in mesh.cells.items()]
    ) if mesh.cells else np.zeros(0, dtype=np.int64)


def integration_points(mesh: Mesh, rule: str = "default") -> np.ndarray:
    """Physical coordinates of the integration points.

    Parameters
    ----------
    mesh : Mesh
    rule : {"default", "zset", "zset-reduced", "high"}

    Returns
    -------
    (n_points, 3) array
        Cells in the mesh's cell order, each cell's points in rule order (z = 0 in 2D).
    """
    blocks = [b.coordinates.reshape(-1, 3) for b in cell_blocks(mesh, rule, gradients=False)]
    return np.concatenate(blocks) if blocks else np.zeros((0, 3))


def integration_weights(mesh: Mesh, rule: str = "default") -> np.ndarray:
    """Physical integration weights ``w_q · det J``, shape (n_points,).

    They sum to the mesh's volume (area in 2D); Zset's c3d10 rule has one negative
    weight per cell.
    """
    blocks = [b.weights.ravel() for b in cell_blocks(mesh, rule, gradients=False)]
    return np.concatenate(blocks) if blocks else np.zeros(0)


def strain_operator(mesh: Mesh, rule: str = "default") -> tuple[sp.csr_matrix, np.ndarray]:
    """Small-strain operator at integration points: ``ε = B @ u``.

    Parameters
    ----------
    mesh : Mesh
        2D or 3D mesh (see the module docstring for 2D).
    rule : {"default", "zset", "zset-reduced", "high"}
        Integration rule; its points fix the rows.

    Returns
    -------
    B : (6 * n_points, d * n_nodes) scipy.sparse.csr_matrix
        Rows point-major, Voigt ``[11, 22, 33, 12, 23, 31]`` with engineering shear;
        columns node-major (``d`` = 3 in 3D, 2 in 2D). Each point's rows hold, in
        this order, the entries of its cell's nodes (node-major), so that
        ``B.indices`` of a point's ε11 row is ``d * connectivity``.
    weights : (n_points,) array
        Physical integration weights ``w_q · det J``.

    Raises
    ------
    InputError
        Non-positive Jacobian (naming the cell and its type), unknown cell type or rule.
    """
    d = dofs_per_node(mesh)
    blocks = list(cell_blocks(mesh, rule, gradients=True))
    n_points = sum(b.n_points for b in blocks)
    n_cols = d * mesh.n_nodes
    per_point = [int(row_nnz(d, b.connectivity.shape[1]).sum()) for b in blocks]
    nnz = sum(b.n_points * p for b, p in zip(blocks, per_point))
    index_dtype = _index_dtype(nnz, n_cols)
    data = np.empty(nnz)
    indices = np.empty(nnz, dtype=index_dtype)
    row_lengths = np.empty(6 * n_points, dtype=index_dtype)
    weights = np.empty(n_points)
    start = 0
    for block, nnz_point in zip(blocks, per_point):
        end = start + block.n_points * nnz_point
        shape = (block.n_cells, block.n_q, nnz_point)
        write_point_rows(block.gradients, block.connectivity, d,
                         data[start:end].reshape(shape), indices[start:end].reshape(shape))
        p0 = block.first_point
        lengths = row_nnz(d, block.connectivity.shape[1])
        row_lengths[6 * p0: 6 * (p0 + block.n_points)] = np.tile(lengths, block.n_points)
        weights[p0: p0 + block.n_points] = block.weights.ravel()
        start = end
    indptr = np.zeros(6 * n_points + 1, dtype=index_dtype)
    np.cumsum(row_lengths, out=indptr[1:])
    B = sp.csr_matrix((data, indices, indptr), shape=(6 * n_points, n_cols))
    return B, weights


def interpolation_operator(mesh: Mesh, rule: str = "default") -> sp.csr_matrix:
    """Nodal → integration-point interpolation: ``T_points = N @ T_nodes``.

    Returns
    -------
    (n_points, n_nodes) scipy.sparse.csr_matrix
        ``N[p, i] = N_i(ξ_p)`` for the nodes of point p's cell.
    """
    blocks = list(cell_blocks(mesh, rule, gradients=False))
    data, indices, lengths = [], [], []
    for b in blocks:
        k = b.connectivity.shape[1]
        data.append(np.broadcast_to(b.shape[None], (b.n_cells, b.n_q, k)).ravel())
        indices.append(np.broadcast_to(b.connectivity[:, None, :], (b.n_cells, b.n_q, k)).ravel())
        lengths.append(np.full(b.n_points, k))
    if not blocks:
        return sp.csr_matrix((0, mesh.n_nodes))
    lengths = np.concatenate(lengths)
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    dtype = _index_dtype(indptr[-1], mesh.n_nodes)
    return sp.csr_matrix((np.concatenate(data), np.concatenate(indices).astype(dtype), indptr.astype(dtype)),
                         shape=(len(lengths), mesh.n_nodes))


def _per_point(values, n_points: int, what: str) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 0:
        return np.full(n_points, float(values))
    if values.shape != (n_points,):
        raise InputError(f"{what} must be a scalar or have shape ({n_points},) (one per integration point), "
                         f"found {values.shape}")
    return values


def mass_matrix(mesh: Mesh, rule: str = "default", density=1.0, n_components: int | None = None) -> sp.csr_matrix:
    """Consistent mass matrix ``M_ij = ∫ ρ N_i N_j dV`` (⊗ identity over components).

    Parameters
    ----------
    mesh : Mesh
    rule : str
        Integration rule. ``"default"`` integrates the mass of every element exactly
        except ``tetra10`` (4 points, degree 2: rank-deficient element masses);
        ``"high"`` is exact for all types with constant density.
    density : float or (n_points,) array
        Density, constant or at the rule's integration points.
    n_components : int, optional
        Components per node: the mesh's displacement dofs per node when omitted
        (3 in 3D, 2 in 2D); 1 gives the scalar L2 mass matrix.

    Returns
    -------
    (n_components * n_nodes,) ² scipy.sparse.csr_matrix
        Symmetric, dofs node-major.
    """
    n_components = dofs_per_node(mesh) if n_components is None else int(n_components)
    if n_components < 1:
        raise InputError(f"n_components must be ≥ 1, found {n_components}")
    N = interpolation_operator(mesh, rule)
    weights = integration_weights(mesh, rule) * _per_point(density, N.shape[0], "density")
    scalar = (N.T @ sp.diags_array(weights) @ N).tocsr()
    if n_components == 1:
        return sp.csr_matrix(scalar)
    return sp.csr_matrix(sp.kron(scalar, sp.eye(n_components), format="csr"))


def internal_forces(B: sp.spmatrix, weights: np.ndarray, stress: np.ndarray) -> np.ndarray:
    """Internal nodal forces ``f = Bᵀ (w σ)``.

    Parameters
    ----------
    B : (6 * n_points, n_dofs) sparse matrix
    weights : (n_points,) array
    stress : (n_points, 6) or (n_steps, n_points, 6) array
        Voigt stresses ``[11, 22, 33, 12, 23, 31]`` (shear stresses as they are).

    Returns
    -------
    (n_dofs,) or (n_steps, n_dofs) array
    """
    weights = np.asarray(weights, dtype=np.float64)
    stress = np.asarray(stress, dtype=np.float64)
    n_points = len(weights)
    if stress.shape[-2:] != (n_points, 6) or stress.ndim not in (2, 3) or B.shape[0] != 6 * n_points:
        raise InputError(f"internal_forces: B {B.shape}, weights {weights.shape} and stress {stress.shape} "
                         "do not match (expected B (6 n_points, n_dofs), stress (..., n_points, 6))")
    weighted = (stress * weights[:, None]).reshape(-1, 6 * n_points)
    return (B.T @ weighted.T).T.reshape(stress.shape[:-2] + (B.shape[1],))


def stiffness(B: sp.spmatrix, weights: np.ndarray, tangent: np.ndarray) -> sp.csr_matrix:
    """Assembled tangent stiffness ``K = Bᵀ diag(w D) B``.

    Parameters
    ----------
    B : (6 * n_points, n_dofs) sparse matrix
        Usually from :func:`strain_operator` (any sparse matrix works).
    weights : (n_points,) array
    tangent : (6, 6) or (n_points, 6, 6) array
        Consistent tangent ``∂σ/∂ε`` (engineering-shear Voigt) at each point.

    Returns
    -------
    (n_dofs, n_dofs) scipy.sparse.csr_matrix

    Notes
    -----
    A ``B`` straight from :func:`strain_operator` (its layout is verified entry by
    entry) is assembled element by element, about 4× faster than the sparse triple
    product used for any other ``B`` (see :mod:`rom.fem.assembly`).
    """
    return _assembled_stiffness(B, weights, tangent)
