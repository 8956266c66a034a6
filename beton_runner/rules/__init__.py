"""Inspection rules: load and validate rule files (validate.py), their contract stated once
(normalise.py), and the dbt files `beton rules compile` writes from them (compile.py)."""

from .normalise import FORMAT, FilteredRollup, Rule, normalise
from .validate import CheckResult, check_rules, find_rule, load_rules, rule_files, rule_schema

__all__ = [
    "FORMAT",
    "CheckResult",
    "FilteredRollup",
    "Rule",
    "check_rules",
    "find_rule",
    "load_rules",
    "normalise",
    "rule_files",
    "rule_schema",
]
