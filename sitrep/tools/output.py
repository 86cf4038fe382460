"""Outputs that fit a model's context: long text cut with a marker, lists cut to a budget."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel

from sitrep.domain import ScanReport
from sitrep.redact import sanitize
from sitrep.results import Truncation, as_json

M = TypeVar("M", bound=BaseModel)


REDACT_MARGIN = 16_384
"""Text this far past what is shown is redacted with it: longer than any secret the redactor
knows whole (a private key cut off after its BEGIN line is redacted all the same)."""


def clip(text: str, limit: int) -> str:
    """Redact first (a cut could hide half a secret from the redactor), then cut to `limit`.
    Only the start of a long text is redacted: a 30 MB line costs what 16 KB of it does."""
    whole = len(text)
    clean = sanitize(text[: limit + REDACT_MARGIN])
    if whole <= limit + REDACT_MARGIN and len(clean) <= limit:
        return clean
    more = len(clean) - limit if whole <= limit + REDACT_MARGIN else whole - limit
    return f"{clean[:limit]}…[+{more} chars]"


def clip_optional(text: str | None, limit: int) -> str | None:
    return None if text is None else clip(text, limit)


def size(model: BaseModel) -> int:
    return len(as_json(model))


def fit(build: Callable[[int], M], count: int, max_chars: int, *, total: int | None = None) -> M:
    """`build(n)` makes the result with the first n of `count` items; return the largest that
    fits in `max_chars` - measured with the `truncated` mark and how many of `total` (default
    `count`) it left out, since those count too."""
    whole = count if total is None else total

    def made(n: int) -> M:
        result = build(n)
        if isinstance(result, Truncation) and n < whole:
            result = result.model_copy(update={"truncated": True, "omitted": whole - n})
        return result

    low, high = 0, count  # made(0) is assumed to fit; find the largest n that does
    if size(made(count)) <= max_chars:
        low = count
    while low < high:
        middle = (low + high + 1) // 2
        if size(made(middle)) <= max_chars:
            low = middle
        else:
            high = middle - 1
    return made(low)


def scan_notes(report: ScanReport) -> list[str]:
    """What a scan of the logs could not read, said as notes."""
    notes = list(report.notes)
    if report.lines_skipped:
        notes.append(f"{report.lines_skipped} unreadable log line(s) skipped")
    if report.partial:
        notes.append("partial answer: some log data could not be read")
    return notes
