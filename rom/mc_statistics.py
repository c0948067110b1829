"""Monte Carlo statistics of a scalar quantity of interest, with confidence intervals.

>>> from rom.mc_statistics import summary, running
>>> s = summary(qoi, confidence=0.95, quantiles=(0.5, 0.95))
>>> s["mean"]            # {"estimate": …, "low": …, "high": …}
>>> curves = running(qoi, quantiles=(0.95,))          # estimates and intervals at n = 10, 20, …

Intervals (``confidence = 1 − α``), for ``n`` independent samples ``x_i``:

- **mean**: Student's ``x̄ ± t_{1−α/2, n−1} s/√n`` (exact for normal samples,
  asymptotically right for any law with a variance);
- **variance and standard deviation**: ``[(n−1)s²/χ²_{1−α/2, n−1}, (n−1)s²/χ²_{α/2, n−1}]``
  and its square root (exact for normal samples only: a heavy-tailed law needs the
  bootstrap);
- **quantile** ``ξ_p``: the distribution-free order-statistic interval
  ``[x_(l), x_(u)]`` with ``l, u`` from the binomial law ``B ~ Bin(n, p)``:
  ``P(x_(l) ≤ ξ_p ≤ x_(u)) ≥ P(l ≤ B < u) ≥ 1 − α`` for any continuous law (its ends
  are ``−inf``/``+inf`` when ``n`` is too small for the level). The estimate is
  ``numpy.quantile``'s (linear interpolation);
- ``method="bootstrap"``: the standard deviation and quantiles from
  :func:`scipy.stats.bootstrap` (BCa, ``n_resamples``, seeded) instead; the mean keeps
  Student's interval.

Pure functions of arrays; the samples may come from every rank of a Monte Carlo
(gather them first: quantiles need them all).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import stats

from io_adapters.errors import InputError

__all__ = ["mean_interval", "quantile_interval", "running", "std_interval", "summary", "variance_interval",
           "within"]

METHODS = ("exact", "bootstrap")


def _values(x, where: str, minimum: int = 2) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise InputError(f"{where}: expected a 1-D array of samples, found shape {x.shape}")
    if len(x) < minimum:
        raise InputError(f"{where}: expected at least {minimum} samples, found {len(x)}")
    if not np.all(np.isfinite(x)):
        i = int(np.flatnonzero(~np.isfinite(x))[0])
        raise InputError(f"{where}: non-finite sample {x[i]} at position {i}")
    return x


def _alpha(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise InputError(f"confidence must be in (0, 1), found {confidence!r}")
    return 1.0 - confidence


def _interval(estimate, low, high) -> dict:
    return {"estimate": float(estimate), "low": float(low), "high": float(high)}


def mean_interval(x, confidence: float = 0.95) -> dict:
    """Mean and its Student interval.

    Parameters
    ----------
    x : (n,) array, n ≥ 2
    confidence : float

    Returns
    -------
    dict
        ``estimate``, ``low``, ``high``.
    """
    x = _values(x, "mean_interval")
    alpha = _alpha(confidence)
    n, mean = len(x), x.mean()
    half = stats.t.ppf(1 - alpha / 2, n - 1) * x.std(ddof=1) / np.sqrt(n)
    return _interval(mean, mean - half, mean + half)


def variance_interval(x, confidence: float = 0.95) -> dict:
    """Unbiased variance and its χ² interval (normal samples)."""
    x = _values(x, "variance_interval")
    alpha = _alpha(confidence)
    n, s2 = len(x), x.var(ddof=1)
    return _interval(s2, (n - 1) * s2 / stats.chi2.ppf(1 - alpha / 2, n - 1),
                     (n - 1) * s2 / stats.chi2.ppf(alpha / 2, n - 1))


def std_interval(x, confidence: float = 0.95) -> dict:
    """Standard deviation (``ddof=1``) and the square root of the variance's interval."""
    v = variance_interval(x, confidence)
    return _interval(np.sqrt(v["estimate"]), np.sqrt(v["low"]), np.sqrt(v["high"]))


