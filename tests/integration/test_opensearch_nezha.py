"""Real logs written by others, in a real OpenSearch: the Nezha TrainTicket logs of 2023-01-30
(every faulty minute, 94,703 lines) and the 17 faults injected that day.

For each fault window error_patterns must be exact — its total is OpenSearch's own count for
the same filter and the lines in the fixture, its counts add up — compact, and the same as
from the same logs on files. With a dynamic mapping more than half of the error lines are
longer than the message keyword's 256 characters (Java stack traces), so this also proves
the path that fetches them as text.
"""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sitrep.settings import FilesSource, OpenSearchSettings, Settings
from sitrep.sources.logparse import parse_timestamp
from sitrep.timespec import isoformat
from sitrep.tools.context import ToolContext, build_context
from sitrep.tools.logs import error_patterns
from tests.integration.cluster import ECS_TEXT_MESSAGE, Cluster, read_ndjson
from tests.integration.test_opensearch_parity import assert_same

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

FIXTURE = Path(__file__).parents[1] / "fixtures" / "nezha" / "trainticket-2023-01-30-faults.jsonl.gz"
# From the data set's 2023-01-30/fault_list.json (inject_time, UTC; inject_pod; inject_type).
# Each fault's logs are the three minutes from the minute it was injected in.
FAULTS = [
    ("2023-01-30 11:51:46", "ts-contacts-service-866bd68c97-dzqgd", "network_delay"),
    ("2023-01-30 11:59:21", "ts-basic-service-5dc8d4f9fd-llznp", "cpu_contention"),
    ("2023-01-30 12:06:12", "ts-basic-service-5dc8d4f9fd-llznp", "network_delay"),
    ("2023-01-30 12:15:56", "ts-basic-service-5dc8d4f9fd-llznp", "network_delay"),
    ("2023-01-30 12:29:29", "ts-verification-code-service-7b6dc75c45-r66rb", "network_delay"),
    ("2023-01-30 12:36:54", "ts-verification-code-service-7b6dc75c45-r66rb", "network_delay"),
    ("2023-01-30 12:44:36", "ts-food-service-f5756978c-6sb8t", "cpu_contention"),
    ("2023-01-30 12:52:04", "ts-food-service-f5756978c-6sb8t", "network_delay"),
    ("2023-01-30 12:59:36", "ts-food-service-f5756978c-6sb8t", "network_delay"),
    ("2023-01-30 13:06:49", "ts-travel-service-64469b5b48-5rjvb", "cpu_contention"),
    ("2023-01-30 13:15:43", "ts-travel-service-64469b5b48-5rjvb", "network_delay"),
    ("2023-01-30 13:22:22", "ts-travel-service-64469b5b48-5rjvb", "network_delay"),
    ("2023-01-30 13:30:52", "ts-preserve-service-b5ccf8557-l5l4p", "network_delay"),
    ("2023-01-30 13:44:44", "ts-route-service-b6c59fb57-dz9bw", "network_delay"),
    ("2023-01-30 13:52:20", "ts-route-service-b6c59fb57-dz9bw", "network_delay"),
    ("2023-01-30 14:00:16", "ts-security-service-cb9788d56-bdkcx", "network_delay"),
    ("2023-01-30 14:08:19", "ts-security-service-cb9788d56-bdkcx", "network_delay"),
]
NOW = datetime(2023, 1, 30, 15, 0, tzinfo=UTC)


def window(inject_time: str) -> tuple[str, str]:
    start = datetime.fromisoformat(inject_time).replace(second=0, tzinfo=UTC)
    return isoformat(start), isoformat(start + timedelta(minutes=3))


@pytest.fixture(scope="module")
def documents() -> list[dict[str, Any]]:
    return list(read_ndjson(FIXTURE))


@pytest.fixture(scope="module")
def nezha_index(cluster: Cluster, documents: list[dict[str, Any]]) -> str:
    return cluster.index("nezha", documents)


