"""Short phrases that describe a configuration, shared by the tables and the figures (no
rich, no matplotlib here)."""

from __future__ import annotations

from collections.abc import Mapping


def architecture_parts(cfg: Mapping, varying=()) -> list[str]:
    """['residual α=0.5', 'batch norm'], or [] for a plain MLP, from a config (JSON dict or
    a RunConfig's ``vars``); options in ``varying`` are left to the axes that show them."""
    parts = []
    if cfg.get("residual") and "residual" not in varying:
        scale = "" if "residual_scale" in varying else f" α={cfg.get('residual_scale', 1):.3g}"
        parts.append("residual" + scale)
    if cfg.get("norm") and "norm" not in varying:
        parts.append(f"{cfg['norm']} norm")
    return parts
