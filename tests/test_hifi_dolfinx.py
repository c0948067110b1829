"""rom.hifi.solve against dolfinx 0.11 on the same discrete problems.

The references come from ``tests/helpers/dolfinx_reference_elasticity.py`` and
``dolfinx_reference_plasticity.py`` (run once per module under ``mpiexec -n 1``):
dolfinx builds a tetrahedral box (P1 and P2), solves, and saves its nodes and
cells (original input order, meshio node order) and the nodal displacements.
Here the same nodes and cells are shuffled into another numbering, turned into an
``io_adapters.Mesh`` whose node and face sets are found from coordinates
(``tests/helpers/meshes.py``, outward facets), solved by ``rom.hifi.solve``, and
the displacements are compared node by node, matched by coordinates.

- Linear elasticity, clamped box, two face pressures with their own time tables
  (P1 and P2, each linear solver): same discrete problem, so agreement to
  round-off (≤ 1e-8 relative).
- J2 plasticity with linear isotropic (and linear kinematic) hardening, written in
  numpy inside the dolfinx script (radial return + consistent tangent, at the
  points of the degree-2 tetrahedron rule = nirom's "default" rule): a cyclic
  pressure on a P2 cantilever and a cyclic imposed displacement (tension + bending)
  on a P1 bar, yielding and reverse-yielding; ≤ 1e-5 relative on U, and the
  cumulated plastic strain compared at integration points matched by coordinates.
  Both sides solve each given time step as one increment (max_cuts=0): halving a
  step changes a path-dependent solution by O(Δt), far above the tolerance.
- Thermo-elasticity with the thermal strain measured from the initial temperature
  (``α(T)(T − T_ref) − α(T_0)(T_0 − T_ref)``, Zset's convention), T_0 far from
  T_ref, E(T) and a secant α(T) tabulated in temperature, P1 and P2: ≤ 1e-8 relative
  on U at every step, and U = 0 when the temperature is back at T_0.
- ``mpi``-marked: an elastic and a plastic case again with the cells split over
  the ranks (``make test`` runs them under ``mpiexec -n 2``).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial import cKDTree

from helpers import meshes
from io_adapters.mesh import Mesh
from io_adapters.problem import Dirichlet, Pressure, Problem, Temperature, TimeTable

HELPERS = Path(__file__).parent / "helpers"
SCRIPTS = ("dolfinx_reference_elasticity.py", "dolfinx_reference_plasticity.py", "dolfinx_reference_thermal.py")
TIGHT = dict(rtol=1e-11, atol=1e-12)

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("dolfinx") is None, reason="dolfinx (nirom[fenics]) is not installed"
)


# ----------------------------------------------------------------- references
@pytest.fixture(scope="module")
def references(tmp_path_factory) -> dict[str, dict]:
    """name -> arrays of every dolfinx reference case (both scripts run concurrently)."""
    out = tmp_path_factory.mktemp("dolfinx_reference")
    mpiexec = Path(sys.executable).parent / "mpiexec"
    launcher = [str(mpiexec) if mpiexec.exists() else "mpiexec", "-n", "1"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "PMIX_", "HYDRA_", "MPIR_", "OMPI_"))}
    runs = [(script, subprocess.Popen(launcher + [sys.executable, str(HELPERS / script), str(out)], cwd=HELPERS,
                                      env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
            for script in SCRIPTS]
    for script, run in runs:
        try:
            stdout, stderr = run.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            run.kill()
            raise
        assert run.returncode == 0, f"{script} failed:\n{stdout}\n{stderr}"
    return {path.stem: dict(np.load(path)) for path in sorted(out.glob("*.npz"))}


def _cell_type(ref) -> str:
    return "tetra" if ref["cells"].shape[1] == 4 else "tetra10"


def shuffled_mesh(ref, *, node_sets, face_sets, seed: int = 7) -> Mesh:
    """The reference's nodes and cells renumbered at random, cells positively oriented."""
    rng = np.random.default_rng(seed)
    n = len(ref["points"])
    order = rng.permutation(n)                      # new node k is reference node order[k]
    new_of_old = np.empty(n, dtype=np.int64)
    new_of_old[order] = np.arange(n)
    points = ref["points"][order]
    cells = new_of_old[ref["cells"]][rng.permutation(len(ref["cells"]))]
    cells = meshes.orient_tets(points, cells)
    return meshes.mesh_with_sets(points, _cell_type(ref), cells, node_sets=node_sets, face_sets=face_sets)


def match(points: np.ndarray, reference_points: np.ndarray) -> np.ndarray:
    """Row of ``points`` at each reference point (same coordinates, one to one)."""
    distance, rows = cKDTree(points).query(reference_points)
    assert distance.max() < 1e-12 * np.ptp(points, axis=0).max()
    assert len(np.unique(rows)) == len(rows)
    return rows


def relative_difference(values: np.ndarray, reference: np.ndarray) -> float:
    return float(np.abs(values - reference).max() / np.abs(reference).max())


