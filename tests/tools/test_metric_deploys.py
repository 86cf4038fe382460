"""Deploys marked by a build-info label that changes, merged into the deploy history, and
deploy verdicts judged on metrics alone (in-memory MetricsSource; the real Prometheus:
tests/integration/test_health_prometheus.py)."""

from __future__ import annotations

import random

import pytest
from mcp import Client

from sitrep.domain import MetricSignal, Series
from sitrep.server.mcp import build_server
from sitrep.settings import Settings
from sitrep.sources.build_info import build_info_deploys
from sitrep.sources.configured import Sources
from sitrep.tools.context import ToolContext
from tests.gitrepo import NOW
from tests.sources.fake_metrics import FakeMetrics
from tests.tools.calls import call

pytestmark = pytest.mark.anyio

END = NOW.timestamp()
HOUR = 3600.0
RELEASES = (("v0", "0000000f", 14), ("v1", "aaaaaaa1", 10), ("v2", "bbbbbbb2", 6), ("v3", "ccccccc3", 2))
"""(version, revision, hours before END)."""


def build_info() -> list[Series]:
    out = []
    starts = [END - hours * HOUR for _, _, hours in RELEASES] + [END]
    for (version, revision, _), start, end in zip(RELEASES, starts, starts[1:], strict=False):
        labels = {"service": "checkout", "version": version, "revision": revision}
        out.append(Series(labels, [(t, 1.0) for t in range(int(start), int(end), 60)]))
    return out


def errors() -> Series:
    rng = random.Random(3)
    bad_from = END - 2 * HOUR
    samples = [
        (t, rng.gauss(9.0 if t >= bad_from else 1.0, 0.3)) for t in range(int(END - 14 * HOUR), int(END), 60)
    ]
    return Series({"service": "checkout"}, samples)


def metrics() -> FakeMetrics:
    signal = MetricSignal("errors", 'sum(rate(errors{service="{service}"}[{range}]))', "up", "configured")
    return FakeMetrics(
        series=[errors()],
        known=[signal],
        answer=lambda promql: build_info() if "build_info" in promql else [errors()],
    )


async def session_call(sources: Sources, tool: str, **arguments: object) -> dict[str, object]:
    context = ToolContext(Settings(), sources, lambda: NOW)
    async with Client(build_server(Settings(), context)) as client:
        return await call(client, tool, **arguments)


def test_a_new_version_label_is_a_deploy_and_the_first_ones_are_not() -> None:
    """v0 runs when the range begins in this test; v0 is the service's first version too."""
    start = END - 16 * HOUR
    running = Series({"service": "checkout", "version": "v0"}, [(start, 1.0), (start + 60, 1.0)])
    found = build_info_deploys([running, *build_info()], "service", start, 60.0)
    assert [(d.version, d.sha, d.timestamp, d.source) for d in found] == [
        (version, revision, END - hours * HOUR, "metrics") for version, revision, hours in RELEASES[1:]
    ]


def test_a_series_without_service_or_version_marks_nothing() -> None:
    nameless = Series({"version": "v9"}, [(END - HOUR, 1.0)])
    unversioned = Series({"service": "checkout"}, [(END - HOUR, 1.0)])
    assert build_info_deploys([nameless, unversioned], "service", END - 12 * HOUR, 60.0) == []


async def test_recent_deploys_lists_the_metric_markers() -> None:
    result = await session_call(Sources(metrics=metrics()), "recent_deploys", service="checkout", since="24h")
    deploys = result["deploys"]
    assert [d["version"] for d in deploys] == ["v3", "v2", "v1"]  # type: ignore[index]
    assert {d["source"] for d in deploys} == {"metrics"}  # type: ignore[union-attr]


async def test_deploy_verdicts_on_metrics_alone_cite_them() -> None:
    result = await session_call(Sources(metrics=metrics()), "deploy_health", service="checkout")
    windows = {w["version"]: w for w in result["windows"]}  # type: ignore[union-attr]
    assert windows["v3"]["verdict"] == "degraded" and windows["v3"]["current"]
    assert windows["v3"]["judged_on"] == ["metrics"]
    cited = windows["v3"]["evidence"][0]
    assert cited["signal"] == "errors" and cited["source"] == "metrics" and cited["direction"] == "up"
    assert cited["p_value"] < 0.001 and cited["interval"][0] > 0 and 7 < cited["shift"] < 9
    assert windows["v2"]["verdict"] == windows["v1"]["verdict"] == "healthy"
    ranked = await session_call(Sources(metrics=metrics()), "rollback_candidates", service="checkout")
    top = ranked["candidates"][0]  # type: ignore[index]
    assert top["version"] == "v2" and top["verdict"] == "healthy"
    assert any("healthy on metrics" in reason for reason in top["reasons"])
