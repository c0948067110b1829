"""When a Newton iterate of a time step is converged: one criterion for the HF and the reduced solver.

An iterate ``u_k`` of the step from the converged ``u_n`` is accepted when both hold:

1. **Residual**: ``‖r(u_k)‖ ≤ rtol · F_ref(u_k) + atol`` with the force scale taken at
   *this* iterate only::

       F_ref(u_k) = max(‖f_ext‖, ‖F_int(u_k)‖, ‖Bᵀ w D_k (ε_k − ε_n)‖)

   (the external load, the internal forces and the force of the step's strain
   increment through the current tangent — the scale of a thermal step whose
   solution is stress-free). The HF solver takes norms over every dof, reactions
   included; the reduced solver, whose space holds no reaction (its ``F`` vanishes at
   an equilibrium under imposed displacements), takes the magnitude
   ``‖Σ |w| |Bᵣ|ᵀ |σ|‖`` of the internal forces instead of ``‖F_int‖``. Nothing of
   an earlier iterate enters it: the first residual of a temperature increment and
   the internal forces of an unconverged iterate are large, and a reference that
   remembered them would accept a poor iterate.
2. **Correction**: the correction that produced ``u_k`` is small against the step's
   increment, ``‖δu_{k−1}‖ ≤ rtol · ‖u_k − u_n‖``; or the residual is already at the
   square of the ratio, ``‖r‖ ≤ min(rtol, max(rtol², 1e-10)) · F_ref + atol`` (a
   linear step after one solve, a step that did not move).

With Newton's quadratic convergence, (2) puts the displacement error of the accepted
iterate near ``rtol²`` relative to the step's increment, where a residual test alone
leaves it near ``rtol``. ``rtol`` is the convergence ratio a Zset deck gives as
``*ratio``: with it nirom is at least as converged as Zset was (see ``docs/zset.md``).
"""

from __future__ import annotations

#: Below this relative residual a step is converged whatever its last correction.
RESIDUAL_FLOOR = 1e-10


def reference_force(external: float, internal: float, increment: float) -> float:
    """``F_ref = max(‖f_ext‖, ‖F_int(u_k)‖, ‖Bᵀ w D_k Δε_k‖)`` of the current iterate."""
    return max(float(external), float(internal), float(increment))


def is_converged(residual: float, reference: float, correction: float | None, increment: float, *,
                 rtol: float, atol: float) -> bool:
    """The two tests of the module docstring.

    Parameters
    ----------
    residual : float
        ``‖r(u_k)‖`` (free dofs).
    reference : float
        ``F_ref(u_k)``, see :func:`reference_force`.
    correction : float or None
        ``‖δu_{k−1}‖``, the norm of the correction that produced ``u_k`` (None at the
        first iterate of a step that took no correction yet).
    increment : float
        ``‖u_k − u_n‖``.
    rtol, atol : float
        Convergence ratio and absolute floor of the residual.
    """
    if not residual <= rtol * reference + atol:
        return False
    if residual <= min(rtol, max(rtol * rtol, RESIDUAL_FLOOR)) * reference + atol:
        return True
    return correction is not None and correction <= rtol * increment
