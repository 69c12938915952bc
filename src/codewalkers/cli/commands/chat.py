"""``cw chat ...``: chat sessions for refining a phase or a task."""

from __future__ import annotations

from typing import Annotated

import typer

from codewalkers.cli._common import (
    CliError,
    JsonOption,
    console,
    database,
    emit,
    ok,
    plain,
    resolve,
)
from codewalkers.db import ChatTargetType
from codewalkers.services import chat
from codewalkers.services.chat import Transcript

app = typer.Typer(help="Chat sessions about a phase or a task.")

SessionId = Annotated[
    str, typer.Argument(metavar="SESSION_ID", help="The chat session's id (or a unique prefix).")
]


@app.command("start", epilog="Example: cw chat start --phase Ph1...")
def start(
    phase: Annotated[str | None, typer.Option("--phase", help="Chat about this phase.")] = None,
    task: Annotated[str | None, typer.Option("--task", help="Chat about this task.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Start a chat session about a phase or a task (or get the active one)."""
    if (phase is None) == (task is None):
        raise CliError("give exactly one of --phase ID, --task ID")
    kind = ChatTargetType.PHASE if phase is not None else ChatTargetType.TASK
    target = phase or task or ""
    with database() as db:
        target = resolve(db, str(kind), target)
        started = chat.start_session(db, kind, target)
    session = started.session
    verb = "started" if started.created else "resumed active"
    emit(
        {**plain(session), "created": started.created},
        json_output,
        lambda: ok(f"{verb} chat session {session.id} about {kind} {target}"),
    )


@app.command("send", epilog='Example: cw chat send Cs1... "Split the second task in two"')
def send(
    session_id: SessionId,
    message: Annotated[str, typer.Argument(help="What you say.")],
    json_output: JsonOption = False,
) -> None:
    """Add your message to an active chat session."""
    with database() as db:
        session_id = resolve(db, "chat session", session_id)
        created = chat.send(db, session_id, message)
    emit(created, json_output, lambda: ok(f"sent {created.id} to chat session {session_id}"))


@app.command("show", epilog="Example: cw chat show Cs1... --json")
def show(session_id: SessionId, json_output: JsonOption = False) -> None:
    """Show a chat session and its messages in order."""
    with database() as db:
        transcript = chat.show(db, resolve(db, "chat session", session_id))
    emit(
        {**plain(transcript.session), "messages": transcript.messages},
        json_output,
        lambda: _show(transcript),
    )


def _show(transcript: Transcript) -> None:
    session = transcript.session
    console.print(
        f"[bold]chat session {session.id}[/bold] about {session.target_type} "
        f"{session.target_id} ({session.status})",
        highlight=False,
    )
    if not transcript.messages:
        console.print("no messages yet", style="dim")
    for message in transcript.messages:
        console.print(f"[bold]{message.role}[/bold]  ", end="")
        console.print(message.content, markup=False)


@app.command("close", epilog="Example: cw chat close Cs1...")
def close(session_id: SessionId, json_output: JsonOption = False) -> None:
    """Close a chat session (no more messages)."""
    with database() as db:
        session = chat.close(db, resolve(db, "chat session", session_id))
    emit(session, json_output, lambda: ok(f"closed chat session {session.id}"))
