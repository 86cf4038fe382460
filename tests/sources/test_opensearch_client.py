"""The read-only guard, the retry policy and error conversion of the OpenSearch client.
No node: a scripted connection stands in for the network (fault injection only)."""

from __future__ import annotations

import logging
import socket
import threading
from typing import Any

import pytest
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import ConnectionTimeout, SSLError

from sitrep.errors import SourceResponseError, SourceTimeout, SourceUnavailable, WriteRefused
from sitrep.sources.opensearch_client import GuardedConnection, ReadOnlyClient, check_read
from tests.sources.fake_opensearch import Script, client, error, settings

ALLOWED = [
    ("GET", "/"),
    ("GET", "/_cluster/health"),
    ("GET", "/_cluster/health/logs-*"),
    ("GET", "/logs-*/_mapping"),
    ("GET", "/_field_caps"),
    ("POST", "/_field_caps"),
    ("GET", "/logs-*/_field_caps"),
    ("POST", "/logs-*,-logs-old/_field_caps"),
    ("GET", "/logs-*/_search"),
    ("POST", "/logs-2026.05.04/_search"),
    ("POST", "/.ds-logs-app-000001/_search"),
    ("POST", "/_msearch"),
    ("POST", "/logs-*/_msearch"),
    ("GET", "/logs-*/_count"),
    ("POST", "/logs%2A/_count"),
]
REFUSED = [
    ("POST", "/_bulk"),
    ("PUT", "/_bulk"),
    ("POST", "/logs/_bulk"),
    ("POST", "/logs/_delete_by_query"),
    ("POST", "/logs/_update_by_query"),
    ("POST", "/logs/_update/1"),
    ("PUT", "/logs/_doc/1"),
    ("POST", "/logs/_doc"),
    ("POST", "/logs/_create/1"),
    ("DELETE", "/logs/_doc/1"),
    ("DELETE", "/logs"),
    ("PUT", "/logs"),
    ("PUT", "/logs/_mapping"),
    ("POST", "/logs/_close"),
    ("POST", "/_reindex"),
    ("PUT", "/_cluster/settings"),
    ("PUT", "/_scripts/boom"),
    ("PUT", "/logs/_search"),
    ("DELETE", "/logs/_search"),
    ("HEAD", "/logs"),
    ("get", "/logs/_search"),
    ("GET", "/_search"),
    ("GET", "/_search/scroll"),
    ("POST", "/_search/scroll"),
    ("DELETE", "/_search/scroll"),
    ("POST", "/logs/_search/point_in_time"),
    ("DELETE", "/_search/point_in_time"),
    ("GET", "/_search/point_in_time/_all"),
    ("GET", "/_plugins/_security/api/account"),
    ("POST", "/_plugins/_sql"),
    ("POST", "/_plugins/_ppl"),
    ("GET", "/_nodes/_all/http"),
    ("GET", "/_cat/indices"),
    ("GET", "/_all/_search"),
    ("POST", "/../_bulk"),
    ("POST", "/%5Fbulk"),
    ("POST", "/logs/%5Fdelete_by_query"),
    ("POST", "/logs%2F_bulk"),
    ("GET", "/_cluster/health/../../_bulk"),
]


@pytest.mark.parametrize(("method", "path"), ALLOWED)
def test_allowlisted_reads_pass(method: str, path: str) -> None:
    check_read(method, path, {"filter_path": "took", "ignore_unavailable": "true"})


@pytest.mark.parametrize(("method", "path"), REFUSED)
def test_everything_else_is_refused_naming_method_and_path(method: str, path: str) -> None:
    with pytest.raises(WriteRefused) as refused:
        check_read(method, path)
    decoded = path.replace("%5F", "_").replace("%2F", "/")
    assert str(refused.value) == (
        f"sitrep is read-only: refused {method} {decoded}; only search, count, msearch, field_caps, "
        "mapping and cluster health reads may be sent to OpenSearch"
    )


@pytest.mark.parametrize(
    ("url", "params"),
    [("/logs/_search", {"scroll": "1m"}), ("/logs/_search?scroll=1m", None), ("/logs/_count?scroll=", {})],
)
def test_scroll_contexts_are_refused(url: str, params: dict[str, str] | None) -> None:
    with pytest.raises(WriteRefused) as refused:
        check_read("POST", url, params)
    path = url.partition("?")[0]
    assert str(refused.value) == (
        f"sitrep is read-only: refused POST {path} with scroll=…; scroll and point-in-time contexts "
        "keep state on the cluster"
    )


