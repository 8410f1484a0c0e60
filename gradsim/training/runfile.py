"""What ``gradsim train --save-run FILE.npz`` writes: everything a replay needs to redo one
configuration's training from the file alone, and every step's numbers to check it against.

The layout (docs/training.md, "Replaying a run"; examples/replay_training.py reads it):

* ``meta``: JSON text: ``format`` ("gradsim-train-run", ``version``), ``gradsim``, ``label``,
  ``task`` (in words), ``config`` (the train-config of the JSON), ``layers`` (per layer:
  ``activation``, its ``param`` and ``formula``, ``norm``, ``alpha``; the read-out last),
  ``loss`` (``mse`` or ``softmax_cross_entropy``), ``optimizer`` (name, ``lr`` and every
  hyper-parameter resolved), ``clip_norm``, ``batch_norm`` (``eval``, ``momentum``, ``eps``,
  ``running_var``: "unbiased", the initial running statistics), ``steps_done``,
  ``nonfinite``;
* ``W1`` … ``WL`` (n_{l-1}, n_l) and ``b1`` … ``bL`` (n_l,): the parameters before the first
  update (after LSUV's rescaling), in the run's dtype;
* ``X`` (N, n_0) in the run's dtype, ``Y`` (N, n_L) float64 targets or (N,) int64 labels;
* ``batches`` (S, B) int64: step s's mini-batch is ``X[batches[s-1]]``; S = ``steps_done``;
* ``loss`` (S,): the mini-batch loss of each step, before its update; ``grad_norm`` (S, L):
  ‖∂E/∂W_l‖_F of each step before clipping; ``global_grad_norm`` (S,): √Σ‖g‖² over every
  W_l and b_l before clipping; ``clipped`` (S,) bool: whether the step's gradient was
  scaled down to ``clip_norm``; ``loss_scale`` (S,): the loss scale after the step (1 with
  ``ideal`` and ``none``); ``skipped`` (S,) bool: the step's update was skipped (a dynamic
  loss scale met inf/NaN gradients: the optimizer's state is left as it was) (all float64
  but ``clipped`` and ``skipped``);
* ``initial_loss``, ``final_loss`` (0-d float64): the whole training set's loss before the
  first update and after the last (batch norm as ``batch_norm.eval`` says; NaN if diverged);
* ``running_mean{l}``, ``running_var{l}`` (n_l,): batch norm's running statistics after the
  last step, for every batch-norm layer l when ``batch_norm.eval`` is "running".
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gradsim._version import __version__
from gradsim.engine.blocks import EPS
from gradsim.training.model import BN_MOMENTUM, Model
from gradsim.training.optimizers import OPTIMIZERS

Array = np.ndarray
FORMAT, VERSION = "gradsim-train-run", 1


def run_paths(path, n: int) -> list[Path]:
    """Where the runs of ``n`` configurations go: ``path`` itself for one; for several,
    ``stem-1.npz`` … ``stem-n.npz`` beside it, in the order of the JSON's runs."""
    p = Path(path)
    if n == 1:
        return [p]
    return [p.with_name(f"{p.stem}-{i}{p.suffix}") for i in range(1, n + 1)]


def plain_norm(A: Array) -> float:
    """‖A‖_F in float64 (inf or nan when an entry is)."""
    a = np.asarray(A, dtype=np.float64).ravel()
    return math.sqrt(float(np.dot(a, a)))


