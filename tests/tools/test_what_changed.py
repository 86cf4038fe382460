"""what_changed over MCP: the demo's bad deploy, a steady service, Nezha's real faults, bad input."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from mcp import Client

from sitrep.demo import DemoScenario
from sitrep.domain import MetricSignal
from sitrep.errors import SourceUnavailable
from sitrep.server.mcp import build_server
from sitrep.settings import FilesSource, Settings
from sitrep.sources.protocols import SeriesPage, SourceStatus
from sitrep.tools.context import ToolContext, build_context
from tests.tools.calls import call, fails

pytestmark = pytest.mark.anyio
NEZHA = Path(__file__).parents[1] / "fixtures" / "nezha" / "trainticket-2023-01-30-faults.jsonl.gz"


async def files_client(path: Path, now: datetime) -> AsyncIterator[Client]:
    # a generous deadline: the day's file is read twice, and the machine may be busy
    settings = Settings(
        config_path=Path("/x.toml"), files=FilesSource(paths=[str(path)]), deadline_seconds=300
    )
    async with Client(build_server(settings, build_context(settings, cwd=Path("/"), clock=lambda: now))) as c:
        yield c


@pytest.fixture
async def nezha() -> AsyncIterator[Client]:
    async for client in files_client(NEZHA, datetime(2023, 1, 30, 14, tzinfo=UTC)):
        yield client


def steady_log(path: Path, start: datetime, minutes: int) -> None:
    """Two services writing the same few lines at a steady rate, one error a minute: no change."""
    lines = []
    for second in range(0, minutes * 60, 2):
        ts = (start + timedelta(seconds=second)).isoformat().replace("+00:00", "Z")
        lines.append(
            {
                "@timestamp": ts,
                "service": {"name": "api"},
                "log": {"level": "info"},
                "message": f"GET /items/{second % 7} 200",
            }
        )
        lines.append(
            {"@timestamp": ts, "service": {"name": "db"}, "log": {"level": "info"}, "message": "query ok"}
        )
        if second % 60 == 0:
            lines.append(
                {
                    "@timestamp": ts,
                    "service": {"name": "api"},
                    "log": {"level": "error"},
                    "message": "upstream reset, retrying",
                }
            )
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


async def test_the_bad_deploy_is_the_one_change_with_its_new_patterns(
    client: Client, demo: DemoScenario
) -> None:
    bad = next(d for d in demo.deploys if d.sha == demo.bad_sha)
    result = await call(client, "what_changed", at=bad.deployed_at.isoformat())
    assert [s["service"] for s in result["services"]] == [demo.service]
    top = result["services"][0]
    assert top["score"] > 2
    errors = next(s for s in top["signals"] if s["signal"] == "error lines")
    assert errors["direction"] == "up" and errors["after"] > errors["before"]
    assert errors["q_value"] <= 0.05 and errors["interval"][0] > 0
    assert top["patterns"] and all(p["new"] and p["before"] == 0 < p["after"] for p in top["patterns"])
    assert any("discount_code" in p["template"] for p in top["patterns"])
    assert result["tested"] > len(result["services"])


async def test_default_at_is_the_latest_error_onset(client: Client, demo: DemoScenario) -> None:
    bad = next(d for d in demo.deploys if d.sha == demo.bad_sha)
    result = await call(client, "what_changed")
    assert any("error onset" in note for note in result["notes"])
    at = datetime.fromisoformat(result["at"])
    assert abs(at - bad.deployed_at) <= timedelta(minutes=2)
    assert result["services"][0]["service"] == demo.service


async def test_nothing_changed_is_said_plainly(tmp_path: Path) -> None:
    start = datetime(2026, 3, 1, 10, tzinfo=UTC)
    steady_log(tmp_path / "steady.jsonl", start, 60)
    async for client in files_client(tmp_path / "steady.jsonl", start + timedelta(hours=2)):
        result = await call(client, "what_changed", at=(start + timedelta(minutes=40)).isoformat())
        assert result.get("services", []) == []
        assert result["summary"].startswith("nothing changed")
        assert result["tested"] >= 4


async def test_a_silenced_service_is_a_drop_in_log_volume(tmp_path: Path) -> None:
    start = datetime(2026, 3, 1, 10, tzinfo=UTC)
    path = tmp_path / "drop.jsonl"
    steady_log(path, start, 60)
    cut = (start + timedelta(minutes=40)).timestamp()
    kept = [
        line
        for line in path.read_text().splitlines()
        if not ('"db"' in line and datetime.fromisoformat(json.loads(line)["@timestamp"]).timestamp() >= cut)
    ]
    path.write_text("\n".join(kept) + "\n")
    async for client in files_client(path, start + timedelta(hours=2)):
        result = await call(client, "what_changed", at=(start + timedelta(minutes=40)).isoformat())
        assert [s["service"] for s in result["services"]] == ["db"]
        volume = result["services"][0]["signals"][0]
        assert (volume["signal"], volume["direction"]) == ("log volume", "down")
        assert volume["before"] > 0 == volume["after"]


async def test_nezha_cpu_contention_puts_the_faulty_service_near_the_top(nezha: Client) -> None:
    # 13:06:49 a CPU contention was injected into ts-travel-service (fault_list.json); the
    # baseline is the day's earlier fault windows, as the fixture holds only minutes near faults
    result = await call(nezha, "what_changed", at="2023-01-30T13:06:49Z")
    ranked = [s["service"] for s in result["services"]]
    assert "ts-travel-service" in ranked[:3]
    for service in result["services"]:
        for signal in service["signals"]:
            assert signal["q_value"] <= 0.05 and signal["p_value"] <= 1
            assert signal["interval"][0] <= signal["shift"] <= signal["interval"][1]


async def test_bad_arguments_say_what_to_do(client: Client) -> None:
    assert "window" in await fails(client, "what_changed", window="soon")
    assert "baseline" in await fails(client, "what_changed", baseline="10s")
    assert "not in the past" in await fails(client, "what_changed", at="2999-01-01T00:00:00Z")
    assert "unknown service" in await fails(client, "what_changed", service="nope")


class DeadPrometheus:
    """A metrics source whose backend is down: injects the fault, nothing more."""

    name = "prometheus"

    def services(self) -> set[str]:
        return {"checkout"}

    def signals(self, service: str | None = None) -> list[MetricSignal]:
        return [MetricSignal("latency_p95", 'max(x{service="{service}"}[{range}])', "up", "configured")]

    def query_range(
        self, promql: str, start: float, end: float, step: float, *, max_series: int
    ) -> SeriesPage:
        raise SourceUnavailable("prometheus", "http://127.0.0.1:1 refused the connection")

    def missing_signals(self) -> list[str]:
        return []

    def status(self) -> SourceStatus:
        return SourceStatus(self.name, "prometheus", False, 0.0, "down")


async def test_a_dead_metrics_source_leaves_the_log_answer_whole(
    runtime: ToolContext, demo: DemoScenario
) -> None:
    sources = dataclasses.replace(runtime.sources, metrics=DeadPrometheus())
    ctx = dataclasses.replace(runtime, sources=sources)
    bad = next(d for d in demo.deploys if d.sha == demo.bad_sha)
    async with Client(build_server(ctx.settings, ctx)) as client:
        result = await call(client, "what_changed", at=bad.deployed_at.isoformat())
    assert any(note.startswith("metrics left out") for note in result["notes"])
    assert result["services"][0]["service"] == demo.service
