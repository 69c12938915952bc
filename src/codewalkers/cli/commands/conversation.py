"""``cw ask``, ``cw listen``, ``cw answer``: questions between agents, always as JSON.

Agents call these from their worktrees: one asks (and waits), another listens for the
questions put to it and answers them.
"""

from __future__ import annotations

from typing import Annotated

import typer

from codewalkers.cli._common import CliError, JsonOption, database, emit
from codewalkers.services import conversations

DEFAULT_TIMEOUT = 300.0

Timeout = Annotated[
    float,
    typer.Option(
        "--timeout",
        min=0,
        help="Seconds to wait before giving up with exit code 1 (0: look once).",
    ),
]


def register(app: typer.Typer) -> None:
    app.command(
        "ask",
        epilog='Example: cw ask "Which port does the API use?" --from Ag1... --task-id Tk2...',
    )(ask)
    app.command("listen", epilog="Example: cw listen --agent-id Ag2... --timeout 60")(listen)
    app.command("answer", epilog='Example: cw answer "Port 3847" --conversation-id Cv1...')(answer)


def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    from_: Annotated[str, typer.Option("--from", help="The asking agent's id.")],
    agent_id: Annotated[str | None, typer.Option("--agent-id", help="Ask this agent.")] = None,
    task_id: Annotated[
        str | None, typer.Option("--task-id", help="Ask the agent working on this task.")
    ] = None,
    phase_id: Annotated[
        str | None,
        typer.Option("--phase-id", help="Ask the newest agent working on this phase."),
    ] = None,
    timeout: Timeout = DEFAULT_TIMEOUT,
    json_output: JsonOption = False,
) -> None:
    """Ask another agent a question and wait for the answer (default: up to 300 s).

    Prints {"conversation_id", "status": "answered", "answer"}.

    On timeout it exits 1; the question stays pending and can still be answered.
    """
    if sum(value is not None for value in (agent_id, task_id, phase_id)) != 1:
        raise CliError("give exactly one of --agent-id ID, --task-id ID, --phase-id ID")
    with database() as db:
        conversation = conversations.ask(
            db, question, from_, agent_id=agent_id, task_id=task_id, phase_id=phase_id
        )
        answered = conversations.wait_for_answer(db, conversation.id, timeout)
    if answered is None:
        raise CliError(
            f"no answer within {timeout:g} s; conversation {conversation.id} is still pending"
        )
    data = {"conversation_id": answered.id, "status": answered.status, "answer": answered.answer}
    emit(data, True)


def listen(
    agent_id: Annotated[str, typer.Option("--agent-id", help="The listening agent's id.")],
    timeout: Timeout = DEFAULT_TIMEOUT,
    json_output: JsonOption = False,
) -> None:
    """Print the oldest question waiting for this agent, waiting for one if none.

    Prints {"conversation_id", "from_agent_id", "question", "phase_id", "task_id"}.

    Waits up to 300 s by default, then exits 1. The question stays pending until answered.
    """
    with database() as db:
        found = conversations.next_question(db, agent_id, timeout)
    if found is None:
        raise CliError(f"no question for agent {agent_id} within {timeout:g} s")
    data = {
        "conversation_id": found.id,
        "from_agent_id": found.from_agent_id,
        "question": found.question,
        "phase_id": found.phase_id,
        "task_id": found.task_id,
    }
    emit(data, True)


def answer(
    answer: Annotated[str, typer.Argument(help="The answer.")],
    conversation_id: Annotated[
        str, typer.Option("--conversation-id", help="The question's conversation id.")
    ],
    json_output: JsonOption = False,
) -> None:
    """Answer a question (once: a second answer is refused).

    Prints {"conversation_id", "status": "answered"}.
    """
    with database() as db:
        answered = conversations.answer(db, conversation_id, answer)
    emit({"conversation_id": answered.id, "status": answered.status}, True)
