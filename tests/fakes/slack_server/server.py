"""A local stand-in for Slack incoming webhooks, over real HTTP on a free port.

``POST /services/<team>/<bot>/<token>`` with a JSON message, answered as Slack documents it:

* success: HTTP 200 with the plain-text body ``ok`` —
  https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks
* errors are HTTP statuses with a short plain-text code as the body —
  https://api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks :
  400 ``invalid_payload`` (body not JSON / not the declared content type), 403
  ``action_prohibited``, 404 ``channel_not_found``, 410 ``channel_is_archived``, 500
  ``rollup_error``. An unknown or revoked webhook URL answers 404 ``no_service``; a message with
  neither ``text`` nor ``blocks`` answers 400 ``no_text``; blocks that break Block Kit's rules
  answer 400 ``invalid_blocks`` (the codes Slack's webhook answers carry in practice, e.g.
  https://routeforms.com/tools/slack-webhook-error-decoder).
* Block Kit limits checked (``invalid_blocks`` when broken):
  at most 50 blocks per message — https://docs.slack.dev/reference/block-kit/blocks ;
  a header's ``plain_text`` at most 150 characters —
  https://docs.slack.dev/reference/block-kit/blocks/header-block ;
  a section's ``text`` at most 3,000 characters, ``fields`` at most 10 items of 2,000 —
  https://docs.slack.dev/reference/block-kit/blocks/section-block ;
  a context block at most 10 elements — https://docs.slack.dev/reference/block-kit/blocks/context-block ;
  ``block_id`` at most 255 characters. Every block needs a known ``type``.
* a ``text`` longer than 40,000 characters is truncated, not refused —
  https://api.slack.com/changelog/2018-04-truncating-really-long-messages ; with ``blocks``,
  ``text`` is the notification fallback (https://docs.slack.dev/reference/methods/chat.postMessage):
  a message without it is accepted but noted in ``warnings``.
* rate limit: about one message per second per webhook, short bursts allowed; over it, HTTP 429
  with ``Retry-After`` (seconds) — https://docs.slack.dev/apis/web-api/rate-limits . Here
  ``rate_limit`` messages per ``rate_window`` seconds (1 per 1 s by default; tests may shrink the
  window), answered 429 ``rate_limited`` with ``Retry-After: retry_after``.

Fault injection: ``faults`` is a queue of scripted answers taken one per request before anything
else (:class:`Fault`: any status with Slack's body, with or without Retry-After; ``drop`` the
connection without answering; ``hang`` for N seconds then drop), and ``down`` answers every
request with one status (a webhook that stays down). Every request is recorded in ``requests``,
every accepted message in ``messages``. ``reset()`` between tests.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

KNOWN_BLOCKS = frozenset(
    {"actions", "context", "divider", "file", "header", "image", "input", "markdown", "rich_text", "section", "video"}
)
MAX_BLOCKS = 50
MAX_HEADER = 150
MAX_SECTION = 3000
MAX_FIELDS = 10
MAX_FIELD = 2000
MAX_CONTEXT_ELEMENTS = 10
MAX_BLOCK_ID = 255
MAX_TEXT = 40000


@dataclass
class Fault:
    """One scripted answer. kind ``status`` (``status`` + ``body``, ``Retry-After`` when set),
    ``drop`` (close the connection without an answer), ``hang`` (wait ``delay`` seconds, then drop)."""

    kind: str = "status"
    status: int = 500
    body: str = "rollup_error"
    retry_after: float | None = None
    delay: float = 2.0

    @classmethod
    def rate_limited(cls, retry_after: float = 1) -> Fault:
        return cls("status", 429, "rate_limited", retry_after)

    @classmethod
    def server_error(cls, status: int = 500) -> Fault:
        return cls("status", status, "rollup_error" if status == 500 else "service_unavailable")

    @classmethod
    def no_service(cls) -> Fault:
        return cls("status", 404, "no_service")

    @classmethod
    def archived(cls) -> Fault:
        return cls("status", 410, "channel_is_archived")

    @classmethod
    def prohibited(cls) -> Fault:
        return cls("status", 403, "action_prohibited")

    @classmethod
    def drop(cls) -> Fault:
        return cls("drop")

    @classmethod
    def hang(cls, seconds: float) -> Fault:
        return cls("hang", delay=seconds)


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    raw: bytes
    at: float
    status: int | None = None  # what was answered (None: dropped)
    answer: str = ""


def text_of(obj: Any) -> str | None:
    """A text object's text, or None when it is not one."""
    if isinstance(obj, dict) and obj.get("type") in ("plain_text", "mrkdwn") and isinstance(obj.get("text"), str):
        return obj["text"]
    return None


