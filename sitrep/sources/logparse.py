"""Reading one log line: NDJSON (ECS names, nested or dotted), logfmt, or plain text with a
leading timestamp. A line that cannot be read gives None, whatever is wrong with it (corrupt,
nested a thousand deep, a number no float holds); the caller counts it.

Every text field is cut when the line is read, so that no one field of one line (a 9 KB
level, a 30 MB message) can cost more than a bounded amount anywhere downstream."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal, cast

import orjson

from sitrep.domain import LogRecord
from sitrep.settings import FieldNames

Format = Literal["auto", "ndjson", "logfmt", "plain"]

MAX_MESSAGE_CHARS = 8_192
"""A message is cut here when read: twice the widest an output shows (`max_text_chars`)."""
MAX_NAME_CHARS = 200
"""A service name is cut here."""
MAX_LEVEL_CHARS = 40

_LEVELS = {
    "trace": "trace",
    "debug": "debug",
    "dbg": "debug",
    "info": "info",
    "information": "info",
    "notice": "info",
    "warn": "warn",
    "warning": "warn",
    "error": "error",
    "err": "error",
    "severe": "error",
    "fatal": "fatal",
    "critical": "critical",
    "crit": "critical",
    "alert": "critical",
    "emerg": "critical",
    "emergency": "critical",
}
# pino and bunyan write numeric levels.
_NUMERIC_LEVELS = {10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal"}
_UNIT_TO_MS = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1000.0}

# Common spellings tried when the configured (default) field is absent, so that logs
# written by other libraries work with no configuration at all.
_FALLBACKS = {
    "timestamp": ("timestamp", "time", "ts", "@t"),
    "service": ("service", "app", "application"),
    "level": ("level", "severity", "lvl", "@l"),
    "message": ("msg", "@m", "log"),
    "status": ("status", "status_code", "http.status_code"),
}

_PLAIN = re.compile(
    r"""^\[?(?P<ts>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?)\]?\s+
    (?:\[?(?P<level>TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|SEVERE|FATAL|CRITICAL|CRIT)\]?:?\s+)?
    (?P<message>.*)$""",
    re.VERBOSE | re.IGNORECASE,
)
# A key starts a token, and no repeat gives back what it took: a 20 KB word with no `=` costs
# one pass, not one per position (which made a long plain line quadratic).
_LOGFMT_PAIR = re.compile(r'(?<!\S)([^\s=]++)=("(?:[^"\\]++|\\.)*+"|\S*+)')
_LOGFMT_START = re.compile(r"^[A-Za-z_@][\w.@-]*=")
_LOGFMT_START_BYTES = re.compile(rb"^[A-Za-z_@][\w.@-]*=")
_MAY_START = frozenset(bytes([c]) for c in b"{[0123456789 \t\r\n\x0b\x0c\x1c\x1d\x1e\x1f\xc2\xe1\xe2\xe3") | {
    b""
}
"""First bytes of a line that `parse` might read as JSON or plain text: a brace, a bracket
or digit (a leading timestamp), or the start of any white space `str.strip` removes."""


def normalize_level(value: object) -> str | None:
    """`WARNING` → `warn`, `50` → `error`; unknown words pass through in lower case."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return _NUMERIC_LEVELS.get(value)
    if isinstance(value, float):
        return _NUMERIC_LEVELS.get(int(value)) if math.isfinite(value) else None
    if not isinstance(value, str):
        return None  # an object or a list where a level belongs: no level
    text = value[:MAX_LEVEL_CHARS].strip().lower()
    return _LEVELS.get(text, text or None)


def field_keys(fields: FieldNames, role: str) -> tuple[str, ...]:
    """The keys a line may hold `role` (service, level …) under: the configured one, and the
    usual others when it is the default."""
    configured: str = getattr(fields, role)
    if configured != getattr(FieldNames(), role):
        return (configured,)
    return (configured, *_FALLBACKS.get(role, ()))


