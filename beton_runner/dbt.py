"""The one place dbt is driven from.

dbt runs in a subprocess (``python -c 'from dbt.cli.main import cli; cli()'``): dbtRunner is
not safe for concurrent calls in one process and repeated in-process runs can hold stale
DuckDB connections (dbt-core #12615, dbt-duckdb #203). Progress comes from dbt's JSON log
lines; the outcome is mapped explicitly, as dbtRunner's three outcomes are:

- exit 0: success;
- exit 1: handled node failures -> ``DbtCommandError`` with per-node results from
  run_results.json;
- anything else: dbt itself failed (bad project, no connection…) -> ``DbtCommandError`` with
  dbt's own error message.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from .errors import DbtCommandError, NodeResult
from .project import Project

ProgressCallback = Callable[[dict], None]


@dataclass
class DbtResult:
    command: str
    node_results: list[NodeResult] = field(default_factory=list)
    elapsed: float | None = None


def _dbt_args(project: Project, command: list[str], vars: dict | None, select: Iterable[str] | None,
              extra: Iterable[str]) -> list[str]:
    args = [
        "--log-format", "json",
        "--log-level", "info",
        *command,
        "--project-dir", str(project.dir),
        "--profiles-dir", str(project.dir),
        "--target", project.target,
        "--target-path", str(project.dbt_target_path),
        "--log-path", str(project.dbt_target_path / "logs"),
    ]
    if vars:
        args += ["--vars", json.dumps(vars, sort_keys=True)]
    for selector in select or []:
        args += ["--select", selector]
    args += list(extra)
    return args


def run_dbt(project: Project, command: list[str], *, vars: dict | None = None, select: Iterable[str] | None = None,
            extra: Iterable[str] = (), on_event: ProgressCallback | None = None) -> DbtResult:
    """Run one dbt command; raise ``DbtCommandError`` unless it fully succeeded."""
    args = _dbt_args(project, command, vars, select, extra)
    label = "dbt " + " ".join(command)
    (project.dbt_target_path / "run_results.json").unlink(missing_ok=True)
    process = subprocess.Popen(
        [sys.executable, "-c", "from dbt.cli.main import cli; cli()", *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8", errors="replace",
        env=project.dbt_env(), cwd=str(project.dir),
    )
    errors: list[str] = []
    plain: list[str] = []
    assert process.stdout is not None
    for line in process.stdout:
        line = line.rstrip("\n")
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            plain.append(line)
            continue
        info = event.get("info", {})
        if info.get("level") == "error":
            errors.append(info.get("msg", ""))
        if on_event is not None:
            on_event(event)
    code = process.wait()
    node_results = _node_results(project.dbt_target_path / "run_results.json") if command[0] in ("build", "run", "seed", "test", "compile") else []
    if code == 0:
        return DbtResult(label, node_results)
    failed = [r for r in node_results if r.status in ("error", "fail", "runtime error")]
    if code == 1 and failed:
        lines = [f"  {r.unique_id}: {r.status}: {(r.message or '').strip().splitlines()[0] if r.message else ''}" for r in failed]
        raise DbtCommandError(label, f"{label} failed on {len(failed)} node(s):\n" + "\n".join(lines) +
                              f"\nDetails: {project.dbt_target_path / 'logs' / 'dbt.log'}", failed)
    message = "\n".join(m for m in errors if m).strip() or "\n".join(plain[-15:]).strip() or f"exit code {code}"
    raise DbtCommandError(label, f"{label} failed: {message}")


def _node_results(path: Path) -> list[NodeResult]:
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return []
    return [NodeResult(r.get("unique_id", "?"), str(r.get("status", "?")), r.get("message")) for r in data.get("results", [])]


def compiled_sql(project: Project, model_name: str, *, vars: dict | None = None) -> str:
    """The SQL dbt compiles for one model (what the rule runs)."""
    run_dbt(project, ["compile"], vars=vars, select=[model_name])
    manifest = json.loads((project.dbt_target_path / "manifest.json").read_text(encoding="utf-8"))
    node = manifest["nodes"].get(f"model.beton.{model_name}")
    if node is None or not node.get("compiled_code"):
        raise DbtCommandError("dbt compile", f"dbt compiled no SQL for model {model_name}")
    return node["compiled_code"].strip() + "\n"
