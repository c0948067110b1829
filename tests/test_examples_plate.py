"""The plate-with-a-hole example: mesh, imposed displacements of random direction, J2 plasticity.

Quick: the coarsest mesh (refinement 1, 190 nodes), a few steps.
"""

from __future__ import annotations

import numpy as np
import pytest

from examples.plate import MAGNITUDES, PlateGeometry, make_plate_mesh, make_plate_problem, plate_load
from io_adapters import InputError
from rom.hifi import solve


@pytest.fixture(scope="module")
def mesh():
    return make_plate_mesh(1)


def test_mesh_sets_and_volume(mesh):
    from rom.fem import mass_matrix

    g = PlateGeometry()
    assert mesh.cells.keys() == {"hexahedron20"}
    for name in ("left", "right", "hole", "zmin", "zmax"):
        assert name in mesh.node_sets and name in mesh.face_sets
    points = mesh.points
    assert np.allclose(points[mesh.node_sets["left"], 0], -0.5 * g.length)
    assert np.allclose(points[mesh.node_sets["right"], 0], 0.5 * g.length)
    assert np.allclose(np.hypot(*points[mesh.node_sets["hole"], :2].T), g.radius)   # mid-edge nodes on the circle
    volume = mass_matrix(mesh, rule="high", n_components=1).sum()
    exact = (g.length * g.width - np.pi * g.radius**2) * g.thickness
    assert abs(volume - exact) < 1e-4 * exact
    with pytest.raises(InputError, match="refinement"):
        make_plate_mesh(0)


def test_random_loads_keep_the_same_conditions(mesh):
    loads = [plate_load(seed) for seed in range(20)]
    assert plate_load(3) == loads[3]                                  # a seed is a loading
    magnitudes = np.hypot(*np.array(loads).T)
    assert np.all((magnitudes >= MAGNITUDES[0]) & (magnitudes <= MAGNITUDES[1]))
    angles = np.arctan2(*np.array(loads)[:, ::-1].T)
    assert np.ptp(angles) > np.pi                                     # directions all around
    problems = [make_plate_problem(seed, mesh=mesh) for seed in (0, 1)]
    for problem, (ux, uy) in zip(problems, loads[:2]):
        assert [(d.node_set, d.component, d.table) for d in problem.dirichlet] == [
            ("left", 0, None), ("left", 1, None), ("left", 2, None), ("right", 0, "cycle"), ("right", 1, "cycle")]
        assert [d.value for d in problem.dirichlet] == [0.0, 0.0, 0.0, ux, uy]
    given = make_plate_problem(mesh=mesh, displacement=(0.1, -0.05))
    assert [d.value for d in given.dirichlet[3:]] == [0.1, -0.05]


def test_hf_solve_meets_the_imposed_displacements(mesh):
    problem = make_plate_problem(mesh=mesh, displacement=(0.2, -0.1), steps_loading=2, steps_unloading=2)
    result = solve(problem)
    U = result.fields["U"].values
    times = np.asarray(result.times)
    peak = int(np.argmin(np.abs(times - 1.0)))
    right, left = mesh.node_sets["right"], mesh.node_sets["left"]
    assert np.allclose(U[peak, right, :2], [0.2, -0.1], atol=1e-12)
    assert np.allclose(U[-1, right, :2], 0.0, atol=1e-12)             # unloaded: the end is back
    assert np.allclose(U[:, left], 0.0, atol=1e-12)                   # clamped
    assert np.abs(U[peak, right, 2]).max() > 0.0                      # uz free on the moved end


def test_plastic_strain_appears_for_large_loads_only(mesh):
    small = solve(make_plate_problem(mesh=mesh, displacement=(0.01, 0.0), steps_loading=2, steps_unloading=1))
    large = solve(make_plate_problem(mesh=mesh, displacement=(0.3, 0.0), steps_loading=3, steps_unloading=2))
    assert small.fields["epcum"].values.max() == 0.0
    plastic = large.fields["epcum"].values
    assert plastic.max() > 1e-3
    assert np.all(plastic[-1].max() >= plastic[-2].max())            # cumulated: never decreases
    sig = large.fields["sig"].values[-1]
    assert np.abs(sig).max() > 10.0                                   # residual stresses after unloading
