"""What every destination module shares: the settings keys every destination accepts (and their
JSON Schema), the ``http:`` settings, environment-variable names and secret URLs, and JSON values
(ISO 8601 instants in UTC with Z)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from beton_runner.deliver.base import CHANGE_KINDS
from beton_runner.deliver.http import HttpSettings
from beton_runner.errors import ConfigError

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def common_schema(kind: str, default_changes: Sequence[str] = ("entered", "exited")) -> dict[str, Any]:
    """The JSON Schema properties every destination accepts (``kind``, ``rules``, ``changes``,
    ``enabled``, ``http``)."""
    return {
        "kind": {"const": kind, "description": f"The destination kind: `{kind}`."},
        "rules": {
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "description": "Glob patterns on rule keys (e.g. `pql_*`) whose changes go here. Default: every rule.",
        },
        "changes": {
            "type": "array",
            "items": {"enum": list(CHANGE_KINDS)},
            "uniqueItems": True,
            "minItems": 1,
            "description": f"Which changes to send. Default: {', '.join(default_changes)}.",
        },
        "enabled": {"type": "boolean", "description": "Set to false to skip this destination. Default: true."},
        "http": {
            "type": "object",
            "additionalProperties": False,
            "description": "How hard to try before leaving a batch pending for the next `beton deliver`.",
            "properties": {
                "budget": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "description": "Seconds one request may spend across its retries (default 180).",
                },
                "retries": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "Retries of a request on 429, 5xx, timeouts and dropped connections (default 6).",
                },
                "read_timeout": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "description": "Seconds to wait for an answer before retrying (default 60).",
                },
            },
        },
    }


def http_settings(settings: Mapping[str, Any]) -> HttpSettings:
    """``http:`` in destinations.yml onto the HTTP layer's settings."""
    http = settings.get("http") or {}
    base = HttpSettings()
    return HttpSettings(
        connect_timeout=base.connect_timeout,
        read_timeout=float(http.get("read_timeout", base.read_timeout)),
        retries=int(http.get("retries", base.retries)),
        backoff_factor=base.backoff_factor,
        backoff_max=base.backoff_max,
        max_retry_after=base.max_retry_after,
        budget=float(http.get("budget", base.budget)),
    )


def env_name(destination: str, settings: Mapping[str, Any], key: str, default: str) -> str:
    """The environment variable a setting names, checked to look like one (a URL pasted into
    ``url_env`` must not end up echoed in an error)."""
    name = settings.get(key, default)
    if not isinstance(name, str) or not ENV_NAME.match(name):
        raise ConfigError(
            f"destinations.yml: destinations.{destination}.{key} must name an environment variable "
            f"(letters, digits and _), e.g. {default}; put the value itself in that variable, not in the file."
        )
    return name


def check_url(destination: str, variable: str, url: str | None, what: str) -> None:
    """A secret URL from the environment: present and http(s) with a host. Never echoed."""
    if not url or not url.strip():
        raise ConfigError(
            f"{destination}: the environment variable {variable} is not set; set it to the {what} "
            f"(see destinations.yml: destinations.{destination})."
        )
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{destination}: the environment variable {variable} does not hold an http(s) URL; set it to the {what}."
        )


def iso_z(value: datetime | date | None) -> str | None:
    """ISO 8601 in UTC with Z (naive datetimes are UTC, as everywhere in Beton)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value.isoformat() + "Z"
    return value.isoformat()


def json_value(value: Any) -> Any:
    """A metric value as JSON: numbers stay numbers, datetimes become ISO strings."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, Decimal):
        return json_value(float(value))
    if isinstance(value, (datetime, date)):
        return iso_z(value)
    if hasattr(value, "item"):  # numpy scalars from pandas frames
        return json_value(value.item())
    return str(value)


def scrub(text: str, secrets: Sequence[str | None]) -> str:
    """Remove secret values from text read back from a receiver before it goes into a message."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
            path = urlsplit(secret).path if "://" in secret else ""
            if len(path) > 1:
                text = text.replace(path, "/***")
    return text
