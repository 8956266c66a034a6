"""Salesforce: upsert each account's Account and each user's Lead (or Contact) with Beton fields.

One record per entity carries its state (see :mod:`.crm_common`): ``Beton_Score__c`` (number,
null when the entity is on no list), ``Beton_Rules__c`` (rule keys joined with ``;``),
``Beton_Entered_At__c`` (date/time) and ``Beton_Last_Change__c`` ("entered pql_x 2026-10-01").

Facts from Salesforce's REST API documentation this follows:

* Writes: sObject Collections upsert, ``PATCH /services/data/vXX.X/composite/sobjects/{SObject}/
  {ExternalIdField}`` with ``{"allOrNone": false, "records": [{"attributes": {"type": SObject},
  ...}]}``: at most 200 records of the one type in the URI, API version 46.0 or later; the answer
  is 200 with one ``{id, success, created, errors[{statusCode, message, fields}]}`` per record in
  request order, or 400 when the request itself is malformed.
* The external id: a custom field marked External ID (``Beton_Domain__c`` on Account, created by
  you, ideally also Unique), or a standard field with the ``idLookup`` property — ``Email`` on Lead
  and Contact is one, so users are matched on ``Email`` by default. Email is not unique in
  Salesforce: when two Leads share an email the record fails with "matches more than one record"
  and is rejected with that reason (make a unique ``Beton_Email__c`` External ID field and set
  ``user.external_id_field`` to avoid it).
* Required fields on create: Account needs ``Name``, Lead ``LastName`` and ``Company``, Contact
  ``LastName``. Sending them on every upsert would overwrite what sales people typed, so records
  go first without them; only records that fail with ``REQUIRED_FIELD_MISSING`` (they did not
  exist) are sent again with Name/LastName/Company filled from the entity.
* Errors: 401 ``INVALID_SESSION_ID`` ("Session expired or invalid") — the access token expired
  or is wrong: not retryable, the message says how to get a new one. 403 ``REQUEST_LIMIT_EXCEEDED``
  — the org's rolling 24-hour API request limit is used up: retryable (the batch stays pending).
  5xx / 503 ``SERVER_UNAVAILABLE``: retried by the HTTP layer, then retryable.

Getting the token (the OAuth flow is yours; Beton reads two environment variables):

* With the Salesforce CLI (a person's session, e.g. for a first try)::

      sf org login web --alias beton
      sf org display --target-org beton --json > /tmp/org.json
      export SALESFORCE_INSTANCE_URL=$(jq -r .result.instanceUrl /tmp/org.json)
      export SALESFORCE_ACCESS_TOKEN=$(jq -r .result.accessToken /tmp/org.json)

* Scheduled runs: a connected app (or external client app) with the OAuth 2.0 client
  credentials flow enabled and a run-as integration user::

      export SALESFORCE_INSTANCE_URL=https://MyDomain.my.salesforce.com
      export SALESFORCE_ACCESS_TOKEN=$(curl -s "$SALESFORCE_INSTANCE_URL/services/oauth2/token" \\
          -d grant_type=client_credentials -d client_id="$SF_CLIENT_ID" \\
          -d client_secret="$SF_CLIENT_SECRET" | jq -r .access_token)

Settings (destinations.yml)::

    destinations:
      salesforce:
        kind: salesforce
        instance_url_env: SALESFORCE_INSTANCE_URL   # default
        token_env: SALESFORCE_ACCESS_TOKEN          # default
        api_version: v62.0
        account: {object: Account, external_id_field: Beton_Domain__c, match: domain}
        user: {object: Lead, external_id_field: Email, match: email}
        fields: {best_score: Beton_Score__c, rules: Beton_Rules__c,
                 entered_at: Beton_Entered_At__c, last_change: Beton_Last_Change__c}

The custom fields must exist on each object (``prepare()`` checks with a describe call and says
which are missing): Beton_Score__c Number(16, 2), Beton_Rules__c Long Text Area,
Beton_Entered_At__c Date/Time, Beton_Last_Change__c Text(255), and on Account Beton_Domain__c
Text(255) External ID + Unique.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

from beton_runner.deliver.base import Ack, Batch, Change, DeliveryError, Destination
from beton_runner.deliver.destinations import register
from beton_runner.deliver.destinations.crm_common import (
    ENTITY_FIELDS,
    EntityState,
    chunks,
    common_schema,
    env_value,
    group_by_entity,
    normalise_domain,
    normalise_email,
)
from beton_runner.deliver.http import Response
from beton_runner.errors import ConfigError

DEFAULT_INSTANCE_ENV = "SALESFORCE_INSTANCE_URL"
DEFAULT_TOKEN_ENV = "SALESFORCE_ACCESS_TOKEN"
DEFAULT_API_VERSION = "v62.0"
MIN_API_VERSION = 46.0  # sObject Collections upsert exists from 46.0
MAX_RECORDS = 200  # records per sObject Collections request
DEFAULT_FIELDS = {
    "best_score": "Beton_Score__c",
    "rules": "Beton_Rules__c",
    "entered_at": "Beton_Entered_At__c",
    "last_change": "Beton_Last_Change__c",
}
FIELD_HINTS = {
    "best_score": "Number(16, 2)",
    "rules": "Long Text Area",
    "entered_at": "Date/Time",
    "last_change": "Text(255)",
}
DEFAULT_LEVEL = {
    "account": {"object": "Account", "external_id_field": "Beton_Domain__c", "match": "domain"},
    "user": {"object": "Lead", "external_id_field": "Email", "match": "email"},
}
MATCHES = {"account": ("domain", "account_id"), "user": ("email", "user_id")}
API_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
# What a new record needs (Salesforce refuses to create it without): filled only on create.
REQUIRED_ON_CREATE = {"Account": ("Name",), "Lead": ("LastName", "Company"), "Contact": ("LastName",)}


def _level_schema(level: str) -> dict[str, Any]:
    d = DEFAULT_LEVEL[level]
    what = "accounts" if level == "account" else "users"
    return {
        "type": "object",
        "additionalProperties": False,
        "description": f"Which Salesforce object {what} go to and how they are matched.",
        "properties": {
            "object": {
                "type": "string",
                "pattern": API_NAME.pattern,
                "default": d["object"],
                "description": f"sObject API name (default `{d['object']}`"
                + ("; `Contact` also works)." if level == "user" else ")."),
            },
            "external_id_field": {
                "type": "string",
                "pattern": API_NAME.pattern,
                "default": d["external_id_field"],
                "description": (
                    "Field records are upserted by: a custom External ID field, or a standard idLookup field "
                    f"such as Email (default `{d['external_id_field']}`)."
                ),
            },
            "match": {
                "enum": list(MATCHES[level]),
                "default": d["match"],
                "description": f"Which of the {level}'s values goes in the external id field.",
            },
        },
    }


@register
class SalesforceDestination(Destination):
    kind: ClassVar[str] = "salesforce"

    SCHEMA: ClassVar[dict] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Salesforce destination",
        "description": "Upserts Beton fields on Salesforce Accounts (accounts) and Leads or Contacts (users).",
        "type": "object",
        "required": ["kind"],
        "additionalProperties": False,
        "properties": {
            **common_schema("salesforce"),
            "instance_url_env": {
                "type": "string",
                "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$",
                "default": DEFAULT_INSTANCE_ENV,
                "description": "Environment variable holding the org's instance URL (https://MyDomain.my.salesforce.com).",
            },
            "token_env": {
                "type": "string",
                "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$",
                "default": DEFAULT_TOKEN_ENV,
                "description": "Environment variable holding an OAuth access token (sent as Bearer).",
            },
            "api_version": {
                "type": "string",
                "pattern": r"^v[0-9]{2,3}\.0$",
                "default": DEFAULT_API_VERSION,
                "description": "REST API version, 46.0 or later (sObject Collections upsert).",
            },
            "account": _level_schema("account"),
            "user": _level_schema("user"),
            "fields": {
                "type": "object",
                "additionalProperties": False,
                "description": "Salesforce field API names for Beton's fields (create them in Setup).",
                "properties": {
                    key: {
                        "type": "string",
                        "pattern": API_NAME.pattern,
                        "default": DEFAULT_FIELDS[key],
                        "description": f"Field for `{key}` (default `{DEFAULT_FIELDS[key]}`, {FIELD_HINTS[key]}).",
                    }
                    for key in ENTITY_FIELDS
                },
            },
            "batch_size": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_RECORDS,
                "default": MAX_RECORDS,
                "description": "Records per sObject Collections request (Salesforce accepts at most 200).",
            },
        },
    }

    def __init__(self, name: str, settings: Mapping[str, Any], env: Mapping[str, str]):
        super().__init__(name, settings, env)
        s = self.settings
        self.instance_env = s.get("instance_url_env") or DEFAULT_INSTANCE_ENV
        self.token_env = s.get("token_env") or DEFAULT_TOKEN_ENV
        self.api_version = str(s.get("api_version") or DEFAULT_API_VERSION)
        self.levels = {level: {**DEFAULT_LEVEL[level], **(s.get(level) or {})} for level in DEFAULT_LEVEL}
        self.fields = {**DEFAULT_FIELDS, **(s.get("fields") or {})}
        self.batch_size = min(int(s.get("batch_size") or MAX_RECORDS), MAX_RECORDS)

    def __repr__(self) -> str:  # never the token
        return f"SalesforceDestination(name={self.name!r}, token_env={self.token_env!r})"

    # -- configuration -------------------------------------------------------------------------
    def check(self) -> None:
        url = env_value(self.env, self.instance_env)
        if not url:
            raise ConfigError(
                f"{self.name}: the environment variable {self.instance_env} (named by "
                f"{self.config_path('instance_url_env')}) is not set. Put the org's instance URL in it, e.g. "
                "https://MyDomain.my.salesforce.com (`sf org display` shows it as Instance Url)."
            )
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
            raise ConfigError(
                f"{self.name}: {self.instance_env} is not an instance URL like https://MyDomain.my.salesforce.com "
                "(scheme and host only)."
            )
        if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ConfigError(f"{self.name}: {self.instance_env} must use https.")
        if not env_value(self.env, self.token_env):
            raise ConfigError(
                f"{self.name}: the environment variable {self.token_env} (named by {self.config_path('token_env')}) "
                "is not set. Put an OAuth access token for the org in it (`sf org display` shows one; for "
                "scheduled runs use a connected app's client credentials flow)."
            )
        try:
            version = float(self.api_version.lstrip("v"))
        except ValueError:
            version = 0.0
        if not re.fullmatch(r"v\d{2,3}\.0", self.api_version) or version < MIN_API_VERSION:
            raise ConfigError(
                f"{self.config_path('api_version')}: {self.api_version!r} is not a REST API version 46.0 or later "
                "(e.g. v62.0)."
            )
        for level, conf in self.levels.items():
            for key in ("object", "external_id_field"):
                if not isinstance(conf.get(key), str) or not API_NAME.match(conf[key]):
                    raise ConfigError(f"{self.config_path(f'{level}.{key}')}: {conf.get(key)!r} is not an API name.")
            if conf.get("match") not in MATCHES[level]:
                raise ConfigError(f"{self.config_path(level + '.match')}: use one of {', '.join(MATCHES[level])}.")
        for key in ENTITY_FIELDS:
            if not isinstance(self.fields.get(key), str) or not API_NAME.match(self.fields[key]):
                raise ConfigError(
                    f"{self.config_path('fields.' + key)}: {self.fields.get(key)!r} is not a field API name."
                )

    def _instance(self) -> str:
        return self.secret(self.instance_env).rstrip("/")

    def _token(self) -> str:
        return self.secret(self.token_env)

    # -- requests ------------------------------------------------------------------------------
    def _request(self, method: str, path: str, body: Any = None) -> Response:
        response = self.http.request(
            method,
            self._instance() + f"/services/data/{self.api_version}" + path,
            body=body,
            headers={"Authorization": f"Bearer {self._token()}"},
            ok=lambda status: status < 500 and status != 429,
        )
        if response.status == 401:
            raise DeliveryError(
                self.name,
                f"Salesforce refused the access token in {self.token_env} (HTTP 401, {self._error_code(response)}): "
                "it expired or was revoked, or belongs to another org than "
                f"{self.instance_env}. Get a new token (`sf org display`, or the client credentials flow) and "
                "run `beton deliver` again.",
                retryable=False,
                status=401,
            )
        if response.status == 403 and self._error_code(response) == "REQUEST_LIMIT_EXCEEDED":
            raise DeliveryError(
                self.name,
                "Salesforce says the org's API request limit (a rolling 24 hours) is used up "
                "(HTTP 403 REQUEST_LIMIT_EXCEEDED). The batch stays pending; it is sent on a later "
                "`beton deliver` once requests free up (Setup > Company Information shows API usage).",
                retryable=True,
                status=403,
            )
        return response

    @staticmethod
    def _errors(response: Response) -> list[dict]:
        body = response.json()
        if isinstance(body, dict):
            body = [body]
        return [e for e in body or [] if isinstance(e, dict)] if isinstance(body, list) else []

    def _error_code(self, response: Response) -> str:
        errors = self._errors(response)
        return str(errors[0].get("errorCode") or "") if errors else ""

    def _error_text(self, response: Response) -> str:
        errors = self._errors(response)
        if not errors:
            return f"HTTP {response.status}"
        return "; ".join(f"{e.get('errorCode', '')}: {e.get('message', '')}" for e in errors)[:500]

    # -- prepare: check the fields exist -------------------------------------------------------
    def prepare(self) -> None:
        """Describe each object and fail early, naming what to create in Setup, when the external
        id field or a Beton field is missing. Salesforce custom fields are created by an admin
        (Setup or a metadata deploy), not by Beton."""
        for level, conf in self.levels.items():
            obj = conf["object"]
            response = self._request("GET", f"/sobjects/{quote(obj)}/describe")
            if response.status == 404:
                raise ConfigError(f"{self.config_path(level + '.object')}: Salesforce has no object {obj!r}.")
            if response.status != 200:
                raise DeliveryError(
                    self.name, f"could not describe {obj} ({self._error_text(response)}).", retryable=False
                )
            fields = {f.get("name"): f for f in (response.json() or {}).get("fields", []) if isinstance(f, dict)}
            ext = conf["external_id_field"]
            problems = []
            if ext not in fields:
                problems.append(f"{ext} (Text(255), External ID, Unique) — the external id field")
            elif not (fields[ext].get("externalId") or fields[ext].get("idLookup")):
                problems.append(f"{ext} exists but is not marked External ID")
            for key in ENTITY_FIELDS:
                name = self.fields[key]
                if name not in fields:
                    problems.append(f"{name} ({FIELD_HINTS[key]})")
                elif fields[name].get("updateable") is False:
                    problems.append(f"{name} exists but the integration user cannot edit it")
            if problems:
                raise ConfigError(
                    f"{self.name}: Salesforce {obj} lacks fields Beton writes: {'; '.join(problems)}. Create them in "
                    "Setup > Object Manager (and give the integration user edit access), or change "
                    f"{self.config_path('fields')} / {self.config_path(level + '.external_id_field')}."
                )

    # -- plan ----------------------------------------------------------------------------------
    def _key(self, level: str, change: Change) -> str | None:
        match = self.levels[level]["match"]
        if match == "domain":
            return normalise_domain(change.domain)
        if match == "email":
            return normalise_email(change.email)
        return change.entity_id or None  # account_id / user_id: Beton's own id

    def _create_values(self, obj: str, state: EntityState) -> dict[str, str]:
        """Name / LastName / Company for a record that does not exist yet."""
        change = state.latest
        name = (change.name or "").strip()
        local = (change.email or state.key).split("@", 1)[0]
        values = {
            "Name": name or change.domain or state.key,
            "LastName": (name.split()[-1] if name else local)[:80],
            "FirstName": " ".join(name.split()[:-1])[:40] if name else "",
            "Company": change.domain or "[not provided]",
        }
        wanted = REQUIRED_ON_CREATE.get(obj, ())
        out = {k: values[k] for k in wanted}
        if "LastName" in wanted and values["FirstName"]:
            out["FirstName"] = values["FirstName"]
        return out

    def plan(self, changes: Sequence[Change]) -> list[Batch]:
        batches: list[Batch] = []
        for level in ("account", "user"):
            mine = [c for c in changes if c.level == level]
            if not mine:
                continue
            conf = self.levels[level]
            obj, ext = conf["object"], conf["external_id_field"]
            states, missing = group_by_entity(mine, lambda c, level=level: self._key(level, c))
            for part in chunks(states, self.batch_size):
                records, create = [], {}
                for state in part:
                    values = state.values()
                    record: dict[str, Any] = {"attributes": {"type": obj}, ext: state.key}
                    for key in ENTITY_FIELDS:
                        record[self.fields[key]] = values[key] if values[key] != "" else None
                    records.append(record)
                    create[state.key] = self._create_values(obj, state)
                batches.append(
                    Batch(
                        changes=[c for state in part for c in state.changes],
                        payload={
                            "object": obj,
                            "external_id_field": ext,
                            "body": {"allOrNone": False, "records": records},
                            "on_create": create,
                        },
                        summary={"upserts": len(records)},
                        description=f"Salesforce {obj}: upsert {len(records)} by {ext}",
                    )
                )
            if missing:
                what = conf["match"].replace("_", " ")
                reason = f"no {what}: the Salesforce {obj} is matched on {ext} by its {what}, so it cannot be upserted"
                batches.append(
                    Batch(
                        changes=list(missing),
                        payload={"object": obj, "reject": reason},
                        summary={"rejected": len(missing)},
                        description=f"Salesforce {obj}: {len(missing)} change(s) without {what}, not sent",
                    )
                )
        return batches

    # -- send ----------------------------------------------------------------------------------
    def _upsert(self, obj: str, ext: str, records: list[dict]) -> list[dict]:
        path = f"/composite/sobjects/{quote(obj)}/{quote(ext)}"
        response = self._request("PATCH", path, {"allOrNone": False, "records": records})
        results = response.json()
        if response.status != 200 or not isinstance(results, list) or len(results) != len(records):
            raise DeliveryError(
                self.name,
                f"Salesforce refused the {obj} upsert (HTTP {response.status}, {self._error_text(response)}). "
                f"Check {self.config_path('fields')} and the external id field {ext}.",
                retryable=False,
                status=response.status,
            )
        return [r if isinstance(r, dict) else {} for r in results]

    @staticmethod
    def _record_error(result: dict) -> str:
        errors = result.get("errors") or []
        text = "; ".join(
            f"{e.get('statusCode', '')}: {e.get('message', '')}"
            + (f" ({', '.join(e['fields'])})" if e.get("fields") else "")
            for e in errors
            if isinstance(e, dict)
        )
        return f"Salesforce refused it ({text[:300] or 'no reason given'})"

    def send(self, batch: Batch) -> Ack:
        payload = batch.payload
        if "reject" in payload:
            return Ack(rejected={c.change_id: payload["reject"] for c in batch.changes})
        obj, ext = payload["object"], payload["external_id_field"]
        records = payload["body"]["records"]
        level = "account" if batch.changes[0].level == "account" else "user"
        by_key: dict[str, list[str]] = {}
        for change in batch.changes:
            by_key.setdefault(self._key(level, change) or "", []).append(change.change_id)
        ack = Ack()
        created = updated = 0
        retry: list[dict] = []
        for record, result in zip(records, self._upsert(obj, ext, records)):
            key = record[ext]
            if result.get("success"):
                ack.delivered.extend(by_key.get(key, []))
                created += bool(result.get("created"))
                updated += not result.get("created")
            elif any(e.get("statusCode") == "REQUIRED_FIELD_MISSING" for e in result.get("errors") or []):
                retry.append({**record, **payload["on_create"].get(key, {})})  # new record: fill what create needs
            else:
                ack.rejected.update({cid: self._record_error(result) for cid in by_key.get(key, [])})
        if retry:
            try:
                results = self._upsert(obj, ext, retry)
            except DeliveryError:
                results = []  # those records stay pending; the others are acknowledged
            for record, result in zip(retry, results):
                key = record[ext]
                if result.get("success"):
                    ack.delivered.extend(by_key.get(key, []))
                    created += bool(result.get("created"))
                    updated += not result.get("created")
                else:
                    ack.rejected.update({cid: self._record_error(result) for cid in by_key.get(key, [])})
        rejected_records = len({k for k, ids in by_key.items() if ids and ids[0] in ack.rejected})
        batch.summary = {"created": created, "updated": updated, "rejected": rejected_records}
        return ack
