"""The CLI, driven through click's CliRunner: every option, every bad input."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import gradsim
from gradsim.initializers import INIT_ALIASES, INITIALIZERS
from gradsim.report.export import LAYER_FIELDS

SMALL = ("--depth", 6, "--width", 16, "--batch", 8)


def run_json(invoke, *args):
    r = invoke("run", *SMALL, *args, "--format", "json")
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def test_version(invoke):
    r = invoke("--version")
    assert r.exit_code == 0 and gradsim.__version__ in r.stdout


def test_run_table_fits_80_columns(invoke):
    r = invoke("run", "--depth", 40, "--width", 32)
    assert r.exit_code == 0
    lines = r.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "verdict" in r.stdout and "summary" in r.stdout
    # sampled by default: fewer rows than layers, but layers 1 and 40 shown
    rows = [ln.split()[0] for ln in lines if ln[:5].strip().isdigit()]
    assert "1" in rows and "40" in rows and len(rows) < 40
    r = invoke("run", "--depth", 40, "--width", 32, "--all-layers")
    rows = [ln.split()[0] for ln in r.stdout.splitlines() if ln[:5].strip().isdigit()]
    assert rows == [str(i) for i in range(1, 41)]


def test_json_contract(invoke):
    d = run_json(invoke)
    assert d["gradsim"] == gradsim.__version__ and d["kind"] == "run"
    for key in ("depth", "widths", "batch", "activation", "init", "gain", "mode", "bias_init",
                "loss", "seed", "dtype", "threshold"):  # fmt: skip
        assert key in d["config"], key
    assert d["config"]["init"] == "he_normal" and d["config"]["mode"] == "fan_in"
    assert len(d["layers"]) == 6
    assert [row["layer"] for row in d["layers"]] == list(range(1, 7))
    assert set(LAYER_FIELDS) <= set(d["layers"][0])
    for key in ("forward", "backward", "verdict", "act_ratio", "log10_act_ratio", "delta_ratio",
                "log10_delta_ratio", "grad_ratio", "log10_grad_ratio", "growth_per_layer",
                "first_bad_layer", "nonfinite"):  # fmt: skip
        assert key in d["summary"], key
    s = d["summary"]
    L = d["layers"]
    assert s["log10_delta_ratio"] == pytest.approx(
        L[0]["log10_delta_rms"] - L[-1]["log10_delta_rms"]
    )
    assert s["log10_grad_ratio"] == pytest.approx(
        L[0]["log10_grad_norm"] - L[-1]["log10_grad_norm"]
    )
    assert s["delta_ratio"] == pytest.approx(10 ** s["log10_delta_ratio"])


def test_json_matches_api(invoke):
    d = run_json(invoke, "--init", "xavier", "--act", "tanh", "--seed", 3)
    api = gradsim.simulate(depth=6, width=16, batch=8, init="xavier", act="tanh", seed=3)
    assert d == json.loads(json.dumps(api.to_dict()))


def test_csv(invoke):
    r = invoke("run", *SMALL, "--format", "csv")
    lines = r.stdout.strip().splitlines()
    assert lines[0].split(",") == list(LAYER_FIELDS)
    assert len(lines) == 7


@pytest.mark.parametrize("name", [*INITIALIZERS, *INIT_ALIASES])
def test_every_init_name_runs(invoke, name):
    d = run_json(invoke, "--init", name)
    assert d["config"]["init"] == INIT_ALIASES.get(name, name)


@pytest.mark.parametrize("act", list(gradsim.ACTIVATIONS))
def test_every_activation_runs(invoke, act):
    d = run_json(invoke, "--act", act)
    assert d["config"]["activation"] == act
    assert d["summary"]["verdict"] in ("stable", "vanishing", "exploding", "overflow")


@pytest.mark.parametrize(
    "args, key, expected",
    [
        (("--gain", 2.0), "gain", 2.0),
        (("--init", "he", "--mode", "fan_out"), "mode", "fan_out"),
        (("--init", "normal", "--std", 0.05), "std", 0.05),
        (("--init", "uniform", "--low", -0.2, "--high", 0.3), "high", 0.3),
        (("--init", "constant", "--value", 0.3), "value", 0.3),
        (("--init", "he", "--truncated"), "truncated", True),
        (("--bias-init", "normal", "--bias-std", 0.2), "bias_std", 0.2),
        (("--bias-init", "constant", "--bias-value", 0.5), "bias_value", 0.5),
        (("--loss", "probe"), "loss", "probe"),
        (("--loss", "sum"), "loss", "sum"),
        (("--seed", 7), "seed", 7),
        (("--dtype", "float64"), "dtype", "float64"),
        (("--dtype", "float16"), "dtype", "float16"),
        (("--threshold", 10), "threshold", 10.0),
        (("--act", "leaky_relu", "--slope", 0.2), "slope", 0.2),
        (("-b", 4), "batch", 4),
        (("--activation", "tanh"), "activation", "tanh"),
    ],
)
def test_options_reach_config(invoke, args, key, expected):
    d = run_json(invoke, *args)
    assert d["config"][key] == expected


def test_options_change_numbers(invoke):
    base = run_json(invoke)["layers"][0]["log10_act_rms"]
    assert run_json(invoke, "--gain", 2)["layers"][0]["log10_act_rms"] == pytest.approx(
        base + np.log10(2), abs=1e-5
    )
    assert run_json(invoke, "--seed", 1)["layers"][0]["log10_act_rms"] != base
    torch = run_json(invoke, "--init", "torch_default")
    assert torch["config"]["bias_init"] == "uniform"


def test_widths_and_depth(invoke):
    r = invoke("run", "--widths", "20,16,8,4", "--batch", 8, "--format", "json")
    d = json.loads(r.stdout)
    assert d["config"]["depth"] == 3
    assert [(x["fan_in"], x["fan_out"]) for x in d["layers"]] == [(20, 16), (16, 8), (8, 4)]
    r = invoke("run", "-L", 3, "-n", 10, "--format", "json")
    assert json.loads(r.stdout)["config"]["widths"] == [10] * 4


@pytest.mark.parametrize(
    "args, words",
    [
        (("--depth", 0), "--depth"),
        (("--width", -3), "--width"),
        (("--batch", 0), "--batch"),
        (("--widths", "4,4", "--depth", 3), "--widths"),
        (("--widths", "4,x"), "--widths"),
        (("--widths", "4,0,3"), "width"),
        (("--init", "kaimnig"), "kaiming"),
        (("--act", "rleu"), "relu"),
        (("--init", "normal", "--std", -1), "--std"),
        (("--init", "uniform", "--low", 1, "--high", 1), "--low"),
        (("--bias-std", -0.1), "--bias-std"),
        (("--mode", "fan_out", "--init", "normal"), "--mode"),
        (("--slope", 0.1), "--slope"),
        (("--threshold", 1), "--threshold"),
        (("--seed", -1), "--seed"),
        (("--depth", "abc"), "--depth"),
        (("--dtype", "int8"), "--dtype"),
        (("--fail-on", "exploded"), "--fail-on"),
        (("--gain", "nan"), "--gain"),
        (("--no-such-option",), "no-such-option"),
        (("--save-net", "x.txt"), ".npz"),
    ],
)
def test_bad_input_one_line_exit_2(invoke, args, words):
    r = invoke("run", *SMALL, *args)
    assert r.exit_code == 2
    err = r.stderr.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("gradsim: error:") and words in err
    assert "Traceback" not in r.output


def test_memory_estimate_refuses_before_allocating(invoke):
    r = invoke("run", "--width", 200_000, "--depth", 100)
    assert r.exit_code == 2
    assert "GiB" in r.stderr and "shrink" in r.stderr


def test_unwritable_output_writes_nothing(invoke, tmp_path, monkeypatch):
    target = tmp_path / "missing" / "out.json"
    r = invoke("run", *SMALL, "--format", "json", "-o", target)
    assert r.exit_code == 2 and "does not exist" in r.stderr
    assert not target.parent.exists()
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):  # root ignores permissions (as in CI): deny them here
            real = os.access
            monkeypatch.setattr(
                "gradsim.files.os.access",
                lambda p, mode: False if mode == os.W_OK and str(p).startswith(str(ro))
                else real(p, mode),
            )  # fmt: skip
        r = invoke("run", *SMALL, "-o", ro / "x.json")
        assert r.exit_code == 2 and "permission" in r.stderr
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o700)


def test_output_file_is_atomic_and_whole(invoke, tmp_path):
    out = tmp_path / "r.json"
    out.write_text("old")
    r = invoke("run", *SMALL, "--format", "json", "-o", out)
    assert r.exit_code == 0 and r.stdout == ""
    assert json.loads(out.read_text())["kind"] == "run"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temp file left
    txt = tmp_path / "r.txt"
    invoke("run", *SMALL, "-o", txt)
    text = txt.read_text()
    assert "verdict" in text and "\x1b[" not in text


def test_save_net_reproduces_the_run(invoke, tmp_path):
    path = tmp_path / "net.npz"
    d = run_json(invoke, "--act", "tanh", "--bias-init", "normal", "--save-net", path)
    z = np.load(path)
    W = [z[f"W{l}"] for l in range(1, 7)]
    b = [z[f"b{l}"] for l in range(1, 7)]
    assert W[0].shape == (16, 16) and z["X"].shape == (8, 16) and z["T"].shape == (8, 16)
    assert json.loads(str(z["config"]))["activation"] == "tanh"
    # rebuild the forward pass from the file alone (float64) and compare layer RMS
    H = z["X"].astype(np.float64)
    for l in range(6):
        H = np.tanh(H @ W[l].astype(np.float64) + b[l])
        rms = np.sqrt(np.mean(H**2))
        assert np.log10(rms) == pytest.approx(d["layers"][l]["log10_act_rms"], abs=1e-4)


def test_fail_on(invoke):
    r = invoke("run", "--depth", 30, "--width", 64, "--init", "xavier",
               "--fail-on", "vanishing")  # fmt: skip
    assert r.exit_code == 3
    r = invoke("run", "--depth", 30, "--width", 64, "--init", "he", "--fail-on", "vanishing")
    assert r.exit_code == 0
    r = invoke("run", "--depth", 30, "--width", 64, "--init", "xavier",
               "--fail-on", "exploding,overflow")  # fmt: skip
    assert r.exit_code == 0


def test_list_shows_every_name(invoke):
    r = invoke("list")
    assert r.exit_code == 0
    from gradsim.training import OPTIMIZERS, TASKS

    for name in [*INITIALIZERS, *gradsim.ACTIVATIONS, *gradsim.LOSSES, *TASKS, *OPTIMIZERS]:
        assert name in r.stdout, name
    for rec in gradsim.ACTIVATIONS.values():
        assert f"{rec.gain:.4g}" in r.stdout


def test_help_lists_registries(invoke):
    r = invoke("run", "--help")
    assert r.exit_code == 0
    for name in INITIALIZERS:
        assert name in r.stdout.replace("\n", " ").replace("  ", " ") or name in r.stdout


def test_python_m_and_no_matplotlib_on_import():
    code = "import sys, gradsim.cli; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    r = subprocess.run(
        [sys.executable, "-m", "gradsim", "run", "-L", "3", "-n", "8", "-b", "4", "--format",
         "json"], capture_output=True, text=True, check=True)  # fmt: skip
    assert json.loads(r.stdout)["config"]["depth"] == 3
    r = subprocess.run([sys.executable, "-m", "gradsim", "run", "--depth", "-1"],
                       capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 2 and r.stderr.count("\n") == 1


def test_written_files_get_the_usual_mode(invoke, tmp_path):
    out = tmp_path / "r.json"
    invoke("run", *SMALL, "--format", "json", "-o", out)
    mask = os.umask(0)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~mask


def test_the_cli_imports_neither_the_engine_nor_rich_and_the_package_names_load_on_use():
    """`gradsim --help` starts light: the package's API and the engine load on first use
    (PEP 562), rich when something is printed."""
    code = ("import sys, gradsim.cli; print(sorted(m for m in ('gradsim.api', 'gradsim.engine', "
            "'gradsim.simulation', 'rich', 'scipy', 'ml_dtypes') if m in sys.modules)); "
            "import gradsim; print(callable(gradsim.simulate), "
            "set(gradsim.__all__) <= set(dir(gradsim)))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["[]", "True True"], out.stdout


@pytest.mark.parametrize("given", [None, "3"])
def test_the_command_asks_the_blas_for_one_thread_before_numpy_loads(given):
    """No idle BLAS thread in the command (it would spin-wait after every fork); a thread
    count the user set is kept; importing the CLI alone changes no environment."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if given is not None:
        env["OPENBLAS_NUM_THREADS"] = given
    code = ("import os, sys\n"
            "import gradsim.cli\n"
            "print(os.environ.get('OPENBLAS_NUM_THREADS'))\n"
            "import gradsim.console\n"
            "sys.modules.pop('gradsim.cli')\n"
            "sys.argv = ['gradsim', '--help']\n"
            "try:\n    gradsim.console.main()\nexcept SystemExit:\n    pass\n"
            "print(os.environ['OPENBLAS_NUM_THREADS'])")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env)  # fmt: skip
    lines = out.stdout.strip().split("\n")
    assert lines[0] == str(given) and lines[-1] == (given or "1"), out.stdout


def test_the_entry_point_loads_no_numpy_before_it_sets_the_threads():
    """When the command asks for one thread, NumPy (and its BLAS) has not loaded yet; the
    command then runs."""
    code = ("import sys, gradsim.threads as th\n"
            "real, seen = th.one_thread_at_load, []\n"
            "th.one_thread_at_load = lambda: (seen.append('numpy' in sys.modules), real())\n"
            "import gradsim.console\n"
            "sys.argv = ['gradsim', '--help']\n"
            "try:\n    gradsim.console.main()\nexcept SystemExit:\n    pass\n"
            "print(seen, 'numpy' in sys.modules)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)  # fmt: skip
    assert out.stdout.strip().split("\n")[-1] == "[False] True", out.stdout
