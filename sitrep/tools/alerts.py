"""alerts: what fires now, or what fired in a range, grouped by alert name."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated

from pydantic import Field

from sitrep.domain import Alert
from sitrep.errors import InputError, SourceError
from sitrep.results import AlertGroupOut, AlertOut, Alerts
from sitrep.sources.protocols import AlertPage, AlertSource
from sitrep.timespec import epoch_iso, time_range
from sitrep.tools.context import ToolContext
from sitrep.tools.output import clip, fit, source_failed
from sitrep.tools.params import Until

SEVERITY_ORDER = ("critical", "page", "error", "high", "warning", "warn", "medium", "info", "low", "none")
PER_GROUP = 5
LABEL_CHARS = 120
SKIPPED_LABELS = frozenset({"alertname", "severity", "__name__", "alertstate"})


def require_alerts(ctx: ToolContext) -> AlertSource:
    if ctx.sources.alerts is None:
        raise InputError(
            'no alert source is configured; add [alertmanager] url = "http://127.0.0.1:9093" (or '
            "[prometheus]) to the configuration"
        )
    return ctx.sources.alerts


def alerts(
    ctx: ToolContext,
    service: Annotated[str | None, Field(description="Only this service's alerts; omit for all.")] = None,
    since: Annotated[
        str | None,
        Field(description="Omit for what fires now, or a start (90m, 6h, ISO-8601)."),
    ] = None,
    until: Until = None,
) -> Alerts:
    """Alerts firing now (or fired in a range), grouped by name, worst severity first, with service
    and start time."""
    source = require_alerts(ctx)
    width = ctx.settings.output.max_text_chars
    if since is None:
        if until is not None:
            raise InputError("until needs since: give since for a range, or neither for what fires now")
        page = source.active()
        shown_since = shown_until = None
    else:
        start, end = time_range(since, until, ctx.now())
        shown_since, shown_until = epoch_iso(start), epoch_iso(end)
        # What fires now is read first (one quick request): if the history cannot be read in
        # time, the answer is still what fires now, saying why the past is missing.
        try:
            firing: AlertPage | SourceError = source.active()
        except SourceError as error:
            firing = error
        try:
            page = source.history(start, end)
        except SourceError as error:
            if isinstance(firing, SourceError):
                raise
            page = firing
            page.notes.insert(
                0, f"alert history unavailable ({source_failed(error, source.name)}); showing what fires now"
            )
    found = [a for a in page.alerts if service is None or a.service == service]
    groups = _groups(found, width)
    notes = list(page.notes)
    if not found:
        notes.append("no alert " + ("fires now" if since is None else "fired in the range"))

    def build(count: int) -> Alerts:
        return Alerts(
            source=source.name,
            since=shown_since,
            until=shown_until,
            total=len(found),
            firing=sum(1 for a in found if a.state == "firing"),
            groups=groups[:count],
            notes=notes,
        )

    return fit(build, len(groups), ctx.settings.output.max_chars)


def _groups(found: list[Alert], width: int) -> list[AlertGroupOut]:
    by_name: dict[str, list[Alert]] = defaultdict(list)
    for alert in found:
        by_name[alert.name].append(alert)
    groups = []
    for name, members in by_name.items():
        members.sort(key=lambda a: a.starts_at)
        severity = min((a.severity for a in members if a.severity), key=_rank, default=None)
        groups.append(
            (
                _rank(severity),
                -len(members),
                AlertGroupOut(
                    name=clip(name, LABEL_CHARS),
                    severity=clip(severity, LABEL_CHARS) if severity else None,
                    count=len(members),
                    services=sorted({clip(a.service, LABEL_CHARS) for a in members if a.service}),
                    first_start=epoch_iso(members[0].starts_at),
                    alerts=[_alert(a, width) for a in members[:PER_GROUP]],
                ),
            )
        )
    groups.sort(key=lambda g: (g[0], g[1], g[2].name))
    return [group for _, _, group in groups]


def _alert(alert: Alert, width: int) -> AlertOut:
    summary = alert.annotations.get("summary") or alert.annotations.get("description")
    labels = {k: v for k, v in sorted(alert.labels.items()) if k not in SKIPPED_LABELS}
    return AlertOut(
        state=alert.state,
        service=clip(alert.service, LABEL_CHARS) if alert.service else None,
        starts_at=epoch_iso(alert.starts_at),
        ends_at=epoch_iso(alert.ends_at) if alert.ends_at is not None else None,
        summary=clip(summary, width) if summary else None,
        labels={clip(k, LABEL_CHARS): clip(v, LABEL_CHARS) for k, v in list(labels.items())[:10]},
    )


def _rank(severity: str | None) -> int:
    text = (severity or "").lower()
    return SEVERITY_ORDER.index(text) if text in SEVERITY_ORDER else len(SEVERITY_ORDER)
