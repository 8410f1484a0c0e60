"""The Python API (gradsim.api) mirrors the command line: every keyword and its default in
the signature and help(), the very JSON the command prints, a figure of the same kind,
and the same one-line errors."""

from __future__ import annotations

import inspect
import json
import pydoc
from dataclasses import fields

import pytest

import gradsim
from gradsim.options import (
    CONFIG_KEYS,
    PHASE_OPTIONS,
    SPECTRUM_OPTIONS,
    THEORY_OPTIONS,
    TRAIN_OPTIONS,
)

SMALL = {"depth": 6, "width": 16, "batch": 8}
FUNCTIONS = {
    "simulate": CONFIG_KEYS,
    "compare": CONFIG_KEYS,
    "sweep": CONFIG_KEYS,
    "train": TRAIN_OPTIONS,
    "theory": THEORY_OPTIONS,
    "spectrum": SPECTRUM_OPTIONS,
    "phase": PHASE_OPTIONS,
}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_every_option_and_its_default_is_in_the_signature_and_help(name):
    fn = getattr(gradsim, name)
    params = inspect.signature(fn).parameters
    defaults = {f.name: f.default for f in fields(gradsim.RunConfig)}
    text = pydoc.render_doc(fn, renderer=pydoc.plaintext)
    for option in FUNCTIONS[name]:
        assert option in params, option
        assert params[option].kind is inspect.Parameter.KEYWORD_ONLY
        if name not in ("train", "theory"):  # (they set depth/width/batch/loss their way)
            assert params[option].default == defaults[option], option
        assert f"{option}=" in text.replace(" = ", "="), option
    assert not any(p.kind is p.VAR_KEYWORD for p in params.values())


