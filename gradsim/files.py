"""Output files, written whole or not at all, and never over an input.

A regular file or a new path is written to a temporary file beside it and renamed into
place (``os.replace``): a reader sees the old file or the whole new one, never a part, and
a failure (a full disk, an error, Ctrl-C, SIGTERM, SIGHUP) leaves the old file and no
temporary file. A symbolic link is followed: its target is replaced, the link kept. A
character device or a FIFO (``/dev/null``, a terminal, ``/dev/stdout``, a named pipe) is
written through, never replaced by a regular file; a block device (a disk) is refused.

``check_distinct`` refuses a command whose output is one of its inputs (a store, a grid
file, the JSON being redrawn) or whose two outputs are one file, comparing real paths
(symbolic links followed, hard links by inode).
"""

from __future__ import annotations

import os
import signal
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gradsim.errors import GradsimError

_TEMPS: set[str] = set()  # temporary files being written, removed on SIGTERM and SIGHUP


def _stat(path: str | os.PathLike) -> os.stat_result | None:
    try:
        return os.stat(path)  # follows symbolic links
    except (OSError, ValueError):
        return None


def _written_through(path: str | os.PathLike, st: os.stat_result | None) -> bool:
    """Whether ``path`` is written in place: a character device, a FIFO, or a file reached
    through /proc (/dev/stdout is /proc/self/fd/1: its target may be a pipe or a terminal)."""
    if st is None:
        return False
    if stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode):
        return True
    return os.path.realpath(path).startswith("/proc/")


def check_writable(path: str | os.PathLike, what: str | None = None) -> Path:
    """Fail early, before any work, if ``path`` cannot be written; ``what`` names the
    option in the message. Returns the path that will be written: a symbolic link's target,
    or ``path`` itself for a device or a FIFO."""
    if not os.fspath(path):
        raise GradsimError(f"{what or 'the output'} is an empty path: name a file")
    p, st = Path(path), _stat(path)
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise GradsimError(f"cannot write {p}: it is a directory")
    if st is not None and stat.S_ISBLK(st.st_mode):
        raise GradsimError(f"cannot write {p}: it is a block device (a disk), not a file")
    if st is not None and stat.S_ISSOCK(st.st_mode):
        raise GradsimError(f"cannot write {p}: it is a socket, not a file")
    if st is not None and stat.S_ISREG(st.st_mode) and _is_store(p):
        raise GradsimError(f"{p} is a sweep store (SQLite): refusing to replace it with "
                           f"{what or 'an output'}; remove it first if that is meant")  # fmt: skip
    if _written_through(p, st):
        if not os.access(p, os.W_OK):
            raise GradsimError(f"cannot write {p}: permission denied")
        return p
    target = Path(os.path.realpath(p))  # a symbolic link's target (a dangling one included)
    parent = target.parent
    if not parent.is_dir():
        raise GradsimError(f"cannot write {p}: folder {Path(path).parent} does not exist")
    if not os.access(parent, os.W_OK) or (st is not None and not os.access(target, os.W_OK)):
        raise GradsimError(f"cannot write {p}: permission denied")
    return target


