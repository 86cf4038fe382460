"""The tool list as clients are sent it: small, because every connected client pays for it in
context on every session (issue 13: 27,000 characters before, 18,662 of them output schemas).

Input schemas keep what a model needs to call a tool (types, limits, defaults, each
argument's description) without pydantic's generated titles. Output schemas are an outline:
the names of the result's top-level fields. The types and nested shapes are plain to see in
every answer (the full schemas were two thirds of the list), and the answer's meaning is in
the tool's description; an outline is still a schema every result validates against, so
clients that check results keep working.
"""

from __future__ import annotations

from typing import Any

__all__ = ["compact_input", "outline"]


def compact_input(schema: dict[str, Any]) -> dict[str, Any]:
    """The input schema without titles and null defaults; an optional `anyOf [T, null]` is
    given as T: a model omits an argument it does not want (a null is still accepted)."""
    compact: dict[str, Any] = {
        "type": "object",
        "properties": {name: _argument(spec) for name, spec in schema.get("properties", {}).items()},
    }
    if schema.get("required"):
        compact["required"] = schema["required"]
    return compact


def _argument(spec: dict[str, Any]) -> dict[str, Any]:
    argument = {k: v for k, v in spec.items() if k != "title" and not (k == "default" and v is None)}
    options = argument.get("anyOf")
    if isinstance(options, list) and len(options) == 2 and {"type": "null"} in options:
        other = next(option for option in options if option != {"type": "null"})
        if isinstance(other.get("type"), str):
            del argument["anyOf"]
            argument.update(other)
    return argument


SHARED_FIELDS = frozenset({"sources_not_ok", "truncated", "omitted", "notes"})
"""Fields every answer may carry: the server's instructions name them once, for all tools."""


def outline(schema: dict[str, Any]) -> dict[str, Any]:
    """The output schema's own top-level field names (not the shared ones): what an answer
    holds, each accepting any value, so every result validates against it."""
    names = [key for key in schema.get("properties", {}) if key not in SHARED_FIELDS]
    return {"type": "object", "properties": {key: {} for key in names}}
