"""The HubSpot destination against the local HubSpot stand-in (real HTTP): properties created once,
batch upserts within HubSpot's limits, one record per entity, safe resends, per-record
rejections, rate limits and faults, and no token in any message."""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import datetime, timedelta
from typing import Any

import jsonschema
import pytest
from changes import AS_OF, make_change

from beton_runner.deliver.base import Ack, DeliveryError
from beton_runner.deliver.destinations import KINDS
from beton_runner.deliver.destinations.hubspot import HubSpotDestination
from beton_runner.errors import ConfigError
from hubspot_server.fixture import hubspot_server, hubspot_server_session  # noqa: F401
from hubspot_server.server import Fault

WRONG_TOKEN = "pat-na1-wrong-secret-token-999"


def destination(server, env: dict | None = None, **settings: Any) -> HubSpotDestination:
    base = {"kind": "hubspot", "base_url": server.url, "http": {"budget": 8, "retries": 4, "read_timeout": 5}}
    base.update(settings)
    dest = KINDS["hubspot"]("hubspot", base, env if env is not None else {"BETON_HUBSPOT_TOKEN": server.token})
    dest.check()
    return dest


def deliver(dest: HubSpotDestination, changes) -> Ack:
    total = Ack()
    for batch in dest.plan(changes):
        ack = dest.send(batch)
        total.delivered.extend(ack.delivered)
        total.rejected.update(ack.rejected)
    return total


def user(i: int, **kw: Any):
    return make_change(level="user", entity_id=f"user-{i}", email=f"user{i}@example.com", name=f"User {i}", **kw)


def account(i: int, **kw: Any):
    return make_change(
        level="account", entity_id=f"acct-{i}", email=None, domain=f"company{i}.example", name=f"Company {i}", **kw
    )


def descriptions(schema: dict, path: str = "") -> list[str]:
    """Paths of properties that have no description."""
    missing = []
    for name, prop in (schema.get("properties") or {}).items():
        if "description" not in prop:
            missing.append(f"{path}.{name}")
        missing += descriptions(prop, f"{path}.{name}")
    return missing


def test_schema_is_valid_and_describes_every_setting():
    schema = HubSpotDestination.SCHEMA
    jsonschema.Draft202012Validator.check_schema(schema)
    assert descriptions(schema) == []
    example = {
        "kind": "hubspot",
        "token_env": "BETON_HUBSPOT_TOKEN",
        "rules": ["pql_*"],
        "changes": ["entered", "exited"],
        "companies": {"id_property": "beton_domain"},
        "contacts": {"id_property": "email"},
        "properties": {"best_score": "beton_best_score"},
        "rate_limit": {"requests": 190, "per_seconds": 10},
        "http": {"budget": 60, "retries": 3, "read_timeout": 30},
    }
    jsonschema.validate(example, schema, cls=jsonschema.Draft202012Validator)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**example, "batch_size": 101}, schema, cls=jsonschema.Draft202012Validator)


def test_check_names_the_missing_variable_and_refuses_domain_as_id(hubspot_server):
    with pytest.raises(ConfigError, match="BETON_HUBSPOT_TOKEN"):
        destination(hubspot_server, env={})
    with pytest.raises(ConfigError, match=r"destinations\.hubspot\.companies\.id_property.*not hold unique values"):
        destination(hubspot_server, companies={"id_property": "domain"})


def test_prepare_creates_the_group_and_properties_once(hubspot_server):
    destination(hubspot_server).prepare()
    for obj in ("companies", "contacts"):
        props = hubspot_server.properties[obj]
        for name, type_ in [
            ("beton_best_score", "number"),
            ("beton_rules", "string"),
            ("beton_entered_at", "datetime"),
            ("beton_last_change", "string"),
        ]:
            assert props[name]["type"] == type_ and props[name]["groupName"] == "beton"
        assert "beton" in hubspot_server.groups[obj]
    assert hubspot_server.properties["companies"]["beton_domain"]["hasUniqueValue"] is True
    assert "beton_domain" not in hubspot_server.properties["contacts"]

    hubspot_server.requests.clear()
    destination(hubspot_server).prepare()  # a second `beton deliver`
    assert [r.method for r in hubspot_server.requests] == ["GET", "GET"]  # read the properties, create nothing


