"""Window health as OpenSearch aggregations: per service and window, lines, requests,
errors and latency percentiles, counted as the file source tallies them (`_Tally` in
files.py), with percentiles made exactly equal to the file source's where OpenSearch's
TDigest can give them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sitrep.domain import ERROR_LEVELS, WindowStats
from sitrep.sources.opensearch_query import (
    UNKNOWN_SERVICE,
    FieldMap,
    any_of,
    level_clause,
    ms_ceil,
    range_ms,
    search_body,
)

_PERCENTS = (50.0, 95.0, 99.0)
# TDigest's accuracy grows with compression. 1,000 keeps the estimates for windows with
# more than EXACT_PERCENTILES_UP_TO durations within a small fraction of a percent.
_COMPRESSION = 1_000
_UNIT_TO_MS = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1000.0}
EXACT_PERCENTILES_UP_TO = 20_000
"""Durations per window up to which the percentiles are exact (see `refine_body`)."""
# OpenSearch 2.x's TDigest (an AVL-tree digest) merges two values into one centroid only
# where 4·n·q·(1 − q)/compression ≥ 2; at the median that needs n ≥ compression / 2. So at
# 20,000 every value stays its own centroid up to 40,000 values, twice the limit above
# (measured exact at 39,000 values over two shards, in any order).
_EXACT_COMPRESSION = 20_000


def window_stats_body(
    fields: FieldMap,
    filters: list[dict[str, Any]],
    windows: Sequence[tuple[float, float]],
    max_services: int,
    timeout: str,
) -> dict[str, Any]:
    """Per service and window: lines, requests (a status or a duration), errors (5xx or an
    error level among requests; error-level lines where there are no requests), how many
    durations, and their percentiles, as the file source tallies them."""
    assert fields.service is not None
    ranges = [
        {"key": str(i), "from": str(ms_ceil(start)), "to": str(ms_ceil(end))}
        for i, (start, end) in enumerate(windows)
    ]
    request = _request_clause(fields)
    error_level = level_clause(fields, ERROR_LEVELS)
    per_request: dict[str, Any] = {"errors": {"filter": any_of([error_level, *_server_errors(fields)])}}
    if fields.duration is not None:
        per_request["durations"] = {"value_count": {"field": fields.duration}}
        per_request["latency"] = _percentiles(fields.duration, _PERCENTS)
    per_window = {
        "requests": {"filter": request, "aggs": per_request},
        "line_errors": {"filter": {"bool": {"must_not": [request], "filter": [error_level]}}},
    }
    windows_agg = {
        "date_range": {"field": fields.timestamp, "format": "epoch_millis", "ranges": ranges, "keyed": True},
        "aggs": per_window,
    }
    services = {
        "terms": {"field": fields.service, "size": max_services, "missing": UNKNOWN_SERVICE},
        "aggs": {"windows": windows_agg},
    }
    return search_body(filters, 0, timeout, aggs={"services": services})


def _percentiles(field: str, percents: Sequence[float], compression: int = _COMPRESSION) -> dict[str, Any]:
    return {
        "percentiles": {
            "field": field,
            "percents": list(percents),
            "keyed": False,
            "tdigest": {"compression": compression},
        }
    }


def _request_clause(fields: FieldMap) -> dict[str, Any]:
    present = [name for name in (fields.status, fields.duration) if name]
    return any_of([{"exists": {"field": name}} for name in present])


def _server_errors(fields: FieldMap) -> list[dict[str, Any]]:
    if fields.status is None:
        return []
    if fields.status_numeric:
        return [{"range": {fields.status: {"gte": 500}}}]
    return [{"regexp": {fields.status: "[5-9][0-9][0-9]|[1-9][0-9]{3,}"}}]


@dataclass(slots=True)
class ServiceWindows:
    """One service's windows, and how many durations each has (for `refine_body`)."""

    stats: list[WindowStats]
    durations: list[int]


