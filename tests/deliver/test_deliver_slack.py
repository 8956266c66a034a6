"""The Slack destination against the local incoming-webhook stand-in over real HTTP: the messages
people see, Slack's limits and escaping, the rate limit, and what each failure means."""

from __future__ import annotations

import json
import random
import re
import time

import pytest
from changes import make_change

from beton_runner.deliver.base import Batch, DeliveryError
from beton_runner.deliver.destinations import KINDS
from beton_runner.deliver.destinations.slack import SlackDestination
from beton_runner.errors import ConfigError
from slack_server.fixture import Fault, SlackTestServer, slack_server, slack_server_session  # noqa: F401

FAST = {"budget": 4, "retries": 4, "read_timeout": 2}
METRICS = {"event_count": 1340, "active_days": 12, "days_since_last_event": 2, "active_users": 3}


def destination(server: SlackTestServer, **settings) -> SlackDestination:
    settings = {"kind": "slack", "http": FAST, "send_interval": 0, **settings}
    return SlackDestination("sales", settings, {"BETON_SLACK_WEBHOOK_URL": server.webhook_url})


def people(n: int, rule_key: str = "pql_power_users", **overrides) -> list:
    return [
        make_change(
            **{
                "change_id": f"{rule_key}-{i:04d}",
                "rule_key": rule_key,
                "entity_id": f"user-{i:04d}",
                "rank": i + 1,
                "name": f"Person-{i:04d}",
                "email": f"p{i:04d}@example.com",
                "metrics": METRICS,
                **overrides,
            }
        )
        for i in range(n)
    ]


def sections(message: dict) -> list[str]:
    return [b["text"]["text"] for b in message["blocks"] if b["type"] == "section"]


def header(message: dict) -> str:
    return message["blocks"][0]["text"]["text"]


def assert_no_secret(text: str, server: SlackTestServer) -> None:
    assert server.token not in text
    assert server.path not in text


def test_registered_under_its_kind_with_entered_as_default():
    assert KINDS["slack"] is SlackDestination
    assert SlackDestination.default_changes == ("entered",)


def test_one_message_per_rule_says_who_entered_and_why(slack_server):
    exited = make_change(
        change_id="gone",
        entity_id="user-9",
        change="exited",
        name="Grace Hopper",
        email="grace@example.com",
        score=None,
        rank=None,
        previous_score=71.0,
        previous_rank=4,
        days_on_list=14,
    )
    slack_server.rate_limit = None
    other_rule = people(1, rule_key="pql_pricing_intent", rule_name="PQL: Buying Intent")
    dest = destination(slack_server, title="Acme product signals")
    batches = dest.plan([exited, *people(3, rule_name="PQL: Power Users"), *other_rule])
    for batch in batches:
        assert dest.send(batch).delivered == [c.change_id for c in batch.changes]

    assert len(slack_server.messages) == 2
    power, pricing = slack_server.messages  # groups in rule-key order
    assert header(power) == "PQL: Power Users: 3 entered, 1 exited"
    assert header(pricing) == "PQL: Buying Intent: 1 entered"
    context = power["blocks"][1]["elements"][0]["text"]
    assert "*Acme product signals*" in context and "Run 2026-10-01 12:00 UTC" in context
    assert "previous 2026-09-24 12:00 UTC" in context and "`pql_power_users`" in context
    texts = sections(power)
    assert [t.splitlines()[0] for t in texts] == [
        "*Person-0000* · p0000@example.com · example.com",
        "*Person-0001* · p0001@example.com · example.com",
        "*Person-0002* · p0002@example.com · example.com",
        "*Grace Hopper* · grace@example.com · example.com",
    ]
    assert texts[0].splitlines()[1] == "Score *87.5* · rank *#1*"
    assert texts[0].splitlines()[2] == "1,340 events · 12 active days · 3 active users · last event 2 days ago"
    assert texts[3].splitlines()[1] == "Left the list (was score 71, rank #4) · on the list 14 days"
    assert power["text"].startswith("PQL: Power Users: 3 entered, 1 exited: Person-0000, Person-0001")
    assert power["unfurl_links"] is False
    assert slack_server.warnings == []
    assert batches[0].summary == {"messages": 1, "changes": 4}


