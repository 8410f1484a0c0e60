"""Memory: what a run will need (``estimate_bytes``), what the machine has
(``available_bytes``), the guard every command passes before any work (``check_memory``),
and the allocator's policy for processes that run many passes (``keep_freed_memory``)."""

from __future__ import annotations

import itertools
import os

import numpy as np

from gradsim.config import RunConfig
from gradsim.errors import GradsimError
from gradsim.initializers import INITIALIZERS


def estimate_bytes(cfg: RunConfig) -> int:
    """Peak memory of a run, estimated before anything is allocated.

    Weights (in the dtype, plus float32 copies for float16), the per-layer state the
    backward pass keeps (φ'(Z_l) and HHᵀ or H_{l-1}, and the normalized U_l with --norm),
    and a few (B, n) work arrays.
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
    if cfg.residual or cfg.norm:  # the normalized Y_l, and skip connections' own arrays
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
    """Refuse, with one line, a run that would not fit in the memory available now."""
    need, have = estimate_bytes(cfg), available_bytes()
    if have is not None and need > 0.8 * have:
        raise GradsimError(
            f"this run needs about {need / 2**30:.1f} GiB but only {have / 2**30:.1f} GiB "
            "is available: shrink --width, --depth or --batch (memory grows with depth × "
            "width² for the weights and depth × batch × width for the pass)"
        )


def keep_freed_memory() -> None:
    """glibc only: serve arrays up to 32 MiB from the heap and do not give freed memory back
    to the OS (mallopt M_MMAP_THRESHOLD 32 MiB, the most every glibc accepts, and
    M_TRIM_THRESHOLD 1 GiB), as a framework's caching allocator does.

    A pass keeps a few arrays per layer until its backward pass, then frees them all; by
    default glibc maps them afresh on every pass, and every page then costs a page fault and
    zeroing when first written: on a 2-core virtual machine a fresh 512 KiB array costs
    0.37 ms to fill against 0.04 ms for one already touched, more than the arithmetic. The
    CLI, sweep workers and training call this; a process keeps its largest pass's memory
    until it exits."""
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return
    mallopt(-3, 32 * 2**20)  # M_MMAP_THRESHOLD
    mallopt(-1, 2**30)  # M_TRIM_THRESHOLD
