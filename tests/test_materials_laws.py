"""Constitutive laws at integration points: consistent tangents, symmetry, isotropy,
batch independence, thermal strain, large increments and the Zset gen_evp equations."""

from __future__ import annotations

import numpy as np
import pytest

import rom.materials._mises as mises
from io_adapters.errors import ConvergenceError, InputError
from rom.materials import (
    Coefficient,
    GenEVP,
    Integration,
    IsotropicElasticity,
    IsotropicHardening,
    J2Plasticity,
    KinematicHardening,
    LinearElastic,
    NortonFlow,
    PlasticFlow,
    ThermalStrain,
)
from rom.materials import voigt

TIGHT = Integration(tol=1e-13)
ELASTICITY = IsotropicElasticity(Coefficient.table([0.0, 1000.0], [2.0e5, 1.5e5]), 0.3)
THERMAL = ThermalStrain(Coefficient.table([0.0, 1000.0], [1.2e-5, 1.6e-5]), 20.0)
VOCE = IsotropicHardening(R0=200.0, H=1000.0, Q=100.0, b=20.0)
SEVERAL_KINEMATIC = (
    KinematicHardening(C=2.0e4, D=100.0),
    KinematicHardening(C=5.0e4, D=Coefficient.table([0.0, 1000.0], [600.0, 300.0])),
    KinematicHardening(C=3.0e3),
)


def j2_linear():
    return J2Plasticity(ELASTICITY, IsotropicHardening(R0=200.0, H=1.0e4), (KinematicHardening(C=5.0e3),),
                        integration=TIGHT)


def j2_several():
    return J2Plasticity(ELASTICITY, VOCE, SEVERAL_KINEMATIC, thermal_strain=THERMAL, integration=TIGHT)


def evp_norton(theta=1.0, kinematic=SEVERAL_KINEMATIC, isotropic=VOCE):
    k = Coefficient.table([0.0, 1000.0], [500.0, 300.0])
    return GenEVP(ELASTICITY, NortonFlow(K=k, n=12.0), isotropic, kinematic, thermal_strain=THERMAL,
                  integration=Integration(theta=theta, tol=1e-13))


def evp_plastic():
    return GenEVP(ELASTICITY, PlasticFlow(), VOCE, SEVERAL_KINEMATIC, thermal_strain=THERMAL, integration=TIGHT)


LAWS = {
    "j2_linear": j2_linear,
    "j2_voce_3kin": j2_several,
    "evp_norton": evp_norton,
    "evp_norton_theta_half": lambda: evp_norton(theta=0.5),
    "evp_plasticity": evp_plastic,
}


def fd_tangent(law, strain_old, d_strain, state, t_old, d_t, dt, h=1e-8):
    """Central differences of the stress with respect to the strain increment, (n, 6, 6)."""
    n = strain_old.shape[0]
    d = np.zeros((n, 6, 6))
    for j in range(6):
        plus, minus = d_strain.copy(), d_strain.copy()
        plus[:, j] += h
        minus[:, j] -= h
        d[:, :, j] = (law.update(strain_old, plus, state, t_old, d_t, dt)[0]
                      - law.update(strain_old, minus, state, t_old, d_t, dt)[0]) / (2.0 * h)
    return d


def relative_error(a, b):
    """Per point max |a − b| / max |b|."""
    return np.abs(a - b).reshape(len(a), -1).max(axis=1) / np.abs(b).reshape(len(b), -1).max(axis=1)


def loaded(law, n=8, seed=0, scale=6e-3):
    """A state after one plastic increment from zero, and a reverse increment from it."""
    rng = np.random.default_rng(seed)
    t0, dt_ = np.full(n, 400.0), np.full(n, 30.0)
    d1 = rng.normal(size=(n, 6)) * scale
    _, _, state = law.update(np.zeros((n, 6)), d1, law.initial_state(n), t0, dt_, 1.0)
    d2 = -2.5 * d1 + rng.normal(size=(n, 6)) * scale / 3.0
    return d1, d2, state, t0 + dt_, dt_


