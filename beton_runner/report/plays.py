"""Sales plays on disk (`beton plays` writes ``output/plays/<account>.md``): which account each
file is for, so the report can link to it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(text).strip().lower()).strip("-")


@dataclass
class Plays:
    folder: Path
    by_account: dict[str, Path] = field(default_factory=dict)  # account_id -> play file
    files: list[Path] = field(default_factory=list)  # every play file, sorted
    index: Path | None = None

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
