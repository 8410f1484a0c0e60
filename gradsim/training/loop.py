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

from gradsim import scaling, streams
from gradsim._version import __version__
from gradsim.training.config import TrainConfig
from gradsim.training.model import (
    Model,
    accuracy,
    backward,
    build_model,
    first_nonfinite,
    forward,
    keep_running,
    log10_norm,
    loss_and_grad,
    symmetric_layers,
    update_running,
)
from gradsim.training.optimizers import clip_by_global_norm, global_norm
from gradsim.training.runfile import Recorder
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
    # with clipping: the same of the clipped gradient, which the optimizer applied
    clipped_grad_norm: list[list[float] | None] | None = None
    global_grad_norm: list[float | None] = field(default_factory=list)  # log10, before clipping
    clipped: list[bool | None] | None = None  # with clipping: whether the step was clipped
    clipped_steps: int | None = None  # with clipping: how many of all the steps were
    update_ratio: list[list[float] | None] = field(default_factory=list)  # log10 ‖ΔW‖/‖W‖
    initial_loss: float = math.nan
    final_loss: float = math.nan
    baseline_loss: float = math.nan
    half_step: int | None = None
    verdict: str = ""
    nonfinite: dict | None = None  # {"step", "layer", "where"}
    symmetric_layers: list[int] = field(default_factory=list)  # at the end of training
    final_accuracy: float | None = None
    record: Recorder | None = field(default=None, repr=False)  # what --save-run writes
    # {"mode", "scale" (at the end), "history" ([step, new scale] at every change),
    # "skipped_steps"}: gradsim.scaling
    loss_scale: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        def num(x):
            return None if x is None or not math.isfinite(x) else float(x)

        def rows(m):
            return None if m is None else [None if r is None else [num(v) for v in r] for r in m]

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
            "log10_clipped_grad_norm": rows(self.clipped_grad_norm),
            "log10_global_grad_norm": [num(v) for v in self.global_grad_norm],
            "clipped": self.clipped,
            "clipped_steps": self.clipped_steps,
            "log10_update_ratio": rows(self.update_ratio),
            "loss_scale": self.loss_scale,
        }

    def log(self, step, E, acc, gn=None, ur=None, g: Gradient | None = None,
            cn: list[float] | None = None) -> None:  # fmt: skip
        """One point of the curves (at step 0 without gradients); ``cn``: log10 norms of the
        gradients the optimizer got (clipped), taken before the step."""
        self.steps.append(step)
        self.loss.append(E)
        if self.accuracy is not None:
            self.accuracy.append(acc)
        self.grad_norm.append(gn)
        self.update_ratio.append(ur)
        self.global_grad_norm.append(None if g is None else _log10(g.norm))
        if self.clipped is not None:
            self.clipped_grad_norm.append(None if g is None else cn)
            self.clipped.append(None if g is None else g.clipped)

    def stop(self, model: Model, step: int, where: tuple[int, str] | None) -> None:
        """Training met a non-finite number at ``step``, first in ``where`` (layer, what)."""
        layer, what = where if where is not None else (model.depth, "loss")
        self.nonfinite = {"step": step, "layer": layer, "where": what}


def _log10(x: float) -> float:
    if x == 0:
        return -math.inf
    return math.log10(x) if math.isfinite(x) else math.nan


@dataclass(frozen=True)
class Gradient:
    """A step's gradient as the optimizer gets it (``grads``: W_1 … W_L, b_1 … b_L, clipped
    if it was), the global norm before clipping (nan where not needed), whether it was
    clipped, and whether it holds a non-finite number."""

    grads: list[Array]
    norm: float
    clipped: bool
    bad: bool


def gradient(cfg: TrainConfig, gW: list[Array], gb: list[Array], need_norm: bool) -> Gradient:
    """The step's gradient, clipped to ``cfg.clip_norm`` if set (optimizers.clip_by_global_norm);
    ``need_norm``: measure the global norm also without clipping."""
    grads = [*gW, *gb]
    if cfg.clip_norm is not None:
        applied, norm = clip_by_global_norm(grads, cfg.clip_norm)
        ok = math.isfinite(norm)
        return Gradient(applied, norm, ok and norm > cfg.clip_norm, not ok)
    bad = not all(math.isfinite(float(np.sum(g))) for g in grads)
    return Gradient(grads, global_norm(grads) if need_norm else math.nan, False, bad)


def _evaluate(model: Model, task: Task, running: bool) -> tuple[float, float | None, object]:
    """(loss, accuracy, cache) on the whole training set; batch norm with its running
    statistics if ``running`` (eval mode), else with the whole set's."""
    c = forward(model, task.X, running=running)
    out = c.output
    E, _ = loss_and_grad(out, task.Y, model.classification)
    acc = accuracy(out, task.Y) if model.classification else None
    return E, acc, c