def _cli_json(invoke, *args) -> dict:
    r = invoke(*args, "--format", "json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_simulate_is_gradsim_run(invoke):
    r = gradsim.simulate(act="tanh", init="xavier", bias_init="normal", hist=True, **SMALL)
    cli = _cli_json(invoke, "run", "--act", "tanh", "--init", "xavier", "--bias-init",
                    "normal", "--hist", "--depth", 6, "--width", 16, "--batch", 8)  # fmt: skip
    assert json.loads(json.dumps(r.to_dict())) == cli


def test_compare_is_gradsim_compare(invoke):
    c = gradsim.compare(init=["he", "xavier"], act="relu,tanh", gain="0.5:1:2", **SMALL)
    cli = _cli_json(invoke, "compare", "--init", "he,xavier", "--act", "relu,tanh", "--gain",
                    "0.5:1:2", "--depth", 6, "--width", 16, "--batch", 8)  # fmt: skip
    assert json.loads(json.dumps(c.to_dict())) == cli
    assert len(c.results) == 8 and set(c.axes) == {"activation", "init", "gain"}
    verdicts = [r.summary.verdict for r in c.ranked()]
    assert verdicts == sorted(verdicts, key=["stable", "vanishing", "exploding",
                                             "overflow"].index)  # fmt: skip


def test_train_is_gradsim_train(invoke):
    kw = {"depth": 4, "width": 12, "batch": 16, "samples": 64, "steps": 6, "log_every": 2}
    t = gradsim.train(init=["he", "xavier"], lr=[0.01, 0.1], **kw)
    cli = _cli_json(invoke, "train", "--init", "he,xavier", "--lr", "0.01,0.1", "--depth", 4,
                    "--width", 12, "--batch", 16, "--samples", 64, "--steps", 6,
                    "--log-every", 2)  # fmt: skip
    assert json.loads(json.dumps(t.to_dict())) == cli
    assert [r.label for r in t.runs] == [r["label"] for r in cli["runs"]]


def test_theory_spectrum_and_phase_are_their_commands(invoke):
    th = gradsim.theory(act="tanh", sigma_w=1.3, sigma_b=0.2, depth=20)
    assert th.to_dict() == _cli_json(invoke, "theory", "--act", "tanh", "--sigma-w", 1.3,
                                     "--sigma-b", 0.2, "--depth", 20)  # fmt: skip
    assert th["phase"] == th.phase in ("ordered", "critical", "chaotic")
    sp = gradsim.spectrum(act="tanh", inputs=3, depth=8, width=12)
    assert json.loads(json.dumps(sp.to_dict())) == _cli_json(
        invoke, "spectrum", "--act", "tanh", "--inputs", 3, "--depth", 8, "--width", 12
    )


def test_phase_takes_an_overlay_object_dict_or_file(tmp_path):
    c = gradsim.compare(act="tanh", init="xavier", gain=[0.5, 2.0], **SMALL)
    path = tmp_path / "c.json"
    c.save(path)
    marks = [gradsim.phase(act="tanh", grid=8, overlay=o).to_dict()["overlay"]
             for o in (c, c.to_dict(), path, str(path))]  # fmt: skip
    assert len(marks[0]) == 2 and all(m == marks[0] for m in marks)


def test_sweep_runs_into_a_store_and_resumes(tmp_path):
    seen = []
    s = gradsim.sweep(depth=[4, 6], init="he,xavier", width=8, batch=4, seeds=2,
                      out=tmp_path, jobs=1, progress=seen.append)  # fmt: skip
    assert sum(seen) == 8 and len(s.records) == 8 and s.plan.stored == 0
    again = gradsim.sweep(depth=[4, 6], init="he,xavier", width=8, batch=4, seeds=2,
                          out=tmp_path, jobs=1)  # fmt: skip
    assert again.plan.stored == 8 and not again.plan.pending
    assert again.to_dict() == s.to_dict() and s.to_dict()["kind"] == "sweep"


@pytest.mark.parametrize("make, kind", [
    (lambda: gradsim.simulate(**SMALL), "run"),
    (lambda: gradsim.compare(init=["he", "xavier"], **SMALL), "compare"),
    (lambda: gradsim.theory(act="tanh", depth=10), "theory"),
    (lambda: gradsim.spectrum(act="tanh", depth=4, width=8, inputs=2), "spectrum"),
    (lambda: gradsim.phase(act="tanh", grid=6), "phase"),
    (lambda: gradsim.train(depth=3, width=8, batch=8, samples=32, steps=4), "train"),
])  # fmt: skip
def test_every_result_draws_its_figure_and_saves(make, kind, tmp_path):
    from matplotlib.figure import Figure

    res = make()
    assert res.to_dict()["kind"] == kind
    fig = res.figure()
    assert isinstance(fig, Figure) and fig.axes
    res.save(tmp_path / "r.json")
    res.save(tmp_path / "r.png")
    assert json.loads((tmp_path / "r.json").read_text())["kind"] == kind
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("call, words", [
    (lambda: gradsim.simulate(depth=0), ["--depth"]),
    (lambda: gradsim.simulate(act="mish"), ["activation", "mish"]),
    (lambda: gradsim.simulate(foo=1), ["foo", "simulate"]),
    (lambda: gradsim.simulate(act="relu", activation="tanh"), ["act=", "activation="]),
    (lambda: gradsim.compare(init="he,xavier,normal", depth=[1, 2, 3], max_configs=5),
     ["9 configurations", "max-configs"]),
    (lambda: gradsim.compare(gain="1:2"), ["--gain", "start:stop:count"]),
    (lambda: gradsim.train(widths=[4, 4]), ["widths"]),
    (lambda: gradsim.theory(sigma_w=1.0, init="he"), ["--sigma-w", "--init"]),
    (lambda: gradsim.theory(sigma_w=-1), ["--sigma-w"]),
    (lambda: gradsim.spectrum(inputs=0), ["--inputs"]),
    (lambda: gradsim.phase(grid=1), ["--grid"]),
    (lambda: gradsim.phase(sigma_b2=(1, 0)), ["--sigma-b2"]),
    (lambda: gradsim.sweep(depth=[2, 3], seeds=1, max_runs=1, out="never-made"),
     ["--max-runs"]),
])  # fmt: skip
def test_bad_input_is_one_line_naming_it(call, words, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(gradsim.GradsimError) as e:
        call()
    assert not list(tmp_path.iterdir())  # refused before anything was written
    msg = str(e.value)
    assert "\n" not in msg
    for w in words:
        assert w in msg, msg
