"""The OpenSearch source on a real node: the awkward corners of real data, answered as the
file source answers them, and the cases it must refuse or explain."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from sitrep.domain import LogQuery
from sitrep.errors import SourceResponseError, WriteRefused
from sitrep.settings import DeployLogSource, FilesSource, OpenSearchSettings, Settings
from sitrep.sources.opensearch import OpenSearchLogSource
from sitrep.tools.context import ToolContext, build_context
from sitrep.tools.health import deploy_health, rollback_candidates
from sitrep.tools.logs import error_patterns, search_logs
from sitrep.tools.status import sources_status, statuses
from sitrep.tools.timeline import incident_timeline
from tests.integration.cluster import ECS_TEXT_MESSAGE, Cluster
from tests.integration.test_opensearch_parity import assert_same

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
EVERYTHING = LogQuery(0.0, NOW.timestamp())
# Every spelling a logger might write, in any case; numbers as pino writes them.
LEVELS = [
    "ERROR",
    "Error",
    "err",
    "SEVERE",
    "WARNING",
    "warn",
    "Fatal",
    "crit",
    "INFO",
    "notice",
    "debug",
    "TRACE",
]
MESSAGES = [
    "GET /api/orders/{n} 200",
    "Payment {n} declined: card expired",
    "Timeout after {n} ms calling inventory",
    "Cache miss for key user:{n}",
    "Literal *star* and ?question? and back\\slash {n}",
    "Ünïcödé naïve café failure {n}",
    "Stack trace follows: " + "at com.example.Service.method(Service.java:{n}) " * 12,
]


def make_documents(seed: int = 3) -> list[dict[str, Any]]:
    """Three hours of two services: requests with status and duration, and plain lines."""
    rng = random.Random(seed)
    start = NOW - timedelta(hours=3)
    documents = []
    for i in range(6_000):
        moment = start + timedelta(seconds=i * 1.8 + rng.random())
        document: dict[str, Any] = {
            "@timestamp": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "service": {"name": rng.choice(["api", "api", "worker"])},
            "log": {"level": rng.choice(LEVELS)},
            "message": rng.choice(MESSAGES).format(n=rng.randrange(1000)),
        }
        if document["service"]["name"] == "api" and rng.random() < 0.8:
            late = moment > NOW - timedelta(minutes=50)
            status = 503 if rng.random() < (0.3 if late else 0.02) else 200
            document["http"] = {"response": {"status_code": status}}
            document["event"] = {"duration": int(rng.lognormvariate(17.5 + late, 0.6))}
        documents.append(document)
    pino = {"@timestamp": "2026-05-04T11:30:00.000Z", "service": {"name": "worker"}, "log": {"level": 50}}
    documents.append({**pino, "message": "pino says 50"})
    return documents


DEPLOYS = [
    {"timestamp": "2026-05-04T09:00:00Z", "service": "api", "version": "v1"},
    {"timestamp": "2026-05-04T10:00:00Z", "service": "api", "version": "v2"},
    {"timestamp": "2026-05-04T11:10:00Z", "service": "api", "version": "v3"},
]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    directory = tmp_path_factory.mktemp("corners")
    documents = make_documents()
    (directory / "app.jsonl").write_text("".join(json.dumps(d) + "\n" for d in documents))
    (directory / "deploys.jsonl").write_text("".join(json.dumps(d) + "\n" for d in DEPLOYS))
    return directory, documents


def settings_for(directory: Path, **sources: Any) -> Settings:
    deploy_log = DeployLogSource(path=directory / "deploys.jsonl")
    return Settings(config_path=directory / "sitrep.toml", deploy_log=deploy_log, **sources)


@pytest.fixture(scope="module")
def pair(
    cluster: Cluster, opensearch_url: str, scenario: tuple[Path, list[dict[str, Any]]]
) -> tuple[ToolContext, ToolContext]:
    directory, documents = scenario
    index = cluster.index("corners", documents, shards=3)
    files = settings_for(directory, files=FilesSource(paths=[str(directory / "app.jsonl")]))
    opensearch = settings_for(directory, opensearch=OpenSearchSettings(url=opensearch_url, index=index))
    return build_context(files, clock=lambda: NOW), build_context(opensearch, clock=lambda: NOW)


CORNERS: list[tuple[Callable[..., BaseModel], dict[str, Any]]] = [
    (search_logs, {"level": "error", "since": "3h", "limit": 50}),
    (search_logs, {"level": "warn", "since": "2h", "limit": 5}),
    (search_logs, {"query": "*STAR*", "since": "3h", "limit": 5}),
    (search_logs, {"query": "? and back\\", "since": "3h", "limit": 5}),
    (search_logs, {"query": "CAFÉ FAILURE", "since": "3h", "limit": 5}),
    (search_logs, {"query": "user:1", "service": "worker", "since": "3h", "limit": 5}),
    (error_patterns, {"since": "1h"}),
    (error_patterns, {"since": "2h", "levels": ["fatal", "critical"], "baseline": "none"}),
    (error_patterns, {"since": "3h", "levels": ["all"], "baseline": "none"}),
    (deploy_health, {"service": "api"}),
    (rollback_candidates, {"service": "api"}),
    (incident_timeline, {"since": "2h"}),
]


@pytest.mark.parametrize(
    ("tool", "arguments"), CORNERS, ids=[f"{t.__name__}-{i}" for i, (t, _) in enumerate(CORNERS)]
)
def test_awkward_data_answers_as_on_files(
    pair: tuple[ToolContext, ToolContext], tool: Callable[..., BaseModel], arguments: dict[str, Any]
) -> None:
    """Level spellings in any case, wildcard characters and non-ASCII text in a substring
    query, messages longer than the keyword, three shards: the same answers as files."""
    files, opensearch = pair
    assert_same(
        tool(files, **arguments).model_dump(mode="json"),
        tool(opensearch, **arguments).model_dump(mode="json"),
    )


def test_level_spellings_are_all_found(
    pair: tuple[ToolContext, ToolContext], scenario: tuple[Path, list[dict[str, Any]]]
) -> None:
    _, opensearch = pair
    wanted = {"ERROR", "Error", "err", "SEVERE", "Fatal", "crit"}
    expected = sum(1 for d in scenario[1] if d["log"]["level"] in wanted or d["log"]["level"] == 50)
    assert search_logs(opensearch, level="error", since="3h", limit=1).total == expected


def test_an_index_pattern_matching_nothing_is_said(opensearch_url: str, tmp_path: Path) -> None:
    settings = settings_for(
        tmp_path, opensearch=OpenSearchSettings(url=opensearch_url, index="sitrep-none-*")
    )
    (tmp_path / "deploys.jsonl").write_text("")
    runtime = build_context(settings, clock=lambda: NOW)
    found = search_logs(runtime, since="1h")
    assert (
        found.total == 0
        and "sitrep-none-* matches no OpenSearch index; check [opensearch] index" in found.notes
    )
    [status] = [s for s in sources_status(runtime).sources if s.kind == "opensearch"]
    assert not status.ok and "sitrep-none-* matches no index: check [opensearch] index" in status.detail


def test_a_service_field_without_keyword_is_explained(
    cluster: Cluster, opensearch_url: str, scenario: tuple[Path, list[dict[str, Any]]]
) -> None:
    directory, documents = scenario
    mappings = {
        "properties": {
            **ECS_TEXT_MESSAGE["properties"],
            "service": {"properties": {"name": {"type": "text"}}},
        }
    }
    index = cluster.index("textservice", documents[:500], mappings=mappings)
    source = OpenSearchLogSource(
        OpenSearchSettings(url=opensearch_url, index=index), Settings().fields, deadline_seconds=20
    )
    with pytest.raises(
        SourceResponseError,
        match=r"service\.name is text without a keyword sub-field in sitrep-test-textservice-\w+; deploy health and the incident timeline needs an aggregatable service field",
    ):
        source.scan(EVERYTHING, stats=[(0.0, NOW.timestamp())])
    runtime = build_context(
        settings_for(directory, opensearch=OpenSearchSettings(url=opensearch_url, index=index)),
        clock=lambda: NOW,
    )
    health = deploy_health(runtime, service="api")
    assert health.windows[0].verdict == "insufficient"
    assert any("logs not read: opensearch: service.name is text without a keyword" in n for n in health.notes)
    assert "service.name is text without a keyword sub-field" in statuses(runtime.sources)[-1].detail
    # error_patterns needs the service field only to know what the logs cover: it still answers.
    patterns = error_patterns(runtime, since="3h", levels=["all"])
    assert patterns.total > 0 and any("rates use the windows' full lengths" in n for n in patterns.notes)


def test_writes_never_reach_the_cluster(cluster: Cluster, opensearch_url: str) -> None:
    index = cluster.index("readonly", [{"@timestamp": "2026-05-04T11:00:00Z", "message": "kept"}])
    source = OpenSearchLogSource(
        OpenSearchSettings(url=opensearch_url, index=index), Settings().fields, deadline_seconds=20
    )
    transport = source._client._transport
    attempts = [
        ("POST", "/_bulk", '{"delete":{"_index":"' + index + '","_id":"x"}}\n'),
        ("POST", f"/{index}/_delete_by_query", {"query": {"match_all": {}}}),
        ("DELETE", f"/{index}", None),
        ("PUT", f"/{index}/_doc/1", {"message": "written"}),
        ("POST", f"/{index}/_search?scroll=1m", {"query": {"match_all": {}}}),
    ]
    for method, path, body in attempts:
        with pytest.raises(WriteRefused, match=f"sitrep is read-only: refused {method}"):
            transport.perform_request(method, path, body=body)
    assert cluster.count(index, {"match_all": {}}) == 1


def test_a_dead_host_in_the_list_is_skipped(
    opensearch_url: str, pair: tuple[ToolContext, ToolContext]
) -> None:
    _, working = pair
    assert working.settings.opensearch is not None
    index = working.settings.opensearch.index
    config = OpenSearchSettings(url=["http://127.0.0.1:1", opensearch_url], index=index)
    source = OpenSearchLogSource(config, Settings().fields, deadline_seconds=20)
    for _ in range(4):  # round-robin reaches the dead host at least once
        assert source.search(EVERYTHING, 1).total == 6_001
