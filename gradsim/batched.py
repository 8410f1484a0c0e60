"""Many runs of one shape in one pass: ``engine.run_pass`` batched over a stack of networks.

Runs that share depth, widths, batch, dtype, activation and loss (and which layers have
biases) are stacked: W_l becomes (K, n_{l-1}, n_l), H and δ (K, B, n). Every product is
one ``np.matmul`` over the stack, every elementwise step one ufunc call on the whole stack,
so a layer's Python overhead is paid once per stack instead of once per run; only scalar
bookkeeping (a few float operations per run and layer, with the engine's formulas) loops
over K.

The statistics are the engine's, bitwise: for a stack NumPy's matmul calls, slice by slice,
the same BLAS routine the single-run pass calls on its 2-D arrays (gemm for products, syrk
for a Gram H Hᵀ, dot for the sums of ``_moments``, as a (1, N)·(N, 1) product), and the
elementwise ufuncs compute each entry alone. A run's numbers therefore do not depend on
which other runs share its stack, nor on its size (tests/test_batched.py checks both).
Bitwise equality needs the same BLAS thread count on both sides: a multithreaded OpenBLAS
splits dots of more than 10⁴ entries between threads, which changes their rounding.

Networks are drawn exactly as ``network.build_network`` draws them (same streams, same
numbers), with the stream seeding done for all layers and runs at once (``streams``).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gradsim.activations import ACTIVATIONS, Activation
from gradsim.config import RunConfig
from gradsim.engine import (
    _LOG10_2,
    Trace,
    _exp10,
    _log10,
    _moments,
    _ones,
    _pow2,
    _Precision,
    _Workspace,
    derivative,
    gram_pays,
    output_gradient,
)
from gradsim.initializers import INITIALIZERS
from gradsim.losses import LOSSES, Loss
from gradsim.network import _BIASES, _INPUTS, _TARGETS, _WEIGHTS, draw_bias
from gradsim.result import Result
from gradsim.streams import StreamSet
from gradsim.verdicts import summarize

Array = np.ndarray
_NAN = float("nan")
_NEG_INF = float("-inf")
_FIELDS = (
    "log10_act_rms", "act_mean", "act_std", "z_mean", "z_std", "saturated", "dead",
    "log10_delta_rms", "log10_grad_norm", "log10_weight_norm", "weight_std",
)  # fmt: skip


def shape_key(cfg: RunConfig) -> tuple:
    """Configurations with equal keys can share a stack."""
    return (cfg.layer_widths, cfg.batch, cfg.dtype, cfg.activation, cfg.resolved_slope,
            cfg.loss)  # fmt: skip


@dataclass(frozen=True)
class Stack:
    """K networks of one shape. W[l-1]: (K, n_{l-1}, n_l), b[l-1]: (K, n_l), X: (K, B, n_0),
    T: (K, B, n_L) or None, all in the runs' dtype; ``biased[l-1]``: layer l has a nonzero
    bias in these runs (the same for all K)."""

    W: tuple[Array, ...]
    b: tuple[Array, ...]
    X: Array
    T: Array | None
    biased: tuple[bool, ...]

    @property
    def size(self) -> int:
        return self.X.shape[0]

    @property
    def depth(self) -> int:
        return len(self.W)

    def take(self, idx: Sequence[int]) -> Stack:
        idx = np.asarray(idx)
        return Stack(tuple(w[idx] for w in self.W), tuple(b[idx] for b in self.b),
                     self.X[idx], None if self.T is None else self.T[idx],
                     self.biased)  # fmt: skip

    @functools.cached_property
    def weight_stats(self) -> tuple[Array, Array, Array]:
        """(mean, std, log10 ‖W_l‖_F), each (K, L): ``Network.weight_stats`` per run."""
        K, L = self.size, self.depth
        whole = self.W[0].base  # build_stacks draws equal layers into one (L, K, n, n) array
        if (
            whole is not None
            and whole.shape == (L, *self.W[0].shape)
            and all(w.base is whole for w in self.W)
        ):
            w = whole.astype(np.float32) if whole.dtype == np.float16 else whole
            mean, std, rms = (x.reshape(L, K).T for x in _moments_k(w.reshape(L * K, -1)))
        else:
            mean, std, rms = np.empty((K, L)), np.empty((K, L)), np.empty((K, L))
            for l, W in enumerate(self.W):
                w = W.astype(np.float32) if W.dtype == np.float16 else W
                mean[:, l], std[:, l], rms[:, l] = _moments_k(w)
        roots = [math.sqrt(W[0].size) for W in self.W]
        lnorm = np.array([[_log10(r * root) for r, root in zip(row, roots, strict=True)]
                          for row in rms.tolist()]).reshape(K, L)  # fmt: skip
        return mean, std, lnorm

    def symmetric_layers(self, mean: Array, std: Array) -> list[list[int]]:
        """Per run, ``Network.symmetric_layers``: layers whose weights are all equal."""
        out: list[list[int]] = [[] for _ in range(self.size)]
        for l, W in enumerate(self.W):
            if W[0].size <= 1:
                continue
            for k in range(self.size):
                if std[k, l] <= 1e-6 * abs(mean[k, l]) + 1e-300 and W[k].min() == W[k].max():
                    out[k].append(l + 1)
        return out


def build_stack(configs: Sequence[RunConfig]) -> Stack:
    """The networks of ``configs`` (one shape_key, any initializers and seeds), stacked;
    every array equals ``build_network``'s. Raises ValueError if the shapes differ."""
    return build_stacks([configs])[0]


