"""A local stand-in for PostHog's private API, for the ingestion tests (see server.py)."""
