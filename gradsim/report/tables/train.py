"""The terminal report of ``gradsim train``, sized to fit 80 columns, and its CSV.

Drawn from the JSON form (``gradsim.training.loop.to_dict``), so a saved result is shown again
without retraining.
"""

from __future__ import annotations

import csv
import io

from rich.console import Group
from rich.table import Table
from rich.text import Text

from gradsim.explain import pow10
from gradsim.report.export import csv_cell
from gradsim.report.labels import (
    RATIO_GUIDE,
    bn_eval_text,
    clip_text,
    run_label,
    scale_text,
    settings_text,
)
from gradsim.report.tables.common import Fitted, Parts

VERDICT_STYLE = {
    "learned": "bold green",
    "slow": "bold yellow",
    "stalled": "bold red",
    "diverged": "bold red",
}
# log10 ‖ΔW‖/‖W‖ outside this range is flagged: two decades either side of ~1e-3 (Karpathy,
# "A Recipe for Training Neural Networks", 2019) means the layer barely moves or is rewritten
RATIO_RANGE = (RATIO_GUIDE - 2, RATIO_GUIDE + 2)
_AT_BASELINE = 0.02  # a final loss within 2% of the constant prediction's is "at" it


# ---------------------------------------------------------------- public functions


def render_train(d: dict) -> Group:
    """The title (what was trained, the settings every run shares), the results table, one
    plain-language note per notable run, and the table of gradient sizes.

    Parameters
    ----------
    d : dict
        ``gradsim train``'s JSON (``kind == "train"``: ``task``, ``axes``, ``runs``).
    """
    runs = d["runs"]
    parts = [Text(line, style=style) for line, style in zip(_head(d), ("bold", ""), strict=True)]
    # a narrow terminal gives up whole columns; a label wraps between its words only
    parts += [Parts(settings_text(runs), style="dim"),
              Fitted(results_table(d), ("final acc", "½ at step"), flexible=("run",))]  # fmt: skip
    base = {round(r["baseline_loss"], 4) for r in runs if r.get("baseline_loss") is not None}
    legend = "½ at step: first step with loss ≤ ½ initial"
    if len(base) == 1:
        legend = f"constant prediction: loss {_loss(base.pop())} · " + legend
    parts.append(Parts(legend, style="dim"))
    if bn_eval_text(runs):
        parts.append(Text(bn_eval_text(runs), style="dim"))
    said = notes(d)
    if said:
        parts.append(Text(""))
        parts += said
    grads = Fitted(gradients_table(d), ("steps", "‖∂E/∂W‖ first"), flexible=("run",))
    parts += [Text(""), Text("gradients over training", style="bold"), grads]
    lo, hi = (_e(v) for v in RATIO_RANGE)
    parts.append(Text(
        "‖∂E/∂W‖ at the first and last logged update; ‖ΔW‖/‖W‖ of the last update, yellow "
        f"outside {lo}…{hi} (rule of thumb: ~{_e(RATIO_GUIDE)}); —: zero or inf/NaN",
        style="dim",
    ))  # fmt: skip
    clipping = _clipping(d)
    if clipping:
        parts.append(Text(clipping, style="dim"))
    scales = [(run_label(r, i), scale_text(r)) for i, r in enumerate(d["runs"])]
    if any(text for _, text in scales):
        many = len(d["runs"]) > 1
        parts.append(Text("; ".join(f"{name}: {text}" if many else text
                                    for name, text in scales if text), style="dim"))  # fmt: skip
    return Group(*parts)


def _clipping(d: dict) -> str:
    """With --clip-norm: that ‖∂E/∂W‖ is before clipping, and how often each run clipped,
    with its global norm ‖g‖ before clipping at the last logged update."""
    said = []
    for i, r in enumerate(d["runs"]):
        text = clip_text(r)
        if text:
            norms = r.get("log10_global_grad_norm") or []
            last = next((v for v in reversed(norms) if v is not None), None)
            name = f"{run_label(r, i)}: " if len(d["runs"]) > 1 else ""
            said.append(f"{name}{text} (‖g‖ before clipping {_e(last)} at the last logged update)")
    if not said:
        return ""
    return "‖∂E/∂W‖ is the raw gradient's, before clipping; " + "; ".join(said)


