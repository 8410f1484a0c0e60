"""``gradsim explore`` as a command: it serves on 127.0.0.1, prints the URL, stops cleanly on
Ctrl-C, says in one line what is wrong with a busy port or a missing extra; Starlette and
uvicorn stay inside gradsim.explore, imported only when the command runs."""

from __future__ import annotations

import ast
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from gradsim.explore.lanes import Lane, Superseded

ROOT = Path(__file__).resolve().parent.parent / "gradsim"
WEB = ("starlette", "uvicorn")


def test_ctrl_c_stops_the_server_cleanly():
    pytest.importorskip("uvicorn")
    p = subprocess.Popen([sys.executable, "-m", "gradsim", "explore", "--no-browser"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        line = p.stdout.readline()
        url = line.split()[2]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/"), line
        with urllib.request.urlopen(url + "api/options", timeout=10) as r:
            assert json.load(r)["max_pins"] == 4
        # a training run streaming at the time ends at its next step: no waiting, no error
        stream = urllib.request.urlopen(url + "api/train?steps=5000&depth=10&width=64", timeout=10)
        while not (line := stream.readline()).startswith(b"event: point"):
            assert line, "the stream ended before its first point"
        p.send_signal(signal.SIGINT)
        t0 = time.perf_counter()
        out, err = p.communicate(timeout=15)
        assert time.perf_counter() - t0 < 2, "the shutdown waited for the stream"
        assert b"event: cancelled" in stream.read()
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    assert out.strip() == "gradsim explore: stopped" and not err


def test_a_busy_port_is_one_line(invoke):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = invoke("explore", "--no-browser", "--port", port)
    assert r.exit_code == 2
    assert r.stderr.startswith(f"gradsim: error: --port {port}: cannot listen on 127.0.0.1:")


def test_without_the_extra_the_command_says_how_to_install_it(invoke, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in WEB else real(name, *a))  # fmt: skip
    r = invoke("explore")
    assert r.exit_code == 2
    assert r.stderr.strip() == (
        "gradsim: error: gradsim explore needs starlette and uvicorn: "
        "pip install 'gradsim[explore]'"
    )


def test_only_the_explore_package_imports_the_web_stack():
    for path in ROOT.rglob("*.py"):
        inside = "explore" in path.relative_to(ROOT).parts[:1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])  # fmt: skip
            if any(n.split(".")[0] in WEB for n in names):
                assert inside, f"{path} imports {names}"
    code = (
        "import sys, gradsim.cli; print([m for m in ('starlette', 'uvicorn') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_lane_serves_the_latest_request_and_skips_the_stale_ones():
    import threading

    lane, order = Lane(), []
    release = threading.Event()

    def request(seq, hold=False):
        lane.note(seq)
        try:
            with lane.hold(seq):
                order.append(seq)
                if hold:
                    release.wait(5)
        except Superseded:
            order.append(-seq)

    first = threading.Thread(target=request, args=(1, True))
    first.start()
    while not order:
        pass
    waiting = [threading.Thread(target=request, args=(s,)) for s in (2, 3, 4)]
    for t in waiting:
        t.start()
    release.set()
    for t in (first, *waiting):
        t.join(5)
    assert order[0] == 1 and sorted(order[1:]) == [-3, -2, 4]


def test_a_training_run_steps_aside_for_a_pass():
    import threading

    lane, log = Lane(), []
    stop = threading.Event()

    def training():
        with lane.hold():
            while not stop.is_set():
                log.append("step")
                lane.pause()

    t = threading.Thread(target=training)
    t.start()
    while not log:
        pass
    with lane.hold(seq=1):  # granted between two steps of the training
        n = len(log)
        time.sleep(0.05)
        assert len(log) == n, "the training went on while the pass held the lane"
        log.append("pass")
    while log[-1] == "pass":  # and the training goes on after it
        time.sleep(0.01)
    stop.set()
    t.join(5)
    assert not t.is_alive()


def test_the_browser_opens_once_the_server_is_up(monkeypatch):
    from types import SimpleNamespace

    from gradsim.explore import server

    opened = []
    monkeypatch.setattr(server.webbrowser, "open", opened.append)
    server.open_when_up(SimpleNamespace(started=True, should_exit=False), "http://x/")
    server.open_when_up(SimpleNamespace(started=False, should_exit=True), "http://y/")
    assert opened == ["http://x/"]
