"""gradsim sweep and export: grid, seeds, store, resume, executors, table, figures."""

import csv
import io
import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import gradsim
from gradsim.sweeps import Grid, Store, aggregate, derive_seed, execute, plan, records
from gradsim.sweeps.executors import Processes, Serial
from gradsim.sweeps.store import FILENAME

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "grids"
SMALL = ("--width", 8, "--batch", 4)


def sweep(invoke, out, *args):
    r = invoke("sweep", *SMALL, "--out", out, "--jobs", 1, *args)
    assert r.exit_code == 0, r.stderr
    # no progress bar when not on a terminal; only where the figure went, if one was drawn
    assert all(line.startswith("figure: ") for line in r.stderr.splitlines()), r.stderr
    return r


def rows(out) -> dict:
    """(point, seed) → the stored row, as text."""
    with sqlite3.connect(Path(out) / FILENAME) as c:
        return {(r[0], r[1]): r for r in c.execute("SELECT * FROM runs")}


def one_line_error(r, *words):
    assert r.exit_code == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gradsim: error:"), r.stderr
    for w in words:
        assert w in lines[0], lines[0]


# ---------------------------------------------------------------- grid and seeds


def test_grid_is_the_cartesian_product():
    axes = {"depth": (3, 5), "init": ("he", "xavier", "normal"), "activation": ("relu", "tanh"),
            "gain": (0.5, 1.25, 2.0)}  # fmt: skip
    g = Grid(axes, seeds=4, seed=3)
    runs = g.runs()
    got = [(r.config.depth, r.config.init, r.config.activation, r.config.gain, r.replica)
           for r in runs]  # fmt: skip
    inits = ("he_normal", "xavier_uniform", "normal")
    want = list(itertools.product((3, 5), inits, ("relu", "tanh"), (0.5, 1.25, 2.0), range(4)))
    assert got == want and len(runs) == g.size == 2 * 3 * 2 * 3 * 4
    # one seed per shape (depth here) and replica, shared by the points of that shape
    seeds = {}
    for r in runs:
        seeds.setdefault((r.config.depth, r.replica), set()).add(r.config.seed)
    assert all(len(s) == 1 for s in seeds.values()) and len(seeds) == 2 * 4
    assert len({s.pop() for s in seeds.values()}) == 2 * 4


def test_seeds_depend_only_on_the_point_master_and_replica():
    a = Grid({"depth": (3, 5), "gain": (0.5, 1.0)}, seeds=2, seed=1).runs()
    b = Grid({"gain": (1.0, 2.0, 0.5), "depth": (7, 5)}, seeds=3, seed=1).runs()
    seeds_b = {(r.point, r.replica): r.config.seed for r in b}
    common = [r for r in a if (r.point, r.replica) in seeds_b]
    assert len(common) == 2 * 2  # depth 5, gains 0.5 and 1.0, replicas 0 and 1
    assert all(seeds_b[(r.point, r.replica)] == r.config.seed for r in common)
    cfg = a[0].config
    assert derive_seed(2, cfg, 0) != derive_seed(1, cfg, 0) != derive_seed(1, cfg, 1)
    for shape in ({"width": 65}, {"batch": 64}, {"widths": (64, 32, 32, 8)}):
        assert derive_seed(1, replace(cfg, **shape), 0) != derive_seed(1, cfg, 0)
    for same in (
        {"gain": 3.0},
        {"init": "orthogonal"},
        {"activation": "tanh"},
        {"dtype": "float64"},
        {"loss": "probe"},
        {"bias_init": "normal"},
    ):
        assert derive_seed(1, replace(cfg, **same), 0) == derive_seed(1, cfg, 0)


