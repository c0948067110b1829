"""dolfinx 0.11 reference: thermo-elasticity with the thermal strain measured from T_0.

Usage: ``python dolfinx_reference_thermal.py OUT_DIR``; writes
``OUT_DIR/thermal_p1.npz`` and ``OUT_DIR/thermal_p2.npz`` (P1 / P2 tetrahedra).

Box [0, L] x [0, W] x [0, H], clamped at x = 0 (u = 0), no load but a nodal
temperature field T(x, t) given at key times and interpolated linearly in time:
``T_0`` at t = 0 (uniform 100 plus a gradient, far from the reference temperature
20 of the material), two other fields at t = 1 and t = 2, and ``T_0`` again at t = 3.
The material has a temperature-dependent Young's modulus and a secant expansion
coefficient α(T); the thermal strain is measured from the initial temperature::

    ε_th = [α(T)(T − T_ref) − α(T_0)(T_0 − T_ref)] I,    σ = C(T) : (ε(u) − ε_th)

(Zset's, Abaqus's and Code_Aster's convention). Every integral uses the degree-2
rule (4 points per tetrahedron, nirom's "default" rule). One linear solve per time.

Each .npz holds ``points`` (n, 3), ``cells`` (m, 4|10) in meshio order (vertices in
the original input order), ``times`` (n_t,), ``U`` (n_t, n, 3), ``T`` (n_t, n) the
nodal temperatures, and the material parameters. Independent of nirom.
"""

from __future__ import annotations

import sys

import dolfinx_reference_common as common  # noqa: I001  (imports dolfinx_solver first)

import numpy as np
import ufl
from petsc4py import PETSc
from dolfinx import fem
import dolfinx.fem.petsc  # noqa: F401

SIZE = (1.0, 0.4, 0.3)
NU = 0.3
T_REF = 20.0
#: E(T) and α(T), linear between the two temperatures (nirom tables, Zset coefficient tables)
TABLE_T = np.array([0.0, 1000.0])
YOUNG = np.array([2.0e5, 1.2e5])
ALPHA = np.array([1.2e-5, 1.6e-5])
TIMES = np.array([0.0, 1.0, 2.0, 3.0])
QUADRATURE_DEGREE = 2
CASES = {"thermal_p1": (1, (8, 3, 3)), "thermal_p2": (2, (4, 2, 2))}


def temperature_fields(x: np.ndarray) -> np.ndarray:
    """The three nodal fields (3, n) at points x (n, 3): T_0, then the fields at t = 1 and t = 2."""
    L, W, H = SIZE
    X, Y, Z = x[:, 0] / L, x[:, 1] / W, x[:, 2] / H
    t0 = 100.0 + 50.0 * X
    t1 = 100.0 + 50.0 * X + 400.0 * Z * Z + 100.0 * X * Y
    t2 = 160.0 + 300.0 * X * X - 120.0 * Z
    return np.stack([t0, t1, t2])


def _linear(values):
    """ufl expression of a table linear between TABLE_T (no clamp: the fields stay inside)."""
    slope = (values[1] - values[0]) / (TABLE_T[1] - TABLE_T[0])
    return lambda T: values[0] + slope * (T - TABLE_T[0])


def solve_case(degree: int, divisions) -> dict:
    domain = common.box(SIZE, divisions)
    V = fem.functionspace(domain, ("Lagrange", degree, (3,)))
    S = fem.functionspace(domain, ("Lagrange", degree))
    young, alpha = _linear(YOUNG), _linear(ALPHA)
    T, T0 = fem.Function(S), fem.Function(S)
    xs = S.tabulate_dof_coordinates()
    fields = temperature_fields(xs)
    T0.x.array[:] = fields[0]

    E = young(T)
    mu = E / (2.0 * (1.0 + NU))
    lmbda = E * NU / ((1.0 + NU) * (1.0 - 2.0 * NU))
    eps = lambda w: ufl.sym(ufl.grad(w))  # noqa: E731
    C = lambda e: lmbda * ufl.tr(e) * ufl.Identity(3) + 2.0 * mu * e  # noqa: E731
    eps_th = (alpha(T) * (T - T_REF) - alpha(T0) * (T0 - T_REF)) * ufl.Identity(3)
    dx = ufl.Measure("dx", domain=domain, metadata={"quadrature_degree": QUADRATURE_DEGREE,
                                                   "quadrature_scheme": "default"})
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    a = ufl.inner(C(eps(u)), eps(v)) * dx
    rhs = ufl.inner(C(eps_th), eps(v)) * dx
    clamp = common.facets_where(domain, lambda x: np.isclose(x[0], 0.0))
    bc = fem.dirichletbc(np.zeros(3, dtype=PETSc.ScalarType), fem.locate_dofs_topological(V, 2, clamp), V)
    problem = fem.petsc.LinearProblem(
        a, rhs, bcs=[bc], petsc_options_prefix=f"ref_thermal_p{degree}_",
        petsc_options={"ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "mumps"})

    points, cells, dof_of_node = common.nodal_layout(domain, V)
    which = [0, 1, 2, 0]                       # field at each time: back to T_0 at the end
    U = np.zeros((len(TIMES), len(points), 3))
    for k in range(1, len(TIMES)):
        T.x.array[:] = fields[which[k]]
        uh = problem.solve()
        uh = uh[0] if isinstance(uh, tuple) else uh
        U[k] = uh.x.array.reshape(-1, 3)[dof_of_node]
    nodal = np.stack([temperature_fields(points)[w] for w in which])
    return dict(points=points, cells=cells, times=TIMES, U=U, T=nodal, size=np.array(SIZE), poisson=NU,
                ref_temperature=T_REF, table_temperature=TABLE_T, young=YOUNG, alpha=ALPHA, degree=degree)


def main(out_dir: str) -> None:
    common.run_cases(out_dir, CASES, solve_case)


if __name__ == "__main__":
    main(sys.argv[1])
