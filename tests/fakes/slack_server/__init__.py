"""A local stand-in for Slack incoming webhooks for tests (real HTTP on a free port)."""
