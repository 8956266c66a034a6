"""Configuration: hosts, regions, project ids and the key, as a user would type them."""

from __future__ import annotations

import pytest

from beton_runner.errors import ConfigError
from beton_runner.posthog import hogql
from beton_runner.posthog.accounts import group_to_account, pick_group_type
from beton_runner.posthog.config import Secret, resolve_config
from beton_runner.posthog.ingest import parse_timestamp

KEY = {"POSTHOG_PERSONAL_API_KEY": "phx_configtestkey"}


def cfg(**kw):
    environ = {**KEY, "POSTHOG_PROJECT_ID": "123", **kw.pop("environ", {})}
    return resolve_config(environ=environ, **kw)


def test_default_host_is_us_cloud():
    c = cfg()
    assert (c.host, c.project_id, c.region) == ("https://us.posthog.com", "123", "us")


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("us.i.posthog.com", "https://us.posthog.com"),
        ("https://eu.i.posthog.com/", "https://eu.posthog.com"),
        ("https://us-assets.i.posthog.com", "https://us.posthog.com"),
    ],
)
def test_ingestion_host_is_corrected_with_a_note(typed, expected):
    c = cfg(host=typed)
    assert c.host == expected
    assert any("ingestion host" in note and expected in note for note in c.notes)


def test_unknown_ingestion_host_is_refused():
    with pytest.raises(ConfigError, match="ingestion host"):
        cfg(host="https://weird.i.posthog.com")


def test_region_flag_and_env_host():
    assert cfg(region="eu").host == "https://eu.posthog.com"
    assert cfg(environ={"POSTHOG_HOST": "eu.posthog.com"}).region == "eu"
    # --region wins over POSTHOG_HOST from the environment
    assert cfg(region="us", environ={"POSTHOG_HOST": "https://eu.posthog.com"}).host == "https://us.posthog.com"


def test_host_and_region_that_disagree_are_refused():
    with pytest.raises(ConfigError, match="disagree"):
        cfg(host="https://eu.posthog.com", region="us")


def test_self_hosted_url_is_kept_and_app_url_gives_the_project_id():
    c = resolve_config(host="https://posthog.example.org/analytics/", environ=KEY, project_id="7")
    assert (c.host, c.region) == ("https://posthog.example.org/analytics", None)
    c = resolve_config(host="https://eu.posthog.com/project/98765/insights/abc", environ=KEY)
    assert (c.host, c.project_id) == ("https://eu.posthog.com", "98765")


def test_missing_key_explains_where_to_get_one():
    with pytest.raises(ConfigError) as err:
        resolve_config(environ={"POSTHOG_PROJECT_ID": "1"})
    message = str(err.value)
    assert "POSTHOG_PERSONAL_API_KEY" in message
    assert all(scope in message for scope in ("query:read", "person:read", "group:read"))


def test_missing_or_bad_project_id():
    with pytest.raises(ConfigError, match="POSTHOG_PROJECT_ID"):
        resolve_config(environ=KEY)
    with pytest.raises(ConfigError, match="must be a number"):
        resolve_config(environ=KEY, project_id="my-project")


def test_the_key_never_shows_in_repr_or_format():
    c = cfg()
    for text in (repr(c), str(c), f"{c}", repr(c.api_key), f"{c.api_key}", str(c.api_key)):
        assert "phx_configtestkey" not in text
    assert c.api_key.reveal() == "phx_configtestkey"
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(Secret("phx_x"))


def test_hogql_literals_never_use_iso_t_z_and_escape_quotes():
    ts = parse_timestamp("2024-03-01T10:00:00.5+02:00")
    assert hogql.timestamp(ts) == "toDateTime64('2024-03-01 08:00:00.500000', 6, 'UTC')"
    assert hogql.string("o'brien\\x\n") == "'o\\'brien\\\\x\\n'"
    q = hogql.events_page(ts, ts, ts, (ts, "0000-1"), 10)
    assert "offset" not in q.lower() and "T08" not in q and "Z'" not in q


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T12:00:00Z", "2024-05-01 12:00:00"),
        ("2024-05-01T12:00:00.123456+00:00", "2024-05-01 12:00:00.123456"),
        ("2024-05-01T05:00:00-07:00", "2024-05-01 12:00:00"),
        ("2024-05-01 12:00:00", "2024-05-01 12:00:00"),
    ],
)
def test_timestamps_with_or_without_offset_become_utc(text, expected):
    assert str(parse_timestamp(text)) == expected


def test_company_like_group_type_is_picked_by_name():
    types = [
        {"group_type": "project", "group_type_index": 0},
        {"group_type": "organization", "group_type_index": 2},
        {"group_type": "company", "group_type_index": 1},
    ]
    assert pick_group_type(types)["group_type"] == "company"
    assert pick_group_type(types[:2])["group_type"] == "organization"
    assert pick_group_type(types[:1]) is None
    assert pick_group_type(types, "project")["group_type_index"] == 0


def test_group_properties_map_to_account_columns():
    row = group_to_account(
        "acme",
        '{"name": "Acme Inc", "website": "https://www.Acme.io/about", "arr": "24000", "plan": "pro", '
        '"owner_email": "ae@seller.example"}',
    )
    assert row[:6] == ["acme", "Acme Inc", "acme.io", 24000.0, "pro", "ae@seller.example"]
    assert group_to_account("acme.com", {})[:3] == ["acme.com", "acme.com", "acme.com"]
