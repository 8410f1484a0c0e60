"""Train one configuration: mini-batch steps, logged curves, and a verdict.

Data: the task's N samples in a fresh random order each epoch (the seed's stream
(streams.ORDER, epoch)), cut into mini-batches of B; a partial batch at the end of an epoch
is dropped. Every configuration of one seed sees the same batches in the same order.

At each logged step s (0, then every ``log_every``, and the last) the curves get one point:
at s = 0 the loss (and accuracy) of the whole training set before training; at s ≥ 1 the mean
over the updates since the previous point of each mini-batch's loss (and accuracy), taken
before its update, as training logs usually show it; and for s ≥ 1 the per-layer
log10 ‖∂E/∂W_l‖ of update s's mini-batch gradient and log10 ‖ΔW_l‖/‖W_l‖ of update s.
``final_loss`` and ``final_accuracy`` are measured on the whole training set after the last
update.

Verdicts compare the final loss with the initial loss E_0 and with the loss of the best
constant prediction (``baseline``: ½ Σ Var Y for regression, the label entropy for
classification), whichever is lower, E_ref:

* diverged: a non-finite number appeared (step, layer and where are reported), or the loss
  grew beyond 10·E_0 + E_ref;
* learned: final loss ≤ E_ref / 2;
* slow: final loss ≤ 0.9·E_ref (it moved, not by half);
* stalled: otherwise.

So a network that starts far worse than chance (say N(0,1)·10 weights) and halves its huge
loss has not "learned" until it also beats half the constant prediction.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from gradsim import streams
from gradsim._version import __version__
from gradsim.training.config import TrainConfig
from gradsim.training.model import (
    Model,
    accuracy,
    backward,
    build_model,
    first_nonfinite,
    forward,
    log10_norm,
    loss_and_grad,
    symmetric_layers,
)
from gradsim.training.optimizers import clip_by_global_norm
from gradsim.training.tasks import Task, make_task

Array = np.ndarray
VERDICTS = ("learned", "slow", "stalled", "diverged")


def baseline_loss(task: Task) -> float:
    """The loss of the best constant prediction on the task's data."""
    if task.kind == "classification":
        p = np.bincount(task.Y, minlength=task.n_out) / len(task.Y)
        p = p[p > 0]
        return float(-(p * np.log(p)).sum())
    return 0.5 * float(np.sum(np.var(task.Y, axis=0)))


def batches(n: int, B: int, seed: int):
    """Index arrays of the mini-batches, epoch after epoch, forever."""
    epoch = 0
    while True:
        rng = streams.rng(seed, streams.ORDER, epoch)
        order = rng.permutation(n)
        for i in range(0, n - B + 1, B):
            yield order[i : i + B]
        epoch += 1


@dataclass
class TrainRun:
    """One configuration's training: the curves at the logged steps and the verdict."""

    config: dict
    task: str
    label: str = ""  # the values that tell this configuration from the others
    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    accuracy: list[float] | None = None
    grad_norm: list[list[float] | None] = field(default_factory=list)  # [step][layer] log10
    update_ratio: list[list[float] | None] = field(default_factory=list)  # log10 ‖ΔW‖/‖W‖
    initial_loss: float = math.nan
    final_loss: float = math.nan
    baseline_loss: float = math.nan
    half_step: int | None = None
    verdict: str = ""
    nonfinite: dict | None = None  # {"step", "layer", "where"}
    symmetric_layers: list[int] = field(default_factory=list)  # at the end of training
    final_accuracy: float | None = None

    def to_dict(self) -> dict:
        def num(x):
            return None if x is None or not math.isfinite(x) else float(x)

        def rows(m):
            return [None if r is None else [num(v) for v in r] for r in m]

        return {
            "label": self.label,
            "config": self.config,
            "steps": self.steps,
            "loss": [num(v) for v in self.loss],
            "accuracy": None if self.accuracy is None else [num(v) for v in self.accuracy],
            "initial_loss": num(self.initial_loss),
            "final_loss": num(self.final_loss),
            "baseline_loss": num(self.baseline_loss),
            "half_step": self.half_step,
            "verdict": self.verdict,
            "nonfinite": self.nonfinite,
            "final_accuracy": num(self.final_accuracy),
            "symmetric_layers": self.symmetric_layers,
            "log10_grad_norm": rows(self.grad_norm),
            "log10_update_ratio": rows(self.update_ratio),
        }


def _evaluate(model: Model, task: Task) -> tuple[float, float | None, object]:
    """(loss, accuracy, cache) on the whole training set."""
    c = forward(model, task.X)
    out = c.output
    E, _ = loss_and_grad(out, task.Y, model.classification)
    acc = accuracy(out, task.Y) if model.classification else None
    return E, acc, c


