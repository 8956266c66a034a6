"""HubSpot: upsert each account's company and each user's contact with Beton properties.

One record per entity carries its state (see :mod:`.crm_common`): ``beton_best_score`` (number,
empty when the entity is on no list), ``beton_rules`` (rule keys joined with ``;``),
``beton_entered_at`` (datetime) and ``beton_last_change`` ("entered pql_power_users 2026-10-01").

How it talks to HubSpot (facts from HubSpot's developer documentation):

* Auth: a private-app access token sent as ``Authorization: Bearer`` (read from the environment
  variable named by ``token_env``, default ``BETON_HUBSPOT_TOKEN``). The app needs the scopes
  ``crm.objects.companies.write``, ``crm.objects.contacts.write``, ``crm.schemas.companies.write``
  and ``crm.schemas.contacts.write`` (the last two to create the properties).
* Writes: ``POST /crm/v3/objects/{companies|contacts}/batch/upsert`` with ``inputs`` of
  ``{idProperty, id, properties, objectWriteTraceId}``; at most 100 inputs per request.
  ``idProperty`` must be a property with unique values: ``email`` for contacts; for companies
  ``domain`` is *not* unique (HubSpot allows several companies with one domain and answers
  "Unable to perform update/upsert by non-unique 0-2 property domain"), so companies are matched
  on a custom unique property, ``beton_domain`` by default, holding the account's domain
  (``prepare()`` creates it). Companies that exist in HubSpot without ``beton_domain`` are
  therefore created anew: fill ``beton_domain`` from ``domain`` once (a HubSpot workflow or an
  import) before the first delivery, or point ``companies.id_property`` at a unique property you
  already keep.
* ``objectWriteTraceId`` on every input turns on multi-status answers: HTTP 207 with ``results``
  for the inputs written and ``errors`` (``context.objectWriteTraceId``) for those refused; a
  refused input is rejected for good with HubSpot's message. An input neither confirmed nor
  refused stays pending (the upsert is safe to repeat).
* Rate limits: private apps get a rolling burst limit of 100 requests per 10 s (Free/Starter) or
  190 (Professional/Enterprise). Requests are paced under ``rate_limit`` (default 100 per 10 s),
  and when an answer says ``X-HubSpot-RateLimit-Remaining: 0`` the next request waits the
  window. A 429 (``"errorType": "RATE_LIMIT"``, ``policyName`` e.g. ``TEN_SECONDLY_ROLLING`` or
  ``DAILY``) is retried by the HTTP layer, honouring Retry-After when given; ``DAILY`` is said
  plainly when the batch stays pending.
* 401: the token is missing, revoked or expired: not retryable, the message names the
  environment variable (never the token). 403: the token lacks a scope.

Settings (destinations.yml)::

    destinations:
      hubspot:
        kind: hubspot
        token_env: BETON_HUBSPOT_TOKEN      # default
        companies: {id_property: beton_domain}
        contacts: {id_property: email}
        properties: {best_score: beton_best_score, rules: beton_rules,
                     entered_at: beton_entered_at, last_change: beton_last_change}
        group_name: beton
        rate_limit: {requests: 100, per_seconds: 10}
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import urlsplit

from beton_runner.deliver.base import Ack, Batch, Change, DeliveryError, Destination
from beton_runner.deliver.destinations import register
from beton_runner.deliver.destinations.crm_common import (
    ENTITY_FIELDS,
    chunks,
    common_schema,
    env_value,
    group_by_entity,
    normalise_domain,
    normalise_email,
)
from beton_runner.deliver.http import Response
from beton_runner.errors import ConfigError

DEFAULT_TOKEN_ENV = "BETON_HUBSPOT_TOKEN"
DEFAULT_BASE_URL = "https://api.hubapi.com"
MAX_BATCH = 100  # inputs per batch request (CRM v3 batch endpoints)
DEFAULT_PROPERTIES = {
    "best_score": "beton_best_score",
    "rules": "beton_rules",
    "entered_at": "beton_entered_at",
    "last_change": "beton_last_change",
}
DEFAULT_ID_PROPERTY = {"companies": "beton_domain", "contacts": "email"}
# How each of our fields is created in HubSpot (properties API: type + fieldType).
PROPERTY_TYPES = {
    "best_score": ("number", "number", "Best score", "Highest Beton Inspector score over the lists it is on."),
    "rules": ("string", "text", "Rules", "Beton Inspector rules (punch lists) it is on, separated by ';'."),
    "entered_at": ("datetime", "date", "Entered at", "When it first entered one of the lists it is on."),
    "last_change": ("string", "text", "Last change", "The latest change Beton Inspector delivered."),
}
PROPERTY_NAME = re.compile(r"^[a-z][a-z0-9_]{0,99}$")
OBJECTS = ("companies", "contacts")
LEVEL_OBJECT = {"account": "companies", "user": "contacts"}


def _object_schema(default_id: str, what: str) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "description": f"How {what} are matched.",
        "properties": {
            "id_property": {
                "type": "string",
                "pattern": PROPERTY_NAME.pattern,
                "default": default_id,
                "description": (
                    f"The unique-value HubSpot property {what} are upserted by (default `{default_id}`)."
                    + (
                        " HubSpot's own `domain` is not unique and cannot be used; `beton_domain` is created "
                        "by Beton and holds the account's domain."
                        if what == "companies"
                        else ""
                    )
                ),
            }
        },
    }


@register
class HubSpotDestination(Destination):
    kind: ClassVar[str] = "hubspot"

    SCHEMA: ClassVar[dict] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "HubSpot destination",
        "description": "Upserts Beton properties on HubSpot companies (accounts) and contacts (users).",
        "type": "object",
        "required": ["kind"],
        "additionalProperties": False,
        "properties": {
            **common_schema("hubspot"),
            "token_env": {
                "type": "string",
                "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$",
                "default": DEFAULT_TOKEN_ENV,
                "description": "Environment variable holding the private-app access token (sent as Bearer).",
            },
            "base_url": {
                "type": "string",
                "pattern": r"^https?://",
                "default": DEFAULT_BASE_URL,
                "description": "HubSpot API base URL (change only for a proxy or a test server).",
            },
            "companies": _object_schema(DEFAULT_ID_PROPERTY["companies"], "companies"),
            "contacts": _object_schema(DEFAULT_ID_PROPERTY["contacts"], "contacts"),
            "properties": {
                "type": "object",
                "additionalProperties": False,
                "description": "HubSpot property names for Beton's fields (created by Beton when missing).",
                "properties": {
                    key: {
                        "type": "string",
                        "pattern": PROPERTY_NAME.pattern,
                        "default": DEFAULT_PROPERTIES[key],
                        "description": f"Property for `{key}` (default `{DEFAULT_PROPERTIES[key]}`).",
                    }
                    for key in ENTITY_FIELDS
                },
            },
            "group_name": {
                "type": "string",
                "pattern": PROPERTY_NAME.pattern,
                "default": "beton",
                "description": "Property group the created properties go in (created when missing).",
            },
            "rate_limit": {
                "type": "object",
                "additionalProperties": False,
                "description": (
                    "Pace requests under the private app's burst limit: 100 per 10 s on Free/Starter, "
                    "190 on Professional/Enterprise (the limit is shared by every app of the account)."
                ),
                "properties": {
                    "requests": {
                        "type": "integer",
                        "minimum": 1,
                        "default": 100,
                        "description": "Requests allowed per window (default 100).",
                    },
                    "per_seconds": {
                        "type": "number",
                        "exclusiveMinimum": 0,
                        "default": 10,
                        "description": "The rolling window in seconds (default 10).",
                    },
                },
            },
            "batch_size": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_BATCH,
                "default": MAX_BATCH,
                "description": "Records per batch upsert request (HubSpot accepts at most 100).",
            },
        },
    }

    def __init__(self, name: str, settings: Mapping[str, Any], env: Mapping[str, str]):
        super().__init__(name, settings, env)
        s = self.settings
        self.token_env = s.get("token_env") or DEFAULT_TOKEN_ENV
        self.base_url = str(s.get("base_url") or DEFAULT_BASE_URL).rstrip("/")
        self.id_property = {
            obj: str((s.get(obj) or {}).get("id_property") or DEFAULT_ID_PROPERTY[obj]) for obj in OBJECTS
        }
        self.properties = {**DEFAULT_PROPERTIES, **(s.get("properties") or {})}
        self.group_name = str(s.get("group_name") or "beton")
        rate = s.get("rate_limit") or {}
        self.rate_requests = int(rate.get("requests", 100))
        self.rate_window = float(rate.get("per_seconds", 10))
        self.batch_size = min(int(s.get("batch_size") or MAX_BATCH), MAX_BATCH)
        self._sent_at: list[float] = []
        self._not_before = 0.0
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never the token
        return f"HubSpotDestination(name={self.name!r}, base_url={self.base_url!r}, token_env={self.token_env!r})"

    # -- configuration -------------------------------------------------------------------------
    def check(self) -> None:
        if not env_value(self.env, self.token_env):
            raise ConfigError(
                f"{self.name}: the environment variable {self.token_env} (named by "
                f"{self.config_path('token_env')}) is not set. Create a HubSpot private app with the scopes "
                "crm.objects.companies.write, crm.objects.contacts.write, crm.schemas.companies.write and "
                f"crm.schemas.contacts.write, and put its access token in {self.token_env}."
            )
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"{self.config_path('base_url')}: {self.base_url!r} is not an http(s) URL.")
        if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ConfigError(f"{self.config_path('base_url')}: use https (the token must not travel in clear text).")
        for obj in OBJECTS:
            if not PROPERTY_NAME.match(self.id_property[obj]):
                raise ConfigError(
                    f"{self.config_path(obj + '.id_property')}: {self.id_property[obj]!r} is not a property name."
                )
        if self.id_property["companies"] == "domain":
            raise ConfigError(
                f"{self.config_path('companies.id_property')}: HubSpot's `domain` property does not hold unique values, "
                "and HubSpot upserts only by a unique-value property. Leave the default `beton_domain` (created by "
                "Beton, holding the account's domain) or name a unique property of yours."
            )
        for key in ENTITY_FIELDS:
            value = self.properties.get(key)
            if not isinstance(value, str) or not PROPERTY_NAME.match(value):
                raise ConfigError(f"{self.config_path('properties.' + key)}: {value!r} is not a HubSpot property name.")
        if len(set(self.properties[k] for k in ENTITY_FIELDS)) != len(ENTITY_FIELDS):
            raise ConfigError(f"{self.config_path('properties')}: two fields map to the same HubSpot property.")

    def _token(self) -> str:
        return self.secret(self.token_env)

    # -- requests ------------------------------------------------------------------------------
    def _pace(self) -> None:
        """Stay under the burst limit: at most ``rate_requests`` in any ``rate_window`` seconds,
        and after an answer said none remain, wait the window out."""
        with self._lock:
            while True:
                now = time.monotonic()
                self._sent_at = [t for t in self._sent_at if now - t < self.rate_window]
                wait = self._not_before - now
                if len(self._sent_at) >= self.rate_requests:
                    wait = max(wait, self._sent_at[0] + self.rate_window - now)
                if wait <= 0:
                    self._sent_at.append(now)
                    return
                time.sleep(wait)

    def _note_limits(self, response: Response) -> None:
        headers = {k.lower(): v for k, v in response.headers.items()}
        try:
            remaining = int(headers.get("x-hubspot-ratelimit-remaining", ""))
        except ValueError:
            return
        if remaining <= 0:
            try:
                interval = int(headers.get("x-hubspot-ratelimit-interval-milliseconds", "")) / 1000
            except ValueError:
                interval = self.rate_window
            with self._lock:
                self._not_before = time.monotonic() + interval

    def _request(self, method: str, path: str, body: Any = None) -> Response:
        self._pace()
        url = self.base_url + path
        try:
            response = self.http.request(
                method,
                url,
                body=body,
                headers={"Authorization": f"Bearer {self._token()}"},
                ok=lambda status: status < 500 and status != 429,
            )
        except DeliveryError as exc:
            if exc.status == 429:
                raise DeliveryError(
                    self.name,
                    f"HubSpot's rate limit stayed exceeded ({exc}). The batch stays pending.",
                    retryable=True,
                    status=429,
                ) from None
            raise
        self._note_limits(response)
        if response.status in (401, 403):
            raise self._auth_error(response)
        return response

    def _auth_error(self, response: Response) -> DeliveryError:
        body = response.json() if isinstance(response.json(), dict) else {}
        category = body.get("category") or ""
        if response.status == 401:
            return DeliveryError(
                self.name,
                f"HubSpot refused the access token in {self.token_env} (HTTP 401{', ' + category if category else ''}): "
                f"it is missing, revoked, rotated or expired. Put the private app's current access token in "
                f"{self.token_env} and run `beton deliver` again.",
                retryable=False,
                status=401,
            )
        return DeliveryError(
            self.name,
            f"HubSpot refused the request (HTTP 403{', ' + category if category else ''}): the private app behind "
            f"{self.token_env} lacks a scope. It needs crm.objects.companies.write, crm.objects.contacts.write, "
            "crm.schemas.companies.write and crm.schemas.contacts.write.",
            retryable=False,
            status=403,
        )

    @staticmethod
    def _error_text(response: Response) -> str:
        body = response.json()
        if isinstance(body, dict):
            parts = [str(body.get("category") or ""), str(body.get("message") or "")]
            return ": ".join(p for p in parts if p)[:500] or f"HTTP {response.status}"
        return f"HTTP {response.status}"

    # -- prepare: custom properties ------------------------------------------------------------
    def prepare(self) -> None:
        """Create the property group and the Beton properties that are missing on companies and
        contacts (and ``beton_domain``, unique, when it is the companies' id property). Runs once
        per ``beton deliver``; existing properties are left as they are."""
        for obj in OBJECTS:
            response = self._request("GET", f"/crm/v3/properties/{obj}")
            if response.status != 200:
                raise self._config_failure(obj, "read the properties", response)
            existing = {p.get("name"): p for p in (response.json() or {}).get("results", []) if isinstance(p, dict)}
            wanted = self._wanted_properties(obj)
            id_prop = self.id_property[obj]
            if id_prop in existing and obj == "companies" and not existing[id_prop].get("hasUniqueValue"):
                raise ConfigError(
                    f"{self.config_path('companies.id_property')}: the HubSpot company property {id_prop!r} does not "
                    "hold unique values, and HubSpot upserts only by a unique-value property. Use the default "
                    "`beton_domain` or another unique property."
                )
            if id_prop not in existing and id_prop not in wanted:
                raise ConfigError(
                    f"{self.config_path(obj + '.id_property')}: HubSpot has no {obj} property {id_prop!r}. Create it "
                    "(with unique values) or use the default."
                )
            missing = [p for name, p in wanted.items() if name not in existing]
            if not missing:
                continue
            self._ensure_group(obj)
            for prop in missing:
                created = self._request("POST", f"/crm/v3/properties/{obj}", prop)
                if created.status not in (200, 201, 409):  # 409: created meanwhile by another run
                    raise self._config_failure(obj, f"create the property {prop['name']!r}", created)

    def _wanted_properties(self, obj: str) -> dict[str, dict[str, Any]]:
        wanted: dict[str, dict[str, Any]] = {}
        for key in ENTITY_FIELDS:
            type_, field_type, label, description = PROPERTY_TYPES[key]
            name = self.properties[key]
            wanted[name] = {
                "name": name,
                "label": f"Beton: {label}",
                "type": type_,
                "fieldType": field_type,
                "groupName": self.group_name,
                "description": description,
            }
        id_prop = self.id_property[obj]
        if obj == "companies" and id_prop == DEFAULT_ID_PROPERTY["companies"]:
            wanted[id_prop] = {
                "name": id_prop,
                "label": "Beton: Domain",
                "type": "string",
                "fieldType": "text",
                "groupName": self.group_name,
                "description": "The account's domain; Beton Inspector upserts companies by it (unique).",
                "hasUniqueValue": True,
            }
        return wanted

    def _ensure_group(self, obj: str) -> None:
        response = self._request("GET", f"/crm/v3/properties/{obj}/groups")
        if response.status != 200:
            raise self._config_failure(obj, "read the property groups", response)
        names = {g.get("name") for g in (response.json() or {}).get("results", []) if isinstance(g, dict)}
        if self.group_name in names:
            return
        created = self._request(
            "POST",
            f"/crm/v3/properties/{obj}/groups",
            {"name": self.group_name, "label": "Beton Inspector", "displayOrder": -1},
        )
        if created.status not in (200, 201, 409):
            raise self._config_failure(obj, f"create the property group {self.group_name!r}", created)

    def _config_failure(self, obj: str, what: str, response: Response) -> DeliveryError:
        return DeliveryError(
            self.name,
            f"could not {what} of HubSpot {obj} ({self._error_text(response)}).",
            retryable=False,
            status=response.status,
        )

    # -- plan ----------------------------------------------------------------------------------
    def _key(self, obj: str, change: Change) -> str | None:
        return normalise_domain(change.domain) if obj == "companies" else normalise_email(change.email)

    def plan(self, changes: Sequence[Change]) -> list[Batch]:
        batches: list[Batch] = []
        for obj in OBJECTS:
            mine = [c for c in changes if LEVEL_OBJECT.get(c.level) == obj]
            if not mine:
                continue
            states, missing = group_by_entity(mine, lambda c, obj=obj: self._key(obj, c))
            id_prop = self.id_property[obj]
            for part in chunks(states, self.batch_size):
                inputs = []
                for state in part:
                    values = state.values()
                    props = {self.properties[k]: "" if values[k] is None else str(values[k]) for k in ENTITY_FIELDS}
                    props[id_prop] = state.key
                    inputs.append(
                        {
                            "idProperty": id_prop,
                            "id": state.key,
                            "objectWriteTraceId": state.key,
                            "properties": dict(sorted(props.items())),
                        }
                    )
                batches.append(
                    Batch(
                        changes=[c for state in part for c in state.changes],
                        payload={"object": obj, "inputs": inputs},
                        summary={"upserts": len(inputs)},
                        description=f"HubSpot {obj}: upsert {len(inputs)} by {id_prop}",
                    )
                )
            if missing:
                what = "domain" if obj == "companies" else "email address"
                reason = f"no {what}: a HubSpot {obj[:-1]} is matched by its {what}, so it cannot be upserted"
                batches.append(
                    Batch(
                        changes=list(missing),
                        payload={"object": obj, "reject": reason},
                        summary={"rejected": len(missing)},
                        description=f"HubSpot {obj}: {len(missing)} change(s) without {what}, not sent",
                    )
                )
        return batches

    # -- send ----------------------------------------------------------------------------------
    def send(self, batch: Batch) -> Ack:
        payload = batch.payload
        if "reject" in payload:
            return Ack(rejected={c.change_id: payload["reject"] for c in batch.changes})
        obj = payload["object"]
        inputs = payload["inputs"]
        response = self._request("POST", f"/crm/v3/objects/{obj}/batch/upsert", {"inputs": inputs})
        if response.status >= 400:
            raise DeliveryError(
                self.name,
                f"HubSpot refused the {obj} batch upsert (HTTP {response.status}, {self._error_text(response)}). "
                "Check the property names in destinations.yml and that `beton deliver` created them.",
                retryable=False,
                status=response.status,
            )
        body = response.json() if isinstance(response.json(), dict) else {}
        id_prop = self.id_property[obj]
        confirmed: dict[str, bool] = {}
        for result in body.get("results") or []:
            if not isinstance(result, dict):
                continue
            key = result.get("objectWriteTraceId") or (result.get("properties") or {}).get(id_prop)
            if key is not None:
                confirmed[str(key).lower()] = bool(result.get("new"))
        refused: dict[str, str] = {}
        for error in body.get("errors") or []:
            if not isinstance(error, dict):
                continue
            context = error.get("context") or {}
            traces = context.get("objectWriteTraceId") or context.get("ids") or []
            message = ": ".join(str(x) for x in (error.get("category"), error.get("message")) if x)
            for trace in traces if isinstance(traces, list) else [traces]:
                refused[str(trace).lower()] = f"HubSpot refused it ({message[:300]})"
        ack = Ack()
        keys = {entry["id"]: entry for entry in inputs}
        by_key: dict[str, list[Change]] = {}
        for change in batch.changes:
            by_key.setdefault(self._key(obj, change) or "", []).append(change)
        created = updated = 0
        for key in keys:
            ids = [c.change_id for c in by_key.get(key, [])]
            if key in refused:
                ack.rejected.update({cid: refused[key] for cid in ids})
            elif key in confirmed or response.status == 200 and not body.get("errors"):
                ack.delivered.extend(ids)
                if key in confirmed:
                    created += confirmed[key]
                    updated += not confirmed[key]
            # neither confirmed nor refused: stays pending (the upsert is safe to repeat)
        batch.summary = {"created": created, "updated": updated, "rejected": len({k for k in keys if k in refused})}
        return ack
