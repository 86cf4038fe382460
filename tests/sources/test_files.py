import gzip
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sitrep.domain import LogQuery, ScanReport
from sitrep.settings import FieldNames, FilesSource
from sitrep.sources import files, traces
from sitrep.sources.files import FileLogSource

BASE = datetime(2026, 11, 23, 8, 0, tzinfo=UTC).timestamp()


def line(
    offset: float, service: str, level: str, message: str, status: int | None = None, ms: float | None = None
) -> str:
    doc: dict[str, object] = {
        "@timestamp": datetime.fromtimestamp(BASE + offset, UTC).isoformat().replace("+00:00", "Z"),
        "service": {"name": service}, "log": {"level": level}, "message": message,
    }  # fmt: skip
    if status is not None:
        doc["http"] = {"response": {"status_code": status}}
    if ms is not None:
        doc["event"] = {"duration": int(ms * 1_000_000)}
    return json.dumps(doc)


def source(tmp_path: Path, lines: list[str], name: str = "app.jsonl", fmt: str = "auto") -> FileLogSource:
    (tmp_path / name).write_text("\n".join(lines) + "\n")
    return FileLogSource(FilesSource(paths=[str(tmp_path / "*.jsonl")], format=fmt), FieldNames())  # type: ignore[arg-type]


def everything(**filters: object) -> LogQuery:
    return LogQuery(float("-inf"), float("inf"), **filters)  # type: ignore[arg-type]


def test_search_returns_newest_first_with_exact_total(tmp_path: Path) -> None:
    src = source(tmp_path, [line(i, "a", "info", f"m{i}") for i in range(10)])
    page = src.search(everything(), limit=3)
    assert page.total == 10
    assert [r.message for r in page.records] == ["m9", "m8", "m7"]


def test_filters_time_service_level_and_text(tmp_path: Path) -> None:
    src = source(tmp_path, [
        line(0, "a", "error", "Disk FULL on /var"), line(60, "b", "error", "disk full on /tmp"),
        line(120, "a", "info", "disk full maybe"), line(180, "a", "error", "disk full late"),
    ])  # fmt: skip
    query = LogQuery(BASE, BASE + 150, frozenset({"a"}), frozenset({"error"}), "disk full")
    assert [r.message for r in src.search(query, 10).records] == ["Disk FULL on /var"]


def test_corrupt_lines_are_skipped_and_counted_once_across_passes(tmp_path: Path) -> None:
    src = source(
        tmp_path, [line(0, "a", "info", "ok"), '{"@timestamp": "2026-11-23T08:00:01Z", "mess', "garbage", ""]
    )
    report = ScanReport()
    list(src.records(everything(), report))
    list(src.records(everything(), report))
    assert report.lines_skipped == 2


def test_window_stats_per_service_with_percentiles(tmp_path: Path) -> None:
    lines = [line(i, "api", "info", "GET /", 200, ms=float(i + 1)) for i in range(100)]
    lines += [line(100 + i, "api", "error", "GET /", 503, ms=1000.0) for i in range(10)]
    lines += [line(5, "worker", "error", "job failed"), line(6, "worker", "info", "job ok")]
    src = source(tmp_path, lines)
    stats = src.scan(everything(), stats=[(BASE, BASE + 100), (BASE + 100, BASE + 200)]).stats
    first, second = stats["api"]
    assert (first.requests, first.errors, first.p50_ms) == (100, 0, 50.5)
    assert first.p95_ms == pytest.approx(95.05)
    assert (second.requests, second.errors, second.error_rate) == (10, 10, 1.0)
    worker = stats["worker"][0]
    assert (worker.requests, worker.events, worker.errors, worker.error_rate) == (0, 2, 1, 0.5)


def test_message_groups_tag_each_line_with_its_window(tmp_path: Path) -> None:
    src = source(
        tmp_path, [line(0, "a", "error", "x"), line(50, "a", "error", "y"), line(500, "a", "error", "z")]
    )
    found = src.scan(everything(), groups=[(BASE, BASE + 10), (BASE + 40, BASE + 60)])
    assert sorted((i, g.message) for i, g in found.groups) == [(0, "x"), (1, "y")]  # newest read first
    assert found.stats == {}


def test_one_scan_groups_the_levels_asked_for_and_counts_every_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [line(i, "a", "error", f"boom {i % 2}") for i in range(4)]
    lines += [line(4, "a", "info", "fine"), line(70, "a", "error", "boom 0")]
    src = source(tmp_path, lines)
    passes = 0
    read = src._file_records

    def counted(*args: Any) -> Any:
        nonlocal passes
        passes += 1
        return read(*args)

    monkeypatch.setattr(src, "_file_records", counted)
    query = everything(levels=frozenset({"error"}))
    found = src.scan(query, groups=[(BASE, BASE + 60), (BASE + 60, BASE + 120)], stats=[(BASE, BASE + 60)])
    assert passes == 1
    grouped = sorted((i, g.message, g.count, g.first_ts - BASE, g.last_ts - BASE) for i, g in found.groups)
    assert grouped == [(0, "boom 0", 2, 0, 2), (0, "boom 1", 2, 1, 3), (1, "boom 0", 1, 70, 70)]
    (window,) = found.stats["a"]
    assert (window.events, window.errors) == (5, 4)


