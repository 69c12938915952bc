"""``cw errand ...``: small work on one project outside any initiative.

``start``, ``chat``, ``merge`` and ``abandon`` ask the coordinator (``cw start``), which runs
the errand's agent; ``list``, ``show`` and ``diff`` read the database and the project's clone.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from codewalkers.agents.paths import RuntimePaths
from codewalkers.cli._common import (
    JsonOption,
    console,
    coordinator,
    database,
    emit,
    ok,
    plain,
    resolve,
    show_table,
    workspace,
)
from codewalkers.services import errands
from codewalkers.services.errands import ErrandView

app = typer.Typer(help="Errands: small work on a project outside any initiative.")

ErrandId = Annotated[
    str, typer.Argument(metavar="ERRAND_ID", help="The errand's id (or a prefix).")
]
COLUMNS = ["id", "status", "branch", "description", "agent_id"]


def _view_data(view: ErrandView) -> dict[str, Any]:
    return {**plain(view.errand), "project": view.project.name, "agent": plain(view.agent)}


@app.command("start", epilog='Example: cw errand start "fix the typo in the README" --project api')
def start(
    description: Annotated[str, typer.Argument(help="What to do, in a sentence or two.")],
    project: Annotated[str, typer.Option("--project", help="The project (name or id).")],
    provider: Annotated[
        str | None, typer.Option("--provider", help="Provider (default: claude).")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Start an errand: an agent on its own branch from the project's default branch.
    Needs a running coordinator (`cw start --detach`)."""
    body = {"description": description, "project": project}
    if provider:
        body["provider"] = provider
    errand = coordinator("POST", "/errands", body)
    emit(
        errand,
        json_output,
        lambda: ok(
            f"started errand {errand['id']} on {errand['branch']} "
            f"(agent {errand['agent']['name'] if errand['agent'] else '?'})"
        ),
    )


@app.command("list", epilog="Example: cw errand list --project api --status active")
def list_(
    project: Annotated[str | None, typer.Option("--project", help="Only this project.")] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="Only this status: active, merged, abandoned.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """List errands, oldest first."""
    with database() as db:
        rows = errands.list_errands(db, project=project, status=status)
    emit(rows, json_output, lambda: show_table(rows, COLUMNS, "no errands"))


@app.command("show", epilog="Example: cw errand show Er1...")
def show(errand_id: ErrandId, json_output: JsonOption = False) -> None:
    """Show an errand, its branch and its agent (status, result)."""
    with database() as db:
        view = errands.get(db, resolve(db, "errand", errand_id))
    emit(_view_data(view), json_output, lambda: _show(view))


def _show(view: ErrandView) -> None:
    errand, agent = view.errand, view.agent
    console.print(f"[bold]errand {errand.id}[/bold] ({errand.status})", highlight=False)
    console.print(errand.description, markup=False)
    console.print(
        f"project {view.project.name}, branch {errand.branch} from {errand.base_branch}",
        markup=False,
    )
    if errand.merge_commit:
        console.print(f"merged as {errand.merge_commit}", markup=False)
    if agent is not None:
        result = agent.result if isinstance(agent.result, dict) else {}
        said = result.get("result") or result.get("error") or agent.status_reason or ""
        console.print(f"agent {agent.name}: {agent.status}  {said}", markup=False)


@app.command("diff", epilog="Example: cw errand diff Er1...")
def diff(errand_id: ErrandId, json_output: JsonOption = False) -> None:
    """Show what the errand's branch changes since it left the default branch."""
    paths = RuntimePaths.for_workspace(workspace())
    with database() as db:
        view = errands.get(db, resolve(db, "errand", errand_id))
        text = errands.diff(db, paths, view.errand.id)
    data = {
        "errand_id": view.errand.id,
        "base": view.errand.base_branch,
        "head": view.errand.branch,
        "diff": text,
    }
    emit(data, json_output, lambda: console.print(text or "no changes", markup=False, end=""))


@app.command("chat", epilog='Example: cw errand chat Er1... "also fix the one in CONTRIBUTING"')
def chat(
    errand_id: ErrandId,
    message: Annotated[str, typer.Argument(help="What to tell the errand's agent.")],
    json_output: JsonOption = False,
) -> None:
    """Resume the errand's agent with a message (or answer its questions with it)."""
    with database() as db:
        errand_id = resolve(db, "errand", errand_id)
    errand = coordinator("POST", f"/errands/{errand_id}/chat", {"message": message})
    emit(errand, json_output, lambda: ok(f"agent {errand['agent']['name']} resumed"))


@app.command("merge", epilog="Example: cw errand merge Er1...")
def merge(errand_id: ErrandId, json_output: JsonOption = False) -> None:
    """Merge the errand's branch into the project's default branch and push it."""
    with database() as db:
        errand_id = resolve(db, "errand", errand_id)
    done = coordinator("POST", f"/errands/{errand_id}/merge")
    emit(
        done,
        json_output,
        lambda: ok(
            f"merged errand {errand_id} into {done['errand']['base_branch']} "
            f"({done['commit']}) and pushed"
        ),
    )


@app.command("abandon", epilog="Example: cw errand abandon Er1... --delete-branch")
def abandon(
    errand_id: ErrandId,
    delete_branch: Annotated[
        bool, typer.Option("--delete-branch", help="Delete its branch too (its commits go).")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Give an errand up: its agent stopped, its worktree removed, nothing merged; its
    branch is kept unless --delete-branch."""
    with database() as db:
        errand_id = resolve(db, "errand", errand_id)
    query = "?delete_branch=true" if delete_branch else ""
    errand = coordinator("POST", f"/errands/{errand_id}/abandon{query}")
    kept = "deleted" if delete_branch else "kept"
    emit(
        errand,
        json_output,
        lambda: ok(f"abandoned errand {errand_id}; branch {errand['branch']} {kept}"),
    )
