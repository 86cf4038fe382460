"""incident_timeline on a real Prometheus holding the Nezha TrainTicket metrics of 2023-01-30
(and the synthetic checkout set beside them): the CPU-contention faults are change points of
the faulty service's own CPU, with their ends, found with no threshold; a steady service's
range says plainly that nothing changed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sitrep.cli.main import call_tool
from sitrep.results import IncidentTimeline
from sitrep.settings import PrometheusSettings, Settings, load_settings
from sitrep.tools.context import ToolContext, build_context
from sitrep.tools.timeline import incident_timeline
from tests.integration.prometheus_data import PrometheusDev

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2023, 1, 30, 14, 30, tzinfo=UTC)
OPENED: list[ToolContext] = []


@pytest.fixture(autouse=True)
def close_clients() -> Iterator[None]:
    yield
    while OPENED:
        sources = OPENED.pop().sources
        for source in (sources.metrics, sources.alerts):
            client = getattr(source, "client", None)
            if client is not None:
                client.close()


def nezha(prometheus: PrometheusDev) -> ToolContext:
    """examples/nezha's signals (cpu, memory, latency, success rate, workload), metrics only."""
    example = load_settings(ROOT / "examples" / "nezha" / "sitrep.toml")
    assert example.prometheus is not None
    settings = example.model_copy(
        update={
            "files": None,
            "alertmanager": None,
            "prometheus": example.prometheus.model_copy(update={"url": prometheus.prometheus_url}),
            "deadline_seconds": 120.0,
        }
    )
    OPENED.append(ctx := build_context(settings, clock=lambda: NOW))
    return ctx


def timeline(ctx: ToolContext, **arguments: str) -> IncidentTimeline:
    result = call_tool(incident_timeline, ctx, arguments)
    assert isinstance(result, IncidentTimeline)
    return result


def seconds(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp).timestamp()


@pytest.mark.parametrize(
    ("service", "injected"),
    [("ts-basic-service", "2023-01-30T11:59:21Z"), ("ts-food-service", "2023-01-30T12:44:36Z")],
)
def test_cpu_contention_is_a_change_of_the_faulty_service_and_ends(
    prometheus_dev: PrometheusDev, service: str, injected: str
) -> None:
    """Ten minutes from the injection against the hour before (the default baseline)."""
    ctx = nezha(prometheus_dev)
    until = datetime.fromtimestamp(seconds(injected) + 600, UTC).isoformat()
    result = timeline(ctx, service=service, since=injected, until=until)
    assert result.baseline_since == datetime.fromtimestamp(seconds(injected) - 3600, UTC).isoformat().replace(
        "+00:00", "Z"
    )
    cpu = [e for e in result.events if e.ref == "metrics:cpu"]
    assert [e.kind for e in cpu] == ["metric_change", "recovery"]
    rose, back = cpu
    assert rose.service == service and f"cpu of {service} rose from" in rose.summary and "q " in rose.summary
    # the contention lasted about four minutes from the injection (the CSVs: 12:00-12:03 for
    # ts-basic-service); each sample summarizes the minute after its time
    assert seconds(rose.timestamp) - seconds(injected) < 120
    assert 120 <= seconds(back.timestamp) - seconds(rose.timestamp) <= 420
    # the whole fleet's metrics over the same minutes: the faulty service's CPU is among the changes
    fleet = timeline(ctx, since=injected, until=until)
    assert any(e.ref == "metrics:cpu" and e.service == service for e in fleet.events)
    assert "signal(s) tested" in fleet.summary


def test_a_steady_service_says_no_change_was_found(prometheus_dev: PrometheusDev) -> None:
    """checkout's synthetic OpenTelemetry metrics (detected, not configured) are steady: 95 good
    and 5 failed requests a minute from 12:00 to 13:00, its alert over by 12:40."""
    settings = Settings(prometheus=PrometheusSettings(url=prometheus_dev.prometheus_url))
    OPENED.append(ctx := build_context(settings, clock=lambda: NOW))
    result = timeline(ctx, service="checkout", since="2023-01-30T12:48:00Z", until="2023-01-30T12:58:00Z")
    assert result.events == []
    assert result.summary.startswith(
        "no change found in 2023-01-30T12:48:00Z to 2023-01-30T12:58:00Z: no deploy, alert or new error "
        "pattern, and none of"
    )
    assert "signal(s) changed against the baseline from 2023-01-30T11:48:00Z" in result.summary
