"""dolfinx 0.11 reference: linear elasticity of a clamped box under face pressures.

Usage: ``python dolfinx_reference_elasticity.py OUT_DIR``; writes
``OUT_DIR/elastic_p1.npz`` and ``OUT_DIR/elastic_p2.npz`` (P1 / P2 tetrahedra).

Box [0, L] x [0, W] x [0, H], clamped at x = 0 (u = 0). Two pressures, each with
its own time table (pressure > 0 pushes INTO the body, traction = -p n_out):
``p_top · a(t)`` on z = H and ``p_end · b(t)`` on x = L. One solve per time.

Each .npz holds ``points`` (n, 3), ``cells`` (m, 4|10) in meshio order (vertices in
the original input order), ``times`` (n_t,), ``U`` (n_t, n, 3) nodal
displacements (U[0] = 0 at the initial time) and the parameters of the problem.
Independent of nirom (it imports none of it).
"""

from __future__ import annotations

import sys

import dolfinx_reference_common as common  # noqa: I001  (imports dolfinx_solver first)

import numpy as np
import ufl
from petsc4py import PETSc
from dolfinx import fem
import dolfinx.fem.petsc  # noqa: F401

E, NU = 200.0e3, 0.3
SIZE = (1.0, 0.4, 0.3)
P_TOP, P_END = 2.0, 30.0
TIMES = np.array([0.0, 1.0, 2.0, 3.0])
TABLE_A = np.array([0.0, 1.0, -0.5, 0.25])   # p_top factor
TABLE_B = np.array([0.0, 0.0, 1.0, -2.0])    # p_end factor
CASES = {"elastic_p1": (1, (10, 4, 3)), "elastic_p2": (2, (5, 2, 2))}


def solve_case(degree: int, divisions) -> dict:
    domain = common.box(SIZE, divisions)
    L, W, H = SIZE
    V = fem.functionspace(domain, ("Lagrange", degree, (3,)))
    lmbda, mu = common.lame(E, NU)
    eps = lambda w: ufl.sym(ufl.grad(w))  # noqa: E731
    sigma = lambda w: lmbda * ufl.tr(eps(w)) * ufl.Identity(3) + 2 * mu * eps(w)  # noqa: E731

    clamp = common.facets_where(domain, lambda x: np.isclose(x[0], 0.0))
    top = common.facets_where(domain, lambda x: np.isclose(x[2], H))
    end = common.facets_where(domain, lambda x: np.isclose(x[0], L))
    tags = common.facet_tags(domain, {1: top, 2: end})
    ds = ufl.Measure("ds", domain=domain, subdomain_data=tags)
    n = ufl.FacetNormal(domain)
    zero = np.zeros(3, dtype=PETSc.ScalarType)
    bc = fem.dirichletbc(zero, fem.locate_dofs_topological(V, 2, clamp), V)

    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    p_top = fem.Constant(domain, PETSc.ScalarType(0.0))
    p_end = fem.Constant(domain, PETSc.ScalarType(0.0))
    a = ufl.inner(sigma(u), eps(v)) * ufl.dx
    rhs = -p_top * ufl.dot(n, v) * ds(1) - p_end * ufl.dot(n, v) * ds(2)
    problem = fem.petsc.LinearProblem(
        a, rhs, bcs=[bc], petsc_options_prefix=f"ref_elastic_p{degree}_",
        petsc_options={"ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "mumps"})

    points, cells, dof_of_node = common.nodal_layout(domain, V)
    U = np.zeros((len(TIMES), len(points), 3))
    for k in range(1, len(TIMES)):
        p_top.value = P_TOP * TABLE_A[k]
        p_end.value = P_END * TABLE_B[k]
        uh = problem.solve()
        uh = uh[0] if isinstance(uh, tuple) else uh
        U[k] = uh.x.array.reshape(-1, 3)[dof_of_node]
    return dict(points=points, cells=cells, times=TIMES, U=U, table_a=TABLE_A, table_b=TABLE_B,
                young=E, poisson=NU, size=np.array(SIZE), p_top=P_TOP, p_end=P_END, degree=degree)


def main(out_dir: str) -> None:
    common.run_cases(out_dir, CASES, solve_case)


if __name__ == "__main__":
    main(sys.argv[1])
