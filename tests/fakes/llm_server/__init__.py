"""A local OpenAI-compatible chat-completions server for tests (real HTTP on a free port)."""
