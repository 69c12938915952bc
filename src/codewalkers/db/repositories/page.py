"""What can be asked of pages."""

from __future__ import annotations

from typing import Protocol

from codewalkers.db.records import Page
from codewalkers.db.repositories._crud import CrudRepository


class PageRepository(CrudRepository[Page], Protocol):
    def find_by_initiative_id(self, initiative_id: str) -> list[Page]: ...

    def find_by_parent_page_id(self, parent_page_id: str) -> list[Page]: ...

    def find_root_page(self, initiative_id: str) -> Page | None: ...

    def find_by_id_for_update(self, id: str) -> Page | None:
        """The page, locked against other writers until the caller's transaction ends
        (compare-then-write without a lost update); ``None`` if unknown."""
        ...

    def get_or_create_root_page(self, initiative_id: str) -> Page:
        """The one root page of the initiative, created if missing (race-free)."""
        ...

    def ensure_root_page(self, initiative_id: str) -> tuple[Page, bool]:
        """The root page and whether this call created it (race-free)."""
        ...
