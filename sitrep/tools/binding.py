"""A tool's arguments, read once from its signature, for every caller.

A tool is a plain typed function `tool(ctx, **arguments) -> Result`. The MCP server and the
CLI both need the same thing from it: the signature of its arguments alone (the first
parameter is the context, which the caller supplies) and one validator for those arguments.
`ToolArguments` holds both, so an argument the CLI accepts is one the server accepts.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from sitrep.errors import InputError

__all__ = ["ToolArguments", "tool_arguments"]


@dataclass(frozen=True, slots=True)
class ToolArguments:
    name: str
    description: str
    signature: inspect.Signature
    """The tool's parameters after the context, with their annotations resolved."""
    result: type[BaseModel]
    model: type[BaseModel]
    """Validates a call's arguments (extra ones refused) exactly as the signature says."""

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.signature.parameters)

    def validate(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """The arguments checked and converted; an InputError names the first bad one."""
        try:
            checked = self.model.model_validate(dict(arguments))
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "arguments"
            raise InputError(f"{where}: {first['msg']}") from None
        return {name: getattr(checked, name) for name in self.names}


def tool_arguments(tool: Callable[..., BaseModel]) -> ToolArguments:
    hints = typing.get_type_hints(tool, include_extras=True)
    parameters = list(inspect.signature(tool).parameters.values())[1:]
    resolved = [p.replace(annotation=hints[p.name]) for p in parameters]
    fields: dict[str, Any] = {
        p.name: (p.annotation, ... if p.default is inspect.Parameter.empty else p.default) for p in resolved
    }
    model = create_model(f"{tool.__name__}_arguments", __config__=ConfigDict(extra="forbid"), **fields)
    return ToolArguments(
        name=tool.__name__,
        description=inspect.cleandoc(tool.__doc__ or ""),
        signature=inspect.Signature(resolved, return_annotation=hints["return"]),
        result=hints["return"],
        model=model,
    )
