"""Execution commands (``docs/execution.md``): added to the ``initiative``, ``phase``,
``task`` and ``review`` groups, and the ``dispatch`` and ``worktree`` groups.

Everything but ``phase approve`` asks the running coordinator (``cw start``), which executes
initiatives and owns the agents and worktrees.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import typer

from codewalkers.cli._common import (
    CliError,
    JsonOption,
    coordinator,
    database,
    emit,
    ok,
    show_table,
)
from codewalkers.cli.commands import initiative, phase, review, task
from codewalkers.db import PhaseStatus
from codewalkers.services import plan

# Nanoids may start with "-": take such an argument as the id, not as an unknown option.
ID_ARGS = {"ignore_unknown_options": True}

Id = Annotated[str, typer.Argument(help="The id.")]

dispatch_app = typer.Typer(help="Dispatch: what runs, what is queued and why the rest waits.")
worktree_app = typer.Typer(help="Worktrees: the agents' and the integration worktrees on disk.")


def _at(kind: str, id: str, action: str = "") -> str:
    return f"/{kind}/{quote(id, safe='')}" + (f"/{action}" if action else "")


# --- initiative -----------------------------------------------------------------------------


@initiative.app.command(
    "execute", context_settings=ID_ARGS, epilog="Example: cw initiative execute Xy3..."
)
def execute(id: Id, json_output: JsonOption = False) -> None:
    """Execute an initiative: its branch is made in every linked project; approved phases
    run, ready tasks go to agents, their work is merged. A paused one resumes."""
    execution = coordinator("POST", _at("initiatives", id, "execute"))
    emit(execution, json_output, lambda: ok(f"initiative {id} is {execution['state']}"))


@initiative.app.command(
    "pause", context_settings=ID_ARGS, epilog="Example: cw initiative pause Xy3..."
)
def pause(id: Id, json_output: JsonOption = False) -> None:
    """Dispatch no more of its tasks (running agents finish; their work is merged)."""
    execution = coordinator("POST", _at("initiatives", id, "pause"))
    emit(execution, json_output, lambda: ok(f"initiative {id} is {execution['state']}"))


@initiative.app.command(
    "resume", context_settings=ID_ARGS, epilog="Example: cw initiative resume Xy3..."
)
def resume(id: Id, json_output: JsonOption = False) -> None:
    """Dispatch its ready tasks again after a pause."""
    execution = coordinator("POST", _at("initiatives", id, "resume"))
    emit(execution, json_output, lambda: ok(f"initiative {id} is {execution['state']}"))


@initiative.app.command(
    "merge", context_settings=ID_ARGS, epilog="Example: cw initiative merge Xy3..."
)
def merge(id: Id, json_output: JsonOption = False) -> None:
    """Land a finished (pending_review) initiative: its branch is merged into each linked
    project's default branch and pushed to the project's remote; it is then completed."""
    landed = coordinator("POST", _at("initiatives", id, "merge"))

    def human() -> None:
        branch = landed["initiative"]["branch"]
        for project, commit in landed["commits"].items():
            ok(f"{project}: {branch} merged into the default branch ({commit})")

    emit(landed, json_output, human)


@initiative.app.command(
    "push", context_settings=ID_ARGS, epilog="Example: cw initiative push Xy3..."
)
def push(id: Id, json_output: JsonOption = False) -> None:
    """Push the initiative's branch (only it) to each linked project's remote."""
    pushed = coordinator("POST", _at("initiatives", id, "push"))
    emit(pushed, json_output, lambda: ok(f"pushed {pushed['branch']}"))


@initiative.app.command(
    "request-changes",
    context_settings=ID_ARGS,
    epilog='Example: cw initiative request-changes Xy3... --summary "Log failed logins"',
)
def request_initiative_changes(
    id: Id,
    summary: Annotated[str, typer.Option("--summary", help="What to change.")],
    json_output: JsonOption = False,
) -> None:
    """Send a finished initiative back: a "Changes requested" phase with a review task
    runs (with the open review comments), then the initiative waits for review again."""
    made = coordinator("POST", _at("initiatives", id, "request-changes"), {"summary": summary})
    emit(made, json_output, lambda: ok(f'created review task "{made["name"]}" ({made["id"]})'))


# --- phase ----------------------------------------------------------------------------------


@phase.app.command("approve", context_settings=ID_ARGS, epilog="Example: cw phase approve Ph1...")
def approve(id: Id, json_output: JsonOption = False) -> None:
    """Approve a phase for execution: it runs once the phases it depends on completed."""
    with database() as db:
        approved = plan.set_phase_status(db, id, PhaseStatus.APPROVED)
    emit(approved, json_output, lambda: ok(f'approved phase "{approved.name}" ({approved.id})'))


@phase.app.command(
    "approve-review", context_settings=ID_ARGS, epilog="Example: cw phase approve-review Ph1..."
)
def approve_review(id: Id, json_output: JsonOption = False) -> None:
    """Approve a phase waiting for review: its branch is merged into the initiative's."""
    merged = coordinator("POST", _at("phases", id, "approve-review"))
    emit(merged, json_output, lambda: ok(f'merged phase "{merged["name"]}" ({merged["status"]})'))


