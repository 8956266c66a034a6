"""Rule files: load and validate (every problem at once, with file, line and field).

A rule file is one YAML document in ``rules/<key>.yml``; ``<key>`` names its dbt model
(``insp_<key>``). Validation is the shipped JSON Schema (``rule.schema.json`` beside this
module, which editors use too) followed by the checks a schema cannot express (docs/rules.md,
"Validation"). A file that passes becomes a ``Rule`` with its normalised form (normalise.py).
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import re2
import yaml

from ..errors import ConfigError, RuleError, RuleIssue
from .normalise import (
    ACCOUNT_ONLY_CONDITIONS,
    DEFAULT_WEIGHTS,
    FILTER_OPERATORS,
    LEVELS,
    TEXT_ONLY_OPERATORS,
    THRESHOLD_CONDITIONS,
    TIER_KEYS,
    Rule,
    fit_attribute,
    normalise,
)

RULE_KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
RESERVED_KEYS = {"findings"}
# RE2 (DuckDB and ClickHouse) has no look-around and no back-references: the common cases get
# a message naming them; RE2 itself (``_re2_error``) decides every other pattern.
_NOT_RE2 = re.compile(r"\(\?<?[=!]|\\[1-9]")
# (?<name>...) is accepted by the RE2 on PyPI but not by the older RE2 DuckDB bundles.
_NAMED_GROUP_WITHOUT_P = re.compile(r"(?<!\\)\(\?<(?![=!])")
# A rule file is a few hundred bytes and nests at most 5 levels (rule, conditions, filters, a
# filter's operators, an in-list); the caps keep a hostile or broken file from hanging the parser.
MAX_FILE_BYTES = 256 * 1024
MAX_DEPTH = 10
# The largest score a rule may produce, in magnitude: far beyond any useful weight, and small
# enough that scores keep their 2 decimals (doubles have ~16 significant digits). ln(1 + 2^63):
# event_count's largest value in the score.
MAX_SCORE = 1e12
_MAX_LOG_EVENTS = math.log1p(2.0**63)
_INTEGER_FIELDS = (("time_window_days",),) + tuple(("conditions", c) for c in THRESHOLD_CONDITIONS)
SIGNAL_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
# An uncapped signal's largest points in the score check: |weight| times a billion events.
MAX_SIGNAL_EVENTS = 1e9


@dataclass
class CheckResult:
    rules: list[Rule] = field(default_factory=list)
    issues: list[RuleIssue] = field(default_factory=list)
    warnings: list[RuleIssue] = field(default_factory=list)


@lru_cache(maxsize=1)
def rule_schema() -> dict[str, Any]:
    return json.loads(resources.files("beton_runner.rules").joinpath("rule.schema.json").read_text())


# --- YAML 1.2, without aliases ---------------------------------------------------------------


class Yaml12Loader(yaml.SafeLoader):
    """PyYAML's safe loader with the YAML 1.2 core schema instead of YAML 1.1's.

    YAML 1.1 (PyYAML's default) reads ``NO``/``yes``/``on`` as booleans, ``010`` as 8,
    ``1:30`` as 90, ``1_000`` as 1000 and ``2026-01-01`` as a date; YAML 1.2 (what editors and
    most other tools read) keeps them as text, and reads ``010`` as 10 and ``1e3`` as 1000.0.
    Plain scalars the two versions read differently are refused anyway (``_ambiguous``), so a
    rule means the same to every reader; this loader decides everything else the 1.2 way.
    """


Yaml12Loader.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in (
    ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", list("-+0123456789")),
    (
        "float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        list("-+0123456789."),
    ),
):
    Yaml12Loader.add_implicit_resolver(f"tag:yaml.org,2002:{_tag}", re.compile(_pattern), _first)


def _construct_bool_12(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> bool:
    value = loader.construct_scalar(node)
    if value in ("true", "True", "TRUE"):
        return True
    if value in ("false", "False", "FALSE"):
        return False
    raise yaml.constructor.ConstructorError(
        None, None, f"{value!r} is not a YAML 1.2 boolean (true or false)", node.start_mark
    )


def _construct_int_12(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    value = str(loader.construct_scalar(node))
    try:
        if value.startswith("0o"):
            return int(value[2:], 8)
        if value.startswith("0x"):
            return int(value[2:], 16)
        return int(value, 10)
    except ValueError:
        raise yaml.constructor.ConstructorError(
            None, None, f"{value!r} is not a whole number", node.start_mark
        ) from None


def _construct_float_12(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> float:
    value = str(loader.construct_scalar(node))
    special = value.lower().lstrip("+")
    if special in (".inf", "-.inf", ".nan"):
        return {".inf": math.inf, "-.inf": -math.inf, ".nan": math.nan}[special]
    try:
        return float(value)
    except ValueError:
        raise yaml.constructor.ConstructorError(None, None, f"{value!r} is not a number", node.start_mark) from None


Yaml12Loader.add_constructor("tag:yaml.org,2002:bool", _construct_bool_12)
Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _construct_int_12)
Yaml12Loader.add_constructor("tag:yaml.org,2002:float", _construct_float_12)


def _plain_value(loader: yaml.SafeLoader, text: str) -> Any:
    """What ``loader``'s schema makes of ``text`` written as a plain (unquoted) scalar."""
    node = yaml.ScalarNode(loader.resolve(yaml.ScalarNode, text, (True, False)), text)
    return loader.construct_object(node, deep=True)


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and (a == b or (a != a and b != b))  # nan equals nan here


def _yaml_word(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return f"the text {value!r}"
    if hasattr(value, "isoformat"):
        return f"the date {value.isoformat()}"
    return type(value).__name__


class _Container:
    """Where the event scan is inside a mapping or sequence (to name the field of a scalar)."""

    def __init__(self, path: tuple, is_mapping: bool):
        self.path = path
        self.is_mapping = is_mapping
        self.expect_key = True
        self.key: Any = "?"
        self.index = 0


# --- YAML with line numbers ------------------------------------------------------------------


class _Located:
    """Maps a path of keys/indexes in a YAML document to the line it is written on."""

    def __init__(self, node: yaml.Node | None):
        self.root = node

    def line(self, path: Iterable[Any], *, key: bool = True) -> int | None:
        node = self.root
        line = node.start_mark.line + 1 if node is not None else None
        for part in path:
            if isinstance(node, yaml.MappingNode):
                found = None
                for k, v in node.value:
                    if isinstance(k, yaml.ScalarNode) and k.value == str(part):
                        found = (k, v)
                if found is None:
                    return line
                k, node = found
                line = (k if key else node).start_mark.line + 1
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                return line
        return line


def _duplicate_keys(node: yaml.Node | None, path: tuple = ()) -> Iterable[tuple[tuple, int]]:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode):
                if k.value in seen:
                    yield path + (k.value,), k.start_mark.line + 1
                seen.add(k.value)
            yield from _duplicate_keys(v, path + (getattr(k, "value", "?"),))
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            yield from _duplicate_keys(v, path + (i,))


def _dotted(path: Iterable[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _whole_numbers(doc: Any) -> None:
    """Whole-number fields written as 7.0 become 7, so every check and the SQL see 7.

    JSON Schema counts 7.0 as an integer, while the semantic checks below look for ints: without
    this, ``time_window_days: 7.0`` passed the schema and skipped every window check.
    """
    if not isinstance(doc, dict):
        return
    signals = doc.get("signals")
    signal_fields = tuple(
        ("signals", name, f)
        for name in (signals if isinstance(signals, dict) else {})
        for f in ("window_days", "min_count")
    )
    for path in _INTEGER_FIELDS + signal_fields:
        parent: Any = doc
        for part in path[:-1]:
            parent = parent.get(part) if isinstance(parent, dict) else None
        value = parent.get(path[-1]) if isinstance(parent, dict) else None
        if isinstance(value, float) and value.is_integer():
            parent[path[-1]] = int(value)


def _did_you_mean(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if value is None:
        return "nothing (null)"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


_TYPE_WORDS = {
    "integer": "a whole number",
    "number": "a number",
    "string": "text",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping of keys to values",
}


# --- checking --------------------------------------------------------------------------------


class _FileChecker:
    def __init__(self, path: Path, display: str):
        self.path = path
        self.display = display
        self.issues: list[RuleIssue] = []
        self.warnings: list[RuleIssue] = []
        self.located = _Located(None)

    def issue(self, path: Iterable[Any], message: str, *, key: bool = True) -> None:
        path = tuple(path)
        self.issues.append(RuleIssue(self.display, self.located.line(path, key=key), _dotted(path) or None, message))

    def warn(self, path: Iterable[Any], message: str) -> None:
        path = tuple(path)
        self.warnings.append(RuleIssue(self.display, self.located.line(path), _dotted(path) or None, message))

    def load(self) -> dict[str, Any] | None:
        size = self.path.stat().st_size
        if size > MAX_FILE_BYTES:
            self.issues.append(
                RuleIssue(
                    self.display,
                    None,
                    None,
                    f"is {size:,} bytes; a rule file may be at most {MAX_FILE_BYTES:,} bytes (one rule is a few hundred)",
                )
            )
            return None
        try:
            text = self.path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            self.issues.append(
                RuleIssue(self.display, None, None, f"is not UTF-8 text ({exc.reason} at byte {exc.start})")
            )
            return None
        try:
            if not self.scan(text):
                return None
            nodes = list(yaml.compose_all(text, Loader=Yaml12Loader))
            documents = list(yaml.load_all(text, Loader=Yaml12Loader))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            problem = getattr(exc, "problem", None) or str(exc)
            self.issues.append(RuleIssue(self.display, line, None, f"is not valid YAML: {problem}"))
            return None
        documents = [d for d in documents if d is not None]
        nodes = [n for n in nodes if n is not None]
        if not documents:
            self.issues.append(
                RuleIssue(self.display, None, None, "is empty; a rule file holds one rule (see docs/rules.md)")
            )
            return None
        if len(documents) > 1:
            line = nodes[1].start_mark.line + 1
            self.issues.append(
                RuleIssue(self.display, line, None, "holds more than one YAML document; put one rule per file")
            )
            return None
        self.located = _Located(nodes[0])
        if not isinstance(documents[0], dict):
            self.issue(
                (),
                f"must be a mapping with name, level, time_window_days and conditions, not {_describe(documents[0])}",
            )
            return None
        for dup_path, line in _duplicate_keys(nodes[0]):
            self.issues.append(RuleIssue(self.display, line, _dotted(dup_path), "is written twice; keep one"))
        _whole_numbers(documents[0])
        return documents[0]

    def scan(self, text: str) -> bool:
        """One pass over the YAML events before anything is built from them; False: do not load.

        Refuses anchors and aliases (an alias bomb expands to gigabytes when loaded; a rule never
        needs one) and nesting deeper than MAX_DEPTH (PyYAML builds nodes recursively), and
        reports every plain scalar that YAML 1.1 and YAML 1.2 read differently (``NO``, ``010``,
        ``1:30``…) with the field it is in.
        """
        loader11, loader12 = yaml.SafeLoader(""), Yaml12Loader("")
        stack: list[_Container] = []
        for event in yaml.parse(text, Loader=Yaml12Loader):
            if isinstance(event, yaml.DocumentStartEvent):
                stack = []
            if isinstance(event, yaml.CollectionEndEvent):
                stack.pop()
            if not isinstance(event, yaml.NodeEvent):
                continue
            top = stack[-1] if stack else None
            is_key = bool(top and top.is_mapping and top.expect_key)
            if top is None:
                path: tuple = ()
            elif top.is_mapping:
                if is_key:
                    top.key = event.value if isinstance(event, yaml.ScalarEvent) else "?"
                path = top.path + (top.key,)
                top.expect_key = not top.expect_key
            else:
                path = top.path + (top.index,)
                top.index += 1
            line = event.start_mark.line + 1
            if isinstance(event, yaml.AliasEvent) or event.anchor is not None:
                what = f"alias *{event.anchor}" if isinstance(event, yaml.AliasEvent) else f"anchor &{event.anchor}"
                self.issues.append(
                    RuleIssue(
                        self.display,
                        line,
                        _dotted(path) or None,
                        f"uses the YAML {what}; rule files take no anchors or aliases: write each value out",
                    )
                )
                return False
            if isinstance(event, yaml.CollectionStartEvent):
                stack.append(_Container(path, isinstance(event, yaml.MappingStartEvent)))
                if len(stack) > MAX_DEPTH:
                    self.issues.append(
                        RuleIssue(
                            self.display,
                            line,
                            _dotted(path) or None,
                            f"nests lists and mappings more than {MAX_DEPTH} levels deep; a rule needs at most 5 (see docs/rules.md)",
                        )
                    )
                    return False
            elif event.implicit[0]:
                self._check_plain(event.value, path, line, is_key, loader11, loader12)
        return True

    def _check_plain(
        self, text: str, path: tuple, line: int, is_key: bool, loader11: yaml.SafeLoader, loader12: yaml.SafeLoader
    ) -> None:
        """An unquoted scalar must mean the same in YAML 1.1 (PyYAML, older tools) and 1.2."""
        try:
            old = _plain_value(loader11, text)
        except yaml.YAMLError:
            return  # YAML 1.1 cannot build it at all (e.g. '=', '<<'): nothing to confuse it with
        new = _plain_value(loader12, text)
        if _same(old, new):
            return
        values = []
        for v in (old, new):
            word = _yaml_word(v)
            if not isinstance(v, str) and not hasattr(v, "isoformat") and word not in values:
                values.append(word)
        alternatives = "".join(f", or {w}" for w in values[:1]) + "".join(f" or {w}" for w in values[1:])
        what = "key" if is_key else "value"
        self.issues.append(
            RuleIssue(
                self.display,
                line,
                _dotted(path) or None,
                f"the unquoted {what} {text} means {_yaml_word(old)} in YAML 1.1 but {_yaml_word(new)} in YAML 1.2; "
                f'write "{text}" (in quotes) for the text{alternatives}',
            )
        )

    def check_schema(self, doc: dict[str, Any]) -> None:
        validator = jsonschema.Draft202012Validator(rule_schema())
        for error in sorted(validator.iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path]):
            path = list(error.absolute_path)
            if len(path) >= 2 and path[:2] == ["conditions", "event_property_filters"] and len(path) > 2:
                continue  # filters get precise messages from check_filters
            if len(path) > 3 and path[0] == "signals" and path[2] == "event_property_filters":
                continue  # likewise, a signal's filters
            if path[:1] == ["match"] or (path == ["signals"] and error.validator in ("propertyNames", "pattern")):
                continue  # check_match and check_signals say it precisely
            if len(path) > 3 and path[0] == "fit" and path[2] == "when":
                continue  # and so do fit conditions (check_fit)
            self._schema_issue(error, path)

    def _schema_issue(self, error: jsonschema.ValidationError, path: list[Any]) -> None:
        validator = error.validator
        if validator == "additionalProperties":
            allowed = list((error.schema.get("properties") or {}).keys())
            for extra in sorted(set(error.instance) - set(allowed)):
                where = "the rule" if not path else f"'{_dotted(path)}'"
                self.issue(path + [extra], f"unknown key in {where}{_did_you_mean(str(extra), allowed)}")
        elif validator == "required":
            missing = re.findall(r"'([^']+)' is a required property", error.message)
            for name in missing or [error.message]:
                self.issue(path, f"required key '{name}' is missing", key=False)
        elif validator == "type":
            expected = error.validator_value
            expected = [expected] if isinstance(expected, str) else expected
            words = " or ".join(_TYPE_WORDS.get(t, t) for t in expected)
            self.issue(path, f"must be {words}, not {_describe(error.instance)}", key=False)
        elif validator == "enum":
            options = ", ".join(str(o) for o in error.validator_value)
            hint = _did_you_mean(str(error.instance), [str(o) for o in error.validator_value])
            self.issue(path, f"must be one of {options}, not {_describe(error.instance)}{hint}", key=False)
        elif validator == "exclusiveMinimum":
            self.issue(path, f"must be above {error.validator_value}, not {error.instance}", key=False)
        elif validator == "minimum":
            self.issue(path, f"must be at least {error.validator_value}, not {error.instance}", key=False)
        elif validator == "maximum":
            self.issue(path, f"must be at most {error.validator_value}, not {error.instance}", key=False)
        elif validator in ("minLength", "minProperties"):
            self.issue(path, "must not be empty", key=False)
        elif validator == "minItems":
            self.issue(path, f"must list at least {error.validator_value} item(s)", key=False)
        elif validator == "maxItems":
            self.issue(path, f"must list at most {error.validator_value} items", key=False)
        elif validator == "maxLength":
            self.issue(path, f"must be at most {error.validator_value} characters", key=False)
        elif validator == "uniqueItems":
            self.issue(path, "lists an item twice", key=False)
        else:
            self.issue(path, error.message, key=False)

    def check_filters(self, filters: Any, base: tuple = ("conditions", "event_property_filters")) -> None:
        if not isinstance(filters, dict):
            return  # the schema reported it
        for key, spec in filters.items():
            here = base + (key,)
            if not isinstance(key, str) or key == "":
                self.issue(here, "property keys must be non-empty text")
                continue
            if isinstance(spec, dict):
                if not spec:
                    self.issue(here, "needs an operator, e.g. {eq: value}", key=False)
                for op, value in spec.items():
                    if op not in FILTER_OPERATORS:
                        self.issue(
                            here + (op,),
                            f"unknown operator{_did_you_mean(str(op), FILTER_OPERATORS)} (operators: {', '.join(FILTER_OPERATORS)})",
                        )
                        continue
                    self._check_operator(here + (op,), op, value)
            elif isinstance(spec, list):
                self.issue(here, "a list is not a value; write {in: [...]} to match any of several values", key=False)
            elif spec is None:
                self.issue(
                    here,
                    "has no value; write {is_not_set: true} to require a missing property, or give a value",
                    key=False,
                )
            else:
                self._check_scalar(here, spec)

    def _check_scalar(self, path: tuple, value: Any) -> None:
        if isinstance(value, float) and not math.isfinite(value):
            self.issue(path, "must be a finite number", key=False)
        elif not isinstance(value, (str, int, float, bool)):
            self.issue(path, f"must be text, a number or true/false, not {_describe(value)}", key=False)

    def _check_operator(self, path: tuple, op: str, value: Any) -> None:
        if op in ("eq", "neq"):
            self._check_scalar(path, value)
        elif op in ("in", "not_in"):
            if not isinstance(value, list):
                self.issue(path, f"must be a list of values, not {_describe(value)}", key=False)
            elif not value:
                self.issue(path, "must list at least one value", key=False)
            else:
                for i, item in enumerate(value):
                    self._check_scalar(path + (i,), item)
        elif op == "contains":
            if not isinstance(value, str):
                self.issue(path, f"must be text, not {_describe(value)}", key=False)
        elif op == "regex":
            if not isinstance(value, str) or value == "":
                self.issue(path, f"must be a non-empty regular expression, not {_describe(value)}", key=False)
                return
            reason = _re2_error(value)
            if reason is None:
                if _NAMED_GROUP_WITHOUT_P.search(value):
                    self.issue(
                        path,
                        "names a group as (?<name>...), which DuckDB's RE2 does not accept; write (?P<name>...)",
                        key=False,
                    )
                return
            try:
                re.compile(value)
            except re.error as exc:
                self.issue(path, f"is not a valid regular expression: {exc}", key=False)
                return
            if _NOT_RE2.search(value):
                self.issue(
                    path,
                    "uses look-around or a back-reference, which RE2 (DuckDB, ClickHouse) does not support",
                    key=False,
                )
            else:
                self.issue(
                    path,
                    f"is not valid in RE2, the regular-expression engine of DuckDB and ClickHouse: {reason} "
                    "(RE2 has no atomic groups, possessive or conditional patterns, back-references, "
                    "\\Z or (?x), and repeats at most 1000 times)",
                    key=False,
                )
        elif op in ("gt", "gte", "lt", "lte"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                self.issue(path, f"must be a number, not {_describe(value)}", key=False)
            elif not math.isfinite(value):
                self.issue(path, "must be a finite number", key=False)
        elif op in ("is_set", "is_not_set") and value is not True:
            other = "is_not_set" if op == "is_set" else "is_set"
            self.issue(path, f"must be true (to say the opposite, use {other}: true)", key=False)

    def check_semantics(self, doc: dict[str, Any], known_events: set[str] | None) -> None:
        conditions = doc.get("conditions") if isinstance(doc.get("conditions"), dict) else {}
        level = doc.get("level")
        window = doc.get("time_window_days")
        window = window if isinstance(window, int) and not isinstance(window, bool) else None

        def num(name: str) -> int | None:
            v = conditions.get(name)
            return v if isinstance(v, int) and not isinstance(v, bool) else None

        if level == "user":
            for name in ACCOUNT_ONLY_CONDITIONS:
                if name in conditions:
                    self.issue(("conditions", name), "applies to account rules only; remove it or set level: account")
        lo, hi = num("min_days_since_last_event"), num("max_days_since_last_event")
        if lo is not None and hi is not None and lo > hi:
            self.issue(
                ("conditions", "min_days_since_last_event"),
                f"is {lo}, above max_days_since_last_event ({hi}): no entity can match",
                key=False,
            )
        if window is not None:
            if (v := num("min_active_days")) is not None and v > window:
                self.issue(
                    ("conditions", "min_active_days"),
                    f"is {v} but the window has only {window} day(s) (time_window_days): no entity can match",
                    key=False,
                )
            if lo is not None and lo >= window:
                self.issue(
                    ("conditions", "min_days_since_last_event"),
                    f"is {lo} but days since the last event in a {window}-day window is at most {window - 1}: no entity can match; widen time_window_days",
                    key=False,
                )
        names = conditions.get("event_names")
        if isinstance(names, list) and names and all(isinstance(n, str) for n in names):
            if (v := num("min_distinct_events")) is not None and v > len(names):
                self.issue(
                    ("conditions", "min_distinct_events"),
                    f"is {v} but only {len(names)} event name(s) are listed: no entity can match",
                    key=False,
                )
            if known_events:
                for i, n in enumerate(names):
                    if n not in known_events:
                        self.warn(
                            ("conditions", "event_names", i),
                            f"'{n}' is not in the standard events library{_did_you_mean(n, known_events)} (fine if your product sends it)",
                        )
        weights = doc.get("scoring_weights")
        fit_points = self.check_fit(doc.get("fit"), level)
        if isinstance(weights, dict) or fit_points:
            weights = weights if isinstance(weights, dict) else {}
            for name, value in weights.items():
                if isinstance(value, float) and not math.isfinite(value):
                    self.issue(("scoring_weights", name), "must be a finite number", key=False)
            self._check_score_range(weights, window, fit_points)
        self.check_tiers(doc.get("tiers"))
        self.check_grade(doc.get("grade"), doc.get("fit"))

    def check_fit(self, fit: Any, level: Any) -> float:
        """Fit conditions: their operators as event property filters, number attributes compared
        as numbers only; returns the largest |score_fit| the points allow."""
        if not isinstance(fit, list):
            return 0.0
        largest = 0.0
        for i, item in enumerate(fit):
            if not isinstance(item, dict):
                continue  # the schema reported it
            points = item.get("points")
            if isinstance(points, (int, float)) and not isinstance(points, bool):
                if not math.isfinite(points):
                    self.issue(("fit", i, "points"), "must be a finite number", key=False)
                else:
                    largest += abs(points)
            when = item.get("when")
            self.check_filters(when, ("fit", i, "when"))
            if not isinstance(when, dict) or level not in LEVELS:
                continue
            for attribute, spec in when.items():
                if not isinstance(attribute, str) or not attribute:
                    continue
                if attribute in ("properties.", "account.", "account.properties."):
                    self.issue(("fit", i, "when", attribute), f"names no attribute; write {attribute}<name>")
                elif fit_attribute(level, attribute)["type"] == "number":
                    self._check_number_attribute(("fit", i, "when", attribute), attribute, spec)
        return largest

    def _check_number_attribute(self, path: tuple, field: str, spec: Any) -> None:
        ops = spec if isinstance(spec, dict) else {"eq": spec}
        for op, value in ops.items():
            values = value if op in ("in", "not_in") and isinstance(value, list) else [value]
            if op in TEXT_ONLY_OPERATORS:
                self.issue(
                    path + ((op,) if isinstance(spec, dict) else ()),
                    f"{field} is a number: compare it with eq, in, gt, gte, lt or lte",
                )
            elif op not in ("is_set", "is_not_set") and any(isinstance(v, (str, bool)) for v in values):
                self.issue(
                    path + ((op,) if isinstance(spec, dict) else ()),
                    f"{field} is a number: give a number, not {_describe(next(v for v in values if isinstance(v, (str, bool))))}",
                    key=False,
                )

    def check_tiers(self, tiers: Any) -> None:
        if not isinstance(tiers, dict):
            return  # absent, or the schema reported it
        for name in tiers:
            if not isinstance(name, str):
                self.issue(("tiers", name), f'the tier name {name} must be text; write "{name}" (in quotes)')
        named = {k: v for k, v in tiers.items() if k not in TIER_KEYS}
        if not named:
            self.issue(("tiers",), "names no tier; e.g. {hot: 40, warm: 20}")
            return
        by = tiers.get("by", "score")
        seen: dict[float, str] = {}
        for name, value in named.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue  # the schema reported it
            if not math.isfinite(value):
                self.issue(("tiers", name), "must be a finite number", key=False)
            elif by == "percentile" and not 0 < value <= 100:
                self.issue(
                    ("tiers", name),
                    f"is {value}: a percentile tier takes a percentage above 0 and at most 100",
                    key=False,
                )
            elif value in seen:
                self.issue(
                    ("tiers", name),
                    f"has the same threshold as tier '{seen[value]}' ({value}); give each tier its own",
                    key=False,
                )
            else:
                seen[value] = str(name)
        other = tiers.get("else")
        if isinstance(other, str) and other in named:
            self.issue(
                ("tiers", "else"),
                f"'{other}' is already a tier; name the tier below every other one differently",
                key=False,
            )

    def check_grade(self, grade: Any, fit: Any) -> None:
        if not isinstance(grade, dict):
            return
        for part in ("fit", "behaviour"):
            values = grade.get(part)
            if not isinstance(values, list) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
            ):
                continue  # the schema reported it
            if not all(math.isfinite(v) for v in values):
                self.issue(("grade", part), "must be finite numbers", key=False)
            elif any(b >= a for a, b in zip(values, values[1:])):
                self.issue(("grade", part), f"must decrease (the threshold of A/1 first), not {values}", key=False)
        if not fit:
            self.issue(("grade",), "grades the fit score, but the rule has no fit: add fit conditions")

    def _check_score_range(self, weights: dict[str, Any], window: int | None, fit_points: float = 0.0) -> None:
        """The largest score the weights allow, over every possible entity, must be a usable number.

        |score| <= |w1|·ln(1 + 2^63) + |w2|·window + |w3|·(window - 1): event_count is a 64-bit
        count, active_days at most the window, days_since_last_event at most the window - 1.
        A weight of 1e308 made scores inf (and ranks arbitrary) without any error.
        """
        w = {**DEFAULT_WEIGHTS, **weights}
        if window is None or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in w.values()
        ):
            return  # reported elsewhere
        largest = (
            abs(w["event_count_weight"]) * _MAX_LOG_EVENTS
            + abs(w["active_days_weight"]) * window
            + abs(w["recency_weight"]) * (window - 1)
            + fit_points
        )
        if not largest <= MAX_SCORE:
            size = "overflow to infinity" if not math.isfinite(largest) else f"reach {largest:.3g}"
            self.issue(
                ("scoring_weights",),
                f"let scores {size} (|event_count_weight|·ln(1 + 2^63) + |active_days_weight|·{window} + "
                f"|recency_weight|·{window - 1}{' + the sum of |fit points|' if fit_points else ''}); scores are limited to {MAX_SCORE:.0e}: use smaller weights",
            )

    def check_signals(self, doc: dict[str, Any]) -> None:
        """Signal names, windows within the rule's, their filters, and the score they can add."""
        signals = doc.get("signals")
        if not isinstance(signals, dict):
            return  # absent, or the schema reported it
        window = doc.get("time_window_days")
        window = window if isinstance(window, int) and not isinstance(window, bool) else None
        largest = 0.0
        for name, spec in signals.items():
            here = ("signals", name)
            if not isinstance(name, str) or not SIGNAL_NAME_PATTERN.match(name):
                self.issue(
                    here,
                    "a signal name is lowercase letters, digits and _ (starting with a letter, at most 40): "
                    f"it names the column score_signal_<name>, e.g. '{_suggest_key(str(name))[:40]}'",
                )
            if not isinstance(spec, dict):
                continue  # the schema reported it
            if "event_property_filters" in spec:
                self.check_filters(spec["event_property_filters"], here + ("event_property_filters",))
            days = spec.get("window_days")
            if window is not None and isinstance(days, int) and not isinstance(days, bool) and days > window:
                self.issue(
                    here + ("window_days",),
                    f"is {days} but the rule's window is {window} day(s) (time_window_days): a signal looks at most at the rule's window",
                    key=False,
                )
            weight, cap = spec.get("weight"), spec.get("max_points")
            for field_name, value in (
                ("weight", weight),
                ("max_points", cap),
                ("half_life_days", spec.get("half_life_days")),
            ):
                if isinstance(value, float) and not math.isfinite(value):
                    self.issue(here + (field_name,), "must be a finite number", key=False)
            if _finite_number(cap):
                largest += cap
            elif _finite_number(weight):
                largest += abs(weight) * MAX_SIGNAL_EVENTS
        if largest > MAX_SCORE:
            self.issue(
                ("signals",),
                f"let scores reach {largest:.3g} (each signal's max_points, or |weight|·{MAX_SIGNAL_EVENTS:.0e} "
                f"without one); scores are limited to {MAX_SCORE:.0e}: give the signals a max_points or smaller weights",
            )

    def check_match(self, doc: dict[str, Any]) -> None:
        """Each node of ``match`` is exactly one of the documented forms; names are declared signals."""
        if "match" not in doc:
            return
        signals = doc.get("signals") if isinstance(doc.get("signals"), dict) else {}
        known = [str(s) for s in signals]
        level = doc.get("level")

        def visit(node: Any, path: tuple) -> None:
            if isinstance(node, str) or (isinstance(node, dict) and list(node) == ["signal"]):
                name = node if isinstance(node, str) else node["signal"]
                where = path if isinstance(node, str) else path + ("signal",)
                if not isinstance(name, str) or name not in known:
                    options = f"; signals: {', '.join(known)}" if known else "; the rule declares no signals"
                    self.issue(
                        where,
                        f"names no signal of this rule ({_describe(name)}){_did_you_mean(str(name), known)}{options}",
                        key=False,
                    )
                return
            if not isinstance(node, dict) or len(node) != 1:
                self.issue(
                    path,
                    f"must be one node: {{all: [...]}}, {{any: [...]}}, {{not: node}}, {{signal: name}}, a signal name "
                    f"or one threshold such as {{min_active_days: 3}}, not {_describe(node)}"
                    + (f" with {len(node)} keys" if isinstance(node, dict) else ""),
                    key=False,
                )
                return
            ((op, value),) = node.items()
            if op in ("all", "any"):
                if not isinstance(value, list) or not value:
                    self.issue(path + (op,), f"must be a non-empty list of nodes, not {_describe(value)}", key=False)
                    return
                for i, child in enumerate(value):
                    visit(child, path + (op, i))
            elif op == "not":
                visit(value, path + (op,))
            elif op in THRESHOLD_CONDITIONS:
                if (
                    isinstance(value, bool)
                    or not isinstance(value, int)
                    and not (isinstance(value, float) and value.is_integer())
                ):
                    self.issue(path + (op,), f"must be a whole number, not {_describe(value)}", key=False)
                elif value < 0:
                    self.issue(path + (op,), f"must be at least 0, not {value}", key=False)
                elif isinstance(value, float):
                    node[op] = int(value)
                if level == "user" and op in ACCOUNT_ONLY_CONDITIONS:
                    self.issue(path + (op,), "applies to account rules only; remove it or set level: account")
            else:
                options = ["all", "any", "not", "signal", *THRESHOLD_CONDITIONS]
                self.issue(
                    path + (op,),
                    f"unknown match node{_did_you_mean(str(op), options)} (nodes: all, any, not, signal, "
                    f"or a threshold: {', '.join(THRESHOLD_CONDITIONS)})",
                )

        visit(doc["match"], ("match",))


def _finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _re2_error(pattern: str) -> str | None:
    """Why RE2, the engine DuckDB and ClickHouse match regexes with, refuses ``pattern`` (None: it accepts it)."""
    options = re2.Options()
    options.log_errors = False  # RE2 would print every refusal to stderr itself
    try:
        re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        return reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
    return None


def rule_files(rules_dir: Path) -> list[Path]:
    return (
        sorted(p for p in rules_dir.iterdir() if p.is_file() and p.suffix in (".yml", ".yaml"))
        if rules_dir.is_dir()
        else []
    )


def check_rules(
    rules_dir: Path, *, known_events: set[str] | None = None, display_root: Path | None = None
) -> CheckResult:
    """Validate every rule file in ``rules_dir``; collect every problem rather than stopping."""
    result = CheckResult()
    names: dict[str, tuple[str, int | None]] = {}
    keys: dict[str, str] = {}
    for path in rule_files(rules_dir):
        display = _display(path, display_root)
        checker = _FileChecker(path, display)
        key = path.stem
        if not RULE_KEY_PATTERN.match(key):
            checker.issues.append(
                RuleIssue(
                    display,
                    None,
                    None,
                    f"file name '{path.name}' cannot name a model: use lowercase letters, digits and _ (starting with a letter, at most 63), e.g. '{_suggest_key(key)}{path.suffix}'",
                )
            )
        elif key in RESERVED_KEYS:
            checker.issues.append(
                RuleIssue(
                    display,
                    None,
                    None,
                    f"file name '{path.name}' is reserved (insp_{key} is the unified table); rename the file",
                )
            )
        elif key in keys:
            checker.issues.append(
                RuleIssue(
                    display,
                    None,
                    None,
                    f"file name collides with {keys[key]} (both would be model insp_{key}); keep one",
                )
            )
        keys.setdefault(key, display)
        doc = checker.load()
        if doc is not None:
            checker.check_schema(doc)
            conditions = doc.get("conditions")
            if isinstance(conditions, dict) and "event_property_filters" in conditions:
                checker.check_filters(conditions["event_property_filters"])
            checker.check_semantics(doc, known_events)
            checker.check_signals(doc)
            checker.check_match(doc)
            name = doc.get("name")
            if isinstance(name, str) and name.strip():
                folded = " ".join(name.split()).casefold()
                line = checker.located.line(("name",), key=False)
                if folded in names:
                    other_file, other_line = names[folded]
                    where = f"{other_file}:{other_line}" if other_line else other_file
                    checker.issue(
                        ("name",),
                        f"'{name}' is already the name of the rule in {where}; rule names must be unique",
                        key=False,
                    )
                else:
                    names[folded] = (display, line)
        result.issues.extend(sorted(checker.issues, key=lambda i: i.line or 0))
        result.warnings.extend(checker.warnings)
        if doc is not None and not checker.issues:
            result.rules.append(Rule(key=key, path=path, document=doc, normalised=normalise(key, doc)))
    return result


def load_rules(rules_dir: Path, **kwargs: Any) -> list[Rule]:
    """Every rule, or a ``RuleError`` listing every problem in every file."""
    result = check_rules(rules_dir, **kwargs)
    if result.issues:
        raise RuleError(result.issues)
    return result.rules


def find_rule(rules: list[Rule], wanted: str) -> Rule:
    """A rule by key, model name or (case-insensitive) name."""
    folded = wanted.strip().casefold()
    for rule in rules:
        if folded in (rule.key, rule.model_name, rule.name.casefold()):
            return rule
    options = [r.key for r in rules]
    raise ConfigError(
        f"no rule called '{wanted}'{_did_you_mean(wanted, options + [r.name for r in rules])}; rules: {', '.join(options) or '(none)'}"
    )


def _suggest_key(stem: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "_", stem.lower()).strip("_")
    if not s or not s[0].isalpha():
        s = "rule_" + s
    return s[:63]


def _display(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return str(path.resolve().relative_to(root.resolve()))
        except ValueError:
            pass
    return str(path)
