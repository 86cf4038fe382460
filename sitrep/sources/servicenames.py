"""The service names a log file holds, learned once and kept up to date as it grows.

Listing services must not cost a read of every line, even the first time: a file larger
than `SAMPLE_BYTES` twice over is sampled (its first and last `SAMPLE_BYTES`, and
`MIDDLE_SAMPLES` stretches of `MIDDLE_BYTES` between), a compressed one read to
`SAMPLE_BYTES` of its text. A service that logs only outside the samples is missing from the
list until it logs again near the end; the logs themselves are still searched whole. What one read learned
is kept per file, by its identity (device and inode) with the offset read to and the file's
first bytes: a file that grew is read on from there; one that was truncated, rewritten or
replaced (rotation gives the new file a new inode) is read again from the start. Nothing is
written anywhere.

Within a read, a block is passed over without parsing when it holds as many known names as
JSON values (`:"checkout"`) as it has lines; otherwise its lines that hold a service key
followed by a known name are passed over, and the others parsed. What this could miss: a
service named only in lines that also hold a known name where a service key is expected,
or a block where lines holding two known names exactly make up for lines holding none.
"""

from __future__ import annotations

import gzip
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from sitrep.deadline import check, expired
from sitrep.sources.filescan import Span, blocks
from sitrep.sources.lines import MAX_LINE_BYTES, LineReader
from sitrep.sources.logparse import LineParser

__all__ = ["ServiceNames"]

_HEAD_BYTES = 256
SAMPLE_BYTES = 4 << 20
"""Bytes read at each end of a large file (and of a file's new part, when it grew by more)."""
MIDDLE_SAMPLES = 8
MIDDLE_BYTES = 256 << 10


@dataclass(slots=True)
class _Known:
    size: int
    mtime: float
    head: bytes
    names: set[str] = field(default_factory=set)


