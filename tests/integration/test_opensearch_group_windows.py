"""Message groups over a fine grid of sparse logs, on a real node: only the windows that hold
lines get a search of their own, after one count per window, and the groups are those the
file source finds in the same lines (issue 12/13: what_changed asked for ~480 empty windows)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sitrep.domain import LogQuery, MessageGroup
from sitrep.settings import FieldNames, FilesSource, OpenSearchSettings, Settings
from sitrep.sources.files import FileLogSource
from sitrep.sources.opensearch import OpenSearchLogSource
from sitrep.tools.context import build_context
from sitrep.tools.what_changed import what_changed
from tests.integration.cluster import Cluster
from tests.integration.test_opensearch_parity import assert_same, comparable

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
START = NOW - timedelta(minutes=40)
WIDTH = 5.0
WINDOWS = [(START.timestamp() + i * WIDTH, START.timestamp() + (i + 1) * WIDTH) for i in range(480)]
LONG = "Stack trace follows: " + "at com.example.Service.method(Service.java:42) " * 8
"""Longer than the dynamic mapping's keyword (256): grouped from its text, not its keyword."""


def sparse_documents() -> list[dict[str, Any]]:
    """A few lines every seven minutes from two services, some on a window's very edge, one
    in the first and one in the last window; nothing in most of the 480 windows."""
    documents = []
    for minute in (0, 7, 14, 21, 28, 35):
        for offset, service, level, message in (
            (0.0, "api", "info", f"GET /orders/{minute} 200"),
            (4.999, "api", "error", "upstream reset, retrying"),
            (5.0, "worker", "error", "upstream reset, retrying"),
            (61.5, "worker", "warn", LONG),
        ):
            moment = START + timedelta(minutes=minute, seconds=offset)
            document: dict[str, Any] = {
                "@timestamp": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "service": {"name": service},
                "log": {"level": level},
                "message": message,
            }
            if message.startswith("GET"):
                document["http"] = {"response": {"status_code": 200}}
                document["event"] = {"duration": (20 + minute) * 1_000_000}
            documents.append(document)
    last = NOW - timedelta(seconds=1)
    documents.append(
        {
            "@timestamp": last.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "service": {"name": "api"},
            "log": {"level": "error"},
            "message": "the last window's line",
        }
    )
    return documents


@pytest.fixture(scope="module")
def logs(
    tmp_path_factory: pytest.TempPathFactory, cluster: Cluster
) -> tuple[Path, str, list[dict[str, Any]]]:
    documents = sparse_documents()
    path = tmp_path_factory.mktemp("sparse") / "app.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in documents))
    return path, cluster.index("sparse", documents, shards=2), documents


@contextmanager
def searches_sent(source: OpenSearchLogSource) -> Iterator[list[int]]:
    """The searches each request carried (an _msearch carries several), sent through the
    real client."""
    sent: list[int] = []
    client = source._client
    post, msearch = client.post, client.msearch

    def counted_post(*args: Any, **kwargs: Any) -> Any:
        sent.append(1)
        return post(*args, **kwargs)

    def counted_msearch(searches: list[dict[str, Any]], *args: Any, **kwargs: Any) -> Any:
        sent.append(len(searches))
        return msearch(searches, *args, **kwargs)

    client.post, client.msearch = counted_post, counted_msearch  # type: ignore[method-assign]
    try:
        yield sent
    finally:
        del client.post, client.msearch


def groups_of(found: list[tuple[int, MessageGroup]]) -> list[tuple[Any, ...]]:
    return sorted(
        (i, g.message, g.count, g.first_ts, g.last_ts, sorted(g.services.items())) for i, g in found
    )


def test_only_windows_with_lines_are_searched_and_the_groups_are_the_files(
    logs: tuple[Path, str, list[dict[str, Any]]], opensearch_url: str
) -> None:
    path, index, documents = logs
    query = LogQuery(START.timestamp(), NOW.timestamp())
    source = OpenSearchLogSource(
        OpenSearchSettings(url=opensearch_url, index=index), FieldNames(), deadline_seconds=60
    )
    source.services()  # reads the field map, so the count below is the scan's own
    with searches_sent(source) as sent:
        found = source.scan(query, groups=WINDOWS)
    expected = FileLogSource(FilesSource(paths=[str(path)]), FieldNames()).scan(query, groups=WINDOWS)
    assert groups_of(found.groups) == groups_of(expected.groups)
    with_lines = {i for i, _ in expected.groups}
    # 6 x (3 windows: the line at 0 s and the one just before 5 s share one) + the last window
    assert len(with_lines) == 6 * 3 + 1 < len(documents)
    assert found.report.ungrouped == expected.report.ungrouped == {}
    # one count of every window, one search per window with lines, and the long lines, which
    # have no keyword to group by, fetched as text for the six windows that hold them
    assert sent == [1, len(with_lines), 6]


def test_a_query_matching_nothing_sends_one_count_and_no_group_search(
    logs: tuple[Path, str, list[dict[str, Any]]], opensearch_url: str
) -> None:
    _, index, _ = logs
    source = OpenSearchLogSource(
        OpenSearchSettings(url=opensearch_url, index=index), FieldNames(), deadline_seconds=60
    )
    source.services()
    query = LogQuery(START.timestamp(), NOW.timestamp(), frozenset({"nobody"}))
    with searches_sent(source) as sent:
        found = source.scan(query, groups=WINDOWS)
    assert found.groups == [] and sent == [1]


def test_what_changed_on_sparse_logs_answers_as_on_files(
    logs: tuple[Path, str, list[dict[str, Any]]], opensearch_url: str
) -> None:
    path, index, _ = logs
    base = Settings(config_path=path.with_name("sitrep.toml"), deadline_seconds=120)
    files = build_context(
        base.model_copy(update={"files": FilesSource(paths=[str(path)])}), clock=lambda: NOW
    )
    on_node = OpenSearchSettings(url=opensearch_url, index=index)
    opensearch = build_context(base.model_copy(update={"opensearch": on_node}), clock=lambda: NOW)
    at = (START + timedelta(minutes=20)).isoformat()
    expected = what_changed(files, at=at, window="20m", baseline="20m")
    assert expected.bucket_seconds == WIDTH and expected.tested
    assert_same(
        comparable(expected.model_dump(mode="json")),
        comparable(what_changed(opensearch, at=at, window="20m", baseline="20m").model_dump(mode="json")),
    )
