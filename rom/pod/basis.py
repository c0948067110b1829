"""``ReducedBasis``: POD modes (this rank's rows), their singular values, the inner product."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from io_adapters.errors import ConfigError, InputError
from rom.pod.inner_product import KINDS, InnerProduct, allreduce_sum, as_inner_product

__all__ = ["ReducedBasis"]


@dataclass(frozen=True, eq=False)
class ReducedBasis:
    """A reduced basis: modes orthonormal in a (global) inner product.

    Attributes
    ----------
    modes : (n_modes, n_local_dofs) array
        This rank's rows of the modes; ``Φ M Φᵀ = I`` summed over the ranks.
    singular_values : (n_values,) array
        Decreasing, ≥ 0. For :func:`~rom.pod.pod` (method of snapshots) and
        :func:`~rom.pod.pod_streaming`: all of them, ``n_values = n_snapshots``
        (square roots of the Gram eigenvalues, clipped at 0), including those of the
        dropped modes. For the randomized method: the ``l`` Ritz values of the sketch.
        After :func:`~rom.pod.update`: those of the updated core matrix.
    inner_product : {"identity", "weighted", "mass"}
        Name of the inner product (see :mod:`rom.pod.inner_product`).
    tolerance : float or None
        The ``tol`` the basis was truncated with (``None``: a number of modes was asked).
    n_snapshots : int
        Snapshots the basis was built from (all of them, after updates); default
        ``len(singular_values)``.
    discarded_energy : float
        Energy (sum of squared inner-product norms) of the snapshots that
        ``singular_values`` do not describe: 0 for the method of snapshots; the
        energy outside the sketch (randomized); the energy earlier truncations
        dropped (after :func:`~rom.pod.update`). Enters :attr:`truncation_error`.
    metric : InnerProduct, weights, matrix or None
        The local inner product itself (not compared, not printed; the methods use
        it). ``None`` for a basis read from a file: re-attach it with
        ``dataclasses.replace(basis, metric=M)`` before projecting with a
        non-identity product. Stored as an :class:`~rom.pod.inner_product.InnerProduct`.
    comm : mpi4py communicator or None
        Ranks holding the other rows; the methods reduce over it.

    Notes
    -----
    ``n_modes`` is ``modes.shape[0]``. Arrays are not copied.
    """

    modes: np.ndarray
    singular_values: np.ndarray
    inner_product: str = "identity"
    tolerance: float | None = None
    n_snapshots: int | None = None
    discarded_energy: float = 0.0
    metric: object = field(default=None, repr=False)
    comm: object = field(default=None, repr=False)

    def __post_init__(self):
        modes = np.asarray(self.modes, dtype=np.float64)
        values = np.asarray(self.singular_values, dtype=np.float64)
        if modes.ndim != 2:
            raise InputError(f"ReducedBasis: modes must be (n_modes, n_local_dofs), found shape {modes.shape}")
        if values.ndim != 1 or not np.all(np.isfinite(values)) or np.any(values < 0):
            raise InputError(f"ReducedBasis: singular_values must be a finite, non-negative 1D array, found shape "
                             f"{values.shape}")
        if np.any(np.diff(values) > 0):
            raise InputError("ReducedBasis: singular_values must be sorted in decreasing order")
        if values.size < modes.shape[0]:
            raise InputError(f"ReducedBasis: {modes.shape[0]} modes but only {values.size} singular values")
        if self.inner_product not in KINDS:
            raise ConfigError(f"ReducedBasis: inner_product must be one of {KINDS}, found {self.inner_product!r}")
        n_snapshots = values.size if self.n_snapshots is None else int(self.n_snapshots)
        if n_snapshots < 0 or not np.isfinite(self.discarded_energy) or self.discarded_energy < 0:
            raise InputError(f"ReducedBasis: n_snapshots ({n_snapshots}) and discarded_energy "
                             f"({self.discarded_energy!r}) must be ≥ 0")
        metric = self.metric
        if metric is not None or self.inner_product == "identity":
            metric = as_inner_product(metric, modes.shape[1], where="ReducedBasis")
            if metric.kind != self.inner_product:
                raise ConfigError(f"ReducedBasis: inner_product is {self.inner_product!r} but the attached metric "
                                  f"is a {metric.kind!r} one")
        object.__setattr__(self, "modes", modes)
        object.__setattr__(self, "singular_values", values)
        object.__setattr__(self, "n_snapshots", n_snapshots)
        object.__setattr__(self, "discarded_energy", float(self.discarded_energy))
        object.__setattr__(self, "metric", metric)
        if self.tolerance is not None:
            object.__setattr__(self, "tolerance", float(self.tolerance))

    # ------------------------------------------------------------------ properties
    @property
    def n_modes(self) -> int:
        """Number of modes."""
        return self.modes.shape[0]

    @property
    def n_local_dofs(self) -> int:
        """Local dofs (columns of the modes)."""
        return self.modes.shape[1]

    @property
    def truncation_error(self) -> float:
        """Relative projection error of the training snapshots the singular values imply.

        ``sqrt((D + Σ_{i>n} σ_i²) / (D + Σ_i σ_i²))`` with ``D = discarded_energy``:
        exact for the method of snapshots, a bound after updates.
        """
        energies = self.singular_values**2
        total = self.discarded_energy + energies.sum()
        if total == 0:
            return 0.0
        return float(np.sqrt((self.discarded_energy + energies[self.n_modes:].sum()) / total))

    def _product(self) -> InnerProduct:
        if self.metric is None:
            raise ConfigError(f"this basis uses the '{self.inner_product}' inner product, which is not attached (a "
                              "basis read from a file?): dataclasses.replace(basis, metric=M) with this rank's "
                              "matrix or weights")
        return self.metric

    def _rows(self, snapshots, where: str) -> tuple[np.ndarray, bool]:
        X = np.asarray(snapshots, dtype=np.float64)
        single = X.ndim == 1
        X = X[None] if single else X
        if X.ndim != 2 or X.shape[1] != self.n_local_dofs:
            raise InputError(f"ReducedBasis.{where}: expected snapshots of shape (n_snapshots, "
                             f"{self.n_local_dofs}) or ({self.n_local_dofs},), found {np.shape(snapshots)}")
        return X, single

    # ------------------------------------------------------------------ methods
    def project(self, snapshots: np.ndarray, *, comm=None) -> np.ndarray:
        """Reduced coordinates ``a = Φ M x`` (summed over the ranks).

        Parameters
        ----------
        snapshots : (n_snapshots, n_local_dofs) or (n_local_dofs,) array
            This rank's rows.
        comm : mpi4py communicator, optional
            Overrides the basis's ``comm``.

        Returns
        -------
        (n_snapshots, n_modes) or (n_modes,) array
            The same on every rank.
        """
        X, single = self._rows(snapshots, "project")
        comm = self.comm if comm is None else comm
        coordinates = allreduce_sum(self._product().cross(X, self.modes), comm)
        return coordinates[0] if single else coordinates

    def reconstruct(self, coordinates: np.ndarray) -> np.ndarray:
        """``x = aᵀ Φ`` on this rank's rows (no communication).

        Parameters
        ----------
        coordinates : (n_snapshots, n_modes) or (n_modes,) array

        Returns
        -------
        (n_snapshots, n_local_dofs) or (n_local_dofs,) array
        """
        a = np.asarray(coordinates, dtype=np.float64)
        if a.shape[-1:] != (self.n_modes,) or a.ndim not in (1, 2):
            raise InputError(f"ReducedBasis.reconstruct: expected coordinates of shape (n_snapshots, {self.n_modes}) "
                             f"or ({self.n_modes},), found {a.shape}")
        return a @ self.modes

    def projection_error(self, snapshots: np.ndarray, *, per_snapshot: bool = False, comm=None):
        """Relative projection error in the inner-product norm (global).

        Parameters
        ----------
        snapshots : (n_snapshots, n_local_dofs) or (n_local_dofs,) array
            This rank's rows.
        per_snapshot : bool
            Return ``‖x_k − P x_k‖ / ‖x_k‖`` for each snapshot instead of the set's
            ``sqrt(Σ_k ‖x_k − P x_k‖² / Σ_k ‖x_k‖²)`` (the quantity ``tol`` bounds).
            A zero snapshot has error 0.
        comm : mpi4py communicator, optional
            Overrides the basis's ``comm``.

        Returns
        -------
        float or (n_snapshots,) array
            The same on every rank. The residual is formed explicitly (no
            ``‖x‖² − ‖a‖²`` cancellation), block by block.
        """
        X, _ = self._rows(snapshots, "projection_error")
        comm = self.comm if comm is None else comm
        product = self._product()
        coordinates = self.project(X, comm=comm)
        squares = np.empty((2, X.shape[0]))
        squares[1] = product.squared_norms(X)
        for rows in product.row_blocks(X.shape[0]):
            squares[0, rows] = product.squared_norms(X[rows] - coordinates[rows] @ self.modes)
        errors, norms = allreduce_sum(squares, comm)
        if per_snapshot:
            return np.sqrt(np.divide(errors, norms, out=np.zeros_like(norms), where=norms > 0))
        total = norms.sum()
        return float(np.sqrt(errors.sum() / total)) if total > 0 else 0.0

    def truncate(self, n_modes: int) -> "ReducedBasis":
        """The basis of the first ``n_modes`` modes (a view; ``tolerance`` becomes ``None``).

        Raises
        ------
        ConfigError
            ``n_modes`` not in ``[1, self.n_modes]``.
        """
        if isinstance(n_modes, bool) or not isinstance(n_modes, (int, np.integer)) or not 1 <= n_modes <= self.n_modes:
            raise ConfigError(f"ReducedBasis.truncate: n_modes must be an integer in [1, {self.n_modes}], "
                              f"found {n_modes!r}")
        return dataclasses.replace(self, modes=self.modes[:n_modes], tolerance=None)
