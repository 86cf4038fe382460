"""The change judge: is a signal's window different from its reference, which way, by how much?

Pure functions on sequences of floats. A window is judged against its reference with the
Mann–Whitney U test (exact when there are no ties and the samples are small, else the normal
approximation with tie correction and continuity correction), the Hodges–Lehmann shift (the
median of every window-minus-reference difference) with its distribution-free confidence
interval, and the rank-biserial effect size. Many tests at once are corrected with
Benjamini–Hochberg. Counts of events (a log pattern's lines in a window and in its baseline)
are compared by `compare_counts`, the conditional binomial test of two Poisson rates. Whether
there is enough data follows from the sample sizes: when even the most extreme arrangement of
the samples could not reach the level, the test cannot decide.

Written here rather than taken from SciPy: these few functions are all sitrep needs, and
`import scipy.stats` costs 4–5 s on a busy 2-core machine and SciPy with NumPy ~215 MB on
disk, for a server that otherwise starts in about a second. The tests check every function
against `scipy.stats` (a test-only dependency).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist
from typing import Literal

__all__ = [
    "Bad",
    "Change",
    "CountChange",
    "adjust_fdr",
    "compare_counts",
    "hodges_lehmann",
    "judge",
    "mann_whitney_u",
    "min_p_value",
]

Bad = Literal["up", "down", "either"]
"""Which way of change hurts: `up` (latency, errors), `down` (traffic, log volume), or
`either` when nothing says so."""

Alternative = Literal["greater", "less", "two-sided"]

EXACT_MAX_PAIRS = 400
"""The exact null distribution is computed (O(m²n)) when the samples have no ties and at most
this many window×reference pairs; beyond it the normal approximation is close enough."""

_NORMAL = NormalDist()
_ALTERNATIVE: dict[Bad, Alternative] = {"up": "greater", "down": "less", "either": "two-sided"}


@dataclass(frozen=True, slots=True)
class Change:
    """A window judged against its reference."""

    p_value: float
    """One-sided toward the bad direction, or two-sided when `bad` is `either`."""
    shift: float
    """Hodges–Lehmann estimate of window minus reference."""
    low: float
    high: float
    """The shift's confidence interval (at 1 - level, two-sided)."""
    effect: float
    """Rank-biserial correlation in [-1, 1]: +1 when every window value exceeds every reference value."""
    before: float
    """Median of the reference."""
    after: float
    """Median of the window."""
    direction: Literal["up", "down", "none"]
    """Which way the window moved (by the effect size's sign)."""
    worse: bool
    """Moved the way that hurts (either way when `bad` is `either`)."""
    enough: bool
    """False when these sample sizes cannot reach the level whatever the values."""


def judge(
    window: Sequence[float], reference: Sequence[float], bad: Bad = "either", level: float = 0.05
) -> Change:
    """Judge `window` against `reference`. Both must be non-empty to say anything: with an
    empty side the change has p = 1 and `enough` False."""
    n, m = len(window), len(reference)
    alternative = _ALTERNATIVE[bad]
    if n == 0 or m == 0:
        centre = _median(window or reference) if (window or reference) else 0.0
        return Change(1.0, 0.0, 0.0, 0.0, 0.0, centre, centre, "none", False, False)
    u, p = mann_whitney_u(window, reference, alternative)
    shift, low, high = hodges_lehmann(window, reference, level)
    effect = 2.0 * u / (n * m) - 1.0
    direction: Literal["up", "down", "none"] = "up" if effect > 0 else "down" if effect < 0 else "none"
    worse = direction != "none" and bad in {"either", direction}
    enough = min_p_value(n, m, alternative) <= level
    return Change(p, shift, low, high, effect, _median(reference), _median(window), direction, worse, enough)


def mann_whitney_u(
    x: Sequence[float], y: Sequence[float], alternative: Alternative = "two-sided"
) -> tuple[float, float]:
    """U of `x` (pairs with x above y, ties half) and its p-value, as `scipy.stats.mannwhitneyu`
    with method 'auto'-like choice: exact without ties for small samples, else asymptotic with
    continuity correction."""
    n1, n2 = len(x), len(y)
    if n1 == 0 or n2 == 0:
        raise ValueError("both samples must be non-empty")
    ranks, ties = _ranks([*x, *y])
    u1 = sum(ranks[:n1]) - n1 * (n1 + 1) / 2
    u2 = n1 * n2 - u1
    if not ties and n1 * n2 <= EXACT_MAX_PAIRS:
        return u1, _exact_p(u1, n1, n2, alternative)
    return u1, _asymptotic_p(u1, u2, n1, n2, ties, alternative)


