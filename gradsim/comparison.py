"""Run several configurations side by side: the cartesian product of option lists.

Every configuration uses the same seed, so where the input width and batch agree they see
the very same input batch X (and targets T), and their numbers are those of separate
``gradsim run`` calls (small networks of one shape run as one stack).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from gradsim._version import __version__
from gradsim.config import RunConfig
from gradsim.display import Display
from gradsim.memory import check_memory
from gradsim.options import axis_name, expand, values_of
from gradsim.result import Result
from gradsim.simulation import simulate_many

_RANK = {"stable": 0, "vanishing": 1, "exploding": 2, "overflow": 3}


MAX_CONFIGS = 64  # the largest product of option lists a comparison takes by default


@dataclass(frozen=True)
class Comparison(Display):
    """One Result per configuration (``results``, in the order of the lists) and the options
    that vary (``axes``: {option: values}); ``to_dict()`` is ``gradsim compare``'s JSON,
    ``figure()`` its overlaid curves, ``ranked()`` the results stable first."""

    axes: dict[str, list]
    results: list[Result]

    def to_dict(self) -> dict:
        return to_dict(self.axes, self.results)

    def ranked(self) -> list[Result]:
        return [self.results[i] for i in ranked(self.results)]

    def __repr__(self) -> str:
        rows = [f"  {label(r.config, self.axes)}: {r.summary.verdict}" for r in self.ranked()]
        return "\n".join([f"<Comparison of {len(self.results)} configurations>", *rows])


def compare(options: dict, max_configs: int = MAX_CONFIGS,
            progress: Callable[[int], None] | None = None) -> Comparison:  # fmt: skip
    """Every combination of the network options' values (``options``: {option: value or
    list}, lists as Python lists, comma lists or start:stop:count ranges), run with one seed;
    ``progress(n)`` as n more configurations are done."""
    axes, configs = expand(values_of(options), max_configs)
    return Comparison(axes, run_all(configs, progress))


def run_all(configs: list[RunConfig], progress: Callable[[int], None] | None = None
            ) -> list[Result]:  # fmt: skip
    """One Result per configuration, in the given order (each passes the memory guard)."""
    for cfg in configs:
        check_memory(cfg)
    return simulate_many(configs, progress=progress)


def label(cfg: RunConfig, axes, names: bool = False) -> str:
    """The configuration's values on the varying axes, e.g. 'he_normal relu' (or, with
    ``names``, 'init=he_normal act=relu'); the init's name when nothing varies."""
    d = cfg.to_dict()
    parts = [(f"{axis_name(k)}=" if names else "") + _fmt(d[k]) for k in axes]
    return " ".join(parts) or cfg.init


def _fmt(v) -> str:
    if v is None:
        return "none"  # --norm none
    return f"{v:g}" if isinstance(v, float) else str(v)


def ranked(results: list[Result]) -> list[int]:
    """Indices ordered stable first, then by how far δ changes (|log10 δ ratio|)."""

    def key(i):
        s = results[i].summary
        dev = abs(s.log10_delta_ratio) if not math.isnan(s.log10_delta_ratio) else math.inf
        return (_RANK.get(s.verdict, 9), dev)

    return sorted(range(len(results)), key=key)


def to_dict(axes: dict, results: list[Result]) -> dict:
    """The JSON of a comparison: the varying axes and every run's own JSON."""
    return {
        "gradsim": __version__,
        "kind": "compare",
        "axes": {k: [canonical(k, v) for v in vals] for k, vals in axes.items()},
        "runs": [r.to_dict() for r in results],
    }


def canonical(key: str, value):
    """The canonical spelling of an option's value (he → he_normal), as configs carry it."""
    if key in ("init", "activation"):
        return RunConfig(**{key: value}).to_dict()[key]
    return value
