"""The online stage: a reduced-order model answers a new loading.

- :mod:`rom.online.operator` — :class:`RestrictedOperator`: the model applied to one
  problem at its reduced points (loads, temperatures, imposed displacements, laws);
- :mod:`rom.online.newton` — the reduced Newton solver (:func:`advance`);
- :mod:`rom.online.fits` — :class:`DualFits`: Gappy-POD fits of the dual quantities
  (QR, conditioning checked) and the error indicator;
- :mod:`rom.online.result` — :class:`OnlineResult`, the typed result (full fields on
  demand, written by every rank into one store);
- :mod:`rom.online.solve` — :func:`solve`, the time loop, with the enrichment policy
  of :mod:`rom.adaptive`.
"""

from rom.online.dynamics import DynamicResult, ReducedMass, solve_dynamic
from rom.online.fits import INDICATOR_FLOOR, DualFits
from rom.online.newton import advance, newton
from rom.online.operator import ReducedState, RestrictedOperator, check_problem
from rom.online.result import EnrichmentEvent, OnlineResult
from rom.online.solve import solve

__all__ = ["INDICATOR_FLOOR", "DualFits", "DynamicResult", "EnrichmentEvent", "OnlineResult", "ReducedMass",
           "ReducedState", "RestrictedOperator", "advance", "check_problem", "newton", "solve", "solve_dynamic"]
