"""PETSc access for the high-fidelity solver (petsc4py, imported lazily).

The DOLFINx wheel (extra ``fenics``) vendors petsc4py and must be imported first
(``import dolfinx_solver``); a site-built petsc4py works as well.
"""

from __future__ import annotations

import functools

from io_adapters.errors import MissingDependencyError


@functools.cache
def petsc():
    """The ``petsc4py.PETSc`` module, or MissingDependencyError naming the extra."""
    try:
        import dolfinx_solver  # noqa: F401  (orders MPI ahead of the vendored PETSc)
    except ImportError:
        pass
    try:
        import petsc4py

        petsc4py.init()
        from petsc4py import PETSc
    except ImportError as exc:
        raise MissingDependencyError(
            "the PETSc linear solvers need petsc4py: pip install 'nirom[fenics]' "
            "(the DOLFINx wheel brings it) or use a site-built petsc4py"
        ) from exc
    return PETSc


def available() -> bool:
    """True when petsc4py can be imported."""
    try:
        petsc()
    except MissingDependencyError:
        return False
    return True
