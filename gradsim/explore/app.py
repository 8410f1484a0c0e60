"""The explorer's Starlette application: the page and its scripts (shipped in ``static/``,
nothing from the network), and the HTTP API the page calls.

- ``GET /api/options``: the controls, from the registries;
- ``GET /api/run?depth=…&init=…&hist=1&theory=1&client=…&seq=…``: one run (the JSON of
  ``gradsim run --format json``), the dtype's range and the equivalent command line; bad
  input is a 400 with the API's one-line message (``{"error": …}``), a stale request of
  the same client a 409;
- ``GET /api/train?…&steps=…&lr=…&pin=QUERY…``: training runs as server-sent events
  (``start``, ``point``, ``run``, then ``done``, ``error`` or ``cancelled``).

Every computation runs in a worker thread, never on the event loop, one at a time per
client (``lanes``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from gradsim.errors import GradsimError
from gradsim.explore import compute, params
from gradsim.explore.lanes import Cancelled, Lanes, Superseded

STATIC = Path(__file__).resolve().parent / "static"
NO_STORE = {"Cache-Control": "no-store"}
OUT_OF_MEMORY = "out of memory: shrink --width, --depth or --batch"  # the CLI's line
LOG = logging.getLogger("gradsim.explore")
HOSTS = ("127.0.0.1", "localhost")  # a page on another site cannot reach the API by DNS


def _error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=NO_STORE)


def _flag(query, key: str) -> bool:
    return query.get(key, "0").strip().lower() in params.TRUE


def _seq(query) -> int | None:
    text = query.get("seq", "")
    try:
        return int(text) if text else None
    except ValueError:
        raise GradsimError(f"seq must be a whole number (got '{text}')") from None


async def index(request: Request) -> FileResponse:
    return FileResponse(STATIC / "index.html", headers=NO_STORE)


async def options(request: Request) -> JSONResponse:
    return JSONResponse(params.controls())


async def run(request: Request) -> JSONResponse:
    q = request.query_params
    try:
        params.check_keys(q, ("client", "seq", "hist", "theory"))
        options_, seq = params.network_options(q), _seq(q)
        hist, theory = _flag(q, "hist"), _flag(q, "theory")
        cfg = compute.admit(options_)  # invalid or too large: refused before a thread is used
    except GradsimError as e:
        return _error(str(e))
    lane = request.app.state.lanes.get(q.get("client", "anonymous"))
    lane.note(seq)

    def work() -> dict:
        with lane.hold(seq):
            return compute.run(options_, hist, theory, cfg)

    try:
        payload = await run_in_threadpool(work)
    except Superseded:
        return JSONResponse({"superseded": True, "seq": seq}, status_code=409, headers=NO_STORE)
    except GradsimError as e:
        return _error(str(e))
    except MemoryError:
        return _error(OUT_OF_MEMORY)
    except Exception as e:  # a bug: the page says so in one line, the log has the traceback
        LOG.exception("GET /api/run?%s", q)
        return _error(f"internal error: {type(e).__name__}: {e}", 500)
    return JSONResponse({**payload, "seq": seq}, headers=NO_STORE)


def _event(name: str, data: dict) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


async def train(request: Request):
    q = request.query_params
    try:
        single = {k: v for k, v in q.items() if k != "pin"}
        req = params.train_request(single, q.getlist("pin"))
        compute.check_training(req)
    except GradsimError as e:
        return _error(str(e))
    lane = request.app.state.lanes.get(q.get("client", "anonymous"))
    cancel = lane.start_training()
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()

    def emit(name: str | None, data: dict | None) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, (name, data))

    def checkpoint() -> None:
        if cancel.is_set():
            raise Cancelled
        lane.pause()
        if cancel.is_set():  # cancelled while a pass had the lane
            raise Cancelled

    def work() -> None:
        try:
            with lane.hold():
                emit("done", compute.train(req, emit, checkpoint))
        except Cancelled:
            emit("cancelled", {})
        except GradsimError as e:
            emit("error", {"error": str(e)})
        except MemoryError:
            emit("error", {"error": OUT_OF_MEMORY})
        except Exception as e:
            LOG.exception("GET /api/train?%s", q)
            emit("error", {"error": f"internal error: {type(e).__name__}: {e}"})
        finally:
            emit(None, None)

    # a thread of its own: a long training run does not hold a slot of the request pool,
    # and it stops at its next step once the page goes away
    threading.Thread(target=work, name="gradsim-train", daemon=True).start()

    async def stream():
        try:
            while (item := await queue.get())[0] is not None:
                yield _event(*item)
        finally:
            cancel.set()

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={**NO_STORE, "X-Accel-Buffering": "no"})  # fmt: skip


def create_app(hosts=HOSTS) -> Starlette:
    """The application; ``hosts``: the Host headers it answers (127.0.0.1 and localhost)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        yield
        app.state.lanes.cancel_all()  # training threads stop at their next step

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/api/options", options),
            Route("/api/run", run),
            Route("/api/train", train),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=list(hosts))],
        lifespan=lifespan,
    )
    app.state.lanes = Lanes()
    return app
