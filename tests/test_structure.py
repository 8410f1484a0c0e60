"""The house rules of docs/ARCHITECTURE.md, checked on the source: modules of one concern
(at most about 400 lines), functions of at most about 80, no private name imported from
another module, no import cycle (lazy imports inside functions count; imports only for
type checkers do not), and the numerical core free of rich, click and matplotlib."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "gradsim"
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 400, 80
PRESENTATION = ("gradsim.cli", "gradsim.report")


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()


def _tree(path: Path) -> ast.Module:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in list(ast.walk(tree)):  # what runs only under a type checker does not count
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            node.body = [ast.Pass()]
    return tree


def _imports(name: str) -> list[tuple[str, str]]:
    """(module, imported name) of every gradsim import in module ``name``."""
    out = []
    for node in ast.walk(_tree(MODULES[name])):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gradsim"):
            out += [(node.module, a.name) for a in node.names]
        elif isinstance(node, ast.Import):
            out += [(a.name, "") for a in node.names if a.name.startswith("gradsim")]
    return out


def _edges(name: str) -> set[str]:
    deps = set()
    for module, item in _imports(name):
        sub = f"{module}.{item}"
        deps.add(sub if sub in MODULES else module)
    return deps & set(MODULES)


def test_the_checks_see_the_package():
    assert {"gradsim.engine.forward_pass", "gradsim.api", "gradsim.cli.run"} <= set(MODULES)
    assert _edges("gradsim.engine.run") >= {"gradsim.engine.forward_pass"}


@pytest.mark.parametrize("name", MODULES)
def test_module_size_and_function_length(name):
    path = MODULES[name]
    lines = path.read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_MODULE_LINES, f"{path.name}: {lines} lines"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            n = node.end_lineno - node.lineno + 1
            assert n <= MAX_FUNCTION_LINES, f"{name}.{node.name}: {n} lines"


@pytest.mark.parametrize("name", MODULES)
def test_no_private_name_from_another_module(name):
    bad = [f"{m}.{i}" for m, i in _imports(name) if i.startswith("_") and not i.startswith("__")]
    assert not bad


def test_no_import_cycles():
    graph = {name: _edges(name) for name in MODULES}
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(v, path):
        state[v] = 1
        for w in sorted(graph[v]):
            if state.get(w) == 1:
                cycle = [*path[path.index(w) :], w]
                raise AssertionError("import cycle: " + " → ".join(cycle))
            if w not in state:
                visit(w, [*path, w])
        state[v] = 2

    for v in sorted(graph):
        if v not in state:
            visit(v, [v])


@pytest.mark.parametrize(
    "name", [m for m in MODULES if not m.startswith(PRESENTATION) and m != "gradsim.__main__"]
)
def test_the_core_imports_no_presentation_library(name):
    heavy = []
    for node in _tree(MODULES[name]).body:  # module level only: functions may import lazily
        mods = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])  # fmt: skip
        heavy += [m for m in mods if m.split(".")[0] in ("rich", "click", "matplotlib")]
        heavy += [m for m in mods if m.startswith(PRESENTATION)]
    assert not heavy
