"""Writing plays for many accounts: engine choice, LLM fallback, files on disk."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from ..project import Project
from ..secrets import check_texts, write_text
from .errors import LLMError
from .facts import gather_facts
from .playbook import PLAYS_BY_KEY
from .render import DeterministicEngine, PlayDocument, environment

ENGINES = ("deterministic", "llm")
# After these failures the LLM is not tried for the remaining accounts (each would wait again).
_GIVE_UP = ("timeout", "unreachable", "server_error", "http_error")

Warn = Callable[[str], None]


def write_plays(facts_list: list[dict], engine: str = "deterministic", warn: Warn | None = None) -> list[PlayDocument]:
    """One document per facts; with ``engine='llm'`` any LLM failure falls back to the
    deterministic engine for that account, with a warning (``warn``) and a note in the play."""
    warn = warn or (lambda message: None)
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}")
    deterministic = DeterministicEngine()
    llm = None
    if engine == "llm":
        from .llm import LLMEngine, LLMSettings

        llm = LLMEngine(LLMSettings.from_env(), deterministic)
    documents: list[PlayDocument] = []
    given_up: str | None = None
    try:
        for facts in facts_list:
            label = facts["account"].get("domain") or facts["account"]["account_id"]
            if llm is not None and given_up is None:
                try:
                    documents.append(llm.write(facts))
                    continue
                except LLMError as exc:
                    message = (
                        f"{label}: the LLM engine failed ({exc}); the deterministic engine wrote this play instead"
                    )
                    if exc.reason in _GIVE_UP:
                        given_up = exc.reason
                        remaining = len(facts_list) - len(documents) - 1
                        if remaining:
                            message += f"; not trying the LLM for the {remaining} remaining account(s)"
                    warn(message)
                    documents.append(_fallback(deterministic, facts, message))
                    continue
            if llm is not None:
                documents.append(_fallback(deterministic, facts, f"{label}: LLM skipped after an earlier {given_up}"))
            else:
                documents.append(deterministic.write(facts))
    finally:
        if llm is not None:
            llm.close()
    return documents


def _fallback(deterministic: DeterministicEngine, facts: dict, warning: str) -> PlayDocument:
    document = deterministic.write(facts)
    from .playbook import recommend

    document.markdown = deterministic.render(facts, recommend(facts), fallback=True)
    document.fallback = True
    document.warnings.append(warning)
    return document


def generate_plays(
    project: Project,
    accounts: list[str] | None = None,
    *,
    all_accounts: bool = False,
    engine: str = "deterministic",
    warn: Warn | None = None,
) -> list[PlayDocument]:
    """Facts from the warehouse, then plays (see :func:`write_plays`)."""
    return write_plays(gather_facts(project, accounts, all_accounts=all_accounts), engine, warn)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-")


def file_names(documents: list[PlayDocument]) -> dict[str, str]:
    """account_id -> file name (the domain, else the name, else the id; unique)."""
    names: dict[str, str] = {}
    used: set[str] = set()
    for doc in documents:
        base = _slug(doc.domain or "") or _slug(doc.name or "") or _slug(doc.account_id) or "account"
        name = f"{base}.md"
        if name in used or name == "index.md":
            name = f"{base}-{_slug(doc.account_id)}.md"
        used.add(name)
        names[doc.account_id] = name
    return names


def write_play_files(documents: list[PlayDocument], out_dir: Path) -> list[Path]:
    """One Markdown file per account plus ``index.md``, UTF-8, written atomically; returns the paths.

    Every file is checked for secrets first (:mod:`beton_runner.secrets`): when one would hold
    the value of a secret variable, ``SecretInOutputError`` names it and no file is written."""
    names = file_names(documents)
    index = (
        environment()
        .get_template("plays_index.md.j2")
        .render(documents=documents, names=names, titles={k: p.title for k, p in PLAYS_BY_KEY.items()})
    )
    files = [(out_dir / names[doc.account_id], doc.markdown) for doc in documents] + [(out_dir / "index.md", index)]
    check_texts(files)
    out_dir.mkdir(parents=True, exist_ok=True)
    return [write_text(path, text) for path, text in files]
