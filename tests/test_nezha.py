"""Real logs written by others: an excerpt of the Nezha TrainTicket fault injections."""

import gzip
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mcp import Client

from sitrep.server.mcp import build_server
from sitrep.settings import FilesSource, Settings
from sitrep.sources.logparse import parse_timestamp
from sitrep.tools.context import build_context
from tests.tools.calls import call

pytestmark = pytest.mark.anyio
FIXTURE = Path(__file__).parent / "fixtures" / "nezha" / "trainticket-2023-01-30-13h.jsonl.gz"
FAULT = ("2023-01-30T13:15:00Z", "2023-01-30T13:18:00Z")
BEFORE = "2023-01-30T13:05:00Z"


def documents() -> list[dict]:  # type: ignore[type-arg]
    with gzip.open(FIXTURE, "rt") as handle:
        return [json.loads(line) for line in handle]


def errors_in(start: str, end: str) -> list[dict]:  # type: ignore[type-arg]
    low, high = parse_timestamp(start), parse_timestamp(end)
    return [
        d
        for d in documents()
        if d.get("log", {}).get("level") == "error" and low <= parse_timestamp(d["@timestamp"]) < high
    ]  # type: ignore[operator]


@pytest.fixture
async def nezha() -> AsyncIterator[Client]:
    settings = Settings(config_path=Path("/nezha.toml"), files=FilesSource(paths=[str(FIXTURE)]))
    async with Client(build_server(settings, build_context(settings, cwd=Path("/")))) as session:
        yield session


async def test_error_patterns_over_the_fault_window_are_exact_and_compact(nezha: Client) -> None:
    result = await call(nezha, "error_patterns", since=FAULT[0], until=FAULT[1], baseline=BEFORE, top=100)
    expected = errors_in(*FAULT)
    assert result["total"] == len(expected) > 50
    assert sum(p["count"] for p in result["patterns"]) + result["other_count"] == result["total"]
    assert len(result["patterns"]) + result["other_patterns"] <= 15, "dozens of lines, a handful of shapes"
    services = {name for p in result["patterns"] for name in p["services"]}
    assert {"ts-basic-service", "ts-travel-service"} <= services
    by_service = {}
    for doc in expected:
        by_service[doc["service"]["name"]] = by_service.get(doc["service"]["name"], 0) + 1
    counted = {}
    for pattern in result["patterns"]:
        for name, count in pattern["services"].items():
            counted[name] = counted.get(name, 0) + count
    assert result["other_count"] == 0 and counted == by_service


async def test_search_and_services_on_real_logs(nezha: Client) -> None:
    found = await call(
        nezha,
        "search_logs",
        service="ts-travel-service",
        level="error",
        since=FAULT[0],
        until=FAULT[1],
        limit=5,
    )
    assert found["total"] == sum(1 for d in errors_in(*FAULT) if d["service"]["name"] == "ts-travel-service")
    status = await call(nezha, "sources_status")
    assert status["sources"][0]["ok"] and len(status["services"]) >= 20
    assert (
        status["sources"][0]["detail"].endswith("newest line 2023-01-30T13:17:59.993Z")
        or "newest line" not in status["sources"][0]["detail"]
    )