def test_a_name_that_would_ping_the_channel_is_inert(slack_server):
    nasty = make_change(
        change_id="evil",
        name="<!channel> & <@U123|boss>",
        email="a&b<c>@example.com",
        domain="<https://evil.example|click me>",
        metrics={"<!here>": "<script>"},
    )
    dest = destination(slack_server)
    dest.send(dest.plan([nasty])[0])

    message = slack_server.messages[0]
    everything = json.dumps(message["text"]) + "".join(sections(message))
    for raw in ("<!channel>", "<@U123", "<!here>", "<https://evil", "<script>"):
        assert raw not in everything
    text = sections(message)[0]
    assert text.startswith("*&lt;!channel&gt; &amp; &lt;@U123|boss&gt;* · a&amp;b&lt;c&gt;@example.com")
    assert "&lt;https://evil.example|click me&gt;" in text
    assert "&lt;!here&gt;: &lt;script&gt;" in text
    assert "<" not in text and ">" not in text
    assert message["text"].startswith("Power users: 1 entered: &lt;!channel&gt; &amp; &lt;@U123|boss&gt;")


def test_120_entered_are_split_into_messages_within_limits_each_entity_once(slack_server):
    slack_server.rate_window = 0.05
    changes = people(120)
    random.Random(7).shuffle(changes)
    dest = destination(slack_server, send_interval=0.05)
    batches = dest.plan(changes)
    acks = [dest.send(b) for b in batches]

    assert len(slack_server.messages) == 6 == len(batches)
    assert [header(m) for m in slack_server.messages] == [f"Power users: 120 entered ({i}/6)" for i in range(1, 7)]
    names = [re.match(r"\*(Person-\d{4})\*", t).group(1) for m in slack_server.messages for t in sections(m)]
    assert names == [f"Person-{i:04d}" for i in range(120)]  # by rank, each exactly once
    assert sorted(cid for a in acks for cid in a.delivered) == sorted(c.change_id for c in changes)
    for message in slack_server.messages:
        assert len(message["blocks"]) <= 50
        assert len(header(message)) <= 150
        assert all(len(t) <= 3000 for t in sections(message))
        assert message["text"]
    assert slack_server.rate_limited == 0


def test_long_values_are_cut_and_messages_split_by_size(slack_server):
    slack_server.rate_limit = None
    metrics = {f"metric_{k}_" + "x" * 50: "&" * 80 for k in range(12)}
    changes = [
        make_change(**{**c.__dict__, "name": f"{i:04d}" + "&<" * 2000})
        for i, c in enumerate(people(120, rule_name="R" * 400, metrics=metrics))
    ]
    dest = destination(slack_server, max_per_message=45)
    batches = dest.plan(changes)
    for batch in batches:
        dest.send(batch)

    assert len(slack_server.messages) == len(batches) > 3  # split by size, not only by count
    seen = []
    for message in slack_server.messages:
        assert len(message["blocks"]) <= 50
        assert len(header(message)) <= 150
        assert sum(len(t) for t in sections(message)) <= 11000
        for text in sections(message):
            assert len(text) <= 3000
            assert not re.search(r"&(?!amp;|lt;|gt;)", text)  # no half-cut entity
            seen.append(text[1:5])
    assert seen == [f"{i:04d}" for i in range(120)]


def test_plan_is_deterministic_whatever_the_input_order(slack_server):
    changes = people(50) + people(7, rule_key="pqa_expansion_ready", level="account")
    shuffled = list(changes)
    random.Random(1).shuffle(shuffled)
    one = destination(slack_server).plan(changes)
    two = destination(slack_server).plan(shuffled)
    assert [json.dumps(b.payload) for b in one] == [json.dumps(b.payload) for b in two]
    assert [[c.change_id for c in b.changes] for b in one] == [[c.change_id for c in b.changes] for b in two]


