"""A local stand-in for Salesforce's REST API (sObject Collections upsert and describe), over real
HTTP on a free port.

What it enforces, and where each fact comes from:

* Auth: ``Authorization: Bearer <access token>``; otherwise 401 with
  ``[{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]``.
  https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm (401:
  "The session ID or OAuth token used has expired or is invalid. The response body contains the
  message and errorCode"); body as in https://nango.dev/blog/fix-salesforce-invalid-session-id-error
* Error bodies are arrays of ``{message, errorCode, fields}``; 403 with ``REQUEST_LIMIT_EXCEEDED``
  when the org's API request limit is used up (errorcodes.htm above); 503 ``SERVER_UNAVAILABLE``
  when the server is too busy; a ``Sforce-Limit-Info: api-usage=N/M`` header on answers.
  https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/headers_api_usage.htm
* ``PATCH /services/data/vXX.X/composite/sobjects/{SObject}/{ExternalIdField}`` with
  ``{"allOrNone": bool, "records": [...]}``: API version 46.0 or later; at most 200 records; every
  record has ``attributes.type`` equal to the SObject in the URI; records are written in order and
  the answer is 200 with one ``{id, success, errors, created}`` per record in the same order; a
  malformed request is 400. Only external ids (no record ``Id``).
  https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-sobjects-collections-upsert.html
  UpsertResult fields: https://developer.salesforce.com/docs/atlas.en-us.api.meta/object_ref/sforce_api_calls_upsert_upsertresult.htm
* The external id field must be marked External ID or be a standard ``idLookup`` field (Email on
  Lead/Contact): https://developer.salesforce.com/docs/atlas.en-us.262.0.api.meta/api/sforce_api_calls_upsert.htm
  (upsert uses an External ID field, or on standard objects any field with idLookup).
* An external id matching several records: that record fails ("The external ID provided matches
  more than one record", ``DUPLICATE_EXTERNAL_ID``) and nothing is written for it —
  https://developer.salesforce.com/docs/platform/api-rest/guide/resources-sobject-upsert-patch.md
  ("matches multiple existing records … no records are created or updated"), message as quoted in
  https://github.com/ejholmes/restforce/issues/243 .
* The same external id twice in one request: those records fail with ``DUPLICATE_VALUE``
  ("Duplicate external id specified").
* A field the object does not have: 400 ``INVALID_FIELD`` "No such column 'X' on sobject of type
  Y" for the whole request.
* Creating a record without its required fields fails that record with
  ``REQUIRED_FIELD_MISSING`` "Required fields are missing: [...]" (Account: Name; Lead: LastName,
  Company; Contact: LastName); a text longer than the field fails it with ``STRING_TOO_LONG``.
  ``allOrNone: true`` rolls everything back when one record fails.
* ``GET /services/data/vXX.X/sobjects/{SObject}/describe`` returns ``fields[{name, type, length,
  externalId, idLookup, unique, updateable, nillable}]``.
  https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_sobject_describe.htm
* ``api_limit`` (the org's daily request allowance, small in tests) makes every request beyond it
  answer 403 ``REQUEST_LIMIT_EXCEEDED`` "TotalRequests Limit exceeded.".

Fault injection: :meth:`SalesforceTestServer.fail` queues scripted answers (``status`` with an
optional Retry-After and body, ``drop``, ``hang``) for the next matching requests.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standin_http import serve, stop

DEFAULT_TOKEN = "00D000000000001!AQ0AQTestAccessToken0123456789"
REQUIRED = {"Account": ["Name"], "Lead": ["LastName", "Company"], "Contact": ["LastName"]}
ID_PREFIX = {"Account": "001", "Contact": "003", "Lead": "00Q"}


def _field(name: str, type_: str = "string", length: int = 255, **flags: Any) -> dict:
    return {
        "name": name,
        "type": type_,
        "length": length if type_ in ("string", "textarea", "email") else 0,
        "externalId": flags.get("externalId", False),
        "idLookup": flags.get("idLookup", False),
        "unique": flags.get("unique", False),
        "updateable": flags.get("updateable", True),
        "nillable": flags.get("nillable", True),
        "caseSensitive": False,
    }


def beton_fields() -> list[dict]:
    return [
        _field("Beton_Score__c", "double"),
        _field("Beton_Rules__c", "textarea", 32768),
        _field("Beton_Entered_At__c", "datetime"),
        _field("Beton_Last_Change__c", "string", 255),
    ]


def default_schema() -> dict[str, dict[str, dict]]:
    """Account with the Beton fields and Beton_Domain__c (External ID, Unique); Lead and Contact
    with Email (idLookup) and the Beton fields."""
    objects = {
        "Account": [
            _field("Id", "id", idLookup=True, updateable=False),
            _field("Name", "string", 255, idLookup=True, nillable=False),
            _field("Beton_Domain__c", "string", 255, externalId=True, unique=True, idLookup=True),
            *beton_fields(),
        ],
        "Lead": [
            _field("Id", "id", idLookup=True, updateable=False),
            _field("Email", "email", 80, idLookup=True),
            _field("FirstName", "string", 40),
            _field("LastName", "string", 80, nillable=False),
            _field("Company", "string", 255, nillable=False),
            *beton_fields(),
        ],
        "Contact": [
            _field("Id", "id", idLookup=True, updateable=False),
            _field("Email", "email", 80, idLookup=True),
            _field("FirstName", "string", 40),
            _field("LastName", "string", 80, nillable=False),
            *beton_fields(),
        ],
    }
    return {obj: {f["name"]: f for f in fields} for obj, fields in objects.items()}


@dataclass
class Fault:
    kind: str  # status | drop | hang
    status: int = 503
    retry_after: float | None = None
    delay: float = 3.0
    body: Any = None
    match: str = "upsert"  # upsert | describe | any


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    status: int = 0
    at: float = 0.0


def sf_error(code: str, message: str, fields: list[str] | None = None) -> list[dict]:
    return [{"message": message, "errorCode": code, "fields": fields or []}]


@dataclass
class SalesforceTestServer:
    token: str = DEFAULT_TOKEN
    host: str = "127.0.0.1"
    api_limit: int = 100_000
    schema: dict[str, dict[str, dict]] = field(default_factory=default_schema)
    records: dict[str, dict[str, dict]] = field(default_factory=lambda: {o: {} for o in default_schema()})
    requests: list[Recorded] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    api_used: int = 0
    _next: int = 1
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _httpd: ThreadingHTTPServer | None = field(default=None, repr=False)
    _release: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def url(self) -> str:
        assert self._httpd is not None
        return f"http://{self.host}:{self._httpd.server_address[1]}"

    def start(self) -> SalesforceTestServer:
        self._httpd = serve(self._handle, self.host, methods=("GET", "PATCH", "POST"))
        return self

    def stop(self) -> None:
        self._release.set()
        stop(self._httpd)
        self._httpd = None

    def reset(self) -> None:
        self._release.set()
        with self._lock:
            self.schema = default_schema()
            self.records = {o: {} for o in self.schema}
            self.requests, self.faults = [], []
            self.api_used, self.api_limit = 0, 100_000
            self._release = threading.Event()

    # -- controls and accessors -----------------------------------------------------------------
    def fail(self, *faults: Fault) -> None:
        with self._lock:
            self.faults.extend(faults)

    def find(self, obj: str, field_name: str, value: str) -> list[dict]:
        with self._lock:
            return [
                dict(r) for r in self.records[obj].values() if str(r.get(field_name) or "").lower() == value.lower()
            ]

    def record(self, obj: str, field_name: str, value: str) -> dict | None:
        found = self.find(obj, field_name, value)
        return found[0] if found else None

    def all_records(self, obj: str) -> list[dict]:
        with self._lock:
            return [dict(r) for r in self.records[obj].values()]

    def seed(self, obj: str, values: dict[str, Any]) -> str:
        with self._lock:
            rid = self._new_id(obj)
            self.records[obj][rid] = {"Id": rid, **values}
            return rid

    def upserts(self) -> list[Recorded]:
        return [r for r in self.requests if "/composite/sobjects/" in r.path]

    def _new_id(self, obj: str) -> str:
        self._next += 1
        return f"{ID_PREFIX.get(obj, 'a00')}{self._next:012d}AAA"

    # -- request handling ------------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = ValueError
        rec = Recorded(method, h.path, dict(h.headers.items()), body, at=time.monotonic())
        with self._lock:
            self.requests.append(rec)
        path = h.path.split("?", 1)[0]
        kind = "upsert" if "/composite/sobjects/" in path else "describe"
        fault = self._take_fault(kind)
        if fault is not None:
            if fault.kind == "drop":
                rec.status = -1
                h.close_connection = True
                try:
                    h.connection.shutdown(2)
                except OSError:
                    pass
                return
            if fault.kind == "hang":
                self._release.wait(fault.delay)
            else:
                headers = {"Retry-After": str(int(math.ceil(fault.retry_after)))} if fault.retry_after else {}
                self._send(
                    h,
                    rec,
                    fault.status,
                    fault.body if fault.body is not None else self._fault_body(fault.status),
                    headers,
                )
                return
        if h.headers.get("Authorization", "") != f"Bearer {self.token}":
            self._send(h, rec, 401, sf_error("INVALID_SESSION_ID", "Session expired or invalid"))
            return
        with self._lock:
            self.api_used += 1
            over = self.api_used > self.api_limit
        limit = {"Sforce-Limit-Info": f"api-usage={min(self.api_used, self.api_limit)}/{self.api_limit}"}
        if over:
            self._send(h, rec, 403, sf_error("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."), limit)
            return
        if body is ValueError:
            self._send(h, rec, 400, sf_error("JSON_PARSER_ERROR", "Unexpected character in the request body"), limit)
            return
        status, answer = self._route(method, path, body)
        self._send(h, rec, status, answer, limit)

    def _fault_body(self, status: int) -> Any:
        if status == 401:
            return sf_error("INVALID_SESSION_ID", "Session expired or invalid")
        if status == 403:
            return sf_error("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        if status == 503:
            return sf_error("SERVER_UNAVAILABLE", "Server is temporarily unavailable, please try again later.")
        return sf_error(
            "UNKNOWN_EXCEPTION", "An unexpected error occurred. Please include this ErrorId if you contact support"
        )

    def _take_fault(self, kind: str) -> Fault | None:
        with self._lock:
            for i, fault in enumerate(self.faults):
                if fault.match in (kind, "any"):
                    return self.faults.pop(i)
        return None

    def _send(self, h: BaseHTTPRequestHandler, rec: Recorded, status: int, body: Any, headers=None) -> None:
        rec.status = status
        data = json.dumps(body).encode() if body is not None else b""
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json;charset=UTF-8")
            h.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        m = re.fullmatch(r"/services/data/v(\d+)\.(\d+)(/.*)", path)
        if not m:
            return 404, sf_error("NOT_FOUND", "The requested resource does not exist")
        version, rest = float(f"{m.group(1)}.{m.group(2)}"), m.group(3)
        d = re.fullmatch(r"/sobjects/(\w+)/describe", rest)
        if d and method == "GET":
            obj = d.group(1)
            if obj not in self.schema:
                return 404, sf_error("NOT_FOUND", "The requested resource does not exist")
            return 200, {"name": obj, "fields": [dict(f) for f in self.schema[obj].values()]}
        u = re.fullmatch(r"/composite/sobjects/(\w+)/(\w+)", rest)
        if u and method == "PATCH":
            if version < 46.0:
                return 404, sf_error("NOT_FOUND", "The requested resource does not exist")
            return self._upsert(u.group(1), u.group(2), body)
        return 404, sf_error("NOT_FOUND", "The requested resource does not exist")

    # -- sObject Collections upsert ------------------------------------------------------------
    def _upsert(self, obj: str, ext: str, body: Any) -> tuple[int, Any]:
        if obj not in self.schema:
            return 404, sf_error("NOT_FOUND", "The requested resource does not exist")
        fields = self.schema[obj]
        if ext not in fields:
            return 400, sf_error("INVALID_FIELD", f"No such column '{ext}' on sobject of type {obj}")
        if not (fields[ext]["externalId"] or fields[ext]["idLookup"]) or ext == "Id":
            return 400, sf_error("INVALID_FIELD", f"Field {ext} is not an External ID or indexed field for {obj}")
        if not isinstance(body, dict) or not isinstance(body.get("records"), list):
            return 400, sf_error("JSON_PARSER_ERROR", "records is required")
        records = body["records"]
        if len(records) > 200:
            return 400, sf_error(
                "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into this call"
            )
        for r in records:
            if not isinstance(r, dict) or not isinstance(r.get("attributes"), dict) or not r["attributes"].get("type"):
                return 400, sf_error("INVALID_TYPE", "Each record needs an attributes map with a type")
            if r["attributes"]["type"] != obj:
                return 400, sf_error("INVALID_TYPE", f"Record type {r['attributes']['type']} does not match {obj}")
            if "Id" in r:
                return 400, sf_error("INVALID_FIELD", "Only external ids are supported: do not set Id")
            for name in r:
                if name != "attributes" and name not in fields:
                    return 400, sf_error("INVALID_FIELD", f"No such column '{name}' on sobject of type {obj}")
        with self._lock:
            snapshot = json.loads(json.dumps(self.records[obj]))
            keys = [str(r.get(ext) or "").lower() for r in records]
            results = []
            for r, key in zip(records, keys):
                results.append(self._upsert_one(obj, ext, r, key, keys))
            if body.get("allOrNone") and not all(x["success"] for x in results):
                self.records[obj] = snapshot
                results = [
                    x
                    if not x["success"]
                    else {
                        "id": None,
                        "success": False,
                        "created": False,
                        "errors": [
                            {
                                "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                                "message": "Record rolled back because not all records were valid and the request was using AllOrNone header",
                                "fields": [],
                            }
                        ],
                    }
                    for x in results
                ]
        return 200, results

    def _fail(self, code: str, message: str, fields: list[str] | None = None) -> dict:
        return {
            "id": None,
            "success": False,
            "created": False,
            "errors": [{"statusCode": code, "message": message, "fields": fields or []}],
        }

    def _upsert_one(self, obj: str, ext: str, r: dict, key: str, keys: list[str]) -> dict:
        if not key:
            return self._fail("MISSING_ARGUMENT", f"{ext} not specified", [ext])
        if keys.count(key) > 1:
            return self._fail("DUPLICATE_VALUE", f"Duplicate external id specified: {r.get(ext)}", [ext])
        fields = self.schema[obj]
        values = {k: v for k, v in r.items() if k != "attributes"}
        for name, value in values.items():
            f = fields[name]
            if isinstance(value, str) and f["length"] and len(value) > f["length"]:
                return self._fail(
                    "STRING_TOO_LONG",
                    f"{name}: data value too large: {value[:20]}... (max length={f['length']})",
                    [name],
                )
            if f["type"] == "double" and value is not None and not isinstance(value, (int, float)):
                return self._fail(
                    "INVALID_TYPE_ON_FIELD_IN_RECORD", f"{name}: value not of required type: {value}", [name]
                )
            if f["type"] == "datetime" and value is not None:
                try:
                    datetime.fromisoformat(str(value).replace("Z", "+00:00"))
                except ValueError:
                    return self._fail(
                        "INVALID_TYPE_ON_FIELD_IN_RECORD", f"{name}: value not of required type: {value}", [name]
                    )
            if f["type"] == "email" and value and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", str(value)):
                return self._fail("INVALID_EMAIL_ADDRESS", f"{name}: invalid email address: {value}", [name])
        matches = [rid for rid, rec in self.records[obj].items() if str(rec.get(ext) or "").lower() == key]
        if len(matches) > 1:
            return self._fail("DUPLICATE_EXTERNAL_ID", "The external ID provided matches more than one record", [ext])
        if matches:
            self.records[obj][matches[0]].update(values)
            return {"id": matches[0], "success": True, "created": False, "errors": []}
        missing = [n for n in REQUIRED.get(obj, []) if not values.get(n)]
        if missing:
            return self._fail("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing)
        rid = self._new_id(obj)
        self.records[obj][rid] = {"Id": rid, **values}
        return {"id": rid, "success": True, "created": True, "errors": []}
