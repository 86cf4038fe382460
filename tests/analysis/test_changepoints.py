"""Stretches where a signal left its baseline, found with the change judge's test."""

import random

from sitrep.analysis.changepoints import stretches

# ts-basic-service's CPU (millicores, the sum over its pods, one value a minute) around the
# CPU-contention fault injected at 11:59:21 on Nezha's 2023-01-30 (tests/integration shows the
# same series from the real Prometheus): 11:50-11:58, then 11:59-12:10.
CPU_BEFORE = [4.0, 7.0, 9.0, 7.0, 7.0, 6.0, 6.0, 6.0, 10.0]
CPU_RANGE = [17.0, 70.0, 477.0, 500.0, 419.0, 6.0, 8.0, 8.0, 5.0, 4.0, 6.0, 4.0]


def passed(reference: list[float], values: list[float], bad: str = "either") -> list[tuple[int, int]]:
    return [(s.start, s.end) for s in stretches(reference, values, bad) if s.passed]  # type: ignore[arg-type]


def test_a_cpu_spike_is_found_and_ends_within_the_range() -> None:
    hour_before = CPU_BEFORE * 6  # an hour of the same quiet minutes
    ((start, end),) = passed(hour_before, CPU_RANGE, "up")
    assert start == 0 and 3 <= end <= 5, "the spike's start, and its end before the range's"


def test_too_little_baseline_cannot_decide() -> None:
    """Nine minutes of baseline cannot tell a four-minute spike from chance once the many
    stretches tried are paid for: the sizes decide, not a minimum."""
    tests = stretches(CPU_BEFORE, CPU_RANGE, "up")
    assert tests and not any(t.passed for t in tests)
    assert stretches([], CPU_RANGE) == [] and stretches(CPU_BEFORE, []) == []


def test_the_direction_that_hurts() -> None:
    hour_before = CPU_BEFORE * 6
    assert passed(hour_before, CPU_RANGE, "down") == []
    drop = [v / 10 for v in hour_before[:20]]
    assert passed(hour_before, drop, "down") == [(0, 20)], "a drop lasting to the end has no end"


def test_noise_is_seldom_a_change() -> None:
    """Same distribution before and after: the stretches found in 300 series of noise stay
    near the level (the scan pays for every stretch it tries)."""
    found = 0
    for seed in range(300):
        rng = random.Random(seed)
        values = [rng.gauss(100, 10) for _ in range(90)]
        found += bool(passed(values[:60], values[60:]))
    assert found <= 15
