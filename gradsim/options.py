"""The options that describe a network: one record each (``OPTIONS``), read by the command
line (gradsim.cli.options makes click options of them), the Python API (its keywords and
their defaults), the grid files of sweeps and the options reference (docs/options.md).

A listable option takes one value or several: a comma list ``"he,xavier"``, a range
``"start:stop:count"``, or (from Python) a list; ``expand`` makes the cartesian product.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from gradsim.activations import ACTIVATION_ALIASES, ACTIVATIONS
from gradsim.config import BIAS_INITS, NORMS, RunConfig
from gradsim.dtypes import DTYPE_ALIASES, DTYPES, canonical_dtype
from gradsim.errors import GradsimError, unknown_name
from gradsim.initializers import INIT_ALIASES, INITIALIZERS, MODES, canonical_init, canonical_mode
from gradsim.losses import LOSSES
from gradsim.scaling import MODES as LOSS_SCALES


@dataclass(frozen=True)
class Option:
    """One option of the network: ``dest`` is RunConfig's field (and the Python API's
    keyword), ``decls`` the command line's spellings, ``type`` int, float, str or None for a
    flag; ``listable``: where a command compares configurations it takes a list."""

    dest: str
    decls: tuple[str, ...]
    type: type | None  # int, float, str, or None for a flag
    default: object
    help: str
    choices: tuple[str, ...] | None = None
    names: tuple[str, ...] | None = None  # for shell completion
    listable: bool = True
    show_default: bool = True
    numbers: bool = False  # a str option that also takes numbers (from Python)


OPTIONS = (
    Option("depth", ("--depth", "-L"), int, None,
         "Number of layers L [default: 50, or from --widths].", show_default=False),
    Option("width", ("--width", "-n"), int, 256, "Width of every layer."),
    Option("widths", ("--widths",), str, None,
         "Every width n_0,n_1,…,n_L (L+1 numbers), instead of --width.", listable=False),
    Option("batch", ("--batch", "-b"), int, 128, "Inputs per pass B, drawn from N(0, 1)."),
    Option("activation", ("--act", "--activation"), str, "relu",
         f"Activation: {', '.join(ACTIVATIONS)}.", names=(*ACTIVATIONS, *ACTIVATION_ALIASES)),
    Option("slope", ("--slope",), float, None, "leaky_relu's negative slope [default: 0.01].",
         show_default=False),
    Option("init", ("--init",), str, "he",
         "Initializer (aliases accepted; see `gradsim list`): " + ", ".join(INITIALIZERS) + ".",
         names=(*INITIALIZERS, *INIT_ALIASES)),
    Option("gain", ("--gain",), float, 1.0, "γ: multiplies the initializer's own scale."),
    Option("mode", ("--mode",), str, None,
         "Fan of variance-scaling inits [default: the init's own].", choices=MODES,
         show_default=False),
    Option("std", ("--std",), float, 1.0, "normal / truncated_normal: standard deviation."),
    Option("low", ("--low",), float, -1.0, "uniform: lower end."),
    Option("high", ("--high",), float, 1.0, "uniform: upper end."),
    Option("value", ("--value",), float, 0.1, "constant: the weight value."),
    Option("truncated", ("--truncated",), None, False,
         "Draw normals truncated at ±2σ, variance kept (Keras style).", listable=False),
    Option("bias_init", ("--bias-init",), str, None,
         "Biases [default: zeros; U(±1/√fan_in) for torch_default].", choices=BIAS_INITS,
         show_default=False),
    Option("bias_std", ("--bias-std",), float, 0.1, "--bias-init normal: σ_b."),
    Option("bias_value", ("--bias-value",), float, 0.1, "--bias-init constant: the value."),
    Option("loss", ("--loss",), str, "mse",
         "mse: E=‖H_L−T‖²/2B; probe: ∂E/∂H_L ~ N(0,1); sum: E=ΣH_L/B.",
         choices=tuple(LOSSES)),
    Option("residual", ("--residual",), None, False,
         "Skip connections: H_l = H_{l-1} + α·φ(Z_l) (equal widths).", listable=False),
    Option("residual_scale", ("--residual-scale",), float, 1.0,
         "α of --residual, e.g. 1/√L."),
    Option("norm", ("--norm",), str, "none",
         "Normalize H_{l-1}W_l before the bias: batch (per unit over the batch) or layer "
         "(per sample over the units).", choices=("none", *NORMS)),
    Option("seed", ("--seed",), int, 0, "Root of every random stream."),
    Option("dtype", ("--dtype",), str, "float32",
         "Number format: float32, float64; stored in the format and computed in float32: "
         "float16, bfloat16 (bf16), float8_e4m3fn (e4m3), float8_e5m2 (e5m2); aliases fp16/half, "
         "fp32/single, fp64/double.", choices=DTYPES, names=(*DTYPES, *DTYPE_ALIASES)),
    Option("loss_scale", ("--loss-scale",), str, "ideal",
         "ideal: δ rescaled by exact powers of two at every layer (true magnitudes); none: "
         "plain δ in the dtype (underflow shows); N or 2^k: ∂E/∂H_L × N, gradients ÷ N; "
         "dynamic: start at 2^16, halve on inf/NaN (train: skip the step), double after "
         "2000 good steps.", names=LOSS_SCALES, numbers=True),
    Option("threshold", ("--threshold",), float, 100.0,
         "A ratio beyond ×T or below ÷T is a verdict."),
)  # fmt: skip

BY_DEST = {o.dest: o for o in OPTIONS}
CONFIG_KEYS = tuple(BY_DEST)
# a sweep on a Dask cluster: how long to wait for the scheduler, and for a worker once every
# worker is lost (the defaults of the CLI, the API and the executors)
CONNECT_TIMEOUT = 5.0
WORKER_TIMEOUT = 60.0
MAX_RANGE = 1_000_000  # values in one start:stop:count range, refused before they are made
LIST_HELP = " A comma list (or start:stop:count) compares several."

# the options that say how the weights and biases are drawn (the initializer's phrase)
INIT_OPTIONS = ("init", "gain", "mode", "std", "low", "high", "value", "truncated",
                "bias_init", "bias_std", "bias_value")  # fmt: skip
# the network options each command takes where it does not take them all
_SHAPE = ("depth", "width", "widths", "activation", "slope", *INIT_OPTIONS)
THEORY_OPTIONS = (*_SHAPE, "loss", "batch")  # the prediction of a network, not a pass
THEORY_DEFAULTS = {"loss": "probe"}  # δ from ∂E/∂H_L ~ N(0, 1), the mean-field convention
SPECTRUM_OPTIONS = (*_SHAPE, "seed")  # a drawn network's Jacobian, in float64
PHASE_OPTIONS = ("activation", "slope", "width")
TRAIN_OPTIONS = tuple(d for d in CONFIG_KEYS if d not in ("widths", "loss", "threshold"))
TRAIN_DEFAULTS = {"depth": 30, "width": 128, "batch": 64}  # the task sets the widths


def check_whole(value, what: str, least: int = 1) -> None:
    """A count given from Python: None, or a whole number ≥ ``least``."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                              or value < least):  # fmt: skip
        raise GradsimError(f"{what} must be a whole number ≥ {least} (got {value!r})")


