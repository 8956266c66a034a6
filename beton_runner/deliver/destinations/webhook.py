"""The generic webhook destination (``kind: webhook``): changes POSTed as signed JSON batches.

What a receiver gets
====================

One ``POST`` per batch of at most ``batch_size`` changes (default 100, at most 1000) to the URL in
``BETON_WEBHOOK_URL`` (or the variable named by ``url_env``), ``Content-Type: application/json``::

    {
      "type": "beton.changes",
      "destination": "crm_hook",                      # the destination's name in destinations.yml
      "idempotency_key": "9f2c…",                     # same as the Idempotency-Key header
      "changes": [
        {
          "change_id": "…", "idempotency_key": "…",   # one key per (destination, change)
          "as_of": "2026-10-01T12:00:00Z", "previous_as_of": "2026-09-24T12:00:00Z",
          "rule_key": "pql_power_users", "rule_name": "PQL: Power Users", "level": "user",
          "entity_id": "…", "change": "entered",      # entered | exited | stayed
          "score": 87.5, "previous_score": null, "rank": 3, "previous_rank": null,
          "first_entered_at": "2026-10-01T12:00:00Z", "days_on_list": 0,
          "name": "…", "email": "…", "domain": "…", "account_id": "…",
          "metrics": {"active_days": 12, "event_count": 340, …}
        }
      ]
    }

Datetimes are ISO 8601 in UTC with a ``Z``; absent values are ``null``. The body carries no send
time on purpose: a batch that is sent again (after a timeout, a 5xx or a killed run) is
byte-for-byte the same request, with the same signature and the same keys.

Headers:

* ``Idempotency-Key``: SHA-256 (hex) over the batch's change idempotency keys, one per line.
* ``X-Beton-Signature: sha256=<hex>``, only when the secret variable (``BETON_WEBHOOK_SECRET`` by
  default) is set: HMAC-SHA256 of the exact body bytes with the secret as key.

What a receiver must do
=======================

1. **Verify the signature** over the raw body bytes, before parsing them, in constant time::

       import hashlib, hmac

       def verify(secret: str, body: bytes, header: str | None) -> bool:
           expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
           return header is not None and hmac.compare_digest(expected, header)

   Answer 401 when it fails (Beton reports it as a configuration error and does not retry).

2. **Deduplicate.** Beton delivers at least once: a run killed after the receiver took a batch
   but before Beton recorded it sends the same changes again. Keep the ``idempotency_key`` of
   every change you processed (for at least as long as you keep the data) and skip changes whose
   key you have seen; the per-change key is the reliable one, because after a partial failure the
   same change can travel in a differently composed batch. The ``Idempotency-Key`` header
   identifies a whole batch: a receiver that keeps those may answer a repeat with 200 (or 409
   Conflict — Beton counts a 409 as delivered, since it means "I already have this").

3. **Answer** 2xx once the batch is stored: every change in it counts as delivered. To refuse
   individual changes for good (e.g. a record your system cannot take), answer 2xx with
   ``{"rejected": {"<change_id>": "reason", …}}``: those are recorded as rejected with your reason
   and not sent again; the others count as delivered.

   Errors: 408, 429 and 5xx are temporary (Beton retries with backoff, honouring
   ``Retry-After``, then leaves the batch pending for the next ``beton deliver``); any other 4xx
   is permanent for this configuration (wrong URL, wrong secret, payload refused) and is reported
   as such. Redirects are not followed: configure the final URL.

Settings (``destinations.yml``)::

    destinations:
      crm_hook:
        kind: webhook
        url_env: BETON_WEBHOOK_URL          # default
        secret_env: BETON_WEBHOOK_SECRET    # default; signing is on when the variable is set
        batch_size: 100
        rules: ["pql_*"]
        changes: [entered, exited]
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from beton_runner.deliver.base import CHANGE_KINDS, Ack, Batch, Change, DeliveryError, Destination
from beton_runner.deliver.destinations import register
from beton_runner.deliver.destinations.common import (
    ENV_NAME,
    check_url,
    common_schema,
    env_name,
    iso_z,
    json_value,
    scrub,
)
from beton_runner.deliver.http import Response
from beton_runner.errors import ConfigError

DEFAULT_URL_ENV = "BETON_WEBHOOK_URL"
DEFAULT_SECRET_ENV = "BETON_WEBHOOK_SECRET"
DEFAULT_BATCH_SIZE = 100
MAX_BATCH_SIZE = 1000


# -- the webhook destination ------------------------------------------------------------------------


def change_record(change: Change, destination: str) -> dict[str, Any]:
    """One change as the receiver sees it (field order fixed; metrics sorted by name)."""
    return {
        "change_id": change.change_id,
        "idempotency_key": change.idempotency_key(destination),
        "as_of": iso_z(change.as_of),
        "previous_as_of": iso_z(change.previous_as_of),
        "rule_key": change.rule_key,
        "rule_name": change.rule_name,
        "level": change.level,
        "entity_id": change.entity_id,
        "change": change.change,
        "score": json_value(change.score),
        "previous_score": json_value(change.previous_score),
        "rank": json_value(change.rank),
        "previous_rank": json_value(change.previous_rank),
        "first_entered_at": iso_z(change.first_entered_at),
        "days_on_list": json_value(change.days_on_list),
        "name": change.name,
        "email": change.email,
        "domain": change.domain,
        "account_id": change.account_id,
        "metrics": {str(k): json_value(v) for k, v in sorted(change.metrics.items(), key=lambda kv: str(kv[0]))},
    }


def body_bytes(payload: Mapping[str, Any]) -> bytes:
    """The exact bytes sent and signed: compact JSON, UTF-8, key order as built."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def batch_key(keys: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