@dataclass
class Recorder:
    """Collects, during training, what the file holds (``arrays`` writes it out)."""

    W: list[Array]  # copies of the initial parameters
    b: list[Array]
    X: Array
    Y: Array
    batches: list[Array] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    grad_norm: list[list[float]] = field(default_factory=list)
    global_norm: list[float] = field(default_factory=list)
    clipped: list[bool] = field(default_factory=list)
    scale: list[float] = field(default_factory=list)  # the loss scale after each step
    skipped: list[bool] = field(default_factory=list)  # dynamic loss scale: step skipped
    model: dict = field(default_factory=dict)  # layers, loss, optimizer (``finish``)
    running: list[tuple[Array, Array] | None] = field(default_factory=list)

    @classmethod
    def start(cls, model: Model, X: Array, Y: Array) -> Recorder:
        return cls([w.copy() for w in model.W], [b.copy() for b in model.b], X, Y)

    def step(self, idx: Array, loss: float, gW: list[Array], norm: float, clipped: bool,
             scale: float = 1.0, taken: bool = True):  # fmt: skip
        """One step: its mini-batch, loss, per-layer and global norms before clipping,
        whether it was clipped, the loss scale after it and whether the update was taken
        (a dynamic loss scale skips a step whose gradients hold inf/NaN)."""
        self.scale.append(scale)
        self.skipped.append(not taken)
        self.batches.append(np.asarray(idx, dtype=np.int64))
        self.loss.append(loss)
        self.grad_norm.append([plain_norm(g) for g in gW])
        self.global_norm.append(norm)
        self.clipped.append(clipped)

    def finish(self, model: Model, opt) -> None:
        """After the last step: what the network and the optimizer are, and batch norm's
        running statistics."""
        hyper = {k: getattr(opt, k) for k in OPTIMIZERS[opt.name].hyper}
        self.model = {
            "layers": _layers(model),
            "loss": "softmax_cross_entropy" if model.classification else "mse",
            "optimizer": {"name": opt.name, "lr": opt.lr, **hyper},
        }
        self.running = [None if r is None else (r[0].copy(), r[1].copy())
                        for r in model.running or ()]  # fmt: skip


def _layers(model: Model) -> list[dict]:
    out = []
    for blk in model.blocks:
        act = blk.act
        out.append({
            "activation": None if act is None else act.name,
            "param": None if act is None or not act.param else act.value,
            "formula": None if act is None else act.formula,
            "norm": blk.norm,
            "alpha": blk.alpha,
        })  # fmt: skip
    return out


def meta(run) -> dict:
    """The JSON part of the file of a TrainRun trained with ``record=True``."""
    config = run.config
    return {
        "format": FORMAT,
        "version": VERSION,
        "gradsim": __version__,
        "label": run.label,
        "task": run.task,
        "config": config,
        **run.record.model,
        "clip_norm": config.get("clip_norm"),
        "batch_norm": {
            "eval": config.get("bn_eval"),
            "momentum": BN_MOMENTUM,
            "eps": EPS,
            "running_var": "unbiased",
            "initial_mean": 0.0,
            "initial_var": 1.0,
        },
        "steps_done": len(run.record.loss),
        "nonfinite": run.nonfinite,
    }


def arrays(run) -> dict[str, Array]:
    """The file's arrays, by name, of a TrainRun trained with ``record=True``."""
    rec: Recorder = run.record
    L = len(rec.W)
    out = {"meta": np.array(json.dumps(meta(run), allow_nan=False, ensure_ascii=False))}
    out |= {f"W{l}": w for l, w in enumerate(rec.W, start=1)}
    out |= {f"b{l}": b for l, b in enumerate(rec.b, start=1)}
    out["X"], out["Y"] = rec.X, rec.Y
    B = run.config["batch"]
    out["batches"] = np.array(rec.batches, dtype=np.int64).reshape(len(rec.batches), B)
    out["loss"] = np.array(rec.loss, dtype=np.float64)
    out["grad_norm"] = np.array(rec.grad_norm, dtype=np.float64).reshape(len(rec.loss), L)
    out["global_grad_norm"] = np.array(rec.global_norm, dtype=np.float64)
    out["clipped"] = np.array(rec.clipped, dtype=bool)
    out["loss_scale"] = np.array(rec.scale, dtype=np.float64)
    out["skipped"] = np.array(rec.skipped, dtype=bool)
    out["initial_loss"] = np.array(run.initial_loss, dtype=np.float64)
    out["final_loss"] = np.array(run.final_loss, dtype=np.float64)
    for l, stats in enumerate(rec.running, start=1):
        if stats is not None:
            out[f"running_mean{l}"], out[f"running_var{l}"] = stats
    return out
