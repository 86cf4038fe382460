"""incident_timeline: what happened, in order."""

import math
from collections import Counter
from typing import Annotated

from pydantic import Field

from sitrep.analysis.error_summary import summarize_patterns
from sitrep.analysis.judge import Bad
from sitrep.analysis.timeline import (
    Event,
    Signal,
    alert_events,
    bucket_seconds,
    buckets,
    deploy_events,
    log_signals,
    onset_events,
    ordered,
    shift_events,
    signal_shifts,
)
from sitrep.deadline import check
from sitrep.domain import ERROR_LEVELS, LogQuery
from sitrep.errors import InputError, SitrepError, SourceError
from sitrep.results import EventOut, IncidentTimeline
from sitrep.sources.protocols import MetricsSource
from sitrep.timespec import epoch_iso, parse_duration, time_range
from sitrep.tools.context import ToolContext
from sitrep.tools.history import deploy_history
from sitrep.tools.output import clip_optional, fit, scan_notes, source_failed
from sitrep.tools.params import Service, Until, optional_service, since_param

MARKER_MARGIN_SECONDS = 3600.0
"""Deploy markers are read from this long before since: a version first seen just after since
is then no 'present from the start' value."""
RANGE_BUCKETS = 60
"""The range is cut into at most this many round buckets (a 10-minute range into 10 s ones)."""
MAX_BUCKETS = 2000
"""And the baseline and the range together into at most this many, coarser when a long baseline
asks for it: the work per signal is bounded whatever the baseline."""
METRIC_STEP = 60.0
"""Metrics are rarely scraped more often than this."""
SHIFTS_SHOWN = 12
DEFAULT_BASELINE_SECONDS = 3600.0


def incident_timeline(
    ctx: ToolContext,
    service: Service = None,
    since: Annotated[str, since_param("6h")] = "6h",
    until: Until = None,
    baseline: Annotated[
        str | None,
        Field(description="Length before since to compare with (default: the range's, at least 1h)."),
    ] = None,
) -> IncidentTimeline:
    """Events in a time range, oldest first: deploys, alerts, new error patterns, and where
    log volume, errors, latency or metrics left the baseline (rank test, FDR-corrected) and came
    back. `text` quotes logs, commits or alerts."""
    service = optional_service(ctx, service)
    start, end = time_range(since, until, ctx.now())
    base_start = start - _baseline_seconds(baseline, end - start)
    history = deploy_history(ctx.sources, service, end, since=start - MARKER_MARGIN_SECONDS)
    deploys = [d for d in history.deploys if start <= d.timestamp < end]
    events = deploy_events(deploys)
    notes = list(history.notes)
    size = max(bucket_seconds(end - start, RANGE_BUCKETS), bucket_seconds(end - base_start, MAX_BUCKETS))
    spans = buckets(base_start, end, size, [start, *(d.timestamp for d in deploys)])
    signals: list[Signal] = []
    if ctx.sources.logs is None:
        notes.append("no log source configured: only deploys are shown; add [files] paths")
    else:
        found, log_said, log_signals_found = _log_events(ctx, service, start, spans)
        events += found
        notes += log_said
        signals += log_signals_found
    if ctx.sources.metrics is not None:
        signals += _metric_signals(ctx.sources.metrics, service, base_start, end, size, notes)
    shifts, tested = signal_shifts(signals, start, cuts=[d.timestamp for d in deploys])
    carriers = Counter(s.name for s in signals)
    changes, left_out = shift_events(shifts, carriers, max(float(size), METRIC_STEP), SHIFTS_SHOWN)
    events += changes
    if left_out:
        notes.append(f"{left_out} weaker change(s) not shown; give service to see one service's")
    if ctx.sources.alerts is not None:
        found_alerts, alert_notes = _alert_events(ctx, service, start, end)
        events += found_alerts
        notes += alert_notes
    width = ctx.settings.output.max_text_chars
    items = [_event_out(e, width) for e in ordered(events)]
    summary = _summary(events, start, end, base_start, tested, len(signals))

    def build(count: int) -> IncidentTimeline:
        return IncidentTimeline(
            since=epoch_iso(start),
            until=epoch_iso(end),
            baseline_since=epoch_iso(base_start),
            bucket_seconds=size,
            summary=summary,
            events=items[:count],
            notes=notes,
        )

    return fit(build, len(items), ctx.settings.output.max_chars)


