"""`beton ingest files`: PostHog batch-export files (Parquet with zstd, JSON lines with gzip, in
PostHog's names and columns) from a folder and from a local S3-compatible server (moto's, over
HTTP) end up in the warehouse as exactly their unique events, persons and distinct ids.

Expected values come from the generated data itself (plain Python sets and dicts below), not
from the loader."""

from __future__ import annotations

import gzip
import json
import socket
import uuid as uuidlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from beton_runner.cli.posthog import ingest_files
from beton_runner.errors import IngestError
from posthog_server.fixture import BOTH_TARGETS, target  # noqa: F401
from posthog_server.helpers import stored_uuids, warehouse

T0 = datetime(2024, 3, 1, tzinfo=timezone.utc)
HOUR = timedelta(hours=1)


@pytest.fixture(autouse=True)
def _commands_raise(monkeypatch):
    monkeypatch.setenv("BETON_DEBUG", "1")  # errors reach the test as exceptions


def make_events(first: int, count: int) -> list[dict]:
    """Events of PostHog's events model (timestamps as datetimes, properties as JSON text)."""
    events = []
    for i in range(first, first + count):
        ts = T0 + timedelta(minutes=7 * i)
        events.append(
            {
                "uuid": str(uuidlib.UUID(int=i + 1)),
                "event": ["$pageview", "report_created", "invite_sent"][i % 3],
                "distinct_id": f"user-{i % 17}",
                "person_id": str(uuidlib.UUID(int=10_000 + i % 17)),
                "properties": json.dumps({"company_domain": f"acme{i % 4}.com", "n": i}),
                "person_properties": json.dumps({"email": f"u{i % 17}@acme{i % 4}.com"}),
                "elements_chain": "",
                "timestamp": ts,
                "created_at": ts + timedelta(seconds=3),
                "_inserted_at": ts + timedelta(seconds=5),
            }
        )
    return events


def export_name(start: datetime, n: int = 0, ext: str = "parquet.zst") -> str:
    """PostHog's key: {interval_start}-{interval_end}-{file number}.{format}.{compression}."""
    return f"{start.isoformat()}-{(start + HOUR).isoformat()}-{n}.{ext}"


def write_parquet(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path, compression="zstd")


