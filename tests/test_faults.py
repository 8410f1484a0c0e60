"""Faults (issue 13): damaged stores, read-only stores, outputs that are devices, FIFOs,
symbolic links, inputs or full disks, signals while a file is written, sweeps killed in the
main process or in a worker, and Dask clusters that lose their workers or scheduler. Each
ends as one line and exit code 2 (or, for a kill, a store a rerun completes), never with a
traceback, a lost row or a replaced file."""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from gradsim import files
from gradsim.sweeps.store import FILENAME

SMALL = ("--depth", 2, "--width", 4, "--batch", 2)
SWEEP = ("sweep", "--depth", "2,3", "--width", 4, "--batch", 2, "--jobs", 1, "--no-table")


def one_line(r, *words):
    assert r.exit_code == 2, (r.exit_code, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gradsim: error: "), r.stderr
    assert "internal error" not in lines[0], lines[0]
    for w in words:
        assert w in lines[0], lines[0]


def count(db) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        return c.execute("SELECT count(*) FROM runs").fetchone()[0]


def twin(tmp_path, name: str, minor: int) -> Path:
    """A character device like /dev/null (minor 3) or /dev/full (minor 7) in ``tmp_path``."""
    p = tmp_path / name
    try:
        os.mknod(p, 0o666 | stat.S_IFCHR, os.makedev(1, minor))
    except (PermissionError, OSError) as e:
        pytest.skip(f"mknod is not allowed here ({e.strerror}): no device twin to write to")
    return p


@pytest.fixture
def store(invoke, tmp_path):
    out = tmp_path / "s"
    r = invoke(*SWEEP, "--out", out)
    assert r.exit_code == 0, r.stderr
    return out


# ---------------------------------------------------------------- damaged stores


def _zero(db):
    db.write_bytes(b"")


def _no_table(db):
    with sqlite3.connect(db) as c:
        c.execute("DROP TABLE runs")


def _garbage(db):
    data = bytearray(db.read_bytes())  # every page after the schema's
    data[4096:] = random.Random(0).randbytes(len(data) - 4096)
    db.write_bytes(bytes(data))


def _malformed(db):
    with sqlite3.connect(db) as c:
        c.execute("UPDATE runs SET config = '{not json' WHERE rowid = 1")


@pytest.mark.parametrize("damage", [_zero, _no_table, _garbage, _malformed],
                         ids=["0 bytes", "missing table", "garbage", "malformed row"])  # fmt: skip
def test_damaged_stores_are_one_line_and_left_as_they_are(invoke, store, tmp_path, damage):
    db = store / FILENAME
    damage(db)
    before = db.read_bytes()
    r = invoke("export", store)
    one_line(r, str(db))
    r = invoke("export", store, "-o", tmp_path / "x.csv")
    one_line(r)
    assert not (tmp_path / "x.csv").exists()
    r = invoke(*SWEEP, "--out", store)
    if damage is _zero:  # an empty file holds nothing to lose: it becomes a store
        assert r.exit_code == 0, r.stderr
        return
    one_line(r, str(db))
    assert db.read_bytes() == before


# ---------------------------------------------------------------- read-only stores


def test_read_only_store_is_read_and_new_runs_are_refused(invoke, store, monkeypatch):
    real = os.access

    def access(p, mode):  # as on a read-only mount (root ignores permissions)
        return False if mode == os.W_OK and str(p).startswith(str(store)) else real(p, mode)

    monkeypatch.setattr("gradsim.sweeps.store.os.access", access)
    r = invoke("export", store)
    assert r.exit_code == 0 and len(r.stdout.splitlines()) == 3, r.stderr
    r = invoke(*SWEEP[:-1], "--out", store)  # nothing to compute: the table from the store
    assert r.exit_code == 0 and "(0 new, 2 stored)" in r.stdout, r.stderr
    r = invoke(*SWEEP, "--out", store, "--depth", "2,3,4")
    one_line(r, "read-only", "1 new run")
    assert count(store / FILENAME) == 2


def test_refused_sweep_leaves_no_store(invoke, tmp_path):
    out = tmp_path / "a" / "b"
    r = invoke(*SWEEP, "--out", out, "--plot", tmp_path / "x.txt", "--x", "depth")
    one_line(r, "figure")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- outputs


def test_outputs_that_are_inputs_or_each_other_are_refused(invoke, store, tmp_path):
    db = store / FILENAME
    before = db.read_bytes()
    one_line(invoke("export", store, "-o", db), "--output", "sweep store")
    one_line(invoke("export", store, "-o", f"{db}-wal"), "--output", "journal")
    (tmp_path / "link.csv").symlink_to(db)
    one_line(invoke("export", store, "-o", tmp_path / "link.csv"), "--output")
    one_line(invoke("run", *SMALL, "-o", db), "sweep store")
    assert db.read_bytes() == before
    res = tmp_path / "r.json"
    assert invoke("run", *SMALL, "--format", "json", "-o", res).exit_code == 0
    (tmp_path / "r.png").symlink_to(res)
    one_line(invoke("plot", res, "-o", tmp_path / "r.png"), "RESULT")
    one_line(invoke("run", *SMALL, "-o", tmp_path / "a.png", "--plot", tmp_path / "a.png"),
             "--plot", "--output")  # fmt: skip
    one_line(invoke("run", *SMALL, "-o", tmp_path / "x.npz", "--save-net", tmp_path / "x.npz"),
             "--save-net")  # fmt: skip
    one_line(invoke("phase", "--grid", 3, "-o", tmp_path / "p.png", "--data", tmp_path / "p.png"),
             "--data")  # fmt: skip
    grid = tmp_path / "g.toml"
    grid.write_text("depth = [2]\nwidth = 4\nbatch = 2\n")
    one_line(invoke("sweep", grid, "--out", tmp_path / "o", "--plot", grid), "GRID")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.toml", "link.csv", "r.json",
                                                           "r.png", "s"]  # fmt: skip


