"""The evidence trail: one redacted JSON line per tool call, through a real MCP session."""

import json
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from sitrep.demo import DemoScenario, build_demo
from sitrep.server.audit import AuditLog, default_audit_path
from sitrep.server.mcp import build_server
from sitrep.settings import AuditSettings, load_settings
from sitrep.sources.configured import Sources
from sitrep.tools.context import ToolContext, build_context
from tests.gitrepo import NOW
from tests.server.test_mcp import StalledLogs

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
    runtime = build_context(settings, clock=lambda: NOW)
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
    runtime = ToolContext(settings, Sources(logs=StalledLogs()))
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
    async with Client(build_server(settings, build_context(settings, clock=lambda: NOW))) as client:
        result = await client.call_tool("recent_deploys", {"since": "2d"})
    assert not result.is_error


async def test_the_trail_can_be_turned_off(demo: DemoScenario, trail: Path) -> None:
    settings = load_settings(demo.config_path).model_copy(
        update={"audit": AuditSettings(enabled=False, path=trail)}
    )
    async with Client(build_server(settings, build_context(settings, clock=lambda: NOW))) as client:
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


# -- the edges (issue 9) ------------------------------------------------------------------
def record(log: AuditLog, query: str = "x") -> None:
    log.record(
        tool="search_logs",
        arguments={"query": query},
        sources={"files"},
        result_chars=1,
        seconds=0.01,
        outcome="ok",
    )


def test_a_new_trail_is_private(tmp_path: Path) -> None:
    trail = tmp_path / "state" / "sitrep" / "audit.jsonl"
    old = os.umask(0o022)
    try:
        record(AuditLog(trail))
    finally:
        os.umask(old)
    assert stat.S_IMODE(trail.stat().st_mode) == 0o600
    assert stat.S_IMODE(trail.parent.stat().st_mode) == 0o700


def test_a_symlinked_trail_is_refused(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("keep me\n")
    trail = tmp_path / "audit.jsonl"
    trail.symlink_to(elsewhere)
    log = AuditLog(trail)
    record(log)
    record(log)
    assert elsewhere.read_text() == "keep me\n"
    warnings = [r.getMessage() for r in caplog.records if "symbolic link" in r.getMessage()]
    assert len(warnings) == 1, caplog.records


def test_a_dangling_symlink_is_not_followed_to_create_a_file(tmp_path: Path) -> None:
    trail = tmp_path / "audit.jsonl"
    trail.symlink_to(tmp_path / "created-through-the-link")
    record(AuditLog(trail))
    assert not (tmp_path / "created-through-the-link").exists()


def test_a_fifo_at_the_trail_neither_hangs_nor_is_written(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    trail = tmp_path / "audit.jsonl"
    os.mkfifo(trail)
    record(AuditLog(trail))  # a hang here would trip the per-test timeout
    assert stat.S_ISFIFO(trail.stat().st_mode)


@pytest.mark.parametrize("mode", [0o666, 0o620, 0o602, 0o644])
def test_a_trail_others_may_write_or_read_is_made_private(
    tmp_path: Path, mode: int, caplog: pytest.LogCaptureFixture
) -> None:
    trail = tmp_path / "audit.jsonl"
    trail.write_text("")
    trail.chmod(mode)
    record(AuditLog(trail))
    assert stat.S_IMODE(trail.stat().st_mode) == 0o600 and len(lines(trail)) == 1
    assert any("made it 0600" in r.getMessage() for r in caplog.records)


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_a_trail_another_user_owns_is_refused(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    trail = tmp_path / "audit.jsonl"
    trail.write_text("")
    os.chown(trail, 65534, 65534)
    record(AuditLog(trail))
    assert trail.read_text() == "" and any("owned by another user" in r.getMessage() for r in caplog.records)


def test_the_trail_rotates_at_its_cap_keeping_a_bounded_number(tmp_path: Path) -> None:
    trail = tmp_path / "audit.jsonl"
    log = AuditLog(trail, max_bytes=2_000, keep=3)
    for n in range(200):
        record(log, f"call {n}")
    kept = sorted(tmp_path.iterdir())
    assert [p.name for p in kept] == ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2", "audit.jsonl.3"]
    assert all(p.stat().st_size <= 2_000 for p in kept)
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in kept)
    newest = [
        json.loads(line)["arguments"]["query"] for p in reversed(kept) for line in p.read_text().splitlines()
    ]
    assert newest[-1] == "call 199" and newest == [f"call {n}" for n in range(200 - len(newest), 200)]


def test_two_writers_sharing_a_trail_rotate_it_once(tmp_path: Path) -> None:
    trail = tmp_path / "audit.jsonl"
    first, second = AuditLog(trail, max_bytes=3_000, keep=50), AuditLog(trail, max_bytes=3_000, keep=50)
    for n in range(100):
        record(first if n % 2 else second, f"call {n}")
    queries = [
        json.loads(line)["arguments"]["query"]
        for p in tmp_path.iterdir()
        for line in p.read_text().splitlines()
    ]
    assert sorted(queries) == sorted(f"call {n}" for n in range(100))
