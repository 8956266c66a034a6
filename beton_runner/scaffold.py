"""`beton init`: a new Beton Inspector project, written from the dbt project the package carries.

The template is the repository's own project. A wheel carries it as the package data
``beton_runner/project_template/`` (pyproject.toml maps that package onto the repository root,
so git holds each file once); from a clone or an editable install it is the checkout itself.
Either way the same files are copied: ``TEMPLATE_FILES`` and ``TEMPLATE_DIRS`` below, which
pyproject.toml's package-data for ``beton_runner.project_template`` lists too
(tests/packaging/test_wheel.py checks the two agree).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from . import __version__
from .errors import ConfigError
from .project import PACKAGE_DIR
from .rules.testing import TESTS_DIR as RULE_TESTS_DIR

PACKAGED_TEMPLATE = PACKAGE_DIR / "project_template"
SOURCE_CHECKOUT = PACKAGE_DIR.parent

# Single files and whole folders of the dbt project, relative to its root. rules/ is apart:
# example rules are written only into a project that has none.
TEMPLATE_FILES = ("dbt_project.yml", "profiles.yml", "destinations.example.yml", "destinations.schema.json")
TEMPLATE_DIRS = ("macros", "models", "seeds", "tests/dbt")
RULES_DIR = "rules"
RULE_SUFFIXES = (".yml", ".yaml")

# The rules' JSON Schema (for editors) sits beside the package's validator; a new project gets a
# copy at its root, and the example rules' yaml-language-server comments point there.
RULE_SCHEMA = PACKAGE_DIR / "rules" / "rule.schema.json"
RULE_SCHEMA_NAME = "rule.schema.json"
_CHECKOUT_SCHEMA_COMMENT = "$schema=../beton_runner/rules/rule.schema.json"
_PROJECT_SCHEMA_COMMENT = f"$schema=../{RULE_SCHEMA_NAME}"

# Files a user is likely to have made their own: kept when present (with --force too).
KEEP_IF_PRESENT = ("README.md", ".gitignore")

GITIGNORE = """\
# written by dbt and beton; rebuilt by `beton run` / `beton demo`
target/
dbt_packages/
logs/
output/
*.duckdb
*.duckdb.wal
.venv/
"""

README = """\
# {name}

A Beton Inspector project: inspection rules over
product-usage data, built into PQL/PQA punch lists by dbt (written by `beton init`, Beton
Inspector {version}).

```bash
beton demo              # every punch list on the built-in mock data, in the DuckDB file beton.duckdb
beton rules check       # after editing rules/*.yml: every problem at once, with file and line
beton rules test        # the rule tests in rules/tests/: whom each rule must flag, on inline events
beton plan              # before a build: who would enter or leave each punch list
beton run               # check and compile the rules, then dbt build
BETON_INPUT=source beton run    # on your own data (the raw tables, or `beton ingest posthog`)
```

