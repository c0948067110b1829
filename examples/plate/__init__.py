"""The plate-with-a-hole example: structured mesh, J2 plasticity, imposed displacement of random direction.

See ``examples/plate/README.md``.
"""

from examples.plate.plate import (
    MAGNITUDES, MATERIAL, PlateGeometry, make_plate_mesh, make_plate_problem, plate_cycle, plate_load,
)

__all__ = ["MAGNITUDES", "MATERIAL", "PlateGeometry", "make_plate_mesh", "make_plate_problem", "plate_cycle",
           "plate_load"]
