"""A local stand-in for PostHog's private API, over real HTTP on a free port.

Implements what the Beton exporter uses (see shared reference posthog-api.md):

* ``POST /api/{projects,environments}/<id>/query/`` for the HogQL statement shapes in
  :mod:`tests.posthog_server.hogql` (50,000-row cap on LIMIT, configurable as ``max_rows``;
  100 rows and ``hasMore`` without LIMIT; OFFSET and ISO ``T…Z`` literals rejected);
* ``GET …/persons/`` (offset paging), ``GET …/groups_types/``, ``GET …/groups/`` (cursor);
* auth and scopes with PostHog's error bodies: 401 missing/invalid key, 403 missing scope or
  no access to the project, 404 unknown project;
* gzip when the client accepts it, HTTP/1.1 keep-alive;
* a cap of 3 concurrent queries (a 4th gets 429 without Retry-After) and the highest
  concurrency seen, for tests;
* fault injection (:class:`Fault`): any status (429 with or without Retry-After, 5xx), a slow
  answer (timeout), a connection dropped mid-body, malformed JSON, "fail or hang from the
  K-th page on" for interrupted runs.
"""

from __future__ import annotations

import gzip
import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from .dataset import Dataset, DatasetSpec, build_dataset, group_types
from .hogql import SERVER_TABLES, HogQLError, compile_query

ALL_SCOPES = frozenset({"query:read", "person:read", "group:read"})
INVALID_KEY = "Personal API key found in request Authorization header is invalid."


def error_body(type_: str, code: str, detail: str, attr: Any = None) -> dict:
    return {"type": type_, "code": code, "detail": detail, "attr": attr}


@dataclass
class KeyInfo:
    scopes: frozenset[str] = ALL_SCOPES
    projects: frozenset[str] | None = None  # None: every project of the organisation


@dataclass
class Fault:
    """Inject a failure into matching requests.

    kind: ``status`` (answer ``status`` with PostHog's error body; ``retry_after`` sets the
    header), ``timeout`` (sleep ``delay`` seconds before answering normally), ``drop`` (send the
    headers and half the body, then close the socket), ``malformed`` (200 with broken JSON),
    ``hang`` (block until :meth:`PostHogTestServer.release` or ``delay`` seconds, then close).
    match: ``query`` (every query), ``query:<table>`` (pages from one table, not counts),
    ``query:count``, ``persons``, ``groups_types``, ``groups`` or ``any``.
    after: let this many matching requests through first. times: how many to affect (None:
    all, until cleared).
    """

    kind: str
    status: int = 500
    retry_after: int | None = None
    match: str = "query"
    after: int = 0
    times: int | None = 1
    delay: float = 2.0
    seen: int = 0
    fired: int = 0

    def take(self, tags: set[str]) -> bool:
        if self.match not in tags:
            return False
        self.seen += 1
        if self.seen <= self.after:
            return False
        if self.times is not None and self.fired >= self.times:
            return False
        self.fired += 1
        return True


@dataclass
class Stats:
    requests: int = 0
    by_tag: dict[str, int] = field(default_factory=dict)
    ok_pages: dict[str, int] = field(default_factory=dict)
    in_flight: int = 0
    max_in_flight: int = 0
    concurrency_rejections: int = 0
    faults_fired: int = 0
    log: list[tuple[float, str, int]] = field(default_factory=list)  # (time, tag, status)
    queries: list[str] = field(default_factory=list)
    gzip_responses: int = 0


