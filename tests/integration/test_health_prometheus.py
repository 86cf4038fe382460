"""Deploy verdicts, the rollback ranking and the timeline against a real Prometheus and
Alertmanager (scripts/prometheus-dev): the demo's metrics loaded beside the Nezha ones
(sitrep/demo/metrics.py, the same requests its logs record), deploys marked by their
build-info labels, and alerts the test pushes into Alertmanager itself."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from sitrep.cli.main import call_tool
from sitrep.demo import DemoScenario, build_demo
from sitrep.settings import (
    AlertmanagerSettings,
    DeployLogSource,
    PrometheusSettings,
    Settings,
    load_settings,
)
from sitrep.tools.context import ToolContext, build_context
from sitrep.tools.deploys import recent_deploys
from sitrep.tools.health import deploy_health, rollback_candidates
from sitrep.tools.timeline import incident_timeline
from tests.integration.prometheus_data import ALERT_FROM, DEMO_NOW, PrometheusDev

NEZHA_NOW = datetime(2023, 1, 30, 14, 30, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo(prometheus_dev: PrometheusDev, tmp_path_factory: pytest.TempPathFactory) -> DemoScenario:
    """The demo at DEMO_NOW, whose metrics conftest loaded with the other series."""
    return build_demo(tmp_path_factory.mktemp("demo-metrics") / "incident", now=DEMO_NOW)


CONTEXTS: list[ToolContext] = []


@pytest.fixture(autouse=True)
def close_clients() -> Iterator[None]:
    yield
    while CONTEXTS:
        sources = CONTEXTS.pop().sources
        for source in (sources.metrics, sources.alerts):
            client = getattr(source, "client", None)
            if client is not None:
                client.close()


def demo_context(demo: DemoScenario, servers: PrometheusDev, *, logs: bool = True) -> ToolContext:
    settings = load_settings(demo.config_path)
    update: dict[str, object] = {
        "prometheus": PrometheusSettings(url=servers.prometheus_url, timeout_seconds=20),
        "deadline_seconds": 60.0,
    }
    if not logs:
        update["files"] = None
    ctx = build_context(settings.model_copy(update=update), clock=lambda: DEMO_NOW)
    CONTEXTS.append(ctx)
    return ctx


def test_demo_verdicts_rest_on_metrics_and_logs_and_cite_both(
    demo: DemoScenario, prometheus_dev: PrometheusDev
) -> None:
    result = call_tool(deploy_health, demo_context(demo, prometheus_dev), {"service": "checkout", "limit": 8})
    windows = {w.sha: w for w in result.windows}  # type: ignore[attr-defined]
    bad = windows[demo.bad_sha]
    assert bad.verdict == "degraded" and bad.judged_on == ["logs", "metrics"]
    assert bad.evidence[0].source == "metrics" and bad.evidence[0].direction == "up"
    assert bad.evidence[0].signal in {"errors", "error_ratio", "latency_p95"}
    assert bad.evidence[0].p_value < 0.001 and bad.evidence[0].interval[0] > 0
    assert all(windows[sha].verdict == "degraded" for sha in demo.degraded_shas)
    assert windows[demo.expected_top_sha].verdict == "healthy"


def test_demo_ranking_on_metrics_alone(demo: DemoScenario, prometheus_dev: PrometheusDev) -> None:
    ctx = demo_context(demo, prometheus_dev, logs=False)
    health = call_tool(deploy_health, ctx, {"service": "checkout", "limit": 8})
    windows = {w.sha: w for w in health.windows}  # type: ignore[attr-defined]
    assert windows[demo.bad_sha].verdict == "degraded"
    assert windows[demo.bad_sha].judged_on == ["metrics"]
    ranked = call_tool(rollback_candidates, ctx, {"service": "checkout"})
    top = ranked.candidates[0]  # type: ignore[attr-defined]
    assert top.sha == demo.expected_top_sha and top.verdict == "healthy"
    assert any("healthy on metrics" in reason for reason in top.reasons)


def test_build_info_marks_the_deploys_of_a_service_without_a_deploy_log(
    demo: DemoScenario, prometheus_dev: PrometheusDev
) -> None:
    settings = Settings(
        prometheus=PrometheusSettings(url=prometheus_dev.prometheus_url, timeout_seconds=20),
        deadline_seconds=60.0,
    )
    ctx = build_context(settings, clock=lambda: DEMO_NOW)
    CONTEXTS.append(ctx)
    found = call_tool(recent_deploys, ctx, {"service": "checkout", "since": "24h"})
    marked = [(d.version, d.sha, d.source) for d in found.deploys]  # type: ignore[attr-defined]
    expected = [(d.version, d.sha, "metrics") for d in reversed(demo.deploys) if d.service == "checkout"]
    assert marked == expected


def test_alerts_pushed_and_alert_history_in_the_timeline(prometheus_dev: PrometheusDev) -> None:
    started = "2023-01-30T14:00:00Z"
    pushed = [
        {
            "labels": {"alertname": "TravelSlow", "service": "checkout", "severity": "warning"},
            "annotations": {"summary": "p95 above 2 s"},
            "startsAt": started,
        }
    ]
    # The test's own write: sitrep's client allows only reads.
    httpx.post(f"{prometheus_dev.alertmanager_url}/api/v2/alerts", json=pushed, timeout=10).raise_for_status()
    settings = Settings(
        prometheus=PrometheusSettings(url=prometheus_dev.prometheus_url, timeout_seconds=20),
        alertmanager=AlertmanagerSettings(url=prometheus_dev.alertmanager_url, timeout_seconds=20),
        deadline_seconds=60.0,
    )
    ctx = build_context(settings, clock=lambda: NEZHA_NOW)
    CONTEXTS.append(ctx)
    for _ in range(100):
        result = call_tool(incident_timeline, ctx, {"service": "checkout", "since": "3h"})
        kinds = [(e.kind, e.summary) for e in result.events]  # type: ignore[attr-defined]
        if any("TravelSlow" in summary for _, summary in kinds):
            break
        time.sleep(0.2)
    firing = [e for e in result.events if e.kind == "alert_firing"]  # type: ignore[attr-defined]
    assert [e.summary.split()[1] for e in firing] == ["CheckoutErrors", "TravelSlow"]
    history, pushed_now = firing
    assert abs(datetime.fromisoformat(history.timestamp).timestamp() - ALERT_FROM) <= 15
    assert pushed_now.timestamp.startswith("2023-01-30T14:00:00") and pushed_now.text == "p95 above 2 s"
    assert "[alertmanager]" in pushed_now.summary and "[prometheus]" in history.summary
    resolved = [e for e in result.events if e.kind == "alert_resolved"]  # type: ignore[attr-defined]
    assert [e.summary.split()[1] for e in resolved] == ["CheckoutErrors"]


def test_nezha_deploy_windows_are_judged_on_its_metrics(
    prometheus_dev: PrometheusDev, tmp_path: Path
) -> None:
    """Deploys of ts-food-service placed around its 12:44:36 CPU-contention fault: every window
    is judged on the backfilled Nezha metrics alone (the example configuration's signals) and
    cites them. The pod-level signals barely move at this granularity: the memory creep is
    significant (p < 1e-6) but not material, so no window is called degraded — the verdict
    rests on what the metrics show, and says so."""
    deploys = tmp_path / "deploys.jsonl"
    times = ("2023-01-30T12:00:00Z", "2023-01-30T12:15:00Z", "2023-01-30T12:44:36Z")
    deploys.write_text(
        "".join(
            json.dumps({"timestamp": t, "service": "ts-food-service", "version": f"v{i}"}) + "\n"
            for i, t in enumerate(times)
        )
    )
    settings = load_settings(ROOT / "examples" / "nezha" / "sitrep.toml").model_copy(
        update={
            "files": None,
            "deploy_log": DeployLogSource(path=deploys),
            "prometheus": load_settings(ROOT / "examples" / "nezha" / "sitrep.toml").prometheus.model_copy(  # type: ignore[union-attr]
                update={"url": prometheus_dev.prometheus_url}
            ),
            "alertmanager": None,
            "deadline_seconds": 60.0,
        }
    )
    ctx = build_context(settings, clock=lambda: datetime(2023, 1, 30, 13, 4, tzinfo=UTC))
    CONTEXTS.append(ctx)
    result = call_tool(deploy_health, ctx, {"service": "ts-food-service"})
    assert [w.version for w in result.windows] == ["v2", "v1", "v0"]  # type: ignore[attr-defined]
    for window in result.windows:  # type: ignore[attr-defined]
        assert window.judged_on == ["metrics"] and window.verdict == "healthy"
        assert window.evidence and all(e.source == "metrics" for e in window.evidence)
    current = result.windows[0]  # type: ignore[attr-defined]
    assert current.evidence[0].signal == "memory" and current.evidence[0].p_value < 1e-6
    assert "none of 5 signal(s) worse" in current.why
    ranked = call_tool(rollback_candidates, ctx, {"service": "ts-food-service"})
    assert [c.version for c in ranked.candidates] == ["v1", "v0"]  # type: ignore[attr-defined]
    assert all(any("healthy on metrics" in r for r in c.reasons) for c in ranked.candidates)  # type: ignore[attr-defined]
