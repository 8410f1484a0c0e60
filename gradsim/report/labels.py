"""Short phrases that describe a configuration, a sweep's axes or a training run, shared by
the tables and the figures (no rich, no matplotlib here)."""

from __future__ import annotations

from collections.abc import Mapping

from gradsim.scaling import INIT_SCALE, log2_text

SEP = " · "  # between the parts of a title or a settings line


def fold(text: str, most: int, length=len) -> list[str]:
    """``text``'s " · " parts gathered into lines of at most ``most`` (as ``length`` counts
    a line), folded between parts, never inside one (a part longer alone is a line alone)."""
    lines: list[str] = []
    for part in text.split(SEP):
        if lines and length(lines[-1]) + len(SEP) + length(part) <= most:
            lines[-1] += SEP + part
        else:
            lines.append(part)
    return lines


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


def init_text(cfg: Mapping, varying=()) -> str:
    """The initializer and every option that changes its draw away from its defaults, from a
    config (JSON dict or a RunConfig's ``vars``): 'he_normal γ=2 fan_out truncated',
    'normal std=0.05', 'xavier_uniform · bias normal σ_b=0.1'. The same phrase heads the
    tables, the figures and a Result's repr. Options in ``varying`` are left to the axes
    that show them."""
    from gradsim.initializers import INITIALIZERS
    from gradsim.options import BY_DEST

    name = str(cfg.get("init", "?"))
    rec = INITIALIZERS.get(name) if "init" not in varying else None
    parts = [name] if "init" not in varying else []
    gain = cfg.get("gain")
    if gain not in (None, 1) and "gain" not in varying:
        parts.append(f"γ={gain:g}")
    if rec is not None:
        mode = cfg.get("mode")
        if mode and mode != rec.default_mode and "mode" not in varying:
            parts.append(mode)
        for key in ("std", "low", "high", "value"):
            v = cfg.get(key)
            if key in rec.options and v is not None and v != BY_DEST[key].default:
                parts.append(f"{key}={v:g}" if key not in varying else "")
        if cfg.get("truncated") and "truncated" not in varying:
            parts.append("truncated")
    bias = "" if varying and {"bias_init", "bias_std", "bias_value"} & set(varying) else (
        bias_text(cfg))  # fmt: skip
    return " · ".join(p for p in (" ".join(p for p in parts if p), bias) if p)


def bias_text(cfg: Mapping) -> str:
    """'bias normal σ_b=0.1', 'bias constant 0.5', 'bias uniform', or '' where the biases
    follow the initializer's own rule."""
    from gradsim.initializers import INITIALIZERS

    rec = INITIALIZERS.get(str(cfg.get("init")))
    own = rec.bias if rec is not None else "zeros"
    bias = cfg.get("bias_init") or own
    if bias == own:
        return ""
    if bias == "normal":
        return f"bias normal σ_b={cfg.get('bias_std', 0.1):g}"
    if bias == "constant":
        return f"bias constant {cfg.get('bias_value', 0.1):g}"
    return f"bias {bias}"


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
                     ("activation", "{}"), ("init", None), ("loss", "{} loss"),
                     ("dtype", "{}")):  # fmt: skip
        if key == "init" and "init" in b:  # with γ, mode, truncation, bias… (init_text)
            parts.append(init_text(b, tuple(varying)))
        elif key in b and key not in varying and b[key] is not None:
            parts.append(fmt.format(b[key]))
    if b.get("loss_scale", "ideal") != "ideal" and "loss_scale" not in varying:
        parts.append(f"loss scale {b['loss_scale']}")
    return " · ".join(p for p in parts + architecture_parts(b, varying) if p)


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
    arch = architecture_parts(cfg)
    clip = cfg.get("clip_norm")
    return [
        f"L={cfg.get('depth', '?')}",
        f"n={cfg.get('width', '?')}",
        f"B={cfg.get('batch', '?')}",
        str(cfg.get("activation", "?")),
        init_text(cfg) if "init" in cfg else "?",
        " ".join(arch),
        f"{cfg.get('optimizer', '?')} lr={_g(cfg.get('lr'))}",
        f"clip ‖g‖≤{clip:g}" if clip else "",
        f"BN eval: {cfg['bn_eval']} stats" if cfg.get("bn_eval") else "",
        f"{cfg.get('steps', '?')} step" + ("" if cfg.get("steps") == 1 else "s"),
        precision_text(cfg) if "dtype" in cfg else "",
        f"seed {cfg['seed']}" if "seed" in cfg else "",
    ]


def clip_text(run: dict) -> str:
    """'clipped at 12 of 20 steps' for a run trained with --clip-norm, else ''."""
    n = run.get("clipped_steps")
    if n is None:
        return ""
    steps = run["config"].get("steps", "?")
    return f"clipped at {n} of {steps} step" + ("" if steps == 1 else "s")


def bn_eval_text(runs: list[dict]) -> str:
    """How the whole-set losses read batch norm, for runs that have it ('' if none does)."""
    modes = {r["config"].get("bn_eval") for r in runs} - {None}
    said = {
        "running": "batch norm in eval mode, with the running statistics of training "
        "(momentum 0.1; μ̂ = 0, σ̂² = 1 at step 0)",
        "batch": "batch norm on the whole set's own batch statistics (--bn-eval batch)",
    }
    if not modes:
        return ""
    return "initial and final loss: " + "; ".join(said[m] for m in sorted(modes))


def _g(v) -> str:
    return f"{v:g}" if isinstance(v, (int, float)) else str(v)


def precision_text(cfg: dict, scale: dict | None = None) -> str:
    """The number format and the loss scale a result depends on: 'float32' (float32 or
    float64 with the ideal scale, the default), else 'float16, loss scale ideal',
    'bfloat16, loss scale none', 'float16, loss scale 2^10', 'float16, loss scale dynamic
    (2^16→2^12)'. ``scale``: a run summary's or a train run's ``loss_scale`` (the scale
    reached by a dynamic one)."""
    dtype, ls = str(cfg.get("dtype", "?")), str(cfg.get("loss_scale", "ideal"))
    if ls == "ideal" and dtype in ("float32", "float64"):
        return dtype
    if ls in ("ideal", "none", "dynamic"):
        text = f"{dtype}, loss scale {ls}"
    else:
        text = f"{dtype}, loss scale {log2_text(float(ls))}"
    end = (scale or {}).get("scale")
    if ls == "dynamic" and end:
        start = log2_text(INIT_SCALE)
        text += f" ({start})" if end == INIT_SCALE else f" ({start}→{log2_text(end)})"
    return text


def scale_text(run: dict) -> str:
    """'loss scale 2^16→2^12, 4 steps skipped (inf/NaN gradients)' for a train run with a
    dynamic loss scale, else ''."""
    ls = run.get("loss_scale") or {}
    if ls.get("mode") != "dynamic" or not ls.get("scale"):
        return ""
    n = len(ls.get("skipped_steps") or [])
    return (
        f"loss scale {log2_text(INIT_SCALE)}→{log2_text(ls['scale'])}, {n} step"
        f"{'' if n == 1 else 's'} skipped (inf/NaN gradients)"
    )
