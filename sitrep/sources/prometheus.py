"""Prometheus (or anything with its HTTP API) as a metrics source, and as an alert source
through its alerts API and its `ALERTS` series. Every request goes through the guarded client
(sources/http_guard.py); nothing here can write.

Signals: the configured `[prometheus.signals]` first; the standard ones not configured are
detected from the metric names and label names the server itself reports:
OpenTelemetry's `http_server_request_duration_seconds_*` with `http_response_status_code`,
or the classic `http_requests_total{code}` and `http_request_duration_seconds_bucket`.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

from sitrep.deadline import once
from sitrep.domain import Alert, Deploy, MetricSignal, Series
from sitrep.errors import InputError, SourceError, SourceResponseError
from sitrep.settings import STANDARD_SIGNALS, PrometheusSettings
from sitrep.sources.build_info import build_info_deploys
from sitrep.sources.deploy_markers import (
    KSM_GENERATIONS,
    candidates_query,
    change_query,
    changed_deploys,
    kinds_found,
)
from sitrep.sources.http_guard import PROMETHEUS_READS, GuardedHttp, HttpStatusError
from sitrep.sources.promql_batch import fleet_query
from sitrep.sources.protocols import AlertPage, SeriesPage, SourceStatus
from sitrep.timespec import parse_instant

__all__ = ["PrometheusAlerts", "PrometheusMetrics", "detect_signals", "epoch", "http_client"]

SOURCE = "prometheus"
MAX_POINTS_PER_SERIES = 11_000
"""Prometheus refuses a range query of more points per series than this."""
HISTORY_STEP_MIN = 15.0
MAX_NAMED_SERVICES = 300


def http_client(source: str, config: Any, reads: Any, *, deadline_seconds: float) -> GuardedHttp:
    """The guarded client for one [prometheus] or [alertmanager] section."""
    verify: bool | str = config.verify_certs
    if config.verify_certs and config.ca_certs is not None:
        verify = str(config.ca_certs)
    return GuardedHttp(
        source,
        config.url,
        reads,
        timeout_seconds=config.timeout_seconds,
        budget_seconds=deadline_seconds,
        token=config.token.get_secret_value() if config.token else None,
        username=config.username.get_secret_value() if config.username else None,
        password=config.password.get_secret_value() if config.password else None,
        verify=verify,
    )


def detect_signals(names: set[str], labels_of: Any, service_label: str) -> list[MetricSignal]:
    """The standard signals a server's metric names support. `labels_of(metric)` returns the
    label names that metric carries."""
    s = f'{service_label}="{{service}}"'
    otel = "http_server_request_duration_seconds"
    if f"{otel}_count" in names and "http_response_status_code" in labels_of(f"{otel}_count"):
        count = f"{otel}_count"
        requests = f"sum(rate({count}{{{s}}}[{{range}}]))"
        errors = f'sum(rate({count}{{{s},http_response_status_code=~"5.."}}[{{range}}]))'
        found = [
            MetricSignal("requests", requests, "down", "opentelemetry"),
            MetricSignal("errors", errors, "up", "opentelemetry"),
            MetricSignal("error_ratio", f"({errors}) / ({requests})", "up", "opentelemetry"),
        ]
        if f"{otel}_bucket" in names:
            p95 = f"histogram_quantile(0.95, sum by (le) (rate({otel}_bucket{{{s}}}[{{range}}])))"
            found.append(MetricSignal("latency_p95", p95, "up", "opentelemetry"))
        return found
    found = []
    if "http_requests_total" in names and "code" in labels_of("http_requests_total"):
        requests = f"sum(rate(http_requests_total{{{s}}}[{{range}}]))"
        errors = f'sum(rate(http_requests_total{{{s},code=~"5.."}}[{{range}}]))'
        found += [
            MetricSignal("requests", requests, "down", "classic"),
            MetricSignal("errors", errors, "up", "classic"),
            MetricSignal("error_ratio", f"({errors}) / ({requests})", "up", "classic"),
        ]
    if "http_request_duration_seconds_bucket" in names:
        bucket = f"http_request_duration_seconds_bucket{{{s}}}"
        p95 = f"histogram_quantile(0.95, sum by (le) (rate({bucket}[{{range}}])))"
        found.append(MetricSignal("latency_p95", p95, "up", "classic"))
    return found


class PrometheusMetrics:
    """A MetricsSource over Prometheus' query API."""

    name = SOURCE

    def __init__(
        self, config: PrometheusSettings, *, deadline_seconds: float, client: GuardedHttp | None = None
    ):
        self.config = config
        self.url = config.url
        self.client = client or http_client(
            SOURCE, config, PROMETHEUS_READS, deadline_seconds=deadline_seconds
        )

    # -- MetricsSource ------------------------------------------------------------------
    def query_range(
        self, promql: str, start: float, end: float, step: float, *, max_series: int
    ) -> SeriesPage:
        if not end > start:
            raise InputError("the range is empty: until must be after since")
        step = max(step, (end - start) / MAX_POINTS_PER_SERIES, 1.0)
        try:
            answer = self.client.post(
                "/api/v1/query_range",
                {"query": promql, "start": _num(start), "end": _num(end), "step": _num(step)},
            )
        except HttpStatusError as error:
            if error.status in (400, 422):
                raise InputError(f"query: Prometheus cannot run it: {error.detail}") from None
            raise
        data = _data(answer)
        if not isinstance(data, dict) or data.get("resultType") != "matrix":
            kind = data.get("resultType") if isinstance(data, dict) else type(data).__name__
            raise SourceResponseError(SOURCE, f"a range query answered {kind!r}, not a matrix")
        result = data.get("result")
        if not isinstance(result, list):
            raise SourceResponseError(SOURCE, "a range query answered without a result list")
        notes = [f"Prometheus warns: {w}" for w in answer.get("warnings") or [] if isinstance(w, str)][:3]
        series = [_series(item) for item in result[:max_series]]
        return SeriesPage(series=series, total=len(result), step=step, notes=notes)

    def signals(self, service: str | None = None) -> list[MetricSignal]:
        known = once(("prometheus-signals", self.url), self._signals)
        if service is None:
            return known
        return [signal for signal in known if self._has_data(signal, service)]

    def missing_signals(self) -> list[str]:
        found = {signal.name for signal in self.signals()}
        return [name for name in STANDARD_SIGNALS if name not in found]

    def services(self) -> set[str]:
        return set(once(("prometheus-services", self.url), self._services))

    def signal_by_service(
        self,
        signal: MetricSignal,
        window: str,
        start: float,
        end: float,
        step: float,
        services: Sequence[str] | None = None,
    ) -> dict[str, Series]:
        """The signal of every service (or of `services`) over [start, end]: one query grouped
        by the service label when its template allows (promql_batch), else one per service."""
        label = self.config.service_label
        batched = fleet_query(signal.query, label, window, services)
        if batched is not None:
            limit = len(services) if services is not None else 20_000
            page = self.query_range(batched, start, end, step, max_series=limit)
            found = {s.labels[label]: s for s in page.series if s.labels.get(label)}
            return found if services is None else {k: v for k, v in found.items() if k in set(services)}
        out: dict[str, Series] = {}
        for name in sorted(self.services()) if services is None else services:
            page = self.query_range(signal.promql(name, window), start, end, step, max_series=1)
            if page.series:
                out[name] = page.series[0]
        return out

    def deploy_markers(self, start: float, end: float, service: str | None = None) -> list[Deploy]:
        """The configured marker query, read whole; or, with none configured, one sparse query
        over build info and kube-state-metrics that answers only where a deploy is marked."""
        query = self.config.deploy_markers
        step = max(60.0, (end - start) / 2000)
        if query is None:
            found = once(
                ("prometheus-markers", self.url, service, start, end),
                lambda: self._changed_deploys(start, end, step, service),
            )
            return [d for d in found if start <= d.timestamp <= end and service in (None, d.service)]
        if not query.strip():
            return []
        page = once(
            ("prometheus-markers", self.url, query, start, end),
            lambda: self.query_range(query, start, end, step, max_series=2000),
        )
        found = build_info_deploys(page.series, self.config.service_label, start, page.step)
        return [d for d in found if service is None or d.service == service]

    def _changed_deploys(self, start: float, end: float, step: float, service: str | None) -> list[Deploy]:
        label = self.config.service_label
        services = [service] if service is not None else self._marker_candidates(end, end - start + step)
        if not services:
            return []
        # Past a few hundred names a regex of them costs more than it saves: read every service.
        changes = change_query(label, step, services if len(services) <= MAX_NAMED_SERVICES else None)
        return changed_deploys(self.query_range(changes, start, end, step, max_series=5000).series, label)

    def _marker_candidates(self, at: float, seconds: float) -> list[str]:
        """The services that can have a marked deploy in the `seconds` before `at`."""
        query = candidates_query(self.config.service_label, seconds)
        try:
            answer = self.client.post("/api/v1/query", {"query": query, "time": _num(at)})
        except HttpStatusError as error:
            raise SourceResponseError(SOURCE, f"the deploy-marker query failed: {error.detail}") from None
        data = _data(answer)
        result = data.get("result") if isinstance(data, dict) else None
        if not isinstance(result, list):
            raise SourceResponseError(SOURCE, "an instant query answered without a result list")
        label = self.config.service_label
        return sorted(
            {
                str(i["metric"][label])
                for i in result
                if isinstance(i, dict) and label in (i.get("metric") or {})
            }
        )

    def marker_kinds(self) -> str:
        """What marks deploys on this server, in words (for sources_status)."""
        if self.config.deploy_markers is not None:
            return "the configured query" if self.config.deploy_markers.strip() else "off"
        kinds = kinds_found(self._metric_names())
        return ", ".join(kinds) if kinds else "none found (no *_build_info or kube-state-metrics series)"

    def status(self) -> SourceStatus:
        started = time.perf_counter()
        try:
            info = _data(self.client.get("/api/v1/status/buildinfo", attempts=1))
            version = info.get("version", "unknown") if isinstance(info, dict) else "unknown"
            services = len(self.services())
            signals = self.signals()
            markers = self.marker_kinds()
        except SourceError as error:
            return SourceStatus(SOURCE, "metrics", False, _ms(started), str(error))
        found = ", ".join(signal.name for signal in signals) or "none"
        detail = (
            f"Prometheus {version} at {self.url}; {services} values of label {self.config.service_label!r}; "
            f"signals: {found}; deploy markers: {markers}"
        )
        return SourceStatus(SOURCE, "metrics", True, _ms(started), detail)

    # -- alerts ---------------------------------------------------------------------------
    def alert_history(self, start: float, end: float) -> list[Alert]:
        """Alerts that fired in [start, end], from the ALERTS series: one per unbroken run."""
        step = max(HISTORY_STEP_MIN, (end - start) / 2000)
        page = self.query_range('ALERTS{alertstate="firing"}', start, end, step, max_series=500)
        alerts: list[Alert] = []
        for series in page.series:
            labels = {k: v for k, v in series.labels.items() if k not in {"__name__", "alertstate"}}
            for first, last in _runs([ts for ts, value in series.samples if not math.isnan(value)], step):
                ended = last + step if last + step < end else None
                alerts.append(
                    self._alert(labels, {}, "firing" if ended is None else "resolved", first, ended)
                )
        alerts.sort(key=lambda alert: alert.starts_at)
        return alerts

    def active_alerts(self) -> list[Alert]:
        data = _data(self.client.get("/api/v1/alerts"))
        items = data.get("alerts") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise SourceResponseError(SOURCE, "the alerts API answered without an alerts list")
        alerts = []
        for item in items:
            if not isinstance(item, dict):
                continue
            state = str(item.get("state") or "firing")
            alerts.append(
                self._alert(
                    _strings(item.get("labels")),
                    _strings(item.get("annotations")),
                    state,
                    epoch(item.get("activeAt")) or 0.0,
                    None,
                )
            )
        return alerts

    def _alert(
        self, labels: dict[str, str], annotations: dict[str, str], state: str, start: float, end: float | None
    ) -> Alert:
        return Alert(
            name=labels.get("alertname", "unnamed"),
            state=state,
            starts_at=start,
            ends_at=end,
            severity=labels.get("severity"),
            service=labels.get(self.config.service_label),
            labels=labels,
            annotations=annotations,
            source=SOURCE,
        )

    # -- reads --------------------------------------------------------------------------
    def _services(self) -> list[str]:
        values = _data(self.client.get(f"/api/v1/label/{self.config.service_label}/values"))
        if not isinstance(values, list):
            raise SourceResponseError(SOURCE, "label values answered without a list")
        if self.config.deploy_markers is None and KSM_GENERATIONS in self._metric_names():
            # kube-state-metrics' Deployments are services too (their deploys are marked).
            deployments = _data(
                self.client.get("/api/v1/label/deployment/values", {"match[]": KSM_GENERATIONS})
            )
            values += deployments if isinstance(deployments, list) else []
        return [value for value in values if isinstance(value, str)]

    def _signals(self) -> list[MetricSignal]:
        configured = [
            MetricSignal(name, query, bad, "configured")
            for name, (query, bad) in self.config.signal_queries().items()
        ]
        if all(name in self.config.signals for name in STANDARD_SIGNALS):
            return configured
        detected = detect_signals(self._metric_names(), self._labels_of, self.config.service_label)
        taken = {signal.name for signal in configured}
        return configured + [signal for signal in detected if signal.name not in taken]

    def _metric_names(self) -> set[str]:
        names = once(
            ("prometheus-names", self.url), lambda: _data(self.client.get("/api/v1/label/__name__/values"))
        )
        if not isinstance(names, list):
            raise SourceResponseError(SOURCE, "metric names answered without a list")
        return {n for n in names if isinstance(n, str)}

    def _labels_of(self, metric: str) -> set[str]:
        names = _data(self.client.get("/api/v1/labels", {"match[]": metric}))
        return {n for n in names if isinstance(n, str)} if isinstance(names, list) else set()

    def _has_data(self, signal: MetricSignal, service: str) -> bool:
        """Whether a detected signal's metric has a series for `service`; configured signals
        are taken on trust (their PromQL may combine several metrics)."""
        if signal.origin == "configured":
            return True
        metric = next((m for m in _METRIC_OF if m in signal.query), None)
        if metric is None:
            return True
        label = self.config.service_label
        matcher = f'{metric}{{{label}="{_escape(service)}"}}'
        found = once(
            ("prometheus-series", self.url, matcher),
            lambda: _data(self.client.get("/api/v1/series", {"match[]": matcher})),
        )
        return isinstance(found, list) and bool(found)


