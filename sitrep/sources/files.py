"""Local log files, the embedded default: globs of NDJSON, logfmt or plain files (`.gz` too).

Files are streamed line by line on every query, never loaded whole, so a day of logs costs
one pass and a little memory: a line is read to its first MiB at most. A line
that cannot be read is skipped and counted.

Plain files are sought by time (`filescan.plan`). A compressed file is read in order, but a
block wholly before the range is passed over unparsed and the read stops past the range's
end; the time range a complete read found (first and last timestamps, if the file was in
order) is kept per process by the file's identity (device, inode, size, modification time
and first bytes), so a later query outside it does not decompress the file, and one replaced or
grown under the same name is read again. Files are read newest first (by their last
timestamp where known, else by modification time).
"""

from __future__ import annotations

import copy
import gzip
import heapq
import os
import re
import time
from bisect import bisect_right
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

from isal import igzip

from sitrep.deadline import Call, check, current, expired, time_left, touched
from sitrep.domain import ERROR_LEVELS, LogQuery, LogRecord, MessageGroup, ScanReport, WindowStats
from sitrep.errors import SourceUnavailable
from sitrep.settings import FieldNames, FilesSource
from sitrep.sources.filescan import (
    DISORDER,
    Block,
    Filter,
    block_times,
    blocks,
    candidates,
    first_time,
    in_order,
    plan,
    stream_blocks,
)
from sitrep.sources.globbing import expand
from sitrep.sources.lines import MAX_LINE_BYTES
from sitrep.sources.logparse import Format, LineParser, field_keys, parse_timestamp
from sitrep.sources.protocols import LogPage, SourceStatus, Windows, WindowScan
from sitrep.sources.servicenames import ServiceNames
from sitrep.sources.sketch import Quantiles
from sitrep.sources.traces import TraceLines
from sitrep.timespec import epoch_iso

_TAIL_BYTES = 65536
_HEAD_BYTES = 256

Identity = tuple[int, int, int, int, bytes]
"""A file's device, inode, size, modification time (ns) and first bytes."""


@dataclass(frozen=True, slots=True)
class TimeRange:
    """The first and last timestamps a complete, in-order read of a compressed file found."""

    first: float
    last: float

    def meets(self, query: LogQuery) -> bool:
        return self.first - DISORDER < query.end and self.last + DISORDER >= query.start


