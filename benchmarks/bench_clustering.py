"""Clustering and ROM-net study (issue 11): do local bases, ROM-net and the dictionary pay?

1. **Local bases at equal size** on three families of nirom's HF solver
   (:func:`rom.hifi.solve`), each with training runs and held-out runs:

   - ``cube``: the elastoviscoplastic cube of ``examples/cube`` under random hot
     spots (``examples.cube.random_fields``: position, width, peak 600–1050 °C);
   - ``blade``: the blade of ``examples/blade`` under its random hot-spot family
     (``examples.blade.random_fields``: random gradient levels, the background bumps
     and waves of ``temperature_field``, one hot spot of random position and peak
     850–1050 °C) — the runs of part 2;
   - ``plate``: the plate with a hole of ``examples/plate`` (J2 plasticity), its right
     end moved in a random in-plane direction and back.

   For every number of clusters K and basis size N of the grid: the global POD basis
   (N modes from every training snapshot) against local bases of N modes each
   (:class:`clustering.local_bases.LocalBases`) from k-means on the Euclidean
   distance between snapshots, k-medoids on the snapshot angle ``sin∠_M`` and
   k-medoids on the Grassmann distance between the runs' POD subspaces; all in the
   mass inner product (``rom.fem.mass_matrix(mesh, rule="high", n_components=3)``).
   Every held-out run is projected on the basis of its predicted cluster
   (``LocalBases.predict``; snapshot dissimilarities: the cluster most of its
   snapshots are nearest to — what a dictionary does, one model per loading — and,
   for reference, each snapshot on its own cluster's basis): q50 and q90 of the
   relative projection errors over the held-out runs, the gain (global q90 ÷ local
   q90) and the clusters' n-widths (``n_widths_``). Snapshots below 1e-3 of their
   run's largest norm (the initial state, elastic unloadings) are left out for every
   method alike: their angle is noise.
2. **The full ROM-net on the blade** (``--blade-size`` 4 mm: ~14 000 dofs; ≥ 200
   training and ≥ 100 unseen loadings, one flight cycle of ``--steps`` steps each):
   :func:`clustering.build.build_dictionary` (Grassmann k-medoids, local models of
   ``N`` displacement modes, ROM-net on the temperature's POD features), then on
   every unseen loading: the classifier's choice, every local ROM's and a global
   ROM's U error against the HF solution (the global model: :func:`rom.offline.build`
   on every training run with the same ``pod.U.n_modes``), the dictionary's own solve
   (with its fallback). Figures: cross-validated and unseen accuracy (against the
   clusters' labels and against the local ROM whose error is smallest), top-2, the
   regret, the dictionary's and the global ROM's errors, the a-priori criterion's
   ratio (``report["efficiency_ratio"]``) against the measured one.
3. **The speed-up on the ~160 000-dof blade** (``--speedup-size`` 1.5 mm): K = 2
   regimes (two hot-spot positions) × 2 training runs (peaks 900 and 1050 °C),
   built into a dictionary; an unseen loading (the first regime's spot at 975 °C:
   inside its trained range) solved by the HF solver and by the dictionary. Total
   time = dictionary load + classification + online solve + reconstruction of U on
   the whole mesh at every step (``result.local_fields(["U"])``), the best of
   ``--repeat`` (7) rounds in one child process (its first rounds are cold: imports,
   page cache); the dictionary reads its chosen local model at the solve (counted in
   it). Online-only = the reduced Newton loop (``parameters["online_seconds"]``). U
   error over the history.

Processes and threads: every HF run, the 160k-dof dictionary build and its online
solve run in child processes with ``OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=
MKL_NUM_THREADS=1``; the HF runs of a family are spread over ``--workers`` (2)
concurrent children. The analysis in this process runs under
``threadpoolctl.threadpool_limits(1)``. The machine may be shared: the load average
is recorded before every part and every timed run.

Run: ``python -m benchmarks.bench_clustering [--quick] [--parts families romnet speedup]
[--blade-size 4] [--blade-train 200] [--blade-test 100] [--steps 5] [--speedup-size 1.5]
[--workers 2] [--workdir DIR]``. Writes ``benchmarks/results/clustering/clustering.json``
and the report ``report.md`` with its PNG figures next to it (``*_quick`` with
``--quick``, ``*_partial`` when parts are left out). ``--quick`` (tiny meshes, 20–40
runs per family, blade 8 mm, speed-up on a 6 mm blade) takes a few minutes; the full
run 35–50 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.bench_online import _load, library_version

RESULTS = Path(__file__).parent / "results" / "clustering"
ROOT = Path(__file__).resolve().parents[1]

_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

#: The local and global ROMs' offline tables (dual quantities of the ``gen_evp`` law).
DUALS = ("evrcum", "evri", "al1", "sig")
ECM = {"tol": 1e-5}
INDICATOR = {"field": "evrcum", "tol": 1e-3}

#: Snapshots below this fraction of their run's largest norm are left out of part 1.
SMALL_SNAPSHOT = 1e-3

#: Family settings: full and quick.
FAMILIES = {
    "cube": {"full": {"n": 4, "steps_per_cycle": 6, "n_train": 80, "n_test": 40, "rank": 3},
             "quick": {"n": 3, "steps_per_cycle": 4, "n_train": 24, "n_test": 12, "rank": 2}},
    "plate": {"full": {"refinement": 3, "steps_loading": 4, "steps_unloading": 2, "n_train": 80, "n_test": 40,
                       "rank": 1},
              "quick": {"refinement": 1, "steps_loading": 3, "steps_unloading": 2, "n_train": 24, "n_test": 12,
                        "rank": 1}},
}
K_GRID, N_GRID = (2, 4), (2, 4, 8)
K_GRID_QUICK, N_GRID_QUICK = (2, 3), (2, 4)
METHODS = ("euclidean", "angle", "grassmann")
#: Held-out seeds start here (training seeds from 0).
TEST_SEED = 100_000


def _one_thread():
    """BLAS limited to one thread in this process (no-op without threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1)


# ================================================================== problems of the families
def family_problem(family: str, settings: dict, seed: int, *, mesh=None, peak: float | None = None):
    """The loading ``seed`` of a family (the same call in the children and in this process).

    Parameters
    ----------
    family : {"cube", "plate", "blade"}
    settings : dict
        The family's settings (``FAMILIES`` or the blade's: ``steps_per_cycle``).
    seed : int
    mesh : Mesh, optional
        The family's mesh (required for the blade).
    peak : float, optional
        Blade only: the hot spot's peak instead of the drawn one.
    """
    if family == "cube":
        from examples.cube.random_fields import make_random_cube_problem

        return make_random_cube_problem(settings["n"], seed, mesh=mesh, n_cycles=1,
                                        steps_per_cycle=settings["steps_per_cycle"])
    if family == "plate":
        from examples.plate import make_plate_problem

        return make_plate_problem(seed, mesh=mesh, refinement=settings["refinement"],
                                  steps_loading=settings["steps_loading"], steps_unloading=settings["steps_unloading"])
    if family == "blade":
        from examples.blade.random_fields import make_random_blade_problem

        return make_random_blade_problem(seed, mesh=mesh, peak=peak, n_cycles=1,
                                         steps_per_cycle=settings["steps_per_cycle"])
    raise ValueError(f"unknown family {family!r}")