# -- consistent tangent ------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(LAWS))
def test_tangent_matches_finite_differences_in_loading(name):
    law = LAWS[name]()
    n = 8
    rng = np.random.default_rng(3)
    d = rng.normal(size=(n, 6)) * 3e-3
    t, dt_ = np.full(n, 400.0), np.full(n, 30.0)
    state = law.initial_state(n)
    stress, tangent, new = law.update(np.zeros((n, 6)), d, state, t, dt_, 1.0)
    assert np.mean(new[law.state_names[0]] > 0.0) >= 0.75, "most points should flow"
    fd = fd_tangent(law, np.zeros((n, 6)), d, state, t, dt_, 1.0)
    assert relative_error(tangent, fd).max() < 1e-6


@pytest.mark.parametrize("name", sorted(LAWS))
def test_tangent_matches_finite_differences_in_reverse_loading(name):
    law = LAWS[name]()
    d1, d2, state, t, dt_ = loaded(law)
    stress, tangent, new = law.update(d1, d2, state, t, dt_, 1.0)
    assert np.all(new[law.state_names[0]] > state[law.state_names[0]]), "every point should flow again"
    fd = fd_tangent(law, d1, d2, state, t, dt_, 1.0)
    assert relative_error(tangent, fd).max() < 1e-6


@pytest.mark.parametrize("name", sorted(LAWS))
def test_elastic_unloading_gives_the_elastic_tangent(name):
    law = LAWS[name]()
    d1, _, state, t, dt_ = loaded(law)
    # a small step back along the loading path unloads elastically (dt = 0: no viscous flow)
    stress, tangent, new = law.update(d1, -0.02 * d1, state, t, np.zeros_like(t), 0.0)
    np.testing.assert_array_equal(new[law.state_names[0]], state[law.state_names[0]])
    lam, mu = ELASTICITY.lame(t)
    elastic = np.zeros((len(t), 6, 6))
    elastic[:, :3, :3] = lam[:, None, None]
    elastic[:, np.arange(6), np.arange(6)] += mu[:, None] * np.array([2, 2, 2, 1, 1, 1.0])
    np.testing.assert_allclose(tangent, elastic, rtol=1e-14)
    assert relative_error(tangent, fd_tangent(law, d1, -0.02 * d1, state, t, 0.0 * t, 0.0)).max() < 1e-6


def test_linear_elastic_tangent_and_thermal_stress():
    law = LinearElastic(ELASTICITY, THERMAL)
    n = 5
    rng = np.random.default_rng(4)
    e = rng.normal(size=(n, 6)) * 1e-3
    t = np.linspace(-50.0, 1200.0, n)
    stress, tangent, _ = law.update(np.zeros((n, 6)), e, {}, t, np.zeros(n), 0.0)
    assert relative_error(tangent, fd_tangent(law, np.zeros((n, 6)), e, {}, t, 0.0 * t, 0.0)).max() < 1e-8
    th = THERMAL(t)
    np.testing.assert_allclose(stress, np.einsum("nij,nj->ni", tangent, e - th[:, None] * voigt.IDENTITY))


# -- symmetry ------------------------------------------------------------------------------

@pytest.mark.parametrize("law", [
    j2_linear(),
    J2Plasticity(ELASTICITY, VOCE, (KinematicHardening(C=1.0e4), KinematicHardening(C=3.0e3)), integration=TIGHT),
    evp_norton(kinematic=(KinematicHardening(C=1.0e4),)),
    evp_norton(kinematic=()),
], ids=["j2_linear", "j2_voce_linear_kin", "evp_linear_kin", "evp_no_kin"])
def test_tangent_is_symmetric_for_associative_laws(law):
    d1, d2, state, t, dt_ = loaded(law)
    _, tangent, new = law.update(d1, d2, state, t, dt_, 1.0)
    assert np.all(new[law.state_names[0]] > state[law.state_names[0]])
    asym = np.abs(tangent - np.swapaxes(tangent, 1, 2)).max(axis=(1, 2)) / np.abs(tangent).max(axis=(1, 2))
    assert asym.max() < 1e-12


