"""Outputs that fit a model's context: long text cut with a marker, lists cut to a budget."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel

from sitrep.models import as_json
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


def fit(build: Callable[[int], M], count: int, max_chars: int) -> M:
    """`build(n)` makes the result with the first n items; return the largest that fits."""
    whole = build(count)
    if size(whole) <= max_chars:
        return whole
    low, high = 0, count  # build(low) is assumed to fit; find the largest n that does
    while low < high:
        middle = (low + high + 1) // 2
        if size(build(middle)) <= max_chars:
            low = middle
        else:
            high = middle - 1
    return build(low)
