"""Row layout of the strain operator, and stiffness assembly ``K = Bᵀ diag(w D) B``.

:func:`rom.fem.operators.strain_operator` writes every integration point's six
rows in one fixed layout (:func:`write_point_rows`): for a cell of ``k`` nodes and
``d`` dofs per node, row ε11 holds ``∂N_a/∂x`` at columns ``d·node_a``, row γ12 the
pairs ``(d·node_a, ∂N_a/∂y), (d·node_a + 1, ∂N_a/∂x)``, and so on (see
``STRAIN_ROWS``). Points of one cell are consecutive.

:class:`StiffnessAssembler` recognises that layout (every index and value is
checked once, so a modified ``B`` is never misread), finds the pattern of ``K`` in
``d × d`` node blocks, and then, at each call, assembles element by element: dense
element matrices ``Σ_q B_qᵀ (w D)_q B_q`` chunk by chunk, summed into the node
blocks with ``bincount`` (no scalar COO of 40 M entries), scattered into CSR.
:func:`stiffness` is the one-call form. Any other
sparse ``B`` (row subsets, hand-made operators) goes through the sparse triple
product ``Bᵀ (W B)`` with ``W`` block-diagonal (6 × 6 BSR). The benchmark
(``benchmarks/bench_fem.py``) measures both.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from io_adapters.errors import InputError

__all__ = ["STRAIN_ROWS", "StiffnessAssembler", "write_point_rows", "stiffness", "stiffness_triple_product",
           "row_nnz"]

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
    """Weights (n_points,) and tangents (n_points, 6, 6) as float arrays for a ``B`` of ``6 n_points`` rows."""
    weights = np.asarray(weights, dtype=np.float64)
    tangent = np.asarray(tangent, dtype=np.float64)
    n_points = len(weights)
    if B.shape[0] != 6 * n_points:
        raise InputError(f"stiffness: B has {B.shape[0]} rows, expected 6 × {n_points} (one block per weight; "
                         f"{n_points} weights given)")
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

    A solver that assembles many times with the same ``B`` should keep a
    :class:`StiffnessAssembler` (the layout check and the pattern are done once).
    """
    weights, tangent = _check_inputs(B, weights, tangent)
    assembler = StiffnessAssembler.of(B)
    if assembler is None:
        return stiffness_triple_product(B, weights, tangent)
    return assembler(weights, tangent)


class _Run:
    """Cells of one node count in a canonical ``B``: their points, nodes and block slots."""

    def __init__(self, k: int, first: int, n_q: int, connectivity: np.ndarray, values: np.ndarray):
        self.k, self.first, self.n_q = k, first, n_q
        self.connectivity = connectivity      # (n_cells, k)
        self.values = values                  # (n_cells * n_q, nnz_per_point), a view of B.data
        self.slot: np.ndarray | None = None   # (n_cells * k * k,) unique node block of each element block

    @property
    def n_cells(self) -> int:
        return len(self.connectivity)


