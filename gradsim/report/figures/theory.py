"""Figures of the mean-field theory: the order-to-chaos phase diagram and the singular values
of the input–output Jacobian, drawn from their JSON forms (``theory.phase_dict``,
``theory.spectrum_dict``), so a saved result is redrawn without recomputing.

matplotlib is imported inside the functions, never at module level, and only through
``matplotlib.figure.Figure`` (no pyplot, no global state), as in ``figures/common.py``.
"""

from __future__ import annotations

import numpy as np

from gradsim.errors import GradsimError
from gradsim.explain import pow10
from gradsim.report.figures.common import (
    check_result,
    colors,
    floats,
    light_grid,
    new_figure,
    pow10_axis,
    title_parts,
)

_SIZE_PHASE = (8.0, 5.6)  # inches
_SIZE_SPECTRUM = (8.0, 4.6)
_XI_RANGE = (0.5, 1000.0)  # ξ_c colour scale (layers), logarithmic, clipped at both ends
_MARKERS = "osD^vP*Xhp"
# measured runs on the phase diagram, by verdict (the table's colours)
_VERDICT_COLORS = {"stable": "#2ca02c", "vanishing": "#1f77b4", "exploding": "#d62728",
                   "overflow": "#c051c0"}  # fmt: skip


def plot_phase(d: dict, *, fig=None):
    """The order-to-chaos phase diagram (Schoenholz et al. 2017, fig. 1).

    Colour: the correlation depth scale ξ_c over (σ_w², σ_b²), on a log scale; it diverges
    on the critical line χ₁ = 1 (white), which separates the ordered phase (χ₁ < 1, gradients
    vanish) from the chaotic one (χ₁ > 1, gradients explode). Hatched grey: the length q^l
    diverges (unbounded φ with χ₁ > 1), where c* and ξ_c are not defined. Points: the
    registered initializers; with an overlay, measured runs coloured by their verdict.

    Parameters
    ----------
    d : dict
        A phase diagram's JSON form (``theory.phase_dict``, kind "phase").
    fig : matplotlib.figure.Figure, optional
        Draw into this (empty) figure instead of a new one.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.colors import LogNorm
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    check_result(d, "phase")
    fig = new_figure(fig, _SIZE_PHASE)
    ax = fig.subplots()
    x = np.asarray(d["sigma_w2"], float)
    y = np.asarray(d["sigma_b2"], float)
    xi = np.array([[np.nan if v is None else v for v in row] for row in d["xi_c"]], float)
    diverges = np.asarray(d["q_star_infinite"], bool)
    xe, ye = _edges(x), _edges(y)
    # ξ_c is ∞ on the critical line itself: show it at the top of the scale
    xi = np.where(np.isinf(xi), _XI_RANGE[1], xi)
    shown = np.ma.masked_where(~np.isfinite(xi) | diverges, np.clip(xi, *_XI_RANGE))
    import matplotlib

    cmap = matplotlib.colormaps["magma"].copy()
    mesh = ax.pcolormesh(xe, ye, shown, cmap=cmap, norm=LogNorm(*_XI_RANGE), shading="flat",
                         rasterized=True)  # fmt: skip
    handles = []
    if diverges.any():
        ax.pcolormesh(xe, ye, np.ma.masked_where(~diverges, np.ones_like(xi)), cmap="Greys",
                      vmin=0, vmax=4, shading="flat", rasterized=True)  # fmt: skip
        handles.append(Patch(facecolor="0.8", edgecolor="0.6",
                             label="q* = ∞: the length diverges (ξ_c undefined)"))  # fmt: skip
    cbar = fig.colorbar(mesh, ax=ax, extend="both", pad=0.02)
    cbar.set_label(r"$\xi_c$: depth scale of correlations (layers)")
    line = d.get("critical_line") or {}
    crit = floats(line.get("sigma_w2"))
    ly = np.asarray(line.get("sigma_b2", []), float)
    if np.isfinite(crit).any():
        ax.plot(crit, ly, color="white", linewidth=2.2, zorder=4)
        ax.plot(crit, ly, color="0.1", linewidth=0.8, linestyle="--", zorder=5)
        seen = np.isfinite(crit) & (crit >= xe[0]) & (crit <= xe[-1])
        where = "" if seen.any() else f": at σ_w² ≈ {np.nanmedian(crit):.3g}, off the grid"
        handles.append(Line2D([], [], color="0.1", linestyle="--", linewidth=1,
                              label=r"critical line $\chi_1 = 1$" + where))  # fmt: skip
        _phase_labels(ax, crit, ly, xe, diverges)
    handles += _initializer_marks(ax, d.get("initializers") or [], xe, ye)
    overlay = [r for r in d.get("overlay") or [] if r.get("activation") == d["activation"]]
    handles += _overlay_marks(ax, overlay)
    # a margin below σ_b² = 0 and left of σ_w² = 0, so that the markers there sit whole
    # inside the axes, off its frame
    ax.set_xlim(xe[0] - 0.02 * (xe[-1] - xe[0]), xe[-1])
    ax.set_ylim(ye[0] - 0.05 * (ye[-1] - ye[0]), ye[-1])
    ax.set_xlabel(r"$\sigma_w^2$   (Var $W$ = $\sigma_w^2$/fan_in)")
    ax.set_ylabel(r"$\sigma_b^2$   (Var $b$)")
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=7.5, frameon=False,
               columnspacing=1.2, handletextpad=0.4)  # fmt: skip
    left = len(d.get("overlay") or []) - len(overlay)
    note = f" · {left} run(s) of another activation left out" if left else ""
    ax.set_title(f"order-to-chaos phase diagram · {d['activation']} · markers at width "
                 f"{d['width']}{note}", fontsize=10)  # fmt: skip
    return fig


def _initializer_marks(ax, points: list[dict], xe: np.ndarray, ye: np.ndarray) -> list:
    """A marker per registered initializer's (σ_w², σ_b²) within the edges; their legend
    handles."""
    from matplotlib.lines import Line2D

    # colours the measured verdicts do not use (_VERDICT_COLORS: blue, green, red, purple)
    palette = [colors()[k] for k in (1, 5, 6, 8, 9, 7)]
    handles = []
    tol_x, tol_y = 1e-9 * (xe[-1] - xe[0]), 1e-9 * (ye[-1] - ye[0])
    for p in points:
        if not (xe[0] - tol_x <= p["sigma_w2"] <= xe[-1] + tol_x
                and ye[0] - tol_y <= p["sigma_b2"] <= ye[-1] + tol_y):  # fmt: skip
            continue
        k = len(handles)
        marker, color = _MARKERS[k % len(_MARKERS)], palette[k % len(palette)]
        # above the measured circles, which are drawn larger around them
        ax.plot(p["sigma_w2"], p["sigma_b2"], marker=marker, markersize=7, color=color,
                markeredgecolor="white", markeredgewidth=0.8, linestyle="none", zorder=8,
                clip_on=False)  # fmt: skip
        handles.append(Line2D([], [], marker=marker, color=color, linestyle="none",
                              markeredgecolor="white", markeredgewidth=0.8,
                              label=_names(p["names"])))  # fmt: skip
    return handles


def _overlay_marks(ax, overlay: list[dict]) -> list:
    """Measured runs as open circles coloured by their verdict; their legend handles."""
    from matplotlib.lines import Line2D

    handles = []
    for verdict in dict.fromkeys(r.get("verdict") for r in overlay):
        pts = [r for r in overlay if r.get("verdict") == verdict]
        color = _VERDICT_COLORS.get(verdict, "white")
        xs, ys = [r["sigma_w2"] for r in pts], [r["sigma_b2"] for r in pts]
        ax.plot(xs, ys, marker="o", markersize=11, markerfacecolor="none", color=color,
                markeredgewidth=1.8, linestyle="none", zorder=7, clip_on=False)  # fmt: skip
        handles.append(Line2D([], [], marker="o", markersize=9, markerfacecolor="none",
                              color=color, markeredgewidth=1.8, linestyle="none",
                              label=f"measured: {verdict}"))  # fmt: skip
    return handles


def _edges(c: np.ndarray) -> np.ndarray:
    """Cell edges around centers ``c`` (evenly spaced), clipped at 0."""
    if c.size == 1:
        return np.array([max(c[0] - 0.5, 0.0), c[0] + 0.5])
    h = np.diff(c)
    e = np.concatenate([[c[0] - h[0] / 2], (c[:-1] + c[1:]) / 2, [c[-1] + h[-1] / 2]])
    return np.maximum(e, 0.0)


def _names(names: list[str]) -> str:
    """'xavier_*, lecun_*, orthogonal': variants sharing a stem (xavier_uniform,
    xavier_normal) merged."""
    stems: dict[str, list[str]] = {}
    for n in names:
        stems.setdefault(n.partition("_")[0], []).append(n)
    text = ", ".join(f"{stem}_*" if len(v) > 1 else v[0] for stem, v in stems.items())
    return text if len(text) <= 60 else text[:57] + "…"


def _phase_labels(ax, crit, y, xe, diverges) -> None:
    """'ordered' left of the critical line, 'chaotic' right of it, with what that means
    where there is room for it; the right side is 'exploding' where the length diverges
    there (relu: no chaos, the signal itself blows up)."""
    mid = len(y) // 2
    c = crit[mid] if np.isfinite(crit[mid]) else np.nanmedian(crit)
    c = min(max(c, xe[0]), xe[-1])  # a critical line beyond the grid: one phase in view
    span = xe[-1] - xe[0]
    # about the share of the axes' width one character of 11 pt takes
    char = 11 / 72 * 0.6 / (ax.figure.get_figwidth() * 0.72)
    kw = {"ha": "center", "va": "center", "fontsize": 11, "zorder": 5, "fontweight": "bold"}
    right = diverges[:, _edges_center_index(xe, (c + xe[-1]) / 2)].mean() > 0.5
    sides = ((xe[0], c, "ordered", r"$\chi_1 < 1$: gradients vanish"),
             (c, xe[-1], "exploding" if right else "chaotic",
              r"$\chi_1 > 1$: gradients explode"))  # fmt: skip
    for lo, hi, name, meaning in sides:
        room = (hi - lo) / span
        # dark letters on the light grey where the length diverges, white on the colours
        kw["color"] = "0.15" if name == "exploding" else "white"
        if room >= 26 * char:
            ax.text((lo + hi) / 2, y[mid], f"{name}\n{meaning}", **kw)
        elif room >= (len(name) + 2) * char:
            ax.text((lo + hi) / 2, y[mid], name, **kw)


def _edges_center_index(xe, x: float) -> int:
    return int(np.clip(np.searchsorted(xe, x) - 1, 0, len(xe) - 2))


def plot_spectrum(d, *, fig=None):
    """The distribution of the singular values s of the input–output Jacobian (Pennington,
    Schoenholz & Ganguli 2017), pooled over the inputs, as an empirical cumulative
    distribution: the share of the values ≤ s, which shows every value (a spike is a
    vertical step, a spread over decades a slow climb); several spectra (a list of dicts)
    are overlaid. The axis is log10 s where the values span more than a factor 10. Exact
    zeros have no place on a log axis: the curve starts at their share.

    Parameters
    ----------
    d : dict or list of dict
        Spectrum JSON forms (``theory.spectrum_dict``, kind "spectrum").
    fig : matplotlib.figure.Figure, optional
        Draw into this (empty) figure instead of a new one.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.ticker import PercentFormatter

    ds = d if isinstance(d, list) else [d]
    if not ds:
        raise GradsimError("no spectrum to draw")
    for one in ds:
        check_result(one, "spectrum")
    fig = new_figure(fig, _SIZE_SPECTRUM)
    ax = fig.subplots()
    logs = [_log_values(one) for one in ds]
    finite = np.concatenate([v[np.isfinite(v)] for v in logs])
    if finite.size == 0:
        raise GradsimError("every singular value is zero or not finite: nothing to draw")
    lo, hi = float(finite.min()), float(finite.max())
    use_log = hi - lo > 1.0
    palette = colors()
    for i, (one, v) in enumerate(zip(ds, logs, strict=True)):
        x = np.sort(v[np.isfinite(v)])
        zeros = int(np.count_nonzero(v == -np.inf))  # exact zeros: no place on a log axis
        start = zeros / max(v.size, 1)
        y = start + np.arange(1, x.size + 1) / max(v.size, 1)
        x = x if use_log else 10.0**x
        label = _spectrum_label(one) if len(ds) > 1 else "singular values"
        spread = one.get("spread")
        notes = [] if spread is None else [f"spread {spread:.3g}" if spread > 1e-12 else
                                           "spread 0"]  # fmt: skip
        if zeros:
            notes.append(f"{start:.0%} at 0 or below rounding: the curve starts there")
        label += f"  ({', '.join(notes)})" if notes else ""
        ax.plot(np.r_[x[:1], x], np.r_[start, y], drawstyle="steps-post", color=palette[i % 10],
                linewidth=1.6, label=label)  # fmt: skip
    span = (hi - lo) if use_log else (10**hi - 10**lo)
    pad = 0.04 * span if span > 0 else 0.05 * max(abs(10**hi), 1e-3)
    a, b = (lo, hi) if use_log else (10**lo, 10**hi)
    ax.set_xlim(a - pad, b + pad)
    ax.set_ylim(0, 1.03)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    if use_log:
        pow10_axis(ax.xaxis)
        ax.set_xlabel("singular value $s$ of $J = \\partial H_L/\\partial H_0$ (log scale)")
    else:
        ax.set_xlabel("singular value $s$ of $J = \\partial H_L/\\partial H_0$")
    ax.set_ylabel("share of the singular values $\\leq s$")
    light_grid(ax)
    # below the axes: a cumulative curve crosses every corner
    fig.legend(loc="outside lower center", fontsize=8, frameon=False)
    if len(ds) == 1:
        one = ds[0]
        parts = [
            t for keys, t in title_parts(one["config"]) if not keys & {"batch", "loss", "dtype"}
        ]
        ax.set_title(" · ".join(parts) + f" · {one['inputs']} inputs\n"
                     + _moments_text(one), fontsize=10)  # fmt: skip
    else:
        ax.set_title("singular values of the input–output Jacobian: cumulative distribution",
                     fontsize=10)  # fmt: skip
    return fig