class PostHogTestServer:
    def __init__(
        self,
        spec: DatasetSpec | None = None,
        *,
        project_id: str = "4242",
        keys: dict[str, KeyInfo] | None = None,
        max_rows: int = 50_000,
        timezone: str = "UTC",
        properties_as_object: bool = False,
        max_concurrent: int = 3,
        host: str = "127.0.0.1",
    ):
        self.spec = spec or DatasetSpec()
        self.dataset: Dataset = build_dataset(self.spec)
        self.project_id = project_id
        self.keys = keys if keys is not None else {"phx_test_key_0123456789abcdef": KeyInfo()}
        self.max_rows = max_rows
        self.timezone = timezone
        self.properties_as_object = properties_as_object
        self.max_concurrent = max_concurrent
        self.faults: list[Fault] = []
        self.stats = Stats()
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._httpd = ThreadingHTTPServer((host, 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._httpd.app = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_key(self) -> str:
        return next(iter(self.keys))

    def start(self) -> PostHogTestServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> PostHogTestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- controls -------------------------------------------------------------------------------
    def add_fault(self, kind: str, **kw: Any) -> Fault:
        fault = Fault(kind, **kw)
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()
        self._release.set()

    def release(self) -> None:
        self._release.set()

    def pages_served(self, table: str = "events") -> int:
        with self._lock:
            return self.stats.ok_pages.get(table, 0)

    def _take_fault(self, tags: set[str]) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.take(tags):
                    self.stats.faults_fired += 1
                    return fault
        return None

    def _record(self, tag: str, status: int) -> None:
        with self._lock:
            self.stats.log.append((time.monotonic(), tag, status))

    # -- query execution ------------------------------------------------------------------------
    def run_query(self, text: str) -> tuple[dict, str]:
        """Answer a HogQL query; returns (body without results, results JSON text)."""
        q, where, params, limit, explicit = compile_query(text, self.timezone, self.max_rows)
        table = SERVER_TABLES[q.table]
        visible_until = self.dataset.visible_until
        if q.table == "events" and visible_until is not None:
            # PostHog shows an event only once it has received it
            where = f"({where}) and created_at <= ?" if where else "created_at <= ?"
            params = [*params, visible_until]
        where_sql = f" where {where}" if where else ""
        cur = self.dataset.cursor()
        if q.select == ["count()"]:
            n = cur.execute(f"select count(*) from {table}{where_sql}", params).fetchone()[0]
            return self._answer(q, text, ["count()"], [["count()", "UInt64"]], False, explicit), json.dumps([[n]])
        if all(s.isdigit() for s in q.select):
            rows = [[int(s) for s in q.select]]
            return self._answer(q, text, q.select, [[s, "UInt8"] for s in q.select], False, explicit), json.dumps(rows)
        order_map = {
            "timestamp": "ts",
            "uuid": "uuid_ck",
            "id": "id_ck",
            "person_id": "person_id_ck",
            "key": "group_key",
            "index": "group_index",
        }
        order_sql = ", ".join(order_map.get(c, c) for c in q.order)
        exprs = [self._select_expr(q.table, c) for c in q.select]
        fetch = limit + (0 if explicit else 1)
        sql = (
            f"select json_array({', '.join(exprs)})::varchar from {table}{where_sql}"
            + (f" order by {order_sql}" if order_sql else "")
            + f" limit {fetch}"
        )
        rows = [r[0] for r in cur.execute(sql, params).fetchall()]
        has_more = None
        if not explicit:
            has_more = len(rows) > limit
            rows = rows[:limit]
        if self.timezone != "UTC":
            rows = [self._retime(r, q) for r in rows]
        types = [[c, "String"] for c in q.select]
        return self._answer(q, text, q.select, types, has_more, explicit), "[" + ",".join(rows) + "]"

    def _select_expr(self, table: str, col: str) -> str:
        if col in ("timestamp", "created_at"):
            src = "ts" if col == "timestamp" else "created_at"
            return f"strftime({src}, '%Y-%m-%dT%H:%M:%S.%fZ')"
        if col == "properties":
            return "json(properties)" if self.properties_as_object else "properties"
        if col.startswith("$group_"):
            # PostHog's column: the key in $groups under the type of that index ('' if none)
            names = {t["group_type_index"]: t["group_type"] for t in group_types(self.spec)}
            name = names.get(int(col.removeprefix("$group_")))
            if name is None:
                return "''"
            return f"""coalesce(json_extract_string(properties, '$."$groups"."{name}"'), '')"""
        if col == "key":
            return "group_key"
        if col == "index":
            return "group_index"
        return col

    def _retime(self, row_json: str, q) -> str:
        """Timestamps in the project's timezone, with its offset (as PostHog answers)."""
        row = json.loads(row_json)
        tz = ZoneInfo(self.timezone)
        for i, col in enumerate(q.select):
            if col in ("timestamp", "created_at") and row[i]:
                utc = datetime.fromisoformat(row[i].replace("Z", "+00:00"))
                row[i] = utc.astimezone(tz).isoformat()
        return json.dumps(row)

    def _answer(self, q, text: str, columns, types, has_more, explicit) -> dict:
        return {
            "columns": list(columns),
            "types": types,
            "hasMore": has_more,
            "limit": None if explicit else 100,
            "offset": None if explicit else 0,
            "hogql": text,
            "clickhouse": "SELECT … (test server)",
            "timings": [],
            "modifiers": {},
            "query": text,
            "error": None,
            "explain": None,
            "metadata": None,
            "is_cached": False,
            "timezone": self.timezone,
        }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "PostHogTestServer/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
        pass

    @property
    def app(self) -> PostHogTestServer:
        return self.server.app  # type: ignore[attr-defined]

    # -- plumbing -------------------------------------------------------------------------------
    def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None, tag: str = "") -> None:
        gz = "gzip" in (self.headers.get("Accept-Encoding") or "") and len(payload) > 256
        if gz:
            payload = gzip.compress(payload, compresslevel=1)
            with self.app._lock:
                self.app.stats.gzip_responses += 1
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if gz:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(payload)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(payload)
        self.app._record(tag, status)

    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None, tag: str = "") -> None:
        self._send(status, json.dumps(body).encode(), headers, tag)

    def _error(self, status: int, type_: str, code: str, detail: str, tag: str = "", headers=None) -> None:
        self._json(status, error_body(type_, code, detail), headers, tag)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    # -- routing --------------------------------------------------------------------------------
    def _handle(self, method: str) -> None:
        app = self.app
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        with app._lock:
            app.stats.requests += 1
        parts = urlsplit(self.path)
        m = re.fullmatch(r"/api/(?:projects|environments)/([^/]+)/([a-z_]+)/", parts.path)
        if not m:
            return self._error(404, "invalid_request", "not_found", "Not found.")
        project, endpoint = m.group(1), m.group(2)

        # authentication
        auth = self.headers.get("Authorization") or ""
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            return self._error(
                401,
                "authentication_error",
                "not_authenticated",
                "Authentication credentials were not provided.",
            )
        key = app.keys.get(auth[7:].strip())
        if key is None:
            return self._error(401, "authentication_error", "authentication_failed", INVALID_KEY)
        if project != app.project_id:
            return self._error(404, "invalid_request", "not_found", "Not found.")
        if key.projects is not None and project not in key.projects:
            return self._error(
                403,
                "authentication_error",
                "permission_denied",
                "You don't have access to the project.",
            )

        scope = {
            "query": "query:read",
            "persons": "person:read",
            "groups_types": "group:read",
            "groups": "group:read",
            "events": "query:read",
        }.get(endpoint)
        if scope is None:
            return self._error(404, "invalid_request", "not_found", "Not found.")
        if scope not in key.scopes:
            return self._error(
                403,
                "authentication_error",
                "permission_denied",
                f"API key missing required scope '{scope}'",
            )

        if endpoint == "query" and method == "POST":
            return self._query(raw)
        if method != "GET":
            return self._error(405, "invalid_request", "method_not_allowed", f'Method "{method}" not allowed.')
        params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        tags = {"any", endpoint}
        if self._fault(tags, endpoint):
            return
        if endpoint == "groups_types":
            return self._json(200, group_types(app.spec), tag=endpoint)
        if endpoint == "persons":
            return self._persons(params)
        if endpoint == "groups":
            return self._groups(params)
        return self._error(404, "invalid_request", "not_found", "Not found.")

    def _fault(self, tags: set[str], tag: str) -> bool:
        """Apply the first matching fault; True if the request has been answered (or dropped)."""
        app = self.app
        fault = app._take_fault(tags)
        if fault is None:
            return False
        if fault.kind == "status":
            detail = {
                429: f"Request was throttled. Expected available in {fault.retry_after or 1} seconds.",
                500: "A server error occurred.",
                502: "Bad gateway.",
                503: "PostHog is at capacity, please try again later.",
                504: "Query timed out.",
            }.get(fault.status, "Error.")
            type_, code = ("throttled_error", "throttled") if fault.status == 429 else ("server_error", "error")
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else None
            self._error(fault.status, type_, code, detail, tag=tag, headers=headers)
            return True
        if fault.kind == "timeout":
            time.sleep(fault.delay)
            return False  # then answer normally (the client has given up by then)
        if fault.kind == "hang":
            app._release.wait(fault.delay)
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return True
        if fault.kind in ("drop", "malformed"):
            body = json.dumps({"results": [[1, "x"]] * 200, "columns": ["a", "b"]}).encode()
            if fault.kind == "malformed":
                broken = body[: len(body) // 2]
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(broken)))
                self.end_headers()
                self.wfile.write(broken)
                app._record(tag, 200)
                return True
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            app._record(tag, -1)
            return True
        raise ValueError(f"unknown fault kind {fault.kind}")

    def _query(self, raw: bytes) -> None:
        app = self.app
        try:
            body = json.loads(raw or b"{}")
            query = body["query"]
            assert query.get("kind") == "HogQLQuery"
            text = query["query"]
        except (ValueError, KeyError, TypeError, AssertionError):
            return self._error(400, "validation_error", "parse_error", "JSON parse error or not a HogQLQuery.")
        table_m = re.search(r"\bfrom\s+([a-z_]+)", text, re.IGNORECASE)
        table = table_m.group(1) if table_m else "?"
        is_count = bool(re.match(r"\s*select\s+count\(\)", text, re.IGNORECASE))
        tags = {"any", "query", "query:count" if is_count else f"query:{table}"}
        tag = "query:count" if is_count else f"query:{table}"
        with app._lock:
            app.stats.queries.append(text)
            app.stats.by_tag[tag] = app.stats.by_tag.get(tag, 0) + 1
            app.stats.in_flight += 1
            app.stats.max_in_flight = max(app.stats.max_in_flight, app.stats.in_flight)
            over = app.stats.in_flight > app.max_concurrent
            if over:
                app.stats.concurrency_rejections += 1
        try:
            if over:
                return self._error(
                    429,
                    "throttled_error",
                    "throttled",
                    "Too many concurrent queries for this project.",
                    tag=tag,
                )
            if self._fault(tags, tag):
                return
            try:
                answer, results = app.run_query(text)
            except HogQLError as exc:
                return self._error(400, "validation_error", exc.code, exc.detail, tag=tag)
            head = json.dumps(answer)
            payload = ('{"results": ' + results + ", " + head[1:]).encode()
            self._send(200, payload, tag=tag)
            if not is_count:
                with app._lock:
                    app.stats.ok_pages[table] = app.stats.ok_pages.get(table, 0) + 1
        finally:
            with app._lock:
                app.stats.in_flight -= 1

    def _persons(self, params: dict[str, str]) -> None:
        limit = min(int(params.get("limit", 100)), 1000)
        offset = int(params.get("offset", 0))
        cur = self.app.dataset.cursor()
        rows = cur.execute(
            "select id, strftime(created_at, '%Y-%m-%dT%H:%M:%S.%fZ'), properties, is_identified "
            "from srv_persons order by created_at desc, id limit ? offset ?",
            [limit, offset],
        ).fetchall()
        results = []
        for pid, created, props, ident in rows:
            dids = [r[0] for r in cur.execute("select distinct_id from srv_pdi where person_id = ?", [pid]).fetchall()]
            results.append(
                {
                    "type": "person",
                    "id": pid,
                    "uuid": pid,
                    "created_at": created,
                    "properties": json.loads(props),
                    "is_identified": ident,
                    "name": json.loads(props).get("email"),
                    "distinct_ids": dids,
                }
            )
        nxt = None
        if len(rows) == limit:
            nxt = f"{self.app.url}/api/projects/{self.app.project_id}/persons/?limit={limit}&offset={offset + limit}"
        self._json(200, {"results": results, "next": nxt, "previous": None}, tag="persons")

    def _groups(self, params: dict[str, str]) -> None:
        if "group_type_index" not in params:
            return self._error(
                400,
                "validation_error",
                "invalid_input",
                "You must pass ?group_type_index= in this URL.",
                tag="groups",
            )
        index = int(params["group_type_index"])
        cursor = params.get("cursor")
        sql = (
            "select group_key, strftime(created_at, '%Y-%m-%dT%H:%M:%S.%fZ'), properties, created_at "
            "from srv_groups where group_index = ?"
        )
        args: list[Any] = [index]
        if cursor:
            ts, key = cursor.split("|", 1)
            sql += " and (created_at < ?::timestamp or (created_at = ?::timestamp and group_key < ?))"
            args += [ts, ts, key]
        sql += " order by created_at desc, group_key desc limit 100"
        rows = self.app.dataset.cursor().execute(sql, args).fetchall()
        results = [
            {
                "group_type_index": index,
                "group_key": k,
                "group_properties": json.loads(p),
                "created_at": c,
            }
            for k, c, p, _ in rows
        ]
        nxt = None
        if len(rows) == 100:
            last = rows[-1]
            nxt = (
                f"{self.app.url}/api/projects/{self.app.project_id}/groups/?group_type_index={index}"
                f"&cursor={last[3].isoformat(sep=' ')}|{last[0]}"
            )
        self._json(200, {"results": results, "next": nxt, "previous": None}, tag="groups")
