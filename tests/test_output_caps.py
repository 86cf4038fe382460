"""Bounded, honest outputs on a large data set: the 94,703 Nezha lines of 2023-01-30, a deploy
log with a deploy every few minutes for every service, and a repository whose deploys touch
hundreds of files with long messages. Every tool, asked for as much as it allows, stays within
the configured budget (and never past the hard cap), and says when it left something out."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from sitrep.server.mcp import build_server
from sitrep.settings import DeployLogSource, FilesSource, GitSource, OutputSettings, Settings
from sitrep.tools.context import build_context
from tests.gitrepo import Repo

pytestmark = pytest.mark.anyio
FAULTS = Path(__file__).parent / "fixtures" / "nezha" / "trainticket-2023-01-30-faults.jsonl.gz"
NOW = datetime(2023, 1, 30, 14, 15, tzinfo=UTC)
SERVICES = ("ts-travel-service", "ts-order-service", "ts-route-service", "ts-station-service")
WIDE = "3h"


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[str]]:
    root = tmp_path_factory.mktemp("caps")
    repo = Repo(root / "travel")
    shas = []
    for number in range(24):
        files: dict[str, str | None] = {f"src/module_{number}_{i}.py": f"x = {i}\n" * 3 for i in range(40)}
        files[f"migrations/{number:04}_change.sql"] = "ALTER TABLE t ADD COLUMN c int;\n"
        files[f"config/settings_{number}.yaml"] = "timeout: 5\n"
        message = f"release {number}: " + "a very long explanation of the change " * 40
        shas.append(repo.commit(message, files, when=NOW - timedelta(minutes=150 - 6 * number)))
    deploys = root / "deploys.jsonl"
    with deploys.open("w") as out:
        for number in range(24):
            for service in SERVICES:
                moment = NOW - timedelta(minutes=145 - 6 * number)
                entry = {"timestamp": moment.isoformat(), "service": service, "version": f"v{number}.0"}
                if service == SERVICES[0]:
                    entry["sha"] = shas[number]
                out.write(json.dumps(entry) + "\n")
    return root / "travel", deploys, shas


async def session(sources: tuple[Path, Path, list[str]], max_chars: int) -> AsyncIterator[Client]:
    repo, deploys, _ = sources
    settings = Settings(
        config_path=Path("/caps.toml"),
        git=[GitSource(service=SERVICES[0], repo=str(repo), branch="main")],
        deploy_log=DeployLogSource(path=deploys),
        files=FilesSource(paths=[str(FAULTS)]),
        output=OutputSettings(max_chars=max_chars),
        deadline_seconds=60,
    )
    async with Client(build_server(settings, build_context(settings, clock=lambda: NOW))) as client:
        yield client


def calls(shas: list[str]) -> dict[str, dict[str, Any]]:
    return {
        "recent_deploys": {"since": "1d", "limit": 200},
        "search_logs": {"since": WIDE, "limit": 500},
        "error_patterns": {"since": WIDE, "levels": ["all"], "top": 100},
        "deploy_health": {"service": SERVICES[0], "limit": 20},
        "rollback_candidates": {"service": SERVICES[0], "top": 20},
        "incident_timeline": {"since": WIDE},
        "deploy_diff": {"sha": shas[-1], "base": shas[0], "service": SERVICES[0]},
        "sources_status": {},
    }


@pytest.mark.timeout(600)
@pytest.mark.parametrize("max_chars", [1_000, 8_000, 20_000])
async def test_every_tool_keeps_to_the_budget_and_says_what_it_left_out(
    sources: tuple[Path, Path, list[str]], max_chars: int
) -> None:
    async for client in session(sources, max_chars):
        for tool, arguments in calls(sources[2]).items():
            result = await client.call_tool(tool, arguments)
            text = result.content[0].text  # type: ignore[union-attr]
            assert not result.is_error, f"{tool}: {text[:300]}"
            assert len(text) <= max_chars, f"{tool}: {len(text)} characters with max_chars={max_chars}"
            data = result.structured_content or {}
            if tool != "sources_status" and max_chars == 1_000:
                # This much data never fits in 1,000 characters: the cut must be said.
                cut = data.get("truncated") or data.get("other_count") or data.get("omitted")
                assert cut, f"{tool} left things out without saying so: {text[:300]}"


def test_the_budget_cannot_be_set_past_the_hard_cap() -> None:
    with pytest.raises(ValueError, match="less than or equal to 20000"):
        OutputSettings(max_chars=50_000)