def test_devices_fifos_and_symlinks_are_written_through(invoke, tmp_path):
    null = twin(tmp_path, "null", 3)
    r = invoke("run", *SMALL, "--format", "json", "-o", null)
    assert r.exit_code == 0 and stat.S_ISCHR(null.stat().st_mode), r.stderr
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    r = invoke("run", *SMALL, "--format", "json", "-o", fifo)
    reader.join(10)
    assert r.exit_code == 0 and stat.S_ISFIFO(fifo.stat().st_mode), r.stderr
    assert got and got[0].startswith(b'{\n  "gradsim"')
    target = tmp_path / "target.json"
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target.name)
    r = invoke("run", *SMALL, "--format", "json", "-o", link)
    assert r.exit_code == 0 and link.is_symlink() and target.read_text().startswith("{")
    dangling = tmp_path / "dangling.json"
    dangling.symlink_to("new.json")
    assert invoke("run", *SMALL, "--format", "json", "-o", dangling).exit_code == 0
    assert dangling.is_symlink() and (tmp_path / "new.json").exists()
    names = ["dangling.json", "fifo", "link.json", "new.json", "null", "target.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == names


@pytest.mark.parametrize("args", [("--format", "json", "-o"), ("--plot",)])
def test_a_full_disk_is_one_line_and_leaves_the_device(invoke, tmp_path, args):
    full = twin(tmp_path, "full", 7)
    path = full
    if args == ("--plot",):
        path = tmp_path / "full.png"
        path.symlink_to(full)
    r = invoke("run", *SMALL, *args, path)
    one_line(r, "No space left")
    assert stat.S_ISCHR(full.stat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({"full", path.name})


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGHUP"])
def test_signals_while_writing_leave_no_temporary_file(tmp_path, sig):
    out = tmp_path / "out.bin"
    out.write_bytes(b"old")

    def writer(f):
        f.write(b"x" * 100_000)
        os.kill(os.getpid(), getattr(signal, sig))
        time.sleep(1)  # the handler runs here
        f.write(b"never")

    with files.cleanup_on_signals(), pytest.raises(KeyboardInterrupt):
        files.write_atomic(out, writer=writer)
    assert out.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["out.bin"]


# ---------------------------------------------------------------- killed sweeps

BIG = ("sweep", "--depth", "40", "--width", "64", "--batch", "32", "--gain", "0.8:1.2:30",
       "--chunk", "1", "--no-table", "--no-progress")  # fmt: skip


def _start(out, *extra):
    return subprocess.Popen([sys.executable, "-m", "gradsim", *BIG, "--out", str(out), *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONFAULTHANDLER": "1"})  # fmt: skip


def _wait_rows(db, proc, n: int, limit: float = 30) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if count(db) >= n:
                return
        except sqlite3.Error:
            pass
        time.sleep(0.01)
    pytest.fail(f"the sweep ended or stalled before {n} runs: {proc.poll()}")


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(x) for x in path.read_text().split()] if path.exists() else []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")
def test_killed_worker_and_terminated_sweep_keep_every_row(invoke, tmp_path):
    rng = random.Random(13)
    out, db = tmp_path / "s", tmp_path / "s" / FILENAME
    proc = _start(out, "--jobs", "2")
    _wait_rows(db, proc, rng.randint(2, 8))
    os.kill(_children(proc.pid)[0], signal.SIGKILL)  # a worker
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and err.strip().splitlines() == [err.strip()], err
    assert "worker process died" in err
    kept = count(db)
    proc = _start(out, "--jobs", "1")
    _wait_rows(db, proc, kept + rng.randint(1, 5))
    proc.send_signal(signal.SIGTERM)  # the main process, at a random point
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "interrupted" in err, err
    with sqlite3.connect(db) as c:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    r = invoke(*BIG, "--out", out, "--jobs", 1)
    assert r.exit_code == 0 and count(db) == 30, r.stderr


def _killed_store(top: Path) -> tuple[Path, int]:
    """A store whose sweep was killed with kill -9 (its folder, and the runs it holds); the
    last runs are in sweep.db-wal only, and no -shm index is left (as after a reboot)."""
    out, db = top / "s", top / "s" / FILENAME
    proc = _start(out, "--jobs", "1")
    _wait_rows(db, proc, 5)
    proc.kill()
    proc.wait()
    try:  # the file alone (what an immutable read sees): maybe not even the tables
        with sqlite3.connect(f"file:{db}?immutable=1", uri=True) as c:
            in_file = c.execute("SELECT count(*) FROM runs").fetchone()[0]
    except sqlite3.OperationalError:
        in_file = 0
    stored = count(db)
    Path(f"{db}-shm").unlink(missing_ok=True)
    assert stored >= 5 and in_file < stored  # some runs are in the -wal only
    return out, stored


def test_read_only_store_after_kill_9_is_read_whole(invoke, tmp_path, monkeypatch):
    out, stored = _killed_store(tmp_path)
    real_access, real_connect = os.access, sqlite3.connect

    def access(p, mode):  # a folder this process may not write (root ignores permissions)
        return False if mode == os.W_OK and str(p).startswith(str(out)) else real_access(p, mode)

    def connect(db, *a, **kw):  # …so SQLite cannot make the -shm index a WAL read needs
        if "mode=ro" in str(db) and not Path(f"{out / FILENAME}-shm").exists():
            raise sqlite3.OperationalError("unable to open database file")
        return real_connect(db, *a, **kw)

    monkeypatch.setattr("gradsim.sweeps.store.os.access", access)
    monkeypatch.setattr("gradsim.sweeps.store.sqlite3.connect", connect)
    r = invoke("export", out)
    assert r.exit_code == 0 and len(r.stdout.splitlines()) == stored + 1, r.stderr
    assert sorted(p.name for p in out.iterdir()) == [FILENAME, f"{FILENAME}-wal"]  # untouched
    assert not list(Path(tempfile.gettempdir()).glob("gradsim-store-*"))  # the copy is gone


NOBODY = 65534
REPO = Path(__file__).resolve().parents[1]


def _as_nobody(*args, cwd="/") -> subprocess.CompletedProcess:
    """gradsim run as another user (nobody): permissions hold for it, unlike for root."""

    def demote():
        os.setgid(NOBODY)
        os.setuid(NOBODY)

    env = {**os.environ, "HOME": "/tmp", "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "gradsim", *map(str, args)], cwd=cwd,
                          env=env, preexec_fn=demote, capture_output=True, text=True,
                          timeout=120)  # fmt: skip


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root")
def test_another_users_store_after_kill_9_is_read_whole(tmp_path):
    """A store left by kill -9 keeps its last runs in sweep.db-wal; another user, who may not
    write the folder (nor make the -shm index), still reads every run."""
    try:
        if _as_nobody("--version").returncode != 0:
            raise PermissionError
    except PermissionError:
        pytest.skip("the user nobody cannot run this Python (it lives in a private folder)")
    top = Path(tempfile.mkdtemp())  # /tmp/…, not the 0700 pytest folder
    try:
        top.chmod(0o755)
        out, stored = _killed_store(top)
        r = _as_nobody("export", out)
        assert r.returncode == 0, r.stderr
        assert len(r.stdout.splitlines()) == stored + 1  # the header and every run
        r = _as_nobody(*BIG, "--out", out, "--jobs", 1)  # runs to add: refused
        assert r.returncode == 2 and "read-only" in r.stderr and "another" in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
        assert not list(Path(tempfile.gettempdir()).glob("gradsim-store-*"))  # copy removed
    finally:
        shutil.rmtree(top, ignore_errors=True)


# ---------------------------------------------------------------- Dask


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def cluster(tmp_path):
    """A scheduler and one worker in their own processes: {"scheduler": Popen, ...}."""
    pytest.importorskip("distributed")
    dask = shutil.which("dask", path=str(Path(sys.executable).parent)) or shutil.which("dask")
    if dask is None:
        pytest.skip("no dask command")
    port = _free_port()
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    log = open(tmp_path / "dask.log", "w")
    kw = {"stdout": log, "stderr": log, "env": env}
    procs = {"scheduler": subprocess.Popen([dask, "scheduler", "--port", str(port),
                                            "--no-dashboard"], **kw)}  # fmt: skip
    procs["worker"] = subprocess.Popen([dask, "worker", f"tcp://127.0.0.1:{port}", "--nthreads",
                                        "1", "--no-dashboard", "--no-nanny"], **kw)  # fmt: skip
    procs["address"] = f"tcp://127.0.0.1:{port}"
    yield procs
    for p in (procs["worker"], procs["scheduler"]):
        p.kill()
        p.wait()
    log.close()


@pytest.mark.parametrize("lose", ["worker", "scheduler"])
def test_dask_losing_its_workers_or_scheduler_exits_2_with_rows_saved(tmp_path, cluster, lose):
    out, db = tmp_path / "s", tmp_path / "s" / FILENAME
    # the client tries to reconnect to a lost scheduler for --connect-timeout seconds
    proc = _start(out, "--scheduler", cluster["address"], "--connect-timeout", "3",
                  "--worker-timeout", "2")  # fmt: skip
    _wait_rows(db, proc, 2, limit=60)
    cluster[lose].kill()
    started = time.monotonic()
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        _, err = proc.communicate(timeout=30)
        print(err)
        raise
    assert proc.returncode == 2 and len(err.strip().splitlines()) == 1, err
    assert ("worker" if lose == "worker" else "scheduler") in err
    assert time.monotonic() - started < 15
    assert count(db) >= 2


def test_dask_address_that_is_not_a_scheduler_fails_within_the_timeout(invoke, tmp_path):
    pytest.importorskip("distributed")
    with socket.socket() as server:  # accepts, never answers: like an HTTP server
        server.bind(("127.0.0.1", 0))
        server.listen()
        address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
        started = time.monotonic()
        r = invoke(*SWEEP, "--out", tmp_path / "s", "--scheduler", address,
                   "--connect-timeout", 1)  # fmt: skip
        one_line(r, "not a Dask scheduler")
        assert time.monotonic() - started < 5
    for bad in ("nonsense", "tcp://[::1", "tls://h:1", "tcp://h:99999"):
        one_line(invoke(*SWEEP, "--out", tmp_path / "s", "--scheduler", bad), "tcp://HOST:PORT")
    for t in ("nan", "inf", "0"):
        one_line(invoke(*SWEEP, "--out", tmp_path / "s", "--scheduler", address,
                        "--connect-timeout", t), "--connect-timeout")  # fmt: skip
    assert list(tmp_path.iterdir()) == []


def test_dask_sweep_says_while_it_waits_for_a_lost_worker(monkeypatch):
    """Every worker lost: a status the progress bar shows while the sweep waits, cleared
    when a worker joins, and one line after --worker-timeout seconds."""
    pytest.importorskip("distributed")
    from gradsim.errors import GradsimError
    from gradsim.sweeps.cluster import Dask

    ex = object.__new__(Dask)  # no cluster: only the watching logic
    ex.address, ex.worker_timeout, ex.status, ex._lost_since = "tcp://h:1", 0.2, "", None
    alive = [1]
    monkeypatch.setattr(ex, "_alive_workers", lambda: alive[0])
    ex._check_cluster()
    assert ex.status == ""
    alive[0] = 0
    ex._check_cluster()
    assert "every Dask worker is lost" in ex.status and "0.2 s" in ex.status
    alive[0] = 2
    ex._check_cluster()
    assert ex.status == "" and ex._lost_since is None
    alive[0] = 0
    ex._check_cluster()
    time.sleep(0.3)
    with pytest.raises(GradsimError, match=r"none joined in 0\.2 s"):
        ex._check_cluster()
    alive[0] = None  # the scheduler is gone
    with pytest.raises(GradsimError):
        ex._check_cluster()
