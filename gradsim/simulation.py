"""Configurations → networks → the one pass → statistics: ``simulate`` (one run),
``simulate_network`` (a given network), ``simulate_many`` (many runs, stacked where that
pays). Each passes the memory guard (gradsim.memory) first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from gradsim.config import RunConfig
from gradsim.draws import build_stacks
from gradsim.engine import run_pass
from gradsim.histograms import hist_layers, histograms
from gradsim.losses import LOSSES
from gradsim.memory import estimate_bytes
from gradsim.network import Network, Stack, blocks_of, shape_key, split_by_bias
from gradsim.result import Result
from gradsim.verdicts import summarize

# a network is stacked with others when one pass over it is this small: per layer
# B·max(n) entries (stacking saves Python overhead per layer, which matters only then)
STACK_ENTRIES = 64 * 1024
STACK_RUNS = 64  # at most this many runs in one stack
STACK_BYTES = 256 * 2**20  # at most this much memory in one stack


def simulate_network(cfg: RunConfig, net: Network, hist: bool = False, theory=None) -> Result:
    """Run the pass on a given network (e.g. one loaded from --save-net output).

    ``hist=True`` also returns histograms of H_l and log10|δ_l| at about five layers;
    ``theory``, a ``theory.RunPrediction``, puts the mean-field prediction beside the result.
    """
    return simulate_stack(cfg, net.stack, hist, theory)


def simulate_stack(cfg: RunConfig, stack: Stack, hist: bool = False, theory=None) -> Result:
    """``simulate_network`` of a stack of one (``draws.build_stack``: its weights may be
    drawn while the pass runs, or drawn again in low memory)."""
    capture = hist_layers(cfg.depth) if hist else ()
    (trace,) = run_pass(stack, blocks_of(cfg), LOSSES[cfg.loss], cfg.dtype, capture=capture,
                        loss_scale=cfg.loss_scale)  # fmt: skip
    result = summarize(cfg, trace)
    if hist:
        result = replace(result, hist=histograms(trace.samples))
    if theory is not None:
        from gradsim.meanfield import compare_run

        measured = (result.column("log10_act_rms"), result.column("log10_delta_rms"))
        result = replace(result, theory=compare_run(*measured, theory))
    return result


def stackable(cfg: RunConfig) -> bool:
    """Whether a run is small enough that stacking it with others pays."""
    return cfg.batch * max(cfg.layer_widths) <= STACK_ENTRIES


def stacks_of(configs: Sequence[RunConfig]) -> list[list[int]]:
    """Indices of ``configs`` in groups that run as one stack: equal ``shape_key``, small
    networks only (``stackable``), at most STACK_RUNS runs and STACK_BYTES per stack; a
    group keeps the given order."""
    groups: dict[tuple, list[list[int]]] = {}
    out: list[list[int]] = []
    for i, cfg in enumerate(configs):
        if not stackable(cfg):
            out.append([i])
            continue
        parts = groups.setdefault(shape_key(cfg), [])
        most = max(1, min(STACK_RUNS, STACK_BYTES // max(estimate_bytes(cfg), 1)))
        if not parts or len(parts[-1]) >= most:
            parts.append([])
            out.append(parts[-1])
        parts[-1].append(i)
    return out


def simulate_many(configs: Sequence[RunConfig], moments: bool = True,
                  progress: Callable[[int], None] | None = None) -> list[Result]:  # fmt: skip
    """One Result per configuration, in order, each as ``simulate_network(cfg,
    build_network(cfg))`` gives it, bit for bit: small networks of one shape run as one
    stack (``stacks_of``).

    ``moments=False`` skips what a sweep's record does not hold: the per-layer means and
    standard deviations of Z_l and H_l, and W_l's standard deviation and norm, are then NaN
    (everything else is as above, whether W_l's entries are all equal included);
    ``progress(n)`` after each stack with the number of its runs."""
    results: list[Result | None] = [None] * len(configs)
    groups = stacks_of(configs)
    for idx, whole in zip(groups, build_stacks([[configs[i] for i in g] for g in groups]),
                          strict=True):  # fmt: skip
        c0 = configs[idx[0]]
        for sub, stack in split_by_bias(whole):
            traces = run_pass(stack, blocks_of(c0), LOSSES[c0.loss], c0.dtype, moments=moments,
                              loss_scale=c0.loss_scale)  # fmt: skip
            for j, k in enumerate(sub):
                results[idx[k]] = summarize(configs[idx[k]], traces[j])
            if progress is not None:
                progress(len(sub))
    return results  # type: ignore[return-value]
