"""``/pages``: an initiative's documents, a tree under one root page (Markdown in and out,
Tiptap stored).
"""

from __future__ import annotations

from fastapi import status as http

from codewalkers.content import tiptap_to_markdown
from codewalkers.db import NotFoundError, Page
from codewalkers.server import models as m
from codewalkers.server.errors import CONFLICT, NOT_FOUND
from codewalkers.server.routes._common import Db, make_router, out
from codewalkers.services import pages, plan

router = make_router("pages")


def _detail(page: Page) -> m.PageDetail:
    return out(m.PageDetail, page, content_markdown=tiptap_to_markdown(page.content))


def _node(node: pages.PageNode) -> m.PageNode:
    return m.PageNode(
        page=out(m.PagePublic, node.page), children=[_node(child) for child in node.children]
    )


@router.post(
    "/pages",
    status_code=http.HTTP_201_CREATED,
    response_model=m.PagePublic,
    responses={**NOT_FOUND, **CONFLICT},
)
def create_page(db: Db, body: m.PageCreate) -> m.PagePublic:
    """Create a page under ``parent_page_id``, or under the root page (created if missing)."""
    page = pages.create_page(
        db,
        body.initiative_id,
        body.title,
        body.content_markdown,
        parent_page_id=body.parent_page_id,
    )
    return out(m.PagePublic, page)


@router.get("/pages/{id}", response_model=m.PageDetail, responses=NOT_FOUND)
def get_page(db: Db, id: str) -> m.PageDetail:
    """A page and its content as Markdown."""
    return _detail(plan.get_or_raise(db.pages, id, "page"))


@router.patch("/pages/{id}", response_model=m.PagePublic, responses=NOT_FOUND)
def update_page(db: Db, id: str, body: m.PageUpdate) -> m.PagePublic:
    """Change what the body gives of title, content (Markdown) and parent."""
    page = pages.update_page(
        db,
        id,
        title=body.title,
        markdown=body.content_markdown,
        parent_page_id=body.parent_page_id,
    )
    return out(m.PagePublic, page)


@router.delete("/pages/{id}", response_model=m.Deleted, responses=NOT_FOUND)
def delete_page(db: Db, id: str) -> m.Deleted:
    """Delete a page with its subpages."""
    pages.delete_page(db, id)
    return m.Deleted(id=id)


@router.get("/initiatives/{id}/pages", response_model=list[m.PageNode], responses=NOT_FOUND)
def page_tree(db: Db, id: str) -> list[m.PageNode]:
    """The initiative's pages as a tree (normally one root)."""
    return [_node(node) for node in pages.page_tree(db, id)]


@router.get("/initiatives/{id}/pages/root", response_model=m.PagePublic, responses=NOT_FOUND)
def get_root_page(db: Db, id: str) -> m.PagePublic:
    """The initiative's root page; 404 while it has none."""
    plan.get_or_raise(db.initiatives, id, "initiative")
    page = db.pages.find_root_page(id)
    if page is None:
        raise NotFoundError(f"initiative {id!r} has no root page yet")
    return out(m.PagePublic, page)


@router.post("/initiatives/{id}/pages/root", response_model=m.PagePublic, responses=NOT_FOUND)
def ensure_root_page(db: Db, id: str) -> m.PagePublic:
    """The initiative's root page, created (titled after the initiative) if missing."""
    return out(m.PagePublic, pages.root_page(db, id))
