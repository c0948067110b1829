"""Random hot-spot temperature families of the blade, for clustering and ROM-net studies.

:func:`examples.blade.temperature_field` draws a smooth field about fixed levels
(≈ 550 °C in the root, ≈ 850 °C in the airfoil). The family here adds what makes
load cases *different regimes*: random levels of that gradient and one dominant hot
spot on the airfoil whose position (chordwise from the leading to the trailing edge,
spanwise from mid-span to the tip), width and peak temperature are random — peaks up
to ~1050 °C, where the blade's ``gen_evp`` law is soft (``R0`` 150 MPa, Norton ``K``
300 at 1000 °C) and creeps.

Everything is defined in the geometry's frame (the spot's centre lies on the camber
line of the section at its height), so the same seed gives the same field on any
mesh of the blade: a family drawn on a coarse mesh is the same family on the fine one.

- :func:`hot_spot_parameters`: the draw of one seed (a dict of plain numbers);
- :func:`random_temperature_field`: the nodal field at the peak of the cycle;
- :func:`make_random_blade_problem`: :func:`examples.blade.make_blade_problem` with that
  field.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from io_adapters.mesh import Mesh
from io_adapters.problem import Problem, Temperature

from examples.blade.blade import REFERENCE_TEMPERATURE, BladeGeometry, make_blade_problem, temperature_field

__all__ = ["PEAKS", "hot_spot_parameters", "make_random_blade_problem", "random_temperature_field"]

#: Range of the hot spot's peak temperature (°C).
PEAKS = (850.0, 1050.0)


def hot_spot_parameters(seed: int, *, peaks: tuple[float, float] = PEAKS, peak: float | None = None,
                        geometry: BladeGeometry | None = None) -> dict:
    """The random draw of one member of the family.

    Parameters
    ----------
    seed : int
        Equal seeds give equal draws (a stream independent of
        :func:`examples.blade.temperature_field`'s, which uses the same seed for the
        background).
    peaks : (float, float)
        Range of the hot spot's peak temperature (°C).
    peak : float, optional
        The peak temperature instead of the drawn one (every other draw unchanged:
        the same spot at another level).
    geometry : BladeGeometry, optional

    Returns
    -------
    dict
        ``root_temperature``, ``airfoil_temperature`` (levels of the background
        gradient, °C), ``chord_fraction`` (0 at the leading edge, 1 at the trailing
        edge), ``span_fraction`` (0 at the platform, 1 at the tip), ``center``
        (x, y, z of the spot, mm), ``width`` (mm), ``peak`` (°C).
    """
    g = geometry or BladeGeometry()
    rng = np.random.default_rng([int(seed), 11])
    root, airfoil = rng.uniform(450.0, 600.0), rng.uniform(700.0, 850.0)
    xc, span = rng.uniform(0.05, 0.95), rng.uniform(0.3, 1.0)
    width, drawn = rng.uniform(5.0, 10.0), rng.uniform(*peaks)
    peak = drawn if peak is None else float(peak)
    z = g.root_height + span * g.span
    chord, stagger = (float(v) for v in g.section(z))
    yc, _ = g.camber_line(xc)
    local = np.array([xc * chord - 0.5 * chord, float(yc) * chord])          # the placement of BladeGeometry
    turn = np.array([[np.cos(stagger), -np.sin(stagger)], [np.sin(stagger), np.cos(stagger)]])
    x, y = turn @ local
    return {"root_temperature": float(root), "airfoil_temperature": float(airfoil), "chord_fraction": float(xc),
            "span_fraction": float(span), "center": [float(x), float(y), float(z)], "width": float(width),
            "peak": float(peak)}


def random_temperature_field(mesh: Mesh, seed: int, *, peaks: tuple[float, float] = PEAKS,
                             peak: float | None = None, geometry: BladeGeometry | None = None) -> np.ndarray:
    """The nodal temperature at the peak of the cycle of family member ``seed``.

    ``T = temperature_field(mesh, seed, root, airfoil) + (peak - airfoil) exp(-|x - c|² / 2w²)``:
    the background of :func:`examples.blade.temperature_field` at the drawn levels,
    plus the hot spot, which lifts the airfoil's level to about ``peak`` at its
    centre ``c`` (the background's own spots and waves add ± 100 K or so).

    Parameters
    ----------
    mesh : Mesh
        A blade mesh (only its nodes are used).
    seed : int
    peaks : (float, float)
    peak : float, optional
        Fixes the peak temperature (see :func:`hot_spot_parameters`).
    geometry : BladeGeometry, optional

    Returns
    -------
    (n_nodes,) float array
    """
    g = geometry or BladeGeometry()
    p = hot_spot_parameters(seed, peaks=peaks, peak=peak, geometry=g)
    field = temperature_field(mesh, seed, root_temperature=p["root_temperature"],
                              airfoil_temperature=p["airfoil_temperature"], geometry=g)
    distance2 = np.sum((mesh.points - np.asarray(p["center"])) ** 2, axis=1)
    return field + (p["peak"] - p["airfoil_temperature"]) * np.exp(-distance2 / (2.0 * p["width"] ** 2))


def make_random_blade_problem(seed: int, *, mesh: Mesh, peaks: tuple[float, float] = PEAKS,
                              peak: float | None = None, geometry: BladeGeometry | None = None,
                              **options) -> Problem:
    """The blade's flight cycle (:func:`examples.blade.make_blade_problem`) with member ``seed``'s field.

    Parameters
    ----------
    seed : int
    mesh : Mesh
        A mesh of :func:`examples.blade.make_blade_mesh`.
    peaks : (float, float)
    peak : float, optional
        Fixes the peak temperature (see :func:`hot_spot_parameters`).
    geometry : BladeGeometry, optional
    **options
        ``n_cycles``, ``steps_per_cycle``, ``omega``, ``pressure``, ``period``,
        ``material`` of :func:`examples.blade.make_blade_problem`.

    Returns
    -------
    Problem
        ``source`` names the seed and the hot spot.
    """
    g = geometry or BladeGeometry()
    problem = make_blade_problem(0.0, mesh=mesh, seed=seed, geometry=g, **options)
    hot = random_temperature_field(mesh, seed, peaks=peaks, peak=peak, geometry=g)
    p = hot_spot_parameters(seed, peaks=peaks, peak=peak, geometry=g)
    cycle = problem.tables["cycle"]
    temperature = Temperature.from_base_max(np.full(mesh.n_nodes, REFERENCE_TEMPERATURE), hot, cycle,
                                            labels=("cold", f"hot (random family, seed {seed})"))
    return dataclasses.replace(problem, temperature=temperature,
                               source=f"examples/blade random family (seed {seed}: hot spot {p['peak']:.0f} °C at "
                                      f"chord {p['chord_fraction']:.2f}, span {p['span_fraction']:.2f})")
