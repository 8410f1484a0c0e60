"""A sweep over its seeds: per point, the median and spread of log10 δ₁/δ_L and the share
of seeds per verdict. The result is plain JSON data; the table and the figures read it."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from gradsim._version import __version__
from gradsim.sweeps.grid import Grid
from gradsim.verdicts import VERDICTS


def _canonical_axes(grid: Grid, points: list) -> dict[str, list]:
    """The grid's varying axes whose resolved values (he → he_normal) still differ between
    points, in the grid's order, each with its values in order of first appearance.
    (Options that follow from others, widths from depth or mode from init, are not axes.)"""
    axes = {}
    for name in grid.varying:
        values = list(dict.fromkeys(_hashable(cfg.to_dict()[name]) for _, cfg in points))
        if len(values) > 1:
            axes[name] = [list(v) if isinstance(v, tuple) else v for v in values]
    return axes


def varying_axes(grid: Grid) -> dict[str, list]:
    """The grid's varying axes with their resolved values (what the aggregate lists)."""
    return _canonical_axes(grid, grid.points())


def _hashable(v):
    return tuple(v) if isinstance(v, list) else v


def quantiles(rows: list[dict], ratios: list[list[float]]) -> None:
    """min, q25, median, q75, max of each row's ratios, NumPy's percentiles: one call for
    every row of a count (the same numbers as a call a row, at a fraction of the cost)."""
    by_count: dict[int, list[int]] = defaultdict(list)
    for i, r in enumerate(ratios):
        if r:
            by_count[len(r)].append(i)
    for idx in by_count.values():
        q = np.percentile(np.asarray([ratios[i] for i in idx], dtype=float), [0, 25, 50, 75, 100],
                          axis=1).T  # fmt: skip
        for i, (lo, q1, med, q3, hi) in zip(idx, q.tolist(), strict=True):
            rows[i] |= {"median": med, "q25": q1, "q75": q3, "min": lo, "max": hi}


def aggregate(grid: Grid, records: list[dict]) -> dict:
    """Per point of ``grid`` (in the grid's order), over its stored runs:

    ``runs`` (stored seeds), ``finite`` (of which have a finite δ ratio), ``median``,
    ``q25``, ``q75``, ``min``, ``max`` of log10 δ₁/δ_L over the finite ones (None if there
    are none), and the share of runs per verdict (stable, vanishing, exploding, overflow).
    ``axes`` lists the varying options with their resolved values; every point's
    ``values`` gives its own."""
    points = grid.points()
    axes = _canonical_axes(grid, points)
    by_point = defaultdict(list)
    for r in records:
        by_point[r["point"]].append(r)
    rows, ratios = [], []
    for key, cfg in points:
        recs = by_point.get(key, [])
        ratios.append([v for r in recs if (v := r["summary"]["log10_delta_ratio"]) is not None])
        d = cfg.to_dict()
        row = {"values": {k: d[k] for k in axes}, "runs": len(recs), "finite": len(ratios[-1])}
        row |= dict.fromkeys(("median", "q25", "q75", "min", "max"))
        for v in VERDICTS:
            n = sum(r["summary"]["verdict"] == v for r in recs)
            row[v] = n / len(recs) if recs else None
        rows.append(row)
    quantiles(rows, ratios)
    base = {k: v for k, v in points[0][1].to_dict().items() if k not in ("seed",)} if points else {}
    thresholds = {cfg.threshold for _, cfg in points}
    return {
        "gradsim": __version__,
        "kind": "sweep",
        "axes": axes,
        "base": base,
        "seeds": grid.seeds,
        "seed": grid.seed,
        "threshold": thresholds.pop() if len(thresholds) == 1 else None,
        "points": rows,
    }