def test_link_template_is_filled_url_encoded_and_skipped_without_a_value(slack_server):
    dest = destination(slack_server, link="https://crm.example.com/people?email={email}&rule={rule_key}")
    dest.check()
    with_email = make_change(change_id="a", email="a+b@example.com", name="Ann")
    without = make_change(change_id="b", email=None, name="Bob", entity_id="user-2", rank=2)
    dest.send(dest.plan([with_email, without])[0])

    first, second = sections(slack_server.messages[0])
    assert first.startswith("*<https://crm.example.com/people?email=a%2Bb%40example.com&amp;rule=pql_power_users|Ann>*")
    assert second.startswith("*Bob*")


def test_check_names_the_field_or_variable():
    with pytest.raises(ConfigError, match="BETON_SLACK_WEBHOOK_URL is not set"):
        SlackDestination("sales", {"kind": "slack"}, {}).check()
    env = {"BETON_SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T1/B1/xyzSECRET"}
    with pytest.raises(ConfigError, match=r"destinations\.sales\.link uses \{name\}"):
        SlackDestination("sales", {"kind": "slack", "link": "https://crm.example.com/{name}"}, env).check()
    with pytest.raises(ConfigError, match=r"destinations\.sales\.link must not contain"):
        SlackDestination("sales", {"kind": "slack", "link": "https://crm.example.com/{domain}|x"}, env).check()
    with pytest.raises(ConfigError, match=r"destinations\.sales\.max_per_message"):
        SlackDestination("sales", {"kind": "slack", "max_per_message": 60}, env).check()
    with pytest.raises(ConfigError) as info:
        SlackDestination("sales", {"kind": "slack"}, {"BETON_SLACK_WEBHOOK_URL": "hooks.slack.com/xyzSECRET"}).check()
    assert "xyzSECRET" not in str(info.value)
    SlackDestination("sales", {"kind": "slack", "link": "https://crm.example.com/a/{domain}"}, env).check()


def test_over_the_rate_limit_slack_answers_429_and_retry_after_is_honoured(slack_server):
    dest = destination(slack_server)  # send_interval 0: the second message comes too soon
    batches = dest.plan(people(2, rule_key="a") + people(1, rule_key="b"))
    started = time.monotonic()
    for batch in batches:
        dest.send(batch)
    elapsed = time.monotonic() - started

    assert len(slack_server.messages) == 2
    assert slack_server.rate_limited == 1
    assert [r.status for r in slack_server.requests] == [200, 429, 200]
    assert slack_server.requests[2].at - slack_server.requests[1].at >= 1.0
    assert elapsed >= 1.0


def test_sends_are_spaced_so_the_rate_limit_is_never_hit(slack_server):
    slack_server.rate_window = 0.3
    dest = destination(slack_server, send_interval=0.3)
    for batch in dest.plan(people(1, rule_key="a") + people(1, rule_key="b") + people(1, rule_key="c")):
        dest.send(batch)
    times = [r.at for r in slack_server.requests]
    assert slack_server.rate_limited == 0 and len(slack_server.messages) == 3
    assert all(b - a >= 0.3 for a, b in zip(times, times[1:]))


def test_a_scripted_429_with_retry_after_is_waited_out(slack_server):
    slack_server.faults = [Fault.rate_limited(1)]
    dest = destination(slack_server)
    started = time.monotonic()
    dest.send(dest.plan(people(1))[0])
    assert time.monotonic() - started >= 1.0
    assert [r.status for r in slack_server.requests] == [429, 200]


def test_server_errors_and_dropped_connections_are_retried(slack_server):
    slack_server.faults = [Fault.server_error(503), Fault.drop()]
    dest = destination(slack_server)
    ack = dest.send(dest.plan(people(2))[0])
    assert ack.delivered == ["pql_power_users-0000", "pql_power_users-0001"]
    assert [r.status for r in slack_server.requests] == [503, None, 200]
    assert len(slack_server.messages) == 1


