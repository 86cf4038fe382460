"""Read-only, proven on the wire: a recording proxy between sitrep and a real OpenSearch node.

Every tool is called with generated ordinary and hostile arguments; the proxy records what
reached the node. Only allowlisted reads may appear, the index must hold what it held, the
repository must be unchanged, and no planted secret or hidden character may come back.
Then the proxy misbehaves - slow, reset, stalled mid-body, dripping, throttled, answering
HTML, cut-off JSON, JSON of the wrong shape, 10 MB - and every tool must still answer
within its deadline, from the other sources, saying what is missing.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import anyio
import anyio.from_thread
import pytest
from hypothesis import given
from mcp import Client

from sitrep.errors import WriteRefused
from sitrep.server.mcp import build_server
from sitrep.settings import OpenSearchSettings, load_settings
from sitrep.sources.opensearch_client import ReadOnlyClient
from sitrep.tools import READ_TOOLS
from sitrep.tools.context import ToolContext, build_context
from tests.gitrepo import NOW
from tests.hostile import (
    HostileIncident,
    arguments,
    build_hostile_incident,
    generated,
    in_time,
    problems,
    secret_pieces,
)
from tests.integration.cluster import Cluster, read_ndjson
from tests.integration.proxy import FAULTS, FaultProxy

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

EXAMPLES_PER_TOOL = 300
DEADLINE = 2.5
# Written out here, apart from sitrep's own allowlist, so that a change there cannot pass
# this test by changing what it checks against.
READS = re.compile(
    r"(GET|POST) /(?:|_cluster/health|sitrep-test-[\w-]+/(?:_search|_msearch|_count|_field_caps|_mapping))"
    r"(?:\?[^\s]*)?"
)


@pytest.fixture(scope="module")
def incident(tmp_path_factory: pytest.TempPathFactory) -> HostileIncident:
    return build_hostile_incident(tmp_path_factory.mktemp("proof") / "incident")


@pytest.fixture(scope="module")
def index(cluster: Cluster, incident: HostileIncident) -> str:
    return cluster.index("proof", read_ndjson(*incident.log_dir.glob("*.jsonl")), shards=2)


@pytest.fixture(scope="module")
def proxy(opensearch_url: str) -> Iterator[FaultProxy]:
    front = FaultProxy(opensearch_url)
    try:
        yield front
    finally:
        front.close()


def runtime(incident: HostileIncident, proxy: FaultProxy, index: str, deadline: float) -> ToolContext:
    base = load_settings(incident.config_path)
    opensearch = OpenSearchSettings(url=proxy.url, index=index, timeout_seconds=0.5)
    settings = base.model_copy(update={"files": None, "opensearch": opensearch, "deadline_seconds": deadline})
    return build_context(settings, clock=lambda: NOW)


@pytest.fixture(scope="module")
def session(
    incident: HostileIncident, proxy: FaultProxy, index: str
) -> Iterator[tuple[anyio.from_thread.BlockingPortal, Client]]:
    rt = runtime(incident, proxy, index, deadline=20)
    with (
        anyio.from_thread.start_blocking_portal() as portal,
        portal.wrap_async_context_manager(Client(build_server(rt.settings, rt))) as client,
    ):
        yield portal, client


def state(cluster: Cluster, index: str, incident: HostileIncident) -> tuple[Any, ...]:
    return cluster.count(index, {"match_all": {}}), cluster.mapping(index), incident.repo.snapshot()


@pytest.mark.parametrize("tool", sorted(t.__name__ for t in READ_TOOLS))
def test_generated_calls_send_only_allowlisted_reads(
    tool: str,
    session: tuple[anyio.from_thread.BlockingPortal, Client],
    proxy: FaultProxy,
    cluster: Cluster,
    index: str,
    incident: HostileIncident,
) -> None:
    portal, client = session
    schema = next(t.input_schema for t in portal.call(client.list_tools).tools if t.name == tool)
    pieces = secret_pieces(incident.secrets)
    before = state(cluster, index, incident)
    proxy.fault = None
    proxy.seen.clear()

    @generated(EXAMPLES_PER_TOOL)
    @given(arguments(schema, incident))
    def call(drawn: dict[str, Any]) -> None:
        result = portal.call(client.call_tool, tool, drawn)
        text = "".join(getattr(part, "text", "") for part in result.content)
        assert not result.is_error or text.strip()
        assert "Traceback" not in text and "internal error" not in text, text[:500]
        assert not problems(text, result.structured_content, pieces)

    call()
    sent = [f"{seen.method} {seen.target}" for seen in proxy.seen]
    # alerts and query_metrics read Prometheus and Alertmanager, which are not configured here
    # (tests/integration/test_prometheus.py proves their wire).
    assert tool in {"deploy_diff", "recent_deploys", "alerts", "query_metrics"} or sent, (
        "the calls never reached OpenSearch"
    )
    refused = [line for line in sent if not READS.fullmatch(line)]
    assert not refused, refused[:5]
    assert state(cluster, index, incident) == before


def test_a_write_never_reaches_the_wire(proxy: FaultProxy, index: str) -> None:
    client = ReadOnlyClient(OpenSearchSettings(url=proxy.url, index=index), budget_seconds=5)
    proxy.fault = None
    proxy.seen.clear()
    for method, path in [
        ("POST", "/_bulk"),
        ("POST", f"/{index}/_delete_by_query"),
        ("POST", f"/{index}/_update/1"),
        ("PUT", f"/{index}/_doc/1"),
        ("DELETE", f"/{index}"),
        ("POST", f"/{index}/_search?scroll=1m"),
        ("POST", "/%5Fbulk"),
    ]:
        with pytest.raises(WriteRefused, match="sitrep is read-only: refused"):
            client._request(method, path, None, {})
    assert proxy.seen == []


LOGS_ONLY = {"search_logs", "error_patterns"}
CALLS: dict[str, dict[str, Any]] = {
    "sources_status": {},
    "recent_deploys": {"since": "2d"},
    "search_logs": {"service": "checkout", "since": "6h"},
    "error_patterns": {"since": "6h"},
    "deploy_health": {"service": "checkout"},
    "rollback_candidates": {"service": "checkout"},
    "incident_timeline": {"service": "checkout", "since": "6h"},
    "deploy_diff": {"sha": "v1.4.0", "service": "checkout"},
}


@pytest.mark.anyio
@pytest.mark.parametrize("fault", FAULTS)
async def test_a_misbehaving_cluster_gives_partial_answers_within_the_deadline(
    fault: str, incident: HostileIncident, proxy: FaultProxy, index: str
) -> None:
    rt = runtime(incident, proxy, index, deadline=DEADLINE)
    proxy.fault, proxy.delay, proxy.drip = fault, 30.0, 0.3
    proxy.released.clear()
    results: dict[str, tuple[float, Any]] = {}
    try:
        async with Client(build_server(rt.settings, rt)) as client:

            async def one(tool: str) -> None:
                started = time.monotonic()
                result = await client.call_tool(tool, CALLS[tool])
                results[tool] = (time.monotonic() - started, result)

            async with anyio.create_task_group() as group:
                for tool in CALLS:
                    group.start_soon(one, tool)
    finally:
        proxy.released.set()
        proxy.fault = None
    for tool, (seconds, result) in results.items():
        text = result.content[0].text
        assert in_time(seconds, DEADLINE), f"{fault}: {tool} took {seconds:.1f} s"
        assert "Traceback" not in text and "internal error" not in text, f"{fault}: {tool}: {text[:300]}"
        if tool in LOGS_ONLY:
            # Nothing else to answer from: an error that names the source and what to do.
            assert result.is_error and "OpenSearch" in text, f"{fault}: {tool}: {text[:300]}"
            continue
        assert not result.is_error, f"{fault}: {tool}: {text[:300]}"
        data = result.structured_content
        if tool == "sources_status":
            (cluster_status,) = [s for s in data["sources"] if s["kind"] == "opensearch"]
            assert not cluster_status["ok"] and cluster_status["detail"], f"{fault}: {cluster_status}"
        elif tool in ("deploy_health", "rollback_candidates", "incident_timeline"):
            notes = " ".join(data.get("notes", []))
            assert "logs not read" in notes and "OpenSearch" in notes, f"{fault}: {tool}: {notes}"
