"""The network options (gradsim.options) as click options, shared by every command that
builds a network: ``network_options()`` for a single run, ``network_options(listable=True)``
for commands that compare (every listable option then takes a comma list or a
``start:stop:count`` range); ``config_from`` turns a command's keyword arguments into a
RunConfig (commands that compare hand theirs to the library, which expands the lists).
"""

from __future__ import annotations

from dataclasses import replace

import click

from gradsim.config import RunConfig
from gradsim.options import (
    CONFIG_KEYS,
    LIST_HELP,
    OPTIONS,
    Option,
    check_given,
    choice,
    parse_int_list,
)


class _Named(click.Choice):
    """click's Choice (the help's [a|b|c], completion) that takes names as users spell them
    (``options.choice``: any case, '-' for '_', aliases)."""

    def __init__(self, o: Option):
        super().__init__(o.choices)
        self.option = o

    def convert(self, value, param, ctx):
        return value if value is None else choice(self.option, str(value))


def _complete(names):
    def complete(ctx, param, incomplete):
        return [n for n in sorted(names) if n.startswith(incomplete)]

    return complete


def _click_option(o: Option, listable: bool):
    kw = {"help": o.help, "default": o.default, "show_default": o.show_default}
    if o.type is None:
        return click.option(*o.decls, o.dest, is_flag=True, help=o.help)
    if listable and o.listable:
        kw["type"] = str
        kw["metavar"] = "LIST"
        kw["help"] = o.help + LIST_HELP
    elif o.choices:
        kw["type"] = _Named(o)
    else:
        kw["type"] = o.type
    if o.names:
        kw["shell_complete"] = _complete(o.names)
    if o.dest == "widths":
        kw["metavar"] = "N0,N1,...,NL"
    return click.option(*o.decls, o.dest, **kw)


def network_options(f=None, *, listable: bool = False, only=None, defaults=None, helps=None):
    """Decorate a command with the network options (comma lists if ``listable``): every
    one, or those whose names are in ``only``, with ``defaults`` and ``helps`` replacing
    their own."""
    chosen = [o for o in OPTIONS if only is None or o.dest in only]
    defaults, helps = defaults or {}, helps or {}

    def deco(f):
        for o in reversed(chosen):
            o = replace(o, default=defaults.get(o.dest, o.default), help=helps.get(o.dest, o.help),
                        show_default=o.show_default or o.dest in defaults)  # fmt: skip
            f = _click_option(o, listable)(f)
        return f

    return deco(f) if f is not None else deco


def given(ctx: click.Context, name: str) -> bool:
    """Whether the user set option ``name`` (on the command line), not its default."""
    return ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT


def given_options(ctx: click.Context, kwargs: dict) -> dict:
    """The network options among a command's keyword arguments that the user set, checked
    against each other (``options.check_given``)."""
    opts = {k: kwargs[k] for k in CONFIG_KEYS if k in kwargs and given(ctx, k)}
    check_given(opts)
    return opts


def config_from(kwargs: dict) -> RunConfig:
    """Pop the network options out of a command's kwargs and build the RunConfig; options a
    command does not take keep RunConfig's defaults."""
    opts = {k: kwargs.pop(k) for k in CONFIG_KEYS if k in kwargs}
    if opts.get("widths") is not None:
        opts["widths"] = parse_int_list(opts["widths"], "--widths")
    return RunConfig(**opts)
