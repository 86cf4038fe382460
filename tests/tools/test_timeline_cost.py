"""incident_timeline's cost follows its range and baseline, not the history before them: the
same question over a log with 2 h or 24 h before its baseline parses the same lines."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sitrep.errors import InputError
from sitrep.settings import FilesSource, Settings
from sitrep.sources.filescan import DISORDER
from sitrep.sources.logparse import LineParser
from sitrep.tools.context import build_context
from sitrep.tools.timeline import incident_timeline

SINCE = datetime(2023, 1, 30, 13, 0, tzinfo=UTC)
UNTIL = SINCE + timedelta(minutes=30)
EVERY = 2.0  # seconds between lines
SERVICES = ("ts-travel-service", "ts-basic-service", "ts-order-service")


def write_log(path: Path, history: timedelta) -> int:
    """Lines every EVERY seconds from `history` before SINCE to UNTIL, as nezha-to-ecs writes them."""
    first = SINCE - history
    count = int((UNTIL - first).total_seconds() / EVERY)
    with path.open("w") as handle:
        for n in range(count):
            ts = first + timedelta(seconds=n * EVERY)
            level = "error" if n % 97 == 0 else "info"
            doc = {
                "@timestamp": ts.isoformat().replace("+00:00", "Z"),
                "service": {"name": SERVICES[n % 3]},
                "log": {"level": level},
                "message": f"TravelServiceImpl#457 query trip {n % 11} for route {n % 7}",
            }
            handle.write(json.dumps(doc) + "\n")
    return count


def parsed(monkeypatch: pytest.MonkeyPatch, path: Path, baseline: str | None) -> tuple[int, int]:
    """Lines parsed by one timeline call, and its events."""
    calls = 0
    original = LineParser.parse_bytes

    def counting(self: LineParser, raw: bytes) -> object:
        nonlocal calls
        calls += 1
        return original(self, raw)

    settings = Settings(config_path=path.with_suffix(".toml"), files=FilesSource(paths=[str(path)]))
    ctx = build_context(settings, clock=lambda: UNTIL + timedelta(hours=1), cwd=path.parent)
    with monkeypatch.context() as patch:
        patch.setattr(LineParser, "parse_bytes", counting)
        result = incident_timeline(
            ctx,
            since=SINCE.isoformat(),
            until=UNTIL.isoformat(),
            **({"baseline": baseline} if baseline else {}),
        )
    return calls, len(result.events)


def test_history_before_the_baseline_costs_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    short, long = tmp_path / "short.jsonl", tmp_path / "long.jsonl"
    short_lines = write_log(short, timedelta(hours=2))
    long_lines = write_log(long, timedelta(hours=24))
    assert long_lines - short_lines > 35_000
    short_cost, short_events = parsed(monkeypatch, short, None)
    long_cost, long_events = parsed(monkeypatch, long, None)
    asked = (UNTIL - SINCE + timedelta(hours=1)).total_seconds() / EVERY  # the range and its 1 h baseline
    # The file source finds the baseline's start by binary search on timestamps, to within
    # DISORDER seconds and 256 KiB (filescan): that slack is the most it reads before it.
    line_bytes = long.stat().st_size / long_lines
    slack = DISORDER / EVERY + (256 << 10) / line_bytes
    for cost in (short_cost, long_cost):
        assert asked <= cost <= asked + slack, "reads the baseline and the range, and the seek's slack"
    assert long_cost - short_cost < 0.03 * (long_lines - short_lines), "22 h more history, about the same"
    assert short_events == long_events
    # a longer baseline costs what it covers, and no more
    day_cost, _ = parsed(monkeypatch, long, "12h")
    assert (12.5 * 3600) / EVERY <= day_cost <= (12.5 * 3600) / EVERY + slack


def test_the_summary_says_when_nothing_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "steady.jsonl"
    write_log(path, timedelta(hours=2))
    settings = Settings(config_path=path.with_suffix(".toml"), files=FilesSource(paths=[str(path)]))
    ctx = build_context(settings, clock=lambda: UNTIL + timedelta(hours=1), cwd=tmp_path)
    result = incident_timeline(ctx, since=SINCE.isoformat(), until=UNTIL.isoformat())
    assert result.events == []
    assert result.summary.startswith("no change found in 2023-01-30T13:00:00Z to 2023-01-30T13:30:00Z")
    assert "none of 6 signal(s) changed against the baseline from 2023-01-30T12:00:00Z" in result.summary
    assert result.baseline_since == "2023-01-30T12:00:00Z"


def test_the_baseline_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "steady.jsonl"
    write_log(path, timedelta(hours=1))
    settings = Settings(config_path=path.with_suffix(".toml"), files=FilesSource(paths=[str(path)]))
    ctx = build_context(settings, clock=lambda: UNTIL + timedelta(hours=1), cwd=tmp_path)
    for bad in ("30s", "yesterday"):
        with pytest.raises(InputError, match=r"^baseline: "):
            incident_timeline(ctx, since=SINCE.isoformat(), until=UNTIL.isoformat(), baseline=bad)
    # a baseline before the first line: nothing to compare with, and the answer says so
    early = incident_timeline(
        ctx, since=(SINCE - timedelta(hours=1)).isoformat(), until=(SINCE - timedelta(minutes=50)).isoformat()
    )
    assert "no signal had data both in the range and in the baseline" in early.summary
