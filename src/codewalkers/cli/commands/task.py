"""``cw task ...``: the units of work agents execute."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from codewalkers.cli._common import (
    CliError,
    JsonOption,
    YesOption,
    confirm,
    consequences,
    console,
    database,
    emit,
    named,
    ok,
    plain,
    resolve,
    show_table,
)
from codewalkers.db import TaskCategory, TaskPriority, TaskStatus, TaskType
from codewalkers.services import plan

# Nanoids may start with "-" (older ones): take such an argument as the id, not an option.
ID_ARGS = {"ignore_unknown_options": True}

app = typer.Typer(help="Tasks: units of work, with dependencies, handed to agents.")

Id = Annotated[str, typer.Argument(metavar="ID", help="The task's id (or a unique prefix).")]
Force = Annotated[
    bool,
    typer.Option("--force", help="Complete it although tasks it depends on are not (says which)."),
]
COLUMNS = ["id", "name", "status", "priority", "category", "type"]


def _place_options(
    phase: str | None, initiative: str | None, parent: str | None
) -> dict[str, str | None]:
    return {"phase_id": phase, "initiative_id": initiative, "parent_task_id": parent}


@app.command(
    "create",
    epilog='Example: cw task create "Write the login form" --phase Ph1... --provider codex',
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
    provider: Annotated[
        str | None,
        typer.Option(
            "--provider",
            help='Dispatch it to this provider ("default": the workspace\'s [dispatch] one).',
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Create a task in a phase or directly in an initiative."""
    if phase is None and initiative is None and parent is None:
        raise CliError("give the task a place: --phase ID, --initiative ID or --parent ID")
    provider_name = _known_provider(provider) if provider is not None else None
    with database() as db:
        fields: dict[str, Any] = {
            "phase_id": phase and resolve(db, "phase", phase),
            "initiative_id": initiative and resolve(db, "initiative", initiative),
            "parent_task_id": parent and resolve(db, "task", parent),
            "type": type_,
            "category": category,
            "priority": priority,
            "description": description,
            "provider": provider_name,
        }
        task = plan.create_task(db, name, **{k: v for k, v in fields.items() if v is not None})
    emit(task, json_output, lambda: ok(f"created {named('task', task)}"))


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
            phase = resolve(db, "phase", phase)
            plan.get_or_raise(db.phases, phase, "phase")
            rows = db.tasks.find_by_phase_id(phase)
        elif initiative is not None:
            initiative = resolve(db, "initiative", initiative)
            plan.get_or_raise(db.initiatives, initiative, "initiative")
            rows = db.tasks.find_by_initiative_id(initiative)
        else:
            assert parent is not None
            parent = resolve(db, "task", parent)
            plan.get_or_raise(db.tasks, parent, "task")
            rows = db.tasks.find_by_parent_task_id(parent)
    emit(rows, json_output, lambda: show_table(rows, COLUMNS, "no tasks"))


@app.command("get", context_settings=ID_ARGS, epilog="Example: cw task get Tk1... --json")
def get(id: Id, json_output: JsonOption = False) -> None:
    """Show a task, its dependencies and whether its merge needs approval."""
    with database() as db:
        id = resolve(db, "task", id)
        task = plan.get_or_raise(db.tasks, id, "task")
        data = {
            **plain(task),
            "depends_on": db.tasks.get_dependencies(id),
            "dependents": db.tasks.get_dependents(id),
            "effective_requires_approval": db.tasks.get_effective_requires_approval(id),
        }
    emit(data, json_output)


def _skipped_note(skipped: list[Any]) -> str:
    if not skipped:
        return ""
    shown = ", ".join(f'"{t.name}" ({t.id}, {t.status})' for t in skipped)
    return f"; --force skipped unfinished dependencies: {shown}"


@app.command("status", context_settings=ID_ARGS, epilog="Example: cw task status Tk1... completed")
def status(
    id: Id,
    value: Annotated[str, typer.Argument(metavar="STATUS", help=", ".join(TaskStatus))],
    force: Force = False,
    json_output: JsonOption = False,
) -> None:
    """Set a task's status (completed only once the tasks it depends on are, or --force)."""
    with database() as db:
        id = resolve(db, "task", id)
        skipped = plan.task_completion_blockers(db, id) if force else []
        task = plan.set_task_status(db, id, value, force=force)
    if task.status != TaskStatus.COMPLETED:
        skipped = []
    emit(
        {**plain(task), "forced_past": [t.id for t in skipped]} if force else task,
        json_output,
        lambda: ok(f"{named('task', task)} is {task.status}{_skipped_note(skipped)}"),
    )


