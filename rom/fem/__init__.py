"""The finite-element kernel shared by the full-order solver and the online ROM.

Reference elements (meshio/VTK node order), integration rules (nirom's Gauss rules
and Zset's points, order and weights), sparse operators at integration points and
consistent loads, all vectorised per cell type.

>>> from rom import fem
>>> B, w = fem.strain_operator(mesh, rule="zset")      # ε = B @ u, engineering shear
>>> f_int = fem.internal_forces(B, w, stress)          # Bᵀ (w σ)
>>> K = fem.stiffness(B, w, tangent)                   # Bᵀ diag(w D) B
>>> assemble = fem.StiffnessAssembler.of(B)            # same, pattern kept for many calls
>>> K = assemble(w, tangent)
>>> f_p = fem.pressure_load(mesh, "top", -20.0)        # positive pushes along n

Conventions: integration points cell by cell in the mesh's cell order, each
cell's points in the rule's order; strains Voigt ``[11, 22, 33, 12, 23, 31]`` with
engineering shear; dofs node-major. 2D meshes are plane strain with 2 dofs per node
and the same six strain rows (ε33 = γ23 = γ31 = 0); see :mod:`rom.fem.operators`.
"""

from rom.fem.assembly import StiffnessAssembler
from rom.fem.elements import ELEMENT_TYPES, ReferenceElement, reference_element
from rom.fem.geometry import dofs_per_node
from rom.fem.loads import body_force, centrifugal_load, pressure_load
from rom.fem.meshes import box_mesh, distort_mesh, map_mesh
from rom.fem.operators import (
    integration_points,
    integration_weights,
    interpolation_operator,
    internal_forces,
    mass_matrix,
    point_counts,
    stiffness,
    strain_operator,
)
from rom.fem.quadrature import RULES, QuadratureRule, quadrature_rule

__all__ = [
    "ELEMENT_TYPES", "RULES", "QuadratureRule", "ReferenceElement", "StiffnessAssembler", "body_force", "box_mesh",
    "centrifugal_load", "distort_mesh", "dofs_per_node", "integration_points", "integration_weights",
    "internal_forces", "interpolation_operator", "map_mesh", "mass_matrix", "point_counts", "pressure_load",
    "quadrature_rule", "reference_element", "stiffness", "strain_operator",
]
