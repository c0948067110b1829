"""The academic elastoviscoplastic cube: thermal, centrifugal and cyclic pressure loads.

A cube of side :data:`LENGTH` (mm) meshed with ``n × n × n`` hexahedra (``hexahedron20``
by default), in the octant ``0 ≤ x, y, z ≤ L``:

- symmetry conditions ``ux = 0`` on ``xmin``, ``uy = 0`` on ``ymin``, ``uz = 0`` on
  ``zmin`` (a uniform temperature expands the cube freely);
- a compressive pressure on the top face ``zmax``;
- a centrifugal load about an axis parallel to ``x`` through ``(0, 0, -radius)``
  (the cube stands like a blade on a disk);
- a nodal temperature ``T(x, t) = T_cold + c(t) (T_hot(x) - T_cold)`` whose hot field
  is chosen by ``temperature_case`` (a hot spot at the loaded corner by default);
- every load follows the same triangular cycle ``c(t)``: 0 → 1 at mid-period → 0,
  repeated ``n_cycles`` times;
- the ``gen_evp`` law :data:`MATERIAL` (Norton flow, Armstrong–Frederick kinematic
  hardening, constant threshold; Young's modulus tabulated in temperature).

:func:`make_cube_strain_problem` is the strain-controlled variant: base clamped, top
face moved by imposed displacements (tension and shear) through a reversed cycle.
"""

from __future__ import annotations

import numpy as np

from io_adapters.errors import InputError
from io_adapters.mesh import Mesh
from io_adapters.problem import (
    ALL_ELEMENT, Centrifugal, Dirichlet, Pressure, Problem, Temperature, TimeTable, time_steps,
)

__all__ = ["COLD", "LENGTH", "MATERIAL", "TEMPERATURE_CASES", "cube_cycle", "hot_field", "make_cube_mesh",
           "make_cube_problem", "make_cube_strain_problem"]

#: Side of the cube (mm).
LENGTH = 10.0

#: Cold temperature of the cycle and stress-free temperature of the thermal strain (°C).
COLD = 20.0

#: The cube's ``gen_evp`` law (mm–N–MPa–s, as Zset).
MATERIAL: dict = {
    "behavior": "gen_evp",
    "density": 8.2e-9,
    "elasticity": {"young": {"temperature": [0.0, 1000.0], "value": [1.6e5, 1.2e5]}, "poisson": 0.3},
    "thermal_strain": {"alpha": 1.4e-5, "ref_temperature": COLD},
    "potential": {"name": "evr", "criterion": "mises",
                  "flow": {"type": "norton", "K": 500.0, "n": 12.0},
                  "kinematic": [{"type": "nonlinear", "C": 6.0e4, "D": 400.0}],
                  "isotropic": {"type": "constant", "R0": 80.0}},
}

#: Hot fields ``temperature_case`` may name.
TEMPERATURE_CASES = ("hotspot", "gradient", "uniform")


def make_cube_mesh(n_elements_per_edge: int, *, cell_type: str = "hexahedron20",
                   length: float = LENGTH) -> Mesh:
    """A structured mesh of the cube ``[0, L]³``.

    Parameters
    ----------
    n_elements_per_edge : int
        Elements along each edge (``n³`` cells).
    cell_type : str
        ``hexahedron20`` (default), ``hexahedron``, or any 3D type of
        :func:`rom.fem.box_mesh`.
    length : float
        Side (mm).

    Returns
    -------
    Mesh
        Node and face sets ``xmin``, ``xmax``, ``ymin``, ``ymax``, ``zmin``, ``zmax``
        (facets outward) and the face set ``boundary``.
    """
    from rom.fem import box_mesh

    n = int(n_elements_per_edge)
    if n < 1 or n != n_elements_per_edge:
        raise InputError(f"cube mesh: n_elements_per_edge must be a positive integer, found {n_elements_per_edge!r}")
    return box_mesh(cell_type, (n, n, n), size=(length, length, length))


def hot_field(points: np.ndarray, temperature_case: str = "hotspot", *, hot: float = 900.0,
              warm: float = 500.0, length: float = LENGTH) -> np.ndarray:
    """The temperature at the peak of the cycle.

    Parameters
    ----------
    points : (n_nodes, 3) array
    temperature_case : {"hotspot", "gradient", "uniform"}
        ``hotspot``: ``warm + (hot - warm) exp(-|x - (L, L, L)|² / 2(0.4 L)²)``, a hot
        corner on the loaded top face (thermal stresses, plasticity there);
        ``gradient``: linear from ``warm`` at ``z = 0`` to ``hot`` at ``z = L`` (the
        cube would bow; the plane ``zmin`` keeps it flat, hence thermal stresses);
        ``uniform``: ``hot`` everywhere (free expansion: the stresses are those of
        the pressure and the rotation only).
    hot, warm : float
        Highest and lowest temperature of the hot field (°C).
    length : float
        Side of the cube.

    Returns
    -------
    (n_nodes,) float array
    """
    points = np.asarray(points, dtype=float)
    if temperature_case == "hotspot":
        distance2 = np.sum((points - length) ** 2, axis=1)
        return warm + (hot - warm) * np.exp(-distance2 / (2.0 * (0.4 * length) ** 2))
    if temperature_case == "gradient":
        return warm + (hot - warm) * points[:, 2] / length
    if temperature_case == "uniform":
        return np.full(len(points), float(hot))
    raise InputError(f"cube: unknown temperature_case '{temperature_case}' (known: {', '.join(TEMPERATURE_CASES)})")


