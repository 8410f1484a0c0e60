"""The one registry of figure kinds: a result's JSON ``kind`` → the function that draws it.

``plot_result`` dispatches through it: ``gradsim plot``, the ``--plot`` option of every
command and the examples draw every figure this way.
"""

from __future__ import annotations

from collections.abc import Callable

from gradsim.errors import GradsimError
from gradsim.report.figures.compare import plot_compare
from gradsim.report.figures.run import plot_run
from gradsim.report.figures.sweep import plot_sweep
from gradsim.report.figures.theory import plot_phase, plot_spectrum, plot_theory
from gradsim.report.figures.train import plot_train

# each takes the result's JSON form (and ``fig=`` to draw into) and returns the Figure
FIGURES: dict[str, Callable] = {
    "run": plot_run,
    "compare": plot_compare,
    "phase": plot_phase,
    "spectrum": plot_spectrum,
    "theory": plot_theory,
    "train": plot_train,
    "sweep": plot_sweep,  # the sweep's aggregate; ``x=``, ``y=`` choose its axes
}


def plot_result(d: dict, **kw):
    """The figure of any gradsim result, by ``d["kind"]`` (``FIGURES``).

    Parameters
    ----------
    d : dict
        A result's JSON form (``"gradsim"``, ``"kind"``: one of ``FIGURES``, ...).
    **kw
        Passed on to the drawing function (``fig``; a sweep's ``x``, ``y``).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    GradsimError
        If ``d`` is not a complete gradsim result of one of those kinds.
    """
    if not isinstance(d, dict) or "gradsim" not in d or "kind" not in d:
        raise GradsimError("not a gradsim result: expected an object with 'gradsim' and 'kind'")
    if d["kind"] not in tuple(FIGURES):  # (a tuple: a kind may be any JSON value)
        raise GradsimError(
            f"cannot plot a gradsim result of kind '{d['kind']}' (can plot: {', '.join(FIGURES)})"
        )
    return FIGURES[d["kind"]](d, **kw)
