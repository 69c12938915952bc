"""``cw agent ...``: the coding agents' records and output."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from codewalkers.cli._common import JsonOption, database, emit, ok, plain, settings, show_table
from codewalkers.db import AgentStatus, LogChunk
from codewalkers.services import agents

# Nanoids may start with "-": take such an argument as the id, not as an unknown option.
ID_ARGS = {"ignore_unknown_options": True}

app = typer.Typer(help="Agents: coding processes, each in its own worktree, and their output.")

Name = Annotated[str, typer.Argument(help="The agent's name (or id).")]
COLUMNS = ["name", "id", "status", "mode", "provider", "task_id", "user_dismissed_at"]


@app.command("list", epilog="Example: cw agent list --status running")
def list_(
    status: Annotated[
        str | None, typer.Option(help="Only this status: " + ", ".join(AgentStatus))
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """List agents, oldest first."""
    with database() as db:
        rows = db.agents.find_by_status(status) if status else db.agents.find_all()
    emit(rows, json_output, lambda: show_table(rows, COLUMNS, "no agents"))


@app.command("get", context_settings=ID_ARGS, epilog="Example: cw agent get brave-otter --json")
def get(name: Name, json_output: JsonOption = False) -> None:
    """Show one agent."""
    with database() as db:
        agent = agents.find_agent(db, name)
    emit(agent, json_output)


@app.command("dismiss", context_settings=ID_ARGS, epilog="Example: cw agent dismiss brave-otter")
def dismiss(name: Name, json_output: JsonOption = False) -> None:
    """Dismiss an agent: it is marked as seen and put away by the user."""
    with database() as db:
        agent = agents.dismiss_agent(db, name)
    emit(agent, json_output, lambda: ok(f"dismissed agent {agent.name}"))


@app.command(
    "log", context_settings=ID_ARGS, epilog="Example: cw agent log brave-otter --session 2 --follow"
)
def log(
    name: Name,
    session: Annotated[
        int | None, typer.Option("--session", min=1, help="Only this session (1 = first run).")
    ] = None,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            help="Keep printing new output every 0.5 s until the agent stops (or Ctrl-C).",
        ),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Print an agent's output in order. With --json: a list of chunks, or with --follow one
    chunk per line (JSON Lines).
    """
    as_json = json_output or settings.json
    with database() as db:
        agent = agents.find_agent(db, name)
        if not follow:
            chunks = db.log_chunks.find_by_agent_id(agent.id, session_number=session)
            emit(chunks, as_json, lambda: _write(chunks, as_json=False))
            return
        batches = agents.follow_log(db, agent.id, session_number=session)
        try:
            for batch in batches:
                _write(batch, as_json=as_json)
        except KeyboardInterrupt:
            pass  # Ctrl-C is how a person stops following: not an error.
        finally:
            batches.close()


def _write(chunks: list[LogChunk], *, as_json: bool) -> None:
    for chunk in chunks:
        if as_json:
            sys.stdout.write(json.dumps(plain(chunk), ensure_ascii=False) + "\n")
        else:
            sys.stdout.write(chunk.content)
    sys.stdout.flush()
