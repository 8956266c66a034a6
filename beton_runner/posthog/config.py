"""Where PostHog is and how to authenticate: host, region, project id and the personal API key.

The key is wrapped in :class:`Secret` as soon as it is read so that no ``repr``, f-string,
log line or exception message can show it by accident; only the HTTP client unwraps it to
build the ``Authorization`` header.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from beton_runner.errors import ConfigError

REGION_HOSTS = {"us": "https://us.posthog.com", "eu": "https://eu.posthog.com"}
DEFAULT_HOST = REGION_HOSTS["us"]

ENV_KEY = "POSTHOG_PERSONAL_API_KEY"
ENV_PROJECT = "POSTHOG_PROJECT_ID"
ENV_HOST = "POSTHOG_HOST"

# us.i.posthog.com, eu.i.posthog.com, us-assets.i.posthog.com: PostHog's ingestion hosts.
_INGESTION_HOST = re.compile(r"^(?P<region>us|eu)(?:-assets)?\.i\.posthog\.com$")
_PROJECT_IN_PATH = re.compile(r"/project/(?P<id>\d+)")


class Secret:
    """A string that never shows itself: ``str``/``repr``/``format`` print a mask."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __reduce__(self):  # refuse pickling: a pickle would carry the key to disk
        raise TypeError("a Secret cannot be pickled")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class PostHogConfig:
    host: str
    project_id: str
    api_key: Secret = field(repr=False)
    notes: tuple[str, ...] = ()

    @property
    def region(self) -> str | None:
        """``us``/``eu`` for PostHog Cloud hosts, ``None`` for self-hosted."""
        hostname = (urlsplit(self.host).hostname or "").lower()
        if hostname in ("us.posthog.com", "app.posthog.com"):
            return "us"
        if hostname == "eu.posthog.com":
            return "eu"
        return None

    @property
    def source_key(self) -> str:
        """What identifies this PostHog project in the warehouse's sync state (no secret)."""
        return source_key(self.host, self.project_id)


def source_key(host: str, project_id: str) -> str:
    """The sync state's name of a PostHog project: the API ingest's and the batch-export files'."""
    return f"{host}/project/{project_id}"


def normalize_host(raw: str) -> tuple[str, list[str], str | None]:
    """Clean a host the user typed: returns (base URL, notes for the user, project id in URL).

    ``us.i.posthog.com`` and friends are PostHog's *ingestion* hosts; the private API this
    tool reads lives on ``us.posthog.com`` / ``eu.posthog.com``, so they are mapped with a note.
    A pasted app URL such as ``https://eu.posthog.com/project/123/insights`` is reduced to its
    host and its project id is offered to the caller.
    """
    notes: list[str] = []
    text = raw.strip()
    if not text:
        raise ConfigError(f"The PostHog host is empty. Set {ENV_HOST} or use --region us|eu.")
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"'{raw}' is not a PostHog host URL. Use https://us.posthog.com, "
            "https://eu.posthog.com (or --region us|eu), or your self-hosted PostHog's URL."
        )
    if parts.username or parts.password:
        raise ConfigError(
            f"The PostHog host must not contain a user name or password; put the personal API key in {ENV_KEY}."
        )
    netloc = parts.netloc.lower()
    project_in_url = None
    match = _PROJECT_IN_PATH.search(parts.path)
    if match:
        project_in_url = match.group("id")
    ingestion = _INGESTION_HOST.match(netloc)
    if ingestion:
        fixed = REGION_HOSTS[ingestion.group("region")]
        notes.append(
            f"{netloc} is PostHog's ingestion host (it receives events from your app); "
            f"reading data goes through the app host, so {fixed} is used instead."
        )
        return fixed, notes, project_in_url
    if netloc.endswith(".i.posthog.com"):
        raise ConfigError(
            f"{netloc} is a PostHog ingestion host, which cannot be used to read data. "
            "Use https://us.posthog.com or https://eu.posthog.com (or --region us|eu)."
        )
    base = f"{parts.scheme}://{netloc}"
    # A self-hosted PostHog may live under a path prefix; keep it, minus any app page path.
    path = parts.path
    if match:
        path = path[: match.start()]
    path = path.rstrip("/")
    if path and netloc.endswith("posthog.com"):
        path = ""
    return base + path, notes, project_in_url


def resolve_project(
    *,
    host: str | None = None,
    region: str | None = None,
    project_id: str | None = None,
    environ: dict[str, str] | None = None,
) -> tuple[str, str, list[str]]:
    """(host, project id, notes): which PostHog project, from flags, then the environment, then
    defaults. Needs no API key (batch-export files name no project; the user says which)."""
    env = os.environ if environ is None else environ
    notes: list[str] = []

    if region is not None:
        region = region.strip().lower()
        if region not in REGION_HOSTS:
            raise ConfigError(f"--region must be 'us' or 'eu', not '{region}'.")

    host_source = "--host"
    if host is None and region is None:
        host = env.get(ENV_HOST) or None
        host_source = ENV_HOST
    if host is not None:
        base, host_notes, project_in_url = normalize_host(host)
        notes.extend(host_notes)
        if region is not None and base != REGION_HOSTS[region]:
            raise ConfigError(f"{host_source} ({base}) and --region {region} disagree; give only one of them.")
    else:
        base, project_in_url = REGION_HOSTS[region or "us"], None

    project = project_id if project_id is not None else env.get(ENV_PROJECT)
    project = (project or "").strip() or project_in_url
    if not project:
        raise ConfigError(
            f"No PostHog project id. Set {ENV_PROJECT} (or --project-id) to the number in your "
            "PostHog address bar: https://us.posthog.com/project/<project id>/..."
        )
    if not project.isdigit():
        raise ConfigError(
            f"The PostHog project id must be a number (the one after /project/ in your PostHog "
            f"address bar), not '{project}'."
        )
    return base, project, notes


def resolve_config(
    *,
    host: str | None = None,
    region: str | None = None,
    project_id: str | None = None,
    environ: dict[str, str] | None = None,
) -> PostHogConfig:
    """Build the configuration from flags first, then environment variables, then defaults."""
    env = os.environ if environ is None else environ
    base, project, notes = resolve_project(host=host, region=region, project_id=project_id, environ=env)
    key = (env.get(ENV_KEY) or "").strip()
    if not key:
        raise ConfigError(
            f"No PostHog personal API key. Create one in PostHog (Settings > Personal API keys) "
            f"with the scopes query:read, person:read and group:read, and set {ENV_KEY}; "
            "see docs/posthog.md."
        )
    return PostHogConfig(host=base, project_id=project, api_key=Secret(key), notes=tuple(notes))
