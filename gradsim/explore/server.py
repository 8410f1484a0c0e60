"""Serve the explorer with uvicorn on 127.0.0.1 only: a free port unless one is asked for,
the URL printed, the browser opened, Ctrl-C to stop."""

from __future__ import annotations

import socket
import threading
import time
import webbrowser
from collections.abc import Callable

from gradsim.errors import GradsimError

HOST = "127.0.0.1"  # never another interface: the API computes whatever it is asked


def bind(port: int = 0) -> socket.socket:
    """A socket listening on 127.0.0.1:``port`` (0: a free port): connections made as soon
    as the URL is printed wait until the server takes them."""
    if not 0 <= port <= 65535:
        raise GradsimError(f"--port must be between 0 and 65535 (got {port})")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as e:
        sock.close()
        raise GradsimError(
            f"--port {port}: cannot listen on {HOST}:{port} ({e.strerror})"
        ) from None
    sock.listen(128)
    return sock


def open_when_up(server, url: str) -> None:
    """Open ``url`` in the user's browser once uvicorn's ``server`` has started (not if it
    stops first, nor after 10 s)."""
    for _ in range(200):  # 10 s
        if server.started:
            webbrowser.open(url)
            return
        if server.should_exit:
            return
        time.sleep(0.05)


def serve(port: int = 0, open_browser: bool = True, echo: Callable[[str], None] = print) -> None:
    """Run the explorer until Ctrl-C (or SIGTERM); ``echo`` prints the URL and the end."""
    import uvicorn

    from gradsim.explore.app import create_app
    from gradsim.threads import hold_blas

    sock = bind(port)
    # one BLAS thread per computation: the server runs several at once (clients, pinned
    # networks, training beside a pass), and on a busy 2-core machine a default pass took
    # 0.17-0.28 s with one thread against 0.42-0.61 s with two (measured)
    hold_blas(1)
    url = f"http://{HOST}:{sock.getsockname()[1]}/"
    app = create_app()

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame) -> None:
            # training streams end at their next step, so the shutdown need not wait for them
            app.state.lanes.cancel_all()
            super().handle_exit(sig, frame)

    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2)
    server = Server(config)
    echo(f"gradsim explore: {url}   (Ctrl-C stops it)")
    if open_browser:
        threading.Thread(target=open_when_up, args=(server, url), daemon=True).start()
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn shuts down, then raises the signal it caught again
        pass
    finally:
        sock.close()
    echo("gradsim explore: stopped")
