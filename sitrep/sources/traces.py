"""The lines of distributed traces met while scanning, kept by trace id, with a bound.

Sources hand these to analysis as they are: which trace a line belongs to, when, and which
service wrote it. Lines come in any order (files are read newest first, one after another);
analysis sorts each trace. Memory is bounded by MAX_TRACE_LINES: past it, lines are counted,
not kept, and the scan report says so.
"""

from __future__ import annotations

from sitrep.domain import LogRecord, ScanReport, TraceStep

__all__ = ["MAX_TRACE_LINES", "TraceLines"]

MAX_TRACE_LINES = 100_000
"""Trace lines kept per scan: about 15 MB, a busy service's hour."""

UNKNOWN_SERVICE = "unknown"


class TraceLines:
    """Collects the trace lines of one scan."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = MAX_TRACE_LINES if limit is None else limit
        self._kept = 0
        self.dropped = 0
        self.traces: dict[str, list[TraceStep]] = {}
        self._services: dict[str, str] = {}

    def add(self, record: LogRecord) -> None:
        """Keep the line if it carries a trace id and the bound allows."""
        trace = record.trace_id
        if trace is None:
            return
        if self._kept >= self.limit:
            self.dropped += 1
            return
        self._kept += 1
        name = record.service or UNKNOWN_SERVICE
        # One string per service name, not one per line.
        service = self._services.setdefault(name, name)
        self.traces.setdefault(trace, []).append(TraceStep(record.ts, service, record.span_id))

    def finish(self, report: ScanReport) -> dict[str, list[TraceStep]]:
        """The traces kept; a note in `report` when lines were left out."""
        if self.dropped:
            report.note(
                f"trace lines: kept the first {self.limit:,} read (the newest) and left out the "
                f"rest ({self.dropped:,} read past that bound): older trace times rest on fewer traces"
            )
        return self.traces
