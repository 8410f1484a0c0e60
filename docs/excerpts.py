"""The terminal excerpts and the figures of the docs, made by running the real commands.

An excerpt is a fenced block between two HTML comments that name its command:

    <!-- gradsim:excerpt cmd="gradsim run --depth 152 --init he" -->
    ```text
    $ gradsim run --depth 152 --init he
    ...what the command prints...
    ```
    <!-- /gradsim:excerpt -->

``python docs/generate.py`` (``make docs``) runs the command in a fresh process (in an empty
folder, COLUMNS=80, no colour, stdout a pipe) and rewrites the block with what it printed.
``from="TEXT"`` and ``to="TEXT"`` keep the lines from the first one that contains TEXT to the
first one after it that contains the other (both included); such a block shows no ``$`` line,
and the page's prose says which part it is, so a reader never takes a left-out part for
output. ``exit="3"`` expects that exit code; ``slow`` marks a command that ``make docs`` runs
but tests/test_docs.py does not.

A figure is a comment before the image that names the commands which draw it:

    <!-- gradsim:figure img="img/compare_152.png" out="compare.png" cmd="gradsim compare ..." -->

``make docs`` runs ``cmd`` (several joined by `` && ``; ``python`` is this interpreter, and a
``code`` attribute runs the page's next ```python block instead) in an empty folder and copies
``out`` to ``img`` (relative to the page). Figures are not drawn by the tests.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from gradsim.files import write_atomic

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
PAGES = (ROOT / "README.md", *sorted(p for p in DOCS.glob("*.md") if p.name != "options.md"))
COLUMNS = 80
TIMEOUT = 900  # seconds for one command: the slowest figure (a 1260-run sweep) takes minutes

_ATTR = re.compile(r'(\w+)(?:="([^"]*)")?')
_EXCERPT = re.compile(
    r"(?P<open><!-- gradsim:excerpt (?P<attrs>[^\n]*?) -->\n)(?P<body>.*?)"
    r"(?P<close><!-- /gradsim:excerpt -->)",
    re.S,
)
_FIGURE = re.compile(r"<!-- gradsim:figure (?P<attrs>[^\n]*?) -->")
_PYTHON = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


class DocsError(Exception):
    """A marker that cannot be honoured: a command that fails, a line that is not there."""


def attributes(text: str) -> dict[str, str]:
    """``key="value"`` pairs and bare flags (value ``""``) of a marker."""
    return {m.group(1): m.group(2) or "" for m in _ATTR.finditer(text)}


@dataclass(frozen=True)
class Excerpt:
    cmd: str
    attrs: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def slow(self) -> bool:
        return "slow" in self.attrs

    @property
    def selected(self) -> bool:
        return "from" in self.attrs or "to" in self.attrs


def excerpts(text: str) -> list[Excerpt]:
    """The excerpts of a page, in order."""
    out = []
    for m in _EXCERPT.finditer(text):
        a = attributes(m.group("attrs"))
        if not a.get("cmd"):
            raise DocsError(f"an excerpt marker without cmd: {m.group('open').strip()}")
        out.append(Excerpt(a["cmd"], a))
    return out


def _argv(cmd: str) -> list[str]:
    # a file of the repository (a script, a grid) is named by its path from the root
    argv = [str(ROOT / a) if "/" in a and (ROOT / a).is_file() else a for a in shlex.split(cmd)]
    if argv[0] == "gradsim":
        return [sys.executable, "-m", "gradsim", *argv[1:]]
    if argv[0] == "python":
        return [sys.executable, *argv[1:]]
    raise DocsError(f"{cmd!r}: a docs command starts with gradsim or python")


# what an excerpt's command runs under (the excerpt test uses the same)
ENV_SET = {"COLUMNS": str(COLUMNS), "LINES": "50", "NO_COLOR": "1", "TERM": "dumb",
           "MPLBACKEND": "Agg"}  # fmt: skip
ENV_UNSET = ("FORCE_COLOR", "CLICOLOR_FORCE")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_UNSET}
    return {**env, **ENV_SET}


def run(cmd: str, cwd: Path, expect: int = 0) -> str:
    """What ``cmd`` prints on stdout, run in ``cwd`` as a user would run it; an unexpected exit
    code is a DocsError with the command's stderr."""
    p = subprocess.run(_argv(cmd), cwd=cwd, env=_env(), capture_output=True, text=True,
                       timeout=TIMEOUT, check=False)  # fmt: skip
    if p.returncode != expect:
        tail = (p.stderr.strip().splitlines() or ["(nothing on stderr)"])[-1]
        raise DocsError(f"`{cmd}` exited {p.returncode} (expected {expect}): {tail}")
    return p.stdout


