"""Space–time POD of boundary traces: the reduced coefficients the generators work on.

Each trace ``(n_times, n_nodes, n_components)`` is flattened (time-major, then node,
then component: ``[u(t0, n0, x), u(t0, n0, y), …]``) into one vector of
``n_features = n_times · n_nodes · n_components`` values; the training traces are
centred by their mean and decomposed by the method of snapshots (eigenvalues of the
``n_samples × n_samples`` Gram matrix of the centred vectors, Euclidean inner
product; of the ``n_features × n_features`` covariance when that is smaller). The
basis keeps the fewest modes whose eigenvalues hold at least ``energy`` (default
99.9 %) of the centred data's energy ``Σ λ_i``, or a fixed ``n_modes``; either way no
more than the numerical rank.

A trace ``u`` has coefficients ``a = Φ (u - ū)`` (``Φ`` the ``(n_modes, n_features)``
orthonormal modes) and is rebuilt as ``ū + Φᵀ a``. Over the training traces the
coefficients are centred, uncorrelated, with variances ``λ_i / n_samples`` and the
distance between two coefficient vectors is the Euclidean distance of the rebuilt
traces.

Saved to HDF5 as plain arrays (``mean``, ``modes``, ``eigenvalues``) with the
settings and the trace shape as attributes; :meth:`SpaceTimePOD.save` writes a file of
its own (format ``nirom-space-time-pod``), generator files embed the same group.
"""

from __future__ import annotations

import os

import numpy as np

from io_adapters.errors import ConfigError, InputError
from rom.bc_generator import _h5
from rom.bc_generator.layout import check_samples

__all__ = ["SpaceTimePOD"]

FORMAT = "nirom-space-time-pod"
VERSION = 1