- `rules/`: one YAML file per inspection rule (the file name is the rule's key); editors
  complete and check them with `rule.schema.json`. `rules/tests/`: rule tests (`beton rules
  test`; the format is in Beton Inspector's docs/rules.md, "Testing rules").
- `models/`, `macros/`, `seeds/`, `tests/dbt/`: the dbt project. `models/inspections/rules/` and
  `models/intermediate/rules/` are generated from the rules by `beton rules compile` (commit them).
- `profiles.yml`: the DuckDB and ClickHouse connections, every value from an environment
  variable (`BETON_DUCKDB_PATH`, `CLICKHOUSE_HOST`, …).
- `destinations.example.yml`: where `beton deliver` sends the changes; copy it to
  `destinations.yml` and keep what you use.

`beton init --force .` with a newer Beton Inspector brings the dbt project up to date; your
rules, this README and .gitignore are kept.
"""


@dataclass
class InitSummary:
    """What `beton init` did, relative to the new project's folder."""

    directory: Path
    written: list[Path] = field(default_factory=list)
    replaced: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)
    example_rules: bool = False  # False: the folder had rules of its own, none were added


def template_root() -> Path:
    """The folder holding the dbt project to copy: the wheel's package data, else the checkout."""
    for root in (PACKAGED_TEMPLATE, SOURCE_CHECKOUT):
        if (root / "dbt_project.yml").is_file() and (root / RULES_DIR).is_dir():
            return root
    raise ConfigError(
        f"this installation of beton has no project template ({PACKAGED_TEMPLATE} is missing): "
        "reinstall Beton Inspector from a wheel or a clone"
    )


def _is_rule_file(path: Path) -> bool:
    return path.is_file() and path.suffix in RULE_SUFFIXES


def template_files(root: Path | None = None) -> list[Path]:
    """Every file `beton init` copies from the template, relative to its root, sorted."""
    root = root or template_root()
    files = [Path(name) for name in TEMPLATE_FILES if (root / name).is_file()]
    for folder in TEMPLATE_DIRS:
        files += [
            path.relative_to(root)
            for path in (root / folder).rglob("*")
            if path.is_file() and not any(part.startswith(".") or part == "__pycache__" for part in path.parts)
        ]
    files += [path.relative_to(root) for path in (root / RULES_DIR).iterdir() if _is_rule_file(path)]
    # the example rules' tests (`beton rules test`), written with the example rules
    tests = root / RULES_DIR / RULE_TESTS_DIR  # rules/tests/ (beton_runner/rules/testing.py)
    files += [path.relative_to(root) for path in tests.iterdir() if _is_rule_file(path)] if tests.is_dir() else []
    return sorted(files)


def _rule_text(source: Path) -> str:
    """An example rule, its schema comment pointing at the new project's copy of the schema."""
    return source.read_text(encoding="utf-8").replace(_CHECKOUT_SCHEMA_COMMENT, _PROJECT_SCHEMA_COMMENT, 1)


def init_project(directory: str | Path, *, force: bool = False) -> InitSummary:
    """Write a new project into ``directory`` (created if missing).

    A folder with anything in it is refused unless ``force``; then the template's files replace
    those of the same name, except that a user's rules are never touched (and when the folder
    has rules of its own, no example rule is added) and README.md and .gitignore are kept. The
    generated rule models are the template's: when the folder's rules are not the examples, run
    `beton rules compile` (the CLI does).
    """
    target = Path(directory).expanduser().resolve()
    if target.exists() and not target.is_dir():
        raise ConfigError(f"{target} is a file, not a folder; pick a new folder for the project")
    if target.is_dir() and any(target.iterdir()) and not force:
        raise ConfigError(
            f"{target} is not empty; pick a new or empty folder, or add --force to write the project "
            "into it (your rules, README.md and .gitignore are kept; other files of the same name are replaced)"
        )
    root = template_root()
    summary = InitSummary(directory=target)
    rules_dir = target / RULES_DIR
    has_own_rules = rules_dir.is_dir() and any(_is_rule_file(p) for p in rules_dir.iterdir())
    summary.example_rules = not has_own_rules
    if has_own_rules:
        summary.kept += sorted(p.relative_to(target) for p in rules_dir.iterdir() if _is_rule_file(p))

    def put(relative: Path, content: bytes) -> None:
        dest = target / relative
        if dest.exists():
            if dest.read_bytes() == content:
                return
            summary.replaced.append(relative)
        else:
            summary.written.append(relative)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(content)

    for relative in template_files(root):
        if relative.parts[0] == RULES_DIR:
            if has_own_rules:
                continue
            put(relative, _rule_text(root / relative).encode("utf-8"))
        else:
            put(relative, (root / relative).read_bytes())
    put(Path(RULE_SCHEMA_NAME), RULE_SCHEMA.read_bytes())
    rules_dir.mkdir(parents=True, exist_ok=True)
    extras = {"README.md": README.format(name=target.name, version=__version__), ".gitignore": GITIGNORE}
    for name, content in extras.items():
        if (target / name).exists():
            summary.kept.append(Path(name))
        else:
            put(Path(name), content.encode("utf-8"))
    return summary
