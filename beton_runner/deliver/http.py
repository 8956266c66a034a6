"""The HTTP layer every destination sends through: JSON over urllib3, retries with backoff that
honour Retry-After, a time budget per destination, and errors that never carry a secret.

Retried: 429 and 5xx answers (Retry-After honoured, capped by ``max_retry_after``), timeouts,
refused or dropped connections. Every request here is safe to repeat — each carries an
idempotency key or is an upsert — so POST and PATCH are retried too. A destination that stays
down costs at most ``budget`` seconds, then its batch fails with a retryable DeliveryError and
the other destinations go on.

Errors name the destination and the URL's scheme, host and path only: no query string (Slack's
and many webhook URLs carry their secret in the path, so for those the destination passes a
``label`` to use instead of the URL), no header, no token.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import urllib3
from urllib3.exceptions import MaxRetryError, ProtocolError
from urllib3.util import Timeout

from beton_runner import __version__
from beton_runner.deliver.base import DeliveryError
from beton_runner.http_retry import BoundedRetry, RetryRefused

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class HttpSettings:
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    retries: int = 6
    backoff_factor: float = 0.5
    backoff_max: float = 30.0
    # A Retry-After longer than this is not waited out: the batch fails (retryable) and stays pending.
    max_retry_after: float = 120.0
    # Wall-clock seconds one request may spend across its retries.
    budget: float = 180.0


@dataclass
class Response:
    status: int
    headers: Mapping[str, str]
    data: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.data) if self.data else None
        except (ValueError, UnicodeDecodeError):
            return None

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


def safe_url(url: str) -> str:
    """scheme://host[:port]/path, without user info, query or fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


class Http:
    """One connection pool per destination."""

    def __init__(
        self,
        destination: str,
        settings: HttpSettings | None = None,
        on_retry: Callable[[str], None] | None = None,
    ):
        self.destination = destination
        self.settings = settings or HttpSettings()
        self.on_retry = on_retry
        self.requests = 0
        self.retries = 0
        self._pool = urllib3.PoolManager(
            num_pools=4,
            timeout=Timeout(connect=self.settings.connect_timeout, read=self.settings.read_timeout),
        )

    def close(self) -> None:
        self._pool.clear()

    def _note_retry(self, what: str) -> None:
        self.retries += 1
        if self.on_retry is not None:
            self.on_retry(what)

    def request(
        self,
        method: str,
        url: str,
        *,
        body: Any = None,
        raw: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        label: str | None = None,
        ok: Callable[[int], bool] = lambda status: status < 400,
    ) -> Response:
        """Send one request with retries; return the final answer when ``ok(status)``, else raise
        DeliveryError (retryable for 429/5xx, not for other 4xx). ``body`` is sent as JSON;
        ``raw`` as is (e.g. the exact bytes a signature was computed over)."""
        s = self.settings
        where = label or safe_url(url)
        payload = raw if raw is not None else (json.dumps(body, default=str).encode() if body is not None else None)
        all_headers = {"User-Agent": f"beton-inspector/{__version__}", "Accept": "application/json"}
        if payload is not None:
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        retry = BoundedRetry(
            total=s.retries,
            connect=s.retries,
            read=s.retries,
            status=s.retries,
            other=0,
            redirect=0,
            allowed_methods=None,
            status_forcelist=RETRY_STATUSES,
            backoff_factor=s.backoff_factor,
            backoff_max=s.backoff_max,
            respect_retry_after_header=True,
            raise_on_status=False,
            raise_on_redirect=False,
        )
        retry.max_retry_after = s.max_retry_after
        retry.deadline = time.monotonic() + s.budget
        retry.on_retry = self._note_retry
        self.requests += 1
        try:
            r = self._pool.request(
                method, url, body=payload, headers=all_headers, retries=retry, preload_content=True, redirect=False
            )
        except RetryRefused as exc:
            status = getattr(exc.response, "status", None)
            what = f"HTTP {status}" if status else "no answer"
            raise DeliveryError(
                self.destination,
                f"{where} did not take the delivery ({what}; {exc.why}). It stays pending and is sent "
                "on the next `beton deliver`.",
                retryable=True,
                status=status,
            ) from None
        except MaxRetryError as exc:
            reason = exc.reason
            status = None
            what = type(reason).__name__ if reason is not None else "error"
            if isinstance(reason, urllib3.exceptions.ResponseError):
                what = "it kept answering with errors"
            raise DeliveryError(
                self.destination,
                f"{where} could not be reached ({what}) after {s.retries} retries. It stays pending "
                "and is sent on the next `beton deliver`.",
                retryable=True,
                status=status,
            ) from None
        except (ProtocolError, OSError) as exc:
            raise DeliveryError(
                self.destination,
                f"{where} could not be reached ({type(exc).__name__}). It stays pending and is sent on the "
                "next `beton deliver`.",
                retryable=True,
            ) from None
        response = Response(r.status, dict(r.headers), r.data or b"")
        if ok(response.status):
            return response
        raise DeliveryError(
            self.destination,
            f"{where} answered HTTP {response.status}",
            retryable=response.status in RETRY_STATUSES,
            status=response.status,
        )
