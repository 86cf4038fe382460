"""A day of logs: each deploy window's traffic, failures and latency, written as ECS NDJSON."""

from __future__ import annotations

import bisect
import json
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from sitrep.demo.metrics import ServiceTraffic, openmetrics
from sitrep.demo.scenario import CHECKOUT_RELEASES, DemoDeploy
from sitrep.demo.secrets import Secrets, random_token

# --- what each window's traffic looks like ---------------------------------------------------


class _Note(NamedTuple):
    """A line an endpoint logs after its access line, on `share` of its successful requests."""

    share: float
    level: str
    logger: str
    message: str


@dataclass(frozen=True, slots=True)
class _Route:
    method: str
    path: str
    weight: float
    median_ms: float
    client_error: tuple[int, float] = (404, 0.0)
    notes: tuple[_Note, ...] = ()


@dataclass(frozen=True, slots=True)
class _Failure:
    """One way requests fail in a window: exactly `share` of the window's requests."""

    share: float
    status: int
    paths: tuple[str, ...]
    ms: tuple[float, float]
    logger: str
    message: str
    """Starts with the exception type, unless `error_type` names it."""
    error_type: str = ""
    new: bool = False
    """First seen in the bad deploy: its example goes into `new_error_messages`."""

    @property
    def type(self) -> str:
        return self.error_type or self.message.split(":", 1)[0]


@dataclass(frozen=True, slots=True)
class _Slowdown:
    """Extra latency on `share` of the requests to `paths`, with a warning line if given."""

    paths: tuple[str, ...]
    share: float
    extra_ms: tuple[float, float]
    warning: str = ""
    logger: str = ""


@dataclass(frozen=True, slots=True)
class _Event:
    """A line logged `count` times at random in a window, not tied to a request."""

    count: int
    level: str
    logger: str
    message: str
    error_type: str = ""
    new: bool = False


@dataclass(frozen=True, slots=True)
class _Profile:
    failures: tuple[_Failure, ...]
    slowdowns: tuple[_Slowdown, ...] = ()
    events: tuple[_Event, ...] = ()
    startup: tuple[tuple[str, str, str], ...] = ()
    """(level, logger, message) lines each pod logs as it starts, after its version line."""


@dataclass(frozen=True, slots=True)
class _Service:
    name: str
    running: str
    """The version live when the day of logs begins, deployed before it."""
    mean_rps: float
    sigma: float
    routes: tuple[_Route, ...]


_CART, _ITEMS, _DISCOUNT = "/api/cart/{cart}", "/api/cart/{cart}/items", "/api/cart/{cart}/discount"
_CHECKOUT, _ORDER, _HISTORY = "/api/checkout", "/api/orders/{order}", "/api/customers/{customer}/orders"
_INTENTS, _CONFIRM = "/v1/payment_intents", "/v1/payment_intents/{intent}/confirm"
_PLACED = _Note(0.35, "info", "app.cart", "order {order} placed: {items} items, {total} EUR")
_RETRIED = _Note(0.006, "warning", "app.payments_client", "payments returned 502, retrying in {delay} ms")
_CHALLENGE = _Note(0.01, "warning", "payments.acquirer", "3-D Secure challenge took {challenge_ms} ms")

_CHECKOUT_SERVICE = _Service(
    "checkout",
    "v0.9.2",
    0.4,
    0.66,
    (
        _Route("GET", _CART, 0.30, 24),
        _Route("POST", _ITEMS, 0.22, 42, (422, 0.015)),
        _Route("POST", _DISCOUNT, 0.07, 36, (404, 0.03)),
        _Route("POST", _CHECKOUT, 0.16, 118, notes=(_PLACED, _RETRIED)),
        _Route("GET", _ORDER, 0.13, 28, (404, 0.02)),
        _Route("GET", _HISTORY, 0.12, 55),
    ),
)
_PAYMENTS_SERVICE = _Service(
    "payments",
    "v2.6.4",
    0.15,
    0.5,
    (
        _Route("POST", _INTENTS, 0.45, 160, (422, 0.01)),
        _Route("POST", _CONFIRM, 0.35, 290, (402, 0.02), (_CHALLENGE,)),
        _Route("GET", "/v1/payment_intents/{intent}", 0.15, 18, (404, 0.005)),
        _Route("POST", "/v1/refunds", 0.05, 210),
    ),
)