def axis_name(dest: str) -> str:
    """How an option is named where several vary: its command-line name ('act')."""
    return "act" if dest == "activation" else dest


def parse_int_list(text: str, what: str) -> tuple[int, ...]:
    """'16,32,8' → (16, 32, 8)."""
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise GradsimError(f"{what} must be comma-separated whole numbers (got '{text}')") from None


def convert(o: Option, item):
    """One value of option ``o`` from text (or a Python value), checked against its type."""
    flag = o.decls[0]
    if o.type in (int, float) and not isinstance(item, str):
        if isinstance(item, bool) or not isinstance(item, (int, float)):
            kind = "whole numbers" if o.type is int else "numbers"
            raise GradsimError(f"{flag} takes {kind} (got {item!r})")
        if o.type is int and not (math.isfinite(item) and item == int(item)):
            raise GradsimError(f"{flag} takes whole numbers (got {item!r})")
        return o.type(item)
    if o.type in (int, float):
        try:
            return o.type(item)
        except ValueError:
            kind = "whole numbers" if o.type is int else "numbers"
            raise GradsimError(f"{flag} takes {kind} (got '{item}')") from None
    numeric = isinstance(item, (int, float)) and not isinstance(item, bool)
    if o.type is str and o.numbers and numeric:
        return item
    if o.type is str and not isinstance(item, str):
        raise GradsimError(f"{flag} takes names (got {item!r})")
    if o.choices:
        return choice(o, item)
    return item