def output(ex: Excerpt) -> str:
    """The excerpt's command, run in an empty folder."""
    with tempfile.TemporaryDirectory(prefix="gradsim-docs-") as tmp:
        return run(ex.cmd, Path(tmp), int(ex.attrs.get("exit", "0")))


def _select(lines: list[str], ex: Excerpt) -> list[str]:
    start, stop = 0, len(lines)
    if (mark := ex.attrs.get("from")) is not None:
        start = next((i for i, ln in enumerate(lines) if mark in ln), None)
        if start is None:
            raise DocsError(f"`{ex.cmd}` no longer prints a line with {mark!r}")
    if (mark := ex.attrs.get("to")) is not None:
        stop = next((i + 1 for i in range(start, len(lines)) if mark in lines[i]), None)
        if stop is None:
            raise DocsError(f"`{ex.cmd}` no longer prints a line with {mark!r}")
    return lines[start:stop]


def block(ex: Excerpt, printed: str) -> str:
    """The fenced block that shows ``printed``: lines without trailing blanks, the command
    first unless only a part is shown."""
    lines = [ln.rstrip() for ln in printed.rstrip("\n").splitlines()]
    lines = _select(lines, ex) if ex.selected else [f"$ {ex.cmd}", *lines]
    return "```text\n" + "\n".join(lines) + "\n```\n"


def fill(text: str, outputs: dict[str, str]) -> str:
    """``text`` with every excerpt whose command is in ``outputs`` rewritten from it."""

    def sub(m):
        ex = Excerpt(attributes(m.group("attrs"))["cmd"], attributes(m.group("attrs")))
        if ex.cmd not in outputs:
            return m.group(0)
        return m.group("open") + block(ex, outputs[ex.cmd]) + m.group("close")

    return _EXCERPT.sub(sub, text)


def run_all(commands: list[Excerpt], jobs: int = 2) -> dict[str, str]:
    """{command: output} of the excerpts, ``jobs`` processes at a time."""
    unique = list({ex.cmd: ex for ex in commands}.values())
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        return dict(zip((ex.cmd for ex in unique), pool.map(output, unique), strict=True))


def stale(page: Path, outputs: dict[str, str]) -> list[str]:
    """The excerpts of ``page`` that differ from ``outputs``, as one line each."""
    text = page.read_text(encoding="utf-8")
    new = fill(text, outputs)
    if new == text:
        return []
    old_blocks = [m.group("body") for m in _EXCERPT.finditer(text)]
    new_blocks = [m.group("body") for m in _EXCERPT.finditer(new)]
    name = page.relative_to(ROOT) if page.is_relative_to(ROOT) else page
    return [f"{name}: `{ex.cmd}` prints something else now"
            for ex, a, b in zip(excerpts(text), old_blocks, new_blocks, strict=True)
            if a != b]  # fmt: skip


# ---------------------------------------------------------------- figures


@dataclass(frozen=True)
class Figure:
    page: Path
    img: Path
    out: str
    cmd: str
    code: str | None = None  # a ```python block to run instead of cmd
    slow: bool = False


def figures(page: Path) -> list[Figure]:
    text = page.read_text(encoding="utf-8")
    found = []
    for m in _FIGURE.finditer(text):
        a = attributes(m.group("attrs"))
        if "img" not in a or "out" not in a or ("cmd" not in a and "code" not in a):
            raise DocsError(f"{page.name}: a figure marker needs img, out and cmd or code")
        code = None
        if "code" in a:
            nxt = _PYTHON.search(text, m.end())
            if nxt is None:
                raise DocsError(f"{page.name}: a figure marker with code but no python block")
            code = nxt.group(1)
        found.append(Figure(page, page.parent / a["img"], a["out"], a.get("cmd", ""), code,
                            "slow" in a))  # fmt: skip
    return found


def draw(fig: Figure) -> None:
    """Run the figure's commands in an empty folder and copy what they drew to its image."""
    with tempfile.TemporaryDirectory(prefix="gradsim-docs-") as tmp:
        cwd = Path(tmp)
        if fig.code is not None:
            (cwd / "figure.py").write_text(fig.code, encoding="utf-8")
            run(f"python {cwd / 'figure.py'}", cwd)
        for cmd in filter(None, (c.strip() for c in fig.cmd.split(" && "))):
            run(cmd, cwd)
        made = cwd / fig.out
        if not made.is_file():
            raise DocsError(f"`{fig.cmd or 'the python block'}` did not write {fig.out}")
        write_atomic(fig.img, made.read_bytes())  # whole or not at all
