"""``cw``: the entry point. One Typer app, one sub-app per group (see docs/cli.md).

Exit codes: 0 success, 1 user error (one line on stderr, no traceback), 2 bad usage.
"""

from __future__ import annotations

import functools
import sys
from typing import Annotated

import typer

from codewalkers.cli import _common
from codewalkers.cli._common import CliError
from codewalkers.db import DatabaseError
from codewalkers.workspace import WorkspaceError

app = typer.Typer(
    name="cw",
    help="Codewalkers: plan initiatives, phases and tasks, and hand them to coding agents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("codewalkers")
        except PackageNotFoundError:  # pragma: no cover - a source tree never installed
            number = "unknown"
        sys.stdout.write(f"cw {number}\n")
        raise typer.Exit()


@app.callback()
def _root(
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            envvar="CW_DATABASE_URL",
            help="Database to use instead of the workspace's .cw/cw.db "
            "(sqlite:///path or postgresql://...).",
        ),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="JSON output for any command.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print cw's version and exit.",
        ),
    ] = False,
) -> None:
    _common.settings.database_url = database_url
    _common.settings.json = json_output


@functools.cache
def _register() -> None:
    """Add the command groups to ``app``, once per process (``main`` may run many times)."""
    from codewalkers.cli._help import install
    from codewalkers.cli.commands import register

    install()
    register(app)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: user errors become one line on stderr and exit code 1."""
    _register()
    try:
        app(args=argv, prog_name="cw")
    except (DatabaseError, WorkspaceError, CliError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        sys.stderr.write(f"error: {message}\n")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
