"""Implicit integration of Mises (visco)plasticity, shared by J2Plasticity and GenEVP.

Model (small strain, Voigt conventions of :mod:`rom.materials.voigt`)::

    ε = εᵉ + εᵗʰ + εᵖ,       σ = λ tr(εᵉ) I + 2μ εᵉ
    f = J(σ − X) − R(p),     J(a) = sqrt(3/2 dev a : dev a)
    ε̇ᵖ = ṗ N,                N = (3/2) dev(σ − X) / J(σ − X)
    X = Σ_k X_k,  X_k = (2/3) C_k α_k,   α̇_k = ε̇ᵖ − D_k α_k ṗ
    R(p) = R0 + H p + Q (1 − exp(−b p))
    ṗ = ⟨f/K⟩ⁿ (Norton)   or   f ≤ 0, ṗ ≥ 0, ṗ f = 0 (rate-independent)

θ-method (Zset ``theta_method_a``). Every rate is evaluated at ``y_θ = y_n + θ Δy``,
with coefficients at ``T_θ = T_n + θ ΔT``. Let ``q = θ Δp``. The kinematic update gives
``X_k,θ = φ_k (X̄_k + (2/3) C_k q N)`` with ``φ_k = 1 / (1 + θ D_k Δp) = 1 / (1 + D_k q)`` and
``X̄_k = (2/3) C_k α_k,n``. With ``s*`` the deviatoric trial stress at θ,
``ξ = s_θ − X_θ`` is parallel to ``η(q) = s* − Σ φ_k X̄_k``, which reduces the local
problem to one scalar equation per point (the classical radial return, extended to
several Armstrong–Frederick terms)::

    g(q) = A(q) − V(q) = 0,   A(q) = J(η(q)) − (3μ_θ + Σ_k φ_k C_k) q − R(p_n + q)

with ``V = 0`` (plasticity) or ``V = K (q / (θ Δt))^{1/n}`` (Norton, i.e. ``ṗ = (f/K)ⁿ``
at θ). It is solved for q by Newton's method, safeguarded by bisection in a bracket
``[lo, hi]`` updated with the sign of g, vectorised over points with per-point
convergence masks (``|g| ≤ tol · J(η(0))``). g decreases with q whenever
``J(X̄_k) ≤ C_k/D_k`` (always true for a state integrated by this scheme at constant
coefficients); g is convex in the viscous term, and the Norton iteration starts on the
right of the root, at ``min(θΔt (f*/K)ⁿ, f*/(3μ_θ))`` (f* the trial overstress), both upper
bounds of q. End-of-step values follow ``y_{n+1} = y_n + (y_θ − y_n)/θ``, and
``σ_{n+1} = C(T_{n+1}) : (ε_{n+1} − εᵗʰ(T_{n+1}) − εᵖ_{n+1})``.

Consistent tangent (Voigt, stress-like vectors N, w)::

    D = (λ + b/3) 1⊗1 + (2μ − b) diag(1,1,1,½,½,½) − [(a − 2b/3) N + c w] ⊗ N
    a = 4 μ μ_θ / h,  b = 6 μ μ_θ q / J(η),  c = b / h,
    w = v − (3/2)(η:v)/J(η)² η,   v = Σ_k D_k φ_k² X̄_k,
    1/h = 1/(V'(q) − A'(q))   (dq/dε_θ = 2μ_θ N / h; 0 when q = 0 under Norton),

which is symmetric unless some D_k > 0 (the dynamic recovery term is non-associative).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from io_adapters.errors import ConvergenceError
from rom.materials._common import check_finite, check_inputs, initial_temperature, temperatures
from rom.materials.elastic import elastic_tangent
from rom.materials.hardening import NortonFlow

#: Points integrated together (keeps the temporaries in cache; results do not depend on it).
BLOCK = 8192
_TINY = 1e-300


def _pick(value, sel):
    """``value[sel]`` for per-point arrays, ``value`` itself for constants (floats)."""
    return value if np.ndim(value) == 0 else value[sel]


def _wdot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Stress inner products ``a:b`` of component-major stress-like vectors (6, m), shape (m,)."""
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2] + 2.0 * (a[3] * b[3] + a[4] * b[4] + a[5] * b[5])


