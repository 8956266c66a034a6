"""HTTP client for PostHog's private API: auth, retries, concurrency cap, errors in plain words.

Retries are urllib3's :class:`~urllib3.util.Retry`: ``Retry-After`` is honoured on 429 (and
503), other 5xx answers, timeouts, refused or dropped connections and bodies cut off mid-way
back off exponentially with jitter. The body is read inside urllib3 (``preload_content``) so a
connection dropped mid-body is retried like any other read error. An answer that arrives
whole but is not JSON goes through the same ``Retry`` object. At most ``max_concurrent``
requests (3, PostHog's per-project query concurrency) are in flight at once.

Nothing here ever puts the API key in a message: errors name the host and the API path only.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.util import Timeout

from beton_runner import __version__
from beton_runner.errors import ConfigError, IngestError
from beton_runner.http_retry import BoundedRetry, RetryRefused
from beton_runner.posthog.config import PostHogConfig

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
REQUIRED_SCOPES = ("query:read", "person:read", "group:read")


@dataclass(frozen=True)
class ClientSettings:
    connect_timeout: float = 10.0
    # PostHog runs a query for at most 10 s after up to 30 s in its queue; leave room for transfer.
    read_timeout: float = 120.0
    retries: int = 8
    # A host that refuses connections or does not resolve is given up on sooner.
    connect_retries: int = 3
    backoff_factor: float = 1.0
    backoff_max: float = 60.0
    backoff_jitter: float = 1.0
    # A Retry-After longer than this is not waited out: the run stops with a clear message.
    max_retry_after: float = 600.0
    max_concurrent: int = 3


DEFAULT_SETTINGS = ClientSettings()


class PostHogAccessError(ConfigError):
    """PostHog refused us: bad key, missing scope, wrong project, or a host that is not PostHog.

    ``kind`` is one of ``bad_key``, ``no_key``, ``missing_scope``, ``wrong_project``,
    ``forbidden``.
    """

    def __init__(self, kind: str, message: str, status: int | None = None, scope: str | None = None):
        self.kind = kind
        self.status = status
        self.scope = scope
        super().__init__(message)


class PostHogUnavailableError(IngestError):
    """PostHog could not be reached or kept failing after every retry.

    ``kind`` is one of ``unreachable``, ``rate_limited``, ``server_error``, ``timeout``,
    ``bad_response``, ``query_rejected``.
    """

    def __init__(self, kind: str, message: str, status: int | None = None):
        self.kind = kind
        self.status = status
        super().__init__(message)


@dataclass
class QueryResult:
    columns: list[str]
    results: list[list[Any]]


def _error_body(data: bytes) -> dict[str, Any]:
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return {}
    return body if isinstance(body, dict) else {}


class PostHogClient:
    """A thread-safe client for one PostHog project."""

    def __init__(
        self,
        config: PostHogConfig,
        settings: ClientSettings = DEFAULT_SETTINGS,
        on_retry: Callable[[str], None] | None = None,
    ):
        self.config = config
        self.settings = settings
        self.on_retry = on_retry
        self._slots = threading.BoundedSemaphore(settings.max_concurrent)
        self._pool = urllib3.PoolManager(
            num_pools=2,
            maxsize=settings.max_concurrent,
            block=True,
            timeout=Timeout(connect=settings.connect_timeout, read=settings.read_timeout),
        )
        self._lock = threading.Lock()
        self.requests = 0
        self.retries = 0
        self._headers = {
            "Authorization": f"Bearer {config.api_key.reveal()}",
            "Accept": "application/json",
            "Accept-Encoding": "gzip",
            "User-Agent": f"beton-inspector/{__version__}",
        }

    # -- plumbing ---------------------------------------------------------------------------

    def close(self) -> None:
        self._pool.clear()

    def __enter__(self) -> PostHogClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def project_path(self, suffix: str) -> str:
        return f"/api/projects/{self.config.project_id}/{suffix}"

    def _retry(self) -> BoundedRetry:
        s = self.settings
        retry = BoundedRetry(
            total=s.retries,
            connect=min(s.connect_retries, s.retries),
            read=s.retries,
            status=s.retries,
            other=0,
            redirect=3,
            allowed_methods=None,  # every request here is a read, POST /query/ included
            status_forcelist=RETRY_STATUSES,
            backoff_factor=s.backoff_factor,
            backoff_max=s.backoff_max,
            backoff_jitter=s.backoff_jitter,
            respect_retry_after_header=True,
            raise_on_status=False,
            raise_on_redirect=True,
        )
        retry.max_retry_after = s.max_retry_after
        retry.on_retry = self._note_retry
        return retry

    def _note_retry(self, what: str) -> None:
        with self._lock:
            self.retries += 1
        log.info("PostHog request will be retried (%s)", what)
        if self.on_retry is not None:
            self.on_retry(what)

    def request_json(self, method: str, path: str, body: dict | None = None, fields: dict | None = None) -> Any:
        """Send one request (with retries) and return the decoded JSON, or raise a BetonError."""
        url = self.config.host + path
        payload = json.dumps(body).encode() if body is not None else None
        headers = dict(self._headers)
        if payload is not None:
            headers["Content-Type"] = "application/json"
        retry = self._retry()
        with self._slots:
            while True:
                with self._lock:
                    self.requests += 1
                try:
                    response = self._pool.request(
                        method,
                        url,
                        body=payload,
                        fields=fields,
                        headers=headers,
                        retries=retry,
                        preload_content=True,
                    )
                except RetryRefused as exc:
                    status = getattr(exc.response, "status", None) or 429
                    busy = (
                        "PostHog's rate limit for this project is used up for now"
                        if status == 429
                        else f"PostHog is unavailable for now (HTTP {status})"
                    )
                    raise PostHogUnavailableError(
                        "rate_limited" if status == 429 else "server_error",
                        f"{busy}: it asks to wait {exc.wait or 0:.0f} seconds ({self._where(path)}). "
                        "Run the command again later; an ingest continues where it stopped.",
                        status=status,
                    ) from None
                except MaxRetryError as exc:
                    raise self._unreachable(path, exc.reason) from None
                except (ProtocolError, ReadTimeoutError, OSError) as exc:  # retries=0 paths
                    raise self._unreachable(path, exc) from None

                if response.status >= 400:
                    raise self._http_error(path, response.status, response.data, retry_count=self.settings.retries)
                try:
                    return json.loads(response.data)
                except (ValueError, UnicodeDecodeError):
                    try:
                        retry = retry.increment(method, url, error=ProtocolError("the answer was not valid JSON"))
                    except MaxRetryError:
                        raise PostHogUnavailableError(
                            "bad_response",
                            f"PostHog kept sending answers that are not valid JSON ({self._where(path)}, "
                            f"{self.settings.retries} retries). A proxy or firewall between you and "
                            "PostHog may be cutting them off; try again, or from another network.",
                            status=response.status,
                        ) from None
                    retry.sleep()

    def _where(self, path: str) -> str:
        return f"{self.config.host}{path}"

    # -- error translation --------------------------------------------------------------------

    def _region_hint(self) -> str:
        region = self.config.region
        if region == "us":
            return (
                " A key created in PostHog's EU cloud is rejected as invalid here on the US host: if "
                "you log in at eu.posthog.com, use --region eu (or POSTHOG_HOST=https://eu.posthog.com)."
            )
        if region == "eu":
            return (
                " A key created in PostHog's US cloud is rejected as invalid here on the EU host: if "
                "you log in at us.posthog.com, use --region us (or POSTHOG_HOST=https://us.posthog.com)."
            )
        return " Check that the key was created on this PostHog instance."

    def _http_error(self, path: str, status: int, data: bytes, retry_count: int) -> Exception:
        body = _error_body(data)
        detail = str(body.get("detail") or "").strip()
        code = str(body.get("code") or "")
        where = self._where(path)
        project = self.config.project_id
        if status == 401:
            if code == "not_authenticated":
                return PostHogAccessError(
                    "no_key",
                    f"PostHog did not receive an API key ({where}). Set POSTHOG_PERSONAL_API_KEY to "
                    "a personal API key (it starts with phx_).",
                    status=status,
                )
            return PostHogAccessError(
                "bad_key",
                f"PostHog rejected the personal API key as invalid ({where}). Check that "
                "POSTHOG_PERSONAL_API_KEY holds the whole key (it starts with phx_) and that the "
                "key has not been deleted." + self._region_hint(),
                status=status,
            )
        if status == 403:
            scope_match = re.search(r"scope '([^']+)'", detail)
            if scope_match or "scope" in detail.lower():
                scope = scope_match.group(1) if scope_match else None
                needed = f"'{scope}'" if scope else "a required scope"
                return PostHogAccessError(
                    "missing_scope",
                    f"The personal API key lacks the scope {needed} ({where}). In PostHog, open "
                    "Settings > Personal API keys, edit the key and grant read access for "
                    f"{', '.join(REQUIRED_SCOPES)} (or create a new key with them).",
                    status=status,
                    scope=scope,
                )
            if "project" in detail.lower() or "organization" in detail.lower() or "team" in detail.lower():
                return PostHogAccessError(
                    "wrong_project",
                    f"The personal API key has no access to project {project} ({where}): PostHog "
                    f'said "{detail}". Check POSTHOG_PROJECT_ID (the number after /project/ in your '
                    "PostHog address bar), and that the key is allowed to read that project.",
                    status=status,
                )
            return PostHogAccessError(
                "forbidden",
                f'PostHog refused access ({where}): "{detail or "permission denied"}". Check the '
                "key's scopes and the project it is allowed to read.",
                status=status,
            )
        if status == 404:
            return PostHogAccessError(
                "wrong_project",
                f"PostHog has no project {project} that this key can see ({where} answered 404). "
                "Check POSTHOG_PROJECT_ID: it is the number after /project/ in your PostHog address "
                "bar. Also check the region: a US project does not exist on eu.posthog.com and "
                "vice versa.",
                status=status,
            )
        if status == 429:
            return PostHogUnavailableError(
                "rate_limited",
                f"PostHog kept rate-limiting the export after {retry_count} retries ({where}): "
                f'"{detail or "throttled"}". Wait a while and run the command again; an ingest '
                "continues where it stopped.",
                status=status,
            )
        if status >= 500:
            what = {503: "is at capacity", 504: "timed out running the query"}.get(status, "had an internal error")
            return PostHogUnavailableError(
                "server_error",
                f"PostHog {what} (HTTP {status}) and kept failing after {retry_count} retries "
                f"({where}){': ' + repr(detail) if detail else ''}. Try again later; check "
                "https://status.posthog.com.",
                status=status,
            )
        return PostHogUnavailableError(
            "query_rejected",
            f"PostHog rejected the request with HTTP {status} ({where}): "
            f"{code + ': ' if code else ''}{detail or 'no details'}. This is probably a bug in "
            "Beton Inspector; please report it with this message.",
            status=status,
        )

    def _unreachable(self, path: str, reason: BaseException | None) -> Exception:
        where = self._where(path)
        if isinstance(reason, (NewConnectionError, NameResolutionError, ConnectTimeoutError)) or (
            reason is not None and "Failed to resolve" in str(reason)
        ):
            return PostHogUnavailableError(
                "unreachable",
                f"Could not connect to PostHog at {self.config.host} ({where}). Check POSTHOG_HOST "
                "or --region (us: https://us.posthog.com, eu: https://eu.posthog.com, or your "
                "self-hosted address), and that this machine can reach it (proxy, VPN, firewall).",
            )
        if isinstance(reason, ReadTimeoutError) or "timed out" in str(reason).lower():
            return PostHogUnavailableError(
                "timeout",
                f"PostHog did not answer in time ({self.settings.read_timeout:.0f}s) even after "
                f"{self.settings.retries} retries ({where}). PostHog may be overloaded; try again "
                "later.",
            )
        return PostHogUnavailableError(
            "unreachable",
            f"The connection to PostHog kept breaking ({where}, {self.settings.retries} retries: "
            f"{type(reason).__name__ if reason else 'error'}). Check your network and try again; "
            "an ingest continues where it stopped.",
        )

    # -- API ----------------------------------------------------------------------------------

    def query(self, hogql: str, name: str = "beton-inspector export") -> QueryResult:
        """Run one HogQL query (blocking) and return its rows."""
        body = {"query": {"kind": "HogQLQuery", "query": hogql}, "name": name}
        answer = self.request_json("POST", self.project_path("query/"), body=body)
        if not isinstance(answer, dict) or not isinstance(answer.get("results"), list):
            raise PostHogUnavailableError(
                "bad_response",
                f"PostHog answered the query without results ({self._where(self.project_path('query/'))}).",
            )
        if answer.get("error"):
            raise PostHogUnavailableError("query_rejected", f"PostHog reported a query error: {answer['error']}")
        return QueryResult(columns=list(answer.get("columns") or []), results=answer["results"])

    def group_types(self) -> list[dict[str, Any]]:
        answer = self.request_json("GET", self.project_path("groups_types/"))
        if isinstance(answer, dict):  # tolerate a paged shape
            answer = answer.get("results", [])
        return [t for t in answer if isinstance(t, dict)]

    def persons_sample(self) -> dict[str, Any]:
        return self.request_json("GET", self.project_path("persons/"), fields={"limit": "1"})
