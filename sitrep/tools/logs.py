"""search_logs and error_patterns: the lines, and the shapes they fall into."""

import re
from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Annotated

from pydantic import Field

from sitrep.analysis.error_summary import PatternFound, PatternSummary, summarize_patterns
from sitrep.domain import LATENCY_UNKNOWN, LogQuery, WindowStats
from sitrep.errors import InputError, SourceResponseError
from sitrep.results import ErrorPatterns, GoneOut, LogLine, PatternOut, SearchLogs
from sitrep.settings import OutputSettings
from sitrep.sources.logparse import normalize_level
from sitrep.timespec import epoch_iso, epoch_iso_or_none, parse_duration, parse_instant, time_range
from sitrep.tools.context import ToolContext
from sitrep.tools.output import clip, fit, scan_notes
from sitrep.tools.params import Service, Until, levels_at_least, optional_service, require_logs, since_param

DEFAULT_BASELINE_SECONDS = 24 * 3600.0
GONE_SHOWN = 5
"""Patterns of the baseline absent from the window, listed (the rest counted in gone_total)."""


def search_logs(
    ctx: ToolContext,
    service: Service = None,
    query: Annotated[
        str | None, Field(max_length=500, description="Case-insensitive text the message must contain.")
    ] = None,
    level: Annotated[
        str | None, Field(description="Lowest level: debug, info, warn, error, critical, fatal.")
    ] = None,
    since: Annotated[str, since_param("1h")] = "1h",
    until: Until = None,
    limit: Annotated[int, Field(ge=1, le=500, description="At most this many lines.")] = 50,
) -> SearchLogs:
    """Log lines matching a service, text and level in a time range, newest first, with the exact
    number that matched."""
    logs = require_logs(ctx)
    service = optional_service(ctx, service)
    start, end = time_range(since, until, ctx.now())
    levels = levels_at_least(level) if level else None
    text = query.strip() or None if query else None
    page = logs.search(_query(start, end, service, levels, text), limit)
    width = ctx.settings.output.max_text_chars
    lines = [
        LogLine(timestamp=epoch_iso(r.ts), service=r.service, level=r.level, message=clip(r.message, width))
        for r in page.records
    ]
    notes = scan_notes(page.report)
    if page.total == 0:
        notes.append("no line matched; widen since, drop a filter, or check sources_status")

    def build(count: int) -> SearchLogs:
        return SearchLogs(
            since=epoch_iso(start),
            until=epoch_iso(end),
            total=page.total,
            returned=count,
            lines=lines[:count],
            notes=notes,
            lines_skipped=page.report.lines_skipped,
        )

    return fit(build, len(lines), ctx.settings.output.max_chars, total=page.total)


