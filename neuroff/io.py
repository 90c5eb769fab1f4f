"""Atomic file writes: a temp file in the same directory, then rename, so a crash or a full
disk never leaves a half-written checkpoint, metrics or plot in place of a good one. Run
directories: checked before any work (``out_dir_problem``) and locked while a training writes
them (``run_lock``), so two trainings never mix their files."""

from __future__ import annotations

import json
import os
import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from neuroff.errors import NeuroffError

LOCK_NAME = ".neuroff.lock"  # in a run directory while a training writes it: "<pid> <host>"


def current_umask() -> int:
    """The process's umask, read without changing it where Linux allows (/proc), else set and restored."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: str | Path, write: Callable[[Any], None], mode: str = "wb") -> Path:
    """Call ``write(fileobj)`` on a temp file next to ``path``, then rename it onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp makes the file 0600; the result should have the mode open() would give it
        os.chmod(tmp, 0o666 & ~current_umask())
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | Path, data: Any) -> Path:
    return atomic_write(path, lambda f: f.write(json.dumps(data, indent=2) + "\n"), mode="w")


_REQUIRED = object()


def read_json(path: str | Path, missing: Any = _REQUIRED) -> Any:
    """The JSON stored at ``path``; ``missing`` if given and the file does not exist. A file that is not
    JSON (cut short, edited by hand) is a NeuroffError naming it, not a traceback, so a long job that
    stores into it can check it before it starts."""
    path = Path(path)
    if not path.exists():
        if missing is _REQUIRED:
            raise NeuroffError(f"{path} does not exist; check the path")
        return missing
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise NeuroffError(f"{path} is not valid JSON ({err}); repair it or move it away") from None


def writable(directory: Path) -> bool:
    return os.access(directory, os.W_OK | os.X_OK)


def out_dir_problem(path: str | Path, flag: str = "--out") -> str | None:
    """Why ``path`` cannot be used as an output directory, or None: it must name a directory
    (created if missing), never '' (the working directory, whose files it would overwrite) nor
    an existing file, and the nearest existing folder on the way must be writable."""
    text = str(path)
    if not text.strip():
        return f"{flag} {text!r} names no directory; pass one, e.g. {flag} runs/mine (created if missing)"
    p = Path(text)
    if p.exists() and not p.is_dir():
        return f"{flag} {p} is an existing file, not a directory; pass a directory (created if missing)"
    existing = p
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        return f"{flag} {p}: {existing} is a file, not a directory; pass a directory (created if missing)"
    if not writable(existing):
        return f"{flag} {p}: {existing} is not writable; pass a directory you can write to"
    return None


def _lock_holder(path: Path) -> tuple[int, str] | None:
    try:
        pid, host = path.read_text().split()[:2]
        return int(pid), host
    except (OSError, ValueError):
        return None  # unreadable or half-written: no live writer stands behind it


def _alive(pid: int, host: str) -> bool:
    if host != socket.gethostname():
        return True  # another machine's process cannot be checked: assume it runs
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user
    return True


@contextmanager
def run_lock(directory: str | Path) -> Iterator[Path]:
    """Create ``directory`` if missing and hold its lock file while the body writes into it. A
    second writer fails with one line naming the holder's pid; a lock whose process has died is
    taken over (the stale lock of a crashed or killed training)."""
    directory = Path(directory)
    path = directory / LOCK_NAME
    me = (os.getpid(), socket.gethostname())
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for _ in range(3):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
            except FileExistsError:
                holder = _lock_holder(path)
                if holder is not None and _alive(*holder):
                    raise NeuroffError(
                        f"run directory {directory} is being written by another training (pid {holder[0]} on {holder[1]}); "
                        f"wait for it to finish or pass another --out (if no such process runs, delete {path})"
                    ) from None
                path.unlink(missing_ok=True)  # stale
                continue
            with os.fdopen(fd, "w") as f:
                f.write(f"{me[0]} {me[1]}\n")
            break
        else:
            raise NeuroffError(f"could not take the lock {path}; pass another --out")
    except OSError as err:
        raise NeuroffError(f"cannot write to the run directory {directory} ({err.strerror}); pass another --out") from None
    try:
        yield path
    finally:
        if _lock_holder(path) == me:
            path.unlink(missing_ok=True)
