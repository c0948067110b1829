"""High-fidelity solver figures on the blade example, measured side by side in one run.

1. **Newton iteration** (assembly + solve) of nirom's solver versus dolfinx on the
   same tet10 mesh (dolfinx: P2 on the straight-sided corner mesh, the same
   discretisation), the same law (linear elasticity, centrifugal body force, root
   clamped, the same 4-point rule) and the same PETSc linear solver (MUMPS Cholesky,
   or CG + GAMG with the rigid-body near-null space at rtol 1e-12). Components are
   the best of ``--repeat`` iterations after one warm-up; each subprocess runs
   ``--rounds`` times, interleaved with the others, and its best round counts (the
   machine may be shared: the load average is recorded). nirom is also timed with
   the ``gen_evp`` law of the blade (a Newton step from rest to the peak of the
   flight cycle). Target: nirom ≤ 2 × dolfinx.
2. **Peak memory** (``ru_maxrss``) of each of those subprocesses, and above the
   baseline of the same process after its imports and the mesh.
3. **Constitutive update throughput** (integration points per second) of J2,
   elasticity and ``gen_evp``: ``benchmarks.bench_materials.run()``.
4. **Parallel speed-up** of ``rom.hifi.solve`` on the blade of ≥ 150 000 dofs:
   the first ``--steps`` steps of the flight cycle (4: up to its peak, viscoplastic)
   on 1 and on ``--ranks`` MPI ranks (``mpiexec``), best of ``--rounds``.
   Target: ≥ 1.5 × on 2 ranks.

Every solver runs in its own subprocess (``OMP_NUM_THREADS=1``); meshes are made
once by the parent and passed as files.

Run: ``python -m benchmarks.bench_hifi [--quick] [--size 2] [--parallel-size 1.5]
[--solver mumps cg-gamg] [--ranks 2] [--steps 4] [--repeat 3] [--rounds 2]``. Prints a
table and writes ``benchmarks/results/hifi.json``. ``--quick`` (14 000 and 27 000 dofs)
takes about two minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"
ROOT = Path(__file__).resolve().parents[1]

#: Linear elasticity shared by nirom and dolfinx (MPa, t/mm³, rad/s).
ELASTIC = {"young": 2.0e5, "poisson": 0.3, "density": 8.2e-9}
OMEGA = 1000.0

_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

# ------------------------------------------------------------------ children
_NIROM_CHILD = r"""
import json, resource, sys, time
from dataclasses import replace
sys.path.insert(0, sys.argv[1])
import numpy as np
import io_adapters
from io_adapters.problem import ALL_ELEMENT, Centrifugal, Dirichlet, Problem
from rom import fem
from rom.hifi.discretization import build
from rom.hifi.linear import make_system
from rom.hifi.newton import constitutive_update, initial_state
from examples.blade import make_blade_problem

store, law, solver = sys.argv[2:5]
repeat, omega, elastic = int(sys.argv[5]), float(sys.argv[6]), json.loads(sys.argv[7])
mesh = io_adapters.read(store).mesh
baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
if law == "elastic":
    spec = {"behavior": "linear_elastic", "density": elastic["density"],
            "elasticity": {"young": elastic["young"], "poisson": elastic["poisson"]}}
    problem = Problem(mesh=mesh, materials={ALL_ELEMENT: spec},
                      dirichlet=tuple(Dirichlet("root_bottom", c, 0.0) for c in range(3)),
                      centrifugal=(Centrifugal(None, (0.0, 0.0, -250.0), (1.0, 0.0, 0.0), omega),),
                      times=[0.0, 1.0], source="bench_hifi elastic")
    t_new = 1.0
else:   # the blade case itself: rest -> peak of the flight cycle in one step
    problem = replace(make_blade_problem(0.0, mesh=mesh, seed=0, n_cycles=1, steps_per_cycle=3, omega=omega),
                      times=[0.0, 20.0])
    t_new = 20.0
start = time.perf_counter()
disc = build(problem)
system = make_system(disc, None, solver)
setup = time.perf_counter() - start
state = initial_state(disc, 0.0)
T_new = disc.temperature(t_new)
if T_new is None:
    T_new = state.temperature
