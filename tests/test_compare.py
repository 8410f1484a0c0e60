"""gradsim compare: the cartesian product, run with the same seed and input as separate runs."""

import csv
import io
import json

import pytest

import gradsim
from gradsim.options import OPTIONS, parse_axis

SMALL = ("--depth", 8, "--width", 16, "--batch", 8)


def compare_json(invoke, *args):
    r = invoke("compare", *SMALL, *args, "--format", "json")
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def test_product_equals_separate_runs(invoke):
    d = compare_json(invoke, "--init", "he,xavier,normal", "--act", "relu,tanh", "--seed", 4)
    assert d["kind"] == "compare"
    assert d["axes"] == {"activation": ["relu", "tanh"],
                         "init": ["he_normal", "xavier_uniform", "normal"]}  # fmt: skip
    pairs = [(r["config"]["activation"], r["config"]["init"]) for r in d["runs"]]
    assert pairs == [(a, i) for a in ("relu", "tanh")
                     for i in ("he_normal", "xavier_uniform", "normal")]  # fmt: skip
    for run in d["runs"]:
        c = run["config"]
        alone = invoke("run", *SMALL, "--init", c["init"], "--act", c["activation"],
                       "--seed", 4, "--format", "json")  # fmt: skip
        assert json.loads(alone.stdout) == run


def test_same_input_batch_for_every_configuration():
    # equal n_0, B and seed: the nets see identical inputs, so layer-0 statistics agree
    a = gradsim.simulate(depth=3, width=16, batch=8, init="he")
    b = gradsim.simulate(depth=3, width=16, batch=8, init="xavier", act="tanh")
    assert a.summary.log10_act_ratio - a.layers[-1].log10_act_rms == pytest.approx(
        b.summary.log10_act_ratio - b.layers[-1].log10_act_rms
    )


def test_ranges_and_numbers(invoke):
    d = compare_json(invoke, "--gain", "0.5:1.5:3", "--depth", "2,4")
    assert d["axes"] == {"depth": [2, 4], "gain": [0.5, 1.0, 1.5]}
    assert len(d["runs"]) == 6
    assert sorted({r["config"]["depth"] for r in d["runs"]}) == [2, 4]


def test_parse_axis():
    opt = {o.dest: o for o in OPTIONS}
    assert parse_axis(opt["depth"], "10:50:3") == [10, 30, 50]
    assert parse_axis(opt["gain"], "1, 2,1") == [1.0, 2.0]
    assert parse_axis(opt["init"], "he,xavier") == ["he", "xavier"]


def test_table_sorted_stable_first_and_fits(invoke):
    r = invoke("compare", "--depth", 40, "--width", 32, "--batch", 16,
               "--init", "xavier,normal,he")  # fmt: skip
    assert r.exit_code == 0
    lines = r.stdout.splitlines()
    assert max(map(len, lines)) <= 80
    rows = [ln.split()[0] for ln in lines if ln.split() and ln.split()[0] in
            ("he_normal", "xavier_uniform", "normal")]  # fmt: skip
    assert rows[0] == "he_normal" and rows[-1] == "normal"


def test_csv_one_row_per_configuration(invoke):
    r = invoke("compare", *SMALL, "--init", "he,xavier", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [row["init"] for row in rows] == ["he_normal", "xavier_uniform"]
    assert all(row["verdict"] in ("stable", "vanishing", "exploding", "overflow") for row in rows)


@pytest.mark.parametrize(
    "args, words",
    [
        (("--init", "he,xavir"), "xavier"),
        (("--depth", "5,x"), "--depth"),
        (("--gain", "1:2:0"), "count"),
        (("--gain", "1:2"), "start:stop:count"),
        (("--init", ","), "empty"),
        (("--init", "he,xavier,normal", "--act", "relu,tanh", "--max-configs", 5), "6"),
        (("--dtype", "float32,int8"), "--dtype"),
    ],
)
def test_bad_lists(invoke, args, words):
    r = invoke("compare", *SMALL, *args)
    assert r.exit_code == 2
    assert len(r.stderr.strip().splitlines()) == 1 and words in r.stderr