def test_a_refused_request_never_leaves_the_machine() -> None:
    """A real socket listens where the cluster would be: a refused write never connects."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.5)
    connected = threading.Event()

    def accept() -> None:
        try:
            listener.accept()[0].close()
            connected.set()
        except OSError:
            pass

    waiter = threading.Thread(target=accept)
    waiter.start()
    port = listener.getsockname()[1]
    readonly = ReadOnlyClient(settings(url=f"http://127.0.0.1:{port}"), budget_seconds=1)
    with pytest.raises(WriteRefused):
        readonly._transport.perform_request("POST", "/_bulk", body='{"delete":{"_id":"1"}}\n')
    with pytest.raises(WriteRefused):
        readonly._transport.perform_request("DELETE", "/logs-*")
    waiter.join()
    listener.close()
    assert not connected.is_set()


def test_a_connection_class_cannot_replace_the_guard() -> None:
    class Unguarded(GuardedConnection):
        def perform_request(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
            return 200, {}, "{}"

    with pytest.raises(TypeError, match=r"must keep GuardedConnection\.perform_request"):
        ReadOnlyClient(settings(), budget_seconds=1, connection_class=Unguarded)


def test_sniffing_would_be_refused_too() -> None:
    script = Script([])
    readonly = client(script)
    with pytest.raises(WriteRefused, match="refused GET /_nodes/_all/http"):
        readonly._transport.sniff_hosts()
    assert script.sent == []


# -- retries ---------------------------------------------------------------------------------
OK: tuple[int, dict[str, Any]] = (200, {"took": 3, "hits": {"total": {"value": 0}}})


@pytest.mark.parametrize(
    "transient",
    [
        (429, {"error": "too_many_requests"}),
        (502, "Bad Gateway"),
        (503, {"error": {"type": "unavailable_shards_exception", "reason": "primary shard is not active"}}),
        (504, "Gateway Timeout"),
        (500, {"error": "unknown"}),
        OpenSearchConnectionError("N/A", "Connection reset by peer", None),
        OpenSearchConnectionError("N/A", "Connection refused", None),
        ConnectionTimeout("TIMEOUT", "Read timed out", None),
        (200, "{not json"),
    ],
)
def test_transient_failures_are_retried_with_jittered_backoff(transient: Any) -> None:
    script = Script([transient, transient, OK])
    assert client(script).post("/logs-*/_search", {"size": 0})["took"] == 3
    assert len(script.sent) == 3
    first, second = script.slept
    assert 0.125 <= first <= 0.25 and 0.25 <= second <= 0.5


def test_a_rejected_msearch_item_is_retried() -> None:
    rejected = {"responses": [{"error": {"type": "es_rejected_execution_exception"}, "status": 429}]}
    script = Script([(200, rejected), (200, {"took": 1, "responses": [{"hits": {}}]})])
    assert client(script).msearch([{"size": 0}]) == [{"hits": {}}]
    method, url, _, body, _ = script.sent[-1]
    assert (method, url) == ("POST", "/logs-*/_msearch")
    assert body == b'{}\n{"size":0}\n'


def test_opensearch_py_retries_nothing_itself() -> None:
    script = Script([(503, "down")] * 5)
    with pytest.raises(
        SourceUnavailable, match=r"OpenSearch is failing or overloaded \(503: down; 5 attempts"
    ):
        client(script).get("/")
    assert len(script.sent) == 5 and len(script.slept) == 4


def test_each_attempt_has_the_configured_timeout() -> None:
    script = Script([OK])
    client(script, timeout_seconds=3).get("/_cluster/health")
    assert script.sent[0][4] == 3


@pytest.mark.parametrize(
    ("reply", "kind", "message"),
    [
        (
            error("parsing_exception", "unknown query [nope]", 400),
            SourceResponseError,
            "opensearch: OpenSearch rejected the request (400: parsing_exception: unknown query [nope])",
        ),
        (
            error("security_exception", "missing authentication credentials", 401),
            SourceUnavailable,
            "opensearch: OpenSearch refused the credentials (401); set SITREP_OPENSEARCH__USERNAME and "
            "SITREP_OPENSEARCH__PASSWORD, or SITREP_OPENSEARCH__API_KEY",
        ),
        (
            error("security_exception", "no permissions for [indices:data/read/search]", 403),
            SourceUnavailable,
            "opensearch: OpenSearch refused the read (403: security_exception: no permissions for "
            "[indices:data/read/search]); give sitrep's user `read` on logs-* and cluster_monitor "
            "(README, Using OpenSearch)",
        ),
        (
            error("index_not_found_exception", "no such index [logs]", 404),
            SourceUnavailable,
            "opensearch: OpenSearch found no logs-* (404: index_not_found_exception: no such index [logs]); "
            "check [opensearch] index",
        ),
        (
            SSLError("N/A", "certificate verify failed: self-signed certificate", None),
            SourceUnavailable,
            "opensearch: TLS verification failed for http://search.test:9200: certificate verify failed: "
            "self-signed certificate; set [opensearch] ca_certs to the CA bundle that signed the "
            "cluster's certificate",
        ),
    ],
)
def test_definite_failures_are_not_retried_and_say_what_to_do(
    reply: Any, kind: type[Exception], message: str
) -> None:
    script = Script([reply])
    with pytest.raises(kind) as raised:
        client(script).post("/logs-*/_search", {"size": 0})
    assert str(raised.value) == message
    assert len(script.sent) == 1 and script.slept == []


def test_timeouts_become_a_source_timeout_with_advice() -> None:
    script = Script([ConnectionTimeout("TIMEOUT", "Read timed out", None)] * 5)
    with pytest.raises(SourceTimeout) as raised:
        client(script).post("/logs-*/_search", {"size": 0})
    assert str(raised.value).startswith("opensearch: OpenSearch timed out after 10 s (5 attempts over ")
    assert str(raised.value).endswith("s); narrow since, name a service, or retry")


def test_an_unreachable_cluster_is_named() -> None:
    script = Script([OpenSearchConnectionError("N/A", "[Errno 111] Connection refused", None)] * 5)
    with pytest.raises(
        SourceUnavailable, match=r"cannot reach OpenSearch at http://search.test:9200 \(5 attempts"
    ):
        client(script).get("/")


def test_credentials_come_from_settings_into_headers_only() -> None:
    script = Script([OK, OK])
    client(script, username="reader", password="s3cret").get("/")
    assert script.headers[0]["authorization"] == "Basic cmVhZGVyOnMzY3JldA=="
    client(script, api_key="k3y").get("/")
    assert script.headers[1]["authorization"] == "ApiKey k3y"


def test_what_was_sent_is_recorded_with_its_size_and_time() -> None:
    script = Script([(200, {"took": 7, "hits": {"total": {"value": 0}}})])
    readonly = client(script)
    readonly.post("/logs-*/_search", {"size": 0})
    [exchange] = readonly.exchanges
    assert (exchange.method, exchange.path, exchange.took_ms) == ("POST", "/logs-*/_search", 7)
    assert exchange.bytes == len('{"took": 7, "hits": {"total": {"value": 0}}}') and exchange.seconds >= 0


class Dripping(Exception):
    """Stands for a reply whose bytes keep coming: `_send` does not return in time."""


def test_an_answer_that_drips_is_cut_off_by_the_clock_not_the_socket() -> None:
    import time as clock

    class Drip(GuardedConnection):
        def _send(self, *args: Any, **kwargs: Any) -> Any:
            clock.sleep(5)  # each byte in time for the socket timeout, the whole far too late
            raise Dripping

    started = clock.monotonic()
    with pytest.raises(SourceTimeout, match="OpenSearch timed out"):
        ReadOnlyClient(settings(timeout_seconds=0.5), budget_seconds=1.5, connection_class=Drip).get("/")
    assert clock.monotonic() - started < 3


def test_requests_share_what_is_left_of_the_call_deadline() -> None:
    from sitrep.deadline import tool_call

    script = Script([ConnectionTimeout("TIMEOUT", "Read timed out", None)] * 50)
    with tool_call("search_logs", 2.0), pytest.raises(SourceTimeout):
        client(script, timeout_seconds=0.5).get("/")
    with tool_call("search_logs", 0.1), pytest.raises(SourceTimeout, match="deadline has come"):
        client(script).get("/")  # nothing left for a second request: not even sent
    assert all(timeout is not None and timeout <= 1.8 for *_, timeout in script.sent)


# -- the edges (issue 9) ------------------------------------------------------------------
def _closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])


def test_failed_attempts_are_quiet_and_said_in_full_only_when_verbose(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A real refused connection through opensearch-py's own urllib3 connection. Retries
    are not failures: the one failure is the error the caller gets (issue 13: 441 lines of
    library tracebacks for one `sitrep status`); --verbose shows each attempt, in full."""
    url = f"http://127.0.0.1:{_closed_port()}"
    readonly = ReadOnlyClient(settings(url=url), budget_seconds=30, sleep=lambda _: None)
    with caplog.at_level(logging.WARNING), pytest.raises(SourceUnavailable):
        readonly.get("/")
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    caplog.clear()
    with caplog.at_level(logging.DEBUG), pytest.raises(SourceUnavailable):
        readonly.get("/")
    failures = [r for r in caplog.records if "failed after" in r.getMessage()]
    assert len(failures) == 5 and all("\n" not in r.getMessage() for r in failures)
    assert any(r.levelno == logging.DEBUG and r.exc_info for r in caplog.records)
