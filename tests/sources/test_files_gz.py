"""Compressed and rotated files: skipped by their time ranges, read newest first, a block
wholly outside the range passed over unparsed, a replaced file read again."""

import gzip
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from sitrep.domain import LogQuery, ScanReport
from sitrep.sources import files, filescan
from sitrep.sources.logparse import LineParser
from tests.sources.test_files_scale import BASE, expected, lines, messages, source

HOUR = 3600.0


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(filescan, "BLOCK_BYTES", 16 << 10)
    monkeypatch.setattr(filescan, "_SEEK_MIN", 8 << 10)


def hour(n: int) -> list[str]:
    """An hour of lines, one a second, starting `n` hours after BASE."""
    return lines(int(HOUR), start=BASE + n * HOUR, seed=n + 1)


def write_gz(path: Path, text: list[str]) -> None:
    with gzip.open(path, "wt") as handle:
        handle.write("".join(t + "\n" for t in text))


def block_count(path: Path) -> int:
    with gzip.open(path) as handle:
        return sum(1 for _ in filescan.stream_blocks(handle))  # type: ignore[arg-type]


def rotated(directory: Path) -> dict[str, list[str]]:
    """app.log (hour 3, the newest), app.log.1 (hour 2), app.log.2.gz (1), app.log.3.gz (0),
    each last written when its hour ended."""
    text = {"app.log": hour(3), "app.log.1": hour(2), "app.log.2.gz": hour(1), "app.log.3.gz": hour(0)}
    for name, body in text.items():
        path = directory / name
        if name.endswith(".gz"):
            write_gz(path, body)
        else:
            path.write_text("".join(t + "\n" for t in body))
    for n, name in enumerate(reversed(list(text))):
        os.utime(directory / name, (BASE + (n + 1) * HOUR, BASE + (n + 1) * HOUR))
    return text


class Counts:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.parsed = 0
        self.streamed: list[str] = []
        self.blocks = 0
        parse = LineParser.parse_bytes
        stream = files.stream_blocks

        def counting_parse(parser: LineParser, raw: bytes) -> object:
            self.parsed += 1
            return parse(parser, raw)

        def counting_stream(handle: object) -> Iterator[filescan.Block]:
            self.streamed.append(str(getattr(handle, "name", "")))
            for block in stream(handle):  # type: ignore[arg-type]
                self.blocks += 1
                yield block

        monkeypatch.setattr(LineParser, "parse_bytes", counting_parse)
        monkeypatch.setattr(files, "stream_blocks", counting_stream)

    def reset(self) -> None:
        self.parsed, self.streamed, self.blocks = 0, [], 0


def test_the_newest_hour_of_a_rotated_set_parses_the_newest_file_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = rotated(tmp_path)
    everything = [t for body in text.values() for t in body]
    src = source(str(tmp_path / "app.log*"))
    query = LogQuery(BASE + 3 * HOUR + 600, BASE + 4 * HOUR)
    counts = Counts(monkeypatch)
    assert messages(src, query) == expected(everything, query)
    # The compressed files were read once (their blocks' timestamps sampled, none parsed) and
    # their time ranges kept; the older plain file was sought to its end.
    line_bytes = (tmp_path / "app.log").stat().st_size / len(text["app.log"])
    newest = len(expected(text["app.log"], LogQuery(query.start - filescan.DISORDER, query.end)))
    slack = 2 * (8 << 10) / line_bytes + 64
    assert newest <= counts.parsed <= newest + slack
    assert len(counts.streamed) == 2
    counts.reset()
    # Next time the compressed files are not decompressed at all, and the answer is the same.
    assert messages(src, query) == expected(everything, query)
    assert counts.streamed == []
    assert newest <= counts.parsed <= newest + slack
    # A range in a compressed file reads it, and only it, to the range's end.
    counts.reset()
    old = LogQuery(BASE + HOUR + 600, BASE + HOUR + 1200)
    assert messages(src, old) == expected(everything, old)
    assert len(counts.streamed) == 1
    total_blocks = block_count(tmp_path / "app.log.2.gz")
    assert counts.blocks < total_blocks / 2, "stops past the range's end"
    assert counts.parsed < 1200 + slack


@pytest.mark.parametrize("in_place", [False, True])
def test_a_compressed_file_replaced_under_the_same_name_is_read_again(tmp_path: Path, in_place: bool) -> None:
    path = tmp_path / "app.log.1.gz"
    first, second = hour(0), hour(5)
    write_gz(path, first)
    os.utime(path, (BASE + HOUR, BASE + HOUR))
    src = source(str(tmp_path / "*.gz"))
    early, late = LogQuery(BASE, BASE + HOUR), LogQuery(BASE + 5 * HOUR, BASE + 6 * HOUR)
    assert messages(src, early) == expected(first, early)
    assert messages(src, late) == []
    if in_place:  # rewritten in place: the same inode, the same modification time
        with path.open("r+b") as handle:
            packed = gzip.compress("".join(t + "\n" for t in second).encode())
            handle.seek(0)
            handle.write(packed)
            handle.truncate()
    else:  # a new file takes the name (rotation)
        write_gz(tmp_path / "new.tmp", second)
        (tmp_path / "new.tmp").replace(path)
    os.utime(path, (BASE + HOUR, BASE + HOUR))
    assert messages(src, late) == expected(second, late)
    assert messages(src, early) == []
    # Grown: another gzip member appended (as `gzip -c >>` does) is read too.
    more = hour(6)
    with path.open("ab") as handle:
        handle.write(gzip.compress("".join(t + "\n" for t in more).encode()))
    newest = LogQuery(BASE + 6 * HOUR, BASE + 7 * HOUR)
    assert messages(src, newest) == expected(more, newest)


def test_a_deadline_cut_answer_over_compressed_files_covers_the_newest_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = {f"app.log.{n}.gz": hour(3 - n) for n in (1, 2, 3)}
    for n, (name, body) in enumerate(text.items()):
        write_gz(tmp_path / name, body)
        os.utime(tmp_path / name, (BASE + (4 - n) * HOUR, BASE + (4 - n) * HOUR))
    newest_blocks = block_count(tmp_path / "app.log.1.gz")
    checks = 0

    def expired() -> bool:  # the deadline comes a few blocks into the second file
        nonlocal checks
        checks += 1
        return checks > newest_blocks + 3

    monkeypatch.setattr(files, "expired", expired)
    report = ScanReport()
    query = LogQuery(BASE, BASE + 4 * HOUR, None, frozenset({"error"}))
    got = sorted(r.message for r in source(str(tmp_path / "*.gz")).records(query, report))
    assert report.partial
    newest = expected(text["app.log.1.gz"], query)
    assert set(newest) <= set(got), "the newest file is all there"
    assert set(got) <= set(newest) | set(expected(text["app.log.2.gz"], query))
    assert len(got) < len(expected([t for body in text.values() for t in body], query))
    notes = " ".join(report.notes)
    # app.log.1.gz holds 10:00 to 11:00 (its first line up to 3 s early), app.log.2.gz 9:00 on.
    assert re.search(r"newest lines only, from 2026-11-23T(09:59:5|10:00:00)", notes)
    assert re.search(r"while reading app.log.2.gz, .* only lines from 2026-11-23T(08:59:5|09:00:00)", notes)
