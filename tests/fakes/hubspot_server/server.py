"""A local stand-in for HubSpot's CRM v3 API (objects batch upsert and properties), over real HTTP
on a free port.

What it enforces, and where each fact comes from:

* Auth: ``Authorization: Bearer <private-app token>``; anything else is 401 with
  ``{"status": "error", "message": ..., "correlationId": ..., "category": "INVALID_AUTHENTICATION"}``.
  https://developers.hubspot.com/docs/api-reference/error-handling (401 "authentication provided is
  invalid"; error bodies carry status/message/correlationId/category).
* ``POST /crm/v3/objects/{companies|contacts}/batch/upsert`` with ``inputs`` of
  ``{idProperty, id, properties, objectWriteTraceId}``; answers ``{status, results[{id, properties,
  createdAt, updatedAt, archived, new, objectWriteTraceId}], startedAt, completedAt}``.
  https://developers.hubspot.com/docs/api-reference/legacy/crm/objects/companies/batch/upsert-companies
  https://developers.hubspot.com/docs/api-reference/legacy/crm/objects/contacts/batch/upsert-contacts
* At most 100 inputs per batch request (more: 400 ``VALIDATION_ERROR``).
  https://developers.hubspot.com/docs/api/crm/contacts#limits (cited in
  https://github.com/HubSpot/hubspot-api-nodejs/issues/412 and rudderlabs/rudder-transformer#2952)
* ``idProperty`` must be a property with unique values (``hasUniqueValue``; ``email`` for
  contacts); otherwise 400 ``VALIDATION_ERROR`` "Unable to perform update/upsert by non-unique
  0-2 property domain in portal ID …" — the upsert pages above ("idProperty … refers to a property
  whose values are unique for the object") and the message quoted in
  https://github.com/segmentio/action-destinations/pull/3957 ; company ``domain`` is not unique:
  https://developers.hubspot.com/docs/api-reference/latest/crm/objects/companies/guide
* Two inputs with the same id in one batch: 400 ``VALIDATION_ERROR`` (HubSpot rejects a batch that
  resolves two inputs to one record: https://github.com/segmentio/action-destinations/pull/3969).
* A property that does not exist: 400 ``VALIDATION_ERROR`` "Property values were not valid" with
  ``errors[{message: 'Property "x" does not exist', code: "PROPERTY_DOESNT_EXIST"}]``
  (https://github.com/hubspot-net/HubSpot.NET/issues/50 ; error-handling page: CRM object errors
  carry message, code and context).
* Multi-status: when inputs carry ``objectWriteTraceId``, inputs refused individually (a value
  not valid for its property type, an invalid email) come back in ``errors`` with
  ``context.objectWriteTraceId`` and the answer is 207 with ``numErrors``; without trace ids the
  whole batch fails 400. https://developers.hubspot.com/docs/api-reference/error-handling
  ("Multi-status errors").
* Properties API: ``GET/POST /crm/v3/properties/{object}`` (name, label, type, fieldType,
  groupName required; 409 ``OBJECT_ALREADY_EXISTS`` for a taken name) and
  ``GET/POST /crm/v3/properties/{object}/groups``.
  https://developers.hubspot.com/docs/api/crm/properties
  https://developers.hubspot.com/docs/api-reference/latest/crm/properties/create-property.md
* Rate limit: a rolling burst window per token (private apps: 100 requests / 10 s on Free and
  Starter, 190 on Professional and Enterprise —
  https://developers.hubspot.com/changelog/increasing-our-api-limits); over it: 429 with
  ``{"status": "error", "message": "You have reached your ten_secondly_rolling limit.",
  "errorType": "RATE_LIMIT", "correlationId": …, "policyName": "TEN_SECONDLY_ROLLING"}``
  (body format: https://developers.hubspot.com/docs/api/usage-details as quoted in
  https://community.hubspot.com/t5/APIs-Integrations/Hubspot-User-experience/m-p/511719 ;
  policy name: https://github.com/HubSpot/hubspot-api-nodejs/issues/416) and the headers
  ``X-HubSpot-RateLimit-Max``, ``-Remaining``, ``-Interval-Milliseconds`` on every answer
  (https://developers.hubspot.com/changelog/2018-11-06-rate-limit-information-headers-will-be-included-in-http-responses).
  Window and maximum are configurable so tests stay fast.

Fault injection: :meth:`HubSpotTestServer.fail` queues scripted answers for the next upsert (or
any) requests: ``status`` (e.g. 429 with ``retry_after``, 500, 502, 401), ``drop`` (close the
connection without an answer), ``hang`` (sleep ``delay`` seconds, then answer normally).
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standin_http import serve, stop

DEFAULT_TOKEN = "pat-na1-test-0123456789abcdef"
PORTAL_ID = "4242"
OBJECT_TYPE_IDS = {"contacts": "0-1", "companies": "0-2"}
MAX_BATCH = 100
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def error(message: str, category: str, **extra: Any) -> dict:
    return {"status": "error", "message": message, "correlationId": str(uuid.uuid4()), "category": category, **extra}


def default_properties() -> dict[str, dict[str, dict]]:
    """The built-in properties the tests touch: ``domain``/``name`` on companies (domain not
    unique), ``email`` (unique), ``firstname``, ``lastname`` on contacts."""

    def prop(name: str, type_: str = "string", unique: bool = False, group: str = "") -> dict:
        return {
            "name": name,
            "label": name,
            "type": type_,
            "fieldType": "text",
            "groupName": group,
            "hasUniqueValue": unique,
            "hubspotDefined": True,
        }

    return {
        "companies": {
            "domain": prop("domain", group="companyinformation"),
            "name": prop("name", group="companyinformation"),
        },
        "contacts": {
            "email": prop("email", unique=True, group="contactinformation"),
            "firstname": prop("firstname", group="contactinformation"),
            "lastname": prop("lastname", group="contactinformation"),
        },
    }


def default_groups() -> dict[str, dict[str, dict]]:
    return {
        "companies": {"companyinformation": {"name": "companyinformation", "label": "Company information"}},
        "contacts": {"contactinformation": {"name": "contactinformation", "label": "Contact information"}},
    }


@dataclass
class Fault:
    kind: str  # status | drop | hang
    status: int = 500
    retry_after: float | None = None
    delay: float = 3.0
    body: Any = None
    match: str = "upsert"  # upsert | properties | any


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    status: int = 0
    at: float = 0.0


@dataclass
class HubSpotTestServer:
    token: str = DEFAULT_TOKEN
    host: str = "127.0.0.1"
    rate_max: int = 100
    rate_window: float = 10.0
    rate_retry_after: float | None = None  # HubSpot does not document Retry-After on burst 429s
    records: dict[str, dict[str, dict]] = field(default_factory=lambda: {"companies": {}, "contacts": {}})
    properties: dict[str, dict[str, dict]] = field(default_factory=default_properties)
    groups: dict[str, dict[str, dict]] = field(default_factory=default_groups)
    requests: list[Recorded] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    rate_limited: int = 0
    _hits: dict[str, list[float]] = field(default_factory=dict, repr=False)
    _next_id: int = 1000
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _httpd: ThreadingHTTPServer | None = field(default=None, repr=False)
    _release: threading.Event = field(default_factory=threading.Event, repr=False)

    # -- lifecycle ------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._httpd is not None
        return f"http://{self.host}:{self._httpd.server_address[1]}"

    def start(self) -> HubSpotTestServer:
        self._httpd = serve(self._handle, self.host, methods=("GET", "POST"))
        return self

    def stop(self) -> None:
        self._release.set()
        stop(self._httpd)
        self._httpd = None

    def reset(self) -> None:
        """Back to a fresh portal: no records, only built-in properties, no faults, default limits."""
        self._release.set()
        with self._lock:
            self.records = {"companies": {}, "contacts": {}}
            self.properties = default_properties()
            self.groups = default_groups()
            self.requests = []
            self.faults = []
            self.rate_limited = 0
            self.rate_max, self.rate_window, self.rate_retry_after = 100, 10.0, None
            self._hits = {}
            self._release = threading.Event()

    # -- controls and accessors -----------------------------------------------------------------
    def fail(self, *faults: Fault) -> None:
        with self._lock:
            self.faults.extend(faults)

    def set_rate_limit(self, requests: int, window: float, retry_after: float | None = None) -> None:
        """A burst limit of ``requests`` per ``window`` seconds from now on (earlier requests no
        longer count), e.g. small so a test sees it without sending a hundred requests."""
        with self._lock:
            self.rate_max, self.rate_window, self.rate_retry_after = requests, window, retry_after
            self._hits = {}

    def record(self, obj: str, key: str, id_property: str | None = None) -> dict | None:
        """The stored properties of the record whose ``id_property`` (default: beton_domain for
        companies, email for contacts) equals ``key``."""
        prop = id_property or ("email" if obj == "contacts" else "beton_domain")
        with self._lock:
            found = [r for r in self.records[obj].values() if str(r["properties"].get(prop, "")).lower() == key.lower()]
        return dict(found[0]["properties"]) if found else None

    def all_records(self, obj: str) -> list[dict]:
        with self._lock:
            return [dict(r["properties"]) for r in self.records[obj].values()]

    def seed(self, obj: str, properties: dict[str, str]) -> str:
        with self._lock:
            self._next_id += 1
            rid = str(self._next_id)
            self.records[obj][rid] = {
                "id": rid,
                "properties": dict(properties),
                "createdAt": _now(),
                "updatedAt": _now(),
            }
            return rid

    def upserts(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith("/batch/upsert")]

    # -- request handling ------------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        rec = Recorded(method, h.path, dict(h.headers.items()), body, at=time.monotonic())
        with self._lock:
            self.requests.append(rec)
        path = h.path.split("?", 1)[0]
        kind = "upsert" if path.endswith("/batch/upsert") else "properties"
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
            elif fault.kind == "status":
                headers = {}
                if fault.retry_after is not None:
                    headers["Retry-After"] = str(int(math.ceil(fault.retry_after)))
                body_out = fault.body
                if body_out is None:
                    body_out = self._fault_body(fault.status)
                self._send(h, rec, fault.status, body_out, headers)
                return
        token = h.headers.get("Authorization", "")
        if token != f"Bearer {self.token}":
            self._send(
                h,
                rec,
                401,
                error(
                    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can "
                    "find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                    "INVALID_AUTHENTICATION",
                ),
            )
            return
        limited, remaining = self._count_hit(token)
        limit_headers = {
            "X-HubSpot-RateLimit-Max": str(self.rate_max),
            "X-HubSpot-RateLimit-Remaining": str(remaining),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self.rate_window * 1000)),
        }
        if limited:
            if self.rate_retry_after is not None:
                limit_headers["Retry-After"] = str(int(math.ceil(self.rate_retry_after)))
            self._send(
                h,
                rec,
                429,
                {
                    "status": "error",
                    "message": "You have reached your ten_secondly_rolling limit.",
                    "errorType": "RATE_LIMIT",
                    "correlationId": str(uuid.uuid4()),
                    "policyName": "TEN_SECONDLY_ROLLING",
                    "groupName": f"publicapi:private-app-ten-secondly:{PORTAL_ID}",
                },
                limit_headers,
            )
            return
        status, answer = self._route(method, path, body)
        self._send(h, rec, status, answer, limit_headers)

    def _fault_body(self, status: int) -> dict:
        if status == 429:
            return {
                "status": "error",
                "message": "You have reached your ten_secondly_rolling limit.",
                "errorType": "RATE_LIMIT",
                "correlationId": str(uuid.uuid4()),
                "policyName": "TEN_SECONDLY_ROLLING",
            }
        if status == 401:
            return error("The OAuth token used to make this call expired 2 hour(s) ago.", "EXPIRED_AUTHENTICATION")
        return error("internal error", "INTERNAL_ERROR")

    def _take_fault(self, kind: str) -> Fault | None:
        with self._lock:
            for i, fault in enumerate(self.faults):
                if fault.match in (kind, "any"):
                    return self.faults.pop(i)
        return None

    def _count_hit(self, token: str) -> tuple[bool, int]:
        now = time.monotonic()
        with self._lock:
            hits = [t for t in self._hits.get(token, []) if now - t < self.rate_window]
            if len(hits) >= self.rate_max:
                self._hits[token] = hits
                self.rate_limited += 1
                return True, 0
            hits.append(now)
            self._hits[token] = hits
            return False, self.rate_max - len(hits)

    def _send(self, h: BaseHTTPRequestHandler, rec: Recorded, status: int, body: Any, headers=None) -> None:
        rec.status = status
        data = json.dumps(body).encode() if body is not None else b""
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json;charset=utf-8")
            h.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        m = re.fullmatch(r"/crm/v3/objects/(\w+)/batch/upsert", path)
        if m and method == "POST":
            return self._upsert(m.group(1), body)
        m = re.fullmatch(r"/crm/v3/properties/(\w+)/groups", path)
        if m:
            return self._groups(method, m.group(1), body)
        m = re.fullmatch(r"/crm/v3/properties/(\w+)", path)
        if m:
            return self._properties(method, m.group(1), body)
        return 404, error(f"Unable to infer object type from: {path}", "OBJECT_NOT_FOUND")

    # -- properties API ------------------------------------------------------------------------
    def _properties(self, method: str, obj: str, body: Any) -> tuple[int, Any]:
        if obj not in self.properties:
            return 400, error(f"Unable to infer object type from: {obj}", "VALIDATION_ERROR")
        with self._lock:
            if method == "GET":
                return 200, {"results": [dict(p) for p in self.properties[obj].values()]}
            if not isinstance(body, dict):
                return 400, error("Invalid input JSON", "VALIDATION_ERROR")
            missing = [k for k in ("name", "label", "type", "fieldType", "groupName") if not body.get(k)]
            if missing:
                return 400, error(f"Missing required fields: {missing}", "VALIDATION_ERROR")
            if body["name"] in self.properties[obj]:
                return 409, error(f"Property named '{body['name']}' already exists.", "OBJECT_ALREADY_EXISTS")
            if body["groupName"] not in self.groups[obj]:
                return 400, error(f"group {body['groupName']} does not exist.", "VALIDATION_ERROR")
            if body["type"] not in ("string", "number", "date", "datetime", "enumeration", "bool"):
                return 400, error(f"Invalid property type {body['type']}", "VALIDATION_ERROR")
            prop = {**body, "hasUniqueValue": bool(body.get("hasUniqueValue")), "hubspotDefined": False}
            self.properties[obj][body["name"]] = prop
            return 201, prop

    def _groups(self, method: str, obj: str, body: Any) -> tuple[int, Any]:
        if obj not in self.groups:
            return 400, error(f"Unable to infer object type from: {obj}", "VALIDATION_ERROR")
        with self._lock:
            if method == "GET":
                return 200, {"results": [dict(g) for g in self.groups[obj].values()]}
            if not isinstance(body, dict) or not body.get("name") or not body.get("label"):
                return 400, error("name and label are required", "VALIDATION_ERROR")
            if body["name"] in self.groups[obj]:
                return 409, error(f"Property group named '{body['name']}' already exists.", "OBJECT_ALREADY_EXISTS")
            self.groups[obj][body["name"]] = dict(body)
            return 201, dict(body)

    # -- batch upsert ----------------------------------------------------------------------------
    def _invalid_value(self, obj: str, name: str, value: Any) -> str | None:
        prop = self.properties[obj][name]
        if value in ("", None):
            return None
        if prop["type"] == "number":
            try:
                float(value)
            except (TypeError, ValueError):
                return f'{value} was not a valid number. Property "{name}"'
        if prop["type"] in ("date", "datetime"):
            text = str(value)
            if not text.isdigit():
                try:
                    datetime.fromisoformat(text.replace("Z", "+00:00"))
                except ValueError:
                    return f'{value} is not a valid {prop["type"]}. Property "{name}"'
        if obj == "contacts" and name == "email" and not EMAIL.match(str(value)):
            return f"Email address {value} is invalid"
        return None

    def _upsert(self, obj: str, body: Any) -> tuple[int, Any]:
        if obj not in self.records:
            return 400, error(f"Unable to infer object type from: {obj}", "VALIDATION_ERROR")
        started = _now()
        if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
            return 400, error("Invalid input JSON on line 1: inputs is required", "VALIDATION_ERROR")
        inputs = body["inputs"]
        if len(inputs) > MAX_BATCH:
            return 400, error(
                f"Batch input length {len(inputs)} exceeds the maximum of {MAX_BATCH} inputs per request",
                "VALIDATION_ERROR",
            )
        with self._lock:
            ids: list[str] = []
            for item in inputs:
                if not isinstance(item, dict) or not item.get("id") or not item.get("idProperty"):
                    return 400, error("Each input needs id and idProperty", "VALIDATION_ERROR")
                id_prop = item["idProperty"]
                prop = self.properties[obj].get(id_prop)
                if prop is None:
                    return 400, error(
                        f"Property values were not valid: idProperty {id_prop} does not exist",
                        "VALIDATION_ERROR",
                        errors=[{"message": f'Property "{id_prop}" does not exist', "code": "PROPERTY_DOESNT_EXIST"}],
                    )
                if not prop.get("hasUniqueValue"):
                    return 400, error(
                        f"Unable to perform update/upsert by non-unique {OBJECT_TYPE_IDS[obj]} property {id_prop} "
                        f"in portal ID {PORTAL_ID}",
                        "VALIDATION_ERROR",
                    )
                ids.append(str(item["id"]).lower())
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            if dupes:
                return 400, error(
                    f"Duplicate IDs found in batch input: {dupes}. IDs must be unique", "VALIDATION_ERROR"
                )
            unknown = sorted(
                {name for item in inputs for name in (item.get("properties") or {}) if name not in self.properties[obj]}
            )
            if unknown:
                return 400, error(
                    "Property values were not valid: "
                    + json.dumps(
                        [
                            {
                                "isValid": False,
                                "message": f'Property "{n}" does not exist',
                                "error": "PROPERTY_DOESNT_EXIST",
                                "name": n,
                            }
                            for n in unknown
                        ]
                    ),
                    "VALIDATION_ERROR",
                    errors=[
                        {
                            "message": f'Property "{n}" does not exist',
                            "code": "PROPERTY_DOESNT_EXIST",
                            "context": {"propertyName": [n]},
                        }
                        for n in unknown
                    ],
                )
            results, errors = [], []
            for item in inputs:
                props = dict(item.get("properties") or {})
                props.setdefault(item["idProperty"], item["id"])
                problems = [p for p in (self._invalid_value(obj, n, v) for n, v in props.items()) if p]
                trace = item.get("objectWriteTraceId")
                if problems:
                    if trace is None:  # without trace ids, one bad input fails the whole batch
                        return 400, error("Property values were not valid: " + "; ".join(problems), "VALIDATION_ERROR")
                    errors.append(
                        {
                            "status": "error",
                            "category": "VALIDATION_ERROR",
                            "message": "; ".join(problems),
                            "context": {"objectWriteTraceId": [trace]},
                        }
                    )
                    continue
                results.append(self._write(obj, item["idProperty"], str(item["id"]), props, trace))
        answer: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": _now()}
        if errors:
            answer.update(errors=errors, numErrors=len(errors))
            return 207, answer
        return 200, answer

    def _write(self, obj: str, id_prop: str, key: str, props: dict, trace: str | None) -> dict:
        existing = [
            r for r in self.records[obj].values() if str(r["properties"].get(id_prop, "")).lower() == key.lower()
        ]
        now = _now()
        values = {k: ("" if v is None else str(v)) for k, v in props.items()}
        if existing:
            record = existing[0]
            record["properties"].update(values)
            record["updatedAt"] = now
            new = False
        else:
            self._next_id += 1
            record = {"id": str(self._next_id), "properties": values, "createdAt": now, "updatedAt": now}
            self.records[obj][record["id"]] = record
            new = True
        result = {
            "id": record["id"],
            "properties": dict(record["properties"]),
            "createdAt": record["createdAt"],
            "updatedAt": record["updatedAt"],
            "archived": False,
            "new": new,
        }
        if trace is not None:
            result["objectWriteTraceId"] = trace
        return result
