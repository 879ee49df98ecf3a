"""Run claims: one exclusive lock file per run being computed, ``CORPUS/.locks/<run_id>.lock``.

A lock is created with ``O_CREAT | O_EXCL`` (atomic on local filesystems and on NFSv3+) and holds
the claimant's pid, hostname and process start time as JSON. A lock is *stale* when its host is
this host and its process is gone (or the pid now belongs to a younger process); a stale lock is
taken over. A lock of another host is never considered stale: hostnames must be unique among the
machines writing to one corpus, and the locks of a machine that died are deleted by hand
(``rm CORPUS/.locks/*.lock`` while no collection runs).
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

HOST = socket.gethostname()
_UNWRITTEN_GRACE_S = 60.0  # a lock file still empty after this long lost its writer


def _proc_stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state first), or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode(errors="replace")
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()


def process_start(pid: int) -> str | None:
    """The start time of process ``pid`` (clock ticks since boot, from /proc), or None."""
    fields = _proc_stat(pid)
    return fields[19] if fields is not None and len(fields) > 19 else None


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this host (a zombie, killed but not reaped, does not)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    fields = _proc_stat(pid)
    return not (fields and fields[0] in ("Z", "X"))


def holder_alive(info: dict[str, Any]) -> bool:
    """Whether the process named by a lock's content (on this host) still runs."""
    pid = int(info.get("pid", -1))
    if not pid_alive(pid):
        return False
    start = info.get("start")
    return start is None or process_start(pid) in (None, start)


def _read(path: Path) -> tuple[bytes, dict[str, Any] | None] | None:
    """(raw bytes, parsed content or None if unparsable); None if the file is gone."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        info = json.loads(raw)
    except ValueError:
        return raw, None
    return raw, info if isinstance(info, dict) else None


def is_stale(path: Path, info: dict[str, Any] | None) -> bool:
    """Whether the lock at ``path`` with content ``info`` has lost its holder."""
    if info is None:  # being written, or its writer died between create and write
        try:
            return time.time() - path.stat().st_mtime > _UNWRITTEN_GRACE_S
        except FileNotFoundError:
            return True
    return info.get("host") == HOST and not holder_alive(info)


def _content() -> bytes:
    pid = os.getpid()
    return json.dumps(
        {"pid": pid, "host": HOST, "start": process_start(pid), "time": time.time()}
    ).encode()


def _create(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    try:
        os.write(fd, _content())
        os.fsync(fd)
    finally:
        os.close(fd)
    return True


def _break(path: Path, raw: bytes) -> None:
    """Remove the stale lock ``path`` if it still has content ``raw``.

    A guard file serialises the breakers, so that of two processes finding one stale lock, the
    second cannot remove the fresh lock the first has just created.
    """
    guard = path.with_name(path.name + ".break")
    if not _create(guard):
        found = _read(guard)
        if found is not None and is_stale(guard, found[1]):
            guard.unlink(missing_ok=True)  # its breaker died mid-break; retry next time
        return
    try:
        found = _read(path)
        if found is not None and found[0] == raw:
            path.unlink(missing_ok=True)
    finally:
        guard.unlink(missing_ok=True)


def try_claim(locks: Path, run_id: str) -> Path | None:
    """Claim ``run_id``: the lock file's path, or None when a live process holds it."""
    locks.mkdir(parents=True, exist_ok=True)
    path = locks / f"{run_id}.lock"
    for _ in range(5):
        if _create(path):
            return path
        found = _read(path)
        if found is None:
            continue  # released meanwhile: try again
        raw, info = found
        if not is_stale(path, info):
            return None
        _break(path, raw)
    return None


def release(path: Path) -> None:
    """Remove a lock this process holds."""
    path.unlink(missing_ok=True)


def lock_state(locks: Path, run_id: str) -> str:
    """``"absent"``, ``"stale"`` or ``"held"`` for the lock of ``run_id``."""
    path = locks / f"{run_id}.lock"
    found = _read(path)
    if found is None:
        return "absent"
    return "stale" if is_stale(path, found[1]) else "held"


def sweep(locks: Path, pids: set[int] | None = None) -> int:
    """Remove stale locks of this host (with ``pids``: also those of these processes, which
    the caller knows to be its own and finished). Returns how many were removed."""
    if not locks.is_dir():
        return 0
    removed = 0
    for path in locks.glob("*.lock"):
        found = _read(path)
        if found is None:
            continue
        raw, info = found
        ours = (
            pids is not None
            and info is not None
            and info.get("host") == HOST
            and int(info.get("pid", -1)) in pids
        )
        if ours or is_stale(path, info):
            _break(path, raw)
            removed += 1
    return removed
