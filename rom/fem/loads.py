"""Consistent nodal loads: pressure on facets, body forces, centrifugal loads.

Every function returns a nodal force vector of shape ``(d * n_nodes,)``, dofs
node-major, ``d`` = 3 in 3D and 2 in 2D (plane strain, unit thickness).

**Pressure sign (Zset's, ZSET_FORMAT.md §6).** ``f_i = ∫ p N_i n dA`` with ``n`` the
right-hand-rule normal of the facet as listed, ``n = ∂x/∂ξ × ∂x/∂η`` (3D) and
``n = ∂x/∂ξ × e_z`` (2D edges: outward for a counter-clockwise boundary). A
*positive* value pushes along ``n``: a fluid pressure on outward facets is negative.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from io_adapters.errors import InputError
from io_adapters.mesh import CELL_DIMENSION, Mesh
from rom.fem.elements import reference_element
from rom.fem.geometry import cell_blocks, dofs_per_node, jacobians
from rom.fem.operators import integration_weights, interpolation_operator, point_counts
from rom.fem.quadrature import quadrature_rule

__all__ = ["pressure_load", "body_force", "centrifugal_load", "facet_normals"]


def _facets_of(mesh: Mesh, facets) -> dict[str, np.ndarray]:
    if isinstance(facets, str):
        try:
            return dict(mesh.face_sets[facets])
        except KeyError:
            raise InputError(
                f"no face set '{facets}' in the mesh (face sets: {', '.join(mesh.face_sets) or 'none'})"
            ) from None
    if isinstance(facets, Mapping):
        return {t: np.asarray(c, dtype=np.int64).reshape(len(c), -1) for t, c in facets.items()}
    raise InputError(
        f"facets must be a face-set name or a dict {{facet type: connectivity}}, found {type(facets).__name__}"
    )


def facet_normals(points: np.ndarray, facet_type: str, connectivity: np.ndarray, xi: np.ndarray,
                  dim: int) -> np.ndarray:
    """Unnormalised right-hand-rule normals at reference points of facets.

    Parameters
    ----------
    points : (n_nodes, 3) array
    facet_type : str
        ``triangle``, ``triangle6``, ``quad``, ``quad8`` (dim 3) or ``line``, ``line3`` (dim 2).
    connectivity : (n_facets, m) int array
    xi : (n_q, dim - 1) array
        Reference points of the facet.
    dim : {2, 3}
        Mesh dimension.

    Returns
    -------
    (n_facets, n_q, dim) array
        ``∂x/∂ξ × ∂x/∂η`` in 3D, ``(∂y/∂ξ, -∂x/∂ξ)`` in 2D; the norm is the area
        (length) element ``dA/dξdη``.
    """
    element = reference_element(facet_type)
    tangents = jacobians(points[connectivity][:, :, :dim], element.shape_gradients(xi))  # (f, q, dim, dim-1)
    if dim == 3:
        return np.cross(tangents[..., 0], tangents[..., 1])
    return np.stack([tangents[..., 1, 0], -tangents[..., 0, 0]], axis=-1)


def pressure_load(mesh: Mesh, facets, values, *, rule: str = "default", on: str | None = None) -> np.ndarray:
    """Consistent nodal forces of a pressure on facets, ``f_i = ∫ p N_i n dA``.

    Parameters
    ----------
    mesh : Mesh
    facets : str or dict[str, (n_f, m) int array]
        A face-set name of ``mesh`` or facet blocks ``{facet type: connectivity}``
        (``triangle``, ``triangle6``, ``quad``, ``quad8`` in 3D; ``line``, ``line3`` in 2D).
    values : float or array
        A constant, one value per facet (blocks in dict order, facets in listing
        order: ``(n_facets,)``) or one per mesh node (``(n_nodes,)``, interpolated
        with the facet shape functions). Positive pushes along the right-hand-rule
        normal (module docstring).
    rule : str
        Facet integration rule name (:func:`rom.fem.quadrature.quadrature_rule`).
    on : {"facet", "node"}, optional
        Where ``values`` live; inferred from the size when omitted (an error if
        ambiguous).

    Returns
    -------
    (d * n_nodes,) array
    """
    d = dofs_per_node(mesh)
    blocks = _facets_of(mesh, facets)
    for facet_type in blocks:
        if CELL_DIMENSION.get(facet_type) != d - 1:
            raise InputError(f"pressure_load: facet type '{facet_type}' cannot bound a {d}D mesh "
                             f"(expected {'triangle(6)/quad(8)' if d == 3 else 'line(3)'})")
    n_facets = sum(len(c) for c in blocks.values())
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 0:
        on, per_facet = "facet", np.full(n_facets, float(values))
    else:
        if values.ndim != 1:
            raise InputError(f"pressure values must be a scalar or one-dimensional, found shape {values.shape}")
        if on is None:
            fits = [w for w, n in (("facet", n_facets), ("node", mesh.n_nodes)) if len(values) == n]
            if len(fits) != 1:
                raise InputError(
                    f"pressure values of length {len(values)}: say on='facet' ({n_facets} facets) or "
                    f"on='node' ({mesh.n_nodes} nodes)" if fits else
                    f"pressure values of length {len(values)} match neither the {n_facets} facets nor the "
                    f"{mesh.n_nodes} nodes"
                )
            on = fits[0]
        expected = {"facet": n_facets, "node": mesh.n_nodes}.get(on)
        if expected is None or len(values) != expected:
            raise InputError(f"pressure values on '{on}' must have length {expected}, found {len(values)}")
        per_facet = values if on == "facet" else None
    force = np.zeros((mesh.n_nodes, d))
    start = 0
    for facet_type, conn in blocks.items():
        quadrature = quadrature_rule(facet_type, rule)
        shape = reference_element(facet_type).shape_functions(quadrature.points)  # (q, m)
        normals = facet_normals(mesh.points, facet_type, conn, quadrature.points, d)  # (f, q, d)
        if on == "node":
            pressure = values[conn] @ shape.T  # (f, q)
        else:
            pressure = np.broadcast_to(per_facet[start:start + len(conn), None], (len(conn), quadrature.n_points))
        traction = normals * (pressure * quadrature.weights)[:, :, None]  # (f, q, d)
        nodal = np.einsum("qm,fqa->fma", shape, traction)
        for a in range(d):
            force[:, a] += np.bincount(conn.ravel(), weights=nodal[:, :, a].ravel(), minlength=mesh.n_nodes)
        start += len(conn)
    return force.ravel()


def body_force(mesh: Mesh, b, *, rule: str = "default") -> np.ndarray:
    """Consistent nodal forces of a body force per unit volume, ``f_i = ∫ N_i b dV``.

    Parameters
    ----------
    mesh : Mesh
    b : (d,) or (n_points, d) array
        Constant body force or its values at the rule's integration points
        (``d`` = 3, or 2 in 2D; a 3-vector is accepted in 2D if its z is ignored).
    rule : str

    Returns
    -------
    (d * n_nodes,) array
    """
    d = dofs_per_node(mesh)
    N = interpolation_operator(mesh, rule)
    weights = integration_weights(mesh, rule)
    b = np.asarray(b, dtype=np.float64)
    if b.ndim == 1:
        b = np.broadcast_to(b, (len(weights), len(b)))
    if b.ndim != 2 or b.shape[0] != len(weights) or b.shape[1] not in (d, 3):
        raise InputError(f"body force must have shape ({d},) or ({len(weights)}, {d}), found {b.shape}")
    return np.asarray(N.T @ (b[:, :d] * weights[:, None])).ravel()


def centrifugal_load(mesh: Mesh, density, omega: float, axis_point, axis_direction, *,
                     rule: str = "default") -> np.ndarray:
    """Consistent nodal forces of a rotation about an axis, ``f_i = ∫ N_i ρ ω² r⊥ dV``.

    Parameters
    ----------
    mesh : Mesh
    density : float, (n_cells,) or (n_points,) array
        Density (e.g. Zset's ``masvol``): constant, per cell (mesh cell order) or
        at the rule's integration points (the two coincide when every cell has one
        point).
    omega : float
        Angular velocity (rad per time unit); the load scales with ω².
    axis_point : (3,) array
        A point of the axis.
    axis_direction : (3,) array
        Direction of the axis (normalised here).
    rule : str

    Returns
    -------
    (d * n_nodes,) array
        ``r⊥ = (x − c) − ((x − c)·e) e`` is the distance vector from the axis; in 2D
        its in-plane components are used.
    """
    direction = np.asarray(axis_direction, dtype=np.float64)
    norm = np.linalg.norm(direction)
    if direction.shape != (3,) or norm == 0:
        raise InputError(f"axis_direction must be a non-zero 3-vector, found {axis_direction!r}")
    direction = direction / norm
    centre = np.asarray(axis_point, dtype=np.float64)
    if centre.shape != (3,):
        raise InputError(f"axis_point must be a 3-vector, found {axis_point!r}")
    counts = point_counts(mesh, rule)
    density = np.asarray(density, dtype=np.float64)
    if density.ndim == 0:
        rho = np.full(counts.sum(), float(density))
    elif density.shape == (mesh.n_cells,):
        rho = np.repeat(density, counts)
    elif density.shape == (counts.sum(),):
        rho = density
    else:
        raise InputError(f"density must be a scalar or have shape ({mesh.n_cells},) (one per cell) or "
                         f"({counts.sum()},) (one per integration point), found {density.shape}")
    x = np.concatenate([b.coordinates.reshape(-1, 3) for b in cell_blocks(mesh, rule, gradients=False)])
    relative = x - centre
    radial = relative - np.outer(relative @ direction, direction)
    return body_force(mesh, (rho * float(omega) ** 2)[:, None] * radial, rule=rule)
