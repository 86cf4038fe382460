"""Small in-memory MetricsSource and AlertSource, for tests of the tools on top of them.
They answer from what the test gives them; the real backends are tested against real
Prometheus and Alertmanager (tests/integration/test_prometheus.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sitrep.domain import Alert, MetricSignal, Series
from sitrep.sources.protocols import AlertPage, SeriesPage, SourceStatus

STANDARD = ("requests", "errors", "error_ratio", "latency_p95")


@dataclass
class FakeMetrics:
    """Answers every query with `series` (cut to the range), or with what `answer(promql)` gives."""

    series: list[Series] = field(default_factory=list)
    known: list[MetricSignal] = field(default_factory=list)
    answer: Callable[[str], list[Series]] | None = None
    name: str = "fake-metrics"
    asked: list[str] = field(default_factory=list)

    def query_range(
        self, promql: str, start: float, end: float, step: float, *, max_series: int
    ) -> SeriesPage:
        self.asked.append(promql)
        found = self.answer(promql) if self.answer else self.series
        cut = [Series(s.labels, [(ts, v) for ts, v in s.samples if start <= ts <= end]) for s in found]
        return SeriesPage(series=cut[:max_series], total=len(cut), step=step)

    def signals(self, service: str | None = None) -> list[MetricSignal]:
        return list(self.known)

    def missing_signals(self) -> list[str]:
        have = {signal.name for signal in self.known}
        return [name for name in STANDARD if name not in have]

    def services(self) -> set[str]:
        return {s.labels["service"] for s in self.series if "service" in s.labels}

    def status(self) -> SourceStatus:
        return SourceStatus(self.name, "metrics", True, 0.0, "in memory")


@dataclass
class FakeAlerts:
    firing: list[Alert] = field(default_factory=list)
    past: list[Alert] = field(default_factory=list)
    name: str = "fake-alerts"

    def active(self) -> AlertPage:
        return AlertPage(list(self.firing))

    def history(self, start: float, end: float) -> AlertPage:
        return AlertPage(
            [a for a in self.past if a.starts_at <= end and (a.ends_at is None or a.ends_at >= start)]
        )

    def status(self) -> SourceStatus:
        return SourceStatus(self.name, "alerts", True, 0.0, "in memory")


def alert(
    name: str,
    service: str,
    start: float,
    *,
    severity: str = "critical",
    end: float | None = None,
    summary: str = "",
    state: str = "firing",
) -> Alert:
    labels = {"alertname": name, "service": service, "severity": severity}
    return Alert(
        name, state, start, end, severity, service, labels, {"summary": summary} if summary else {}, "fake"
    )
