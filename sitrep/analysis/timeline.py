"""An incident timeline: deploys, the onset of new error patterns, error and latency spikes
and recoveries, in time order."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from statistics import median

from sitrep.analysis.error_summary import PatternFound
from sitrep.analysis.health import pct
from sitrep.domain import Deploy, WindowStats

_BUCKETS = (60, 300, 600, 900, 1800, 3600, 7200, 21600, 86400)
_KIND_ORDER = {"deploy": 0, "error_onset": 1, "error_spike": 2, "latency_spike": 3, "recovery": 4}
MIN_BUCKET_LINES = 10
MIN_BUCKET_ERRORS = 3


@dataclass(frozen=True, slots=True)
class Event:
    ts: float
    kind: str
    service: str | None
    summary: str
    """sitrep's own words."""
    ref: str | None = None
    text: str | None = None
    """Quoted untrusted text (a commit subject, an error template), kept apart from the summary."""


def bucket_seconds(span_seconds: float, max_buckets: int = 60) -> int:
    """The smallest round bucket that cuts the span into at most `max_buckets`."""
    for size in _BUCKETS:
        if span_seconds / size <= max_buckets:
            return size
    return _BUCKETS[-1]


def buckets(start: float, end: float, size: int, cuts: Iterable[float] = ()) -> list[tuple[float, float]]:
    """Round buckets over [start, end), also cut at `cuts` (deploy times) so that no bucket
    straddles a deploy and a spike is never dated before the deploy that caused it."""
    edges = {start, end}
    edge = start - start % size + size
    while edge < end:
        edges.add(edge)
        edge += size
    edges.update(cut for cut in cuts if start < cut < end)
    ordered_edges = sorted(edges)
    return list(itertools.pairwise(ordered_edges))


def deploy_events(deploys: Iterable[Deploy]) -> list[Event]:
    return [
        Event(
            d.timestamp,
            "deploy",
            d.service,
            f"{d.service} {d.version} deployed" + (" (failed: never went live)" if not d.went_live else ""),
            ref=d.sha,
            text=d.message,
        )
        for d in deploys
    ]


def onset_events(patterns: Iterable[PatternFound], limit: int = 10) -> list[Event]:
    """The first line of each new error pattern (absent from the baseline), largest first;
    a pattern whose lines carry no time has no place in a timeline."""
    new = [(p, ts) for p in patterns if p.baseline_count == 0 and (ts := p.first_ts) is not None][:limit]
    return [
        Event(
            ts,
            "error_onset",
            next(iter(p.services), None),
            f"first line of a new error pattern ({p.count} line(s) in the range)",
            ref=p.pattern_id,
            text=p.template,
        )
        for p, ts in new
    ]


def spike_events(service: str, series: Sequence[WindowStats], baseline: WindowStats | None) -> list[Event]:
    """Error-rate and p95 spikes against the baseline window (or the range's own median)."""
    usual_rate, usual_p95 = _usual(series, baseline)
    events: list[Event] = []
    in_error = in_latency = False
    for bucket in series:
        rate = bucket.error_rate
        error_now = (
            bucket.basis >= MIN_BUCKET_LINES
            and bucket.errors >= MIN_BUCKET_ERRORS
            and rate is not None
            and rate > max(3 * usual_rate, usual_rate + 0.05)
        )
        slow_now = (
            bucket.requests >= MIN_BUCKET_LINES
            and bucket.p95_ms is not None
            and usual_p95 is not None
            and bucket.p95_ms > 2 * usual_p95
        )
        if error_now != in_error and bucket.basis >= MIN_BUCKET_LINES:
            events.append(_error_change(service, bucket, usual_rate, error_now))
            in_error = error_now
        if slow_now != in_latency and bucket.requests >= MIN_BUCKET_LINES:
            events.append(_latency_change(service, bucket, usual_p95, slow_now))
            in_latency = slow_now
    return events


def _usual(series: Sequence[WindowStats], baseline: WindowStats | None) -> tuple[float, float | None]:
    if baseline is not None and baseline.basis >= 50 and baseline.error_rate is not None:
        return baseline.error_rate, baseline.p95_ms
    rates = [b.error_rate for b in series if b.error_rate is not None and b.basis >= MIN_BUCKET_LINES]
    p95s = [b.p95_ms for b in series if b.p95_ms is not None]
    return (median(rates) if rates else 0.0), (median(p95s) if p95s else None)


def _error_change(service: str, bucket: WindowStats, usual: float, spiking: bool) -> Event:
    if spiking:
        summary = (
            f"error rate {pct(bucket.error_rate)} in {service} (usual {pct(usual)}); {bucket.errors} errors"
        )
        return Event(bucket.start, "error_spike", service, summary)
    return Event(
        bucket.start, "recovery", service, f"error rate back to {pct(bucket.error_rate)} in {service}"
    )


def _latency_change(service: str, bucket: WindowStats, usual: float | None, slow: bool) -> Event:
    p95 = f"{bucket.p95_ms:.0f} ms" if bucket.p95_ms is not None else "n/a"
    if slow:
        summary = f"p95 latency {p95} in {service} (usual {usual or 0:.0f} ms)"
        return Event(bucket.start, "latency_spike", service, summary)
    return Event(bucket.start, "recovery", service, f"p95 latency back to {p95} in {service}")


def ordered(events: Iterable[Event]) -> list[Event]:
    return sorted(events, key=lambda e: (e.ts, _KIND_ORDER.get(e.kind, 9), e.service or ""))
