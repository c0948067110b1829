"""The configuration reference, generated from the settings themselves.

::

    python -m mpi_drivers.config_reference > docs/configuration.md

Every key of every input file, with its type, its default and its meaning, read from
the code that checks the files: the fields, types and defaults of the settings
dataclasses (:mod:`rom.settings`, :class:`mpi_drivers.online.Case`,
:mod:`clustering.config`, :mod:`mpi_drivers.submodel`), their numpydoc docstrings, the commented examples of the
configuration modules (:mod:`rom.offline_config`, :mod:`clustering.config`), the
problem file's schema (:mod:`io_adapters.problem_toml`) and its ``[solver]`` keys
(:data:`io_adapters.problem.SOLVER_KEYS`, with the defaults :mod:`mpi_drivers.hifi`
uses). ``tests/test_docs_code_blocks.py`` checks that the committed page is the
generator's output, so the page cannot drift from the code.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import sys
import typing

__all__ = ["docstring_entries", "example_keys", "generate", "literal_blocks"]


# ================================================================ reading the sources
def docstring_entries(cls) -> dict[str, str]:
    """``name -> description`` of the ``Parameters`` / ``Attributes`` sections of a numpydoc docstring."""
    doc = inspect.cleandoc(cls.__doc__ or "")
    out: dict[str, str] = {}
    section, current = None, None
    lines = doc.splitlines()
    for i, line in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if re.fullmatch(r"-{3,}", nxt.strip()) and line.strip():
            section, current = line.strip(), None
            continue
        if re.fullmatch(r"-{3,}", line.strip()):
            continue
        if section not in ("Parameters", "Attributes"):
            continue
        entry = re.match(r"^(\w+)(?:\s*,\s*(\w+))*\s*:\s*(.*)$", line)
        if entry and not line.startswith(" "):
            names = [n.strip() for n in line.split(":", 1)[0].split(",")]
            current = names
            for name in names:
                out[name] = ""
            continue
        if current and line.startswith(" ") and line.strip():
            for name in current:
                out[name] = (out[name] + " " + line.strip()).strip()
        elif not line.strip():
            current = current           # a blank line inside a description keeps it going
    return out


def summary(cls) -> str:
    """The first paragraph of a docstring, on one line (Markdown)."""
    doc = inspect.cleandoc(cls.__doc__ or "")
    return markdown(" ".join(doc.split("\n\n")[0].split()))


def example_keys(module) -> dict[str, tuple[str, str]]:
    """``key -> (example value, comment)`` of the top-level keys of the first ``::`` example
    of a module docstring (the lines before its first table)."""
    doc = module.__doc__ or ""
    block = doc.split("::", 1)[1] if "::" in doc else ""
    out: dict[str, tuple[str, str]] = {}
    last = None
    for line in block.splitlines()[1:]:
        if line.strip() and not line.startswith("    "):
            break                                     # the end of the literal block
        text = line.strip()
        if text.startswith("["):
            break
        match = re.match(r"^(\w+)\s*=\s*(.*?)(?:\s+#\s*(.*))?$", text)
        if match:
            last = match[1]
            out[last] = (match[2].strip(), (match[3] or "").strip())
        elif text.startswith("#") and last is not None:
            value, comment = out[last]
            out[last] = (value, (comment + " " + text.lstrip("# ").strip()).strip())
    return out


def literal_blocks(module) -> list[tuple[str, str]]:
    """Every ``::`` literal block of a module docstring: ``(the paragraph introducing it, the block dedented)``."""
    lines = (module.__doc__ or "").splitlines()
    out = []
    for i, line in enumerate(lines):
        if not line.rstrip().endswith("::") or line.startswith("    "):
            continue
        start = i
        while start > 0 and lines[start - 1].strip():
            start -= 1
        intro = " ".join(text.strip() for text in lines[start:i + 1])[:-2].rstrip() + ":"     # reST "text::"
        block = []
        for text in lines[i + 1:]:
            if text.strip() and not text.startswith("    "):
                break
            block.append(text[4:] if text.startswith("    ") else text)
        out.append((markdown(intro), "\n".join(block).strip("\n")))
    return out


# ================================================================ rendering
def markdown(text: str) -> str:
    """reStructuredText of a docstring as Markdown: ``:func:`~a.b``` and ````x```` become `` `a.b` `` and `` `x` ``."""
    text = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", text)
    return re.sub(r"``([^`]+)``", r"`\1`", text)


def _cell(text) -> str:
    text = markdown(" ".join(str(text).split()))
    return text.replace("|", "\\|") if text else "—"


def _type(hint) -> str:
    from rom.settings import Settings, _describe

    try:
        if hint is object:                # a path in a file, or an object given from Python
            return "a path"
        if isinstance(hint, type) and issubclass(hint, Settings):
            return "a table"
        return _describe(hint)
    except Exception:                     # a type the checker does not describe (an object)
        return "—"


def _default(f: dataclasses.Field) -> str:
    from rom.settings import Settings

    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        return "**required**"
    if value is None:
        return "not set"
    if isinstance(value, Settings):
        return "see the table"
    return f"`{_literal(value)}`"


def _literal(value) -> str:
    from mpi_drivers.report import _toml_value

    return _toml_value(list(value) if isinstance(value, tuple) else value)


def settings_rows(cls, *, skip: tuple[str, ...] = (), tables: bool = False) -> list[str]:
    """The Markdown table of a settings dataclass's keys (nested tables left out unless ``tables``)."""
    from rom.settings import Settings

    hints = typing.get_type_hints(cls)
    docs = docstring_entries(cls)
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for f in dataclasses.fields(cls):
        if not f.metadata.get("key", True) or f.name in skip:
            continue
        hint = hints[f.name]
        if not tables and isinstance(hint, type) and issubclass(hint, Settings):
            continue
        what = docs.get(f.name) or f.metadata.get("what") or ""
        describe = f.metadata.get("describe")
        rows.append(f"| `{f.name}` | {_cell(describe or _type(hint))} | {_default(f)} | {_cell(what)} |")
    return rows