f_ext = disc.external_load(t_new)
u = np.zeros(disc.n_dofs)
times = {"constitutive": [], "internal_forces": [], "stiffness": [], "solve": []}
residuals = []
for it in range(repeat + 1):
    t0 = time.perf_counter()
    strain = (disc.B @ u).reshape(-1, 6)
    stress, tangent, internal = constitutive_update(disc, state, strain, T_new, t_new - state.time)
    t1 = time.perf_counter()
    residual = system.assemble(fem.internal_forces(disc.B, disc.weights, stress) - f_ext)
    residuals.append(system.norms(residual)[0])
    t2 = time.perf_counter()
    K = disc.stiffness(tangent)   # as the solver does: pattern found at the first iteration
    t3 = time.perf_counter()
    if isinstance(residual, np.ndarray):
        residual = -residual
    else:
        residual.scale(-1.0)   # a PETSc Vec
    du = system.solve(K, residual)
    t4 = time.perf_counter()
    u = u + du
    if it:   # the first iteration is the warm-up (symbolic factorisation, preallocation)
        for key, dt in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            times[key].append(dt)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"dofs": disc.n_global_dofs, "points": disc.n_points, "setup_seconds": setup,
                  "seconds": {k: float(np.min(v)) for k, v in times.items()},
                  "median_seconds": {k: float(np.median(v)) for k, v in times.items()},
                  "first_iteration_residuals": residuals[:3], "max_abs_u": float(np.abs(u).max()),
                  "solver": type(system).__name__ + ("" if solver == "scipy" else f" ({system.solver})"),
                  "baseline_rss_bytes": baseline, "peak_rss_bytes": peak}))
"""

_DOLFINX_CHILD = r"""
import dolfinx_solver  # noqa: F401  first: orders MPI
import json, resource, sys, time
import numpy as np
import basix.ufl, ufl
from mpi4py import MPI
from petsc4py import PETSc
import dolfinx, dolfinx.fem.petsc
from dolfinx import fem, mesh as dmesh

data = np.load(sys.argv[1])
solver, repeat, omega, elastic = sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), json.loads(sys.argv[5])
comm = MPI.COMM_SELF
element = basix.ufl.element("Lagrange", "tetrahedron", 1, shape=(3,))
domain = dmesh.create_mesh(comm, data["cells"], ufl.Mesh(element), data["vertices"])
baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
start = time.perf_counter()
V = fem.functionspace(domain, ("Lagrange", 2, (3,)))
E, nu, rho = elastic["young"], elastic["poisson"], elastic["density"]
lam, mu = E * nu / ((1 + nu) * (1 - 2 * nu)), E / (2 * (1 + nu))
eps = lambda w: ufl.sym(ufl.grad(w))
sigma = lambda w: lam * ufl.tr(eps(w)) * ufl.Identity(3) + 2 * mu * eps(w)
u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
x = ufl.SpatialCoordinate(domain)
body = rho * omega**2 * ufl.as_vector((0.0, x[1], x[2] + 250.0))   # axis: x through (0, 0, -250)
dx = ufl.Measure("dx", domain=domain, metadata={"quadrature_degree": 2})
a = fem.form(ufl.inner(sigma(u), eps(v)) * dx)
L = fem.form(ufl.inner(body, v) * dx)
bottom = fem.locate_dofs_geometrical(V, lambda p: np.isclose(p[2], 0.0))
bc = fem.dirichletbc(np.zeros(3, dtype=PETSc.ScalarType), bottom, V)
A = dolfinx.fem.petsc.create_matrix(a)
b = dolfinx.fem.petsc.create_vector(V)
uh = fem.Function(V)
ksp = PETSc.KSP().create(comm)
if solver == "mumps":
    ksp.setType("preonly")
    ksp.getPC().setType("cholesky")
    ksp.getPC().setFactorSolverType("mumps")
