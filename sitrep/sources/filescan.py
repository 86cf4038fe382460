"""Reading one log file for a time range: seek, filter bytes, parse what can match, newest first.

A log file is (nearly) in time order, so the lines of a window sit in one stretch of it.
`plan` finds that stretch by binary search on the timestamps of lines at probed offsets,
tolerating lines up to `DISORDER` seconds out of order (several writers to one file), and
checks first that the file is in order at all (`SAMPLES` probes spread over it): a file that
is not, or has no readable timestamps, is read whole. Nothing is kept between calls and
nothing is written: a file that grew, was truncated or was replaced by rotation is searched
again as it is now, for the price of some sixty reads of a few KiB.

`blocks` then reads the stretch in blocks of `BLOCK_BYTES`, the newest block first, so that
when the call's deadline cuts the read short, what was read is the most recent data. A
compressed (`.gz`) file cannot be sought: `stream_blocks` reads it in order, in blocks of
whole lines, and `block_times` samples each block's timestamps so that a block wholly before
the range is passed over without parsing and the read stops at the first block wholly after
it (with the same tolerance for disorder as the binary search).

`candidates` applies the cheap tests to a block's bytes before any line is parsed: the value
after each level key of a JSON line (else the words a wanted level is spelled with), the
wanted services' names, the query text. Each test may keep a line the parsed record would
reject, never drop one it would keep: levels and query text are matched without case only
in a block that is all ASCII (where lowering bytes is the same as lowering text), a line
with an escape (a backslash) passes the level test, and a query text is used only when it holds no
character that a JSON writer escapes. (Two things it assumes: no writer escapes a plain
ASCII letter or digit in a message, and service names are found as written, as before.)
Lines that pass are parsed (`LineParser.parse_bytes`) and matched exactly by the caller.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO

from sitrep.domain import LogQuery
from sitrep.sources.lines import MAX_LINE_BYTES
from sitrep.sources.logparse import MAX_LEVEL_CHARS, level_spellings

__all__ = [
    "BLOCK_BYTES",
    "DISORDER",
    "Block",
    "Filter",
    "Span",
    "block_times",
    "blocks",
    "candidates",
    "first_time",
    "in_order",
    "passes",
    "plan",
    "stream_blocks",
]

BLOCK_BYTES = 4 << 20
"""Bytes read at a time: large enough that reading costs little per line, small enough to
hold comfortably and to look at the deadline often."""
DISORDER = 300.0
"""Seconds a line may be out of order and still be found by the binary search."""
SAMPLES = 16
"""Probes spread over a file to check that it is in time order before seeking in it."""
_PROBE_BYTES = 64 << 10
"""How far a probe reads forward for a line with a timestamp."""
_SEEK_MIN = 256 << 10
"""Below this many bytes left, the binary search stops and the rest is read."""

TimeOf = Callable[[bytes], float | None]


@dataclass(frozen=True, slots=True)
class Span:
    """The bytes [start, end) of a file that hold a window's lines; `ordered` when they were
    found by seeking (else the whole file)."""

    start: int
    end: int
    ordered: bool


@dataclass(slots=True)
class Block:
    """Whole lines read from `offset` on; `cut_lines` is 1 when the last was over the limit
    of a line and only its start was read."""

    offset: int
    data: bytes
    cut_lines: int = 0
    first_line: int = 0
    """The number of the block's first line, less one, where it is known (a file read in
    order); 0 otherwise."""


def _probe(handle: IO[bytes], offset: int, end: int, time_of: TimeOf) -> tuple[float | None, int]:
    """The timestamp of the first line with one starting at or after `offset` (within
    `_PROBE_BYTES`), and where that line starts; (None, -1) if there is none."""
    start = max(0, offset - 1)
    handle.seek(start)
    data = handle.read(min(_PROBE_BYTES, max(0, end - start)))
    position = 0
    if offset > 0:  # skip to the first line that starts at or after offset
        newline = data.find(b"\n")
        if newline < 0:
            return None, -1
        position = newline + 1
    while position < len(data):
        newline = data.find(b"\n", position)
        if newline < 0:
            break  # a line running past what was read: not a complete probe
        ts = time_of(data[position:newline])
        if ts is not None:
            return ts, start + position
        position = newline + 1
    return None, -1


def plan(handle: IO[bytes], size: int, query: LogQuery, time_of: TimeOf) -> Span:
    """The stretch of a seekable file that holds the lines of `query`'s range."""
    if size <= 2 * _SEEK_MIN or not _in_order(handle, size, time_of):
        return Span(0, size, False)
    start, end = 0, size
    if query.start != float("-inf"):
        start = _seek(handle, size, query.start - DISORDER, time_of)
    if query.end != float("inf"):
        end = _seek(handle, size, query.end + DISORDER, time_of, upper=True)
    return Span(start, max(start, end), True)