def train(cfg: TrainConfig, task: Task | None = None,
          on_step: Callable[[int, float | None], None] | None = None,
          record: bool = False) -> TrainRun:  # fmt: skip
    """Train ``cfg``'s network on its task (made from the seed unless given); ``on_step(s,
    loss)`` is called after every update (loss: the full-data loss at logged steps, else
    None); ``record``: keep what ``--save-run`` writes (``TrainRun.record``). A run that
    diverges returns with its verdict; it does not raise."""
    seed, B = cfg.net.seed, cfg.net.batch
    task = task or make_task(cfg.task, cfg.samples, seed)
    classification = task.kind == "classification"
    order = batches(len(task.X), B, seed)
    first = next(order)
    model = build_model(cfg.net, task.n_in, task.n_out, classification, task.X[first])
    if cfg.running_stats:
        keep_running(model)
    opt = cfg.make_optimizer()
    run = TrainRun(cfg.to_dict(task.n_in, task.n_out), task.description)
    run.baseline_loss = baseline_loss(task)
    run.accuracy = [] if classification else None
    if cfg.clip_norm is not None:
        run.clipped_grad_norm, run.clipped, run.clipped_steps = [], [], 0
    X = task.X.astype(model.W[0].dtype)
    if record:
        run.record = Recorder.start(model, X, task.Y)
    scaler = _scaler(run, cfg)
    with np.errstate(all="ignore"):
        _steps(run, cfg, model, opt, task, X, order, first, on_step, scaler)
    if scaler is not None:
        run.loss_scale.update(scale=scaler.scale, history=[list(h) for h in scaler.history],
                              skipped_steps=list(scaler.skipped))  # fmt: skip
    if record:
        run.record.finish(model, opt)
    _finish(run, model, cfg)
    return run


def _steps(run: TrainRun, cfg: TrainConfig, model: Model, opt, task: Task, X: Array, order,
           idx: Array, on_step, scaler: scaling.Scaler | None) -> None:  # fmt: skip
    """The whole-set loss before training, the updates, the whole-set loss after them."""
    classification, running = model.classification, cfg.running_stats
    logged = set(cfg.logged_steps)
    E, acc, c = _evaluate(model, task, running)
    run.log(0, E, acc)
    if not math.isfinite(E):
        return run.stop(model, 0, first_nonfinite(model, c))
    window: list[tuple[float, float | None]] = []
    for step in range(1, cfg.steps + 1):
        if step > 1:
            idx = next(order)
        c = forward(model, X[idx])
        if running:
            update_running(model, c)
        Eb, dout = loss_and_grad(c.output, task.Y[idx], classification)
        if not math.isfinite(Eb):
            return run.stop(model, step, first_nonfinite(model, c))
        window.append((Eb, accuracy(c.output, task.Y[idx]) if classification else None))
        gW, gb = backward(model, c, dout, scaler.scale if scaler else _static(cfg))
        g = gradient(cfg, gW, gb, step in logged or run.record is not None)
        taken = scaler is None or scaler.update(step, not g.bad)  # dynamic: skip on inf/NaN
        if taken and g.bad and (where := first_nonfinite(model, None, (gW, gb))) is not None:
            return run.stop(model, step, where)
        L, log_now = model.depth, step in logged
        # what is read of the gradients, read before the step writes its updates over them
        norms_w = [log10_norm(w) for w in model.W] if log_now else None
        gn = [log10_norm(x) for x in gW] if log_now else None
        cn = None  # with clipping: the norms of what the optimizer got (gW's own if unclipped)
        if log_now and run.clipped is not None:
            cn = [log10_norm(x) for x in g.grads[:L]] if g.clipped else gn
        if run.record is not None:
            run.record.step(idx, Eb, gW, g.norm, g.clipped and taken,
                            scaler.scale if scaler else _static(cfg), taken)  # fmt: skip
        updates = (opt.step(model.params, g.grads, overwrite=True) if taken
                   else [0 * p for p in model.params])  # fmt: skip
        if run.clipped_steps is not None:
            run.clipped_steps += g.clipped and taken
        E_log = None
        if log_now:
            ur = [log10_norm(u) - nw for u, nw in zip(updates[:L], norms_w, strict=True)]
            E_log = float(np.mean([e for e, _ in window]))
            acc = float(np.mean([a for _, a in window])) if classification else None
            run.log(step, E_log, acc, gn, ur, g, cn)
            window.clear()
        if on_step is not None:
            on_step(step, E_log)
    E, acc, c = _evaluate(model, task, running)  # the whole training set after the last update
    if not math.isfinite(E):
        run.stop(model, cfg.steps, first_nonfinite(model, c))
    run.final_loss, run.final_accuracy = E, acc


def _scaler(run: TrainRun, cfg: TrainConfig) -> scaling.Scaler | None:
    """The dynamic loss scale's state (None for the other modes), and the run's record of
    the loss scale."""
    mode = cfg.net.loss_scale
    kind = scaling.mode_of(mode)
    run.loss_scale = {"mode": kind, "scale": _static(cfg) if kind == "static" else None,
                      "history": [], "skipped_steps": []}  # fmt: skip
    if mode != "dynamic":
        return None
    # (the constants read now: a test may change the interval)
    return scaling.Scaler(scaling.INIT_SCALE, scaling.GROWTH_INTERVAL)


def _static(cfg: TrainConfig) -> float:
    """The static loss scale N, or 1 (none and ideal scale nothing)."""
    return scaling.static_scale(cfg.net.loss_scale) or 1.0


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


def train_all(configs: list[TrainConfig], on_step=None, record: bool = False) -> list[TrainRun]:
    """Train every configuration; those of one seed and task share the task's data.
    ``on_step(i, step, loss)`` reports progress of configuration i; ``record``: keep what
    ``--save-run`` writes."""
    tasks: dict[tuple, Task] = {}
    out = []
    for i, cfg in enumerate(configs):
        key = (cfg.task, cfg.samples, cfg.net.seed)
        if key not in tasks:
            tasks[key] = make_task(*key)
        cb = (lambda s, E, i=i: on_step(i, s, E)) if on_step else None
        out.append(train(cfg, tasks[key], cb, record))
    return out