@dataclass
class _Local:
    """Per-point scalars of the local problem (arrays over the current working set, or floats).

    The kinematic terms with D = 0 (linear) only add their C to the slope: η does not
    depend on q for them. For the Armstrong–Frederick terms (index k below),
    ``η(q) = η0 + Σ_k ψ_k X̄_k`` with ``ψ_k = 1 − φ_k = D_k q φ_k``, so that
    ``|η|² = |η0|² + Σ_k ψ_k (η0:X̄_k + η:X̄_k)`` and ``η:X̄_k = η0:X̄_k + Σ_l ψ_l X̄_l:X̄_k``.
    """

    ee: np.ndarray                  # |η0|² (stress inner product)
    ex: list                        # η0:X̄_k, Armstrong–Frederick terms
    xx: dict                        # X̄_k:X̄_l, k <= l, Armstrong–Frederick terms
    C: list                         # C_k, Armstrong–Frederick terms
    D: list                         # D_k, Armstrong–Frederick terms
    c_lin: object                   # Σ C_k of the linear terms
    mu3: object                     # 3 μ_θ
    p: np.ndarray                   # p_n
    R0: object
    H: object
    Q: object
    b: object
    K: object                       # Norton only
    n: object
    tdt: float                      # θ Δt
    scale: np.ndarray               # J(η0), residual scale
    saturating: bool                # Voce term present
    norton: bool

    def take(self, sel) -> _Local:
        """The same problem restricted to some points."""
        return _Local(
            ee=self.ee[sel], ex=[v[sel] for v in self.ex], xx={k: v[sel] for k, v in self.xx.items()},
            C=[_pick(v, sel) for v in self.C], D=[_pick(v, sel) for v in self.D], c_lin=_pick(self.c_lin, sel),
            mu3=_pick(self.mu3, sel), p=self.p[sel], R0=_pick(self.R0, sel), H=_pick(self.H, sel),
            Q=_pick(self.Q, sel), b=_pick(self.b, sel), K=_pick(self.K, sel), n=_pick(self.n, sel),
            tdt=self.tdt, scale=self.scale[sel], saturating=self.saturating, norton=self.norton,
        )

    def viscous(self, q):
        """Viscous stress ``V = K (q/(θΔt))^{1/n}`` and dV/dq (0, 0 for plasticity; V' = ∞ at q = 0)."""
        if not self.norton:
            return 0.0, 0.0
        q = np.asarray(q, dtype=float)
        v = self.K * (q / self.tdt) ** (1.0 / self.n)
        positive = q > 0.0
        dv = np.divide(v, self.n * q, out=np.full(q.shape, np.inf), where=positive)
        return v, dv

    def kinematic(self, q):
        """φ_k, ψ_k and η:X̄_k of the Armstrong–Frederick terms at q."""
        phi = [1.0 / (1.0 + d * q) for d in self.D]
        psi = [d * q * f for d, f in zip(self.D, phi)]
        n_af = len(phi)
        ex_q = [self.ex[k] + sum(psi[l] * self.xx[min(k, l), max(k, l)] for l in range(n_af)) for k in range(n_af)]
        return phi, psi, ex_q

    def hardening(self, q):
        """R(p_n + q) and R'(p_n + q)."""
        pq = self.p + q
        r = self.R0 + self.H * pq
        dr = self.H
        if self.saturating:
            decay = np.exp(-self.b * pq)
            r = r + self.Q * (1.0 - decay)
            dr = dr + self.Q * self.b * decay
        return r, dr

    def slopes(self, phi, ex_q, j, dr):
        """``(3μ + Σ φ_k C_k)`` and ``dA/dq = (3/2) η:v / J − 3μ − Σ φ_k² C_k − R'`` (R' = dr)."""
        slope = self.mu3 + self.c_lin
        da = -slope - dr
        if phi:
            ev = 0.0
            for k, f in enumerate(phi):
                slope = slope + f * self.C[k]
                f2 = f * f
                da = da - f2 * self.C[k]
                ev = ev + (self.D[k] * f2) * ex_q[k]
            da = da + 1.5 * ev / j
        return slope, da

    def residual(self, q):
        """g and dg/dq at q (scalar form, from the inner products)."""
        eta2 = self.ee
        phi, psi, ex_q = self.kinematic(q) if self.D else ([], [], [])
        for k in range(len(phi)):
            eta2 = eta2 + psi[k] * (self.ex[k] + ex_q[k])
        j = np.sqrt(np.maximum(1.5 * eta2, _TINY))
        r, dr = self.hardening(q)
        slope, da = self.slopes(phi, ex_q, j, dr)
        v, dv = self.viscous(q)
        return j - slope * q - r - v, da - dv


