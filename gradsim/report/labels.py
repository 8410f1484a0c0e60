"""Short phrases that describe a configuration, a sweep's axes or a training run, shared by
the tables and the figures (no rich, no matplotlib here)."""

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


# ---------------------------------------------------------------- sweeps

_AXIS_LABELS = {"activation": "act", "bias_init": "bias-init", "bias_std": "bias-std",
                "bias_value": "bias-value"}  # as the CLI spells them  # fmt: skip


def axis_label(name: str) -> str:
    """A sweep axis as the command line spells it: 'act', 'bias-init', 'depth'."""
    return _AXIS_LABELS.get(name, name)


def value_text(v, digits: int = 3) -> str:
    """One value on a sweep's axis: 'none', '1.5' (``digits`` significant digits), '32×32',
    'relu'."""
    if v is None:
        return "none"
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    if isinstance(v, list):
        return "×".join(map(str, v))
    return str(v)


def axis_digits(values) -> int:
    """The fewest significant digits (3 to 8) that tell an axis's numbers apart."""
    nums = [v for v in values if isinstance(v, float)]
    for d in range(3, 9):
        if len({f"{v:.{d}g}" for v in nums}) == len(set(nums)):
            return d
    return 8


def base_text(agg: dict) -> str:
    """What every point of a sweep's aggregate shares: 'L=30 · n=64 · relu · mse loss'."""
    b, varying = agg.get("base") or {}, set(agg["axes"])
    parts = []
    for key, fmt in (("depth", "L={}"), ("width", "n={}"), ("batch", "B={}"),
                     ("activation", "{}"), ("init", "{}"), ("gain", "γ={:g}"),
                     ("loss", "{} loss"), ("dtype", "{}")):  # fmt: skip
        if key in b and key not in varying and b[key] is not None:
            if key == "gain" and b[key] == 1:
                continue
            parts.append(fmt.format(b[key]))
    return " · ".join(parts + architecture_parts(b, varying))


# ---------------------------------------------------------------- training

RATIO_GUIDE = -3.0  # log10 ‖ΔW‖/‖W‖ of Karpathy's rule of thumb (updates ~1e-3 of weights)


def run_label(run: dict, i: int) -> str:
    """A training run's label, or 'run i+1' when it has none (a single configuration)."""
    return run.get("label") or f"run {i + 1}"


def settings_text(runs: list[dict]) -> str:
    """The settings every training run shares, as short phrases: 'L=12 · n=32 · B=32 · relu
    · ...'."""
    parts = [_setting_parts(run["config"]) for run in runs]
    return " · ".join(p for k, p in enumerate(parts[0]) if p and all(q[k] == p for q in parts))


def _setting_parts(cfg: dict) -> list[str]:
    """One phrase per setting, '' where it is at its plain default, in a fixed order."""
    gain = cfg.get("gain")
    arch = architecture_parts(cfg)
    clip = cfg.get("clip_norm")
    return [
        f"L={cfg.get('depth', '?')}",
        f"n={cfg.get('width', '?')}",
        f"B={cfg.get('batch', '?')}",
        str(cfg.get("activation", "?")),
        str(cfg.get("init", "?")) + (f" γ={gain:g}" if gain not in (None, 1) else ""),
        " ".join(arch),
        f"{cfg.get('optimizer', '?')} lr={_g(cfg.get('lr'))}",
        f"clip ‖g‖≤{clip:g}" if clip else "",
        f"{cfg.get('steps', '?')} step" + ("" if cfg.get("steps") == 1 else "s"),
        str(cfg.get("dtype", "")),
        f"seed {cfg['seed']}" if "seed" in cfg else "",
    ]


def _g(v) -> str:
    return f"{v:g}" if isinstance(v, (int, float)) else str(v)
