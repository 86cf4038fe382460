"""Window health as OpenSearch aggregations, read back as the file source counts, without a node."""

from __future__ import annotations

from typing import Any

import pytest

from sitrep.settings import FieldNames
from sitrep.sources.opensearch_health import read_refined, read_window_stats, refine_body
from sitrep.sources.opensearch_query import resolve_fields
from tests.sources.fake_opensearch import DYNAMIC_CAPS


def _window(doc_count: int, requests: int, errors: int, line_errors: int, durations: int) -> dict[str, Any]:
    values = [{"key": 50.0, "value": 2e6}, {"key": 95.0, "value": 9e6}, {"key": 99.0, "value": None}]
    return {
        "doc_count": doc_count,
        "requests": {
            "doc_count": requests,
            "errors": {"doc_count": errors},
            "durations": {"value": durations},
            "latency": {"values": values},
        },
        "line_errors": {"doc_count": line_errors},
    }


def test_window_stats_count_as_files_do() -> None:
    answer = {
        "aggregations": {
            "services": {
                "sum_other_doc_count": 4,
                "buckets": [
                    {
                        "key": "api",
                        "windows": {"buckets": {"0": _window(10, 8, 2, 1, 8), "1": _window(5, 0, 0, 3, 0)}},
                    },
                    {
                        "key": "idle",
                        "windows": {"buckets": {"0": _window(0, 0, 0, 0, 0), "1": _window(0, 0, 0, 0, 0)}},
                    },
                ],
            }
        }
    }
    found, beyond = read_window_stats(answer, [(0.0, 60.0), (60.0, 120.0)], "ns")
    assert beyond == 4 and list(found) == ["api"], "services with no line in any window are left out"
    first, second = found["api"].stats
    assert (first.events, first.requests, first.errors) == (10, 8, 2)
    assert (second.events, second.requests, second.errors) == (5, 0, 3), "error lines when no requests"
    assert (first.p50_ms, first.p95_ms, first.p99_ms) == (2.0, 9.0, None)
    assert found["api"].durations == [8, 0]


def test_exact_percentiles_ask_tdigest_for_the_files_interpolation() -> None:
    """TDigest interpolates at rank q·n − ½, files at q·(n − 1): ask for (q·(n − 1) + ½)/n."""
    fields = resolve_fields(DYNAMIC_CAPS, FieldNames(), "logs-*")
    body = refine_body(fields, [], [(0.0, 60.0)], [("api", 0, 150)], "8000ms")
    window = body["aggs"]["s0"]["aggs"]["w0"]
    percents = window["aggs"]["p"]["percentiles"]["percents"]
    assert percents == pytest.approx([50.0, 100 * (0.95 * 149 + 0.5) / 150, 100 * (0.99 * 149 + 0.5) / 150])
    assert window["aggs"]["p"]["percentiles"]["tdigest"] == {"compression": 20_000}, "every value kept"
    assert body["aggs"]["s0"]["filter"] == {"term": {"service.name.keyword": "api"}}
    unknown = refine_body(fields, [], [(0.0, 60.0)], [("unknown", 0, 5)], "8000ms")
    assert unknown["aggs"]["s0"]["filter"]["bool"]["should"][1] == {
        "bool": {"must_not": [{"exists": {"field": "service.name.keyword"}}]}
    }


def test_refined_percentiles_replace_the_estimates() -> None:
    answer = {
        "aggregations": {
            "services": {"buckets": [{"key": "api", "windows": {"buckets": {"0": _window(10, 8, 0, 0, 8)}}}]}
        }
    }
    found, _ = read_window_stats(answer, [(0.0, 60.0)], "ms")
    refined = {
        "aggregations": {"s0": {"w0": {"p": {"values": [{"value": 1.0}, {"value": 2.0}, {"value": 3.0}]}}}}
    }
    read_refined(refined, found, [("api", 0, 8)], "ms")
    stats = found["api"].stats[0]
    assert (stats.p50_ms, stats.p95_ms, stats.p99_ms) == (1.0, 2.0, 3.0)
