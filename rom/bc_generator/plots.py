"""Figures of a generator's training and validation, written to PNG (matplotlib, Agg canvas).

- :func:`plot_losses` — critic loss, generator loss, Wasserstein estimate and gradient
  penalty per iteration (raw and a moving average);
- :func:`plot_marginals` — histograms of the leading POD coefficients, each generator
  against the held-out traces;
- :func:`plot_pairs` — scatter of two coefficients, one panel per generator (shows
  the modes a Gaussian model merges).

Figures are drawn on their own ``Figure`` with an Agg canvas (no pyplot state, no
global backend change) and written atomically.
"""

from __future__ import annotations

import os
from typing import Mapping

import numpy as np

from io_adapters.errors import InputError

__all__ = ["plot_losses", "plot_marginals", "plot_pairs"]

COLOURS = ("tab:blue", "tab:red", "tab:green", "tab:purple", "tab:brown")


def _figure(n_panels: int, *, width: float = 4.0, height: float = 3.2, n_columns: int | None = None):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n_columns = n_columns or n_panels
    n_rows = int(np.ceil(n_panels / n_columns))
    fig = Figure(figsize=(width * n_columns, height * n_rows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(n_rows, n_columns, squeeze=False).ravel()
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    return fig, axes[:n_panels]


def _save(fig, path) -> str:
    from io_adapters.atomic import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    return os.fspath(path)


def _moving_average(values: np.ndarray, window: int) -> np.ndarray:
    if len(values) < window or window < 2:
        return values
    kernel = np.ones(window) / window
    return np.convolve(values, kernel, mode="valid")


def plot_losses(history: Mapping[str, np.ndarray], path: str | os.PathLike, *, title: str = "WGAN-GP training",
                window: int | None = None) -> str:
    """Loss curves per iteration.

    Parameters
    ----------
    history : mapping of (n_iterations,) arrays
        ``critic_loss``, ``generator_loss``, ``wasserstein``, ``gradient_penalty``
        (``WGANGenerator.history``).
    path : path
        PNG file to write.
    window : int, optional
        Moving-average window (default: 1 % of the iterations, at least 10).

    Returns
    -------
    str
        ``path``.
    """
    names = ("critic_loss", "generator_loss", "wasserstein", "gradient_penalty")
    missing = [n for n in names if n not in history]
    if missing:
        raise InputError(f"plot_losses: history lacks {missing}")
    n = len(history[names[0]])
    window = window or max(10, n // 100)
    fig, axes = _figure(4, n_columns=2)
    labels = {"critic_loss": "critic loss", "generator_loss": "generator loss",
              "wasserstein": "Wasserstein estimate E[D(x)] − E[D(G(z))]", "gradient_penalty": "gradient penalty"}
    for ax, name in zip(axes, names):
        values = np.asarray(history[name], dtype=np.float64)
        it = np.arange(1, len(values) + 1)
        ax.plot(it, values, color="0.75", lw=0.6, label="per iteration")
        smooth = _moving_average(values, window)
        ax.plot(it[len(values) - len(smooth):], smooth, color="tab:blue", lw=1.5, label=f"mean of {window}")
        if name == "gradient_penalty" and np.all(values > 0):
            ax.set_yscale("log")
        ax.set_title(labels[name], fontsize=10)
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(title)
    return _save(fig, path)


def plot_marginals(coefficients: Mapping[str, np.ndarray], held_out: np.ndarray, path: str | os.PathLike, *,
                   n_leading: int = 4, bins: int = 40, title: str = "Leading POD coefficients") -> str:
    """Histograms of the leading coefficients: each generator (outline) vs held-out (filled).

    Parameters
    ----------
    coefficients : mapping name → (n, n_modes) array
        Generated coefficients per generator.
    held_out : (m, n_modes) array
        Coefficients of held-out traces.
    path : path
        PNG file to write.
    """
    held_out = np.asarray(held_out, dtype=np.float64)
    n_leading = min(n_leading, held_out.shape[1])
    fig, axes = _figure(n_leading, n_columns=min(n_leading, 4))
    for i, ax in enumerate(axes):
        values = [held_out[:, i]] + [np.asarray(c)[:, i] for c in coefficients.values()]
        lo, hi = np.percentile(np.concatenate(values), [0.5, 99.5])
        edges = np.linspace(lo, hi, bins + 1)
        ax.hist(held_out[:, i], bins=edges, density=True, color="0.8", label="held-out")
        for colour, (name, c) in zip(COLOURS, coefficients.items()):
            ax.hist(np.asarray(c)[:, i], bins=edges, density=True, histtype="step", lw=1.4, color=colour,
                    label=name)
        ax.set_title(f"coefficient {i + 1}", fontsize=10)
    axes[0].legend(fontsize=8)
    fig.suptitle(title)
    return _save(fig, path)


def plot_pairs(coefficients: Mapping[str, np.ndarray], held_out: np.ndarray, path: str | os.PathLike, *,
               pair: tuple[int, int] = (0, 1), max_points: int = 1500, title: str | None = None) -> str:
    """Scatter of two coefficients: held-out, then one panel per generator.

    Parameters
    ----------
    coefficients : mapping name → (n, n_modes) array
    held_out : (m, n_modes) array
    path : path
        PNG file to write.
    pair : (int, int)
        Coefficient indices (0-based).
    """
    held_out = np.asarray(held_out, dtype=np.float64)
    i, j = pair
    sets = {"held-out": held_out, **{k: np.asarray(v) for k, v in coefficients.items()}}
    fig, axes = _figure(len(sets), width=3.4, height=3.2)
    def limits(values):
        lo, hi = np.percentile(values, [0.1, 99.9])
        pad = 0.15 * (hi - lo) or 1.0
        return lo - pad, hi + pad

    lim_x, lim_y = limits(held_out[:, i]), limits(held_out[:, j])
    for ax, (name, c), colour in zip(axes, sets.items(), ("0.3",) + COLOURS):
        c = c[:max_points]
        ax.scatter(c[:, i], c[:, j], s=3, alpha=0.5, color=colour)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel(f"a{i + 1}")
        ax.set_ylabel(f"a{j + 1}")
        ax.set_xlim(*lim_x)
        ax.set_ylim(*lim_y)
    fig.suptitle(title or f"coefficients {i + 1} and {j + 1}")
    return _save(fig, path)
