"""The network ``gradsim train`` trains: its parameters, forward pass, loss and exact backward.

Widths n_0 = the task's inputs, n_1 … n_{L-1} = --width, n_L = the task's outputs. Layers
1 … L-1 are those of ``gradsim run`` (gradsim.layers.Block: optional normalization, bias, φ,
optional skip connection where the widths are equal, i.e. layers 2 … L-1); layer L is a
linear read-out, Z_L = H_{L-1} W_L + b_L, because a network whose last layer is a ReLU cannot
output a negative logit or target. Losses, over a batch of B:

* regression: E = 1/(2B) Σ ‖Z_L − Y‖² (the mse of ``gradsim run``);
* classification: softmax cross-entropy, E = −1/B Σ log softmax(Z_L)_y.

Arithmetic is plain, in the run's dtype (float32 or float64): an overflow in training is a
result (the run diverged), so nothing is rescaled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gradsim.activations import ACTIVATIONS, Activation
from gradsim.config import RunConfig
from gradsim.initializers import INITIALIZERS
from gradsim.layers import Block, block_output, normalize_backward, pre_activation
from gradsim.network import draw_parameters

Array = np.ndarray


@dataclass
class Model:
    """W[l-1]: (n_{l-1}, n_l), b[l-1]: (n_l,), both trained; blocks[l-1] and acts[l-1]
    (None for the read-out) say what layer l does."""

    W: list[Array]
    b: list[Array]
    blocks: list[Block]
    acts: list[Activation | None]
    classification: bool

    @property
    def depth(self) -> int:
        return len(self.W)

    @property
    def params(self) -> list[Array]:
        """Every trained array: W_1 … W_L, then b_1 … b_L (the optimizer's order)."""
        return [*self.W, *self.b]


def widths(cfg: RunConfig, n_in: int, n_out: int) -> tuple[int, ...]:
    return (n_in, *(cfg.width,) * (cfg.depth - 1), n_out)


def build_model(cfg: RunConfig, n_in: int, n_out: int, classification: bool,
                lsuv_batch: Array | None = None) -> Model:  # fmt: skip
    """Weights and biases from the seed's streams (as ``gradsim run`` draws them, layer by
    layer); an LSUV initializer rescales them on ``lsuv_batch`` (the first mini-batch)."""
    n = widths(cfg, n_in, n_out)
    act = ACTIVATIONS[cfg.activation].with_param(cfg.slope)
    blocks, acts = [], []
    for l in range(1, cfg.depth):
        skip = cfg.residual and n[l - 1] == n[l]
        blocks.append(Block(cfg.norm, act.fn, cfg.residual_scale if skip else None))
        acts.append(act)
    blocks.append(Block())  # the linear read-out
    acts.append(None)
    if INITIALIZERS[cfg.init].data_driven and lsuv_batch is None:
        raise ValueError("an LSUV initializer needs a batch")
    W, b = draw_parameters(cfg, n, blocks, lsuv_batch)
    return Model(W, b, blocks, acts, classification)


@dataclass
class Cache:
    """What the backward pass needs, per layer: H_{l-1}, Z_l, φ(Z_l), the normalized Y_l and
    its 1/s."""

    H: list[Array]  # H_0 … H_L (H_L = the output Z_L)
    Z: list[Array]
    A: list[Array]
    Y: list[Array | None]
    inv: list[Array | None]


def forward(model: Model, X: Array) -> Cache:
    H = X.astype(model.W[0].dtype, copy=False)
    c = Cache([H], [], [], [], [])
    for W, b, blk in zip(model.W, model.b, model.blocks, strict=True):
        Z, Y, inv = pre_activation(H, W, b, blk)
        A, H = block_output(H, Z, blk)
        c.Z.append(Z)
        c.A.append(A)
        c.Y.append(Y)
        c.inv.append(inv)
        c.H.append(H)
    return c


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


def backward(model: Model, c: Cache, dout: Array) -> tuple[list[Array], list[Array]]:
    """(∂E/∂W_l, ∂E/∂b_l) for every layer, given ∂E/∂H_L."""
    L = model.depth
    gW: list[Array] = [None] * L  # type: ignore[list-item]
    gb: list[Array] = [None] * L  # type: ignore[list-item]
    G = dout
    for l in range(L - 1, -1, -1):
        blk, act = model.blocks[l], model.acts[l]
        delta = G
        if act is not None:
            D = act.grad(c.Z[l], c.A[l])
            if D is not None:
                delta = G * D
        if blk.alpha is not None:
            delta = delta * np.asarray(blk.alpha, dtype=G.dtype)
        gb[l] = delta.sum(axis=0)
        dU = normalize_backward(delta, c.Y[l], c.inv[l], blk.norm) if blk.norm else delta
        gW[l] = c.H[l].T @ dU
        if l > 0:
            P = dU @ model.W[l].T
            G = G + P if blk.alpha is not None else P
    return gW, gb


def first_nonfinite(model: Model, c: Cache | None = None, grads=None) -> tuple[int, str] | None:
    """(layer, what) of the first non-finite number: weights and biases from layer 1 up, then
    the forward pass's outputs, then the gradients from layer L down (backward order)."""
    for l in range(model.depth):
        if not (np.isfinite(model.W[l]).all() and np.isfinite(model.b[l]).all()):
            return l + 1, "weights"
    if c is not None:
        for l, H in enumerate(c.H[1:], start=1):
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
