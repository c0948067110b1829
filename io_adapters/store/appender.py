"""Write a store one time step at a time (solvers, online stages).

Unlike :func:`io_adapters.store.write`, which copies a finished Simulation, a
:class:`StoreAppender` grows its datasets as steps arrive. The file is written
under a temporary name (``.<name>.tmp-<pid>@<host>-…``; temporaries of the same
output left by killed writers are removed first); :meth:`StoreAppender.close`
records the checksums (summed as the steps arrive), marks it complete, renames
it and its XDMF sidecar into place. If the producer fails (a solver that stops
converging), closing it still publishes the steps written so far as a valid,
shorter store — nothing half-written is ever visible.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Mapping

import numpy as np

import io_adapters.store.integrity as integrity
from io_adapters.errors import InputError
from io_adapters.mesh import Mesh
from io_adapters.simulation import support_size
from io_adapters.store.files import remove_stale_temporaries, temporary_beside
from io_adapters.store.hdf5 import _rows_per_chunk, field_attributes, write_header


class StoreAppender:
    """A store that receives time steps one by one.

    Parameters
    ----------
    path : path
        Final ``.h5`` path (written atomically on :meth:`close`).
    mesh : Mesh
    fields : dict[str, (support, components, rule)]
        The fields every step will carry.
    parameters, provenance : dict
    dtype : {"float64", "float32"}
    xdmf : bool
        Write the XDMF sidecar on close.
    """

    def __init__(self, path, mesh: Mesh, fields: Mapping[str, tuple], *, parameters=None,
                 provenance=None, dtype: str = "float64", xdmf: bool = True):
        import h5py

        self.path = Path(path)
        self.mesh = mesh
        self.specs = dict(fields)
        self.xdmf = xdmf
        self.n_times = 0
        from io_adapters.store.xdmf import sidecar_path

        if sidecar_path(self.path) == self.path:
            raise InputError(f"{self.path}: a store cannot end in .xdmf (its sidecar takes that name)")
        remove_stale_temporaries(self.path)
        self.tmp = temporary_beside(self.path)
        self.file = None
        try:
            self.file = h5py.File(self.tmp, "w", libver=("v110", "latest"))
            self._create(mesh, parameters, provenance, dtype)
        except BaseException:
            self.discard()
            raise

    def _create(self, mesh: Mesh, parameters, provenance, dtype: str) -> None:
        f = self.file
        write_header(f, mesh, parameters, provenance)
        self.times = f.create_dataset("times", shape=(0,), maxshape=(None,), dtype=np.float64, chunks=(256,))
        group = f.create_group("fields")
        self.datasets = {}
        stored = np.dtype(dtype)
        if stored not in (np.dtype("float32"), np.dtype("float64")):
            raise InputError(f"{self.path}: storage precision must be float32 or float64, found {stored}")
        for i, (name, (support, components, rule)) in enumerate(self.specs.items()):
            n_rows = support_size(mesh, support, rule)
            n_comp = len(components)
            d = group.create_dataset(
                str(i), shape=(0, n_rows, n_comp), maxshape=(None, n_rows, n_comp), dtype=stored,
                chunks=(1, _rows_per_chunk(n_rows, n_comp, stored.itemsize), n_comp) if n_rows else None)
            field_attributes(d, name, support, components, rule)
            self.datasets[name] = d
        self.sums = {name: integrity.Checksum() for name in self.datasets}

    def append(self, time: float, values: Mapping[str, np.ndarray]) -> None:
        """Add one time step.

        Parameters
        ----------
        time : float
            Must be larger than the previous step's.
        values : dict[str, (n_rows, n_components) array]
            One entry per declared field.
        """
        if set(values) != set(self.datasets):
            raise InputError(f"{self.path}: step needs fields {sorted(self.datasets)}, got {sorted(values)}")
        if self.n_times and time <= self.times[self.n_times - 1]:
            raise InputError(f"{self.path}: time {time} does not follow {self.times[self.n_times - 1]}")
        if not np.isfinite(time):
            raise InputError(f"{self.path}: time {time} is not finite")
        k = self.n_times
        steps = {}
        for name, d in self.datasets.items():
            try:
                v = np.asarray(values[name], dtype=np.float64).reshape(d.shape[1:])
            except ValueError:
                raise InputError(f"{self.path}: field '{name}' at time {time}: expected values of shape "
                                 f"{d.shape[1:]}, found {np.shape(values[name])}") from None
            if not np.all(np.isfinite(v)):
                raise InputError(f"{self.path}: field '{name}' has non-finite values at time {time}")
            steps[name] = v.astype(d.dtype, copy=False)
        for name, d in self.datasets.items():   # every step is checked before any is written
            d.resize(k + 1, axis=0)
            d[k] = steps[name]
            self.sums[name].update(steps[name])
        self.times.resize(k + 1, axis=0)
        self.times[k] = time
        self.n_times = k + 1

    def close(self) -> Path:
        """Record the checksums, mark complete, publish the store and its sidecar under their final names."""
        if self.file is None:
            return self.path
        from io_adapters.store.xdmf import add_virtual_steps, publish_pair, sidecar_temporary, sidecar_text

        sidecar = None
        try:
            shape = _Shape(self)
            if self.xdmf:
                add_virtual_steps(self.file, shape)
            uuid = integrity.seal(self.file, self.path, {d.name: str(self.sums[n]) for n, d in self.datasets.items()})
            self.file.attrs["complete"] = 1
            self.file.close()
            self.file = None
            if self.xdmf:
                dtypes = {name: d.dtype for name, d in self.datasets.items()}
                sidecar = sidecar_temporary(self.path, sidecar_text(shape, self.path, dtypes, uuid))
            publish_pair(self.tmp, self.path, sidecar)
        except BaseException:
            self.discard()
            raise
        return self.path

    def discard(self) -> None:
        """Drop everything (nothing is published)."""
        if self.file is not None:
            with contextlib.suppress(Exception):
                self.file.close()
            self.file = None
        with contextlib.suppress(FileNotFoundError):
            self.tmp.unlink()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        # steps already appended stay valid even when the producer failed
        self.close()
        return False


class _Shape:
    """What :func:`add_virtual_steps` needs to know of the appended simulation."""

    def __init__(self, appender: StoreAppender):
        from io_adapters.simulation import Field

        self.mesh = appender.mesh
        self.n_times = appender.n_times
        self.times = np.asarray(appender.times[:appender.n_times])
        self.fields = {
            name: Field(s, c, np.zeros((0, support_size(appender.mesh, s, r), len(c))), r)
            for name, (s, c, r) in appender.specs.items()
        }
