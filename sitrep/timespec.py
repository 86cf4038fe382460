"""Times as tools take them: relative durations (`90m`, `6h`, `2d`) or ISO-8601."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

from sitrep.errors import InputError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_HINT = "use a duration such as 90m, 6h or 2d, or an ISO-8601 time such as 2026-11-23T08:00:00Z"
MAX_DURATION = timedelta(days=3660)
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(2999, 12, 31, tzinfo=UTC)
"""Ten years back is further than any log or deploy history sitrep reads."""


def parse_duration(value: str) -> timedelta | None:
    """`90m` → 90 minutes; None when `value` is not a duration. Longer than ten years is
    refused: it is a typo, and far enough back that dates stop being representable."""
    match = _DURATION.match(value)
    if match is None:
        return None
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
    if not seconds <= MAX_DURATION.total_seconds():  # also inf, from hundreds of digits
        raise InputError(f"{_shown(value)} reaches back more than ten years; {_HINT}")
    return timedelta(seconds=seconds)


def parse_instant(value: str) -> datetime | None:
    """An ISO-8601 time as an aware UTC datetime (naive times are taken as UTC); None if
    unreadable, or if it has no UTC equivalent (`0001-01-01T00:00+14:00` is before year 1)."""
    try:
        return _utc_instant(value)
    except OverflowError:
        return None


def _utc_instant(value: str) -> datetime | None:
    """As parse_instant, but OverflowError for a time with no UTC equivalent."""
    text = value.strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def read_instant(value: str, *, name: str) -> datetime:
    """A time a person typed, as ISO-8601, within 1970–2999; InputError saying what was wrong."""
    try:
        moment = _utc_instant(value)
    except OverflowError:
        moment = _LATEST + timedelta(days=1)  # no UTC equivalent: far outside the range
    if moment is None:
        raise InputError(f"{name}: cannot read {_shown(value)} as a time; {_HINT}")
    if not _EARLIEST <= moment <= _LATEST:
        raise InputError(f"{name}: {_shown(value)} is outside 1970–2999; {_HINT}")
    return moment


def _shown(value: str) -> str:
    """The value as an error message quotes it: cut, so a pasted page does not fill the reply."""
    text = value.strip()
    return repr(text if len(text) <= 60 else text[:60] + "…")


def parse_time(value: str, now: datetime, *, name: str) -> datetime:
    """Read a tool's time argument: a duration counts back from `now`; `now` itself is accepted."""
    if value.strip().lower() == "now":
        return now
    try:
        duration = parse_duration(value)
    except InputError as error:
        raise InputError(f"{name}: {error}") from None
    if duration is not None:
        return max(now - duration, _EARLIEST)
    return read_instant(value, name=name)


def time_range(
    since: str, until: str | None, now: datetime, *, since_name: str = "since"
) -> tuple[float, float]:
    """The [since, until) range a tool asked for, in epoch seconds; `until` defaults to now."""
    start = parse_time(since, now, name=since_name)
    end = now if until is None else parse_time(until, now, name="until")
    if start >= end:
        raise InputError(
            f"{since_name} ({isoformat(start)}) must be before until ({isoformat(end)}); "
            f"widen the range or swap the two"
        )
    return start.timestamp(), end.timestamp()


def isoformat(moment: datetime) -> str:
    """UTC, second precision unless there is a fraction, with a `Z`."""
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds" if moment.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def epoch_iso(seconds: float) -> str:
    """A POSIX time (how log records carry time) as sitrep writes times."""
    return isoformat(from_epoch(seconds))


def epoch_iso_or_none(seconds: float | None) -> str | None:
    """None for no time."""
    return None if seconds is None else epoch_iso(seconds)


def from_epoch(seconds: float) -> datetime:
    """A POSIX time as UTC; clamped to what a datetime can hold (an open window's bound may be
    infinite, a log line's number absurd)."""
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        if math.isnan(seconds):
            return _EARLIEST
        return datetime.max.replace(tzinfo=UTC) if seconds > 0 else datetime.min.replace(tzinfo=UTC)
