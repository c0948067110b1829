"""The one collective the ROM stages need: a sum over the ranks of a communicator.

Functions take ``comm=None`` (serial) or an mpi4py communicator; mpi4py is never
imported here (the communicator brings it).
"""

from __future__ import annotations

import numpy as np


def allreduce_sum(array: np.ndarray, comm=None) -> np.ndarray:
    """Sum of ``array`` over the ranks of ``comm`` (the array itself when serial).

    Parameters
    ----------
    array : ndarray
        Same shape and dtype on every rank.
    comm : mpi4py communicator, optional

    Returns
    -------
    ndarray
        The same on every rank (numpy buffers, no pickling).
    """
    array = np.ascontiguousarray(array)
    if comm is None or comm.size == 1:
        return array
    total = np.empty_like(array)
    comm.Allreduce(array, total)        # op defaults to SUM
    return total