@phase.app.command(
    "request-changes",
    context_settings=ID_ARGS,
    epilog='Example: cw phase request-changes Ph1... --summary "Validate the email"',
)
def request_changes(
    id: Id,
    summary: Annotated[
        str | None, typer.Option("--summary", help="What to change (beside open comments).")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Send a phase waiting for review back: an agent does a review task carrying the
    summary and the unresolved comments, then the phase waits for review again."""
    made = coordinator("POST", _at("phases", id, "request-changes"), {"summary": summary})
    emit(made, json_output, lambda: ok(f'created review task "{made["name"]}" ({made["id"]})'))


# --- task -----------------------------------------------------------------------------------


@task.app.command(
    "complete",
    context_settings=ID_ARGS,
    epilog='Example: cw task complete Tk1... --summary "Checked"',
)
def complete(
    id: Id,
    summary: Annotated[
        str | None, typer.Option("--summary", help="What was done (dependents get it).")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Complete a task by hand (a checkpoint that waits for a person): dependents may start."""
    done = coordinator("POST", _at("tasks", id, "complete"), {"summary": summary})
    emit(done, json_output, lambda: ok(f'completed task "{done["name"]}" ({done["id"]})'))


@task.app.command("retry", context_settings=ID_ARGS, epilog="Example: cw task retry Tk1...")
def retry(id: Id, json_output: JsonOption = False) -> None:
    """Give a blocked task another go (its attempts start again)."""
    again = coordinator("POST", _at("tasks", id, "retry"))
    emit(again, json_output, lambda: ok(f'task "{again["name"]}" is {again["status"]}'))


# --- review ---------------------------------------------------------------------------------


@review.app.command("diff", context_settings=ID_ARGS, epilog="Example: cw review diff Ph1...")
def diff(
    id: Annotated[str, typer.Argument(help="The phase's id.")], json_output: JsonOption = False
) -> None:
    """Show what a phase changed: its branch against the initiative's, per project."""
    diffs = coordinator("GET", _at("phases", id, "diff"))

    def human() -> None:
        for one in diffs:
            sys.stdout.write(f"# {one['project']}: {one['base']}...{one['head']}\n")
            sys.stdout.write(one["diff"] or "(no changes)\n")

    emit(diffs, json_output, human)


# --- dispatch, worktree ---------------------------------------------------------------------


@dispatch_app.command("status", epilog="Example: cw dispatch status --initiative Xy3...")
def dispatch_status(
    initiative_id: Annotated[
        str | None, typer.Option("--initiative", help="Only this initiative.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """What runs, what is queued (in dispatch order), and why each waiting thing waits."""
    query = "?" + urlencode({"initiative_id": initiative_id}) if initiative_id else ""
    status = coordinator("GET", "/dispatch/status" + query)
    emit(status, json_output, lambda: _show_status(status))


@dispatch_app.command(
    "queue",
    context_settings=ID_ARGS,
    epilog="Example: cw dispatch queue Tk1... (put it first; without TASK: the queue)",
)
def dispatch_queue(
    task_id: Annotated[
        str | None, typer.Argument(metavar="TASK", help="Put this ready task first.")
    ] = None,
    initiative_id: Annotated[
        str | None, typer.Option("--initiative", help="Only this initiative's queue.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """The ready tasks in dispatch order (queued by hand first, then high > medium > low,
    then oldest) and what each waits for; with TASK, put that ready task at the front."""
    if task_id is not None:
        if initiative_id is not None:
            raise CliError("give TASK or --initiative, not both")
        entry = coordinator("POST", "/dispatch/queue/" + quote(task_id, safe=""))
        emit(
            entry,
            json_output,
            lambda: ok(f'queued task "{entry["task"]}" at position {entry["position"]}'),
        )
        return
    query = "?" + urlencode({"initiative_id": initiative_id}) if initiative_id else ""
    queue = coordinator("GET", "/dispatch/queue" + query)

    def human() -> None:
        ok(
            f"{queue['running_agents']} of {queue['max_agents']} agents running, "
            f"{queue['free_slots']} free"
        )
        rows = [
            {
                **entry,
                "age": f"{entry['age_seconds']}s",
                "by_hand": "yes" if entry["by_hand"] else "",
            }
            for entry in queue["queue"]
        ]
        columns = ["position", "task", "priority", "age", "by_hand", "provider", "waits_for"]
        show_table(rows, columns, "nothing is queued (cw dispatch status says why)")

    emit(queue, json_output, human)


def _show_status(status: dict[str, Any]) -> None:
    for key, value in status.items():
        if isinstance(value, list):
            ok(f"{key}: {len(value)}")
            for item in value:
                ok(f"  {_line(item)}")
        else:
            ok(f"{key}: {value}")


def _line(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)
    name = item.get("name") or item.get("task_name") or item.get("id") or ""
    rest = {k: v for k, v in item.items() if k not in {"name", "task_name"} and v is not None}
    return f"{name}  " + "  ".join(f"{k}={v}" for k, v in rest.items())


@worktree_app.command("list", epilog="Example: cw worktree list")
def worktree_list(json_output: JsonOption = False) -> None:
    """Every worktree with its branch and whether removing it would lose work."""
    trees = coordinator("GET", "/worktrees")
    columns = ["kind", "agent", "project", "branch", "agent_status", "safe", "reasons"]
    emit(trees, json_output, lambda: show_table(trees, columns, "no worktrees"))


@worktree_app.command("prune", epilog="Example: cw worktree prune")
def worktree_prune(json_output: JsonOption = False) -> None:
    """Remove the agents' workdirs whose work is all merged or pushed; keep the rest and
    say why."""
    pruned = coordinator("POST", "/worktrees/prune")

    def human() -> None:
        for path in pruned["removed"]:
            ok(f"removed {path}")
        for kept in pruned["kept"]:
            ok(f"kept {kept['path']}: {'; '.join(kept['reasons'])}")
        if not pruned["removed"] and not pruned["kept"]:
            ok("no agent worktrees")

    emit(pruned, json_output, human)


def register(app: typer.Typer) -> None:
    app.add_typer(dispatch_app, name="dispatch")
    app.add_typer(worktree_app, name="worktree")
