"""Training several configurations side by side: the cartesian product of the network's
option lists, the learning rates and the optimizers, every one on the same data in the same
order (``train_product``); what it gives back (``Training``)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

from gradsim.comparison import canonical, label
from gradsim.display import Display
from gradsim.errors import GradsimError
from gradsim.options import (
    TRAIN_DEFAULTS,
    TRAIN_OPTIONS,
    Option,
    check_whole,
    expand,
    parse_axis,
    values_of,
)
from gradsim.training.config import TrainConfig
from gradsim.training.loop import TrainRun, to_dict, train_all

MAX_CONFIGS = 16  # the largest product of lists training takes by default
# the training options that take lists, as the network's do
LR = Option("lr", ("--lr",), float, 0.01, "Learning rate.")
OPTIMIZER = Option("optimizer", ("--optimizer",), str, "sgd", "The update rule.")


@dataclass(frozen=True)
class Training(Display):
    """One TrainRun per configuration (``runs``: curves, verdict) and the options that vary
    (``axes``); ``to_dict()`` is ``gradsim train``'s JSON, ``figure()`` its loss curves and
    layer × step gradient heatmaps."""

    axes: dict[str, list]
    runs: list[TrainRun]

    def to_dict(self) -> dict:
        return to_dict(self.axes, self.runs)

    def __repr__(self) -> str:
        rows = [f"  {r.label}: {r.verdict} (loss {r.final_loss:.4g})" for r in self.runs]
        return "\n".join([f"<Training of {len(self.runs)} configurations>", *rows])


def configs_of(options: dict, lr=0.01, optimizer="sgd", max_configs: int = MAX_CONFIGS,
               **training) -> tuple[dict[str, list], list[TrainConfig]]:  # fmt: skip
    """The varying axes and one TrainConfig per combination of the network options'
    values (``options``), the learning rates and the optimizers (each a value, a list or a
    comma list); ``training``: TrainConfig's other fields (task, samples, steps, …)."""
    extra = set(options) - set(TRAIN_OPTIONS)
    if extra:
        raise GradsimError(f"training does not take {', '.join(sorted(extra))} (the task sets "
                           "the widths and the loss)")  # fmt: skip
    check_whole(max_configs, "--max-configs")
    max_configs = MAX_CONFIGS if max_configs is None else max_configs
    values = values_of({**TRAIN_DEFAULTS, **options})
    lrs, opts = parse_axis(LR, lr), parse_axis(OPTIMIZER, optimizer)
    total = math.prod(len(v) for v in values.values()) * len(lrs) * len(opts)
    if total > max_configs:  # before the product is made
        raise GradsimError(f"the lists give {total} configurations, more than "
                           f"--max-configs {max_configs}: shorten a list")  # fmt: skip
    axes, nets = expand(values)
    axes |= {k: v for k, v in (("lr", lrs), ("optimizer", opts)) if len(v) > 1}
    combos = list(itertools.product(nets, lrs, opts))
    configs = [TrainConfig(net=net, lr=a, optimizer=o, **training) for net, a, o in combos]
    check_memory(configs)
    return axes, configs


def check_memory(configs: list[TrainConfig]) -> None:
    """Refuse, with one line, training whose largest configuration would not fit (they run
    one after the other, each on its task's data)."""
    from gradsim.memory import check_bytes, estimate_train_bytes
    from gradsim.training.optimizers import OPTIMIZERS
    from gradsim.training.tasks import TASKS

    def need(c: TrainConfig) -> int:
        n_in, n_out = TASKS[c.task].dims
        state = OPTIMIZERS[c.optimizer].factory.states
        data = c.samples * (n_in + n_out) * 8
        return data + estimate_train_bytes(c.net, n_in, n_out, c.samples, state)

    check_bytes(max(map(need, configs)), "this training")


def run_label(cfg: TrainConfig, axes: dict) -> str:
    """The configuration's values on the varying axes, e.g. 'init=he_normal lr=0.1'."""
    if not axes:
        return cfg.net.init
    parts = [label(cfg.net, [k for k in axes if k not in ("lr", "optimizer")], True)]
    parts += [f"{k}={getattr(cfg, k):g}" if k == "lr" else f"{k}={getattr(cfg, k)}"
              for k in axes if k in ("lr", "optimizer")]  # fmt: skip
    return " ".join(p for p in parts if p)


def train_product(
    axes: dict, configs: list[TrainConfig],
    on_step: Callable[[int, int, float | None], None] | None = None, record: bool = False,
) -> Training:  # fmt: skip
    """Train every configuration (``configs_of``); ``on_step(i, step, loss)`` reports the
    progress of configuration i; ``record``: keep in each run what ``--save-run`` writes
    (``TrainRun.record``, written by ``gradsim.report.export.save_runs``)."""
    runs = train_all(configs, on_step, record)
    for r, cfg in zip(runs, configs, strict=True):
        r.label = run_label(cfg, axes)
    return Training({k: [canonical(k, v) for v in vals] for k, vals in axes.items()}, runs)
