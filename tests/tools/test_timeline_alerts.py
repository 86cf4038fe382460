"""Alerts in incident_timeline: firing and resolving beside deploys, what fires now winning
over the same alert in the history, and a broken alert backend costing only its part."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from mcp import Client

from sitrep.domain import Series
from sitrep.errors import SourceError
from sitrep.server.mcp import build_server
from sitrep.settings import Settings
from sitrep.sources.configured import Sources
from sitrep.sources.protocols import AlertPage
from sitrep.tools.context import ToolContext
from tests.gitrepo import NOW
from tests.sources.fake_metrics import FakeAlerts, FakeMetrics, alert
from tests.tools.calls import call

pytestmark = pytest.mark.anyio

END = NOW.timestamp()


async def timeline(sources: Sources, **arguments: object) -> dict[str, object]:
    context = ToolContext(Settings(), sources, lambda: NOW)
    async with Client(build_server(Settings(), context)) as client:
        return await call(client, "incident_timeline", **arguments)


def kinds(result: dict[str, object]) -> list[tuple[str, str]]:
    return [(e["kind"], e["summary"]) for e in result["events"]]  # type: ignore[index, union-attr]


async def test_alerts_fire_and_resolve_in_order() -> None:
    past = [
        alert("CheckoutErrors", "checkout", END - 3000, end=END - 1200, summary="5xx above 5%"),
        alert("PaymentsLatency", "payments", END - 2400, end=END - 600, severity="warning"),
        alert("CheckoutErrors", "checkout", END - 4 * 3600, end=END - 3.5 * 3600),  # before since
    ]
    result = await timeline(Sources(alerts=FakeAlerts(past=past)), since="1h")
    assert kinds(result) == [
        ("alert_firing", "alert CheckoutErrors (critical) firing for checkout [fake]"),
        ("alert_firing", "alert PaymentsLatency (warning) firing for payments [fake]"),
        ("alert_resolved", "alert CheckoutErrors (critical) resolved for checkout [fake]"),
        ("alert_resolved", "alert PaymentsLatency (warning) resolved for payments [fake]"),
    ]
    assert result["events"][0]["text"] == "5xx above 5%"  # type: ignore[index]
    named = FakeMetrics(series=[Series({"service": "payments"}, [])])  # where the service is known
    only = await timeline(
        Sources(alerts=FakeAlerts(past=past), metrics=named), since="1h", service="payments"
    )
    assert {e["service"] for e in only["events"]} == {"payments"}  # type: ignore[union-attr]


async def test_what_fires_now_is_shown_once() -> None:
    now = alert("CheckoutErrors", "checkout", END - 900, summary="still failing")
    same_in_history = alert("CheckoutErrors", "checkout", END - 960)
    result = await timeline(Sources(alerts=FakeAlerts(firing=[now], past=[same_in_history])), since="1h")
    assert kinds(result) == [("alert_firing", "alert CheckoutErrors (critical) firing for checkout [fake]")]
    assert result["events"][0]["text"] == "still failing"  # type: ignore[index]


@dataclass
class HistoryDown(FakeAlerts):
    def history(self, start: float, end: float) -> AlertPage:
        raise SourceError("fake-alerts", "connection refused")


async def test_a_broken_history_keeps_what_fires_now() -> None:
    source = HistoryDown(firing=[alert("CheckoutErrors", "checkout", END - 600)])
    result = await timeline(Sources(alerts=source), since="1h")
    assert [k for k, _ in kinds(result)] == ["alert_firing"]
    assert any("alert history not read" in n for n in result["notes"])  # type: ignore[union-attr]
