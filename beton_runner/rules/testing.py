"""Rule tests (`beton rules test`): rules/tests/*.yml.

A test file gives small input data inline (events, persons, accounts), an ``as_of`` and, per
rule, the findings expected in its punch list (with metrics, score, rank) and the entities
expected not to be there. Each file is run the way a user's data is: its rows are written as the
four input tables of a throwaway DuckDB file, dbt runs the real models (staging, rollups, the
rule's model) for the rules the file names (``--select +insp_<rule>``), and the punch lists it
built are compared with the expectations. Nothing of the project's own warehouse is read or
written. Format and reasons: docs/rules.md, "Testing rules".
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ..columns import columns_for
from ..errors import ConfigError, RuleError, RuleIssue
from ..project import Project
from .normalise import Rule
from .validate import Yaml12Loader, _display, _Located

TESTS_DIR = "tests"  # rules/tests/
SCORE_TOLERANCE = 1e-6  # a non-integer number (a score) matches within this, absolute or relative
MAX_REPEAT = 100_000
# The fixture is written as the input data model at its default place and names, whatever schema
# mapping the project sets for its own data (docs/schema-mapping.md); the account link settings
# are kept: they are part of what a rule means.
FIXTURE_VARS = {
    "beton_source_database": None,
    "beton_events_table": "events",
    "beton_persons_table": "persons",
    "beton_person_distinct_id_table": "person_distinct_id",
    "beton_accounts_table": "accounts",
    "beton_columns": {},
}

_EVENT_KEYS = {"event", "distinct_id", "timestamp", "properties", "uuid", "person_id", "repeat"}
_PERSON_KEYS = {"id", "distinct_ids", "created_at", "properties", "is_identified"}
_ACCOUNT_KEYS = {"account_id", "name", "domain", "arr", "segment", "owner_email", "properties"}
_TOP_KEYS = {"description", "as_of", "given", "expect"}
_EXPECT_KEYS = {"findings", "absent", "exactly"}


@dataclass
class Mismatch:
    """One expectation that did not hold, with where it is written."""

    file: str
    line: int | None
    rule: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.rule}: {self.message}"


@dataclass
class Expectation:
    rule: str
    line: int | None
    findings: list[tuple[dict, int | None]]  # (expected columns, line)
    absent: list[tuple[str, int | None]]
    exactly: bool


@dataclass
class RuleTestFile:
    path: Path
    display: str
    as_of: datetime
    inputs: dict[str, pd.DataFrame]
    expectations: list[Expectation]
    description: str | None = None


@dataclass
class RuleTestResult:
    test: RuleTestFile
    punch_lists: dict[str, pd.DataFrame] = field(default_factory=dict)
    mismatches: list[Mismatch] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.mismatches


def test_files(rules_dir: Path) -> list[Path]:
    """rules/tests/*.yml."""
    folder = rules_dir / TESTS_DIR
    files = (
        sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in (".yml", ".yaml")) if folder.is_dir() else []
    )
    return files


# --- reading a test file ------------------------------------------------------------------------


class _Reader:
    """Reads one test file, collecting every problem with its line."""

    def __init__(self, path: Path, display: str, rules: dict[str, Rule]):
        self.path = path
        self.display = display
        self.rules = rules
        self.issues: list[RuleIssue] = []
        self.located = _Located(None)

    def issue(self, path: tuple, message: str) -> None:
        self.issues.append(
            RuleIssue(self.display, self.located.line(path), ".".join(str(p) for p in path) or None, message)
        )

    def load(self) -> dict | None:
        try:
            text = self.path.read_text(encoding="utf-8")
            self.located = _Located(yaml.compose(text, Loader=Yaml12Loader))
            doc = yaml.load(text, Loader=Yaml12Loader)  # noqa: S506 (the YAML 1.2 safe loader)
        except (OSError, UnicodeDecodeError) as exc:
            self.issues.append(RuleIssue(self.display, None, None, f"cannot read the file: {exc}"))
            return None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            self.issues.append(RuleIssue(self.display, line, None, f"not valid YAML: {exc}"))
            return None
        if not isinstance(doc, dict):
            self.issues.append(RuleIssue(self.display, 1, None, "a rule test is a mapping with as_of, given, expect"))
            return None
        return doc

    def unknown_keys(self, mapping: dict, allowed: set[str], path: tuple) -> None:
        for key in mapping:
            if key not in allowed:
                self.issue((*path, key), f"unknown key '{key}'; allowed: {', '.join(sorted(allowed))}")

    def instant(self, value: Any, path: tuple) -> datetime | None:
        from ..cli.options import parse_as_of

        if not isinstance(value, str):
            self.issue(path, "write the instant as quoted text, e.g. '2026-10-01 12:00:00' (UTC)")
            return None
        try:
            return parse_as_of(value)
        except ConfigError:
            self.issue(path, f"{value!r} is not an instant: use 'YYYY-MM-DD HH:MM:SS[.ffffff]' (UTC) or ISO 8601")
            return None

    def properties(self, value: Any, path: tuple) -> str:
        if value is None:
            return "{}"
        if isinstance(value, str):
            return value  # the JSON text as the input table holds it (invalid JSON is allowed: staging copes)
        if isinstance(value, dict):
            return json.dumps(value, ensure_ascii=False)
        self.issue(path, "properties is a mapping (or its JSON text)")
        return "{}"

    def rows(self, doc: dict, name: str, allowed: set[str]) -> list[tuple[dict, tuple]]:
        given = doc.get("given") or {}
        items = given.get(name) or [] if isinstance(given, dict) else []
        if not isinstance(items, list):
            self.issue(("given", name), f"given.{name} is a list of rows")
            return []
        out = []
        for i, item in enumerate(items):
            path = ("given", name, i)
            if not isinstance(item, dict):
                self.issue(path, "each row is a mapping")
                continue
            self.unknown_keys(item, allowed, path)
            out.append((item, path))
        return out

    def text(self, item: dict, key: str, path: tuple, *, required: bool) -> str | None:
        value = item.get(key)
        if value is None:
            if required:
                self.issue((*path, key) if key in item else path, f"'{key}' is required")
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            self.issue((*path, key), f"'{key}' is text")
            return None
        return str(value)

    def read(self) -> RuleTestFile | None:
        doc = self.load()
        if doc is None:
            return None
        self.unknown_keys(doc, _TOP_KEYS, ())
        as_of = self.instant(doc.get("as_of"), ("as_of",)) if "as_of" in doc else None
        if "as_of" not in doc:
            self.issue((), "'as_of' is required: the instant the rules are evaluated at")
        if "given" in doc and not isinstance(doc["given"], dict):
            self.issue(("given",), "given is a mapping with events, persons, accounts")
        elif isinstance(doc.get("given"), dict):
            self.unknown_keys(doc["given"], {"events", "persons", "accounts"}, ("given",))
        inputs = self.inputs(doc, as_of)
        expectations = self.expectations(doc)
        if self.issues or as_of is None:
            return None
        description = doc.get("description")
        return RuleTestFile(self.path, self.display, as_of, inputs, expectations, str(description or "") or None)

    def inputs(self, doc: dict, as_of: datetime | None) -> dict[str, pd.DataFrame]:
        default_time = as_of or datetime(1970, 1, 1)
        events = []
        for item, path in self.rows(doc, "events", _EVENT_KEYS):
            event = self.text(item, "event", path, required=True)
            distinct_id = self.text(item, "distinct_id", path, required=True)
            at = self.instant(item.get("timestamp"), (*path, "timestamp")) if "timestamp" in item else None
            if "timestamp" not in item:
                self.issue(path, "'timestamp' is required")
            repeat = item.get("repeat", 1)
            if isinstance(repeat, bool) or not isinstance(repeat, int) or not 1 <= repeat <= MAX_REPEAT:
                self.issue((*path, "repeat"), f"repeat is a whole number from 1 to {MAX_REPEAT}")
                repeat = 1
            uuid = self.text(item, "uuid", path, required=False)
            properties = self.properties(item.get("properties"), (*path, "properties"))
            for n in range(repeat):
                events.append(
                    {
                        # a uuid per row (the same uuid twice is one event: docs/rules.md, "Events")
                        "uuid": uuid if uuid is not None else f"{path[2] + 1}.{n + 1}",
                        "event": event,
                        "distinct_id": distinct_id,
                        "timestamp": at,
                        "properties": properties,
                        "person_id": self.text(item, "person_id", path, required=False),
                    }
                )
        persons, mappings = [], []
        for item, path in self.rows(doc, "persons", _PERSON_KEYS):
            person_id = self.text(item, "id", path, required=True)
            ids = item.get("distinct_ids", [])
            if not isinstance(ids, list) or not all(isinstance(d, (str, int)) and not isinstance(d, bool) for d in ids):
                self.issue((*path, "distinct_ids"), "distinct_ids is a list of distinct ids (text)")
                ids = []
            created = item.get("created_at")
            persons.append(
                {
                    "id": person_id,
                    "created_at": self.instant(created, (*path, "created_at")) if created else default_time,
                    "properties": self.properties(item.get("properties"), (*path, "properties")),
                    "is_identified": bool(item.get("is_identified", True)),
                }
            )
            mappings += [{"person_id": person_id, "distinct_id": str(d)} for d in ids]
        accounts = []
        for item, path in self.rows(doc, "accounts", _ACCOUNT_KEYS):
            arr = item.get("arr")
            if arr is not None and (isinstance(arr, bool) or not isinstance(arr, (int, float))):
                self.issue((*path, "arr"), "arr is a number")
                arr = None
            accounts.append(
                {
                    "account_id": self.text(item, "account_id", path, required=True),
                    **{k: self.text(item, k, path, required=False) for k in ("name", "domain", "segment")},
                    "arr": float(arr) if arr is not None else None,
                    "owner_email": self.text(item, "owner_email", path, required=False),
                    "properties": self.properties(item.get("properties"), (*path, "properties")),
                }
            )
        from ..datagen.synthetic import RAW_TABLES

        rows = {"events": events, "persons": persons, "person_distinct_id": mappings, "accounts": accounts}
        return {
            name: pd.DataFrame(rows[name], columns=RAW_TABLES[name].column_names).astype(_dtypes(RAW_TABLES[name]))
            for name in RAW_TABLES
        }

    def expectations(self, doc: dict) -> list[Expectation]:
        expect = doc.get("expect")
        if not isinstance(expect, dict) or not expect:
            self.issue(("expect",) if "expect" in doc else (), "'expect' maps each rule (its key) to its expectations")
            return []
        out = []
        for key, spec in expect.items():
            path = ("expect", key)
            rule = self.rules.get(str(key))
            if rule is None:
                self.issue(path, f"no rule '{key}' in rules/; rules: {', '.join(sorted(self.rules)) or '(none)'}")
                continue
            if not isinstance(spec, dict):
                self.issue(path, "each rule's expectations are a mapping with findings, absent, exactly")
                continue
            self.unknown_keys(spec, _EXPECT_KEYS, path)
            columns = {c.name for c in columns_for(rule.level)} - {"as_of"}
            entity = "account_id" if rule.level == "account" else "user_id"
            findings = []
            for i, finding in enumerate(spec.get("findings") or []):
                fpath = (*path, "findings", i)
                if not isinstance(finding, dict) or entity not in finding:
                    self.issue(fpath, f"each expected finding is a mapping naming its {entity}")
                    continue
                for column in finding:
                    if column not in columns:
                        self.issue((*fpath, column), f"'{column}' is not a column of a {rule.level} punch list")
                findings.append((finding, self.located.line(fpath)))
            absent = []
            for i, entity_id in enumerate(spec.get("absent") or []):
                absent.append((str(entity_id), self.located.line((*path, "absent", i))))
            exactly = spec.get("exactly", False)
            if not isinstance(exactly, bool):
                self.issue((*path, "exactly"), "exactly is true or false")
            out.append(Expectation(str(key), self.located.line(path), findings, absent, exactly is True))
        return out


def _dtypes(spec) -> dict[str, str]:
    kinds = {"text": "object", "float": "float64", "bool": "bool", "timestamp": "datetime64[us]"}
    return {c.name: kinds[c.type] for c in spec.columns}


def check_test_files(
    project_dir: Path, rules_dir: Path, rules: list[Rule]
) -> tuple[list[RuleTestFile], list[RuleIssue]]:
    """Every test file in ``rules_dir``/tests read and checked against the valid ``rules``: the
    files without problems, and every problem (with file, line and field)."""
    by_key = {r.key: r for r in rules}
    issues: list[RuleIssue] = []
    tests: list[RuleTestFile] = []
    for path in test_files(rules_dir):
        reader = _Reader(path, _display(path, project_dir), by_key)
        test = reader.read()
        issues += reader.issues
        if test is not None:
            tests.append(test)
    return tests, issues


def read_test_files(project: Project, rules: list[Rule], names: Iterable[str] = ()) -> list[RuleTestFile]:
    """The test files (those whose stem or one of whose rules is in ``names``, when given), read
    and checked; every problem of every file at once as a ``RuleError``."""
    tests, issues = check_test_files(project.dir, project.rules_dir, rules)
    if issues:
        raise RuleError(issues)
    wanted = set(names)
    if wanted:
        known = {t.path.stem for t in tests} | {e.rule for t in tests for e in t.expectations}
        unknown = sorted(wanted - known)
        if unknown:
            raise ConfigError(
                f"no rule test named {', '.join(unknown)} (a file stem in rules/tests/ or a rule it tests); "
                f"tests: {', '.join(t.path.stem for t in tests) or '(none)'}"
            )
        tests = [t for t in tests if t.path.stem in wanted or wanted & {e.rule for e in t.expectations}]
    return tests


# --- running ------------------------------------------------------------------------------------


def run_test_file(project: Project, test: RuleTestFile, rules: dict[str, Rule], *, work_dir: Path) -> RuleTestResult:
    """Build ``test``'s fixture into a throwaway DuckDB file with the real models and compare."""
    from ..dbt import run_dbt
    from ..warehouse import connect, read_built_table

    started = time.monotonic()
    result = RuleTestResult(test)
    # One DuckDB file and one dbt target folder for every rule test, always at the same place:
    # dbt's parse is cached only while the profile (which names the file) stays the same
    database = work_dir / "rule_test.duckdb"
    for leftover in (database, database.with_name(database.name + ".wal")):
        leftover.unlink(missing_ok=True)
    scratch = Project(
        dir=project.dir,
        target="duckdb",
        duckdb_path=database,
        target_path=work_dir / "target",
        # the fixture is the input, in the schemas this Project names, whatever the caller's environment says
        env={"BETON_INPUT": "source", "BETON_SCHEMA": "beton"},
    )
    from ..datagen.synthetic import RAW_TABLES

    with connect(scratch, write=True, create=True) as conn:
        conn.replace_tables(scratch.raw_schema, {RAW_TABLES[name]: frame for name, frame in test.inputs.items()})
    keys = [e.rule for e in test.expectations]
    run_dbt(
        scratch,
        ["run"],
        vars={
            **FIXTURE_VARS,
            "beton_source_schema": scratch.raw_schema,
            "beton_as_of": test.as_of.strftime("%Y-%m-%d %H:%M:%S.%f"),
        },
        select=[f"+{rules[k].model_name}" for k in keys],
    )
    for expectation in test.expectations:
        rule = rules[expectation.rule]
        frame = read_built_table(scratch, "inspections", rule.model_name)
        frame = frame.sort_values("rank", kind="stable").reset_index(drop=True)
        result.punch_lists[rule.key] = frame
        result.mismatches += compare(test, expectation, rule, frame)
    result.seconds = time.monotonic() - started
    return result


def compare(test: RuleTestFile, expectation: Expectation, rule: Rule, frame: pd.DataFrame) -> list[Mismatch]:
    """Every way ``frame`` (the punch list built) differs from ``expectation``."""
    entity = "account_id" if rule.level == "account" else "user_id"
    found = {str(row[entity]): row for row in frame.to_dict("records")}
    out: list[Mismatch] = []

    def miss(line: int | None, message: str) -> None:
        out.append(Mismatch(test.display, line, rule.key, message))

    listed = ", ".join(list(found)[:10]) + (f" and {len(found) - 10} more" if len(found) > 10 else "") or "none"
    for expected, line in expectation.findings:
        entity_id = str(expected[entity])
        row = found.get(entity_id)
        if row is None:
            miss(line, f"expected {entity} {entity_id!r} in the punch list; it is not there (findings: {listed})")
            continue
        for column, want in expected.items():
            if column == entity:
                continue
            got = row.get(column)
            if not _equal(want, got, exact_integers=column != "score"):
                miss(line, f"{entity_id}: {column} expected {_show(want)}, got {_show(got)}")
    for entity_id, line in expectation.absent:
        if entity_id in found:
            miss(
                line,
                f"expected {entity} {entity_id!r} not in the punch list; it is there at rank {found[entity_id]['rank']}",
            )
    if expectation.exactly:
        expected_ids = {str(e[entity]) for e, _ in expectation.findings}
        extra = [e for e in found if e not in expected_ids]
        if extra:
            miss(expectation.line, f"exactly: the punch list also has {', '.join(repr(e) for e in extra)}")
    return out


def _equal(want: Any, got: Any, *, exact_integers: bool = True) -> bool:
    if got is None or (isinstance(got, float) and math.isnan(got)) or got is pd.NaT:
        return want is None
    if isinstance(want, bool) or want is None:
        return want == got
    if isinstance(want, (int, float)):
        try:
            number = float(got)
        except (TypeError, ValueError):
            return False
        if isinstance(want, int) and exact_integers:  # ranks and counts: exactly
            return number == want
        return math.isclose(number, float(want), rel_tol=SCORE_TOLERANCE, abs_tol=SCORE_TOLERANCE)
    if isinstance(got, (datetime, pd.Timestamp)):
        from ..cli.options import parse_as_of

        try:
            return pd.Timestamp(parse_as_of(str(want))) == pd.Timestamp(got)
        except ConfigError:
            return False
    return str(want) == str(got)


def _show(value: Any) -> str:
    if isinstance(value, float):
        return repr(round(value, 9))
    if isinstance(value, (datetime, pd.Timestamp)):
        return str(value)
    return repr(value)


def run_tests(
    project: Project, rules: list[Rule], tests: list[RuleTestFile], *, on_result=None
) -> list[RuleTestResult]:
    """Run every test file (one dbt run each); ``on_result`` is called after each."""
    by_key = {r.key: r for r in rules}
    work_dir = project.dbt_target_path / "rule_tests"
    work_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for test in tests:
        result = run_test_file(project, test, by_key, work_dir=work_dir)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


__all__ = [
    "SCORE_TOLERANCE",
    "Mismatch",
    "RuleTestFile",
    "RuleTestResult",
    "check_test_files",
    "compare",
    "read_test_files",
    "run_tests",
    "test_files",
]