def train(cfg: TrainConfig, task: Task | None = None,
          on_step: Callable[[int, float | None], None] | None = None) -> TrainRun:  # fmt: skip
    """Train ``cfg``'s network on its task (made from the seed unless given); ``on_step(s,
    loss)`` is called after every update (loss: the full-data loss at logged steps, else
    None). A run that diverges returns with its verdict; it does not raise."""
    seed, B = cfg.net.seed, cfg.net.batch
    task = task or make_task(cfg.task, cfg.samples, seed)
    classification = task.kind == "classification"
    order = batches(len(task.X), B, seed)
    first = next(order)
    model = build_model(cfg.net, task.n_in, task.n_out, classification, task.X[first])
    opt = cfg.make_optimizer()
    run = TrainRun(cfg.to_dict(task.n_in, task.n_out), task.description)
    run.baseline_loss = baseline_loss(task)
    run.accuracy = [] if classification else None
    logged = set(cfg.logged_steps)
    dtype = model.W[0].dtype
    X = task.X.astype(dtype)

    def log(step, E, acc, gn, ur):
        run.steps.append(step)
        run.loss.append(E)
        if run.accuracy is not None:
            run.accuracy.append(acc)
        run.grad_norm.append(gn)
        run.update_ratio.append(ur)

    def stop(step, where):
        layer, what = where if where is not None else (model.depth, "loss")
        run.nonfinite = {"step": step, "layer": layer, "where": what}

    with np.errstate(all="ignore"):
        E, acc, c = _evaluate(model, task)
        log(0, E, acc, None, None)
        if not math.isfinite(E):
            stop(0, first_nonfinite(model, c))
        idx = first
        window: list[tuple[float, float | None]] = []
        for step in range(1, cfg.steps + 1) if run.nonfinite is None else ():
            if step > 1:
                idx = next(order)
            c = forward(model, X[idx])
            Eb, dout = loss_and_grad(c.output, task.Y[idx], classification)
            if not math.isfinite(Eb):
                stop(step, first_nonfinite(model, c))
                break
            window.append((Eb, accuracy(c.output, task.Y[idx]) if classification else None))
            gW, gb = backward(model, c, dout)
            grads = [*gW, *gb]
            if cfg.clip_norm is not None:
                grads, norm = clip_by_global_norm(grads, cfg.clip_norm)
                bad = not math.isfinite(norm)
            else:
                bad = not all(math.isfinite(float(np.sum(g))) for g in gW)
            if bad and (where := first_nonfinite(model, None, (gW, gb))) is not None:
                stop(step, where)
                break
            norms_w = [log10_norm(w) for w in model.W] if step in logged else None
            updates = opt.step(model.params, grads)
            E_log = None
            if step in logged:
                L = model.depth
                gn = [log10_norm(g) for g in grads[:L]]
                ur = [log10_norm(u) - nw for u, nw in zip(updates[:L], norms_w, strict=True)]
                E_log = float(np.mean([e for e, _ in window]))
                acc = float(np.mean([a for _, a in window])) if classification else None
                log(step, E_log, acc, gn, ur)
                window.clear()
            if on_step is not None:
                on_step(step, E_log)
        if run.nonfinite is None:  # the whole training set after the last update
            E, acc, c = _evaluate(model, task)
            if not math.isfinite(E):
                stop(cfg.steps, first_nonfinite(model, c))
            run.final_loss, run.final_accuracy = E, acc
    _finish(run, model, cfg)
    return run


def _finish(run: TrainRun, model: Model, cfg: TrainConfig) -> None:
    run.initial_loss = run.loss[0]
    if run.nonfinite is not None:
        run.final_loss, run.final_accuracy = math.nan, None
    E0 = run.initial_loss
    run.half_step = next((s for s, v in zip(run.steps, run.loss, strict=True)
                          if math.isfinite(v) and v <= E0 / 2), None)  # fmt: skip
    run.symmetric_layers = symmetric_layers(model)
    ref = min(E0, run.baseline_loss) if math.isfinite(E0) else run.baseline_loss
    Ef = run.final_loss
    if run.nonfinite is not None:  # (every logged loss is finite otherwise)
        run.verdict = "diverged"
    elif math.isfinite(E0) and Ef > 10 * E0 + ref:
        run.verdict = "diverged"
    elif Ef <= ref / 2:
        run.verdict = "learned"
    elif Ef <= 0.9 * ref:
        run.verdict = "slow"
    else:
        run.verdict = "stalled"


def to_dict(axes: dict, runs: list[TrainRun]) -> dict:
    """The JSON of ``gradsim train``: the varying options and one entry per configuration."""
    return {
        "gradsim": __version__,
        "kind": "train",
        "task": runs[0].task if runs else "",
        "axes": axes,
        "runs": [r.to_dict() for r in runs],
    }


def train_all(configs: list[TrainConfig], on_step=None) -> list[TrainRun]:
    """Train every configuration; those of one seed and task share the task's data.
    ``on_step(i, step, loss)`` reports progress of configuration i."""
    tasks: dict[tuple, Task] = {}
    out = []
    for i, cfg in enumerate(configs):
        key = (cfg.task, cfg.samples, cfg.net.seed)
        if key not in tasks:
            tasks[key] = make_task(*key)
        cb = (lambda s, E, i=i: on_step(i, s, E)) if on_step else None
        out.append(train(cfg, tasks[key], cb))
    return out
