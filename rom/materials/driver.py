"""Material-point driver: histories of mixed strain / stress control, vectorised over points.

Each Voigt component is either strain-controlled (its total strain follows a given
history) or stress-controlled (its stress follows a given history, zero by default);
at every step the free strains are found by Newton's method on the stress residual,
with the law's tangent. Typical uses: uniaxial tension at imposed strain with free
lateral strains (:func:`uniaxial`), creep at imposed stress, relaxation, or a batch of
n independent points each with its own history.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from io_adapters.errors import ConvergenceError, InputError


@dataclass(frozen=True)
class Trajectory:
    """Histories at every time of a driven batch of points.

    Attributes
    ----------
    times : (n_t,) array
    strain : (n_t, n, 6) array
        Total strain (engineering shears).
    stress : (n_t, n, 6) array
    temperature : (n_t, n) array
    state : dict of str to (n_t, n, ...) arrays
        The law's internal variables (see ``law.state_names``).
    """

    times: np.ndarray
    strain: np.ndarray
    stress: np.ndarray
    temperature: np.ndarray
    state: dict


def _history(values, n_t: int, n: int | None, what: str) -> np.ndarray | None:
    if values is None:
        return None
    values = np.asarray(values, dtype=float)
    if values.ndim == 2 and values.shape == (n_t, 6):
        values = values[:, None, :]
    if values.ndim != 3 or values.shape[0] != n_t or values.shape[2] != 6 or (n is not None and values.shape[1] not in (1, n)):
        raise InputError(f"driver: {what} must have shape ({n_t}, 6) or ({n_t}, n, 6), found {values.shape}")
    return values


def drive(law, times, *, controlled, strain=None, stress=None, temperature=None, state=None,
          initial_temperature=None, tol: float = 1e-10, max_iterations: int = 30) -> Trajectory:
    """Drive a batch of material points through a mixed strain / stress history.

    Parameters
    ----------
    law
        Any nirom law (``update`` / ``initial_state``).
    times : (n_t,) array
        Increasing times; the first is the initial instant.
    controlled : (6,) bool array-like
        True where the total strain component is imposed, False where the stress is.
    strain : (n_t, 6) or (n_t, n, 6) array, optional
        Imposed strains (only the controlled components are read); zero when omitted.
    stress : (n_t, 6) or (n_t, n, 6) array, optional
        Imposed stresses (only the free components are read); zero when omitted.
    temperature : float, (n_t,) or (n_t, n) array, optional
        Temperature history (None for a temperature-independent law).
    state : dict, optional
        Initial state of the n points; ``law.initial_state(n)`` when omitted.
    initial_temperature : float or (n,) array, optional
        Temperature T_0 from which the thermal strain is measured
        (``α(T)(T − T_ref) − α(T_0)(T_0 − T_ref)``); the temperature at the first
        time when omitted, as in a structural computation that starts there. Give
        the law's ``ref_temperature`` to measure the thermal strain from ``T_ref``
        (e.g. to continue from a ``state`` reached in an earlier computation).
    tol : float
        Bound on the stress residual of the free components, relative to
        ``max(1, max_i |σ_i|)`` at each point.
    max_iterations : int
        Newton iterations per step.

    Returns
    -------
    Trajectory

    Raises
    ------
    ConvergenceError
        When the stress residual is not reduced below ``tol`` at some step.
    """
    times = np.asarray(times, dtype=float)
    n_t = times.size
    if times.ndim != 1 or n_t < 1 or np.any(np.diff(times) < 0.0):
        raise InputError(f"driver: times must be a non-decreasing (n_t,) array, found {times}")
    controlled = np.asarray(controlled, dtype=bool)
    if controlled.shape != (6,):
        raise InputError(f"driver: controlled must be six booleans, found shape {controlled.shape}")
    strain_h = _history(strain, n_t, None, "strain")
    stress_h = _history(stress, n_t, None, "stress")
    sizes = [a.shape[1] for a in (strain_h, stress_h) if a is not None]
    temp = None if temperature is None else np.asarray(temperature, dtype=float)
    if temp is not None and temp.ndim == 2:
        sizes.append(temp.shape[1])
    if state is not None and law.state_names:
        sizes.append(len(state[law.state_names[0]]))
    n = max(sizes, default=1)
    strain_h = np.zeros((n_t, n, 6)) if strain_h is None else np.broadcast_to(strain_h, (n_t, n, 6))
    stress_h = np.zeros((n_t, n, 6)) if stress_h is None else np.broadcast_to(stress_h, (n_t, n, 6))
    if temp is not None:
        if temp.ndim == 0:
            temp = np.full((n_t, n), float(temp))
        elif temp.ndim == 1:
            temp = np.broadcast_to(temp[:, None], (n_t, n))
        if temp.shape[0] != n_t:
            raise InputError(f"driver: temperature must have {n_t} rows, found shape {temp.shape}")
        temp = np.broadcast_to(temp, (n_t, n))
    free = np.flatnonzero(~controlled)
    t_initial = None
    if temp is not None:
        t_initial = temp[0] if initial_temperature is None else np.broadcast_to(
            np.asarray(initial_temperature, dtype=float), (n,))

    current = law.initial_state(n) if state is None else {k: np.array(v, dtype=float) for k, v in state.items()}
    out_strain = np.zeros((n_t, n, 6))
    out_stress = np.zeros((n_t, n, 6))
    out_state = {k: np.zeros((n_t,) + v.shape) for k, v in current.items()}
    t_hist = np.zeros((n_t, n)) if temp is None else np.array(temp)

    e_old = np.zeros((n, 6))
    guess = np.zeros((n, 6))
    for i in range(n_t):
        dt = 0.0 if i == 0 else times[i] - times[i - 1]
        t_old = None if temp is None else (temp[0] if i == 0 else temp[i - 1])
        d_t = None if temp is None else temp[i] - t_old
        e_new = e_old + guess
        e_new[:, controlled] = strain_h[i][:, controlled]
        target = stress_h[i]
        for _ in range(max_iterations):
            sig, tangent, new_state = law.update(e_old, e_new - e_old, current, t_old, d_t, dt,
                                                 T_initial=t_initial)
            if free.size == 0:
                break
            res = sig[:, free] - target[:, free]
            bound = tol * np.maximum(1.0, np.abs(sig).max(axis=1))
            active = np.flatnonzero(np.abs(res).max(axis=1) > bound)
            if active.size == 0:
                break
            jac = tangent[np.ix_(active, free, free)]
            try:
                e_new[np.ix_(active, free)] -= np.linalg.solve(jac, res[active][..., None])[..., 0]
            except np.linalg.LinAlgError as exc:
                raise ConvergenceError(
                    f"driver: stress control did not converge at step {i} (t = {times[i]:g}): the tangent "
                    f"of the stress-controlled components is singular (limit load reached?)"
                ) from exc
        else:
            raise ConvergenceError(
                f"driver: stress control did not converge at step {i} (t = {times[i]:g}) for "
                f"{active.size} of {n} points in {max_iterations} iterations "
                f"(worst residual {np.abs(res).max():.3g})"
            )
        guess = e_new - e_old
        guess[:, controlled] = 0.0
        e_old, current = e_new, new_state
        out_strain[i], out_stress[i] = e_new, sig
        for k, v in new_state.items():
            out_state[k][i] = v
    return Trajectory(times=times, strain=out_strain, stress=out_stress, temperature=t_hist, state=out_state)


def uniaxial(law, times, *, strain=None, stress=None, temperature=None, **options) -> Trajectory:
    """Uniaxial stress state along 11: imposed ε11 **or** σ11 history, every other stress zero.

    Parameters
    ----------
    law
    times : (n_t,) array
    strain : (n_t,) array, optional
        Imposed ε11 (strain control, e.g. tension, relaxation).
    stress : (n_t,) array, optional
        Imposed σ11 (stress control, e.g. creep).
    temperature : float or (n_t,) array, optional
    **options
        Passed to :func:`drive`.

    Returns
    -------
    Trajectory
        For a single point (n = 1).
    """
    if (strain is None) == (stress is None):
        raise InputError("uniaxial: give exactly one of strain (ε11 history) or stress (σ11 history)")
    times = np.asarray(times, dtype=float)
    history = np.zeros((times.size, 6))
    controlled = np.zeros(6, bool)
    if strain is not None:
        history[:, 0] = strain
        controlled[0] = True
        return drive(law, times, controlled=controlled, strain=history, temperature=temperature, **options)
    history[:, 0] = stress
    return drive(law, times, controlled=controlled, stress=history, temperature=temperature, **options)
