"""``cw initiative ...``: the top of the plan."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from codewalkers.cli._common import (
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
    resolve_all,
    show_table,
)
from codewalkers.db import InitiativeStatus
from codewalkers.services import plan
from codewalkers.services.plan import InitiativeTree, TaskNode

if TYPE_CHECKING:
    from rich.tree import Tree


def escape(text: str) -> str:
    """Rich markup escaped (Rich is imported by the human output that needs it)."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


app = typer.Typer(help="Initiatives: a large piece of work, planned as phases and tasks.")

# Nanoids may start with "-" (older ones): take such an argument as the id, not an option.
ID_ARGS = {"ignore_unknown_options": True}

Id = Annotated[str, typer.Argument(metavar="ID", help="The initiative's id (or a unique prefix).")]
COLUMNS = ["id", "name", "status", "branch", "merge_requires_approval", "created_at"]


@app.command(
    "create", epilog='Example: cw initiative create "User auth" --project P1 --branch cw/auth'
)
def create(
    name: Annotated[str, typer.Argument(help="What the initiative is called.")],
    project: Annotated[
        list[str] | None, typer.Option("--project", help="A project id to link (repeatable).")
    ] = None,
    branch: Annotated[str | None, typer.Option(help="The initiative's git branch.")] = None,
    merge_approval: Annotated[
        bool,
        typer.Option(
            "--merge-approval/--no-merge-approval",
            help="Whether merges wait for a person's approval.",
        ),
    ] = True,
    json_output: JsonOption = False,
) -> None:
    """Create an initiative (optionally linked to projects)."""
    with database() as db:
        initiative = plan.create_initiative(
            db,
            name,
            project_ids=resolve_all(db, "project", project or []),
            branch=branch,
            merge_requires_approval=merge_approval,
        )
    emit(initiative, json_output, lambda: ok(f"created {named('initiative', initiative)}"))


@app.command("list", epilog="Example: cw initiative list --status active")
def list_(
    status: Annotated[
        str | None, typer.Option(help="Only this status: " + ", ".join(InitiativeStatus))
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """List initiatives, oldest first."""
    with database() as db:
        rows = db.initiatives.find_by_status(status) if status else db.initiatives.find_all()
    emit(rows, json_output, lambda: show_table(rows, COLUMNS, "no initiatives"))


@app.command("get", context_settings=ID_ARGS, epilog="Example: cw initiative get Xy3... --json")
def get(id: Id, json_output: JsonOption = False) -> None:
    """Show one initiative and its linked projects."""
    with database() as db:
        id = resolve(db, "initiative", id)
        initiative = plan.get_or_raise(db.initiatives, id, "initiative")
        projects = db.projects.find_projects_by_initiative_id(id)
    data = {**plain(initiative), "project_ids": [p.id for p in projects]}
    emit(data, json_output)


@app.command(
    "update",
    context_settings=ID_ARGS,
    epilog='Example: cw initiative update Xy3... --name "Auth v2" --status completed',
)
def update(
    id: Id,
    name: Annotated[str | None, typer.Option(help="New name.")] = None,
    status: Annotated[
        str | None, typer.Option(help="New status: " + ", ".join(InitiativeStatus))
    ] = None,
    branch: Annotated[str | None, typer.Option(help="New branch.")] = None,
    merge_approval: Annotated[
        bool | None,
        typer.Option(
            "--merge-approval/--no-merge-approval",
            help="Whether merges wait for approval.",
            show_default=False,
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Change an initiative's name, status, branch or merge approval."""
    changes = {
        key: value
        for key, value in {
            "name": name,
            "status": status,
            "branch": branch,
            "merge_requires_approval": merge_approval,
        }.items()
        if value is not None
    }
    with database() as db:
        initiative = plan.update_initiative(db, resolve(db, "initiative", id), **changes)
    emit(initiative, json_output, lambda: ok(f"updated {named('initiative', initiative)}"))


@app.command("archive", context_settings=ID_ARGS, epilog="Example: cw initiative archive Xy3...")
def archive(id: Id, json_output: JsonOption = False) -> None:
    """Archive an initiative (status archived; nothing is deleted)."""
    with database() as db:
        initiative = plan.archive_initiative(db, resolve(db, "initiative", id))
    emit(initiative, json_output, lambda: ok(f"archived {named('initiative', initiative)}"))


@app.command(
    "delete", context_settings=ID_ARGS, epilog="Example: cw initiative delete Xy3... --yes"
)
def delete(id: Id, yes: YesOption = False, json_output: JsonOption = False) -> None:
    """Delete an initiative with its phases, tasks and pages (asks first when it has any)."""
    with database() as db:
        id = resolve(db, "initiative", id)
        initiative = plan.get_or_raise(db.initiatives, id, "initiative")
        found = consequences(plan.initiative_deletion(db, id))
        confirm(f"deleting {named('initiative', initiative)}", found, yes)
        plan.delete_initiative(db, id)
    emit(
        {"id": id, "deleted": True},
        json_output,
        lambda: ok(f"deleted {named('initiative', initiative)}"),
    )


@app.command("tree", context_settings=ID_ARGS, epilog="Example: cw initiative tree Xy3...")
def tree(id: Id, json_output: JsonOption = False) -> None:
    """Show the initiative's phases and tasks as a tree, with status, priority and dependencies."""
    with database() as db:
        result = plan.initiative_tree(db, resolve(db, "initiative", id))
    emit(result, json_output, lambda: _print_tree(result))


def _print_tree(result: InitiativeTree) -> None:
    names = {node.phase.id: node.phase.name for node in result.phases}
    names.update(_task_names(result.tasks))
    for phase_node in result.phases:
        names.update(_task_names(phase_node.tasks))
    initiative = result.initiative
    from rich.tree import Tree

    root = Tree(
        f"[bold]{escape(initiative.name)}[/bold] [dim]{initiative.id}[/dim] ({initiative.status})"
    )
    for node in result.phases:
        phase = node.phase
        waits = _after(node.depends_on, names)
        branch = root.add(
            f"[bold]phase[/bold] {escape(phase.name)} [dim]{phase.id}[/dim] ({phase.status}){waits}"
        )
        _add_tasks(branch, node.tasks, names)
    _add_tasks(root, result.tasks, names)
    console.print(root)


def _task_names(nodes: list[TaskNode]) -> dict[str, str]:
    names = {}
    for node in nodes:
        names[node.task.id] = node.task.name
        names.update(_task_names(node.children))
    return names


def _after(ids: list[str], names: dict[str, str]) -> str:
    if not ids:
        return ""
    shown = ", ".join(escape(names.get(id, id)) for id in ids)
    return f" [yellow]after {shown}[/yellow]"


def _add_tasks(branch: Tree, nodes: list[TaskNode], names: dict[str, str]) -> None:
    for node in nodes:
        task = node.task
        waits = _after(node.depends_on, names)
        child = branch.add(
            f"{escape(task.name)} [dim]{task.id}[/dim] ({task.status}, {task.priority}){waits}"
        )
        _add_tasks(child, node.children, names)
