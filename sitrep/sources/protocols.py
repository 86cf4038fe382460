"""The small protocols each backend implements. A new backend is one new module."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sitrep.domain import (
    Alert,
    Deploy,
    LogQuery,
    LogRecord,
    MessageGroup,
    MetricSignal,
    ScanReport,
    Series,
    TraceStep,
    WindowStats,
)


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
    traces: dict[str, list[TraceStep]] = field(default_factory=dict)
    """With `traces`, the lines carrying a trace id in the range the windows cover, by trace
    id, in no particular order (every level; at most `sources.traces.MAX_TRACE_LINES`)."""
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

    def scan(
        self, query: LogQuery, *, groups: Windows = (), stats: Windows = (), traces: bool = False
    ) -> WindowScan:
        """One read of the range the windows cover (the query's own range is ignored): message
        groups over `groups`, traffic, errors and latency percentiles per service over
        `stats`, and with `traces` the lines that carry a trace id. Either window list may be
        empty, and is then not computed. Statistics and traces ignore `query.levels`: an
        error rate is a share of every line, and a trace is all of its lines."""
        ...

    def status(self) -> SourceStatus: ...


@dataclass(slots=True)
class SeriesPage:
    """The answer of a range query: at most the asked number of series, and how many matched."""

    series: list[Series]
    total: int
    """Series the query returned before the cap."""
    step: float
    """Seconds between samples, as asked of the backend."""
    notes: list[str] = field(default_factory=list)


class MetricsSource(Protocol):
    """Where metrics live (Prometheus or anything speaking its HTTP API): PromQL range queries,
    and the health signals each service has."""

    name: str

    def query_range(
        self, promql: str, start: float, end: float, step: float, *, max_series: int
    ) -> SeriesPage:
        """Evaluate `promql` over [start, end] every `step` seconds; at most `max_series` series."""
        ...

    def signals(self, service: str | None = None) -> list[MetricSignal]:
        """The health signals known (configured or detected), with their PromQL templates;
        for `service`, those that have data for it."""
        ...

    def missing_signals(self) -> list[str]:
        """Standard signals (requests, errors, latency_p95) neither configured nor detected."""
        ...

    def services(self) -> set[str]:
        """Values of the configured service label."""
        ...

    def signal_by_service(
        self,
        signal: MetricSignal,
        window: str,
        start: float,
        end: float,
        step: float,
        services: Sequence[str] | None = None,
    ) -> dict[str, Series]:
        """`signal` (over `window`, a PromQL duration) for every service or those named, in as
        few queries as the backend allows; services with no data are absent."""
        ...

    def deploy_markers(self, start: float, end: float, service: str | None = None) -> list[Deploy]:
        """Deploys marked in [start, end] by a build-info label that changes (source "metrics"),
        of `service` or of every service."""
        ...

    def status(self) -> SourceStatus: ...


@dataclass(slots=True)
class AlertPage:
    alerts: list[Alert]
    notes: list[str] = field(default_factory=list)
    """What could not be read (e.g. no history without Prometheus)."""


class AlertSource(Protocol):
    """Alerts: what fires now (Alertmanager, or Prometheus' alerts API) and what fired in a
    range (Prometheus' ALERTS series)."""

    name: str

    def active(self) -> AlertPage:
        """Alerts firing (or silenced, pending) now."""
        ...

    def history(self, start: float, end: float) -> AlertPage:
        """Alerts that fired at some time in [start, end], each with its start and end."""
        ...

    def status(self) -> SourceStatus: ...
