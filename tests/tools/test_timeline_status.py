import pytest
from mcp import Client

from sitrep.demo import DemoScenario
from tests.tools.calls import call

pytestmark = pytest.mark.anyio


async def test_timeline_puts_the_deploy_before_its_errors(client: Client, demo: DemoScenario) -> None:
    result = await call(client, "incident_timeline", service="checkout", since="2h")
    events = result["events"]
    assert [e["timestamp"] for e in events] == sorted(e["timestamp"] for e in events)
    deploy = next(e for e in events if e["kind"] == "deploy" and e["ref"] == demo.bad_sha)
    onsets = [e for e in events if e["kind"] == "error_onset" and "discount_code" in (e["text"] or "")]
    spikes = [e for e in events if e["kind"] == "error_spike" and e["timestamp"] >= deploy["timestamp"]]
    assert onsets and all(e["timestamp"] >= deploy["timestamp"] for e in onsets)
    assert spikes
    assert all("discount_code" not in e["summary"] for e in events), "untrusted text stays in `text`"


async def test_sources_status_reports_each_source(client: Client) -> None:
    result = await call(client, "sources_status")
    assert [(s["name"], s["ok"]) for s in result["sources"]] == [
        ("git:checkout", True),
        ("deploy_log", True),
        ("files", True),
    ]
    assert result["services"] == ["checkout", "payments"]
