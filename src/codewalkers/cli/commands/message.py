"""``cw message ...``: messages between you and the agents, in threads."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from codewalkers.cli._common import (
    CliError,
    JsonOption,
    database,
    emit,
    ok,
    plain,
    resolve,
    show_table,
)
from codewalkers.db import Message, MessageType
from codewalkers.services import messages

app = typer.Typer(help="Messages between you and the agents, in threads.")

COLUMNS = ["id", "from", "to", "type", "status", "content", "created_at"]


def _rows(rows: list[Message], names: dict[str, str]) -> list[dict[str, Any]]:
    """Rows for the table: senders and recipients by name ("you" for the user)."""

    def who(kind: str, id: str | None) -> str:
        return "you" if kind == "user" else names.get(id or "", id or "(deleted agent)")

    return [
        {
            **plain(row),
            "from": who(row.sender_type, row.sender_id),
            "to": who(row.recipient_type, row.recipient_id),
        }
        for row in rows
    ]


@app.command(
    "send",
    epilog='Example: cw message send --to brave-otter "Use the v2 API" --type info',
)
def send(
    content: Annotated[str, typer.Argument(help="The message.")],
    to: Annotated[str, typer.Option("--to", help="The agent's name (or id).")],
    type_: Annotated[str, typer.Option("--type", help=", ".join(MessageType))] = "info",
    requires_response: Annotated[
        bool, typer.Option("--requires-response", help="The agent is expected to answer.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Send a message to an agent."""
    with database() as db:
        message = messages.send_to_agent(
            db, to, content, type=type_, requires_response=requires_response
        )
    emit(message, json_output, lambda: ok(f"sent message {message.id} to {to}"))


@app.command(
    "list",
    epilog="Example: cw message list --pending   (or: --agent brave-otter, --thread Ms1...)",
)
def list_(
    agent: Annotated[
        str | None, typer.Option("--agent", help="Only messages to or from this agent.")
    ] = None,
    pending: Annotated[
        bool, typer.Option("--pending", help="Only messages to you that you have not handled.")
    ] = False,
    thread: Annotated[
        str | None, typer.Option("--thread", help="A message and every reply under it.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """List messages, oldest first."""
    if thread is not None and (agent is not None or pending):
        raise CliError("--thread cannot be combined with --agent or --pending")
    with database() as db:
        if thread is not None:
            rows = messages.thread(db, thread)
        else:
            rows = messages.list_messages(db, agent=agent, pending=pending)
        names = {a.id: a.name for a in db.agents.find_all()} if rows else {}
    emit(rows, json_output, lambda: show_table(_rows(rows, names), COLUMNS, "no messages"))


@app.command("reply", epilog='Example: cw message reply Ms1... "Yes, keep the old endpoint"')
def reply(
    message_id: Annotated[str, typer.Argument(help="The message you answer.")],
    content: Annotated[str, typer.Argument(help="Your reply.")],
    json_output: JsonOption = False,
) -> None:
    """Reply to a message: the answer goes to its sender and the message is marked responded."""
    with database() as db:
        message_id = resolve(db, "message", message_id)
        message = messages.reply(db, message_id, content)
    emit(message, json_output, lambda: ok(f"replied {message.id} to message {message_id}"))
