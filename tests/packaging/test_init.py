"""`beton init DIR [--force]`: a new project, a non-empty folder refused, a user's rules never overwritten.

Run from the checkout (the template is then the checkout itself); test_wheel.py runs it from a wheel.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from beton_runner.scaffold import template_files
from conftest import REPO

MY_RULE = """\
name: "PQL: Anyone who exported"
level: user
time_window_days: 30
conditions:
  event_names: [exported_report]
  min_event_count: 1
scoring_weights:
  event_count_weight: 1.0
  active_days_weight: 0.0
  recency_weight: 0.0
"""


def beton(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BETON_")}
    return subprocess.run(
        [sys.executable, "-m", "beton_runner.cli", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120
    )


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_init_writes_the_project_and_says_what_next(tmp_path):
    result = beton("init", "new/acme", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    project = tmp_path / "new" / "acme"
    expected = {str(p) for p in template_files(REPO)} | {"rule.schema.json", "README.md", ".gitignore"}
    assert files_under(project) == expected
    assert (project / "models" / "staging").is_dir() and (
        project / "seeds" / "mock" / "beton_mock_events.csv"
    ).is_file()
    assert (project / "dbt_project.yml").read_bytes() == (REPO / "dbt_project.yml").read_bytes()
    assert "*.duckdb" in (project / ".gitignore").read_text().splitlines()
    assert (project / "README.md").read_text().startswith("# acme\n")
    lines = result.stdout.splitlines()
    assert "  cd new/acme" in lines
    assert any(line.strip().startswith("beton demo") for line in lines)
    # the new project is found from inside it, and its rules and generated models agree
    check = beton("rules", "check", cwd=project / "rules")
    assert check.returncode == 0, check.stderr
    shipped = len(list((REPO / "rules").glob("*.yml")))
    assert f"{shipped} rule(s) valid, generated models up to date" in check.stdout


def test_init_refuses_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "notes.txt").write_text("mine\n")
    result = beton("init", ".", cwd=tmp_path)
    assert result.returncode == 1
    assert "is not empty" in result.stderr and "--force" in result.stderr
    assert files_under(tmp_path) == {"notes.txt"}

    (tmp_path / "a_file").write_text("")
    result = beton("init", "a_file", cwd=tmp_path)
    assert result.returncode == 1 and "is a file, not a folder" in result.stderr


def test_force_keeps_the_users_rules_readme_and_gitignore(tmp_path):
    project = tmp_path / "acme"
    (project / "rules").mkdir(parents=True)
    (project / "rules" / "my_exporters.yml").write_text(MY_RULE)
    (project / "README.md").write_text("# our README\n")
    (project / ".gitignore").write_text("secrets/\n")
    (project / "profiles.yml").write_text("# an old profile\n")

    result = beton("init", "--force", "acme", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (project / "rules" / "my_exporters.yml").read_text() == MY_RULE
    assert sorted(p.name for p in (project / "rules").iterdir()) == ["my_exporters.yml"]  # no examples added
    assert (project / "README.md").read_text() == "# our README\n"
    assert (project / ".gitignore").read_text() == "secrets/\n"
    assert (project / "profiles.yml").read_bytes() == (REPO / "profiles.yml").read_bytes()  # the project's machinery
    assert "kept: rules/my_exporters.yml, README.md, .gitignore" in result.stdout
    assert "1 replaced" in result.stdout
    # the generated models are those of the rules in the folder, not of the examples
    rule_models = sorted(p.name for p in (project / "models" / "inspections" / "rules").glob("*.sql"))
    assert rule_models == ["insp_my_exporters.sql"]
    check = beton("--project-dir", str(project), "rules", "check", cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    assert "1 rule(s) valid, generated models up to date" in check.stdout


def test_force_with_invalid_rules_writes_the_project_and_lists_the_problems(tmp_path):
    project = tmp_path / "acme"
    (project / "rules").mkdir(parents=True)
    (project / "rules" / "broken.yml").write_text(MY_RULE.replace("level: user", "level: usr"))
    result = beton("init", "--force", "acme", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "rules/broken.yml:2: level:" in result.stderr and "beton rules compile" in result.stderr
    assert (project / "rules" / "broken.yml").read_text().startswith(MY_RULE.splitlines()[0])
    assert (project / "dbt_project.yml").is_file()