# -- isotropy / objectivity --------------------------------------------------------------

@pytest.mark.parametrize("name", ["j2_voce_3kin", "evp_norton", "evp_norton_theta_half"])
def test_rotating_the_strain_history_rotates_stress_state_and_tangent(name):
    law = LAWS[name]()
    rng = np.random.default_rng(5)
    n = 4
    e1, e2 = rng.normal(size=(2, n, 6)) * 3e-3
    t, dt_ = np.full(n, 300.0), np.full(n, 50.0)
    for _ in range(3):
        q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
        t_stress, t_strain = voigt.rotation_matrices(q)

        def history(transform):
            s1, _, st1 = law.update(np.zeros((n, 6)), transform(e1), law.initial_state(n), t - dt_, dt_, 1.0)
            return law.update(transform(e1), transform(e2 - e1), st1, t, dt_, 1.0)

        stress, tangent, state = history(lambda e: e)
        r_stress, r_tangent, r_state = history(lambda e: e @ t_strain.T)
        np.testing.assert_allclose(r_stress, stress @ t_stress.T, atol=1e-9 * np.abs(stress).max())
        np.testing.assert_allclose(r_tangent, voigt.rotate_tangent(tangent, q), atol=1e-9 * np.abs(tangent).max())
        np.testing.assert_allclose(r_state[law.state_names[0]], state[law.state_names[0]], rtol=1e-10)
        for key in law.state_names[1:]:
            np.testing.assert_allclose(r_state[key], state[key] @ t_strain.T, atol=1e-12)


# -- batch independence ------------------------------------------------------------------

@pytest.mark.parametrize("name", ["j2_voce_3kin", "evp_norton"])
def test_results_do_not_depend_on_batch_size_order_or_blocks(name, monkeypatch):
    law = LAWS[name]()
    rng = np.random.default_rng(6)
    n = 40
    e_old = rng.normal(size=(n, 6)) * 2e-3
    d = rng.normal(size=(n, 6)) * 2e-3 * rng.uniform(0.0, 1.5, size=(n, 1))   # elastic and plastic mixed
    t_old, d_t = rng.uniform(20.0, 900.0, n), rng.uniform(-20.0, 20.0, n)
    _, _, state = law.update(np.zeros((n, 6)), e_old, law.initial_state(n), t_old, 0.0 * t_old, 1.0)
    ref = law.update(e_old, d, state, t_old, d_t, 1.0)
    plastic = ref[2][law.state_names[0]] > state[law.state_names[0]]
    assert 0 < plastic.sum() < n

    def sub(idx):
        return law.update(e_old[idx], d[idx], {k: v[idx] for k, v in state.items()}, t_old[idx], d_t[idx], 1.0)

    def same(out, idx):
        np.testing.assert_array_equal(out[0], ref[0][idx])
        np.testing.assert_array_equal(out[1], ref[1][idx])
        for k in law.state_names:
            np.testing.assert_array_equal(out[2][k], ref[2][k][idx])

    perm = rng.permutation(n)
    same(sub(perm), perm)
    for i in (0, 7, n - 1):
        same(sub(np.array([i])), np.array([i]))
    monkeypatch.setattr(mises, "BLOCK", 7)                  # block boundaries inside the batch
    same(sub(np.arange(n)), np.arange(n))


# -- thermal strain ----------------------------------------------------------------------

@pytest.mark.parametrize("law", [LinearElastic(ELASTICITY, THERMAL), j2_several(), evp_norton()],
                         ids=["elastic", "j2", "gen_evp"])