def family_mesh(family: str, settings: dict, mesh_store: str | None = None):
    """The mesh every member of a family shares."""
    if mesh_store is not None:
        import io_adapters

        return io_adapters.read(mesh_store).mesh
    if family == "cube":
        from examples.cube.cube import make_cube_mesh

        return make_cube_mesh(settings["n"])
    if family == "plate":
        from examples.plate import make_plate_mesh

        return make_plate_mesh(settings["refinement"])
    raise ValueError(f"family {family!r} needs a mesh store")


# ================================================================== children
def _child_hf_batch(args: dict) -> dict:
    """HF runs of one family, one after the other, each written to its store."""
    import rom.hifi

    mesh = family_mesh(args["family"], args["settings"], args.get("mesh"))
    runs = []
    for seed, output, peak in args["jobs"]:
        problem = family_problem(args["family"], args["settings"], seed, mesh=mesh, peak=peak)
        load = _load()
        cpu, start = time.process_time(), time.perf_counter()
        simulation = rom.hifi.solve(problem, output=output)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        plastic = [name for name in ("evrcum", "epcum") if name in simulation.fields]
        runs.append({"seed": seed, "peak": peak, "output": output, "seconds": seconds, "cpu_seconds": cpu,
                     "load_average": load, "dofs": 3 * mesh.n_nodes, "n_steps": int(problem.n_steps),
                     "max_plastic": float(simulation.fields[plastic[0]].values.max()) if plastic else 0.0})
    return {"runs": runs}


def _child_build_dictionary(args: dict) -> dict:
    """Part 3: the dictionary of the 160k-dof blade, built in one process with one thread."""
    import io_adapters
    from clustering.build import build_dictionary

    mesh = io_adapters.read(args["mesh"]).mesh
    settings = {"steps_per_cycle": args["steps"]}
    training = [{"store": store, "problem": family_problem("blade", settings, seed, mesh=mesh, peak=peak)}
                for seed, peak, store in args["training"]]
    start = time.perf_counter()
    dictionary = build_dictionary({"training": training, "problem": training[0]["problem"], **args["config"]})
    build_seconds = time.perf_counter() - start
    dictionary.save(args["output"])
    return {"seconds": build_seconds, "report": _jsonable(dictionary.report), "summary": dictionary.summary(),
            "n_modes": [m.n_modes for m in dictionary.models],
            "reduced_points": [int(sum(s.n_reduced_points for s in m.subdomains)) for m in dictionary.models]}


def _child_dictionary_online(args: dict) -> dict:
    """Part 3: load the dictionary, classify, solve, rebuild U everywhere; best of ``repeat``; error vs the HF."""
    import io_adapters
    from clustering.dictionary import RomDictionary

    mesh = io_adapters.read(args["mesh"]).mesh
    seed, peak = args["test"]
    problem = family_problem("blade", {"steps_per_cycle": args["steps"]}, seed, mesh=mesh, peak=peak)
    reference = io_adapters.read(args["reference"]).fields["U"].read()
    out = {}
    # ROM-net's choice alone (max_fallbacks=0), then the dictionary's default solve (its indicator may
    # send it to the next candidate: one more solve)
    for name, fallbacks in (("choice", 0), ("default", 2)):
        rounds, result, U = [], None, None
        for _ in range(args["repeat"]):
            load_average = _load()
            start = time.perf_counter()
            dictionary = RomDictionary.load(args["dictionary"])
            loaded = time.perf_counter()
            view = dictionary.classify(problem)
            classified = time.perf_counter()
            result = dictionary.solve(problem, fields=[], max_fallbacks=fallbacks)
            solved = time.perf_counter()
            nodes, values = result.local_fields(["U"])["U"]
            done = time.perf_counter()
            rounds.append({"load_average": load_average, "load": loaded - start, "classify": classified - loaded,
                           "solve": solved - classified, "online": float(result.parameters["online_seconds"]),
                           "reconstruct_U": done - solved,
                           # the solve classifies again inside: count the classification once
                           "total": (loaded - start) + (solved - classified) + (done - solved)})
            U = np.zeros((values.shape[0], mesh.n_nodes, 3))
            U[:, nodes] = values
            del dictionary
        out[name] = {"rounds": rounds, "best": min(rounds, key=lambda r: r["total"]),
                     "error_U": _relative_error(U, reference),
                     "error_U_per_step": [float(v) for v in _per_step_error(U, reference)],
                     "selection": _jsonable(result.selection), "n_modes": int(result.model.n_modes),
                     "newton_iterations": [int(v) for v in result.parameters["newton_iterations"]],
                     "classification": view}
    return {**out["choice"], "default_solve": out["default"]}


_CHILDREN = {"hf_batch": _child_hf_batch, "build_dictionary": _child_build_dictionary,
             "dictionary_online": _child_dictionary_online}


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    return value


def _command(name: str, args: dict) -> list[str]:
    return [sys.executable, "-m", "benchmarks.bench_clustering", "--child", name, json.dumps(args)]


def _env() -> dict:
    env = dict(os.environ, **_ENV)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def _result(returncode: int, stdout: str, stderr: str, what: str) -> dict:
    if returncode != 0:
        tail = "\n".join((stderr or stdout).strip().splitlines()[-15:])
        raise RuntimeError(f"{what} failed (exit {returncode}):\n{tail}")
    return json.loads(stdout.strip().splitlines()[-1])


