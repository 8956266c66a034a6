"""Test-only ClickHouse HTTP interface in front of one chDB connection.

There is no ClickHouse server on the test machines, but the real engine ships as the
`chdb-core` wheel (import name `chdb`). This module puts a small HTTP server in front of
one file-backed chdb connection and speaks just enough of the ClickHouse HTTP interface
for clickhouse-connect and unmodified dbt-clickhouse (driver: http) to work against it.
See /work/shared/reference/clickhouse-test-engine.md for how each piece was established.

It is a test fixture, never part of the product: the product talks to real ClickHouse.

Run it with TZ=UTC:

    python -m tests.chserver.server --port 8123 --data-dir /tmp/ch-data
    python tests/fakes/chserver/server.py --port 8123 --data-dir /tmp/ch-data

What it does per request:
- `GET /ping` and `GET /` answer `Ok.\\n`.
- SQL comes in the POST body (or only in the `query` URL parameter); when both are given
  the parameter is joined in front of the body with a newline, as ClickHouse does.
- Chunked request bodies are decoded; request bodies are decompressed according to
  Content-Encoding (gzip, deflate, and lz4/zstd/br when their Python packages are
  importable; otherwise clients must be configured with `compress=False`). Responses are
  never compressed, whatever Accept-Encoding asks for.
- Transport parameters are ignored, `param_<name>` become query parameters, every other
  URL parameter is a setting applied with `SET name = 'value'` on the shared connection.
  Settings are only re-sent when they change, and a setting a previous request applied
  but this request does not send is reset with `SET name = DEFAULT`, so URL settings
  behave per request, as they do on a real server.
- `USE <database parameter, else default>` runs before each statement.
- The output format is the statement's own trailing `FORMAT X`, else `default_format`,
  else TabSeparated. `X-ClickHouse-Format` is only sent for statements that return rows.
- `INSERT ... FORMAT X <data>` is split at the format name (ClickHouse's own rule: skip
  spaces/tabs, then one optional newline) and the data is streamed into chdb with
  `send_insert` / `append` / `finish`, so binary formats (Native, RowBinary, Parquet ...)
  work as well as text ones (CSV from dbt seeds).
- Errors: `Code: N` is parsed from the chdb message; 404 for codes 60/81, 400 for 62/115,
  500 otherwise, with `X-ClickHouse-Exception-Code: N` and the message as the body.

Limits, on purpose: one connection for every client (settings changed with an explicit
`SET` statement and temporary tables are shared between sessions), no multipart /
form-encoded queries, no response compression, no authentication (user/password are
ignored), no progress headers.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import re
import signal
import sys
import threading
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

logger = logging.getLogger("chserver")

# URL parameters that steer the transport, not the engine.
TRANSPORT_PARAMS = frozenset(
    {
        "query",
        "database",
        "session_id",
        "session_timeout",
        "session_check",
        "query_id",
        "wait_end_of_query",
        "client_protocol_version",
        "compress",
        "decompress",
        "default_format",
        "user",
        "password",
        "role",
        "quota_key",
        "buffer_size",
        "enable_http_compression",
        "http_zlib_compression_level",
        "send_progress_in_http_headers",
        "http_headers_progress_interval_ms",
        "cancel_http_readonly_queries_on_client_close",
    }
)

# First keywords of statements that return a result set.
ROW_STATEMENTS = frozenset({"select", "with", "show", "desc", "describe", "exists", "explain", "check"})

# ClickHouse code -> HTTP status; everything else is 500.
STATUS_BY_CODE = {60: 404, 81: 404, 62: 400, 115: 400}

# Codes for errors raised by the server itself, as ClickHouse numbers them.
CANNOT_PARSE_INPUT = 27
BAD_ARGUMENTS = 36
UNKNOWN_COMPRESSION_METHOD = 89
UNKNOWN_EXCEPTION = 1002

CONTENT_TYPES = {
    "tabseparated": "text/tab-separated-values; charset=UTF-8",
    "tsv": "text/tab-separated-values; charset=UTF-8",
    "csv": "text/csv; charset=UTF-8; header=absent",
    "json": "application/json; charset=UTF-8",
    "jsoncompact": "application/json; charset=UTF-8",
    "jsoneachrow": "application/x-ndjson; charset=UTF-8",
}

# Leading whitespace, comments and opening brackets before a statement's first keyword.
_LEADING_NOISE = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|#[^\n]*(?:\n|$)|/\*.*?\*/|\()*", re.S)
_FIRST_WORD = re.compile(r"[A-Za-z]+")
# A trailing `FORMAT X` (optionally followed by SETTINGS and a semicolon).
_TRAILING_FORMAT = re.compile(r"\bFORMAT\s+([A-Za-z][A-Za-z0-9_]*)\s*(?:SETTINGS\b[^;]*)?;?\s*$", re.I | re.S)
# The header of `INSERT ... FORMAT X <data>`: the format must come before any VALUES,
# SELECT or WITH, so `INSERT ... SELECT` and `INSERT ... VALUES` go to chdb unchanged.
_INSERT_WITH_FORMAT = re.compile(
    r"(?P<stmt>INSERT\b(?:(?!\bVALUES\b|\bSELECT\b|\bWITH\b)[^;])*?)"
    r"\bFORMAT\s+(?P<fmt>[A-Za-z][A-Za-z0-9_]*)",
    re.I | re.S,
)
_ERROR_CODE = re.compile(r"Code:\s*(\d+)")
_SET_NAMES = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*=")
_PASSWORD_PARAM = re.compile(r"(password=)[^&\s]*", re.I)
# Longest INSERT header looked at, in bytes (column lists of thousands of columns fit).
_MAX_INSERT_HEADER = 1 << 20


class ChServerError(Exception):
    """An error to answer with a ClickHouse-style error response."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _error_from_engine(exc: BaseException) -> ChServerError:
    text = str(exc)
    match = _ERROR_CODE.search(text)
    if not match:
        return ChServerError(UNKNOWN_EXCEPTION, text)
    # Drop wrapper prefixes such as "Streaming insert finish failed: ".
    return ChServerError(int(match.group(1)), text[match.start() :])


