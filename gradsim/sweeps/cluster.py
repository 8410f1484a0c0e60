"""A sweep's tasks on the workers of a running Dask distributed scheduler (--scheduler).

Every failure of the cluster ends as one line, within the timeouts given, with every
finished run already in the store (this process writes it as results stream back):

- an address that is not a Dask scheduler (an HTTP server, which never answers Dask's
  handshake) or does not answer: refused after ``timeout`` seconds, however the
  connection hangs;
- every worker lost: the sweep says so and waits ``worker_timeout`` seconds for one to
  (re)join, then stops;
- the scheduler lost: the sweep stops at once.
"""

from __future__ import annotations

import asyncio
import math
import queue
import threading
import time
from collections.abc import Callable, Iterator

from gradsim.errors import GradsimError
from gradsim.options import CONNECT_TIMEOUT, WORKER_TIMEOUT

POLL = 0.5  # seconds between looks at the cluster while no task finishes


MAX_SECONDS = 7 * 86_400.0  # the longest timeout taken: a week (threads' waits overflow later)


def check_seconds(value, flag: str) -> float:
    """A timeout: a number of seconds > 0, at most MAX_SECONDS."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or not 0 < value <= MAX_SECONDS:
        raise GradsimError(f"{flag} must be a number of seconds > 0 and at most "
                           f"{MAX_SECONDS:.0f} (got {value!r})")  # fmt: skip
    return float(value)


def check_address(address) -> str:
    """A scheduler's address: tcp://HOST:PORT (or HOST:PORT; inproc:// for a cluster in this
    process), checked before Dask sees it
    (a Client that Dask refuses to make still times out in its destructor)."""
    from urllib.parse import urlsplit

    text = address if isinstance(address, str) else ""
    if text.startswith("inproc://") and len(text[9:].split("/")) == 3:
        return text  # a cluster in this very process (LocalCluster(processes=False))
    try:
        parts = urlsplit(text if "://" in text else f"tcp://{text}")
        port = parts.port
    except ValueError:  # a malformed IPv6 host, a port out of range
        parts, port = urlsplit("tcp://"), None
    if parts.scheme != "tcp" or not parts.hostname or port is None or port < 1:
        raise GradsimError(f"--scheduler takes tcp://HOST:PORT, a Dask scheduler's address "
                           f"(got {address!r})")  # fmt: skip
    return text


def _connect(address: str, timeout: float):
    """A Client of the scheduler at ``address``, made in a thread given ``timeout`` (and a
    second) to finish: Client's own timeout does not bound a handshake that is never
    answered."""
    from distributed import Client

    box: dict = {}

    def connect() -> None:
        try:
            box["client"] = Client(address, timeout=timeout, set_as_default=False)
        except BaseException as e:  # handed to the caller's thread
            box["error"] = e

    thread = threading.Thread(target=connect, name="gradsim-dask-connect", daemon=True)
    thread.start()
    thread.join(timeout + 1.0)
    if thread.is_alive():  # connected, but no Dask handshake: left to die with the process
        raise GradsimError(f"{address} answered but is not a Dask scheduler (no handshake "
                           f"within {timeout:g} s): check --scheduler")  # fmt: skip
    e = box.get("error")
    if isinstance(e, (OSError, TimeoutError)):
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise GradsimError(
            f"cannot reach the Dask scheduler at {address} within {timeout:g} s ({reason})"
        ) from None
    if isinstance(e, (ValueError, TypeError, KeyError)):
        raise GradsimError(f"--scheduler {address}: {e}") from None
    if e is not None:
        raise GradsimError(f"--scheduler {address}: {type(e).__name__}: {e}") from None
    return box["client"]


class Dask:
    """The workers of a running Dask distributed scheduler at ``address``.

    The workers need gradsim (the same version) installed; results stream back to this
    process, which writes the store. ``timeout``: to connect and to find a first worker;
    ``worker_timeout``: how long to wait for a worker once every one is lost."""

    def __init__(self, address: str, timeout: float = CONNECT_TIMEOUT,
                 worker_timeout: float = WORKER_TIMEOUT):  # fmt: skip
        timeout = check_seconds(timeout, "--connect-timeout")
        self.worker_timeout = check_seconds(worker_timeout, "--worker-timeout")
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise GradsimError(
                "--scheduler needs Dask's distributed package: pip install 'gradsim[dask]'"
            ) from None
        self.address = check_address(address)
        self.client = _connect(self.address, timeout)
        try:
            self.client.wait_for_workers(1, timeout=timeout)
        except (OSError, TimeoutError):
            self.close()
            raise GradsimError(
                f"the Dask scheduler at {address} has no workers (waited {timeout:g} s)"
            ) from None
        info = self.client.scheduler_info()
        self.workers = max(1, sum(w.get("nthreads", 1) for w in info["workers"].values()))
        self.label = f"Dask at {address} ({self.workers} threads)"
        self._futures: list = []
        self.status = ""  # what the sweep waits for, if anything (shown by the progress bar)

    def run(self, fn: Callable, tasks: list) -> Iterator:
        self._futures = [self.client.submit(fn, t, pure=False) for t in tasks]
        return self._collect()

    def _alive_workers(self) -> int | None:
        """Workers the scheduler knows; None if the scheduler is gone."""
        if self.client.status not in ("running", "connecting"):
            return None
        try:
            return len(self.client.nthreads())
        except Exception:  # the connection to the scheduler broke
            return None

    def _collect(self) -> Iterator:
        finished: queue.Queue = queue.Queue()
        for f in self._futures:
            f.add_done_callback(finished.put)
        pending, self._lost_since = set(self._futures), None
        try:
            while pending:
                try:
                    f = finished.get(timeout=POLL)
                except queue.Empty:
                    self._check_cluster()
                    continue
                if f in pending:
                    pending.discard(f)
                    yield self._result(f)
        finally:
            if pending:
                try:
                    self.client.cancel(list(pending))
                except Exception:
                    pass

    def _check_cluster(self) -> None:
        """While nothing finishes: stop if the scheduler is gone, or if no worker has been
        there for ``worker_timeout`` seconds."""
        n = self._alive_workers()
        if n is None:
            raise self._lost(None)
        if n > 0:
            self._lost_since, self.status = None, ""
        elif self._lost_since is None:
            self._lost_since = time.monotonic()
            self.status = (f"every Dask worker is lost: waiting up to {self.worker_timeout:g} s "
                           "for one to join")  # fmt: skip
        elif time.monotonic() - self._lost_since > self.worker_timeout:
            raise GradsimError(
                f"every Dask worker of {self.address} was lost and none joined in "
                f"{self.worker_timeout:g} s (--worker-timeout); the finished runs are in the "
                "store: rerun to continue"
            )

    def _result(self, f):
        """The result of a finished task: a result held by a worker that is then lost is
        computed again, so wait for it as for any task."""
        from distributed import KilledWorker

        while True:
            try:
                return f.result(timeout=POLL)
            except (TimeoutError, asyncio.TimeoutError):
                self._check_cluster()
            except KilledWorker:
                raise GradsimError(
                    "a task killed the Dask workers that ran it (out of memory?); the finished "
                    "runs are in the store: rerun to continue, with smaller networks"
                ) from None
            except GradsimError:
                raise
            except Exception as e:
                if self._alive_workers() is None or "cancel" in type(e).__name__.lower():
                    raise self._lost(e) from None
                raise

    def _lost(self, e: BaseException | None) -> GradsimError:
        why = f" ({type(e).__name__})" if e is not None else ""
        return GradsimError(f"lost the Dask scheduler at {self.address}{why}; the finished runs "
                            "are in the store: rerun to continue")  # fmt: skip

    def close(self) -> None:
        try:
            self.client.close(timeout=2)
        except Exception:  # a scheduler already gone: nothing left to close
            pass
