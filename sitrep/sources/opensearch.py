"""OpenSearch as a log source: every count, histogram and percentile is computed in the
cluster, and only bounded text comes back.

Error patterns stay exact. Each window's lines are grouped server-side by their exact
message and service (a composite aggregation on the message keyword, paged), and the same
miner that reads local files mines those distinct messages weighted by their counts. Lines
that cannot be grouped that way are still accounted for: lines without a message keyword
(longer than the keyword's `ignore_above`, or a text-only mapping) are fetched as text up to
a bound, and when a window has more distinct messages than `max_distinct_messages`, a stated
random sample of the rest is fetched. Whatever is not fetched is reported in
`ScanReport.ungrouped`, so the counts always add up to OpenSearch's own total for the window,
and the answer says what was sampled.

Window health counts per service and window with `date_range` buckets, and asks TDigest for
percentiles equal to the file source's (`opensearch_health.refine_body`).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sitrep.deadline import check
from sitrep.domain import (
    LATENCY_UNKNOWN,
    LogQuery,
    LogRecord,
    MessageGroup,
    ScanReport,
    TraceStep,
    WindowStats,
)
from sitrep.errors import SourceError, SourceResponseError
from sitrep.settings import FieldNames, OpenSearchSettings
from sitrep.sources.logparse import LineParser, field_keys
from sitrep.sources.opensearch_client import SOURCE, Exchange, GuardedConnection, ReadOnlyClient, index_path
from sitrep.sources.opensearch_health import (
    EXACT_PERCENTILES_UP_TO,
    ServiceWindows,
    read_refined,
    read_window_stats,
    refine_body,
    window_stats_body,
)
from sitrep.sources.opensearch_query import (
    GROUPS_FILTER_PATH,
    LINES_FILTER_PATH,
    UNKNOWN_SERVICE,
    FieldMap,
    any_of,
    beyond_clause,
    field_caps_params,
    lines_per_window_body,
    message_groups_body,
    query_filters,
    read_group_page,
    read_lines_per_window,
    resolve_fields,
    search_body,
    services_body,
    shard_trouble,
    texts_body,
    unkeyed_clause,
    window_counts,
)
from sitrep.sources.protocols import LogPage, SourceStatus, Windows, WindowScan
from sitrep.sources.traces import TraceLines
from sitrep.timespec import epoch_iso

__all__ = ["OpenSearchLogSource"]

logger = logging.getLogger("sitrep")

_FIELDS_TTL = 300.0
"""Mappings change when a new daily index appears; five minutes keeps that cheap and fresh."""
_SERVICES_TTL = 60.0
_MAX_SERVICES = 1_000
_MAX_BUCKETS = 60_000
"""Below OpenSearch's default search.max_buckets (65,535)."""
_PAGE = 25_000
"""Distinct messages per request, inside OpenSearch's search.max_buckets (65,535): one round
trip for most windows, measured faster than 10,000 in bench/opensearch_scale.py."""
_TRACE_PAGE = 10_000
"""Trace lines per request: OpenSearch's default index.max_result_window."""
_MAX_REFINED = 2_000
"""(service, window) pairs whose percentiles are made exact in one request."""
_COUNT_FIRST_OVER = 8
"""Group windows above which the lines per window are counted first, and only windows with
lines are grouped (`_windows_with_lines`): one small search instead of hundreds of empty ones."""


