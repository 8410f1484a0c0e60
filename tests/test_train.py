"""gradsim train: the training step's gradients against central differences, the classic
results (He beats Xavier at depth 30, zeros never break symmetry), divergence as a result,
reproducibility, and bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from fd import central

import gradsim
from gradsim.training.config import TrainConfig
from gradsim.training.loop import baseline_loss, batches, train
from gradsim.training.model import (
    backward,
    build_model,
    forward,
    loss_and_grad,
    symmetric_layers,
)
from gradsim.training.tasks import make_task


def _energy(model, X, Y):
    return loss_and_grad(forward(model, X).output, Y, model.classification)[0]


ARCH = [
    {},
    {"residual": True, "residual_scale": 0.6},
    {"norm": "batch"},
    {"norm": "layer"},
    {"residual": True, "norm": "batch"},
    {"residual": True, "norm": "layer"},
]


@pytest.mark.parametrize("classification", [False, True], ids=["mse", "softmax"])
@pytest.mark.parametrize("act", ["relu", "tanh", "elu"])
@pytest.mark.parametrize("arch", ARCH, ids=lambda a: "-".join(f"{k}" for k in a) or "plain")
def test_gradients_match_central_differences(arch, act, classification):
    cfg = gradsim.RunConfig(depth=4, width=5, batch=6, activation=act, init="xavier_normal",
                            gain=1.3, bias_init="normal", bias_std=0.3, dtype="float64",
                            seed=2, **arch)  # fmt: skip
    n_out = 3
    model = build_model(cfg, 4, n_out, classification)
    rng = np.random.default_rng(5)
    X = rng.normal(size=(6, 4))
    Y = rng.integers(0, n_out, size=6) if classification else rng.normal(size=(6, n_out))
    gW, gb = backward(model, forward(model, X), loss_and_grad(
        forward(model, X).output, Y, classification)[1])  # fmt: skip
    for l in range(4):
        fd_W = central(lambda: _energy(model, X, Y), model.W[l])
        fd_b = central(lambda: _energy(model, X, Y), model.b[l])
        assert np.linalg.norm(fd_W) > 1e-6
        np.testing.assert_allclose(gW[l], fd_W, rtol=1e-5, atol=1e-9)
        np.testing.assert_allclose(gb[l], fd_b, rtol=1e-5, atol=1e-9)


def test_the_skip_connections_are_where_the_widths_are_equal():
    cfg = gradsim.RunConfig(depth=4, width=8, residual=True, norm="layer")
    m = build_model(cfg, 3, 2, False)
    assert [b.alpha for b in m.blocks] == [None, 1.0, 1.0, None]  # n: 3, 8, 8, 8, 2
    assert [b.norm for b in m.blocks] == ["layer"] * 3 + [None]  # the read-out is linear
    assert m.blocks[-1].act is None


def test_he_beats_xavier_at_depth_30():
    """He et al. 2015's 30-layer ReLU setting (narrower, on blobs): for every seed tried, He's
    final loss is at most half of Xavier's, and Xavier makes no progress at all."""
    for seed in range(3):
        final = {}
        for init in ("he", "xavier"):
            net = gradsim.RunConfig(depth=30, width=64, batch=32, init=init, seed=seed)
            r = train(TrainConfig(net=net, task="blobs", samples=512, steps=300, lr=0.01))
            final[init] = r
        he, xa = final["he"], final["xavier"]
        assert he.final_loss <= 0.5 * xa.final_loss, seed
        assert he.verdict == "learned" and xa.verdict == "stalled"
        assert xa.final_loss == pytest.approx(xa.baseline_loss, rel=1e-3)


