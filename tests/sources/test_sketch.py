import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sitrep.domain import percentile
from sitrep.sources import sketch as sketch_module
from sitrep.sources.sketch import EXACT_LIMIT, RELATIVE_ACCURACY, Quantiles

QS = (0.0, 0.01, 0.5, 0.9, 0.95, 0.99, 1.0)


def filled(values: list[float]) -> Quantiles:
    sketch = Quantiles()
    for value in values:
        sketch.add(value)
    return sketch


def test_a_small_window_is_exact() -> None:
    values = [random.Random(1).lognormvariate(4, 1) for _ in range(EXACT_LIMIT)]
    sketch = filled(values)
    assert sketch.exact
    for q in QS:
        assert sketch.quantile(q) == percentile(sorted(values), q)
    assert Quantiles().quantile(0.5) is None


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_large_window_is_within_the_stated_bound_in_bounded_memory(seed: int) -> None:
    rng = random.Random(seed)
    values = [rng.lognormvariate(3.8, 1.2) for _ in range(200_000)] + [0.0] * 50
    sketch = filled(values)
    assert not sketch.exact
    ordered = sorted(values)
    for q in QS:
        exact = percentile(ordered, q)
        assert exact is not None
        assert sketch.quantile(q) == pytest.approx(exact, rel=RELATIVE_ACCURACY, abs=1e-9)
    assert len(sketch._positive) < 2000  # counters, not values


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.floats(min_value=0, max_value=1e9) | st.sampled_from([0.0, 1.0, 250.0]), min_size=1, max_size=300
    ),
    st.sampled_from(QS),
)
def test_any_durations_past_the_limit_stay_within_the_bound(values: list[float], q: float) -> None:
    exact = percentile(sorted(values), q)
    assert exact is not None
    with_limit = sketch_module.EXACT_LIMIT
    sketch_module.EXACT_LIMIT = 0  # every value in the sketch
    try:
        got = filled(values).quantile(q)
    finally:
        sketch_module.EXACT_LIMIT = with_limit
    assert got is not None
    # Within 1% of the exact figure, plus the values under 1e-9 the sketch counts as zero.
    assert abs(got - exact) <= RELATIVE_ACCURACY * abs(exact) + 1e-9 + 1e-12


def test_sketches_merge_as_one() -> None:
    rng = random.Random(7)
    values = [rng.expovariate(0.01) for _ in range(30_000)]
    left, right = filled(values[:10_000]), filled(values[10_000:])
    left.merge(right)
    whole = filled(values)
    for q in QS:
        assert left.quantile(q) == pytest.approx(whole.quantile(q), rel=1e-12)
    assert len(left) == len(values)
