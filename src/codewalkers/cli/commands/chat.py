"""``cw chat ...``: chat sessions for refining a phase or a task.

``send`` asks the coordinator (``cw start``), which runs the session's agent, then waits for
the reply in the database; ``revert`` restores a change set; the others read the database.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from codewalkers.cli._common import (
    CliError,
    JsonOption,
    console,
    coordinator,
    database,
    emit,
    ok,
    plain,
    resolve,
)
from codewalkers.db import ChangeSet, ChangeSetEntry, ChatMessage, ChatTargetType, Database
from codewalkers.services import changes, chat
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
    provider: Annotated[
        str | None,
        typer.Option("--provider", help="Provider of the session's agent, when it starts."),
    ] = None,
    no_wait: Annotated[
        bool, typer.Option("--no-wait", help="Return once the agent has the message.")
    ] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for the reply.", min=1)
    ] = 900.0,
    json_output: JsonOption = False,
) -> None:
    """Say something in a chat session: its agent (started for the first message, resumed
    after) answers, and may change the plan; prints the reply and the changes it made.
    Needs a running coordinator (`cw start --detach`)."""
    with database() as db:
        session_id = chat.show(db, resolve(db, "chat session", session_id)).session.id
    body = {"content": message, **({"provider": provider} if provider else {})}
    sent = coordinator("POST", f"/chat-sessions/{session_id}/messages", body)
    if no_wait:
        emit(
            sent,
            json_output,
            lambda: ok(
                f"sent {sent['message']['id']}; agent {sent['agent']['name']} is answering "
                f"(`cw chat show {session_id}`)"
            ),
        )
        return
    with database() as db:
        try:
            replies = chat.wait_for_reply(db, session_id, sent["message"]["id"], timeout=timeout)
        except TimeoutError as exc:
            raise CliError(str(exc)) from exc
        data = {**sent, "reply": [_message_data(db, m) for m in replies]}
    emit(data, json_output, lambda: _show_messages(data["reply"]))


@app.command("revert", epilog="Example: cw chat revert Cg1... --force")
def revert(
    change_set_id: Annotated[
        str, typer.Argument(metavar="CHANGE_SET", help="The change set's id (or a prefix).")
    ],
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite what was changed since.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Undo a change set: every page, phase and task it changed back to its state before
    it, in one transaction. Refuses, naming them, when some were changed since (--force
    overwrites them); reverting twice changes nothing."""
    with database() as db:
        done = changes.revert(db, resolve(db, "change set", change_set_id), force=force)
        entries = db.change_sets.find_entries(done.change_set.id)
    data = {
        "change_set": _change_set_data(done.change_set, entries),
        "reverted": done.reverted,
        "message": done.message,
        "forced": done.forced,
    }
    emit(data, json_output, lambda: _reverted(data, entries))


def _reverted(data: dict[str, Any], entries: list[ChangeSetEntry]) -> None:
    if not data["reverted"]:
        console.print(data["message"], highlight=False)
        return
    ok(data["message"])
    for entry in entries:
        console.print(f"  undid: {changes.describe_entry(entry)}", markup=False)
    for name in data["forced"]:
        console.print(f"  overwrote what was changed since: {name}", markup=False)


def _change_set_data(change_set: ChangeSet, entries: list[ChangeSetEntry]) -> dict[str, Any]:
    return {**plain(change_set), "entries": plain(entries)}


def _message_data(db: Database, message: ChatMessage) -> dict[str, Any]:
    data: dict[str, Any] = {**plain(message), "change_set": None}
    if message.change_set_id:
        change_set, entries = changes.get(db, message.change_set_id)
        data["change_set"] = _change_set_data(change_set, entries)
    return data


@app.command("show", epilog="Example: cw chat show Cs1... --json")
def show(session_id: SessionId, json_output: JsonOption = False) -> None:
    """Show a chat session: its messages in order, each with the changes it made."""
    with database() as db:
        transcript = chat.show(db, resolve(db, "chat session", session_id))
        messages = [_message_data(db, m) for m in transcript.messages]
    emit(
        {**plain(transcript.session), "messages": messages},
        json_output,
        lambda: _show(transcript, messages),
    )


def _show(transcript: Transcript, messages: list[dict[str, Any]]) -> None:
    session = transcript.session
    console.print(
        f"[bold]chat session {session.id}[/bold] about {session.target_type} "
        f"{session.target_id} ({session.status})",
        highlight=False,
    )
    if not messages:
        console.print("no messages yet", style="dim")
    _show_messages(messages)


def _show_messages(messages: list[dict[str, Any]]) -> None:
    for message in messages:
        console.print(f"[bold]{message['role']}[/bold]  ", end="")
        console.print(message["content"], markup=False)
        change_set = message.get("change_set")
        if change_set:
            reverted = " (reverted)" if change_set["status"] == "reverted" else ""
            console.print(f"  change set {change_set['id']}{reverted}:", highlight=False)
            for entry in change_set["entries"]:
                console.print(f"    {changes.describe_entry(entry)}", markup=False)


@app.command("close", epilog="Example: cw chat close Cs1...")
def close(session_id: SessionId, json_output: JsonOption = False) -> None:
    """Close a chat session (no more messages)."""
    with database() as db:
        session = chat.close(db, resolve(db, "chat session", session_id))
    emit(session, json_output, lambda: ok(f"closed chat session {session.id}"))