def read_window_stats(
    answer: Mapping[str, Any], windows: Sequence[tuple[float, float]], duration_unit: str
) -> tuple[dict[str, ServiceWindows], int]:
    """Stats per service (services with no line in any window left out, as files do), and
    how many lines fell to services beyond the bound."""
    scale = _UNIT_TO_MS[duration_unit]
    terms = answer["aggregations"]["services"]
    found: dict[str, ServiceWindows] = {}
    for bucket in terms["buckets"]:
        by_key = bucket["windows"]["buckets"]
        parts = [by_key[str(i)] for i in range(len(windows))]
        stats = [_window(part, start, end, scale) for part, (start, end) in zip(parts, windows, strict=True)]
        if any(s.events for s in stats):
            durations = [int((p["requests"].get("durations") or {}).get("value", 0)) for p in parts]
            found[str(bucket["key"]) or UNKNOWN_SERVICE] = ServiceWindows(stats, durations)
    return dict(sorted(found.items())), int(terms.get("sum_other_doc_count", 0))


def _window(bucket: Mapping[str, Any], start: float, end: float, scale: float) -> WindowStats:
    requests = bucket["requests"]
    stats = WindowStats(start, end, events=int(bucket["doc_count"]), requests=int(requests["doc_count"]))
    # As files count them: errors among requests when the window has requests, else error lines.
    errors = requests["errors"] if stats.requests else bucket["line_errors"]
    stats.errors = int(errors["doc_count"])
    _set_percentiles(stats, (requests.get("latency") or {}).get("values") or [], scale)
    return stats


def _set_percentiles(stats: WindowStats, values: Sequence[Mapping[str, Any]], scale: float) -> None:
    found = [v.get("value") for v in values]
    if len(found) != len(_PERCENTS):
        return
    stats.p50_ms, stats.p95_ms, stats.p99_ms = (
        None if value is None else float(value) * scale for value in found
    )


def refine_body(
    fields: FieldMap,
    filters: list[dict[str, Any]],
    windows: Sequence[tuple[float, float]],
    wanted: Sequence[tuple[str, int, int]],
    timeout: str,
) -> dict[str, Any]:
    """Percentiles that equal the file source's exactly, for (service, window, durations).

    While TDigest keeps every value as its own centroid (`_EXACT_COMPRESSION`), it answers
    the q-quantile by interpolating at rank q·n − ½, where the file source interpolates at
    rank q·(n − 1). Asking TDigest for the quantile (q·(n − 1) + ½)/n gives the file
    source's value; it needs n, which the first request counted. p50 needs no correction:
    both ranks are (n − 1)/2."""
    assert fields.duration is not None
    aggs: dict[str, Any] = {}
    by_service: dict[str, dict[str, Any]] = {}
    for service, index, count in wanted:
        start, end = windows[index]
        percents = [100 * (q / 100 * (count - 1) + 0.5) / count for q in _PERCENTS]
        by_service.setdefault(service, {})[f"w{index}"] = {
            "filter": {"range": {fields.timestamp: range_ms(start, end)}},
            "aggs": {"p": _percentiles(fields.duration, percents, _EXACT_COMPRESSION)},
        }
    for number, (service, per_window) in enumerate(by_service.items()):
        aggs[f"s{number}"] = {"filter": _service_is(fields, service), "aggs": per_window}
    return search_body(filters, 0, timeout, aggs=aggs)


def read_refined(
    answer: Mapping[str, Any],
    found: Mapping[str, ServiceWindows],
    wanted: Sequence[tuple[str, int, int]],
    duration_unit: str,
) -> None:
    aggs = answer.get("aggregations") or {}
    services = list(dict.fromkeys(service for service, _, _ in wanted))
    for service, index, _ in wanted:
        part = aggs.get(f"s{services.index(service)}", {}).get(f"w{index}", {})
        values = (part.get("p") or {}).get("values") or []
        _set_percentiles(found[service].stats[index], values, _UNIT_TO_MS[duration_unit])


def _service_is(fields: FieldMap, service: str) -> dict[str, Any]:
    assert fields.service is not None
    if service == UNKNOWN_SERVICE:
        # The terms aggregation counted lines without a service under this name.
        return any_of(
            [
                {"term": {fields.service: service}},
                {"bool": {"must_not": [{"exists": {"field": fields.service}}]}},
            ]
        )
    return {"term": {fields.service: service}}