# ---------------------------------------------------------------- elasticity
def elastic_problem(ref) -> Problem:
    L, W, H = ref["size"]
    mesh = shuffled_mesh(
        ref,
        node_sets={"clamp": lambda x: np.isclose(x[..., 0], 0.0)},
        face_sets={"top": lambda x: np.isclose(x[..., 2], H), "end": lambda x: np.isclose(x[..., 0], L)},
    )
    # outward facets: a pressure pushing into the body is negative (Zset's sign)
    for name, normal in (("top", [0, 0, 1]), ("end", [1, 0, 0])):
        (faces,) = mesh.face_sets[name].values()
        np.testing.assert_allclose(meshes.facet_normals(mesh.points, faces), np.tile(normal, (len(faces), 1)),
                                   atol=1e-12)
    material = {"behavior": "linear_elastic",
                "elasticity": {"young": float(ref["young"]), "poisson": float(ref["poisson"])}}
    return Problem(
        mesh=mesh, materials={"ALL_ELEMENT": material},
        dirichlet=tuple(Dirichlet("clamp", c, 0.0) for c in range(3)),
        pressures=(Pressure("top", -float(ref["p_top"]), "a"), Pressure("end", -float(ref["p_end"]), "b")),
        tables={"a": TimeTable(ref["times"], ref["table_a"]), "b": TimeTable(ref["times"], ref["table_b"])},
        times=ref["times"], source=f"dolfinx elastic P{int(ref['degree'])}",
    )


@pytest.mark.parametrize("linear_solver", ["scipy", "mumps", "cg-gamg"])
@pytest.mark.parametrize("case", ["elastic_p1", "elastic_p2"])
def test_linear_elastic_pressures_match_dolfinx(references, case, linear_solver):
    from rom.hifi import NewtonSettings, solve

    ref = references[case]
    problem = elastic_problem(ref)
    assert list(problem.mesh.cells) == [{"elastic_p1": "tetra", "elastic_p2": "tetra10"}[case]]
    sim = solve(problem, settings=NewtonSettings(**TIGHT), linear_solver=linear_solver)
    np.testing.assert_array_equal(sim.times, ref["times"])
    U = sim.fields["U"].values[:, match(problem.mesh.points, ref["points"])]
    assert np.abs(ref["U"][1:]).max(axis=(1, 2)).min() > 1e-5       # every step loads the body
    np.testing.assert_array_equal(U[0], 0.0)
    for k in range(1, len(ref["times"])):
        assert relative_difference(U[k], ref["U"][k]) <= 1e-8, (case, k, relative_difference(U[k], ref["U"][k]))


# ------------------------------------------------------- thermo-elasticity
def thermal_problem(ref, behavior: str = "linear_elastic") -> Problem:
    mesh = shuffled_mesh(ref, node_sets={"clamp": lambda x: np.isclose(x[..., 0], 0.0)}, face_sets={})
    rows = match(mesh.points, ref["points"])            # nirom node of each reference node
    nodal = np.empty_like(ref["T"])
    nodal[:, rows] = ref["T"]
    table = lambda values: {"temperature": ref["table_temperature"].tolist(), "value": values.tolist()}  # noqa: E731
    material = {"behavior": behavior,
                "elasticity": {"young": table(ref["young"]), "poisson": float(ref["poisson"])},
                "thermal_strain": {"alpha": table(ref["alpha"]), "ref_temperature": float(ref["ref_temperature"])}}
    if behavior == "gen_evp":           # a threshold the thermal stresses stay below: elastic answer
        material["potential"] = {"flow": {"type": "norton", "K": 100.0, "n": 5.0},
                                 "isotropic": {"type": "constant", "R0": 1e6}}
    temperature = Temperature.from_key_times(ref["times"], nodal[:3], [0, 1, 2, 0])
    return Problem(mesh=mesh, materials={"ALL_ELEMENT": material},
                   dirichlet=tuple(Dirichlet("clamp", c, 0.0) for c in range(3)), temperature=temperature,
                   times=ref["times"], source=f"dolfinx thermal P{int(ref['degree'])}")


@pytest.mark.parametrize("behavior", ["linear_elastic", "gen_evp"])
@pytest.mark.parametrize("case", ["thermal_p1", "thermal_p2"])
def test_thermal_strain_from_initial_temperature_matches_dolfinx(references, case, behavior):
    """T_0 = 100 + 50 x/L, T_ref = 20: the body is unstrained at T_0, strained by T − T_0 only."""
    from rom.hifi import NewtonSettings, solve

    ref = references[case]
    assert ref["T"][0].min() > 4 * float(ref["ref_temperature"])     # T_0 is far from T_ref
    problem = thermal_problem(ref, behavior)
    np.testing.assert_allclose(problem.temperature.at(ref["times"])[:, match(problem.mesh.points, ref["points"])],
                               ref["T"], rtol=1e-14)
    sim = solve(problem, settings=NewtonSettings(**TIGHT))
    U = sim.fields["U"].values[:, match(problem.mesh.points, ref["points"])]
    for k in (1, 2):
        assert np.abs(ref["U"][k]).max() > 1e-3
        assert relative_difference(U[k], ref["U"][k]) <= 1e-8, (case, k, relative_difference(U[k], ref["U"][k]))
    # back at T_0: no strain, no stress (measured from T_ref, α(T_0)(T_0 − T_ref) would remain)
    assert np.abs(ref["U"][3]).max() < 1e-14
    assert np.abs(U[3]).max() < 1e-12 * np.abs(U).max()
    assert np.abs(sim.fields["sig"].values[3]).max() < 1e-6 * np.abs(sim.fields["sig"].values).max()


