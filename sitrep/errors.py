"""sitrep's exceptions: backend errors are converted once, at the source boundary, into these.

    SitrepError
    ├── ConfigError          the configuration is wrong; the message names the key and the fix
    ├── InputError           a tool argument is wrong; the message names the argument
    ├── SourceError          a backend could not answer a read (reads fail soft)
    │   ├── SourceUnavailable    missing file or repository, refused connection
    │   ├── SourceTimeout        no answer within the time allowed
    │   └── SourceResponseError  an answer sitrep cannot read
    └── WriteRefused         a request that is not an allowlisted read (writes fail closed)

Tools turn these into the SDK's `ToolError`, whose message the model reads and acts on.
"""

from __future__ import annotations


class SitrepError(Exception):
    """Base class of every error sitrep raises on purpose."""


class ConfigError(SitrepError):
    """The configuration cannot be used."""


class InputError(SitrepError):
    """A caller's argument is invalid."""


class SourceError(SitrepError):
    """A backend failed a read."""

    def __init__(self, source: str, message: str) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source


class SourceUnavailable(SourceError):
    """The backend is missing or refuses connections."""


class SourceTimeout(SourceError):
    """The backend did not answer in time."""


class SourceResponseError(SourceError):
    """The backend answered with something sitrep cannot read."""


class WriteRefused(SitrepError):
    """sitrep refused to send a request that is not an allowlisted read."""
