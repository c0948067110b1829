"""Row layout of the strain operator, and stiffness assembly ``K = Bᵀ diag(w D) B``.

:func:`rom.fem.operators.strain_operator` writes every integration point's six
rows in one fixed layout (:func:`write_point_rows`): for a cell of ``k`` nodes and
``d`` dofs per node, row ε11 holds ``∂N_a/∂x`` at columns ``d·node_a``, row γ12 the
pairs ``(d·node_a, ∂N_a/∂y), (d·node_a + 1, ∂N_a/∂x)``, and so on (see
``STRAIN_ROWS``). Points of one cell are consecutive.

:func:`stiffness` recognises that layout (every index and value is checked, so a
modified ``B`` is never misread) and then assembles element by element: dense
element matrices ``Σ_q B_qᵀ (w D)_q B_q``, summed into ``d × d`` node blocks with a
sort and ``bincount`` (no scalar COO of 40 M entries), converted to CSR. Any other
sparse ``B`` (row subsets, hand-made operators) goes through the sparse triple
product ``Bᵀ (W B)`` with ``W`` block-diagonal (6 × 6 BSR). The benchmark
(``benchmarks/bench_fem.py``) measures both.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from io_adapters.errors import InputError

__all__ = ["STRAIN_ROWS", "write_point_rows", "stiffness", "stiffness_triple_product", "row_nnz"]

#: Voigt rows ``[11, 22, 33, 12, 23, 31]`` as (displacement component, derivative
#: direction) pairs, engineering shear, for 3 and 2 dofs per node.
STRAIN_ROWS: dict[int, tuple[tuple[tuple[int, int], ...], ...]] = {
    3: (((0, 0),), ((1, 1),), ((2, 2),), ((0, 1), (1, 0)), ((1, 2), (2, 1)), ((0, 2), (2, 0))),
    2: (((0, 0),), ((1, 1),), (), ((0, 1), (1, 0)), (), ()),
}

_CHUNK_BYTES = 64 * 2**20


def row_nnz(d: int, k: int) -> np.ndarray:
    """Entries of each of a point's six rows, shape (6,), for k nodes and d dofs per node."""
    return np.array([len(pairs) * k for pairs in STRAIN_ROWS[d]])


def write_point_rows(gradients: np.ndarray, connectivity: np.ndarray, d: int,
                     values: np.ndarray, columns: np.ndarray) -> None:
    """Write the strain-operator entries of points in the canonical layout.

    Parameters
    ----------
    gradients : (n_cells, n_q, k, d) array
        Physical shape-function gradients.
    connectivity : (n_cells, k) int array
    d : {2, 3}
        Dofs per node.
    values, columns : (n_cells, n_q, nnz_per_point) arrays, written in place
        ``nnz_per_point = row_nnz(d, k).sum()``.
    """
    n_c, n_q, k = gradients.shape[:3]
    dof_base = d * connectivity.astype(columns.dtype)
    offset = 0
    for pairs in STRAIN_ROWS[d]:
        width = len(pairs) * k
        if width:
            components = np.array([c for c, _ in pairs], dtype=columns.dtype)
            directions = [g for _, g in pairs]
            values[:, :, offset:offset + width] = gradients[:, :, :, directions].reshape(n_c, n_q, width)
            columns[:, :, offset:offset + width] = (dof_base[:, :, None] + components).reshape(n_c, 1, width)
        offset += width


def _dense_strain(gradients: np.ndarray, d: int) -> np.ndarray:
    """Dense point operators ``B_q``, shape (n_cells, n_q, 6, k * d)."""
    n_c, n_q, k = gradients.shape[:3]
    dense = np.zeros((n_c, n_q, 6, k, d))
    for row, pairs in enumerate(STRAIN_ROWS[d]):
        for component, direction in pairs:
            dense[:, :, row, :, component] = gradients[:, :, :, direction]
    return dense.reshape(n_c, n_q, 6, k * d)


def _check_inputs(B, weights, tangent) -> tuple[np.ndarray, np.ndarray]:
    weights = np.asarray(weights, dtype=np.float64)
    tangent = np.asarray(tangent, dtype=np.float64)
    n_points = len(weights)
    if B.shape[0] != 6 * n_points:
        raise InputError(f"stiffness: B has {B.shape[0]} rows, expected 6 × {n_points} (one block per weight)")
    if tangent.shape == (6, 6):
        tangent = np.broadcast_to(tangent, (n_points, 6, 6))
    if tangent.shape != (n_points, 6, 6):
        raise InputError(f"stiffness: tangent must have shape (6, 6) or ({n_points}, 6, 6), found {tangent.shape}")
    return weights, tangent


