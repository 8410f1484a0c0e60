"""The options that describe a network, shared by every command that builds one.

Each option is one ``_Opt`` record. ``network_options()`` makes them click options for a
single run; ``network_options(listable=True)`` makes every listable one accept a comma list
or a ``start:stop:count`` range, and ``configs_from`` expands the cartesian product.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import click
import numpy as np

from gradsim.activations import ACTIVATION_ALIASES, ACTIVATIONS
from gradsim.config import BIAS_INITS, DTYPES, NORMS, RunConfig
from gradsim.errors import GradsimError
from gradsim.initializers import INIT_ALIASES, INITIALIZERS, MODES
from gradsim.losses import LOSSES


def _complete(names):
    def complete(ctx, param, incomplete):
        return [n for n in sorted(names) if n.startswith(incomplete)]

    return complete


@dataclass(frozen=True)
class _Opt:
    dest: str
    decls: tuple[str, ...]
    type: type | None  # int, float, str, or None for a flag
    default: object
    help: str
    choices: tuple[str, ...] | None = None
    names: tuple[str, ...] | None = None  # for shell completion
    listable: bool = True
    show_default: bool = True


OPTIONS = (
    _Opt("depth", ("--depth", "-L"), int, None,
         "Number of layers L [default: 50, or from --widths].", show_default=False),
    _Opt("width", ("--width", "-n"), int, 256, "Width of every layer."),
    _Opt("widths", ("--widths",), str, None,
         "Every width n_0,n_1,…,n_L (L+1 numbers), instead of --width.", listable=False),
    _Opt("batch", ("--batch", "-b"), int, 128, "Inputs per pass B, drawn from N(0, 1)."),
    _Opt("activation", ("--act", "--activation"), str, "relu",
         f"Activation: {', '.join(ACTIVATIONS)}.", names=(*ACTIVATIONS, *ACTIVATION_ALIASES)),
    _Opt("slope", ("--slope",), float, None, "leaky_relu's negative slope [default: 0.01].",
         show_default=False),
    _Opt("init", ("--init",), str, "he",
         "Initializer (aliases accepted; see `gradsim list`): " + ", ".join(INITIALIZERS) + ".",
         names=(*INITIALIZERS, *INIT_ALIASES)),
    _Opt("gain", ("--gain",), float, 1.0, "γ: multiplies the initializer's own scale."),
    _Opt("mode", ("--mode",), str, None,
         "Fan of variance-scaling inits [default: the init's own].", choices=MODES,
         show_default=False),
    _Opt("std", ("--std",), float, 1.0, "normal / truncated_normal: standard deviation."),
    _Opt("low", ("--low",), float, -1.0, "uniform: lower end."),
    _Opt("high", ("--high",), float, 1.0, "uniform: upper end."),
    _Opt("value", ("--value",), float, 0.1, "constant: the weight value."),
    _Opt("truncated", ("--truncated",), None, False,
         "Draw normals truncated at ±2σ, variance kept (Keras style).", listable=False),
    _Opt("bias_init", ("--bias-init",), str, None,
         "Biases [default: zeros; U(±1/√fan_in) for torch_default].", choices=BIAS_INITS,
         show_default=False),
    _Opt("bias_std", ("--bias-std",), float, 0.1, "--bias-init normal: σ_b."),
    _Opt("bias_value", ("--bias-value",), float, 0.1, "--bias-init constant: the value."),
    _Opt("loss", ("--loss",), str, "mse",
         "mse: E=‖H_L−T‖²/2B; probe: ∂E/∂H_L ~ N(0,1); sum: E=ΣH_L/B.",
         choices=tuple(LOSSES)),
    _Opt("residual", ("--residual",), None, False,
         "Skip connections: H_l = H_{l-1} + α·φ(Z_l) (equal widths).", listable=False),
    _Opt("residual_scale", ("--residual-scale",), float, 1.0,
         "α of --residual, e.g. 1/√L."),
    _Opt("norm", ("--norm",), str, "none",
         "Normalize H_{l-1}W_l before the bias: batch (per unit over the batch) or layer "
         "(per sample over the units).", choices=("none", *NORMS)),
    _Opt("seed", ("--seed",), int, 0, "Root of every random stream."),
    _Opt("dtype", ("--dtype",), str, "float32", "float32, float64 or float16.", choices=DTYPES),
    _Opt("threshold", ("--threshold",), float, 100.0,
         "A ratio beyond ×T or below ÷T is a verdict."),
)  # fmt: skip

CONFIG_KEYS = tuple(o.dest for o in OPTIONS)
LIST_HELP = " A comma list (or start:stop:count) compares several."


def _click_option(o: _Opt, listable: bool):
    kw = {"help": o.help, "default": o.default, "show_default": o.show_default}
    if o.type is None:
        return click.option(*o.decls, o.dest, is_flag=True, help=o.help)
    if listable and o.listable:
        kw["type"] = str
        kw["metavar"] = "LIST"
        kw["help"] = o.help + LIST_HELP
    elif o.choices:
        kw["type"] = click.Choice(o.choices)
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


def parse_int_list(text: str, what: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise GradsimError(f"{what} must be comma-separated whole numbers (got '{text}')") from None


def _convert(o: _Opt, item: str):
    flag = o.decls[0]
    if o.type in (int, float):
        try:
            return o.type(item)
        except ValueError:
            kind = "whole numbers" if o.type is int else "numbers"
            raise GradsimError(f"{flag} takes {kind} (got '{item}')") from None
    if o.choices and item not in o.choices:
        raise GradsimError(f"{flag}: '{item}' is not one of {', '.join(o.choices)}")
    return item


def parse_axis(o: _Opt, text) -> list:
    """'a,b,c' → [a, b, c]; 'start:stop:count' → count evenly spaced numbers."""
    if not isinstance(text, str):
        return [text]
    flag = o.decls[0]
    items: list = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if ":" in part and o.type in (int, float):
            bits = part.split(":")
            if len(bits) != 3:
                raise GradsimError(f"{flag}: a range is start:stop:count (got '{part}')")
            start, stop = (_convert(_Opt(o.dest, o.decls, float, 0, ""), b) for b in bits[:2])
            count = _convert(_Opt(o.dest, o.decls, int, 0, ""), bits[2])
            if count < 1:
                raise GradsimError(f"{flag}: a range needs count ≥ 1 (got {count})")
            values = np.linspace(start, stop, count).tolist()
            items += [round(v) for v in values] if o.type is int else values
        else:
            items.append(_convert(o, part))
    if not items:
        raise GradsimError(f"{flag} is empty")
    return list(dict.fromkeys(items))  # drop repeats, keep order


def given(ctx: click.Context, name: str) -> bool:
    """Whether the user set option ``name`` (on the command line), not its default."""
    return ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT


def config_from(kwargs: dict) -> RunConfig:
    """Pop the network options out of a command's kwargs and build the RunConfig; options a
    command does not take keep RunConfig's defaults."""
    opts = {k: kwargs.pop(k) for k in CONFIG_KEYS if k in kwargs}
    if opts.get("widths") is not None:
        opts["widths"] = parse_int_list(opts["widths"], "--widths")
    return RunConfig(**opts)


def configs_from(kwargs: dict, max_configs: int) -> tuple[dict[str, list], list[RunConfig]]:
    """Pop the (listable) network options and expand their cartesian product.

    Returns the axes that vary ({dest: values}) and one RunConfig per combination, in the
    order of the options and of the values given.
    """
    values = {}
    for o in OPTIONS:
        raw = kwargs.pop(o.dest, o.default)  # an option the command does not take: default
        values[o.dest] = parse_axis(o, raw) if (o.listable and raw is not None) else [raw]
    if values["widths"][0] is not None:
        values["widths"] = [parse_int_list(values["widths"][0], "--widths")]
    total = int(np.prod([len(v) for v in values.values()]))
    if total > max_configs:
        raise GradsimError(
            f"the lists give {total} configurations, more than --max-configs {max_configs}: "
            "shorten a list or raise --max-configs"
        )
    keys = list(values)
    configs = [RunConfig(**dict(zip(keys, combo, strict=True)))
               for combo in itertools.product(*values.values())]  # fmt: skip
    axes = {k: v for k, v in values.items() if len(v) > 1}
    return axes, configs
