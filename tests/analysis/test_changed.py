"""Ranking services by the evidence of change: correction, onset spans, gaps, materiality."""

import random

from sitrep.analysis.changed import (
    SignalChange,
    SignalSeries,
    common_signals,
    covered_buckets,
    judge_onset,
    own_time,
    rank_services,
    robust_spread,
    simes,
)
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


def test_strength_is_on_the_signals_own_scale_not_its_traffic() -> None:
    rng = random.Random(5)
    # a busy service: 10,000 ± 300 lines a bucket, a dip of 15 %: material, significant, and
    # about five of its usual deviations
    busy = SignalSeries(
        "busy",
        "log volume",
        "logs",
        "down",
        [rng.gauss(10000, 300) for _ in range(30)],
        [rng.gauss(8500, 300) for _ in range(10)],
    )
    # a quiet service whose latency left its usual range far behind
    quiet = SignalSeries("quiet", "latency p50", "logs", "up", noise(rng, 30, 20), noise(rng, 10, 60))
    ranked, _ = rank_services([busy, quiet])
    assert all(s.signals[0].q_value < 1e-3 for s in ranked)
    assert [s.service for s in ranked] == ["quiet", "busy"]
    assert ranked[0].score == ranked[0].signals[0].strength > ranked[1].score


def test_a_reference_with_a_few_outliers_keeps_its_spread() -> None:
    steady = [10.0, 11.0, 9.0, 10.0, 11.0, 9.0, 10.0, 10.0, 11.0, 9.0]
    assert robust_spread(steady, []) == robust_spread([*steady[:-2], 500.0, 900.0], [])
    assert robust_spread([0.0] * 10, [0.0, 4.0]) == 4.0 / 12  # mostly zero: both sides' deviation
    assert robust_spread([3.0] * 5, [3.0] * 5) == 1.0


def test_a_shift_shared_by_most_services_is_evidence_against_none() -> None:
    rng = random.Random(7)
    series = [
        SignalSeries(f"svc{i}", "cpu", "metrics", "up", noise(rng, 30, 100), noise(rng, 10, 150))
        for i in range(5)
    ]
    series.append(SignalSeries("svc5", "cpu", "metrics", "up", noise(rng, 30, 100), noise(rng, 10, 100)))
    series.append(SignalSeries("svc5", "error lines", "logs", "up", noise(rng, 30, 10), noise(rng, 10, 30)))
    ranked, tested = rank_services(series)
    assert tested == 7
    assert [s.service for s in ranked] == ["svc5"]
    changes = [
        SignalChange(s, judge_onset(s), 0.0)
        for s in series  # q = 0: every worse change discovered
    ]
    assert common_signals(changes) == {"cpu"}
    assert common_signals(changes[:2]) == set()  # two services cannot make "most"


def test_a_caller_slowed_by_its_callee_is_not_blamed_its_own_time_is() -> None:
    rng = random.Random(11)
    wait_before, wait_after = noise(rng, 30, 50), noise(rng, 10, 250)  # the callee got slow
    caller_server = SignalSeries(
        "caller",
        "latency_p95",
        "metrics",
        "up",
        [w + 20 for w in wait_before],
        [w + 20 for w in wait_after],
    )
    caller_client = SignalSeries("caller", "client_latency_p95", "metrics", "up", wait_before, wait_after)
    callee = SignalSeries("callee", "latency_p95", "metrics", "up", noise(rng, 30, 40), noise(rng, 10, 240))
    ranked, tested = rank_services([caller_server, caller_client, callee])
    assert tested == 3
    assert [s.service for s in ranked] == ["callee"]
    mine = own_time([caller_server, caller_client, callee])
    assert [s.name for s in mine] == ["latency_p95 self", "client_latency_p95", "latency_p95"]
    assert mine[0].after == [20.0] * 10 or all(abs(v - 20) < 1e-9 for v in mine[0].after)
    # without the pair, the caller's serving-side latency is judged as it is, and it is blamed
    ranked, _ = rank_services([caller_server, callee])
    assert {s.service for s in ranked} == {"caller", "callee"}


def test_simes_combines_a_services_p_values_into_one() -> None:
    assert simes([]) == 1.0
    assert simes([0.04]) == 0.04
    assert simes([0.5, 0.01, 0.02, 0.9]) == min(0.01 * 4, 0.02 * 4 / 2, 0.5 * 4 / 3, 0.9)


def test_a_service_with_many_quiet_patterns_is_not_favoured_nor_hidden() -> None:
    rng = random.Random(13)
    # one service with 200 steady patterns and one that moved a little; another with one signal
    # that left its range far behind: the question is which service changed
    chatty = [
        SignalSeries("chatty", "pattern", "logs", "up", noise(rng, 30, 10), noise(rng, 10, 10), f"p{i}")
        for i in range(200)
    ]
    chatty.append(
        SignalSeries("chatty", "pattern", "logs", "up", noise(rng, 30, 10), noise(rng, 10, 13), "x")
    )
    quiet = SignalSeries("quiet", "cpu", "metrics", "up", noise(rng, 30, 5), noise(rng, 10, 400))
    ranked, tested = rank_services([*chatty, quiet])
    assert tested == 202
    assert ranked[0].service == "quiet" and ranked[0].signals[0].q_value <= 0.05


def test_a_change_in_part_of_the_window_has_strength() -> None:
    before, after = [0.0] * 30, [0.0] * 8 + [5.0, 5.0, 6.0, 3.0, 5.0, 9.0, 1.0]
    found = SignalChange(
        SignalSeries("s", "error lines", "logs", "up", before, after), judge(after, before, "up"), 0.0
    )
    assert found.change.shift == 0 and found.strength > 1