def write_jsonl_gz(path: Path, lines: list[str]) -> None:
    """As PostHog writes them: one gzip member per line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(gzip.compress((line + "\n").encode()) for line in lines))


def jsonl(record: dict) -> str:
    return json.dumps(record, default=lambda v: v.isoformat())


PERSONS = [
    # (distinct_id, person_id, person_version, person_distinct_id_version, is_deleted, plan)
    ("user-1", "p-1", 1, 0, False, "free"),
    ("user-1", "p-1", 3, 0, False, "team"),  # a later version of the same person wins
    ("user-2", "p-1", 3, 1, False, "team"),
    ("user-3", "p-3", 1, 0, False, "free"),
    ("user-4", "p-4", 2, 0, True, "free"),  # deleted: neither the person nor its id stays
]


@pytest.fixture
def export(tmp_path) -> tuple[Path, set[str]]:
    """A folder laid out as an S3 batch export, and the uuids it holds (once each)."""
    root = tmp_path / "exports"
    first = make_events(0, 300)
    second = make_events(250, 150)  # overlaps the first file by 50 events
    write_parquet(root / "events" / export_name(T0), first)
    lines = [jsonl(e) for e in second]
    bad = [
        jsonl({**second[0], "uuid": None}),
        jsonl({**second[1], "uuid": "bad-ts", "timestamp": "yesterday-ish"}),
        jsonl({**second[2], "uuid": "bad-props", "properties": "{not json"}),
    ]
    write_jsonl_gz(root / "events" / export_name(T0 + HOUR, ext="jsonl.gz"), lines[:10] + bad + lines[10:])
    (root / "events" / f"{T0.isoformat()}-{(T0 + HOUR).isoformat()}_manifest.json").write_text('{"files": []}')
    persons = [
        {
            "team_id": 1,
            "distinct_id": d,
            "person_id": p,
            "properties": json.dumps({"plan": plan}),
            "person_distinct_id_version": dv,
            "person_version": pv,
            "created_at": T0,
            "_inserted_at": T0 + HOUR,
            "is_deleted": deleted,
        }
        for d, p, pv, dv, deleted, plan in PERSONS
    ]
    write_parquet(root / "persons" / export_name(T0), persons)
    expected = {e["uuid"] for e in first} | {e["uuid"] for e in second}
    return root, expected


def run(source: str, target, *extra: str, env: dict | None = None):  # noqa: F811
    result = CliRunner().invoke(
        ingest_files,
        [source, "--project-id", "4242", *target.cli_args(), *extra],
        env={**target.env(), **(env or {})},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return result.output


def run_failing(source: Path, target) -> str:  # noqa: F811
    """The message of the IngestError that `beton ingest files SOURCE` stops with."""
    with pytest.raises(IngestError) as err:
        CliRunner().invoke(
            ingest_files,
            [str(source), "--project-id", "4242", *target.cli_args()],
            env=target.env(),
            catch_exceptions=False,
        )
    return str(err.value)


@BOTH_TARGETS
def test_folder_loads_unique_events_and_merges_persons(export, target):  # noqa: F811
    root, expected = export
    out = run(str(root), target)

    uuids = stored_uuids(target)
    assert len(uuids) == len(set(uuids)) == len(expected)
    assert set(uuids) == expected
    # every column of one event, timestamps naive UTC
    sample = make_events(260, 1)[0]
    row = warehouse(
        target,
        "select event, distinct_id, timestamp, properties, person_id from {raw}.events where uuid = '"
        + sample["uuid"]
        + "'",
    )
    assert row == [
        (
            sample["event"],
            sample["distinct_id"],
            sample["timestamp"].replace(tzinfo=None),
            sample["properties"],
            sample["person_id"],
        )
    ]
    assert "3 row(s) skipped" in out
    gz = export_name(T0 + HOUR, ext="jsonl.gz")
    assert f"{gz}, line 11: no uuid" in out
    assert f"{gz}, line 12: unparsable timestamp 'yesterday-ish'" in out
    assert f"{gz}, line 13: properties are not JSON" in out

    persons = warehouse(target, "select id, properties from {raw}.persons order by id")
    assert persons == [("p-1", '{"plan": "team"}'), ("p-3", '{"plan": "free"}')]
    ids = warehouse(target, "select distinct_id, person_id from {raw}.person_distinct_id order by distinct_id")
    assert ids == [("user-1", "p-1"), ("user-2", "p-1"), ("user-3", "p-3")]
    # no accounts yet: from the default property, as the API ingest does without groups
    accounts = warehouse(target, "select account_id from {raw}.accounts order by account_id")
    assert accounts == [(f"acme{i}.com",) for i in range(4)]

    # the same files again: nothing added, every file skipped as unchanged
    again = run(str(root), target)
    assert "0 loaded, 3 unchanged" in again
    assert len(stored_uuids(target)) == len(expected)

    # a new file: only its new uuids are added
    write_parquet(root / "events" / export_name(T0 + 2 * HOUR), make_events(390, 40))
    third = run(str(root), target)
    assert "+30 new" in third
    assert set(stored_uuids(target)) == expected | {e["uuid"] for e in make_events(400, 30)}


def test_s3_compatible_server(export, target, tmp_path):  # noqa: F811
    moto_server = pytest.importorskip("moto.server")
    import boto3

    root, expected = export
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        creds = {
            "AWS_ACCESS_KEY_ID": "testing-key-id",
            "AWS_SECRET_ACCESS_KEY": "testing-secret-value",
            "AWS_REGION": "us-east-1",
        }
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
        )
        s3.create_bucket(Bucket="ph-exports")
        for path in root.rglob("*"):
            if path.is_file():
                s3.upload_file(str(path), "ph-exports", f"posthog/{path.relative_to(root).as_posix()}")

        out = run("s3://ph-exports/posthog", target, "--endpoint-url", endpoint, env=creds)
        assert set(stored_uuids(target)) == expected
        assert len(stored_uuids(target)) == len(expected)
        assert "3 loaded" in out
        assert creds["AWS_SECRET_ACCESS_KEY"] not in out

        again = run("s3://ph-exports/posthog", target, "--endpoint-url", endpoint, env=creds)
        assert "0 loaded, 3 unchanged" in again
        assert len(stored_uuids(target)) == len(expected)
    finally:
        server.stop()


def test_corrupt_file_is_named_and_not_half_loaded(tmp_path, target):  # noqa: F811
    root = tmp_path / "exports"
    write_parquet(root / export_name(T0), make_events(0, 100))
    broken = make_events(100, 5000)
    path = root / export_name(T0 + HOUR)
    write_parquet(path, broken)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])  # an interrupted download: no footer
    gz = root / export_name(T0 + 2 * HOUR, ext="jsonl.gz")
    write_jsonl_gz(gz, [jsonl(e) for e in make_events(200, 500)])
    gz.write_bytes(gz.read_bytes()[:-200])  # a gzip stream cut short

    message = run_failing(root, target)
    assert export_name(T0 + HOUR) in message and "Nothing of it was loaded" in message
    # the good file before it is loaded; nothing of the broken one
    assert set(stored_uuids(target)) == {e["uuid"] for e in make_events(0, 100)}

    path.unlink()  # the user moves the broken Parquet file away: the cut gzip is next
    message = run_failing(root, target)
    assert gz.name in message and "JSON-lines file (gzip)" in message
    assert set(stored_uuids(target)) == {e["uuid"] for e in make_events(0, 100)}