def _log_values(d: dict) -> np.ndarray:
    sv = np.array([[np.nan if v is None else v for v in row] for row in d["singular_values"]],
                  float).ravel()  # fmt: skip
    with np.errstate(divide="ignore"):
        return np.log10(sv)


def _spectrum_label(d: dict) -> str:
    c = d["config"]
    from gradsim.report.labels import init_text

    return f"{c['activation']} · {init_text(c)} · L={c['depth']}"


def _moments_text(d: dict) -> str:
    mean = d.get("log10_mean_sq")
    text = []
    if mean is not None:
        text.append(f"mean $s^2$ = {_fmt(mean)}")
    if d.get("log10_mean_sq_pred") is not None:
        text.append(f"mean field {_fmt(d['log10_mean_sq_pred'])}")
    if d.get("spread") is not None:
        text.append(r"Var$\lambda$/(E$\lambda$)$^2$ = " + f"{d['spread']:.3g}")
    if d.get("log10_condition") is not None:
        text.append(f"$s_{{max}}/s_{{min}}$ = {_fmt(d['log10_condition'])}")
    return " · ".join(text)


def _fmt(log10v: float) -> str:
    """0.01 … 1000 as plain numbers, beyond as mathtext: '$3.4{\\cdot}10^{38}$'."""
    return pow10(log10v, style="tex", digits=2)