else:
    ksp.setType("cg")
    ksp.setTolerances(rtol=1e-12, atol=1e-300, max_it=5000)
    ksp.getPC().setType("gamg")
    coords = V.tabulate_dof_coordinates()[: V.dofmap.index_map.size_local]
    modes = []
    for k in range(6):
        m = np.zeros((len(coords), 3))
        if k < 3:
            m[:, k] = 1.0
        else:
            i, j = [(0, 1), (1, 2), (2, 0)][k - 3]
            m[:, i], m[:, j] = -coords[:, j], coords[:, i]
        vec = A.createVecLeft()
        vec.setArray(m.ravel())
        modes.append(vec)
    for i, w in enumerate(modes):
        for z in modes[:i]:
            w.axpy(-w.dot(z), z)
        w.normalize()
    A.setNearNullSpace(PETSc.NullSpace().create(vectors=modes, comm=comm))
setup = time.perf_counter() - start
times = {"matrix": [], "vector": [], "solve": []}
for it in range(repeat + 1):
    t0 = time.perf_counter()
    A.zeroEntries()
    dolfinx.fem.petsc.assemble_matrix(A, a, bcs=[bc])
    A.assemble()
    t1 = time.perf_counter()
    with b.localForm() as local:
        local.set(0.0)
    dolfinx.fem.petsc.assemble_vector(b, L)
    dolfinx.fem.petsc.apply_lifting(b, [a], bcs=[[bc]])
    b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
    dolfinx.fem.petsc.set_bc(b, [bc])
    t2 = time.perf_counter()
    ksp.setOperators(A)
    ksp.solve(b, uh.x.petsc_vec)
    t3 = time.perf_counter()
    if ksp.getConvergedReason() < 0:
        raise SystemExit(f"dolfinx: the linear solver failed (reason {ksp.getConvergedReason()})")
    if it:
        for key, dt in zip(times, (t1 - t0, t2 - t1, t3 - t2)):
            times[key].append(dt)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"dofs": V.dofmap.index_map.size_global * 3, "setup_seconds": setup,
                  "seconds": {k: float(np.min(v)) for k, v in times.items()},
                  "median_seconds": {k: float(np.median(v)) for k, v in times.items()},
                  "max_abs_u": float(np.abs(uh.x.array).max()), "dolfinx": dolfinx.__version__,
                  "ksp_iterations": ksp.getIterationNumber(),
                  "baseline_rss_bytes": baseline, "peak_rss_bytes": peak}))
"""

_PARALLEL_CHILD = r"""
import json, logging, sys, time
sys.path.insert(0, sys.argv[1])
from dataclasses import replace
from mpi4py import MPI
import io_adapters
import rom.hifi
from examples.blade import make_blade_problem

store, steps, solver = sys.argv[2], int(sys.argv[3]), sys.argv[4]
comm = MPI.COMM_WORLD
mesh = io_adapters.read(store).mesh
problem = make_blade_problem(0.0, mesh=mesh, seed=0, n_cycles=1, steps_per_cycle=10)
problem = replace(problem, times=problem.times[: steps + 1])
summary = []

class Grab(logging.Handler):
    def emit(self, record):
        if record.getMessage().startswith("solved"):
            summary.append(record.args)

logger = logging.getLogger("rom.hifi.solver")
logger.setLevel(logging.INFO)
logger.addHandler(Grab())
comm.Barrier()
start = time.perf_counter()
rom.hifi.solve(problem, comm if comm.size > 1 else None, linear_solver=solver)
comm.Barrier()
seconds = time.perf_counter() - start
if comm.rank == 0:
    iterations = summary[-1][2] if summary else None
    print(json.dumps({"ranks": comm.size, "dofs": 3 * mesh.n_nodes, "steps": steps, "seconds": seconds,
                      "newton_iterations": iterations}))
