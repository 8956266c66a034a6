"""Benchmark: PostHog ingestion client throughput and peak memory against the local test server.

    .venv/bin/python bench/posthog_ingest.py --events 1000000
    .venv/bin/python bench/posthog_ingest.py --events 100000 1000000   # memory flatness
    .venv/bin/python bench/posthog_ingest.py --target clickhouse --events 1000000

Each event count runs in a fresh client process (so peak RSS belongs to that run alone) with
the test server in another process (so the two do not share a GIL). Prints, per run: wall
rows/s end to end, the client's own CPU rows/s (what it could sustain if PostHog answered
instantly), and the client's peak RSS. PostHog's own ceiling through the query API is about
33k rows/s (2,400 queries/hour x 50,000 rows); the client should be far above it.
With ``--target clickhouse`` the events go to the chdb-backed ClickHouse test server
(tests/fakes/chserver, a third process; its own speed, not real ClickHouse's, is part of the figure).
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "fakes"))
sys.path.insert(0, str(ROOT))

from beton_runner.posthog.destination import DEFAULT_MEMORY_LIMIT as DEFAULT_MEMORY  # noqa: E402

POSTHOG_CEILING = 2_400 * 50_000 / 3600  # rows/s


def serve(events: int, persons: int, conn) -> None:
    from posthog_server.dataset import DatasetSpec
    from posthog_server.server import PostHogTestServer

    started = time.monotonic()
    server = PostHogTestServer(DatasetSpec(events=events, persons=persons, companies=200, days=30)).start()
    conn.send(
        {
            "url": server.url,
            "key": server.api_key,
            "project": server.project_id,
            "build_seconds": time.monotonic() - started,
        }
    )
    conn.recv()  # wait until the client is done
    server.stop()


def client(url: str, key: str, project: str, db: str, memory_limit: str) -> dict:
    import pandas  # noqa: F401 - imported before timing: measure the export

    import beton_runner.warehouse.duckdb  # noqa: F401
    from beton_runner.posthog.clickhouse_destination import ClickHouseDestination
    from beton_runner.posthog.client import PostHogClient
    from beton_runner.posthog.config import resolve_config
    from beton_runner.posthog.destination import DuckDBDestination
    from beton_runner.posthog.ingest import IngestOptions, run_ingest
    from beton_runner.posthog.progress import NullReporter
    from beton_runner.warehouse.clickhouse import load_driver

    if db.startswith("clickhouse://"):
        load_driver()

    config = resolve_config(host=url, project_id=project, environ={"POSTHOG_PERSONAL_API_KEY": key})
    if db.startswith("clickhouse://"):  # clickhouse://host:port/prefix
        host_port, prefix = db[len("clickhouse://") :].split("/", 1)
        host, port = host_port.rsplit(":", 1)
        dest = ClickHouseDestination(
            environ={
                "CLICKHOUSE_HOST": host,
                "CLICKHOUSE_PORT": port,
                "CLICKHOUSE_DATABASE": prefix,
            }
        )
    else:
        dest = DuckDBDestination(db, memory_limit=memory_limit)
    cpu0, t0 = time.process_time(), time.monotonic()
    with PostHogClient(config) as c:
        dest.open(config.source_key)
        try:
            result = run_ingest(c, dest, IngestOptions(days=31), NullReporter())
        finally:
            dest.close()
    wall, cpu = time.monotonic() - t0, time.process_time() - cpu0
    return {
        "events": result.events_fetched,
        "stored": result.counts.get("events"),
        "pages": result.event_pages,
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "db_mb": os.path.getsize(db) / 1e6 if os.path.exists(db) else None,
    }


def one_run(events: int, memory_limit: str, target: str = "duckdb") -> dict:
    parent, child = mp.Pipe()
    proc = mp.get_context("spawn").Process(target=serve, args=(events, max(1000, events // 100), child))
    proc.start()
    info = parent.recv()
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "bench.duckdb")
        clickhouse = None
        if target == "clickhouse":
            from chserver.fixture import start_clickhouse_server

            clickhouse = start_clickhouse_server(tmp)
            db = f"clickhouse://{clickhouse.host}:{clickhouse.port}/bench"
        try:
            out = _client_process(info, db, memory_limit)
        finally:
            if clickhouse is not None:
                clickhouse.stop()
    parent.send("done")
    proc.join(timeout=30)
    stats = json.loads(out.stdout.strip().splitlines()[-1])
    stats["server_build_s"] = info["build_seconds"]
    return stats


def _client_process(info: dict, db: str, memory_limit: str) -> subprocess.CompletedProcess:
    args = ["--client", info["url"], info["key"], info["project"], db, memory_limit]
    return subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--duckdb-memory", default=DEFAULT_MEMORY, help="DuckDB memory_limit for the client")
    parser.add_argument(
        "--target",
        choices=["duckdb", "clickhouse"],
        default="duckdb",
        help="destination: a DuckDB file, or the chdb-backed ClickHouse test server",
    )
    parser.add_argument("--client", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        print(json.dumps(client(*args.client)))
        return

    runs = []
    for n in args.events:
        stats = one_run(n, args.duckdb_memory, args.target)
        assert stats["stored"] == n, stats
        runs.append(stats)
        wall_rate = stats["events"] / stats["wall_s"]
        cpu_rate = stats["events"] / stats["cpu_s"]
        print(
            f"{n:>10,} events  {stats['pages']:>4} pages  wall {stats['wall_s']:6.1f} s  "
            f"{wall_rate:>9,.0f} rows/s end to end ({wall_rate / POSTHOG_CEILING:.1f}x PostHog's ceiling)  "
            f"client CPU {cpu_rate:>9,.0f} rows/s  peak RSS {stats['peak_rss_mb']:6.0f} MB"
            + (f"  (DuckDB file {stats['db_mb']:.0f} MB)" if stats["db_mb"] is not None else "")
            + f"  [{args.target}]"
        )
    if len(runs) > 1:
        small, big = runs[0], runs[-1]
        print(
            f"events x{big['events'] / small['events']:.0f} -> peak RSS x"
            f"{big['peak_rss_mb'] / small['peak_rss_mb']:.2f}"
        )


if __name__ == "__main__":
    main()