def error_patterns(
    ctx: ToolContext,
    service: Service = None,
    since: Annotated[str, since_param("1h")] = "1h",
    until: Until = None,
    levels: Annotated[
        list[str],
        Field(
            max_length=10,
            description='Levels to include; ["all"] for every line.',
        ),
    ] = ["error", "fatal", "critical"],  # noqa: B006 - pydantic copies defaults
    baseline: Annotated[
        str | None,
        Field(description="Compare with: a length before since (default 24h), an ISO-8601 start, or 'none'."),
    ] = None,
    top: Annotated[int, Field(ge=1, le=100, description="At most this many patterns.")] = 20,
) -> ErrorPatterns:
    """Error lines grouped into templates (<*> = variable part), most surprising first: count against
    the baseline's (change: new, increased, decreased, chronic; `gone`: absent now), an example and
    a transient/persistent label. Counts plus other_count equal total."""
    logs = require_logs(ctx)
    service = optional_service(ctx, service)
    start, end = time_range(since, until, ctx.now())
    level_set = _levels(levels)
    base_start = _baseline_start(baseline, start)
    windows = [(start, end)]
    if base_start is not None:
        windows.insert(0, (base_start, start))
    query = _query(start, end, service, level_set, None)
    buckets = coverage_buckets(windows) if base_start is not None else []
    notes: list[str] = []
    try:
        found = logs.scan(query, groups=windows, stats=buckets)
    except SourceResponseError as error:
        if not buckets:
            raise
        # The per-bucket counts need what the patterns do not (an aggregatable service field).
        found, buckets = logs.scan(query, groups=windows), []
        notes.append(f"rates use the windows' full lengths; what the logs cover is unknown: {error}")
    report = found.report
    lengths = None
    if base_start is not None:
        lengths = (end - start, start - base_start)
        if buckets:
            lengths = covered_seconds(buckets, found.stats, start)
            notes += coverage_notes(lengths, (end - start, start - base_start))
    summary = summarize_patterns(
        found.groups,
        current=len(windows) - 1,
        ungrouped=report.ungrouped,
        lengths=lengths,
        observed=bool(buckets),
    )
    window = (epoch_iso(start), epoch_iso(end))
    base = (epoch_iso(base_start), epoch_iso(start)) if base_start is not None else None
    # The per-bucket counts are read for coverage only: latency is not this tool's business.
    notes = [n for n in scan_notes(report) if not n.endswith(LATENCY_UNKNOWN)] + notes
    return patterns_result(summary, window, base, level_set, top, notes, ctx.settings.output)


COVERAGE_BUCKETS = 60
"""Buckets in the shorter side in which the logs' presence is counted: a side's covered time
is the length of its buckets with any line, to within a bucket per gap edge."""
MAX_COVERAGE_BUCKETS = 400
"""At most this many buckets in all (a long baseline gets wider buckets)."""


