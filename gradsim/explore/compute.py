"""What one request of the explorer computes, through the public API only: a run's JSON
(``gradsim.simulate(...).to_dict()``) with the dtype's representable range and the
equivalent command line; training runs (``gradsim.train``) that report their points as
they come. No web library here."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import gradsim
from gradsim.dtypes import fmt
from gradsim.explore.params import TrainRequest, run_command, varying
from gradsim.memory import check_memory
from gradsim.options import axis_name


def bands(dtype: str) -> dict:
    """The dtype's range: above ``log10_max`` a plain computation overflows, below
    ``log10_tiny`` (the smallest normal number) it underflows, as the JSON's ``overflow``
    and ``underflow`` fields count them."""
    info = fmt(dtype)
    return {"dtype": dtype, "log10_max": math.log10(float(info.max)),
            "log10_tiny": math.log10(float(info.tiny))}  # fmt: skip


def admit(options: dict) -> gradsim.RunConfig:
    """The RunConfig of ``options``, refused with the API's one line if it is invalid or
    would not fit in memory (gradsim.memory's guard, before any work)."""
    cfg = gradsim.RunConfig(**options)
    check_memory(cfg, None)  # as gradsim.simulate: low memory where the weights would not fit
    return cfg


def run(
    options: dict, hist: bool = False, theory: bool = False, cfg: gradsim.RunConfig | None = None
) -> dict:
    """One run as the page draws it: ``run`` (the JSON of ``gradsim run --format json``,
    with ``--hist`` and ``--theory`` as asked), the dtype's ``bands``, the ``command`` that
    computes the same, and ``theory_error``: why the mean-field prediction does not apply
    to this network (the run is then made without it). ``cfg``: ``admit(options)``, where the
    caller has it already."""
    t0 = time.perf_counter()
    cfg = admit(options) if cfg is None else cfg
    theory_error = None
    try:
        result = gradsim.simulate(cfg, hist=hist, theory=theory)
    except gradsim.GradsimError as e:
        if not theory:
            raise
        theory_error, theory = str(e), False  # the prediction refused before any work
        result = gradsim.simulate(cfg, hist=hist)
    return {
        "run": result.to_dict(),
        "bands": bands(cfg.dtype),
        "command": run_command(options, hist, theory),
        "theory_error": theory_error,
        "ms": round(1000 * (time.perf_counter() - t0), 1),
    }


def check_training(req: TrainRequest) -> None:
    """Refuse a training request whose networks are invalid or too large, before any work."""
    for net in req.nets:
        admit(net)


def train(req: TrainRequest, emit: Callable[[str, dict], None],
          checkpoint: Callable[[], None]) -> dict:  # fmt: skip
    """Train ``req``'s networks one after the other with ``gradsim.train``. ``emit(event,
    data)`` gets ``start``, a ``point`` (run index, step, mean loss) at every logged step,
    each finished ``run`` (the JSON's train-run object) and returns the ``train`` object of
    them all; ``checkpoint()`` is called at every step and may raise to stop."""
    s = req.settings
    emit("start", {"labels": list(req.labels), "steps": s["steps"],
                   "commands": [req.command(i) for i in range(len(req.nets))]})  # fmt: skip
    runs, task = [], ""
    for i, net in enumerate(req.nets):

        def progress(_, step, loss, i=i):
            checkpoint()
            if loss is not None:
                emit("point", {"run": i, "step": step, "loss": _finite(loss)})

        d = gradsim.train(task=s["task"], steps=s["steps"], lr=s["lr"],
                          optimizer=s["optimizer"], progress=progress, **net).to_dict()  # fmt: skip
        run_ = {**d["runs"][0], "label": req.labels[i]}
        runs.append(run_)
        task = d["task"]
        emit("run", {"run": i, "result": run_})
    axes = {axis_name(k): list(dict.fromkeys(r["config"][k] for r in runs))
            for k in varying(list(req.nets))}  # fmt: skip
    return {"gradsim": gradsim.__version__, "kind": "train", "task": task, "axes": axes,
            "runs": runs}  # fmt: skip


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None
