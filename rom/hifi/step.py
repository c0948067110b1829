"""One high-fidelity time step on demand — the hook of the adaptive ROM.

The adaptive online stage reconstructs a full state (displacement, strain,
stress and the laws' internal variables at every integration point), asks a
:class:`HighFidelityStep` to advance it by one time step, and learns from the
result. Two implementations:

- :class:`InHouseStep`: nirom's own solver.
- :class:`ExternalCommandStep`: the user's solver, kept nonintrusive — the state is
  written to a nirom store, a command is run, and its result store is read back.
"""

from __future__ import annotations

import logging
import shlex
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from io_adapters.errors import ConvergenceError, InputError
from io_adapters.simulation import Field, Simulation

from rom.hifi.discretization import build
from rom.hifi.linear import make_system
from rom.hifi.newton import LocalState, NewtonSettings, advance

log = logging.getLogger(__name__)

VOIGT = ("11", "22", "33", "12", "23", "31")


@dataclass(frozen=True)
class MechanicalState:
    """The full state of the model at one time (global numbering).

    Attributes
    ----------
    time : float
    displacement : (n_nodes, 3)
    strain : (n_points, 6)
        Total strain at the integration points, engineering shear.
    stress : (n_points, 6)
    internal : dict[str, (n_points, ...) array]
        The laws' internal variables (``evrcum``, ``evri``, back-strains…); points
        of laws without a variable hold zeros.
    rule : str
        Integration rule of the point arrays.
    """

    time: float
    displacement: np.ndarray
    strain: np.ndarray
    stress: np.ndarray
    internal: dict
    rule: str = "default"

    def to_simulation(self, mesh) -> Simulation:
        """This state as a one-step Simulation (fields U, eto, sig + internal)."""
        fields = {
            "U": Field("node", ("U1", "U2", "U3"), self.displacement[None]),
            "eto": Field("integration_point", tuple("eto" + c for c in VOIGT), self.strain[None], self.rule),
            "sig": Field("integration_point", tuple("sig" + c for c in VOIGT), self.stress[None], self.rule),
        }
        for name, values in self.internal.items():
            flat = np.asarray(values).reshape(len(values), -1)
            comps = (tuple(name + c for c in VOIGT) if flat.shape[1] == 6
                     else (name,) if flat.shape[1] == 1 else tuple(f"{name}{i + 1}" for i in range(flat.shape[1])))
            fields[name] = Field("integration_point", comps, flat[None], self.rule)
        return Simulation(mesh, [self.time], fields, provenance={"format": "nirom-state"})

    @classmethod
    def from_simulation(cls, simulation: Simulation, step: int = -1) -> "MechanicalState":
        """The state stored at one step of a Simulation with fields U, eto, sig (+ internal)."""
        missing = [n for n in ("U", "eto", "sig") if n not in simulation.fields]
        if missing:
            raise InputError(f"state needs fields U, eto and sig; missing {', '.join(missing)} "
                             f"({simulation.provenance.get('files', '')})")
        step = step % simulation.n_times
        rule = simulation.fields["eto"].rule
        internal = {n: f.read(steps=[step])[0] for n, f in simulation.fields.items()
                    if n not in ("U", "eto", "sig") and f.support == "integration_point"}
        internal = {n: v[:, 0] if v.shape[1] == 1 else v for n, v in internal.items()}
        return cls(float(simulation.times[step]), simulation.fields["U"].read(steps=[step])[0],
                   simulation.fields["eto"].read(steps=[step])[0], simulation.fields["sig"].read(steps=[step])[0],
                   internal, rule)


@runtime_checkable
class HighFidelityStep(Protocol):
    """Advance a full state by one time step."""

    def __call__(self, state: MechanicalState, t_new: float) -> MechanicalState:
        """The converged state at ``t_new``, starting from ``state``."""


