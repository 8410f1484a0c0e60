"""Drawing networks from the seed's streams (gradsim.streams), one or many at once.

Layer l's weights come from stream (WEIGHTS, l), its biases from (BIASES, l), the inputs X
from (INPUTS,), the targets T from (TARGETS,), LSUV's batch from (LSUV,). ``build_stacks``
draws many networks of one shape together, and what they have in common once: every stream
is seeded once (``streams.StreamSet``), and runs whose layer l is one scaled call of the
same stream (``Initializer.scaled``: every gain, every normal or every uniform
variance-scaling initializer, under one seed) get that one draw times their own factor,
which is the very product their own draw computes. A data-driven initializer (LSUV)
rescales each network on its own batch, one network at a time (``draw_parameters``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np

from gradsim import streams
from gradsim.config import RunConfig
from gradsim.engine import Block
from gradsim.initializers import INITIALIZERS
from gradsim.losses import LOSSES
from gradsim.lsuv import lsuv
from gradsim.network import Network, Stack, blocks_of, shape_key

Array = np.ndarray


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
    needs (gradsim.meanfield). Kept beside draw_bias so the two cannot drift apart."""
    if rule == "zeros":
        return 0.0, 0.0
    if rule == "constant":
        return cfg.bias_value, 0.0
    if rule == "normal":
        return 0.0, cfg.bias_std
    return 0.0, 1.0 / math.sqrt(3.0 * fan_in)  # U(±1/√fan_in)


def _bias_draws(cfg: RunConfig) -> bool:
    """Whether the biases come from their streams (not a constant)."""
    rule = cfg.resolved_bias_init
    return rule == "uniform" or (rule == "normal" and cfg.bias_std != 0)


def draw_parameters(
    cfg: RunConfig, n: tuple[int, ...], blocks: Sequence[Block], lsuv_batch: Array | None = None
) -> tuple[list[Array], list[Array]]:
    """W_1 … W_L and b_1 … b_L of one network of widths ``n`` (n_0 … n_L), in the run's
    dtype. An LSUV initializer rescales the float64 draws on ``lsuv_batch`` (by default a
    batch like X from its own stream) through ``blocks`` before the cast; otherwise each
    layer is cast as it is drawn (one float64 draw alive at a time)."""
    dtype = np.dtype(cfg.dtype)
    init = INITIALIZERS[cfg.init]
    p, rule = cfg.init_params, cfg.resolved_bias_init
    cast = dtype if not init.data_driven else np.dtype(np.float64)
    W, b = [], []
    for l in range(1, len(n)):
        rng = streams.rng(cfg.seed, streams.WEIGHTS, l)
        W.append(init.draw(n[l - 1], n[l], rng, p).astype(cast))
        rng = streams.rng(cfg.seed, streams.BIASES, l) if _bias_draws(cfg) else None
        b.append(draw_bias(rule, n[l - 1], n[l], rng, cfg).astype(cast))
    if init.data_driven:
        if lsuv_batch is None:
            lsuv_batch = streams.rng(cfg.seed, streams.LSUV).standard_normal((cfg.batch, n[0]))
        lsuv(W, b, lsuv_batch, blocks, target=abs(cfg.gain))
        W = [w.astype(dtype) for w in W]
        b = [v.astype(dtype) for v in b]
    return W, b


def build_network(cfg: RunConfig) -> Network:
    """The network ``cfg`` describes, drawn from its seed's streams."""
    return build_stacks([[cfg]])[0].network(0)


def build_stacks(groups: Sequence[Sequence[RunConfig]]) -> list[Stack]:
    """One Stack per group of configurations (one ``shape_key`` in a group, any
    initializers, biases and seeds); every network is the one its configuration alone
    gives. What the groups' runs have in common is drawn once (the module's docstring)."""
    stacks = [_allocate(configs) for configs in groups]
    slots = [(g, k, cfg) for g, configs in enumerate(groups) for k, cfg in enumerate(configs)]
    sset = streams.StreamSet(_stream_keys(cfg for _, _, cfg in slots))
    plans = {(g, fans): _plan(groups[g], fans)
             for g, configs in enumerate(groups)
             for fans in dict.fromkeys(itertools.pairwise(configs[0].layer_widths))}  # fmt: skip
    for l in range(1, max(c[0].depth for c in groups) + 1):
        _draw_layer(stacks, groups, plans, sset, l)
    for g, k, cfg in slots:
        if INITIALIZERS[cfg.init].data_driven:  # rescaled on its own data: one by one
            W, b = draw_parameters(cfg, cfg.layer_widths, blocks_of(cfg))
            for l in range(cfg.depth):
                stacks[g][0][l][k], stacks[g][1][l][k] = W[l], b[l]
    _draw_data(stacks, slots, sset)
    return [Stack(tuple(W), tuple(b), X, T, tuple(bool(np.any(bl)) for bl in b))
            for W, b, X, T in stacks]  # fmt: skip


