"""Deploys marked by kube-state-metrics with no configuration, against a real Prometheus
(scripts/prometheus-dev) holding the series of tests/integration/kube_data.py: a new image in
a Deployment's pods, a rollback to an old one, a config-only rollout (generation), merged
with a deploy log and shown in the timeline; sources_status says what marks deploys."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sitrep.cli.main import call_tool
from sitrep.settings import DeployLogSource, PrometheusSettings, Settings
from sitrep.tools.context import ToolContext, build_context
from sitrep.tools.deploys import recent_deploys
from sitrep.tools.status import sources_status
from sitrep.tools.timeline import incident_timeline
from tests.integration.kube_data import (
    CART_NEW,
    CART_OLD,
    CONFIG_CHANGE,
    END,
    ROLLBACK,
    ROLLOUT,
)
from tests.integration.prometheus_data import PrometheusDev

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

NOW = datetime.fromtimestamp(END, UTC)
STEP = 7 * 86400 / 2000
"""The marker query's step over the deploy history's seven days: a marker is at most one step
after the change."""
EXPECTED = [
    ("cart", CART_NEW, "9f8e7d6", ROLLOUT),
    ("payments", "generation 5", None, CONFIG_CHANGE),
    ("cart", CART_OLD, "1d338d5", ROLLBACK),
]
"""Oldest first. Not: cart's generations (the same deploys as its images), the envoy sidecar
(in the old pods too), search's first version, redis-0 (no Deployment)."""


@pytest.fixture(scope="module")
def servers(prometheus_dev: PrometheusDev) -> PrometheusDev:
    """The shared servers: conftest loads kube_data's series with the others, before any test
    reads (a load restarts Prometheus, which tests running in parallel must not see)."""
    return prometheus_dev


CONTEXTS: list[ToolContext] = []


@pytest.fixture(autouse=True)
def close_clients() -> Iterator[None]:
    yield
    while CONTEXTS:
        client = getattr(CONTEXTS.pop().sources.metrics, "client", None)
        if client is not None:
            client.close()


def context(servers: PrometheusDev, deploy_log: Path | None = None) -> ToolContext:
    settings = Settings(
        prometheus=PrometheusSettings(url=servers.prometheus_url, timeout_seconds=20),
        deploy_log=DeployLogSource(path=deploy_log) if deploy_log else None,
        deadline_seconds=60.0,
    )
    ctx = build_context(settings, clock=lambda: NOW)
    CONTEXTS.append(ctx)
    return ctx


def at(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def test_images_rollback_and_generation_mark_deploys_with_no_configuration(servers: PrometheusDev) -> None:
    found = call_tool(recent_deploys, context(servers), {"since": "24h"})
    deploys = list(reversed(found.deploys))  # type: ignore[attr-defined]
    assert [(d.service, d.version, d.sha, d.source) for d in deploys] == [
        (service, version, sha, "metrics") for service, version, sha, _ in EXPECTED
    ]
    for deploy, (*_, changed) in zip(deploys, EXPECTED, strict=True):
        assert changed <= at(deploy.timestamp) <= changed + STEP


def test_one_deployment_by_name(servers: PrometheusDev) -> None:
    found = call_tool(recent_deploys, context(servers), {"service": "cart", "since": "24h"})
    assert [d.sha for d in found.deploys] == ["1d338d5", "9f8e7d6"]  # type: ignore[attr-defined]


def test_the_deploy_log_says_when_for_the_services_it_names(servers: PrometheusDev, tmp_path: Path) -> None:
    log = tmp_path / "deploys.ndjson"
    logged = datetime.fromtimestamp(CONFIG_CHANGE - 30, UTC).isoformat()
    log.write_text(json.dumps({"service": "payments", "version": "v3.2.0+cfg7", "timestamp": logged}) + "\n")
    found = call_tool(recent_deploys, context(servers, log), {"since": "24h"})
    deploys = [(d.service, d.version, d.source) for d in found.deploys]  # type: ignore[attr-defined]
    assert deploys == [
        ("cart", CART_OLD, "metrics"),
        ("payments", "v3.2.0+cfg7", "deploy_log"),
        ("cart", CART_NEW, "metrics"),
    ]


def test_the_timeline_shows_the_marked_deploys(servers: PrometheusDev) -> None:
    result = call_tool(incident_timeline, context(servers), {"since": "6h"})
    deploys = [(e.service, e.ref) for e in result.events if e.kind == "deploy"]  # type: ignore[attr-defined]
    assert deploys == [("cart", "9f8e7d6"), ("payments", None), ("cart", "1d338d5")]


def test_sources_status_names_what_marks_deploys(servers: PrometheusDev) -> None:
    status = call_tool(sources_status, context(servers), {})
    detail = next(s.detail for s in status.sources if s.name == "prometheus")  # type: ignore[attr-defined]
    assert "deploy markers: " in detail
    assert "kube-state-metrics images (kube_pod_container_info)" in detail
    assert "kube-state-metrics generations (kube_deployment_metadata_generation)" in detail
    assert {"cart", "payments", "search"} <= set(status.services)  # type: ignore[attr-defined]