@pytest.mark.parametrize("act", ["relu", "tanh"])
def test_zeros_never_break_symmetry(act):
    net = gradsim.RunConfig(depth=4, width=10, batch=32, init="zeros", activation=act)
    r = train(TrainConfig(net=net, task="circles", samples=256, steps=100, lr=0.1))
    assert r.symmetric_layers == [1, 2, 3]
    assert r.verdict == "stalled"
    # directly: after training, every unit of a hidden layer has the same weights and bias
    task = make_task("circles", 256, 0)
    model = build_model(net, 2, 2, True)
    from gradsim.training.optimizers import make_optimizer

    opt = make_optimizer("sgd", 0.1)
    order = batches(256, 32, 0)
    for _ in range(50):
        idx = next(order)
        c = forward(model, task.X[idx].astype(np.float32))
        gW, gb = backward(model, c, loss_and_grad(c.output, task.Y[idx], True)[1])
        opt.step(model.params, [*gW, *gb])
    for l in range(3):
        assert np.all(model.W[l] == model.W[l][:, :1])
        assert np.all(model.b[l] == model.b[l][0])
    assert symmetric_layers(model) == [1, 2, 3]
    # and a random init does break it
    assert symmetric_layers(build_model(gradsim.RunConfig(depth=4, width=10), 2, 2, True)) == []


def test_a_diverging_run_is_a_result():
    net = gradsim.RunConfig(depth=8, width=32, batch=32, init="normal", gain=3.0)
    r = train(TrainConfig(net=net, task="teacher", samples=256, steps=50, lr=1.0))
    assert r.verdict == "diverged"
    nf = r.nonfinite
    assert nf is not None and 0 <= nf["step"] <= 50 and 1 <= nf["layer"] <= 8
    assert nf["where"] in ("weights", "activations", "gradients", "loss")
    assert r.to_dict()["final_loss"] is None
    json.dumps(r.to_dict(), allow_nan=False)  # no NaN leaks into the JSON


def test_clip_norm_bounds_every_update_and_the_raw_norm_is_reported():
    net = gradsim.RunConfig(depth=6, width=16, batch=16, init="normal", seed=1)
    r = train(TrainConfig(net=net, task="teacher", samples=128, steps=20, lr=0.1,
                          clip_norm=0.5, log_every=1))  # fmt: skip
    assert r.clipped[0] is None and r.clipped_grad_norm[0] is None
    assert r.clipped_steps == sum(r.clipped[1:]) >= 1  # log_every 1: every step is logged
    rows = zip(r.grad_norm[1:], r.clipped_grad_norm[1:], r.global_grad_norm[1:], r.clipped[1:],
               strict=True)  # fmt: skip
    for raw, clipped, g, was in rows:
        total = math.sqrt(sum(10 ** (2 * v) for v in clipped))  # weights only: ≤ the global norm
        assert total <= 0.5 * (1 + 1e-5)
        assert math.sqrt(sum(10 ** (2 * v) for v in raw)) <= 10**g * (1 + 1e-6)
        assert was == (10**g > 0.5)
        # the clipped gradient is the raw one times 0.5/‖g‖ where clipped, the same otherwise
        shift = math.log10(0.5) - g if was else 0.0
        np.testing.assert_allclose(clipped, np.add(raw, shift), atol=1e-6)
    assert r.grad_norm[1][0] > math.log10(0.5) + 1  # the raw norms are far above the clip


def test_lsuv_rescales_on_the_first_mini_batch():
    net = gradsim.RunConfig(depth=10, width=64, batch=128, init="lsuv", dtype="float64")
    task = make_task("blobs", 512, 0)
    first = next(batches(512, 128, 0))
    model = build_model(net, task.n_in, task.n_out, True, task.X[first])
    c = forward(model, task.X[first])
    Z = [H @ W + b for H, W, b in zip(c.activations, model.W, model.b, strict=False)]
    np.testing.assert_allclose([z.var() for z in Z], 1.0, rtol=0.011)


def test_same_config_same_curves():
    net = gradsim.RunConfig(depth=5, width=16, batch=16, seed=4)
    cfg = TrainConfig(net=net, task="blobs", samples=128, steps=30, optimizer="adam", lr=1e-3)
    assert train(cfg).to_dict() == train(cfg).to_dict()


