"""The change judge, checked against scipy.stats (a test-only dependency) and by hand."""

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sitrep.analysis.judge import (
    adjust_fdr,
    compare_counts,
    hodges_lehmann,
    judge,
    mann_whitney_u,
    min_p_value,
)

stats = pytest.importorskip("scipy.stats")

ALTERNATIVES = ("greater", "less", "two-sided")
samples = st.lists(st.integers(min_value=0, max_value=6).map(float), min_size=1, max_size=30)
distinct = st.lists(
    st.floats(min_value=-1e3, max_value=1e3, allow_nan=False), min_size=1, max_size=14, unique=True
)


@settings(max_examples=150, deadline=None)
@given(x=samples, y=samples, alternative=st.sampled_from(ALTERNATIVES))
def test_u_and_p_match_scipy_with_ties(x: list[float], y: list[float], alternative: str) -> None:
    u, p = mann_whitney_u(x, y, alternative)  # type: ignore[arg-type]
    ties = len(set(x + y)) < len(x + y)
    method = "asymptotic" if ties or len(x) * len(y) > 400 else "exact"
    expected = stats.mannwhitneyu(x, y, alternative=alternative, method=method)
    assert u == pytest.approx(expected.statistic)
    if math.isnan(expected.pvalue):  # every value tied: scipy gives nan, the judge no evidence
        assert p == 1.0
    else:
        assert p == pytest.approx(expected.pvalue, rel=1e-6, abs=1e-12)


@settings(max_examples=150, deadline=None)
@given(x=distinct, y=distinct, alternative=st.sampled_from(ALTERNATIVES))
def test_exact_p_matches_scipy(x: list[float], y: list[float], alternative: str) -> None:
    if set(x) & set(y):
        return
    _, p = mann_whitney_u(x, y, alternative)  # type: ignore[arg-type]
    expected = stats.mannwhitneyu(x, y, alternative=alternative, method="exact")
    assert p == pytest.approx(expected.pvalue, rel=1e-9)


def test_large_samples_use_the_normal_approximation() -> None:
    rng = random.Random(7)
    x = [rng.gauss(1.0, 1) for _ in range(60)]
    y = [rng.gauss(0.0, 1) for _ in range(40)]
    _, p = mann_whitney_u(x, y, "greater")
    assert p == pytest.approx(stats.mannwhitneyu(x, y, alternative="greater", method="asymptotic").pvalue)
    assert p < 1e-4


@settings(max_examples=100, deadline=None)
@given(p=st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=40))
def test_fdr_matches_scipy(p: list[float]) -> None:
    assert adjust_fdr(p) == pytest.approx(list(stats.false_discovery_control(p, method="bh")))


def test_hodges_lehmann_is_the_median_difference_and_matches_scipy_shift() -> None:
    x, y = [10.0, 12.0, 11.0, 14.0, 13.0], [1.0, 2.0, 3.0, 4.0]
    shift, low, high = hodges_lehmann(x, y)
    assert shift == pytest.approx(stats.scoreatpercentile([a - b for a in x for b in y], 50))
    assert low <= shift <= high
    assert low > 0  # every difference is positive


def test_confidence_interval_covers_the_true_shift_about_as_often_as_promised() -> None:
    rng = random.Random(11)
    covered = 0
    for _ in range(300):
        x = [rng.gauss(2.0, 1) for _ in range(12)]
        y = [rng.gauss(0.0, 1) for _ in range(15)]
        _, low, high = hodges_lehmann(x, y, 0.05)
        covered += low <= 2.0 <= high
    assert 0.9 <= covered / 300 <= 0.99


def test_small_samples_are_not_enough_whatever_the_values() -> None:
    # one reference point and two window points: at best p = 1/3, never below 0.05
    change = judge([100.0, 200.0], [1.0], bad="up")
    assert not change.enough
    assert min_p_value(1, 2, "greater") == pytest.approx(1 / 3)
    # four and four, fully separated: 1/70 < 0.05, so enough, and significant
    change = judge([10.0, 11.0, 12.0, 13.0], [1.0, 2.0, 3.0, 4.0], bad="up")
    assert change.enough
    assert change.p_value == pytest.approx(1 / 70)
    assert change.worse
    assert change.direction == "up"
    assert change.effect == 1.0


def test_direction_decides_what_is_worse() -> None:
    drop = judge([1.0, 2.0, 1.0, 0.0, 1.0], [9.0, 10.0, 11.0, 10.0, 9.0], bad="up")
    assert drop.direction == "down"
    assert not drop.worse
    assert drop.p_value > 0.9  # one-sided toward up: no evidence of a rise
    either = judge([1.0, 2.0, 1.0, 0.0, 1.0], [9.0, 10.0, 11.0, 10.0, 9.0], bad="either")
    assert either.worse
    assert either.p_value < 0.05
    assert either.shift < 0
    assert either.before == 10.0
    assert either.after == 1.0


def test_no_change_and_empty_sides() -> None:
    same = judge([5.0] * 10, [5.0] * 10)
    assert same.p_value == 1.0
    assert same.direction == "none"
    assert not same.worse
    empty = judge([], [1.0, 2.0])
    assert not empty.enough
    assert empty.p_value == 1.0
    with pytest.raises(ValueError):
        mann_whitney_u([], [1.0])


@pytest.mark.parametrize(
    ("window", "reference", "window_seconds", "reference_seconds"),
    [
        (5, 0, 600, 1800),
        (0, 10, 600, 1800),
        (30, 90, 600, 1800),
        (100, 10, 600, 1800),
        (3, 1000, 60, 86400),
        (40_000, 90_000, 600, 1800),
        (1, 1, 1, 1),
    ],
)
def test_compare_counts_is_the_binomial_test_of_two_rates(
    window: int, reference: int, window_seconds: float, reference_seconds: float
) -> None:
    change = compare_counts(window, reference, window_seconds, reference_seconds)
    total, share = window + reference, window_seconds / (window_seconds + reference_seconds)
    assert change.p_up == pytest.approx(stats.binom.sf(window - 1, total, share), rel=1e-9, abs=1e-300)
    assert change.p_down == pytest.approx(stats.binom.cdf(window, total, share), rel=1e-9, abs=1e-300)
    expected = (window / window_seconds) / (reference / reference_seconds) if reference else None
    assert change.ratio == (pytest.approx(expected) if expected is not None else None)
