"""A model file written before the typed model parts (issue 10) still loads and answers."""

from __future__ import annotations

import numpy as np

from examples.cube.cube import make_cube_problem
from rom.hifi import solve
from rom.model import ReducedOrderModel


def test_format1_model_of_an_earlier_nirom_loads_and_reproduces_its_training(data_dir):
    model = ReducedOrderModel.load(data_dir / "models" / "cube2_format1.h5")
    sub = model.subdomains[0]
    assert model.n_modes == 4 and sub.n_reduced_points == 19
    assert sub.basis.n_modes == 4 and sub.quadrature.n_points == np.count_nonzero(sub.weights)
    assert sub.weights.sum() > 0 and set(sub.duals) == {"evrcum", "evri", "al1", "sig"}
    problem = make_cube_problem(2, n_cycles=1, steps_per_cycle=6)
    reference = solve(problem, linear_solver="scipy").fields["U"].values
    result = model.solve(problem)
    U = result.fields["U"].values
    assert np.linalg.norm(U - reference) <= 1e-4 * np.linalg.norm(reference)
    assert max(result.indicator) < 1e-3