@pytest.mark.parametrize("chunk", [None, 7, 1000])
def test_tasks_split_every_run_once_in_even_parts_of_one_shape(chunk):
    from gradsim.network import shape_key
    from gradsim.sweeps.tasks import make_tasks, seconds

    g = Grid({"depth": (4, 6), "width": 16, "batch": 8, "activation": ("relu", "tanh"),
              "gain": tuple(0.5 + 0.1 * i for i in range(9))}, seeds=3)  # fmt: skip
    runs = g.runs()
    tasks = make_tasks(runs, workers=2, chunk=chunk)
    got = [(r.point, r.replica) for t in tasks for r in t]
    assert sorted(got) == sorted((r.point, r.replica) for r in runs)  # each run exactly once
    by_shape: dict = {}
    for t in tasks:
        assert len({shape_key(r.config) for r in t}) == 1
        assert [r.replica for r in t] == sorted(r.replica for r in t)  # a replica together
        by_shape.setdefault(shape_key(t[0].config), []).append(len(t))
    for sizes in by_shape.values():
        assert max(sizes) - min(sizes) <= 1 and (chunk is None or max(sizes) <= chunk)
    if chunk is None:  # at least five tasks per worker
        assert len(tasks) >= 10
    cost = [seconds(t[0].config) * len(t) for t in tasks]
    assert cost == sorted(cost, reverse=True)  # longest first


def test_ranges_keep_common_values_exactly():
    g16 = Grid({"gain": tuple(float(x) for x in __import__("numpy").linspace(0.5, 2, 16))})
    g31 = Grid({"gain": tuple(float(x) for x in __import__("numpy").linspace(0.5, 2, 31))})
    assert set(g16.axes["gain"]) <= set(g31.axes["gain"]) and 0.6 in g16.axes["gain"]


# ---------------------------------------------------------------- records


def test_each_record_equals_gradsim_run(invoke, tmp_path):
    out = tmp_path / "s"
    # the first two stack, the wide one runs alone (a stack of one)
    sweep(invoke, out, "--depth", "3,6", "--init", "he,normal", "--act", "tanh",
          "--gain", "0.5:1.5:2", "--seeds", 2, "--bias-init", "normal")  # fmt: skip
    sweep(invoke, out, "--depth", 2, "--width", 300, "--batch", 250)
    with Store.open(out, create=False) as st:
        recs = list(st.records())
    assert len(recs) == 2 * 2 * 2 * 2 + 1
    for rec in recs:
        c = rec["config"]
        args = ["--depth", c["depth"], "--width", c["width"], "--batch", c["batch"],
                "--init", c["init"], "--act", c["activation"], "--gain", repr(c["gain"]),
                "--seed", rec["seed"]]  # fmt: skip
        if c["bias_init"] != "zeros":
            args += ["--bias-init", c["bias_init"]]
        run = json.loads(invoke("run", *args, "--format", "json").stdout)
        assert run["config"] == c
        summary = dict(run["summary"])
        summary.pop("sentences")
        assert summary == rec["summary"]
        for field, values in rec["layers"].items():
            assert [layer[field] for layer in run["layers"]] == values


def test_jobs_and_dask_give_identical_records(invoke, tmp_path):
    distributed = pytest.importorskip("distributed")
    # four stacks of six runs (one shape each): every executor computes them stacked
    args = ("--depth", "3,9", "--init", "he,xavier", "--act", "relu,tanh", "--seeds", 3)
    sweep(invoke, tmp_path / "j1", *args)
    r = invoke("sweep", *SMALL, *args, "--out", tmp_path / "j2", "--jobs", 2)
    assert r.exit_code == 0, r.stderr
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster:  # fmt: skip
        r = invoke("sweep", *SMALL, *args, "--out", tmp_path / "dk",
                   "--scheduler", cluster.scheduler_address)  # fmt: skip
        assert r.exit_code == 0, r.stderr
        # resume works the same on the cluster: nothing left to do
        again = invoke("sweep", *SMALL, *args, "--out", tmp_path / "dk",
                       "--scheduler", cluster.scheduler_address)  # fmt: skip
        assert "(0 new, 24 stored)" in again.stdout
    strip = lambda rs: {k: v[:4] + v[5:] for k, v in rs.items()}  # noqa: E731
    one, two, dask = (strip(rows(tmp_path / d)) for d in ("j1", "j2", "dk"))
    assert len(one) == 2 * 2 * 2 * 3 and one == two == dask
    # and the exported files are the same, whichever order the workers finished in
    exports = {invoke("export", tmp_path / d).stdout for d in ("j1", "j2", "dk")}
    assert len(exports) == 1


