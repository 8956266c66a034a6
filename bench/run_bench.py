"""Benchmark: what users run (`beton run`, `dbt build`) against what an analyst would write by hand.

    .venv/bin/python bench/run_bench.py --events 10000000 50000000
    .venv/bin/python bench/run_bench.py --events 1000000 --engine duckdb clickhouse

For each size and engine (`--engine duckdb clickhouse`, default duckdb), in a fresh project copy
(the rules of rules/ + bench/rules/) and warehouse of deterministic synthetic events (`beton
generate`), all in one run:

- raw scan / JSON pass:   one pass over the events table; one pass extracting company_domain
- hand-written SQL:       bench/handwritten/<rule>.sql (ClickHouse: bench/handwritten/clickhouse/),
                          one query per rule written from the rules'
                          documented semantics (docs/rules.md): JSON extracted in the query, users
                          resolved through person_distinct_id, accounts by domain; all rules timed
                          together, recomputed from scratch. Their results are checked EQUAL to the
                          punch lists (same entities and ranks, scores within 1e-9 or 1e-12 relative): a check of the
                          baseline and of the product
- dbt start-up:           `dbt parse` without and with partial parsing, `dbt ls` (wall), node count
- first run:              `BETON_INPUT=source beton run --as-of …` on the fresh warehouse (wall: dbt
                          build with its tests, plus beton's own checks); per-layer profile from
                          run_results.json, models and tests apart; peak RSS of the process tree
- dbt build:              plain `dbt build --full-refresh` (the same work as a first run, from dbt)
- daily run:              `beton generate --append-days 1`, then `beton run` one day later; its
                          punch lists checked equal to a full rebuild and to the hand-written SQL
                          (the full rebuild: DuckDB, `dbt build --full-refresh` on a copy of the
                          file; ClickHouse, `dbt build --full-refresh` from the same raw database
                          into a second set of databases, beton_rebuilt_*, which is what a copy
                          gives without copying tables: every model rebuilt from the inputs)
- interactive:            `beton rules show --sql`, `beton rules check`, `beton punch-list` (wall and
                          CPU, the median of 5 runs each)

ClickHouse is the real engine as a library (chdb) behind the test-only HTTP server of
tests/fakes/chserver, started for each size with its data under the run's temporary directory,
as the tests start it; beton and unmodified dbt-clickhouse reach it through the shipped profile's
clickhouse target (BETON_TARGET=clickhouse, CLICKHOUSE_HOST/PORT/DATABASE). That server is a
separate process, so peak RSS and the interactive commands' CPU count it with the command's own
process tree. It runs one statement at a time (one chdb connection behind a lock), so dbt's 4
threads do not overlap on it as they do on DuckDB or on a real ClickHouse server (and a node's
time in run_results.json includes its wait for the server).

Prints each figure and the ratios, and writes them with the machine's description and load to
docs/benchmarks.md (docs/benchmarks-notes.md appended). Run on demand, not in tests.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from beton_runner.datagen.synthetic import REFERENCE_END  # noqa: E402
from beton_runner.project import Project  # noqa: E402
from beton_runner.warehouse import connect  # noqa: E402

HANDWRITTEN = REPO / "bench" / "handwritten"
CHSERVER = REPO / "tests" / "fakes"  # the chdb-backed ClickHouse test server (package chserver)
RAW = "beton_raw"  # the input schema / database `beton generate` writes (the project schema's + _raw)
AS_OF = REFERENCE_END
NEXT_AS_OF = REFERENCE_END + timedelta(days=1)
BETON = [sys.executable, "-m", "beton_runner.cli"]
INTERACTIVE_RUNS = 5
DBT = [sys.executable, "-c", "from dbt.cli.main import cli; cli()"]
# (layer, model name prefixes) of the per-layer profile; the rest is "other"
LAYERS = [
    ("staging", ("stg_",)),
    ("rollups", ("int_daily_activity", "int_filtered_activity__")),
    ("explore", ("explore_", "int_explore_activity")),
    ("users, keys, names", ("int_",)),
    ("rules", ("insp_",)),
    ("marts", ("dim_", "mart_")),
]


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def process_tree(roots: tuple[int, ...]) -> dict[int, str]:
    """The /proc status text of every process in the trees of ``roots`` (the roots included)."""
    children: dict[int, list[int]] = {}
    status: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "status").read_text()
        except OSError:
            continue
        ppid = next((line.split(":", 1)[1] for line in text.splitlines() if line.startswith("PPid:")), "0")
        children.setdefault(int(ppid.strip() or 0), []).append(int(entry.name))
        status[int(entry.name)] = text
    found, todo = {}, list(roots)
    while todo:
        pid = todo.pop()
        if pid in status and pid not in found:
            found[pid] = status[pid]
            todo += children.get(pid, [])
    return found


def tree_cpu_seconds(roots: tuple[int, ...]) -> float:
    """User + system CPU seconds so far of the processes in the trees of ``roots`` (all their
    threads): for a process this one does not wait for, such as the ClickHouse server, whose
    CPU RUSAGE_CHILDREN does not count until it exits."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in process_tree(roots):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / ticks


