"""The LLM engine: the same facts and the same signal-selected plays, written by a model behind
an OpenAI-compatible chat-completions API.

Settings come from the environment: ``BETON_LLM_BASE_URL`` (e.g. ``https://api.openai.com/v1``;
the engine POSTs to ``<base>/chat/completions``), ``BETON_LLM_MODEL``, ``BETON_LLM_API_KEY``
(secret: sent only as ``Authorization: Bearer …``, never logged, never in an error, a play or an
export), ``BETON_LLM_TIMEOUT`` (seconds per attempt for connecting and for each read, default
60), ``BETON_LLM_RETRIES`` (default 2; urllib3 ``Retry`` on connection errors, read timeouts,
429 and 5xx, honouring ``Retry-After``) and ``BETON_LLM_DEADLINE`` (seconds for the whole
request, retries and pauses included; default twice ``BETON_LLM_TIMEOUT`` per attempt).

Socket timeouts alone do not bound a request: a server that trickles a byte every few seconds
never trips a read timeout. So every request has one total deadline, enforced by a watchdog
that shuts the request's sockets down when it passes (``_Deadline``: the connections register
their sockets with the deadline of the request in progress, and the retry pauses end at it). The
answer is read streamed and refused beyond ``MAX_ANSWER_BYTES`` (64 KiB, after decompression).

The model writes only the "Recommended plays" section; the facts sections around it come from
the templates, so they are exact. The answer is refused (``LLMError``) when it is malformed or
too large, holds images, active HTML or non-http(s) links (other HTML is stripped; see
:mod:`.sanitize`), misses a play's heading, or writes a number that is not in the facts (see
:mod:`.grounding`); the caller then falls back to the deterministic engine with a visible
warning.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import requests
import requests.auth
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util import Retry

from ..errors import ConfigError
from .errors import LLMError
from .grounding import ungrounded_numbers
from .playbook import Recommendation, recommend
from .render import DeterministicEngine, PlayDocument
from .sanitize import UnsafeMarkdown, sanitise_markdown

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_RETRIES = 2
CONNECT_TIMEOUT_S = 10.0
RETRY_STATUSES = (429, 500, 502, 503, 504)
BACKOFF_FACTOR = 0.5
BACKOFF_MAX_S = 10.0
MAX_ANSWER_BYTES = 64 * 1024  # a chat completion with a few play sections is a few kB

SYSTEM_PROMPT = """\
You are a senior B2B SaaS sales strategist. You write account plays for a sales rep, in Markdown.

Rules:
- Write one section per play listed by the user, in the order given. Start each section with a
  level-3 heading that is exactly "### " followed by the play's title.
- In each section write, in this order: **Why now** (bullets that cite the facts), **Talk track**
  (a short paragraph), **First email** (a subject line and a short body to the most relevant
  contact, signed by the account owner), **Objections** (two or three, each with a response) and
  **Next steps** (bullets).
- Use only the facts given. Every number you write must appear in the facts exactly as given, in
  digits or in words (also inside a word, such as Q4 or USD250000): no estimates, no new
  percentages, totals, prices, durations or dates. When in doubt, leave the number out.
- Plain Markdown only: no HTML, no images; links only to https:// addresses from the facts.
- Do not use numbered lists. Do not invent people, companies, products or events; name only
  contacts that are in the facts.
- Output only the play sections: no preamble, no other headings, no closing remarks.
"""


def _redact(url: str) -> str:
    """The URL without credentials, query or fragment (safe for messages)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


