"""Trace lines from a real OpenSearch equal those from the same logs on files.

The Nezha excerpt of 13:06-13:08 and 13:15-13:17 (8,928 lines with their TraceID and SpanID as
`trace.id` and `span.id`) is indexed into a real node (two shards, dynamic
mapping). `scan(traces=True)` must find the same lines by trace as the file source: read in
pages (made small here, so that paging is exercised), and bounded, saying so, when the bound
is smaller than the lines.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from sitrep.domain import LogQuery, TraceStep
from sitrep.settings import FieldNames, FilesSource, OpenSearchSettings
from sitrep.sources import opensearch, traces
from sitrep.sources.files import FileLogSource
from sitrep.sources.logparse import parse_timestamp
from sitrep.sources.opensearch import OpenSearchLogSource
from tests.integration.cluster import Cluster, read_ndjson

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

FIXTURE = Path(__file__).parents[1] / "fixtures" / "nezha" / "trainticket-2023-01-30-13h.jsonl.gz"


def _time(text: str) -> float:
    ts = parse_timestamp(text)
    assert ts is not None
    return ts


# Two windows around the network-delay fault of 13:15:43, the first starting mid-minute.
WINDOWS = [
    (_time("2023-01-30T13:15:20Z"), _time("2023-01-30T13:15:43Z")),
    (_time("2023-01-30T13:15:43Z"), _time("2023-01-30T13:16:40Z")),
]


@pytest.fixture(scope="module")
def documents() -> list[dict[str, Any]]:
    return list(read_ndjson(FIXTURE))


@pytest.fixture(scope="module")
def index(cluster: Cluster, documents: list[dict[str, Any]]) -> str:
    return cluster.index("rca-traces", documents, shards=2)


def _on_opensearch(url: str, index: str) -> OpenSearchLogSource:
    return OpenSearchLogSource(OpenSearchSettings(url=url, index=index), FieldNames(), deadline_seconds=60)


def _flat(found: dict[str, list[TraceStep]]) -> Counter[tuple[str, float, str, str | None]]:
    return Counter(
        (trace, round(s.ts, 3), s.service, s.span_id) for trace, steps in found.items() for s in steps
    )


def test_trace_lines_are_the_same_as_from_files_in_pages(
    opensearch_url: str, index: str, documents: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(opensearch, "_TRACE_PAGE", 100)
    files = FileLogSource(FilesSource(paths=[str(FIXTURE)]), FieldNames())
    on_files = files.scan(LogQuery(0, 0), groups=WINDOWS, traces=True)
    on_cluster = _on_opensearch(opensearch_url, index).scan(LogQuery(0, 0), groups=WINDOWS, traces=True)
    expected = Counter(
        (d["trace"]["id"], round(_time(d["@timestamp"]), 3), d["service"]["name"], d["span"]["id"])
        for d in documents
        if WINDOWS[0][0] <= _time(d["@timestamp"]) < WINDOWS[-1][1] and d.get("trace", {}).get("id")
    )
    assert sum(expected.values()) > 300  # several pages of 100
    assert _flat(on_cluster.traces) == _flat(on_files.traces) == expected
    assert not on_cluster.report.notes


def test_trace_lines_are_bounded_newest_first_and_the_bound_is_said(
    opensearch_url: str, index: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(opensearch, "_TRACE_PAGE", 90)
    monkeypatch.setattr(traces, "MAX_TRACE_LINES", 200)
    found = _on_opensearch(opensearch_url, index).scan(LogQuery(0, 0), stats=WINDOWS, traces=True)
    steps = [s for kept in found.traces.values() for s in kept]
    assert len(steps) == 200
    everything = _on_opensearch(opensearch_url, index).scan(LogQuery(0, 0), stats=WINDOWS)
    assert sum(w.events for per in everything.stats.values() for w in per) > 400
    # The newest lines are the ones kept.
    assert max(s.ts for s in steps) > WINDOWS[-1][1] - 5
    assert any("trace lines: kept the first 200" in note for note in found.report.notes)
