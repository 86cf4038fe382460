"""The small protocols each backend implements. A new backend is one new module."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
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


class LogSource(Protocol):
    """Where log lines live. Counting and aggregation happen in the backend where it can."""

    name: str

    def services(self) -> set[str]:
        """Service names seen in the logs."""
        ...

    def search(self, query: LogQuery, limit: int) -> LogPage:
        """The newest `limit` matching lines, newest first, with the exact total."""
        ...

    def message_groups(
        self, query: LogQuery, windows: Sequence[tuple[float, float]], report: ScanReport
    ) -> Iterator[tuple[int, MessageGroup]]:
        """Lines matching the query's filters, grouped by exact message within each window
        (sorted, disjoint; the query's own range is ignored), tagged with the window's index.
        A message may come in several groups."""
        ...

    def window_stats(
        self, query: LogQuery, windows: Sequence[tuple[float, float]], report: ScanReport
    ) -> dict[str, list[WindowStats]]:
        """Traffic, errors and latency percentiles per service and window (windows sorted,
        disjoint; the query's own range is ignored); services with no line are absent."""
        ...

    def status(self) -> SourceStatus: ...
