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
import shutil
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

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


_COLUMNS = ("point", "seed", "replica", "master_seed", "verdict", "log10_delta_ratio", "config",
            "summary", "layers", "gradsim")  # fmt: skip


def store_path(folder: str | os.PathLike) -> Path:
    """The store file of an output folder (or the file itself if given)."""
    p = Path(folder)
    return p if p.suffix == ".db" else p / FILENAME


class Store:
    """An open sweep store. ``Store.open(folder)`` creates the folder and the file if
    needed, and opens a store it may not write (a read-only mount, another user's) for
    reading; ``Store.open(folder, create=False)`` only reads an existing one.
    ``readonly``: this process cannot add runs; ``created``: this call made the file (and
    ``made`` the topmost folder it made, if any), so that ``discard`` can take them back."""

    def __init__(self, path: Path, conn: sqlite3.Connection, readonly: bool = False,
                 created: bool = False, made: Path | None = None):  # fmt: skip
        self.path, self.conn, self.readonly = path, conn, readonly
        self.created, self.made = created, made
        self.snapshot: str | None = None  # a private copy read instead (see _connect)

    @classmethod
    def open(cls, folder: str | os.PathLike, create: bool = True) -> Store:
        if not isinstance(folder, (str, os.PathLike)):
            raise GradsimError(f"--out takes a folder's path (got {folder!r})")
        if not os.fspath(folder):
            raise GradsimError("the store's folder is an empty path: name a folder")
        path = store_path(folder)
        if path.exists() and not path.is_file():
            raise GradsimError(f"{path} is not a file, so not a gradsim sweep store")
        if not create and not path.is_file():
            raise GradsimError(f"no sweep store at {path}")
        made = _make_folder(path.parent) if create else None
        existed = path.is_file() and path.stat().st_size > 0
        if not create and not existed:
            raise GradsimError(f"{path} is empty (0 bytes): not a gradsim sweep store")
        writable = create and _writable(path)
        if create and not writable and not existed:
            raise GradsimError(f"cannot create {path}: {path.parent} is read-only")
        try:
            conn, snapshot = _connect(path, writable)
            if existed:
                _check(path, conn)
            if writable:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
            if writable and not existed:
                _create_tables(conn)
        except sqlite3.DatabaseError as e:
            raise GradsimError(f"{path} is not a usable gradsim sweep store ({e})") from None
        store = cls(path, conn, readonly=not writable, created=writable and not existed, made=made)
        store.snapshot = snapshot
        return store

    def discard(self) -> None:
        """Close the store and, if this process created it and it holds no run, remove the
        file and the folders it made: a refused or interrupted sweep leaves nothing."""
        try:
            empty = self.created and self.count() == 0
        except GradsimError:
            empty = False
        self.close()
        if not empty:
            return
        for suffix in ("", "-wal", "-shm", "-journal"):
            try:
                os.unlink(f"{self.path}{suffix}")
            except OSError:
                pass
        if self.made is not None:
            folder = self.path.parent
            while True:
                try:
                    folder.rmdir()  # only if empty
                except OSError:
                    break
                if folder == self.made:
                    break
                folder = folder.parent

    def close(self) -> None:
        self.conn.close()
        if self.snapshot is not None:
            shutil.rmtree(self.snapshot, ignore_errors=True)
            self.snapshot = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ reading
    def count(self) -> int:
        with self._damage():
            return self.conn.execute("SELECT count(*) FROM runs").fetchone()[0]

    def keys(self) -> set[tuple[str, int]]:
        """(point, seed) of every stored run."""
        with self._damage():
            return set(self.conn.execute("SELECT point, seed FROM runs"))

    @contextmanager
    def _damage(self) -> Iterator[None]:
        """A damaged file (garbage in its pages, a malformed row) as one line."""
        try:
            yield
        except sqlite3.DatabaseError as e:
            raise GradsimError(f"{self.path} is damaged ({e}): export what can be read, or "
                               "sweep into another --out") from None  # fmt: skip

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
            with self._damage():
                rows = [_record(self.path, row)
                        for row in self.conn.execute(f"SELECT {cols} FROM runs")]  # fmt: skip
            rows.sort(key=lambda r: (_natural(r["config"]), r["replica"]))
            yield from rows
            return
        q = f"SELECT {cols} FROM runs WHERE point = ? AND seed = ?"
        for point, seed in keys:
            with self._damage():
                row = self.conn.execute(q, (point, seed)).fetchone()
            if row is not None:
                yield _record(self.path, row)

    # ------------------------------------------------------------------ writing
    def add(self, rows: list[Row], master_seed: int, replace: bool = False) -> None:
        """Write finished runs (``encode``'s rows) in one transaction: all of them or, if
        interrupted, none."""
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        values = [(r.point, r.seed, r.replica, master_seed, r.verdict, r.log10_delta_ratio,
                   r.config, r.summary, r.layers, r.gradsim) for r in rows]  # fmt: skip
        if self.readonly:
            raise read_only(self.path, len(values))
        try:
            with _tx(self.conn):
                self.conn.executemany(f"{verb} INTO runs VALUES (?,?,?,?,?,?,?,?,?,?)", values)
        except sqlite3.OperationalError as e:
            if "readonly" in str(e) or "read-only" in str(e):
                raise read_only(self.path, len(values)) from None
            raise GradsimError(f"cannot write to {self.path}: {e}") from None
        except sqlite3.DatabaseError as e:
            raise GradsimError(f"cannot write to {self.path}: it is damaged ({e})") from None


