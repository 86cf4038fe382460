"""When a signal left its baseline in a range, and when it came back: found with the change
judge's own test.

A series of per-bucket values covers a reference stretch (the baseline, before `since`) and
the range. The range is searched for stretches whose values differ from the reference's: a
scan over candidate stretches [a, b) of the range, each of a length that is a power of two
or running to the range's end (a spike of any length is met by one within a factor of two,
and a change that lasts by a tail), scored by the Mann–Whitney U of the stretch against the
reference (its normal approximation, from one sorted copy of the reference: each value's
share of the reference below it, summed over the stretch). Only stretches that could reach
the level at all are candidates (from their sizes, `judge.min_p_value`, times how many there
are): the best is tested with `judge.mann_whitney_u` (exact where small) and its p-value
multiplied by the number of candidates (Bonferroni: the best of many costs what it should).
A stretch that passes has its edges moved to where its score is highest within half its
length (the change's length need not be a power of two), is kept, and the range before and
after it searched again. Every test made is returned, so that many signals tested together
can be corrected together (`judge.adjust_fdr`).

No threshold is fitted to any data: the level is the false-discovery rate, and whether a
stretch is long enough to say anything follows from its size and the reference's.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from sitrep.analysis.judge import Bad, mann_whitney_u, min_p_value

__all__ = ["Step", "Stretch", "step", "stretches"]

MAX_STRETCHES = 6
"""At most this many changed stretches per signal: a timeline is read by a person."""

_ALTERNATIVE = {"up": "greater", "down": "less", "either": "two-sided"}


@dataclass(frozen=True, slots=True)
class Stretch:
    """A tested stretch [start, end) of the range (indexes into the range's values), and its
    Bonferroni-corrected p-value against the reference; `passed` when within the level."""

    start: int
    end: int
    p_value: float
    passed: bool


def stretches(
    reference: Sequence[float],
    values: Sequence[float],
    bad: Bad = "either",
    level: float = 0.05,
    cuts: Sequence[int] = (),
) -> list[Stretch]:
    """Every test made while searching `values` (the range, in time order) for stretches
    that differ from `reference` the way that hurts (`bad`; either way for `either`), in the
    order made. `cuts` are indexes (a deploy's first bucket) that no stretch spans: a change
    is not dated before the deploy that came with it unless the time before it changed too."""
    if not reference or not values:
        return []
    ordered = sorted(reference)
    below = [(bisect_left(ordered, v) + bisect_right(ordered, v)) / 2 for v in values]
    tests: list[Stretch] = []
    pending = [(0, len(values))]
    while pending and sum(t.passed for t in tests) < MAX_STRETCHES:
        low, high = pending.pop()
        found = _best(reference, values, below, (low, high), bad, level, cuts)
        if found is None:
            continue
        tests.append(found)
        if found.passed:
            pending += [(low, found.start), (found.end, high)]
    return tests


def _best(
    reference: Sequence[float],
    values: Sequence[float],
    below: Sequence[float],
    within: tuple[int, int],
    bad: Bad,
    level: float,
    cuts: Sequence[int],
) -> Stretch | None:
    """The best stretch within [low, high) among those that could pass, tested; None when
    none could."""
    low, high = within
    m = len(reference)
    alternative = _ALTERNATIVE[bad]
    candidates = _candidates(low, high, len(values), m, alternative, level, tuple(sorted(set(cuts))))
    if not candidates:
        return None
    prefix = [0.0]
    for share in below[low:high]:
        prefix.append(prefix[-1] + share)

    def score(a: int, b: int) -> float:
        n = b - a
        z = (prefix[b - low] - prefix[a - low] - n * m / 2) / math.sqrt(n * m * (n + m + 1) / 12)
        return z if bad == "up" else -z if bad == "down" else abs(z)

    sign = 1.0 if bad == "up" else -1.0
    best, a, b = -math.inf, 0, 0
    for x, y, half, scale in candidates:
        z = (prefix[y - low] - prefix[x - low] - half) / scale
        z = abs(z) if bad == "either" else sign * z
        if z > best:
            best, a, b = z, x, y
    count = len(candidates)
    _, p = mann_whitney_u(values[a:b], reference, alternative)  # type: ignore[arg-type]
    corrected = min(1.0, p * count)
    if corrected <= level:
        a, b = _edges(score, (a, b), (low, high), cuts)
    return Stretch(a, b, corrected, corrected <= level)


def _edges(
    score: Callable[[int, int], float], found: tuple[int, int], within: tuple[int, int], cuts: Sequence[int]
) -> tuple[int, int]:
    """The stretch's edges placed where its score is highest within half its length of where
    the test found it (the lengths tried are powers of two; the change's need not be), never
    across one of `cuts`."""
    (a, b), (low, high) = found, within
    reach = max(1, (b - a) // 2)

    def crosses(old: int, new: int) -> bool:
        return any(min(old, new) < cut <= max(old, new) for cut in cuts)

    near = [
        (score(x, y), x, y)
        for x in range(max(low, a - reach), min(b, a + reach + 1))
        for y in range(max(x + 1, b - reach), min(high, b + reach) + 1)
        if not crosses(a, x) and not crosses(b, y)
    ]
    _, x, y = max(near, key=lambda item: item[0])
    return x, y


@dataclass(frozen=True, slots=True)
class Step:
    """A tested edge inside a stretch: the later side's first index, and the corrected p-value."""

    index: int
    p_value: float
    passed: bool


def step(values: Sequence[float], bad: Bad = "either", level: float = 0.05) -> Step | None:
    """Within a stretch already known to differ from the baseline, the edge where it moved
    again (a second deploy making things worse): every edge whose two sides could reach the
    level is a candidate, the one with the largest standardized U is tested against the
    values before it, Bonferroni over the candidates. None when no edge could pass."""
    total = len(values)
    alternative = _ALTERNATIVE[bad]
    reachable = sorted((min_p_value(total - k, k, alternative), k) for k in range(1, total))  # type: ignore[arg-type]
    count = max((n for n, (p, _) in enumerate(reachable, 1) if p * n <= level), default=0)
    if not count:
        return None
    ranks = _mid_ranks(values)
    suffix = [0.0] * (total + 1)
    for i in range(total - 1, -1, -1):
        suffix[i] = suffix[i + 1] + ranks[i]

    def score(k: int) -> float:
        after, before = total - k, k
        u = suffix[k] - after * (after + 1) / 2
        z = (u - after * before / 2) / math.sqrt(after * before * (total + 1) / 12)
        return z if bad == "up" else -z if bad == "down" else abs(z)

    best = max((k for _, k in reachable[:count]), key=score)
    _, p = mann_whitney_u(values[best:], values[:best], alternative)  # type: ignore[arg-type]
    corrected = min(1.0, p * count)
    return Step(best, corrected, corrected <= level)


def _mid_ranks(values: Sequence[float]) -> list[float]:
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for position in range(start, end + 1):
            ranks[order[position]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


@lru_cache(maxsize=256)
def _candidates(
    low: int, high: int, size: int, m: int, alternative: str, level: float, cuts: tuple[int, ...]
) -> tuple[tuple[int, int, float, float], ...]:
    """The stretches within [low, high) that could pass against a reference of `m` values,
    most promising first (the most n whose smallest reachable p-value, times n, is within
    the level), each with its score's centre and scale: they depend on sizes alone, so
    every signal of a fleet with one baseline and one range shares them."""
    spans = [(a, b) for a, b in _spans(low, high, size) if not _spans_cut(a, b, cuts)]
    reachable = sorted((min_p_value(b - a, m, alternative), a, b) for a, b in spans)  # type: ignore[arg-type]
    count = max((n for n, (p, _, _) in enumerate(reachable, 1) if p * n <= level), default=0)
    return tuple(
        (a, b, (b - a) * m / 2, math.sqrt((b - a) * m * ((b - a) + m + 1) / 12))
        for _, a, b in reachable[:count]
    )


def _spans_cut(a: int, b: int, cuts: tuple[int, ...]) -> bool:
    """Whether a cut lies strictly inside (a, b); `cuts` sorted."""
    i = bisect_right(cuts, a)
    return i < len(cuts) and cuts[i] < b


def _spans(low: int, high: int, size: int) -> list[tuple[int, int]]:
    """Candidate stretches within [low, high): every start, with each power-of-two length
    that fits and the rest of the range (to `size`) when it fits."""
    out: set[tuple[int, int]] = set()
    for a in range(low, high):
        length = 1
        while a + length <= high:
            out.add((a, a + length))
            length *= 2
        if high == size:
            out.add((a, high))
    return sorted(out)
