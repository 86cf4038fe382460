"""The whole product through a real MCP client over stdio, on the kind of incident the demo
builds: a series of deploys, the last one bad, an earlier one degraded, a migration in the bad one."""

import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from sitrep.demo import DemoScenario, build_demo
from sitrep.tools import READ_TOOLS

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).parents[1]


def sitrep(*args: str) -> StdioServerParameters:
    """`sitrep ARGS` over stdio, this checkout's code (`-m` from the checkout: the installed
    console script could be another worktree's)."""
    return StdioServerParameters(command=sys.executable, args=["-m", "sitrep", *args], cwd=ROOT)


@pytest.fixture(scope="module")
def incident(tmp_path_factory: pytest.TempPathFactory) -> DemoScenario:
    # The server uses the real clock, so the incident is written relative to now.
    return build_demo(tmp_path_factory.mktemp("stdio") / "incident")


@pytest.fixture
async def session(incident: DemoScenario) -> AsyncIterator[Client]:
    async with Client(
        sitrep("serve", "--config", str(incident.config_path)), read_timeout_seconds=60
    ) as client:
        yield client


async def test_the_incident_end_to_end(session: Client, incident: DemoScenario) -> None:
    calls = {
        "sources_status": {},
        "recent_deploys": {"since": "2d"},
        "search_logs": {"service": "checkout", "level": "warn", "limit": 200, "since": "24h"},
        "error_patterns": {"service": "checkout"},
        "deploy_health": {"service": "checkout"},
        "rollback_candidates": {"service": "checkout"},
        "incident_timeline": {"service": "checkout"},
        "deploy_diff": {"sha": incident.bad_sha},
    }
    listed = {t.name for t in (await session.list_tools()).tools}
    assert listed == {t.__name__ for t in READ_TOOLS} and set(calls) <= listed
    outputs: dict[str, dict] = {}  # type: ignore[type-arg]
    texts = []
    for tool, arguments in calls.items():
        result = await session.call_tool(tool, arguments)
        text = result.content[0].text  # type: ignore[union-attr]
        assert not result.is_error, f"{tool}: {text}"
        assert len(text) < 20_000, f"{tool} returned {len(text)} characters"
        outputs[tool] = json.loads(text)
        texts.append(text)
    for query in ("password", "bearer", "ghp_", "postgres://", "token", "AKIA"):
        found = await session.call_tool("search_logs", {"query": query, "since": "2d", "limit": 500})
        texts.append(found.content[0].text)  # type: ignore[union-attr]

    top = outputs["rollback_candidates"]["candidates"][0]
    assert top["sha"] == incident.expected_top_sha and top["sha"] not in incident.degraded_shas
    assert any(r["kind"] == "migration" and r.get("path") == incident.migration_path for r in top["risks"])
    assert any(r["kind"] == "migration" for r in outputs["deploy_diff"]["risks"])
    new = [p["template"] for p in outputs["error_patterns"]["patterns"] if p["new"]]
    assert any("UndefinedColumn" in t for t in new) and any("AttributeError" in t for t in new)

    everything = "\n".join(texts)
    assert "[REDACTED:" in everything, "the planted secrets were found and redacted"
    for secret in incident.planted_secrets:
        assert secret not in everything, f"planted secret leaked: {secret[:6]}…"


async def test_prompts_over_stdio(session: Client) -> None:
    prompt = await session.get_prompt("incident-triage", {"service": "checkout"})
    assert "error_patterns" in prompt.messages[0].content.text  # type: ignore[union-attr]


async def test_an_invalid_configuration_is_told_by_every_tool(tmp_path: Path) -> None:
    """A server that exits shows in the client as "Connection closed" and nothing more: it
    starts anyway, and every tool answers with what to fix."""
    config = tmp_path / "sitrep.toml"
    config.write_text('[deploy_log]\npth = "deploys.jsonl"\n')
    async with Client(sitrep("serve", "--config", str(config)), read_timeout_seconds=60) as client:
        tools = (await client.list_tools()).tools
        assert len(tools) == len(READ_TOOLS)
        for tool in tools:
            result = await client.call_tool(tool.name, {})
            text = result.content[0].text  # type: ignore[union-attr]
            assert result.is_error, f"{tool.name}: {text}"
            assert "configuration is invalid" in text and "`deploy_log.pth` is not a known key" in text, text
            assert str(config) in text
