"""Local development helpers: the Firestore emulator and the ``mcp-auth dev`` runner."""
