"""What can be asked of the domain-event outbox."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from codewalkers.db.records import Event


class EventRepository(Protocol):
    """The outbox: domain events, each recorded in the transaction of the write it describes.

    ``seq`` increases with every event and is never reused, so a reader resumes with
    ``find_after(last_seq_seen)``. Events committed later never carry a smaller ``seq``
    than events already visible.

    Retention (:meth:`prune`): events older than a cut-off are deleted, but the newest
    ``keep_last`` events always stay, however old.
    """

    def append(
        self,
        type: str,
        payload: Any,
        initiative_id: str | None = None,
        entity_id: str | None = None,
    ) -> Event:
        """Record an event (in the caller's transaction, if any) and return it.

        On PostgreSQL the commit also notifies the ``codewalkers_events`` channel (payload:
        the seq). Raises ``ValidationError`` for a blank type or a payload that is not JSON.
        """
        ...

    def append_many(self, items: Sequence[tuple[str, Any, str | None, str | None]]) -> list[Event]:
        """Record several events, in order, with one statement (in the caller's transaction,
        if any): each item is ``(type, payload, initiative_id, entity_id)``. Returns them,
        in the same order, with increasing ``seq``. All or none: a bad item records none.
        """
        ...

    def find_after(
        self,
        after_seq: int = 0,
        *,
        types: Sequence[str] | None = None,
        initiative_id: str | None = None,
        limit: int = 1000,
    ) -> list[Event]:
        """Events with ``seq > after_seq``, ascending, at most ``limit``.

        ``types`` keeps events of these types: exact names (``task:created``) or prefixes
        ending in ``*`` (``task:*``; ``*`` alone matches all). ``None`` or empty: every type.
        ``initiative_id`` keeps the events of that initiative.
        """
        ...

    def latest_seq(self) -> int:
        """The highest ``seq`` stored, 0 when there is none."""
        ...

    def subscribe(self) -> AbstractContextManager[Callable[[float], Iterator[int]]]:
        """Listen for events as they commit (PostgreSQL: LISTEN on ``codewalkers_events``,
        on a connection of its own for as long as the block lasts).

        Yields ``notifications(timeout)``: the seq of each event committed since the last
        call, as it arrives, for up to ``timeout`` seconds. Raises ``DatabaseError`` on SQLite
        (nothing notifies: poll :meth:`find_after`), ``DatabaseUnavailableError`` when the
        connection fails.
        """
        ...

    def prune(self, older_than: datetime, keep_last: int) -> int:
        """Delete events created before ``older_than``, except the newest ``keep_last``
        (which stay whatever their age); return how many were deleted.
        """
        ...