def test_worker_processes_use_one_blas_thread_each():
    from threadpoolctl import threadpool_limits

    from gradsim.sweeps.tasks import worker_info
    from gradsim.threads import blas_threads

    if blas_threads() is None:
        pytest.skip("BLAS thread count not readable here")
    with threadpool_limits(limits=2, user_api="blas"):  # what a forked worker inherits
        assert blas_threads() == 2
        ex = Processes(2)
        infos = list(ex.run(_info, [worker_info] * 4))
    assert {i["blas_threads"] for i in infos} == {1}
    assert all(i["pid"] != os.getpid() for i in infos)


def _info(fn):
    return fn()


def _faults_of_a_second_array(_) -> tuple[int, int]:
    """Page faults of writing a 16 MB array, then another after freeing the first."""
    import resource

    import numpy as np

    out = []
    for _ in range(2):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        a = np.ones(2 * 2**20)
        out.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
        del a
    return out[0], out[1]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_workers_reuse_freed_memory_without_new_page_faults():
    # the first array faults its pages in (fewer than 4096 with huge pages); the second
    # reuses them, where by default it is mapped and faulted in afresh
    first, second = next(iter(Processes(2).run(_faults_of_a_second_array, [0])))
    assert first > 0 and second * 4 < first, (first, second)


# ---------------------------------------------------------------- the store


def test_rerun_skips_grid_growth_adds_force_replaces(invoke, tmp_path):
    out = tmp_path / "s"
    r = sweep(invoke, out, "--depth", "3,5", "--seeds", 2)
    assert "(4 new, 0 stored)" in r.stdout
    before = rows(out)
    r = sweep(invoke, out, "--depth", "3,5", "--seeds", 2)
    assert "(0 new, 4 stored)" in r.stdout and rows(out) == before
    r = sweep(invoke, out, "--depth", "3,5,7", "--seeds", 3)
    assert "(5 new, 4 stored)" in r.stdout
    after = rows(out)
    assert len(after) == 9 and all(after[k] == v for k, v in before.items())
    r = sweep(invoke, out, "--depth", "3,5,7", "--seeds", 3, "--force")
    assert "(9 new, 0 stored)" in r.stdout and len(rows(out)) == 9


def test_sigkill_keeps_finished_runs_and_rerun_completes(invoke, tmp_path):
    out = tmp_path / "s"
    args = ["sweep", "--depth", "60", "--width", "64", "--batch", "32", "--gain",
            "0.8:1.2:40", "--seeds", "3", "--chunk", "1", "--jobs", "2", "--out", str(out),
            "--no-table"]  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "gradsim", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    db = out / FILENAME
    deadline = time.monotonic() + 30
    done = 0
    while time.monotonic() < deadline and proc.poll() is None:
        if db.exists():
            try:
                with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
                    done = c.execute("SELECT count(*) FROM runs").fetchone()[0]
            except sqlite3.OperationalError:
                done = 0
            if done >= 5:
                break
        time.sleep(0.005)
    assert proc.poll() is None, f"the sweep ended before it could be killed ({done} runs)"
    os.kill(proc.pid, signal.SIGKILL)  # the parent: its workers must follow it
    proc.wait()
    deadline = time.monotonic() + 5
    while _processes_with(str(out)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _processes_with(str(out)), "worker processes outlived the killed sweep"
    with sqlite3.connect(db) as c:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    kept = rows(out)
    assert 5 <= len(kept) < 120
    r = invoke(*args[:-1], "--jobs", 1)  # the same command again (in-process), with the table
    assert r.exit_code == 0, r.stderr
    assert f"({120 - len(kept)} new, {len(kept)} stored)" in r.stdout
    final = rows(out)
    assert len(final) == 120 and all(final[k] == v for k, v in kept.items())
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT count(DISTINCT point || seed) FROM runs").fetchone()[0] == 120


def _processes_with(text: str) -> list[int]:
    """Live processes whose command line contains ``text`` (Linux /proc; [] elsewhere)."""
    pids = []
    for d in Path("/proc").glob("[0-9]*"):
        try:
            if text in (d / "cmdline").read_bytes().decode(errors="replace"):
                pids.append(int(d.name))
        except OSError:
            pass
    return pids


# ---------------------------------------------------------------- grid files


def test_grid_file_equals_the_command_line(invoke, tmp_path):
    f = tmp_path / "grid.toml"
    f.write_text('seeds = 2\nseed = 7\ndepth = [3, 5]\ninit = "he,xavier"\n'
                 'gain = {start = 0.5, stop = 1.5, count = 3}\nact = "tanh"\n'
                 "width = 8\nbatch = 4\n")  # fmt: skip
    sweep(invoke, tmp_path / "a", f)
    sweep(invoke, tmp_path / "b", "--seeds", 2, "--seed", 7, "--depth", "3,5", "--init",
          "he,xavier", "--gain", "0.5:1.5:3", "--act", "tanh")  # fmt: skip
    assert rows(tmp_path / "a") == rows(tmp_path / "b")
    # an option on the command line replaces the file's
    r = sweep(invoke, tmp_path / "c", f, "--depth", 4)
    assert "12 runs" in r.stdout and {k[0].count('"depth":4') for k in rows(tmp_path / "c")} == {1}


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.toml")), ids=lambda p: p.name)
def test_example_grids_run(invoke, tmp_path, path):
    # the example's other axes, shrunk: one seed, four layers of four units
    r = invoke("sweep", path, "--seeds", 1, "--depth", 4, "--width", 4, "--batch", 2,
               "--out", tmp_path, "--no-table", "--csv")  # fmt: skip
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "sweep.csv").stat().st_size > 0


