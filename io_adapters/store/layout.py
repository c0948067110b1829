"""The nirom HDF5 store, format version 1: what is where in the file.

::

    /                         attrs: format="nirom-simulation", format_version=1,
                                     complete=1 (set last), writer,
                                     uuid, checksums="crc32", metadata_checksum (optional:
                                     see io_adapters.store.integrity)
    /mesh                     attrs: dim, cell_types (JSON list, the cell order)
    /mesh/points              (n_nodes, 3) float64
    /mesh/cells/<i>           (n_cells_i, nodes_per_cell) int64, type cell_types[i]
    /mesh/point_ids           (n_nodes,) int64, optional
    /mesh/cell_ids            (n_cells,) int64, optional
    /mesh/node_sets/<i>       (k,) int64          attrs: name
    /mesh/cell_sets/<i>       (k,) int64          attrs: name
    /mesh/face_sets/<i>/<j>   (n, k) int64        group attrs: name, types (JSON list)
    /times                    (n_times,) float64
    /fields/<i>               (n_times, n_rows, n_components) float32|float64,
                              chunks (1, rows_per_chunk, n_components)
                              attrs: name, support, components (JSON), rule ("" if none)
    /parameters, /provenance  attrs: json
    /xdmf/...                 virtual datasets for the XDMF sidecar (one per step)

Sets and fields are stored under numbers with their names as attributes, so
that any name (spaces, slashes) survives. Every dataset outside ``/xdmf`` carries
``checksum = "crc32:<hex>"`` of its values (stores written before checksums lack
them and still load). Text attributes are written as fixed-length UTF-8 strings
(h5py returns them as bytes: decode them); earlier stores used variable-length
strings, which readers accept too.

A reader refuses: field or set names given twice, ``points`` that are not
``(n_nodes, 3)`` (``(n_nodes, 2)`` only when ``dim`` is 2: z = 0), members of a
numbered group other than ``0 … n-1``, attributes of the wrong type, links to
other places or files.
"""

FORMAT_NAME = "nirom-simulation"
FORMAT_VERSION = 1
#: Target size of one chunk of a field dataset (one time step, a block of rows).
CHUNK_BYTES = 1 << 20
