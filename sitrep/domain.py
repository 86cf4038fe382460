"""Plain records that flow from sources to analysis. Analysis knows nothing of backends.

Every time is seconds since the epoch (a float, UTC); None where there is no time. Sources
parse to it, and tools format it (`timespec.epoch_iso`) only as they build results."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

ERROR_LEVELS = frozenset({"error", "fatal", "critical"})


@dataclass(frozen=True, slots=True)
class Deploy:
    """One release of one service at one time."""

    service: str
    version: str
    timestamp: float
    sha: str | None = None
    author: str | None = None
    message: str | None = None
    source: str = "deploy_log"
    status: str | None = None
    environment: str | None = None

    @property
    def went_live(self) -> bool:
        """False for a deploy the log records as failed: it never served traffic."""
        return (self.status or "").lower() not in {"failed", "failure", "aborted", "cancelled", "canceled"}


@dataclass(frozen=True, slots=True)
class Commit:
    sha: str
    parents: tuple[str, ...]
    author: str
    committed_at: float
    subject: str


@dataclass(frozen=True, slots=True)
class FileChange:
    path: str
    status: str
    """A, M, D or R (renamed from `old_path`)."""
    added: int | None
    deleted: int | None
    old_path: str | None = None


@dataclass(slots=True)
class LogRecord:
    """One log line as sitrep reads it. Times are seconds since the epoch, UTC."""

    ts: float
    service: str | None
    level: str | None
    message: str
    status: int | None = None
    duration_ms: float | None = None
    trace_id: str | None = None
    """The distributed trace the line was written in (ECS trace.id, OTel trace_id …), if any."""
    span_id: str | None = None

    @property
    def is_request(self) -> bool:
        return self.status is not None or self.duration_ms is not None

    def is_error(self, error_levels: frozenset[str] = ERROR_LEVELS) -> bool:
        return (self.status is not None and self.status >= 500) or self.level in error_levels


@dataclass(frozen=True, slots=True)
class LogQuery:
    """Which log lines a question is about: [start, end) in epoch seconds, and filters."""

    start: float
    end: float
    services: frozenset[str] | None = None
    levels: frozenset[str] | None = None
    text: str | None = None
    """Case-insensitive substring of the message."""


MAX_SKIP_EXAMPLES = 5


LATENCY_UNKNOWN = "latency percentiles are unknown"
"""How a scan's note ends when the source has no numeric duration to read latency from."""


@dataclass(slots=True)
class ScanReport:
    """What a read could not use, so answers can say what they left out. One report may
    collect several passes over the same files; a bad line is counted once.

    Skipped lines are counted, not kept: a file of fifteen million bad lines costs a counter
    and a line number, not a set of fifteen million entries."""

    lines_skipped: int = 0
    """Lines that could not be read (corrupt JSON, no timestamp, too long, too deep)."""
    examples: list[tuple[str, int]] = field(default_factory=list)
    """(file, line number) of the first few skipped lines."""
    partial: bool = False
    notes: list[str] = field(default_factory=list)
    ungrouped: dict[int, int] = field(default_factory=dict)
    """Matched lines per window that a backend counted but could not return as text (too many
    distinct messages): they still count in totals, as lines not grouped into patterns."""
    _counted_to: dict[str, int] = field(default_factory=dict, repr=False)
    """Per file, the last line number counted: a later pass over the same file (which reads
    it in the same order) counts only the bad lines beyond it."""

    def skip(self, where: str, line: int) -> None:
        if line <= self._counted_to.get(where, 0):
            return
        self._counted_to[where] = line
        self.lines_skipped += 1
        if len(self.examples) < MAX_SKIP_EXAMPLES:
            self.examples.append((where, line))

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


@dataclass(slots=True)
class MessageGroup:
    """Lines sharing one exact message: a backend's distinct message with its count."""

    message: str
    count: int
    first_ts: float | None
    """None when the lines carry no time."""
    last_ts: float | None
    services: dict[str, int]


@dataclass(frozen=True, slots=True)
class TraceStep:
    """One log line of a distributed trace: when, which service wrote it, in which span."""

    ts: float
    service: str
    span_id: str | None = None


@dataclass(slots=True)
class WindowStats:
    """Traffic and health of one service over one time window."""

    start: float
    end: float
    events: int = 0
    """Log lines in the window."""
    requests: int = 0
    """Lines that record a request (a status code or a duration)."""
    errors: int = 0
    """Requests with a 5xx or an error level; log lines with an error level when there are no requests."""
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None

    @property
    def basis(self) -> int:
        """What the error rate is a share of: requests when the logs record them, else lines."""
        return self.requests or self.events

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.basis if self.basis else None


def percentile(ordered: Sequence[float], q: float) -> float | None:
    """The q-quantile of sorted values by linear interpolation between closest ranks
    (numpy's default, and what OpenSearch's percentiles give on small samples)."""
    if not ordered:
        return None
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# -- metrics and alerts (Prometheus, Alertmanager). Times are epoch seconds, UTC. -----------


@dataclass(frozen=True, slots=True)
class Series:
    """One time series of a range query: its labels and its (time, value) samples, oldest first.
    Values may be NaN or ±inf, as PromQL returns them."""

    labels: dict[str, str]
    samples: list[tuple[float, float]]


@dataclass(frozen=True, slots=True)
class MetricSignal:
    """A named health signal of a service, as a PromQL template with `{service}` and `{range}`
    placeholders, and which direction of change is bad."""

    name: str
    """requests, errors, error_ratio, latency_p95, or a configured extra name."""
    query: str
    bad: str
    """"up" (errors, latency) or "down" (requests, say)."""
    origin: str
    """"configured", or the detected convention (e.g. "opentelemetry", "classic")."""

    def promql(self, service: str, window: str) -> str:
        """The query for one service over `window` (a PromQL duration such as 5m). The service
        name is escaped as a PromQL string: a quote in it cannot end the label matcher."""
        quoted = service.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return self.query.replace("{service}", quoted).replace("{range}", window)


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert, firing now or in the past. Labels and annotations are untrusted text."""

    name: str
    state: str
    """firing, pending, suppressed (silenced or inhibited) or resolved."""
    starts_at: float
    ends_at: float | None
    """When it stopped firing (history), or None while it fires."""
    severity: str | None
    service: str | None
    labels: dict[str, str]
    annotations: dict[str, str]
    source: str
    """alertmanager, or prometheus (its ALERTS series / alerts API)."""