# ---------------------------------------------------------------- output


def test_table_fits_80_columns_and_aggregates(invoke, tmp_path):
    r = sweep(invoke, tmp_path, "--depth", "3,6", "--init", "he,xavier", "--act", "relu,tanh",
              "--gain", "0.5:2.0:5", "--seeds", 3)  # fmt: skip
    lines = r.stdout.splitlines()
    assert max(map(len, lines)) <= 80
    head = next(ln.split() for ln in lines if ln.split()[:1] == ["depth"])
    assert head == ["depth", "act", "init", "gain", "n", "median", "IQR", "vanish", "explode",
                    "overflow"]  # fmt: skip
    assert sum(1 for ln in lines if ln.split()[:1] in (["3"], ["6"])) == 2 * 2 * 2 * 5


def test_a_long_table_runs_points_of_one_verdict_together(invoke, tmp_path):
    """Beyond MAX_ROWS points, one row per run of gains with one majority verdict: the runs
    cover every point once, in order, and each holds points of one verdict."""
    from gradsim.report.tables.sweep import MAX_ROWS, _verdict, verdict_runs

    r = sweep(invoke, tmp_path, "--depth", "3,12", "--init", "he,xavier,normal", "--act",
              "relu,tanh", "--gain", "0.5:2.0:16", "--seeds", 3)  # fmt: skip
    lines = r.stdout.splitlines()
    assert max(map(len, lines)) <= 80
    head = next(ln.split() for ln in lines if ln.split()[:1] == ["depth"])
    assert head == ["depth", "act", "init", "gain", "points", "median", "verdict"]
    agg = gradsim.sweep(depth="3,12", init="he,xavier,normal", activation="relu,tanh",
                        gain="0.5:2.0:16", seeds=3, out=tmp_path, jobs=1).aggregate  # fmt: skip
    assert len(agg["points"]) > MAX_ROWS
    runs = verdict_runs(agg)
    assert [i for run in runs for i in run] == list(range(len(agg["points"])))
    for run in runs:
        assert len({_verdict(agg["points"][i])[0] for i in run}) == 1
        assert len({repr({k: v for k, v in agg["points"][i]["values"].items() if k != "gain"})
                    for i in run}) == 1  # fmt: skip
    rows = [ln for ln in lines if ln.split()[:1] in (["3"], ["12"])]
    assert len(rows) == len(runs) < len(agg["points"])
    assert sum(int(ln.split()[4]) for ln in rows) == len(agg["points"])