# --- request body -----------------------------------------------------------------


def _optional_decompressors() -> dict[str, Callable[[bytes], bytes]]:
    decoders: dict[str, Callable[[bytes], bytes]] = {}
    try:
        import lz4.frame as lz4_frame

        def lz4_decompress(data: bytes) -> bytes:
            # clickhouse-connect sends one LZ4 frame per block, concatenated.
            out = []
            while data:
                decompressor = lz4_frame.LZ4FrameDecompressor()
                out.append(decompressor.decompress(data))
                if not decompressor.eof:
                    raise ChServerError(CANNOT_PARSE_INPUT, "Truncated LZ4 frame in request body")
                data = decompressor.unused_data
            return b"".join(out)

        decoders["lz4"] = lz4_decompress
    except ImportError:
        pass
    zstd_decompress = None
    try:
        from compression import zstd as zstd_module  # Python 3.14+

        zstd_decompress = zstd_module.decompress
    except ImportError:
        try:
            from backports import zstd as zstd_module  # type: ignore[no-redef]

            zstd_decompress = zstd_module.decompress
        except ImportError:
            try:
                import zstandard

                def zstd_decompress(data: bytes) -> bytes:  # handles concatenated frames
                    reader = zstandard.ZstdDecompressor().stream_reader(data, read_across_frames=True)
                    return reader.read()

            except ImportError:
                pass
    if zstd_decompress is not None:
        decoders["zstd"] = zstd_decompress
    try:
        import brotli

        decoders["br"] = brotli.decompress
    except ImportError:
        pass
    return decoders


def _inflate(data: bytes) -> bytes:
    try:
        return zlib.decompress(data)
    except zlib.error:
        return zlib.decompress(data, -15)  # raw deflate without the zlib header


DECOMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.decompress,
    "x-gzip": gzip.decompress,
    "deflate": _inflate,
    **_optional_decompressors(),
}