@app.command(
    "update",
    context_settings=ID_ARGS,
    epilog='Example: cw task update Tk1... --name "Write the signup form" --phase Ph2...',
)
def update(
    id: Id,
    name: Annotated[str | None, typer.Option(help="New name.")] = None,
    description: Annotated[str | None, typer.Option(help="New description.")] = None,
    phase: Annotated[
        str | None,
        typer.Option(
            "--phase", help="Move it to this phase (refused if the plan could never finish)."
        ),
    ] = None,
    parent: Annotated[
        str | None, typer.Option("--parent", help="Make it a subtask of this task.")
    ] = None,
    type_: Annotated[str | None, typer.Option("--type", help=", ".join(TaskType))] = None,
    category: Annotated[str | None, typer.Option(help=", ".join(TaskCategory))] = None,
    priority: Annotated[str | None, typer.Option(help=", ".join(TaskPriority))] = None,
    status: Annotated[str | None, typer.Option(help=", ".join(TaskStatus))] = None,
    requires_approval: Annotated[
        bool | None,
        typer.Option(
            "--requires-approval/--no-requires-approval",
            help="Whether its merge waits for approval (default: the initiative's).",
            show_default=False,
        ),
    ] = None,
    provider: Annotated[
        str | None,
        typer.Option(
            "--provider",
            help='Dispatch it to this provider ("default": the workspace\'s [dispatch] one).',
        ),
    ] = None,
    force: Force = False,
    json_output: JsonOption = False,
) -> None:
    """Change a task's name, description, place, type, category, priority, status or
    provider."""
    with database() as db:
        id = resolve(db, "task", id)
        fields = {
            "name": name,
            "description": description,
            "phase_id": phase and resolve(db, "phase", phase),
            "parent_task_id": parent and resolve(db, "task", parent),
            "type": type_,
            "category": category,
            "priority": priority,
            "status": status,
            "requires_approval": requires_approval,
        }
        changes: dict[str, Any] = {k: v for k, v in fields.items() if v is not None}
        if provider is not None:
            changes["provider"] = _checked_provider(db, id, provider)
        if not changes:
            raise CliError("nothing to change: give at least one option (see --help)")
        skipped = plan.task_completion_blockers(db, id) if force and status else []
        task = plan.update_task(db, id, force=force, **changes)
    emit(task, json_output, lambda: ok(f"updated {named('task', task)}{_skipped_note(skipped)}"))


def _known_provider(provider: str) -> str | None:
    """The provider to store for a new task (None: the workspace's), one of the
    workspace's providers (built in and ``.cwrc``)."""
    from codewalkers.agents.providers import load_providers
    from codewalkers.cli._common import workspace
    from codewalkers.services.execution import task_provider_name

    return task_provider_name(provider, load_providers(workspace().settings))


def _checked_provider(db: Any, task_id: str, provider: str) -> str | None:
    """The provider to store (None: the workspace's), checked against the workspace's
    providers (built in and ``.cwrc``) before anything changes."""
    from codewalkers.agents.providers import load_providers
    from codewalkers.cli._common import workspace
    from codewalkers.services.execution import check_task_provider

    known = load_providers(workspace().settings)
    return check_task_provider(db, task_id, provider, known)


@app.command("delete", context_settings=ID_ARGS, epilog="Example: cw task delete Tk1... --yes")
def delete(id: Id, yes: YesOption = False, json_output: JsonOption = False) -> None:
    """Delete a task with its subtasks (asks first when others hang on it)."""
    with database() as db:
        id = resolve(db, "task", id)
        task = plan.get_or_raise(db.tasks, id, "task")
        confirm(f"deleting {named('task', task)}", consequences(plan.task_deletion(db, id)), yes)
        plan.delete_task(db, id)
    emit({"id": id, "deleted": True}, json_output, lambda: ok(f"deleted {named('task', task)}"))


