"""The tables of the docs that come from gradsim's registries, written between markers.

A page holds each generated table between two HTML comments:

    <!-- generated: initializers (make docs) -->
    ...
    <!-- end generated: initializers -->

``python docs/generate.py`` (``make docs``) rewrites what is between them from the
registries; tests/test_docs.py fails when a page and the registries drift apart.
"""

from __future__ import annotations

import re
import sys
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


TABLES = {
    "initializers": initializers,
    "activations": activations,
    "losses": losses,
    "tasks": tasks,
    "optimizers": optimizers,
}


def fill(text: str) -> str:
    """``text`` with every generated block rewritten from the registries; an unknown block
    name is a KeyError."""
    return _BLOCK.sub(lambda m: m.group(1) + TABLES[m.group("name")]() + m.group(4), text)


def blocks(text: str) -> list[str]:
    """The names of the generated blocks in ``text``, in order."""
    return [m.group("name") for m in _BLOCK.finditer(text)]


def main() -> None:
    for page in PAGES:
        path = DOCS / page
        text = path.read_text(encoding="utf-8")
        new = fill(text)
        if new != text:
            path.write_text(new, encoding="utf-8")
            print(f"docs/{page}: tables regenerated", file=sys.stderr)


if __name__ == "__main__":
    main()