@pytest.fixture(scope="module")
def on_files(tmp_path_factory: pytest.TempPathFactory) -> ToolContext:
    # Unpacked once: the file source then skips the lines outside a window without parsing them.
    plain = tmp_path_factory.mktemp("nezha") / "trainticket.jsonl"
    with gzip.open(FIXTURE, "rb") as packed:
        plain.write_bytes(packed.read())
    settings = Settings(config_path=Path("/nezha.toml"), files=FilesSource(paths=[str(plain)]))
    return build_context(settings, clock=lambda: NOW)


@pytest.fixture(scope="module")
def on_opensearch(opensearch_url: str, nezha_index: str) -> ToolContext:
    opensearch = OpenSearchSettings(url=opensearch_url, index=nezha_index)
    return build_context(Settings(config_path=Path("/nezha.toml"), opensearch=opensearch), clock=lambda: NOW)


def errors_in(documents: list[dict[str, Any]], start: str, end: str) -> int:
    low, high = parse_timestamp(start), parse_timestamp(end)
    assert low is not None and high is not None
    return sum(
        1
        for d in documents
        if d.get("log", {}).get("level") == "error" and low <= (parse_timestamp(d["@timestamp"]) or 0) < high
    )


def opensearch_count(cluster: Cluster, index: str, start: str, end: str) -> int:
    query = {
        "bool": {
            "filter": [
                {"term": {"log.level.keyword": "error"}},
                {"range": {"@timestamp": {"gte": start, "lt": end}}},
            ]
        }
    }
    return cluster.count(index, query)


@pytest.mark.parametrize(("inject_time", "pod", "kind"), FAULTS, ids=[f[0][11:16] for f in FAULTS])
def test_error_patterns_over_each_fault_window_are_exact_and_compact(
    cluster: Cluster,
    nezha_index: str,
    documents: list[dict[str, Any]],
    on_files: ToolContext,
    on_opensearch: ToolContext,
    inject_time: str,
    pod: str,
    kind: str,
) -> None:
    start, end = window(inject_time)
    found = error_patterns(on_opensearch, since=start, until=end, top=100)
    assert (
        found.total == opensearch_count(cluster, nezha_index, start, end) == errors_in(documents, start, end)
    )
    assert sum(p.count for p in found.patterns) + found.other_count == found.total
    assert found.other_count == 0, found.notes
    assert len(found.patterns) + found.other_patterns <= 6, "a handful of shapes, not one per line"
    assert_same(
        error_patterns(on_files, since=start, until=end, top=100).model_dump(mode="json"),
        found.model_dump(mode="json"),
    )


def test_the_fault_windows_hold_real_errors(documents: list[dict[str, Any]]) -> None:
    counts = [errors_in(documents, *window(f[0])) for f in FAULTS]
    assert sum(counts) > 400 and sum(1 for c in counts if c) >= 10


def test_with_a_text_only_message_the_counts_stay_exact_and_the_bound_is_stated(
    cluster: Cluster, opensearch_url: str, documents: list[dict[str, Any]], on_files: ToolContext
) -> None:
    """An ECS template maps `message` as text only: nothing to group by in the cluster. Every
    line is still counted; the text of a bounded number is fetched, and the answer says so."""
    start, end = window("2023-01-30 13:15:43")
    index = cluster.index(
        "nezha-text", [d for d in documents if start <= d["@timestamp"] < end], mappings=ECS_TEXT_MESSAGE
    )
    opensearch = OpenSearchSettings(url=opensearch_url, index=index, max_sampled_lines=20)
    runtime = build_context(Settings(config_path=Path("/n.toml"), opensearch=opensearch), clock=lambda: NOW)
    found = error_patterns(runtime, since=start, until=end, baseline="none")
    assert found.total == errors_in(documents, start, end) > 20
    assert sum(p.count for p in found.patterns) + found.other_count == found.total
    assert sum(p.count for p in found.patterns) == 20
    assert any("message has no keyword field" in n and "20 were fetched" in n for n in found.notes)
    roomy = OpenSearchSettings(url=opensearch_url, index=index)
    exact = build_context(Settings(config_path=Path("/n.toml"), opensearch=roomy), clock=lambda: NOW)
    assert_same(
        error_patterns(on_files, since=start, until=end, baseline="none").model_dump(mode="json"),
        error_patterns(exact, since=start, until=end, baseline="none").model_dump(mode="json"),
    )
