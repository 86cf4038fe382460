import pytest
from mcp import Client

from sitrep.demo import DemoScenario
from tests.tools.calls import call, fails

pytestmark = pytest.mark.anyio


async def test_deploy_health_judges_every_window(client: Client, demo: DemoScenario) -> None:
    result = await call(client, "deploy_health", service="checkout", limit=20)
    verdicts = {w["sha"]: w["verdict"] for w in result["windows"]}
    health = {d.sha: d.health for d in demo.deploys if d.service == "checkout"}
    assert verdicts[demo.bad_sha] == "degraded" and result["windows"][0]["current"]
    assert all(verdicts[sha] == "degraded" for sha in demo.degraded_shas)
    assert all(verdicts[sha] == "healthy" for sha, h in health.items() if h == "healthy")
    current = result["windows"][0]
    assert current["error_rate"] > 0.1 and current["p95_ms"] > 900 and current["basis"] == "requests"
    assert 0.001 < result["typical"]["error_rate"] < 0.01 and result["typical"]["p95_ms"] < 250


async def test_rollback_offers_the_most_recent_healthy_deploy_with_its_risks(
    client: Client, demo: DemoScenario
) -> None:
    result = await call(client, "rollback_candidates", service="checkout")
    assert result["current"]["sha"] == demo.bad_sha
    top = result["candidates"][0]
    assert top["sha"] == demo.expected_top_sha and top["rank"] == 1 and top["verdict"] == "healthy"
    assert top["sha"] != demo.degraded_shas[-1], "not merely the previous deploy"
    assert any(r["kind"] == "migration" and r.get("path") == demo.migration_path for r in top["risks"])
    assert top["command"]["executed"] is False and demo.expected_top_sha in top["command"]["command"]
    assert "most recent healthy deploy" in top["reasons"][0]
    assert all(c["sha"] != demo.bad_sha for c in result["candidates"])
    degraded_ranks = [c["rank"] for c in result["candidates"] if c["verdict"] == "degraded"]
    healthy_ranks = [c["rank"] for c in result["candidates"] if c["verdict"] == "healthy"]
    assert max(healthy_ranks) < min(degraded_ranks, default=99)


async def test_a_service_without_a_repository_says_risks_are_unchecked(client: Client) -> None:
    result = await call(client, "rollback_candidates", service="payments")
    assert result["candidates"][0]["risks"][0]["kind"] == "unchecked"
    assert result["candidates"][0]["command"]["command"] is None
    assert "looks healthy" in " ".join(result["notes"])


async def test_unknown_service_lists_the_known_ones(client: Client) -> None:
    assert "known services: checkout, payments" in await fails(client, "deploy_health", service="chekout")
    assert "top" in await fails(client, "rollback_candidates", service="checkout", top=0)