"""


def _child(args: list[str], *, timeout: float) -> dict:
    """Run a child process, return the JSON of its last stdout line."""
    env = dict(os.environ, **_ENV)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    out = subprocess.run(args, capture_output=True, text=True, env=env, timeout=timeout)
    if out.returncode != 0:
        tail = "\n".join((out.stderr or out.stdout).strip().splitlines()[-15:])
        raise RuntimeError(f"{' '.join(args[:3])}... failed (exit {out.returncode}):\n{tail}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _write_mesh(size: float, workdir: Path) -> tuple[Path, Path, dict]:
    """Mesh the blade; write a store (nirom) and the corner mesh (dolfinx)."""
    import io_adapters
    from examples.blade import make_blade_mesh

    start = time.perf_counter()
    mesh = make_blade_mesh(size)
    seconds = time.perf_counter() - start
    store = workdir / f"blade_{size:g}.h5"
    io_adapters.save(io_adapters.Simulation(mesh, np.array([0.0]), {}), store)
    corners = mesh.cells["tetra10"][:, :4]
    vertices, cells = np.unique(corners, return_inverse=True)
    npz = workdir / f"blade_{size:g}_corners.npz"
    np.savez(npz, vertices=mesh.points[vertices], cells=cells.reshape(corners.shape).astype(np.int64))
    info = {"size_mm": size, "nodes": mesh.n_nodes, "cells": mesh.n_cells, "dofs": 3 * mesh.n_nodes,
            "meshing_seconds": seconds}
    return store, npz, info


# ------------------------------------------------------------------ sections
def _best_of(rounds: list[dict]) -> dict:
    """The child run of smallest per-iteration time, with every round's time."""
    for child in rounds:
        child["per_iteration_seconds"] = sum(child["seconds"].values())
    best = dict(min(rounds, key=lambda c: c["per_iteration_seconds"]))
    best["per_iteration_seconds_of_each_round"] = [c["per_iteration_seconds"] for c in rounds]
    return best


def newton_iteration(store: Path, npz: Path, *, solver: str, repeat: int, rounds: int = 2, dolfinx: bool = True,
                     timeout: float = 3600.0) -> dict:
    """Per-iteration times and peak memory: nirom (elastic, gen_evp) and dolfinx (elastic).

    The three subprocesses run one after the other, ``rounds`` times (interleaved, so
    that a busy spell of the machine hits both sides); the best round of each counts.
    """
    python = sys.executable
    elastic = json.dumps(ELASTIC)
    runs: dict[str, list[dict]] = {"nirom_elastic": [], "nirom_gen_evp": [], "dolfinx_elastic": []}
    out = {"linear_solver": solver, "load_average_before": os.getloadavg()[0]}
    for _ in range(rounds):
        for law in ("elastic", "gen_evp"):
            runs[f"nirom_{law}"].append(_child([python, "-c", _NIROM_CHILD, str(ROOT), str(store), law, solver,
                                                str(repeat), str(OMEGA), elastic], timeout=timeout))
        if dolfinx and "dolfinx_error" not in out:
            try:
                runs["dolfinx_elastic"].append(_child([python, "-c", _DOLFINX_CHILD, str(npz), solver, str(repeat),
                                                       str(OMEGA), elastic], timeout=timeout))
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                out["dolfinx_error"] = str(exc)
    out.update({name: _best_of(children) for name, children in runs.items() if children})
    out["load_average_after"] = os.getloadavg()[0]
    if "dolfinx_elastic" in out:
        nirom, evp, reference = out["nirom_elastic"], out["nirom_gen_evp"], out["dolfinx_elastic"]
        out["ratio_nirom_over_dolfinx"] = nirom["per_iteration_seconds"] / reference["per_iteration_seconds"]
        out["ratio_evp_over_dolfinx"] = evp["per_iteration_seconds"] / reference["per_iteration_seconds"]
        out["memory_ratio_nirom_over_dolfinx"] = nirom["peak_rss_bytes"] / reference["peak_rss_bytes"]
        out["same_displacement"] = abs(nirom["max_abs_u"] / reference["max_abs_u"] - 1.0) < 1e-6
    return out


def constitutive_throughput(n_points: int, repeat: int = 3) -> dict:
    """Integration points per second of the laws' updates (``benchmarks.bench_materials``)."""
    from benchmarks import bench_materials

    return {"source": "benchmarks.bench_materials.run()",
            "figures": bench_materials.run(n_points=n_points, repeats=repeat)}


