"""Pages: an initiative's documents, a tree under one root page."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from codewalkers.db import schema
from codewalkers.db._validation import TableRules
from codewalkers.db.errors import ConflictError, ReferenceNotFoundError, ValidationError
from codewalkers.db.ids import new_id
from codewalkers.db.records import Page
from codewalkers.db.repositories.sqlalchemy._base import SqlRepository, check_id
from codewalkers.db.repositories.sqlalchemy._raw import Prepared, Raw
from codewalkers.db.types import now_ms

pages = schema.pages
_IS_ROOT = pages.c.parent_page_id.is_(None)
_ROOT = Prepared(
    select(*pages.columns).where(
        pages.c.initiative_id == bindparam("initiative_id", type_=pages.c.initiative_id.type),
        _IS_ROOT,
    ),
    pages.columns,
)


class SqlPageRepository(SqlRepository[Page]):
    table = pages
    record_type = Page
    entity = "page"
    rules = TableRules(table, entity, immutable=["id", "initiative_id"], not_blank=["title"])

    def _order(self) -> tuple[ColumnElement[Any], ...]:
        return (pages.c.sort_order, pages.c.created_at, pages.c.id)

    def create(self, **fields: Any) -> Page:
        """Insert a page. Its parent must be a page of the same initiative; an initiative
        has one root page (``parent_page_id`` None): a second raises ``ConflictError``.
        """
        values = self.rules.for_create(fields)

        def work(connection: Connection) -> Page:
            parent_id = values.get("parent_page_id")
            if parent_id is not None:
                self._check_parent(connection, values["initiative_id"], parent_id, None)
            return self._insert(connection, values)

        return self._write(work)

    def update(self, id: str, **changes: Any) -> Page:
        """Change a page. Moving it under a page of another initiative, or under itself or
        one of its descendants, raises ``ValidationError``; a page cannot become a root.
        """
        check_id(id)
        values = self.rules.for_update(changes)

        def work(connection: Connection) -> Page:
            if "parent_page_id" in values:
                current = connection.execute(
                    select(pages.c.initiative_id, pages.c.parent_page_id).where(pages.c.id == id)
                ).first()
                if current is None:
                    raise self._not_found(id)
                parent_id = values["parent_page_id"]
                if parent_id is None and current.parent_page_id is not None:
                    raise ValidationError("a page cannot be made a root page; give a parent")
                if parent_id is not None:
                    self._check_parent(connection, current.initiative_id, parent_id, id)
            return self._update(connection, id, values)

        return self._write(work)

    def _check_parent(
        self, connection: Connection, initiative_id: str, parent_id: str, page_id: str | None
    ) -> None:
        owner = connection.execute(
            select(pages.c.initiative_id).where(pages.c.id == parent_id)
        ).scalar()
        if owner is None:
            raise ReferenceNotFoundError(f"page parent_page_id {parent_id!r} does not exist")
        if owner != initiative_id:
            raise ValidationError(
                f"parent page {parent_id!r} belongs to another initiative ({owner!r})"
            )
        ancestor: str | None = parent_id
        while page_id is not None and ancestor is not None:
            if ancestor == page_id:
                raise ValidationError(f"page {page_id!r} cannot be moved under itself")
            ancestor = connection.execute(
                select(pages.c.parent_page_id).where(pages.c.id == ancestor)
            ).scalar()

    def _insert(self, connection: Connection | Raw, values: Any) -> Page:
        try:
            return super()._insert(connection, values)
        except ConflictError as exc:
            if values.get("parent_page_id") is None:
                raise ConflictError(
                    f"initiative {values.get('initiative_id')!r} already has a root page"
                ) from exc.__cause__
            raise

    def find_by_initiative_id(self, initiative_id: str) -> list[Page]:
        """Every page of the initiative, by ``sort_order`` then age."""
        check_id(initiative_id, "initiative_id")
        return self._find_where(pages.c.initiative_id == initiative_id)

    def find_by_parent_page_id(self, parent_page_id: str) -> list[Page]:
        """The children of a page, by ``sort_order`` then age."""
        check_id(parent_page_id, "parent_page_id")
        return self._find_where(pages.c.parent_page_id == parent_page_id)

    def find_by_id_for_update(self, id: str) -> Page | None:
        """The page, locked until the caller's transaction ends: ``SELECT ... FOR UPDATE``
        on PostgreSQL; SQLite's write transaction (``BEGIN IMMEDIATE``) already holds the
        database's write lock."""
        check_id(id)
        statement = self._select().where(pages.c.id == id).with_for_update()

        def work(connection: Connection) -> Page | None:
            row = connection.execute(statement).first()
            return None if row is None else self._record(row)

        return self._write(work)

    def find_root_page(self, initiative_id: str) -> Page | None:
        """The initiative's root page, or ``None``."""
        check_id(initiative_id, "initiative_id")
        return self._prepared_one(_ROOT, {"initiative_id": initiative_id})

    def get_or_create_root_page(self, initiative_id: str) -> Page:
        """The initiative's root page, created (titled after the initiative) if missing.

        Safe under concurrency: however many processes call it at once, the initiative ends
        with exactly one root page. Raises ``ReferenceNotFoundError`` for an unknown initiative.
        """
        return self.ensure_root_page(initiative_id)[0]

    def ensure_root_page(self, initiative_id: str) -> tuple[Page, bool]:
        """Like :meth:`get_or_create_root_page`, and whether this call inserted the page
        (the insert itself says so: ``ON CONFLICT DO NOTHING`` returns no row to a loser).
        """
        check_id(initiative_id, "initiative_id")
        # Nearly every call finds the root: look without taking the write lock first.
        found = self._prepared_one(_ROOT, {"initiative_id": initiative_id})
        if found is not None:
            return found, False
        statement = self._root(initiative_id)

        def work(connection: Connection) -> tuple[Page, bool]:
            row = connection.execute(statement).first()
            if row is not None:
                return self._record(row), False
            name = connection.execute(
                select(schema.initiatives.c.name).where(schema.initiatives.c.id == initiative_id)
            ).scalar()
            if name is None:
                raise ReferenceNotFoundError(f"initiative {initiative_id!r} does not exist")
            now = now_ms()
            dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
            insert = (
                dialect.insert(pages)
                .values(
                    id=new_id(),
                    initiative_id=initiative_id,
                    title=name,
                    created_at=now,
                    updated_at=now,
                )
                .on_conflict_do_nothing(index_elements=["initiative_id"], index_where=_IS_ROOT)
                .returning(*self._columns)
            )
            inserted = connection.execute(insert).first()
            if inserted is not None:
                return self._record(inserted), True
            return self._record(connection.execute(statement).one()), False

        return self._write(work)

    def _root(self, initiative_id: str) -> Any:
        return self._select().where(pages.c.initiative_id == initiative_id, _IS_ROOT)
