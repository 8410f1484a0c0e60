"""A sweep's records as CSV (one row per run, or per run and layer) or JSON, for pandas.

``pandas.read_csv`` reads both CSV forms directly (empty cells are NaN);
``pandas.json_normalize(json.load(f)["records"])`` flattens the JSON.
"""

from __future__ import annotations

import csv
import io

from gradsim._version import __version__
from gradsim.report.export import SUMMARY_FIELDS, csv_cell, to_json

RUN_FIELDS = ("run", "replica", "seed")  # run: the row's number, 1 first, the join key


def _config_keys(records: list[dict]) -> list[str]:
    keys = list(records[0]["config"]) if records else []
    return [k for k in keys if k not in ("seed", "widths")] + (["widths"] if keys else [])


def records_csv(records: list[dict]) -> str:
    """One row per run: its number (``run``, 1 first, in the order of ``records``),
    replica, seed, every config option, the summary's scalars."""
    cfg_keys = _config_keys(records)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*RUN_FIELDS, *cfg_keys, *SUMMARY_FIELDS, "nonfinite_pass", "nonfinite_layer"])
    for i, r in enumerate(records, start=1):
        c, s = r["config"], r["summary"]
        nf = s.get("nonfinite") or {}
        row = [i, r["replica"], r["seed"], *(c[k] for k in cfg_keys)]
        row += [s.get(k) for k in SUMMARY_FIELDS] + [nf.get("pass"), nf.get("layer")]
        w.writerow([csv_cell(v) for v in row])
    return buf.getvalue()


def layers_csv(records: list[dict]) -> str:
    """One row per run and layer: the run's number (``run``, as ``records_csv`` numbers the
    same records: its configuration is there, once), layer, and the per-layer log10 norms
    (long form, for grouping and plotting; join the two on ``run``)."""
    fields = list(records[0]["layers"]) if records else []
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["run", "layer", *fields])
    for i, r in enumerate(records, start=1):
        cols = [r["layers"][f] for f in fields]
        for layer, vals in enumerate(zip(*cols, strict=True), start=1):
            w.writerow([csv_cell(v) for v in (i, layer, *vals)])
    return buf.getvalue()


def records_json(records: list[dict]) -> str:
    """``{"gradsim", "kind": "sweep-records", "records": [{replica, seed, config, summary,
    layers}]}``; the point key (the config without its seed) is left out."""
    keep = ("replica", "seed", "config", "summary", "layers", "gradsim")
    return to_json({"gradsim": __version__, "kind": "sweep-records",
                    "records": [{k: r[k] for k in keep} for r in records]})  # fmt: skip
