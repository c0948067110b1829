"""dolfinx 0.11 reference: small-strain J2 plasticity under cyclic loading.

Usage: ``python dolfinx_reference_plasticity.py OUT_DIR``; writes one .npz per case.

Von Mises plasticity, linear isotropic hardening R(p) = R0 + H p and linear
(Prager) kinematic hardening X = 2/3 C εp (C = 0: isotropic only), integrated by
the radial return (backward Euler, closed form) written here in numpy, at the
points of basix's degree-2 tetrahedron rule (4 points: those of nirom's
"default" tetra/tetra10 rule), with the consistent tangent, in Mandel notation.
The stress and the tangent live in quadrature-element functions; the global
Newton loop is hand-written (PETSc LU), converged to ‖r_free‖ ≤ 1e-12·‖r‖.

Cases
-----
``plastic_disp_p1`` (P1 tetrahedra): bar clamped at x = 0; on x = L the imposed
    u_x = UX·δ(t), u_z = UZ·δ(t) (u_y free), δ a cycle 0 → 1 → -1 → 0.5.
``plastic_pressure_p2`` (P2 tetrahedra): cantilever clamped at x = 0 under a
    cyclic pressure P·δ(t) on its top face z = H (pressure > 0 pushes into the body).

Each .npz holds ``points``, ``cells`` (meshio order), ``times``, ``U`` (n_t, n, 3),
the cumulated plastic strain ``p`` (n_t, n_qp) at the points ``qp_x`` (n_qp, 3), and
the parameters. Independent of nirom (it imports none of it).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import dolfinx_reference_common as common  # noqa: I001  (imports dolfinx_solver first)

import basix
import basix.ufl
import numpy as np
import ufl
from petsc4py import PETSc
from dolfinx import fem
import dolfinx.fem.petsc as fem_petsc

E, NU = 200.0e3, 0.3
R0, H_ISO = 250.0, 10.0e3
QUADRATURE_DEGREE = 2

#: name -> (degree, size, divisions, kinematic C, load kind, amplitudes, times, δ values)
_CYCLE_T = np.arange(17, dtype=float)
_CYCLE = np.interp(_CYCLE_T, [0, 4, 12, 16], [0.0, 1.0, -1.0, 0.5])
_CYCLE_P_T = np.arange(13, dtype=float)
_CYCLE_P = np.interp(_CYCLE_P_T, [0, 3, 9, 12], [0.0, 1.0, -1.0, 0.0])
CASES = {
    "plastic_disp_p1": dict(degree=1, size=(1.0, 0.3, 0.3), divisions=(8, 3, 3), kinematic_C=5.0e3,
                            load="displacement", ux=4.0e-3, uz=1.0e-2, times=_CYCLE_T, delta=_CYCLE),
    "plastic_pressure_p2": dict(degree=2, size=(1.0, 0.2, 0.2), divisions=(6, 2, 2), kinematic_C=0.0,
                                load="pressure", pressure=6.0, times=_CYCLE_P_T, delta=_CYCLE_P),
}


class J2Radial:
    """Radial return of J2 plasticity (linear isotropic + linear kinematic), Mandel notation."""

    def __init__(self, E, nu, R0, H, C):
        self.K = E / (3 * (1 - 2 * nu))
        self.mu = E / (2 * (1 + nu))
        self.R0, self.H, self.C = R0, H, C
        m = np.array([1.0, 1, 1, 0, 0, 0])
        self.m = m
        self.Idev = np.eye(6) - np.outer(m, m) / 3
        self.D = self.K * np.outer(m, m) + 2 * self.mu * self.Idev

    def initial(self, n):
        return {"eps_p": np.zeros((n, 6)), "X": np.zeros((n, 6)), "p": np.zeros(n)}

    def update(self, eps, state):
        """Stress (n, 6), tangent (n, 6, 6) and new state for a total strain (Mandel)."""
        K, mu, H, C = self.K, self.mu, self.H, self.C
        sig_tr = (eps - state["eps_p"]) @ self.D
        s_tr = sig_tr @ self.Idev
        xi = s_tr - state["X"]
        norm = np.sqrt(np.einsum("ij,ij->i", xi, xi))
        q = np.sqrt(1.5) * norm
        f = q - (self.R0 + H * state["p"])
        plastic = f > 0.0
        dp = np.where(plastic, f / (3 * mu + H + C), 0.0)
        N = np.zeros_like(xi)
        N[plastic] = xi[plastic] / norm[plastic, None]        # unit normal
        flow = np.sqrt(1.5) * N                                  # dεp = dp · 3/2 ξ/q
        sig = sig_tr - 2 * mu * dp[:, None] * flow
        new = {"eps_p": state["eps_p"] + dp[:, None] * flow,
               "X": state["X"] + (2.0 / 3.0) * C * dp[:, None] * flow,
               "p": state["p"] + dp}
        tangent = np.broadcast_to(self.D, (len(eps), 6, 6)).copy()
        if plastic.any():
            qp = q[plastic]
            theta = 1 - 3 * mu * dp[plastic] / qp
            theta_bar = 1 / (1 + (H + C) / (3 * mu)) - (1 - theta)
            Np = N[plastic]
            tangent[plastic] = (K * np.outer(self.m, self.m)[None]
                                + 2 * mu * theta[:, None, None] * self.Idev[None]
                                - 2 * mu * theta_bar[:, None, None] * np.einsum("ni,nj->nij", Np, Np))
        return sig, tangent, new


def solve_case(case: dict) -> dict:
    degree = case["degree"]
    L, _, H = case["size"]
    domain = common.box(case["size"], case["divisions"])
    V = fem.functionspace(domain, ("Lagrange", degree, (3,)))
    cell = domain.basix_cell()
    q_points, _ = basix.make_quadrature(cell, QUADRATURE_DEGREE)
    Q6 = fem.functionspace(domain, basix.ufl.quadrature_element(cell, value_shape=(6,), degree=QUADRATURE_DEGREE))
    Q66 = fem.functionspace(domain, basix.ufl.quadrature_element(cell, value_shape=(6, 6),
                                                                 degree=QUADRATURE_DEGREE))
    sig_q, tangent_q = fem.Function(Q6), fem.Function(Q66)
    n_cells = domain.topology.index_map(3).size_local
    cells_all = np.arange(n_cells, dtype=np.int32)
    q_rows = np.asarray(Q6.dofmap.list)[cells_all]                  # (n_cells, n_q) point index
    n_q = q_rows.shape[1]
    assert n_q == 4

    u = fem.Function(V)
    v, w = ufl.TestFunction(V), ufl.TrialFunction(V)
    dxq = ufl.Measure("dx", domain=domain, metadata={"quadrature_degree": QUADRATURE_DEGREE,
                                                    "quadrature_scheme": "default"})
    strain_expr = fem.Expression(common.eps_mandel(u), q_points)
    X_expr = fem.Expression(ufl.SpatialCoordinate(domain), q_points)
    qp_x = X_expr.eval(domain, cells_all).reshape(-1, 3)

    clamp = common.facets_where(domain, lambda x: np.isclose(x[0], 0.0))
    zero = np.zeros(3, dtype=PETSc.ScalarType)
    bcs = [fem.dirichletbc(zero, fem.locate_dofs_topological(V, 2, clamp), V)]
    imposed = []                                                     # (Constant, amplitude)
    pressure = fem.Constant(domain, PETSc.ScalarType(0.0))
    F_ext = None
    if case["load"] == "displacement":
        end = common.facets_where(domain, lambda x: np.isclose(x[0], L))
        for comp, amp in ((0, case["ux"]), (2, case["uz"])):
            value = fem.Constant(domain, PETSc.ScalarType(0.0))
            bcs.append(common.component_bc(V, end, comp, value))
            imposed.append((value, amp))
    else:
        top = common.facets_where(domain, lambda x: np.isclose(x[2], H))
        ds = ufl.Measure("ds", domain=domain, subdomain_data=common.facet_tags(domain, {1: top}))
        F_ext = -pressure * ufl.dot(ufl.FacetNormal(domain), v) * ds(1)

    residual = ufl.inner(sig_q, common.eps_mandel(v)) * dxq
    if F_ext is not None:
        residual = residual - F_ext
    jacobian = ufl.inner(ufl.dot(tangent_q, common.eps_mandel(w)), common.eps_mandel(v)) * dxq
    residual_form, jacobian_form = fem.form(residual), fem.form(jacobian)
    b = fem_petsc.create_vector(V)
    A = fem_petsc.create_matrix(jacobian_form)
    ksp = PETSc.KSP().create(domain.comm)
    ksp.setType("preonly")
    ksp.getPC().setType("lu")
    ksp.getPC().setFactorSolverType("mumps")
    du = fem.Function(V)
    law = J2Radial(E, NU, R0, H_ISO, case["kinematic_C"])
    state = law.initial(n_cells * n_q)
    flat_rows = q_rows.ravel()

    def constitutive(u_state):
        eps = strain_expr.eval(domain, cells_all).reshape(-1, 6)   # cell-major, point order
        sig, tangent, new = law.update(eps, u_state)
        sig_q.x.array.reshape(-1, 6)[flat_rows] = sig
        tangent_q.x.array.reshape(-1, 36)[flat_rows] = tangent.reshape(-1, 36)
        sig_q.x.scatter_forward()
        tangent_q.x.scatter_forward()
        return new

    def assemble_residual():
        """Residual into b; returns (norm over free dofs, norm over all dofs, Dirichlet gap)."""
        with b.localForm() as local:
            local.set(0.0)
        fem_petsc.assemble_vector(b, residual_form)
        b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        total = b.norm()
        fem_petsc.set_bc(b, bcs, alpha=0.0)       # zero the constrained rows
        gap = np.zeros_like(u.x.array)
        for bc in bcs:
            bc.set(gap, x0=u.x.array)            # g - u on the constrained dofs
        return b.norm(), total, float(np.abs(gap).max())

    points, cells, dof_of_node = common.nodal_layout(domain, V)
    times, delta = case["times"], case["delta"]
    U = np.zeros((len(times), len(points), 3))
    P = np.zeros((len(times), n_cells * n_q))
    iterations = []
    for k in range(1, len(times)):
        pressure.value = case.get("pressure", 0.0) * delta[k]
        for value, amp in imposed:
            value.value = amp * delta[k]
        # Newton from the converged state; the first increment carries the Dirichlet
        # increment through lifting (tangent of the converged state: elastic predictor)
        for it in range(40):
            new_state = constitutive(state)
            free, total, gap = assemble_residual()
            if free <= 1e-12 * max(total, 1e-30) + 1e-14 and gap <= 1e-14 * max(np.abs(u.x.array).max(), 1e-30):
                break
            A.zeroEntries()
            fem_petsc.assemble_matrix(A, jacobian_form, bcs=bcs)
            A.assemble()
            ksp.setOperators(A)
            b.scale(-1.0)
            fem_petsc.apply_lifting(b, [jacobian_form], bcs=[bcs], x0=[u.x.petsc_vec], alpha=1.0)
            b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
            fem_petsc.set_bc(b, bcs, x0=u.x.petsc_vec, alpha=1.0)
            ksp.solve(b, du.x.petsc_vec)
            du.x.scatter_forward()
            u.x.array[:] += du.x.array
        else:
            raise RuntimeError(f"dolfinx reference: Newton did not converge at t={times[k]} ({free:.3e})")
        iterations.append(it)
        state = new_state
        U[k] = u.x.array.reshape(-1, 3)[dof_of_node]
        P[k] = state["p"]                         # cell-major, rule order (points in qp_x)
    return dict(points=points, cells=cells, times=times, delta=delta, U=U, p=P, qp_x=qp_x,
                original_cell=np.asarray(domain.topology.original_cell_index),
                young=E, poisson=NU, R0=R0, H=H_ISO, kinematic_C=case["kinematic_C"],
                size=np.array(case["size"]), degree=degree, load=case["load"],
                ux=case.get("ux", 0.0), uz=case.get("uz", 0.0), pressure=case.get("pressure", 0.0),
                newton_iterations=np.array(iterations))


def main(out_dir: str) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, case in CASES.items():
        started = time.perf_counter()
        result = solve_case(case)
        np.savez(out / f"{name}.npz", **result)
        print(f"{name}: {len(result['points'])} nodes, {len(result['cells'])} cells, "
              f"max|U| = {np.abs(result['U']).max():.6e}, max p = {result['p'].max():.3e}, "
              f"Newton iterations {result['newton_iterations'].tolist()}, "
              f"{time.perf_counter() - started:.1f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
