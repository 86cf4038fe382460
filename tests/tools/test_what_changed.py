"""what_changed over MCP: the demo's bad deploy, a steady service, Nezha's real faults, bad input."""

from __future__ import annotations

import dataclasses
import gzip
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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


# -- trace time, on real traces ------------------------------------------------------------
NEZHA_13H = NEZHA.with_name("trainticket-2023-01-30-13h.jsonl.gz")
TRACES_BEFORE = "2023-01-30T13:06:45"
"""The excerpt's traces that ended before the first fault injected in it (13:06:49)."""


def real_traces() -> list[list[dict[str, Any]]]:
    """The excerpt's complete traces of before any fault, each its lines in time order."""
    traces: dict[str, list[dict[str, Any]]] = {}
    with gzip.open(NEZHA_13H, "rt") as handle:
        for raw in handle:
            line = json.loads(raw)
            if line["@timestamp"] < TRACES_BEFORE and line.get("trace", {}).get("id"):
                traces.setdefault(line["trace"]["id"], []).append(line)
    return [sorted(lines, key=lambda line: line["@timestamp"]) for lines in traces.values()]


def replay(path: Path, start: datetime, minutes: int, onset: datetime, fault: str, victim: str) -> None:
    """The real traces replayed one after another, a new trace every 5 s, each under a new
    id; from `onset` on, `victim` is slowed: `network` delays every hop into and out of it
    by 150 ms (as a netem delay on its pod would), `cpu` makes every step that starts or
    ends in it (its work before and after its lines) three times as long."""
    templates = real_traces()
    lines: list[dict[str, Any]] = []
    for n, moment in enumerate(start + timedelta(seconds=s) for s in range(0, minutes * 60, 5)):
        template = templates[n % len(templates)]
        first = _ts(template[0])
        shift, previous = 0.0, template[0]
        for line in template:
            gap = _ts(line) - _ts(previous)
            if moment >= onset:
                hop = line["service"]["name"] != previous["service"]["name"]
                touches = victim in (line["service"]["name"], previous["service"]["name"])
                if fault == "network" and hop and touches:
                    shift += 0.150
                if fault == "cpu" and touches:
                    shift += 2 * gap
            previous = line
            when = moment + timedelta(seconds=_ts(line) - first + shift)
            copy = {**line, "@timestamp": when.isoformat(timespec="milliseconds").replace("+00:00", "Z")}
            copy["trace"] = {"id": f"{n:08x}{line['trace']['id'][8:]}"}
            lines.append(copy)
    lines.sort(key=lambda line: line["@timestamp"])
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def _ts(line: dict[str, Any]) -> float:
    return datetime.fromisoformat(line["@timestamp"].replace("Z", "+00:00")).timestamp()


@pytest.mark.parametrize("fault", ["network", "cpu"])
async def test_a_slowed_service_is_found_by_its_trace_time_not_its_callers(
    tmp_path: Path, fault: str
) -> None:
    start = datetime(2023, 1, 30, 10, tzinfo=UTC)
    onset = start + timedelta(minutes=30)
    # ts-route-service: called by ts-basic-service in most of the real traces, calls no one.
    replay(tmp_path / "replay.jsonl", start, 40, onset, fault, "ts-route-service")
    async for client in files_client(tmp_path / "replay.jsonl", start + timedelta(hours=1)):
        result = await call(client, "what_changed", at=onset.isoformat())
        ranked = [s["service"] for s in result["services"]]
        assert ranked[:1] == ["ts-route-service"], ranked
        gap = next(s for s in result["services"][0]["signals"] if s["signal"] == "trace time")
        assert gap["direction"] == "up" and gap["source"] == "logs"
        assert gap["after"] > gap["before"] and gap["interval"][0] > 0 and gap["q_value"] <= 0.05
        # its callers waited as long, but the time was not theirs
        assert "ts-basic-service" not in ranked
