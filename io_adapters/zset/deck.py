"""Zset ``.inp`` decks (``****calcul``, mechanical) read into a :class:`~io_adapters.problem.Problem`.

>>> from io_adapters.zset.deck import read_problem
>>> problem = read_problem("cube.inp")

Supported subset (see ``ZSET_FORMAT.md`` §6)
--------------------------------------------
- Syntax: ``%`` and ``#`` comments, ``@include file`` (relative to the including
  file, then to the deck), several commands on one line, parentheses stuck to
  numbers (``(0. 10. 0.)``), values wrapping over lines.
- ``****calcul`` (mechanical; other types, ``****simulate`` and anything but
  ``****post_processing`` blocks, which are skipped, are refused).
- ``***mesh **file F`` (``.geof`` or ``.geo``, relative to the deck).
- ``***resolution [newton]``: ``**cycles N``; ``*time``, ``*increment`` and
  ``*dtime`` lists (directly or in ``**sequence`` blocks, which chain);
  ``*ratio [mode] tol`` → ``solver["tolerance"]`` (and ``"tolerance_mode"``);
  ``*iteration N`` → ``solver["max_iterations"]``; ``*algorithm``,
  ``*automatic_time``, ``*divergence``, ``*security``, ``*max_dtime``,
  ``*min_dtime`` are ignored. Times: interval ``k`` runs from the previous end
  (0 first) to ``*time[k]`` in ``*increment[k]`` equal steps (``*dtime`` gives the
  step instead of the count; one value serves all intervals); ``**cycles N``
  repeats the list shifted by ``c·T_last``.
- ``***bc``: ``**impose_nodal_dof`` (``NSET U1|U2|U3 VALUE [TABLE]``),
  ``**pressure`` (``BSET VALUE|file F [TABLE]``; ``F`` holds one big-endian float32
  per facet of the bset in listing order, or is split, see below), ``**centrifugal``
  (``ELSET (cx cy cz) d1|d2|d3|(ax ay az) OMEGA [TABLE]``; ``ALL_ELEMENT`` means
  every cell).
- ``***parameter **file temperature``: ``*node``, ``*rec_size`` (the record size
  is taken from the mesh's node count and checked against the file: parallel
  runs' local files are shorter than the declared size), ``*cycle_conversion t0
  tEnd x`` (``tEnd`` ends the repetition; ``t0`` and ``x`` are not used, see
  below), key lines ``function EXPR; file F [k]`` (``EXPR`` linear in ``cycle``:
  its value at cycle 0 is the key time, its slope the period) or ``TIME file F
  [k]``; or the form ``*base_temperature constant V|file F [k]``,
  ``*max_temperature constant V|file F [k]``, ``*table NAME``.
- ``***table``: ``**name N`` and ``**cycle N t_start t_end`` (period = last
  ``*time``) with ``*time`` and ``*value`` lists.
- ``***output``: ``**output_first``, ``**component``, ``**save_all_variables``
  recorded; other options ignored.
- ``***material``: ``*file F`` (all cells) or ``**elset NAME`` + ``*file F``
  pairs; ``*integration …`` overrides the files' (at the ``***material`` level it
  applies to every material without its own).
- ``***linear_solver`` is ignored.

Any other command that may change the physics is refused with
``ConfigError: unsupported keyword '**xxx' in <file> line N``.

Key times and cycles of the temperature: the reference implementation repeats
the cycle-0 key list with the period equal to the last key time; this reader
uses the slope of the expressions in ``cycle`` (the same number for the decks
seen, e.g. ``0.0+cycle*10.`` … ``10.0+cycle*10.``), starting at the first key
time and ending at ``*cycle_conversion``'s second number when given.

Data files split per subdomain (parallel runs, ZSET_FORMAT.md §5)
-----------------------------------------------------------------
When a data file ``F`` = ``name.ext`` (a pressure file or a temperature record)
does not exist, the reader looks for ``name-001.ext`` … ``name-00N.ext``, one per
subdomain of the decomposition next to the mesh: ``stem.cut`` beside
``stem.geof``, the cuts ``stem-pcuts/stem-00k.cut`` (the folder ``***splitted``
names) and the meshes they name (``stem-pmeshes/stem-00k.geof``), read by
:func:`io_adapters.zset.parallel.read_split_layout` and checked against the
mesh (sizes, node ids). A global file, when present, is used and the split
files are not read.

- Nodal files (temperature ``file F k``): each holds records of the subdomain's
  node count (the deck's ``*rec_size`` stays the global count), in the
  subdomain mesh's node order; record ``k`` of each is scattered through the
  cut's ``nodes_local_to_global``. Interface nodes must carry the same value in
  every file that holds them (to float32 round-off), else an error names both
  files, the node id and both values. Every subdomain's file must exist.
- Per-facet pressure files: each holds one float32 per facet of the
  subdomain's copy of the face set (the bset of its ``stem-00k.geof``, in that
  listing order). Each local facet is matched to the facet of the global face
  set with the same node ids taken as a set (corners may be listed from
  another one); every global facet must be matched, a facet listed twice must
  carry one value, and a local facet that is not in the global face set is
  refused. A subdomain whose copy of the face set is empty may lack its file.

When neither the global nor the split files exist, the error names the files
looked for. Sizes, non-finite values and mismatches name the file at fault.
"""

from __future__ import annotations