def block_error(block: Any) -> str | None:
    """Why a block breaks Block Kit's documented rules, or None."""
    if not isinstance(block, dict) or block.get("type") not in KNOWN_BLOCKS:
        return "unknown block type"
    if len(str(block.get("block_id", ""))) > MAX_BLOCK_ID:
        return "block_id too long"
    kind = block["type"]
    if kind == "header":
        text = block.get("text")
        if not isinstance(text, dict) or text.get("type") != "plain_text" or text_of(text) is None:
            return "header needs a plain_text text"
        if len(text["text"]) > MAX_HEADER or not text["text"]:
            return "header text longer than 150"
    elif kind == "section":
        text, fields = block.get("text"), block.get("fields")
        if text is None and fields is None:
            return "section needs text or fields"
        if text is not None and (text_of(text) is None or not 1 <= len(text["text"]) <= MAX_SECTION):
            return "section text missing or longer than 3000"
        if fields is not None:
            if not isinstance(fields, list) or not 1 <= len(fields) <= MAX_FIELDS:
                return "section fields: 1 to 10 items"
            if any(text_of(f) is None or len(f["text"]) > MAX_FIELD for f in fields):
                return "section field longer than 2000"
    elif kind == "context":
        elements = block.get("elements")
        if not isinstance(elements, list) or not 1 <= len(elements) <= MAX_CONTEXT_ELEMENTS:
            return "context: 1 to 10 elements"
        if any(text_of(e) is None and (not isinstance(e, dict) or e.get("type") != "image") for e in elements):
            return "context element is not text or image"
    return None


def validate(message: Any) -> tuple[str | None, list[str]]:
    """(error code or None, warnings) for a message as Slack would judge it."""
    if not isinstance(message, dict):
        return "invalid_payload", []
    text, blocks, attachments = message.get("text"), message.get("blocks"), message.get("attachments")
    if text is not None and not isinstance(text, str):
        return "invalid_payload", []
    if not text and not blocks and not attachments:
        return "no_text", []
    warnings = []
    if blocks is not None:
        if not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS:
            return "invalid_blocks", []
        for block in blocks:
            if block_error(block):
                return "invalid_blocks", []
        if not text:
            warnings.append("blocks without a top-level text: notifications show nothing useful")
    return None, warnings


@dataclass
class SlackTestServer:
    host: str = "127.0.0.1"
    port: int = 0
    team: str = "T0000TEST"
    bot: str = "B0000TEST"
    token: str = "s3cr3tT0kenXXXXXXXXXXXX"
    rate_limit: int | None = 1
    rate_window: float = 1.0
    retry_after: int = 1
    down: int | None = None
    faults: list[Fault] = field(default_factory=list)
    requests: list[RecordedRequest] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rate_limited: int = 0
    _accepted_at: deque = field(default_factory=deque, repr=False)
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    _httpd: ThreadingHTTPServer | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def path(self) -> str:
        return f"/services/{self.team}/{self.bot}/{self.token}"

    @property
    def webhook_url(self) -> str:
        """The secret URL a workspace hands out (its path is the credential)."""
        return f"http://{self.host}:{self.port}{self.path}"

    def reset(self) -> None:
        with self._lock:
            self.rate_limit, self.rate_window, self.retry_after, self.down = 1, 1.0, 1, None
            self.faults, self.requests, self.messages, self.warnings = [], [], [], []
            self.rate_limited = 0
            self._accepted_at.clear()
            self._cancel.set()  # a hang still running from the last test ends
            self._cancel = threading.Event()

    def _answer(self, request: RecordedRequest) -> tuple[str, int, str, dict[str, str]]:
        """(action, status, body, headers) for one request; records accepted messages."""
        with self._lock:
            if self.faults:
                fault = self.faults.pop(0)
                if fault.kind in ("drop", "hang"):
                    return fault.kind, 0, str(fault.delay), {}
                headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
                return "answer", fault.status, fault.body, headers
            if self.down is not None:
                return "answer", self.down, "rollup_error" if self.down >= 500 else "no_service", {}
            if request.method != "POST":
                return "answer", 405, "invalid_method", {}
            if request.path != self.path:
                return "answer", 404, "no_service", {}
            now = time.monotonic()
            if self.rate_limit is not None:
                while self._accepted_at and now - self._accepted_at[0] >= self.rate_window:
                    self._accepted_at.popleft()
                if len(self._accepted_at) >= self.rate_limit:
                    self.rate_limited += 1
                    return "answer", 429, "rate_limited", {"Retry-After": str(self.retry_after)}
            content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if content_type != "application/json":
                return "answer", 400, "invalid_payload", {}
            try:
                message = json.loads(request.raw.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                return "answer", 400, "invalid_payload", {}
            error, warnings = validate(message)
            if error:
                return "answer", 400, error, {}
            if isinstance(message.get("text"), str) and len(message["text"]) > MAX_TEXT:
                message["text"] = message["text"][:MAX_TEXT]  # Slack truncates, it does not refuse
            self._accepted_at.append(now)
            self.messages.append(message)
            self.warnings.extend(warnings)
            return "answer", 200, "ok", {}

    def start(self) -> SlackTestServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep pytest output clean
                pass

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                request = RecordedRequest(method, self.path, dict(self.headers.items()), raw, time.monotonic())
                with server._lock:
                    server.requests.append(request)
                action, status, body, headers = server._answer(request)
                if action == "hang":
                    server._cancel.wait(float(body))
                if action in ("drop", "hang"):
                    self.close_connection = True
                    return  # the handler returns without a status line: the client sees a dropped connection
                request.status, request.answer = status, body
                payload = body.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/plain; charset=utf-8")
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_POST(self):
                self._handle("POST")

            def do_GET(self):
                self._handle("GET")

        self._httpd = ThreadingHTTPServer((self.host, self.port), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, name="slack-test-server", daemon=True).start()
        return self

    def stop(self) -> None:
        self._cancel.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