def stiffness_triple_product(B, weights, tangent) -> sp.csr_matrix:
    """``Bᵀ (W B)`` with ``W`` the block-diagonal of ``w_p D_p`` (6 × 6 BSR blocks).

    Parameters and result as :func:`stiffness`; works for any sparse ``B``.
    """
    weights, tangent = _check_inputs(B, weights, tangent)
    n_points = len(weights)
    blocks = np.ascontiguousarray(tangent * weights[:, None, None])
    W = sp.bsr_matrix((blocks, np.arange(n_points), np.arange(n_points + 1)), shape=(6 * n_points,) * 2)
    B = sp.csr_matrix(B)
    return sp.csr_matrix(B.T.tocsr() @ (W @ B).tocsr())


def _canonical_runs(B: sp.csr_matrix) -> tuple[int, list[tuple[int, int, int]]] | None:
    """Cheap structural test of the canonical layout, from ``indptr`` only.

    Returns ``(d, runs)`` with runs ``(k, first_point, n_points)`` of constant
    nodes-per-cell, or None when the row lengths do not follow the layout.
    """
    n_points = B.shape[0] // 6
    if n_points == 0:
        return None
    lengths = np.diff(B.indptr).reshape(n_points, 6)
    d = 2 if lengths[0, 2] == 0 else 3
    if B.shape[1] % d:
        return None
    k = lengths[:, 0]
    if np.any(k == 0) or np.any(lengths != k[:, None] * row_nnz(d, 1)[None, :]):
        return None
    change = np.flatnonzero(np.diff(k)) + 1
    starts = np.concatenate([[0], change])
    stops = np.concatenate([change, [n_points]])
    return d, [(int(k[s]), int(s), int(e - s)) for s, e in zip(starts, stops)]


def stiffness(B, weights, tangent) -> sp.csr_matrix:
    """Assembled tangent stiffness ``K = Bᵀ diag(w D) B``.

    Parameters
    ----------
    B : (6 * n_points, n_dofs) sparse matrix
        From :func:`rom.fem.strain_operator` for the fast element-by-element path;
        any other sparse matrix is handled by the sparse triple product.
    weights : (n_points,) array
        Physical integration weights.
    tangent : (6, 6) or (n_points, 6, 6) array
        Consistent tangent ``∂σ/∂ε`` at each point (engineering-shear Voigt).

    Returns
    -------
    (n_dofs, n_dofs) scipy.sparse.csr_matrix
        Canonical (sorted indices, no duplicates).
    """
    weights, tangent = _check_inputs(B, weights, tangent)
    if not sp.issparse(B) or B.format != "csr":
        return stiffness_triple_product(B, weights, tangent)
    layout = _canonical_runs(B)
    if layout is None:
        return stiffness_triple_product(B, weights, tangent)
    result = _element_assembly(B, weights, tangent, *layout)
    return stiffness_triple_product(B, weights, tangent) if result is None else result


