"""Calling tools through an MCP client session, as a model would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mcp import Client

from sitrep.demo import DemoScenario


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    """The structured result of a call that must succeed; its text must be the same JSON."""
    result = await client.call_tool(tool, arguments)
    text = result.content[0].text  # type: ignore[union-attr]
    assert not result.is_error, text
    assert json.loads(text) == result.structured_content
    assert len(text) <= 20_000
    return result.structured_content  # type: ignore[return-value]


async def fails(client: Client, tool: str, **arguments: Any) -> str:
    """The message of a call that must fail as a tool error (never a crash)."""
    result = await client.call_tool(tool, arguments)
    assert result.is_error
    return result.content[0].text  # type: ignore[union-attr]


def log_lines(demo: DemoScenario, service: str) -> list[dict[str, Any]]:
    lines = []
    for raw in Path(demo.directory / "logs" / f"{service}.jsonl").read_text().splitlines():
        try:
            lines.append(json.loads(raw))
        except ValueError:
            continue
    return lines