class PeakRSS:
    """Samples the summed RSS of processes and all their descendants (beton, dbt, DuckDB inside
    dbt; and the ClickHouse server, which is not a descendant of the command) every 50 ms;
    ``peak_mib`` is the largest sum seen."""

    def __init__(self, *pids: int):
        self.pids, self.peak_kb, self._stop = pids, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _tree_kb(self) -> int:
        total = 0
        for status in process_tree(self.pids).values():
            rss = next((line.split(":", 1)[1] for line in status.splitlines() if line.startswith("VmRSS:")), "0 kB")
            total += int(rss.split()[0])
        return total

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak_kb = max(self.peak_kb, self._tree_kb())

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak_kb // 1024


def timed(command: list[str], env: dict[str, str], cwd: Path, watch: tuple[int, ...] = ()) -> tuple[float, int]:
    """(wall seconds, peak RSS in MiB of the command's process tree plus the trees of ``watch``,
    the engine's server) of one command; stops the benchmark with the command's output when it
    fails."""
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sampler = PeakRSS(process.pid, *watch)
    output, _ = process.communicate()
    wall = time.perf_counter() - start
    peak = sampler.stop()
    if process.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{output[-4000:]}")
    return wall, peak


def naive_utc(frame: pd.DataFrame) -> pd.DataFrame:
    """Timestamps as naive UTC wall time (as DuckDB and the punch lists give them)."""
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.DatetimeTZDtype):
            frame[column] = frame[column].dt.tz_convert("UTC").dt.tz_localize(None)
    return frame


