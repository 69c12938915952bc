"""Pages: an initiative's documents, written as Markdown and stored as Tiptap."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from codewalkers.content import markdown_to_tiptap, tiptap_problem, tiptap_to_markdown
from codewalkers.db import ConflictError, Database, NotFoundError, Page, ValidationError
from codewalkers.services import events
from codewalkers.services.plan import get_or_raise


def create_page(
    db: Database,
    initiative_id: str,
    title: str,
    markdown: str | None = None,
    *,
    parent_page_id: str | None = None,
) -> Page:
    """Create a page under ``parent_page_id``, or under the initiative's root page (created
    if missing), in one transaction.

    Raises ``ReferenceNotFoundError`` for an unknown initiative or parent, ``ValidationError``
    for a parent in another initiative or an empty title.
    """
    with db.transaction():
        root: Page | None = None
        if parent_page_id is None:
            root, created = ensure_root_page(db, initiative_id)
            parent_page_id = root.id
            if not created:
                root = None
        page: Page = db.pages.create(
            initiative_id=initiative_id,
            parent_page_id=parent_page_id,
            title=title,
            content=markdown_to_tiptap(markdown) if markdown is not None else None,
        )
        if root is not None:
            events.emit(db, events.PAGE_CREATED, root)
        events.emit(db, events.PAGE_CREATED, page)
    return page


def ensure_root_page(db: Database, initiative_id: str) -> tuple[Page, bool]:
    """The initiative's root page and whether this call created it; emits nothing (the
    caller emits ``page:created`` for a new root, after its other writes).
    """
    result: tuple[Page, bool] = db.pages.ensure_root_page(initiative_id)
    return result


def root_page(db: Database, initiative_id: str) -> Page:
    """The initiative's root page, created (titled after the initiative) if missing.
    Raises ``NotFoundError`` for an unknown initiative.
    """
    with db.transaction():
        get_or_raise(db.initiatives, initiative_id, "initiative")
        root, created = ensure_root_page(db, initiative_id)
        if created:
            events.emit(db, events.PAGE_CREATED, root)
    return root


def update_page(
    db: Database,
    page_id: str,
    *,
    title: str | None = None,
    markdown: str | None = None,
    parent_page_id: str | None = None,
) -> Page:
    """Change what is given of a page's title, content (Markdown) and parent.

    Raises ``NotFoundError`` for an unknown page, ``ValidationError`` for a move under
    itself, one of its descendants or another initiative's page.
    """
    changes: dict[str, Any] = {}
    if title is not None:
        changes["title"] = title
    if markdown is not None:
        changes["content"] = markdown_to_tiptap(markdown)
    if parent_page_id is not None:
        changes["parent_page_id"] = parent_page_id
    with db.transaction():
        page: Page = db.pages.update(page_id, **changes)
        events.emit(db, events.PAGE_UPDATED, page)
    return page


class PageChangedError(ConflictError):
    """The page's content changed since the version a save was based on; nothing saved."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.version = content_version(page.content)
        when = page.updated_at.strftime("%H:%M:%S UTC")
        super().__init__(
            f"page {page.id} was changed elsewhere (at {when}) since you loaded it; nothing saved"
        )


def content_version(content: dict[str, Any] | None) -> str:
    """A short fingerprint of a page's content: equal exactly when the content is.

    Saves from the editor compare it rather than ``updated_at``: a rename or a move
    elsewhere is no conflict for the text, and two writes in the same millisecond still
    differ.
    """
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def save_page_content(
    db: Database, page_id: str, doc: Any, *, base_version: str | None
) -> tuple[Page, bool]:
    """Store a Tiptap document (the web editor's) as the page's content; return the page
    and whether anything changed (an unchanged document writes nothing, emits nothing).

    The document is stored as it reads back from its own Markdown, so what the editor saved
    is exactly what ``cw page get --markdown`` shows. ``base_version`` is the
    :func:`content_version` the editor started from; ``None`` overwrites whatever is there.

    Raises ``ValidationError`` for a document that is not Tiptap JSON of known node types,
    ``NotFoundError`` for an unknown page, :class:`PageChangedError` when the content is no
    longer ``base_version``.
    """
    problem = tiptap_problem(doc)
    if problem is not None:
        raise ValidationError(f"content: {problem}")
    normal = markdown_to_tiptap(tiptap_to_markdown(doc))
    with db.transaction():
        current = db.pages.find_by_id_for_update(page_id)
        if current is None:
            raise NotFoundError(f"page {page_id!r} does not exist (deleted elsewhere?)")
        if base_version is not None and content_version(current.content) != base_version:
            raise PageChangedError(current)
        if current.content == normal:
            return current, False
        page: Page = db.pages.update(page_id, content=normal)
        events.emit(db, events.PAGE_UPDATED, page)
    return page, True


def delete_page(db: Database, page_id: str) -> Page:
    """Delete a page with its subpages; return it as it was. ``NotFoundError`` if unknown."""
    with db.transaction():
        page: Page = get_or_raise(db.pages, page_id, "page")
        db.pages.delete(page_id)
        events.emit(db, events.PAGE_DELETED, page)
    return page


@dataclass
class PageNode:
    page: Page
    children: list[PageNode] = field(default_factory=list)


def page_tree(db: Database, initiative_id: str) -> list[PageNode]:
    """The initiative's pages as a forest (normally one root). ``NotFoundError`` for an
    unknown initiative.
    """
    get_or_raise(db.initiatives, initiative_id, "initiative")
    pages = db.pages.find_by_initiative_id(initiative_id)
    nodes = {page.id: PageNode(page) for page in pages}
    roots: list[PageNode] = []
    for node in nodes.values():
        parent = nodes.get(node.page.parent_page_id or "")
        (parent.children if parent is not None else roots).append(node)
    return roots
