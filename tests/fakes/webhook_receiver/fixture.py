"""pytest fixtures for the local webhook receiver. Import both in a test module:

    from webhook_receiver.fixture import webhook_receiver, webhook_receiver_session  # noqa: F401

``webhook_receiver`` is the session's receiver, reset for each test (no secret, no faults,
nothing recorded).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import Fault, WebhookReceiver

__all__ = ["Fault", "WebhookReceiver", "webhook_receiver", "webhook_receiver_session"]


@pytest.fixture(scope="session")
def webhook_receiver_session() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver().start()
    try:
        yield receiver
    finally:
        receiver.stop()


@pytest.fixture
def webhook_receiver(webhook_receiver_session: WebhookReceiver) -> Iterator[WebhookReceiver]:
    webhook_receiver_session.reset()
    yield webhook_receiver_session
    webhook_receiver_session.reset()
