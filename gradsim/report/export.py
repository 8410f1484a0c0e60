"""JSON, CSV and NPZ output, written whole or not at all (gradsim.files)."""

from __future__ import annotations

import csv
import io
import json

import numpy as np

from gradsim.files import check_writable, write_atomic

LAYER_FIELDS = (
    "layer", "fan_in", "fan_out", "weight_std", "z_mean", "z_std", "act_mean", "act_std",
    "act_rms", "log10_act_rms", "saturated_frac", "dead_frac", "delta_rms", "log10_delta_rms",
    "grad_norm", "log10_grad_norm", "grad_to_weight", "finite", "underflow", "overflow",
    "delta_zero_frac", "log10_delta_max", "underflowed",
)  # fmt: skip


def to_json(result_dict: dict) -> str:
    return json.dumps(result_dict, indent=2, allow_nan=False, ensure_ascii=False) + "\n"


def csv_cell(v):
    """One CSV cell: empty for null, booleans as true/false (as JSON writes them), a list
    of widths as '512x512x10' (``[int(n) for n in cell.split("x")]`` reads it back)."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return "x".join(map(str, v))
    return v


def to_csv(result_dict: dict) -> str:
    """One row per layer, the JSON's layer fields as columns (then any others the rows
    carry, such as the mean-field predictions of --theory); empty cells for null."""
    rows = result_dict["layers"]
    fields = [*LAYER_FIELDS, *(k for k in (rows[0] if rows else {}) if k not in LAYER_FIELDS)]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(fields)
    for row in rows:
        w.writerow([csv_cell(row[k]) for k in fields])
    return buf.getvalue()


def save_network(path, net, config_dict: dict) -> None:
    """weights W1..WL (fan_in, fan_out), biases b1..bL, inputs X, targets T (if any) and the
    config as JSON: enough for any framework to rebuild and rerun the same pass."""
    arrays = {f"W{l}": W for l, W in enumerate(net.W, start=1)}
    arrays |= {f"b{l}": b for l, b in enumerate(net.b, start=1)}
    arrays["X"] = net.X
    if net.T is not None:
        arrays["T"] = net.T
    arrays["config"] = np.array(json.dumps(config_dict))
    save_npz(path, arrays)


def save_npz(path, arrays: dict) -> None:
    """``np.savez`` of ``arrays``, written whole or not at all."""
    write_atomic(path, writer=lambda f: np.savez(f, **arrays))


def save_runs(paths, runs) -> None:
    """Each training run (trained with ``record=True``) to its file (one per path, as
    ``gradsim.training.runfile.run_paths`` names them): the layout of
    ``gradsim.training.runfile``."""
    from gradsim.training.runfile import arrays

    for path, run in zip(paths, runs, strict=False):
        save_npz(path, arrays(run))


SUMMARY_FIELDS = (
    "verdict", "forward", "backward", "log10_delta_ratio", "log10_act_ratio",
    "log10_grad_ratio", "growth_per_layer", "act_growth_per_layer", "first_bad_layer",
    "mean_saturated_frac", "mean_dead_frac", "symmetric",
)  # fmt: skip


def compare_csv(d: dict) -> str:
    """One row per configuration: its resolved config, then its summary's scalars."""
    runs = d["runs"]
    cfg_keys = [k for k in runs[0]["config"] if k != "widths"] + ["widths"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*cfg_keys, *SUMMARY_FIELDS, "nonfinite_pass", "nonfinite_layer"])
    for r in runs:
        c, s = r["config"], r["summary"]
        nf = s["nonfinite"] or {}
        row = [c[k] for k in cfg_keys]
        row += [s[k] for k in SUMMARY_FIELDS] + [nf.get("pass"), nf.get("layer")]
        w.writerow([csv_cell(v) for v in row])
    return buf.getvalue()


__all__ = [
    "check_writable",
    "compare_csv",
    "csv_cell",
    "save_network",
    "to_csv",
    "to_json",
    "write_atomic",
]
