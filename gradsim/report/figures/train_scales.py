"""What every panel of the train figure shares: the verdicts' colours, the figure's width,
the logged steps as an axis, per-layer values as a (steps, L) matrix, and a log range that
leaves a diverged run off-scale rather than flatten every other curve."""

from __future__ import annotations

import numpy as np

from gradsim.report.figures.common import floats

# verdict → colour, as the terminal table shows them (learned green, slow yellow, else red)
VERDICT_COLORS = {"learned": "#2ca02c", "slow": "#b8860b", "stalled": "#d62728",
                  "diverged": "#d62728"}  # fmt: skip
WIDTH = 12.5  # inches
OFFSCALE_DECADES = 3  # a diverged run's loss this far above the others is cut off


def layer_matrix(run: dict, field: str) -> tuple[np.ndarray, np.ndarray]:
    """The logged steps s ≥ 1 and ``run[field]`` at them as a (steps, L) array (NaN for
    null); step 0 has no update and is left out."""
    steps = np.asarray(run["steps"], dtype=int)
    L = run["config"]["depth"]
    keep = [k for k, s in enumerate(steps) if s >= 1]
    M = np.full((len(keep), L), np.nan)
    rows = run.get(field) or []
    for i, k in enumerate(keep):
        if k < len(rows) and rows[k] is not None:
            M[i] = floats(rows[k])[:L]
    return steps[keep], M


def log_range(values: list, core: list) -> tuple[float | None, float | None, bool]:
    """The (min, max) of the finite log10 ``values``, and whether the max was cut: a diverged
    run's values more than OFFSCALE_DECADES above the ``core`` (those of the runs that did
    not diverge) would flatten every other curve, so the range then stops one decade above
    the core's. (None, None, False) when nothing is finite."""
    every = np.concatenate([np.ravel(v) for v in values] + [np.zeros(0)])
    every = every[np.isfinite(every)]
    if not every.size:
        return None, None, False
    lo, hi = float(every.min()), float(every.max())
    core = np.concatenate([np.ravel(v) for v in core] + [np.zeros(0)])
    core = core[np.isfinite(core)]
    if core.size and hi > float(core.max()) + OFFSCALE_DECADES:
        return lo, float(core.max()) + 1, True
    return lo, hi, False


def step_axis(ax, runs) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.set_xlim(*step_range(runs))
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True, steps=[1, 2, 5, 10]))


def step_range(runs) -> tuple[float, float]:
    last = max(max(run["steps"]) for run in runs)
    last = max(last, max(run["config"].get("steps", 0) for run in runs), 1)
    pad = 0.02 * last
    return -pad, last + pad
