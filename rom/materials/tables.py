"""Material coefficients: constants or piecewise-linear tables in temperature.

A :class:`Coefficient` is what a material file gives for one parameter: either a
number, or a table of values at increasing temperatures. Tables are interpolated
linearly and **clamped** outside their range (the first / last value is kept), for a
whole array of integration-point temperatures at once.

Spec form (see :mod:`rom.materials.spec`)::

    1.6e5                                                   # constant
    {"temperature": [0.0, 1000.0], "value": [1.6e5, 1.2e5]}  # table
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from io_adapters.errors import ConfigError


@dataclass(frozen=True)
class Coefficient:
    """A material parameter, constant or tabulated in temperature.

    Attributes
    ----------
    temperatures : tuple of float
        Strictly increasing temperatures of the table; empty for a constant.
    values : tuple of float
        The constant (one value) or the table values, same length as ``temperatures``.

    Build with :meth:`constant`, :meth:`table` or :meth:`from_spec`.
    """

    values: tuple[float, ...]
    temperatures: tuple[float, ...] = ()
    _t: np.ndarray = field(init=False, repr=False, compare=False)
    _v: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        values = tuple(float(v) for v in self.values)
        temperatures = tuple(float(t) for t in self.temperatures)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "temperatures", temperatures)
        if not values:
            raise ConfigError("a coefficient needs at least one value")
        if not all(np.isfinite(values)) or not all(np.isfinite(temperatures)):
            raise ConfigError(f"coefficient has non-finite entries: values {values}, temperatures {temperatures}")
        if temperatures:
            if len(temperatures) != len(values):
                raise ConfigError(
                    f"coefficient table has {len(temperatures)} temperatures but {len(values)} values"
                )
            if any(b <= a for a, b in zip(temperatures, temperatures[1:])):
                raise ConfigError(f"coefficient table temperatures must increase strictly, found {temperatures}")
        elif len(values) != 1:
            raise ConfigError(f"a constant coefficient has one value, found {len(values)}")
        object.__setattr__(self, "_t", np.array(temperatures))
        object.__setattr__(self, "_v", np.array(values))

    @classmethod
    def constant(cls, value: float) -> Coefficient:
        """A temperature-independent coefficient."""
        return cls(values=(value,))

    @classmethod
    def table(cls, temperatures, values) -> Coefficient:
        """A piecewise-linear table ``value(T)``, clamped outside ``[T_0, T_last]``.

        Parameters
        ----------
        temperatures : (k,) array-like
            Strictly increasing temperatures.
        values : (k,) array-like
            Values at those temperatures.
        """
        temperatures = np.atleast_1d(np.asarray(temperatures, dtype=float))
        values = np.atleast_1d(np.asarray(values, dtype=float))
        if temperatures.ndim != 1 or values.ndim != 1:
            raise ConfigError("coefficient table temperatures and values must be one-dimensional lists")
        if temperatures.size == 1 and values.size == 1:
            return cls.constant(float(values[0]))
        return cls(values=tuple(values), temperatures=tuple(temperatures))

    @classmethod
    def from_spec(cls, spec: Any, where: str) -> Coefficient:
        """Coefficient from its plain-data form (number or ``{"temperature": [...], "value": [...]}``).

        Parameters
        ----------
        spec : float or dict or Coefficient
        where : str
            Name of the coefficient for messages, e.g. ``"gen_evp: elasticity 'young'"``.
        """
        if isinstance(spec, Coefficient):
            return spec
        if isinstance(spec, np.ndarray) and spec.ndim == 0:
            spec = spec.item()
        if isinstance(spec, (bool, np.bool_)):
            raise ConfigError(f"{where}: expected a number or a temperature table, found {spec!r}")
        if isinstance(spec, (int, float, np.integer, np.floating)):
            if not np.isfinite(spec):
                raise ConfigError(f"{where}: value {spec!r} is not finite")
            return cls.constant(float(spec))
        if isinstance(spec, dict):
            unknown = set(spec) - {"temperature", "value"}
            missing = {"temperature", "value"} - set(spec)
            if unknown or missing:
                raise ConfigError(
                    f"{where}: a temperature table has exactly the keys 'temperature' and 'value'"
                    + (f"; unknown {sorted(unknown)}" if unknown else "")
                    + (f"; missing {sorted(missing)}" if missing else "")
                )
            try:
                return cls.table(spec["temperature"], spec["value"])
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"{where}: temperature table is not numeric ({exc})") from exc
            except ConfigError as exc:
                raise ConfigError(f"{where}: {exc}") from exc
        raise ConfigError(f"{where}: expected a number or a temperature table, found {spec!r}")

    @property
    def is_constant(self) -> bool:
        """True when the coefficient does not depend on temperature."""
        return not self.temperatures

    def at(self, temperature: np.ndarray) -> float | np.ndarray:
        """Value at some temperatures, as cheaply as possible.

        Parameters
        ----------
        temperature : (n,) array

        Returns
        -------
        float or (n,) array
            A float for a constant (it broadcasts against (n,) arrays), else the
            interpolated and clamped values.
        """
        if not self.temperatures:
            return self.values[0]
        return np.interp(temperature, self._t, self._v)

    def __call__(self, temperature) -> np.ndarray:
        """Values at ``temperature`` (any shape), always as an array of that shape."""
        temperature = np.asarray(temperature, dtype=float)
        return np.broadcast_to(self.at(temperature), temperature.shape).astype(float, copy=True)

    def to_spec(self) -> float | dict:
        """Plain-data form accepted by :meth:`from_spec`."""
        if self.is_constant:
            return self.values[0]
        return {"temperature": list(self.temperatures), "value": list(self.values)}


def as_coefficient(value: Any, where: str = "coefficient") -> Coefficient:
    """A :class:`Coefficient` from a number, a table dict or a Coefficient."""
    return Coefficient.from_spec(value, where)
