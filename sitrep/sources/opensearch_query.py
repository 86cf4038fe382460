"""sitrep's questions as OpenSearch requests, and the answers read back.

Where each field lives comes from `_field_caps` (`FieldMap`); a `LogQuery` becomes filters
that select exactly the lines the file source would match; message groups become composite
aggregations, so counting happens in the cluster. Window health is in `opensearch_health`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sitrep.domain import LogQuery, MessageGroup
from sitrep.errors import SourceResponseError
from sitrep.settings import FieldNames
from sitrep.sources.logparse import level_spellings

UNKNOWN_SERVICE = "unknown"
"""What lines naming no service are counted under, as the file source does."""
_KEYWORDS = frozenset({"keyword", "constant_keyword", "wildcard"})
_NUMBERS = frozenset(
    {"long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float", "unsigned_long"}
)
_DATES = frozenset({"date", "date_nanos"})
MATCH_NONE: dict[str, Any] = {"match_none": {}}


@dataclass(frozen=True, slots=True)
class FieldMap:
    """Where each fact lives in the indices the pattern matches, as their mappings say."""

    names: FieldNames
    index: str
    indices: tuple[str, ...]
    timestamp: str
    message: str
    message_keyword: str | None
    """Aggregatable exact messages; None when the message is text only."""
    service: str | None
    """Aggregatable service names."""
    service_text: str | None
    """The service field when it is text only (filtering by phrase still works)."""
    level: str | None
    level_numeric: bool
    status: str | None
    status_numeric: bool
    duration: str | None
    timestamp_problem: str | None = None

    def source_fields(self) -> list[str]:
        """What a line's `_source` needs for a LogRecord: the configured fields, nothing else."""
        names = self.names
        return [names.timestamp, names.message, names.service, names.level, names.status, names.duration]

    def service_problem(self, needed_by: str) -> str | None:
        if self.service is not None:
            return None
        what = "is text without a keyword sub-field" if self.service_text else "is not mapped"
        return (
            f"{self.service_text or 'the service field'} {what} in {self.index}; {needed_by} needs an "
            "aggregatable service field: map it as keyword (or add a .keyword sub-field), or set "
            "[fields] service"
        )


def field_caps_params(names: FieldNames) -> dict[str, str]:
    roles = (names.timestamp, names.message, names.service, names.level, names.status, names.duration)
    wanted = [pattern for name in roles for pattern in (name, f"{name}.*")]
    return {"fields": ",".join(wanted), "ignore_unavailable": "true", "allow_no_indices": "true"}


def resolve_fields(caps: Mapping[str, Any], names: FieldNames, index: str) -> FieldMap:
    """The FieldMap for a `_field_caps` answer."""
    if not isinstance(caps.get("indices"), list) or not isinstance(caps.get("fields"), dict):
        # Every _field_caps answer has both, empty when nothing matches: this is something
        # else (a proxy's page, another service on the port).
        raise SourceResponseError(
            "opensearch",
            "the _field_caps answer has no indices or fields; is [opensearch] url OpenSearch itself?",
        )
    fields: Mapping[str, Mapping[str, Any]] = caps["fields"]
    types = {name: {str(t) for t in entry} for name, entry in fields.items()}
    level = _keyword(fields, names.level)
    level_numeric = level is None and _all_in(types.get(names.level), _NUMBERS)
    service = _keyword(fields, names.service)
    return FieldMap(
        names=names,
        index=index,
        indices=tuple(str(name) for name in caps.get("indices") or ()),
        timestamp=names.timestamp,
        message=names.message,
        message_keyword=_keyword(fields, names.message),
        service=service,
        service_text=names.service if service is None and names.service in types else None,
        level=level or (names.level if names.level in types else None),
        level_numeric=level_numeric,
        status=names.status if names.status in types else None,
        status_numeric=_all_in(types.get(names.status), _NUMBERS),
        duration=names.duration if _all_in(types.get(names.duration), _NUMBERS) else None,
        timestamp_problem=_timestamp_problem(types.get(names.timestamp), names.timestamp, index),
    )


def _keyword(fields: Mapping[str, Mapping[str, Any]], name: str) -> str | None:
    """`name` itself when it is an aggregatable keyword in every index, else such a sub-field
    (`.keyword` first, as dynamic mappings name it)."""
    subfields = sorted(f for f in fields if f.startswith(name + ".") and "." not in f[len(name) + 1 :])
    for candidate in [name, f"{name}.keyword", *subfields]:
        entry = fields.get(candidate)
        if entry and all(t in _KEYWORDS and info.get("aggregatable") for t, info in entry.items()):
            return candidate
    return None


