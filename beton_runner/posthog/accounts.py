"""Accounts from PostHog: a "company"-like group type, or a property such as company_domain."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

DEFAULT_ACCOUNT_PROPERTY = "company_domain"

# Group type names that mean "the customer account", best first.
_COMPANY_LIKE = (
    ("company", "companies"),
    ("organization", "organisation", "organizations", "organisations", "org", "orgs"),
    ("account", "accounts"),
    ("customer", "customers", "business", "businesses"),
    ("workspace", "workspaces", "tenant", "tenants"),
)
_DOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$")


@dataclass(frozen=True)
class AccountSource:
    """Where accounts come from in this run."""

    kind: str  # "group" or "property"
    group_type: str | None = None
    group_type_index: int | None = None
    property: str = DEFAULT_ACCOUNT_PROPERTY

    def describe(self) -> str:
        if self.kind == "group":
            return (
                f"PostHog group type '{self.group_type}' (index {self.group_type_index}; "
                f"events link by $group_{self.group_type_index})"
            )
        return f"the '{self.property}' property of persons and events"


def pick_group_type(group_types: list[dict[str, Any]], wanted: str | None = None) -> dict[str, Any] | None:
    """The group type that holds accounts: ``wanted`` by name if given, else the most
    company-like one, else ``None``."""

    def name(t: dict[str, Any]) -> str:
        return str(t.get("group_type") or "").strip().lower()

    usable = [
        t
        for t in group_types
        if name(t) and isinstance(t.get("group_type_index"), int) and 0 <= t["group_type_index"] < 5
    ]
    if wanted:
        for t in usable:
            if name(t) == wanted.strip().lower():
                return t
        return None
    for family in _COMPANY_LIKE:
        for t in sorted(usable, key=lambda t: t["group_type_index"]):
            if name(t) in family:
                return t
    return None


def with_group_key(properties: Any, column: str, key: Any) -> Any:
    """An event's properties with its group key under ``column`` (``$group_<index>``), as
    PostHog's own ingestion writes it; unchanged when the event has no key or already carries
    it. Text stays text (the key goes in front, nothing else is re-encoded); text that is not
    a JSON object is left alone."""
    if key is None or key == "":
        return properties
    key = str(key)
    if isinstance(properties, dict):
        return properties if column in properties else {column: key, **properties}
    if properties is None or (isinstance(properties, str) and not properties.strip()):
        return json.dumps({column: key})
    if not isinstance(properties, str):
        return properties
    if json.dumps(column) in properties:  # a key (or a whole value) "$group_N": already there
        return properties
    head, brace, rest = properties.partition("{")
    if head.strip() or not brace:
        return properties
    separator = "" if rest.strip() == "}" else ", "
    return "{" + json.dumps(column) + ": " + json.dumps(key) + separator + rest


def _first(props: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        value = props.get(key)
        if value not in (None, ""):
            return value
    return None


def _domain(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().lower()
    if "://" in text:
        text = urlsplit(text).netloc
    text = text.split("/")[0]
    if text.startswith("www."):
        text = text[4:]
    return text if _DOMAIN.match(text) else None


def group_to_account(key: Any, properties: Any) -> list[Any]:
    """One ``accounts`` row (account_id, name, domain, arr, segment, owner_email, properties)."""
    if isinstance(properties, str):
        try:
            props = json.loads(properties) if properties else {}
        except ValueError:
            props = {}
        text = properties
    else:
        props = properties if isinstance(properties, dict) else {}
        text = json.dumps(props)
    if not isinstance(props, dict):
        props = {}
    key = str(key)
    domain = (
        _domain(_first(props, "domain", "company_domain")) or _domain(_first(props, "website", "url")) or _domain(key)
    )
    arr = _first(props, "arr", "ARR", "annual_recurring_revenue")
    try:
        arr = float(arr) if arr is not None else None
    except (TypeError, ValueError):
        arr = None
    name = _first(props, "name", "company_name", "$name") or key
    segment = _first(props, "segment", "plan", "tier")
    owner = _first(props, "owner_email", "account_owner_email", "owner")
    return [
        key,
        str(name),
        domain,
        arr,
        None if segment is None else str(segment),
        None if owner is None else str(owner),
        text,
    ]
