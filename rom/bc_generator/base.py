"""The generator interface and the two baselines every generative model is compared with.

A boundary-condition generator learns the distribution of a submodel's boundary
traces (imposed-displacement histories on its boundary nodes) from training traces
and draws new ones:

- :class:`BoundaryGenerator` — the protocol (``fit``, ``sample``, ``save``,
  ``load``) that the WGAN-GP (:class:`rom.bc_generator.wgan.WGANGenerator`) and any
  replacement follow; samples are plain arrays ``(n, n_times, n_nodes, 3)`` and the
  generator's :attr:`layout` gives the node ids and times they belong to (another
  stage turns them into a ``Problem``'s imposed displacements);
- :class:`GaussianGenerator` — the Gaussian model of the POD coefficients
  (mean + covariance, sampling ``N(μ, Σ)``): what second-order statistics alone give;
- :class:`BootstrapGenerator` — resamples the training traces (as their POD
  projections): the empirical distribution, perfect in distribution and nothing new;
- :func:`load_generator` — reads any generator file.

Every generator here works on the coefficients of a space–time POD
(:class:`rom.bc_generator.compression.SpaceTimePOD`) fitted on the training traces or
given already fitted (``compression=``), so that several generators share one
coefficient space and the metrics compare them there. Files are HDF5 (format
``nirom-bc-generator``, :mod:`rom.bc_generator._h5`), numeric arrays and strings only.
"""

from __future__ import annotations

import os
from typing import Protocol, runtime_checkable

import numpy as np

from io_adapters.errors import ConfigError, InputError
from rom.bc_generator import _h5
from rom.bc_generator.compression import SpaceTimePOD
from rom.bc_generator.layout import TraceLayout, check_samples

__all__ = ["BootstrapGenerator", "BoundaryGenerator", "GaussianGenerator", "load_generator"]