@app.command(
    "depend", context_settings=ID_ARGS, epilog="Example: cw task depend Tk2... --on Tk1..."
)
def depend(
    id: Id,
    on: Annotated[str, typer.Option("--on", help="The task it depends on.")],
    remove: Annotated[
        bool, typer.Option("--remove", help="Remove the dependency instead (as undepend).")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Make a task depend on another (plans that could never finish are refused)."""
    if remove:
        undepend(id, on, json_output)
        return
    with database() as db:
        id, on = resolve(db, "task", id), resolve(db, "task", on)
        added = plan.add_task_dependency(db, id, on)
        task, target = db.tasks.find_by_id(id), db.tasks.find_by_id(on)
    emit(
        {"task_id": id, "depends_on_task_id": on, "added": added},
        json_output,
        lambda: ok(
            f"{named('task', task)} depends on {named('task', target)}"
            + ("" if added else " (already)")
        ),
    )


@app.command(
    "undepend", context_settings=ID_ARGS, epilog="Example: cw task undepend Tk2... --on Tk1..."
)
def undepend(
    id: Id,
    on: Annotated[str, typer.Option("--on", help="The task it should no longer depend on.")],
    json_output: JsonOption = False,
) -> None:
    """Remove a dependency between two tasks."""
    with database() as db:
        id, on = resolve(db, "task", id), resolve(db, "task", on)
        removed = plan.remove_task_dependency(db, id, on)
        task = db.tasks.find_by_id(id)
    emit(
        {"task_id": id, "depends_on_task_id": on, "removed": removed},
        json_output,
        lambda: ok(
            f"{named('task', task)} no longer depends on {on}"
            if removed
            else f"{named('task', task)} did not depend on {on}"
        ),
    )


@app.command("approve", context_settings=ID_ARGS, epilog="Example: cw task approve Tk1...")
def approve(id: Id, json_output: JsonOption = False) -> None:
    """Approve a task that waits for approval (pending_approval → pending)."""
    with database() as db:
        task = plan.approve_task(db, resolve(db, "task", id))
    emit(task, json_output, lambda: ok(f"approved {named('task', task)}"))


@app.command("pending-approval", epilog="Example: cw task pending-approval --initiative Xy3...")
def pending_approval(
    initiative: Annotated[
        str | None, typer.Option("--initiative", help="Only this initiative's.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """List tasks waiting for approval."""
    with database() as db:
        initiative = initiative and resolve(db, "initiative", initiative)
        rows = db.tasks.find_pending_approval(initiative)
    emit(rows, json_output, lambda: show_table(rows, COLUMNS, "no tasks wait for approval"))


_WAITS = {
    "task": "task",
    "person": "a person (checkpoint task)",
    "phase": "phase",
    "approval": "approval: cw task approve",
}


@app.command("ready", epilog="Example: cw task ready --initiative Xy3... --why")
def ready(
    initiative: Annotated[str, typer.Option("--initiative", help="The initiative's id.")],
    why: Annotated[
        bool,
        typer.Option("--why", help="Also say what each pending task that is not ready waits for."),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Tasks that can start now: dependencies done, approved; high priority first."""
    with database() as db:
        initiative = resolve(db, "initiative", initiative)
        plan.get_or_raise(db.initiatives, initiative, "initiative")
        rows = db.tasks.find_ready(initiative)
        waiting = plan.why_not_ready(db, initiative) if why else []
    if not why:
        emit(rows, json_output, lambda: show_table(rows, COLUMNS, "no task is ready"))
        return

    def human() -> None:
        show_table(rows, COLUMNS, "no task is ready")
        if waiting:
            console.print()
            console.print("[bold]not ready[/bold]")
        for entry in waiting:
            ok(f"  {named('task', entry.task)} waits for:")
            for reason in entry.waits_for:
                what = _WAITS[reason.kind]
                if reason.kind == "approval":
                    ok(f"    - {what} {reason.id}")
                else:
                    ok(f'    - {what} "{reason.name}" ({reason.id}, {reason.status})')

    emit({"ready": rows, "not_ready": waiting}, json_output, human)
