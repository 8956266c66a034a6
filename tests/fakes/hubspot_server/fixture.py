"""pytest fixtures for the local HubSpot stand-in. Import both in a test module:

    from hubspot_server.fixture import hubspot_server, hubspot_server_session  # noqa: F401

``hubspot_server`` is the session's server, reset for each test (empty portal with only built-in
properties, no faults, the documented 100 requests / 10 s burst limit). Its private-app token is
``hubspot_server.token``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import HubSpotTestServer


@pytest.fixture(scope="session")
def hubspot_server_session() -> Iterator[HubSpotTestServer]:
    server = HubSpotTestServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def hubspot_server(hubspot_server_session: HubSpotTestServer) -> HubSpotTestServer:
    hubspot_server_session.reset()
    return hubspot_server_session
