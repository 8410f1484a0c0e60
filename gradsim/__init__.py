"""gradsim: will a deep network's signal and gradients survive its depth?

>>> import gradsim
>>> r = gradsim.simulate(depth=152, init="he", activation="relu")   # doctest: +SKIP
>>> r.summary.verdict, r.layers[0].log10_delta_rms                  # doctest: +SKIP
"""

from gradsim._version import __version__
from gradsim.activations import ACTIVATIONS, Activation
from gradsim.config import RunConfig
from gradsim.errors import GradsimError
from gradsim.initializers import INIT_ALIASES, INITIALIZERS, Initializer
from gradsim.losses import LOSSES
from gradsim.result import LayerStats, Result, Summary
from gradsim.simulation import simulate

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
    "simulate",
]