class ServiceNames:
    """Service names per file, for one source's field names (`keys`: the service field and
    its fallbacks, as a line may spell them)."""

    def __init__(self, keys: tuple[str, ...]) -> None:
        spelled = {key for name in keys for key in (name, name.rsplit(".", 1)[-1])}
        self._keys = b"|".join(re.escape(k.encode()) for k in sorted(spelled))
        self._files: dict[tuple[int, int], _Known] = {}
        self._pattern: tuple[frozenset[str], re.Pattern[bytes] | None, tuple[bytes, ...]] = (
            frozenset(),
            None,
            (),
        )

    def of(self, path: Path, parser: LineParser) -> set[str]:
        """The services `path` names (those found so far when the call's deadline cut the read
        short: then nothing is kept)."""
        try:
            with path.open("rb") as handle:
                stat = os.fstat(handle.fileno())
                head = handle.read(_HEAD_BYTES)
                key = (stat.st_dev, stat.st_ino)
                known = self._files.get(key)
                compressed = path.suffix == ".gz"
                if known is not None and (known.size, known.mtime, known.head) == (
                    stat.st_size,
                    stat.st_mtime,
                    head,
                ):
                    return set(known.names)
                fresh = (
                    known is None
                    or compressed
                    or stat.st_size < known.size
                    or head[: len(known.head)] != known.head
                )
                names: set[str] = set() if fresh or known is None else set(known.names)
                start = 0 if fresh or known is None else known.size
                if compressed:
                    with gzip.open(path, "rb") as stream:
                        complete = self._read_stream(stream, parser, names)  # type: ignore[arg-type]
                    end = stat.st_size
                else:
                    complete, end = self._read_plain(handle, start, stat.st_size, parser, names)
        except OSError:
            return set()
        if not complete:
            return names
        self._files[key] = _Known(end, stat.st_mtime if end == stat.st_size else -1.0, head, names)
        return set(names)

    def _read_plain(
        self, handle: IO[bytes], start: int, size: int, parser: LineParser, names: set[str]
    ) -> tuple[bool, int]:
        """Samples [start, size) of a plain file (`_samples`); returns (complete, the offset
        read to)."""
        end = start
        for block in (b for span in _samples(start, size) for b in blocks(handle, span)):
            check()
            if expired():
                return False, start
            data = block.data
            self._names_in(data, parser, names)
            stop = block.offset + len(data)
            if stop >= size and not data.endswith(b"\n") and not block.cut_lines:
                stop = block.offset + data.rfind(b"\n") + 1  # a line still being written: again next time
            end = max(end, stop)
        return True, max(end, start)

    def _read_stream(self, stream: IO[bytes], parser: LineParser, names: set[str]) -> bool:
        lines = LineReader(stream)
        batch: list[bytes] = []
        held = 0
        read = 0
        for _, raw, _ in lines.raw():
            batch.append(raw)
            held += len(raw)
            read += len(raw)
            if read > SAMPLE_BYTES:
                break
            if held > 1 << 22:
                self._names_in(b"".join(batch), parser, names)
                batch, held = [], 0
        self._names_in(b"".join(batch), parser, names)
        return lines.stopped_at is None or lines.too_long

    def _names_in(self, data: bytes, parser: LineParser, names: set[str]) -> None:
        pattern, quoted = self._known(names)
        if quoted:
            lines = data.count(b"\n") + (not data.endswith(b"\n") and bool(data))
            if sum(data.count(q) for q in quoted) == lines:
                return  # as many known names in quotes after a colon as lines: one a line
        shortcut = parser.format in ("auto", "plain") and parser.default_service in names
        for line in data.split(b"\n"):
            text = line.strip()
            if not text or (pattern is not None and pattern.search(line)):
                continue
            if shortcut and (parser.format == "plain" or not _structured(text)):
                continue  # its record could name the file's default service only, known already
            record = parser.parse_bytes(text[:MAX_LINE_BYTES])
            if record is not None and record.service:
                names.add(record.service)
                shortcut = parser.format in ("auto", "plain") and parser.default_service in names
        self._known(names)

    def _known(self, names: set[str]) -> tuple[re.Pattern[bytes] | None, tuple[bytes, ...]]:
        """A service key followed by one of `names` in quotes (for one line), and each known
        name as a JSON value (`:"name"`, `: "name"`), counted in a whole block."""
        cached, pattern, quoted = self._pattern
        if cached == names:
            return pattern, quoted
        usable = sorted(n for n in names if n.isascii() and '"' not in n and "\\" not in n)
        if not usable:
            pattern, quoted = None, ()
        else:
            choice = b"|".join(re.escape(n.encode()) for n in usable)
            pattern = re.compile(rb'"(?:' + self._keys + rb')"\s*:\s*"(?:' + choice + rb')"')
            quoted = tuple(f'{gap}"{n}"'.encode() for n in usable for gap in (":", ": "))
        self._pattern = (frozenset(names), pattern, quoted)
        return pattern, quoted


def _samples(start: int, size: int) -> list[Span]:
    """The stretches of [start, size) read for names: all of it when small, else its ends and
    a few stretches between (ascending; a line belongs to the stretch it starts in)."""
    if size - start <= 2 * SAMPLE_BYTES + MIDDLE_SAMPLES * MIDDLE_BYTES:
        return [Span(start, size, False)]
    spans = [Span(start, start + SAMPLE_BYTES, False)]
    for i in range(1, MIDDLE_SAMPLES + 1):
        middle = start + (size - start) * i // (MIDDLE_SAMPLES + 1)
        spans.append(Span(middle, middle + MIDDLE_BYTES, False))
    spans.append(Span(size - SAMPLE_BYTES, size, False))
    return spans


_LOGFMT_START = re.compile(rb"^[A-Za-z_@][\w.@-]*=")


def _structured(text: bytes) -> bool:
    """A (stripped) line that `format = "auto"` reads as JSON or logfmt, not as plain text."""
    return text[:1] == b"{" or _LOGFMT_START.match(text) is not None