class FileLogSource:
    """Log lines from local files matched by the configured globs."""

    name = "files"

    def __init__(self, config: FilesSource, fields: FieldNames) -> None:
        self._globs = list(config.paths)
        self._format: Format = config.format
        self._service = config.service
        self._fields = fields
        # A flat timestamp key can be read without parsing the whole line, which lets a
        # query for the last hour skip the other 23 cheaply.
        self._quick_ts = re.compile(rb'"' + re.escape(fields.timestamp.encode()) + rb'"\s*:\s*"([^"]+)"')
        self._level_keys = field_keys(fields, "level")
        self._service_names = ServiceNames(field_keys(fields, "service"))
        self._ranges: dict[Identity, TimeRange] = {}
        """The time ranges of compressed files read whole, by identity (see the module)."""

    def paths(self, report: ScanReport | None = None) -> list[Path]:
        """The files the globs match; with `report`, says so there if the deadline cut the
        listing short."""
        found: set[str] = set()
        for pattern in self._globs:
            expansion = expand(pattern)
            found.update(expansion.files)
            if not expansion.complete:
                if report is not None:
                    report.partial = True
                    report.note(f"stopped listing the files of {pattern}: the call's deadline came")
                break
        return [Path(p) for p in sorted(found)]

    def _parser(self, path: Path) -> LineParser:
        service = self._service or path.name.split(".")[0]
        return LineParser(self._fields, self._format, default_service=service)

    def records(self, query: LogQuery, report: ScanReport) -> Iterator[LogRecord]:
        """Every matching line, file by file, the newest file and the newest lines of each
        first (not globally time-ordered). Reading stops, and says so with the span it
        covers, when the tool call's deadline comes: a partial answer beats none, and the
        newest lines are the ones worth having."""
        touched(self.name)
        reading = _Reading(query)
        for path in self._newest_first(self._readable_paths(report)):
            if not (yield from self._file_records(path, query, report, reading)):
                reading.say_cut(report)
                return

    def _readable_paths(self, report: ScanReport) -> list[Path]:
        """The files to read; none at all is an error, not an empty answer: a quiet system
        and a mistyped glob must not look alike (issue 13)."""
        paths = self.paths(report)
        if not paths and not report.partial:
            raise SourceUnavailable(
                self.name, f"no file matches {', '.join(self._globs)}; check [files] paths"
            )
        return paths

    def _newest_first(self, paths: list[Path]) -> list[Path]:
        """Files with the newest lines first: a compressed file by the last timestamp a read
        of it found, any other by when it was last written (rotated files, `app.log.1`,
        `app.log.2.gz`, hold older lines than the file written to now)."""

        def newest(path: Path) -> float:
            try:
                stat = path.stat()
            except OSError:
                return float("-inf")
            if path.suffix == ".gz":
                for identity, known in self._ranges.items():
                    if identity[:4] == _stat_key(stat):
                        return known.last
            return stat.st_mtime

        return sorted(paths, key=lambda p: (-newest(p), str(p)))

    def _file_records(
        self, path: Path, query: LogQuery, report: ScanReport, reading: _Reading | None = None
    ) -> Generator[LogRecord, None, bool]:
        """The matching records of one file; returns False when the deadline stopped it."""
        parser = self._parser(path)
        tests = Filter.of(query, parser.default_service, self._level_keys)
        try:
            handle = path.open("rb")
        except OSError as error:
            report.partial = True
            report.note(f"could not read {path}: {error.strerror or error}")
            return True
        with handle:
            if path.suffix != ".gz":
                return (yield from self._seek_records(path, handle, parser, tests, query, report, reading))
            try:
                identity = _identity(handle)
            except OSError as error:
                report.partial = True
                report.note(f"could not read {path}: {error.strerror or error}")
                return True
            known = self._ranges.get(identity)
            if known is not None and not known.meets(query):
                return True  # its lines are all outside the range: not decompressed
            # (isal ships no annotations for its GzipFile subclass)
            with igzip.IGzipFile(fileobj=handle, mode="rb") as stream:  # type: ignore[no-untyped-call]
                return (
                    yield from self._stream_records(
                        path, cast(IO[bytes], stream), identity, parser, tests, query, report, reading
                    )
                )

    def _seek_records(
        self,
        path: Path,
        handle: IO[bytes],
        parser: LineParser,
        tests: Filter,
        query: LogQuery,
        report: ScanReport,
        reading: _Reading | None,
    ) -> Generator[LogRecord, None, bool]:
        """A file that can be sought: the stretch holding the window, newest block first."""
        where = str(path)
        try:
            size = os.fstat(handle.fileno()).st_size
            time_of = self._time_of(parser)
            span = plan(handle, size, query, time_of)
        except OSError as error:
            report.partial = True
            report.note(f"could not read {path}: {error.strerror or error}")
            return True
        needle = query.text.lower() if query.text else None
        for block in blocks(handle, span):
            if block.cut_lines:
                report.note(f"lines over {MAX_LINE_BYTES >> 20} MiB are read to their first MiB only")
            for count, (offset, text) in enumerate(candidates(block, tests)):
                if not count & _CHECK_LINES:
                    check()
                    if expired():
                        report.partial = True
                        return False
                line = text[:MAX_LINE_BYTES]
                if len(text) > MAX_LINE_BYTES:
                    report.note(f"lines over {MAX_LINE_BYTES >> 20} MiB are read to their first MiB only")
                record = parser.parse_bytes(line)
                if record is None:
                    if line.strip():
                        # Counted once per line across passes: an id that grows as the read
                        # goes back through the file, as a line number grows read in order.
                        report.skip(where, _BACKWARDS - offset)
                    continue
                if reading is not None:
                    reading.reached(record.ts)
                if _matches(record, query, needle):
                    yield record
            if reading is not None:
                reading.covered(block, time_of)
        return True

    def _stream_records(
        self,
        path: Path,
        handle: IO[bytes],
        identity: Identity,
        parser: LineParser,
        tests: Filter,
        query: LogQuery,
        report: ScanReport,
        reading: _Reading | None,
    ) -> Generator[LogRecord, None, bool]:
        """A compressed file, which cannot be sought: read in order, a block at a time; a
        block wholly before the range is passed over, and the read stops at one wholly after
        it (while the file is in time order). A complete read keeps the file's time range."""
        needle = query.text.lower() if query.text else None
        seen = _Stream(query, self._time_of(parser))
        try:
            for block in stream_blocks(handle):
                check()
                if expired():
                    report.partial = True
                    if reading is not None:
                        reading.stream_cut(path, seen.read_from, seen.read_to)
                    return False
                if block.cut_lines:
                    report.note(f"lines over {MAX_LINE_BYTES >> 20} MiB are read to their first MiB only")
                wanted = seen.wanted(block)
                if wanted is None:
                    break  # wholly after the range: so is the rest
                if wanted:
                    yield from _block_records(str(path), block, parser, tests, query, needle, report)
        except (OSError, EOFError, gzip.BadGzipFile) as error:
            report.partial = True
            report.note(f"could not read all of {path}: {error}")
            return True
        found = seen.range()
        if found is not None:
            self._ranges = {k: v for k, v in self._ranges.items() if k[:2] != identity[:2]}
            self._ranges[identity] = found
        if reading is not None:
            reading.whole(seen.read_from, query)
        return True

    def _time_of(self, parser: LineParser) -> Callable[[bytes], float | None]:
        def time_of(line: bytes) -> float | None:
            match = self._quick_ts.search(line, 0, 200)
            if match is not None:
                ts = parse_timestamp(match.group(1).decode("ascii", "replace"))
                if ts is not None:
                    return ts
            record = parser.parse_bytes(line)
            return None if record is None else record.ts

        return time_of

    def services(self) -> set[str]:
        """The services the files name: learned once per file and kept, read on as a file
        grows (`ServiceNames`), so a call after the first costs a stat per file."""
        touched(self.name)
        names: set[str] = set()
        for path in self.paths():
            if time_left() <= 0:  # the deadline came while listing: the names found so far
                break
            found = self._service_names.of(path, self._parser(path))
            if found is not None:
                names |= found
        return names

    def search(self, query: LogQuery, limit: int) -> LogPage:
        report = ScanReport()
        total = 0
        newest: list[tuple[float, int, LogRecord]] = []
        for total, record in enumerate(self.records(query, report), start=1):
            item = (record.ts, total, record)
            if len(newest) < limit:
                heapq.heappush(newest, item)
            elif item > newest[0]:
                heapq.heapreplace(newest, item)
        ordered = [record for _, _, record in sorted(newest, reverse=True)]
        return LogPage(total=total, records=ordered, report=report)

    def scan(
        self, query: LogQuery, *, groups: Windows = (), stats: Windows = (), traces: bool = False
    ) -> WindowScan:
        """One pass over the lines the windows cover. Groups are per distinct message, up to
        MAX_GROUPED_MESSAGES; past it, lines of new messages are counted as ungrouped. Trace
        lines are kept up to `TraceLines`' bound."""
        found = WindowScan()
        if not groups and not stats:
            return found
        memo_key = ("files.stats", id(self), query.services, query.text)
        if not groups:
            earlier = _rolled_up(current(), memo_key, stats)
            if earlier is not None:
                return earlier
        covered = [*groups, *stats]
        span = LogQuery(
            min(start for start, _ in covered),
            max(end for _, end in covered),
            query.services,
            None if stats or traces else query.levels,
            query.text,
        )
        kept = TraceLines() if traces else None
        grouped: dict[tuple[int, str], MessageGroup] = {}
        tally: dict[str, _Tally] = {}
        group_starts = [start for start, _ in groups]
        stats_starts = [start for start, _ in stats]
        report = found.report
        for record in self.records(span, report):
            if groups and (query.levels is None or record.level in query.levels):
                index = bisect_right(group_starts, record.ts) - 1
                if index >= 0 and record.ts < groups[index][1]:
                    _group(grouped, index, record, report)
            if stats:
                index = bisect_right(stats_starts, record.ts) - 1
                if index >= 0 and record.ts < stats[index][1]:
                    service = record.service or "unknown"
                    if service not in tally:
                        tally[service] = _Tally(stats)
                    tally[service].add(index, record)
            if kept is not None:
                kept.add(record)
        if kept is not None:
            found.traces = kept.finish(report)
        found.groups = [(index, group) for (index, _), group in grouped.items()]
        found.stats = {service: t.finish() for service, t in sorted(tally.items())}
        call = current()
        if stats and not groups and not report.partial and call is not None:
            call.memo[memo_key] = (list(stats), tally, report)
        return found

    def status(self) -> SourceStatus:
        started = time.perf_counter()
        paths = self.paths()
        if not paths:
            detail = f"no file matches {', '.join(self._globs)}; check [files] paths"
            return SourceStatus(self.name, "files", False, _ms(started), detail)
        size = sum(p.stat().st_size for p in paths if p.exists())
        newest = max((ts for p in paths if (ts := self._last_timestamp(p)) is not None), default=None)
        detail = f"{len(paths)} file(s), {size / 1e6:.1f} MB"
        if newest is not None:
            detail += f", newest line {epoch_iso(newest)}"
        return SourceStatus(self.name, "files", True, _ms(started), detail)

    def _last_timestamp(self, path: Path) -> float | None:
        if path.suffix == ".gz":  # (a read keeps its range from samples, not its newest line)
            return None
        parser = self._parser(path)
        try:
            with path.open("rb") as handle:
                handle.seek(max(0, path.stat().st_size - _TAIL_BYTES))
                lines = handle.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return None
        for line in reversed(lines):
            record = parser.parse(line)
            if record is not None:
                return record.ts
        return None


