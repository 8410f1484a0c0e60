"""The thread count of the BLAS library NumPy has loaded, read and set through its C API.

A forked worker inherits the parent's BLAS, already initialized with as many threads as the
machine has cores; environment variables are read only when the library loads, so the
worker sets its count through the library itself, as threadpoolctl does (without the
dependency): find the loaded library in /proc/self/maps and call its
``openblas_set_num_threads`` (any of the prefixes and suffixes builds use),
``MKL_Set_Num_Threads`` or ``bli_thread_set_num_threads``. Linux only; elsewhere workers
are spawned fresh and read the environment variables instead.
"""

from __future__ import annotations

import ctypes
import os
import sys

_NOLOAD = getattr(os, "RTLD_NOLOAD", 0) | getattr(os, "RTLD_LOCAL", 0)  # only if loaded

# library-name fragment → (setter symbols, getter symbols), tried in order
_APIS = {
    "openblas": (
        ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
         "openblas_set_num_threads64_", "openblas_set_num_threads"),
        ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads",
         "openblas_get_num_threads64_", "openblas_get_num_threads"),
    ),
    "mkl_rt": (("MKL_Set_Num_Threads",), ("MKL_Get_Max_Threads",)),
    "blis": (("bli_thread_set_num_threads",), ("bli_thread_get_num_threads",)),
}  # fmt: skip


def _libraries() -> list[tuple[str, ctypes.CDLL]]:
    """(kind, handle) of every loaded BLAS this module knows."""
    if not sys.platform.startswith("linux"):
        return []
    try:
        with open("/proc/self/maps") as f:
            fields = [line.split(None, 5) for line in f]
    except OSError:
        return []
    paths = {x[5].strip() for x in fields if len(x) == 6}
    out = []
    for path in sorted(p for p in paths if p.startswith("/") and ".so" in p):
        name = path.rsplit("/", 1)[-1].lower()
        for kind in _APIS:
            if kind in name:
                try:
                    out.append((kind, ctypes.CDLL(path, mode=_NOLOAD)))
                except OSError:
                    pass
    return out


def _symbol(lib: ctypes.CDLL, names: tuple[str, ...]):
    for name in names:
        fn = getattr(lib, name, None)
        if fn is not None:
            return fn
    return None


def limit_blas_threads(n: int) -> bool:
    """Set every loaded BLAS to ``n`` threads; True if one was found and set."""
    done = False
    for kind, lib in _libraries():
        fn = _symbol(lib, _APIS[kind][0])
        if fn is not None:
            fn.argtypes, fn.restype = [ctypes.c_int], None
            fn(int(n))
            done = True
    return done


def blas_threads() -> int | None:
    """The thread count of the first loaded BLAS found, or None if none is known."""
    for kind, lib in _libraries():
        fn = _symbol(lib, _APIS[kind][1])
        if fn is not None:
            fn.argtypes, fn.restype = [], ctypes.c_int
            return int(fn())
    return None
