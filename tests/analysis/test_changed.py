"""Ranking services by the evidence of change: correction, onset spans, gaps, materiality."""

import random

from sitrep.analysis.changed import SignalSeries, covered_buckets, judge_onset, rank_services
from sitrep.analysis.judge import judge


def noise(rng: random.Random, n: int, level: float) -> list[float]:
    return [level + rng.gauss(0, level / 10) for _ in range(n)]


def test_the_service_that_moved_ranks_first_and_the_steady_ones_not_at_all() -> None:
    rng = random.Random(3)
    series = [
        SignalSeries(f"svc{i}", "log volume", "logs", "down", noise(rng, 30, 100), noise(rng, 10, 100))
        for i in range(20)
    ]
    series.append(
        SignalSeries("broken", "log volume", "logs", "down", noise(rng, 30, 100), noise(rng, 10, 40))
    )
    ranked, tested = rank_services(series)
    assert tested == 21
    assert [s.service for s in ranked] == ["broken"]
    assert ranked[0].score > 2


def test_a_slow_drift_is_significant_but_not_material() -> None:
    before = [500.0 + i * 0.1 for i in range(30)]
    after = [505.0 + i * 0.1 for i in range(10)]  # +1 %, every value above every earlier one
    assert judge(after, before, "up").p_value < 1e-6
    ranked, _ = rank_services([SignalSeries("jvm", "memory", "metrics", "up", before, after)])
    assert ranked == []


def test_a_short_change_is_found_in_a_long_window_at_a_price() -> None:
    before = [10.0, 11.0, 9.0, 10.0, 12.0, 10.0, 11.0, 9.0, 10.0, 10.0, 11.0, 9.0]
    after = [
        1.0,
        2.0,
        1.0,
        0.0,
        1.0,
        2.0,
        10.0,
        11.0,
        9.0,
        10.0,
        12.0,
        10.0,
        11.0,
        9.0,
        10.0,
        10.0,
        11.0,
        9.0,
        10.0,
        11.0,
        9.0,
        10.0,
        12.0,
        10.0,
    ]
    whole = judge(after, before, "down")
    onset = judge_onset(SignalSeries("s", "log volume", "logs", "down", before, after))
    assert onset.p_value < whole.p_value
    assert onset.p_value == min(1.0, 3 * judge(after[:6], before, "down").p_value)  # 24, 12, 6 buckets tried


def test_gaps_in_collection_are_no_data_and_their_edges_are_partial() -> None:
    assert covered_buckets([5, 6, 0, 0, 7, 8, 9, 0, 4]) == [0, 5, 8]
    assert covered_buckets([3, 3, 3]) == [0, 1, 2]
    assert covered_buckets([0, 0]) == []
