"""Constitutive laws vectorised over integration points.

Every law is a small frozen dataclass with the same interface::

    stress, tangent, state = law.update(strain_old, d_strain, state_old, T_old, d_T, dt,
                                        T_initial=T_0)
    state = law.initial_state(n)
    law.state_names, law.state_shapes, law.density, law.behavior

with strains (n, 6) in Voigt order ``[11, 22, 33, 12, 23, 31]`` and engineering shears,
stresses (n, 6) with plain components, tangents ``dσ/dε`` (n, 6, 6), temperatures (n,)
and states as dicts of arrays of leading dimension n (see :mod:`rom.materials.voigt`).
``T_initial`` is the temperature of each point at the start of the computation: the
thermal strain is ``α(T)(T − T_ref) − α(T_0)(T_0 − T_ref)`` (Zset's convention; every
solver of nirom passes it, see ``docs/zset.md``); omitted, it is measured from ``T_ref``.

Laws
----
:class:`LinearElastic`
    Isotropic elasticity with thermal strain.
:class:`J2Plasticity`
    Rate-independent Mises plasticity, isotropic (linear / Voce) and kinematic (linear /
    Armstrong–Frederick, several) hardening; radial return, consistent tangent.
:class:`GenEVP`
    Zset ``gen_evp``: Mises, Norton flow, nonlinear kinematic and isotropic hardening,
    θ-method, consistent tangent, local subdivision of failing increments.

Build them from plain data with :func:`from_spec` (schema in :mod:`rom.materials.spec`),
and drive material points with :func:`drive` / :func:`uniaxial`.
"""

from rom.materials.driver import Trajectory, drive, uniaxial
from rom.materials.elastic import IsotropicElasticity, LinearElastic, ThermalStrain
from rom.materials.hardening import (
    Integration,
    IsotropicHardening,
    KinematicHardening,
    NortonFlow,
    PlasticFlow,
)
from rom.materials.plasticity import J2Plasticity
from rom.materials.spec import BEHAVIORS, from_spec, to_spec
from rom.materials.tables import Coefficient
from rom.materials.viscoplasticity import GenEVP

__all__ = [
    "BEHAVIORS",
    "Coefficient",
    "GenEVP",
    "Integration",
    "IsotropicElasticity",
    "IsotropicHardening",
    "J2Plasticity",
    "KinematicHardening",
    "LinearElastic",
    "NortonFlow",
    "PlasticFlow",
    "ThermalStrain",
    "Trajectory",
    "drive",
    "from_spec",
    "to_spec",
    "uniaxial",
]
