"""Depth without a memory wall: low memory draws the weights again for the backward pass
(the same numbers), keeps φ' masks as bits, and the estimate and the guard follow the mode;
the layers are drawn in threads with the same numbers; the BLAS is held to one thread."""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest

import gradsim
from gradsim import draws, memory, threads
from gradsim.config import RunConfig
from gradsim.draws import DrawnWeights, build_network, build_stack
from gradsim.engine.numerics import Bits, pack, unpack
from gradsim.simulation import simulate_network, simulate_stack

CASES = [
    {"activation": "relu"},  # φ' a mask: bits
    {"activation": "tanh", "bias_init": "normal"},
    {"activation": "relu", "residual": True, "norm": "batch", "residual_scale": 0.3},
    {"activation": "gelu", "norm": "layer", "dtype": "float16"},
    {"activation": "relu", "init": "orthogonal", "dtype": "float64"},
]


@pytest.mark.parametrize("kw", CASES, ids=lambda kw: "-".join(map(str, kw.values())))
def test_low_memory_gives_the_very_numbers(kw):
    cfg = RunConfig(depth=9, width=24, batch=8, **kw)
    normal = simulate_network(cfg, build_network(cfg), hist=True).to_dict()
    low = simulate_stack(cfg, build_stack(cfg, low_memory=True), hist=True).to_dict()
    assert json.dumps(low) == json.dumps(normal)


def test_large_layers_are_drawn_in_threads_with_the_same_numbers(monkeypatch):
    configs = [RunConfig(depth=4, widths=(8, 9, 7, 9, 6), init=i, gain=1.3, truncated=t,
                         seed=5, bias_init="normal")
               for i, t in (("he", False), ("he", True), ("orthogonal", False),
                            ("uniform", False), ("torch_default", False))]  # fmt: skip
    serial = [build_network(c) for c in configs]
    monkeypatch.setattr(draws, "PARALLEL_ENTRIES", 1)  # every layer "large"
    for cfg, ref in zip(configs, serial, strict=True):
        for net in (build_network(cfg), build_stack(cfg).network(0)):
            assert all(np.array_equal(a, b) for a, b in zip(net.W, ref.W, strict=True))
            assert all(np.array_equal(a, b) for a, b in zip(net.b, ref.b, strict=True))
        assert isinstance(build_stack(cfg).W, DrawnWeights)


def test_drawn_weights_draw_again_in_either_direction():
    calls = []

    def draw(i):
        calls.append(i)
        return np.full((1, 2, 2), float(i))

    w = DrawnWeights(draw, 6, keep=False, ahead=2)
    assert [float(w[i][0, 0, 0]) for i in range(6)] == [0, 1, 2, 3, 4, 5]
    assert [float(w[i][0, 0, 0]) for i in range(5, -1, -1)] == [5, 4, 3, 2, 1, 0]
    assert w[-1][0, 0, 0] == 5 and len(w) == 6
    with pytest.raises(IndexError):
        w[6]
    assert len(calls) >= 12  # every layer drawn again for the second reading
    kept = DrawnWeights(draw, 3)
    assert kept[1] is kept[1]


def test_masks_keep_as_bits():
    D = np.random.default_rng(0).random((2, 5, 13)) > 0.5
    P = pack(D)
    assert isinstance(P, Bits) and P.packed.nbytes == 2 * 5 * 2
    assert np.array_equal(unpack(P), D) and unpack(P).dtype == np.bool_
    F = np.ones(3)
    assert pack(F) is F and unpack(F) is F and pack(None) is None


def test_the_estimate_follows_the_mode():
    cfg = RunConfig(depth=2000, width=512, batch=128)
    normal, low = memory.estimate_bytes(cfg), memory.estimate_bytes(cfg, low_memory=True)
    assert normal > 2e9 and low < normal / 3
    # a tanh network keeps φ' whole, ReLU as bits
    tanh = memory.estimate_bytes(RunConfig(depth=2000, width=512, batch=128, activation="tanh"),
                                 low_memory=True)  # fmt: skip
    assert tanh > low


def test_low_memory_is_chosen_where_the_weights_would_not_fit(monkeypatch):
    cfg = RunConfig(depth=400, width=256, batch=64)
    normal, low = memory.estimate_bytes(cfg), memory.estimate_bytes(cfg, low_memory=True)
    monkeypatch.setattr(memory, "available_bytes", lambda: int((normal + low) / 2 / 0.8))
    assert memory.check_memory(cfg, None) is True
    assert memory.check_memory(cfg, True) is True
    with pytest.raises(gradsim.GradsimError, match="needs about"):
        memory.check_memory(cfg, False)
    monkeypatch.setattr(memory, "available_bytes", lambda: int(low / 2))
    with pytest.raises(gradsim.GradsimError, match="shrink"):
        memory.check_memory(cfg, None)
    monkeypatch.setattr(memory, "available_bytes", lambda: 10 * normal)
    assert memory.check_memory(cfg, None) is False


def test_low_memory_holds_less(monkeypatch):
    cfg = RunConfig(depth=40, width=256, batch=32)

    def peak(low):
        tracemalloc.start()
        try:
            simulate_stack(cfg, build_stack(cfg, low_memory=low))
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    normal, low = peak(False), peak(True)
    weights = 40 * 256 * 256 * 4
    assert normal > weights and low < weights / 2