def build_stacks(groups: Sequence[Sequence[RunConfig]]) -> list[Stack]:
    """``build_stack`` of every group, drawing what the groups' runs have in common once:
    each stream is seeded once (``streams.StreamSet``), and runs whose layer l is one
    scaled call of the same stream (``Initializer.scaled``: every gain, every normal or
    every uniform variance-scaling initializer, under one seed) get that one draw times
    their own factor, which is the very product their own draw computes."""
    stacks, slots = [], []  # slots: (stack index, run index, config)
    for g, configs in enumerate(groups):
        if len({(*shape_key(c)[:3], c.loss) for c in configs}) != 1:
            raise ValueError("build_stack needs configurations of one shape")
        c0 = configs[0]
        K, n, B = len(configs), c0.layer_widths, c0.batch
        dtype = np.dtype(c0.dtype)
        if len(set(n[1:])) == 1 and n[0] == n[1]:  # equal layers: one array, a view each
            W = list(np.empty((c0.depth, K, n[1], n[1]), dtype))
        else:
            W = [np.empty((K, n[l], n[l + 1]), dtype) for l in range(c0.depth)]
        stacks.append((
            W,
            [np.zeros((K, n[l + 1]), dtype) for l in range(c0.depth)],  # zeros: not drawn
            np.empty((K, B, n[0]), dtype),
            np.empty((K, B, n[-1]), dtype) if LOSSES[c0.loss].needs_target else None,
        ))  # fmt: skip
        slots += [(g, k, cfg) for k, cfg in enumerate(configs)]
    streams = StreamSet(_draw_streams(cfg for _, _, cfg in slots))

    # per stack and layer shape (n_in, n_out), worked out once: which runs share a scaled
    # call of their stream (seed, method, args) with which factors, and which draw alone
    plans: dict[tuple, tuple[dict, list]] = {}
    for g, configs in enumerate(groups):
        n = configs[0].layer_widths
        for fans in dict.fromkeys(itertools.pairwise(n)):
            shared: dict[tuple, tuple[list[int], list[float]]] = {}
            alone = []
            for k, cfg in enumerate(configs):
                init, p = INITIALIZERS[cfg.init], cfg.init_params
                call = init.scaled(*fans, p) if init.scaled is not None else None
                if call is None:
                    alone.append((k, cfg, init, p))
                else:
                    ks, fs = shared.setdefault((cfg.seed, call[0], call[1]), ([], []))
                    ks.append(k)
                    fs.append(call[2])
            plans[g, fans] = (
                {key: (ks, np.asarray(fs, dtype=np.float64)) for key, (ks, fs) in shared.items()},
                alone,
            )
    biased = [(g, k, cfg) for g, k, cfg in slots if cfg.resolved_bias_init != "zeros"]

    for l in range(1, max(c[0].depth for c in groups) + 1):
        bases: dict[tuple, Array] = {}  # one draw per (seed, call) at this layer
        for g, configs in enumerate(groups):
            n = configs[0].layer_widths
            if l >= len(n):
                continue
            W = stacks[g][0][l - 1]
            shared, alone = plans[g, (n[l - 1], n[l])]
            for (seed, method, args), (ks, factors) in shared.items():
                if (seed, method, args) not in bases:
                    rng = streams.get(seed, (_WEIGHTS, l))
                    bases[seed, method, args] = getattr(rng, method)(*args)
                # factor · base for each run, as scaled_draw computes it (in float64), then
                # rounded to the stack's dtype on assignment (2× faster than a ufunc that
                # casts into W as it goes)
                prod = np.multiply(factors[:, None, None], bases[seed, method, args])
                if ks[-1] - ks[0] == len(ks) - 1:  # runs side by side
                    W[ks[0] : ks[-1] + 1] = prod
                else:
                    W[ks] = prod
            for k, cfg, init, p in alone:
                W[k] = init.draw(n[l - 1], n[l], streams.get(cfg.seed, (_WEIGHTS, l)), p)
        for g, k, cfg in biased:
            n = cfg.layer_widths
            if l < len(n):
                rng = streams.get(cfg.seed, (_BIASES, l)) if _bias_draws(cfg) else None
                stacks[g][1][l - 1][k] = draw_bias(cfg.resolved_bias_init, n[l - 1], n[l], rng,
                                                   cfg)  # fmt: skip
    inputs: dict[tuple, Array] = {}
    for g, k, cfg in slots:
        _, _, X, T = stacks[g]
        for key, out in ((_INPUTS, X), (_TARGETS, T)):
            if out is not None:
                shape = out.shape[1:]
                if (cfg.seed, key, shape) not in inputs:
                    rng = streams.get(cfg.seed, (key,))
                    inputs[cfg.seed, key, shape] = rng.standard_normal(shape)
                out[k] = inputs[cfg.seed, key, shape]
    return [
        Stack(tuple(W), tuple(b), X, T, tuple(bool(np.any(bl)) for bl in b))
        for W, b, X, T in stacks
    ]


