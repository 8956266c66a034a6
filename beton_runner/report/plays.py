"""Sales plays on disk (`beton plays` and `beton demo` write ``output/plays/<account>.md``,
``Project.plays_dir``): which account each file is for, and each play's Markdown as HTML, so the
report shows the plays inside the page.

The Markdown is rendered by markdown-it-py with raw HTML off: a ``<script>`` or any other tag in
the text (a play quotes CRM and product data) comes out as escaped text, never as markup. Images
are off too (the report loads nothing from the network) and markdown-it's link check drops
``javascript:`` and other unsafe link targets."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(text).strip().lower()).strip("-")


@dataclass
class Plays:
    folder: Path
    by_account: dict[str, Path] = field(default_factory=dict)  # account_id -> play file
    files: list[Path] = field(default_factory=list)  # every play file, sorted
    index: Path | None = None
    texts: dict[Path, str] = field(default_factory=dict)  # play file -> its Markdown

    def __bool__(self) -> bool:
        return bool(self.files)


def find_plays(folder: Path, accounts: pd.DataFrame | None) -> Plays:
    """Play files in ``folder``, matched to accounts by file stem = account id, domain or the
    slug of the account name (case-insensitive)."""
    plays = Plays(folder)
    if not folder.is_dir():
        return plays
    for path in sorted(folder.glob("*.md")):
        if path.stem.lower() in ("index", "readme"):
            plays.index = path
        else:
            plays.files.append(path)
            plays.texts[path] = path.read_text(encoding="utf-8", errors="replace")
    if accounts is None or not plays.files:
        return plays
    by_stem = {p.stem.lower(): p for p in plays.files}
    for row in accounts.itertuples(index=False):
        record = row._asdict()
        account_id = str(record.get("account_id"))
        for key in (record.get("account_id"), record.get("domain"), record.get("name")):
            if key is None or (isinstance(key, float) and pd.isna(key)):
                continue
            for candidate in (str(key).strip().lower(), slug(str(key))):
                if candidate in by_stem:
                    plays.by_account.setdefault(account_id, by_stem[candidate])
    return plays


def _image_as_text(renderer, tokens, idx, options, env) -> str:
    return escapeHtml(renderer.renderInlineAsText(tokens[idx].children or [], options, env))


def _markdown() -> MarkdownIt:
    # commonmark with raw HTML off (tags in the text stay text) plus tables (plays have them);
    # an image shows as its alt text: the report loads nothing from the network
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    md.add_render_rule("image", _image_as_text)
    return md


_MD = _markdown()


def render_play(markdown: str) -> str:
    """One play's Markdown as an HTML fragment; any HTML in ``markdown`` is escaped text."""
    return _MD.render(markdown)