def _allocate(configs: Sequence[RunConfig]) -> tuple[list, list, Array, Array | None]:
    """Empty arrays for a stack of ``configs``: W, b (zeros: not drawn for zero biases), X, T."""
    if len({(*shape_key(c)[:3], LOSSES[c.loss].needs_target) for c in configs}) != 1:
        raise ValueError("build_stacks needs configurations of one shape in a group")
    c0 = configs[0]
    K, n, B, dtype = len(configs), c0.layer_widths, c0.batch, np.dtype(c0.dtype)
    if len(set(n[1:])) == 1 and n[0] == n[1]:  # equal layers: one array, a view each
        W = list(np.empty((c0.depth, K, n[1], n[1]), dtype))
    else:
        W = [np.empty((K, n[l], n[l + 1]), dtype) for l in range(c0.depth)]
    b = [np.zeros((K, n[l + 1]), dtype) for l in range(c0.depth)]
    T = np.empty((K, B, n[-1]), dtype) if LOSSES[c0.loss].needs_target else None
    return W, b, np.empty((K, B, n[0]), dtype), T


def _plan(configs: Sequence[RunConfig], fans: tuple[int, int]) -> tuple[dict, list]:
    """For a layer shape of a group: the runs that share a scaled call of their stream
    ({(seed, method, args): (runs, factors)}) and those that draw alone."""
    shared: dict[tuple, tuple[list[int], list[float]]] = {}
    alone = []
    for k, cfg in enumerate(configs):
        init, p = INITIALIZERS[cfg.init], cfg.init_params
        if init.data_driven:
            continue
        call = init.scaled(*fans, p) if init.scaled is not None else None
        if call is None:
            alone.append((k, cfg))
        else:
            ks, fs = shared.setdefault((cfg.seed, call[0], call[1]), ([], []))
            ks.append(k)
            fs.append(call[2])
    return {key: (ks, np.asarray(fs, dtype=np.float64)) for key, (ks, fs) in shared.items()}, alone


def _draw_layer(stacks, groups, plans, sset, l: int) -> None:
    """Layer l's weights and biases of every drawn run (one draw per (seed, call))."""
    bases: dict[tuple, Array] = {}
    for g, configs in enumerate(groups):
        n = configs[0].layer_widths
        if l >= len(n):
            continue
        W, b = stacks[g][0][l - 1], stacks[g][1][l - 1]
        shared, alone = plans[g, (n[l - 1], n[l])]
        for key, (ks, factors) in shared.items():
            if key not in bases:
                seed, method, args = key
                bases[key] = getattr(sset.get(seed, (streams.WEIGHTS, l)), method)(*args)
            # factor · base for each run, as its own draw computes it (in float64), then
            # rounded to the stack's dtype on assignment (2× faster than a ufunc that casts
            # into W as it goes)
            prod = np.multiply(factors[:, None, None], bases[key])
            if ks[-1] - ks[0] == len(ks) - 1:  # runs side by side
                W[ks[0] : ks[-1] + 1] = prod
            else:
                W[ks] = prod
        for k, cfg in alone:
            rng = sset.get(cfg.seed, (streams.WEIGHTS, l))
            W[k] = INITIALIZERS[cfg.init].draw(n[l - 1], n[l], rng, cfg.init_params)
        for k, cfg in enumerate(configs):
            if cfg.resolved_bias_init != "zeros" and not INITIALIZERS[cfg.init].data_driven:
                rng = sset.get(cfg.seed, (streams.BIASES, l)) if _bias_draws(cfg) else None
                b[k] = draw_bias(cfg.resolved_bias_init, n[l - 1], n[l], rng, cfg)


def _draw_data(stacks, slots, sset) -> None:
    """X and T of every run (runs of one seed and shape share the draw)."""
    drawn: dict[tuple, Array] = {}
    for g, k, cfg in slots:
        _, _, X, T = stacks[g]
        for key, out in ((streams.INPUTS, X), (streams.TARGETS, T)):
            if out is not None:
                shape = out.shape[1:]
                if (cfg.seed, key, shape) not in drawn:
                    drawn[cfg.seed, key, shape] = sset.get(cfg.seed, (key,)).standard_normal(shape)
                out[k] = drawn[cfg.seed, key, shape]


def _stream_keys(configs) -> list[tuple[int, tuple[int, ...]]]:
    """The (seed, key) streams ``build_stacks`` may draw from for ``configs``, once each."""
    needs = {(c.seed, c.depth, _bias_draws(c), LOSSES[c.loss].needs_target) for c in configs}
    out = set()
    for seed, depth, draws_bias, target in needs:
        out.update((seed, (streams.WEIGHTS, l)) for l in range(1, depth + 1))
        if draws_bias:
            out.update((seed, (streams.BIASES, l)) for l in range(1, depth + 1))
        out.add((seed, (streams.INPUTS,)))
        if target:
            out.add((seed, (streams.TARGETS,)))
    return sorted(out)
