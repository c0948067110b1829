"""Imposed displacement fields (``io_adapters.problem.ImposedField``): per-node values on a node set.

The container and its checks, the TOML front end, the high-fidelity solver (against
the same problem written with one Dirichlet condition per node and dof, against the
closed form of an elastic bar, serial against 2 ranks) and the reduced model's
lifting (a model trained with imposed fields answers a new one on the same set).
"""

from __future__ import annotations

import dataclasses

import h5py
import numpy as np
import pytest

from io_adapters import ConfigError, Dirichlet, ImposedField, InputError, Problem, TimeTable
from io_adapters.problem_toml import problem_from_dict
from io_adapters.zset import write_geof
from rom import fem
from rom.hifi import solve
from rom.hifi.discretization import build as discretize
from rom.lifting import ImposedDisplacements
from rom.reductor import constrained_sets

J2 = {"behavior": "j2_plasticity", "elasticity": {"young": 2e5, "poisson": 0.3},
      "yield_stress": 200.0, "isotropic": {"type": "linear", "H": 1e4}}
ELASTIC = {"behavior": "linear_elastic", "elasticity": {"young": 2e5, "poisson": 0.3}}


def bar_mesh(cell_type="hexahedron20", divisions=(4, 2, 2)):
    return fem.box_mesh(cell_type, divisions, (4.0, 1.0, 1.0))


def end_field(mesh, amplitude=0.02):
    """A smooth, non-uniform (n_xmax_nodes, 3) field on the bar's end ``xmax``."""
    y, z = mesh.points[mesh.node_sets["xmax"], 1:].T
    return amplitude * np.column_stack([1.0 + 0.5 * y - 0.3 * z, 0.4 * y * z, -0.2 + 0.3 * y ** 2])


def relative(a, b) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


# =================================================================== the container
def test_the_two_forms_evaluate_as_documented():
    rng = np.random.default_rng(0)
    U = rng.normal(size=(2, 5, 3))
    c1, c2 = TimeTable([0.0, 1.0], [0.0, 2.0]), TimeTable([0.0, 2.0], [1.0, -1.0])
    records = ImposedField.from_records("s", U, (c1, c2), components=(2, 0))
    assert records.components == (0, 2) and not records.is_history and records.n_nodes == 5
    np.testing.assert_allclose(records.at(0.5), c1(0.5) * U[0] + c2(0.5) * U[1], rtol=1e-15)
    np.testing.assert_allclose(records.at(0.5, [4, 1]), records.at(0.5)[[4, 1]], rtol=1e-15)

    times = np.array([0.0, 1.0, 3.0])
    history = ImposedField.from_history("s", times, rng.normal(size=(3, 5, 3)))
    for k, t in enumerate(times):                      # the snapshots exactly at their times
        assert np.array_equal(history.at(t), history.values[k])
    np.testing.assert_allclose(history.at(2.5), 0.25 * history.values[1] + 0.75 * history.values[2], rtol=1e-14)
    assert np.array_equal(history.at(-1.0), history.values[0]) and np.array_equal(history.at(9.0), history.values[2])
    np.testing.assert_allclose(history.coefficients(0.25), [0.75, 0.25, 0.0])
    one = ImposedField.from_history("s", [2.0], U[:1])     # a single snapshot: constant
    assert np.array_equal(one.at(0.0), U[0]) and np.array_equal(one.at(7.0), U[0])


def test_equality_ignores_the_source_only():
    U = np.ones((4, 3))
    a = ImposedField.from_history("s", [0.0, 1.0], np.stack([0 * U, U]), source="a.h5:x")
    b = ImposedField.from_history("s", [0.0, 1.0], np.stack([0 * U, U]), source="b.npy")
    assert a == b
    assert a != ImposedField.from_history("s", [0.0, 1.0], np.stack([0 * U, 2 * U]))
    assert a != ImposedField.from_history("s", [0.0, 1.0], np.stack([0 * U, U]), components=(0, 1))
    assert a != ImposedField.from_records("s", np.stack([0 * U, U]), (TimeTable.constant(), TimeTable.constant()))
    assert a.values.flags.writeable is False