def test_axis_values_get_the_digits_that_tell_them_apart():
    from gradsim.report.labels import axis_digits, value_text

    xs = np.linspace(0.5, 2.0, 200).tolist()
    d = axis_digits(xs)
    assert len({value_text(x, d) for x in xs}) == 200
    assert axis_digits([0.5, 1.0, 1.5]) == 3


def test_aggregate_over_seeds(tmp_path):
    g = Grid({"depth": (30,), "init": ("xavier", "he"), "width": (16,), "batch": (8,)}, seeds=5)
    with Store.open(tmp_path) as st:
        p = plan(g, st)
        list(execute(p, st, Serial()))
        recs = records(p, st)
    agg = aggregate(g, recs)
    assert agg["axes"] == {"init": ["xavier_uniform", "he_normal"]}
    for point in agg["points"]:
        mine = sorted(r["summary"]["log10_delta_ratio"] for r in recs
                      if r["config"]["init"] == point["values"]["init"])  # fmt: skip
        assert point["runs"] == 5 and point["median"] == mine[2]
        assert point["min"] == mine[0] and point["max"] == mine[4]
        verdicts = [r["summary"]["verdict"] for r in recs
                    if r["config"]["init"] == point["values"]["init"]]  # fmt: skip
        assert point["vanishing"] == verdicts.count("vanishing") / 5
    # Xavier loses √2 per ReLU layer; He keeps δ, up to finite-width luck
    assert agg["points"][0]["vanishing"] == 1.0 and agg["points"][1]["stable"] >= 0.6


def test_heatmap_and_lines_show_the_aggregated_numbers(tmp_path):
    pytest.importorskip("matplotlib")
    from matplotlib.collections import PolyCollection, QuadMesh

    from gradsim.report.figures.sweep import plot_sweep

    g = Grid({"depth": (3, 8, 20), "gain": (0.6, 1.0, 1.4, 1.8), "activation": ("relu", "tanh"),
              "init": ("xavier",), "width": (8,), "batch": (4,)}, seeds=3)  # fmt: skip
    with Store.open(tmp_path) as st:
        p = plan(g, st)
        list(execute(p, st, Serial()))
        agg = aggregate(g, records(p, st))
    median = {(pt["values"]["depth"], pt["values"]["gain"], pt["values"]["activation"]):
              pt["median"] for pt in agg["points"]}  # fmt: skip
    fig = plot_sweep(agg, "depth", "gain")
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    meshes = [(ax, c) for ax in panels for c in ax.collections if isinstance(c, QuadMesh)]
    assert len(meshes) == 2
    for (ax, mesh), act in zip(meshes, ("relu", "tanh"), strict=True):
        assert ax.get_title() == f"act={act}"
        data = mesh.get_array().reshape(4, 3)  # rows: gain, columns: depth
        for (i, gain), (j, depth) in itertools.product(enumerate((0.6, 1.0, 1.4, 1.8)),
                                                       enumerate((3, 8, 20))):  # fmt: skip
            assert data[i, j] == median[(depth, gain, act)]
        assert mesh.norm(0.0) == 0.5  # the diverging map is centred on 0
    fig = plot_sweep(agg, "gain")
    ax = fig.axes[0]
    lines = [ln for ln in ax.get_lines() if ln.get_label() in ("depth=3 act=relu",)]
    assert list(lines[0].get_ydata()) == [median[(3, g_, "relu")] for g_ in (0.6, 1.0, 1.4, 1.8)]
    assert sum(isinstance(c, PolyCollection) for c in ax.collections) == 6  # IQR bands
    # the registry draws an aggregate too, its axes passed on
    from gradsim.report.figures.registry import plot_result

    again = plot_result(agg, x="gain").axes[0]
    assert [ln.get_label() for ln in again.get_lines()] == [ln.get_label() for ln in ax.get_lines()]