class Bench:
    """One size on DuckDB: a project copy (of ``checkout``, this repository by default), its
    DuckDB file and the commands users run on it. :class:`ClickHouseBench` is the same on
    ClickHouse; use either as a context manager (it starts and stops the engine's server)."""

    engine = "duckdb"
    handwritten_dir = HANDWRITTEN
    # one pass extracting a JSON key from every event (each engine's own function)
    json_pass_sql = f"select count(json_extract_string(properties, '$.company_domain')) from {RAW}.events"

    def __init__(self, tmp: Path, events: int, checkout: Path = REPO):
        self.tmp, self.events, self.checkout = tmp, events, checkout
        self.project_dir = tmp / "project"
        self.project_dir.mkdir()
        for name in ("dbt_project.yml", "profiles.yml"):
            shutil.copy(checkout / name, self.project_dir / name)
        for name in ("models", "macros", "seeds", "rules"):
            shutil.copytree(checkout / name, self.project_dir / name)
        for extra in (REPO / "bench" / "rules").glob("*.yml"):
            shutil.copy(extra, self.project_dir / "rules" / extra.name)
        self.db = tmp / "bench.duckdb"
        self.rules = sorted(p.stem for p in (self.project_dir / "rules").glob("*.yml"))
        missing = [r for r in self.rules if not (self.handwritten_dir / f"{r}.sql").is_file()]
        if missing:
            raise SystemExit(f"no hand-written query for rule(s) {', '.join(missing)} in {self.handwritten_dir}")

    def __enter__(self) -> Bench:
        return self

    def __exit__(self, *exc) -> None:
        pass

    @property
    def watch(self) -> tuple[int, ...]:
        """Processes outside the commands' own trees that do their work (the engine's server),
        counted in their peak RSS and CPU."""
        return ()

    def engine_version(self) -> str:
        return f"DuckDB {duckdb.__version__}"

    def env(self, target_path: str = "target", **extra: str) -> dict[str, str]:
        env = {
            **os.environ,
            "BETON_DUCKDB_PATH": str(self.db),
            "BETON_TARGET": "duckdb",
            "BETON_TARGET_PATH": str(self.tmp / target_path),
            "BETON_RAW_SCHEMA": RAW,
            "BETON_INPUT": "source",
            "TZ": "UTC",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "PYTHONPATH": str(self.checkout),  # the checkout's beton_runner, wherever the venv's install points
            **extra,
        }
        env.pop("BETON_PROJECT_DIR", None)
        return env

    def beton(self, *args: str, target_path: str = "target") -> tuple[float, int]:
        return timed(
            [*BETON, "--project-dir", str(self.project_dir), *args],
            self.env(target_path),
            self.project_dir,
            self.watch,
        )

    def interactive(self, *args: str, target_path: str = "target") -> tuple[float, float]:
        """(wall, CPU seconds: user + system of the process tree and the engine's server), each
        the median of INTERACTIVE_RUNS runs of a `beton` command a person waits for."""
        walls, cpus = [], []
        for _ in range(INTERACTIVE_RUNS):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            server_before = tree_cpu_seconds(self.watch)
            walls.append(self.beton(*args, target_path=target_path)[0])
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            server = tree_cpu_seconds(self.watch) - server_before
            cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime + server)
        return statistics.median(walls), statistics.median(cpus)

    def dbt(
        self, *args: str, target_path: str = "target", as_of: datetime | None = None, **env: str
    ) -> tuple[float, int]:
        vars = ["--vars", json.dumps({"beton_input": "source", "beton_as_of": stamp(as_of)})] if as_of else []
        command = [*DBT, *args, "--project-dir", str(self.project_dir), "--profiles-dir", str(self.project_dir)]
        return timed(
            [*command, "--target-path", str(self.tmp / target_path), *vars],
            self.env(target_path, **env),
            self.project_dir,
            self.watch,
        )

    def project(self) -> Project:
        return Project(dir=self.project_dir, target="duckdb", duckdb_path=self.db)

    def as_of_literal(self, as_of: datetime) -> str:
        return f"timestamp '{stamp(as_of)}'"

    def query_seconds(self, sql: str) -> float:
        with connect(self.project()) as conn:
            conn.rows(sql)  # the first pass warms the file cache
            start = time.perf_counter()
            conn.rows(sql)
            return time.perf_counter() - start

    def handwritten(self, as_of: datetime) -> tuple[float, dict[str, pd.DataFrame]]:
        """All hand-written rule queries, timed together, and their results."""
        literal = self.as_of_literal(as_of)
        results = {}
        with connect(self.project()) as conn:
            start = time.perf_counter()
            for rule in self.rules:
                sql = (
                    (self.handwritten_dir / f"{rule}.sql").read_text().replace("{raw}", RAW).replace("{as_of}", literal)
                )
                results[rule] = conn.query(sql)
            elapsed = time.perf_counter() - start
        return elapsed, {rule: naive_utc(frame) for rule, frame in results.items()}

    def punch_lists_equal(self, expected: dict[str, pd.DataFrame]) -> list[str]:
        """The rules whose punch list differs from the hand-written result (entities and ranks,
        counts, days, last seen; scores within 1e-9 or 1e-12 relative), with the first difference."""
        problems = []
        with connect(self.project()) as conn:
            for rule, want in expected.items():
                got = naive_utc(conn.read_table("beton_inspections", f"insp_{rule}"))
                got = got.rename(columns={"user_id": "entity_id", "account_id": "entity_id"})
                got = got[list(want.columns)].sort_values("rank").reset_index(drop=True)
                want = want.sort_values("rank").reset_index(drop=True)
                try:
                    # 1e-9, or 1e-12 of the score: a decayed score sums 0.5^(d/h) over every event
                    # (the baseline) or over days (the product), and at 50M events a top user's
                    # 113,091-point score differs by 3e-9 between those summation orders
                    pd.testing.assert_frame_equal(
                        got, want, check_dtype=False, check_exact=False, atol=1e-9, rtol=1e-12
                    )
                except AssertionError as exc:
                    problems.append(f"{rule}: {str(exc).splitlines()[0:3]}")
        return problems

    def rebuild(self, as_of: datetime) -> Project:
        """A full rebuild at ``as_of`` beside the incrementally built warehouse: `dbt build
        --full-refresh` on a copy of the DuckDB file. Returns the rebuilt warehouse's project."""
        rebuilt = self.tmp / "rebuilt.duckdb"
        shutil.copy(self.db, rebuilt)
        self.dbt("build", "--full-refresh", target_path="t_re", as_of=as_of, BETON_DUCKDB_PATH=str(rebuilt))
        return Project(dir=self.project_dir, target="duckdb", duckdb_path=rebuilt)

    def tables_equal(self, other: Project) -> bool:
        """Every punch list and the findings table equal in this warehouse and in ``other``."""
        a, b = read_punch_tables(self.project()), read_punch_tables(other)
        try:
            for table in [f"insp_{r}" for r in self.rules] + ["insp_findings"]:
                fa, fb = a(table), b(table)
                keys = list(fa.columns[:3])
                pd.testing.assert_frame_equal(
                    fa.sort_values(keys).reset_index(drop=True),
                    fb.sort_values(keys).reset_index(drop=True),
                    check_exact=False,
                    rtol=1e-9,
                )
            return True
        except AssertionError as exc:
            print(f"  MISMATCH: {exc}")
            return False


