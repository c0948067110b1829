"""Validation of generated boundary traces against held-out traces.

:func:`compare` gathers, for one generator, the figures that say whether its traces
are distributed like real ones and whether it merely recalls its training set:

- **coefficients** (space–time POD coefficients, each divided by its training
  standard deviation unless ``standardise=False``, so that trailing modes count as
  much as the leading ones): sliced-Wasserstein distance (POT,
  ``ot.sliced_wasserstein_distance``, p = 2) and energy distance
  ``sqrt(2 E‖X-Y‖ - E‖X-X'‖ - E‖Y-Y'‖)`` (V-statistics over the samples, as
  ``scipy.stats.energy_distance`` in 1-D; 0 for identical sample sets);
- **marginals** of the ``n_leading`` leading coefficients: two-sample KS statistics;
- **a quantity of interest** (a callable on traces, e.g. the peak displacement norm):
  1-D Wasserstein (also relative to the held-out standard deviation), energy distance
  and KS — or, for a vector quantity, sliced Wasserstein and energy distance;
- **two-point statistics** of the traces: the equal-time covariance between node
  pairs ``C_ij = ⟨(u_i(t) - ū_i(t))·(u_j(t) - ū_j(t))⟩`` (components summed, averaged
  over samples and times; ``(n_nodes, n_nodes)``) and the covariance between time pairs
  ``C(t, t')`` (averaged over samples and nodes; ``(n_times, n_times)``), each compared
  with the held-out one by the relative Frobenius error ``‖C_gen - C_ref‖ / ‖C_ref‖``;
- **memorisation**: the median distance of each generated sample to its nearest
  training sample divided by the same median for held-out samples (in the coefficient
  space): ≈ 1 for a generator of new samples as far from the training set as real
  new ones, ≪ 1 for one that returns (near-)copies of its training traces (0 for the
  bootstrap), > 1 for one that draws farther away than the real distribution.

Every figure has a sampling-noise floor: compare it with the same figure for
independent real traces (e.g. a second held-out set) before reading it as an error.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy import stats
from scipy.spatial.distance import cdist

from io_adapters.errors import InputError, require
from rom.bc_generator.compression import SpaceTimePOD
from rom.bc_generator.layout import check_samples

__all__ = ["compare", "energy_distance", "nearest_neighbour_ratio", "sliced_wasserstein", "two_point_errors"]


def _points(x, where: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or len(x) < 1:
        raise InputError(f"{where}: expected samples of shape (n, d), found {x.shape}")
    if not np.all(np.isfinite(x)):
        raise InputError(f"{where}: non-finite value at row {int(np.argwhere(~np.isfinite(x))[0, 0])}")
    return x


def _subsample(x: np.ndarray, max_samples: int | None, rng: np.random.Generator) -> np.ndarray:
    if max_samples is None or len(x) <= max_samples:
        return x
    return x[np.sort(rng.choice(len(x), max_samples, replace=False))]


def sliced_wasserstein(x, y, *, n_projections: int = 200, seed: int = 0) -> float:
    """Sliced 2-Wasserstein distance between two sample sets (POT).

    Parameters
    ----------
    x : (n, d) array
    y : (m, d) array
    """
    ot = require("ot", "gan", "the sliced-Wasserstein distance (POT)")
    x, y = _points(x, "x"), _points(y, "y")
    if x.shape[1] != y.shape[1]:
        raise InputError(f"sliced_wasserstein: dimensions differ ({x.shape[1]} vs {y.shape[1]})")
    return float(ot.sliced_wasserstein_distance(x, y, n_projections=n_projections, seed=seed))


def energy_distance(x, y, *, max_samples: int | None = 2000, seed: int = 0) -> float:
    """Energy distance ``sqrt(2 E‖X-Y‖ - E‖X-X'‖ - E‖Y-Y'‖)`` (V-statistics; 1-D: as scipy's).

    Parameters
    ----------
    x : (n, d) array
    y : (m, d) array
    max_samples : int, optional
        Larger sets are subsampled (without replacement, seeded) to bound the cost.
    """
    rng = np.random.default_rng(seed)
    x = _subsample(_points(x, "x"), max_samples, rng)
    y = _subsample(_points(y, "y"), max_samples, rng)
    if x.shape[1] != y.shape[1]:
        raise InputError(f"energy_distance: dimensions differ ({x.shape[1]} vs {y.shape[1]})")
    value = 2 * cdist(x, y).mean() - cdist(x, x).mean() - cdist(y, y).mean()
    return float(np.sqrt(max(value, 0.0)))


def _nearest(points: np.ndarray, reference: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """Distance of each point to its nearest reference point, ``(n,)``."""
    ref_sq = np.einsum("ij,ij->i", reference, reference)
    out = np.empty(len(points))
    for start in range(0, len(points), chunk):
        p = points[start:start + chunk]
        d2 = np.einsum("ij,ij->i", p, p)[:, None] - 2 * p @ reference.T + ref_sq
        out[start:start + chunk] = np.sqrt(np.clip(d2.min(axis=1), 0.0, None))
    return out


def nearest_neighbour_ratio(generated, held_out, training) -> dict:
    """Memorisation check: median nearest-training-neighbour distance, generated / held-out.

    Parameters
    ----------
    generated : (n, d) array
    held_out : (m, d) array
    training : (k, d) array

    Returns
    -------
    dict
        ``ratio``, ``generated_median``, ``held_out_median``.
    """
    g, h, t = _points(generated, "generated"), _points(held_out, "held_out"), _points(training, "training")
    if not g.shape[1] == h.shape[1] == t.shape[1]:
        raise InputError(f"nearest_neighbour_ratio: dimensions differ ({g.shape[1]}, {h.shape[1]}, {t.shape[1]})")
    mg, mh = float(np.median(_nearest(g, t))), float(np.median(_nearest(h, t)))
    return {"ratio": mg / mh if mh > 0 else float("inf"), "generated_median": mg, "held_out_median": mh}


def _covariances(fields: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Equal-time node-pair covariance ``(n_nodes, n_nodes)`` and time-pair covariance ``(n_times, n_times)``."""
    n, n_times, n_nodes, _ = fields.shape
    centred = fields - fields.mean(axis=0)
    space = np.tensordot(centred, centred, axes=([0, 1, 3], [0, 1, 3])) / (n * n_times)
    time = np.tensordot(centred, centred, axes=([0, 2, 3], [0, 2, 3])) / (n * n_nodes)
    return space, time


def two_point_errors(generated, reference) -> dict:
    """Relative Frobenius errors of the two-point statistics of traces (see the module docstring).

    Parameters
    ----------
    generated : (n, n_times, n_nodes, n_components) array
    reference : (m, n_times, n_nodes, n_components) array

    Returns
    -------
    dict
        ``space`` (node pairs, equal times), ``time`` (time pairs).
    """
    g = check_samples(generated, where="generated", min_samples=2)
    r = check_samples(reference, where="reference", min_samples=2)
    if g.shape[1:] != r.shape[1:]:
        raise InputError(f"two_point_errors: trace shapes differ ({g.shape[1:]} vs {r.shape[1:]})")
    gs, gt = _covariances(g)
    rs, rt = _covariances(r)
    return {"space": float(np.linalg.norm(gs - rs) / max(np.linalg.norm(rs), 1e-300)),
            "time": float(np.linalg.norm(gt - rt) / max(np.linalg.norm(rt), 1e-300))}


def _qoi_figures(q_gen: np.ndarray, q_ref: np.ndarray, *, n_projections: int, seed: int,
                 max_samples: int | None) -> dict:
    if q_gen.shape[1] == 1:
        a, b = q_gen[:, 0], q_ref[:, 0]
        w = float(stats.wasserstein_distance(a, b))
        scale = float(np.std(b))
        return {"qoi_wasserstein": w, "qoi_wasserstein_relative": w / scale if scale > 0 else float("inf"),
                "qoi_energy_distance": energy_distance(a, b, max_samples=max_samples, seed=seed),
                "qoi_ks": float(stats.ks_2samp(a, b, method="asymp").statistic)}
    return {"qoi_sliced_wasserstein": sliced_wasserstein(q_gen, q_ref, n_projections=n_projections, seed=seed),
            "qoi_energy_distance": energy_distance(q_gen, q_ref, max_samples=max_samples, seed=seed)}


def compare(generated, held_out, training, qoi: Callable | None = None, *, compression: SpaceTimePOD | None = None,
            n_leading: int = 4, n_projections: int = 200, standardise: bool = True, max_samples: int | None = 2000,
            seed: int = 0) -> dict:
    """Every validation figure of generated traces against held-out ones (see the module docstring).

    Parameters
    ----------
    generated, held_out, training : arrays, all traces or all coefficients
        Traces ``(n, n_times, n_nodes, n_components)``, or POD coefficients ``(n, n_modes)``.
    qoi : callable, optional
        Quantity of interest of traces ``(n, n_times, n_nodes, n_components) → (n,)`` or
        ``(n, k)`` (of coefficients when coefficients are given without a compression).
    compression : SpaceTimePOD, optional
        The POD giving the coefficients of traces, or rebuilding traces from
        coefficients; with traces and no compression, a POD (99.9 %) is fitted on the
        training traces.
    n_leading : int
        Leading coefficients whose marginals are compared (KS).
    n_projections : int
        Projections of the sliced-Wasserstein distance.
    standardise : bool
        Divide each coefficient by its training standard deviation first.
    max_samples : int, optional
        Subsampling bound of the energy distances.
    seed : int
        Seed of the projections and of the subsampling.

    Returns
    -------
    dict
        JSON-ready: ``sliced_wasserstein``, ``energy_distance``, ``ks_leading`` (list),
        ``ks_max``, ``qoi_*`` (with ``qoi``), ``two_point_space``, ``two_point_time``
        (when traces are known), ``memorisation_ratio``, ``nn_generated_median``,
        ``nn_held_out_median``, and the sample counts.
    """
    arrays = {"generated": generated, "held_out": held_out, "training": training}
    ndims = {name: np.ndim(a) for name, a in arrays.items()}
    if len(set(ndims.values())) != 1 or next(iter(ndims.values())) not in (2, 4):
        raise InputError(f"compare: give traces (4-D) or coefficients (2-D) for all three sets, found "
                         f"dimensions {ndims}")
    if ndims["generated"] == 4:
        traces = {name: check_samples(a, where=name, min_samples=2) for name, a in arrays.items()}
        if compression is None:
            compression = SpaceTimePOD().fit(traces["training"], where="training")
        coefficients = {name: compression.transform(t, where=name) for name, t in traces.items()}
    else:
        coefficients = {name: _points(a, name) for name, a in arrays.items()}
        widths = {name: c.shape[1] for name, c in coefficients.items()}
        if len(set(widths.values())) != 1:
            raise InputError(f"compare: coefficient counts differ {widths}")
        if compression is not None:
            traces = {name: compression.inverse_transform(c, where=name) for name, c in coefficients.items()}
        else:
            traces = None
    scale = coefficients["training"].std(axis=0) if standardise else np.ones(coefficients["training"].shape[1])
    scale = np.where(scale > 0, scale, 1.0)
    g, h, t = (coefficients[name] / scale for name in ("generated", "held_out", "training"))
    report = {"n_generated": len(g), "n_held_out": len(h), "n_training": len(t), "n_coefficients": g.shape[1],
              "sliced_wasserstein": sliced_wasserstein(g, h, n_projections=n_projections, seed=seed),
              "energy_distance": energy_distance(g, h, max_samples=max_samples, seed=seed)}
    ks = [float(stats.ks_2samp(g[:, i], h[:, i], method="asymp").statistic) for i in range(min(n_leading, g.shape[1]))]
    report["ks_leading"] = ks
    report["ks_max"] = max(ks)
    if qoi is not None:
        source = traces if traces is not None else coefficients
        q_gen = _points(qoi(source["generated"]), "qoi(generated)")
        q_ref = _points(qoi(source["held_out"]), "qoi(held_out)")
        report.update(_qoi_figures(q_gen, q_ref, n_projections=n_projections, seed=seed, max_samples=max_samples))
    if traces is not None:
        errors = two_point_errors(traces["generated"], traces["held_out"])
        report["two_point_space"], report["two_point_time"] = errors["space"], errors["time"]
    nn = nearest_neighbour_ratio(g, h, t)
    report["memorisation_ratio"] = nn["ratio"]
    report["nn_generated_median"] = nn["generated_median"]
    report["nn_held_out_median"] = nn["held_out_median"]
    return report