def level_spellings(level: str) -> tuple[frozenset[str], frozenset[int]]:
    """The words (any case) and numbers that `normalize_level` turns into `level`: what a
    backend that filters before parsing must match to select the same lines."""
    words = frozenset({level, *(word for word, normal in _LEVELS.items() if normal == level)})
    return words, frozenset(number for number, normal in _NUMERIC_LEVELS.items() if normal == level)


_ZULU = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}):([0-5]\d)(?:\.(\d{3}|\d{6}))?Z", re.ASCII)
"""The commonest timestamp, `2026-05-04T11:59:07.123Z`: read by its minute, looked up once."""
_MINUTES: dict[str, int] = {}
_MINUTES_KEPT = 100_000


def parse_timestamp(value: object) -> float | None:
    """ISO-8601 (naive taken as UTC) or epoch seconds, milliseconds or nanoseconds."""
    if type(value) is str and (match := _ZULU.fullmatch(value)) is not None:
        minute = _MINUTES.get(match[1])
        if minute is None:
            minute = _minute(match[1])
        if minute is not None:
            fraction = match[3]
            micros = 0 if fraction is None else int(fraction) * (1000 if len(fraction) == 3 else 1)
            # The same arithmetic as datetime.timestamp (whole microseconds over 10**6): the
            # same float to the last bit.
            return ((minute + int(match[2])) * 1_000_000 + micros) / 1_000_000
    return _parse_timestamp(value)


def _minute(prefix: str) -> int | None:
    try:
        moment = datetime.fromisoformat(prefix + ":00+00:00")
    except ValueError:
        return None
    if len(_MINUTES) >= _MINUTES_KEPT:
        _MINUTES.clear()
    _MINUTES[prefix] = minute = int(moment.timestamp())
    return minute


def _parse_timestamp(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return _epoch_seconds(value)
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace(",", "."))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    except (ValueError, OverflowError):  # not a time, or one out of range (year 1, -01:00)
        return None


def _epoch_seconds(value: float) -> float | None:
    try:
        number = float(value)
    except OverflowError:  # an int no float holds
        return None
    if not math.isfinite(number):  # 1e999 reads as inf: dividing it would never end
        return None
    while number > 1e11:  # milliseconds, microseconds or nanoseconds since the epoch
        number /= 1000.0
    return number


def _top_keys(name: str) -> frozenset[str]:
    """The top-level keys `_accessor(name)` may read: each leading part of the dotted name."""
    parts = name.split(".")
    return frozenset(".".join(parts[:stop]) for stop in range(1, len(parts) + 1))


def _accessor(name: str) -> Callable[[dict[str, Any]], Any]:
    """Read `a.b.c` as a dotted key, as nested objects, or any mix of the two."""
    parts = name.split(".")
    if len(parts) == 1:
        return lambda obj: obj.get(name)

    def get(obj: dict[str, Any]) -> Any:
        value = obj.get(name)
        if value is not None:
            return value
        current: Any = obj
        for index, part in enumerate(parts):
            if type(current) is not dict:
                return None
            found = current.get(part)
            if found is None:
                # Keys such as {"http": {"response.status_code": 200}} mix both spellings.
                return _mixed(current, parts[index:]) if any("." in k for k in current) else None
            current = found
        return current

    return _straight(name, parts, get)


def _straight(name: str, parts: list[str], get: _Getter) -> _Getter:
    """`get` with the usual nesting ({"log": {"level": ...}}) read straight first; anything
    else (a dotted key, a mix, a miss) by `get` itself, so the value is the same."""
    if len(parts) == 2:
        outer, inner = parts

        def two(obj: dict[str, Any]) -> Any:
            if name not in obj:
                found = obj.get(outer)
                if type(found) is dict and (value := found.get(inner)) is not None:
                    return value
            return get(obj)

        return two
    if len(parts) == 3:
        first, second, third = parts

        def three(obj: dict[str, Any]) -> Any:
            if name not in obj:
                found = obj.get(first)
                if type(found) is dict:
                    middle = found.get(second)
                    if type(middle) is dict and (value := middle.get(third)) is not None:
                        return value
            return get(obj)

        return three
    return get


