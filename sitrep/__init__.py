"""sitrep: a read-only incident-triage MCP server."""

__version__ = "0.1.0"

__all__ = ["__version__"]
