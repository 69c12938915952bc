"""The standard CRUD every repository port shares."""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

R = TypeVar("R")


class CrudRepository(Protocol[R]):
    """Create, read, update and delete rows of one table as immutable records.

    ``create``/``update`` take the columns as keyword arguments (snake_case) and raise
    ``ValidationError`` (unknown field, wrong type, bad enum value, missing required field),
    ``ReferenceNotFoundError`` (a referenced row does not exist) or ``ConflictError``
    (a unique rule). ``update``/``delete`` raise ``NotFoundError`` for an unknown id.
    """

    def create(self, **fields: Any) -> R: ...

    def find_by_id(self, id: str) -> R | None: ...

    def find_all(self) -> list[R]: ...

    def update(self, id: str, **changes: Any) -> R: ...

    def delete(self, id: str) -> None: ...