@pytest.mark.parametrize("arguments, message", [
    (dict(times=[0.0, 1.0], values=np.zeros((2, 4, 2))),
     r"values must have shape \(n_records, n_set_nodes, 3\) \(or \(n_set_nodes, 3\) for one record\), found "
     r"\(2, 4, 2\)"),
    (dict(times=[0.0, 1.0], values=np.where(np.arange(24).reshape(2, 4, 3) == 17, np.nan, 0.0)),
     r"NaN at time 1, node row 1, component 2"),
    (dict(values=np.full((1, 4, 3), np.inf), tables=(TimeTable.constant(),)),
     r"an infinite value at record 0, node row 0, component 0"),
    (dict(times=[0.0, 1.0, 2.0], values=np.zeros((2, 4, 3))), r"3 time\(s\) for 2 snapshot\(s\)"),
    (dict(times=[1.0, 1.0], values=np.zeros((2, 4, 3))), r"times must increase strictly: 1.0 is followed by 1.0"),
    (dict(values=np.zeros((2, 4, 3)), tables=(TimeTable.constant(),)), r"2 record\(s\) need as many TimeTable"),
    (dict(times=[0.0], values=np.zeros((1, 4, 3)), tables=(TimeTable.constant(),)),
     r"give tables \(records form\) or times \(space–time form\), not both"),
    (dict(times=[0.0], values=np.zeros((1, 4, 3)), components=(0, 3)), r"components must be distinct values among"),
    (dict(times=[0.0], values=np.zeros((1, 4, 3)), components=(1, 1)), r"components must be distinct values among"),
    (dict(times=[0.0], values=np.zeros((1, 4, 3)), components=()), r"components must be distinct values among"),
])
def test_bad_fields_are_refused_naming_the_field_and_its_file(arguments, message):
    with pytest.raises(ConfigError, match=r"imposed field on 'cut' \(cut.h5:u\): " + message):
        ImposedField("cut", **arguments, source="cut.h5:u")


def test_the_problem_checks_the_node_set_and_the_rows():
    mesh = bar_mesh()
    n = len(mesh.node_sets["xmax"])
    base = dict(mesh=mesh, materials={"ALL_ELEMENT": ELASTIC}, times=[0.0, 1.0], source="case.toml")
    good = ImposedField.from_history("xmax", [0.0, 1.0], np.zeros((2, n, 3)))
    assert Problem(**base, imposed_fields=[good]).imposed_fields == (good,)
    with pytest.raises(ConfigError, match=r"case.toml: imposed_fields\[0\] \(node set 'top', from f.h5:v\): node "
                                          r"set 'top' is not in the mesh"):
        Problem(**base, imposed_fields=[ImposedField.from_history("top", [0.0], np.zeros((1, n, 3)), source="f.h5:v")])
    with pytest.raises(ConfigError, match=rf"imposed_fields\[0\] \(node set 'xmax', from f.h5:v\): the values have "
                                          rf"{n - 1} node rows, the node set has {n} nodes"):
        Problem(**base, imposed_fields=[ImposedField.from_history("xmax", [0.0], np.zeros((1, n - 1, 3)),
                                                                  source="f.h5:v")])
    with pytest.raises(ConfigError, match=r"imposed_fields\[0\] must be an ImposedField, found Dirichlet"):
        Problem(**base, imposed_fields=[Dirichlet("xmax", 0, 0.0)])


# ================================================================ the TOML front end
def test_toml_reads_both_forms_from_npy_and_hdf5(tmp_path):
    mesh = bar_mesh()
    nodes = mesh.node_sets["xmax"]
    U = end_field(mesh)
    history = np.stack([0.0 * U, U, -0.5 * U])
    np.save(tmp_path / "records.npy", np.stack([U, 2 * U]))
    with h5py.File(tmp_path / "cut.h5", "w") as f:
        f["cut/values"] = history[:, ::-1]                # rows in reverse node order …
        f["cut/times"] = [0.0, 1.0, 2.0]
        f["cut/nodes"] = nodes[::-1]                      # … which the file says
    write_geof(mesh, tmp_path / "bar.geof")
    d = {"mesh": "bar.geof", "time": {"steps": [0.0, 1.0, 2.0]},
         "materials": {"ALL_ELEMENT": ELASTIC},
         "tables": {"c1": {"time": [0.0, 2.0], "value": [0.0, 1.0]}},
         "imposed_field": [
             {"node_set": "xmax", "components": ["U1", 2], "file": "cut.h5", "dataset": "cut/values",
              "times": {"file": "cut.h5", "dataset": "cut/times"}, "nodes": {"file": "cut.h5", "dataset": "cut/nodes"}},
             {"node_set": "xmax", "components": 1,
              "fields": [{"file": "records.npy", "record": 1, "table": "c1"},
                         {"file": "records.npy", "record": 2, "table": {"time": [0.0, 1.0], "value": [1.0, 1.0]}}]}]}
    problem = problem_from_dict(d, tmp_path, source="case.toml")
    first, second = problem.imposed_fields
    assert first == ImposedField.from_history("xmax", [0.0, 1.0, 2.0], history, components=(0, 2))
    assert first.source == f"{tmp_path / 'cut.h5'}:cut/values"
    assert second == ImposedField.from_records("xmax", np.stack([U, 2 * U]),
                                               (TimeTable([0.0, 2.0], [0.0, 1.0]), TimeTable([0.0, 1.0], [1.0, 1.0])),
                                               components=(1,))
    np.testing.assert_allclose(second.at(1.0), 0.5 * U + 2 * U)