def test_baseline_is_the_best_constant_prediction():
    t = make_task("teacher", 256, 0)
    const = t.Y.mean(axis=0)
    assert baseline_loss(t) == pytest.approx(0.5 * np.sum((t.Y - const) ** 2) / 256)
    c = make_task("circles", 256, 0)
    assert baseline_loss(c) == pytest.approx(math.log(2))


# ---------------------------------------------------------------- the command
def test_cli_json_has_the_contract(invoke):
    r = invoke("train", "--depth", "4", "--width", "16", "--init", "he,zeros",
               "--task", "circles", "--steps", "20", "--samples", "128", "--batch", "32",
               "--format", "json")  # fmt: skip
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["kind"] == "train" and d["axes"] == {"init": ["he_normal", "zeros"]}
    assert len(d["runs"]) == 2
    for run in d["runs"]:
        for key in ("config", "steps", "loss", "initial_loss", "final_loss", "verdict"):
            assert key in run
        assert run["steps"][0] == 0 and run["steps"][-1] == 20
        assert run["config"]["widths"] == [2, 16, 16, 16, 2]
    assert d["runs"][1]["symmetric_layers"] == [1, 2, 3]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--lr", "0"], "--lr must be a positive number"),
        (["--lr", "-1"], "--lr must be a positive number"),
        (["--lr", "nan"], "--lr must be a positive number"),
        (["--steps", "0"], "--steps must be a whole number from 1 to"),
        (["--optimizer", "adagrad"], "unknown optimizer 'adagrad'"),
        (["--task", "mnist"], "--task"),
        (["--batch", "2048"], "larger than the data set"),
        (["--depth", "1"], "at least 2 for training"),
        (["--dtype", "float7"], "unknown dtype"),
        (["--loss-scale", "0"], "--loss-scale"),
        (["--clip-norm", "0"], "--clip-norm must be a positive number"),
        (["--momentum", "0.5"], "--momentum does not apply to optimizer 'sgd'"),
        (["--bn-eval", "mean"], "--bn-eval"),
        (["--norm", "batch", "--batch", "1"], "needs --batch of at least 2"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(invoke, args, message):
    r = invoke("train", *(["--steps", "5"] if args[0] != "--steps" else []), *args)
    assert r.exit_code == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], r.stderr
    assert "Traceback" not in r.output


def test_residual_with_unequal_widths_is_refused(invoke):
    r = invoke("run", "--widths", "8,16,16", "--residual")
    assert r.exit_code == 2 and "equal widths" in r.stderr


def test_mini_batches_cover_every_sample_once_per_epoch():
    it = batches(100, 32, seed=3)
    epoch = [next(it) for _ in range(3)]  # 100 // 32 = 3 full batches; 4 samples dropped
    seen = np.concatenate(epoch)
    assert len(seen) == 96 and len(set(seen.tolist())) == 96
    again = batches(100, 32, seed=3)
    assert all(np.array_equal(a, next(again)) for a in epoch)  # same seed, same order
    nxt = next(it)  # the next epoch is a new order
    assert not np.array_equal(nxt, epoch[0])


def test_cli_csv_plot_output_and_progress(invoke, tmp_path):
    args = ["train", "--depth", "3", "--width", "8", "--init", "he,xavier", "--task", "blobs",
            "--steps", "10", "--samples", "64", "--batch", "16", "--log-every", "5"]  # fmt: skip
    r = invoke(*args, "--format", "csv", "--plot", tmp_path / "f.png", "-o", tmp_path / "t.csv")
    assert r.exit_code == 0, r.stderr
    rows = (tmp_path / "t.csv").read_text().splitlines()
    assert len(rows) == 1 + 2 * 3  # header, then steps 0, 5, 10 of two runs
    assert (tmp_path / "f.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    r = invoke(*args, "--progress")
    assert r.exit_code == 0 and "10/10" in r.stderr and "init=he_normal" in r.stderr
