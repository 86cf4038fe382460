"""Reading a file line by line in bounded memory, within the call's deadline.

Iterating a file holds a whole line in memory, however long: one 1 GB line (a gzip bomb
expands to one in a second) costs 1 GB. `LineReader` reads at most `limit` bytes of a line,
discards the rest unread, and says the line was cut; it stops at the deadline and stops the
thread when the call is given up on (`calls.check`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

from sitrep.deadline import check, expired

__all__ = ["MAX_LINE_BYTES", "LineReader"]

MAX_LINE_BYTES = 1 << 20
"""A line is read up to 1 MiB; no log line worth reading is longer."""
MAX_SKIP_BYTES = 64 << 20
"""A line longer than this ends the reading of its file: finding its end would cost
seconds per GiB (a gzip bomb's one line), for a file that is no log."""
_CHECK_LINES = (1 << 12) - 1
_CHECK_BYTES = 1 << 23
"""The deadline is looked at every 4,096 lines or 8 MiB, whichever comes first."""


class LineReader:
    """(number, text, cut) for each line of a binary handle; `cut` when the line was longer
    than `limit` bytes and only its start is in `text`. After the loop, `stopped_at` is the
    number of the line where the reading stopped (the deadline came, or a line was over
    `MAX_SKIP_BYTES`: then `too_long`), or None if it read to the end."""

    def __init__(self, handle: IO[bytes], limit: int = MAX_LINE_BYTES) -> None:
        self._handle = handle
        self._limit = limit
        self.stopped_at: int | None = None
        self.too_long = False
        self.lines_cut = 0

    def __iter__(self) -> Iterator[tuple[int, str, bool]]:
        for number, raw, cut in self.raw():
            yield number, raw.decode("utf-8", "replace"), cut

    def raw(self) -> Iterator[tuple[int, bytes, bool]]:
        """As iterating, with each line's bytes as read (newline included), not decoded."""
        readline, limit = self._handle.readline, self._limit
        number = unchecked = 0
        while True:
            number += 1
            raw = readline(limit)
            if not raw:
                return
            unchecked += len(raw)
            cut = len(raw) >= limit and not raw.endswith(b"\n")
            if cut:
                self.lines_cut += 1
                if not self._discard_rest():
                    self.stopped_at = number
                    return
            elif not number & _CHECK_LINES or unchecked > _CHECK_BYTES:
                unchecked = 0
                check()
                if expired():
                    self.stopped_at = number
                    return
            yield number, raw, cut

    def _discard_rest(self) -> bool:
        """Read past the rest of an over-long line; False if the deadline came first or the
        line is over `MAX_SKIP_BYTES`."""
        readline, limit = self._handle.readline, self._limit
        skipped = 0
        while True:
            check()
            if expired():
                return False
            rest = readline(limit)
            if not rest or rest.endswith(b"\n"):
                return True
            skipped += len(rest)
            if skipped > MAX_SKIP_BYTES:
                self.too_long = True
                return False
