"""Offline (POD, ECM, Gappy) → model file → online (reduced Newton, indicator, enrichment).

The reference is nirom's high-fidelity solver on the elastoviscoplastic cube of
``examples/cube`` (thermal, pressure and centrifugal loads).
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import h5py
import numpy as np
import pytest

import io_adapters
from examples.cube.cube import make_cube_problem
from io_adapters import ConfigError, InputError, MeshMismatchError
from rom.adaptive import Enrichment
from rom.hifi import solve
from rom.model import ReducedOrderModel
from rom.offline import build

POD = {"U": {"tol": 1e-6}, "evrcum": {"tol": 1e-6}, "evri": {"tol": 1e-6}, "al1": {"tol": 1e-6},
       "sig": {"tol": 1e-6}}


def relative(a, b) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.fixture(scope="module")
def training(tmp_path_factory):
    folder = tmp_path_factory.mktemp("offline")
    problem = make_cube_problem(3, n_cycles=1, steps_per_cycle=10)
    solve(problem, output=folder / "train.h5", linear_solver="scipy")
    return folder, problem


@pytest.fixture(scope="module")
def model(training):
    folder, problem = training
    config = {"training": [str(folder / "train.h5")], "problem": problem, "output": str(folder / "rom.h5"),
              "pod": POD, "ecm": {"tol": 1e-5}, "indicator": {"field": "evrcum", "tol": 1e-3},
              "checkpoint": str(folder / "ckpt")}
    built = build(config)
    built.save(folder / "rom.h5")
    return ReducedOrderModel.load(folder / "rom.h5")


def test_model_file_round_trip_and_summary(model, training):
    folder, problem = training
    sub = model.subdomains[0]
    assert model.n_modes >= 2 and model.n_subdomains == 1
    assert set(sub.duals) == {"evrcum", "evri", "al1", "sig"}
    assert np.all(sub.weights >= 0) and np.count_nonzero(sub.weights) >= 1
    assert sub.strain_operator.shape == (len(sub.points), 6, model.n_modes)
    # the reduced quadrature integrates the volume exactly
    from rom import fem

    _, w = fem.strain_operator(problem.mesh)
    assert sub.weights.sum() == pytest.approx(w.sum(), rel=1e-10)
    done = subprocess.run([sys.executable, "-m", "mpi_drivers.cli", "info", str(folder / "rom.h5")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"{model.n_modes} displacement modes, 1 subdomains" in done.stdout
    assert (folder / "rom_singular_values.png").exists()


def test_reproduction_of_the_training_run(model, training):
    folder, problem = training
    reference = io_adapters.read(folder / "train.h5")
    result = model.solve(problem)
    assert relative(result.fields["U"].values, reference.fields["U"].values) <= 1e-4
    assert relative(result.fields["evrcum"].values, reference.fields["evrcum"].values) <= 1e-3
    assert max(result.parameters["indicator"]) < 1e-3
    assert len(result.parameters["reduced_coordinates"][0]) == model.n_modes


def test_adaptive_enrichment_repairs_an_unseen_loading(model):
    harder = make_cube_problem(3, n_cycles=1, steps_per_cycle=10, hot=1100.0, pressure=90.0)
    reference = solve(harder, linear_solver="scipy")
    plain = model.solve(harder)
    assert relative(plain.fields["U"].values, reference.fields["U"].values) > 1e-2
    assert max(plain.parameters["indicator"]) > 1e-3          # the indicator sees it
    policy = Enrichment(tol=1e-3)
    adapted = model.solve(harder, adaptive=policy)
    assert 1 <= len(adapted.parameters["enrichments"]) <= 10
    assert relative(adapted.fields["U"].values, reference.fields["U"].values) <= 1e-3
    assert relative(adapted.fields["evrcum"].values, reference.fields["evrcum"].values) <= 1e-2
    assert max(adapted.parameters["indicator"]) <= 1e-3
    assert adapted.model.n_modes > model.n_modes                    # the enriched model comes back
    assert adapted.enrichments[0].step == adapted.parameters["enrichments"][0]["step"]
    assert adapted.hf_seconds > 0
    # the policy is frozen and counts per solve: a second solve with a tight budget enriches again, then stops
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.max_enrichments = 1
    again = model.solve(harder, adaptive=dataclasses.replace(policy, max_enrichments=1))
    assert len(again.parameters["enrichments"]) == 1


def test_enrichment_also_watches_the_stress_fit(model):
    """The plastic indicator is blind to the thermal-elastic error of step 1; the stress fit sees it."""
    from io_adapters import ConfigError

    harder = make_cube_problem(3, n_cycles=1, steps_per_cycle=10, hot=1100.0, pressure=90.0)
    reference = solve(harder, linear_solver="scipy").fields["U"].values
    unrepaired = model.solve(harder, adaptive=Enrichment(tol=np.inf))       # watches, never enriches
    plastic, stress = unrepaired.parameters["indicator"][1], unrepaired.parameters["watched"]["sig"][1]
    assert stress > 0.1 and stress > 100 * plastic     # step 1's thermal-elastic error: seen by the stress fit
    plastic_only = model.solve(harder, adaptive=Enrichment(tol=1e-3, watch=()))
    watching = model.solve(harder, adaptive=Enrichment(tol=1e-3))   # watch="auto": sig
    first = [e["step"] for e in watching.parameters["enrichments"]][0]
    assert first == 1
    errors = [relative(r.fields["U"].values, reference) for r in (plastic_only, watching)]
    assert errors[1] < 0.1 * errors[0]
    # the watched residuals are returned and reported beside the indicator
    assert list(watching.parameters["watched"]) == ["sig"] and plastic_only.parameters["watched"] == {}
    assert len(watching.parameters["watched"]["sig"]) == len(watching.times)
    from mpi_drivers.online import report

    text = report(watching, 1.0).splitlines()
    assert text[0].split() == ["step", "time", "newton", "indicator", "sig", "fit", "enriched"]
    assert text[1 + first].endswith("yes") and f"{watching.parameters['watched']['sig'][first]:.3e}" in text[1 + first]
    with pytest.raises(ConfigError, match=r"enrichment watches \['ein'\]"):
        model.solve(harder, adaptive=Enrichment(tol=1e-3, watch=("ein",)))


def test_checkpoint_resumes_finished_phases(training, model, monkeypatch, tmp_path):
    folder, problem = training
    import rom.offline
    from rom.pod import GramAccumulator

    monkeypatch.setattr(rom.offline, "BLOCK_BYTES", 1)          # one time step per block
    config = {"training": [str(folder / "train.h5")], "problem": problem, "pod": POD, "ecm": {"tol": 1e-5},
              "indicator": {"field": "evrcum", "tol": 1e-3}, "checkpoint": str(tmp_path / "ckpt")}
    finish = GramAccumulator.finish

    def killed(self, *args, **kwargs):
        raise KeyboardInterrupt("killed after the Gram matrix")

    monkeypatch.setattr(GramAccumulator, "finish", killed)
    with pytest.raises(KeyboardInterrupt):
        build(config)
    with h5py.File(tmp_path / "ckpt" / "rank0.h5") as f:
        assert f["gram_U/gram"].shape == (11, 11)                # all 11 snapshots accumulated

    add_block = GramAccumulator.add_block

    def no_more_blocks(self, *args, **kwargs):
        if self._inner_product is not None:       # the displacement (mass inner product) Gram matrix
            raise AssertionError("the Gram matrix should have been resumed from the checkpoint")
        return add_block(self, *args, **kwargs)

    monkeypatch.setattr(GramAccumulator, "finish", finish)
    monkeypatch.setattr(GramAccumulator, "add_block", no_more_blocks, raising=True)
    resumed = build(config)   # the U Gram matrix is resumed; the dual PODs were not started: they must run
    sigma = model.singular_values
    assert resumed.n_modes == model.n_modes
    n = model.n_modes     # beyond sqrt(eps) sigma_1 the singular values of the method of snapshots are noise
    np.testing.assert_allclose(resumed.singular_values[:n], sigma[:n], rtol=0, atol=1e-10 * sigma[0])
    np.testing.assert_allclose(resumed.singular_values, sigma, rtol=0, atol=1e-7 * sigma[0])
    for k in np.flatnonzero(sigma[:model.n_modes] > 1e-3 * sigma[0]):   # well-separated modes, up to sign
        np.testing.assert_allclose(np.abs(resumed.subdomains[0].displacement_modes[k]),
                                   np.abs(model.subdomains[0].displacement_modes[k]), atol=1e-8)


def test_offline_refuses_bad_training_data(training, tmp_path):
    folder, problem = training
    base = {"problem": problem, "pod": {"U": {"tol": 1e-6}}}
    other = make_cube_problem(2, n_cycles=1, steps_per_cycle=2)
    solve(other, output=tmp_path / "other.h5", linear_solver="scipy")
    with pytest.raises(MeshMismatchError, match="other.h5: mesh differs"):
        build({**base, "training": [str(folder / "train.h5"), str(tmp_path / "other.h5")]})
    with pytest.raises(InputError, match=r"missing field\(s\) damage"):
        build({**base, "training": [str(folder / "train.h5")], "pod": {"U": {"tol": 1e-6}, "damage": {"tol": 1e-3}}})
    with pytest.raises(ConfigError, match=r"\[pod.U\] needs exactly one of 'tol' and 'n_modes'"):
        build({**base, "training": [str(folder / "train.h5")], "pod": {"U": {"tol": 1e-6, "n_modes": 3}}})
    with pytest.raises(ConfigError, match="unknown key 'tolerance'"):
        build({**base, "training": [str(folder / "train.h5")], "tolerance": 1})
    with pytest.raises(ConfigError, match="training file .*nothere.h5 does not exist"):
        build({**base, "training": [str(tmp_path / "nothere.h5")]})
    nan_store = tmp_path / "nan.h5"
    io_adapters.save(io_adapters.read(folder / "train.h5"), nan_store)
    with h5py.File(nan_store, "r+") as f:
        for i in range(len(f["fields"])):
            if f["fields"][str(i)].attrs["name"] in ("U", b"U"):      # text attributes are fixed-length bytes
                f["fields"][str(i)][3, 7, 1] = np.nan
    with pytest.raises(InputError, match=r"nan.h5: field 'U': non-finite value nan at time step 3, row 7"):
        build({**base, "training": [str(nan_store)]})


def test_online_refuses_loadings_the_model_was_not_built_for(model, tmp_path):
    import dataclasses

    from io_adapters import Pressure

    problem = make_cube_problem(3, n_cycles=1, steps_per_cycle=4)
    odd = dataclasses.replace(problem, pressures=(Pressure("zmax", np.full(9, 1.0).tolist() + [2.0] * 0, None),))
    ok = model.solve(odd)                                   # a uniform pressure on another face set is fine
    assert ok.n_times == problem.n_steps + 1
    ghost = dataclasses.replace(problem, mesh=dataclasses.replace(problem.mesh, face_sets={
        **problem.mesh.face_sets, "fillet": problem.mesh.face_sets["zmax"]}), pressures=(Pressure("fillet", 1.0, None),))
    with pytest.raises(InputError, match="face set 'fillet': the model has no reduced load for it"):
        model.solve(ghost)
    coarse = make_cube_problem(2, n_cycles=1, steps_per_cycle=2)
    with pytest.raises(InputError, match="is not the model's"):
        model.solve(coarse)
    path = tmp_path / "old.h5"
    model.save(path)
    with h5py.File(path, "r+") as f:
        f.attrs["format_version"] = 0
    with pytest.raises(InputError, match="model format version 0, this nirom reads version 1"):
        ReducedOrderModel.load(path)


def test_offline_driver_writes_model_and_plot(tmp_path):
    import dataclasses
    from pathlib import Path

    toml = Path(__file__).resolve().parent.parent / "examples" / "cube" / "problem.toml"
    problem = io_adapters.read_problem(toml)
    solve(dataclasses.replace(problem, times=problem.times[:6]), output=tmp_path / "train.h5", linear_solver="scipy")
    config = tmp_path / "offline.toml"
    config.write_text(f'''training = ["train.h5"]
problem = "{toml}"
output = "rom.h5"
[pod.U]
n_modes = 3
[pod.evrcum]
tol = 1e-4
[ecm]
tol = 1e-4
''')
    done = subprocess.run([sys.executable, "-m", "mpi_drivers.cli", "offline", str(config)], capture_output=True,
                          text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "reduced-order model: 3 displacement modes" in done.stdout
    assert "timing:" in done.stdout
    assert (tmp_path / "rom.h5").exists() and (tmp_path / "rom_singular_values.png").exists()
    bad = tmp_path / "bad.toml"
    bad.write_text('training = []\nproblem = "nothere.toml"\n')
    done = subprocess.run([sys.executable, "-m", "mpi_drivers.cli", "offline", str(bad)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2                                    # bad input
    assert "'training' must list at least one result file" in done.stderr
    assert "problem file" in done.stderr and "does not exist" in done.stderr


def _loading_files(folder, tmp_path) -> str:
    """The model of this module (n=3 cube) and its training loading as a problem file, in tmp_path."""
    import shutil
    from pathlib import Path

    from examples.cube.cube import hot_field, make_cube_mesh
    from io_adapters.zset import write_geof

    toml = Path(__file__).resolve().parent.parent / "examples" / "cube"
    mesh = make_cube_mesh(3)
    write_geof(mesh, tmp_path / "cube3.geof")
    np.save(tmp_path / "hot.npy", hot_field(mesh.points, "hotspot"))
    text = (toml / "problem.toml").read_text().replace('mesh = "cube4.geof"', 'mesh = "cube3.geof"')
    text = text.replace('max = { file = "cube4_hot.npy" }', 'max = { file = "hot.npy" }').replace("cycles = 2", "cycles = 1")
    (tmp_path / "loading.toml").write_text(text)
    shutil.copy(folder / "rom.h5", tmp_path / "rom.h5")
    return text


def test_online_driver_runs_a_case_and_reports(model, training, tmp_path):
    folder, _ = training
    _loading_files(folder, tmp_path)
    (tmp_path / "case.toml").write_text('problem = "loading.toml"\noutput = "online.h5"\n[indicator]\ntol = 1e-3\n'
                                        '[adaptive]\nenabled = false\n')
    done = subprocess.run([sys.executable, "-m", "mpi_drivers.cli", "online", "rom.h5", "case.toml"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "step      time   newton   indicator  enriched" in done.stdout
    assert "results: " in done.stdout and (tmp_path / "online.h5").exists()
    online = io_adapters.read(tmp_path / "online.h5")
    hifi = solve(io_adapters.read_problem(tmp_path / "loading.toml"), linear_solver="scipy")
    assert relative(online.fields["U"].values, hifi.fields["U"].values) <= 1e-4

    (tmp_path / "bad.toml").write_text('problem = "loading.toml"\nspeed = "fast"\n[adaptive]\nhf_step = "magic"\n')
    done = subprocess.run([sys.executable, "-m", "mpi_drivers.cli", "online", "rom.h5", "bad.toml"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 2                                    # bad input
    assert "unknown key 'speed'" in done.stderr and "hf_step must be" in done.stderr


def test_online_driver_solves_a_batch_and_reports_a_diverging_case(model, training, tmp_path):
    folder, _ = training
    text = _loading_files(folder, tmp_path)
    (tmp_path / "hot.toml").write_text(text.replace("value = -60.0", "value = -70.0"))
    (tmp_path / "a.toml").write_text('problem = "loading.toml"\noutput = "a.h5"\n')
    (tmp_path / "b.toml").write_text('problem = "hot.toml"\n[solver]\nmax_iterations = 1\nmax_cuts = 0\n')
    (tmp_path / "c.toml").write_text('problem = "hot.toml"\noutput = "c.h5"\n')
    done = subprocess.run([sys.executable, "-m", "mpi_drivers.cli", "online", "rom.h5", "a.toml", "b.toml", "c.toml"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 1, done.stderr                       # one case diverged
    out = done.stdout
    assert "== case 1/3: a.toml" in out and "== case 3/3: c.toml" in out
    assert "case b.toml: diverged: " in out
    assert "2 of 3 cases solved" in out and "b.toml" in out.split("batch summary:")[1]
    assert (tmp_path / "a.h5").exists() and (tmp_path / "c.h5").exists()   # the case after the failure ran
    hifi = solve(io_adapters.read_problem(tmp_path / "hot.toml"), linear_solver="scipy")
    assert relative(io_adapters.read(tmp_path / "c.h5").fields["U"].values, hifi.fields["U"].values) < 1e-2
    # every case file is checked before the first solve
    (tmp_path / "d.toml").write_text('problem = "loading.toml"\nspeed = "fast"\n')
    done = subprocess.run([sys.executable, "-m", "mpi_drivers.cli", "online", "rom.h5", "a.toml", "d.toml"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 2 and "d.toml: unknown key 'speed'" in done.stderr and "== case" not in done.stdout


def test_drivers_under_mpiexec_end_every_rank_on_error(model, training, tmp_path):
    """A 1-subdomain model cannot run on 2 ranks: both ranks stop with the message, no hang."""
    from pathlib import Path

    folder, _ = training
    mpiexec = Path(sys.executable).parent / "mpiexec"
    nirom_exe = Path(sys.executable).parent / "nirom"
    (tmp_path / "case.toml").write_text(f'problem = "{Path(__file__).resolve().parent.parent}/examples/cube/problem.toml"\n')
    done = subprocess.run([str(mpiexec), "-n", "2", str(nirom_exe), "online", str(folder / "rom.h5"), "case.toml"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode != 0
    assert "the model has 1 subdomains, cannot run on 2 ranks" in done.stderr