def test_plot_csv_and_export(invoke, tmp_path):
    out = tmp_path / "s"
    r = sweep(invoke, out, "--depth", "3,5", "--gain", "0.5,1", "--seeds", 2, "--csv",
              "--plot", out / "map.png", "--x", "depth", "--y", "gain")  # fmt: skip
    assert (out / "map.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = list(csv.DictReader(io.StringIO((out / "sweep.csv").read_text())))
    assert len(table) == 8 and {"replica", "seed", "depth", "gain", "verdict",
                                "log10_delta_ratio"} <= set(table[0])  # fmt: skip
    assert all(float(row["log10_delta_ratio"]) == float(row["log10_delta_ratio"]) for row in table)
    r = invoke("export", out, "--format", "json")
    d = json.loads(r.stdout)
    assert d["kind"] == "sweep-records" and len(d["records"]) == 8
    r = invoke("export", out, "--layers", "-o", tmp_path / "layers.csv")
    long = list(csv.DictReader(io.StringIO((tmp_path / "layers.csv").read_text())))
    assert len(long) == 2 * 2 * (3 + 5) and set(long[0]) == {
        "run",
        "layer",
        "log10_act_rms",
        "log10_delta_rms",
        "log10_grad_norm",
    }
    # the configuration is written once per run, in the runs' export, joined on run
    runs = {row["run"]: row for row in csv.DictReader(io.StringIO(invoke("export", out).stdout))}
    assert sorted(runs, key=int) == [str(i) for i in range(1, 9)]
    for run_id, row in runs.items():
        layers = [r["layer"] for r in long if r["run"] == run_id]
        assert layers == [str(l) for l in range(1, int(row["depth"]) + 1)]
        assert row["widths"] == "x".join([row["width"]] * (int(row["depth"]) + 1))
        assert row["residual"] == "false" and row["truncated"] == "false"
    records = json.loads(invoke("export", out, "--format", "json").stdout)["records"]
    for run_id, rec in enumerate(records, start=1):  # the same runs, in the same order
        mine = [r for r in long if r["run"] == str(run_id)]
        got = [float(r["log10_delta_rms"]) for r in mine]
        assert got == pytest.approx(rec["layers"]["log10_delta_rms"], rel=1e-15)
        assert runs[str(run_id)]["seed"] == str(rec["seed"])
    assert invoke("export", out).stdout == (out / "sweep.csv").read_text()


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "args, words",
    [
        (("--init", ","), "empty"),
        (("--gain", "1:2:0"), "count must be from 1 to"),
        (("--seed", "1,2"), "master seed"),
        (("--seeds", 0), "--seeds"),
        (("--depth", "3,5", "--plot", "x.png", "--x", "gain"), "does not vary"),
        (("--y", "depth"), "--y needs --x"),
        (("--jobs", 0), "--jobs"),
        (("--depth", "2,3", "--gain", "1:2:10", "--max-runs", 5), "--max-runs"),
    ],
)
def test_bad_input_one_line_nothing_lost(invoke, tmp_path, args, words):
    sweep(invoke, tmp_path, "--depth", 3)
    before = rows(tmp_path)
    r = invoke("sweep", *SMALL, "--out", tmp_path, "--jobs", 1, *args)
    one_line_error(r, words)
    assert rows(tmp_path) == before


@pytest.mark.parametrize(
    "text, words",
    [
        ("depth = [3]\ngian = [1.0]\n", "unknown key 'gian'; did you mean 'gain'"),
        ("depth = []\n", "depth is empty"),
        ('gain = "0.5:2:0"\n', "count must be from 1 to"),
        ("depth = [3.5]\n", "whole numbers"),
        ("seeds = 0\n", "seeds"),
        ("depth = [3\n", "not valid TOML"),
    ],
)
def test_bad_grid_files(invoke, tmp_path, text, words):
    f = tmp_path / "grid.toml"
    f.write_text(text)
    one_line_error(invoke("sweep", f, "--out", tmp_path / "s", "--jobs", 1), words)


def test_store_of_another_grid_version_is_refused(invoke, tmp_path):
    sweep(invoke, tmp_path, "--depth", "3,4")
    with sqlite3.connect(tmp_path / FILENAME) as c:
        c.execute("UPDATE meta SET value = '0/00000000' WHERE key = 'grid_version'")
    before = rows(tmp_path)
    one_line_error(invoke("sweep", *SMALL, "--depth", "3,4,5", "--out", tmp_path), "grid version")
    assert rows(tmp_path) == before
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / FILENAME).write_text("not a database, just text\n" * 100)
    one_line_error(invoke("sweep", *SMALL, "--out", tmp_path / "x"), "not")


