"""``cw phase ...``: the stages of an initiative."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from codewalkers.cli._common import (
    JsonOption,
    console,
    database,
    emit,
    ok,
    plain,
    read_text_file,
    show_record,
    show_table,
)
from codewalkers.content import tiptap_to_markdown
from codewalkers.db import PhaseStatus
from codewalkers.services import plan

app = typer.Typer(help="Phases: the ordered stages of an initiative.")

Id = Annotated[str, typer.Argument(help="The phase's id.")]
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
        phase = plan.create_phase(db, initiative, name, markdown)
    emit(phase, json_output, lambda: ok(f"created phase {phase.id} {phase.name}"))


@app.command("list", epilog="Example: cw phase list --initiative Xy3...")
def list_(
    initiative: Annotated[str, typer.Option("--initiative", help="The initiative's id.")],
    json_output: JsonOption = False,
) -> None:
    """List an initiative's phases."""
    with database() as db:
        plan.get_or_raise(db.initiatives, initiative, "initiative")
        rows = db.phases.find_by_initiative_id(initiative)
    emit(rows, json_output, lambda: show_table(rows, COLUMNS, "no phases"))


@app.command("get", epilog="Example: cw phase get Ph1...")
def get(id: Id, json_output: JsonOption = False) -> None:
    """Show a phase, its dependencies and its content as Markdown."""
    with database() as db:
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


@app.command("status", epilog="Example: cw phase status Ph1... in_progress")
def status(
    id: Id,
    value: Annotated[str, typer.Argument(metavar="STATUS", help=", ".join(PhaseStatus))],
    json_output: JsonOption = False,
) -> None:
    """Set a phase's status."""
    with database() as db:
        phase = plan.set_phase_status(db, id, value)
    emit(phase, json_output, lambda: ok(f"phase {phase.id} is {phase.status}"))


@app.command("depend", epilog="Example: cw phase depend Build... --on Design...")
def depend(
    id: Id,
    on: Annotated[str, typer.Option("--on", help="The phase it depends on.")],
    json_output: JsonOption = False,
) -> None:
    """Make a phase depend on another phase of the same initiative."""
    with database() as db:
        added = plan.add_phase_dependency(db, id, on)
    emit(
        {"phase_id": id, "depends_on_phase_id": on, "added": added},
        json_output,
        lambda: ok(f"phase {id} depends on {on}" + ("" if added else " (already)")),
    )


@app.command("delete", epilog="Example: cw phase delete Ph1...")
def delete(id: Id, json_output: JsonOption = False) -> None:
    """Delete a phase with its tasks."""
    with database() as db:
        plan.delete_phase(db, id)
    emit({"id": id, "deleted": True}, json_output, lambda: ok(f"deleted phase {id}"))
