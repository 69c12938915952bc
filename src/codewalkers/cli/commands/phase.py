"""``cw phase ...``: the stages of an initiative."""

from __future__ import annotations

from pathlib import Path
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
    read_text_file,
    resolve,
    show_record,
    show_table,
)
from codewalkers.content import markdown_to_tiptap, tiptap_to_markdown
from codewalkers.db import PhaseStatus
from codewalkers.services import plan

# Nanoids may start with "-" (older ones): take such an argument as the id, not an option.
ID_ARGS = {"ignore_unknown_options": True}

app = typer.Typer(help="Phases: the ordered stages of an initiative.")

Id = Annotated[str, typer.Argument(metavar="ID", help="The phase's id (or a unique prefix).")]
Force = Annotated[
    bool,
    typer.Option("--force", help="Complete it although some of its tasks are not (says which)."),
]
COLUMNS = ["id", "name", "status", "created_at"]


@app.command(
    "create", epilog='Example: cw phase create --initiative Xy3... "Design" --content design.md'
)
def create(
    name: Annotated[str, typer.Argument(help="What the phase is called.")],
    initiative: Annotated[str, typer.Option("--initiative", help="The initiative's id.")],
    content: Annotated[
        Path | None, typer.Option(help="A Markdown file with the phase's content.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Create a phase in an initiative."""
    markdown = read_text_file(content, "content")
    with database() as db:
        phase = plan.create_phase(db, resolve(db, "initiative", initiative), name, markdown)
    emit(phase, json_output, lambda: ok(f"created {named('phase', phase)}"))


@app.command("list", epilog="Example: cw phase list --initiative Xy3...")
def list_(
    initiative: Annotated[str, typer.Option("--initiative", help="The initiative's id.")],
    json_output: JsonOption = False,
) -> None:
    """List an initiative's phases."""
    with database() as db:
        initiative = resolve(db, "initiative", initiative)
        plan.get_or_raise(db.initiatives, initiative, "initiative")
        rows = db.phases.find_by_initiative_id(initiative)
    emit(rows, json_output, lambda: show_table(rows, COLUMNS, "no phases"))


@app.command("get", context_settings=ID_ARGS, epilog="Example: cw phase get Ph1...")
def get(id: Id, json_output: JsonOption = False) -> None:
    """Show a phase, its dependencies and its content as Markdown."""
    with database() as db:
        id = resolve(db, "phase", id)
        phase = plan.get_or_raise(db.phases, id, "phase")
        depends_on = db.phases.get_dependencies(id)
    data = {
        **plain(phase),
        "depends_on": depends_on,
        "content_markdown": tiptap_to_markdown(phase.content),
    }

    def human() -> None:
        show_record({k: v for k, v in data.items() if k not in ("content", "content_markdown")})
        if data["content_markdown"]:
            console.print()
            console.print(data["content_markdown"], markup=False)

    emit(data, json_output, human)


def _skipped_note(skipped: list[Any]) -> str:
    if not skipped:
        return ""
    shown = ", ".join(f'"{t.name}" ({t.id}, {t.status})' for t in skipped)
    return f"; --force skipped unfinished tasks: {shown}"


@app.command(
    "status", context_settings=ID_ARGS, epilog="Example: cw phase status Ph1... in_progress"
)
def status(
    id: Id,
    value: Annotated[str, typer.Argument(metavar="STATUS", help=", ".join(PhaseStatus))],
    force: Force = False,
    json_output: JsonOption = False,
) -> None:
    """Set a phase's status (completed only once its tasks are, or --force)."""
    with database() as db:
        id = resolve(db, "phase", id)
        skipped = plan.phase_completion_blockers(db, id) if force else []
        phase = plan.set_phase_status(db, id, value, force=force)
    if phase.status != PhaseStatus.COMPLETED:
        skipped = []
    emit(
        {**plain(phase), "forced_past": [t.id for t in skipped]} if force else phase,
        json_output,
        lambda: ok(f"{named('phase', phase)} is {phase.status}{_skipped_note(skipped)}"),
    )


@app.command(
    "update",
    context_settings=ID_ARGS,
    epilog='Example: cw phase update Ph1... --name "Design review" --content design.md',
)
def update(
    id: Id,
    name: Annotated[str | None, typer.Option(help="New name.")] = None,
    content: Annotated[
        Path | None, typer.Option(help="A Markdown file with the phase's new content.")
    ] = None,
    status: Annotated[str | None, typer.Option(help=", ".join(PhaseStatus))] = None,
    force: Force = False,
    json_output: JsonOption = False,
) -> None:
    """Change a phase's name, content or status."""
    markdown = read_text_file(content, "content")
    changes: dict[str, Any] = {"name": name, "status": status}
    changes = {key: value for key, value in changes.items() if value is not None}
    if markdown is not None:
        changes["content"] = markdown_to_tiptap(markdown)
    if not changes:
        raise CliError("nothing to change: give --name, --content or --status")
    with database() as db:
        id = resolve(db, "phase", id)
        skipped = plan.phase_completion_blockers(db, id) if force and status else []
        phase = plan.update_phase(db, id, force=force, **changes)
    emit(phase, json_output, lambda: ok(f"updated {named('phase', phase)}{_skipped_note(skipped)}"))


@app.command(
    "depend", context_settings=ID_ARGS, epilog="Example: cw phase depend Build... --on Design..."
)
def depend(
    id: Id,
    on: Annotated[str, typer.Option("--on", help="The phase it depends on.")],
    remove: Annotated[
        bool, typer.Option("--remove", help="Remove the dependency instead (as undepend).")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Make a phase depend on another phase of the same initiative."""
    if remove:
        undepend(id, on, json_output)
        return
    with database() as db:
        id, on = resolve(db, "phase", id), resolve(db, "phase", on)
        added = plan.add_phase_dependency(db, id, on)
        phase, target = db.phases.find_by_id(id), db.phases.find_by_id(on)
    emit(
        {"phase_id": id, "depends_on_phase_id": on, "added": added},
        json_output,
        lambda: ok(
            f"{named('phase', phase)} depends on {named('phase', target)}"
            + ("" if added else " (already)")
        ),
    )


@app.command(
    "undepend",
    context_settings=ID_ARGS,
    epilog="Example: cw phase undepend Build... --on Design...",
)
def undepend(
    id: Id,
    on: Annotated[str, typer.Option("--on", help="The phase it should no longer depend on.")],
    json_output: JsonOption = False,
) -> None:
    """Remove a dependency between two phases."""
    with database() as db:
        id, on = resolve(db, "phase", id), resolve(db, "phase", on)
        removed = plan.remove_phase_dependency(db, id, on)
        phase = db.phases.find_by_id(id)
    emit(
        {"phase_id": id, "depends_on_phase_id": on, "removed": removed},
        json_output,
        lambda: ok(
            f"{named('phase', phase)} no longer depends on {on}"
            if removed
            else f"{named('phase', phase)} did not depend on {on}"
        ),
    )


@app.command("delete", context_settings=ID_ARGS, epilog="Example: cw phase delete Ph1... --yes")
def delete(id: Id, yes: YesOption = False, json_output: JsonOption = False) -> None:
    """Delete a phase with its tasks (asks first when it has any)."""
    with database() as db:
        id = resolve(db, "phase", id)
        phase = plan.get_or_raise(db.phases, id, "phase")
        found = consequences(plan.phase_deletion(db, id))
        confirm(f"deleting {named('phase', phase)}", found, yes)
        plan.delete_phase(db, id)
    emit({"id": id, "deleted": True}, json_output, lambda: ok(f"deleted {named('phase', phase)}"))