def _baseline_seconds(baseline: str | None, span: float) -> float:
    """The baseline's length: as asked, or as long as the range and at least an hour (enough
    buckets for a short range's changes to be told from noise)."""
    if baseline is None:
        return max(span, DEFAULT_BASELINE_SECONDS)
    try:
        length = parse_duration(baseline)
    except InputError as error:
        raise InputError(f"baseline: {error}") from None
    if length is None or length.total_seconds() < 60:
        raise InputError("baseline: give a duration of at least a minute before since, such as 30m or 1d")
    return length.total_seconds()


def _summary(
    events: list[Event], start: float, end: float, base_start: float, tested: int, signals: int
) -> str:
    """One line: what the events are, or plainly that nothing changed and what was looked at."""
    where = f"{epoch_iso(start)} to {epoch_iso(end)}"
    if not events and not tested:
        return (
            f"no change found in {where}: no deploy, alert or new error pattern, and no signal had "
            f"data both in the range and in the baseline from {epoch_iso(base_start)}"
        )
    if not events:
        return (
            f"no change found in {where}: no deploy, alert or new error pattern, and none of "
            f"{tested} signal(s) changed against the baseline from {epoch_iso(base_start)} "
            f"at a 5% false-discovery rate"
            + (f" ({signals - tested} lacked data on one side)" if signals > tested else "")
        )
    kinds = Counter(e.kind for e in events)
    listed = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items(), key=lambda item: -item[1]))
    return f"{len(events)} event(s) in {where}: {listed}; {tested} signal(s) tested"


def _log_events(
    ctx: ToolContext, service: str | None, start: float, spans: list[tuple[float, float]]
) -> tuple[list[Event], list[str], list[Signal]]:
    """Onsets of new error patterns, and each service's log signals per bucket, from one
    scan of the logs over the baseline and the range; and notes. A bucket where no service
    asked about wrote a line is a gap in collection (`log_signals`): for one service, its
    lines alone are read (cheap), so its total silence shows only in the timeline of every
    service, where the others' lines tell a silence from a gap."""
    assert ctx.sources.logs is not None
    base_start, end = spans[0][0], spans[-1][1]
    try:
        found = ctx.sources.logs.scan(
            LogQuery(base_start, end, frozenset({service}) if service else None, ERROR_LEVELS),
            groups=[(base_start, start), (start, end)],
            stats=spans,
        )
        summary = summarize_patterns(found.groups, current=1, ungrouped=found.report.ungrouped)
    except SitrepError as error:
        return [], [f"logs not read: {source_failed(error, 'logs')}"], []
    notes = scan_notes(found.report)
    events = onset_events(summary.patterns) if summary.baseline_total else []
    if not summary.baseline_total:
        notes.append("no error lines in the baseline: new-pattern onsets are not marked")
    return events, notes, log_signals(found.stats)


def _metric_signals(
    metrics: MetricsSource, service: str | None, start: float, end: float, size: int, notes: list[str]
) -> list[Signal]:
    """Each metric signal of each service (or the one asked), read for all services at once
    where the backend can (`signal_by_service`), one sample per bucket (at least a minute
    apart), dated at the start of the stretch it summarizes."""
    step = max(float(size), METRIC_STEP)
    window = f"{int(step)}s"
    out: list[Signal] = []
    finite = math.isfinite
    try:
        for signal in metrics.signals(service):
            check()
            found = metrics.signal_by_service(
                signal, window, start + step, end, step, None if service is None else [service]
            )
            bad: Bad = "up" if signal.bad == "up" else "down" if signal.bad == "down" else "either"
            for name, series in sorted(found.items()):
                samples = [(ts - step, v) for ts, v in series.samples if finite(v)]
                out.append(Signal(name, signal.name, "metrics", bad, samples))
    except SitrepError as error:
        notes.append(f"metrics left out: {source_failed(error, 'metrics')}")
    return out


def _alert_events(
    ctx: ToolContext, service: str | None, start: float, end: float
) -> tuple[list[Event], list[str]]:
    """Alerts firing now and fired in the range; a backend that fails costs its part, noted."""
    assert ctx.sources.alerts is not None
    source, notes = ctx.sources.alerts, []
    active, past = [], []
    try:
        active = source.active().alerts
    except SourceError as error:
        notes.append(f"alerts firing now not read: {error}")
    try:
        page = source.history(start, end)
        past = page.alerts
        notes += page.notes
    except SourceError as error:
        notes.append(f"alert history not read: {error}")
    if service is not None:
        active = [a for a in active if a.service == service]
        past = [a for a in past if a.service == service]
    return alert_events(active, past, start, end), notes


def _event_out(event: Event, width: int) -> EventOut:
    return EventOut(
        timestamp=epoch_iso(event.ts),
        kind=event.kind,
        service=event.service,
        summary=event.summary,
        ref=event.ref,
        text=clip_optional(event.text, width),
    )
