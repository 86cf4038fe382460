import random

from sitrep.analysis.timeline import (
    Signal,
    bucket_seconds,
    buckets,
    log_signals,
    shift_events,
    signal_shifts,
)
from sitrep.domain import WindowStats

START = 3600.0 * 10  # since; the baseline is the hour before it, one bucket a minute


def test_buckets_are_round_and_cut_at_deploys() -> None:
    assert bucket_seconds(6 * 3600) == 600
    assert bucket_seconds(90 * 86400) == 86400
    assert bucket_seconds(20 * 60, 120) == 10
    spans = buckets(1000.0, 2500.0, 600, cuts=[1900.0])
    assert spans == [(1000.0, 1200.0), (1200.0, 1800.0), (1800.0, 1900.0), (1900.0, 2400.0), (2400.0, 2500.0)]


def volume(seed: int, level: float, minutes: int = 80, drop: tuple[int, int] | None = None) -> list[float]:
    """Lines per minute as a TrainTicket service writes them: Poisson-like noise around its level."""
    rng = random.Random(seed)
    values = [max(0.0, rng.gauss(level, level**0.5)) for _ in range(minutes)]
    if drop is not None:
        for minute in range(*drop):
            values[minute] *= 0.05
    return values


def signal(service: str, values: list[float], name: str = "log volume", bad: str = "down") -> Signal:
    first = START - 3600
    return Signal(
        service, name, "logs", bad, [(first + 60 * i, v) for i, v in enumerate(values)], "lines/min"
    )  # type: ignore[arg-type]


def test_one_service_falling_silent_is_a_drop_and_a_recovery() -> None:
    fleet = [signal(f"ts-{n}-service", volume(n, 200)) for n in range(8)]
    silent = signal("ts-travel-service", volume(99, 300, drop=(65, 70)))  # minutes 5-9 of the range
    shifts, tested = signal_shifts([*fleet, silent], START)
    assert tested == 9
    ((service, began, back),) = [(s.signal.service, s.ts - START, s.back) for s in shifts]
    assert service == "ts-travel-service" and back is not None
    # the drop is minutes 5-9 of the range; the edges may take in a low minute on either side
    assert 180 <= began <= 300 and 600 <= back - START <= 720
    events, left_out = shift_events(shifts, {"log volume": 9})
    assert [(e.kind, e.service, e.ts) for e in events] == [
        ("volume_drop", "ts-travel-service", START + began),
        ("recovery", "ts-travel-service", back),
    ]
    assert left_out == 0
    assert "log volume of ts-travel-service fell from" in events[0].summary
    assert "lines/min on average (shift -" in events[0].summary and "q " in events[0].summary


def test_most_services_moving_at_once_is_one_fleet_event() -> None:
    moved = [signal(f"ts-{n}-service", volume(n, 200, drop=(62, 80))) for n in range(4)]
    still = signal("ts-order-service", volume(7, 200))
    shifts, _ = signal_shifts([*moved, still], START)
    events, _ = shift_events(shifts, {"log volume": 5})
    assert len(events) == 1 and events[0].service is None
    assert events[0].summary.startswith("log volume fell in 4 services at once")


def test_a_rise_of_log_volume_is_no_event() -> None:
    rising = signal("ts-auth-service", [v * (3 if i >= 60 else 1) for i, v in enumerate(volume(3, 100))])
    shifts, tested = signal_shifts([rising], START)
    assert tested == 1 and shifts == []


def test_log_signals_are_per_minute_and_skip_gaps() -> None:
    def stats(start: float, end: float, events: int, errors: int = 0) -> WindowStats:
        return WindowStats(start, end, events=events, requests=events, errors=errors)

    spans = [(0, 60), (60, 90), (90, 150), (150, 210), (210, 270), (270, 330), (330, 390)]
    lines = [(120, 6), (60, 3), (120, 6), (0, 0), (0, 0), (120, 6), (120, 6)]
    by_service = {
        "api": [stats(a, b, n, e) for (a, b), (n, e) in zip(spans, lines, strict=True)],
        "db": [stats(a, b, n // 2) for (a, b), (n, _) in zip(spans, lines, strict=True)],
    }
    api = {s.name: s for s in log_signals(by_service) if s.service == "api"}
    # a half-length bucket (cut at a deploy) counts per minute; the silent buckets are a gap in
    # collection, left out with their neighbours
    assert api["log volume"].samples == [(0, 120.0), (60, 120.0), (330, 120.0)]
    assert api["error lines"].samples == [(0, 6.0), (60, 6.0), (330, 6.0)]
    assert {s.name for s in log_signals(by_service) if s.service == "db"} == {"log volume"}
