"""A small configured incident for the issue-9 tests: a log directory, a deploy log, and the
server or runtime over it (with the tests' fixed clock)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from mcp import Client

from sitrep.server.mcp import build_server
from sitrep.settings import load_settings
from sitrep.tools.context import ToolContext, build_context
from tests.gitrepo import NOW


def iso(minutes_ago: float) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def good_line(minutes_ago: float, message: str = "payment declined", level: str = "error") -> str:
    doc = {"@timestamp": iso(minutes_ago), "service": {"name": "checkout"}, "log": {"level": level}}
    return json.dumps({**doc, "message": message})


def good_deploy(hours_ago: float, version: str) -> str:
    when = (NOW - timedelta(hours=hours_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps({"timestamp": when, "service": "checkout", "version": version})


def configure(
    directory: Path, globs: str = '["logs/*.jsonl", "logs/*.log", "logs/*.gz"]', extra: str = ""
) -> Path:
    """A configuration over `directory` (which holds logs/ and deploys.jsonl)."""
    (directory / "logs").mkdir(parents=True, exist_ok=True)
    deploys = directory / "deploys.jsonl"
    if not deploys.exists():
        deploys.write_text(good_deploy(3, "v1") + "\n" + good_deploy(1, "v2") + "\n")
    config = directory / "sitrep.toml"
    config.write_text(f'[deploy_log]\npath = "deploys.jsonl"\n\n[files]\npaths = {globs}\n{extra}')
    return config


def runtime(config: Path, deadline: float = 20.0) -> ToolContext:
    settings = load_settings(config).model_copy(update={"deadline_seconds": deadline})
    return build_context(settings, clock=lambda: NOW)


@asynccontextmanager
async def session(config: Path, deadline: float = 20.0) -> AsyncIterator[Client]:
    rt = runtime(config, deadline)
    async with Client(build_server(rt.settings, rt)) as client:
        yield client


async def answer(client: Client, tool: str, **arguments: Any) -> tuple[bool, str, Any]:
    """(is an error, text, structured content) of a call; never an internal error."""
    result = await client.call_tool(tool, arguments)
    text = result.content[0].text  # type: ignore[union-attr]
    assert "internal error" not in text, text
    return bool(result.is_error), text, result.structured_content
