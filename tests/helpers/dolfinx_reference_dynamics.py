"""dolfinx 0.11 reference: implicit linear elastodynamics (Newmark, generalized-α).

Usage: ``python dolfinx_reference_dynamics.py OUT_DIR``; writes one .npz per case.

dolfinx discretises a tetrahedral box (P1 or P2, vector Lagrange): the stiffness
``∫ σ(u):ε(v)``, the consistent mass ``∫ ρ u·v`` integrated exactly (quadrature degree
2p), the load vectors of unit pressures on faces. The time stepping is written here in
the *displacement form* of the schemes (one linear solve per step, scipy, the
Dirichlet dofs eliminated by lifting their imposed values), independently of nirom::

    [(1 − α_m) c0 M + (1 − α_f)(K + c_c C)] u1
        = (1 − α_f) f1 + α_f f0 − α_f (K u0 + C v0) − α_m M a0
          + (1 − α_m) M (c0 u0 + c1 v0 + c2 a0) + (1 − α_f) C (c_c u0 + c4 v0 + c5 a0)

with ``c0 = 1/(βΔt²)``, ``c1 = 1/(βΔt)``, ``c2 = 1/(2β) − 1``, ``c_c = γ/(βΔt)``,
``c4 = γ/β − 1``, ``c5 = Δt(γ/(2β) − 1)``, then ``a1 = c0 (u1 − u0) − c1 v0 − c2 a0``,
``v1 = v0 + Δt((1 − γ) a0 + γ a1)`` on every dof (the constrained ones follow their
imposed displacement through the same update). Newmark is ``α_m = α_f = 0``;
generalized-α (Chung–Hulbert) takes ``α_m = (2ρ∞ − 1)/(ρ∞ + 1)``, ``α_f = ρ∞/(ρ∞ + 1)``,
``γ = 1/2 − α_m + α_f``, ``β = (1 − α_m + α_f)²/4``. Rayleigh damping ``C = α M + β_R K``.
Start from rest: ``u0 = v0 = 0``, ``a0 = M⁻¹ f(t0)`` on the free dofs (0 on the others).

Cases
-----
``dynamic_pressure_p2`` (P2): cantilever clamped at x = 0, a pressure pulse on its top
    face z = H and a step pressure on its end x = L; Newmark average acceleration.
``dynamic_disp_p1`` (P1): bar clamped at x = 0, end x = L moved transversally
    (u_z = UZ·δ(t), a ramp then a hold; u_x, u_y free), Rayleigh damping, steps of
    two sizes (non-uniform); Newmark average acceleration.
``dynamic_genalpha_p1`` (P1): the cantilever of the first case, generalized-α ρ∞ = 0.5.

Each .npz holds ``points``, ``cells`` (meshio order), ``times``, ``U`` (n_t, n, 3) and
the parameters. Independent of nirom (it imports none of it).
"""

from __future__ import annotations

import sys

import dolfinx_reference_common as common  # noqa: I001  (imports dolfinx_solver first)

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import ufl
from dolfinx import fem
import dolfinx.fem.petsc as fem_petsc

E, NU, RHO = 1000.0, 0.3, 1.0
_PULSE_T = np.linspace(0.0, 0.6, 31)
_STEPS = np.cumsum(np.r_[0.0, np.tile([0.02, 0.035], 15)])
CASES = {
    "dynamic_pressure_p2": dict(degree=2, size=(1.0, 0.2, 0.2), divisions=(6, 2, 2), load="pressure",
                                p_top=0.2, p_end=2.0, times=_PULSE_T, rho_inf=None, rayleigh=(0.0, 0.0)),
    "dynamic_disp_p1": dict(degree=1, size=(1.0, 0.2, 0.2), divisions=(10, 2, 2), load="displacement",
                            uz=0.02, times=_STEPS, rho_inf=None, rayleigh=(0.5, 2.0e-3)),
    "dynamic_genalpha_p1": dict(degree=1, size=(1.0, 0.2, 0.2), divisions=(10, 2, 2), load="pressure",
                                p_top=0.2, p_end=2.0, times=_PULSE_T, rho_inf=0.5, rayleigh=(0.0, 0.0)),
}


def pulse(t):
    """Top pressure factor: a triangular pulse 0 → 1 (t = 0.1) → 0 (t = 0.2)."""
    return np.interp(t, [0.0, 0.1, 0.2, 1e3], [0.0, 1.0, 0.0, 0.0])


def step(t):
    """End pressure factor: 0 → 1 over the first step-ish (t = 0.02), then held."""
    return np.interp(t, [0.0, 0.02, 1e3], [0.0, 1.0, 1.0])


def ramp(t):
    """Imposed end displacement factor: 0 → 1 over [0, 0.2], then held."""
    return np.interp(t, [0.0, 0.2, 1e3], [0.0, 1.0, 1.0])


def to_scipy(form) -> sp.csr_matrix:
    A = fem_petsc.assemble_matrix(fem.form(form))
    A.assemble()
    indptr, indices, data = A.getValuesCSR()
    return sp.csr_matrix((data, indices, indptr), shape=A.getSize())


def to_numpy(form) -> np.ndarray:
    b = fem_petsc.assemble_vector(fem.form(form))
    b.ghostUpdate()
    return b.getArray().copy()


