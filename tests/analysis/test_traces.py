"""Time laid to each service between the lines of its traces, on real Nezha traces."""

import gzip
import json
from datetime import datetime
from pathlib import Path

import pytest

from sitrep.analysis import changed
from sitrep.analysis.changed import TRACE_TIME, trace_signals
from sitrep.analysis.traces import attributed_gaps, trace_times
from sitrep.domain import TraceStep

NEZHA_13H = Path(__file__).parents[1] / "fixtures" / "nezha" / "trainticket-2023-01-30-13h.jsonl.gz"


@pytest.fixture(scope="module")
def real() -> dict[str, list[TraceStep]]:
    """The excerpt's traces (by TraceID), as the file source hands them over."""
    traces: dict[str, list[TraceStep]] = {}
    with gzip.open(NEZHA_13H, "rt") as handle:
        for raw in handle:
            line = json.loads(raw)
            trace = line.get("trace", {}).get("id")
            if trace:
                ts = datetime.fromisoformat(line["@timestamp"].replace("Z", "+00:00")).timestamp()
                traces.setdefault(trace, []).append(
                    TraceStep(ts, line["service"]["name"], line["span"]["id"])
                )
    return traces


def test_a_call_its_work_and_its_answer_are_the_callee_s_time() -> None:
    # api logs, calls db (10 ms to reach it), db logs twice (5 ms of work), api logs the
    # answer 25 ms later, then works 3 ms more
    steps = [
        TraceStep(100.000, "api"),
        TraceStep(100.010, "db"),
        TraceStep(100.015, "db"),
        TraceStep(100.040, "api"),
        TraceStep(100.043, "api"),
    ]
    gaps = attributed_gaps(list(reversed(steps)))  # any order: sorted by time
    assert [(owner, round(ms)) for _, owner, ms in gaps] == [("db", 10), ("db", 5), ("db", 25), ("api", 3)]
    times = trace_times({"t": steps}, [(99.0, 101.0)])
    assert times == {"db": [[pytest.approx(40.0)]], "api": [[pytest.approx(3.0)]]}


def test_every_gap_of_a_real_trace_is_laid_to_exactly_one_service(real: dict[str, list[TraceStep]]) -> None:
    long_ones = [steps for steps in real.values() if len({s.service for s in steps}) >= 5]
    assert len(long_ones) > 20
    for steps in long_ones:
        ordered = sorted(s.ts for s in steps)
        gaps = attributed_gaps(steps)
        assert len(gaps) == len(steps) - 1
        assert sum(ms for _, _, ms in gaps) == pytest.approx((ordered[-1] - ordered[0]) * 1000)
        assert {owner for _, owner, _ in gaps} <= {s.service for s in steps}


def test_the_service_that_starts_a_real_trace_is_not_charged_for_its_callees(
    real: dict[str, list[TraceStep]],
) -> None:
    # ts-travel-service answers a trip query by calling basic, route, price, seat … in turn:
    # the whole trace takes far longer than the time laid to it
    queries = [s for s in real.values() if min(s, key=lambda x: x.ts).service == "ts-travel-service"]
    queries = [s for s in queries if len({x.service for x in s}) >= 5]
    assert queries
    for steps in queries:
        window = [(min(s.ts for s in steps) - 1, max(s.ts for s in steps) + 1)]
        times = trace_times({"q": steps}, window)
        whole = (max(s.ts for s in steps) - min(s.ts for s in steps)) * 1000
        (mine,) = times["ts-travel-service"][0]
        assert mine < whole
        assert sum(sum(v[0]) for v in times.values()) == pytest.approx(whole)


def test_each_trace_is_a_sample_in_the_window_where_it_ended_in_time_order() -> None:
    def call(at: float, ms: float) -> list[TraceStep]:
        return [TraceStep(at, "api"), TraceStep(at + ms / 1000, "db")]

    traces = {
        "a": call(0.7, 10),
        "b": call(0.5, 30),
        "c": call(0.6, 20),
        "d": call(1.5, 50),
        "e": call(5.0, 1),
    }
    times = trace_times(traces, [(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)])
    approx = pytest.approx
    assert times == {"db": [[approx(30.0), approx(20.0), approx(10.0)], [approx(50.0)], []]}  # e in none


def test_signals_take_every_trace_of_the_covered_buckets_and_hurt_when_rising() -> None:
    times = {"db": [[2.0, 4.0], [], [3.0], [9.0, 8.0], [7.0]], "idle": [[1.0], [], [], [], []]}
    found = trace_signals(times, [0, 1, 2], [3, 4])
    assert len(found) == 1  # idle has no trace after the moment: nothing to compare
    (db,) = found
    assert (db.service, db.name, db.source, db.bad) == ("db", TRACE_TIME, "logs", "up")
    assert (list(db.before), list(db.after)) == ([2.0, 4.0, 3.0], [9.0, 8.0, 7.0])


def test_a_busy_side_is_thinned_evenly_in_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(changed, "MAX_TRACE_SAMPLES", 4)
    (db,) = trace_signals({"db": [[float(i) for i in range(10)], [100.0, 101.0]]}, [0], [1])
    assert list(db.before) == [0.0, 2.0, 5.0, 7.0] and list(db.after) == [100.0, 101.0]
