"""pytest fixtures for the local Salesforce stand-in. Import both in a test module:

    from salesforce_server.fixture import salesforce_server, salesforce_server_session  # noqa: F401

``salesforce_server`` is the session's server, reset for each test (an org with Account, Lead
and Contact carrying the Beton fields, no records, no faults). Its access token is
``salesforce_server.token``; point ``SALESFORCE_INSTANCE_URL`` at ``salesforce_server.url``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import SalesforceTestServer


@pytest.fixture(scope="session")
def salesforce_server_session() -> Iterator[SalesforceTestServer]:
    server = SalesforceTestServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def salesforce_server(salesforce_server_session: SalesforceTestServer) -> SalesforceTestServer:
    salesforce_server_session.reset()
    return salesforce_server_session
