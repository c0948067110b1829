"""Element partitions for the parallel high-fidelity solver.

Cells are split into balanced parts with METIS (pymetis, dual graph: cells that
share a node are neighbours). A node belongs to the lowest part among the cells
that hold it; dofs are renumbered so that each part owns a contiguous block of
rows, as PETSc wants.
"""

from __future__ import annotations

import numpy as np

from io_adapters.errors import ConfigError
from io_adapters.mesh import Mesh


def partition_cells(mesh: Mesh, n_parts: int, *, seed: int = 0) -> np.ndarray:
    """Part index of every cell, shape (n_cells,), balanced with METIS.

    Parameters
    ----------
    mesh : Mesh
    n_parts : int
        Number of parts (ranks); at most the number of cells.
    """
    if n_parts < 1:
        raise ConfigError(f"number of parts must be positive, found {n_parts}")
    if n_parts > mesh.n_cells:
        raise ConfigError(f"cannot split {mesh.n_cells} cells into {n_parts} parts (more parts than cells)")
    if n_parts == 1:
        return np.zeros(mesh.n_cells, dtype=np.int64)
    import pymetis

    connectivity = [row for conn in mesh.cells.values() for row in conn.tolist()]
    dual_common = 3 if mesh.dim == 3 else 2   # neighbours share a face (3 nodes) / an edge (2)
    result = pymetis.part_mesh(n_parts, connectivity, options=pymetis.Options(seed=seed),
                               gtype=pymetis.GType.DUAL, ncommon=dual_common)
    parts = result.element_part
    parts = np.asarray(parts, dtype=np.int64)
    if len(np.unique(parts)) != n_parts:   # METIS may leave a part empty on tiny meshes
        parts = np.minimum(np.arange(mesh.n_cells) * n_parts // mesh.n_cells, n_parts - 1)
    return parts


def node_owners(mesh: Mesh, cell_parts: np.ndarray) -> np.ndarray:
    """Owner part of every node: the lowest part among its cells, shape (n_nodes,)."""
    owner = np.full(mesh.n_nodes, np.iinfo(np.int64).max, dtype=np.int64)
    start = 0
    for conn in mesh.cells.values():
        parts = np.repeat(cell_parts[start : start + len(conn)], conn.shape[1])
        np.minimum.at(owner, conn.ravel(), parts)
        start += len(conn)
    if np.any(owner == np.iinfo(np.int64).max):
        owner[owner == np.iinfo(np.int64).max] = 0   # nodes in no cell: give them to part 0
    return owner


def contiguous_node_numbering(owner: np.ndarray, n_parts: int) -> tuple[np.ndarray, np.ndarray]:
    """Renumber nodes so that each part owns a contiguous block.

    Returns
    -------
    new_index : (n_nodes,) int array
        New index of every node (parts in order, original order inside a part).
    starts : (n_parts + 1,) int array
        First new index of each part's block (and the total at the end).
    """
    order = np.argsort(owner, kind="stable")
    new_index = np.empty_like(order)
    new_index[order] = np.arange(len(order))
    counts = np.bincount(owner, minlength=n_parts)
    return new_index, np.concatenate([[0], np.cumsum(counts)])
