"""Write a store one time step at a time (solvers, online stages).

Unlike :func:`io_adapters.store.write`, which copies a finished Simulation, a
:class:`StoreAppender` grows its datasets as steps arrive. The file is written
under a temporary name; :meth:`StoreAppender.close` marks it complete, renames it
and writes the XDMF sidecar. If the producer fails (a solver that stops
converging), closing it still publishes the steps written so far as a valid,
shorter store — nothing half-written is ever visible.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Mapping

import numpy as np

from io_adapters.atomic import _umask
from io_adapters.errors import InputError
from io_adapters.mesh import Mesh
from io_adapters.simulation import support_size
from io_adapters.store.hdf5 import _rows_per_chunk, _write_mesh
from io_adapters.store.layout import FORMAT_NAME, FORMAT_VERSION


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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.tmp-", dir=self.path.parent)
        os.close(fd)
        self.tmp = Path(tmp)
        self.file = h5py.File(self.tmp, "w", libver=("v110", "latest"))
        f = self.file
        f.attrs["format"] = FORMAT_NAME
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["complete"] = 0
        f.attrs["writer"] = "nirom"
        _write_mesh(f.create_group("mesh"), mesh)
        self.times = f.create_dataset("times", shape=(0,), maxshape=(None,), dtype=np.float64, chunks=(256,))
        f.create_group("parameters").attrs["json"] = json.dumps(parameters or {})
        f.create_group("provenance").attrs["json"] = json.dumps(provenance or {})
        group = f.create_group("fields")
        self.datasets = {}
        stored = np.dtype(dtype)
        for i, (name, (support, components, rule)) in enumerate(self.specs.items()):
            n_rows = support_size(mesh, support, rule)
            n_comp = len(components)
            d = group.create_dataset(
                str(i), shape=(0, n_rows, n_comp), maxshape=(None, n_rows, n_comp), dtype=stored,
                chunks=(1, _rows_per_chunk(n_rows, n_comp, stored.itemsize), n_comp) if n_rows else None)
            d.attrs["name"] = name
            d.attrs["support"] = support
            d.attrs["components"] = json.dumps(list(components))
            d.attrs["rule"] = rule or ""
            self.datasets[name] = d

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
        k = self.n_times
        for name, d in self.datasets.items():
            v = np.asarray(values[name], dtype=np.float64).reshape(d.shape[1:])
            if not np.all(np.isfinite(v)):
                raise InputError(f"{self.path}: field '{name}' has non-finite values at time {time}")
            d.resize(k + 1, axis=0)
            d[k] = v
        self.times.resize(k + 1, axis=0)
        self.times[k] = time
        self.n_times = k + 1

    def close(self) -> Path:
        """Mark complete, publish under the final name, write the sidecar."""
        if self.file is None:
            return self.path
        try:
            if self.xdmf:
                from io_adapters.store.xdmf import add_virtual_steps

                add_virtual_steps(self.file, _Shape(self))
            self.file.attrs["complete"] = 1
            self.file.close()
            self.file = None
            os.chmod(self.tmp, 0o666 & ~_umask())   # mkstemp made it 0600
            os.replace(self.tmp, self.path)
        except BaseException:
            self.discard()
            raise
        if self.xdmf:
            from io_adapters.store import read
            from io_adapters.store.xdmf import write_sidecar

            write_sidecar(read(self.path), self.path)
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
        self.fields = {
            name: Field(s, c, np.zeros((0, support_size(appender.mesh, s, r), len(c))), r)
            for name, (s, c, r) in appender.specs.items()
        }