@dataclass(frozen=True)
class LLMSettings:
    base_url: str
    model: str
    api_key: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT_S
    retries: int = DEFAULT_RETRIES
    deadline: float | None = None  # None: twice the timeout per attempt, plus the pauses between attempts
    max_answer_bytes: int = MAX_ANSWER_BYTES

    @classmethod
    def from_env(cls, environ: dict | None = None) -> LLMSettings:
        env = os.environ if environ is None else environ
        base_url = (env.get("BETON_LLM_BASE_URL") or "").strip()
        model = (env.get("BETON_LLM_MODEL") or "").strip()
        missing = [name for name, value in (("BETON_LLM_BASE_URL", base_url), ("BETON_LLM_MODEL", model)) if not value]
        if missing:
            raise ConfigError(
                f"--engine llm needs {' and '.join(missing)} (an OpenAI-compatible API, e.g. "
                "BETON_LLM_BASE_URL=https://api.openai.com/v1 BETON_LLM_MODEL=gpt-4o-mini, plus "
                "BETON_LLM_API_KEY); see docs/plays.md"
            )
        if not re.match(r"^https?://", base_url):
            raise ConfigError(
                f"BETON_LLM_BASE_URL must start with http:// or https:// (got {_redact(base_url) or 'a value without a scheme'})"
            )
        try:
            timeout = float(env.get("BETON_LLM_TIMEOUT") or DEFAULT_TIMEOUT_S)
            retries = int(env.get("BETON_LLM_RETRIES") or DEFAULT_RETRIES)
            deadline = float(env["BETON_LLM_DEADLINE"]) if (env.get("BETON_LLM_DEADLINE") or "").strip() else None
        except ValueError:
            raise ConfigError(
                "BETON_LLM_TIMEOUT and BETON_LLM_DEADLINE must be numbers of seconds and "
                "BETON_LLM_RETRIES a whole number"
            ) from None
        if timeout <= 0 or retries < 0 or (deadline is not None and deadline <= 0):
            raise ConfigError(
                "BETON_LLM_TIMEOUT and BETON_LLM_DEADLINE must be positive and BETON_LLM_RETRIES at least 0"
            )
        return cls(base_url, model, (env.get("BETON_LLM_API_KEY") or "").strip() or None, timeout, retries, deadline)

    @property
    def total_deadline(self) -> float:
        """Seconds one request may take in all (see the module doc)."""
        if self.deadline is not None:
            return self.deadline
        pauses = sum(min(BACKOFF_MAX_S, BACKOFF_FACTOR * 2**n) for n in range(1, self.retries))
        return 2 * self.timeout * (self.retries + 1) + pauses

    @property
    def endpoint(self) -> str:
        return self.base_url.rstrip("/") + "/chat/completions"

    @property
    def safe_endpoint(self) -> str:
        return _redact(self.endpoint)


def build_messages(facts: dict, recommendations: list[Recommendation]) -> list[dict]:
    plays = [{"title": r.title, "key": r.key, "goal": r.goal, "why_now": r.evidence} for r in recommendations]
    user = (
        f"Account: {facts['account'].get('name') or facts['account']['account_id']}\n\n"
        "Facts from the warehouse (JSON):\n```json\n"
        + json.dumps(facts, indent=1, ensure_ascii=False, sort_keys=True)
        + "\n```\n\nPlays to write, chosen because their signals hold (JSON, in order):\n```json\n"
        + json.dumps(plays, indent=1, ensure_ascii=False)
        + "\n```\n"
    )
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


class _DeadlinePassed(Exception):
    """The request's total deadline passed (raised where a new attempt or a pause would begin).
    Not an OSError, so urllib3 does not retry it."""