class StiffnessAssembler:
    """``K = Bᵀ diag(w D) B`` for one strain operator: pattern once, values per call.

    Build it with :meth:`of` (None when ``B`` is not in the canonical layout of
    :func:`rom.fem.strain_operator`). The constructor checks every index and value
    of ``B`` against the layout once and finds the sparsity pattern of ``K``
    (``d × d`` node blocks, sorted); each call then computes the element matrices
    chunk by chunk, sums them into the node blocks with ``bincount`` and scatters
    them into a new CSR matrix of that pattern. ``B`` must not change afterwards.

    Memory: the pattern (one int per element block and per entry of ``K``) plus
    one chunk of element matrices; no list of every element matrix.
    """

    def __init__(self, B: sp.csr_matrix, d: int, runs: list["_Run"]):
        self.shape = B.shape
        self.n_points = B.shape[0] // 6
        self.d = d
        self.runs = runs
        n_nodes = B.shape[1] // d
        keys = np.concatenate([(r.connectivity[:, :, None].astype(np.int64) * n_nodes
                                + r.connectivity[:, None, :]).ravel() for r in runs])
        unique, slot = np.unique(keys, return_inverse=True)
        del keys
        offset = 0
        for r in runs:
            n = r.n_cells * r.k * r.k
            r.slot = slot[offset:offset + n].astype(np.int32 if len(unique) < 2**31 else np.int64)
            offset += n
        del slot
        self.n_blocks = len(unique)
        rows, cols = np.divmod(unique, n_nodes)
        del unique
        node_ptr = np.searchsorted(rows, np.arange(n_nodes + 1))
        per_row = np.diff(node_ptr)
        # CSR row d·r + i holds, for each neighbour c of r (sorted), the d entries (i, j)
        position = np.arange(self.n_blocks) - node_ptr[rows]
        base = d * d * node_ptr[rows] + d * position
        stride = d * per_row[rows]
        nnz = d * d * self.n_blocks
        index_dtype = np.int32 if nnz < np.iinfo(np.int32).max else np.int64
        # position in the CSR data of entry (i, j) of each node block: (d * d, n_blocks)
        self.scatter = np.empty((d * d, self.n_blocks), dtype=index_dtype)
        self.indices = np.empty(nnz, dtype=index_dtype)
        for i in range(d):
            for j in range(d):
                self.scatter[i * d + j] = base + i * stride + j
                self.indices[self.scatter[i * d + j]] = d * cols + j
        self.indptr = np.empty(d * n_nodes + 1, dtype=index_dtype)
        self.indptr[0] = 0
        np.cumsum(np.repeat(d * per_row, d), out=self.indptr[1:])

    @classmethod
    def of(cls, B) -> "StiffnessAssembler | None":
        """The assembler of ``B``, or None when ``B`` is not in the canonical layout."""
        if not sp.issparse(B) or B.format != "csr":
            return None
        layout = _canonical_runs(B)
        if layout is None:
            return None
        d, run_bounds = layout
        runs = []
        for k, first, n_run in run_bounds:
            run = _checked_run(B, d, k, first, n_run)
            if run is None:
                return None
            runs.append(run)
        return cls(B, d, runs)

    def __call__(self, weights: np.ndarray, tangent: np.ndarray) -> sp.csr_matrix:
        """``K`` for these weights (n_points,) and tangents (6, 6) or (n_points, 6, 6)."""
        weights, tangent = _check_inputs(self, weights, tangent)
        d = self.d
        blocks = np.zeros((d * d, self.n_blocks))   # entry (i, j) of every node block
        for run in self.runs:
            k, n_q = run.k, run.n_q
            nnz_point = run.values.shape[1]
            chunk = max(1, _CHUNK_BYTES // (n_q * 6 * k * d * 8 * 4))
            for c0 in range(0, run.n_cells, chunk):
                c1 = min(run.n_cells, c0 + chunk)
                p0, p1 = c0 * n_q, c1 * n_q
                stored = run.values[p0:p1].reshape(c1 - c0, n_q, nnz_point)
                gradients = np.stack([stored[:, :, i * k:(i + 1) * k] for i in range(d)], axis=-1)
                dense = _dense_strain(gradients, d)  # (c, q, 6, kd)
                points = slice(run.first + p0, run.first + p1)
                scaled = tangent[points] * weights[points, None, None]
                DB = np.matmul(scaled.reshape(c1 - c0, n_q, 6, 6), dense)
                flat = (c1 - c0, n_q * 6, k * d)
                Ke = np.matmul(dense.reshape(flat).transpose(0, 2, 1), DB.reshape(flat))  # (c, kd, kd)
                Ke = Ke.reshape(c1 - c0, k, d, k, d).transpose(2, 4, 0, 1, 3).reshape(d * d, -1)
                slot = run.slot[c0 * k * k:c1 * k * k]
                for ij in range(d * d):
                    blocks[ij] += np.bincount(slot, weights=Ke[ij], minlength=self.n_blocks)
        data = np.empty(d * d * self.n_blocks)
        for ij in range(d * d):
            data[self.scatter[ij]] = blocks[ij]
        del blocks
        K = sp.csr_matrix((data, self.indices.copy(), self.indptr.copy()), shape=(self.shape[1],) * 2)
        K.has_sorted_indices = True
        K.has_canonical_format = True
        return K


def _checked_run(B: sp.csr_matrix, d: int, k: int, first: int, n_run: int) -> "_Run | None":
    """The cells of a run of points, each index and value checked against the layout (None if not)."""
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
    connectivity = point_nodes[cell_starts]
    chunk = max(1, _CHUNK_BYTES // (n_q * nnz_point * 8 * 4))
    for c0 in range(0, len(cell_starts), chunk):
        c1 = min(len(cell_starts), c0 + chunk)
        stored_values = values[c0 * n_q:c1 * n_q].reshape(c1 - c0, n_q, nnz_point)
        stored_columns = columns[c0 * n_q:c1 * n_q].reshape(c1 - c0, n_q, nnz_point)
        # gradients from the ε11, ε22 (, ε33) rows, then the whole layout re-written and compared
        gradients = np.stack([stored_values[:, :, i * k:(i + 1) * k] for i in range(d)], axis=-1)
        expected_values = np.empty_like(stored_values)
        expected_columns = np.empty_like(stored_columns)
        write_point_rows(gradients, connectivity[c0:c1], d, expected_values, expected_columns)
        if not (np.array_equal(expected_values, stored_values) and np.array_equal(expected_columns, stored_columns)):
            return None
    return _Run(k, first, n_q, connectivity, values)
