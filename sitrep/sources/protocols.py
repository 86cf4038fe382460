"""The small protocols each backend implements. A new backend is one new module."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sitrep.domain import LogQuery, LogRecord, MessageGroup, ScanReport, WindowStats


@dataclass(slots=True)
class SourceStatus:
    name: str
    kind: str
    ok: bool
    latency_ms: float
    detail: str


@dataclass(slots=True)
class LogPage:
    """The newest matching lines, and how many matched in all."""

    total: int
    records: list[LogRecord]
    report: ScanReport = field(default_factory=ScanReport)


Windows = Sequence[tuple[float, float]]
"""Time windows [start, end) in epoch seconds, sorted and disjoint."""


@dataclass(slots=True)
class WindowScan:
    """What one scan of a range found: the message groups, the window statistics, and what
    the scan skipped or left partial."""

    groups: list[tuple[int, MessageGroup]] = field(default_factory=list)
    """Lines matching the query (its levels included), grouped by exact message within each
    group window and tagged with the window's index. A message may come in several groups."""
    stats: dict[str, list[WindowStats]] = field(default_factory=dict)
    """Per service, one entry per stats window; services with no line are absent."""
    report: ScanReport = field(default_factory=ScanReport)


class LogSource(Protocol):
    """Where log lines live. Counting and aggregation happen in the backend where it can."""

    name: str

    def services(self) -> set[str]:
        """Service names seen in the logs."""
        ...

    def search(self, query: LogQuery, limit: int) -> LogPage:
        """The newest `limit` matching lines, newest first, with the exact total."""
        ...

    def scan(self, query: LogQuery, *, groups: Windows = (), stats: Windows = ()) -> WindowScan:
        """One read of the range the windows cover (the query's own range is ignored): message
        groups over `groups`, traffic, errors and latency percentiles per service over
        `stats`. Either may be empty, and is then not computed. Statistics ignore
        `query.levels`: an error rate is a share of every line."""
        ...

    def status(self) -> SourceStatus: ...
