"""Zset meshes as a meshio format: ``meshio.read("part.geof")`` once nirom is imported."""

from __future__ import annotations


def _read(filename):
    from io_adapters.zset import read_mesh

    return read_mesh(filename).to_meshio()


def _write(filename, mesh, **kwargs):
    from io_adapters.mesh import Mesh
    from io_adapters.zset import write_geof

    write_geof(Mesh.from_meshio(mesh, source=str(filename)), filename)


def register() -> None:
    """Register the ``zset`` format (``.geof`` ASCII and ``.geo`` binary) with meshio."""
    import meshio

    meshio.register_format("zset", [".geof", ".geo"], _read, {"zset": _write})