# ---------------------------------------------------------------- plasticity
def plastic_problem(ref) -> Problem:
    L, W, H = ref["size"]
    mesh = shuffled_mesh(
        ref,
        node_sets={"clamp": lambda x: np.isclose(x[..., 0], 0.0), "end": lambda x: np.isclose(x[..., 0], L)},
        face_sets={"top": lambda x: np.isclose(x[..., 2], H)},
    )
    kinematic = float(ref["kinematic_C"])
    material = {"behavior": "j2_plasticity",
                "elasticity": {"young": float(ref["young"]), "poisson": float(ref["poisson"])},
                "yield_stress": float(ref["R0"]), "isotropic": {"type": "linear", "H": float(ref["H"])},
                "kinematic": [{"type": "linear", "C": kinematic}] if kinematic > 0 else []}
    dirichlet = [Dirichlet("clamp", c, 0.0) for c in range(3)]
    pressures = []
    if str(ref["load"]) == "displacement":
        dirichlet += [Dirichlet("end", 0, float(ref["ux"]), "delta"), Dirichlet("end", 2, float(ref["uz"]), "delta")]
    else:
        pressures = [Pressure("top", -float(ref["pressure"]), "delta")]
    return Problem(mesh=mesh, materials={"ALL_ELEMENT": material}, dirichlet=tuple(dirichlet),
                   pressures=tuple(pressures), tables={"delta": TimeTable(ref["times"], ref["delta"])},
                   times=ref["times"], source=f"dolfinx J2 {ref['load']} P{int(ref['degree'])}")


def _check_reference_is_cyclic_plasticity(ref) -> None:
    """The load yields, reverses and yields again in the reverse direction."""
    p_max = ref["p"].max(axis=1)
    delta = ref["delta"]
    turn = int(np.argmax(delta))                       # load reversal
    assert p_max[turn] > 1e-4                       # yielded on the way up (yield strain 1.25e-3)
    assert p_max[-1] > p_max[turn] * 1.05           # and again on the way back
    assert ref["newton_iterations"].max() <= 8      # the reference Newton converged (quadratically)


@pytest.mark.parametrize("case", ["plastic_pressure_p2", "plastic_disp_p1"])
def test_j2_plasticity_cyclic_matches_dolfinx(references, case):
    from rom.fem import integration_points
    from rom.hifi import NewtonSettings, solve

    ref = references[case]
    _check_reference_is_cyclic_plasticity(ref)
    problem = plastic_problem(ref)
    sim = solve(problem, settings=NewtonSettings(**TIGHT, max_iterations=25, max_cuts=0))
    np.testing.assert_array_equal(sim.times, ref["times"])
    U = sim.fields["U"].values[:, match(problem.mesh.points, ref["points"])]
    differences = [relative_difference(U[k], ref["U"][k]) for k in range(1, len(ref["times"]))]
    assert max(differences) <= 1e-5, differences

    # cumulated plastic strain at the same integration points (nirom's "default" rule: 4 points per tetra)
    rows = match(integration_points(problem.mesh, "default"), ref["qp_x"])
    p = sim.fields["epcum"].values[:, rows, 0]
    assert np.abs(p - ref["p"]).max() <= 1e-5 * ref["p"].max(), np.abs(p - ref["p"]).max() / ref["p"].max()


# ---------------------------------------------------------------------- MPI
@pytest.mark.mpi
@pytest.mark.parametrize("case", ["elastic_p2", "plastic_pressure_p2"])
def test_distributed_solve_matches_dolfinx(references, comm, case):
    """The same comparisons with the cells split over the ranks (PETSc MUMPS)."""
    from rom.fem import integration_points
    from rom.hifi import NewtonSettings, solve

    ref = references[case]
    problem = elastic_problem(ref) if case.startswith("elastic") else plastic_problem(ref)
    sim = solve(problem, comm, settings=NewtonSettings(**TIGHT, max_cuts=0))
    if comm.rank != 0:
        assert sim is None
        return
    U = sim.fields["U"].values[:, match(problem.mesh.points, ref["points"])]
    differences = [relative_difference(U[k], ref["U"][k]) for k in range(1, len(ref["times"]))]
    assert max(differences) <= (1e-8 if case.startswith("elastic") else 1e-5), differences
    if "epcum" in sim.fields:
        rows = match(integration_points(problem.mesh, "default"), ref["qp_x"])
        p = sim.fields["epcum"].values[:, rows, 0]
        assert np.abs(p - ref["p"]).max() <= 1e-5 * ref["p"].max()
