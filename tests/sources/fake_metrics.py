"""Small in-memory MetricsSource and AlertSource, for tests of the tools on top of them.
They answer from what the test gives them; the real backends are tested against real
Prometheus and Alertmanager (tests/integration/test_prometheus.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sitrep.domain import Alert, Deploy, MetricSignal, Series
from sitrep.sources.build_info import build_info_deploys, default_query
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

    def signal_by_service(
        self,
        signal: MetricSignal,
        window: str,
        start: float,
        end: float,
        step: float,
        services: Sequence[str] | None = None,
    ) -> dict[str, Series]:
        out = {}
        for name in sorted(self.services()) if services is None else services:
            page = self.query_range(signal.promql(name, window), start, end, step, max_series=1)
            if page.series:
                out[name] = page.series[0]
        return out

    def deploy_markers(self, start: float, end: float, service: str | None = None) -> list[Deploy]:
        page = self.query_range(default_query("service", service), start, end, 60.0, max_series=1000)
        found = build_info_deploys(page.series, "service", start, page.step)
        return [d for d in found if service is None or d.service == service]

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
