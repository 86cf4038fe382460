"""The server's shape: every tool read-only and described, prompts and resources served,
errors as tool errors, and a snapshot that makes any change to the tool list deliberate."""

import json
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from sitrep.deadline import check
from sitrep.domain import LogQuery
from sitrep.server.mcp import READ_TOOLS, build_server
from sitrep.server.prompts import SKILLS
from sitrep.settings import DeployLogSource, Settings
from sitrep.sources.configured import Sources
from sitrep.sources.deploy_log import DeployLog
from sitrep.sources.protocols import Windows, WindowScan
from sitrep.tools.context import ToolContext, build_context

pytestmark = pytest.mark.anyio
SNAPSHOT = Path(__file__).parents[1] / "snapshots" / "tools.json"


@pytest.fixture
async def bare() -> AsyncIterator[Client]:
    """A server with no sources at all, as on a machine with nothing configured."""
    settings = Settings(config_path=Path("/nonexistent/sitrep.toml"))
    async with Client(build_server(settings, build_context(settings, cwd=Path("/")))) as session:
        yield session


async def test_every_tool_is_read_only_typed_and_described(bare: Client) -> None:
    tools = (await bare.list_tools()).tools
    assert sorted(t.name for t in tools) == sorted(t.__name__ for t in READ_TOOLS)
    for tool in tools:
        assert tool.annotations is not None
        assert (
            tool.annotations.read_only_hint,
            tool.annotations.destructive_hint,
            tool.annotations.idempotent_hint,
        ) == (True, False, True)
        assert tool.output_schema and tool.description and len(tool.description) > 60
        assert tool.title, f"{tool.name} has no title: add one to TITLES in sitrep/server/mcp.py"
        for name, spec in tool.input_schema.get("properties", {}).items():
            assert spec.get("description"), f"{tool.name}.{name} has no description"


MAX_TOOL_LIST_CHARS = 10_000
"""Every connected client pays for the tool list in context on every session (issue 13)."""


async def test_the_tool_list_is_small(bare: Client) -> None:
    listing = (await bare.list_tools()).model_dump(mode="json", by_alias=True, exclude_none=True)
    size = len(json.dumps(listing, separators=(",", ":")))  # as sent on the wire
    if size > MAX_TOOL_LIST_CHARS:
        parts = sorted(
            (
                (len(json.dumps(tool.get(key, ""), separators=(",", ":"))), f"{tool['name']}.{key}")
                for tool in listing["tools"]
                for key in ("description", "inputSchema", "outputSchema")
            ),
            reverse=True,
        )
        largest = ", ".join(f"{name} {chars:,}" for chars, name in parts[:6])
        pytest.fail(
            f"tools/list is {size:,} characters, over {MAX_TOOL_LIST_CHARS:,}. Largest parts: {largest}. "
            "Trim the tool docstrings (one or two decisive sentences: what it returns, when to call it) "
            "and the argument descriptions (sitrep/tools/params.py and each tool's Field(description=...)); "
            "output schemas are sent as outlines (sitrep/server/schemas.py), so a new result field costs "
            "only its name."
        )


