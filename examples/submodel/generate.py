"""Training data for the stochastic submodel: a dolfinx 0.11 plate with a hole under random impacts.

Run under MPI (independent samples per rank: each rank solves its own samples on its
own copy of the mesh, ``MPI.COMM_SELF``)::

    mpiexec -n 2 .venv/bin/python examples/submodel/generate.py --samples 300 --out examples/submodel/data

The global model (dolfinx, linear elastodynamics, Newmark average acceleration):

- plate ``[0, 2] × [0, 1] × [0, 0.1]`` with a through hole of radius 0.25 at ``(1, 0.5)``
  (``--length L --depth D``: ``[0, L] × [−D, 1] × [0, 0.1]``, a larger structure around the
  same hole, zone and impacts — the setting of a submodel, the zone a small part of the whole),
  gmsh tetrahedra (P1), ``E = 1000``, ``ν = 0.3``, ``ρ = 1`` (consistent units), clamped at ``x = 0``;
- an impact on the top edge ``y = 1``: traction ``−A s(t) exp(−((x − x₀)/w)²) e_y``,
  ``s(t) = sin(π t/τ)`` on ``[0, τ]`` (a half-sine pulse), then free vibration up to
  ``t = T``; random location ``x₀ ~ U(0.3, 1.9)``, amplitude ``A ~ U(0.5, 1.5)``,
  duration ``τ ~ U(0.01, 0.04)``, ``w = 0.08``; sample ``i`` draws from
  ``SeedSequence([seed, i])`` whatever the rank count;
- one LU factorisation of ``4/Δt² M + K`` per rank (the matrix is the same for every
  sample), then ``--steps`` back-substitutions per sample.

Each sample writes its displacement history ``u`` and the cell-wise von Mises stress
``von_mises`` (DG0) with ``dolfinx.io.XDMFFile`` (``global/sample_XXXX.xdmf`` + ``.h5``),
and its quantity of interest: the peak von Mises stress in the zone around the hole
(the cells whose vertices all lie in the box ``ZONE``, over all times). The XDMF file
is then read back through nirom's FEniCS adapter (:func:`io_adapters.fenics.read`,
coordinate-canonical node order, so the 1-rank and P-rank files give the same arrays;
the adapter's ``Mesh.point_ids`` are the file's node indices, which dolfinx's
``mesh.geometry.input_global_indices`` maps to gmsh's node numbers — recorded as
``input_ids``), the submodel is cut from it (:func:`io_adapters.submodel.extract`,
the same box) and the displacement history is transferred onto the submodel boundary
(:func:`io_adapters.submodel.transfer`). Outputs in ``--out``:

``traces.h5``
    Every sample's boundary trace and QoI (:func:`rom.submodel_mc.write_traces`),
    with the split training / held-out.
``submodel.toml`` + ``submodel.h5``
    The submodel problem (zone mesh with its boundary node set, material with
    density, times, a zero imposed field on the boundary that the Monte Carlo
    replaces), written by :func:`io_adapters.problem_writer.write_problem`.
``global/``
    The XDMF files of the first ``--keep`` samples (the others are removed once read)
    and ``global_0000.h5``: sample 0 converted to a nirom store.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import dolfinx_solver  # noqa: F401  (first: orders MPI before dolfinx)

import numpy as np
import scipy.sparse.linalg as spla
from mpi4py import MPI

import dolfinx
import ufl
from dolfinx import fem, io

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

E, NU, RHO = 1000.0, 0.3, 1.0
LENGTH, HEIGHT, THICKNESS = 2.0, 1.0, 0.1
HOLE = (1.0, 0.5, 0.25)                       # centre x, y and radius
ZONE = ((0.6, 0.1, -1.0), (1.4, 0.9, 1.0))      # the zone of interest (box around the hole)
WIDTH = 0.08                                  # spatial width of the impact
LOCATION, AMPLITUDE, DURATION = (0.3, 1.9), (0.5, 1.5), (0.01, 0.04)
MATERIAL = {"behavior": "linear_elastic", "elasticity": {"young": E, "poisson": NU}, "density": RHO}


# ================================================================== the global model
def plate_mesh(size: float, length: float = LENGTH, bottom: float = 0.0) -> dolfinx.mesh.Mesh:
    """The plate with a hole (gmsh OCC, tetrahedra), on ``COMM_SELF`` (the same mesh on every rank).

    ``[0, length] × [bottom, HEIGHT] × [0, THICKNESS]``: a longer or deeper plate is a larger
    global structure around the same hole, zone and impacts.
    """
    import gmsh

    gmsh.initialize(["-noenv"])
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.option.setNumber("General.NumThreads", 1)
        gmsh.model.add("plate")
        box = gmsh.model.occ.addBox(0.0, bottom, 0.0, length, HEIGHT - bottom, THICKNESS)
        hole = gmsh.model.occ.addCylinder(HOLE[0], HOLE[1], -0.1, 0.0, 0.0, THICKNESS + 0.2, HOLE[2])
        gmsh.model.occ.cut([(3, box)], [(3, hole)])
        gmsh.model.occ.synchronize()
        volumes = gmsh.model.getEntities(3)
        gmsh.model.addPhysicalGroup(3, [v[1] for v in volumes], 1)
        gmsh.option.setNumber("Mesh.CharacteristicLengthMax", size)
        gmsh.option.setNumber("Mesh.CharacteristicLengthMin", 0.5 * size)
        gmsh.model.mesh.generate(3)
        data = dolfinx.io.gmsh.model_to_mesh(gmsh.model, MPI.COMM_SELF, 0, gdim=3)
    finally:
        gmsh.finalize()
    return data.mesh


class PlateModel:
    """Matrices, the factorised Newmark operator and the impact load of the plate (one rank)."""

    def __init__(self, domain, times: np.ndarray):
        self.domain, self.times = domain, times
        dt = np.diff(times)
        if not np.allclose(dt, dt[0]):
            raise ValueError("the generator uses a constant time step")
        self.dt = float(dt[0])
        V = self.V = fem.functionspace(domain, ("Lagrange", 1, (3,)))
        lmbda, mu = E * NU / ((1 + NU) * (1 - 2 * NU)), E / (2 * (1 + NU))
        eps = lambda w: ufl.sym(ufl.grad(w))  # noqa: E731
        sigma = lambda w: lmbda * ufl.tr(eps(w)) * ufl.Identity(3) + 2 * mu * eps(w)  # noqa: E731
        u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
        K = fem.assemble_matrix(fem.form(ufl.inner(sigma(u), eps(v)) * ufl.dx)).to_scipy()
        M = fem.assemble_matrix(fem.form(RHO * ufl.inner(u, v) * ufl.dx(metadata={"quadrature_degree": 2}))).to_scipy()
        n_dofs = K.shape[0]
        clamp = dolfinx.mesh.locate_entities_boundary(domain, 2, lambda x: np.isclose(x[0], 0.0))
        clamped = np.asarray(fem.locate_dofs_topological(V, 2, clamp))
        fixed = np.zeros(n_dofs, dtype=bool)
        fixed[(3 * clamped[:, None] + np.arange(3)).ravel()] = True
        self.free = np.flatnonzero(~fixed)
        self.K, self.M = K.tocsr(), M.tocsr()
        c0 = 4.0 / self.dt ** 2
        A = (c0 * M + K).tocsr()[self.free][:, self.free].tocsc()
        self.solve = spla.splu(A).solve
        # the impact: a Gaussian traction on the top edge, its centre a Constant (one compiled form)
        top = dolfinx.mesh.locate_entities_boundary(domain, 2, lambda x: np.isclose(x[1], HEIGHT))
        tags = dolfinx.mesh.meshtags(domain, 2, np.sort(top), np.ones(len(top), dtype=np.int32))
        ds = ufl.Measure("ds", domain=domain, subdomain_data=tags)
        x = ufl.SpatialCoordinate(domain)
        self.centre = fem.Constant(domain, 1.0)
        g = ufl.exp(-((x[0] - self.centre) / WIDTH) ** 2)
        self.load_form = fem.form(ufl.inner(ufl.as_vector((0.0, -g, 0.0)), v) * ds(1))
        # cell-wise strain operator (P1: constant per cell) for the von Mises stress
        geometry = domain.geometry.x
        cells = np.asarray(domain.geometry.dofmaps[0])
        self.cell_dofs = np.asarray(V.dofmap.list)
        X = geometry[cells]                                    # (n_cells, 4, 3)
        J = X[:, 1:] - X[:, :1]                                # rows: edges
        grads = np.linalg.solve(J, np.broadcast_to(np.array([[-1.0, 1, 0, 0], [-1, 0, 1, 0], [-1, 0, 0, 1]]),
                                                   (len(cells), 3, 4)))   # (n_cells, 3, 4): d N_a / d x_i
        self.grads = grads
        self.lame = (lmbda, mu)
        centroids = X.mean(axis=1)
        lo, hi = (np.asarray(c) for c in ZONE)
        self.zone = np.flatnonzero(np.all((X >= lo - 1e-9) & (X <= hi + 1e-9), axis=(1, 2)))
        self.centroids = centroids
        self.W = fem.functionspace(domain, ("DG", 0))

    def von_mises(self, u: np.ndarray) -> np.ndarray:
        """Cell-wise von Mises stress of a P1 displacement ``(n_dofs,)`` → ``(n_cells,)``."""
        ue = u.reshape(-1, 3)[self.cell_dofs]                  # (n_cells, 4, 3)
        grad = np.einsum("cia,caj->cji", self.grads, ue)       # (n_cells, 3, 3): du_j/dx_i transposed → G[j, i]
        eps = 0.5 * (grad + np.swapaxes(grad, 1, 2))
        lmbda, mu = self.lame
        tr = np.trace(eps, axis1=1, axis2=2)
        s = 2 * mu * eps + lmbda * tr[:, None, None] * np.eye(3)
        dev = s - np.trace(s, axis1=1, axis2=2)[:, None, None] * np.eye(3) / 3
        return np.sqrt(1.5 * np.einsum("cij,cij->c", dev, dev))

    def run(self, location: float, amplitude: float, duration: float, xdmf: Path | None):
        """One impact; returns the QoI (peak zone von Mises) and the solve time (without the file output)."""
        self.centre.value = location
        shape = fem.assemble_vector(self.load_form).array.copy()
        times, dt, free = self.times, self.dt, self.free
        pulse = np.where(times <= duration, np.sin(np.pi * np.clip(times / duration, 0.0, 1.0)), 0.0) * amplitude
        n = len(shape)
        u, v, a = np.zeros(n), np.zeros(n), np.zeros(n)     # at rest; s(0) = 0 so a(0) = 0
        c0, c1 = 4.0 / dt ** 2, 4.0 / dt
        history = np.zeros((len(times), n))
        vm = np.zeros((len(times), len(self.cell_dofs)))
        start = time.perf_counter()
        for k in range(1, len(times)):
            rhs = pulse[k] * shape + self.M @ (c0 * u + c1 * v + a)
            u1 = np.zeros(n)
            u1[free] = self.solve(rhs[free])
            a1 = c0 * (u1 - u) - c1 * v - a
            v = v + 0.5 * dt * (a + a1)
            u, a = u1, a1
            history[k] = u
            vm[k] = self.von_mises(u)
        qoi = float(vm[:, self.zone].max())
        seconds = time.perf_counter() - start
        if xdmf is not None:
            uh = fem.Function(self.V, name="u")
            sh = fem.Function(self.W, name="von_mises")
            with io.XDMFFile(MPI.COMM_SELF, str(xdmf), "w") as out:
                out.write_mesh(self.domain)
                for k, t in enumerate(times):
                    uh.x.array[:] = history[k]
                    sh.x.array[self.W.dofmap.list[:, 0]] = vm[k]
                    out.write_function(uh, float(t))
                    out.write_function(sh, float(t))
        return qoi, seconds


def draw(seed: int, index: int) -> tuple[float, float, float]:
    """Location, amplitude and duration of sample ``index`` (independent of the rank count)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
    return (float(rng.uniform(*LOCATION)), float(rng.uniform(*AMPLITUDE)), float(rng.uniform(*DURATION)))