def test_prepare_refuses_a_company_id_property_without_unique_values(hubspot_server):
    with pytest.raises(ConfigError, match="'name' does not hold unique values"):
        destination(hubspot_server, companies={"id_property": "name"}).prepare()


def test_250_entities_go_in_batches_of_at_most_100_and_are_stored_once(hubspot_server):
    dest = destination(hubspot_server)
    dest.prepare()
    users = [
        user(i, score=float(i), entity={"best_score": float(i), "rules": ["pql_b", "pql_a"], "entered_at": AS_OF})
        for i in range(250)
    ]
    accounts = [account(i) for i in range(30)]
    batches = dest.plan(users + accounts)
    assert [len(b.payload["inputs"]) for b in batches] == [30, 100, 100, 50]
    ack = deliver(dest, users + accounts)
    assert sorted(ack.delivered) == sorted(c.change_id for c in users + accounts) and ack.rejected == {}

    sizes = [len(r.body["inputs"]) for r in hubspot_server.upserts()]
    assert sizes == [30, 100, 100, 50] and max(sizes) <= 100
    assert len(hubspot_server.all_records("contacts")) == 250
    assert len(hubspot_server.all_records("companies")) == 30
    rec = hubspot_server.record("contacts", "user7@example.com")
    assert rec["beton_best_score"] == "7" and rec["beton_rules"] == "pql_a;pql_b"
    assert rec["beton_entered_at"] == "2026-10-01T12:00:00Z"
    assert rec["beton_last_change"] == "entered pql_power_users 2026-10-01"
    company = hubspot_server.record("companies", "company3.example")
    assert company["beton_domain"] == "company3.example" and company["beton_best_score"] == "87.5"
    # every request carried the token as Bearer
    assert {r.headers["Authorization"] for r in hubspot_server.upserts()} == {f"Bearer {hubspot_server.token}"}


def test_several_changes_of_one_entity_make_one_record_with_the_latest_state(hubspot_server):
    dest = destination(hubspot_server)
    dest.prepare()
    earlier = user(1, as_of=AS_OF - timedelta(days=7), rule_key="pql_a", score=50.0)
    later_a = user(
        1,
        rule_key="pql_a",
        change="exited",
        score=None,
        entity={"best_score": 90.0, "rules": ["pql_b"], "entered_at": AS_OF},
    )
    later_b = user(
        1, rule_key="pql_b", score=90.0, entity={"best_score": 90.0, "rules": ["pql_b"], "entered_at": AS_OF}
    )
    batches = dest.plan([earlier, later_a, later_b])
    assert len(batches) == 1 and len(batches[0].payload["inputs"]) == 1
    ack = dest.send(batches[0])
    assert sorted(ack.delivered) == sorted([earlier.change_id, later_a.change_id, later_b.change_id])
    rec = hubspot_server.record("contacts", "user1@example.com")
    assert rec["beton_best_score"] == "90" and rec["beton_rules"] == "pql_b"
    assert rec["beton_last_change"] == "entered pql_b, exited pql_a 2026-10-01"


def test_two_entities_sharing_an_email_are_one_input(hubspot_server):
    dest = destination(hubspot_server)
    dest.prepare()
    a = user(1)
    b = make_change(level="user", entity_id="user-99", email="USER1@example.com ")
    batches = dest.plan([a, b])
    assert len(batches[0].payload["inputs"]) == 1  # HubSpot refuses duplicate ids in one batch
    assert sorted(dest.send(batches[0]).delivered) == sorted([a.change_id, b.change_id])


def test_plan_is_deterministic(hubspot_server):
    dest = destination(hubspot_server)
    changes = [user(i) for i in range(120)] + [account(i) for i in range(3)]
    first = json.dumps([b.payload for b in dest.plan(changes)], sort_keys=True)
    again = json.dumps([b.payload for b in dest.plan(list(reversed(changes)))], sort_keys=True)
    assert first == json.dumps([b.payload for b in dest.plan(changes)], sort_keys=True)
    assert first == again


