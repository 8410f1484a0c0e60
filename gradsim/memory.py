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

PER_LAYER = 4096  # bytes of Python objects and small arrays a pass holds per layer (measured)
LOOKAHEAD_LAYERS = 6  # weight matrices alive at once in low memory (drawn ahead, in use)
# the weights are kept while they take at most this share of the memory available; beyond,
# drawing them again for the backward pass costs less than the swapping and the paging
KEEP_SHARE = 0.25


def weight_bytes(cfg: RunConfig) -> int:
    """The bytes of every weight matrix of ``cfg``'s network in its dtype."""
    return (
        sum(a * b for a, b in itertools.pairwise(cfg.layer_widths)) * np.dtype(cfg.dtype).itemsize
    )


def _mask_derivative(cfg: RunConfig) -> bool:
    """Whether φ' is kept as a boolean mask (ReLU's): bits in low memory."""
    z = np.ones(1, np.float32)
    D = cfg.phi.grad(z, cfg.phi.fn(z))
    return D is not None and D.dtype == np.bool_


def estimate_bytes(cfg: RunConfig, low_memory: bool = False) -> int:
    """Peak memory of a run, estimated before anything is allocated.

    Weights (in the dtype, plus float32 copies for float16; in low memory only the few
    drawn ahead), the per-layer state the backward pass keeps (φ'(Z_l), as bits for a mask
    in low memory; HHᵀ or H_{l-1}; the normalized U_l with --norm), a few (B, n) work
    arrays, the float64 draws in flight (orthogonal's QR needs three times its matrix), and
    the pass's per-layer objects.
    """
    n, B = cfg.layer_widths, cfg.batch
    item = np.dtype(cfg.dtype).itemsize
    comp = 4 if cfg.dtype == "float16" else item  # float16 computes in float32
    pairs = list(itertools.pairwise(n))
    sizes = [a * b for a, b in pairs]
    per_weight = item + (comp if item < comp else 0)
    if low_memory:
        weights = LOOKAHEAD_LAYERS * max(sizes) * per_weight
    else:
        weights = sum(sizes) * per_weight
    mask_bits = low_memory and _mask_derivative(cfg)
    kept = sum((B * m // 8 + B if mask_bits else B * m * comp) + min(B * B, B * k) * comp
               for k, m in pairs)  # fmt: skip
    if cfg.residual or cfg.norm:  # the normalized Y_l, and skip connections' own arrays
        kept += sum(2 * B * m * comp for _, m in pairs)
    draws = (LOOKAHEAD_LAYERS if low_memory else 2) * max(sizes) * 8
    if INITIALIZERS[cfg.init].name in ("orthogonal", "lsuv"):  # QR's workspace
        draws += 3 * max(sizes) * 8
    if INITIALIZERS[cfg.init].data_driven:  # LSUV holds every draw in float64 at once
        weights += sum(sizes) * 8
    work = 8 * B * max(n) * 8
    return int(weights + kept + draws + work + PER_LAYER * cfg.depth)


def available_bytes() -> int | None:
    """Memory this process can have now: the machine's (Linux MemAvailable), capped by the
    cgroup's limit less its use (containers); None if unknown."""
    have = _meminfo_available()
    limit = _cgroup_room()
    if limit is not None:
        have = limit if have is None else min(have, limit)
    return have


def _meminfo_available() -> int | None:
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


def _read_int(path: str) -> int | None:
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _cgroup_room() -> int | None:
    """The cgroup's memory limit less what it uses (v2 memory.max, v1 limit_in_bytes)."""
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/memory.usage_in_bytes",
        ),
    ):
        limit = _read_int(limit_file)
        if limit is not None and limit < 2**60:  # (v1 says "no limit" with a huge number)
            return max(0, limit - (_read_int(usage_file) or 0))
    return None


def _too_big(need: int, have: int, what: str) -> GradsimError:
    return GradsimError(
        f"{what} needs about {need / 2**30:.1f} GiB but only {have / 2**30:.1f} GiB is "
        "available: shrink --width, --depth or --batch (memory grows with depth × width² for "
        "the weights and depth × batch × width for the pass)"
    )


def check_memory(cfg: RunConfig, low_memory: bool | None = False) -> bool:
    """Refuse, with one line, a run that would not fit in the memory available now; return
    whether it runs in low memory (weights drawn again for the backward pass instead of
    kept): ``low_memory`` True or False as asked, None to choose it where the run would not
    fit otherwise or its weights would take more than KEEP_SHARE of the memory available."""
    have = available_bytes()
    if have is None:
        return bool(low_memory)
    room = 0.8 * have
    if low_memory is None:  # keep the weights while they take at most a quarter of the room
        if estimate_bytes(cfg) <= room and weight_bytes(cfg) <= KEEP_SHARE * room:
            return False
        low_memory = True
    need = estimate_bytes(cfg, low_memory)
    if need > room:
        raise _too_big(need, have, "this run")
    return low_memory


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
