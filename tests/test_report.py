"""Rendering: number formatting, layer sampling, the table's width, README tables."""

import math
import re
from pathlib import Path

import pytest

import gradsim
from gradsim.cli._console import render_text
from gradsim.report.tables.common import sci, sparkline
from gradsim.report.tables.run import render_run, sample_layers

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "log10v, text",
    [(0.0, "1.0e+00"), (-23.09, "8.1e-24"), (400.3, "2.0e+400"), (math.log10(9.99), "1.0e+01"),
     (-math.inf, "0"), (math.nan, "—"), (None, "—")],
)  # fmt: skip
def test_sci(log10v, text):
    assert sci(log10v) == text


def test_sample_always_has_first_last_and_worst():
    r = gradsim.simulate(depth=60, width=32, batch=16, init="xavier")
    ids = sample_layers(r)
    ld = r.column("log10_delta_rms")
    worst = int(abs(ld - ld[-1]).argmax()) + 1
    assert {1, 60, worst} <= set(ids) and len(ids) <= 18 and ids == sorted(set(ids))


def test_sparkline_follows_the_values():
    s = sparkline([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])
    assert s == "▁▂▃▄▅▆▇█"
    assert len(sparkline(list(range(500)), width=40)) == 40


@pytest.mark.parametrize("act", ["relu", "tanh", "elu"])
@pytest.mark.parametrize("init", ["he", "normal", "zeros"])
def test_rendering_fits_80_columns(act, init):
    r = gradsim.simulate(depth=40, width=32, batch=16, init=init, act=act, dtype="float16")
    text = render_text(render_run(r), width=80)
    assert max(map(len, text.splitlines())) <= 80
    assert r.summary.verdict.upper() in text


def test_readme_tables_list_every_registry_entry():
    readme = (ROOT / "docs" / "network.md").read_text()  # the tables moved out of the README
    for name, rec in gradsim.INITIALIZERS.items():
        assert re.search(rf"\| `{name}` \| {re.escape(rec.formula)} \|", readme), name
    for name, rec in gradsim.ACTIVATIONS.items():
        assert f"`{name}`" in readme and rec.formula in readme, name
