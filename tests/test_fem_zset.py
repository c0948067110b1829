"""``rom.fem`` against Zset's own results (node order, IP order, weights, shear).

The strain ``B @ U`` computed with the ``"zset"`` rule from Zset's nodal
displacements must equal Zset's ``eto`` at Zset's integration points, and
``Bᵀ (w σ)`` with Zset's stresses must equal Zset's internal force ``RU``
(ZSET_FORMAT.md §2.2). Both are checked twice: from an independent raw read of the
binary files (``>f4``, offsets of §2.2, a small ``.geof`` parser with the §1.2
permutations), and through :func:`io_adapters.zset.read`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from io_adapters.mesh import Mesh
from rom import fem

_CANDIDATES = [Path(__file__).parent / "data" / "zset", Path("/work/shared/data/zset_ansys_muscat")]
DATA = next((p for p in _CANDIDATES if (p / "UtExample" / "cube.ut").exists()), None)
pytestmark = pytest.mark.skipif(DATA is None, reason="Zset example files not found")

#: Zset type → (meshio type, p) with vtk_conn[k] = zset_conn[p[k]] (ZSET_FORMAT.md §1.2).
PERMUTATIONS = {
    "c3d4": ("tetra", [0, 1, 2, 3]),
    "c3d10": ("tetra10", [0, 1, 2, 9, 3, 4, 5, 6, 7, 8]),
    "c3d6": ("wedge", [0, 1, 2, 3, 4, 5]),
    "c3d15": ("wedge15", [0, 2, 4, 9, 11, 13, 1, 3, 5, 10, 12, 14, 6, 7, 8]),
    "c3d8": ("hexahedron", list(range(8))),
    "c3d20": ("hexahedron20", [0, 2, 4, 6, 12, 14, 16, 18, 1, 3, 5, 7, 13, 15, 17, 19, 8, 9, 10, 11]),
    "c2d3": ("triangle", [0, 1, 2]),
    "c2d4": ("quad", [0, 1, 2, 3]),
    "c2d6": ("triangle6", [0, 2, 4, 1, 3, 5]),
    "c2d8": ("quad8", [0, 2, 4, 6, 1, 3, 5, 7]),
}


def _read_geof(path: Path, skip=("c3d5",)) -> tuple[Mesh, list[str]]:
    """Nodes and elements of a ``.geof`` (positions, not ids), in VTK order; also the Zset types."""
    lines = [line.split("%")[0].split() for line in path.read_text().splitlines()]
    start = next(i for i, l in enumerate(lines) if l and l[0] == "**node")
    n_nodes, dim = int(lines[start + 1][0]), int(lines[start + 1][1])
    rows = lines[start + 2:start + 2 + n_nodes]
    position = {int(r[0]): k for k, r in enumerate(rows)}
    points = np.array([[float(v) for v in r[1:]] for r in rows])
    start = next(i for i, l in enumerate(lines) if l and l[0] == "**element")
    cells, types = {}, []
    for row in lines[start + 2:start + 2 + int(lines[start + 1][0])]:
        if row[1] in skip:
            continue
        cell_type, perm = PERMUTATIONS[row[1]]
        conn = [position[int(v)] for v in row[2:]]
        cells.setdefault(cell_type, []).append([conn[p] for p in perm])
        types.append(row[1])
    return Mesh(points=points, cells=cells, dim=dim), types


def _read_run(ut: Path):
    """Raw read of a homogeneous-IP-count run: mesh, U, RU (n_r, n, 3), eto, sig (n_r, n_points, 6)."""
    lines = [l for l in ut.read_text().splitlines() if l.strip()]
    mesh, _ = _read_geof(ut.parent / lines[0].split()[1])
    node_vars, integ_vars = lines[1].split()[1:], lines[2].split()[1:]
    n_records = len(lines) - 4
    n_ip = fem.quadrature_rule(mesh.cell_types[0], "zset").n_points
    node = np.fromfile(ut.with_suffix(".node"), ">f4").astype(float).reshape(n_records, len(node_vars), mesh.n_nodes)
    integ = np.fromfile(ut.with_suffix(".integ"), ">f4").astype(float)
    integ = integ.reshape(n_records, mesh.n_cells, len(integ_vars), n_ip)  # off(r,e,v,q), §2.2

    def ip_field(first: int) -> np.ndarray:
        return integ[:, :, first:first + 6, :].transpose(0, 1, 3, 2).reshape(n_records, -1, 6)

    eto = ip_field(integ_vars.index("eto11"))
    eto[:, :, 3:] *= 2.0  # Zset writes tensor shears
    sig = ip_field(integ_vars.index("sig11"))
    u = node[:, [node_vars.index(f"U{i}") for i in (1, 2, 3)]].transpose(0, 2, 1)
    ru = node[:, [node_vars.index(f"RU{i}") for i in (1, 2, 3)]].transpose(0, 2, 1)
    return mesh, u, ru, eto, sig


def _strain_error(mesh: Mesh, u: np.ndarray, eto: np.ndarray) -> tuple[float, float]:
    """Max relative (to max |eto| per step) and absolute strain errors over the steps with strain."""
    B, _ = fem.strain_operator(mesh, "zset")
    relative, absolute = 0.0, 0.0
    for step in range(len(u)):
        strain = (B @ u[step].ravel()).reshape(-1, 6)
        scale = np.abs(eto[step]).max()
        error = np.abs(strain - eto[step]).max()
        absolute = max(absolute, error)
        if scale > 0:
            relative = max(relative, error / scale)
        else:
            assert error == 0.0
    return relative, absolute


def _internal_force_error(mesh: Mesh, ru: np.ndarray, sig: np.ndarray, keep=None) -> float:
    B, w = fem.strain_operator(mesh, "zset")
    forces = fem.internal_forces(B, w, sig).reshape(len(sig), -1, 3)
    keep = np.ones(mesh.n_nodes, dtype=bool) if keep is None else keep
    scale = np.abs(ru).max(axis=(1, 2))
    error = np.abs(forces - ru)[:, keep].max(axis=(1, 2))
    return float(np.max(error[scale > 0] / scale[scale > 0]))


def test_strain_operator_reproduces_zset_eto_raw_read():
    mesh, u, ru, eto, sig = _read_run(DATA / "UtExample" / "cube.ut")
    assert mesh.cell_types == ("hexahedron",) and len(u) == 4
    relative, absolute = _strain_error(mesh, u, eto)
    assert relative <= 1e-6 and absolute <= 1e-8, (relative, absolute)  # float32 files: ~3e-7 observed
    assert relative <= 1e-4


def test_internal_forces_reproduce_zset_ru_raw_read():
    mesh, u, ru, eto, sig = _read_run(DATA / "UtExample" / "cube.ut")
    assert _internal_force_error(mesh, ru, sig) <= 1e-6  # ~5e-8 observed; the brief asks 1e-4


def test_other_point_orders_do_not_match():
    """The check is sharp: η- or ζ-fastest points or tensor shears break it."""
    mesh, u, ru, eto, sig = _read_run(DATA / "UtExample" / "cube.ut")
    B, _ = fem.strain_operator(mesh, "zset")
    strain = (B @ u[1].ravel()).reshape(mesh.n_cells, 8, 6)
    zeta_fastest = strain[:, [0, 4, 2, 6, 1, 5, 3, 7]].reshape(-1, 6)
    scale = np.abs(eto[1]).max()
    assert np.abs(zeta_fastest - eto[1]).max() > 1e-2 * scale
    tensor = strain.reshape(-1, 6) * [1, 1, 1, 0.5, 0.5, 0.5]
    assert np.abs(tensor - eto[1]).max() > 1e-2 * scale


@pytest.mark.parametrize("subdomain", [1, 2])
def test_parallel_subdomains_raw_read(subdomain):
    mesh, u, ru, eto, sig = _read_run(DATA / "UtParExample" / f"cube-00{subdomain}.ut")
    relative, absolute = _strain_error(mesh, u, eto)
    assert relative <= 1e-4 and absolute <= 1e-8, (relative, absolute)  # ~2e-5 / 4.4e-9 observed
    # RU at the interface (x = 0.5) is not this subdomain's internal force (ZSET_FORMAT.md §5, [U])
    interior = ~np.isclose(mesh.points[:, 0], 0.5)
    assert _internal_force_error(mesh, ru, sig, keep=interior) <= 1e-6


def _zset_reader():
    zset = pytest.importorskip("io_adapters.zset")
    if not hasattr(zset, "read"):
        pytest.skip("io_adapters.zset.read not available")
    return zset


def test_eto_and_ru_through_the_nirom_reader():
    zset = _zset_reader()
    sim = zset.read(DATA / "UtExample" / "cube.ut")
    assert sim.fields["eto"].rule == "zset"
    u, ru = sim.fields["U"].read(), sim.fields["RU"].read()
    eto, sig = sim.fields["eto"].read(), sim.fields["sig"].read()  # engineering shear already
    relative, absolute = _strain_error(sim.mesh, u, eto)
    assert relative <= 1e-6 and absolute <= 1e-8, (relative, absolute)
    assert _internal_force_error(sim.mesh, ru, sig) <= 1e-6
    raw_mesh, *_ = _read_run(DATA / "UtExample" / "cube.ut")
    np.testing.assert_array_equal(sim.mesh.cells["hexahedron"], raw_mesh.cells["hexahedron"])


def test_subdomains_through_the_nirom_reader():
    zset = _zset_reader()
    for part in zset.read_subdomains(DATA / "UtParExample" / "cube.cut"):
        u, eto = part.fields["U"].read(), part.fields["eto"].read()
        relative, absolute = _strain_error(part.mesh, u, eto)
        assert relative <= 1e-4 and absolute <= 1e-8, (relative, absolute)
        interior = ~np.isclose(part.mesh.points[:, 0], 0.5)
        assert _internal_force_error(part.mesh, part.fields["RU"].read(), part.fields["sig"].read(), interior) <= 1e-6


@pytest.mark.parametrize("name", ["multielements3D.geof", "multielements2D.geof", "cube.geof", "cube2.geof"])
def test_zset_meshes_have_positive_jacobians_and_volumes(name):
    """Every element type Zset wrote, permuted to VTK order, is positively oriented under all rules."""
    path = DATA / name
    if not path.exists():
        pytest.skip(f"{name} not found")
    mesh, types = _read_geof(path)
    volumes = {rule: fem.integration_weights(mesh, rule).sum() for rule in ("default", "zset", "zset-reduced", "high")}
    for rule, volume in volumes.items():
        assert volume == pytest.approx(volumes["high"], rel=1e-12), rule
    if name.startswith("cube"):
        assert volumes["high"] == pytest.approx(1.0, rel=1e-12)
    if name == "multielements3D.geof":  # pyramid (c3d5) left out; two unit elements of each other type
        assert {"c3d10", "c3d15", "c3d20", "c3d4", "c3d6", "c3d8"} == set(types)
        tetra, wedge, cube = 1 / 6, 1 / 2, 1.0
        assert volumes["high"] == pytest.approx(2 * (2 * tetra + 2 * wedge + 2 * cube), rel=1e-12)


def test_zset_mesh_through_the_nirom_reader_matches_the_raw_parse():
    zset = _zset_reader()
    mesh = zset.read_mesh(DATA / "multielements3D.geof")
    raw, _ = _read_geof(DATA / "multielements3D.geof")
    for cell_type, conn in raw.cells.items():
        np.testing.assert_array_equal(mesh.cells[cell_type], conn)