def _draw_streams(configs) -> list[tuple[int, tuple[int, ...]]]:
    """The (seed, key) streams ``build_stacks`` may draw from for ``configs``, once each."""
    needs = {(c.seed, c.depth, _bias_draws(c), LOSSES[c.loss].needs_target) for c in configs}
    out = set()
    for seed, depth, draws_bias, target in needs:
        out.update((seed, (_WEIGHTS, l)) for l in range(1, depth + 1))
        if draws_bias:
            out.update((seed, (_BIASES, l)) for l in range(1, depth + 1))
        out.add((seed, (_INPUTS,)))
        if target:
            out.add((seed, (_TARGETS,)))
    return sorted(out)


def _bias_draws(cfg: RunConfig) -> bool:
    rule = cfg.resolved_bias_init
    return rule == "uniform" or (rule == "normal" and cfg.bias_std != 0)


def split_by_bias(stack: Stack) -> list[tuple[list[int], Stack]]:
    """Sub-stacks whose runs agree on which layers have nonzero biases (the engine adds
    biases, and tracks the forward pass, by that pattern), with their indices."""
    nonzero = np.stack([np.any(bl != 0, axis=1) for bl in stack.b], axis=1)  # (K, L)
    pattern = [tuple(row) for row in nonzero.tolist()]
    groups: dict[tuple, list[int]] = {}
    for k, pat in enumerate(pattern):
        groups.setdefault(pat, []).append(k)
    out = []
    for pat, idx in groups.items():
        sub = stack if len(idx) == stack.size else stack.take(idx)
        out.append((idx, Stack(sub.W, sub.b, sub.X, sub.T, pat)))
    return out


