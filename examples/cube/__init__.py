"""The academic elastoviscoplastic cube case: mesh and problem generators.

See ``examples/cube/README.md``.
"""

from examples.cube.cube import (
    COLD, LENGTH, MATERIAL, TEMPERATURE_CASES, cube_cycle, hot_field, make_cube_mesh, make_cube_problem,
    make_cube_strain_problem,
)

__all__ = ["COLD", "LENGTH", "MATERIAL", "TEMPERATURE_CASES", "cube_cycle", "hot_field", "make_cube_mesh",
           "make_cube_problem", "make_cube_strain_problem"]
