import pytest

from sitrep.analysis.error_summary import summarize_patterns
from sitrep.domain import MessageGroup

BASELINE, CURRENT = 0, 1


def group(message: str, ts: float, service: str = "api", count: int = 1) -> MessageGroup:
    return MessageGroup(message, count, ts, ts, {service: count})


def test_counts_add_up_and_new_means_absent_from_the_baseline() -> None:
    lines = [
        (BASELINE, group("timeout after 30 ms calling db-1", 1)),
        (CURRENT, group("timeout after 45 ms calling db-2", 10)),
        (CURRENT, group("timeout after 50 ms calling db-3", 12, "worker")),
        (CURRENT, group("column discount_code does not exist", 11)),
        (CURRENT, group("column discount_code does not exist", 13)),
        (CURRENT, group("column discount_code does not exist", 14)),
    ]
    summary = summarize_patterns(lines, current=CURRENT)
    assert summary.total == 5 and summary.baseline_total == 1
    assert sum(p.count for p in summary.patterns) + summary.unmined == summary.total
    top = summary.patterns[0]
    assert (top.template, top.count, top.baseline_count) == ("column discount_code does not exist", 3, 0)
    assert (top.first_ts, top.last_ts) == (11, 14)
    timeout = summary.patterns[1]
    assert timeout.baseline_count == 1 and timeout.services == {"api": 1, "worker": 1}
    assert timeout.example == "timeout after 45 ms calling db-2"  # the earliest line in the window


def test_grouped_and_line_by_line_input_give_the_same_answer() -> None:
    one_by_one = [(CURRENT, group("user 7 not found", 5.0)) for _ in range(4)]
    grouped = [(CURRENT, MessageGroup("user 7 not found", 4, 5.0, 5.0, {"api": 4}))]
    a, b = summarize_patterns(one_by_one, CURRENT), summarize_patterns(grouped, CURRENT)
    assert [(p.pattern_id, p.count, p.example, p.services) for p in a.patterns] == [
        (p.pattern_id, p.count, p.example, p.services) for p in b.patterns
    ]


def test_the_cap_is_counted_not_lost() -> None:
    lines = [(CURRENT, group(f"error kind{i} happened", float(i))) for i in range(5)]
    summary = summarize_patterns(lines, CURRENT, max_groups=2)
    assert summary.total == 5
    assert sum(p.count for p in summary.patterns) + summary.unmined == 5
    assert summary.unmined > 0


def test_lines_a_backend_could_not_return_still_count() -> None:
    lines = [(CURRENT, group("disk full", 1.0))]
    summary = summarize_patterns(lines, CURRENT, ungrouped={CURRENT: 7, BASELINE: 3})
    assert (summary.total, summary.unmined, summary.baseline_total) == (8, 7, 3)


def _lines(
    window: int, message: str, count: int, start: float, step: float = 1.0
) -> list[tuple[int, MessageGroup]]:
    return [(window, group(message, start + i * step)) for i in range(count)]


def test_patterns_come_most_surprising_first_with_their_change() -> None:
    # A 10-minute window after a 30-minute baseline: at an unchanged rate the window holds a
    # quarter of a pattern's lines.
    lines = [
        *_lines(BASELINE, "cache miss for key <k>", 300, 0.0),
        *_lines(CURRENT, "cache miss for key <k>", 100, 1800.0, 5.0),  # the same rate: chronic
        *_lines(BASELINE, "payment declined for card", 6, 0.0, 60.0),
        *_lines(CURRENT, "payment declined for card", 40, 1800.0, 10.0),  # 20 times the rate
        *_lines(CURRENT, "column discount_code does not exist", 5, 2000.0),  # new, and few
        *_lines(BASELINE, "disk quota warning on volume", 80, 0.0, 20.0),
        *_lines(CURRENT, "disk quota warning on volume", 2, 1800.0),  # fell
        *_lines(BASELINE, "legacy endpoint called", 40, 0.0, 40.0),  # gone
    ]
    summary = summarize_patterns(lines, CURRENT, lengths=(600.0, 1800.0))
    order = [(p.template, p.change) for p in summary.patterns]
    assert order == [
        ("payment declined for card", "increased"),
        ("column discount_code does not exist", "new"),
        ("cache miss for key <k>", "chronic"),
        ("disk quota warning on volume", "decreased"),
    ]
    declined = summary.patterns[0]
    assert declined.ratio == pytest.approx(20.0) and declined.p_value is not None and declined.p_value < 1e-15
    # Five new lines where a quarter of them would be expected by chance: (1/4)^5.
    assert summary.patterns[1].p_value == pytest.approx(0.25**5)
    [gone] = summary.gone
    assert (gone.template, gone.count, gone.baseline_count, gone.change) == (
        "legacy endpoint called",
        0,
        40,
        "gone",
    )
    assert gone.p_value == pytest.approx(0.75**40)
    assert sum(p.count for p in summary.patterns) == summary.total


def test_a_pattern_at_the_baselines_rate_is_chronic_however_large() -> None:
    lines = [
        *_lines(BASELINE, "slow query", 3000, 0.0, 0.5),
        *_lines(CURRENT, "slow query", 1000, 1800.0, 0.5),
    ]
    [slow] = summarize_patterns(lines, CURRENT, lengths=(600.0, 1800.0)).patterns
    assert slow.change == "chronic" and slow.ratio == pytest.approx(1.0)


def test_without_lengths_or_baseline_lines_nothing_is_judged() -> None:
    lines = [*_lines(CURRENT, "a happened", 1, 1.0), *_lines(CURRENT, "b happened here", 3, 2.0)]
    for summary in (
        summarize_patterns(lines, CURRENT),
        summarize_patterns(lines, CURRENT, lengths=(60.0, 60.0)),
    ):
        assert [(p.count, p.change, p.p_value) for p in summary.patterns] == [
            (3, None, None),
            (1, None, None),
        ]
        assert summary.gone == []


def test_labels_say_what_decided_them() -> None:
    lines = [
        *_lines(CURRENT, "Read timed out calling db", 3, 0.0),
        *_lines(CURRENT, "order rejected by rule", 30, 0.0, 1.0),  # stopped at 29 s
        *_lines(CURRENT, "ticket left info empty", 30, 0.0, 20.0),  # still going at 580 s
    ]
    found = {p.template: (p.label, p.signal) for p in summarize_patterns(lines, CURRENT).patterns}
    assert found == {
        "Read timed out calling db": ("transient", "timed out"),
        "order rejected by rule": ("transient", "timing: stopped 9 min before the window's last line"),
        "ticket left info empty": ("transient", "default: no sign of a lasting cause"),
    }
    persistent = summarize_patterns(_lines(CURRENT, "column discount_code does not exist", 2, 0.0), CURRENT)
    assert [(p.label, p.signal) for p in persistent.patterns] == [("persistent", "does not exist")]
