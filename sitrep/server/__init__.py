"""The protocol surface: the MCP server (`mcp`), its prompts and resources (`prompts`), the
streamable-HTTP transport (`http`) and the audit trail of tool calls (`audit`)."""