_CHECK_LINES = (1 << 12) - 1
"""The deadline is looked at every 4,096 lines, however short."""
_BACKWARDS = 1 << 62
"""Skipped lines of a file read newest first are counted by `_BACKWARDS - offset`: a number
that grows as the read goes on, as line numbers do when a file is read in order."""


class _Stream:
    """What the blocks of a compressed file read in order told of its times."""

    def __init__(self, query: LogQuery, time_of: Callable[[bytes], float | None]) -> None:
        self._query = query
        self._time_of = time_of
        self.ordered = True
        self.first: float | None = None
        self.newest = float("-inf")
        self.read_from: float | None = None
        """The first time of the first block read for the range (None: none yet)."""
        self.read_to: float | None = None
        self.stopped = False

    def wanted(self, block: Block) -> bool | None:
        """Whether the block's lines may be in the range; None when it, and every block after
        it, is wholly after the range (the file is in order as far as it was read)."""
        times = block_times(block, self._time_of)
        if times is None or not in_order(times, self.newest):
            self.ordered = False
        if times is None:
            return True
        if self.first is None:
            self.first = times[0]
        self.newest = max(self.newest, *times)
        if self.ordered and times[-1] < self._query.start - DISORDER:
            return False
        if self.ordered and times[0] > self._query.end + DISORDER:
            self.stopped = True
            return None
        if self.read_from is None:
            self.read_from = times[0]
        self.read_to = times[-1]
        return True

    def range(self) -> TimeRange | None:
        """The file's time range, if it was read to its end and found in order."""
        if self.stopped or not self.ordered or self.first is None:
            return None
        return TimeRange(self.first, self.newest)


