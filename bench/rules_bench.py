"""Benchmark: 10 inspection rules built through dbt, against the straightforward ways, in one run.

    .venv/bin/python bench/rules_bench.py --events 1000000 10000000 50000000

For each size, on a fresh DuckDB file of deterministic synthetic events (beton generate):

- raw scan:         one pass over the events table (count, max timestamp, total event-name length)
- JSON pass:        one pass extracting company_domain from every event's JSON properties
- full build:       `dbt run --full-refresh` of staging → intermediate → the 10 rules → findings
                    (the shipped 8 rules plus bench/rules/*.yml: both levels, 2 with property filters)
- rules rebuild:    `dbt run --select path:models/inspections` right after: the 10 rules and the
                    findings table rebuilt from scratch over the rollups the full build left (the
                    2 property-filter rules' own rollups run too, incrementally)
- incremental:      append one new day of events, then `dbt run` (incremental models only
                    re-read the lookback days); checked equal to a full rebuild, table by table
- pandas:           the same 10 rules computed the straightforward way (tests/oracle.py: events in
                    a DataFrame, JSON parsed per row), at sizes up to --pandas-max

Prints each figure, the ratios and dbt's peak memory (max RSS of the dbt process, DuckDB included),
and writes them with the machine description to docs/benchmarks.md. Run on demand, not in tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from beton_runner.datagen.synthetic import REFERENCE_END, Shape, write_duckdb  # noqa: E402
from beton_runner.rules import load_rules  # noqa: E402
from beton_runner.rules.compile import generate, write  # noqa: E402
from beton_runner.warehouse.duckdb import DuckDBConnection  # noqa: E402

AS_OF = REFERENCE_END
SELECT = ["path:models/staging", "path:models/intermediate", "path:models/inspections"]
# The dbt process's own peak RSS (VmHWM: its memory since exec; ru_maxrss would include the RSS of
# this script at fork time, which holds the pandas baseline's frames).
PEAK = (
    "import sys, atexit; atexit.register(lambda: print('BETON_PEAK_RSS_KB', "
    "[l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:')][0], file=sys.stderr)); "
    "from dbt.cli.main import cli; cli()"
)


def make_project(tmp: Path) -> Path:
    project = tmp / "project"
    project.mkdir()
    for name in ("dbt_project.yml", "profiles.yml"):
        shutil.copy(REPO / name, project / name)
    for name in ("models", "macros", "seeds", "rules"):
        shutil.copytree(REPO / name, project / name)
    for extra in (REPO / "bench" / "rules").glob("*.yml"):
        shutil.copy(extra, project / "rules" / extra.name)
    write(generate(load_rules(project / "rules"), project), project)
    return project


def dbt(
    project: Path, db: Path, target_path: Path, *args: str, as_of: datetime, select: list[str] = SELECT
) -> tuple[float, float, int]:
    """(wall seconds, dbt's own elapsed seconds, peak RSS in MiB) of one dbt command."""
    env = {**os.environ, "BETON_DUCKDB_PATH": str(db), "TZ": "UTC", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    vars = json.dumps({"beton_input": "source", "beton_as_of": as_of.strftime("%Y-%m-%d %H:%M:%S")})
    command = [
        sys.executable,
        "-c",
        PEAK,
        *args,
        "--project-dir",
        str(project),
        "--profiles-dir",
        str(project),
        "--target-path",
        str(target_path),
        "--vars",
        vars,
    ]
    for selector in select:
        command += ["--select", selector]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"dbt failed:\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}")
    peak_kb = max(int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("BETON_PEAK_RSS_KB"))
    elapsed = json.loads((target_path / "run_results.json").read_text())["elapsed_time"]
    return wall, elapsed, peak_kb // 1024


LAYERS = [
    ("rollup", ("int_daily_activity",)),
    ("filtered rollups", ("int_filtered_activity__",)),
    ("users, keys, names", ("int_activity_resolved", "int_users", "int_account_keys", "int_event_names")),
    ("rules", ("insp_",)),
    ("staging", ("stg_",)),
]


def layers(target_path: Path) -> dict[str, float]:
    """Share of the summed model time per layer (models run in parallel, so shares, not seconds)."""
    results = json.loads((target_path / "run_results.json").read_text())["results"]
    # by table name (a model is named beton_<table>, the inspections insp_<key>)
    times = {r["unique_id"].rsplit(".", 1)[-1].removeprefix("beton_"): r["execution_time"] for r in results}
    total = sum(times.values()) or 1.0
    shares = {}
    for layer, prefixes in LAYERS:
        names = [n for n in times if n.startswith(prefixes)]
        shares[layer] = round(100 * sum(times.pop(n) for n in names) / total)
    shares["other"] = round(100 * sum(times.values()) / total)
    return shares


def timed_query(db: Path, sql: str) -> float:
    with DuckDBConnection(db) as con:
        con.rows(sql)  # warm the file cache once
        start = time.perf_counter()
        con.rows(sql)
        return time.perf_counter() - start


def pandas_rules(db: Path, rules: dict[str, dict], as_of: datetime) -> float:
    from oracle import punch_list

    start = time.perf_counter()
    with DuckDBConnection(db) as con:
        frames = {t: con.read_table("beton_raw", t) for t in ("events", "persons", "person_distinct_id", "accounts")}
    for doc in rules.values():
        punch_list(doc, frames["events"], frames["persons"], frames["person_distinct_id"], frames["accounts"], as_of)
    return time.perf_counter() - start


def tables_equal(a: Path, b: Path, tables: list[str]) -> bool:
    ca, cb = DuckDBConnection(a), DuckDBConnection(b)
    try:
        for table in tables:
            sql = (
                f"select * exclude (computed_at) from beton_inspections.{table}"
                if table == "insp_findings"
                else f"select * from beton_inspections.{table}"
            )
            fa = ca.query(sql)
            fa = fa.sort_values(list(fa.columns[:3])).reset_index(drop=True)
            fb = cb.query(sql).sort_values(list(fa.columns[:3])).reset_index(drop=True)
            pd.testing.assert_frame_equal(fa, fb, check_exact=False, rtol=1e-9)
        return True
    except AssertionError as exc:
        print(f"  MISMATCH: {exc}")
        return False
    finally:
        ca.close()
        cb.close()


def bench(n: int, pandas_max: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="beton-bench-") as tmp_name:
        tmp = Path(tmp_name)
        project = make_project(tmp)
        rules = {p.stem: yaml.safe_load(p.read_text()) for p in sorted((project / "rules").glob("*.yml"))}
        db = tmp / "bench.duckdb"
        shape = Shape.for_events(n)
        start = time.perf_counter()
        write_duckdb(db, project, shape)
        generate_s = time.perf_counter() - start
        print(f"[{n:,}] generated in {generate_s:.1f}s", flush=True)
        result = {"events": n, "rules": len(rules), "generate_s": generate_s}
        result["scan_s"] = timed_query(db, "select count(*), max(timestamp), sum(length(event)) from beton_raw.events")
        result["json_s"] = timed_query(
            db, "select count(json_extract_string(properties, '$.company_domain')) from beton_raw.events"
        )
        print(f"  scan {result['scan_s']:.2f}s  json {result['json_s']:.2f}s", flush=True)
        wall, elapsed, peak = dbt(project, db, tmp / "t_full", "run", "--full-refresh", as_of=AS_OF)
        result.update(full_wall_s=wall, full_s=elapsed, full_peak_mb=peak)
        result["full_layers"] = layers(tmp / "t_full")
        print(f"  full build {elapsed:.2f}s (wall {wall:.1f}s, peak {peak} MiB)  {result['full_layers']}", flush=True)
        wall, elapsed, peak = dbt(project, db, tmp / "t_rules", "run", as_of=AS_OF, select=["path:models/inspections"])
        result.update(rules_wall_s=wall, rules_s=elapsed, rules_peak_mb=peak)
        print(f"  rules rebuild {elapsed:.2f}s (wall {wall:.1f}s, peak {peak} MiB)", flush=True)
        # one new day, then an incremental run at the new as_of
        write_duckdb(db, project, shape, append_days=1)
        next_as_of = AS_OF.replace(day=2)
        wall, elapsed, peak = dbt(project, db, tmp / "t_inc", "run", as_of=next_as_of)
        result.update(incremental_wall_s=wall, incremental_s=elapsed, incremental_peak_mb=peak)
        result["incremental_layers"] = layers(tmp / "t_inc")
        print(
            f"  incremental {elapsed:.2f}s (wall {wall:.1f}s, peak {peak} MiB)  {result['incremental_layers']}",
            flush=True,
        )
        rebuilt = tmp / "rebuilt.duckdb"
        shutil.copy(db, rebuilt)
        dbt(project, rebuilt, tmp / "t_re", "run", "--full-refresh", as_of=next_as_of)
        result["incremental_equals_full"] = tables_equal(db, rebuilt, [f"insp_{k}" for k in rules] + ["insp_findings"])
        print(f"  incremental == full rebuild: {result['incremental_equals_full']}", flush=True)
        if n <= pandas_max:
            result["pandas_s"] = pandas_rules(db, rules, next_as_of)
            print(f"  pandas {result['pandas_s']:.1f}s", flush=True)
        return result


def machine() -> str:
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, {mem_gb:.0f} GiB, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, DuckDB {duckdb.__version__}"
    )


