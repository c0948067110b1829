"""Calibration of the online error indicator against the true (high-fidelity) error.

The indicator
-------------
At every online time step ``n`` the reduced solver (:mod:`rom.reduced`) evaluates
the constitutive law at the reduced points ``S`` only (the ECM points plus the
QDEIM points of every Gappy-POD basis). Let ``y_S`` be the values it finds there of
the cumulated viscoplastic strain ``evrcum`` (the model's ``settings["indicator"]
["field"]``; any dual quantity can be chosen with ``model.solve(...,
indicator=name)``), and ``Φ_S`` the ``n_d`` POD modes of that quantity restricted to
the same points. The Gappy-POD fit ``a = argmin ‖Φ_S a − y_S‖₂`` reconstructs the
field everywhere (``y ≈ Φ a``); the indicator is the relative residual of that fit::

    η_n = ‖Φ_S a − y_S‖₂ / max(‖y_S‖₂, ρ σ₁ ‖φ₁|_S‖₂)      (η_n = 0 when y_S = 0, an elastic step)

with ``σ₁``, ``φ₁`` the first singular value and mode of the training POD of that
quantity and ``ρ = rom.reduced.INDICATOR_FLOOR`` (1e-6): at the onset of plastic
flow ``y_S`` may be round-off (1e-21 where the field reaches 1e-4), whose relative
residual means nothing.

It is zero when the plastic state the reduced model computes lies in the span of the
training plastic states, and grows as it leaves it. Its cost is that of a
least-squares problem of size ``|S| × n_d`` per step (``O(|S| n_d²)``, one
``Allreduce`` of ``n_d² + n_d + 1`` numbers under MPI): it does not depend on the
size of the high-fidelity mesh. ``model.solve`` returns the per-step values in
``simulation.parameters["indicator"]``; a whole load case is summarised by the
maximum over its steps (:func:`case_indicator`).

What it measures, and what it does not (see ``examples/indicator_study``): it is
a residual of the *plastic* state, so it follows the error of the plastic fields
(``evrcum``) closely. It does not see an error of the displacement basis in the
elastic and thermal part of the response (a step with no plastic flow has
``η = 0`` whatever the displacement error); calibrate it against the error that
matters for the application before using it as an enrichment threshold.

The calibration
---------------
:func:`calibrate` takes one indicator value and one true error per load case and
returns a :class:`Calibration`: Spearman's rank correlation (does the indicator
order the cases like the error?), Pearson's correlation of the values and of their
logarithms, and the least-squares fit ``log10 e = log10 a + b log10 η`` (so
``e ≈ a η^b``). :meth:`Calibration.indicator_for` inverts it into an indicator
tolerance for a target error (for :class:`rom.adaptive.Enrichment`), and
:meth:`Calibration.plot` draws the scatter plot with the fitted line.

:func:`true_error` gives the relative error of a reduced solution against its
high-fidelity reference, per time step and over the whole history.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from io_adapters.errors import InputError

__all__ = ["Calibration", "FieldError", "calibrate", "case_indicator", "true_error"]


# ============================================================= true errors
@dataclass(frozen=True)
class FieldError:
    """Relative error of one field of a reduced solution against its reference.

    Attributes
    ----------
    field : str
    per_step : (n_times,) array
        ``‖x_rom(t_k) − x_ref(t_k)‖₂ / ‖x_ref(t_k)‖₂`` (Euclidean norm over every row
        and component); 0 where both are zero, ``inf`` where only the reference is.
    absolute : (n_times,) array
        ``‖x_rom(t_k) − x_ref(t_k)‖₂``.
    overall : float
        ``sqrt(Σ_k ‖x_rom − x_ref‖² / Σ_k ‖x_ref‖²)`` over every time step: the
        relative error of the whole history (robust where the field passes near 0,
        at the ends of a load cycle, where ``per_step`` can be large).
    """

    field: str
    per_step: np.ndarray
    absolute: np.ndarray
    overall: float

    @property
    def max_step(self) -> float:
        """The largest finite per-step relative error."""
        finite = self.per_step[np.isfinite(self.per_step)]
        return float(finite.max()) if finite.size else math.inf

    def to_dict(self) -> dict:
        return {"field": self.field, "overall": self.overall, "max_step": self.max_step,
                "per_step": [float(v) for v in self.per_step]}


def _simulation(value, what: str):
    if isinstance(value, (str, os.PathLike)):
        import io_adapters

        return io_adapters.read(str(value))
    if hasattr(value, "to_simulation"):          # an online result (serial)
        return value.to_simulation()
    if not hasattr(value, "fields") or not hasattr(value, "times"):
        raise InputError(f"true_error: the {what} must be a Simulation or a result file, found {type(value).__name__}")
    return value


def true_error(reference_sim, rom_sim, field: str = "U", *, steps=None) -> FieldError:
    """Relative error of a reduced solution's field against the high-fidelity reference.

    Parameters
    ----------
    reference_sim, rom_sim : Simulation or path
        The high-fidelity and the reduced results of the same problem (same mesh,
        same times; a path is read with :func:`io_adapters.read`).
    field : str
        ``U`` (default), or any field both hold (``evrcum``, ``sig``…).
    steps : array-like of int, optional
        Time steps to compare (default: all).

    Returns
    -------
    FieldError

    Raises
    ------
    InputError
        A field is missing, the times or the shapes differ.
    """
    reference = _simulation(reference_sim, "reference")
    rom = _simulation(rom_sim, "reduced solution")
    for sim, what in ((reference, "reference"), (rom, "reduced solution")):
        if field not in sim.fields:
            raise InputError(f"true_error: the {what} has no field '{field}' (has: {', '.join(sim.fields)})")
    t_ref, t_rom = np.asarray(reference.times, float), np.asarray(rom.times, float)
    if t_ref.shape != t_rom.shape or not np.allclose(t_ref, t_rom, rtol=1e-9, atol=1e-12):
        raise InputError(f"true_error: the reference has {len(t_ref)} times and the reduced solution "
                         f"{len(t_rom)}, or other values: compare solutions of the same problem")
    x_ref = reference.fields[field].read(steps=steps)
    x_rom = rom.fields[field].read(steps=steps)
    if x_ref.shape != x_rom.shape:
        raise InputError(f"true_error: field '{field}' has shape {x_ref.shape} in the reference and "
                         f"{x_rom.shape} in the reduced solution")
    n = len(x_ref)
    difference = np.linalg.norm((x_rom - x_ref).reshape(n, -1), axis=1)
    norm = np.linalg.norm(x_ref.reshape(n, -1), axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_step = np.where(norm > 0, difference / np.where(norm > 0, norm, 1.0),
                            np.where(difference > 0, np.inf, 0.0))
    total = float(np.sqrt(np.sum(norm**2)))
    overall = float(np.sqrt(np.sum(difference**2))) / total if total > 0 else (
        0.0 if not np.any(difference) else math.inf)
    return FieldError(field, per_step, difference, overall)


def case_indicator(rom_sim, aggregate: str = "max") -> float:
    """One indicator value for a whole load case from ``parameters["indicator"]``.

    Parameters
    ----------
    rom_sim : Simulation
        Result of ``model.solve``.
    aggregate : {"max", "final", "mean"}
        Maximum over the steps (default), value at the last step, or mean.
    """
    values = np.asarray(rom_sim.parameters.get("indicator", []), dtype=float)
    if values.size == 0:
        raise InputError("case_indicator: the simulation has no parameters['indicator'] (not a reduced solution?)")
    if aggregate == "max":
        return float(values.max())
    if aggregate == "final":
        return float(values[-1])
    if aggregate == "mean":
        return float(values[1:].mean() if values.size > 1 else values[0])
    raise InputError(f"case_indicator: aggregate must be 'max', 'final' or 'mean', found {aggregate!r}")


# ============================================================ calibration
@dataclass(frozen=True, eq=False)
class Calibration:
    """How an error indicator relates to the true error over a set of load cases.

    Attributes
    ----------
    indicator, error : (n_cases,) arrays
        One value per case, as given.
    labels : tuple of str
        A name per case (may be empty strings).
    groups : tuple of str
        A group per case (for colours in the plot; may be empty strings).
    spearman, spearman_pvalue : float
        Spearman's rank correlation of indicator and error (``scipy.stats.spearmanr``).
    pearson, pearson_pvalue : float
        Pearson's correlation of the values (``scipy.stats.pearsonr``).
    pearson_log : float
        Pearson's correlation of ``log10`` of the values over the cases where both
        are positive (the ``r`` of the fitted line).
    a, b : float
        The fitted relation ``error ≈ a · indicator^b`` (least squares in log–log
        over the cases where both are positive).
    log_residual_max : float
        Largest ``log10(error / (a η^b))`` over the fitted cases: the factor
        ``10**log_residual_max`` turns the fit into an upper envelope of the data.
    n_cases : int
    n_fitted : int
        Cases used by the log–log quantities (both values positive).
    """

    indicator: np.ndarray
    error: np.ndarray
    labels: tuple
    groups: tuple
    spearman: float
    spearman_pvalue: float
    pearson: float
    pearson_pvalue: float
    pearson_log: float
    a: float
    b: float
    log_residual_max: float
    n_cases: int
    n_fitted: int

    def predict(self, indicator) -> np.ndarray:
        """The fitted error ``a η^b`` for indicator value(s) ``η``."""
        return self.a * np.asarray(indicator, dtype=float) ** self.b

    def indicator_for(self, error: float, *, conservative: bool = True) -> float:
        """The indicator level below which the calibration predicts an error ≤ ``error``.

        Parameters
        ----------
        error : float
            Target error (same measure as the calibration's).
        conservative : bool
            Use the upper envelope of the data (the fit shifted by
            ``log_residual_max``) rather than the fit itself.

        Returns
        -------
        float
            A tolerance for :class:`rom.adaptive.Enrichment`; ``nan`` when the fit is
            not increasing (``b ≤ 0``): the indicator then cannot guard that error.
        """
        if not (error > 0) or not np.isfinite(self.b) or self.b <= 0:
            return math.nan
        shift = 10.0 ** self.log_residual_max if conservative else 1.0
        return float((error / (self.a * shift)) ** (1.0 / self.b))

    def to_dict(self) -> dict:
        """JSON-ready summary (with the data)."""
        return {"n_cases": self.n_cases, "n_fitted": self.n_fitted, "spearman": self.spearman,
                "spearman_pvalue": self.spearman_pvalue, "pearson": self.pearson,
                "pearson_pvalue": self.pearson_pvalue, "pearson_log": self.pearson_log,
                "fit": {"a": self.a, "b": self.b, "log10_residual_max": self.log_residual_max,
                        "relation": "error ≈ a * indicator**b"},
                "cases": [{"label": lab, "group": grp, "indicator": float(i), "error": float(e)}
                          for lab, grp, i, e in zip(self.labels, self.groups, self.indicator, self.error)]}

    def summary(self) -> str:
        return (f"{self.n_cases} cases: Spearman {self.spearman:.3f} (p={self.spearman_pvalue:.1e}), "
                f"Pearson {self.pearson:.3f}, Pearson(log) {self.pearson_log:.3f}; "
                f"error ≈ {self.a:.3g}·indicator^{self.b:.3g} ({self.n_fitted} cases fitted)")

    def plot(self, path, *, title: str | None = None, xlabel: str = "indicator (max over steps)",
             ylabel: str = "true relative error") -> Path:
        """Scatter plot (log–log) of error vs indicator with the fitted relation, as a PNG.

        Cases where a value is not positive cannot be drawn on log axes: they are
        counted in the legend. Written atomically (matplotlib's Agg canvas; the global
        backend is not touched).

        Returns
        -------
        Path
            ``path``.
        """
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        from io_adapters.atomic import atomic_path

        path = Path(path)
        fig = Figure(figsize=(6.4, 4.8))
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        positive = (self.indicator > 0) & (self.error > 0)
        groups = np.asarray(self.groups if self.groups else [""] * self.n_cases, dtype=object)
        for group in dict.fromkeys(groups.tolist()):
            chosen = positive & (groups == group)
            if np.any(chosen):
                ax.loglog(self.indicator[chosen], self.error[chosen], "o", ms=5, alpha=0.8,
                          label=group or "cases")
        if self.n_fitted >= 2 and np.isfinite(self.b):
            x = np.geomspace(self.indicator[positive].min(), self.indicator[positive].max(), 50)
            ax.loglog(x, self.predict(x), "k-", lw=1.0, label=f"fit: {self.a:.2g}·η^{self.b:.2f}")
            if self.log_residual_max > 0:
                ax.loglog(x, self.predict(x) * 10.0 ** self.log_residual_max, "k--", lw=0.8,
                          label="upper envelope")
        hidden = int(self.n_cases - positive.sum())
        if hidden:
            ax.plot([], [], " ", label=f"{hidden} case(s) with a zero value not drawn")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title or f"Spearman {self.spearman:.3f}, Pearson(log) {self.pearson_log:.3f}, "
                              f"{self.n_cases} cases", fontsize=10)
        ax.grid(True, which="both", lw=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=110)
        return path


def calibrate(indicator_values, true_errors, *, labels=None, groups=None) -> Calibration:
    """Correlations and fitted relation between per-case indicators and true errors.

    Parameters
    ----------
    indicator_values, true_errors : sequences of float, same length (≥ 3)
        One value per load case (e.g. :func:`case_indicator` and
        ``true_error(...).overall``); finite and non-negative.
    labels, groups : sequences of str, optional
        A name and a group per case (kept in :meth:`Calibration.to_dict`, groups
        coloured in the plot).

    Returns
    -------
    Calibration

    Raises
    ------
    InputError
        Different lengths, fewer than 3 cases, negative or non-finite values.
    """
    from scipy import stats

    x = np.asarray(indicator_values, dtype=float).ravel()
    y = np.asarray(true_errors, dtype=float).ravel()
    if x.shape != y.shape:
        raise InputError(f"calibrate: {len(x)} indicator values for {len(y)} errors")
    if len(x) < 3:
        raise InputError(f"calibrate: needs at least 3 cases, found {len(x)}")
    for values, what in ((x, "indicator"), (y, "error")):
        if not np.all(np.isfinite(values)):
            case = int(np.flatnonzero(~np.isfinite(values))[0])
            raise InputError(f"calibrate: non-finite {what} value at case {case}")
        if np.any(values < 0):
            raise InputError(f"calibrate: negative {what} value at case {int(np.flatnonzero(values < 0)[0])}")
    labels = tuple(str(v) for v in labels) if labels is not None else ("",) * len(x)
    groups = tuple(str(v) for v in groups) if groups is not None else ("",) * len(x)
    if len(labels) != len(x) or len(groups) != len(x):
        raise InputError(f"calibrate: labels/groups must have one entry per case ({len(x)})")

    def _constant(v):
        return np.ptp(v) == 0

    if _constant(x) or _constant(y):
        spearman = spearman_p = pearson = pearson_p = math.nan
    else:
        s = stats.spearmanr(x, y)
        p = stats.pearsonr(x, y)
        spearman, spearman_p = float(s.statistic), float(s.pvalue)
        pearson, pearson_p = float(p.statistic), float(p.pvalue)
    positive = (x > 0) & (y > 0)
    lx, ly = np.log10(x[positive]), np.log10(y[positive])
    a = b = pearson_log = math.nan
    residual_max = math.nan
    if positive.sum() >= 2 and not _constant(lx):
        b, log_a = np.polyfit(lx, ly, 1)
        a = float(10.0 ** log_a)
        residual_max = float(np.max(ly - (log_a + b * lx)))
        if positive.sum() >= 3 and not _constant(ly):
            pearson_log = float(stats.pearsonr(lx, ly).statistic)
    return Calibration(indicator=x, error=y, labels=labels, groups=groups, spearman=spearman,
                       spearman_pvalue=spearman_p, pearson=pearson, pearson_pvalue=pearson_p,
                       pearson_log=pearson_log, a=a, b=float(b), log_residual_max=residual_max,
                       n_cases=len(x), n_fitted=int(positive.sum()))
