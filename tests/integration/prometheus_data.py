"""What the Prometheus integration tests load beside the Nezha metrics: OpenTelemetry HTTP
server metrics for one service (zero-config signal detection) and an ALERTS history; the time
of the demo whose metrics they load."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

START = 1675080000  # 2023-01-30T12:00:00Z, inside the Nezha day
MINUTES = 60
ERRORS_PER_MINUTE = 5
OK_PER_MINUTE = 95
ALERT_FROM = START + 20 * 60  # 12:20
ALERT_UNTIL = START + 40 * 60  # 12:40, the last sample of the firing alert
DEMO_NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
"""Fixed, so the demo's metrics are the same on every build."""


@dataclass(frozen=True)
class PrometheusDev:
    prometheus_url: str
    alertmanager_url: str
    state: Path | None = None
    """The state directory (scripts/prometheus-dev's), where the test data was loaded."""


def synthetic_openmetrics() -> str:
    """Counters as gauges (OpenMetrics counters need a `_total` name): rate() reads them alike."""
    count = "http_server_request_duration_seconds_count"
    bucket = "http_server_request_duration_seconds_bucket"
    lines = [f"# TYPE {count} gauge"]
    for code, per_minute in (("200", OK_PER_MINUTE), ("500", ERRORS_PER_MINUTE)):
        for minute in range(MINUTES + 1):
            labels = f'service="checkout",http_response_status_code="{code}"'
            lines.append(f"{count}{{{labels}}} {minute * per_minute} {START + 60 * minute}")
    lines.append(f"# TYPE {bucket} gauge")
    for le, share in (("0.1", 0.5), ("0.5", 0.9), ("1", 0.99), ("+Inf", 1.0)):
        for minute in range(MINUTES + 1):
            total = minute * (OK_PER_MINUTE + ERRORS_PER_MINUTE) * share
            lines.append(f'{bucket}{{service="checkout",le="{le}"}} {total} {START + 60 * minute}')
    lines.append("# TYPE ALERTS gauge")
    for ts in range(ALERT_FROM, ALERT_UNTIL + 1, 60):
        labels = 'alertname="CheckoutErrors",alertstate="firing",service="checkout",severity="critical"'
        lines.append(f"ALERTS{{{labels}}} 1 {ts}")
    lines.append("# EOF")
    return "\n".join(lines) + "\n"
