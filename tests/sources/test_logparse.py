import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sitrep.domain import LogRecord
from sitrep.settings import FieldNames
from sitrep.sources.logparse import LineParser, normalize_level, parse_logfmt, parse_timestamp

T = datetime(2026, 11, 23, 8, 0, 1, 500000, tzinfo=UTC).timestamp()


def parse(line: str, **fields: str) -> LogRecord | None:
    return LineParser(FieldNames(**fields), default_service="fromfile").parse(line)  # type: ignore[arg-type]


def test_ecs_nested_ndjson() -> None:
    record = parse(
        '{"@timestamp":"2026-11-23T08:00:01.5Z","service":{"name":"checkout"},"log":{"level":"ERROR"},'
        '"message":"boom","http":{"response":{"status_code":503}},"event":{"duration":12500000}}'
    )
    assert record is not None
    assert (record.ts, record.service, record.level, record.message) == (T, "checkout", "error", "boom")
    assert (record.status, record.duration_ms) == (503, 12.5)


def test_ecs_dotted_keys_and_mixed() -> None:
    record = parse(
        '{"@timestamp":"2026-11-23T08:00:01.5Z","service.name":"a","log.level":"warn","message":"m",'
        '"http":{"response.status_code":"404"}}'
    )
    assert record is not None
    assert (record.service, record.level, record.status) == ("a", "warn", 404)


def test_common_spellings_work_without_configuration() -> None:
    record = parse('{"time":1763884801500,"level":50,"msg":"pino says","app":"api"}')
    assert record is not None
    assert (record.level, record.message, record.service) == ("error", "pino says", "api")
    assert record.ts == pytest.approx(1763884801.5)


def test_configured_field_names() -> None:
    record = parse(
        '{"ts":"2026-11-23T08:00:01.5Z","svc":"b","sev":"CRIT","text":"x","took":"250"}',
        timestamp="ts",
        service="svc",
        level="sev",
        message="text",
        duration="took",
        duration_unit="ms",
    )
    assert record is not None
    assert (record.service, record.level, record.message, record.duration_ms) == ("b", "critical", "x", 250.0)


def test_logfmt_line() -> None:
    record = parse(
        'time=2026-11-23T08:00:01.5Z level=error service=pay msg="card declined: \\"insufficient\\"" status=502'
    )
    assert record is not None
    assert (record.service, record.level, record.status) == ("pay", "error", 502)
    assert record.message == 'card declined: "insufficient"'


@pytest.mark.parametrize(
    "line",
    [
        "2026-11-23T08:00:01.5Z ERROR connection refused",
        "2026-11-23 08:00:01,500 [ERROR] connection refused",
        "[2026-11-23T08:00:01.500+00:00] error: connection refused",
    ],
)
def test_plain_lines_with_leading_timestamp(line: str) -> None:
    record = parse(line)
    assert record is not None
    assert (record.ts, record.level, record.message, record.service) == (
        T,
        "error",
        "connection refused",
        "fromfile",
    )


@pytest.mark.parametrize(
    "line",
    [
        '{"@timestamp":"2026-11-23T08:00:01Z","message":"trunc',
        "   at com.example.Foo(Foo.java:12)",
        "{}",
        '{"message":"no time"}',
        "[1, 2]",
        '{"@timestamp":"not a time","message":"x"}',
    ],
)
def test_unreadable_lines_give_none(line: str) -> None:
    assert parse(line) is None


def test_levels_and_timestamps_normalise() -> None:
    assert [normalize_level(v) for v in ("WARNING", "Err", 60, "notice", True, None)] == [
        "warn",
        "error",
        "fatal",
        "info",
        None,
        None,
    ]
    assert parse_timestamp(1763884801500000000) == pytest.approx(1763884801.5)
    assert parse_timestamp("2026-11-23T08:00:01.5") == T
    assert parse_logfmt('a=1 b="x y" c=') == {"a": "1", "b": "x y", "c": ""}


_JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
_KEYS = st.sampled_from(["@timestamp", "ts", "service", "log.level", "level", "message", "msg", "status"])


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=120),
        st.dictionaries(_KEYS, _JSONISH | st.just("2026-11-23T08:00:00Z"), max_size=5).map(
            lambda doc: json.dumps(doc).encode()
        ),
        st.text(max_size=80).map(lambda text: text.encode("utf-8", "surrogatepass")),
    )
)
def test_a_line_read_from_bytes_gives_the_record_text_gives(raw: bytes) -> None:
    parser = LineParser(FieldNames(), "auto", default_service="app")
    assert parser.parse_bytes(raw) == parser.parse(raw.decode("utf-8", "replace"))


def test_the_minute_shortcut_reads_timestamps_as_datetime_does() -> None:
    rng = random.Random(7)
    values = [
        "2026-02-30T10:00:00Z",
        "2026-05-04T11:59:60Z",
        "2026-05-04T11:59:59.9999Z",
        "2026-05-04T24:00:00Z",
    ]
    for _ in range(3000):
        moment = datetime(2000, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.uniform(0, 1e9))
        spec = rng.choice(["seconds", "milliseconds", "microseconds"])
        values.append(moment.isoformat(timespec=spec).replace("+00:00", "Z"))
    for value in values:
        try:
            slow: float | None = datetime.fromisoformat(value).timestamp()
        except ValueError:
            slow = None
        assert parse_timestamp(value) == slow, value


def test_an_integer_past_64_bits_reads_from_bytes_as_from_text() -> None:
    parser = LineParser(FieldNames())
    raw = (
        b'{"service":[-9223372036854775809],"timestamp":"0001-01-01 00:00:00","message":18446744073709551616}'
    )
    assert parser.parse_bytes(raw) == parser.parse(raw.decode())
    assert parser.parse_bytes(raw).service == "[-9223372036854775809]"  # type: ignore[union-attr]
