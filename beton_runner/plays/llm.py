"""The LLM engine: the same facts and the same signal-selected plays, written by a model behind
an OpenAI-compatible chat-completions API.

Settings come from the environment: ``BETON_LLM_BASE_URL`` (e.g. ``https://api.openai.com/v1``;
the engine POSTs to ``<base>/chat/completions``), ``BETON_LLM_MODEL``, ``BETON_LLM_API_KEY``
(secret: sent only as ``Authorization: Bearer …``, never logged, never in an error, a play or an
export), ``BETON_LLM_TIMEOUT`` (seconds per attempt, default 60) and ``BETON_LLM_RETRIES``
(default 2; urllib3 ``Retry`` on connection errors, read timeouts, 429 and 5xx, honouring
``Retry-After``).

The model writes only the "Recommended plays" section; the facts sections around it come from
the templates, so they are exact. The answer is refused (``LLMError``) when it is malformed,
misses a play's heading, or writes a number that is not in the facts; the caller then falls
back to the deterministic engine with a visible warning.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import requests
import requests.auth
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

from ..errors import ConfigError
from .errors import LLMError
from .grounding import ungrounded_numbers
from .playbook import Recommendation, recommend
from .render import DeterministicEngine, PlayDocument

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_RETRIES = 2
CONNECT_TIMEOUT_S = 10.0
RETRY_STATUSES = (429, 500, 502, 503, 504)

SYSTEM_PROMPT = """\
You are a senior B2B SaaS sales strategist. You write account plays for a sales rep, in Markdown.

Rules:
- Write one section per play listed by the user, in the order given. Start each section with a
  level-3 heading that is exactly "### " followed by the play's title.
- In each section write, in this order: **Why now** (bullets that cite the facts), **Talk track**
  (a short paragraph), **First email** (a subject line and a short body to the most relevant
  contact, signed by the account owner), **Objections** (two or three, each with a response) and
  **Next steps** (bullets).
- Use only the facts given. Every number you write must appear in the facts exactly as given: no
  estimates, no new percentages, totals, prices, durations or dates. When in doubt, use words.
- Do not use numbered lists. Do not invent people, companies, products or events; name only
  contacts that are in the facts.
- Output only the play sections: no preamble, no other headings, no closing remarks.
"""


def _redact(url: str) -> str:
    """The URL without credentials, query or fragment (safe for messages)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


@dataclass(frozen=True)
class LLMSettings:
    base_url: str
    model: str
    api_key: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT_S
    retries: int = DEFAULT_RETRIES

    @classmethod
    def from_env(cls, environ: dict | None = None) -> "LLMSettings":
        env = os.environ if environ is None else environ
        base_url = (env.get("BETON_LLM_BASE_URL") or "").strip()
        model = (env.get("BETON_LLM_MODEL") or "").strip()
        missing = [name for name, value in (("BETON_LLM_BASE_URL", base_url), ("BETON_LLM_MODEL", model)) if not value]
        if missing:
            raise ConfigError(f"--engine llm needs {' and '.join(missing)} (an OpenAI-compatible API, e.g. "
                              "BETON_LLM_BASE_URL=https://api.openai.com/v1 BETON_LLM_MODEL=gpt-4o-mini, plus "
                              "BETON_LLM_API_KEY); see docs/plays.md")
        if not re.match(r"^https?://", base_url):
            raise ConfigError(f"BETON_LLM_BASE_URL must start with http:// or https:// (got {_redact(base_url) or 'a value without a scheme'})")
        try:
            timeout = float(env.get("BETON_LLM_TIMEOUT") or DEFAULT_TIMEOUT_S)
            retries = int(env.get("BETON_LLM_RETRIES") or DEFAULT_RETRIES)
        except ValueError:
            raise ConfigError("BETON_LLM_TIMEOUT must be a number of seconds and BETON_LLM_RETRIES a whole number") from None
        if timeout <= 0 or retries < 0:
            raise ConfigError("BETON_LLM_TIMEOUT must be positive and BETON_LLM_RETRIES at least 0")
        return cls(base_url, model, (env.get("BETON_LLM_API_KEY") or "").strip() or None, timeout, retries)

    @property
    def endpoint(self) -> str:
        return self.base_url.rstrip("/") + "/chat/completions"

    @property
    def safe_endpoint(self) -> str:
        return _redact(self.endpoint)


