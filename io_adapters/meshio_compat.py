"""Work around meshio 5.3.5 not knowing the dimension of ``wedge15`` and ``pyramid13``.

``meshio.CellBlock("wedge15", ...)`` raises ``KeyError`` in meshio <= 5.3.5 because
``meshio._mesh.topological_dimension`` lacks the entry (meshio issues #1247,
#1505), although meshio's VTK writers know the type (Zset's ``c3d15`` is a
``wedge15``). :meth:`io_adapters.Mesh.to_meshio` and the Zset mesh reader add the
two missing entries (nothing else, and only when absent).
"""

from __future__ import annotations

_MISSING = {"wedge15": 3, "pyramid13": 3}


def ensure_meshio_cell_dimensions(cell_types) -> None:
    """Teach meshio the dimension of the quadratic wedge and pyramid if it lacks them."""
    if not _MISSING.keys() & set(cell_types):
        return
    try:
        from meshio import _mesh
    except ImportError:  # meshio is optional for reading
        return
    table = getattr(_mesh, "topological_dimension", None)
    if isinstance(table, dict):
        for cell_type, dim in _MISSING.items():
            table.setdefault(cell_type, dim)
