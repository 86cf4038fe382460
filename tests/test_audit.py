"""The evidence trail: one redacted JSON line per tool call, through a real MCP session."""

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from sitrep.audit import AuditLog, default_audit_path
from sitrep.demo import DemoScenario, build_demo
from sitrep.runtime import Runtime
from sitrep.server import build_server
from sitrep.settings import AuditSettings, load_settings
from tests.gitrepo import NOW
from tests.test_server import StalledLogs

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoScenario:
    return build_demo(tmp_path_factory.mktemp("demo") / "incident", now=NOW)


@pytest.fixture
def trail(tmp_path: Path) -> Path:
    return tmp_path / "state" / "audit.jsonl"


@pytest.fixture
async def session(demo: DemoScenario, trail: Path) -> AsyncIterator[Client]:
    settings = load_settings(demo.config_path).model_copy(update={"audit": AuditSettings(path=trail)})
    runtime = Runtime(settings, clock=lambda: NOW)
    async with Client(build_server(settings, runtime)) as client:
        yield client


def lines(trail: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in trail.read_text().splitlines()]


async def test_every_call_leaves_one_line_saying_what_was_read(session: Client, trail: Path) -> None:
    result = await session.call_tool("rollback_candidates", {"service": "checkout"})
    await session.call_tool("sources_status", {})
    first, second = lines(trail)
    assert set(first) == {"time", "tool", "arguments", "sources", "result_chars", "duration_ms", "outcome"}
    assert first["tool"] == "rollback_candidates" and first["arguments"] == {"service": "checkout"}
    assert first["outcome"] == "ok" and first["duration_ms"] > 0
    assert first["result_chars"] == len(result.content[0].text)  # type: ignore[union-attr]
    assert {"deploy_log", "files", "git:checkout"} <= set(first["sources"])
    assert second["tool"] == "sources_status" and second["time"] >= first["time"]


async def test_failures_and_refusals_are_recorded_too(session: Client, trail: Path) -> None:
    await session.call_tool("recent_deploys", {"since": "yesterday-ish"})
    await session.call_tool("recent_deploys", {"limit": 100_000})
    await session.call_tool("rollback", {"service": "checkout", "to": "v1"})
    bad_time, bad_limit, refused = lines(trail)
    assert bad_time["outcome"] == "error" and "since" in bad_time["error"]
    assert bad_limit["outcome"] == "error" and "limit" in bad_limit["error"]
    assert refused == {**refused, "tool": "rollback", "outcome": "refused", "sources": []}
    assert refused["arguments"] == {"service": "checkout", "to": "v1"}


async def test_the_trail_never_holds_a_secret(session: Client, trail: Path, demo: DemoScenario) -> None:
    # A bare random string cannot be told from an id; as a model would pass it, with its key,
    # or in its own format (ghp_…, AKIA…), it is recognised.
    for secret in demo.planted_secrets:
        await session.call_tool("search_logs", {"query": f"password={secret}", "since": "2d"})
        await session.call_tool("unknown_tool", {"token": f"token={secret}"})
    text = trail.read_text()
    assert "[REDACTED:" in text
    for secret in demo.planted_secrets:
        assert secret not in text


async def test_a_timed_out_call_is_recorded_as_one(trail: Path) -> None:
    settings = load_settings(None).model_copy(
        update={"audit": AuditSettings(path=trail), "deadline_seconds": 0.3}
    )
    runtime = Runtime(settings, cwd=Path("/"))
    runtime.logs = StalledLogs()
    async with Client(build_server(settings, runtime)) as client:
        result = await client.call_tool("search_logs", {"service": "checkout"})
    assert result.is_error
    (entry,) = lines(trail)
    assert entry["outcome"] == "timeout" and "did not finish within 0.3 s" in entry["error"]
    assert entry["duration_ms"] < 2_000


async def test_an_unwritable_trail_never_fails_a_call(demo: DemoScenario, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    settings = load_settings(demo.config_path).model_copy(
        update={"audit": AuditSettings(path=blocker / "audit.jsonl")}
    )
    async with Client(build_server(settings, Runtime(settings, clock=lambda: NOW))) as client:
        result = await client.call_tool("recent_deploys", {"since": "2d"})
    assert not result.is_error


async def test_the_trail_can_be_turned_off(demo: DemoScenario, trail: Path) -> None:
    settings = load_settings(demo.config_path).model_copy(
        update={"audit": AuditSettings(enabled=False, path=trail)}
    )
    async with Client(build_server(settings, Runtime(settings, clock=lambda: NOW))) as client:
        await client.call_tool("recent_deploys", {})
    assert not trail.exists()


def test_the_default_place_is_the_state_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert default_audit_path() == tmp_path / "sitrep" / "audit.jsonl"
    monkeypatch.delenv("XDG_STATE_HOME")
    assert default_audit_path() == Path.home() / ".local" / "state" / "sitrep" / "audit.jsonl"


def test_arguments_are_cut_and_redacted(trail: Path) -> None:
    AuditLog(trail).record(
        tool="search_logs",
        arguments={"query": "x" * 1_000, "levels": ["error", "password=hunter2hunter2"], "limit": 5},
        sources={"files"},
        result_chars=10,
        seconds=0.01,
        outcome="ok",
    )
    (entry,) = lines(trail)
    assert len(entry["arguments"]["query"]) == 300 and entry["arguments"]["limit"] == 5
    assert "hunter2" not in json.dumps(entry)
