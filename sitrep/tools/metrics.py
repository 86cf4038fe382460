"""query_metrics: one PromQL expression over a range, answered as a compact summary per series."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Annotated

from pydantic import Field

from sitrep.domain import Series
from sitrep.errors import InputError
from sitrep.results import MetricSeriesOut, QueryMetrics
from sitrep.sources.protocols import MetricsSource
from sitrep.timespec import epoch_iso, time_range
from sitrep.tools.context import ToolContext
from sitrep.tools.output import clip, fit
from sitrep.tools.params import Until, since_param

MAX_POINTS = 60
"""Points per series in the answer; the statistics use every sample."""
SAMPLES_PER_POINT = 10
MAX_LABELS = 12
LABEL_CHARS = 120


def require_metrics(ctx: ToolContext) -> MetricsSource:
    if ctx.sources.metrics is None:
        raise InputError(
            'no metrics source is configured; add [prometheus] url = "http://127.0.0.1:9090" to the '
            "configuration (sources_status shows what is set up)"
        )
    return ctx.sources.metrics


def query_metrics(
    ctx: ToolContext,
    query: Annotated[str, Field(min_length=1, max_length=2000, description="A PromQL expression.")],
    since: Annotated[str, since_param("1h")] = "1h",
    until: Until = None,
    max_series: Annotated[int, Field(ge=1, le=50, description="At most this many series.")] = 10,
) -> QueryMetrics:
    """Run a PromQL expression over a range: per series its labels, min, median, max, last value and
    at most 60 evenly spaced points."""
    metrics = require_metrics(ctx)
    first, last = time_range(since, until, ctx.now())
    step = max(1.0, math.ceil((last - first) / (MAX_POINTS * SAMPLES_PER_POINT)))
    page = metrics.query_range(query.strip(), first, last, step, max_series=max_series)
    width = max(1.0, (last - first) / MAX_POINTS)
    series = [_summary(s, first, width) for s in page.series]
    notes = list(page.notes)
    if page.total > len(page.series):
        notes.append(
            f"{page.total} series matched, {len(page.series)} shown; aggregate (sum by (...)) or filter "
            "by label, or raise max_series"
        )
    if page.total == 0:
        notes.append("no series: check metric and label names (sources_status lists signals), or widen since")

    def build(count: int) -> QueryMetrics:
        return QueryMetrics(
            query=clip(query, 2000),
            since=epoch_iso(first),
            until=epoch_iso(last),
            step_seconds=step,
            point_seconds=width,
            total_series=page.total,
            series=series[:count],
            notes=notes,
        )

    return fit(build, len(series), ctx.settings.output.max_chars, total=page.total)


def _summary(series: Series, first: float, width: float) -> MetricSeriesOut:
    labels = dict(sorted(series.labels.items())[:MAX_LABELS])
    values = [v for _, v in series.samples if math.isfinite(v)]
    points = downsample(series.samples, first, width)
    last_ts, last_value = series.samples[-1] if series.samples else (None, None)
    return MetricSeriesOut(
        labels={clip(k, LABEL_CHARS): clip(v, LABEL_CHARS) for k, v in labels.items()},
        samples=len(series.samples),
        min=_round(min(values)) if values else None,
        median=_round(statistics.median(values)) if values else None,
        max=_round(max(values)) if values else None,
        last=_round(last_value) if last_value is not None and math.isfinite(last_value) else None,
        last_at=epoch_iso(last_ts) if last_ts is not None else None,
        points=points,
    )


def downsample(samples: Sequence[tuple[float, float]], first: float, width: float) -> list[float | None]:
    """The mean of the finite samples in each of MAX_POINTS buckets of `width` seconds from
    `first`; None for a bucket with none."""
    sums = [0.0] * MAX_POINTS
    counts = [0] * MAX_POINTS
    for ts, value in samples:
        if not math.isfinite(value):
            continue
        index = min(MAX_POINTS - 1, max(0, int((ts - first) // width)))
        sums[index] += value
        counts[index] += 1
    return [_round(total / n) if n else None for total, n in zip(sums, counts, strict=True)]


def _round(value: float) -> float:
    """Four significant digits: enough to read a trend, short in JSON."""
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, max(0, 3 - math.floor(math.log10(abs(value)))))
