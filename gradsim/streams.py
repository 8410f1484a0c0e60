"""Every random stream of gradsim, and the network's streams many at once.

All randomness comes from one ``numpy.random.SeedSequence`` rooted at the seed, split into
independent streams by spawn key (``rng(seed, *key)``); every key is named here:

* (WEIGHTS, l) the weights of layer l, (BIASES, l) its biases, (INPUTS,) the inputs X,
  (TARGETS,) the targets T, (LSUV,) the batch LSUV rescales on;
* (TASK, k) the k-th stream of the training tasks (TASK_STREAMS), (ORDER, epoch) the order
  of the mini-batches in an epoch.

Layer l's weights therefore do not depend on the depth or on other layers, and the same
seed gives the same numbers on any machine and in any order.

Creating a SeedSequence and a PCG64 costs about 45 µs, as much as drawing a 64×64 matrix, so
a batch of small networks spends half its building time seeding. ``StreamSet`` gives the
very same Generators (same PCG64 state, hence the same numbers) for many (seed, key) pairs
at once: SeedSequence's entropy mixing (O'Neill's seed_seq, as NumPy implements it) runs as
uint32 array arithmetic over all streams together, and PCG64's seeding step in Python
integers.

The first call checks the result against NumPy's own SeedSequence and PCG64; should a
NumPy release ever seed differently, every later call falls back to NumPy's classes, so
the streams are always NumPy's.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

WEIGHTS, BIASES, INPUTS, TARGETS, LSUV = range(5)
TASK = 16  # the training tasks: (TASK, k) with k from TASK_STREAMS
ORDER = 17  # the order of the mini-batches: (ORDER, epoch)
# the second entry of a task's keys: one per stream, distinct across tasks so that tasks
# are independent too
TASK_STREAMS = {
    "teacher_x": 0, "teacher_net": 1,
    "blobs_centres": 2, "blobs_order": 3, "blobs_noise": 4,
    "circles_order": 5, "circles_direction": 6, "circles_noise": 7,
}  # fmt: skip


def rng(seed: int, *key: int) -> np.random.Generator:
    """The Generator of stream ``key`` under ``seed``."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


# SeedSequence constants (numpy/random/bit_generator.pyx)
_INIT_A, _MULT_A = 0x43B0D7E5, 0x931E8875
_INIT_B, _MULT_B = 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R = 0xCA01F9DD, 0x4973F715
_POOL = 4
_M32 = 0xFFFFFFFF
# PCG64's default 128-bit multiplier (pcg64.h: PCG_DEFAULT_MULTIPLIER_128)
_PCG_MULT = (2549297995355413924 << 64) + 4865540595714422341
_M128 = (1 << 128) - 1

_checked: bool | None = None  # None: not yet checked; False: use NumPy's classes


def _hash_consts(n: int, init: int, mult: int) -> list[int]:
    """The running hash constant before each of n steps (it does not depend on the data)."""
    out, h = [], init
    for _ in range(n):
        out.append(h)
        h = (h * mult) & _M32
    return out


def _hashmix(value: np.ndarray, h: int) -> np.ndarray:
    # value ^= h; h *= MULT_A; value *= h; value ^= value >> 16  (h advanced by the caller)
    value = value ^ np.uint32(h)
    value = value * np.uint32((h * _MULT_A) & _M32)
    return value ^ (value >> np.uint32(16))


def _mix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    r = np.uint32(_MIX_L) * x - np.uint32(_MIX_R) * y
    return r ^ (r >> np.uint32(16))


def _pools(entropy: np.ndarray) -> np.ndarray:
    """SeedSequence.mix_entropy for every row of ``entropy`` (S, E) uint32 → pools (S, 4)."""
    S, E = entropy.shape
    steps = _POOL + _POOL * (_POOL - 1) + max(E - _POOL, 0) * _POOL
    hc = iter(_hash_consts(steps, _INIT_A, _MULT_A))
    zero = np.zeros(S, dtype=np.uint32)
    pool = [_hashmix(entropy[:, i] if i < E else zero, next(hc)) for i in range(_POOL)]
    for src in range(_POOL):
        for dst in range(_POOL):
            if src != dst:
                pool[dst] = _mix(pool[dst], _hashmix(pool[src], next(hc)))
    for src in range(_POOL, E):
        for dst in range(_POOL):
            pool[dst] = _mix(pool[dst], _hashmix(entropy[:, src], next(hc)))
    return np.stack(pool, axis=1)


