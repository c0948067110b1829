"""Random hot-spot temperature families of the cube, for clustering and ROM-net studies.

The hot fields of :func:`examples.cube.hot_field` are three fixed shapes. The family
here draws, per seed, a warm background level and one Gaussian hot spot of random
centre (anywhere in the cube), width and peak temperature — peaks from 600 °C to
~1050 °C: at the top of the range the thermal stresses of the spot are several times
the cube's ``gen_evp`` threshold and the law flows viscoplastically (Norton) during
the hot part of each cycle. The pressure and the rotation of
:func:`examples.cube.make_cube_problem` are unchanged.

- :func:`hot_spot_parameters`: the draw of one seed (plain numbers);
- :func:`random_hot_field`: the nodal temperature at the peak of the cycle;
- :func:`make_random_cube_problem`: :func:`examples.cube.make_cube_problem` with that field.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from io_adapters.mesh import Mesh
from io_adapters.problem import Problem, Temperature

from examples.cube.cube import COLD, LENGTH, make_cube_problem

__all__ = ["PEAKS", "hot_spot_parameters", "make_random_cube_problem", "random_hot_field"]

#: Range of the hot spot's peak temperature (°C).
PEAKS = (600.0, 1050.0)


def hot_spot_parameters(seed: int, *, peaks: tuple[float, float] = PEAKS, length: float = LENGTH) -> dict:
    """The random draw of one member of the family.

    Returns
    -------
    dict
        ``warm`` (background, °C, 300 … 550), ``center`` (x, y, z, uniform in the
        cube), ``width`` (0.2 … 0.5 ``length``), ``peak`` (°C, uniform in ``peaks``).
    """
    rng = np.random.default_rng([int(seed), 7])
    warm = rng.uniform(300.0, 550.0)
    center = rng.uniform(0.0, length, size=3)
    width = rng.uniform(0.2, 0.5) * length
    peak = rng.uniform(*peaks)
    return {"warm": float(warm), "center": [float(c) for c in center], "width": float(width), "peak": float(peak)}


def random_hot_field(points: np.ndarray, seed: int, *, peaks: tuple[float, float] = PEAKS,
                     length: float = LENGTH) -> np.ndarray:
    """``warm + (peak - warm) exp(-|x - c|² / 2w²)`` of family member ``seed``.

    Parameters
    ----------
    points : (n_nodes, 3) array
    seed : int
    peaks : (float, float)
    length : float
        Side of the cube (the centre is drawn in ``[0, length]³``).

    Returns
    -------
    (n_nodes,) float array
    """
    p = hot_spot_parameters(seed, peaks=peaks, length=length)
    distance2 = np.sum((np.asarray(points, float) - np.asarray(p["center"])) ** 2, axis=1)
    return p["warm"] + (p["peak"] - p["warm"]) * np.exp(-distance2 / (2.0 * p["width"] ** 2))


def make_random_cube_problem(n_elements_per_edge: int, seed: int, *, peaks: tuple[float, float] = PEAKS,
                             mesh: Mesh | None = None, **options) -> Problem:
    """The cube's cyclic problem (:func:`examples.cube.make_cube_problem`) with member ``seed``'s hot field.

    Parameters
    ----------
    n_elements_per_edge : int
        Mesh of :func:`examples.cube.make_cube_mesh` (ignored when ``mesh`` is given).
    seed : int
    peaks : (float, float)
    mesh : Mesh, optional
    **options
        ``n_cycles``, ``steps_per_cycle``, ``period``, ``pressure``, ``omega``,
        ``radius``, ``cell_type``, ``material`` of :func:`examples.cube.make_cube_problem`.

    Returns
    -------
    Problem
        ``source`` names the seed and the hot spot.
    """
    problem = make_cube_problem(n_elements_per_edge, mesh=mesh, **options)
    mesh = problem.mesh
    length = float(np.ptp(mesh.points[:, 0]))
    hot = random_hot_field(mesh.points, seed, peaks=peaks, length=length)
    p = hot_spot_parameters(seed, peaks=peaks, length=length)
    temperature = Temperature.from_base_max(np.full(mesh.n_nodes, COLD), hot, problem.tables["cycle"],
                                            labels=("cold", f"hot (random family, seed {seed})"))
    return dataclasses.replace(problem, temperature=temperature,
                               source=f"examples/cube random family (n={n_elements_per_edge}, seed {seed}: hot spot "
                                      f"{p['peak']:.0f} °C, width {p['width']:.1f})")