def test_a_hanging_webhook_times_out_and_is_retried(slack_server):
    slack_server.faults = [Fault.hang(5)]
    dest = destination(slack_server, http={"budget": 4, "retries": 3, "read_timeout": 0.5})
    started = time.monotonic()
    dest.send(dest.plan(people(1))[0])
    assert time.monotonic() - started < 3
    assert len(slack_server.messages) == 1


def test_slack_down_for_good_fails_retryable_within_the_budget(slack_server):
    slack_server.down = 503
    dest = destination(slack_server, http={"budget": 1.5, "retries": 10, "read_timeout": 1})
    started = time.monotonic()
    with pytest.raises(DeliveryError) as info:
        dest.send(dest.plan(people(1))[0])
    assert time.monotonic() - started < 3
    assert info.value.retryable is True
    assert "Slack incoming webhook (BETON_SLACK_WEBHOOK_URL)" in str(info.value)
    assert_no_secret(str(info.value), slack_server)


@pytest.mark.parametrize(
    ("fault", "status", "words"),
    [
        (Fault.no_service(), 404, "no longer exists or was revoked"),
        (Fault.archived(), 410, "archived channel"),
        (Fault.prohibited(), 403, "workspace admin restricts"),
        (Fault("status", 404, "channel_not_found"), 404, "no longer exists or was revoked"),
    ],
)
def test_slack_error_codes_are_explained_and_not_retried(slack_server, fault, status, words):
    slack_server.faults = [fault]
    dest = destination(slack_server)
    with pytest.raises(DeliveryError) as info:
        dest.send(dest.plan(people(1))[0])
    message = str(info.value)
    assert info.value.retryable is False and info.value.status == status
    assert words in message and fault.body in message and "BETON_SLACK_WEBHOOK_URL" in message
    assert len(slack_server.requests) == 1
    assert_no_secret(message, slack_server)


def test_a_revoked_webhook_url_is_reported_without_its_token(slack_server):
    url = slack_server.webhook_url.replace(slack_server.token, "revokedT0kenZZZZ")
    dest = SlackDestination("sales", {"kind": "slack", "http": FAST}, {"BETON_SLACK_WEBHOOK_URL": url})
    with pytest.raises(DeliveryError) as info:
        dest.send(dest.plan(people(1))[0])
    assert info.value.status == 404 and "no_service" in str(info.value)
    assert "revokedT0kenZZZZ" not in str(info.value)


def test_blocks_slack_refuses_are_a_clear_non_retryable_error(slack_server):
    dest = destination(slack_server)
    too_many = {"text": "x", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}] * 51}
    with pytest.raises(DeliveryError) as info:
        dest.send(Batch(changes=people(1), payload=too_many))
    assert info.value.retryable is False and "invalid_blocks" in str(info.value)
    assert "bug in Beton" in str(info.value)
    assert slack_server.messages == []


def test_no_secret_in_repr_or_descriptions(slack_server):
    dest = destination(slack_server)
    batch = dest.plan(people(3))[0]
    for text in (repr(dest), batch.description, json.dumps(batch.payload)):
        assert_no_secret(text, slack_server)
    assert "Slack incoming webhook (BETON_SLACK_WEBHOOK_URL)" in batch.description


def test_schema_describes_every_property():
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(SlackDestination.SCHEMA)
    validator = jsonschema.Draft202012Validator(SlackDestination.SCHEMA)

    def walk(schema):
        for name, prop in schema.get("properties", {}).items():
            assert prop.get("description"), name
            walk(prop)

    walk(SlackDestination.SCHEMA)
    good = {"kind": "slack", "title": "Signals", "link": "https://crm.example.com/{domain}", "changes": ["entered"]}
    assert not list(validator.iter_errors(good))
    assert list(validator.iter_errors({"kind": "slack", "webhook_url": "https://hooks.slack.com/x"}))
    assert list(validator.iter_errors({"kind": "slack", "changes": ["left"]}))
