"""The context of one tool call: its deadline, and which sources it read.

A tool call runs in a worker thread; the context variable travels with it. Sources consult
`time_left()` so that several slow requests in a row still end inside the call's deadline
(each backend's own timeout is only a bound on one request), and report themselves with
`touched()` so that the audit log can say what the agent read. Outside a call (the CLI, the
tests of one source) there is no deadline and nothing is recorded.

A call the server has given up on (its deadline passed, or the client cancelled it) is marked
`cancelled`; every loop that reads calls `check()`, which then raises `Cancelled`, so the
worker thread stops instead of burning CPU and memory on an answer no one will read.
"""

from __future__ import annotations

import threading
import time
import typing
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = [
    "Call",
    "Cancelled",
    "WallClockExceeded",
    "check",
    "current",
    "expired",
    "once",
    "source_not_ok",
    "time_left",
    "tool_call",
    "touched",
    "within",
]

RESERVE_SHARE = 0.1
"""The share of a call's deadline kept back from the sources, to build the answer from
what they returned."""
MIN_RESERVE = 0.5


@dataclass(slots=True)
class Call:
    tool: str
    deadline: float
    """time.monotonic() when the call must have answered."""
    reserve: float
    started: float = 0.0
    sources: set[str] = field(default_factory=set)
    timed_out: bool = False
    cancelled: bool = False
    """Set by the server when it stops waiting for the call; the work must then stop."""
    memo: dict[Hashable, Any] = field(default_factory=dict)
    """Answers already read in this call, by query (see `once`)."""
    not_ok: dict[str, str] = field(default_factory=dict)
    """Sources this call needed and could not use, with why (see `source_not_ok`)."""
    progress: Callable[[float, float, str], None] | None = None
    """Told (seconds spent, seconds allowed, a message) now and then while the call reads,
    when the client asked for progress; see `check`."""
    reported: float = 0.0
    """time.monotonic() of the last progress report."""


class Cancelled(BaseException):
    """Raised by `check()` in a call the server has given up on. A BaseException, like
    asyncio's CancelledError, so that no `except Exception` on the way turns it into data."""


_CURRENT: ContextVar[Call | None] = ContextVar("sitrep_call", default=None)


@contextmanager
def tool_call(tool: str, seconds: float) -> Iterator[Call]:
    """Run the body as one tool call that must answer within `seconds` (`inf`: no deadline,
    as on the command line, where the human decides when to give up)."""
    reserve = max(MIN_RESERVE, RESERVE_SHARE * seconds) if seconds < float("inf") else 0.0
    started = time.monotonic()
    call = Call(tool, started + seconds, reserve, started=started, reported=started)
    token = _CURRENT.set(call)
    try:
        yield call
    finally:
        _CURRENT.reset(token)


def current() -> Call | None:
    return _CURRENT.get()


def time_left() -> float:
    """Seconds a source may still spend in this call (infinite outside a call)."""
    call = _CURRENT.get()
    if call is None:
        return float("inf")
    if call.cancelled:
        return float("-inf")
    return call.deadline - call.reserve - time.monotonic()


def expired() -> bool:
    return time_left() <= 0


PROGRESS_EVERY = 1.0
"""Seconds between two progress reports of one call."""


def check() -> None:
    """Raise `Cancelled` if this call has been given up on; cheap enough for every line read.
    Every loop that reads calls it, so it is also where a long call reports its progress."""
    call = _CURRENT.get()
    if call is None:
        return
    if call.cancelled:
        raise Cancelled(call.tool)
    if call.progress is not None:
        now = time.monotonic()
        if now - call.reported >= PROGRESS_EVERY:
            call.reported = now
            allowed = call.deadline - call.started
            spent = now - call.started
            call.progress(spent, allowed, f"{call.tool}: reading, {spent:.0f} s of at most {allowed:.0f} s")


def once(key: Hashable, read: Callable[[], T]) -> T:
    """`read()`, done once per call for each `key`: several tools' steps asking a source the
    same question within one call get the first answer (a deploy log parsed once, a git range
    walked once). Outside a call there is nothing to share it with, so it just reads."""
    call = _CURRENT.get()
    if call is None:
        return read()
    if key not in call.memo:
        call.memo[key] = read()
    return typing.cast(T, call.memo[key])


def source_not_ok(source: str, detail: str) -> None:
    """Record that this call could not use `source` (the first reason is kept): the answer
    then says so at its top, so a broken source never looks like a quiet system."""
    call = _CURRENT.get()
    if call is not None:
        call.not_ok.setdefault(source, detail)


def touched(source: str) -> None:
    """Record that this call read `source` (a source's name, e.g. `git:checkout`)."""
    call = _CURRENT.get()
    if call is not None:
        call.sources.add(source)


class WallClockExceeded(Exception):
    """`within`'s `send` gave no whole answer in time."""


def within(seconds: float, send: Callable[[], T], name: str) -> T:
    """`send()`, or WallClockExceeded after `seconds` of wall clock: a request whose server
    drips bytes never trips a socket timeout, so each backend request runs under this. `send`
    runs in a daemon thread that is left behind if it overruns (an executor's threads would be
    joined at exit, and a dripping server would then hold up the process); its exception, if
    any, is raised here as it is."""
    outcome: list[tuple[bool, Any]] = []

    def run() -> None:
        try:
            outcome.append((True, send()))
        except BaseException as error:  # handed to the waiting thread as it is
            outcome.append((False, error))

    worker = threading.Thread(target=run, name=name, daemon=True)
    worker.start()
    worker.join(max(0.05, seconds))
    if not outcome:
        raise WallClockExceeded(f"no whole answer within {seconds:.3g} s")
    ok, value = outcome[0]
    if not ok:
        raise value
    return typing.cast(T, value)
