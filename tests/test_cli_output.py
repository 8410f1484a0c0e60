"""What the CLI says and writes: formats from --output's extension, names as users spell
them, click's messages in gradsim's one-line form, --plot and --fail-on saying what
happened."""

import json

import pytest

from gradsim.config import DTYPES, canonical_dtype, dtype_aliases
from gradsim.errors import GradsimError

SMALL = ("--depth", 4, "--width", 8, "--batch", 8)


def one_error_line(r) -> str:
    assert r.exit_code == 2, r.stdout + r.stderr
    err = r.stderr.strip()
    assert len(err.splitlines()) == 1 and err.startswith("gradsim: error: "), err
    assert "Traceback" not in err
    return err


# ---------------------------------------------------------------- help and click's errors


def test_no_arguments_shows_the_help_not_an_error(invoke):
    r = invoke()
    assert r.exit_code == 0
    assert "Usage:" in r.stdout and "Commands:" in r.stdout
    assert "error" not in (r.stdout + r.stderr).lower()


@pytest.mark.parametrize(
    "args, words",
    [
        (("run", "--depth", "x"), "invalid value for '--depth'"),
        (("run", "--bogus"), "no such option"),
        (("nosuch",), "no such command"),
        (("plot",), "missing argument"),
        (("compare", "--max-configs", "0"), "invalid value for '--max-configs'"),
    ],
)
def test_click_errors_take_gradsims_form(invoke, args, words):
    err = one_error_line(invoke(*args))
    text = err.removeprefix("gradsim: error: ")
    assert text[0].islower() and not text.endswith("."), err
    assert words in text, err


# ---------------------------------------------------------------- names


