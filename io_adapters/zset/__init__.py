"""Zset (Z-set / Zebulon) meshes and results, read nonintrusively.

>>> from io_adapters import zset
>>> sim = zset.read("cube.ut")               # one run (or one subdomain stem-00k.ut)
>>> sim = zset.read("cube.cut")              # every subdomain of a parallel run, merged
>>> parts = zset.read_subdomains("cube.cut") # one Simulation per subdomain (global ids)
>>> mesh = zset.read_mesh("part.geof")       # .geof (ASCII) or .geo (binary)
>>> zset.write_geof(mesh, "copy.geof")

Conventions (ZSET_FORMAT.md is the reference for the file formats):

- **Meshes**: meshio/VTK node order (permutations in :mod:`.elements`; the
  wedge keeps Zset's orientation, see there for the evidence); cells in one
  block per type, types in order of first appearance; ``point_ids`` /
  ``cell_ids`` are the Zset ids (global 0-based indices for a subdomain);
  ``**nset``/``**elset`` become node/cell sets, ``**faset``/``**liset`` face
  sets in meshio facet order; ``ALL_ELEMENT`` is not added.
- **Fields**: variables grouped by stem (``U1 U2 U3`` → ``U``, ``sig11..31`` →
  ``sig``, ``gamev1..12`` → ``gamev``), components keep the Zset names;
  ``.node`` → support ``"node"``; ``.integ`` → ``"integration_point"`` with rule
  ``"zset"`` (``"zset-reduced"`` for ``r`` elements; a mesh mixing both is
  refused when it has integration-point fields); ``.ctnod`` → ``"node"`` fields
  named ``<field>_nodal``.
- **Strain shears**: Zset writes tensor shears ε12; strain-like tensors
  (``eto``, ``evi``, ``ein``, ``epi``, ``cui``..., see :mod:`.fields`) are returned
  with engineering shears γ = 2ε for 12, 23, 31 (``sig`` untouched), listed in
  ``provenance["engineering_shear"]``. ``strain_fields=[...]`` overrides the rule.
- **Laziness**: values stay in the files; sources read only the bytes asked for
  (float32 stored, float64 returned). File sizes are checked when opening.

All functions raise :class:`~io_adapters.errors.InputError` (file, place,
expected vs found) on malformed input.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from io_adapters.errors import InputError
from io_adapters.mesh import Mesh
from io_adapters.simulation import Simulation
from io_adapters.zset.deck import read_problem
from io_adapters.zset.geof import write_geof
from io_adapters.zset.meshfile import read_mesh_file
from io_adapters.zset.parallel import read_merged, read_subdomains
from io_adapters.zset.results import mesh_simulation, open_run
from io_adapters.zset.sources import DEFAULT_CACHE_BYTES

__all__ = ["read", "read_mesh", "read_problem", "read_subdomains", "write_geof"]


def read(path, *, strain_fields: Iterable[str] | None = None, cache_bytes: int = DEFAULT_CACHE_BYTES,
         check_interfaces: bool = True) -> Simulation:
    """Read Zset results or a Zset mesh.

    Parameters
    ----------
    path : path-like or list of path-like
        - ``.ut``: one run; a subdomain ``stem-00k.ut`` of a parallel run gives
          that subdomain alone, with ``mesh.point_ids``/``cell_ids`` = global
          0-based node/element indices from its ``.cut``;
        - global ``stem.cut``: every subdomain, merged into one Simulation;
        - a list of subdomain ``.ut`` files: those, merged (all must be given);
        - ``.geof``/``.geo``: the mesh only (no times, no fields).
    strain_fields : iterable of str, optional
        Fields given engineering shears; default: every strain-like tensor.
    cache_bytes : int
        Bound of the decoded ``.integ`` block kept between reads.
    check_interfaces : bool
        Merging only: check that nodes shared by subdomains carry equal values.

    Returns
    -------
    Simulation
    """
    if isinstance(path, (list, tuple)):
        return read_merged(list(path), strain_fields=strain_fields, cache_bytes=cache_bytes,
                           check_interfaces=check_interfaces)
    suffix = Path(path).suffix.lower()
    if suffix in (".geof", ".geo"):
        return mesh_simulation(path)
    if suffix == ".ut":
        return open_run(path, strain_fields=strain_fields, cache_bytes=cache_bytes).simulation
    if suffix == ".cut":
        return read_merged(path, strain_fields=strain_fields, cache_bytes=cache_bytes,
                           check_interfaces=check_interfaces)
    raise InputError(f"{path}: not a Zset file (.ut, .cut, .geof or .geo)")


def read_mesh(path: str | os.PathLike) -> Mesh:
    """Read a Zset mesh, ``.geof`` (ASCII) or ``.geo`` (binary, big-endian).

    Returns
    -------
    Mesh
        meshio node order, ``point_ids``/``cell_ids`` = Zset ids, sets by index.
    """
    return read_mesh_file(path).mesh
