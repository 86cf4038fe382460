"""The only way sitrep talks to OpenSearch: allowlisted reads, one retry policy, errors
converted once into sitrep's own.

    ReadOnlyClient        retries transient failures with jittered backoff inside a time
      │                   budget, converts backend errors, records what it sent
      └─ Transport        opensearch-py's host pool; its own retries and sniffing are off
           └─ GuardedConnection
                          refuses, before a byte leaves, any request that is not an
                          allowlisted read: every path to the network goes through it

The allowlist is method *and* path: GET `/`, GET `/_cluster/health[/<index>]`,
GET `/<index>/_mapping`, GET/POST `[/<index>]/_field_caps`, `/<index>/_search`,
`[/<index>]/_msearch` and `/<index>/_count`. Scroll contexts are refused too: they keep
state on the cluster.
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final, final
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from opensearchpy import Transport, Urllib3HttpConnection
from opensearchpy.exceptions import (
    ConnectionError as OpenSearchConnectionError,
)
from opensearchpy.exceptions import (
    ConnectionTimeout,
    ImproperlyConfigured,
    OpenSearchException,
    SSLError,
    TransportError,
)

from sitrep.deadline import WallClockExceeded, time_left, touched, within
from sitrep.errors import (
    ConfigError,
    SourceError,
    SourceResponseError,
    SourceTimeout,
    SourceUnavailable,
    WriteRefused,
)
from sitrep.settings import OpenSearchSettings

__all__ = ["Exchange", "GuardedConnection", "ReadOnlyClient", "check_read", "index_path"]

SOURCE = "opensearch"
logger = logging.getLogger("sitrep")

# An index name, pattern, alias or comma list. Never starts with `_`, so `/_bulk/...` or
# `/_search/scroll` can never pass for `/<index>/...`.
_INDEX = r"(?!\.\.?(?:[/,]|$))[^/\s_,][^/\s,]*(?:,(?!\.\.?(?:[/,]|$))[^/\s_,][^/\s,]*)*"
_GET = frozenset({"GET"})
_GET_POST = frozenset({"GET", "POST"})
_READS: Final = (
    (_GET, re.compile(r"/")),
    (_GET, re.compile(rf"/_cluster/health(?:/{_INDEX})?")),
    (_GET, re.compile(rf"/{_INDEX}/_mapping")),
    (_GET_POST, re.compile(rf"(?:/{_INDEX})?/_field_caps")),
    (_GET_POST, re.compile(rf"/{_INDEX}/_(?:search|count)")),
    (_GET_POST, re.compile(rf"(?:/{_INDEX})?/_msearch")),
)
_STATEFUL_PARAMS = frozenset({"scroll"})

# Statuses that say "try again": throttling, a proxy or node in trouble, a request timeout.
_DEFINITE_CLIENT_ERRORS = range(400, 500)
_RETRYABLE_CLIENT_ERRORS = frozenset({408, 429})
_MAX_ATTEMPTS = 5
_FIRST_BACKOFF = 0.25
_MAX_BACKOFF = 4.0
_MIN_ATTEMPT_SECONDS = 0.5


def check_read(method: str, url: str, params: Mapping[str, Any] | None = None) -> None:
    """Raise WriteRefused unless `method url` is an allowlisted read."""
    path, _, query = url.partition("?")
    # The server decodes the path before routing: so must the check, or `/%5Fbulk` would pass.
    decoded = unquote(path)
    allowed = any(method in methods and pattern.fullmatch(decoded) for methods, pattern in _READS)
    if not allowed:
        raise WriteRefused(
            f"sitrep is read-only: refused {method} {decoded}; only search, count, msearch, "
            "field_caps, mapping and cluster health reads may be sent to OpenSearch"
        )
    names = {name for name, _ in parse_qsl(query, keep_blank_values=True)} | set(params or ())
    stateful = sorted(names & _STATEFUL_PARAMS)
    if stateful:
        raise WriteRefused(
            f"sitrep is read-only: refused {method} {decoded} with {stateful[0]}=…; scroll and "
            "point-in-time contexts keep state on the cluster"
        )


def index_path(index: str, endpoint: str) -> str:
    """`/<index>/<endpoint>` with the index quoted as opensearch-py quotes path parts."""
    return f"/{quote(index, safe=',*')}/{endpoint}"


class GuardedConnection(Urllib3HttpConnection):
    """opensearch-py's urllib3 connection, refusing anything but an allowlisted read.

    `perform_request` is final: a subclass (the fault-injection fakes in tests) replaces
    `_send`, so the check runs whatever the subclass does."""

    def __init__(self, *args: Any, observe: Callable[[int], None] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._observe = observe

    @final
    def perform_request(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None = None,
        body: bytes | None = None,
        timeout: float | None = None,
        ignore: Collection[int] = (),
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        check_read(method, url, params)
        # The slack lets a slow answer finish, but never past what the tool call has left: the
        # call's reserve is for building the answer, not for waiting on the cluster.
        limit = min((timeout if timeout is not None else self.timeout) + _WALL_SLACK, max(0.05, time_left()))
        try:
            status, response_headers, data = within(
                limit,
                lambda: self._send(method, url, params, body, timeout, ignore, headers),
                "sitrep-opensearch-request",
            )
        except WallClockExceeded as error:
            raise ConnectionTimeout("TIMEOUT", str(error), None) from None
        if self._observe is not None:
            self._observe(len(data) if data else 0)
        return status, response_headers, data

    def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        body: bytes | None,
        timeout: float | None,
        ignore: Collection[int],
        headers: Mapping[str, str] | None,
    ) -> Any:
        return super().perform_request(method, url, params, body, timeout, ignore, headers)

    def log_request_fail(
        self,
        method: str,
        full_url: str,
        path: str,
        body: Any,
        duration: float,
        status_code: int | None = None,
        response: str | None = None,
        exception: Exception | None = None,
    ) -> None:
        # opensearch-py logs every failed attempt at WARNING with its traceback: retries would
        # fill stderr. Each attempt is a debug line (with --verbose, its traceback too); the
        # failure itself is said once, by whoever gives up on the read.
        what = f"status {status_code}" if status_code else type(exception).__name__ if exception else "failed"
        detail = f": {str(exception)[:200]}" if exception is not None else ""
        logger.debug("OpenSearch %s %s failed after %.3f s (%s%s)", method, full_url, duration, what, detail)
        if exception is not None and logger.isEnabledFor(logging.DEBUG):
            logger.debug("OpenSearch %s %s failure in full", method, full_url, exc_info=exception)

    def _raise_warnings(self, warning_headers: Any) -> None:
        # Deprecation notices from the server are for operators, not a reason to fail a read
        # (opensearch-py would raise them as Python warnings).
        for warning in warning_headers:
            logger.debug("OpenSearch warning: %s", warning)


POOL_SIZE = 8
"""Connections kept open per host."""

_WALL_SLACK = 0.25
"""A socket timeout bounds each wait for bytes, not the whole answer: a server that drips
one byte a second never trips it. So every request also has a wall-clock limit, the
attempt's timeout and this much more."""