def _is_store(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str | os.PathLike, data: str | bytes | None = None, *, writer=None) -> None:
    """Write ``data`` (or call ``writer(file_object)``) to ``path``: through a temporary file
    beside it (a symbolic link's target) renamed into place, or, for a device or a FIFO,
    straight into it. A failure is a one-line GradsimError and leaves no temporary file."""
    target = check_writable(path)

    def fill(f) -> None:
        if writer is not None:
            writer(f)
        else:
            f.write(data.encode() if isinstance(data, str) else data)
        f.flush()

    st = _stat(target)
    if _written_through(target, st):
        # a regular file reached through /proc (/dev/stdout redirected to a file) is appended
        # to, as the shell's own descriptor would write it, never truncated
        mode = "ab" if stat.S_ISREG(st.st_mode) else "wb"
        try:
            with open(target, mode) as f:
                fill(f)
        except OSError as e:
            raise GradsimError(f"cannot write {path}: {e.strerror or e}") from None
        return
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    _TEMPS.add(tmp)
    try:
        # mkstemp makes the file private (0600): give it the mode (and, as root, the owner)
        # of the file it replaces, or the mode a plain open() would
        os.chmod(tmp, st.st_mode & 0o7777 if st else 0o666 & ~_umask())
        if st is not None and os.geteuid() == 0:
            try:
                os.chown(tmp, st.st_uid, st.st_gid)
            except OSError:
                pass
        with os.fdopen(fd, "wb") as f:
            fill(f)
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException as e:
        _remove(tmp)
        if isinstance(e, OSError):
            raise GradsimError(f"cannot write {path}: {e.strerror or e}") from None
        raise
    finally:
        _TEMPS.discard(tmp)


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def file_key(path: str | os.PathLike) -> tuple:
    """What two paths share when they name one file: its device and inode if it exists,
    else its real path (symbolic links followed)."""
    st = _stat(path)
    if st is not None:
        return ("inode", st.st_dev, st.st_ino)
    return ("path", os.path.realpath(path))


def check_distinct(outputs: dict[str, str | os.PathLike | None],
                   inputs: dict[str, str | os.PathLike | None] | None = None) -> None:  # fmt: skip
    """Refuse an output that is one of the inputs, or two outputs that are one file
    (``{name: path}``, a name being the option's, e.g. "--plot"; None: not given). A
    character device (/dev/null, a terminal) may take several outputs."""
    seen: dict[tuple, str] = {}
    for name, path in (inputs or {}).items():
        if path:
            seen.setdefault(file_key(path), f"the input {name} ({path})")
    for name, path in outputs.items():
        if not path:
            continue
        st = _stat(path)
        if st is not None and stat.S_ISCHR(st.st_mode):
            continue
        key = file_key(path)
        if key in seen:
            raise GradsimError(f"{name} {path} is also {seen[key]}: choose another path")
        seen[key] = f"the output of {name}"


def _on_signal(signum, frame) -> None:
    if os.getpid() != _OWNER[0]:  # a forked worker: die as the signal says, at once
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    for tmp in list(_TEMPS):
        _remove(tmp)
    raise KeyboardInterrupt  # unwinds like Ctrl-C: stores closed, workers stopped


_OWNER = [0]


@contextmanager
def cleanup_on_signals() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP stop this process as Ctrl-C does (after
    removing every temporary file being written); handlers restored after it. A no-op
    outside the main thread."""
    _OWNER[0] = os.getpid()
    old = {}
    try:
        for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
            if sig is not None:
                old[sig] = signal.signal(sig, _on_signal)
    except ValueError:  # not the main thread
        pass
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


MAX_INPUT = 256 * 2**20  # the largest JSON or TOML file read: results are megabytes at most


def read_input(path: str | os.PathLike, limit: int = MAX_INPUT) -> bytes:
    """The bytes of an input file (a FIFO or /dev/stdin too), or a one-line GradsimError:
    unreadable, or longer than ``limit`` (a device such as /dev/zero never ends)."""
    if not os.fspath(path):
        raise GradsimError("an input is an empty path: name a file")
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as e:
        raise GradsimError(f"cannot read {path}: {e.strerror or e}") from None
    if len(data) > limit:
        raise GradsimError(f"{path} is larger than {limit // 2**20} MiB: not a gradsim file")
    return data


def read_json(path: str | os.PathLike):
    """A JSON file's value (``read_input``), or a one-line GradsimError."""
    import json

    try:
        return json.loads(read_input(path).decode("utf-8"))
    except UnicodeDecodeError as e:
        raise GradsimError(f"{path} is not JSON: not UTF-8 text ({e.reason} at byte "
                           f"{e.start})") from None  # fmt: skip
    except (json.JSONDecodeError, RecursionError) as e:
        raise GradsimError(f"{path} is not JSON ({str(e)[:100]})") from None
