"""pytest fixtures for the local OpenAI-compatible server. Import both in a test module:

    from llm_server.fixture import llm_server, llm_server_session  # noqa: F401

``llm_server`` is the session's server, reset (mode normal, no recorded requests) for each test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import LLMTestServer


@pytest.fixture(scope="session")
def llm_server_session() -> Iterator[LLMTestServer]:
    server = LLMTestServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def llm_server(llm_server_session: LLMTestServer) -> LLMTestServer:
    llm_server_session.reset()
    return llm_server_session