# ================================================================== nirom's side
def boundary_trace(xdmf: Path, submodel) -> tuple[np.ndarray, object]:
    """The displacement history on the submodel boundary, read through nirom's FEniCS adapter."""
    from io_adapters.fenics import read
    from io_adapters.submodel import transfer

    simulation = read(xdmf)
    return transfer(simulation, submodel, field="u").values, simulation


def cut(simulation):
    from io_adapters.submodel import extract

    return extract(simulation.mesh, box=ZONE)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="example: mpiexec -n 2 .venv/bin/python examples/submodel/generate.py "
                                            "--samples 300 --out examples/submodel/data")
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "data")
    parser.add_argument("--size", type=float, default=0.1, help="gmsh characteristic length (default 0.1)")
    parser.add_argument("--steps", type=int, default=60, help="time steps (default 60)")
    parser.add_argument("--duration", type=float, default=0.15, help="simulated time T (default 0.15)")
    parser.add_argument("--held-out", type=float, default=0.3, help="share of held-out samples (default 0.3)")
    parser.add_argument("--keep", type=int, default=4, help="XDMF files kept (the first ones; default 4)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--length", type=float, default=LENGTH,
                        help=f"plate length along x (default {LENGTH:g}); the hole, the zone and the impacts stay put")
    parser.add_argument("--depth", type=float, default=0.0,
                        help="the plate extends down to y = -DEPTH (default 0): with --length, a larger global "
                             "structure around the same zone")
    args = parser.parse_args(argv)
    from io_adapters.errors import ConfigError

    comm = MPI.COMM_WORLD
    if args.samples < 4 or not 0 < args.held_out < 1 or args.steps < 2 or args.size <= 0:
        raise ConfigError("generate.py: need --samples ≥ 4, 0 < --held-out < 1, --steps ≥ 2, --size > 0")
    if args.length < LOCATION[1] + 0.1 or args.depth < 0:
        raise ConfigError(f"generate.py: need --length ≥ {LOCATION[1] + 0.1:g} (the impacts reach x = "
                          f"{LOCATION[1]:g}) and --depth ≥ 0")
    out = args.out
    folder = out / "global"
    if comm.rank == 0:
        folder.mkdir(parents=True, exist_ok=True)
    comm.Barrier()
    started = time.perf_counter()
    times = np.linspace(0.0, args.duration, args.steps + 1)
    domain = plate_mesh(args.size, args.length, -args.depth)
    setup = time.perf_counter()
    model = PlateModel(domain, times)
    setup = time.perf_counter() - setup
    n_vertices = comm.allgather(domain.geometry.x.shape[0])
    if len(set(n_vertices)) != 1:
        raise RuntimeError(f"the ranks meshed the plate differently: {n_vertices} nodes")

    mine = range(comm.rank, args.samples, comm.size)
    submodel, records = None, {}
    for i in mine:
        parameters = draw(args.seed, i)
        path = folder / f"sample_{i:04d}.xdmf"
        qoi, seconds = model.run(*parameters, path)
        if submodel is None:
            from io_adapters.fenics import read

            first = read(path)
            submodel = cut(first)
            input_ids = np.asarray(domain.geometry.input_global_indices)[first.mesh.point_ids]
        trace, _ = boundary_trace(path, submodel)
        records[i] = (trace, qoi, parameters, seconds)
        if i >= args.keep:
            path.unlink()
            path.with_suffix(".h5").unlink()
        if comm.rank == 0 and len(records) % 10 == 0:
            print(f"rank 0: {len(records)}/{len(mine)} samples, last {seconds:.3f} s solve, QoI {qoi:.4g}",
                  flush=True)
    gathered = comm.gather(records, root=0)
    ids = comm.gather(input_ids if submodel is not None else None, root=0)
    if comm.rank == 0:
        from io_adapters.problem import ImposedField, Problem
        from io_adapters.problem_writer import write_problem
        from rom.submodel_mc import TraceSet, write_traces

        if any(x is not None and not np.array_equal(x, ids[0]) for x in ids):
            raise RuntimeError("the canonical node order differs between ranks")
        merged = {k: v for part in gathered for k, v in part.items()}
        order = sorted(merged)
        traces = np.stack([merged[i][0] for i in order])
        held_out = np.zeros(len(order), dtype=bool)
        held_out[np.random.default_rng(args.seed).permutation(len(order))[:round(args.held_out * len(order))]] = True
        mesh = submodel.mesh
        boundary = mesh.node_sets[submodel.boundary]
        data = TraceSet(traces=traces, node_ids=submodel.boundary_global_nodes, times=times,
                        points=mesh.points[boundary], qoi=np.array([merged[i][1] for i in order]),
                        parameters=np.array([merged[i][2] for i in order]),
                        parameter_names=("location", "amplitude", "duration"), held_out=held_out,
                        seconds=np.array([merged[i][3] for i in order]),
                        attributes={"zone": json.dumps(ZONE), "setup_seconds": setup, "ranks": comm.size,
                                    "plate": json.dumps([args.length, -args.depth, HEIGHT, THICKNESS]),
                                    "global_nodes": int(submodel.n_global_nodes),
                                    "global_cells": int(submodel.n_global_cells),
                                    "zone_cells_dolfinx": int(len(model.zone)), "seed": args.seed,
                                    "input_ids": json.dumps(ids[0].tolist())})
        write_traces(out / "traces.h5", data)
        zero = ImposedField.from_history(submodel.boundary, times, np.zeros((len(times), len(boundary), 3)),
                                         source="generate.py: replaced by each Monte Carlo sample")
        template = Problem(mesh=mesh, materials={"ALL_ELEMENT": MATERIAL}, imposed_fields=(zero,), times=times,
                           source="examples/submodel/generate.py")
        write_problem(template, out / "submodel.toml")
        import io_adapters
        from io_adapters.fenics import read

        keep0 = folder / "sample_0000.xdmf"
        if keep0.exists():
            io_adapters.save(read(keep0), folder / "global_0000.h5")
        total = time.perf_counter() - started
        print(f"{len(order)} samples on {comm.size} rank(s) in {total:.1f} s: global model "
              f"{submodel.n_global_nodes} nodes / {submodel.n_global_cells} cells, zone {mesh.n_nodes} nodes / "
              f"{mesh.n_cells} cells, boundary {len(boundary)} nodes, {len(times)} times; per sample "
              f"{np.mean(data.seconds):.3f} s solve (+ setup {setup:.2f} s per rank); QoI mean "
              f"{data.qoi.mean():.4g}, std {data.qoi.std(ddof=1):.4g}; wrote {out / 'traces.h5'}, "
              f"{out / 'submodel.toml'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