def replace(f, name, values):
    del f[name]
    f[name] = values


@pytest.mark.parametrize("change, message", [
    (lambda f: replace(f, "cut/values", np.zeros((3, 5, 3))),
     r"case.toml: \[\[imposed_field\]\] 1 \(node set 'xmax'\): .*cut.h5:cut/values holds an array of shape "
     r"\(3, 5, 3\), expected \(n_times, 21, 3\): one row per node of the set"),
    (lambda f: f["cut/values"].__setitem__((1, 4, 2), np.nan),
     r"case.toml: \[\[imposed_field\]\] 1 \(node set 'xmax'\): imposed field on 'xmax' \(.*cut.h5:cut/values\): "
     r"NaN at time 1, node row 4, component 2"),
    (lambda f: replace(f, "cut/nodes", np.arange(21)),
     r"case.toml: \[\[imposed_field\]\] 1 \(node set 'xmax'\): the nodes of .*cut.h5:cut/nodes do not match node "
     r"set 'xmax': \d+ node\(s\) outside node set 'xmax' \(first: node 0\); \d+ node\(s\) of the set missing"),
    (lambda f: replace(f, "cut/times", [0.0, 1.0]),
     r"2 time\(s\) for the 3 snapshot\(s\) of .*cut.h5:cut/values"),
    (lambda f: f.__delitem__("cut/values"),
     r"case.toml: \[\[imposed_field\]\] 1 \(node set 'xmax'\): .*cut.h5 has no dataset 'cut/values' "
     r"\(datasets: cut/nodes, cut/times\)"),
])
def test_bad_imposed_field_files_are_refused_naming_the_field_and_the_file(tmp_path, change, message):
    mesh = bar_mesh()
    write_geof(mesh, tmp_path / "bar.geof")
    with h5py.File(tmp_path / "cut.h5", "w") as f:
        f["cut/values"] = np.zeros((3, 21, 3))
        f["cut/times"] = [0.0, 1.0, 2.0]
        f["cut/nodes"] = mesh.node_sets["xmax"]
        change(f)
    d = {"mesh": "bar.geof", "time": {"steps": [0.0, 1.0]}, "materials": {"ALL_ELEMENT": ELASTIC},
         "imposed_field": [{"node_set": "xmax", "file": "cut.h5", "dataset": "cut/values",
                            "times": {"file": "cut.h5", "dataset": "cut/times"},
                            "nodes": {"file": "cut.h5", "dataset": "cut/nodes"}}]}
    with pytest.raises(ConfigError, match=message):
        problem_from_dict(d, tmp_path, source="case.toml")


