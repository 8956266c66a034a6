"""pytest fixtures that start the local PostHog API test server, and the warehouse an ingest
writes to.

``posthog_server``: a running server over a small default dataset (group analytics on,
50,000-row cap). ``posthog_server_factory``: call it with a :class:`DatasetSpec` and server
options for anything else; every server started is stopped after the test.

``target``: where an ingest writes (:mod:`.helpers`): a fresh DuckDB file by default; a test
runs on both destinations with ``@BOTH_TARGETS`` (ClickHouse: fresh ``<prefix>_*`` databases on
the session's ClickHouse test server, dropped afterwards).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .dataset import DatasetSpec
from .helpers import ClickHouseTarget, DuckDBTarget, Target
from .server import PostHogTestServer

__all__ = [
    "BOTH_TARGETS",
    "CLICKHOUSE",
    "DatasetSpec",
    "PostHogTestServer",
    "posthog_server",
    "posthog_server_factory",
    "target",
]

CLICKHOUSE = pytest.param("clickhouse", marks=pytest.mark.clickhouse)
BOTH_TARGETS = pytest.mark.parametrize("target", ["duckdb", CLICKHOUSE], indirect=True)


@pytest.fixture
def posthog_server_factory() -> Iterator[Callable[..., PostHogTestServer]]:
    started: list[PostHogTestServer] = []

    def make(spec: DatasetSpec | None = None, **options: Any) -> PostHogTestServer:
        server = PostHogTestServer(spec, **options).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def posthog_server(posthog_server_factory) -> PostHogTestServer:
    return posthog_server_factory()


@pytest.fixture
def target(request, tmp_path) -> Iterator[Target]:
    kind = getattr(request, "param", "duckdb")
    if kind == "duckdb":
        yield DuckDBTarget(tmp_path / "beton.duckdb")
        return
    if kind != "clickhouse":
        raise ValueError(f"unknown target {kind!r}")
    server = request.getfixturevalue("clickhouse_server")
    where = ClickHouseTarget(server).prepare()
    try:
        yield where
    finally:
        where.cleanup()
