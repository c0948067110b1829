"""The reduced-order model artifact: what the offline stage builds and the online stage uses.

A :class:`ReducedOrderModel` holds global data (the mesh, the displacement
basis's singular values, the reduced loads, the laws, the tolerances, the
provenance) and one :class:`SubdomainModel` per subdomain of the offline
partition (this subdomain's rows of the bases, its reduced integration points
with their weights, reduced strain operator, law and temperature interpolation,
and the Gappy-POD data of the dual quantities).

``save(path)`` writes one HDF5 file (format ``nirom-rom``, version 1): global
datasets and attributes at the root, one group ``/subdomains/<r>`` per subdomain;
never pickle. The file is built in memory and written under a temporary name, then
renamed: a full disk is one ``OSError`` naming the file, never a half-written file
under the final name nor a crash. ``load(path, comm)`` gives each rank the
subdomains ``r ≡ rank (mod size)``, so a model built on P subdomains runs on any
number of ranks ≤ P.

Integrity (issue 12): every dataset and group carries a SHA-256 checksum of its
values, attributes and member names (the model group: ``checksum = "sha256"``),
verified when it is read; and every array is checked before use — dtype, shape,
finiteness, indices in range (cells, nodes, integration points, dofs, CSR
``indices``/``indptr``), ``n_subdomains`` equal to the groups present and their
cells covering the mesh once, ECM weights positive, each point's law that of its
cell, interpolation rows on the nodes of their point's cell summing to 1. A file
written before the checksums gets the structural checks only. Either way a damaged
file is one :class:`InputError` naming the file and the dataset, never a crash
(scipy trusts CSR indices) nor a silently wrong answer.

Lazy dual modes. The dual fields' full modes (``duals/<i>/modes``: every integration
point of the subdomain, ~90 % of the file) are only needed to rebuild whole dual
fields, enrich or save the model; an online solve uses their rows at the reduced
points, stored beside them as ``duals/<i>/modes_at_points``. In a file on disk with
checksums, loading reads and verifies ``modes_at_points`` and checks ``modes``
without reading it (dtype, dimensions, shape against the subdomain, bytes stored,
checksum present); ``DualField.modes`` reads it on first use and verifies its
checksum — against the one seen at load, so a file altered or replaced since is
refused — its shape and finiteness (:class:`StoredModes`). Files without
``modes_at_points`` (written before) or without checksums read the full modes at load.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from io_adapters.atomic import atomic_path
from io_adapters.errors import ConfigError, InputError, NiromError
from io_adapters.mesh import Mesh
from io_adapters.quadrature_rules import point_rows_of_cells, points_per_cell
from io_adapters.store.hdf5 import _read_mesh, _write_mesh, has_format

from rom.ecm import ReducedQuadrature
from rom.pod import ReducedBasis

FORMAT_NAME = "nirom-rom"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class StoredModes:
    """Where the full modes of a dual field lie in a model file with checksums, and what they must be.

    The reader of a model file checks everything about the dataset but its values at
    load (dtype, shape, the bytes stored for that shape, the presence of a checksum)
    and keeps the checksum it saw; :meth:`read` reads the values when they are first
    needed and checks them against it, so a file altered, replaced or removed since is
    refused, never used.

    Attributes
    ----------
    file : str
        Absolute path of the HDF5 file.
    dataset : str
        Full HDF5 path of the dataset in it (``/subdomains/<r>/duals/<i>/modes``, under
        ``/models/<k>`` in a ROM dictionary).
    digest : str
        The dataset's SHA-256 checksum attribute when the model was loaded.
    shape : tuple[int, int, int]
        ``(n_dual_modes, n_local_points, n_components)``.
    where : str
        The file as messages name it (the path given to ``load``, ``"<path> model <k>"``).
    what : str
        The dataset as messages name it (``"subdomain 3 dual 0 (sig) modes"``).
    """

    file: str
    dataset: str
    digest: str
    shape: tuple
    where: str
    what: str

    def fail(self, message: str) -> InputError:
        return InputError(f"{self.where}: {self.what} ({self.dataset}): {message}")

    def read(self) -> np.ndarray:
        """The modes, checked as at load: checksum (the one seen at load), dtype, shape, finiteness.

        Raises
        ------
        InputError
            Naming the file and the dataset: the file cannot be opened any more, the
            dataset is missing, its values or its checksum differ from the ones at load.
        """
        import h5py

        try:
            f = h5py.File(self.file, "r")
        except OSError as exc:
            raise self.fail(f"cannot reopen {self.file} to read the full modes ({exc}): the file was moved, "
                            "removed or damaged since the model was loaded") from None
        parent_path, name = self.dataset.rsplit("/", 1)
        with f, _unreadable_as_input_error(self.where):
            parent = f.get(parent_path or "/")
            if not isinstance(parent, h5py.Group) or not isinstance(parent.get(name), h5py.Dataset):
                raise self.fail("missing: the file changed since the model was loaded")
            modes = _Reader(None, self.where, sealed=True).array(parent, name, self.what, kind="f", shape=self.shape)
            if parent[name].attrs.get(DIGEST) != self.digest:
                raise self.fail("its checksum is not the one read when the model was loaded: the file was replaced "
                                "or altered since")
        return modes


class DualField:
    """POD data of one dual quantity on one subdomain (the Gappy-POD basis's rows). Immutable.

    Built from an array (the offline stage, an enrichment), or by the reader of a model
    file from the rows at the subdomain's reduced points and a :class:`StoredModes`:
    the full modes are then read (and their checksum verified) on the first use of
    :attr:`modes`, while :meth:`at` answers at the reduced points without them — all an
    online solve needs.

    Parameters
    ----------
    name : str
    components : tuple[str, ...]
    modes : (n_dual_modes, n_local_points, n_components) array, or None
        This subdomain's rows of the dual POD basis; None when ``stored`` says where they are.
    singular_values : (n,) array
        Global singular values of the dual POD.
    points : (k,) int array, optional
        The subdomain's reduced points, with ``at_points``:
    at_points : (n_dual_modes, k, n_components) array, optional
        the modes' rows at those points (``modes[:, points]``).
    stored : StoredModes, optional
        Where the full modes are read from when ``modes`` is None (needs ``points``).
    """

    __slots__ = ("name", "components", "singular_values", "points", "at_points", "_modes", "_stored")

    def __init__(self, name: str, components, modes: np.ndarray | None, singular_values: np.ndarray, *,
                 points: np.ndarray | None = None, at_points: np.ndarray | None = None,
                 stored: StoredModes | None = None):
        if (modes is None) == (stored is None):
            raise ValueError(f"dual field {name!r}: give its modes or where they are stored, one of the two")
        if (points is None) != (at_points is None):
            raise ValueError(f"dual field {name!r}: the reduced points and the rows there go together")
        if stored is not None and points is None:
            raise ValueError(f"dual field {name!r}: stored modes need their rows at the reduced points")
        if points is not None and (np.ndim(at_points) != 3 or np.shape(at_points)[1] != len(points)):
            raise ValueError(f"dual field {name!r}: rows at the reduced points {np.shape(at_points)} are not "
                             f"(n, {len(points)}, n_components)")
        if modes is not None and points is not None and not np.array_equal(modes[:, points], at_points):
            raise ValueError(f"dual field {name!r}: the rows at the reduced points differ from the modes there")
        for key, value in (("name", name), ("components", components), ("singular_values", singular_values),
                           ("points", points), ("at_points", at_points), ("_modes", modes), ("_stored", stored)):
            object.__setattr__(self, key, value)

    def __setattr__(self, key, value):
        raise AttributeError(f"DualField is immutable: cannot set {key!r}")

    def __reduce__(self):
        """Pickled (MPI gathers) with the full modes when they were read, else with where they lie."""
        stored = None if self._modes is not None else self._stored
        return (_restore_dual_field, (self.name, self.components, self._modes, self.singular_values, self.points,
                                      self.at_points, stored))

    def __repr__(self) -> str:
        where = "in memory" if self._modes is not None else f"in {self._stored.file}, not read"
        return f"DualField({self.name!r}, {len(self.components)} components, shape {self.shape}, modes {where})"

    @property
    def modes(self) -> np.ndarray:
        """``(n_dual_modes, n_local_points, n_components)``; read from the file and checked on first use
        when the field was loaded lazily (an :class:`InputError` naming the file on any mismatch)."""
        if self._modes is None:
            modes = self._stored.read()
            if not np.array_equal(modes[:, self.points], self.at_points):
                raise self._stored.fail("its rows at the reduced points differ from modes_at_points")
            object.__setattr__(self, "_modes", modes)
        return self._modes

    @property
    def loaded(self) -> bool:
        """True when the full modes are in memory (given, or read on a first use of :attr:`modes`)."""
        return self._modes is not None

    @property
    def shape(self) -> tuple:
        """``(n_dual_modes, n_local_points, n_components)``, without reading the modes."""
        return tuple(self._modes.shape) if self._modes is not None else tuple(self._stored.shape)

    @property
    def n_modes(self) -> int:
        return self.shape[0]

    def at(self, points: np.ndarray) -> np.ndarray:
        """The modes at some local points, shape (n_dual_modes, len(points), n_components).

        At the reduced points given at construction the rows kept then (the full modes are not read).
        """
        if self.at_points is not None and np.array_equal(points, self.points):
            return self.at_points
        return self.modes[:, points]

    def write(self, group, *, points: np.ndarray | None = None) -> None:
        """Into an HDF5 group: ``modes``, ``singular_values`` and, given the subdomain's reduced
        points, ``modes_at_points`` (the rows there: all an online solve reads); name and
        components as attributes."""
        group.attrs["name"] = self.name
        group.attrs["components"] = json.dumps(list(self.components))
        group["modes"] = self.modes
        if points is not None:
            group["modes_at_points"] = self.at(points)
        group["singular_values"] = self.singular_values

    @classmethod
    def read(cls, group) -> "DualField":
        """From an HDF5 group, unchecked and whole (the model's reader checks each array and reads lazily)."""
        return cls(str(group.attrs["name"]), tuple(json.loads(group.attrs["components"])), group["modes"][()],
                   group["singular_values"][()])


def _restore_dual_field(name, components, modes, singular_values, points, at_points, stored) -> DualField:
    return DualField(name, components, modes, singular_values, points=points, at_points=at_points, stored=stored)


@dataclass(frozen=True, eq=False)
class SubdomainModel:
    """One subdomain's share of the reduced model, made of typed parts.

    Attributes
    ----------
    index : int
    cells : (n_local_cells,) global cell indices
    nodes : (n_local_nodes,) global node indices
    point_rows : (n_local_points,) global integration-point rows
    basis : ReducedBasis
        This subdomain's rows of the displacement modes, ``(n_modes, 3 n_local_nodes)``,
        M-orthonormal summed over the subdomains; the global singular values.
    quadrature : ReducedQuadrature
        The ECM rule: local integration points with positive weights.
    points : (k,) local integration points of the reduced set (the ECM points ∪ the
        Gappy-POD points of the duals), increasing
    strain_operator : (k, 6, n_modes) strain of each mode at each reduced point
    material : (k,) index of the law (into ``ReducedOrderModel.materials``)
    temperature_interpolation : sparse (k, n_local_nodes)
    duals : dict[str, DualField]
        The Gappy-POD bases (a :class:`rom.gappy.GappyReconstructor` is fitted on them
        online, over every subdomain at once).
    lifting_dofs : (m,) int array, optional
        Constrained global dofs (``3·node + component``) whose imposed value strains a
        reduced point (see :mod:`rom.lifting`).
    lifting_strain : sparse CSR (6 k, m), optional
        Strain at each reduced point (rows ``6 l … 6 l + 5``) of a unit value of each
        of those dofs.
    """

    index: int
    cells: np.ndarray
    nodes: np.ndarray
    point_rows: np.ndarray
    basis: ReducedBasis
    quadrature: ReducedQuadrature
    points: np.ndarray
    strain_operator: np.ndarray
    material: np.ndarray
    temperature_interpolation: sp.csr_matrix
    duals: dict = field(default_factory=dict)
    lifting_dofs: np.ndarray | None = None
    lifting_strain: np.ndarray | None = None

    def __post_init__(self):
        points = np.asarray(self.points, dtype=np.int64)
        n = len(points)
        problems = []
        if points.ndim != 1 or np.any(np.diff(points) <= 0):
            problems.append("reduced points must be increasing and distinct")
        if not np.isin(self.quadrature.points, points).all():
            problems.append("ECM points missing from the reduced point set")
        if self.strain_operator.shape != (n, 6, self.basis.n_modes):
            problems.append(f"strain operator {self.strain_operator.shape} is not ({n}, 6, {self.basis.n_modes})")
        if np.shape(self.material) != (n,) or np.shape(self.temperature_interpolation)[0] != n:
            problems.append(f"material {np.shape(self.material)} and temperature interpolation "
                            f"{np.shape(self.temperature_interpolation)} must have {n} rows")
        if self.basis.n_local_dofs != 3 * len(self.nodes):
            problems.append(f"displacement modes have {self.basis.n_local_dofs} rows for {len(self.nodes)} nodes")
        if problems:
            raise InputError(f"subdomain {self.index}: " + "; ".join(problems))
        object.__setattr__(self, "points", points)

    # ---------------------------------------------------------- derived views
    @property
    def displacement_modes(self) -> np.ndarray:
        """``(n_modes, 3 n_local_nodes)``: this subdomain's rows of the displacement modes."""
        return self.basis.modes

    @property
    def weights(self) -> np.ndarray:
        """``(k,)`` reduced weights at :attr:`points` (0 at the points that only serve Gappy-POD)."""
        weights = np.zeros(len(self.points))
        weights[np.searchsorted(self.points, self.quadrature.points)] = self.quadrature.weights
        return weights

    @property
    def ecm_residual(self) -> float:
        return self.quadrature.residual

    @property
    def n_reduced_points(self) -> int:
        return len(self.points)

    @property
    def has_lifting(self) -> bool:
        """True when imposed displacements strain some reduced point."""
        return self.lifting_dofs is not None and len(self.lifting_dofs) > 0

    # ------------------------------------------------------------------ files
    def write(self, group) -> None:
        """Into an HDF5 group (the layout of format version 1, see the module docstring)."""
        group.attrs["ecm_residual"] = self.ecm_residual
        for name in ("cells", "nodes", "point_rows", "points", "strain_operator", "material"):
            group.create_dataset(name, data=getattr(self, name))
        group.create_dataset("displacement_modes", data=self.displacement_modes)
        group.create_dataset("weights", data=self.weights)
        if self.has_lifting:
            group.create_dataset("lifting_dofs", data=self.lifting_dofs)
            _write_sparse(group, "lifting_strain", self.lifting_strain)
        _write_sparse(group, "temperature_interpolation", self.temperature_interpolation)
        duals = group.create_group("duals")
        for i, dual in enumerate(self.duals.values()):
            dual.write(duals.create_group(str(i)), points=self.points)

    @classmethod
    def read(cls, group, index: int, singular_values: np.ndarray, where: str, *,
             context: "_ModelContext | None" = None) -> "SubdomainModel":
        """From an HDF5 group written by :meth:`write` (or by nirom before the typed parts).

        Every array is checked before use (:class:`_ModelContext`): checksum when the
        file has them, dtype, shape, finiteness, index ranges against the mesh and
        this subdomain's sizes, monotone sparse pointers, positive ECM weights. Any
        problem is an :class:`InputError` naming ``where``, the subdomain and the dataset.
        """
        if context is None:
            raise InputError(f"{where}: subdomain {index}: read it through read_model_group (the checks need "
                             "the model's mesh and settings)")
        return context.subdomain(group, index, singular_values)


@dataclass(frozen=True, eq=False)
class ReducedOrderModel:
    """A hyper-reduced model of a structural problem.

    Attributes
    ----------
    mesh : Mesh
        The high-fidelity mesh (for reconstruction and checks).
    rule : str
        Integration rule of the integration-point quantities.
    materials : dict[str, dict]
        Material specs by name (cell set), in the order ``SubdomainModel.material``
        refers to.
    n_modes : int
    singular_values : (n,) of the displacement POD
    pressure_loads : dict[str, (n_modes,)]
        Reduced nodal force of a unit pressure on each face set.
    centrifugal_moments : (m0 (n_modes, 3), m1 (n_modes, 3, 3))
        ``m0[k, a] = Σ_i ψ_k,i[a] ∫ρN_i``, ``m1[k, a, b] = Σ_i ψ_k,i[a] ∫ρN_i x_b``: the
        reduced centrifugal load for any axis (see :meth:`centrifugal_load`).
    constrained : dict[str, list[int]]
        Node sets and components imposed in the training runs (the modes vanish
        there; online, the problem gives their values).
    settings : dict
        Tolerances and options used (``pod``, ``ecm``, ``indicator``…).
    provenance : dict
    subdomains : list[SubdomainModel]
        The subdomains this process holds (all when loaded without a communicator).
    n_subdomains : int
    """

    mesh: Mesh
    rule: str
    materials: dict
    n_modes: int
    singular_values: np.ndarray
    pressure_loads: dict
    centrifugal_moments: tuple
    constrained: dict
    settings: dict
    provenance: dict
    subdomains: list
    n_subdomains: int

    # ------------------------------------------------------------- queries
    def centrifugal_load(self, center, axis) -> np.ndarray:
        """Reduced centrifugal load for ω = 1 about an axis, shape (n_modes,).

        ``f_i = ∫ ρ N_i P (x − c) dV`` with ``P = I − e eᵀ``, projected on the modes.
        """
        e = np.asarray(axis, dtype=np.float64)
        e = e / np.linalg.norm(e)
        P = np.eye(3) - np.outer(e, e)
        m0, m1 = self.centrifugal_moments
        return np.einsum("ab,kab->k", P, m1) - np.einsum("ab,b,ka->k", P, np.asarray(center, float), m0)

    def summary(self) -> str:
        """A few lines describing the model."""
        k = [s.n_reduced_points for s in self.subdomains]
        duals = sorted({n for s in self.subdomains for n in s.duals})
        lines = [
            f"reduced-order model: {self.n_modes} displacement modes, {self.n_subdomains} subdomains",
            f"mesh: {self.mesh.n_nodes} nodes, {self.mesh.n_cells} cells, rule {self.rule}",
            f"reduced integration points (held here): {sum(k)} ({', '.join(map(str, k))} per subdomain)",
            f"dual quantities (Gappy-POD): {', '.join(duals) or 'none'}",
            f"pressure loads on face sets: {', '.join(self.pressure_loads) or 'none'}",
            "imposed displacements (node set: components): "
            + (", ".join(f"{n}: {c}" for n, c in self.constrained.items()) or "none")
            + f"; {sum(len(s.lifting_dofs) for s in self.subdomains if s.has_lifting)} of their dofs strain "
            "reduced points (held here)",
            f"materials: {', '.join(f'{n} ({s.get('behavior')})' for n, s in self.materials.items())}",
            f"settings: {json.dumps(self.settings)}",
        ]
        if len(self.singular_values):
            sv = self.singular_values
            lines.append(f"displacement singular values: {sv[0]:.3e} ... {sv[min(self.n_modes, len(sv)) - 1]:.3e} "
                         f"(kept) / {len(sv)}")
        if self.provenance.get("training"):
            lines.append(f"training: {', '.join(map(str, self.provenance['training']))}")
        return "\n".join(lines)

    # --------------------------------------------------------------- files
    def save(self, path: str | os.PathLike, comm=None) -> Path:
        """Write the model (atomically). Under MPI every rank calls it; rank 0 writes.

        Parameters
        ----------
        path : path
        comm : communicator, optional
            When given, the subdomains are gathered from every rank.
        """
        subdomains = list(self.subdomains)
        if comm is not None and comm.size > 1:
            gathered = comm.gather(subdomains, root=0)
            if comm.rank != 0:
                comm.Barrier()
                return Path(path)
            subdomains = sorted((s for part in gathered for s in part), key=lambda s: s.index)
        path = Path(path)
        try:
            _write(self, subdomains, path)
        finally:
            if comm is not None and comm.size > 1:
                comm.Barrier()
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, comm=None) -> "ReducedOrderModel":
        """Read a model; each rank keeps the subdomains ``r ≡ rank (mod size)``."""
        rank, size = (0, 1) if comm is None else (comm.rank, comm.size)
        return _read(Path(path), rank, size)

    def solve(self, problem, comm=None, **options):
        """Online solve of a problem with this model (see :func:`rom.online.solve`)."""
        from rom.online import solve       # rom.online imports this module

        return solve(self, problem, comm=comm, **options)


# ============================================================== HDF5 layout
def _write(model: ReducedOrderModel, subdomains: list[SubdomainModel], path: Path) -> None:
    """The model file, built in memory then written under a temporary name and renamed.

    HDF5 never writes to the disk itself: a full disk or a failing device is one
    ``OSError`` of an ordinary file write (its message names the file; the temporary
    file is removed), never a half-closed HDF5 file that crashes the interpreter at exit.
    """
    import h5py

    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f.attrs["format"] = FORMAT_NAME
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["complete"] = 0
        write_model_group(f, model, subdomains)
        f.attrs["complete"] = 1
    with buffer.getbuffer() as image:
        write_file_atomically(path, image, what="model")


def write_file_atomically(path: str | os.PathLike, data, *, what: str) -> None:
    """Bytes to ``path`` through a temporary file (flushed to the device, then renamed).

    Raises
    ------
    OSError
        One message naming ``path``, what was written and why (``No space left on
        device``…); the temporary file is removed and an older ``path`` is untouched.
    """
    try:
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
    except OSError as exc:
        error = OSError(f"{path}: cannot write the {what}: {exc.strerror or exc}"
                        + (f" (errno {exc.errno})" if exc.errno else "") + "; no file was written under that name")
        error.errno = exc.errno
        raise error from None


def write_model_group(group, model: ReducedOrderModel, subdomains: list[SubdomainModel], *,
                      mesh: bool = True) -> None:
    """A model's content into an HDF5 group (the file's root, or one model of a dictionary).

    ``mesh=False`` leaves the mesh out (a container of several models on one mesh keeps
    it once); :func:`read_model_group` then takes it as an argument. Every dataset and
    group written gets a SHA-256 checksum attribute (see :func:`_seal`), verified by
    :func:`read_model_group`.
    """
    group.attrs["rule"] = model.rule
    group.attrs["n_modes"] = model.n_modes
    group.attrs["n_subdomains"] = model.n_subdomains
    group.attrs["materials"] = json.dumps(model.materials)
    group.attrs["constrained"] = json.dumps(model.constrained)
    group.attrs["settings"] = json.dumps(model.settings)
    group.attrs["provenance"] = json.dumps(model.provenance)
    if mesh:
        _write_mesh(group.create_group("mesh"), model.mesh)
    group["singular_values"] = model.singular_values
    loads = group.create_group("pressure_loads")
    for i, (name, vector) in enumerate(model.pressure_loads.items()):
        loads.create_dataset(str(i), data=vector).attrs["face_set"] = name
    group["centrifugal/m0"], group["centrifugal/m1"] = model.centrifugal_moments
    subs = group.create_group("subdomains")
    for sub in subdomains:
        sub.write(subs.create_group(str(sub.index)))
    _seal(group)


def _write_sparse(group, name: str, matrix) -> None:
    """A sparse matrix as its CSR arrays in ``group[name]`` (shape as an attribute)."""
    matrix = sp.csr_matrix(matrix)
    for part in ("data", "indices", "indptr"):
        group.create_dataset(f"{name}/{part}", data=getattr(matrix, part))
    group[name].attrs["shape"] = matrix.shape


def _read_sparse(reader: "_Reader", group, name: str, shape: tuple[int, int], what: str) -> sp.csr_matrix:
    """A CSR matrix written by :func:`_write_sparse`, every array checked before scipy sees it.

    scipy trusts its index arrays: an index out of range or a decreasing pointer would
    read or write out of bounds in its C++ kernels (a segfault), a negative index would
    silently wrap around. Here ``indptr`` must start at 0, never decrease and end at
    ``len(indices) = len(data)``; ``indices`` must lie in ``[0, n_columns)``.
    """
    g = reader.group(group, name, what)
    stored = reader.attribute(g, "shape", what)
    stored = np.asarray(stored)
    if stored.shape != (2,) or stored.dtype.kind not in "iu" or tuple(int(v) for v in stored) != tuple(shape):
        raise reader.fail(f"{what}: shape {stored.tolist()} is not {list(shape)}")
    data = reader.array(g, "data", f"{what} data", kind="f", ndim=1)
    indices = reader.array(g, "indices", f"{what} indices", kind="i", ndim=1)
    indptr = reader.array(g, "indptr", f"{what} indptr", kind="i", shape=(shape[0] + 1,))
    if len(data) != len(indices):
        raise reader.fail(f"{what}: {len(data)} values for {len(indices)} column indices")
    if indptr[0] != 0 or indptr[-1] != len(indices):
        raise reader.fail(f"{what} indptr: runs from {indptr[0]} to {indptr[-1]}, must run from 0 to "
                          f"{len(indices)} (the number of stored values)")
    if np.any(np.diff(indptr) < 0):
        row = int(np.flatnonzero(np.diff(indptr) < 0)[0])
        raise reader.fail(f"{what} indptr: decreases at row {row} ({indptr[row]} then {indptr[row + 1]})")
    reader.in_range(indices, shape[1], f"{what} indices", "column")
    return sp.csr_matrix((data, indices, indptr), shape=shape)


def _within_cells(matrix: sp.csr_matrix, point_of_row: np.ndarray, node_of_entry: np.ndarray,
                  cell_nodes: np.ndarray, what: str, kind: str, fail) -> None:
    """Each stored entry of a row at reduced point ``l`` must refer to a node of that
    point's cell (shape functions and strains are local to a cell), once per row."""
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    points = point_of_row[rows]
    allowed = (cell_nodes[points] == node_of_entry[:, None]).any(axis=1) if len(rows) else np.zeros(0, bool)
    if not np.all(allowed):
        first = int(np.flatnonzero(~allowed)[0])
        raise fail(f"{what}: row {rows[first]} refers to {kind} {matrix.indices[first]}, which is not at a node of "
                   "its point's cell")
    pairs = rows * matrix.shape[1] + matrix.indices
    if len(np.unique(pairs)) != len(pairs):
        raise fail(f"{what}: a column is stored twice in one row")


def _read(path: Path, rank: int, size: int) -> ReducedOrderModel:
    import h5py

    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a model file")
    if not path.exists():
        raise InputError(f"{path}: no such model file")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise InputError(f"{path}: not a readable HDF5 file ({exc})") from None
    with f:
        if f.attrs.get("format") != FORMAT_NAME:
            raise InputError(f"{path}: not a nirom reduced-order model (format {f.attrs.get('format')!r})")
        try:
            version = int(f.attrs.get("format_version", -1))
            complete = int(f.attrs.get("complete", 0))
        except (TypeError, ValueError):
            raise InputError(f"{path}: corrupt model file (format_version {f.attrs.get('format_version')!r}, "
                             f"complete {f.attrs.get('complete')!r})") from None
        if version != FORMAT_VERSION:
            raise InputError(f"{path}: model format version {version}, this nirom reads version {FORMAT_VERSION}"
                             + (" (written by a newer nirom: upgrade)" if version > FORMAT_VERSION else
                                " (rebuild the model with this version)"))
        if complete != 1:
            raise InputError(f"{path}: the model file is incomplete (its writer did not finish)")
        with _unreadable_as_input_error(str(path)):
            if "mesh" not in f or not isinstance(f["mesh"], h5py.Group):
                raise InputError(f"{path}: the model file has no mesh group")
            reader = _Reader(f, str(path))
            reader.verify_tree(f["mesh"], "mesh")
            mesh = _read_mesh(f["mesh"], path)
        return read_model_group(f, rank, size, str(path), mesh=mesh)


def read_model_header(group, where: str) -> tuple[str | None, dict]:
    """A model group's checksum and settings, its attributes and member names verified,
    its arrays not read (what a container needs to defer reading the model).

    Returns
    -------
    (digest, settings)
        The group's stored checksum (None in a file without checksums) and its
        ``settings`` attribute.
    """
    with _unreadable_as_input_error(where):
        reader = _Reader(group, where)
        reader.model_attributes(group)
        settings = json.loads(reader.attribute(group, "settings", "settings"))
        if not isinstance(settings, dict):
            raise reader.fail(f"attribute 'settings' must be a JSON object, found {type(settings).__name__}")
        digest = group.attrs.get(DIGEST)
        return (str(digest) if digest is not None else None), settings


def read_model_group(group, rank: int, size: int, where: str, *, mesh: Mesh) -> ReducedOrderModel:
    """A model from an HDF5 group written by :func:`write_model_group`; rank ``rank`` of
    ``size`` keeps the subdomains ``r ≡ rank (mod size)``.

    Every array is checked before use: its checksum (files written since issue 12;
    older files get the structural checks only), dtype, shape and finiteness, and the
    structure — ``n_subdomains`` equal to the subdomain groups present, the
    subdomains' cells covering the mesh exactly once, node, cell, point and dof
    indices in range, sparse pointers monotone, ECM weights positive, laws and
    constrained sets known to the mesh. Any problem is one :class:`InputError` naming
    ``where`` and the dataset.
    """
    with _unreadable_as_input_error(where):
        context = _ModelContext.of(group, where, mesh)
        n_subdomains = context.n_subdomains
        if size > n_subdomains:
            raise InputError(f"{where}: the model has {n_subdomains} subdomains, cannot run on {size} ranks "
                             f"(use at most {n_subdomains})")
        subdomains = [SubdomainModel.read(context.subdomain_group(index), index, context.singular_values, where,
                                          context=context)
                      for index in range(rank, n_subdomains, size)]
        return ReducedOrderModel(
            mesh=mesh, rule=context.rule, materials=context.materials, n_modes=context.n_modes,
            singular_values=context.singular_values, pressure_loads=context.pressure_loads(),
            centrifugal_moments=context.centrifugal_moments(), constrained=context.constrained,
            settings=context.json_attribute("settings", dict), provenance=context.json_attribute("provenance", dict),
            subdomains=subdomains, n_subdomains=n_subdomains,
        )


def is_model(path: str | os.PathLike) -> bool:
    """True when ``path`` is a nirom reduced-order model file."""
    return has_format(path, FORMAT_NAME)


# ============================================================== integrity
#: Attribute of a model group naming the algorithm of the checksums of its datasets
#: and groups (files written before issue 12 have none: structural checks only).
CHECKSUM = "checksum"
#: Attribute of each dataset and group holding its checksum.
DIGEST = "sha256"
#: The model group's own attributes covered by its checksum (the file's root also
#: holds ``format``, ``format_version`` and ``complete``, which are not).
_MODEL_ATTRIBUTES = ("rule", "n_modes", "n_subdomains", "materials", "constrained", "settings", "provenance")


def _attribute_bytes(value) -> bytes:
    """A canonical byte form of an HDF5 attribute value (as h5py reads it back)."""
    if isinstance(value, bytes):
        return b"b" + value
    if isinstance(value, str):
        return b"s" + value.encode("utf-8", "surrogatepass")
    array = np.asarray(value)
    if array.dtype.kind in "OUS":
        return b"o" + repr(array.tolist()).encode("utf-8", "surrogatepass")
    return b"a" + f"{array.dtype.str}{array.shape}".encode() + np.ascontiguousarray(array).tobytes()


def _digest(attrs, data: np.ndarray | None = None, keys=None, members=None) -> str:
    """SHA-256 of a dataset's raw values (dtype and shape included), of attributes and of
    a group's member names (a dataset deleted or added changes its group's checksum).

    ``keys``: the attributes covered (default: all but the checksums themselves).
    """
    h = hashlib.sha256()
    if members is not None:
        h.update(("members:" + "\0".join(sorted(members)) + ";").encode("utf-8", "surrogatepass"))
    if data is not None:
        array = np.ascontiguousarray(data)
        h.update(f"{array.dtype.str}{array.shape}".encode())
        if array.dtype.kind in "OUS":
            h.update(repr(array.tolist()).encode("utf-8", "surrogatepass"))
        else:
            h.update(array.reshape(-1).view(np.uint8))
    names = sorted(k for k in attrs if k not in (DIGEST, CHECKSUM)) if keys is None else keys
    for key in names:
        h.update(b"\0" + key.encode() + b"\0")
        h.update(_attribute_bytes(attrs[key]) if key in attrs else b"-")
    return h.hexdigest()


def _seal(group) -> None:
    """Checksum attributes on every dataset and group under ``group`` and on ``group`` itself.

    Digests are computed from what the file holds (read back), so the writer and the
    reader hash the same bytes whatever conversions h5py made.
    """
    import h5py

    def seal(_name, obj):
        if isinstance(obj, h5py.Dataset):
            obj.attrs[DIGEST] = _digest(obj.attrs, obj[()])
        else:
            obj.attrs[DIGEST] = _digest(obj.attrs, members=obj.keys())

    group.visititems(seal)
    group.attrs[DIGEST] = _digest(group.attrs, keys=_MODEL_ATTRIBUTES, members=group.keys())
    group.attrs[CHECKSUM] = DIGEST


@contextlib.contextmanager
def _unreadable_as_input_error(where: str):
    """What h5py, json or numpy raise on a damaged file, as an InputError naming it."""
    try:
        yield
    except NiromError:
        raise
    except (KeyError, ValueError, TypeError, IndexError, OSError, RuntimeError, AttributeError) as exc:
        raise InputError(f"{where}: corrupt model file ({type(exc).__name__}: {exc})") from None


class _Reader:
    """Reads the datasets and attributes of one model group, each checked before use.

    In a file with checksums every dataset and group read must carry its own and
    match it; in an older file the checks are structural only.
    """

    def __init__(self, group, where: str, *, sealed: bool | None = None):
        self.where = where
        if sealed is not None:          # a dataset read later, checked against the checksum seen at load
            self.sealed = sealed
            return
        algorithm = group.attrs.get(CHECKSUM)
        if algorithm is not None and algorithm != DIGEST:
            raise self.fail(f"unknown checksum algorithm {algorithm!r} (this nirom knows {DIGEST!r})")
        self.sealed = algorithm is not None

    def fail(self, message: str) -> InputError:
        return InputError(f"{self.where}: {message}")

    def _verify(self, obj, expected: str, what: str) -> None:
        if not self.sealed:
            return
        stored = obj.attrs.get(DIGEST)
        if stored is None:
            raise self.fail(f"{what} ({obj.name}) has no checksum (the file was altered after it was written)")
        if not isinstance(stored, str) or stored != expected:
            raise self.fail(f"{what} ({obj.name}) does not match its checksum: the file was altered or corrupted "
                            "after it was written")

    def group(self, parent, name: str, what: str):
        import h5py

        if name not in parent or not isinstance(parent[name], h5py.Group):
            raise self.fail(f"{what}: missing group '{name}' in {parent.name}")
        g = parent[name]
        self._verify(g, _digest(g.attrs, members=g.keys()), what)
        return g

    def model_attributes(self, group) -> None:
        self._verify(group, _digest(group.attrs, keys=_MODEL_ATTRIBUTES, members=group.keys()),
                     "the model's attributes and members")

    def attribute(self, obj, name: str, what: str):
        if name not in obj.attrs:
            raise self.fail(f"{what}: missing attribute '{name}' on {obj.name}")
        return obj.attrs[name]

    def array(self, parent, name: str, what: str, *, kind: str, ndim: int | None = None,
              shape: tuple | None = None) -> np.ndarray:
        """A dataset's values: checksum, dtype kind (``"i"`` integer, ``"f"`` real), shape, finiteness."""
        import h5py

        if name not in parent or not isinstance(parent[name], h5py.Dataset):
            raise self.fail(f"{what}: missing dataset '{name}' in {parent.name}")
        dataset = parent[name]
        values = self.values(dataset, what)
        self._verify(dataset, _digest(dataset.attrs, values), what)
        values = np.asarray(values)
        kinds = {"i": "iu", "f": "f"}[kind]
        if values.dtype.kind not in kinds:
            expected = {"i": "integers", "f": "real numbers"}[kind]
            raise self.fail(f"{what}: expected {expected}, found dtype {values.dtype}")
        if shape is not None and values.shape != tuple(shape):
            raise self.fail(f"{what}: shape {values.shape}, expected {tuple(shape)}")
        if ndim is not None and values.ndim != ndim:
            raise self.fail(f"{what}: {values.ndim} dimension(s), expected {ndim}")
        if kind == "f" and not np.all(np.isfinite(values)):
            bad = np.argwhere(~np.isfinite(values))[0]
            raise self.fail(f"{what}: non-finite value {values[tuple(bad)]} at {tuple(int(i) for i in bad)}")
        if kind == "i":
            values = values.astype(np.int64, copy=False)
        return values

    def header(self, parent, name: str, what: str, *, kind: str, ndim: int):
        """A dataset checked without reading its values: present, its dtype kind, its number of
        dimensions, the bytes stored for its shape and, in a file with checksums, its checksum
        attribute (the values are checked where they are read: :meth:`StoredModes.read`)."""
        import h5py

        if name not in parent or not isinstance(parent[name], h5py.Dataset):
            raise self.fail(f"{what}: missing dataset '{name}' in {parent.name}")
        dataset = parent[name]
        self.check_storage(dataset, what)
        if dataset.dtype.kind not in {"i": "iu", "f": "f"}[kind]:
            expected = {"i": "integers", "f": "real numbers"}[kind]
            raise self.fail(f"{what}: expected {expected}, found dtype {dataset.dtype}")
        if dataset.ndim != ndim:
            raise self.fail(f"{what}: {dataset.ndim} dimension(s), expected {ndim}")
        if self.sealed and not isinstance(dataset.attrs.get(DIGEST), str):
            raise self.fail(f"{what} ({dataset.name}) has no checksum (the file was altered after it was written)")
        return dataset

    def check_storage(self, dataset, what: str) -> None:
        """The file stores the bytes of the dataset's shape: a damaged header can declare a huge
        shape over a few bytes (reading it would fill the memory)."""
        expected = dataset.size * dataset.dtype.itemsize
        if dataset.compression is None and dataset.id.get_storage_size() < expected:
            raise self.fail(f"{what} ({dataset.name}): its shape {dataset.shape} needs {expected} bytes, the file "
                            f"stores {dataset.id.get_storage_size()}")

    def values(self, dataset, what: str) -> np.ndarray:
        """A dataset's values, after :meth:`check_storage`."""
        self.check_storage(dataset, what)
        return dataset[()]

    def in_range(self, indices: np.ndarray, size: int, what: str, kind: str) -> None:
        if indices.size and (indices.min() < 0 or indices.max() >= size):
            bad = indices[(indices < 0) | (indices >= size)].ravel()[0]
            raise self.fail(f"{what}: {kind} index {bad} out of range [0, {size})")

    def verify_tree(self, group, what: str) -> None:
        """The checksums of every dataset and group under ``group`` (read by another module)."""
        import h5py

        self._verify(group, _digest(group.attrs, members=group.keys()), what)

        def check(name, obj):
            if isinstance(obj, h5py.Dataset):
                values = self.values(obj, f"{what} dataset {name}")
                if self.sealed:
                    self._verify(obj, _digest(obj.attrs, values), f"{what} dataset {name}")
            else:
                self._verify(obj, _digest(obj.attrs, members=obj.keys()), f"{what} group {name}")

        group.visititems(check)


class _ModelContext:
    """What the checks of a model group's arrays need: the mesh, sizes, laws, constrained dofs."""

    def __init__(self, group, reader: _Reader, mesh: Mesh):
        self.group, self.reader, self.mesh, self.where = group, reader, mesh, reader.where

    @classmethod
    def of(cls, group, where: str, mesh: Mesh) -> "_ModelContext":
        reader = _Reader(group, where)
        reader.model_attributes(group)
        self = cls(group, reader, mesh)
        self.file = _file_on_disk(group) if reader.sealed else None     # None: the dual modes are read at load
        fail = reader.fail
        self.rule = self.string_attribute("rule")
        try:
            self.points_per_cell = {t: points_per_cell(self.rule, t) for t in mesh.cells}
        except InputError as exc:
            raise fail(f"rule: {exc}") from None
        self.n_modes = self.count_attribute("n_modes", minimum=1)
        self.n_subdomains = self.count_attribute("n_subdomains", minimum=1)
        self.materials = self.json_attribute("materials", dict)
        self.constrained = self.json_attribute("constrained", dict)
        self._check_materials()
        self._check_constrained()
        self.singular_values = reader.array(group, "singular_values", "singular_values", kind="f", ndim=1)
        sv = self.singular_values
        if len(sv) < self.n_modes or np.any(sv < 0) or np.any(np.diff(sv) > 0):
            raise fail(f"singular_values: {len(sv)} values for {self.n_modes} modes, must be at least as many, "
                       "non-negative and non-increasing")
        self._check_subdomain_groups()
        return self

    # ------------------------------------------------------------ attributes
    def string_attribute(self, name: str) -> str:
        value = self.reader.attribute(self.group, name, name)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if not isinstance(value, str) or not value:
            raise self.reader.fail(f"attribute '{name}' must be a non-empty string, found {value!r}")
        return value

    def count_attribute(self, name: str, *, minimum: int) -> int:
        value = self.reader.attribute(self.group, name, name)
        if (not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_))
                or int(value) < minimum or int(value) > 2**31):
            raise self.reader.fail(f"attribute '{name}' must be an integer ≥ {minimum}, found {value!r}")
        return int(value)

    def json_attribute(self, name: str, kind: type):
        text = self.string_attribute(name)
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise self.reader.fail(f"attribute '{name}' is not valid JSON ({exc})") from None
        if not isinstance(value, kind):
            raise self.reader.fail(f"attribute '{name}' must hold a JSON {kind.__name__}, found "
                                   f"{type(value).__name__}")
        return value

    def _check_materials(self) -> None:
        from io_adapters.problem import ALL_ELEMENT, check_material_spec

        mesh, problems = self.mesh, []
        if not self.materials:
            problems.append("no material")
        owner = np.full(mesh.n_cells, -1, dtype=np.int64)
        count = np.zeros(mesh.n_cells, dtype=np.int64)
        for m, (name, spec) in enumerate(self.materials.items()):
            problems.extend(f"material '{name}': {p}" for p in check_material_spec(spec))
            if name == ALL_ELEMENT and name not in mesh.cell_sets:
                cells = np.arange(mesh.n_cells)
            elif name in mesh.cell_sets:
                cells = mesh.cell_sets[name]
            else:
                problems.append(f"material '{name}': no such cell set in the mesh")
                continue
            owner[cells] = m
            count[cells] += 1
        if not problems and np.any(count != 1):
            problems.append(f"the materials' cell sets must cover each cell once ({int(np.sum(count == 0))} cells "
                            f"without, {int(np.sum(count > 1))} with several)")
        if problems:
            raise self.reader.fail("materials: " + "; ".join(problems))
        self.material_of_cell = owner

    def _check_constrained(self) -> None:
        mesh, dofs = self.mesh, []
        for name, components in self.constrained.items():
            if name not in mesh.node_sets:
                raise self.reader.fail(f"constrained: node set '{name}' is not in the mesh")
            if (not isinstance(components, list) or not components
                    or any(not isinstance(c, int) or isinstance(c, bool) or c not in (0, 1, 2) for c in components)):
                raise self.reader.fail(f"constrained: node set '{name}' must list components among 0, 1, 2, "
                                       f"found {components!r}")
            nodes = np.asarray(mesh.node_sets[name], dtype=np.int64)
            dofs.extend(3 * nodes + c for c in components)
        self.constrained_dofs = np.unique(np.concatenate(dofs)) if dofs else np.zeros(0, dtype=np.int64)

    def _check_subdomain_groups(self) -> None:
        """``n_subdomains`` groups ``0 … n-1``, and their cells cover the mesh exactly once."""
        subs = self.reader.group(self.group, "subdomains", "subdomains")
        names = set(subs.keys())
        expected = {str(i) for i in range(self.n_subdomains)}
        if names != expected:
            raise self.reader.fail(f"n_subdomains is {self.n_subdomains} but the file holds subdomain groups "
                                   f"{sorted(names, key=lambda n: (len(n), n))}")
        self.subdomains = subs
        n_cells = self.mesh.n_cells
        count = np.zeros(n_cells, dtype=np.int64)
        self.cells = {}
        for index in range(self.n_subdomains):
            what = f"subdomain {index} cells"
            group = self.reader.group(subs, str(index), f"subdomain {index}")
            cells = self.reader.array(group, "cells", what, kind="i", ndim=1)
            self.reader.in_range(cells, n_cells, what, "cell")
            if len(cells) == 0 or np.any(np.diff(cells) <= 0):
                raise self.reader.fail(f"{what}: must be a non-empty, increasing list of distinct cells")
            count[cells] += 1
            self.cells[index] = cells
        if np.any(count != 1):
            raise self.reader.fail(f"the {self.n_subdomains} subdomains' cells must cover the mesh's {n_cells} cells "
                                   f"exactly once ({int(np.sum(count == 0))} cells in none, "
                                   f"{int(np.sum(count > 1))} in several)")

    def subdomain_group(self, index: int):
        return self.subdomains[str(index)]

    # ------------------------------------------------------------ global arrays
    def pressure_loads(self) -> dict:
        reader, loads = self.reader, {}
        group = reader.group(self.group, "pressure_loads", "pressure_loads")
        if set(group.keys()) != {str(i) for i in range(len(group))}:
            raise reader.fail(f"pressure_loads: datasets must be numbered 0 … {len(group) - 1}")
        for i in range(len(group)):
            what = f"pressure load {i}"
            vector = reader.array(group, str(i), what, kind="f", shape=(self.n_modes,))
            name = reader.attribute(group[str(i)], "face_set", what)
            if not isinstance(name, str) or name not in self.mesh.face_sets or name in loads:
                raise reader.fail(f"{what}: face set {name!r} is not a face set of the mesh, or is repeated")
            loads[name] = vector
        return loads

    def centrifugal_moments(self) -> tuple:
        reader = self.reader
        group = reader.group(self.group, "centrifugal", "centrifugal moments")
        n = self.n_modes
        return (reader.array(group, "m0", "centrifugal moment m0", kind="f", shape=(n, 3)),
                reader.array(group, "m1", "centrifugal moment m1", kind="f", shape=(n, 3, 3)))

    # ------------------------------------------------------------ a subdomain
    def subdomain(self, group, index: int, singular_values: np.ndarray) -> SubdomainModel:
        reader, mesh, n = self.reader, self.mesh, self.n_modes
        fail = reader.fail
        where = f"subdomain {index}"

        def array(name, **kwargs):
            return reader.array(group, name, f"{where} {name}", **kwargs)

        residual = reader.attribute(group, "ecm_residual", where) if "ecm_residual" in group.attrs else 0.0
        if (not isinstance(residual, (float, int, np.floating, np.integer)) or isinstance(residual, (bool, np.bool_))
                or not np.isfinite(residual) or residual < 0):
            raise fail(f"{where} ecm_residual must be a finite number ≥ 0, found {residual!r}")
        cells = self.cells[index]                                 # increasing, distinct, in range (checked)
        blocks = mesh.cell_blocks_of(cells)
        expected_nodes = mesh.nodes_of_blocks(blocks)
        nodes = array("nodes", kind="i", ndim=1)
        if not np.array_equal(nodes, expected_nodes):
            raise fail(f"{where} nodes: not the nodes of its cells ({len(nodes)} given, {len(expected_nodes)} "
                       "expected, increasing)")
        point_rows = array("point_rows", kind="i", ndim=1)
        if not np.array_equal(point_rows, point_rows_of_cells(mesh.cells, self.rule, cells)):
            raise fail(f"{where} point_rows: not the integration-point rows of its cells under rule '{self.rule}'")
        modes = array("displacement_modes", kind="f", shape=(n, 3 * len(nodes)))
        points = array("points", kind="i", ndim=1)
        reader.in_range(points, len(point_rows), f"{where} points", "local integration point")
        if len(points) == 0 or np.any(np.diff(points) <= 0):
            raise fail(f"{where} points: must be a non-empty, increasing list of distinct points")
        k = len(points)
        weights = array("weights", kind="f", shape=(k,))
        if np.any(weights < 0) or not np.any(weights > 0):
            bad = np.flatnonzero(weights < 0)
            raise fail(f"{where} weights: ECM weights must be positive (0 at Gappy-only points), found "
                       + (f"{weights[bad[0]]} at point {points[bad[0]]}" if bad.size else "no positive weight"))
        strain_operator = array("strain_operator", kind="f", shape=(k, 6, n))
        material = array("material", kind="i", shape=(k,))
        counts = [np.full(len(c), self.points_per_cell[t], dtype=np.int64) for t, c in blocks.items()]
        cell_of_point = np.repeat(cells, np.concatenate(counts))     # the blocks keep the cells' order
        expected_material = self.material_of_cell[cell_of_point[points]]
        if not np.array_equal(material, expected_material):
            first = int(np.flatnonzero(material != expected_material)[0])
            raise fail(f"{where} material: point {points[first]} has law {material[first]}, its cell's law is "
                       f"{expected_material[first]}")
        interpolation = _read_sparse(reader, group, "temperature_interpolation", (k, len(nodes)),
                                     f"{where} temperature_interpolation")
        sums = np.asarray(interpolation.sum(axis=1)).ravel()
        if np.any(np.abs(sums - 1.0) > 1e-8):
            raise fail(f"{where} temperature_interpolation: the weights of a point must sum to 1 (shape functions), "
                       f"found {sums[np.argmax(np.abs(sums - 1.0))]}")
        corners = self._cell_nodes(cell_of_point[points])                   # (k, nodes of the widest cell)
        local_corners = np.where(corners >= 0, np.searchsorted(nodes, np.maximum(corners, 0)), -1)
        _within_cells(interpolation, np.arange(k), interpolation.indices, local_corners,
                      f"{where} temperature_interpolation", "node", fail)
        lifting_dofs = lifting_strain = None
        if ("lifting_dofs" in group) != ("lifting_strain" in group):
            raise fail(f"{where}: lifting_dofs and lifting_strain go together, only one is present")
        if "lifting_dofs" in group:
            lifting_dofs = array("lifting_dofs", kind="i", ndim=1)
            reader.in_range(lifting_dofs, 3 * mesh.n_nodes, f"{where} lifting_dofs", "dof")
            if len(np.unique(lifting_dofs)) != len(lifting_dofs):
                raise fail(f"{where} lifting_dofs: repeated dofs")
            stray = ~np.isin(lifting_dofs, self.constrained_dofs) | ~np.isin(lifting_dofs // 3, nodes)
            if np.any(stray):
                raise fail(f"{where} lifting_dofs: dof {lifting_dofs[stray][0]} is not a constrained dof of the "
                           "subdomain's nodes")
            lifting_strain = _read_sparse(reader, group, "lifting_strain", (6 * k, len(lifting_dofs)),
                                          f"{where} lifting_strain")
            _within_cells(lifting_strain, np.arange(6 * k) // 6, lifting_dofs[lifting_strain.indices] // 3, corners,
                          f"{where} lifting_strain", "dof", fail)
        duals = self.duals(group, where, len(point_rows), points)
        try:
            quadrature = ReducedQuadrature(points[weights > 0], weights[weights > 0], residual=float(residual))
            basis = ReducedBasis(modes, singular_values, inner_product="mass")
            return SubdomainModel(index=index, cells=cells, nodes=nodes, point_rows=point_rows, basis=basis,
                                  quadrature=quadrature, points=points, strain_operator=strain_operator,
                                  material=material, temperature_interpolation=interpolation, duals=duals,
                                  lifting_dofs=lifting_dofs, lifting_strain=lifting_strain)
        except (InputError, ConfigError) as exc:
            raise fail(f"{where}: {exc}") from None

    def _cell_nodes(self, cells: np.ndarray) -> np.ndarray:
        """The nodes of some cells, ``(len(cells), widest cell)``, padded with -1."""
        width = max(c.shape[1] for c in self.mesh.cells.values())
        out = np.full((len(cells), width), -1, dtype=np.int64)
        for cell_type, start in self.mesh.cell_offsets().items():
            conn = self.mesh.cells[cell_type]
            held = (cells >= start) & (cells < start + len(conn))
            out[held, :conn.shape[1]] = conn[cells[held] - start]
        return out

    def duals(self, group, where: str, n_points: int, points: np.ndarray) -> dict:
        """The subdomain's dual fields; their full modes read lazily when the file allows (see :meth:`dual`)."""
        reader, out = self.reader, {}
        duals = reader.group(group, "duals", f"{where} duals")
        if set(duals.keys()) != {str(i) for i in range(len(duals))}:
            raise reader.fail(f"{where} duals: groups must be numbered 0 … {len(duals) - 1}")
        for i in range(len(duals)):
            what = f"{where} dual {i}"
            g = reader.group(duals, str(i), what)
            name = reader.attribute(g, "name", what)
            try:
                components = json.loads(reader.attribute(g, "components", what))
            except (TypeError, json.JSONDecodeError):
                components = None
            if (not isinstance(name, str) or not name.strip() or name in out or not isinstance(components, list)
                    or not components or not all(isinstance(c, str) for c in components)):
                raise reader.fail(f"{what}: needs a new non-empty name and a JSON list of component names, found "
                                  f"name {name!r}, components {components!r}")
            out[name] = self.dual(g, f"{what} ({name})", name, tuple(components), n_points, points)
        return out

    def dual(self, g, what: str, name: str, components: tuple, n_points: int, points: np.ndarray) -> DualField:
        """One dual field. In a file on disk with checksums and ``modes_at_points`` (written since
        the lazy dual modes), only those rows are read now; the full ``modes`` are checked
        without reading them (dtype, shape, bytes stored, checksum present) and read, their
        checksum verified, on first use (:class:`StoredModes`). Otherwise they are read now."""
        reader = self.reader
        values = reader.array(g, "singular_values", f"{what} singular_values", kind="f", ndim=1)
        lazy = self.file is not None and "modes_at_points" in g
        if lazy:
            dataset = reader.header(g, "modes", f"{what} modes", kind="f", ndim=3)
            shape = tuple(int(n) for n in dataset.shape)
        else:
            modes = reader.array(g, "modes", f"{what} modes", kind="f", ndim=3)
            shape = modes.shape
        if shape[1:] != (n_points, len(components)) or len(values) < shape[0] or np.any(values < 0):
            raise reader.fail(f"{what}: modes {shape} must be (n, {n_points}, {len(components)}) "
                              f"with at least n non-negative singular values (found {len(values)})")
        at_points = None
        if "modes_at_points" in g:
            at_points = reader.array(g, "modes_at_points", f"{what} modes_at_points", kind="f",
                                     shape=(shape[0], len(points), len(components)))
        if not lazy:
            if at_points is not None and not np.array_equal(at_points, modes[:, points]):
                raise reader.fail(f"{what} modes_at_points: not the rows of modes at the reduced points")
            return DualField(name, components, modes, values)
        stored = StoredModes(file=self.file, dataset=dataset.name, digest=dataset.attrs[DIGEST], shape=shape,
                             where=self.where, what=f"{what} modes")
        return DualField(name, components, None, values, points=points, at_points=at_points, stored=stored)


def _file_on_disk(group) -> str | None:
    """Absolute path of the file holding an HDF5 group; None when it is not a file on disk
    (an in-memory image, a Python file object), which cannot be reopened later."""
    f = group.file
    if f.driver in ("core", "fileobj") or not os.path.isfile(f.filename):
        return None
    return os.path.abspath(f.filename)