class _Deadline:
    """One request's total deadline: a watchdog timer shuts the registered sockets down when it
    passes, which ends any blocked read (headers or body) at once."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._token = _CURRENT_DEADLINE.set(self)
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()
        _CURRENT_DEADLINE.reset(self._token)
        with self._lock:
            self._sockets.clear()

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def check(self) -> None:
        if self.expired or self.remaining() <= 0:
            self.expired = True
            raise _DeadlinePassed()

    def watch(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            if not self.expired:
                self._sockets.append(sock)
                return
        _shutdown(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _shutdown(sock)


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # the plain-socket method also works under TLS: the reader sees the end
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


_CURRENT_DEADLINE: contextvars.ContextVar[_Deadline | None] = contextvars.ContextVar("beton_llm_deadline", default=None)


class _DeadlineMixin:
    """Registers the connection's socket with the deadline of the request in progress: when it
    is opened (before TLS, so a trickled handshake is covered too) and when it is reused."""

    def _new_conn(self):
        deadline = _CURRENT_DEADLINE.get()
        if deadline is not None:
            deadline.check()
        sock = super()._new_conn()
        if deadline is not None:
            deadline.watch(sock)
        return sock

    def request(self, *args, **kwargs):
        deadline = _CURRENT_DEADLINE.get()
        if deadline is not None:
            deadline.check()
            deadline.watch(getattr(self, "sock", None))
        return super().request(*args, **kwargs)


class _HTTPConnection(_DeadlineMixin, HTTPConnection):
    pass


class _HTTPSConnection(_DeadlineMixin, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class _DeadlineRetry(Retry):
    """urllib3's Retry whose pauses (backoff, ``Retry-After``) never run past the deadline: a
    pause that would end after it ends the request instead."""

    def sleep(self, response=None) -> None:
        deadline = _CURRENT_DEADLINE.get()
        if deadline is None:
            return super().sleep(response)
        pause = None
        if self.respect_retry_after_header and response is not None:
            pause = self.get_retry_after(response)
        if not pause:
            pause = self.get_backoff_time()
        if pause >= deadline.remaining():
            deadline.expired = True
            raise _DeadlinePassed()
        if pause > 0:
            time.sleep(pause)


class _DeadlineAdapter(HTTPAdapter):
    """An HTTPAdapter whose connections (direct or through an HTTP proxy) obey ``_Deadline``."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):  # SOCKS pools are their own classes: socket timeouts only
            manager.pool_classes_by_scheme = _POOLS
        return manager


def _session(settings: LLMSettings) -> requests.Session:
    retry = _DeadlineRetry(
        total=settings.retries,
        connect=settings.retries,
        read=settings.retries,
        status=settings.retries,
        other=0,
        backoff_factor=BACKOFF_FACTOR,
        backoff_max=BACKOFF_MAX_S,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"POST"}),
        raise_on_status=False,
        respect_retry_after_header=True,
    )
    session = requests.Session()
    adapter = _DeadlineAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class _Bearer(requests.auth.AuthBase):
    """``Authorization: Bearer <key>``. Passed as ``auth`` (not a header) so requests never
    replaces it with ~/.netrc credentials; its repr never shows the key."""

    def __init__(self, key: str):
        self._key = key

    def __call__(self, request):
        request.headers["Authorization"] = f"Bearer {self._key}"
        return request

    def __repr__(self) -> str:
        return "<Bearer ***>"


def _root_cause(exc: BaseException) -> BaseException:
    seen = exc
    for _ in range(10):
        nxt = getattr(seen, "reason", None) or seen.__cause__ or seen.__context__
        if nxt is None or nxt is seen:
            break
        seen = nxt
    return seen


def _strip_fences(text: str) -> str:
    text = text.strip()
    match = re.match(r"^```[a-zA-Z]*\n(.*)\n```$", text, re.S)
    return match.group(1).strip() if match else text


