"""Training you can replay: ``--save-run`` files replayed by examples/replay_training.py (plain
NumPy, no gradsim) to 1e-12 in float64; batch norm's running statistics against a hand
computation of PyTorch's rule; evaluation mode against the whole set's batch statistics;
the file's layout and its bad paths."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gradsim
from gradsim.training.runfile import run_paths

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "replay_training.py"
SMALL = {"depth": 4, "width": 12, "batch": 16, "samples": 64, "steps": 25, "dtype": "float64"}
CASES = {
    "lsuv": {"init": "lsuv", "act": "tanh", "lr": 0.05},
    "clip": {"task": "blobs", "clip_norm": 1.1, "lr": 0.1, "bias_init": "normal"},
    "momentum": {"task": "blobs", "optimizer": "momentum", "lr": 0.05, "act": "elu"},
    "adam": {"task": "circles", "optimizer": "adam", "lr": 0.01, "residual": True,
             "residual_scale": 0.5},
    "batchnorm": {"task": "blobs", "norm": "batch", "residual": True, "optimizer": "momentum",
                  "lr": 0.05},
    "batchnorm-batch-eval": {"norm": "batch", "bn_eval": "batch", "optimizer": "adam",
                             "lr": 0.01, "act": "silu"},
    "layernorm": {"task": "circles", "norm": "layer", "act": "leaky_relu", "slope": 0.2,
                  "clip_norm": 1.0, "lr": 0.1},
    # GELU's two forms: the replay writes out PyTorch's erf formula and the tanh one
    "gelu": {"act": "gelu", "lr": 0.05},
    "gelu-tanh": {"task": "blobs", "act": "gelu_tanh", "lr": 0.05},
}  # fmt: skip


def replay(*files, check=True) -> tuple[int, list[dict]]:
    r = subprocess.run([sys.executable, str(EXAMPLE), *map(str, files), "--json"],
                       capture_output=True, text=True, check=False)  # fmt: skip
    assert r.returncode in (0, 1) and (r.returncode == 0 or not check), r.stderr
    return r.returncode, [json.loads(line) for line in r.stdout.splitlines()]


@pytest.fixture(scope="module")
def replayed(tmp_path_factory):
    """Every case trained with --save-run and replayed by the example script (one process)."""
    tmp = tmp_path_factory.mktemp("runs")
    files = {}
    for name, opts in CASES.items():
        files[name] = tmp / f"{name}.npz"
        gradsim.train(**{**SMALL, **opts}, save_run=files[name])
    _, out = replay(*files.values())
    return files, dict(zip(CASES, out, strict=True))


@pytest.mark.parametrize("case", CASES)
def test_the_plain_numpy_replay_agrees_to_1e_12(replayed, case):
    _, out = replayed
    r = out[case]
    diffs = {k: v for k, v in r["max_rel_diff"].items() if k != "clipped_steps_that_differ"}
    assert r["agrees"] and r["steps"] == SMALL["steps"]
    assert max(diffs.values()) <= 1e-12, diffs
    assert r["max_rel_diff"]["clipped_steps_that_differ"] == 0
    assert {"loss", "grad_norm", "global_grad_norm", "initial_loss", "final_loss"} <= set(diffs)
    if "norm" in CASES[case] and CASES[case].get("bn_eval", "running") == "running":
        assert CASES[case]["norm"] == "layer" or {"running_mean", "running_var"} <= set(diffs)


def test_the_cases_exercise_what_they_name(replayed):
    files, out = replayed
    # clipping clipped some steps and not others, so the threshold itself is checked
    assert 0 < out["clip"]["clipped_steps"] < SMALL["steps"]
    assert 0 < out["layernorm"]["clipped_steps"] <= SMALL["steps"]
    assert out["lsuv"]["clipped_steps"] == 0
    with np.load(files["lsuv"]) as f:  # the stored weights are LSUV's: Var Z_l = 1 on batch 1
        meta = json.loads(str(f["meta"]))
        X = f["X"][f["batches"][0]]
        Z1 = X @ f["W1"] + f["b1"]
        assert meta["config"]["init"] == "lsuv" and Z1.var() == pytest.approx(1, rel=0.02)
    with np.load(files["batchnorm"]) as f:
        meta = json.loads(str(f["meta"]))
        assert meta["batch_norm"] == {"eval": "running", "momentum": 0.1, "eps": 1e-5,
                                      "running_var": "unbiased", "initial_mean": 0.0,
                                      "initial_var": 1.0}  # fmt: skip
        assert [x["norm"] for x in meta["layers"]] == ["batch"] * 3 + [None]
        assert np.abs(f["running_mean1"]).max() > 0.05  # the statistics moved
    with np.load(files["batchnorm-batch-eval"]) as f:
        assert not any(k.startswith("running_") for k in f.files)


def test_a_changed_file_is_caught(replayed, tmp_path):
    """The replay recomputes: W_2 scaled by 1 + 1e-9 shows."""
    files, _ = replayed
    with np.load(files["adam"]) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["W2"] = arrays["W2"] * (1 + 1e-9)
    np.savez(tmp_path / "changed.npz", **arrays)
    code, (r,) = replay(tmp_path / "changed.npz", check=False)
    assert code == 1 and not r["agrees"]
    assert 1e-12 < r["max_rel_diff"]["loss"] < 1e-6


def test_the_file_layout(tmp_path):
    path = tmp_path / "run.npz"
    t = gradsim.train(**{**SMALL, "steps": 7}, task="circles", clip_norm=0.5, save_run=path)
    with np.load(path) as f:
        meta = json.loads(str(f["meta"]))
        L, B, S = 4, 16, 7
        assert meta["format"] == "gradsim-train-run" and meta["version"] == 1
        assert meta["config"] == t.runs[0].config and meta["steps_done"] == S
        assert meta["loss"] == "softmax_cross_entropy" and meta["clip_norm"] == 0.5
        assert meta["optimizer"] == {"name": "sgd", "lr": 0.01}
        assert [f[f"W{l}"].shape for l in range(1, L + 1)] == [(2, 12), (12, 12), (12, 12), (12, 2)]
        assert f["X"].shape == (64, 2) and f["Y"].dtype == np.int64
        assert f["batches"].shape == (S, B) and f["batches"].dtype == np.int64
        assert f["grad_norm"].shape == (S, L) and f["clipped"].dtype == bool
        assert float(f["initial_loss"]) == t.runs[0].initial_loss
        assert float(f["final_loss"]) == t.runs[0].final_loss
        # the per-step numbers are those the JSON logs (log_every 1 would log them all)
        logged = t.runs[0].to_dict()
        assert np.log10(f["grad_norm"][-1]) == pytest.approx(logged["log10_grad_norm"][-1])
        assert np.log10(f["global_grad_norm"][-1]) == pytest.approx(
            logged["log10_global_grad_norm"][-1])  # fmt: skip
        assert bool(f["clipped"][-1]) == logged["clipped"][-1]
        # the mini-batches are the epoch's permutation: each sample once per 4 steps
        assert sorted(f["batches"][:4].ravel()) == list(range(64))


def test_several_configurations_one_file_each(tmp_path, invoke):
    path = tmp_path / "runs.npz"
    r = invoke("train", "--depth", "3", "--width", "8", "--batch", "8", "--samples", "32",
               "--steps", "3", "--init", "he,xavier", "--lr", "0.1,0.01", "--save-run", path,
               "--format", "json")  # fmt: skip
    assert r.exit_code == 0, r.output
    labels = [run["label"] for run in json.loads(r.stdout)["runs"]]
    files = run_paths(path, 4)
    assert [p.name for p in files] == [f"runs-{i}.npz" for i in range(1, 5)]
    assert sorted(p.name for p in tmp_path.iterdir()) == [p.name for p in files]
    for p, label in zip(files, labels, strict=True):
        with np.load(p) as f:
            assert json.loads(str(f["meta"]))["label"] == label
    assert run_paths(path, 1) == [path]


@pytest.mark.parametrize(
    ("where", "message"),
    [("missing/run.npz", "does not exist"), (".", "is a directory")],
)
def test_bad_save_run_paths_are_one_line_before_any_work(tmp_path, invoke, where, message):
    target = tmp_path / where
    r = invoke("train", "--depth", "3", "--steps", "2", "--save-run", target)
    assert r.exit_code == 2 and "Traceback" not in r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], r.stderr
    with pytest.raises(gradsim.GradsimError, match=message):
        gradsim.train(depth=3, steps=2, save_run=target)
    assert not (tmp_path / "missing").exists()


# ---------------------------------------------------------------- batch norm's statistics


def _relu_bn_forward(Ws, bs, X, stats):
    """The network of 'depth 3, --norm batch, relu' by hand: per hidden layer, batch norm
    with ``stats(l, U)`` → (μ, σ²), then + b, then ReLU; the read-out linear."""
    H = X
    for l, (W, b) in enumerate(zip(Ws, bs, strict=True)):
        U = H @ W
        if l == len(Ws) - 1:
            return U + b
        mu, var = stats(l, U)
        H = np.maximum((U - mu) / np.sqrt(var + 1e-5) + b, 0.0)
    return H


def test_running_statistics_follow_pytorchs_rule_by_hand(tmp_path):
    """With a learning rate of 1e-300 the weights do not move, so the running statistics
    after 3 steps are PyTorch's recurrence over the 3 mini-batches of the same network:
    μ̂ = Σ 0.1·0.9^(2−s) μ_s, σ̂² = 0.9³ + Σ 0.1·0.9^(2−s)·B/(B−1)·σ²_s."""
    path = tmp_path / "bn.npz"
    t = gradsim.train(depth=3, width=6, batch=8, samples=32, steps=3, lr=1e-300, norm="batch",
                      dtype="float64", save_run=path, bias_init="normal")  # fmt: skip
    with np.load(path) as f:
        Ws, bs = [f[f"W{l}"] for l in (1, 2, 3)], [f[f"b{l}"] for l in (1, 2, 3)]
        X, Y, batches = f["X"], f["Y"], f["batches"]
        stored = [(f[f"running_mean{l}"], f[f"running_var{l}"]) for l in (1, 2)]
    mean = [np.zeros(6), np.zeros(6)]
    var = [np.ones(6), np.ones(6)]

    def batch_stats(l, U):  # training mode, and PyTorch's update of the running ones
        mean[l] = 0.9 * mean[l] + 0.1 * U.mean(axis=0)
        var[l] = 0.9 * var[l] + 0.1 * U.var(axis=0, ddof=1)
        return U.mean(axis=0), U.var(axis=0)

    for idx in batches:
        _relu_bn_forward(Ws, bs, X[idx], batch_stats)
    for l in range(2):
        np.testing.assert_allclose(stored[l][0], mean[l], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(stored[l][1], var[l], rtol=1e-12)
    assert np.abs(mean[0]).max() > 0.1 and np.abs(var[0] - 1).max() > 0.1  # they moved

    def loss(out):
        return 0.5 * np.sum((out - Y) ** 2) / len(Y)

    # eval mode: the running statistics (at step 0 their initial 0 and 1), not the set's own
    run = t.runs[0]
    assert run.config["bn_eval"] == "running"
    initial = loss(_relu_bn_forward(Ws, bs, X, lambda l, U: (0.0, 1.0)))
    final = loss(_relu_bn_forward(Ws, bs, X, lambda l, U: (mean[l], var[l])))
    whole = loss(_relu_bn_forward(Ws, bs, X, lambda l, U: (U.mean(axis=0), U.var(axis=0))))
    assert run.initial_loss == pytest.approx(initial, rel=1e-12)
    assert run.final_loss == pytest.approx(final, rel=1e-12)
    assert abs(final - whole) > 1e-3 * whole  # the choice matters
    b = gradsim.train(depth=3, width=6, batch=8, samples=32, steps=3, lr=1e-300, norm="batch",
                      dtype="float64", bias_init="normal", bn_eval="batch").runs[0]  # fmt: skip
    assert b.config["bn_eval"] == "batch"
    assert b.initial_loss == pytest.approx(whole, rel=1e-12)
    assert b.final_loss == pytest.approx(whole, rel=1e-12)


def test_eval_mode_changes_the_whole_set_losses_only():
    opts = dict(depth=5, width=16, batch=16, samples=64, steps=30, task="blobs", norm="batch",
                optimizer="adam", lr=0.01, log_every=5)  # fmt: skip
    run = gradsim.train(**opts).runs[0].to_dict()
    batch = gradsim.train(**opts, bn_eval="batch").runs[0].to_dict()
    assert run["loss"][1:] == batch["loss"][1:]  # the same training, mini-batch by mini-batch
    assert run["log10_grad_norm"] == batch["log10_grad_norm"]
    assert run["initial_loss"] != batch["initial_loss"]
    assert run["final_loss"] != batch["final_loss"]
    assert math.isfinite(run["final_loss"]) and math.isfinite(batch["final_loss"])
    # without batch norm the option changes nothing and is not named
    plain = {**opts, "norm": "layer"}
    a, b = gradsim.train(**plain).to_dict(), gradsim.train(**plain, bn_eval="batch").to_dict()
    assert a == b and a["runs"][0]["config"]["bn_eval"] is None


def test_outputs_name_the_choices(invoke):
    args = ("train", "--depth", "4", "--width", "8", "--batch", "8", "--samples", "32",
            "--steps", "4", "--norm", "batch", "--clip-norm", "0.01")  # fmt: skip
    text = invoke(*args).stdout
    flat = " ".join(text.split())
    assert "BN eval: running stats" in flat
    assert "batch norm in eval mode, with the running statistics of training" in flat
    assert "before clipping" in flat and "clipped at 4 of 4 steps" in flat
    text = invoke(*args, "--bn-eval", "batch").stdout
    assert "batch norm on the whole set's own batch statistics" in " ".join(text.split())
    csv = invoke(*args, "--format", "csv").stdout.splitlines()
    head = csv[0].split(",")
    assert head[5:7] == ["log10_global_grad_norm", "clipped"]
    assert head[-1] == "log10_clipped_grad_norm_4"
    assert csv[-1].split(",")[6] == "true"  # booleans as JSON writes them


def test_the_example_runs_alone(tmp_path, replayed):
    """The script needs nothing but NumPy: run from another folder on a copied file, with
    gradsim made unimportable."""
    files, _ = replayed
    shutil.copy(files["momentum"], tmp_path / "m.npz")
    shutil.copy(EXAMPLE, tmp_path / "replay.py")
    code = ("import runpy, sys; sys.modules['gradsim'] = None; "
            "sys.argv = ['replay.py', 'm.npz', '--every', '5']; "
            "runpy.run_path('replay.py', run_name='__main__')")  # fmt: skip
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                       text=True, check=True)  # fmt: skip
    lines = r.stdout.rstrip().splitlines()
    assert lines[1].split() == ["step", "loss", "(replay)", "loss", "(file)", "rel.", "diff"]
    steps = [int(w[0]) for w in map(str.split, lines[2:]) if w and w[0].isdigit()]
    assert steps == [1, 5, 10, 15, 20, 25]
    assert lines[-1].strip().startswith("agrees: largest relative difference")
