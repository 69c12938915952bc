"""Projects (git repositories) and the initiatives they are linked to."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from codewalkers.db import schema
from codewalkers.db._validation import TableRules
from codewalkers.db.errors import ReferenceNotFoundError, ValidationError
from codewalkers.db.ids import new_id
from codewalkers.db.records import Project
from codewalkers.db.repositories.sqlalchemy._base import SqlRepository, check_id, in_order
from codewalkers.db.types import now_ms

projects = schema.projects
links = schema.initiative_projects


class SqlProjectRepository(SqlRepository[Project]):
    table = projects
    record_type = Project
    entity = "project"
    rules = TableRules(table, entity, not_blank=["name", "url", "default_branch"])

    def find_by_name(self, name: str) -> Project | None:
        """The project with this name, or ``None``."""
        check_id(name, "name")
        return self._fetch_one(self._select().where(projects.c.name == name))

    def find_by_url(self, url: str) -> Project | None:
        """The project with this repository URL, or ``None``."""
        check_id(url, "url")
        return self._fetch_one(self._select().where(projects.c.url == url))

    def find_projects_by_initiative_id(self, initiative_id: str) -> list[Project]:
        """The projects linked to the initiative, in the order they were linked."""
        check_id(initiative_id, "initiative_id")
        statement = (
            self._select()
            .join(links, links.c.project_id == projects.c.id)
            .where(links.c.initiative_id == initiative_id)
            .order_by(links.c.created_at, projects.c.name)
        )
        return self._fetch_all(statement)

    def find_initiative_ids_by_project_id(self, project_id: str) -> list[str]:
        """Ids of the initiatives linked to the project."""
        check_id(project_id, "project_id")
        statement = (
            select(links.c.initiative_id)
            .where(links.c.project_id == project_id)
            .order_by(links.c.created_at, links.c.initiative_id)
        )
        return self._read(lambda c: list(c.execute(statement).scalars()))

    def set_initiative_projects(self, initiative_id: str, project_ids: Iterable[str]) -> None:
        """Link the initiative to exactly these projects.

        Diff-based: only missing links are inserted and only removed ones deleted, so the
        links that stay keep their identity and creation time. Raises
        ``ReferenceNotFoundError`` for an unknown initiative or project.
        """
        check_id(initiative_id, "initiative_id")
        if isinstance(project_ids, str):
            raise ValidationError("project_ids must be a list of ids, not a string")
        wanted = in_order(check_id(id, "project_ids[]") for id in project_ids)

        def work(connection: Connection) -> None:
            self._require(connection, schema.initiatives, initiative_id, "initiative")
            current = set(
                connection.execute(
                    select(links.c.project_id).where(links.c.initiative_id == initiative_id)
                ).scalars()
            )
            removed = current.difference(wanted)
            if removed:
                connection.execute(
                    delete(links).where(
                        links.c.initiative_id == initiative_id, links.c.project_id.in_(removed)
                    )
                )
            added = [id for id in wanted if id not in current]
            if added:
                self._link(connection, initiative_id, added)

        self._write(work)

    def _link(self, connection: Connection, initiative_id: str, project_ids: list[str]) -> None:
        known = set(
            connection.execute(select(projects.c.id).where(projects.c.id.in_(project_ids)))
            .scalars()
            .all()
        )
        for id in project_ids:
            if id not in known:
                raise ReferenceNotFoundError(f"project {id!r} does not exist")
        dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(links).on_conflict_do_nothing(
            index_elements=["initiative_id", "project_id"]
        )
        # One clock reading per link (the clock never repeats): ``now + i`` could stamp a
        # link at or before one written by an earlier call within the same milliseconds.
        rows = [
            {
                "id": new_id(),
                "initiative_id": initiative_id,
                "project_id": id,
                "created_at": now_ms(),
            }
            for id in project_ids
        ]
        connection.execute(statement, rows)
