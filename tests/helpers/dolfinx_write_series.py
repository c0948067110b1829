"""Write dolfinx 0.11 time series (``XDMFFile``, ``VTXWriter``) for the tests of ``io_adapters.fenics``.

Run as ``mpiexec -n P python dolfinx_write_series.py OUTDIR``. Writes, in OUTDIR:

``p1.xdmf``
    A linear-elasticity solve on a tetrahedral box (P1 geometry) at three load
    levels: the displacement ``u`` (P1 vector), a temperature ``T`` (P1 scalar)
    and the von Mises stress ``von_mises`` (DG0, cell-centred).
``p2.xdmf``
    The same solve on a second-order Gmsh box mesh (``Tetrahedron_10``) with a P2
    displacement ``u``.
``p2_2d.xdmf``
    A plane-strain solve on a second-order Gmsh rectangle (``Triangle_6``), P2 ``u``.
``p1.bp``, ``p2.bp``, ``p2_2d.bp``
    The continuous functions of the same cases written by ``VTXWriter`` (ADIOS2).
``reference.npz``
    dolfinx's own arrays, gathered on rank 0 independently of the XDMF writer:
    for each case and function, the coordinates of the owned dofs (or the cell
    centroids of a DG0 function) and ``x.array`` values at each step,
    as ``<case>/<function>/coords`` (n, 3) and ``<case>/<function>/values`` (n_t, n, bs),
    plus ``<case>/times``.
"""

import dolfinx_solver  # noqa: F401  must be imported before dolfinx (orders MPI)

import sys
from pathlib import Path

import numpy as np
import ufl
from mpi4py import MPI
from petsc4py import PETSc

import dolfinx
import dolfinx.fem.petsc
from dolfinx import fem, io, mesh

COMM = MPI.COMM_WORLD
TIMES = (0.25, 0.5, 1.0)
E, NU = 70e3, 0.3


def gmsh_mesh(dim: int) -> dolfinx.mesh.Mesh:
    """A second-order (straight-edged) Gmsh mesh of a box (3D) or rectangle (2D)."""
    import gmsh

    gmsh.initialize()
    gmsh.option.setNumber("General.Terminal", 0)
    if COMM.rank == 0:
        gmsh.model.add(f"box{dim}")
        if dim == 3:
            tag = gmsh.model.occ.addBox(0, 0, 0, 1, 0.2, 0.2)
        else:
            tag = gmsh.model.occ.addRectangle(0, 0, 0, 1, 0.2)
        gmsh.model.occ.synchronize()
        gmsh.model.addPhysicalGroup(dim, [tag], 1, name="solid")
        gmsh.option.setNumber("Mesh.MeshSizeMax", 0.1)
        gmsh.model.mesh.generate(dim)
        gmsh.model.mesh.setOrder(2)
    data = io.gmsh.model_to_mesh(gmsh.model, COMM, 0, gdim=dim)
    gmsh.finalize()
    return data.mesh


