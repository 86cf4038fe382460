"""Building OpenSearch requests and reading their answers, without a node."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sitrep.domain import LogQuery
from sitrep.settings import FieldNames
from sitrep.sources.opensearch_query import (
    MAX_REGEXP_CHARS,
    FieldMap,
    beyond_clause,
    level_clause,
    ms_ceil,
    query_filters,
    read_group_page,
    resolve_fields,
    shard_trouble,
    text_clause,
    window_counts,
)
from tests.sources.fake_opensearch import DYNAMIC_CAPS, Script, source


def dynamic() -> FieldMap:
    return resolve_fields(DYNAMIC_CAPS, FieldNames(), "logs-*")


def test_a_dynamic_mapping_gives_keyword_sub_fields() -> None:
    fields = dynamic()
    assert fields.indices == ("logs-2026.05.04",)
    assert (fields.message_keyword, fields.service, fields.level) == (
        "message.keyword",
        "service.name.keyword",
        "log.level.keyword",
    )
    assert fields.status_numeric and fields.duration == "event.duration" and fields.timestamp_problem is None
    assert fields.source_fields() == [
        "@timestamp",
        "message",
        "service.name",
        "log.level",
        "http.response.status_code",
        "event.duration",
    ]


def test_an_ecs_template_keeps_message_as_text_only() -> None:
    caps = copy.deepcopy(DYNAMIC_CAPS)
    del caps["fields"]["message.keyword"]
    caps["fields"]["service.name"] = {"keyword": {"type": "keyword", "aggregatable": True}}
    fields = resolve_fields(caps, FieldNames(), "logs-*")
    assert fields.message_keyword is None and fields.service == "service.name"


def test_a_field_that_is_keyword_in_one_index_and_text_in_another_is_not_aggregatable() -> None:
    caps = copy.deepcopy(DYNAMIC_CAPS)
    caps["fields"]["service.name"] = {
        "keyword": {"type": "keyword", "aggregatable": True, "indices": ["a"]},
        "text": {"type": "text", "aggregatable": False, "indices": ["b"]},
    }
    del caps["fields"]["service.name.keyword"]
    fields = resolve_fields(caps, FieldNames(), "logs-*")
    assert fields.service is None and fields.service_text == "service.name"
    assert fields.service_problem("deploy health") == (
        "service.name is text without a keyword sub-field in logs-*; deploy health needs an aggregatable "
        "service field: map it as keyword (or add a .keyword sub-field), or set [fields] service"
    )


@pytest.mark.parametrize(
    ("types", "problem"),
    [
        (None, "@timestamp is not mapped in logs-*; set [fields] timestamp to the date field of the logs"),
        (
            {"keyword": {"type": "keyword"}},
            "@timestamp is keyword in logs-*, not a date; time ranges need a date field",
        ),
        ({"date_nanos": {"type": "date_nanos"}}, None),
    ],
)
def test_the_timestamp_must_be_a_date(types: dict[str, Any] | None, problem: str | None) -> None:
    caps = copy.deepcopy(DYNAMIC_CAPS)
    caps["fields"].pop("@timestamp")
    if types:
        caps["fields"]["@timestamp"] = types
    assert resolve_fields(caps, FieldNames(), "logs-*").timestamp_problem == problem


def test_level_filters_match_every_spelling_in_any_case() -> None:
    clause = level_clause(dynamic(), frozenset({"error"}))
    words = [c["term"]["log.level.keyword"] for c in clause["bool"]["should"]]
    assert all(w["case_insensitive"] for w in words)
    assert [w["value"] for w in words] == ["err", "error", "severe", "50"]
    assert clause["bool"]["minimum_should_match"] == 1


def test_numeric_levels_match_pino_numbers() -> None:
    caps = copy.deepcopy(DYNAMIC_CAPS)
    caps["fields"]["log.level"] = {"long": {"type": "long", "aggregatable": True}}
    del caps["fields"]["log.level.keyword"]
    fields = resolve_fields(caps, FieldNames(), "logs-*")
    assert level_clause(fields, frozenset({"error", "fatal", "critical"})) == {
        "terms": {"log.level": [50, 60]}
    }


def test_text_is_a_case_insensitive_substring_with_its_specials_escaped() -> None:
    clause = text_clause(dynamic(), "Café *x?\\")
    regexp, long_lines = clause["bool"]["should"]
    assert regexp == {
        "regexp": {"message.keyword": {"value": ".*[cC][aA][fF][éÉ] \\*[xX]\\?\\\\.*", "flags": "NONE"}}
    }
    assert long_lines["bool"]["filter"] == [{"match_phrase": {"message": "Café *x?\\"}}]


def test_the_time_range_is_in_whole_milliseconds_end_exclusive() -> None:
    assert ms_ceil(1700000000.0) == 1700000000000
    assert ms_ceil(1700000000.0004) == 1700000000001
    [time_range] = query_filters(dynamic(), LogQuery(10.5, 20.0), 10.5, 20.0)
    assert time_range == {"range": {"@timestamp": {"gte": "10500", "lt": "20000", "format": "epoch_millis"}}}


def test_the_lines_beyond_the_last_page_are_selected_exactly() -> None:
    assert beyond_clause(dynamic(), {"m": "boom", "s": "api"}) == {
        "bool": {
            "should": [
                {"range": {"message.keyword": {"gt": "boom"}}},
                {
                    "bool": {
                        "filter": [
                            {"term": {"message.keyword": "boom"}},
                            {"range": {"service.name.keyword": {"gt": "api"}}},
                        ]
                    }
                },
            ],
            "minimum_should_match": 1,
        }
    }
    missing_service = beyond_clause(dynamic(), {"m": "boom", "s": None})
    assert missing_service["bool"]["should"][1]["bool"]["filter"][1] == {
        "exists": {"field": "service.name.keyword"}
    }


def test_a_page_of_groups_reads_counts_times_and_services() -> None:
    answer = {
        "hits": {"total": {"value": 7}},
        "aggregations": {
            "unkeyed": {"doc_count": 2},
            "pairs": {
                "after_key": {"m": "b", "s": None},
                "buckets": [
                    {"key": {"m": "a", "s": "api"}, "doc_count": 3, "ts": {"min": 1000.0, "max": 4000.0}},
                    {"key": {"m": "b", "s": None}, "doc_count": 2, "ts": {"min": 2000.0, "max": 2000.0}},
                ],
            },
        },
    }
    assert window_counts(answer) == (7, 2)
    page = read_group_page(answer, page=2)
    assert [(g.message, g.count, g.first_ts, g.last_ts, g.services) for g in page.groups] == [
        ("a", 3, 1.0, 4.0, {"api": 3}),
        ("b", 2, 2.0, 2.0, {"unknown": 2}),
    ]
    assert page.after == {"m": "b", "s": None}
    assert read_group_page(answer, page=3).after is None, "a short page is the last"


@pytest.mark.parametrize(
    ("answer", "trouble"),
    [
        ({"timed_out": False, "_shards": {"total": 3, "failed": 0}}, None),
        (
            {"timed_out": True, "_shards": {"total": 3, "failed": 0}},
            "OpenSearch stopped at its search timeout before reading every shard",
        ),
        (
            {
                "_shards": {
                    "total": 3,
                    "failed": 1,
                    "failures": [{"reason": {"type": "x", "reason": "too many clauses"}}],
                }
            },
            "1 of 3 OpenSearch shards failed: too many clauses",
        ),
    ],
)
def test_a_partial_answer_is_recognised(answer: dict[str, Any], trouble: str | None) -> None:
    assert shard_trouble(answer) == trouble


# -- long query text (issue 9) ----------------------------------------------------------------
def _regexps(clause: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if "regexp" in clause:
        found.append(next(iter(clause["regexp"].values())))
    for value in clause.get("bool", {}).values():
        for item in value if isinstance(value, list) else []:
            found += _regexps(item)
    return found


def _lucene_matches(regexp: dict[str, Any], message: str) -> bool:
    """Our regexps use only `.*`, `[xX]`, escapes and literals: Python reads them the same
    way (with ASCII-only folding for case_insensitive, as Lucene does)."""
    flags = re.DOTALL | (re.IGNORECASE | re.ASCII if regexp.get("case_insensitive") else 0)
    return re.fullmatch(regexp["value"], message, flags) is not None


@given(
    text=st.text(
        alphabet=st.sampled_from([*"abcXYZ 09", "é", "Ö", "-", ".", "*", "#", "ß"]), min_size=1, max_size=500
    ),
    data=st.data(),
)
@settings(max_examples=300, deadline=None)
def test_long_query_text_fits_the_regexp_limit_and_matches_as_files_do(
    text: str, data: st.DataObject
) -> None:
    regexps = _regexps(text_clause(dynamic(), text))
    assert regexps and all(len(r["value"]) <= MAX_REGEXP_CHARS for r in regexps)
    cased = "".join(data.draw(st.sampled_from([c, c.upper()])) if len(c.upper()) == 1 else c for c in text)
    message = f"before {cased} after"
    assert all(_lucene_matches(r, message) for r in regexps)  # the file source finds it: so must OpenSearch
    if len(regexps) == 1:  # one regexp is exact: a message without the text does not match
        other = "x" + text[1:] if text[0].lower() != "x" else "y" + text[1:]
        assert _lucene_matches(regexps[0], other) == (text.lower() in other.lower())


@pytest.mark.parametrize("text", ["a" * 250, "é" * 249, "-" * 500, "Ünïcödé " * 62, "x" * 500])
def test_query_texts_the_tool_accepts_are_accepted_by_opensearch(text: str) -> None:
    script = Script(
        [
            (200, DYNAMIC_CAPS),
            (
                200,
                {
                    "took": 1,
                    "timed_out": False,
                    "_shards": {"total": 1, "failed": 0},
                    "hits": {"total": {"value": 0}, "hits": []},
                },
            ),
        ]
    )
    page = source(script).search(LogQuery(0.0, 60.0, text=text), 10)
    assert page.total == 0
    body = json.loads(script.sent[-1][3])
    regexps = _regexps(body["query"]["bool"]["filter"][-1])
    assert regexps and all(len(r["value"]) <= MAX_REGEXP_CHARS for r in regexps)
