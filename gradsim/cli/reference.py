"""The options reference (docs/options.md), generated from the commands themselves: every
command's options with their types, defaults and help, as ``gradsim COMMAND --help`` shows
them. ``python -m gradsim.cli.reference > docs/options.md`` writes it; a test fails when the
file and the commands drift apart."""

from __future__ import annotations

import click

from gradsim.cli import cli
from gradsim.cli.options import LIST_HELP

HEAD = """# Options reference

Every command and every option, generated from the commands themselves
(`python -m gradsim.cli.reference > docs/options.md`, or `make docs`); a test fails when this
page and the commands drift apart. `gradsim COMMAND --help` shows the same.

An option that takes a LIST takes one value, a comma list (`he,xavier`) or a range
`start:stop:count` (`0.5:2:16`): the command then runs every combination of the lists.
"""


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _flags(p: click.Option) -> str:
    names = [*p.opts, *p.secondary_opts]
    return ", ".join(f"`{n}`" for n in names)


def _kind(ctx: click.Context, p: click.Parameter) -> str:
    if isinstance(p, click.Option) and p.is_flag:
        return "flag"
    if isinstance(p.type, click.Choice):
        return " \\| ".join(f"`{c}`" for c in p.type.choices)
    metavar = p.make_metavar(ctx) if isinstance(p, click.Argument) else (p.metavar or "")
    return _cell(metavar) or p.type.name.lower()


def _default(p: click.Option) -> str:
    if p.is_flag or p.default is None or not p.show_default:
        return ""
    return f"`{p.default}`"


def command_markdown(name: str, cmd: click.Command) -> str:
    ctx = click.Context(cmd, info_name=name)
    doc = (cmd.help or "").split("\n\n")[0]
    lines = [f"## gradsim {name}", "", " ".join(doc.split()), ""]
    args = [p for p in cmd.params if isinstance(p, click.Argument)]
    if args:
        lines += [f"Arguments: {', '.join(f'`{_kind(ctx, a)}`' for a in args)}", ""]
    lines += ["| option | takes | default | what |", "|---|---|---|---|"]
    for p in cmd.params:
        if isinstance(p, click.Option) and not p.hidden:
            what = _cell((p.help or "").replace(LIST_HELP, ""))
            lines.append(f"| {_flags(p)} | {_kind(ctx, p)} | {_default(p)} | {what} |")
    return "\n".join(lines) + "\n"


def markdown() -> str:
    """The whole reference, one section per command in the group's order."""
    parts = [HEAD]
    for name in cli.list_commands(click.Context(cli)):
        parts.append(command_markdown(name, cli.get_command(click.Context(cli), name)))
    return "\n".join(parts)


if __name__ == "__main__":
    print(markdown(), end="")
