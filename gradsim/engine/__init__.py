"""The one forward and backward pass of gradsim, over a stack of K networks of one shape
(K = 1 for a single run), and its numerical kit.

* ``numerics``: log-scaled magnitudes, moments, the storage precision, work arrays;
* ``blocks``: affine → optional normalization → φ → optional skip, forward and backward;
* ``forward``, ``backward``: the two halves of the pass; ``run_pass`` both, with statistics;
* ``trace``: what a pass measured of one run.
"""

from gradsim.engine.backward_pass import Backward, backward, output_gradient
from gradsim.engine.blocks import (
    Block,
    activate,
    derivative,
    normalize,
    normalize_backward,
    pre_activation,
    skip,
)
from gradsim.engine.forward_pass import Forward, Kept, forward
from gradsim.engine.numerics import (
    LOG10_2,
    NAN,
    NEG_INF,
    Precision,
    Workspace,
    exp10,
    gram_pays,
    log10,
    moments,
    moments_k,
    pow2,
)
from gradsim.engine.run import run_pass, traces
from gradsim.engine.trace import FIELDS, Trace

__all__ = [
    "FIELDS",
    "LOG10_2",
    "NAN",
    "NEG_INF",
    "Backward",
    "Block",
    "Forward",
    "Kept",
    "Precision",
    "Trace",
    "Workspace",
    "activate",
    "backward",
    "derivative",
    "exp10",
    "forward",
    "gram_pays",
    "log10",
    "moments",
    "moments_k",
    "normalize",
    "normalize_backward",
    "output_gradient",
    "pow2",
    "pre_activation",
    "run_pass",
    "skip",
    "traces",
]
