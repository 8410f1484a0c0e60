"""Property-based fuzzing of every command (issue 13): random option values and combinations,
odd numbers, odd files and odd paths, run in-process through click's CliRunner. Whatever
the input: an exit code in {0, 2, 3}, never a traceback (nor the group's last-resort
"internal error" line) or a Python warning, exactly one line on stderr for exit code 2, and
no file left behind by a failure.

The examples are few and the networks small, so that the suite takes well under a minute;
``derandomize`` makes every run try the same cases."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradsim.activations import ACTIVATIONS
from gradsim.cli import cli
from gradsim.initializers import INITIALIZERS

NUMBERS = ["0", "1", "2", "-1", "0.5", "nan", "inf", "-inf", "1e308", "-1e308", "1e-320",
           "99999999999999999999", str(2**63), "1e30", "", "abc", "1,2", "0:1:3", "nan:5:3",
           "0:inf:3", "1:2:0", "0:1:99999999999", "1.5:2.5:2", ",,"]  # fmt: skip
SMALL_INTS = ["1", "2", "3", "0", "-2", "99999999999999999999", "1e3", "2,3", "1:3:2"]
NAMES = [*ACTIVATIONS, *INITIALIZERS, "he", "xavier", "nope", "", "RELU", "he,xavier"]
PATHS = ["out.json", "out.png", "out.csv", "out.npz", "dir", "missing/x.png", "", "run.json",
         "bad.json", "latin1.toml", "grid.toml", "store", "store/sweep.db", "null", "link.png",
         "ro.json"]  # fmt: skip

NETWORK = {
    "--depth": SMALL_INTS, "--width": SMALL_INTS, "--batch": SMALL_INTS, "--widths": ["2,3",
    "3,3,3", "1", "x", "2,0", ""], "--act": NAMES, "--init": NAMES, "--gain": NUMBERS,
    "--slope": NUMBERS, "--std": NUMBERS, "--low": NUMBERS, "--high": NUMBERS,
    "--value": NUMBERS, "--bias-init": ["zeros", "normal", "constant", "uniform", "x"],
    "--bias-std": NUMBERS, "--bias-value": NUMBERS, "--loss": ["mse", "probe", "sum", "x"],
    "--residual-scale": NUMBERS, "--norm": ["none", "batch", "layer", "x"],
    "--seed": NUMBERS, "--dtype": ["float32", "float64", "float16", "int8"],
    "--threshold": NUMBERS, "--mode": ["fan_in", "fan_out", "fan_avg", "x"],
}  # fmt: skip
FLAGS = ["--truncated", "--residual"]
OUTPUT = {"-o": PATHS, "--format": ["table", "json", "csv", "x"]}


def _without(*names: str) -> dict:
    return {k: v for k, v in NETWORK.items() if k not in names}


COMMANDS = {
    "run": ({**NETWORK, **OUTPUT, "--plot": PATHS, "--save-net": PATHS,
             "--fail-on": ["vanishing", "x", ""]}, [*FLAGS, "--hist", "--theory", "--all-layers"]),
    "compare": ({**NETWORK, **OUTPUT, "--plot": PATHS, "--max-configs": SMALL_INTS}, FLAGS),
    "sweep": ({**NETWORK, "--seeds": SMALL_INTS, "--out": PATHS, "--plot": PATHS,
               "--x": ["depth", "gain", "x"], "--y": ["gain", "x"], "--chunk": SMALL_INTS,
               "--max-runs": SMALL_INTS, "--jobs": ["1", "0", "-1", "x", "99999999999999999999"]},
              [*FLAGS, "--csv", "--force", "--no-table"]),
    "export": ({"-o": PATHS, "--format": ["csv", "json", "x"]}, ["--layers"]),
    "train": ({**_without("--widths", "--loss", "--threshold"),
               **OUTPUT, "--plot": PATHS, "--steps": SMALL_INTS, "--samples": SMALL_INTS,
               "--lr": NUMBERS, "--optimizer": ["sgd", "adam", "momentum", "x", "sgd,adam"],
               "--momentum": NUMBERS, "--beta1": NUMBERS, "--eps": NUMBERS,
               "--clip-norm": NUMBERS, "--log-every": SMALL_INTS,
               "--task": ["teacher", "blobs", "circles", "x"]}, FLAGS),
    "theory": ({**_without("--seed", "--dtype", "--norm", "--residual-scale", "--threshold"),
                "-o": PATHS, "--format": ["table", "json"], "--sigma-w": NUMBERS,
                "--sigma-b": NUMBERS}, ["--truncated", "--all-layers"]),
    "spectrum": ({**_without("--loss", "--dtype", "--norm", "--residual-scale", "--threshold",
                             "--batch"),
                  "-o": PATHS, "--plot": PATHS, "--inputs": SMALL_INTS}, ["--truncated"]),
    "phase": ({"--act": NAMES, "--slope": NUMBERS, "--width": SMALL_INTS, "-o": PATHS,
               "--sigma-w2": ["0:4", "1:0", "nan:1", "0:1e308", "a", ""],
               "--sigma-b2": ["0:0.25", "0:inf", "x"], "--grid": ["2", "3", "1", "x"],
               "--overlay": PATHS, "--data": PATHS}, []),
    "plot": ({"-o": PATHS}, []),
    "list": ({}, []),
}  # fmt: skip
ARGUMENTS = {"sweep": ["grid.toml", "latin1.toml", "bad.json", "missing.toml"],
             "export": ["store", "dir", "", "missing", "bad.json", "damaged"],
             "plot": ["run.json", "bad.json", "list.json", "wrong.json", "latin1.toml",
                      "dir", "", "store/sweep.db"]}  # fmt: skip
# what keeps each example small and quick, overridden by the drawn options
BASE = {"run": ["--depth", "2", "--width", "3", "--batch", "2"],
        "compare": ["--depth", "2", "--width", "3", "--batch", "2"],
        "sweep": ["--depth", "2", "--width", "3", "--batch", "2", "--jobs", "1", "--out", "sw",
                  "--no-progress"],
        "train": ["--depth", "2", "--width", "3", "--batch", "2", "--steps", "2", "--samples",
                  "8"],
        "theory": ["--depth", "3"], "spectrum": ["--depth", "2", "--width", "3"],
        "phase": ["--grid", "3", "-o", "phase.png"], "plot": ["-o", "fig.png"]}  # fmt: skip


@st.composite
def command_lines(draw):
    name = draw(st.sampled_from(sorted(COMMANDS)))
    options, flags = COMMANDS[name]
    args = list(BASE.get(name, []))
    chosen = (
        draw(st.lists(st.sampled_from(sorted(options)), max_size=4, unique=True)) if options else []
    )
    if "--widths" in chosen and "--width" in args:  # else always the contradiction
        del args[args.index("--width") : args.index("--width") + 2]
    if name in ARGUMENTS:
        args.insert(0, draw(st.sampled_from(ARGUMENTS[name])))
    for opt in chosen:
        args += [opt, draw(st.sampled_from(options[opt]))]
    args += draw(st.lists(st.sampled_from(flags), max_size=2, unique=True)) if flags else []
    return [name, *args]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The inputs every example sees: results, damaged JSON, grid files, a store."""
    d = tmp_path_factory.mktemp("fuzz-inputs")
    runner = CliRunner()
    r = runner.invoke(cli, ["run", "--depth", "2", "--width", "3", "--batch", "2", "--format",
                            "json", "-o", str(d / "run.json")])  # fmt: skip
    assert r.exit_code == 0, r.stderr
    r = runner.invoke(cli, ["sweep", "--depth", "2,3", "--width", "3", "--batch", "2", "--jobs",
                            "1", "--out", str(d / "store"), "--no-table"])  # fmt: skip
    assert r.exit_code == 0, r.stderr
    (d / "bad.json").write_text('{"gradsim": "0.1.0", "kind": "run", "lay')
    (d / "list.json").write_text("[1, 2]")
    (d / "wrong.json").write_text('{"gradsim": 1, "kind": "compare", "runs": [1, {"x": 2}]}')
    (d / "latin1.toml").write_bytes(b'depth = [2]\nact = "r\xe9lu"\n')
    (d / "grid.toml").write_text("depth = [2, 3]\nwidth = 3\nbatch = 2\n")
    (d / "damaged").mkdir()
    (d / "damaged" / "sweep.db").write_bytes(b"SQLite format 3\x00" + b"\xff" * 5000)
    (d / "dir").mkdir()
    (d / "ro.json").write_text("{}")
    (d / "ro.json").chmod(0o444)
    try:
        os.mknod(d / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except OSError:
        (d / "null").write_text("")  # no mknod here: a plain file stands in
    (d / "link.png").symlink_to("out.png")
    return d


def _listing(d: Path) -> dict[str, tuple]:
    out = {}
    for p in d.rglob("*"):
        st_ = p.lstat()
        out[str(p.relative_to(d))] = (st_.st_mode, 0 if p.is_dir() else st_.st_size,
                                      st_.st_mtime_ns)  # fmt: skip
    return out


@settings(max_examples=400, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow,
                                 HealthCheck.function_scoped_fixture])  # fmt: skip
