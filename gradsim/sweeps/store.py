"""The sweep store: one SQLite file (standard library) in the output folder, one row per run.

A row holds the run's point, replica and seed, its resolved configuration, its summary and
its per-layer log10 norms (JSON text, null where not finite, as in ``gradsim run --format
json``). Rows are written in one transaction per finished task, in WAL mode: a process
killed at any moment (kill -9 included) leaves every committed run intact and the file
consistent, and a rerun finds them. synchronous=NORMAL trades the last transactions on a
power cut (never consistency) for not syncing the disk at every commit.

The ``meta`` table names the store format and the grid version (how points are keyed and
seeds derived); a store of another format or version is refused, never rewritten.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

from gradsim._version import __version__
from gradsim.errors import GradsimError
from gradsim.sweeps.grid import grid_signature

STORE_FORMAT = 1
FILENAME = "sweep.db"
LAYER_FIELDS = ("log10_act_rms", "log10_delta_rms", "log10_grad_norm")

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS runs (
    point TEXT NOT NULL,        -- canonical JSON of the configuration without its seed
    seed INTEGER NOT NULL,      -- the run's seed, from master seed, replica, network shape
    replica INTEGER NOT NULL,
    master_seed INTEGER NOT NULL,
    verdict TEXT NOT NULL,
    log10_delta_ratio REAL,     -- NULL when not finite
    config TEXT NOT NULL,       -- JSON: the resolved configuration, as gradsim run's
    summary TEXT NOT NULL,      -- JSON: the summary, as gradsim run's (without sentences)
    layers TEXT NOT NULL,       -- JSON: {field: [one log10 value per layer]}
    gradsim TEXT NOT NULL,      -- version that computed the run
    PRIMARY KEY (point, seed)
)""",
)


def store_path(folder: str | os.PathLike) -> Path:
    """The store file of an output folder (or the file itself if given)."""
    p = Path(folder)
    return p if p.suffix == ".db" else p / FILENAME


class Store:
    """An open sweep store. ``Store.open(folder)`` creates the folder and the file if
    needed; ``Store.open(folder, create=False)`` only reads an existing one."""

    def __init__(self, path: Path, conn: sqlite3.Connection):
        self.path, self.conn = path, conn

    @classmethod
    def open(cls, folder: str | os.PathLike, create: bool = True) -> Store:
        path = store_path(folder)
        if not create and not path.is_file():
            raise GradsimError(f"no sweep store at {path}")
        if create:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise GradsimError(f"cannot create {path.parent}: {e.strerror or e}") from None
        existed = path.is_file() and path.stat().st_size > 0
        try:
            if create:
                conn = sqlite3.connect(path, timeout=60, isolation_level=None)
            else:
                conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                       timeout=60, isolation_level=None)  # fmt: skip
            if existed:
                _check(path, conn)
            if create:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
            if create and not existed:
                with _tx(conn):
                    for statement in _SCHEMA:
                        conn.execute(statement)
                    conn.executemany(
                        "INSERT OR IGNORE INTO meta VALUES (?, ?)",
                        [("store_format", str(STORE_FORMAT)), ("grid_version", grid_signature()),
                         ("created_by", __version__)],
                    )  # fmt: skip
        except sqlite3.DatabaseError as e:
            raise GradsimError(f"{path} is not a usable gradsim sweep store ({e})") from None
        return cls(path, conn)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ reading
    def count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM runs").fetchone()[0]

    def keys(self) -> set[tuple[str, int]]:
        """(point, seed) of every stored run."""
        return set(self.conn.execute("SELECT point, seed FROM runs"))

    def records(
        self, keys: Iterable[tuple[str, int]] | None = None, layers: bool = True
    ) -> Iterator[dict]:
        """Stored runs as dicts (``point, replica, seed, config, summary, layers``), all of
        them, or those of ``keys`` in that order (missing ones skipped); ``layers=False``
        leaves out the per-layer norms (most of a record's size).

        All of them come in the order of their configurations' values (numbers as numbers,
        fields in name order), then replica: the same for the same runs, whatever order the
        workers finished them in."""
        cols = "point, replica, seed, config, summary, gradsim, " + ("layers" if layers else "NULL")
        if keys is None:
            rows = [_record(row) for row in self.conn.execute(f"SELECT {cols} FROM runs")]
            rows.sort(key=lambda r: (_natural(r["config"]), r["replica"]))
            yield from rows
            return
        q = f"SELECT {cols} FROM runs WHERE point = ? AND seed = ?"
        for point, seed in keys:
            row = self.conn.execute(q, (point, seed)).fetchone()
            if row is not None:
                yield _record(row)

    # ------------------------------------------------------------------ writing
    def add(self, records: list[dict], master_seed: int, replace: bool = False) -> None:
        """Write finished runs in one transaction: all of them or, if interrupted, none."""
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        rows = [
            (r["point"], r["seed"], r["replica"], master_seed, r["summary"]["verdict"],
             r["summary"]["log10_delta_ratio"], _dumps(r["config"]), _dumps(r["summary"]),
             _dumps(r["layers"]), r.get("gradsim", __version__))
            for r in records
        ]  # fmt: skip
        with _tx(self.conn):
            self.conn.executemany(f"{verb} INTO runs VALUES (?,?,?,?,?,?,?,?,?,?)", rows)


class _tx:
    """BEGIN IMMEDIATE … COMMIT (ROLLBACK on error) on an autocommit connection."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self):
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, *_):
        self.conn.execute("COMMIT" if exc_type is None else "ROLLBACK")


def _dumps(d) -> str:
    return json.dumps(d, separators=(",", ":"), allow_nan=False, ensure_ascii=False)


def _natural(config: dict) -> tuple:
    """A sort key for a configuration: its fields in name order, each value ranked
    None < number < text < list (numbers by value, so depth 3 comes before depth 10)."""

    def rank(v):
        if v is None:
            return (0, 0)
        if isinstance(v, (bool, int, float)):
            return (1, v)
        if isinstance(v, str):
            return (2, v)
        return (3, tuple(rank(x) for x in v))

    return tuple((k, rank(config[k])) for k in sorted(config) if k != "seed")


def _record(row) -> dict:
    point, replica, seed, config, summary, version, layers = row
    d = {
        "point": point,
        "replica": replica,
        "seed": seed,
        "config": json.loads(config),
        "summary": json.loads(summary),
        "gradsim": version,
    }
    if layers is not None:
        d["layers"] = json.loads(layers)
    return d


def _check(path: Path, conn: sqlite3.Connection) -> None:
    """Refuse a file that is not a sweep store, or one of another format or grid version."""
    try:
        meta = dict(conn.execute("SELECT key, value FROM meta"))
    except sqlite3.DatabaseError:
        raise GradsimError(f"{path} is not a gradsim sweep store") from None
    fmt, grid = meta.get("store_format"), meta.get("grid_version")
    if fmt != str(STORE_FORMAT) or grid != grid_signature():
        raise GradsimError(
            f"{path} was written with store format {fmt}, grid version {grid}; this gradsim "
            f"uses format {STORE_FORMAT}, grid version {grid_signature()}: sweep into "
            "another --out (the store is left as it is)"
        )
