"""The benchmark cases of ``examples/``: cube and blade generators, and a small cube solve."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:   # ``examples`` is not an installed package
    sys.path.insert(0, str(ROOT))

from examples.blade import (  # noqa: E402
    BladeGeometry, flight_cycle, make_blade_mesh, make_blade_problem, temperature_field,
)
from examples.cube import COLD, LENGTH, MATERIAL, make_cube_mesh, make_cube_problem  # noqa: E402
from rom import fem  # noqa: E402

needs_gmsh = pytest.mark.skipif(importlib.util.find_spec("gmsh") is None,
                                reason="the blade example needs gmsh (nirom[mesh])")

#: Size → dofs of the blade (tet10) as README.md reports them (gmsh 4.15).
BLADE_DOFS = {6.0: 6417, 4.0: 13950, 3.0: 27351}


@pytest.fixture(scope="module")
def blade():
    return make_blade_mesh(4.0)


def _normals(points: np.ndarray, facets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit right-hand-rule normals and centroids of facets (corners only)."""
    p = points[facets[:, :3]]
    n = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    return n / np.linalg.norm(n, axis=1)[:, None], p.mean(axis=1)


def _opposite_corner_behind(mesh, face_set: str) -> np.ndarray:
    """For each facet of a tetrahedral face set: is its cell's fourth corner behind the normal?"""
    (cell_type, cells), = mesh.cells.items()
    corners = cells[:, :4]
    local = np.array([[0, 1, 2, 3], [0, 1, 3, 2], [0, 2, 3, 1], [1, 2, 3, 0]])
    faces = corners[:, local].reshape(-1, 4)        # three corners of a face + the opposite corner
    n = mesh.n_nodes

    def key(tri):
        s = np.sort(tri, axis=1)
        return (s[:, 0] * n + s[:, 1]) * n + s[:, 2]

    face_keys = key(faces[:, :3])
    order = np.argsort(face_keys)
    (facets,) = mesh.face_sets[face_set].values()
    found = order[np.searchsorted(face_keys, key(facets[:, :3]), sorter=order)]
    assert np.array_equal(face_keys[found], key(facets[:, :3]))
    normals, centroids = _normals(mesh.points, facets)
    return np.einsum("ij,ij->i", normals, mesh.points[faces[found, 3]] - centroids) < 0


# ----------------------------------------------------------------- cube
def test_cube_meshes_are_valid_and_grow():
    dofs = []
    for n in (1, 2, 3):
        mesh = make_cube_mesh(n)
        _, weights = fem.strain_operator(mesh)            # raises on a non-positive Jacobian
        assert np.all(weights > 0) and np.isclose(weights.sum(), LENGTH**3)
        for name in ("xmin", "ymin", "zmin", "zmax"):
            assert len(mesh.node_sets[name]) and len(mesh.face_sets[name]["quad8"])
        normals, _ = _normals(mesh.points, mesh.face_sets["zmax"]["quad8"])
        assert np.allclose(normals, [0, 0, 1])            # pressure face: outward
        dofs.append(3 * mesh.n_nodes)
        assert mesh.n_nodes == (n + 1) ** 3 + 3 * n * (n + 1) ** 2   # hexahedron20 grid
    assert dofs == sorted(dofs) and len(set(dofs)) == 3


def test_cube_toml_is_the_python_problem():
    from io_adapters.problem import read_problem

    assert read_problem(ROOT / "examples" / "cube" / "problem.toml") == make_cube_problem(4)


def test_cube_problem_loads_follow_the_cycle():
    problem = make_cube_problem(2, n_cycles=2, steps_per_cycle=4)
    assert np.allclose(problem.times, np.arange(9) * 5.0)
    cold, peak = problem.temperature.at(0.0), problem.temperature.at(10.0)
    assert np.allclose(cold, COLD) and np.allclose(problem.temperature.at(40.0), COLD)
    hottest = np.argmax(peak)
    assert np.allclose(problem.mesh.points[hottest], LENGTH)   # the hot spot's corner
    assert problem.tables["cycle"](30.0) == pytest.approx(1.0)


def _solve_cube(case: str):
    import rom.hifi

    problem = make_cube_problem(2, temperature_case=case, n_cycles=1, steps_per_cycle=6)
    return problem, rom.hifi.solve(problem, linear_solver="scipy")


