"""What an online solve returns: the reduced solution on every rank, the full fields on demand.

:class:`OnlineResult` holds, identically on every rank, what is small: the times, the
reduced coordinates, the indicator and watched fit residuals per step, the Newton
iterations, the enrichment events, the timings and the (possibly enriched) model.
The full fields are rebuilt from it only when asked, each rank its own rows:

- :meth:`OnlineResult.local_fields` — this rank's rows (collective: the Gappy-POD
  coefficients are global);
- :meth:`OnlineResult.write` — one store (+ XDMF) written by all ranks, each its rows
  (:func:`io_adapters.store.partitioned.write_partitioned`): no rank holds the whole;
- :meth:`OnlineResult.to_simulation` — a :class:`io_adapters.Simulation`: the whole
  fields in serial; under MPI gathered on one rank (``root``), the others get None —
  a convenience for models small enough to gather.

``fields`` and ``parameters`` keep the Simulation-like access of earlier versions
(``fields`` only in serial).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from io_adapters.errors import InputError
from io_adapters.quadrature_rules import count_points
from io_adapters.simulation import Field, Simulation

from rom.reductor import displacement_rows, dual_rows, imposed_at_nodes

__all__ = ["EnrichmentEvent", "OnlineResult"]


@dataclass(frozen=True)
class EnrichmentEvent:
    """One enrichment of an online solve.

    Attributes
    ----------
    step : int
    time : float
    indicator_before, indicator_after : float
        The trigger (the larger of the indicator and the watched fit residuals)
        before the enrichment and after the step was solved again.
    n_modes, reduced_points : int
        Sizes of the enriched model (reduced points summed over the subdomains held here).
    hf_seconds, seconds : float
        The high-fidelity step's time and the whole enrichment's.
    """

    step: int
    time: float
    indicator_before: float
    indicator_after: float
    n_modes: int
    reduced_points: int
    hf_seconds: float
    seconds: float

    def __getitem__(self, key: str):
        """Mapping-style access (``event["step"]``), as the events were dicts before."""
        return getattr(self, key)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, eq=False)
class OnlineResult:
    """The result of :func:`rom.online.solve` (the same on every rank).

    Attributes
    ----------
    problem : io_adapters.Problem
    times : (n_t,) array
    reduced_coordinates : tuple of (n_modes_k,) arrays
        ``q`` at each time (the number of modes grows after an enrichment).
    indicator : (n_t,) array
        The indicator's value at each step (after an enrichment, the repaired value).
    watched : dict[str, (n_t,) array]
        Fit residual of each quantity the enrichment policy watches.
    newton_iterations : (n_t,) int array
    enrichments : tuple of EnrichmentEvent
    online_seconds : float
        The reduced solves' time (enrichments included).
    hf_seconds : float
        Of which high-fidelity steps.
    model : ReducedOrderModel
        The model at the end (enriched if enrichments happened): ``model.save(path, comm)``.
    fields_names : tuple[str, ...]
        The dual quantities the result rebuilds (besides ``U``).
    selection : dict
        How the model was chosen when it came from a dictionary of local models
        (``clustering.RomDictionary``): the cluster used, the classifier's
        probabilities, the candidates tried and why; empty otherwise.
    """

    problem: object
    times: np.ndarray
    reduced_coordinates: tuple
    indicator: np.ndarray
    watched: dict
    newton_iterations: np.ndarray
    enrichments: tuple
    online_seconds: float
    hf_seconds: float
    model: object
    fields_names: tuple
    selection: dict = field(default_factory=dict)
    comm: object = field(default=None, repr=False)
    _steps: tuple = field(default=(), repr=False)        # (RestrictedOperator, DualFits, ReducedState) per time
    _cache: dict = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------ summaries
    @property
    def n_times(self) -> int:
        return len(self.times)

    @property
    def mesh(self):
        return self.model.mesh

    @property
    def parameters(self) -> dict:
        """The result's figures as plain data (what earlier versions kept in ``Simulation.parameters``)."""
        return {"indicator": [float(v) for v in self.indicator],
                "newton_iterations": [int(i) for i in self.newton_iterations],
                "reduced_coordinates": [np.asarray(q).tolist() for q in self.reduced_coordinates],
                "enrichments": [e.to_dict() for e in self.enrichments], "online_seconds": self.online_seconds,
                "hf_seconds": self.hf_seconds,
                "watched": {name: [float(v) for v in values] for name, values in self.watched.items()},
                "problem": str(self.problem.source), **({"selection": self.selection} if self.selection else {})}

    # ------------------------------------------------------------ full fields
    def _names(self, names) -> list[str]:
        names = list(self.fields_names) if names is None else [n for n in names if n != "U"]
        unknown = [n for n in names if n not in self.fields_names]
        if unknown:
            raise InputError(f"online result: no Gappy-POD basis of {unknown} (the model has "
                             f"{', '.join(self.fields_names) or 'none'})")
        return sorted(names)

    def _coefficients(self, names: list[str]) -> list[dict]:
        """Gappy-POD coefficients of each dual at each step (collective, the same order on every rank)."""
        return [{name: fits.fit(state, name)[0] for name in names} for _, fits, state in self._steps]

    def _pieces(self, names=None):
        """(nodes, U rows per step) and (point rows, dual rows per step) of this rank (collective)."""
        names = self._names(names)
        coefficients = self._coefficients(names)
        parts = self._steps[-1][0].parts if self._steps else []
        nodes = np.unique(np.concatenate([p.sub.nodes for p in parts])) if parts else np.zeros(0, np.int64)
        rows = np.concatenate([p.sub.point_rows for p in parts]) if parts else np.zeros(0, np.int64)
        return names, coefficients, nodes, rows

    def _displacement(self, k: int, nodes: np.ndarray) -> np.ndarray:
        op, _, state = self._steps[k]
        out = np.zeros((len(nodes), 3))
        for part in op.parts:
            imposed = imposed_at_nodes(self.problem, part.sub.nodes) if state.imposed else None
            out[np.searchsorted(nodes, part.sub.nodes)] = displacement_rows(part.sub, state.q, imposed, state.time)
        return out

    def _dual(self, k: int, name: str, coefficients: list[dict]) -> np.ndarray:
        op = self._steps[k][0]
        return np.concatenate([dual_rows(part.sub, name, coefficients[k][name]) for part in op.parts])

    def local_fields(self, names=None) -> dict:
        """This rank's rows of the full fields (collective).

        Parameters
        ----------
        names : list of str, optional
            Dual quantities (default: every one the result rebuilds); ``U`` always.

        Returns
        -------
        dict[str, (rows, values)]
            ``U``: global node indices (n,) and ``(n_t, n, 3)``; each dual: global
            integration-point rows (m,) and ``(n_t, m, n_components)``.
        """
        names, coefficients, nodes, rows = self._pieces(names)
        out = {"U": (nodes, np.stack([self._displacement(k, nodes) for k in range(self.n_times)]))}
        for name in names:
            out[name] = (rows, np.stack([self._dual(k, name, coefficients) for k in range(self.n_times)]))
        return out

    def _layout(self, names) -> dict:
        model = self.model
        layout = {"U": ("node", ("U1", "U2", "U3"), None)}
        for name in names:
            comps = model.subdomains[0].duals[name].components
            layout[name] = ("integration_point", tuple(comps), model.rule)
        return layout

    def write(self, path, *, names=None, xdmf: bool = True, extra_fields=None):
        """Write ``U`` and the dual fields to one store (+ XDMF), each rank its rows (collective).

        Parameters
        ----------
        path : path
        names : list of str, optional
            Dual quantities (default: every one the result rebuilds); ``U`` always.
        xdmf : bool
        extra_fields : dict[str, (str, callable)], optional
            More fields derived from the result's own, written alongside (a reference
            solution and the error, for ParaView): ``name -> (source, f)``, where
            ``f(step, rows, values)`` gets this rank's rows of field ``source`` (``U`` or
            one of ``names``) and its values ``(len(rows), n_components)`` at that step,
            and returns the new field's values at those rows (same shape). The new
            field has the source's support, components and rule. ``f`` runs during the
            write, in this rank's turn: it must not communicate.

        Returns
        -------
        Path
        """
        from io_adapters.store.partitioned import write_partitioned

        names, coefficients, nodes, rows = self._pieces(names)
        order = {"U": nodes, **{n: rows for n in names}}
        layout = self._layout(names)
        extra = dict(extra_fields or {})
        for name, (source, _) in extra.items():
            if source not in layout or name in layout:
                raise InputError(f"{path}: extra field '{name}' from '{source}': the source must be one of "
                                 f"{', '.join(layout)} and the name a new one")
        layout.update({name: layout[source] for name, (source, _) in extra.items()})
        order.update({name: order[source] for name, (source, _) in extra.items()})

        def own(name: str, step: int) -> np.ndarray:
            return self._displacement(step, nodes) if name == "U" else self._dual(step, name, coefficients)

        def values(name: str, step: int) -> np.ndarray:
            if name in extra:
                source, derive = extra[name]
                return derive(step, order[source], own(source, step))
            return own(name, step)

        return write_partitioned(path, self.model.mesh, self.times, layout, order, values,
                                 comm=self.comm, parameters=self.parameters, provenance=self._provenance(), xdmf=xdmf)

    def to_simulation(self, names=None, *, root: int = 0) -> Simulation | None:
        """The full fields as a Simulation: every rank's rows gathered on ``root`` (collective).

        In serial, simply the result. Under MPI only ``root`` gets it (None elsewhere),
        and it holds every step of every field at every node and point: for models
        small enough to gather; :meth:`write` keeps the rows distributed.
        """
        pieces = self.local_fields(names)
        gathered = [pieces] if self.comm is None or self.comm.size == 1 else self.comm.gather(pieces, root=root)
        if self.comm is not None and self.comm.size > 1 and self.comm.rank != root:
            return None
        mesh, model = self.model.mesh, self.model
        fields = {}
        for name, (support, comps, rule) in self._layout(self._names(names)).items():
            n_rows = mesh.n_nodes if support == "node" else count_points(mesh.cells, model.rule)
            values = np.zeros((self.n_times, n_rows, len(comps)))
            for piece in gathered:
                ids, v = piece[name]
                values[:, ids] = v
            fields[name] = Field(support, comps, values, rule)
        return Simulation(mesh, np.asarray(self.times), fields, self.parameters, self._provenance())

    @property
    def fields(self) -> dict:
        """The full fields (serial only; under MPI use :meth:`to_simulation` or :meth:`write`)."""
        if self.comm is not None and self.comm.size > 1:
            raise InputError("online result: under MPI each rank holds its rows only: use result.write(path) "
                             "(one store, rows written by each rank) or result.to_simulation() (gathered on rank 0)")
        if "simulation" not in self._cache:
            self._cache["simulation"] = self.to_simulation()
        return self._cache["simulation"].fields

    def _provenance(self) -> dict:
        return {"format": "nirom-rom", "solver": "nirom.rom.online", "model": self.model.provenance.get("config", "")}