def simulate_batched(configs: Sequence[RunConfig], moments: bool = True) -> list[Result]:
    """One Result per configuration, in order, as ``core.simulate_network(cfg,
    build_network(cfg))`` gives it, computed in stacks of equal shape.

    ``moments=False`` skips what a sweep's record does not hold: the per-layer means and
    standard deviations of Z_l and H_l are then NaN (everything else is as above)."""
    results: list[Result | None] = [None] * len(configs)
    groups: dict[tuple, list[int]] = {}
    for i, cfg in enumerate(configs):
        groups.setdefault(shape_key(cfg), []).append(i)
    idx_groups = list(groups.values())
    stacks = build_stacks([[configs[i] for i in idx] for idx in idx_groups])
    for idx, whole in zip(idx_groups, stacks, strict=True):
        c0 = configs[idx[0]]
        act = ACTIVATIONS[c0.activation].with_param(c0.slope)
        for sub_idx, stack in split_by_bias(whole):
            traces = run_stack(stack, act, LOSSES[c0.loss], c0.dtype, moments)
            mean, std, _ = stack.weight_stats
            sym = stack.symmetric_layers(mean, std)
            for j, k in enumerate(sub_idx):
                results[idx[k]] = summarize(configs[idx[k]], traces[j], sym[j])
    return results  # type: ignore[return-value]


# ---------------------------------------------------------------- the pass


def _dots(A: Array, B: Array | None = None) -> Array:
    """Σ A_k·B_k per run k over all entries (B = A's shape), or Σ A_k when B is None, as
    float64 (K,): BLAS dot on each slice, as np.dot gives for one run, through a
    (1, N)·(N, 1) matmul per slice."""
    K = A.shape[0]
    a = A.reshape(K, 1, -1)
    b = _ones(a.shape[2], A.dtype)[:, None] if B is None else B.reshape(K, -1, 1)
    return np.matmul(a, b).reshape(K).astype(np.float64)


_TINY_OVER_EPS = {np.dtype(t).char: float(np.finfo(t).tiny / np.finfo(t).eps)
                  for t in (np.float16, np.float32, np.float64)}  # fmt: skip


def _moments_k(A: Array, need_mean: bool = True) -> tuple[Array, Array, Array]:
    """``engine._moments`` of every run's slice A[k]: (mean, std, rms), float64 (K,) each.

    The sums are batched, the engine's float operations done elementwise (IEEE arithmetic
    and sqrt give the same bits); the rare runs that need the engine's second pass
    (squares out of range, or cancellation) take it on their own slice."""
    K = A.shape[0]
    flat = A.reshape(K, -1)
    N = flat.shape[1]
    s2 = _dots(flat, flat)
    ms = s2 / N
    rms = np.sqrt(ms)
    small = N * _TINY_OVER_EPS[flat.dtype.char]  # squares too small for their precision
    if need_mean:
        s1 = _dots(flat)
        mean = s1 / N
        var = ms - mean * mean
        # a sum not finite (s1 + s2 is not finite then, and rarely otherwise: such runs only
        # take the exact second pass), squares too small, or cancellation
        slow = ~np.isfinite(s1 + s2) | (s2 < small) | (var < 1e-4 * mean * mean)
        std = np.sqrt(np.maximum(var, 0.0))
    else:
        slow = ~np.isfinite(s2) | (s2 < small)
        mean = std = np.full(K, _NAN)
    if slow.any():
        for k in np.flatnonzero(slow).tolist():
            mean[k], std[k], rms[k] = _moments(flat[k], need_mean)
    return mean, std, rms


def run_stack(
    stack: Stack, act: Activation, loss: Loss, dtype: str | np.dtype, moments: bool = True
) -> list[Trace]:
    """``engine.run_pass`` for every network of the stack (no histogram capture). Its runs
    must agree on which layers have biases (``split_by_bias``). ``moments=False``: leave
    z_mean, z_std, act_mean and act_std NaN (the RMS of H_l is computed either way)."""
    with np.errstate(all="ignore"):
        return _run(stack, act, loss, np.dtype(dtype), moments)


def _put(col: Array, l: int, values: Array, live: Array, every: bool) -> None:
    """col[k, l] = values[k] for the live runs."""
    if every:
        col[:, l] = values
    else:
        col[live, l] = values[live]


def _scales(a: Array) -> Array:
    """10^a per run, by the engine's ``_exp10`` (a transcendental: never vectorized, so that
    it gives the engine's bits)."""
    return np.array([_exp10(x) for x in a.tolist()]) if np.any(a) else np.ones(len(a))