def cube_cycle(period: float = 20.0) -> TimeTable:
    """The load factor: 0 → 1 at mid-period → 0, repeated every ``period``."""
    return TimeTable(times=[0.0, 0.5 * period, period], values=[0.0, 1.0, 0.0], period=period)


def make_cube_problem(n_elements_per_edge: int, *, temperature_case: str = "hotspot", n_cycles: int = 2,
                      steps_per_cycle: int = 10, period: float = 20.0, pressure: float = 60.0,
                      omega: float = 2000.0, radius: float = 100.0, hot: float = 900.0, warm: float = 500.0,
                      cell_type: str = "hexahedron20", mesh: Mesh | None = None,
                      material: dict | None = None) -> Problem:
    """The cube under cyclic thermal, pressure and centrifugal loads.

    Parameters
    ----------
    n_elements_per_edge : int
        Mesh of :func:`make_cube_mesh` (ignored when ``mesh`` is given).
    temperature_case : {"hotspot", "gradient", "uniform"}
        Hot field of :func:`hot_field`.
    n_cycles : int
        Load cycles.
    steps_per_cycle : int
        Even number of equal time steps per cycle (half loading, half unloading).
    period : float
        Duration of a cycle (s).
    pressure : float
        Peak compressive pressure on ``zmax`` (MPa, pushing inward).
    omega : float
        Peak rotation speed (rad/s).
    radius : float
        Distance from the rotation axis to the bottom face ``zmin``.
    hot, warm : float
        Temperatures of the hot field (°C).
    cell_type : str
        Element type of the mesh.
    mesh : Mesh, optional
        A cube mesh to reuse (for instance read back from a file).
    material : dict, optional
        Material spec (:data:`MATERIAL` by default).

    Returns
    -------
    Problem
    """
    if steps_per_cycle < 2 or steps_per_cycle % 2:
        raise InputError(f"cube: steps_per_cycle must be a positive even number, found {steps_per_cycle!r}")
    mesh = mesh if mesh is not None else make_cube_mesh(n_elements_per_edge, cell_type=cell_type)
    length = float(np.ptp(mesh.points[:, 0]))
    cycle = cube_cycle(period)
    half = steps_per_cycle // 2
    return Problem(
        mesh=mesh,
        materials={ALL_ELEMENT: dict(material or MATERIAL)},
        dirichlet=(Dirichlet("xmin", 0, 0.0), Dirichlet("ymin", 1, 0.0), Dirichlet("zmin", 2, 0.0)),
        pressures=(Pressure("zmax", -float(pressure), "cycle"),),
        centrifugal=(Centrifugal(None, (0.0, 0.0, -float(radius)), (1.0, 0.0, 0.0), float(omega), "cycle"),),
        temperature=Temperature.from_base_max(
            np.full(mesh.n_nodes, COLD), hot_field(mesh.points, temperature_case, hot=hot, warm=warm, length=length),
            cycle, labels=("cold", f"hot ({temperature_case})")),
        tables={"cycle": cycle},
        times=time_steps([0.5 * period, period], [half, half], cycles=n_cycles),
        source=f"examples/cube (n={n_elements_per_edge}, {temperature_case})",
    )


def make_cube_strain_problem(n_elements_per_edge: int, tension: float, shear: float, *, steps_per_quarter: int = 4,
                             period: float = 20.0, cell_type: str = "hexahedron20", mesh: Mesh | None = None,
                             material: dict | None = None) -> Problem:
    """The cube clamped on ``zmin``, its top face ``zmax`` moved by imposed displacements.

    ``uz = tension · c(t)`` and ``ux = shear · c(t)`` on ``zmax`` with the fully
    reversed cycle ``c``: 0 → 1 → 0 → -1 → 0 over ``period`` (a strain-controlled
    test; the clamped base makes the fields non-uniform). Isothermal, with the
    ``gen_evp`` law of :data:`MATERIAL` at constant elasticity and no thermal strain.

    Parameters
    ----------
    n_elements_per_edge : int
    tension, shear : float
        Peak imposed displacements (mm).
    steps_per_quarter : int
        Equal time steps per quarter of the cycle.
    period : float
    cell_type : str
    mesh : Mesh, optional
    material : dict, optional
        Default: :data:`MATERIAL` with E = 160 GPa, ν = 0.3, no thermal strain.

    Returns
    -------
    Problem
    """
    mesh = mesh if mesh is not None else make_cube_mesh(n_elements_per_edge, cell_type=cell_type)
    if material is None:
        material = dict(MATERIAL)
        material["elasticity"] = {"young": 1.6e5, "poisson": 0.3}
        material.pop("thermal_strain")
    quarter = 0.25 * period
    cycle = TimeTable(times=[0.0, quarter, 2 * quarter, 3 * quarter, period], values=[0.0, 1.0, 0.0, -1.0, 0.0])
    dirichlet = tuple(Dirichlet("zmin", c, 0.0) for c in range(3)) + (
        Dirichlet("zmax", 2, float(tension), "cycle"), Dirichlet("zmax", 0, float(shear), "cycle"))
    return Problem(
        mesh=mesh, materials={ALL_ELEMENT: dict(material)}, dirichlet=dirichlet, tables={"cycle": cycle},
        times=time_steps([quarter, 2 * quarter, 3 * quarter, period], [steps_per_quarter] * 4),
        source=f"examples/cube strain-controlled (n={n_elements_per_edge}, tension {tension:g}, shear {shear:g})",
    )
