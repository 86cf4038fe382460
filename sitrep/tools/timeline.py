"""incident_timeline: what happened, in order."""

from typing import Annotated

from sitrep.analysis.error_summary import summarize_patterns
from sitrep.analysis.timeline import (
    Event,
    alert_events,
    bucket_seconds,
    buckets,
    deploy_events,
    onset_events,
    ordered,
    spike_events,
)
from sitrep.domain import ERROR_LEVELS, LogQuery
from sitrep.errors import SitrepError, SourceError
from sitrep.results import EventOut, IncidentTimeline
from sitrep.timespec import epoch_iso, time_range
from sitrep.tools.context import ToolContext
from sitrep.tools.history import deploy_history
from sitrep.tools.output import clip_optional, fit, scan_notes, source_failed
from sitrep.tools.params import Service, Until, optional_service, since_param

BASELINE_SECONDS = 24 * 3600.0
MARKER_MARGIN_SECONDS = 3600.0
"""Deploy markers are read from this long before since: a version first seen just after since
is then no 'present from the start' value."""


def incident_timeline(
    ctx: ToolContext,
    service: Service = None,
    since: Annotated[str, since_param("6h")] = "6h",
    until: Until = None,
) -> IncidentTimeline:
    """Events in a time range, oldest first: deploys, alerts firing and resolving, new error
    patterns, error-rate and latency spikes, recoveries. `summary` is sitrep's text; `text`
    quotes commits, logs or alerts."""
    service = optional_service(ctx, service)
    start, end = time_range(since, until, ctx.now())
    history = deploy_history(ctx.sources, service, end, since=start - MARKER_MARGIN_SECONDS)
    deploys = [d for d in history.deploys if start <= d.timestamp < end]
    events = deploy_events(deploys)
    notes = list(history.notes)
    size = bucket_seconds(end - start)
    if ctx.sources.logs is None:
        notes.append("no log source configured: only deploys are shown; add [files] paths")
    else:
        cuts = [d.timestamp for d in deploys]
        found, log_notes = _log_events(ctx, service, start, end, buckets(start, end, size, cuts))
        events += found
        notes += log_notes
    if ctx.sources.alerts is not None:
        found_alerts, alert_notes = _alert_events(ctx, service, start, end)
        events += found_alerts
        notes += alert_notes
    width = ctx.settings.output.max_text_chars
    items = [_event_out(e, width) for e in ordered(events)]

    def build(count: int) -> IncidentTimeline:
        return IncidentTimeline(
            since=epoch_iso(start),
            until=epoch_iso(end),
            bucket_seconds=size,
            events=items[:count],
            notes=notes,
        )

    return fit(build, len(items), ctx.settings.output.max_chars)


def _log_events(
    ctx: ToolContext,
    service: str | None,
    start: float,
    end: float,
    spans: list[tuple[float, float]],
) -> tuple[list[Event], list[str]]:
    """Onsets of new error patterns and spikes, from one scan of the logs; and notes."""
    assert ctx.sources.logs is not None
    services = frozenset({service}) if service else None
    base_start = start - BASELINE_SECONDS
    baseline = (base_start, start)
    try:
        found = ctx.sources.logs.scan(
            LogQuery(base_start, end, services, ERROR_LEVELS),
            groups=[baseline, (start, end)],
            stats=[baseline, *spans],
        )
        summary = summarize_patterns(found.groups, current=1, ungrouped=found.report.ungrouped)
    except SitrepError as error:
        return [], [f"logs not read: {source_failed(error, 'logs')}"]
    notes = scan_notes(found.report)
    events = onset_events(summary.patterns) if summary.baseline_total else []
    if not summary.baseline_total:
        notes.append("no error lines in the 24 h before since: new-pattern onsets are not marked")
    for name, stats in found.stats.items():
        events += spike_events(name, stats[1:], stats[0])
    return events, notes


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
