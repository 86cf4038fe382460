"""Small helpers the tool modules share: times for output, log-source access, notes."""

from __future__ import annotations

from sitrep.domain import ScanReport
from sitrep.errors import InputError
from sitrep.runtime import Runtime
from sitrep.sources.logparse import normalize_level
from sitrep.sources.protocols import LogSource
from sitrep.timespec import from_epoch, isoformat

LEVEL_ORDER = ("trace", "debug", "info", "warn", "error", "critical", "fatal")


def iso(ts: float) -> str:
    return isoformat(from_epoch(ts))


def iso_or_none(ts: float) -> str | None:
    """None for 0.0, which sources use when lines carry no time."""
    return iso(ts) if ts > 0 else None


def require_logs(rt: Runtime) -> LogSource:
    if rt.logs is None:
        raise InputError(
            'no log source is configured; add [files] paths = ["/var/log/app/*.jsonl"] to the '
            "configuration (sources_status shows what is set up)"
        )
    return rt.logs


def optional_service(rt: Runtime, service: str | None) -> str | None:
    return None if service is None else rt.require_service(service)


def levels_at_least(level: str) -> frozenset[str]:
    """`warn` → warn and everything more severe."""
    normal = normalize_level(level)
    if normal not in LEVEL_ORDER:
        raise InputError(f"level: unknown level {level!r}; use one of {', '.join(LEVEL_ORDER)}")
    return frozenset(LEVEL_ORDER[LEVEL_ORDER.index(normal) :])


def scan_notes(report: ScanReport) -> list[str]:
    notes = list(report.notes)
    if report.lines_skipped:
        notes.append(f"{report.lines_skipped} unreadable log line(s) skipped")
    if report.partial:
        notes.append("partial answer: some log data could not be read")
    return notes
