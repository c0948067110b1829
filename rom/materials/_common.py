"""Argument checks shared by the laws (shapes, temperatures, state dictionaries)."""

from __future__ import annotations

import numpy as np

from io_adapters.errors import InputError


def check_inputs(law, strain_old: np.ndarray, d_strain: np.ndarray, state_old: dict, dt: float) -> int:
    """Validate the arguments of ``law.update`` and return the number of points n."""
    where = law.behavior
    for name, array in (("strain_old", strain_old), ("d_strain", d_strain)):
        if not isinstance(array, np.ndarray) or array.ndim != 2 or array.shape[1] != 6:
            shape = getattr(array, "shape", type(array).__name__)
            raise InputError(f"{where}: {name} must be an (n, 6) array, found {shape}")
    n = strain_old.shape[0]
    if d_strain.shape[0] != n:
        raise InputError(f"{where}: strain_old has {n} points but d_strain has {d_strain.shape[0]}")
    if not np.isfinite(dt) or dt < 0.0:
        raise InputError(f"{where}: time increment dt must be finite and >= 0, found {dt}")
    missing = [k for k in law.state_names if k not in state_old]
    if missing:
        raise InputError(f"{where}: state_old lacks {missing} (expected keys {list(law.state_names)})")
    for k in law.state_names:
        expected = (n,) + law.state_shapes[k]
        if np.shape(state_old[k]) != expected:
            raise InputError(f"{where}: state_old['{k}'] must have shape {expected}, found {np.shape(state_old[k])}")
    return n


def temperatures(law, t_old, d_t, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Start temperature and increment as (n,) float arrays (zeros when the law ignores T)."""
    if t_old is None or d_t is None:
        if law.uses_temperature:
            raise InputError(f"{law.behavior}: this law depends on temperature; pass T_old and d_T")
        zeros = np.zeros(n)
        return zeros, zeros
    arrays = []
    for name, value in (("T_old", t_old), ("d_T", d_t)):
        value = np.asarray(value, dtype=float)
        if value.shape not in ((), (n,)):
            raise InputError(f"{law.behavior}: {name} must be a float or an ({n},) array, found shape {value.shape}")
        arrays.append(np.broadcast_to(value, (n,)))
    return arrays[0], arrays[1]


def check_finite(law, **arrays) -> None:
    """InputError naming the first argument that holds NaN or infinity."""
    for name, array in arrays.items():
        if not np.isfinite(array).all():
            bad = np.flatnonzero(~np.isfinite(array).reshape(array.shape[0], -1).all(axis=1))
            raise InputError(
                f"{law.behavior}: {name} is not finite at {bad.size} points (first: {bad[:5].tolist()})"
            )


def initial_temperature(law, t_initial, n: int) -> np.ndarray | None:
    """The temperature at the start of the computation as an (n,) array, or None when not given."""
    if t_initial is None:
        return None
    value = np.asarray(t_initial, dtype=float)
    if value.shape not in ((), (n,)):
        raise InputError(f"{law.behavior}: T_initial must be a float or an ({n},) array, found shape {value.shape}")
    if not np.isfinite(value).all():
        raise InputError(f"{law.behavior}: T_initial is not finite")
    return np.broadcast_to(value, (n,))
