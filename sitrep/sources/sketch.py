"""Latency percentiles in bounded memory: exact while a window is small, then a DDSketch.

A window of a million requests must not keep a million durations. `Quantiles` keeps the
values themselves up to `EXACT_LIMIT` (so small windows, and every test fixture, get the exact
`domain.percentile`), then moves them into logarithmic buckets (DDSketch, Masson et al.,
VLDB 2019): a bucket holds the values in (gamma^(k-1), gamma^k], so any value is known to
within `RELATIVE_ACCURACY` of itself. A percentile is then the linear interpolation, as
`domain.percentile` does, between the two closest ranks, each read from its bucket: within
`RELATIVE_ACCURACY` (1%) of the exact figure. Memory is one counter per bucket in use: about
1,750 for durations from a microsecond to a day, whatever the number of requests. Sketches
merge by adding counters.
"""

from __future__ import annotations

import math
from array import array

from sitrep.domain import percentile

__all__ = ["EXACT_LIMIT", "RELATIVE_ACCURACY", "Quantiles"]

RELATIVE_ACCURACY = 0.01
"""A percentile from the sketch is within 1% of the exact one."""
EXACT_LIMIT = 4096
"""Values kept as they are (exact percentiles; 8 bytes each) before the sketch takes over."""
_GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
_LOG_GAMMA = math.log(_GAMMA)
_TINY = 1e-9
"""Values smaller than this in magnitude count as zero."""


class Quantiles:
    """Values added one by one; percentiles of them (see the module's note)."""

    __slots__ = ("_count", "_negative", "_positive", "_values", "_zeros")

    def __init__(self) -> None:
        self._values: array[float] | None = array("d")
        self._positive: dict[int, int] = {}
        self._negative: dict[int, int] = {}
        self._zeros = 0
        self._count = 0

    def __len__(self) -> int:
        return self._count

    @property
    def exact(self) -> bool:
        return self._values is not None

    def add(self, value: float) -> None:
        self._count += 1
        if self._values is not None:
            self._values.append(value)
            if len(self._values) > EXACT_LIMIT:
                values, self._values = self._values, None
                for kept in values:
                    self._bucket(kept)
            return
        self._bucket(value)

    def merge(self, other: Quantiles) -> None:
        if other._values is not None:
            for value in other._values:
                self.add(value)
            return
        if self._values is not None:
            values, self._values = self._values, None
            for kept in values:
                self._bucket(kept)
        self._count += other._count
        self._zeros += other._zeros
        for key, count in other._positive.items():
            self._positive[key] = self._positive.get(key, 0) + count
        for key, count in other._negative.items():
            self._negative[key] = self._negative.get(key, 0) + count

    def _bucket(self, value: float) -> None:
        if value > _TINY:
            key = math.ceil(math.log(value) / _LOG_GAMMA)
            self._positive[key] = self._positive.get(key, 0) + 1
        elif value < -_TINY:
            key = math.ceil(math.log(-value) / _LOG_GAMMA)
            self._negative[key] = self._negative.get(key, 0) + 1
        else:
            self._zeros += 1

    def quantile(self, q: float) -> float | None:
        """The q-quantile, interpolated between the closest ranks; None with no values."""
        if self._values is not None:
            return percentile(sorted(self._values), q)
        if not self._count:
            return None
        position = q * (self._count - 1)
        low = int(position)
        high = min(low + 1, self._count - 1)
        below, above = self._at_rank(low), self._at_rank(high)
        return below + (above - below) * (position - low)

    def _at_rank(self, rank: int) -> float:
        """The value of the rank-th smallest (from 0), to within the relative accuracy."""
        seen = 0
        for key in sorted(self._negative, reverse=True):
            seen += self._negative[key]
            if seen > rank:
                return -_value(key)
        seen += self._zeros
        if seen > rank:
            return 0.0
        for key in sorted(self._positive):
            seen += self._positive[key]
            if seen > rank:
                return _value(key)
        return _value(max(self._positive)) if self._positive else 0.0


def _value(key: int) -> float:
    """The value a bucket stands for: within the relative accuracy of all it holds."""
    return 2 * _GAMMA**key / (_GAMMA + 1)
