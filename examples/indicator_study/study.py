"""Calibration study of the online error indicator: indicator vs true error over many load cases.

A reduced model is trained on a few high-fidelity runs (a few temperature fields and
load levels); then, for every test case (load levels inside and outside the training
range, other temperature fields, more cycles than trained), the online ROM and the
high-fidelity solver both solve it and the study records

- the indicator of the case: the maximum over the time steps of the Gappy-POD fit
  residual of ``evrcum`` at the reduced points (``rom.indicator``);
- the true errors against the high-fidelity reference: relative displacement error
  and relative ``evrcum`` error over the whole history (``rom.indicator.true_error``);

and calibrates them (``rom.indicator.calibrate``: Spearman, Pearson, fitted
``error ≈ a · indicator^b``), per error field, over all cases and per group.

Usage (from the repository root)::

    python examples/indicator_study/study.py                    # cube n = 4, 24 test cases (~1 min)
    python examples/indicator_study/study.py --family blade     # blade, size 6 mm (~4 min)
    python examples/indicator_study/study.py --quick            # cube n = 3, 12 cases (~15 s)
    python examples/indicator_study/study.py --indicator-fields sig evri al1   # other indicator fields too

Writes ``results/<case>.json``, ``results/<case>_U.png`` and ``results/<case>_evrcum.png``
beside this file (or in ``--output``), ``<case>`` being ``cube_n4``, ``blade_size6``…
(``_quick`` appended with ``--quick``). The test
design is fixed in this file (``cube_design``, ``blade_design``; random draws from
a fixed seed) and was chosen before the results were seen.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):   # run as a file: make ``examples`` and ``rom`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

#: POD tolerances of the study's models (every internal variable: adaptivity-ready).
POD = {name: {"tol": 1e-6} for name in ("U", "evrcum", "evri", "al1", "sig")}
ECM = {"tol": 1e-5}
INDICATOR = {"field": "evrcum", "tol": 1e-3}
ERROR_FIELDS = ("U", "evrcum")
GROUPS = ("load levels (inside)", "load levels (outside)", "temperature fields", "extrapolated cycles")
PREFIX = dict(zip(GROUPS, ("in", "out", "temp", "cyc")))


@dataclass(frozen=True)
class Case:
    """One load case: a label, its group and the keyword arguments of the family's problem."""

    label: str
    group: str
    params: dict = field(default_factory=dict)


# ==================================================================== designs
def cube_design(quick: bool = False, seed: int = 2024) -> tuple[list[Case], list[Case]]:
    """Training runs and test cases of the cube (``make_cube_problem`` keywords).

    Training: 3 runs of one cycle (10 steps): the hot spot at 900 °C / 60 MPa /
    2000 rad/s, the hot spot at 1050 °C / 80 MPa / 2400 rad/s, the gradient at
    950 °C / 50 MPa / 1600 rad/s. Tests (6 per group, 3 when ``quick``):

    - load levels inside the training box (hot 900–1050 °C, 50–80 MPa, 1600–2400 rad/s);
    - load levels outside it (hotter, more pressure and speed; or colder, less);
    - other temperature fields: other warm levels, a reversed gradient, a cold spot,
      the uniform field (elastic);
    - extrapolated cycles: 2 or 3 cycles of trained or inside load levels.
    """
    rng = np.random.default_rng(seed)
    t1 = {"temperature_case": "hotspot", "hot": 900.0, "pressure": 60.0, "omega": 2000.0}
    t2 = {"temperature_case": "hotspot", "hot": 1050.0, "pressure": 80.0, "omega": 2400.0}
    t3 = {"temperature_case": "gradient", "hot": 950.0, "pressure": 50.0, "omega": 1600.0}
    training = [Case(f"train{i + 1}", "training", p) for i, p in enumerate((t1, t2, t3))]

    def draw(hot, pressure, omega, case):
        return {"temperature_case": case, "hot": round(float(rng.uniform(*hot)), 1),
                "pressure": round(float(rng.uniform(*pressure)), 1), "omega": round(float(rng.uniform(*omega)), 0)}

    cases = ["hotspot", "gradient"]
    inside = [draw((900, 1050), (50, 80), (1600, 2400), cases[i % 2]) for i in range(6)]
    outside = [draw((1050, 1150), (80, 100), (2400, 3000), cases[i % 2]) for i in range(3)]
    outside += [draw((850, 900), (30, 50), (1000, 1600), cases[i % 2]) for i in range(3)]
    fields = [
        {"temperature_case": "hotspot", "warm": 400.0, "hot": 950.0},
        {"temperature_case": "hotspot", "warm": 600.0, "hot": 1000.0},
        {"temperature_case": "gradient", "warm": 950.0, "hot": 500.0},      # hot at the bottom
        {"temperature_case": "hotspot", "warm": 900.0, "hot": 500.0},       # a cold spot
        {"temperature_case": "gradient", "warm": 600.0, "hot": 1000.0},
        {"temperature_case": "uniform", "hot": 900.0},                      # free expansion: elastic
    ]
    cycles = [{**t1, "n_cycles": 2}, {**t1, "n_cycles": 3}, {**t2, "n_cycles": 2}, {**t3, "n_cycles": 3},
              {**inside[0], "n_cycles": 2}, {**inside[1], "n_cycles": 3}]
    tests = []
    for group, params in zip(GROUPS, (inside, outside, fields, cycles)):
        chosen = params[::2] if quick else params
        tests += [Case(f"{PREFIX[group]}{i + 1}", group, p) for i, p in enumerate(chosen)]
    return training, tests