import ast
import itertools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from io_adapters.errors import ConfigError, InputError
from io_adapters.problem import (
    ALL_ELEMENT,
    Centrifugal,
    Dirichlet,
    Pressure,
    Problem,
    Temperature,
    TimeTable,
    MAX_TIME_STEPS_VARIABLE,
    available,
    facet_count,
    max_time_steps,
    read_nodal_values,
    time_steps,
)
from io_adapters.zset.cut import read_decomposition
from io_adapters.zset.parallel import (
    SplitLayout,
    decomposition_path,
    gather_facets,
    gather_nodal,
    local_facet_count,
    read_split_layout,
    split_names,
)

# --------------------------------------------------------------------- syntax
_KEYWORD = re.compile(r"^(\*{1,4})([A-Za-z_][\w.\-]*)$")
_COMMENT = re.compile(r"[%#].*")


@dataclass
class Line:
    """One logical line: a command with its arguments, or a data line."""

    tokens: list[str]
    text: str          # the line's text without comments (for ``function`` lines)
    path: Path
    lineno: int
    index: int         # position in the whole (included) text

    @property
    def where(self) -> str:
        return f"{self.path} line {self.lineno}"


@dataclass
class Block:
    """A command (``****`` to ``*``) with the commands and data lines under it."""

    keyword: str
    level: int
    args: list[str]
    line: Line | None
    children: list["Block"] = field(default_factory=list)
    data: list[Line] = field(default_factory=list)

    @property
    def where(self) -> str:
        return self.line.where if self.line else "(top level)"

    @property
    def name(self) -> str:
        return "*" * self.level + self.keyword

    def all_data(self) -> list[Line]:
        """Data lines of this block and of every block under it, in file order."""
        lines = list(self.data)
        for child in self.children:
            lines.extend(child.all_data())
        return sorted(lines, key=lambda line: line.index)

    def values(self) -> list[str]:
        """Arguments followed by the tokens of the data lines (values that wrap lines)."""
        return self.args + [t for line in self.all_data() for t in line.tokens]


def unsupported(block: Block, extra: str = "") -> ConfigError:
    """The error for a command this reader does not support."""
    where = f"{block.line.path} line {block.line.lineno}" if block.line else "the top level"
    return ConfigError(f"unsupported keyword '{block.name}' in {where}{extra}")


def read_lines(path: Path, *, root: Path | None = None, _stack: tuple[Path, ...] = (),
               _counter: list[int] | None = None) -> list[Line]:
    """The logical lines of a Zset text file, ``@include`` files spliced in.

    A physical line holding several commands (``***mesh **file a.geof``) gives
    one logical line per command; ``function`` data lines are kept whole.
    """
    path = Path(path)
    root = root or path.parent
    counter = _counter if _counter is not None else [0]
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    lines: list[Line] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        stripped = _COMMENT.sub("", raw).strip()
        tokens = stripped.replace("(", " ( ").replace(")", " ) ").split()
        if not tokens:
            continue
        if tokens[0] == "@include":
            if len(tokens) != 2:
                raise ConfigError(f"{path} line {lineno}: '@include' takes one file name, found {tokens[1:]}")
            target = next((p for p in ((path.parent / tokens[1]), (root / tokens[1])) if p.is_file()), None)
            if target is None:
                raise ConfigError(f"{path} line {lineno}: included file '{tokens[1]}' not found "
                                  f"(looked in {path.parent} and {root})")
            if target.resolve() in _stack:
                raise ConfigError(f"{path} line {lineno}: '{tokens[1]}' includes itself")
            if len(_stack) >= MAX_INCLUDE_DEPTH:
                raise ConfigError(f"{path} line {lineno}: '@include' files nested more than {MAX_INCLUDE_DEPTH} "
                                  "deep")
            lines.extend(read_lines(target, root=root, _stack=_stack + (path.resolve(),), _counter=counter))
            continue
        if tokens[0].startswith("function"):
            groups = [tokens]
        else:
            groups, current = [], []
            for token in tokens:
                if _KEYWORD.match(token) and current:
                    groups.append(current)
                    current = []
                current.append(token)
            groups.append(current)
        for group in groups:
            counter[0] += 1
            lines.append(Line(group, stripped, path, lineno, counter[0]))
    return lines


def parse_blocks(path: str | os.PathLike) -> Block:
    """The command tree of a Zset file (deck or material file).

    ``<stars>return`` closes the open commands of that level and below.

    Returns
    -------
    Block
        A root of level 5 whose children are the file's top-level commands.
    """
    root = Block("", 5, [], None)
    stack = [root]
    for line in read_lines(Path(path)):
        match = _KEYWORD.match(line.tokens[0])
        if not match:
            stack[-1].data.append(line)
            continue
        level, keyword = len(match.group(1)), match.group(2)
        while stack[-1].level <= level:
            stack.pop()
        if keyword == "return":
            continue
        block = Block(keyword, level, line.tokens[1:], line)
        stack[-1].children.append(block)
        stack.append(block)
    return root


_REAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eEdD][+-]?\d+)?")


def number(token: str) -> float | None:
    """A Zset real (``1.e5``, ``3E-08``, ``2.d3``, ``10``), or None when ``token`` is not one."""
    if not _REAL.fullmatch(token):
        return None
    return float(token.replace("d", "e").replace("D", "e"))


def is_number(token: str) -> bool:
    return number(token) is not None


def as_number(token: str, where: str, what: str) -> float:
    """``number(token)``, or ConfigError naming ``what`` and ``where`` (also for a number
    beyond the range of doubles, ``1e400``)."""
    value = number(token)
    if value is None:
        raise ConfigError(f"{where}: {what} must be a number, found '{token}'")
    if not np.isfinite(value):
        raise ConfigError(f"{where}: {what} must be a finite number, found '{token}' (beyond ±1.8e308)")
    return value


def as_int(token: str, where: str, what: str) -> int:
    value = as_number(token, where, what)
    if value != int(value):
        raise ConfigError(f"{where}: {what} must be an integer, found '{token}'")
    return int(value)


