"""destinations.yml: which changes go where. Validated against a JSON Schema assembled from each
destination kind's own schema; errors name the file, line and field.

    destinations:
      sales-channel:            # the destination's name (letters, digits, - and _)
        kind: slack             # webhook | slack | hubspot | salesforce
        rules: ["pql_*"]        # glob patterns on rule keys; default every rule
        changes: [entered]      # default: the kind's own (entered, exited; Slack: entered)
        ...                     # the kind's settings; secrets only as names of environment variables

The file is the project's ``destinations.yml`` unless ``--destinations PATH`` or
``BETON_DESTINATIONS`` names another one.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from beton_runner.deliver.base import Destination
from beton_runner.deliver.destinations import KINDS
from beton_runner.errors import ConfigError
from beton_runner.rules.validate import Yaml12Loader, _Located

DEFAULT_FILE = "destinations.yml"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$"


def file_schema() -> dict[str, Any]:
    """The JSON Schema of destinations.yml (for editors, and to validate the file)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Beton Inspector destinations",
        "type": "object",
        "additionalProperties": False,
        "required": ["destinations"],
        "properties": {
            "destinations": {
                "type": "object",
                "description": "Destination name -> its settings.",
                "propertyNames": {"pattern": NAME_PATTERN},
                "additionalProperties": {
                    "type": "object",
                    "required": ["kind"],
                    "properties": {"kind": {"enum": sorted(KINDS)}},
                    "allOf": [
                        {"if": {"properties": {"kind": {"const": k}}}, "then": cls.SCHEMA}
                        for k, cls in sorted(KINDS.items())
                    ],
                },
            }
        },
    }


@dataclass
class DestinationConfig:
    name: str
    kind: str
    settings: dict[str, Any]
    destination: Destination

    @property
    def enabled(self) -> bool:
        return bool(self.settings.get("enabled", True))

    @property
    def changes(self) -> tuple[str, ...]:
        return tuple(self.settings.get("changes") or type(self.destination).default_changes)

    def takes_rule(self, rule_key: str) -> bool:
        patterns = self.settings.get("rules")
        return not patterns or any(fnmatch.fnmatchcase(rule_key, p) for p in patterns)


def config_path(project_dir: Path, explicit: str | os.PathLike | None = None) -> Path:
    chosen = explicit or os.environ.get("BETON_DESTINATIONS")
    return Path(chosen).expanduser() if chosen else project_dir / DEFAULT_FILE


def _where(path: Path, located: _Located, field_path: list[Any]) -> str:
    line = located.line(field_path)
    dotted = ".".join(str(p) for p in field_path) or "(top level)"
    return f"{path}:{line}: {dotted}" if line else f"{path}: {dotted}"


def load_destinations(path: Path, env: Mapping[str, str] | None = None) -> list[DestinationConfig]:
    """Every destination in the file, validated (schema, then each kind's own check without
    network). ConfigError naming file:line: field on the first problems found."""
    env = os.environ if env is None else env
    if not path.is_file():
        raise ConfigError(
            f"no destinations configured: {path} does not exist. Copy destinations.example.yml to "
            f"{path.name} and keep the destinations you use (see docs/delivery.md)."
        )
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text, Loader=Yaml12Loader)
        document = yaml.load(text, Loader=Yaml12Loader)  # noqa: S506 (a safe loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{line}: not valid YAML ({getattr(exc, 'problem', None) or exc})") from None
    located = _Located(node)
    validator = jsonschema.Draft202012Validator(file_schema())
    errors = sorted(validator.iter_errors(document), key=lambda e: (list(e.absolute_path), e.message))
    if errors:
        # the deepest error of an if/then branch says the most
        lines = []
        for error in errors[:10]:
            best = jsonschema.exceptions.best_match([error])
            lines.append(f"  {_where(path, located, list(best.absolute_path))}: {best.message}")
        raise ConfigError(
            f"{len(errors)} problem(s) in {path}:\n" + "\n".join(lines) + "\nSee docs/delivery.md for every setting."
        )
    configs = []
    for name, settings in (document.get("destinations") or {}).items():
        cls = KINDS[settings["kind"]]
        configs.append(DestinationConfig(name, settings["kind"], dict(settings), cls(name, settings, env)))
    return configs


def check_destinations(configs: list[DestinationConfig]) -> dict[str, ConfigError]:
    """Each enabled destination's own check (settings and secret variables; no network)."""
    problems = {}
    for config in configs:
        if not config.enabled:
            continue
        try:
            config.destination.check()
        except ConfigError as exc:
            problems[config.name] = exc
    return problems


if __name__ == "__main__":  # python -m beton_runner.deliver.config > destinations.schema.json
    import json

    print(json.dumps(file_schema(), indent=2, ensure_ascii=False))