def build_messages(facts: dict, recommendations: list[Recommendation]) -> list[dict]:
    plays = [{"title": r.title, "key": r.key, "goal": r.goal, "why_now": r.evidence} for r in recommendations]
    user = (
        f"Account: {facts['account'].get('name') or facts['account']['account_id']}\n\n"
        "Facts from the warehouse (JSON):\n```json\n" + json.dumps(facts, indent=1, ensure_ascii=False, sort_keys=True)
        + "\n```\n\nPlays to write, chosen because their signals hold (JSON, in order):\n```json\n"
        + json.dumps(plays, indent=1, ensure_ascii=False) + "\n```\n"
    )
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def _session(settings: LLMSettings) -> requests.Session:
    retry = Retry(
        total=settings.retries, connect=settings.retries, read=settings.retries, status=settings.retries,
        other=0, backoff_factor=0.5, backoff_max=10, status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"POST"}), raise_on_status=False, respect_retry_after_header=True,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class _Bearer(requests.auth.AuthBase):
    """``Authorization: Bearer <key>``. Passed as ``auth`` (not a header) so requests never
    replaces it with ~/.netrc credentials; its repr never shows the key."""

    def __init__(self, key: str):
        self._key = key

    def __call__(self, request):
        request.headers["Authorization"] = f"Bearer {self._key}"
        return request

    def __repr__(self) -> str:
        return "<Bearer ***>"


def _root_cause(exc: BaseException) -> BaseException:
    seen = exc
    for _ in range(10):
        nxt = getattr(seen, "reason", None) or seen.__cause__ or seen.__context__
        if nxt is None or nxt is seen:
            break
        seen = nxt
    return seen


def _strip_fences(text: str) -> str:
    text = text.strip()
    match = re.match(r"^```[a-zA-Z]*\n(.*)\n```$", text, re.S)
    return match.group(1).strip() if match else text


class LLMEngine:
    """Plays written by an OpenAI-compatible chat-completions model."""

    name = "llm"

    def __init__(self, settings: LLMSettings, deterministic: DeterministicEngine | None = None):
        self.settings = settings
        self.deterministic = deterministic or DeterministicEngine()
        self.session = _session(settings)

    def close(self) -> None:
        self.session.close()

    def complete(self, messages: list[dict]) -> str:
        """The assistant's answer, or ``LLMError`` (the message never holds the key)."""
        s = self.settings
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        auth = _Bearer(s.api_key) if s.api_key else None
        payload = {"model": s.model, "messages": messages, "temperature": 0.2, "stream": False}
        attempts = s.retries + 1
        where = f"POST {s.safe_endpoint}"
        try:
            response = self.session.post(s.endpoint, json=payload, headers=headers, auth=auth,
                                         timeout=(min(CONNECT_TIMEOUT_S, s.timeout), s.timeout))
        except (requests.Timeout, requests.ConnectionError) as exc:
            cause = _root_cause(exc)
            if "timeout" in type(cause).__name__.lower() or isinstance(exc, requests.Timeout):
                raise LLMError(f"{where} timed out ({s.timeout:g} s per attempt, {attempts} attempt(s))", "timeout") from None
            raise LLMError(f"{where} failed: cannot connect ({type(cause).__name__}, {attempts} attempt(s))",
                           "unreachable") from None
        except requests.RequestException as exc:
            raise LLMError(f"{where} failed: {type(exc).__name__}", "unreachable") from None
        if response.status_code >= 400:
            kind = "server_error" if response.status_code >= 500 else "http_error"
            hint = " (check BETON_LLM_API_KEY)" if response.status_code in (401, 403) else (
                " (check BETON_LLM_MODEL and BETON_LLM_BASE_URL)" if response.status_code in (400, 404) else "")
            raise LLMError(f"{where} answered HTTP {response.status_code}" +
                           (f" after {attempts} attempt(s)" if response.status_code in RETRY_STATUSES else "") + hint, kind)
        try:
            data = response.json()
            content = data["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise LLMError(f"{where} answered HTTP {response.status_code} with a body that is not a chat completion "
                           "(expected JSON with choices[0].message.content)", "malformed") from None
        if not isinstance(content, str) or not content.strip():
            raise LLMError(f"{where} answered with an empty message", "malformed")
        return content

    def write(self, facts: dict, recommendations: list[Recommendation] | None = None) -> PlayDocument:
        recommendations = recommend(facts) if recommendations is None else recommendations
        if not recommendations:  # nothing to write: the deterministic "no play" document says so
            return self.deterministic.write(facts, recommendations)
        plays_markdown = _strip_fences(self.complete(build_messages(facts, recommendations)))
        plays_markdown = re.sub(r"^#{1,2} .*\n?", "", plays_markdown, flags=re.M).strip()  # only ### sections
        missing = [r.title for r in recommendations
                   if not re.search(r"^###\s+" + re.escape(r.title) + r"\s*$", plays_markdown, re.M | re.I)]
        if missing:
            raise LLMError(f"the model's answer has no section for: {', '.join(missing)}", "malformed")
        bad = ungrounded_numbers(plays_markdown, facts)
        if bad:
            raise LLMError(f"the model wrote numbers that are not in the facts: {', '.join(bad[:10])}", "ungrounded")
        markdown = self.deterministic.render(facts, recommendations, engine=self.name, plays_markdown=plays_markdown)
        a = facts["account"]
        return PlayDocument(a["account_id"], a.get("name"), a.get("domain"), markdown,
                            [r.key for r in recommendations], self.name)
