"""The online stage's earlier entry points, kept for existing scripts.

The online stage now lives in :mod:`rom.online` (restricted operator, reduced Newton,
Gappy-POD fits and indicator, typed result, time loop); this module re-exports its
names under their former spellings: ``ReducedOperator`` (the restricted operator),
``OnlineSettings`` (:class:`rom.settings.SolverSettings`), ``solve``,
``check_problem``, ``ReducedState``, ``INDICATOR_FLOOR``.
"""

from rom.online import INDICATOR_FLOOR, ReducedState, check_problem, solve
from rom.online import RestrictedOperator as ReducedOperator
from rom.settings import SolverSettings as OnlineSettings

__all__ = ["INDICATOR_FLOOR", "OnlineSettings", "ReducedOperator", "ReducedState", "check_problem", "solve"]