def _children_concurrently(jobs: list[tuple[str, dict]], timeout: float = 10_800.0) -> list[dict]:
    """Run child jobs at the same time (one process each); their results in order."""
    processes = [subprocess.Popen(_command(name, args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=_env(), cwd=ROOT) for name, args in jobs]
    results = []
    for (name, _), process in zip(jobs, processes):
        stdout, stderr = process.communicate(timeout=timeout)
        results.append(_result(process.returncode, stdout, stderr, f"bench_clustering child '{name}'"))
    return results


def run_family(family: str, settings: dict, seeds, workdir: Path, *, workers: int = 2, mesh_store: str | None = None,
               peaks=None, prefix: str | None = None) -> tuple[list[str], dict]:
    """HF runs of ``seeds`` spread over ``workers`` concurrent children; their stores and timings."""
    seeds = list(seeds)
    peaks = list(peaks) if peaks is not None else [None] * len(seeds)
    stores = [str(workdir / f"{prefix or family}_{seed}{'' if p is None else f'_{p:g}'}.h5")
              for seed, p in zip(seeds, peaks)]
    jobs = list(zip(seeds, stores, peaks))
    start = time.perf_counter()
    batches = [jobs[w::workers] for w in range(workers) if jobs[w::workers]]
    results = _children_concurrently([("hf_batch", {"family": family, "settings": settings, "mesh": mesh_store,
                                                    "jobs": batch}) for batch in batches])
    runs = sorted((r for result in results for r in result["runs"]), key=lambda r: stores.index(r["output"]))
    seconds = [r["seconds"] for r in runs]
    timing = {"n_runs": len(runs), "wall_seconds": time.perf_counter() - start, "workers": len(batches),
              "run_seconds_mean": float(np.mean(seconds)), "run_seconds_max": float(np.max(seconds)),
              "dofs": runs[0]["dofs"], "n_steps": runs[0]["n_steps"],
              "max_plastic_q50": float(np.median([r["max_plastic"] for r in runs])),
              "max_plastic_max": float(np.max([r["max_plastic"] for r in runs])),
              "elastic_runs": int(sum(r["max_plastic"] <= 0.0 for r in runs))}
    return stores, timing


# ================================================================== part 1: local bases at equal size
def histories(stores, mass) -> list[np.ndarray]:
    """Each run's displacement snapshots (node-major dofs) without the ones below ``SMALL_SNAPSHOT`` of its largest."""
    import io_adapters

    out = []
    for store in stores:
        run = io_adapters.read(store)
        U = run.fields["U"].read().reshape(run.n_times, -1)
        norms = np.sqrt(np.maximum(np.einsum("ij,ij->i", np.asarray((mass @ U.T).T), U), 0.0))
        out.append(U[norms > SMALL_SNAPSHOT * norms.max()])
    return out


def numerical_rank(snapshots: np.ndarray, mass) -> int:
    """Directions of a run's snapshots above ``rom.pod``'s resolution (the largest rank ``pod`` accepts)."""
    gram = snapshots @ np.asarray((mass @ snapshots.T))
    values = np.sort(np.linalg.eigvalsh((gram + gram.T) / 2))[::-1]
    resolution = values[0] * max(len(values), 8) * np.finfo(float).eps
    return int(np.count_nonzero(values > resolution))


def _quantiles(errors) -> dict:
    e = np.asarray(errors, dtype=float)
    return {"q50": float(np.quantile(e, 0.5)), "q90": float(np.quantile(e, 0.9)), "mean": float(e.mean()),
            "max": float(e.max())}


def local_bases_study(train: list[np.ndarray], test: list[np.ndarray], mass, *, Ks, Ns, rank: int,
                      log=print) -> dict:
    """Global POD vs local bases (k-means Euclidean, k-medoids angle, k-medoids Grassmann) at equal N.

    Parameters
    ----------
    train, test : lists of (n_snapshots_s, n_dofs) arrays
        Training and held-out runs.
    mass : (n_dofs, n_dofs) sparse matrix
        The inner product.
    Ks, Ns : sequences of int
        Cluster counts and basis sizes.
    rank : int
        Wanted POD rank of each run's subspace (Grassmann); lowered to the smallest
        numerical rank of the training runs when some run spans fewer directions.

    Returns
    -------
    dict
        ``global`` per N, ``rows`` (one per method, K and N: errors, gain, n-widths,
        cluster sizes, or the error that stopped the fit), ``grassmann_rank``.
    """
    from clustering.local_bases import LocalBases
    from clustering.quality import kolmogorov_width
    from io_adapters.errors import NiromError
    from rom.pod import pod

    ranks = [numerical_rank(h, mass) for h in train]
    used_rank = max(1, min(rank, min(ranks)))
    per_run = min(h.shape[0] for h in train)
    out = {"n_train": len(train), "n_test": len(test), "snapshots_train": int(sum(h.shape[0] for h in train)),
           "grassmann_rank_wanted": rank, "grassmann_rank": used_rank,
           "run_rank_min": int(min(ranks)), "run_rank_median": float(np.median(ranks)), "global": {}, "rows": []}
    stacked = np.concatenate(train)
    for N in Ns:
        basis = pod(stacked, inner_product=mass, n_modes=N)
        errors = [basis.projection_error(h) for h in test]
        out["global"][str(N)] = {**_quantiles(errors), "n_width": float(kolmogorov_width(basis.singular_values, N)),
                                 "errors": [float(e) for e in errors]}
    for K in Ks:
        for N in Ns:
            for method in METHODS:
                row = {"method": method, "K": K, "N": N}
                start = time.perf_counter()
                try:
                    by_run = method == "grassmann"
                    smallest = max(2, math.ceil(N / per_run)) if by_run else N
                    bases = LocalBases(K, dissimilarity=method, rank=used_rank if by_run else None, n_modes=N,
                                       inner_product=mass, min_cluster_size=smallest).fit(train)
                    if by_run:
                        labels = bases.predict(test)
                        per_snapshot = None
                    else:
                        labels = [int(np.bincount(bases.predict([h]), minlength=K).argmax()) for h in test]
                        per_snapshot = [bases.projection_error(h) for h in test]
                    errors = [bases.projection_error(h, cluster=int(c)) for h, c in zip(test, labels)]
                    run_of = np.asarray(bases.item_simulation_)
                    train_labels = (np.asarray(bases.labels_) if by_run else np.array(
                        [np.bincount(np.asarray(bases.labels_)[run_of == r], minlength=K).argmax()
                         for r in range(len(train))]))
                    global_q = out["global"][str(N)]
                    row.update(_quantiles(errors))
                    row.update({
                        "gain_q90": global_q["q90"] / row["q90"] if row["q90"] > 0 else float("inf"),
                        "gain_q50": global_q["q50"] / row["q50"] if row["q50"] > 0 else float("inf"),
                        "per_snapshot": None if per_snapshot is None else _quantiles(per_snapshot),
                        "n_widths": [float(w) for w in bases.n_widths_],
                        "n_width_mean": float(np.mean(bases.n_widths_)), "n_width_max": float(np.max(bases.n_widths_)),
                        "silhouette": float(bases.silhouette_),
                        "cluster_items": np.bincount(np.asarray(bases.labels_), minlength=K).tolist(),
                        "train_runs_per_cluster": np.bincount(train_labels, minlength=K).tolist(),
                        "test_runs_per_cluster": np.bincount(np.asarray(labels), minlength=K).tolist(),
                        "errors": [float(e) for e in errors]})
                except NiromError as exc:
                    row["failed"] = str(exc)
                row["seconds"] = time.perf_counter() - start
                out["rows"].append(row)
                if "failed" in row:
                    log(f"      K={K} N={N} {method:9s} failed: {row['failed'][:120]}")
                else:
                    log(f"      K={K} N={N} {method:9s} q50 {row['q50']:.2e} q90 {row['q90']:.2e} (global "
                        f"{out['global'][str(N)]['q90']:.2e}) gain {row['gain_q90']:.2f}, n-width "
                        f"{row['n_width_mean']:.2e}, runs per cluster {row['train_runs_per_cluster']}")
    return out


def family_study(family: str, settings: dict, workdir: Path, *, Ks, Ns, workers: int, log=print) -> dict:
    """Part 1 for the cube or the plate: HF runs, then :func:`local_bases_study`."""
    from rom.fem import mass_matrix

    log(f"[1] {family}: {settings['n_train']} training + {settings['n_test']} held-out HF runs "
        f"({workers} processes)...")
    out = {"settings": settings, "load_average_before": _load()}
    seeds = list(range(settings["n_train"])) + [TEST_SEED + i for i in range(settings["n_test"])]
    stores, out["hf"] = run_family(family, settings, seeds, workdir, workers=workers)
    mesh = family_mesh(family, settings)
    mass = mass_matrix(mesh, rule="high", n_components=3)
    runs = histories(stores, mass)
    with _one_thread():
        out.update(local_bases_study(runs[:settings["n_train"]], runs[settings["n_train"]:], mass, Ks=Ks, Ns=Ns,
                                     rank=settings["rank"], log=log))
    out["load_average_after"] = _load()
    return out


# ================================================================== part 2: ROM-net on the blade
def _relative_error(U: np.ndarray, reference: np.ndarray) -> float:
    """``‖U − U_ref‖ / ‖U_ref‖`` over the whole history (Euclidean, as ``rom.indicator.true_error``)."""
    return float(np.linalg.norm(U - reference) / np.linalg.norm(reference))


def _per_step_error(U: np.ndarray, reference: np.ndarray) -> np.ndarray:
    n = len(reference)
    norm = np.linalg.norm(reference.reshape(n, -1), axis=1)
    difference = np.linalg.norm((U - reference).reshape(n, -1), axis=1)
    return np.where(norm > 0, difference / np.where(norm > 0, norm, 1.0), 0.0)


def _rom_displacement(result, n_nodes: int) -> np.ndarray:
    nodes, values = result.local_fields(["U"])["U"]
    U = np.zeros((values.shape[0], n_nodes, 3))
    U[:, nodes] = values
    return U


def _nearest_medoid_labels(test_runs, medoid_runs, mass, rank: int) -> np.ndarray:
    """Cluster of each held-out run by the clustering's own rule: the nearest medoid in the Grassmann distance."""
    from clustering.dissimilarity import cross_subspace_dissimilarity, simulation_bases

    test_bases = simulation_bases(test_runs, rank=rank, inner_product=mass)
    medoid_bases = simulation_bases(medoid_runs, rank=rank, inner_product=mass)
    return np.argmin(cross_subspace_dissimilarity(test_bases, medoid_bases, metric="grassmann", inner_product=mass),
                     axis=1)


def romnet_study(settings: dict, workdir: Path, *, workers: int, Ks, Ns, log=print) -> tuple[dict, dict]:
    """Part 2 (and part 1's blade family): HF runs, the dictionary, the global ROM, the unseen loadings.

    Returns
    -------
    romnet : dict
        Part 2's figures.
    family : dict
        Part 1's figures on the same runs.
    """
    import io_adapters
    from clustering.build import build_dictionary
    from examples.blade import make_blade_mesh
    from rom.fem import mass_matrix
    from rom.offline import build

    import logging

    logging.getLogger("clustering.dictionary").setLevel(logging.ERROR)   # fallbacks are counted in the figures
    out = {"settings": settings, "load_average_before": _load()}
    start = time.perf_counter()
    mesh = make_blade_mesh(settings["size"])
    out["meshing_seconds"] = time.perf_counter() - start
    out["dofs"], out["cells"] = 3 * mesh.n_nodes, mesh.n_cells
    mesh_store = str(workdir / "blade_mesh.h5")
    io_adapters.save(io_adapters.Simulation(mesh, np.array([0.0]), {}), mesh_store)
    n_train, n_test = settings["n_train"], settings["n_test"]
    log(f"[2] blade {out['dofs']} dofs: {n_train} training + {n_test} unseen HF runs ({workers} processes)...")
    train_seeds, test_seeds = list(range(n_train)), [TEST_SEED + i for i in range(n_test)]
    stores, out["hf"] = run_family("blade", settings, train_seeds + test_seeds, workdir, workers=workers,
                                   mesh_store=mesh_store)
    train_stores, test_stores = stores[:n_train], stores[n_train:]
    log(f"    HF: {out['hf']['wall_seconds']:.0f} s wall, {out['hf']['run_seconds_mean']:.1f} s per run")
    mass = mass_matrix(mesh, rule="high", n_components=3)

    # part 1 on the same runs
    family = {"settings": {k: settings[k] for k in ("size", "steps_per_cycle", "n_train", "n_test", "rank")},
              "hf": out["hf"], "load_average_before": _load()}
    log("[1] blade: local bases vs global at equal size (the runs of part 2)...")
    train_runs, test_runs = histories(train_stores, mass), histories(test_stores, mass)
    with _one_thread():
        family.update(local_bases_study(train_runs, test_runs, mass, Ks=Ks, Ns=Ns, rank=settings["rank"], log=log))
    family["load_average_after"] = _load()

    # the dictionary
    rank = family["grassmann_rank"]
    N = settings["n_modes"]
    pod = {"U": {"n_modes": N}, **{name: {"tol": 1e-6} for name in DUALS}}
    train_problems = [family_problem("blade", settings, s, mesh=mesh) for s in train_seeds]
    config = {"training": [{"store": s, "problem": p} for s, p in zip(train_stores, train_problems)],
              "problem": train_problems[0],
              "clustering": {"n_clusters": settings["n_clusters"], "dissimilarity": "grassmann", "rank": rank},
              "features": {"n_components": settings["n_features"], "sampling": "pod"},
              "classifier": {"cv": 5, "conformal_alpha": 0.1}, "pod": pod, "ecm": ECM, "indicator": INDICATOR}
    out["config"] = {k: v for k, v in config.items() if k not in ("training", "problem")}
    log(f"[2] build_dictionary: K = {settings['n_clusters']}, Grassmann rank {rank}, N = {N} modes...")
    out["load_average_before_build"] = _load()
    with _one_thread():
        start = time.perf_counter()
        dictionary = build_dictionary(config)
        out["build_seconds"] = time.perf_counter() - start
        dictionary.save(workdir / "blade_dictionary.h5")
        report = dictionary.report
        log(f"    {out['build_seconds']:.0f} s; {dictionary.summary()}")
        log(f"[2] global ROM: rom.offline.build on the {n_train} runs, pod.U.n_modes = {N}...")
        start = time.perf_counter()
        global_model = build({"training": train_stores, "problem": train_problems[0], "pod": pod, "ecm": ECM,
                              "indicator": INDICATOR})
        out["global_build_seconds"] = time.perf_counter() - start
    out["dictionary"] = {"report": _jsonable(report), "summary": dictionary.summary(),
                         "n_modes": [m.n_modes for m in dictionary.models],
                         "reduced_points": [int(sum(s.n_reduced_points for s in m.subdomains))
                                            for m in dictionary.models]}
    out["global_model"] = {"n_modes": global_model.n_modes,
                           "reduced_points": int(sum(s.n_reduced_points for s in global_model.subdomains))}

    # the unseen loadings
    K = dictionary.n_clusters
    labels_ref = _nearest_medoid_labels(test_runs, [train_runs[m] for m in report["medoids"]], mass, rank)
    log(f"[2] {n_test} unseen loadings: classifier, {K} local ROMs, the global ROM, the dictionary's solve...")
    rows = []
    with _one_thread():
        for seed, store, label in zip(test_seeds, test_stores, labels_ref):
            problem = family_problem("blade", settings, seed, mesh=mesh)
            reference = io_adapters.read(store).fields["U"].read()
            view = dictionary.classify(problem)
            local, seconds = [], []
            for model in dictionary.models:
                result = model.solve(problem, fields=[])
                local.append(_relative_error(_rom_displacement(result, mesh.n_nodes), reference))
                seconds.append(float(result.parameters["online_seconds"]))
            result = global_model.solve(problem, fields=[])
            global_error = _relative_error(_rom_displacement(result, mesh.n_nodes), reference)
            global_seconds = float(result.parameters["online_seconds"])
            chosen = dictionary.solve(problem, fields=[])
            rows.append({"seed": seed, "label": int(label), "probabilities": view["probabilities"],
                         "predicted": int(np.argmax(view["probabilities"])), "conformal_set": view["conformal_set"],
                         "local_errors": local, "local_online_seconds": seconds, "global_error": global_error,
                         "global_online_seconds": global_seconds,
                         "dictionary_error": _relative_error(_rom_displacement(chosen, mesh.n_nodes), reference),
                         "dictionary_cluster": int(chosen.selection["cluster"]),
                         "dictionary_tried": chosen.selection["tried"]})
    out["unseen"] = rows
    out["summary"] = _romnet_summary(rows, report, K)
    out["load_average_after"] = _load()
    return out, family


def _romnet_summary(rows: list[dict], report: dict, K: int) -> dict:
    """The figures of part 2 from the per-loading rows."""
    local = np.array([r["local_errors"] for r in rows])
    best = np.argmin(local, axis=1)
    predicted = np.array([r["predicted"] for r in rows])
    labels = np.array([r["label"] for r in rows])
    probabilities = np.array([r["probabilities"] for r in rows])
    top2 = np.argsort(-probabilities, axis=1)[:, :2]
    chosen = local[np.arange(len(rows)), predicted]
    regret = chosen / local.min(axis=1)
    global_errors = np.array([r["global_error"] for r in rows])
    dictionary = np.array([r["dictionary_error"] for r in rows])
    confusion = np.zeros((K, K), dtype=int)
    np.add.at(confusion, (best, predicted), 1)
    c = report["classifier"]
    return {
        "cv_accuracy": c["accuracy"], "cv_top2_accuracy": c["top2_accuracy"], "cv_regret_q50": c.get("regret_q50"),
        "cv_regret_q90": c.get("regret_q90"), "chosen_classifier": c["chosen"],
        "holdout_accuracy": c.get("holdout_accuracy"), "cv_confusion": c["confusion"],
        "unseen_accuracy_vs_label": float(np.mean(predicted == labels)),
        "unseen_accuracy_vs_best_rom": float(np.mean(predicted == best)),
        "unseen_top2_vs_best_rom": float(np.mean([b in t for b, t in zip(best, top2)])),
        "unseen_label_is_best_rom": float(np.mean(labels == best)),
        "unseen_confusion_best_vs_predicted": confusion.tolist(),
        "regret": _quantiles(regret), "regret_share_above_1_5": float(np.mean(regret > 1.5)),
        "error_chosen": _quantiles(chosen), "error_best_local": _quantiles(local.min(axis=1)),
        "error_dictionary_solve": _quantiles(dictionary), "error_global": _quantiles(global_errors),
        "measured_ratio_mean": float(chosen.mean() / global_errors.mean()),
        "measured_ratio_q90": float(np.quantile(chosen, 0.9) / np.quantile(global_errors, 0.9)),
        "measured_ratio_oracle_mean": float(local.min(axis=1).mean() / global_errors.mean()),
        "a_priori_ratio": report["efficiency_ratio"], "a_priori_expected_error": report["expected_error"],
        "a_priori_expected_error_global": report["expected_error_global"],
        "dictionary_beats_global_share": float(np.mean(chosen < global_errors)),
        "online_seconds_local_mean": float(np.mean([np.mean(r["local_online_seconds"]) for r in rows])),
        "online_seconds_global_mean": float(np.mean([r["global_online_seconds"] for r in rows])),
        "fallbacks": int(sum(len(r["dictionary_tried"]) > 1 for r in rows)),
    }


# ================================================================== part 3: speed-up at 160k dofs
def _regime_seeds(n: int = 2) -> list[int]:
    """Seeds of two hot-spot regimes: near the leading edge and near the trailing edge, upper half of the span."""
    from examples.blade.random_fields import hot_spot_parameters

    found = {"leading": None, "trailing": None}
    seed = 0
    while None in found.values():
        p = hot_spot_parameters(seed)
        if p["span_fraction"] > 0.6:
            if p["chord_fraction"] < 0.3 and found["leading"] is None:
                found["leading"] = seed
            elif p["chord_fraction"] > 0.7 and found["trailing"] is None:
                found["trailing"] = seed
        seed += 1
    return [found["leading"], found["trailing"]][:n]


def speedup_study(size: float, steps: int, repeat: int, workdir: Path, *, workers: int, log=print) -> dict:
    """Part 3: the dictionary on the ~160k-dof blade against the HF solver."""
    import io_adapters
    from examples.blade import make_blade_mesh

    out = {"load_average_before": _load(), "size_mm": size, "steps_per_cycle": steps, "threads": dict(_ENV)}
    start = time.perf_counter()
    mesh = make_blade_mesh(size)
    out["meshing_seconds"] = time.perf_counter() - start
    out["dofs"], out["cells"] = 3 * mesh.n_nodes, mesh.n_cells
    mesh_store = str(workdir / f"blade_{size:g}_mesh.h5")
    io_adapters.save(io_adapters.Simulation(mesh, np.array([0.0]), {}), mesh_store)
    del mesh
    regimes = _regime_seeds()
    training = [(seed, peak) for seed in regimes for peak in (900.0, 1050.0)]
    test = (regimes[0], 975.0)
    out.update({"regime_seeds": regimes, "training": training, "test": list(test)})
    settings = {"steps_per_cycle": steps}
    log(f"[3] blade {out['dofs']} dofs: {len(training)} HF training runs (K = 2 regimes x 2 peaks, "
        f"{workers} processes)...")
    stores, out["hf_training"] = run_family("blade", settings, [s for s, _ in training], workdir, workers=workers,
                                            mesh_store=mesh_store, peaks=[p for _, p in training], prefix="speedup")
    log(f"    {out['hf_training']['wall_seconds']:.0f} s; building the dictionary (one process, one thread)...")
    config = {"clustering": {"n_clusters": 2, "dissimilarity": "grassmann", "rank": 2},
              "features": {"n_components": 2}, "classifier": {"candidates": ["logistic"], "cv": 2},
              "pod": {name: {"tol": 1e-6} for name in ("U",) + DUALS}, "ecm": ECM, "indicator": INDICATOR}
    path = str(workdir / "speedup_dictionary.h5")
    out["config"] = config
    out["build"] = _children_concurrently([("build_dictionary", {
        "mesh": mesh_store, "steps": steps, "training": [[s, p, st] for (s, p), st in zip(training, stores)],
        "config": config, "output": path})])[0]
    log(f"    {out['build']['seconds']:.0f} s: {out['build']['summary'].splitlines()[1]}")
    log(f"[3] HF run of the unseen loading (seed {test[0]}, peak {test[1]:g} °C), alone...")
    out["load_average_before_hf"] = _load()
    reference, out["hf_test"] = run_family("blade", settings, [test[0]], workdir, workers=1, mesh_store=mesh_store,
                                           peaks=[test[1]], prefix="speedup_test")
    hf_seconds = out["hf_test"]["run_seconds_mean"]
    log(f"    {hf_seconds:.1f} s; the dictionary on it ({repeat} rounds)...")
    out["load_average_before_rom"] = _load()
    rom = _children_concurrently([("dictionary_online", {"mesh": mesh_store, "steps": steps, "test": list(test),
                                                          "dictionary": path, "reference": reference[0],
                                                          "repeat": repeat})])[0]
    out["rom"] = rom
    out["hf_seconds"] = hf_seconds
    out["speedup_total"] = hf_seconds / rom["best"]["total"]
    out["speedup_total_without_load"] = hf_seconds / (rom["best"]["total"] - rom["best"]["load"])
    out["speedup_online"] = hf_seconds / rom["best"]["online"]
    out["error_U"] = rom["error_U"]
    default = rom["default_solve"]
    out["speedup_total_default_solve"] = hf_seconds / default["best"]["total"]
    out["error_U_default_solve"] = default["error_U"]
    out["load_average_after"] = _load()
    return out


# ================================================================== the report
def _best_rows(family: dict, K: int) -> dict:
    return {(r["method"], r["N"]): r for r in family["rows"] if r["K"] == K and "failed" not in r}


def write_report(figures: dict, path: Path) -> Path:
    """The Markdown report of a run, with its PNG figures next to it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from io_adapters.atomic import atomic_path, write_text_atomic

    images = []

    def save(fig, name: str, caption: str) -> None:
        target = path.with_name(f"{path.stem}_{name}.png")
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
        plt.close(fig)
        images.append(f"![{caption}]({target.name})\n\n*{caption}*\n")

    lines = [f"# Clustering and ROM-net study{' (quick)' if figures.get('quick') else ''}", "",
             f"Measured {figures['date']} on {figures['machine']['cpus']} CPUs, commit "
             f"{figures['library'].get('commit')}{' (tracked files modified)' if figures['library'].get('modified_tracked_files') else ''}; "
             f"total {figures['seconds'] / 60:.1f} min. One BLAS thread per process.", ""]
    families = figures.get("families", {})
    if families:
        lines += ["## 1. Local bases against a global basis of the same size (held-out runs)", "",
                  "q90 (q50) of the relative projection error in the mass norm over the held-out runs, each on "
                  "the basis of its predicted cluster; gain = global q90 / local q90; n-width: mean over the "
                  "clusters of their training snapshots' relative n-width at N.", ""]
        for name, f in families.items():
            if "rows" not in f:
                continue
            hf = f["hf"]
            lines += [f"### {name} ({hf['dofs']} dofs, {hf['n_steps']} steps per run; {f['n_train']} training, "
                      f"{f['n_test']} held-out runs; Grassmann rank {f['grassmann_rank']}"
                      + (f" — lowered from {f['grassmann_rank_wanted']}: a training run spans {f['run_rank_min']} "
                         "direction(s)" if f["grassmann_rank"] < f["grassmann_rank_wanted"] else "") + ")", "",
                      "| K | N | global q90 (q50) | k-means Euclidean | k-medoids angle | k-medoids Grassmann | "
                      "n-width global / Eucl. / angle / Grass. |", "|---|---|---|---|---|---|---|"]
            for K in sorted({r["K"] for r in f["rows"]}):
                best = _best_rows(f, K)
                for N in sorted({r["N"] for r in f["rows"]}):
                    g = f["global"][str(N)]
                    cells, widths = [], [f"{g['n_width']:.1e}"]
                    for method in METHODS:
                        r = best.get((method, N))
                        if r is None:
                            cells.append("failed")
                            widths.append("–")
                            continue
                        mark = "**" if r["gain_q90"] > 1.0 else ""
                        cells.append(f"{r['q90']:.2e} ({r['q50']:.2e}) {mark}×{r['gain_q90']:.2f}{mark}")
                        widths.append(f"{r['n_width_mean']:.1e}")
                    lines.append(f"| {K} | {N} | {g['q90']:.2e} ({g['q50']:.2e}) | " + " | ".join(cells)
                                 + " | " + " / ".join(widths) + " |")
            failed = [r for r in f["rows"] if "failed" in r]
            for r in failed:
                lines.append(f"\n- K={r['K']} N={r['N']} {r['method']}: not fitted — {r['failed']}")
            lines.append("")
        fig, axes = plt.subplots(1, len(families), figsize=(4.6 * len(families), 3.6), squeeze=False)
        for ax, (name, f) in zip(axes[0], families.items()):
            if "rows" not in f:
                continue
            K = max(r["K"] for r in f["rows"])
            Ns = sorted({r["N"] for r in f["rows"]})
            ax.semilogy(Ns, [f["global"][str(N)]["q90"] for N in Ns], "k-o", label="global POD")
            best = _best_rows(f, K)
            for method, style in zip(METHODS, ("s--", "^-", "d-")):
                values = [best[(method, N)]["q90"] if (method, N) in best else np.nan for N in Ns]
                ax.semilogy(Ns, values, style, label=f"{method} (K={K})")
            ax.set_xlabel("modes per basis N")
            ax.set_ylabel("q90 held-out projection error")
            ax.set_title(name)
            ax.legend(fontsize=7)
        save(fig, "families", "q90 of the held-out projection errors against N, global POD and local bases")
    romnet = figures.get("romnet")
    if romnet:
        s = romnet["summary"]
        d = romnet["dictionary"]
        lines += ["## 2. ROM-net on the blade", "",
                  f"Blade {romnet['dofs']} dofs, {romnet['settings']['n_train']} training and "
                  f"{romnet['settings']['n_test']} unseen loadings (HF {romnet['hf']['wall_seconds'] / 60:.1f} min "
                  f"on {romnet['hf']['workers']} processes, {romnet['hf']['run_seconds_mean']:.1f} s per run). "
                  f"Dictionary: K = {len(d['n_modes'])}, {d['n_modes']} modes, reduced points {d['reduced_points']}; "
                  f"global ROM: {romnet['global_model']['n_modes']} modes, "
                  f"{romnet['global_model']['reduced_points']} reduced points. Build {romnet['build_seconds']:.0f} s, "
                  f"global {romnet['global_build_seconds']:.0f} s.", "",
                  "| figure | value |", "|---|---|",
                  f"| classifier chosen | {s['chosen_classifier']} |",
                  f"| cross-validated accuracy / top-2 (labels) | {s['cv_accuracy']:.3f} / {s['cv_top2_accuracy']:.3f} |",
                  f"| cross-validated regret q50 / q90 (projection errors) | {s['cv_regret_q50']:.2f} / {s['cv_regret_q90']:.2f} |",
                  f"| unseen: accuracy against the nearest-medoid label | {s['unseen_accuracy_vs_label']:.3f} |",
                  f"| unseen: accuracy against the local ROM of smallest error | {s['unseen_accuracy_vs_best_rom']:.3f} |",
                  f"| unseen: top-2 against the local ROM of smallest error | {s['unseen_top2_vs_best_rom']:.3f} |",
                  f"| unseen: the label is the best ROM | {s['unseen_label_is_best_rom']:.3f} |",
                  f"| unseen: regret q50 / q90 / max | {s['regret']['q50']:.2f} / {s['regret']['q90']:.2f} / {s['regret']['max']:.2f} |",
                  f"| U error, ROM-net's choice q50 / q90 / mean | {s['error_chosen']['q50']:.2e} / {s['error_chosen']['q90']:.2e} / {s['error_chosen']['mean']:.2e} |",
                  f"| U error, dictionary.solve (with fallback) q50 / q90 | {s['error_dictionary_solve']['q50']:.2e} / {s['error_dictionary_solve']['q90']:.2e} ({s['fallbacks']} fallbacks) |",
                  f"| U error, best local ROM q50 / q90 | {s['error_best_local']['q50']:.2e} / {s['error_best_local']['q90']:.2e} |",
                  f"| U error, global ROM (same N) q50 / q90 / mean | {s['error_global']['q50']:.2e} / {s['error_global']['q90']:.2e} / {s['error_global']['mean']:.2e} |",
                  f"| measured ratio dictionary / global (means; q90s) | {s['measured_ratio_mean']:.3f}; {s['measured_ratio_q90']:.3f} |",
                  f"| a-priori criterion's ratio | {s['a_priori_ratio']:.3f} |",
                  f"| loadings where ROM-net's choice beats the global ROM | {s['dictionary_beats_global_share']:.2f} |",
                  f"| online time per solve, local / global | {1e3 * s['online_seconds_local_mean']:.1f} ms / {1e3 * s['online_seconds_global_mean']:.1f} ms |",
                  ""]
        rows = romnet["unseen"]
        local = np.array([r["local_errors"] for r in rows])
        chosen = local[np.arange(len(rows)), [r["predicted"] for r in rows]]
        glob = np.array([r["global_error"] for r in rows])
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        ax = axes[0]
        ax.loglog(glob, chosen, ".", label="ROM-net's choice")
        ax.loglog(glob, local.min(axis=1), "x", ms=4, label="best local ROM")
        span = [min(glob.min(), chosen.min()) * 0.8, max(glob.max(), chosen.max()) * 1.2]
        ax.loglog(span, span, "k-", lw=0.8)
        ax.set_xlabel("global ROM U error")
        ax.set_ylabel("local ROM U error")
        ax.legend(fontsize=8)
        ax.set_title("unseen loadings")
        ax = axes[1]
        confusion = np.asarray(s["unseen_confusion_best_vs_predicted"])
        ax.imshow(confusion, cmap="Blues")
        for (i, j), v in np.ndenumerate(confusion):
            ax.text(j, i, str(v), ha="center", va="center")
        ax.set_xlabel("ROM-net's cluster")
        ax.set_ylabel("local ROM of smallest error")
        ax.set_title(f"unseen: accuracy {s['unseen_accuracy_vs_best_rom']:.2f}")
        save(fig, "romnet", "ROM-net on the unseen blade loadings")
    speed = figures.get("speedup")
    if speed:
        b = speed["rom"]["best"]
        lines += ["## 3. Speed-up on the large blade", "",
                  f"Blade {speed['dofs']} dofs ({speed['cells']} tet10), {speed['steps_per_cycle']} steps; "
                  f"training {speed['training']} (seed, peak °C), test {speed['test']}. Load average "
                  f"{speed['load_average_before_hf']:.1f} before the HF test run, "
                  f"{speed['load_average_before_rom']:.1f} before the ROM.", "",
                  "| figure | value |", "|---|---|",
                  f"| HF `rom.hifi.solve` (results written) | {speed['hf_seconds']:.1f} s |",
                  f"| dictionary load | {b['load']:.3f} s |",
                  f"| classification | {1e3 * b['classify']:.1f} ms |",
                  f"| solve, ROM-net's choice without fallback (classification inside, set-up, reduced Newton) | {b['solve']:.3f} s (loop {b['online']:.4f} s) |",
                  f"| reconstruction of U on the whole mesh, every step | {b['reconstruct_U']:.3f} s |",
                  f"| total | {b['total']:.3f} s |",
                  f"| speed-up total / without the load / online | {speed['speedup_total']:.0f}× / "
                  f"{speed['speedup_total_without_load']:.0f}× / {speed['speedup_online']:.0f}× |",
                  f"| U error over the history | {speed['error_U']:.2e} (per step "
                  + " ".join(f"{v:.1e}" for v in speed["rom"]["error_U_per_step"][1:]) + ") |",
                  f"| cluster chosen (probabilities) | {speed['rom']['selection']['cluster']} "
                  f"({', '.join(f'{p:.2f}' for p in speed['rom']['classification']['probabilities'])}) |",
                  f"| `dictionary.solve` with its default fallback: tried (cluster: max indicator), total, speed-up, U error | "
                  f"{speed['rom']['default_solve']['selection']['tried']}, {speed['rom']['default_solve']['best']['total']:.3f} s, "
                  f"{speed['speedup_total_default_solve']:.0f}×, {speed['error_U_default_solve']:.2e} |",
                  ""]
        fig, ax = plt.subplots(figsize=(6, 3))
        parts = [("load", b["load"]), ("solve", b["solve"]), ("reconstruct U", b["reconstruct_U"])]
        ax.barh(["dictionary"], [parts[0][1]], label=parts[0][0])
        left = parts[0][1]
        for name, value in parts[1:]:
            ax.barh(["dictionary"], [value], left=left, label=name)
            left += value
        ax.set_xlabel("seconds")
        ax.set_title(f"HF {speed['hf_seconds']:.0f} s; speed-up {speed['speedup_total']:.0f}× total")
        ax.legend(fontsize=8)
        save(fig, "speedup", "the dictionary's time on the large blade")
    lines += [""] + images
    write_text_atomic(path, "\n".join(lines) + "\n")
    return path


# ================================================================== driver
PARTS = ("families", "romnet", "speedup")


def run(*, quick: bool = False, parts=PARTS, blade_size: float | None = None, blade_train: int | None = None,
        blade_test: int | None = None, steps: int = 5, speedup_size: float | None = None, workers: int = 2,
        repeat: int = 7, n_clusters: int | None = None, n_modes: int | None = None, workdir: Path | None = None,
        log=print) -> dict:
    """Measure the figures of the module docstring; returns a JSON-ready dict."""
    started = time.perf_counter()
    variant = "quick" if quick else "full"
    figures = {"machine": {"python": platform.python_version(), "processor": platform.processor(),
                           "cpus": os.cpu_count()}, "quick": quick, "library": library_version(),
               "date": time.strftime("%Y-%m-%d %H:%M"), "parts": list(parts), "families": {}}
    Ks, Ns = (K_GRID_QUICK, N_GRID_QUICK) if quick else (K_GRID, N_GRID)
    blade = {"size": blade_size or (8.0 if quick else 4.0), "steps_per_cycle": steps,
             "n_train": blade_train or (30 if quick else 200), "n_test": blade_test or (15 if quick else 100),
             "rank": 2, "n_clusters": n_clusters or (2 if quick else 3), "n_modes": n_modes or (4 if quick else 8),
             "n_features": 4 if quick else 8}
    with tempfile.TemporaryDirectory(prefix="nirom-bench-clustering-", dir=workdir) as tmp:
        tmp = Path(tmp)
        if "families" in parts:
            for name in ("cube", "plate"):
                figures["families"][name] = family_study(name, FAMILIES[name][variant], tmp, Ks=Ks, Ns=Ns,
                                                         workers=workers, log=log)
        if "romnet" in parts:
            figures["romnet"], figures["families"]["blade"] = romnet_study(blade, tmp, workers=workers, Ks=Ks, Ns=Ns,
                                                                           log=log)
        if "speedup" in parts:
            figures["speedup"] = speedup_study(speedup_size or (6.0 if quick else 1.5), steps, repeat, tmp,
                                               workers=workers, log=log)
    figures["seconds"] = time.perf_counter() - started
    return figures


def print_table(figures: dict) -> None:
    """The headline figures."""
    for name, f in figures.get("families", {}).items():
        if "rows" not in f:
            continue
        best = max((r for r in f["rows"] if "failed" not in r), key=lambda r: r["gain_q90"])
        print(f"[1] {name}: best gain {best['gain_q90']:.2f} ({best['method']}, K={best['K']}, N={best['N']}); "
              "gains by method (max over K, N): " + ", ".join(
                  f"{m} {max((r['gain_q90'] for r in f['rows'] if r['method'] == m and 'failed' not in r), default=float('nan')):.2f}"
                  for m in METHODS))
    if "romnet" in figures:
        s = figures["romnet"]["summary"]
        print(f"[2] ROM-net: CV accuracy {s['cv_accuracy']:.3f}, unseen accuracy vs best ROM "
              f"{s['unseen_accuracy_vs_best_rom']:.3f} (top-2 {s['unseen_top2_vs_best_rom']:.3f}), regret q50/q90 "
              f"{s['regret']['q50']:.2f}/{s['regret']['q90']:.2f}; U error chosen q50 {s['error_chosen']['q50']:.2e} "
              f"vs global {s['error_global']['q50']:.2e}; ratio measured {s['measured_ratio_mean']:.3f}, a priori "
              f"{s['a_priori_ratio']:.3f}")
    if "speedup" in figures:
        s = figures["speedup"]
        print(f"[3] blade {s['dofs']} dofs: HF {s['hf_seconds']:.1f} s, dictionary total {s['rom']['best']['total']:.3f} s "
              f"-> {s['speedup_total']:.0f}x (online {s['speedup_online']:.0f}x), U error {s['error_U']:.2e}")
    print(f"total {figures['seconds'] / 60:.1f} min")


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--child"]:
        print(json.dumps(_CHILDREN[argv[1]](json.loads(argv[2]))))
        return 0
    parser = argparse.ArgumentParser(description="Clustering and ROM-net study (local bases, ROM-net, speed-up)")
    parser.add_argument("--quick", action="store_true", help="tiny meshes, ~20-40 runs per family: a few minutes")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--blade-size", type=float, help="blade element size of part 2 (default 4 mm: ~14 000 dofs)")
    parser.add_argument("--blade-train", type=int, help="training loadings of part 2 (default 200)")
    parser.add_argument("--blade-test", type=int, help="unseen loadings of part 2 (default 100)")
    parser.add_argument("--clusters", type=int, help="K of part 2's dictionary (default 3)")
    parser.add_argument("--modes", type=int, help="displacement modes N of part 2's ROMs (default 8)")
    parser.add_argument("--steps", type=int, default=5, help="time steps of the blade's flight cycle (default 5)")
    parser.add_argument("--speedup-size", type=float, help="blade element size of part 3 (default 1.5 mm: ~160 000 dofs)")
    parser.add_argument("--workers", type=int, default=2, help="concurrent HF processes (default 2)")
    parser.add_argument("--repeat", type=int, default=7, help="timed rounds of the dictionary in part 3 (the best "
                        "is kept: the first rounds of a fresh process are cold)")
    parser.add_argument("--workdir", type=Path, help="where the temporary runs go (default: the system's)")
    args = parser.parse_args(argv)
    figures = run(quick=args.quick, parts=tuple(args.parts), blade_size=args.blade_size, blade_train=args.blade_train,
                  blade_test=args.blade_test, steps=args.steps, speedup_size=args.speedup_size, workers=args.workers,
                  repeat=args.repeat, n_clusters=args.clusters, n_modes=args.modes, workdir=args.workdir)
    print_table(figures)
    from io_adapters.atomic import write_text_atomic

    stem = "clustering_quick" if args.quick else "clustering"
    if set(args.parts) != set(PARTS):
        stem += "_partial"
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_text_atomic(RESULTS / f"{stem}.json", json.dumps(_jsonable(figures), indent=2) + "\n")
    report = write_report(figures, RESULTS / f"{stem.replace('clustering', 'report')}.md")
    print(f"wrote {RESULTS / f'{stem}.json'} and {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
