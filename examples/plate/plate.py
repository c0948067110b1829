"""A plate with a central hole: J2 plasticity under an imposed in-plane displacement of random direction.

Geometry (mm): the plate ``-L/2 ≤ x ≤ L/2``, ``-W/2 ≤ y ≤ W/2``, ``0 ≤ z ≤ t`` with a
through hole of radius ``R`` on the ``z`` axis (:class:`PlateGeometry`). The mesh is
structured (no mesher needed): an O-grid of the square ``|x|, |y| ≤ W/2`` around the
hole — four sectors, each mapping a quarter of the circle onto one side of the
square, graded towards the hole — and two rectangular blocks out to the ends, then
extruded in ``z``. Quadratic elements (``hexahedron20``, default) get their mid-edge
nodes on the hole's circle.

Sets of the :class:`io_adapters.Mesh` (node sets and outward face sets): ``left``
(``x = -L/2``), ``right`` (``x = L/2``), ``hole``, ``zmin``, ``zmax``, and the face
set ``boundary``.

Loading (:func:`make_plate_problem`): the left end is clamped, the right end is
moved rigidly in the plane, ``(ux, uy) = d (cos φ, sin φ) · c(t)``, ``uz`` free, with
``c`` 0 → 1 → 0 (monotonic loading, then unloading; :func:`plate_cycle`). ``φ`` and
``d`` are drawn from ``seed`` (:func:`plate_load`) unless given: pure tension
(``φ = 0``), compression (``φ = π``), in-plane bending and shear (``φ = ±π/2``) and
everything between. The same node sets and components are imposed for every member
of the family, only their values change — what a reduced model with a lifting needs
(``docs/architecture.md``, imposed displacements). The law is
:data:`MATERIAL`: rate-independent J2 plasticity (``j2_plasticity``) with linear
isotropic and one Armstrong–Frederick kinematic hardening, so the unloading leaves
plastic strain and residual stresses around the hole.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from io_adapters.errors import InputError
from io_adapters.mesh import Mesh
from io_adapters.problem import ALL_ELEMENT, Dirichlet, Problem, TimeTable, time_steps

__all__ = ["MAGNITUDES", "MATERIAL", "PlateGeometry", "make_plate_mesh", "make_plate_problem", "plate_cycle", "plate_load"]

#: A steel-like rate-independent law (mm–N–MPa): yield at 250 MPa, linear isotropic and one
#: Armstrong–Frederick kinematic hardening. Not a calibrated alloy.
MATERIAL: dict = {
    "behavior": "j2_plasticity",
    "elasticity": {"young": 2.0e5, "poisson": 0.3},
    "yield_stress": 250.0,
    "isotropic": {"type": "linear", "H": 2000.0},
    "kinematic": [{"type": "armstrong_frederick", "C": 4.0e4, "D": 300.0}],
}

#: Range of the imposed displacement's magnitude ``d`` (mm) drawn by :func:`plate_load`:
#: from nearly elastic (first yield at the hole near 0.05 mm in tension) to well plastic.
MAGNITUDES = (0.03, 0.3)


@dataclass(frozen=True)
class PlateGeometry:
    """Dimensions of the plate (mm).

    Attributes
    ----------
    length : float
        Along x (between the clamped and the moved end).
    width : float
        Along y.
    thickness : float
        Along z.
    radius : float
        Of the central hole, below ``width / 2``.
    """

    length: float = 100.0
    width: float = 50.0
    thickness: float = 4.0
    radius: float = 8.0

    def __post_init__(self):
        if not (0.0 < self.radius < 0.5 * self.width <= 0.5 * self.length and self.thickness > 0.0):
            raise InputError(f"plate: expected 0 < radius < width/2 <= length/2 and thickness > 0, found {self}")


def _sector_quads(g: PlateGeometry, m: int, n_radial: int, grading: float) -> tuple[np.ndarray, np.ndarray]:
    """Points (n, 2) and quads (q, 4) of the O-grid: ``m`` cells per side of the square, ``n_radial`` outward."""
    half = 0.5 * g.width
    u = np.linspace(0.0, 1.0, m + 1)
    s = np.linspace(0.0, 1.0, n_radial + 1) ** grading                  # finer near the hole
    points, quads = [], []
    for k in range(4):                                                   # right, top, left, bottom sides
        theta = np.deg2rad(-45.0 + 90.0 * k) + 0.5 * np.pi * u
        turn = np.array([[np.cos(0.5 * np.pi * k), -np.sin(0.5 * np.pi * k)],
                         [np.sin(0.5 * np.pi * k), np.cos(0.5 * np.pi * k)]])
        side = np.column_stack([np.full(m + 1, half), -half + 2.0 * half * u]) @ turn.T
        circle = g.radius * np.column_stack([np.cos(theta), np.sin(theta)])
        grid = (1.0 - s)[None, :, None] * circle[:, None, :] + s[None, :, None] * side[:, None, :]   # (m+1, n_r+1, 2)
        offset = sum(len(p) for p in points)
        index = offset + np.arange((m + 1) * (n_radial + 1)).reshape(m + 1, n_radial + 1)
        i, j = (a.ravel() for a in np.meshgrid(np.arange(m), np.arange(n_radial), indexing="ij"))
        quads.append(np.stack([index[i, j], index[i, j + 1], index[i + 1, j + 1], index[i + 1, j]], axis=1))
        points.append(grid.reshape(-1, 2))
    return np.concatenate(points), np.concatenate(quads)


def _block_quads(x0: float, x1: float, half: float, n_x: int, m: int, offset: int) -> tuple[np.ndarray, np.ndarray]:
    """A structured block ``[x0, x1] × [-half, half]`` of ``n_x × m`` quads."""
    x, y = np.meshgrid(np.linspace(x0, x1, n_x + 1), np.linspace(-half, half, m + 1), indexing="ij")
    index = offset + np.arange((n_x + 1) * (m + 1)).reshape(n_x + 1, m + 1)
    i, j = (a.ravel() for a in np.meshgrid(np.arange(n_x), np.arange(m), indexing="ij"))
    quads = np.stack([index[i, j], index[i + 1, j], index[i + 1, j + 1], index[i, j + 1]], axis=1)
    return np.column_stack([x.ravel(), y.ravel()]), quads


def make_plate_mesh(refinement: int = 2, *, geometry: PlateGeometry | None = None, n_thickness: int = 1,
                    cell_type: str = "hexahedron20", grading: float = 1.4) -> Mesh:
    """A structured hexahedral mesh of the plate with a hole.

    Parameters
    ----------
    refinement : int
        ``2·refinement`` cells along each side of the O-grid's square (so
        ``8·refinement`` around the hole), ``refinement + 1`` radially, and the end
        blocks cut to about the same cell size.
    geometry : PlateGeometry, optional
        Default dimensions when omitted.
    n_thickness : int
        Layers of cells through the thickness.
    cell_type : {"hexahedron20", "hexahedron"}
    grading : float
        Radial spacing ``s^grading`` (> 1: finer at the hole).

    Returns
    -------
    Mesh
        Node and outward face sets ``left``, ``right``, ``hole``, ``zmin``, ``zmax``;
        the face set ``boundary``.
    """
    from rom.fem.meshes import add_midside_nodes
    from rom.fem.topology import boundary_facets

    g = geometry or PlateGeometry()
    if isinstance(refinement, bool) or int(refinement) != refinement or refinement < 1:
        raise InputError(f"plate mesh: refinement must be a positive integer, found {refinement!r}")
    if isinstance(n_thickness, bool) or int(n_thickness) != n_thickness or n_thickness < 1:
        raise InputError(f"plate mesh: n_thickness must be a positive integer, found {n_thickness!r}")
    if cell_type not in ("hexahedron", "hexahedron20"):
        raise InputError(f"plate mesh: cell_type must be 'hexahedron' or 'hexahedron20', found {cell_type!r}")
    m, n_radial = 2 * int(refinement), int(refinement) + 1
    half = 0.5 * g.width
    points, quads = _sector_quads(g, m, n_radial, grading)
    n_x = max(1, int(round((0.5 * g.length - half) / (g.width / m))))
    if g.length > g.width:
        for x0, x1 in ((-0.5 * g.length, -half), (half, 0.5 * g.length)):
            block, cells = _block_quads(x0, x1, half, n_x, m, len(points))
            points, quads = np.concatenate([points, block]), np.concatenate([quads, cells])
    # merge the nodes the sectors and blocks share
    scale = 1e-9 * g.length
    keys = np.round(points / scale).astype(np.int64)
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    points, quads = points[first], inverse.reshape(-1)[quads]
    a, b, c = (points[quads[:, i]] for i in range(3))
    area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    quads[area < 0] = quads[area < 0][:, ::-1]                               # counter-clockwise seen from +z
    # extrude
    z = np.linspace(0.0, g.thickness, int(n_thickness) + 1)
    n2 = len(points)
    points3 = np.concatenate([np.column_stack([points, np.full(n2, zk)]) for zk in z])
    hexa = np.concatenate([np.concatenate([quads + k * n2, quads + (k + 1) * n2], axis=1)
                           for k in range(int(n_thickness))])
    if cell_type == "hexahedron20":
        points3, cell_type, hexa = add_midside_nodes(points3, "hexahedron", hexa)
        radius = np.hypot(points3[:, 0], points3[:, 1])
        on_hole = radius <= g.radius * (1.0 + 1e-9)                       # mid-edge nodes of the hole's chords
        points3[on_hole, :2] *= (g.radius / radius[on_hole])[:, None]
    boundary = boundary_facets({cell_type: hexa})
    tol = 1e-7 * g.length
    radius = np.hypot(points3[:, 0], points3[:, 1])
    on = {"left": np.abs(points3[:, 0] + 0.5 * g.length) < tol, "right": np.abs(points3[:, 0] - 0.5 * g.length) < tol,
          "hole": np.abs(radius - g.radius) < tol, "zmin": np.abs(points3[:, 2]) < tol,
          "zmax": np.abs(points3[:, 2] - g.thickness) < tol}
    node_sets = {name: np.flatnonzero(mask) for name, mask in on.items()}
    face_sets = {"boundary": boundary}
    for name, mask in on.items():
        face_sets[name] = {t: f[np.all(mask[f], axis=1)] for t, f in boundary.items() if np.all(mask[f], axis=1).any()}
    return Mesh(points=points3, cells={cell_type: hexa}, node_sets=node_sets, face_sets=face_sets)


def plate_cycle() -> TimeTable:
    """The load factor: 0 → 1 at t = 1 (monotonic loading) → 0 at t = 2 (unloading)."""
    return TimeTable(times=[0.0, 1.0, 2.0], values=[0.0, 1.0, 0.0])


def plate_load(seed: int, *, magnitudes: tuple[float, float] = MAGNITUDES) -> tuple[float, float]:
    """The imposed displacement ``(ux, uy)`` of the right end at the peak, drawn from ``seed``.

    Direction ``φ`` uniform in ``[0, 2π)``, magnitude uniform in ``magnitudes`` (mm).

    Returns
    -------
    (ux, uy) : floats
    """
    rng = np.random.default_rng(seed)
    angle = rng.uniform(0.0, 2.0 * np.pi)
    magnitude = rng.uniform(*magnitudes)
    return float(magnitude * np.cos(angle)), float(magnitude * np.sin(angle))


def make_plate_problem(seed: int = 0, *, displacement: tuple[float, float] | None = None, refinement: int = 2,
                       steps_loading: int = 4, steps_unloading: int = 2, n_thickness: int = 1,
                       geometry: PlateGeometry | None = None, mesh: Mesh | None = None,
                       material: dict | None = None) -> Problem:
    """The plate clamped on ``left``, its ``right`` end moved in the plane and back.

    Parameters
    ----------
    seed : int
        Draws the peak displacement (:func:`plate_load`) unless ``displacement`` is given.
    displacement : (ux, uy), optional
        Peak imposed displacement of the right end (mm).
    refinement, n_thickness : int
        Mesh of :func:`make_plate_mesh` (ignored when ``mesh`` is given).
    steps_loading, steps_unloading : int
        Equal time steps of the loading (t: 0 → 1) and of the unloading (1 → 2).
    geometry : PlateGeometry, optional
    mesh : Mesh, optional
        A plate mesh to reuse.
    material : dict, optional
        Material spec (:data:`MATERIAL` by default).

    Returns
    -------
    Problem
        Solved with scipy's LU (``solver = {"linear_solver": "scipy"}``): the
        Armstrong–Frederick tangent is not symmetric, and the PETSc path factors with
        Cholesky, which on the unloading after a large tension converges only linearly
        (60 s instead of 2 s at ``refinement = 2``). ``ux = 0, uy = 0, uz = 0`` on ``left``; ``ux = ux_peak · c(t)``,
        ``uy = uy_peak · c(t)`` on ``right`` (table ``cycle``); ``source`` names the
        seed and the values.
    """
    mesh = mesh if mesh is not None else make_plate_mesh(refinement, geometry=geometry, n_thickness=n_thickness)
    for name in ("left", "right"):
        if name not in mesh.node_sets:
            raise InputError(f"plate: the mesh has no node set '{name}' (a mesh of make_plate_mesh is expected)")
    ux, uy = plate_load(seed) if displacement is None else (float(displacement[0]), float(displacement[1]))
    dirichlet = tuple(Dirichlet("left", c, 0.0) for c in range(3)) + (
        Dirichlet("right", 0, ux, "cycle"), Dirichlet("right", 1, uy, "cycle"))
    return Problem(
        mesh=mesh, materials={ALL_ELEMENT: dict(material or MATERIAL)}, dirichlet=dirichlet,
        tables={"cycle": plate_cycle()}, times=time_steps([1.0, 2.0], [steps_loading, steps_unloading]),
        solver={"linear_solver": "scipy"}, source=f"examples/plate (seed {seed}, ux {ux:.4g} mm, uy {uy:.4g} mm)",
    )
