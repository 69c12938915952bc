"""The command groups of ``cw``."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    from codewalkers.cli.commands import initiative, phase, task, workspace

    workspace.register(app)
    app.add_typer(initiative.app, name="initiative")
    app.add_typer(phase.app, name="phase")
    app.add_typer(task.app, name="task")
    from codewalkers.cli.commands import account, agent, page, project, proposal, secret

    app.add_typer(page.app, name="page")
    app.add_typer(project.app, name="project")
    app.add_typer(account.app, name="account")
    app.add_typer(secret.app, name="secret")
    app.add_typer(agent.app, name="agent")
    app.add_typer(proposal.app, name="proposal")
    from codewalkers.cli.commands import architect

    app.add_typer(architect.app, name="architect")
    from codewalkers.cli.commands import chat, conversation, message, review, server

    app.add_typer(message.app, name="message")
    conversation.register(app)
    app.add_typer(review.app, name="review")
    app.add_typer(chat.app, name="chat")
    from codewalkers.cli.commands import errand

    app.add_typer(errand.app, name="errand")
    server.register(app)
    from codewalkers.cli.commands import execution, provider

    app.add_typer(provider.app, name="provider")
    execution.register(app)
