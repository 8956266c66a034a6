"""The built wheel is enough: `pip install beton_inspector-*.whl`, `beton init DIR`, `cd DIR && beton demo`.

The wheel is built from a copy of the checkout's files (those git tracks or would track, so no
stale build/ folder rides along), installed with --no-deps into a fresh venv under tmp whose
dependencies are the running environment's site-packages (a .pth line: nothing is downloaded
again, and beton_runner itself comes only from the wheel — asserted below), and run from a
folder outside the repository with no BETON_* variables set.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import yaml
from test_punch_lists_mock import assert_same_punch_list

from beton_runner.scaffold import TEMPLATE_DIRS, TEMPLATE_FILES, template_files
from conftest import MOCK_AS_OF, REPO, read_table
from oracle import load_mock, punch_list

TEMPLATE_PREFIX = "beton_runner/project_template/"


def _source_files() -> list[str]:
    """The checkout's files as a clean clone would have them (tracked, or new and not ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        check=True,
        capture_output=True,
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and (REPO / name).is_file()]


def _run(args: list[str], *, cwd: Path, env: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"
    for name in _source_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, source / name)
    out = tmp / "dist"
    _run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-q", "-w", str(out)],
        cwd=tmp,
        env=dict(os.environ),
    )
    (built,) = out.glob("beton_inspector-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> dict:
    """A venv with the wheel installed; its dependencies are this environment's (no download)."""
    tmp = tmp_path_factory.mktemp("venv")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    # this environment's packages, after the venv's own: plain path lines, so the editable
    # install's finder (a .pth *import* line there) is never run and cannot shadow the wheel
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "_beton_test_dependencies.pth").write_text("\n".join(sorted(deps)) + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BETON_", "PYTHON", "DBT_", "VIRTUAL_ENV"))}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["BETON_THREADS"] = "2"
    _run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)], cwd=tmp, env=env)
    return {"venv": venv, "python": python, "beton": venv / "bin" / "beton", "env": env, "tmp": tmp}


def test_wheel_carries_the_dbt_project(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    # exactly the files `beton init` copies from a checkout
    packaged = {n[len(TEMPLATE_PREFIX) :] for n in names if n.startswith(TEMPLATE_PREFIX)}
    assert packaged == {str(p) for p in template_files(REPO)}
    for name in TEMPLATE_FILES:
        assert name in packaged
    for folder in (*TEMPLATE_DIRS, "rules"):
        assert any(p.startswith(folder + "/") for p in packaged), f"{folder}/ missing from the wheel"
    assert "models/inspections/rules/insp_pql_power_users.sql" in packaged
    assert "seeds/mock/beton_mock_events.csv" in packaged
    assert "tests/dbt/assert_cross_db_functions.sql" in packaged
    assert "beton_runner/rules/rule.schema.json" in names
    # nothing but the project: no Python, docs or tests of the checkout under the template
    assert not [p for p in packaged if p.endswith(".py") or p.startswith(("docs/", "beton_runner/", "tests/cli"))]
    # every package of the checkout (pyproject lists them by hand)
    packages = {str(p.parent.relative_to(REPO)) for p in (REPO / "beton_runner").rglob("__init__.py")}
    assert packages and all(f"{p}/__init__.py" in names for p in packages)
    # SPDX licence metadata (PEP 639) and the licence text
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    headers = zipfile.ZipFile(wheel).read(metadata).decode().split("\n\n")[0].splitlines()
    assert "License-Expression: Apache-2.0" in headers
    assert "License-File: LICENSE" in headers
    licence = next(n for n in names if n.endswith(".dist-info/licenses/LICENSE"))
    assert "Apache License" in zipfile.ZipFile(wheel).read(licence).decode()[:200]


def test_init_then_demo_from_the_wheel(installed, tmp_path):
    env, beton, python = installed["env"], str(installed["beton"]), str(installed["python"])
    work = tmp_path / "elsewhere"  # outside the repository: no dbt_project.yml at or above it
    work.mkdir()
    where = _run(
        [python, "-c", "import beton_runner.scaffold as s; print(s.__file__); print(s.template_root())"],
        cwd=work,
        env=env,
    ).stdout.split()
    venv = str(installed["venv"])
    assert where[0].startswith(venv) and where[1].startswith(venv), f"not the wheel's files: {where}"

    # no project here yet: one clear message that names `beton init`
    missing = subprocess.run([beton, "rules", "list"], cwd=work, env=env, capture_output=True, text=True)
    assert missing.returncode != 0 and "beton init DIR" in missing.stderr

    init = _run([beton, "init", "acme"], cwd=work, env=env)
    project = work / "acme"
    assert "cd acme" in init.stdout and "beton demo" in init.stdout
    for name in ("dbt_project.yml", "profiles.yml", "destinations.example.yml", "README.md", ".gitignore"):
        assert (project / name).is_file(), name
    rule_files = sorted(p.name for p in (project / "rules").glob("*.yml"))
    assert rule_files == sorted(p.name for p in (REPO / "rules").glob("*.yml"))
    assert (
        (project / "rules" / "pql_power_users.yml")
        .read_text()
        .startswith("# yaml-language-server: $schema=../rule.schema.json")
    )
    assert yaml.safe_load((project / "rule.schema.json").read_text()) == yaml.safe_load(
        (REPO / "beton_runner" / "rules" / "rule.schema.json").read_text()
    )

    check = _run([beton, "--project-dir", str(project), "rules", "check"], cwd=work, env=env)
    assert f"{len(rule_files)} rule(s) valid, generated models up to date" in check.stdout

    demo = _run([beton, "demo"], cwd=project, env=env)  # the project found from the CWD
    assert f"{len(rule_files)} punch list(s) built" in demo.stdout
    keys = [Path(name).stem for name in rule_files]
    for key in keys:
        assert (project / "output" / "punch_lists" / f"{key}.csv").is_file(), key
    # the punch lists are the right ones: equal to the pandas oracle on the mock data
    frames = load_mock(project / "seeds")
    for key in keys:
        rule = yaml.safe_load((project / "rules" / f"{key}.yml").read_text())
        expected = punch_list(
            rule, frames["events"], frames["persons"], frames["person_distinct_id"], frames["accounts"], MOCK_AS_OF
        )
        actual = read_table(project / "beton.duckdb", "beton_inspections", f"insp_{key}")
        assert len(actual) > 0, key
        assert_same_punch_list(actual, expected, key)
    assert (project / "output" / "export").is_dir()


def test_completion_script_from_the_installed_command(installed, tmp_path):
    env = {**installed["env"], "_BETON_COMPLETE": "bash_source"}
    script = _run([str(installed["beton"])], cwd=tmp_path, env=env).stdout
    assert "_beton_completion()" in script and "complete -o nosort -F _beton_completion beton" in script
