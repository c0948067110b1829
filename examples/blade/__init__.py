"""The turbine-blade example: gmsh mesh generator, temperature family, flight-cycle problem.

See ``examples/blade/README.md``.
"""

from examples.blade.blade import (
    MATERIAL, REFERENCE_TEMPERATURE, BladeGeometry, cycle_times, flight_cycle, make_blade_mesh,
    make_blade_problem, temperature_field,
)

__all__ = [
    "BladeGeometry", "MATERIAL", "REFERENCE_TEMPERATURE", "cycle_times", "flight_cycle", "make_blade_mesh",
    "make_blade_problem", "temperature_field",
]
