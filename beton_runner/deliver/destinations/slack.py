"""The Slack destination (``kind: slack``): who entered a punch list, as Block Kit messages posted
through an incoming webhook.

One message per rule and run (``as_of``), split into parts when it would not fit: a header
("PQL: Power Users: 12 entered, 3 exited"), a context line (title, the run, the rule key) and one
section per entity — who (name, email, domain; linked when ``link`` is set) and why (score, rank,
the finding's metrics: events, active days, days since the last event, ...).

Slack's documented limits, respected by :meth:`SlackDestination.plan` (and enforced by the test
stand-in ``tests/fakes/slack_server``):

* at most 50 blocks per message — https://docs.slack.dev/reference/block-kit/blocks
* a section's text at most 3,000 characters —
  https://docs.slack.dev/reference/block-kit/blocks/section-block
* a header's plain text at most 150 characters —
  https://docs.slack.dev/reference/block-kit/blocks/header-block
* a top-level ``text`` with blocks is the fallback shown in notifications; always sent —
  https://docs.slack.dev/reference/methods/chat.postMessage
* Slack also refuses messages whose blocks are long in total (``msg_blocks_too_long`` at about
  13,000 characters, undocumented: https://github.com/slackapi/bolt-js/issues/2509), so a part
  holds at most ~11,000 characters of block text besides the entity count.
* ``&``, ``<`` and ``>`` are control characters in mrkdwn and are escaped as ``&amp;``, ``&lt;``,
  ``&gt;`` in every value that comes from data —
  https://docs.slack.dev/messaging/formatting-message-text#escaping — so a CRM name such as
  ``<!channel>`` shows as text and pings nobody.
* posting: about one message per second per webhook, short bursts allowed; over it Slack answers
  429 with ``Retry-After`` — https://docs.slack.dev/apis/web-api/rate-limits. Sends are spaced by
  ``send_interval`` (1 s) and a 429 is waited out by the HTTP layer.
* errors are HTTP statuses with a short plain-text code in the body (400 ``invalid_payload``,
  403 ``action_prohibited``, 404 ``channel_not_found``/``no_service``, 410
  ``channel_is_archived``, 500 ``rollup_error``) —
  https://api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks. Only 429
  and 5xx are temporary.

Exactly once, honestly: incoming webhooks take no idempotency key. A run killed after Slack
accepted a message and before the outbox recorded it posts that one message again on the next
``beton deliver`` (at most one message per kill: each message is recorded as soon as Slack
answers). Likewise a message whose answer is lost (a timeout or a dropped connection after Slack
took it) is posted again by the retry. Every other message is sent once.

The webhook URL is a secret (its path is the credential): it is read from the environment
variable named by ``webhook_url_env`` and messages name it as "Slack incoming webhook
(BETON_SLACK_WEBHOOK_URL)", never by its URL.

Settings (``destinations.yml``)::

    destinations:
      sales_channel:
        kind: slack
        webhook_url_env: BETON_SLACK_WEBHOOK_URL     # default
        title: "Product signals"                     # optional, shown under the header
        link: "https://crm.example.com/search?q={email}"   # optional; {entity_id} {rule_key} {domain} {email}
        max_per_message: 20                          # entities per message (1-45)
        changes: [entered]                           # default
        rules: ["pql_*", "pqa_*"]
"""

from __future__ import annotations

import json
import re
import string
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

from beton_runner.deliver.base import CHANGE_KINDS, Ack, Batch, Change, DeliveryError, Destination
from beton_runner.deliver.destinations import register
from beton_runner.deliver.destinations.common import (
    ENV_NAME,
    check_url,
    common_schema,
    env_name,
    iso_z,
    json_value,
)
from beton_runner.errors import ConfigError

DEFAULT_URL_ENV = "BETON_SLACK_WEBHOOK_URL"

# Slack's documented limits (see the module docstring for the sources).
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_TEXT = 3000
# Our own budget for the total text of a message's blocks (Slack's undocumented msg_blocks_too_long).
MAX_MESSAGE_TEXT = 11000
MAX_FALLBACK_TEXT = 1000
# Blocks besides the entities' sections: the header and the context line.
FIXED_BLOCKS = 2
MAX_PER_MESSAGE = 45
DEFAULT_PER_MESSAGE = 20
DEFAULT_SEND_INTERVAL = 1.0
LINK_FIELDS = ("entity_id", "rule_key", "domain", "email")

