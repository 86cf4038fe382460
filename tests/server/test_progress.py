"""Long scans report MCP progress notifications to a client that asked for them (issue 13)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcp import Client

from sitrep import deadline
from sitrep.server.mcp import build_server
from sitrep.settings import FilesSource, Settings
from sitrep.tools.context import build_context

pytestmark = pytest.mark.anyio
LINES = 40_000
"""Ten times the lines between two looks at the deadline (sources/lines.py)."""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    log = tmp_path / "checkout.jsonl"
    with log.open("w") as out:
        for n in range(LINES):
            line = {"@timestamp": "2026-11-23T11:00:00Z", "log.level": "error", "message": f"timeout {n}"}
            out.write(json.dumps(line) + "\n")
    return Settings(config_path=tmp_path / "sitrep.toml", files=FilesSource(paths=[str(log)]))


async def test_a_long_scan_reports_progress(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    # Every look at the deadline reports: the test must not depend on how fast the machine is.
    monkeypatch.setattr(deadline, "PROGRESS_EVERY", 0.0)
    reports: list[tuple[float, float | None, str | None]] = []

    async def progress(done: float, total: float | None, message: str | None) -> None:
        reports.append((done, total, message))

    async with Client(build_server(settings, build_context(settings))) as client:
        result = await client.call_tool(
            "search_logs", {"since": "2026-11-23T10:00:00Z", "until": "2026-11-23T12:00:00Z"},
            progress_callback=progress,
        )  # fmt: skip
        assert not result.is_error and result.structured_content["total"] == LINES  # type: ignore[index]
        assert len(reports) >= LINES // 4096 - 1, reports
        spent = [done for done, _, _ in reports]
        assert spent == sorted(spent)
        assert all(total == settings.deadline_seconds for _, total, _ in reports)
        assert all(message and message.startswith("search_logs: reading") for _, _, message in reports)

        reports.clear()  # no token, no notifications
        await client.call_tool(
            "search_logs", {"since": "2026-11-23T10:00:00Z", "until": "2026-11-23T12:00:00Z"}
        )
        assert reports == []
