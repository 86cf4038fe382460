"""Outputs that fit a model's context: long text cut with a marker, lists cut to a budget."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel

from sitrep.models import Truncation, as_json
from sitrep.redact import sanitize

M = TypeVar("M", bound=BaseModel)


def clip(text: str, limit: int) -> str:
    """Redact first (a cut could hide half a secret from the redactor), then cut to `limit`."""
    clean = sanitize(text)
    if len(clean) <= limit:
        return clean
    return f"{clean[:limit]}…[+{len(clean) - limit} chars]"


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
