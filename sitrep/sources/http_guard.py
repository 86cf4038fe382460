"""The one HTTP client of sitrep's HTTP sources (Prometheus, Alertmanager): allowlisted reads
only, one retry policy inside the call's deadline, a wall-clock limit and a size cap on every
answer, errors converted once into sitrep's own.

    GuardedHttp.get/post      refuses, before a byte leaves, anything but an allowlisted
      │                       method + path of its backend (WriteRefused names the request)
      ├─ retries              429, 502, 503, 504, resets and timeouts, with jittered backoff,
      │                       while the call's deadline (deadline.time_left) allows
      └─ one attempt          in a daemon thread joined for at most the attempt's limit: a
                              socket timeout bounds each wait for bytes, not the whole answer,
                              so a server dripping a byte a second would never trip it

Credentials come from the environment only (a bearer token, or a username and password, via
the settings); TLS certificates are verified unless the configuration turns it off. The
environment's proxies and ~/.netrc are not consulted (`trust_env=False`): the only
credentials sent are the ones configured for sitrep.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import unquote, urlsplit

import httpx

from sitrep.deadline import WallClockExceeded, check, time_left, touched, within
from sitrep.errors import SourceError, SourceResponseError, SourceTimeout, SourceUnavailable, WriteRefused

__all__ = [
    "ALERTMANAGER_READS",
    "PROMETHEUS_READS",
    "Exchange",
    "GuardedHttp",
    "HttpStatusError",
    "Read",
    "check_read",
]


@dataclass(frozen=True, slots=True)
class Read:
    """One allowlisted read: the methods and the path (after the base URL's own path)."""

    methods: frozenset[str]
    path: re.Pattern[str]


_GET = frozenset({"GET"})
_GET_POST = frozenset({"GET", "POST"})
_LABEL = r"[A-Za-z_][A-Za-z0-9_.]*"
PROMETHEUS_READS: Final = (
    Read(_GET_POST, re.compile(r"/api/v1/(?:query|query_range|series|labels)")),
    Read(_GET_POST, re.compile(rf"/api/v1/label/{_LABEL}/values")),
    Read(_GET, re.compile(r"/api/v1/(?:metadata|status/buildinfo|alerts|rules)")),
)
"""Prometheus' query API. Never its admin/TSDB APIs, /-/reload or /-/quit."""
ALERTMANAGER_READS: Final = (Read(_GET, re.compile(r"/api/v2/(?:alerts|alerts/groups|silences|status)")),)
"""Alertmanager's read API: GET only, so never a new silence or alert."""

_RETRY_STATUSES = frozenset({429, 502, 503, 504})
_MAX_ATTEMPTS = 5
_FIRST_BACKOFF = 0.25
_MAX_BACKOFF = 4.0
_MIN_ATTEMPT_SECONDS = 0.5
_WALL_SLACK = 0.25
DEFAULT_MAX_BYTES = 16 * 1024 * 1024


def check_read(backend: str, reads: Sequence[Read], method: str, path: str) -> str:
    """The decoded path if `method path` is an allowlisted read of `backend`, else WriteRefused."""
    decoded = unquote(path)
    clean = not any(c in decoded for c in "?#\\") and "/../" not in f"{decoded}/" and "//" not in decoded
    if clean and any(method in read.methods and read.path.fullmatch(decoded) for read in reads):
        return decoded
    raise WriteRefused(
        f"sitrep is read-only: refused {method} {decoded[:200]} to {backend}; only its allowlisted "
        "read API may be called"
    )


class HttpStatusError(SourceResponseError):
    """The backend answered with an error status it will not take back (a 4xx): `detail` is
    its own explanation (for Prometheus, e.g. a PromQL parse error)."""

    def __init__(self, source: str, status: int, detail: str) -> None:
        super().__init__(source, f"answered {status}: {detail}")
        self.status = status
        self.detail = detail


@dataclass(slots=True)
class Exchange:
    """One request sitrep sent, for benchmarks and tests."""

    method: str
    path: str
    seconds: float
    bytes: int
    status: int


class _Transient(Exception):
    def __init__(self, what: str) -> None:
        super().__init__(what)


class _TooBig(Exception):
    pass


class GuardedHttp:
    """Reads from one HTTP backend through its allowlist."""

    def __init__(
        self,
        source: str,
        base_url: str,
        reads: Sequence[Read],
        *,
        timeout_seconds: float,
        budget_seconds: float,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        verify: bool | str = True,
        max_bytes: int = DEFAULT_MAX_BYTES,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        parts = urlsplit(base_url)
        self.source = source
        self.base_url = base_url.rstrip("/")
        self._prefix = parts.path.rstrip("/")
        self._reads = tuple(reads)
        self._timeout = timeout_seconds
        self._budget = max(budget_seconds, timeout_seconds)
        self._max_bytes = max_bytes
        self._sleep = sleep
        self.exchanges: deque[Exchange] = deque(maxlen=10_000)
        headers = {"accept": "application/json", "user-agent": "sitrep (read-only)"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        self._client = httpx.Client(
            base_url=f"{parts.scheme}://{parts.netloc}",
            headers=headers,
            auth=(username, password) if username is not None and password is not None else None,
            verify=verify,
            trust_env=False,
            follow_redirects=False,
            transport=transport,
        )
        # Its pooled connections are closed when the client goes, not left to the garbage
        # collector (which warns about each open socket).
        self._finalizer = weakref.finalize(self, self._client.close)

    def close(self) -> None:
        self._finalizer()

    # -- reads ------------------------------------------------------------------------
    def get(
        self, path: str, params: Mapping[str, str | Sequence[str]] | None = None, *, attempts: int = 0
    ) -> Any:
        """`attempts=1` for a probe (a status check) that must leave time to the other sources."""
        return self._request("GET", path, params, attempts or _MAX_ATTEMPTS)

    def post(self, path: str, form: Mapping[str, str | Sequence[str]]) -> Any:
        """A read sent as a form POST (Prometheus accepts it for long queries)."""
        return self._request("POST", path, form, _MAX_ATTEMPTS)

    # -- one policy for every request --------------------------------------------------
    def _request(
        self,
        method: str,
        path: str,
        params: Mapping[str, str | Sequence[str]] | None,
        attempts: int = _MAX_ATTEMPTS,
    ) -> Any:
        decoded = check_read(self.source, self._reads, method, path)
        touched(self.source)
        started = time.monotonic()
        left = time_left()
        if left <= 0:
            raise SourceTimeout(self.source, "not asked: the call's deadline has come; narrow the range")
        deadline = started + min(self._budget, left)
        attempt = 0
        while True:
            attempt += 1
            check()
            timeout = max(min(_MIN_ATTEMPT_SECONDS, left), min(self._timeout, deadline - time.monotonic()))
            try:
                return self._once(method, self._prefix + decoded, params, timeout)
            except (httpx.TransportError, _Transient) as error:
                wait = _backoff(attempt)
                last = attempt >= attempts or time.monotonic() + wait + _MIN_ATTEMPT_SECONDS > deadline
                if last:
                    raise self._convert(error, attempt, time.monotonic() - started, timeout) from None
            except _TooBig:
                raise SourceResponseError(
                    self.source,
                    f"the answer to {method} {decoded} is larger than {self._max_bytes // (1024 * 1024)} MB; "
                    "narrow the query (fewer series, a shorter range, a coarser step)",
                ) from None
            self._sleep(wait)

    def _once(self, method: str, path: str, params: Mapping[str, Any] | None, timeout: float) -> Any:
        stop = threading.Event()
        request = self._client.build_request(
            method,
            path,
            params=params if method == "GET" else None,
            data=params if method == "POST" else None,
            timeout=httpx.Timeout(timeout),
        )
        sent = time.perf_counter()
        try:
            status, body = within(
                timeout + _WALL_SLACK, lambda: self._send(request, stop), "sitrep-http-request"
            )
        except WallClockExceeded as error:
            stop.set()  # the left-behind reader stops at its next chunk
            raise _Timeout(str(error)) from None
        self.exchanges.append(Exchange(method, path, time.perf_counter() - sent, len(body), status))
        if status in _RETRY_STATUSES:
            raise _Transient(f"status {status}: {_detail(body)}")
        if status >= 400:
            raise HttpStatusError(self.source, status, _detail(body) + _hint(status))
        if status >= 300:
            raise HttpStatusError(self.source, status, "a redirect; point the url at the API itself")
        try:
            return json.loads(body)
        except ValueError:
            raise SourceResponseError(
                self.source,
                f"answered {method} {path} with something that is not JSON ({body[:60]!r}…); "
                "is the url that of the API, not of a login page or a proxy?",
            ) from None

    def _send(self, request: httpx.Request, stop: threading.Event) -> tuple[int, bytes]:
        response = self._client.send(request, stream=True)
        try:
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                if stop.is_set():
                    raise _Transient("abandoned")
                size += len(chunk)
                if size > self._max_bytes:
                    raise _TooBig
                chunks.append(chunk)
            return response.status_code, b"".join(chunks)
        finally:
            response.close()

    def _convert(self, error: Exception, attempts: int, elapsed: float, timeout: float) -> SourceError:
        tries = f"{attempts} attempt{'s' if attempts > 1 else ''} over {elapsed:.1f} s"
        if isinstance(error, httpx.TimeoutException | _Timeout):
            return SourceTimeout(
                self.source, f"no whole answer within {timeout:.3g} s ({tries}); narrow the range or retry"
            )
        if isinstance(error, httpx.ConnectError) and "CERTIFICATE" in str(error).upper():
            return SourceUnavailable(
                self.source,
                f"TLS verification failed for {self.base_url}: set [{self.source}] ca_certs to the CA "
                "bundle that signed its certificate",
            )
        if isinstance(error, httpx.TransportError):
            return SourceUnavailable(
                self.source,
                f"cannot reach {self.base_url} ({tries}): {type(error).__name__}: {str(error)[:200]}; "
                f"check [{self.source}] url and that it is up",
            )
        return SourceUnavailable(self.source, f"failing or overloaded ({error}; {tries}); retry shortly")


class _Timeout(httpx.TimeoutException):
    pass


def _detail(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace") or "no reason given"
    if isinstance(data, dict):
        for key in ("error", "message", "msg"):
            if isinstance(data.get(key), str):
                return str(data[key])[:300]
    return str(data)[:300]


def _hint(status: int) -> str:
    if status == 401:
        return " (credentials refused: set the token, or username and password, in the environment)"
    if status == 403:
        return " (forbidden: the credentials may read nothing here)"
    if status == 404:
        return " (not found: check the configured url and its path prefix)"
    return ""


def _backoff(attempt: int) -> float:
    """Equal jitter: half the exponential delay plus up to as much again at random."""
    delay = min(_MAX_BACKOFF, _FIRST_BACKOFF * 2 ** (attempt - 1))
    return float(delay / 2 + random.uniform(0, delay / 2))