def _mixed(obj: dict[str, Any], parts: list[str]) -> Any:
    for stop in range(len(parts), 0, -1):
        key = ".".join(parts[:stop])
        if key in obj:
            rest = parts[stop:]
            if not rest:
                return obj[key]
            value = obj[key]
            return _mixed(value, rest) if isinstance(value, dict) else None
    return None


_TEXT_OR_NONE = (str, type(None))
_LONG_DIGITS = re.compile(rb"[0-9]{19}")
"""A number that may not fit in 64 bits."""
_ROLES = ("timestamp", "service", "level", "message", "status", "duration")
_Getter = Callable[[dict[str, Any]], Any]
_Plan = tuple[_Getter, _Getter, _Getter, _Getter, _Getter, _Getter]
_PLANS_KEPT = 256
"""Line shapes (sets of top-level keys) whose plan is kept; others are planned each time."""


def _nothing(obj: dict[str, Any]) -> None:
    return None


def _first_of(getters: list[_Getter]) -> _Getter:
    """One reader trying `getters` in turn: the first value that is not None."""
    if not getters:
        return _nothing
    if len(getters) == 1:
        return getters[0]

    def first(obj: dict[str, Any]) -> Any:
        for get in getters:
            value = get(obj)
            if value is not None:
                return value
        return None

    return first


