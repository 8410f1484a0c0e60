"""The options that describe a network, shared by every command that builds one."""

from __future__ import annotations

import click

from gradsim.activations import ACTIVATION_ALIASES, ACTIVATIONS
from gradsim.config import BIAS_INITS, DTYPES, RunConfig
from gradsim.errors import GradsimError
from gradsim.initializers import INIT_ALIASES, INITIALIZERS, MODES
from gradsim.losses import LOSSES


def _complete(names):
    def complete(ctx, param, incomplete):
        return [n for n in sorted(names) if n.startswith(incomplete)]

    return complete


def parse_int_list(text: str, what: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise GradsimError(f"{what} must be comma-separated whole numbers (got '{text}')") from None


NETWORK_OPTIONS = [
    click.option("--depth", "-L", type=int, default=None,
                 help="Number of layers L (default 50, or from --widths)."),
    click.option("--width", "-n", type=int, default=256, show_default=True,
                 help="Width of every layer."),
    click.option("--widths", default=None, metavar="N0,N1,...,NL",
                 help="Every width n_0 … n_L (L+1 numbers), instead of --width."),
    click.option("--batch", "-b", type=int, default=128, show_default=True,
                 help="Inputs per pass B, drawn from N(0, 1)."),
    click.option("--act", "--activation", "activation", default="relu", show_default=True,
                 shell_complete=_complete([*ACTIVATIONS, *ACTIVATION_ALIASES]),
                 help=f"Activation: {', '.join(ACTIVATIONS)}."),
    click.option("--slope", type=float, default=None,
                 help="leaky_relu's negative slope [default: 0.01]."),
    click.option("--init", default="he", show_default=True,
                 shell_complete=_complete([*INITIALIZERS, *INIT_ALIASES]),
                 help="Initializer (see `gradsim list`): " + ", ".join(INITIALIZERS) + "."),
    click.option("--gain", type=float, default=1.0, show_default=True,
                 help="γ: multiplies the initializer's own scale."),
    click.option("--mode", type=click.Choice(MODES), default=None,
                 help="Fan used by variance-scaling inits [default: the init's own]."),
    click.option("--std", type=float, default=1.0, show_default=True,
                 help="normal / truncated_normal: standard deviation."),
    click.option("--low", type=float, default=-1.0, show_default=True, help="uniform: lower end."),
    click.option("--high", type=float, default=1.0, show_default=True, help="uniform: upper end."),
    click.option("--value", type=float, default=0.1, show_default=True,
                 help="constant: the weight value."),
    click.option("--truncated", is_flag=True,
                 help="Draw normals truncated at ±2σ, variance kept (Keras style)."),
    click.option("--bias-init", type=click.Choice(BIAS_INITS), default=None,
                 help="Biases [default: zeros; U(±1/√fan_in) for torch_default]."),
    click.option("--bias-std", type=float, default=0.1, show_default=True,
                 help="--bias-init normal: σ_b."),
    click.option("--bias-value", type=float, default=0.1, show_default=True,
                 help="--bias-init constant: the value."),
    click.option("--loss", type=click.Choice(list(LOSSES)), default="mse", show_default=True,
                 help="mse: E=‖H_L−T‖²/2B; probe: ∂E/∂H_L ~ N(0,1); sum: E=ΣH_L/B."),
    click.option("--seed", type=int, default=0, show_default=True,
                 help="Root of every random stream."),
    click.option("--dtype", type=click.Choice(DTYPES), default="float32", show_default=True),
    click.option("--threshold", type=float, default=100.0, show_default=True,
                 help="A ratio beyond ×T or below ÷T is a verdict."),
]  # fmt: skip

CONFIG_KEYS = (
    "depth", "width", "widths", "batch", "activation", "slope", "init", "gain", "mode", "std",
    "low", "high", "value", "truncated", "bias_init", "bias_std", "bias_value", "loss", "seed",
    "dtype", "threshold",
)  # fmt: skip


def network_options(f):
    """Decorate a command with every network option."""
    for option in reversed(NETWORK_OPTIONS):
        f = option(f)
    return f


def config_from(kwargs: dict) -> RunConfig:
    """Pop the network options out of a command's kwargs and build the RunConfig."""
    opts = {k: kwargs.pop(k) for k in CONFIG_KEYS}
    if opts["widths"] is not None:
        opts["widths"] = parse_int_list(opts["widths"], "--widths")
    return RunConfig(**opts)
