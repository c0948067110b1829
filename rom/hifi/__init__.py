"""The high-fidelity (full-order) quasi-static solver and the one-step hook.

``solve(problem, comm=None)`` solves a :class:`io_adapters.Problem` over its time
steps (scipy in serial, PETSc under MPI); :class:`HighFidelityStep` advances a
full state by one step (in-house or an external command) for the adaptive ROM.
"""

from rom.hifi.newton import NewtonSettings
from rom.hifi.solver import solve
from rom.hifi.step import ExternalCommandStep, HighFidelityStep, InHouseStep, MechanicalState

__all__ = ["ExternalCommandStep", "HighFidelityStep", "InHouseStep", "MechanicalState", "NewtonSettings", "solve"]
