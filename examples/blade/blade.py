"""A turbine-blade-like part: twisted cambered airfoil on a block root, meshed with gmsh.

Frame (mm): ``x`` is the engine's axial direction, ``y`` the tangential one and
``z`` the radial one, from the bottom of the root (``z = 0``) to the blade tip.
The engine axis is the line through ``(0, 0, -hub_radius)`` along ``x``.

Geometry (:class:`BladeGeometry`): a rectangular block stands for the fir-tree
root; the airfoil is an OCC loft through ``n_sections`` profiles (circular-arc-like
parabolic camber line with a NACA 4-digit thickness law and a blunt trailing
edge), each turned by its stagger angle about the radial axis (linear twist
from root to tip) and scaled by its chord (linear taper). The loft starts a little
inside the block and the two are fused into one volume.

Sets of the :class:`io_adapters.Mesh` (from gmsh physical groups):

==================  =========================================================
face + node sets    ``root_bottom`` (z = 0), ``pressure_side`` (concave),
                    ``suction_side`` (convex), ``trailing_edge``, ``tip``,
                    ``platform`` (top of the block), ``root_sides``
node sets           ``root_axial_line`` (x = 0 on the bottom face, along y),
                    ``root_tangential_line`` (y = 0 on the bottom face, along x)
cell sets           ``blade`` (every cell), ``airfoil`` (centroid above the block),
                    ``root`` (the others)
==================  =========================================================

Facets are listed outward (right-hand rule), so a gas pressure on the pressure side
is a *negative* :class:`io_adapters.problem.Pressure` value (Zset's convention).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from io_adapters.errors import InputError, require
from io_adapters.mesh import Mesh
from io_adapters.problem import (
    ALL_ELEMENT, Centrifugal, Dirichlet, Pressure, Problem, Temperature, TimeTable, time_steps,
)

__all__ = [
    "BladeGeometry", "MATERIAL", "REFERENCE_TEMPERATURE", "cycle_times", "flight_cycle", "make_blade_mesh",
    "make_blade_problem", "temperature_field",
]

#: Stress-free temperature (°C) of the thermal strain, and the cold temperature of the cycle.
REFERENCE_TEMPERATURE = 20.0

#: Illustrative Ni-base-superalloy-like ``gen_evp`` law (mm–N–MPa–s), coefficients in
#: temperature: softer, weaker and more viscous when hot. Not a calibrated alloy.
MATERIAL: dict = {
    "behavior": "gen_evp",
    "density": 8.2e-9,
    "elasticity": {"young": {"temperature": [20.0, 600.0, 1000.0], "value": [2.0e5, 1.75e5, 1.45e5]},
                   "poisson": 0.3},
    "thermal_strain": {"alpha": {"temperature": [20.0, 1000.0], "value": [1.2e-5, 1.6e-5]},
                       "ref_temperature": REFERENCE_TEMPERATURE},
    "potential": {
        "name": "evr", "criterion": "mises",
        "flow": {"type": "norton", "K": {"temperature": [20.0, 700.0, 1000.0], "value": [800.0, 600.0, 300.0]},
                 "n": 10.0},
        "kinematic": [{"type": "nonlinear", "C": 1.0e5, "D": 500.0}],
        "isotropic": {"type": "constant",
                      "R0": {"temperature": [20.0, 700.0, 1000.0], "value": [400.0, 350.0, 150.0]}},
    },
}

# gmsh element types: (volume type, facet type, meshio volume name, meshio facet name)
_GMSH_TYPES = {1: (4, 2, "tetra", "triangle"), 2: (11, 9, "tetra10", "triangle6")}
# gmsh tetra10 lists the mid-edge nodes of edges 0-1, 1-2, 2-0, 0-3, 2-3, 1-3; VTK ends with 1-3, 2-3
_GMSH_TO_VTK = {"tetra": np.arange(4), "tetra10": np.array([0, 1, 2, 3, 4, 5, 6, 7, 9, 8])}


@dataclass(frozen=True)
class BladeGeometry:
    """Dimensions of the blade (mm, degrees).

    Attributes
    ----------
    hub_radius : float
        Distance from the engine axis to the bottom of the root.
    root_length, root_width, root_height : float
        Block root along x (axial), y (tangential) and z (radial).
    span : float
        Airfoil height above the root.
    chord_root, chord_tip : float
        Chord of the first and last sections (linear taper).
    stagger_root, stagger_tip : float
        Angle between the chord and the x axis at the root and at the tip (the twist
        is their difference).
    camber : float
        Maximum camber, fraction of the chord (parabolic camber line).
    thickness : float
        Maximum thickness, fraction of the chord (NACA 4-digit law).
    trailing_edge : float
        Thickness of the blunt trailing edge, fraction of the chord.
    overlap : float
        Depth of the loft inside the block (for a clean fusion).
    n_sections : int
        Profiles of the loft.
    n_profile_points : int
        Points of each side's spline.
    """

    hub_radius: float = 250.0
    root_length: float = 44.0
    root_width: float = 24.0
    root_height: float = 15.0
    span: float = 60.0
    chord_root: float = 30.0
    chord_tip: float = 24.0
    stagger_root: float = 35.0
    stagger_tip: float = 60.0
    camber: float = 0.12
    thickness: float = 0.20
    trailing_edge: float = 0.02
    overlap: float = 2.0
    n_sections: int = 6
    n_profile_points: int = 41

    def __post_init__(self):
        if self.n_sections < 2 or self.n_profile_points < 5:
            raise InputError(f"a blade needs >= 2 sections and >= 5 profile points, found "
                             f"{self.n_sections} and {self.n_profile_points}")
        lengths = (self.root_length, self.root_width, self.root_height, self.span, self.chord_root,
                   self.chord_tip, self.thickness, self.trailing_edge, self.overlap)
        if min(lengths) <= 0:
            raise InputError(f"blade dimensions must be positive, found {self}")

    @property
    def tip_height(self) -> float:
        """Radial coordinate of the tip (z)."""
        return self.root_height + self.span

    @property
    def axis_center(self) -> np.ndarray:
        """A point of the engine axis, shape (3,)."""
        return np.array([0.0, 0.0, -self.hub_radius])

    def section(self, z) -> tuple[np.ndarray, np.ndarray]:
        """Chord and stagger angle (radians) of the airfoil section at height(s) ``z``.

        Parameters
        ----------
        z : float or (n,) array

        Returns
        -------
        chord, stagger : arrays of the shape of ``z``
        """
        z0 = self.root_height - self.overlap
        s = np.clip((np.asarray(z, dtype=float) - z0) / (self.tip_height - z0), 0.0, 1.0)
        chord = self.chord_root + s * (self.chord_tip - self.chord_root)
        stagger = np.deg2rad(self.stagger_root + s * (self.stagger_tip - self.stagger_root))
        return chord, stagger

    def profile(self, chord: float) -> tuple[np.ndarray, np.ndarray]:
        """Suction-side and pressure-side points of a section, leading edge to trailing edge.

        Returns
        -------
        suction, pressure : (n_profile_points, 2) arrays
            In the section's chord frame (x' along the chord from the leading edge,
            y' towards the convex side); both start at the leading edge (0, 0).
        """
        beta = np.linspace(0.0, np.pi, self.n_profile_points)
        xc = 0.5 * (1.0 - np.cos(beta))   # clustered at both edges
        t = self.thickness
        half = 5.0 * t * (0.2969 * np.sqrt(xc) - 0.1260 * xc - 0.3516 * xc**2 + 0.2843 * xc**3 - 0.1036 * xc**4)
        half = half + 0.5 * self.trailing_edge * xc   # blunt trailing edge
        yc, slope = self.camber_line(xc)
        angle = np.arctan(slope)
        suction = np.column_stack([xc - half * np.sin(angle), yc + half * np.cos(angle)])
        pressure = np.column_stack([xc + half * np.sin(angle), yc - half * np.cos(angle)])
        return chord * suction, chord * pressure

    def camber_line(self, xc) -> tuple[np.ndarray, np.ndarray]:
        """Camber ``y_c/c`` and slope at chord fractions ``xc`` (parabolic arc)."""
        xc = np.asarray(xc, dtype=float)
        return 4.0 * self.camber * xc * (1.0 - xc), 4.0 * self.camber * (1.0 - 2.0 * xc)

    def to_chord_frame(self, points: np.ndarray) -> np.ndarray:
        """Chord-frame coordinates ``(x'/c, y'/c)`` of points, shape (n, 2).

        The inverse of the section placement: turn back by the stagger of the
        point's height, shift by half a chord, divide by the chord.
        """
        points = np.atleast_2d(points)
        chord, stagger = self.section(points[:, 2])
        c, s = np.cos(stagger), np.sin(stagger)
        x, y = points[:, 0], points[:, 1]
        local_x = c * x + s * y + 0.5 * chord
        local_y = -s * x + c * y
        return np.column_stack([local_x / chord, local_y / chord])


# ------------------------------------------------------------------ meshing
def make_blade_mesh(size: float, *, order: int = 2, geometry: BladeGeometry | None = None,
                    curved: bool = False) -> Mesh:
    """Mesh the blade with gmsh (tetrahedra).

    Parameters
    ----------
    size : float
        Target element size (mm; gmsh ``MeshSizeMax``, ``MeshSizeMin`` = size / 4).
        See the README for the size → dofs table (tet10: 6 → ~8k dofs, 1.4 → ~170k).
    order : {1, 2}
        Linear (``tetra``) or quadratic (``tetra10``) elements.
    geometry : BladeGeometry, optional
        Default dimensions when omitted.
    curved : bool
        Quadratic elements only: put the mid-edge nodes on the curved geometry
        (default: straight edges, which keeps every element valid and lets a P2
        space on the linear mesh reproduce the same discretisation).

    Returns
    -------
    Mesh
        Sets as in the module docstring; facets listed outward.

    Raises
    ------
    MissingDependencyError
        gmsh is not installed (``pip install 'nirom[mesh]'``).
    InputError
        Bad size or order, or the geometry could not be classified.
    """
    if order not in _GMSH_TYPES:
        raise InputError(f"blade mesh: order must be 1 or 2, found {order!r}")
    if not np.isfinite(size) or size <= 0:
        raise InputError(f"blade mesh: size must be positive, found {size!r}")
    geometry = geometry or BladeGeometry()
    gmsh = require("gmsh", "mesh", "meshing the blade example")
    started = not gmsh.isInitialized()
    if started:
        gmsh.initialize(interruptible=False)
    options = {"General.Terminal": 0, "Mesh.MeshSizeMax": float(size), "Mesh.MeshSizeMin": float(size) / 4.0,
               "Mesh.ElementOrder": order, "Mesh.SecondOrderLinear": 0 if curved else 1}
    previous = {name: gmsh.option.getNumber(name) for name in options}
    try:
        for name, value in options.items():
            gmsh.option.setNumber(name, value)
        gmsh.model.add("nirom_blade")
        _build_geometry(gmsh, geometry)
        gmsh.model.mesh.generate(3)
        return _to_mesh(gmsh, order)
    finally:
        gmsh.model.remove()
        if started:
            gmsh.finalize()
        else:   # a session of the caller's: leave its options as they were
            for name, value in previous.items():
                gmsh.option.setNumber(name, value)


def _build_geometry(gmsh, g: BladeGeometry) -> None:
    """Build the OCC solid and its named physical groups (the sets of the mesh)."""
    occ = gmsh.model.occ
    wires = []
    heights = np.linspace(g.root_height - g.overlap, g.tip_height, g.n_sections)
    for z in heights:
        chord, stagger = (float(v) for v in g.section(z))
        suction, pressure = g.profile(chord)
        c, s = np.cos(stagger), np.sin(stagger)
        turn = np.array([[c, -s], [s, c]])

        def place(p):
            return (p - [0.5 * chord, 0.0]) @ turn.T

        suction, pressure = place(suction), place(pressure)
        leading = occ.addPoint(*suction[0], z)
        upper = [leading] + [occ.addPoint(x, y, z) for x, y in suction[1:]]
        lower = [occ.addPoint(x, y, z) for x, y in pressure[1:]]
        wires.append(occ.addWire([occ.addSpline(upper), occ.addLine(upper[-1], lower[-1]),
                                  occ.addSpline(lower[::-1] + [leading])]))
    foil = occ.addThruSections(wires, makeSolid=True, makeRuled=False)
    block = occ.addBox(-0.5 * g.root_length, -0.5 * g.root_width, 0.0, g.root_length, g.root_width, g.root_height)
    # two lines on the bottom face carry the minimal in-plane supports
    axial = occ.addLine(occ.addPoint(0.0, -0.5 * g.root_width, 0.0), occ.addPoint(0.0, 0.5 * g.root_width, 0.0))
    tangential = occ.addLine(occ.addPoint(-0.5 * g.root_length, 0.0, 0.0),
                             occ.addPoint(0.5 * g.root_length, 0.0, 0.0))
    fused, _ = occ.fuse([(3, block)], foil)
    fragments, mapping = occ.fragment(fused, [(1, axial), (1, tangential)])
    occ.synchronize()
    volumes = [tag for dim, tag in fragments if dim == 3]
    if len(volumes) != 1:
        raise InputError(f"blade geometry: the fusion gave {len(volumes)} volumes instead of 1")
    lines = {name: [t for d, t in mapping[i] if d == 1] for i, name in
             ((1, "root_axial_line"), (2, "root_tangential_line"))}

    faces: dict[str, list[int]] = {}
    tol = 1e-6 * g.tip_height
    for _, tag in gmsh.model.getBoundary([(3, volumes[0])], oriented=False):
        xmin, ymin, zmin, xmax, ymax, zmax = gmsh.model.getBoundingBox(2, tag)
        if zmax < tol:
            name = "root_bottom"
        elif zmin > g.tip_height - tol:
            name = "tip"
        elif zmax < g.root_height + tol:
            name = "platform" if zmin > g.root_height - tol else "root_sides"
        else:
            name = _airfoil_side(gmsh, g, tag)
        faces.setdefault(name, []).append(tag)
    expected = {"root_bottom", "tip", "platform", "root_sides", "pressure_side", "suction_side", "trailing_edge"}
    if set(faces) != expected:
        raise InputError(f"blade geometry: classified faces {sorted(faces)}, expected {sorted(expected)}")
    for dim, groups in ((2, faces), (1, lines), (3, {"blade": volumes})):
        for name, tags in groups.items():
            gmsh.model.addPhysicalGroup(dim, tags, name=name)


def _airfoil_side(gmsh, g: BladeGeometry, tag: int) -> str:
    """Name of a lateral airfoil face: compare a point of it with the camber line.

    The point is the face's centre of mass projected back onto the face.
    """
    center = gmsh.model.occ.getCenterOfMass(2, tag)
    point = np.asarray(gmsh.model.getClosestPoint(2, tag, center)[0])
    xc, yc = g.to_chord_frame(point[None, :])[0]
    if xc > 0.98:
        return "trailing_edge"
    return "suction_side" if yc > g.camber_line(xc)[0] else "pressure_side"


def _to_mesh(gmsh, order: int) -> Mesh:
    """The gmsh mesh as an :class:`io_adapters.Mesh` (VTK order, outward facets).

    Physical groups become sets: surfaces → face and node sets, curves → node sets,
    volumes → cell sets; plus the cell sets ``airfoil`` and ``root``.
    """
    from rom.fem.topology import boundary_facets

    volume_type, facet_type, cell_name, facet_name = _GMSH_TYPES[order]
    node_tags, coords, _ = gmsh.model.mesh.getNodes()
    coords = coords.reshape(-1, 3)
    _, cell_nodes = gmsh.model.mesh.getElementsByType(volume_type)
    cell_nodes = cell_nodes.reshape(-1, len(_GMSH_TO_VTK[cell_name]))[:, _GMSH_TO_VTK[cell_name]]
    # keep the nodes of the volume cells, numbered in the order gmsh lists them
    used = np.unique(cell_nodes)
    position = np.full(int(node_tags.max()) + 1, -1, dtype=np.int64)
    position[node_tags] = np.arange(len(node_tags))
    kept = np.sort(position[used])
    index = np.full(len(node_tags), -1, dtype=np.int64)
    index[kept] = np.arange(len(kept))

    def nodes_of(tags):
        out = index[position[np.asarray(tags, dtype=np.int64)]]
        if np.any(out < 0):
            raise InputError("blade mesh: a boundary node belongs to no volume cell")
        return out

    points = coords[kept]
    cells = nodes_of(cell_nodes)
    outward = boundary_facets({cell_name: cells})[facet_name]
    n = len(points)
    outward_keys = _facet_keys(outward, n)
    sort = np.argsort(outward_keys)

    node_sets, face_sets, cell_sets = {}, {}, {}
    for dim, group in gmsh.model.getPhysicalGroups():
        name = gmsh.model.getPhysicalName(dim, group)
        tags = gmsh.model.getEntitiesForPhysicalGroup(dim, group)
        if dim == 3:
            cell_sets[name] = np.arange(len(cells))   # the one volume
            continue
        nodes = np.unique(np.concatenate([gmsh.model.mesh.getNodes(dim, t, includeBoundary=True)[0] for t in tags]))
        node_sets[name] = nodes_of(nodes)
        if dim != 2:
            continue
        facets = np.concatenate([gmsh.model.mesh.getElementsByType(facet_type, t)[1] for t in tags])
        facets = nodes_of(facets).reshape(-1, outward.shape[1])
        keys = _facet_keys(facets, n)
        found = np.searchsorted(outward_keys, keys, sorter=sort)
        found = sort[np.minimum(found, len(sort) - 1)]
        if not np.array_equal(outward_keys[found], keys):
            raise InputError(f"blade mesh: face set '{name}' holds facets that are not on the boundary")
        face_sets[name] = {facet_name: outward[found]}
    centroid_z = points[cells[:, :4], 2].mean(axis=1)
    root_top = points[node_sets["platform"], 2].mean()
    cell_sets.update(airfoil=np.flatnonzero(centroid_z > root_top), root=np.flatnonzero(centroid_z <= root_top))
    return Mesh(points=points, cells={cell_name: cells}, node_sets=node_sets, cell_sets=cell_sets,
                face_sets=face_sets)


def _facet_keys(facets: np.ndarray, n_nodes: int) -> np.ndarray:
    """One int64 per facet from its sorted corners (same corners, same key)."""
    corners = np.sort(facets[:, :3], axis=1).astype(np.int64)
    return (corners[:, 0] * n_nodes + corners[:, 1]) * n_nodes + corners[:, 2]


# ----------------------------------------------------------- temperature
def temperature_field(mesh: Mesh, seed: int, *, root_temperature: float = 550.0,
                      airfoil_temperature: float = 850.0, n_bumps: int = 4, n_modes: int = 3,
                      geometry: BladeGeometry | None = None) -> np.ndarray:
    """A smooth random hot-condition temperature field of the blade family.

    ``T(x) = T_root + (T_airfoil - T_root) ramp(z) + Σ_k a_k exp(-|x - c_k|² / 2w_k²)
    + Σ_m b_m cos(k_m · x + φ_m)``: a radial gradient (``ramp`` rises smoothly
    from 0 in the root to 1 in the airfoil), Gaussian hot or cold spots centred in
    the airfoil (amplitudes -80 … 150 K, widths 6 … 15 mm) and low-order Fourier
    modes (amplitudes ≤ 25 K, at most one wavelength per airfoil dimension), all
    drawn from ``seed``.

    Parameters
    ----------
    mesh : Mesh
        A blade mesh (its nodes are evaluated; nothing else is used).
    seed : int
        Seed of ``numpy.random.default_rng``: equal seeds give equal fields.
    root_temperature, airfoil_temperature : float
        Levels of the radial gradient (°C).
    n_bumps, n_modes : int
        Number of Gaussian spots and of Fourier modes.
    geometry : BladeGeometry, optional
        Where the root ends and the airfoil lies (default dimensions).

    Returns
    -------
    (n_nodes,) float array
    """
    g = geometry or BladeGeometry()
    rng = np.random.default_rng(seed)
    x = mesh.points
    lower = np.array([-0.5 * g.chord_root, -0.5 * g.chord_root, g.root_height])
    upper = np.array([0.5 * g.chord_root, 0.5 * g.chord_root, g.tip_height])
    ramp = 0.5 * (1.0 + np.tanh((x[:, 2] - g.root_height) / (0.15 * g.span)))
    field = root_temperature + (airfoil_temperature - root_temperature) * ramp
    centers = rng.uniform(lower, upper, size=(n_bumps, 3))
    amplitudes = rng.uniform(-80.0, 150.0, size=n_bumps)
    widths = rng.uniform(6.0, 15.0, size=n_bumps)
    for c, a, w in zip(centers, amplitudes, widths):
        field += a * np.exp(-np.sum((x - c) ** 2, axis=1) / (2.0 * w * w))
    wave = rng.uniform(-1.0, 1.0, size=(n_modes, 3)) * (2.0 * np.pi / (upper - lower))
    for k, b, phase in zip(wave, rng.uniform(0.0, 25.0, size=n_modes), rng.uniform(0.0, 2 * np.pi, size=n_modes)):
        field += b * np.cos(x @ k + phase)
    return field


# ---------------------------------------------------------------- problem
def flight_cycle(period: float = 100.0) -> TimeTable:
    """The load factor of one flight, repeated: ramp up over 20 %, hold 60 %, ramp down 20 %.

    Returns
    -------
    TimeTable
        Periodic, 0 at the start and end of every cycle, 1 during the hold.
    """
    return TimeTable(times=[0.0, 0.2 * period, 0.8 * period, period], values=[0.0, 1.0, 1.0, 0.0], period=period)


def cycle_times(n_cycles: int, steps_per_cycle: int, period: float) -> np.ndarray:
    """Times of ``n_cycles`` flight cycles: ramp up, hold, ramp down cut into ``steps_per_cycle`` steps.

    About 40 % of the steps on each ramp and 20 % on the hold (at least one each).

    Returns
    -------
    (n_cycles * steps_per_cycle + 1,) float array
    """
    if steps_per_cycle < 3:
        raise InputError(f"a flight cycle needs at least 3 steps (up, hold, down), found {steps_per_cycle}")
    up = max(1, round(0.4 * steps_per_cycle))
    hold = max(1, round(0.2 * steps_per_cycle))
    down = max(1, steps_per_cycle - up - hold)
    up = steps_per_cycle - hold - down
    return time_steps([0.2 * period, 0.8 * period, period], [up, hold, down], cycles=n_cycles)


def make_blade_problem(size: float, *, seed: int = 0, n_cycles: int = 2, steps_per_cycle: int = 10,
                       order: int = 2, omega: float = 1000.0, pressure: float = 0.6, period: float = 100.0,
                       geometry: BladeGeometry | None = None, mesh: Mesh | None = None,
                       material: dict | None = None) -> Problem:
    """The blade under a flight cycle: centrifugal, gas pressure and a temperature field.

    Every load follows :func:`flight_cycle`: the rotation speed reaches ``omega``,
    the pressure side carries a compressive ``pressure`` and the temperature goes
    from :data:`REFERENCE_TEMPERATURE` everywhere to :func:`temperature_field`
    (``seed``) and back.

    Supports: ``uz = 0`` on ``root_bottom`` (radial), ``ux = 0`` on
    ``root_axial_line`` and ``uy = 0`` on ``root_tangential_line``, which leave the
    root free to expand in its plane.

    Parameters
    ----------
    size : float
        Element size of :func:`make_blade_mesh` (ignored when ``mesh`` is given).
    seed : int
        Seed of the temperature field.
    n_cycles, steps_per_cycle : int
        Flight cycles and time steps per cycle (:func:`cycle_times`).
    order : {1, 2}
        Element order.
    omega : float
        Peak rotation speed (rad/s) about the engine axis.
    pressure : float
        Peak gas pressure on the pressure side (MPa, pushing inward).
    period : float
        Duration of a cycle (s).
    geometry : BladeGeometry, optional
    mesh : Mesh, optional
        A mesh of :func:`make_blade_mesh` to reuse.
    material : dict, optional
        Material spec (:data:`MATERIAL` by default).

    Returns
    -------
    Problem
        ``source`` names the case, the size and the seed.
    """
    geometry = geometry or BladeGeometry()
    mesh = mesh if mesh is not None else make_blade_mesh(size, order=order, geometry=geometry)
    hot = temperature_field(mesh, seed, geometry=geometry)
    cold = np.full(mesh.n_nodes, REFERENCE_TEMPERATURE)
    cycle = flight_cycle(period)
    return Problem(
        mesh=mesh,
        materials={ALL_ELEMENT: dict(material or MATERIAL)},
        dirichlet=(Dirichlet("root_bottom", 2, 0.0), Dirichlet("root_axial_line", 0, 0.0),
                   Dirichlet("root_tangential_line", 1, 0.0)),
        pressures=(Pressure("pressure_side", -float(pressure), "cycle"),),
        centrifugal=(Centrifugal(None, geometry.axis_center, (1.0, 0.0, 0.0), float(omega), "cycle"),),
        temperature=Temperature.from_base_max(cold, hot, cycle, labels=("cold", f"hot (seed {seed})")),
        tables={"cycle": cycle},
        times=cycle_times(n_cycles, steps_per_cycle, period),
        source=f"examples/blade (size {size:g}, seed {seed})",
    )