@runtime_checkable
class BoundaryGenerator(Protocol):
    """What a generative model of boundary traces offers (the WGAN-GP's replacements too).

    Attributes
    ----------
    layout : TraceLayout
        Node ids, times and components the generator was fitted with.
    """

    layout: TraceLayout | None

    def fit(self, samples, *, seed: int = 0, node_ids=None, times=None) -> "BoundaryGenerator":
        """Learn from ``samples (n_samples, n_times, n_nodes, 3)``; ``node_ids (n_nodes,)`` and
        ``times (n_times,)`` default to ``0, 1, …``. Returns ``self``."""

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` new traces ``(n, n_times, n_nodes, 3)``, the same for the same ``seed``."""

    def save(self, path: str | os.PathLike) -> None:
        """Write the fitted generator (HDF5, atomically)."""

    @classmethod
    def load(cls, path: str | os.PathLike, *, expected: TraceLayout | None = None) -> "BoundaryGenerator":
        """Read a fitted generator; refuse one fitted for another layout than ``expected``."""


def _check_count(n, where: str) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise InputError(f"{where}: the number of samples must be a non-negative integer, found {n!r}")
    return int(n)


class PODGenerator:
    """Common part of the generators on POD coefficients: layout, compression, files.

    Subclasses set :attr:`kind`, implement :meth:`_fit_coefficients`,
    :meth:`sample_coefficients`, :meth:`_write_model` and :meth:`_read_model`.
    """

    kind = ""

    def __init__(self, *, energy: float = 0.999, n_modes: int | None = None,
                 compression: SpaceTimePOD | None = None):
        if compression is not None and not (isinstance(compression, SpaceTimePOD) and compression.fitted):
            raise ConfigError(f"{type(self).__name__}: compression must be a fitted SpaceTimePOD, "
                              f"found {compression!r}")
        SpaceTimePOD(energy=energy, n_modes=n_modes)           # checks the settings now
        self.energy = energy
        self.n_modes = n_modes
        self.compression = compression
        self._given_compression = compression is not None
        self.layout: TraceLayout | None = None

    def __repr__(self) -> str:
        if self.layout is None:
            return f"{type(self).__name__}(not fitted)"
        return (f"{type(self).__name__}({len(self.layout.node_ids)} nodes × {len(self.layout.times)} times × "
                f"{len(self.layout.components)} components, {self.compression.n_modes} POD coefficients)")

    @property
    def fitted(self) -> bool:
        return self.layout is not None

    def _check_fitted(self, what: str) -> None:
        if self.layout is None:
            raise InputError(f"{type(self).__name__}.{what}: fit or load the generator first")

    # ------------------------------------------------------------------ fit
    def _prepare(self, samples, node_ids, times, where: str = "samples") -> tuple[np.ndarray, np.ndarray]:
        """Checked traces and their coefficients; sets the layout and the compression."""
        samples = check_samples(samples, where=where, min_samples=2)
        default = TraceLayout.default(samples.shape)
        layout = TraceLayout(default.node_ids if node_ids is None else node_ids,
                             default.times if times is None else times, default.components)
        if layout.shape != samples.shape[1:]:
            raise InputError(f"{where}: traces of shape {samples.shape[1:]} (n_times, n_nodes, n_components), "
                             f"but {len(layout.times)} times and {len(layout.node_ids)} node ids were given")
        if self._given_compression:
            if self.compression.trace_shape != samples.shape[1:]:
                raise InputError(f"{where}: traces of shape {samples.shape[1:]}, the given compression was "
                                 f"fitted on {self.compression.trace_shape}")
        else:
            self.compression = SpaceTimePOD(energy=self.energy, n_modes=self.n_modes).fit(samples, where=where)
        self.layout = layout
        return samples, self.compression.transform(samples, where=where)

    def fit(self, samples, *, seed: int = 0, node_ids=None, times=None):
        """Fit on training traces.

        Parameters
        ----------
        samples : (n_samples, n_times, n_nodes, 3) array
            Training traces.
        seed : int
            Seed of any randomness of the fit.
        node_ids : (n_nodes,) int array, optional
            Ids of the boundary nodes (default ``0 … n_nodes-1``).
        times : (n_times,) array, optional
            Times of the traces (default ``0 … n_times-1``).

        Returns
        -------
        self
        """
        _, coefficients = self._prepare(samples, node_ids, times)
        self._fit_coefficients(coefficients, seed=seed)
        return self

    def _fit_coefficients(self, coefficients: np.ndarray, *, seed: int) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------ sample
    def sample_coefficients(self, n: int, seed: int = 0) -> np.ndarray:
        """``(n, n_modes)`` POD coefficients of ``n`` new traces."""
        raise NotImplementedError

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` new traces.

        Returns
        -------
        (n, n_times, n_nodes, n_components) array
            Imposed displacements at :attr:`layout` ``.times`` on the nodes
            :attr:`layout` ``.node_ids``.
        """
        self._check_fitted("sample")
        n = _check_count(n, f"{type(self).__name__}.sample")
        return self.compression.inverse_transform(self.sample_coefficients(n, seed), where="generated coefficients")

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike) -> None:
        """Write the fitted generator to an HDF5 file (atomically; numeric arrays and strings only)."""
        import h5py

        from io_adapters.atomic import atomic_path

        self._check_fitted("save")
        with atomic_path(path) as tmp, h5py.File(tmp, "w") as h5:
            _h5.write_header(h5, self.kind, self.layout)
            self.compression.write(h5.create_group("compression"))
            self._write_model(h5.create_group("model"))

    def _write_model(self, group) -> None:
        raise NotImplementedError

    @classmethod
    def load(cls, path: str | os.PathLike, *, expected: TraceLayout | None = None):
        """Read a generator written by :meth:`save`.

        Parameters
        ----------
        path : path
            Generator file.
        expected : TraceLayout, optional
            The layout the caller needs; a file fitted for other nodes, times or
            components is refused (:class:`InputError` naming the file and the difference).
        """
        import h5py

        try:
            h5 = h5py.File(path, "r")
        except OSError as exc:
            raise InputError(f"{path}: cannot be read as HDF5 ({exc})") from exc
        with h5:
            _, layout = _h5.read_header(h5, kind=cls.kind)
            _h5.check_expected(path, layout, expected)
            compression = SpaceTimePOD.read(_h5.subgroup(h5, "compression"))
            if compression.trace_shape != layout.shape:
                raise InputError(f"{path}: compression fitted on traces {compression.trace_shape}, layout "
                                 f"{layout.shape}")
            generator = cls._read_model(_h5.subgroup(h5, "model"), compression)
        generator.layout = layout
        generator.compression = compression
        return generator

    @classmethod
    def _read_model(cls, group, compression: SpaceTimePOD):
        raise NotImplementedError


class GaussianGenerator(PODGenerator):
    """Gaussian model of the POD coefficients: ``a ~ N(μ, Σ)`` with the training mean and covariance.

    Parameters
    ----------
    energy, n_modes : float, int
        Truncation of the space–time POD fitted on the training traces.
    compression : SpaceTimePOD, optional
        An already fitted POD to use instead.

    Attributes (after fit)
    ----------------------
    mean : (n_modes,) array
        Mean of the training coefficients.
    covariance : (n_modes, n_modes) array
        Their covariance (unbiased, ``n - 1``).
    """

    kind = "gaussian"

    def __init__(self, *, energy: float = 0.999, n_modes: int | None = None,
                 compression: SpaceTimePOD | None = None):
        super().__init__(energy=energy, n_modes=n_modes, compression=compression)
        self.mean: np.ndarray | None = None
        self.covariance: np.ndarray | None = None

    def _fit_coefficients(self, coefficients: np.ndarray, *, seed: int) -> None:
        self.mean = coefficients.mean(axis=0)
        self.covariance = np.atleast_2d(np.cov(coefficients, rowvar=False, ddof=1))

    def _factor(self) -> np.ndarray:
        """``L`` with ``L Lᵀ = Σ`` (symmetric square root; round-off negative eigenvalues set to 0)."""
        values, vectors = np.linalg.eigh(self.covariance)
        return vectors * np.sqrt(np.clip(values, 0.0, None))

    def sample_coefficients(self, n: int, seed: int = 0) -> np.ndarray:
        self._check_fitted("sample_coefficients")
        n = _check_count(n, "GaussianGenerator.sample_coefficients")
        z = np.random.default_rng(seed).standard_normal((n, len(self.mean)))
        return self.mean + z @ self._factor().T

    def _write_model(self, group) -> None:
        _h5.write_array(group, "mean", self.mean)
        _h5.write_array(group, "covariance", self.covariance)

    @classmethod
    def _read_model(cls, group, compression: SpaceTimePOD) -> "GaussianGenerator":
        r = compression.n_modes
        generator = cls(compression=compression)
        generator.mean = _h5.read_array(group, "mean", ndim=1, shape=(r,), dtype=np.float64)
        covariance = _h5.read_array(group, "covariance", ndim=2, shape=(r, r), dtype=np.float64)
        if not np.allclose(covariance, covariance.T, rtol=1e-10, atol=1e-14 * np.abs(covariance).max()):
            raise InputError(f"{_h5.where(group, 'covariance')}: not symmetric")
        generator.covariance = covariance
        return generator


class BootstrapGenerator(PODGenerator):
    """Resamples the training traces (uniformly, with replacement).

    The traces are kept as their POD coefficients, so a sample is a training trace
    projected on the POD (within ``1 - energy`` of it in squared norm) — the same space
    every other generator draws in. It is the empirical distribution: right in
    distribution up to sampling noise, and a pure memoriser (its
    nearest-training-neighbour distance is 0).
    """

    kind = "bootstrap"

    def __init__(self, *, energy: float = 0.999, n_modes: int | None = None,
                 compression: SpaceTimePOD | None = None):
        super().__init__(energy=energy, n_modes=n_modes, compression=compression)
        self.coefficients: np.ndarray | None = None

    def _fit_coefficients(self, coefficients: np.ndarray, *, seed: int) -> None:
        self.coefficients = coefficients

    def sample_coefficients(self, n: int, seed: int = 0) -> np.ndarray:
        self._check_fitted("sample_coefficients")
        n = _check_count(n, "BootstrapGenerator.sample_coefficients")
        index = np.random.default_rng(seed).integers(0, len(self.coefficients), size=n)
        return self.coefficients[index]

    def _write_model(self, group) -> None:
        _h5.write_array(group, "coefficients", self.coefficients)

    @classmethod
    def _read_model(cls, group, compression: SpaceTimePOD) -> "BootstrapGenerator":
        generator = cls(compression=compression)
        generator.coefficients = _h5.read_array(group, "coefficients", ndim=2, shape=(None, compression.n_modes),
                                                dtype=np.float64)
        return generator


def load_generator(path: str | os.PathLike, *, expected: TraceLayout | None = None) -> BoundaryGenerator:
    """Read any generator file (Gaussian, bootstrap, WGAN-GP), checked against ``expected``.

    Raises
    ------
    InputError
        Not a generator file, a newer version, broken arrays, or fitted for another
        layout than ``expected`` (the message names the file and the difference).
    MissingDependencyError
        A WGAN-GP file without jax installed.
    """
    import h5py

    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise InputError(f"{path}: cannot be read as HDF5 ({exc})") from exc
    with h5:
        kind, _ = _h5.read_header(h5)
    if kind == "wgan-gp":
        from rom.bc_generator.wgan import WGANGenerator

        return WGANGenerator.load(path, expected=expected)
    return {"gaussian": GaussianGenerator, "bootstrap": BootstrapGenerator}[kind].load(path, expected=expected)
