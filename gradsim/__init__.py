"""gradsim: will a deep network's signal and gradients survive its depth?

One function per command (gradsim.api), each returning an object with ``to_dict()`` and
``figure()``:

>>> import gradsim
>>> r = gradsim.simulate(depth=152, init="he", activation="relu")   # doctest: +SKIP
>>> r.summary.verdict, r.layers[0].log10_delta_rms                  # doctest: +SKIP
>>> gradsim.compare(init=["he", "xavier"], depth=152).figure()      # doctest: +SKIP
"""

from __future__ import annotations

import importlib

from gradsim._version import __version__
from gradsim.errors import GradsimError

# the rest on first use (PEP 562), so that importing a submodule (the CLI's `gradsim --help`)
# does not import the engine and the API
_LAZY = {
    "ACTIVATIONS": "activations", "Activation": "activations", "RunConfig": "config",
    "INIT_ALIASES": "initializers", "INITIALIZERS": "initializers", "Initializer": "initializers",
    "LOSSES": "losses", "LayerStats": "result", "Result": "result", "Summary": "result",
    **dict.fromkeys(("compare", "phase", "simulate", "spectrum", "sweep", "theory", "train"),
                    "api"),
}  # fmt: skip


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f"gradsim.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'gradsim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "ACTIVATIONS",
    "INITIALIZERS",
    "INIT_ALIASES",
    "LOSSES",
    "Activation",
    "GradsimError",
    "Initializer",
    "LayerStats",
    "Result",
    "RunConfig",
    "Summary",
    "__version__",
    "compare",
    "phase",
    "simulate",
    "spectrum",
    "sweep",
    "theory",
    "train",
]