_UPSTREAM_TIMEOUT = "upstream timeout calling payments after 5000 ms (order {order})"
_RESET = "ConnectionResetError: [Errno 104] Connection reset by peer ({peer})"
_BACKGROUND = (
    _Failure(
        0.0018, 504, (_CHECKOUT,), (5000, 5060), "app.payments_client", _UPSTREAM_TIMEOUT, "httpx.ReadTimeout"
    ),
    _Failure(
        0.0012, 502, (_CHECKOUT, _ORDER), (4, 40), "app.payments_client", _RESET.format(peer="payments:443")
    ),
)
_ACQUIRER_TIMEOUT = "acquirer timeout after 8000 ms (adyen, intent {intent})"
_PAYMENTS_PROFILE = _Profile(
    (
        _Failure(
            0.0015, 504, (_CONFIRM,), (8000, 8040), "payments.acquirer", _ACQUIRER_TIMEOUT, "AcquirerTimeout"
        ),
        _Failure(
            0.001,
            502,
            (_INTENTS, "/v1/refunds"),
            (3, 30),
            "payments.ledger",
            _RESET.format(peer="ledger-db:5432"),
        ),
    )
)

# v1.2.0: order history scans the orders table until v1.2.1 adds the index.
_SLOW_QUERY = "slow query ({ms} ms): SELECT id, status, total_cents FROM orders WHERE customer_id = $1"
_SLOW_HISTORY = _Slowdown(
    (_HISTORY,), 1.0, (150, 520), _SLOW_QUERY + " ORDER BY created_at DESC LIMIT 20", "app.orders"
)
_CANCELED = "psycopg.errors.QueryCanceled: canceling statement due to statement timeout (customer {customer})"
_QUERY_CANCELED = _Failure(0.032, 504, (_HISTORY,), (3000, 3060), "app.orders", _CANCELED)

# v1.3.1: cart sessions in Redis, with a 250 ms socket timeout that a busy Redis exceeds.
_REDIS_PATHS = (_CART, _ITEMS, _DISCOUNT, _CHECKOUT)
_SLOW_REDIS = _Slowdown(_REDIS_PATHS, 0.1, (200, 860), "redis GET cart:{cart} took {ms} ms", "app.cart")
_REDIS_TIMEOUT = "redis.exceptions.TimeoutError: Timeout reading from redis-cart:6379 (cart {cart})"

# v1.4.0: the migration never ran, a `None` promotion, and twice the pool against the same database.
_COLUMN = 'psycopg.errors.UndefinedColumn: column "discount_code" of relation "orders" does not exist'
_NONE = "AttributeError: 'NoneType' object has no attribute 'discount_code' in apply_discount (cart {cart})"
_POOL = "psycopg_pool.PoolTimeout: couldn't get a connection after 5.00 sec"
_DB_PATHS = (_CART, _ITEMS, _CHECKOUT, _ORDER, _HISTORY)
_BAD_FAILURES = (
    _Failure(0.087, 500, (_CHECKOUT,), (25, 90), "app.cart", _COLUMN + " (order {order}: {sql})", new=True),
    _Failure(0.05, 500, (_DISCOUNT, _CHECKOUT), (8, 30), "app.discount", _NONE, new=True),
    _Failure(0.02, 503, _DB_PATHS, (5000, 5030), "app.db", _POOL, new=True),
)


