"""Everything generated in the docs: the tables from gradsim's registries and the examples
folder, the terminal excerpts and the figures (the last two: docs/excerpts.py).

A page holds each generated table between two HTML comments:

    <!-- generated: initializers (make docs) -->
    ...
    <!-- end generated: initializers -->

``python docs/generate.py`` (``make docs``) rewrites what is between them from the
registries, reruns every excerpt's command and redraws every figure; tests/test_docs.py
fails when a page and the registries, or an excerpt and its command's output, drift apart.
``--skip-slow`` leaves out the excerpts and figures marked slow; ``--only`` one kind.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parent
PAGES = ("network.md", "training.md")
_BLOCK = re.compile(
    r"(<!-- generated: (?P<name>[\w-]+) \(make docs\) -->\n)(?P<body>.*?)"
    r"(<!-- end generated: (?P=name) -->)",
    re.S,
)


def _cell(text) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _table(head: tuple[str, ...], rows: list[tuple]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _codes(names) -> str:
    return ", ".join(f"`{n}`" for n in names)


def initializers() -> str:
    from gradsim.initializers import INITIALIZERS, aliases_of

    rows = [(f"`{name}`", rec.formula, _codes(aliases_of(name)), rec.default_mode or "",
             rec.bias, rec.source)
            for name, rec in INITIALIZERS.items()]  # fmt: skip
    return _table(("initializer", "W ~", "aliases", "default `--mode`", "biases", "note"), rows)


def activations() -> str:
    from gradsim.activations import ACTIVATION_ALIASES, ACTIVATIONS

    rows = []
    for name, rec in ACTIVATIONS.items():
        alias = [k for k, v in ACTIVATION_ALIASES.items() if v == name]
        label = f"`{name}`" + (f" ({_codes(alias)})" if alias else "")
        formula = rec.formula + (f"; {rec.note}" if rec.note else "")
        rows.append((label, formula, rec.derivative, f"{rec.gain:.4g}", rec.gain_source))
    return _table(("activation", "φ(z)", "φ'(z)", "gain", "gain from"), rows)


def losses() -> str:
    from gradsim.losses import LOSSES

    return _table(("loss", "definition"), [(f"`{n}`", r.formula) for n, r in LOSSES.items()])


def tasks() -> str:
    from gradsim.training.tasks import TASKS

    return _table(("task", "kind", "data"),
                  [(f"`{n}`", r.kind, r.summary) for n, r in TASKS.items()])  # fmt: skip


def optimizers() -> str:
    from gradsim.training.optimizers import OPTIMIZERS

    rows = [(f"`{n}`", r.formula,
             ", ".join(f"`--{k.replace('_', '-')}` {v:g}" for k, v in r.hyper.items()))
            for n, r in OPTIMIZERS.items()]  # fmt: skip
    return _table(("optimizer", "update", "options (default)"), rows)


def examples() -> str:
    """Every script of examples/, with the first line of its docstring."""
    rows = []
    for path in sorted((DOCS.parent / "examples").glob("*.py")):
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        first = " ".join(doc.split("\n\n")[0].split())
        rows.append((f"`examples/{path.name}`", first))
    return _table(("script", "what it shows"), rows)


TABLES = {
    "initializers": initializers,
    "activations": activations,
    "losses": losses,
    "tasks": tasks,
    "optimizers": optimizers,
    "examples": examples,
}


def fill(text: str) -> str:
    """``text`` with every generated block rewritten from the registries; an unknown block
    name is a KeyError."""
    return _BLOCK.sub(lambda m: m.group(1) + TABLES[m.group("name")]() + m.group(4), text)


def blocks(text: str) -> list[str]:
    """The names of the generated blocks in ``text``, in order."""
    return [m.group("name") for m in _BLOCK.finditer(text)]


def _write(path: Path, text: str) -> None:
    from gradsim.files import write_atomic

    write_atomic(path, text)  # whole or not at all


def tables() -> None:
    for page in PAGES:
        path = DOCS / page
        text = path.read_text(encoding="utf-8")
        new = fill(text)
        if new != text:
            _write(path, new)
            print(f"docs/{page}: tables regenerated", file=sys.stderr)


def _excerpts_module():
    sys.path.insert(0, str(DOCS))
    import excerpts

    return excerpts


def terminal_excerpts(skip_slow: bool) -> None:
    ex = _excerpts_module()
    wanted = [e for page in ex.PAGES for e in ex.excerpts(page.read_text(encoding="utf-8"))
              if not (skip_slow and e.slow)]  # fmt: skip
    outputs = ex.run_all(wanted)
    for page in ex.PAGES:
        text = page.read_text(encoding="utf-8")
        new = ex.fill(text, outputs)
        if new != text:
            _write(page, new)
            print(f"{page.relative_to(ex.ROOT)}: excerpts regenerated", file=sys.stderr)


def figures(skip_slow: bool) -> int:
    """Redraw the figures; one that cannot be drawn (no browser for the screenshot) is said
    in one line and the others are still drawn. The number that failed."""
    ex = _excerpts_module()
    failed = 0
    for page in ex.PAGES:
        for fig in ex.figures(page):
            if skip_slow and fig.slow:
                continue
            name = fig.img.relative_to(ex.ROOT)
            t0 = time.perf_counter()
            try:
                ex.draw(fig)
            except ex.DocsError as e:
                print(f"{name}: not drawn: {e}", file=sys.stderr)
                failed += 1
                continue
            print(f"{name}: drawn in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return failed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Regenerate the generated parts of the docs.")
    ap.add_argument("--only", choices=("tables", "excerpts", "figures"))
    ap.add_argument("--skip-slow", action="store_true", help="leave out what is marked slow")
    a = ap.parse_args(argv)
    try:
        if a.only in (None, "tables"):
            tables()
        if a.only in (None, "excerpts"):
            terminal_excerpts(a.skip_slow)
        if a.only in (None, "figures") and figures(a.skip_slow):
            return 2
    except Exception as e:  # one line, the docs' own or a command's error
        if type(e).__name__ != "DocsError":
            raise
        print(f"make docs: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