async def test_tool_list_matches_the_snapshot(bare: Client) -> None:
    tools = sorted((await bare.list_tools()).tools, key=lambda t: t.name)
    current = [
        {"name": t.name, "title": t.title, "description": t.description, "input": t.input_schema, "output": t.output_schema,
         "annotations": t.annotations.model_dump(exclude_none=True) if t.annotations else None}
        for t in tools
    ]  # fmt: skip
    if os.environ.get("SITREP_UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
    expected = json.loads(SNAPSHOT.read_text())
    assert current == expected, "the tool list changed: review it, then rerun with SITREP_UPDATE_SNAPSHOTS=1"


@pytest.mark.parametrize(
    "name", ["rollback", "restart_service", "delete_index", "execute_command", "write_file"]
)
async def test_write_sounding_tools_are_refused_as_read_only(bare: Client, name: str) -> None:
    result = await bare.call_tool(name, {"service": "checkout"})
    assert result.is_error
    assert (
        f"sitrep has no tool '{name}': it is read-only and a human runs every change"
        in result.content[0].text
    )  # type: ignore[union-attr]


async def test_with_nothing_configured_tools_say_what_to_configure(bare: Client) -> None:
    status = await bare.call_tool("sources_status", {})
    hints = " ".join(status.structured_content["hints"])  # type: ignore[index]
    assert "[[git]]" in hints and "[deploy_log]" in hints and "[files]" in hints
    result = await bare.call_tool("search_logs", {})
    assert result.is_error and "no log source is configured; add [files]" in result.content[0].text  # type: ignore[union-attr]


async def test_prompts_serve_the_runbooks_with_the_incident_context(bare: Client) -> None:
    prompts = {p.name: p for p in (await bare.list_prompts()).prompts}
    assert sorted(prompts) == sorted(SKILLS)
    arguments = {
        "incident-triage": {"service": "checkout", "symptom": "checkout returns 500", "started": "40m ago"},
        "customer-comms": {"facts": "Some checkouts fail since 11:20 UTC", "status": "identified"},
        "postmortem": {"service": "checkout", "summary": "v1.4.0 shipped without its migration"},
        "verify-root-cause": {"claim": "the v1.4.0 migration was not applied", "service": "checkout"},
    }
    for name, args in arguments.items():
        assert prompts[name].description
        text = (await bare.get_prompt(name, args)).messages[0].content.text  # type: ignore[union-attr]
        assert "do not execute any change" in " ".join(text.lower().replace("*", "").split())
        assert "## This incident" in text and all(value in text for value in args.values())
    resources = {str(r.uri) for r in (await bare.list_resources()).resources}
    assert resources == {f"sitrep://skills/{name}" for name in SKILLS}


class StalledLogs:
    """Fault injection: a log backend that never answers in time."""

    name = "files"

    def services(self) -> set[str]:
        return {"checkout"}

    def search(self, query: LogQuery, limit: int) -> Any:
        time.sleep(3)
        raise AssertionError("the deadline should have answered first")

    def scan(
        self, query: LogQuery, *, groups: Windows = (), stats: Windows = (), traces: bool = False
    ) -> WindowScan:
        raise NotImplementedError

    def status(self) -> Any:
        raise NotImplementedError


async def test_a_stalled_backend_gives_an_answer_within_the_deadline() -> None:
    settings = Settings(config_path=Path("/nonexistent"), deadline_seconds=0.5)
    runtime = ToolContext(settings, Sources(logs=StalledLogs()))
    async with Client(build_server(settings, runtime)) as session:
        started = time.monotonic()
        result = await session.call_tool("search_logs", {"service": "checkout"})
        assert time.monotonic() - started < 2.5
    assert result.is_error and "did not finish within 0.5 s; narrow the time range" in result.content[0].text  # type: ignore[union-attr]


class HungStatusLogs(StalledLogs):
    """Fault injection: a log backend whose health check never answers (a dripping cluster)."""

    def status(self) -> Any:
        while True:
            check()  # stops when the call is given up on
            time.sleep(0.05)


async def test_a_hung_source_is_reported_slow_beside_the_others(tmp_path: Path) -> None:
    log = tmp_path / "deploys.jsonl"
    log.write_text('{"service": "checkout", "version": "v1", "timestamp": "2026-11-23T10:00:00Z"}\n')
    settings = Settings(
        config_path=tmp_path / "sitrep.toml", deadline_seconds=1.0, deploy_log=DeployLogSource(path=log)
    )
    runtime = ToolContext(settings, Sources(logs=HungStatusLogs(), deploy_log=DeployLog(settings.deploy_log)))
    async with Client(build_server(settings, runtime)) as session:
        result = await session.call_tool("sources_status", {})
    assert not result.is_error, result.content[0].text  # type: ignore[union-attr]
    found = {s["name"]: s for s in result.structured_content["sources"]}  # type: ignore[index]
    assert found["deploy_log"]["ok"], found
    assert not found["files"]["ok"] and "no answer within" in found["files"]["detail"], found
    assert result.structured_content["services"] == ["checkout"]  # type: ignore[index]


@pytest.mark.parametrize(
    "value",
    [{"ghp_" + "a" * 36: None}, "ghp_" + "b" * 36, "12\u202e", ["sk-ant-api03-" + "c" * 40]],
)
async def test_a_bad_argument_value_is_named_not_quoted(bare: Client, value: object) -> None:
    """The SDK's own message quotes the value as it came; sitrep's names the argument only."""
    result = await bare.call_tool("error_patterns", {"top": value})
    text = result.content[0].text  # type: ignore[union-attr]
    assert result.is_error and text.startswith("top: "), text
    assert "ghp_" not in text and "sk-ant" not in text and "\u202e" not in text and "input_value" not in text


async def test_a_misspelt_argument_is_refused_not_ignored(bare: Client) -> None:
    result = await bare.call_tool("recent_deploys", {"servce": "checkout"})
    assert result.is_error
    assert result.content[0].text == (  # type: ignore[union-attr]
        "recent_deploys has no argument 'servce'; its arguments are service, since, until, limit"
    )


class BrokenLogs(StalledLogs):
    def search(self, query: LogQuery, limit: int) -> Any:
        raise RuntimeError("a bug")


async def test_a_bug_is_said_to_be_one(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(config_path=Path("/nonexistent"))
    runtime = ToolContext(settings, Sources(logs=BrokenLogs()))
    async with Client(build_server(settings, runtime)) as session:
        result = await session.call_tool("search_logs", {"service": "checkout"})
    text = result.content[0].text  # type: ignore[union-attr]
    assert result.is_error and "internal error in search_logs (RuntimeError): a sitrep bug" in text
    assert "a bug" not in text and "RuntimeError: a bug" in caplog.text


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        ({"since": "9999999999d"}, "since: '9999999999d' reaches back more than ten years"),
        ({"since": "0001-01-01T00:00:00"}, "since: '0001-01-01T00:00:00' is outside 1970–2999"),
        ({"until": "99999w"}, "until: '99999w' reaches back more than ten years"),
    ],
)
async def test_absurd_times_are_refused_with_the_argument_named(
    bare: Client, arguments: dict[str, str], says: str
) -> None:
    result = await bare.call_tool("recent_deploys", arguments)
    assert result.is_error and says in result.content[0].text  # type: ignore[union-attr]
