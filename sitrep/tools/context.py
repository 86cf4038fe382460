"""What every tool is handed: the settings, the configured sources and the clock.

A plain container. Tools ask the sources for records and hand them to analysis; nothing here
decides anything. Tests build one around fakes: `ToolContext(settings, Sources(logs=...))`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sitrep.settings import Settings
from sitrep.sources.configured import Sources, build_sources

__all__ = ["Clock", "ToolContext", "build_context", "utc_now"]

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass(frozen=True, slots=True)
class ToolContext:
    settings: Settings
    sources: Sources
    now: Clock = utc_now


def build_context(settings: Settings, *, clock: Clock = utc_now, cwd: Path | None = None) -> ToolContext:
    """The context for one configuration: its sources built once, shared by every call."""
    return ToolContext(settings, build_sources(settings, cwd=cwd), clock)