@given(argv=command_lines())
def test_every_command_fails_cleanly(files, argv):
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "w"
        shutil.copytree(files, work, symlinks=True)
        before = _listing(work)
        old = os.getcwd()
        os.chdir(work)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                r = CliRunner().invoke(cli, argv, catch_exceptions=True)
        finally:
            os.chdir(old)
        line = " ".join(repr(a) for a in argv)
        # a warning reaches the user's terminal as lines of its own (a random search once
        # met matplotlib's "constrained_layout not applied" from a saved figure)
        assert not caught, (line, [f"{w.category.__name__}: {w.message}" for w in caught])
        assert r.exit_code in (0, 2, 3), (line, r.exit_code, r.stderr, r.exception)
        if r.exception is not None and not isinstance(r.exception, SystemExit):
            raise AssertionError(f"{line}: {r.exception!r}") from r.exception
        assert "Traceback" not in r.stderr and "internal error" not in r.stderr, (line, r.stderr)
        if r.exit_code == 2:
            lines = r.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("gradsim: error: "), (line, r.stderr)
            assert _listing(work) == before, (line, "a failure left or changed files")


# ---------------------------------------------------------------- the Python API

ODD = [None, "x", "", 5, -1, 2.5, float("nan"), 10**30, True, [1], [[]], (), {}, b"x", object()]
API_SMALL = {"simulate": {"depth": 2, "width": 4, "batch": 2}, "compare": {"depth": 2,
             "width": 4, "batch": 2}, "spectrum": {"depth": 2, "width": 4, "batch": 2},
             "train": {"depth": 2, "width": 4, "batch": 2, "steps": 2, "samples": 8},
             "theory": {}, "phase": {"grid": 4}}  # fmt: skip


def _api_keywords():
    import inspect

    from gradsim import api

    for name in [*API_SMALL, "sweep"]:
        params = inspect.signature(getattr(api, name)).parameters
        for p in params:
            if p != "progress":
                yield name, p


@pytest.mark.parametrize("call", list(_api_keywords()), ids="-".join)
def test_every_api_keyword_refuses_odd_values_with_one_error(tmp_path, monkeypatch, call):
    """Any odd value of any keyword: a result or a GradsimError naming the problem, never a
    TypeError, AttributeError or ValueError from deep inside."""
    from gradsim import api
    from gradsim.errors import GradsimError

    monkeypatch.chdir(tmp_path)  # save_run="x" writes x
    name, key = call
    for value in ODD:
        kw = dict(API_SMALL.get(name, {"depth": 2, "width": 4, "batch": 2}))
        if name == "sweep":
            kw["out"] = tempfile.mkdtemp(dir=tmp_path)  # a fresh store: there is work to do
        kw[key] = value
        try:
            getattr(api, name)(**kw)
        except GradsimError as e:
            assert str(e) and "\n" not in str(e), (key, value, str(e))
