"""error_patterns judges rates over the time the logs cover, not the windows' nominal lengths:
a gap in the logs (files covering part of the range, a retention edge, a shipping outage) is
time nobody observed, neither a fall nor a rise (issue 12)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sitrep.deadline import tool_call
from sitrep.settings import FilesSource, Settings
from sitrep.tools.context import build_context
from sitrep.tools.logs import error_patterns

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
ERROR = "database timeout after 5000 ms"


def minutes(since: int, until: int, errors_per_minute: int) -> Iterable[dict[str, Any]]:
    """From `since` to `until` minutes before NOW, every few seconds an info line of checkout,
    and the error lines spread evenly through each minute."""
    for minute in range(since, until, -1):
        start = NOW - timedelta(minutes=minute)
        for second in range(0, 60, 5):
            yield line(start + timedelta(seconds=second), "info", "served a request")
        for n in range(errors_per_minute):
            yield line(start + timedelta(seconds=60 * n / errors_per_minute + 1), "error", ERROR)


def line(when: datetime, level: str, message: str) -> dict[str, Any]:
    stamp = when.isoformat().replace("+00:00", "Z")
    return {"@timestamp": stamp, "service": {"name": "checkout"}, "log": {"level": level}, "message": message}


def patterns(tmp_path: Path, lines: Iterable[dict[str, Any]], **arguments: Any) -> dict[str, Any]:
    log = tmp_path / "app.jsonl"
    with log.open("w") as out:
        for entry in sorted(lines, key=lambda e: str(e["@timestamp"])):
            out.write(json.dumps(entry) + "\n")
    settings = Settings(config_path=tmp_path / "sitrep.toml", files=FilesSource(paths=[str(log)]))
    ctx = build_context(settings, clock=lambda: NOW, cwd=Path("/"))
    with tool_call("error_patterns", 120):
        return error_patterns(ctx, **arguments).model_dump(mode="json")


def only(result: dict[str, Any]) -> dict[str, Any]:
    [pattern] = result["patterns"]
    return pattern


def test_a_baseline_the_logs_cover_in_part_is_judged_over_its_covered_time(tmp_path: Path) -> None:
    # The baseline is the hour before the last 10 minutes; the logs begin 10 minutes into it
    # (a retention edge). The same 6 errors a minute throughout: chronic, not a six-fold rise.
    result = patterns(tmp_path, minutes(20, 0, 6), since="10m", baseline="1h")
    pattern = only(result)
    assert (pattern["count"], pattern["baseline_count"]) == (60, 60)
    assert pattern["change"] == "chronic" and 0.9 <= pattern["ratio"] <= 1.1
    assert any("cover 10m of the baseline's 60m" in note for note in result["notes"])


def test_a_window_with_a_gap_in_the_logs_is_not_read_as_a_fall(tmp_path: Path) -> None:
    # Shipping stopped 5 minutes into a 20-minute window: 5 minutes of 10 errors a minute
    # against a fully covered baseline at the same rate.
    result = patterns(tmp_path, minutes(40, 15, 10), since="20m", baseline="20m")
    pattern = only(result)
    assert (pattern["count"], pattern["baseline_count"]) == (50, 200)
    assert pattern["change"] == "chronic" and 0.9 <= pattern["ratio"] <= 1.1
    assert result["gone"] == []
    assert any("cover 5m of the window's 20m" in note for note in result["notes"])


def test_a_real_rise_over_a_gap_is_still_found(tmp_path: Path) -> None:
    # The same gap in the baseline, but the errors tripled in the window: increased, about 3x.
    lines = [*minutes(20, 10, 4), *minutes(10, 0, 12)]
    pattern = only(patterns(tmp_path, lines, since="10m", baseline="1h"))
    assert pattern["change"] == "increased" and 2.7 <= pattern["ratio"] <= 3.3


def test_a_baseline_with_no_line_at_all_leaves_the_change_unknown(tmp_path: Path) -> None:
    result = patterns(tmp_path, minutes(10, 0, 6), since="10m", baseline="1h")
    pattern = only(result)
    assert pattern["change"] is None and pattern["new"] is None and pattern["ratio"] is None
    assert any("no line in the baseline" in note for note in result["notes"])


def test_a_window_with_no_line_at_all_lists_nothing_as_gone(tmp_path: Path) -> None:
    result = patterns(tmp_path, minutes(60, 10, 6), since="10m", baseline="50m")
    assert result["total"] == 0 and result["gone"] == [] and result["gone_total"] == 0
    assert any("no line in the window" in note for note in result["notes"])


def test_a_covered_baseline_without_errors_makes_the_errors_new(tmp_path: Path) -> None:
    # The logs cover the baseline (info lines) and it had no error: a known zero, so `new`.
    lines = [*minutes(40, 10, 0), *minutes(10, 0, 3)]
    pattern = only(patterns(tmp_path, lines, since="10m", baseline="30m"))
    assert pattern["change"] == "new" and pattern["new"] is True and pattern["baseline_count"] == 0
