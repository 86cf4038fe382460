"""what_changed: which services changed at a moment, judged by statistics, strongest first."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated

from pydantic import Field

from sitrep.analysis.changed import (
    PatternCounts,
    ServiceChange,
    SignalChange,
    SignalSeries,
    covered_buckets,
    log_signals,
    pattern_signals,
    rank_services,
    trace_signals,
)
from sitrep.analysis.judge import Bad
from sitrep.analysis.patterns import OVERFLOW, PatternMiner
from sitrep.analysis.traces import trace_times
from sitrep.deadline import check
from sitrep.domain import LogQuery, MessageGroup, WindowStats
from sitrep.errors import InputError, SourceError
from sitrep.results import ChangedPattern, ChangedService, ChangedSignal, WhatChanged
from sitrep.sources.protocols import LogSource, MetricsSource, WindowScan
from sitrep.timespec import from_epoch, isoformat, parse_duration, parse_time
from sitrep.tools.context import ToolContext
from sitrep.tools.output import clip, fit, scan_notes, source_failed
from sitrep.tools.params import Service, optional_service, require_logs

BUCKET_CHOICES = (5.0, 10.0, 15.0, 30.0, 60.0)
"""Bucket widths, in seconds: the widest that still leaves MIN_BUCKETS on each side is used."""
MIN_BUCKETS = 10
ONSET_LOOKBACK = timedelta(hours=6)
SIGNALS_SHOWN = 3
PATTERNS_SHOWN = 3
MAX_METRIC_SERIES = 20
METRIC_STEP = 60.0


@dataclass(slots=True)
class _Grid:
    """Buckets anchored at `at`: before it [start, at), after it [at, end)."""

    at: float
    start: float
    end: float
    width: float
    windows: list[tuple[float, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        first = self.at - math.floor((self.at - self.start) / self.width) * self.width
        edges = [first + i * self.width for i in range(math.ceil((self.end - first) / self.width) + 1)]
        self.windows = [(a, min(b, self.end)) for a, b in itertools.pairwise(edges) if a < self.end]


def what_changed(
    ctx: ToolContext,
    at: Annotated[
        str | None,
        Field(description="Onset: ISO-8601 or a duration ago (15m). Default: latest alert or error onset."),
    ] = None,
    window: Annotated[str, Field(description="Length after `at`.")] = "10m",
    baseline: Annotated[str, Field(description="Length before `at`.")] = "30m",
    service: Service = None,
    top: Annotated[int, Field(ge=1, le=20, description="Most services shown.")] = 5,
) -> WhatChanged:
    """Services whose signals changed at `at`, strongest evidence first: log volume, error lines,
    latency, pattern counts and metrics, each tested (Mann-Whitney U, corrected for the number of
    tests) against the baseline."""
    logs = require_logs(ctx)
    service = optional_service(ctx, service)
    now = ctx.now()
    after_length, before_length = _length(window, "window"), _length(baseline, "baseline")
    notes: list[str] = []
    moment = parse_time(at, now, name="at") if at else _default_at(ctx, logs, now, notes)
    end = min(moment + after_length, now)
    if end <= moment:
        raise InputError(f"at ({isoformat(moment)}) is not in the past; give an earlier time")
    grid, scan, before, after, scan_said = _scan(logs, moment.timestamp(), moment - before_length, end)
    series = log_signals(scan.stats, before, after)
    series += trace_signals(trace_times(scan.traces, grid.windows), before, after)
    patterns = _pattern_counts(scan.groups)
    series += pattern_signals(patterns, before, after)
    if ctx.sources.metrics is not None:
        series += _metric_signals(ctx.sources.metrics, grid, service, notes)
    if service is not None:
        series = [s for s in series if s.service == service]
    ranked, tested = rank_services(series)
    notes += scan_said
    if not before or not after:
        notes.append("no log lines on one side of `at`: nothing could be compared; widen window or baseline")
    by_id = {p.pattern_id: p for counts in patterns.values() for p in counts}
    items = [_service_out(s, by_id, ctx.settings.output.max_text_chars) for s in ranked[:top]]

    def build(count: int) -> WhatChanged:
        return WhatChanged(
            at=isoformat(moment),
            baseline_since=isoformat(moment - before_length),
            until=isoformat(end),
            bucket_seconds=int(grid.width),
            tested=tested,
            summary=_summary(ranked, tested),
            services=items[:count],
            notes=notes,
        )

    return fit(build, len(items), ctx.settings.output.max_chars, total=len(ranked))


def _length(value: str, name: str) -> timedelta:
    try:
        length = parse_duration(value)
    except InputError as error:
        raise InputError(f"{name}: {error}") from None
    if length is None or length.total_seconds() < 60:
        raise InputError(f"{name}: give a duration of at least a minute, such as 10m or 1h")
    return length


def _scan(
    logs: LogSource, at: float, start: datetime, end: datetime
) -> tuple[_Grid, WindowScan, list[int], list[int], list[str]]:
    """Per-bucket stats, message groups and trace lines of every service, at the widest bucket that leaves
    MIN_BUCKETS of covered time on each side of `at` (finer when the logs cover less): a
    first read at the finest bucket finds what the logs cover, a second reads at the width
    chosen. Also what either read could not use, as notes."""
    query = LogQuery(start.timestamp(), end.timestamp())
    grid = _Grid(at, start.timestamp(), end.timestamp(), BUCKET_CHOICES[0])
    first = logs.scan(query, stats=grid.windows)
    before, after = _sides(grid, first.stats)
    covered = min(len(before), len(after)) * grid.width
    width = max((w for w in BUCKET_CHOICES if covered / w >= MIN_BUCKETS), default=grid.width)
    if width == grid.width:
        second = logs.scan(query, groups=grid.windows, traces=True)
        second.stats = first.stats
    else:
        grid = _Grid(at, start.timestamp(), end.timestamp(), width)
        second = logs.scan(query, groups=grid.windows, stats=grid.windows, traces=True)
        before, after = _sides(grid, second.stats)
    notes = scan_notes(first.report)
    notes += [note for note in scan_notes(second.report) if note not in notes]
    return grid, second, before, after, notes


def _sides(grid: _Grid, stats: dict[str, list[WindowStats]]) -> tuple[list[int], list[int]]:
    kept = covered_buckets([sum(w[i].events for w in stats.values()) for i in range(len(grid.windows))])
    return [i for i in kept if grid.windows[i][0] < grid.at], [
        i for i in kept if grid.windows[i][0] >= grid.at
    ]


def _pattern_counts(groups: Iterable[tuple[int, MessageGroup]]) -> dict[str, list[PatternCounts]]:
    """Every line mined into templates (both sides together, so a template means the same on
    both), counted per service and bucket."""
    miner = PatternMiner()
    tally: dict[tuple[int, str, int], int] = {}
    examples: dict[int, str] = {}
    for index, group in groups:
        check()
        key = miner.add(group.message, group.count)
        if key == OVERFLOW:
            continue
        examples.setdefault(key, group.message)
        for name, count in group.services.items():
            tally[key, name, index] = tally.get((key, name, index), 0) + count
    mining = miner.finish()
    found: dict[tuple[str, int], PatternCounts] = {}
    for (key, name, index), count in tally.items():
        template = mining.template_of(key)
        known = mining.templates[template]
        counts = found.setdefault(
            (name, template), PatternCounts(known.pattern_id, known.template, examples[key])
        )
        counts.per_bucket[index] = counts.per_bucket.get(index, 0) + count
    out: dict[str, list[PatternCounts]] = {}
    for (name, _), counts in sorted(found.items()):
        out.setdefault(name, []).append(counts)
    return out


def _metric_signals(
    metrics: MetricsSource, grid: _Grid, service: str | None, notes: list[str]
) -> list[SignalSeries]:
    """Each metric signal of each service, sampled every bucket (at least every minute, as
    metrics are rarely scraped more often), split at `at`, judged like the log ones."""
    out: list[SignalSeries] = []
    step = max(grid.width, METRIC_STEP)
    try:
        services = sorted({service} if service else metrics.services())
        for name in services:
            for signal in metrics.signals(name):
                check()
                promql = signal.promql(name, f"{int(step)}s")
                page = metrics.query_range(promql, grid.start, grid.end, step, max_series=MAX_METRIC_SERIES)
                bad: Bad = "up" if signal.bad == "up" else "down" if signal.bad == "down" else "either"
                for series in page.series:
                    samples = [(ts, v) for ts, v in series.samples if math.isfinite(v)]
                    before = [v for ts, v in samples if grid.start <= ts < grid.at]
                    after = [v for ts, v in samples if grid.at <= ts < grid.end]
                    out.append(SignalSeries(name, signal.name, "metrics", bad, before, after))
    except SourceError as error:
        notes.append(f"metrics left out: {source_failed(error, 'metrics')}")
    return out


def _default_at(ctx: ToolContext, logs: LogSource, now: datetime, notes: list[str]) -> datetime:
    """The latest alert's start, else the start of the latest minute with error lines that
    follows a minute without, within ONSET_LOOKBACK; else an hour ago."""
    if ctx.sources.alerts is not None:
        try:
            page = ctx.sources.alerts.history((now - ONSET_LOOKBACK).timestamp(), now.timestamp())
            starts = [a.starts_at for a in page.alerts if a.starts_at < now.timestamp()]
            if starts:
                moment = from_epoch(max(starts))
                notes.append(f"at: the latest alert's start, {isoformat(moment)}")
                return moment
        except SourceError as error:
            notes.append(f"alerts unreadable ({source_failed(error, 'alerts')}); at taken from the logs")
    grid = _Grid(now.timestamp(), (now - ONSET_LOOKBACK).timestamp(), now.timestamp(), 60.0)
    stats = logs.scan(LogQuery(grid.start, grid.end), stats=grid.windows).stats
    errors = [sum(w[i].errors for w in stats.values()) for i in range(len(grid.windows))]
    for i in range(len(errors) - 1, 0, -1):
        if errors[i] and not errors[i - 1]:
            moment = from_epoch(grid.windows[i][0])
            notes.append(f"at: the latest error onset, {isoformat(moment)}")
            return moment
    moment = now - timedelta(hours=1)
    notes.append(f"at: no alert or error onset in the last 6 h; judged at {isoformat(moment)}; give at")
    return moment


def _service_out(found: ServiceChange, by_id: dict[str, PatternCounts], width: int) -> ChangedService:
    signals = [c for c in found.signals if c.series.pattern is None][:SIGNALS_SHOWN]
    patterns = [c for c in found.signals if c.series.pattern is not None][:PATTERNS_SHOWN]
    return ChangedService(
        service=found.service,
        score=round(found.score, 2),
        signals=[_signal_out(c) for c in signals],
        patterns=[_pattern_out(c, by_id, width) for c in patterns],
    )


def _signal_out(found: SignalChange) -> ChangedSignal:
    change = found.change
    return ChangedSignal(
        signal=found.series.name,
        source=found.series.source,
        direction="up" if change.direction == "up" else "down",
        before=_round(change.before),
        after=_round(change.after),
        shift=_round(change.shift),
        interval=[_round(change.low), _round(change.high)],
        p_value=float(f"{change.p_value:.2g}"),
        q_value=float(f"{found.q_value:.2g}"),
    )


def _pattern_out(found: SignalChange, by_id: dict[str, PatternCounts], width: int) -> ChangedPattern:
    counts = by_id[found.series.pattern or ""]
    was, now = (int(sum(found.series.before)), int(sum(found.series.after)))
    return ChangedPattern(
        pattern_id=counts.pattern_id,
        template=clip(counts.template, width),
        before=was,
        after=now,
        new=was == 0,
        q_value=float(f"{found.q_value:.2g}"),
    )


def _round(value: float) -> float:
    return float(f"{value:.4g}")


def _summary(ranked: list[ServiceChange], tested: int) -> str:
    if not ranked:
        return (
            f"nothing changed: none of {tested} signal(s) moved the way that hurts "
            "at a 5% false-discovery rate"
        )
    names = ", ".join(s.service for s in ranked[:3])
    return f"{len(ranked)} service(s) changed (of {tested} signals tested); strongest: {names}"
