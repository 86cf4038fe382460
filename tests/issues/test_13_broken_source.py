"""Issue 13: a broken source must never look like a healthy system.

A `[files]` glob that matches nothing used to give `error_patterns` a plain `total: 0` and
`sitrep status` exit 0: a model reading that reports a clean bill of health. An answer that
rests on a source that is not ok now says so first, and one with no usable source is an error.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mcp import Client

from sitrep.cli.main import main
from sitrep.demo import DemoScenario, build_demo
from sitrep.server.mcp import build_server
from sitrep.settings import load_settings
from sitrep.tools.context import build_context
from tests.gitrepo import NOW

pytestmark = pytest.mark.anyio
NOT_OK = "files: no file matches"


@pytest.fixture(scope="module")
def mistyped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo incident, its [files] glob mistyped (lgos/ for logs/)."""
    scenario: DemoScenario = build_demo(tmp_path_factory.mktemp("issue13") / "incident", now=NOW)
    config = scenario.config_path.with_name("mistyped.toml")
    config.write_text(scenario.config_path.read_text().replace("logs/*.jsonl", "lgos/*.jsonl"))
    return config


@pytest.fixture
async def session(mistyped: Path) -> AsyncIterator[Client]:
    settings = load_settings(mistyped)
    async with Client(build_server(settings, build_context(settings, clock=lambda: NOW))) as client:
        yield client


@pytest.mark.parametrize("tool", ["search_logs", "error_patterns"])
async def test_an_answer_with_no_usable_source_is_an_error(session: Client, tool: str) -> None:
    result = await session.call_tool(tool, {"service": "checkout"})
    text = result.content[0].text  # type: ignore[union-attr]
    assert result.is_error, f"{tool} answered as if the logs were quiet: {text[:300]}"
    assert NOT_OK in text and "check [files] paths" in text


@pytest.mark.parametrize("tool", ["deploy_health", "rollback_candidates", "incident_timeline"])
async def test_a_partial_answer_names_the_failed_source_first(session: Client, tool: str) -> None:
    result = await session.call_tool(tool, {"service": "checkout"})
    text = result.content[0].text  # type: ignore[union-attr]
    assert not result.is_error, text[:300]
    first = next(iter(json.loads(text)))
    assert first == "sources_not_ok", f"{tool}: the failure is not the first thing said"
    assert any(NOT_OK in item for item in result.structured_content["sources_not_ok"])  # type: ignore[index]


async def test_answers_from_healthy_sources_carry_no_flag(session: Client) -> None:
    result = await session.call_tool("recent_deploys", {"since": "2d"})
    assert not result.is_error and "sources_not_ok" not in result.structured_content  # type: ignore[operator]


def test_the_command_line_says_it_first_and_exits_1(
    mistyped: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "--config", str(mistyped)]) == 1
    assert "NOT OK files" in capsys.readouterr().out
    code = main(["health", "--service", "checkout", "--config", str(mistyped)])
    first = capsys.readouterr().out.splitlines()[0]
    assert code == 1 and first.startswith("SOURCE NOT OK") and NOT_OK in first
    code = main(["patterns", "--service", "checkout", "--config", str(mistyped)])
    captured = capsys.readouterr()
    assert code == 1 and captured.out == "" and NOT_OK in captured.err