def quantile_interval(x, p: float, confidence: float = 0.95) -> dict:
    """Quantile ``ξ_p`` and its distribution-free order-statistic interval.

    Parameters
    ----------
    x : (n,) array
    p : float in (0, 1)
    confidence : float

    Returns
    -------
    dict
        ``estimate`` (``numpy.quantile``), ``low`` = ``x_(l)``, ``high`` = ``x_(u)``
        (``−inf``/``+inf`` when too few samples for the level), ``coverage``: the
        guaranteed ``P(l ≤ B < u)``.
    """
    x = np.sort(_values(x, "quantile_interval"))
    if not 0 < p < 1:
        raise InputError(f"quantile_interval: p must be in (0, 1), found {p!r}")
    alpha = _alpha(confidence)
    n = len(x)
    binom = stats.binom(n, p)
    low = int(binom.ppf(alpha / 2))             # smallest k with F(k) ≥ α/2: F(l − 1) < α/2
    high = int(binom.ppf(1 - alpha / 2)) + 1    # F(u − 1) ≥ 1 − α/2
    coverage = binom.cdf(high - 1) - binom.cdf(low - 1)
    out = _interval(np.quantile(x, p), x[low - 1] if low >= 1 else -np.inf, x[high - 1] if high <= n else np.inf)
    out["coverage"] = float(coverage)
    return out


def _bootstrap(x, statistic, confidence: float, n_resamples: int, seed: int) -> tuple[float, float]:
    result = stats.bootstrap((x,), statistic, confidence_level=confidence, n_resamples=n_resamples,
                             method="BCa", random_state=np.random.default_rng(seed), vectorized=True, axis=-1)
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def summary(x, *, confidence: float = 0.95, quantiles: Sequence[float] = (0.95,), method: str = "exact",
            n_resamples: int = 2000, seed: int = 0) -> dict:
    """Every statistic of a sample with its interval.

    Parameters
    ----------
    x : (n,) array
        The QoI of the Monte Carlo samples (n ≥ 2).
    confidence : float
    quantiles : sequence of float in (0, 1)
    method : {"exact", "bootstrap"}
        Intervals of the standard deviation and quantiles (see the module docstring).
    n_resamples, seed : int
        Bootstrap only.

    Returns
    -------
    dict
        ``n``, ``confidence``, ``method``, ``mean``, ``std``, ``variance`` and
        ``quantiles`` (``{"0.95": {...}}``), each ``{"estimate", "low", "high"}``.
    """
    x = _values(x, "summary")
    if method not in METHODS:
        raise InputError(f"summary: method must be one of {', '.join(METHODS)}, found {method!r}")
    out = {"n": int(len(x)), "confidence": float(confidence), "method": method,
           "mean": mean_interval(x, confidence), "std": std_interval(x, confidence),
           "variance": variance_interval(x, confidence), "quantiles": {}}
    for p in quantiles:
        out["quantiles"][f"{p:g}"] = quantile_interval(x, p, confidence)
    if method == "bootstrap":
        low, high = _bootstrap(x, lambda s, axis=-1: np.std(s, ddof=1, axis=axis), confidence, n_resamples, seed)
        out["std"].update(low=low, high=high)
        out["variance"].update(low=low ** 2, high=high ** 2)
        for p in quantiles:
            low, high = _bootstrap(x, lambda s, axis=-1, p=p: np.quantile(s, p, axis=axis), confidence,
                                   n_resamples, seed)
            out["quantiles"][f"{p:g}"].update(low=low, high=high)
    return out


def running(x, *, confidence: float = 0.95, quantiles: Sequence[float] = (0.95,), points: int = 30,
            start: int = 10) -> dict:
    """Running estimates and intervals at growing sample counts (the convergence curve).

    Parameters
    ----------
    x : (n,) array
        Samples in their Monte Carlo order.
    points : int
        At most this many sample counts, geometrically spaced from ``start`` to ``n``.

    Returns
    -------
    dict
        ``n`` (k,) int array; ``mean``, ``std`` and ``q<p>`` each a (k, 3) array of
        estimate, low, high.
    """
    x = _values(x, "running")
    counts = np.unique(np.geomspace(min(max(start, 2), len(x)), len(x), points).round().astype(int))
    out = {"n": counts}
    rows = {"mean": [], "std": [], **{f"q{p:g}": [] for p in quantiles}}
    for n in counts:
        head = x[:n]
        for name, value in (("mean", mean_interval(head, confidence)), ("std", std_interval(head, confidence))):
            rows[name].append([value["estimate"], value["low"], value["high"]])
        for p in quantiles:
            q = quantile_interval(head, p, confidence)
            rows[f"q{p:g}"].append([q["estimate"], q["low"], q["high"]])
    out.update({k: np.array(v) for k, v in rows.items()})
    return out


def within(estimate: float, interval: dict) -> bool:
    """Whether ``estimate`` lies in ``[interval["low"], interval["high"]]``."""
    return bool(interval["low"] <= estimate <= interval["high"])
