"""Gappy-POD fits of the dual quantities at the reduced points, and the error indicator.

For each dual quantity of the model one :class:`rom.gappy.GappyReconstructor` is fitted
over the reduced points of every subdomain (a QR factorisation of the restricted
basis, its condition number checked; the fit is global: one ``allgather`` of small
``R`` factors when built, one ``Allreduce`` per evaluation). At a reduced state the
dual's values at the reduced points give its modal coordinates (the least-squares
fit) and the indicator, the relative residual of that fit::

    indicator = ‖y_S − Φ_S a‖ / max(‖y_S‖, INDICATOR_FLOOR · σ₁ ‖φ₁|_S‖)

(σ₁, φ₁: the first singular value and mode of the dual's training POD, at the reduced
points S): below that size a dual state is round-off, not a pattern — at the onset
of plastic flow a state that is still numerically zero has no meaningful relative
error.
"""

from __future__ import annotations

import numpy as np

from rom.gappy import GappyReconstructor
from rom.online.operator import ReducedState, RestrictedOperator
from rom.parallel import allreduce_sum as _allreduce

__all__ = ["INDICATOR_FLOOR", "DualFits"]

#: The indicator's residual is relative to ``max(‖y_S‖, INDICATOR_FLOOR · σ₁ ‖φ₁|_S‖)``.
INDICATOR_FLOOR = 1e-6


class DualFits:
    """The Gappy-POD fits of a restricted operator's dual quantities (built collectively).

    Only the dual bases' rows at the reduced points are used (``DualField.at``): a model
    loaded from a file never reads its full dual modes for an online solve.

    Parameters
    ----------
    operator : RestrictedOperator
        Its model's subdomains held here; every rank builds the fits of the same
        names in the same (sorted) order.
    """

    def __init__(self, operator: RestrictedOperator):
        self.operator = operator
        parts = operator.parts
        self.names = sorted({n for p in parts for n in p.sub.duals})   # the same on every subdomain
        self.reconstructors: dict[str, GappyReconstructor] = {}
        self.floors: dict[str, float] = {}
        for name in self.names:
            duals = [p.sub.duals[name] for p in parts]
            n_c = len(duals[0].components)
            rows = [d.at(p.sub.points) for d, p in zip(duals, parts)]        # kept at load: no full modes read
            restricted = rows[0] if len(rows) == 1 else np.concatenate(rows, axis=1)
            self.reconstructors[name] = GappyReconstructor.fit_restricted(restricted, n_c, comm=operator.comm)
            at_points = sum(float(np.sum(r[0] ** 2)) for r in rows if len(r))
            sigma = float(duals[0].singular_values[0]) if len(duals[0].singular_values) else 0.0
            self.floors[name] = INDICATOR_FLOOR * sigma * float(np.sqrt(_allreduce(np.array([at_points]),
                                                                                   operator.comm)[0]))

    def values(self, state: ReducedState, name: str) -> np.ndarray:
        """A dual quantity at the reduced points of every held subdomain, ``(Σ k, n_components)``."""
        out = []
        for i, part in enumerate(self.operator.parts):
            if name == "sig":
                out.append(state.stress[i])
            elif name == "eto":
                out.append(state.strain[i])
            else:
                n_comp = len(part.sub.duals[name].components)
                values = np.zeros((len(part.sub.points), n_comp))
                for g, internal in zip(part.groups, state.internal[i]):
                    if name in internal:
                        values[g.points] = np.asarray(internal[name]).reshape(len(g.points), -1)
                out.append(values)
        return np.concatenate(out) if out else np.zeros((0, 1))

    def fit(self, state: ReducedState, name: str) -> tuple[np.ndarray, float]:
        """Gappy-POD coefficients ``(n_dual_modes,)`` of a dual quantity and its indicator (collective)."""
        coefficients, residual, norm = self.reconstructors[name].fit_values(self.values(state, name))
        denominator = max(norm, self.floors[name])
        return coefficients, float(residual / denominator) if denominator > 0 else 0.0

    def indicator(self, state: ReducedState, name: str | None) -> float:
        """The fit residual of one dual quantity (0 without a name)."""
        return self.fit(state, name)[1] if name else 0.0
