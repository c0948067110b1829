"""Read Ansys Mechanical APDL results (``.rst``, ``.rth``) and archives (``.cdb``).

Uses ``ansys-mapdl-reader`` (the ``ansys`` extra), imported only when a file is
read. An ``.rst``/``.rth`` file gives a mesh and nodal fields over its result
sets; a ``.cdb`` archive gives a mesh-only Simulation (no times).

Conventions (what the reader converts)
--------------------------------------
- **Mesh.** Elements are converted by the library to VTK cells (SOLID186 and
  its degenerate wedge/pyramid/tetrahedron forms → ``hexahedron20``,
  ``wedge15``, ``pyramid13``, ``tetra10``; SOLID187 → ``tetra10``; SOLID185 →
  ``hexahedron``/``wedge``/…), whose node order is meshio's. Elements of the
  highest dimension are the cells; surface elements one dimension lower
  (SURF15x, CONTA/TARGE, MESH200…) become face sets named
  ``<NAME><routine>_<type id>`` (e.g. ``SURF154_2``). Shell elements in a
  solid model, and lower-dimensional structural elements (beams, springs,
  masses), are refused with an :class:`InputError` unless
  ``ignore_unsupported=True`` (then skipped with a warning). ``point_ids`` are
  the Ansys node numbers, ``cell_ids`` the element numbers. Nodes used by no
  kept element are dropped. Node components → ``node_sets``; element
  components → ``cell_sets`` (their surface elements → face sets of that name).
- **Missing midside nodes.** Ansys lets quadratic elements drop midside nodes
  (the edge is then straight and interpolated linearly). Such nodes are created
  at the edge midpoint, with point id ``-1``, and get the mean of the edge's
  corner values in every nodal field: exact for displacements.
- **Row order.** Field rows follow the mesh's node order, matched to the
  library's results by Ansys node number (never by position).
- **Fields** (only those the file has; values in the file's units):

  ``U`` (UX UY UZ, or UX UY in 2D)
      nodal displacements in the global Cartesian system.
  ``S`` (SX SY SZ SXY SYZ SXZ)
      nodal stresses averaged over the elements sharing each node
      (``rst.nodal_stress``). Ansys' order is already nirom's Voigt order
      [11, 22, 33, 12, 23, 31] (SXZ = σ31): no permutation.
  ``EPEL`` (EPELX EPELY EPELZ EPELXY EPELYZ EPELXZ)
      averaged nodal elastic strains. Ansys shear strains are *engineering*
      shears (γ12 = 2ε12), nirom's convention: no factor. (The equivalent
      strain EPELEQV is dropped.)
  ``TEMP`` (TEMP)
      nodal temperatures: the solution of a thermal analysis, else the
      structural body-load temperatures.
  ``RF`` (FX FY FZ)
      nodal reaction forces as Ansys reports them, zero at free nodes; left
      out when some node has a rotated nodal coordinate system.

  Averaged element results (S, EPEL, body temperatures) exist only at corner
  nodes; their midside-node values are the mean of the two corner values of
  the edge, as Ansys itself displays them. A node left without a value (e.g.
  a node of surface elements only) makes reading that field fail with an
  InputError naming the node: values are never invented.
- **Times.** Static and transient analyses: ``rst.time_values``. Modal and
  buckling analyses: the mode numbers 1…n, the frequencies (or load factors)
  in ``parameters``. Harmonic (complex) and cyclic-symmetry results are
  refused.
- Values are read from the file when asked (``field.read``), one result set at
  a time. Values the file holds as NaN or Inf are refused (naming the node),
  never taken for "no value".

Corrupt files
-------------
The library's compiled readers trust the file: a zero-filled or damaged record
can make them read out of bounds, allocate without limit or abort the process.
nirom therefore (1) checks the headers and the records they point to before
the library sees the file (:func:`_check_result_header`), and (2) runs the
library in a child process (forked, so it starts at once and shares the loaded
library) that serves one file: if that process dies, the read fails with an
:class:`InputError` naming the file and the signal, and the calling process
goes on. At most :data:`MAX_OPEN_READERS` such processes stay open (the least
recently read file's is closed, and forked again when needed): each keeps the
memory the parent had when it was forked. ``NIROM_ANSYS_ISOLATION=0`` runs the
library in the calling process (where ``fork`` is missing, e.g. on Windows, it
always does). Every array the library returns is checked (shapes, index ranges,
unique node numbers, finiteness) before use. An archive's NBLOCK/EBLOCK numbers
are checked as text first (the compiled parser reads ``NaN`` as 30.0), and an
element on a node no record defines is refused.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import signal
import struct
import warnings
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from io_adapters.errors import InputError, require
from io_adapters.formats import check_file
from io_adapters.mesh import CELL_DIMENSION, NODES_PER_CELL, Mesh
from io_adapters.simulation import Field, Index, Simulation

log = logging.getLogger(__name__)

#: VTK cell type number -> meshio cell type (the types the library produces).
VTK_TO_MESHIO = {
    1: "vertex", 3: "line", 21: "line3", 5: "triangle", 22: "triangle6", 9: "quad", 23: "quad8",
    28: "quad9", 10: "tetra", 24: "tetra10", 12: "hexahedron", 25: "hexahedron20", 13: "wedge",
    26: "wedge15", 14: "pyramid", 27: "pyramid13",
}

#: Corner pairs of the midside nodes of each quadratic type, in meshio/VTK node order.
MIDSIDE_EDGES = {
    "line3": [(0, 1)],
    "triangle6": [(0, 1), (1, 2), (2, 0)],
    "quad8": [(0, 1), (1, 2), (2, 3), (3, 0)],
    "tetra10": [(0, 1), (1, 2), (2, 0), (0, 3), (1, 3), (2, 3)],
    "pyramid13": [(0, 1), (1, 2), (2, 3), (3, 0), (0, 4), (1, 4), (2, 4), (3, 4)],
    "wedge15": [(0, 1), (1, 2), (2, 0), (3, 4), (4, 5), (5, 3), (0, 3), (1, 4), (2, 5)],
    "hexahedron20": [(0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4),
                     (0, 4), (1, 5), (2, 6), (3, 7)],
}

#: Ansys element routines that are structural shells (refused in solid models).
SHELL_ROUTINES = frozenset({28, 41, 43, 51, 57, 61, 63, 91, 93, 99, 131, 132, 143, 150, 157, 163,
                            181, 208, 209, 281})
#: Ansys element routines that carry no stiffness of their own on a boundary.
SURFACE_ROUTINES = frozenset({19, 22, 151, 152, 153, 154, 155, 156, 159, 169, 170, 171, 172, 173,
                              174, 175, 176, 177, 178, 200, 251, 252})

#: Analysis types (``kan`` of the result header).
ANALYSES = {0: "static", 1: "buckling", 2: "modal", 3: "harmonic", 4: "transient",
            7: "substructure", 8: "spectrum"}

#: Field name -> component names.
COMPONENTS = {
    "S": ("SX", "SY", "SZ", "SXY", "SYZ", "SXZ"),
    "EPEL": ("EPELX", "EPELY", "EPELZ", "EPELXY", "EPELYZ", "EPELXZ"),
    "TEMP": ("TEMP",),
    "RF": ("FX", "FY", "FZ"),
}


def read(path: str | os.PathLike, *, ignore_unsupported: bool = False) -> Simulation:
    """Read an Ansys result file (``.rst``, ``.rth``) or archive (``.cdb``).

    Parameters
    ----------
    path : path
    ignore_unsupported : bool
        Skip (with a warning) elements nirom cannot represent (beams, springs,
        masses, shells in a solid model) instead of refusing the file.

    Returns
    -------
    Simulation
        Nodal fields of shape (n_times, n_nodes, n_components), read from the
        file when asked; no times nor fields for an archive.

    Raises
    ------
    InputError
        Missing, truncated or unreadable file; unsupported elements or analysis.
    MissingDependencyError
        ``ansys-mapdl-reader`` is not installed.
    """
    path = check_file(path)
    if path.suffix.lower() == ".cdb":
        return read_archive(path, ignore_unsupported=ignore_unsupported)
    return read_result(path, ignore_unsupported=ignore_unsupported)


def read_archive(path: str | os.PathLike, *, ignore_unsupported: bool = False) -> Simulation:
    """The mesh, node components and element components of a ``.cdb`` archive.

    Returns
    -------
    Simulation
        Mesh only (no times, no fields).
    """
    path = check_file(path)
    require("ansys.mapdl.reader", "ansys", "reading Ansys archives (.cdb)")
    _check_archive_text(path)
    with _Library(path, "archive") as library:
        summary = library.call("archive_summary", what="reading the archive")
    mesh, _ = _convert_mesh(summary, path, ignore_unsupported)
    return Simulation(mesh=mesh, times=[], provenance={"format": "ansys", "files": [str(path)],
                                                       "solver": "Ansys Mechanical APDL"})


def read_result(path: str | os.PathLike, *, ignore_unsupported: bool = False) -> Simulation:
    """The mesh and nodal fields of a ``.rst``/``.rth`` result file (see the module docstring)."""
    path = check_file(path)
    require("ansys.mapdl.reader", "ansys", "reading Ansys result files (.rst)")
    _check_result_header(path)
    shared = _ResultFile(path)
    summary = shared.call("result_summary", what="reading the header and the mesh")
    header = summary["header"]
    if summary["cyclic"]:
        raise InputError(f"{path}: cyclic-symmetry results are not supported (expand them in Ansys first)")
    analysis = ANALYSES.get(header["kan"], f"type {header['kan']}")
    if header["cpxrst"] or analysis not in ("static", "transient", "modal", "buckling"):
        raise InputError(f"{path}: {analysis} analysis results are not supported "
                         "(nirom reads static, transient, modal and buckling results)")

    mesh, layout = _convert_mesh(summary["mesh"], path, ignore_unsupported)
    values = _checked_array(summary["time_values"], path, "the time values", 1, "f")
    if not np.isfinite(values).all():
        raise InputError(f"{path}: the time table holds non-finite values {values[~np.isfinite(values)][:3]}")
    parameters = {}
    if analysis in ("modal", "buckling"):
        times = np.arange(1.0, len(values) + 1)
        parameters["frequencies" if analysis == "modal" else "load_factors"] = values.tolist()
    else:
        times = values

    available = summary["available"]
    wanted = {}  # field name -> (library record, columns kept, component names)
    dofs = summary["dofs"]
    if summary["thermal"]:
        if "TEMP" in dofs:
            wanted["TEMP"] = ("NSL", (dofs.index("TEMP"),), COMPONENTS["TEMP"])
    else:
        displacement = [d for d in ("UX", "UY", "UZ") if d in dofs]
        if available["NSL"] and displacement:
            wanted["U"] = ("NSL", tuple(dofs.index(d) for d in displacement), tuple(displacement))
        if available["ENS"]:
            wanted["S"] = ("ENS", tuple(range(6)), COMPONENTS["S"])
        if available["EEL"]:
            wanted["EPEL"] = ("EEL", tuple(range(6)), COMPONENTS["EPEL"])
        if available["EPT"]:
            wanted["TEMP"] = ("EPT", (0,), COMPONENTS["TEMP"])
        if available["RF"] and displacement:
            if summary["rotated_nodes"]:
                log.warning("%s: reaction forces left out: some nodes have rotated coordinate systems", path)
            else:
                wanted["RF"] = ("RF", (0, 1, 2), COMPONENTS["RF"])

    sources = {
        name: Field("node", components, AnsysNodalResult(
            file=shared, record=record, columns=columns, layout=layout,
            shape=(len(times), mesh.n_nodes, len(components)), dtype=np.dtype(np.float64),
            origin=f"{path}: {name}"))
        for name, (record, columns, components) in wanted.items()
    }
    try:
        return Simulation(
            mesh=mesh, times=times, fields=sources, parameters=parameters,
            provenance={"format": "ansys", "files": [str(path)], "solver": "Ansys Mechanical APDL",
                        "solver_version": header["verstring"], "analysis": analysis,
                        "title": header["title"], "units": header["units"]},
        )
    except InputError as exc:
        raise type(exc)(f"{path}: {exc}") from None


# --------------------------------------------------------------- file checks
#: Result-header pointers checked before the library follows them, with what they point to.
_HEADER_RECORDS = (
    ("ptrDSI", "data-set index table"), ("ptrTIM", "time table"), ("ptrLSP", "load-step table"),
    ("ptrNOD", "nodal equivalence table"), ("ptrELM", "element equivalence table"), ("ptrGEO", "geometry header"),
)


def _check_result_header(path: Path) -> None:
    """Refuse a file that is not an Ansys binary file, is shorter than its header says, or whose header
    points at missing or damaged records.

    The library's compiled readers abort the process on truncated files and read
    out of bounds on damaged records; these checks read only the headers and the
    frame (length, flags, trailing length) of the records they point to.
    """
    size = path.stat().st_size
    words = np.fromfile(path, dtype="<i4", count=186)
    endian = "<"
    if len(words) and words[0] != 100 and words.byteswap()[0] == 100:
        raise InputError(f"{path}: a big-endian Ansys file (written on a big-endian machine, or byte-swapped); "
                         "the Ansys reader reads little-endian files only")
    if len(words) < 105 + 40:
        raise InputError(f"{path}: not an Ansys binary result file, or truncated "
                         f"({size} bytes; the headers need {4 * (105 + 40)})")
    if words[0] != 100 or words[103] <= 0:
        raise InputError(f"{path}: not an Ansys binary result file (its first record should announce 100 words, "
                         f"found {int(words[0])}, and the result header a positive length, found {int(words[103])})")
    result_header = words[105:]
    end_words = int(result_header[9])  # ptrend: the file's length in 4-byte words
    end8 = int(result_header[22]) + (int(result_header[23]) << 32)  # 64-bit pointer of large files
    end_words = max(end_words, end8)
    if size < 4 * end_words:
        raise InputError(f"{path}: truncated Ansys result file: {size} bytes, its header says "
                         f"{4 * end_words} ({endian}-endian)")
    if words[102] != 100:
        raise InputError(f"{path}: damaged standard header (its record should end with its length 100 at word 102, "
                         f"found {int(words[102])})")
    n_header = int(words[103])
    if len(words) > 105 + n_header and words[105 + n_header] != n_header:
        raise InputError(f"{path}: damaged result header (its record of {n_header} words should end with its "
                         f"length at word {105 + n_header}, found {int(words[105 + n_header])})")
    from ansys.mapdl.reader._rst_keys import result_header_keys
    from ansys.mapdl.reader.common import parse_header

    try:
        header = parse_header(words[105:105 + min(n_header, 80)].astype(np.int64), result_header_keys)
    except Exception as exc:  # noqa: BLE001  the parser packs words into 64-bit pointers: garbage fails there
        raise InputError(f"{path}: damaged result header ({type(exc).__name__}: {exc})") from None
    n_words = size // 4
    nsets, resmax = int(header.get("nsets", 0)), int(header.get("resmax", 0))
    if not 0 <= nsets <= max(resmax, 0):
        raise InputError(f"{path}: the result header announces {nsets} result sets for at most {resmax}")
    frames = {}
    for key, what in _HEADER_RECORDS:
        pointer = int(header.get(key, 0))
        if pointer or key in ("ptrDSI", "ptrTIM", "ptrGEO"):
            frames[key] = _check_frame(path, endian, n_words, pointer, f"the {what} ({key})")
    _check_geometry(path, int(header["ptrGEO"]), frames["ptrGEO"])
    # the solution header of each result set
    pointer, (n, compressed) = int(header["ptrDSI"]), frames["ptrDSI"]
    if not compressed and nsets:
        if n < nsets + resmax:
            raise InputError(f"{path}: the data-set index table holds {n} words, {nsets + resmax} expected")
        table = np.fromfile(path, dtype=f"{endian}u4", count=n, offset=4 * (pointer + 2)).astype(np.int64)
        for k, start in enumerate(table[:nsets] + (table[resmax:resmax + nsets] << 32)):
            _check_frame(path, endian, n_words, int(start), f"the solution header of result set {k + 1}")


#: Geometry-header pointers checked, with what they point to.
_GEOMETRY_RECORDS = (
    ("ptrETY", "element type index"), ("ptrREL", "real constant index"), ("ptrCSY", "coordinate system index"),
    ("ptrEID", "element index"), ("ptrMAS", "master dof table"), ("ptrSEC", "section index"),
    ("ptrMAT", "material index"), ("ptrNOD", "node number table"), ("ptrELM", "element number table"),
    ("ptrCOMP", "component table"),
)
#: The library reads a node record into 68 words (as up to 34 doubles) and an element into 30 values.
_NODE_WORDS, _NODE_VALUES, _ELEMENT_VALUES = 68, 34, 30


def _check_geometry(path: Path, pointer: int, frame: tuple[int, bool]) -> None:
    """The records of the mesh the library's compiled readers load: node records (read in sequence from
    ``ptrLOC``) and element records (through the ``ptrEID`` index), each into a fixed buffer."""
    from ansys.mapdl.reader._rst_keys import geometry_header_keys
    from ansys.mapdl.reader.common import parse_header

    n, compressed = frame
    if compressed:
        return    # a compressed geometry header: its pointers are left to the library
    records = _Records(path)
    words = np.asarray(records.words[pointer + 2:pointer + 2 + n], dtype=np.int64)
    try:
        header = parse_header(words, geometry_header_keys)
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"{path}: damaged geometry header ({type(exc).__name__}: {exc})") from None
    for key, what in _GEOMETRY_RECORDS:
        at = int(header.get(key, 0) or 0)
        if at:
            records.frames(np.array([at]), f"the {what} ({key})", records.n_words)
    nnod, nelm = int(header.get("nnod", 0)), int(header.get("nelm", 0))
    if nnod < 0 or nelm < 0:
        raise InputError(f"{path}: the geometry header announces {nnod} nodes and {nelm} elements")
    location = int(header.get("ptrLOC", 0) or 0)
    if nnod:
        if not location:
            raise InputError(f"{path}: the geometry header announces {nnod} nodes but no node records (ptrLOC)")
        _check_node_records(path, records, location, nnod)
    eid = int(header.get("ptrEID", 0) or 0)
    if nelm and eid:
        en, eflags = records.frames(np.array([eid]), "the element index (ptrEID)", records.n_words)
        if not eflags[0] & 0b11000:
            if en[0] < 2 * nelm:
                raise InputError(f"{path}: the element index (ptrEID) holds {int(en[0])} words for {nelm} elements")
            table = np.asarray(records.words[eid + 2:eid + 2 + 2 * nelm]).view(np.int64).astype(np.int64)
            starts = eid + table
            what = "an element record of the mesh"
            sizes = records.decoded_sizes(starts, *records.frames(starts, what, 128), what)
            big = np.flatnonzero((sizes < 1) | (sizes > _ELEMENT_VALUES))
            if len(big):
                raise InputError(f"{path}: {what} at word {int(starts[big[0]])} holds {int(sizes[big[0]])} values, "
                                 f"1 to {_ELEMENT_VALUES} expected: the record is damaged")


def _check_node_records(path: Path, records: "_Records", start: int, count: int) -> None:
    """The ``count`` node records stored one after the other from word ``start``."""
    words = records.words
    n_words = records.n_words
    starts = np.empty(count, np.int64)
    at = start
    view = memoryview(words).cast("B").cast("i") if count > 64 else None
    for k in range(count):
        if not 0 < at < n_words - 2:
            raise InputError(f"{path}: node record {k} of {count} would start at word {at}, outside the file "
                             f"({n_words} words): the node table is damaged")
        n = view[at] if view is not None else int(words[at])
        if not 1 <= n <= _NODE_WORDS or at + 3 + n > n_words or \
                (view[at + 2 + n] if view is not None else int(words[at + 2 + n])) != n:
            raise InputError(f"{path}: node record {k} of {count} at word {at} is damaged (it announces {n} words, "
                             f"1 to {_NODE_WORDS} expected, and must end with that length)")
        starts[k] = at
        at += n + 3
    what = "a node record"
    sizes = records.decoded_sizes(starts, *records.frames(starts, what, _NODE_WORDS), what)
    big = np.flatnonzero(sizes > _NODE_VALUES)
    if len(big):
        raise InputError(f"{path}: {what} at word {int(starts[big[0]])} decodes to {int(sizes[big[0]])} values, "
                         f"at most {_NODE_VALUES} expected: the record is damaged")


def _check_frame(path: Path, endian: str, n_words: int, pointer: int, what: str) -> tuple[int, bool]:
    """Check the record at word ``pointer``: ``[n][flags] n words [n]`` inside the file, not empty.

    Returns
    -------
    (n, compressed) : the record's length in words and whether it is stored compressed.
    """
    if not 0 < pointer < n_words - 2:
        raise InputError(f"{path}: {what} should start at word {pointer}, outside the file ({n_words} words): "
                         "the header is damaged")
    n, flags = np.fromfile(path, dtype=f"{endian}i4", count=2, offset=4 * pointer).astype(np.int64)
    if n <= 0 or pointer + 3 + n > n_words:
        raise InputError(f"{path}: {what} at word {pointer} is empty or damaged (it announces {n} words; the file "
                         f"has {n_words}): a zero-filled or overwritten record?")
    trailer = int(np.fromfile(path, dtype=f"{endian}i4", count=1, offset=4 * (pointer + 2 + n))[0])
    if trailer != n:
        raise InputError(f"{path}: {what} at word {pointer} announces {n} words but does not end with that length "
                         f"(found {trailer}): the record is damaged")
    top = (int(flags) >> 24) & 0xFF if endian == "<" else int(flags) & 0xFF
    return int(n), bool(top & 0b00111000)   # bsparse, wsparse, zlib


_BLOCK_FORMAT = re.compile(r"\(\s*(\d+)\s*i\s*(\d+)\s*(?:,\s*(\d+)\s*e\s*(\d+)(?:\.\d+)?(?:e\d+)?\s*)?\)", re.I)
_BLOCK_END = re.compile(r"^\s*(-1\s*$|N\s*,\s*R5\.3\s*,\s*LOC\s*,\s*-1)", re.I)


def _check_archive_text(path: Path) -> None:
    """The numbers of an archive's NBLOCK (nodes) and EBLOCK (elements), checked before the library's
    compiled parser, which reads an unparsable field as some other number (``NaN`` read as 30.0)."""
    try:
        lines = path.read_text(encoding="latin-1").splitlines()
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    k = 0
    while k < len(lines):
        keyword = lines[k].split(",", 1)[0].strip().lower()
        if keyword not in ("nblock", "eblock"):
            k += 1
            continue
        if k + 1 >= len(lines):
            raise InputError(f"{path}, line {k + 1}: {keyword.upper()} without its format line (the file was cut?)")
        layout = _BLOCK_FORMAT.fullmatch(lines[k + 1].strip())
        if layout is None:
            raise InputError(f"{path}, line {k + 2}: unreadable {keyword.upper()} format {lines[k + 1].strip()!r}")
        n_int, int_width = int(layout.group(1)), int(layout.group(2))
        float_width = int(layout.group(4)) if layout.group(4) else 0
        if keyword == "eblock":
            n_int, float_width = 10**6, 0   # every field an integer, any count per line
        if int_width < 1:
            raise InputError(f"{path}, line {k + 2}: {keyword.upper()} format with fields of width 0")
        k += 2
        while k < len(lines) and not _BLOCK_END.match(lines[k]):
            line = lines[k].rstrip()
            cut = min(len(line), n_int * int_width)
            for start in range(0, cut, int_width):
                text = line[start:start + int_width].strip()
                if text and not text.lstrip("+-").isdigit():
                    raise InputError(f"{path}, line {k + 1}: {keyword.upper()} field {text!r} is not an integer")
            for start in range(cut, len(line), float_width or len(line) + 1):
                text = line[start:start + float_width].strip()
                if not text:
                    continue
                try:
                    value = float(text.replace("D", "E").replace("d", "e"))
                except ValueError:
                    value = None
                if value is None or not np.isfinite(value):
                    raise InputError(f"{path}, line {k + 1}: node coordinate {text!r} is not a finite number")
            k += 1
        if k >= len(lines):
            raise InputError(f"{path}: {keyword.upper()} is not closed by -1 (the file was cut?)")


# ------------------------------------------------------------- the library, isolated
def _isolated() -> bool:
    """Whether the library runs in a child process (see the module docstring)."""
    setting = os.environ.get("NIROM_ANSYS_ISOLATION", "1").strip().lower()
    return hasattr(os, "fork") and setting not in ("0", "no", "false", "off")


def _send(fd: int, message) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(struct.pack("<Q", len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def _receive_exactly(fd: int, n: int) -> bytes | None:
    parts, left = [], n
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _receive(fd: int):
    head = _receive_exactly(fd, 8)
    if head is None:
        return None
    body = _receive_exactly(fd, struct.unpack("<Q", head)[0])
    return None if body is None else pickle.loads(body)


def _open_library(path: Path, kind: str):
    import importlib

    reader = importlib.import_module("ansys.mapdl.reader")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyvista deprecation chatter
        if kind == "archive":
            return reader.Archive(str(path), parse_vtk=False)
        return reader.read_binary(str(path))


def _run(operation: str, library, args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _OPERATIONS[operation](library, *args)


def _serve(path: Path, kind: str, rfd: int, wfd: int) -> None:
    """The child's loop: open the file, then answer requests until the parent closes the pipe."""
    try:
        library = _open_library(path, kind)
    except Exception as exc:  # noqa: BLE001  the library raises anything on bad input
        _send(wfd, ("error", f"{type(exc).__name__}: {exc}"))
        return
    _send(wfd, ("ok", None))
    while True:
        request = _receive(rfd)
        if request is None:
            return
        operation, args = request
        try:
            answer = ("ok", _run(operation, library, args))
        except InputError as exc:   # nirom's own checks: already phrased
            answer = ("input", str(exc))
        except Exception as exc:  # noqa: BLE001
            answer = ("error", f"{type(exc).__name__}: {exc}")
        _send(wfd, answer)


