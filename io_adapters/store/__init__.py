"""The in-house format: one HDF5 file per simulation, plus an XDMF sidecar.

See :mod:`io_adapters.store.layout` for the layout. Writes are atomic and
streamed by time step; reads are lazy and can be limited to some fields, time
steps and cells (a rank's subdomain). Stores carry checksums, verified as
described in :mod:`io_adapters.store.integrity` (:func:`verify` checks them all).
"""

from io_adapters.store.appender import StoreAppender
from io_adapters.store.hdf5 import is_store, read, read_field, store_problem, verify, write
from io_adapters.store.layout import FORMAT_NAME, FORMAT_VERSION
from io_adapters.store.xdmf import sidecar_path

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "StoreAppender", "is_store", "read", "read_field", "sidecar_path",
           "store_problem", "verify", "write"]