def test_small_cube_solves_with_plausible_results():
    from rom.materials.voigt import von_mises

    # uniform heating: free thermal expansion, elastic (the mechanical loads stay below the threshold)
    problem, sim = _solve_cube("uniform")
    corner = int(np.flatnonzero(np.all(np.isclose(problem.mesh.points, LENGTH), axis=1))[0])
    u = sim.fields["U"].read()
    expansion = MATERIAL["thermal_strain"]["alpha"] * (900.0 - COLD) * LENGTH
    assert u[3, corner, :2] == pytest.approx([expansion] * 2, rel=0.03)      # peak of the cycle
    assert np.abs(u[-1]).max() < 1e-8                                       # back to rest
    assert np.all(sim.fields["evrcum"].read() == 0.0)

    # hot spot: thermal stresses make viscoplastic strain where the stress is highest
    problem, sim = _solve_cube("hotspot")
    cumulated = sim.fields["evrcum"].read()[:, :, 0]
    assert np.all(cumulated[0] == 0) and cumulated[-1].max() > 1e-5
    assert np.all(np.diff(cumulated, axis=0) >= -1e-12)                     # cumulated: never decreases
    mises = von_mises(sim.fields["sig"].read(steps=[3])[0])
    plastic = cumulated[-1] > 1e-6
    assert mises[plastic].mean() > 2.0 * mises.mean()
    assert np.abs(sim.fields["U"].read()[-1]).max() < 0.05 * np.abs(sim.fields["U"].read()[3]).max()


# ---------------------------------------------------------------- blade
@needs_gmsh
def test_blade_mesh_is_valid(blade):
    _, weights = fem.strain_operator(blade)               # raises on a non-positive Jacobian
    assert np.all(weights > 0)
    g = BladeGeometry()
    block = g.root_length * g.root_width * g.root_height
    assert block < weights.sum() < block + g.span * g.chord_root**2 * g.thickness
    expected = {"root_bottom", "pressure_side", "suction_side", "trailing_edge", "tip", "platform", "root_sides"}
    assert expected <= set(blade.face_sets)
    assert expected | {"root_axial_line", "root_tangential_line"} <= set(blade.node_sets)
    assert all(len(blade.node_sets[name]) for name in blade.node_sets)
    assert all(len(blade.face_sets[name]["triangle6"]) for name in expected)
    cells = set(blade.cell_sets["airfoil"]) | set(blade.cell_sets["root"])
    assert len(blade.cell_sets["airfoil"]) and cells == set(range(blade.n_cells))
    assert np.array_equal(blade.cell_sets["blade"], np.arange(blade.n_cells))
    assert np.all(blade.points[blade.node_sets["root_bottom"], 2] == pytest.approx(0.0, abs=1e-9))


@needs_gmsh
@pytest.mark.parametrize("face_set", ["pressure_side", "suction_side", "root_bottom", "tip"])
def test_blade_facets_point_outward(blade, face_set):
    assert np.all(_opposite_corner_behind(blade, face_set))


@needs_gmsh
def test_blade_pressure_side_is_the_concave_side(blade):
    g = BladeGeometry()
    for name, sign in (("pressure_side", -1.0), ("suction_side", 1.0)):
        normals, centroids = _normals(blade.points, blade.face_sets[name]["triangle6"])
        _, stagger = g.section(centroids[:, 2])
        across = -np.sin(stagger) * normals[:, 0] + np.cos(stagger) * normals[:, 1]   # chord-frame y'
        assert np.mean(sign * across > 0) > 0.97
    # a compressive gas pressure pushes the airfoil towards its suction side
    load = fem.pressure_load(blade, "pressure_side", -1.0).reshape(-1, 3).sum(axis=0)
    _, stagger = g.section(g.root_height + 0.5 * g.span)
    assert load[:2] @ [-np.sin(stagger), np.cos(stagger)] > 0


@needs_gmsh
def test_blade_dofs_grow_with_refinement_as_reported(blade):
    dofs = {size: 3 * make_blade_mesh(size).n_nodes for size in (6.0, 3.0)}
    dofs[4.0] = 3 * blade.n_nodes
    assert dofs[6.0] < dofs[4.0] < dofs[3.0]
    for size, reported in BLADE_DOFS.items():
        assert dofs[size] == pytest.approx(reported, rel=0.15)   # gmsh versions mesh a little differently


