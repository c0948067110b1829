"""Regenerate the binary files of this folder (big-endian float32, Zset's layout).

tcold.node / thot.node: one nodal temperature record each, over cube.geof's nodes
in file order; pressure.node: one value per facet of the face set x1, in listing
order (36 q8 facets). Run from anywhere: ``python make_data.py``.
"""

from pathlib import Path

import numpy as np

HERE = Path(__file__).parent


def main() -> None:
    from io_adapters.zset import read_mesh

    mesh = read_mesh(HERE / "cube.geof")
    x, z = mesh.points[:, 0], mesh.points[:, 2]
    (20.0 + 10.0 * x).astype(">f4").tofile(HERE / "tcold.node")
    (600.0 + 200.0 * z).astype(">f4").tofile(HERE / "thot.node")
    n_facets = sum(len(c) for c in mesh.face_sets["x1"].values())
    (-10.0 - np.arange(n_facets)).astype(">f4").tofile(HERE / "pressure.node")


if __name__ == "__main__":
    main()