def numbers(tokens: list[str], where: str, what: str) -> list[float]:
    return [as_number(t, where, what) for t in tokens]


# ------------------------------------------------------- key-time expressions
#: Longest key-time expression read (a deck's are a few characters: ``5.0+cycle*10.``).
MAX_EXPRESSION_LENGTH = 1000
#: Deepest key-time expression read (parentheses, or operations in a chain such as ``1+1+…+1``).
MAX_EXPRESSION_DEPTH = 100
#: Deepest chain of ``@include`` files.
MAX_INCLUDE_DEPTH = 32


def _depth(tree) -> int:
    """Depth of a syntax tree (iterative: the tree may be deeper than Python's stack)."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def linear_in_cycle(expression: str) -> tuple[float, float]:
    """``(a, b)`` such that an arithmetic expression of ``cycle`` equals ``a + b·cycle``.

    Accepts numbers, ``cycle``, ``+ - * /`` and parentheses (e.g. ``5.0+cycle*10.``);
    raises ConfigError for anything else, a non-linear expression, one longer than
    :data:`MAX_EXPRESSION_LENGTH` characters or nested deeper than :data:`MAX_EXPRESSION_DEPTH`
    (Python's parser and the evaluation would exhaust the stack or the memory first).
    """
    text = expression.strip()
    shown = text if len(text) <= 60 else text[:57] + "..."
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ConfigError(f"the expression '{shown}' has {len(text)} characters (at most {MAX_EXPRESSION_LENGTH})")
    depth = max(itertools.accumulate(1 if c == "(" else -1 if c == ")" else 0 for c in text), default=0)
    if depth > MAX_EXPRESSION_DEPTH:
        raise ConfigError(f"the expression '{shown}' nests {depth} parentheses (at most {MAX_EXPRESSION_DEPTH})")
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError):
        raise ConfigError(f"cannot read the expression '{shown}'") from None
    except (RecursionError, MemoryError):
        raise ConfigError(f"the expression '{shown}' is nested too deeply (at most {MAX_EXPRESSION_DEPTH} "
                          "levels)") from None
    if _depth(tree) > MAX_EXPRESSION_DEPTH:
        raise ConfigError(f"the expression '{shown}' is nested {_depth(tree)} operations deep (at most "
                          f"{MAX_EXPRESSION_DEPTH})")
    expression = shown

    def value(node, cycle: float) -> float:
        if isinstance(node, ast.Expression):
            return value(node.body, cycle)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            return float(node.value)
        if isinstance(node, ast.Name) and node.id == "cycle":
            return cycle
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
            v = value(node.operand, cycle)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
            left, right = value(node.left, cycle), value(node.right, cycle)
            if isinstance(node.op, ast.Add):
                return left + right
            if isinstance(node.op, ast.Sub):
                return left - right
            if isinstance(node.op, ast.Mult):
                return left * right
            if right == 0:
                raise ConfigError(f"division by zero in the expression '{expression}'")
            return left / right
        raise ConfigError(f"the expression '{expression}' may only use numbers, 'cycle', + - * / and parentheses")

    f0, f1, f2 = (value(tree, c) for c in (0.0, 1.0, 2.0))
    if abs(f2 - 2 * f1 + f0) > 1e-9 * max(1.0, abs(f0), abs(f1), abs(f2)):
        raise ConfigError(f"the expression '{expression}' is not linear in cycle")
    return f0, f1 - f0


# --------------------------------------------------------------------- reader
_IGNORED_RESOLUTION = {"algorithm", "automatic_time", "divergence", "security", "max_dtime", "min_dtime"}
_DOFS = {"U1": 0, "U2": 1, "U3": 2}


def read_problem(path: str | os.PathLike) -> Problem:
    """Read a Zset ``****calcul`` deck.

    Parameters
    ----------
    path : path
        The ``.inp`` file; the mesh, material and data files it names are
        relative to its folder.

    Returns
    -------
    Problem
        ``source`` is the deck's path.

    Raises
    ------
    ConfigError
        Naming the file and line of an unsupported keyword, a missing file or
        an inconsistency (for split data files: the file at fault and what was
        expected; the original InputError is chained).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    base = path.parent
    root = parse_blocks(path)
    calculs = []
    for block in root.children:
        if block.level == 4 and block.keyword == "calcul":
            calculs.append(block)
        elif block.level == 4 and block.keyword == "simulate":
            raise ConfigError(f"{block.where}: this is a material-point simulation (****simulate), "
                              "not a ****calcul deck")
        elif block.level == 4 and block.keyword == "post_processing":
            continue
        else:
            raise unsupported(block, " (a deck holds one ****calcul block)")
    if len(calculs) != 1:
        raise ConfigError(f"{path}: a deck needs exactly one ****calcul block, found {len(calculs)}")
    calcul = calculs[0]
    if calcul.args and calcul.args != ["mechanical"]:
        raise ConfigError(f"{calcul.where}: unsupported calculation type '{' '.join(calcul.args)}' "
                          "(only mechanical ****calcul decks are supported)")
    _no_data(calcul)

    parts: dict[str, list[Block]] = {}
    for block in calcul.children:
        if block.level != 3:
            raise unsupported(block, " (expected a *** command inside ****calcul)")
        if block.keyword == "linear_solver":
            continue
        if block.keyword not in ("mesh", "resolution", "bc", "parameter", "table", "output", "material"):
            raise unsupported(block)
        if block.args and block.keyword != "resolution":
            raise ConfigError(f"{block.where}: unexpected '{' '.join(block.args)}' after {block.name}")
        parts.setdefault(block.keyword, []).append(block)
    for once in ("mesh", "resolution"):
        if len(parts.get(once, [])) > 1:
            raise ConfigError(f"{parts[once][1].where}: a second ***{once} block (first at {parts[once][0].where})")
    for needed in ("mesh", "resolution", "material"):
        if needed not in parts:
            raise ConfigError(f"{path}: the deck has no ***{needed} block")

    tables: dict[str, TimeTable] = {}
    for block in parts.get("table", []):
        _tables(block, tables)
    times, solver = _resolution(parts["resolution"][0])
    output: dict = {}
    for block in parts.get("output", []):
        _output(block, output)
    material_files = {}
    for block in parts["material"]:
        _material_entries(block, base, material_files)

    mesh, mesh_path = _mesh(parts["mesh"][0], base)
    split = _SplitData(mesh_path, mesh)
    from io_adapters.zset.material_file import parse_integration, read_material

    materials = {}
    for set_name, (file, integration, line) in material_files.items():
        if set_name != ALL_ELEMENT and set_name not in mesh.cell_sets:
            raise ConfigError(f"{line.where}: cell set '{set_name}' is not in the mesh "
                              f"(cell sets: {available([*mesh.cell_sets, ALL_ELEMENT])})")
        spec = read_material(file)
        if integration is not None:
            spec["integration"] = parse_integration(integration.args, integration.where)
        materials[set_name] = spec

    dirichlet, pressures, centrifugal = [], [], []
    for block in parts.get("bc", []):
        _bcs(block, mesh, base, split, tables, dirichlet, pressures, centrifugal)

    temperature = None
    for block in parts.get("parameter", []):
        for child in block.children:
            if child.level == 2 and child.keyword == "file" and child.args == ["temperature"]:
                if temperature is not None:
                    raise ConfigError(f"{child.where}: a second temperature parameter")
                temperature = _temperature(child, mesh, base, split, tables)
            else:
                raise unsupported(child, f" ('{' '.join(child.args)}'; only **file temperature is supported)"
                                  if child.keyword == "file" else "")
        if block.data:
            raise ConfigError(f"{block.data[0].where}: unexpected data under ***parameter")

    return Problem(mesh=mesh, materials=materials, dirichlet=tuple(dirichlet), pressures=tuple(pressures),
                   centrifugal=tuple(centrifugal), temperature=temperature, tables=tables, times=times,
                   solver=solver, output=output, source=str(path))


# ------------------------------------------------------------------ sections
def _no_data(block: Block) -> None:
    if block.data:
        raise ConfigError(f"{block.data[0].where}: unexpected '{' '.join(block.data[0].tokens)}' "
                          f"under {block.name}")


def _mesh(block: Block, base: Path):
    files = []
    for child in block.children:
        if child.level == 2 and child.keyword == "file":
            if len(child.args) != 1:
                raise ConfigError(f"{child.where}: **file takes one mesh file name, found {child.args}")
            files.append((child, child.args[0]))
        else:
            raise unsupported(child)
    _no_data(block)
    if len(files) != 1:
        raise ConfigError(f"{block.where}: ***mesh needs one **file, found {len(files)}")
    child, name = files[0]
    mesh_path = base / name
    if not mesh_path.is_file():
        raise ConfigError(f"{child.where}: mesh file {mesh_path} not found")
    from io_adapters.zset import read_mesh

    return read_mesh(mesh_path), mesh_path


def _resolution(block: Block) -> tuple[np.ndarray, dict]:
    if block.args and block.args[0] != "newton":
        raise ConfigError(f"{block.where}: unsupported resolution '{' '.join(block.args)}' (newton only)")
    cycles = 1
    default: list[Block] = []
    sequences: list[list[Block]] = []
    for child in block.children:
        if child.level == 2 and child.keyword == "cycles":
            if len(child.args) != 1:
                raise ConfigError(f"{child.where}: **cycles takes one number, found {child.args}")
            cycles = as_int(child.args[0], child.where, "the number of cycles")
            if cycles < 1:
                raise ConfigError(f"{child.where}: the number of cycles must be positive, found {cycles}")
            default.extend(child.children)
        elif child.level == 2 and child.keyword == "sequence":
            sequences.append(child.children)
        elif child.level == 1:
            default.append(child)
        else:
            raise unsupported(child)
    _no_data(block)
    if default:
        sequences.insert(0, default)
    ends: list[float] = []
    increments: list[int] = []
    solver: dict = {}
    for options in sequences:
        found: dict[str, Block] = {}
        for opt in options:
            if opt.keyword in _IGNORED_RESOLUTION:
                continue
            if opt.keyword not in ("time", "increment", "dtime", "ratio", "iteration"):
                raise unsupported(opt)
            if opt.keyword in found:
                raise ConfigError(f"{opt.where}: {opt.name} given twice (first at {found[opt.keyword].where})")
            found[opt.keyword] = opt
        if "ratio" in found:
            opt = found["ratio"]
            values = opt.values()
            if not values or len(values) > 2:
                raise ConfigError(f"{opt.where}: *ratio takes [mode] tolerance, found {values}")
            setting = {"tolerance": as_number(values[-1], opt.where, "the *ratio tolerance")}
            if len(values) == 2:
                setting["tolerance_mode"] = values[0]
            _merge_solver(solver, setting, opt)
        if "iteration" in found:
            opt = found["iteration"]
            values = opt.values()
            if len(values) != 1:
                raise ConfigError(f"{opt.where}: *iteration takes one number, found {values}")
            _merge_solver(solver, {"max_iterations": as_int(values[0], opt.where, "*iteration")}, opt)
        seq_ends, seq_incs = _intervals(found, ends[-1] if ends else 0.0)
        ends.extend(seq_ends)
        increments.extend(seq_incs)
    if not ends:
        raise ConfigError(f"{block.where}: ***resolution gives no *time (or *dtime) and *increment")
    try:
        times = time_steps(ends, increments, cycles=cycles)
    except ConfigError as exc:
        raise ConfigError(f"{block.where}: ***resolution: {exc}") from None
    return times, solver


def _merge_solver(solver: dict, setting: dict, opt: Block) -> None:
    for key, value in setting.items():
        if key in solver and solver[key] != value:
            raise ConfigError(f"{opt.where}: {opt.name} differs between sequences ({solver[key]} then {value}); "
                              "one setting for the whole run is supported")
        solver[key] = value


def _intervals(found: dict[str, Block], previous: float) -> tuple[list[float], list[int]]:
    time, inc, dtime = found.get("time"), found.get("increment"), found.get("dtime")
    if time is None and inc is None and dtime is None:
        return [], []
    where = (time or inc or dtime).where
    ends = numbers(time.values(), time.where, "*time values") if time else None
    counts = [as_int(v, inc.where, "*increment values") for v in inc.values()] if inc else None
    steps = numbers(dtime.values(), dtime.where, "*dtime values") if dtime else None
    if ends is not None and not ends:
        raise ConfigError(f"{time.where}: *time has no value")

    def broadcast(values, n, what, opt):
        if len(values) == 1:
            return values * n
        if len(values) != n:
            raise ConfigError(f"{opt.where}: {len(values)} {what} for {n} interval(s)")
        return values

    if ends is not None and counts is not None:
        if dtime is not None:
            raise ConfigError(f"{dtime.where}: give *increment or *dtime with *time, not both")
        return ends, broadcast(counts, len(ends), "*increment values", inc)
    if ends is not None and steps is not None:
        steps = broadcast(steps, len(ends), "*dtime values", dtime)
        counts, start = [], previous
        for end, dt in zip(ends, steps):
            ratio = (end - start) / dt if dt > 0 else 0.0
            if not np.isfinite(ratio) or ratio > max_time_steps():
                raise ConfigError(f"{dtime.where}: *dtime {dt} cuts [{start}, {end}] into {ratio:.3g} steps: at most "
                                  f"{max_time_steps()} (set {MAX_TIME_STEPS_VARIABLE} to raise the limit)")
            n = round(ratio)
            if n < 1 or abs(n * dt - (end - start)) > 1e-9 * max(abs(end - start), 1e-300):
                raise ConfigError(f"{dtime.where}: *dtime {dt} does not divide the interval [{start}, {end}]")
            counts.append(n)
            start = end
        return ends, counts
    if counts is not None and steps is not None:
        steps = broadcast(steps, len(counts), "*dtime values", dtime)
        ends, start = [], previous
        for n, dt in zip(counts, steps):
            if dt <= 0:
                raise ConfigError(f"{dtime.where}: *dtime must be positive, found {dt}")
            start = start + n * dt
            ends.append(start)
        return ends, counts
    missing = "*increment or *dtime" if ends is not None else "*time"
    raise ConfigError(f"{where}: the time sequence needs {missing} as well")


def _tables(block: Block, tables: dict[str, TimeTable]) -> None:
    _no_data(block)
    for child in block.children:
        if child.level != 2 or child.keyword not in ("name", "cycle"):
            raise unsupported(child)
        expected = 1 if child.keyword == "name" else 3
        if len(child.args) != expected:
            form = "**name NAME" if child.keyword == "name" else "**cycle NAME t_start t_end"
            raise ConfigError(f"{child.where}: expected '{form}', found '{' '.join([child.name] + child.args)}'")
        name = child.args[0]
        if name in tables:
            raise ConfigError(f"{child.where}: table '{name}' is defined twice")
        lists: dict[str, list[float]] = {}
        for opt in child.children:
            if opt.keyword not in ("time", "value") or opt.level != 1:
                raise unsupported(opt)
            if opt.keyword in lists:
                raise ConfigError(f"{opt.where}: table '{name}': *{opt.keyword} given twice")
            lists[opt.keyword] = numbers(opt.values(), opt.where, f"table '{name}' *{opt.keyword} values")
        _no_data(child)
        if set(lists) != {"time", "value"}:
            raise ConfigError(f"{child.where}: table '{name}' needs *time and *value lists")
        try:
            if child.keyword == "name":
                tables[name] = TimeTable(lists["time"], lists["value"])
            else:
                start, end = (as_number(v, child.where, "the **cycle start and end") for v in child.args[1:])
                tables[name] = TimeTable(lists["time"], lists["value"], period=lists["time"][-1],
                                         start=start, end=end)
        except ConfigError as exc:
            raise ConfigError(f"{child.where}: table '{name}': {exc}") from None


def _output(block: Block, output: dict) -> None:
    for child in block.children:
        if child.keyword == "output_first":
            output["output_first"] = True
        elif child.keyword == "save_all_variables":
            output["save_all_variables"] = True
        elif child.keyword == "component":
            output["components"] = child.values()
        # other output options (frequencies, curves, precision …) do not change the problem


def _material_entries(block: Block, base: Path, entries: dict) -> None:
    _no_data(block)
    top_file, top_integration = None, None
    elsets: list[tuple[str, Block, Block | None, Block]] = []
    for child in block.children:
        if child.level == 1 and child.keyword == "file":
            top_file = child
        elif child.level == 1 and child.keyword == "integration":
            top_integration = child
        elif child.level == 2 and child.keyword == "elset":
            if len(child.args) != 1:
                raise ConfigError(f"{child.where}: **elset takes one cell set name, found {child.args}")
            file = integration = None
            for opt in child.children:
                if opt.keyword == "file":
                    file = opt
                elif opt.keyword == "integration":
                    integration = opt
                else:
                    raise unsupported(opt)
            _no_data(child)
            if file is None:
                raise ConfigError(f"{child.where}: **elset {child.args[0]} has no *file")
            elsets.append((child.args[0], file, integration, child))
        else:
            raise unsupported(child)
    if top_file is not None:
        elsets.insert(0, (ALL_ELEMENT, top_file, None, top_file))
    if not elsets:
        raise ConfigError(f"{block.where}: ***material names no *file")
    for set_name, file, integration, anchor in elsets:
        if len(file.args) != 1:
            raise ConfigError(f"{file.where}: *file takes one material file name, found {file.args}")
        material_path = base / file.args[0]
        if not material_path.is_file():
            raise ConfigError(f"{file.where}: material file {material_path} not found")
        if set_name in entries:
            raise ConfigError(f"{anchor.where}: a second material for cell set '{set_name}'")
        entries[set_name] = (material_path, integration or top_integration, anchor.line)


def _check_set(kind: str, name: str, sets, line: Line) -> None:
    if name not in sets:
        raise ConfigError(f"{line.where}: {kind} '{name}' is not in the mesh ({kind}s: {available(sets)})")


def _bcs(block: Block, mesh, base: Path, split: _SplitData, tables: dict, dirichlet: list, pressures: list,
         centrifugal: list) -> None:
    _no_data(block)
    for child in block.children:
        if child.level != 2 or child.keyword not in ("impose_nodal_dof", "pressure", "centrifugal"):
            raise unsupported(child)
        if child.args or child.children:
            raise ConfigError(f"{child.where}: {child.name} takes its conditions on the following lines, "
                              f"found '{' '.join(child.args + [c.name for c in child.children])}'")
        for line in child.data:
            if child.keyword == "impose_nodal_dof":
                item, out = _imposed_dof(line, mesh), dirichlet
            elif child.keyword == "pressure":
                item, out = _pressure(line, mesh, base, split), pressures
            else:
                item, out = _centrifugal(line, mesh), centrifugal
            if item.table is not None and item.table not in tables:
                raise ConfigError(f"{line.where}: table '{item.table}' is not defined (tables: {available(tables)})")
            out.append(item)


def _imposed_dof(line: Line, mesh) -> Dirichlet:
    t = line.tokens
    if len(t) not in (3, 4):
        raise ConfigError(f"{line.where}: expected 'NSET U1|U2|U3 VALUE [TABLE]', found '{' '.join(t)}'")
    if t[1] not in _DOFS:
        raise ConfigError(f"{line.where}: unsupported degree of freedom '{t[1]}' in a mechanical deck "
                          f"(supported: {', '.join(_DOFS)})")
    _check_set("node set", t[0], mesh.node_sets, line)
    return Dirichlet(t[0], _DOFS[t[1]], as_number(t[2], line.where, "the imposed value"),
                     t[3] if len(t) == 4 else None)


def _pressure(line: Line, mesh, base: Path, split: _SplitData) -> Pressure:
    t = line.tokens
    form = "'BSET VALUE [TABLE]' or 'BSET file F [TABLE]'"
    if len(t) < 2:
        raise ConfigError(f"{line.where}: expected {form}, found '{' '.join(t)}'")
    _check_set("face set", t[0], mesh.face_sets, line)
    if t[1] == "file":
        if len(t) not in (3, 4):
            raise ConfigError(f"{line.where}: expected {form}, found '{' '.join(t)}'")
        file = base / t[2]
        if file.is_file():
            values = _facet_values(file, facet_count(mesh, t[0]), t[0], "", line.where)
        else:
            values = split.facets(file, t[0], line.where)
        table = t[3] if len(t) == 4 else None
    else:
        if len(t) not in (2, 3):
            raise ConfigError(f"{line.where}: expected {form}, found '{' '.join(t)}'")
        values = as_number(t[1], line.where, "the pressure value")
        table = t[2] if len(t) == 3 else None
    return Pressure(t[0], values, table)


def _facet_values(file: Path, n_facets: int, face_set: str, owner: str, where: str) -> np.ndarray:
    """One big-endian float32 per facet of a face set (``owner``: the mesh holding it, for messages)."""
    size = file.stat().st_size
    if size != 4 * n_facets:
        raise ConfigError(f"{where}: pressure file {file} holds {size} bytes = {size / 4:g} big-endian float32 "
                          f"values, but face set '{face_set}'{owner} has {n_facets} facets (one value per facet "
                          "is expected)")
    return read_nodal_values(file, n_facets, what=f"{where}: pressure") if n_facets else np.zeros(0)


def _vector3(tokens: list[str], i: int, line: Line, what: str) -> tuple[np.ndarray, int]:
    if tokens[i:i + 1] != ["("] or tokens[i + 4:i + 5] != [")"]:
        raise ConfigError(f"{line.where}: {what} must be written (x y z), found '{' '.join(tokens[i:i + 5])}'")
    return np.array(numbers(tokens[i + 1:i + 4], line.where, what)), i + 5


def _centrifugal(line: Line, mesh) -> Centrifugal:
    t = line.tokens
    form = "'ELSET (cx cy cz) d1|d2|d3 OMEGA [TABLE]'"
    if len(t) < 2:
        raise ConfigError(f"{line.where}: expected {form}, found '{' '.join(t)}'")
    center, i = _vector3(t, 1, line, "the centre")
    if i < len(t) and t[i] in ("d1", "d2", "d3"):
        axis = np.eye(3)[int(t[i][1]) - 1]
        i += 1
    elif i < len(t) and t[i] == "(":
        axis, i = _vector3(t, i, line, "the axis")
    else:
        raise ConfigError(f"{line.where}: expected the axis d1, d2, d3 or (ax ay az) after the centre, "
                          f"found '{' '.join(t[i:i + 1])}'")
    rest = t[i:]
    if len(rest) not in (1, 2):
        raise ConfigError(f"{line.where}: expected {form}, found '{' '.join(t)}'")
    omega = as_number(rest[0], line.where, "the angular velocity")
    cell_set = None if t[0] == ALL_ELEMENT and ALL_ELEMENT not in mesh.cell_sets else t[0]
    if cell_set is not None:
        _check_set("cell set", cell_set, mesh.cell_sets, line)
    return Centrifugal(cell_set, center, axis, omega, rest[1] if len(rest) == 2 else None)


def _temperature(block: Block, mesh, base: Path, split: _SplitData, tables: dict[str, TimeTable]) -> Temperature:
    options: dict[str, Block] = {}
    for opt in block.children:
        if opt.level != 1 or opt.keyword not in ("node", "rec_size", "cycle_conversion", "base_temperature",
                                                  "max_temperature", "table"):
            raise unsupported(opt, " (nodal temperature files only)" if opt.keyword == "integ" else "")
        if opt.keyword in options:
            raise ConfigError(f"{opt.where}: *{opt.keyword} given twice")
        options[opt.keyword] = opt
    if "node" not in options:
        raise ConfigError(f"{block.where}: **file temperature needs *node (nodal values); other supports "
                          "are not supported")
    rec_size = None
    if "rec_size" in options:
        opt = options["rec_size"]
        if len(opt.args) != 1:
            raise ConfigError(f"{opt.where}: *rec_size takes one number, found {opt.args}")
        rec_size = as_int(opt.args[0], opt.where, "*rec_size")
    n_nodes = mesh.n_nodes
    fields: list[np.ndarray] = []
    labels: list[str] = []
    index: dict[tuple[Path, int], int] = {}

    def record(file: str, k: int, where: str) -> int:
        path = (base / file)
        key = (path.resolve(), k)
        if key not in index:
            if path.is_file():
                fields.append(read_nodal_values(path, n_nodes, record=k, rec_size=rec_size,
                                                what=f"{where}: temperature"))
            else:
                fields.append(split.nodal(path, k, rec_size, where, "temperature"))
            labels.append(f"{file}:{k}")
            index[key] = len(fields) - 1
        return index[key]

    def source(opt: Block) -> np.ndarray:
        a = opt.args
        if len(a) == 2 and a[0] == "constant":
            return np.full(n_nodes, as_number(a[1], opt.where, f"*{opt.keyword} constant"))
        if len(a) in (2, 3) and a[0] == "file":
            k = as_int(a[2], opt.where, "the record number") if len(a) == 3 else 1
            return fields[record(a[1], k, opt.where)]
        raise ConfigError(f"{opt.where}: expected '*{opt.keyword} constant VALUE' or "
                          f"'*{opt.keyword} file F [record]', found '{' '.join(a)}'")

    data = block.all_data()
    if "base_temperature" in options:
        if data:
            raise ConfigError(f"{data[0].where}: key lines cannot be mixed with *base_temperature")
        missing = [k for k in ("max_temperature", "table") if k not in options]
        if missing:
            raise ConfigError(f"{options['base_temperature'].where}: *base_temperature needs "
                              + " and ".join(f"*{k}" for k in missing))
        opt = options["table"]
        if len(opt.args) != 1:
            raise ConfigError(f"{opt.where}: *table takes one table name, found {opt.args}")
        if opt.args[0] not in tables:
            raise ConfigError(f"{opt.where}: table '{opt.args[0]}' is not defined (tables: {available(tables)})")
        base_values = source(options["base_temperature"])
        max_values = source(options["max_temperature"])
        return Temperature.from_base_max(base_values, max_values, tables[opt.args[0]],
                                         labels=("base " + " ".join(options["base_temperature"].args),
                                                 "max " + " ".join(options["max_temperature"].args)))
    for extra in ("max_temperature", "table"):
        if extra in options:
            raise ConfigError(f"{options[extra].where}: *{extra} needs *base_temperature")
    if not data:
        raise ConfigError(f"{block.where}: **file temperature gives no key line ('function EXPR; file F k' "
                          "or 'TIME file F k')")
    key_times, slopes, which = [], [], []
    for line in data:
        if line.tokens[0].startswith("function"):
            body = line.text[len("function"):]
            if ";" not in body:
                raise ConfigError(f"{line.where}: expected 'function EXPR; file F [record]'")
            expression, rest = body.split(";", 1)
            try:
                a, b = linear_in_cycle(expression)
            except ConfigError as exc:
                raise ConfigError(f"{line.where}: {exc}") from None
            tokens = rest.split()
        elif is_number(line.tokens[0]):
            a, b, tokens = as_number(line.tokens[0], line.where, "the key time"), 0.0, line.tokens[1:]
        else:
            raise ConfigError(f"{line.where}: expected 'function EXPR; file F [record]' or 'TIME file F "
                              f"[record]', found '{' '.join(line.tokens)}'")
        if len(tokens) not in (2, 3) or tokens[0] != "file":
            raise ConfigError(f"{line.where}: expected 'file F [record]' after the key time, "
                              f"found '{' '.join(tokens)}'")
        k = as_int(tokens[2], line.where, "the record number") if len(tokens) == 3 else 1
        key_times.append(a)
        slopes.append(b)
        which.append(record(tokens[1], k, line.where))
    if any(abs(s - slopes[0]) > 1e-9 * max(1.0, abs(slopes[0])) for s in slopes):
        raise ConfigError(f"{block.where}: the key times grow by different amounts per cycle ({slopes}); "
                          "one period is supported")
    period = slopes[0] if slopes[0] != 0 else None
    end = None
    if period is not None and "cycle_conversion" in options:
        opt = options["cycle_conversion"]
        values = numbers(opt.args, opt.where, "*cycle_conversion values")
        if len(values) != 3:
            raise ConfigError(f"{opt.where}: *cycle_conversion takes 't0 tEnd x', found {opt.args}")
        end = values[1]
    if period is not None and period < 0:
        raise ConfigError(f"{block.where}: the key times decrease with cycle (slope {period})")
    try:
        return Temperature.from_key_times(key_times, np.array(fields), which, period=period, end=end,
                                          labels=labels)
    except ConfigError as exc:
        raise ConfigError(f"{block.where}: {exc}") from None


# ------------------------------------------------------- split input data
class _SplitData:
    """Data files split per subdomain (``F-001.ext`` … ``F-00N.ext``), read through the mesh's decomposition.

    The decomposition next to the deck's mesh ``stem.geof`` (``stem.cut``,
    ``stem-pcuts/``, ``stem-pmeshes/``) is read once, when a data file is first
    found only split.
    """

    def __init__(self, mesh_path: Path, mesh):
        self.mesh_path, self.mesh = mesh_path, mesh
        self.cut = decomposition_path(mesh_path)
        self._n_domains: int | None = None
        self._layout: SplitLayout | None = None

    def nodal(self, file: Path, record: int, rec_size: int | None, where: str, what: str) -> np.ndarray:
        """Record ``record`` of a nodal file present only split, as a global ``(n_nodes,)`` array."""
        names = self._names(file, where, f"{what}: file")
        layout = self._layout_for(where)
        missing = [p for p in names if not p.is_file()]
        if missing:
            raise ConfigError(f"{where}: {what}: file {file} is split over the {layout.n_domains} subdomains of "
                              f"{layout.cut}, but {_listing(missing)} {'is' if len(missing) == 1 else 'are'} "
                              "missing")
        values = [read_nodal_values(p, len(d.nodes_local_to_global), record=record, rec_size=rec_size,
                                    what=f"{where}: {what} (subdomain {k + 1} of {layout.cut.name}, "
                                         f"{len(d.nodes_local_to_global)} nodes)")
                  for k, (p, d) in enumerate(zip(names, layout.domains))]
        try:
            return gather_nodal(layout, names, values)
        except InputError as exc:
            raise ConfigError(f"{where}: {what}: {exc}") from exc

    def facets(self, file: Path, face_set: str, where: str) -> np.ndarray:
        """Per-facet pressure values of a face set from files present only split, in the global face set's order.

        A subdomain whose copy of the face set is empty may lack its file.
        """
        names = self._names(file, where, "pressure file")
        layout = self._layout_for(where)
        values = []
        for k, name in enumerate(names):
            n_local = local_facet_count(layout, k, face_set)
            if name.is_file():
                values.append(_facet_values(name, n_local, face_set, f" in {layout.meshes[k].path}", where))
            elif n_local:
                raise ConfigError(f"{where}: pressure file {file} is split over the {layout.n_domains} subdomains "
                                  f"of {layout.cut}, but {name} is missing (face set '{face_set}' has {n_local} "
                                  f"facets in {layout.meshes[k].path})")
            else:
                values.append(np.zeros(0))
        try:
            return gather_facets(layout, face_set, names, values)
        except InputError as exc:
            raise ConfigError(f"{where}: pressure: {exc}") from exc

    def _names(self, file: Path, where: str, what: str) -> list[Path]:
        """The split names of ``file`` (absent), or ConfigError saying which files were looked for.

        ``what`` starts the messages (``"pressure file"``, ``"temperature: file"``).
        """
        if not self.cut.is_file():
            first = split_names(file, 1)[0]
            if first.is_file():
                raise ConfigError(f"{where}: {what} {file} not found; the split file {first} exists, but "
                                  f"there is no decomposition {self.cut} next to the mesh {self.mesh_path} to "
                                  "place its values")
            raise ConfigError(f"{where}: {what} {file} not found (looked for {file.name}, and for split "
                              f"files {first.name}, ... with a decomposition {self.cut}, which does not exist)")
        names = split_names(file, self._domain_count(where))
        if not any(p.is_file() for p in names):
            raise ConfigError(f"{where}: {what} {file} not found (looked for {file.name}, and for the split "
                              f"files {_listing(names)} of the {len(names)} subdomains of {self.cut.name}: none "
                              "exists)")
        return names

    def _domain_count(self, where: str) -> int:
        if self._n_domains is None:
            try:
                self._n_domains = read_decomposition(self.cut).n_domains
            except InputError as exc:
                raise ConfigError(f"{where}: {exc}") from exc
        return self._n_domains

    def _layout_for(self, where: str) -> SplitLayout:
        if self._layout is None:
            try:
                self._layout = read_split_layout(self.mesh_path, self.mesh)
            except InputError as exc:
                raise ConfigError(f"{where}: split data files need the decomposition of {self.mesh_path}: "
                                  f"{exc}") from exc
        return self._layout


def _listing(paths: list[Path]) -> str:
    """``a-001.node, a-002.node`` (first and last only beyond four)."""
    names = [p.name for p in paths]
    return ", ".join(names) if len(names) <= 4 else f"{names[0]}, {names[1]}, ..., {names[-1]}"