def _all_in(found: set[str] | None, kinds: frozenset[str]) -> bool:
    return bool(found) and found is not None and found <= kinds


def _timestamp_problem(found: set[str] | None, name: str, index: str) -> str | None:
    if not found:
        return f"{name} is not mapped in {index}; set [fields] timestamp to the date field of the logs"
    if not found <= _DATES:
        return f"{name} is {'/'.join(sorted(found))} in {index}, not a date; time ranges need a date field"
    return None


# -- filters ------------------------------------------------------------------------------
def ms_ceil(seconds: float) -> int:
    """Documents hold whole milliseconds: ts >= t exactly when ms >= ceil(t·1000)."""
    return math.ceil(round(seconds * 1000, 3))


def time_filter(fields: FieldMap, start: float, end: float) -> list[dict[str, Any]]:
    if not (math.isfinite(start) and math.isfinite(end)):
        return []
    return [{"range": {fields.timestamp: range_ms(start, end)}}]


def query_filters(fields: FieldMap, query: LogQuery, start: float, end: float) -> list[dict[str, Any]]:
    """Filters selecting what the file source would match in [start, end): services exactly,
    every spelling of the wanted levels in any case, the text as a case-insensitive substring."""
    filters = time_filter(fields, start, end)
    if query.services is not None:
        filters.append(service_clause(fields, query.services))
    if query.levels is not None:
        filters.append(level_clause(fields, query.levels))
    if query.text:
        filters.append(text_clause(fields, query.text))
    return filters


def service_clause(fields: FieldMap, services: Iterable[str]) -> dict[str, Any]:
    names = sorted(services)
    if fields.service is not None:
        return {"terms": {fields.service: names}}
    if fields.service_text is not None:
        return any_of([{"match_phrase": {fields.service_text: name}} for name in names])
    return MATCH_NONE


def level_clause(fields: FieldMap, levels: Iterable[str]) -> dict[str, Any]:
    if fields.level is None:
        return MATCH_NONE
    words: set[str] = set()
    numbers: set[int] = set()
    for level in levels:
        spelt, numeric = level_spellings(level)
        words |= spelt
        numbers |= numeric
    if fields.level_numeric:
        return {"terms": {fields.level: sorted(numbers)}} if numbers else MATCH_NONE
    # A keyword field holds pino's numeric levels as text ("50") when other lines spell them.
    spellings = sorted(words) + [str(number) for number in sorted(numbers)]
    return any_of([{"term": {fields.level: {"value": word, "case_insensitive": True}}} for word in spellings])


MAX_REGEXP_CHARS = 1000
"""OpenSearch's `index.max_regex_length` default: a longer regexp fails the whole search."""


def text_clause(fields: FieldMap, text: str) -> dict[str, Any]:
    """A case-insensitive substring of the message, as the file source matches: a regexp on
    the exact message, and a phrase on the text for messages too long to have one."""
    phrase = {"match_phrase": {fields.message: text}}
    if fields.message_keyword is None:
        return phrase
    unkeyed = {"bool": {"must_not": [{"exists": {"field": fields.message_keyword}}], "filter": [phrase]}}
    return any_of([_substring(fields.message_keyword, text.lower()), unkeyed])


def _substring(field: str, needle: str) -> dict[str, Any]:
    """A regexp, not a wildcard with case_insensitive: Lucene folds only ASCII case, and the
    file source folds every letter (`CAFÉ` finds `café`). Each letter spelt `[cC]` takes four
    characters, so a text of about 250 letters passes OpenSearch's regexp length limit; longer
    ones let Lucene fold ASCII letters (`case_insensitive`) and spell only other letters, and
    a text longer still is split into pieces that must all occur (a few more lines may match
    than the file source finds: the pieces are not required to be adjacent)."""
    exact = ".*" + "".join(_either_case(c) for c in needle) + ".*"
    if len(exact) <= MAX_REGEXP_CHARS:
        return {"regexp": {field: {"value": exact, "flags": "NONE"}}}
    pieces = _pieces([_folded(c) for c in needle], MAX_REGEXP_CHARS - 4)
    regexps = [
        {"regexp": {field: {"value": f".*{piece}.*", "flags": "NONE", "case_insensitive": True}}}
        for piece in pieces
    ]
    return regexps[0] if len(regexps) == 1 else {"bool": {"filter": regexps}}