def test_a_container_limit_caps_the_memory(monkeypatch):
    files = {"/sys/fs/cgroup/memory.max": 2**30, "/sys/fs/cgroup/memory.current": 2**28}
    monkeypatch.setattr(memory, "_read_int", files.get)
    monkeypatch.setattr(memory, "_meminfo_available", lambda: 20 * 2**30)
    assert memory.available_bytes() == 2**30 - 2**28
    with pytest.raises(gradsim.GradsimError, match=r"0\.8 GiB is available"):
        memory.check_memory(RunConfig(depth=30, width=2048, batch=256))


def test_cores_follow_a_cpu_quota(monkeypatch):
    assert threads.cores() >= 1
    monkeypatch.setattr(threads, "_read", {"/sys/fs/cgroup/cpu.max": "150000 100000"}.get)
    assert threads._cgroup_quota() == 2
    monkeypatch.setattr(threads, "_read", {"/sys/fs/cgroup/cpu.max": "max 100000"}.get)
    assert threads._cgroup_quota() is None


def test_the_api_holds_the_blas_to_one_thread_and_restores_it(monkeypatch):
    from threadpoolctl import threadpool_limits

    if threads.blas_threads() is None:
        pytest.skip("no BLAS thread count readable here")
    seen = []
    real = simulate_stack

    def spy(*a, **kw):
        seen.append(threads.blas_threads())
        return real(*a, **kw)

    monkeypatch.setattr("gradsim.simulation.simulate_stack", spy)
    with threadpool_limits(limits=2, user_api="blas"):
        gradsim.simulate(depth=3, width=8, batch=4)
        assert threads.blas_threads() == 2
    assert seen == [1]


def test_run_low_memory_from_the_command_line(invoke, tmp_path):
    args = ("run", "--depth", 12, "--width", 40, "--batch", 8, "--format", "json")
    assert invoke(*args, "--low-memory").stdout == invoke(*args).stdout
    r = invoke(*args, "--low-memory", "--save-net", tmp_path / "n.npz")
    assert r.exit_code == 2 and "--low-memory" in r.stderr


def test_the_estimate_does_not_grow_with_the_depth(monkeypatch):
    """The guard reads the shapes, never a list of L widths: depth 10⁹ is refused at once."""

    def every_width(self):
        raise AssertionError("the estimate listed every width")

    monkeypatch.setattr(RunConfig, "layer_widths", property(every_width))
    cfg = RunConfig(depth=10**9, width=1, batch=1)
    assert memory.estimate_bytes(cfg) >= memory.PER_LAYER * 10**9
    assert memory.estimate_bytes(cfg, low_memory=True) >= memory.PER_LAYER * 10**9
    with pytest.raises(gradsim.GradsimError, match="needs about"):
        memory.check_memory(cfg, None)
    # an explicit widths list: its distinct shapes, with their counts
    mixed = RunConfig(widths=(8, 16, 16, 16, 4), batch=2)
    assert memory.shapes(mixed) == [(8, 16, 1), (16, 16, 2), (16, 4, 1)]


@pytest.mark.parametrize("cmd", [
    ("run",), ("run", "--low-memory"), ("train",), ("compare", "--init", "he,xavier"),
    ("sweep", "--out", "STORE"),
])  # fmt: skip
def test_every_command_refuses_a_network_of_a_billion_layers(invoke, tmp_path, cmd):
    cmd = tuple(str(tmp_path / "s") if a == "STORE" else a for a in cmd)
    r = invoke(*cmd, "--depth", 10**9, "--width", 1, "--batch", 1)
    assert r.exit_code == 2, r.output
    assert "needs about" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_task_dims_are_the_tasks(monkeypatch):
    from gradsim.training.tasks import TASKS, make_task

    for name, spec in TASKS.items():
        task = make_task(name, 8, 0)
        assert spec.dims == (task.n_in, task.n_out)


@pytest.mark.parametrize("kw", [
    {"depth": 6, "width": 256, "batch": 64, "optimizer": "adam", "samples": 512},
    {"depth": 12, "width": 64, "batch": 32, "samples": 2048, "task": "blobs"},
    {"depth": 3, "width": 512, "batch": 16, "optimizer": "momentum", "samples": 64},
])  # fmt: skip
def test_the_training_estimate_covers_what_training_allocates(kw):
    from gradsim.training.optimizers import OPTIMIZERS
    from gradsim.training.product import configs_of, train_product
    from gradsim.training.tasks import TASKS

    kw = dict(kw)
    training = {k: kw.pop(k) for k in ("optimizer", "samples", "task") if k in kw}
    axes, configs = configs_of(kw, steps=3, **training)
    c = configs[0]
    n_in, n_out = TASKS[c.task].dims
    states = OPTIMIZERS[c.optimizer].factory.states
    est = c.samples * (n_in + n_out) * 8
    est += memory.estimate_train_bytes(c.net, n_in, n_out, c.samples, states)
    tracemalloc.start()
    try:
        train_product(axes, configs)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= est <= 4 * peak


def test_training_that_would_not_fit_is_refused(monkeypatch):
    from gradsim.training.product import configs_of

    monkeypatch.setattr(memory, "available_bytes", lambda: 50 * 2**20)
    with pytest.raises(gradsim.GradsimError, match="this training needs about"):
        configs_of({"depth": 40, "width": 1024})
    assert configs_of({"depth": 4, "width": 64})[1]