def _state_words(pool: np.ndarray) -> np.ndarray:
    """SeedSequence.generate_state(4, uint64) as 8 uint32 words per row (S, 8)."""
    hcs = _hash_consts(8, _INIT_B, _MULT_B)
    out = np.empty((pool.shape[0], 8), dtype=np.uint32)
    for i, h in enumerate(hcs):
        v = pool[:, i % _POOL] ^ np.uint32(h)
        v = v * np.uint32((h * _MULT_B) & _M32)
        out[:, i] = v ^ (v >> np.uint32(16))
    return out


def _pcg64_state(w: Sequence[int]) -> dict:
    """PCG64's state after seeding with generate_state(4, uint64) = words w (8 uint32)."""
    v = [w[2 * i] | (w[2 * i + 1] << 32) for i in range(4)]  # little-endian uint64s
    initstate, initseq = (v[0] << 64) | v[1], (v[2] << 64) | v[3]
    inc = ((initseq << 1) | 1) & _M128
    # state = 0; step (state = state·M + inc); state += initstate; step
    state = ((inc + initstate) * _PCG_MULT + inc) & _M128
    return {
        "bit_generator": "PCG64",
        "state": {"state": state, "inc": inc},
        "has_uint32": 0,
        "uinteger": 0,
    }


def _entropy(seeds: Sequence[int], key_len: int, keys: np.ndarray) -> np.ndarray:
    """SeedSequence(seed, spawn_key=key).get_assembled_entropy() for seeds < 2^64 and
    keys < 2^32: the seed's two 32-bit words, zeros up to the pool size, then the key."""
    s = np.asarray([int(x) for x in seeds], dtype=np.uint64)
    ent = np.zeros((len(seeds), _POOL + key_len), dtype=np.uint32)
    ent[:, 0] = (s & np.uint64(_M32)).astype(np.uint32)
    ent[:, 1] = (s >> np.uint64(32)).astype(np.uint32)
    ent[:, _POOL:] = keys
    return ent


def _fast_states(seeds: Sequence[int], keys: Sequence[tuple[int, ...]]) -> list[dict]:
    by_len: dict[int, list[int]] = {}
    for i, k in enumerate(keys):
        by_len.setdefault(len(k), []).append(i)
    out: list[dict] = [{}] * len(keys)
    for n, idx in by_len.items():
        key_arr = np.asarray([keys[i] for i in idx], dtype=np.uint32).reshape(len(idx), n)
        words = _state_words(_pools(_entropy([seeds[i] for i in idx], n, key_arr)))
        for i, w in zip(idx, words.tolist(), strict=True):
            out[i] = _pcg64_state(w)
    return out


def _numpy_state(seed: int, key: tuple[int, ...]) -> dict:
    return np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)).state


def _fast_ok() -> bool:
    global _checked
    if _checked is None:
        probe = [(0, (0, 1)), (2**40 + 7, (1, 152)), (12345, (2,)), (2**63 - 1, (3,))]
        fast = _fast_states([s for s, _ in probe], [k for _, k in probe])
        _checked = all(f == _numpy_state(s, k) for f, (s, k) in zip(fast, probe, strict=True))
    return _checked


def _fits(seeds: Sequence[int], keys: Sequence[tuple[int, ...]]) -> bool:
    return all(0 <= int(s) < 2**64 for s in seeds) and all(
        len(k) > 0 and all(0 <= x < 2**32 for x in k) for k in keys
    )


class StreamSet:
    """For many (seed, key) pairs, seeded all at once: ``get(seed, key)`` is a Generator in
    the state of ``default_rng(SeedSequence(seed, spawn_key=key))``, in any order. A pair
    not given (or any pair, should the fast seeding not match NumPy's) gets NumPy's own.

    One Generator object is reused per thread: draw from each before getting the next in
    the same thread (threads may draw from different streams at once)."""

    def __init__(self, pairs: Sequence[tuple[int, tuple[int, ...]]]):
        unique = list(dict.fromkeys((int(s), tuple(k)) for s, k in pairs))
        seeds, keys = [s for s, _ in unique], [k for _, k in unique]
        fast = bool(unique) and _fits(seeds, keys) and _fast_ok()
        self._states = dict(zip(unique, _fast_states(seeds, keys), strict=True)) if fast else {}
        self._local = threading.local()

    def get(self, seed: int, key: tuple[int, ...]) -> np.random.Generator:
        state = self._states.get((seed, key))
        if state is None:
            return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))
        gen = getattr(self._local, "gen", None)
        if gen is None:
            gen = self._local.gen = np.random.Generator(np.random.PCG64())
        gen.bit_generator.state = state
        return gen
