"""The guarded HTTP client: the allowlist holds before the wire, retries stay inside the
deadline, and bad answers become sitrep's errors. Faults are injected with httpx's
MockTransport; tests/integration/test_prometheus.py runs it against real servers."""

from __future__ import annotations

import httpx
import pytest

from sitrep import deadline
from sitrep.errors import SourceResponseError, SourceTimeout, SourceUnavailable, WriteRefused
from sitrep.sources.http_guard import ALERTMANAGER_READS, PROMETHEUS_READS, GuardedHttp, HttpStatusError


def client(
    handler: object, reads: object = PROMETHEUS_READS, **options: object
) -> tuple[GuardedHttp, list[str]]:
    seen: list[str] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        return handler(request)  # type: ignore[operator, no-any-return]

    settings: dict[str, object] = {"timeout_seconds": 2.0, "budget_seconds": 5.0, "sleep": lambda _: None}
    settings.update(options)
    guarded = GuardedHttp(
        "prometheus",
        "http://prom.test:9090/prefix",
        reads,  # type: ignore[arg-type]
        transport=httpx.MockTransport(record),
        **settings,  # type: ignore[arg-type]
    )
    return guarded, seen


def ok(_: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"status": "success", "data": []})


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/admin/tsdb/delete_series"),
        ("POST", "/api/v1/admin/tsdb/snapshot"),
        ("POST", "/-/reload"),
        ("POST", "/-/quit"),
        ("PUT", "/api/v1/query"),
        ("DELETE", "/api/v1/series"),
        ("POST", "/api/v1/metadata"),
        ("GET", "/api/v1/query/../admin/tsdb/clean_tombstones"),
        ("GET", "/api/v1/%2e%2e/admin/tsdb/snapshot"),
        ("GET", "/api/v1/label/a/b/values"),
        ("GET", "/api/v1/query?x=1"),
        ("GET", "//api/v1/query"),
    ],
)
def test_prometheus_refuses_everything_but_reads_before_the_wire(method: str, path: str) -> None:
    guarded, seen = client(ok)
    with pytest.raises(WriteRefused, match="read-only"):
        guarded._request(method, path, None)
    assert seen == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v2/silences"),
        ("POST", "/api/v2/alerts"),
        ("DELETE", "/api/v2/silence/x"),
        ("GET", "/api/v1/query"),
    ],
)
def test_alertmanager_refuses_writes(method: str, path: str) -> None:
    guarded, seen = client(ok, ALERTMANAGER_READS)
    with pytest.raises(WriteRefused):
        guarded._request(method, path, None)
    assert seen == []


def test_allowlisted_reads_go_out_under_the_base_path() -> None:
    guarded, seen = client(ok)
    guarded.get("/api/v1/label/service/values")
    guarded.post("/api/v1/query_range", {"query": "up", "start": "0", "end": "1", "step": "1"})
    guarded.get("/api/v1/status/buildinfo")
    assert seen == [
        "GET /prefix/api/v1/label/service/values",
        "POST /prefix/api/v1/query_range",
        "GET /prefix/api/v1/status/buildinfo",
    ]


def test_transient_statuses_and_resets_are_retried() -> None:
    answers = iter([503, 429, "reset", 200])

    def flaky(request: httpx.Request) -> httpx.Response:
        answer = next(answers)
        if answer == "reset":
            raise httpx.ReadError("connection reset by peer", request=request)
        return httpx.Response(int(answer), json={"status": "success", "data": [1]})

    guarded, seen = client(flaky)
    assert guarded.get("/api/v1/labels") == {"status": "success", "data": [1]}
    assert len(seen) == 4


def test_a_bad_query_is_not_retried_and_says_why() -> None:
    def bad(_: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"status": "error", "error": "parse error: unexpected end"})

    guarded, seen = client(bad)
    with pytest.raises(HttpStatusError, match="parse error") as caught:
        guarded.get("/api/v1/query", {"query": "sum("})
    assert caught.value.status == 400
    assert len(seen) == 1


def test_html_and_oversized_answers_are_refused() -> None:
    guarded, _ = client(lambda _: httpx.Response(200, text="<html>login</html>"))
    with pytest.raises(SourceResponseError, match="not JSON"):
        guarded.get("/api/v1/labels")
    guarded, _ = client(lambda _: httpx.Response(200, content=b"[" + b"1," * 1000 + b"1]"), max_bytes=100)
    with pytest.raises(SourceResponseError, match="larger than"):
        guarded.get("/api/v1/labels")


def test_a_dead_server_is_unavailable_within_the_budget() -> None:
    def dead(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    guarded, seen = client(dead)
    with pytest.raises(SourceUnavailable, match="cannot reach"):
        guarded.get("/api/v1/labels")
    assert 1 <= len(seen) <= 5


def test_no_request_once_the_deadline_has_come() -> None:
    guarded, seen = client(ok)
    with deadline.tool_call("test", 0.0), pytest.raises(SourceTimeout):
        guarded.get("/api/v1/labels")
    assert seen == []


def test_credentials_are_sent_as_configured() -> None:
    headers: list[str | None] = []

    def capture(request: httpx.Request) -> httpx.Response:
        headers.append(request.headers.get("authorization"))
        return ok(request)

    client(capture, token="s3cret")[0].get("/api/v1/labels")
    client(capture, username="u", password="p")[0].get("/api/v1/labels")
    assert headers[0] == "Bearer s3cret"
    assert headers[1] is not None and headers[1].startswith("Basic ")
