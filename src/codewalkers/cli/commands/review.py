"""``cw review ...``: comments on the lines of a phase's diff."""

from __future__ import annotations

from typing import Annotated

import typer

from codewalkers.cli._common import JsonOption, database, emit, ok, show_table
from codewalkers.cli._common import resolve as find
from codewalkers.db import ReviewLineType
from codewalkers.services import plan, review

app = typer.Typer(help="Review comments on the lines of a phase's changes.")

Id = Annotated[str, typer.Argument(metavar="ID", help="The comment's id (or a unique prefix).")]
COLUMNS = ["id", "file_path", "line_number", "line_type", "resolved", "author", "body"]


@app.command(
    "comment",
    epilog="Example: cw review comment --phase Ph1... --file src/app.py --line 42 --type added "
    '"Handle the empty list"',
)
def comment(
    body: Annotated[str, typer.Argument(help="What you have to say about the line.")],
    phase: Annotated[str, typer.Option("--phase", help="The phase under review.")],
    file: Annotated[str, typer.Option("--file", help="The file's path in the repository.")],
    line: Annotated[int, typer.Option("--line", min=1, help="The line number.")],
    type_: Annotated[str, typer.Option("--type", help=", ".join(ReviewLineType))],
    author: Annotated[str | None, typer.Option(help="Who writes it (default: you).")] = None,
    json_output: JsonOption = False,
) -> None:
    """Comment on a line of a phase's diff."""
    with database() as db:
        phase = find(db, "phase", phase)
        created = review.add_comment(db, phase, file, line, type_, body, author=author)
    emit(created, json_output, lambda: ok(f"created review comment {created.id}"))


@app.command("list", epilog="Example: cw review list --phase Ph1... --unresolved")
def list_(
    phase: Annotated[str, typer.Option("--phase", help="The phase under review.")],
    unresolved: Annotated[
        bool, typer.Option("--unresolved", help="Only comments not yet resolved.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """List a phase's review comments, oldest first."""
    with database() as db:
        phase = find(db, "phase", phase)
        plan.get_or_raise(db.phases, phase, "phase")
        rows = db.review_comments.find_by_phase_id(phase)
    if unresolved:
        rows = [row for row in rows if not row.resolved]
    emit(rows, json_output, lambda: show_table(rows, COLUMNS, "no review comments"))


@app.command("resolve", epilog="Example: cw review resolve Rc1...")
def resolve(id: Id, json_output: JsonOption = False) -> None:
    """Mark a comment resolved."""
    with database() as db:
        updated = review.resolve_comment(db, find(db, "review comment", id))
    emit(updated, json_output, lambda: ok(f"resolved review comment {id}"))


@app.command("unresolve", epilog="Example: cw review unresolve Rc1...")
def unresolve(id: Id, json_output: JsonOption = False) -> None:
    """Mark a comment unresolved again."""
    with database() as db:
        updated = review.unresolve_comment(db, find(db, "review comment", id))
    emit(updated, json_output, lambda: ok(f"reopened review comment {id}"))


@app.command("delete", epilog="Example: cw review delete Rc1...")
def delete(id: Id, json_output: JsonOption = False) -> None:
    """Delete a comment."""
    with database() as db:
        id = find(db, "review comment", id)
        review.delete_comment(db, id)
    emit({"id": id, "deleted": True}, json_output, lambda: ok(f"deleted review comment {id}"))
