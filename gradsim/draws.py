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

import functools
import itertools
import math
from collections.abc import Sequence

import numpy as np

from gradsim import streams
from gradsim.config import RunConfig
from gradsim.dtypes import container, fmt
from gradsim.engine import Block
from gradsim.initializers import INITIALIZERS
from gradsim.losses import LOSSES
from gradsim.lsuv import lsuv
from gradsim.network import Network, Stack, blocks_of, shape_key

Array = np.ndarray
# layers are drawn in threads (each layer its own stream, so the same numbers) when a weight
# matrix has at least this many entries: below, thread hand-offs cost more than the fill (a
# stack's runs share their draws, so a stack of small layers draws little per layer)
PARALLEL_ENTRIES = 64 * 1024


def _quiet(fn):
    """Draws cast to a format they overflow give its inf, as the run then reports (an
    overflow verdict): without NumPy's warning of the cast."""

    @functools.wraps(fn)
    def quiet(*args, **kwargs):
        with np.errstate(over="ignore", invalid="ignore"):
            return fn(*args, **kwargs)

    return quiet


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


@_quiet
def draw_parameters(
    cfg: RunConfig, n: tuple[int, ...], blocks: Sequence[Block], lsuv_batch: Array | None = None
) -> tuple[list[Array], list[Array]]:
    """W_1 … W_L and b_1 … b_L of one network of widths ``n`` (n_0 … n_L), in the run's
    dtype. An LSUV initializer rescales the float64 draws on ``lsuv_batch`` (by default a
    batch like X from its own stream) through ``blocks`` before the cast; otherwise each
    layer is cast as it is drawn (one float64 draw alive at a time)."""
    dtype, form = container(cfg.dtype), fmt(cfg.dtype)
    init = INITIALIZERS[cfg.init]
    p, rule = cfg.init_params, cfg.resolved_bias_init
    cast = dtype if not init.data_driven else np.dtype(np.float64)
    W, b = [], []
    for l in range(1, len(n)):
        rng = streams.rng(cfg.seed, streams.WEIGHTS, l)
        W.append(form.round(init.draw(n[l - 1], n[l], rng, p).astype(cast)))
        rng = streams.rng(cfg.seed, streams.BIASES, l) if _bias_draws(cfg) else None
        b.append(form.round(draw_bias(rule, n[l - 1], n[l], rng, cfg).astype(cast)))
    if init.data_driven:
        if lsuv_batch is None:
            lsuv_batch = streams.rng(cfg.seed, streams.LSUV).standard_normal((cfg.batch, n[0]))
        lsuv(W, b, lsuv_batch, blocks, target=abs(cfg.gain))
        W = [form.round(w.astype(dtype)) for w in W]
        b = [form.round(v.astype(dtype)) for v in b]
    return W, b


def build_network(cfg: RunConfig) -> Network:
    """The network ``cfg`` describes, drawn from its seed's streams, every array at hand."""
    return build_stacks([[cfg]])[0].network(0)


def build_stack(cfg: RunConfig, low_memory: bool = False) -> Stack:
    """``cfg``'s network as a stack of one for the pass, the same numbers as
    ``build_network``: large layers are drawn in the pool's threads, ahead of the pass that
    reads them (``DrawnWeights``), and with ``low_memory`` drawn again where the backward
    pass needs them instead of kept. LSUV rescales on the whole network first."""
    n = cfg.layer_widths
    lazy = max(a * b for a, b in itertools.pairwise(n)) >= PARALLEL_ENTRIES and cfg.depth > 1
    if INITIALIZERS[cfg.init].data_driven or not (lazy or low_memory):
        return build_stacks([[cfg]])[0]
    b, X, T = _allocate([cfg])
    sset = streams.StreamSet(_stream_keys([cfg]))
    plans = {fans: _plan([cfg], fans) for fans in dict.fromkeys(itertools.pairwise(n))}
    for l in range(1, cfg.depth + 1):
        _draw_biases([cfg], sset, l, b[l - 1])
    _draw_data([(b, X, T)], [(0, 0, cfg)], sset)

    def draw(i: int) -> Array:  # layer i + 1, in any thread (a stream and an array its own)
        return _weights([cfg], plans[n[i], n[i + 1]], sset, i + 1, {})

    W = DrawnWeights(draw, cfg.depth, keep=not low_memory)
    return Stack(W, tuple(b), X, T, tuple(bool(np.any(v)) for v in b))


class DrawnWeights(Sequence):
    """W_1 … W_L of a stack (index l − 1), drawn in the pool's threads (gradsim.threads)
    ahead of their use: every layer at once when ``keep``, else a few layers ahead in the
    direction they are read, each dropped once read and drawn again when read again (the
    backward pass of a low-memory run). Reading waits for the draw."""

    def __init__(self, draw, depth: int, keep: bool = True, ahead: int | None = None):
        from gradsim.threads import cores, pool

        self._draw, self._depth, self.keep = draw, depth, keep
        self._pool = pool()
        self._ahead = ahead if ahead is not None else 2 * cores()
        self._futures: dict = {}
        self._last = -1
        for i in range(depth if keep else min(depth, self._ahead)):
            self._futures[i] = self._pool.submit(draw, i)

    def __len__(self) -> int:
        return self._depth

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._depth))]
        i = range(self._depth)[i]  # (IndexError past the end, as a sequence's)
        future = self._futures.get(i) if self.keep else self._futures.pop(i, None)
        if future is None:  # (only without keep: with it, every layer was submitted)
            future = self._pool.submit(self._draw, i)
        if not self.keep:  # the next few in the direction of reading
            step = 1 if i > self._last else -1
            for j in range(i + step, i + step * (self._ahead + 1), step):
                if 0 <= j < self._depth and j not in self._futures:
                    self._futures[j] = self._pool.submit(self._draw, j)
            self._last = i
        return future.result()