def test_unreachable_scheduler_fails_fast(invoke, tmp_path):
    pytest.importorskip("distributed")
    import socket

    sweep(invoke, tmp_path, "--depth", 3)
    before = rows(tmp_path)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t = time.monotonic()
    r = invoke("sweep", *SMALL, "--depth", "3,4", "--out", tmp_path,
               "--scheduler", f"tcp://127.0.0.1:{port}", "--connect-timeout", 1)  # fmt: skip
    assert time.monotonic() - t < 10
    one_line_error(r, "cannot reach the Dask scheduler", str(port))
    assert rows(tmp_path) == before


def test_sweep_core_imports_no_presentation_libraries():
    code = (
        "import sys, gradsim.sweeps, gradsim.sweeps.tasks, gradsim.simulation; "
        "print(sorted(m for m in ('click', 'rich', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    assert out.strip() == "[]"


def test_residual_norm_and_lsuv_records_equal_gradsim_run(invoke, tmp_path):
    """Residual, normalized and LSUV networks run stacked like plain ones, with the very
    numbers of `gradsim run`; a grid file sweeps the --residual flag on and off."""
    from gradsim.simulation import stacks_of
    from gradsim.sweeps.gridfile import grid_of

    f = tmp_path / "grid.toml"
    f.write_text('residual = [false, true]\nnorm = "none,layer"\ninit = "he,lsuv"\n'
                 "depth = 5\nwidth = 8\nbatch = 6\n")  # fmt: skip
    configs = [r.config for r in grid_of(str(f)).runs()]
    shared = [g for g in stacks_of(configs) if len(g) > 1]
    assert any(configs[g[0]].residual or configs[g[0]].norm for g in shared)
    out = tmp_path / "s"
    sweep(invoke, out, f)
    with Store.open(out, create=False) as st:
        recs = list(st.records())
    assert len(recs) == 8
    assert {(r["config"]["residual"], r["config"]["norm"]) for r in recs} == {
        (False, None), (False, "layer"), (True, None), (True, "layer")}  # fmt: skip
    for rec in recs:
        c = rec["config"]
        args = ["--depth", c["depth"], "--width", c["width"], "--batch", c["batch"],
                "--init", c["init"], "--norm", c["norm"] or "none",
                "--seed", rec["seed"]]  # fmt: skip
        args += ["--residual"] if c["residual"] else []
        run = json.loads(invoke("run", *args, "--format", "json").stdout)
        assert run["config"] == c
        for field, values in rec["layers"].items():
            assert [layer[field] for layer in run["layers"]] == values


def test_aggregate_quantiles_are_numpys_per_point_for_any_count():
    # points with 1, 2, 3 finite ratios and one with none: one percentile call per count
    records = []
    for point, values in (("a", [0.5]), ("b", [1.0, -2.0]), ("c", [3.0, 0.25, -1.5]),
                          ("d", [None, None]), ("e", [0.1, 0.7])):  # fmt: skip
        for v in values:
            records.append({"point": point, "summary": {"log10_delta_ratio": v,
                                                        "verdict": "stable"}})  # fmt: skip
    import numpy as np

    from gradsim.sweeps.aggregate import quantiles

    rows = [{} for _ in range(5)]
    ratios = [[r["summary"]["log10_delta_ratio"] for r in records
               if r["point"] == p and r["summary"]["log10_delta_ratio"] is not None]
              for p in "abcde"]  # fmt: skip
    quantiles(rows, ratios)
    for row, r in zip(rows, ratios, strict=True):
        if not r:
            assert row == {}
            continue
        q = np.percentile(np.asarray(r), [0, 25, 50, 75, 100])
        assert [row[k] for k in ("min", "q25", "median", "q75", "max")] == q.tolist()


def test_a_small_sweep_runs_in_this_process_unless_jobs_are_asked(tmp_path, monkeypatch):
    from gradsim.sweeps import Session
    from gradsim.sweeps.executors import Processes, Serial

    g = Grid({"depth": (3,), "width": (4,), "batch": (2,), "gain": (0.5, 1.0)}, seeds=1)
    monkeypatch.setattr("gradsim.sweeps.executors.cpu_count", lambda: 2)
    with Session(g, tmp_path / "auto") as s:  # far less work than starting workers
        assert isinstance(s.executor, Serial)
    with Session(g, tmp_path / "asked", jobs=2) as s:
        assert isinstance(s.executor, Processes) and s.executor._pool is not None


def test_a_point_whose_seeds_underflowed_reads_underflowed():
    """Every stored verdict's share counts, underflowed included (not stable by default)."""
    from gradsim.report.tables.sweep import _verdict

    shares = dict.fromkeys(("stable", "vanishing", "exploding", "overflow"), 0.0)
    assert _verdict({**shares, "underflowed": 1.0}) == ("underflowed", 1.0)
    assert _verdict({**shares, "stable": 0.25, "vanishing": 0.75}) == ("vanishing", 0.75)
    assert _verdict(dict.fromkeys((*shares, "underflowed"))) is None


def test_api_sweep_checks_its_options_with_the_grid_files_axes(tmp_path):
    """--std applies to the grid file's init = ["normal"]: accepted from Python as from the
    command line (the options were once checked alone, against he_normal, and refused)."""
    import gradsim

    grid = tmp_path / "g.toml"
    grid.write_text('init = ["normal"]\ndepth = [2]\nwidth = [4]\nbatch = [2]\n')
    r = gradsim.sweep(grid, std=0.05, out=tmp_path / "s", jobs=1)
    assert [rec["config"]["std"] for rec in r.records] == [0.05]


@pytest.mark.parametrize(
    "sent",
    [[{"point": "p", "seed": 1, "gradsim": "0.0.1"}], [{"point": "p"}], [("p", 1)]],
)
def test_workers_of_another_version_are_named_not_a_traceback(tmp_path, sent):
    """A worker of an older gradsim (a Dask cluster's) sends its records as dicts: the sweep
    stops with the version line, whatever shape they have."""
    from gradsim.errors import GradsimError
    from gradsim.sweeps import Grid, Store, execute, plan

    class Old:  # an executor whose workers run another version
        workers, label = 1, "old"

        def run(self, fn, tasks):
            return iter([sent])

        def close(self):
            pass

    with Store.open(tmp_path / "s") as store:
        p = plan(Grid({"depth": (3,), "width": (4,), "batch": (2,)}), store)
        with pytest.raises(GradsimError, match="the workers run gradsim"):
            list(execute(p, store, Old()))


def test_a_grids_points_are_made_once_for_its_axes(monkeypatch):
    from gradsim.sweeps import Grid

    made = []
    real = Grid._make_points
    monkeypatch.setattr(Grid, "_make_points", lambda self: made.append(1) or real(self))
    g = Grid({"depth": (2, 3), "width": (4,)})
    first = g.points()
    first.clear()  # a caller's own list
    assert len(g.points()) == len(g.runs()) == 2 and len(made) == 1
    g.axes["depth"] = (2, 3, 4)  # the axes changed: made again
    assert len(g.points()) == 3 and len(made) == 2


def test_a_record_encoded_by_a_worker_reads_back_as_it_was(tmp_path):
    """encode → Store.add → records: the stored run is the record a worker made, nulls
    (a ratio beyond float64, a layer's missing norm) and the configuration included."""
    from gradsim.simulation import simulate_many
    from gradsim.sweeps import Grid, Store, execute, plan, records
    from gradsim.sweeps.executors import Serial
    from gradsim.sweeps.store import Row, encode
    from gradsim.sweeps.tasks import record, run_task

    g = Grid({"depth": (3,), "width": (4,), "batch": (2,), "init": ("zeros", "he")})
    runs = g.runs()
    rows = run_task(runs)
    assert all(isinstance(r, Row) for r in rows)
    results = simulate_many([r.config for r in runs], moments=False)
    made = [record(r, res) for r, res in zip(runs, results, strict=True)]
    assert rows == [encode(m) for m in made]
    with Store.open(tmp_path / "s") as store:
        p = plan(g, store)
        list(execute(p, store, Serial()))
        back = records(p, store)
    for m, b in zip(made, back, strict=True):
        assert {k: b[k] for k in m} == m
