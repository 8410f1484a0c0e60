"""gradsim explore's HTTP API, in process (Starlette's TestClient): the page and its scripts
are all served locally; a run is the JSON of ``gradsim run`` and its command line computes
the same; bad input is a 400 with the CLI's line; the memory guard refuses before any work;
stale requests are skipped, one computation at a time per client, the server answering
others meanwhile; training streams its points and equals ``gradsim train``."""

from __future__ import annotations

import json
import re
import shlex
import threading
import time

import pytest

import gradsim

pytest.importorskip("starlette")
pytest.importorskip("httpx2")
from starlette.testclient import TestClient

from gradsim.explore import compute, params
from gradsim.explore.app import STATIC, create_app

SMALL = {"depth": "6", "width": "16", "batch": "8"}


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(), base_url="http://127.0.0.1") as c:
        yield c


def _cli_error(invoke, *args) -> str:
    r = invoke("run", *args)
    assert r.exit_code == 2
    line = r.stderr.strip()
    assert line.startswith("gradsim: error: ")
    return line.removeprefix("gradsim: error: ")


def test_the_page_and_every_script_it_needs_come_from_the_package(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    refs = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert refs and all(r.startswith(("/static/", "data:")) for r in refs), refs
    scripts = {p.name: p.read_text(encoding="utf-8") for p in STATIC.glob("*.js")}
    for name, text in scripts.items():
        for dep in re.findall(r'from "\./([^"]+)"', text):
            assert dep in scripts, f"{name} imports {dep}"
        # nothing fetched from another host (the SVG namespace is a name, not a fetch)
        assert not re.findall(r"https?://(?!www\.w3\.org/2000/svg)", text), name
        assert client.get(f"/static/{name}").status_code == 200
    assert client.get("/static/explore.css").status_code == 200


def test_options_come_from_the_registries(client):
    spec = client.get("/api/options").json()
    by = {c["dest"]: c for c in spec["network"]}
    assert list(by) == [c.dest for c in params.NETWORK_CONTROLS]
    assert [x["value"] for x in by["init"]["choices"]] == list(gradsim.INITIALIZERS)
    assert [x["value"] for x in by["activation"]["choices"]] == list(gradsim.ACTIVATIONS)
    assert by["init"]["default"] == "he_normal" and by["depth"]["default"] == "50"
    assert spec["aliases"]["init"]["xavier"] == "xavier_uniform"
    assert [c["dest"] for c in spec["train"]] == ["task", "steps", "lr", "optimizer"]


def test_a_run_is_the_api_and_its_command_line_is_gradsim_run(client, invoke):
    q = {**SMALL, "act": "tanh", "init": "xavier", "bias_init": "normal", "residual": "0",
         "hist": "1", "theory": "1", "seq": "3"}  # fmt: skip
    body = client.get("/api/run", params=q).json()
    api = gradsim.simulate(depth=6, width=16, batch=8, act="tanh", init="xavier",
                           bias_init="normal", hist=True, theory=True)  # fmt: skip
    assert body["run"] == json.loads(json.dumps(api.to_dict()))
    assert body["seq"] == 3 and body["theory_error"] is None
    assert body["bands"] == {"dtype": "float32", "log10_max": pytest.approx(38.53, abs=0.01),
                             "log10_tiny": pytest.approx(-37.93, abs=0.01)}  # fmt: skip
    args = shlex.split(body["command"])
    assert args[:2] == ["gradsim", "run"] and "--residual" not in args
    r = invoke(*args[1:], "--format", "json")
    assert r.exit_code == 0 and json.loads(r.stdout) == body["run"]


@pytest.mark.parametrize(
    "query, args",
    [
        ({"init": "kaimng"}, ["--init", "kaimng"]),
        ({"depth": "0"}, ["--depth", "0"]),
        ({"gain": "inf"}, ["--gain", "inf"]),
        ({"init": "orthogonal", "mode": "fan_in"}, ["--init", "orthogonal", "--mode", "fan_in"]),
        ({"init": "uniform", "low": "1", "high": "0"},
         ["--init", "uniform", "--low", "1", "--high", "0"]),
        ({"widths": "8,16,8", "residual": "true"}, ["--widths", "8,16,8", "--residual"]),
        ({"act": "tanh", "slope": "0.2"}, ["--act", "tanh", "--slope", "0.2"]),
    ],
)  # fmt: skip
def test_bad_input_is_a_400_with_the_cli_line(client, invoke, query, args):
    r = client.get("/api/run", params=query)
    assert r.status_code == 400
    assert r.json() == {"error": _cli_error(invoke, *args)}


def test_bad_text_and_unknown_parameters_are_one_line(client):
    def error(query):
        r = client.get("/api/run", params=query)
        assert r.status_code == 400
        return r.json()["error"]

    assert error({"depth": "abc"}) == "--depth takes whole numbers (got 'abc')"
    assert error({"dept": "3"}) == "unknown parameter 'dept'; did you mean 'depth'?"
    assert error({"residual": "maybe"}) == "--residual is a flag: true or false (got 'maybe')"


def test_a_run_beyond_the_memory_guard_is_refused_before_any_work(client):
    t0 = time.perf_counter()
    r = client.get("/api/run", params={"width": "1000000", "depth": "100"})
    assert r.status_code == 400 and time.perf_counter() - t0 < 2
    with pytest.raises(gradsim.GradsimError) as e:
        gradsim.simulate(width=1_000_000, depth=100)
    assert r.json()["error"].split(" but only")[0] == str(e.value).split(" but only")[0]
    assert r.json()["error"].startswith("this run needs about")


def test_a_network_outside_the_theory_is_run_without_it(client):
    body = client.get("/api/run", params={**SMALL, "residual": "1", "theory": "1"}).json()
    assert (
        body["theory_error"]
        == "mean-field theory here describes plain MLPs; --residual is outside it"
    )
    assert "theory" not in body["run"]["summary"] and "--theory" not in body["command"]


def test_other_hosts_are_refused(client):
    assert client.get("/api/options", headers={"host": "evil.example"}).status_code == 400


def _get_in_thread(client, query, out, key):
    def go():
        r = client.get("/api/run", params=query)
        out[key] = (r.status_code, time.perf_counter())

    t = threading.Thread(target=go)
    t.start()
    return t


def test_stale_requests_are_skipped_and_other_clients_are_served_meanwhile(client, monkeypatch):
    spans = []  # (client, start, end) of every computation
    run = compute.run

    def timed(options, *a):
        t0 = time.perf_counter()
        try:
            return run(options, *a)
        finally:
            spans.append((options["depth"], t0, time.perf_counter()))

    monkeypatch.setattr(compute, "run", timed)
    big = {"depth": "150", "width": "384", "batch": "192", "client": "a"}
    out: dict = {}
    threads = [_get_in_thread(client, {**big, "seq": "1"}, out, 1)]
    time.sleep(0.1)  # request 1 holds client a's lane
    threads.append(_get_in_thread(client, {**SMALL, "client": "a", "seq": "2"}, out, 2))
    time.sleep(0.05)
    threads.append(_get_in_thread(client, {**SMALL, "client": "a", "seq": "3"}, out, 3))
    r = client.get("/api/run", params={"depth": "7", "client": "b", "seq": "1"})
    other = time.perf_counter()
    for t in threads:
        t.join()
    assert r.status_code == 200
    assert out[1][0] == 200 and out[2][0] == 409 and out[3][0] == 200
    assert other < out[1][1], "client b waited for client a's computation"
    a = sorted((t0, t1) for depth, t0, t1 in spans if depth in (150, 6))
    assert len(a) == 2 and a[0][1] <= a[1][0], "client a computed two requests at once"


def _events(response) -> list[tuple[str, dict]]:
    out = []
    for block in response.text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_training_streams_its_points_and_is_gradsim_train(client, invoke):
    q = {**SMALL, "steps": "30", "lr": "0.05", "pin": "init=xavier&depth=6&width=16&batch=8"}
    r = client.get("/api/train", params=q)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = _events(r)
    names = [e for e, _ in events]
    assert names[0] == "start" and names[-1] == "done"
    assert names.count("run") == 2 and names.count("point") >= 20
    start, done = events[0][1], events[-1][1]
    assert start["labels"] == ["init=he", "init=xavier"]
    assert done["axes"] == {"init": ["he_normal", "xavier_uniform"]}
    points = [d for e, d in events if e == "point" and d["run"] == 0]
    assert [p["step"] for p in points] == done["runs"][0]["steps"][1:]
    for i, command in enumerate(start["commands"]):
        cli = invoke(*shlex.split(command)[1:], "--format", "json")
        assert cli.exit_code == 0
        expected = json.loads(cli.stdout)["runs"][0]
        assert {**done["runs"][i], "label": expected["label"]} == expected


def test_training_refuses_bad_input_with_one_line(client):
    r = client.get("/api/train", params={"steps": "0"})
    assert r.status_code == 400 and r.json()["error"].startswith("--steps must be between 1")
    r = client.get("/api/train", params={"pin": "init=kaimng"})
    assert r.json()["error"] == "unknown initializer 'kaimng'; did you mean 'kaiming'?"
    r = client.get("/api/train", params={"loss": "mse"})
    assert r.json()["error"].startswith("unknown parameter 'loss'")


def test_a_training_run_stops_when_its_page_goes_away(client):
    q = {"depth": "30", "width": "128", "batch": "64", "steps": "5000", "client": "c"}
    with client.stream("GET", "/api/train", params=q) as r:
        for line in r.iter_lines():
            if line.startswith("event: point"):
                break
    deadline = time.time() + 10
    while any(t.name == "gradsim-train" for t in threading.enumerate()):
        assert time.time() < deadline, "the training thread is still running"
        time.sleep(0.05)


def test_a_bug_is_one_line_too(client, monkeypatch):
    def boom(*a):
        raise RuntimeError("boom")

    monkeypatch.setattr(compute, "run", boom)
    r = client.get("/api/run", params=SMALL)
    assert r.status_code == 500 and r.json() == {"error": "internal error: RuntimeError: boom"}
