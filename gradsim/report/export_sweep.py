"""A sweep's records as CSV (one row per run, or per run and layer) or JSON, for pandas.

``pandas.read_csv`` reads both CSV forms directly (empty cells are NaN);
``pandas.json_normalize(json.load(f)["records"])`` flattens the JSON.
"""

from __future__ import annotations

import csv
import io

from gradsim._version import __version__
from gradsim.report.export import SUMMARY_FIELDS, to_json

RUN_FIELDS = ("replica", "seed")


def _config_keys(records: list[dict]) -> list[str]:
    keys = list(records[0]["config"]) if records else []
    return [k for k in keys if k not in ("seed", "widths")] + (["widths"] if keys else [])


def _cell(v):
    if v is None:
        return ""
    if isinstance(v, list):
        return " ".join(map(str, v))
    return v


def records_csv(records: list[dict]) -> str:
    """One row per run: replica, seed, every config option, the summary's scalars."""
    cfg_keys = _config_keys(records)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*RUN_FIELDS, *cfg_keys, *SUMMARY_FIELDS, "nonfinite_pass", "nonfinite_layer"])
    for r in records:
        c, s = r["config"], r["summary"]
        nf = s.get("nonfinite") or {}
        row = [r["replica"], r["seed"], *(c[k] for k in cfg_keys)]
        row += [s.get(k) for k in SUMMARY_FIELDS] + [nf.get("pass"), nf.get("layer")]
        w.writerow([_cell(v) for v in row])
    return buf.getvalue()


def layers_csv(records: list[dict]) -> str:
    """One row per run and layer: the options that differ between the runs, replica, seed,
    layer, and the per-layer log10 norms (long form, for grouping and plotting)."""
    cfg_keys = [k for k in _config_keys(records)
                if len({str(r["config"][k]) for r in records}) > 1]  # fmt: skip
    fields = list(records[0]["layers"]) if records else []
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*cfg_keys, *RUN_FIELDS, "layer", *fields])
    for r in records:
        head = [r["config"][k] for k in cfg_keys] + [r["replica"], r["seed"]]
        cols = [r["layers"][f] for f in fields]
        for layer, vals in enumerate(zip(*cols, strict=True), start=1):
            w.writerow([_cell(v) for v in (*head, layer, *vals)])
    return buf.getvalue()


def records_json(records: list[dict]) -> str:
    """``{"gradsim", "kind": "sweep-records", "records": [{replica, seed, config, summary,
    layers}]}``; the point key (the config without its seed) is left out."""
    keep = ("replica", "seed", "config", "summary", "layers", "gradsim")
    return to_json({"gradsim": __version__, "kind": "sweep-records",
                    "records": [{k: r[k] for k in keep} for r in records]})  # fmt: skip