def test_toml_entry_errors(tmp_path):
    mesh = bar_mesh()
    write_geof(mesh, tmp_path / "bar.geof")
    np.save(tmp_path / "u.npy", np.zeros((2, 21, 3)))
    base = {"mesh": "bar.geof", "time": {"steps": [0.0, 1.0]}, "materials": {"ALL_ELEMENT": ELASTIC}}

    def refused(item, message):
        with pytest.raises(ConfigError, match=message):
            problem_from_dict({**base, "imposed_field": [item]}, tmp_path, source="case.toml")

    refused({"node_set": "top", "file": "u.npy", "times": [0.0, 1.0]}, r"node set 'top' is not in the mesh")
    refused({"node_set": "xmax", "file": "u.npy"}, r"a space–time history \('file'\) needs its 'times'")
    refused({"node_set": "xmax", "times": [0.0]}, r"needs 'file' .* or 'fields' .*, found neither")
    refused({"node_set": "xmax", "file": "u.npy", "times": [0.0, 1.0], "components": [0, 4]},
            r"components are 0, 1, 2 or U1, U2, U3, found 4")
    refused({"node_set": "xmax", "file": "u.h5", "times": [0.0, 1.0]}, r"file .*u.h5 not found")
    refused({"node_set": "xmax", "fields": [{"file": "u.npy", "record": 2, "table": "nope"}]},
            r"table 'nope' is not defined")
    refused({"node_set": "xmax", "fields": [{"file": "u.npy", "record": 3, "table": {"time": [0], "value": [1]}}]},
            r"u.npy has 2 record\(s\), record 3 was asked for")
    refused({"node_set": "xmax", "file": "u.npy", "times": [0.0, 1.0], "colour": 1}, r"unknown key 'colour'")


def test_the_documented_toml_block_is_valid():
    import tomllib

    import io_adapters.problem_toml as module

    text = module.__doc__.split("names (both optional; the example below has the rest)::\n")[1].split("\nExample")[0]
    block = tomllib.loads("\n".join(line[4:] for line in text.splitlines()))
    assert set(block) == {"data", "imposed_field"}
    assert set(block["imposed_field"][0]) == {"node_set", "components", "file", "dataset", "times", "nodes"}


# ================================================================ high-fidelity solver
def test_dirichlet_values_and_the_lifting_apply_the_last_wins_rule():
    mesh = bar_mesh()
    U = end_field(mesh)
    field = ImposedField.from_records("xmax", U[None], (TimeTable([0.0, 1.0], [0.0, 2.0]),), components=(0, 2))
    problem = Problem(mesh=mesh, materials={"ALL_ELEMENT": ELASTIC},
                      dirichlet=[Dirichlet("xmin", c, 0.0) for c in range(3)]
                      + [Dirichlet("xmax", 0, 7.0), Dirichlet("xmax", 1, 5.0)],
                      imposed_fields=[field], times=[0.0, 1.0])
    disc = discretize(problem)
    values = disc.dirichlet_values(0.5).reshape(-1, 3)
    nodes = mesh.node_sets["xmax"]
    np.testing.assert_array_equal(values[nodes, 0], U[:, 0])      # the field, given after, wins on x …
    np.testing.assert_array_equal(values[nodes, 2], U[:, 2])
    np.testing.assert_array_equal(values[nodes, 1], 5.0)          # … and leaves y to the Dirichlet condition
    constrained = disc.constrained.reshape(-1, 3)
    assert constrained[nodes].all() and constrained[mesh.node_sets["xmin"]].all()
    assert constrained.sum() == 3 * len(np.union1d(nodes, mesh.node_sets["xmin"]))
    # the reduced model's lifting sets the same values, at any dofs
    np.testing.assert_array_equal(ImposedDisplacements.everywhere(problem).at(0.5), disc.dirichlet_values(0.5))
    dofs = np.array([3 * nodes[3] + 2, 3 * nodes[0] + 1, 3 * nodes[3], 5])
    np.testing.assert_array_equal(ImposedDisplacements(problem, dofs).at(0.5), disc.dirichlet_values(0.5)[dofs])
    assert constrained_sets(problem) == {"xmin": [0, 1, 2], "xmax": [0, 1, 2]}


def per_node_twin(problem: Problem) -> Problem:
    """The problem with each imposed field written as Dirichlet conditions, one node set per node,
    one table per node and component (space–time form) or the record's table (one record)."""
    mesh, dirichlet, tables = problem.mesh, list(problem.dirichlet), dict(problem.tables)
    node_sets = dict(mesh.node_sets)
    for k, field in enumerate(problem.imposed_fields):
        for i, node in enumerate(mesh.node_sets[field.node_set]):
            name = f"f{k}n{i}"
            node_sets[name] = [node]
            for c in field.components:
                if field.is_history:
                    tables[f"{name}c{c}"] = TimeTable(field.times, field.values[:, i, c])
                    dirichlet.append(Dirichlet(name, c, 1.0, f"{name}c{c}"))
                else:
                    (table,) = field.tables
                    tables[f"{name}c{c}"] = table
                    dirichlet.append(Dirichlet(name, c, float(field.values[0, i, c]), f"{name}c{c}"))
    return dataclasses.replace(problem, mesh=dataclasses.replace(mesh, node_sets=node_sets), dirichlet=dirichlet,
                               imposed_fields=(), tables=tables)


