import pytest

from sitrep.analysis.classify import Classification, classify


@pytest.mark.parametrize(
    ("template", "example", "signal"),
    [
        ("java.net.SocketTimeoutException: Read timed out", None, "java.net.SocketTimeoutException"),
        ("connect ECONNREFUSED <*>:<*>", "connect ECONNREFUSED 10.0.0.7:5432", "ECONNREFUSED"),
        ("read ECONNRESET", None, "ECONNRESET"),
        ("getaddrinfo EAI_AGAIN <*>", "getaddrinfo EAI_AGAIN db.internal", "EAI_AGAIN"),
        ("Connection reset by peer", None, "Connection reset"),
        ("upstream connection closed before response", None, "connection closed"),
        ("request to <*> failed: socket hang up", None, "socket hang up"),
        ("TypeError: fetch failed", None, "TypeError: fetch failed"),
        ("request to <*> failed, reason: fetch failed", None, "fetch failed"),
        ("write EPIPE", None, "EPIPE"),
        ("broken pipe while streaming", None, "broken pipe"),
        ("curl: (6) Could not resolve host: api", None, "Could not resolve host"),
        ("ping: db: Name or service not known", None, "Name or service not known"),
        ("operation timed out after <*>", "operation timed out after 30s", "timed out"),
        ("client timeout waiting for <*>", None, "timeout"),
        ("upstream returned <*>", "upstream returned 503", "returned 503"),
        ("payments answered with status <*>", "payments answered with status 429", "status 429"),
        ('<*> "GET <*> HTTP/<*>" <*> <*>', '10.0.0.1 "GET /x HTTP/1.1" 502 157', 'HTTP/1.1" 502'),
        ("origin error code: <*>", "origin error code: 524", "code: 524"),
        ("503 Service Unavailable", None, "503 Service Unavailable"),
        (
            "IllegalStateException: java.net.SocketTimeoutException: Read timed out",
            None,
            "java.net.SocketTimeoutException",
        ),
        ("Too many requests, slow down", None, "Too many requests"),
        ("rpc error: code = DEADLINE_EXCEEDED", None, "DEADLINE_EXCEEDED"),
        ("load balancer: no healthy upstream", None, "no healthy upstream"),
        (
            "HttpServerErrorException$ServiceUnavailable: <*> Service Unavailable",
            "HttpServerErrorException$ServiceUnavailable: 503 Service Unavailable",
            "503 Service Unavailable",
        ),
    ],
)
def test_transient(template: str, example: str | None, signal: str) -> None:
    assert classify(template, example) == Classification("transient", signal)


@pytest.mark.parametrize(
    ("template", "example", "signal"),
    [
        ("Exception in thread main java.lang.NullPointerException", None, "java.lang.NullPointerException"),
        ("KeyError: 'user_id'", None, "KeyError"),
        ("TypeError: Cannot read properties of undefined (reading 'id')", None, "TypeError"),
        ("AssertionError: expected <*> rows", None, "AssertionError"),
        ("Validation failed for field 'email'", None, "Validation failed"),
        (
            "panic: runtime error: invalid memory address or nil pointer dereference",
            None,
            "nil pointer dereference",
        ),
        ("table <*> does not exist", "table orders_v2 does not exist", "does not exist"),
        ("open <*>: permission denied", "open /etc/app.key: permission denied", "permission denied"),
        ("invalid token for user <*>", None, "invalid"),
        ("catalog answered status=<*>", "catalog answered status=404", "status=404"),
        ("create order: HTTP <*>", "create order: HTTP 409", "HTTP 409"),
        ("PUT <*> responded <*>", "PUT /orders/7 responded 422", "responded 422"),
        ("rpc error: code = NOT_FOUND", None, "NOT_FOUND"),
        ("KeyError: 'timeout'", None, "KeyError"),
        ("HttpClientErrorException$NotFound: <*> Not Found", "... 404 Not Found", "404 Not Found"),
    ],
)
def test_persistent(template: str, example: str | None, signal: str) -> None:
    assert classify(template, example) == Classification("persistent", signal)


@pytest.mark.parametrize(
    ("template", "example"),
    [
        ("order <*> shipped", "order 812 shipped"),
        ("request <*> failed", "request 429 failed"),  # a bare number is no status
        ("trace <*> failed", "trace 7f429a1c failed"),  # nor is part of an id
        ("slow call took <*>", "slow call took 504ms"),  # a duration is no status
        ("GET <*> <*>", "GET /v1/timeout-settings 200"),  # a path is no timeout
        ("reading config timeout=<*>", "reading config timeout=30s"),  # a setting is no timeout
        ("gateway said <*>", "gateway said 500"),  # a bare 500 says nothing either way
        ("user <*> logged in", "user invalid logged in"),  # a value cannot decide
    ],
)
def test_no_signal_in_the_text_is_unknown(template: str, example: str | None) -> None:
    assert classify(template, example) == Classification("unknown", None)


@pytest.mark.parametrize(
    ("template", "signal"),
    [
        # Both decisive: a wrong "persistent" stops a human, a wrong "transient" costs a retry.
        ("NullPointerException handling java.net.SocketTimeoutException", "java.net.SocketTimeoutException"),
        ("invalid response: connection reset", "connection reset"),  # both merely suggestive
        ("Host not found: <*>", "Host not found"),  # DNS or a missing record
        # A generic exception type around a transient cause (Nezha's TrainTicket).
        ("java.lang.IllegalStateException: No instances available for <*>", "No instances available"),
        (
            "Request processing failed; nested exception is org.springframework.web.client."
            "HttpServerErrorException$InternalServerError: <*> Internal Server Error: [<*>]",
            "Internal Server Error",
        ),
    ],
)
def test_unsure_leans_transient(template: str, signal: str) -> None:
    assert classify(template) == Classification("transient", signal)


def test_persistent_signals_alone_decide() -> None:
    assert classify("[getOrderById][Get Order By ID Fail][Order not found][OrderId: <*>]") == (
        Classification("persistent", "not found")
    )
    assert classify("[pay][Order status Not allowed to Pay]") == Classification("persistent", "Not allowed")


def test_a_decisive_signal_outweighs_a_suggestive_one_against_it() -> None:
    assert classify("HTTP <*> from payments: invalid card", "HTTP 503 from payments: invalid card") == (
        Classification("transient", "HTTP 503")
    )
    assert classify("ValueError: connection reset flag must be bool").label == "persistent"


def test_the_example_is_optional() -> None:
    assert classify("upstream returned <*>") == Classification("unknown", None)