def build_stacks(groups: Sequence[Sequence[RunConfig]]) -> list[Stack]:
    """One Stack per group of configurations (one ``shape_key`` in a group, any
    initializers, biases and seeds), every array at hand; every network is the one its
    configuration alone gives. What the groups' runs have in common is drawn once (the
    module's docstring)."""
    arrays = [_allocate(configs) for configs in groups]
    slots = [(g, k, cfg) for g, configs in enumerate(groups) for k, cfg in enumerate(configs)]
    sset = streams.StreamSet(_stream_keys(cfg for _, _, cfg in slots))
    plans = {(g, fans): _plan(groups[g], fans)
             for g, configs in enumerate(groups)
             for fans in dict.fromkeys(itertools.pairwise(configs[0].layer_widths))}  # fmt: skip
    W: list[list] = [[None] * configs[0].depth for configs in groups]

    def draw(l: int) -> None:  # layer l of every group, one draw per (seed, call)
        bases: dict[tuple, Array] = {}
        for g, configs in enumerate(groups):
            n = configs[0].layer_widths
            if l < len(n):
                W[g][l - 1] = _weights(configs, plans[g, (n[l - 1], n[l])], sset, l, bases)
                _draw_biases(configs, sset, l, arrays[g][0][l - 1])

    layers = range(1, max(c[0].depth for c in groups) + 1)
    big = max(max(a * b for a, b in itertools.pairwise(c[0].layer_widths)) for c in groups)
    if big >= PARALLEL_ENTRIES and len(layers) > 1:  # layers in threads: the same numbers
        from gradsim.threads import pool

        list(pool().map(draw, layers))
    else:
        for l in layers:
            draw(l)
    for g, k, cfg in slots:
        if INITIALIZERS[cfg.init].data_driven:  # rescaled on its own data: one by one
            Wd, bd = draw_parameters(cfg, cfg.layer_widths, blocks_of(cfg))
            for l in range(cfg.depth):
                W[g][l][k], arrays[g][0][l][k] = Wd[l], bd[l]
    _draw_data(arrays, slots, sset)
    return [Stack(tuple(Wg), tuple(b), X, T, tuple(bool(np.any(v)) for v in b))
            for Wg, (b, X, T) in zip(W, arrays, strict=True)]  # fmt: skip


def _allocate(configs: Sequence[RunConfig]) -> tuple[list, Array, Array | None]:
    """Empty arrays for a stack of ``configs``: b (zeros: not drawn for zero biases), X, T."""
    if len({(*shape_key(c)[:3], LOSSES[c.loss].needs_target) for c in configs}) != 1:
        raise ValueError("build_stacks needs configurations of one shape in a group")
    c0 = configs[0]
    K, n, B, dtype = len(configs), c0.layer_widths, c0.batch, container(c0.dtype)
    b = [np.zeros((K, n[l + 1]), dtype) for l in range(c0.depth)]
    T = np.empty((K, B, n[-1]), dtype) if LOSSES[c0.loss].needs_target else None
    return b, np.empty((K, B, n[0]), dtype), T


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


@_quiet
def _weights(configs, plan, sset, l: int, bases: dict) -> Array:
    """Layer l's weights of a group's drawn runs, (K, n_{l-1}, n_l) in the runs' dtype
    (data-driven runs' left empty); ``bases``: the draws of (seed, call) made so far at
    this layer, shared across groups."""
    c0 = configs[0]
    n = c0.layer_widths
    # a data-driven run's slice is filled later: zeros meanwhile, not whatever the memory
    # held (rounding that to bfloat16 or float8 warned of invalid values)
    lsuv_later = any(INITIALIZERS[c.init].data_driven for c in configs)
    W = (np.zeros if lsuv_later else np.empty)((len(configs), n[l - 1], n[l]),
                                                container(c0.dtype))  # fmt: skip
    shared, alone = plan
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
    return fmt(c0.dtype).round(W)  # bfloat16, float8: the container's values to the format


@_quiet
def _draw_biases(configs, sset, l: int, b: Array) -> None:
    """Layer l's biases of a group's drawn runs, into b (K, n_l) (zeros stay zeros)."""
    n = configs[0].layer_widths
    for k, cfg in enumerate(configs):
        if cfg.resolved_bias_init != "zeros" and not INITIALIZERS[cfg.init].data_driven:
            rng = sset.get(cfg.seed, (streams.BIASES, l)) if _bias_draws(cfg) else None
            b[k] = draw_bias(cfg.resolved_bias_init, n[l - 1], n[l], rng, cfg)
            fmt(cfg.dtype).round(b[k])


@_quiet
def _draw_data(arrays, slots, sset) -> None:
    """X and T of every run (runs of one seed and shape share the draw)."""
    drawn: dict[tuple, Array] = {}
    for g, k, cfg in slots:
        _, X, T = arrays[g]
        for key, out in ((streams.INPUTS, X), (streams.TARGETS, T)):
            if out is not None:
                shape = out.shape[1:]
                if (cfg.seed, key, shape) not in drawn:
                    drawn[cfg.seed, key, shape] = sset.get(cfg.seed, (key,)).standard_normal(shape)
                out[k] = drawn[cfg.seed, key, shape]
                fmt(cfg.dtype).round(out[k])


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
