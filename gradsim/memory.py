"""Memory: what a run will need (``estimate_bytes``), what the machine has
(``available_bytes``), the guard every command passes before any work (``check_memory``),
and the allocator's policy for processes that run many passes (``keep_freed_memory``)."""

from __future__ import annotations

import itertools
import os

import numpy as np

from gradsim.config import RunConfig
from gradsim.dtypes import container, fmt
from gradsim.errors import GradsimError
from gradsim.initializers import INITIALIZERS

PER_LAYER = 4096  # bytes of Python objects and small arrays a pass holds per layer (measured)
LOOKAHEAD_LAYERS = 6  # weight matrices alive at once in low memory (drawn ahead, in use)
# the weights are kept while they take at most this share of the memory available; beyond,
# drawing them again for the backward pass costs less than the swapping and the paging
KEEP_SHARE = 0.25
QR_FACTOR = 8  # orthogonal's QR: float64 arrays of its matrix's size at its peak (RSS: 7)


def shapes(cfg: RunConfig, widths: tuple[int, ...] | None = None) -> list[tuple[int, int, int]]:
    """(n_in, n_out, count) of the weight matrices of ``cfg``'s network (or of ``widths``):
    a network of one width is one entry, so nothing here grows with the depth."""
    if widths is None and cfg.widths is None:
        return [(cfg.width, cfg.width, cfg.depth)]
    counts: dict[tuple[int, int], int] = {}
    for pair in itertools.pairwise(widths or cfg.widths):
        counts[pair] = counts.get(pair, 0) + 1
    return [(k, m, c) for (k, m), c in counts.items()]


def weight_bytes(cfg: RunConfig) -> int:
    """The bytes of every weight matrix of ``cfg``'s network in its dtype."""
    return sum(k * m * c for k, m, c in shapes(cfg)) * container(cfg.dtype).itemsize


def _mask_derivative(cfg: RunConfig) -> bool:
    """Whether φ' is kept as a boolean mask (ReLU's): bits in low memory."""
    z = np.ones(1, np.float32)
    D = cfg.phi.grad(z, cfg.phi.fn(z))
    return D is not None and D.dtype == np.bool_


def estimate_bytes(cfg: RunConfig, low_memory: bool = False) -> int:
    """Peak memory of a run, estimated before anything is allocated (in microseconds, at
    any depth).

    Weights (in the dtype, plus float32 copies for float16; in low memory only the few
    drawn ahead), the per-layer state the backward pass keeps (φ'(Z_l), as bits for a mask
    in low memory; HHᵀ or H_{l-1}; the normalized U_l with --norm), a few (B, n) work
    arrays, the float64 draws in flight (orthogonal's QR needs three times its matrix), and
    the pass's per-layer objects.
    """
    low_memory = low_memory and not INITIALIZERS[cfg.init].data_driven  # (LSUV keeps all)
    B, item = cfg.batch, container(cfg.dtype).itemsize
    comp = fmt(cfg.dtype).compute.itemsize  # low precision computes in float32
    groups = shapes(cfg)
    largest = max(k * m for k, m, _ in groups)
    per_weight = item + (comp if item < comp else 0)
    total = sum(k * m * c for k, m, c in groups)
    weights = (LOOKAHEAD_LAYERS * largest if low_memory else total) * per_weight
    mask_bits = low_memory and _mask_derivative(cfg)
    kept = sum(c * ((B * m // 8 + B if mask_bits else B * m * comp) + min(B * B, B * k) * comp)
               for k, m, c in groups)  # fmt: skip
    if cfg.residual or cfg.norm:  # the normalized Y_l, and skip connections' own arrays
        kept += sum(c * 2 * B * m * comp for _, m, c in groups)
    draws = (LOOKAHEAD_LAYERS if low_memory else 2) * largest * 8
    if INITIALIZERS[cfg.init].name in ("orthogonal", "lsuv"):  # QR's workspace
        draws += QR_FACTOR * largest * 8
    if INITIALIZERS[cfg.init].data_driven:  # LSUV holds every draw in float64 at once
        weights += total * 8
    work = 8 * B * max(max(k, m) for k, m, _ in groups) * 8
    return int(weights + kept + draws + work + PER_LAYER * cfg.depth)


def estimate_train_bytes(net: RunConfig, n_in: int, n_out: int, rows: int, state: int) -> int:
    """Peak memory of training ``net``'s network with n_in inputs and n_out outputs:
    parameters, their gradients, the update and ``state`` optimizer arrays each (all in the
    dtype, after float64 draws), and the forward cache of ``rows`` rows (the larger of a
    batch and the whole data set, which the evaluation passes at once)."""
    w, L = net.width, net.depth
    groups = [(n_in, w, 1), (w, w, L - 2), (w, n_out, 1)] if L > 1 else [(n_in, n_out, 1)]
    groups = [g for g in groups if g[2] > 0]
    item = max(container(net.dtype).itemsize, 4)
    total = sum((k * m + m) * c for k, m, c in groups)
    params = total * item * (3 + state) + max(k * m for k, m, _ in groups) * 8 * 2
    if INITIALIZERS[net.init].data_driven:
        params += total * 8
    cache = sum(c * rows * m * item * 3 for _, m, c in groups)  # H, φ'(Z) and a work array
    return int(params + cache + PER_LAYER * 4 * net.depth)


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


def check_memory(cfg: RunConfig, low_memory: bool | None = False, have: int | None = -1) -> bool:
    """Refuse, with one line, a run that would not fit in the memory available now; return
    whether it runs in low memory (weights drawn again for the backward pass instead of
    kept): ``low_memory`` True or False as asked, None to choose it where the run would not
    fit otherwise or its weights would take more than KEEP_SHARE of the memory available.
    ``have``: the memory available, when the caller read it for many runs (-1: read it)."""
    have = available_bytes() if have == -1 else have
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


def check_bytes(need: int, what: str) -> None:
    """Refuse, with one line, work estimated to need ``need`` bytes that would not fit."""
    have = available_bytes()
    if have is not None and need > 0.8 * have:
        raise _too_big(need, have, what)


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
