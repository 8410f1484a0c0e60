"""One computation at a time per client.

Every client (a browser tab) has a ``Lane``: a fair lock held by the worker thread that
computes for it. A slider sends a request per step it moves, each numbered (``seq``); a
request that finds a newer one of its client has arrived is stale and returns at once
without computing, so at most one pass is ever wasted, the one already running. A training
run holds the lane too, but steps aside between two of its steps whenever a pass waits, and
stops at the next step once cancelled (a newer training of the client, the page closed).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

MAX_CLIENTS = 256  # lanes kept; the least recently used idle one goes first


class Superseded(Exception):
    """A newer request of the same client arrived: this one is not computed."""


class Cancelled(Exception):
    """A training run was cancelled (a newer one, the page closed, the server stopping)."""


class Lane:
    """The lane of one client: ``hold()`` it to compute; ``note(seq)`` and ``stale(seq)``
    tell an old request from the latest; ``pause()`` lets waiting requests through."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._busy = False
        self._waiting = 0
        self._latest = -1
        self.training: threading.Event | None = None  # set: stop the running training

    def note(self, seq: int | None) -> None:
        """A request numbered ``seq`` arrived (None: unnumbered, never stale)."""
        if seq is not None:
            with self._cond:
                self._latest = max(self._latest, seq)
                self._cond.notify_all()  # older requests waiting for the lane give up

    def stale(self, seq: int | None) -> bool:
        with self._cond:
            return seq is not None and seq < self._latest

    @property
    def idle(self) -> bool:
        with self._cond:
            return not self._busy and not self._waiting

    @contextmanager
    def hold(self, seq: int | None = None) -> Iterator[None]:
        """Wait for the lane and hold it; a request that is or becomes stale meanwhile
        raises Superseded instead of computing."""
        with self._cond:
            self._waiting += 1
            try:
                while True:
                    if seq is not None and seq < self._latest:
                        raise Superseded
                    if not self._busy:
                        break
                    self._cond.wait()
            finally:
                self._waiting -= 1
                self._cond.notify_all()
            self._busy = True
        try:
            yield
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def pause(self) -> None:
        """Called by the holder between two steps of a long computation: if requests wait,
        give them the lane and take it back when none is left."""
        with self._cond:
            if not self._waiting:
                return
            self._busy = False
            self._cond.notify_all()
            while self._waiting or self._busy:
                self._cond.wait()
            self._busy = True

    def start_training(self) -> threading.Event:
        """A new training run of this client: the one before it (if any) is cancelled."""
        with self._cond:
            if self.training is not None:
                self.training.set()
            self.training = threading.Event()
            return self.training


class Lanes:
    """Every client's lane, by the client's id."""

    def __init__(self, limit: int = MAX_CLIENTS) -> None:
        self._lock = threading.RLock()  # cancel_all runs in a signal handler too
        self._lanes: OrderedDict[str, Lane] = OrderedDict()
        self._limit = limit

    def get(self, client: str) -> Lane:
        with self._lock:
            lane = self._lanes.get(client)
            if lane is None:
                lane = self._lanes[client] = Lane()
                idle = [k for k, v in self._lanes.items() if v.idle and k != client]
                for k in idle[: max(0, len(self._lanes) - self._limit)]:
                    del self._lanes[k]
            self._lanes.move_to_end(client)
            return lane

    def cancel_all(self) -> None:
        """Stop every training run (the server is stopping)."""
        with self._lock:
            for lane in self._lanes.values():
                if lane.training is not None:
                    lane.training.set()
