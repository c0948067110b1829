"""Assembled vectors, norms and linear solves of the Newton iterations.

Two implementations of one small interface, chosen by :func:`make_system`:

- :class:`ScipySystem` (serial): scipy sparse matrices, SuperLU.
- :class:`PetscSystem` (serial or MPI): a PETSc AIJ matrix filled through a fixed
  COO pattern (``MatSetValuesCOO``: one call per Newton iteration), MUMPS or
  CG + GAMG with the rigid-body near-null space.

Dirichlet dofs are eliminated symmetrically: their rows and columns are zeroed
and their diagonal set to 1, and their right-hand side is 0 (the imposed values
are put into the displacement before the first iteration).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from io_adapters.errors import ConfigError, ConvergenceError


class ScipySystem:
    """Serial system on scipy (local numbering = global numbering)."""

    def __init__(self, disc):
        self.disc = disc
        self.free = ~disc.constrained
        self.diagonal = sp.diags(disc.constrained.astype(np.float64)).tocsr()

    def assemble(self, local: np.ndarray) -> np.ndarray:
        return local

    def any(self, flag: bool) -> bool:
        """True when ``flag`` is true on some rank (serial: ``flag``)."""
        return bool(flag)

    def norms(self, vector: np.ndarray) -> tuple[float, float]:
        """(norm over free dofs, norm over constrained dofs)."""
        return float(np.linalg.norm(vector[self.free])), float(np.linalg.norm(vector[~self.free]))

    def local_norms(self, *vectors: np.ndarray) -> list[float]:
        """Euclidean norms of local dof vectors (3 n_local_nodes,) over all dofs."""
        return [float(np.linalg.norm(v)) for v in vectors]

    def solve(self, stiffness: sp.spmatrix, rhs: np.ndarray) -> np.ndarray:
        K = sp.csr_matrix(stiffness, copy=True)
        K = _eliminate(K, self.disc.constrained) + self.diagonal
        b = np.where(self.free, rhs, 0.0)
        x = spla.spsolve(K.tocsc(), b, permc_spec="MMD_AT_PLUS_A")
        if not np.all(np.isfinite(x)):
            raise ConvergenceError("the tangent stiffness is singular (missing Dirichlet conditions?)")
        return x

    def to_local(self, vector: np.ndarray) -> np.ndarray:
        return vector


def _eliminate(K: sp.csr_matrix, constrained: np.ndarray) -> sp.csr_matrix:
    rows = np.repeat(np.arange(K.shape[0]), np.diff(K.indptr))
    K.data[constrained[rows] | constrained[K.indices]] = 0.0
    return K


class PetscSystem:
    """System on PETSc: each rank adds its elements' contributions (COO, global indices)."""

    def __init__(self, disc, comm, *, solver: str = "mumps", rtol: float = 1e-12):
        from rom.hifi.petsc import petsc

        PETSc = petsc()
        self.PETSc = PETSc
        self.disc = disc
        self.comm = comm
        pcomm = PETSc.COMM_SELF if comm is None else comm
        start, stop = disc.owned_range
        n_owned, n = stop - start, disc.n_global_dofs
        self.pattern = None
        self.A = PETSc.Mat().create(comm=pcomm)
        self.A.setSizes(((n_owned, n), (n_owned, n)))
        self.A.setType("aij")
        self.b = PETSc.Vec().createMPI((n_owned, n), comm=pcomm)
        self.x = self.b.duplicate()
        gids = disc.dof_global.astype(PETSc.IntType)
        self.gids = gids
        self.local = PETSc.Vec().createSeq(len(gids), comm=PETSc.COMM_SELF)
        self.scatter = PETSc.Scatter().create(self.x, PETSc.IS().createGeneral(gids, comm=PETSc.COMM_SELF),
                                              self.local, None)
        owned_constrained = np.zeros(n_owned, dtype=bool)
        mask = disc.owned
        owned_constrained[disc.dof_global[mask & disc.constrained] - start] = True
        self.owned_constrained = owned_constrained
        self.diag_rows = disc.dof_global[mask & disc.constrained].astype(PETSc.IntType)
        self.ksp = PETSc.KSP().create(comm=pcomm)
        self.ksp.setOperators(self.A)
        if solver == "mumps":
            self.ksp.setType("preonly")
            pc = self.ksp.getPC()
            pc.setType("cholesky")
            pc.setFactorSolverType("mumps")
        elif solver in ("cg-gamg", "gamg"):
            self.ksp.setType("cg")
            self.ksp.setTolerances(rtol=rtol, atol=1e-300, max_it=5000)
            pc = self.ksp.getPC()
            pc.setType("gamg")
            self.A.setBlockSize(3)
            self._near_null_space()
        else:
            raise ConfigError(f"unknown PETSc linear solver '{solver}' (use 'mumps' or 'cg-gamg')")
        self.solver = solver

    def _near_null_space(self) -> None:
        """Rigid-body modes (3 translations, 3 rotations) for GAMG."""
        PETSc = self.PETSc
        disc = self.disc
        start, stop = disc.owned_range
        owned_nodes = disc.owned[::3]
        points = disc.local.points[owned_nodes]
        node_rows = disc.dof_global[::3][owned_nodes] - start
        coords = np.zeros(((stop - start) // 3, 3))
        coords[node_rows // 3] = points
        vectors = []
        for k in range(6):
            v = self.b.duplicate()
            a = np.zeros((len(coords), 3))
            if k < 3:
                a[:, k] = 1.0
            else:
                i, j = [(0, 1), (1, 2), (2, 0)][k - 3]
                a[:, i] = -coords[:, j]
                a[:, j] = coords[:, i]
            v.setArray(a.ravel())
            vectors.append(v)
        basis = PETSc.NullSpace().create(vectors=_orthonormalize(vectors), comm=self.A.getComm())
        self.A.setNearNullSpace(basis)

    def any(self, flag: bool) -> bool:
        """True when ``flag`` is true on some rank (a collective decision)."""
        if self.comm is None:
            return bool(flag)
        from mpi4py import MPI

        return bool(self.comm.allreduce(bool(flag), op=MPI.LOR))

    def assemble(self, local: np.ndarray):
        self.b.zeroEntries()
        self.b.setValues(self.gids, local, addv=self.PETSc.InsertMode.ADD_VALUES)
        self.b.assemble()
        return self.b

    def norms(self, vector) -> tuple[float, float]:
        a = vector.getArray(readonly=True)
        free = float(np.sum(a[~self.owned_constrained] ** 2))
        fixed = float(np.sum(a[self.owned_constrained] ** 2))
        if self.comm is not None:
            from mpi4py import MPI

            free, fixed = self.comm.allreduce(np.array([free, fixed]), op=MPI.SUM)
        return float(np.sqrt(free)), float(np.sqrt(fixed))

    def local_norms(self, *vectors: np.ndarray) -> list[float]:
        """Euclidean norms of local dof vectors (3 n_local_nodes,), each dof counted once
        (on the rank that owns it; one Allreduce for all of them)."""
        owned = self.disc.owned
        squares = np.array([float(np.sum(np.asarray(v)[owned] ** 2)) for v in vectors])
        if self.comm is not None:
            from mpi4py import MPI

            squares = self.comm.allreduce(squares, op=MPI.SUM)
        return [float(np.sqrt(x)) for x in squares]

    def solve(self, stiffness: sp.spmatrix, rhs) -> np.ndarray:
        K = sp.csr_matrix(stiffness)   # not modified: the eliminated entries are zeroed in the COO values
        PETSc = self.PETSc
        if self.pattern is None or not (np.array_equal(self.pattern[0], K.indptr)
                                        and np.array_equal(self.pattern[1], K.indices)):
            rows = np.repeat(np.arange(K.shape[0]), np.diff(K.indptr))
            constrained = self.disc.constrained
            self.eliminated = np.flatnonzero(constrained[rows] | constrained[K.indices])
            I = np.concatenate([self.gids[rows], self.diag_rows]).astype(PETSc.IntType)
            del rows
            J = np.concatenate([self.gids[K.indices], self.diag_rows]).astype(PETSc.IntType)
            self.A.setPreallocationCOO(I, J)
            del I, J
            self.pattern = (K.indptr.copy(), K.indices.copy())
            self.values = np.ones(K.nnz + len(self.diag_rows))   # the diagonal of the constrained rows stays 1
        self.values[:K.nnz] = K.data
        self.values[self.eliminated] = 0.0
        self.A.setValuesCOO(self.values, addv=PETSc.InsertMode.INSERT_VALUES)
        self.A.assemble()
        a = rhs.getArray()
        a[self.owned_constrained] = 0.0
        self.ksp.setOperators(self.A)
        self.ksp.solve(rhs, self.x)
        reason = self.ksp.getConvergedReason()
        if reason < 0:
            raise ConvergenceError(f"PETSc linear solver ({self.solver}) failed: reason {reason}")
        self.scatter.scatter(self.x, self.local, addv=PETSc.InsertMode.INSERT_VALUES,
                             mode=PETSc.ScatterMode.FORWARD)
        return self.local.getArray().copy()

    def to_local(self, vector) -> np.ndarray:
        self.scatter.scatter(vector, self.local, addv=self.PETSc.InsertMode.INSERT_VALUES,
                             mode=self.PETSc.ScatterMode.FORWARD)
        return self.local.getArray().copy()


def _orthonormalize(vectors):
    for i, v in enumerate(vectors):
        for w in vectors[:i]:
            v.axpy(-v.dot(w), w)
        v.normalize()
    return vectors


def make_system(disc, comm=None, solver: str = "auto"):
    """The linear system for a discretisation.

    Parameters
    ----------
    solver : {"auto", "scipy", "mumps", "cg-gamg"}
        ``auto``: scipy in serial when PETSc is missing; MUMPS below 60 000 dofs;
        CG + GAMG above.
    """
    size = 1 if comm is None else comm.size
    if solver == "auto":
        from rom.hifi.petsc import available

        if size == 1 and not available():
            solver = "scipy"
        else:
            solver = "mumps" if disc.n_global_dofs < 60_000 else "cg-gamg"
    if solver == "scipy":
        if size > 1:
            raise ConfigError("the scipy linear solver is serial: use 'mumps' or 'cg-gamg' under MPI")
        return ScipySystem(disc)
    return PetscSystem(disc, comm if size > 1 else None, solver=solver)
