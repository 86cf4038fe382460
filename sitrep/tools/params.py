"""Parameter types shared by the tools: each carries the description the model reads."""

from typing import Annotated

from pydantic import Field

Service = Annotated[
    str | None, Field(description="Service name as sources_status lists it; omit for every service.")
]
RequiredService = Annotated[str, Field(description="Service name as sources_status lists it.")]
Until = Annotated[
    str | None,
    Field(description="End of the range, same forms as since; omit for now."),
]


def since_param(default: str) -> object:
    return Field(
        description="Start of the range: a duration back from now (90m, 6h, 2d) or an ISO-8601 "
        f"time. Default {default}."
    )
