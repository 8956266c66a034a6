"""The one way `beton` prints: every piece of data or rule text is escaped.

rich parses ``[...]`` as markup, so an account called ``Acme [EU]`` would lose ``[EU]`` and a
name like ``Closing [/] tag`` would crash the command. Here, only the fixed words of a message
are markup; whatever comes from data, rule files, the warehouse or an exception is escaped
(``esc``) or passed as ``Text`` (table cells), never parsed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

# Piped or captured: wide enough that punch lists are not folded.
console = Console() if Console().is_terminal else Console(width=200)
err_console = Console(stderr=True)


def esc(value: object) -> str:
    """``value`` as text that rich shows literally (markup characters escaped)."""
    return escape(str(value))


def say(markup: str = "", *, stderr: bool = False) -> None:
    """Print a line whose markup is ours; data inside it must already be ``esc()``-ed."""
    (err_console if stderr else console).print(markup, highlight=False, soft_wrap=True)


def text(value: object, *, stderr: bool = False) -> None:
    """Print data as it is (no markup at all), e.g. a rule's description or a document."""
    (err_console if stderr else console).print(Text(str(value)), highlight=False, soft_wrap=True)


def ok(message_markup: str, *, stderr: bool = False) -> None:
    say(f"[green]ok:[/] {message_markup}", stderr=stderr)


def warn(message: str) -> None:
    """A warning on stderr; ``message`` is data (escaped here)."""
    say(f"[yellow]warning:[/] {esc(message)}", stderr=True)


def note(message: str) -> None:
    """A note on stderr; ``message`` is data (escaped here)."""
    say(f"[yellow]note:[/] {esc(message)}", stderr=True)


def error(message: str) -> None:
    """The one error line (or block, for a list of problems) of a failed command."""
    say(f"[bold red]error:[/] {esc(message)}", stderr=True)


def table(
    columns: Sequence[str | tuple[str, dict]],
    rows: Iterable[Sequence[object]],
    *,
    title: str | None = None,
    title_markup: str | None = None,
) -> Table:
    """A rich table whose headers, title and cells are shown literally.

    ``columns``: a header, or (header, rich column options). ``title``: plain text;
    ``title_markup``: a title whose data parts the caller escaped.
    """
    heading = Text.from_markup(title_markup) if title_markup is not None else (Text(title) if title else None)
    out = Table(title=heading, title_justify="left")
    for column in columns:
        header, options = (column, {}) if isinstance(column, str) else column
        out.add_column(Text(header), **options)
    for row in rows:
        out.add_row(*(cell if isinstance(cell, Text) else Text("" if cell is None else str(cell)) for cell in row))
    return out


def show(renderable, *, stderr: bool = False) -> None:
    """Print a table (or any renderable built by this module)."""
    (err_console if stderr else console).print(renderable)


def is_interactive() -> bool:
    """A person watches stderr (progress bars make sense), not a log file or CI."""
    return err_console.is_terminal and os.environ.get("CI", "").lower() not in ("1", "true")
