"""The demo's metrics: what a Prometheus scraping the demo services would hold, derived from
the very requests the logs record, as an OpenMetrics file for `promtool tsdb
create-blocks-from openmetrics`.

Per service and minute: OpenTelemetry HTTP server metrics (the request count by status code
and the duration histogram, so sitrep detects requests, errors, error_ratio and latency_p95
without configuration) and `app_build_info{version, revision}` for the version live, so a new
version marks a deploy. Counters are written as gauges (OpenMetrics counters need a `_total`
name); rate() reads them alike.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["LE_SECONDS", "ServiceTraffic", "openmetrics"]

LE_SECONDS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
COUNT = "http_server_request_duration_seconds_count"
BUCKET = "http_server_request_duration_seconds_bucket"
BUILD_INFO = "app_build_info"


@dataclass(frozen=True, slots=True)
class ServiceTraffic:
    service: str
    requests: Sequence[tuple[int, int, float]]
    """(time in ms, status, duration in ms), any order."""
    versions: Sequence[tuple[str, str | None, int, int]]
    """(version, sha, start ms, end ms) of each deploy window, oldest first."""


def openmetrics(services: Sequence[ServiceTraffic], start_ms: int, end_ms: int) -> str:
    """Samples every minute from `start_ms` to `end_ms` (both rounded to the minute)."""
    minutes = list(range(-(-start_ms // 60_000) * 60_000, end_ms + 1, 60_000))
    lines = [f"# TYPE {COUNT} gauge"]
    for traffic in services:
        for status in sorted({status for _, status, _ in traffic.requests}):
            times = sorted(ts for ts, s, _ in traffic.requests if s == status)
            labels = f'service="{traffic.service}",http_response_status_code="{status}"'
            lines += _cumulative(COUNT, labels, times, minutes)
    lines.append(f"# TYPE {BUCKET} gauge")
    for traffic in services:
        for le in (*LE_SECONDS, None):
            times = sorted(ts for ts, _, ms in traffic.requests if le is None or ms <= le * 1000)
            bound = "+Inf" if le is None else repr(le)
            lines += _cumulative(BUCKET, f'service="{traffic.service}",le="{bound}"', times, minutes)
    lines.append(f"# TYPE {BUILD_INFO} gauge")
    for traffic in services:
        for version, sha, start, end in traffic.versions:
            labels = f'service="{traffic.service}",version="{version}",revision="{sha or ""}"'
            lines += [f"{BUILD_INFO}{{{labels}}} 1 {t // 1000}" for t in minutes if start <= t < end]
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def _cumulative(name: str, labels: str, times: Sequence[int], minutes: Sequence[int]) -> list[str]:
    return [f"{name}{{{labels}}} {bisect.bisect_right(times, t)} {t // 1000}" for t in minutes]
