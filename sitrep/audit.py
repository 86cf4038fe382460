"""The evidence trail: one JSON line per tool call, the record of what the agent read.

Each line holds the time, the tool, its arguments, the sources it read, the size of the
answer, how long it took and how it ended. Arguments and error messages pass through the
same redaction as every output, so the log never holds a secret a model could not see
either. Lines are appended with one `write` each, so several servers can share a file.
Writing the log never fails a tool call: a log that cannot be written is said once, on
stderr.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from sitrep.redact import sanitize

__all__ = ["AuditLog", "Outcome", "default_audit_path"]

Outcome = Literal["ok", "error", "timeout", "refused"]

MAX_ARGUMENT_CHARS = 300
MAX_ERROR_CHARS = 500

logger = logging.getLogger("sitrep")


def default_audit_path() -> Path:
    """`$XDG_STATE_HOME/sitrep/audit.jsonl`, or `~/.local/state/sitrep/audit.jsonl`."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "sitrep" / "audit.jsonl"


class AuditLog:
    """Appends one line per tool call to `path`; with no path it records nothing."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._warned = False

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
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode("utf-8"))
            finally:
                os.close(fd)
        except OSError as error:
            if not self._warned:
                self._warned = True
                logger.warning(
                    "audit log %s cannot be written (%s); tool calls go unrecorded", self.path, error
                )


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
