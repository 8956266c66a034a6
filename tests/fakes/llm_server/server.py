"""A small OpenAI-compatible chat-completions server for tests: real HTTP on a free port.

``POST <anything>/chat/completions`` is recorded (path, headers, JSON body) and answered
according to the server's mode:

- ``normal``: a chat completion whose message is ``reply`` (a string, or a callable taking the
  request's JSON), by default one Markdown section per play title found in the request;
- ``slow``: the same after sleeping ``delay`` seconds (longer than the client's timeout);
- ``error``: HTTP ``status`` (503 by default) with an OpenAI-style error body;
- ``malformed``: HTTP 200 with a body that is not a chat completion (``malformed_body``);
- ``trickle``: a whole chat completion, but sent one byte every ``trickle_interval`` seconds
  from the status line on, and given up after ``trickle_limit`` bytes (a bounded loop: the
  server then closes the connection; it also stops when the client leaves or on ``reset``);
- ``huge``: a valid chat completion whose message is ``huge_bytes`` long, with a
  ``Content-Length`` or, with ``huge_chunked``, in chunked transfer encoding (no length given).

``injection`` (raw HTML, links, images…) is added to the first play section of the default
answer, to see what the client does with unsafe Markdown.

``script`` (a list of modes) overrides the mode for the next requests, one per request, so a
test can answer 503 then 200. Anything else (GET, other paths) is 404.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODES = ("normal", "slow", "error", "malformed", "trickle", "huge")


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON, or the raw text when it is not JSON
    raw: bytes


def default_reply(request: Any, injection: str = "") -> str:
    """One grounded (digit-free) section per play title the request asks for (``injection``
    goes into the first one, after its talk track)."""
    text = ""
    try:
        text = request["messages"][-1]["content"]
    except (TypeError, KeyError, IndexError):
        pass
    titles = re.findall(r'"title": "([^"]+)"', text)
    sections = []
    for title in titles:
        sections.append(
            f"### {title}\n\n**Why now**\n\n- The signals in the facts hold for this account.\n\n"
            "**Talk track**\n\nLead with the value the team already gets.\n\n"
            + (injection + "\n\n" if injection and not sections else "")
            + "**First email**\n\n> **Subject:** A quick idea\n>\n> Hi there, could we talk this week?\n\n"
            '**Objections**\n\n- *"Not now."* Offer a short call at a better time.\n\n'
            "**Next steps**\n\n- Call the most active contact.\n"
        )
    return "\n".join(sections) or "### Nothing\n\nNo plays were requested.\n"


@dataclass
class LLMTestServer:
    host: str = "127.0.0.1"
    port: int = 0
    mode: str = "normal"
    script: list[str] = field(default_factory=list)
    reply: str | Callable[[Any], str] | None = None
    delay: float = 2.0
    status: int = 503
    malformed_body: bytes = b"<html>upstream gateway error</html>"
    trickle_interval: float = 1.0
    trickle_limit: int = 30
    huge_bytes: int = 200_000
    huge_chunked: bool = False
    injection: str = ""
    requests: list[RecordedRequest] = field(default_factory=list)
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    _httpd: ThreadingHTTPServer | None = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def reset(self) -> None:
        with self._lock:
            self.mode, self.script, self.reply = "normal", [], None
            self.delay, self.status = 2.0, 503
            self.malformed_body = b"<html>upstream gateway error</html>"
            self.trickle_interval, self.trickle_limit = 1.0, 30
            self.huge_bytes, self.huge_chunked, self.injection = 200_000, False, ""
            self.requests = []
            self._cancel.set()  # a trickle still running from the last test stops
            self._cancel = threading.Event()

    def _next_mode(self) -> str:
        with self._lock:
            return self.script.pop(0) if self.script else self.mode

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def start(self) -> LLMTestServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep pytest output clean
                pass

            def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
                    pass

            def do_GET(self):
                self._send(404, b'{"error": {"message": "not found"}}')

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw.decode("utf-8"))
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, b'{"error": {"message": "unknown path"}}')
                    return
                server._record(RecordedRequest("POST", self.path, dict(self.headers.items()), body, raw))
                mode = server._next_mode()
                if mode == "error":
                    message = json.dumps({"error": {"message": "upstream overloaded", "type": "server_error"}})
                    self._send(server.status, message.encode())
                    return
                if mode == "malformed":
                    self._send(
                        200,
                        server.malformed_body,
                        "text/html" if server.malformed_body.startswith(b"<") else "application/json",
                    )
                    return
                if mode == "slow":
                    time.sleep(server.delay)
                if callable(server.reply):
                    reply = server.reply(body)
                else:
                    reply = server.reply or default_reply(body, server.injection)
                if mode == "huge":
                    reply = (reply + "\n") * (server.huge_bytes // max(1, len(reply) + 1) + 1)
                model = body.get("model", "") if isinstance(body, dict) else ""
                completion = {
                    "id": "chatcmpl-test",
                    "object": "chat.completion",
                    "created": 0,
                    "model": model,
                    "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}
                    ],
                    "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
                }
                payload = json.dumps(completion).encode()
                if mode == "trickle":
                    self._trickle(payload)
                elif mode == "huge" and server.huge_chunked:
                    self._send_chunked(payload)
                else:
                    self._send(200, payload)

            def _trickle(self, payload: bytes) -> None:
                head = (
                    f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
                ).encode()
                data, cancel = head + payload, server._cancel
                try:
                    for i in range(min(len(data), server.trickle_limit)):  # bounded
                        if cancel.wait(server.trickle_interval):
                            break
                        self.wfile.write(data[i : i + 1])
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

            def _send_chunked(self, payload: bytes, size: int = 4096) -> None:
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for i in range(0, len(payload), size):
                        chunk = payload[i : i + size]
                        self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self._httpd = ThreadingHTTPServer((self.host, self.port), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="llm-test-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
