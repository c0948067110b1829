"""Adaptive enrichment: repair the reduced model from one high-fidelity step.

When the error indicator exceeds its tolerance at step n (time t_n):

1. rebuild the full state at t_{n-1} — each rank the rows of its subdomains:
   displacement from the basis plus the imposed values, strain from it, internal
   variables and stress from their Gappy-POD fits (:meth:`Reductor.reconstruct`);
2. take ONE high-fidelity step to t_n from it, distributed: nirom's solver on the
   model's own partition (each rank its cells, PETSc across the ranks), or the
   user's command, run once on rank 0 with the state gathered there and the result
   scattered back (:mod:`rom.hifi.step`);
3. add the new snapshot to every basis (distributed incremental POD), re-run the
   ECM warm-started, re-select the Gappy points and rebuild the reduced operators —
   :meth:`Reductor.extend_basis`, the code path and settings of the offline build;
4. solve step n again with the enriched model, and go on.

What triggers it: the solve's indicator (the Gappy-POD fit residual of ``evrcum`` by
default) or the fit residual of a watched quantity (:attr:`Enrichment.watch`; ``sig``
by default, which also sees errors of the elastic and thermal response), whichever
is larger. :class:`Enrichment` is the frozen policy a user gives; :class:`Enricher`
is the runtime of one solve (its reductor, its HF step, its events), created by
:func:`rom.online.solve`. The events and the enriched model come back in the
:class:`~rom.online.OnlineResult`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from io_adapters.errors import ConfigError, InputError

from rom import progress
from rom.hifi import InHouseStep, NewtonSettings, distributed
from rom.online.fits import DualFits
from rom.online.newton import advance
from rom.online.operator import ReducedState, RestrictedOperator
from rom.online.result import EnrichmentEvent
from rom.parallel import allreduce_sum as _allreduce
from rom.reductor import Reductor
from rom.settings import AdaptiveSettings, EcmSettings

log = logging.getLogger(__name__)

__all__ = ["Enricher", "Enrichment"]

_DEFAULTS = AdaptiveSettings()


@dataclass(frozen=True)
class Enrichment:
    """The enrichment policy of an online solve (frozen; defaults: :class:`rom.settings.AdaptiveSettings`).

    Attributes
    ----------
    tol : float
        Level of the indicator (or of a watched fit residual) that triggers an enrichment.
    hf_step : HighFidelityStep, optional
        One high-fidelity step (:mod:`rom.hifi.step`); nirom's own solver on the online
        problem and the model's partition when omitted, at a convergence ratio no looser
        than the online solve's (nor than the HF default).
    pod_tol : float
        Truncation of the incremental POD updates (relative).
    ecm_tol : float, optional
        Tolerance of the re-run ECM (the model's ECM settings otherwise: tol, seed,
        stress_tol, as the offline build used them).
    max_enrichments : int
        Per solve.
    watch : "auto" or tuple of str
        Dual quantities whose Gappy-POD fit residual also triggers an enrichment
        (against the same ``tol``), beside the solve's indicator. The plastic
        indicator (``evrcum``) is blind to an error of the elastic and thermal
        response; the stress fit is not. ``"auto"``: ``sig`` when the model has a
        basis of it.
    """

    tol: float
    hf_step: object = None
    pod_tol: float = _DEFAULTS.pod_tol
    ecm_tol: float | None = _DEFAULTS.ecm_tol
    max_enrichments: int = _DEFAULTS.max_enrichments
    watch: object = _DEFAULTS.watch

    def __post_init__(self):
        if isinstance(self.watch, list):
            object.__setattr__(self, "watch", tuple(self.watch))
        # the checks of the [adaptive] table (rom.settings), on the same values
        AdaptiveSettings(tol=self.tol, pod_tol=self.pod_tol, ecm_tol=self.ecm_tol,
                         max_enrichments=self.max_enrichments, watch=self.watch)

    def start(self, operator: RestrictedOperator, indicator: str | None) -> "Enricher":
        """The enrichments of one solve that starts with ``operator`` (called by :func:`rom.online.solve`)."""
        return Enricher(self, operator, indicator)

    def watched(self, model, indicator: str | None) -> list[str]:
        """The dual quantities checked at every step besides ``indicator``."""
        available = {n for sub in model.subdomains for n in sub.duals}
        if self.watch == "auto":
            names = ["sig"] if "sig" in available else []
        else:
            names = [self.watch] if isinstance(self.watch, str) else list(self.watch)
            missing = [n for n in names if n not in available]
            if missing:
                raise ConfigError(f"enrichment watches {missing}, but the model has Gappy-POD bases of "
                                  f"{sorted(available)} only (add [pod.<name>] to the offline configuration)")
        return [n for n in names if n != indicator]


class Enricher:
    """The enrichments of one online solve (created by :func:`rom.online.solve`).

    Parameters
    ----------
    policy : Enrichment
    operator : RestrictedOperator
        The solve's operator at its start (model, problem, communicator).
    indicator : str or None
        The solve's indicator quantity (not watched twice).
    """

    def __init__(self, policy: Enrichment, operator: RestrictedOperator, indicator: str | None):
        self.policy = policy
        self.problem, self.comm = operator.problem, operator.comm
        self.watched = policy.watched(operator.model, indicator)
        self.indicator = indicator
        ecm = EcmSettings.from_mapping(operator.model.settings.get("ecm", {}), where="model settings [ecm]")
        if policy.ecm_tol is not None:
            ecm = EcmSettings(tol=policy.ecm_tol, seed=ecm.seed, stress_tol=ecm.stress_tol)
        self.reductor = Reductor.for_model(operator.model, self.problem, ecm=ecm, comm=self.comm)
        self.events: list[EnrichmentEvent] = []
        self.hf_seconds = 0.0
        self._step = None

    @property
    def exhausted(self) -> bool:
        """True once ``max_enrichments`` enrichments were done in this solve."""
        return len(self.events) >= self.policy.max_enrichments

    def hf_step(self, settings):
        """The high-fidelity step, built at the first enrichment (its discretisation kept for the next)."""
        if self._step is None:
            if self.policy.hf_step is None:
                default = NewtonSettings()
                newton = NewtonSettings(rtol=min(default.rtol, settings.rtol), atol=min(default.atol, settings.atol))
                self._step = InHouseStep(self.problem, comm=self.comm, cell_parts=self.reductor.cell_parts(),
                                         rule=self.reductor.rule, settings=newton)
            else:
                self._step = distributed(self.policy.hf_step, self.comm, self.problem.mesh)
        return self._step

    def enrich(self, operator: RestrictedOperator, fits: DualFits, state: ReducedState, t_new: float, step: int,
               trigger: float, settings):
        """Enrich the model between ``state`` (t_{n-1}) and ``t_new`` and solve the step again (collective).

        Returns
        -------
        (operator, fits, new_state)
            Of the enriched model; the event is appended to :attr:`events`.
        """
        started = time.perf_counter()
        model = operator.model
        names = sorted({n for law in operator.laws for n in law.initial_state(1)} | ({"sig"} & set(fits.names)))
        missing = [n for n in names if n not in fits.names]
        if missing:
            raise ConfigError(f"enrichment needs a Gappy-POD basis of the internal variable(s) {missing}: "
                              f"add [pod.<name>] for each to the offline configuration")
        coefficients = {name: fits.fit(state, name)[0] for name in names}
        full = self.reductor.reconstruct(model, state.q, state.time, coefficients, imposed=state.imposed)
        hf = self.hf_step(settings)
        t0 = time.perf_counter()
        result = hf(full, t_new)
        hf_seconds = time.perf_counter() - t0
        self.hf_seconds += hf_seconds
        model = self.reductor.extend_basis(model, result, pod_tol=self.policy.pod_tol)
        operator = RestrictedOperator(model, self.problem, self.comm)
        fits = DualFits(operator)
        new = advance(operator, restrict_state(operator, self.reductor, full, imposed=state.imposed), t_new, settings)
        after = max([fits.indicator(new, n) for n in ([self.indicator] if self.indicator else []) + self.watched],
                    default=0.0)
        points = int(_allreduce(np.array([sum(s.n_reduced_points for s in model.subdomains)]), self.comm)[0])
        event = EnrichmentEvent(step=step, time=float(t_new), indicator_before=float(trigger),
                                indicator_after=float(after), n_modes=model.n_modes, reduced_points=points,
                                hf_seconds=hf_seconds, seconds=time.perf_counter() - started)
        self.events.append(event)
        progress.advance("enrichments", len(self.events), None, detail=f"step {step}")
        log.info("enrichment at step %d (t=%g): indicator %.3e -> %.3e, %d modes, %d reduced points",
                 step, t_new, trigger, after, model.n_modes, points)
        return operator, fits, new


def restrict_state(operator: RestrictedOperator, reductor: Reductor, full, *, imposed: bool = True) -> ReducedState:
    """A reduced state from this rank's rows of a full one (collective).

    Coordinates by M-projection on the modes (the constrained values are not projected:
    the modes vanish there; they enter the strains through the lifting), internal
    variables and stress read at the reduced points. ``imposed``: the full state's
    constrained dofs hold the problem's values at its time (False for the initial state).
    """
    nodes, rows = np.asarray(full.nodes), np.asarray(full.point_rows)
    q = np.zeros(operator.n_modes)
    for part, geometry in zip(operator.parts, reductor.parts):
        u = full.displacement[_positions(nodes, part.sub.nodes, "node")]
        q += part.sub.displacement_modes @ (geometry.mass @ geometry.free_rows(u))
    q = _allreduce(q, operator.comm)
    lifting = operator.lifting(full.time) if imposed else [np.zeros((len(p.sub.points), 6)) for p in operator.parts]
    strain, stress, internal, temperature = [], [], [], []
    for part, lifted in zip(operator.parts, lifting):
        at = _positions(rows, part.sub.point_rows[part.sub.points], "integration point")
        strain.append(np.einsum("kcn,n->kc", part.sub.strain_operator, q) + lifted)
        stress.append(full.stress[at])
        groups = []
        for g in part.groups:
            template = g.law.initial_state(len(g.points))
            groups.append({n: np.asarray(full.internal[n])[at[g.points]].reshape(np.shape(v))
                           for n, v in template.items()})
        internal.append(groups)
        temperature.append(operator.temperature(part, full.time))
    return ReducedState(full.time, q, strain, stress, internal, temperature, imposed=imposed)


def _positions(sorted_ids: np.ndarray, wanted: np.ndarray, what: str) -> np.ndarray:
    position = np.searchsorted(sorted_ids, wanted)
    if np.any(position >= len(sorted_ids)) or not np.array_equal(sorted_ids[np.minimum(position, len(sorted_ids) - 1)],
                                                                  wanted):
        raise InputError(f"enrichment: the full state lacks some {what}s of this rank's subdomains")
    return position

