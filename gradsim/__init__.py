"""gradsim: will a deep network's signal and gradients survive its depth?

One function per command (gradsim.api), each returning an object with ``to_dict()`` and
``figure()``:

>>> import gradsim
>>> r = gradsim.simulate(depth=152, init="he", activation="relu")   # doctest: +SKIP
>>> r.summary.verdict, r.layers[0].log10_delta_rms                  # doctest: +SKIP
>>> gradsim.compare(init=["he", "xavier"], depth=152).figure()      # doctest: +SKIP
"""

from gradsim._version import __version__
from gradsim.activations import ACTIVATIONS, Activation
from gradsim.api import compare, phase, simulate, spectrum, sweep, theory, train
from gradsim.config import RunConfig
from gradsim.errors import GradsimError
from gradsim.initializers import INIT_ALIASES, INITIALIZERS, Initializer
from gradsim.losses import LOSSES
from gradsim.result import LayerStats, Result, Summary

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