def _stop(pid: int, rfd: int, wfd: int) -> None:
    """End the child (it holds nothing but a read-only file) and reap it."""
    for fd in (wfd, rfd):
        try:
            os.close(fd)
        except OSError:
            pass
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _keep_only(fds: set[int]) -> None:
    """In the child: every descriptor but stderr and ``fds`` pointed at /dev/null; no fault handler.

    The child must not hold the other pipes of the parent (those of other
    children, of subprocesses): whoever waits for their end would wait for it.
    They are redirected rather than closed, so that no file the library opens
    takes the number of a descriptor some handler still writes to (a fault
    handler once wrote its report into the result file the library had opened
    read-write under that number); the fault handler itself is switched off.
    """
    import faulthandler

    faulthandler.cancel_dump_traceback_later()
    faulthandler.disable()
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        open_fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        limit = os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 1024
        open_fds = list(range(min(limit, 65536)))
    for fd in open_fds:
        if fd in fds or fd in (2, devnull):
            continue
        try:
            os.fstat(fd)            # open: point it at /dev/null
            os.dup2(devnull, fd)
        except OSError:
            pass
    os.close(devnull)


class _Library:
    """The library open on one file, in a child process (or here, when not isolated).

    Parameters
    ----------
    path : Path
    kind : {"result", "archive"}
    """

    def __init__(self, path: Path, kind: str):
        self.path, self.kind = path, kind
        self.local = None
        self.pid = None
        failure = "not a readable Ansys archive" if kind == "archive" else "not a readable Ansys result file"
        if not _isolated():
            try:
                self.local = _open_library(path, kind)
            except Exception as exc:  # noqa: BLE001
                raise InputError(f"{path}: {failure}: {type(exc).__name__}: {exc}") from None
            return
        parent_read, child_write = os.pipe()
        child_read, parent_write = os.pipe()
        with warnings.catch_warnings():
            # fork while other threads exist (ours, JAX's…): the child only runs the library's readers, which
            # take none of the locks those threads may hold, and ends without running any exit handler
            warnings.simplefilter("ignore")
            pid = os.fork()
        if pid == 0:   # the child: serve, then leave without running the parent's exit handlers
            code = 0
            try:
                _keep_only({child_read, child_write})
                signal.signal(signal.SIGINT, signal.SIG_IGN)   # the parent decides; EOF ends the child
                _serve(path, kind, child_read, child_write)
            except BaseException:  # noqa: BLE001
                code = 1
            finally:
                os._exit(code)
        os.close(child_read)
        os.close(child_write)
        self.pid, self.rfd, self.wfd = pid, parent_read, parent_write
        self._finalizer = weakref.finalize(self, _stop, pid, parent_read, parent_write)
        self._answer("opening the file", failure)

    def call(self, operation: str, *args, what: str, failure: str | None = None):
        """Run one operation of :data:`_OPERATIONS` on the open file; InputError on any failure."""
        failure = failure or f"{what} failed"
        if self.local is not None:
            try:
                return _run(operation, self.local, args)
            except InputError:
                raise
            except Exception as exc:  # noqa: BLE001
                raise InputError(f"{self.path}: {failure}: {type(exc).__name__}: {exc}") from None
        if self.pid is None:
            raise InputError(f"{self.path}: the Ansys reader process ended earlier; open the file again")
        try:
            _send(self.wfd, (operation, args))
        except (BrokenPipeError, OSError):
            self._crashed(what)
        return self._answer(what, failure)

    def _answer(self, what: str, failure: str):
        message = _receive(self.rfd)
        if message is None:
            self._crashed(what)
        status, payload = message
        if status == "ok":
            return payload
        if status == "input":
            raise InputError(payload)
        raise InputError(f"{self.path}: {failure}: {payload}")

    def _crashed(self, what: str):
        pid, self.pid = self.pid, None
        self._finalizer.detach()
        for fd in (self.rfd, self.wfd):
            try:
                os.close(fd)
            except OSError:
                pass
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            number = os.WTERMSIG(status)
            try:
                how = f"signal {signal.Signals(number).name}"
            except ValueError:
                how = f"signal {number}"
        else:
            how = f"exit code {os.WEXITSTATUS(status)}"
        raise InputError(f"{self.path}: the Ansys library crashed ({how}) while {what}: the file is corrupt (a "
                         "damaged or zero-filled record); it was read in a separate process, nirom goes on")

    def close(self) -> None:
        if self.pid is not None:
            self._finalizer()
            self.pid = None
        self.local = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _grid_summary(ansys_mesh) -> dict | None:
    """The library's VTK conversion as plain arrays (every element kept, missing midside nodes created)."""
    undefined = _undefined_nodes(ansys_mesh)
    grid = ansys_mesh._parse_vtk(null_unallowed=True, fix_midside=True)
    if grid is None or grid.n_cells == 0:
        return None
    return {
        "undefined": undefined,
        "celltypes": np.asarray(grid.celltypes), "offsets": np.asarray(grid.cell_offsets),
        "connectivity": np.asarray(grid.cell_connectivity), "elements": np.asarray(grid.cell_data["ansys_elem_num"]),
        "routines": np.asarray(grid.cell_data["ansys_elem_type_num"]),
        "type_ids": np.asarray(grid.cell_data["ansys_etype"]), "numbers": np.asarray(grid.point_data["ansys_node_num"]),
        "points": np.asarray(grid.points, dtype=np.float64),
        "element_components": {str(k).strip(): np.asarray(v) for k, v in ansys_mesh.element_components.items()},
        "node_components": {str(k).strip(): np.asarray(v) for k, v in ansys_mesh.node_components.items()},
    }


