"""What the stand-in servers share: a threaded HTTP/1.1 server on a free port whose every
request of the given methods goes to one ``handle(request_handler, method)`` callable."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def serve(
    handle: Callable[[BaseHTTPRequestHandler, str], None],
    host: str = "127.0.0.1",
    port: int = 0,
    methods: Iterable[str] = ("GET", "POST"),
    name: str | None = None,
) -> ThreadingHTTPServer:
    """Start serving in a daemon thread; ``stop(httpd)`` ends it."""
    attrs: dict[str, object] = {"protocol_version": "HTTP/1.1", "log_message": lambda self, *args: None}
    for method in methods:
        attrs[f"do_{method}"] = lambda self, _m=method: handle(self, _m)
    handler = type("Handler", (BaseHTTPRequestHandler,), attrs)
    httpd = ThreadingHTTPServer((host, port), handler)
    httpd.daemon_threads = True
    httpd.block_on_close = False
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True).start()
    return httpd


def stop(httpd: ThreadingHTTPServer | None) -> None:
    if httpd is not None:
        httpd.shutdown()
        httpd.server_close()