def test_free_thermal_expansion_gives_zero_stress(law):
    t = np.array([-100.0, 20.0, 500.0, 1500.0])
    n = t.size
    free = THERMAL(t)[:, None] * voigt.IDENTITY
    stress, _, state = law.update(np.zeros((n, 6)), free, law.initial_state(n), np.full(n, 20.0), t - 20.0, 10.0)
    np.testing.assert_allclose(stress, 0.0, atol=1e-9)
    for v in state.values():
        np.testing.assert_array_equal(v, 0.0)
    # secant form: ε_th = α(T)(T − T_ref), with α clamped outside its table
    np.testing.assert_allclose(free[:, 0], [1.2e-5 * -120.0, 0.0, 1.4e-5 * 480.0, 1.6e-5 * 1480.0])


def test_temperature_dependent_moduli_are_taken_at_the_end_of_the_increment():
    law = LinearElastic(ELASTICITY)
    e = np.array([[1e-3, 0, 0, 0, 0, 0]])
    stress, _, _ = law.update(np.zeros((1, 6)), e, {}, np.array([0.0]), np.array([500.0]), 1.0)
    young, nu = 1.75e5, 0.3
    np.testing.assert_allclose(stress[0, 0], young * (1 - nu) / ((1 + nu) * (1 - 2 * nu)) * 1e-3)


# -- the gen_evp equations, as in ZSET_FORMAT §7 -------------------------------------------

@pytest.mark.parametrize("theta", [1.0, 0.5])
def test_gen_evp_increment_satisfies_norton_normality_and_back_stress_equations(theta):
    law = evp_norton(theta=theta, kinematic=(KinematicHardening(C=6.0e4, D=400.0), KinematicHardening(C=5.0e3)))
    d1, d2, state, t, dt_ = loaded(law, n=6)
    dt = 0.7
    stress, _, new = law.update(d1, d2, state, t, dt_, dt)
    tt = t + theta * dt_                                   # coefficients at T_θ
    dp = new["evrcum"] - state["evrcum"]
    assert np.all(dp > 0)
    y = {k: state[k] + theta * (new[k] - state[k]) for k in law.state_names}       # y_θ
    sig_theta = law.update(d1, theta * d2, {"evrcum": y["evrcum"], "evri": y["evri"],
                           "al1": y["al1"], "al2": y["al2"]}, t, theta * dt_, 0.0)[0]
    lam, mu = ELASTICITY.lame(tt)
    x = sum((2.0 / 3.0) * kin.C(tt)[:, None] * y[f"al{k + 1}"] / voigt.STRESS_WEIGHTS
            for k, kin in enumerate(law.kinematic))
    j = voigt.von_mises(sig_theta - x)
    r = VOCE.R0(tt) + VOCE.H(tt) * y["evrcum"] + VOCE.Q(tt) * (1 - np.exp(-VOCE.b(tt) * y["evrcum"]))
    k_norton = law.flow.K(tt)
    np.testing.assert_allclose(j - r, k_norton * (dp / dt) ** (1.0 / 12.0), rtol=1e-9, atol=1e-10 * j.max())
    normal = 1.5 * voigt.deviator(sig_theta - x) / j[:, None] * voigt.STRESS_WEIGHTS           # engineering
    np.testing.assert_allclose(new["evri"] - state["evri"], dp[:, None] * normal, atol=1e-12)  # normality
    for k, kin in enumerate(law.kinematic):                                                     # α̇ = ε̇ᵖ − D α ṗ
        d_k = kin.D(tt)[:, None]
        np.testing.assert_allclose(new[f"al{k + 1}"] - state[f"al{k + 1}"],
                                   dp[:, None] * (normal - d_k * y[f"al{k + 1}"]), atol=1e-12)


