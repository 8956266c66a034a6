"""The secret scan every writer goes through: no file the product writes holds a secret.

Secrets (an API key, a warehouse password) live in environment variables and are only ever sent
where they belong. They can still reach a file by accident: a key pasted into a CRM field that
lands in the warehouse, a model that echoes a value from its prompt, a password that is also an
account's domain. So every writer (the CSV writer, the plays, the report, ``beton export``)
hands its text to :func:`check_text` *before* anything is written; if it holds the value of a
secret variable, nothing is written and a :class:`SecretInOutputError` names the file (never the
value).

The secret variables are ``SECRET_VARIABLES`` and every ``DBT_ENV_SECRET_*`` variable. Values
shorter than ``MIN_SECRET_LENGTH`` characters are not looked for: they would match ordinary
text ("admin", "1234") and are no secret worth the name. A value is also looked for in the forms
the writers escape it into (HTML, JSON, CSV quoting), so escaping does not hide it.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from .errors import OutputError

# Environment variables whose values must never appear in a file the product writes.
SECRET_VARIABLES = (
    "BETON_LLM_API_KEY",
    "CLICKHOUSE_PASSWORD",
    "POSTHOG_PERSONAL_API_KEY",
    "POSTHOG_API_KEY",
    # delivery (destinations.yml's defaults; `beton deliver` also treats every variable a
    # destination names for a token, secret or webhook URL as a secret)
    "BETON_WEBHOOK_SECRET",
    "BETON_SLACK_WEBHOOK_URL",
    "BETON_HUBSPOT_TOKEN",
    "SALESFORCE_ACCESS_TOKEN",
)
SECRET_PREFIXES = ("DBT_ENV_SECRET_",)
MIN_SECRET_LENGTH = 6


class SecretInOutputError(OutputError):
    """A file would have contained the value of a secret environment variable; it was not written."""

    def __init__(self, path: Path, variable: str):
        self.path = Path(path)
        self.variable = variable
        super().__init__(
            f"{self.path} would contain the value of the secret environment variable {variable}; nothing was "
            "written. Check where that value entered the data (a CRM field, a rule, the model's answer) and "
            "remove it, or rotate the secret."
        )


def secret_values(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """variable name -> value, for every secret variable that is set (long enough to look for)."""
    env = os.environ if environ is None else environ
    found = {name: env.get(name, "") for name in SECRET_VARIABLES}
    found.update({k: v for k, v in env.items() if k.startswith(SECRET_PREFIXES)})
    return {k: v for k, v in found.items() if v and len(v.strip()) >= MIN_SECRET_LENGTH}


def _forms(value: str) -> set[str]:
    """The value as written plainly and as the writers escape it."""
    in_json = json.dumps(value, ensure_ascii=False)[1:-1]
    in_script = in_json.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")  # the report's JSON
    return {
        value,
        html.escape(value),
        html.escape(value, quote=False),
        json.dumps(value)[1:-1],
        in_json,
        in_script,
        value.replace('"', '""'),
    }


def find_secret(text: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The name of the first secret variable whose value is in ``text``, else None."""
    for name, value in secret_values(environ).items():
        if any(form in text for form in _forms(value)):
            return name
    return None


def check_text(text: str, path: Path, environ: Mapping[str, str] | None = None) -> None:
    """Raise ``SecretInOutputError`` naming ``path`` when ``text`` holds a secret's value.
    Call it before writing ``path``."""
    variable = find_secret(text, environ)
    if variable is not None:
        raise SecretInOutputError(path, variable)


def check_texts(items: Iterable[tuple[Path, str]], environ: Mapping[str, str] | None = None) -> None:
    """``check_text`` for several files at once: call it before writing any of them, so a
    secret in one file leaves none written."""
    for path, text in items:
        check_text(text, path, environ)


def write_text(path: Path, text: str, *, encoding: str = "utf-8") -> Path:
    """Check ``text`` (see :func:`check_text`), then write it atomically (a temporary file
    renamed over ``path``, so a failed write never leaves half a file). Returns the path."""
    path = Path(path)
    check_text(text, path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding=encoding, newline="\n")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
