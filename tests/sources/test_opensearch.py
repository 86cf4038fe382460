"""The OpenSearch log source under faults a real node will not produce on demand: partial
answers, failed searches, bounds exceeded, a cluster that is down. The behaviour on real
data is proven against a real node in tests/integration/."""

from __future__ import annotations

import json
from typing import Any

import pytest
from opensearchpy.exceptions import ConnectionTimeout

from sitrep.domain import LogQuery
from sitrep.errors import SourceResponseError, SourceUnavailable
from sitrep.sources import opensearch
from tests.sources.fake_opensearch import DYNAMIC_CAPS, Script, error, source

CAPS = (200, DYNAMIC_CAPS)
QUERY = LogQuery(0.0, 3600.0, levels=frozenset({"error"}))


def hits(total: int, sources: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "took": 1,
        "timed_out": False,
        "_shards": {"total": 1, "failed": 0},
        "hits": {"total": {"value": total}, "hits": [{"_source": s} for s in sources]},
        **extra,
    }


def line(second: int, message: str) -> dict[str, Any]:
    return {
        "@timestamp": second * 1000,
        "service": {"name": "api"},
        "log": {"level": "error"},
        "message": message,
    }


def test_failed_shards_make_the_answer_partial_and_say_so() -> None:
    answer = hits(1, [line(5, "boom")])
    answer["_shards"] = {"total": 2, "failed": 1, "failures": [{"reason": {"reason": "node left"}}]}
    page = source(Script([CAPS, (200, answer)])).search(QUERY, 10)
    assert page.total == 1 and page.report.partial
    assert page.report.notes == [
        "partial answer: 1 of 2 OpenSearch shards failed: node left; counts may be low, retry or narrow since"
    ]


def test_a_search_timed_out_on_the_server_is_partial() -> None:
    page = source(Script([CAPS, (200, hits(0, [], timed_out=True))])).search(QUERY, 10)
    assert page.report.partial and "stopped at its search timeout" in page.report.notes[0]


def test_a_failed_search_in_an_msearch_is_an_error() -> None:
    failed = {"responses": [error("search_phase_execution_exception", "too_many_buckets", 400)[1]]}
    with pytest.raises(
        SourceResponseError, match=r"OpenSearch rejected a search \(400: search_phase_execution"
    ):
        source(Script([CAPS, (200, failed)])).scan(QUERY, groups=[(0.0, 60.0)])


def test_beyond_the_bound_a_stated_sample_keeps_the_counts_exact() -> None:
    page = {
        "after_key": {"m": "m099", "s": "api"},
        "buckets": [
            {"key": {"m": f"m{i:03}", "s": "api"}, "doc_count": 1, "ts": {"min": 1000.0, "max": 1000.0}}
            for i in range(100)
        ],
    }
    first = {**hits(150, []), "aggregations": {"unkeyed": {"doc_count": 0}, "pairs": page}}
    sample = hits(0, [line(30 + i, f"rare {i}") for i in range(10)])
    script = Script([CAPS, (200, {"responses": [first]}), (200, {"responses": [sample]})])
    scan = source(script, max_distinct_messages=100, max_sampled_lines=10).scan(QUERY, groups=[(0.0, 60.0)])
    found, report = scan.groups, scan.report
    assert len(found) == 110 and sum(g.count for _, g in found) == 110
    assert report.ungrouped == {0: 40}, "150 lines: 100 grouped exactly, 10 sampled, 40 counted"
    assert report.notes == [
        "1970-01-01T00:00:00Z–1970-01-01T00:01:00Z: more distinct messages than [opensearch] "
        "max_distinct_messages; those within it were grouped exactly, a random sample of 10 of the other "
        "50 line(s) was grouped, and 40 are counted without a pattern (narrow the range, or raise "
        "max_distinct_messages)"
    ]
    sent = json.loads(script.sent[-1][3].decode().splitlines()[1])
    assert sent["size"] == 10 and "random_score" in sent["query"]["function_score"]
    beyond = sent["query"]["function_score"]["query"]["bool"]["filter"][-1]
    assert beyond["bool"]["should"][0] == {"range": {"message.keyword": {"gt": "m099"}}}


def test_an_index_pattern_that_matches_nothing_is_said_without_searching() -> None:
    script = Script([(200, {"indices": [], "fields": {}})])
    page = source(script).search(QUERY, 10)
    assert page.total == 0 and page.report.notes == [
        "logs-* matches no OpenSearch index; check [opensearch] index"
    ]
    assert len(script.sent) == 1


def test_a_cluster_that_is_down_fails_the_read_and_shows_in_status() -> None:
    down = [ConnectionTimeout("TIMEOUT", "Read timed out", None)] * 5
    log_source = source(Script(list(down) + list(down)), timeout_seconds=2)
    with pytest.raises(Exception, match="OpenSearch timed out after 2 s"):
        log_source.search(QUERY, 10)
    status = log_source.status()
    assert not status.ok and status.detail.startswith(
        "opensearch: OpenSearch timed out after 2 s (5 attempts"
    )