def _solve(local: _Local, f_trial: np.ndarray, tol: float, max_iterations: int):
    """Safeguarded Newton on g(q) = 0 at every point.

    Each point iterates on its own (a converged point is frozen), so that its result does
    not depend on the other points of the batch. Returns q (m,), the converged mask (m,)
    and |g|/scale (m,).
    """
    m = f_trial.shape[0]
    hi = np.full(m, np.inf)
    q_up = f_trial / local.mu3              # q ≤ f_trial / (3μ_θ) when A' ≤ −3μ_θ
    if local.norton:
        # start on the right of the root (g is convex there): V(q_0) ≥ f_trial or q_0 = q_up
        with np.errstate(over="ignore"):
            x = np.minimum(local.tdt * (f_trial / local.K) ** local.n, q_up)
    else:
        x = f_trial / (local.mu3 + local.c_lin + sum(local.C) + np.maximum(local.hardening(0.0)[1], 0.0))
    lo = np.zeros(m)
    x_out = np.empty(m)
    res_out = np.full(m, np.inf)
    converged_out = np.zeros(m, bool)
    index = np.arange(m)
    # q ≤ θΔt (f_trial/K)ⁿ: where that underflows, q = 0 to double precision
    done = x == 0.0
    x_out[done], res_out[done], converged_out[done] = 0.0, 0.0, True
    if done.all():
        return x_out, converged_out, res_out
    work = local
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for _ in range(max_iterations):
            g, dg = work.residual(x)
            res = np.abs(g) / work.scale
            lo = np.where(g > 0.0, x, lo)
            hi = np.where(g < 0.0, x, hi)
            x_new = x - g / dg
            new = (res <= tol) & ~done
            if new.any():
                # a converged point keeps its last Newton correction when it stays in the bracket
                closed = (dg < 0.0) & (x_new >= lo) & (x_new <= hi)
                where = index[new]
                x_out[where] = np.where(closed, x_new, x)[new]
                res_out[where] = res[new]
                converged_out[where] = True
                done |= new
                if done.all():
                    return x_out, converged_out, res_out
            ok = (dg < 0.0) & (x_new > lo) & (x_new < hi)
            if not ok.all():                                 # bisection, or expansion if unbounded
                fallback = np.where(np.isfinite(hi), 0.5 * (lo + hi), 2.0 * x + work.scale / work.mu3)
                x_new = np.where(ok, x_new, fallback)
            x = np.where(done, x, x_new)
            if 2 * np.count_nonzero(done) > done.size:       # compact the working set
                keep = ~done
                index, x, lo, hi, done = index[keep], x[keep], lo[keep], hi[keep], done[keep]
                work = work.take(keep)
        g, _ = work.residual(x)                           # after the last update
    res = np.abs(g) / work.scale
    left = ~done
    x_out[index[left]] = x[left]
    res_out[index[left]] = res[left]
    converged_out[index[left]] = res[left] <= tol
    return x_out, converged_out, res_out