def _rescale(A: Array, r: Array, which: Array, limit: int, cdt, shift: Array) -> list[int]:
    """Divide A[k] by the engine's power of two for RMS r[k] (``_pow2``) where it is
    needed, adding its log10 to shift[k]; returns the runs rescaled."""
    need = (r < 2.0**-limit) | (r > 2.0**limit)
    if not need.any():  # the usual case: nothing far from 1
        return []
    need &= which & (r != 0)
    done = []
    for k in np.flatnonzero(need).tolist():
        if p := _pow2(float(r[k]), limit):
            A[k] *= np.asarray(2.0**-p, dtype=cdt)
            shift[k] += p * _LOG10_2
            done.append((k, p))
    return done


def _run(st: Stack, act: Activation, loss: Loss, dtype: np.dtype, moments: bool) -> list[Trace]:
    K, L = st.size, st.depth
    B = st.X.shape[1]
    rnd = _Precision(dtype)
    cdt = rnd.compute
    out = {f: np.full((K, L + 1), _NAN) for f in _FIELDS}
    W = [w.astype(cdt, copy=False) for w in st.W]
    bias = [b.astype(cdt, copy=False)[:, None, :] for b in st.b]
    tracked = act.homogeneous and not any(st.biased)
    limit = 4 if rnd.half else 16
    _, out["weight_std"][:, 1:], out["log10_weight_norm"][:, 1:] = st.weight_stats

    # ---------------- forward ----------------
    H = st.X.astype(cdt)  # (K, B, n_0)
    a = np.zeros(K)  # H_true = H · 10^a per run (0 unless tracked)
    out["act_mean"][:, 0], out["act_std"][:, 0], r_prev = _moments_k(H)
    out["log10_act_rms"][:, 0] = [_log10(r) for r in r_prev.tolist()]
    use_gram = [gram_pays(B, *w.shape[1:]) for w in W]
    ws = _Workspace(K * B * max(max(w.shape[1:]) for w in W), cdt)
    keep: list[tuple[str, Array, Array]] = []
    D_list: list[Array | None] = []
    fwd_bad: list[int | None] = [None] * K
    live = np.ones(K, dtype=bool)  # runs whose forward pass is still finite
    for l in range(1, L + 1):
        Hs, c = H, a.copy()
        if not tracked:  # plain runs with a signal far from 1 are normalized for the Gram
            far = live & ~(((1e-12 < r_prev) & (r_prev < 1e12)) | (r_prev == 0))
            if far.any():
                Hs = H.copy()
                for k in np.flatnonzero(far).tolist():
                    Hs[k] = H[k] / np.asarray(r_prev[k], dtype=cdt)
                    c[k] = math.log10(r_prev[k])
        if use_gram[l - 1]:
            keep.append(("gram", np.matmul(Hs, Hs.transpose(0, 2, 1)), c))
        else:  # H_{l-1} itself is kept: it must not live in a reused work array
            keep.append(("direct", Hs.copy() if ws.owns(Hs) else Hs, c))

        n_out = W[l - 1].shape[2]
        Z = np.matmul(H, W[l - 1], out=ws.get("Z", (K, B, n_out)))  # (K, B, n_l)
        if st.biased[l - 1]:
            Z += bias[l - 1]
        rnd(Z)
        every = live.all()  # (then plain assignments: quicker than masked ones)
        if moments:
            zm, zs, _ = _moments_k(Z)
            scale = _scales(a)
            _put(out["z_mean"], l, zm * scale, live, every)
            _put(out["z_std"], l, zs * scale, live, every)
        if act.fn_into is not None:
            # H_l goes straight into an array of its own where layer l+1 keeps it (no copy),
            # else into one of two work arrays used in turn
            kept = l < L and not use_gram[l]
            into = np.empty((K, B, n_out), cdt) if kept else ws.get("H" + str(l % 2), (K, B, n_out))
            H = rnd(act.fn_into(Z, into))
        else:
            H = rnd(act.fn(Z))
        D_list.append(D := derivative(act, Z, H, rnd))
        del Z
        hm, hs, hr = _moments_k(H, need_mean=moments)  # the RMS is the same either way
        bad = live & ~np.isfinite(hr)
        for k in np.flatnonzero(bad).tolist():
            fwd_bad[k] = l
        if bad.any():
            live &= ~bad
            every = False
        _put(out["dead"], l, _dead_fractions(D, K, n_out), live, every)
        if act.saturated:
            # the share of entries, as np.mean gives it (an exact count over B·n)
            sat = np.count_nonzero(act.saturated(H), axis=(1, 2)) / (B * n_out)
            _put(out["saturated"], l, sat, live, every)
        else:
            _put(out["saturated"], l, np.zeros(K), live, every)
        if moments:
            _put(out["act_mean"], l, hm * scale, live, every)
            _put(out["act_std"], l, hs * scale, live, every)
        out["log10_act_rms"][:, l] = [
            (_log10(r) + ak if r > 0 else _NEG_INF) if ok else _NAN
            for r, ak, ok in zip(hr.tolist(), a.tolist(), live.tolist(), strict=True)
        ]  # fmt: skip
        r_prev = np.where(live, hr, r_prev)
        if tracked:
            for k, p in _rescale(H, hr, live, limit, cdt, a):
                r_prev[k] = hr[k] * 2.0**-p

    # ---------------- backward ----------------
    bwd_bad: list[int | None] = [None] * K
    sg = np.zeros(K)
    delta = np.zeros((K, B, H.shape[2]), dtype=cdt)
    for k in np.flatnonzero(live).tolist():
        T = None if st.T is None else st.T[k]
        g, s = output_gradient(loss, H[k], float(a[k]), T)  # ∂E/∂H_L = g · 10^s
        delta[k], sg[k] = g.astype(cdt), s
    if D_list[-1] is not None:
        delta *= D_list[-1]
    rnd(delta)
    active = live.copy()
    for l in range(L, 0, -1):
        if not active.any():
            break
        _, _, r = _moments_k(delta, need_mean=False)
        bad = active & ~np.isfinite(r)
        zero = active & (r == 0)  # exactly zero: so is every δ below it, and every gradient
        if bad.any() or zero.any():
            for k in np.flatnonzero(bad).tolist():
                bwd_bad[k] = l
            out["log10_delta_rms"][zero, 1 : l + 1] = _NEG_INF
            out["log10_grad_norm"][zero, 1 : l + 1] = _NEG_INF
            active &= ~(bad | zero)
        if active.any():
            col = out["log10_delta_rms"][:, l]
            col[active] = [
                math.log10(x) + s
                for x, s in zip(r[active].tolist(), sg[active].tolist(), strict=True)
            ]
        _rescale(delta, r, active, limit, cdt, sg)
        how, M, c = keep[l - 1]
        if how == "gram":
            G = np.matmul(delta, delta.transpose(0, 2, 1), out=ws.get("G", (K, B, B)))
            sq = np.einsum("kij,kij->ki", M, G).sum(axis=1, dtype=np.float64)
            gn = np.sqrt(np.maximum(sq, 0.0))
        else:
            P = np.matmul(M.transpose(0, 2, 1), delta)  # H_{l-1}ᵀ δ_l: (K, n_in, n_out)
            gn = np.sqrt(_dots(P, P).astype(P.dtype)).astype(np.float64)
        if active.any():
            out["log10_grad_norm"][active, l] = [
                _log10(x) + s + ck for x, s, ck in zip(
                    gn[active].tolist(), sg[active].tolist(), c[active].tolist(), strict=True)
            ]  # fmt: skip
        if l > 1:
            n_in = W[l - 1].shape[1]
            delta = np.matmul(delta, W[l - 1].transpose(0, 2, 1),
                              out=ws.get("d" + str(l % 2), (K, B, n_in)))  # fmt: skip
            D = D_list[l - 2]
            if D is not None:
                delta *= D
            rnd(delta)
    return [
        Trace(**{f: out[f][k].copy() for f in _FIELDS}, forward_nonfinite=fwd_bad[k],
              backward_nonfinite=bwd_bad[k], tracked_forward=tracked,
              samples={"act": {}, "delta": {}})
        for k in range(K)
    ]  # fmt: skip


def _dead_fractions(D: Array | None, K: int, n: int) -> Array:
    """Per run (K,), the share of units whose φ' is zero for the whole batch."""
    if D is None or D.all():  # no zero at all (tanh, sigmoid, ...): nothing is dead
        return np.zeros(K)
    alive = D.any(axis=1) if D.dtype == np.bool_ else (D != 0).any(axis=1)  # (K, n)
    return 1.0 - alive.sum(axis=1) / n  # a count (np.count_nonzero with an axis is slower)