def _section(title: str, cls, *, intro: str | None = None, skip=()) -> list[str]:
    return [f"### {title}", "", intro if intro is not None else summary(cls), "", *settings_rows(cls, skip=skip), ""]


def _example_rows(module, hints: dict, known) -> list[str]:
    examples = example_keys(module)
    rows = ["| key | type | example | meaning |", "|---|---|---|---|"]
    order = [k for k in examples if k in known] + sorted(k for k in known if k not in examples)
    for key in order:
        value, comment = examples.get(key, ("", ""))
        rows.append(f"| `{key}` | {_cell(_type(hints[key]) if key in hints else '—')} | "
                    f"{'`' + value + '`' if value else '—'} | {_cell(comment)} |")
    return rows


def generate() -> str:
    """The Markdown page (``docs/configuration.md``)."""
    import clustering.config as cluster_config
    import io_adapters.problem_toml as problem_toml
    import rom.offline_config as offline_config
    from clustering.config import ClassifierSettings, ClusteringSettings, FeatureSettings, TrainingRun
    from io_adapters.problem import SOLVER_KEYS
    from rom.settings import AdaptiveSettings, EcmSettings, IndicatorSettings, PodSettings, SolverSettings

    import mpi_drivers.submodel as submodel_driver
    from mpi_drivers.hifi import effective_solver
    from mpi_drivers.online import Case
    from mpi_drivers.submodel import (DynamicsSettings, OfflineSettings, ReferenceSettings, SampleSettings,
                                      SolverChoice, StatisticsSettings)

    out = [
        "# Configuration reference",
        "",
        "<!-- Generated by `python -m mpi_drivers.config_reference > docs/configuration.md` from the settings",
        "     classes and their docstrings: do not edit by hand (tests/test_docs_code_blocks.py compares). -->",
        "",
        "Every key of every input file, with its type, default and meaning, as the code that reads the",
        "files checks them. Unknown keys, wrong types and values out of range are refused, every problem",
        "of a file at once, naming the key (`[ecm] tol must be in (0, 1), found 2.0`). Relative paths are",
        "relative to the file that names them. `nirom <command> --print-config` prints the effective",
        "configuration of a file, defaults included (see the [user guide](guide/index.md)).",
        "",
        "**Types.** *a number* accepts an integer; *true or false* refuses a string (`\"false\"`); *a path*",
        "is a string. *not set* is a key left out (TOML has no null): its meaning is given in the table.",
        "",
    ]

    # ----------------------------------------------------------------- offline
    hints = typing.get_type_hints(offline_config.OfflineConfig)
    known = sorted(offline_config._TOP_KEYS - {"pod", "ecm", "indicator", "base_dir"})
    out += ["## `offline.toml` — `nirom offline`", "",
            "Read by `rom.offline_config.OfflineConfig` (also from a Python dict with the same keys, "
            "`base_dir` then giving the folder of relative paths).", "",
            *_example_rows(offline_config, hints, known), "",
            *_section("`[pod.<field>]` — one table per basis", PodSettings,
                      intro=summary(PodSettings) + " `[pod.U]` (the displacement) is required — default "
                      f"`{_literal(offline_config._DEFAULT_POD['U'])}` when `pod` is left out; every other "
                      "`[pod.<name>]` adds the Gappy-POD basis of a dual quantity (`sig`, `evrcum`, …) "
                      "stored in the training results."),
            *_section("`[ecm]`", EcmSettings),
            *_section("`[indicator]`", IndicatorSettings)]

    # ----------------------------------------------------------------- online
    out += ["## Case file — `nirom online rom.h5 case.toml`", "",
            summary(Case) + " Read by `mpi_drivers.online.load_case`; several case files make a batch.", "",
            *settings_rows(Case), "",
            *_section("`[indicator]`", IndicatorSettings),
            *_section("`[adaptive]`", AdaptiveSettings),
            *_section("`[solver]`", SolverSettings)]

    # ----------------------------------------------------------------- cluster
    hints = typing.get_type_hints(cluster_config.ClusterConfig)
    out += ["## `cluster.toml` — `nirom cluster`", "",
            "Read by `clustering.config.ClusterConfig`. The local models take the offline tables "
            "(`[pod.<field>]`, `[ecm]`, `[indicator]`, `rule`, `stress_field`) with the meaning and defaults "
            "of `offline.toml` above.", "",
            *_example_rows(cluster_config, hints, ["problem", "output", "report"]), "",
            "### `[[training]]` — one table per training run", "", summary(TrainingRun), "",
            "| key | type | default | meaning |", "|---|---|---|---|",
            *[f"| `{name}` | a path | **required** | {_cell(text)} |"
              for name, text in docstring_entries(TrainingRun).items()], "",
            *_section("`[clustering]`", ClusteringSettings),
            *_section("`[features]`", FeatureSettings),
            *_section("`[classifier]`", ClassifierSettings)]

    # ----------------------------------------------------------------- submodel
    hints = typing.get_type_hints(submodel_driver.SubmodelConfig)
    out += ["## `submodel.toml` — `nirom submodel offline|mc`", "",
            "Read by `mpi_drivers.submodel.SubmodelConfig`. `boundary` defaults to `\"submodel_boundary\"`; "
            "`report` to `<output stem>_report.md`; `[reference]` and `[offline]` are optional tables "
            "(`offline` needs `[offline]`, `mc` needs `generator` and `output`).", "",
            *_example_rows(submodel_driver, hints, ["problem", "boundary", "generator", "output", "report"]), "",
            *_section("`[samples]`", SampleSettings),
            *_section("`[solver]`", SolverChoice),
            *_section("`[dynamics]`", DynamicsSettings),
            *_section("`[statistics]`", StatisticsSettings),
            *_section("`[reference]`", ReferenceSettings),
            *_section("`[offline]`", OfflineSettings)]

    # ----------------------------------------------------------------- problem
    defaults = effective_solver(_NoSolver())
    out += ["## Problem file — `nirom hifi problem.toml`, `problem = …` of the other files", "",
            "A TOML problem (below) or a Zset `.inp` deck (its `***resolution` gives the `[solver]` "
            "settings). Read by `io_adapters.read_problem`.", "",
            "### `[solver]` — the high-fidelity Newton solver", "",
            "`nirom hifi --rule/--linear-solver` override `rule` and `linear_solver`.", "",
            "| key | default | meaning |", "|---|---|---|",
            *[f"| `{key}` | {'`' + _literal(defaults[key]) + '`' if key in defaults else 'not set'} | "
              f"{_cell(text)} |" for key, text in SOLVER_KEYS.items()], "",
            "### Every section of a problem file", "",
            "From the docstring of `io_adapters/problem_toml.py`.", ""]
    for intro, block in literal_blocks(problem_toml):
        out += [intro, "", "```toml", block, "```", ""]
    return "\n".join(out).rstrip() + "\n"


class _NoSolver:
    """A problem without a ``[solver]`` table (for its defaults)."""

    solver: dict = {}


def main(argv=None) -> int:
    sys.stdout.write(generate())
    return 0


if __name__ == "__main__":
    sys.exit(main())
