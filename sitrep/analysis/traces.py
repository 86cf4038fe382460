"""Time spent between the log lines of distributed traces, per service: a latency signal from
logs that carry trace ids but no durations.

The lines of one trace, in time order, are the steps of one request through the services. The
gap between two consecutive lines is time the request spent somewhere, and it is laid at the
door of the service it was spent in or waiting on:

- two lines of one service: that service worked (or waited on something it does not log);
- a service's first line in the trace after another's: the request was handed to it (the call,
  its network path, its work before its first line): the later service;
- a service that had already written a line in the trace, after another's: it was waiting on
  the other to answer (the call returned): the earlier service.

A service's time in a trace is the sum of the gaps laid to it: however many lines it writes,
a delay on each call into it and each answer out of it adds to that sum once, and starved CPU
stretches it. Its callers' time does not move: they were waiting, and the wait is laid to it.
Each trace is one sample of a service's time, in milliseconds, placed in the bucket where its
last gap laid to that service ended: a quiet service with a few traces a minute is judged on
every one of them, not on a median per bucket of which most would be empty.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence

from sitrep.deadline import check
from sitrep.domain import TraceStep

__all__ = ["attributed_gaps", "trace_times"]


def attributed_gaps(steps: Sequence[TraceStep]) -> list[tuple[float, str, float]]:
    """(time of the later line, service the gap is laid to, gap in ms) for each pair of
    consecutive lines of one trace (see the module's docstring)."""
    ordered = sorted(steps, key=lambda s: s.ts)
    seen: set[str] = set()
    out: list[tuple[float, str, float]] = []
    for index, step in enumerate(ordered):
        if index:
            previous = ordered[index - 1]
            if step.service == previous.service or step.service not in seen:
                owner = step.service
            else:
                owner = previous.service
            out.append((step.ts, owner, (step.ts - previous.ts) * 1000.0))
        seen.add(step.service)
    return out


def trace_times(
    traces: Mapping[str, Sequence[TraceStep]], windows: Sequence[tuple[float, float]]
) -> dict[str, list[list[float]]]:
    """Per service and window, the service's time (ms) in each trace whose last gap laid to
    it ended in the window, in the order those gaps ended."""
    starts = [start for start, _ in windows]
    found: dict[str, list[list[tuple[float, float]]]] = {}
    for count, steps in enumerate(traces.values()):
        if not count & 1023:
            check()
        if len(steps) < 2:
            continue
        mine: dict[str, tuple[float, float]] = {}
        for ts, service, gap in attributed_gaps(steps):
            total, _ = mine.get(service, (0.0, ts))
            mine[service] = (total + gap, ts)
        for service, (total, ts) in mine.items():
            index = bisect_right(starts, ts) - 1
            if index < 0 or ts >= windows[index][1]:
                continue
            per_window = found.get(service)
            if per_window is None:
                per_window = found[service] = [[] for _ in windows]
            per_window[index].append((ts, total))
    return {
        service: [[total for _, total in sorted(values)] for values in per_window]
        for service, per_window in sorted(found.items())
    }
