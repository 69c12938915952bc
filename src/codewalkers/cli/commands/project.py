"""``cw project ...``: the git repositories initiatives work on."""

from __future__ import annotations

from typing import Annotated

import typer

from codewalkers.agents.paths import RuntimePaths
from codewalkers.cli._common import (
    CliError,
    JsonOption,
    YesOption,
    confirm,
    consequences,
    database,
    emit,
    named,
    ok,
    resolve,
    resolve_all,
    show_table,
    workspace,
)
from codewalkers.services import plan, projects

# Nanoids may start with "-": take such an argument as the id, not as an unknown option.
ID_ARGS = {"ignore_unknown_options": True}

app = typer.Typer(help="Projects: git repositories, linked to the initiatives that change them.")

COLUMNS = ["id", "name", "url", "default_branch", "created_at"]
Id = Annotated[str, typer.Argument(metavar="ID", help="The project's id (or a unique prefix).")]


@app.command(
    "add",
    context_settings=ID_ARGS,
    epilog="Example: cw project add api git@github.com:acme/api.git --default-branch main",
)
def add(
    name: Annotated[str, typer.Argument(help="A unique short name.")],
    url: Annotated[
        str,
        typer.Argument(help="The repository's git URL, file:// URL or an existing path (unique)."),
    ],
    default_branch: Annotated[
        str | None, typer.Option("--default-branch", help="The branch to start from (main).")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Register a project (a git repository)."""
    with database() as db:
        project = projects.add_project(db, name, url, default_branch=default_branch)
    emit(project, json_output, lambda: ok(f"added {named('project', project)}"))


@app.command("list", epilog="Example: cw project list --json")
def list_(json_output: JsonOption = False) -> None:
    """List projects, oldest first."""
    with database() as db:
        rows = db.projects.find_all()
    emit(rows, json_output, lambda: show_table(rows, COLUMNS, "no projects"))


@app.command(
    "link", context_settings=ID_ARGS, epilog="Example: cw project link Xy3... Pr1... Pr2..."
)
def link(
    initiative_id: Annotated[str, typer.Argument(help="The initiative's id.")],
    project_ids: Annotated[
        list[str], typer.Argument(help="The project ids: exactly these become linked.")
    ],
    json_output: JsonOption = False,
) -> None:
    """Link an initiative to exactly these projects (others are unlinked); print them."""
    with database() as db:
        rows = plan.link_projects(
            db, resolve(db, "initiative", initiative_id), resolve_all(db, "project", project_ids)
        )
    emit(rows, json_output, lambda: show_table(rows, COLUMNS, "no projects linked"))


@app.command(
    "update",
    context_settings=ID_ARGS,
    epilog="Example: cw project update Pr1... --url git@github.com:acme/api-v2.git",
)
def update(
    id: Id,
    name: Annotated[str | None, typer.Option(help="New short name (unique).")] = None,
    url: Annotated[
        str | None, typer.Option(help="New git URL, file:// URL or existing path (unique).")
    ] = None,
    default_branch: Annotated[
        str | None, typer.Option("--default-branch", help="New branch to start from.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Change a project's name, URL or default branch."""
    fields = {"name": name, "url": url, "default_branch": default_branch}
    changes = {key: value for key, value in fields.items() if value is not None}
    if not changes:
        raise CliError("nothing to change: give --name, --url or --default-branch")
    with database() as db:
        project = projects.update_project(db, resolve(db, "project", id), **changes)
    emit(project, json_output, lambda: ok(f"updated {named('project', project)}"))


@app.command("remove", context_settings=ID_ARGS, epilog="Example: cw project remove Pr1... --yes")
def remove(id: Id, yes: YesOption = False, json_output: JsonOption = False) -> None:
    """Remove a project (asks first when initiatives are linked to it; they stay)."""
    with database() as db:
        id = resolve(db, "project", id)
        found = consequences(projects.project_removal(db, id))
        project = db.projects.find_by_id(id)
        confirm(f"removing {named('project', project)}", found, yes)
        projects.remove_project(db, id)
    emit(
        {"id": id, "deleted": True}, json_output, lambda: ok(f"removed {named('project', project)}")
    )


@app.command("sync", context_settings=ID_ARGS, epilog="Example: cw project sync api")
def sync(
    name: Annotated[
        str | None, typer.Argument(help="The project's name or id (default: every project).")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Clone (first time) or fetch the workspace's own copy of a project, under
    .cw/repos/NAME.git; agents' worktrees are made from it. Exits 1 if any sync failed."""
    paths = RuntimePaths.for_workspace(workspace())
    with database() as db:
        results = projects.sync_projects(db, paths, name)
    data = [
        {
            "project": result.project,
            "cloned": result.cloned,
            "default_branch": result.default_branch,
            "head_commit": result.head_commit,
            "error": result.error,
        }
        for result in results
    ]

    def human() -> None:
        if not results:
            ok("no projects")
        for result in results:
            if result.error is not None:
                ok(f"{result.project.name}: sync failed: {result.error}")
                continue
            verb = "cloned" if result.cloned else "fetched"
            head = (result.head_commit or "no commits")[:12]
            ok(f"{result.project.name}: {verb} ({result.default_branch} at {head})")

    emit(data, json_output, human)
    if any(result.error is not None for result in results):
        raise typer.Exit(1)
