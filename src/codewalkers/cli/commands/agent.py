"""``cw agent ...``: the coding agents' records and output.

``spawn``, ``stop``, ``resume``, ``answer`` and ``delete`` ask the workspace's coordinator
(``cw start``), which owns the agents' processes; the others read the database.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import typer

from codewalkers.cli._common import (
    JsonOption,
    coordinator,
    database,
    emit,
    ok,
    plain,
    settings,
    show_table,
)
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


@app.command("spawn", epilog="Example: cw agent spawn --task 7Xk2pQ9rT1aBcDeFgHiJk")
def spawn(
    task: Annotated[str | None, typer.Option("--task", help="The task to work on.")] = None,
    initiative: Annotated[
        str | None,
        typer.Option("--initiative", help="Without --task: the initiative to work on."),
    ] = None,
    provider: Annotated[
        str | None, typer.Option("--provider", help="Provider (default: claude).")
    ] = None,
    account: Annotated[
        str | None, typer.Option("--account", help="Account id (default: the next available).")
    ] = None,
    mode: Annotated[
        str | None,
        typer.Option("--mode", help="execute (default), discuss, plan, detail or refine."),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Agent name.")] = None,
    model: Annotated[str | None, typer.Option("--model", help="The provider's model.")] = None,
    instructions: Annotated[
        str | None, typer.Option("--instructions", help="Extra instructions for the prompt.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Spawn an agent on a task: its own worktree per project, the provider's CLI started
    by the coordinator. Needs a running coordinator (`cw start --detach`)."""
    body = {
        "task_id": task,
        "initiative_id": initiative,
        "provider": provider,
        "account_id": account,
        "mode": mode,
        "name": name,
        "model": model,
        "instructions": instructions,
    }
    agent = coordinator("POST", "/agents", {k: v for k, v in body.items() if v is not None})
    emit(agent, json_output, lambda: ok(f"spawned agent {agent['name']} ({agent['id']})"))


@app.command("stop", context_settings=ID_ARGS, epilog="Example: cw agent stop brave-otter")
def stop(name: Name, json_output: JsonOption = False) -> None:
    """Stop an agent: SIGTERM to its whole process group, then SIGKILL after a grace."""
    agent = coordinator("POST", f"{_path(name)}/stop")
    emit(agent, json_output, lambda: ok(f"stopped agent {agent['name']}"))


@app.command(
    "resume",
    context_settings=ID_ARGS,
    epilog='Example: cw agent resume brave-otter --message "Also update the docs"',
)
def resume(
    name: Name,
    message: Annotated[
        str | None, typer.Option("--message", "-m", help="What to tell the agent.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Resume an idle, stopped or crashed agent's session (same worktree, next session)."""
    agent = coordinator("POST", f"{_path(name)}/resume", {"message": message})
    emit(agent, json_output, lambda: _resumed(agent))


@app.command(
    "answer",
    context_settings=ID_ARGS,
    epilog='Example: cw agent answer brave-otter "Use PostgreSQL" --question q1',
)
def answer(
    name: Name,
    text: Annotated[str, typer.Argument(help="The answer.")],
    question: Annotated[
        str | None,
        typer.Option("--question", "-q", help="Question id (optional when one is pending)."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Answer an agent's question; once all are answered its session resumes with them."""
    agent = coordinator("POST", f"{_path(name)}/answer", {"text": text, "question_id": question})
    emit(agent, json_output, lambda: _answered(agent))


@app.command("delete", context_settings=ID_ARGS, epilog="Example: cw agent delete brave-otter")
def delete(
    name: Name,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Remove worktrees whose work is not merged or pushed (their branches stay).",
        ),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Remove an agent's workdir. Refused, naming the branches, while any worktree holds
    work that is neither merged nor pushed. The agent's record and log stay."""
    query = "?" + urlencode({"force": "true"}) if force else ""
    deleted = coordinator("DELETE", _path(name) + query)
    emit(deleted, json_output, lambda: _deleted(deleted))


@app.command("result", context_settings=ID_ARGS, epilog="Example: cw agent result brave-otter")
def result(name: Name, json_output: JsonOption = False) -> None:
    """Show what an agent ended with: its result, pending questions, exit code, reason."""
    with database() as db:
        summary = agents.describe(agents.find_agent(db, name))
    emit(summary, json_output)


def _path(name: str) -> str:
    return "/agents/" + quote(name, safe="")


def _resumed(agent: dict[str, Any]) -> None:
    ok(f"resumed agent {agent['name']} (session {agent['session_number']})")


def _answered(agent: dict[str, Any]) -> None:
    if agent["status"] == "waiting_for_input":
        left = [q for q in agent.get("pending_questions") or [] if q.get("answer") is None]
        ok(f"answered; agent {agent['name']} waits for {len(left)} more answer(s)")
    else:
        _resumed(agent)


def _deleted(deleted: dict[str, Any]) -> None:
    ok(f"deleted the workdir of agent {deleted['agent']['name']} ({deleted['workdir']})")
    for branch in deleted["branches_kept"]:
        ok(f"kept branch {branch}")


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
