"""``cw page ...``: an initiative's documents, written and shown as Markdown."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.tree import Tree

from codewalkers.cli._common import (
    CliError,
    JsonOption,
    console,
    database,
    emit,
    ok,
    plain,
    read_text_file,
    settings,
    show_record,
)
from codewalkers.content import markdown_to_tiptap, tiptap_to_markdown
from codewalkers.services import pages, plan
from codewalkers.services.pages import PageNode

# Nanoids may start with "-": take such an argument as the id, not as an unknown option.
ID_ARGS = {"ignore_unknown_options": True}

app = typer.Typer(help="Pages: an initiative's documents, a tree under one root page.")

Id = Annotated[str, typer.Argument(help="The page's id.")]
Initiative = Annotated[str, typer.Option("--initiative", help="The initiative's id.")]
Content = Annotated[
    Path | None,
    typer.Option(help="A Markdown file with the page's content; - reads standard input."),
]


def _read_content(path: Path | None) -> str | None:
    """The Markdown of ``--content``: a file, or standard input for ``-``."""
    if path is not None and str(path) == "-":
        try:
            return sys.stdin.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"cannot read content from standard input: {exc}") from exc
    return read_text_file(path, "content")


@app.command(
    "create",
    context_settings=ID_ARGS,
    epilog='Example: cw page create --initiative Xy3... "Architecture" --content arch.md',
)
def create(
    title: Annotated[str, typer.Argument(help="The page's title.")],
    initiative: Initiative,
    parent: Annotated[
        str | None, typer.Option("--parent", help="The parent page (default: the root page).")
    ] = None,
    content: Content = None,
    json_output: JsonOption = False,
) -> None:
    """Create a page, under the initiative's root page unless --parent says otherwise."""
    markdown = _read_content(content)
    with database() as db:
        page = pages.create_page(db, initiative, title, markdown, parent_page_id=parent)
    emit(page, json_output, lambda: ok(f"created page {page.id} {page.title}"))


@app.command("list", epilog="Example: cw page list --initiative Xy3...")
def list_(initiative: Initiative, json_output: JsonOption = False) -> None:
    """List an initiative's pages as a tree (JSON: parents before children, with depth)."""
    with database() as db:
        roots = pages.page_tree(db, initiative)
    rows: list[dict[str, Any]] = []

    def walk(nodes: list[PageNode], depth: int) -> None:
        for node in nodes:
            rows.append({**plain(node.page), "depth": depth})
            walk(node.children, depth + 1)

    walk(roots, 0)

    def human() -> None:
        if not roots:
            console.print("no pages", style="dim")
            return
        for node in roots:
            tree = Tree(_label(node))
            _add_children(tree, node.children)
            console.print(tree)

    emit(rows, json_output, human)


def _label(node: PageNode) -> str:
    return f"{escape(node.page.title)} [dim]{node.page.id}[/dim]"


def _add_children(tree: Tree, nodes: list[PageNode]) -> None:
    for node in nodes:
        _add_children(tree.add(_label(node)), node.children)


@app.command(
    "get",
    context_settings=ID_ARGS,
    epilog="Example: cw page get Pg1... --markdown > page.md",
)
def get(
    id: Id,
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print only the page's Markdown, nothing else.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Show a page and its content as Markdown."""
    if markdown and (json_output or settings.json):
        raise CliError("--markdown and --json cannot be used together")
    with database() as db:
        page = plan.get_or_raise(db.pages, id, "page")
    text = tiptap_to_markdown(page.content)
    if markdown:
        sys.stdout.write(text)  # byte for byte: no styling, no wrapping
        return
    data = {**plain(page), "content_markdown": text}

    def human() -> None:
        show_record({k: v for k, v in data.items() if k not in ("content", "content_markdown")})
        if data["content_markdown"]:
            console.print()
            console.print(data["content_markdown"], markup=False, end="")

    emit(data, json_output, human)


@app.command(
    "edit",
    context_settings=ID_ARGS,
    epilog="Example: cw page edit Pg1...  (EDITOR=nano to choose the editor)",
)
def edit(id: Id, json_output: JsonOption = False) -> None:
    """Edit a page's content as Markdown in $VISUAL or $EDITOR (else vi); it is saved only if
    it changed. If the page changed meanwhile, nothing is saved and the file is kept."""
    with database() as db:
        page = plan.get_or_raise(db.pages, id, "page")
    before = tiptap_to_markdown(page.content)
    folder = Path(tempfile.mkdtemp(prefix="cw-page-"))
    path = folder / f"{page.id}.md"
    path.write_text(before, encoding="utf-8")
    _run_editor(path)
    after = read_text_file(path, "edited") or ""
    changed = markdown_to_tiptap(after) != markdown_to_tiptap(before)
    if changed:
        with database() as db:
            current = plan.get_or_raise(db.pages, id, "page")
            if current.content != page.content:
                raise CliError(
                    f"page {page.id} changed while you were editing; nothing saved, "
                    f"your text is in {path}"
                )
            page = pages.update_page(db, page.id, markdown=after)
    shutil.rmtree(folder, ignore_errors=True)  # with any backup files the editor left
    emit(
        {**plain(page), "changed": changed},
        json_output,
        lambda: ok(f"updated page {page.id}" if changed else f"page {page.id} unchanged"),
    )


def _run_editor(path: Path) -> None:
    """Run the person's editor on ``path`` and wait for it (``$VISUAL``, ``$EDITOR``, vi)."""
    command = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    argv = [*shlex.split(command), str(path)]
    try:
        done = subprocess.run(argv, check=False)
    except OSError as exc:
        raise CliError(f"cannot run editor {command!r}: {exc}; nothing saved") from exc
    if done.returncode != 0:
        raise CliError(
            f"editor {command!r} exited with {done.returncode}; nothing saved, "
            f"your text is in {path}"
        )


@app.command(
    "update",
    context_settings=ID_ARGS,
    epilog="Example: cw page get Pg1... --markdown | sed s/v1/v2/"
    " | cw page update Pg1... --content -",
)
def update(
    id: Id,
    title: Annotated[str | None, typer.Option(help="New title.")] = None,
    content: Content = None,
    parent: Annotated[str | None, typer.Option("--parent", help="Move under this page.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Change a page's title, content or parent."""
    markdown = _read_content(content)
    with database() as db:
        page = pages.update_page(db, id, title=title, markdown=markdown, parent_page_id=parent)
    emit(page, json_output, lambda: ok(f"updated page {page.id}"))


@app.command("delete", context_settings=ID_ARGS, epilog="Example: cw page delete Pg1...")
def delete(id: Id, json_output: JsonOption = False) -> None:
    """Delete a page with its subpages."""
    with database() as db:
        pages.delete_page(db, id)
    emit({"id": id, "deleted": True}, json_output, lambda: ok(f"deleted page {id}"))


@app.command("root", epilog="Example: cw page root --initiative Xy3...")
def root(initiative: Initiative, json_output: JsonOption = False) -> None:
    """Show the initiative's root page (created, titled after the initiative, if missing)."""
    with database() as db:
        page = pages.root_page(db, initiative)
    emit(page, json_output, lambda: ok(f"root page {page.id} {page.title}"))