class ClickHouseBench(Bench):
    """One size on ClickHouse: the chdb test server (tests/fakes/chserver) started with its data
    under the run's temporary directory, the project built into its databases beton_* (inputs
    in beton_raw), as the tests point beton and dbt-clickhouse at it."""

    engine = "clickhouse"
    handwritten_dir = HANDWRITTEN / "clickhouse"
    json_pass_sql = f"select countIf(JSONExtractString(properties, 'company_domain') != '') from {RAW}.events"
    database = "beton"  # the dbt schema: never ClickHouse's `default` (see tests/fakes/chserver)
    rebuilt_database = "beton_rebuilt"

    def __enter__(self) -> Bench:
        if str(CHSERVER) not in sys.path:
            sys.path.insert(0, str(CHSERVER))
        from chserver.fixture import start_clickhouse_server

        self.server = start_clickhouse_server(self.tmp / "clickhouse")
        return self

    def __exit__(self, *exc) -> None:
        self.server.stop()

    @property
    def watch(self) -> tuple[int, ...]:
        return (self.server.pid,)

    def engine_version(self) -> str:
        with connect(self.project()) as conn:
            version = conn.rows("select version()")[0][0]
        return f"ClickHouse {version} (chDB {importlib.metadata.version('chdb-core')}, test server)"

    def clickhouse_env(self, database: str) -> dict[str, str]:
        """The shipped profile's clickhouse target pointed at the test server (the environment
        the tests use), nothing inherited from a real server's settings."""
        return {
            "CLICKHOUSE_HOST": self.server.host,
            "CLICKHOUSE_PORT": str(self.server.port),
            "CLICKHOUSE_DATABASE": database,
            "CLICKHOUSE_USER": "default",
            "CLICKHOUSE_PASSWORD": "",
            "CLICKHOUSE_SECURE": "false",
            "CLICKHOUSE_CLUSTER": "",
        }

    def env(self, target_path: str = "target", **extra: str) -> dict[str, str]:
        env = super().env(target_path, BETON_TARGET="clickhouse", **{**self.clickhouse_env(self.database), **extra})
        env.pop("DBT_ENV_SECRET_CLICKHOUSE_PASSWORD", None)
        return env

    def project(self, database: str | None = None) -> Project:
        database = database or self.database
        return Project(
            dir=self.project_dir,
            target="clickhouse",
            schema=database,
            target_path=self.tmp / "t_read",
            env=self.clickhouse_env(database),
        )

    def as_of_literal(self, as_of: datetime) -> str:
        return f"toDateTime64('{stamp(as_of)}', 6, 'UTC')"

    def rebuild(self, as_of: datetime) -> Project:
        """A full rebuild at ``as_of`` beside the incrementally built databases: `dbt build
        --full-refresh` from the same inputs (beton_raw) into beton_rebuilt_*: every model
        rebuilt from the inputs, as on a copy, without copying tables."""
        self.dbt(
            "build",
            "--full-refresh",
            target_path="t_re",
            as_of=as_of,
            CLICKHOUSE_DATABASE=self.rebuilt_database,
        )
        return self.project(self.rebuilt_database)


BENCHES = {"duckdb": Bench, "clickhouse": ClickHouseBench}
ENGINES = tuple(BENCHES)


