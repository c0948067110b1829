"""Submodels (io_adapters.submodel): a zone cut from a global mesh, driven by the global solution."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from io_adapters import (
    Centrifugal,
    ConfigError,
    Dirichlet,
    InputError,
    MeshMismatchError,
    Pressure,
    Problem,
    Simulation,
    Temperature,
    TimeTable,
    read_problem,
)
from io_adapters.problem import facet_count
from io_adapters.problem_writer import write_problem
from io_adapters.quadrature_rules import point_rows_of_cells
from io_adapters.submodel import BOUNDARY, extract, submodel_problem, transfer
from rom import fem
from rom.fem.topology import boundary_facets
from rom.hifi import solve

THERMO_ELASTIC = {"behavior": "linear_elastic", "density": 8e-9, "elasticity": {"young": 2e5, "poisson": 0.3},
                  "thermal_strain": {"alpha": 1.2e-5, "ref_temperature": 20.0}}
BOX = ([2.0, 0.0, 0.0], [4.0, 2.0, 1.0])


def bar(cell_type="hexahedron20"):
    return fem.box_mesh(cell_type, (6, 2, 2), (6.0, 2.0, 1.0))


def global_problem(mesh) -> Problem:
    """A bar clamped at xmin, pulled at xmax, a per-facet pressure on ymax (which crosses the zone),
    spun and heated non-uniformly: elastic, so every load is reproduced exactly by the submodel."""
    ramp = TimeTable([0.0, 1.0], [0.0, 1.0])
    x = mesh.points[:, 0]
    n_facets = facet_count(mesh, "ymax")
    return Problem(
        mesh=mesh, materials={"ALL_ELEMENT": THERMO_ELASTIC},
        dirichlet=[Dirichlet("xmin", c, 0.0) for c in range(3)] + [Dirichlet("xmax", 0, 0.01, "ramp")],
        pressures=[Pressure("ymax", -20.0 - np.arange(n_facets, dtype=float), "ramp")],
        centrifugal=[Centrifugal(None, (0.0, 0.0, -50.0), (1.0, 0.0, 0.0), 300.0, "ramp")],
        temperature=Temperature.from_base_max(np.full(mesh.n_nodes, 20.0), 20.0 + 40.0 * x * (6.0 - x), ramp),
        tables={"ramp": ramp}, times=np.linspace(0.0, 1.0, 4), source="global bar")


# ============================================================== the cut
@pytest.mark.parametrize("cell_type", ["hexahedron20", "tetra10", "wedge"])
def test_a_box_zone_its_cut_and_its_maps(cell_type):
    mesh = bar(cell_type)
    sub = extract(mesh, box=BOX)
    x = mesh.points[:, 0]
    inside = np.all((mesh.points >= np.array(BOX[0]) - 1e-12) & (mesh.points <= np.array(BOX[1]) + 1e-12), axis=1)
    np.testing.assert_array_equal(sub.nodes, np.flatnonzero(inside))
    np.testing.assert_array_equal(sub.mesh.point_ids, sub.nodes)
    np.testing.assert_array_equal(sub.mesh.points, mesh.points[sub.nodes])
    # the cut: the nodes on the planes x = 2 and x = 4, nothing of the free surface
    np.testing.assert_array_equal(sub.boundary_global_nodes, np.flatnonzero(inside & ((x == 2.0) | (x == 4.0))))
    assert sub.boundary == BOUNDARY and BOUNDARY in sub.mesh.face_sets
    # its facets are facets of the zone, oriented out of it
    outward = {tuple(f) for t, conn in boundary_facets(sub.mesh.cells).items() for f in conn}
    cut = [tuple(f) for conn in sub.mesh.face_sets[BOUNDARY].values() for f in conn]
    assert cut and set(cut) <= outward
    # maps both ways
    assert np.array_equal(sub.node_map[sub.nodes], np.arange(len(sub.nodes)))
    assert (sub.node_map >= 0).sum() == len(sub.nodes)
    assert np.array_equal(sub.cell_map[sub.cells], np.arange(len(sub.cells)))
    # the global sets, restricted
    np.testing.assert_array_equal(sub.nodes[sub.mesh.node_sets["ymax"]],
                                  np.intersect1d(mesh.node_sets["ymax"], sub.nodes))
    assert len(sub.mesh.node_sets["xmin"]) == 0
    np.testing.assert_array_equal(sub.restrict(np.arange(3 * mesh.n_nodes).reshape(-1, 3))[:, 0], 3 * sub.nodes)


def test_a_cell_set_zone_and_its_outer_surface():
    mesh = bar()
    left = np.flatnonzero(np.all(np.isin(np.concatenate(list(mesh.cells.values())),
                                         np.flatnonzero(mesh.points[:, 0] <= 2.0)), axis=1))
    mesh = dataclasses.replace(mesh, cell_sets={"left": left})
    cut = extract(mesh, cell_set="left", boundary="cut")
    assert np.all(mesh.points[cut.boundary_global_nodes, 0] == 2.0)
    surface = extract(mesh, cell_set="left", outer_surface=True)
    on_surface = {n for conn in boundary_facets(surface.mesh.cells).values() for n in conn.ravel()}
    np.testing.assert_array_equal(surface.boundary_nodes, sorted(on_surface))     # the whole surface of the zone
    same = extract(mesh, cells=left)
    np.testing.assert_array_equal(same.boundary_nodes, extract(mesh, cell_set="left").boundary_nodes)


def test_bad_zones_are_refused():
    mesh = bar()
    with pytest.raises(ConfigError, match="give exactly one of cell_set, cells or box, found none"):
        extract(mesh)
    with pytest.raises(ConfigError, match=r"give exactly one of cell_set, cells or box, found \['cell_set', 'box'\]"):
        extract(mesh, cell_set="a", box=BOX)
    with pytest.raises(ConfigError, match=r"cell set 'core' is not in the mesh"):
        extract(mesh, cell_set="core")
    with pytest.raises(ConfigError, match=r"the zone \(box .*\) holds no cell"):
        extract(mesh, box=([10.0, 0, 0], [11.0, 1, 1]))
    with pytest.raises(ConfigError, match=r"holds every cell of the mesh: it has no cut"):
        extract(mesh, box=([-1.0, -1, -1], [7.0, 3, 3]))
    with pytest.raises(ConfigError, match=r"the mesh already has a set named 'xmax'"):
        extract(mesh, box=BOX, boundary="xmax")
    with pytest.raises(ConfigError, match=r"lower ≤ upper"):
        extract(mesh, box=([4.0, 0, 0], [2.0, 1, 1]))
    with pytest.raises(ConfigError, match=r"cell indices must lie in \[0, 24\), found 24"):
        extract(mesh, cells=[0, 24])
    pyramids = dataclasses.replace(mesh, cells={"pyramid13": np.zeros((1, 13), dtype=np.int64)}, cell_sets={},
                                   face_sets={})
    with pytest.raises(InputError, match=r"cells of type 'pyramid13' are not supported"):
        extract(pyramids, cells=[0], outer_surface=True)


# ============================================================ the transfer
def test_a_box_submodel_driven_by_the_global_solution_reproduces_it(tmp_path):
    mesh = bar()
    problem = global_problem(mesh)
    whole = solve(problem, linear_solver="scipy")
    sub = extract(mesh, box=BOX)
    imposed = transfer(whole, sub)
    assert imposed.is_history and imposed.node_set == BOUNDARY
    np.testing.assert_array_equal(imposed.times, whole.times)
    np.testing.assert_array_equal(imposed.values, whole.fields["U"].values[:, sub.boundary_global_nodes])

    local = submodel_problem(problem, sub, imposed)
    assert local.imposed_fields == (imposed,) and local.dirichlet == ()       # xmin, xmax lie outside
    (pressure,) = local.pressures                            # ymax keeps the facets in the box, with their values
    assert 0 < len(pressure.values) < len(problem.pressures[0].values)
    assert set(pressure.values) <= set(problem.pressures[0].values)
    np.testing.assert_array_equal(local.temperature.fields, problem.temperature.fields[:, sub.nodes])

    part = solve(local, linear_solver="scipy")
    U = whole.fields["U"].values
    scale = np.abs(U).max()
    np.testing.assert_allclose(part.fields["U"].values, U[:, sub.nodes], rtol=0, atol=1e-11 * scale)
    rows = point_rows_of_cells(mesh.cells, "default", sub.cells)
    sig = whole.fields["sig"].values[:, rows]
    np.testing.assert_allclose(part.fields["sig"].values, sig, rtol=0, atol=1e-9 * np.abs(sig).max())
    assert np.abs(U[-1, sub.nodes, 1]).max() > 1e-3 * scale            # the zone is bent, not just pulled

    # written as a case for an external solver, read back, solved again: the same
    again = read_problem(write_problem(local, tmp_path / "submodel.toml"))
    assert again == local
    np.testing.assert_array_equal(solve(again, linear_solver="scipy").fields["U"].values, part.fields["U"].values)


def test_a_submodel_keeps_the_global_conditions_inside_its_zone():
    mesh = bar()
    problem = global_problem(mesh)
    sub = extract(mesh, box=([0.0, 0.0, 0.0], [2.0, 2.0, 1.0]))        # holds the clamped end
    imposed = transfer(solve(problem, linear_solver="scipy"), sub, steps=slice(0, 3), components=(0, 1))
    assert imposed.components == (0, 1) and len(imposed.times) == 3
    local = submodel_problem(problem, sub, imposed, times=problem.times[:3])
    assert [(bc.node_set, bc.component) for bc in local.dirichlet] == [("xmin", 0), ("xmin", 1), ("xmin", 2)]
    assert local.imposed_fields[-1] is imposed                       # last: it wins on the dofs it shares
    assert local.materials == problem.materials and local.centrifugal == problem.centrifugal


def test_a_transfer_from_another_mesh_is_refused():
    mesh = bar()
    sub = extract(mesh, box=BOX)
    other = fem.box_mesh("hexahedron20", (3, 2, 2), (6.0, 2.0, 1.0))
    sim = Simulation(other, np.zeros(1), {}, provenance={"file": "other.h5"})
    with pytest.raises(MeshMismatchError, match=r"other.h5: its mesh \(\d+ nodes, 12 cells\) is not the one the "
                                                r"submodel was cut from"):
        transfer(sim, sub)
    moved = dataclasses.replace(mesh, points=mesh.points * 1.5)
    with pytest.raises(MeshMismatchError, match=r"the coordinates of the submodel's nodes differ"):
        transfer(Simulation(moved, np.zeros(1), {}, provenance={"file": "moved.h5"}), sub)
    with pytest.raises(InputError, match=r"no field 'U'"):
        transfer(Simulation(mesh, np.zeros(1), {}, provenance={"file": "empty.h5"}), sub)