@pytest.mark.parametrize("form", ["records", "history"])
def test_an_imposed_field_solves_like_one_dirichlet_condition_per_node(form):
    """A plastic bar pulled, sheared and bent through a non-uniform field on its end."""
    mesh = bar_mesh()
    U = end_field(mesh, 0.03)
    if form == "records":
        field = ImposedField.from_records("xmax", U[None], (TimeTable([0.0, 1.0, 2.0], [0.0, 1.0, -0.5]),))
    else:
        field = ImposedField.from_history("xmax", [0.0, 0.7, 1.3, 2.0], np.stack([0 * U, U, 0.2 * U, -0.5 * U]),
                                          components=(0, 1))
    problem = Problem(mesh=mesh, materials={"ALL_ELEMENT": J2}, dirichlet=[Dirichlet("xmin", c, 0.0) for c in range(3)],
                      imposed_fields=[field], times=np.linspace(0.0, 2.0, 9))
    with_field = solve(problem, linear_solver="scipy")
    twin = solve(per_node_twin(problem), linear_solver="scipy")
    assert with_field.fields["epcum"].values.max() > 1e-3                 # it yields
    u, v = with_field.fields["U"].values, twin.fields["U"].values
    # the imposed values are the same bits; plastic Newton iterations amplify round-off (numpy's reductions
    # depend on memory alignment) to ~1e-12 of the displacement
    assert np.abs(u - v).max() <= 1e-10 * np.abs(v).max()
    np.testing.assert_allclose(with_field.fields["sig"].values, twin.fields["sig"].values, rtol=0,
                               atol=1e-9 * np.abs(twin.fields["sig"].values).max())
    nodes = mesh.node_sets["xmax"]
    for k, t in enumerate(with_field.times):
        np.testing.assert_allclose(u[k][nodes][:, field.components], field.at(t)[:, field.components], rtol=0,
                                   atol=1e-15)


def test_an_elastic_bar_under_a_linear_imposed_field_matches_the_closed_form():
    """Both ends of a bar carry the uniaxial field u = ε(t)(x, -ν y, -ν z): the sides are free, the
    solution is that linear field everywhere and σ = E ε e_x ⊗ e_x (any element reproduces it)."""
    young, nu = 2e5, 0.3
    mesh = bar_mesh("tetra10", (4, 2, 2))
    material = {"behavior": "linear_elastic", "elasticity": {"young": young, "poisson": nu}}
    exact = mesh.points * np.array([1.0, -nu, -nu])                     # ε = 1
    strain = TimeTable([0.0, 1.0, 2.0], [0.0, 1e-3, -2e-3])
    ends = [ImposedField.from_records(side, exact[mesh.node_sets[side]][None], (strain,)) for side in ("xmin", "xmax")]
    problem = Problem(mesh=mesh, materials={"ALL_ELEMENT": material}, imposed_fields=ends, times=[0.0, 1.0, 2.0])
    sim = solve(problem, linear_solver="scipy")
    for k, t in enumerate(sim.times):
        eps = strain(t)
        np.testing.assert_allclose(sim.fields["U"].values[k], eps * exact, rtol=0, atol=1e-13)
        sig = sim.fields["sig"].values[k]
        np.testing.assert_allclose(sig[:, 0], young * eps, rtol=0, atol=1e-8)
        np.testing.assert_allclose(sig[:, 1:], 0.0, rtol=0, atol=1e-8)