@pytest.mark.parametrize(
    "alias, dtype",
    [("fp16", "float16"), ("half", "float16"), ("fp32", "float32"), ("single", "float32"),
     ("fp64", "float64"), ("double", "float64"), ("FP64", "float64")],
)  # fmt: skip
def test_dtype_aliases(invoke, alias, dtype):
    r = invoke("run", *SMALL, "--dtype", alias, "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["config"]["dtype"] == dtype
    r = invoke("compare", *SMALL, "--dtype", f"{alias},float32", "--format", "json")
    assert r.exit_code == 0, r.stderr
    dtypes = [run["config"]["dtype"] for run in json.loads(r.stdout)["runs"]]
    assert dtype in dtypes


def test_bf16_only_once_bfloat16_exists():
    assert ("bf16" in dtype_aliases()) == ("bfloat16" in DTYPES)
    if "bfloat16" in DTYPES:
        assert canonical_dtype("bf16") == "bfloat16"
    else:
        with pytest.raises(GradsimError):
            canonical_dtype("bf16")


@pytest.mark.parametrize("spelt, mode", [("fan-out", "fan_out"), ("FAN_IN", "fan_in"),
                                          ("Fan-Avg", "fan_avg")])  # fmt: skip
def test_modes_spelt_like_activations(invoke, spelt, mode):
    for cmd in ("run", "compare"):
        r = invoke(cmd, *SMALL, "--mode", spelt, "--format", "json")
        assert r.exit_code == 0, r.stderr
        d = json.loads(r.stdout)
        cfg = d["config"] if cmd == "run" else d["runs"][0]["config"]
        assert cfg["mode"] == mode


@pytest.mark.parametrize("name", ["reluu", "relu6", "Relu"])
def test_close_names_suggest_or_resolve(invoke, name):
    r = invoke("run", *SMALL, "--act", name, "--format", "json")
    if name == "Relu":
        assert r.exit_code == 0
        return
    err = one_error_line(r)
    assert "did you mean 'relu'?" in err


@pytest.mark.parametrize("args", [("--act", "mish"), ("--init", "zzz"), ("--dtype", "int8"),
                                  ("--mode", "fan_middle_out")])  # fmt: skip
def test_far_names_list_the_choices(invoke, args):
    err = one_error_line(invoke("run", *SMALL, *args))
    assert "did you mean" not in err and "choose from" in err, err
    if args[1] == "mish":
        assert "swish" in err and "relu" in err and "tanh" in err  # the list, not a guess
    if args[0] in ("--dtype", "--mode"):
        assert args[0] in err


# ---------------------------------------------------------------- formats


@pytest.mark.parametrize("cmd", ["run", "compare"])
def test_output_format_from_the_extension(invoke, tmp_path, cmd):
    j, c, t = tmp_path / "out.json", tmp_path / "out.csv", tmp_path / "out.txt"
    for path in (j, c, t):
        r = invoke(cmd, *SMALL, "-o", path)
        assert r.exit_code == 0, r.stderr
    assert json.loads(j.read_text())["gradsim"]
    header = c.read_text().splitlines()[0].split(",")
    assert ("layer" in header) if cmd == "run" else ("verdict" in header)
    assert "verdict" in t.read_text() and not t.read_text().startswith("{")


def test_format_conflicting_with_the_extension_is_refused(invoke, tmp_path):
    out = tmp_path / "out.json"
    err = one_error_line(invoke("run", *SMALL, "--format", "csv", "-o", out))
    assert "--format csv" in err and "out.json" in err
    assert not out.exists()
    # an extension that names no format keeps --format, or the table
    r = invoke("run", *SMALL, "--format", "json", "-o", tmp_path / "run.out")
    assert r.exit_code == 0 and json.loads((tmp_path / "run.out").read_text())
    # a format the command does not write
    err = one_error_line(invoke("theory", "-o", tmp_path / "t.csv"))
    assert "csv" in err and not (tmp_path / "t.csv").exists()


# ---------------------------------------------------------------- say what happened


@pytest.mark.parametrize("cmd", ["run", "compare"])
def test_plot_says_where_the_figure_went(invoke, tmp_path, cmd):
    fig = tmp_path / "fig.png"
    r = invoke(cmd, *SMALL, "--format", "json", "--plot", fig)
    assert r.exit_code == 0 and fig.exists()
    assert f"figure: {fig}" in r.stderr
    json.loads(r.stdout)  # stdout stays the JSON alone


def test_fail_on_says_why(invoke):
    r = invoke("run", "--depth", 60, "--width", 16, "--init", "xavier", "--fail-on", "vanishing")
    assert r.exit_code == 3
    assert "--fail-on vanishing" in r.stderr and "vanishing" in r.stderr
    r = invoke("run", *SMALL, "--fail-on", "vanishing")
    assert r.exit_code == 0 and "--fail-on" not in r.stderr


# ---------------------------------------------------------------- numbers in the table


def test_grad_to_weight_ratio_beyond_float64(invoke, tmp_path):
    """--init normal at L = 152: ‖∂E/∂W_1‖ ≈ 1e320, ‖W_1‖ ≈ n = 256, so the ratio (≈ 1e318) is
    beyond float64; the table shows it (from log space), checked against ‖W‖ computed from
    the saved weights."""
    import numpy as np

    args = ("run", "--init", "normal", "--depth", 152, "--width", 256, "--batch", 16,
            "--all-layers", "--dtype", "float64")  # fmt: skip
    net = tmp_path / "net.npz"
    r = invoke(*args, "--format", "json", "--save-net", net)
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    table = invoke(*args).stdout
    rows = {int(ln.split()[0]): ln.split() for ln in table.splitlines()
            if ln.strip()[:1].isdigit()}  # fmt: skip
    W = np.load(net)
    checked = 0
    for row in d["layers"]:
        l = row["layer"]
        want = row["log10_grad_norm"] - np.log10(np.linalg.norm(W[f"W{l}"]))
        shown = rows[l][4]  # layer, act rms, δ rms, ‖∂E/∂W‖, ‖∂W‖/‖W‖
        assert shown != "inf", rows[l]
        mant, exp = shown.split("e")
        assert float(exp) + np.log10(float(mant)) == pytest.approx(want, abs=0.03), (l, shown)
        checked += want > 308
    assert checked > 0  # some ratios are beyond float64's range


# ---------------------------------------------------------------- CSV


def test_csv_booleans_and_widths(invoke):
    import csv
    import io

    r = invoke("run", *SMALL, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert {row["finite"] for row in rows} == {"true"} and {row["overflow"] for row in rows} == {
        "false"
    }
    r = invoke("compare", "--widths", "8,6,4", "--batch", 4, "--init", "he,xavier",
               "--format", "csv")  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [row["widths"] for row in rows] == ["8x6x4", "8x6x4"]
    assert [int(n) for n in rows[0]["widths"].split("x")] == [8, 6, 4]
    assert rows[0]["residual"] == "false" and rows[0]["symmetric"] == "false"
    r = invoke("train", "--depth", 3, "--width", 8, "--steps", 2, "--clip-norm", 1e-3,
               "--format", "csv")  # fmt: skip
    assert r.exit_code == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert {row["clipped"] for row in rows} <= {"true", "false", ""}
    assert "true" in {row["clipped"] for row in rows}
    assert "True" not in r.stdout and "False" not in r.stdout


# ---------------------------------------------------------------- list


def test_list_json_is_the_registries(invoke, tmp_path):
    from gradsim.activations import ACTIVATIONS, canonical_activation
    from gradsim.initializers import INITIALIZERS, canonical_init

    r = invoke("list", "--format", "json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["kind"] == "list"
    assert [i["name"] for i in d["initializers"]] == list(INITIALIZERS)
    assert [a["name"] for a in d["activations"]] == list(ACTIVATIONS)
    assert [t["name"] for t in d["dtypes"]] == list(DTYPES)
    for rec in d["initializers"]:
        assert all(canonical_init(a) == rec["name"] for a in rec["aliases"])
    for rec in d["activations"]:
        assert all(canonical_activation(a) == rec["name"] for a in rec["aliases"])
    for rec in d["dtypes"]:
        assert all(canonical_dtype(a) == rec["name"] for a in rec["aliases"])
    assert {"fp16", "half"} <= set(
        next(t for t in d["dtypes"] if t["name"] == "float16")["aliases"]
    )
    # -o list.json: the format from the extension
    assert invoke("list", "-o", tmp_path / "list.json").exit_code == 0
    assert json.loads((tmp_path / "list.json").read_text()) == d
    assert "initializers" in invoke("list").stdout


# ---------------------------------------------------------------- headers tell the truth

NON_DEFAULT = [
    (dict(init="he", mode="fan_out"), ["he_normal fan_out"]),
    (dict(init="normal", std=0.05, truncated=True, gain=2.0), ["normal γ=2 std=0.05 truncated"]),
    (dict(init="xavier", bias_init="normal", bias_std=0.2), ["bias normal σ_b=0.2"]),
    (dict(init="he", bias_init="constant", bias_value=0.5), ["bias constant 0.5"]),
]


def _figure_text(fig) -> str:
    texts = [t.get_text() for t in fig.texts]
    texts += [ax.get_title(loc) for ax in fig.axes for loc in ("left", "center", "right")]
    return " ".join(texts)


@pytest.mark.parametrize("kw, words", NON_DEFAULT)
def test_non_default_options_show_everywhere(kw, words):
    import gradsim
    from gradsim.report.tables.run import title

    r = gradsim.simulate(depth=4, width=8, batch=8, **kw)
    plain = gradsim.simulate(depth=4, width=8, batch=8, init=kw["init"])
    for word in words:
        assert word in title(r) and word in repr(r)
        assert word in _figure_text(r.figure())
        assert word not in title(plain) and word not in repr(plain)
    c = gradsim.compare(depth=4, width=8, batch=8, act="relu,tanh", **kw)
    assert all(w in _figure_text(c.figure()) for w in words)


def test_default_mode_is_not_news():
    import gradsim
    from gradsim.report.tables.run import title

    # he_normal's own mode is fan_in: saying it adds nothing
    r = gradsim.simulate(depth=4, width=8, batch=8, init="he", mode="fan_in")
    assert "fan_in" not in title(r)


# ---------------------------------------------------------------- progress

PROGRESS_CMDS = [
    ("compare", *SMALL, "--init", "he,xavier,normal", "--act", "relu,tanh"),
    ("spectrum", "--depth", 6, "--width", 8),
    ("phase", "--grid", 4, "-o", "{tmp}/phase.png"),
]


def _args(cmd, tmp_path):
    return [str(a).replace("{tmp}", str(tmp_path)) for a in cmd]


@pytest.mark.parametrize("cmd", PROGRESS_CMDS, ids=lambda c: c[0])
def test_no_progress_off_a_terminal(cmd, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from gradsim.cli import cli, progress

    monkeypatch.setattr(progress, "DELAY", 0.0)  # a bar would show at once
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("CI", raising=False)
    r = CliRunner().invoke(cli, _args(cmd, tmp_path), catch_exceptions=False)
    assert r.exit_code == 0, r.stderr
    assert "━" not in r.stderr and "\x1b" not in r.stderr and "0:00" not in r.stderr


@pytest.mark.parametrize("cmd", PROGRESS_CMDS, ids=lambda c: c[0])
def test_progress_on_a_terminal(cmd, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from gradsim.cli import cli, progress

    monkeypatch.setattr(progress, "DELAY", 0.0)
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich: stderr is a terminal
    monkeypatch.delenv("CI", raising=False)
    r = CliRunner().invoke(cli, _args(cmd, tmp_path), catch_exceptions=False)
    assert r.exit_code == 0, r.stderr
    assert "━" in r.stderr and cmd[0] in r.stderr  # the bar, named
    if cmd[0] != "phase":
        assert "0:00" in r.stderr  # the elapsed time column


def test_quick_work_shows_no_bar(monkeypatch):
    """Below DELAY seconds nothing is drawn even on a terminal."""
    import io

    from gradsim.cli import progress

    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(progress, "DELAY", 3600.0)
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    with progress.progress(3, "quick") as advance:
        for _ in range(3):
            advance(1)
    assert err.getvalue() == ""


def test_export_format_from_the_extension(invoke, tmp_path):
    out = tmp_path / "s"
    r = invoke("sweep", *SMALL, "--depth", "3,4", "--seeds", 1, "--out", out, "--jobs", 1)
    assert r.exit_code == 0, r.stderr
    assert invoke("export", out, "-o", tmp_path / "runs.json").exit_code == 0
    assert json.loads((tmp_path / "runs.json").read_text())["kind"] == "sweep-records"
    assert invoke("export", out, "-o", tmp_path / "runs.csv").exit_code == 0
    assert (tmp_path / "runs.csv").read_text().startswith("run,replica,seed,")
    err = one_error_line(invoke("export", out, "--format", "csv", "-o", tmp_path / "x.json"))
    assert "--format csv" in err