class InHouseStep:
    """One step of nirom's own solver on a problem (serial).

    Parameters
    ----------
    problem : io_adapters.Problem
        Loads, laws and boundary conditions (its time list is not used).
    rule : str
        Integration rule of the states exchanged.
    linear_solver : str
    settings : NewtonSettings
    """

    def __init__(self, problem, *, rule: str = "default", linear_solver: str = "auto",
                 settings: NewtonSettings | None = None):
        self.problem = problem
        self.rule = rule
        self.disc = build(problem, rule=rule)
        self.system = make_system(self.disc, None, linear_solver)
        self.settings = settings or NewtonSettings()

    def _local(self, state: MechanicalState) -> LocalState:
        disc = self.disc
        if state.rule != self.rule:
            raise InputError(f"state integration rule '{state.rule}' differs from the solver's '{self.rule}'")
        if state.strain.shape != (disc.n_points, 6):
            raise InputError(f"state has {len(state.strain)} integration points, the model {disc.n_points}")
        internal = []
        for region in disc.regions:
            template = region.law.initial_state(len(region.points))
            values = {}
            for name, initial in template.items():
                if name not in state.internal:
                    raise InputError(f"state lacks internal variable '{name}' of material '{region.name}'")
                values[name] = np.asarray(state.internal[name])[region.points].reshape(np.shape(initial))
            internal.append(values)
        from rom.hifi.newton import _temperature

        return LocalState(state.time, state.displacement.reshape(-1).copy(), state.strain.copy(),
                          state.stress.copy(), internal, _temperature(self.disc, state.time))

    def __call__(self, state: MechanicalState, t_new: float) -> MechanicalState:
        local = advance(self.disc, self.system, self._local(state), float(t_new), self.settings)
        internal = {}
        for region, values in zip(self.disc.regions, local.internal):
            for name, v in values.items():
                v = np.asarray(v)
                target = internal.setdefault(name, np.zeros((self.disc.n_points,) + v.shape[1:]))
                target[region.points] = v
        return MechanicalState(float(t_new), local.u.reshape(-1, 3), local.strain, local.stress, internal,
                               self.rule)


class ExternalCommandStep:
    """One step of an external solver, run as a command.

    The state at ``t_old`` is written to ``<workdir>/state.h5`` (a nirom store with
    one step: ``U``, ``eto``, ``sig`` and the internal variables at the integration
    points), then ``command`` runs with these placeholders replaced:
    ``{state}``, ``{result}`` (where the command must write its nirom store — or any
    format ``io_adapters.read`` knows — with the same fields at ``t_new``),
    ``{t_old}``, ``{t_new}``, ``{workdir}``.

    Parameters
    ----------
    command : str or list of str
    mesh : Mesh
        The mesh the states live on.
    workdir : path, optional
        A fresh temporary folder per call when omitted.
    timeout : float
        Seconds before the command is killed (ConvergenceError).
    """

    def __init__(self, command: str | Sequence[str], mesh, *, workdir: str | Path | None = None,
                 timeout: float = 3600.0):
        self.command = shlex.split(command) if isinstance(command, str) else list(command)
        self.mesh = mesh
        self.workdir = Path(workdir) if workdir else None
        self.timeout = timeout

    def __call__(self, state: MechanicalState, t_new: float) -> MechanicalState:
        from io_adapters import read, save

        workdir = self.workdir or Path(tempfile.mkdtemp(prefix="nirom-hfstep-"))
        workdir.mkdir(parents=True, exist_ok=True)
        state_path, result_path = workdir / "state.h5", workdir / "result.h5"
        save(state.to_simulation(self.mesh), state_path, xdmf=False)
        values = {"state": str(state_path), "result": str(result_path), "t_old": repr(state.time),
                  "t_new": repr(float(t_new)), "workdir": str(workdir)}
        argv = [a.format(**values) for a in self.command]
        log.info("high-fidelity step %g -> %g: %s", state.time, t_new, " ".join(argv))
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            raise ConvergenceError(f"external step command timed out after {self.timeout} s: {' '.join(argv)}") from None
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
            raise ConvergenceError(f"external step command failed (exit {done.returncode}): {' '.join(argv)}\n"
                                   + "\n".join(tail))
        if not result_path.exists():
            raise InputError(f"external step command wrote no result at {result_path}")
        result = MechanicalState.from_simulation(read(str(result_path)))
        if abs(result.time - float(t_new)) > 1e-9 * max(1.0, abs(float(t_new))):
            raise InputError(f"{result_path}: result is at t={result.time}, expected t={t_new}")
        return result


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m rom.hifi.step PROBLEM STATE.h5 RESULT.h5 T_NEW``: one in-house step.

    The command an :class:`ExternalCommandStep` can call to use nirom's solver as
    if it were an external one (and a template for wrapping another solver).
    """
    import argparse

    from io_adapters import read, save
    from io_adapters.problem import read_problem

    parser = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    parser.add_argument("problem")
    parser.add_argument("state")
    parser.add_argument("result")
    parser.add_argument("t_new", type=float)
    parser.add_argument("--rule", default=None)
    args = parser.parse_args(argv)
    state = MechanicalState.from_simulation(read(args.state))
    step = InHouseStep(read_problem(args.problem), rule=args.rule or state.rule)
    save(step(state, args.t_new).to_simulation(step.problem.mesh), args.result, xdmf=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
