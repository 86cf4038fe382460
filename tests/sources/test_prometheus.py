"""Prometheus' pieces that need no server: signal detection from metric and label names, the
fakes honour the protocols, a service name cannot break out of its label matcher."""

from __future__ import annotations

from sitrep.domain import MetricSignal
from sitrep.sources.prometheus import detect_signals, epoch
from sitrep.sources.protocols import AlertSource, MetricsSource
from tests.sources.fake_metrics import FakeAlerts, FakeMetrics


def test_opentelemetry_http_metrics_give_all_four_signals() -> None:
    names = {"http_server_request_duration_seconds_count", "http_server_request_duration_seconds_bucket"}
    found = detect_signals(names, lambda _: {"http_response_status_code", "service"}, "service")
    assert [s.name for s in found] == ["requests", "errors", "error_ratio", "latency_p95"]
    assert {s.origin for s in found} == {"opentelemetry"}
    errors = next(s for s in found if s.name == "errors")
    assert errors.promql("checkout", "5m") == (
        'sum(rate(http_server_request_duration_seconds_count{service="checkout",'
        'http_response_status_code=~"5.."}[5m]))'
    )


def test_classic_metrics_and_a_missing_status_label() -> None:
    names = {"http_requests_total", "http_request_duration_seconds_bucket"}
    found = detect_signals(names, lambda _: {"code", "job"}, "job")
    assert [s.name for s in found] == ["requests", "errors", "error_ratio", "latency_p95"]
    assert 'job="{service}"' in found[0].query
    # Without the status-code label there is no error signal to detect; latency remains.
    only_latency = detect_signals(names, lambda _: {"job"}, "job")
    assert [s.name for s in only_latency] == ["latency_p95"]
    assert detect_signals({"up"}, lambda _: set(), "service") == []


def test_a_quote_in_a_service_name_stays_inside_the_matcher() -> None:
    signal = MetricSignal("requests", 'sum(x{service="{service}"})', "down", "configured")
    assert signal.promql('a"}) or vector(1) #', "1m") == r'sum(x{service="a\"}) or vector(1) #"})'


def test_rfc3339_times_with_nanoseconds() -> None:
    assert epoch("2023-01-30T11:51:46.123456789Z") == 1675079506.123456
    assert epoch("2023-01-30T11:51:46Z") == 1675079506.0
    assert epoch("yesterday") is None and epoch(None) is None


def test_the_fakes_are_sources() -> None:
    metrics: MetricsSource = FakeMetrics()
    alerts: AlertSource = FakeAlerts()
    assert metrics.missing_signals() == ["requests", "errors", "error_ratio", "latency_p95"]
    assert alerts.active().alerts == []