def test_resending_a_batch_leaves_the_same_records(hubspot_server):
    dest = destination(hubspot_server)
    dest.prepare()
    batches = dest.plan([user(i) for i in range(5)])
    assert dest.send(batches[0]).delivered
    assert batches[0].summary == {"created": 5, "updated": 0, "rejected": 0}
    before = sorted(hubspot_server.all_records("contacts"), key=lambda r: r["email"])
    ack = dest.send(batches[0])  # a crash after send, before the outbox recorded it
    assert len(ack.delivered) == 5
    assert batches[0].summary == {"created": 0, "updated": 5, "rejected": 0}
    assert sorted(hubspot_server.all_records("contacts"), key=lambda r: r["email"]) == before


def test_an_exit_clears_the_score_and_rules(hubspot_server):
    dest = destination(hubspot_server)
    dest.prepare()
    deliver(dest, [user(1)])
    deliver(dest, [user(1, change="exited", score=None, as_of=AS_OF + timedelta(days=7))])
    rec = hubspot_server.record("contacts", "user1@example.com")
    assert rec["beton_best_score"] == "" and rec["beton_rules"] == "" and rec["beton_entered_at"] == ""
    assert rec["beton_last_change"] == "exited pql_power_users 2026-10-08"


def test_per_record_rejections(hubspot_server):
    dest = destination(hubspot_server)
    dest.prepare()
    good, bad = user(1), make_change(level="user", entity_id="user-2", email="not-an-email")
    no_email = make_change(level="user", entity_id="user-3", email=None)
    ack = deliver(dest, [good, bad, no_email])
    assert ack.delivered == [good.change_id]
    assert "not-an-email is invalid" in ack.rejected[bad.change_id]
    assert "no email address" in ack.rejected[no_email.change_id]
    assert [r.status for r in hubspot_server.upserts()] == [207]  # the one without email was not sent
    assert hubspot_server.record("contacts", "not-an-email") is None


def test_429_retry_after_is_honoured(hubspot_server):
    dest = destination(hubspot_server)
    dest.prepare()
    hubspot_server.fail(Fault("status", status=429, retry_after=1))
    start = time.monotonic()
    ack = deliver(dest, [user(1)])
    assert time.monotonic() - start >= 1.0
    assert ack.delivered and [r.status for r in hubspot_server.upserts()] == [429, 200]
    retry_gap = hubspot_server.upserts()[1].at - hubspot_server.upserts()[0].at
    assert retry_gap >= 0.95


def test_requests_are_paced_under_the_burst_limit(hubspot_server):
    destination(hubspot_server).prepare()
    dest = destination(hubspot_server, batch_size=1, rate_limit={"requests": 3, "per_seconds": 1})
    hubspot_server.set_rate_limit(3, 1.0)
    start = time.monotonic()
    ack = deliver(dest, [user(i) for i in range(7)])
    assert len(ack.delivered) == 7
    assert hubspot_server.rate_limited == 0  # never over the limit
    assert time.monotonic() - start >= 2.0  # 3 + 3 + 1 requests over three windows


def test_remaining_zero_header_makes_the_next_request_wait(hubspot_server):
    dest = destination(hubspot_server, batch_size=1)  # paced for 100 / 10 s: too fast for this portal
    dest.prepare()
    hubspot_server.set_rate_limit(2, 1.0)
    ack = deliver(dest, [user(i) for i in range(4)])
    assert len(ack.delivered) == 4 and hubspot_server.rate_limited == 0


def test_the_documented_429_body_then_recovery(hubspot_server):
    dest = destination(hubspot_server)
    dest.prepare()
    hubspot_server.set_rate_limit(1, 1.0)
    # another app of the same account uses up the window
    req = urllib.request.Request(
        hubspot_server.url + "/crm/v3/properties/contacts", headers={"Authorization": f"Bearer {hubspot_server.token}"}
    )
    urllib.request.urlopen(req).read()
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req)
    body = json.loads(err.value.read())
    assert err.value.code == 429 and body["errorType"] == "RATE_LIMIT"
    assert body["policyName"] == "TEN_SECONDLY_ROLLING" and body["status"] == "error"
    assert err.value.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    ack = deliver(dest, [user(1)])  # 429 without Retry-After: backed off, then it goes
    assert ack.delivered and hubspot_server.rate_limited >= 2
    assert [r.status for r in hubspot_server.upserts()][-1] == 200