def write_report(results: list[dict]) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Measured {datetime.now():%Y-%m-%d} by `python bench/rules_bench.py --events "
        + " ".join(str(r["events"]) for r in results)
        + f"` on {machine()}.",
        "",
        "Each row is one run of the script: deterministic synthetic events (`beton generate`), the 10 rules of "
        "`rules/` + `bench/rules/` (both levels, 2 with property filters) built by dbt into a DuckDB file, and "
        "the baselines measured in the same run. Times are DuckDB's (queries) and dbt's own elapsed time "
        "(`run_results.json`; dbt's ~3 s of start-up and parsing excluded, shown as wall time).",
        "",
        "| events | raw scan | JSON pass | full build (wall) | build / JSON pass | rules rebuild (wall) | rules / JSON pass | incremental, +1 day (wall) | incremental / full | = full rebuild | pandas | pandas / build | dbt peak memory |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|---:|---:|---:|",
    ]
    for r in results:
        pandas = f"{r['pandas_s']:.1f} s" if "pandas_s" in r else "not run"
        pandas_ratio = f"{r['pandas_s'] / r['full_s']:.1f}×" if "pandas_s" in r else "—"
        lines.append(
            f"| {r['events']:,} | {r['scan_s']:.2f} s | {r['json_s']:.2f} s | {r['full_s']:.2f} s ({r['full_wall_s']:.1f} s) "
            f"| {r['full_s'] / r['json_s']:.2f}× | {r['rules_s']:.2f} s ({r['rules_wall_s']:.1f} s) | {r['rules_s'] / r['json_s']:.2f}× "
            f"| {r['incremental_s']:.2f} s ({r['incremental_wall_s']:.1f} s) "
            f"| {100 * r['incremental_s'] / r['full_s']:.0f}% | {'yes' if r['incremental_equals_full'] else 'NO'} "
            f"| {pandas} | {pandas_ratio} | {max(r['full_peak_mb'], r['rules_peak_mb'], r['incremental_peak_mb']):,} MiB |"
        )
    lines += [
        "",
        "Where the time goes: each layer's share of the summed model times (`run_results.json`; models run "
        "in parallel, so shares rather than seconds).",
        "",
        "| events | run | " + " | ".join(name for name, _ in LAYERS) + " | other |",
        "|---:|---|" + "---:|" * (len(LAYERS) + 1),
    ]
    for r in results:
        for run in ("full", "incremental"):
            shares = r[f"{run}_layers"]
            lines.append(
                f"| {r['events']:,} | {run} | "
                + " | ".join(f"{shares[name]}%" for name, _ in LAYERS)
                + f" | {shares['other']}% |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--pandas-max", type=int, default=10_000_000, help="skip the pandas baseline above this size")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    parser.add_argument(
        "--keep-notes",
        type=Path,
        default=REPO / "docs" / "benchmarks-notes.md",
        help="appended verbatim after the table when it exists",
    )
    args = parser.parse_args()
    results = [bench(n, args.pandas_max) for n in args.events]
    report = write_report(results)
    if args.keep_notes.is_file():
        report += "\n" + args.keep_notes.read_text()
    print("\n" + report)
    args.out.write_text(report)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
