"""The deploy log: NDJSON, one deploy a line. It is the source of truth for *when*.

A line that cannot be read, for whatever reason, is skipped and counted; each field is cut to
a bound when read, and a line is read to its first MiB at most."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from sitrep.deadline import once, touched
from sitrep.domain import Deploy
from sitrep.errors import SourceUnavailable
from sitrep.settings import DeployLogSource
from sitrep.sources.lines import LineReader
from sitrep.sources.protocols import SourceStatus
from sitrep.timespec import parse_instant

_NAME_CHARS = 200
_TEXT_CHARS = 2_000
_STATE_CHARS = 64


@dataclass(slots=True)
class DeployLogRead:
    deploys: list[Deploy]
    lines_skipped: int
    complete: bool = True
    """False when the call's deadline stopped the reading."""


class DeployLog:
    """Reads `{timestamp, service, version, sha?, author?, environment?, status?, description?}` lines."""

    kind = "deploy_log"
    name = "deploy_log"

    def __init__(self, config: DeployLogSource) -> None:
        self.path = Path(config.path)
        self.environment = config.environment
        """Only deploys to this environment count (None: every deploy)."""

    def read(self) -> DeployLogRead:
        touched(self.name)
        return once(("deploy_log", self.path), self._read)

    def _read(self) -> DeployLogRead:
        try:
            handle = self.path.open("rb")
        except FileNotFoundError:
            raise SourceUnavailable(self.name, f"{self.path} does not exist; fix [deploy_log] path") from None
        except OSError as error:
            raise SourceUnavailable(self.name, f"cannot read {self.path}: {error.strerror}") from None
        deploys: list[Deploy] = []
        skipped = 0
        with handle:
            lines = LineReader(handle)
            for _, line, cut in lines:
                if not line.strip():
                    continue
                deploy = None if cut else _parse(line)
                if deploy is None:
                    skipped += 1
                else:
                    deploys.append(deploy)
        deploys.sort(key=lambda d: d.timestamp)
        return DeployLogRead(deploys, skipped, lines.stopped_at is None)

    def status(self) -> SourceStatus:
        started = time.perf_counter()
        try:
            read = self.read()
        except SourceUnavailable as error:
            return SourceStatus(self.name, self.kind, False, _ms(started), str(error))
        services = sorted({d.service for d in read.deploys})
        detail = f"{self.path}: {len(read.deploys)} deploys of {', '.join(services) or 'no service'}"
        if read.lines_skipped:
            detail += f"; {read.lines_skipped} unreadable line(s) skipped"
        if not read.complete:
            detail += "; not read to its end within the deadline"
        return SourceStatus(self.name, self.kind, True, _ms(started), detail)


def _parse(line: str) -> Deploy | None:
    """The deploy of a line, or None when it cannot be read for any reason."""
    try:
        return _deploy(json.loads(line))
    except Exception:  # corrupt, nested too deep, odd types: one bad line must not hide the log
        return None


def _deploy(obj: object) -> Deploy | None:
    if not isinstance(obj, dict):
        return None
    stamp = obj.get("timestamp")
    moment = parse_instant(stamp) if isinstance(stamp, str) and len(stamp) <= 64 else None
    service, version = obj.get("service"), obj.get("version")
    if moment is None or not isinstance(service, str) or not service or version is None:
        return None
    sha = _text(obj.get("sha"), _STATE_CHARS)
    return Deploy(
        service=service[:_NAME_CHARS],
        version=_text(version, _NAME_CHARS) or "",
        timestamp=moment.timestamp(),
        sha=sha.lower() if sha else None,
        author=_text(obj.get("author"), _NAME_CHARS),
        message=_text(obj.get("description"), _TEXT_CHARS),
        source="deploy_log",
        status=_text(obj.get("status"), _STATE_CHARS),
        environment=_text(obj.get("environment"), _NAME_CHARS),
    )


def _text(value: object, limit: int) -> str | None:
    """A field as text cut to `limit`: a string as it is, anything else as compact JSON."""
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), default=str)
    return text[:limit]


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
