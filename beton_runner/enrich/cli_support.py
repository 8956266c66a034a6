"""What the enrich, plays and export commands share with the `beton` group without importing
``beton_runner.cli`` (which imports them): the project from the group's context, consoles, and
the ``BetonError`` -> one clean message + exit handler."""

from __future__ import annotations

import functools
import sys
from typing import Callable

import click
from rich.console import Console
from rich.markup import escape

from ..errors import BetonError
from ..project import TARGETS, Project

console = Console()
if not console.is_terminal:
    console = Console(width=200)
err_console = Console(stderr=True)

target_option = click.option("--target", "-t", type=click.Choice(TARGETS), default=None,
                             help="Warehouse: duckdb (default, env BETON_TARGET) or clickhouse.")


def _root_obj():
    ctx = click.get_current_context(silent=True)
    return ctx.find_root().obj if ctx is not None else None


def project_from_context(target: str | None = None) -> Project:
    """The project the `beton` group was pointed at (--project-dir), else located as usual."""
    obj = _root_obj()
    if obj is not None and hasattr(obj, "project"):
        return obj.project(target)
    return Project.locate(None, target)


def warn(message: str) -> None:
    err_console.print(f"[yellow]warning:[/] {escape(message)}", highlight=False, markup=True, soft_wrap=True)


def handle_errors(func: Callable) -> Callable:
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        obj = _root_obj()
        debug = bool(getattr(obj, "debug", False))
        try:
            return func(*args, **kwargs)
        except BetonError as exc:
            if debug:
                raise
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, markup=True, soft_wrap=True)
            sys.exit(exc.exit_code)
    return wrapper