class LLMEngine:
    """Plays written by an OpenAI-compatible chat-completions model."""

    name = "llm"

    def __init__(self, settings: LLMSettings, deterministic: DeterministicEngine | None = None):
        self.settings = settings
        self.deterministic = deterministic or DeterministicEngine()
        self.session = _session(settings)

    def close(self) -> None:
        self.session.close()

    def complete(self, messages: list[dict]) -> str:
        """The assistant's answer, or ``LLMError`` (the message never holds the key)."""
        s = self.settings
        where = f"POST {s.safe_endpoint}"
        with _Deadline(s.total_deadline) as deadline:
            try:
                body, status = self._post(messages)
            except (_DeadlinePassed, requests.RequestException, LLMError) as exc:
                if deadline.expired:
                    raise LLMError(
                        f"{where} did not answer within its deadline of {s.total_deadline:g} s "
                        "(BETON_LLM_DEADLINE: the whole request, retries included)",
                        "timeout",
                    ) from None
                if isinstance(exc, LLMError):
                    raise
                raise self._request_error(exc) from None
        try:
            data = json.loads(body)
            content = data["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise LLMError(
                f"{where} answered HTTP {status} with a body that is not a chat completion "
                "(expected JSON with choices[0].message.content)",
                "malformed",
            ) from None
        if not isinstance(content, str) or not content.strip():
            raise LLMError(f"{where} answered with an empty message", "malformed")
        return content

    def _post(self, messages: list[dict]) -> tuple[bytes, int]:
        """(body, status) of a successful answer, read streamed up to ``max_answer_bytes``."""
        s = self.settings
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        auth = _Bearer(s.api_key) if s.api_key else None
        payload = {"model": s.model, "messages": messages, "temperature": 0.2, "stream": False}
        attempts = s.retries + 1
        where = f"POST {s.safe_endpoint}"
        response = self.session.post(
            s.endpoint,
            json=payload,
            headers=headers,
            auth=auth,
            stream=True,
            timeout=(min(CONNECT_TIMEOUT_S, s.timeout), s.timeout),
        )
        with response:
            if response.status_code >= 400:
                kind = "server_error" if response.status_code >= 500 else "http_error"
                hint = (
                    " (check BETON_LLM_API_KEY)"
                    if response.status_code in (401, 403)
                    else (
                        " (check BETON_LLM_MODEL and BETON_LLM_BASE_URL)" if response.status_code in (400, 404) else ""
                    )
                )
                raise LLMError(
                    f"{where} answered HTTP {response.status_code}"
                    + (f" after {attempts} attempt(s)" if response.status_code in RETRY_STATUSES else "")
                    + hint,
                    kind,
                )
            too_large = LLMError(
                f"{where} answered more than {s.max_answer_bytes // 1024} KiB; a chat completion "
                "with the plays is a few kB, so the answer was not read further",
                "too_large",
            )
            declared = (response.headers.get("Content-Length") or "").strip()
            if declared.isdigit() and int(declared) > s.max_answer_bytes:
                raise too_large
            body = bytearray()
            for chunk in response.iter_content(chunk_size=16 * 1024):
                body += chunk
                if len(body) > s.max_answer_bytes:
                    raise too_large
            return bytes(body), response.status_code

    def _request_error(self, exc: requests.RequestException) -> LLMError:
        s = self.settings
        attempts = s.retries + 1
        where = f"POST {s.safe_endpoint}"
        if isinstance(exc, (requests.Timeout, requests.ConnectionError)):
            cause = _root_cause(exc)
            if "timeout" in type(cause).__name__.lower() or isinstance(exc, requests.Timeout):
                return LLMError(f"{where} timed out ({s.timeout:g} s per attempt, {attempts} attempt(s))", "timeout")
            return LLMError(
                f"{where} failed: cannot connect ({type(cause).__name__}, {attempts} attempt(s))", "unreachable"
            )
        return LLMError(f"{where} failed: {type(exc).__name__}", "unreachable")

    def write(self, facts: dict, recommendations: list[Recommendation] | None = None) -> PlayDocument:
        recommendations = recommend(facts) if recommendations is None else recommendations
        if not recommendations:  # nothing to write: the deterministic "no play" document says so
            return self.deterministic.write(facts, recommendations)
        plays_markdown = _strip_fences(self.complete(build_messages(facts, recommendations)))
        plays_markdown = re.sub(r"^#{1,2} .*\n?", "", plays_markdown, flags=re.M).strip()  # only ### sections
        try:
            plays_markdown = sanitise_markdown(plays_markdown).strip()
        except UnsafeMarkdown as exc:
            raise LLMError(f"the model's answer contains {exc}; such answers are refused", "unsafe") from None
        missing = [
            r.title
            for r in recommendations
            if not re.search(r"^###\s+" + re.escape(r.title) + r"\s*$", plays_markdown, re.M | re.I)
        ]
        if missing:
            raise LLMError(f"the model's answer has no section for: {', '.join(missing)}", "malformed")
        bad = ungrounded_numbers(plays_markdown, facts)
        if bad:
            raise LLMError(f"the model wrote numbers that are not in the facts: {', '.join(bad[:10])}", "ungrounded")
        markdown = self.deterministic.render(facts, recommendations, engine=self.name, plays_markdown=plays_markdown)
        a = facts["account"]
        return PlayDocument(
            a["account_id"], a.get("name"), a.get("domain"), markdown, [r.key for r in recommendations], self.name
        )
