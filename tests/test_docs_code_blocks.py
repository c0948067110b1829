"""Every code block of the documentation runs: ``README.md`` and ``docs/**/*.md``.

The fenced blocks of each page run in order, in a fresh folder that looks like the
repository root (``examples``, ``tests`` and ``.venv`` are links to the repository's),
with the repository on ``PYTHONPATH`` and ``.venv/bin`` first on ``PATH`` (``nirom``,
``python``, ``mpiexec``). The info string says what a block is:

- ``python`` — run with the venv's interpreter; ``bash`` / ``sh`` / ``console`` — run
  by ``bash -e -o pipefail``; a failing block fails the test with its output;
- ``toml file=NAME`` (any language with ``file=NAME``) — written to ``NAME`` for the
  blocks after it (the configuration files of a tutorial);
- ``python no-run: REASON`` / ``bash no-run: REASON`` — not run, for a reason shown
  here (a job submission, ``make test`` itself); their number is bounded;
- anything else (``text``, ``toml`` without a file, no info string) is not code: a
  text block may not hold a command line (that would be an untested command).

Also here: ``docs/configuration.md`` is the output of
``python -m mpi_drivers.config_reference`` (the reference cannot drift from the code).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
RUNS = {"python", "py", "bash", "sh", "shell", "console"}

#: At most this many blocks may be marked ``no-run`` over all pages.
MAX_SKIPPED = 8

#: Blocks of pages this test's owners do not edit, not run (keyed by page and first line).
EXTERNAL_SKIPS = {
    ("docs/submodel.md", "class BoundaryGenerator(Protocol):"):
        "an API signature, not a program (mark it ```python no-run: … in docs/submodel.md)",
}

#: A line of a ``text`` block that is a command (it belongs in a bash block).
COMMAND = re.compile(r"^\s*(\$ |mpiexec |mpirun |srun |sbatch |qsub |make |\.venv/bin/|python |pip "
                     r"|nirom (convert|info|hifi|offline|online|cluster|--\w+)( [^\s:─]*[./-]|$))")


@dataclass
class Block:
    page: str
    line: int
    info: str
    code: str

    @property
    def language(self) -> str:
        return self.info.split()[0].lower() if self.info.split() else ""

    @property
    def file(self) -> str | None:
        match = re.search(r"\bfile=(\S+)", self.info)
        return match[1] if match else None

    @property
    def skip_reason(self) -> str | None:
        match = re.search(r"\bno-run\b:?\s*(.*)$", self.info)
        if match:
            return match[1].strip()
        return EXTERNAL_SKIPS.get((self.page, self.code.strip().splitlines()[0] if self.code.strip() else ""))

    @property
    def runs(self) -> bool:
        return self.language in RUNS and self.file is None and self.skip_reason is None

    def where(self) -> str:
        return f"{self.page}:{self.line}"


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def blocks(page: Path) -> list[Block]:
    """The fenced blocks of a page (fences at the start of a line; ``~~~`` too)."""
    out, current, fence = [], None, None
    name = str(page.relative_to(ROOT))
    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), start=1):
        if current is None:
            match = re.match(r"^(```+|~~~+)\s*(.*)$", line)
            if match:
                fence, current = match[1], Block(name, number, match[2].strip(), "")
        elif line.startswith(fence) and not line[len(fence):].strip():
            out.append(current)
            current = None
        else:
            current.code += line + "\n"
    assert current is None, f"{name}:{current.line}: a code block is not closed"
    return out


ALL = {str(page.relative_to(ROOT)): blocks(page) for page in pages()}


# ================================================================ the rules
def test_skipped_blocks_are_few_and_say_why():
    skipped = [b for page in ALL.values() for b in page if b.skip_reason is not None]
    assert all(b.skip_reason for b in skipped), [b.where() for b in skipped if not b.skip_reason]
    assert len(skipped) <= MAX_SKIPPED, "\n".join(f"{b.where()}: {b.skip_reason}" for b in skipped)
    print("\nnot run:\n" + "\n".join(f"  {b.where()}: {b.skip_reason}" for b in skipped))


def test_no_command_hides_in_a_text_block():
    hidden = [f"{b.where()}: {line.strip()}" for page in ALL.values() for b in page
              if b.language not in RUNS and b.file is None for line in b.code.splitlines() if COMMAND.match(line)]
    assert not hidden, "commands in blocks that do not run (use ```bash, or ```bash no-run: <reason>):\n" \
        + "\n".join(hidden)


def test_the_guide_and_the_readme_have_code_that_runs():
    runnable = {page: sum(b.runs for b in page_blocks) for page, page_blocks in ALL.items()}
    assert runnable["README.md"] >= 2
    assert runnable["docs/guide/tutorial.md"] >= 8


def test_the_configuration_reference_is_generated():
    """docs/configuration.md is what ``python -m mpi_drivers.config_reference`` prints."""
    from mpi_drivers.config_reference import generate

    committed = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert committed == generate(), ("docs/configuration.md is out of date: regenerate it with "
                                     "`python -m mpi_drivers.config_reference > docs/configuration.md`")


# ================================================================ running the pages
def _folder(tmp_path: Path) -> Path:
    for name in ("examples", "tests", ".venv"):
        (tmp_path / name).symlink_to(ROOT / name, target_is_directory=True)
    return tmp_path


def _environment() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "PMIX_", "HYDRA_", "MPIR_", "OMPI_"))}
    env.update(PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
               PYTHONPATH=os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])]),
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
    return env


def run_page(page: str, folder: Path) -> list[tuple[str, float]]:
    """Run a page's blocks in order in ``folder``; the time of each block that ran."""
    env, timings = _environment(), []
    for i, block in enumerate(ALL[page]):
        if block.file is not None:
            target = folder / block.file
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.code)
            continue
        if not block.runs:
            continue
        if block.language in ("python", "py"):
            script = folder / f"_block{i}.py"
            script.write_text(block.code)
            command = [sys.executable, str(script)]
        else:
            script = folder / f"_block{i}.sh"
            script.write_text(block.code)
            command = ["bash", "-e", "-o", "pipefail", str(script)]
        start = time.perf_counter()
        done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=300)
        timings.append((block.where(), time.perf_counter() - start))
        assert done.returncode == 0, (f"{block.where()} ({block.language}) failed with exit code {done.returncode}:\n"
                                      f"{block.code}\n--- stdout\n{done.stdout[-3000:]}\n--- stderr\n"
                                      f"{done.stderr[-3000:]}")
    return timings


@pytest.mark.parametrize("page", [p for p, page_blocks in ALL.items() if any(b.runs for b in page_blocks)])
def test_the_code_blocks_run(page, tmp_path, capsys):
    timings = run_page(page, _folder(tmp_path))
    with capsys.disabled():
        print(f"\n{page}: " + ", ".join(f"{where.split(':')[1]} {seconds:.1f} s" for where, seconds in timings))
