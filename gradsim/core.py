"""``simulate``: config → network → forward/backward pass → statistics."""

from __future__ import annotations

import itertools
import os
from dataclasses import replace

import numpy as np

from gradsim.activations import ACTIVATIONS
from gradsim.config import RunConfig
from gradsim.engine import run_pass
from gradsim.errors import GradsimError
from gradsim.histograms import hist_layers, histograms
from gradsim.initializers import INITIALIZERS
from gradsim.losses import LOSSES
from gradsim.network import Network, build_network
from gradsim.result import Result
from gradsim.verdicts import summarize


def estimate_bytes(cfg: RunConfig) -> int:
    """Peak memory of a run, estimated before anything is allocated.

    Weights (in the dtype, plus float32 copies for float16), the per-layer state the
    backward pass keeps (φ'(Z_l) and HHᵀ or H_{l-1}), and a few (B, n) work arrays.
    """
    n = cfg.layer_widths
    B = cfg.batch
    item = np.dtype(cfg.dtype).itemsize
    comp = 4 if cfg.dtype == "float16" else item  # float16 computes in float32
    pairs = list(itertools.pairwise(n))
    weights = sum(a * b for a, b in pairs) * (item + (comp if item < comp else 0))
    kept = sum(B * m * comp + min(B * B, B * k) * comp for k, m in pairs)
    # a few (B, n) work arrays, and the float64 draw of the largest weight matrix
    work = 8 * B * max(n) * 8 + 2 * max(a * b for a, b in pairs) * 8
    if cfg.residual or cfg.norm:  # gradsim.arch keeps H_{l-1} and the normalized Z_l too
        kept += sum(2 * B * m * comp for _, m in pairs)
    if INITIALIZERS[cfg.init].data_driven:  # LSUV holds every draw in float64 at once
        weights += sum(a * b for a, b in pairs) * 8
    return int(weights + kept + work)


def available_bytes() -> int | None:
    """Memory the machine can give now (Linux MemAvailable), or None if unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(cfg: RunConfig) -> None:
    need, have = estimate_bytes(cfg), available_bytes()
    if have is not None and need > 0.8 * have:
        raise GradsimError(
            f"this run needs about {need / 2**30:.1f} GiB but only {have / 2**30:.1f} GiB "
            "is available: shrink --width, --depth or --batch (memory grows with depth × "
            "width² for the weights and depth × batch × width for the pass)"
        )


def simulate_network(cfg: RunConfig, net: Network, hist: bool = False, theory=None) -> Result:
    """Run the pass on a given network (e.g. one loaded from --save-net output).

    ``hist=True`` also returns histograms of H_l and log10|δ_l| at about five layers;
    ``theory``, a ``theory.RunPrediction``, puts the mean-field prediction beside the result.
    """
    act = ACTIVATIONS[cfg.activation].with_param(cfg.slope)
    capture = hist_layers(cfg.depth) if hist else ()
    if cfg.residual or cfg.norm:
        from gradsim.arch import run_arch_pass

        alpha = cfg.residual_scale if cfg.residual else None
        trace = run_arch_pass(net, act, LOSSES[cfg.loss], cfg.dtype, residual=alpha,
                              norm=cfg.norm, capture=capture)  # fmt: skip
    else:
        trace = run_pass(net, act, LOSSES[cfg.loss], cfg.dtype, capture=capture)
    result = summarize(cfg, trace, net.symmetric_layers)
    if hist:
        result = replace(result, hist=histograms(trace.samples))
    if theory is not None:
        from gradsim.theory import compare_run

        measured = (result.column("log10_act_rms"), result.column("log10_delta_rms"))
        result = replace(result, theory=compare_run(*measured, theory))
    return result


def simulate(
    config: RunConfig | None = None, *, hist: bool = False, theory: bool = False, **options
) -> Result:
    """Build the MLP described by ``options`` (named like the CLI's), run one forward and
    one backward pass, and return the per-layer statistics and the summary; ``theory=True``
    adds the mean-field prediction (``gradsim.theory``) beside them.

    >>> r = simulate(depth=30, init="xavier", activation="relu")  # doctest: +SKIP
    >>> r.summary.forward                                          # doctest: +SKIP
    'vanishing'
    """
    if "act" in options:
        options["activation"] = options.pop("act")
    if isinstance(options.get("widths"), (list, tuple)):
        options["widths"] = tuple(options["widths"])
    if config is None:
        try:
            config = RunConfig(**options)
        except TypeError as e:  # an unknown keyword
            raise GradsimError(str(e).replace("RunConfig.__init__()", "simulate()")) from None
    elif options:
        config = replace(config, **options)
    prediction = None
    if theory:
        from gradsim.theory import predict_run

        prediction = predict_run(config)  # before the work: it may refuse the network
    check_memory(config)
    return simulate_network(config, build_network(config), hist=hist, theory=prediction)
