"""Shared set-up for test_enrich*, test_plays* and test_export* (no tests in this module).

`enriched_project()` copies the session's mock build (conftest `mock_build`) once and runs the
`beton demo` extras on the copy (simulated enrichment, marts, plays, export); every module
reuses that copy read-only.
`fresh_copy()` gives a test its own writable copy of the (un-enriched) mock build.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd

from beton_runner.project import Project

REPO = Path(__file__).resolve().parents[2]
_CACHE: dict[str, Project] = {}


def fresh_copy(mock_build: Project, directory: Path, name: str = "copy") -> Project:
    """A writable copy of the mock build's DuckDB file (same project, own target folder)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.duckdb"
    shutil.copy(mock_build.duckdb_path, path)
    wal = Path(str(mock_build.duckdb_path) + ".wal")
    if wal.exists():
        shutil.copy(wal, Path(str(path) + ".wal"))
    return Project(dir=REPO, target="duckdb", duckdb_path=path, target_path=directory / f"{name}-target")


def enriched_project(mock_build: Project, tmp_path_factory) -> Project:
    """The mock build after `demo_extras` (what `beton demo` runs at its end): simulated
    enrichment with the enriched marts rebuilt, plays, and the export in
    ``demo_output(project) / "export"``. Once per session."""
    if "enriched" not in _CACHE:
        import contextlib
        import io

        from beton_runner.cli.build import demo_extras

        directory = tmp_path_factory.mktemp("enriched")
        project = fresh_copy(mock_build, directory, "enriched")
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            summary = demo_extras(project, directory / "output")
        _CACHE["enriched"] = project
        _CACHE["demo"] = (directory / "output", summary, buffer.getvalue())
    return _CACHE["enriched"]


def demo_output(mock_build: Project, tmp_path_factory):
    """(output folder, ExportSummary, console text) of the demo extras run by `enriched_project`."""
    enriched_project(mock_build, tmp_path_factory)
    return _CACHE["demo"]


def rule_keys() -> list[str]:
    """The shipped rules' keys (file stems), read without beton_runner."""
    return sorted(p.stem for p in (REPO / "rules").glob("*.yml"))


def sql(project: Project, query: str, params: list | None = None) -> pd.DataFrame:
    """Read the warehouse directly (independently of beton_runner)."""
    con = duckdb.connect(str(project.duckdb_path), read_only=True)
    try:
        return con.execute(query, params or []).df()
    finally:
        con.close()


def run_command(
    module: str, name: str, args: list[str], *, project: Project, env: dict | None = None, timeout: int = 300
) -> subprocess.CompletedProcess:
    """One of our click commands in its own process, as `beton <name>` runs it."""
    code = f"from {module} import {name} as command; command(prog_name='beton')"
    full_env = {
        **os.environ,
        "BETON_PROJECT_DIR": str(project.dir),
        "BETON_DUCKDB_PATH": str(project.duckdb_path),
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=str(project.dir),
    )