@dataclass(slots=True)
class Exchange:
    """One request sitrep sent: what benchmarks and tests compare sitrep's own time with."""

    method: str
    path: str
    seconds: float
    """Client-side, from sending to the decoded answer."""
    bytes: int
    """Size of the answer's body, in characters as decoded."""
    took_ms: int | None
    """The server's own time for a search, as it reports it."""


class ReadOnlyClient:
    """Reads from one cluster (one or more hosts) through the guarded connection."""

    def __init__(
        self,
        config: OpenSearchSettings,
        *,
        budget_seconds: float,
        connection_class: type[GuardedConnection] = GuardedConnection,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        # The check is in GuardedConnection.perform_request; a class that replaced it
        # (typing's @final is not enforced at run time) could send anything.
        if connection_class.perform_request is not GuardedConnection.perform_request:
            raise TypeError("OpenSearch connections must keep GuardedConnection.perform_request")
        self.hosts = ", ".join(config.urls)
        self.index = config.index
        self._timeout = config.timeout_seconds
        self._budget = max(budget_seconds, config.timeout_seconds)
        self._sleep = sleep
        self._local = threading.local()
        self.exchanges: deque[Exchange] = deque(maxlen=10_000)
        try:
            self._transport = Transport(
                [_host(url) for url in config.urls],
                connection_class=connection_class,
                # One retry policy, ours: opensearch-py's own retries and sniffing are off
                # (sniffing would also ask /_nodes, which the guard refuses).
                max_retries=0,
                retry_on_timeout=False,
                retry_on_status=(),
                sniff_on_start=False,
                sniffer_timeout=None,
                sniff_on_connection_fail=False,
                timeout=config.timeout_seconds,
                # Calls run at once (the server's concurrent tools, sources_status's parallel
                # asks): a connection each, not urllib3's "pool is full" warning on stderr.
                pool_maxsize=POOL_SIZE,
                observe=self._observe,
                **_auth(config),
            )
        except ImproperlyConfigured as error:
            raise ConfigError(f"opensearch: {error}") from None

    # -- reads ------------------------------------------------------------------------
    def get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        return self._request("GET", path, params, None)

    def post(self, path: str, body: Mapping[str, Any], params: Mapping[str, str] | None = None) -> Any:
        return self._request("POST", path, params, body)

    def msearch(self, searches: list[dict[str, Any]], filter_path: str | None = None) -> list[dict[str, Any]]:
        """Several searches over the configured index in one round trip, answers in order."""
        lines = []
        for body in searches:
            lines += [json.dumps({}), json.dumps(body, separators=(",", ":"))]
        payload = "\n".join(lines) + "\n"
        answer = self._request(
            "POST",
            index_path(self.index, "_msearch"),
            {"filter_path": filter_path} if filter_path else None,
            payload,
            {"content-type": "application/x-ndjson"},
        )
        responses = answer.get("responses") if isinstance(answer, dict) else None
        if not isinstance(responses, list) or len(responses) != len(searches):
            raise SourceResponseError(SOURCE, "an _msearch answer did not hold one response per search")
        return responses

    # -- one policy for every request --------------------------------------------------
    def _request(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        body: Any,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        touched(SOURCE)
        started = time.monotonic()
        # Within this request's own budget, and within what is left of the tool call's
        # deadline: several slow requests in a row must not add up past it.
        left = time_left()
        if left <= 0:
            raise SourceTimeout(SOURCE, "OpenSearch not asked: the call's deadline has come; narrow since")
        deadline = started + min(self._budget, left)
        attempt = 0
        while True:
            attempt += 1
            timeout = max(min(_MIN_ATTEMPT_SECONDS, left), min(self._timeout, deadline - time.monotonic()))
            try:
                return self._once(method, path, params, body, headers, timeout)
            except (OpenSearchException, _TransientAnswer) as error:
                wait = _backoff(attempt)
                last = attempt >= _MAX_ATTEMPTS or time.monotonic() + wait + _MIN_ATTEMPT_SECONDS > deadline
                if last or not _transient(error):
                    raise self._convert(error, attempt, time.monotonic() - started, timeout) from None
            self._sleep(wait)

    def _once(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        body: Any,
        headers: Mapping[str, str] | None,
        timeout: float,
    ) -> Any:
        self._local.bytes = 0
        sent = time.perf_counter()
        answer = self._transport.perform_request(
            method, path, params=dict(params or {}), body=body, timeout=timeout, headers=headers
        )
        took = answer.get("took") if isinstance(answer, dict) else None
        self.exchanges.append(
            Exchange(
                method,
                path,
                time.perf_counter() - sent,
                self._local.bytes,
                took if isinstance(took, int) else None,
            )
        )
        _raise_if_rejected(answer)
        return answer

    def _observe(self, size: int) -> None:
        self._local.bytes = size

    def _convert(self, error: Exception, attempts: int, elapsed: float, timeout: float) -> SourceError:
        tries = f"{attempts} attempt{'s' if attempts > 1 else ''} over {elapsed:.1f} s"
        if isinstance(error, ConnectionTimeout):
            return SourceTimeout(
                SOURCE,
                f"OpenSearch timed out after {timeout:.3g} s ({tries}); narrow since, name a service, "
                "or retry",
            )
        if isinstance(error, SSLError):
            return SourceUnavailable(
                SOURCE,
                f"TLS verification failed for {self.hosts}: {_reason(error)}; set [opensearch] ca_certs "
                "to the CA bundle that signed the cluster's certificate",
            )
        if isinstance(error, OpenSearchConnectionError):
            return SourceUnavailable(
                SOURCE,
                f"cannot reach OpenSearch at {self.hosts} ({tries}): {_reason(error)}; check "
                "[opensearch] url and that the cluster is up",
            )
        if isinstance(error, TransportError | _TransientAnswer):
            return self._convert_status(error, tries)
        return SourceResponseError(SOURCE, f"OpenSearch sent an answer sitrep cannot read: {_reason(error)}")

    def _convert_status(self, error: TransportError | _TransientAnswer, tries: str) -> SourceError:
        status, reason = error.status_code, _reason(error)
        if status == 401:
            return SourceUnavailable(
                SOURCE,
                "OpenSearch refused the credentials (401); set SITREP_OPENSEARCH__USERNAME and "
                "SITREP_OPENSEARCH__PASSWORD, or SITREP_OPENSEARCH__API_KEY",
            )
        if status == 403:
            return SourceUnavailable(
                SOURCE,
                f"OpenSearch refused the read (403: {reason}); give sitrep's user `read` on "
                f"{self.index} and cluster_monitor (README, Using OpenSearch)",
            )
        if status == 404:
            return SourceUnavailable(
                SOURCE, f"OpenSearch found no {self.index} (404: {reason}); check [opensearch] index"
            )
        if isinstance(status, int) and status in _DEFINITE_CLIENT_ERRORS and status not in (408, 429):
            return SourceResponseError(SOURCE, f"OpenSearch rejected the request ({status}: {reason})")
        return SourceUnavailable(
            SOURCE, f"OpenSearch is failing or overloaded ({status}: {reason}; {tries}); retry shortly"
        )


class _TransientAnswer(Exception):
    """A 200 answer whose parts were rejected for load (an _msearch item's 429): retry it."""

    def __init__(self, status_code: int, info: Any) -> None:
        super().__init__(status_code)
        self.status_code = status_code
        self.info = info


def _raise_if_rejected(answer: Any) -> None:
    if not isinstance(answer, dict):
        return
    for item in answer.get("responses") or ():
        status = item.get("status") if isinstance(item, dict) and "error" in item else None
        if isinstance(status, int) and _transient_status(status):
            raise _TransientAnswer(status, item)


def _transient(error: Exception) -> bool:
    """Retry unless the error is sure to come back: TLS, or a client error other than 408/429.
    When unsure, retry: a needless retry costs seconds, a missed one an answer."""
    if isinstance(error, SSLError):
        return False
    if isinstance(error, OpenSearchConnectionError):  # resets, refusals, timeouts
        return True
    if isinstance(error, TransportError | _TransientAnswer):
        status = error.status_code
        return not isinstance(status, int) or _transient_status(status)
    return True  # an unreadable answer: a cut-off body reads the same way


def _transient_status(status: int) -> bool:
    return status in _RETRYABLE_CLIENT_ERRORS or status not in _DEFINITE_CLIENT_ERRORS


def _backoff(attempt: int) -> float:
    """Equal jitter: half the exponential delay, plus up to as much again at random, so
    clients that failed together do not retry together."""
    delay = min(_MAX_BACKOFF, _FIRST_BACKOFF * 2 ** (attempt - 1))
    return float(delay / 2 + random.uniform(0, delay / 2))


def _reason(error: Exception) -> str:
    info = getattr(error, "info", None)
    if isinstance(info, dict):
        detail = info.get("error", info)
        if isinstance(detail, dict):
            causes = detail.get("root_cause") or [detail]
            first = causes[0] if isinstance(causes, list) and causes else detail
            text = f"{first.get('type', '')}: {first.get('reason', '')}".strip(": ")
            return text[:300] or "no reason given"
        return str(detail)[:300]
    if isinstance(info, Exception):
        return str(info)[:300]
    return (str(getattr(error, "error", "")) or str(error))[:300]


def _host(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    https = parts.scheme == "https"
    return {
        "host": parts.hostname,
        "port": parts.port or (443 if https else 9200),
        "use_ssl": https,
        "url_prefix": parts.path.rstrip("/"),
    }


def _auth(config: OpenSearchSettings) -> dict[str, Any]:
    options: dict[str, Any] = {"verify_certs": config.verify_certs}
    if config.ca_certs is not None:
        options["ca_certs"] = str(config.ca_certs)
    if not config.verify_certs:
        # Turned off on purpose in the configuration; sources_status says so every time.
        options["ssl_show_warn"] = False
    if config.username is not None and config.password is not None:
        options["http_auth"] = (config.username.get_secret_value(), config.password.get_secret_value())
    if config.api_key is not None:
        options["headers"] = {"authorization": f"ApiKey {config.api_key.get_secret_value()}"}
    return options