def _block_records(
    where: str,
    block: Block,
    parser: LineParser,
    tests: Filter,
    query: LogQuery,
    needle: str | None,
    report: ScanReport,
) -> Iterator[LogRecord]:
    """The records of a block (of a file read in order) that match the query."""
    for offset, text in candidates(block, tests):
        line = text[:MAX_LINE_BYTES]
        if len(text) > MAX_LINE_BYTES:
            report.note(f"lines over {MAX_LINE_BYTES >> 20} MiB are read to their first MiB only")
        record = parser.parse_bytes(line)
        if record is None:
            if line.strip():
                at = offset - block.offset
                report.skip(where, block.first_line + block.data.count(b"\n", 0, at) + 1)
            continue
        if _matches(record, query, needle):
            yield record


class _Reading:
    """How far back one read has come, to say which span a deadline-cut answer covers."""

    def __init__(self, query: LogQuery) -> None:
        self._query = query
        self.oldest: float | None = None
        self._stream: tuple[Path, float | None, float | None] | None = None

    def reached(self, ts: float) -> None:
        """A line of this time was read (lines are read newest first)."""
        if self.oldest is None or ts < self.oldest:
            self.oldest = ts

    def covered(self, block: Block, time_of: Callable[[bytes], float | None]) -> None:
        """All of `block` was read."""
        ts = first_time(block, time_of)
        if ts is not None:
            self.reached(ts)

    def whole(self, read_from: float | None, query: LogQuery) -> None:
        """A compressed file was read (in order) through the range, from a line of time
        `read_from` (None: no line near the range)."""
        if read_from is not None:
            self.reached(max(read_from, query.start))

    def stream_cut(self, path: Path, read_from: float | None, read_to: float | None) -> None:
        """The deadline came while reading a compressed file in order, after its lines from
        `read_from` to `read_to` in the range were read."""
        self._stream = (path, read_from, read_to)

    def say_cut(self, report: ScanReport) -> None:
        report.partial = True
        end = self._query.end
        streamed = False
        if self._stream is not None:
            path, read_from, read_to = self._stream
            if read_from is not None and read_to is not None:
                streamed = True
                begun = epoch_iso(max(read_from, self._query.start))
                report.note(
                    f"the call's deadline came while reading {path.name}, which is compressed and "
                    f"read oldest first: of it, only lines from {begun} to {epoch_iso(read_to)} were read"
                )
        if self.oldest is None or self.oldest >= end:
            if not streamed:
                report.note("the call's deadline came before any line of the range was read")
            return
        since = max(self.oldest, self._query.start)
        until = "the end of the range" if end == float("inf") else epoch_iso(end)
        report.note(
            f"the call's deadline came: this answer covers the newest lines only, from "
            f"{epoch_iso(since)} to {until}; older lines were not read, so counts are low "
            "(narrow since or name a service)"
        )