def _undefined_nodes(ansys_mesh) -> tuple[int, int] | None:
    """(element number, node number) of the first element node that no node record defines (0 = a dropped
    midside node, allowed), or None. Element records: 10 header fields (the number at 8), then the nodes."""
    flat = np.asarray(getattr(ansys_mesh, "_elem", np.zeros(0)), dtype=np.int64)
    offsets = np.asarray(getattr(ansys_mesh, "_elem_off", np.zeros(1)), dtype=np.int64)
    if len(offsets) < 2 or not len(flat):
        return None
    counts = np.diff(offsets)
    owner = np.repeat(np.arange(len(counts)), counts)
    position = np.arange(len(flat)) - offsets[owner]
    nodes = (position >= 10) & (flat != 0)
    defined = np.sort(np.asarray(ansys_mesh.nnum, dtype=np.int64))
    if not len(defined):
        missing = np.flatnonzero(nodes)
    else:
        at = np.clip(np.searchsorted(defined, flat), 0, len(defined) - 1)
        missing = np.flatnonzero(nodes & (defined[at] != flat))
    if not len(missing):
        return None
    k = int(missing[0])
    return int(flat[offsets[owner[k]] + 8]), int(flat[k])


def _result_summary(result) -> dict:
    header = result._resultheader
    n_sets = len(result.time_values)
    available = result.available_results
    angles = result.mesh.node_angles if not getattr(result, "_is_thermal", False) else None
    return {
        "header": {"kan": int(header["kan"]), "cpxrst": int(header.get("cpxrst", 0)),
                   "verstring": str(header.get("verstring", "")), "title": str(header.get("title", "")).strip(),
                   "units": str(header.get("units", ""))},
        "cyclic": bool(getattr(result, "_is_cyclic", False)),
        "thermal": bool(result._is_thermal),
        "time_values": np.asarray(result.time_values, dtype=np.float64),
        "available": {k: bool(available[k]) for k in ("NSL", "ENS", "EEL", "EPT", "RF")},
        "dofs": [str(d) for d in result.result_dof(0)] if n_sets else [],
        "rotated_nodes": bool(angles is not None and np.any(angles)),
        "mesh": _grid_summary(result.mesh),
    }