def read_punch_tables(project: Project):
    """A reader of the project's built punch lists (without computed_at, the build's clock)."""

    def read(table: str) -> pd.DataFrame:
        with connect(project) as conn:
            frame = naive_utc(conn.read_table("beton_inspections", table))
        return frame.drop(columns=["computed_at"], errors="ignore")

    return read


def profile(target: Path) -> dict:
    """Summed execution time per layer, models and tests apart (run_results.json; nodes run in
    parallel, so the sums exceed the wall time)."""
    data = json.loads((target / "run_results.json").read_text())
    manifest = json.loads((target / "manifest.json").read_text())
    out = {"elapsed": data["elapsed_time"], "models": {}, "tests": {}, "slowest_tests": []}
    tests = []
    for result in data["results"]:
        uid, seconds = result["unique_id"], result["execution_time"]
        kind = uid.split(".")[0]
        if kind == "model":
            name = uid.rsplit(".", 1)[-1].removeprefix("beton_")
        elif kind in ("test", "unit_test"):
            node = manifest["nodes"].get(uid) or manifest.get("unit_tests", {}).get(uid, {})
            parent = node.get("attached_node") or next(iter(node.get("depends_on", {}).get("nodes", [])), "")
            name = parent.rsplit(".", 1)[-1].removeprefix("beton_")
            tests.append((seconds, uid))
        else:
            continue
        layer = next((layer for layer, prefixes in LAYERS if name.startswith(prefixes)), "other")
        bucket = out["models" if kind == "model" else "tests"]
        bucket[layer] = bucket.get(layer, 0.0) + seconds
    out["slowest_tests"] = sorted(tests, reverse=True)[:5]
    out["test_nodes"] = len(tests)
    return out


def bench(events: int, engine: str, checkout: Path) -> dict:
    with (
        tempfile.TemporaryDirectory(prefix="beton-bench-") as tmp_name,
        BENCHES[engine](Path(tmp_name), events, checkout) as b,
    ):
        r: dict = {"events": events, "engine": engine, "rules": len(b.rules), "engine_version": b.engine_version()}
        say = lambda text: print(f"[{events:,} {engine}] {text}", flush=True)  # noqa: E731
        b.beton("rules", "compile")
        r["generate_s"], _ = b.beton("generate", "--events", str(events))
        say(f"generated in {r['generate_s']:.1f}s")
        r["scan_s"] = b.query_seconds(f"select count(*), max(timestamp), sum(length(event)) from {RAW}.events")
        r["json_s"] = b.query_seconds(b.json_pass_sql)
        b.handwritten(AS_OF)  # warm-up
        r["hand_s"], expected = b.handwritten(AS_OF)
        say(f"scan {r['scan_s']:.2f}s  JSON pass {r['json_s']:.2f}s  hand-written {r['hand_s']:.2f}s")

        r["parse_full_s"], _ = b.dbt("parse", "--no-partial-parse", target_path="t_parse")
        r["parse_partial_s"], _ = b.dbt("parse", target_path="t_parse")
        r["ls_s"], _ = b.dbt("ls", "--resource-type", "model", target_path="t_parse")
        nodes = json.loads((b.tmp / "t_parse" / "manifest.json").read_text())["nodes"]
        r["nodes"] = {k: sum(1 for n in nodes.values() if n["resource_type"] == k) for k in ("model", "test", "seed")}
        say(
            f"dbt parse {r['parse_full_s']:.1f}s, partial {r['parse_partial_s']:.1f}s, ls {r['ls_s']:.1f}s  {r['nodes']}"
        )

        r["first_s"], r["first_peak"] = b.beton("run", "--as-of", stamp(AS_OF), target_path="t_first")
        r["first"] = profile(b.tmp / "t_first")
        problems = b.punch_lists_equal(expected)
        r["hand_equal_first"] = not problems
        say(
            f"beton run {r['first_s']:.1f}s (peak {r['first_peak']} MiB)  hand-written = punch lists: {problems or 'yes'}"
        )

        # as a person does after a run: no --as-of (now), so the run's --as-of and this one differ
        # (median of INTERACTIVE_RUNS runs each: wall, and CPU of the process tree)
        r["show_sql_s"], r["show_sql_cpu"] = b.interactive(
            "rules", "show", "pql_power_users", "--sql", target_path="t_first"
        )
        r["check_s"], r["check_cpu"] = b.interactive("rules", "check", target_path="t_first")
        r["punch_list_s"], r["punch_list_cpu"] = b.interactive("punch-list", "pql_power_users", target_path="t_first")
        say(
            f"rules show --sql {r['show_sql_s']:.1f}s (CPU {r['show_sql_cpu']:.1f}s)  rules check {r['check_s']:.1f}s "
            f"(CPU {r['check_cpu']:.1f}s)  punch-list {r['punch_list_s']:.1f}s (CPU {r['punch_list_cpu']:.1f}s)"
        )

        r["dbt_build_s"], r["dbt_build_peak"] = b.dbt("build", "--full-refresh", target_path="t_dbt", as_of=AS_OF)
        say(f"dbt build --full-refresh {r['dbt_build_s']:.1f}s (peak {r['dbt_build_peak']} MiB)")

        b.beton("generate", "--events", str(events), "--append-days", "1")
        r["daily_s"], r["daily_peak"] = b.beton("run", "--as-of", stamp(NEXT_AS_OF), target_path="t_daily")
        r["daily"] = profile(b.tmp / "t_daily")
        r["hand_next_s"], expected = b.handwritten(NEXT_AS_OF)
        problems = b.punch_lists_equal(expected)
        r["hand_equal_daily"] = not problems
        r["daily_equals_full"] = b.tables_equal(b.rebuild(NEXT_AS_OF))
        say(
            f"daily run {r['daily_s']:.1f}s (peak {r['daily_peak']} MiB)  "
            f"= full rebuild: {'yes' if r['daily_equals_full'] else 'NO'}  = hand-written: {problems or 'yes'}"
        )
        return r


