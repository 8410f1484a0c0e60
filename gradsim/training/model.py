"""The network ``gradsim train`` trains: its parameters, forward pass, loss and exact backward.

Widths n_0 = the task's inputs, n_1 … n_{L-1} = --width, n_L = the task's outputs. Layers
1 … L-1 are those of ``gradsim run`` (gradsim.engine.Block: optional normalization, bias,
φ, optional skip connection where the widths are equal, i.e. layers 2 … L-1); layer L is a
linear read-out, Z_L = H_{L-1} W_L + b_L, because a network whose last layer is a ReLU
cannot output a negative logit or target. Losses, over a batch of B:

* regression: E = 1/(2B) Σ ‖Z_L − Y‖² (the mse of ``gradsim run``);
* classification: softmax cross-entropy, E = −1/B Σ log softmax(Z_L)_y.

The forward and backward passes are gradsim's one pass (gradsim.engine) with
``keep="grads"``: the forward runs plainly in the run's dtype (float32 or float64), since the
loss reads the true output and an overflow in training is a result (the run diverged); the
backward carries δ rescaled by exact powers of two, as every pass does, and returns the
gradients at their true scale, so they equal plain arithmetic's wherever that keeps them
normal and stay exact where plain arithmetic would have lost them to underflow.

Batch norm's running statistics, as PyTorch's BatchNorm keeps them (``update_running``):
they start at μ̂ = 0, σ̂² = 1 and after every training forward pass become
μ̂ ← (1 − m)·μ̂ + m·μ_B and σ̂² ← (1 − m)·σ̂² + m·B/(B − 1)·σ²_B, with m = 0.1 and μ_B, σ²_B
the mini-batch's mean and biased variance of U_l = H_{l-1} W_l per unit. Evaluation mode
(``forward(..., running=True)``) normalizes with them: Z_l = (U_l − μ̂)/√(σ̂² + ε) + b_l.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gradsim import engine
from gradsim.config import RunConfig
from gradsim.draws import draw_parameters
from gradsim.dtypes import fmt
from gradsim.engine import Block
from gradsim.initializers import INITIALIZERS
from gradsim.network import Stack
from gradsim.scaling import is_plain

Array = np.ndarray
BN_MOMENTUM = 0.1  # PyTorch's default for BatchNorm's running statistics


@dataclass
class Model:
    """W[l-1]: (n_{l-1}, n_l), b[l-1]: (n_l,), both trained; blocks[l-1] says what layer l
    does (gradsim.engine.Block; the read-out's is linear)."""

    W: list[Array]
    b: list[Array]
    blocks: list[Block]
    classification: bool
    # per layer, batch norm's running (μ̂, σ̂²), each (n_l,), where they are kept; else None
    running: list[tuple[Array, Array] | None] | None = None
    # the number format (gradsim.dtypes): a low-precision one keeps float32 master
    # parameters, rounded to the format where the pass reads them
    dtype: str = "float32"
    plain: bool = False  # a loss scale other than ideal: no rescaling in the pass

    @property
    def depth(self) -> int:
        return len(self.W)

    @property
    def params(self) -> list[Array]:
        """Every trained array: W_1 … W_L, then b_1 … b_L (the optimizer's order)."""
        return [*self.W, *self.b]

    def stack(self, X: Array) -> Stack:
        """The model on the batch X as the pass takes it: a stack of one (views of the
        trained arrays, so the optimizer's updates show), every layer's bias added."""
        return Stack(tuple(w[None] for w in self.W), tuple(b[None] for b in self.b),
                     X[None], None, (True,) * self.depth)  # fmt: skip


def widths(cfg: RunConfig, n_in: int, n_out: int) -> tuple[int, ...]:
    return (n_in, *(cfg.width,) * (cfg.depth - 1), n_out)


def build_model(cfg: RunConfig, n_in: int, n_out: int, classification: bool,
                lsuv_batch: Array | None = None) -> Model:  # fmt: skip
    """Weights and biases from the seed's streams (as ``gradsim run`` draws them, layer by
    layer); an LSUV initializer rescales them on ``lsuv_batch`` (the first mini-batch)."""
    n = widths(cfg, n_in, n_out)
    blocks = [Block(cfg.phi, cfg.norm, cfg.alpha if n[l - 1] == n[l] else None)
              for l in range(1, cfg.depth)]  # fmt: skip
    blocks.append(Block())  # the linear read-out
    if INITIALIZERS[cfg.init].data_driven and lsuv_batch is None:
        raise ValueError("an LSUV initializer needs a batch")
    W, b = draw_parameters(cfg, n, blocks, lsuv_batch)
    if fmt(cfg.dtype).low:  # float32 master parameters (the format's values to start)
        W, b = [w.astype(np.float32) for w in W], [v.astype(np.float32) for v in b]
    return Model(W, b, blocks, classification, dtype=cfg.dtype, plain=is_plain(cfg.loss_scale))


@dataclass
class Cache:
    """What the forward pass leaves for the backward pass (gradsim.engine.Forward)."""

    f: engine.Forward

    @property
    def output(self) -> Array:
        """H_L = Z_L, the read-out: (B, n_L)."""
        return self.f.H[0]

    @property
    def activations(self) -> list[Array]:
        """H_0 … H_L."""
        return [k.M[0] for k in self.f.kept] + [self.output]


def forward(model: Model, X: Array, *, running: bool = False) -> Cache:
    """The forward pass on the batch X (B, n_0), in the parameters' dtype. Where the model
    keeps running statistics, batch-norm layers record their batch's (μ, σ²) (training
    mode), or with ``running`` normalize with the running ones (evaluation mode, whose
    backward pass this is not)."""
    dtype = model.W[0].dtype
    kept = model.running is not None
    return Cache(engine.forward(model.stack(X.astype(dtype, copy=False)), model.blocks,
                                model.dtype, keep="grads", stats=False,
                                record=kept and not running, plain=model.plain,
                                running=model.running if kept and running else None))  # fmt: skip


def keep_running(model: Model) -> None:
    """Start batch norm's running statistics: μ̂ = 0, σ̂² = 1 per unit of every batch-norm
    layer (PyTorch's initial values), in the parameters' dtype."""
    model.running = [(np.zeros_like(b), np.ones_like(b)) if blk.norm == "batch" else None
                     for blk, b in zip(model.blocks, model.b, strict=True)]  # fmt: skip


def update_running(model: Model, c: Cache, momentum: float = BN_MOMENTUM) -> None:
    """μ̂ ← (1 − m)·μ̂ + m·μ_B, σ̂² ← (1 − m)·σ̂² + m·B/(B − 1)·σ²_B for every batch-norm layer,
    from the training forward pass ``c`` (which recorded μ_B and the biased σ²_B)."""
    B = c.output.shape[0]
    for run, stats in zip(model.running or (), c.f.batch_stats, strict=False):
        if run is None or stats is None:
            continue
        (mean, var), (mu, s2) = run, stats
        f = mean.dtype.type
        mean *= f(1.0 - momentum)
        mean += f(momentum) * mu[0, 0]
        var *= f(1.0 - momentum)
        var += f(momentum * B / (B - 1)) * s2[0, 0]


def loss_and_grad(out: Array, target: Array, classification: bool) -> tuple[float, Array]:
    """(E, ∂E/∂out) for a batch; E in float64, the gradient in out's dtype."""
    B = out.shape[0]
    if classification:
        z = out.astype(np.float64)
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        rows = np.arange(B)
        E = -float(logp[rows, target].mean())
        g = np.exp(logp)
        g[rows, target] -= 1.0
        return E, (g / B).astype(out.dtype)
    d = out.astype(np.float64) - target
    return 0.5 * float(np.sum(d * d)) / B, (d / B).astype(out.dtype)


def accuracy(out: Array, labels: Array) -> float:
    return float(np.mean(np.argmax(out, axis=1) == labels))


def backward(model: Model, c: Cache, dout: Array, scale: float = 1.0
             ) -> tuple[list[Array], list[Array]]:  # fmt: skip
    """(∂E/∂W_l, ∂E/∂b_l) for every layer, given ∂E/∂H_L (B, n_L). With a loss ``scale``
    (gradsim.scaling), the pass starts from ∂E/∂H_L × scale in the format, the gradients
    come out in the format and are divided by the scale in float32 (a framework's
    GradScaler unscales before the step): inf/NaN where the scaled pass overflowed."""
    p = c.f.p
    G = np.array(dout[None], dtype=p.compute)
    if scale != 1.0:
        G *= p.compute.type(scale)
    grads = engine.backward(c.f, G, [0.0])
    gW, gb = [g[0] for g in grads.dW], [g[0] for g in grads.db]
    if p.half and model.plain:  # the gradients of the format's parameters: its numbers
        gW, gb = [p.round(g) for g in gW], [p.round(g) for g in gb]
    if scale != 1.0:
        inv = p.compute.type(1.0 / scale)
        for g in (*gW, *gb):  # (the pass's own new arrays: unscaled in place)
            g *= inv
    return gW, gb


def first_nonfinite(model: Model, c: Cache | None = None, grads=None) -> tuple[int, str] | None:
    """(layer, what) of the first non-finite number: weights and biases from layer 1 up, then
    the forward pass's outputs, then the gradients from layer L down (backward order)."""
    for l in range(model.depth):
        if not (np.isfinite(model.W[l]).all() and np.isfinite(model.b[l]).all()):
            return l + 1, "weights"
    if c is not None:
        for l, H in enumerate(c.activations[1:], start=1):
            if not np.isfinite(H).all():
                return l, "activations"
    if grads is not None:
        gW, gb = grads
        for l in range(model.depth - 1, -1, -1):
            if not (np.isfinite(gW[l]).all() and np.isfinite(gb[l]).all()):
                return l + 1, "gradients"
    return None


def symmetric_layers(model: Model) -> list[int]:
    """Hidden layers (1-based) whose units are all identical: every column of W_l equal and
    every entry of b_l equal. Such units receive identical gradients and stay identical."""
    out = []
    for l in range(model.depth - 1):
        W, b = model.W[l], model.b[l]
        if W.shape[1] > 1 and np.all(W == W[:, :1]) and np.all(b == b[0]):
            out.append(l + 1)
    return out


def log10_norm(A: Array) -> float:
    a = A.astype(np.float64, copy=False).ravel()
    s = float(np.dot(a, a))
    if s == 0:
        return -math.inf
    return 0.5 * math.log10(s) if math.isfinite(s) else math.nan