@needs_gmsh
def test_linear_blade_has_the_corner_nodes():
    linear = make_blade_mesh(6.0, order=1)
    quadratic = make_blade_mesh(6.0)
    assert list(linear.cells) == ["tetra"] and linear.n_cells == quadratic.n_cells
    assert linear.n_nodes < quadratic.n_nodes


@needs_gmsh
def test_temperature_fields_are_smooth_and_seed_dependent(blade):
    first, again, other = (temperature_field(blade, seed) for seed in (1, 1, 2))
    assert np.array_equal(first, again)
    assert np.sqrt(np.mean((first - other) ** 2)) > 10.0
    assert 300.0 < first.min() and first.max() < 1300.0
    # smooth: bounded gradient along every cell edge (K/mm)
    corners = blade.cells["tetra10"][:, :4]
    a, b = corners[:, [0, 0, 0, 1, 1, 2]].ravel(), corners[:, [1, 2, 3, 2, 3, 3]].ravel()
    for field in (first, other):
        slope = np.abs(field[a] - field[b]) / np.linalg.norm(blade.points[a] - blade.points[b], axis=1)
        assert slope.max() < 50.0
    # radial gradient: the airfoil is hotter than the root on average
    airfoil = blade.points[:, 2] > BladeGeometry().root_height + 10.0
    assert first[airfoil].mean() > first[~airfoil].mean() + 100.0


@needs_gmsh
def test_blade_problem_follows_the_flight_cycle(blade):
    problem = make_blade_problem(4.0, seed=3, n_cycles=2, steps_per_cycle=5, mesh=blade)
    assert problem.n_steps == 10 and problem.times[-1] == pytest.approx(200.0)
    assert np.allclose(problem.temperature.at(0.0), 20.0)
    assert np.allclose(problem.temperature.at(150.0), temperature_field(blade, 3))
    assert np.allclose(problem.temperature.at(200.0), 20.0)
    cycle = flight_cycle()
    assert [cycle(t) for t in (0.0, 10.0, 50.0, 90.0, 100.0, 150.0)] == pytest.approx([0, 0.5, 1, 0.5, 0, 1])
    (rotation,) = problem.centrifugal
    assert np.allclose(rotation.axis, [1, 0, 0]) and rotation.center[2] < 0
    (pressure,) = problem.pressures
    assert pressure.face_set == "pressure_side" and pressure.values < 0


def test_the_batch_job_script_runs_the_chain_and_resumes(tmp_path):
    """examples/hpc/cube.sbatch without a scheduler: training, offline, online on 2 ranks; then again."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    venv = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "PMIX_", "HYDRA_", "MPIR_", "SLURM_"))}
    env.update(NIROM_HOME=str(root), WORK=str(tmp_path / "work"), RANKS="2", PYTHON=sys.executable,
               LAUNCH=f"{venv / 'mpiexec'} -n 2")
    first = subprocess.run(["bash", str(root / "examples" / "hpc" / "cube.sbatch")], env=env, capture_output=True,
                           text=True, timeout=600)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "1. training: high-fidelity solve on 2 ranks" in first.stdout
    assert "step      time   newton   indicator" in first.stdout and "done: " in first.stdout
    work = tmp_path / "work"
    assert (work / "online.h5").exists() and (work / "rom_enriched.h5").exists()
    again = subprocess.run(["bash", str(root / "examples" / "hpc" / "cube.sbatch")], env=env, capture_output=True,
                           text=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "1. training: train.h5 is complete, kept" in again.stdout
    assert "resuming after" in again.stderr
    # a training store left incomplete by a killed job is recomputed, not trusted
    (work / "train.h5").write_bytes(b"killed while writing")
    rerun = subprocess.run(["bash", str(root / "examples" / "hpc" / "cube.sbatch")], env=env, capture_output=True,
                           text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "1. training: high-fidelity solve on 2 ranks" in rerun.stdout
    # a failing stage ends the job (set -e), with a non-zero code
    env["LAUNCH"] = "false"
    failed = subprocess.run(["bash", str(root / "examples" / "hpc" / "cube.sbatch")], env=env, capture_output=True,
                            text=True, timeout=120)
    assert failed.returncode != 0 and "2. offline" in failed.stdout and "3. online" not in failed.stdout
