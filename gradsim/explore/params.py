"""The page's controls and the HTTP API's query parameters, read from the option registry
(gradsim.options) and the variant registries, so a new activation or initializer appears on
the page by itself; query text → the Python API's keywords, checked with the API's one-line
errors; and the ``gradsim run`` / ``gradsim train`` command line that computes the same.

No web library here: the functions take plain mappings of strings.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

import gradsim
from gradsim.activations import ACTIVATION_ALIASES
from gradsim.config import BIAS_INITS, NORMS
from gradsim.dtypes import FORMATS
from gradsim.errors import GradsimError, unknown_name
from gradsim.initializers import MODES
from gradsim.options import (
    BY_DEST,
    CONFIG_KEYS,
    OPTIONS,
    TRAIN_OPTIONS,
    Option,
    convert,
    parse_int_list,
)
from gradsim.training.optimizers import OPTIMIZERS
from gradsim.training.tasks import TASKS

MAX_PINS = 4  # networks pinned beside the current one
MAX_STEPS = 5000  # a training run in the browser stays short; gradsim train has no limit
# short enough to watch at the page's default network (L=50, n=256), on which gradsim
# train's lr 0.01 diverges for he_normal; at 0.002 he learns (slowly) and xavier stalls
TRAIN_SETTINGS = {"task": "teacher", "steps": 100, "lr": 0.002, "optimizer": "sgd"}
# what the page trains is the network it shows: RunConfig's sizes, not gradsim train's
SHOWN_SIZES = {"depth": 50, "width": 256, "batch": 128}
TRUE, FALSE = ("1", "true", "on", "yes"), ("0", "false", "off", "no")


@dataclass(frozen=True)
class Control:
    """One control of the page: ``dest`` the API's keyword (and the URL's key), ``kind``
    range, select, check or number; a range's or number's ``low``, ``high`` and ``step``
    bound the control, not the API (the number box beside a slider takes any value)."""

    dest: str
    label: str
    kind: str
    low: float | None = None
    high: float | None = None
    step: float | str | None = None  # "any": a number box without a step


NETWORK_CONTROLS = (
    Control("depth", "depth L", "range", 1, 500, 1),
    Control("width", "width n", "range", 8, 1024, 8),
    Control("batch", "batch B", "range", 8, 512, 8),
    Control("activation", "activation φ", "select"),
    Control("init", "initializer", "select"),
    Control("gain", "gain γ", "range", 0.05, 3, 0.05),
    Control("mode", "fan mode", "select"),
    Control("bias_init", "biases", "select"),
    Control("loss", "loss", "select"),
    Control("residual", "residual (skip connections)", "check"),
    Control("residual_scale", "residual scale α", "range", 0, 2, 0.05),
    Control("norm", "normalization", "select"),
    Control("dtype", "dtype", "select"),
    Control("seed", "seed", "number", 0, None, 1),
)
TRAIN_CONTROLS = (
    Control("task", "task", "select"),
    Control("steps", "steps", "range", 10, 1000, 10),
    Control("lr", "learning rate", "number", 0, None, "any"),
    Control("optimizer", "optimizer", "select"),
)
_TRAIN_HELP = {
    "task": "The synthetic task (gradsim list).",
    "steps": "Parameter updates.",
    "lr": "Learning rate.",
    "optimizer": "The update rule.",
}


def _choices(dest: str) -> list[dict]:
    """A select's options: value, and the registry's formula or summary as a title."""
    records = {
        "activation": {
            k: r.formula + (f"; {r.note}" if r.note else "") for k, r in gradsim.ACTIVATIONS.items()
        },
        "init": {k: r.formula for k, r in gradsim.INITIALIZERS.items()},
        "loss": {k: r.formula for k, r in gradsim.LOSSES.items()},
        "mode": {"": "the init's own", **{m: "" for m in MODES}},
        "bias_init": {
            "": "the init's rule (zeros; U(±1/√fan_in) for torch_default)",
            **{b: "" for b in BIAS_INITS},
        },
        "norm": {"none": "", **{n: "" for n in NORMS}},
        "dtype": {d: f.note for d, f in FORMATS.items()},
        "task": {k: t.summary for k, t in TASKS.items()},
        "optimizer": {k: o.summary for k, o in OPTIMIZERS.items()},
    }[dest]
    return [{"value": k, "title": v} for k, v in records.items()]


def network_default(dest: str) -> str:
    """The value a control shows when the URL does not set it, as text."""
    if dest in SHOWN_SIZES:
        return str(SHOWN_SIZES[dest])
    if dest == "init":
        return gradsim.INIT_ALIASES.get(BY_DEST[dest].default, BY_DEST[dest].default)
    value = BY_DEST[dest].default
    return "" if value is None else "1" if value is True else "0" if value is False else str(value)


def controls() -> dict:
    """What the page builds its controls from (GET /api/options)."""

    def spec(c: Control, default: str, help_: str) -> dict:
        d = {"dest": c.dest, "label": c.label, "kind": c.kind, "default": default, "help": help_}
        if c.kind == "select":
            d["choices"] = _choices(c.dest)
        if c.kind in ("range", "number"):
            d |= {"low": c.low, "high": c.high, "step": c.step}
        return d

    return {
        "gradsim": gradsim.__version__,
        "network": [
            spec(c, network_default(c.dest), BY_DEST[c.dest].help) for c in NETWORK_CONTROLS
        ],
        "train": [
            spec(c, str(TRAIN_SETTINGS[c.dest]), _TRAIN_HELP[c.dest]) for c in TRAIN_CONTROLS
        ],
        "aliases": {"init": dict(gradsim.INIT_ALIASES), "activation": dict(ACTIVATION_ALIASES)},
        "max_pins": MAX_PINS,
    }


def _flag(dest: str, text: str) -> bool:
    t = text.strip().lower()
    if t in TRUE or t in FALSE:
        return t in TRUE
    raise GradsimError(f"{BY_DEST[dest].decls[0]} is a flag: true or false (got '{text}')")


def network_options(query: Mapping[str, str], allowed=CONFIG_KEYS) -> dict:
    """The network options a query gives ({dest: value}, typed), in the registry's order;
    an empty value is not given; ``act`` is ``activation``."""
    given = {("activation" if k == "act" else k): v for k, v in query.items() if v != ""}
    out = {}
    for o in OPTIONS:
        if o.dest not in given or o.dest not in allowed:
            continue
        text = given[o.dest]
        if o.type is None:
            out[o.dest] = _flag(o.dest, text)
        elif o.dest == "widths":
            out[o.dest] = parse_int_list(text, "--widths")
        elif o.type in (int, float):
            out[o.dest] = convert(o, text)
        else:
            out[o.dest] = text
    return out


def check_keys(query: Mapping[str, str], own: tuple[str, ...], allowed=CONFIG_KEYS) -> None:
    """A key that is neither a network option nor one of the endpoint's ``own`` is one line
    naming it, with the closest known key."""
    known = (*allowed, "act", *own)
    for k in query:
        if k not in known:
            raise unknown_name("parameter", k, known)


def run_command(options: dict, hist: bool = False, theory: bool = False) -> str:
    """The ``gradsim run`` command line that computes what ``simulate(**options, hist=hist,
    theory=theory)`` does."""
    return shlex.join(
        ["gradsim", "run", *_option_args(options)] + ["--hist"] * hist + ["--theory"] * theory
    )


def _option_args(options: dict) -> list[str]:
    args = []
    for o in OPTIONS:
        if o.dest not in options:
            continue
        value = options[o.dest]
        if o.type is None:
            args += [o.decls[0]] if value else []
        elif o.dest == "widths":
            args += [o.decls[0], ",".join(map(str, value))]
        else:
            args += [o.decls[0], str(value)]
    return args


@dataclass(frozen=True)
class TrainRequest:
    """A training request: one network per entry of ``nets`` (the first the current one,
    then the pinned ones), trained in turn with the same ``settings`` (task, steps, lr,
    optimizer), each ``label``ed by the options that tell it from the others."""

    nets: tuple[dict, ...]
    settings: dict
    labels: tuple[str, ...]

    def command(self, i: int) -> str:
        s = self.settings
        args = ["gradsim", "train", *_option_args(self.nets[i])]
        args += [x for k in ("task", "steps", "lr", "optimizer") for x in (f"--{k}", str(s[k]))]
        return shlex.join(args)


def train_request(query: Mapping[str, str], pins: list[str]) -> TrainRequest:
    """The networks and settings of GET /api/train: the network options of the query (the
    page's sizes where it gives none), each ``pin`` a query string of another network."""
    own = (*TRAIN_SETTINGS, "pin", "client")
    check_keys(query, own, TRAIN_OPTIONS)
    if len(pins) > MAX_PINS:
        raise GradsimError(f"at most {MAX_PINS} pinned networks (got {len(pins)})")
    nets = []
    for q in [query, *(dict(parse_qsl(p, keep_blank_values=True)) for p in pins)]:
        if q is not query:
            check_keys(q, (), TRAIN_OPTIONS)
        nets.append({**SHOWN_SIZES, **network_options(q, TRAIN_OPTIONS)})
    settings = dict(TRAIN_SETTINGS)
    for key, kind in (("steps", int), ("lr", float)):
        if query.get(key, "") != "":
            settings[key] = convert(Option(key, (f"--{key}",), kind, 0, ""), query[key])
    for key, registry in (("task", TASKS), ("optimizer", OPTIMIZERS)):
        if query.get(key, "") != "":
            if query[key] not in registry:
                raise unknown_name(key, query[key], registry)
            settings[key] = query[key]
    if not 1 <= settings["steps"] <= MAX_STEPS:
        raise GradsimError(
            f"--steps must be between 1 and {MAX_STEPS} here (got "
            f"{settings['steps']}); gradsim train runs longer"
        )
    return TrainRequest(tuple(nets), settings, tuple(labels(nets)))


def varying(nets: list[dict]) -> list[str]:
    """The options in which the networks differ, in the registry's order."""
    return [o.dest for o in OPTIONS if len({repr(n.get(o.dest, o.default)) for n in nets}) > 1]


def labels(nets: list[dict]) -> list[str]:
    """Each network named by the options in which the networks differ ('init=xavier
    depth=80'), or by its initializer when they do not differ."""
    keys = varying(nets)
    return [
        " ".join(f"{k}={n.get(k, BY_DEST[k].default)}" for k in keys)
        or str(n.get("init", BY_DEST["init"].default))
        for n in nets
    ]
