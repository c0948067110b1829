"""The XDMF sidecar of a store: ParaView and ``meshio.xdmf.TimeSeriesReader`` open it.

The sidecar is an XML file beside the store. Its data items point into the store:
the mesh datasets, and for each time step of each nodal or cell field a virtual
HDF5 dataset ``/xdmf/fields/<i>/<k>`` that maps onto row ``k`` of the field's
chunked dataset (no data is copied). Integration-point fields are not shown (XDMF
has no such centring); read them through nirom.

The sidecar names its store's ``uuid`` (``<Information Name="nirom_store_uuid">``).
A writer removes the old sidecar before it renames the new store into place and
renames the new sidecar last, so a store and a sidecar that describe different
writes are never side by side: a killed writer leaves at worst a store without
its sidecar. A sidecar whose uuid is not its store's (a store copied over
another one, or written by a writer that did not follow this order) is rewritten
by :func:`io_adapters.store.read` (see :func:`stale_sidecar`).
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np

from io_adapters.simulation import Simulation
from io_adapters.store.files import publish, remove_stale_temporaries, temporary_beside

_SHOWN = ("node", "cell")
_UUID = re.compile(r'<Information Name="nirom_store_uuid" Value="([0-9a-f]*)"')


def sidecar_path(store: str | os.PathLike) -> Path:
    """``cube.h5`` → ``cube.xdmf``."""
    return Path(store).with_suffix(".xdmf")


def _topology_types():
    from meshio.xdmf.common import meshio_to_xdmf_type, meshio_type_to_xdmf_index

    return meshio_to_xdmf_type, meshio_type_to_xdmf_index


def add_virtual_steps(f, sim: Simulation) -> None:
    """Create the per-step virtual datasets and, for mixed meshes, the XDMF topology."""
    import h5py

    group = f.create_group("xdmf")
    if len(sim.mesh.cells) > 1:
        _, index = _topology_types()
        parts = []
        for cell_type, conn in sim.mesh.cells.items():
            codes = np.full((len(conn), 1), index[cell_type], dtype=np.int64)
            if cell_type == "line":
                codes = np.column_stack([codes, np.full(len(conn), 2)])
            parts.append(np.column_stack([codes, conn]).ravel())
        group.create_dataset("mixed_topology", data=np.concatenate(parts))
    fields = f["fields"]
    for i, (name, fld) in enumerate(sim.fields.items()):
        if fld.support not in _SHOWN:
            continue
        source = fields[str(i)]
        steps = group.require_group(f"fields/{i}")
        for k in range(sim.n_times):
            layout = h5py.VirtualLayout(shape=source.shape[1:], dtype=source.dtype)
            layout[...] = h5py.VirtualSource(".", source.name, shape=source.shape)[k]
            steps.create_virtual_dataset(str(k), layout)


def _data_item(h5name: str, path: str, shape: tuple, dtype) -> str:
    kind = "Int" if np.dtype(dtype).kind == "i" else "Float"
    dims = " ".join(str(n) for n in shape)
    return (f'<DataItem DataType="{kind}" Precision="{np.dtype(dtype).itemsize}" Dimensions="{dims}" '
            f'Format="HDF">{h5name}:{path}</DataItem>')


def _attribute_type(n_components: int) -> str:
    return {1: "Scalar", 3: "Vector"}.get(n_components, "Matrix")


def sidecar_text(sim: Simulation, store: str | os.PathLike, stored_dtypes: dict | None = None,
                 uuid: str | None = None) -> str:
    """The XDMF text describing the store's mesh and nodal/cell fields.

    ``stored_dtypes`` gives each field's precision in the store (default: the
    field's source precision); ``uuid`` is the store's identifier.
    """
    h5 = Path(store).name
    mesh = sim.mesh
    names, _ = _topology_types()
    geometry = (f'<Geometry GeometryType="XYZ">'
                f'{_data_item(h5, "/mesh/points", mesh.points.shape, np.float64)}</Geometry>')
    if len(mesh.cells) == 1:
        (cell_type, conn), = mesh.cells.items()
        extra = ' NodesPerElement="2"' if cell_type == "line" else ""
        topology = (f'<Topology TopologyType="{names[cell_type][0]}" NumberOfElements="{len(conn)}"{extra}>'
                    f'{_data_item(h5, "/mesh/cells/0", conn.shape, np.int64)}</Topology>')
    else:
        size = sum(c.size + len(c) * (2 if t == "line" else 1) for t, c in mesh.cells.items())
        topology = (f'<Topology TopologyType="Mixed" NumberOfElements="{mesh.n_cells}">'
                    f'{_data_item(h5, "/xdmf/mixed_topology", (size,), np.int64)}</Topology>')
    lines = [
        '<?xml version="1.0"?>',
        '<Xdmf Version="3.0" xmlns:xi="http://www.w3.org/2001/XInclude">',
        "<Domain>",
    ]
    if uuid:
        lines.append(f'<Information Name="nirom_store_uuid" Value="{uuid}"/>')
    lines.append(f'<Grid Name="mesh" GridType="Uniform">{geometry}{topology}</Grid>')
    if sim.n_times:
        lines.append('<Grid Name="fields" GridType="Collection" CollectionType="Temporal">')
        for k, t in enumerate(sim.times):
            lines.append(f'<Grid Name="step_{k}" GridType="Uniform">')
            lines.append('<xi:include xpointer="xpointer(/Xdmf/Domain/Grid[@Name=\'mesh\']/Geometry)"/>')
            lines.append('<xi:include xpointer="xpointer(/Xdmf/Domain/Grid[@Name=\'mesh\']/Topology)"/>')
            lines.append(f'<Time Value="{float(t)!r}"/>')
            for i, (name, fld) in enumerate(sim.fields.items()):
                if fld.support not in _SHOWN:
                    continue
                center = "Node" if fld.support == "node" else "Cell"
                shape = fld.shape[1:]
                lines.append(
                    f'<Attribute Name={quoteattr(name)} AttributeType="{_attribute_type(shape[1])}" '
                    f'Center="{center}">{_data_item(h5, f"/xdmf/fields/{i}/{k}", shape, (stored_dtypes or {}).get(name, fld.stored_dtype))}</Attribute>'
                )
            lines.append("</Grid>")
        lines.append("</Grid>")
    lines += ["</Domain>", "</Xdmf>", ""]
    return "\n".join(lines)


def sidecar_temporary(store: str | os.PathLike, text: str) -> Path:
    """The sidecar text written to a temporary beside the sidecar (published by :func:`publish_pair`)."""
    path = sidecar_path(store)
    remove_stale_temporaries(path)
    temporary = temporary_beside(path)
    try:
        temporary.write_text(text)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def publish_pair(store_temporary: Path, store: Path, sidecar_temporary: Path | None) -> None:
    """Rename a finished store (and its sidecar) into place, never leaving a disagreeing pair.

    The old sidecar goes first, then the store is renamed, then the new sidecar:
    a kill at any point leaves the old pair, a store alone, or the new pair.
    """
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(sidecar_path(store))
        publish(store_temporary, store)
        if sidecar_temporary is not None:
            publish(sidecar_temporary, sidecar_path(store))
    except BaseException:
        if sidecar_temporary is not None:
            sidecar_temporary.unlink(missing_ok=True)
        raise


def write_sidecar(sim: Simulation, store: str | os.PathLike, stored_dtypes: dict | None = None,
                  uuid: str | None = None) -> Path:
    """Write ``<store stem>.xdmf`` describing the store's mesh and nodal/cell fields (atomically).

    ``uuid`` defaults to the one the store records (none for a store without one).
    """
    store = Path(store)
    if uuid is None:
        uuid = store_uuid(store)
    path = sidecar_path(store)
    publish(sidecar_temporary(store, sidecar_text(sim, store, stored_dtypes, uuid)), path)
    return path


def store_uuid(store: str | os.PathLike) -> str | None:
    """The uuid a store records, or None (no uuid, or the file cannot be opened)."""
    import h5py

    try:
        with h5py.File(store, "r") as f:
            value = f.attrs.get("uuid")
    except Exception:  # noqa: BLE001  a missing or unreadable store has no uuid
        return None
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return value if isinstance(value, str) else None


def sidecar_uuid(store: str | os.PathLike) -> str | None:
    """The store uuid a sidecar names ("" when it names none; None when there is no sidecar)."""
    path = sidecar_path(store)
    try:
        with open(path, "r", encoding="utf-8", errors="replace") as fh:
            head = fh.read(4096)
    except OSError:
        return None
    match = _UUID.search(head)
    return match.group(1) if match else ""


def stale_sidecar(store: str | os.PathLike, uuid: str | None) -> bool:
    """Whether the sidecar beside a store (which records ``uuid``) describes another store."""
    if not uuid:
        return False
    named = sidecar_uuid(store)
    return named is not None and named != uuid