def parallel_speedup(store: Path, *, ranks: int, steps: int, solver: str, rounds: int = 2,
                     timeout: float = 7200.0) -> dict:
    """Wall time of the first steps of the blade cycle on 1 and ``ranks`` MPI ranks (best of ``rounds``)."""
    mpiexec = Path(sys.executable).with_name("mpiexec")
    mpiexec = str(mpiexec) if mpiexec.exists() else "mpiexec"
    out = {"linear_solver": solver, "load_average_before": os.getloadavg()[0]}
    for _ in range(rounds):
        for n in (1, ranks):
            child = _child([mpiexec, "-n", str(n), sys.executable, "-c", _PARALLEL_CHILD, str(ROOT), str(store),
                            str(steps), solver], timeout=timeout)
            best = out.get(f"ranks_{n}")
            if best is None or child["seconds"] < best["seconds"]:
                out[f"ranks_{n}"] = {**child, "seconds_of_each_round": (best or {}).get("seconds_of_each_round", [])}
            out[f"ranks_{n}"]["seconds_of_each_round"].append(child["seconds"])
    out["load_average_after"] = os.getloadavg()[0]
    out["speedup"] = out["ranks_1"]["seconds"] / out[f"ranks_{ranks}"]["seconds"]
    return out


def run(*, quick: bool = False, size: float | None = None, parallel_size: float | None = None,
        solvers: tuple[str, ...] = ("mumps", "cg-gamg"), ranks: int = 2, steps: int = 4, repeat: int = 3,
        rounds: int = 2, n_points: int | None = None, dolfinx: bool = True, parallel: bool = True,
        workdir: Path | None = None) -> dict:
    """Measure every figure; see the module docstring.

    Parameters
    ----------
    quick : bool
        Small meshes (size 4 for the iteration, 3 for the parallel run): a few minutes.
    size, parallel_size : float, optional
        Blade element sizes (mm) of sections 1–2 and of section 4 (defaults: 2 and
        1.5, that is ~74 000 and ~160 000 dofs).
    solvers : tuple of str
        Linear solvers of section 1.
    ranks, steps : int
        Section 4: ranks compared with 1, and time steps solved.
    repeat : int
        Timed Newton iterations after the warm-up (the best counts).
    rounds : int
        Times every subprocess of sections 1, 2 and 4 is run, interleaved (the best counts).
    n_points : int, optional
        Points of section 3 (default 1 000 000, 100 000 when quick).
    dolfinx, parallel : bool
        Run those sections.
    workdir : path, optional
        Where the meshes go (a temporary folder by default).

    Returns
    -------
    dict
        JSON-ready figures.
    """
    size = size if size is not None else (4.0 if quick else 2.0)
    parallel_size = parallel_size if parallel_size is not None else (3.0 if quick else 1.5)
    n_points = n_points or (100_000 if quick else 1_000_000)
    figures = {"machine": {"python": platform.python_version(), "processor": platform.processor(),
                           "cpus": os.cpu_count()}, "quick": quick}
    with tempfile.TemporaryDirectory(prefix="nirom-bench-hifi-", dir=workdir) as tmp:
        tmp = Path(tmp)
        store, npz, info = _write_mesh(size, tmp)
        figures["mesh"] = info
        figures["newton_iteration"] = [newton_iteration(store, npz, solver=s, repeat=repeat, rounds=rounds,
                                                        dolfinx=dolfinx) for s in solvers]
        figures["constitutive_update"] = constitutive_throughput(n_points, repeat)
        if parallel:
            store, _, info = _write_mesh(parallel_size, tmp) if parallel_size != size else (store, npz, info)
            figures["parallel"] = {"mesh": info, **parallel_speedup(store, ranks=ranks, steps=steps,
                                                                    solver="auto", rounds=rounds)}
    return figures


def _mib(n: float) -> str:
    return f"{n / 2**20:8.0f} MiB"


