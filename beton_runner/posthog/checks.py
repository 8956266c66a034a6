"""`beton posthog test`: can we reach PostHog, is the key valid, is the project right, are the
scopes there? Each failure is explained in words a RevOps user can act on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from beton_runner.posthog import hogql
from beton_runner.posthog.accounts import DEFAULT_ACCOUNT_PROPERTY, pick_group_type
from beton_runner.posthog.client import (
    PostHogAccessError,
    PostHogClient,
    PostHogUnavailableError,
)
from beton_runner.posthog.ingest import _utc_now


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def run_checks(client: PostHogClient, account_property: str = DEFAULT_ACCOUNT_PROPERTY) -> list[Check]:
    cfg = client.config
    checks: list[Check] = []
    now = _utc_now()

    # 1. host + key + project + query:read, in one query.
    try:
        answer = client.query(
            hogql.events_count(now - timedelta(days=7), None, now), name="beton-inspector connection test"
        )
        events = int(answer.results[0][0]) if answer.results else 0
        checks.append(Check("Host", True, f"{cfg.host} answers"))
        checks.append(Check("API key", True, "accepted"))
        checks.append(Check("Project", True, f"project {cfg.project_id}: {events:,} events in the last 7 days"))
        checks.append(Check("Scope query:read", True, "can read events"))
    except PostHogUnavailableError as exc:
        label = "Host" if exc.kind in ("unreachable", "timeout") else "Query"
        checks.append(Check(label, False, str(exc)))
        return checks
    except PostHogAccessError as exc:
        if exc.kind in ("bad_key", "no_key"):
            checks.append(Check("Host", True, f"{cfg.host} answers"))
            checks.append(Check("API key", False, str(exc)))
            return checks
        if exc.kind == "wrong_project":
            checks.append(Check("Host", True, f"{cfg.host} answers"))
            checks.append(Check("API key", True, "accepted"))
            checks.append(Check("Project", False, str(exc)))
            return checks
        checks.append(Check("Host", True, f"{cfg.host} answers"))
        checks.append(Check("API key", True, "accepted"))
        checks.append(Check("Scope query:read", False, str(exc)))

    # 2. person:read
    try:
        client.persons_sample()
        checks.append(Check("Scope person:read", True, "can read persons"))
    except (PostHogAccessError, PostHogUnavailableError) as exc:
        checks.append(Check("Scope person:read", False, str(exc)))

    # 3. group:read, and where accounts will come from
    try:
        types = client.group_types()
        chosen = pick_group_type(types)
        if chosen is not None:
            where = (
                f"accounts will come from group type '{chosen['group_type']}', and events link to "
                f"them by their $group_{chosen['group_type_index']} key"
            )
        else:
            where = f"no company-like group type; accounts will come from the '{account_property}' property"
        checks.append(Check("Scope group:read", True, where))
    except (PostHogAccessError, PostHogUnavailableError) as exc:
        checks.append(Check("Scope group:read", False, str(exc)))
    return checks
