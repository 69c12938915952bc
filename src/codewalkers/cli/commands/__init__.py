"""The command groups of ``cw``."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    from codewalkers.cli.commands import initiative, phase, task, workspace

    workspace.register(app)
    app.add_typer(initiative.app, name="initiative")
    app.add_typer(phase.app, name="phase")
    app.add_typer(task.app, name="task")
