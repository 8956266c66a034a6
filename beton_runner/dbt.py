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
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .errors import DbtCommandError, Interrupted, NodeResult
from .project import Project

# How long dbt gets to stop after SIGTERM before it is killed.
STOP_GRACE_SECONDS = 20

ProgressCallback = Callable[[dict], None]


@dataclass
class DbtResult:
    command: str
    node_results: list[NodeResult] = field(default_factory=list)
    elapsed: float | None = None

    def built(self, resource_type: str = "model") -> list[NodeResult]:
        """The nodes of this type that ran successfully (e.g. the models built)."""
        return [
            r
            for r in self.node_results
            if r.unique_id.split(".", 1)[0] == resource_type and r.status in ("success", "pass")
        ]


@contextmanager
def _stopping_child_on_signals(process: subprocess.Popen) -> Iterator[list[int]]:
    """While dbt runs, SIGTERM (cron, systemd, CI cancellation, `timeout`) and SIGINT (Ctrl-C) stop
    dbt too, and wait for it: it must not go on writing and holding the DuckDB lock after `beton`
    is gone. Yields the list the received signal numbers are appended to."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():  # signals can only be handled there
        yield received
        return

    def forward(signum, _frame):
        received.append(signum)
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _wait_stopped(process: subprocess.Popen) -> None:
    try:
        process.wait(timeout=STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


def _dbt_args(
    project: Project, command: list[str], vars: dict | None, select: Iterable[str] | None, extra: Iterable[str]
) -> list[str]:
    args = [
        "--log-format",
        "json",
        "--log-level",
        "info",
        *command,
        "--project-dir",
        str(project.dir),
        "--profiles-dir",
        str(project.profiles_dir or project.dir),
        *(["--profile", project.profile] if project.profile else []),
        "--target",
        project.target,
        "--target-path",
        str(project.dbt_target_path),
        "--log-path",
        str(project.dbt_target_path / "logs"),
    ]
    if vars:
        args += ["--vars", json.dumps(vars, sort_keys=True)]
    for selector in select or []:
        args += ["--select", selector]
    args += list(extra)
    return args


def dbt_invocation(project: Project, vars: dict | None) -> tuple[dict, dict[str, str]]:
    """The --vars and the environment a dbt command of ``project`` runs with, for ``vars``."""
    # as_of goes to dbt as env BETON_AS_OF, not as a var (macros/inputs/as_of.sql): dbt parses the
    # whole project again whenever --vars change, and as_of changes every run
    vars = dict(vars or {})
    env = project.dbt_env()
    env.pop("BETON_AS_OF", None)
    as_of = vars.pop("beton_as_of", None)
    if as_of is not None:
        env["BETON_AS_OF"] = str(as_of)
    return vars, env


def run_dbt(
    project: Project,
    command: list[str],
    *,
    vars: dict | None = None,
    select: Iterable[str] | None = None,
    extra: Iterable[str] = (),
    on_event: ProgressCallback | None = None,
) -> DbtResult:
    """Run one dbt command; raise ``DbtCommandError`` unless it fully succeeded."""
    vars, env = dbt_invocation(project, vars)
    args = _dbt_args(project, command, vars, select, extra)
    label = "dbt " + " ".join(command)
    (project.dbt_target_path / "run_results.json").unlink(missing_ok=True)
    # Its own process group: a signal to `beton` is forwarded to dbt and whatever dbt started.
    process = subprocess.Popen(
        [sys.executable, "-c", "from dbt.cli.main import cli; cli()", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=env,
        cwd=str(project.dir),
        start_new_session=True,
    )
    errors: list[str] = []
    plain: list[str] = []
    assert process.stdout is not None
    with _stopping_child_on_signals(process) as received:
        try:
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
                if on_event is not None and not received:
                    on_event(event)
        finally:
            if process.poll() is None and received:
                os.killpg(process.pid, signal.SIGTERM)
            _wait_stopped(process)
    code = process.returncode
    if received:
        name = signal.Signals(received[0]).name
        raise Interrupted(
            f"{label} stopped by {name}: dbt was stopped too and the warehouse is released; "
            "incremental models resume on the next run",
            signum=received[0],
        )
    node_results = (
        _node_results(project.dbt_target_path / "run_results.json")
        if command[0] in ("build", "run", "seed", "test", "compile")
        else []
    )
    if code == 0:
        return DbtResult(label, node_results)
    failed = [r for r in node_results if r.status in ("error", "fail", "runtime error")]
    if code == 1 and failed:
        skipped = sum(1 for r in node_results if r.status == "skipped")
        lines = [line for r in failed for line in _describe_failure(r)]
        after = f"\n{skipped} node(s) downstream of it were skipped." if skipped else ""
        raise DbtCommandError(
            label,
            f"{label} failed on {len(failed)} node(s):\n"
            + "\n".join(lines)
            + after
            + f"\nDetails: {project.dbt_target_path / 'logs' / 'dbt.log'}",
            failed,
        )
    message = "\n".join(m for m in errors if m).strip() or "\n".join(plain[-15:]).strip() or f"exit code {code}"
    raise DbtCommandError(label, f"{label} failed: {message}")


_MAX_CAUSE_LINES = 12


def _describe_failure(result: NodeResult) -> list[str]:
    """A failed node and its real cause: dbt's message starts with a generic header ("Runtime
    Error in model X (path)"); what went wrong (a binder error, a full disk, a failing test's
    count) is in the lines after it."""
    lines = [line.rstrip() for line in (result.message or "").strip().splitlines()]
    header = lines[0] if lines else ""
    # dedented, not stripped: a caret under the failing SQL keeps pointing at it
    cause = [line for line in textwrap.dedent("\n".join(lines[1:])).splitlines() if line.strip()]
    if not cause:  # a one-line message is its own cause (e.g. "Got 3 results, configured to fail if != 0")
        return [f"  {result.unique_id}: {result.status}: {header}"]
    shown = cause[:_MAX_CAUSE_LINES]
    more = [f"    … ({len(cause) - len(shown)} more line(s) in the log)"] if len(cause) > len(shown) else []
    return [f"  {result.unique_id}: {result.status}: {header}", *(f"    {line}" for line in shown), *more]


def _node_results(path: Path) -> list[NodeResult]:
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return []
    return [
        NodeResult(r.get("unique_id", "?"), str(r.get("status", "?")), r.get("message"))
        for r in data.get("results", [])
    ]