def test_5xx_and_a_dropped_connection_then_success(hubspot_server):
    dest = destination(hubspot_server)
    dest.prepare()
    hubspot_server.fail(Fault("status", status=500), Fault("drop"))
    ack = deliver(dest, [user(1)])
    assert ack.delivered
    assert [r.status for r in hubspot_server.upserts()] == [500, -1, 200]
    assert len(hubspot_server.all_records("contacts")) == 1


def test_a_hanging_answer_is_retried_after_the_read_timeout(hubspot_server):
    dest = destination(hubspot_server, http={"budget": 8, "retries": 3, "read_timeout": 0.5})
    dest.prepare()
    hubspot_server.fail(Fault("hang", delay=3))
    ack = deliver(dest, [user(1)])
    assert ack.delivered and len(hubspot_server.upserts()) == 2


def test_down_for_good_is_retryable_within_the_budget(hubspot_server):
    dest = destination(hubspot_server, http={"budget": 2, "retries": 10})
    dest.prepare()
    hubspot_server.fail(*[Fault("status", status=503) for _ in range(30)])
    start = time.monotonic()
    with pytest.raises(DeliveryError) as err:
        deliver(dest, [user(1)])
    assert err.value.retryable and time.monotonic() - start < 4
    assert "/crm/v3/objects/contacts/batch/upsert" in str(err.value)


def test_bad_token_is_not_retryable_and_never_shown(hubspot_server):
    dest = destination(hubspot_server, env={"BETON_HUBSPOT_TOKEN": WRONG_TOKEN})
    with pytest.raises(DeliveryError) as err:
        deliver(dest, [user(1)])
    assert err.value.retryable is False and err.value.status == 401
    message = str(err.value)
    assert "BETON_HUBSPOT_TOKEN" in message and WRONG_TOKEN not in message
    assert len(hubspot_server.upserts()) == 1  # not retried
    with pytest.raises(DeliveryError) as err:
        dest.prepare()
    assert WRONG_TOKEN not in str(err.value)
    # an expired token mid-run (401 from HubSpot) is said the same way
    good = destination(hubspot_server)
    hubspot_server.fail(Fault("status", status=401))
    with pytest.raises(DeliveryError, match="EXPIRED_AUTHENTICATION") as err:
        deliver(good, [user(2)])
    assert hubspot_server.token not in str(err.value)
    for text in (
        repr(dest),
        repr(good),
        *(b.description for b in good.plan([user(1)])),
        json.dumps([b.payload for b in good.plan([user(1)])]),
    ):
        assert WRONG_TOKEN not in text and hubspot_server.token not in text


def test_unknown_property_fails_the_batch_and_says_why(hubspot_server):
    dest = destination(hubspot_server)  # no prepare(): the properties do not exist
    with pytest.raises(DeliveryError) as err:
        deliver(dest, [user(1)])
    assert err.value.retryable is False and "does not exist" in str(err.value)


def test_stand_in_refuses_duplicate_ids_and_oversized_batches(hubspot_server):
    def post(body: dict) -> tuple[int, dict]:
        req = urllib.request.Request(
            hubspot_server.url + "/crm/v3/objects/contacts/batch/upsert",
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {hubspot_server.token}", "Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(req) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    one = {"idProperty": "email", "id": "a@example.com", "properties": {}}
    status, body = post({"inputs": [one, dict(one)]})
    assert status == 400 and body["category"] == "VALIDATION_ERROR" and "Duplicate IDs" in body["message"]
    status, body = post({"inputs": [{**one, "id": f"u{i}@example.com"} for i in range(101)]})
    assert status == 400 and body["category"] == "VALIDATION_ERROR"
    status, body = post({"inputs": [{"idProperty": "firstname", "id": "Ada", "properties": {}}]})
    assert status == 400 and "non-unique 0-1 property firstname" in body["message"]
    assert hubspot_server.all_records("contacts") == []


def test_iso_datetimes_with_timezones_are_utc(hubspot_server):
    from datetime import timezone

    dest = destination(hubspot_server)
    aware = datetime(2026, 10, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    batch = dest.plan([user(1, entity={"best_score": 1, "rules": ["r"], "entered_at": aware})])[0]
    assert batch.payload["inputs"][0]["properties"]["beton_entered_at"] == "2026-10-01T12:00:00Z"