def results_table(d: dict) -> Table:
    """One row per run in the JSON's order: label, verdict, initial and final loss, the
    first logged step at half the initial loss, and the final accuracy (classification)."""
    runs = d["runs"]
    classification = any(r.get("final_accuracy") is not None or r.get("accuracy") is not None
                         for r in runs)  # fmt: skip
    numbers = ["initial loss", "final loss", "½ at step"]
    t = _runs_table("verdict", [*numbers, "final acc"] if classification else numbers)
    for i, r in enumerate(runs):
        half = r.get("half_step")
        row = [
            run_label(r, i),
            Text(r["verdict"], style=VERDICT_STYLE.get(r["verdict"], "")),
            _loss(r.get("initial_loss")),
            _loss(r.get("final_loss")),
            "never" if half is None else str(half),
        ]
        if classification:
            acc = r.get("final_accuracy")
            row.append("—" if acc is None else f"{acc:.1%}")
        t.add_row(*row)
    return t


def notes(d: dict) -> list[Text]:
    """One line per notable run: where it diverged, whether its layers never broke symmetry,
    whether it stalled at the constant prediction's loss."""
    out = []
    for i, r in enumerate(d["runs"]):
        said = _run_notes(r)
        if said:
            line = Text("• ")
            line.append(run_label(r, i), style="bold")
            line.append(": " + "; ".join(said))
            out.append(line)
    return out