_METRIC_OF = (
    "http_server_request_duration_seconds_count",
    "http_server_request_duration_seconds_bucket",
    "http_requests_total",
    "http_request_duration_seconds_bucket",
)


class PrometheusAlerts:
    """An AlertSource from Prometheus alone: its alerts API now, its ALERTS series before."""

    name = SOURCE

    def __init__(self, metrics: PrometheusMetrics) -> None:
        self.metrics = metrics

    def active(self) -> AlertPage:
        return AlertPage(self.metrics.active_alerts())

    def history(self, start: float, end: float) -> AlertPage:
        return AlertPage(self.metrics.alert_history(start, end))

    def status(self) -> SourceStatus:
        return self.metrics.status()


def _data(answer: Any) -> Any:
    if not isinstance(answer, dict) or answer.get("status") != "success" or "data" not in answer:
        error = answer.get("error") if isinstance(answer, dict) else None
        raise SourceResponseError(SOURCE, f"answered without success data{f': {error}' if error else ''}")
    return answer["data"]


def _series(item: Any) -> Series:
    if not isinstance(item, dict):
        raise SourceResponseError(SOURCE, "a series in the answer is not an object")
    try:
        # One comprehension, not a loop with a try per sample: a fleet's answer holds tens
        # of thousands.
        samples = [(float(ts), float(value)) for ts, value in item.get("values") or ()]
    except (TypeError, ValueError):
        raise SourceResponseError(SOURCE, "a sample in the answer is not [time, value]") from None
    return Series(labels=_strings(item.get("metric")), samples=samples)


def _strings(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): str(v) for k, v in value.items()}


def _runs(times: Sequence[float], step: float) -> list[tuple[float, float]]:
    """Unbroken runs of sample times (a gap longer than 1.5 steps breaks a run)."""
    runs: list[tuple[float, float]] = []
    for ts in times:
        if runs and ts - runs[-1][1] <= 1.5 * step:
            runs[-1] = (runs[-1][0], ts)
        else:
            runs.append((ts, ts))
    return runs


def epoch(value: Any) -> float | None:
    """An RFC 3339 time (nanoseconds cut to microseconds, which Python reads) as epoch seconds."""
    if not isinstance(value, str):
        return None
    moment = parse_instant(_FRACTION.sub(lambda m: m.group(0)[:7], value.strip()))
    return moment.timestamp() if moment is not None else None


_FRACTION = re.compile(r"\.\d+")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _num(value: float) -> str:
    return repr(round(value, 3)) if math.isfinite(value) else "0"


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
