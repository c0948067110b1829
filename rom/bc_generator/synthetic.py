"""Synthetic boundary traces that look like a submodel's boundary under random impacts.

Stands in for the FE data (global structure under random fast dynamics) in tests and
benchmarks. The submodel's boundary is a circle of radius 1 in the plane ``z = 0``,
``n_nodes`` nodes at angles ``θ_i``; each sample is hit by one impact, or two (with
probability ``p_double``), arriving as a plane wave from a direction ``φ``:

- **zone** of the impact: ``A`` (probability ``p_zone_a``) or ``B``, centred at
  angles ``φ_A``, ``φ_B``: the directions are bimodal;
- **direction** ``φ ~ N(φ_zone, σ_φ)``; **amplitude**
  ``a = a_zone · exp(0.25 ξ) · (1 + κ (φ - φ_zone)/σ_φ)₊`` (``ξ ~ N(0, 1)``): amplitude
  and position are coupled, and the amplitudes of the two zones differ;
- **onset** ``t_0 ~ U(0.15, 0.3)`` and **rise time** ``τ ~ U(0.05, 0.1)`` (fractions of
  the duration), the rise time growing with the amplitude; a second impact starts 0.15 later;
- **response** at node ``i``: the wave reaches it at ``t_i = t_0 + (1 - cos(θ_i - φ)) / c``
  and is attenuated by ``exp(-(1 - cos(θ_i - φ)) / ℓ)``; the history is a smooth step
  (normal CDF of width ``τ``) times a damped oscillation ``exp(-s/T_d) cos(ω s)``;
- **components**: mostly along the outward normal, a shear part along the tangent
  (``∝ sin(θ_i - φ)``) and an out-of-plane part whose sign depends on the zone
  (zone A pushes up, zone B down).

:func:`ring_traces` is the small multimodal case of the tests: traces whose two POD
coefficients form a ring of Gaussians.

The impact distribution is far from Gaussian (two zones, one or two impacts, the coupling),
yet smooth enough for a space–time POD to compress it (64 nodes × 48 times: 23
coefficients hold 99.9 % of the energy), plus a faint white noise (``noise``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

__all__ = ["ImpactModel", "impact_traces", "ring_traces"]


@dataclass(frozen=True)
class ImpactModel:
    """Parameters of the synthetic impact model (defaults give a bimodal, coupled distribution)."""

    p_zone_a: float = 0.6
    phi_a: float = 0.5 * np.pi
    phi_b: float = 1.4 * np.pi
    sigma_phi: float = 0.2
    amplitude_a: float = 1.0
    amplitude_b: float = 0.55
    coupling: float = 0.35
    p_double: float = 0.3
    wave_speed: float = 6.0
    attenuation: float = 1.2
    omega: float = 2 * np.pi * 1.5
    damping: float = 0.35
    shear: float = 0.3
    out_of_plane: float = 0.4
    onset: tuple[float, float] = (0.15, 0.3)
    rise: tuple[float, float] = (0.05, 0.1)
    noise: float = 1e-4


def _impacts(rng: np.random.Generator, model: ImpactModel, n: int) -> dict:
    zone_a = rng.random(n) < model.p_zone_a
    centre = np.where(zone_a, model.phi_a, model.phi_b)
    deviation = rng.standard_normal(n)
    phi = centre + model.sigma_phi * deviation
    base = np.where(zone_a, model.amplitude_a, model.amplitude_b)
    amplitude = base * np.exp(0.25 * rng.standard_normal(n)) * np.clip(1 + model.coupling * deviation, 0.05, None)
    t0 = rng.uniform(*model.onset, n)
    tau = rng.uniform(*model.rise, n) * (0.8 + 0.2 * amplitude / model.amplitude_a)
    return {"zone_a": zone_a, "phi": phi, "amplitude": amplitude, "t0": t0, "tau": tau}


def _response(impact: dict, theta: np.ndarray, times: np.ndarray, model: ImpactModel) -> np.ndarray:
    """``(n, n_times, n_nodes, 3)`` displacements of impacts (each a dict entry of shape (n,))."""
    angle = theta[None, :] - impact["phi"][:, None]                            # (n, nodes)
    distance = 1 - np.cos(angle)
    arrival = impact["t0"][:, None] + distance / model.wave_speed               # (n, nodes)
    s = times[None, :, None] - arrival[:, None, :]                             # (n, times, nodes)
    tau = impact["tau"][:, None, None]
    history = ndtr(s / tau) * np.exp(-np.clip(s, 0, None) / model.damping) * np.cos(model.omega * np.clip(s, 0, None))
    scale = impact["amplitude"][:, None] * np.exp(-distance / model.attenuation)   # (n, nodes)
    w = history * scale[:, None, :]
    normal = np.stack([np.cos(theta), np.sin(theta), np.zeros_like(theta)], axis=1)   # (nodes, 3)
    tangent = np.stack([-np.sin(theta), np.cos(theta), np.zeros_like(theta)], axis=1)
    sign = np.where(impact["zone_a"], 1.0, -1.0)[:, None]
    direction = (normal[None] + model.shear * np.sin(angle)[..., None] * tangent[None])      # (n, nodes, 3)
    direction = direction + (model.out_of_plane * sign)[..., None] * np.array([0.0, 0.0, 1.0])
    return w[..., None] * direction[:, None, :, :]


def impact_traces(n_samples: int, *, n_nodes: int = 64, n_times: int = 48, seed: int = 0,
                  model: ImpactModel | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw synthetic boundary traces.

    Parameters
    ----------
    n_samples : int
    n_nodes, n_times : int
        Boundary nodes (on the unit circle) and times (in [0, 1]).
    seed : int
    model : ImpactModel, optional

    Returns
    -------
    samples : (n_samples, n_times, n_nodes, 3) array
    node_ids : (n_nodes,) int array
        ``1000 + i`` (ids as a global mesh would give them).
    times : (n_times,) array
    """
    model = model or ImpactModel()
    rng = np.random.default_rng(seed)
    theta = 2 * np.pi * np.arange(n_nodes) / n_nodes
    times = np.linspace(0.0, 1.0, n_times)
    first = _impacts(rng, model, n_samples)
    second = _impacts(rng, model, n_samples)
    double = rng.random(n_samples) < model.p_double
    second["amplitude"] = second["amplitude"] * double
    second["t0"] = second["t0"] + 0.15
    traces = _response(first, theta, times, model) + _response(second, theta, times, model)
    traces += model.noise * rng.standard_normal(traces.shape)
    return traces, 1000 + np.arange(n_nodes), times


def ring_traces(n_samples: int, seed: int, *, shape: tuple[int, int, int] = (4, 5, 3), n_clusters: int = 8,
                radius: float = 2.0, spread: float = 0.12) -> np.ndarray:
    """Traces whose two POD coefficients form a ring of ``n_clusters`` Gaussians (a multimodal law).

    The coefficients ``radius (cos 2πk/K, sin 2πk/K) + spread · N(0, I)`` (``k`` uniform)
    multiply two fixed orthonormal space–time modes (the same for every seed), plus 0.3.

    Returns
    -------
    (n_samples, *shape) array
    """
    rng = np.random.default_rng(seed)
    k = rng.integers(0, n_clusters, n_samples)
    angle = 2 * np.pi * k / n_clusters
    points = radius * np.stack([np.cos(angle), np.sin(angle)], axis=1) + spread * rng.standard_normal((n_samples, 2))
    basis = np.linalg.qr(np.random.default_rng(123).standard_normal((int(np.prod(shape)), 2)))[0].T
    return (points @ basis).reshape((n_samples,) + tuple(shape)) + 0.3
