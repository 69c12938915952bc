"""``cw task ...``: the units of work agents execute."""

from __future__ import annotations

from typing import Annotated

import typer

from codewalkers.cli._common import CliError, JsonOption, database, emit, ok, plain, show_table
from codewalkers.db import TaskCategory, TaskPriority, TaskStatus, TaskType
from codewalkers.services import plan

app = typer.Typer(help="Tasks: units of work, with dependencies, handed to agents.")

Id = Annotated[str, typer.Argument(help="The task's id.")]
COLUMNS = ["id", "name", "status", "priority", "category", "type"]


@app.command(
    "create", epilog='Example: cw task create "Write the login form" --phase Ph1... --priority high'
)
def create(
    name: Annotated[str, typer.Argument(help="What the task is called.")],
    phase: Annotated[str | None, typer.Option("--phase", help="The phase's id.")] = None,
    initiative: Annotated[
        str | None,
        typer.Option("--initiative", help="The initiative's id (for a task in no phase)."),
    ] = None,
    parent: Annotated[
        str | None, typer.Option("--parent", help="The parent task's id (a subtask).")
    ] = None,
    type_: Annotated[str | None, typer.Option("--type", help=", ".join(TaskType))] = None,
    category: Annotated[str | None, typer.Option(help=", ".join(TaskCategory))] = None,
    priority: Annotated[str | None, typer.Option(help=", ".join(TaskPriority))] = None,
    description: Annotated[str | None, typer.Option(help="What to do, in words.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Create a task in a phase or directly in an initiative."""
    if phase is None and initiative is None and parent is None:
        raise CliError("give the task a place: --phase ID, --initiative ID or --parent ID")
    fields = {
        "phase_id": phase,
        "initiative_id": initiative,
        "parent_task_id": parent,
        "type": type_,
        "category": category,
        "priority": priority,
        "description": description,
    }
    with database() as db:
        task = plan.create_task(db, name, **{k: v for k, v in fields.items() if v is not None})
    emit(task, json_output, lambda: ok(f"created task {task.id} {task.name}"))


@app.command("list", epilog="Example: cw task list --phase Ph1...")
def list_(
    phase: Annotated[str | None, typer.Option("--phase", help="Tasks of this phase.")] = None,
    initiative: Annotated[
        str | None, typer.Option("--initiative", help="Tasks of this initiative.")
    ] = None,
    parent: Annotated[str | None, typer.Option("--parent", help="Subtasks of this task.")] = None,
    json_output: JsonOption = False,
) -> None:
    """List tasks of a phase, an initiative or a parent task."""
    given = [value for value in (phase, initiative, parent) if value is not None]
    if len(given) != 1:
        raise CliError("give exactly one of --phase ID, --initiative ID, --parent ID")
    with database() as db:
        if phase is not None:
            plan.get_or_raise(db.phases, phase, "phase")
            rows = db.tasks.find_by_phase_id(phase)
        elif initiative is not None:
            plan.get_or_raise(db.initiatives, initiative, "initiative")
            rows = db.tasks.find_by_initiative_id(initiative)
        else:
            assert parent is not None
            plan.get_or_raise(db.tasks, parent, "task")
            rows = db.tasks.find_by_parent_task_id(parent)
    emit(rows, json_output, lambda: show_table(rows, COLUMNS, "no tasks"))


@app.command("get", epilog="Example: cw task get Tk1... --json")
def get(id: Id, json_output: JsonOption = False) -> None:
    """Show a task, its dependencies and whether its merge needs approval."""
    with database() as db:
        task = plan.get_or_raise(db.tasks, id, "task")
        data = {
            **plain(task),
            "depends_on": db.tasks.get_dependencies(id),
            "dependents": db.tasks.get_dependents(id),
            "effective_requires_approval": db.tasks.get_effective_requires_approval(id),
        }
    emit(data, json_output)


@app.command("status", epilog="Example: cw task status Tk1... completed")
def status(
    id: Id,
    value: Annotated[str, typer.Argument(metavar="STATUS", help=", ".join(TaskStatus))],
    json_output: JsonOption = False,
) -> None:
    """Set a task's status."""
    with database() as db:
        task = plan.set_task_status(db, id, value)
    emit(task, json_output, lambda: ok(f"task {task.id} is {task.status}"))


@app.command("depend", epilog="Example: cw task depend Tk2... --on Tk1...")
def depend(
    id: Id,
    on: Annotated[str, typer.Option("--on", help="The task it depends on.")],
    json_output: JsonOption = False,
) -> None:
    """Make a task depend on another (cycles are refused)."""
    with database() as db:
        added = plan.add_task_dependency(db, id, on)
    emit(
        {"task_id": id, "depends_on_task_id": on, "added": added},
        json_output,
        lambda: ok(f"task {id} depends on {on}" + ("" if added else " (already)")),
    )


@app.command("approve", epilog="Example: cw task approve Tk1...")
def approve(id: Id, json_output: JsonOption = False) -> None:
    """Approve a task that waits for approval (pending_approval → pending)."""
    with database() as db:
        task = plan.approve_task(db, id)
    emit(task, json_output, lambda: ok(f"approved task {task.id}"))


@app.command("pending-approval", epilog="Example: cw task pending-approval --initiative Xy3...")
def pending_approval(
    initiative: Annotated[
        str | None, typer.Option("--initiative", help="Only this initiative's.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """List tasks waiting for approval."""
    with database() as db:
        rows = db.tasks.find_pending_approval(initiative)
    emit(rows, json_output, lambda: show_table(rows, COLUMNS, "no tasks wait for approval"))


@app.command("ready", epilog="Example: cw task ready --initiative Xy3...")
def ready(
    initiative: Annotated[str, typer.Option("--initiative", help="The initiative's id.")],
    json_output: JsonOption = False,
) -> None:
    """Tasks that can start now: dependencies done, approved; high priority first."""
    with database() as db:
        plan.get_or_raise(db.initiatives, initiative, "initiative")
        rows = db.tasks.find_ready(initiative)
    emit(rows, json_output, lambda: show_table(rows, COLUMNS, "no task is ready"))