def _pieces(parts: list[str], limit: int) -> list[str]:
    """Consecutive runs of `parts` joined, each at most `limit` characters."""
    pieces = [""]
    for part in parts:
        if pieces[-1] and len(pieces[-1]) + len(part) > limit:
            pieces.append("")
        pieces[-1] += part
    return pieces


_REGEXP_RESERVED = frozenset('.?+*|{}[]()"\\#@&<>~^-')


def _either_case(char: str) -> str:
    upper = char.upper()
    if upper != char and len(upper) == 1:
        return f"[{char}{upper}]"
    return "\\" + char if char in _REGEXP_RESERVED else char


def _folded(char: str) -> str:
    """As _either_case, for a regexp whose ASCII letters Lucene folds itself."""
    return char if char.isascii() and char.isalpha() else _either_case(char)


def any_of(clauses: list[dict[str, Any]]) -> dict[str, Any]:
    if not clauses:
        return MATCH_NONE
    return {"bool": {"should": clauses, "minimum_should_match": 1}}


def range_ms(start: float, end: float) -> dict[str, Any]:
    return {"gte": str(ms_ceil(start)), "lt": str(ms_ceil(end)), "format": "epoch_millis"}


def search_body(filters: list[dict[str, Any]], size: int, timeout: str, **extra: Any) -> dict[str, Any]:
    return {"size": size, "timeout": timeout, "query": {"bool": {"filter": filters}}, **extra}


# -- message groups ----------------------------------------------------------------------
GROUPS_FILTER_PATH = ",".join(
    [
        "took",
        "responses.status",
        "responses.error",
        "responses.timed_out",
        "responses._shards",
        "responses.hits.total",
        "responses.aggregations.unkeyed.doc_count",
        "responses.aggregations.pairs.after_key",
        "responses.aggregations.pairs.buckets.key",
        "responses.aggregations.pairs.buckets.doc_count",
        "responses.aggregations.pairs.buckets.ts.min",
        "responses.aggregations.pairs.buckets.ts.max",
    ]
)
"""Only what sitrep reads: the date aggregations' `*_as_string` copies would double the bytes."""