def test_gen_evp_with_plastic_flow_equals_j2():
    j2 = j2_several()
    evp = evp_plastic()
    d1, d2, state, t, dt_ = loaded(j2)
    a = j2.update(d1, d2, {"epcum": state["epcum"], "epi": state["epi"], "al1": state["al1"],
                           "al2": state["al2"], "al3": state["al3"]}, t, dt_, 1.0)
    b = evp.update(d1, d2, {"evrcum": state["epcum"], "evri": state["epi"], "al1": state["al1"],
                            "al2": state["al2"], "al3": state["al3"]}, t, dt_, 1.0)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(a[2]["epi"], b[2]["evri"])


def test_rate_dependent_law_does_not_flow_when_dt_is_zero():
    law = evp_norton()
    n = 3
    d = np.random.default_rng(7).normal(size=(n, 6)) * 1e-2
    _, _, state = law.update(np.zeros((n, 6)), d, law.initial_state(n), np.full(n, 20.0), np.zeros(n), 0.0)
    np.testing.assert_array_equal(state["evrcum"], 0.0)


# -- large increments, subdivision, errors ------------------------------------------------

@pytest.mark.parametrize("name", sorted(LAWS))
def test_huge_increments_give_finite_consistent_results(name):
    law = LAWS[name]()
    n = 6
    rng = np.random.default_rng(8)
    d = rng.normal(size=(n, 6)) * np.array([[1e-3], [1e-2], [0.1], [0.5], [1.0], [3.0]])
    t = np.full(n, 300.0)
    for dt in (1e-6, 1.0, 1e6):
        stress, tangent, state = law.update(np.zeros((n, 6)), d, law.initial_state(n), t, np.full(n, 600.0), dt)
        assert np.isfinite(stress).all() and np.isfinite(tangent).all()
        assert all(np.isfinite(v).all() for v in state.values())
        assert np.all(state[law.state_names[0]][2:] > 0)


def test_failing_points_are_subdivided_locally(monkeypatch):
    # make the local solver fail for time increments above 0.3: two halvings of dt = 1 succeed
    real_solve = mises._solve

    def picky_solve(local, f_trial, tol, max_iterations):
        q, converged, res = real_solve(local, f_trial, tol, max_iterations)
        small = local.tdt < 0.3
        return q, converged & small, np.where(small, res, 1.0)

    monkeypatch.setattr(mises, "_solve", picky_solve)
    law = evp_norton(kinematic=(KinematicHardening(C=6.0e4, D=400.0),))
    n = 6
    rng = np.random.default_rng(9)
    d = rng.normal(size=(n, 6)) * 4e-3
    d[0] *= 0.02                                        # an elastic point, never subdivided
    t, dt_ = np.full(n, 300.0), np.full(n, 200.0)
    state = law.initial_state(n)
    stress, tangent, new = law.update(np.zeros((n, 6)), d, state, t, dt_, 1.0)
    assert np.isfinite(stress).all() and np.isfinite(tangent).all()
    # a point that fails is integrated in two halves, each halved again where needed: the same
    # as the caller asking for the two halves (for the points that failed at the first level)
    monkeypatch.setattr(mises, "_solve", real_solve)
    plain = law.update(np.zeros((n, 6)), d, state, t, dt_, 1.0)
    monkeypatch.setattr(mises, "_solve", picky_solve)
    _, _, mid = law.update(np.zeros((n, 6)), d / 2, state, t, dt_ / 2, 0.5)
    halves = law.update(d / 2, d / 2, mid, t + dt_ / 2, dt_ / 2, 0.5)
    first_level = new["evrcum"] > 0                     # the points that flow: subdivided twice
    assert 0 < first_level.sum() < n
    np.testing.assert_array_equal(stress[first_level], halves[0][first_level])
    np.testing.assert_array_equal(tangent[first_level], halves[1][first_level])
    np.testing.assert_array_equal(new["evrcum"][first_level], halves[2]["evrcum"][first_level])
    np.testing.assert_array_equal(stress[~first_level], plain[0][~first_level])
    strict = evp_norton(kinematic=law.kinematic)
    strict = GenEVP(strict.elasticity, strict.flow, strict.isotropic, strict.kinematic, strict.thermal_strain,
                    integration=Integration(tol=1e-13, max_subdivisions=1))
    with pytest.raises(ConvergenceError, match=r"did not converge at \d of 6 points after 1 halvings"):
        strict.update(np.zeros((n, 6)), d, state, t, dt_, 1.0)


