"""Write a synthetic Zset result (``.geof`` + ``.ut`` + ``.node`` + ``.integ``) of any size.

The layout follows Zset's (see ``ZSET_FORMAT.md`` §2): big-endian float32,
``.node`` record-major then variable then node, ``.integ`` record-major then
element then variable then integration point. Values are smooth functions of
position and time so that a reader mistake shows up as a wrong value.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

NODE_VARIABLES = ["U1", "U2", "U3", "RU1", "RU2", "RU3"]
INTEG_VARIABLES = [f"{name}{c}" for name in ("eto", "sig") for c in ("11", "22", "33", "12", "23", "31")] + ["evrcum"]


def hex_grid(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes (n+1)^3 of the unit cube and its n^3 c3d8 elements (1-based Zset ids)."""
    xs = np.linspace(0.0, 1.0, n + 1)
    z, y, x = np.meshgrid(xs, xs, xs, indexing="ij")
    points = np.column_stack([x.ravel(), y.ravel(), z.ravel()])
    k, j, i = np.meshgrid(np.arange(n), np.arange(n), np.arange(n), indexing="ij")
    i, j, k = i.ravel(), j.ravel(), k.ravel()
    m = n + 1

    def node(a, b, c):
        return 1 + a + m * b + m * m * c

    conn = np.column_stack([
        node(i, j, k), node(i + 1, j, k), node(i + 1, j + 1, k), node(i, j + 1, k),
        node(i, j, k + 1), node(i + 1, j, k + 1), node(i + 1, j + 1, k + 1), node(i, j + 1, k + 1),
    ])
    return points, conn


def write_geof(path: Path, points: np.ndarray, conn: np.ndarray) -> None:
    ids = np.arange(1, len(points) + 1)
    with open(path, "w") as f:
        f.write(f"***geometry\n**node\n{len(points)} 3\n")
        np.savetxt(f, np.column_stack([ids, points]), fmt=["%d", "%.17e", "%.17e", "%.17e"])
        f.write(f"**element\n{len(conn)}\n")
        for start in range(0, len(conn), 200_000):
            block = conn[start : start + 200_000]
            lines = np.column_stack([np.arange(start + 1, start + 1 + len(block)), block])
            f.write("\n".join(f"{r[0]} c3d8 " + " ".join(map(str, r[1:])) for r in lines.tolist()))
            f.write("\n")
        f.write("***group\n**nset x0\n")
        f.write(" ".join(map(str, ids[points[:, 0] == 0.0])) + "\n")
        f.write("***return\n")


def integ_record(points: np.ndarray, conn: np.ndarray, time: float) -> np.ndarray:
    """One time step of ``.integ`` values, shape (n_elements, n_variables, 8), float32."""
    centres = points[conn - 1].mean(axis=1)                     # (Ne, 3)
    scale = (np.arange(len(INTEG_VARIABLES)) + 1.0)[None, :, None]
    ip = np.arange(8, dtype=np.float64)[None, None, :]
    values = (centres[:, 0:1, None] + 2 * centres[:, 1:2, None] - centres[:, 2:3, None]) * scale * time + 1e-3 * ip
    return values.astype(">f4")


def node_record(points: np.ndarray, time: float) -> np.ndarray:
    """One time step of ``.node`` values, shape (n_variables, n_nodes), float32."""
    scale = (np.arange(len(NODE_VARIABLES)) + 1.0)[:, None]
    return (scale * time * (points[:, 0] - 0.5 * points[:, 1] + 0.25 * points[:, 2])[None, :]).astype(">f4")


def write_result(folder: Path, *, n: int, n_steps: int, stem: str = "synthetic") -> Path:
    """Write ``stem.geof/.ut/.node/.integ`` into ``folder``; return the ``.ut`` path.

    Sizes: ``.integ`` holds ``n_steps * n**3 * 8 * 13 * 4`` bytes.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    points, conn = hex_grid(n)
    write_geof(folder / f"{stem}.geof", points, conn)
    times = np.linspace(0.0, 1.0, n_steps)
    with open(folder / f"{stem}.node", "wb") as node_file, open(folder / f"{stem}.integ", "wb") as integ_file:
        for t in times:
            node_record(points, t).tofile(node_file)
            integ_record(points, conn, t).tofile(integ_file)
    lines = [
        f"**meshfile {stem}.geof",
        "**node " + " ".join(NODE_VARIABLES),
        "**integ " + " ".join(INTEG_VARIABLES),
        "**element",
    ]
    lines += [f"{k + 1} 1 1 {k} {t:.15e}" for k, t in enumerate(times)]
    (folder / f"{stem}.ut").write_text("\n".join(lines) + "\n")
    return folder / f"{stem}.ut"


def steps_for_size(n: int, gigabytes: float) -> int:
    """Number of time steps that make the ``.integ`` file at least this large."""
    per_step = n**3 * 8 * len(INTEG_VARIABLES) * 4
    return max(2, int(np.ceil(gigabytes * 1e9 / per_step)))