def _in_order(handle: IO[bytes], size: int, time_of: TimeOf) -> bool:
    previous = float("-inf")
    for i in range(SAMPLES + 1):
        ts, _ = _probe(handle, size * i // (SAMPLES + 1), size, time_of)
        if ts is None:
            return False
        if ts < previous - DISORDER:
            return False
        previous = max(previous, ts)
    return True


def _seek(handle: IO[bytes], size: int, target: float, time_of: TimeOf, *, upper: bool = False) -> int:
    """An offset such that every line before it is older than `target` (+ the disorder
    allowed); with `upper`, one such that every line from it on is at least `target` - that
    disorder. Either way the lines the range needs are on the right side of it."""
    low, high = 0, size
    while high - low > _SEEK_MIN:
        middle = (low + high) // 2
        ts, _ = _probe(handle, middle, size, time_of)
        if ts is None:  # no timestamp near here: stop narrowing, read the rest
            break
        if ts < target:
            low = middle
        else:
            high = middle
    return high if upper else low


def blocks(handle: IO[bytes], span: Span) -> Iterator[Block]:
    """The span's lines in blocks of about `BLOCK_BYTES`, the newest (last) block first; each
    block is whole lines (a line belongs to the block it starts in)."""
    edges = [*range(span.start, span.end, BLOCK_BYTES), span.end]
    for low, high in reversed(list(itertools.pairwise(edges))):
        block = _read_block(handle, low, high)
        if block is not None:
            yield block


def stream_blocks(handle: IO[bytes]) -> Iterator[Block]:
    """The lines of a file that cannot be sought, in order, in blocks of about `BLOCK_BYTES`
    of whole lines (the last line of the file may lack its newline). A line over
    `MAX_LINE_BYTES` is read to that limit (its block says so) and the rest passed over."""
    offset = 0
    line = 0
    pending = b""
    skipping = False
    while True:
        chunk = handle.read(BLOCK_BYTES)
        if not chunk:
            if pending and not skipping:
                yield Block(offset, pending, 0, line)
            return
        data = pending + chunk if pending else chunk
        pending = b""
        if skipping:  # the rest of a line over the limit
            newline = data.find(b"\n")
            if newline < 0:
                offset += len(data)
                continue
            offset += newline + 1
            line += 1
            data = data[newline + 1 :]
            skipping = False
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            if len(data) > MAX_LINE_BYTES:
                yield Block(offset, data[:MAX_LINE_BYTES], 1, line)
                offset += len(data)
                skipping = True
            else:
                pending = data
            continue
        block = Block(offset, data[:cut] if cut < len(data) else data, 0, line)
        yield block
        line += block.data.count(b"\n")
        offset += cut
        pending = data[cut:]


def block_times(block: Block, time_of: TimeOf) -> list[float] | None:
    """The timestamps of `SAMPLES` lines spread over the block, its first and its last line,
    in the block's order; None if one of them has no timestamp (nothing can be said of it)."""
    data = block.data
    size = len(data)
    if not size:
        return None
    starts = [0]
    for i in range(1, SAMPLES + 1):
        newline = data.find(b"\n", size * i // (SAMPLES + 1))
        if 0 <= newline < size - 1:
            starts.append(newline + 1)
    body = data[:-1] if data.endswith(b"\n") else data
    starts.append(body.rfind(b"\n") + 1)
    times = []
    for start in sorted(set(starts)):
        end = data.find(b"\n", start)
        ts = time_of(data[start : size if end < 0 else end])
        if ts is None:
            return None
        times.append(ts)
    return times


def in_order(times: list[float], before: float = float("-inf")) -> bool:
    """Whether `times` (after a line of time `before`) are in order within `DISORDER`."""
    previous = before
    for ts in times:
        if ts < previous - DISORDER:
            return False
        previous = max(previous, ts)
    return True


def first_time(block: Block, time_of: TimeOf) -> float | None:
    """The timestamp of the block's first line that has one (the oldest moment it covers,
    but for disorder)."""
    position = 0
    for _ in range(64):
        end = block.data.find(b"\n", position)
        if end < 0:
            end = len(block.data)
        ts = time_of(block.data[position:end])
        if ts is not None:
            return ts
        position = end + 1
        if position >= len(block.data):
            break
    return None


def _read_block(handle: IO[bytes], low: int, high: int) -> Block | None:
    """The lines that start in [low, high), the last read to its end (up to a line's limit)."""
    start = low
    if low > 0:  # the line running into `low` belongs to the block before
        handle.seek(low - 1)
        head = handle.read(min(_PROBE_BYTES, high - low + 1))
        newline = head.find(b"\n")
        while newline < 0:  # a long line: keep looking, but not past this block
            if low - 1 + len(head) >= high:
                return None
            more = handle.read(_PROBE_BYTES)
            if not more:
                return None
            head += more
            newline = head.find(b"\n")
        start = low + newline
        if start >= high:
            return None
    handle.seek(start)
    data = handle.read(high - start)
    cut_lines = 0
    if data and not data.endswith(b"\n"):
        tail = handle.readline(MAX_LINE_BYTES)
        data += tail
        if tail and not tail.endswith(b"\n"):
            cut_lines = 1  # a line over the limit: its start only
    return Block(start, data, cut_lines)


# -- cheap tests on bytes ------------------------------------------------------------------------
_SAFE_TEXT = re.compile(r"[A-Za-z0-9 _.,:;=!?#%()\[\]{}@'*+|~$^-]+")
"""Characters no JSON writer escapes: a query text made only of these appears in the line's
bytes as it appears in the message."""


@dataclass(frozen=True, slots=True)
class Filter:
    """The byte tests of one query: a line must hold one of `services` (as is), one of
    `levels` (lowered) and `text` (lowered), where each is set."""

    services: tuple[bytes, ...] | None
    levels: tuple[bytes, ...] | None
    text: bytes | None
    level_keys: tuple[bytes, ...] = ()
    """Each key a level may be under, quoted and lowered (every dotted suffix of each)."""
    level_values: frozenset[bytes] = frozenset()
    """The wanted levels' spellings, lowered: what a level key's string value must be."""
    level_numbers: frozenset[int] = frozenset()
    level_patterns: tuple[tuple[bytes, re.Pattern[bytes]], ...] = ()
    """Per level key as written (`"level"`), a pattern for that key followed by a value that
    may read as a wanted level: found in a block's raw bytes in one pass per key."""

    @classmethod
    def of(cls, query: LogQuery, default_service: str | None, level_keys: tuple[str, ...] = ()) -> Filter:
        """The tests for `query`; `level_keys` are the keys a numeric level may follow (the
        level field and its fallbacks, see `logparse.field_keys`)."""
        services = None
        if query.services is not None and default_service not in query.services:
            services = tuple(name.encode() for name in sorted(query.services))
        levels = None
        keys = sorted({".".join(key.split(".")[i:]) for key in level_keys for i in range(key.count(".") + 1)})
        values: set[bytes] = set()
        numbers: set[int] = set()
        if query.levels is not None:
            words: set[bytes] = set()
            for level in query.levels:
                spelled, spelled_numbers = level_spellings(level)
                values.update(w.lower().encode() for w in spelled)
                numbers.update(spelled_numbers)
                # A numeric level is a JSON number after its key (and at most one space).
                words.update(
                    f'"{k}":{gap}{n}'.lower().encode()
                    for k in keys
                    for n in spelled_numbers
                    for gap in ("", " ")
                )
                if spelled_numbers and not keys:
                    words.add(b"")  # numbers with no key to look for: no test on levels
            words |= values
            # A line holding "error" holds "err": the shorter word alone finds both.
            kept = {w for w in words if not any(o != w and o in w for o in words)}
            if all(kept):
                levels = tuple(sorted(kept))
        text = None
        if query.text and _SAFE_TEXT.fullmatch(query.text):
            text = query.text.lower().encode()
        return cls(
            services,
            levels,
            text,
            tuple(f'"{k}"'.lower().encode() for k in keys),
            frozenset(values),
            frozenset(numbers),
            _level_patterns(keys, values) if levels is not None else (),
        )

    @property
    def active(self) -> bool:
        return self.services is not None or self.levels is not None or self.text is not None


def candidates(block: Block, tests: Filter) -> Iterator[tuple[int, bytes]]:
    """(offset, line) of each line of the block that passes the byte tests, the last line
    first (newest first, as the blocks come); every line when there are none. Lines keep no
    newline; empty lines are left out. Nothing is listed ahead: a block of a million tiny
    lines costs no more memory than its bytes."""
    data = block.data
    if tests.text is None and tests.level_patterns and _all_json(data):
        yield from _json_level_candidates(block, tests)
        return
    lowered: bytes | None = None
    if (tests.levels is not None or tests.text is not None) and data.isascii():
        lowered = data.lower()
    if lowered is not None and tests.text is None and tests.levels is not None and tests.level_keys:
        # Read the value after each level key rather than look for every spelling of every
        # level in every line (a dozen scans of the block); lines other than JSON, if any,
        # by their words.
        spans = dict(_json_level_lines(lowered, tests))
        if not _all_json(data):
            spans.update(_lines_holding(lowered, tests.levels))
        for start, end in sorted(spans.items(), reverse=True):
            line = data[start:end]
            if tests.services is None or any(n in line for n in tests.services):
                yield block.offset + start, line
        return
    first, source = _first_test(data, lowered, tests)
    if first is None:
        end = len(data)
        while end > 0:
            start = data.rfind(b"\n", 0, end) + 1
            if start < end:
                yield block.offset + start, data[start:end]
            end = start - 1
        return
    for start, end in _lines_holding(source, first):
        line = data[start:end]
        if tests.services is not None and source is not data and not any(n in line for n in tests.services):
            continue
        if lowered is not None and not _lowered_pass(lowered[start:end], tests):
            continue
        yield block.offset + start, line


def _level_patterns(keys: list[str], values: set[bytes]) -> tuple[tuple[bytes, re.Pattern[bytes]], ...]:
    """For each level key, the key as written, then a value `_may_be_wanted` may keep: a string
    starting with a wanted spelling (any ASCII case, after ASCII white space), a string with an
    escape or a non-ASCII character before its first letter (the parser says), or no string
    at all (checked by `_may_be_wanted`)."""
    words = b"|".join(re.escape(v) for v in sorted(values, key=len, reverse=True)) or b"(?!)"
    value = (
        rb'"[ \t\r\x0b\x0c]*(?i:' + words + rb")"
        rb'|"[^"\\]*\\'
        rb'|"[ \t\r\x0b\x0c]*[\x80-\xff]'
        rb'|(?=[^"\s])'
    )
    return tuple(
        (f'"{k}"'.encode(), re.compile(b'"' + re.escape(k.encode()) + rb'"\s*:\s*(?:' + value + b")"))
        for k in keys
    )


def _json_level_candidates(block: Block, tests: Filter) -> Iterator[tuple[int, bytes]]:
    """`candidates` for a level test on an all-JSON block: each level key with the value after
    it found in the raw bytes, one pass per key the block holds (keys are matched as the
    parser reads them, with their case; values without case)."""
    data = block.data
    size = len(data)
    found: dict[int, int] = {}
    for key, pattern in tests.level_patterns:
        if key not in data:
            continue
        for match in pattern.finditer(data):
            position = match.end()
            if position < size and data[position] != 34 and not _may_be_wanted(data, position, tests):
                continue  # a number, true, false or null that reads as no wanted level
            at = match.start()
            start = data.rfind(b"\n", 0, at) + 1
            if start in found:
                continue
            end = data.find(b"\n", at)
            found[start] = size if end < 0 else end
    for start, end in sorted(found.items(), reverse=True):
        line = data[start:end]
        if tests.services is None or any(n in line for n in tests.services):
            yield block.offset + start, line


_NOT_A_BRACE_NEXT = re.compile(rb"\n(?!\{)")


def _all_json(data: bytes) -> bool:
    """Every line of `data` starts with a brace (so none is logfmt or plain text, nor empty):
    no newline but the last is followed by anything else (one pass over the newlines)."""
    return data[:1] == b"{" and _NOT_A_BRACE_NEXT.search(data, 0, len(data) - data.endswith(b"\n")) is None


_SPACE = frozenset(b" \t\r\n")
_TOKEN_END = frozenset(b",}] \t\r\n")


def _json_level_lines(low: bytes, tests: Filter) -> list[tuple[int, int]]:
    """(start, end) of each line of an all-JSON, lowered block with a level key whose value
    may be a wanted level, in order. A line with no level key has no level: it cannot match."""
    found: dict[int, int] = {}
    size = len(low)
    for key in tests.level_keys:
        at = low.find(key)
        while at >= 0:
            position = at + len(key)
            while position < size and low[position] in _SPACE:
                position += 1
            if position < size and low[position] == 58:  # a colon: this is a key
                position += 1
                while position < size and low[position] in _SPACE:
                    position += 1
                if _may_be_wanted(low, position, tests):
                    start = low.rfind(b"\n", 0, at) + 1
                    end = low.find(b"\n", at)
                    end = size if end < 0 else end
                    found[start] = end
                    at = low.find(key, end)
                    continue
            at = low.find(key, at + 1)
    return sorted(found.items())


def _may_be_wanted(low: bytes, position: int, tests: Filter) -> bool:
    """Whether the JSON value at `position` may read as a wanted level (`normalize_level`)."""
    if low[position : position + 1] == b'"':
        close = low.find(b'"', position + 1)
        value = low[position + 1 : close]
        if close < 0 or b"\\" in value:
            return True  # escaped: let the parser say
        return value[:MAX_LEVEL_CHARS].strip() in tests.level_values
    end = position
    while end < len(low) and low[end] not in _TOKEN_END:
        end += 1
    token = low[position:end]
    if token in (b"true", b"false", b"null"):
        return False
    try:
        number = float(token)
    except ValueError:
        return True  # an object or a list: let the parser say
    return math.isfinite(number) and int(number) in tests.level_numbers


def _first_test(data: bytes, lowered: bytes | None, tests: Filter) -> tuple[tuple[bytes, ...] | None, bytes]:
    """The needles to find lines by, and the bytes to find them in: the query text if any
    (the rarest, as a rule), else the level words, else the service names."""
    if lowered is not None and tests.text is not None:
        return (tests.text,), lowered
    if lowered is not None and tests.levels is not None:
        return tests.levels, lowered
    if tests.services is not None:
        return tests.services, data
    return None, data


def _lowered_pass(low: bytes, tests: Filter) -> bool:
    if tests.levels is not None and b"\\" not in low and not any(w in low for w in tests.levels):
        return False  # (a level may hide behind an escape: such a line is parsed)
    return tests.text is None or tests.text in low


def passes(line: bytes, tests: Filter) -> bool:
    """The byte tests on one line (of a file read line by line)."""
    if tests.services is not None and not any(n in line for n in tests.services):
        return False
    if (tests.levels is not None or tests.text is not None) and line.isascii():
        return _lowered_pass(line.lower(), tests)
    return True


def _lines_holding(data: bytes, needles: tuple[bytes, ...]) -> Iterator[tuple[int, int]]:
    """(start, end) of each line of `data` that holds one of `needles`, the last line first."""
    limit = len(data)
    found = {needle: data.rfind(needle, 0, limit) for needle in needles}
    while True:
        at = max(found.values())
        if at < 0:
            return
        start = data.rfind(b"\n", 0, at) + 1
        end = data.find(b"\n", at)
        yield start, len(data) if end < 0 else end
        limit = max(0, start - 1)
        for needle, position in found.items():
            if position >= limit:
                found[needle] = data.rfind(needle, 0, limit)