def test_subdivision_rescues_an_iteration_limit():
    base = evp_norton(kinematic=(KinematicHardening(C=6.0e4, D=400.0),))

    def law(**options):
        return GenEVP(base.elasticity, base.flow, base.isotropic, base.kinematic, base.thermal_strain,
                      integration=Integration(tol=1e-12, **options))

    n = 5
    d = np.random.default_rng(9).normal(size=(n, 6)) * 0.002
    args = (np.zeros((n, 6)), d, base.initial_state(n), np.full(n, 300.0), np.full(n, 200.0), 1.0)
    with pytest.raises(ConvergenceError, match=r"did not converge at 1 of 5 points after 0 halvings"):
        law(max_iterations=4, max_subdivisions=0).update(*args)
    stress, _, _ = law(max_iterations=4, max_subdivisions=10).update(*args)
    reference, _, _ = law().update(*args)
    failing = np.abs(stress - reference).max(axis=1) > 1e-9 * np.abs(reference).max()
    assert failing.sum() == 1                           # the others converged as with more iterations
    # integrated in sub-increments: close to the one-increment result, not equal
    np.testing.assert_allclose(stress[failing], reference[failing], atol=0.05 * np.abs(reference).max())


def test_convergence_error_names_points_and_residual():
    law = J2Plasticity(ELASTICITY, VOCE, SEVERAL_KINEMATIC,
                       integration=Integration(tol=1e-14, max_iterations=1, max_subdivisions=2))
    n = 4
    d = np.random.default_rng(10).normal(size=(n, 6)) * 0.2
    with pytest.raises(ConvergenceError) as err:
        law.update(np.zeros((n, 6)), d, law.initial_state(n), np.full(n, 20.0), np.zeros(n), 1.0)
    message = str(err.value)
    assert "j2_plasticity" in message and f"of {n} points after 2 halvings" in message
    assert "worst relative residual" in message and "max_iterations (1)" in message


def test_bad_inputs_are_refused():
    law = J2Plasticity(IsotropicElasticity(2.0e5, 0.3), IsotropicHardening(R0=200.0))
    n = 3
    state = law.initial_state(n)
    with pytest.raises(InputError, match="d_strain is not finite at 1 points"):
        bad = np.zeros((n, 6))
        bad[1, 2] = np.nan
        law.update(np.zeros((n, 6)), bad, state, None, None, 1.0)
    with pytest.raises(InputError, match=r"strain_old must be an \(n, 6\) array"):
        law.update(np.zeros((n, 3)), np.zeros((n, 6)), state, None, None, 1.0)
    with pytest.raises(InputError, match="lacks"):
        law.update(np.zeros((n, 6)), np.zeros((n, 6)), {"epcum": state["epcum"]}, None, None, 1.0)
    with pytest.raises(InputError, match="depends on temperature"):
        evp_norton().update(np.zeros((n, 6)), np.zeros((n, 6)), evp_norton().initial_state(n), None, None, 1.0)


def test_state_names_follow_zset():
    assert evp_norton().state_names == ("evrcum", "evri", "al1", "al2", "al3")
    assert j2_linear().state_names == ("epcum", "epi", "al1")
    assert LinearElastic(ELASTICITY).state_names == ()
    state = evp_norton().initial_state(7)
    assert state["evrcum"].shape == (7,) and state["evri"].shape == (7, 6) and state["al3"].shape == (7, 6)