def _element_assembly(B, weights, tangent, d, runs) -> sp.csr_matrix | None:
    """Element-by-element assembly for a canonical B; None if B is not canonical after all."""
    n_nodes = B.shape[1] // d
    keys, blocks = [], []
    for k, first, n_run in runs:
        nnz_point = int(row_nnz(d, k).sum())
        start = B.indptr[6 * first]
        values = B.data[start:start + n_run * nnz_point].reshape(n_run, nnz_point)
        columns = B.indices[start:start + n_run * nnz_point].reshape(n_run, nnz_point)
        point_dofs = columns[:, :k]
        if np.any(point_dofs % d):
            return None
        point_nodes = point_dofs // d
        # points of one cell are consecutive and share the ε11 columns
        new = np.concatenate([[True], np.any(point_nodes[1:] != point_nodes[:-1], axis=1)])
        cell_starts = np.flatnonzero(new)
        sizes = np.diff(np.append(cell_starts, n_run))
        n_q = int(sizes[0])
        if np.any(sizes != n_q):
            return None
        n_cells = len(cell_starts)
        connectivity = point_nodes[cell_starts]
        block_keys = (connectivity[:, :, None].astype(np.int64) * n_nodes + connectivity[:, None, :]).ravel()
        run_blocks = np.empty((d * d, n_cells * k * k))
        chunk = max(1, _CHUNK_BYTES // (n_q * 6 * k * d * 8 * 4))
        for c0 in range(0, n_cells, chunk):
            c1 = min(n_cells, c0 + chunk)
            p0, p1 = c0 * n_q, c1 * n_q
            stored_values = values[p0:p1].reshape(c1 - c0, n_q, nnz_point)
            stored_columns = columns[p0:p1].reshape(c1 - c0, n_q, nnz_point)
            # gradients from the ε11, ε22 (, ε33) rows, then the whole layout re-written and compared
            gradients = np.stack([stored_values[:, :, i * k:(i + 1) * k] for i in range(d)], axis=-1)
            expected_values = np.empty_like(stored_values)
            expected_columns = np.empty_like(stored_columns)
            write_point_rows(gradients, connectivity[c0:c1], d, expected_values, expected_columns)
            same = np.array_equal(expected_values, stored_values) and np.array_equal(expected_columns, stored_columns)
            if not same:
                return None
            dense = _dense_strain(gradients, d)  # (c, q, 6, kd)
            scaled = tangent[first + p0:first + p1] * weights[first + p0:first + p1, None, None]
            DB = np.matmul(scaled.reshape(c1 - c0, n_q, 6, 6), dense)
            flat = (c1 - c0, n_q * 6, k * d)
            Ke = np.matmul(dense.reshape(flat).transpose(0, 2, 1), DB.reshape(flat))  # (c, kd, kd)
            Ke = Ke.reshape(c1 - c0, k, d, k, d).transpose(2, 4, 0, 1, 3).reshape(d * d, -1)
            run_blocks[:, c0 * k * k:c1 * k * k] = Ke
        keys.append(block_keys)
        blocks.append(run_blocks)
    return _assemble_node_blocks(np.concatenate(keys), np.concatenate(blocks, axis=1), n_nodes, d)


def _assemble_node_blocks(keys: np.ndarray, blocks: np.ndarray, n_nodes: int, d: int) -> sp.csr_matrix:
    """Sum ``d × d`` blocks with keys ``row_node · n_nodes + col_node`` into a CSR matrix.

    Parameters
    ----------
    keys : (m,) int64 array
    blocks : (d * d, m) array
        Block entries, row-major within a block.
    """
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    first = np.empty(len(keys), dtype=bool)
    first[:1] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=first[1:])
    unique = sorted_keys[first]
    slot = np.empty(len(keys), dtype=np.int64)
    slot[order] = np.cumsum(first) - 1
    rows, cols = np.divmod(unique, n_nodes)
    node_ptr = np.searchsorted(rows, np.arange(n_nodes + 1))
    per_row = np.diff(node_ptr)  # node blocks in each node row
    # scalar CSR: row d·r + i holds, for each neighbour c of r (sorted), the d entries (i, j)
    position = np.arange(len(unique)) - node_ptr[rows]
    base = d * d * node_ptr[rows] + d * position
    stride = d * per_row[rows]
    data = np.empty(d * d * len(unique))
    for i in range(d):
        for j in range(d):
            data[base + i * stride + j] = np.bincount(slot, weights=blocks[i * d + j], minlength=len(unique))
    index_dtype = np.int32 if data.size < np.iinfo(np.int32).max else np.int64
    indices = (d * cols[:, None] + np.arange(d)).astype(index_dtype)  # (n_unique, d) per node row
    indices = np.broadcast_to(indices[:, None, :], (len(unique), d, d))
    column_of = np.empty(d * d * len(unique), dtype=index_dtype)
    for i in range(d):
        column_of[(base[:, None] + i * stride[:, None] + np.arange(d))] = indices[:, i, :]
    indptr = np.empty(d * n_nodes + 1, dtype=index_dtype)
    indptr[0] = 0
    np.cumsum(np.repeat(d * per_row, d), out=indptr[1:])
    K = sp.csr_matrix((data, column_of, indptr), shape=(n_nodes * d,) * 2)
    K.has_sorted_indices = True
    K.has_canonical_format = True
    return K