def coefficients(rho_inf):
    if rho_inf is None:
        return 0.0, 0.0, 0.25, 0.5
    am, af = (2 * rho_inf - 1) / (rho_inf + 1), rho_inf / (rho_inf + 1)
    return am, af, 0.25 * (1 - am + af) ** 2, 0.5 - am + af


def solve_case(degree, size, divisions, load, times, rho_inf, rayleigh, **amplitudes) -> dict:
    domain = common.box(size, divisions)
    L, W, H = size
    V = fem.functionspace(domain, ("Lagrange", degree, (3,)))
    lmbda, mu = common.lame(E, NU)
    eps = lambda w: ufl.sym(ufl.grad(w))  # noqa: E731
    sigma = lambda w: lmbda * ufl.tr(eps(w)) * ufl.Identity(3) + 2 * mu * eps(w)  # noqa: E731
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    K = to_scipy(ufl.inner(sigma(u), eps(v)) * ufl.dx)
    M = to_scipy(RHO * ufl.inner(u, v) * ufl.dx(metadata={"quadrature_degree": 2 * degree}))
    alpha_r, beta_r = rayleigh
    C = alpha_r * M + beta_r * K

    clamp = common.facets_where(domain, lambda x: np.isclose(x[0], 0.0))
    top = common.facets_where(domain, lambda x: np.isclose(x[2], H))
    end = common.facets_where(domain, lambda x: np.isclose(x[0], L))
    n_dofs = K.shape[0]
    fixed = np.zeros(n_dofs, dtype=bool)
    clamped = np.asarray(fem.locate_dofs_topological(V, 2, clamp))     # block (node) dofs
    fixed[(3 * clamped[:, None] + np.arange(3)).ravel()] = True
    imposed_dofs = np.zeros(0, dtype=np.int64)
    f_top = f_end = np.zeros(n_dofs)
    if load == "pressure":           # pressure > 0 pushes into the body: traction −p n
        tags = common.facet_tags(domain, {1: top, 2: end})
        ds = ufl.Measure("ds", domain=domain, subdomain_data=tags)
        n = ufl.FacetNormal(domain)
        f_top = to_numpy(-amplitudes["p_top"] * ufl.dot(n, v) * ds(1))
        f_end = to_numpy(-amplitudes["p_end"] * ufl.dot(n, v) * ds(2))
    else:
        x = V.tabulate_dof_coordinates()
        on_end = np.flatnonzero(np.isclose(x[:, 0], L))
        assert len(on_end) == len(np.asarray(fem.locate_dofs_topological(V, 2, end)))
        imposed_dofs = 3 * on_end + 2                                    # u_z of the end nodes
    fixed[imposed_dofs] = True
    free = ~fixed

    def force(t):
        return pulse(t) * f_top + step(t) * f_end

    def imposed(t):
        values = np.zeros(n_dofs)
        if len(imposed_dofs):
            values[imposed_dofs] = amplitudes["uz"] * ramp(t)
        return values

    am, af, beta, gamma = coefficients(rho_inf)
    u0, v0 = np.zeros(n_dofs), np.zeros(n_dofs)
    a0 = np.zeros(n_dofs)
    a0[free] = spla.spsolve(M[free][:, free].tocsc(), force(times[0])[free])
    points, cells, dof_of_node = common.nodal_layout(domain, V)
    U = np.zeros((len(times), len(points), 3))
    for k in range(1, len(times)):
        dt = times[k] - times[k - 1]
        c0, c1, c2 = 1 / (beta * dt * dt), 1 / (beta * dt), 1 / (2 * beta) - 1
        cc, c4, c5 = gamma / (beta * dt), gamma / beta - 1, dt * (gamma / (2 * beta) - 1)
        A = ((1 - am) * c0 * M + (1 - af) * (K + cc * C)).tocsr()
        b = ((1 - af) * force(times[k]) + af * force(times[k - 1]) - af * (K @ u0 + C @ v0) - am * (M @ a0)
             + (1 - am) * (M @ (c0 * u0 + c1 * v0 + c2 * a0)) + (1 - af) * (C @ (cc * u0 + c4 * v0 + c5 * a0)))
        u1 = imposed(times[k])
        rhs = b - A @ u1                                                 # lifting of the imposed values
        u1[free] = spla.spsolve(A[free][:, free].tocsc(), rhs[free])
        a1 = c0 * (u1 - u0) - c1 * v0 - c2 * a0
        v1 = v0 + dt * ((1 - gamma) * a0 + gamma * a1)
        u0, v0, a0 = u1, v1, a1
        U[k] = u1.reshape(-1, 3)[dof_of_node]
    return dict(points=points, cells=cells, times=np.asarray(times), U=U, young=E, poisson=NU, density=RHO,
                size=np.array(size), degree=degree, load=load, rho_inf=-1.0 if rho_inf is None else rho_inf,
                rayleigh=np.array(rayleigh), **{k: float(v) for k, v in amplitudes.items()})


def main(out_dir: str) -> None:
    common.run_cases(out_dir, {name: (case,) for name, case in CASES.items()}, lambda case: solve_case(**case))


if __name__ == "__main__":
    main(sys.argv[1])