def choice(o: Option, item: str) -> str:
    """One of ``o``'s choices for ``item``, spelt as users do: any case, '-' for '_', the
    dtypes' aliases ('fp16', 'double'); an unknown name is one line that suggests a close
    choice or lists them."""
    try:
        if o.dest == "dtype":
            return canonical_dtype(item)
        if o.dest == "mode":
            return canonical_mode(item)
        key = item.strip().lower().replace("-", "_")
        if key not in o.choices:
            raise unknown_name(o.dest.replace("_", " "), item, o.choices)
        return key
    except GradsimError as e:
        raise GradsimError(f"{o.decls[0]}: {e}") from None


def _range(o: Option, part: str) -> list:
    flag = o.decls[0]
    bits = part.split(":")
    if len(bits) != 3:
        raise GradsimError(f"{flag}: a range is start:stop:count (got '{part}')")
    start, stop = (convert(Option(o.dest, o.decls, float, 0, ""), b) for b in bits[:2])
    count = convert(Option(o.dest, o.decls, int, 0, ""), bits[2])
    if not 1 <= count <= MAX_RANGE:
        raise GradsimError(f"{flag}: a range's count must be from 1 to {MAX_RANGE} (got {count})")
    if not (math.isfinite(start) and math.isfinite(stop) and math.isfinite(stop - start)):
        raise GradsimError(
            f"{flag}: a range's start and stop must be finite numbers (got '{part}')"
        )
    values = np.linspace(start, stop, count).tolist()
    return [round(v) for v in values] if o.type is int else values


def parse_axis(o: Option, value) -> list:
    """'a,b,c' → [a, b, c]; 'start:stop:count' → count evenly spaced numbers; a list or
    tuple → its items, each checked; anything else → [value]. Repeats are dropped."""
    flag = o.decls[0]
    if isinstance(value, (list, tuple)):
        items = [convert(o, v) for v in value]
    elif isinstance(value, str):
        items = []
        for part in (p.strip() for p in value.split(",")):
            if part and ":" in part and o.type in (int, float):
                items += _range(o, part)
            elif part:
                items.append(convert(o, part))
    else:
        items = [convert(o, value)]
    if not items:
        raise GradsimError(f"{flag} is empty")
    return list(dict.fromkeys(items))  # drop repeats, keep order


def values_of(options: dict, listable: bool = True) -> dict[str, list]:
    """Every network option's values ({dest: [values]}) from ``options`` (text or Python
    values, by dest; an option not given keeps its default). With ``listable=False`` each
    takes one value."""
    unknown = set(options) - set(BY_DEST)
    if unknown:
        raise GradsimError(f"unknown option(s): {', '.join(sorted(unknown))}")
    values = {}
    for o in OPTIONS:
        raw = options.get(o.dest, o.default)
        if raw is None:
            values[o.dest] = [None]
        elif o.dest == "widths":
            text = isinstance(raw, str)
            values[o.dest] = [parse_int_list(raw, "--widths") if text else
                              tuple(raw) if isinstance(raw, (list, tuple)) else raw]  # fmt: skip
        elif listable and o.listable:
            values[o.dest] = parse_axis(o, raw)
        else:
            values[o.dest] = [raw]
    return values


