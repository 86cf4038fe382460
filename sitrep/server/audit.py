"""The evidence trail: one JSON line per tool call, the record of what the agent read.

Each line holds the time, the tool, its arguments, the sources it read, the size of the
answer, how long it took and how it ended. Arguments and error messages pass through the
same redaction as every output, so the log never holds a secret a model could not see
either. Lines are appended with one `write` each, so several servers can share a file.
Writing the log never fails a tool call: a log that cannot be written is said once, on
stderr.

The trail is evidence, so it is kept where only its owner can change it: the directory is
created 0700 and the file 0600; a symbolic link, something other than a regular file, or a
file another user owns is refused; a file others may write is made 0600 again (and said).
At MAX_BYTES the file is renamed `audit.jsonl.1` (older ones shift up to `.KEEP`, the
oldest is dropped) and a new one begun.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import stat
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from sitrep.redact import sanitize

__all__ = ["AuditLog", "Outcome", "default_audit_path"]

Outcome = Literal["ok", "error", "timeout", "refused"]

MAX_ARGUMENT_CHARS = 300
MAX_ERROR_CHARS = 500
MAX_BYTES = 10 * 1024 * 1024
KEEP = 5

logger = logging.getLogger("sitrep")


def default_audit_path() -> Path:
    """`$XDG_STATE_HOME/sitrep/audit.jsonl`, or `~/.local/state/sitrep/audit.jsonl`."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "sitrep" / "audit.jsonl"


class AuditLog:
    """Appends one line per tool call to `path`; with no path it records nothing."""

    def __init__(self, path: Path | None, *, max_bytes: int = MAX_BYTES, keep: int = KEEP) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.keep = keep
        self._warned: set[str] = set()

    def record(
        self,
        *,
        tool: str,
        arguments: Mapping[str, Any],
        sources: Iterable[str],
        result_chars: int,
        seconds: float,
        outcome: Outcome,
        error: str | None = None,
    ) -> None:
        if self.path is None:
            return
        entry: dict[str, Any] = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "tool": sanitize(tool)[:100],
            "arguments": {sanitize(str(k))[:100]: _safe(v) for k, v in arguments.items()},
            "sources": sorted(sources),
            "result_chars": result_chars,
            "duration_ms": round(seconds * 1000, 1),
            "outcome": outcome,
        }
        if error is not None:
            entry["error"] = sanitize(error)[:MAX_ERROR_CHARS]
        self._append(json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n")

    def _append(self, line: str) -> None:
        assert self.path is not None
        data = line.encode("utf-8")
        try:
            fd = self._open()
            try:
                if os.fstat(fd).st_size + len(data) > self.max_bytes:
                    fd = self._rotate(fd)
                os.write(fd, data)
            finally:
                os.close(fd)
        except _Refused as refusal:
            self._warn(str(refusal), f"audit log {self.path}: {refusal}; tool calls go unrecorded")
        except OSError as error:
            self._warn(
                "oserror", f"audit log {self.path} cannot be written ({error}); tool calls go unrecorded"
            )

    def _open(self) -> int:
        """The file, opened to append, after checking it is ours alone to write."""
        assert self.path is not None
        _private_directory(self.path.parent)
        # O_NOFOLLOW: a link planted at the path must not send the trail elsewhere.
        # O_NONBLOCK: a FIFO planted there must not hang the call (it is refused below).
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        try:
            fd = os.open(self.path, flags, 0o600)
        except OSError as error:
            if self.path.is_symlink():
                raise _Refused("it is a symbolic link; point [audit] path at a regular file") from None
            raise error
        try:
            self._check(fd)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _check(self, fd: int) -> None:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _Refused("it is not a regular file; point [audit] path at a file")
        if info.st_uid != os.geteuid():
            raise _Refused(
                f"it is owned by another user (uid {info.st_uid}), who could change the record; "
                "point [audit] path at a file of your own"
            )
        if info.st_mode & 0o077:
            os.fchmod(fd, 0o600)
            self._warn(
                "mode",
                f"audit log {self.path} was readable or writable by others "
                f"({stat.filemode(info.st_mode)}); made it 0600",
            )

    def _rotate(self, fd: int) -> int:
        """Shift the old files up and start a new one; under a lock, so that servers sharing
        the file rotate it once. Returns the descriptor to write to."""
        assert self.path is not None
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            current = self.path.lstat()
            mine = os.fstat(fd)
            if (current.st_dev, current.st_ino) == (mine.st_dev, mine.st_ino):
                for index in range(self.keep - 1, 0, -1):
                    older = self._rotated(index)
                    if older.exists() or older.is_symlink():
                        older.replace(self._rotated(index + 1))
                if self.keep > 0:
                    self.path.replace(self._rotated(1))
                else:
                    self.path.unlink()
        except FileNotFoundError:
            pass  # another server rotated it first
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
        return self._open()

    def _rotated(self, index: int) -> Path:
        assert self.path is not None
        return self.path.with_name(f"{self.path.name}.{index}")

    def _warn(self, kind: str, message: str) -> None:
        if kind not in self._warned:
            self._warned.add(kind)
            logger.warning("%s", message)


class _Refused(Exception):
    """The trail's file is not one sitrep should write to."""


def _private_directory(directory: Path) -> None:
    """Create the directory 0700 (mkdir's mode is cut by the umask, so it is set again)."""
    try:
        directory.mkdir(parents=True, mode=0o700)
    except FileExistsError:
        return
    directory.chmod(0o700)


def _safe(value: Any) -> Any:
    """An argument as it may be kept: text redacted and cut, other JSON values as they are."""
    if isinstance(value, str):
        return sanitize(value)[:MAX_ARGUMENT_CHARS]
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_safe(item) for item in list(value)[:50]]
    if isinstance(value, dict):
        return {sanitize(str(k))[:100]: _safe(v) for k, v in list(value.items())[:50]}
    return sanitize(repr(value))[:MAX_ARGUMENT_CHARS]
