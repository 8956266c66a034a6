"""The generic webhook destination against a local receiver over real HTTP: the payload a receiver
gets, the signature it verifies, deduplication by idempotency key, and what each failure means."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from changes import AS_OF, PREVIOUS_AS_OF, make_change

from beton_runner.deliver.base import DeliveryError
from beton_runner.deliver.destinations import KINDS
from beton_runner.deliver.destinations.webhook import WebhookDestination
from beton_runner.errors import ConfigError
from webhook_receiver.fixture import Fault, WebhookReceiver, webhook_receiver, webhook_receiver_session  # noqa: F401

SECRET = "whsec-T0psecret-value"
FAST = {"budget": 4, "retries": 4, "read_timeout": 2}


def destination(receiver: WebhookReceiver, secret: str | None = None, **settings) -> WebhookDestination:
    env = {"BETON_WEBHOOK_URL": receiver.url}
    if secret is not None:
        env["BETON_WEBHOOK_SECRET"] = secret
    return WebhookDestination("crm_hook", {"kind": "webhook", "http": FAST, **settings}, env)


def users(n: int, **overrides) -> list:
    return [
        make_change(
            change_id=f"c{i:04d}",
            entity_id=f"user-{i}",
            rank=i + 1,
            name=f"User {i}",
            email=f"u{i}@example.com",
            **overrides,
        )
        for i in range(n)
    ]


def assert_no_secret(text: str, receiver: WebhookReceiver) -> None:
    assert receiver.token not in text
    assert SECRET not in text
    assert receiver.url not in text


def test_registered_under_its_kind():
    assert KINDS["webhook"] is WebhookDestination
    assert WebhookDestination.default_changes == ("entered", "exited")


def test_plan_splits_into_batches_and_each_change_carries_the_documented_fields(webhook_receiver):
    changes = users(250)
    batches = destination(webhook_receiver, batch_size=100).plan(changes)

    assert [len(b.changes) for b in batches] == [100, 100, 50]
    assert [c.change_id for b in batches for c in b.changes] == [c.change_id for c in changes]
    payload = batches[0].payload
    assert payload["type"] == "beton.changes"
    assert payload["destination"] == "crm_hook"
    assert "sent_at" not in payload
    first = payload["changes"][0]
    assert first == {
        "change_id": "c0000",
        "idempotency_key": changes[0].idempotency_key("crm_hook"),
        "as_of": "2026-10-01T12:00:00Z",
        "previous_as_of": "2026-09-24T12:00:00Z",
        "rule_key": "pql_power_users",
        "rule_name": "Power users",
        "level": "user",
        "entity_id": "user-0",
        "change": "entered",
        "score": 87.5,
        "previous_score": None,
        "rank": 1,
        "previous_rank": None,
        "first_entered_at": "2026-10-01T12:00:00Z",
        "days_on_list": 0,
        "name": "User 0",
        "email": "u0@example.com",
        "domain": "example.com",
        "account_id": "acct-1",
        "metrics": {"active_days": 9, "event_count": 42},
    }
    assert batches[0].summary == {"requests": 1, "changes": 100}
    assert "100 change(s) (100 entered)" in batches[0].description


def test_plan_is_deterministic_to_the_byte(webhook_receiver):
    changes = users(30, metrics={"event_count": 5, "last_seen": AS_OF, "active_days": 2})
    one = destination(webhook_receiver, secret=SECRET, batch_size=7)
    two = destination(webhook_receiver, secret=SECRET, batch_size=7)
    requests_one = [one.request_for(b) for b in one.plan(changes)]
    requests_two = [two.request_for(b) for b in two.plan(changes)]
    assert requests_one == requests_two
    body, headers = requests_one[0]
    keys = [c.idempotency_key("crm_hook") for c in changes[:7]]
    assert headers["Idempotency-Key"] == hashlib.sha256("\n".join(keys).encode()).hexdigest()
    assert json.loads(body)["changes"][0]["metrics"]["last_seen"] == "2026-10-01T12:00:00Z"


def test_signed_batches_are_verified_and_stored_by_the_receiver(webhook_receiver):
    webhook_receiver.secret = SECRET
    dest = destination(webhook_receiver, secret=SECRET, batch_size=3)
    changes = users(5) + [
        make_change(change_id="x1", entity_id="user-9", change="exited", score=None, rank=None, previous_rank=4)
    ]
    acks = [dest.send(b) for b in dest.plan(changes)]

    assert [a.delivered for a in acks] == [["c0000", "c0001", "c0002"], ["c0003", "c0004", "x1"]]
    assert webhook_receiver.bad_signatures == 0
    assert [c["change_id"] for c in webhook_receiver.changes] == [c.change_id for c in changes]
    exited = webhook_receiver.changes[-1]
    assert (exited["change"], exited["rank"], exited["previous_rank"]) == ("exited", None, 4)
    stored = webhook_receiver.batches[0]
    expected = "sha256=" + hmac.new(SECRET.encode(), stored.raw, hashlib.sha256).hexdigest()
    assert stored.headers["X-Beton-Signature"] == expected
    assert stored.headers["Content-Type"] == "application/json"
    assert stored.body["idempotency_key"] == stored.headers["Idempotency-Key"]


def test_without_a_secret_batches_go_unsigned(webhook_receiver):
    dest = destination(webhook_receiver)
    dest.check()  # the default secret variable is optional
    dest.send(dest.plan(users(2))[0])
    assert "X-Beton-Signature" not in webhook_receiver.batches[0].headers


def test_a_wrong_secret_is_not_retried_and_the_message_says_which_variable(webhook_receiver):
    webhook_receiver.secret = "the-receivers-secret"
    dest = destination(webhook_receiver, secret=SECRET)
    with pytest.raises(DeliveryError) as info:
        dest.send(dest.plan(users(2))[0])
    assert info.value.retryable is False and info.value.status == 401
    assert "BETON_WEBHOOK_SECRET" in str(info.value)
    assert len(webhook_receiver.requests) == 1
    assert_no_secret(str(info.value), webhook_receiver)


def test_retry_after_is_waited_out_and_the_retry_is_byte_identical(webhook_receiver):
    webhook_receiver.secret = SECRET
    webhook_receiver.faults = [Fault(status=429, retry_after=1)]
    dest = destination(webhook_receiver, secret=SECRET)
    started = time.monotonic()
    ack = dest.send(dest.plan(users(3))[0])
    elapsed = time.monotonic() - started

    assert ack.delivered == ["c0000", "c0001", "c0002"]
    assert elapsed >= 1.0
    first, retry = webhook_receiver.requests
    assert (first.status, retry.status) == (429, 200)
    assert retry.at - first.at >= 1.0
    assert first.raw == retry.raw
    assert first.headers["X-Beton-Signature"] == retry.headers["X-Beton-Signature"]
    assert first.headers["Idempotency-Key"] == retry.headers["Idempotency-Key"]


def test_server_errors_and_a_dropped_connection_are_retried(webhook_receiver):
    webhook_receiver.faults = [Fault(status=503), Fault(kind="drop")]
    dest = destination(webhook_receiver)
    ack = dest.send(dest.plan(users(2))[0])
    assert ack.delivered == ["c0000", "c0001"]
    assert [r.status for r in webhook_receiver.requests] == [503, None, 200]
    assert len(webhook_receiver.batches) == 1


def test_a_hanging_receiver_times_out_and_is_retried(webhook_receiver):
    webhook_receiver.faults = [Fault(kind="hang", delay=5)]
    dest = destination(webhook_receiver, http={"budget": 4, "retries": 3, "read_timeout": 0.5})
    started = time.monotonic()
    ack = dest.send(dest.plan(users(1))[0])
    assert ack.delivered == ["c0000"]
    assert time.monotonic() - started < 3
    assert len(webhook_receiver.requests) == 2


def test_a_receiver_down_for_good_fails_retryable_within_the_budget(webhook_receiver):
    webhook_receiver.down = 503
    dest = destination(webhook_receiver, http={"budget": 1.5, "retries": 10, "read_timeout": 1})
    started = time.monotonic()
    with pytest.raises(DeliveryError) as info:
        dest.send(dest.plan(users(2))[0])
    assert time.monotonic() - started < 3
    assert info.value.retryable is True
    assert len(webhook_receiver.requests) >= 2
    assert "webhook (BETON_WEBHOOK_URL)" in str(info.value)
    assert_no_secret(str(info.value), webhook_receiver)


def test_408_is_temporary_and_other_4xx_are_not(webhook_receiver):
    dest = destination(webhook_receiver)
    batch = dest.plan(users(1))[0]
    webhook_receiver.faults = [Fault(status=408)]
    with pytest.raises(DeliveryError) as info:
        dest.send(batch)
    assert info.value.retryable is True and info.value.status == 408
    webhook_receiver.faults = [Fault(status=413)]
    with pytest.raises(DeliveryError) as info:
        dest.send(batch)
    assert info.value.retryable is False and "batch_size" in str(info.value)
    webhook_receiver.faults = [Fault(status=422)]
    with pytest.raises(DeliveryError) as info:
        dest.send(batch)
    assert info.value.retryable is False and "HTTP 422" in str(info.value)


def test_a_wrong_url_is_not_retried_and_not_echoed(webhook_receiver):
    dest = WebhookDestination(
        "crm_hook",
        {"kind": "webhook", "http": FAST},
        {"BETON_WEBHOOK_URL": webhook_receiver.url.replace(webhook_receiver.token, "wrong-t0ken-YYYY")},
    )
    with pytest.raises(DeliveryError) as info:
        dest.send(dest.plan(users(1))[0])
    assert info.value.retryable is False and info.value.status == 404
    assert "BETON_WEBHOOK_URL" in str(info.value)
    assert "wrong-t0ken-YYYY" not in str(info.value)


def test_a_batch_sent_again_after_a_kill_is_deduplicated_by_the_receiver(webhook_receiver):
    webhook_receiver.secret = SECRET
    changes = users(4)
    first_run = destination(webhook_receiver, secret=SECRET)
    assert first_run.send(first_run.plan(changes)[0]).delivered == [c.change_id for c in changes]
    # The run is killed before the outbox records the batch; the next run plans and sends it again.
    next_run = destination(webhook_receiver, secret=SECRET)
    assert next_run.send(next_run.plan(changes)[0]).delivered == [c.change_id for c in changes]
    assert len(webhook_receiver.batches) == 1
    assert webhook_receiver.duplicates == 1
    assert webhook_receiver.requests[0].raw == webhook_receiver.requests[1].raw


def test_409_conflict_from_a_receiver_that_has_the_key_counts_as_delivered(webhook_receiver):
    webhook_receiver.duplicate_status = 409
    dest = destination(webhook_receiver)
    batch = dest.plan(users(2))[0]
    dest.send(batch)
    ack = dest.send(batch)
    assert ack.delivered == ["c0000", "c0001"] and ack.rejected == {}
    assert webhook_receiver.requests[-1].status == 409


def test_changes_the_receiver_refuses_for_good_are_rejected_with_its_reason(webhook_receiver):
    webhook_receiver.reject = {"user-1": "unknown contact in our CRM"}
    dest = destination(webhook_receiver)
    ack = dest.send(dest.plan(users(3))[0])
    assert ack.delivered == ["c0000", "c0002"]
    assert ack.rejected == {"c0001": "unknown contact in our CRM"}


def test_check_names_the_variable_and_never_echoes_values():
    with pytest.raises(ConfigError, match="BETON_WEBHOOK_URL is not set"):
        WebhookDestination("crm_hook", {"kind": "webhook"}, {}).check()
    with pytest.raises(ConfigError, match="MY_SECRET") as info:
        WebhookDestination(
            "crm_hook", {"kind": "webhook", "secret_env": "MY_SECRET"}, {"BETON_WEBHOOK_URL": "https://h.example/x"}
        ).check()
    assert "destinations.crm_hook.secret_env" in str(info.value)
    with pytest.raises(ConfigError) as info:
        WebhookDestination(
            "crm_hook", {"kind": "webhook"}, {"BETON_WEBHOOK_URL": "ftp://user:pw-s3cret@h.example/x"}
        ).check()
    assert "pw-s3cret" not in str(info.value) and "BETON_WEBHOOK_URL" in str(info.value)
    pasted = "https://hooks.example.com/T0ken-in-path"
    with pytest.raises(ConfigError) as info:
        WebhookDestination("crm_hook", {"kind": "webhook", "url_env": pasted}, {}).check()
    assert "T0ken-in-path" not in str(info.value) and "destinations.crm_hook.url_env" in str(info.value)
    with pytest.raises(ConfigError, match="batch_size"):
        WebhookDestination(
            "crm_hook", {"kind": "webhook", "batch_size": 5000}, {"BETON_WEBHOOK_URL": "https://h.example/x"}
        ).check()


def test_no_secret_in_repr_descriptions_or_summaries(webhook_receiver):
    dest = destination(webhook_receiver, secret=SECRET)
    dest.check()
    batch = dest.plan(users(2, previous_as_of=PREVIOUS_AS_OF))[0]
    for text in (repr(dest), batch.description, json.dumps(batch.summary)):
        assert_no_secret(text, webhook_receiver)
    assert "BETON_WEBHOOK_URL" in batch.description


def test_schema_describes_every_property():
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(WebhookDestination.SCHEMA)
    validator = jsonschema.Draft202012Validator(WebhookDestination.SCHEMA)

    def walk(schema):
        for name, prop in schema.get("properties", {}).items():
            assert prop.get("description"), name
            walk(prop)

    walk(WebhookDestination.SCHEMA)
    good = {"kind": "webhook", "batch_size": 50, "rules": ["pql_*"], "changes": ["entered"], "http": {"budget": 30}}
    assert not list(validator.iter_errors(good))
    assert list(validator.iter_errors({"kind": "webhook", "batch_size": 1001}))
    assert list(validator.iter_errors({"kind": "webhook", "url": "https://x"}))