def plot_theory(d: dict, *, fig=None):
    """The mean-field prediction layer by layer, as a run's figure draws a measurement:
    panel (a) the predicted RMS of H_l, panel (b) of δ_l, dashed; the title gives the
    activation, σ_w, σ_b, χ₁ and the phase.

    Parameters
    ----------
    d : dict
        A theory result's JSON form (``meanfield.describe``, kind "theory").
    fig : matplotlib.figure.Figure, optional
        Draw into this (empty) figure instead of a new one.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from gradsim.report.figures.panels import (
        ACT_PRED,
        DELTA_PRED,
        finish_panel,
        label_panels,
        layer_line,
    )

    check_result(d, "theory", need=("config", "layers"))
    cfg, layers = d["config"], d["layers"]
    fig = new_figure(fig, _SIZE_SPECTRUM)
    ax_a, ax_b = fig.subplots(1, 2)
    palette = colors()
    dashed = {"linestyle": "--", "marker": None, "linewidth": 1.5}
    layer_line(ax_a, layers, ACT_PRED, palette[0], **dashed)
    layer_line(ax_b, layers, DELTA_PRED, palette[1], **dashed)
    label_panels(ax_a, ax_b, delta_only=True)
    for ax in (ax_a, ax_b):
        finish_panel(ax, cfg["depth"], [])
    sw, sb, chi = cfg.get("sigma_w"), cfg.get("sigma_b"), d.get("chi1")
    field = (rf"$\sigma_w$ = {sw:.3g}, $\sigma_b$ = {sb:.3g}" if sw is not None and sb is not None
             else "")  # fmt: skip
    if cfg.get("init"):
        field = f"{cfg['init']} ({field})" if field else cfg["init"]
    phase = f" · χ₁ = {chi:.3g}: {d.get('phase')}" if chi is not None else ""
    fig.suptitle(f"mean-field prediction · {cfg['activation']} · L={cfg['depth']} · {field}"
                 f"{phase}", fontsize=11)  # fmt: skip
    return fig