# Raw lengths of values from data, before escaping: long enough to identify, short enough that a
# section stays far below 3,000 characters whatever the CRM holds.
MAX_NAME = 120
MAX_EMAIL = 160
MAX_DOMAIN = 120
MAX_METRICS = 8

METRIC_LABELS = {
    "event_count": "{} events",
    "account_events": "{} account events",
    "distinct_events": "{} distinct events",
    "active_days": "{} active days",
    "active_users": "{} active users",
}


def escape(text: object) -> str:
    """Escape Slack's mrkdwn control characters (and only those, as Slack asks)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def shorten(text: str, limit: int) -> str:
    """Raw text cut to ``limit`` characters with an ellipsis (before escaping)."""
    text = " ".join(str(text).split())  # no newlines or runs of spaces from data
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clip_mrkdwn(text: str, limit: int) -> str:
    """Escaped mrkdwn cut to ``limit`` characters without leaving half an entity or an open link."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    lt = cut.rfind("<")
    if lt != -1 and ">" not in cut[lt:]:
        cut = cut[:lt]
    return cut + "…"


def number(value: Any) -> str:
    value = json_value(value)
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() else f"{value:,.2f}".rstrip("0").rstrip(".")
    return str(value)


def when(value: datetime | date | None) -> str:
    """A run instant for people: 2026-10-01 12:00 UTC."""
    if value is None:
        return "-"
    text = iso_z(value) or "-"
    return text[:16].replace("T", " ") + " UTC" if "T" in text else text


def metric_phrases(metrics: Mapping[str, Any]) -> list[str]:
    """The finding's measured values as short phrases, known ones first, at most MAX_METRICS."""
    phrases = []
    for key, fmt in METRIC_LABELS.items():
        if metrics.get(key) is not None:
            phrases.append(fmt.format(number(metrics[key])))
    days = metrics.get("days_since_last_event")
    if days is not None:
        days = json_value(days)
        phrases.append(
            {0: "last event today", 1: "last event yesterday"}.get(days, f"last event {number(days)} days ago")
        )
    elif metrics.get("last_seen") is not None:
        phrases.append(f"last seen {when(metrics['last_seen'])}")
    known = set(METRIC_LABELS) | {"days_since_last_event", "last_seen"}
    for key in sorted(k for k in metrics if k not in known):
        if metrics[key] is not None:
            phrases.append(f"{shorten(str(key), 40)}: {shorten(number(metrics[key]), 60)}")
    return phrases[:MAX_METRICS]


ENTITY_ORDER = {"entered": 0, "exited": 1, "stayed": 2}


def entity_sort_key(change: Change) -> tuple:
    rank = change.previous_rank if change.change == "exited" else change.rank
    return (ENTITY_ORDER.get(change.change, 3), rank is None, rank or 0, change.entity_id, change.change_id)


def counts_text(changes: Sequence[Change]) -> str:
    counts = {k: sum(1 for c in changes if c.change == k) for k in CHANGE_KINDS}
    return ", ".join(f"{n} {k}" for k, n in counts.items() if n)


