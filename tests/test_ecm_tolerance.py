"""rom.ecm.ecm: ``tol`` bounds the error of the caller's integrands (issue 9) — a property check.

The property, for every integrand set ``G (m, n)``, FE weights ``w`` and returned rule
``(S, ω)``::

    ‖G w − G[:, S] ω‖₂ ≤ tol ‖G w‖₂

— the Euclidean norm of the vector of the ``m`` integrals of the integrands as given,
relative to the exact vector — with the volume exact and the weights positive.
hypothesis is not in the venv, so a seeded loop draws the sets: products of smooth
random fields like ``σ_i : ε(ψ_k)`` (some centred, so that integrals cancel as those of
self-equilibrated stresses do), rows scaled over four decades, with or without the
constant, on a distorted hex mesh, on Zset's tet10 rule (negative weights) and on the
real Zset cube; and the real Zset stresses of ``tests/data/zset/UtExample`` times
displacement bases (the POD of its ``U``, then with smooth fields added).
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

import io_adapters
from io_adapters.errors import InputError
from rom import fem
from rom.ecm import ecm, ecm_integrands

ROUND_OFF = 1e-6          # relative slack on tol: the test sums in another order than ecm's check


def _fields(X: np.ndarray, count: int, rng: np.random.Generator, top: float) -> np.ndarray:
    """``count`` smooth random fields at the points X: sums of 16 waves up to frequency ``top``."""
    waves = rng.normal(size=(16, 3)) * np.linspace(0.5, top, 16)[:, None]
    phases = rng.uniform(0, 2 * np.pi, 16)
    amplitudes = np.exp(-np.linalg.norm(waves, axis=1) / 2)
    return (rng.normal(size=(count, 16)) * amplitudes) @ np.cos(X @ waves.T + phases).T


def _random_set(X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n_left, n_right = rng.integers(1, 12, size=2)
    left = _fields(X, n_left, rng, 3.0) + rng.normal(size=(n_left, 1)) * rng.choice([0.0, 0.1, 1.0])
    right = _fields(X, n_right, rng, rng.uniform(2.0, 8.0))
    if rng.random() < 0.5:
        right -= right.mean(axis=1, keepdims=True)       # integrals that cancel
    G = (left[:, None] * right[None]).reshape(n_left * n_right, -1)
    G *= 10.0 ** rng.uniform(-2, 2, size=(len(G), 1))
    if rng.random() < 0.5:
        G = np.vstack([np.full(G.shape[1], 10.0 ** rng.uniform(-2, 1)), G])
    return G


def _violation(q, G: np.ndarray, w: np.ndarray, tol: float) -> str | None:
    """What is wrong with the rule q for the integrands G, or None."""
    exact = G @ w
    error = np.linalg.norm(q.integrate(G) - exact) / np.linalg.norm(exact)
    problems = []
    if not error <= (1 + ROUND_OFF) * tol:
        problems.append(f"‖Gw − G_S ω‖/‖Gw‖ = {error:.3e} > tol {tol:.1e} ({error / tol:.2f} tol)")
    if not q.residual == pytest.approx(error, rel=1e-6, abs=1e-13):     # equal but for round-off
        problems.append(f"residual {q.residual:.3e} is not the achieved error {error:.3e}")
    if not abs(q.weights.sum() - w.sum()) <= 1e-13 * abs(w.sum()):
        problems.append(f"volume {q.weights.sum()!r} instead of {w.sum()!r}")
    if not (np.all(q.weights > 0) and np.all(w[q.points] > 0)):
        problems.append("a weight or an FE weight is not positive")
    return "; ".join(problems) or None


@pytest.fixture(scope="module")
def zset_cube(data_dir):
    """The bundled Zset run: strain operator and weights (Zset rule), stresses, POD of U, points."""
    sim = io_adapters.read(data_dir / "zset/UtExample/cube.ut")
    B, w = fem.strain_operator(sim.mesh, rule="zset")
    U = sim.fields["U"].values.reshape(len(sim.times), -1)
    _, s, Vt = np.linalg.svd(U, full_matrices=False)
    pod = Vt[: np.count_nonzero(s > 1e-10 * s[0])]
    X = fem.integration_points(sim.mesh, "zset")
    return {"B": B, "w": w, "pod": pod, "X": X, "nodes": sim.mesh.points,
            "stresses": {name: sim.fields[name].values for name in ("sig", "eto", "ein")}}


@pytest.fixture(scope="module")
def meshes(zset_cube):
    hexes = fem.distort_mesh(fem.box_mesh("hexahedron", (6, 6, 6)), 0.25, seed=3)
    tets = fem.box_mesh("tetra10", (3, 3, 3))
    return [("distorted hex8", fem.integration_points(hexes), fem.integration_weights(hexes)),
            ("tet10, Zset rule", fem.integration_points(tets, "zset"), fem.integration_weights(tets, "zset")),
            ("Zset cube", zset_cube["X"], zset_cube["w"])]


# ------------------------------------------------------------ random sets
def test_random_integrand_sets_are_integrated_to_tol(meshes):
    failures = []
    for seed in range(150):
        rng = np.random.default_rng(seed)
        name, X, w = meshes[seed % len(meshes)]
        G = _random_set(X, rng)
        tol = float(10.0 ** rng.uniform(-7, -2))
        options = [{}] + ([{"compress": False}] if seed % 3 == 0 else [])
        for kwargs in options:
            problem = _violation(ecm(G, w, tol=tol, seed=seed, **kwargs), G, w, tol)
            if problem:
                failures.append(f"seed {seed}, {name}, {len(G)} integrands, {kwargs or 'default'}: {problem}")
    assert not failures, f"{len(failures)} sets:\n" + "\n".join(failures)


def test_a_coarse_compression_is_refined_until_the_bound_holds(meshes, caplog):
    """svd_tol far above tol: the check on G must ask for more directions, and the bound still holds."""
    failures = []
    with caplog.at_level(logging.DEBUG, logger="rom.ecm"):
        for seed in range(40):
            rng = np.random.default_rng(1000 + seed)
            name, X, w = meshes[seed % len(meshes)]
            G = _random_set(X, rng)
            tol = float(10.0 ** rng.uniform(-6, -3))
            problem = _violation(ecm(G, w, tol=tol, svd_tol=0.5), G, w, tol)
            if problem:
                failures.append(f"seed {seed}, {name}, {len(G)} integrands: {problem}")
    assert not failures, "\n".join(failures)
    assert "asked for more directions" in caplog.text     # the refinement did run


def test_warm_start_and_seed_keep_the_bound(meshes):
    for seed in range(20):
        rng = np.random.default_rng(2000 + seed)
        name, X, w = meshes[seed % len(meshes)]
        G = _random_set(X, rng)
        tol = float(10.0 ** rng.uniform(-6, -3))
        first = ecm(G, w, tol=tol, seed=seed)
        twin = ecm(G, w, tol=tol, seed=seed)
        assert np.array_equal(first.points, twin.points) and np.array_equal(first.weights, twin.weights)
        enriched = np.vstack([G, _random_set(X, rng)])
        warm = ecm(enriched, w, tol=tol, initial=first.points, seed=seed)
        problem = _violation(warm, enriched, w, tol)
        assert problem is None, f"seed {seed}, {name}: {problem}"


# ------------------------------------------------------------ real Zset sets
@pytest.mark.parametrize("tol", [1e-2, 1e-3, 1e-5, 1e-7])
@pytest.mark.parametrize("include_volume", [True, False])
def test_zset_ut_example_integrands_are_integrated_to_tol(zset_cube, tol, include_volume):
    """σ : ε(ψ_k) from the real stresses and the POD of U, as bench_ecm builds them; then richer bases."""
    B, w, pod = zset_cube["B"], zset_cube["w"], zset_cube["pod"]
    failures = []
    for n_extra, stresses, seed in [(0, ("sig",), 0), (5, ("sig",), 1), (20, ("sig",), 1), (40, ("sig",), 0),
                                    (20, ("sig", "eto", "ein"), 1), (40, ("sig", "eto", "ein"), 1)]:
        modes = pod
        if n_extra:                                       # the POD modes, then smooth displacement fields
            rng = np.random.default_rng(seed)
            extra = np.stack([_fields(zset_cube["nodes"], n_extra, rng, 4.0) for _ in range(3)], axis=-1)
            modes = np.linalg.qr(np.vstack([pod, extra.reshape(n_extra, -1)]).T)[0].T
        sigma = np.concatenate([zset_cube["stresses"][name] for name in stresses])
        G, _ = ecm_integrands(B, w, sigma, modes, include_volume=include_volume)
        for kwargs in ({}, {"compress": False}):
            problem = _violation(ecm(G, w, tol=tol, **kwargs), G, w, tol)
            if problem:
                failures.append(f"{len(modes)} modes × {'+'.join(stresses)}, {len(G)} integrands, "
                                f"{kwargs or 'default'}: {problem}")
    assert not failures, "\n".join(failures)


def test_integrals_that_all_vanish_are_refused(meshes):
    _, X, w = meshes[0]
    rng = np.random.default_rng(0)
    G = _fields(X, 3, rng, 3.0)
    G -= ((G @ w) / w.sum())[:, None]                     # every integral is zero
    with pytest.raises(InputError, match="integrals of the integrands vanish"):
        ecm(G, w, tol=1e-4)
    with pytest.raises(InputError, match="integrals of the integrands vanish"):
        ecm(G, w, tol=1e-4, compress=False)
