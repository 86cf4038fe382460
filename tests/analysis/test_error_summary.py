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
