"""`dbt source freshness` after `beton ingest posthog`: the newest event's age against the
events source's thresholds (vars beton_freshness_warn_after_hours / _error_after_hours), on data
loaded from the local PostHog server; with mock input there is nothing to check."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from beton_runner.dbt import run_dbt
from beton_runner.errors import DbtCommandError
from beton_runner.project import Project
from conftest import REPO
from posthog_server.dataset import DatasetSpec
from posthog_server.fixture import posthog_server_factory  # noqa: F401
from posthog_server.helpers import DuckDBTarget, ingest

AGE_HOURS = 30  # the newest event's age: past the default warning (24 h), before the default error (72 h)


def statuses(project: Project) -> dict[str, str]:
    results = json.loads((project.dbt_target_path / "sources.json").read_text())["results"]
    return {r["unique_id"].rsplit(".", 1)[-1]: r["status"] for r in results}


def test_source_freshness_after_an_ingest(posthog_server_factory, tmp_path):  # noqa: F811
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    server = posthog_server_factory(
        DatasetSpec(events=600, persons=20, companies=3, days=5, end=now - timedelta(hours=AGE_HOURS))
    )
    target = DuckDBTarget(tmp_path / "w.duckdb")
    ingest(server, target, days=10)
    newest = target.query("select max(timestamp) from beton_raw.events")[0][0]
    assert timedelta(hours=AGE_HOURS) <= now - newest < timedelta(hours=AGE_HOURS + 1)
    project = Project(dir=REPO, target="duckdb", duckdb_path=target.path, target_path=tmp_path / "target")
    source = {"beton_input": "source"}

    run_dbt(project, ["source", "freshness"], vars={**source, "beton_freshness_warn_after_hours": 48})
    assert statuses(project) == {"events": "pass"}  # only events has a load time

    with pytest.raises(DbtCommandError):
        run_dbt(project, ["source", "freshness"], vars={**source, "beton_freshness_error_after_hours": 12})
    assert statuses(project) == {"events": "error"}
    results = json.loads((project.dbt_target_path / "sources.json").read_text())["results"]
    # the default warning threshold stayed (24 h: this data is past it, so a plain run warns)
    assert results[0]["criteria"]["warn_after"] == {"count": 24, "period": "hour"}
