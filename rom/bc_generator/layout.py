"""The layout of boundary traces — which nodes, which times, which components — and input checks.

A *trace* is the displacement history of a submodel's boundary nodes, one sample of
shape ``(n_times, n_nodes, n_components)`` (three components ``x, y, z``); a set of
traces is ``(n_samples, n_times, n_nodes, n_components)``. The layout says what the
axes are: the nodes' ids (in the global mesh the traces were read from), the times
and the component names. Generators carry the layout they were fitted with, give it
back with their samples, and refuse a file written for another layout.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from io_adapters.errors import InputError

__all__ = ["COMPONENTS", "TraceLayout", "check_samples"]

#: Component names of the traces (displacements ``u_x, u_y, u_z``).
COMPONENTS = ("x", "y", "z")


@dataclass(frozen=True, eq=False)
class TraceLayout:
    """Axes of a boundary trace.

    Parameters
    ----------
    node_ids : (n_nodes,) int array
        Ids of the boundary nodes (solver or global-mesh ids), distinct.
    times : (n_times,) float array
        Times of the trace, strictly increasing.
    components : tuple of str
        Component names, ``("x", "y", "z")``.
    """

    node_ids: np.ndarray
    times: np.ndarray
    components: tuple[str, ...] = COMPONENTS

    def __post_init__(self):
        node_ids = np.asarray(self.node_ids)
        times = np.asarray(self.times, dtype=np.float64)
        if node_ids.ndim != 1 or node_ids.dtype.kind not in "iu":
            raise InputError(f"layout: node_ids must be a 1-D integer array, found shape {node_ids.shape}, "
                             f"dtype {node_ids.dtype}")
        if len(np.unique(node_ids)) != len(node_ids):
            raise InputError("layout: node_ids must be distinct")
        if times.ndim != 1 or len(times) == 0 or not np.all(np.isfinite(times)):
            raise InputError(f"layout: times must be a non-empty 1-D array of finite values, found shape {times.shape}")
        if np.any(np.diff(times) <= 0):
            raise InputError("layout: times must be strictly increasing")
        if not self.components or not all(isinstance(c, str) for c in self.components):
            raise InputError(f"layout: components must be a non-empty tuple of names, found {self.components!r}")
        object.__setattr__(self, "node_ids", node_ids.astype(np.int64))
        object.__setattr__(self, "times", times)
        object.__setattr__(self, "components", tuple(self.components))

    @classmethod
    def default(cls, shape: tuple[int, ...]) -> "TraceLayout":
        """Nodes ``0 … n_nodes-1``, times ``0 … n_times-1`` for samples of shape ``(n, n_times, n_nodes, 3)``."""
        return cls(np.arange(shape[2]), np.arange(shape[1], dtype=np.float64), COMPONENTS[:shape[3]]
                   if shape[3] <= 3 else tuple(f"c{i}" for i in range(shape[3])))

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(n_times, n_nodes, n_components)`` of one trace."""
        return len(self.times), len(self.node_ids), len(self.components)

    @property
    def n_features(self) -> int:
        """Values in one trace."""
        return int(np.prod(self.shape))

    def difference(self, other: "TraceLayout") -> str | None:
        """What differs from ``other`` (this one first), or None when both are the same layout."""
        if self.components != other.components:
            return f"components {list(self.components)} vs {list(other.components)}"
        if len(self.node_ids) != len(other.node_ids):
            return f"{len(self.node_ids)} nodes vs {len(other.node_ids)}"
        if not np.array_equal(self.node_ids, other.node_ids):
            i = int(np.flatnonzero(self.node_ids != other.node_ids)[0])
            return f"node ids differ (position {i}: {self.node_ids[i]} vs {other.node_ids[i]})"
        if len(self.times) != len(other.times):
            return f"{len(self.times)} times vs {len(other.times)}"
        scale = max(float(np.max(np.abs(self.times))), 1e-300)
        if not np.allclose(self.times, other.times, rtol=1e-12, atol=1e-12 * scale):
            i = int(np.argmax(np.abs(self.times - other.times)))
            return f"times differ (position {i}: {self.times[i]!r} vs {other.times[i]!r})"
        return None


def check_samples(samples, *, layout: TraceLayout | None = None, where: str = "samples",
                  min_samples: int = 1) -> np.ndarray:
    """Return ``samples`` as a float64 array of traces, or raise :class:`InputError`.

    Parameters
    ----------
    samples : (n_samples, n_times, n_nodes, n_components) array_like
        Boundary traces.
    layout : TraceLayout, optional
        When given, the trailing shape must be ``layout.shape``.
    where : str
        Name of the array (or file) for the messages.
    min_samples : int
        Fewest samples accepted.

    Returns
    -------
    (n_samples, n_times, n_nodes, n_components) float64 array
    """
    try:
        array = np.asarray(samples)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{where}: not an array of traces ({exc})") from exc
    if array.dtype.kind not in "fiu":
        raise InputError(f"{where}: expected numbers, found dtype {array.dtype}")
    if array.ndim != 4:
        raise InputError(f"{where}: expected traces of shape (n_samples, n_times, n_nodes, n_components), "
                         f"found {array.ndim} dimension(s), shape {array.shape}")
    if layout is not None and array.shape[1:] != layout.shape:
        raise InputError(f"{where}: expected traces of shape (n_samples, {', '.join(map(str, layout.shape))}) "
                         f"(n_times, n_nodes, n_components of the layout), found {array.shape}")
    if array.shape[0] < min_samples:
        raise InputError(f"{where}: expected at least {min_samples} sample(s), found {array.shape[0]}")
    if 0 in array.shape[1:]:
        raise InputError(f"{where}: empty trace axis in shape {array.shape}")
    array = np.asarray(array, dtype=np.float64)
    finite = np.isfinite(array)
    if not finite.all():
        s, t, n, c = (int(i) for i in np.argwhere(~finite)[0])
        raise InputError(f"{where}: non-finite value {array[s, t, n, c]} at sample {s}, time index {t}, "
                         f"node index {n}, component {c} ({int((~finite).sum())} non-finite value(s) in all)")
    return array
