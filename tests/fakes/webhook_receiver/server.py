"""A local receiver for Beton's generic webhook, over real HTTP on a free port: what a well-behaved
receiver does, per the contract in ``beton_runner/deliver/destinations/webhook.py``.

``POST /hooks/<token>`` (the token in the path plays the secret part of a real receiver's URL):

1. with ``secret`` set, the ``X-Beton-Signature: sha256=<hex>`` header must be the HMAC-SHA256 of
   the raw body bytes under the secret (compared in constant time), else 401;
2. a batch whose ``Idempotency-Key`` was already accepted is not stored again: it is counted in
   ``duplicates`` and answered ``duplicate_status`` (200 by default; 409 Conflict is the other
   usual answer);
3. the body must be JSON with a ``changes`` list, else 400;
4. accepted batches are recorded in ``batches`` (headers, raw bytes, parsed body) and answered 200
   ``{"accepted": n, "rejected": {change_id: reason}}`` where ``reject`` maps entity ids to a
   reason to refuse for good.

Fault injection: ``faults`` is a queue of scripted answers taken one per request first
(:class:`Fault`: any status with optional ``Retry-After``; ``drop`` the connection; ``hang`` N
seconds then drop); ``down`` answers every request with that status. Every attempt is recorded in
``requests`` (so a test can compare the bytes of a first try and its retry). ``reset()`` between
tests.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Fault:
    """One scripted answer: ``status`` (with ``retry_after`` as Retry-After when set), ``drop``,
    ``hang`` for ``delay`` seconds then drop, or ``accept_hang``: take the batch (stored, its key
    kept) and then hang without answering — the sender cannot know it was delivered (the window
    a killed sender resends from)."""

    kind: str = "status"
    status: int = 503
    retry_after: float | None = None
    delay: float = 2.0


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    raw: bytes
    at: float
    status: int | None = None


@dataclass
class AcceptedBatch:
    headers: dict[str, str]
    raw: bytes
    body: dict[str, Any]


@dataclass
class WebhookReceiver:
    host: str = "127.0.0.1"
    port: int = 0
    token: str = "rcv-t0ken-XXXXXXXXXXXX"
    secret: str | None = None
    duplicate_status: int = 200
    reject: dict[str, str] = field(default_factory=dict)
    down: int | None = None
    faults: list[Fault] = field(default_factory=list)
    requests: list[RecordedRequest] = field(default_factory=list)
    batches: list[AcceptedBatch] = field(default_factory=list)
    duplicates: int = 0
    bad_signatures: int = 0
    _keys: set[str] = field(default_factory=set, repr=False)
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    _httpd: ThreadingHTTPServer | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def path(self) -> str:
        return f"/hooks/{self.token}"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{self.path}"

    @property
    def changes(self) -> list[dict[str, Any]]:
        """Every change of every accepted batch, in arrival order."""
        return [c for b in self.batches for c in b.body["changes"]]

    def reset(self) -> None:
        with self._lock:
            self.secret, self.duplicate_status, self.reject, self.down = None, 200, {}, None
            self.faults, self.requests, self.batches = [], [], []
            self.duplicates, self.bad_signatures = 0, 0
            self._keys = set()
            self._cancel.set()
            self._cancel = threading.Event()

    def _answer(self, request: RecordedRequest) -> tuple[str, int, dict[str, Any], dict[str, str]]:
        with self._lock:
            accept_then_hang = None
            if self.faults and self.faults[0].kind == "accept_hang":
                accept_then_hang = self.faults.pop(0)
            elif self.faults:
                fault = self.faults.pop(0)
                if fault.kind in ("drop", "hang"):
                    return fault.kind, 0, {"delay": fault.delay}, {}
                headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
                return "answer", fault.status, {"error": "injected fault"}, headers
            if self.down is not None:
                return "answer", self.down, {"error": "down"}, {}
            if request.method != "POST" or request.path != self.path:
                return "answer", 404, {"error": "no such hook"}, {}
            if self.secret is not None:
                expected = "sha256=" + hmac.new(self.secret.encode(), request.raw, hashlib.sha256).hexdigest()
                if not hmac.compare_digest(expected, request.headers.get("X-Beton-Signature", "")):
                    self.bad_signatures += 1
                    return "answer", 401, {"error": "invalid signature"}, {}
            key = request.headers.get("Idempotency-Key", "")
            if key and key in self._keys:
                self.duplicates += 1
                return "answer", self.duplicate_status, {"duplicate": True}, {}
            try:
                body = json.loads(request.raw.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                return "answer", 400, {"error": "not JSON"}, {}
            if not isinstance(body, dict) or not isinstance(body.get("changes"), list):
                return "answer", 400, {"error": "no changes list"}, {}
            if key:
                self._keys.add(key)
            self.batches.append(AcceptedBatch(request.headers, request.raw, body))
            if accept_then_hang is not None:
                return "hang", 0, {"delay": accept_then_hang.delay}, {}
            rejected = {
                c["change_id"]: self.reject[c["entity_id"]]
                for c in body["changes"]
                if c.get("entity_id") in self.reject
            }
            return "answer", 200, {"accepted": len(body["changes"]) - len(rejected), "rejected": rejected}, {}

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                request = RecordedRequest("POST", self.path, dict(self.headers.items()), raw, time.monotonic())
                with receiver._lock:
                    receiver.requests.append(request)
                action, status, body, headers = receiver._answer(request)
                if action == "hang":
                    receiver._cancel.wait(body["delay"])
                if action in ("drop", "hang"):
                    self.close_connection = True
                    return
                request.status = status
                payload = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self._httpd = ThreadingHTTPServer((self.host, self.port), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, name="webhook-receiver", daemon=True).start()
        return self

    def stop(self) -> None:
        self._cancel.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