def decompress_body(body: bytes, content_encoding: str | None) -> bytes:
    """Undo the request's Content-Encoding (applied in order, so undone in reverse)."""
    if not content_encoding or not body:
        return body
    for encoding in reversed([e.strip().lower() for e in content_encoding.split(",")]):
        if encoding in ("", "identity"):
            continue
        decoder = DECOMPRESSORS.get(encoding)
        if decoder is None:
            raise ChServerError(
                UNKNOWN_COMPRESSION_METHOD,
                f"Unknown Content-Encoding '{encoding}' (supported here: {', '.join(sorted(DECOMPRESSORS))}); "
                "configure the client with compression off",
            )
        try:
            body = decoder(body)
        except ChServerError:
            raise
        except Exception as exc:
            raise ChServerError(CANNOT_PARSE_INPUT, f"Cannot decompress {encoding} request body: {exc}") from exc
    return body


# --- statement inspection -----------------------------------------------------------


def first_keyword(sql: str) -> str:
    """The statement's first keyword, lowercased, after comments and brackets."""
    start = _LEADING_NOISE.match(sql).end()
    match = _FIRST_WORD.match(sql, start)
    return match.group(0).lower() if match else ""


def output_format(sql: str, default_format: str | None) -> str:
    match = _TRAILING_FORMAT.search(sql)
    if match:
        return match.group(1)
    return default_format or "TabSeparated"


@dataclass
class InsertSplit:
    statement: str  # `INSERT INTO t (cols)`, without FORMAT
    fmt: str
    data: bytes


def split_insert(request_bytes: bytes) -> InsertSplit | None:
    """Split `INSERT ... FORMAT X <data>` into statement, format and data, or None."""
    head = request_bytes[:_MAX_INSERT_HEADER].decode("latin-1")  # 1 byte per char: offsets match
    start = _LEADING_NOISE.match(head).end()
    if head[start : start + 6].lower() != "insert":
        return None
    match = _INSERT_WITH_FORMAT.match(head, start)
    if not match:
        return None
    # Data starts after spaces/tabs and at most one newline (ClickHouse's ParserInsertQuery).
    pos = match.end()
    while pos < len(request_bytes) and request_bytes[pos] in b" \t\f":
        pos += 1
    if request_bytes[pos : pos + 1] == b"\r":
        pos += 1
    if request_bytes[pos : pos + 1] == b"\n":
        pos += 1
    statement = request_bytes[match.start("stmt") : match.end("stmt")].decode("utf-8")
    return InsertSplit(statement.rstrip(), match.group("fmt"), request_bytes[pos:])


# --- engine -------------------------------------------------------------------------


@dataclass
class Request:
    sql: bytes
    database: str | None = None
    settings: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    default_format: str | None = None
    query_id: str = ""


@dataclass
class Response:
    body: bytes
    fmt: str | None  # set only for statements that return rows
    summary: dict[str, str]