class OpenSearchLogSource:
    """Log lines in an OpenSearch index pattern or alias, read through the guarded client."""

    name = "opensearch"

    def __init__(
        self,
        config: OpenSearchSettings,
        fields: FieldNames,
        *,
        deadline_seconds: float,
        connection_class: type[GuardedConnection] = GuardedConnection,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._config = config
        self._names = fields
        # Retries stop well inside the tool's deadline, so a slow cluster gives an answer
        # that says so rather than a tool that never returns.
        self._client = ReadOnlyClient(
            config, budget_seconds=0.75 * deadline_seconds, connection_class=connection_class, sleep=sleep
        )
        self._parser = LineParser(fields, "ndjson")
        # The server stops and returns what it has (timed_out) a little before the client
        # would give up on the request, so a slow search is partial rather than failed.
        self._search_timeout = f"{int(config.timeout_seconds * 800)}ms"
        self._bound = config.max_distinct_messages
        self._fields: tuple[float, FieldMap] | None = None
        self._services: tuple[float, set[str]] | None = None

    @property
    def exchanges(self) -> Sequence[Exchange]:
        """The requests sent so far (the newest 10,000), for benchmarks and tests."""
        return self._client.exchanges

    # -- the LogSource protocol -----------------------------------------------------------
    def services(self) -> set[str]:
        try:
            with _readable():
                return self._read_services()
        except SourceError as error:
            # Service names are a convenience (validating a `service` argument); the tools
            # that read logs report the same error themselves, and sources_status shows it.
            logger.debug("OpenSearch services not read: %s", error)
            return set()

    def search(self, query: LogQuery, limit: int) -> LogPage:
        with _readable():
            return self._search_logs(query, limit)

    def scan(
        self, query: LogQuery, *, groups: Windows = (), stats: Windows = (), traces: bool = False
    ) -> WindowScan:
        """The groups' and the statistics' aggregations, each as its own search; with
        `traces`, the lines carrying a trace id, newest first, in pages up to the bound."""
        found = WindowScan()
        with _readable():
            if groups:
                found.groups = list(self._message_groups(query, groups, found.report))
            if stats:
                everything = LogQuery(query.start, query.end, query.services, None, query.text)
                found.stats = self._window_stats(everything, stats, found.report)
            covered = [*groups, *stats]
            if traces and covered:
                everything = LogQuery(query.start, query.end, query.services, None, query.text)
                start, end = min(a for a, _ in covered), max(b for _, b in covered)
                try:
                    with _readable():
                        found.traces = self._trace_lines(everything, start, end, found.report)
                except SourceError as error:
                    # Trace lines add a signal; losing them must not cost the groups and stats.
                    found.report.partial = True
                    found.report.note(f"trace lines not read: {error}")
        return found

    def status(self) -> SourceStatus:
        started = time.perf_counter()
        try:
            with _readable():
                return self._status(started)
        except SourceError as error:
            return SourceStatus(self.name, "opensearch", False, _ms(started), str(error))

    # -- reading ---------------------------------------------------------------------------
    def _read_services(self) -> set[str]:
        cached = self._services
        if cached is not None and time.monotonic() - cached[0] < _SERVICES_TTL:
            return set(cached[1])
        fields = self._field_map()
        if fields.service is None or not fields.indices:
            return set()
        answer = self._search(services_body(fields, _MAX_SERVICES, self._search_timeout))
        names = {str(b["key"]) for b in answer["aggregations"]["services"]["buckets"] if b["key"]}
        self._services = (time.monotonic(), names)
        return set(names)

    def _search_logs(self, query: LogQuery, limit: int) -> LogPage:
        report = ScanReport()
        fields = self._usable(report)
        if fields is None:
            return LogPage(0, [], report)
        if query.text and fields.message_keyword is None:
            report.note(
                f"{fields.message} has no keyword field in {fields.index}: the text was matched as a "
                "phrase of whole words, not as a substring"
            )
        body = search_body(
            query_filters(fields, query, query.start, query.end),
            limit,
            self._search_timeout,
            track_total_hits=True,
            sort=[{fields.timestamp: {"order": "desc"}}],
            _source={"includes": fields.source_fields()},
        )
        answer = self._search(body)
        _check(answer, report)
        records = self._records(answer)
        return LogPage(int(answer["hits"]["total"]["value"]), records, report)

    def _message_groups(
        self, query: LogQuery, windows: Sequence[tuple[float, float]], report: ScanReport
    ) -> Iterator[tuple[int, MessageGroup]]:
        fields = self._usable(report) if windows else None
        if fields is None:
            return
        page = min(self._config.max_distinct_messages, _PAGE)
        states = [_Window(query_filters(fields, query, start, end)) for start, end in windows]
        asked = self._windows_with_lines(fields, query, windows)
        answers = self._group_pages(fields, states, asked, page)
        for index, answer in zip(asked, answers, strict=True):
            _check(answer, report)
            states[index].total, states[index].unkeyed = window_counts(answer)
        pending = {i: read_group_page(answer, page) for i, answer in zip(asked, answers, strict=True)}
        while pending:
            for index, found in pending.items():
                states[index].after = found.after
                for group in found.groups:
                    states[index].add(group)
                    yield index, group
            more = [i for i, s in enumerate(states) if s.after is not None and s.pairs < self._bound]
            answers = self._group_pages(fields, states, more, page)
            for answer in answers:
                _check(answer, report)
            pending = {i: read_group_page(answer, page) for i, answer in zip(more, answers, strict=True)}
        yield from self._texts(fields, windows, states, report)

    def _windows_with_lines(
        self, fields: FieldMap, query: LogQuery, windows: Sequence[tuple[float, float]]
    ) -> list[int]:
        """The windows worth a search of their own: with many windows (a fine grid over sparse
        logs), those where one count per window finds a line; each search in an _msearch costs
        the cluster a few milliseconds even when it matches nothing. A window left out holds
        no line, so it has no group, as its own search would have found."""
        every = list(range(len(windows)))
        if not _COUNT_FIRST_OVER < len(windows) <= _MAX_BUCKETS:
            return every  # too few to be worth a count, or more than one search may count
        if not all(math.isfinite(a + b) for a, b in windows):
            return every
        body = lines_per_window_body(fields, query, windows, self._search_timeout)
        answer = self._search(body, {"filter_path": LINES_FILTER_PATH})
        if shard_trouble(answer) is not None:
            return every  # counts that may be low must not hide a window: ask them all
        return [i for i, lines in enumerate(read_lines_per_window(answer, len(windows))) if lines]

    def _window_stats(
        self, query: LogQuery, windows: Sequence[tuple[float, float]], report: ScanReport
    ) -> dict[str, list[WindowStats]]:
        fields = self._usable(report) if windows else None
        if fields is None:
            return {}
        problem = fields.service_problem("deploy health and the incident timeline")
        if problem is not None:
            raise SourceResponseError(SOURCE, problem)
        if fields.duration is None:
            report.note(f"{self._names.duration} is not a numeric field in {fields.index}: {LATENCY_UNKNOWN}")
        filters = query_filters(fields, query, windows[0][0], windows[-1][1])
        # Services times windows are buckets; OpenSearch refuses more than search.max_buckets.
        services = max(1, min(_MAX_SERVICES, _MAX_BUCKETS // (len(windows) + 1)))
        body = window_stats_body(fields, filters, windows, services, self._search_timeout)
        answer = self._search(body)
        _check(answer, report)
        found, beyond = read_window_stats(answer, windows, self._names.duration_unit)
        if beyond:
            report.note(
                f"{beyond} line(s) belong to services beyond the {services} with most lines and are "
                "not shown; name a service"
            )
        self._exact_percentiles(fields, filters, windows, found, report)
        return {service: part.stats for service, part in found.items()}

    def _trace_lines(
        self, query: LogQuery, start: float, end: float, report: ScanReport
    ) -> dict[str, list[TraceStep]]:
        """The lines in [start, end) with a trace id (under the configured key or a usual
        one), newest first, a page at a time (`search_after` on the time and the trace id),
        until `TraceLines`' bound. Lines sharing both a millisecond and a trace id across a
        page's edge may be read twice or not at all: a rare zero or missing gap."""
        fields = self._usable(report)
        if fields is None:
            return {}
        keys = [*field_keys(self._names, "trace"), *field_keys(self._names, "span")]
        has_trace = any_of([{"exists": {"field": key}} for key in field_keys(self._names, "trace")])
        filters = [*query_filters(fields, query, start, end), has_trace]
        wanted = [fields.timestamp, self._names.service, *keys]
        kept = TraceLines()
        after: list[Any] | None = None
        while kept.dropped == 0:
            check()
            body = search_body(
                filters,
                min(_TRACE_PAGE, kept.limit + 1),
                self._search_timeout,
                sort=[{fields.timestamp: {"order": "desc"}}, {"_doc": {"order": "asc"}}],
                _source={"includes": wanted},
                **({"search_after": after} if after is not None else {}),
            )
            answer = self._search(body)
            _check(answer, report)
            hits = answer["hits"]["hits"]
            for hit in hits:
                record = self._parser.parse_mapping(hit.get("_source") or {})
                if record is not None:
                    kept.add(record)
            if len(hits) < _TRACE_PAGE:
                break
            after = hits[-1].get("sort")
            if after is None:
                break
        return kept.finish(report)

    def _status(self, started: float) -> SourceStatus:
        about = self._client.get("/")
        health = self._client.get("/_cluster/health")
        self._fields = None
        fields = self._field_map()
        count = self._count(fields)
        version = (about.get("version") or {}).get("number", "?")
        cluster = about.get("cluster_name", "?")
        detail = (
            f"cluster {cluster} (OpenSearch {version}), health {health.get('status')}; "
            f"{self._config.index} matches {len(fields.indices)} index(es), {count:,} documents"
        )
        problems = _problems(fields, self._config, health)
        ok = bool(fields.indices) and fields.timestamp_problem is None
        return SourceStatus(self.name, "opensearch", ok, _ms(started), "; ".join([detail, *problems]))

    def _exact_percentiles(
        self,
        fields: FieldMap,
        filters: list[dict[str, Any]],
        windows: Sequence[tuple[float, float]],
        found: Mapping[str, ServiceWindows],
        report: ScanReport,
    ) -> None:
        """Replace TDigest's estimates by the file source's exact percentiles where TDigest
        still holds every value; larger windows keep estimates within a fraction of a percent."""
        wanted = [
            (service, index, count)
            for service, part in found.items()
            for index, count in enumerate(part.durations)
            if 1 < count <= EXACT_PERCENTILES_UP_TO
        ][:_MAX_REFINED]
        if not wanted or fields.duration is None:
            return
        answer = self._search(refine_body(fields, filters, windows, wanted, self._search_timeout))
        _check(answer, report)
        read_refined(answer, found, wanted, self._names.duration_unit)

    def _field_map(self) -> FieldMap:
        cached = self._fields
        if cached is None or time.monotonic() - cached[0] > _FIELDS_TTL:
            path = index_path(self._config.index, "_field_caps")
            caps = self._client.get(path, field_caps_params(self._names))
            cached = (time.monotonic(), resolve_fields(caps, self._names, self._config.index))
            # An index that does not exist yet is looked for again on the next read.
            self._fields = cached if cached[1].indices else None
        return cached[1]

    def _usable(self, report: ScanReport) -> FieldMap | None:
        """The field map, or None (with a note) when the index pattern matches nothing."""
        fields = self._field_map()
        if not fields.indices:
            report.note(f"{self._config.index} matches no OpenSearch index; check [opensearch] index")
            return None
        if fields.timestamp_problem is not None:
            raise SourceResponseError(SOURCE, fields.timestamp_problem)
        return fields

    def _search(self, body: Mapping[str, Any], params: Mapping[str, str] | None = None) -> Any:
        return self._client.post(index_path(self._config.index, "_search"), body, params)

    def _count(self, fields: FieldMap) -> int:
        if not fields.indices:
            return 0
        answer = self._client.get(index_path(self._config.index, "_count"))
        return int(answer.get("count", 0))

    def _records(self, answer: Mapping[str, Any]) -> list[LogRecord]:
        hits = answer["hits"]["hits"]
        return [r for hit in hits if (r := self._parser.parse_mapping(hit.get("_source") or {})) is not None]

    def _group_pages(
        self, fields: FieldMap, states: list[_Window], indexes: Iterable[int], page: int
    ) -> list[dict[str, Any]]:
        bodies = [
            message_groups_body(fields, states[i].filters, page, self._search_timeout, states[i].after)
            for i in indexes
        ]
        return self._client.msearch(bodies, filter_path=GROUPS_FILTER_PATH) if bodies else []

    def _texts(
        self,
        fields: FieldMap,
        windows: Sequence[tuple[float, float]],
        states: list[_Window],
        report: ScanReport,
    ) -> Iterator[tuple[int, MessageGroup]]:
        """The lines no exact message groups, as text, up to the bound per window: lines
        without a message keyword, and a random sample of the lines beyond the bound of
        distinct messages. What is not fetched is counted in `report.ungrouped`, and noted."""
        bound = self._config.max_sampled_lines
        wanted: list[tuple[int, int, bool, bool]] = []  # window, lines, sampled?, fetched?
        bodies = []
        for index, state in enumerate(states):
            for lines, clause, sample in state.unread(fields):
                fetch = bool(lines and bound and clause is not None)
                if fetch and clause is not None:
                    size = min(lines, bound)
                    bodies.append(
                        texts_body(fields, state.filters + clause, size, self._search_timeout, sample)
                    )
                wanted.append((index, lines, sample, fetch))
        answers = iter(self._client.msearch(bodies) if bodies else [])
        for index, lines, sample, fetch in wanted:
            records: list[LogRecord] = []
            if fetch:
                answer = next(answers)
                _check(answer, report)
                records = self._records(answer)
            for r in records:
                yield index, MessageGroup(r.message, 1, r.ts, r.ts, {r.service or UNKNOWN_SERVICE: 1})
            left = lines - len(records)
            if left > 0:
                report.ungrouped[index] = report.ungrouped.get(index, 0) + left
                report.note(_bounded_note(fields, windows[index], lines, len(records), sample))


@dataclass(slots=True)
class _Window:
    """How one window's lines divide up while its groups are read."""

    filters: list[dict[str, Any]]
    total: int = 0
    unkeyed: int = 0
    """Lines with no exact message to group by."""
    grouped: int = 0
    pairs: int = 0
    after: dict[str, Any] | None = None
    """Where the pairs not read yet start; None once all were read."""

    def add(self, group: MessageGroup) -> None:
        self.grouped += group.count
        self.pairs += 1

    def unread(self, fields: FieldMap) -> list[tuple[int, list[dict[str, Any]] | None, bool]]:
        """(lines, the clause selecting exactly them, sampled?) for lines without a keyword
        and lines beyond the bound of distinct messages."""
        beyond = max(0, self.total - self.grouped - self.unkeyed)
        beyond_clause_ = [beyond_clause(fields, self.after)] if self.after is not None else None
        return [(self.unkeyed, unkeyed_clause(fields), False), (beyond, beyond_clause_, True)]


@contextmanager
def _readable() -> Iterator[None]:
    """An answer of the wrong shape (a proxy's page that parses as JSON, another service on
    the port, a cluster version that answers differently) becomes one clear error, not a
    crash somewhere in the code that reads it."""
    try:
        yield
    except (KeyError, TypeError, AttributeError, IndexError, ValueError) as error:
        raise SourceResponseError(
            SOURCE,
            f"OpenSearch sent an answer sitrep cannot read ({type(error).__name__}: {str(error)[:120]}); "
            "check that [opensearch] url reaches OpenSearch itself",
        ) from None


def _check(answer: Mapping[str, Any], report: ScanReport) -> None:
    """Refuse an _msearch item that failed; mark a timed-out or shard-failed answer partial."""
    if "error" in answer:
        error = answer["error"]
        reason = error.get("reason") or error.get("type") if isinstance(error, dict) else error
        raise SourceResponseError(
            SOURCE, f"OpenSearch rejected a search ({answer.get('status', '?')}: {str(reason)[:300]})"
        )
    trouble = shard_trouble(answer)
    if trouble is not None:
        report.partial = True
        report.note(f"partial answer: {trouble}; counts may be low, retry or narrow since")


def _bounded_note(fields: FieldMap, window: tuple[float, float], lines: int, read: int, sample: bool) -> str:
    span = f"{epoch_iso(window[0])}–{epoch_iso(window[1])}"
    unread = f"{lines - read} are counted without a pattern"
    if sample:
        return (
            f"{span}: more distinct messages than [opensearch] max_distinct_messages; those within it were "
            f"grouped exactly, a random sample of {read} of the other {lines} line(s) was grouped, and "
            f"{unread} (narrow the range, or raise max_distinct_messages)"
        )
    why = (
        f"{fields.message} has no keyword field"
        if fields.message_keyword is None
        else "their messages are longer than the keyword's ignore_above"
    )
    return (
        f"{span}: {lines} line(s) have no exact message to group by ({why}); {read} were fetched as "
        f"text and {unread} (narrow the range, or raise [opensearch] max_sampled_lines)"
    )


def _problems(fields: FieldMap, config: OpenSearchSettings, health: Mapping[str, Any]) -> list[str]:
    found = []
    if not fields.indices:
        found.append(f"{config.index} matches no index: check [opensearch] index")
    if fields.indices and fields.timestamp_problem:
        found.append(fields.timestamp_problem)
    if fields.indices and (problem := fields.service_problem("deploy health")):
        found.append(problem)
    if fields.indices and fields.message_keyword is None:
        found.append(
            f"{fields.message} has no keyword field: error patterns are grouped from a bounded sample of "
            "lines; map it with a keyword sub-field for exact patterns"
        )
    if health.get("status") == "red":
        found.append("cluster health red: some shards are unavailable, so answers may be partial")
    if not config.verify_certs:
        found.append("TLS certificate verification is off ([opensearch] verify_certs = false)")
    return found


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
