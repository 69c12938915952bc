"""``cw``: the entry point. Commands are added per group (see docs/cli.md)."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="cw",
    help="Codewalkers: plan initiatives, phases and tasks, and hand them to coding agents.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command("version")
def version() -> None:
    """Print the installed Codewalkers version.

    Example: cw version
    """
    from importlib.metadata import version as installed

    typer.echo(installed("codewalkers"))


def main() -> None:
    """Console-script entry point."""
    app()
