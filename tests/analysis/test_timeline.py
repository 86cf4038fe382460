from sitrep.analysis.timeline import bucket_seconds, buckets, spike_events
from sitrep.domain import WindowStats


def test_buckets_are_round_and_cut_at_deploys() -> None:
    assert bucket_seconds(6 * 3600) == 600
    assert bucket_seconds(90 * 86400) == 86400
    spans = buckets(1000.0, 2500.0, 600, cuts=[1900.0])
    assert spans == [(1000.0, 1200.0), (1200.0, 1800.0), (1800.0, 1900.0), (1900.0, 2400.0), (2400.0, 2500.0)]


def stats(start: float, requests: int, errors: int, p95: float) -> WindowStats:
    return WindowStats(start, start + 600, events=requests, requests=requests, errors=errors, p95_ms=p95)


def test_spikes_and_recoveries_against_the_baseline() -> None:
    baseline = stats(-86400, 10000, 20, 100)
    series = [
        stats(0, 100, 0, 100),
        stats(600, 100, 30, 900),
        stats(1200, 100, 25, 120),
        stats(1800, 100, 1, 110),
    ]
    events = [(e.ts, e.kind) for e in spike_events("api", series, baseline)]
    assert events == [(600, "error_spike"), (600, "latency_spike"), (1200, "recovery"), (1800, "recovery")]


def test_quiet_buckets_do_not_flap() -> None:
    baseline = stats(-86400, 10000, 20, 100)
    series = [stats(0, 3, 3, 100), stats(600, 100, 1, 100)]
    assert spike_events("api", series, baseline) == []
