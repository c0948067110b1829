"""The reduced-order model artifact: what the offline stage builds and the online stage uses.

A :class:`ReducedOrderModel` holds global data (the mesh, the displacement
basis's singular values, the reduced loads, the laws, the tolerances, the
provenance) and one :class:`SubdomainModel` per subdomain of the offline
partition (this subdomain's rows of the bases, its reduced integration points
with their weights, reduced strain operator, law and temperature interpolation,
and the Gappy-POD data of the dual quantities).

``save(path)`` writes one HDF5 file (format ``nirom-rom``, version 1): global
datasets and attributes at the root, one group ``/subdomains/<r>`` per subdomain;
never pickle. ``load(path, comm)`` gives each rank the subdomains ``r ≡ rank (mod
size)``, so a model built on P subdomains runs on any number of ranks ≤ P.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from io_adapters.atomic import atomic_path
from io_adapters.errors import ConfigError, InputError
from io_adapters.mesh import Mesh
from io_adapters.store.hdf5 import _read_mesh, _write_mesh, has_format

from rom.ecm import ReducedQuadrature
from rom.pod import ReducedBasis

FORMAT_NAME = "nirom-rom"
FORMAT_VERSION = 1


@dataclass(frozen=True, eq=False)
class DualField:
    """POD data of one dual quantity on one subdomain (the Gappy-POD basis's rows).

    Attributes
    ----------
    name : str
    components : tuple[str, ...]
    modes : (n_dual_modes, n_local_points, n_components)
        This subdomain's rows of the dual POD basis.
    singular_values : (n,) global singular values of the dual POD
    """

    name: str
    components: tuple
    modes: np.ndarray
    singular_values: np.ndarray

    def at(self, points: np.ndarray) -> np.ndarray:
        """The modes at some local points, shape (n_dual_modes, len(points), n_components)."""
        return self.modes[:, points]

    def write(self, group) -> None:
        """Into an HDF5 group: ``modes``, ``singular_values``; name and components as attributes."""
        group.attrs["name"] = self.name
        group.attrs["components"] = json.dumps(list(self.components))
        group["modes"] = self.modes
        group["singular_values"] = self.singular_values

    @classmethod
    def read(cls, group) -> "DualField":
        return cls(str(group.attrs["name"]), tuple(json.loads(group.attrs["components"])), group["modes"][()],
                   group["singular_values"][()])


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
            dual.write(duals.create_group(str(i)))

    @classmethod
    def read(cls, group, index: int, singular_values: np.ndarray, where: str) -> "SubdomainModel":
        """From an HDF5 group written by :meth:`write` (or by nirom before the typed parts)."""
        arrays = {name: group[name][()] for name in ("cells", "nodes", "point_rows", "displacement_modes", "points",
                                                     "weights", "strain_operator", "material")}
        weights, points = arrays.pop("weights"), arrays["points"]
        try:
            quadrature = ReducedQuadrature(points[weights > 0], weights[weights > 0],
                                           residual=float(group.attrs.get("ecm_residual", 0.0)))
            basis = ReducedBasis(arrays.pop("displacement_modes"), singular_values, inner_product="mass")
        except (InputError, ConfigError) as exc:
            raise InputError(f"{where}: subdomain {index}: {exc}") from None
        duals = {}
        for i in range(len(group["duals"])):
            dual = DualField.read(group["duals"][str(i)])
            duals[dual.name] = dual
        return cls(index=index, basis=basis, quadrature=quadrature, duals=duals,
                   temperature_interpolation=_read_sparse(group["temperature_interpolation"]),
                   lifting_dofs=group["lifting_dofs"][()] if "lifting_dofs" in group else None,
                   lifting_strain=_read_sparse(group["lifting_strain"]) if "lifting_strain" in group else None,
                   **arrays)


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
    import h5py

    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = FORMAT_NAME
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["complete"] = 0
            write_model_group(f, model, subdomains)
            f.attrs["complete"] = 1


def write_model_group(group, model: ReducedOrderModel, subdomains: list[SubdomainModel], *,
                      mesh: bool = True) -> None:
    """A model's content into an HDF5 group (the file's root, or one model of a dictionary).

    ``mesh=False`` leaves the mesh out (a container of several models on one mesh keeps
    it once); :func:`read_model_group` then takes it as an argument.
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


def _write_sparse(group, name: str, matrix) -> None:
    """A sparse matrix as its CSR arrays in ``group[name]`` (shape as an attribute)."""
    matrix = sp.csr_matrix(matrix)
    for part in ("data", "indices", "indptr"):
        group.create_dataset(f"{name}/{part}", data=getattr(matrix, part))
    group[name].attrs["shape"] = matrix.shape


def _read_sparse(group) -> sp.csr_matrix:
    return sp.csr_matrix((group["data"][()], group["indices"][()], group["indptr"][()]),
                         shape=tuple(group.attrs["shape"]))


def _read(path: Path, rank: int, size: int) -> ReducedOrderModel:
    import h5py

    if not path.exists():
        raise InputError(f"{path}: no such model file")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise InputError(f"{path}: not a readable HDF5 file ({exc})") from None
    with f:
        if f.attrs.get("format") != FORMAT_NAME:
            raise InputError(f"{path}: not a nirom reduced-order model (format {f.attrs.get('format')!r})")
        version = int(f.attrs.get("format_version", -1))
        if version != FORMAT_VERSION:
            raise InputError(f"{path}: model format version {version}, this nirom reads version {FORMAT_VERSION}"
                             + (" (written by a newer nirom: upgrade)" if version > FORMAT_VERSION else
                                " (rebuild the model with this version)"))
        if int(f.attrs.get("complete", 0)) != 1:
            raise InputError(f"{path}: the model file is incomplete (its writer did not finish)")
        return read_model_group(f, rank, size, str(path), mesh=_read_mesh(f["mesh"], path))


def read_model_group(group, rank: int, size: int, where: str, *, mesh: Mesh) -> ReducedOrderModel:
    """A model from an HDF5 group written by :func:`write_model_group`; rank ``rank`` of
    ``size`` keeps the subdomains ``r ≡ rank (mod size)``."""
    n_subdomains = int(group.attrs["n_subdomains"])
    if size > n_subdomains:
        raise InputError(f"{where}: the model has {n_subdomains} subdomains, cannot run on {size} ranks "
                         f"(use at most {n_subdomains})")
    singular_values = group["singular_values"][()]
    subdomains = [SubdomainModel.read(group["subdomains"][str(index)], index, singular_values, where)
                  for index in range(rank, n_subdomains, size)]
    loads = {group["pressure_loads"][str(i)].attrs["face_set"]: group["pressure_loads"][str(i)][()]
             for i in range(len(group["pressure_loads"]))}
    return ReducedOrderModel(
        mesh=mesh, rule=str(group.attrs["rule"]),
        materials=json.loads(group.attrs["materials"]), n_modes=int(group.attrs["n_modes"]),
        singular_values=singular_values, pressure_loads=loads,
        centrifugal_moments=(group["centrifugal/m0"][()], group["centrifugal/m1"][()]),
        constrained=json.loads(group.attrs["constrained"]), settings=json.loads(group.attrs["settings"]),
        provenance=json.loads(group.attrs["provenance"]), subdomains=subdomains, n_subdomains=n_subdomains,
    )


def is_model(path: str | os.PathLike) -> bool:
    """True when ``path`` is a nirom reduced-order model file."""
    return has_format(path, FORMAT_NAME)