def elasticity(domain, degree: int, loads):
    """Displacements (one Function per load) of a bar clamped at x = 0 under body loads."""
    gdim = domain.geometry.dim
    V = fem.functionspace(domain, ("Lagrange", degree, (gdim,)))
    lm, mu = E * NU / (1 + NU) / (1 - 2 * NU), E / 2 / (1 + NU)

    def eps(v):
        return ufl.sym(ufl.grad(v))

    def sig(v):
        return lm * ufl.tr(eps(v)) * ufl.Identity(gdim) + 2 * mu * eps(v)

    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    fdim = domain.topology.dim - 1
    left = mesh.locate_entities_boundary(domain, fdim, lambda x: np.isclose(x[0], 0))
    bc = fem.dirichletbc(np.zeros(gdim, dtype=PETSc.ScalarType), fem.locate_dofs_topological(V, fdim, left), V)
    g = fem.Constant(domain, np.zeros(gdim, dtype=PETSc.ScalarType))
    solutions = []
    for load in loads:
        g.value[:] = load
        problem = fem.petsc.LinearProblem(
            ufl.inner(sig(u), eps(v)) * ufl.dx, ufl.dot(g, v) * ufl.dx, bcs=[bc],
            petsc_options_prefix="elas_",
            petsc_options={"ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "mumps"},
        )
        uh = problem.solve()
        uh = uh[0] if isinstance(uh, tuple) else uh
        out = fem.Function(V, name="u")
        out.x.array[:] = uh.x.array
        solutions.append(out)
    return solutions, sig


def gather_dofs(functions) -> dict:
    """Coordinates of the owned dofs and their values at every step, on rank 0."""
    V = functions[0].function_space
    n_owned = V.dofmap.index_map.size_local
    bs = V.dofmap.index_map_bs
    coords = V.tabulate_dof_coordinates()[:n_owned]
    values = np.stack([f.x.array.reshape(-1, bs)[:n_owned] for f in functions])
    return gather(coords, values)


def gather(coords, values) -> dict:
    all_coords = COMM.gather(coords, root=0)
    all_values = COMM.gather(values, root=0)
    if COMM.rank:
        return {}
    return {"coords": np.concatenate(all_coords), "values": np.concatenate(all_values, axis=1)}


def cell_centroids(domain) -> np.ndarray:
    n_cells = domain.topology.index_map(domain.topology.dim).size_local
    x = domain.geometry.x
    return x[domain.geometry.dofmaps[0][:n_cells]].mean(axis=1)


def write_case(path: Path, domain, functions_by_name: dict) -> None:
    with io.XDMFFile(COMM, str(path), "w") as xdmf:
        xdmf.write_mesh(domain)
        for k, t in enumerate(TIMES):
            for functions in functions_by_name.values():
                xdmf.write_function(functions[k], t)


def write_vtx(path: Path, functions_by_name: dict) -> None:
    """The same steps with ``VTXWriter`` (one ``.bp`` folder; functions of one element family)."""
    first = {name: fs[0] for name, fs in functions_by_name.items()}
    outputs = {name: fem.Function(f.function_space, name=name) for name, f in first.items()}
    with io.VTXWriter(COMM, str(path), list(outputs.values()), engine="BP4") as vtx:
        for k, t in enumerate(TIMES):
            for name, functions in functions_by_name.items():
                outputs[name].x.array[:] = functions[k].x.array
            vtx.write(t)


def main(outdir: Path) -> None:
    reference = {}

    # -- P1: tetrahedral box, vector u, scalar temperature, DG0 von Mises
    domain = mesh.create_box(COMM, [[0, 0, 0], [1, 0.2, 0.2]], [8, 3, 3], mesh.CellType.tetrahedron)
    loads = [(0.0, 0.0, -10.0 * t) for t in TIMES]
    u, sig = elasticity(domain, 1, loads)
    T_space = fem.functionspace(domain, ("Lagrange", 1))
    D_space = fem.functionspace(domain, ("DG", 0))
    temperatures, von_mises = [], []
    for k, t in enumerate(TIMES):
        T = fem.Function(T_space, name="T")
        T.interpolate(lambda x, t=t: 20.0 + 100.0 * t * x[0] + 10.0 * x[1] * x[2])
        temperatures.append(T)
        s = sig(u[k])
        dev = s - ufl.tr(s) / 3 * ufl.Identity(3)
        vm = fem.Function(D_space, name="von_mises")
        vm.interpolate(fem.Expression(ufl.sqrt(1.5 * ufl.inner(dev, dev)), D_space.element.interpolation_points))
        von_mises.append(vm)
    write_case(outdir / "p1.xdmf", domain, {"u": u, "T": temperatures, "von_mises": von_mises})
    write_vtx(outdir / "p1.bp", {"u": u, "T": temperatures})   # VTX holds continuous fields only
    n_cells = domain.topology.index_map(3).size_local
    for name, functions in (("u", u), ("T", temperatures)):
        for key, value in gather_dofs(functions).items():
            reference[f"p1/{name}/{key}"] = value
    cells = gather(cell_centroids(domain), np.stack([f.x.array[:n_cells, None] for f in von_mises]))
    for key, value in cells.items():
        reference[f"p1/von_mises/{key}"] = value

    # -- P2 geometry: second-order Gmsh meshes, P2 displacement (3D and 2D)
    for case, dim in (("p2", 3), ("p2_2d", 2)):
        domain = gmsh_mesh(dim)
        loads = [(0.0,) * (dim - 1) + (-10.0 * t,) for t in TIMES]
        u, _ = elasticity(domain, 2, loads)
        write_case(outdir / f"{case}.xdmf", domain, {"u": u})
        write_vtx(outdir / f"{case}.bp", {"u": u})
        for key, value in gather_dofs(u).items():
            reference[f"{case}/u/{key}"] = value

    if COMM.rank == 0:
        reference["times"] = np.asarray(TIMES)
        reference["ranks"] = np.asarray(COMM.size)
        np.savez(outdir / "reference.npz", **reference)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
