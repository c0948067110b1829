"""How Zset variable names become nirom fields.

Consecutive variables that share a stem and differ by a numeric suffix form one
field whose components are the original names: ``U1 U2 U3`` → ``U``,
``sig11 ... sig31`` → ``sig`` (6), ``gamev1 ... gamev12`` → ``gamev`` (12).
Variables without a numeric suffix (``evrcum``, ``lambda``) and lone suffixed
ones stay scalar fields under their own name.

Strain-like symmetric tensors get engineering shears: Zset writes the tensor
component ε12, nirom's Voigt convention is γ12 = 2 ε12 (DESIGN.md §5), so the
12, 23 and 31 components are doubled. A field is strain-like when its
components are ``11 22 33 12 23 31`` (or ``11 22 33 12`` in 2D) and its name
starts with ``e`` (``eto``, ``evi``, ``evri``, ``ein``, ``eel``, ``epi``...), or
it is the inelastic strain ``<potential>i`` of a potential whose cumulated
variable ``<potential>cum...`` is also written (``cui`` beside ``cucum1...``;
on the UtParExample run ``ein = evi + cui`` to 3e-10, so ``cui`` is a strain).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from io_adapters.errors import InputError

_SUFFIXED = re.compile(r"^(.*[^\d])(\d+)$")

#: Symmetric-tensor component suffixes and the positions of their shears.
TENSOR_SHEARS = {
    ("11", "22", "33", "12", "23", "31"): (3, 4, 5),
    ("11", "22", "33", "12"): (3,),
}

#: Suffix of the node fields extrapolated from integration points (``.ctnod``).
NODAL_SUFFIX = "_nodal"


@dataclass(frozen=True)
class VariableGroup:
    """Consecutive variables of one file making one field.

    Attributes
    ----------
    name : str
        Field name.
    start : int
        Index of the first variable in the file's variable list.
    components : tuple[str, ...]
        Original variable names.
    shears : tuple[int, ...]
        Component positions doubled to engineering shear (empty if none).
    """

    name: str
    start: int
    components: tuple[str, ...]
    shears: tuple[int, ...] = ()

    @property
    def stop(self) -> int:
        return self.start + len(self.components)

    @property
    def scale(self) -> np.ndarray | None:
        """Factor per component, shape (n_components,), or None when all are 1."""
        if not self.shears:
            return None
        scale = np.ones(len(self.components))
        scale[list(self.shears)] = 2.0
        return scale


def _split(name: str) -> tuple[str, str | None]:
    m = _SUFFIXED.match(name)
    return (m.group(1), m.group(2)) if m else (name, None)


def is_strain_like(stem: str, suffixes: tuple[str, ...], variables: Sequence[str]) -> bool:
    """Whether a tensor field holds strains (see the module docstring)."""
    if suffixes not in TENSOR_SHEARS:
        return False
    if stem.startswith("e"):
        return True
    return stem.endswith("i") and len(stem) > 1 and any(v.startswith(stem[:-1] + "cum") for v in variables)


def group_variables(
    variables: Sequence[str], *, strain_fields: Iterable[str] | None = None, where: str = ""
) -> list[VariableGroup]:
    """Group a file's variable list into fields.

    Parameters
    ----------
    variables : sequence of str
        Variable names in file order.
    strain_fields : iterable of str, optional
        Names of the fields to convert to engineering shear; the rule of the
        module docstring when omitted. A named field must be a symmetric tensor.
    where : str
        The file, for messages.

    Returns
    -------
    list[VariableGroup]
        In file order, covering every variable once.
    """
    if len(set(variables)) != len(variables):
        seen = [v for i, v in enumerate(variables) if v in variables[:i]]
        raise InputError(f"{where}: variable '{seen[0]}' is listed twice")
    runs: list[tuple[str, int, list[str], list[str]]] = []  # stem, start, names, suffixes
    for i, name in enumerate(variables):
        stem, suffix = _split(name)
        last = runs[-1] if runs else None
        if suffix is not None and last and last[0] == stem and last[3] and suffix not in last[3]:
            last[2].append(name)
            last[3].append(suffix)
        else:
            runs.append((stem, i, [name], [suffix] if suffix is not None else []))
    explicit = None if strain_fields is None else set(strain_fields)
    groups, used = [], set(variables)
    for stem, start, names, suffixes in runs:
        if len(names) > 1 and stem not in used:
            used.add(stem)
            suffix_tuple = tuple(suffixes)
            strain = (is_strain_like(stem, suffix_tuple, variables) if explicit is None else stem in explicit)
            if strain and suffix_tuple not in TENSOR_SHEARS:
                raise InputError(f"{where}: field '{stem}' ({' '.join(names)}) is not a symmetric tensor "
                                 "11 22 33 12 23 31; its shears cannot be doubled")
            groups.append(VariableGroup(stem, start, tuple(names), TENSOR_SHEARS[suffix_tuple] if strain else ()))
        else:
            for k, name in enumerate(names):
                groups.append(VariableGroup(name, start + k, (name,)))
    return groups
