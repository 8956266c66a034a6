"""The `beton` group and its one error handler.

Every command runs inside ``BetonGroup.invoke``: a ``BetonError`` (or an ``OSError``: a path
that cannot be read or written, a full disk) becomes one clean ``error:`` message on stderr and
a non-zero exit; anything else is a bug and says so in one line. ``--debug`` (or
``BETON_DEBUG=1``) shows the traceback instead. Commands therefore just raise.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ..errors import BetonError
from ..project import Project
from . import console

EXIT_BUG = 3


def configure_logging(debug: bool) -> None:
    """Libraries' log lines (e.g. the ClickHouse driver's "Unexpected Http Driver Exception")
    are for --debug; without it, what went wrong reaches the user as one ``error:`` line."""
    root = logging.getLogger()
    if debug:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    elif not root.handlers:
        root.addHandler(logging.NullHandler())


class Context:
    """What the group's options say about every command: the project folder, the dbt profile
    target (--profiles-dir, --profile, --target) and --debug."""

    def __init__(
        self,
        project_dir: str | None,
        debug: bool,
        *,
        profiles_dir: Path | None = None,
        profile: str | None = None,
        target: str | None = None,
    ):
        self.project_dir = project_dir
        self.debug = debug
        self.profiles_dir = profiles_dir
        self.profile_name = profile
        self.target = target

    def project(
        self,
        target: str | None = None,
        duckdb_path: Path | None = None,
        *,
        profile: str | None = None,
        profiles_dir: Path | None = None,
        warehouse: bool = True,
    ) -> Project:
        """The project, with a command's own --target/--profile/--profiles-dir over the group's."""
        return Project.locate(
            self.project_dir,
            target or self.target,
            duckdb_path=duckdb_path,
            profile=profile or self.profile_name,
            profiles_dir=profiles_dir or self.profiles_dir,
            resolve=warehouse,
        )


def _describe_os_error(exc: OSError) -> str:
    where = f" {exc.filename}" if exc.filename else ""
    reason = exc.strerror or type(exc).__name__
    return f"cannot use{where}: {reason}; check the path and its permissions (and free disk space)"


def _debug(ctx: click.Context) -> bool:
    root = ctx.find_root().obj
    return bool(getattr(root, "debug", False)) or os.environ.get("BETON_DEBUG", "").lower() in ("1", "true", "yes")


def guarded(ctx: click.Context, invoke: Callable[[click.Context], Any]) -> Any:
    """Run ``invoke(ctx)``; a domain error becomes one clean message and an exit code."""
    try:
        return invoke(ctx)
    except (click.exceptions.Exit, click.ClickException, click.Abort):
        raise
    except BetonError as exc:
        if _debug(ctx):
            raise
        console.error(str(exc))
        ctx.exit(exc.exit_code)
    except OSError as exc:
        if _debug(ctx):
            raise
        console.error(_describe_os_error(exc))
        ctx.exit(1)
    except Exception as exc:  # a bug: say so in one line; the traceback is one flag away
        if _debug(ctx):
            raise
        console.error(
            f"unexpected {type(exc).__name__}: {exc} (a bug in beton: rerun with --debug for the "
            "traceback and report it)"
        )
        ctx.exit(EXIT_BUG)


class BetonCommand(click.Command):
    """Every `beton` command: errors go through ``guarded``, also when the command is invoked
    on its own (from another click group or a test)."""

    def invoke(self, ctx: click.Context) -> Any:
        return guarded(ctx, super().invoke)


class BetonGroup(click.Group):
    """Every `beton` group: its subcommands are ``BetonCommand``s and ``BetonGroup``s."""

    command_class = BetonCommand
    group_class = type  # subgroups are of this class too

    def invoke(self, ctx: click.Context) -> Any:
        return guarded(ctx, super().invoke)


class LazyGroup(BetonGroup):
    """A group whose subcommands are imported when one is run (or listed, for --help and shell
    completion), not when `beton` starts: a command then pays only for its own imports (click's
    documented LazyGroup pattern). ``lazy_subcommands``: {name: "module:attribute"}, the module
    relative to ``beton_runner.cli``."""

    def __init__(self, *args: Any, lazy_subcommands: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_subcommands = dict(lazy_subcommands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_subcommands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_subcommands and cmd_name not in self.commands:
            module_name, attribute = self.lazy_subcommands[cmd_name].split(":")
            loaded = getattr(importlib.import_module(f"beton_runner.cli.{module_name}"), attribute)
            if not isinstance(loaded, click.Command):
                raise TypeError(f"{self.lazy_subcommands[cmd_name]} is not a click command")
            self.add_command(loaded, cmd_name)
        return super().get_command(ctx, cmd_name)


def command(name: str | None = None, **attrs: Any) -> Callable:
    """``click.command`` for a `beton` command (errors handled by ``guarded``)."""
    return click.command(name, cls=BetonCommand, **attrs)


def group(name: str | None = None, **attrs: Any) -> Callable:
    """``click.group`` for a `beton` group."""
    return click.group(name, cls=BetonGroup, **attrs)