def test_past_the_distinct_message_bound_lines_are_counted_not_grouped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(files, "MAX_GROUPED_MESSAGES", 2)
    src = source(tmp_path, [line(i, "a", "error", f"m{i % 3}") for i in range(9)])
    found = src.scan(everything(), groups=[(BASE, BASE + 60)])
    # The newest lines are read first: the messages seen first are the newest two.
    assert sorted((g.message, g.count) for _, g in found.groups) == [("m1", 3), ("m2", 3)]
    assert found.report.ungrouped == {0: 3}
    assert "distinct messages" in found.report.notes[0]


def test_plain_files_take_their_service_from_the_file_name(tmp_path: Path) -> None:
    (tmp_path / "billing.log").write_text("2026-11-23T08:00:00Z ERROR card declined\n")
    src = FileLogSource(FilesSource(paths=[str(tmp_path / "*.log")]), FieldNames())
    assert src.services() == {"billing"}
    assert src.search(everything(services=frozenset({"billing"})), 5).total == 1


def test_gzip_files_are_read(tmp_path: Path) -> None:
    with gzip.open(tmp_path / "old.jsonl.gz", "wt") as handle:
        handle.write(line(0, "a", "error", "rotated") + "\n")
    src = FileLogSource(FilesSource(paths=[str(tmp_path / "*.gz")]), FieldNames())
    assert [r.message for r in src.search(everything(), 5).records] == ["rotated"]


def test_status_says_what_is_missing(tmp_path: Path) -> None:
    empty = FileLogSource(FilesSource(paths=[str(tmp_path / "nothing/*.log")]), FieldNames())
    status = empty.status()
    assert not status.ok and "no file matches" in status.detail
    src = source(tmp_path, [line(0, "a", "info", "x")])
    status = src.status()
    assert status.ok and "1 file(s)" in status.detail and "newest line 2026-11-23T08:00:00Z" in status.detail


NEZHA_13H = Path(__file__).parents[1] / "fixtures" / "nezha" / "trainticket-2023-01-30-13h.jsonl.gz"


def test_trace_lines_come_in_the_same_pass_whatever_their_level(tmp_path: Path) -> None:
    # Nezha's converted lines (ECS trace.id and span.id); errors only grouped, every trace line kept
    with gzip.open(NEZHA_13H, "rt") as handle:
        lines = [json.loads(raw) for raw in handle][:400]
    (tmp_path / "nezha.jsonl").write_text("".join(json.dumps(d) + "\n" for d in lines))
    src = FileLogSource(FilesSource(paths=[str(tmp_path / "nezha.jsonl")]), FieldNames())
    stamps = sorted(datetime.fromisoformat(d["@timestamp"].replace("Z", "+00:00")).timestamp() for d in lines)
    window = [(stamps[0], stamps[-1] + 1)]
    found = src.scan(everything(levels=frozenset({"error"})), groups=window, traces=True)
    expected: dict[str, list[tuple[str, str]]] = {}
    for d in lines:
        if d.get("trace", {}).get("id"):
            expected.setdefault(d["trace"]["id"], []).append((d["service"]["name"], d["span"]["id"]))
    assert len(expected) > 5
    assert {t: sorted((s.service, s.span_id or "") for s in steps) for t, steps in found.traces.items()} == {
        t: sorted(pairs) for t, pairs in expected.items()
    }
    errors = sum(1 for d in lines if d.get("log", {}).get("level") == "error")
    assert sum(g.count for _, g in found.groups) == errors
    assert not src.scan(everything(), groups=window).traces  # asked for only


def test_trace_lines_are_bounded_newest_first_and_the_bound_is_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(traces, "MAX_TRACE_LINES", 5)
    lines = [json.dumps({**json.loads(line(i, "a", "info", "m")), "trace_id": f"t{i % 3}"}) for i in range(9)]
    found = source(tmp_path, lines).scan(everything(), stats=[(BASE, BASE + 60)], traces=True)
    kept = sorted(s.ts - BASE for steps in found.traces.values() for s in steps)
    assert kept == [4, 5, 6, 7, 8]
    assert found.stats["a"][0].events == 9  # the bound is on trace lines, not on the scan
    assert any("kept the first 5" in note and "(4 read past" in note for note in found.report.notes)
