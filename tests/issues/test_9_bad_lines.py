"""Issue 9, class 1 and 2: one bad line must not take a source down, and no field of one line
may push the others out of an answer.

Generated lines (garbage, JSON nested a thousand deep, huge, odd-typed fields: objects where
strings belong, numbers out of range, NaN, huge ints) go to the parsers and, through the
server, to every tool that reads logs or the deploy log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import anyio.from_thread
import pytest
from hypothesis import given
from hypothesis import strategies as st
from mcp import Client

from sitrep.domain import LogRecord
from sitrep.settings import FieldNames
from sitrep.sources.deploy_log import _parse as parse_deploy
from sitrep.sources.logparse import MAX_LEVEL_CHARS, MAX_MESSAGE_CHARS, MAX_NAME_CHARS, LineParser
from tests.hostile import generated
from tests.issues.incident import answer, configure, good_deploy, good_line, iso, session

ODD_NUMBERS = ("1e999", "-1e999", "NaN", "Infinity", "-Infinity", "9" * 5000, "-" + "9" * 400, "1e308", "0")


def _deep(depth: int, opener: str = "[") -> str:
    closer = {"[": "]", "{": "}"}[opener]
    inner = '{"a":' * depth + "1" + "}" * depth if opener == "{" else opener * depth + closer * depth
    return inner


def odd_value() -> st.SearchStrategy[str]:
    """JSON text for a field: the wrong type, out of range, nested deep, or huge."""
    return st.one_of(
        st.sampled_from(ODD_NUMBERS),
        st.builds(_deep, st.integers(1, 3000), st.sampled_from("[{")),
        st.integers(0, 40_000).map(lambda n: json.dumps("x" * n)),
        st.dictionaries(st.text(max_size=5), st.integers(), max_size=3).map(json.dumps),
        st.text(max_size=40).map(json.dumps),
        st.sampled_from(("true", "null", "[]", "{}", '"2026-11-23T11:00:00Z"', "1795000000000")),
        st.integers(-(2**80), 2**80).map(str),
    )


@st.composite
def bad_line(draw: st.DrawFn) -> str:
    """A line no reader should choke on; some are readable, most are not."""
    kind = draw(st.integers(0, 5))
    if kind == 0:  # an NDJSON line with odd fields
        fields = (
            "@timestamp",
            "message",
            "log.level",
            "service",
            "http.response.status_code",
            "event.duration",
        )
        chosen = draw(st.lists(st.sampled_from(fields), min_size=1, max_size=6, unique=True))
        return "{" + ",".join(f'"{name}":{draw(odd_value())}' for name in chosen) + "}"
    if kind == 1:  # nested a thousand deep, in a 2 KB line
        return _deep(draw(st.integers(500, 5000)), draw(st.sampled_from("[{")))
    if kind == 2:  # logfmt with odd values
        return f"ts={draw(st.sampled_from(ODD_NUMBERS))} level={'L' * draw(st.integers(0, 9000))} msg={draw(odd_value())}"
    if kind == 3:  # plain text with a timestamp and a huge level-like word
        return f"{iso(5)} {'E' * draw(st.integers(0, 20_000))} {draw(st.text(max_size=200))}"
    if kind == 4:  # garbage
        return draw(st.binary(max_size=300)).decode("utf-8", "replace").replace("\n", " ")
    return draw(odd_value())


def _bounded(record: LogRecord | None) -> None:
    if record is None:
        return
    assert len(record.message) <= MAX_MESSAGE_CHARS
    assert record.service is None or len(record.service) <= MAX_NAME_CHARS
    assert record.level is None or len(record.level) <= MAX_LEVEL_CHARS
    assert record.status is None or 0 <= record.status <= 999
    assert record.ts == record.ts  # not NaN


@given(st.lists(bad_line(), min_size=1, max_size=5))
@generated(300)
def test_the_parsers_read_any_line_or_skip_it(lines: list[str]) -> None:
    for fmt in ("auto", "ndjson", "logfmt", "plain"):
        parser = LineParser(FieldNames(), fmt, default_service="app")  # type: ignore[arg-type]
        for line in lines:
            _bounded(parser.parse(line))
    for line in lines:
        deploy = parse_deploy(line)
        assert deploy is None or len(deploy.service) <= 200


@pytest.fixture(scope="module")
def incident(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return configure(tmp_path_factory.mktemp("bad-lines"))


@pytest.fixture(scope="module")
def served(incident: Path) -> Iterator[tuple[anyio.from_thread.BlockingPortal, Client]]:
    with (
        anyio.from_thread.start_blocking_portal() as portal,
        portal.wrap_async_context_manager(session(incident)) as client,
    ):
        yield portal, client


GOOD = 4
pytestmark = pytest.mark.anyio


@given(st.lists(bad_line(), min_size=1, max_size=8))
@generated(40)
def test_no_bad_line_takes_a_tool_down(
    incident: Path, served: tuple[anyio.from_thread.BlockingPortal, Client], lines: list[str]
) -> None:
    portal, client = served
    good = [good_line(10 + n) for n in range(GOOD)]
    (incident.parent / "logs" / "app.jsonl").write_text("\n".join([*lines, *good, *lines]) + "\n")
    (incident.parent / "deploys.jsonl").write_text(
        "\n".join([*lines, good_deploy(3, "v1"), *lines, good_deploy(1, "v2")]) + "\n"
    )

    def call(tool: str, **arguments: Any) -> Any:
        failed, text, found = portal.call(partial(answer, client, tool, **arguments))
        assert not failed, text
        assert len(text) <= 8000
        return found

    parser = LineParser(FieldNames(), "auto", default_service="app")
    unreadable = sum(1 for line in lines if line.strip() and parser.parse(line) is None)
    found = call("search_logs", since="1h", limit=500)
    assert found["total"] >= GOOD
    assert found.get("lines_skipped", 0) == 2 * unreadable  # each bad line is in the file twice
    assert call("error_patterns", since="1h", baseline="none")["total"] >= GOOD
    assert [d["version"] for d in call("recent_deploys", since="24h")["deploys"]][-2:] == ["v2", "v1"]
    call("sources_status")


async def test_a_line_nested_a_thousand_deep_is_skipped_and_counted(tmp_path: Path) -> None:
    config = configure(tmp_path)
    deep = '{"@timestamp": "' + iso(5) + '", "message": ' + "[" * 1000 + "]" * 1000 + "}"
    (tmp_path / "logs" / "app.jsonl").write_text("\n".join([good_line(3), deep, good_line(2)]) + "\n")
    (tmp_path / "deploys.jsonl").write_text("\n".join([good_deploy(2, "v1"), deep]) + "\n")
    async with session(config) as client:
        failed, text, found = await answer(client, "search_logs", since="1h")
        assert not failed, text
        assert (found["total"], found["lines_skipped"]) == (2, 1)
        failed, text, found = await answer(client, "recent_deploys", since="24h")
        assert not failed, text
        assert [d["version"] for d in found["deploys"]] == ["v1"]
        assert "1 unreadable line(s) skipped" in " ".join(found["notes"])
        failed, text, found = await answer(client, "sources_status")
        assert not failed, text
        assert any("1 unreadable line(s) skipped" in s["detail"] for s in found["sources"])


async def test_an_inf_timestamp_does_not_hang_the_reader(tmp_path: Path) -> None:
    config = configure(tmp_path)
    (tmp_path / "logs" / "app.jsonl").write_text(
        '{"@timestamp": 1e999, "message": "x"}\n' + good_line(2) + "\n"
    )
    async with session(config, deadline=5.0) as client:
        failed, text, found = await answer(client, "search_logs", since="1h")
    assert not failed, text
    assert (found["total"], found["lines_skipped"]) == (1, 1)


async def test_huge_fields_do_not_push_the_other_lines_out(tmp_path: Path) -> None:
    config = configure(tmp_path)
    huge = {
        "@timestamp": iso(1),
        "log": {"level": "E" * 9000},
        "service": {"name": "S" * 9000},
        "message": {"nested": "M" * 50_000},
        "http": {"response": {"status_code": "9" * 9000}},
    }
    lines = [json.dumps(huge), *(good_line(10 + n, f"timeout {n}") for n in range(20))]
    (tmp_path / "logs" / "app.jsonl").write_text("\n".join(lines) + "\n")
    async with session(config) as client:
        failed, text, found = await answer(client, "search_logs", since="1h", limit=50)
    assert not failed, text
    assert found["total"] == 21
    assert found["returned"] >= 15
    assert len(text) <= 8000
    assert all(len(line["level"] or "") <= MAX_LEVEL_CHARS for line in found["lines"])
