"""Errors of the plays package."""

from __future__ import annotations

from ..errors import BetonError


class PlaysError(BetonError):
    """Plays could not be written (an engine failed without a fallback, or a play quoted a
    number that is not in its facts)."""


class LLMError(PlaysError):
    """The LLM engine failed: unreachable, timed out, an HTTP error, a malformed answer, or an
    answer that quotes numbers not in the facts. ``reason`` is a short kind for warnings."""

    def __init__(self, message: str, reason: str):
        self.reason = reason
        super().__init__(message)
