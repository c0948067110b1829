"""The inner products of the POD and the few collective helpers the POD needs.

A POD inner product is *local*: each rank holds its rows of the snapshots and the
part of the inner product that belongs to them, and the global value is the sum of
the local ones over the ranks (one ``comm.Allreduce``). Three kinds:

``"identity"`` (``inner_product=None``)
    ``(x, y) = Σ_i x_i y_i`` over the local rows. Right when the ranks' rows do not
    overlap (integration-point rows of a cell partition).
``"weighted"`` (a ``(n_local_dofs,)`` vector ``w ≥ 0``)
    ``(x, y) = Σ_i w_i x_i y_i``: the identity product of rows that several ranks
    hold (interface nodes) with weights ``1 / multiplicity`` or 0/1 ownership, or a
    lumped mass.
``"mass"`` (a ``(n_local_dofs, n_local_dofs)`` sparse or dense symmetric matrix)
    ``(x, y) = xᵀ M y`` with ``M`` assembled on this rank's cells only (e.g.
    ``rom.fem.mass_matrix(submesh, rule="high", n_components=3)``): element
    contributions add up exactly over the ranks, so interface nodes count once.

Every product is applied block by block (:data:`BLOCK_BYTES` of temporaries at most,
except for thin operands) so that its memory stays small next to the snapshots.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from rom.parallel import allreduce_sum as _allreduce_sum
import scipy.sparse as sp

from io_adapters.errors import InputError, NiromError

__all__ = ["BLOCK_BYTES", "KINDS", "InnerProduct", "agree", "allreduce_sum", "as_inner_product"]

#: Names of the inner products (``ReducedBasis.inner_product``).
KINDS = ("identity", "weighted", "mass")

#: Bound on the temporaries of one block of a product (bytes).
BLOCK_BYTES = 32 * 2**20


class InnerProduct:
    """The local part of a POD inner product: ``X M Yᵀ`` for row blocks of snapshots.

    Build it with :func:`as_inner_product`. Every method returns *local* sums; the
    caller adds them over the ranks.

    Attributes
    ----------
    kind : {"identity", "weighted", "mass"}
    n_dofs : int
        Local dofs (columns of the snapshots).
    operator : None, (n_dofs,) array or (n_dofs, n_dofs) csr matrix / array
        Weights or matrix as given (float64), ``None`` for the identity.
    """

    __slots__ = ("kind", "n_dofs", "operator", "_sqrt_weights")

    def __init__(self, kind: str, n_dofs: int, operator=None):
        self.kind = kind
        self.n_dofs = int(n_dofs)
        self.operator = operator
        self._sqrt_weights = np.sqrt(operator) if kind == "weighted" else None

    def __repr__(self) -> str:
        return f"InnerProduct({self.kind!r}, n_dofs={self.n_dofs})"

    # ------------------------------------------------------------------ blocks
    def row_blocks(self, n_rows: int, copies: int = 2) -> Iterator[slice]:
        """Slices of rows whose ``copies`` temporaries of ``n_dofs`` floats fit in BLOCK_BYTES (≥ 8 rows)."""
        step = max(8, BLOCK_BYTES // max(1, 8 * copies * self.n_dofs))
        for start in range(0, n_rows, step):
            yield slice(start, min(start + step, n_rows))

    def column_blocks(self, n_rows: int) -> Iterator[slice]:
        """Slices of dofs whose ``(n_rows, block)`` temporary fits in BLOCK_BYTES (≥ 1024 dofs)."""
        step = max(1024, BLOCK_BYTES // max(1, 8 * n_rows))
        for start in range(0, self.n_dofs, step):
            yield slice(start, min(start + step, self.n_dofs))

    # ------------------------------------------------------------------ products
    def apply(self, X: np.ndarray) -> np.ndarray:
        """``X M`` (``M`` symmetric).

        Parameters
        ----------
        X : (k, n_dofs) array

        Returns
        -------
        (k, n_dofs) array
            ``X`` itself for the identity (no copy).
        """
        if self.kind == "identity":
            return X
        if self.kind == "weighted":
            return X * self.operator
        return np.asarray(self.operator @ X.T).T

    def gram(self, X: np.ndarray) -> np.ndarray:
        """Local Gram matrix ``X M Xᵀ``.

        Parameters
        ----------
        X : (k, n_dofs) array

        Returns
        -------
        (k, k) array
            Symmetric. A row of ``X`` holding NaN or ±inf makes its diagonal entry
            non-finite for every kind (also where ``M`` has an empty row).
        """
        with np.errstate(invalid="ignore", over="ignore"):    # NaN/inf rows are reported by the caller
            return self._gram(X)

    def _gram(self, X: np.ndarray) -> np.ndarray:
        k = X.shape[0]
        if self.kind == "identity":
            G = X @ X.T                      # numpy calls syrk for a @ a.T
        elif self.kind == "weighted":
            G = np.zeros((k, k))
            for cols in self.column_blocks(k):
                Y = X[:, cols] * self._sqrt_weights[cols]
                G += Y @ Y.T
        else:
            G = np.zeros((k, k))
            for rows in self.row_blocks(k):   # lower block triangle, then mirror
                G[rows, :rows.stop] = self.apply(X[rows]) @ X[:rows.stop].T
            G = np.tril(G) + np.tril(G, -1).T
            G[np.diag_indices(k)] += nonfinite_marker(X)
        return 0.5 * (G + G.T)

    def cross(self, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """Local ``X M Yᵀ``, ``M`` applied to the thinner operand block by block.

        Parameters
        ----------
        X : (kx, n_dofs) array
        Y : (ky, n_dofs) array

        Returns
        -------
        (kx, ky) array
        """
        if self.kind == "identity":
            return X @ Y.T
        out = np.empty((X.shape[0], Y.shape[0]))
        if Y.shape[0] <= X.shape[0]:
            for rows in self.row_blocks(Y.shape[0]):
                out[:, rows] = X @ self.apply(Y[rows]).T
        else:
            for rows in self.row_blocks(X.shape[0]):
                out[rows] = self.apply(X[rows]) @ Y.T
        return out

    def squared_norms(self, X: np.ndarray) -> np.ndarray:
        """Local ``diag(X M Xᵀ)``.

        NaN or infinite entries of a row make its value non-finite for every kind
        (also where ``M`` has an empty row), so the sum over ranks flags them.

        Parameters
        ----------
        X : (k, n_dofs) array

        Returns
        -------
        (k,) array
        """
        with np.errstate(invalid="ignore", over="ignore"):
            if self.kind == "identity":
                return np.einsum("ij,ij->i", X, X)
            out = np.empty(X.shape[0])
            for rows in self.row_blocks(X.shape[0]):
                out[rows] = np.einsum("ij,ij->i", self.apply(X[rows]), X[rows])
            if self.kind == "mass":
                out += nonfinite_marker(X)
            return out


def nonfinite_marker(X: np.ndarray) -> np.ndarray:
    """(k,) zeros, NaN where a row of ``X`` (k, n) holds NaN or ±inf (one cheap pass)."""
    return np.where(np.isfinite(X.sum(axis=1)), 0.0, np.nan)


def as_inner_product(inner_product, n_dofs: int, *, where: str = "pod") -> InnerProduct:
    """Validate a user's inner product and wrap it.

    Parameters
    ----------
    inner_product : None, InnerProduct, (n_dofs,) array or (n_dofs, n_dofs) sparse/dense matrix
        See the module docstring.
    n_dofs : int
        Local dofs of the snapshots it must match.
    where : str
        Caller's name, for the messages.

    Returns
    -------
    InnerProduct

    Raises
    ------
    InputError
        Wrong shape, negative or non-finite weights, unsupported type.
    """
    if inner_product is None:
        return InnerProduct("identity", n_dofs)
    if isinstance(inner_product, InnerProduct):
        if inner_product.n_dofs != n_dofs:
            raise InputError(f"{where}: the inner product has {inner_product.n_dofs} dofs but the snapshots have "
                             f"{n_dofs} local dofs (columns)")
        return inner_product
    if sp.issparse(inner_product):
        if inner_product.shape != (n_dofs, n_dofs):
            raise InputError(f"{where}: inner_product has shape {inner_product.shape} but the snapshots have "
                             f"{n_dofs} local dofs (columns): expected ({n_dofs}, {n_dofs}), the matrix assembled "
                             "on this rank's cells and numbered like the snapshot rows")
        return InnerProduct("mass", n_dofs, sp.csr_matrix(inner_product, dtype=np.float64))
    try:
        array = np.asarray(inner_product, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{where}: inner_product must be None, a (n_local_dofs,) vector of weights or a "
                         f"(n_local_dofs, n_local_dofs) matrix, found {type(inner_product).__name__}") from exc
    if array.ndim == 1:
        if array.shape != (n_dofs,):
            raise InputError(f"{where}: the inner-product weights have shape {array.shape} but the snapshots have "
                             f"{n_dofs} local dofs (columns): expected ({n_dofs},)")
        bad = np.flatnonzero(~np.isfinite(array) | (array < 0))
        if bad.size:
            raise InputError(f"{where}: inner-product weights must be finite and ≥ 0; dof {bad[0]} has "
                             f"{array[bad[0]]!r} ({bad.size} bad in all)")
        return InnerProduct("weighted", n_dofs, array)
    if array.ndim == 2:
        if array.shape != (n_dofs, n_dofs):
            raise InputError(f"{where}: inner_product has shape {array.shape} but the snapshots have {n_dofs} "
                             f"local dofs (columns): expected ({n_dofs}, {n_dofs})")
        if not np.all(np.isfinite(array)):
            raise InputError(f"{where}: the inner-product matrix holds NaN or infinite values")
        return InnerProduct("mass", n_dofs, array)
    raise InputError(f"{where}: inner_product must be None, a (n_local_dofs,) vector of weights or a "
                     f"(n_local_dofs, n_local_dofs) matrix, found an array of shape {array.shape}")


def allreduce_sum(array: np.ndarray, comm=None) -> np.ndarray:
    """Float64 sum of ``array`` over the ranks of ``comm`` (see :func:`rom.parallel.allreduce_sum`)."""
    return _allreduce_sum(np.asarray(array, dtype=np.float64), comm)


def agree(comm, error: Exception | None, *, count: int | None = None, what: str = "snapshots",
          where: str = "pod") -> None:
    """Raise on every rank what any rank found wrong, so that no rank waits in a collective.

    Parameters
    ----------
    comm : mpi4py communicator or None
    error : NiromError or None
        This rank's validation error, if any.
    count : int, optional
        A number that must be the same on every rank (snapshots in a block…).
    what : str
        What ``count`` counts, for the message.
    where : str
        Caller's name.

    Raises
    ------
    InputError, ConfigError
        The first rank's error (prefixed with its rank), or different counts.
    """
    if comm is None or comm.size == 1:
        if error is not None:
            raise error
        return
    payload = None if error is None else (type(error), str(error))
    gathered = comm.allgather((payload, count))
    for rank, (found, _) in enumerate(gathered):
        if found is not None:
            cls, message = found
            cls = cls if isinstance(cls, type) and issubclass(cls, NiromError) else InputError
            if rank == comm.rank and error is not None:
                raise error
            raise cls(f"[rank {rank}] {message}")
    counts = [c for _, c in gathered]
    if count is not None and len(set(counts)) > 1:
        raise InputError(f"{where}: the ranks hold different numbers of {what}: "
                         + ", ".join(f"rank {r}: {c}" for r, c in enumerate(counts)))

