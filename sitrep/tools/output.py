"""Outputs that fit a model's context: long text cut with a marker, lists cut to a budget."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel

from sitrep.deadline import source_not_ok
from sitrep.domain import ScanReport
from sitrep.errors import SitrepError, SourceError
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


def source_failed(error: SitrepError, source: str) -> str:
    """`error`, recorded as the failure of the source it names (else `source`) for this call's
    answer, which then says so at its top (`with_sources_not_ok`); returns it as text."""
    text = str(error)
    source_not_ok(error.source if isinstance(error, SourceError) else source, text)
    return text


MAX_NOT_OK_CHARS = 300


def with_sources_not_ok(result: M, not_ok: dict[str, str]) -> M:
    """`result` with the sources the call could not use listed first in it."""
    if not not_ok or not isinstance(result, Truncation):
        return result
    failed = [
        clip(detail if detail.startswith(f"{name}:") else f"{name}: {detail}", MAX_NOT_OK_CHARS)
        for name, detail in sorted(not_ok.items())
    ]
    return type(result).model_validate({**result.model_dump(), "sources_not_ok": failed})


def scan_notes(report: ScanReport) -> list[str]:
    """What a scan of the logs could not read, said as notes."""
    notes = list(report.notes)
    if report.lines_skipped:
        notes.append(f"{report.lines_skipped} unreadable log line(s) skipped")
    if report.partial:
        notes.append("partial answer: some log data could not be read")
    return notes
