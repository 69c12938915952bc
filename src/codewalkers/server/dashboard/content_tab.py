"""The initiative's Content tab: its page tree and the page editor.

``/ui/initiatives/{id}/pages[/{page}]`` is the tab; the tree (``.../pages/tree``) re-renders
on the stream's ``pages`` messages. The editor is a prebuilt island
(``static/islands/editor.js``, sources in ``islands/editor/``) that reads and saves the
page's Tiptap JSON through ``/ui/pages/{page}/content``; a save names the content version it
started from and is refused (409, nothing saved) when the page changed elsewhere since.
Create, rename, move and delete are form posts; all of it goes through ``services.pages``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from codewalkers.db import Database, Initiative, NotFoundError, Page, ValidationError
from codewalkers.server.dashboard.routes import SECURITY_HEADERS, form, fragment, not_found, page
from codewalkers.services import pages as pages_service
from codewalkers.services.plan import get_or_raise
from codewalkers.services.serialize import plain

router = APIRouter(include_in_schema=False)

#: The largest document the editor may save (the JSON body), in bytes.
MAX_BODY = 5 * 1024 * 1024


@dataclass(frozen=True)
class TreeRow:
    page: Page
    depth: int
    has_children: bool


@dataclass(frozen=True)
class ContentView:
    initiative: Initiative
    rows: list[TreeRow]  # the tree, depth first, in the tree's order
    page: Page | None  # the open page
    move_targets: list[TreeRow]  # where the open page may move (not under itself)

    @property
    def version(self) -> str:
        return pages_service.content_version(self.page.content if self.page else None)


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _rows(nodes: list[pages_service.PageNode], depth: int = 0) -> list[TreeRow]:
    rows: list[TreeRow] = []
    for node in nodes:
        rows.append(TreeRow(node.page, depth, bool(node.children)))
        rows.extend(_rows(node.children, depth + 1))
    return rows


def content_view(db: Database, initiative_id: str, page_id: str | None) -> ContentView:
    """The tab's data; the root page is open when ``page_id`` is ``None``. ``NotFoundError``
    for an unknown initiative, or a page that is not one of its pages."""
    initiative = get_or_raise(db.initiatives, initiative_id, "initiative")
    rows = _rows(pages_service.page_tree(db, initiative_id))
    by_id = {row.page.id: row for row in rows}
    if page_id is not None and page_id not in by_id:
        raise NotFoundError(f"initiative {initiative_id!r} has no page {page_id!r}")
    opened = by_id[page_id].page if page_id else (rows[0].page if rows else None)
    targets: list[TreeRow] = []
    if opened is not None:
        inside: int | None = None  # the open page's subtree, while walking through it
        for row in rows:
            if inside is not None and row.depth <= inside:
                inside = None
            if row.page.id == opened.id:
                inside = row.depth
            if inside is None:
                targets.append(row)
    return ContentView(initiative, rows, opened, targets)


def _tab(request: Request, initiative_id: str, page_id: str | None) -> HTMLResponse:
    db = _db(request)
    after_seq = db.events.latest_seq()  # before reading the page: no change falls between
    try:
        view = content_view(db, initiative_id, page_id)
    except NotFoundError:
        what = f"page {page_id!r} in initiative {initiative_id!r}" if page_id else None
        return not_found(request, "initiatives", what or f"initiative {initiative_id!r}")
    opened = view.page
    response = page(
        request,
        "content.html",
        section="initiatives",
        title=f"{opened.title} · {view.initiative.name}" if opened else view.initiative.name,
        initiative=view.initiative,
        tab="content",
        after_seq=after_seq,
        view=view,
        doc=opened.content if opened else None,
    )
    # Pages show the images they link to (badges, diagrams), wherever they are.
    csp = response.headers["Content-Security-Policy"]
    response.headers["Content-Security-Policy"] = csp.replace(
        "img-src 'self' data:", "img-src 'self' data: https:"
    )
    return response


@router.get("/ui/initiatives/{id}/pages")
def content_tab(request: Request, id: str) -> HTMLResponse:
    """The Content tab with the root page open (an empty state without pages)."""
    return _tab(request, id, None)


@router.get("/ui/initiatives/{id}/pages/tree")
def page_tree(request: Request, id: str, page: str | None = None) -> HTMLResponse:
    """The tree alone, re-fetched when a page of the initiative changes."""
    try:
        view = content_view(_db(request), id, page)
    except NotFoundError:  # the open page was deleted elsewhere: the tree without it
        view = content_view(_db(request), id, None)
    return fragment(request, "_page_tree.html", initiative=view.initiative, view=view, open_id=page)


@router.get("/ui/initiatives/{id}/pages/{page_id}")
def content_page(request: Request, id: str, page_id: str) -> HTMLResponse:
    return _tab(request, id, page_id)


def _redirect(url: str) -> Response:
    """htmx follows ``HX-Redirect`` with a full navigation."""
    return Response(status_code=204, headers={"HX-Redirect": url})


def _page_url(page: Page) -> str:
    return f"/ui/initiatives/{page.initiative_id}/pages/{page.id}"


@router.post("/ui/initiatives/{id}/pages")
async def create_page(request: Request, id: str) -> Response:
    """Create a page (under ``parent``, else under the root page) and open it."""
    fields = await form(request)
    title = fields.get("title", "").strip()
    if not title:
        raise ValidationError("title: give the page a title")
    parent = fields.get("parent") or None
    db = _db(request)
    created = await run_in_threadpool(
        pages_service.create_page, db, id, title, None, parent_page_id=parent
    )
    return _redirect(_page_url(created))


def _tree_after(request: Request, changed: Page) -> HTMLResponse:
    view = content_view(_db(request), changed.initiative_id, changed.id)
    return fragment(
        request, "_page_tree.html", initiative=view.initiative, view=view, open_id=changed.id
    )


@router.post("/ui/pages/{page_id}/rename")
async def rename_page(request: Request, page_id: str) -> HTMLResponse:
    fields = await form(request)
    title = fields.get("title", "").strip()
    if not title:
        raise ValidationError("title: a page needs a title")
    db = _db(request)
    changed = await run_in_threadpool(pages_service.update_page, db, page_id, title=title)
    return await run_in_threadpool(_tree_after, request, changed)


@router.post("/ui/pages/{page_id}/move")
async def move_page(request: Request, page_id: str) -> HTMLResponse:
    fields = await form(request)
    parent = fields.get("parent", "").strip()
    if not parent:
        raise ValidationError("parent: choose the page to move it under")
    db = _db(request)
    changed = await run_in_threadpool(pages_service.update_page, db, page_id, parent_page_id=parent)
    return await run_in_threadpool(_tree_after, request, changed)


@router.post("/ui/pages/{page_id}/delete")
async def delete_page(request: Request, page_id: str) -> Response:
    """Delete the page with its subpages, then open its parent."""
    db = _db(request)
    deleted = await run_in_threadpool(pages_service.delete_page, db, page_id)
    if deleted.parent_page_id:
        return _redirect(f"/ui/initiatives/{deleted.initiative_id}/pages/{deleted.parent_page_id}")
    return _redirect(f"/ui/initiatives/{deleted.initiative_id}/pages")


def _content_answer(found: Page) -> dict[str, Any]:
    return {
        "id": found.id,
        "title": found.title,
        "version": pages_service.content_version(found.content),
        "updated_at": plain(found.updated_at),
    }


@router.get("/ui/pages/{page_id}/content")
def get_content(request: Request, page_id: str) -> JSONResponse:
    """The page's Tiptap JSON and its version (what the editor loads)."""
    found = get_or_raise(_db(request).pages, page_id, "page")
    body = {**_content_answer(found), "doc": found.content}
    return JSONResponse(body, headers=SECURITY_HEADERS)


