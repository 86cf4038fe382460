"""Reading large files: seeking by time, newest first under the deadline, growing and
rotated files, services learned once. Small blocks make a few hundred KiB behave as GiB do."""

import gzip
import itertools
import json
import os
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sitrep import deadline
from sitrep.domain import LogQuery, ScanReport
from sitrep.settings import FieldNames, FilesSource
from sitrep.sources import files, filescan, servicenames
from sitrep.sources.files import FileLogSource

BASE = datetime(2026, 11, 23, 8, 0, tzinfo=UTC).timestamp()
SERVICES = ("api", "worker", "db")


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(filescan, "BLOCK_BYTES", 16 << 10)
    monkeypatch.setattr(filescan, "_SEEK_MIN", 8 << 10)


def stamp(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def lines(count: int, start: float = BASE, step: float = 1.0, seed: int = 1) -> list[str]:
    """`count` lines a `step` apart, up to 3 s out of order, one in 20 an error."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        ts = start + i * step - rng.uniform(0, 3)
        error = rng.random() < 0.05
        doc = {
            "@timestamp": stamp(ts),
            "service": {"name": rng.choice(SERVICES)},
            "log": {"level": "error" if error else "info"},
            "message": f"{'Timeout calling db' if error else 'GET /items'} {i}",
            "http": {"response": {"status_code": 503 if error else 200}},
            "event": {"duration": rng.randrange(1, 500) * 1_000_000},
            "padding": "x" * 100,
        }
        out.append(json.dumps(doc))
    return out


def write(path: Path, text: list[str]) -> None:
    path.write_text("".join(t + "\n" for t in text))


def source(pattern: str) -> FileLogSource:
    return FileLogSource(FilesSource(paths=[pattern]), FieldNames())


def expected(text: list[str], query: LogQuery) -> list[str]:
    """What a plain read of every line gives: the messages matching, sorted."""
    found = []
    for raw in text:
        doc = json.loads(raw)
        ts = datetime.fromisoformat(doc["@timestamp"]).timestamp()
        if not query.start <= ts < query.end:
            continue
        if query.services is not None and doc["service"]["name"] not in query.services:
            continue
        if query.levels is not None and doc["log"]["level"] not in query.levels:
            continue
        if query.text is not None and query.text.lower() not in doc["message"].lower():
            continue
        found.append(doc["message"])
    return sorted(found)


def messages(src: FileLogSource, query: LogQuery) -> list[str]:
    return sorted(r.message for r in src.records(query, ScanReport()))


@pytest.mark.parametrize(
    "query",
    [
        LogQuery(BASE + 3000, BASE + 3600),
        LogQuery(BASE + 3000, BASE + 3600, frozenset({"api"})),
        LogQuery(BASE + 100, BASE + 5000, None, frozenset({"error"})),
        LogQuery(BASE + 100, BASE + 5000, frozenset({"db"}), frozenset({"error"}), "TIMEOUT"),
        LogQuery(BASE - 500, BASE + 10),
        LogQuery(BASE + 5990, BASE + 9000),
        LogQuery(float("-inf"), float("inf"), None, None, "items 42"),
    ],
)
def test_a_window_of_a_large_file_reads_the_lines_a_full_read_finds(tmp_path: Path, query: LogQuery) -> None:
    text = lines(6000)
    write(tmp_path / "app.jsonl", text)
    assert messages(source(str(tmp_path / "*.jsonl")), query) == expected(text, query)


def test_a_window_reads_about_its_share_of_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = lines(6000)
    write(tmp_path / "app.jsonl", text)
    read: list[int] = []
    original = filescan._read_block

    def counting(handle, low, high):  # type: ignore[no-untyped-def]
        block = original(handle, low, high)
        read.append(0 if block is None else len(block.data))
        return block

    monkeypatch.setattr(filescan, "_read_block", counting)
    query = LogQuery(BASE + 5400, BASE + 6000)  # the last tenth
    assert messages(source(str(tmp_path / "*.jsonl")), query) == expected(text, query)
    size = (tmp_path / "app.jsonl").stat().st_size
    assert sum(read) < size / 4


def test_a_file_out_of_time_order_is_read_whole(tmp_path: Path) -> None:
    text = lines(3000)
    random.Random(3).shuffle(text)
    write(tmp_path / "app.jsonl", text)
    query = LogQuery(BASE + 1000, BASE + 1200)
    assert messages(source(str(tmp_path / "*.jsonl")), query) == expected(text, query)


def test_a_deadline_cut_answer_covers_the_newest_lines_and_says_which(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = lines(6000)
    write(tmp_path / "app.jsonl", text)
    checks = 0

    def expired() -> bool:  # the deadline comes after three blocks were read
        nonlocal checks
        checks += 1
        return checks > 3

    monkeypatch.setattr(files, "expired", expired)
    report = ScanReport()
    query = LogQuery(BASE, BASE + 6000, None, frozenset({"error"}))
    got = list(source(str(tmp_path / "*.jsonl")).records(query, report))
    assert report.partial
    everything = expected(text, query)
    assert got and len(got) < len(everything)
    oldest = min(r.ts for r in got)
    newest_all = sorted(
        (datetime.fromisoformat(json.loads(t)["@timestamp"]).timestamp(), json.loads(t)["message"])
        for t in text
        if json.loads(t)["log"]["level"] == "error"
    )
    # Every error line newer than the oldest one returned (but for the disorder) is there.
    assert {m for ts, m in newest_all if ts > oldest + 3} <= {r.message for r in got}
    assert max(r.ts for r in got) == newest_all[-1][0]
    note = next(n for n in report.notes if "newest lines only" in n)
    assert "to 2026-11-23T09:40:00Z" in note
    assert "from 2026-11-23T09:" in note


def test_a_tool_call_cut_by_the_deadline_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "app.jsonl", lines(3000))
    monkeypatch.setattr(files, "expired", lambda: True)
    report = ScanReport()
    with deadline.tool_call("error_patterns", 20):
        got = list(source(str(tmp_path / "*.jsonl")).records(LogQuery(BASE, BASE + 3000), report))
    assert got == []
    assert report.partial
    assert any("before any line" in n for n in report.notes)


def test_a_growing_file_is_read_to_its_new_end_across_calls(tmp_path: Path) -> None:
    text = lines(4000)
    path = tmp_path / "app.jsonl"
    write(path, text[:2500])
    src = source(str(tmp_path / "*.jsonl"))
    query = LogQuery(BASE + 2000, BASE + 5000)
    assert messages(src, query) == expected(text[:2500], query)
    assert src.services() == set(SERVICES)
    with path.open("a") as handle:
        handle.write(text[2500])  # a line still being written: no newline yet
    assert messages(src, query) == expected(text[:2501], query)
    with path.open("a") as handle:
        handle.write("\n" + "".join(t + "\n" for t in text[2501:]))
        handle.write(
            json.dumps({"@timestamp": stamp(BASE + 4001), "service": {"name": "late"}, "message": "m"})
        )
    assert messages(src, query) == sorted([*expected(text, query), "m"])
    assert "late" in src.services()


def test_a_rotated_file_is_read_again_and_the_old_one_by_its_new_name(tmp_path: Path) -> None:
    text = lines(4000)
    live = tmp_path / "app.jsonl"
    write(live, text[:2000])
    src = source(str(tmp_path / "app.jsonl*"))
    query = LogQuery(BASE, BASE + 5000)
    assert messages(src, query) == expected(text[:2000], query)
    assert "rotated" not in src.services()
    # Rotation: the live file is renamed and compressed, a new one takes its name.
    with live.open("rb") as plain, gzip.open(tmp_path / "app.jsonl.1.gz", "wb") as packed:
        packed.write(plain.read())
    live.unlink()
    rotated = [json.dumps({"@timestamp": stamp(BASE + 4100), "service": {"name": "rotated"}, "message": "r"})]
    write(live, text[2000:] + rotated)
    os.utime(tmp_path / "app.jsonl.1.gz", (BASE + 2000, BASE + 2000))
    query = LogQuery(BASE, BASE + 5000)
    assert messages(src, query) == sorted([*expected(text, query), "r"])
    assert "rotated" in src.services()
    # Truncated in place and rewritten (copytruncate): read from the start again.
    write(live, rotated)
    assert messages(src, LogQuery(BASE + 4000, BASE + 5000)) == ["r"]
    assert src.services() >= {"rotated"}


def test_services_skip_lines_naming_known_services_but_find_a_new_one(tmp_path: Path) -> None:
    text = lines(5000)
    text.insert(
        4321, json.dumps({"@timestamp": stamp(BASE + 4321), "service": {"name": "rare"}, "message": "x"})
    )
    write(tmp_path / "app.jsonl", text)
    assert source(str(tmp_path / "*.jsonl")).services() == {*SERVICES, "rare"}


@pytest.mark.parametrize("plain_line", [True, False], ids=["mixed", "all-json"])
def test_the_byte_tests_keep_every_line_a_full_parse_keeps(tmp_path: Path, plain_line: bool) -> None:
    levels = [
        '"level": 5e1', '"level": 60.7', '"level": -50', '"level": "\u00a0error"', '"level": "\t Fatal"',
        '"level": " error"', '"Level": "error"', '"log": {"level": "Emergency"}', '"level": {"x": 1}',
        '"level":"ERR"', '"level": false',
    ]  # fmt: skip
    levels += [
        '"level": 50', '"level":60', '"level": 50.0', '"level": 30', '"level": true', '"level": null',
        '"log": {"level": "ERROR "}', '"log": {"level": "info"}', '"severity": "err"', '"lvl": "Warn"',
        '"level": "error", "x": {"level": "info"}', '"x": {"level": "info"}, "level": "fatal"',
        '"log.level": "critical"', '"level": "e\\u0072ror"', '"level": ["error"]', '"level" : "error"',
        '"@l": "Fatal"', '"level": "information"',
    ]  # fmt: skip
    text = []
    for i, level in enumerate(levels * 3):
        service = SERVICES[i % 3]
        text.append(
            f'{{"@timestamp": "{stamp(BASE + i)}", "service": {{"name": "{service}"}}, {level}, "message": "m{i}"}}'
        )
    if plain_line:
        text.append(f"{stamp(BASE + 100)} ERROR plain line")
    write(tmp_path / "app.jsonl", text)
    src = source(str(tmp_path / "*.jsonl"))
    for query in (
        LogQuery(BASE, BASE + 1000, None, frozenset({"error", "fatal", "critical"})),
        LogQuery(BASE, BASE + 1000, frozenset({"api"}), frozenset({"error"})),
        LogQuery(BASE, BASE + 1000, None, frozenset({"warn", "info"})),
    ):
        everything = FileLogSource(FilesSource(paths=[str(tmp_path / "*.jsonl")]), FieldNames())
        every = [r for r in everything.records(LogQuery(BASE, BASE + 1000), ScanReport())]
        want = sorted(
            r.message
            for r in every
            if r.level in (query.levels or ()) and (query.services is None or r.service in query.services)
        )
        assert messages(src, query) == want


def test_window_stats_after_bucket_stats_in_one_call_are_rolled_up_not_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = lines(6000, step=1.0)
    text += [
        json.dumps({"@timestamp": stamp(BASE + 7000 + i), "service": {"name": "api"}, "message": "m"})
        for i in range(9)
    ]
    write(tmp_path / "app.jsonl", text)
    src = source(str(tmp_path / "*.jsonl"))
    edges = [BASE + 60 * i for i in range(0, 118)]
    buckets = list(itertools.pairwise(edges))
    windows = [(edges[0], edges[40]), (edges[40], edges[41]), (edges[41], edges[-1])]
    query = LogQuery(edges[0], edges[-1])
    expected_windows = src.scan(query, stats=windows).stats  # outside a call: read afresh
    reads: list[int] = []
    original = filescan._read_block

    def counting(handle, low, high):  # type: ignore[no-untyped-def]
        reads.append(low)
        return original(handle, low, high)

    monkeypatch.setattr(filescan, "_read_block", counting)
    with deadline.tool_call("deploy_health", 60):
        per_bucket = src.scan(query, stats=buckets).stats
        read_once = len(reads)
        assert src.scan(query, stats=windows).stats == expected_windows
        assert len(reads) == read_once
        # Windows that are not unions of the buckets are read.
        src.scan(query, stats=[(edges[0] + 1, edges[5])])
        assert len(reads) > read_once
    assert sum(w.events for w in per_bucket["api"]) == sum(w.events for w in expected_windows["api"])


def test_services_of_a_large_file_come_from_samples_of_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(servicenames, "SAMPLE_BYTES", 32 << 10)
    monkeypatch.setattr(servicenames, "MIDDLE_BYTES", 4 << 10)
    text = lines(20000)
    named = [json.dumps({"@timestamp": stamp(BASE + i), "service": {"name": n}, "message": "x"}) for i, n in ((1, "first"), (30000, "last"))]  # fmt: skip
    write(tmp_path / "app.jsonl", [named[0], *text, named[1]])
    read: list[int] = []
    original = filescan._read_block

    def counting(handle, low, high):  # type: ignore[no-untyped-def]
        block = original(handle, low, high)
        read.append(0 if block is None else len(block.data))
        return block

    monkeypatch.setattr(filescan, "_read_block", counting)
    src = source(str(tmp_path / "*.jsonl"))
    assert src.services() == {*SERVICES, "first", "last"}
    assert sum(read) < (tmp_path / "app.jsonl").stat().st_size / 10
    with (tmp_path / "app.jsonl").open("a") as handle:  # grown: the new lines are read
        handle.write(json.dumps({"@timestamp": stamp(BASE + 30001), "service": {"name": "new"}}) + "\n")
    assert "new" in src.services()