def message_groups_body(
    fields: FieldMap,
    filters: list[dict[str, Any]],
    page: int,
    timeout: str,
    after: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One page of the window's distinct (message, service) pairs with their counts and
    first and last times, plus (on the first page) the window's total and how many of its
    lines have no exact message to group by (longer than the keyword's ignore_above, or a
    text-only mapping).

    A composite aggregation pages through every pair exactly with a bounded number of
    buckets per request, and its key order lets the lines beyond the last page be selected
    exactly (`beyond_clause`). A `terms` aggregation on the message with a `terms` on the
    service below it was 10x slower, and its bucket count grows with the services."""
    aggs: dict[str, Any] = {}
    if fields.message_keyword is not None:
        sources: list[dict[str, Any]] = [{"m": {"terms": {"field": fields.message_keyword}}}]
        if fields.service is not None:
            sources.append({"s": {"terms": {"field": fields.service, "missing_bucket": True}}})
        composite: dict[str, Any] = {"size": page, "sources": sources}
        if after is not None:
            composite["after"] = dict(after)
        aggs["pairs"] = {"composite": composite, "aggs": {"ts": {"stats": {"field": fields.timestamp}}}}
        if after is None:
            aggs["unkeyed"] = {"missing": {"field": fields.message_keyword}}
    return search_body(filters, 0, timeout, track_total_hits=after is None, aggs=aggs)


@dataclass(slots=True)
class GroupPage:
    """One page of a window's message groups."""

    groups: list[MessageGroup]
    after: dict[str, Any] | None
    """Where the next page starts; None when this was the last."""


def read_group_page(answer: Mapping[str, Any], page: int) -> GroupPage:
    pairs = (answer.get("aggregations") or {}).get("pairs")
    if pairs is None:
        return GroupPage([], None)
    buckets = pairs.get("buckets") or []
    groups = [_group(bucket) for bucket in buckets]
    # A short page is the last; a full one may be followed by an empty one.
    after = pairs.get("after_key") if len(buckets) >= page else None
    return GroupPage(groups, after)


def window_counts(answer: Mapping[str, Any]) -> tuple[int, int]:
    """The window's matching lines, and those with no exact message to group by."""
    total = int(answer["hits"]["total"]["value"])
    aggs = answer.get("aggregations") or {}
    unkeyed = int(aggs["unkeyed"]["doc_count"]) if "unkeyed" in aggs else total
    return total, unkeyed


def lines_per_window_body(
    fields: FieldMap, query: LogQuery, windows: Sequence[tuple[float, float]], timeout: str
) -> dict[str, Any]:
    """How many lines match the query in each (finite) window, in one search: a `date_range`
    bucket per window, bounded as `range_ms` bounds a window's own filter."""
    start, end = min(a for a, _ in windows), max(b for _, b in windows)
    ranges = [
        {"key": str(i), "from": str(ms_ceil(a)), "to": str(ms_ceil(b))} for i, (a, b) in enumerate(windows)
    ]
    per_window = {
        "date_range": {"field": fields.timestamp, "format": "epoch_millis", "ranges": ranges, "keyed": True}
    }
    return search_body(query_filters(fields, query, start, end), 0, timeout, aggs={"windows": per_window})


LINES_FILTER_PATH = "timed_out,_shards,aggregations.windows.buckets.*.doc_count"
"""Only the counts: a bucket's bounds, copied as text, would be most of the bytes."""


def read_lines_per_window(answer: Mapping[str, Any], count: int) -> list[int]:
    buckets = answer["aggregations"]["windows"]["buckets"]
    return [int(buckets[str(i)]["doc_count"]) for i in range(count)]


def _group(bucket: Mapping[str, Any]) -> MessageGroup:
    # The hot loop of a large window (one call per distinct message): plain lookups only.
    count = bucket["doc_count"]
    key = bucket["key"]
    stats = bucket["ts"]
    first, last = stats["min"], stats["max"]
    return MessageGroup(
        key["m"],
        count,
        first / 1000 if first is not None else None,
        last / 1000 if last is not None else None,
        {key.get("s") or UNKNOWN_SERVICE: count},
    )


def unkeyed_clause(fields: FieldMap) -> list[dict[str, Any]]:
    """Lines with no exact message: all of them when the message has no keyword at all."""
    if fields.message_keyword is None:
        return []
    return [{"bool": {"must_not": [{"exists": {"field": fields.message_keyword}}]}}]


def beyond_clause(fields: FieldMap, after: Mapping[str, Any]) -> dict[str, Any]:
    """Exactly the lines whose (message, service) pair sorts after `after`: the ones the
    pages did not reach. Keyword ranges compare bytes, as composite keys are ordered; a
    missing service sorts first."""
    assert fields.message_keyword is not None
    message = str(after["m"])
    later = [{"range": {fields.message_keyword: {"gt": message}}}]
    if fields.service is None:
        return any_of(later)
    same = {"term": {fields.message_keyword: message}}
    service = after.get("s")
    rest_of_message: dict[str, Any] = (
        {"exists": {"field": fields.service}}
        if service is None
        else {"range": {fields.service: {"gt": str(service)}}}
    )
    return any_of([*later, {"bool": {"filter": [same, rest_of_message]}}])


def texts_body(
    fields: FieldMap, filters: list[dict[str, Any]], size: int, timeout: str, sample: bool
) -> dict[str, Any]:
    """Lines to fetch as text: oldest first (an onset is then seen), or a seeded random
    sample when they stand for lines beyond the bound of distinct messages."""
    body = search_body(filters, size, timeout, _source={"includes": fields.source_fields()})
    if not sample:
        body["sort"] = [{fields.timestamp: "asc"}]
        return body
    body["query"] = {
        "function_score": {
            "query": body["query"],
            "random_score": {"seed": 20240601, "field": "_seq_no"},
            "boost_mode": "replace",
        }
    }
    return body


def services_body(fields: FieldMap, size: int, timeout: str) -> dict[str, Any]:
    assert fields.service is not None
    return search_body([], 0, timeout, aggs={"services": {"terms": {"field": fields.service, "size": size}}})


def shard_trouble(answer: Mapping[str, Any]) -> str | None:
    """Why an answer is partial (a timeout, failed shards), or None when it is whole."""
    shards = answer.get("_shards") or {}
    failed = int(shards.get("failed") or 0)
    if failed:
        reasons = {_failure_reason(f) for f in shards.get("failures") or ()}
        why = f": {'; '.join(sorted(reasons))}" if reasons else ""
        return f"{failed} of {shards.get('total', '?')} OpenSearch shards failed{why}"
    if answer.get("timed_out"):
        return "OpenSearch stopped at its search timeout before reading every shard"
    return None


def _failure_reason(failure: Mapping[str, Any]) -> str:
    reason = failure.get("reason") or {}
    return str(reason.get("reason") or reason.get("type") or "unknown")[:200]