MAX_GROUPED_MESSAGES = 100_000
"""Distinct messages one scan groups: what bounds its memory, as a page of distinct messages
bounds OpenSearch's."""


def _group(
    grouped: dict[tuple[int, str], MessageGroup], index: int, record: LogRecord, report: ScanReport
) -> None:
    service = record.service or "unknown"
    group = grouped.get((index, record.message))
    if group is None:
        if len(grouped) >= MAX_GROUPED_MESSAGES:
            report.ungrouped[index] = report.ungrouped.get(index, 0) + 1
            report.note(
                f"over {MAX_GROUPED_MESSAGES:,} distinct messages: the lines of further messages are "
                "counted, not grouped; narrow since or name a service"
            )
            return
        grouped[(index, record.message)] = MessageGroup(record.message, 1, record.ts, record.ts, {service: 1})
        return
    group.count += 1
    first, last = group.first_ts, group.last_ts
    group.first_ts = record.ts if first is None else min(first, record.ts)
    group.last_ts = record.ts if last is None else max(last, record.ts)
    group.services[service] = group.services.get(service, 0) + 1


class _Tally:
    """One service's counts and durations per window, while streaming; durations in a
    `Quantiles` (exact while a window is small, within 1% past it: bounded memory)."""

    def __init__(self, windows: Sequence[tuple[float, float]]) -> None:
        self.windows = list(windows)
        count = len(windows)
        self.events = [0] * count
        self.requests = [0] * count
        self.request_errors = [0] * count
        self.line_errors = [0] * count
        self.durations = [Quantiles() for _ in windows]

    def add(self, index: int, record: LogRecord) -> None:
        self.events[index] += 1
        error = record.level in ERROR_LEVELS
        if record.status is not None or record.duration_ms is not None:  # a request
            self.requests[index] += 1
            self.request_errors[index] += error or (record.status is not None and record.status >= 500)
            if record.duration_ms is not None:
                self.durations[index].add(record.duration_ms)
        elif error:
            self.line_errors[index] += 1

    def rolled_up(self, windows: Sequence[tuple[float, float]], parts: list[range]) -> _Tally:
        """The tally over `windows`, each the union of this tally's windows `parts[i]`: the
        same counts and percentiles a read over `windows` gives (sketches merge exactly)."""
        out = _Tally(windows)
        for index, part in enumerate(parts):
            out.events[index] = sum(self.events[i] for i in part)
            out.requests[index] = sum(self.requests[i] for i in part)
            out.request_errors[index] = sum(self.request_errors[i] for i in part)
            out.line_errors[index] = sum(self.line_errors[i] for i in part)
            for i in part:
                out.durations[index].merge(self.durations[i])
        return out

    def finish(self) -> list[WindowStats]:
        out = []
        for index, (start, end) in enumerate(self.windows):
            requests = self.requests[index]
            values = self.durations[index]
            p50, p95, p99 = (values.quantile(q) for q in (0.5, 0.95, 0.99))
            errors = self.request_errors[index] if requests else self.line_errors[index]
            out.append(WindowStats(start, end, self.events[index], requests, errors, p50, p95, p99))
        return out


