"""The configuration of one training run: the network (a RunConfig) and how it is trained."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from gradsim.config import MAX_SIZE, RunConfig
from gradsim.errors import GradsimError, unknown_name
from gradsim.training.optimizers import OPTIMIZERS, make_optimizer
from gradsim.training.tasks import TASKS

MAX_STEPS = 10_000_000  # more updates than any training run here needs; refused, not hung
# how the whole-set losses read batch norm: with the running statistics of training, as a
# framework's eval mode does (PyTorch's BatchNorm: momentum 0.1, unbiased running variance),
# or with the whole set's own batch statistics
BN_EVAL = {
    "running": "eval mode: the running statistics of training (momentum 0.1)",
    "batch": "the whole set's own batch statistics",
}


@dataclass(frozen=True)
class TrainConfig:
    """``net`` describes the network as for ``gradsim run`` (its ``batch`` is the mini-batch
    size, its ``width`` the hidden width); the task sets the input and output widths."""

    net: RunConfig = field(default_factory=lambda: RunConfig(depth=30, batch=64))
    task: str = "teacher"
    samples: int = 1024  # size of the training set
    steps: int = 500  # parameter updates
    lr: float = 0.01
    optimizer: str = "sgd"
    momentum: float | None = None  # None: the optimizer's default
    beta1: float | None = None
    beta2: float | None = None
    eps: float | None = None
    clip_norm: float | None = None  # clip the global gradient norm to this (None: never)
    log_every: int | None = None  # None: about 100 points per curve
    bn_eval: str = "running"  # BN_EVAL: batch norm in the whole-set losses

    def __post_init__(self) -> None:
        def put(name, value):
            object.__setattr__(self, name, value)

        if self.net.depth < 2:
            raise GradsimError(
                f"--depth must be at least 2 for training (hidden layers and a linear "
                f"read-out; got {self.net.depth})"
            )
        if self.net.widths is not None:
            raise GradsimError("training sets the widths from the task: use --width")
        for name, most in (("samples", MAX_SIZE), ("steps", MAX_STEPS)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= most:
                raise GradsimError(f"--{name} must be a whole number from 1 to {most} (got {v!r})")
        task = self.task.strip().lower() if isinstance(self.task, str) else None
        if task not in TASKS:
            raise unknown_name("task", str(self.task), TASKS)
        put("task", task)
        if self.net.batch > self.samples:
            raise GradsimError(
                f"--batch {self.net.batch} is larger than the data set (--samples "
                f"{self.samples}): lower --batch or raise --samples"
            )
        if isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)):
            raise GradsimError(f"--lr must be a positive number (got {self.lr!r})")
        put("lr", float(self.lr))
        self.make_optimizer()  # validates the name and every hyper-parameter
        put("optimizer", self.optimizer.strip().lower())
        if self.clip_norm is not None and not (
            isinstance(self.clip_norm, (int, float)) and math.isfinite(self.clip_norm)
            and self.clip_norm > 0
        ):  # fmt: skip
            raise GradsimError(f"--clip-norm must be a positive number (got {self.clip_norm})")
        every = self.log_every if self.log_every is not None else max(1, self.steps // 100)
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise GradsimError(f"--log-every must be a whole number ≥ 1 (got {every!r})")
        put("log_every", every)
        mode = self.bn_eval.strip().lower() if isinstance(self.bn_eval, str) else None
        if mode not in BN_EVAL:
            raise unknown_name("bn-eval mode", str(self.bn_eval), BN_EVAL)
        put("bn_eval", mode)
        if self.running_stats and self.net.batch < 2:
            raise GradsimError(
                "--norm batch with --bn-eval running needs --batch of at least 2 (the running "
                "variance is the unbiased one, B/(B−1)·σ²)"
            )

    @property
    def running_stats(self) -> bool:
        """Whether training keeps batch norm's running statistics (and evaluates with them)."""
        return self.net.norm == "batch" and self.bn_eval == "running"

    def make_optimizer(self):
        hyper = {k: getattr(self, k) for k in ("momentum", "beta1", "beta2", "eps")}
        spec = OPTIMIZERS.get(self.optimizer.strip().lower())
        if spec is not None:  # options the optimizer does not take stay unset
            hyper = {k: v for k, v in hyper.items() if k in spec.hyper or v is not None}
        return make_optimizer(self.optimizer, self.lr, **hyper)

    @property
    def logged_steps(self) -> list[int]:
        """Steps whose loss is recorded: 0 (before training), every log_every, the last."""
        steps = list(range(0, self.steps + 1, self.log_every))
        return steps if steps[-1] == self.steps else [*steps, self.steps]

    def to_dict(self, n_in: int, n_out: int) -> dict:
        """Every resolved option, the network's first (with the widths the task gives)."""
        d = self.net.to_dict()
        d["widths"] = [n_in, *(self.net.width,) * (self.net.depth - 1), n_out]
        d.pop("loss")  # the task's loss replaces it
        d.pop("threshold")
        spec = OPTIMIZERS[self.optimizer]
        hyper = {k: getattr(self, k) if getattr(self, k) is not None else v
                 for k, v in spec.hyper.items()}  # fmt: skip
        d.update(task=self.task, samples=self.samples, steps=self.steps, lr=self.lr,
                 optimizer=self.optimizer, **hyper, clip_norm=self.clip_norm,
                 log_every=self.log_every,
                 bn_eval=self.bn_eval if self.net.norm == "batch" else None)  # fmt: skip
        return d