def hodges_lehmann(x: Sequence[float], y: Sequence[float], level: float = 0.05) -> tuple[float, float, float]:
    """The median of all x - y differences, and its distribution-free (1 - level) confidence
    interval: the k-th smallest and k-th largest differences, k from U's null distribution.
    When the samples are too small for that confidence, the interval is the whole range of
    differences."""
    n1, n2 = len(x), len(y)
    differences = sorted(a - b for a in x for b in y)
    pairs = len(differences)
    k = _critical_count(n1, n2, level)
    k = min(max(k, 1), (pairs + 1) // 2)
    return _median(differences), differences[k - 1], differences[pairs - k]


def min_p_value(n1: int, n2: int, alternative: Alternative = "two-sided") -> float:
    """The smallest p-value any data can give at these sample sizes (no ties, full separation):
    one arrangement in C(n1+n2, n1), doubled for two sides."""
    if n1 == 0 or n2 == 0:
        return 1.0
    smallest = 1.0 / math.comb(n1 + n2, n1)
    return min(1.0, 2 * smallest if alternative == "two-sided" else smallest)


def adjust_fdr(p_values: Sequence[float]) -> list[float]:
    """Benjamini–Hochberg adjusted p-values (q-values), in the input's order: a test is a
    discovery at false-discovery rate q when its adjusted value is at most q."""
    count = len(p_values)
    order = sorted(range(count), key=lambda i: p_values[i], reverse=True)
    adjusted = [1.0] * count
    running = 1.0
    for position, index in enumerate(order):
        rank = count - position
        running = min(running, p_values[index] * count / rank)
        adjusted[index] = min(1.0, running)
    return adjusted


@dataclass(frozen=True, slots=True)
class CountChange:
    """A count in a window against the count in its reference, rates normalised by their lengths."""

    p_up: float
    """Chance of at least the window's count if the rate had not changed."""
    p_down: float
    """Chance of at most the window's count if the rate had not changed."""
    ratio: float | None
    """The window's rate over the reference's; None when the reference counted nothing."""


def compare_counts(
    window: int, reference: int, window_seconds: float, reference_seconds: float
) -> CountChange:
    """The conditional test of two Poisson rates: under no change, of the `window + reference`
    events each fell in the window with probability `window_seconds / (both lengths)`, so the
    window's count is binomial. Exact, with no minimum count: one line in a short window after
    none in a long reference is weak evidence, and the p-value says so."""
    if window_seconds <= 0 or reference_seconds <= 0:
        raise ValueError("both lengths must be positive")
    share = window_seconds / (window_seconds + reference_seconds)
    total = window + reference
    ratio = (window / window_seconds) / (reference / reference_seconds) if reference else None
    return CountChange(
        _binomial_at_least(window, total, share), _binomial_at_most(window, total, share), ratio
    )


def _binomial_at_least(k: int, n: int, p: float) -> float:
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if k > n * p:
        return _tail_sum(k, n, p, 1)
    return max(0.0, 1.0 - _tail_sum(k - 1, n, p, -1))


def _binomial_at_most(k: int, n: int, p: float) -> float:
    if k >= n:
        return 1.0
    if k < n * p:
        return _tail_sum(k, n, p, -1)
    return max(0.0, 1.0 - _tail_sum(k + 1, n, p, 1))


def _tail_sum(k: int, n: int, p: float, step: int) -> float:
    """P(X = k) + P(X = k + step) + … for a k on the far side of the mean, where the terms only
    shrink: summed until they no longer change the total."""
    if p <= 0.0 or p >= 1.0:
        return float((p <= 0.0 and k == 0) or (p >= 1.0 and k == n))
    log_p, log_q = math.log(p), math.log1p(-p)
    total = 0.0
    i = k
    while 0 <= i <= n:
        term = math.exp(
            math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q
        )
        total += term
        if term <= total * 1e-17:
            break
        i += step
    return min(1.0, total)


def _ranks(values: Sequence[float]) -> tuple[list[float], list[int]]:
    """Mid-ranks (1-based) and the sizes of tied groups larger than one."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    ties: list[int] = []
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for position in range(start, end + 1):
            ranks[order[position]] = (start + end) / 2 + 1
        if end > start:
            ties.append(end - start + 1)
        start = end + 1
    return ranks, ties


def _asymptotic_p(u1: float, u2: float, n1: int, n2: int, ties: list[int], alternative: Alternative) -> float:
    n = n1 + n2
    tie_term = sum(t**3 - t for t in ties) / (n * (n - 1))
    sigma = math.sqrt(n1 * n2 / 12 * ((n + 1) - tie_term))
    if sigma == 0:
        return 1.0
    u = u1 if alternative == "greater" else u2 if alternative == "less" else max(u1, u2)
    z = (u - n1 * n2 / 2 - 0.5) / sigma
    p = 1.0 - _NORMAL.cdf(z)
    return min(1.0, max(0.0, 2 * p if alternative == "two-sided" else p))


def _exact_p(u1: float, n1: int, n2: int, alternative: Alternative) -> float:
    frequencies = _u_frequencies(n1, n2)
    total = sum(frequencies)
    upper = sum(frequencies[math.ceil(u1) :]) / total  # P(U >= u1)
    lower = sum(frequencies[: math.floor(u1) + 1]) / total  # P(U <= u1)
    if alternative == "greater":
        return upper
    if alternative == "less":
        return lower
    return min(1.0, 2 * min(upper, lower))


@lru_cache(maxsize=1024)
def _u_frequencies(n1: int, n2: int) -> tuple[int, ...]:
    """How many arrangements give each U = 0 … n1·n2: the coefficients of the Gaussian
    binomial [n1+n2 choose n1]_q, built as the product of (1 - q^(n2+i)) / (1 - q^i). Kept
    once made: a fleet's signals are tested at a handful of sizes."""
    size = n1 * n2 + 1
    poly = [0] * size
    poly[0] = 1
    for i in range(1, n1 + 1):
        step = n2 + i
        for power in range(size - 1, step - 1, -1):
            poly[power] -= poly[power - step]
        for power in range(i, size):
            poly[power] += poly[power - i]
    return tuple(poly)


def _critical_count(n1: int, n2: int, level: float) -> int:
    """The largest k with P(U < k) ≤ level/2 under no change (1-based rank of the lower
    confidence limit among the sorted differences); 0 when no k reaches it."""
    if n1 * n2 <= EXACT_MAX_PAIRS:
        frequencies = _u_frequencies(n1, n2)
        total = sum(frequencies)
        cumulative = 0
        k = 0
        for count in frequencies:
            cumulative += count
            if cumulative / total > level / 2:
                break
            k += 1
        return k
    z = _NORMAL.inv_cdf(1 - level / 2)
    return math.floor(n1 * n2 / 2 - z * math.sqrt(n1 * n2 * (n1 + n2 + 1) / 12))


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