class SpaceTimePOD:
    """Space–time POD of traces ``(n_samples, n_times, n_nodes, n_components)``.

    Parameters
    ----------
    energy : float
        Fraction of the centred training energy the kept modes hold, in (0, 1]
        (ignored when ``n_modes`` is given).
    n_modes : int, optional
        Fixed number of modes (capped at the numerical rank).

    Attributes (after :meth:`fit`)
    ------------------------------
    mean : (n_features,) array
        Mean training trace, flattened.
    modes : (n_modes, n_features) array
        Orthonormal modes, each with its largest entry positive.
    eigenvalues : (min(n_samples, n_features),) array
        The squared singular values of the centred training traces, decreasing.
    captured_energy : float
        Fraction of the centred training energy held by the kept modes.
    trace_shape : tuple
        ``(n_times, n_nodes, n_components)``.
    """

    def __init__(self, energy: float = 0.999, n_modes: int | None = None):
        if isinstance(energy, bool) or not isinstance(energy, (int, float, np.floating)) or not 0 < energy <= 1:
            raise ConfigError(f"SpaceTimePOD: energy must be in (0, 1], found {energy!r}")
        if n_modes is not None and (isinstance(n_modes, bool) or not isinstance(n_modes, (int, np.integer))
                                    or n_modes < 1):
            raise ConfigError(f"SpaceTimePOD: n_modes must be a positive integer, found {n_modes!r}")
        self.energy = float(energy)
        self.n_modes_requested = None if n_modes is None else int(n_modes)
        self.mean: np.ndarray | None = None
        self.modes: np.ndarray | None = None
        self.eigenvalues: np.ndarray | None = None
        self.captured_energy: float | None = None
        self.trace_shape: tuple[int, int, int] | None = None
        self.n_training: int | None = None

    def __repr__(self) -> str:
        if self.modes is None:
            return f"SpaceTimePOD(energy={self.energy}, n_modes={self.n_modes_requested}, not fitted)"
        return (f"SpaceTimePOD({self.n_modes} modes of {self.n_features} values, "
                f"{100 * self.captured_energy:.3f} % of the energy of {self.n_training} traces)")

    # ------------------------------------------------------------------ properties
    @property
    def fitted(self) -> bool:
        return self.modes is not None

    @property
    def n_modes(self) -> int:
        self._check_fitted("n_modes")
        return self.modes.shape[0]

    @property
    def n_features(self) -> int:
        self._check_fitted("n_features")
        return self.modes.shape[1]

    def _check_fitted(self, what: str) -> None:
        if self.modes is None:
            raise InputError(f"SpaceTimePOD.{what}: fit the compression first")

    # ------------------------------------------------------------------ fit / transform
    def fit(self, samples, *, where: str = "samples") -> "SpaceTimePOD":
        """Fit the mean and the modes on training traces.

        Parameters
        ----------
        samples : (n_samples, n_times, n_nodes, n_components) array
            Training traces (at least two distinct).

        Returns
        -------
        SpaceTimePOD
            ``self``.
        """
        samples = check_samples(samples, where=where, min_samples=2)
        n = samples.shape[0]
        X = samples.reshape(n, -1)
        mean = X.mean(axis=0)
        Xc = X - mean
        snapshots = n <= Xc.shape[1]          # the smaller of the Gram and the covariance matrices
        eigenvalues, vectors = np.linalg.eigh(Xc @ Xc.T if snapshots else Xc.T @ Xc)
        order = np.argsort(eigenvalues)[::-1]
        eigenvalues = np.clip(eigenvalues[order], 0.0, None)
        vectors = vectors[:, order]
        total = eigenvalues.sum()
        if total <= 0 or eigenvalues[0] <= 0:
            raise InputError(f"{where}: the {n} traces are all equal: nothing to compress or to learn")
        # eigenvalues of the Gram matrix below this are round-off, their modes are not directions of the data
        resolution = eigenvalues[0] * max(X.shape) * np.finfo(float).eps * 10
        rank = int(np.count_nonzero(eigenvalues > resolution))
        if self.n_modes_requested is not None:
            kept = min(self.n_modes_requested, rank)
        else:
            fraction = np.cumsum(eigenvalues) / total
            kept = min(int(np.searchsorted(fraction, self.energy * (1 - 1e-12))) + 1, rank)
        if snapshots:
            modes = (vectors[:, :kept].T @ Xc) / np.sqrt(eigenvalues[:kept])[:, None]
        else:
            modes = vectors[:, :kept].T.copy()
        signs = np.sign(modes[np.arange(kept), np.argmax(np.abs(modes), axis=1)])
        modes *= signs[:, None]
        self.mean = mean
        self.modes = modes
        self.eigenvalues = eigenvalues
        self.captured_energy = float(eigenvalues[:kept].sum() / total)
        self.trace_shape = tuple(int(s) for s in samples.shape[1:])
        self.n_training = n
        return self

    def transform(self, samples, *, where: str = "samples") -> np.ndarray:
        """Coefficients of traces.

        Parameters
        ----------
        samples : (n, n_times, n_nodes, n_components) array

        Returns
        -------
        (n, n_modes) array
        """
        self._check_fitted("transform")
        samples = check_samples(samples, where=where)
        if samples.shape[1:] != self.trace_shape:
            raise InputError(f"{where}: traces of shape {samples.shape[1:]}, the compression was fitted on "
                             f"{self.trace_shape} (n_times, n_nodes, n_components)")
        return (samples.reshape(len(samples), -1) - self.mean) @ self.modes.T

    def inverse_transform(self, coefficients, *, where: str = "coefficients") -> np.ndarray:
        """Traces rebuilt from coefficients.

        Parameters
        ----------
        coefficients : (n, n_modes) array

        Returns
        -------
        (n, n_times, n_nodes, n_components) array
        """
        self._check_fitted("inverse_transform")
        a = np.asarray(coefficients, dtype=np.float64)
        if a.ndim != 2 or a.shape[1] != self.n_modes:
            raise InputError(f"{where}: expected coefficients of shape (n, {self.n_modes}), found {a.shape}")
        if not np.all(np.isfinite(a)):
            raise InputError(f"{where}: non-finite coefficient at row {int(np.argwhere(~np.isfinite(a))[0, 0])}")
        return (self.mean + a @ self.modes).reshape((len(a),) + self.trace_shape)

    def projection_error(self, samples) -> float:
        """Relative error ``‖u - ū - ΦᵀΦ(u - ū)‖ / ‖u - ū‖`` (Frobenius over the traces)."""
        samples = check_samples(samples)
        Xc = samples.reshape(len(samples), -1) - self.mean
        residual = Xc - (Xc @ self.modes.T) @ self.modes
        return float(np.linalg.norm(residual) / max(np.linalg.norm(Xc), 1e-300))

    # ------------------------------------------------------------------ HDF5
    def write(self, group) -> None:
        """The fitted arrays into an HDF5 group (numeric datasets, settings as attributes)."""
        self._check_fitted("write")
        group.attrs["energy"] = self.energy
        group.attrs["n_modes_requested"] = -1 if self.n_modes_requested is None else self.n_modes_requested
        group.attrs["captured_energy"] = self.captured_energy
        group.attrs["n_training"] = self.n_training
        _h5.write_array(group, "trace_shape", np.asarray(self.trace_shape, dtype=np.int64))
        _h5.write_array(group, "mean", self.mean)
        _h5.write_array(group, "modes", self.modes)
        _h5.write_array(group, "eigenvalues", self.eigenvalues)

    @classmethod
    def read(cls, group) -> "SpaceTimePOD":
        """A fitted compression from an HDF5 group written by :meth:`write` (every array checked)."""
        energy = _h5.read_attr(group, "energy", float)
        requested = _h5.read_attr(group, "n_modes_requested", int)
        try:
            pod = cls(energy=energy, n_modes=None if requested < 0 else requested)
        except ConfigError as exc:
            raise InputError(f"{_h5.where(group)}: {exc}") from exc
        shape = _h5.read_array(group, "trace_shape", ndim=1, shape=(3,), integer=True)
        if np.any(shape < 1):
            raise InputError(f"{_h5.where(group, 'trace_shape')}: expected positive sizes, found {shape}")
        n_features = int(np.prod(shape))
        pod.mean = _h5.read_array(group, "mean", ndim=1, shape=(n_features,), dtype=np.float64)
        pod.modes = _h5.read_array(group, "modes", ndim=2, shape=(None, n_features), dtype=np.float64)
        pod.eigenvalues = _h5.read_array(group, "eigenvalues", ndim=1, dtype=np.float64)
        if pod.modes.shape[0] < 1 or pod.modes.shape[0] > len(pod.eigenvalues):
            raise InputError(f"{_h5.where(group, 'modes')}: {pod.modes.shape[0]} modes for "
                             f"{len(pod.eigenvalues)} eigenvalues")
        pod.captured_energy = _h5.read_attr(group, "captured_energy", float)
        pod.n_training = _h5.read_attr(group, "n_training", int)
        pod.trace_shape = tuple(int(s) for s in shape)
        return pod

    def save(self, path: str | os.PathLike) -> None:
        """Write a file of its own (atomically)."""
        import h5py

        from io_adapters.atomic import atomic_path

        with atomic_path(path) as tmp, h5py.File(tmp, "w") as h5:
            h5.attrs["format"] = FORMAT
            h5.attrs["version"] = VERSION
            self.write(h5.create_group("compression"))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "SpaceTimePOD":
        """Read a file written by :meth:`save`, or the compression of a generator file."""
        import h5py

        try:
            h5 = h5py.File(path, "r")
        except OSError as exc:
            raise InputError(f"{path}: cannot be read as HDF5 ({exc})") from exc
        with h5:
            found = h5.attrs.get("format")
            if isinstance(found, bytes):
                found = found.decode()
            if found not in (FORMAT, _h5.FORMAT):
                raise InputError(f"{path}: not a space–time POD file (format attribute {found!r}, expected "
                                 f"{FORMAT!r} or {_h5.FORMAT!r})")
            return cls.read(_h5.subgroup(h5, "compression"))
