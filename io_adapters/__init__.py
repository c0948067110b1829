"""Read each solver's results into one in-house format, and store it.

>>> import io_adapters
>>> sim = io_adapters.read("cube.ut")          # Zset, Ansys, dolfinx, meshio, our .h5
>>> io_adapters.save(sim, "cube.h5")           # HDF5 store + XDMF sidecar

Importing this package registers the Zset mesh format with meshio, so that
``meshio.read("part.geof")`` works (a format registration, nothing else).
"""

from io_adapters.errors import (
    ConfigError,
    ConvergenceError,
    InputError,
    MeshMismatchError,
    MissingDependencyError,
    NiromError,
)
from io_adapters.formats import FORMATS, detect_format, read, save
from io_adapters.mesh import Mesh
from io_adapters.problem import (
    Centrifugal,
    Dirichlet,
    ImposedField,
    Pressure,
    Problem,
    Temperature,
    TimeTable,
    read_problem,
)
from io_adapters.simulation import Field, FieldSource, Simulation

__all__ = [
    "FORMATS", "Centrifugal", "ConfigError", "ConvergenceError", "Dirichlet", "Field", "FieldSource",
    "ImposedField", "InputError", "Mesh", "MeshMismatchError", "MissingDependencyError", "NiromError", "Pressure",
    "Problem", "Simulation", "Temperature", "TimeTable", "detect_format", "read", "read_problem", "save",
]


def _register_meshio_formats() -> None:
    from io_adapters.zset.meshio_format import register

    register()


_register_meshio_formats()