def gradients_table(d: dict) -> Table:
    """Per run, at its first, middle and last layer: log10 ‖∂E/∂W_l‖ at the first logged
    step ≥ 1 and at the last, and ‖ΔW_l‖/‖W_l‖ of the last logged update, as '3e-2'; the
    ratio in yellow outside ``RATIO_RANGE``."""
    t = _runs_table("steps", ["layer", "‖∂E/∂W‖ first", "last", "‖ΔW‖/‖W‖ last"])
    for i, r in enumerate(d["runs"]):
        label = run_label(r, i)
        logged = [k for k, s in enumerate(r["steps"]) if s >= 1 and _row(r, "log10_grad_norm", k)]
        if not logged:
            t.add_row(label, "none", "", "—", "—", "—", end_section=True)
            continue
        a, b = logged[0], logged[-1]
        L = r["config"]["depth"]
        layers = sorted({1, (L + 1) // 2, L})
        for j, l in enumerate(layers):
            ratio = _at(_row(r, "log10_update_ratio", b), l)
            far = ratio is not None and not RATIO_RANGE[0] <= ratio <= RATIO_RANGE[1]
            t.add_row(
                label if j == 0 else "",
                f"{r['steps'][a]}→{r['steps'][b]}" if j == 0 else "",
                str(l),
                _e(_at(_row(r, "log10_grad_norm", a), l)),
                _e(_at(_row(r, "log10_grad_norm", b), l)),
                Text(_e(ratio), style="yellow" if far else ""),
                end_section=j == len(layers) - 1,
            )
    return t


def train_csv(d: dict) -> str:
    """One row per (run, logged step): label, verdict, step, loss, accuracy, log10 of the
    global gradient norm before clipping, whether the step was clipped (with
    --clip-norm), then log10_grad_norm_1..L (before clipping) and log10_update_ratio_1..L
    (L: the deepest run's depth), and with --clip-norm log10_clipped_grad_norm_1..L; empty
    cells for null or missing values."""
    runs = d["runs"]
    L = max((r["config"]["depth"] for r in runs), default=0)
    per_layer = ["log10_grad_norm", "log10_update_ratio"]
    if any(r.get("log10_clipped_grad_norm") is not None for r in runs):
        per_layer.append("log10_clipped_grad_norm")
    fields = ["label", "verdict", "step", "loss", "accuracy", "log10_global_grad_norm", "clipped"]
    fields += [f"{field}_{l}" for field in per_layer for l in range(1, L + 1)]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(fields)
    for i, r in enumerate(runs):
        acc = r.get("accuracy") or []
        for k, step in enumerate(r["steps"]):
            row = [run_label(r, i), r["verdict"], step, _get(r["loss"], k), _get(acc, k)]
            row += [_get(r.get(f) or [], k) for f in ("log10_global_grad_norm", "clipped")]
            for field in per_layer:
                values = _row(r, field, k) or []
                row += [_get(values, l) for l in range(L)]
            w.writerow([csv_cell(v) for v in row])
    return buf.getvalue()


# ---------------------------------------------------------------- helpers


def _runs_table(second: str, numbers: list[str]) -> Table:
    """A borderless table: the run's label (folded to fit), ``second``, then the columns
    ``numbers``, right-aligned; none but the label wraps."""
    t = Table(box=None, padding=(0, 1, 0, 0), header_style="bold", pad_edge=False)
    t.add_column("run", overflow="fold", ratio=1)
    t.add_column(second, no_wrap=True)
    for name in numbers:
        t.add_column(name, justify="right", no_wrap=True)
    return t


def _head(d: dict) -> tuple[str, str]:
    """('train 4 configurations over init, gain', the task's description)."""
    runs, axes = d["runs"], d.get("axes") or {}
    over = f" over {', '.join(axes)}" if axes else ""
    head = f"train {len(runs)} configurations{over}" if len(runs) > 1 else "train"
    return head, d.get("task") or str(runs[0]["config"].get("task", "?"))


def _dead_from(r: dict) -> int | None:
    """The first logged step from which every layer's gradient is null (exactly zero in a run
    that did not diverge) through the end; None if there is none."""
    if r.get("nonfinite") or r["verdict"] == "diverged":
        return None
    rows = list(zip(r["steps"], r.get("log10_grad_norm") or [], strict=False))
    first = None
    for step, row in rows:
        if step == 0 or row is None:
            continue
        if all(v is None for v in row):
            first = step if first is None else first
        else:
            first = None
    return first


def _run_notes(r: dict) -> list[str]:
    said = []
    nf, base = r.get("nonfinite"), r.get("baseline_loss")
    E0, Ef = r.get("initial_loss"), r.get("final_loss")
    if r["verdict"] == "diverged":
        if nf:
            what = (
                "the loss became inf/NaN"
                if nf.get("where") == "loss"
                else f"the {nf.get('where')} of layer {nf.get('layer')} became inf/NaN"
            )
            said.append(f"diverged at step {nf.get('step')}: {what}")
        else:
            said.append(f"diverged: the loss grew from {_loss(E0)} to {_loss(Ef)}")
        if E0 is not None and base and E0 > 100 * base:
            said.append(f"its initial loss {_loss(E0)} was already far above the constant "
                        f"prediction's {_loss(base)}")  # fmt: skip
    hidden = set(range(1, r["config"]["depth"]))
    sym = set(r.get("symmetric_layers") or [])
    if hidden and sym >= hidden:
        text = (
            "symmetry never broken: the units of every hidden layer are identical (all of a "
            "layer's weights started equal, so every unit computed the same output and got "
            "the same gradient)"
        )
        grads = [v for row in r.get("log10_grad_norm") or [] if row for v in row]
        if grads and all(v is None for v in grads):
            text += ", and every gradient is exactly zero: nothing moved"
        said.append(text)
    elif sym:
        which = ", ".join(map(str, sorted(sym)))
        s = "s" if len(sym) > 1 else ""
        said.append(f"layer{s} {which} never broke symmetry (identical units)")
    dead = _dead_from(r)
    if dead is not None and not (hidden and sym >= hidden):
        said.append(f"from step {dead} on every weight gradient is exactly zero: all units of a "
                    "layer output 0 for every input (dead ReLUs), so only the read-out bias "
                    "can still move")  # fmt: skip
    if r["verdict"] == "stalled":
        acc, classes = r.get("final_accuracy"), r["config"]["widths"][-1]
        if acc is not None and acc > 1 / classes + 0.1:  # (the tasks' classes are balanced)
            said.append(f"stalled: the loss barely moved from the constant prediction's "
                        f"({_loss(base)}) although {acc:.0%} of the samples are classified "
                        "right: the logits are tiny but of the right sign")  # fmt: skip
        elif Ef is not None and base and abs(Ef - base) <= _AT_BASELINE * base:
            what = "class frequencies" if r.get("accuracy") is not None else "mean target"
            said.append(f"stalled at the constant prediction's loss ({_loss(base)}): no "
                        f"better than always predicting the {what}")  # fmt: skip
        else:
            said.append(f"stalled: the loss went only from {_loss(E0)} to {_loss(Ef)} "
                        f"(constant prediction: {_loss(base)})")  # fmt: skip
    return said


def _loss(v: float | None) -> str:
    return "—" if v is None else f"{v:.4g}"


def _e(log10v: float | None) -> str:
    """10^log10v to one significant digit: '3e-2', '1e0'; '—' for null."""
    return pow10(log10v, style="short", digits=1, plain=None)


def _row(r: dict, field: str, k: int) -> list | None:
    rows = r.get(field) or []
    return rows[k] if k < len(rows) else None


def _at(per_layer: list | None, l: int) -> float | None:
    """Layer l's value (1-based) of a per-layer list, None if missing."""
    return _get(per_layer or [], l - 1)


def _get(values: list, k: int):
    return values[k] if k < len(values) else None
