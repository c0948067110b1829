"""Zset-style thermo-mechanical decks written on the fly (benchmarks and tests share them).

:func:`write_bimaterial_deck`: a clamped tet10 bar of two elastoviscoplastic materials
(``gen_evp``), heated from a uniform 100 °C at t = 0 with ``ref_temperature 20.``, the
temperature given by ``function t; file X.node 1`` lines — the kind of deck on which a
loose reading of ``*ratio`` and of the thermal strain's reference misled nirom (see
``docs/zset.md``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

DECK = """\
****calcul
 ***mesh **file bar.geof
 ***resolution newton
  **cycles 1
   *ratio {ratio}
   *time 20.
   *increment {increments}
 ***bc
  **impose_nodal_dof
   xmin U1 0.
   xmin U2 0.
   xmin U3 0.
 ***parameter
  **file temperature
   *node
   *rec_size {n}
   *cycle_conversion 0. 20. 20.
   function 0.0+cycle*20.; file t0.node 1
   function 10.0+cycle*20.; file t1.node 1
   function 20.0+cycle*20.; file t2.node 1
 ***material
  **elset steel
   *file steel.mat
  **elset alloy
   *file alloy.mat
****return
"""

STEEL = """\
***material
   *integration theta_method_a 1. 1.e-9 200
***behavior gen_evp
 **elasticity isotropic
   young temperature
     2.0e5   0.
     1.5e5   1000.
   poisson 0.3
 **thermal_strain isotropic
   alpha 1.2e-5
   ref_temperature 20.
 **potential gen_evp evr
   *criterion mises
   *flow norton
     K 300.
     n 8.
   *kinematic nonlinear
     C 5.e4
     D 300.
   *isotropic constant
     R0 60.
***return
"""

ALLOY = """\
***material
   *integration theta_method_a 1. 1.e-9 200
***behavior gen_evp
 **elasticity isotropic
   young 1.1e5
   poisson 0.34
 **thermal_strain isotropic
   alpha temperature
     0.9e-5 0.
     1.1e-5 1000.
   ref_temperature 20.
 **potential gen_evp evr
   *criterion mises
   *flow norton
     K 400.
     n 10.
   *isotropic constant
     R0 120.
***return
"""


def write_bimaterial_deck(folder: Path, ratio: str = "1.e-2", divisions=(4, 2, 2), increments: int = 8) -> Path:
    """A clamped tet10 bar of two elastoviscoplastic materials, heated from a uniform 100 °C
    (``ref_temperature`` 20): the kind of deck whose ``*ratio 1.e-2`` misled nirom."""
    from io_adapters.mesh import Mesh
    from io_adapters.zset.geof import write_geof
    from rom.fem.meshes import box_mesh

    mesh = box_mesh("tetra10", tuple(divisions), (30.0, 10.0, 10.0))
    centroids = mesh.points[mesh.cells["tetra10"]].mean(axis=1)
    mesh = Mesh(points=mesh.points, cells=mesh.cells, node_sets=mesh.node_sets,
                cell_sets={"steel": np.flatnonzero(centroids[:, 0] < 15.0),
                           "alloy": np.flatnonzero(centroids[:, 0] >= 15.0)})
    write_geof(mesh, folder / "bar.geof")
    x, y, z = (mesh.points / [30.0, 10.0, 10.0]).T
    for name, values in (("t0", np.full(mesh.n_nodes, 100.0)), ("t1", 100.0 + 450.0 * x * x + 80.0 * z),
                         ("t2", 100.0 + 600.0 * x * (1 - y / 2) + 150.0 * z * z)):
        values.astype(">f4").tofile(folder / f"{name}.node")
    (folder / "steel.mat").write_text(STEEL)
    (folder / "alloy.mat").write_text(ALLOY)
    (folder / "bar.inp").write_text(DECK.format(ratio=ratio, n=mesh.n_nodes, increments=increments))
    return folder / "bar.inp"
