"""The tools' parameters: the types (each carries the description the model reads) and the
checks that turn an argument into what a tool works with, shared by every tool."""

from typing import Annotated

from pydantic import Field

from sitrep.errors import InputError
from sitrep.sources.logparse import normalize_level
from sitrep.sources.protocols import LogSource
from sitrep.tools.context import ToolContext
from sitrep.tools.history import require_service

LEVEL_ORDER = ("trace", "debug", "info", "warn", "error", "critical", "fatal")

Service = Annotated[str | None, Field(description="As sources_status lists it; omit for all.")]
RequiredService = Annotated[str, Field(description="As sources_status lists it.")]
Until = Annotated[
    str | None,
    Field(description="End, same forms as since; omit for now."),
]


def since_param(default: str) -> object:
    """`since`'s description; `default` is the parameter's own default, which the schema shows."""
    del default
    return Field(description="Start: 90m, 6h, 2d back from now, or ISO-8601.")


def require_logs(ctx: ToolContext) -> LogSource:
    if ctx.sources.logs is None:
        raise InputError(
            'no log source is configured; add [files] paths = ["/var/log/app/*.jsonl"] to the '
            "configuration (sources_status shows what is set up)"
        )
    return ctx.sources.logs


def optional_service(ctx: ToolContext, service: str | None) -> str | None:
    return None if service is None else require_service(ctx.sources, service)


def levels_at_least(level: str) -> frozenset[str]:
    """`warn` → warn and everything more severe."""
    normal = normalize_level(level)
    if normal not in LEVEL_ORDER:
        raise InputError(f"level: unknown level {level!r}; use one of {', '.join(LEVEL_ORDER)}")
    return frozenset(LEVEL_ORDER[LEVEL_ORDER.index(normal) :])
