"""The high-fidelity (full-order) quasi-static solver and the one-step hook.

``solve(problem, comm=None)`` solves a :class:`io_adapters.Problem` over its time
steps (scipy in serial, PETSc under MPI); :class:`InHouseStep` and
:class:`ExternalCommandStep` advance a state by one step for the adaptive ROM — a whole
:class:`MechanicalState`, or under MPI each rank's :class:`PartitionedState` rows
(:class:`DistributedStep`: the step taken once for all ranks); :func:`on_rank_zero` makes
a user's serial :class:`HighFidelityStep` distributed (:func:`distributed`: whatever a step needs).
"""

from rom.hifi.dynamics import GeneralizedAlphaSettings, NewmarkSettings, Rayleigh, solve_dynamic
from rom.hifi.newton import NewtonSettings
from rom.hifi.solver import solve
from rom.hifi.step import (DistributedStep, ExternalCommandStep, HighFidelityStep, InHouseStep, MechanicalState,
                           PartitionedState, RankZeroStep, distributed, on_rank_zero)

__all__ = ["DistributedStep", "ExternalCommandStep", "GeneralizedAlphaSettings", "HighFidelityStep", "InHouseStep",
           "MechanicalState", "NewmarkSettings", "NewtonSettings", "PartitionedState", "Rayleigh", "RankZeroStep",
           "distributed", "on_rank_zero", "solve", "solve_dynamic"]