def _quote_identifier(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def _quote_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


_SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Engine:
    """One chdb connection, used by one request at a time."""

    def __init__(self, data_dir: str):
        import chdb  # imported here so `--help` and the module import stay fast

        os.makedirs(data_dir, exist_ok=True)
        self._conn = chdb.connect(data_dir)
        self._lock = threading.Lock()
        self._applied: dict[str, str] = {}  # settings this server SET from URL parameters
        self.timezone = self._run("SELECT timezone()").bytes().decode().strip()
        self.version = self._run("SELECT version()").bytes().decode().strip()

    def _run(self, sql: str, fmt: str = "TabSeparated", params: dict[str, str] | None = None):
        try:
            return self._conn._conn.query(sql, fmt, params=params or {})
        except Exception as exc:  # chdb raises RuntimeError with "Code: N. DB::Exception: ..."
            raise _error_from_engine(exc) from exc

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _apply_settings(self, settings: dict[str, str]) -> None:
        for name in settings:
            if not _SETTING_NAME.match(name):
                raise ChServerError(115, f"Unknown setting '{name}'")
        stale = [name for name in self._applied if name not in settings]
        if stale:
            self._run("SET " + ", ".join(f"{name} = DEFAULT" for name in stale))
            for name in stale:
                del self._applied[name]
        changed = {k: v for k, v in settings.items() if self._applied.get(k) != v}
        if changed:
            self._run("SET " + ", ".join(f"{k} = {_quote_string(v)}" for k, v in changed.items()))
            self._applied.update(changed)

    def execute(self, request: Request) -> Response:
        started = time.perf_counter()
        with self._lock:
            self._run(f"USE {_quote_identifier(request.database or 'default')}")
            self._apply_settings(request.settings)
            insert = split_insert(request.sql)
            if insert is not None:
                response = self._insert(insert)
            else:
                response = self._query(request)
        response.summary["elapsed_ns"] = str(int((time.perf_counter() - started) * 1e9))
        return response

    def _insert(self, insert: InsertSplit) -> Response:
        try:
            inserter = self._conn.send_insert(insert.statement, insert.fmt)
        except Exception as exc:
            raise _error_from_engine(exc) from exc
        try:
            if insert.data:
                inserter.append(insert.data)
            result = inserter.finish()
        except Exception as exc:
            try:
                inserter.cancel()
            except Exception:  # already finished by the failing call
                pass
            raise _error_from_engine(exc) from exc
        written = str(result.rows_written)
        return Response(
            b"",
            None,
            {
                "read_rows": "0",
                "read_bytes": "0",
                "written_rows": written,
                "written_bytes": str(result.bytes_written),
                "total_rows_to_read": "0",
                "result_rows": written,
                "result_bytes": str(result.bytes_written),
            },
        )

    def _query(self, request: Request) -> Response:
        try:
            sql = request.sql.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ChServerError(CANNOT_PARSE_INPUT, f"Query is not valid UTF-8: {exc}") from exc
        keyword = first_keyword(sql)
        fmt = output_format(sql, request.default_format)
        result = self._run(sql, fmt, request.params)
        if keyword == "set":
            # An explicit SET persists (as in a session): stop tracking the names it set, so
            # they are neither reset nor assumed unchanged by the next request.
            for name in _SET_NAMES.findall(sql):
                self._applied.pop(name, None)
        body = result.bytes()
        return Response(
            body,
            fmt if keyword in ROW_STATEMENTS else None,
            {
                "read_rows": str(result.rows_read()),
                "read_bytes": str(result.bytes_read()),
                "written_rows": str(result.rows_written()),
                "written_bytes": str(result.bytes_written()),
                "total_rows_to_read": str(result.rows_read()),
                "result_bytes": str(len(body)),
            },
        )


# --- HTTP ---------------------------------------------------------------------------


class _BadRequest(Exception):
    pass


class ClickHouseHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as clickhouse-connect's pool expects
    disable_nagle_algorithm = True  # small responses go out at once, not after the 40 ms delayed-ACK wait
    server_version = "chdb-test-server"
    engine: Engine  # set on the class by make_server

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (BaseHTTPRequestHandler's name)
        logger.debug("%s %s", self.address_string(), _PASSWORD_PARAM.sub(r"\1[hidden]", format % args))

    # GET serves /ping, / and read queries passed as ?query=...
    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path in ("/ping", "/") and "query" not in dict(parse_qsl(url.query)):
            self._send(200, b"Ok.\n", {"Content-Type": "text/html; charset=UTF-8"})
            return
        if url.path != "/":
            self._send_error(ChServerError(BAD_ARGUMENTS, f"Unknown path {url.path}"), status=404)
            return
        self._handle_query(url.query, b"")

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        if url.path != "/":
            self._read_body()
            self._send_error(ChServerError(BAD_ARGUMENTS, f"Unknown path {url.path}"), status=404)
            return
        try:
            body = self._read_body()
        except _BadRequest as exc:
            self.close_connection = True
            self._send_error(ChServerError(CANNOT_PARSE_INPUT, str(exc)), status=400)
            return
        self._handle_query(url.query, body)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _read_chunked(self) -> bytes:
        chunks = []
        while True:
            line = self.rfile.readline(65537)
            if not line:
                raise _BadRequest("Connection closed inside a chunked request body")
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError as exc:
                raise _BadRequest(f"Bad chunk size line {line[:40]!r}") from exc
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline(65537)  # CRLF after the chunk

    def _handle_query(self, query_string: str, body: bytes) -> None:
        query_id = ""
        try:
            body = decompress_body(body, self.headers.get("Content-Encoding"))
            request = self._parse_request(query_string, body)
            query_id = request.query_id
            if not request.sql.strip():
                raise ChServerError(BAD_ARGUMENTS, "Empty query")
            logger.debug("query %s: %.300r", query_id, request.sql[:300])
            response = self.engine.execute(request)
        except ChServerError as exc:
            self._send_error(exc, query_id=query_id)
            return
        except Exception as exc:  # a bug here must still answer, not hang the client
            logger.exception("unexpected error")
            self._send_error(ChServerError(UNKNOWN_EXCEPTION, f"Test server error: {exc!r}"), query_id=query_id)
            return
        headers = {
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Timezone": self.engine.timezone,
            "X-ClickHouse-Summary": json.dumps(response.summary, separators=(",", ":")),
        }
        if response.fmt is not None:
            headers["X-ClickHouse-Format"] = response.fmt
            headers["Content-Type"] = CONTENT_TYPES.get(response.fmt.lower(), "application/octet-stream")
        else:
            headers["Content-Type"] = "text/plain; charset=UTF-8"
        self._send(200, response.body, headers)

    @staticmethod
    def _parse_request(query_string: str, body: bytes) -> Request:
        request = Request(sql=b"")
        query_param = None
        for name, value in parse_qsl(query_string, keep_blank_values=True):
            if name == "query":
                query_param = value
            elif name == "database":
                request.database = value or None
            elif name == "default_format":
                request.default_format = value or None
            elif name == "query_id":
                request.query_id = value
            elif name.startswith("param_"):
                request.params[name[len("param_") :]] = value
            elif name not in TRANSPORT_PARAMS:
                request.settings[name] = value
        if query_param is not None and body:
            request.sql = query_param.encode("utf-8") + b"\n" + body
        elif query_param is not None:
            request.sql = query_param.encode("utf-8")
        else:
            request.sql = body
        request.query_id = request.query_id or str(uuid.uuid4())
        return request

    def _send_error(self, exc: ChServerError, status: int | None = None, query_id: str = "") -> None:
        message = exc.message if exc.message.endswith("\n") else exc.message + "\n"
        headers = {
            "Content-Type": "text/plain; charset=UTF-8",
            "X-ClickHouse-Exception-Code": str(exc.code),
        }
        if query_id:
            headers["X-ClickHouse-Query-Id"] = query_id
        logger.debug("error %s: %s", exc.code, exc.message[:300])
        self._send(status or STATUS_BY_CODE.get(exc.code, 500), message.encode("utf-8"), headers)

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        # A client that hangs up mid-response is routine; anything else is worth a line.
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError):
            logger.debug("client %s went away: %r", client_address, exc)
        else:
            logger.exception("error while serving %s", client_address)


def make_server(host: str, port: int, data_dir: str) -> ThreadingHTTPServer:
    engine = Engine(data_dir)
    handler = type("BoundClickHouseHandler", (ClickHouseHandler,), {"engine": engine})
    server = _Server((host, port), handler)
    server.engine = engine  # type: ignore[attr-defined]
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Test-only ClickHouse HTTP server over chDB.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", required=True, help="chdb data directory (one server per directory)")
    parser.add_argument("--log-level", default="WARNING", help="DEBUG logs every request")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="chserver %(levelname)s %(message)s")
    if os.environ.get("TZ") != "UTC":
        logger.warning("TZ is %r, not UTC: DateTime values will follow it", os.environ.get("TZ"))

    server = make_server(args.host, args.port, args.data_dir)

    def stop(signum, frame):  # noqa: ARG001
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    logger.info("listening on %s:%s (ClickHouse %s)", args.host, args.port, server.engine.version)
    try:
        server.serve_forever(poll_interval=0.2)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()
        server.engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
