"""The Salesforce destination against the local Salesforce stand-in (real HTTP): sObject Collections
upserts within the 200-record limit, one record per entity, creates that fill the required fields
without overwriting existing ones, safe resends, per-record rejections, the documented error codes
and faults, and no token in any message."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import jsonschema
import pytest
from changes import AS_OF, make_change

from beton_runner.deliver.base import Ack, DeliveryError
from beton_runner.deliver.destinations import KINDS
from beton_runner.deliver.destinations.salesforce import SalesforceDestination
from beton_runner.errors import ConfigError
from salesforce_server.fixture import salesforce_server, salesforce_server_session  # noqa: F401
from salesforce_server.server import Fault

WRONG_TOKEN = "00D000000000001!AQ0AQWrongSecretToken999"


def env_for(server, token: str | None = None) -> dict[str, str]:
    return {"SALESFORCE_INSTANCE_URL": server.url, "SALESFORCE_ACCESS_TOKEN": token or server.token}


def destination(server, env: dict | None = None, **settings: Any) -> SalesforceDestination:
    base = {"kind": "salesforce", "http": {"budget": 8, "retries": 4, "read_timeout": 5}}
    base.update(settings)
    dest = KINDS["salesforce"]("salesforce", base, env if env is not None else env_for(server))
    dest.check()
    return dest


def deliver(dest: SalesforceDestination, changes) -> Ack:
    total = Ack()
    for batch in dest.plan(changes):
        ack = dest.send(batch)
        total.delivered.extend(ack.delivered)
        total.rejected.update(ack.rejected)
    return total


def user(i: int, **kw: Any):
    kw.setdefault("email", f"user{i}@example.com")
    return make_change(level="user", entity_id=f"user-{i}", name=f"Grace Hopper{i}", domain=f"co{i}.example", **kw)


def account(i: int, **kw: Any):
    kw.setdefault("name", f"Co {i}")
    return make_change(level="account", entity_id=f"acct-{i}", email=None, domain=f"co{i}.example", **kw)


def descriptions(schema: dict, path: str = "") -> list[str]:
    missing = []
    for name, prop in (schema.get("properties") or {}).items():
        if "description" not in prop:
            missing.append(f"{path}.{name}")
        missing += descriptions(prop, f"{path}.{name}")
    return missing


def test_schema_is_valid_and_describes_every_setting():
    schema = SalesforceDestination.SCHEMA
    jsonschema.Draft202012Validator.check_schema(schema)
    assert descriptions(schema) == []
    example = {
        "kind": "salesforce",
        "api_version": "v62.0",
        "account": {"object": "Account", "external_id_field": "Beton_Domain__c", "match": "domain"},
        "user": {"object": "Contact", "external_id_field": "Email", "match": "email"},
        "fields": {"best_score": "Beton_Score__c"},
        "rules": ["pqa_*"],
        "http": {"budget": 30},
    }
    jsonschema.validate(example, schema, cls=jsonschema.Draft202012Validator)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**example, "batch_size": 201}, schema, cls=jsonschema.Draft202012Validator)


def test_check_names_what_is_missing(salesforce_server):
    with pytest.raises(ConfigError, match="SALESFORCE_INSTANCE_URL"):
        destination(salesforce_server, env={"SALESFORCE_ACCESS_TOKEN": "x"})
    with pytest.raises(ConfigError, match="SALESFORCE_ACCESS_TOKEN"):
        destination(salesforce_server, env={"SALESFORCE_INSTANCE_URL": salesforce_server.url})
    with pytest.raises(ConfigError, match=r"destinations\.salesforce\.api_version"):
        destination(salesforce_server, api_version="v40.0")
    with pytest.raises(ConfigError, match="must use https"):
        destination(
            salesforce_server,
            env={**env_for(salesforce_server), "SALESFORCE_INSTANCE_URL": "http://acme.my.salesforce.com"},
        )


def test_prepare_checks_the_fields_exist(salesforce_server):
    destination(salesforce_server).prepare()  # the stand-in org has every field
    del salesforce_server.schema["Lead"]["Beton_Score__c"]
    salesforce_server.schema["Account"]["Beton_Domain__c"]["externalId"] = False
    salesforce_server.schema["Account"]["Beton_Domain__c"]["idLookup"] = False
    with pytest.raises(ConfigError, match="Beton_Domain__c exists but is not marked External ID"):
        destination(salesforce_server).prepare()
    salesforce_server.schema["Account"]["Beton_Domain__c"]["externalId"] = True
    with pytest.raises(ConfigError, match=r"Lead lacks fields Beton writes: Beton_Score__c \(Number"):
        destination(salesforce_server).prepare()


def test_250_new_leads_in_batches_of_at_most_200_with_required_fields_on_create(salesforce_server):
    dest = destination(salesforce_server)
    users = [
        user(i, entity={"best_score": float(i), "rules": ["pql_b", "pql_a"], "entered_at": AS_OF}) for i in range(250)
    ]
    batches = dest.plan(users)
    assert [len(b.payload["body"]["records"]) for b in batches] == [200, 50]
    ack = Ack()
    for batch in batches:
        got = dest.send(batch)
        ack.delivered += got.delivered
        ack.rejected.update(got.rejected)
    assert sorted(ack.delivered) == sorted(c.change_id for c in users) and ack.rejected == {}
    # first pass without Name/LastName/Company; the records that did not exist go again with them
    sizes = [len(r.body["records"]) for r in salesforce_server.upserts()]
    assert sizes == [200, 200, 50, 50] and max(sizes) <= 200
    assert [b.summary for b in batches] == [
        {"created": 200, "updated": 0, "rejected": 0},
        {"created": 50, "updated": 0, "rejected": 0},
    ]
    leads = salesforce_server.all_records("Lead")
    assert len(leads) == 250 and len({lead["Email"] for lead in leads}) == 250
    lead = salesforce_server.record("Lead", "Email", "user7@example.com")
    assert lead["Beton_Score__c"] == 7 and lead["Beton_Rules__c"] == "pql_a;pql_b"
    assert lead["Beton_Entered_At__c"] == "2026-10-01T12:00:00Z"
    assert lead["Beton_Last_Change__c"] == "entered pql_power_users 2026-10-01"
    assert (lead["FirstName"], lead["LastName"], lead["Company"]) == ("Grace", "Hopper7", "co7.example")
    first = salesforce_server.upserts()[0]
    assert first.method == "PATCH" and first.path == "/services/data/v62.0/composite/sobjects/Lead/Email"
    assert first.body["allOrNone"] is False and first.body["records"][0]["attributes"] == {"type": "Lead"}
    assert first.headers["Authorization"] == f"Bearer {salesforce_server.token}"


def test_existing_records_keep_their_names(salesforce_server):
    salesforce_server.seed("Lead", {"Email": "user1@example.com", "LastName": "Typed By Sales", "Company": "Acme Inc"})
    salesforce_server.seed("Account", {"Beton_Domain__c": "co1.example", "Name": "Co One (Sales' name)"})
    dest = destination(salesforce_server)
    batches = dest.plan([user(1), account(1)])
    for batch in batches:
        dest.send(batch)
        assert batch.summary == {"created": 0, "updated": 1, "rejected": 0}
    assert len(salesforce_server.upserts()) == 2  # one request each: nothing needed creating
    lead = salesforce_server.record("Lead", "Email", "user1@example.com")
    assert (lead["LastName"], lead["Company"], lead["Beton_Score__c"]) == ("Typed By Sales", "Acme Inc", 87.5)
    acct = salesforce_server.record("Account", "Beton_Domain__c", "co1.example")
    assert acct["Name"] == "Co One (Sales' name)" and acct["Beton_Rules__c"] == "pql_power_users"


def test_new_accounts_get_their_name(salesforce_server):
    ack = deliver(destination(salesforce_server), [account(1), account(2, name=None)])
    assert len(ack.delivered) == 2
    assert salesforce_server.record("Account", "Beton_Domain__c", "co1.example")["Name"] == "Co 1"
    assert salesforce_server.record("Account", "Beton_Domain__c", "co2.example")["Name"] == "co2.example"


def test_contacts_work_too(salesforce_server):
    dest = destination(salesforce_server, user={"object": "Contact"})
    ack = deliver(dest, [user(1)])
    assert ack.delivered and salesforce_server.record("Contact", "Email", "user1@example.com")["LastName"] == "Hopper1"
    assert salesforce_server.all_records("Lead") == []


def test_several_changes_of_one_entity_make_one_record_with_the_latest_state(salesforce_server):
    dest = destination(salesforce_server)
    earlier = user(1, as_of=AS_OF - timedelta(days=7), rule_key="pql_a", score=50.0)
    later = user(
        1, rule_key="pql_a", change="exited", score=None, entity={"best_score": None, "rules": [], "entered_at": None}
    )
    batches = dest.plan([earlier, later])
    assert len(batches) == 1 and len(batches[0].payload["body"]["records"]) == 1
    ack = dest.send(batches[0])
    assert sorted(ack.delivered) == sorted([earlier.change_id, later.change_id])
    lead = salesforce_server.record("Lead", "Email", "user1@example.com")
    assert lead["Beton_Score__c"] is None and lead["Beton_Rules__c"] is None and lead["Beton_Entered_At__c"] is None
    assert lead["Beton_Last_Change__c"] == "exited pql_a 2026-10-01"


def test_plan_is_deterministic(salesforce_server):
    dest = destination(salesforce_server)
    changes = [user(i) for i in range(210)] + [account(i) for i in range(3)]
    first = json.dumps([b.payload for b in dest.plan(changes)], sort_keys=True)
    assert first == json.dumps([b.payload for b in dest.plan(list(reversed(changes)))], sort_keys=True)


def test_resending_a_batch_leaves_the_same_records(salesforce_server):
    dest = destination(salesforce_server)
    batch = dest.plan([user(i) for i in range(5)] + [account(1)])[0]
    dest.send(batch)
    before = sorted(salesforce_server.all_records("Account") + salesforce_server.all_records("Lead"), key=str)
    ack = dest.send(batch)
    assert len(ack.delivered) == 1 and batch.summary == {"created": 0, "updated": 1, "rejected": 0}
    after = sorted(salesforce_server.all_records("Account") + salesforce_server.all_records("Lead"), key=str)
    assert after == before


def test_per_record_rejections(salesforce_server):
    salesforce_server.seed("Lead", {"Email": "twin@example.com", "LastName": "A", "Company": "X"})
    salesforce_server.seed("Lead", {"Email": "twin@example.com", "LastName": "B", "Company": "X"})
    good, twin = user(1), user(2, email="twin@example.com")
    bad_email, no_email = user(3, email="not-an-email"), user(4, email=None)
    ack = deliver(destination(salesforce_server), [good, twin, bad_email, no_email])
    assert ack.delivered == [good.change_id]
    assert "DUPLICATE_EXTERNAL_ID" in ack.rejected[twin.change_id]
    assert "matches more than one record" in ack.rejected[twin.change_id]
    assert "INVALID_EMAIL_ADDRESS" in ack.rejected[bad_email.change_id]
    assert "no email" in ack.rejected[no_email.change_id]
    assert all(rec["Email"] for r in salesforce_server.upserts() for rec in r.body["records"])  # no_email: not sent
    assert len(salesforce_server.find("Lead", "Email", "twin@example.com")) == 2  # nothing written to them


def test_bad_token_is_not_retryable_and_never_shown(salesforce_server):
    dest = destination(salesforce_server, env=env_for(salesforce_server, WRONG_TOKEN))
    with pytest.raises(DeliveryError) as err:
        deliver(dest, [user(1)])
    assert err.value.retryable is False and err.value.status == 401
    message = str(err.value)
    assert "SALESFORCE_ACCESS_TOKEN" in message and "INVALID_SESSION_ID" in message and WRONG_TOKEN not in message
    assert len(salesforce_server.upserts()) == 1  # not retried
    with pytest.raises(DeliveryError) as err:
        dest.prepare()
    assert WRONG_TOKEN not in str(err.value)
    good = destination(salesforce_server)
    for text in (
        repr(dest),
        repr(good),
        *(b.description for b in good.plan([user(1)])),
        json.dumps([b.payload for b in good.plan([user(1)])]),
    ):
        assert WRONG_TOKEN not in text and salesforce_server.token not in text


def test_daily_api_limit_is_retryable_and_says_so(salesforce_server):
    salesforce_server.api_limit = 0
    with pytest.raises(DeliveryError) as err:
        deliver(destination(salesforce_server), [user(1)])
    assert err.value.retryable is True and err.value.status == 403
    assert "REQUEST_LIMIT_EXCEEDED" in str(err.value) and "API request limit" in str(err.value)
    assert len(salesforce_server.upserts()) == 1


def test_503_server_unavailable_and_429_retry_after_then_success(salesforce_server):
    dest = destination(salesforce_server)
    salesforce_server.fail(Fault("status", status=503), Fault("status", status=429, retry_after=1))
    start = time.monotonic()
    ack = deliver(dest, [account(1)])
    assert ack.delivered and time.monotonic() - start >= 1.0
    statuses = [r.status for r in salesforce_server.upserts()]
    assert statuses[:3] == [503, 429, 200]
    gap = salesforce_server.upserts()[2].at - salesforce_server.upserts()[1].at
    assert gap >= 0.95  # the retry waited as asked


def test_a_dropped_connection_is_retried(salesforce_server):
    salesforce_server.fail(Fault("drop"))
    ack = deliver(destination(salesforce_server), [account(1)])
    assert ack.delivered and len(salesforce_server.all_records("Account")) == 1


def test_down_for_good_is_retryable_within_the_budget(salesforce_server):
    dest = destination(salesforce_server, http={"budget": 2, "retries": 10})
    salesforce_server.fail(*[Fault("status", status=503) for _ in range(30)])
    start = time.monotonic()
    with pytest.raises(DeliveryError) as err:
        deliver(dest, [user(1)])
    assert err.value.retryable and time.monotonic() - start < 4
    assert salesforce_server.token not in str(err.value)


def test_a_field_the_org_lacks_fails_the_batch_and_says_why(salesforce_server):
    dest = destination(salesforce_server, fields={"best_score": "Beton_Missing__c"})
    with pytest.raises(DeliveryError) as err:
        deliver(dest, [account(1)])
    assert err.value.retryable is False and "No such column 'Beton_Missing__c'" in str(err.value)


def test_stand_in_limits(salesforce_server):
    import urllib.request

    def patch(path: str, body: dict) -> tuple[int, Any]:
        req = urllib.request.Request(
            salesforce_server.url + path,
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {salesforce_server.token}", "Content-Type": "application/json"},
            method="PATCH",
        )
        try:
            with urllib.request.urlopen(req) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    rec = {"attributes": {"type": "Account"}, "Beton_Domain__c": "a.example", "Name": "A"}
    status, body = patch("/services/data/v62.0/composite/sobjects/Account/Beton_Domain__c", {"records": [rec] * 201})
    assert status == 400 and body[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    status, body = patch(
        "/services/data/v62.0/composite/sobjects/Account/Beton_Domain__c", {"records": [rec, dict(rec)]}
    )
    assert status == 200 and [r["errors"][0]["statusCode"] for r in body] == ["DUPLICATE_VALUE"] * 2
    status, body = patch("/services/data/v45.0/composite/sobjects/Account/Beton_Domain__c", {"records": [rec]})
    assert status == 404
    status, body = patch("/services/data/v62.0/composite/sobjects/Account/Name", {"records": [rec]})
    assert status == 200 and body[0]["success"]  # Name is an idLookup field on Account
    assert salesforce_server.all_records("Account")[0]["Name"] == "A"