def blade_design(quick: bool = False, seed: int = 2024) -> tuple[list[Case], list[Case]]:
    """Training runs and test cases of the blade (``make_blade_problem`` keywords).

    Training: 3 flight cycles, temperature fields of seeds 0, 1, 2 at
    (1000 rad/s, 0.6 MPa), (1100, 0.8), (900, 0.5). Tests (6 per group, 3 when ``quick``):

    - load levels inside the training box (900–1100 rad/s, 0.5–0.8 MPa) on the trained fields;
    - outside it (1100–1250 or 750–900 rad/s, 0.3–1.2 MPa);
    - other temperature fields: seeds 3–8 at 1000 rad/s, 0.6 MPa;
    - extrapolated cycles: 2 or 3 flight cycles on the trained fields.
    """
    rng = np.random.default_rng(seed)
    trained = [{"seed": 0, "omega": 1000.0, "pressure": 0.6}, {"seed": 1, "omega": 1100.0, "pressure": 0.8},
               {"seed": 2, "omega": 900.0, "pressure": 0.5}]
    training = [Case(f"train{i + 1}", "training", p) for i, p in enumerate(trained)]

    def draw(i, omega, pressure):
        return {"seed": i % 3, "omega": round(float(rng.uniform(*omega)), 0),
                "pressure": round(float(rng.uniform(*pressure)), 2)}

    inside = [draw(i, (900, 1100), (0.5, 0.8)) for i in range(6)]
    outside = [draw(i, (1100, 1250), (0.8, 1.2)) for i in range(3)] + [draw(i, (750, 900), (0.3, 0.5))
                                                                      for i in range(3)]
    fields = [{"seed": s, "omega": 1000.0, "pressure": 0.6} for s in range(3, 9)]
    cycles = [{**trained[i % 3], "n_cycles": 2 + i // 3} for i in range(6)]
    tests = []
    for group, params in zip(GROUPS, (inside, outside, fields, cycles)):
        chosen = params[::2] if quick else params
        tests += [Case(f"{PREFIX[group]}{i + 1}", group, p) for i, p in enumerate(chosen)]
    return training, tests


class CubeFamily:
    """The cube of ``examples/cube`` (hexahedron20, ``n`` elements per edge)."""

    name = "cube"
    linear_solver = "scipy"

    def __init__(self, n: int = 4, steps_per_cycle: int = 10):
        from examples.cube.cube import make_cube_mesh

        self.n, self.steps_per_cycle = int(n), int(steps_per_cycle)
        self.mesh = make_cube_mesh(self.n)
        self.description = f"cube n={self.n} ({3 * self.mesh.n_nodes} dofs), {self.steps_per_cycle} steps per cycle"

    def problem(self, params: dict):
        from examples.cube.cube import make_cube_problem

        kwargs = {"n_cycles": 1, "steps_per_cycle": self.steps_per_cycle, **params}
        return make_cube_problem(self.n, mesh=self.mesh, **kwargs)

    def design(self, quick: bool):
        return cube_design(quick)


class BladeFamily:
    """The blade of ``examples/blade`` (tet10, gmsh element size ``size`` mm)."""

    name = "blade"
    linear_solver = "auto"

    def __init__(self, size: float = 6.0, steps_per_cycle: int = 6):
        from examples.blade import make_blade_mesh

        self.size, self.steps_per_cycle = float(size), int(steps_per_cycle)
        self.mesh = make_blade_mesh(self.size)
        self.description = (f"blade size {self.size:g} mm ({3 * self.mesh.n_nodes} dofs), "
                            f"{self.steps_per_cycle} steps per flight cycle")

    def problem(self, params: dict):
        from examples.blade import make_blade_problem

        kwargs = {"n_cycles": 1, "steps_per_cycle": self.steps_per_cycle, **params}
        return make_blade_problem(self.size, mesh=self.mesh, **kwargs)

    def design(self, quick: bool):
        return blade_design(quick)


def _library_commit() -> str | None:
    """``git rev-parse --short HEAD`` of the repository (None outside a git checkout)."""
    import subprocess

    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=HERE, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


# ===================================================================== study
def train(family, training: list[Case], workdir: Path):
    """High-fidelity training runs and the offline build; returns (model, info)."""
    import rom.hifi
    from rom.offline import build

    paths, seconds = [], 0.0
    for case in training:
        path = workdir / f"{case.label}.h5"
        start = time.perf_counter()
        rom.hifi.solve(family.problem(case.params), output=path, linear_solver=family.linear_solver)
        seconds += time.perf_counter() - start
        paths.append(str(path))
    start = time.perf_counter()
    model = build({"training": paths, "problem": family.problem(training[0].params), "pod": POD, "ecm": ECM,
                   "indicator": INDICATOR})
    info = {"training": [{"label": c.label, **c.params} for c in training], "hf_seconds": seconds,
            "offline_seconds": time.perf_counter() - start, "n_modes": model.n_modes,
            "reduced_points": model.settings["reduced_points"], "ecm_points": model.settings["ecm_points"],
            "dual_modes": model.settings["dual_modes"], "pod": POD, "ecm": ECM, "indicator": INDICATOR}
    return model, info


def evaluate(family, model, case: Case, indicator_fields=()) -> dict:
    """One test case: HF reference, ROM solve, indicator and true errors."""
    import rom.hifi
    from io_adapters.errors import ConvergenceError
    from rom.indicator import case_indicator, true_error

    problem = family.problem(case.params)
    record = {"label": case.label, "group": case.group, "params": case.params, "n_steps": int(problem.n_steps)}
    start = time.perf_counter()
    reference = rom.hifi.solve(problem, linear_solver=family.linear_solver)
    record["hf_seconds"] = time.perf_counter() - start
    try:
        reduced = model.solve(problem)
    except ConvergenceError as exc:        # kept in the record, left out of the calibration
        record["failed"] = str(exc).splitlines()[0]
        return record
    record["online_seconds"] = float(reduced.parameters["online_seconds"])
    record["indicator"] = case_indicator(reduced)
    record["indicator_final"] = case_indicator(reduced, "final")
    record["indicator_per_step"] = [float(v) for v in reduced.parameters["indicator"]]
    for name in ERROR_FIELDS:
        error = true_error(reference, reduced, name)
        record[f"error_{name}"] = error.overall
        record[f"error_{name}_max_step"] = error.max_step
    record["evrcum_max"] = float(reference.fields["evrcum"].values.max())
    record["rom_evrcum_max"] = float(reduced.fields["evrcum"].values.max())
    for name in indicator_fields:          # the same solve with another dual quantity as the indicator
        other = model.solve(problem, indicator=name, fields=[])
        record[f"indicator_{name}"] = case_indicator(other)
    return record


def calibrations(records: list[dict], indicator_key: str = "indicator") -> dict:
    """Calibration of an indicator against each error field, over all cases and per group."""
    from rom.indicator import calibrate

    out = {}
    for name in ERROR_FIELDS:
        # a relative error is undefined (inf) where the reference field is zero and the ROM's
        # is not (an elastic HF run, spurious plastic flow in the ROM): listed, not calibrated
        done = [r for r in records if "failed" not in r and np.isfinite(r[f"error_{name}"])]
        c = calibrate([r[indicator_key] for r in done], [r[f"error_{name}"] for r in done],
                      labels=[r["label"] for r in done], groups=[r["group"] for r in done])
        per_group = {}
        for group in GROUPS:
            chosen = [r for r in done if r["group"] == group]
            if len(chosen) >= 3:
                g = calibrate([r[indicator_key] for r in chosen], [r[f"error_{name}"] for r in chosen])
                per_group[group] = {"n_cases": g.n_cases, "spearman": g.spearman}
        out[name] = {"calibration": c, "per_group": per_group,
                     "excluded": [r["label"] + (" (ROM failed)" if "failed" in r else " (zero reference, non-zero ROM)")
                                  for r in records if r not in done]}
    return out


def run(family: str = "cube", *, quick: bool = False, n: int | None = None, size: float | None = None,
        indicator_fields=(), output: Path | None = RESULTS, workdir: Path | None = None, log=print) -> dict:
    """Run the study; write ``<case>.json`` and the PNGs in ``output`` (None: write nothing).

    Parameters
    ----------
    family : {"cube", "blade"}
    quick : bool
        Half the test cases (12) and, for the cube, n = 3.
    n, size : optional
        Cube elements per edge (default 4, 3 when quick) / blade element size (default 6 mm).
    indicator_fields : sequence of str
        Other dual quantities to try as the indicator (one more online solve per case each).

    Returns
    -------
    dict
        JSON-ready: the model, every case, and the calibrations (``"calibration"``:
        ``{"U": {...}, "evrcum": {...}}``, each with Spearman, Pearson and the fit).
    """
    started = time.perf_counter()
    fam = (CubeFamily(n or (3 if quick else 4)) if family == "cube" else BladeFamily(size or 6.0))
    training, tests = fam.design(quick)
    log(f"indicator study: {fam.description}; {len(training)} training runs, {len(tests)} test cases")
    with tempfile.TemporaryDirectory(prefix="nirom-indicator-study-", dir=workdir) as tmp:
        model, model_info = train(fam, training, Path(tmp))
    log(f"  model: {model_info['n_modes']} modes, {model_info['reduced_points']} reduced points, dual modes "
        f"{model_info['dual_modes']} (HF training {model_info['hf_seconds']:.1f} s, offline "
        f"{model_info['offline_seconds']:.1f} s)")
    records = []
    for case in tests:
        record = evaluate(fam, model, case, indicator_fields)
        records.append(record)
        if "failed" in record:
            log(f"  {case.label:6s} {case.group:22s} ROM FAILED: {record['failed']}")
        else:
            log(f"  {case.label:6s} {case.group:22s} indicator {record['indicator']:9.2e}  error U "
                f"{record['error_U']:9.2e}  evrcum {record['error_evrcum']:9.2e}  (HF {record['hf_seconds']:.2f} s, "
                f"ROM {record['online_seconds']:.3f} s)")
    main_cal = calibrations(records)
    figures = {
        "family": fam.name, "description": fam.description, "quick": quick,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_average": os.getloadavg()[0]},
        "library": _library_commit(),
        "model": model_info, "cases": records,
        "calibration": {name: {**v["calibration"].to_dict(), "per_group": v["per_group"], "excluded": v["excluded"]}
                        for name, v in main_cal.items()},
        "failed": [r["label"] for r in records if "failed" in r],
    }
    if indicator_fields:
        # the enrichment trigger: the largest of the indicator and the other fits (max over steps of a max)
        for r in records:
            if "failed" not in r:
                r["indicator_trigger"] = max([r["indicator"]] + [r[f"indicator_{n}"] for n in indicator_fields])
        keys = {name: f"indicator_{name}" for name in indicator_fields}
        keys["max(" + ", ".join(["indicator", *indicator_fields]) + ")"] = "indicator_trigger"
        figures["other_indicators"] = {
            name: {err: {"spearman": v["calibration"].spearman, "pearson_log": v["calibration"].pearson_log}
                   for err, v in calibrations(records, key).items()}
            for name, key in keys.items()}
    figures["seconds"] = time.perf_counter() - started
    for name, v in main_cal.items():
        log(f"  indicator vs {name} error: {v['calibration'].summary()}")
        log("    per group: " + ", ".join(f"{g} {p['spearman']:.2f}" for g, p in v["per_group"].items())
            + (f"; not calibrated: {', '.join(v['excluded'])}" if v["excluded"] else ""))
    for name, errors in figures.get("other_indicators", {}).items():
        log(f"  {name} as the indicator: Spearman " + ", ".join(f"vs {e} {c['spearman']:.3f}" for e, c in errors.items()))
    if output is not None:
        from io_adapters.atomic import write_text_atomic

        output = Path(output)
        stem = (f"cube_n{fam.n}" if fam.name == "cube" else f"blade_size{fam.size:g}") + ("_quick" if quick else "")
        for name, v in main_cal.items():
            v["calibration"].plot(output / f"{stem}_{name}.png",
                                  ylabel=f"true relative error of {name} (whole history)",
                                  title=f"{fam.description}\nindicator vs {name} error: Spearman "
                                        f"{v['calibration'].spearman:.3f}, {v['calibration'].n_cases} cases")
        write_text_atomic(output / f"{stem}.json", json.dumps(figures, indent=2) + "\n")
        log(f"  wrote {output / (stem + '.json')} and {stem}_{{{','.join(ERROR_FIELDS)}}}.png")
    return figures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--family", choices=("cube", "blade"), default="cube")
    parser.add_argument("--quick", action="store_true", help="12 test cases (cube n = 3)")
    parser.add_argument("--n", type=int, help="cube: elements per edge (default 4)")
    parser.add_argument("--size", type=float, help="blade: element size in mm (default 6)")
    parser.add_argument("--indicator-fields", nargs="*", default=[],
                        help="other dual quantities to try as the indicator (sig, evri, al1)")
    parser.add_argument("--output", type=Path, default=RESULTS, help="folder of the JSON and PNGs")
    args = parser.parse_args(argv)
    run(args.family, quick=args.quick, n=args.n, size=args.size, indicator_fields=tuple(args.indicator_fields),
        output=args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
