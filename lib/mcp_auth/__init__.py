"""mcp_auth: authenticated, multi-tenant MCP servers on Cloud Run functions."""