#: Position of each element result in an element's index record (the library's table).
_ELEMENT_INDEX = {"ENS": 2, "EEL": 5, "EUL": 9, "EPT": 16}
#: The library reads an element's records into fixed buffers: 4096 ints of pointers, 2**17 bytes of data.
_INDEX_WORDS, _DATA_BYTES = 4096, 1 << 17


class _Records:
    """Frames of records of an Ansys binary file, read with numpy (vectorised over many records).

    A record is ``[n][flags] n words [n]``; the high byte of ``flags`` says how
    its words are stored: bit 3 bit-sparse, bit 4 window-sparse, bit 5 zlib, bit 6
    half precision (int16 / float32), bit 7 integers.
    """

    def __init__(self, path: Path):
        self.path = path
        n_words = os.path.getsize(path) // 4
        self.words = np.memmap(path, dtype="<i4", mode="r", shape=(n_words,)) if n_words else np.zeros(0, "<i4")
        self.n_words = n_words

    def frames(self, starts: np.ndarray, what: str, max_words: int) -> tuple[np.ndarray, np.ndarray]:
        """(n, flag byte) of records starting at ``starts``; InputError on the first damaged one."""
        starts = np.asarray(starts, dtype=np.int64)
        inside = (starts > 0) & (starts + 3 <= self.n_words)
        n = np.full(len(starts), -1, np.int64)
        n[inside] = self.words[starts[inside]]
        fits = inside & (n >= 1) & (n <= max_words) & (starts + 3 + n <= self.n_words)
        trailer = np.full(len(starts), -2, np.int64)
        trailer[fits] = self.words[starts[fits] + 2 + n[fits]]
        bad = np.flatnonzero(~fits | (trailer != n))
        if len(bad):
            k = int(bad[0])
            raise InputError(f"{self.path}: {what} at word {int(starts[k])} is damaged (it announces "
                             f"{int(n[k])} words, at most {max_words} expected, and must end with that length; "
                             "a zero-filled or overwritten record?)")
        flags = (self.words[starts + 1].astype(np.int64) >> 24) & 0xFF
        zlib = np.flatnonzero(flags & 0b100000)
        if len(zlib):
            raise InputError(f"{self.path}: {what} at word {int(starts[zlib[0]])} is zlib-compressed, which the Ansys "
                             "reader does not decode (write the file with /FCOMP,RST,0 or SPARSE)")
        return n, flags

    def decoded_sizes(self, starts: np.ndarray, n: np.ndarray, flags: np.ndarray, what: str) -> np.ndarray:
        """Values each record holds once decoded; window-sparse windows checked to stay inside it."""
        itemsize = np.where(flags & 0b10000000, np.where(flags & 0b1000000, 2, 4), np.where(flags & 0b1000000, 4, 8))
        size = n * 4 // itemsize
        sparse = (flags & 0b11000) != 0
        if sparse.any():
            header = self.words[starts[sparse] + 2].astype(np.int64)
            size[sparse] = header
            bad = np.flatnonzero((header < 0) | (header * itemsize[sparse] > _DATA_BYTES))
            if len(bad):
                k = int(np.flatnonzero(sparse)[bad[0]])
                raise InputError(f"{self.path}: {what} at word {int(starts[k])} decodes to {int(size[k])} values: "
                                 "the record is damaged")
            windowed = np.flatnonzero(flags & 0b10000)
            if len(windowed):
                self._check_windows(starts[windowed], n[windowed], size[windowed], itemsize[windowed], what)
        return size

    def _check_windows(self, starts, n, size, itemsize, what: str) -> None:
        """Every window of window-sparse records stays inside the decoded vector and the record."""
        shift = np.maximum(itemsize // 4, 0)           # the library advances sizeof(T)/sizeof(int) words
        end = starts + 2 + n                           # first word after the payload
        cursor = starts + 4                            # after [size][NWin]
        remaining = self.words[starts + 3].astype(np.int64)
        bad = np.zeros(len(starts), bool)
        while True:
            active = np.flatnonzero((remaining > 0) & ~bad)
            if not len(active):
                break
            at = cursor[active]
            bad[active[at >= end[active]]] = True
            active = active[at < end[active]]
            at = cursor[active]
            location = self.words[at].astype(np.int64)
            single = location > 0
            bad[active[single & (location >= size[active])]] = True
            cursor[active[single]] = at[single] + 1 + shift[active[single]]
            window = active[~single]
            if len(window):
                start = -location[~single]
                length_at = cursor[window] + 1
                ok = length_at < end[window]
                bad[window[~ok]] = True
                window, start, length_at = window[ok], start[ok], length_at[ok]
                length = self.words[length_at].astype(np.int64)
                count = np.where(length > 0, length, np.maximum(-length, 1))
                bad[window[start + count > size[window]]] = True
                cursor[window] = length_at + 1 + np.where(length > 0, shift[window] * length, shift[window])
            remaining[active] -= 1
        bad |= cursor > end
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise InputError(f"{self.path}: {what} at word {int(starts[k])} has a window outside its "
                             f"{int(size[k])} values: the record is damaged")

    def entries(self, starts: np.ndarray, n: np.ndarray, flags: np.ndarray, index: int) -> np.ndarray | None:
        """Entry ``index`` of integer records (index tables), or None when they are window-sparse."""
        if np.any(flags & 0b10000):
            return None
        short = (flags & 0b1000000) != 0
        out = np.zeros(len(starts), np.int64)
        bits = (flags & 0b1000) != 0
        plain = ~bits
        # plain records: the index-th int32, or the index-th int16
        word = np.where(short, index // 2, index)
        ok = plain & (word < n)
        raw = np.zeros(len(starts), np.int64)
        raw[ok] = self.words[starts[ok] + 2 + word[ok]]
        half = np.where(index % 2, (raw >> 16) & 0xFFFF, raw & 0xFFFF)
        half = np.where(half >= 0x8000, half - 0x10000, half)
        out[plain] = np.where(short, half, raw)[plain]
        if bits.any():   # [size][bitcod] then the values whose bit is set, packed
            b = np.flatnonzero(bits)
            code = self.words[starts[b] + 3].astype(np.int64) & 0xFFFFFFFF
            on = (code >> index) & 1
            below = code & ((1 << index) - 1)
            position = _popcount(below)
            short_b = short[b]
            word = np.where(short_b, position // 2, position)
            ok = (on == 1) & (word < n[b] - 2)
            raw = np.zeros(len(b), np.int64)
            raw[ok] = self.words[starts[b][ok] + 4 + word[ok]]
            half = np.where(position % 2, (raw >> 16) & 0xFFFF, raw & 0xFFFF)
            half = np.where(half >= 0x8000, half - 0x10000, half)
            out[b] = np.where(ok, np.where(short_b, half, raw), 0)
        return out


def _popcount(values: np.ndarray) -> np.ndarray:
    """Bits set in each (non-negative, < 2**32) value."""
    values = np.asarray(values, dtype=np.uint64)
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(values).astype(np.int64)
    return np.unpackbits(values.astype("<u4").view(np.uint8).reshape(-1, 4), axis=1).sum(axis=1).astype(np.int64)


def _check_step_records(result, record: str, step: int) -> None:
    """Before the library's compiled code reads a result set: every record it follows is checked."""
    path = Path(result.filename)
    records = _Records(path)
    set_start = int(result._resultheader["rpointers"][step])
    header = result._result_solution_header(step)
    if record in ("NSL", "RF"):
        key = "ptrNSL" if record == "NSL" else "ptrRF"
        if int(header[key]):
            records.frames(np.array([set_start + int(header[key])]), f"the {record} record of result set {step}",
                           records.n_words)
        return
    if not int(header["ptrESL"]):
        return          # the library says so itself
    base = set_start + int(header["ptrESL"])
    records.frames(np.array([base]), f"the element solution index of result set {step}", records.n_words)
    table = np.asarray(result.read_record(base)).view(np.int64)
    n_elements = len(result._mesh.enum)
    if len(table) < n_elements:
        raise InputError(f"{path}: the element solution index of result set {step} lists {len(table)} elements, "
                         f"the mesh has {n_elements}")
    offsets = table[:n_elements]
    offsets = offsets[offsets != 0]
    index_starts = base + offsets
    n, flags = records.frames(index_starts, f"an element index record of result set {step}", _INDEX_WORDS)
    records.decoded_sizes(index_starts, n, flags, f"an element index record of result set {step}")
    for name in (record, "EUL") if record == "ENS" else (record,):
        entry = records.entries(index_starts, n, flags, _ELEMENT_INDEX[name])
        if entry is None:
            continue
        data = index_starts[entry > 0] + entry[entry > 0]
        what = f"an element {name} record of result set {step}"
        dn, dflags = records.frames(data, what, _DATA_BYTES // 4)
        records.decoded_sizes(data, dn, dflags, what)


def _fetch(result, record: str, step: int):
    """The library's arrays of one result set (node numbers and values; RF: forces, nodes, dofs).

    The records the library will read are checked first (:func:`_check_step_records`).
    """
    if not 0 <= step < len(result.time_values):
        raise ValueError(f"no result set {step}")
    _check_step_records(result, record, step)
    if record == "NSL":
        return result.nodal_solution(step)
    if record == "ENS":
        return result.nodal_stress(step)
    if record == "EEL":
        return result.nodal_elastic_strain(step)
    if record == "EPT":
        return result.nodal_temperature(step)
    if record == "RF":
        forces, nodes, dofs = result.nodal_reaction_forces(step)
        return np.asarray(forces), np.asarray(nodes), np.asarray(dofs)
    raise ValueError(f"unknown record {record}")


#: What the child process can be asked to do, by name.
_OPERATIONS = {
    "result_summary": _result_summary,
    "archive_summary": _grid_summary,
    "fetch": _fetch,
}


# ---------------------------------------------------------------------- mesh
@dataclass(frozen=True, eq=False)
class NodeLayout:
    """How the rows of a nodal field relate to Ansys nodes.

    Attributes
    ----------
    numbers : (n_nodes,) int array
        Ansys node number of each mesh node; -1 for a created midside node.
    midside : (k, 3) int array
        ``(node, corner_a, corner_b)`` for every midside node of the mesh.
    """

    numbers: np.ndarray
    midside: np.ndarray


def _element_name(routine: int) -> str:
    if 151 <= routine <= 159 or routine in (19, 22, 251, 252):
        return f"SURF{routine}"
    if routine in (169, 170):
        return f"TARGE{routine}"
    if 171 <= routine <= 178:
        return f"CONTA{routine}"
    if routine == 200:
        return "MESH200"
    if routine in SHELL_ROUTINES:
        return f"SHELL{routine}"
    return f"ETYPE{routine}"


def _checked_array(value, path: Path, what: str, ndim: int, kinds: str, length: int | None = None) -> np.ndarray:
    """An array the library returned, checked for rank, kind and length before use."""
    array = np.asarray(value)
    if "i" in kinds and array.dtype.kind == "f" and array.size and np.isfinite(array).all() \
            and np.all(array == np.round(array)) and np.abs(array).max() < 2**53:
        array = array.astype(np.int64)   # integers the library handed over as floats
    if array.ndim != ndim or (array.size and array.dtype.kind not in kinds) or \
            (length is not None and len(array) != length):
        kind = {"iu": "integers", "f": "real numbers", "fiu": "numbers"}.get(kinds, kinds)
        size = f"{length} " if length is not None else ""
        raise InputError(f"{path}: {what} from the Ansys library are {array.shape} {array.dtype}, expected "
                         f"{size}{kind} in {ndim} dimension(s): the file is damaged")
    return array


def _convert_mesh(summary: dict | None, path: Path, ignore_unsupported: bool) -> tuple[Mesh, NodeLayout]:
    """The nirom Mesh of the library's VTK conversion (:func:`_grid_summary`), and how its nodes map to
    Ansys nodes. Every array is checked first."""
    if summary is None:
        raise InputError(f"{path}: no nodes or no elements")
    if summary.get("undefined") is not None:
        element, node = summary["undefined"]
        raise InputError(f"{path}: element {element} refers to node {node}, which no node record defines "
                         "(an undefined node)")
    points = _checked_array(summary["points"], path, "the node coordinates", 2, "f").astype(np.float64)
    if points.shape[1] != 3:
        raise InputError(f"{path}: node coordinates of shape {points.shape}, expected (n, 3)")
    n_points = len(points)
    bad = np.flatnonzero(~np.isfinite(points).all(axis=1))
    numbers = _checked_array(summary["numbers"], path, "the node numbers", 1, "iu", n_points).astype(np.int64)
    if len(bad):
        k = int(bad[0])
        kind = "NaN" if np.isnan(points[k]).any() else "an infinite value"
        raise InputError(f"{path}: Ansys node {numbers[k]} has {kind} among its coordinates {points[k].tolist()}")
    defined = np.sort(numbers[numbers > 0])
    twice = defined[1:][defined[1:] == defined[:-1]]
    if len(twice):
        raise InputError(f"{path}: Ansys node number {twice[0]} is defined twice")
    vtk_types = _checked_array(summary["celltypes"], path, "the cell types", 1, "iu").astype(np.int64)
    n_cells = len(vtk_types)
    offsets = _checked_array(summary["offsets"], path, "the cell offsets", 1, "iu", n_cells + 1).astype(np.int64)
    connectivity = _checked_array(summary["connectivity"], path, "the connectivity", 1, "iu").astype(np.int64)
    if n_cells == 0:
        raise InputError(f"{path}: no nodes or no elements")
    if offsets[0] != 0 or offsets[-1] != len(connectivity) or np.any(np.diff(offsets) <= 0):
        raise InputError(f"{path}: the cell offsets from the Ansys library are not increasing from 0 to "
                         f"{len(connectivity)}: the element table is damaged")
    if connectivity.size and (connectivity.min() < 0 or connectivity.max() >= n_points):
        bad_node = connectivity[(connectivity < 0) | (connectivity >= n_points)][0]
        cell = int(np.searchsorted(offsets, np.flatnonzero((connectivity < 0) | (connectivity >= n_points))[0],
                                   side="right") - 1)
        raise InputError(f"{path}: element {int(np.asarray(summary['elements'])[cell]) if len(summary['elements']) > cell else cell} "
                         f"refers to node index {bad_node}, but there are {n_points} nodes (an undefined node?)")
    elements = _checked_array(summary["elements"], path, "the element numbers", 1, "iu", n_cells).astype(np.int64)
    routines = _checked_array(summary["routines"], path, "the element routines", 1, "iu", n_cells).astype(np.int64)
    type_ids = _checked_array(summary["type_ids"], path, "the element types", 1, "iu", n_cells).astype(np.int64)
    element_components = {k: _checked_array(v, path, f"element component {k}", 1, "iu").astype(np.int64)
                          for k, v in summary["element_components"].items()}
    node_components = {k: _checked_array(v, path, f"node component {k}", 1, "iu").astype(np.int64)
                       for k, v in summary["node_components"].items()}

    type_table = np.full(max(VTK_TO_MESHIO) + 1, "", dtype=object)
    type_table[list(VTK_TO_MESHIO)] = list(VTK_TO_MESHIO.values())
    dim_table = np.full(len(type_table), -1)
    dim_table[list(VTK_TO_MESHIO)] = [CELL_DIMENSION[t] for t in VTK_TO_MESHIO.values()]
    known = vtk_types < len(type_table)  # VTK_EMPTY_CELL (0) and exotic types map to "" / -1
    meshio_types = np.where(known, type_table[np.where(known, vtk_types, 0)], "")
    dims = np.where(known, dim_table[np.where(known, vtk_types, 0)], -1)
    top = int(dims.max())
    if top < 2:
        raise InputError(f"{path}: no solid or plane elements (found only {_describe(routines, dims >= 0)})")
    volume = dims == top
    shells = volume & np.isin(routines, list(SHELL_ROUTINES))
    if shells.any() and not ignore_unsupported:
        raise InputError(f"{path}: shell elements are not supported ({_describe(routines, shells)})")
    volume &= ~shells
    surface = (dims == top - 1) & np.isin(routines, list(SURFACE_ROUTINES))
    meshing_only = (routines == 200) & ~volume & ~surface
    unsupported = ~volume & ~surface & ~meshing_only
    if unsupported.any():
        message = f"{path}: elements nirom cannot represent: {_describe(routines, unsupported)}"
        if not ignore_unsupported:
            raise InputError(message + " (ignore_unsupported=True skips them)")
        log.warning("%s; skipped", message)
    if not volume.any():
        raise InputError(f"{path}: no solid elements left")

    widths = np.diff(offsets)
    expected = np.array([NODES_PER_CELL.get(t, -1) if t else -1 for t in meshio_types])
    wrong = np.flatnonzero((expected > 0) & (widths != expected))
    if len(wrong):
        k = int(wrong[0])
        raise InputError(f"{path}: element {elements[k]} ({meshio_types[k]}) has {widths[k]} nodes, expected "
                         f"{expected[k]}: the element table is damaged")

    def conn_of(mask: np.ndarray, cell_type: str) -> np.ndarray:
        rows = np.flatnonzero(mask & (meshio_types == cell_type))
        width = offsets[rows[0] + 1] - offsets[rows[0]]
        return connectivity[offsets[rows][:, None] + np.arange(width)]

    volume_types = list(dict.fromkeys(meshio_types[volume]))
    cell_rows = np.concatenate([np.flatnonzero(volume & (meshio_types == t)) for t in volume_types])
    blocks = {t: conn_of(volume, t) for t in volume_types}

    face_groups = {}  # name -> {meshio type: grid-level conn}
    for routine, type_id in sorted(set(zip(routines[surface].tolist(), type_ids[surface].tolist()))):
        mask = surface & (routines == routine) & (type_ids == type_id)
        face_groups[f"{_element_name(routine)}_{type_id}"] = {
            t: conn_of(mask, t) for t in dict.fromkeys(meshio_types[mask])}
    components = element_components
    for name, members in components.items():
        mask = surface & np.isin(elements, members)
        if mask.any():
            face_groups[name] = {t: conn_of(mask, t) for t in dict.fromkeys(meshio_types[mask])}

    used = np.unique(np.concatenate([c.ravel() for c in blocks.values()]
                                    + [c.ravel() for g in face_groups.values() for c in g.values()]))
    if len(used) < len(points):
        log.info("%s: %d node(s) used by no kept element are left out", path, len(points) - len(used))
    new_index = np.full(len(points), -1, dtype=np.int64)
    new_index[used] = np.arange(len(used))
    numbers = numbers[used]

    cell_order = np.full(len(elements), -1, dtype=np.int64)
    cell_order[cell_rows] = np.arange(len(cell_rows))
    cell_sets = {}
    for name, members in components.items():
        ids = cell_order[volume & np.isin(elements, members)]
        if len(ids):
            cell_sets[name] = np.sort(ids)
    node_sets = {}
    for name, members in node_components.items():
        found, rows = rows_by_number(numbers, members)
        node_sets[name] = np.sort(rows[found])

    cells = {t: new_index[c] for t, c in blocks.items()}
    faces = {name: {t: new_index[c] for t, c in group.items()} for name, group in face_groups.items()}
    blocks_and_faces = [*cells.items(), *(item for group in faces.values() for item in group.items())]
    midside = midside_nodes(blocks_and_faces)
    if (numbers < 0).any():
        log.info("%s: %d missing midside node(s) created at edge midpoints", path, int((numbers < 0).sum()))

    dim = top if top == 3 or np.ptp(points[used, 2]) == 0 else 3
    try:
        mesh = Mesh(points=points[used], cells=cells, node_sets=node_sets, cell_sets=cell_sets,
                    face_sets=faces, point_ids=numbers, cell_ids=elements[cell_rows], dim=dim)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None
    return mesh, NodeLayout(numbers=numbers, midside=midside)


def midside_nodes(blocks) -> np.ndarray:
    """Every midside node with the two corners of its edge.

    Parameters
    ----------
    blocks : iterable of (meshio type, (n, k) int array)

    Returns
    -------
    (m, 3) int array
        ``(midside node, corner a, corner b)``, one row per distinct midside node.
    """
    parts = []
    for cell_type, conn in blocks:
        if cell_type not in MIDSIDE_EDGES:
            continue
        edges = np.array(MIDSIDE_EDGES[cell_type])
        first = conn.shape[1] - len(edges)
        parts.append(np.stack([conn[:, first:].ravel(), conn[:, edges[:, 0]].ravel(),
                               conn[:, edges[:, 1]].ravel()], axis=1))
    if not parts:
        return np.zeros((0, 3), dtype=np.int64)
    triplets = np.concatenate(parts)
    return triplets[np.unique(triplets[:, 0], return_index=True)[1]]


def rows_by_number(numbers: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each wanted Ansys number is in ``numbers``.

    Parameters
    ----------
    numbers : (n,) int array
        Numbers in any order (distinct).
    wanted : (m,) int array

    Returns
    -------
    found : (m,) bool array
    rows : (m,) int array
        ``numbers[rows[found]] == wanted[found]``; meaningless where not found.
    """
    if len(numbers) == 0:
        return np.zeros(len(wanted), dtype=bool), np.zeros(len(wanted), dtype=np.int64)
    order = np.argsort(numbers, kind="stable")
    at = np.clip(np.searchsorted(numbers[order], wanted), 0, len(numbers) - 1)
    rows = order[at]
    return numbers[rows] == wanted, rows


def _describe(routines: np.ndarray, mask: np.ndarray) -> str:
    found, counts = np.unique(routines[mask], return_counts=True)
    return ", ".join(f"{n} {_element_name(int(r))}" for r, n in zip(found, counts))


# -------------------------------------------------------------------- values
#: Most result files whose reader process stays open at once (the least recently used is closed, and
#: reopened when its fields are read again): a forked process keeps the parent's memory of the moment it
#: was forked, so few are kept.
MAX_OPEN_READERS = 4
_OPEN: list = []   # weak references to the _ResultFile objects with an open reader, least recent first


@dataclass(eq=False)
class _ResultFile:
    """The library open on a ``.rst`` and shared by the fields of one file (reopened when needed)."""

    path: Path
    library: _Library | None = field(default=None, repr=False)

    def call(self, operation: str, *args, what: str, failure: str | None = None):
        if self.library is None or (self.library.local is None and self.library.pid is None):
            self.library = _Library(self.path, "result")
        _OPEN[:] = [ref for ref in _OPEN if ref() is not None and ref() is not self] + [weakref.ref(self)]
        while len(_OPEN) > MAX_OPEN_READERS:
            oldest = _OPEN.pop(0)()
            if oldest is not None and oldest.library is not None:
                oldest.library.close()
                oldest.library = None
        return self.library.call(operation, *args, what=what, failure=failure)


@dataclass(frozen=True, eq=False)
class AnsysNodalResult:
    """A nodal result of an Ansys file, read one result set at a time.

    Attributes
    ----------
    file : _ResultFile
    record : {"NSL", "ENS", "EEL", "EPT", "RF"}
        Which library result: DOF solution, stresses, elastic strains, body
        temperatures, reaction forces.
    columns : tuple[int, ...]
        Columns of the library's array kept, in the field's component order.
    layout : NodeLayout
    shape : (n_times, n_nodes, n_components)
    dtype : numpy dtype
    origin : str
    """

    file: _ResultFile
    record: str
    columns: tuple[int, ...]
    layout: NodeLayout
    shape: tuple[int, int, int]
    dtype: np.dtype
    origin: str

    def read(self, steps: Index, rows: Index) -> np.ndarray:
        """Values at some result sets and mesh nodes, shape (n_steps, n_rows, n_components)."""
        step_ids = np.arange(self.shape[0])[steps]
        node_rows = np.arange(self.shape[1])[rows]
        out = np.empty((len(step_ids), len(node_rows), self.shape[2]))
        for i, step in enumerate(step_ids):
            out[i] = self._step(int(step))[node_rows]
        return out

    def _step(self, step: int) -> np.ndarray:
        """All mesh nodes at one result set, (n_nodes, n_components), midside nodes filled."""
        payload = self.file.call("fetch", self.record, step, what=f"reading result set {step} ({self.record})",
                                 failure=f"{self.origin.split(': ', 1)[-1]}: cannot read result set {step}")
        numbers, values = self._arrays(payload, step)
        width = max(self.columns) + 1
        if values.ndim != 2 or values.shape[1] < width:
            raise InputError(f"{self.origin}: result set {step} has {values.shape[1] if values.ndim == 2 else 0} "
                             f"values per node, expected at least {width}: the file is damaged")
        values = values[:, list(self.columns)]
        ordered = np.sort(numbers)
        twice = ordered[1:][ordered[1:] == ordered[:-1]]
        if len(twice):
            raise InputError(f"{self.origin}: result set {step} lists Ansys node {twice[0]} twice: the file is damaged")
        # rows of the library's arrays, by Ansys node number (created midside nodes have -1)
        found, at = rows_by_number(numbers, self.layout.numbers)
        found &= self.layout.numbers >= 0
        full = np.full((len(self.layout.numbers), len(self.columns)), np.nan)
        full[found] = values[at[found]]
        # The library puts NaN on every component of a node no element result reaches (the midside nodes of
        # averaged element results, nodes of surface elements only). Any other non-finite value is the file's.
        gap = np.isnan(full).all(axis=1) & found
        if self.record not in ("ENS", "EEL", "EPT"):
            gap[:] = False
        from_file = ~np.isfinite(full) & found[:, None] & ~gap[:, None]
        if from_file.any():
            row, column = (int(i[0]) for i in np.nonzero(from_file))
            raise InputError(
                f"{self.origin}: result set {step} holds the non-finite value {full[row, column]} at Ansys node "
                f"{int(self.layout.numbers[row])} (component {column}): the file is damaged, or the solution diverged"
            )
        node, a, b = self.layout.midside.T
        fill = np.isnan(full[node]).any(axis=1)
        full[node[fill]] = 0.5 * (full[a[fill]] + full[b[fill]])
        missing = np.isnan(full).any(axis=1)
        if missing.any():
            first = int(np.flatnonzero(missing)[0])
            raise InputError(
                f"{self.origin}: no value (NaN) at {int(missing.sum())} node(s) at result set {step} "
                f"(first: Ansys node {int(self.layout.numbers[first])}): either the file holds NaN there, or the "
                "node is attached only to elements without this result"
            )
        return full

    def _arrays(self, payload, step: int) -> tuple[np.ndarray, np.ndarray]:
        """Node numbers (n,) and values (n, k) of the library's answer, checked."""
        path = self.file.path
        where = f"result set {step} ({self.record})"
        if self.record == "RF":
            if not isinstance(payload, tuple) or len(payload) != 3:
                raise InputError(f"{self.origin}: {where}: unexpected answer from the Ansys library")
            forces = _checked_array(payload[0], path, f"the reaction forces of {where}", 1, "fiu").astype(np.float64)
            nodes = _checked_array(payload[1], path, f"the reaction nodes of {where}", 1, "iu", len(forces))
            dofs = _checked_array(payload[2], path, f"the reaction dofs of {where}", 1, "iu", len(forces))
            nodes, dofs = nodes.astype(np.int64), dofs.astype(np.int64)
            numbers = np.unique(nodes)
            values = np.zeros((len(numbers), 3))
            keep = (dofs >= 1) & (dofs <= 3)
            np.add.at(values, (np.searchsorted(numbers, nodes[keep]), dofs[keep] - 1), forces[keep])
            others = np.setdiff1d(self.layout.numbers[self.layout.numbers >= 0], numbers)
            return (np.concatenate([numbers, others]), np.concatenate([values, np.zeros((len(others), 3))]))
        if not isinstance(payload, tuple) or len(payload) != 2:
            raise InputError(f"{self.origin}: {where}: unexpected answer from the Ansys library")
        numbers = _checked_array(payload[0], path, f"the node numbers of {where}", 1, "iu").astype(np.int64)
        values = np.asarray(payload[1])
        if values.dtype.kind not in "fiu" or values.shape[:1] != (len(numbers),):
            raise InputError(f"{path}: the values of {where} have shape {values.shape} ({values.dtype}) for "
                             f"{len(numbers)} nodes: the file is damaged")
        return numbers, values.astype(np.float64).reshape(len(numbers), -1)