@register
class WebhookDestination(Destination):
    """POST batches of changes to a URL, signed when a secret is set."""

    kind = "webhook"
    default_changes = ("entered", "exited")

    SCHEMA: ClassVar[dict[str, Any]] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Generic webhook destination",
        "description": "POSTs batches of changes as JSON, signed with HMAC-SHA256 when a secret is set.",
        "type": "object",
        "required": ["kind"],
        "additionalProperties": False,
        "properties": {
            **common_schema("webhook", ("entered", "exited")),
            "url_env": {
                "type": "string",
                "pattern": ENV_NAME.pattern,
                "default": DEFAULT_URL_ENV,
                "description": "The environment variable holding the receiver's URL (a secret: never in this file).",
            },
            "secret_env": {
                "type": "string",
                "pattern": ENV_NAME.pattern,
                "default": DEFAULT_SECRET_ENV,
                "description": "The environment variable holding the signing secret. Bodies are signed "
                "(X-Beton-Signature: sha256=<HMAC-SHA256 of the body>) when it is set; naming it here "
                "makes it required.",
            },
            "batch_size": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_BATCH_SIZE,
                "default": DEFAULT_BATCH_SIZE,
                "description": "Changes per request (1 to 1000; default 100).",
            },
        },
    }

    def __init__(self, name: str, settings: Mapping[str, Any], env: Mapping[str, str]):
        super().__init__(name, settings, env)

    def __repr__(self) -> str:
        return f"WebhookDestination(name={self.name!r})"  # settings may hold a mistakenly pasted URL

    # -- settings -------------------------------------------------------------------------------

    @property
    def url_env(self) -> str:
        return env_name(self.name, self.settings, "url_env", DEFAULT_URL_ENV)

    @property
    def secret_env(self) -> str:
        return env_name(self.name, self.settings, "secret_env", DEFAULT_SECRET_ENV)

    @property
    def label(self) -> str:
        """How messages name the receiver: its URL can carry a token, so never the URL."""
        return f"webhook ({self.url_env})"

    @property
    def batch_size(self) -> int:
        return int(self.settings.get("batch_size", DEFAULT_BATCH_SIZE))

    def _secret(self) -> str | None:
        return self.env.get(self.secret_env) or None

    def check(self) -> None:
        check_url(self.name, self.url_env, self.env.get(self.url_env), "receiver's URL (https://…)")
        if "secret_env" in self.settings and not self._secret():
            raise ConfigError(
                f"{self.name}: the environment variable {self.secret_env} (destinations.yml: "
                f"destinations.{self.name}.secret_env) is not set; set it to the signing secret the receiver "
                "verifies, or remove secret_env to send unsigned."
            )
        size = self.settings.get("batch_size", DEFAULT_BATCH_SIZE)
        if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_BATCH_SIZE:
            raise ConfigError(
                f"destinations.yml: destinations.{self.name}.batch_size must be a whole number from 1 to "
                f"{MAX_BATCH_SIZE}."
            )

    # -- plan and send --------------------------------------------------------------------------

    def plan(self, changes: Sequence[Change]) -> list[Batch]:
        batches = []
        size = self.batch_size
        for start in range(0, len(changes), size):
            chunk = list(changes[start : start + size])
            records = [change_record(c, self.name) for c in chunk]
            key = batch_key([r["idempotency_key"] for r in records])
            payload = {"type": "beton.changes", "destination": self.name, "idempotency_key": key, "changes": records}
            kinds = {k: sum(1 for c in chunk if c.change == k) for k in CHANGE_KINDS}
            detail = ", ".join(f"{n} {k}" for k, n in kinds.items() if n)
            batches.append(
                Batch(
                    changes=chunk,
                    payload=payload,
                    summary={"requests": 1, "changes": len(chunk)},
                    description=f"POST {len(chunk)} change(s) ({detail}) to {self.label}",
                )
            )
        return batches

    def request_for(self, batch: Batch) -> tuple[bytes, dict[str, str]]:
        """The exact body and headers of a batch: the same on every attempt."""
        body = body_bytes(batch.payload)
        headers = {"Idempotency-Key": batch.payload["idempotency_key"]}
        secret = self._secret()
        if secret:
            headers["X-Beton-Signature"] = signature(secret, body)
        return body, headers

    def send(self, batch: Batch) -> Ack:
        url = (self.env.get(self.url_env) or "").strip()
        if not url:
            raise DeliveryError(self.name, f"the environment variable {self.url_env} is not set", retryable=False)
        body, headers = self.request_for(batch)
        response = self.http.request(
            "POST",
            url,
            raw=body,
            headers=headers,
            label=self.label,
            # 4xx answers are read here (to say what they mean); 429 and 5xx are retried by the layer.
            ok=lambda status: status < 500 and status != 429,
        )
        ids = [c.change_id for c in batch.changes]
        if 200 <= response.status < 300:
            rejected = self._rejected(response, set(ids))
            return Ack(delivered=[i for i in ids if i not in rejected], rejected=rejected)
        if response.status == 409:  # the receiver already has this Idempotency-Key
            return Ack(delivered=ids)
        raise self._error(response, url)

    def _rejected(self, response: Response, ids: set[str]) -> dict[str, str]:
        """Per-change refusals a receiver may list in a 2xx answer (see the module docstring)."""
        answer = response.json()
        if not isinstance(answer, dict) or not isinstance(answer.get("rejected"), dict):
            return {}
        secrets = [self.env.get(self.url_env), self._secret()]
        return {
            str(cid): scrub(str(reason), secrets)[:500] or "rejected by the receiver"
            for cid, reason in sorted(answer["rejected"].items())
            if str(cid) in ids
        }

    def _error(self, response: Response, url: str) -> DeliveryError:
        status = response.status
        detail = scrub(response.text.strip(), [url, self._secret()])[:200]
        said = f" It said: {detail}" if detail else ""
        if status == 408:
            return DeliveryError(
                self.name,
                f"{self.label} timed out reading the request (HTTP 408). It stays pending and is sent on the "
                "next `beton deliver`.",
                retryable=True,
                status=status,
            )
        if 300 <= status < 400:
            what = (
                f"{self.label} answered with a redirect (HTTP {status}); redirects are not followed. "
                f"Set {self.url_env} to the final URL."
            )
        elif status in (401, 403):
            what = (
                f"{self.label} refused the request (HTTP {status}): the signature or credentials were not "
                f"accepted. Check that {self.secret_env} holds the secret the receiver verifies with.{said}"
            )
        elif status in (404, 405, 410):
            what = f"{self.label} has no endpoint there (HTTP {status}). Check the URL in {self.url_env}.{said}"
        elif status == 413:
            what = (
                f"{self.label} found the request too large (HTTP 413). Lower "
                f"destinations.{self.name}.batch_size (now {self.batch_size})."
            )
        else:
            what = f"{self.label} refused the batch (HTTP {status}).{said}"
        return DeliveryError(self.name, what, retryable=False, status=status)
