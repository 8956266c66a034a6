"""pytest fixtures for the local Slack incoming-webhook stand-in. Import both in a test module:

    from slack_server.fixture import slack_server, slack_server_session  # noqa: F401

``slack_server`` is the session's server, reset for each test (no faults, nothing recorded, the
rate limit back to one message per second).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import Fault, SlackTestServer

__all__ = ["Fault", "SlackTestServer", "slack_server", "slack_server_session"]


@pytest.fixture(scope="session")
def slack_server_session() -> Iterator[SlackTestServer]:
    server = SlackTestServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def slack_server(slack_server_session: SlackTestServer) -> Iterator[SlackTestServer]:
    slack_server_session.reset()
    yield slack_server_session
    slack_server_session.reset()  # ends a hang still holding a connection