def _rolled_up(call: Call | None, key: tuple[object, ...], stats: Windows) -> WindowScan | None:
    """The statistics over `stats` from a complete read earlier in this call whose windows
    make them up (deploy_health reads per bucket, then per deploy window): no second read."""
    if call is None or key not in call.memo:
        return None
    fine, tally, report = call.memo[key]
    parts = _parts(fine, stats)
    if parts is None:
        return None
    found = WindowScan(report=copy.deepcopy(report))
    found.stats = {name: t.rolled_up(stats, parts).finish() for name, t in sorted(tally.items())}
    return found


def _parts(fine: Sequence[tuple[float, float]], coarse: Sequence[tuple[float, float]]) -> list[range] | None:
    """For each coarse window, the run of fine windows that makes it up exactly; None if some
    coarse window is not such a union."""
    starts = {start: i for i, (start, _) in enumerate(fine)}
    ends = {end: i for i, (_, end) in enumerate(fine)}
    parts = []
    for start, end in coarse:
        first, last = starts.get(start), ends.get(end)
        if first is None or last is None or last < first:
            return None
        if any(fine[i][1] != fine[i + 1][0] for i in range(first, last)):
            return None  # a gap between fine windows: not the same span
        parts.append(range(first, last + 1))
    return parts


def _stat_key(stat: os.stat_result) -> tuple[int, int, int, int]:
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _identity(handle: IO[bytes]) -> Identity:
    """The open file's identity (its first bytes read, then the handle put back at 0)."""
    stat = os.fstat(handle.fileno())
    head = handle.read(_HEAD_BYTES)
    handle.seek(0)
    return (*_stat_key(stat), head)


def _matches(record: LogRecord, query: LogQuery, needle: str | None) -> bool:
    if not query.start <= record.ts < query.end:
        return False
    if query.services is not None and record.service not in query.services:
        return False
    if query.levels is not None and record.level not in query.levels:
        return False
    return needle is None or needle in record.message.lower()


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