def _checkout_profiles(secrets: Secrets) -> dict[str, _Profile]:
    """What each checkout version does to its traffic."""
    token = (
        f"feature-flag sync authenticating to github.com/acme/feature-flags with token {secrets.github_token}"
    )
    startup = (("warning", "app.flags", token),)
    healthy = _Profile(_BACKGROUND, startup=startup)
    redis = f"redis://redis-cart:6379/0 username=checkout password={secrets.redis_password}"
    reconnect = _Event(2, "warning", "app.cart", f"redis reconnecting after timeout: url={redis}")
    headers = f"{{'host': 'checkout.internal', 'authorization': 'Bearer {secrets.jwt}'}}"
    dump = _Event(3, "error", "app.http", f"unhandled redis timeout in load(); request headers: {headers}")
    dsn = f"postgres://checkout:{secrets.db_password}@db-primary:5432/orders"
    slots = "FATAL:  remaining connection slots are reserved for non-replication superuser connections"
    refused = _Event(
        9, "error", "app.db", f"could not open connection to {dsn}: {slots}", "psycopg.OperationalError", True
    )
    schema = (
        "warning",
        "app.db",
        "schema is at 0006_add_cart_expires_at but the code expects 0007_add_discount_code",
    )
    return dict.fromkeys(("v0.9.2", "v1.0.0", "v1.1.0", "v1.2.1", "v1.3.0"), healthy) | {
        "v1.2.0": _Profile((*_BACKGROUND, _QUERY_CANCELED), (_SLOW_HISTORY,), startup=startup),
        "v1.3.1": _Profile(
            (*_BACKGROUND, _Failure(0.032, 503, _REDIS_PATHS[:3], (250, 275), "app.cart", _REDIS_TIMEOUT)),
            (_SLOW_REDIS,),
            (reconnect, dump),
            startup,
        ),
        "v1.4.0": _Profile(
            (
                *_BACKGROUND,
                _Failure(0.012, 503, _REDIS_PATHS[:3], (250, 275), "app.cart", _REDIS_TIMEOUT),
                *_BAD_FAILURES,
            ),
            (_SLOW_REDIS, _Slowdown(_DB_PATHS, 0.1, (700, 1400))),
            (reconnect, refused),
            (*startup, schema),
        ),
    }


# --- writing the logs ------------------------------------------------------------------------

# Nine lines in ten are access lines: a template is several times faster than json.dumps,
# and every value in it is plain ASCII with nothing to escape.
_ACCESS = (
    '{"@timestamp":"%s","log":{"level":"%s"},"service":{"name":"%s","version":"%s"},'
    '"message":"%s %s %d","http":{"request":{"method":"%s"},"response":{"status_code":%d}},'
    '"url":{"path":"%s"},"event":{"duration":%d},"trace":{"id":"%s"}}'
)


@dataclass(frozen=True, slots=True)
class _Window:
    version: str
    sha: str | None
    start_ms: int
    end_ms: int
    profile: _Profile
    pods: tuple[str, ...]


