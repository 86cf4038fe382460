"""The deploy log: NDJSON, one deploy a line. It is the source of truth for *when*."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from sitrep.calls import touched
from sitrep.errors import SourceUnavailable
from sitrep.records import Deploy
from sitrep.settings import DeployLogSource
from sitrep.sources.base import SourceStatus
from sitrep.timespec import parse_instant


@dataclass(slots=True)
class DeployLogRead:
    deploys: list[Deploy]
    lines_skipped: int


class DeployLog:
    """Reads `{timestamp, service, version, sha?, author?, environment?, status?, description?}` lines."""

    kind = "deploy_log"
    name = "deploy_log"

    def __init__(self, config: DeployLogSource) -> None:
        self.path = Path(config.path)

    def read(self) -> DeployLogRead:
        touched(self.name)
        try:
            handle = self.path.open(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            raise SourceUnavailable(self.name, f"{self.path} does not exist; fix [deploy_log] path") from None
        except OSError as error:
            raise SourceUnavailable(self.name, f"cannot read {self.path}: {error.strerror}") from None
        deploys: list[Deploy] = []
        skipped = 0
        with handle:
            for line in handle:
                if not line.strip():
                    continue
                deploy = _parse(line)
                if deploy is None:
                    skipped += 1
                else:
                    deploys.append(deploy)
        deploys.sort(key=lambda d: d.timestamp)
        return DeployLogRead(deploys, skipped)

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
        return SourceStatus(self.name, self.kind, True, _ms(started), detail)


def _parse(line: str) -> Deploy | None:
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    moment = parse_instant(str(obj.get("timestamp", "")))
    service, version = obj.get("service"), obj.get("version")
    if moment is None or not isinstance(service, str) or not service or version is None:
        return None
    sha = obj.get("sha")
    return Deploy(
        service=service,
        version=str(version),
        timestamp=moment,
        sha=str(sha).lower() if sha else None,
        author=_text(obj.get("author")),
        message=_text(obj.get("description")),
        source="deploy_log",
        status=_text(obj.get("status")),
        environment=_text(obj.get("environment")),
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