@register
class SlackDestination(Destination):
    """Post one Block Kit message per rule and run to a Slack incoming webhook."""

    kind = "slack"
    default_changes = ("entered",)

    SCHEMA: ClassVar[dict[str, Any]] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Slack destination (incoming webhook)",
        "description": "Posts who entered (and, if configured, exited) each rule's punch list to a Slack channel.",
        "type": "object",
        "required": ["kind"],
        "additionalProperties": False,
        "properties": {
            **common_schema("slack", ("entered",)),
            "webhook_url_env": {
                "type": "string",
                "pattern": ENV_NAME.pattern,
                "default": DEFAULT_URL_ENV,
                "description": "The environment variable holding the incoming webhook URL "
                "(https://hooks.slack.com/services/…; a secret: never in this file).",
            },
            "title": {
                "type": "string",
                "minLength": 1,
                "maxLength": 200,
                "description": "A line shown under each message's header, e.g. the team or the product.",
            },
            "link": {
                "type": "string",
                "minLength": 1,
                "maxLength": 1000,
                "pattern": "^https?://",
                "description": "A URL template linking each entity, e.g. to your CRM: placeholders "
                "{entity_id}, {rule_key}, {domain}, {email} are filled URL-encoded. An entity without a "
                "value for a placeholder it uses is shown without a link.",
            },
            "max_per_message": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_PER_MESSAGE,
                "default": DEFAULT_PER_MESSAGE,
                "description": "Entities per message (one section each; Slack allows 50 blocks per message). "
                "A rule with more is split into numbered parts. Default 20.",
            },
            "send_interval": {
                "type": "number",
                "minimum": 0,
                "maximum": 60,
                "default": DEFAULT_SEND_INTERVAL,
                "description": "Seconds between two messages (Slack allows about one per second per webhook). "
                "Default 1.",
            },
        },
    }

    def __init__(self, name: str, settings: Mapping[str, Any], env: Mapping[str, str]):
        super().__init__(name, settings, env)
        self._last_send: float | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SlackDestination(name={self.name!r})"  # settings may hold a mistakenly pasted URL

    # -- settings -------------------------------------------------------------------------------

    @property
    def url_env(self) -> str:
        return env_name(self.name, self.settings, "webhook_url_env", DEFAULT_URL_ENV)

    @property
    def label(self) -> str:
        return f"Slack incoming webhook ({self.url_env})"

    @property
    def max_per_message(self) -> int:
        return int(self.settings.get("max_per_message", DEFAULT_PER_MESSAGE))

    @property
    def send_interval(self) -> float:
        return float(self.settings.get("send_interval", DEFAULT_SEND_INTERVAL))

    def check(self) -> None:
        where = self.config_path()
        check_url(self.name, self.url_env, self.env.get(self.url_env), "Slack incoming webhook URL")
        size = self.settings.get("max_per_message", DEFAULT_PER_MESSAGE)
        if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_PER_MESSAGE:
            raise ConfigError(f"{where}.max_per_message must be a whole number from 1 to {MAX_PER_MESSAGE}.")
        interval = self.settings.get("send_interval", DEFAULT_SEND_INTERVAL)
        if not isinstance(interval, (int, float)) or isinstance(interval, bool) or not 0 <= interval <= 60:
            raise ConfigError(f"{where}.send_interval must be a number of seconds from 0 to 60.")
        title = self.settings.get("title")
        if title is not None and (not isinstance(title, str) or not title.strip()):
            raise ConfigError(f"{where}.title must be a non-empty string.")
        link = self.settings.get("link")
        if link is not None:
            self._check_link(link, f"{where}.link")

    @staticmethod
    def _check_link(link: Any, where: str) -> None:
        if not isinstance(link, str) or urlsplit(link).scheme not in ("http", "https") or not urlsplit(link).netloc:
            raise ConfigError(f"{where} must be an http(s) URL template, e.g. https://crm.example.com/a/{{domain}}.")
        if re.search(r"[\s<>|]", link):
            raise ConfigError(f"{where} must not contain spaces, '<', '>' or '|' (they break Slack links).")
        try:
            fields = [(f, spec, conv) for _, f, spec, conv in string.Formatter().parse(link) if f is not None]
        except ValueError as exc:
            raise ConfigError(
                f"{where} is not a valid template ({exc}); write a literal brace as {{{{ or }}}}."
            ) from None
        for field, spec, conv in fields:
            if field not in LINK_FIELDS or spec or conv:
                raise ConfigError(
                    f"{where} uses {{{field}}}; the placeholders are "
                    + ", ".join(f"{{{f}}}" for f in LINK_FIELDS)
                    + "."
                )

    # -- rendering ------------------------------------------------------------------------------

    def _link_for(self, change: Change) -> str | None:
        template = self.settings.get("link")
        if not template:
            return None
        values = {
            "entity_id": change.entity_id,
            "rule_key": change.rule_key,
            "domain": change.domain,
            "email": change.email,
        }
        used = [f for _, f, _, _ in string.Formatter().parse(template) if f]
        if any(not values[f] for f in used):
            return None
        return template.format(**{k: quote(str(v or ""), safe="") for k, v in values.items()})

    def _display_name(self, change: Change) -> str:
        return shorten(change.name or change.email or change.domain or change.entity_id, MAX_NAME)

    def entity_text(self, change: Change) -> str:
        """One entity's section: who, then why (score, rank, time on the list, metrics)."""
        name = escape(self._display_name(change))
        link = self._link_for(change)
        who = f"*<{escape(link)}|{name}>*" if link else f"*{name}*"
        extras = []
        if change.email and change.email != change.name:
            extras.append(escape(shorten(change.email, MAX_EMAIL)))
        if change.domain and change.domain != change.name:
            extras.append(escape(shorten(change.domain, MAX_DOMAIN)))
        lines = [" · ".join([who, *extras])]
        days = change.days_on_list
        on_list = f"on the list {number(days)} day{'s' if days != 1 else ''}" if days is not None else None
        if change.change == "exited":
            was = []
            if change.previous_score is not None:
                was.append(f"score {number(change.previous_score)}")
            if change.previous_rank is not None:
                was.append(f"rank #{number(change.previous_rank)}")
            status = ["Left the list" + (f" (was {', '.join(was)})" if was else "")]
        else:
            score = f"Score *{number(change.score)}*" if change.score is not None else "Score -"
            rank = f"rank *#{number(change.rank)}*" if change.rank is not None else "rank -"
            if change.change == "stayed":
                if change.previous_score is not None:
                    score += f" (was {number(change.previous_score)})"
                if change.previous_rank is not None:
                    rank += f" (was #{number(change.previous_rank)})"
            status = [score, rank]
        if on_list and change.change != "entered":
            status.append(on_list)
        lines.append(" · ".join(status))
        phrases = metric_phrases(change.metrics)
        if phrases:
            lines.append(escape(" · ".join(phrases)))
        return clip_mrkdwn("\n".join(lines), MAX_SECTION_TEXT)

    def _header(self, rule_name: str, counts: str, part: int, parts: int) -> str:
        suffix = f": {counts}" + (f" ({part}/{parts})" if parts > 1 else "")
        room = MAX_HEADER_TEXT - len(suffix)
        return shorten(rule_name, room) + suffix

    def _context(self, group: Sequence[Change]) -> str:
        first = group[0]
        bits = []
        if self.settings.get("title"):
            bits.append(f"*{escape(shorten(self.settings['title'], 200))}*")
        run = f"Run {when(first.as_of)}"
        if first.previous_as_of is not None:
            run += f" (previous {when(first.previous_as_of)})"
        bits.append(run)
        bits.append(f"rule `{escape(shorten(first.rule_key, 100))}`")
        return clip_mrkdwn(" · ".join(bits), MAX_CONTEXT_TEXT)

    def _fallback(self, rule_name: str, counts: str, part: int, parts: int, chunk: Sequence[Change]) -> str:
        names = [self._display_name(c) for c in chunk[:5]]
        more = f" and {len(chunk) - len(names)} more" if len(chunk) > len(names) else ""
        text = f"{rule_name}: {counts}" + (f" ({part}/{parts})" if parts > 1 else "") + f": {', '.join(names)}{more}"
        return clip_mrkdwn(escape(shorten(text, MAX_FALLBACK_TEXT)), MAX_FALLBACK_TEXT)

    def _chunks(self, group: Sequence[Change], context_len: int) -> list[list[tuple[Change, str]]]:
        """Entities into messages within the entity, block and text budgets, in order."""
        chunks: list[list[tuple[Change, str]]] = []
        current: list[tuple[Change, str]] = []
        used = MAX_HEADER_TEXT + context_len
        limit = min(self.max_per_message, MAX_BLOCKS - FIXED_BLOCKS)
        for change in group:
            text = self.entity_text(change)
            if current and (len(current) >= limit or used + len(text) > MAX_MESSAGE_TEXT):
                chunks.append(current)
                current, used = [], MAX_HEADER_TEXT + context_len
            current.append((change, text))
            used += len(text)
        if current:
            chunks.append(current)
        return chunks

    def plan(self, changes: Sequence[Change]) -> list[Batch]:
        groups: dict[tuple, list[Change]] = {}
        for change in changes:
            groups.setdefault((iso_z(change.as_of), change.rule_key), []).append(change)
        batches = []
        for key in sorted(groups):
            group = sorted(groups[key], key=entity_sort_key)
            rule_name = " ".join((group[0].rule_name or group[0].rule_key).split())
            counts = counts_text(group)
            context = self._context(group)
            chunks = self._chunks(group, len(context))
            for part, chunk in enumerate(chunks, start=1):
                header = self._header(rule_name, counts, part, len(chunks))
                blocks: list[dict[str, Any]] = [
                    {"type": "header", "text": {"type": "plain_text", "text": header, "emoji": True}},
                    {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
                ]
                blocks += [{"type": "section", "text": {"type": "mrkdwn", "text": text}} for _, text in chunk]
                payload = {
                    "text": self._fallback(rule_name, counts, part, len(chunks), [c for c, _ in chunk]),
                    "blocks": blocks,
                    "unfurl_links": False,
                    "unfurl_media": False,
                }
                of = f" (part {part} of {len(chunks)})" if len(chunks) > 1 else ""
                batches.append(
                    Batch(
                        changes=[c for c, _ in chunk],
                        payload=payload,
                        summary={"messages": 1, "changes": len(chunk)},
                        description=f"Slack message to {self.label}: {rule_name}, run {when(group[0].as_of)}: "
                        f"{counts_text([c for c, _ in chunk])}{of}",
                    )
                )
        return batches

    # -- sending --------------------------------------------------------------------------------

    def _wait_turn(self) -> None:
        """Space messages by send_interval, counted from the previous answer."""
        if self._last_send is not None:
            wait = self._last_send + self.send_interval - time.monotonic()
            if wait > 0:
                time.sleep(wait)

    def send(self, batch: Batch) -> Ack:
        url = (self.env.get(self.url_env) or "").strip()
        if not url:
            raise DeliveryError(self.name, f"the environment variable {self.url_env} is not set", retryable=False)
        body = json.dumps(batch.payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        with self._lock:
            self._wait_turn()
            try:
                response = self.http.request(
                    "POST",
                    url,
                    raw=body,
                    label=self.label,
                    # Slack's 4xx codes are read here; 429 and 5xx are retried by the HTTP layer.
                    ok=lambda status: status < 500 and status != 429,
                )
            finally:
                self._last_send = time.monotonic()
        if 200 <= response.status < 300:
            return Ack(delivered=[c.change_id for c in batch.changes])
        text = response.text.strip()
        code = text if re.fullmatch(r"[a-z_]{1,64}", text) else ""
        raise DeliveryError(self.name, self._explain(response.status, code), retryable=False, status=response.status)

    def _explain(self, status: int, code: str) -> str:
        """A Slack error answer in plain words, with what to do."""
        said = f"HTTP {status}" + (f" {code}" if code else "")
        fix_url = f"create a new incoming webhook for the channel and put its URL in {self.url_env}"
        if code in (
            "invalid_payload",
            "invalid_blocks",
            "invalid_blocks_format",
            "no_text",
            "too_many_attachments",
        ) or (status == 400 and code.startswith(("invalid_", "missing_"))):
            return (
                f"{self.label} refused the message's content ({said}). This is a bug in Beton: please report "
                "it with the output of `beton deliver --dry-run`."
            )
        if code == "action_prohibited":
            return (
                f"{self.label} refused to post ({said}): a workspace admin restricts what this webhook may "
                "post. Ask them to allow it, or use a webhook for another channel."
            )
        if code == "posting_to_general_channel_denied":
            return f"{self.label} may not post in that channel ({said}): only admins may. Use another channel."
        if code == "channel_is_archived" or status == 410:
            return f"{self.label} points to an archived channel ({said}). Unarchive it, or {fix_url}."
        if code in ("no_service", "no_team", "invalid_token", "team_disabled", "channel_not_found", "user_not_found"):
            return f"{self.label} no longer exists or was revoked ({said}). {fix_url[0].upper()}{fix_url[1:]}."
        if status in (401, 403, 404):
            return f"{self.label} was refused ({said}). Check the URL in {self.url_env}; if it was revoked, {fix_url}."
        if 300 <= status < 400:
            return f"{self.label} answered with a redirect ({said}); check the URL in {self.url_env}."
        return f"{self.label} refused the message ({said})."
