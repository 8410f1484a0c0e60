"""The documentation against the code: the generated pages, the JSON contract (both ways),
every documented command line, the README's examples and transcripts, and the links.

Each test names what to do when it fails: `make docs` for the generated parts, otherwise
the page and the line to fix.
"""

import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import gradsim
from gradsim.activations import canonical_activation
from gradsim.cli import cli
from gradsim.initializers import canonical_init

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
# every page whose examples and links are checked; docs/ARCHITECTURE.md is the code's map
PAGES = [README, *sorted(p for p in DOCS.glob("*.md") if p.name != "ARCHITECTURE.md")]
README_MAX_BYTES = 12_000  # the README is a front door; the detail lives in docs/
SERVES = {"explore"}  # serves until Ctrl-C: parsed here, run by tests/test_explore_server.py


def page_id(p: Path) -> str:
    return str(p.relative_to(ROOT))


# ---------------------------------------------------------------- generated parts


def _generator():
    spec = importlib.util.spec_from_file_location("docs_generate", DOCS / "generate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_options_page_is_generated():
    from gradsim.cli.reference import markdown

    page = (DOCS / "options.md").read_text(encoding="utf-8")
    assert page == markdown(), (
        "docs/options.md differs from `python -m gradsim.cli.reference`: run `make docs`"
    )


def test_registry_tables_are_generated():
    gen = _generator()
    used = []
    for name in gen.PAGES:
        text = (DOCS / name).read_text(encoding="utf-8")
        used += gen.blocks(text)
        assert gen.fill(text) == text, (
            f"docs/{name}: a table generated from the registries is out of date: run `make docs`"
        )
    assert sorted(used) == sorted(gen.TABLES), "every registry table appears once in the docs"


# ---------------------------------------------------------------- the JSON contract

_HEADING = re.compile(r"^### `([\w-]+)`\s*$")
_ROW = re.compile(r"^\| `(\w+)` \|(.*?)\|(.*)\|\s*$")
_REF = re.compile(r"\[`([\w-]+)`\]\(#[\w-]+\)")
_INCLUDES = re.compile(
    r"^Every field of \[`([\w-]+)`\]\(#[\w-]+\)(?: but ((?:`\w+`(,| and|) ?)+))?"
)


def parse_contract(text: str) -> dict[str, dict]:
    """docs/json.md's objects: {name: {"fields": {field: type cell}, "base": (name, but)}},
    an object being a `### \\`name\\`` heading, an optional "Every field of [`x`](#x) but
    `a` and `b`" line, and a table whose first column is the field in backticks."""
    objects: dict[str, dict] = {}
    current = None
    for line in text.splitlines():
        if m := _HEADING.match(line):
            current = objects.setdefault(m.group(1), {"fields": {}, "base": None})
        elif line.startswith("## "):
            current = None
        elif current is not None and (m := _INCLUDES.match(line)):
            current["base"] = (m.group(1), set(re.findall(r"`(\w+)`", m.group(2) or "")))
        elif current is not None and (m := _ROW.match(line)):
            assert m.group(1) not in current["fields"], f"json.md: `{m.group(1)}` twice"
            current["fields"][m.group(1)] = m.group(2).strip()

    def fields(name, seen=()):
        obj = objects[name]
        out = dict(obj["fields"])
        if obj["base"]:
            base, but = obj["base"]
            assert base not in seen, f"json.md: {name} includes itself"
            out = {k: v for k, v in fields(base, (*seen, name)).items() if k not in but} | out
        return out

    return {name: fields(name) for name in objects}


def _run_cli(*args) -> str:
    r = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert r.exit_code == 0, r.stderr
    return r.stdout


def _cli_json(*args) -> dict:
    return json.loads(_run_cli(*args, "--format", "json"))


SMALL = ("--depth", 6, "--width", 16, "--batch", 8)


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    """Real outputs of every kind, chosen so that every optional field and every variant of
    an object appears at least once."""
    tmp = tmp_path_factory.mktemp("json")
    train = ("train", "--depth", 3, "--width", 8, "--batch", 16, "--samples", 64, "--steps", 4)
    out = [
        _cli_json("run", *SMALL),
        _cli_json("run", *SMALL, "--hist", "--theory"),  # histograms binned by value
        # activations 10^-4 apart: histograms binned by log10|H|
        _cli_json("run", "--depth", 30, "--width", 32, "--batch", 16, "--init", "xavier", "--hist"),
        _cli_json("run", *SMALL[2:], "--depth", 20, "--init", "normal", "--dtype", "float16"),
        # 0.1^50 underflows float32
        _cli_json(
            "run", *SMALL[2:], "--depth", 50, "--act", "linear", "--init", "identity", "--gain", 0.1
        ),
        _cli_json("run", *SMALL, "--act", "leaky_relu", "--residual", "--norm", "batch"),
        _cli_json("compare", *SMALL, "--init", "he,xavier"),
        _cli_json(*train, "--task", "blobs", "--optimizer", "sgd,momentum,adam"),
        _cli_json(*train, "--lr", 1000),  # diverges
        _cli_json(*train, "--norm", "batch", "--clip-norm", 0.5),  # clipping, batch norm
        _cli_json("theory", "--act", "tanh", "--sigma-w", 1.33, "--sigma-b", 0.22, "--depth", 8),
        _cli_json("theory", "--act", "relu", "--init", "he", "--widths", "16,32,8"),
        _cli_json("spectrum", "--depth", 4, "--width", 8),
    ]
    compare = tmp / "compare.json"
    compare.write_text(json.dumps(out[6]))
    _run_cli("phase", "--act", "tanh", "--grid", 4, "-o", tmp / "phase.png", "--data",
             tmp / "phase.json", "--overlay", compare)  # fmt: skip
    out.append(json.loads((tmp / "phase.json").read_text()))
    sweep = gradsim.sweep(depth=[3, 4], width=8, batch=8, init=["he", "xavier"], seeds=2,
                          out=tmp / "sweep", jobs=1)  # fmt: skip
    out.append(json.loads(json.dumps(sweep.to_dict())))
    out.append(json.loads(_run_cli("export", tmp / "sweep", "--format", "json")))
    out.append(_cli_json("list"))
    return out


def _walk(objects, name, value, where, seen, problems):
    """Record the keys of ``value`` (object ``name``) and go down into the objects it holds."""
    if name not in objects:
        problems.append(f"{where}: object `{name}` is not documented in docs/json.md")
        return
    seen.setdefault(name, set()).update(value)
    documented = objects[name]
    for key, v in value.items():
        kind = documented.get(key)
        if kind is None:
            continue  # reported by the comparison of key sets
        items = v if isinstance(v, list) else [v]
        held = [x for x in items if isinstance(x, dict)]
        refs = _REF.findall(kind)
        if kind.startswith("map"):
            continue
        if held and not refs:
            problems.append(f"{where}.{key} holds objects, but docs/json.md gives it no "
                            f"object type (write it as [`name`](#name) object)")  # fmt: skip
            continue
        for x in held:
            _walk(objects, refs[0], x, f"{where}.{key}", seen, problems)


@pytest.fixture(scope="module")
def contract(samples):
    objects = parse_contract((DOCS / "json.md").read_text(encoding="utf-8"))
    seen: dict[str, set] = {}
    problems: list[str] = []
    for d in samples:
        _walk(objects, d["kind"], d, d["kind"], seen, problems)
    return objects, seen, problems


def test_json_doc_covers_every_kind(samples):
    objects = parse_contract((DOCS / "json.md").read_text(encoding="utf-8"))
    kinds = {d["kind"] for d in samples}
    assert kinds == {"run", "compare", "train", "theory", "spectrum", "phase", "sweep",
                     "sweep-records", "list"}  # fmt: skip
    assert kinds <= set(objects), f"docs/json.md has no table for {kinds - set(objects)}"


def test_every_written_json_field_is_documented(contract):
    objects, seen, problems = contract
    missing = [f"`{name}`: {sorted(keys - set(objects[name]))}"
               for name, keys in seen.items()
               if name in objects and keys - set(objects[name])]  # fmt: skip
    assert not problems and not missing, (
        "real JSON output has fields docs/json.md does not document:\n  "
        + "\n  ".join(problems + missing)
    )


def test_every_documented_json_field_is_written(contract):
    objects, seen, _ = contract
    unused = [f"`{name}`: {sorted(set(fields) - seen.get(name, set()))}"
              for name, fields in objects.items()
              if set(fields) - seen.get(name, set())]  # fmt: skip
    assert not unused, (
        "docs/json.md documents fields (or objects) that no real output has:\n  "
        + "\n  ".join(unused)
    )


def test_contract_parser_reads_the_page():
    """The parser sees the tables: a page it misread would make the two tests above vacuous."""
    objects = parse_contract((DOCS / "json.md").read_text(encoding="utf-8"))
    assert "log10_delta_rms" in objects["layer"] and "verdict" in objects["summary"]
    assert "seed" not in objects["sweep-base"] and "depth" in objects["sweep-base"]
    assert "loss" not in objects["train-config"] and "optimizer" in objects["train-config"]
    assert _REF.findall(objects["run"]["summary"]) == ["summary"]


# ---------------------------------------------------------------- documented command lines

_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
_INLINE = re.compile(r"(?<!`)`(gradsim [^`]+)`")


def _joined(block: str) -> list[str]:
    """The block's lines with backslash continuations joined."""
    return block.replace("\\\n", " ").splitlines()


def commands(text: str) -> list[tuple[str, bool]]:
    """Every `gradsim COMMAND …` of the page in the page's order, as (line, inline): the lines
    of code blocks (a leading `$ ` dropped; comments after `#` are dropped by shlex later),
    and inline code spans (``inline``: these may be fragments that leave out required
    options)."""
    names = set(cli.commands)
    found = []

    def spans(prose: str) -> None:
        for s in _INLINE.findall(prose):
            if s.split()[1] in names and "…" not in s and "..." not in s:
                found.append((s, True))

    pos = 0
    for m in _FENCE.finditer(text):
        spans(text[pos : m.start()])
        pos = m.end()
        for line in _joined(m.group(2)):
            line = line.strip().removeprefix("$ ")
            if line.startswith("gradsim ") and line.split()[1] in names:
                found.append((line, False))
    spans(text[pos:])
    return found


def _argv(line: str) -> list[str]:
    return shlex.split(line.split(" > ")[0], comments=True)[1:]


def check_command_line(argv: list[str], fragment: bool = False) -> None:
    """Parse a command line with the real click command, as running it would, without running
    it; network option values that name an initializer or an activation must exist. A
    ``fragment`` may leave out required options and arguments."""
    name, args = argv[0], argv[1:]
    cmd = cli.commands[name]
    try:
        ctx = cmd.make_context(name, list(args))
    except click.MissingParameter:
        if fragment:
            return
        raise
    except click.BadParameter as e:
        # a file the example writes first, or one the reader has: its name is fine
        if isinstance(e.param.type, click.Path) and "does not exist" in e.format_message():
            return
        raise
    for key, canonical in (("init", canonical_init), ("activation", canonical_activation)):
        value = ctx.params.get(key)
        for v in str(value).split(",") if value else ():
            canonical(v.strip())


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_documented_command_lines_parse(page):
    bad = []
    for line, fragment in commands(page.read_text(encoding="utf-8")):
        try:
            check_command_line(_argv(line), fragment)
        except (click.ClickException, gradsim.GradsimError) as e:
            msg = e.format_message() if isinstance(e, click.ClickException) else str(e)
            bad.append(f"{line}\n      → {msg}")
    assert not bad, f"{page_id(page)}: command lines the CLI rejects:\n  " + "\n  ".join(bad)


def test_command_extraction_finds_the_readme_examples():
    lines = [line for line, _ in commands(README.read_text(encoding="utf-8"))]
    assert {line.split()[1] for line in lines} == set(cli.commands), (
        "README.md should show every command at least once"
    )


def test_readme_commands_run(tmp_path, monkeypatch):
    """Every command of the README (code blocks and inline code alike), in the README's
    order (a file one writes, a later one reads), exits with code 0. No sizes are changed:
    the README's examples are chosen to be fast."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    runner = CliRunner()
    for line, _ in commands(README.read_text(encoding="utf-8")):
        if _argv(line)[0] in SERVES:
            continue
        r = runner.invoke(cli, _argv(line), catch_exceptions=False)
        assert r.exit_code == 0, f"README.md: `{line}` exited {r.exit_code}: {r.stderr}"


# ---------------------------------------------------------------- excerpts and figures


def _excerpts():
    spec = importlib.util.spec_from_file_location("docs_excerpts", DOCS / "excerpts.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


EX = _excerpts()


def _all_excerpts():
    return [(page, e) for page in EX.PAGES for e in EX.excerpts(page.read_text(encoding="utf-8"))]


@pytest.fixture(scope="module")
def excerpt_outputs(tmp_path_factory):
    """What each excerpt's command prints, as `make docs` runs it (COLUMNS=80, no colour,
    stdout not a terminal, an empty folder), but in this process: a few seconds in all. The
    ones marked slow are left to `make docs`."""
    cwd = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("excerpts"))
    try:
        out = {}
        for _, e in _all_excerpts():
            if e.slow or e.cmd in out:
                continue
            r = CliRunner().invoke(cli, _argv(e.cmd), env=EXCERPT_ENV, catch_exceptions=False)
            assert r.exit_code == int(e.attrs.get("exit", "0")), f"`{e.cmd}`: {r.stderr}"
            out[e.cmd] = r.stdout
        return out
    finally:
        os.chdir(cwd)


# as docs/excerpts.py runs them (None: unset)
EXCERPT_ENV = {**EX.ENV_SET, **dict.fromkeys(EX.ENV_UNSET)}  # as docs/excerpts.py runs them


def test_excerpts_are_current(excerpt_outputs):
    """Every excerpt shows what its command prints now."""
    stale = [line for page in EX.PAGES for line in EX.stale(page, excerpt_outputs)]
    assert not stale, "\n".join(stale) + "\nrun `make docs` (and read the diff: the prose too)"


def test_an_edited_excerpt_is_caught(excerpt_outputs, tmp_path):
    """The check above sees one changed character, and a line the command no longer prints."""
    text = README.read_text(encoding="utf-8")
    assert EX.fill(text, excerpt_outputs) == text
    edited = text.replace("verdict: STABLE", "verdict: STABIL", 1)
    assert edited != text and EX.fill(edited, excerpt_outputs) == text
    page = tmp_path / "README.md"
    page.write_text(edited, encoding="utf-8")
    assert EX.stale(page, excerpt_outputs) == [
        f"{page}: `gradsim run --depth 152 --init he` prints something else now"
    ]
    gone = text.replace('from="╭─ summary"', 'from="no such line"', 1)
    with pytest.raises(EX.DocsError, match="no longer prints a line with 'no such line'"):
        EX.fill(gone, excerpt_outputs)


def test_no_hand_copied_output():
    """Terminal output appears in the docs only inside an excerpt: no `$ gradsim` transcript
    and no box of a summary outside one."""
    for page in EX.PAGES:
        text = EX._EXCERPT.sub("", page.read_text(encoding="utf-8"))
        for _lang, body in _FENCE.findall(text):
            assert not body.startswith("$ gradsim") and "╭─" not in body, (
                f"{page_id(page)}: output copied by hand; make it an excerpt "
                f"(docs/excerpts.py):\n{body[:200]}"
            )


def test_excerpt_and_figure_commands_parse():
    for _page, e in _all_excerpts():
        if e.cmd.startswith("gradsim "):
            check_command_line(_argv(e.cmd))
    for page in EX.PAGES:
        text = " ".join(page.read_text(encoding="utf-8").replace("\\\n", " ").split())
        for fig in EX.figures(page):
            shown = EX._FIGURE.sub("", text)  # the prose and code, not the marker itself
            if fig.cmd.startswith("gradsim ") and " && " not in fig.cmd:
                assert fig.cmd in shown, f"{page_id(page)}: the page never shows `{fig.cmd}`"
            for cmd in filter(None, (c.strip() for c in fig.cmd.split(" && "))):
                if cmd.startswith("gradsim "):
                    check_command_line(_argv(cmd))
                else:
                    assert (ROOT / shlex.split(cmd)[1]).is_file(), f"{page_id(page)}: {cmd}"


def test_every_figure_is_drawn_by_make_docs():
    """Every image in docs/img is shown by a page and drawn by a figure marker on it."""
    shown, drawn = set(), set()
    for page in EX.PAGES:
        text = page.read_text(encoding="utf-8")
        shown |= {(page.parent / t).resolve() for t in re.findall(r"!\[[^]]*\]\(([^)]+)\)", text)}
        drawn |= {fig.img.resolve() for fig in EX.figures(page)}
    images = {p.resolve() for p in (DOCS / "img").glob("*.png")}
    assert shown == images, f"images not shown, or shown but missing: {shown ^ images}"
    assert drawn == images, f"images no marker draws: {sorted(p.name for p in images - drawn)}"


def python_blocks(text: str) -> list[str]:
    return [block for lang, block in _FENCE.findall(text) if lang == "python"]


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_python_examples_run(page, tmp_path, monkeypatch):
    """Every ```python block of the page runs, the blocks in order in one namespace."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    blocks = python_blocks(page.read_text(encoding="utf-8"))
    if page in (README, DOCS / "python.md"):
        assert blocks, f"{page_id(page)} has no Python example"
    namespace: dict = {}
    for i, block in enumerate(blocks, 1):
        exec(compile(block, f"{page_id(page)}, python block {i}", "exec"), namespace)


def test_readme_shell_completion_works():
    """The README's `eval "$(_GRADSIM_COMPLETE=bash_source gradsim)"`: the script click
    prints, and the completions it asks for (commands, option names, registry names)."""
    assert "_GRADSIM_COMPLETE=bash_source gradsim" in README.read_text(encoding="utf-8")
    exe = Path(sys.executable).with_name("gradsim")
    if not exe.exists():
        pytest.skip("no gradsim script beside this interpreter")

    def complete(words: str) -> list[str]:
        env = dict(os.environ, _GRADSIM_COMPLETE="bash_complete", COMP_WORDS=words,
                   COMP_CWORD=str(len(words.split()) - 1))  # fmt: skip
        out = subprocess.run([exe], env=env, capture_output=True, text=True, check=True)
        return [line.split(",", 1)[1] for line in out.stdout.splitlines()]

    source = subprocess.run([exe], env=dict(os.environ, _GRADSIM_COMPLETE="bash_source"),
                            capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "complete -o nosort -F _gradsim_completion gradsim" in source
    assert complete("gradsim ru") == ["run"]
    assert "leaky_relu" in complete("gradsim run --act le")
    assert "--depth" in complete("gradsim run --dep")


# ---------------------------------------------------------------- links and size

_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_relative_links_exist(page):
    text = page.read_text(encoding="utf-8")
    broken = [t for t in _LINK.findall(text)
              if "://" not in t and not (page.parent / t).exists()]  # fmt: skip
    assert not broken, f"{page_id(page)}: links to missing files: {broken}"


def test_readme_is_a_front_door():
    size = len(README.read_bytes())
    assert size <= README_MAX_BYTES, (
        f"README.md is {size} bytes (at most {README_MAX_BYTES}): move the detail into docs/"
    )


def test_docs_name_no_machine_paths():
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"/(work|home|tmp|root)/\w", text), f"{page_id(page)}: a machine path"
