"""Build an MLP's weights, biases, inputs and targets from a RunConfig.

All randomness comes from one ``numpy.random.SeedSequence`` rooted at the seed, split into
independent streams by spawn key: (0, l) weights of layer l, (1, l) its biases, (2,) the
inputs X, (3,) the targets T, (4,) the batch LSUV rescales on. Layer l's weights therefore
do not depend on the depth or on other layers (except under LSUV, which rescales each layer
on what the layers before it give), and the same seed gives the same numbers on any machine
and in any order.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from gradsim.activations import ACTIVATIONS
from gradsim.config import RunConfig
from gradsim.initializers import INITIALIZERS
from gradsim.layers import Block
from gradsim.losses import LOSSES
from gradsim.lsuv import lsuv

Array = np.ndarray

_WEIGHTS, _BIASES, _INPUTS, _TARGETS, _LSUV = range(5)


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


@dataclass(frozen=True)
class Network:
    """W[l-1]: (n_{l-1}, n_l), b[l-1]: (n_l,), X: (B, n_0), T: (B, n_L) or None.

    Everything is stored in the run's dtype (float16 too).
    """

    W: tuple[Array, ...]
    b: tuple[Array, ...]
    X: Array
    T: Array | None

    @property
    def depth(self) -> int:
        return len(self.W)

    @functools.cached_property
    def weight_stats(self) -> tuple[Array, Array, Array]:
        """(mean, std, log10 ‖W_l‖_F) per layer, float64 arrays of length L; computed once."""
        from gradsim.engine import _log10, _moments

        std, lnorm, mean = np.empty(self.depth), np.empty(self.depth), np.empty(self.depth)
        for l, W in enumerate(self.W):
            w = W.astype(np.float32) if W.dtype == np.float16 else W
            mean[l], std[l], rms = _moments(w)
            lnorm[l] = _log10(rms * math.sqrt(W.size))
        return mean, std, lnorm

    @property
    def symmetric_layers(self) -> list[int]:
        """Layers (1-based) whose weights are all equal: their units can never differ."""
        mean, std, _ = self.weight_stats
        return [
            l + 1
            for l, W in enumerate(self.W)
            if W.size > 1 and std[l] <= 1e-6 * abs(mean[l]) + 1e-300
            and W.min() == W.max()
        ]  # fmt: skip


def draw_bias(rule: str, fan_in: int, fan_out: int, rng, cfg: RunConfig) -> Array:
    """Biases of one layer, (fan_out,) float64, by the resolved bias rule."""
    if rule == "zeros":
        return np.zeros(fan_out)
    if rule == "constant":
        return np.full(fan_out, cfg.bias_value)
    if rule == "normal":
        return rng.normal(0.0, cfg.bias_std, size=fan_out) if cfg.bias_std else np.zeros(fan_out)
    # "uniform": PyTorch nn.Linear's U(±1/√fan_in)
    bound = 1.0 / math.sqrt(fan_in)
    return rng.uniform(-bound, bound, size=fan_out)


def bias_moments(rule: str, fan_in: int, cfg: RunConfig) -> tuple[float, float]:
    """(mean, std) of the biases ``draw_bias`` draws by ``rule``: what mean-field theory
    needs (gradsim.theory). Kept beside draw_bias so the two cannot drift apart."""
    if rule == "zeros":
        return 0.0, 0.0
    if rule == "constant":
        return cfg.bias_value, 0.0
    if rule == "normal":
        return 0.0, cfg.bias_std
    return 0.0, 1.0 / math.sqrt(3.0 * fan_in)  # U(±1/√fan_in)


def blocks(cfg: RunConfig) -> list[Block]:
    """What each layer does after H_{l-1} W_l (gradsim.layers): the same for every layer."""
    fn = ACTIVATIONS[cfg.activation].with_param(cfg.slope).fn
    alpha = cfg.residual_scale if cfg.residual else None
    return [Block(cfg.norm, fn, alpha)] * cfg.depth


def draw_parameters(
    cfg: RunConfig, n: tuple[int, ...], layer_blocks: list[Block], lsuv_batch: Array | None = None
) -> tuple[list[Array], list[Array]]:
    """W_1 … W_L and b_1 … b_L for the widths ``n`` (n_0 … n_L), in the run's dtype, from the
    seed's streams. An LSUV initializer rescales the float64 draws on ``lsuv_batch`` (by
    default a batch like X from its own stream) through ``layer_blocks`` before the cast;
    otherwise each layer is cast as it is drawn (one float64 draw alive at a time)."""
    dtype = np.dtype(cfg.dtype)
    init = INITIALIZERS[cfg.init]
    p, rule = cfg.init_params, cfg.resolved_bias_init
    cast = dtype if not init.data_driven else np.dtype(np.float64)
    W, b = [], []
    for l in range(1, len(n)):
        W.append(init.draw(n[l - 1], n[l], _rng(cfg.seed, _WEIGHTS, l), p).astype(cast))
        b.append(draw_bias(rule, n[l - 1], n[l], _rng(cfg.seed, _BIASES, l), cfg).astype(cast))
    if init.data_driven:
        if lsuv_batch is None:
            lsuv_batch = _rng(cfg.seed, _LSUV).standard_normal((cfg.batch, n[0]))
        lsuv(W, b, lsuv_batch, layer_blocks, target=abs(cfg.gain))
        W = [w.astype(dtype) for w in W]
        b = [v.astype(dtype) for v in b]
    return W, b


def build_network(cfg: RunConfig) -> Network:
    dtype = np.dtype(cfg.dtype)
    n = cfg.layer_widths
    W, b = draw_parameters(cfg, n, blocks(cfg))
    X = _rng(cfg.seed, _INPUTS).standard_normal((cfg.batch, n[0])).astype(dtype)
    T = None
    if LOSSES[cfg.loss].needs_target:
        T = _rng(cfg.seed, _TARGETS).standard_normal((cfg.batch, n[-1])).astype(dtype)
    net = Network(tuple(W), tuple(b), X, T)
    net.weight_stats  # noqa: B018  (weights' statistics belong to the network: computed once)
    return net