def print_table(figures: dict) -> None:
    """Print the figures as a readable table."""
    mesh = figures["mesh"]
    print(f"blade mesh: size {mesh['size_mm']:g} mm, {mesh['cells']} tet10, {mesh['dofs']} dofs")
    for block in figures["newton_iteration"]:
        print(f"\n[1-2] Newton iteration, linear solver {block['linear_solver']} (best, s; load average "
              f"{block['load_average_before']:.1f} -> {block['load_average_after']:.1f})")
        for name in ("nirom_elastic", "nirom_gen_evp", "dolfinx_elastic"):
            if name not in block:
                continue
            b = block[name]
            parts = "  ".join(f"{k} {v:.3f}" for k, v in b["seconds"].items())
            print(f"  {name:16s} {b['per_iteration_seconds']:7.3f} s/iteration   ({parts})")
            print(f"  {'':16s} peak RSS {_mib(b['peak_rss_bytes'])}, above baseline "
                  f"{_mib(b['peak_rss_bytes'] - b['baseline_rss_bytes'])}")
        if "ratio_nirom_over_dolfinx" in block:
            print(f"  ratio nirom/dolfinx (elastic): {block['ratio_nirom_over_dolfinx']:.2f} (target <= 2); "
                  f"gen_evp/dolfinx elastic: {block['ratio_evp_over_dolfinx']:.2f}; "
                  f"memory nirom/dolfinx: {block['memory_ratio_nirom_over_dolfinx']:.2f}; "
                  f"same max|u|: {block['same_displacement']}")
        elif "dolfinx_error" in block:
            print(f"  dolfinx failed: {block['dolfinx_error'].splitlines()[-1]}")
    law = figures["constitutive_update"]["figures"]
    print(f"\n[3] constitutive update ({law['n_points']} points, {figures['constitutive_update']['source']})")
    for name, value in law["laws"].items():
        print(f"  {name:10s} {value['median_points_per_second']:10.3e} points/s (median), "
              f"{value['points_per_second']:10.3e} (best)")
    if "parallel" in figures:
        p = figures["parallel"]
        print(f"\n[4] parallel: {p['mesh']['dofs']} dofs, {p['ranks_1']['steps']} steps, linear solver "
              f"{p['linear_solver']} (best; load average {p['load_average_before']:.1f} -> "
              f"{p['load_average_after']:.1f})")
        for key in (k for k in p if k.startswith("ranks_")):
            r = p[key]
            rounds = ", ".join(f"{t:.1f}" for t in r["seconds_of_each_round"])
            print(f"  {r['ranks']} rank(s): {r['seconds']:8.2f} s ({r['newton_iterations']} Newton iterations; "
                  f"rounds {rounds})")
        print(f"  speed-up: {p['speedup']:.2f} (target >= 1.5)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="High-fidelity solver benchmark (blade example)")
    parser.add_argument("--quick", action="store_true", help="small meshes: a few minutes")
    parser.add_argument("--size", type=float, help="blade element size (mm) of the iteration benchmark")
    parser.add_argument("--parallel-size", type=float, help="blade element size (mm) of the parallel run")
    parser.add_argument("--solver", nargs="+", default=["mumps", "cg-gamg"], choices=["mumps", "cg-gamg"])
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--steps", type=int, default=4, help="time steps of the parallel run (4: up to the peak)")
    parser.add_argument("--repeat", type=int, default=3, help="timed Newton iterations (best counts)")
    parser.add_argument("--rounds", type=int, default=2, help="runs of every subprocess, interleaved (best counts)")
    parser.add_argument("--points", type=int, help="integration points of the constitutive benchmark")
    parser.add_argument("--no-dolfinx", action="store_true")
    parser.add_argument("--no-parallel", action="store_true")
    args = parser.parse_args(argv)
    figures = run(quick=args.quick, size=args.size, parallel_size=args.parallel_size, solvers=tuple(args.solver),
                  ranks=args.ranks, steps=args.steps, repeat=args.repeat, rounds=args.rounds, n_points=args.points,
                  dolfinx=not args.no_dolfinx, parallel=not args.no_parallel)
    print_table(figures)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "hifi.json"
    path.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