def test_service_names_fail_soft() -> None:
    refused = error("security_exception", "no permissions", 403)
    assert source(Script([refused])).services() == set()


def test_unknown_credentials_fail_with_the_fix() -> None:
    refused = error("security_exception", "missing authentication credentials", 401)
    with pytest.raises(SourceUnavailable, match="set SITREP_OPENSEARCH__USERNAME"):
        source(Script([refused])).search(QUERY, 10)


def test_without_a_message_keyword_text_is_matched_as_a_phrase_and_said() -> None:
    caps = json.loads(json.dumps(DYNAMIC_CAPS))
    del caps["fields"]["message.keyword"]
    script = Script([(200, caps), (200, hits(0, []))])
    page = source(script).search(LogQuery(0.0, 60.0, text="disk full"), 10)
    assert page.report.notes == [
        "message has no keyword field in logs-*: the text was matched as a phrase of whole words, not as a substring"
    ]
    body = json.loads(script.sent[-1][3])
    assert {"match_phrase": {"message": "disk full"}} in body["query"]["bool"]["filter"]


@pytest.mark.parametrize(
    "answer",
    [
        {"took": "soon", "hits": [1, 2, 3]},
        {"took": 1, "hits": {"total": {"value": 1}, "hits": "none"}},
        {"took": 1, "hits": {"total": "many", "hits": []}},
    ],
)
def test_an_answer_of_the_wrong_shape_is_one_clear_error(answer: dict[str, Any]) -> None:
    with pytest.raises(SourceResponseError, match="OpenSearch sent an answer sitrep cannot read"):
        source(Script([CAPS, (200, answer)])).search(QUERY, 10)


def test_a_field_caps_answer_that_is_not_one_is_said_to_be_so() -> None:
    with pytest.raises(SourceResponseError, match="no indices or fields"):
        source(Script([(200, {"junk": "x" * 1000})])).search(QUERY, 10)
    status = source(
        Script([(200, {"version": {"number": "2"}}), (200, {"status": "green"}), (200, {"oops": 1})])
    )
    assert not status.status().ok


def test_services_stay_a_convenience_when_the_answer_is_garbage() -> None:
    assert source(Script([CAPS, (200, {"aggregations": "none"})])).services() == set()


def test_trace_lines_that_cannot_be_read_leave_the_groups_whole_and_say_so() -> None:
    groups = {
        **hits(1, []),
        "aggregations": {
            "unkeyed": {"doc_count": 0},
            "pairs": {
                "buckets": [
                    {"key": {"m": "boom", "s": "api"}, "doc_count": 1, "ts": {"min": 5000.0, "max": 5000.0}}
                ]
            },
        },
    }
    script = Script([CAPS, (200, {"responses": [groups]}), (200, {"no": "hits"})])
    scan = source(script).scan(QUERY, groups=[(0.0, 60.0)], traces=True)
    assert [(g.message, g.count) for _, g in scan.groups] == [("boom", 1)]
    assert scan.traces == {} and scan.report.partial
    assert scan.report.notes[0].startswith("trace lines not read: ")
    sent = json.loads(script.sent[-1][3])
    assert sent["sort"][0] == {"@timestamp": {"order": "desc"}}
    assert {"exists": {"field": "trace.id"}} in sent["query"]["bool"]["filter"][-1]["bool"]["should"]


def test_trace_lines_are_read_in_pages_until_a_short_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(opensearch, "_TRACE_PAGE", 2)

    def traced(second: int, trace: str) -> dict[str, Any]:
        return {**line(second, "m"), "trace": {"id": trace}, "span": {"id": f"s{second}"}}

    no_groups = {**hits(0, []), "aggregations": {"unkeyed": {"doc_count": 0}, "pairs": {"buckets": []}}}
    first = hits(3, [traced(9, "a"), traced(8, "b")])
    first["hits"]["hits"][-1]["sort"] = [8000, 17]
    second = hits(3, [traced(7, "a")])
    script = Script([CAPS, (200, {"responses": [no_groups]}), (200, first), (200, second)])
    scan = source(script).scan(QUERY, groups=[(0.0, 60.0)], traces=True)
    assert {t: sorted((s.ts, s.service, s.span_id) for s in steps) for t, steps in scan.traces.items()} == {
        "a": [(7000.0, "api", "s7"), (9000.0, "api", "s9")],
        "b": [(8000.0, "api", "s8")],
    }
    pages = [json.loads(sent[3]) for sent in script.sent[-2:]]
    assert "search_after" not in pages[0] and pages[1]["search_after"] == [8000, 17]
    # every level: a trace is all of its lines, whatever the query's levels
    assert "log.level" not in json.dumps(pages[0]["query"])
    assert not scan.report.notes
