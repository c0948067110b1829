"""Streaming POD: snapshots read block by block (time steps from a store), checkpointable.

The Gram matrix is accumulated one block row at a time: block ``b`` (read once) is
multiplied with itself and with every earlier block ``c < b`` (re-read one at a time),
so at most two blocks of snapshots are in memory (plus ``X_b M`` for a non-identity
inner product); the new block row is summed over the ranks right away (one
``Allreduce`` per block). The accumulated Gram matrix is therefore *global*: the
same on every rank and independent of the partition, so a checkpoint written by rank
0 resumes on any number of ranks. A final pass reads every block once more and adds
its contribution to the modes.

    acc = GramAccumulator(inner_product=M, comm=comm)          # or from_state(...)
    for b in range(acc.n_blocks, n_blocks):                      # resumes where it stopped
        acc.add_block(read_block(b), read_block)                 # read_block(c), c < b: re-reads
        if comm.rank == 0:
            save_to_hdf5(acc.state())                            # plain arrays
    basis = acc.finish(read_block, tol=1e-6)

:func:`pod_streaming` is that loop. Its result equals :func:`rom.pod.pod` of the
stacked blocks to round-off.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from io_adapters.errors import ConfigError, InputError, NiromError
from rom.pod.basis import ReducedBasis
from rom.pod.inner_product import KINDS, InnerProduct, agree, allreduce_sum, as_inner_product
from rom.pod.linalg import orthonormalize, raise_on_nonfinite, symmetric_eigen
from rom.pod.snapshots import snapshot_rows
from rom.pod.truncation import check_criteria, truncation_rank

__all__ = ["GramAccumulator", "STATE_VERSION", "pod_streaming"]

#: Version of :meth:`GramAccumulator.state`.
STATE_VERSION = 1

ReadBlock = Callable[[int], np.ndarray]


class GramAccumulator:
    """The Gram matrix ``C = S M Sᵀ`` of snapshots that arrive in blocks.

    Parameters
    ----------
    inner_product : None, (n_local_dofs,) array or (n_local_dofs, n_local_dofs) matrix
        As in :func:`rom.pod.pod` (this rank's part).
    comm : mpi4py communicator, optional

    Attributes
    ----------
    gram : (n_snapshots, n_snapshots) array
        The global Gram matrix of the blocks added so far (a copy).
    n_blocks, n_snapshots, block_sizes
        Blocks added, snapshots in them, snapshots per block.
    """

    def __init__(self, inner_product=None, comm=None):
        self._inner_product = inner_product
        self._product: InnerProduct | None = None
        self._comm = comm
        self._gram = np.zeros((0, 0))
        self._sizes: list[int] = []
        self._expected_kind: str | None = None

    # ------------------------------------------------------------------ state
    @property
    def n_blocks(self) -> int:
        return len(self._sizes)

    @property
    def n_snapshots(self) -> int:
        return int(sum(self._sizes))

    @property
    def block_sizes(self) -> tuple[int, ...]:
        return tuple(self._sizes)

    @property
    def gram(self) -> np.ndarray:
        return self._gram.copy()

    def state(self) -> dict[str, np.ndarray]:
        """The accumulator as plain arrays (for an HDF5 checkpoint; identical on every rank).

        Returns
        -------
        dict
            ``gram (n, n)`` float64 (global), ``block_sizes (n_blocks,)`` int64,
            ``inner_product ()`` int64 (index in :data:`~rom.pod.inner_product.KINDS`,
            -1 before the first block), ``version ()`` int64.
        """
        kind = self._product.kind if self._product is not None else self._expected_kind
        return {"gram": self._gram.copy(), "block_sizes": np.asarray(self._sizes, dtype=np.int64),
                "inner_product": np.asarray(KINDS.index(kind) if kind else -1, dtype=np.int64),
                "version": np.asarray(STATE_VERSION, dtype=np.int64)}

    @classmethod
    def from_state(cls, state, *, inner_product=None, comm=None) -> "GramAccumulator":
        """Resume from :meth:`state` (any mapping of arrays, e.g. an open HDF5 group).

        Parameters
        ----------
        state : mapping
            The arrays of :meth:`state`.
        inner_product, comm
            This run's (the partition may differ from the run that saved the state;
            the inner product must be of the same kind).

        Raises
        ------
        InputError
            Missing arrays, unknown version, inconsistent shapes.
        """
        try:
            version = int(np.asarray(state["version"]))
            gram = np.array(state["gram"], dtype=np.float64)
            sizes = [int(s) for s in np.asarray(state["block_sizes"]).ravel()]
            kind_index = int(np.asarray(state["inner_product"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"GramAccumulator.from_state: not a Gram accumulator state ({exc!r}); expected the "
                             "arrays 'gram', 'block_sizes', 'inner_product', 'version'") from exc
        if version != STATE_VERSION:
            raise InputError(f"GramAccumulator.from_state: state version {version}, this nirom reads "
                             f"{STATE_VERSION}")
        n = sum(sizes)
        if gram.shape != (n, n) or any(s <= 0 for s in sizes) or not np.all(np.isfinite(gram)):
            raise InputError(f"GramAccumulator.from_state: a gram of shape {gram.shape} does not match block sizes "
                             f"{sizes} (or holds non-finite values)")
        if not -1 <= kind_index < len(KINDS):
            raise InputError(f"GramAccumulator.from_state: unknown inner-product code {kind_index}")
        accumulator = cls(inner_product=inner_product, comm=comm)
        accumulator._gram = gram
        accumulator._sizes = sizes
        accumulator._expected_kind = KINDS[kind_index] if kind_index >= 0 else None
        return accumulator

    # ------------------------------------------------------------------ work
    def _block(self, block, index: int, *, expected: int | None = None) -> np.ndarray:
        """A block as (k, n_local_dofs) float64, checked against the inner product and, if given, its size."""
        X = snapshot_rows(block, where=f"streaming POD, block {index}")
        if self._product is None:
            self._product = as_inner_product(self._inner_product, X.shape[1], where="streaming POD")
            if self._expected_kind is not None and self._product.kind != self._expected_kind:
                raise ConfigError(f"streaming POD: the checkpoint was accumulated with the '{self._expected_kind}' "
                                  f"inner product, this run gives a '{self._product.kind}' one")
        elif X.shape[1] != self._product.n_dofs:
            raise InputError(f"streaming POD: block {index} has {X.shape[1]} local dofs (columns), the earlier "
                             f"blocks {self._product.n_dofs}")
        if expected is not None and X.shape[0] != expected:
            raise InputError(f"streaming POD: block {index} now holds {X.shape[0]} snapshots, it held {expected} "
                             "when it was first read (did the store change?)")
        return X

    def _reread(self, read_block: ReadBlock, index: int) -> np.ndarray:
        """Block ``index`` read again, checked; every rank raises if one fails."""
        error, X = None, None
        try:
            X = self._block(read_block(index), index, expected=self._sizes[index])
        except NiromError as exc:
            error = exc
        agree(self._comm, error, where="streaming POD")
        return X

    def add_block(self, block: np.ndarray, read_block: ReadBlock | None = None) -> None:
        """Add the next block: its Gram block row against itself and every earlier block.

        Parameters
        ----------
        block : (k, n_local_dofs) array
            This rank's rows of the next ``k`` snapshots (block number ``n_blocks``).
        read_block : callable, optional
            ``read_block(c) -> (k_c, n_local_dofs)`` re-reads the earlier block ``c``
            (needed from the second block on); called once per earlier block, each
            dropped before the next is read.

        Raises
        ------
        InputError
            Wrong shapes, NaN/inf values (naming the snapshot), blocks of different
            sizes on different ranks. Every rank raises.
        ConfigError
            No ``read_block`` for a second block; an inner product of another kind
            than the checkpoint's.
        """
        b = self.n_blocks
        error, X = None, None
        try:
            if b > 0 and read_block is None:
                raise ConfigError("GramAccumulator.add_block: read_block is needed to re-read the earlier blocks "
                                  f"(this is block {b})")
            X = self._block(block, b)
        except NiromError as exc:
            error = exc
        agree(self._comm, error, count=None if X is None else X.shape[0], what=f"snapshots in block {b}",
              where="streaming POD")
        k, n_old = X.shape[0], self.n_snapshots
        row = np.empty((k, n_old + k))
        if b > 0:
            weighted = self._product.apply(X)
            offset = 0
            for c, size in enumerate(self._sizes):
                earlier = self._reread(read_block, c)
                row[:, offset:offset + size] = weighted @ earlier.T
                offset += size
                del earlier
            del weighted
        row[:, n_old:] = self._product.gram(X)
        row = allreduce_sum(row, self._comm)
        raise_on_nonfinite(np.diag(row[:, n_old:]), where=f"streaming POD, block {b}", offset=n_old)
        if not np.all(np.isfinite(row)):
            raise InputError(f"streaming POD: an earlier block re-read for block {b} holds NaN or infinite values "
                             "(did the store change?)")
        gram = np.empty((n_old + k, n_old + k))
        gram[:n_old, :n_old] = self._gram
        gram[n_old:, :] = row
        gram[:n_old, n_old:] = row[:, :n_old].T
        self._gram = gram
        self._sizes.append(k)

    def finish(self, read_block: ReadBlock, *, tol: float | None = None, n_modes: int | None = None) -> ReducedBasis:
        """Eigen-decompose the Gram matrix and form the modes in one more pass over the blocks.

        Parameters
        ----------
        read_block : callable
            ``read_block(b) -> (k_b, n_local_dofs)`` for ``b < n_blocks``.
        tol, n_modes
            Truncation criterion, exactly one (see :func:`rom.pod.pod`).

        Returns
        -------
        ReducedBasis
        """
        tol, n_modes = check_criteria(tol, n_modes, where="streaming POD")
        if self.n_blocks == 0:
            raise InputError("streaming POD: no block was added")
        eigenvalues, eigenvectors = symmetric_eigen(self._gram)
        n = truncation_rank(eigenvalues, tol=tol, n_modes=n_modes, where="streaming POD",
                            resolution=eigenvalues[0] * max(self.n_snapshots, 8) * np.finfo(float).eps)
        coefficients = (eigenvectors[:, :n] / np.sqrt(eigenvalues[:n])).T
        modes, offset = None, 0
        for b, size in enumerate(self._sizes):
            X = self._reread(read_block, b)
            if modes is None:
                modes = coefficients[:, :size] @ X
            else:
                modes += coefficients[:, offset:offset + size] @ X
            offset += size
            del X
        modes = orthonormalize(modes, self._product, self._comm, where="streaming POD")
        return ReducedBasis(modes=modes, singular_values=np.sqrt(eigenvalues), inner_product=self._product.kind,
                            tolerance=tol, n_snapshots=self.n_snapshots, metric=self._product, comm=self._comm)


def pod_streaming(read_block: ReadBlock, n_blocks: int, *, inner_product=None, tol: float | None = None,
                  n_modes: int | None = None, comm=None, accumulator: GramAccumulator | None = None) -> ReducedBasis:
    """POD of snapshots read block by block (see the module docstring).

    Parameters
    ----------
    read_block : callable
        ``read_block(b) -> (k_b, n_local_dofs)`` array: this rank's rows of the
        snapshots of block ``b`` (e.g. a range of time steps). Called
        ``n_blocks (n_blocks + 1) / 2 + n_blocks`` times; must return the same data
        each time.
    n_blocks : int
        ≥ 1.
    inner_product, tol, n_modes, comm
        As in :func:`rom.pod.pod`.
    accumulator : GramAccumulator, optional
        Resume from it (e.g. :meth:`GramAccumulator.from_state` of a checkpoint):
        only the blocks from ``accumulator.n_blocks`` on are added.

    Returns
    -------
    ReducedBasis
        Equal to ``pod(vstack(blocks), ...)`` to round-off.
    """
    tol, n_modes = check_criteria(tol, n_modes, where="streaming POD")
    if isinstance(n_blocks, bool) or not isinstance(n_blocks, (int, np.integer)) or n_blocks < 1:
        raise ConfigError(f"streaming POD: n_blocks must be a positive integer, found {n_blocks!r}")
    if accumulator is None:
        accumulator = GramAccumulator(inner_product=inner_product, comm=comm)
    elif accumulator.n_blocks > n_blocks:
        raise ConfigError(f"streaming POD: the accumulator already holds {accumulator.n_blocks} blocks, more than "
                          f"n_blocks={n_blocks}")
    for b in range(accumulator.n_blocks, n_blocks):
        accumulator.add_block(read_block(b), read_block)
    return accumulator.finish(read_block, tol=tol, n_modes=n_modes)
