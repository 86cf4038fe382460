"""Parity: every log-backed tool answers the same from OpenSearch as from the same logs on files.

The demo incident's logs are indexed into a real node (two shards, dynamic mapping) and
each tool runs against a files-configured and an OpenSearch-configured runtime on one clock.
Counts, totals, patterns, verdicts, rankings and texts must be equal. Percentiles are equal
too: OpenSearch's TDigest holds every value at these window sizes and sitrep asks it for the
quantile that equals the files' interpolation (see `refine_body`), so the only tolerance is
float rounding (relative 1e-9). The file source also reports the demo's deliberately
unreadable lines, which never reach an index: that note and count are left out.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel

from sitrep.demo import DemoScenario, build_demo
from sitrep.settings import OpenSearchSettings, Settings, load_settings
from sitrep.sources.sketch import RELATIVE_ACCURACY
from sitrep.tools.context import ToolContext, build_context
from sitrep.tools.health import deploy_health, rollback_candidates
from sitrep.tools.history import known_services
from sitrep.tools.logs import error_patterns, search_logs
from sitrep.tools.status import statuses
from sitrep.tools.timeline import incident_timeline
from tests.gitrepo import NOW
from tests.integration.cluster import Cluster, read_ndjson

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

FLOAT_TOLERANCE = 1e-9
LATENCY_TOLERANCE = RELATIVE_ACCURACY
"""Latency percentiles: the files source keeps a window's durations exactly up to 4,096, then
in a sketch within 1% (sources/sketch.py); OpenSearch computes its own."""
CALLS: list[tuple[Callable[..., BaseModel], dict[str, Any]]] = [
    (search_logs, {"service": "checkout", "level": "error", "since": "2h", "limit": 20}),
    (search_logs, {"query": "TIMEOUT", "since": "24h", "limit": 10}),
    (search_logs, {"query": "/api/cart", "level": "warn", "since": "6h", "limit": 3}),
    (search_logs, {"since": "1h", "limit": 5}),
    (search_logs, {"service": "payments", "since": "20m", "limit": 500}),
    (error_patterns, {"service": "checkout"}),
    (error_patterns, {"since": "3h", "levels": ["warn", "error"]}),
    (error_patterns, {"since": "90m", "baseline": "none", "top": 3}),
    (error_patterns, {"service": "payments", "since": "12h", "baseline": "6h"}),
    (deploy_health, {"service": "checkout"}),
    (deploy_health, {"service": "payments"}),
    (rollback_candidates, {"service": "checkout"}),
    (incident_timeline, {"since": "6h"}),
    (incident_timeline, {"service": "checkout", "since": "3h"}),
    (incident_timeline, {"service": "payments", "since": "24h"}),
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoScenario:
    return build_demo(tmp_path_factory.mktemp("demo") / "incident", now=NOW)


@pytest.fixture(scope="module")
def demo_index(cluster: Cluster, demo: DemoScenario) -> str:
    return cluster.index("demo", read_ndjson(*sorted((demo.directory / "logs").glob("*.jsonl"))), shards=2)


def demo_settings(demo: DemoScenario) -> Settings:
    """The demo's settings with the widest output: a latency that OpenSearch's TDigest gives a
    digit longer (within the tolerance) can leave one more item out of an answer at the edge
    of the budget (rollback_candidates on checkout, at the default 8,000)."""
    settings = load_settings(demo.config_path)
    return settings.model_copy(update={"output": settings.output.model_copy(update={"max_chars": 20_000})})


@pytest.fixture(scope="module")
def files(demo: DemoScenario) -> ToolContext:
    return build_context(demo_settings(demo), clock=lambda: NOW)


def on_opensearch(demo: DemoScenario, url: str, index: str, **options: Any) -> ToolContext:
    settings = demo_settings(demo)
    opensearch = OpenSearchSettings(url=url, index=index, **options)
    return build_context(
        settings.model_copy(update={"files": None, "opensearch": opensearch}), clock=lambda: NOW
    )


@pytest.fixture(scope="module")
def opensearch(demo: DemoScenario, opensearch_url: str, demo_index: str) -> ToolContext:
    return on_opensearch(demo, opensearch_url, demo_index)


@pytest.mark.parametrize(
    ("tool", "arguments"), CALLS, ids=[f"{t.__name__}-{i}" for i, (t, _) in enumerate(CALLS)]
)
def test_every_log_backed_tool_answers_the_same(
    files: ToolContext, opensearch: ToolContext, tool: Callable[..., BaseModel], arguments: dict[str, Any]
) -> None:
    from_files = comparable(tool(files, **arguments).model_dump(mode="json"))
    from_opensearch = comparable(tool(opensearch, **arguments).model_dump(mode="json"))
    assert_same(from_files, from_opensearch)


def test_the_demo_answers_are_not_trivial(opensearch: ToolContext, demo: DemoScenario) -> None:
    """Parity over empty answers would prove nothing: the OpenSearch runtime finds the incident."""
    patterns = error_patterns(opensearch, service="checkout")
    assert patterns.total > 100 and any(p.new for p in patterns.patterns)
    ranked = rollback_candidates(opensearch, service="checkout")
    assert ranked.current.health.verdict == "degraded"
    assert ranked.candidates[0].sha == demo.expected_top_sha
    health = deploy_health(opensearch, service="checkout")
    assert {w.verdict for w in health.windows} == {"healthy", "degraded"}
    assert all(w.p95_ms is not None for w in health.windows if w.requests)


def test_every_line_of_a_day_groups_the_same_when_the_bound_allows(
    demo: DemoScenario, files: ToolContext, opensearch_url: str, demo_index: str
) -> None:
    """All levels over 6 h against the 24 h before: ~30,000 distinct messages per window (request
    lines carry ids), beyond the default bound but within a raised one."""
    roomy = on_opensearch(demo, opensearch_url, demo_index, max_distinct_messages=50_000)
    arguments = {"since": "6h", "levels": ["all"], "top": 50}
    expected = comparable(error_patterns(files, **arguments).model_dump(mode="json"))
    assert_same(expected, comparable(error_patterns(roomy, **arguments).model_dump(mode="json")))


def test_beyond_the_bound_totals_stay_exact_and_the_sample_is_stated(
    demo: DemoScenario, files: ToolContext, opensearch_url: str, demo_index: str
) -> None:
    tight = on_opensearch(demo, opensearch_url, demo_index, max_distinct_messages=100, max_sampled_lines=500)
    arguments = {"since": "6h", "levels": ["all"], "baseline": "none"}
    expected = error_patterns(files, **arguments)
    found = error_patterns(tight, **arguments)
    assert found.total == expected.total > 10_000
    assert sum(p.count for p in found.patterns) + found.other_count == found.total
    assert any("random sample of 500" in note and "max_distinct_messages" in note for note in found.notes)
    assert any("counted but not grouped into patterns" in note for note in found.notes)


def test_sources_status_names_the_cluster_and_what_the_index_holds(
    opensearch: ToolContext, demo_index: str
) -> None:
    [status] = [s for s in statuses(opensearch.sources) if s.kind == "opensearch"]
    assert status.ok and status.kind == "opensearch"
    assert "OpenSearch 2." in status.detail and "health " in status.detail
    assert f"{demo_index} matches 1 index(es), 51,146 documents" in status.detail
    assert known_services(opensearch.sources) == ["checkout", "payments"]


def comparable(result: dict[str, Any]) -> dict[str, Any]:
    """The result without what only files can know: the lines they could not read."""
    result.pop("lines_skipped", None)
    if "notes" in result:
        result["notes"] = [n for n in result["notes"] if "unreadable log line" not in n]
    return result


def assert_same(expected: Any, found: Any, path: str = "") -> None:
    if isinstance(expected, float) and isinstance(found, float):
        tolerance = LATENCY_TOLERANCE if path.endswith("_ms") else FLOAT_TOLERANCE
        assert math.isclose(expected, found, rel_tol=tolerance), f"{path}: {expected} != {found}"
    elif isinstance(expected, dict) and isinstance(found, dict):
        assert expected.keys() == found.keys(), path
        for key in expected:
            assert_same(expected[key], found[key], f"{path}.{key}")
    elif isinstance(expected, list) and isinstance(found, list):
        assert len(expected) == len(found), f"{path}: {len(expected)} items != {len(found)}"
        for i, (a, b) in enumerate(zip(expected, found, strict=True)):
            assert_same(a, b, f"{path}[{i}]")
    elif isinstance(expected, str) and isinstance(found, str) and expected != found:
        assert _same_but_latencies(expected, found), f"{path}: {expected!r} != {found!r}"
    else:
        assert expected == found, f"{path}: {expected!r} != {found!r}"


_MS = re.compile(r"(\d+(?:\.\d+)?)(?= ms)")


def _same_but_latencies(expected: str, found: str) -> bool:
    """Texts equal but for latencies (a number before ` ms`), each within the sketch's
    bound (and the rounding to a whole millisecond the texts show)."""
    left, right = _MS.split(expected), _MS.split(found)
    if len(left) != len(right) or left[::2] != right[::2]:
        return False
    return all(
        abs(float(a) - float(b)) <= 1.0 + LATENCY_TOLERANCE * max(float(a), float(b))
        for a, b in zip(left[1::2], right[1::2], strict=True)
    )
