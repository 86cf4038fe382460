"""Small statistics shared by every backend's results."""

from __future__ import annotations

from collections.abc import Sequence


def percentile(ordered: Sequence[float], q: float) -> float | None:
    """The q-quantile of sorted values by linear interpolation between closest ranks
    (numpy's default, and what OpenSearch's percentiles give on small samples)."""
    if not ordered:
        return None
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