@dataclass(slots=True)
class _LogFile:
    """One service's lines with their times, sorted when rendered."""

    service: str
    rng: random.Random
    end_ms: int
    lines: list[tuple[int, int, str]] = field(default_factory=list)
    truncatable: list[int] = field(default_factory=list)
    new_examples: dict[str, str] = field(default_factory=dict)
    requests: list[tuple[int, int, float]] = field(default_factory=list)
    """(time in ms, status, duration in ms) of every request logged: the demo's metrics."""
    versions: list[tuple[str, str | None, int, int]] = field(default_factory=list)

    def app(self, at_ms: int, window: _Window, pod: str, line: tuple[str, str, str], **extra: object) -> bool:
        """An application line (level, logger, message); False if it falls after `now`."""
        level, logger, message = line
        record = {
            "@timestamp": _timestamp(at_ms),
            "log": {"level": level, "logger": logger},
            "service": {"name": self.service, "version": window.version},
            "message": message,
            **extra,
            "host": {"name": pod},
        }
        return self._append(at_ms, json.dumps(record, separators=(",", ":")))

    def access(
        self, at_ms: int, window: _Window, route: _Route, *, status: int, ms: float, values: _Values
    ) -> None:
        level = "error" if status >= 500 else "info"
        if at_ms < self.end_ms:
            self.requests.append((at_ms, status, ms))
        method, path = route.method, route.path.format_map(values)
        fields = (level, self.service, window.version, method, path, status, method, status, path)
        self._append(at_ms, _ACCESS % (_timestamp(at_ms), *fields, int(ms * 1_000_000), values["trace"]))

    def _append(self, at_ms: int, text: str) -> bool:
        if at_ms >= self.end_ms:
            return False
        self.lines.append((at_ms, len(self.lines), text))
        return True

    def render(self, corrupt_at: Sequence[int] = ()) -> str:
        """The sorted file; the first truncatable line at or after each of `corrupt_at` cut short."""
        cut = {min((s for s in self.truncatable if self.lines[s][0] >= at), default=-1) for at in corrupt_at}
        lines = (text[: len(text) // 2] if seq in cut else text for _, seq, text in sorted(self.lines))
        return "\n".join(lines) + "\n"


def _timestamp(at_ms: int) -> str:
    seconds, millis = divmod(at_ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def write_logs(
    directory: Path,
    now: datetime,
    seed: int,
    deploys: Sequence[DemoDeploy],
    secrets: Secrets,
    metrics_path: Path | None = None,
) -> tuple[str, ...]:
    """The logs of both services; with `metrics_path`, the metrics of the same requests too."""
    directory.mkdir()
    end_ms = int(now.timestamp()) * 1000
    profiles = _checkout_profiles(secrets)
    checkout = _service_log(_CHECKOUT_SERVICE, seed, end_ms, deploys, profiles.__getitem__)
    # Three lines a dying writer cut short: early, mid-day and during the incident.
    corrupt = [end_ms - int(hours * 3_600_000) for hours in (17, 8, 0.5)]
    (directory / "checkout.jsonl").write_text(checkout.render(corrupt), encoding="utf-8")
    payments = _service_log(_PAYMENTS_SERVICE, seed, end_ms, deploys, lambda _: _PAYMENTS_PROFILE)
    (directory / "payments.jsonl").write_text(payments.render(), encoding="utf-8")
    if metrics_path is not None:
        traffic = [ServiceTraffic(f.service, f.requests, f.versions) for f in (checkout, payments)]
        metrics_path.write_text(openmetrics(traffic, end_ms - 24 * 3_600_000, end_ms), encoding="utf-8")
    bad = profiles[CHECKOUT_RELEASES[-1][0]]
    order = [f.message for f in bad.failures if f.new] + [e.message for e in bad.events if e.new]
    return tuple(checkout.new_examples[template] for template in order)


def _service_log(
    service: _Service,
    seed: int,
    end_ms: int,
    deploys: Sequence[DemoDeploy],
    profile_of: Callable[[str], _Profile],
) -> _LogFile:
    """A day of the service's log up to `end_ms`, one window per deploy."""
    log = _LogFile(service.name, random.Random(f"{seed}/{service.name}-log"), end_ms)
    starts: list[tuple[str, str | None, int]] = [(service.running, None, end_ms - 24 * 3_600_000)]
    starts += [
        (d.version, d.sha, int(d.deployed_at.timestamp()) * 1000) for d in deploys if d.service == log.service
    ]
    ends = [start for _, _, start in starts[1:]] + [end_ms]
    windows = [
        _Window(version, sha, start, end, profile_of(version), _pod_names(log.rng, log.service))
        for (version, sha, start), end in zip(starts, ends, strict=True)
    ]
    log.versions = [(w.version, w.sha, w.start_ms, w.end_ms) for w in windows]
    _generate(log, service, windows)
    return log


def _pod_names(rng: random.Random, service: str) -> tuple[str, ...]:
    # The alphabet Kubernetes uses for generated name suffixes: no vowels, no look-alikes.
    safe = "bcdfghjklmnpqrstvwxz2456789"
    replica_set = random_token(rng, safe, 10)
    return tuple(f"{service}-{replica_set}-{random_token(rng, safe, 5)}" for _ in range(3))


def _generate(log: _LogFile, service: _Service, windows: Sequence[_Window]) -> None:
    arrivals = _arrivals(log.rng, windows[0].start_ms, log.end_ms, service.mean_rps)
    for index, window in enumerate(windows):
        times = arrivals[
            bisect.bisect_left(arrivals, window.start_ms) : bisect.bisect_left(arrivals, window.end_ms)
        ]
        if index > 0:
            _log_startup(log, window)
        for event in window.profile.events:
            _log_event(log, window, event)
        plan = _failure_plan(log.rng, window.profile.failures, len(times))
        for at_ms, failure in zip(times, plan, strict=True):
            _log_request(log, service, window, at_ms, failure)


def _arrivals(rng: random.Random, start_ms: int, end_ms: int, mean_rps: float) -> list[int]:
    """Request arrival times: a Poisson process whose rate follows the day, peaking at 15:00 UTC."""
    out: list[int] = []
    at = start_ms / 1000
    while True:
        hour = (at % 86400) / 3600
        at += rng.expovariate(mean_rps * (1 + 0.55 * math.cos(2 * math.pi * (hour - 15) / 24)))
        if at * 1000 >= end_ms:
            return out
        out.append(int(at * 1000))


def _failure_plan(rng: random.Random, failures: Sequence[_Failure], count: int) -> list[_Failure | None]:
    # Exact counts rather than a coin per request, so a quiet night still shows the intended
    # error rate instead of whatever a few hundred coin flips happen to give.
    plan: list[_Failure | None] = [None] * count
    wanted = [f for f in failures for _ in range(round(f.share * count))]
    for index, failure in zip(rng.sample(range(count), len(wanted)), wanted, strict=True):
        plan[index] = failure
    return plan


def _log_startup(log: _LogFile, window: _Window) -> None:
    git = f" (git {window.sha[:7]})" if window.sha else ""
    for pod in window.pods:
        at = window.start_ms + log.rng.randint(2000, 25000)
        started = f"Starting {log.service} {window.version}{git} on Python 3.11.9"
        for offset, line in enumerate((("info", "app.main", started), *window.profile.startup)):
            log.app(at + 40 * offset, window, pod, line)


def _log_event(log: _LogFile, window: _Window, event: _Event) -> None:
    for _ in range(event.count):
        at = log.rng.randint(window.start_ms + 60_000, window.end_ms - 1)
        extra = {"error": {"type": event.error_type}} if event.error_type else {}
        log.app(at, window, log.rng.choice(window.pods), (event.level, event.logger, event.message), **extra)
        if event.new:
            log.new_examples.setdefault(event.message, event.message)


def _log_request(
    log: _LogFile, service: _Service, window: _Window, at_ms: int, failure: _Failure | None
) -> None:
    rng = log.rng
    values = _Values(rng)
    if failure is None:
        route = rng.choices(service.routes, [r.weight for r in service.routes])[0]
        status = route.client_error[0] if rng.random() < route.client_error[1] else 200
        ms, slowdowns = _latency(rng, window.profile, route, service.sigma)
    else:
        route = rng.choice([r for r in service.routes if r.path in failure.paths])
        status, ms, slowdowns = failure.status, rng.uniform(*failure.ms), []
    done, pod, trace = at_ms + int(ms), rng.choice(window.pods), {"id": values["trace"]}
    values["ms"] = str(int(ms))
    for slowdown in slowdowns:
        log.app(
            done - 1,
            window,
            pod,
            ("warning", slowdown.logger, slowdown.warning.format_map(values)),
            trace=trace,
        )
    if failure is not None:
        message = failure.message.format_map(values)
        error = {"type": failure.type}
        log.app(
            done - rng.randint(1, 3),
            window,
            pod,
            ("error", failure.logger, message),
            error=error,
            trace=trace,
        )
        if failure.new:
            log.new_examples.setdefault(failure.message, message)
    log.access(done, window, route, status=status, ms=ms, values=values)
    for note in route.notes if status == 200 else ():
        line = (note.level, note.logger, note.message.format_map(values))
        if (
            rng.random() < note.share
            and log.app(done + 1, window, pod, line, trace=trace)
            and note.level == "info"
        ):
            log.truncatable.append(len(log.lines) - 1)


def _latency(
    rng: random.Random, profile: _Profile, route: _Route, sigma: float
) -> tuple[float, list[_Slowdown]]:
    """A lognormal latency for the route, plus whatever slows this window down."""
    ms = route.median_ms * math.exp(rng.gauss(0, sigma))
    hits = [s for s in profile.slowdowns if route.path in s.paths and rng.random() < s.share]
    return ms + sum(rng.uniform(*s.extra_ms) for s in hits), [s for s in hits if s.warning]


class _Values(dict[str, str]):
    """The variable parts of one request's lines, drawn only when a line needs them."""

    def __init__(self, rng: random.Random) -> None:
        super().__init__(trace=f"{rng.getrandbits(128):032x}")
        self._rng = rng

    def __missing__(self, key: str) -> str:
        value = self[key] = _VALUE_MAKERS[key](self._rng)
        return value


_SQL = (
    "INSERT INTO orders (cart_id, total_cents, discount_code) VALUES ($1, $2, $3)",
    "UPDATE orders SET discount_code = $1 WHERE id = $2",
)
_VALUE_MAKERS: dict[str, Callable[[random.Random], str]] = {
    "cart": lambda rng: str(rng.randrange(100_000_000, 999_999_999)),
    "intent": lambda rng: str(rng.randrange(10**11, 10**12)),
    "order": lambda rng: str(rng.randrange(40_000_000, 49_999_999)),
    "customer": lambda rng: str(rng.randrange(100_000, 999_999)),
    "items": lambda rng: str(rng.randint(1, 6)),
    "total": lambda rng: f"{rng.uniform(8, 240):.2f}",
    "delay": lambda rng: str(rng.randint(100, 400)),
    "challenge_ms": lambda rng: str(rng.randint(1500, 4000)),
    "sql": lambda rng: rng.choice(_SQL),
}