class MisesLaw:
    """Update machinery of the Mises laws; subclasses define the parameters.

    Subclasses provide ``elasticity``, ``isotropic``, ``kinematic`` (tuple),
    ``flow`` (NortonFlow or PlasticFlow), ``thermal_strain`` (or None), ``integration``,
    ``name`` (potential name, e.g. ``"evr"``) and ``behavior``.
    """

    # -- names and state ------------------------------------------------------------
    @property
    def state_names(self) -> tuple[str, ...]:
        """``NAMEcum`` (p), ``NAMEi`` (εᵖ, engineering shears), ``al1``… (α_k, engineering shears)."""
        return (f"{self.name}cum", f"{self.name}i") + tuple(f"al{k + 1}" for k in range(len(self.kinematic)))

    @property
    def state_shapes(self) -> dict[str, tuple[int, ...]]:
        """Trailing shape of each state variable: () for p, (6,) for tensors."""
        return {key: (() if i == 0 else (6,)) for i, key in enumerate(self.state_names)}

    @property
    def uses_temperature(self) -> bool:
        """True when the thermal strain or a coefficient depends on temperature."""
        return self.thermal_strain is not None or not all(
            part.is_constant for part in (self.elasticity, self.isotropic, self.flow, *self.kinematic)
        )

    def initial_state(self, n: int) -> dict[str, np.ndarray]:
        """Virgin state of n points: every variable zero."""
        return {key: np.zeros((n,) + shape) for key, shape in self.state_shapes.items()}

    # -- update ---------------------------------------------------------------------
    def update(
        self,
        strain_old: np.ndarray,
        d_strain: np.ndarray,
        state_old: dict[str, np.ndarray],
        T_old: np.ndarray | float | None,
        d_T: np.ndarray | float | None,
        dt: float,
        *,
        T_initial: np.ndarray | float | None = None,
    ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """Integrate one increment at every point.

        Parameters
        ----------
        strain_old, d_strain : (n, 6) arrays
            Total strain at the start of the increment and its increment (engineering shears).
        state_old : dict
            State at the start, keys :attr:`state_names`: ``NAMEcum`` (n,), ``NAMEi`` (n, 6),
            ``al1``… (n, 6). Not modified.
        T_old, d_T : (n,) arrays or floats (None when no coefficient depends on T)
            Temperature at the start of the increment and its increment.
        dt : float
            Time increment (>= 0; a rate-dependent law does not flow when dt = 0).
        T_initial : (n,) array or float, optional
            Temperature at the start of the computation, from which the thermal
            strain is measured (``T_ref`` when omitted): ``εᵗʰ = α(T)(T − T_ref) −
            α(T_0)(T_0 − T_ref)``.

        Returns
        -------
        stress : (n, 6) array
            Cauchy stress at the end of the increment.
        tangent : (n, 6, 6) array
            Consistent tangent ``dσ_{n+1}/dε_{n+1}`` (elastic where the point did not flow).
            Where the increment had to be subdivided, the tangent of the last sub-increment.
        state : dict
            New state, same keys and shapes as ``state_old``.

        Raises
        ------
        ConvergenceError
            When the local Newton does not converge at some points even after
            ``integration.max_subdivisions`` halvings of their increment (the message
            gives their number, the first ones and the worst residual).
        InputError
            Wrong shapes, missing state variables, non-finite strains or temperatures.
        """
        n = check_inputs(self, strain_old, d_strain, state_old, dt)
        t_old, d_t = temperatures(self, T_old, d_T, n)
        state_old = {k: np.asarray(state_old[k], dtype=float) for k in self.state_names}
        check_finite(self, strain_old=strain_old, d_strain=d_strain, T_old=t_old, d_T=d_t)
        # the thermal strain of the initial temperature, a constant of each point
        offset = None
        if self.thermal_strain is not None:
            t_initial = initial_temperature(self, T_initial, n)
            if t_initial is not None:
                offset = self.thermal_strain.alpha.at(t_initial) * (t_initial - self.thermal_strain.ref_temperature)
                offset = np.broadcast_to(offset, (n,))
        stress, tangent, state, failed, residual = self._integrate(
            np.asarray(strain_old, dtype=float), np.asarray(d_strain, dtype=float), state_old,
            t_old, d_t, float(dt), 0, offset,
        )
        if failed.any():
            bad = np.flatnonzero(failed)
            raise ConvergenceError(
                f"{self.behavior}: local integration did not converge at {bad.size} of {n} points "
                f"after {self.integration.max_subdivisions} halvings of the increment "
                f"(worst relative residual {np.max(residual[bad]):.3g}, tol {self.integration.tol:g}; "
                f"first points {bad[:5].tolist()}); reduce the increment or raise "
                f"integration.max_iterations ({self.integration.max_iterations})"
            )
        return stress, tangent, state

    def _integrate(self, e_old, de, state, t_old, d_t, dt, level, offset=None):
        """One increment at every point, halved locally where the local Newton fails.

        ``offset`` (n,): the thermal strain of the initial temperature, subtracted
        from ``α(T)(T − T_ref)`` (None: none).
        """
        n = e_old.shape[0]
        stress = np.empty((n, 6))
        tangent = np.empty((n, 6, 6))
        new = {k: np.empty_like(v) for k, v in state.items()}
        failed = np.zeros(n, bool)
        residual = np.zeros(n)
        for start in range(0, n, BLOCK):
            rows = slice(start, min(start + BLOCK, n))
            failed[rows], residual[rows] = self._block(
                e_old[rows], de[rows], {k: v[rows] for k, v in state.items()}, t_old[rows], d_t[rows], dt,
                stress[rows], tangent[rows], {k: v[rows] for k, v in new.items()},
                None if offset is None else offset[rows],
            )
        if failed.any() and level < self.integration.max_subdivisions:
            idx = np.flatnonzero(failed)
            half, half_t = 0.5 * de[idx], 0.5 * d_t[idx]
            sub = {k: v[idx] for k, v in state.items()}
            sub_offset = None if offset is None else offset[idx]
            s1, _, st1, f1, r1 = self._integrate(e_old[idx], half, sub, t_old[idx], half_t, 0.5 * dt, level + 1,
                                                 sub_offset)
            s2, t2, st2, f2, r2 = self._integrate(
                e_old[idx] + half, half, st1, t_old[idx] + half_t, half_t, 0.5 * dt, level + 1, sub_offset
            )
            stress[idx], tangent[idx] = s2, t2
            for k in new:
                new[k][idx] = st2[k]
            failed[idx] = f1 | f2
            residual[idx] = np.where(f1, r1, r2)
        return stress, tangent, new, failed, residual

    def _block(self, e_old, de, state, t_old, d_t, dt, stress_out, tangent_out, state_out, offset=None):
        """Integrate m <= BLOCK points; writes the outputs, returns (failed, residual) (m,).

        ``offset`` (m,): thermal strain of the initial temperature (None: none).
        """
        integ = self.integration
        theta = integ.theta
        m = e_old.shape[0]
        norton = isinstance(self.flow, NortonFlow)
        t1 = t_old + d_t
        tt = t1 if theta == 1.0 else t_old + theta * d_t
        lam1, mu1 = self.elasticity.lame(t1)
        mut = mu1 if (theta == 1.0 or self.elasticity.is_constant) else self.elasticity.lame(tt)[1]
        cum, vp = self.state_names[:2]

        # component-major (6, m) working copies
        e1 = np.empty((6, m))
        np.add(e_old.T, de.T, out=e1)
        ep = np.array(state[vp].T, order="C")
        if theta == 1.0:
            d = e1 - ep
        else:
            d = e_old.T + theta * de.T
            d -= ep
        s = np.empty((6, m))
        mean = (d[0] + d[1] + d[2]) * (1.0 / 3.0)
        np.multiply(d[:3] - mean, 2.0 * mut, out=s[:3])
        np.multiply(d[3:], mut, out=s[3:])

        alphas, xbar = [], []
        c_lin, c_af, d_af, af = 0.0, [], [], []     # linear terms only add C; AF terms by index
        eta0 = s
        for k, kin in enumerate(self.kinematic):
            c = kin.C.at(tt)
            alpha = np.array(state[f"al{k + 1}"].T, order="C")
            xb = alpha * ((2.0 / 3.0) * c)
            xb[3:] *= 0.5
            eta0 = eta0 - xb
            alphas.append(alpha)
            xbar.append(xb)
            if kin.is_linear:
                c_lin = c_lin + c
            else:
                af.append(k)
                c_af.append(c)
                d_af.append(kin.D.at(tt))
        ee0 = _wdot(eta0, eta0)
        j0 = np.sqrt(1.5 * ee0)
        iso = self.isotropic
        r0, h, qq, bb = iso.R0.at(tt), iso.H.at(tt), iso.Q.at(tt), iso.b.at(tt)
        p_old = state[cum]
        saturating = not iso.is_linear
        r_n = r0 + h * p_old
        if saturating:
            r_n = r_n + qq * (1.0 - np.exp(-bb * p_old))
        f_trial = j0 - r_n
        plastic = f_trial > 0.0
        if norton and dt == 0.0:
            plastic[:] = False
        n_plastic = int(np.count_nonzero(plastic))

        failed = np.zeros(m, bool)
        residual = np.zeros(m)
        p_new = state_out[cum]
        p_new[...] = p_old
        u = None
        if n_plastic:
            sel = slice(None) if n_plastic == m else np.flatnonzero(plastic)
            eta0_p = eta0[:, sel]
            xb_af = [xbar[k][:, sel] for k in af]
            mu_t = _pick(mut, sel)
            local = _Local(
                ee=ee0[sel], ex=[_wdot(eta0_p, xb) for xb in xb_af],
                xx={(k, l): _wdot(xb_af[k], xb_af[l]) for k in range(len(af)) for l in range(k, len(af))},
                C=[_pick(c, sel) for c in c_af], D=[_pick(d, sel) for d in d_af], c_lin=_pick(c_lin, sel),
                mu3=3.0 * mu_t, p=p_old[sel], R0=_pick(r0, sel), H=_pick(h, sel), Q=_pick(qq, sel),
                b=_pick(bb, sel),
                K=_pick(self.flow.K.at(tt), sel) if norton else None,
                n=_pick(self.flow.n.at(tt), sel) if norton else None,
                tdt=theta * dt, scale=j0[sel], saturating=saturating, norton=norton,
            )
            x, converged, res = _solve(local, f_trial[sel], integ.tol, integ.max_iterations)
            failed[sel] = ~converged
            residual[sel] = res

            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):   # failed points only
                # final values at the solution, in vector form
                q = x
                eta, v = eta0_p, None
                phi_all = [None] * len(alphas)                 # None: linear term (φ = 1)
                if af:
                    phi, psi, ex_q = local.kinematic(q)
                    eta = eta0_p.copy()
                    v = np.zeros_like(eta)
                    for i, k in enumerate(af):
                        eta += psi[i] * xb_af[i]
                        v += (local.D[i] * phi[i] * phi[i]) * xb_af[i]
                        phi_all[k] = phi[i]
                else:
                    phi, ex_q = [], []
                j = np.sqrt(1.5 * _wdot(eta, eta))
                normal = eta * (1.5 / j)                         # N, stress-like
                if af:                                           # η:X̄_k and η:v from the final η
                    ex_q = [_wdot(eta, xb) for xb in xb_af]
                    ev = sum((local.D[i] * phi[i] * phi[i]) * ex_q[i] for i in range(len(af)))
                _, da = local.slopes(phi, ex_q, j, local.hardening(q)[1])
                inv_h = 1.0 / (local.viscous(q)[1] - da)        # dq/dε per unit 2μ_θ N
                failed[sel] |= ~(np.isfinite(q) & np.isfinite(j) & np.isfinite(inv_h) & (j > 0.0))

                # state at the end of the increment
                dp = q / theta
                n_eng = normal.copy()
                n_eng[3:] *= 2.0
                ep[:, sel] += dp * n_eng
                p_new[sel] = p_old[sel] + dp
                q_n = q * n_eng
                for k, alpha in enumerate(alphas):
                    a_p = alpha[:, sel]
                    a_theta = a_p + q_n if phi_all[k] is None else phi_all[k] * (a_p + q_n)
                    alpha[:, sel] = a_theta if theta == 1.0 else a_p + (a_theta - a_p) / theta

                # consistent tangent pieces
                mumu = _pick(mu1, sel) * mu_t
                b = 6.0 * mumu * q / j
                a = 4.0 * mumu * inv_h
                u_p = (a - (2.0 / 3.0) * b) * normal
                if af:
                    u_p += (b * inv_h) * (v - (1.5 * ev / (j * j)) * eta)
                if n_plastic == m:
                    u, nn, bcol = u_p, normal, b
                else:
                    u = np.zeros((6, m))
                    nn = np.zeros((6, m))
                    bcol = np.zeros(m)
                    u[:, sel], nn[:, sel], bcol[sel] = u_p, normal, b

        # stress at the end of the increment
        ee = e1
        ee -= ep
        if self.thermal_strain is not None:
            ee[:3] -= self.thermal_strain(t1) if offset is None else self.thermal_strain(t1) - offset
        sig = stress_out.T
        mean = ee[0] + ee[1] + ee[2]
        np.multiply(ee[:3], 2.0 * mu1, out=sig[:3])
        sig[:3] += lam1 * mean
        np.multiply(ee[3:], mu1, out=sig[3:])

        # state outputs
        state_out[vp][...] = ep.T
        for k, alpha in enumerate(alphas):
            state_out[f"al{k + 1}"][...] = alpha.T

        # tangent, entry by entry: 36 long contiguous products written with a stride
        # (much faster than a broadcast outer product whose inner loop has length 6)
        if u is None:
            elastic_tangent(lam1, mu1, m, out=tangent_out)
        else:
            _plastic_tangent(lam1 + bcol / 3.0, 2.0 * mu1 - bcol, u, nn, tangent_out)
        return failed, residual


def _plastic_tangent(lam, two_mu, u, normal, out):
    """``out = lam 1⊗1 + two_mu diag(1,1,1,½,½,½) − u⊗N`` for (m,) lam, two_mu and (6, m) u, N."""
    neg_u = -u
    for i in range(6):
        for j in range(6):
            np.multiply(neg_u[i], normal[j], out=out[:, i, j])
    for i in range(3):
        for j in range(3):
            out[:, i, j] += lam
        out[:, i, i] += two_mu
    half = 0.5 * two_mu
    for i in range(3, 6):
        out[:, i, i] += half