class LineParser:
    """Turns lines into `LogRecord`s with the configured field names."""

    def __init__(self, fields: FieldNames, fmt: Format = "auto", default_service: str | None = None):
        self._format = fmt
        self.format = fmt
        self.default_service = default_service
        self._duration_scale = _UNIT_TO_MS[fields.duration_unit]
        defaults = FieldNames()
        self._get: dict[str, list[Callable[[dict[str, Any]], Any]]] = {}
        self._candidates: list[list[tuple[frozenset[str], Callable[[dict[str, Any]], Any]]]] = []
        for role in _ROLES:
            configured = getattr(fields, role)
            names = [configured]
            if configured == getattr(defaults, role):
                names += _FALLBACKS.get(role, ())
            self._get[role] = [_accessor(name) for name in names]
            self._candidates.append([(_top_keys(n), g) for n, g in zip(names, self._get[role], strict=True)])
        self._plans: dict[tuple[str, ...], _Plan] = {}
        self._non_text = False
        """Whether the last mapping read had a service or message that was not a string."""
        self.timestamp_key = fields.timestamp

    def parse(self, line: str) -> LogRecord | None:
        """The record of a line, or None when it cannot be read for any reason."""
        text = line.strip()
        if not text:
            return None
        kind = self._format
        if kind == "auto":
            kind = "ndjson" if text[0] == "{" else "logfmt" if _LOGFMT_START.match(text) else "plain"
        try:
            if kind == "ndjson":
                return self._from_mapping(_load_json(text))
            if kind == "logfmt":
                return self._from_mapping(parse_logfmt(text))
            return self._from_plain(text)
        except Exception:  # one bad line (nested too deep, odd types) must not stop a read
            return None

    def parse_bytes(self, raw: bytes) -> LogRecord | None:
        """`parse` of a line as read from a file: an NDJSON line is decoded by orjson straight
        from its bytes (about twice as fast as `json` on a decoded string); any line orjson
        refuses (bad UTF-8, NaN, a number out of range, nesting too deep) takes `parse`'s
        path, so the record is the same either way."""
        first = raw[:1]
        if self._format == "auto" and first not in _MAY_START and _LOGFMT_START_BYTES.match(raw) is None:
            return None  # not JSON, logfmt or a line with a leading timestamp (and no space to strip)
        if self._format in ("auto", "ndjson") and first == b"{":
            try:
                value = orjson.loads(raw)
            except orjson.JSONDecodeError:
                pass
            else:
                try:
                    record = self._from_mapping(value) if type(value) is dict else None
                except Exception:  # as in parse
                    return None
                # orjson reads an integer past 64 bits as a float, json as an int: where such a
                # number may be written into the service or message (not a string), take
                # json's reading.
                if record is None or not self._non_text or _LONG_DIGITS.search(raw) is None:
                    return record
        return self.parse(raw.decode("utf-8", "replace"))

    def parse_mapping(self, obj: dict[str, Any]) -> LogRecord | None:
        """A document already decoded (an OpenSearch `_source`), read as an NDJSON line is."""
        try:
            return self._from_mapping(obj)
        except Exception:  # as for a line
            return None

    def _plan(self, obj: dict[str, Any]) -> _Plan:
        """Per role, the one reader of an object with these top-level keys: the accessors that
        could find anything in it (one whose top-level keys are all absent reads None from every
        such object), first to last. Objects of one shape share it: the fallbacks cost nothing
        where they cannot apply."""
        shape = tuple(obj)
        plan = self._plans.get(shape)
        if plan is None:
            keys = set(shape)
            plan = cast(
                _Plan,
                tuple(
                    _first_of([get for tops, get in found if not tops.isdisjoint(keys)])
                    for found in self._candidates
                ),
            )
            if len(self._plans) < _PLANS_KEPT:
                self._plans[shape] = plan
        return plan

    def _from_mapping(self, obj: dict[str, Any] | None) -> LogRecord | None:
        if not obj:
            return None
        timestamp, service_of, level, message, status, duration = self._plan(obj)
        ts = parse_timestamp(timestamp(obj))
        if ts is None:
            return None
        service = service_of(obj)
        text = message(obj)
        self._non_text = type(service) not in _TEXT_OR_NONE or type(text) not in _TEXT_OR_NONE
        return LogRecord(
            ts=ts,
            service=_text(service, MAX_NAME_CHARS) if service is not None else self.default_service,
            level=normalize_level(level(obj)),
            message=_message(text),
            status=_as_status(status(obj)),
            duration_ms=_as_duration(duration(obj), self._duration_scale),
        )

    def _from_plain(self, text: str) -> LogRecord | None:
        match = _PLAIN.match(text)
        if match is None:
            return None
        ts = parse_timestamp(match.group("ts"))
        if ts is None:
            return None
        return LogRecord(
            ts=ts,
            service=self.default_service,
            level=normalize_level(match.group("level")),
            message=match.group("message")[:MAX_MESSAGE_CHARS],
        )


def parse_logfmt(text: str) -> dict[str, Any]:
    pairs: dict[str, Any] = {}
    for key, raw in _LOGFMT_PAIR.findall(text):
        if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
            try:
                pairs[key] = json.loads(raw)
            except ValueError:
                pairs[key] = raw[1:-1]
        else:
            pairs[key] = raw
    return pairs


def _load_json(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _text(value: object, limit: int) -> str:
    """A field as text, cut to `limit`: a string as it is, anything else as compact JSON."""
    if isinstance(value, str):
        return value[:limit]
    return json.dumps(value, separators=(",", ":"), default=str)[:limit]


def _message(value: object) -> str:
    return "" if value is None else _text(value, MAX_MESSAGE_CHARS)


_STATUS_DIGITS = re.compile(r"[0-9]{1,3}")


def _as_status(value: object) -> int | None:
    """An HTTP status (0 to 999), or None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and _STATUS_DIGITS.fullmatch(value.strip()):
        value = int(value)
    return value if isinstance(value, int) and 0 <= value <= 999 else None


def _as_duration(value: object, scale: float) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value) if isinstance(value, int | float | str) else None
    except (ValueError, OverflowError):
        return None
    return number * scale if number is not None and math.isfinite(number * scale) else None