def machine(engine_versions: list[str]) -> str:
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, {mem_gb:.0f} GiB, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, " + ", ".join(engine_versions)
    )


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def write_report(results: list[dict], load_before: str, load_after: str) -> str:
    sizes = " ".join(dict.fromkeys(str(r["events"]) for r in results))
    engines = list(dict.fromkeys(r["engine"] for r in results))
    command = f"python bench/run_bench.py --events {sizes}" + (
        f" --engine {' '.join(engines)}" if engines != ["duckdb"] else ""
    )
    clickhouse_sizes = {r["events"] for r in results if r["engine"] == "clickhouse"}
    if clickhouse_sizes and clickhouse_sizes != {r["events"] for r in results}:
        command += f" --clickhouse-max-events {max(clickhouse_sizes)}"
    versions = list(dict.fromkeys(r["engine_version"] for r in results))
    lines = [
        "# Benchmarks",
        "",
        f"Measured {datetime.now():%Y-%m-%d} by `{command}` on {machine(versions)}; "
        f"load average (1, 5, 15 min) {load_before} at the start and {load_after} at the end (the benchmark's own "
        "load): "
        + (
            "**a loaded machine** (other jobs shared the cores), so read the ratios, measured side by side, rather than the seconds."
            if float(load_before.split()[0]) >= 1
            else "an idle machine, but for the benchmark itself."
        ),
        "",
        "Each row is one run of the script on one engine: deterministic synthetic events (`beton generate`), the "
        f"{results[0]['rules']} rules of `rules/` + `bench/rules/`, and what users run on it, wall time (start-up "
        "included). The baseline is `bench/handwritten/`: one query per rule as an analyst would write it from "
        "docs/rules.md, over the raw events, all rules together, recomputed from scratch.",
    ]
    if "clickhouse" in engines:
        lines += [
            "",
            "ClickHouse rows: the real engine as a library (chDB) behind the test-only HTTP server of "
            "`tests/fakes/chserver`, through unmodified dbt-clickhouse, with the baseline in ClickHouse SQL "
            "(`bench/handwritten/clickhouse/`). The server runs one statement at a time (one chDB connection behind "
            "a lock), so dbt's 4 threads do not overlap there as they do on DuckDB or a real ClickHouse server, and "
            "a node's time in the per-layer profile includes its wait for the server; the server's process counts in "
            "the peak RSS and in the interactive commands' CPU.",
        ]
    lines += [
        "",
        f"| events | engine | raw scan | JSON pass | hand-written ({results[0]['rules']} rules) | `beton run`, first | first / hand | `dbt build --full-refresh` | daily run (+1 day) | daily / hand | tests in the first run | peak RSS | = hand-written | daily = full rebuild |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|:---:|",
    ]
    for r in results:
        tests = sum(r["first"]["tests"].values())
        models = sum(r["first"]["models"].values())
        lines.append(
            f"| {r['events']:,} | {r['engine']} | {r['scan_s']:.2f} s | {r['json_s']:.2f} s | {r['hand_s']:.2f} s | {r['first_s']:.1f} s "
            f"| {r['first_s'] / r['hand_s']:.1f}× | {r['dbt_build_s']:.1f} s | {r['daily_s']:.1f} s | {r['daily_s'] / r['hand_s']:.1f}× "
            f"| {100 * tests / (tests + models):.0f}% of node time | {max(r['first_peak'], r['daily_peak'], r['dbt_build_peak']):,} MiB "
            f"| {'yes' if r['hand_equal_first'] and r['hand_equal_daily'] else 'NO'} | {'yes' if r['daily_equals_full'] else 'NO'} |"
        )
    lines += [
        "",
        "dbt start-up and the interactive commands (wall; for the commands, wall / CPU, the median "
        f"of {INTERACTIVE_RUNS} runs, on the built warehouse):",
        "",
        "| events | engine | nodes (models, tests, seeds) | `dbt parse`, no partial parse | `dbt parse`, partial | `dbt ls` | `beton rules show --sql` | `beton rules check` | `beton punch-list` |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        n = r["nodes"]
        lines.append(
            f"| {r['events']:,} | {r['engine']} | {n['model']}, {n['test']}, {n['seed']} | {r['parse_full_s']:.1f} s | {r['parse_partial_s']:.1f} s "
            f"| {r['ls_s']:.1f} s | {r['show_sql_s']:.1f} / {r['show_sql_cpu']:.1f} s | {r['check_s']:.1f} / "
            f"{r['check_cpu']:.1f} s | {r['punch_list_s']:.1f} / {r['punch_list_cpu']:.1f} s |"
        )
    layers = [name for name, _ in LAYERS] + ["other"]
    lines += [
        "",
        "Where the time goes (`run_results.json`): seconds summed over the nodes of each layer, models / tests "
        "(nodes run in parallel on 4 dbt threads, so sums exceed the wall time).",
        "",
        "| events | engine | run | dbt elapsed | " + " | ".join(layers) + " | all models / all tests |",
        "|---:|---|---|---:|" + "---:|" * (len(layers) + 1),
    ]
    for r in results:
        for run in ("first", "daily"):
            p = r[run]
            cells = [f"{p['models'].get(k, 0):.1f} / {p['tests'].get(k, 0):.1f}" for k in layers]
            lines.append(
                f"| {r['events']:,} | {r['engine']} | {run} | {p['elapsed']:.1f} s | "
                + " | ".join(cells)
                + f" | {sum(p['models'].values()):.1f} / {sum(p['tests'].values()):.1f} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000])
    parser.add_argument(
        "--engine",
        dest="engines",
        action="extend",
        nargs="+",
        choices=ENGINES,
        help="the engine(s) to run each size on, e.g. `--engine duckdb clickhouse` (default: duckdb)",
    )
    parser.add_argument(
        "--clickhouse-max-events",
        type=int,
        default=None,
        help="run ClickHouse only at sizes up to this many events (e.g. 10000000 with --events 10000000 50000000: "
        "the test server runs one statement at a time)",
    )
    parser.add_argument(
        "--results-json",
        type=Path,
        default=None,
        help="also write every measured figure there as JSON (per size and engine)",
    )
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    parser.add_argument(
        "--checkout",
        type=Path,
        default=REPO,
        help="benchmark another checkout's project and beton_runner (e.g. a worktree of main, to compare)",
    )
    parser.add_argument(
        "--keep-notes",
        type=Path,
        default=REPO / "docs" / "benchmarks-notes.md",
        help="appended verbatim after the tables when it exists",
    )
    args = parser.parse_args()
    load_before = load()
    engines = list(dict.fromkeys(args.engines or ["duckdb"]))
    # each size on every engine in turn, so one size's rows are measured close together
    results = []
    for n in args.events:
        for engine in engines:
            if engine == "clickhouse" and args.clickhouse_max_events is not None and n > args.clickhouse_max_events:
                continue
            results.append(bench(n, engine, args.checkout.resolve()))
            if args.results_json:  # after each size and engine, so a long run's figures survive a later failure
                args.results_json.write_text(json.dumps(results, indent=1, default=str))
    report = write_report(results, load_before, load())
    if args.keep_notes.is_file():
        report += "\n" + args.keep_notes.read_text()
    print("\n" + report)
    args.out.write_text(report)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