def expand(values: dict[str, list], limit: int | None = None, what: str = "--max-configs"
           ) -> tuple[dict[str, list], list[RunConfig]]:  # fmt: skip
    """The cartesian product of the options' values: the axes that vary ({dest: values})
    and one RunConfig per combination, in the order of the options and of the values;
    more than ``limit`` combinations is an error naming ``what``."""
    check_whole(limit, what)
    total = math.prod(len(v) for v in values.values())
    if limit is not None and total > limit:
        raise GradsimError(f"the lists give {total} configurations, more than {what} {limit}: "
                           f"shorten a list or raise {what}")  # fmt: skip
    keys = list(values)
    configs = [RunConfig(**dict(zip(keys, combo, strict=True)))
               for combo in itertools.product(*values.values())]  # fmt: skip
    return {k: v for k, v in values.items() if len(v) > 1}, configs


BIAS_OPTIONS = {"bias_std": "normal", "bias_value": "constant"}  # option → the bias rule reading it


def _given_values(given: dict, dest: str) -> list:
    """The values of option ``dest`` among the options ``given`` (its default if absent)."""
    raw = given.get(dest, BY_DEST[dest].default)
    if raw is None:
        return [None]
    if BY_DEST[dest].type is None:  # a flag: true, false, or both to sweep them
        return list(raw) if isinstance(raw, (list, tuple)) else [raw]
    return parse_axis(BY_DEST[dest], raw)


def check_given(given: dict) -> None:
    """Refuse options that contradict each other or do not apply to the network they
    describe, with one line naming both. ``given``: the options the user set (by dest; a
    value, a comma list or a list), not their defaults: --widths with --width, an
    initializer's option (--std, --low, --high, --value, --truncated) that none of the
    chosen initializers reads, --bias-std or --bias-value without the bias rule that
    reads them, --residual-scale without --residual."""
    given = {k: v for k, v in given.items() if v is not None}
    if "widths" in given and "width" in given:
        raise GradsimError("--widths and --width both set the widths: give one of them")
    inits = list(dict.fromkeys(canonical_init(v) for v in _given_values(given, "init")))
    for dest in ("std", "low", "high", "value", "truncated"):
        if given.get(dest) in (None, False):
            continue
        if not any(dest in INITIALIZERS[i].options for i in inits):
            users = [k for k, r in INITIALIZERS.items() if dest in r.options]
            raise GradsimError(f"{BY_DEST[dest].decls[0]} does not apply to --init "
                               f"{','.join(inits)}; it applies to {', '.join(users)}")  # fmt: skip
    biases = set(_given_values(given, "bias_init"))
    if None in biases:  # each initializer's own rule
        biases |= {INITIALIZERS[i].bias for i in inits}
    for dest, rule in BIAS_OPTIONS.items():
        if dest in given and rule not in biases:
            raise GradsimError(f"{BY_DEST[dest].decls[0]} applies to --bias-init {rule}, not "
                               f"{','.join(sorted(b for b in biases if b))}")  # fmt: skip
    if "residual_scale" in given and True not in _given_values(given, "residual"):
        raise GradsimError("--residual-scale is α of --residual: give --residual too")


def check_sigmas(given: dict, sigma_w, sigma_b) -> None:
    """theory's σ_w and σ_b given directly refuse the options that would set them too."""
    for sigma, flag, dests in ((sigma_w, "--sigma-w", ("init", *_INIT_PARAMS)),
                               (sigma_b, "--sigma-b", ("bias_init", *BIAS_OPTIONS))):  # fmt: skip
        clash = [d for d in dests if given.get(d) is not None and given.get(d) is not False]
        if sigma is not None and clash:
            other = BY_DEST[clash[0]].decls[0]
            what = "σ_w" if flag == "--sigma-w" else "σ_b"
            raise GradsimError(f"{flag} and {other} both set {what}: give one of them")


_INIT_PARAMS = ("gain", "mode", "std", "low", "high", "value", "truncated")