@router.post("/ui/pages/{page_id}/content")
async def save_content(request: Request, page_id: str) -> JSONResponse:
    """Save the editor's document: ``{"doc": <Tiptap JSON>, "base": <version>, "force":
    false}``. 409 (nothing saved) when the content is no longer ``base``; ``force``
    overwrites it."""
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise ValidationError(f"content: larger than {MAX_BODY // (1024 * 1024)} MB")
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise ValidationError(f"body: not JSON ({exc})") from exc
    if not isinstance(body, dict) or "doc" not in body:
        raise ValidationError('body: expected {"doc": ..., "base": "...", "force": false}')
    base = body.get("base")
    if base is not None and not isinstance(base, str):
        raise ValidationError("base: a content version (a string)")
    force = body.get("force", False)
    if not isinstance(force, bool):
        raise ValidationError("force: true or false")
    db = _db(request)
    try:
        saved, changed = await run_in_threadpool(
            lambda: pages_service.save_page_content(
                db, page_id, body["doc"], base_version=None if force else base
            )
        )
    except pages_service.PageChangedError as exc:
        detail = str(exc)
        return JSONResponse(
            {
                "detail": detail,
                "code": "conflict",
                "field": "base",
                **_content_answer(exc.page),
            },
            status_code=409,
            headers=SECURITY_HEADERS,
        )
    return JSONResponse({**_content_answer(saved), "changed": changed}, headers=SECURITY_HEADERS)