# ======================================================================= the ROM
def test_a_model_trained_with_imposed_fields_answers_a_new_field_on_the_same_set(tmp_path):
    """Trained on four shapes of the end's field (each on a ramp), the model meets a new space–time
    field mixing them with other time histories: the lifting takes any values on the trained set."""
    from rom.offline import build

    mesh = bar_mesh()
    y, z = mesh.points[mesh.node_sets["xmax"], 1:].T
    zero = np.zeros_like(y)
    shapes = [0.01 * np.column_stack([1.0 + zero, zero, zero]),
              0.01 * np.column_stack([y - 0.5, zero, zero]),
              0.01 * np.column_stack([zero, 1.0 + zero, 0.5 * (y - 0.5)]),
              0.01 * np.column_stack([zero, zero, (y - 0.5) ** 2 + (z - 0.5) ** 2])]
    ramp = TimeTable([0.0, 1.0], [0.0, 1.0])

    def problem(field, times=np.linspace(0.0, 1.0, 3)):
        return Problem(mesh=mesh, materials={"ALL_ELEMENT": ELASTIC},
                       dirichlet=[Dirichlet("xmin", c, 0.0) for c in range(3)], imposed_fields=[field], times=times)

    training = []
    for k, shape in enumerate(shapes):
        solve(problem(ImposedField.from_records("xmax", shape[None], (ramp,))), output=tmp_path / f"t{k}.h5",
              linear_solver="scipy")
        training.append(str(tmp_path / f"t{k}.h5"))
    first = problem(ImposedField.from_records("xmax", shapes[0][None], (ramp,)))
    model = build({"training": training, "problem": first,
                   "pod": {"U": {"tol": 1e-10}, "sig": {"tol": 1e-10}}, "ecm": {"tol": 1e-10},
                   "indicator": {"field": "sig"}})
    assert model.constrained == {"xmin": [0, 1, 2], "xmax": [0, 1, 2]}
    modes = model.subdomains[0].displacement_modes.reshape(model.n_modes, -1, 3)
    assert np.abs(modes[:, mesh.node_sets["xmax"]]).max() == 0.0          # the modes vanish on the field's set

    key_times = np.linspace(0.0, 1.0, 5)
    values = np.stack([0.3 * np.sin(3 * t) * shapes[0] - 0.7 * t * shapes[1] + 1.5 * t ** 2 * shapes[2]
                       + (0.2 - t) * shapes[3] for t in key_times])
    new = problem(ImposedField.from_history("xmax", key_times, values), times=np.linspace(0.0, 1.0, 7))
    reference = solve(new, linear_solver="scipy")
    result = model.solve(new)
    assert relative(result.fields["U"].values, reference.fields["U"].values) <= 1e-6
    assert relative(result.fields["sig"].values, reference.fields["sig"].values) <= 1e-6

    # a field on components the model did not train is refused, naming it
    partial = problem(ImposedField.from_history("xmax", key_times, values, components=(0, 1)))
    with pytest.raises(InputError, match=r"node set 'xmax' component 2 imposed, the problem leaves it free"):
        model.solve(partial)
    other = dataclasses.replace(new, imposed_fields=new.imposed_fields + (
        ImposedField.from_history("ymax", [0.0], np.zeros((1, len(mesh.node_sets["ymax"]), 3)), components=(1,)),))
    with pytest.raises(InputError, match=r"imposed field on node set 'ymax' component 1 was not in the training "
                                         r"problem"):
        model.solve(other)


# ======================================================================== MPI
@pytest.mark.mpi
def test_two_ranks_solve_an_imposed_field_as_one(comm, shared_tmp_path):
    mesh = bar_mesh()
    U = end_field(mesh, 0.03)
    field = ImposedField.from_history("xmax", [0.0, 1.0, 2.0], np.stack([0 * U, U, -0.5 * U]))
    x = mesh.points[mesh.node_sets["zmax"], 0]                      # a field across both ranks' nodes
    top = ImposedField.from_records("zmax", 1e-3 * np.column_stack([x, x, x ** 2])[None],
                                    (TimeTable([0.0, 2.0], [0.0, 1.0]),), components=(2,))
    problem = Problem(mesh=mesh, materials={"ALL_ELEMENT": J2}, dirichlet=[Dirichlet("xmin", c, 0.0) for c in range(3)],
                      imposed_fields=[field, top], times=np.linspace(0.0, 2.0, 7))
    parallel = solve(problem, comm=comm, output=shared_tmp_path / "parallel.h5", linear_solver="mumps")
    serial = solve(problem, linear_solver="mumps")
    u, v = serial.fields["U"].values, parallel.fields["U"].values
    assert serial.fields["epcum"].values.max() > 1e-3
    assert np.abs(u - v).max() <= 1e-10 * np.abs(u).max()
    np.testing.assert_allclose(parallel.fields["sig"].values, serial.fields["sig"].values, rtol=0,
                               atol=1e-8 * np.abs(serial.fields["sig"].values).max())