def coverage_buckets(windows: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The windows (in order, each ending where the next starts) cut into buckets of one width
    on every side, so a line at a gap's edge counts for as much time on either side: a
    COVERAGE_BUCKETS-th of the shortest window, wider when there would be more than
    MAX_COVERAGE_BUCKETS."""
    shortest = min(end - start for start, end in windows)
    span = windows[-1][1] - windows[0][0]
    width = max(shortest / COVERAGE_BUCKETS, span / MAX_COVERAGE_BUCKETS)
    out: list[tuple[float, float]] = []
    for start, end in windows:
        count = max(1, round((end - start) / width))
        edges = [start + (end - start) * i / count for i in range(count)] + [end]
        out += [(a, b) for a, b in pairwise(edges) if b > a]
    return out


def covered_seconds(
    buckets: list[tuple[float, float]], stats: Mapping[str, Sequence[WindowStats]], split: float
) -> tuple[float, float]:
    """The seconds of (the window, the baseline) in buckets where the source had any line, of
    any level: a gap in the logs (files covering part of the range, a retention edge, a
    shipping outage) is time nobody observed, not a fall or a rise."""
    window = baseline = 0.0
    for index, (start, end) in enumerate(buckets):
        if any(index < len(s) and s[index].events for s in stats.values()):
            if start >= split:
                window += end - start
            else:
                baseline += end - start
    return window, baseline


def coverage_notes(covered: tuple[float, float], nominal: tuple[float, float]) -> list[str]:
    notes = []
    for side, seen, length in zip(("window", "baseline"), covered, nominal, strict=True):
        if seen <= 0:
            notes.append(f"the logs have no line in the {side}, so change is unknown (null)")
        elif seen < 0.99 * length:
            notes.append(
                f"the logs cover {_duration(seen)} of the {side}'s {_duration(length)}; "
                "rates use the covered time"
            )
    return notes


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def patterns_result(
    summary: PatternSummary,
    window: tuple[str, str],
    base: tuple[str, str] | None,
    levels: frozenset[str] | None,
    top: int,
    notes: list[str],
    output: OutputSettings,
) -> ErrorPatterns:
    """The result for a summary: the top patterns that fit the budget, the rest counted."""
    width = output.max_text_chars
    notes = list(notes)
    known_baseline = base is not None and summary.judged
    if base is not None and not known_baseline and not any("so change is unknown" in n for n in notes):
        notes.append("the baseline window has no matching lines, so `new` is unknown (null)")
    if summary.unmined:
        notes.append(
            f"{summary.unmined} line(s) counted but not grouped into patterns (too many distinct "
            "messages); narrow the range or name a service"
        )
    items = [_pattern_out(p, width, known_baseline) for p in summary.patterns[:top]]
    gone = [_gone_out(p, width) for p in summary.gone[:GONE_SHOWN]]

    def build(count: int) -> ErrorPatterns:
        shown = summary.patterns[:count]
        return ErrorPatterns(
            since=window[0],
            until=window[1],
            baseline_since=base[0] if base else "",
            baseline_until=base[1] if base else "",
            levels=sorted(levels) if levels else ["all"],
            total=summary.total,
            patterns=items[:count],
            other_count=summary.total - sum(p.count for p in shown),
            other_patterns=len(summary.patterns) - count,
            gone=gone,
            gone_total=len(summary.gone),
            notes=notes,
        )

    return fit(build, len(items), output.max_chars, total=len(summary.patterns))


def _pattern_out(found: PatternFound, width: int, known_baseline: bool) -> PatternOut:
    return PatternOut(
        pattern_id=found.pattern_id,
        template=clip(found.template, width),
        count=found.count,
        first_seen=epoch_iso_or_none(found.first_ts),
        last_seen=epoch_iso_or_none(found.last_ts),
        example=clip(found.example, width),
        services=dict(list(found.services.items())[:10]),
        new=(found.baseline_count == 0) if known_baseline else None,
        baseline_count=found.baseline_count if known_baseline else None,
        change=None if found.change == "gone" else found.change,
        ratio=_round(found.ratio),
        p_value=_round(found.p_value),
        label=found.label,
        signal=found.signal,
    )


def _gone_out(found: PatternFound, width: int) -> GoneOut:
    return GoneOut(
        pattern_id=found.pattern_id,
        template=clip(found.template, width),
        baseline_count=found.baseline_count,
        p_value=_round(found.p_value) or 0.0,
    )


def _round(value: float | None) -> float | None:
    """Three significant digits: enough to compare, and short."""
    return None if value is None else float(f"{value:.3g}")


_LEVEL_WORD = re.compile(r"[a-z][a-z0-9_-]{0,19}")


def _levels(levels: list[str]) -> frozenset[str] | None:
    if any(level.strip().lower() == "all" for level in levels):
        return None
    normal = {normalize_level(level) for level in levels}
    # Logs may use levels of their own (`audit`), so any word is a level; anything else is a
    # mistake, and is not echoed back into the result.
    if not normal or not all(n and _LEVEL_WORD.fullmatch(n) for n in normal):
        raise InputError(
            'levels: give level names such as ["error", "fatal"] (trace, debug, info, warn, error, '
            'critical, fatal, or a level your logs use) or ["all"]'
        )
    return frozenset(n for n in normal if n)


def _baseline_start(baseline: str | None, start: float) -> float | None:
    if baseline is None:
        return start - DEFAULT_BASELINE_SECONDS
    if baseline.strip().lower() in {"none", "off", "no"}:
        return None
    try:
        length = parse_duration(baseline)
    except InputError as error:
        raise InputError(f"baseline: {error}") from None
    if length is not None:
        return start - length.total_seconds()
    moment = parse_instant(baseline)
    if moment is None or moment.timestamp() >= start:
        raise InputError(
            f"baseline: {baseline!r} is neither a length such as 24h nor an ISO-8601 time before since "
            f"({epoch_iso(start)}); use 24h, 2d or 'none'"
        )
    return moment.timestamp()


def _query(
    start: float, end: float, service: str | None, levels: frozenset[str] | None, text: str | None
) -> LogQuery:
    return LogQuery(start, end, frozenset({service}) if service else None, levels, text)