class Row(NamedTuple):
    """A run as the store writes it: its key, the columns the store filters on, and its
    configuration, summary and per-layer norms as JSON text (``encode``)."""

    point: str
    seed: int
    replica: int
    verdict: str
    log10_delta_ratio: float | None
    config: str
    summary: str
    layers: str
    gradsim: str


def encode(record: dict) -> Row:
    """A record (gradsim.sweeps.tasks.record) as the store writes it. The workers encode
    their own records: JSON text pickles faster than the dicts it encodes, and the parent,
    which writes every run, then does no encoding at all."""
    return Row(
        record["point"], record["seed"], record["replica"], record["summary"]["verdict"],
        record["summary"]["log10_delta_ratio"], _dumps(record["config"]),
        _dumps(record["summary"]), _dumps(record["layers"]), record["gradsim"],
    )  # fmt: skip


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


def read_only(path: Path, n: int) -> GradsimError:
    return GradsimError(f"{path} is read-only (a read-only folder or mount, or another "
                        f"user's): it can be read but not given {n} new run"
                        f"{'' if n == 1 else 's'}; sweep into another --out")  # fmt: skip


def _record(path: Path, row) -> dict:
    point, replica, seed, config, summary, version, layers = row
    try:
        d = {
            "point": point,
            "replica": int(replica),
            "seed": int(seed),
            "config": json.loads(config),
            "summary": json.loads(summary),
            "gradsim": version,
        }
        if layers is not None:
            d["layers"] = json.loads(layers)
        if not (isinstance(d["config"], dict) and isinstance(d["summary"], dict)):
            raise ValueError("config and summary are not JSON objects")
        if not isinstance(d.get("layers", {}), dict):
            raise ValueError("layers is not a JSON object")
    except (TypeError, ValueError) as e:
        raise GradsimError(f"{path}: a malformed row (seed {seed}, point "
                           f"{str(point)[:60]}): {e}; rerun the sweep with --force to "
                           "recompute it") from None  # fmt: skip
    return d


def _make_folder(folder: Path) -> Path | None:
    """Make ``folder`` and its missing parents; the topmost one made, or None."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise GradsimError(f"cannot create {folder}: a file is in the way") from None
    except OSError as e:
        raise GradsimError(f"cannot create {folder}: {e.strerror or e}") from None
    return missing[-1] if missing else None


def _writable(path: Path) -> bool:
    """Whether this process may write the store: the file (if any) and its folder, which
    holds the journal (-wal, -shm)."""
    return os.access(path.parent, os.W_OK) and (not path.exists() or os.access(path, os.W_OK))


def _connect(path: Path, writable: bool) -> tuple[sqlite3.Connection, str | None]:
    """A connection, and the temporary folder of a private copy when one is read instead."""
    if writable:
        return sqlite3.connect(path, timeout=60, isolation_level=None), None
    uri = path.resolve().as_uri()
    try:
        conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=60, isolation_level=None)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn, None
    except sqlite3.OperationalError:
        pass
    # a WAL store in a folder this process cannot write: its -shm index cannot be made.
    # Runs committed to the -wal but not yet copied into the file (a sweep killed with
    # kill -9) are only seen through a private copy of both, in a temporary folder.
    wal = Path(f"{path}-wal")
    if wal.is_file() and wal.stat().st_size > 0:
        folder = tempfile.mkdtemp(prefix="gradsim-store-")
        try:
            shutil.copyfile(path, os.path.join(folder, FILENAME))
            shutil.copyfile(wal, os.path.join(folder, FILENAME + "-wal"))
            conn = sqlite3.connect(os.path.join(folder, FILENAME), isolation_level=None)
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return conn, folder
        except (OSError, sqlite3.DatabaseError):
            shutil.rmtree(folder, ignore_errors=True)  # no room for a copy: the file alone
    return sqlite3.connect(f"{uri}?immutable=1", uri=True, isolation_level=None), None


def _create_tables(conn: sqlite3.Connection) -> None:
    with _tx(conn):
        for statement in _SCHEMA:
            conn.execute(statement)
        conn.executemany(
            "INSERT OR IGNORE INTO meta VALUES (?, ?)",
            [("store_format", str(STORE_FORMAT)), ("grid_version", grid_signature()),
             ("created_by", __version__)],
        )  # fmt: skip


def _check(path: Path, conn: sqlite3.Connection) -> None:
    """Refuse a file that is not a sweep store, or one of another format or grid version."""
    try:
        meta = dict(conn.execute("SELECT key, value FROM meta"))
    except sqlite3.DatabaseError:
        raise GradsimError(f"{path} is not a gradsim sweep store") from None
    try:
        conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM runs LIMIT 0").fetchall()
    except sqlite3.DatabaseError as e:
        raise GradsimError(f"{path} is a damaged gradsim sweep store ({e}): sweep into "
                           "another --out") from None  # fmt: skip
    fmt, grid = meta.get("store_format"), meta.get("grid_version")
    if fmt != str(STORE_FORMAT) or grid != grid_signature():
        raise GradsimError(
            f"{path} was written with store format {fmt}, grid version {grid}; this gradsim "
            f"uses format {STORE_FORMAT}, grid version {grid_signature()}: sweep into "
            "another --out (the store is left as it is)"
        )
