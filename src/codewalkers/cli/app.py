"""``cw``: the entry point. One Typer app, one sub-app per group (see docs/cli.md).

Exit codes: 0 success, 1 user error (one line on stderr, no traceback), 2 bad usage.
"""

from __future__ import annotations

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


#: Command modules added to ``app`` so far (``main`` may run many times in one process).
_registered: set[str] = set()
_ROOT_FLAGS = {"--json"}
_ROOT_OPTIONS = {"--database-url"}


def _register(name: str | None = None) -> None:
    """Add the command module that registers the top-level ``name`` to ``app``; with no
    name (or one no module registers), every module, in help order.

    Importing every module costs a plain read as much as the read itself; see
    ``commands.GROUPS``.
    """
    from codewalkers.cli import _help, _params
    from codewalkers.cli.commands import GROUPS, MODULE_OF, register_module

    _help.install()
    _params.install()
    module = MODULE_OF.get(name) if name is not None else None
    if module is not None:
        if module not in _registered:
            register_module(app, module)
            _registered.add(module)
        return
    if _registered == set(GROUPS):
        return
    # Everything, in help order: what a single command added first is added again in place.
    app.registered_commands.clear()
    app.registered_groups.clear()
    for each in GROUPS:
        register_module(app, each)
    _registered.update(GROUPS)


def command_name(argv: list[str]) -> str | None:
    """The top-level command in ``argv`` (``task`` in ``--json task list``), or ``None``
    when options other than the root's come first (``--help``, ``--version``) or there is none.
    """
    index = 0
    while index < len(argv):
        token = argv[index]
        if token in _ROOT_FLAGS or any(token.startswith(f"{o}=") for o in _ROOT_OPTIONS):
            index += 1
        elif token in _ROOT_OPTIONS:
            index += 2
        elif token.startswith("-"):
            return None
        else:
            return token
    return None


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: user errors become one line on stderr and exit code 1."""
    _register(command_name(sys.argv[1:] if argv is None else list(argv)))
    try:
        app(args=argv, prog_name="cw")
    except (DatabaseError, WorkspaceError, CliError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        sys.stderr.write(f"error: {message}\n")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
