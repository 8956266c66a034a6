"""urllib3's Retry with the three things both of beton's HTTP clients (PostHog ingestion and
delivery) need: a ceiling on how long a Retry-After is waited out, an optional wall-clock
deadline across all retries, and a hook that reports each retry as it happens.

When a server asks to wait longer than ``max_retry_after``, or the next wait would pass
``deadline``, :class:`RetryRefused` is raised out of the pool's ``request`` so the caller can say
why in its own words (the PostHog client: "rate limit used up, run again later"; delivery: "stays
pending").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from urllib3.util import Retry


class RetryRefused(Exception):
    """A retry that will not be waited for: ``why`` says it in words; ``wait`` is the
    Retry-After asked for, when that was the reason."""

    def __init__(self, why: str, response: Any, wait: float | None = None):
        super().__init__(why)
        self.why = why
        self.response = response
        self.wait = wait


class BoundedRetry(Retry):
    """A Retry with ``max_retry_after`` (seconds), ``deadline`` (a ``time.monotonic()`` instant)
    and ``on_retry`` (called with e.g. ``"HTTP 503, waiting 5s as asked"``), carried over to
    every copy urllib3 makes."""

    max_retry_after: float = float("inf")
    deadline: float = float("inf")
    on_retry: Callable[[str], None] | None = None

    def new(self, **kw: Any) -> BoundedRetry:
        new = super().new(**kw)
        new.max_retry_after = self.max_retry_after
        new.deadline = self.deadline
        new.on_retry = self.on_retry
        return new

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        asked = None
        if response is not None and self.respect_retry_after_header:
            asked = self.get_retry_after(response)
            if asked is not None and asked > self.max_retry_after:
                raise RetryRefused(
                    f"it asks to wait {asked:.0f}s (more than {self.max_retry_after:.0f}s)", response, asked
                )
        new = super().increment(method, url, response, error, _pool, _stacktrace)
        wait = asked if asked is not None else new.get_backoff_time()
        if time.monotonic() + wait > self.deadline:
            raise RetryRefused("it kept failing for the whole retry budget", response)
        if self.on_retry is not None:
            if response is not None:
                what = f"HTTP {response.status}" + (f", waiting {asked:.0f}s as asked" if asked else "")
            else:
                what = type(error).__name__ if error is not None else "error"
            self.on_retry(what)
        return new
